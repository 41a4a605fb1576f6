//! The network's input encoding (RealMLP's preprocessing), fitted on the training rows of raw
//! input ([`crate::prep::Encode::Native`]: numbers with NaN for missing, categories as level
//! indices):
//! - categories with two levels: one column, −1 / +1, missing or unseen 0; more levels: one-hot
//!   over the most frequent [`MAX_ONE_HOT`] levels of the training rows (RealMLP-TD-S one-hot
//!   encodes every level; the cap bounds the width), missing, rare and unseen levels all zeros;
//! - then every column, numbers and codes alike: robust scaling `(x - median) / (q75 - q25)`
//!   (`(max - min) / 2` as the divisor when the quartiles coincide, 0 for a constant column) and
//!   smooth clipping `z / sqrt(1 + (z/3)²)`, so outliers stay within ±3. A missing number becomes
//!   0, the median (RealMLP rejects missing numbers).

use serde::{Deserialize, Serialize};

use crate::matrix::Matrix;

/// Most one-hot columns per categorical feature.
pub const MAX_ONE_HOT: usize = 32;

/// Network inputs made from a category with `levels` levels: one ±1 column for up to two, else
/// one-hot over at most [`MAX_ONE_HOT`] of them.
pub fn category_width(levels: usize) -> usize {
    if levels <= 2 {
        1
    } else {
        levels.min(MAX_ONE_HOT)
    }
}

/// How one raw column becomes network inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Column {
    /// A number, as it is.
    Numeric,
    /// Two levels: `negative` → −1, any other seen level → +1.
    Binary { negative: usize, positive: usize },
    /// One column per kept level index, in this order.
    OneHot { levels: Vec<usize> },
}

/// A fitted input encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoder {
    columns: Vec<Column>,
    /// `(median, 1 / spread)` per output column.
    scaling: Vec<(f64, f64)>,
    width: usize,
}

/// `z / sqrt(1 + (z/3)²)`: identity near 0, bounded by ±3.
fn smooth_clip(z: f64) -> f64 {
    z / (1.0 + (z / 3.0).powi(2)).sqrt()
}

/// The `q`-quantile of sorted values (linear interpolation).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl Encoder {
    /// Fit on the rows of `x` (`categorical` marks level-index columns).
    pub fn fit(x: &Matrix, categorical: &[bool]) -> Encoder {
        let mut columns = Vec::with_capacity(x.cols);
        let mut width = 0;
        for j in 0..x.cols {
            let values = (0..x.rows).map(|i| x.get(i, j)).filter(|v| v.is_finite());
            if categorical.get(j).copied().unwrap_or(false) {
                let mut counts = std::collections::BTreeMap::<usize, usize>::new();
                for v in values {
                    if v >= 0.0 {
                        *counts.entry(v as usize).or_insert(0) += 1;
                    }
                }
                // Most frequent first, ties by level index: deterministic.
                let mut seen: Vec<(usize, usize)> = counts.into_iter().collect();
                seen.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                if category_width(seen.len()) == 1 {
                    let negative = seen.first().map_or(0, |s| s.0);
                    let positive = seen.get(1).map_or(usize::MAX, |s| s.0);
                    columns.push(Column::Binary { negative, positive });
                    width += 1;
                } else {
                    let mut levels: Vec<usize> = seen
                        .iter()
                        .take(category_width(seen.len()))
                        .map(|s| s.0)
                        .collect();
                    levels.sort_unstable();
                    width += levels.len();
                    columns.push(Column::OneHot { levels });
                }
            } else {
                columns.push(Column::Numeric);
                width += 1;
            }
        }
        let mut e = Encoder {
            columns,
            scaling: vec![(0.0, 1.0); width],
            width,
        };
        // One output column at a time, so fitting holds one column of codes, not all of them.
        e.scaling = (0..width)
            .map(|j| {
                let (raw, k) = e.source(j);
                let col = &e.columns[raw];
                let mut sorted: Vec<f64> = (0..x.rows)
                    .map(|i| code(col, x.get(i, raw), k))
                    .filter(|v| v.is_finite())
                    .collect();
                sorted.sort_by(f64::total_cmp);
                if sorted.is_empty() {
                    return (0.0, 0.0);
                }
                let iqr = quantile(&sorted, 0.75) - quantile(&sorted, 0.25);
                let half_range = (sorted[sorted.len() - 1] - sorted[0]) / 2.0;
                let spread = if iqr > 0.0 { iqr } else { half_range };
                let factor = if spread > 0.0 { 1.0 / spread } else { 0.0 };
                (quantile(&sorted, 0.5), factor)
            })
            .collect();
        e
    }

    /// Number of network inputs.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of raw columns this encoder reads.
    pub fn raw_columns(&self) -> usize {
        self.columns.len()
    }

    /// The raw column output column `j` is made from, and its level position within it.
    fn source(&self, j: usize) -> (usize, usize) {
        let mut at = 0;
        for (raw, col) in self.columns.iter().enumerate() {
            let w = match col {
                Column::OneHot { levels } => levels.len(),
                Column::Numeric | Column::Binary { .. } => 1,
            };
            if j < at + w {
                return (raw, j - at);
            }
            at += w;
        }
        (self.columns.len(), 0)
    }

    /// One row of `x` before scaling, into `o` (`width` zeros on entry; NaN for a missing number).
    fn codes_row(&self, row: &[f64], o: &mut [f64]) {
        let mut at = 0;
        for (col, &v) in self.columns.iter().zip(row) {
            match col {
                Column::Numeric | Column::Binary { .. } => {
                    o[at] = code(col, v, 0);
                    at += 1;
                }
                Column::OneHot { levels } => {
                    if let Some(k) = level(v).and_then(|c| levels.binary_search(&c).ok()) {
                        o[at + k] = 1.0;
                    }
                    at += levels.len();
                }
            }
        }
    }

    /// Encode the rows of `x` (row-major, `rows × width`, f32), one row at a time in f64.
    pub fn apply(&self, x: &Matrix) -> Vec<f32> {
        let mut out = vec![0f32; x.rows * self.width];
        let mut coded = vec![0.0; self.width];
        for (i, o) in out.chunks_mut(self.width.max(1)).enumerate().take(x.rows) {
            coded.fill(0.0);
            self.codes_row(x.row(i), &mut coded);
            for ((o, v), (center, factor)) in o.iter_mut().zip(&coded).zip(&self.scaling) {
                *o = if v.is_finite() {
                    smooth_clip((v - center) * factor) as f32
                } else {
                    0.0
                };
            }
        }
        out
    }
}

/// A raw value's level index, if it is one.
fn level(v: f64) -> Option<usize> {
    (v.is_finite() && v >= 0.0).then_some(v as usize)
}

/// The unscaled value of the output column at level position `k` of `col` for raw value `v`.
fn code(col: &Column, v: f64, k: usize) -> f64 {
    match col {
        Column::Numeric => v,
        Column::Binary { negative, positive } => match level(v) {
            Some(c) if c == *negative => -1.0,
            Some(c) if c == *positive => 1.0,
            _ => 0.0,
        },
        Column::OneHot { levels } => {
            if level(v).is_some_and(|c| levels.get(k) == Some(&c)) {
                1.0
            } else {
                0.0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_robust_scaled_and_clipped_categories_one_hot_or_signed() {
        // Column 0: numbers 1..=9 plus an outlier and a missing value; column 1: two levels;
        // column 2: three levels.
        let mut data = Vec::new();
        for i in 0..11 {
            let num = match i {
                9 => 1000.0,
                10 => f64::NAN,
                _ => (i + 1) as f64,
            };
            data.extend([num, (i % 2) as f64, (i % 3) as f64]);
        }
        let x = Matrix {
            data,
            rows: 11,
            cols: 3,
        };
        let e = Encoder::fit(&x, &[false, true, true]);
        assert_eq!(e.width(), 1 + 1 + 3);
        let out = e.apply(&x);
        let row = |i: usize| &out[i * 5..(i + 1) * 5];
        // Median of 1..9, 1000 is 5.5; quartiles 3.25 and 7.75: divisor 4.5.
        assert!((row(0)[0] - smooth_clip((1.0 - 5.5) / 4.5) as f32).abs() < 1e-6);
        assert!(
            row(9)[0] < 3.0 && row(9)[0] > 2.9,
            "outlier clipped: {}",
            row(9)[0]
        );
        assert_eq!(row(10)[0], 0.0, "missing is the median");
        // Level 0 appears 6 times, level 1 five: 0 → -1, 1 → +1, then centred on the median
        // (-1) and divided by the quartile spread (2).
        assert_eq!(row(0)[1], 0.0);
        assert!((row(1)[1] - smooth_clip(1.0) as f32).abs() < 1e-6);
        // Three levels; level 1's 0/1 column has median 0 and quartile spread 1.
        let one = smooth_clip(1.0) as f32;
        assert_eq!(&row(4)[2..], &[0.0, one, 0.0]);
        // Unseen level and missing category: zeros before scaling.
        let q = Matrix {
            data: vec![5.5, f64::NAN, 7.0],
            rows: 1,
            cols: 3,
        };
        let got = e.apply(&q);
        assert_eq!(got[0], 0.0);
        assert_eq!(&got[2..], &[0.0, 0.0, 0.0]);
        assert_eq!(
            got[1],
            smooth_clip(0.5) as f32,
            "missing binary: 0, half a spread above -1"
        );
    }

    #[test]
    fn the_width_the_cost_model_counts_is_the_width_the_encoder_makes() {
        // One column each of 2, 3 and 180 levels (every level present) and one number.
        let rows = 360;
        let mut data = Vec::new();
        for i in 0..rows {
            data.extend([(i % 2) as f64, (i % 3) as f64, (i % 180) as f64, i as f64]);
        }
        let x = Matrix { data, rows, cols: 4 };
        let enc = Encoder::fit(&x, &[true, true, true, false]);
        let counted = category_width(2) + category_width(3) + category_width(180) + 1;
        assert_eq!(
            (category_width(2), category_width(3), category_width(180)),
            (1, 3, MAX_ONE_HOT)
        );
        assert_eq!(enc.width(), counted);
    }

    #[test]
    fn each_output_column_is_coded_alone_as_the_whole_row_codes_it() {
        // A number with missing values, two levels, and 40 levels (one-hot over the 32 most
        // frequent; unseen, rare and missing ones all zeros).
        let rows = 500;
        let mut data = Vec::new();
        for i in 0..rows {
            let num = if i % 7 == 0 {
                f64::NAN
            } else {
                (i * 13 % 97) as f64
            };
            let cat = if i % 11 == 0 {
                f64::NAN
            } else {
                ((i * 7 + i / 60) % 40) as f64
            };
            data.extend([num, (i % 2) as f64, cat]);
        }
        let x = Matrix { data, rows, cols: 3 };
        let e = Encoder::fit(&x, &[false, true, true]);
        assert_eq!(e.width(), 1 + 1 + MAX_ONE_HOT);
        let mut whole = vec![0.0; e.width()];
        for i in 0..rows {
            whole.fill(0.0);
            e.codes_row(x.row(i), &mut whole);
            for (j, w) in whole.iter().enumerate() {
                let (raw, k) = e.source(j);
                let alone = code(&e.columns[raw], x.get(i, raw), k);
                assert!(
                    alone.to_bits() == w.to_bits() || (alone.is_nan() && w.is_nan()),
                    "row {i} column {j}"
                );
            }
            // Exactly one hot column for a kept level, none for a missing or dropped one.
            let hot = whole[2..].iter().filter(|&&v| v == 1.0).count();
            assert!(hot <= 1);
            if x.get(i, 2).is_nan() {
                assert_eq!(hot, 0);
            }
        }
        assert_eq!(e.source(e.width()), (3, 0), "past the last column");
    }
}
