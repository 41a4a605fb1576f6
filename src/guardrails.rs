//! Data guardrails, checked after reading the data and before the search, as Azure AutoML does:
//! validation split handling, missing feature values imputation, high cardinality feature
//! detection, class balancing detection and a memory estimate — plus two of ours: a leakage
//! check (a single column that predicts the target almost perfectly is excluded unless allowed)
//! and the ID-like columns that were dropped.
//!
//! Each check is `passed` (nothing to do), `done` (something was found and handled) or
//! `alerted` (something the user should look at).

use serde::{Deserialize, Serialize};

use crate::data::{Dataset, FeatureColumn, FeatureKind, Target};
use crate::prep::{PrepConfig, HIGH_CARD_LEVELS};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing was found.
    Passed,
    /// Something was found and handled.
    Done,
    /// Something the user should look at.
    Alerted,
}

impl Status {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Done => "done",
            Status::Alerted => "alerted",
        }
    }
}

/// One guardrail and what it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guardrail {
    /// The check, in Azure's words where Azure has it.
    pub name: String,
    /// Its outcome.
    pub status: Status,
    /// What was found and done.
    pub detail: String,
}

/// Minority-to-majority class ratio at or below which classes count as imbalanced (Azure's
/// 1:5).
pub const IMBALANCE_RATIO: f64 = 0.2;

/// Out-of-fold score (R² for regression, balanced accuracy for classes) at or above which a
/// single column counts as leaking the target.
pub const LEAKY_SCORE: f64 = 0.99;

/// Most quantile bins of a numeric column in the leakage check (fewer on small data: about
/// five rows per bin).
const LEAK_BINS: usize = 256;

/// How the checks run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep columns the leakage check flags instead of excluding them.
    pub allow_leaky: bool,
    /// Description of the validation scheme the run will use (e.g. `5-fold stratified CV`).
    pub validation: String,
    /// Trials in parallel, for the memory estimate.
    pub jobs: usize,
    /// Memory available, in bytes (default: `MemAvailable` of /proc/meminfo).
    pub available_memory: Option<f64>,
}

/// Run every check on `data`, excluding leaky columns (unless allowed).
pub fn check(data: &mut Dataset, options: &Options) -> Vec<Guardrail> {
    let mut out = vec![
        Guardrail {
            name: "validation split handling".into(),
            status: Status::Done,
            detail: format!("validated with {}", options.validation),
        },
        missing_values(data),
        high_cardinality(data),
        class_balance(data),
        memory(
            data,
            options.jobs,
            options.available_memory.or_else(available_memory),
        ),
    ];
    out.push(leakage(data, options.allow_leaky));
    out.push(id_like(data));
    out
}

fn missing_values(data: &Dataset) -> Guardrail {
    let mut cols: Vec<String> = data
        .schema
        .used()
        .filter(|f| f.missing > 0)
        .map(|f| format!("{} ({})", f.name, f.missing))
        .collect();
    let n = cols.len();
    if n > 8 {
        cols.truncate(8);
        cols.push(format!("and {} more", n - 8));
    }
    Guardrail {
        name: "missing feature values imputation".into(),
        status: if cols.is_empty() {
            Status::Passed
        } else {
            Status::Done
        },
        detail: if cols.is_empty() {
            "no missing values in the used columns".into()
        } else {
            format!(
                "{n} column(s) with missing values, imputed inside each fold (numbers: mean or median, searched; categories: a missing level): {}",
                cols.join(", ")
            )
        },
    }
}

fn high_cardinality(data: &Dataset) -> Guardrail {
    let mut cols = Vec::new();
    let mut how = Vec::new();
    for (f, c) in data.schema.used().zip(&data.features.columns) {
        match c {
            FeatureColumn::Categorical { levels, .. } if levels.len() > HIGH_CARD_LEVELS => {
                cols.push(format!("{} ({} levels)", f.name, levels.len()));
                if how.is_empty() {
                    how.push("categories: one-hot of the most frequent levels plus a frequency or out-of-fold target code (searched), all levels for gbdt");
                }
            }
            FeatureColumn::Text(_) => {
                cols.push(format!("{} (free text)", f.name));
                if !how.iter().any(|h| h.starts_with("text")) {
                    how.push("text: hashed word 1-2-gram TF-IDF and its length");
                }
            }
            _ => {}
        }
    }
    Guardrail {
        name: "high cardinality feature detection".into(),
        status: if cols.is_empty() {
            Status::Passed
        } else {
            Status::Done
        },
        detail: if cols.is_empty() {
            format!("no categorical column has more than {HIGH_CARD_LEVELS} levels")
        } else {
            format!("{} ({})", cols.join(", "), how.join("; "))
        },
    }
}

fn class_balance(data: &Dataset) -> Guardrail {
    let name = "class balancing detection".to_string();
    let (Some(counts), Some(ratio)) = (data.target.class_counts(), data.target.minority_ratio()) else {
        return Guardrail {
            name,
            status: Status::Passed,
            detail: "regression: not applicable".into(),
        };
    };
    let (min_i, &min) = counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .min_by_key(|(_, n)| **n)
        .unwrap_or((0, &0));
    let share = min as f64 / data.target.len().max(1) as f64;
    let label = data.schema.classes.get(min_i).map_or("?", String::as_str);
    if ratio <= IMBALANCE_RATIO {
        Guardrail {
            name,
            status: Status::Alerted,
            detail: format!(
                "imbalanced: the smallest class '{label}' has {min} rows ({:.1}% of all, {:.2} of the largest class); splits are stratified, balanced class weights are searched for the learners that take them (gbdt, oblivious_gbdt, logistic_regression, decision_tree, random_forest, extra_trees) unless the metric is accuracy, precision_weighted or log_loss, and a metric such as roc_auc, balanced_accuracy or f1_macro reflects the minority better than accuracy",
                share * 100.0,
                ratio
            ),
        }
    } else {
        Guardrail {
            name,
            status: Status::Passed,
            detail: format!(
                "balanced: the smallest class '{label}' has {:.1}% of the rows",
                share * 100.0
            ),
        }
    }
}

fn memory(data: &Dataset, jobs: usize, available: Option<f64>) -> Guardrail {
    let recipe = PrepConfig::default();
    let width: usize = data.features.columns.iter().map(|c| recipe.column_width(c)).sum();
    // A trial holds its fold's training and validation matrices (the table once) in f64.
    let matrix = data.n_rows() as f64 * width as f64 * 8.0;
    let estimate = matrix * (1 + jobs.max(1)) as f64;
    let mib = |b: f64| b / (1024.0 * 1024.0);
    let (status, tail) = match available {
        Some(a) if estimate > 0.5 * a => (
            Status::Alerted,
            format!(
                "; more than half of the {:.0} MiB available: use fewer --jobs or sample the rows",
                mib(a)
            ),
        ),
        Some(a) => (Status::Passed, format!(" of {:.0} MiB available", mib(a))),
        None => (Status::Passed, String::new()),
    };
    Guardrail {
        name: "memory estimate".into(),
        status,
        detail: format!(
            "about {:.0} MiB for {} rows × {width} encoded columns over {} parallel trial(s){tail}",
            mib(estimate).ceil(),
            data.n_rows(),
            jobs.max(1)
        ),
    }
}

/// `MemAvailable` of /proc/meminfo, in bytes (Linux).
fn available_memory() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

fn id_like(data: &Dataset) -> Guardrail {
    let cols: Vec<String> = data
        .schema
        .features
        .iter()
        .filter(|f| f.kind == FeatureKind::Ignored)
        .filter_map(|f| {
            let r = f.reason.as_deref()?;
            r.starts_with("ID-like").then(|| format!("{} ({r})", f.name))
        })
        .collect();
    Guardrail {
        name: "ID-like columns".into(),
        status: if cols.is_empty() {
            Status::Passed
        } else {
            Status::Done
        },
        detail: if cols.is_empty() {
            "none".into()
        } else {
            format!("dropped: {}", cols.join(", "))
        },
    }
}

fn leakage(data: &mut Dataset, allow: bool) -> Guardrail {
    let mut found = Vec::new();
    let names: Vec<String> = data.schema.used().map(|f| f.name.clone()).collect();
    for (name, col) in names.iter().zip(&data.features.columns) {
        if let Some(score) = single_column_score(col, &data.target) {
            if score >= LEAKY_SCORE {
                found.push((name.clone(), score));
            }
        }
    }
    let what = if data.target.is_classification() {
        "balanced accuracy"
    } else {
        "r2"
    };
    let list: Vec<String> = found
        .iter()
        .map(|(n, s)| format!("{n} ({what} {s:.3} alone)"))
        .collect();
    let name = "target leakage".to_string();
    if found.is_empty() {
        return Guardrail {
            name,
            status: Status::Passed,
            detail: format!("no single column predicts the target (out-of-fold {what} < {LEAKY_SCORE})"),
        };
    }
    // Never exclude every column: a table whose one feature is that good is kept as it is.
    let excluded = !allow && found.len() < names.len();
    if excluded {
        for (n, s) in &found {
            data.exclude(n, &format!("leaks the target: {what} {s:.3} on its own"));
        }
    }
    Guardrail {
        name,
        status: Status::Alerted,
        detail: if excluded {
            format!(
                "excluded {}: a single column that predicts the target almost perfectly is usually computed from it or recorded after it (keep with --allow-leaky)",
                list.join(", ")
            )
        } else {
            format!("kept (--allow-leaky or no other column): {}", list.join(", "))
        },
    }
}

/// Bin of each row for the leakage check: quantile bins of numbers and dates (ordered), levels
/// of categories, a last bin for missing; `None` for text.
fn bins(col: &FeatureColumn) -> Option<(Vec<usize>, usize, bool)> {
    let numeric = |v: &[f64]| {
        let n_bins = (v.len() / 5).clamp(8, LEAK_BINS);
        let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        s.sort_by(f64::total_cmp);
        s.dedup();
        let cuts: Vec<f64> = if s.len() <= n_bins {
            s.clone()
        } else {
            (1..n_bins).map(|i| s[i * s.len() / n_bins]).collect()
        };
        let missing = cuts.len() + 1;
        let b = v
            .iter()
            .map(|x| {
                if x.is_finite() {
                    cuts.partition_point(|c| c < x)
                } else {
                    missing
                }
            })
            .collect();
        (b, missing + 1, true)
    };
    match col {
        FeatureColumn::Numeric(v) | FeatureColumn::Datetime { secs: v, .. } => Some(numeric(v)),
        FeatureColumn::Categorical { codes, levels } => Some((
            codes
                .iter()
                .map(|&c| {
                    if (c as usize) < levels.len() {
                        c as usize
                    } else {
                        levels.len()
                    }
                })
                .collect(),
            levels.len() + 1,
            false,
        )),
        FeatureColumn::Text(_) => None,
    }
}

/// Mean target per bin; an empty bin takes its nearest non-empty neighbours' mean when bins
/// are ordered (the missing bin, last, excepted), else the overall mean.
fn bin_means(sum: &[f64], cnt: &[f64], global: f64, ordered: bool) -> Vec<f64> {
    let own: Vec<Option<f64>> = sum
        .iter()
        .zip(cnt)
        .map(|(s, c)| (*c > 0.0).then(|| s / c))
        .collect();
    let last = own.len().saturating_sub(1);
    (0..own.len())
        .map(|b| {
            if let Some(m) = own[b] {
                return m;
            }
            if !ordered || b == last {
                return global;
            }
            let left = (0..b).rev().find_map(|j| own[j]);
            let right = (b + 1..last).find_map(|j| own[j]);
            match (left, right) {
                (Some(l), Some(r)) => (l + r) / 2.0,
                (Some(v), None) | (None, Some(v)) => v,
                (None, None) => global,
            }
        })
        .collect()
}

/// 5-fold out-of-fold score of predicting the target from one column's bins alone.
fn single_column_score(col: &FeatureColumn, target: &Target) -> Option<f64> {
    let (bin, n_bins, ordered) = bins(col)?;
    let n = bin.len();
    if n < 20 {
        return None;
    }
    const FOLDS: usize = 5;
    let fold = |i: usize| (i.wrapping_mul(0x9E37_79B9) >> 7) % FOLDS;
    match target {
        Target::Values(y) => {
            let mut pred = vec![0.0; n];
            for f in 0..FOLDS {
                let (mut sum, mut cnt) = (vec![0.0; n_bins], vec![0.0; n_bins]);
                let (mut all, mut m) = (0.0, 0.0);
                for i in (0..n).filter(|&i| fold(i) != f) {
                    sum[bin[i]] += y[i];
                    cnt[bin[i]] += 1.0;
                    all += y[i];
                    m += 1.0;
                }
                let global = all / f64::max(m, 1.0);
                let means = bin_means(&sum, &cnt, global, ordered);
                for i in (0..n).filter(|&i| fold(i) == f) {
                    pred[i] = means[bin[i]];
                }
            }
            let mean = y.iter().sum::<f64>() / n as f64;
            let sst: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
            let sse: f64 = y.iter().zip(&pred).map(|(a, p)| (a - p).powi(2)).sum();
            (sst > 0.0).then(|| 1.0 - sse / sst)
        }
        Target::Classes(y) => {
            let k = y.iter().copied().max().unwrap_or(0) + 1;
            let mut hit = vec![0.0; k];
            let mut tot = vec![0.0; k];
            for f in 0..FOLDS {
                let mut counts = vec![0usize; n_bins * k];
                let mut all = vec![0usize; k];
                for i in (0..n).filter(|&i| fold(i) != f) {
                    counts[bin[i] * k + y[i]] += 1;
                    all[y[i]] += 1;
                }
                let argmax = |c: &[usize]| (0..k).max_by_key(|&j| (c[j], std::cmp::Reverse(j))).unwrap_or(0);
                let majority = argmax(&all);
                for i in (0..n).filter(|&i| fold(i) == f) {
                    let c = &counts[bin[i] * k..(bin[i] + 1) * k];
                    let p = if c.iter().any(|&x| x > 0) {
                        argmax(c)
                    } else {
                        majority
                    };
                    tot[y[i]] += 1.0;
                    if p == y[i] {
                        hit[y[i]] += 1.0;
                    }
                }
            }
            let recalls: Vec<f64> = (0..k)
                .filter(|&c| tot[c] > 0.0)
                .map(|c| hit[c] / tot[c])
                .collect();
            Some(recalls.iter().sum::<f64>() / recalls.len().max(1) as f64)
        }
    }
}

/// The guardrails as an aligned text table (one line each).
pub fn table(checks: &[Guardrail]) -> String {
    let w = checks.iter().map(|g| g.name.len()).max().unwrap_or(0);
    checks
        .iter()
        .map(|g| format!("  {:<w$}  {:<7}  {}", g.name, g.status.name(), g.detail))
        .collect::<Vec<_>>()
        .join("\n")
}
