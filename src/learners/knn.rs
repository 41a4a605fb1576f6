//! k nearest neighbours (learner `knn`) on linfa-nn's k-d tree; the model keeps the training rows.

use linfa_nn::distance::L2Dist;
use linfa_nn::{CommonNearestNeighbour, NearestNeighbour};
use ndarray::ArrayView1;
use rayon::prelude::*;

use super::checked::Checked;
use super::{Fitted, Learner, Prediction, Shape, Y};
use crate::data::Task;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::param::Params;

const NAME: &str = "knn";

/// The learner `knn`.
pub struct Knn;

/// Checked parameters of [`Knn`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnnParams {
    k: usize,
    distance_weights: bool,
}

impl KnnParams {
    /// Read and check sampled parameters; absent ones take the space's `init` values.
    pub fn check(p: &Params) -> Result<KnnParams> {
        let c = Checked::new(NAME, p);
        Ok(KnnParams {
            k: c.count("k", 1, 1 << 30)?,
            distance_weights: c.choice("weights", &["uniform", "distance"])? == "distance",
        })
    }
}

impl Learner for Knn {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/knn.toml")
    }

    fn check(&self, params: &Params) -> Result<()> {
        KnnParams::check(params).map(drop)
    }

    fn fit(&self, params: &Params, _: Task, x: Matrix, _: &[bool], y: Y, _: u64) -> Result<Fitted> {
        let p = KnnParams::check(params)?;
        let (y, n_classes) = match y {
            Y::Classes(c, k) => (c.iter().map(|&c| c as f64).collect(), k),
            Y::Values(v) => (v.to_vec(), 0),
        };
        Ok(Fitted::Knn {
            x,
            y,
            k: p.k,
            distance_weights: p.distance_weights,
            n_classes,
        })
    }

    fn cost(&self, _: &Params, s: &Shape) -> f64 {
        // Building the k-d tree and querying it; from about 20 dimensions a k-d tree visits
        // most leaves, so each validation row (a quarter of the rows) is compared with all.
        let brute = if s.raw >= 20.0 {
            0.08 * s.n * s.n * s.d
        } else {
            0.0
        };
        5.6 * s.n * s.d * s.n.log2().max(1.0) + brute
    }
}

/// Predict `x` from the training rows `train` / `y` (class index or value per row).
pub(super) fn predict(
    train: &Matrix,
    y: &[f64],
    k: usize,
    distance_weights: bool,
    n_classes: usize,
    x: &Matrix,
) -> Result<Prediction> {
    if train.cols != x.cols {
        return Err(Error::learner("knn", "feature count differs from training"));
    }
    let tv = train.view();
    let index = CommonNearestNeighbour::KdTree
        .from_batch(&tv, L2Dist)
        .map_err(|e| Error::learner("knn", e.to_string()))?;
    let k = k.min(train.rows).max(1);
    let width = n_classes.max(1);
    // Queries on many rows take seconds: they stop when the trial's token fires (rayon's
    // threads do not carry the trial's token, so it is taken here).
    let token = crate::cancel::current();
    let rows: Vec<Result<Vec<f64>>> = (0..x.rows)
        .into_par_iter()
        .map(|i| {
            if let Some(r) = token.reason() {
                return Err(Error::learner("knn", format!("stopped while predicting ({r:?})")));
            }
            let q = ArrayView1::from(x.row(i));
            let found = index
                .k_nearest(q, k)
                .map_err(|e| Error::learner("knn", e.to_string()))?;
            let mut acc = vec![0.0; width];
            let mut total = 0.0;
            for (point, j) in found {
                let w = if distance_weights {
                    let d: f64 = point
                        .iter()
                        .zip(q.iter())
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                        .sqrt();
                    1.0 / (d + 1e-9)
                } else {
                    1.0
                };
                if n_classes > 0 {
                    acc[y[j] as usize] += w;
                } else {
                    acc[0] += w * y[j];
                }
                total += w;
            }
            acc.iter_mut().for_each(|a| *a /= total.max(1e-300));
            Ok(acc)
        })
        .collect();
    let mut data = Vec::with_capacity(x.rows * width);
    for r in rows {
        data.extend(r?);
    }
    Ok(if n_classes > 0 {
        Prediction::Proba(Matrix {
            data,
            rows: x.rows,
            cols: width,
        })
    } else {
        Prediction::Values(data)
    })
}
