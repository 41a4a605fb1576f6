//! Trials of `automl run`: the objective that validates one pipeline configuration (with step
//! reports on growing training subsets when an early-termination policy is on), and the trial
//! records built from the sweep's results.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::{Dataset, Target};
use crate::ensemble::OofBank;
use crate::error::{Error, Result};
pub use crate::guard::{guarded, in_trial};
use crate::learners::gbdt::GbdtData;
use crate::metrics::Metric;
use crate::model::TrialConfig;
use crate::prep::PrepConfig;
use crate::space::{Params, Value};
pub use crate::state::TrialState;
pub use crate::sweep::trial_seed;
use crate::sweep::{Trial, TrialError, TrialRecord};
use crate::validation::Plan;

mod folds;
use folds::fold_scores;

/// How `automl run` reads a trial's record: the pipeline it tried and its score.
pub trait PipelineTrial {
    /// The pipeline configuration tried (learner `?` when the parameters name none).
    fn config(&self) -> TrialConfig;
    /// The learner tried.
    fn learner(&self) -> &str;
    /// The mean validation score of a completed trial.
    fn score(&self) -> Option<f64>;
    /// Seconds spent fitting (all folds; the trial's wall time when it did not measure them).
    fn fit_time(&self) -> f64;
}

impl PipelineTrial for TrialRecord {
    fn config(&self) -> TrialConfig {
        config_of(&self.params).unwrap_or_else(|_| TrialConfig {
            learner: "?".into(),
            prep: Params::default(),
            params: self.params.clone(),
        })
    }

    fn learner(&self) -> &str {
        match self.params.0.get(LEARNER) {
            Some(Value::Str(l)) => l,
            _ => "?",
        }
    }

    fn score(&self) -> Option<f64> {
        self.value.filter(|_| self.state == TrialState::Completed)
    }

    fn fit_time(&self) -> f64 {
        self.fit_secs.unwrap_or(self.secs)
    }
}

/// Everything a trial needs to evaluate a configuration.
pub struct EvalContext<'a> {
    /// The training data.
    pub data: &'a Dataset,
    /// Validation splits.
    pub plan: &'a Plan,
    /// Primary metric.
    pub metric: Metric,
    /// Steps at which to fit on `step / MAX_STEP` of each fold's training rows and report the
    /// mean score; `[MAX_STEP]` alone when no early-termination policy is on, or when folds are
    /// the steps.
    pub steps: Vec<i64>,
    /// Report after each fold `k` (step `k`) the mean score of folds `1..=k` (cross-validation
    /// under an early-termination policy: no extra fits, a stopped trial skips its other folds).
    pub fold_steps: bool,
    /// Boosting input shared by the run's gbdt trials (built on first use).
    pub gbdt: GbdtCache,
    /// Where completed trials leave their validation predictions for the final ensemble.
    pub bank: Option<&'a OofBank>,
    /// The run's GPU slots (none: every trial on the CPU).
    pub slots: crate::device::Slots,
}

/// The whole table in native encoding, binned once, with a view per fold: every gbdt trial of a
/// run trains on these instead of re-encoding and re-binning its rows. The quantile cuts come
/// from all rows' feature values (no targets), as a binned dataset shared across folds must.
#[derive(Debug, Default)]
pub struct GbdtCache {
    inner: OnceLock<std::result::Result<GbdtShared, String>>,
}

#[derive(Debug)]
struct GbdtShared {
    all: GbdtData,
    train: Vec<GbdtData>,
    valid: Vec<GbdtData>,
}

impl GbdtCache {
    fn get(&self, data: &Dataset, plan: &Plan) -> Result<&GbdtShared> {
        let built = self.inner.get_or_init(|| {
            let build = || -> Result<GbdtShared> {
                let prep = PrepConfig::native().fit(&data.features, None);
                let m = prep.transform(&data.features, None)?;
                let all = GbdtData::new(&m, &prep.categorical())?;
                let mut train = Vec::with_capacity(plan.folds.len());
                let mut valid = Vec::with_capacity(plan.folds.len());
                for f in &plan.folds {
                    train.push(all.rows(&f.train)?);
                    valid.push(all.rows(&f.valid)?);
                }
                Ok(GbdtShared { all, train, valid })
            };
            build().map_err(|e| e.to_string())
        });
        built.as_ref().map_err(|e| Error::learner("gbdt", e.clone()))
    }
}

/// The full-data step: steps count eighths of each fold's training rows.
pub const MAX_STEP: i64 = 8;

/// Name of the parameter holding the learner.
pub const LEARNER: &str = "learner";
/// Name of the parameter holding the share of each fold's training rows a trial fits on: on
/// large data the number of rows is a resource the search grows (it starts from
/// [`SAMPLE_START`] rows, cheap, and moves up where that pays), as FLAML's sample size does.
pub const SAMPLE: &str = "sample";
/// Training rows a large-data search starts from.
pub const SAMPLE_START: usize = 10_000;

/// Estimated seconds to fit trial `t` for the final model: with `bagged`, its fold models again
/// (the fit time it took, grown to the folds' whole training parts when the trial fitted a
/// sample of them); else once on all rows of `data` ([`fit_secs_on`] a share of 1).
pub fn refit_secs(data: &Dataset, plan: &Plan, t: &TrialRecord, bagged: bool) -> f64 {
    if bagged {
        return t.fit_time() * refit_growth(data, plan, t, 1.0);
    }
    fit_secs_on(data, plan, t, 1.0)
}

/// Estimated seconds to fit trial `t` once on `share` of all rows of `data`: its fit time per
/// fold of `plan` times how much longer a fit on those rows takes than one of its fold fits
/// ([`refit_growth`]).
pub fn fit_secs_on(data: &Dataset, plan: &Plan, t: &TrialRecord, share: f64) -> f64 {
    let (rows, fold_train) = rows_and_fold_train(data, plan);
    let growth = refit_growth(data, plan, t, share * rows / fold_train);
    t.fit_time() / plan.folds.len().max(1) as f64 * growth
}

/// The share of all rows of `data` trial `t` was validated on: its sample of a fold's training
/// rows. A refit on fewer rows than that would not be the model the search scored.
pub fn validated_share(data: &Dataset, plan: &Plan, t: &TrialRecord) -> f64 {
    let (rows, fold_train) = rows_and_fold_train(data, plan);
    (sample_of(&t.params) * fold_train / rows).clamp(0.0, 1.0)
}

/// All rows of `data` and the rows of a fold's training part under `plan` (all rows without
/// folds), at least one each.
fn rows_and_fold_train(data: &Dataset, plan: &Plan) -> (f64, f64) {
    let rows = data.n_rows().max(1) as f64;
    let fold_train = plan.folds.first().map_or(rows, |f| f.train.len().max(1) as f64);
    (rows, fold_train)
}

/// How many times longer trial `t`'s learner takes to fit all rows than one of its fold fits
/// (on `sample` of a fold's training part; `refit_scale` = all rows / a fold's training rows): the
/// rows' ratio, or the learner's cost model's ratio where that grows faster than the rows (trees
/// grow as n log n: one extra-trees tree took 24× the time on 16× the rows), at most
/// [`REFIT_GROWTH_CAP`] times the rows' ratio.
pub fn refit_growth(data: &Dataset, plan: &Plan, t: &TrialRecord, refit_scale: f64) -> f64 {
    let sample = sample_of(&t.params);
    let rows = refit_scale / sample;
    let Ok(config) = config_of(&t.params) else {
        return rows;
    };
    let cost = cost_of(data, plan, &config, refit_scale) / cost_of(data, plan, &config, sample);
    if cost.is_finite() {
        cost.clamp(rows, rows * REFIT_GROWTH_CAP)
    } else {
        rows
    }
}

/// Most a refit's growth exceeds the rows' ratio by. The cost models also count predicting the
/// validation rows, which a refit does not: knn's brute-force search grows as n², its fit (keeping
/// the rows) as n. n log n from 10k to 160k rows is 1.3× the rows' ratio.
pub const REFIT_GROWTH_CAP: f64 = 1.5;

/// The share of training rows the trial with parameters `p` fits on (1 when not searched).
pub fn sample_of(p: &Params) -> f64 {
    p.f64_or(SAMPLE, 1.0).unwrap_or(1.0).clamp(1e-6, 1.0)
}
/// Prefix of preprocessing parameters in sweep parameters.
pub const PREP: &str = "prep.";

/// The pipeline configuration encoded in a sweep's parameters (`learner`, `prep.*`,
/// `<learner>.*`).
pub fn config_of(p: &Params) -> Result<TrialConfig> {
    let learner = p.str_or(LEARNER, "")?.to_string();
    if learner.is_empty() {
        return Err(Error::Config("the trial has no learner".into()));
    }
    let own = format!("{learner}.");
    let mut config = TrialConfig {
        learner,
        prep: Params::default(),
        params: Params::default(),
    };
    for (k, v) in &p.0 {
        if let Some(name) = k.strip_prefix(PREP) {
            config.prep.set(name, v.clone());
        } else if let Some(name) = k.strip_prefix(&own) {
            config.params.set(name, v.clone());
        }
    }
    Ok(config)
}

/// The sweep parameters of a pipeline configuration (inverse of [`config_of`]).
pub fn params_of(c: &TrialConfig) -> Params {
    let mut p = Params::default();
    p.set(LEARNER, Value::Str(c.learner.clone()));
    for (k, v) in &c.prep.0 {
        p.set(&format!("{PREP}{k}"), v.clone());
    }
    for (k, v) in &c.params.0 {
        p.set(&format!("{}.{k}", c.learner), v.clone());
    }
    p
}

/// Deterministic cost of validating `config` on `data` (all folds), fitting on `sample` of each
/// fold's training rows.
pub fn cost_of(data: &Dataset, plan: &Plan, config: &TrialConfig, sample: f64) -> f64 {
    let shape = shape_of(data, plan, config, sample);
    crate::learners::cost_estimate(&config.learner, &config.params, &shape) * plan.folds.len().max(1) as f64
}

/// What the cost of one fold's fit of `config` depends on, fitting on `sample` of the fold's
/// training rows.
pub fn shape_of(data: &Dataset, plan: &Plan, config: &TrialConfig, sample: f64) -> crate::learners::Shape {
    let n = plan.folds.first().map_or(data.n_rows(), |f| f.train.len()) as f64 * sample;
    let levels: usize = data
        .features
        .columns
        .iter()
        .map(|c| match c {
            crate::data::FeatureColumn::Categorical { levels, .. } => levels.len(),
            _ => 0,
        })
        .sum();
    let numeric = data
        .features
        .columns
        .iter()
        .filter(|c| matches!(c, crate::data::FeatureColumn::Numeric(_)))
        .count();
    let native = crate::prep::PrepConfig::native();
    let raw: usize = data.features.columns.iter().map(|c| native.column_width(c)).sum();
    let inputs: usize = data
        .features
        .columns
        .iter()
        .map(|c| match c {
            crate::data::FeatureColumn::Categorical { levels, .. } => {
                crate::learners::mlp::encode::category_width(levels.len())
            }
            c => native.column_width(c),
        })
        .sum();
    crate::learners::Shape {
        n,
        d: encoded_width(data, config) as f64,
        raw: raw as f64,
        numeric: numeric as f64,
        levels: levels as f64,
        inputs: inputs as f64,
        k: data.schema.classes.len() as f64,
        valid: plan.folds.first().map_or(n / 4.0, |f| f.valid.len() as f64),
    }
}

/// Columns the learner of `config` sees: one per feature for native input and ordinal codes;
/// with one-hot encoding, one per kept category (at most `max_categories` per feature). Wide
/// one-hot data costs linear solvers by this width, not by the raw column count.
pub fn encoded_width(data: &Dataset, config: &TrialConfig) -> usize {
    let recipe = config.recipe().unwrap_or_default();
    data.features.columns.iter().map(|c| recipe.column_width(c)).sum()
}

/// `frac` of `rows`, spread over classes (every class keeps at least one row when it has one),
/// in a seeded order.
pub(crate) fn subset(rows: &[usize], target: &Target, frac: f64, seed: u64) -> Vec<usize> {
    if frac >= 1.0 {
        return rows.to_vec();
    }
    let mut shuffled = rows.to_vec();
    shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    match target {
        Target::Classes(y) => {
            let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for r in shuffled {
                by_class.entry(y[r]).or_default().push(r);
            }
            let mut out: Vec<usize> = by_class
                .values()
                .flat_map(|v| {
                    v.iter()
                        .take(((v.len() as f64 * frac).ceil() as usize).max(1))
                        .copied()
                })
                .collect();
            out.sort_unstable();
            out
        }
        Target::Values(_) => {
            shuffled.truncate(
                ((rows.len() as f64 * frac).ceil() as usize)
                    .max(2)
                    .min(rows.len()),
            );
            shuffled.sort_unstable();
            shuffled
        }
    }
}

/// The objective of `automl run`: validate the trial's pipeline over all folds and return the
/// mean primary metric. Under an early-termination policy the trial reports as it goes: after
/// each fold (cross-validation), or — with a single holdout — on growing subsets: each step fits
/// on `step / MAX_STEP` of the training rows first.
///
/// A trial of a GPU-suited learner runs on a free GPU slot of the run when there is one (its
/// record says which device ran it whenever the run has GPU slots).
pub fn objective(ctx: &EvalContext, trial: &mut Trial) -> std::result::Result<f64, TrialError> {
    let config = config_of(trial.params())?;
    let held = if crate::learners::gpu_suited(&config.learner) {
        ctx.slots.take_gpu()
    } else {
        None
    };
    let device = held.as_ref().map_or(crate::device::Device::Cpu, |h| h.device());
    if ctx.slots.has_gpu() {
        trial.set_device(&device.to_string());
    }
    crate::device::with(device, || objective_on(ctx, trial, config))
}

/// [`objective`] on the device already chosen.
fn objective_on(
    ctx: &EvalContext,
    trial: &mut Trial,
    config: TrialConfig,
) -> std::result::Result<f64, TrialError> {
    let sample = sample_of(trial.params());
    trial.set_cost(cost_of(ctx.data, ctx.plan, &config, sample));
    let mut last = None;
    for &step in &ctx.steps {
        let frac = step as f64 / MAX_STEP as f64;
        let scores = fold_scores(ctx, trial, &config, frac, sample)?;
        let k = scores.folds.len().max(1) as f64;
        let mean = scores.folds.iter().sum::<f64>() / k;
        if step < MAX_STEP {
            trial.report(step, mean)?;
        } else {
            if ctx.steps.len() > 1 {
                trial.record_step(step, mean);
            }
            last = Some((mean, scores));
        }
    }
    let Some((mean, s)) = last else {
        return Err(TrialError::Failed("no full-data step".into()));
    };
    let k = s.folds.len().max(1) as f64;
    for (name, total) in &s.sums {
        trial.set_metric(name, total / k);
    }
    if let Some(bank) = ctx.bank {
        if s.preds.len() == ctx.plan.folds.len() {
            bank.offer(trial.id(), &config.learner, mean, &s.preds);
        }
    }
    trial.set_folds(s.folds);
    trial.set_times(s.fit_secs, s.predict_secs);
    Ok(mean)
}

/// Completed trials best first (ties by trial id), for leaderboards.
pub fn ranked(records: &[Arc<TrialRecord>], metric: Metric) -> Vec<&TrialRecord> {
    let mut ok: Vec<&TrialRecord> = records
        .iter()
        .map(|r| &**r)
        .filter(|r| r.score().is_some())
        .collect();
    ok.sort_by(|a, b| {
        let (x, y) = (a.score().unwrap_or(f64::NAN), b.score().unwrap_or(f64::NAN));
        let ord = if metric.higher_is_better() {
            y.total_cmp(&x)
        } else {
            x.total_cmp(&y)
        };
        ord.then(a.id.cmp(&b.id))
    });
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Params;
    use crate::validation;

    fn diabetes() -> Dataset {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/diabetes/train.csv");
        Dataset::from_path(&p, "progression", None).unwrap()
    }

    fn config(learner: &str, params: Params) -> TrialConfig {
        TrialConfig {
            learner: learner.into(),
            prep: Params::default(),
            params,
        }
    }

    #[test]
    fn failing_trials_are_recorded_and_the_run_goes_on() {
        use crate::space::{ParamSpec, SearchSpace};
        use crate::sweep::{Limits, Sweep};
        let data = diabetes();
        let plan = validation::plan(&data.target, 1, &mut Vec::new()).unwrap();
        let ctx = EvalContext {
            data: &data,
            plan: &plan,
            metric: Metric::R2,
            steps: vec![MAX_STEP],
            fold_steps: false,
            gbdt: Default::default(),
            bank: None,
            slots: Default::default(),
        };
        let space = SearchSpace::new()
            .add(
                LEARNER,
                ParamSpec::choice(["ridge", "logistic_regression", "knn", "no_such_learner"]),
            )
            .add("knn.k", ParamSpec::choice([0i64]).when(LEARNER, ["knn"]));
        let sweep = Sweep::builder(space)
            .sampler(crate::samplers::SamplerKind::Grid)
            .jobs(2)
            .build()
            .unwrap();
        let out = sweep.optimize(|t| objective(&ctx, t), Limits::default()).unwrap();
        let results = &out.trials;
        assert_eq!(results.len(), 4);
        assert_eq!(results[0].state, TrialState::Completed);
        let r2 = results[0].score().unwrap();
        assert!(r2 > 0.3 && r2 < 0.7, "ridge CV r2 {r2}");
        assert_eq!(results[0].folds.len(), 5);
        assert!(results[0].cost > 0.0);
        for (r, needle) in
            results[1..]
                .iter()
                .zip(["regression", "knn.k: must be at least 1", "unknown learner"])
        {
            assert_eq!(r.state, TrialState::Failed);
            let e = r.error.as_deref().unwrap_or("");
            assert!(e.contains(needle), "{e}");
        }
        assert_eq!(ranked(results, Metric::R2).len(), 1);
    }

    #[test]
    fn steps_fit_growing_subsets_and_end_with_the_full_cv_score() {
        use crate::space::{ParamSpec, SearchSpace};
        use crate::sweep::{Limits, Sweep};
        let data = diabetes();
        let plan = validation::plan(&data.target, 1, &mut Vec::new()).unwrap();
        let ctx = |steps: Vec<i64>| EvalContext {
            data: &data,
            plan: &plan,
            metric: Metric::R2,
            steps,
            fold_steps: false,
            gbdt: Default::default(),
            bank: None,
            slots: Default::default(),
        };
        let space = SearchSpace::new().add(LEARNER, ParamSpec::choice(["ridge"]));
        let run = |steps: Vec<i64>| {
            let c = ctx(steps);
            let sweep = Sweep::builder(space.clone())
                .sampler(crate::samplers::SamplerKind::Grid)
                .build()
                .unwrap();
            sweep
                .optimize(|t| objective(&c, t), Limits::default())
                .unwrap()
                .trials[0]
                .clone()
        };
        let plain = run(vec![MAX_STEP]);
        let stepped = run(vec![1, 2, 4, MAX_STEP]);
        assert!(plain.steps.is_empty());
        assert_eq!(
            stepped.steps.iter().map(|s| s.0).collect::<Vec<_>>(),
            [1, 2, 4, 8]
        );
        assert_eq!(
            stepped.score(),
            plain.score(),
            "the last step is the full CV score"
        );
        // Ridge on one eighth of ~350 rows is worse than on all of them.
        assert!(stepped.steps[0].1 < stepped.steps[3].1, "{:?}", stepped.steps);
        // Folds as steps: step k is the mean of the first k folds; no extra fits.
        let c = EvalContext {
            data: &data,
            plan: &plan,
            metric: Metric::R2,
            steps: vec![MAX_STEP],
            fold_steps: true,
            gbdt: Default::default(),
            bank: None,
            slots: Default::default(),
        };
        let sweep = Sweep::builder(space.clone())
            .sampler(crate::samplers::SamplerKind::Grid)
            .build()
            .unwrap();
        let by_fold = sweep
            .optimize(|t| objective(&c, t), Limits::default())
            .unwrap()
            .trials[0]
            .clone();
        assert_eq!(by_fold.steps.len(), 5);
        assert_eq!(by_fold.steps[0], (1, by_fold.folds[0]));
        assert_eq!(by_fold.steps[4].1, plain.score().unwrap());
    }

    #[test]
    fn ranking_respects_direction_and_breaks_ties_by_id() {
        let mk = |id, s| {
            Arc::new(TrialRecord {
                id,
                params: params_of(&config("ridge", Params::default())),
                state: TrialState::Completed,
                value: Some(s),
                steps: Vec::new(),
                cost: 0.0,
                metrics: BTreeMap::new(),
                folds: vec![s],
                fit_secs: None,
                predict_secs: None,
                started_secs: 0.0,
                secs: 0.0,
                error: None,
                device: None,
            })
        };
        let rs = vec![mk(0, 2.0), mk(1, 1.0), mk(2, 2.0)];
        let ids = |m| ranked(&rs, m).iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(Metric::R2), vec![0, 2, 1]);
        assert_eq!(ids(Metric::Rmse), vec![1, 0, 2]);
    }

    #[test]
    fn a_refit_grows_with_the_rows_and_faster_for_trees() {
        let data = diabetes();
        let plan = validation::plan(&data.target, 1, &mut Vec::new()).unwrap();
        let record = |learner: &str, sample: f64| {
            let mut params = params_of(&config(learner, Params::default()));
            params.set(SAMPLE, crate::param::Value::Float(sample));
            TrialRecord {
                id: 0,
                params,
                state: TrialState::Completed,
                value: Some(0.5),
                steps: Vec::new(),
                cost: 0.0,
                metrics: BTreeMap::new(),
                folds: vec![0.5],
                fit_secs: Some(2.0),
                predict_secs: None,
                started_secs: 0.0,
                secs: 2.0,
                error: None,
                device: None,
            }
        };
        // A trial on 1/4 of a fold's rows, refitted on 64 times a fold's rows: 256 times the rows.
        let rows = 64.0 / 0.25;
        let growth = |learner: &str| refit_growth(&data, &plan, &record(learner, 0.25), 64.0);
        for learner in ["ridge", "gbdt", "mlp", "logistic_regression"] {
            assert_eq!(growth(learner), rows, "{learner}");
        }
        // Trees grow as n log n up to their depth limit (random forest's default is unlimited).
        for learner in ["extra_trees", "random_forest", "decision_tree", "knn"] {
            let g = growth(learner);
            assert!(g >= rows && g <= REFIT_GROWTH_CAP * rows, "{learner}: {g}");
        }
        assert!(growth("random_forest") > 1.2 * rows);
        // Fit seconds per fold times the growth to all rows; bagged members are their fold fits
        // again.
        let t = record("extra_trees", 0.25);
        let folds = plan.folds.len() as f64;
        let all_rows = data.n_rows() as f64 / plan.folds[0].train.len() as f64;
        let growth = refit_growth(&data, &plan, &t, all_rows);
        assert_eq!(refit_secs(&data, &plan, &t, false), 2.0 / folds * growth);
        // Bagged: the fold fits again, on the folds' whole training parts (4 times the sample).
        let bagged = refit_secs(&data, &plan, &t, true);
        assert!((8.0..=8.0 * REFIT_GROWTH_CAP).contains(&bagged), "{bagged}");
        let mut whole = record("extra_trees", 1.0);
        whole.params.0.remove(SAMPLE);
        assert_eq!(refit_secs(&data, &plan, &whole, true), 2.0);
        // A refit on fewer rows takes less, down to the rows the trial was validated on: a
        // quarter of a fold's training part, where the estimate is one fold fit.
        let least = validated_share(&data, &plan, &t);
        assert!((least - 0.25 / all_rows).abs() < 1e-12, "{least}");
        assert!((fit_secs_on(&data, &plan, &t, least) - 2.0 / folds).abs() < 1e-9);
        let half = fit_secs_on(&data, &plan, &t, 0.5);
        assert!(half > 2.0 / folds && half < refit_secs(&data, &plan, &t, false));
        assert_eq!(validated_share(&data, &plan, &whole), 1.0 / all_rows);
    }
}
