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
    /// Azure's `AUC_weighted`: one-vs-rest ROC AUC of each class weighted by its share of rows
    /// (for binary, the plain ROC AUC).
    AucWeighted,
    /// Azure's `average_precision_score_weighted`: each class's average precision (the area under
    /// its step-wise precision-recall curve, as scikit-learn's `average_precision_score`) weighted
    /// by its share of rows.
    AveragePrecisionWeighted,
    /// Azure's `norm_macro_recall`: macro recall rescaled so that chance is 0 and perfect is 1,
    /// `(recall − R) / (1 − R)` with R = 1/k for k classes (0.5 for binary), clipped at 0.
    NormMacroRecall,
    /// Azure's `precision_score_weighted`: each class's precision weighted by its share of rows.
    PrecisionWeighted,
    /// Azure's `spearman_correlation`: rank correlation of predictions and truth (ties get their
    /// average rank).
    Spearman,
    /// Azure's `normalized_root_mean_squared_error`: RMSE divided by the range (max − min) of the
    /// true values scored (lower is better).
    Nrmse,
    /// Azure's `normalized_mean_absolute_error`: MAE divided by the range (max − min) of the true
    /// values scored (lower is better).
    Nmae,
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
    Metric::AucWeighted,
    Metric::AveragePrecisionWeighted,
    Metric::NormMacroRecall,
    Metric::PrecisionWeighted,
    Metric::Spearman,
    Metric::Nrmse,
    Metric::Nmae,
];

/// Azure AutoML's metric names, lower-cased, and ours for them (accepted wherever a metric is
/// parsed, so an Azure job's `primary_metric` reads as is).
const AZURE_NAMES: &[(&str, Metric)] = &[
    ("auc_weighted", Metric::AucWeighted),
    ("auc_macro", Metric::RocAuc),
    (
        "average_precision_score_weighted",
        Metric::AveragePrecisionWeighted,
    ),
    ("precision_score_weighted", Metric::PrecisionWeighted),
    ("f1_score_macro", Metric::F1Macro),
    ("r2_score", Metric::R2),
    ("spearman_correlation", Metric::Spearman),
    ("normalized_root_mean_squared_error", Metric::Nrmse),
    ("normalized_mean_absolute_error", Metric::Nmae),
    ("root_mean_squared_error", Metric::Rmse),
    ("mean_absolute_error", Metric::Mae),
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
            Metric::AucWeighted => "auc_weighted",
            Metric::AveragePrecisionWeighted => "average_precision_weighted",
            Metric::NormMacroRecall => "norm_macro_recall",
            Metric::PrecisionWeighted => "precision_weighted",
            Metric::Spearman => "spearman",
            Metric::Nrmse => "nrmse",
            Metric::Nmae => "nmae",
        }
    }

    /// Whether larger values are better.
    pub fn higher_is_better(self) -> bool {
        !matches!(
            self,
            Metric::LogLoss | Metric::Rmse | Metric::Mae | Metric::Nrmse | Metric::Nmae
        )
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
            Metric::Rmse | Metric::Mae | Metric::R2 | Metric::Spearman | Metric::Nrmse | Metric::Nmae => {
                task == Task::Regression
            }
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
            Metric::AucWeighted if k == 2 => Metric::RocAuc.score_classes(y, p),
            Metric::AucWeighted => weighted(y, k, |c| one_vs_rest(y, p, c).map(|(s, pos)| roc_auc(&s, &pos))),
            Metric::AveragePrecisionWeighted => weighted(y, k, |c| {
                one_vs_rest(y, p, c).map(|(s, pos)| average_precision(&s, &pos))
            }),
            Metric::PrecisionWeighted => weighted(y, k, |c| {
                let predicted = pred.iter().filter(|&&a| a == c).count();
                let hit = pred.iter().zip(y).filter(|(&a, &b)| a == c && b == c).count();
                // No row predicted as c: precision 0 (scikit-learn's zero_division default).
                Some(if predicted == 0 {
                    0.0
                } else {
                    hit as f64 / predicted as f64
                })
            }),
            Metric::NormMacroRecall => {
                let recall = Metric::BalancedAccuracy.score_classes(y, p);
                let chance = 1.0 / k.max(2) as f64;
                ((recall - chance) / (1.0 - chance)).max(0.0)
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
            Metric::Spearman => pearson(&average_ranks(y), &average_ranks(p)),
            Metric::Nrmse => Metric::Rmse.score_values(y, p) / value_range(y),
            Metric::Nmae => Metric::Mae.score_values(y, p) / value_range(y),
            _ => f64::NAN,
        }
    }
}

impl std::str::FromStr for Metric {
    type Err = Error;
    fn from_str(s: &str) -> Result<Metric> {
        let s = s.to_ascii_lowercase().replace('-', "_");
        if let Some((_, m)) = AZURE_NAMES.iter().find(|(n, _)| *n == s) {
            return Ok(*m);
        }
        let s = match s.as_str() {
            "auc" => "roc_auc",
            "logloss" => "log_loss",
            "f1" => "f1_macro",
            other => other,
        };
        ALL.iter().copied().find(|m| m.name() == s).ok_or_else(|| {
            Error::Config(format!(
                "unknown metric '{s}' (known: {}; Azure AutoML's names such as AUC_weighted or r2_score are accepted too)",
                ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

/// The mean of `per_class(c)` over the classes `c` present in `y`, weighted by their row counts;
/// classes for which it is undefined (`None`) are left out and the weights renormalised.
fn weighted(y: &[usize], k: usize, per_class: impl Fn(usize) -> Option<f64>) -> f64 {
    let mut support = vec![0usize; k];
    for &c in y {
        if c < k {
            support[c] += 1;
        }
    }
    let (mut total, mut weight) = (0.0, 0.0);
    for (c, &n) in support.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if let Some(v) = per_class(c) {
            total += n as f64 * v;
            weight += n as f64;
        }
    }
    if weight > 0.0 {
        total / weight
    } else {
        f64::NAN
    }
}

/// Average precision as scikit-learn's `average_precision_score`: the sum over distinct score
/// thresholds (highest first) of the precision at the threshold times the recall it adds.
pub fn average_precision(score: &[f64], positive: &[bool]) -> f64 {
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    if n_pos == 0.0 {
        return 0.0;
    }
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let (mut tp, mut seen, mut recall, mut ap) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        // Rows tied on the score pass the threshold together.
        let mut j = i;
        while j < idx.len() && score[idx[j]] == score[idx[i]] {
            if positive[idx[j]] {
                tp += 1.0;
            }
            seen += 1.0;
            j += 1;
        }
        let r = tp / n_pos;
        ap += (r - recall) * (tp / seen);
        recall = r;
        i = j;
    }
    ap
}

/// 1-based ranks of `v`, tied values sharing the mean of their ranks.
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &t in &idx[i..=j] {
            ranks[t] = avg;
        }
        i = j + 1;
    }
    ranks
}

/// Pearson correlation; 0 when either side is constant (no ordering to agree with).
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let ma = a[..n].iter().sum::<f64>() / n as f64;
    let mb = b[..n].iter().sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa > 0.0 && sbb > 0.0 {
        sab / (saa * sbb).sqrt()
    } else {
        0.0
    }
}

/// max − min of the true values, the normaliser of Azure's normalised errors; 1 when they are all
/// equal (the error is then left as is rather than divided by zero).
fn value_range(y: &[f64]) -> f64 {
    let (lo, hi) = y.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
        (l.min(v), h.max(v))
    });
    if hi > lo {
        hi - lo
    } else {
        1.0
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

    /// Three classes, five rows (rows of `p` are the class probabilities):
    /// r0 [.7 .2 .1] y0, r1 [.3 .4 .3] y0, r2 [.2 .5 .3] y1, r3 [.1 .3 .6] y2, r4 [.4 .2 .4] y2;
    /// predicted classes (first on ties) 0 1 1 2 0; supports 2, 1, 2.
    fn three_classes() -> (Target, Prediction) {
        let p = Matrix {
            data: vec![
                0.7, 0.2, 0.1, 0.3, 0.4, 0.3, 0.2, 0.5, 0.3, 0.1, 0.3, 0.6, 0.4, 0.2, 0.4,
            ],
            rows: 5,
            cols: 3,
        };
        (Target::Classes(vec![0, 0, 1, 2, 2]), Prediction::Proba(p))
    }

    #[test]
    fn azure_weighted_classification_metrics() {
        let (y, p) = three_classes();
        // AUC one-vs-rest: class 0 positives .7 .3 vs negatives .2 .1 .4 → 5 of 6 pairs; class 1
        // (.5 vs .2 .4 .3 .2) → 1; class 2 (.6 .4 vs .1 .3 .3) → 1. Weighted (2·5/6 + 1 + 2)/5.
        let auc = Metric::AucWeighted.score(&y, &p).unwrap();
        assert!((auc - 14.0 / 15.0).abs() < 1e-12, "{auc}");
        // Average precision: class 0 by score .7+ .4- .3+ .2- .1- → .5·1 + .5·2/3 = 5/6; classes 1
        // and 2 rank their positives first → 1. Weighted (2·5/6 + 1 + 2)/5.
        let ap = Metric::AveragePrecisionWeighted.score(&y, &p).unwrap();
        assert!((ap - 14.0 / 15.0).abs() < 1e-12, "{ap}");
        // Precision: class 0 predicted on r0 r4 (1 hit) → 1/2; class 1 on r1 r2 → 1/2; class 2 on
        // r3 → 1. Weighted (2·.5 + .5 + 2·1)/5 = 0.7.
        let pw = Metric::PrecisionWeighted.score(&y, &p).unwrap();
        assert!((pw - 0.7).abs() < 1e-12, "{pw}");
        // Recall 1/2, 1, 1/2 → macro 2/3; chance 1/3 → (2/3 − 1/3)/(2/3) = 1/2.
        let nmr = Metric::NormMacroRecall.score(&y, &p).unwrap();
        assert!((nmr - 0.5).abs() < 1e-12, "{nmr}");
    }

    #[test]
    fn azure_metrics_on_binary_data() {
        let p = Matrix {
            data: vec![0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.3, 0.7],
            rows: 4,
            cols: 2,
        };
        let y = Target::Classes(vec![0, 1, 1, 1]);
        let pred = Prediction::Proba(p.clone());
        // Binary AUC_weighted is the plain AUC.
        assert_eq!(Metric::AucWeighted.score(&y, &pred).unwrap(), 1.0);
        // Recall 1 and 2/3 → macro 5/6; chance 1/2 → (5/6 − 1/2)/(1/2) = 2/3.
        let nmr = Metric::NormMacroRecall.score(&y, &pred).unwrap();
        assert!((nmr - 2.0 / 3.0).abs() < 1e-12, "{nmr}");
        // Every row predicted wrong: macro recall 0 is below chance, clipped to 0.
        let wrong = Target::Classes(vec![1, 0, 0, 0]);
        assert_eq!(Metric::NormMacroRecall.score(&wrong, &pred).unwrap(), 0.0);
        // Average precision with a tie: scores .8+ .8- (together: precision 1/2, recall 1/2),
        // .4- , .35+ (precision 2/4, recall 1) → .5·.5 + .5·.5 = .5.
        let s = [0.1, 0.4, 0.35, 0.8, 0.8];
        let pos = [false, false, true, true, false];
        assert!((average_precision(&s, &pos) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn azure_regression_metrics() {
        let y = Target::Values(vec![1.0, 2.0, 3.0, 4.0]);
        let p = Prediction::Values(vec![1.0, 2.0, 3.0, 6.0]);
        // RMSE 1 and MAE 0.5 over the range 4 − 1 = 3.
        assert!((Metric::Nrmse.score(&y, &p).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((Metric::Nmae.score(&y, &p).unwrap() - 0.5 / 3.0).abs() < 1e-12);
        // Spearman: ranks of p = [2 1 4 3 3] are [2 1 5 3.5 3.5] (tie averaged), of y 1..5;
        // deviations (−2 −1 0 1 2)·(−1 −2 2 .5 .5) = 5.5, sums of squares 10 and 9.5.
        let y = Target::Values(vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        let p = Prediction::Values(vec![2.0, 1.0, 4.0, 3.0, 3.0]);
        let rho = Metric::Spearman.score(&y, &p).unwrap();
        assert!((rho - 5.5 / 95f64.sqrt()).abs() < 1e-12, "{rho}");
        assert_eq!(
            Metric::Spearman
                .score(&y, &Prediction::Values(vec![7.0; 5]))
                .unwrap(),
            0.0
        );
        assert!(!Metric::Nrmse.higher_is_better() && !Metric::Nmae.higher_is_better());
        assert!(Metric::Spearman.higher_is_better() && Metric::Spearman.fits(Task::Regression));
        assert!(Metric::AucWeighted.fits(Task::Multiclass) && !Metric::AucWeighted.fits(Task::Regression));
    }

    #[test]
    fn azure_names_parse() {
        for (azure, ours) in [
            ("accuracy", Metric::Accuracy),
            ("AUC_weighted", Metric::AucWeighted),
            (
                "average_precision_score_weighted",
                Metric::AveragePrecisionWeighted,
            ),
            ("norm_macro_recall", Metric::NormMacroRecall),
            ("precision_score_weighted", Metric::PrecisionWeighted),
            ("r2_score", Metric::R2),
            ("spearman_correlation", Metric::Spearman),
            ("normalized_root_mean_squared_error", Metric::Nrmse),
            ("normalized_mean_absolute_error", Metric::Nmae),
        ] {
            assert_eq!(azure.parse::<Metric>().unwrap(), ours, "{azure}");
        }
        // Every metric's own name parses back to it, and is its serde name (stored in workspaces).
        for m in ALL {
            assert_eq!(m.name().parse::<Metric>().unwrap(), *m);
            assert_eq!(serde_json::to_value(m).unwrap(), serde_json::json!(m.name()));
        }
    }
}
