//! Tables in, typed features and targets out: reading CSV/Parquet (polars), inferring column kinds and the task.
//!
//! The rest of the crate never sees polars: a file becomes a [`Table`] of plain `Vec`s, and a
//! [`Schema`] decides which columns are numeric, categorical or ignored.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod datetime;
mod infer;
mod table;
pub mod text;

pub use datetime::DatePart;
use infer::{forced_feature, infer_feature, infer_task};
pub use infer::{KindRules, LOW_CARDINALITY_INTEGERS};
#[cfg(test)]
use table::ragged_row;
#[cfg(test)]
use table::repeated_header_name;
pub use table::{format_number, RawColumn, RawType, Table, Values, MISSING_MARKERS};

/// The learning task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Two classes.
    Binary,
    /// Three or more classes.
    Multiclass,
    /// A real-valued target.
    Regression,
}

impl Task {
    /// Whether the task predicts classes.
    pub fn is_classification(self) -> bool {
        !matches!(self, Task::Regression)
    }

    /// Lower-case name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Task::Binary => "binary",
            Task::Multiclass => "multiclass",
            Task::Regression => "regression",
        }
    }
}

impl std::str::FromStr for Task {
    type Err = Error;
    fn from_str(s: &str) -> Result<Task> {
        match s {
            "binary" => Ok(Task::Binary),
            "multiclass" => Ok(Task::Multiclass),
            "regression" => Ok(Task::Regression),
            other => Err(Error::Config(format!(
                "unknown task '{other}' (expected binary, multiclass or regression)"
            ))),
        }
    }
}

/// What the pipeline does with a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Used as a number.
    Numeric,
    /// Used as a set of labels.
    Categorical,
    /// Dates or timestamps, used through their parts (year, month, day of week, …).
    Datetime,
    /// Free text, used through hashed word 1–2-gram TF-IDF features and its length.
    Text,
    /// Not used (ID-like, constant, or empty).
    Ignored,
}

/// The inferred role of one input column.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureSchema {
    /// Column name.
    pub name: String,
    /// Storage type in the training file.
    pub raw: RawType,
    /// How the column is used.
    pub kind: FeatureKind,
    /// Why the column was ignored or treated as categorical, when not obvious.
    pub reason: Option<String>,
    /// Missing cells in training data.
    pub missing: usize,
    /// Distinct non-missing values in training data.
    pub distinct: usize,
    /// For dates: the format the values are read with (see [`datetime::parse`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_format: Option<String>,
    /// For dates: the parts used (those that vary in training data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub date_parts: Vec<DatePart>,
}

impl FeatureKind {
    /// Lower-case name, as in the schema summary and `--json`.
    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::Numeric => "numeric",
            FeatureKind::Categorical => "categorical",
            FeatureKind::Datetime => "datetime",
            FeatureKind::Text => "text",
            FeatureKind::Ignored => "ignored",
        }
    }
}

/// Everything a model needs to know about its input: used columns, target, task and classes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schema {
    /// Target column name.
    pub target: String,
    /// The task.
    pub task: Task,
    /// Every non-target column of the training file, in order.
    pub features: Vec<FeatureSchema>,
    /// Class labels in sorted order (classification only).
    pub classes: Vec<String>,
}

impl Schema {
    /// The columns the pipeline uses.
    pub fn used(&self) -> impl Iterator<Item = &FeatureSchema> {
        self.features.iter().filter(|f| f.kind != FeatureKind::Ignored)
    }

    /// A short human summary of the schema.
    pub fn summary(&self, n_rows: usize) -> String {
        let names = |k: FeatureKind| -> Vec<&str> {
            self.features
                .iter()
                .filter(|f| f.kind == k)
                .map(|f| f.name.as_str())
                .collect()
        };
        let num = names(FeatureKind::Numeric);
        let cat = names(FeatureKind::Categorical);
        let ign: Vec<String> = self
            .features
            .iter()
            .filter(|f| f.kind == FeatureKind::Ignored)
            .map(|f| format!("{} ({})", f.name, f.reason.as_deref().unwrap_or("unused")))
            .collect();
        let task = match self.task {
            Task::Regression => "regression".to_string(),
            t => format!("{}, {} classes", t.name(), self.classes.len()),
        };
        let mut s = format!(
            "{n_rows} rows; target '{}' ({task}); {} numeric, {} categorical",
            self.target,
            num.len(),
            cat.len()
        );
        if !cat.is_empty() {
            s.push_str(&format!(" [{}]", cat.join(", ")));
        }
        for kind in [FeatureKind::Datetime, FeatureKind::Text] {
            let these = names(kind);
            if !these.is_empty() {
                s.push_str(&format!(
                    ", {} {} [{}]",
                    these.len(),
                    kind.name(),
                    these.join(", ")
                ));
            }
        }
        if !ign.is_empty() {
            s.push_str(&format!("; ignored: {}", ign.join(", ")));
        }
        s
    }

    /// Turn a table into features laid out as this schema expects; `notes` collects non-fatal remarks.
    pub fn features_from(&self, table: &Table, notes: &mut Vec<String>) -> Result<Features> {
        let mut columns = Vec::new();
        for f in self.used() {
            let col = table
                .column(&f.name)
                .ok_or_else(|| Error::Schema(format!("column '{}' is missing from the data", f.name)))?;
            columns.push(feature_column(f, col, notes)?);
        }
        let extra: Vec<&str> = table
            .columns
            .iter()
            .filter(|c| c.name != self.target && !self.features.iter().any(|f| f.name == c.name))
            .map(|c| c.name.as_str())
            .collect();
        if !extra.is_empty() {
            notes.push(format!(
                "ignoring {} column(s) the model was not trained on: {}",
                extra.len(),
                extra.join(", ")
            ));
        }
        let inf: usize = columns
            .iter()
            .map(|c| match c {
                FeatureColumn::Numeric(v) => v.iter().filter(|x| x.is_infinite()).count(),
                _ => 0,
            })
            .sum();
        if inf > 0 {
            notes.push(format!("{inf} infinite value(s) treated as missing"));
            for c in &mut columns {
                if let FeatureColumn::Numeric(v) = c {
                    v.iter_mut()
                        .filter(|x| x.is_infinite())
                        .for_each(|x| *x = f64::NAN);
                }
            }
        }
        Ok(Features {
            columns,
            n_rows: table.n_rows,
        })
    }
}

fn feature_column(f: &FeatureSchema, col: &RawColumn, notes: &mut Vec<String>) -> Result<FeatureColumn> {
    match f.kind {
        FeatureKind::Datetime => {
            let format = f.date_format.as_deref().unwrap_or(datetime::RFC3339);
            let n = col.len();
            let mut secs = Vec::with_capacity(n);
            let mut unread = 0;
            for i in 0..n {
                let v = match col.label(i) {
                    None => f64::NAN,
                    Some(s) => datetime::parse_like(&s, format).unwrap_or_else(|| {
                        unread += 1;
                        f64::NAN
                    }),
                };
                secs.push(v);
            }
            if unread > 0 {
                notes.push(format!(
                    "column '{}': {unread} value(s) are not dates in the format {format}; treated as missing",
                    f.name
                ));
            }
            Ok(FeatureColumn::Datetime {
                secs,
                parts: f.date_parts.clone(),
            })
        }
        FeatureKind::Text => Ok(FeatureColumn::Text(
            (0..col.len()).map(|i| col.label(i)).collect(),
        )),
        FeatureKind::Numeric => match &col.values {
            Values::Numeric(v) => Ok(FeatureColumn::Numeric(v.clone())),
            // Text that all reads as numbers (a column with no values at all, or numbers padded
            // with spaces) is numeric; otherwise name the first cell that is not.
            Values::Text(t) => text_as_numbers(t)
                .map(FeatureColumn::Numeric)
                .map_err(|(row, cell)| {
                    Error::Schema(format!(
                        "column '{}' should be numeric but data row {} holds '{cell}'",
                        f.name,
                        row + 1
                    ))
                }),
        },
        FeatureKind::Categorical => {
            let mut index: HashMap<String, u32> = HashMap::new();
            let mut levels = Vec::new();
            let mut codes = Vec::with_capacity(col.len());
            let n = codes.capacity();
            for i in 0..n {
                match col.label(i) {
                    None => codes.push(MISSING_CODE),
                    Some(s) => {
                        let next = levels.len() as u32;
                        let code = *index.entry(s.clone()).or_insert_with(|| {
                            levels.push(s);
                            next
                        });
                        codes.push(code);
                    }
                }
            }
            Ok(FeatureColumn::Categorical { codes, levels })
        }
        FeatureKind::Ignored => Err(Error::Schema(format!("column '{}' is not used", f.name))),
    }
}

/// Code of a missing categorical cell.
pub const MISSING_CODE: u32 = u32::MAX;

/// One used feature column, typed.
#[derive(Debug, Clone)]
pub enum FeatureColumn {
    /// Numbers, NaN for missing.
    Numeric(Vec<f64>),
    /// Category codes into `levels`; [`MISSING_CODE`] for missing.
    Categorical {
        /// Per-row code.
        codes: Vec<u32>,
        /// Label of each code.
        levels: Vec<String>,
    },
    /// Timestamps in seconds since 1970 (NaN for missing) and the parts to use.
    Datetime {
        /// Per-row timestamp.
        secs: Vec<f64>,
        /// Parts to derive, from the training schema.
        parts: Vec<DatePart>,
    },
    /// Free text; `None` for missing.
    Text(Vec<Option<String>>),
}

/// The used feature columns of a table, in schema order.
#[derive(Debug, Clone)]
pub struct Features {
    /// Columns aligned with [`Schema::used`].
    pub columns: Vec<FeatureColumn>,
    /// Number of rows.
    pub n_rows: usize,
}

/// Targets, encoded.
#[derive(Debug, Clone)]
pub enum Target {
    /// Class index per row into [`Schema::classes`].
    Classes(Vec<usize>),
    /// Real values.
    Values(Vec<f64>),
}

impl Target {
    /// Whether the target holds classes.
    pub fn is_classification(&self) -> bool {
        matches!(self, Target::Classes(_))
    }

    /// Rows per class index, up to the largest index present (`None` for regression).
    pub fn class_counts(&self) -> Option<Vec<usize>> {
        let Target::Classes(c) = self else {
            return None;
        };
        let mut counts = vec![0usize; c.iter().max().map_or(0, |m| m + 1)];
        for &x in c {
            counts[x] += 1;
        }
        Some(counts)
    }

    /// Rows of the smallest class over rows of the largest, among classes with rows (`None`
    /// for regression): the guardrail's imbalance measure and the class-weight search's.
    pub fn minority_ratio(&self) -> Option<f64> {
        let counts = self.class_counts()?;
        let present = counts.iter().copied().filter(|&n| n > 0);
        let min = present.clone().min()?;
        let max = present.max()?;
        Some(min as f64 / max as f64)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Target::Classes(v) => v.len(),
            Target::Values(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targets of `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Target {
        match self {
            Target::Classes(c) => Target::Classes(rows.iter().map(|&i| c[i]).collect()),
            Target::Values(v) => Target::Values(rows.iter().map(|&i| v[i]).collect()),
        }
    }
}

/// A training set: schema, features and encoded target.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Inferred schema.
    pub schema: Schema,
    /// Feature columns.
    pub features: Features,
    /// Encoded target.
    pub target: Target,
    /// Remarks made while building (dropped rows, ignored columns, ...).
    pub warnings: Vec<String>,
}

impl Dataset {
    /// Read a file and build a dataset with `target` as the label column.
    pub fn from_path(path: &Path, target: &str, task: Option<Task>) -> Result<Dataset> {
        let table = Table::read(path)?;
        Dataset::from_table(table, target, task)
    }

    /// Build a dataset from a table: infer the task (unless given), column kinds and classes.
    pub fn from_table(table: Table, target: &str, task: Option<Task>) -> Result<Dataset> {
        Dataset::from_table_with(table, target, task, &KindRules::default())
    }

    /// [`Dataset::from_table`] with column kinds set by `rules`; a rule naming a column the table
    /// does not have (or the target) is an error.
    pub fn from_table_with(
        table: Table,
        target: &str,
        task: Option<Task>,
        rules: &KindRules,
    ) -> Result<Dataset> {
        // A kind given to the target says nothing about features; it is left alone.
        if let Some(name) = rules
            .kinds
            .keys()
            .find(|n| *n != target && table.column(n).is_none())
        {
            return Err(Error::Schema(format!(
                "column '{name}' is given a kind but is not in the data"
            )));
        }
        let mut warnings = Vec::new();
        let tcol = table.column(target).ok_or_else(|| {
            let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
            // One column whose name holds another separator: the file is not comma-separated.
            let hint = match names.as_slice() {
                [only] => [';', '\t', '|']
                    .into_iter()
                    .find(|s| only.contains(*s))
                    .map(|s| {
                        format!(
                            " (the header reads as one column: the file looks separated by {:?}, \
                             and automl reads comma-separated CSV or Parquet)",
                            s
                        )
                    })
                    .unwrap_or_default(),
                _ => String::new(),
            };
            Error::Data(format!(
                "target column '{target}' not found; columns are: {}{hint}",
                names.join(", ")
            ))
        })?;
        if table.columns.len() < 2 {
            return Err(Error::Data(
                "the table has only the target column; there are no features to learn from".into(),
            ));
        }
        // Rows with a missing target cannot be learnt from.
        let keep: Vec<usize> = (0..table.n_rows).filter(|&i| tcol.label(i).is_some()).collect();
        if keep.is_empty() {
            return Err(Error::Data(format!("target column '{target}' has no values")));
        }
        if keep.len() < table.n_rows {
            warnings.push(format!(
                "dropped {} row(s) with a missing target",
                table.n_rows - keep.len()
            ));
        }
        let table = if keep.len() < table.n_rows {
            select_rows(&table, &keep)
        } else {
            table
        };
        let tcol = table
            .column(target)
            .ok_or_else(|| Error::Data(format!("target column '{target}' not found")))?;
        let n = table.n_rows;
        if n < 2 {
            return Err(Error::Data(format!(
                "only {n} data row with a target: at least 2 are needed to learn anything"
            )));
        }
        let distinct = tcol.distinct();
        if distinct < 2 {
            let v = tcol.label(0).unwrap_or_default();
            return Err(Error::Data(format!(
                "target column '{target}' has a single value ('{v}'): there is nothing to learn"
            )));
        }
        let task = match task {
            Some(t) => t,
            None => infer_task(tcol, distinct, n),
        };
        let (target_values, classes) = if task.is_classification() {
            let mut classes: Vec<String> = (0..n)
                .filter_map(|i| tcol.label(i))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            sort_labels(&mut classes);
            if task == Task::Binary && classes.len() != 2 {
                return Err(Error::Data(format!(
                    "task is binary but target '{target}' has {} classes",
                    classes.len()
                )));
            }
            if task == Task::Multiclass && classes.len() < 3 {
                warnings.push(format!(
                    "target '{target}' has only {} classes; a binary task would fit it better",
                    classes.len()
                ));
            }
            if classes.len() > 1000 {
                return Err(Error::Data(format!(
                    "target '{target}' has {} distinct values: too many classes; use --task regression for a numeric target",
                    classes.len()
                )));
            }
            let index: HashMap<&str, usize> =
                classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
            let mut labels = Vec::with_capacity(n);
            for i in 0..n {
                let l = tcol.label(i).unwrap_or_default();
                labels.push(index.get(l.as_str()).copied().unwrap_or(0));
            }
            (Target::Classes(labels), classes)
        } else {
            let v = match &tcol.values {
                Values::Numeric(v) => v.clone(),
                Values::Text(t) => {
                    let example = t.iter().flatten().next().cloned().unwrap_or_default();
                    return Err(Error::Data(format!(
                        "regression needs a numeric target, but '{target}' contains text (e.g. '{example}')"
                    )));
                }
            };
            if let Some(x) = v.iter().find(|x| !x.is_finite()) {
                return Err(Error::Data(format!(
                    "target column '{target}' contains a non-finite value ({x})"
                )));
            }
            (Target::Values(v), Vec::new())
        };

        let mut features = Vec::new();
        for col in table.columns.iter().filter(|c| c.name != target) {
            let fs = match rules.kinds.get(&col.name) {
                Some(&kind) => forced_feature(col, n, kind)?,
                None => infer_feature(col, n, rules.derived),
            };
            if fs.kind == FeatureKind::Ignored {
                warnings.push(format!(
                    "ignoring column '{}': {}",
                    fs.name,
                    fs.reason.as_deref().unwrap_or("unused")
                ));
            }
            features.push(fs);
        }
        let schema = Schema {
            target: target.to_string(),
            task,
            features,
            classes,
        };
        if schema.used().next().is_none() {
            return Err(Error::Data(
                "no usable feature columns (all are empty, constant or ID-like)".into(),
            ));
        }
        let mut notes = Vec::new();
        let features = schema.features_from(&table, &mut notes)?;
        warnings.extend(notes.into_iter().filter(|n| !n.starts_with("ignoring")));
        Ok(Dataset {
            schema,
            features,
            target: target_values,
            warnings,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.features.n_rows
    }

    /// Append the labelled rows of `table` (read with this dataset's schema; a class the
    /// training rows do not have is an error), e.g. a validation set given by the user; returns
    /// how many rows were added.
    pub fn append(&mut self, table: &Table) -> Result<usize> {
        let mut notes = Vec::new();
        let extra = self.schema.features_from(table, &mut notes)?;
        self.warnings
            .extend(notes.into_iter().map(|n| format!("added rows: {n}")));
        let target = &self.schema.target;
        let tcol = table
            .column(target)
            .ok_or_else(|| Error::Data(format!("target column '{target}' not found in the added rows")))?;
        let keep: Vec<usize> = (0..table.n_rows).filter(|&i| tcol.label(i).is_some()).collect();
        match &mut self.target {
            Target::Classes(c) => {
                for &i in &keep {
                    let l = tcol.label(i).unwrap_or_default();
                    let k = self.schema.classes.iter().position(|x| *x == l).ok_or_else(|| {
                        Error::Data(format!(
                            "class '{l}' of the added rows does not occur in the training data"
                        ))
                    })?;
                    c.push(k);
                }
            }
            Target::Values(v) => {
                for &i in &keep {
                    let l = tcol.label(i).unwrap_or_default();
                    let x: f64 = l.parse().ok().filter(|x: &f64| x.is_finite()).ok_or_else(|| {
                        Error::Data(format!(
                            "target '{target}' of the added rows holds '{l}', not a number"
                        ))
                    })?;
                    v.push(x);
                }
            }
        }
        for (mine, theirs) in self.features.columns.iter_mut().zip(extra.columns) {
            match (mine, theirs) {
                (FeatureColumn::Numeric(a), FeatureColumn::Numeric(b))
                | (FeatureColumn::Datetime { secs: a, .. }, FeatureColumn::Datetime { secs: b, .. }) => {
                    a.extend(keep.iter().map(|&i| b[i]));
                }
                (FeatureColumn::Text(a), FeatureColumn::Text(b)) => {
                    a.extend(keep.iter().map(|&i| b[i].clone()))
                }
                (
                    FeatureColumn::Categorical { codes, levels },
                    FeatureColumn::Categorical {
                        codes: bc,
                        levels: bl,
                    },
                ) => {
                    let mut index: HashMap<String, u32> = levels
                        .iter()
                        .enumerate()
                        .map(|(i, l)| (l.clone(), i as u32))
                        .collect();
                    let map: Vec<u32> = bl
                        .iter()
                        .map(|l| {
                            let next = levels.len() as u32;
                            *index.entry(l.clone()).or_insert_with(|| {
                                levels.push(l.clone());
                                next
                            })
                        })
                        .collect();
                    codes.extend(keep.iter().map(|&i| {
                        let c = bc[i];
                        if c == MISSING_CODE {
                            MISSING_CODE
                        } else {
                            map[c as usize]
                        }
                    }));
                }
                _ => {
                    return Err(Error::Schema(
                        "a column of the added rows has another type".into(),
                    ))
                }
            }
        }
        self.features.n_rows += keep.len();
        Ok(keep.len())
    }

    /// Stop using feature `name` (marked ignored with `reason`); unknown or already ignored
    /// names are left alone.
    pub fn exclude(&mut self, name: &str, reason: &str) {
        let Some(pos) = self.schema.used().position(|f| f.name == name) else {
            return;
        };
        self.features.columns.remove(pos);
        if let Some(f) = self.schema.features.iter_mut().find(|f| f.name == name) {
            f.kind = FeatureKind::Ignored;
            f.reason = Some(reason.to_string());
        }
        self.warnings.push(format!("ignoring column '{name}': {reason}"));
    }
}

fn select_rows(table: &Table, rows: &[usize]) -> Table {
    let columns = table
        .columns
        .iter()
        .map(|c| RawColumn {
            name: c.name.clone(),
            raw: c.raw,
            values: match &c.values {
                Values::Numeric(v) => Values::Numeric(rows.iter().map(|&i| v[i]).collect()),
                Values::Text(v) => Values::Text(rows.iter().map(|&i| v[i].clone()).collect()),
            },
        })
        .collect();
    Table {
        columns,
        n_rows: rows.len(),
    }
}

/// Text cells as numbers (surrounding spaces ignored; a missing cell is NaN), or the first cell
/// that is not a number, with its row.
fn text_as_numbers(text: &[Option<String>]) -> std::result::Result<Vec<f64>, (usize, &str)> {
    text.iter()
        .enumerate()
        .map(|(row, cell)| match cell.as_deref() {
            None => Ok(f64::NAN),
            Some(c) => c.trim().parse::<f64>().map_err(|_| (row, c)),
        })
        .collect()
}

/// Sort labels numerically when they are all numbers (so "2" < "10"), else as text.
pub fn sort_labels(labels: &mut [String]) {
    let nums: Option<Vec<f64>> = labels.iter().map(|l| l.parse::<f64>().ok()).collect();
    match nums {
        Some(_) => labels.sort_by(|a, b| {
            let (x, y) = (a.parse::<f64>().unwrap_or(0.0), b.parse::<f64>().unwrap_or(0.0));
            x.total_cmp(&y)
        }),
        None => labels.sort(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{CsvReadOptions, ParquetWriter, SerReader};
    use std::path::PathBuf;

    fn bundled(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("datasets")
            .join(name)
            .join("train.csv")
    }

    #[test]
    fn penguins_schema_is_inferred() {
        let ds = Dataset::from_path(&bundled("penguins"), "species", None).unwrap();
        assert_eq!(ds.schema.task, Task::Multiclass);
        assert_eq!(ds.schema.classes, vec!["Adelie", "Chinstrap", "Gentoo"]);
        let kind = |n: &str| ds.schema.features.iter().find(|f| f.name == n).unwrap().kind;
        assert_eq!(kind("island"), FeatureKind::Categorical);
        assert_eq!(kind("sex"), FeatureKind::Categorical);
        assert_eq!(kind("year"), FeatureKind::Categorical);
        assert_eq!(kind("bill_length_mm"), FeatureKind::Numeric);
        let sex = ds.schema.features.iter().find(|f| f.name == "sex").unwrap();
        assert!(sex.missing > 0, "penguins has missing sex values");
        assert_eq!(ds.n_rows(), 275);
    }

    #[test]
    fn diabetes_is_regression_and_breast_cancer_binary() {
        let d = Dataset::from_path(&bundled("diabetes"), "progression", None).unwrap();
        assert_eq!(d.schema.task, Task::Regression);
        let b = Dataset::from_path(&bundled("breast_cancer"), "diagnosis", None).unwrap();
        assert_eq!(b.schema.task, Task::Binary);
        assert_eq!(b.schema.classes, vec!["benign", "malignant"]);
    }

    #[test]
    fn missing_target_names_columns() {
        let err = Dataset::from_path(&bundled("iris"), "nope", None).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("'nope' not found") && msg.contains("species"),
            "{msg}"
        );
    }

    #[test]
    fn a_repeated_header_name_is_an_error_not_a_renamed_column() {
        assert_eq!(repeated_header_name(b"a,b,a\n1,2,3\n"), Some("a".into()));
        assert_eq!(
            repeated_header_name(b"\xef\xbb\xbf\"x,y\",b,\"x,y\"\r\n1,2,3\r\n"),
            Some("x,y".into())
        );
        assert_eq!(repeated_header_name(b"a,b\r\n1,1\r\n"), None);
        assert_eq!(repeated_header_name(b"a,b"), None);
        let err = Table::from_csv_bytes(b"a,a,y\n1,2,0\n3,4,1\n".to_vec(), Path::new("t.csv"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'a' appears twice in the header"), "{err}");
        let err = Table::from_csv_bytes(b",,y\n1,2,0\n3,4,1\n".to_vec(), Path::new("t.csv"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("two columns have no name"), "{err}");
    }

    #[test]
    fn a_semicolon_file_is_named_as_such_when_the_target_is_missing() {
        let bytes = b"a;b;y\n1;2;0\n3;4;1\n".to_vec();
        let table = Table::from_csv_bytes(bytes, Path::new("semi.csv")).unwrap();
        let err = Dataset::from_table(table, "y", None).unwrap_err().to_string();
        assert!(err.contains("separated by ';'"), "{err}");
    }

    #[test]
    fn a_text_cell_in_a_numeric_column_is_named_and_padded_numbers_are_read() {
        let train = Table::from_csv_bytes(
            b"x,y\n1.5,0\n2.5,1\n1.5,0\n2.5,1\n0.5,1\n".to_vec(),
            Path::new("train.csv"),
        )
        .unwrap();
        let ds = Dataset::from_table(train, "y", None).unwrap();
        let features = |csv: &[u8]| {
            let t = Table::from_csv_bytes(csv.to_vec(), Path::new("new.csv")).unwrap();
            ds.schema.features_from(&t, &mut Vec::new())
        };
        let err = features(b"x\n1.5\nabc\n").unwrap_err().to_string();
        assert!(err.contains("data row 2 holds 'abc'"), "{err}");
        let ok = features(b"x\n\" 1.5\"\n\n").unwrap();
        match &ok.columns[0] {
            FeatureColumn::Numeric(v) => {
                assert_eq!(v[0], 1.5);
                assert!(v[1].is_nan());
            }
            _ => panic!("x should stay numeric"),
        }
    }

    #[test]
    fn ragged_rows_are_found_with_their_line() {
        assert_eq!(ragged_row(b"a,b,c\n1,2,3\n4,5\n"), Some((3, 2, 3)));
        assert_eq!(ragged_row(b"a,b\n1,2\n\n3,4,5\n"), Some((4, 3, 2)));
        assert_eq!(ragged_row(b"a,b\r\n\"x,\ny\",2\r\n3,4\r\n"), None);
        assert_eq!(ragged_row(b"a,b\n1,2"), None);
    }

    #[test]
    fn parquet_reads_like_csv() {
        let csv = bundled("penguins");
        let mut df = CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(csv.clone()))
            .unwrap()
            .finish()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pq = dir.path().join("penguins.parquet");
        let file = std::fs::File::create(&pq).unwrap();
        ParquetWriter::new(file).finish(&mut df).unwrap();
        let a = Dataset::from_path(&csv, "species", None).unwrap();
        let b = Dataset::from_path(&pq, "species", None).unwrap();
        assert_eq!(a.n_rows(), b.n_rows());
        assert_eq!(
            serde_json::to_string(&a.schema).unwrap(),
            serde_json::to_string(&b.schema).unwrap()
        );
        match (&a.target, &b.target) {
            (Target::Classes(x), Target::Classes(y)) => assert_eq!(x, y),
            _ => panic!("penguins is classification"),
        }
    }

    #[test]
    fn id_and_constant_columns_are_ignored() {
        let n = 50;
        let table = Table {
            n_rows: n,
            columns: vec![
                RawColumn {
                    name: "id".into(),
                    raw: RawType::Integer,
                    values: Values::Numeric((0..n).map(|i| i as f64 + 100.0).collect()),
                },
                RawColumn {
                    name: "k".into(),
                    raw: RawType::Float,
                    values: Values::Numeric(vec![3.0; n]),
                },
                RawColumn {
                    name: "x".into(),
                    raw: RawType::Float,
                    values: Values::Numeric((0..n).map(|i| (i % 7) as f64 * 0.5).collect()),
                },
                RawColumn {
                    name: "y".into(),
                    raw: RawType::Text,
                    values: Values::Text((0..n).map(|i| Some(["a", "b"][i % 2].into())).collect()),
                },
            ],
        };
        let ds = Dataset::from_table(table, "y", None).unwrap();
        let kinds: Vec<FeatureKind> = ds.schema.features.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            vec![FeatureKind::Ignored, FeatureKind::Ignored, FeatureKind::Numeric]
        );
        assert_eq!(ds.schema.task, Task::Binary);
    }
}
