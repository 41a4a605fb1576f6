//! The fitted form of one feature column's preprocessing (a [`Step`]) and how it writes its
//! output columns: what a [`super::FittedPrep`] holds, one step per feature.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::derived::{self, LevelCode, Stats};
use crate::data::{DatePart, FeatureColumn};
use crate::error::{Error, Result};

/// One feature column's fitted preprocessing: its statistics and fitted levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) enum Step {
    Numeric {
        fill: f64,
        center: f64,
        scale: f64,
    },
    /// `rare`: seen in training but beyond `max_categories`; encoded like unseen ones.
    OneHot {
        levels: Vec<String>,
        rare: Vec<String>,
    },
    Ordinal {
        levels: Vec<String>,
    },
    /// A number passed through, NaN kept.
    Raw,
    /// Level index among all levels of the training table; NaN for missing or unseen.
    Category {
        levels: Vec<String>,
    },
    // Variants below were added with model format 4; postcard numbers variants in order, so
    // new ones go last.
    /// Date parts, imputed and scaled like numeric columns.
    Date {
        parts: Vec<DatePart>,
        stats: Vec<Stats>,
    },
    /// Date parts as they are (NaN for missing), for raw-input learners.
    RawDate {
        parts: Vec<DatePart>,
    },
    /// Hashed TF-IDF (`idf.len()` buckets) plus log character and word counts.
    Text {
        idf: Vec<f64>,
        lengths: [Stats; 2],
    },
    /// Hashed word counts plus character and word counts, for raw-input learners.
    RawText {
        dim: usize,
    },
    /// A categorical step followed by a numeric code of each level.
    Coded {
        base: Box<Step>,
        code: LevelCode,
    },
}

impl Step {
    /// Output columns.
    pub(super) fn width(&self) -> usize {
        match self {
            Step::Numeric { .. } | Step::Ordinal { .. } | Step::Raw | Step::Category { .. } => 1,
            Step::OneHot { levels, .. } => levels.len(),
            Step::Date { parts, .. } | Step::RawDate { parts } => parts.len(),
            Step::Text { idf, .. } => idf.len() + 2,
            Step::RawText { dim } => dim + 2,
            Step::Coded { base, code } => base.width() + code.width,
        }
    }

    /// Whether the step's model needs format 4 to be read.
    pub(super) fn is_v4(&self) -> bool {
        !matches!(
            self,
            Step::Numeric { .. }
                | Step::Ordinal { .. }
                | Step::Raw
                | Step::Category { .. }
                | Step::OneHot { .. }
        )
    }
}

/// Where a step writes: column `offset` onwards of a row-major matrix `width` wide.
pub(super) struct Out<'a> {
    pub(super) data: &'a mut [f64],
    pub(super) width: usize,
    pub(super) offset: usize,
}

impl Out<'_> {
    fn set(&mut self, r: usize, j: usize, v: f64) {
        self.data[r * self.width + self.offset + j] = v;
    }

    fn row(&mut self, r: usize, w: usize) -> &mut [f64] {
        let start = r * self.width + self.offset;
        &mut self.data[start..start + w]
    }
}

/// Transform one column with its step.
pub(super) fn write(
    step: &Step,
    col: &FeatureColumn,
    rows: Option<&[usize]>,
    n: usize,
    out: &mut Out,
) -> Result<()> {
    let row_at = |r: usize| rows.map_or(r, |rs| rs[r]);
    match (step, col) {
        (Step::Numeric { fill, center, scale }, FeatureColumn::Numeric(v)) => {
            for r in 0..n {
                out.set(r, 0, derived::standardise(v[row_at(r)], (*fill, *center, *scale)));
            }
        }
        (Step::OneHot { levels, .. }, FeatureColumn::Categorical { codes, levels: input }) => {
            let map = remap(levels, input);
            for r in 0..n {
                let c = codes[row_at(r)];
                if let Some(Some(slot)) = map.get(c as usize) {
                    out.set(r, *slot, 1.0);
                }
            }
        }
        // A level's index among the fitted levels; a missing or unseen level is -1 for ordinal
        // codes and NaN (missing) for the raw input of native learners.
        (
            Step::Ordinal { levels } | Step::Category { levels },
            FeatureColumn::Categorical { codes, levels: input },
        ) => {
            let unseen = if matches!(step, Step::Ordinal { .. }) {
                -1.0
            } else {
                f64::NAN
            };
            let map = remap(levels, input);
            for r in 0..n {
                let c = codes[row_at(r)];
                let v = match map.get(c as usize) {
                    Some(Some(slot)) => *slot as f64,
                    _ => unseen,
                };
                out.set(r, 0, v);
            }
        }
        (Step::Raw, FeatureColumn::Numeric(v)) => {
            for r in 0..n {
                out.set(r, 0, v[row_at(r)]);
            }
        }
        (Step::Date { parts, stats }, FeatureColumn::Datetime { secs, .. }) => {
            for r in 0..n {
                let s = secs[row_at(r)];
                for (j, (p, st)) in parts.iter().zip(stats).enumerate() {
                    out.set(r, j, derived::standardise(p.of(s), *st));
                }
            }
        }
        (Step::RawDate { parts }, FeatureColumn::Datetime { secs, .. }) => {
            for r in 0..n {
                let s = secs[row_at(r)];
                for (j, p) in parts.iter().enumerate() {
                    out.set(r, j, p.of(s));
                }
            }
        }
        (Step::Text { idf, lengths }, FeatureColumn::Text(t)) => {
            let dim = idf.len();
            for r in 0..n {
                let text = t[row_at(r)].as_deref();
                derived::tfidf(text, idf, out.row(r, dim));
                let l = derived::log_lengths(text);
                out.set(r, dim, derived::standardise(l[0], lengths[0]));
                out.set(r, dim + 1, derived::standardise(l[1], lengths[1]));
            }
        }
        (Step::RawText { dim }, FeatureColumn::Text(t)) => {
            for r in 0..n {
                match t[row_at(r)].as_deref() {
                    Some(text) => {
                        crate::data::text::hash_counts(text, out.row(r, *dim));
                        let (c, w) = crate::data::text::lengths(text);
                        out.set(r, *dim, c);
                        out.set(r, dim + 1, w);
                    }
                    None => {
                        out.set(r, *dim, f64::NAN);
                        out.set(r, dim + 1, f64::NAN);
                    }
                }
            }
        }
        (Step::Coded { base, code }, FeatureColumn::Categorical { codes, levels: input }) => {
            write(base, col, rows, n, out)?;
            let map = remap(&code.levels, input);
            let w = code.width;
            let mut sub = Out {
                data: out.data,
                width: out.width,
                offset: out.offset + base.width(),
            };
            for r in 0..n {
                let c = codes[row_at(r)];
                let v = match map.get(c as usize) {
                    Some(Some(slot)) => &code.values[slot * w..(slot + 1) * w],
                    _ => &code.unknown[..],
                };
                sub.row(r, w).copy_from_slice(v);
            }
        }
        _ => {
            return Err(Error::Schema(
                "a column's type differs from the one the model was trained on".into(),
            ))
        }
    }
    Ok(())
}

/// For each input level, its slot among the fitted levels (None when unseen in training).
fn remap(fitted: &[String], input: &[String]) -> Vec<Option<usize>> {
    let pos: HashMap<&str, usize> = fitted.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    input.iter().map(|l| pos.get(l.as_str()).copied()).collect()
}
