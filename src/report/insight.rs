//! What a report shows beyond the leaderboard: the run summary, a profile of the training data,
//! and diagnostics of the best configuration on validation rows (confusion matrix, ROC and
//! precision-recall curves or predicted-vs-actual, permutation feature importance). Computed
//! once after a run and kept beside it in the workspace (`artifacts/<run>/insight.json`).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::automl::RunSummary;
use crate::data::{Dataset, FeatureColumn, FeatureKind, Target};
use crate::error::Result;
use crate::learners::Prediction;
use crate::model::{subset_target, Pipeline};

/// Most points kept per curve or scatter (evenly thinned), so reports stay small.
const MAX_POINTS: usize = 400;
/// Most features whose permutation importance is measured (in schema order).
const MAX_PERMUTED: usize = 60;

/// One column of the training data, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// `numeric`, `categorical` or `ignored`.
    pub kind: String,
    /// Missing cells.
    pub missing: usize,
    /// Distinct non-missing values.
    pub distinct: usize,
    /// Minimum, mean and maximum (numeric columns).
    pub stats: Option<[f64; 3]>,
    /// Most frequent levels with their counts (categorical columns, at most 5).
    pub top: Vec<(String, usize)>,
    /// Why the column is ignored or categorical, when not obvious.
    pub note: Option<String>,
}

/// A curve of one class against the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curves {
    /// The class treated as positive.
    pub class: String,
    /// ROC points (false positive rate, true positive rate), from (0,0) to (1,1).
    pub roc: Vec<(f64, f64)>,
    /// Area under the ROC curve.
    pub auc: f64,
    /// Precision-recall points (recall, precision).
    pub pr: Vec<(f64, f64)>,
    /// Average precision.
    pub average_precision: f64,
}

/// Diagnostics by task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum Diagnosis {
    /// Classification: confusion counts (rows = truth, columns = predicted) and curves (the
    /// positive class for binary tasks, every class one-vs-rest for multiclass).
    Classification {
        /// Class labels.
        classes: Vec<String>,
        /// `confusion[truth][predicted]`.
        confusion: Vec<Vec<usize>>,
        /// Curves per class.
        curves: Vec<Curves>,
    },
    /// Regression: (actual, predicted) pairs, thinned, and a histogram of every residual.
    Regression {
        /// Points.
        points: Vec<(f64, f64)>,
        /// Residual (actual − predicted) bins: (from, to, rows).
        #[serde(default)]
        residuals: Vec<(f64, f64, usize)>,
    },
}

/// How the best configuration does on validation rows it was not fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// Which rows: e.g. `67 validation rows (5-fold stratified CV, first split)`.
    pub rows: String,
    /// Primary metric name.
    pub metric: String,
    /// Primary metric on those rows.
    pub score: f64,
    /// Task-specific views.
    pub diagnosis: Diagnosis,
    /// Per feature: how much the primary metric worsens when the feature's values are shuffled
    /// among the validation rows (positive = the model relies on it), largest first.
    pub permutation: Vec<(String, f64)>,
}

/// Everything a report shows about a run besides its trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInsight {
    /// Ordered facts: data, task, metric, validation, budget, sampler, environment.
    pub summary: Vec<(String, String)>,
    /// Guardrail warnings raised on the data and during the run.
    pub warnings: Vec<String>,
    /// The data guardrails checked before the run (absent in insights saved before them).
    #[serde(default)]
    pub guardrails: Vec<crate::guardrails::Guardrail>,
    /// Training data profile.
    pub profile: Vec<ColumnProfile>,
    /// The best configuration on validation rows, when it could be computed.
    pub diagnostics: Option<Diagnostics>,
}

/// Summarise every column of `data`.
pub fn profile(data: &Dataset) -> Vec<ColumnProfile> {
    let mut used = data.features.columns.iter();
    data.schema
        .features
        .iter()
        .map(|f| {
            let kind = f.kind.name();
            let col = if f.kind == FeatureKind::Ignored {
                None
            } else {
                used.next()
            };
            let (stats, top) = match col {
                Some(FeatureColumn::Numeric(v)) => {
                    let present: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
                    let stats = (!present.is_empty()).then(|| {
                        let min = present.iter().copied().fold(f64::INFINITY, f64::min);
                        let max = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        let n = present.len() as f64;
                        [min, present.iter().map(|v| v / n).sum::<f64>(), max]
                    });
                    (stats, Vec::new())
                }
                Some(FeatureColumn::Categorical { codes, levels }) => {
                    let mut counts = vec![0usize; levels.len()];
                    for &c in codes {
                        if let Some(n) = counts.get_mut(c as usize) {
                            *n += 1;
                        }
                    }
                    let mut top: Vec<(String, usize)> = levels.iter().cloned().zip(counts).collect();
                    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                    top.truncate(5);
                    (None, top)
                }
                Some(FeatureColumn::Datetime { secs, .. }) => {
                    // Shown as days since 1970, the date's ordinal part.
                    let days: Vec<f64> = secs
                        .iter()
                        .map(|s| s / 86_400.0)
                        .filter(|x| x.is_finite())
                        .collect();
                    let stats = (!days.is_empty()).then(|| {
                        let min = days.iter().copied().fold(f64::INFINITY, f64::min);
                        let max = days.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        let n = days.len() as f64;
                        [min, days.iter().map(|v| v / n).sum::<f64>(), max]
                    });
                    (stats, Vec::new())
                }
                Some(FeatureColumn::Text(_)) | None => (None, Vec::new()),
            };
            ColumnProfile {
                name: f.name.clone(),
                kind: kind.into(),
                missing: f.missing,
                distinct: f.distinct,
                stats,
                top,
                note: f.reason.clone(),
            }
        })
        .collect()
}

/// Keep at most `max` points, evenly spaced, always keeping the first and the last.
fn thin<T: Clone>(v: Vec<T>, max: usize) -> Vec<T> {
    if v.len() <= max || max < 2 {
        return v;
    }
    let step = (v.len() - 1) as f64 / (max - 1) as f64;
    (0..max)
        .map(|i| v[(i as f64 * step).round() as usize].clone())
        .collect()
}

/// `bins` equal-width bins over the finite values: (from, to, count).
pub fn histogram(values: &[f64], bins: usize) -> Vec<(f64, f64, usize)> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if finite.is_empty() || bins == 0 {
        return Vec::new();
    }
    let width = if hi > lo { (hi - lo) / bins as f64 } else { 1.0 };
    if !width.is_finite() {
        return Vec::new();
    }
    let mut counts = vec![0usize; bins];
    for v in &finite {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| (lo + i as f64 * width, lo + (i + 1) as f64 * width, c))
        .collect()
}

/// ROC and precision-recall curves of `score` for `positive` rows.
pub fn curves(class: &str, score: &[f64], positive: &[bool]) -> Curves {
    // A non-finite score ranks lowest (and never stalls the tie grouping below).
    let score: Vec<f64> = score
        .iter()
        .map(|&v| if v.is_finite() { v } else { f64::NEG_INFINITY })
        .collect();
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut roc = vec![(0.0, 0.0)];
    let mut pr = Vec::new();
    let (mut auc, mut ap, mut last_recall) = (0.0, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        // Rows with equal scores move together (one threshold).
        let s = score[idx[i]];
        while i < idx.len() && score[idx[i]].total_cmp(&s).is_eq() {
            if positive[idx[i]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        let fpr = if n_neg > 0.0 { fp / n_neg } else { 0.0 };
        let tpr = if n_pos > 0.0 { tp / n_pos } else { 0.0 };
        let (px, py) = roc.last().copied().unwrap_or((0.0, 0.0));
        auc += (fpr - px) * (tpr + py) / 2.0;
        roc.push((fpr, tpr));
        let precision = tp / (tp + fp);
        ap += (tpr - last_recall) * precision;
        last_recall = tpr;
        pr.push((tpr, precision));
    }
    Curves {
        class: class.to_string(),
        roc: thin(roc, MAX_POINTS),
        auc,
        pr: thin(pr, MAX_POINTS),
        average_precision: ap,
    }
}

/// Fit the best configuration of `summary` on the first validation fold's training rows and
/// examine it on that fold's validation rows.
pub fn diagnose(summary: &RunSummary, data: &Dataset) -> Result<Diagnostics> {
    let seed = summary.best.seed;
    let plan = crate::validation::plan(&data.target, seed, &mut Vec::new())?;
    let Some(fold) = plan.folds.first() else {
        return Err(crate::error::Error::Data("no validation fold".into()));
    };
    let config = &summary.best.config;
    // The seed the best trial ran with, so this is the model that was scored.
    let trial_seed = crate::trials::trial_seed(seed, summary.best_trial);
    let pipe = crate::trials::guarded(|| {
        Pipeline::fit(
            &data.schema,
            &data.features,
            &data.target,
            config,
            Some(&fold.train),
            trial_seed,
        )
    })
    .map_err(|p| crate::error::Error::learner(&config.learner, format!("panicked: {p}")))??;
    let truth = subset_target(&data.target, Some(&fold.valid));
    let pred = pipe.predict(&data.features, Some(&fold.valid))?;
    let metric = summary.metric;
    let score = metric.score(&truth, &pred)?;
    if !score.is_finite() {
        return Err(crate::error::Error::Data(format!(
            "{} is not finite",
            metric.name()
        )));
    }
    let diagnosis = match (&truth, &pred) {
        (Target::Classes(y), Prediction::Proba(p)) => {
            let classes = data.schema.classes.clone();
            let k = classes.len();
            let mut confusion = vec![vec![0usize; k]; k];
            for (i, &t) in y.iter().enumerate() {
                let guess = crate::metrics::argmax(p.row(i));
                if t < k && guess < k {
                    confusion[t][guess] += 1;
                }
            }
            let which: Vec<usize> = if k == 2 { vec![1] } else { (0..k).collect() };
            // A curve needs both positive and negative rows in the fold.
            let curves = which
                .into_iter()
                .filter_map(|c| {
                    let (s, pos) = crate::metrics::one_vs_rest(y, p, c)?;
                    Some(curves(&classes[c], &s, &pos))
                })
                .collect();
            Diagnosis::Classification {
                classes,
                confusion,
                curves,
            }
        }
        (Target::Values(y), Prediction::Values(v)) => Diagnosis::Regression {
            points: thin(
                y.iter()
                    .copied()
                    .zip(v.iter().copied())
                    .filter(|(a, p)| a.is_finite() && p.is_finite())
                    .collect(),
                MAX_POINTS,
            ),
            residuals: histogram(&y.iter().zip(v).map(|(a, p)| a - p).collect::<Vec<_>>(), 24),
        },
        _ => {
            return Err(crate::error::Error::Data(
                "prediction does not match the task".into(),
            ))
        }
    };
    // Permutation importance: shuffle one column among the validation rows at a time.
    let names: Vec<String> = data.schema.used().map(|f| f.name.clone()).collect();
    let mut features = data.features.clone();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let mut permutation = Vec::new();
    for (j, name) in names.iter().enumerate().take(MAX_PERMUTED) {
        let original = features.columns[j].clone();
        let mut order = fold.valid.clone();
        order.shuffle(&mut rng);
        match &mut features.columns[j] {
            FeatureColumn::Numeric(v) => {
                let vals: Vec<f64> = order.iter().map(|&r| v[r]).collect();
                for (&r, x) in fold.valid.iter().zip(vals) {
                    v[r] = x;
                }
            }
            FeatureColumn::Categorical { codes, .. } => {
                let vals: Vec<u32> = order.iter().map(|&r| codes[r]).collect();
                for (&r, x) in fold.valid.iter().zip(vals) {
                    codes[r] = x;
                }
            }
            FeatureColumn::Datetime { secs: v, .. } => {
                let vals: Vec<f64> = order.iter().map(|&r| v[r]).collect();
                for (&r, x) in fold.valid.iter().zip(vals) {
                    v[r] = x;
                }
            }
            FeatureColumn::Text(t) => {
                let vals: Vec<Option<String>> = order.iter().map(|&r| t[r].clone()).collect();
                for (&r, x) in fold.valid.iter().zip(vals) {
                    t[r] = x;
                }
            }
        }
        let shuffled = pipe
            .predict(&features, Some(&fold.valid))
            .and_then(|p| metric.score(&truth, &p));
        features.columns[j] = original;
        if let Ok(s) = shuffled {
            let drop = if metric.higher_is_better() {
                score - s
            } else {
                s - score
            };
            if drop.is_finite() {
                permutation.push((name.clone(), drop));
            }
        }
    }
    permutation.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Diagnostics {
        rows: format!(
            "{} validation rows ({}, first split)",
            fold.valid.len(),
            plan.description
        ),
        metric: metric.name().to_string(),
        score,
        diagnosis,
        permutation,
    })
}

impl RunInsight {
    /// The insight of a finished run of `data`, diagnostics included (one extra fit of the best
    /// configuration); diagnostics that fail become a warning.
    pub fn of(summary: &RunSummary, data: &Dataset) -> RunInsight {
        let mut insight = RunInsight::summary_only(summary, data);
        match diagnose(summary, data) {
            Ok(d) => insight.diagnostics = Some(d),
            Err(e) => insight
                .warnings
                .push(format!("diagnostics of the best model unavailable: {e}")),
        }
        insight
    }

    /// The summary and data profile only: no extra fit (what a run without `--report` keeps).
    pub fn summary_only(summary: &RunSummary, data: &Dataset) -> RunInsight {
        let warnings = summary.warnings.clone();
        let diagnostics = None;
        let n_used = data.schema.used().count();
        let mut facts = vec![
            (
                "data".to_string(),
                format!(
                    "{} rows, {} feature columns used of {}",
                    data.n_rows(),
                    n_used,
                    data.schema.features.len()
                ),
            ),
            ("target".into(), data.schema.target.clone()),
            ("task".into(), summary.task.name().to_string()),
        ];
        if !data.schema.classes.is_empty() {
            facts.push(("classes".into(), data.schema.classes.join(", ")));
        }
        facts.extend([
            (
                "metric".to_string(),
                format!(
                    "{} ({})",
                    summary.metric.name(),
                    if summary.metric.higher_is_better() {
                        "higher is better"
                    } else {
                        "lower is better"
                    }
                ),
            ),
            ("validation".into(), summary.validation.clone()),
            ("learners".into(), summary.learners.join(", ")),
            ("sampler".into(), summary.sampler.clone()),
            ("early termination".into(), summary.policy.clone()),
            ("trials".into(), summary.trials.len().to_string()),
            ("search time".into(), format!("{:.1} s", summary.search_secs)),
            ("refit time".into(), format!("{:.2} s", summary.refit_secs)),
            ("seed".into(), summary.best.seed.to_string()),
            ("best".into(), summary.best_label()),
            (
                "environment".into(),
                format!(
                    "automl {} on {}-{}, {} cores",
                    env!("CARGO_PKG_VERSION"),
                    std::env::consts::OS,
                    std::env::consts::ARCH,
                    crate::automl::default_jobs()
                ),
            ),
        ]);
        if let Some(id) = summary.run_id {
            facts.insert(0, ("run".into(), id.to_string()));
        }
        RunInsight {
            summary: facts,
            warnings,
            guardrails: summary.guardrails.clone(),
            profile: profile(data),
            diagnostics,
        }
    }
}

/// How much of the score's variance each hyperparameter explains across completed trials
/// (correlation ratio η²: numeric values in up to 5 quantile bins, choices as they are), largest
/// first. Parameters seen in fewer than 5 scored trials are skipped.
pub fn hyperparameter_importance(rows: &[super::Row]) -> Vec<ParamImportance> {
    use std::collections::BTreeMap;
    let scored: Vec<&super::Row> = rows
        .iter()
        .filter(|r| r.rank.is_some() && r.score.is_some_and(f64::is_finite))
        .collect();
    // Keyed by (learner the parameter belongs to, parameter); the learner choice itself is
    // (None, "learner") when trials have learners.
    type Key = (Option<String>, String);
    let mut by_param: BTreeMap<Key, Vec<(serde_json::Value, f64)>> = BTreeMap::new();
    for r in &scored {
        let s = r.score.unwrap_or(f64::NAN);
        if let Some(l) = &r.learner {
            by_param
                .entry((None, "learner".into()))
                .or_default()
                .push((serde_json::Value::String(l.clone()), s));
        }
        for (k, v) in &r.params {
            by_param
                .entry((r.learner.clone(), k.clone()))
                .or_default()
                .push((v.clone(), s));
        }
    }
    let mut out = Vec::new();
    for ((learner, param), pairs) in by_param {
        if pairs.len() < 5 {
            continue;
        }
        let n = pairs.len() as f64;
        let mean = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        let total: f64 = pairs.iter().map(|p| (p.1 - mean).powi(2)).sum();
        if total <= 0.0 {
            continue;
        }
        let mut groups: BTreeMap<String, (f64, usize)> = BTreeMap::new();
        let numeric: Option<Vec<f64>> = pairs.iter().map(|p| p.0.as_f64()).collect();
        match numeric {
            Some(xs) => {
                let mut sorted = xs.clone();
                sorted.sort_by(f64::total_cmp);
                let bins = 5.min(sorted.len());
                let edges: Vec<f64> = (1..bins).map(|b| sorted[b * sorted.len() / bins]).collect();
                for (x, p) in xs.iter().zip(&pairs) {
                    let bin = edges.iter().filter(|e| x >= e).count();
                    let g = groups.entry(bin.to_string()).or_insert((0.0, 0));
                    g.0 += p.1;
                    g.1 += 1;
                }
            }
            None => {
                for p in &pairs {
                    let g = groups.entry(p.0.to_string()).or_insert((0.0, 0));
                    g.0 += p.1;
                    g.1 += 1;
                }
            }
        }
        let between: f64 = groups
            .values()
            .map(|(sum, c)| *c as f64 * (sum / *c as f64 - mean).powi(2))
            .sum();
        let label = match &learner {
            Some(l) => format!("{l}.{param}"),
            None => param.clone(),
        };
        out.push(ParamImportance {
            label,
            learner,
            param,
            share: (between / total).clamp(0.0, 1.0),
        });
    }
    out.sort_by(|a, b| b.share.total_cmp(&a.share).then_with(|| a.label.cmp(&b.label)));
    out
}

/// How much one hyperparameter explains of the score's variance.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamImportance {
    /// Shown name: `learner.param`, or the parameter alone.
    pub label: String,
    /// The learner the parameter belongs to (none for program sweeps and the learner choice).
    pub learner: Option<String>,
    /// Parameter name as in the trials' parameters.
    pub param: String,
    /// Share of variance explained, 0..=1.
    pub share: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_of_a_perfect_and_a_useless_ranking() {
        let s = [0.9, 0.8, 0.3, 0.1];
        let c = curves("yes", &s, &[true, true, false, false]);
        assert!((c.auc - 1.0).abs() < 1e-12);
        assert!((c.average_precision - 1.0).abs() < 1e-12);
        assert_eq!(c.roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(c.roc.last(), Some(&(1.0, 1.0)));
        let tied = curves("yes", &[0.5; 4], &[true, false, true, false]);
        assert!((tied.auc - 0.5).abs() < 1e-12, "{}", tied.auc);
        let auc = crate::metrics::roc_auc(&[0.2, 0.7, 0.4, 0.9, 0.1], &[false, true, true, false, false]);
        let ours = curves(
            "x",
            &[0.2, 0.7, 0.4, 0.9, 0.1],
            &[false, true, true, false, false],
        )
        .auc;
        assert!((auc - ours).abs() < 1e-12, "{auc} vs {ours}");
    }

    #[test]
    fn histogram_counts_every_value_once() {
        let h = histogram(&[0.0, 0.1, 0.5, 1.0, f64::NAN], 4);
        assert_eq!(h.iter().map(|b| b.2).sum::<usize>(), 4);
        assert_eq!((h[0].0, h[3].1), (0.0, 1.0));
        assert_eq!(h[3].2, 1, "the maximum lands in the last bin");
    }

    #[test]
    fn thinning_keeps_both_ends() {
        let v: Vec<usize> = (0..1000).collect();
        let t = thin(v, 10);
        assert_eq!(t.len(), 10);
        assert_eq!((t[0], t[9]), (0, 999));
    }
}
