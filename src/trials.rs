//! Trials and their scheduler: evaluate configurations by validation, in parallel on a rayon pool,
//! within a time and trial budget. A trial that errors or panics is recorded as failed.
//!
//! Reproducibility rule: trial `i`'s configuration depends only on the seed and `i` (never on
//! timing or the number of workers), so the same seed gives the same trial sequence; with
//! `max_trials` the whole leaderboard is identical, with only a time budget it is a prefix of it.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::model::{subset_target, Pipeline, TrialConfig};
use crate::validation::Plan;

/// Final state of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// Every fold was fitted and scored.
    Completed,
    /// The trial returned an error or panicked.
    Failed,
}

/// The record of one trial.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrialResult {
    /// Trial number, from 0, in generation order.
    pub id: usize,
    /// What was tried.
    pub config: TrialConfig,
    /// How it ended.
    pub status: TrialStatus,
    /// Mean primary-metric value over folds.
    pub score: Option<f64>,
    /// Standard deviation over folds.
    pub std: Option<f64>,
    /// Primary metric per fold.
    pub fold_scores: Vec<f64>,
    /// Mean of every reported metric over folds.
    pub metrics: BTreeMap<String, f64>,
    /// Seconds spent fitting (all folds).
    pub fit_secs: f64,
    /// Seconds spent predicting validation rows (all folds).
    pub predict_secs: f64,
    /// Seconds since the run started when the trial began.
    pub started_secs: f64,
    /// Error text for failed trials.
    pub error: Option<String>,
}

/// Everything a trial needs to evaluate a configuration.
pub struct EvalContext<'a> {
    /// The training data.
    pub data: &'a Dataset,
    /// Validation splits.
    pub plan: &'a Plan,
    /// Primary metric.
    pub metric: Metric,
    /// Run seed.
    pub seed: u64,
}

thread_local! {
    static IN_TRIAL: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is inside [`guarded`] (panic hooks use this to stay quiet).
pub fn in_trial() -> bool {
    IN_TRIAL.with(Cell::get)
}

/// Run `f`, turning a panic into `Err(message)`; panic hooks can stay quiet meanwhile ([`in_trial`]).
pub fn guarded<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    let was = IN_TRIAL.with(|g| g.replace(true));
    let out = catch_unwind(AssertUnwindSafe(f));
    IN_TRIAL.with(|g| g.set(was));
    out.map_err(|p| panic_text(p.as_ref()))
}

/// Seed for trial `id`'s learner.
pub fn trial_seed(seed: u64, id: usize) -> u64 {
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Evaluate one configuration over all folds. Never panics: panics become failed trials.
pub fn evaluate(ctx: &EvalContext, id: usize, config: TrialConfig, started_secs: f64) -> TrialResult {
    let mut result = TrialResult {
        id,
        config,
        status: TrialStatus::Failed,
        score: None,
        std: None,
        fold_scores: Vec::new(),
        metrics: BTreeMap::new(),
        fit_secs: 0.0,
        predict_secs: 0.0,
        started_secs,
        error: None,
    };
    match guarded(|| run_folds(ctx, id, &mut result)) {
        Ok(Ok(())) => result.status = TrialStatus::Completed,
        Ok(Err(e)) => result.error = Some(e.to_string()),
        Err(p) => result.error = Some(format!("panicked: {p}")),
    }
    result
}

fn run_folds(ctx: &EvalContext, id: usize, r: &mut TrialResult) -> Result<()> {
    let data = ctx.data;
    let report = Metric::report_set(data.schema.task);
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for fold in &ctx.plan.folds {
        let t0 = Instant::now();
        let pipe = Pipeline::fit(
            &data.schema,
            &data.features,
            &data.target,
            &r.config,
            Some(&fold.train),
            trial_seed(ctx.seed, id),
        )?;
        r.fit_secs += t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let pred = pipe.predict(&data.features, Some(&fold.valid))?;
        r.predict_secs += t1.elapsed().as_secs_f64();
        let truth = subset_target(&data.target, Some(&fold.valid));
        let s = ctx.metric.score(&truth, &pred)?;
        if !s.is_finite() {
            return Err(Error::learner(
                &r.config.learner,
                format!("{} is not finite", ctx.metric.name()),
            ));
        }
        r.fold_scores.push(s);
        for m in report {
            let v = if *m == ctx.metric {
                s
            } else {
                m.score(&truth, &pred)?
            };
            *sums.entry(m.name().to_string()).or_insert(0.0) += v;
        }
        if !report.contains(&ctx.metric) {
            *sums.entry(ctx.metric.name().to_string()).or_insert(0.0) += s;
        }
    }
    let k = r.fold_scores.len() as f64;
    let mean = r.fold_scores.iter().sum::<f64>() / k;
    let var = r.fold_scores.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / k;
    r.score = Some(mean);
    r.std = Some(var.sqrt());
    r.metrics = sums.into_iter().map(|(n, v)| (n, v / k)).collect();
    Ok(())
}

/// When to stop starting trials.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    /// Wall-clock limit for starting trials.
    pub time: Option<Duration>,
    /// Most trials to run.
    pub max_trials: Option<usize>,
}

/// Hooks called from the worker running a trial.
pub trait Observer: Sync {
    /// Trial `id` is about to be evaluated with `config`.
    fn started(&self, _id: usize, _config: &TrialConfig) {}
    /// Trial finished (completed or failed).
    fn finished(&self, _result: &TrialResult) {}
}

/// An observer that does nothing.
pub struct NoObserver;
impl Observer for NoObserver {}

/// Run trials `0, 1, 2, …` (configurations from `generate`) on `jobs` workers until the budget is
/// spent, skipping the ids of `prior` results (a resumed run); the observer hears of each trial's
/// start and end. Returns `prior` plus the new results, sorted by trial id.
///
/// With a time budget, no trial starts once the elapsed time plus the estimated time to refit the
/// best trial so far on all rows (capped at half the budget) reaches the budget, so that the
/// search and the final refit together end near the budget. Trials already running finish.
pub fn run(
    ctx: &EvalContext,
    generate: &(dyn Fn(usize) -> TrialConfig + Sync),
    budget: Budget,
    jobs: usize,
    prior: Vec<TrialResult>,
    observer: &dyn Observer,
) -> Result<Vec<TrialResult>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .thread_name(|i| format!("automl-worker-{i}"))
        .build()
        .map_err(|e| Error::Config(format!("cannot start {jobs} worker threads: {e}")))?;
    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let max = budget.max_trials.unwrap_or(usize::MAX);
    let skip: std::collections::HashSet<usize> = prior.iter().map(|r| r.id).collect();
    // (best score so far, estimated seconds to refit it on all rows)
    let best: Mutex<Option<(f64, f64)>> = Mutex::new(None);
    let n_rows = ctx.data.n_rows() as f64;
    let refit_estimate = |r: &TrialResult| {
        let folds = ctx.plan.folds.len().max(1) as f64;
        let train = ctx
            .plan
            .folds
            .first()
            .map_or(n_rows, |f| f.train.len().max(1) as f64);
        r.fit_secs / folds * n_rows / train
    };
    if let Some(b) = ranked(&prior, ctx.metric).first() {
        if let (Some(score), Ok(mut slot)) = (b.score, best.lock()) {
            *slot = Some((score, refit_estimate(b)));
        }
    }
    let results = Mutex::new(prior);
    pool.scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|_| loop {
                if let Some(t) = budget.time {
                    let reserve = best
                        .lock()
                        .ok()
                        .and_then(|b| b.map(|(_, secs)| secs))
                        .unwrap_or(0.0);
                    let reserve = reserve.min(t.as_secs_f64() / 2.0);
                    if start.elapsed().as_secs_f64() + reserve >= t.as_secs_f64() {
                        break;
                    }
                }
                let mut id = next.fetch_add(1, Ordering::SeqCst);
                while skip.contains(&id) {
                    id = next.fetch_add(1, Ordering::SeqCst);
                }
                if id >= max {
                    break;
                }
                let config = generate(id);
                observer.started(id, &config);
                let r = evaluate(ctx, id, config, start.elapsed().as_secs_f64());
                if let (Some(score), Ok(mut b)) = (r.score, best.lock()) {
                    if b.is_none_or(|(old, _)| ctx.metric.better(score, old)) {
                        *b = Some((score, refit_estimate(&r)));
                    }
                }
                observer.finished(&r);
                if let Ok(mut v) = results.lock() {
                    v.push(r);
                }
            });
        }
    });
    let mut v = results.into_inner().unwrap_or_default();
    v.sort_by_key(|r| r.id);
    Ok(v)
}

/// Completed trials best first (ties by trial id), for leaderboards.
pub fn ranked(results: &[TrialResult], metric: Metric) -> Vec<&TrialResult> {
    let mut ok: Vec<&TrialResult> = results
        .iter()
        .filter(|r| r.status == TrialStatus::Completed && r.score.is_some())
        .collect();
    ok.sort_by(|a, b| {
        let (x, y) = (a.score.unwrap_or(f64::NAN), b.score.unwrap_or(f64::NAN));
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
    use crate::space::{Params, Value};
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
        let data = diabetes();
        let plan = validation::plan(&data.target, 1, &mut Vec::new()).unwrap();
        let ctx = EvalContext {
            data: &data,
            plan: &plan,
            metric: Metric::R2,
            seed: 1,
        };
        let mut bad_k = Params::default();
        bad_k.set("k", Value::Int(0));
        let configs = [
            config("ridge", Params::default()),
            config("logistic_regression", Params::default()), // classification only
            config("knn", bad_k),
            config("no_such_learner", Params::default()),
        ];
        let results = run(
            &ctx,
            &|i| configs[i].clone(),
            Budget {
                time: None,
                max_trials: Some(4),
            },
            2,
            Vec::new(),
            &NoObserver,
        )
        .unwrap();
        assert_eq!(results.len(), 4);
        assert_eq!(results[0].status, TrialStatus::Completed);
        let r2 = results[0].score.unwrap();
        assert!(r2 > 0.3 && r2 < 0.7, "ridge CV r2 {r2}");
        assert_eq!(results[0].fold_scores.len(), 5);
        for (r, needle) in results[1..]
            .iter()
            .zip(["regression", "k must be at least 1", "unknown learner"])
        {
            assert_eq!(r.status, TrialStatus::Failed);
            let e = r.error.as_deref().unwrap_or("");
            assert!(e.contains(needle), "{e}");
        }
        assert_eq!(ranked(&results, Metric::R2).len(), 1);
    }

    #[test]
    fn ranking_respects_direction_and_breaks_ties_by_id() {
        let mk = |id, s| TrialResult {
            id,
            config: config("ridge", Params::default()),
            status: TrialStatus::Completed,
            score: Some(s),
            std: Some(0.0),
            fold_scores: vec![s],
            metrics: BTreeMap::new(),
            fit_secs: 0.0,
            predict_secs: 0.0,
            started_secs: 0.0,
            error: None,
        };
        let rs = vec![mk(0, 2.0), mk(1, 1.0), mk(2, 2.0)];
        let ids = |m| ranked(&rs, m).iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(Metric::R2), vec![0, 2, 1]);
        assert_eq!(ids(Metric::Rmse), vec![1, 0, 2]);
    }
}
