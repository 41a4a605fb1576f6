//! Sweep-engine throughput on a trivial objective: `cargo bench --bench sweep_speed [-- --random N --tpe N]`.
//!
//! Prints one JSON line per case (trials, seconds, trials per second, best value). The objective
//! is `(x - 2)^2 + (y + 1)^2` with x, y uniform in [-10, 10]; sequential (one worker,
//! max_concurrent 1), in memory — the same setting `benches/optuna_speed.py` measures for Optuna.
//! `benches/vs-optuna.sh` runs both side by side. `--sqlite N` adds a case whose trials are
//! written to and read back from a workspace run in SQLite (`store::RunStudy`, a file in a
//! temporary folder), the store `automl run` and `automl sweep` record into.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

use std::time::Instant;

use automl::samplers::SamplerKind;
use automl::space::{ParamSpec, SearchSpace};
use std::sync::Arc;

use automl::store::{Layout, NewRun, RunStudy, SqlStore, Store, TrialState};
use automl::sweep::{Goal, Limits, Sweep, Trial, TrialError, TrialStore};

/// A study on a fresh SQLite workspace in a temporary folder.
fn sqlite_study(dir: &std::path::Path) -> Arc<dyn TrialStore> {
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(&dir.join("automl.db")).expect("store opens"));
    let parent = store
        .create_run(&NewRun {
            experiment: "bench".into(),
            name: "sweep".into(),
            status: Some(TrialState::Running),
            ..NewRun::default()
        })
        .expect("parent run");
    let layout = Layout::Program {
        metric: "loss".into(),
        logs: dir.to_path_buf(),
    };
    Arc::new(RunStudy::open(store, parent, "bench", layout).expect("study opens"))
}

fn case(kind: SamplerKind, n: usize, store: Option<Arc<dyn TrialStore>>) -> serde_json::Value {
    let space = SearchSpace::new()
        .add("x", ParamSpec::uniform(-10.0, 10.0))
        .add("y", ParamSpec::uniform(-10.0, 10.0));
    let t0 = Instant::now();
    let sqlite = store.is_some();
    let mut builder = Sweep::builder(space)
        .goal(Goal::Minimize)
        .sampler(kind)
        .seed(1)
        .jobs(1)
        .max_concurrent(1);
    if let Some(s) = store {
        builder = builder.store(s);
    }
    let sweep = builder.build().expect("valid sweep");
    let out = sweep
        .optimize(
            |t: &mut Trial| -> Result<f64, TrialError> {
                let (x, y) = (t.float("x")?, t.float("y")?);
                Ok((x - 2.0).powi(2) + (y + 1.0).powi(2))
            },
            Limits {
                max_trials: Some(n),
                ..Limits::default()
            },
        )
        .expect("sweep runs");
    let secs = t0.elapsed().as_secs_f64();
    serde_json::json!({
        "system": if sqlite { "automl+sqlite" } else { "automl" },
        "sampler": kind.name(),
        "trials": out.trials.len(),
        "secs": secs,
        "trials_per_sec": out.trials.len() as f64 / secs,
        "best": out.best().and_then(|b| b.value),
    })
}

fn main() {
    let mut random = 100_000;
    let mut tpe = 1_000;
    let mut sqlite = 0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        match a.as_str() {
            "--random" => random = v,
            "--tpe" => tpe = v,
            "--sqlite" => sqlite = v,
            _ => {}
        }
    }
    println!("{}", case(SamplerKind::Random, random, None));
    println!("{}", case(SamplerKind::Tpe, tpe, None));
    if sqlite > 0 {
        let dir = std::env::temp_dir().join(format!("automl-sweep-speed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp folder");
        println!("{}", case(SamplerKind::Random, sqlite, Some(sqlite_study(&dir))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
