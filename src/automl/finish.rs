//! The end of `automl run`: choose between the best trial and an ensemble of the best trials —
//! greedy weights or a stack — by validation score, and fit the winner's members (their fold
//! models again, also on a second split's folds when there is time, or one refit on all rows
//! each) in parallel, only as many as the time left allows.

use std::time::Instant;

use rayon::prelude::*;

use crate::data::Dataset;
use crate::ensemble::{self, stack, Banked, EnsembleKind, Validation};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::model::{subset_target, Body, EnsembleMember, Pipeline};
use crate::sweep::TrialRecord;
use crate::trials::{self, PipelineTrial};
use crate::validation::{Fold, Plan};

use super::refit_rows;

/// Mixed into a member's seed for the rows of a refit on fewer than all rows.
const REFIT_SUBSET: u64 = 0x5EED_0F5A_B5E7;

/// What the final step decided about ensembling, for the leaderboard and `--json`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleReport {
    /// The kind of ensemble built.
    pub kind: EnsembleKind,
    /// `(trial, weight)` of its members, largest weight first (for a stack: each member's share
    /// of the meta-model's weight).
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
    /// Make each member the average of its fold models instead of one pipeline refitted on all
    /// rows (only under cross-validation).
    pub bagged: bool,
    /// A second k-fold split of the same rows (another seed): when bagging and the time left
    /// allows, members are also fitted on its folds, so each averages 2k models that saw
    /// different rows (AutoGluon's repeated bagging). Empty: one split only.
    pub second: Vec<Fold>,
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
    /// Calibration of the ensemble's probabilities, fitted on its out-of-fold predictions.
    pub calibration: Option<ensemble::calibrate::Calibration>,
    /// `(trial, rows)` of each member refitted on fewer than all rows to finish in time.
    pub fewer_rows: Vec<(usize, usize)>,
}

impl Finish<'_> {
    fn record(&self, id: usize) -> Option<&TrialRecord> {
        self.trials.iter().map(|t| &**t).find(|t| t.id == id)
    }

    /// Trial `id`'s record, or an error naming it.
    fn trial(&self, id: usize) -> Result<&TrialRecord> {
        self.record(id)
            .ok_or_else(|| Error::Config(format!("trial {id} is not among the run's trials")))
    }

    /// Seconds to schedule for fitting trial `id`'s final pipelines on the run's folds (or on
    /// `share` of all rows): the estimate plus the search's 25 % margin, as fit times grow a
    /// little faster than the rows.
    fn refit_estimate(&self, id: usize, share: f64) -> f64 {
        self.record(id).map_or(0.0, |t| {
            1.25 * if self.bagged {
                trials::refit_secs(self.data, self.plan, t, true)
            } else {
                trials::fit_secs_on(self.data, self.plan, t, share)
            }
        })
    }

    /// The smallest share of all rows trial `id`'s refit may use: the rows it was scored on (1
    /// when bagged: fold models are refitted on their folds' whole training parts).
    fn least_share(&self, id: usize) -> f64 {
        match self.record(id) {
            Some(t) if !self.bagged => trials::validated_share(self.data, self.plan, t),
            _ => 1.0,
        }
    }

    /// Seconds until the deadline (`None`: no deadline).
    fn left(&self) -> Option<f64> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()).as_secs_f64())
    }

    /// The share of rows each of `ids` is refitted on (see [`refit_rows::plan`]), `jobs` refits
    /// at a time; `None`: left out.
    fn shares(&self, ids: &[usize], jobs: usize) -> Vec<Option<f64>> {
        let least: Vec<f64> = ids.iter().map(|&id| self.least_share(id)).collect();
        refit_rows::plan(&least, |i, s| self.refit_estimate(ids[i], s), self.left(), jobs)
    }

    /// The rows trial `id` is refitted on for `share` of all rows: a seeded, class-stratified
    /// subset, or `None` for all rows (and when bagged: fold models see their whole folds).
    fn refit_rows(&self, id: usize, share: f64) -> Option<Vec<usize>> {
        let n = self.data.n_rows();
        if self.bagged || share >= 1.0 {
            return None;
        }
        let all: Vec<usize> = (0..n).collect();
        let seed = trials::trial_seed(self.seed, id) ^ REFIT_SUBSET;
        Some(trials::subset(&all, &self.data.target, share, seed)).filter(|rows| rows.len() < n)
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

    /// The ensemble of the kind asked for, when there is something to combine.
    fn combine(&self, valid: &Validation) -> Option<Result<Combo>> {
        self.combine_over(&self.bank, valid)
    }

    /// The ensemble of the kind asked for over `pool` (the bank, or part of it).
    fn combine_over(&self, pool: &[Banked], valid: &Validation) -> Option<Result<Combo>> {
        if pool.len() < 2 {
            return None;
        }
        match self.kind {
            EnsembleKind::None => None,
            EnsembleKind::Greedy => Some(
                ensemble::select(pool, valid, self.metric, ensemble::ROUNDS)
                    .map(|sel| Combo::Blend(sel.weights, sel.score)),
            ),
            EnsembleKind::Stack => Some(stack::build(pool, valid, self.metric).map(Combo::Stack)),
        }
    }

    /// How much `score` improves on `base` (positive: better, whatever the metric's direction).
    fn gain(&self, score: f64, base: f64) -> f64 {
        if self.metric.higher_is_better() {
            score - base
        } else {
            base - score
        }
    }

    /// Whether `combo` replaces the best trial `best` (validation score `single`): it gains more
    /// than `margin`, or — a blend on a coarse classification metric — it ties exactly and
    /// has the lower log loss on the same folds ([`Validation::tiebreak`]).
    fn beats(&self, combo: &Combo, best: usize, single: f64, margin: f64, valid: &Validation) -> bool {
        if self.gain(combo.score(), single) > margin {
            return true;
        }
        let Combo::Blend(members, score) = combo else {
            return false;
        };
        if *score != single {
            return false;
        }
        let tiebreak = |m: &[(usize, f64)]| {
            ensemble::blend_validation(&self.bank, m, valid.truth.len(), valid.width)
                .and_then(|p| valid.tiebreak(self.metric, &p))
                .ok()
                .flatten()
        };
        match (tiebreak(members), tiebreak(&[(best, 1.0)])) {
            (Some(blend), Some(alone)) => blend < alone,
            _ => false,
        }
    }

    /// Trial `id`'s final pipelines: its cross-validation fold models (when bagging; also those
    /// of the second split when `twice`), else one refitted on `rows` (`None`: all rows, see
    /// [`Self::refit_rows`]). Folds are fitted in parallel on the current thread pool.
    fn fit_member(&self, id: usize, twice: bool, rows: Option<&[usize]>) -> Result<Vec<Pipeline>> {
        let t = self.trial(id)?;
        let config = t.config();
        let data = self.data;
        let seed = trials::trial_seed(self.seed, id);
        // Learners that can end early with a usable model (mlp: its best epoch so far) stop at
        // the run's deadline instead of running past the budget.
        let token = crate::cancel::current().with_soft_deadline(self.deadline);
        let fit = |rows: Option<&[usize]>| {
            trials::guarded(|| {
                crate::cancel::with(token.clone(), || {
                    Pipeline::fit(&data.schema, &data.features, &data.target, &config, rows, seed)
                })
            })
            .map_err(|p| Error::learner(&config.learner, format!("final fit panicked: {p}")))
            .and_then(|r| r)
        };
        if self.bagged {
            let extra = if twice { self.second.as_slice() } else { &[] };
            let folds: Vec<&Fold> = self.plan.folds.iter().chain(extra).collect();
            folds.par_iter().map(|f| fit(Some(&f.train))).collect()
        } else {
            fit(rows).map(|p| vec![p])
        }
    }

    /// Whether members estimated at `secs` each (refit estimates, margin included) can
    /// all be fitted on both splits before the deadline, `jobs` fold fits at a time.
    fn both_splits_fit(&self, secs: &[f64]) -> bool {
        if !self.bagged || self.second.is_empty() {
            return false;
        }
        twice_fits(secs, self.left(), self.jobs, self.plan.folds.len())
    }

    /// A one-trial model: its pipeline, or its fold models averaged.
    /// Refitted on as many rows as the time left allows, not fewer than it was scored on (`(id,
    /// rows)` pushed to `fewer` when that is not all rows).
    fn single_body(
        &self,
        id: usize,
        pool: &rayon::ThreadPool,
        fewer: &mut Vec<(usize, usize)>,
    ) -> Result<(Body, Vec<EnsembleMember>)> {
        let twice = self.both_splits_fit(&[self.refit_estimate(id, 1.0)]);
        let share = self.shares(&[id], 1)[0].unwrap_or_else(|| self.least_share(id));
        let rows = self.refit_rows(id, share);
        fewer.extend(rows.as_ref().map(|r| (id, r.len())));
        let mut bag = pool.install(|| self.fit_member(id, twice, rows.as_deref()))?;
        if bag.len() == 1 {
            if let Some(p) = bag.pop() {
                return Ok((Body::Single(p), Vec::new()));
            }
        }
        let t = self.trial(id)?;
        let k = bag.len() as f64;
        let member = EnsembleMember {
            trial: id,
            weight: 1.0,
            config: t.config(),
            cv_score: t.score().unwrap_or(f64::NAN),
            bag: bag.len(),
        };
        Ok((
            Body::Ensemble(bag.into_iter().map(|p| (1.0 / k, p)).collect()),
            vec![member],
        ))
    }

    /// The share of rows each of `members` is refitted on, for those whose refits fit the time
    /// left (see [`Self::shares`]).
    fn planned(&self, members: &[(usize, f64)]) -> std::collections::BTreeMap<usize, f64> {
        let ids: Vec<usize> = members.iter().map(|m| m.0).collect();
        ids.iter()
            .zip(self.shares(&ids, self.jobs))
            .filter_map(|(id, s)| s.map(|s| (*id, s)))
            .collect()
    }

    /// The ensemble chosen again (greedy selection, or the stack's best trial of each learner)
    /// over the bank less the trials whose refits did not fit (`unfit`), then less those of the
    /// new ensemble that do not fit either, a few times: an ensemble of at least two members
    /// that all fit, with its refit plan, or `None`.
    fn combo_that_fits(
        &self,
        unfit: &[usize],
        valid: &Validation,
    ) -> Option<(Combo, std::collections::BTreeMap<usize, f64>)> {
        let mut out: std::collections::BTreeSet<usize> = unfit.iter().copied().collect();
        for _ in 0..4 {
            let pool: Vec<Banked> = self
                .bank
                .iter()
                .filter(|b| !out.contains(&b.trial))
                .cloned()
                .collect();
            let combo = self.combine_over(&pool, valid)?.ok()?;
            let members = combo.members();
            let plan = self.planned(&members);
            let cut = left_out(&members, &plan);
            if cut.is_empty() {
                return (members.len() >= 2).then_some((combo, plan));
            }
            out.extend(cut);
        }
        None
    }

    /// Choose and refit the final model; `best` is the leaderboard's first trial.
    pub fn run(self, best: &TrialRecord) -> Result<Finished> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.jobs.max(1))
            .build()
            .map_err(|e| Error::Config(format!("cannot start refit threads: {e}")))?;
        let single = |report| -> Result<Finished> {
            let mut fewer = Vec::new();
            let (body, members) = self.single_body(best.id, &pool, &mut fewer)?;
            Ok(Finished {
                body,
                members,
                score: None,
                metrics: Default::default(),
                report,
                calibration: None,
                fewer_rows: fewer,
            })
        };
        let valid = self.validation();
        let combo = match self.combine(&valid) {
            None => return single(None),
            Some(Err(e)) => {
                return single(Some(EnsembleReport {
                    kind: self.kind,
                    weights: Vec::new(),
                    score: f64::NAN,
                    single: f64::NAN,
                    used: false,
                    note: Some(format!("ensemble selection failed: {e}")),
                }))
            }
            Some(Ok(c)) => c,
        };
        // The ensemble must beat the model it would replace — the leaderboard's best trial — on
        // the same validation folds, by more than a tenth of that trial's standard error over
        // folds: an ensemble that wins by less is noise, and the single model is simpler.
        let best_valid = ensemble::blend_score(&self.bank, &[(best.id, 1.0)], &valid, self.metric)
            .unwrap_or(best.score().unwrap_or(f64::NAN));
        let folds = best.folds.len().max(1) as f64;
        let margin = 0.1 * best.fold_std().unwrap_or(0.0) / folds.sqrt();
        let mut report = EnsembleReport {
            kind: self.kind,
            weights: combo.members(),
            score: combo.score(),
            single: best_valid,
            used: false,
            note: None,
        };
        // A blend of one trial, or an ensemble not better than the best trial by the margin.
        let falls_short = |c: &Combo| {
            matches!(c, Combo::Blend(w, _) if w.len() < 2)
                || !self.beats(c, best.id, best_valid, margin, &valid)
        };
        if falls_short(&combo) {
            report.note = Some(format!(
                "the {} does not beat the best trial by more than {margin:.4}",
                combo.noun()
            ));
            return single(Some(report));
        }
        // Members by weight, as many as the time left allows (refits run `jobs` at a time, each
        // taken by the first free thread; estimates with their 25 % margin): those that would not
        // finish even on the rows they were scored on are left out, heaviest weight first (a
        // cheaper one after them may still fit); the others see as many rows as fit.
        let mut combo = combo;
        let mut planned = self.planned(&combo.members());
        let unfit = left_out(&combo.members(), &planned);
        // An ensemble with members the time cannot refit is chosen again among the trials whose
        // refits fit, instead of reweighting what is left of it: the members left would often
        // be the cheap, weaker ones, and a blend of those can fall below the best trial, whose
        // single refit (on fewer rows, when it is costly) then becomes the model; a stack would
        // lose the unfit member's learner instead of taking its next best trial that fits.
        if !unfit.is_empty() {
            if let Some((again, plan)) = self.combo_that_fits(&unfit, &valid) {
                report.note = Some(format!(
                    "{} member(s) left out to finish within the time budget; {} chosen again \
                     among the trials that fit ({:.4})",
                    unfit.len(),
                    again.noun(),
                    again.score()
                ));
                report.weights = again.members();
                if falls_short(&again) {
                    return single(Some(report));
                }
                report.score = again.score();
                combo = again;
                planned = plan;
            }
        }
        let members = combo.members();
        let kept: Vec<usize> = members
            .iter()
            .map(|m| m.0)
            .filter(|id| planned.contains_key(id))
            .collect();
        if kept.len() < members.len() {
            let cut = members.len() - kept.len();
            if kept.len() < 2 {
                report.note = Some(format!(
                    "{cut} member(s) left out to finish within the time budget, too few left"
                ));
                return single(Some(report));
            }
            combo = combo.without_others(&kept, &self.bank, &valid, self.metric)?;
            report.note = Some(format!(
                "{cut} member(s) left out to finish within the time budget ({} {:.4})",
                combo.noun(),
                combo.score()
            ));
            report.weights = combo.members();
            if falls_short(&combo) {
                return single(Some(report));
            }
            report.score = combo.score();
        }
        let order = combo.members();
        let subsets: std::collections::BTreeMap<usize, Vec<usize>> = order
            .iter()
            .filter_map(|&(id, _)| {
                let share = planned.get(&id).copied().unwrap_or(1.0);
                self.refit_rows(id, share).map(|rows| (id, rows))
            })
            .collect();
        let fewer_rows: Vec<(usize, usize)> = order
            .iter()
            .filter_map(|&(id, _)| subsets.get(&id).map(|rows| (id, rows.len())))
            .collect();
        let estimates: Vec<f64> = order
            .iter()
            .map(|(id, _)| self.refit_estimate(*id, 1.0))
            .collect();
        let twice = self.both_splits_fit(&estimates);
        let fitted: Vec<(usize, Result<Vec<Pipeline>>)> = pool.install(|| {
            order
                .par_iter()
                .map(|&(id, _)| {
                    let rows = subsets.get(&id).map(Vec::as_slice);
                    (id, self.fit_member(id, twice, rows))
                })
                .collect()
        });
        let mut pipelines = std::collections::BTreeMap::new();
        let mut failed = Vec::new();
        for (id, p) in fitted {
            match p {
                Ok(p) => {
                    pipelines.insert(id, p);
                }
                Err(e) => failed.push(format!("trial {id}: {e}")),
            }
        }
        if !failed.is_empty() {
            report.note = Some(format!("refit failed, ensemble not used: {}", failed.join("; ")));
            return single(Some(report));
        }
        let mut described = Vec::new();
        for &(id, w) in &order {
            let t = self.trial(id)?;
            described.push(EnsembleMember {
                trial: id,
                weight: w,
                config: t.config(),
                cv_score: t.score().unwrap_or(f64::NAN),
                bag: pipelines.get(&id).map_or(1, Vec::len),
            });
        }
        let (body, validation) = match combo {
            Combo::Blend(weights, _) => {
                let body = weights
                    .iter()
                    .filter_map(|(id, w)| pipelines.remove(id).map(|bag| (*w, bag)))
                    .flat_map(|(w, bag)| {
                        let k = bag.len() as f64;
                        bag.into_iter().map(move |p| (w / k, p))
                    })
                    .collect();
                let pred = ensemble::blend_validation(&self.bank, &weights, valid.truth.len(), valid.width)?;
                (Body::Ensemble(body), pred)
            }
            Combo::Stack(fit) => {
                let body = fit.trials.iter().filter_map(|id| pipelines.remove(id)).collect();
                (Body::Stack(body, fit.meta), fit.validation)
            }
        };
        report.used = true;
        let mut metrics = std::collections::BTreeMap::new();
        for m in Metric::report_set(self.data.schema.task)
            .iter()
            .chain([&self.metric])
        {
            if let Ok(v) = valid.score(*m, &validation) {
                metrics.insert(m.name().to_string(), v);
            }
        }
        // The model's score is the ensemble's as the metrics report it (same arithmetic).
        if let Some(v) = metrics.get(self.metric.name()) {
            report.score = *v;
        }
        // Blends chosen for a ranking metric can be badly calibrated: calibrate on the
        // out-of-fold predictions (binary: order kept; multiclass: labels kept, so not under a
        // per-class ranking metric).
        let ranking = matches!(
            self.metric,
            Metric::AucWeighted | Metric::AveragePrecisionWeighted
        );
        let calibration = if valid.width > 2 && ranking {
            None
        } else {
            ensemble::calibrate::fit(&valid.truth, &validation)
        };
        Ok(Finished {
            body,
            members: described,
            score: Some(report.score),
            metrics,
            report: Some(report),
            calibration,
            fewer_rows,
        })
    }
}

/// An ensemble found on the validation predictions, before its members are refitted.
enum Combo {
    /// Greedy selection: `(trial, weight)` largest first, and the blend's validation score.
    Blend(Vec<(usize, f64)>, f64),
    /// A stack with its cross-validated score.
    Stack(stack::StackFit),
}

impl Combo {
    fn noun(&self) -> &'static str {
        match self {
            Combo::Blend(..) => "blend",
            Combo::Stack(_) => "stack",
        }
    }

    fn score(&self) -> f64 {
        match self {
            Combo::Blend(_, s) => *s,
            Combo::Stack(f) => f.score,
        }
    }

    /// `(trial, weight)` heaviest first (a stack member's weight is its share of the meta-model).
    fn members(&self) -> Vec<(usize, f64)> {
        match self {
            Combo::Blend(w, _) => w.clone(),
            Combo::Stack(f) => {
                let mut v: Vec<(usize, f64)> = f
                    .trials
                    .iter()
                    .copied()
                    .zip(f.importance.iter().copied())
                    .collect();
                v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                v
            }
        }
    }

    /// The same kind of ensemble over the `kept` members only (weights renormalised, or the
    /// meta-model refitted with the same penalty), rescored.
    fn without_others(
        self,
        kept: &[usize],
        bank: &[Banked],
        valid: &Validation,
        metric: Metric,
    ) -> Result<Combo> {
        match self {
            Combo::Blend(w, _) => {
                let mut w: Vec<(usize, f64)> = w.into_iter().filter(|m| kept.contains(&m.0)).collect();
                let total: f64 = w.iter().map(|m| m.1).sum();
                w.iter_mut().for_each(|m| m.1 /= total);
                let score = ensemble::blend_score(bank, &w, valid, metric)?;
                Ok(Combo::Blend(w, score))
            }
            Combo::Stack(f) => {
                let trials: Vec<usize> = f.trials.iter().copied().filter(|t| kept.contains(t)).collect();
                stack::fit(bank, &trials, valid, metric, Some(f.strength)).map(Combo::Stack)
            }
        }
    }
}

/// The trials among `members` that the refit `plan` leaves out (their refits do not fit).
fn left_out(members: &[(usize, f64)], plan: &std::collections::BTreeMap<usize, f64>) -> Vec<usize> {
    members
        .iter()
        .map(|m| m.0)
        .filter(|id| !plan.contains_key(id))
        .collect()
}

/// The seed of the second k-fold split that bagged members are also fitted on: derived from the
/// run's seed, so the final model stays a function of the seed.
pub(super) fn second_split_seed(seed: u64) -> u64 {
    seed.wrapping_add(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

/// Whether fitting members of estimated one-split cost `secs` on two splits of `folds` folds
/// each, `jobs` fold fits at a time, fits in `left` seconds (`None`: no deadline). Twice the
/// total work spread over the threads, and no less than the largest member's two-split work
/// per fold.
fn twice_fits(secs: &[f64], left: Option<f64>, jobs: usize, folds: usize) -> bool {
    let Some(left) = left else {
        return true;
    };
    let total: f64 = secs.iter().map(|s| 2.0 * s).sum();
    let widest = secs.iter().copied().fold(0.0, f64::max) * 2.0 / folds.max(1) as f64;
    (total / jobs.max(1) as f64).max(widest) <= left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_split_is_fitted_only_when_the_time_left_allows_it() {
        // No deadline: always.
        assert!(twice_fits(&[100.0], None, 1, 5));
        // Two members of 1 s and 3 s on 2 threads: 8 s of work, 4 s of wall time.
        assert!(twice_fits(&[1.0, 3.0], Some(4.0), 2, 5));
        assert!(!twice_fits(&[1.0, 3.0], Some(3.9), 2, 5));
        // One thread does all of it.
        assert!(!twice_fits(&[1.0, 3.0], Some(7.9), 1, 5));
        // Nothing left: never.
        assert!(!twice_fits(&[0.5], Some(0.0), 2, 5));
        assert!(twice_fits(&[], Some(0.0), 2, 5));
    }

    /// Diabetes' training rows with a seeded 80 / 20 holdout.
    fn diabetes_holdout() -> (Dataset, Plan) {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/diabetes/train.csv");
        let data = Dataset::from_path(&p, "progression", None).unwrap();
        let plan = crate::validation::plan_with(
            &data.target,
            1,
            crate::validation::Scheme::Holdout(0.2),
            &mut Vec::new(),
        )
        .unwrap();
        (data, plan)
    }

    /// The final step of a greedy-ensemble R² run (2 jobs, not bagged) with `left` seconds to go.
    fn greedy_r2<'a>(
        data: &'a Dataset,
        plan: &'a Plan,
        bank: Vec<Banked>,
        trials: &'a [std::sync::Arc<TrialRecord>],
        left: f64,
    ) -> Finish<'a> {
        Finish {
            data,
            plan,
            metric: Metric::R2,
            seed: 1,
            jobs: 2,
            kind: EnsembleKind::Greedy,
            bank,
            trials,
            deadline: Some(Instant::now() + std::time::Duration::from_secs_f64(left)),
            bagged: false,
            second: Vec::new(),
        }
    }

    /// A holdout run's final step on diabetes whose best trial (ridge, scored on a tenth of the
    /// training rows in 1 s) would need over 12 s to refit on all rows, with `left` seconds to go.
    fn finish_single(left: f64) -> Finished {
        let (data, plan) = diabetes_holdout();
        let mut params = crate::param::Params::default();
        params.set(trials::LEARNER, crate::param::Value::Str("ridge".into()));
        params.set(trials::SAMPLE, crate::param::Value::Float(0.1));
        let best = std::sync::Arc::new(TrialRecord {
            id: 3,
            params,
            state: crate::sweep::TrialState::Completed,
            value: Some(0.4),
            steps: Vec::new(),
            cost: 0.0,
            metrics: Default::default(),
            folds: vec![0.4],
            fit_secs: Some(1.0),
            predict_secs: None,
            started_secs: 0.0,
            secs: 1.0,
            error: None,
            device: None,
        });
        let trials = [best.clone()];
        greedy_r2(&data, &plan, Vec::new(), &trials, left)
            .run(&best)
            .unwrap()
    }

    #[test]
    fn a_refit_too_slow_for_all_rows_uses_as_many_as_the_time_left_allows() {
        // Diabetes' training rows. Scored on a tenth of 80 %: 1 s (1.25 s with the margin) for
        // 8 % of the rows; 4 s left hold 3.2 times that (ridge grows as the rows), about 26 %.
        let rows = 353.0;
        let f = finish_single(4.0);
        assert_eq!(f.fewer_rows.len(), 1, "{:?}", f.fewer_rows);
        let (trial, used) = f.fewer_rows[0];
        assert_eq!(trial, 3);
        let share = used as f64 / rows;
        assert!(share > 0.2 && share < 0.27, "{used} rows");
        assert!(matches!(f.body, Body::Single(_)));
        // Not even the scored rows fit: refitted on those anyway (the only model there is).
        let f = finish_single(0.5);
        let (_, used) = f.fewer_rows[0];
        assert!((used as f64 - 0.08 * rows).abs() <= 1.0, "{used} rows");
        // Time enough: all rows, nothing reported.
        assert!(finish_single(60.0).fewer_rows.is_empty());
    }

    /// Validation predictions on diabetes' holdout rows, made of its truth and seeded noise:
    /// `[t + e1, t + a + e2, t - a + e3, t + e4]` with the `e` of sd 40 and `a` a shared error
    /// of sd 60. The second and third are each worse than the first, their average better, the
    /// average of the first three best; the fourth is like the first, a little worse (seed 5).
    fn four_predictions(data: &Dataset, plan: &Plan) -> Vec<Vec<f64>> {
        use rand::{Rng, SeedableRng};
        let crate::data::Target::Values(y) = &data.target else {
            panic!("regression")
        };
        let truth: Vec<f64> = plan.folds[0].valid.iter().map(|&i| y[i]).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut noise = |sd: f64| -> Vec<f64> {
            (0..truth.len())
                .map(|_| sd * (rng.gen::<f64>() - 0.5) * 12f64.sqrt())
                .collect()
        };
        let (e1, e2, e3, a, e4) = (noise(40.0), noise(40.0), noise(40.0), noise(60.0), noise(40.0));
        vec![
            truth.iter().zip(&e1).map(|(t, e)| t + e).collect(),
            (0..truth.len()).map(|i| truth[i] + a[i] + e2[i]).collect(),
            (0..truth.len()).map(|i| truth[i] - a[i] + e3[i]).collect(),
            truth.iter().zip(&e4).map(|(t, e)| t + e).collect(),
        ]
    }

    /// Banked trials 1, 2, … with these validation predictions, bank learner names and fit
    /// times, and their records.
    fn banked(
        data: &Dataset,
        plan: &Plan,
        trials: &[(&[f64], &str, f64)],
    ) -> (Vec<Banked>, Vec<std::sync::Arc<TrialRecord>>) {
        let truth = subset_target(&data.target, Some(&plan.folds[0].valid));
        let bank = ensemble::OofBank::new(Metric::R2, 8);
        let mut records = Vec::new();
        for (k, (pred, learner, fit)) in trials.iter().enumerate() {
            let id = k + 1;
            let pred = crate::learners::Prediction::Values(pred.to_vec());
            let score = Metric::R2.score(&truth, &pred).unwrap();
            bank.offer(id, learner, score, &[pred]);
            let mut params = crate::param::Params::default();
            params.set(trials::LEARNER, crate::param::Value::Str("ridge".into()));
            records.push(std::sync::Arc::new(TrialRecord {
                id,
                params,
                state: crate::sweep::TrialState::Completed,
                value: Some(score),
                steps: Vec::new(),
                cost: 0.0,
                metrics: Default::default(),
                folds: vec![score],
                fit_secs: Some(*fit),
                predict_secs: None,
                started_secs: 0.0,
                secs: 1.0,
                error: None,
                device: None,
            }));
        }
        (bank.into_best(8), records)
    }

    /// A blend whose best member cannot be refitted in time is chosen again among the trials
    /// that can, rather than cut down to what is left or given up for the best trial alone.
    #[test]
    fn a_blend_with_a_member_too_slow_to_refit_is_chosen_again_among_those_that_fit() {
        let (data, plan) = diabetes_holdout();
        let p = four_predictions(&data, &plan);
        // Trial 1 took a minute on its training rows: 5 s left cannot refit it.
        let (bank, trials) = banked(
            &data,
            &plan,
            &[(&p[0], "l1", 60.0), (&p[1], "l2", 0.01), (&p[2], "l3", 0.01)],
        );
        let scores: Vec<f64> = trials.iter().map(|t| t.value.unwrap()).collect();
        assert!(scores[0] > scores[1] && scores[0] > scores[2], "{scores:?}");
        let f = greedy_r2(&data, &plan, bank, &trials, 5.0)
            .run(&trials[0])
            .unwrap();
        let report = f.report.unwrap();
        assert!(report.used, "{report:?}");
        assert!(
            report
                .note
                .as_deref()
                .unwrap_or("")
                .contains("blend chosen again"),
            "{report:?}"
        );
        let mut ids: Vec<usize> = f.members.iter().map(|m| m.trial).collect();
        ids.sort_unstable();
        assert_eq!(ids, [2, 3], "{report:?}");
        assert!(report.score > report.single, "{report:?}");
    }

    /// A stack (the best trial of each learner) whose member cannot be refitted in time takes
    /// that learner's next best trial that can, instead of losing the learner.
    #[test]
    fn a_stack_with_a_member_too_slow_to_refit_takes_the_next_trial_of_its_learner() {
        let (data, plan) = diabetes_holdout();
        let p = four_predictions(&data, &plan);
        let (bank, trials) = banked(
            &data,
            &plan,
            &[
                (&p[0], "l1", 60.0),
                (&p[1], "l2", 0.01),
                (&p[2], "l3", 0.01),
                (&p[3], "l1", 0.01),
            ],
        );
        let scores: Vec<f64> = trials.iter().map(|t| t.value.unwrap()).collect();
        assert!(scores[0] > scores[3], "{scores:?}");
        let mut fin = greedy_r2(&data, &plan, bank, &trials, 5.0);
        fin.kind = EnsembleKind::Stack;
        let f = fin.run(&trials[0]).unwrap();
        let report = f.report.unwrap();
        assert!(
            report
                .note
                .as_deref()
                .unwrap_or("")
                .contains("stack chosen again"),
            "{report:?}"
        );
        let ids: std::collections::BTreeSet<usize> = report.weights.iter().map(|m| m.0).collect();
        assert!(ids.contains(&4) && !ids.contains(&1), "{report:?}");
    }

    #[test]
    fn the_second_split_seed_differs_from_the_run_seed_and_is_a_function_of_it() {
        assert_ne!(second_split_seed(42), 42);
        assert_eq!(second_split_seed(42), second_split_seed(42));
        assert_ne!(second_split_seed(42), second_split_seed(7));
    }
}
