//! Scoring: classification and regression metrics, each knowing whether higher is better.

use serde::{Deserialize, Serialize};

use crate::data::{Target, Task};
use crate::error::{Error, Result};
use crate::learners::Prediction;
use crate::matrix::Matrix;

/// A metric that can rank trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Share of correct class predictions.
    Accuracy,
    /// Mean per-class recall.
    BalancedAccuracy,
    /// Cross-entropy of the predicted probabilities (lower is better).
    LogLoss,
    /// Area under the ROC curve: positive class for binary, macro one-vs-rest for multiclass.
    RocAuc,
    /// Unweighted mean of per-class F1.
    F1Macro,
    /// Root mean squared error (lower is better).
    Rmse,
    /// Mean absolute error (lower is better).
    Mae,
    /// Coefficient of determination.
    R2,
}

/// Every metric, for `--help` and parsing.
pub const ALL: &[Metric] = &[
    Metric::Accuracy,
    Metric::BalancedAccuracy,
    Metric::LogLoss,
    Metric::RocAuc,
    Metric::F1Macro,
    Metric::Rmse,
    Metric::Mae,
    Metric::R2,
];

impl Metric {
    /// Name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced_accuracy",
            Metric::LogLoss => "log_loss",
            Metric::RocAuc => "roc_auc",
            Metric::F1Macro => "f1_macro",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::R2 => "r2",
        }
    }

    /// Whether larger values are better.
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::LogLoss | Metric::Rmse | Metric::Mae)
    }

    /// Whether score `a` is strictly better than `b` under this metric.
    pub fn better(self, a: f64, b: f64) -> bool {
        if self.higher_is_better() {
            a > b
        } else {
            a < b
        }
    }

    /// Whether the metric applies to `task`.
    pub fn fits(self, task: Task) -> bool {
        match self {
            Metric::Rmse | Metric::Mae | Metric::R2 => task == Task::Regression,
            _ => task.is_classification(),
        }
    }

    /// Default metric per task: ROC AUC (binary), accuracy (multiclass), R² (regression).
    pub fn default_for(task: Task) -> Metric {
        match task {
            Task::Binary => Metric::RocAuc,
            Task::Multiclass => Metric::Accuracy,
            Task::Regression => Metric::R2,
        }
    }

    /// Metrics reported for a task besides the primary one.
    pub fn report_set(task: Task) -> &'static [Metric] {
        match task {
            Task::Binary => &[Metric::RocAuc, Metric::Accuracy, Metric::LogLoss, Metric::F1Macro],
            Task::Multiclass => &[Metric::Accuracy, Metric::LogLoss, Metric::RocAuc, Metric::F1Macro],
            Task::Regression => &[Metric::R2, Metric::Rmse, Metric::Mae],
        }
    }

    /// Score predictions against the truth.
    pub fn score(self, truth: &Target, pred: &Prediction) -> Result<f64> {
        match (truth, pred) {
            (Target::Classes(y), Prediction::Proba(p)) => Ok(self.score_classes(y, p)),
            (Target::Values(y), Prediction::Values(p)) => Ok(self.score_values(y, p)),
            _ => Err(Error::Config(format!(
                "metric {} does not match the prediction type",
                self.name()
            ))),
        }
    }

    fn score_classes(self, y: &[usize], p: &Matrix) -> f64 {
        let pred: Vec<usize> = (0..p.rows).map(|i| argmax(p.row(i))).collect();
        let k = p.cols;
        match self {
            Metric::Accuracy => {
                pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len().max(1) as f64
            }
            Metric::BalancedAccuracy => {
                let (mut hit, mut tot) = (vec![0.0; k], vec![0.0; k]);
                for (&a, &b) in pred.iter().zip(y) {
                    tot[b] += 1.0;
                    if a == b {
                        hit[b] += 1.0;
                    }
                }
                let present: Vec<f64> = (0..k)
                    .filter(|&c| tot[c] > 0.0)
                    .map(|c| hit[c] / tot[c])
                    .collect();
                present.iter().sum::<f64>() / present.len().max(1) as f64
            }
            Metric::LogLoss => {
                let eps = 1e-15;
                -y.iter()
                    .enumerate()
                    .map(|(i, &c)| p.get(i, c).clamp(eps, 1.0 - eps).ln())
                    .sum::<f64>()
                    / y.len().max(1) as f64
            }
            Metric::RocAuc => {
                if k == 2 {
                    let s: Vec<f64> = (0..p.rows).map(|i| p.get(i, 1)).collect();
                    let pos: Vec<bool> = y.iter().map(|&c| c == 1).collect();
                    roc_auc(&s, &pos)
                } else {
                    let aucs: Vec<f64> = (0..k)
                        .filter_map(|c| one_vs_rest(y, p, c))
                        .map(|(s, pos)| roc_auc(&s, &pos))
                        .collect();
                    aucs.iter().sum::<f64>() / aucs.len().max(1) as f64
                }
            }
            Metric::F1Macro => {
                let mut f1s = Vec::new();
                for c in 0..k {
                    let tp = pred.iter().zip(y).filter(|(&a, &b)| a == c && b == c).count() as f64;
                    let fp = pred.iter().zip(y).filter(|(&a, &b)| a == c && b != c).count() as f64;
                    let fn_ = pred.iter().zip(y).filter(|(&a, &b)| a != c && b == c).count() as f64;
                    if tp + fp + fn_ > 0.0 {
                        f1s.push(2.0 * tp / (2.0 * tp + fp + fn_));
                    }
                }
                f1s.iter().sum::<f64>() / f1s.len().max(1) as f64
            }
            _ => f64::NAN,
        }
    }

    fn score_values(self, y: &[f64], p: &[f64]) -> f64 {
        let n = y.len().max(1) as f64;
        match self {
            Metric::Rmse => (y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / n).sqrt(),
            Metric::Mae => y.iter().zip(p).map(|(a, b)| (a - b).abs()).sum::<f64>() / n,
            Metric::R2 => {
                let mean = y.iter().sum::<f64>() / n;
                let ss_tot: f64 = y.iter().map(|a| (a - mean) * (a - mean)).sum();
                let ss_res: f64 = y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
                if ss_tot > 0.0 {
                    1.0 - ss_res / ss_tot
                } else {
                    0.0
                }
            }
            _ => f64::NAN,
        }
    }
}

impl std::str::FromStr for Metric {
    type Err = Error;
    fn from_str(s: &str) -> Result<Metric> {
        let s = s.to_ascii_lowercase().replace('-', "_");
        let s = match s.as_str() {
            "auc" => "roc_auc",
            "logloss" => "log_loss",
            "f1" => "f1_macro",
            other => other,
        };
        ALL.iter().copied().find(|m| m.name() == s).ok_or_else(|| {
            Error::Config(format!(
                "unknown metric '{s}' (known: {})",
                ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

/// Index of the largest value (first on ties).
pub fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

/// Class `c` against the rest: its probability column and which rows are of class `c`; `None`
/// when the rows hold only class `c` or none of it (no curve can be drawn).
pub fn one_vs_rest(y: &[usize], p: &crate::matrix::Matrix, c: usize) -> Option<(Vec<f64>, Vec<bool>)> {
    if !(y.contains(&c) && y.iter().any(|&t| t != c)) {
        return None;
    }
    let s: Vec<f64> = (0..p.rows).map(|i| p.get(i, c)).collect();
    Some((s, y.iter().map(|&t| t == c).collect()))
}

/// ROC AUC by the rank-sum formula, ties counted half.
pub fn roc_auc(score: &[f64], positive: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return 0.5;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &t in &idx[i..=j] {
            if positive[t] {
                rank_sum += avg_rank;
            }
        }
        i = j + 1;
    }
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_hand_count() {
        // Pairs (pos, neg): (0.8,0.1) (0.8,0.4) (0.8,0.8 tie) (0.35,0.1) (0.35,0.4) (0.35,0.8) → 3.5 / 6.
        let s = [0.1, 0.4, 0.35, 0.8, 0.8];
        let p = [false, false, true, true, false];
        assert!((roc_auc(&s, &p) - 3.5 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn classification_metrics() {
        let p = Matrix {
            data: vec![0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.3, 0.7],
            rows: 4,
            cols: 2,
        };
        let y = Target::Classes(vec![0, 1, 1, 1]);
        let pred = Prediction::Proba(p);
        assert_eq!(Metric::Accuracy.score(&y, &pred).unwrap(), 0.75);
        let bal = Metric::BalancedAccuracy.score(&y, &pred).unwrap();
        assert!((bal - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        let ll = Metric::LogLoss.score(&y, &pred).unwrap();
        let want = -(0.9f64.ln() + 0.8f64.ln() + 0.4f64.ln() + 0.7f64.ln()) / 4.0;
        assert!((ll - want).abs() < 1e-12);
        assert_eq!(Metric::RocAuc.score(&y, &pred).unwrap(), 1.0);
        // F1: class 0: tp1 fp1 fn0 → 2/3; class 1: tp2 fp0 fn1 → 4/5.
        let f1 = Metric::F1Macro.score(&y, &pred).unwrap();
        assert!((f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn regression_metrics() {
        let y = Target::Values(vec![1.0, 2.0, 3.0, 4.0]);
        let p = Prediction::Values(vec![1.0, 2.0, 3.0, 6.0]);
        assert_eq!(Metric::Rmse.score(&y, &p).unwrap(), 1.0);
        assert_eq!(Metric::Mae.score(&y, &p).unwrap(), 0.5);
        assert!((Metric::R2.score(&y, &p).unwrap() - (1.0 - 4.0 / 5.0)).abs() < 1e-12);
        assert!("auc".parse::<Metric>().unwrap() == Metric::RocAuc);
        assert!("nope".parse::<Metric>().is_err());
    }
}
