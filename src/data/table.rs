//! Reading a table: CSV or Parquet through polars into a [`Table`] of plain `Vec`s (the rest of
//! the crate never sees polars), with clear errors for ragged rows and unreadable files.

use std::collections::BTreeSet;
use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a column was stored in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawType {
    /// Whole numbers.
    Integer,
    /// Floating-point numbers.
    Float,
    /// true / false.
    Boolean,
    /// Strings (and anything else, rendered as text).
    Text,
}

impl RawType {
    /// Whether values of this type are numbers.
    pub fn is_numeric(self) -> bool {
        matches!(self, RawType::Integer | RawType::Float)
    }
}

/// The cells of one column, as read.
#[derive(Debug, Clone)]
pub enum Values {
    /// Numbers; a missing cell is NaN.
    Numeric(Vec<f64>),
    /// Text; a missing cell is `None`.
    Text(Vec<Option<String>>),
}

/// One named column of a [`Table`].
#[derive(Debug, Clone)]
pub struct RawColumn {
    /// Header name.
    pub name: String,
    /// Storage type in the file.
    pub raw: RawType,
    /// The cells.
    pub values: Values,
}

impl RawColumn {
    /// Number of missing cells.
    pub fn missing(&self) -> usize {
        match &self.values {
            Values::Numeric(v) => v.iter().filter(|x| x.is_nan()).count(),
            Values::Text(v) => v.iter().filter(|x| x.is_none()).count(),
        }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        match &self.values {
            Values::Numeric(v) => v.len(),
            Values::Text(v) => v.len(),
        }
    }

    /// Whether the column has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cell at `i` as a category label (numbers printed in shortest form), `None` when missing.
    pub fn label(&self, i: usize) -> Option<String> {
        match &self.values {
            Values::Numeric(v) => {
                let x = v[i];
                (!x.is_nan()).then(|| format_number(x))
            }
            Values::Text(v) => v[i].clone(),
        }
    }

    /// Number of distinct non-missing values.
    pub fn distinct(&self) -> usize {
        match &self.values {
            Values::Numeric(v) => v
                .iter()
                .filter(|x| !x.is_nan())
                .map(|x| x.to_bits())
                .collect::<BTreeSet<_>>()
                .len(),
            Values::Text(v) => v.iter().flatten().collect::<BTreeSet<_>>().len(),
        }
    }
}

/// Print a number the way it is written back into category labels and CSV output.
pub fn format_number(x: f64) -> String {
    format!("{x}")
}

/// A table read from a file: named columns of equal length.
#[derive(Debug, Clone)]
pub struct Table {
    /// The columns, in file order.
    pub columns: Vec<RawColumn>,
    /// Number of rows.
    pub n_rows: usize,
}

impl Table {
    /// Find a column by exact name.
    pub fn column(&self, name: &str) -> Option<&RawColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Read a CSV or Parquet file (by extension; anything not `.parquet`/`.pq` is CSV).
    pub fn read(path: &Path) -> Result<Table> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Err(Error::Data(format!(
                "{}: is a directory, not a data file",
                path.display()
            )));
        }
        if meta.len() == 0 {
            return Err(Error::Data(format!("{}: the file is empty", path.display())));
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if ext == "parquet" || ext == "pq" {
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            let df = ParquetReader::new(file).finish().map_err(parse_err(path))?;
            Table::from_frame(&df, path)
        } else {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            Table::from_csv_bytes(bytes, path)
        }
    }

    /// Number of rows of a Parquet file (from its metadata).
    pub fn parquet_rows(path: &Path) -> Result<usize> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        ParquetReader::new(file).num_rows().map_err(parse_err(path))
    }

    /// Rows `offset..offset + len` of a Parquet file.
    pub fn read_parquet_slice(path: &Path, offset: usize, len: usize) -> Result<Table> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let df = ParquetReader::new(file)
            .with_slice(Some((offset, len)))
            .finish()
            .map_err(parse_err(path))?;
        Table::from_frame(&df, path)
    }

    /// Read CSV text (a header line, then rows); `origin` names the source in errors.
    pub fn from_csv_bytes(bytes: Vec<u8>, origin: &Path) -> Result<Table> {
        if let Some(name) = repeated_header_name(&bytes) {
            let what = if name.trim().is_empty() {
                "two columns have no name in the header".to_string()
            } else {
                format!("column name '{name}' appears twice in the header")
            };
            return Err(Error::Data(format!("{}: {what}", origin.display())));
        }
        if let Some((line, found, expected)) = ragged_row(&bytes) {
            return Err(Error::Parse {
                path: origin.to_path_buf(),
                message: format!(
                    "line {line} has {found} field(s) but the header has {expected} (malformed or ragged CSV)"
                ),
            });
        }
        let df = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(None)
            .map_parse_options(|o| {
                o.with_null_values(Some(NullValues::AllColumns(
                    MISSING_MARKERS.iter().map(|m| PlSmallStr::from(*m)).collect(),
                )))
            })
            .with_n_threads(Some(1))
            .into_reader_with_file_handle(std::io::Cursor::new(bytes))
            .finish()
            .map_err(parse_err(origin))?;
        Table::from_frame(&df, origin)
    }

    fn from_frame(df: &DataFrame, path: &Path) -> Result<Table> {
        if df.height() == 0 {
            return Err(Error::Data(format!(
                "{}: no data rows (only a header, or nothing readable)",
                path.display()
            )));
        }
        let mut columns = Vec::with_capacity(df.width());
        for col in df.columns() {
            columns.push(convert_column(col).map_err(parse_err(path))?);
        }
        Ok(Table {
            columns,
            n_rows: df.height(),
        })
    }
}

fn parse_err(path: &Path) -> impl Fn(PolarsError) -> Error + '_ {
    move |e| Error::Parse {
        path: path.to_path_buf(),
        message: clean_polars_message(&e),
    }
}

/// Cell texts read as missing in CSV files, besides the empty cell.
pub const MISSING_MARKERS: &[&str] = &["NA", "N/A", "NaN", "nan", "null", "NULL", "None"];

/// The first column name the CSV header (its first line) repeats. Polars would rename the second
/// copy (`a_duplicated_0`), so a model would train on a column no file of the user's names.
/// Quote-aware; a byte-order mark and surrounding quotes are not part of a name.
pub(super) fn repeated_header_name(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut names = BTreeSet::new();
    let mut field = Vec::new();
    let mut in_quotes = false;
    for &b in bytes.iter().chain(std::iter::once(&b'\n')) {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' | b'\n' if !in_quotes => {
                let name = String::from_utf8_lossy(&field).trim_end_matches('\r').to_string();
                if !names.insert(name.clone()) {
                    return Some(name);
                }
                if b == b'\n' {
                    return None;
                }
                field.clear();
            }
            _ => field.push(b),
        }
    }
    None
}

/// First data row whose field count differs from the header's, as (line number, found, expected).
/// Quote-aware: separators and newlines inside double quotes do not count; blank lines are skipped.
pub(super) fn ragged_row(bytes: &[u8]) -> Option<(usize, usize, usize)> {
    let mut expected = None;
    let (mut fields, mut line, mut start_line) = (1usize, 1usize, 1usize);
    let (mut in_quotes, mut empty) = (false, true);
    for &b in bytes.iter().chain(std::iter::once(&b'\n')) {
        match b {
            b'"' => {
                in_quotes = !in_quotes;
                empty = false;
            }
            b',' if !in_quotes => {
                fields += 1;
                empty = false;
            }
            b'\n' if in_quotes => line += 1,
            b'\n' => {
                if !empty {
                    match expected {
                        None => expected = Some(fields),
                        Some(e) if e != fields => return Some((start_line, fields, e)),
                        _ => {}
                    }
                }
                line += 1;
                start_line = line;
                fields = 1;
                empty = true;
            }
            b'\r' => {}
            _ => empty = false,
        }
    }
    None
}

/// Polars messages carry context lines and hints; keep the first line, which names the problem.
fn clean_polars_message(e: &PolarsError) -> String {
    let s = e.to_string();
    let first = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("unreadable data");
    first.trim().to_string()
}

fn convert_column(col: &Column) -> PolarsResult<RawColumn> {
    let name = col.name().to_string();
    let dtype = col.dtype().clone();
    let (raw, values) = if dtype.is_integer() || dtype.is_float() {
        let cast = col.cast(&DataType::Float64)?;
        let v = cast.f64()?.iter().map(|x| x.unwrap_or(f64::NAN)).collect();
        let raw = if dtype.is_integer() {
            RawType::Integer
        } else {
            RawType::Float
        };
        (raw, Values::Numeric(v))
    } else if dtype == DataType::Null {
        (RawType::Float, Values::Numeric(vec![f64::NAN; col.len()]))
    } else {
        let raw = if dtype == DataType::Boolean {
            RawType::Boolean
        } else {
            RawType::Text
        };
        let cast = col.cast(&DataType::String)?;
        let v = cast
            .str()?
            .iter()
            .map(|x| x.map(str::to_string).filter(|s| !s.is_empty()))
            .collect();
        (raw, Values::Text(v))
    };
    Ok(RawColumn { name, raw, values })
}
