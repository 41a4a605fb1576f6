//! Histogram gradient-boosted trees (learner `gbdt`), trained by the hessboost crate.
//!
//! What hessboost gives us: quantile binning (`max_bin` ≤ 255, one shared index per dataset),
//! a missing-value bin with a learned default direction, native categorical splits (one-vs-rest up
//! to 4 categories, gradient-sorted partitions above, capped at 64), leaf-wise growth, L1/L2,
//! `min_split_gain`, bagging and column sampling, the objectives, early stopping, a per-round
//! hook, exact continuation, batch prediction and importances.
//!
//! What is ours: the parameter names and checks (LightGBM's), the shared [`GbdtData`] and its
//! fold views, `min_child_samples` (a row count per child: a hessian sum under squared error, else
//! hessboost's split groups with one group per row, which is exact but measured 2–6× slower, so
//! the search space tunes `min_child_weight` instead), the internal early-stopping split, cooperative cancellation and the
//! per-round [`Round`] callback, and the thread policy: training runs on the caller's rayon pool.
//! A sweep runs every trial inside one pool of `--jobs` threads, so parallel trials share those
//! threads by work stealing (no oversubscription) and a trial left alone, or the final refit, gets
//! them all. Measured against one private thread per trial (`threads: Some(1)`, a pool per
//! training): the shared pool ran 11 % more trials on telco_churn (324 vs 292 in 20 s) and 19 %
//! more on titanic (1233 vs 1033 in 15 s), 2 jobs. A single training on small data is another
//! matter: telco_churn alone trains 11 % faster on 1 thread than on 2.

use std::fmt;
use std::num::NonZeroUsize;
use std::ops::ControlFlow;

use hessboost::config::{GrowPolicy, LeafEstimation, TrainingParamsBuilder, MAX_SYMMETRIC_DEPTH};
use hessboost::data::ViewCuts;
use hessboost::objective::{Multiclass, PseudoHuber};
use hessboost::prelude::*;
use hessboost::training::RoundEval;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::data::Task;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::param::Params;

use super::checked::Checked;
use super::{Fitted, Learner, Shape, Y};

mod data;
mod model;

pub use data::GbdtData;
pub use model::{GbdtModel, Importance, Kind};

const NAME: &str = "gbdt";

/// The learner `gbdt`.
pub struct Gbdt;

impl Learner for Gbdt {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/gbdt.toml")
    }

    fn native_input(&self) -> bool {
        true
    }

    fn check(&self, params: &Params) -> Result<()> {
        GbdtParams::from_params(params).map(drop)
    }

    fn fit(
        &self,
        params: &Params,
        _: Task,
        x: Matrix,
        categorical: &[bool],
        y: Y,
        seed: u64,
    ) -> Result<Fitted> {
        Ok(Fitted::Gbdt {
            model: fit_matrix(params, x, categorical, y, seed)?,
        })
    }

    fn cost(&self, params: &Params, s: &Shape) -> f64 {
        // Per round and output: gradients and the score update over the rows, histogram passes
        // over rows × features (about log2(leaves) per row with the subtraction trick), and the
        // split search over 256 bins per feature plus the category levels per leaf (regression
        // trees grow all their leaves, classification ones often stop early: ×3.5). Multiclass
        // trees are smaller (one class against the rest): k^0.75 outputs. Constants fitted on the
        // suite's sets (`cargo bench --bench cost_calibration`).
        let p = GbdtParams::from_params(params).unwrap_or_else(|_| GbdtParams::lightgbm());
        let rounds = p.n_estimators as f64;
        let rows = p.subsample.clamp(0.05, 1.0);
        // Leaves need rows (and hessian: a classification row weighs at most 1/4): at most about
        // one leaf per 2 rows of regression, per 8 of classification, per min_child_samples.
        let hessian = if s.regression() { 1.0 } else { 0.25 };
        let leaves = (p.num_leaves as f64)
            .min(s.n * rows * hessian / 2.0)
            .min(s.n * rows / p.min_child_samples.max(1) as f64)
            .max(2.0);
        let cols = p.colsample_bytree.clamp(0.05, 1.0);
        let grow = if s.regression() { 3.5 } else { 1.0 };
        let outputs = if s.k > 2.0 { s.k.powf(0.75) } else { 1.0 };
        let per_round = 10.0 * s.n * rows
            + leaves.log2() * s.n * rows * s.raw * cols
            + 2.0 * grow * leaves * (256.0 * s.raw * cols + 20.0 * s.levels);
        // Per fit: binning every feature and setting up the booster, what a few-round fit (the
        // search's cheap first point) mostly costs.
        let setup = 4e5 + 8e4 * s.raw;
        rounds * outputs * per_round + setup
    }
}

fn err(e: impl fmt::Display) -> Error {
    Error::learner("gbdt", e.to_string())
}

/// The loss a regression model minimises.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum RegressionLoss {
    /// Squared error.
    L2,
    /// Absolute error, with each leaf set to the median residual of its rows.
    L1,
    /// Pseudo-Huber loss with slope `delta` (hessboost has no exact Huber).
    Huber(f64),
}

/// Checked training parameters, named as in LightGBM.
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtParams {
    /// Boosting rounds (trees per class).
    pub n_estimators: usize,
    /// Most leaves per tree (leaf-wise growth).
    pub num_leaves: usize,
    /// Deepest level a leaf may sit at; 0 means no limit.
    pub max_depth: usize,
    /// Shrinkage per round.
    pub learning_rate: f64,
    /// Fewest training rows in a child (1 = no limit).
    pub min_child_samples: usize,
    /// Smallest hessian sum in a child.
    pub min_child_weight: f64,
    /// L1 regularisation of leaf values.
    pub reg_alpha: f64,
    /// L2 regularisation of leaf values.
    pub reg_lambda: f64,
    /// Smallest loss reduction a split must bring.
    pub min_split_gain: f64,
    /// Fraction of rows drawn per round (1 = no bagging).
    pub subsample: f64,
    /// Fraction of columns drawn per tree.
    pub colsample_bytree: f64,
    /// Bins per numeric feature (2..=255).
    pub max_bin: usize,
    /// Regression loss (ignored for classification).
    pub loss: RegressionLoss,
    /// Stop after this many rounds without improvement on an internal validation split (0 = off).
    pub early_stopping_rounds: usize,
    /// Threads for one training: `None` runs on the caller's rayon pool (all its threads).
    pub threads: Option<usize>,
    /// Weight each training row by its class's balanced weight (`class_weight = "balanced"`).
    pub balanced: bool,
    /// Grow symmetric (oblivious) trees, CatBoost's kind: one shared split per level, `max_depth`
    /// levels (1 to 16), `num_leaves` unused and numeric columns only.
    pub symmetric: bool,
}

impl Default for GbdtParams {
    /// The learner's defaults: the `init` values of `search/gbdt.toml` (LightGBM's values for
    /// the parameters it does not search).
    fn default() -> Self {
        GbdtParams::from_params(&Params::default()).unwrap_or_else(|_| GbdtParams::lightgbm())
    }
}

impl GbdtParams {
    /// LightGBM's defaults (100 rounds, 31 leaves, learning rate 0.1, `min_sum_hessian` 1e-3, no
    /// regularisation, 255 bins, no bagging, no row-count limit): the reference the benchmark and
    /// tests compare with LightGBM under. The learner's own defaults are its space's `init`
    /// values ([`GbdtParams::from_params`] of no parameters).
    pub fn lightgbm() -> GbdtParams {
        GbdtParams {
            n_estimators: 100,
            num_leaves: 31,
            max_depth: 0,
            learning_rate: 0.1,
            min_child_samples: 1,
            min_child_weight: 1e-3,
            reg_alpha: 0.0,
            reg_lambda: 0.0,
            min_split_gain: 0.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            max_bin: 255,
            loss: RegressionLoss::L2,
            early_stopping_rounds: 0,
            threads: None,
            balanced: false,
            symmetric: false,
        }
    }

    /// Read and check sampled parameters. Absent searched ones take the `init` values of
    /// `search/gbdt.toml`; parameters the space does not search (`max_depth`,
    /// `min_child_samples`, `min_split_gain`, `subsample`, `max_bin`, `objective`,
    /// `early_stopping_rounds`) default to LightGBM's values.
    pub fn from_params(p: &Params) -> Result<GbdtParams> {
        let c = Checked::new(NAME, p);
        let d = GbdtParams::lightgbm();
        let count = |name: &str, default: usize, low: usize, high: usize| -> Result<usize> {
            if c.has(name) {
                c.count(name, low, high)
            } else {
                Ok(default)
            }
        };
        let real = |name: &str, default: f64, low: f64, high: f64, open_low: bool| -> Result<f64> {
            match (c.has(name), open_low) {
                (false, _) => Ok(default),
                (true, true) => c.real_above(name, low, high),
                (true, false) => c.real(name, low, high),
            }
        };
        let loss = match c.has("objective") {
            false => RegressionLoss::L2,
            true => match c.choice("objective", &["l2", "regression", "l1", "huber"])? {
                "l1" => RegressionLoss::L1,
                "huber" => RegressionLoss::Huber(real("huber_delta", 1.0, 0.0, f64::MAX, true)?),
                _ => RegressionLoss::L2,
            },
        };
        let max_depth = if c.has("max_depth") {
            c.int("max_depth", i64::MIN, i64::MAX)?
        } else {
            0
        };
        Ok(GbdtParams {
            n_estimators: c.count("n_estimators", 1, 100_000)?,
            num_leaves: c.count("num_leaves", 2, 131_072)?,
            max_depth: if max_depth <= 0 {
                0
            } else {
                max_depth.min(64) as usize
            },
            learning_rate: c.real_above("learning_rate", 0.0, 1.0)?,
            min_child_samples: count("min_child_samples", d.min_child_samples, 1, 1 << 30)?,
            min_child_weight: c.real("min_child_weight", 0.0, 1e9)?,
            reg_alpha: c.real("reg_alpha", 0.0, 1e9)?,
            reg_lambda: c.real("reg_lambda", 0.0, 1e9)?,
            min_split_gain: real("min_split_gain", d.min_split_gain, 0.0, 1e9, false)?,
            subsample: real("subsample", d.subsample, 0.0, 1.0, true)?,
            colsample_bytree: c.real_above("colsample_bytree", 0.0, 1.0)?,
            max_bin: count("max_bin", d.max_bin, 2, 255)?,
            loss,
            early_stopping_rounds: count("early_stopping_rounds", 0, 0, 100_000)?,
            threads: None,
            balanced: super::balanced(&c)?,
            symmetric: false,
        })
    }

    fn builder(&self, kind: Kind, seed: u64) -> Result<TrainingParamsBuilder> {
        let mut b = TrainingParams::builder()
            .tree_method(TreeMethod::Hist)
            .eta(self.learning_rate)
            .min_child_weight(self.min_child_weight)
            .lambda(self.reg_lambda)
            .alpha(self.reg_alpha)
            .gamma(self.min_split_gain)
            .subsample(self.subsample)
            .colsample_bytree(self.colsample_bytree)
            // hessboost counts the missing-value bin apart; 255 value bins + missing fit a u8.
            .max_bin(self.max_bin)
            .seed(seed);
        if let Some(n) = self.threads {
            b = b.nthread(n.max(1));
        }
        b = if self.symmetric {
            b.grow_policy(GrowPolicy::Symmetric)
                .max_depth(self.max_depth.clamp(1, MAX_SYMMETRIC_DEPTH))
        } else {
            let b = b.grow_policy(GrowPolicy::LossGuide).max_leaves(self.num_leaves);
            if self.max_depth == 0 {
                b.unlimited_depth()
            } else {
                b.max_depth(self.max_depth)
            }
        };
        match kind {
            // Squared error has a hessian of 1 per row: a row count is a hessian sum, for free.
            Kind::Regression(RegressionLoss::L2) => {
                b = b.min_child_weight(self.min_child_weight.max(self.min_child_samples as f64));
            }
            _ if self.min_child_samples > 1 => b = b.min_child_groups(self.min_child_samples),
            _ => {}
        }
        b = match kind {
            Kind::Binary => b
                .objective(Objective::BinaryLogistic(RegLoss::default()))
                .eval_metric(EvalMetric::LogLoss),
            Kind::Multiclass(k) => b
                .objective(Objective::Softprob(Multiclass::new(k).map_err(err)?))
                .eval_metric(EvalMetric::MLogLoss),
            Kind::Regression(RegressionLoss::L2) => b
                .objective(Objective::SquaredError(RegLoss::default()))
                .eval_metric(EvalMetric::Rmse),
            Kind::Regression(RegressionLoss::L1) => b
                .objective(Objective::AbsoluteError)
                .leaf_estimation(LeafEstimation::Exact)
                .eval_metric(EvalMetric::Mae),
            Kind::Regression(RegressionLoss::Huber(delta)) => {
                let h = PseudoHuber::new(delta).map_err(err)?;
                b.objective(Objective::PseudoHuber(h))
                    .eval_metric(EvalMetric::Mphe(h))
            }
        };
        Ok(b)
    }
}

/// One boosting round, as the per-round callback sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Round {
    /// Rounds trained so far (1-based; counts earlier rounds of a continued model).
    pub round: usize,
    /// The validation loss after this round (log loss, multiclass log loss, RMSE, MAE or
    /// pseudo-Huber), when there is a validation set.
    pub valid_loss: Option<f64>,
}

/// What to train on: the rows, their targets, and an optional validation set.
#[derive(Debug, Clone, Copy)]
pub struct Fit<'a> {
    /// Training rows.
    pub data: &'a GbdtData,
    /// Training targets.
    pub y: Y<'a>,
    /// Validation rows and targets: per-round losses and early stopping.
    pub valid: Option<(&'a GbdtData, Y<'a>)>,
}

/// Train on `fit`, calling `on_round` after every round; it returns `false` to stop. Training also
/// stops between rounds when the current trial's token fires (deadline or cancel), with an error.
pub fn train(
    params: &GbdtParams,
    fit: Fit,
    seed: u64,
    on_round: &mut (dyn FnMut(Round) -> bool + Send),
) -> Result<GbdtModel> {
    train_from(params, fit, seed, None, on_round)
}

fn train_from(
    params: &GbdtParams,
    fit: Fit,
    seed: u64,
    init: Option<&GbdtModel>,
    on_round: &mut (dyn FnMut(Round) -> bool + Send),
) -> Result<GbdtModel> {
    if matches!(fit.y, Y::Classes(..)) && params.loss != RegressionLoss::L2 {
        let name = match params.loss {
            RegressionLoss::L1 => "l1",
            _ => "huber",
        };
        return Err(Error::param(
            "objective",
            format!("{name} is a regression loss; classification always minimises log loss (leave objective at l2)"),
        ));
    }
    let kind = Kind::of(&fit.y, params.loss);
    if let Some(m) = init {
        if m.kind != kind {
            return Err(err(format!("cannot continue a {:?} model as {kind:?}", m.kind)));
        }
    }
    // Standardise real targets (a continued model keeps its scaling).
    let (shift, scale) = match (init, &fit.y) {
        (Some(m), _) => (m.shift, m.scale),
        (None, Y::Values(v)) => super::standardisation(v),
        (None, Y::Classes(..)) => (0.0, 1.0),
    };
    // hessboost sees standardised targets: the Huber slope is in those units too.
    let boosted = match kind {
        Kind::Regression(RegressionLoss::Huber(d)) => Kind::Regression(RegressionLoss::Huber(d / scale)),
        k => k,
    };
    let tp = params.builder(boosted, seed)?.build().map_err(err)?;
    // Losses back in target units: RMSE and MAE scale with the target, pseudo-Huber with its square.
    let unit = match kind {
        Kind::Regression(RegressionLoss::Huber(_)) => scale * scale,
        Kind::Regression(_) => scale,
        _ => 1.0,
    };
    let mut dtrain = fit.data.labelled(&fit.y, shift, scale)?;
    if let (true, Y::Classes(c, k)) = (params.balanced, fit.y) {
        let w = super::balanced_weights(c, k);
        let rows: Vec<f32> = c.iter().map(|&x| w[x] as f32).collect();
        dtrain = dtrain.with_weights(&rows).map_err(err)?;
    }
    if params.min_child_samples > 1 && kind != Kind::Regression(RegressionLoss::L2) {
        let groups: Vec<u64> = (0..dtrain.n_rows() as u64).collect();
        dtrain = dtrain.with_split_groups(&groups).map_err(err)?;
    }
    // The internal early-stopping split: a seeded tenth of the training rows.
    let (dtrain, inner_valid) = match (params.early_stopping_rounds, fit.valid) {
        (0, _) | (_, Some(_)) => (dtrain, None),
        _ => {
            let n = dtrain.n_rows();
            if n < 20 {
                (dtrain, None)
            } else {
                let mut idx: Vec<usize> = (0..n).collect();
                idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9));
                let cut = n / 10;
                let (va, tr) = idx.split_at(cut);
                let (mut va, mut tr) = (va.to_vec(), tr.to_vec());
                va.sort_unstable();
                tr.sort_unstable();
                let t = dtrain.select_rows_with_cuts(&tr, ViewCuts::Source).map_err(err)?;
                let v = dtrain.select_rows(&va).map_err(err)?;
                (t, Some(v))
            }
        }
    };
    let dvalid = match fit.valid {
        Some((v, y)) => Some(v.labelled(&y, shift, scale)?),
        None => inner_valid,
    };
    let token = crate::cancel::current();
    let mut stopped = None;
    let base = init.map_or(0, GbdtModel::rounds);
    let mut trainer = Trainer::new(&tp, &dtrain, params.n_estimators);
    if let Some(v) = &dvalid {
        trainer = trainer.eval(v, "valid");
        if let Some(n) = NonZeroUsize::new(params.early_stopping_rounds) {
            trainer = trainer.early_stopping_rounds(n);
        }
    }
    if let Some(m) = init {
        trainer = trainer.init_model(&m.model);
    }
    let hook = |r: RoundEval<'_>| {
        if let Some(why) = token.reason() {
            stopped = Some(why);
            return ControlFlow::Break(());
        }
        let round = Round {
            round: base.max(r.iteration()) + 1,
            valid_loss: r.values().last().map(|v| v * unit),
        };
        if on_round(round) {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    };
    let result = trainer.on_round(hook).train().map_err(err)?;
    if let Some(why) = stopped {
        return Err(err(format!("stopped while boosting ({why:?})")));
    }
    let mut model = result.model;
    // Keep only the rounds up to the best one, so the model file holds what it predicts with.
    if let Some(best) = model.best_iteration() {
        if best + 1 < model.num_boost_rounds() {
            model = model.slice(..best + 1, 1).map_err(err)?;
        }
    }
    Ok(GbdtModel {
        model,
        kind,
        shift,
        scale,
    })
}

/// Train on a dense matrix (the pipeline's path): `categorical` marks category-code columns.
pub fn fit_matrix(params: &Params, x: Matrix, categorical: &[bool], y: Y, seed: u64) -> Result<GbdtModel> {
    let p = GbdtParams::from_params(params)?;
    let data = GbdtData::new(&x, categorical)?;
    drop(x);
    train(
        &p,
        Fit {
            data: &data,
            y,
            valid: None,
        },
        seed,
        &mut |_| true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, Table, Target};
    use crate::learners::Prediction;
    use crate::metrics::{roc_auc, Metric};
    use crate::param::Value;
    use crate::prep::PrepConfig;
    use rand::Rng;
    use std::path::Path;

    /// LightGBM's defaults: 100 rounds, 31 leaves, learning rate 0.1, 20 rows per leaf.
    fn lgb_defaults() -> GbdtParams {
        GbdtParams {
            min_child_samples: 20,
            ..GbdtParams::lightgbm()
        }
    }

    fn fit(p: &GbdtParams, data: &GbdtData, y: Y, seed: u64) -> GbdtModel {
        train(p, Fit { data, y, valid: None }, seed, &mut |_| true).unwrap()
    }

    fn proba1(p: &Prediction) -> Vec<f64> {
        let Prediction::Proba(m) = p else { panic!("proba") };
        (0..m.rows).map(|i| m.get(i, 1)).collect()
    }

    /// Train with LightGBM's defaults on `dir/train.csv`, score `dir/test.csv` with the reference
    /// metric (binary: AUC of `positive`; regression: R²).
    fn test_score(dir: &Path, target: &str, positive: Option<&str>) -> f64 {
        let train_set = Dataset::from_path(&dir.join("train.csv"), target, None).unwrap();
        let test = Table::read(&dir.join("test.csv")).unwrap();
        let prep = PrepConfig::native().fit(&train_set.features, None);
        let x = prep.transform(&train_set.features, None).unwrap();
        let feats = train_set.schema.features_from(&test, &mut Vec::new()).unwrap();
        let xt = prep.transform(&feats, None).unwrap();
        let data = GbdtData::new(&x, &prep.categorical()).unwrap();
        let col = test.column(target).unwrap();
        match (&train_set.target, positive) {
            (Target::Classes(c), Some(pos)) => {
                let k = train_set.schema.classes.len();
                let m = fit(&lgb_defaults(), &data, Y::Classes(c, k), 1);
                let pi = train_set.schema.classes.iter().position(|l| l == pos).unwrap();
                let Prediction::Proba(p) = m.predict(&xt).unwrap() else {
                    panic!()
                };
                let s: Vec<f64> = (0..p.rows).map(|i| p.get(i, pi)).collect();
                let t: Vec<bool> = (0..test.n_rows)
                    .map(|i| col.label(i).as_deref() == Some(pos))
                    .collect();
                roc_auc(&s, &t)
            }
            (Target::Values(v), None) => {
                let m = fit(&lgb_defaults(), &data, Y::Values(v), 1);
                let truth: Vec<f64> = (0..test.n_rows)
                    .map(|i| col.label(i).unwrap().parse().unwrap())
                    .collect();
                Metric::R2
                    .score(&Target::Values(truth), &m.predict(&xt).unwrap())
                    .unwrap()
            }
            _ => panic!("unexpected task"),
        }
    }

    #[test]
    fn scores_on_real_data_match_lightgbm_defaults() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        // Floors a little under LightGBM 4 with default parameters (../shared/reference):
        // breast_cancer 0.9967, diabetes 0.3723, telco_churn 0.8356, diamonds 0.9819.
        let bc = test_score(
            &root.join("datasets/breast_cancer"),
            "diagnosis",
            Some("malignant"),
        );
        eprintln!("breast_cancer AUC {bc:.4}");
        assert!(bc >= 0.99, "breast_cancer AUC {bc}");
        let db = test_score(&root.join("datasets/diabetes"), "progression", None);
        eprintln!("diabetes R² {db:.4}");
        assert!(db >= 0.33, "diabetes R² {db}");
        let shared = root.join("../shared/datasets");
        if shared.join("telco_churn/train.csv").exists() {
            let tc = test_score(&shared.join("telco_churn"), "churn", Some("Yes"));
            eprintln!("telco_churn AUC {tc:.4}");
            assert!(tc >= 0.825, "telco_churn AUC {tc}");
            let dm = test_score(&shared.join("diamonds"), "price", None);
            eprintln!("diamonds R² {dm:.4}");
            assert!(dm >= 0.979, "diamonds R² {dm}");
        }
    }

    /// Rows whose label is only visible through `signal` (all other columns are noise).
    fn planted(n: usize, signal: impl Fn(bool, &mut rand_chacha::ChaCha8Rng) -> f64) -> (Matrix, Vec<usize>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut x = Matrix::zeros(n, 3);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let label = rng.gen_bool(0.3);
            x.data[i * 3] = signal(label, &mut rng);
            x.data[i * 3 + 1] = rng.gen::<f64>();
            x.data[i * 3 + 2] = rng.gen::<f64>();
            y.push(usize::from(label));
        }
        (x, y)
    }

    #[test]
    fn a_feature_informative_only_through_missingness_is_used() {
        // Column 0 is missing exactly for the positives; its present values are noise.
        let (x, y) = planted(2000, |l, r| if l { f64::NAN } else { r.gen::<f64>() });
        let data = GbdtData::new(&x, &[false; 3]).unwrap();
        let p = GbdtParams {
            n_estimators: 1,
            num_leaves: 2,
            ..GbdtParams::lightgbm()
        };
        let m = fit(&p, &data, Y::Classes(&y, 2), 1);
        let auc = roc_auc(
            &proba1(&m.predict(&x).unwrap()),
            &y.iter().map(|&c| c == 1).collect::<Vec<_>>(),
        );
        assert!(auc > 0.999, "AUC {auc}");
        assert!(m.importance(Importance::Splits)[0] >= 1.0);
    }

    #[test]
    fn a_feature_informative_only_through_one_category_is_split_natively() {
        // 12 categories; only category 7 means positive. One split of one tree must isolate it,
        // which a numeric threshold on the codes cannot do.
        let (x, y) = planted(3000, |l, r| {
            if l {
                7.0
            } else {
                [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11][r.gen_range(0..11)] as f64
            }
        });
        let p = GbdtParams {
            n_estimators: 1,
            num_leaves: 2,
            ..GbdtParams::lightgbm()
        };
        let truth: Vec<bool> = y.iter().map(|&c| c == 1).collect();
        let native = fit(
            &p,
            &GbdtData::new(&x, &[true, false, false]).unwrap(),
            Y::Classes(&y, 2),
            1,
        );
        let auc = roc_auc(&proba1(&native.predict(&x).unwrap()), &truth);
        assert!(auc > 0.999, "categorical AUC {auc}");
        let numeric = fit(&p, &GbdtData::new(&x, &[false; 3]).unwrap(), Y::Classes(&y, 2), 1);
        let auc_num = roc_auc(&proba1(&numeric.predict(&x).unwrap()), &truth);
        assert!(
            auc_num < 0.9,
            "a numeric split should not isolate one code: AUC {auc_num}"
        );
    }

    fn noisy_regression(n: usize) -> (Matrix, Vec<f64>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut x = Matrix::zeros(n, 4);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            for j in 0..4 {
                x.data[i * 4 + j] = rng.gen::<f64>();
            }
            let r = x.row(i);
            y.push((6.0 * r[0]).sin() + r[1] * r[2] + rng.gen::<f64>());
        }
        (x, y)
    }

    #[test]
    fn warm_start_equals_training_in_one_go() {
        let (x, y) = noisy_regression(1500);
        let data = GbdtData::new(&x, &[false; 4]).unwrap();
        let p = GbdtParams {
            subsample: 0.8,
            colsample_bytree: 0.75,
            ..GbdtParams::lightgbm()
        };
        let with = |n| GbdtParams {
            n_estimators: n,
            ..p.clone()
        };
        let once = fit(&with(50), &data, Y::Values(&y), 9);
        let first = fit(&with(30), &data, Y::Values(&y), 9);
        let fit_more = Fit {
            data: &data,
            y: Y::Values(&y),
            valid: None,
        };
        let mut seen = Vec::new();
        let more = first
            .continue_training(&with(20), fit_more, 9, &mut |r| {
                seen.push(r.round);
                true
            })
            .unwrap();
        assert_eq!(more.rounds(), 50);
        assert_eq!(seen.first(), Some(&31), "rounds count on from the first fit");
        assert_eq!(more.predict(&x).unwrap(), once.predict(&x).unwrap());
    }

    #[test]
    fn the_same_seed_gives_the_same_model_and_another_seed_another() {
        let (x, y) = noisy_regression(1000);
        let data = GbdtData::new(&x, &[false; 4]).unwrap();
        let p = GbdtParams {
            subsample: 0.7,
            colsample_bytree: 0.5,
            ..GbdtParams::lightgbm()
        };
        let bytes = |seed| {
            fit(&p, &data, Y::Values(&y), seed)
                .model
                .encode(ModelFormat::Binary)
                .unwrap()
        };
        assert_eq!(bytes(5), bytes(5));
        assert_ne!(bytes(5), bytes(6));
        // The same model whether trained on 1 thread or 2.
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        assert_eq!(one.install(|| bytes(5)), bytes(5));
    }

    #[test]
    fn early_stopping_stops_and_keeps_the_best_round() {
        let (x, y) = noisy_regression(2000);
        let data = GbdtData::new(&x, &[false; 4]).unwrap();
        let p = GbdtParams {
            n_estimators: 3000,
            learning_rate: 0.3,
            num_leaves: 63,
            early_stopping_rounds: 10,
            ..GbdtParams::lightgbm()
        };
        let mut losses = Vec::new();
        let m = train(
            &p,
            Fit {
                data: &data,
                y: Y::Values(&y),
                valid: None,
            },
            1,
            &mut |r| {
                losses.push(r.valid_loss.unwrap());
                true
            },
        )
        .unwrap();
        assert!(losses.len() < 300, "{} rounds", losses.len());
        assert_eq!(
            losses.len(),
            m.rounds() + 10,
            "stops 10 rounds after the best, keeps up to the best"
        );
        let best = losses.iter().copied().fold(f64::INFINITY, f64::min);
        assert_eq!(losses[m.rounds() - 1], best);
    }

    #[test]
    fn the_round_callback_and_the_trial_token_stop_training() {
        let (x, y) = noisy_regression(500);
        let data = GbdtData::new(&x, &[false; 4]).unwrap();
        let p = GbdtParams::lightgbm();
        let fit_all = Fit {
            data: &data,
            y: Y::Values(&y),
            valid: None,
        };
        let m = train(&p, fit_all, 1, &mut |r| r.round < 7).unwrap();
        assert_eq!(m.rounds(), 7);
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let token = crate::cancel::Token::new(Some(flag), None);
        let e = crate::cancel::with(token, || train(&p, fit_all, 1, &mut |_| true)).unwrap_err();
        assert!(e.to_string().contains("stopped"), "{e}");
    }

    #[test]
    fn a_model_survives_the_model_file_and_multiclass_rows_sum_to_one() {
        let (x, _) = noisy_regression(600);
        let y: Vec<usize> = (0..600)
            .map(|i| usize::from(x.get(i, 0) > 0.3) + usize::from(x.get(i, 1) > 0.6))
            .collect();
        let data = GbdtData::new(&x, &[false; 4]).unwrap();
        let m = fit(&GbdtParams::lightgbm(), &data, Y::Classes(&y, 3), 1);
        let bytes = postcard::to_allocvec(&m).unwrap();
        let back: GbdtModel = postcard::from_bytes(&bytes).unwrap();
        let (a, b) = (m.predict(&x).unwrap(), back.predict(&x).unwrap());
        assert_eq!(a, b);
        let Prediction::Proba(p) = a else { panic!() };
        assert_eq!(p.cols, 3);
        assert!((0..p.rows).all(|i| (p.row(i).iter().sum::<f64>() - 1.0).abs() < 1e-12));
        assert!(
            m.predict(&Matrix::zeros(2, 3)).is_err(),
            "column count is checked"
        );
    }

    #[test]
    fn rounds_report_to_a_sweep_whose_policy_stops_bad_trials_mid_boosting() {
        let (x, y) = noisy_regression(1500);
        let all = GbdtData::new(&x, &[false; 4]).unwrap();
        let (tr, va): (Vec<usize>, Vec<usize>) = (0..1500).partition(|i| i % 5 != 0);
        let (train_rows, valid_rows) = (all.rows(&tr).unwrap(), all.rows(&va).unwrap());
        let ytr: Vec<f64> = tr.iter().map(|&i| y[i]).collect();
        let yva: Vec<f64> = va.iter().map(|&i| y[i]).collect();
        crate::sweep::testing::assert_halving_stops_mid_training(
            (0.001, 0.5),
            4,
            1,
            64,
            |rate, seed, report| {
                let p = GbdtParams {
                    n_estimators: 64,
                    learning_rate: rate,
                    ..GbdtParams::lightgbm()
                };
                let fit = Fit {
                    data: &train_rows,
                    y: Y::Values(&ytr),
                    valid: Some((&valid_rows, Y::Values(&yva))),
                };
                train(&p, fit, seed, &mut |r| {
                    report(r.round as i64, r.valid_loss.unwrap_or(f64::INFINITY))
                })
                .map(drop)
            },
        );
    }

    #[test]
    fn large_regression_targets_keep_their_precision() {
        // y = 1e8 + a signal of amplitude 10: f32 labels alone would be spaced 8 apart.
        let (x, y) = noisy_regression(1000);
        let big: Vec<f64> = y.iter().map(|v| 1e8 + 5.0 * v).collect();
        let data = GbdtData::new(&x, &[false; 4]).unwrap();
        let m = fit(&GbdtParams::lightgbm(), &data, Y::Values(&big), 1);
        let r2 = Metric::R2
            .score(&Target::Values(big.clone()), &m.predict(&x).unwrap())
            .unwrap();
        assert!(r2 > 0.7, "R² {r2}");
    }

    #[test]
    fn a_regression_loss_on_classes_is_refused_naming_objective() {
        let (x, y) = planted(200, |_, r| r.gen::<f64>());
        let data = GbdtData::new(&x, &[false; 3]).unwrap();
        let train_on_classes = |loss| {
            let p = GbdtParams {
                n_estimators: 2,
                loss,
                ..GbdtParams::lightgbm()
            };
            let fit = Fit {
                data: &data,
                y: Y::Classes(&y, 2),
                valid: None,
            };
            train(&p, fit, 1, &mut |_| true)
        };
        for (loss, name) in [(RegressionLoss::L1, "l1"), (RegressionLoss::Huber(1.0), "huber")] {
            let e = train_on_classes(loss).unwrap_err().to_string();
            assert!(e.contains("objective") && e.contains(name), "{e}");
        }
        // The default (l2, what [fixed] sets) is the classification default.
        assert!(train_on_classes(GbdtParams::lightgbm().loss).is_ok());
    }

    #[test]
    fn bad_parameters_are_named() {
        for (name, v) in [
            ("learning_rate", Value::Float(0.0)),
            ("num_leaves", Value::Int(1)),
            ("subsample", Value::Float(1.5)),
            ("max_bin", Value::Int(1000)),
            ("objective", Value::Str("poisson".into())),
        ] {
            let mut p = Params::default();
            p.set(name, v);
            let e = GbdtParams::from_params(&p).unwrap_err().to_string();
            assert!(e.contains(name), "{name}: {e}");
        }
    }
}
