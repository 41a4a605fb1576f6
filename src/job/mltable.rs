//! Azure ML data inputs read locally: a file (`uri_file`), a folder of files (`uri_folder`) or an
//! **MLTable** folder, whose `MLTable` YAML file lists `paths` (`file:`, `folder:`, `pattern:`,
//! relative to the folder) and how to read them (`transformations`: `read_delimited`,
//! `read_parquet`, then `keep_columns` / `drop_columns`):
//!
//! ```yaml
//! paths:
//!   - file: ./bank_marketing_train_data.csv
//! transformations:
//!   - read_delimited:
//!       delimiter: ','
//!       encoding: 'ascii'
//!       header: all_files_same_headers
//! ```
//!
//! Every file becomes a [`Table`] through the data layer's reader; several files are stacked by
//! column name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::data::{format_number, RawColumn, RawType, Table, Values};
use crate::error::{Error, Result};

use super::automl_job::{parse_yaml, yaml_line};

/// How an Azure ML job input is typed (`type:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A folder holding an `MLTable` file.
    MlTable,
    /// One data file.
    UriFile,
    /// A folder of data files (read as an MLTable when it holds an `MLTable` file).
    UriFolder,
}

impl InputKind {
    /// Parse Azure's `mltable`, `uri_file` or `uri_folder`.
    pub fn parse(s: &str) -> Result<InputKind> {
        match s.to_ascii_lowercase().as_str() {
            "mltable" => Ok(InputKind::MlTable),
            "uri_file" => Ok(InputKind::UriFile),
            "uri_folder" => Ok(InputKind::UriFolder),
            o => Err(Error::Config(format!(
                "input type '{o}' is not one of mltable, uri_file, uri_folder"
            ))),
        }
    }
}

/// A job's data input: where it is (resolved against the job file's folder) and how it is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataInput {
    /// The file or folder.
    pub path: PathBuf,
    /// How it is read.
    pub kind: InputKind,
}

/// `header:` of `read_delimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    /// Every file starts with the same header (Azure's default).
    #[default]
    AllFilesSameHeaders,
    /// Only the first file has a header; the others are data rows only.
    FromFirstFile,
    /// Every file has its own header; columns are stacked by name, missing where absent.
    AllFilesDifferentHeaders,
    /// No file has a header: columns are named Column1, Column2, ….
    NoHeader,
}

/// How the files of an input are read.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadAs {
    /// Delimited text.
    Delimited {
        /// The field separator (one character).
        delimiter: char,
        /// Which files carry a header.
        header: Header,
        /// Text encoding: utf8, ascii, latin1 or iso88591.
        encoding: String,
        /// `empty_as_string`: read but not applied (empty cells are missing values here).
        empty_as_string: bool,
    },
    /// Parquet files.
    Parquet,
    /// By each file's extension (`.parquet`/`.pq` as Parquet, anything else as CSV).
    ByExtension,
}

/// An MLTable (or plain input) resolved to files and read options.
#[derive(Debug, Clone, PartialEq)]
pub struct MlTable {
    /// The data files, in order.
    pub files: Vec<PathBuf>,
    /// How to read them.
    pub read: ReadAs,
    /// Columns to keep (`keep_columns`), when given.
    pub keep: Option<Vec<String>>,
    /// Columns to drop (`drop_columns`).
    pub drop: Vec<String>,
    /// Settings read but not applied here, each with the reason.
    pub notes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum PathEntry {
    File(String),
    Folder(String),
    Pattern(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadDelimitedText {
    #[serde(default)]
    delimiter: Option<String>,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    empty_as_string: Option<bool>,
    #[serde(default)]
    infer_column_types: Option<bool>,
    #[serde(default)]
    include_path_column: Option<bool>,
    #[serde(default)]
    support_multi_line: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadParquetText {
    #[serde(default)]
    include_path_column: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Columns {
    One(String),
    Many(Vec<String>),
}

impl Columns {
    fn into_vec(self) -> Vec<String> {
        match self {
            Columns::One(c) => vec![c],
            Columns::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Transformation {
    ReadDelimited(Option<ReadDelimitedText>),
    ReadParquet(Option<ReadParquetText>),
    KeepColumns(Columns),
    DropColumns(Columns),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MlTableText {
    #[serde(rename = "$schema", default)]
    _schema: Option<serde::de::IgnoredAny>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    paths: Vec<PathEntry>,
    #[serde(default)]
    transformations: Vec<Transformation>,
    #[serde(default)]
    traits: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    metadata: Option<serde::de::IgnoredAny>,
}

const DATA_EXTENSIONS: &[&str] = &["csv", "tsv", "txt", "parquet", "pq"];

fn is_remote(p: &str) -> bool {
    p.starts_with("azureml:") || p.contains("://")
}

impl DataInput {
    /// Resolve the input to files and read options (reading its `MLTable` file when there is one).
    pub fn resolve(&self) -> Result<MlTable> {
        let p = &self.path;
        let has_mltable = p.join("MLTable").is_file();
        match self.kind {
            InputKind::MlTable | InputKind::UriFolder if has_mltable => MlTable::load(p),
            InputKind::MlTable => Err(Error::Config(format!(
                "{}: an mltable input must be a folder holding an MLTable file",
                p.display()
            ))),
            InputKind::UriFile => {
                if !p.is_file() {
                    return Err(Error::Config(format!("{}: no such data file", p.display())));
                }
                Ok(MlTable::plain(vec![p.clone()]))
            }
            InputKind::UriFolder => Ok(MlTable::plain(data_files_in(p)?)),
        }
    }

    /// Read the input as one table.
    pub fn read(&self) -> Result<Table> {
        self.resolve()?.read()
    }

    /// A file that stands for the input in records and hashes: its only data file, else the
    /// `MLTable` file, else the path itself.
    pub fn representative_file(&self) -> PathBuf {
        match self.resolve() {
            Ok(t) if t.files.len() == 1 => t.files[0].clone(),
            _ if self.path.join("MLTable").is_file() => self.path.join("MLTable"),
            _ => self.path.clone(),
        }
    }
}

/// The data files (by extension) directly in `dir`, sorted by name.
fn data_files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| DATA_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Config(format!(
            "{}: no data files (.csv, .parquet, ...) in the folder",
            dir.display()
        )));
    }
    Ok(files)
}

/// Whether `name` matches `pattern` with `*` (any run of characters) and `?` (one character).
fn wildcard(pattern: &[char], name: &[char]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some('*'), _) => {
            wildcard(&pattern[1..], name) || (!name.is_empty() && wildcard(pattern, &name[1..]))
        }
        (Some('?'), Some(_)) => wildcard(&pattern[1..], &name[1..]),
        (Some(a), Some(b)) if a == b => wildcard(&pattern[1..], &name[1..]),
        _ => false,
    }
}

impl MlTable {
    fn plain(files: Vec<PathBuf>) -> MlTable {
        MlTable {
            files,
            read: ReadAs::ByExtension,
            keep: None,
            drop: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Read the `MLTable` file of folder `dir`.
    pub fn load(dir: &Path) -> Result<MlTable> {
        let file = dir.join("MLTable");
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
        MlTable::from_yaml(&text, &file.display().to_string(), dir)
    }

    /// Parse an `MLTable` file's text; paths are relative to `dir`. Errors name `origin` and the
    /// line of the field where known.
    pub fn from_yaml(text: &str, origin: &str, dir: &Path) -> Result<MlTable> {
        let t: MlTableText =
            parse_yaml(text).map_err(|e| Error::Config(format!("{origin}: {}", e.to_string().trim_end())))?;
        let at = |key: &str, msg: String| Error::Config(format!("{origin}{}: {msg}", yaml_line(text, key)));
        if let Some(k) = t.kind.as_deref().filter(|k| !k.eq_ignore_ascii_case("mltable")) {
            return Err(at("type", format!("type is '{k}', expected mltable")));
        }
        let mut out = MlTable::plain(Vec::new());
        if t.traits.is_some() {
            out.notes
                .push("MLTable traits (timestamp and index columns) are not used".into());
        }
        let _ = t.metadata;
        if t.paths.is_empty() {
            return Err(at(
                "paths",
                "paths is empty: list at least one file, folder or pattern".into(),
            ));
        }
        for entry in t.paths {
            let (key, p) = match &entry {
                PathEntry::File(p) => ("file", p),
                PathEntry::Folder(p) => ("folder", p),
                PathEntry::Pattern(p) => ("pattern", p),
            };
            if is_remote(p) {
                return Err(at(
                    key,
                    format!("{key} '{p}' is remote; only local paths can be read (download the data and point at it)"),
                ));
            }
            let full = dir.join(p.strip_prefix("./").unwrap_or(p));
            match entry {
                PathEntry::File(_) => {
                    if !full.is_file() {
                        return Err(at(
                            key,
                            format!("file '{p}' not found (looked for {})", full.display()),
                        ));
                    }
                    out.files.push(full);
                }
                PathEntry::Folder(_) => {
                    if !full.is_dir() {
                        return Err(at(
                            key,
                            format!("folder '{p}' not found (looked for {})", full.display()),
                        ));
                    }
                    out.files
                        .extend(data_files_in(&full).map_err(|e| at(key, e.detail()))?);
                }
                PathEntry::Pattern(_) => out
                    .files
                    .extend(matching(dir, p).map_err(|e| at(key, e.detail()))?),
            }
        }
        let mut read = None;
        for tr in t.transformations {
            match tr {
                Transformation::ReadDelimited(r) => {
                    let r = r.unwrap_or_default();
                    let delimiter = match r.delimiter.as_deref() {
                        None => ',',
                        Some("\\t") => '\t',
                        Some(d) => {
                            let mut chars = d.chars();
                            match (chars.next(), chars.next()) {
                                (Some(c), None) if c != '"' && c != '\n' && c != '\r' => c,
                                _ => {
                                    return Err(at(
                                        "delimiter",
                                        format!("read_delimited.delimiter must be one character, got '{d}'"),
                                    ))
                                }
                            }
                        }
                    };
                    let header = match r.header.as_deref().map(str::to_ascii_lowercase).as_deref() {
                        None | Some("all_files_same_headers") => Header::AllFilesSameHeaders,
                        Some("from_first_file") => Header::FromFirstFile,
                        Some("all_files_different_headers") => Header::AllFilesDifferentHeaders,
                        Some("no_header") => Header::NoHeader,
                        Some(h) => return Err(at(
                            "header",
                            format!("read_delimited.header '{h}' is not one of all_files_same_headers, from_first_file, all_files_different_headers, no_header"),
                        )),
                    };
                    let encoding = r
                        .encoding
                        .unwrap_or_else(|| "utf8".into())
                        .to_ascii_lowercase()
                        .replace('-', "");
                    if !["utf8", "ascii", "latin1", "iso88591"].contains(&encoding.as_str()) {
                        return Err(at(
                            "encoding",
                            format!("read_delimited.encoding '{encoding}' is not supported here (utf8, ascii, latin1, iso88591)"),
                        ));
                    }
                    let empty_as_string = r.empty_as_string.unwrap_or(false);
                    if empty_as_string {
                        out.notes.push(
                            "read_delimited.empty_as_string: empty cells are read as missing values here"
                                .into(),
                        );
                    }
                    if r.include_path_column == Some(true) {
                        out.notes
                            .push("read_delimited.include_path_column: no path column is added".into());
                    }
                    let _ = (r.infer_column_types, r.support_multi_line);
                    read = Some(ReadAs::Delimited {
                        delimiter,
                        header,
                        encoding,
                        empty_as_string,
                    });
                }
                Transformation::ReadParquet(r) => {
                    if r.and_then(|r| r.include_path_column) == Some(true) {
                        out.notes
                            .push("read_parquet.include_path_column: no path column is added".into());
                    }
                    read = Some(ReadAs::Parquet);
                }
                Transformation::KeepColumns(c) => out.keep = Some(c.into_vec()),
                Transformation::DropColumns(c) => out.drop.extend(c.into_vec()),
            }
        }
        out.read = read.unwrap_or(ReadAs::ByExtension);
        if out.files.is_empty() {
            return Err(at("paths", "the paths match no data file".into()));
        }
        Ok(out)
    }

    /// Read every file and stack them into one table (columns matched by name; a column a file
    /// lacks is missing on its rows), then keep or drop columns.
    pub fn read(&self) -> Result<Table> {
        let mut tables = Vec::with_capacity(self.files.len());
        let mut first_header: Option<String> = None;
        for (i, f) in self.files.iter().enumerate() {
            let table = match &self.read {
                ReadAs::ByExtension => Table::read(f)?,
                ReadAs::Parquet => {
                    let ext = f
                        .extension()
                        .and_then(|e| e.to_str())
                        .unwrap_or("")
                        .to_ascii_lowercase();
                    if ext != "parquet" && ext != "pq" {
                        return Err(Error::Config(format!(
                            "{}: read_parquet needs .parquet (or .pq) files",
                            f.display()
                        )));
                    }
                    Table::read(f)?
                }
                // The data layer reads comma-separated UTF-8 with a header itself.
                ReadAs::Delimited {
                    delimiter: ',',
                    header: Header::AllFilesSameHeaders | Header::AllFilesDifferentHeaders,
                    encoding,
                    ..
                } if encoding == "utf8" || encoding == "ascii" => Table::read(f)?,
                ReadAs::Delimited {
                    delimiter,
                    header,
                    encoding,
                    ..
                } => {
                    let bytes = std::fs::read(f).map_err(|e| Error::io(f, e))?;
                    let text = decode(bytes, encoding, f)?;
                    let mut csv = redelimit(&text, *delimiter);
                    match header {
                        Header::NoHeader => {
                            let n = csv.lines().next().map_or(0, count_fields);
                            let names: Vec<String> = (1..=n).map(|c| format!("Column{c}")).collect();
                            csv = format!("{}\n{csv}", names.join(","));
                        }
                        Header::FromFirstFile if i == 0 => {
                            first_header = csv.lines().next().map(str::to_string);
                        }
                        Header::FromFirstFile => {
                            csv = format!("{}\n{csv}", first_header.clone().unwrap_or_default());
                        }
                        Header::AllFilesSameHeaders | Header::AllFilesDifferentHeaders => {}
                    }
                    read_csv_text(&csv, f)?
                }
            };
            if matches!(
                self.read,
                ReadAs::Delimited {
                    header: Header::AllFilesSameHeaders,
                    ..
                }
            ) {
                if let Some(first) = tables.first() {
                    let names = |t: &Table| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
                    if names(first) != names(&table) {
                        return Err(Error::Data(format!(
                            "{}: its header differs from {}'s (use header: all_files_different_headers)",
                            f.display(),
                            self.files[0].display()
                        )));
                    }
                }
            }
            tables.push(table);
        }
        let mut table = stack(tables)?;
        if let Some(keep) = &self.keep {
            check_columns(&table, keep, "keep_columns")?;
            table.columns.retain(|c| keep.contains(&c.name));
        }
        check_columns(&table, &self.drop, "drop_columns")?;
        table.columns.retain(|c| !self.drop.contains(&c.name));
        Ok(table)
    }
}

fn check_columns(table: &Table, names: &[String], what: &str) -> Result<()> {
    for n in names {
        if table.column(n).is_none() {
            return Err(Error::Data(format!("{what}: no column '{n}' in the data")));
        }
    }
    Ok(())
}

/// The files of `dir` matching `pattern` (wildcards `*` and `?` in its last component).
fn matching(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>> {
    let full = dir.join(pattern);
    let (parent, name) = match (full.parent(), full.file_name().and_then(|n| n.to_str())) {
        (Some(p), Some(n)) => (p.to_path_buf(), n.to_string()),
        _ => return Err(Error::Config(format!("pattern '{pattern}' names no file"))),
    };
    if parent.to_string_lossy().contains(['*', '?']) {
        return Err(Error::Config(format!(
            "pattern '{pattern}': wildcards are supported in the file name only"
        )));
    }
    let pat: Vec<char> = name.chars().collect();
    let entries = std::fs::read_dir(&parent).map_err(|e| Error::io(&parent, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| wildcard(&pat, &n.chars().collect::<Vec<_>>()))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Config(format!("pattern '{pattern}' matches no file")));
    }
    Ok(files)
}

fn decode(bytes: Vec<u8>, encoding: &str, f: &Path) -> Result<String> {
    match encoding {
        "latin1" | "iso88591" => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        _ => String::from_utf8(bytes).map_err(|_| {
            Error::Data(format!(
                "{}: not valid {encoding} text (set read_delimited.encoding)",
                f.display()
            ))
        }),
    }
}

/// Fields of one CSV line (quote-aware; a line only, enough to count a header row's fields).
fn count_fields(line: &str) -> usize {
    let mut in_quotes = false;
    1 + line
        .chars()
        .filter(|&c| {
            if c == '"' {
                in_quotes = !in_quotes;
            }
            c == ',' && !in_quotes
        })
        .count()
}

/// Delimited text with separator `delimiter` rewritten as comma-separated CSV: unquoted
/// separators become commas, and a field holding a comma is quoted.
fn redelimit(text: &str, delimiter: char) -> String {
    if delimiter == ',' {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut field = String::new();
    let mut in_quotes = false;
    let flush = |field: &mut String, out: &mut String| {
        if field.contains(',') && !field.starts_with('"') {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
        field.clear();
    };
    for c in text.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                field.push(c);
            }
            c if c == delimiter && !in_quotes => {
                flush(&mut field, &mut out);
                out.push(',');
            }
            '\n' if !in_quotes => {
                flush(&mut field, &mut out);
                out.push('\n');
            }
            c => field.push(c),
        }
    }
    flush(&mut field, &mut out);
    out
}

/// Read comma-separated text through the data layer's CSV reader (which reads files): written to
/// a private temporary file, removed once read. `origin` names the source in errors.
fn read_csv_text(csv: &str, origin: &Path) -> Result<Table> {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = std::env::temp_dir().join(format!("automl-mltable-{}-{n}.csv", std::process::id()));
    std::fs::write(&tmp, csv).map_err(|e| Error::io(&tmp, e))?;
    let read = Table::read(&tmp);
    let _ = std::fs::remove_file(&tmp);
    read.map_err(|e| {
        let tmp_name = tmp.display().to_string();
        let msg = e.to_string().replace(&tmp_name, &origin.display().to_string());
        Error::Data(msg)
    })
}

/// Stack tables by column name (first appearance order); a column missing from a table is
/// missing on its rows; a column numeric in one table and text in another becomes text.
fn stack(mut tables: Vec<Table>) -> Result<Table> {
    if tables.len() == 1 {
        return tables.pop().ok_or_else(|| Error::Data("no data".into()));
    }
    let mut order: Vec<String> = Vec::new();
    let mut kinds: BTreeMap<String, (RawType, bool)> = BTreeMap::new();
    for t in &tables {
        for c in &t.columns {
            let numeric = matches!(c.values, Values::Numeric(_));
            match kinds.get_mut(&c.name) {
                None => {
                    order.push(c.name.clone());
                    kinds.insert(c.name.clone(), (c.raw, numeric));
                }
                Some((raw, num)) => {
                    if *num != numeric || *raw != c.raw {
                        *raw = if numeric && *num {
                            RawType::Float
                        } else {
                            RawType::Text
                        };
                    }
                    *num &= numeric;
                }
            }
        }
    }
    let n_rows = tables.iter().map(|t| t.n_rows).sum();
    let mut columns = Vec::with_capacity(order.len());
    for name in order {
        let (raw, numeric) = kinds[&name];
        let values = if numeric {
            let mut v = Vec::with_capacity(n_rows);
            for t in &tables {
                match t.column(&name).map(|c| &c.values) {
                    Some(Values::Numeric(x)) => v.extend_from_slice(x),
                    _ => v.extend(std::iter::repeat_n(f64::NAN, t.n_rows)),
                }
            }
            Values::Numeric(v)
        } else {
            let mut v = Vec::with_capacity(n_rows);
            for t in &tables {
                match t.column(&name).map(|c| &c.values) {
                    Some(Values::Text(x)) => v.extend(x.iter().cloned()),
                    Some(Values::Numeric(x)) => {
                        v.extend(x.iter().map(|&f| (!f.is_nan()).then(|| format_number(f))))
                    }
                    None => v.extend(std::iter::repeat_n(None, t.n_rows)),
                }
            }
            Values::Text(v)
        };
        columns.push(RawColumn { name, raw, values });
    }
    Ok(Table { columns, n_rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    fn texts(t: &Table, col: &str) -> Vec<String> {
        (0..t.n_rows)
            .map(|i| t.column(col).unwrap().label(i).unwrap_or_default())
            .collect()
    }

    #[test]
    fn read_delimited_with_semicolons_several_files_and_header_modes() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.txt", "x;name;note\n1;\"Smith, J\";u\n2;Lee;v\n");
        write(d.path(), "b.txt", "x;name;note\n3;Ng;u\n");
        write(
            d.path(),
            "MLTable",
            "type: mltable\npaths:\n  - pattern: ./*.txt\ntransformations:\n  - read_delimited:\n      delimiter: ';'\n      header: all_files_same_headers\n      encoding: utf8\n      empty_as_string: false\n  - drop_columns: note\n",
        );
        let t = MlTable::load(d.path()).unwrap();
        assert_eq!(t.files.len(), 2);
        let table = t.read().unwrap();
        assert_eq!(table.n_rows, 3);
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["x", "name"]);
        assert_eq!(texts(&table, "name"), ["Smith, J", "Lee", "Ng"]);
        assert!(matches!(table.column("x").unwrap().values, Values::Numeric(_)));

        // No header: columns are Column1..; tabs; latin-1 text decoded.
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.tsv"), b"1\tcaf\xe9\n2\tthe\n").unwrap();
        write(
            d.path(),
            "MLTable",
            "paths:\n  - file: a.tsv\ntransformations:\n  - read_delimited:\n      delimiter: \"\\t\"\n      header: no_header\n      encoding: latin1\n",
        );
        let table = MlTable::load(d.path()).unwrap().read().unwrap();
        assert_eq!(texts(&table, "Column2"), ["café", "the"]);

        // From the first file: later files are data rows only.
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "1.csv", "x,y\n1,a\n");
        write(d.path(), "2.csv", "2,b\n");
        write(
            d.path(),
            "MLTable",
            "paths:\n  - folder: .\ntransformations:\n  - read_delimited:\n      header: from_first_file\n  - keep_columns: [y]\n",
        );
        let table = MlTable::load(d.path()).unwrap().read().unwrap();
        assert_eq!(texts(&table, "y"), ["a", "b"]);
        assert_eq!(table.columns.len(), 1);
    }

    #[test]
    fn read_parquet() {
        use polars::prelude::*;
        let d = tempfile::tempdir().unwrap();
        for (name, xs) in [("p1.parquet", [1.0, 2.0]), ("p2.parquet", [3.0, 4.0])] {
            let mut df = df!("x" => xs, "label" => ["a", "b"]).unwrap();
            let f = std::fs::File::create(d.path().join(name)).unwrap();
            ParquetWriter::new(f).finish(&mut df).unwrap();
        }
        write(
            d.path(),
            "MLTable",
            "paths:\n  - file: ./p1.parquet\n  - file: ./p2.parquet\ntransformations:\n  - read_parquet:\n      include_path_column: false\n",
        );
        let t = MlTable::load(d.path()).unwrap();
        assert_eq!(t.read, ReadAs::Parquet);
        let table = t.read().unwrap();
        assert_eq!(table.n_rows, 4);
        assert_eq!(texts(&table, "x"), ["1", "2", "3", "4"]);
        // A folder input holding an MLTable file reads through it.
        let input = DataInput {
            path: d.path().to_path_buf(),
            kind: InputKind::UriFolder,
        };
        assert_eq!(input.read().unwrap().n_rows, 4);
    }

    #[test]
    fn bad_mltables_are_errors_naming_the_problem() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.csv", "x,y\n1,2\n");
        let bad = |text: &str| {
            MlTable::from_yaml(text, "MLTable", d.path())
                .unwrap_err()
                .to_string()
        };
        let e = bad("paths:\n  - file: ./a.csv\ntransformations:\n  - take: 10\n");
        assert!(e.contains("take"), "{e}");
        let e = bad("paths:\n  - file: ./a.csv\nextra: 1\n");
        assert!(e.contains("extra"), "{e}");
        let e = bad("paths:\n  - file: ./missing.csv\n");
        assert!(e.contains("missing.csv") && e.contains("line 2"), "{e}");
        let e = bad("paths:\n  - file: azureml://datastores/x/paths/a.csv\n");
        assert!(e.contains("remote"), "{e}");
        let e = bad("paths:\n  - pattern: ./*.parquet\n");
        assert!(e.contains("matches no file"), "{e}");
        let e =
            bad("paths:\n  - file: ./a.csv\ntransformations:\n  - read_delimited:\n      delimiter: ';;'\n");
        assert!(e.contains("one character") && e.contains("line 5"), "{e}");
        let e =
            bad("paths:\n  - file: ./a.csv\ntransformations:\n  - read_delimited:\n      encoding: utf16\n");
        assert!(e.contains("utf16"), "{e}");
        let e = bad("paths: []\n");
        assert!(e.contains("paths is empty"), "{e}");
        // read_parquet over a CSV file fails when read.
        let t = MlTable::from_yaml(
            "paths:\n  - file: ./a.csv\ntransformations:\n  - read_parquet:\n",
            "MLTable",
            d.path(),
        )
        .unwrap();
        assert!(t.read().unwrap_err().to_string().contains("read_parquet"));
        // An mltable input without an MLTable file.
        let input = DataInput {
            path: d.path().to_path_buf(),
            kind: InputKind::MlTable,
        };
        assert!(input.read().unwrap_err().to_string().contains("MLTable file"));
    }

    #[test]
    fn wildcards_and_redelimiting() {
        let m = |p: &str, n: &str| wildcard(&p.chars().collect::<Vec<_>>(), &n.chars().collect::<Vec<_>>());
        assert!(m("*.csv", "a.csv") && m("part-?.csv", "part-1.csv") && !m("*.csv", "a.tsv"));
        assert_eq!(redelimit("a;b,c;\"d;e\"\n", ';'), "a,\"b,c\",\"d;e\"\n");
    }
}
