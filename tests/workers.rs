//! Distributed runs: `automl worker` processes in separate folders (own caches, no shared files)
//! share one workspace. Three workers give the same leaderboard as one process; a worker killed
//! with SIGKILL in the middle of a trial loses nothing (its trial runs again elsewhere after the
//! grace period, no trial id completes twice). Against a real PostgreSQL server, and SQLite for
//! workers on one machine.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

#[path = "support/postgres.rs"]
mod pg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn automl(dir: &Path, ws: &str) -> Command {
    let mut c = Command::cargo_bin("automl").unwrap();
    c.current_dir(dir)
        .env("AUTOML_CACHE", dir.join("cache"))
        .env("AUTOML_WORKSPACE", ws)
        .env_remove("PGPASSWORD");
    c
}

fn ok(dir: &Path, ws: &str, args: &[&str]) -> String {
    let out = automl(dir, ws).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("panicked"),
        "automl {args:?} failed: {err}"
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The run's leaderboard as CSV lines.
fn csv_rows(dir: &Path, ws: &str, run: &str) -> Vec<String> {
    let csv = ok(dir, ws, &["leaderboard", run, "--format", "csv", "--top", "1000"]);
    csv.lines().map(str::to_string).collect()
}

/// The run's leaderboard without timings: (trial, learner, params, scores, status) by rank.
fn leaderboard(dir: &Path, ws: &str, run: &str) -> Vec<String> {
    csv_rows(dir, ws, run)
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            // rank,run,trial,learner,preprocessing,params,score,accuracy,f1,log_loss,fit s,predict s,status
            [&f[..1], &f[2..10], &f[12..]].concat().join(",")
        })
        .collect()
}

const TRAIN: &str = "datasets/breast_cancer/train.csv";

fn run_args(trials: &str, learners: &str) -> Vec<String> {
    let train = repo().join(TRAIN);
    [
        train.to_str().unwrap(),
        "--target",
        "diagnosis",
        "--max-trials",
        trials,
        "--seed",
        "7",
        "--ensemble",
        "none",
        "--learners",
        learners,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `automl run … --workers-only` on `ws`; returns the run id.
fn submit(dir: &Path, ws: &str, args: &[String]) -> String {
    let mut all = vec!["run".to_string()];
    all.extend(args.iter().cloned());
    all.extend(["--workers-only", "--json"].map(String::from));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let out = ok(dir, ws, &refs);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["worker_command"].as_str().unwrap().contains("automl worker"),
        "{v}"
    );
    v["run_id"].as_i64().unwrap().to_string()
}

fn start_worker(dir: &Path, ws: &str, heartbeat: &str) -> Child {
    automl(dir, ws)
        .args(["worker", "--jobs", "1", "--wait", "2", "--heartbeat", heartbeat])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(w: Child) {
    let out = w.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("panicked"),
        "worker failed: {err}"
    );
}

/// The same run in one process on a fresh SQLite workspace.
fn one_process(args: &[String]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let ws = ws.to_str().unwrap();
    let mut all = vec!["run".to_string()];
    all.extend(args.iter().cloned());
    all.extend(["--jobs", "2", "-q"].map(String::from));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    ok(dir.path(), ws, &refs);
    leaderboard(dir.path(), ws, "1")
}

#[test]
fn three_workers_give_the_leaderboard_of_one_process() {
    let args = run_args("24", "logistic_regression,gbdt,random_forest,gaussian_nb");
    let want = one_process(&args);
    assert!(want.len() > 10, "{want:?}");
    let sqlite = tempfile::tempdir().unwrap();
    let sqlite_ws = sqlite.path().join("ws").to_str().unwrap().to_string();
    for ws in [pg::database(), sqlite_ws] {
        let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
        let run = submit(dirs[0].path(), &ws, &args);
        let workers: Vec<Child> = dirs[1..]
            .iter()
            .map(|d| start_worker(d.path(), &ws, "1"))
            .collect();
        workers.into_iter().for_each(finish);
        assert_eq!(leaderboard(dirs[0].path(), &ws, &run), want, "workspace {ws}");
        let shown: serde_json::Value =
            serde_json::from_str(&ok(dirs[0].path(), &ws, &["runs", "show", &run, "--json"])).unwrap();
        assert_eq!(shown["run"]["status"], "completed", "{ws}");
        let done: i64 = shown["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["trials"].as_i64().unwrap())
            .sum();
        assert_eq!(
            done, 24,
            "every trial done once, by some worker: {}",
            shown["workers"]
        );
        // The run's end was claimed once: one worker saved the model, and it predicts.
        let with_model: Vec<_> = dirs[1..]
            .iter()
            .filter(|d| d.path().join("model.automl").exists())
            .collect();
        assert_eq!(with_model.len(), 1);
    }
}

#[test]
fn a_worker_killed_mid_trial_loses_nothing() {
    let args = run_args("30", "random_forest,extra_trees");
    let want = one_process(&args);
    let ws = pg::database();
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let run = submit(dirs[0].path(), &ws, &args);
    let mut workers: Vec<Child> = dirs[1..]
        .iter()
        .map(|d| start_worker(d.path(), &ws, "0.5"))
        .collect();
    // Kill the first worker while it holds a claim on a running trial, after it finished one.
    let victim = workers[0].id() as i64;
    let mut db = postgres::Client::connect(&ws, postgres::NoTls).unwrap();
    let t0 = Instant::now();
    let killed_trial: i64 = loop {
        let row = db
            .query(
                "SELECT c.trial FROM claims c JOIN workers w ON w.id = c.worker
                 WHERE w.pid = $1 AND c.state = 'running' AND c.trial >= 0 AND c.child IS NOT NULL
                   AND w.trials >= 1",
                &[&victim],
            )
            .unwrap();
        if let Some(r) = row.first() {
            break r.get(0);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the worker never held a trial"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut victim_child = workers.remove(0);
    victim_child.kill().unwrap(); // SIGKILL
    let _ = victim_child.wait();
    workers.into_iter().for_each(finish);
    assert_eq!(leaderboard(dirs[0].path(), &ws, &run), want);
    // Every trial id has exactly one finished child run; the killed attempt is marked killed.
    let rows = db
        .query(
            "SELECT params, status, error FROM runs WHERE parent_id = $1 ORDER BY id",
            &[&run.parse::<i64>().unwrap()],
        )
        .unwrap();
    let mut finished: BTreeMap<i64, usize> = BTreeMap::new();
    let mut killed = Vec::new();
    for r in &rows {
        let params: serde_json::Value = serde_json::from_str(r.get::<_, &str>(0)).unwrap();
        let trial = params["trial"].as_i64().unwrap();
        let status: &str = r.get(1);
        if status == "killed" {
            killed.push((trial, r.get::<_, Option<String>>(2).unwrap_or_default()));
        } else {
            assert_ne!(status, "running", "trial {trial} left running");
            *finished.entry(trial).or_default() += 1;
        }
    }
    assert_eq!(finished.len(), 30, "{finished:?}");
    assert!(
        finished.values().all(|&n| n == 1),
        "a trial id completed twice: {finished:?}"
    );
    assert!(
        killed
            .iter()
            .any(|(t, e)| *t == killed_trial && e.contains("worker was lost")),
        "trial {killed_trial} not re-run after its worker died: {killed:?}"
    );
    let attempt: i64 = db
        .query_one(
            "SELECT attempt FROM claims WHERE run_id = $1 AND trial = $2",
            &[&run.parse::<i64>().unwrap(), &killed_trial],
        )
        .unwrap()
        .get(0);
    assert_eq!(attempt, 2);
}

#[test]
fn program_sweeps_are_shared_by_workers_too() {
    let spec = repo().join("examples/sweep/shell.toml");
    let spec = spec.to_str().unwrap();
    let single = tempfile::tempdir().unwrap();
    let single_ws = single.path().join("ws");
    ok(single.path(), single_ws.to_str().unwrap(), &["sweep", spec, "-q"]);
    let want = csv_rows(single.path(), single_ws.to_str().unwrap(), "1");
    let ws = pg::database();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let out = ok(dirs[0].path(), &ws, &["sweep", spec, "--workers-only", "--json"]);
    let run = serde_json::from_str::<serde_json::Value>(&out).unwrap()["run_id"].to_string();
    let workers: Vec<Child> = dirs[1..]
        .iter()
        .map(|d| start_worker(d.path(), &ws, "1"))
        .collect();
    workers.into_iter().for_each(finish);
    let got = csv_rows(dirs[0].path(), &ws, &run);
    // Same rank, trial, parameters and value (run ids and timings aside).
    let strip = |rows: &[String]| -> Vec<String> {
        rows.iter()
            .map(|r| {
                let f: Vec<&str> = r.split(',').collect();
                [&f[..1], &f[2..7]].concat().join(",")
            })
            .collect()
    };
    assert_eq!(strip(&got), strip(&want));
    assert_eq!(got.len(), 31, "30 trials and the header");
    // The trials' logs are in the database: readable from a folder that ran none of them.
    let shown: serde_json::Value =
        serde_json::from_str(&ok(dirs[0].path(), &ws, &["runs", "show", &run, "--json"])).unwrap();
    let child = shown["children"][0]["id"].to_string();
    let text = ok(dirs[0].path(), &ws, &["runs", "show", &child]);
    let log = text
        .lines()
        .find(|l| l.starts_with("artifact stdout.log: "))
        .unwrap_or_else(|| panic!("{text}"));
    let path = log.trim_start_matches("artifact stdout.log: ");
    assert!(std::fs::read_to_string(path).unwrap().contains("x="), "{path}");
}
