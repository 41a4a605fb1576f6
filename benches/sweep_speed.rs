//! Sweep-engine throughput on a trivial objective: `cargo bench --bench sweep_speed [-- --random N --tpe N]`.
//!
//! Prints one JSON line per case (trials, seconds, trials per second, best value). The objective
//! is `(x - 2)^2 + (y + 1)^2` with x, y uniform in [-10, 10]; sequential (one worker,
//! max_concurrent 1), in memory — the same setting `benches/optuna_speed.py` measures for Optuna.
//! `benches/vs-optuna.sh` runs both side by side.

use std::time::Instant;

use automl::samplers::SamplerKind;
use automl::space::{ParamSpec, SearchSpace};
use automl::sweep::{Goal, Limits, Sweep, Trial, TrialError};

fn case(kind: SamplerKind, n: usize) -> serde_json::Value {
    let space = SearchSpace::new()
        .add("x", ParamSpec::uniform(-10.0, 10.0))
        .add("y", ParamSpec::uniform(-10.0, 10.0));
    let t0 = Instant::now();
    let sweep = Sweep::builder(space)
        .goal(Goal::Minimize)
        .sampler(kind)
        .seed(1)
        .jobs(1)
        .max_concurrent(1)
        .build()
        .expect("valid sweep");
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
        "system": "automl",
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
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        match a.as_str() {
            "--random" => random = v,
            "--tpe" => tpe = v,
            _ => {}
        }
    }
    println!("{}", case(SamplerKind::Random, random));
    println!("{}", case(SamplerKind::Tpe, tpe));
}
