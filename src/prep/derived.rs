//! Features derived from one column: the parts of a date, hashed word 1–2-gram TF-IDF of free
//! text, and a numeric code for each level of a high-cardinality category (its frequency, or
//! its smoothed target mean, out-of-fold on training rows).

use serde::{Deserialize, Serialize};

use crate::data::text::{hash_counts, lengths};
use crate::data::{DatePart, Target, MISSING_CODE};

/// Buckets of hashed word counts given to learners that take raw input (gbdt).
pub const NATIVE_TEXT_DIM: usize = 64;

/// Pseudo-count pulling a rare level's target mean towards the overall mean.
pub const SMOOTHING: f64 = 10.0;

/// Inner folds for the out-of-fold target codes of training rows.
pub const CODE_FOLDS: u64 = 5;

/// Most classes for which levels get per-class target rates; above, frequency is used.
pub const MAX_CODED_CLASSES: usize = 10;

/// Fill, center and scale of one derived numeric column (as for a numeric input column).
pub type Stats = (f64, f64, f64);

/// Apply fitted statistics to a value (missing → fill).
pub fn standardise(v: f64, (fill, center, scale): Stats) -> f64 {
    let v = if v.is_finite() { v } else { fill };
    (v - center) / scale
}

/// Inverse document frequency of each bucket over the given texts (smoothed: ln((1+n)/(1+df))+1).
pub fn idf(texts: &[Option<String>], rows: &[usize], dim: usize) -> Vec<f64> {
    let mut df = vec![0.0; dim];
    let mut counts = vec![0.0; dim];
    for &r in rows {
        if let Some(t) = &texts[r] {
            counts.iter_mut().for_each(|c| *c = 0.0);
            hash_counts(t, &mut counts);
            for (d, c) in df.iter_mut().zip(&counts) {
                if *c > 0.0 {
                    *d += 1.0;
                }
            }
        }
    }
    let n = rows.len() as f64;
    df.iter().map(|d| ((1.0 + n) / (1.0 + d)).ln() + 1.0).collect()
}

/// TF-IDF of one text into `out` (sublinear term frequency, L2-normalised); zeros when missing.
pub fn tfidf(text: Option<&str>, idf: &[f64], out: &mut [f64]) {
    out.iter_mut().for_each(|x| *x = 0.0);
    let Some(t) = text else { return };
    hash_counts(t, out);
    let mut norm = 0.0;
    for (x, w) in out.iter_mut().zip(idf) {
        if *x > 0.0 {
            *x = (1.0 + x.ln()) * w;
            norm += *x * *x;
        }
    }
    if norm > 0.0 {
        let inv = 1.0 / norm.sqrt();
        out.iter_mut().for_each(|x| *x *= inv);
    }
}

/// log(1 + characters) and log(1 + words) of a text; NaN when missing.
pub fn log_lengths(text: Option<&str>) -> [f64; 2] {
    match text {
        Some(t) => {
            let (c, w) = lengths(t);
            [c.ln_1p(), w.ln_1p()]
        }
        None => [f64::NAN; 2],
    }
}

/// The values of `part` over the given rows.
pub fn part_values(secs: &[f64], rows: &[usize], part: DatePart) -> Vec<f64> {
    rows.iter().map(|&r| part.of(secs[r])).collect()
}

/// How high-cardinality levels are coded, beyond their one-hot or ordinal columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    /// The share of training rows with the level.
    Frequency,
    /// The smoothed mean target of the level (per class for multiclass).
    Target,
}

/// Per-row target values a level code averages: the standardised value (regression), 1 for
/// the positive class (binary), or one 0/1 column per class (multiclass). `None` when the
/// target cannot be coded (too many classes).
pub fn target_columns(target: &Target, rows: &[usize]) -> Option<(Vec<f64>, usize)> {
    match target {
        Target::Values(v) => {
            let n = rows.len().max(1) as f64;
            let mean = rows.iter().map(|&r| v[r]).sum::<f64>() / n;
            let var = rows.iter().map(|&r| (v[r] - mean).powi(2)).sum::<f64>() / n;
            let sd = if var > 1e-24 { var.sqrt() } else { 1.0 };
            Some((v.iter().map(|x| (x - mean) / sd).collect(), 1))
        }
        Target::Classes(c) => {
            let k = c.iter().max().map_or(0, |m| m + 1);
            if k <= 2 {
                Some((c.iter().map(|&x| f64::from(u8::from(x == 1))).collect(), 1))
            } else if k <= MAX_CODED_CLASSES {
                let mut out = vec![0.0; c.len() * k];
                for (i, &x) in c.iter().enumerate() {
                    out[i * k + x] = 1.0;
                }
                Some((out, k))
            } else {
                None
            }
        }
    }
}

/// A fitted code per level: `width` numbers for each of `levels`, and `unknown` for missing or
/// unseen levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelCode {
    /// Frequency or target.
    pub kind: CodeKind,
    /// Levels seen in training.
    pub levels: Vec<String>,
    /// Numbers per output column.
    pub width: usize,
    /// Row-major: `width` numbers per level.
    pub values: Vec<f64>,
    /// The code of a missing or unseen level.
    pub unknown: Vec<f64>,
}

/// Inner fold of a row for out-of-fold codes: a hash of its index, so it does not depend on the
/// order rows are listed in.
fn inner_fold(row: usize) -> u64 {
    let mut z = (row as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % CODE_FOLDS
}

struct Sums {
    count: Vec<f64>,
    sum: Vec<f64>,
    total: Vec<f64>,
}

fn sums(
    codes: &[u32],
    n_levels: usize,
    rows: &[usize],
    y: Option<(&[f64], usize)>,
    skip: Option<u64>,
) -> Sums {
    let w = y.map_or(0, |(_, w)| w);
    let mut s = Sums {
        count: vec![0.0; n_levels],
        sum: vec![0.0; n_levels * w],
        total: vec![0.0; w],
    };
    for &r in rows {
        if skip == Some(inner_fold(r)) {
            continue;
        }
        let c = codes[r];
        if let Some((y, w)) = y {
            for j in 0..w {
                s.total[j] += y[r * w + j];
            }
            if c != MISSING_CODE {
                for j in 0..w {
                    s.sum[c as usize * w + j] += y[r * w + j];
                }
            }
        }
        if c != MISSING_CODE {
            s.count[c as usize] += 1.0;
        }
    }
    s
}

impl Sums {
    fn code(&self, level: usize, n: f64, kind: CodeKind, w: usize) -> Vec<f64> {
        match kind {
            CodeKind::Frequency => vec![self.count[level] / n.max(1.0)],
            CodeKind::Target => (0..w)
                .map(|j| {
                    let prior = self.total[j] / n.max(1.0);
                    (self.sum[level * w + j] + SMOOTHING * prior) / (self.count[level] + SMOOTHING)
                })
                .collect(),
        }
    }

    fn prior(&self, n: f64, kind: CodeKind, w: usize) -> Vec<f64> {
        match kind {
            CodeKind::Frequency => vec![0.0],
            CodeKind::Target => (0..w).map(|j| self.total[j] / n.max(1.0)).collect(),
        }
    }
}

impl LevelCode {
    /// Fit on the training rows; `y` is [`target_columns`]'s output (needed for target codes).
    pub fn fit(
        kind: CodeKind,
        codes: &[u32],
        levels: &[String],
        rows: &[usize],
        y: Option<(&[f64], usize)>,
    ) -> LevelCode {
        let (kind, y) = match (kind, y) {
            (CodeKind::Target, Some(y)) => (CodeKind::Target, Some(y)),
            _ => (CodeKind::Frequency, None),
        };
        let w = y.map_or(1, |(_, w)| w);
        let s = sums(codes, levels.len(), rows, y, None);
        let n = rows.len() as f64;
        let mut kept = Vec::new();
        let mut values = Vec::new();
        for (i, l) in levels.iter().enumerate() {
            if s.count[i] > 0.0 {
                kept.push(l.clone());
                values.extend(s.code(i, n, kind, w));
            }
        }
        LevelCode {
            kind,
            levels: kept,
            width: w,
            values,
            unknown: s.prior(n, kind, w),
        }
    }

    /// Codes of the training rows themselves, row by row in `rows` order: for target codes each
    /// row's code comes from the other inner folds, so a learner never sees a code computed
    /// from its own target (frequency codes hold no target and are returned as fitted).
    pub fn out_of_fold(
        &self,
        codes: &[u32],
        n_levels: usize,
        rows: &[usize],
        y: Option<(&[f64], usize)>,
    ) -> Option<Vec<f64>> {
        let (CodeKind::Target, Some(y)) = (self.kind, y) else {
            return None;
        };
        let w = self.width;
        let mut fold_sums = Vec::with_capacity(CODE_FOLDS as usize);
        let mut fold_n = Vec::with_capacity(CODE_FOLDS as usize);
        for f in 0..CODE_FOLDS {
            fold_sums.push(sums(codes, n_levels, rows, Some(y), Some(f)));
            fold_n.push(rows.iter().filter(|&&r| inner_fold(r) != f).count() as f64);
        }
        let mut out = Vec::with_capacity(rows.len() * w);
        for &r in rows {
            let f = inner_fold(r) as usize;
            let c = codes[r];
            if c == MISSING_CODE {
                out.extend(fold_sums[f].prior(fold_n[f], CodeKind::Target, w));
            } else {
                out.extend(fold_sums[f].code(c as usize, fold_n[f], CodeKind::Target, w));
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tfidf_rows_are_unit_length_and_missing_is_zero() {
        let texts = vec![
            Some("good movie".to_string()),
            Some("bad movie".to_string()),
            None,
        ];
        let idf = idf(&texts, &[0, 1, 2], 32);
        let mut out = vec![0.0; 32];
        tfidf(texts[0].as_deref(), &idf, &mut out);
        let norm: f64 = out.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-12);
        tfidf(None, &idf, &mut out);
        assert!(out.iter().all(|&x| x == 0.0));
        assert!(log_lengths(None)[0].is_nan());
    }

    #[test]
    fn frequency_and_smoothed_target_codes() {
        // Levels a (rows 0-3, y 1,1,1,0), b (row 4, y 0), missing (row 5, y 1).
        let codes = [0, 0, 0, 0, 1, MISSING_CODE];
        let levels = ["a".to_string(), "b".to_string(), "never".to_string()];
        let rows: Vec<usize> = (0..6).collect();
        let f = LevelCode::fit(CodeKind::Frequency, &codes, &levels, &rows, None);
        assert_eq!(f.levels, ["a", "b"]);
        assert_eq!(f.values, [4.0 / 6.0, 1.0 / 6.0]);
        let y = [1.0, 1.0, 1.0, 0.0, 0.0, 1.0];
        let t = LevelCode::fit(CodeKind::Target, &codes, &levels, &rows, Some((&y, 1)));
        let prior = 4.0 / 6.0;
        assert!((t.values[0] - (3.0 + 10.0 * prior) / 14.0).abs() < 1e-12);
        assert!((t.values[1] - (10.0 * prior) / 11.0).abs() < 1e-12);
        assert_eq!(t.unknown, [prior]);
    }
}
