//! Suite runner: `cargo bench --bench suite -- [--time-budget S] [--jobs N] [--seed N] [--only a,b] [--max-trials N] [--sampler cfo|tpe|random] [--early-termination POLICY] [--learners a,b | --exclude a,b]`.
//!
//! Runs automl on every dataset in `datasets/` and `../shared/datasets` (train.csv → test.csv),
//! scores the test set exactly as `../shared/reference` does (binary: ROC AUC of the positive class
//! in meta.json; multiclass: accuracy; regression: R²) and prints a Markdown table beside the
//! reference systems' scores.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use automl::data::{Target, Task};
use automl::learners::Prediction;
use automl::metrics::{roc_auc, Metric};
use automl::{AutoML, Dataset, Table};

struct Opts {
    budget: f64,
    jobs: Option<usize>,
    seed: u64,
    only: Option<Vec<String>>,
    max_trials: Option<usize>,
    sampler: automl::samplers::SamplerKind,
    policy: automl::pruners::Policy,
    learners: Option<Vec<String>>,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        budget: 30.0,
        jobs: None,
        seed: 42,
        only: None,
        max_trials: None,
        sampler: automl::samplers::SamplerKind::default(),
        policy: automl::pruners::Policy::None,
        learners: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--time-budget" => o.budget = val(&a)?.parse().map_err(|e| format!("--time-budget: {e}"))?,
            "--jobs" => o.jobs = Some(val(&a)?.parse().map_err(|e| format!("--jobs: {e}"))?),
            "--seed" => o.seed = val(&a)?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--max-trials" => {
                o.max_trials = Some(val(&a)?.parse().map_err(|e| format!("--max-trials: {e}"))?)
            }
            "--sampler" => {
                o.sampler = automl::samplers::SamplerKind::parse(&val(&a)?).map_err(|e| e.to_string())?
            }
            "--early-termination" => {
                o.policy = match val(&a)?.as_str() {
                    "none" => automl::pruners::Policy::None,
                    "asha" => automl::pruners::Policy::SuccessiveHalving {
                        min_resource: 1,
                        reduction_factor: 2,
                    },
                    "median" => automl::pruners::Policy::Median {
                        schedule: automl::pruners::Schedule::default(),
                    },
                    other => return Err(format!("--early-termination: none, asha or median, not {other}")),
                }
            }
            "--learners" => o.learners = Some(val(&a)?.split(',').map(str::to_string).collect()),
            "--exclude" => {
                let skip: Vec<String> = val(&a)?.split(',').map(str::to_string).collect();
                o.learners = Some(
                    automl::learners::names()
                        .into_iter()
                        .filter(|l| !skip.iter().any(|s| s == *l))
                        .map(|l| l.to_string())
                        .collect(),
                );
            }
            "--only" => o.only = Some(val(&a)?.split(',').map(str::to_string).collect()),
            "--bench" => {} // passed by cargo bench
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

fn datasets(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = BTreeMap::new();
    for dir in [root.join("datasets"), root.join("../shared/datasets")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.join("meta.json").exists() && p.join("train.csv").exists() {
                let name = e.file_name().to_string_lossy().to_string();
                out.entry(name).or_insert(p);
            }
        }
    }
    // Smallest first, so a short run still covers most sets.
    let mut v: Vec<(String, PathBuf)> = out.into_iter().collect();
    v.sort_by_key(|(_, p)| {
        std::fs::metadata(p.join("train.csv"))
            .map(|m| m.len())
            .unwrap_or(0)
    });
    v
}

fn reference(root: &Path) -> serde_json::Value {
    std::fs::read_to_string(root.join("../shared/reference/dev_results.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn ref_score(r: &serde_json::Value, system: &str, ds: &str) -> Option<f64> {
    r["systems"][system]["datasets"][ds]["score"].as_f64()
}

/// Test score as the reference measures it.
fn reference_metric(
    meta: &serde_json::Value,
    classes: &[String],
    truth: &Target,
    pred: &Prediction,
) -> Result<f64, String> {
    match (meta["task"].as_str(), truth, pred) {
        (Some("binary"), Target::Classes(y), Prediction::Proba(p)) => {
            let pos_label = meta["positive_class"]
                .as_str()
                .ok_or("meta.json has no positive_class")?;
            let pos = classes
                .iter()
                .position(|c| c == pos_label)
                .ok_or("positive class not among classes")?;
            let s: Vec<f64> = (0..p.rows).map(|i| p.get(i, pos)).collect();
            let t: Vec<bool> = y.iter().map(|&c| c == pos).collect();
            Ok(roc_auc(&s, &t))
        }
        (Some("multiclass"), _, _) => Metric::Accuracy.score(truth, pred).map_err(|e| e.to_string()),
        (Some("regression"), _, _) => Metric::R2.score(truth, pred).map_err(|e| e.to_string()),
        _ => Err("unexpected task/prediction combination".into()),
    }
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("suite: {e}");
            std::process::exit(2);
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let refs = reference(&root);
    println!(
        "automl suite: time budget {}s, jobs {}, seed {}\n",
        o.budget,
        o.jobs.unwrap_or_else(automl::automl::default_jobs),
        o.seed
    );
    println!("| dataset | task | metric | automl | trials | best learner | run s | flaml_30s | lightgbm_default | Δ vs flaml_30s |");
    println!("|---|---|---|---:|---:|---|---:|---:|---:|---:|");
    for (name, dir) in datasets(&root) {
        if o.only.as_ref().is_some_and(|only| !only.contains(&name)) {
            continue;
        }
        let meta: serde_json::Value = match std::fs::read_to_string(dir.join("meta.json"))
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        {
            Ok(m) => m,
            Err(e) => {
                println!("| {name} | error reading meta.json: {e} |");
                continue;
            }
        };
        let target = meta["target"].as_str().unwrap_or_default().to_string();
        let task: Option<Task> = meta["task"].as_str().and_then(|t| t.parse().ok());
        let t0 = Instant::now();
        let outcome = (|| -> Result<(f64, usize, String), String> {
            let data =
                Dataset::from_path(&dir.join("train.csv"), &target, task).map_err(|e| e.to_string())?;
            let mut b = AutoML::builder()
                .seed(o.seed)
                .time_budget_secs(o.budget)
                .sampler(o.sampler)
                .early_termination(o.policy.clone());
            if let Some(j) = o.jobs {
                b = b.jobs(j);
            }
            if let Some(n) = o.max_trials {
                b = b.max_trials(n);
            }
            if let Some(l) = &o.learners {
                b = b.learners(l.iter().cloned());
            }
            let run = b.build().and_then(|a| a.fit(&data)).map_err(|e| e.to_string())?;
            let test = Table::read(&dir.join("test.csv")).map_err(|e| e.to_string())?;
            let (truth, pred) = run
                .best
                .predict_labelled(&test, &mut Vec::new())
                .map_err(|e| e.to_string())?;
            let s = reference_metric(&meta, &run.best.schema.classes, &truth, &pred)?;
            Ok((s, run.trials.len(), run.best.config.learner.clone()))
        })();
        let secs = t0.elapsed().as_secs_f64();
        let metric = meta["metric"].as_str().unwrap_or("?");
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.4}"));
        let flaml = ref_score(&refs, "flaml_30s", &name);
        let lgbm = ref_score(&refs, "lightgbm_default", &name);
        match outcome {
            Ok((s, n, learner)) => println!(
                "| {name} | {} | {metric} | {s:.4} | {n} | {learner} | {secs:.1} | {} | {} | {} |",
                meta["task"].as_str().unwrap_or("?"),
                fmt(flaml),
                fmt(lgbm),
                flaml.map_or("-".into(), |f| format!("{:+.4}", s - f)),
            ),
            Err(e) => println!(
                "| {name} | error: {e} | | | | | | {} | {} | |",
                fmt(flaml),
                fmt(lgbm)
            ),
        }
    }
}
