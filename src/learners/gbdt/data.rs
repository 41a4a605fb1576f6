//! The boosting input of `gbdt`: features as `f32` with categorical columns marked, binned once
//! and shared by row views.

use std::fmt;
use std::sync::Arc;

use hessboost::data::{FeatureType, ViewCuts};
use hessboost::prelude::*;

use crate::error::Result;
use crate::learners::Y;
use crate::matrix::Matrix;

use super::err;

/// Features ready for boosting: values as `f32` (NaN = missing) with the categorical columns
/// marked. Its quantile bins are computed once, on first training, and shared (read-only, across
/// threads) by every training on it and on its [`rows`](GbdtData::rows) views.
#[derive(Clone)]
pub struct GbdtData {
    pub(super) dm: DMatrix,
    categorical: Arc<Vec<bool>>,
}

impl fmt::Debug for GbdtData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GbdtData({} × {})", self.dm.n_rows(), self.dm.n_cols())
    }
}

/// `f64` features as `f32` boosting input: NaN stays missing, ±∞ and out-of-range values clamp
/// to the largest finite `f32` (hessboost refuses infinities).
pub(super) fn to_f32(data: &[f64]) -> Vec<f32> {
    data.iter()
        .map(|&v| {
            if v.is_nan() {
                f32::NAN
            } else {
                v.clamp(-(f32::MAX as f64), f32::MAX as f64) as f32
            }
        })
        .collect()
}

impl GbdtData {
    /// Wrap a dense matrix; `categorical[j]` marks column `j` as category codes (whole numbers
    /// ≥ 0, NaN for missing).
    pub fn new(x: &Matrix, categorical: &[bool]) -> Result<GbdtData> {
        if x.rows == 0 || x.cols == 0 {
            return Err(err("no rows or no feature columns to train on"));
        }
        if categorical.len() != x.cols {
            return Err(err(format!(
                "{} categorical flags for {} columns",
                categorical.len(),
                x.cols
            )));
        }
        let mut values = to_f32(&x.data);
        for (j, _) in categorical.iter().enumerate().filter(|(_, c)| **c) {
            for i in 0..x.rows {
                let v = &mut values[i * x.cols + j];
                // A code that is not a whole number ≥ 0 cannot be a category: treat it as missing.
                if !(v.is_finite() && *v >= 0.0 && v.fract() == 0.0 && *v < 16_777_216.0) {
                    *v = f32::NAN;
                }
            }
        }
        let types: Vec<FeatureType> = categorical
            .iter()
            .map(|&c| {
                if c {
                    FeatureType::Categorical
                } else {
                    FeatureType::Numerical
                }
            })
            .collect();
        let dm = DMatrix::from_dense_vec(values, x.rows, x.cols)
            .and_then(|d| d.with_feature_types(&types))
            .map_err(err)?;
        Ok(GbdtData {
            dm,
            categorical: Arc::new(categorical.to_vec()),
        })
    }

    /// A view of some rows that reuses this data's bins (no re-binning).
    pub fn rows(&self, idx: &[usize]) -> Result<GbdtData> {
        let dm = self
            .dm
            .select_rows_with_cuts(idx, ViewCuts::Source)
            .map_err(err)?;
        Ok(GbdtData {
            dm,
            categorical: self.categorical.clone(),
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.dm.n_rows()
    }

    /// Number of feature columns.
    pub fn n_cols(&self) -> usize {
        self.dm.n_cols()
    }

    /// This data with labels; real targets become `(v - shift) / scale`.
    pub(super) fn labelled(&self, y: &Y, shift: f64, scale: f64) -> Result<DMatrix> {
        let labels: Vec<f32> = match y {
            Y::Classes(c, _) => c.iter().map(|&c| c as f32).collect(),
            Y::Values(v) => v.iter().map(|&v| ((v - shift) / scale) as f32).collect(),
        };
        if labels.len() != self.n_rows() {
            return Err(err(format!(
                "{} targets for {} rows",
                labels.len(),
                self.n_rows()
            )));
        }
        self.dm.clone().with_labels(&labels).map_err(err)
    }
}
