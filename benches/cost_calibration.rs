//! Cost-model calibration: `cargo bench --bench cost_calibration -- [--only a,b] [--learners a,b] [--point init|low_cost] [--shapes]`.
//!
//! For every dataset in `datasets/` and `../shared/datasets` and every learner that fits its task,
//! prints the search's deterministic cost estimate of one fold (`trials::cost_of` / folds, in
//! units of about a nanosecond) next to the measured time of the same work: fitting the learner's
//! default configuration (its space's `init` values, or its `low_cost` point) with the default
//! preprocessing on the first fold's training rows and predicting its validation rows, on one
//! thread of this machine. The ratio measured / estimated should stay within 3× everywhere.
//! `--shapes` also prints each cell's `Shape` (what the estimate is computed from) on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed benchmark

#[path = "common/mod.rs"]
mod common;
use common::datasets;
use std::path::PathBuf;
use std::time::Instant;

use automl::data::Task;
use automl::model::{Pipeline, TrialConfig};
use automl::param::Params;
use automl::Dataset;

fn main() {
    let mut only: Option<Vec<String>> = None;
    let mut learners: Option<Vec<String>> = None;
    let mut point = "init".to_string();
    let mut shapes = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--only" => only = args.next().map(|v| v.split(',').map(str::to_string).collect()),
            "--learners" => learners = args.next().map(|v| v.split(',').map(str::to_string).collect()),
            "--point" => point = args.next().unwrap_or_default(),
            "--shapes" => shapes = true,
            "--bench" => {}
            other => {
                eprintln!("cost_calibration: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (prep_space, spaces) = automl::space::builtin_spaces().unwrap();
    let pick = |sp: &automl::space::LearnerSpace| -> Params {
        let mut p = Params::default();
        for (name, spec) in &sp.params {
            let v = if point == "low_cost" {
                spec.low_cost.clone().or(spec.init.clone())
            } else {
                spec.init.clone()
            };
            if let Some(v) = v {
                p.set(name, spec.finish(v));
            }
        }
        p
    };
    let prep = pick(&prep_space);
    // One thread, as a trial of a `--jobs 2` run mostly has.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    println!("cost model calibration ({point} point; one fold, fit + predict, 1 thread)\n");
    println!("| dataset | rows | cols | one-hot cols | learner | estimate s | measured s | ratio |");
    println!("|---|---:|---:|---:|---|---:|---:|---:|");
    let (mut worst_hi, mut worst_lo) = (0.0f64, f64::INFINITY);
    let mut outside = 0;
    for (name, dir) in datasets(&root) {
        if only.as_ref().is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
        let task: Option<Task> = meta["task"].as_str().and_then(|t| t.parse().ok());
        let data =
            Dataset::from_path(&dir.join("train.csv"), meta["target"].as_str().unwrap(), task).unwrap();
        let plan = automl::validation::plan(&data.target, 42, &mut Vec::new()).unwrap();
        let fold = &plan.folds[0];
        for sp in spaces.iter().filter(|s| s.supports(data.schema.task)) {
            if learners.as_ref().is_some_and(|l| !l.contains(&sp.learner)) {
                continue;
            }
            let params = pick(sp);
            let config = TrialConfig {
                learner: sp.learner.clone(),
                prep: prep.clone(),
                params,
            };
            let est = automl::trials::cost_of(&data, &plan, &config, 1.0) / plan.folds.len() as f64 * 1e-9;
            let width = automl::trials::encoded_width(&data, &config);
            if shapes {
                eprintln!(
                    "shape {name} {} {:?}",
                    sp.learner,
                    automl::trials::shape_of(&data, &plan, &config, 1.0)
                );
            }
            let t0 = Instant::now();
            let ok = pool.install(|| {
                Pipeline::fit(
                    &data.schema,
                    &data.features,
                    &data.target,
                    &config,
                    Some(&fold.train),
                    1,
                )
                .and_then(|p| p.predict(&data.features, Some(&fold.valid)))
            });
            let secs = t0.elapsed().as_secs_f64();
            let ratio = secs / est;
            let flag = if ok.is_err() {
                " (failed)"
            } else if !(1.0 / 3.0..=3.0).contains(&ratio) {
                outside += 1;
                " **"
            } else {
                ""
            };
            if ok.is_ok() {
                worst_hi = worst_hi.max(ratio);
                worst_lo = worst_lo.min(ratio);
            }
            println!(
                "| {name} | {} | {} | {width} | {} | {est:.4} | {secs:.4} | {ratio:.2}{flag} |",
                fold.train.len(),
                data.features.columns.len(),
                sp.learner
            );
        }
    }
    println!("\nratio measured / estimated: {worst_lo:.2} to {worst_hi:.2}; {outside} outside [1/3, 3]");
}
