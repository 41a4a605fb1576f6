//! How a column's kind and the task are inferred from its values, and the kinds a user sets
//! (`KindRules`): the rules [`super::Dataset`] applies when it reads a table.

use std::collections::BTreeMap;

use super::{datetime, text, text_as_numbers, FeatureKind, FeatureSchema, RawColumn, RawType, Task, Values};
use crate::error::{Error, Result};

/// Task rule: two values → binary; text → multiclass; whole numbers with few distinct values → multiclass;
/// anything else numeric → regression.
pub(super) fn infer_task(col: &RawColumn, distinct: usize, n: usize) -> Task {
    if distinct == 2 {
        return Task::Binary;
    }
    match &col.values {
        Values::Text(_) => Task::Multiclass,
        Values::Numeric(v) => {
            let whole = v.iter().filter(|x| !x.is_nan()).all(|x| x.fract() == 0.0);
            if whole && distinct <= 20 && distinct * 5 <= n {
                Task::Multiclass
            } else {
                Task::Regression
            }
        }
    }
}

/// Largest number of distinct values for which a whole-number column counts as categorical.
pub const LOW_CARDINALITY_INTEGERS: usize = 10;

/// How column kinds are decided, beyond the inference rules: kinds set by the user (Azure's
/// `column_name_and_types`) and whether dates and free text are recognised at all (Azure's
/// featurization `off` leaves them plain categories).
#[derive(Debug, Clone, PartialEq)]
pub struct KindRules {
    /// Kinds set per column name.
    pub kinds: BTreeMap<String, FeatureKind>,
    /// Recognise dates and free text (default true).
    pub derived: bool,
}

impl Default for KindRules {
    fn default() -> Self {
        KindRules {
            kinds: BTreeMap::new(),
            derived: true,
        }
    }
}

/// The schema entry of a column whose kind the user set.
pub(super) fn forced_feature(col: &RawColumn, n: usize, kind: FeatureKind) -> Result<FeatureSchema> {
    let text: &[Option<String>] = match &col.values {
        Values::Text(t) => t,
        Values::Numeric(_) => &[],
    };
    let mut f = FeatureSchema {
        name: col.name.clone(),
        raw: col.raw,
        kind,
        reason: Some("kind set by the job".to_string()),
        missing: col.missing(),
        distinct: col.distinct(),
        date_format: None,
        date_parts: Vec::new(),
    };
    match kind {
        FeatureKind::Numeric => {
            if let Err((_, example)) = text_as_numbers(text) {
                return Err(Error::Schema(format!(
                    "column '{}' is set to numeric but holds text (e.g. '{example}')",
                    col.name
                )));
            }
        }
        FeatureKind::Datetime => {
            let format = datetime::detect(text).ok_or_else(|| {
                let example = text.iter().flatten().next().cloned().unwrap_or_default();
                Error::Schema(format!(
                    "column '{}' is set to datetime but no date format reads its values (e.g. '{example}')",
                    col.name
                ))
            })?;
            f.date_format = Some(format.to_string());
            f.date_parts = datetime::parts_of(text, format);
            if f.date_parts.is_empty() {
                f.kind = FeatureKind::Ignored;
                f.reason = Some("a date that never changes".to_string());
            }
        }
        FeatureKind::Categorical | FeatureKind::Text | FeatureKind::Ignored => {}
    }
    if n == f.missing && f.kind != FeatureKind::Ignored {
        f.kind = FeatureKind::Ignored;
        f.reason = Some("all values missing".to_string());
    }
    Ok(f)
}

pub(super) fn infer_feature(col: &RawColumn, n: usize, derived: bool) -> FeatureSchema {
    let missing = col.missing();
    let distinct = col.distinct();
    let present = n - missing;
    let (kind, reason) = if present == 0 {
        (FeatureKind::Ignored, Some("all values missing".to_string()))
    } else if distinct == 1 {
        (FeatureKind::Ignored, Some("constant".to_string()))
    } else {
        let lname = col.name.to_ascii_lowercase();
        let id_name = lname == "id" || lname.ends_with("_id") || lname.ends_with(" id");
        let all_unique = distinct == present && present >= 20;
        match col.raw {
            RawType::Text => {
                let text = match &col.values {
                    Values::Text(t) => t.as_slice(),
                    Values::Numeric(_) => &[],
                };
                if let Some(format) = datetime::detect(text).filter(|_| derived) {
                    let parts = datetime::parts_of(text, format);
                    if parts.is_empty() {
                        (
                            FeatureKind::Ignored,
                            Some("a date that never changes".to_string()),
                        )
                    } else {
                        return FeatureSchema {
                            name: col.name.clone(),
                            raw: col.raw,
                            kind: FeatureKind::Datetime,
                            reason: Some(format!("dates read as {format}")),
                            missing,
                            distinct,
                            date_format: Some(format.to_string()),
                            date_parts: parts,
                        };
                    }
                } else if derived && text::is_free_text(text, distinct) {
                    (
                        FeatureKind::Text,
                        Some("free text: several words per value, mostly distinct".to_string()),
                    )
                } else if all_unique {
                    (
                        FeatureKind::Ignored,
                        Some("ID-like: every value is unique".to_string()),
                    )
                } else {
                    (FeatureKind::Categorical, None)
                }
            }
            RawType::Boolean => (FeatureKind::Categorical, None),
            RawType::Integer => {
                if all_unique && (id_name || is_row_counter(col)) {
                    (
                        FeatureKind::Ignored,
                        Some("ID-like: unique whole numbers".to_string()),
                    )
                } else if (3..=LOW_CARDINALITY_INTEGERS).contains(&distinct) {
                    (
                        FeatureKind::Categorical,
                        Some(format!("{distinct} distinct whole numbers")),
                    )
                } else {
                    (FeatureKind::Numeric, None)
                }
            }
            RawType::Float => (FeatureKind::Numeric, None),
        }
    };
    FeatureSchema {
        name: col.name.clone(),
        raw: col.raw,
        kind,
        reason,
        missing,
        distinct,
        date_format: None,
        date_parts: Vec::new(),
    }
}

/// A whole-number column that counts up by one from row to row (a row index saved by accident).
fn is_row_counter(col: &RawColumn) -> bool {
    match &col.values {
        Values::Numeric(v) => v.windows(2).all(|w| w[1] - w[0] == 1.0),
        Values::Text(_) => false,
    }
}
