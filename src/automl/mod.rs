//! The library entry point: configure a search with [`AutoML::builder`], run it with [`AutoML::fit`].
//!
//! ```no_run
//! use automl::{AutoML, Dataset};
//! # fn main() -> automl::Result<()> {
//! let data = Dataset::from_path("datasets/iris/train.csv".as_ref(), "species", None)?;
//! let run = AutoML::builder().time_budget_secs(10.0).seed(42).build()?.fit(&data)?;
//! println!("best: {} {:.4}", run.best.config.learner, run.best.cv_score);
//! run.best.save("iris.automl".as_ref())?;
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::data::{Dataset, Task};
use crate::ensemble::{EnsembleKind, FinalFit, OofBank, BANK_CAP, PER_LEARNER};
use crate::error::{Error, Result};
use crate::guardrails::Guardrail;
use crate::metrics::Metric;
use crate::model::{Body, ModelFile, ModelInfo, FORMAT};
use crate::pruners::Policy;
use crate::space::{builtin_spaces, ParamSpec, SearchSpace};
use crate::state::TrialState;
use crate::store::{keys, MetricPoint, RunId};
use crate::sweep::TrialRecord;
use crate::sweep::{Goal, Limits, Sweep, TrialStore};
use crate::trials::{self, EvalContext, PipelineTrial};
use crate::validation;

mod artifacts;
mod builder;
mod finish;
mod recording;
mod refit_rows;

pub use crate::store::claims::hostname;
pub use artifacts::{
    bytes_hash, default_experiment, file_hash, git_commit, link_dataset, register_dataset, run_environment,
    run_log, save_insight, save_predictions, save_run_log, RegisteredDataset,
};
pub use builder::{AutoMLBuilder, TrialCallback};
pub use finish::EnsembleReport;
use recording::parent_run;
pub use recording::Recording;

/// A configured search.
#[derive(Clone)]
pub struct AutoML {
    s: AutoMLBuilder,
}

/// The outcome of [`AutoML::fit`]: every trial and the best pipeline refitted on all rows.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The task.
    pub task: Task,
    /// Primary metric.
    pub metric: Metric,
    /// Validation scheme.
    pub validation: String,
    /// Learners searched.
    pub learners: Vec<String>,
    /// Sampler used.
    pub sampler: String,
    /// Early-termination policy used.
    pub policy: String,
    /// Every trial in id order.
    pub trials: Vec<Arc<TrialRecord>>,
    /// The best model, ready to save or predict with.
    pub best: ModelFile,
    /// Id of the best trial.
    pub best_trial: usize,
    /// Seconds spent searching.
    pub search_secs: f64,
    /// Seconds spent choosing the final model and refitting it (on all rows, or on as many as
    /// the time left allows: see `fewer_rows`).
    pub refit_secs: f64,
    /// `(trial, rows)` of each final member refitted on fewer than all rows to finish within the
    /// time budget (never fewer than it was scored on); empty when every member saw all rows.
    pub fewer_rows: Vec<(usize, usize)>,
    /// What the final step found about ensembling (none with `--ensemble none`).
    pub ensemble: Option<EnsembleReport>,
    /// The data guardrails checked before the run (empty when none were given).
    pub guardrails: Vec<Guardrail>,
    /// Non-fatal remarks.
    pub warnings: Vec<String>,
    /// The parent run in the store, when recorded.
    pub run_id: Option<RunId>,
    /// What was resumed, for a resumed run.
    pub resumed: Option<String>,
}

impl RunSummary {
    /// Completed trials, best first.
    pub fn leaderboard(&self) -> Vec<&TrialRecord> {
        trials::ranked(&self.trials, self.metric)
    }

    /// Trials without a score (failed, or stopped before their first fold scored), in id order:
    /// what [`RunSummary::leaderboard`] leaves out.
    pub fn unranked(&self) -> Vec<&TrialRecord> {
        self.trials
            .iter()
            .map(|r| &**r)
            .filter(|r| r.score().is_none())
            .collect()
    }

    /// The model in one phrase: `trial 12 gbdt r2 = 0.9123 ± 0.0100`, or for an ensemble its
    /// size and validation score.
    pub fn best_label(&self) -> String {
        if self.best.ensemble.len() <= 1 {
            let bag = self.best.ensemble.first().map_or(String::new(), |m| {
                format!(" (its {} fold models averaged)", m.bag)
            });
            format!(
                "trial {} {} {} = {:.4} ± {:.4}{bag}",
                self.best_trial,
                self.best.config.learner,
                self.metric.name(),
                self.best.cv_score,
                self.best.cv_std
            )
        } else {
            format!(
                "{} of {} trials, {} = {:.4} (mean over validation folds)",
                if self.best.stacker.is_some() {
                    "a stack"
                } else {
                    "an ensemble"
                },
                self.best.ensemble.len(),
                self.metric.name(),
                self.best.cv_score
            )
        }
    }

    /// Number of failed trials.
    pub fn failed(&self) -> usize {
        self.count(TrialState::Failed)
    }

    /// Number of trials that ended in `status`.
    pub fn count(&self, status: TrialState) -> usize {
        self.trials.iter().filter(|t| t.state == status).count()
    }
}

/// Default worker count: every available core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl AutoML {
    /// Start configuring a search.
    pub fn builder() -> AutoMLBuilder {
        AutoMLBuilder::default()
    }

    /// Search for the best pipeline on `data`, then refit it on all rows.
    pub fn fit(&self, data: &Dataset) -> Result<RunSummary> {
        let s = &self.s;
        let run_started = s.started.unwrap_or_else(Instant::now);
        let task = data.schema.task;
        let metric = s.metric.unwrap_or(Metric::default_for(task));
        if !metric.fits(task) {
            let ok: Vec<&str> = crate::metrics::ALL
                .iter()
                .filter(|m| m.fits(task))
                .map(|m| m.name())
                .collect();
            return Err(Error::Config(format!(
                "metric {} does not apply to {} tasks (use one of: {})",
                metric.name(),
                task.name(),
                ok.join(", ")
            )));
        }
        let (prep, spaces) = builtin_spaces()?;
        let mut all = spaces;
        all.push(prep);
        if let Some(f) = &s.space_file {
            f.apply(&mut all)?;
        }
        let prep = all
            .pop()
            .ok_or_else(|| Error::Config("no preprocessing space".into()))?;
        let mut spaces: Vec<_> = all.into_iter().filter(|sp| sp.supports(task)).collect();
        let known: BTreeSet<&str> = crate::learners::names().into_iter().collect();
        let wanted = [
            s.learners.clone(),
            s.space_file.as_ref().and_then(|f| f.learners.clone()),
        ];
        for want in wanted.iter().flatten() {
            for w in want {
                if !known.contains(w.as_str()) {
                    return Err(Error::Config(format!(
                        "unknown learner '{w}' (known: {})",
                        crate::learners::names().join(", ")
                    )));
                }
            }
            spaces.retain(|sp| want.contains(&sp.learner));
        }
        if wanted.iter().all(Option::is_none) {
            spaces.retain(|sp| crate::learners::by_default(&sp.learner));
        }
        if spaces.is_empty() {
            return Err(Error::Config(format!(
                "none of the requested learners supports {} tasks",
                task.name()
            )));
        }
        let learners: Vec<String> = spaces.iter().map(|sp| sp.learner.clone()).collect();
        // One search space: the learner, preprocessing, and each learner's own parameters.
        let mut space = SearchSpace::new().add(
            trials::LEARNER,
            ParamSpec::choice(learners.iter().map(String::as_str)),
        );
        // Preprocessing is searched only for learners that take encoded input.
        let encoded: Vec<&str> = learners
            .iter()
            .map(String::as_str)
            .filter(|l| !crate::learners::native_input(l))
            .collect();
        if !encoded.is_empty() {
            for (name, spec) in &prep.params {
                if !crate::prep::applies(name, spec.dist.choices(), &data.features) {
                    continue;
                }
                let spec = spec.clone().when(trials::LEARNER, encoded.iter().copied());
                space = space.add(&format!("{}{name}", trials::PREP), spec);
            }
        }
        // Class weights are searched only on imbalanced classes (as the guardrail alerts), and
        // only for metrics they can serve: they move predictions towards the minority, which
        // metrics counting every row alike (accuracy, support-weighted precision) and log loss
        // penalise by design (measured on the suite: glass -0.023, car_choice -0.005 accuracy).
        let imbalanced = data
            .target
            .minority_ratio()
            .is_some_and(|r| r <= crate::guardrails::IMBALANCE_RATIO)
            && !matches!(
                metric,
                Metric::Accuracy | Metric::LogLoss | Metric::PrecisionWeighted
            );
        for sp in &spaces {
            for (name, spec) in &sp.params {
                if name == crate::learners::CLASS_WEIGHT && !imbalanced {
                    continue;
                }
                let spec = spec.clone().when(trials::LEARNER, [sp.learner.as_str()]);
                space = space.add(&format!("{}.{name}", sp.learner), spec);
            }
        }
        let policy = s.policy.clone().unwrap_or(Policy::None);
        let slots = crate::device::Slots::open(&s.devices)?;
        let bank = OofBank::new(metric, PER_LEARNER);
        let mut warnings = data.warnings.clone();
        let plan = validation::plan_with(&data.target, s.seed, s.validation, &mut warnings)?;
        // Large data: the share of training rows a trial fits on is searched too, from
        // SAMPLE_START rows (the cost-frugal search's starting point) up to all of them.
        let fold_rows = plan.folds.first().map_or(0, |f| f.train.len());
        if fold_rows >= 2 * trials::SAMPLE_START {
            let low = trials::SAMPLE_START as f64 / fold_rows as f64;
            space = space.add(
                trials::SAMPLE,
                ParamSpec::loguniform(low, 1.0).with_init(1.0).with_low_cost(low),
            );
        }
        // Steps under a policy: folds for cross-validation, growing subsets for a holdout.
        let fold_steps = policy != Policy::None && plan.folds.len() >= 2;
        let ctx = EvalContext {
            data,
            plan: &plan,
            metric,
            steps: if policy == Policy::None || fold_steps {
                vec![trials::MAX_STEP]
            } else {
                policy.report_steps(trials::MAX_STEP)
            },
            fold_steps,
            gbdt: Default::default(),
            bank: (s.ensemble != EnsembleKind::None).then_some(&bank),
            slots: slots.clone(),
        };
        let jobs = s.jobs.unwrap_or_else(default_jobs);
        // A recorded run writes its trials through its study; a resumed one keeps its finished
        // trials (replayed, not run again) and the time it already spent.
        let opened = match (&s.recording, s.resume) {
            (Some(r), resume) => {
                let expected = parent_run(r, data, metric, &plan.description, s, jobs);
                Some(recording::open(r, &expected, metric, resume, s.sharing.as_ref())?)
            }
            (None, Some(id)) => {
                return Err(Error::Config(format!(
                    "cannot resume run {id} without a workspace"
                )));
            }
            (None, None) => None,
        };
        let run_id = opened.as_ref().map(|o| o.id);
        if let (true, Some(id)) = (s.submit_only && s.sharing.is_some(), run_id) {
            return Err(Error::Submitted(id));
        }
        let spent = opened.as_ref().map_or(0.0, |o| o.spent);
        let mut resumed = opened.as_ref().and_then(|o| o.note.clone());
        let budget = s.time_budget.or(s.max_trials.is_none().then_some(60.0));
        if let (Some(note), Some(b)) = (resumed.as_mut(), budget) {
            if spent >= b {
                note.push_str("; the time budget is already spent: no new trial runs, the best kept trial is refitted and saved");
            }
        }
        // The budget left for this run; the search gets what is left of it after reading the
        // data (when the caller's clock started before) and preparing the search.
        let total = match (s.time_budget, s.max_trials) {
            (Some(t), _) => Some(Duration::from_secs_f64((t - spent).max(0.0))),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs_f64((60.0 - spent).max(0.0))),
        };
        let before_search = run_started.elapsed();
        let limits = Limits {
            time: total.map(|t| t.saturating_sub(before_search)),
            max_trials: s.max_trials,
            trial_timeout: s.trial_timeout.map(Duration::from_secs_f64),
            exit_score: s.exit_score,
        };
        let goal = if metric.higher_is_better() {
            Goal::Maximize
        } else {
            Goal::Minimize
        };
        let mut builder = Sweep::builder(space)
            .goal(goal)
            .sampler(s.sampler)
            .policy(policy.clone())
            .seed(s.seed)
            .jobs(jobs)
            .max_concurrent(s.max_concurrent.unwrap_or(crate::sweep::DEFAULT_MAX_CONCURRENT));
        if let Some(o) = &opened {
            builder = builder.store(o.study.clone());
        }
        let sweep = builder.build()?;
        // Under cross-validation the final members are, by default, their fold models averaged.
        let bagged = s.final_fit == FinalFit::Folds && plan.folds.len() >= 2;
        let progress = recording::Progress {
            recording: s.recording.as_ref().zip(run_id),
            started: Instant::now(),
            spent_before: spent,
            metric,
            error: std::sync::Mutex::new(None),
            user: s.on_trial.as_ref(),
            best: std::sync::Mutex::new(None),
            data,
            plan: &plan,
            bagged,
            ensemble: s.ensemble != EnsembleKind::None,
        };
        if let Some(o) = &opened {
            for t in o.study.trials()? {
                progress.consider(&t);
            }
        }
        let t0 = Instant::now();
        // Beats until this function returns: through the run's end too, when this worker holds it.
        let _beating = crate::store::heartbeat::Heartbeat::start(s.sharing.as_ref());
        let mut results = sweep.optimize_with(|t| trials::objective(&ctx, t), limits, &progress);
        // The search's shared boosting input (the whole table binned, a view per fold) is not
        // used by the final refit: freed before it, as the refit is the run's memory peak.
        drop(ctx);
        if let (Some(sh), Some(id), Some(o)) = (&s.sharing, run_id, &opened) {
            if !sh.claim_end(id)? {
                return Err(Error::FinishedElsewhere(format!(
                    "run {id}: this worker's trials are done; another worker finishes the run"
                )));
            }
            if let Ok(r) = results.as_mut() {
                r.trials = o.study.trials()?;
            }
        }
        let search_secs = t0.elapsed().as_secs_f64();
        let store_error = results.as_ref().ok().and_then(|r| r.store_error.clone());
        if let Some(e) = store_error.or(progress.error.into_inner().ok().flatten()) {
            warnings.push(format!("some trials could not be recorded: {e}"));
        }
        let results = results.map(|r| r.trials);
        let results = match (results, &s.recording, run_id) {
            (Err(e), Some(r), Some(id)) => {
                r.store.finish_run(id, TrialState::Failed, Some(&e.to_string()))?;
                return Err(e);
            }
            (res, _, _) => res?,
        };
        let ranked = trials::ranked(&results, metric);
        let Some(best) = ranked.first().copied() else {
            let mut reasons: Vec<String> = results
                .iter()
                .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.learner())))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .take(3)
                .collect();
            if reasons.is_empty() {
                reasons.push(match total {
                    Some(t) if before_search >= t => format!(
                        "the time budget ({:.1} s) was spent before the search started: reading and \
                         preparing the data took {:.1} s; give a longer --time-budget",
                        t.as_secs_f64(),
                        before_search.as_secs_f64()
                    ),
                    _ => "the budget allowed no trial to finish".into(),
                });
            }
            return Err(Error::NoModel(format!(
                "{} trial(s) ran; {}",
                results.len(),
                reasons.join("; ")
            )));
        };
        if s.sharing.is_some() && s.ensemble != EnsembleKind::None {
            warnings.push(
                "ensembling is off in a run shared with workers (each keeps only its own trials' \
                 validation predictions): the best trial is refitted"
                    .into(),
            );
        }
        let t1 = Instant::now();
        let finish = finish::Finish {
            data,
            plan: &plan,
            metric,
            seed: s.seed,
            jobs,
            // Shared runs: other workers' out-of-fold predictions are not here.
            kind: if s.sharing.is_some() {
                EnsembleKind::None
            } else {
                s.ensemble
            },
            bank: bank.into_best(BANK_CAP),
            trials: &results,
            // The final step may use the budget's 5 % allowance: members that fit in it are
            // refitted rather than dropped when the search ran to its end.
            deadline: total.map(|t| run_started + t.mul_f64(1.05)),
            bagged,
            second: if bagged {
                let scheme = validation::Scheme::Folds(plan.folds.len());
                validation::plan_with(
                    &data.target,
                    finish::second_split_seed(s.seed),
                    scheme,
                    &mut Vec::new(),
                )
                .map(|p| p.folds)
                .unwrap_or_default()
            } else {
                Vec::new()
            },
        };
        let finished = match (finish.run(best), &s.recording, run_id) {
            (Err(e), Some(r), Some(id)) => {
                r.store.finish_run(id, TrialState::Failed, Some(&e.to_string()))?;
                return Err(e);
            }
            (f, _, _) => f?,
        };
        let refit_secs = t1.elapsed().as_secs_f64();
        let rows = data.n_rows();
        warnings.extend(finished.fewer_rows.iter().map(|&(id, used)| {
            format!(
                "trial {id} ({}) refitted on {used} of {rows} rows to finish within the time \
                 budget (a longer --time-budget refits it on all rows)",
                results.iter().find(|t| t.id == id).map_or("?", |t| t.learner())
            )
        }));
        let config = finished
            .members
            .first()
            .map_or_else(|| best.config(), |m| m.config.clone());
        let info = ModelInfo {
            format: FORMAT.to_string(),
            format_version: if finished.calibration.is_some() {
                finished
                    .body
                    .format_version(&finished.members)
                    .max(crate::model::FORMAT_VERSION_CALIBRATED)
            } else {
                finished.body.format_version(&finished.members)
            },
            automl_version: env!("CARGO_PKG_VERSION").to_string(),
            schema: data.schema.clone(),
            metric: metric.name().to_string(),
            validation: plan.description.clone(),
            cv_score: finished.score.unwrap_or_else(|| best.score().unwrap_or(f64::NAN)),
            cv_std: if finished.score.is_some() {
                0.0
            } else {
                best.fold_std().unwrap_or(0.0)
            },
            metrics: if finished.score.is_some() {
                finished.metrics
            } else {
                best.metrics.clone()
            },
            config,
            seed: s.seed,
            ensemble: finished.members,
            stacker: match &finished.body {
                Body::Stack(_, meta) => Some(meta.clone()),
                _ => None,
            },
            calibration: finished.calibration,
            sealed: true,
        };
        let model = ModelFile {
            info,
            body: finished.body,
        };
        let best_trial = best.id;
        if let (Some(r), Some(id)) = (&s.recording, run_id) {
            let mut points = vec![MetricPoint::now(
                &format!("cv_{}", metric.name()),
                0,
                model.cv_score,
            )];
            points.extend(model.metrics.iter().map(|(k, v)| MetricPoint::now(k, 0, *v)));
            r.store.log_metrics(id, &points)?;
            let (trial, n) = (best_trial.to_string(), results.len().to_string());
            r.store.set_tags(
                id,
                &[
                    (keys::BEST_TRIAL, &trial),
                    (keys::BEST_LEARNER, &model.config.learner),
                    (keys::TRIALS, &n),
                ],
            )?;
            if let Some(root) = &r.artifacts {
                let path = root.join(id.to_string()).join("model.automl");
                model.save(&path)?;
                r.store
                    .add_artifact_file(id, "model", &format!("artifacts/{id}/model.automl"), &path)?;
            }
            r.store.finish_run(id, TrialState::Completed, None)?;
            if let Some(sh) = &s.sharing {
                sh.claims.close_claim(id, -1, &sh.worker)?;
            }
        }
        Ok(RunSummary {
            task,
            metric,
            validation: plan.description,
            learners,
            sampler: s.sampler.name().to_string(),
            policy: policy.describe(),
            trials: results,
            best: model,
            best_trial,
            search_secs,
            refit_secs,
            fewer_rows: finished.fewer_rows,
            ensemble: finished.report,
            guardrails: s.guardrails.clone(),
            warnings,
            run_id,
            resumed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget counts from `started_at`: a budget spent before `fit` leaves the search no
    /// time, and the error says where the time went.
    #[test]
    fn a_budget_spent_before_the_search_is_named_in_the_error() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/iris/train.csv");
        let data = Dataset::from_path(&p, "species", None).unwrap();
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(5))
            .unwrap_or_else(Instant::now);
        let err = AutoML::builder()
            .time_budget_secs(1.0)
            .started_at(long_ago)
            .jobs(1)
            .build()
            .and_then(|a| a.fit(&data))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("was spent before the search started"), "{err}");
        // The same budget from the call itself finds a model.
        let run = AutoML::builder()
            .time_budget_secs(1.0)
            .jobs(1)
            .build()
            .and_then(|a| a.fit(&data))
            .unwrap();
        assert!(!run.trials.is_empty());
    }
}
