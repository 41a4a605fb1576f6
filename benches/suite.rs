//! Suite runner: `cargo bench --bench suite -- [--time-budget S] [--jobs N] [--seed N] [--only a,b] [--max-trials N] [--sampler cfo|tpe|random] [--early-termination POLICY] [--learners a,b | --exclude a,b] [--ensemble greedy|stack|none] [--final-fit folds|all] [--cv-folds K] [--seeds a,b,...] [--save FILE] [--baseline FILE]`.
//!
//! Runs automl on every dataset in `datasets/` and `../shared/datasets` (train.csv → test.csv),
//! each in a child process of its own (so its peak resident memory is its own), scores the test
//! set exactly as `../shared/reference` does (binary: ROC AUC of the positive class in meta.json;
//! multiclass: accuracy; regression: R²) and prints a Markdown table: our score and its bootstrap
//! standard error over the test rows (the test split's own noise), the best of the
//! four reference systems (FLAML 30 s, AutoGluon 30 s, default LightGBM, default random forest), a
//! win/loss column (tolerance: 0.002 AUC or R²; one test row of accuracy below 100 test rows, else
//! 0.5 point), trials, best learner, wall time from reading the data to the model saved, the
//! overrun beyond the budget, and peak RSS.
//!
//! `--seeds 42,7` runs the table once per seed and adds each set's mean score and wins over the
//! seeds; `--save FILE` writes every result row (set, seed, score, se, ...) as JSON, and
//! `--baseline FILE` compares this run with such a file pair by pair (same set and seed): the
//! mean difference with its standard error, better/worse counts and wins before and after (and the
//! mean over the sets with at least 100 test rows, where one row does not decide it). A
//! change to the engine is judged this way on several seeds, not on one table.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

#[path = "common/mod.rs"]
mod common;
use common::datasets;
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
    ensemble: automl::ensemble::EnsembleKind,
    final_fit: automl::ensemble::FinalFit,
    child: Option<String>,
    cv_folds: Option<usize>,
    seeds: Option<Vec<u64>>,
    save: Option<PathBuf>,
    baseline: Option<PathBuf>,
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
        ensemble: automl::ensemble::EnsembleKind::default(),
        final_fit: automl::ensemble::FinalFit::default(),
        child: None,
        cv_folds: None,
        seeds: None,
        save: None,
        baseline: None,
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
            "--ensemble" => {
                o.ensemble = automl::ensemble::EnsembleKind::parse(&val(&a)?).map_err(|e| e.to_string())?
            }
            "--final-fit" => {
                o.final_fit = automl::ensemble::FinalFit::parse(&val(&a)?).map_err(|e| e.to_string())?
            }
            "--child" => o.child = Some(val(&a)?),
            "--cv-folds" => o.cv_folds = Some(val(&a)?.parse().map_err(|e| format!("--cv-folds: {e}"))?),
            "--seeds" => {
                o.seeds = Some(
                    val(&a)?
                        .split(',')
                        .map(|x| x.trim().parse().map_err(|e| format!("--seeds: {e}")))
                        .collect::<Result<_, _>>()?,
                )
            }
            "--save" => o.save = Some(PathBuf::from(val(&a)?)),
            "--baseline" => o.baseline = Some(PathBuf::from(val(&a)?)),
            "--only" => o.only = Some(val(&a)?.split(',').map(str::to_string).collect()),
            "--bench" => {} // passed by cargo bench
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
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

/// Resamples of the test rows behind the `± se` column.
const BOOTSTRAP: usize = 200;

/// Standard error of the test score from [`BOOTSTRAP`] resamples of the test rows (with
/// replacement, a fixed seed): how far the score moves with the luck of the test split alone.
/// Differences to a reference system smaller than about this are within the test set's noise.
fn bootstrap_se(
    meta: &serde_json::Value,
    classes: &[String],
    truth: &Target,
    pred: &Prediction,
) -> Option<f64> {
    use rand::{Rng, SeedableRng};
    let n = truth.len();
    if n < 2 {
        return None;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5E);
    let scores: Vec<f64> = (0..BOOTSTRAP)
        .filter_map(|_| {
            let rows: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
            let p = match pred {
                Prediction::Proba(m) => Prediction::Proba(m.select_rows(&rows)),
                Prediction::Values(v) => Prediction::Values(rows.iter().map(|&i| v[i]).collect()),
            };
            reference_metric(meta, classes, &truth.select(&rows), &p)
                .ok()
                .filter(|s| s.is_finite())
        })
        .collect();
    (scores.len() >= 2).then(|| mean_sd(&scores).1)
}

/// Test sets with fewer rows than this are small: one row of accuracy there is more than 0.01.
const SMALL_TEST: usize = 100;

/// Win tolerance of the issue: 0.002 AUC or R²; one test row of accuracy on sets with fewer than
/// [`SMALL_TEST`] test rows, 0.5 point otherwise.
fn tolerance(metric: &str, test_rows: usize) -> f64 {
    match metric {
        "accuracy" if test_rows < SMALL_TEST => 1.0 / test_rows.max(1) as f64,
        "accuracy" => 0.005,
        _ => 0.002,
    }
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// One dataset in this process: fit, save the model (wall time measured up to here), score the
/// test set; prints one JSON line.
fn child(o: &Opts, name: &str, dir: &Path) {
    let outcome = (|| -> Result<serde_json::Value, String> {
        let meta: serde_json::Value = std::fs::read_to_string(dir.join("meta.json"))
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))?;
        let target = meta["target"].as_str().unwrap_or_default().to_string();
        let task: Option<Task> = meta["task"].as_str().and_then(|t| t.parse().ok());
        let t0 = Instant::now();
        // As the `automl` binary does, so the peak-memory column is what users see.
        automl::heap::settle_for(&dir.join("train.csv"));
        let data = Dataset::from_path(&dir.join("train.csv"), &target, task).map_err(|e| e.to_string())?;
        let mut b = AutoML::builder()
            .seed(o.seed)
            .time_budget_secs(o.budget)
            .started_at(t0)
            .sampler(o.sampler)
            .ensemble(o.ensemble)
            .final_fit(o.final_fit)
            .early_termination(o.policy.clone());
        if let Some(j) = o.jobs {
            b = b.jobs(j);
        }
        if let Some(n) = o.max_trials {
            b = b.max_trials(n);
        }
        if let Some(k) = o.cv_folds {
            b = b.validation(automl::validation::Scheme::Folds(k));
        }
        if let Some(l) = &o.learners {
            b = b.learners(l.iter().cloned());
        }
        let run = b.build().and_then(|a| a.fit(&data)).map_err(|e| e.to_string())?;
        let tmp = std::env::temp_dir().join(format!("automl-suite-{}-{name}.automl", std::process::id()));
        run.best.save(&tmp).map_err(|e| e.to_string())?;
        let secs = t0.elapsed().as_secs_f64();
        let _ = std::fs::remove_file(&tmp);
        let test = Table::read(&dir.join("test.csv")).map_err(|e| e.to_string())?;
        let (truth, pred) = run
            .best
            .predict_labelled(&test, &mut Vec::new())
            .map_err(|e| e.to_string())?;
        let s = reference_metric(&meta, &run.best.schema.classes, &truth, &pred)?;
        let se = bootstrap_se(&meta, &run.best.schema.classes, &truth, &pred);
        let bagged = if run.best.ensemble.iter().any(|m| m.bag > 1) {
            "bag:"
        } else {
            ""
        };
        let learner = if run.best.ensemble.len() <= 1 {
            format!("{bagged}{}", run.best.config.learner)
        } else {
            let mut l: Vec<&str> = run
                .best
                .ensemble
                .iter()
                .map(|m| m.config.learner.as_str())
                .collect();
            l.sort_unstable();
            l.dedup();
            format!("{bagged}ens{}[{}]", run.best.ensemble.len(), l.join("+"))
        };
        Ok(serde_json::json!({
            "score": s,
            "se": se,
            "trials": run.trials.len(),
            "learner": learner,
            "secs": secs,
            "test_rows": truth.len(),
            "peak_mib": peak_rss_mib(),
            "single": run.ensemble.as_ref().map(|e| e.single),
            // The most fold models a member of the final model averages (1: refitted on all rows).
            "bag": run.best.ensemble.iter().map(|m| m.bag).max(),
        }))
    })();
    let v = outcome.unwrap_or_else(|e| serde_json::json!({ "error": e }));
    println!("{v}");
}

/// The reference systems the win column compares with.
const SYSTEMS: [&str; 4] = ["flaml_30s", "autogluon_30s", "lightgbm_default", "rf_default"];

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("suite: {e}");
            std::process::exit(2);
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if let Some(name) = &o.child {
        if let Some((_, dir)) = datasets(&root).into_iter().find(|(n, _)| n == name) {
            child(&o, name, &dir);
        }
        return;
    }
    // The baseline is read, and the save path checked, before the long run, not after it.
    let base = match o.baseline.as_deref().map(read_rows).transpose() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("suite: {e}");
            std::process::exit(2);
        }
    };
    if let Some(dir) = o.save.as_deref().and_then(Path::parent) {
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            eprintln!(
                "suite: cannot save to a folder that does not exist: {}",
                dir.display()
            );
            std::process::exit(2);
        }
    }
    let refs = reference(&root);
    let seeds = o.seeds.clone().unwrap_or_else(|| vec![o.seed]);
    let mut rows = Vec::new();
    let mut wins_per_seed = Vec::new();
    for &seed in &seeds {
        let (wins, mut r) = table(&o, &root, &refs, seed);
        wins_per_seed.push(wins);
        rows.append(&mut r);
    }
    if seeds.len() > 1 {
        summary(&rows, &seeds, &wins_per_seed);
    }
    let mut failed = false;
    if let Some(path) = &o.save {
        let text = serde_json::to_string_pretty(&rows).unwrap_or_default();
        match std::fs::write(path, text) {
            Ok(()) => println!("\nresults saved to {}", path.display()),
            Err(e) => {
                eprintln!("suite: cannot write {}: {e}", path.display());
                failed = true;
            }
        }
    }
    if let (Some(path), Some(base)) = (&o.baseline, &base) {
        compare(&rows, base, path);
    }
    if failed {
        std::process::exit(1);
    }
}

/// Result rows saved by `--save`.
fn read_rows(path: &Path) -> Result<Vec<serde_json::Value>, String> {
    std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<Vec<serde_json::Value>>(&t).map_err(|e| e.to_string()))
        .map_err(|e| format!("cannot read the baseline {}: {e}", path.display()))
}

/// Mean and sample standard deviation (0 for fewer than two values).
fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len();
    let mean = xs.iter().sum::<f64>() / n.max(1) as f64;
    let sd = if n > 1 {
        (xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    (mean, sd)
}

/// Score of a result row, if it has one.
fn row_score(r: &serde_json::Value) -> Option<f64> {
    r["score"].as_f64()
}

/// Whether a result row is a win.
fn row_won(r: &serde_json::Value) -> bool {
    r["win"].as_bool() == Some(true)
}

/// Per set over all seeds: mean score, wins out of seeds.
fn summary(rows: &[serde_json::Value], seeds: &[u64], wins: &[usize]) {
    println!(
        "\nover seeds {}: wins {} (mean {:.1} of {} sets)\n",
        seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        wins.iter().map(usize::to_string).collect::<Vec<_>>().join(" / "),
        wins.iter().sum::<usize>() as f64 / wins.len().max(1) as f64,
        rows.len() / seeds.len().max(1)
    );
    println!("| dataset | mean score | best of 4 | mean Δ | wins |");
    println!("|---|---:|---:|---:|---:|");
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        if let Some(n) = r["set"].as_str() {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    for n in names {
        let of: Vec<&serde_json::Value> = rows.iter().filter(|r| r["set"] == n).collect();
        let scores: Vec<f64> = of.iter().filter_map(|r| row_score(r)).collect();
        let (mean, _) = mean_sd(&scores);
        let best = of.iter().find_map(|r| r["best"].as_f64());
        let w = of.iter().filter(|r| row_won(r)).count();
        println!(
            "| {n} | {mean:.4} | {} | {} | {w} of {} |",
            best.map_or("-".into(), |b| format!("{b:.4}")),
            best.map_or("-".into(), |b| format!("{:+.4}", mean - b)),
            of.len()
        );
    }
}

/// Paired comparison with a saved run: per set and seed, this run's score minus the baseline's.
fn compare(rows: &[serde_json::Value], base: &[serde_json::Value], path: &Path) {
    println!(
        "\nagainst {} (same set and seed; Δ = this run − baseline):\n",
        path.display()
    );
    println!("| dataset | seed | baseline | this run | Δ | win (baseline → this run) |");
    println!("|---|---:|---:|---:|---:|---|");
    // (Δ, test rows): a set's test rows come from this run (older saved runs lack them).
    let mut diffs: Vec<(f64, usize)> = Vec::new();
    let (mut wins_then, mut wins_now) = (0, 0);
    for r in rows {
        let Some(b) = base
            .iter()
            .find(|b| b["set"] == r["set"] && b["seed"] == r["seed"])
        else {
            continue;
        };
        let (Some(x), Some(y)) = (row_score(b), row_score(r)) else {
            continue;
        };
        let mark = |v: &serde_json::Value| if row_won(v) { "win" } else { "loss" };
        wins_then += usize::from(row_won(b));
        wins_now += usize::from(row_won(r));
        diffs.push((y - x, r["test_rows"].as_u64().unwrap_or(0) as usize));
        println!(
            "| {} | {} | {x:.4} | {y:.4} | {:+.4} | {} → {} |",
            r["set"].as_str().unwrap_or("?"),
            r["seed"],
            y - x,
            mark(b),
            mark(r)
        );
    }
    if diffs.is_empty() {
        println!("no set and seed in common with the baseline");
        return;
    }
    let all: Vec<f64> = diffs.iter().map(|d| d.0).collect();
    println!("\n{}; wins {wins_then} → {wins_now}", paired(&all));
    // One test row of accuracy moves a small test set by over 0.01, more than most changes move
    // the others: their mean is shown apart.
    let large: Vec<f64> = diffs.iter().filter(|d| d.1 >= SMALL_TEST).map(|d| d.0).collect();
    if !large.is_empty() && large.len() < all.len() {
        println!("sets with at least {SMALL_TEST} test rows: {}", paired(&large));
    }
}

/// "n pairs: mean Δ ± standard error, better / worse / equal counts" of paired differences.
fn paired(diffs: &[f64]) -> String {
    let n = diffs.len();
    let (mean, sd) = mean_sd(diffs);
    format!(
        "{n} pairs: mean Δ {mean:+.4} ± {:.4} (standard error), better on {}, worse on {}, equal on {}",
        sd / (n as f64).sqrt(),
        diffs.iter().filter(|d| **d > 0.0).count(),
        diffs.iter().filter(|d| **d < 0.0).count(),
        diffs.iter().filter(|d| **d == 0.0).count(),
    )
}

/// One table: every set at `seed`. Returns the wins and one result row per set.
fn table(o: &Opts, root: &Path, refs: &serde_json::Value, seed: u64) -> (usize, Vec<serde_json::Value>) {
    println!(
        "automl suite: time budget {}s, jobs {}, seed {seed}, ensemble {}, final fit {}\n",
        o.budget,
        o.jobs.unwrap_or_else(automl::automl::default_jobs),
        o.ensemble.name(),
        o.final_fit.name()
    );
    println!("| dataset | task | metric | automl | ± se | best of 4 | (system) | Δ | win | trials | best learner | run s | overrun s | peak MiB |");
    println!("|---|---|---|---:|---:|---:|---|---:|---|---:|---|---:|---:|---:|");
    let (mut wins, mut sets, mut worst_over) = (0, 0, f64::NEG_INFINITY);
    let mut close = Vec::new();
    let mut rows = Vec::new();
    for (name, dir) in datasets(root) {
        if o.only.as_ref().is_some_and(|only| !only.contains(&name)) {
            continue;
        }
        let meta: serde_json::Value = std::fs::read_to_string(dir.join("meta.json"))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null);
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args(std::env::args().skip(1))
            .args(["--seed", &seed.to_string(), "--child", &name]);
        let out = cmd.output().map_err(|e| e.to_string());
        let v: serde_json::Value = out
            .and_then(|o| {
                let text = String::from_utf8_lossy(&o.stdout).to_string();
                let line = text.lines().last().unwrap_or("").to_string();
                serde_json::from_str(&line).map_err(|_| {
                    format!(
                        "child failed: {}",
                        String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")
                    )
                })
            })
            .unwrap_or_else(|e| serde_json::json!({ "error": e }));
        let metric = meta["metric"].as_str().unwrap_or("?");
        let task = meta["task"].as_str().unwrap_or("?");
        let best = SYSTEMS
            .iter()
            .filter_map(|sys| ref_score(refs, sys, &name).map(|s| (s, *sys)))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.4}"));
        if let Some(e) = v["error"].as_str() {
            println!(
                "| {name} | {task} | {metric} | error: {e} | | {} | | | | | | | | |",
                fmt(best.map(|b| b.0))
            );
            sets += 1;
            rows.push(serde_json::json!({ "set": name, "seed": seed, "error": e }));
            continue;
        }
        let s = v["score"].as_f64().unwrap_or(f64::NAN);
        let secs = v["secs"].as_f64().unwrap_or(f64::NAN);
        let over = secs - o.budget;
        worst_over = worst_over.max(secs - (o.budget * 1.05 + 1.0));
        let tol = tolerance(metric, v["test_rows"].as_u64().unwrap_or(0) as usize);
        let win = best.is_none_or(|(b, _)| s >= b - tol - 1e-12);
        sets += 1;
        wins += usize::from(win);
        rows.push(serde_json::json!({
            "set": name,
            "seed": seed,
            "score": s,
            "se": v["se"],
            "best": best.map(|b| b.0),
            "win": win,
            "trials": v["trials"],
            "learner": v["learner"],
            "secs": secs,
            "peak_mib": v["peak_mib"],
            "test_rows": v["test_rows"],
            "bag": v["bag"],
        }));
        if let (false, Some((b, _)), Some(se)) = (win, best, v["se"].as_f64()) {
            if b - s <= se {
                close.push(name.clone());
            }
        }
        println!(
            "| {name} | {task} | {metric} | {s:.4} | {} | {} | {} | {} | {} | {} | {} | {secs:.1} | {over:+.1} | {} |",
            fmt(v["se"].as_f64()),
            fmt(best.map(|b| b.0)),
            best.map_or("-", |b| b.1),
            best.map_or("-".into(), |(b, _)| format!("{:+.4}", s - b)),
            if win { "win" } else { "loss" },
            v["trials"],
            v["learner"].as_str().unwrap_or("?"),
            v["peak_mib"].as_f64().map_or("-".into(), |m| format!("{m:.0}")),
        );
    }
    println!(
        "\nat or above the best of {} (within tolerance) on {wins} of {sets} sets; worst wall time beyond budget × 1.05 + 1 s: {worst_over:+.1} s",
        SYSTEMS.join(" / ")
    );
    println!(
        "losses by less than one standard error of the test score (within the test split's noise): {} of {}{}",
        close.len(),
        sets - wins,
        if close.is_empty() {
            String::new()
        } else {
            format!(" ({})", close.join(", "))
        }
    );
    (wins, rows)
}
