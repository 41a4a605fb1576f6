//! Parallel scaling of a whole `automl run`: `cargo bench --bench scaling -- [--set NAME]
//! [--max-trials N] [--seed N]`.
//!
//! Runs the same search (fixed seed and trial count, so the same trials) with 1 and with 2 jobs
//! and prints where the time goes: reading the table, the search, the refit on all rows, and
//! inside the search the wall time against the summed trial times (their ratio is the
//! parallelism the sweep achieved). The target: 2 jobs ≥ 1.85× faster than 1 on
//! telco_churn with 80 trials.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

use std::path::Path;
use std::time::Instant;

use automl::trials::PipelineTrial;
use automl::{AutoML, Dataset};

fn main() {
    let mut set = "telco_churn".to_string();
    let mut trials = 80;
    let mut seed = 42;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--set" => set = v,
            "--max-trials" => trials = v.parse().unwrap_or(trials),
            "--seed" => seed = v.parse().unwrap_or(seed),
            _ => {}
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets")
        .join(&set);
    let meta: serde_json::Value = match std::fs::read_to_string(dir.join("meta.json")) {
        Ok(t) => serde_json::from_str(&t).unwrap_or_default(),
        Err(e) => {
            eprintln!("scaling bench: {}: {e}", dir.display());
            return;
        }
    };
    let target = meta["target"].as_str().unwrap_or("target").to_string();
    let mut walls = Vec::new();
    for jobs in [1usize, 2] {
        let t0 = Instant::now();
        let data = match Dataset::from_path(&dir.join("train.csv"), &target, None) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("scaling bench: {e}");
                return;
            }
        };
        let load = t0.elapsed().as_secs_f64();
        let run = AutoML::builder()
            .seed(seed)
            .max_trials(trials)
            .jobs(jobs)
            .build()
            .and_then(|a| a.fit(&data));
        let run = match run {
            Ok(r) => r,
            Err(e) => {
                eprintln!("scaling bench: {e}");
                return;
            }
        };
        let wall = t0.elapsed().as_secs_f64();
        let busy: f64 = run
            .trials
            .iter()
            .map(|t| t.fit_time() + t.predict_secs.unwrap_or(0.0))
            .sum();
        let last_end = run
            .trials
            .iter()
            .map(|t| t.started_secs + t.fit_time() + t.predict_secs.unwrap_or(0.0))
            .fold(0.0, f64::max);
        println!(
            "{}",
            serde_json::json!({
                "set": set, "jobs": jobs, "trials": run.trials.len(), "wall_secs": wall,
                "load_secs": load, "search_secs": run.search_secs, "refit_secs": run.refit_secs,
                "trial_secs_sum": busy, "search_parallelism": busy / run.search_secs.max(1e-9),
                "last_trial_end_secs": last_end, "best": run.best.cv_score,
                "best_trial": run.best_trial,
            })
        );
        walls.push((wall, run.search_secs));
    }
    if let [(w1, s1), (w2, s2)] = walls[..] {
        println!(
            "speed-up with 2 jobs: whole run {:.2}x, search {:.2}x",
            w1 / w2,
            s1 / s2
        );
    }
}
