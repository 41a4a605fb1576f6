//! Learners: one [`Learner`] per file, each with a checked parameter type whose defaults are the
//! `init` values of its search space (`search/<learner>.toml`, embedded), and one registry,
//! [`REGISTRY`], from which the learner list, the help text and the space catalogue are made.
//!
//! Library per algorithm, chosen by measurement (see README "Learners"): our own sparse solvers
//! for the linear models ([`linear`]: L-BFGS logistic regression, Gram + Cholesky OLS and ridge,
//! coordinate-descent lasso and elastic net); linfa for Gaussian naive Bayes and the k-d tree
//! under KNN; our own binned CART for trees and forests (neither library gives leaf
//! probabilities); hessboost for gradient boosting, leaf-wise (`gbdt`) and on symmetric trees
//! (`oblivious_gbdt`); candle for the network (`mlp`).
//!
//! Adding a learner: its file here (a unit struct implementing [`Learner`] and its parameter
//! type), its space file `search/<name>.toml`, a line in [`REGISTRY`], and a [`Fitted`] variant
//! when its model is of a new kind.

pub mod checked;
pub mod decision_tree;
pub mod elastic_net;
pub mod extra_trees;
pub mod gaussian_nb;
pub mod gbdt;
pub mod knn;
pub mod lasso;
pub mod linear;
pub mod linear_regression;
pub mod logistic_regression;
pub mod mlp;
pub mod oblivious_gbdt;
pub mod random_forest;
pub mod ridge;
pub mod tree;

use linfa_bayes::NaiveBayes;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::data::Task;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::param::Params;
use crate::prep::Encoded;
use tree::Forest;

/// A learning algorithm: how to fit it, what a fit costs, and where it searches.
pub trait Learner: Sync {
    /// Name, as in `--learners` and search spaces.
    fn name(&self) -> &'static str;
    /// Its search space: the text of `search/<name>.toml` (embedded at build time), whose `init`
    /// values are the learner's defaults.
    fn space(&self) -> &'static str;
    /// Whether it takes raw input ([`crate::prep::Encode::Native`]: missing values and
    /// categories as they are) instead of a searched preprocessing recipe.
    fn native_input(&self) -> bool {
        false
    }
    /// Whether its trials run on a GPU slot when the run has a free one ([`crate::device`]).
    fn gpu(&self) -> bool {
        false
    }
    /// Whether a run searches it without being asked: false for learners that measured no
    /// better on the suite as default members, which run only when `--learners` (or a search
    /// space file's `learners`) names them.
    fn by_default(&self) -> bool {
        true
    }
    /// Check `params` (absent ones take their defaults); an error names the parameter.
    fn check(&self, params: &Params) -> Result<()>;
    /// Fit on `x` / `y`. `categorical` marks the columns holding category codes (only native-input
    /// learners read it). `seed` drives any randomness. The learner owns `x`: one that keeps its
    /// own form of the rows (bins, f32 inputs) frees the encoded matrix before it trains.
    fn fit(
        &self,
        params: &Params,
        task: Task,
        x: Matrix,
        categorical: &[bool],
        y: Y,
        seed: u64,
    ) -> Result<Fitted>;
    /// Fit on a pipeline's encoded training rows (`x`), read as the learner needs them. By
    /// default the whole matrix ([`Learner::fit`]); the tree learners bin them a block at a
    /// time instead, so the encoded table is never held whole.
    fn fit_encoded(
        &self,
        params: &Params,
        task: Task,
        x: &Encoded,
        categorical: &[bool],
        y: Y,
        seed: u64,
    ) -> Result<Fitted> {
        self.fit(params, task, x.matrix()?, categorical, y, seed)
    }
    /// A deterministic estimate of the work of one fit (and of predicting the validation rows)
    /// on data of shape `s`, in units of about one nanosecond on one core (calibrated by
    /// `cargo bench --bench cost_calibration` on every suite set: within 3× of the measured
    /// time at the default configuration). Never depends on timing, so searches stay
    /// reproducible.
    fn cost(&self, params: &Params, s: &Shape) -> f64;
}

/// Every learner, in the order they are tried: the learners that usually win on tables first
/// (boosting, then the forests), so every run has their result within its first seconds, then
/// the linear models and the rest.
pub static REGISTRY: &[&dyn Learner] = &[
    &gbdt::Gbdt,
    &random_forest::RandomForest,
    &extra_trees::ExtraTrees,
    &logistic_regression::LogisticRegression,
    &linear_regression::LinearRegression,
    &ridge::Ridge,
    &lasso::Lasso,
    &elastic_net::ElasticNet,
    &knn::Knn,
    &gaussian_nb::GaussianNb,
    &decision_tree::DecisionTree,
    &mlp::Mlp,
    &oblivious_gbdt::ObliviousGbdt,
];

/// Names of all learners, in the order they are tried.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|l| l.name()).collect()
}

/// The learner called `name`; an error lists the known ones.
pub fn get(name: &str) -> Result<&'static dyn Learner> {
    REGISTRY
        .iter()
        .copied()
        .find(|l| l.name() == name)
        .ok_or_else(|| {
            Error::Config(format!(
                "unknown learner '{name}' (known: {})",
                names().join(", ")
            ))
        })
}

/// Whether `learner` takes raw input (see [`Learner::native_input`]); false for unknown names.
pub fn native_input(learner: &str) -> bool {
    get(learner).is_ok_and(|l| l.native_input())
}

/// Whether a run searches `learner` when no learner list is given (see
/// [`Learner::by_default`]); false for unknown names.
pub fn by_default(learner: &str) -> bool {
    get(learner).is_ok_and(|l| l.by_default())
}

/// The learner list for `--help`: every learner, those searched only on request marked so.
pub fn described() -> String {
    REGISTRY
        .iter()
        .map(|l| {
            if l.by_default() {
                l.name().to_string()
            } else {
                format!("{} (only when named)", l.name())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `learner` runs on GPU slots (see [`Learner::gpu`]); false for unknown names.
pub fn gpu_suited(learner: &str) -> bool {
    get(learner).is_ok_and(|l| l.gpu())
}

/// What the cost of a fit depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Training rows.
    pub n: f64,
    /// Columns the learner sees (one-hot columns counted one by one).
    pub d: f64,
    /// Columns before encoding: about the non-zeros of a one-hot encoded row.
    pub raw: f64,
    /// Numeric columns: one encoded column each, usually of many distinct values (trees sort
    /// their small nodes' rows by them instead of filling histograms; see `tree::sorted`).
    pub numeric: f64,
    /// Category levels over all categorical columns (native input splits on them).
    pub levels: f64,
    /// Columns of the network's input encoding: one per number, one ±1 column per two-level
    /// category, at most [`mlp::encode::MAX_ONE_HOT`] one-hot columns per other category.
    pub inputs: f64,
    /// Classes (1 for regression).
    pub k: f64,
    /// Validation rows predicted per fit: a quarter of the training rows under 5-fold
    /// cross-validation or a 20 % holdout, but many more when a large-data trial fits on a
    /// sample of its fold's rows (the validation rows are not sampled).
    pub valid: f64,
}

impl Shape {
    /// Whether the task is a regression (one output).
    pub fn regression(&self) -> bool {
        self.k < 2.0
    }
}

/// A deterministic estimate of the work of one fit of `learner` with `params` on data of shape
/// `s`, in units of about one nanosecond: the learner's own [`Learner::cost`] plus the work every
/// trial pays whatever the learner (encoding the rows, predicting and scoring the validation
/// rows, a fixed overhead).
pub fn cost_estimate(learner: &str, params: &Params, s: &Shape) -> f64 {
    let s = Shape {
        n: s.n.max(1.0),
        d: s.d.max(1.0),
        raw: s.raw.max(1.0),
        numeric: s.numeric.clamp(0.0, s.d.max(1.0)),
        levels: s.levels.max(0.0),
        inputs: s.inputs.max(1.0),
        k: s.k.max(1.0),
        valid: s.valid.max(1.0),
    };
    let units = get(learner).map_or(s.n * s.d, |l| l.cost(params, &s));
    let shared = 8.0 * s.n * s.d + 1e5;
    (units + shared).max(1.0)
}

/// Fit `learner` with `params` on `x` / `y` (see [`Learner::fit`]).
pub fn fit(
    learner: &str,
    params: &Params,
    task: Task,
    x: Matrix,
    categorical: &[bool],
    y: Y,
    seed: u64,
) -> Result<Fitted> {
    with_rows(learner, x.rows)?.fit(params, task, x, categorical, y, seed)
}

/// Fit learner `learner` on a pipeline's encoded training rows ([`Learner::fit_encoded`]).
pub fn fit_encoded(
    learner: &str,
    params: &Params,
    task: Task,
    x: &Encoded,
    categorical: &[bool],
    y: Y,
    seed: u64,
) -> Result<Fitted> {
    with_rows(learner, x.rows())?.fit_encoded(params, task, x, categorical, y, seed)
}

/// Learner `learner`, when there are training rows to fit it on.
fn with_rows(learner: &str, rows: usize) -> Result<&'static dyn Learner> {
    let l = get(learner)?;
    if rows == 0 {
        return Err(Error::learner(learner, "no training rows"));
    }
    Ok(l)
}

/// Name of the learner parameter weighting classes (`none` or `balanced`); the search offers it
/// only when the classes are imbalanced.
pub const CLASS_WEIGHT: &str = "class_weight";

/// Whether a learner's checked parameters ask for balanced class weights.
fn balanced(c: &checked::Checked) -> Result<bool> {
    Ok(c.choice(CLASS_WEIGHT, &["none", "balanced"])? == "balanced")
}

/// Balanced class weights (scikit-learn's `class_weight="balanced"`): `n / (k · n_c)` for class
/// `c` with `n_c` of the `n` rows; a class without rows gets weight 1.
pub fn balanced_weights(y: &[usize], k: usize) -> Vec<f64> {
    let mut counts = vec![0.0; k];
    for &c in y {
        if let Some(n) = counts.get_mut(c) {
            *n += 1.0;
        }
    }
    let n = y.len() as f64;
    counts
        .iter()
        .map(|&nc| if nc > 0.0 { n / (k as f64 * nc) } else { 1.0 })
        .collect()
}

/// Mean and (population) standard deviation of the finite values, 0 and 1 when degenerate: how
/// gbdt and mlp scale regression targets.
pub(crate) fn standardisation(v: &[f64]) -> (f64, f64) {
    let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if finite.is_empty() {
        return (0.0, 1.0);
    }
    let n = finite.len() as f64;
    let mean = finite.iter().map(|x| x / n).sum::<f64>();
    let var = finite.iter().map(|x| (x - mean) * (x - mean) / n).sum::<f64>();
    let sd = var.sqrt();
    if mean.is_finite() && sd.is_finite() && sd > 0.0 {
        (mean, sd)
    } else if mean.is_finite() {
        (mean, 1.0)
    } else {
        (0.0, 1.0)
    }
}

/// The error of a learner asked for a task it does not do.
fn unsupported(learner: &str, task: Task) -> Error {
    Error::learner(learner, format!("does not support {} tasks", task.name()))
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
    /// Number of rows predicted.
    pub fn rows(&self) -> usize {
        match self {
            Prediction::Proba(m) => m.rows,
            Prediction::Values(v) => v.len(),
        }
    }

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
    /// k nearest neighbours: the training rows themselves in f64 (model files written before
    /// [`Fitted::Neighbours`]; still loaded and used).
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
    /// Logistic regression as plain weights ([`linear::logistic`]): one row for class 1 of a
    /// binary task, else one row per class (softmax).
    LogisticCoef {
        /// Weights, rows × features, row-major.
        coef: Vec<f64>,
        /// Intercept per row.
        intercept: Vec<f64>,
        /// Number of classes of the task.
        n_classes: usize,
    },
    /// A tabular neural network ([`mlp`]), weights as plain numbers.
    Mlp {
        /// The network and its input encoding.
        model: mlp::MlpModel,
    },
    /// k nearest neighbours: the training rows in f32 (half the size of [`Fitted::Knn`]).
    Neighbours {
        /// The training rows.
        x: knn::Rows,
        /// Training targets: class index or value per row.
        y: Vec<f64>,
        /// Neighbours consulted.
        k: usize,
        /// Weight neighbours by inverse distance.
        distance_weights: bool,
        /// Number of classes (0 for regression).
        n_classes: usize,
        /// Search by brute force rather than a k-d tree (chosen when fitting: where the tree's
        /// queries would visit most rows).
        brute: bool,
    },
}

fn labels_array(y: &[usize]) -> Array1<usize> {
    Array1::from(y.to_vec())
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
            } => knn::predict(knn::Train::F64(train), y, *k, *distance_weights, *n_classes, x)?,
            Fitted::Neighbours {
                x: train,
                y,
                k,
                distance_weights,
                n_classes,
                brute,
            } => knn::predict(
                knn::Train::F32 {
                    rows: train,
                    brute: *brute,
                },
                y,
                *k,
                *distance_weights,
                *n_classes,
                x,
            )?,
            Fitted::Gbdt { model } => model.predict(x)?,
            Fitted::Mlp { model } => model.predict(x)?,
            Fitted::LogisticCoef {
                coef,
                intercept,
                n_classes,
            } => {
                let m = intercept.len().max(1);
                if coef.len() != m * x.cols {
                    return Err(Error::learner(
                        "logistic_regression",
                        "feature count differs from training",
                    ));
                }
                let k = *n_classes;
                let mut out = Matrix::zeros(x.rows, k);
                let mut z = vec![0.0; m];
                for i in 0..x.rows {
                    let row = x.row(i);
                    for (c, zc) in z.iter_mut().enumerate() {
                        *zc = intercept[c]
                            + row
                                .iter()
                                .zip(&coef[c * x.cols..(c + 1) * x.cols])
                                .map(|(a, b)| a * b)
                                .sum::<f64>();
                    }
                    let o = &mut out.data[i * k..(i + 1) * k];
                    if m == 1 && k >= 2 {
                        let p = 1.0 / (1.0 + (-z[0]).exp());
                        o[1] = p;
                        o[0] = 1.0 - p;
                    } else {
                        let zmax = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        let sum: f64 = z.iter().map(|v| (v - zmax).exp()).sum();
                        for (oc, zc) in o.iter_mut().zip(&z) {
                            *oc = (zc - zmax).exp() / sum;
                        }
                    }
                }
                Prediction::Proba(out)
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fit_predict(learner: &str, task: Task, x: &Matrix, y: Y, q: &Matrix) -> Prediction {
        fit(
            learner,
            &Params::default(),
            task,
            x.clone(),
            &vec![false; x.cols],
            y,
            1,
        )
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
            p.set("alpha", crate::param::Value::Float(1e-4));
            let m = fit(l, &p, Task::Regression, x.clone(), &[false], Y::Values(&y), 1).unwrap();
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
            "oblivious_gbdt",
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
