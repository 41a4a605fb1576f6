//! One validation step of a trial: fit and score its pipeline on every fold. Folds are
//! independent jobs on the run's thread pool when nothing is reported between them, so a worker
//! that would otherwise wait (on the reproducibility window, or at the end of the budget) takes
//! some of a running trial's folds; each fold's result is the same on whichever thread it runs.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;

use super::{guarded, subset, EvalContext};
use crate::cancel::{self, Token};
use crate::error::Error;
use crate::learners::gbdt::{self, GbdtParams};
use crate::learners::{Prediction, Y};
use crate::metrics::Metric;
use crate::model::{subset_target, Pipeline, TrialConfig};
use crate::sweep::{Trial, TrialError};

/// What a step of a trial measured over all folds.
pub(super) struct StepScores {
    pub(super) folds: Vec<f64>,
    pub(super) sums: BTreeMap<String, f64>,
    pub(super) fit_secs: f64,
    pub(super) predict_secs: f64,
    /// Each fold's validation predictions (kept only for a bank, on the full-data step).
    pub(super) preds: Vec<Prediction>,
}

/// What one fold measured.
struct FoldScore {
    score: f64,
    /// The reported metrics, the primary one included.
    metrics: Vec<(&'static str, f64)>,
    fit_secs: f64,
    predict_secs: f64,
    pred: Option<Prediction>,
}

thread_local! {
    /// Seconds of fold jobs this thread ran inside the innermost open [`timed`] section.
    static NESTED: Cell<f64> = const { Cell::new(0.0) };
}

/// Run `f` and time it on this thread, less the fold jobs (of any trial) it ran meanwhile: a
/// learner waiting on its own parallel work may take another fold, whose time counts there.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let outer = NESTED.with(|n| n.replace(0.0));
    let t0 = Instant::now();
    let out = f();
    let total = t0.elapsed().as_secs_f64();
    let inner = NESTED.with(|n| n.replace(outer));
    (out, (total - inner).max(0.0))
}

/// Run `f` as a fold job: its time is left out of the [`timed`] section it may run inside.
fn as_job<T>(f: impl FnOnce() -> T) -> T {
    let t0 = Instant::now();
    let out = f();
    NESTED.with(|n| n.set(n.get() + t0.elapsed().as_secs_f64()));
    out
}

/// A failure that coincides with a fired token is the stop, not a learner error.
fn stop_or(token: &Token, e: Error) -> TrialError {
    match token.reason() {
        Some(r) => TrialError::Stopped(r.into()),
        None => TrialError::from(e),
    }
}

/// Fit and score `config` on every fold of the run's plan, fitting on `frac * sample` of each
/// fold's training rows. Under fold steps (an early-termination policy on cross-validation) the
/// folds run one after the other and the mean so far is reported after each, so a stopped trial
/// skips the rest; otherwise they run as parallel jobs and are combined in fold order.
pub(super) fn fold_scores(
    ctx: &EvalContext,
    trial: &mut Trial,
    config: &TrialConfig,
    frac: f64,
    sample: f64,
) -> std::result::Result<StepScores, TrialError> {
    let mut out = StepScores {
        folds: Vec::new(),
        sums: BTreeMap::new(),
        fit_secs: 0.0,
        predict_secs: 0.0,
        preds: Vec::new(),
    };
    let keep = ctx.bank.is_some() && frac >= 1.0;
    let (token, seed) = (trial.token().clone(), trial.seed());
    let fold = |i: usize| fold_score(ctx, &token, seed, config, i, frac * sample, keep);
    let n = ctx.plan.folds.len();
    if ctx.fold_steps || n < 2 {
        for i in 0..n {
            add(&mut out, fold(i)?);
            let k = out.folds.len();
            let mean = out.folds.iter().sum::<f64>() / k as f64;
            if ctx.fold_steps && k < n {
                trial.report(k as i64, mean)?;
            } else if ctx.fold_steps {
                trial.record_step(k as i64, mean);
            }
        }
        return Ok(out);
    }
    // A fold taken by another thread runs under this trial's token, device and panic guard, as
    // its own would (a panic fails the trial with the same message).
    let device = crate::device::current();
    let scores: Vec<_> = (0..n)
        .into_par_iter()
        .with_max_len(1)
        .map(|i| {
            as_job(|| {
                guarded(|| cancel::with(token.clone(), || crate::device::with(device, || fold(i))))
                    .unwrap_or_else(|panic| Err(TrialError::Failed(format!("panicked: {panic}"))))
            })
        })
        .collect();
    for s in scores {
        add(&mut out, s?);
    }
    Ok(out)
}

/// Add one fold's result to a step's totals.
fn add(out: &mut StepScores, f: FoldScore) {
    out.folds.push(f.score);
    for (name, v) in f.metrics {
        *out.sums.entry(name.to_string()).or_insert(0.0) += v;
    }
    out.fit_secs += f.fit_secs;
    out.predict_secs += f.predict_secs;
    if let Some(p) = f.pred {
        out.preds.push(p);
    }
}

/// Fit `config` on `share` of fold `i`'s training rows and score it on the fold's validation rows.
fn fold_score(
    ctx: &EvalContext,
    token: &Token,
    seed: u64,
    config: &TrialConfig,
    i: usize,
    share: f64,
    keep: bool,
) -> std::result::Result<FoldScore, TrialError> {
    if let Some(r) = token.reason() {
        return Err(TrialError::Stopped(r.into()));
    }
    let data = ctx.data;
    let fold = &ctx.plan.folds[i];
    let rows = subset(&fold.train, &data.target, share, seed ^ (i as u64 + 1));
    let (pred, fit_secs, predict_secs) = if config.learner == "gbdt" {
        shared_gbdt(ctx, token, seed, config, i, &rows)?
    } else {
        let (pipe, fit) = timed(|| {
            Pipeline::fit(
                &data.schema,
                &data.features,
                &data.target,
                config,
                Some(&rows),
                seed,
            )
        });
        let pipe = pipe.map_err(|e| stop_or(token, e))?;
        let (pred, predict) = timed(|| pipe.predict(&data.features, Some(&fold.valid)));
        (pred.map_err(|e| stop_or(token, e))?, fit, predict)
    };
    let truth = subset_target(&data.target, Some(&fold.valid));
    let score = ctx.metric.score(&truth, &pred)?;
    if !score.is_finite() {
        return Err(Error::learner(&config.learner, format!("{} is not finite", ctx.metric.name())).into());
    }
    let report = Metric::report_set(data.schema.task);
    let mut metrics = Vec::with_capacity(report.len() + 1);
    for m in report {
        let v = if *m == ctx.metric {
            score
        } else {
            m.score(&truth, &pred)?
        };
        metrics.push((m.name(), v));
    }
    if !report.contains(&ctx.metric) {
        metrics.push((ctx.metric.name(), score));
    }
    Ok(FoldScore {
        score,
        metrics,
        fit_secs,
        predict_secs,
        pred: keep.then_some(pred),
    })
}

/// Fit and predict fold `i` of a gbdt trial on the run's shared binned data; returns the
/// prediction and the seconds spent fitting and predicting.
fn shared_gbdt(
    ctx: &EvalContext,
    token: &Token,
    seed: u64,
    config: &TrialConfig,
    i: usize,
    rows: &[usize],
) -> std::result::Result<(Prediction, f64, f64), TrialError> {
    let data = ctx.data;
    let shared = ctx.gbdt.get(data, ctx.plan)?;
    // Fit time includes taking the fold's rows, as a pipeline's encoding counts in its fit.
    let (model, fit_secs) = timed(|| -> std::result::Result<_, TrialError> {
        let params = GbdtParams::from_params(&config.params)?;
        let view;
        let train = if rows == ctx.plan.folds[i].train.as_slice() {
            &shared.train[i]
        } else {
            view = shared.all.rows(rows)?;
            &view
        };
        let target = subset_target(&data.target, Some(rows));
        let fit = gbdt::Fit {
            data: train,
            y: Y::of(&target, data.schema.classes.len()),
            valid: None,
        };
        gbdt::train(&params, fit, seed, &mut |_| true).map_err(|e| stop_or(token, e))
    });
    let model = model?;
    let (pred, predict_secs) = timed(|| {
        model
            .predict_data(&shared.valid[i])
            .and_then(|p| p.checked("gbdt"))
    });
    Ok((pred.map_err(|e| stop_or(token, e))?, fit_secs, predict_secs))
}

#[cfg(test)]
mod tests {
    use super::super::{objective, LEARNER, MAX_STEP};
    use super::*;
    use crate::data::Dataset;
    use crate::space::{ParamSpec, SearchSpace};
    use crate::state::TrialState;
    use crate::sweep::{Limits, Sweep};
    use crate::validation;

    /// A fold job run inside another fold's fit (rayon's work stealing) counts in its own time
    /// only, so a trial's summed fold times stay within its threads' wall time.
    #[test]
    fn a_nested_fold_job_is_timed_once() {
        let sleep = |ms| std::thread::sleep(std::time::Duration::from_millis(ms));
        let mut inner = 0.0;
        let ((), outer) = timed(|| {
            sleep(10);
            ((), inner) = as_job(|| timed(|| sleep(60)));
        });
        assert!(inner >= 0.06, "{inner}");
        assert!((0.01..0.05).contains(&outer), "{outer}");
    }

    /// Folds run as parallel jobs give exactly what they give one after the other.
    #[test]
    fn parallel_folds_score_as_sequential_ones() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/penguins/train.csv");
        let data = Dataset::from_path(&p, "species", None).unwrap();
        let plan = validation::plan(&data.target, 3, &mut Vec::new()).unwrap();
        assert!(plan.folds.len() >= 2);
        let space = SearchSpace::new().add(
            LEARNER,
            ParamSpec::choice(["gbdt", "knn", "random_forest", "logistic_regression"]),
        );
        let run = |fold_steps: bool| {
            let ctx = EvalContext {
                data: &data,
                plan: &plan,
                metric: Metric::Accuracy,
                steps: vec![MAX_STEP],
                fold_steps,
                gbdt: Default::default(),
                bank: None,
                slots: Default::default(),
            };
            let sweep = Sweep::builder(space.clone())
                .sampler(crate::samplers::SamplerKind::Grid)
                .jobs(2)
                .build()
                .unwrap();
            sweep
                .optimize(|t| objective(&ctx, t), Limits::default())
                .unwrap()
                .trials
        };
        let (parallel, sequential) = (run(false), run(true));
        assert_eq!(parallel.len(), 4);
        for (p, s) in parallel.iter().zip(&sequential) {
            assert_eq!(p.state, TrialState::Completed, "{:?}", p.error);
            assert_eq!(p.params, s.params);
            assert_eq!(p.folds.len(), plan.folds.len());
            assert_eq!(p.folds, s.folds, "{:?}", p.params);
            assert_eq!(p.metrics, s.metrics, "{:?}", p.params);
        }
    }
}
