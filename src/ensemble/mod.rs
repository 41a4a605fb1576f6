//! Ensembles of trials: the validation predictions of the best configurations, kept in a bounded
//! bank while the search runs, and greedy ensemble selection with replacement over them (Caruana
//! et al., "Ensemble selection from libraries of models", 2004 — the final step of AutoGluon and
//! Azure AutoML).
//!
//! A trial's validation predictions are its out-of-fold predictions under cross-validation (every
//! row once) or its holdout predictions, laid out fold after fold in the plan's order, stored as
//! `f32`. The bank keeps the [`PER_LEARNER`] best distinct ones of each learner (an ensemble gains
//! most from different kinds of models, and the best few dozen trials of a long search are often
//! near-copies of one configuration), and selection looks at the [`BANK_CAP`] best of those.
//! Memory is at most `learners × PER_LEARNER × rows × outputs × 4` bytes (outputs: classes for
//! classification, 1 for regression), e.g. 2.5 MiB for 12k holdout rows of a regression with its
//! 11 learners.
//!
//! [`stack`] builds the other kind of ensemble from the same bank: a linear meta-model over the
//! best trial of each learner.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use crate::data::Target;
use crate::error::{Error, Result};
use crate::learners::Prediction;
use crate::matrix::Matrix;
use crate::metrics::Metric;

pub mod calibrate;
pub mod stack;

/// Most trials offered to ensemble selection (the best of the kept ones).
pub const BANK_CAP: usize = 32;
/// Most trials of one learner whose validation predictions are kept.
pub const PER_LEARNER: usize = 5;
/// Rounds of greedy selection (members are added with replacement; the best round is kept).
pub const ROUNDS: usize = 25;

/// How the final model is built from the trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnsembleKind {
    /// Greedy ensemble selection with replacement over the best trials (weights = counts); used
    /// when it validates better than the best single trial.
    #[default]
    Greedy,
    /// A linear meta-model over the best trial of each learner ([`stack`]); used when its
    /// cross-validated score beats the best single trial.
    Stack,
    /// The best single trial.
    None,
}

impl EnsembleKind {
    /// Parse `greedy`, `stack` or `none`.
    pub fn parse(s: &str) -> Result<EnsembleKind> {
        match s {
            "greedy" => Ok(EnsembleKind::Greedy),
            "stack" => Ok(EnsembleKind::Stack),
            "none" => Ok(EnsembleKind::None),
            o => Err(Error::Config(format!(
                "unknown ensemble '{o}' (use greedy, stack or none)"
            ))),
        }
    }

    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            EnsembleKind::Greedy => "greedy",
            EnsembleKind::Stack => "stack",
            EnsembleKind::None => "none",
        }
    }
}

/// How each member of the final model (the best trial, or each trial of an ensemble) is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FinalFit {
    /// Under cross-validation, the average of the member's fold models: the very models its
    /// validation predictions (and so the ensemble's weights) came from — bagging, as AutoGluon
    /// does —, plus, when the time left allows, its fold models of a second k-fold split of the
    /// same rows (another seed; AutoGluon's repeated bagging). A run validated on a holdout
    /// refits on all rows.
    #[default]
    Folds,
    /// Refitted once on all rows.
    All,
}

impl FinalFit {
    /// Parse `folds` or `all`.
    pub fn parse(s: &str) -> Result<FinalFit> {
        match s {
            "folds" => Ok(FinalFit::Folds),
            "all" => Ok(FinalFit::All),
            o => Err(Error::Config(format!(
                "unknown final fit '{o}' (use folds or all)"
            ))),
        }
    }

    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FinalFit::Folds => "folds",
            FinalFit::All => "all",
        }
    }
}

/// One kept trial: its mean validation score and its validation predictions.
#[derive(Debug, Clone)]
pub struct Banked {
    /// Trial id.
    pub trial: usize,
    /// The trial's learner (the bank keeps a few per learner).
    pub learner: String,
    /// The trial's score (mean over folds), as on the leaderboard.
    pub score: f64,
    /// Validation predictions, rows × outputs, row-major.
    pub preds: Arc<[f32]>,
    hash: u64,
}

/// The validation predictions of the best few trials of a run (bounded; see the module docs).
#[derive(Debug)]
pub struct OofBank {
    metric: Metric,
    cap: usize,
    entries: Mutex<Vec<Banked>>,
}

impl OofBank {
    /// A bank keeping the `cap` best trials of each learner by `metric`.
    pub fn new(metric: Metric, cap: usize) -> OofBank {
        OofBank {
            metric,
            cap: cap.max(1),
            entries: Mutex::new(Vec::new()),
        }
    }

    /// Whether `a` ranks before `b`: better score, then lower trial id.
    fn before(&self, a: (f64, usize), b: (f64, usize)) -> bool {
        if a.0 == b.0 {
            a.1 < b.1
        } else {
            self.metric.better(a.0, b.0)
        }
    }

    /// Offer trial `trial`'s validation predictions (of learner `learner`), one [`Prediction`]
    /// per fold in plan order. Kept when among the `cap` best of its learner; a trial whose
    /// predictions equal a kept one's (same configuration in effect) keeps only the lower id. The
    /// kept set depends only on the trials offered, never on their order.
    pub fn offer(&self, trial: usize, learner: &str, score: f64, folds: &[Prediction]) {
        if !score.is_finite() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let mine = || entries.iter().filter(|e| e.learner == learner);
        if mine().count() >= self.cap
            && mine()
                .next_back()
                .is_some_and(|w| !self.before((score, trial), (w.score, w.trial)))
        {
            return;
        }
        let preds: Arc<[f32]> = flatten(folds).into();
        let mut h = DefaultHasher::new();
        for v in preds.iter() {
            v.to_bits().hash(&mut h);
        }
        let hash = h.finish();
        if let Some(i) = entries.iter().position(|e| e.hash == hash && e.preds == preds) {
            if entries[i].trial < trial {
                return;
            }
            entries.remove(i);
        }
        let at = entries
            .iter()
            .position(|e| self.before((score, trial), (e.score, e.trial)))
            .unwrap_or(entries.len());
        entries.insert(
            at,
            Banked {
                trial,
                learner: learner.to_string(),
                score,
                preds,
                hash,
            },
        );
        // Entries are best first, so the learner's last one is its worst.
        if let Some(worst) = (entries.iter().filter(|e| e.learner == learner).count() > self.cap)
            .then(|| entries.iter().rposition(|e| e.learner == learner))
            .flatten()
        {
            entries.remove(worst);
        }
    }

    /// The `n` best kept trials, best first.
    pub fn best(&self, n: usize) -> Vec<Banked> {
        self.entries
            .lock()
            .map(|e| e.iter().take(n).cloned().collect())
            .unwrap_or_default()
    }

    /// The `n` best kept trials, best first, taken out of the bank (the rest are freed).
    pub fn into_best(self, n: usize) -> Vec<Banked> {
        let mut entries = self.entries.into_inner().unwrap_or_else(|p| p.into_inner());
        entries.truncate(n);
        entries
    }
}

/// Fold predictions concatenated into one `f32` row-major buffer.
fn flatten(folds: &[Prediction]) -> Vec<f32> {
    let mut out = Vec::new();
    for p in folds {
        match p {
            Prediction::Proba(m) => out.extend(m.data.iter().map(|&v| v as f32)),
            Prediction::Values(v) => out.extend(v.iter().map(|&v| v as f32)),
        }
    }
    out
}

/// A prediction of the task's kind from a row-major buffer of `width` outputs per row
/// (`width == 0`: regression values).
fn as_prediction(buf: &[f64], width: usize) -> Prediction {
    match buf.len().checked_div(width) {
        None => Prediction::Values(buf.to_vec()),
        Some(rows) => Prediction::Proba(Matrix {
            data: buf.to_vec(),
            rows,
            cols: width,
        }),
    }
}

/// The validation rows of a run as the bank lays them out: targets fold after fold, each fold's
/// size, and the prediction width (classes; 0 for regression). Blends are scored as trials are:
/// the mean of the metric over folds (pooling rows across folds would let a model whose folds
/// are calibrated differently lose rank-based metrics such as AUC that it wins fold by fold).
#[derive(Debug, Clone)]
pub struct Validation {
    /// Targets of the validation rows, fold after fold.
    pub truth: Target,
    /// Rows of each fold, in order.
    pub folds: Vec<usize>,
    /// Classes (0 for regression).
    pub width: usize,
}

impl Validation {
    /// The mean of `metric` over folds of `pred` (laid out like [`Validation::truth`]).
    pub fn score(&self, metric: Metric, pred: &Prediction) -> Result<f64> {
        let mut total = 0.0;
        let mut start = 0;
        for &len in &self.folds {
            let rows: Vec<usize> = (start..start + len).collect();
            let truth = match &self.truth {
                Target::Classes(c) => Target::Classes(c[start..start + len].to_vec()),
                Target::Values(v) => Target::Values(v[start..start + len].to_vec()),
            };
            let part = match pred {
                Prediction::Proba(m) => Prediction::Proba(m.select_rows(&rows)),
                Prediction::Values(v) => Prediction::Values(v[start..start + len].to_vec()),
            };
            total += metric.score(&truth, &part)?;
            start += len;
        }
        Ok(total / self.folds.len().max(1) as f64)
    }

    /// What breaks a tie of `metric` between two blends: their log loss (mean over folds) when
    /// `metric` is a classification metric other than log loss itself — accuracy, F1 and
    /// balanced accuracy move in whole rows, so on a small table many blends tie, and the
    /// one with the better probabilities is the safer pick; `None` otherwise (regression
    /// metrics are fine-grained).
    pub fn tiebreak(&self, metric: Metric, pred: &Prediction) -> Result<Option<f64>> {
        if self.width == 0 || metric == Metric::LogLoss {
            return Ok(None);
        }
        let loss = self.score(Metric::LogLoss, pred)?;
        Ok(loss.is_finite().then_some(loss))
    }
}

/// The outcome of greedy ensemble selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// `(trial, weight)`, weights summing to 1, largest weight first (then trial id).
    pub weights: Vec<(usize, f64)>,
    /// Validation score of the weighted blend (mean over folds).
    pub score: f64,
    /// The best single candidate's score on the same folds (the first round).
    pub single: f64,
    /// That trial.
    pub single_trial: usize,
}

/// The blend of round `round` of [`select`]: the running `sum` of the earlier rounds' picks with
/// `preds` added, divided by the round.
fn added<'a>(sum: &'a [f64], preds: &'a [f32], round: usize) -> impl Iterator<Item = f64> + 'a {
    sum.iter()
        .zip(preds)
        .map(move |(s, v)| (s + f64::from(*v)) / round as f64)
}

/// Greedy ensemble selection with replacement (Caruana et al. 2004): start empty; each round add
/// the candidate (repeats allowed) whose addition gives the best `metric` of the averaged
/// predictions on `valid` (mean over folds); after `rounds` rounds keep the best round seen.
/// Weights are the counts. A tie on a coarse classification metric (accuracy on a small table:
/// most blends score the same) goes to the lower log loss ([`Validation::tiebreak`]), so the
/// rounds still move towards better probabilities; remaining ties go to the earlier candidate
/// (candidates come best first), so the outcome is a function of the candidates alone.
pub fn select(candidates: &[Banked], valid: &Validation, metric: Metric, rounds: usize) -> Result<Selection> {
    let width = valid.width;
    let n = valid.truth.len() * width.max(1);
    let usable: Vec<&Banked> = candidates.iter().filter(|c| c.preds.len() == n).collect();
    if usable.is_empty() {
        return Err(Error::Config("no validation predictions to ensemble".into()));
    }
    let mut sum = vec![0.0f64; n];
    let mut counts = vec![0usize; usable.len()];
    // (score, its tie-break, counts) of the best round so far.
    let mut best: Option<(f64, Option<f64>, Vec<usize>)> = None;
    let mut single = None;
    let mut buf = vec![0.0f64; n];
    for round in 1..=rounds.max(1) {
        // The tie-break of this round's blend with candidate `ci` added (only when a tie needs it).
        let tiebreak_with = |sum: &[f64], ci: usize| {
            let blend: Vec<f64> = added(sum, &usable[ci].preds, round).collect();
            valid.tiebreak(metric, &as_prediction(&blend, width))
        };
        // (candidate, score, tie-break once a tie needed it).
        let mut pick: Option<(usize, f64, Option<f64>)> = None;
        for (ci, c) in usable.iter().enumerate() {
            for (b, v) in buf.iter_mut().zip(added(&sum, &c.preds, round)) {
                *b = v;
            }
            let pred = as_prediction(&buf, width);
            let score = valid.score(metric, &pred)?;
            if !score.is_finite() {
                continue;
            }
            match &mut pick {
                Some((_, s, _)) if metric.better(*s, score) => {}
                Some((pi, s, tb)) if *s == score => {
                    let Some(mine) = valid.tiebreak(metric, &pred)? else {
                        continue;
                    };
                    let theirs = match *tb {
                        Some(t) => t,
                        None => tiebreak_with(&sum, *pi)?.unwrap_or(f64::INFINITY),
                    };
                    *tb = Some(theirs);
                    if mine < theirs {
                        pick = Some((ci, score, Some(mine)));
                    }
                }
                _ => pick = Some((ci, score, None)),
            }
        }
        let Some((ci, score, tb)) = pick else {
            break;
        };
        if round == 1 {
            single = Some((usable[ci].trial, score));
        }
        // The tie-break of this round's blend, needed when it ties the best round or becomes it.
        let tb = match tb {
            Some(t) => Some(t),
            None if best.as_ref().is_none_or(|(b, _, _)| !metric.better(*b, score)) => {
                tiebreak_with(&sum, ci)?
            }
            None => None,
        };
        for (s, v) in sum.iter_mut().zip(usable[ci].preds.iter()) {
            *s += f64::from(*v);
        }
        counts[ci] += 1;
        let better = match &best {
            None => true,
            Some((b, _, _)) if metric.better(score, *b) => true,
            Some((b, Some(before), _)) if *b == score => tb.is_some_and(|now| now < *before),
            Some(_) => false,
        };
        if better {
            best = Some((score, tb, counts.clone()));
        }
    }
    let (Some((score, _, counts)), Some((single_trial, single))) = (best, single) else {
        return Err(Error::Config(
            "no candidate gave a finite validation score".into(),
        ));
    };
    let total: usize = counts.iter().sum();
    let mut weights: Vec<(usize, f64)> = usable
        .iter()
        .zip(&counts)
        .filter(|(_, &k)| k > 0)
        .map(|(c, &k)| (c.trial, k as f64 / total as f64))
        .collect();
    weights.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(Selection {
        weights,
        score,
        single,
        single_trial,
    })
}

/// The blend of `members` (`(trial, weight)`) from `candidates` on the pooled validation rows
/// (`rows` of them; `width` classes, 0 for regression).
pub fn blend_validation(
    candidates: &[Banked],
    members: &[(usize, f64)],
    rows: usize,
    width: usize,
) -> Result<Prediction> {
    let n = rows * width.max(1);
    let mut buf = vec![0.0f64; n];
    let total: f64 = members.iter().map(|m| m.1).sum();
    for (trial, w) in members {
        let c = candidates
            .iter()
            .find(|c| c.trial == *trial && c.preds.len() == n)
            .ok_or_else(|| Error::Config(format!("trial {trial} has no validation predictions")))?;
        for (b, v) in buf.iter_mut().zip(c.preds.iter()) {
            *b += w / total * f64::from(*v);
        }
    }
    Ok(as_prediction(&buf, width))
}

/// The validation score (mean over folds) of blending `members` (`(trial, weight)`) from
/// `candidates`.
pub fn blend_score(
    candidates: &[Banked],
    members: &[(usize, f64)],
    valid: &Validation,
    metric: Metric,
) -> Result<f64> {
    let pred = blend_validation(candidates, members, valid.truth.len(), valid.width)?;
    valid.score(metric, &pred)
}

/// The weighted average of members' predictions (probabilities or values); weights need not sum
/// to 1. Errors when the members disagree on shape.
pub fn blend(preds: &[(f64, Prediction)]) -> Result<Prediction> {
    let total: f64 = preds.iter().map(|p| p.0).sum();
    let mut out: Option<Prediction> = None;
    for (w, p) in preds {
        let w = w / total;
        match (&mut out, p) {
            (None, Prediction::Proba(m)) => {
                let mut m = m.clone();
                m.data.iter_mut().for_each(|v| *v *= w);
                out = Some(Prediction::Proba(m));
            }
            (None, Prediction::Values(v)) => {
                out = Some(Prediction::Values(v.iter().map(|x| x * w).collect()));
            }
            (Some(Prediction::Proba(acc)), Prediction::Proba(m))
                if acc.rows == m.rows && acc.cols == m.cols =>
            {
                acc.data.iter_mut().zip(&m.data).for_each(|(a, b)| *a += w * b);
            }
            (Some(Prediction::Values(acc)), Prediction::Values(v)) if acc.len() == v.len() => {
                acc.iter_mut().zip(v).for_each(|(a, b)| *a += w * b);
            }
            _ => return Err(Error::Config("ensemble members predict different shapes".into())),
        }
    }
    out.ok_or_else(|| Error::Config("an ensemble needs at least one member".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(v: &[f64]) -> Prediction {
        Prediction::Values(v.to_vec())
    }

    #[test]
    fn the_bank_keeps_the_best_distinct_trials_whatever_the_order() {
        let offers = [
            (0, 0.5, vec![1.0, 2.0]),
            (1, 0.7, vec![1.0, 3.0]),
            (2, 0.7, vec![1.0, 3.0]), // same predictions as 1: only the lower id stays
            (3, 0.9, vec![2.0, 3.0]),
            (4, 0.1, vec![0.0, 0.0]),
        ];
        let ids = |order: &[usize]| {
            let bank = OofBank::new(Metric::R2, 2);
            for &i in order {
                let (t, s, p) = &offers[i];
                let learner = if *t == 4 { "knn" } else { "ridge" };
                bank.offer(*t, learner, *s, &[vals(p)]);
            }
            let kept = bank.best(usize::MAX).iter().map(|e| e.trial).collect::<Vec<_>>();
            // Taking the best two out of the bank gives the same first two.
            let taken: Vec<usize> = bank.into_best(2).iter().map(|e| e.trial).collect();
            assert_eq!(taken, kept[..2]);
            kept
        };
        // Two per learner: ridge keeps 3 and 1 (2 is a copy of 1); knn keeps its only trial.
        assert_eq!(ids(&[0, 1, 2, 3, 4]), vec![3, 1, 4]);
        assert_eq!(ids(&[4, 3, 2, 1, 0]), vec![3, 1, 4]);
        assert_eq!(ids(&[2, 0, 4, 3, 1]), vec![3, 1, 4]);
    }

    #[test]
    fn greedy_selection_blends_complementary_models_and_never_loses_to_the_best_single() {
        // Truth 0..8; model a is right on the first half, b on the second, c is noise.
        let truth: Vec<f64> = (0..8).map(f64::from).collect();
        let a: Vec<f64> = (0..8)
            .map(|i| if i < 4 { f64::from(i) } else { f64::from(i) + 2.0 })
            .collect();
        let b: Vec<f64> = (0..8)
            .map(|i| if i < 4 { f64::from(i) - 2.0 } else { f64::from(i) })
            .collect();
        let c = vec![3.5; 8];
        let bank = OofBank::new(Metric::R2, 8);
        let t = Target::Values(truth.clone());
        for (id, p) in [(0, &a), (1, &b), (2, &c)] {
            let s = Metric::R2.score(&t, &vals(p)).unwrap();
            bank.offer(id, "ridge", s, &[vals(&p[..4]), vals(&p[4..])]);
        }
        let v = Validation {
            truth: t.clone(),
            folds: vec![4, 4],
            width: 0,
        };
        let sel = select(&bank.best(BANK_CAP), &v, Metric::R2, ROUNDS).unwrap();
        let ids: Vec<usize> = sel.weights.iter().map(|w| w.0).collect();
        assert!(ids.contains(&0) && ids.contains(&1), "{sel:?}");
        assert!(sel.score > sel.single + 0.1, "{sel:?}");
        let again = blend_score(&bank.best(BANK_CAP), &sel.weights, &v, Metric::R2).unwrap();
        assert!((again - sel.score).abs() < 1e-9);
        let mixed = blend(&[(1.0, vals(&a)), (1.0, vals(&b))]).unwrap();
        assert_eq!(
            mixed,
            vals(
                &(0..8)
                    .map(|i| f64::from(i) + if i < 4 { -1.0 } else { 1.0 })
                    .collect::<Vec<_>>()
            )
        );
    }

    #[test]
    fn an_accuracy_tie_goes_to_the_blend_with_the_lower_log_loss() {
        // Both models classify every row right (accuracy 1 alone and blended), each sure on
        // one fold only: the even blend has the lower log loss, so selection keeps it.
        let proba = |p1: &[f64]| {
            Prediction::Proba(Matrix {
                rows: p1.len(),
                cols: 2,
                data: p1.iter().flat_map(|p| [1.0 - p, *p]).collect(),
            })
        };
        let a = [0.1, 0.9, 0.45, 0.55];
        let b = [0.45, 0.55, 0.1, 0.9];
        let bank = OofBank::new(Metric::Accuracy, 8);
        for (id, p) in [(0, &a), (1, &b)] {
            bank.offer(id, "mlp", 1.0, &[proba(&p[..2]), proba(&p[2..])]);
        }
        let v = Validation {
            truth: Target::Classes(vec![0, 1, 0, 1]),
            folds: vec![2, 2],
            width: 2,
        };
        let sel = select(&bank.best(BANK_CAP), &v, Metric::Accuracy, ROUNDS).unwrap();
        assert_eq!(sel.weights, vec![(0, 0.5), (1, 0.5)], "{sel:?}");
        assert_eq!((sel.score, sel.single), (1.0, 1.0));
        let loss = |w: &[(usize, f64)]| {
            let p = blend_validation(&bank.best(BANK_CAP), w, 4, 2).unwrap();
            v.tiebreak(Metric::Accuracy, &p).unwrap().unwrap()
        };
        assert!(loss(&sel.weights) < loss(&[(0, 1.0)]) - 0.02);
        // Log loss is its own tie-break: none; regression metrics have none either.
        assert_eq!(v.tiebreak(Metric::LogLoss, &proba(&a)).unwrap(), None);
    }

    #[test]
    fn final_fits_parse_with_clear_errors() {
        assert_eq!(FinalFit::parse("folds").unwrap(), FinalFit::Folds);
        assert_eq!(FinalFit::parse("all").unwrap(), FinalFit::All);
        assert_eq!(FinalFit::default().name(), "folds");
        assert!(FinalFit::parse("bag")
            .unwrap_err()
            .to_string()
            .contains("folds or all"));
    }

    #[test]
    fn ensemble_kinds_parse_with_clear_errors() {
        assert_eq!(EnsembleKind::parse("greedy").unwrap(), EnsembleKind::Greedy);
        assert_eq!(EnsembleKind::parse("none").unwrap(), EnsembleKind::None);
        assert_eq!(EnsembleKind::parse("stack").unwrap(), EnsembleKind::Stack);
        assert!(EnsembleKind::parse("vote")
            .unwrap_err()
            .to_string()
            .contains("greedy, stack or none"));
    }
}
