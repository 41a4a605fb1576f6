//! Distributed runs, PostgreSQL vs SQLite side by side in one run (issue 14):
//! 1. claims: W = 1, 2, 4 claimers (threads, each with its own store handle) take 400 trial ids
//!    between them, each doing a worker's store work per trial (claim, child run, claim's child,
//!    completion in the claim's transaction): claim latency p50/p99, trials per second, and
//!    PostgreSQL round trips per trial;
//! 2. end to end: W = 1, 2, 4 `automl worker` processes on a trivial command sweep (200 trials)
//!    and on a real `automl run` (breast_cancer, 48 trials): wall time and trials per second,
//!    and PostgreSQL transactions per trial (server statistics).
//!
//! Starts a throwaway PostgreSQL server (tests/support/postgres.rs). Run:
//! `cargo bench --bench workers`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

#[path = "../tests/support/postgres.rs"]
mod pg;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use automl::store::{Claim, Claims, Ending, MetricPoint, NewRun, SqlStore, Store, TrialState};

const CLAIM_TRIALS: i64 = 400;

fn open(url: &str) -> SqlStore {
    if url.starts_with("postgres") {
        SqlStore::connect(url).unwrap()
    } else {
        SqlStore::open(Path::new(url)).unwrap()
    }
}

/// (p50 ms, p99 ms, trials/s, round trips per trial) for `w` claimers on a fresh database.
fn claims(url: &str, w: usize) -> (f64, f64, f64, f64) {
    let setup = open(url);
    let run = setup
        .create_run(&NewRun {
            experiment: "bench".into(),
            name: "run".into(),
            ..NewRun::default()
        })
        .unwrap();
    let next = Arc::new(AtomicI64::new(0));
    let trips0 = automl::store::postgres::round_trips();
    let t0 = Instant::now();
    let handles: Vec<_> = (0..w)
        .map(|k| {
            let (url, next) = (url.to_string(), next.clone());
            std::thread::spawn(move || {
                let s = open(&url);
                let me = format!("w{k}");
                let mut lat = Vec::new();
                loop {
                    let id = next.fetch_add(1, Ordering::SeqCst);
                    if id >= CLAIM_TRIALS {
                        return lat;
                    }
                    let t = Instant::now();
                    let c = s.claim_trial(run, id, &me, 3, 60.0).unwrap();
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    assert_eq!(c, Claim::Mine { attempt: 1 });
                    let child = s
                        .create_run(&NewRun {
                            experiment: "bench".into(),
                            parent: Some(run),
                            name: format!("trial {id}"),
                            ..NewRun::default()
                        })
                        .unwrap();
                    s.set_claim_child(run, id, &me, child).unwrap();
                    let points = [MetricPoint::now("value", 0, id as f64)];
                    let end = Ending {
                        points: &points,
                        status: TrialState::Completed,
                        error: None,
                    };
                    assert!(s.complete_claimed(run, id, &me, child, end).unwrap());
                }
            })
        })
        .collect();
    let mut lat: Vec<f64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let secs = t0.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
    let trips = (automl::store::postgres::round_trips() - trips0) as f64 / CLAIM_TRIALS as f64;
    (q(0.5), q(0.99), CLAIM_TRIALS as f64 / secs, trips)
}

fn automl(dir: &Path, ws: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_automl"));
    c.current_dir(dir)
        .env("AUTOML_CACHE", dir.join("cache"))
        .env("AUTOML_WORKSPACE", ws)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Seconds for `w` workers to finish a run submitted with `submit` (args after `automl`).
fn end_to_end(ws: &str, submit: &[String], w: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let st = automl(dir.path(), ws)
        .args(submit)
        .arg("--workers-only")
        .status()
        .unwrap();
    assert!(st.success(), "submit {submit:?}");
    let t0 = Instant::now();
    let workers: Vec<_> = (0..w)
        .map(|k| {
            let d = dir.path().join(format!("w{k}"));
            std::fs::create_dir_all(&d).unwrap();
            automl(&d, ws)
                .args(["worker", "--jobs", "1", "--wait", "0", "--heartbeat", "2"])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in workers {
        assert!(c.wait().unwrap().success());
    }
    t0.elapsed().as_secs_f64()
}

fn commits(url: &str) -> i64 {
    let db = url.rsplit('/').next().unwrap().to_string();
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.query_one(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
        &[&db],
    )
    .unwrap()
    .get(0)
}

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    println!("## Claims: 400 trials' store work shared by W claimers (threads with their own connection)\n");
    println!("| backend | W | claim p50 ms | claim p99 ms | trials/s | round trips / trial |");
    println!("|---|---|---|---|---|---|");
    for w in [1, 2, 4] {
        for backend in ["sqlite", "postgres"] {
            let url = match backend {
                "sqlite" => tmp.path().join(format!("claims-{w}.db")).display().to_string(),
                _ => pg::database(),
            };
            let (p50, p99, rate, trips) = claims(&url, w);
            let trips = if backend == "postgres" {
                format!("{trips:.1}")
            } else {
                "-".into()
            };
            println!("| {backend} | {w} | {p50:.3} | {p99:.3} | {rate:.0} | {trips} |");
        }
    }
    let sweep = vec![
        "sweep".to_string(),
        repo.join("benches/common/trivial-sweep.toml")
            .display()
            .to_string(),
    ];
    let train = repo
        .join("datasets/breast_cancer/train.csv")
        .display()
        .to_string();
    let run: Vec<String> = [
        "run",
        &train,
        "--target",
        "diagnosis",
        "--max-trials",
        "48",
        "--seed",
        "1",
        "--ensemble",
        "none",
        "--learners",
        "logistic_regression,gbdt,gaussian_nb,decision_tree",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    println!(
        "\n## End to end: W `automl worker` processes (--jobs 1 each), from their start to the last exit\n"
    );
    println!("| job | backend | W | seconds | trials/s | PostgreSQL transactions / trial |");
    println!("|---|---|---|---|---|---|");
    for (name, args, trials) in [
        ("trivial command sweep", &sweep, 200.0),
        ("automl run", &run, 48.0),
    ] {
        for w in [1, 2, 4] {
            for backend in ["sqlite", "postgres"] {
                let ws = match backend {
                    "sqlite" => tmp.path().join(format!("ws-{name}-{w}")).display().to_string(),
                    _ => pg::database(),
                };
                let before = (backend == "postgres").then(|| commits(&ws));
                let secs = end_to_end(&ws, args, w);
                let per = before.map_or("-".into(), |b| {
                    format!("{:.1}", (commits(&ws) - b) as f64 / trials)
                });
                println!(
                    "| {name} | {backend} | {w} | {secs:.2} | {:.1} | {per} |",
                    trials / secs
                );
            }
        }
    }
}
