//! Probability calibration of an ensemble, fitted on its out-of-fold predictions: a blend chosen
//! for a ranking metric (AUC) can rank well while its probabilities sit far from the truth (a
//! badly calibrated member with a large weight), so its labels at 0.5 are wrong. Binary: Platt
//! scaling `sigmoid(a·logit(p) + b)` with `a > 0`, which keeps the order of rows (AUC unchanged).
//! Multiclass: temperature `p_k^(1/T)` renormalised, which keeps each row's most likely class
//! (accuracy unchanged). Both are fitted against slightly smoothed targets (Platt's per class
//! for binary, one pseudo-row of doubt for the temperature), so a blend whose
//! out-of-fold labels are all right is not made near-certain.

use serde::{Deserialize, Serialize};

use crate::data::Target;
use crate::learners::Prediction;

/// A fitted calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Calibration {
    /// `P(class 1) = sigmoid(a·logit(p) + b)`.
    Platt {
        /// Slope (> 0).
        a: f64,
        /// Offset.
        b: f64,
    },
    /// `p_k ∝ p_k^(1/t)`.
    Temperature {
        /// Temperature (> 0).
        t: f64,
    },
}

const EPS: f64 = 1e-6;

fn logit(p: f64) -> f64 {
    let p = p.clamp(EPS, 1.0 - EPS);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Fit a calibration of `pred` (probabilities) against `truth`; `None` for regression, for
/// fewer than 20 rows, or when the fit is not an improvement.
pub fn fit(truth: &Target, pred: &Prediction) -> Option<Calibration> {
    let (Target::Classes(y), Prediction::Proba(p)) = (truth, pred) else {
        return None;
    };
    if y.len() < 20 || p.rows != y.len() {
        return None;
    }
    if p.cols == 2 {
        platt(y, &(0..p.rows).map(|i| logit(p.get(i, 1))).collect::<Vec<_>>())
    } else {
        temperature(y, p)
    }
}

/// Platt scaling by Newton's method on the log loss, with Platt's smoothed targets.
fn platt(y: &[usize], s: &[f64]) -> Option<Calibration> {
    let pos = y.iter().filter(|&&c| c == 1).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    let (hi, lo) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
    let target: Vec<f64> = y.iter().map(|&c| if c == 1 { hi } else { lo }).collect();
    let loss = |a: f64, b: f64| -> f64 {
        s.iter()
            .zip(&target)
            .map(|(x, t)| {
                let q = sigmoid(a * x + b).clamp(1e-12, 1.0 - 1e-12);
                -(t * q.ln() + (1.0 - t) * (1.0 - q).ln())
            })
            .sum()
    };
    let (mut a, mut b) = (1.0f64, 0.0f64);
    let start = loss(a, b);
    let mut cur = start;
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (x, t) in s.iter().zip(&target) {
            let q = sigmoid(a * x + b);
            let (r, w) = (q - t, (q * (1.0 - q)).max(1e-12));
            ga += r * x;
            gb += r;
            haa += w * x * x;
            hab += w * x;
            hbb += w;
        }
        let (haa, hbb) = (haa + 1e-9, hbb + 1e-9);
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-18 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        let mut step = 1.0;
        let mut moved = false;
        while step > 1e-6 {
            let (na, nb) = ((a - step * da).clamp(1e-3, 100.0), b - step * db);
            let l = loss(na, nb);
            if l < cur {
                a = na;
                b = nb;
                moved = cur - l > 1e-10 * cur.abs();
                cur = l;
                break;
            }
            step /= 2.0;
        }
        if !moved {
            break;
        }
    }
    (cur < start).then_some(Calibration::Platt { a, b })
}

/// Soft targets for `n` rows of `k` classes, in the spirit of Platt's out-of-sample targets: a
/// row's own class gets `(n + 1) / (n + 2)`, the rest is spread evenly over the other classes
/// (one pseudo-row of doubt for the whole set). With hard 0/1 targets, rows the blend separates
/// perfectly (every out-of-fold label right, as on a small clean table) drive the temperature to
/// its floor and the calibrated model is near-certain of every label, right or wrong. Per-class
/// counts (Platt's binary rule) put a much larger doubt on small classes and measured worse.
fn smoothed(n: usize, k: usize) -> (f64, f64) {
    let off = 1.0 / (n as f64 + 2.0);
    (1.0 - off, off / (k.max(2) - 1) as f64)
}

/// The cross-entropy of temperature `t` on the rows against soft targets `(own, other)`: the
/// weight on a row's own class and on each other class.
fn nll(y: &[usize], p: &crate::matrix::Matrix, t: f64, (own, other): (f64, f64)) -> f64 {
    let mut total = 0.0;
    for (i, &c) in y.iter().enumerate() {
        let logs: Vec<f64> = p.row(i).iter().map(|v| v.clamp(1e-12, 1.0).ln() / t).collect();
        let m = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = logs.iter().map(|l| (l - m).exp()).sum::<f64>().ln() + m;
        for (k, l) in logs.iter().enumerate() {
            total -= if k == c { own } else { other } * (l - z);
        }
    }
    total
}

/// Temperature by golden-section search of the cross-entropy against soft targets
/// ([`smoothed`]) over log T in [ln 0.05, ln 20].
fn temperature(y: &[usize], p: &crate::matrix::Matrix) -> Option<Calibration> {
    let targets = smoothed(y.len(), p.cols);
    let f = |u: f64| nll(y, p, u.exp(), targets);
    let (mut lo, mut hi) = ((0.05f64).ln(), (20.0f64).ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (hi - g * (hi - lo), lo + g * (hi - lo));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..60 {
        if fc < fd {
            hi = d;
            d = c;
            fd = fc;
            c = hi - g * (hi - lo);
            fc = f(c);
        } else {
            lo = c;
            c = d;
            fc = fd;
            d = lo + g * (hi - lo);
            fd = f(d);
        }
    }
    let t = ((lo + hi) / 2.0).exp();
    (nll(y, p, t, targets) < nll(y, p, 1.0, targets)).then_some(Calibration::Temperature { t })
}

impl Calibration {
    /// Calibrate predicted probabilities in place (values are left alone).
    pub fn apply(&self, pred: &mut Prediction) {
        let Prediction::Proba(m) = pred else { return };
        match *self {
            Calibration::Platt { a, b } if m.cols == 2 => {
                for i in 0..m.rows {
                    let q = sigmoid(a * logit(m.get(i, 1)) + b);
                    m.data[i * 2] = 1.0 - q;
                    m.data[i * 2 + 1] = q;
                }
            }
            Calibration::Temperature { t } => {
                let k = m.cols;
                for i in 0..m.rows {
                    let row = &mut m.data[i * k..(i + 1) * k];
                    let logs: Vec<f64> = row.iter().map(|v| v.clamp(1e-12, 1.0).ln() / t).collect();
                    let mx = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let z: f64 = logs.iter().map(|l| (l - mx).exp()).sum();
                    for (v, l) in row.iter_mut().zip(&logs) {
                        *v = (l - mx).exp() / z;
                    }
                }
            }
            Calibration::Platt { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;

    fn binary(p1: &[f64]) -> Prediction {
        Prediction::Proba(Matrix {
            data: p1.iter().flat_map(|&p| [1.0 - p, p]).collect(),
            rows: p1.len(),
            cols: 2,
        })
    }

    #[test]
    fn platt_repairs_shifted_probabilities_and_keeps_the_order() {
        // Ranks well, but every probability sits near 0.9: labels at 0.5 are all class 1.
        let n = 400;
        let y: Vec<usize> = (0..n).map(|i| usize::from(i % 4 == 0)).collect();
        let p1: Vec<f64> = (0..n)
            .map(|i| {
                if i % 4 == 0 {
                    0.95
                } else {
                    0.88 + 0.0001 * (i % 7) as f64
                }
            })
            .collect();
        let truth = Target::Classes(y.clone());
        let pred = binary(&p1);
        let c = fit(&truth, &pred).unwrap();
        let mut fixed = pred.clone();
        c.apply(&mut fixed);
        let Prediction::Proba(m) = &fixed else {
            unreachable!()
        };
        let acc =
            |m: &Matrix| (0..n).filter(|&i| usize::from(m.get(i, 1) > 0.5) == y[i]).count() as f64 / n as f64;
        let Prediction::Proba(before) = &pred else {
            unreachable!()
        };
        assert!(acc(before) < 0.3 && acc(m) > 0.95, "{} → {}", acc(before), acc(m));
        let auc = |p: &Prediction| crate::Metric::RocAuc.score(&truth, p).unwrap();
        assert!(
            (auc(&pred) - auc(&fixed)).abs() < 1e-12,
            "the order of rows is kept"
        );
        let ll = |p: &Prediction| crate::Metric::LogLoss.score(&truth, p).unwrap();
        assert!(ll(&fixed) < ll(&pred));
        assert!(matches!(c, Calibration::Platt { a, .. } if a > 0.0));
    }

    #[test]
    fn temperature_softens_overconfident_classes_and_keeps_labels() {
        let n = 300;
        let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
        // Right 70 % of the time, but with probability 0.98.
        let mut data = Vec::new();
        for (i, &c) in y.iter().enumerate() {
            let guess = if i % 10 < 7 { c } else { (c + 1) % 3 };
            for k in 0..3 {
                data.push(if k == guess { 0.98 } else { 0.01 });
            }
        }
        let pred = Prediction::Proba(Matrix {
            data,
            rows: n,
            cols: 3,
        });
        let truth = Target::Classes(y);
        let c = fit(&truth, &pred).unwrap();
        assert!(matches!(c, Calibration::Temperature { t } if t > 1.0), "{c:?}");
        let mut fixed = pred.clone();
        c.apply(&mut fixed);
        let acc = |p: &Prediction| crate::Metric::Accuracy.score(&truth, p).unwrap();
        assert_eq!(acc(&pred), acc(&fixed));
        let ll = |p: &Prediction| crate::Metric::LogLoss.score(&truth, p).unwrap();
        assert!(ll(&fixed) < ll(&pred) - 0.3);
        assert!(fit(&truth, &Prediction::Values(vec![0.0; n])).is_none());
    }

    #[test]
    fn a_blend_right_on_every_row_is_not_made_certain() {
        // Every out-of-fold label right, at probability 0.8: against hard 0/1 targets the best
        // temperature is the floor (0.05, p^20), and a test row the blend gets wrong would then
        // cost ~40 nats. Against soft targets (150 rows: 151/152 on the own class) the
        // calibrated probability of the label stays below 0.995.
        let n = 150;
        let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let data: Vec<f64> = y
            .iter()
            .flat_map(|&c| (0..3).map(move |k| if k == c { 0.8 } else { 0.1 }))
            .collect();
        let pred = Prediction::Proba(Matrix {
            data,
            rows: n,
            cols: 3,
        });
        let c = fit(&Target::Classes(y), &pred).unwrap();
        let Calibration::Temperature { t } = c else {
            panic!("{c:?}")
        };
        assert!(t > 0.25 && t < 1.0, "sharpened, not to the floor: {t}");
        let mut fixed = pred.clone();
        c.apply(&mut fixed);
        let Prediction::Proba(m) = &fixed else {
            unreachable!()
        };
        let own = m.get(0, 0);
        assert!(own > 0.98 && own < 0.995, "{own}");
    }
}
