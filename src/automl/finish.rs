//! The end of `automl run`: choose between the best trial and a greedy ensemble of the best
//! trials (by validation score), and refit the winner on all rows — ensemble members in parallel,
//! only as many as the time left allows.

use std::time::Instant;

use rayon::prelude::*;

use crate::data::Dataset;
use crate::ensemble::{self, Banked, EnsembleKind, Selection, Validation};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::model::{subset_target, Body, EnsembleMember, Pipeline};
use crate::sweep::TrialRecord;
use crate::trials::{self, PipelineTrial};
use crate::validation::Plan;

/// What the final step decided about ensembling, for the leaderboard and `--json`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleReport {
    /// `(trial, weight)` of the blend greedy selection found, largest weight first.
    pub weights: Vec<(usize, f64)>,
    /// Its validation score (mean over folds).
    pub score: f64,
    /// The leaderboard's best trial's score on the same rows.
    pub single: f64,
    /// Whether it became the model (else why not).
    pub used: bool,
    /// Why it was not used, or what was cut to fit the time left.
    pub note: Option<String>,
}

/// Inputs of the final step.
pub(super) struct Finish<'a> {
    pub data: &'a Dataset,
    pub plan: &'a Plan,
    pub metric: Metric,
    pub seed: u64,
    pub jobs: usize,
    pub kind: EnsembleKind,
    pub bank: Vec<Banked>,
    pub trials: &'a [std::sync::Arc<TrialRecord>],
    /// Finish by then when possible (the time budget plus its 5 % allowance).
    pub deadline: Option<Instant>,
    /// Rows of the full data / rows of one fold's training part.
    pub refit_scale: f64,
}

/// The fitted final model.
pub(super) struct Finished {
    pub body: Body,
    pub members: Vec<EnsembleMember>,
    /// The ensemble's validation score, when the ensemble is the model.
    pub score: Option<f64>,
    /// The ensemble's validation value of every reported metric (mean over folds).
    pub metrics: std::collections::BTreeMap<String, f64>,
    pub report: Option<EnsembleReport>,
}

impl Finish<'_> {
    fn record(&self, id: usize) -> Option<&TrialRecord> {
        self.trials.iter().map(|t| &**t).find(|t| t.id == id)
    }

    /// Estimated seconds to refit trial `id` on all rows.
    fn refit_estimate(&self, id: usize) -> f64 {
        let folds = self.plan.folds.len().max(1) as f64;
        self.record(id)
            .map_or(0.0, |t| trials::refit_secs(t, folds, self.refit_scale))
    }

    /// The validation rows as the bank lays out predictions: fold after fold.
    fn validation(&self) -> Validation {
        let rows: Vec<usize> = self
            .plan
            .folds
            .iter()
            .flat_map(|f| f.valid.iter().copied())
            .collect();
        Validation {
            truth: subset_target(&self.data.target, Some(&rows)),
            folds: self.plan.folds.iter().map(|f| f.valid.len()).collect(),
            width: self.data.schema.classes.len(),
        }
    }

    /// Greedy selection over the bank, when asked for and there is something to blend.
    fn selection(&self, valid: &Validation) -> Option<Result<Selection>> {
        if self.kind == EnsembleKind::None || self.bank.len() < 2 {
            return None;
        }
        Some(ensemble::select(&self.bank, valid, self.metric, ensemble::ROUNDS))
    }

    /// How much `score` improves on `base` (positive: better, whatever the metric's direction).
    fn gain(&self, score: f64, base: f64) -> f64 {
        if self.metric.higher_is_better() {
            score - base
        } else {
            base - score
        }
    }

    fn fit_one(&self, id: usize) -> Result<Pipeline> {
        let t = self
            .record(id)
            .ok_or_else(|| Error::Config(format!("trial {id} is not among the run's trials")))?;
        let config = t.config();
        let data = self.data;
        trials::guarded(|| {
            Pipeline::fit(
                &data.schema,
                &data.features,
                &data.target,
                &config,
                None,
                trials::trial_seed(self.seed, id),
            )
        })
        .map_err(|p| Error::learner(&config.learner, format!("refit on all rows panicked: {p}")))
        .and_then(|r| r)
    }

    /// Choose and refit the final model; `best` is the leaderboard's first trial.
    pub fn run(self, best: &TrialRecord) -> Result<Finished> {
        let single = |report| -> Result<Finished> {
            Ok(Finished {
                body: Body::Single(self.fit_one(best.id)?),
                members: Vec::new(),
                score: None,
                metrics: Default::default(),
                report,
            })
        };
        let valid = self.validation();
        let sel = match self.selection(&valid) {
            None => return single(None),
            Some(Err(e)) => {
                return single(Some(EnsembleReport {
                    weights: Vec::new(),
                    score: f64::NAN,
                    single: f64::NAN,
                    used: false,
                    note: Some(format!("ensemble selection failed: {e}")),
                }))
            }
            Some(Ok(sel)) => sel,
        };
        // The blend must beat the model it would replace — the leaderboard's best trial — on the
        // same validation folds, by more than a tenth of that trial's standard error over folds: a
        // blend that wins by less is noise, and the single model is simpler.
        let best_valid =
            ensemble::blend_score(&self.bank, &[(best.id, 1.0)], &valid, self.metric).unwrap_or(sel.single);
        let folds = best.folds.len().max(1) as f64;
        let margin = 0.1 * best.fold_std().unwrap_or(0.0) / folds.sqrt();
        let mut report = EnsembleReport {
            weights: sel.weights.clone(),
            score: sel.score,
            single: best_valid,
            used: false,
            note: None,
        };
        let gain = self.gain(sel.score, best_valid);
        if sel.weights.len() < 2 || gain <= margin {
            report.note = Some(format!(
                "the blend does not beat the best trial by more than {margin:.4}"
            ));
            return single(Some(report));
        }
        // Members by weight, as many as the time left allows (refits run `jobs` at a time).
        let mut members = sel.weights.clone();
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now()).as_secs_f64();
            let jobs = self.jobs.max(1) as f64;
            let mut total = 0.0;
            let mut keep = 0;
            for (id, _) in &members {
                let next = total + self.refit_estimate(*id);
                if keep > 0 && next / jobs > left {
                    break;
                }
                total = next;
                keep += 1;
            }
            if keep < members.len() {
                let cut = members.len() - keep;
                members.truncate(keep);
                let score = ensemble::blend_score(&self.bank, &members, &valid, self.metric)?;
                report.note = Some(format!(
                    "{cut} member(s) left out to finish within the time budget (blend {score:.4})"
                ));
                let gain = self.gain(score, best_valid);
                if members.len() < 2 || gain <= margin {
                    return single(Some(report));
                }
                report.score = score;
            }
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.jobs.max(1))
            .build()
            .map_err(|e| Error::Config(format!("cannot start refit threads: {e}")))?;
        let fitted: Vec<(usize, f64, Result<Pipeline>)> = pool.install(|| {
            members
                .par_iter()
                .map(|&(id, w)| (id, w, self.fit_one(id)))
                .collect()
        });
        let mut body = Vec::new();
        let mut described = Vec::new();
        let mut failed = Vec::new();
        for (id, w, p) in fitted {
            match (p, self.record(id)) {
                (Ok(p), Some(t)) => {
                    body.push((w, p));
                    described.push(EnsembleMember {
                        trial: id,
                        weight: w,
                        config: t.config(),
                        cv_score: t.score().unwrap_or(f64::NAN),
                    });
                }
                (Err(e), _) => failed.push(format!("trial {id}: {e}")),
                (Ok(_), None) => failed.push(format!("trial {id}: no record")),
            }
        }
        if !failed.is_empty() {
            report.note = Some(format!("refit failed, ensemble not used: {}", failed.join("; ")));
            return single(Some(report));
        }
        let total: f64 = described.iter().map(|m| m.weight).sum();
        for (m, b) in described.iter_mut().zip(body.iter_mut()) {
            m.weight /= total;
            b.0 /= total;
        }
        report.used = true;
        let weights: Vec<(usize, f64)> = described.iter().map(|m| (m.trial, m.weight)).collect();
        let blended = ensemble::blend_validation(&self.bank, &weights, valid.truth.len(), valid.width)?;
        let mut metrics = std::collections::BTreeMap::new();
        for m in Metric::report_set(self.data.schema.task)
            .iter()
            .chain([&self.metric])
        {
            if let Ok(v) = valid.score(*m, &blended) {
                metrics.insert(m.name().to_string(), v);
            }
        }
        // The model's score is the blend's as the metrics report it (same arithmetic).
        if let Some(v) = metrics.get(self.metric.name()) {
            report.score = *v;
        }
        Ok(Finished {
            body: Body::Ensemble(body),
            members: described,
            score: Some(report.score),
            metrics,
            report: Some(report),
        })
    }
}
