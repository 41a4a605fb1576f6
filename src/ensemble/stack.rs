//! Stacked ensembles: a regularised linear meta-model over the members' validation predictions
//! (Wolpert 1992, "Stacked generalization"). Regression uses non-negative ridge weights with a
//! free intercept (Breiman 1996, "Stacked regressions": the sign constraint keeps correlated
//! members from cancelling out); classification a penalised logistic regression on the members'
//! logits (binary) or log-probabilities (multiclass).
//!
//! Validated honestly: the meta-model is cross-validated over the run's own validation folds (fit
//! on the other folds' out-of-fold predictions, predict the held-out fold), or over five inner
//! folds of the holdout rows when the run validated on one holdout; the penalty is chosen from a
//! short grid by that score.

use serde::{Deserialize, Serialize};

use super::{Banked, Validation};
use crate::data::Target;
use crate::error::{Error, Result};
use crate::learners::{linear, Prediction};
use crate::matrix::Matrix;
use crate::metrics::Metric;

/// Most members of a stack: the best kept trial of each learner, best first.
pub const MAX_MEMBERS: usize = 8;
/// Inner folds that validate the meta-model when the run validated on one holdout.
const INNER_FOLDS: usize = 5;
/// Penalties tried for the meta-model: times the mean Gram diagonal (regression) or the number of
/// rows (classification).
const STRENGTHS: [f64; 3] = [0.001, 0.01, 0.1];
/// Probabilities are clipped to `[CLIP, 1 − CLIP]` before taking logs.
const CLIP: f64 = 1e-6;
/// L-BFGS iterations of the classification meta-model.
const MAX_ITER: usize = 200;

/// A fitted linear meta-model: the members' predictions in, the task's prediction out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stacker {
    /// Classes (0: regression).
    pub width: usize,
    /// Number of members it combines, in the model's member order.
    pub members: usize,
    /// Weights, outputs × inputs, row-major (inputs: one per member for regression and binary
    /// classification, one per member and class otherwise).
    pub coef: Vec<f64>,
    /// Intercept per output.
    pub intercept: Vec<f64>,
}

/// Inputs per member (and outputs) of a meta-model for `width` classes.
fn per_member(width: usize) -> usize {
    if width > 2 {
        width
    } else {
        1
    }
}

/// The meta-model's inputs: row `i` holds each member's prediction of row `i` (a value, a logit
/// of the positive class, or log-probabilities). `preds[m]` is rows × `max(width, 1)`, row-major.
fn features(preds: &[Vec<f64>], rows: usize, width: usize) -> Matrix {
    let per = per_member(width);
    let cols = preds.len() * per;
    let mut x = Matrix::zeros(rows, cols);
    let clip = |p: f64| p.clamp(CLIP, 1.0 - CLIP);
    for (m, p) in preds.iter().enumerate() {
        for i in 0..rows {
            let out = &mut x.data[i * cols + m * per..i * cols + (m + 1) * per];
            match width {
                0 => out[0] = p[i],
                2 => {
                    let q = clip(p[i * 2 + 1]);
                    out[0] = (q / (1.0 - q)).ln();
                }
                k => {
                    for (o, v) in out.iter_mut().zip(&p[i * k..(i + 1) * k]) {
                        *o = clip(*v).ln();
                    }
                }
            }
        }
    }
    x
}

/// The (population) variance of each column of `x`.
fn column_variances(x: &Matrix) -> Vec<f64> {
    let n = x.rows.max(1) as f64;
    (0..x.cols)
        .map(|j| {
            let mean = (0..x.rows).map(|i| x.get(i, j)).sum::<f64>() / n;
            (0..x.rows).map(|i| (x.get(i, j) - mean).powi(2)).sum::<f64>() / n
        })
        .collect()
}

impl Stacker {
    /// Fit on inputs `x` (from the members' predictions) against `truth`.
    fn fit(x: &Matrix, truth: &Target, width: usize, members: usize, strength: f64) -> Result<Stacker> {
        match truth {
            Target::Values(y) => {
                // The penalty is relative to the mean diagonal of the centred Gram matrix.
                let var = column_variances(x);
                let diag = var.iter().sum::<f64>() * x.rows as f64 / x.cols.max(1) as f64;
                let (coef, b) = linear::nonneg_ridge(x, y, strength * diag, 1000);
                Ok(Stacker {
                    width,
                    members,
                    coef,
                    intercept: vec![b],
                })
            }
            Target::Classes(y) => {
                let k = width.max(2);
                let (coef, intercept) = linear::logistic(x, y, k, strength * x.rows as f64, MAX_ITER, None);
                Ok(Stacker {
                    width,
                    members,
                    coef,
                    intercept,
                })
            }
        }
    }

    /// Predict from inputs built by [`features`].
    fn apply(&self, x: &Matrix) -> Result<Prediction> {
        let outputs = self.intercept.len();
        if self.coef.len() != outputs * x.cols || x.cols != self.members * per_member(self.width) {
            return Err(Error::Config(
                "the stacked model's meta-model does not match its members".into(),
            ));
        }
        let mut z = vec![0.0; x.rows * outputs];
        for i in 0..x.rows {
            let row = x.row(i);
            for (o, zo) in z[i * outputs..(i + 1) * outputs].iter_mut().enumerate() {
                let w = &self.coef[o * x.cols..(o + 1) * x.cols];
                *zo = self.intercept[o] + w.iter().zip(row).map(|(a, b)| a * b).sum::<f64>();
            }
        }
        Ok(match self.width {
            0 => Prediction::Values(z),
            2 => {
                let mut m = Matrix::zeros(x.rows, 2);
                for (i, zi) in z.iter().enumerate() {
                    let p = 1.0 / (1.0 + (-zi).exp());
                    m.data[i * 2] = 1.0 - p;
                    m.data[i * 2 + 1] = p;
                }
                Prediction::Proba(m)
            }
            k => {
                let mut m = Matrix::zeros(x.rows, k);
                for i in 0..x.rows {
                    let zi = &z[i * k..(i + 1) * k];
                    let top = zi.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = zi.iter().map(|v| (v - top).exp()).collect();
                    let s: f64 = e.iter().sum();
                    for (o, v) in m.data[i * k..(i + 1) * k].iter_mut().zip(&e) {
                        *o = v / s;
                    }
                }
                Prediction::Proba(m)
            }
        })
    }

    /// Combine the members' predictions (in member order) into the stack's prediction.
    pub fn predict(&self, preds: &[Prediction]) -> Result<Prediction> {
        if preds.len() != self.members {
            return Err(Error::Config(format!(
                "the stacked model has {} members but {} predicted",
                self.members,
                preds.len()
            )));
        }
        let rows = preds.first().map_or(0, Prediction::rows);
        let width = self.width.max(1);
        let mut flat = Vec::with_capacity(preds.len());
        for p in preds {
            let v = match p {
                Prediction::Proba(m) if m.cols == self.width && m.rows == rows => m.data.clone(),
                Prediction::Values(v) if self.width == 0 && v.len() == rows => v.clone(),
                _ => return Err(Error::Config("stacked members predict different shapes".into())),
            };
            debug_assert_eq!(v.len(), rows * width);
            flat.push(v);
        }
        self.apply(&features(&flat, rows, self.width))
    }

    /// Each member's share of the meta-model's weight: the sum over outputs of |weight| × the
    /// standard deviation of its inputs on `x`, normalised to sum to 1.
    fn importance(&self, x: &Matrix) -> Vec<f64> {
        let per = per_member(self.width);
        let mut imp = vec![0.0; self.members];
        for (j, var) in column_variances(x).into_iter().enumerate() {
            let sd = var.sqrt();
            let w: f64 = (0..self.intercept.len())
                .map(|o| self.coef[o * x.cols + j].abs())
                .sum();
            imp[j / per] += w * sd;
        }
        let total: f64 = imp.iter().sum();
        if total > 0.0 {
            imp.iter_mut().for_each(|v| *v /= total);
        }
        imp
    }
}

/// A stack fitted on the run's validation predictions.
#[derive(Debug, Clone)]
pub struct StackFit {
    /// Member trials, in the meta-model's order.
    pub trials: Vec<usize>,
    /// Each member's share of the weight (see `Stacker::importance`), in the same order.
    pub importance: Vec<f64>,
    /// The meta-model fitted on all validation rows.
    pub meta: Stacker,
    /// The penalty chosen.
    pub strength: f64,
    /// Honest validation score: the mean over folds of the cross-validated meta-model's metric.
    pub score: f64,
    /// The cross-validated meta-model's predictions of the validation rows.
    pub validation: Prediction,
}

/// The best kept trial of each learner, best first, at most [`MAX_MEMBERS`].
pub fn members(candidates: &[Banked], valid: &Validation) -> Vec<usize> {
    let n = valid.truth.len() * valid.width.max(1);
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for c in candidates.iter().filter(|c| c.preds.len() == n) {
        if out.len() < MAX_MEMBERS && !seen.contains(&c.learner.as_str()) {
            seen.push(&c.learner);
            out.push(c.trial);
        }
    }
    out
}

/// Row groups the meta-model is cross-validated over: the run's folds (contiguous in the bank's
/// layout), or interleaved inner folds of a single holdout.
fn groups(valid: &Validation) -> Vec<Vec<usize>> {
    if valid.folds.len() >= 2 {
        let mut start = 0;
        valid
            .folds
            .iter()
            .map(|&len| {
                let g: Vec<usize> = (start..start + len).collect();
                start += len;
                g
            })
            .collect()
    } else {
        let n = valid.truth.len();
        (0..INNER_FOLDS.min(n))
            .map(|g| (g..n).step_by(INNER_FOLDS).collect())
            .collect()
    }
}

/// The cross-validated meta-model's predictions of every validation row.
fn cross_validated(x: &Matrix, valid: &Validation, members: usize, strength: f64) -> Result<Prediction> {
    let n = x.rows;
    let width = valid.width.max(1);
    let mut out = vec![0.0; n * width];
    for held in groups(valid) {
        let mut inside = vec![true; n];
        held.iter().for_each(|&i| inside[i] = false);
        let train: Vec<usize> = (0..n).filter(|&i| inside[i]).collect();
        let meta = Stacker::fit(
            &x.select_rows(&train),
            &valid.truth.select(&train),
            valid.width,
            members,
            strength,
        )?;
        let pred = meta.apply(&x.select_rows(&held))?;
        for (r, &i) in held.iter().enumerate() {
            match &pred {
                Prediction::Values(v) => out[i] = v[r],
                Prediction::Proba(m) => out[i * width..(i + 1) * width].copy_from_slice(m.row(r)),
            }
        }
    }
    Ok(match valid.width {
        0 => Prediction::Values(out),
        w => Prediction::Proba(Matrix {
            data: out,
            rows: n,
            cols: w,
        }),
    })
}

/// Fit a stack of `trials` (from `candidates`) with the given penalty, or the best of the grid by
/// cross-validated score when `strength` is `None`.
pub fn fit(
    candidates: &[Banked],
    trials: &[usize],
    valid: &Validation,
    metric: Metric,
    strength: Option<f64>,
) -> Result<StackFit> {
    let n = valid.truth.len() * valid.width.max(1);
    let preds: Vec<Vec<f64>> = trials
        .iter()
        .map(|t| {
            candidates
                .iter()
                .find(|c| c.trial == *t && c.preds.len() == n)
                .map(|c| c.preds.iter().map(|&v| f64::from(v)).collect())
                .ok_or_else(|| Error::Config(format!("trial {t} has no validation predictions")))
        })
        .collect::<Result<_>>()?;
    if preds.is_empty() {
        return Err(Error::Config("a stack needs at least one member".into()));
    }
    let x = features(&preds, valid.truth.len(), valid.width);
    let grid: Vec<f64> = strength.map_or_else(|| STRENGTHS.to_vec(), |s| vec![s]);
    let mut best: Option<(f64, f64, Prediction)> = None;
    for s in grid {
        let pred = cross_validated(&x, valid, trials.len(), s)?;
        let score = valid.score(metric, &pred)?;
        if score.is_finite() && best.as_ref().is_none_or(|b| metric.better(score, b.0)) {
            best = Some((score, s, pred));
        }
    }
    let (score, strength, validation) =
        best.ok_or_else(|| Error::Config("no stack gave a finite validation score".into()))?;
    let meta = Stacker::fit(&x, &valid.truth, valid.width, trials.len(), strength)?;
    let importance = meta.importance(&x);
    Ok(StackFit {
        trials: trials.to_vec(),
        importance,
        meta,
        strength,
        score,
        validation,
    })
}

/// A stack over the best trial of each learner; members the meta-model gives no weight are left
/// out (and the meta-model refitted without them).
pub fn build(candidates: &[Banked], valid: &Validation, metric: Metric) -> Result<StackFit> {
    let trials = members(candidates, valid);
    let first = fit(candidates, &trials, valid, metric, None)?;
    let kept: Vec<usize> = first
        .trials
        .iter()
        .zip(&first.importance)
        .filter(|(_, &w)| w > 1e-9)
        .map(|(t, _)| *t)
        .collect();
    if kept.len() == first.trials.len() || kept.is_empty() {
        return Ok(first);
    }
    fit(candidates, &kept, valid, metric, Some(first.strength))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::OofBank;

    fn vals(v: &[f64]) -> Prediction {
        Prediction::Values(v.to_vec())
    }

    #[test]
    fn a_regression_stack_learns_scale_and_ignores_noise_honestly() {
        // Truth y; member a predicts y/2 + noise-free offset, member b pure noise.
        let n = 200;
        let y: Vec<f64> = (0..n).map(|i| (f64::from(i) * 0.37).sin() * 3.0 + 1.0).collect();
        let a: Vec<f64> = y.iter().map(|v| v / 2.0 + 5.0).collect();
        let b: Vec<f64> = (0..n).map(|i| f64::from((i * 7919) % 13)).collect();
        let bank = OofBank::new(Metric::R2, 4);
        let t = Target::Values(y.clone());
        let folds: Vec<Prediction> = a.chunks(40).map(vals).collect();
        bank.offer(0, "ridge", Metric::R2.score(&t, &vals(&a)).unwrap(), &folds);
        let folds_b: Vec<Prediction> = b.chunks(40).map(vals).collect();
        bank.offer(1, "knn", Metric::R2.score(&t, &vals(&b)).unwrap(), &folds_b);
        let valid = Validation {
            truth: t,
            folds: vec![40; 5],
            width: 0,
        };
        let fit = build(&bank.best(8), &valid, Metric::R2).unwrap();
        // Rescaling a (R² of a alone is negative) gives a near-perfect honest score; the noise
        // member gets next to no weight.
        assert!(fit.score > 0.99, "{fit:?}");
        assert_eq!(fit.trials[0], 0);
        assert!(fit.importance.get(1).is_none_or(|w| *w < 0.05), "{fit:?}");
        assert!((fit.meta.coef[0] - 2.0).abs() < 0.05, "{:?}", fit.meta);
        let inputs: Vec<Prediction> = [&a, &b][..fit.trials.len()].iter().map(|p| vals(p)).collect();
        let again = fit.meta.predict(&inputs).unwrap();
        assert!(Metric::R2.score(&valid.truth, &again).unwrap() > 0.99);
    }

    #[test]
    fn a_classification_stack_gives_probabilities_and_checks_shapes() {
        // Binary: member 0 is informative but overconfident, member 1 is noise.
        let n = 300usize;
        let y: Vec<usize> = (0..n).map(|i| usize::from((i * 31) % 7 < 3)).collect();
        let p0: Vec<f64> = y
            .iter()
            .enumerate()
            .flat_map(|(i, &c)| {
                let q = if (i % 10 == 0) ^ (c == 1) { 0.99 } else { 0.01 };
                [1.0 - q, q]
            })
            .collect();
        let p1: Vec<f64> = (0..n)
            .flat_map(|i| [0.5 + 0.01 * (i % 3) as f64, 0.5 - 0.01 * (i % 3) as f64])
            .collect();
        let as_folds = |p: &[f64]| -> Vec<Prediction> {
            p.chunks(120)
                .map(|c| {
                    Prediction::Proba(Matrix {
                        data: c.to_vec(),
                        rows: c.len() / 2,
                        cols: 2,
                    })
                })
                .collect()
        };
        let bank = OofBank::new(Metric::LogLoss, 4);
        bank.offer(0, "gbdt", 0.5, &as_folds(&p0));
        bank.offer(1, "knn", 0.7, &as_folds(&p1));
        let valid = Validation {
            truth: Target::Classes(y),
            folds: vec![60; 5],
            width: 2,
        };
        let fit = build(&bank.best(8), &valid, Metric::LogLoss).unwrap();
        // The member is wrong on a tenth of the rows with 0.99 confidence (log loss ≈ 0.47);
        // calibrated to 0.9 the loss is ≈ 0.33, which the stack must come close to.
        let own = valid
            .score(
                Metric::LogLoss,
                &Prediction::Proba(Matrix {
                    data: p0.clone(),
                    rows: n,
                    cols: 2,
                }),
            )
            .unwrap();
        assert!(
            own > 0.4 && fit.score < 0.35,
            "stack {} vs member {own}",
            fit.score
        );
        let Prediction::Proba(m) = &fit.validation else {
            panic!("not probabilities")
        };
        assert!(m.data.chunks(2).all(|r| (r[0] + r[1] - 1.0).abs() < 1e-9));
        assert!(fit.meta.predict(&[vals(&[1.0])]).is_err());
    }
}
