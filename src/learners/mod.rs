//! Learners: one fit/predict interface over linfa, smartcore and our own trees.
//!
//! Library per algorithm, chosen by measurement (see README "Learners"): linfa for logistic
//! regression, OLS, lasso/elastic net, Gaussian naive Bayes and the k-d tree under KNN;
//! smartcore for ridge (linfa has no fast ridge); our own binned CART for trees and forests
//! (neither library gives leaf probabilities).

pub mod gbdt;
pub mod tree;

use linfa::prelude::*;
use linfa_bayes::NaiveBayes;
use linfa_nn::distance::L2Dist;
use linfa_nn::{CommonNearestNeighbour, NearestNeighbour};
use ndarray::{Array1, Array2, ArrayView1};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::data::Task;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::space::Params;
use tree::{Criterion, Forest, Labels, TreeParams};

/// Names of all learners, in the order they are tried.
pub const LEARNERS: &[&str] = &[
    "logistic_regression",
    "linear_regression",
    "ridge",
    "lasso",
    "elastic_net",
    "decision_tree",
    "random_forest",
    "knn",
    "gaussian_nb",
    "gbdt",
];

/// Whether `learner` takes raw input ([`crate::prep::Encode::Native`]: missing values and
/// categories as they are) instead of a searched preprocessing recipe.
pub fn native_input(learner: &str) -> bool {
    learner == "gbdt"
}

/// Training targets for one fit.
#[derive(Debug, Clone, Copy)]
pub enum Y<'a> {
    /// Class index per row, with the total number of classes of the task.
    Classes(&'a [usize], usize),
    /// Real values.
    Values(&'a [f64]),
}

/// A learner's output for a batch of rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// Class probabilities, rows × classes (every class of the task, in schema order).
    Proba(Matrix),
    /// Real values.
    Values(Vec<f64>),
}

impl Prediction {
    /// This prediction, or an error naming `learner` when a value is NaN or infinite.
    pub fn checked(self, learner: &str) -> Result<Prediction> {
        let finite = match &self {
            Prediction::Proba(m) => m.data.iter().all(|v| v.is_finite()),
            Prediction::Values(v) => v.iter().all(|v| v.is_finite()),
        };
        if finite {
            Ok(self)
        } else {
            Err(Error::learner(
                learner,
                "the model produced non-finite predictions",
            ))
        }
    }
}

impl<'a> Y<'a> {
    /// The targets of a task with `n_classes` classes (unused for regression).
    pub fn of(target: &'a crate::data::Target, n_classes: usize) -> Y<'a> {
        match target {
            crate::data::Target::Classes(c) => Y::Classes(c, n_classes),
            crate::data::Target::Values(v) => Y::Values(v),
        }
    }
}

type Logistic = linfa_logistic::FittedLogisticRegression<f64, usize>;
type MultiLogistic = linfa_logistic::MultiFittedLogisticRegression<f64, usize>;
type Ols = smartcore::linear::linear_regression::LinearRegression<f64, f64, DenseMatrix<f64>, Vec<f64>>;
type Ridge = smartcore::linear::ridge_regression::RidgeRegression<f64, f64, DenseMatrix<f64>, Vec<f64>>;

/// A fitted learner, serialisable into the model file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
pub enum Fitted {
    /// Binary logistic regression.
    Logistic {
        /// The linfa model.
        model: Logistic,
        /// Number of classes of the task.
        n_classes: usize,
    },
    /// Multinomial logistic regression.
    MultiLogistic {
        /// The linfa model.
        model: MultiLogistic,
        /// Number of classes of the task.
        n_classes: usize,
    },
    /// A linear model kept as plain coefficients (OLS, ridge, lasso, elastic net).
    LinearCoef {
        /// Weight per feature.
        coef: Vec<f64>,
        /// Intercept.
        intercept: f64,
    },
    /// Tree or forest (classification when `n_classes > 0`).
    Forest {
        /// The trees.
        forest: Forest,
        /// Number of classes (0 for regression).
        n_classes: usize,
    },
    /// k nearest neighbours: the training rows themselves.
    Knn {
        /// Training features.
        x: Matrix,
        /// Training targets: class index or value per row.
        y: Vec<f64>,
        /// Neighbours consulted.
        k: usize,
        /// Weight neighbours by inverse distance.
        distance_weights: bool,
        /// Number of classes (0 for regression).
        n_classes: usize,
    },
    /// Histogram gradient-boosted trees.
    Gbdt {
        /// The boosted model.
        model: gbdt::GbdtModel,
    },
    /// Gaussian naive Bayes.
    GaussianNb {
        /// The linfa model.
        model: linfa_bayes::GaussianNb<f64, usize>,
        /// Number of classes of the task.
        n_classes: usize,
    },
}

fn labels_array(y: &[usize]) -> Array1<usize> {
    Array1::from(y.to_vec())
}

fn lerr(learner: &str) -> impl Fn(String) -> Error + '_ {
    move |m| Error::learner(learner, m)
}

/// A deterministic estimate of the work of one fit of `learner` with `params` on `n` rows, `d`
/// features and `k` classes (0 for regression), in units of about one nanosecond on a 2-core
/// machine (calibrated on the bundled datasets). The cost-frugal sampler compares learners with
/// it; it never depends on timing, so searches stay reproducible.
pub fn cost_estimate(learner: &str, params: &Params, n: usize, d: usize, k: usize) -> f64 {
    let (n, d, k) = (n.max(1) as f64, d.max(1) as f64, k.max(1) as f64);
    let depth = |default: i64| {
        let md = params.int_or("max_depth", default).unwrap_or(default).max(1) as f64;
        md.min(n.log2().max(1.0))
    };
    let units = match learner {
        "logistic_regression" => {
            let iters = params.int_or("max_iterations", 100).unwrap_or(100).max(1) as f64;
            iters * n * d * k * 3.0
        }
        "linear_regression" | "ridge" => n * d * d + d * d * d,
        "lasso" | "elastic_net" => 100.0 * n * d,
        "decision_tree" => 4.0 * n * d * depth(8) + 20.0 * n * d,
        "random_forest" => {
            let trees = params.int_or("n_trees", 100).unwrap_or(100).max(1) as f64;
            let frac = params.f64_or("max_features", 0.5).unwrap_or(0.5).clamp(0.05, 1.0);
            trees * (4.0 * n * d * frac * depth(32)) + 20.0 * n * d
        }
        "knn" => 2.0 * n * n.log2().max(1.0) * d * 8.0,
        "gaussian_nb" => 10.0 * n * d * k,
        "gbdt" => {
            // Per round: a histogram pass over the rows (halved by the subtraction trick) plus
            // the split search over bins, per class; binning is shared, so it is not charged.
            let p = gbdt::GbdtParams::from_params(params).unwrap_or_default();
            let rounds = p.n_estimators as f64;
            let leaves = p.num_leaves as f64;
            let cols = p.colsample_bytree.clamp(0.05, 1.0);
            let rows = p.subsample.clamp(0.05, 1.0);
            let classes = if k > 2.0 { k } else { 1.0 };
            rounds * classes * (1.5 * n * rows * d * cols * leaves.log2() + 256.0 * d * cols * leaves)
        }
        _ => n * d,
    };
    // Work every trial pays whatever the learner: preprocessing (impute, scale, encode), predicting
    // the validation rows and scoring them.
    let shared = 50.0 * n * d;
    (units + shared).max(1.0)
}

/// Fit `learner` with `params` on `x` / `y`. `categorical` marks the columns holding category
/// codes (only `gbdt` reads it; the others get encoded columns). `seed` drives any randomness.
pub fn fit(
    learner: &str,
    params: &Params,
    task: Task,
    x: &Matrix,
    categorical: &[bool],
    y: Y,
    seed: u64,
) -> Result<Fitted> {
    if x.rows == 0 {
        return Err(Error::learner(learner, "no training rows"));
    }
    let e = lerr(learner);
    match (learner, y) {
        ("logistic_regression", Y::Classes(c, k)) => {
            let alpha = params.f64_or("alpha", 1.0)?;
            let iters = params.int_or("max_iterations", 100)?.max(1) as u64;
            let ds = DatasetBase::new(x.view(), labels_array(c));
            if task == Task::Binary {
                let model = linfa_logistic::LogisticRegression::default()
                    .alpha(alpha)
                    .max_iterations(iters)
                    .fit(&ds)
                    .map_err(|err| e(err.to_string()))?;
                Ok(Fitted::Logistic { model, n_classes: k })
            } else {
                let model = linfa_logistic::MultiLogisticRegression::default()
                    .alpha(alpha)
                    .max_iterations(iters)
                    .fit(&ds)
                    .map_err(|err| e(err.to_string()))?;
                Ok(Fitted::MultiLogistic { model, n_classes: k })
            }
        }
        ("linear_regression", Y::Values(v)) => {
            // SVD least squares: one-hot columns that sum to the intercept make X rank-deficient, and
            // the SVD solve drops the null space (minimum-norm solution) where QR would blow up.
            let dm = dense(x).map_err(&e)?;
            let p = smartcore::linear::linear_regression::LinearRegressionParameters::default()
                .with_solver(smartcore::linear::linear_regression::LinearRegressionSolverName::SVD);
            let m = Ols::fit(&dm, &v.to_vec(), p).map_err(|err| e(err.to_string()))?;
            Ok(Fitted::LinearCoef {
                coef: (0..x.cols).map(|j| *m.coefficients().get((j, 0))).collect(),
                intercept: *m.intercept(),
            })
        }
        ("ridge", Y::Values(v)) => {
            let alpha = params.f64_or("alpha", 1.0)?;
            let dm =
                DenseMatrix::new(x.rows, x.cols, x.data.clone(), false).map_err(|err| e(err.to_string()))?;
            let p = smartcore::linear::ridge_regression::RidgeRegressionParameters::default()
                .with_alpha(alpha)
                .with_solver(smartcore::linear::ridge_regression::RidgeRegressionSolverName::Cholesky);
            let m = Ridge::fit(&dm, &v.to_vec(), p).map_err(|err| e(err.to_string()))?;
            let coef = (0..x.cols).map(|j| *m.coefficients().get((j, 0))).collect();
            Ok(Fitted::LinearCoef {
                coef,
                intercept: *m.intercept(),
            })
        }
        ("lasso" | "elastic_net", Y::Values(v)) => {
            let alpha = params.f64_or("alpha", 0.01)?;
            let l1 = if learner == "lasso" {
                1.0
            } else {
                params.f64_or("l1_ratio", 0.5)?
            };
            // linfa-elasticnet centres y but not X, so its intercept is only right for centred columns:
            // centre here and move the offset into the intercept.
            let (xc, means) = centered(x);
            let ds = DatasetBase::new(xc.view(), Array1::from(v.to_vec()));
            let m = linfa_elasticnet::ElasticNet::params()
                .penalty(alpha)
                .l1_ratio(l1)
                .max_iterations(1000)
                .tolerance(1e-4)
                .fit(&ds)
                .map_err(|err| e(err.to_string()))?;
            let coef: Vec<f64> = m.hyperplane().to_vec();
            let shift: f64 = coef.iter().zip(&means).map(|(w, mu)| w * mu).sum();
            Ok(Fitted::LinearCoef {
                coef,
                intercept: m.intercept() - shift,
            })
        }
        ("decision_tree" | "random_forest", y) => {
            let forest = learner == "random_forest";
            let criterion = match params.str_or("criterion", "gini")? {
                "gini" => Criterion::Gini,
                "entropy" => Criterion::Entropy,
                o => {
                    return Err(Error::Config(format!(
                        "criterion: unknown value '{o}' (gini, entropy)"
                    )))
                }
            };
            let frac = params.f64_or("max_features", if forest { 0.5 } else { 1.0 })?;
            if !(frac > 0.0 && frac <= 1.0) {
                return Err(Error::Config(format!(
                    "max_features must be in (0, 1], got {frac}"
                )));
            }
            let p = TreeParams {
                max_depth: params.int_or("max_depth", 32)?.max(1) as usize,
                min_samples_leaf: params.int_or("min_samples_leaf", 1)?.max(1) as usize,
                max_features: ((frac * x.cols as f64).round() as usize).max(1),
                criterion,
            };
            let n_trees = if forest {
                params.int_or("n_trees", 100)?.clamp(1, 5000) as usize
            } else {
                1
            };
            let (labels, n_classes) = match y {
                Y::Classes(c, k) => (Labels::Classes(c, k), k),
                Y::Values(v) => (Labels::Values(v), 0),
            };
            let forest = Forest::fit(x, labels, n_trees, forest, p, seed);
            if let Some(r) = crate::cancel::current().reason() {
                return Err(Error::learner(learner, format!("stopped while fitting ({r:?})")));
            }
            Ok(Fitted::Forest { forest, n_classes })
        }
        ("knn", y) => {
            let k = params.int_or("k", 5)?;
            if k < 1 {
                return Err(Error::Config(format!("k must be at least 1, got {k}")));
            }
            let distance_weights = match params.str_or("weights", "uniform")? {
                "uniform" => false,
                "distance" => true,
                o => {
                    return Err(Error::Config(format!(
                        "weights: unknown value '{o}' (uniform, distance)"
                    )))
                }
            };
            let (y, n_classes) = match y {
                Y::Classes(c, k) => (c.iter().map(|&c| c as f64).collect(), k),
                Y::Values(v) => (v.to_vec(), 0),
            };
            Ok(Fitted::Knn {
                x: x.clone(),
                y,
                k: k as usize,
                distance_weights,
                n_classes,
            })
        }
        ("gaussian_nb", Y::Classes(c, k)) => {
            let vs = params.f64_or("var_smoothing", 1e-9)?;
            let ds = DatasetBase::new(x.view(), labels_array(c));
            let model = linfa_bayes::GaussianNb::params()
                .var_smoothing(vs)
                .fit(&ds)
                .map_err(|err| e(err.to_string()))?;
            Ok(Fitted::GaussianNb { model, n_classes: k })
        }
        ("gbdt", y) => Ok(Fitted::Gbdt {
            model: gbdt::fit_matrix(params, x, categorical, y, seed)?,
        }),
        (l, _) if LEARNERS.contains(&l) => Err(Error::learner(
            l,
            format!("does not support {} tasks", task.name()),
        )),
        (l, _) => Err(Error::Config(format!(
            "unknown learner '{l}' (known: {})",
            LEARNERS.join(", ")
        ))),
    }
}

/// Copy into smartcore's matrix type (row-major, so no transpose).
fn dense(x: &Matrix) -> std::result::Result<DenseMatrix<f64>, String> {
    DenseMatrix::new(x.rows, x.cols, x.data.clone(), false).map_err(|e| e.to_string())
}

/// Columns shifted to mean zero, and the means.
fn centered(x: &Matrix) -> (Matrix, Vec<f64>) {
    let mut means = vec![0.0; x.cols];
    for i in 0..x.rows {
        for (m, v) in means.iter_mut().zip(x.row(i)) {
            *m += v;
        }
    }
    means.iter_mut().for_each(|m| *m /= x.rows.max(1) as f64);
    let mut c = x.clone();
    for i in 0..c.rows {
        for (v, m) in c.data[i * c.cols..(i + 1) * c.cols].iter_mut().zip(&means) {
            *v -= m;
        }
    }
    (c, means)
}

/// Spread a model's probability columns (over the classes it saw) onto all `k` task classes.
fn spread(probs: &Array2<f64>, seen: &[usize], k: usize) -> Matrix {
    let mut out = Matrix::zeros(probs.nrows(), k);
    for (i, row) in probs.rows().into_iter().enumerate() {
        for (j, &c) in seen.iter().enumerate() {
            if c < k {
                out.data[i * k + c] = row[j];
            }
        }
    }
    out
}

impl Fitted {
    /// Predict a batch of rows.
    pub fn predict(&self, x: &Matrix) -> Result<Prediction> {
        let view = x.view();
        Ok(match self {
            Fitted::Logistic { model, n_classes } => {
                let p = model.predict_probabilities(&view);
                let labels = model.labels();
                let (pos, neg) = (labels.pos.class, labels.neg.class);
                let mut out = Matrix::zeros(x.rows, *n_classes);
                for (i, &pp) in p.iter().enumerate() {
                    out.data[i * n_classes + pos] = pp;
                    out.data[i * n_classes + neg] = 1.0 - pp;
                }
                Prediction::Proba(out)
            }
            Fitted::MultiLogistic { model, n_classes } => {
                let p = model.predict_probabilities(&view);
                Prediction::Proba(spread(&p, model.classes(), *n_classes))
            }
            Fitted::LinearCoef { coef, intercept } => {
                if coef.len() != x.cols {
                    return Err(Error::learner("linear", "feature count differs from training"));
                }
                Prediction::Values(
                    (0..x.rows)
                        .map(|i| intercept + x.row(i).iter().zip(coef).map(|(a, b)| a * b).sum::<f64>())
                        .collect(),
                )
            }
            Fitted::Forest { forest, n_classes } => {
                let out = forest.predict(x);
                if *n_classes > 0 {
                    Prediction::Proba(Matrix {
                        data: out,
                        rows: x.rows,
                        cols: *n_classes,
                    })
                } else {
                    Prediction::Values(out)
                }
            }
            Fitted::Knn {
                x: train,
                y,
                k,
                distance_weights,
                n_classes,
            } => knn_predict(train, y, *k, *distance_weights, *n_classes, x)?,
            Fitted::Gbdt { model } => model.predict(x)?,
            Fitted::GaussianNb { model, n_classes } => {
                // Normalise the joint log-likelihoods with log-sum-exp ourselves: linfa-bayes'
                // predict_proba skips the max shift and turns far-out rows into inf/NaN.
                let jll = model.joint_log_likelihood(view);
                let mut seen: Vec<usize> = jll.keys().map(|c| **c).collect();
                seen.sort_unstable();
                let mut p = Array2::<f64>::zeros((x.rows, seen.len()));
                for i in 0..x.rows {
                    let row: Vec<f64> = seen
                        .iter()
                        .map(|c| jll.get(c).map_or(f64::NEG_INFINITY, |v| v[i]))
                        .collect();
                    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let z: f64 = row.iter().map(|l| (l - max).exp()).sum();
                    for (j, l) in row.iter().enumerate() {
                        p[(i, j)] = (l - max).exp() / z;
                    }
                }
                Prediction::Proba(spread(&p, &seen, *n_classes))
            }
        })
    }
}

fn knn_predict(
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
    let rows: Vec<Result<Vec<f64>>> = (0..x.rows)
        .into_par_iter()
        .map(|i| {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fit_predict(learner: &str, task: Task, x: &Matrix, y: Y, q: &Matrix) -> Prediction {
        fit(learner, &Params::default(), task, x, &vec![false; x.cols], y, 1)
            .unwrap()
            .predict(q)
            .unwrap()
    }

    #[test]
    fn linear_models_get_the_intercept_right_on_uncentred_columns() {
        // y = 100 + 5x with x in [10, 20], no scaling: the intercept must not be pinned to mean(y).
        let xs: Vec<f64> = (0..50).map(|i| 10.0 + i as f64 * 0.2).collect();
        let x = Matrix {
            data: xs.clone(),
            rows: 50,
            cols: 1,
        };
        let y: Vec<f64> = xs.iter().map(|v| 100.0 + 5.0 * v).collect();
        let q = Matrix {
            data: vec![12.0, 30.0],
            rows: 2,
            cols: 1,
        };
        for l in ["linear_regression", "ridge", "lasso", "elastic_net"] {
            let mut p = Params::default();
            p.set("alpha", crate::space::Value::Float(1e-4));
            let m = fit(l, &p, Task::Regression, &x, &[false], Y::Values(&y), 1).unwrap();
            let Prediction::Values(v) = m.predict(&q).unwrap() else {
                panic!("values")
            };
            assert!(
                (v[0] - 160.0).abs() < 0.5 && (v[1] - 250.0).abs() < 1.0,
                "{l}: {v:?}"
            );
        }
    }

    #[test]
    fn ols_survives_full_one_hot_columns() {
        // Two one-hot columns summing to the intercept column: rank-deficient design.
        let mut data = Vec::new();
        let mut y = Vec::new();
        for i in 0..40 {
            let a = (i % 2) as f64;
            data.extend([a, 1.0 - a, i as f64 / 10.0]);
            y.push(3.0 * a + i as f64 / 10.0);
        }
        let x = Matrix {
            data,
            rows: 40,
            cols: 3,
        };
        let q = Matrix {
            data: vec![0.0, 0.0, 1.0, 1.0, 0.0, 1.0],
            rows: 2,
            cols: 3,
        };
        let Prediction::Values(v) = fit_predict("linear_regression", Task::Regression, &x, Y::Values(&y), &q)
        else {
            panic!("values")
        };
        // An unseen category (all zeros) lands between the two known ones, not at a huge value.
        assert!(v[0].abs() < 10.0, "{v:?}");
        assert!((v[1] - 4.0).abs() < 1e-6, "{v:?}");
    }

    #[test]
    fn gaussian_nb_probabilities_stay_finite_far_from_the_data() {
        let x = Matrix {
            data: vec![0.0, 0.1, 0.2, 5.0, 5.1, 5.2],
            rows: 6,
            cols: 1,
        };
        let y = [0, 0, 0, 1, 1, 1];
        let q = Matrix {
            data: vec![1e6, 0.1],
            rows: 2,
            cols: 1,
        };
        let Prediction::Proba(p) = fit_predict("gaussian_nb", Task::Binary, &x, Y::Classes(&y, 2), &q) else {
            panic!("proba")
        };
        assert!(p.data.iter().all(|v| v.is_finite()), "{:?}", p.data);
        assert_eq!(p.get(0, 1), 1.0);
        assert!(p.get(1, 0) > 0.99);
    }

    #[test]
    fn classifiers_return_a_distribution_over_all_task_classes() {
        let x = Matrix {
            data: (0..60).map(|i| (i % 3) as f64 + (i as f64) * 0.001).collect(),
            rows: 60,
            cols: 1,
        };
        let y: Vec<usize> = (0..60).map(|i| i % 3).collect();
        for l in [
            "logistic_regression",
            "decision_tree",
            "random_forest",
            "knn",
            "gaussian_nb",
            "gbdt",
        ] {
            let Prediction::Proba(p) = fit_predict(l, Task::Multiclass, &x, Y::Classes(&y, 4), &x) else {
                panic!("proba")
            };
            assert_eq!(p.cols, 4, "{l}");
            for (i, &truth) in y.iter().enumerate() {
                let row = p.row(i);
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{l}: {row:?}");
                assert_eq!(crate::metrics::argmax(row), truth, "{l} row {i}: {row:?}");
            }
        }
    }
}
