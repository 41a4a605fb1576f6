//! PostgreSQL workspaces end to end, against a real throwaway server (`tests/support/postgres.rs`):
//! processes in separate folders with separate caches share one workspace through the database
//! alone; bad URLs, refused logins and dead servers are clear errors; a server restart in the
//! middle of a run is survived.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

#[path = "support/postgres.rs"]
mod pg;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `automl ARGS` in folder `dir` (its own cache), on workspace `ws`.
fn automl(dir: &Path, ws: &str, args: &[&str]) -> Output {
    let out = Command::cargo_bin("automl")
        .unwrap()
        .current_dir(dir)
        .env("AUTOML_CACHE", dir.join("cache"))
        .env("AUTOML_WORKSPACE", ws)
        .env_remove("PGPASSWORD")
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "panic in {args:?}: {err}");
    out
}

fn ok(dir: &Path, ws: &str, args: &[&str]) -> String {
    let out = automl(dir, ws, args);
    assert!(
        out.status.success(),
        "automl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn machines_share_a_postgres_workspace_through_the_database_alone() {
    let ws = pg::database();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let train = repo().join("datasets/iris/train.csv");
    let test = repo().join("datasets/iris/test.csv");
    let (train, test) = (train.to_str().unwrap(), test.to_str().unwrap());
    ok(
        a.path(),
        &ws,
        &[
            "run",
            train,
            "--target",
            "species",
            "--max-trials",
            "6",
            "--jobs",
            "2",
            "--seed",
            "3",
            "--register",
            "iris",
            "-q",
        ],
    );
    // Machine A's own model file, for comparison.
    ok(
        a.path(),
        &ws,
        &[
            "predict",
            "--model",
            "model.automl",
            "--data",
            test,
            "--out",
            "a.csv",
        ],
    );
    // Machine B: another folder and cache; the registered model comes from the database.
    ok(
        b.path(),
        &ws,
        &["predict", "--model", "iris", "--data", test, "--out", "b.csv"],
    );
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
    assert_eq!(read(a.path().join("a.csv")), read(b.path().join("b.csv")));
    let shown = ok(b.path(), &ws, &["runs", "show", "1"]);
    for artifact in ["model.automl", "run.log", "insight.json"] {
        let line = shown
            .lines()
            .find(|l| l.contains(artifact))
            .unwrap_or_else(|| panic!("no {artifact} in: {shown}"));
        let path = line.split(": ").nth(1).unwrap();
        assert!(Path::new(path).starts_with(b.path().join("cache")), "{line}");
        assert!(Path::new(path).is_file(), "{line}");
    }
    // A registered dataset version from A is readable on B.
    ok(a.path(), &ws, &["data", "register", "iris-train", train]);
    let listed = ok(b.path(), &ws, &["data", "list", "--json"]);
    assert!(listed.contains("iris-train"), "{listed}");
    // Endpoint keys derive from one secret kept in the database: both machines show the same.
    ok(a.path(), &ws, &["endpoints", "create", "flowers"]);
    let keys_a = ok(a.path(), &ws, &["endpoints", "keys", "flowers"]);
    let keys_b = ok(b.path(), &ws, &["endpoints", "keys", "flowers"]);
    assert_eq!(keys_a, keys_b);
    assert!(!b
        .path()
        .join("cache")
        .read_dir()
        .unwrap()
        .any(|e| e.unwrap().file_name() == "secret.key"));
}

#[test]
fn bad_urls_refused_logins_and_dead_servers_are_clear_errors() {
    let ws = pg::database();
    let dir = tempfile::tempdir().unwrap();
    let port = pg::server().port;
    let db = ws.rsplit('/').next().unwrap().to_string();
    let cases = [
        (
            format!("postgres://{}:wrong-password@127.0.0.1:{port}/{db}", pg::USER),
            "password authentication failed",
        ),
        (
            format!("postgres://{}@127.0.0.1:{port}/{db}", pg::USER),
            "password",
        ),
        (
            format!("postgres://{}:x@127.0.0.1:{port}/no_such_db", pg::USER),
            "no_such_db",
        ),
        ("postgres://u:x@127.0.0.1:1/db".to_string(), "cannot connect"),
        (
            "postgres://u:x@127.0.0.1:notaport/db".to_string(),
            "not a PostgreSQL URL",
        ),
    ];
    for (url, want) in cases {
        let out = automl(dir.path(), &url, &["runs", "list"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}: succeeded");
        assert!(err.starts_with("error: "), "{url}: {err}");
        assert!(err.contains(want), "{url}: wanted '{want}' in: {err}");
        assert!(!err.contains("wrong-password"), "the password leaked: {err}");
        assert!(err.contains("127.0.0.1"), "the server is not named: {err}");
    }
}

#[test]
fn a_run_survives_a_server_restart() {
    // A server of its own: the restart must not cut the other tests' connections.
    let server = pg::Server::new();
    let ws = pg::database_on(&server);
    let dir = tempfile::tempdir().unwrap();
    let train = repo().join("datasets/breast_cancer/train.csv");
    let child = Command::cargo_bin("automl")
        .unwrap()
        .current_dir(dir.path())
        .env("AUTOML_CACHE", dir.path().join("cache"))
        .env("AUTOML_WORKSPACE", &ws)
        .args([
            "run",
            train.to_str().unwrap(),
            "--target",
            "diagnosis",
            "--max-trials",
            "60",
        ])
        .args([
            "--jobs",
            "2",
            "--seed",
            "1",
            "--learners",
            "gbdt,random_forest,extra_trees",
            "-q",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until trials are being recorded, then restart the server under the run.
    let mut c = postgres::Client::connect(&ws, postgres::NoTls).unwrap();
    let t0 = std::time::Instant::now();
    loop {
        let n: i64 = c
            .query_one("SELECT COUNT(*) FROM runs WHERE parent_id IS NOT NULL", &[])
            .map(|r| r.get(0))
            .unwrap_or(0);
        if n >= 3 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no trial recorded");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(c);
    server.stop();
    std::thread::sleep(Duration::from_secs(2));
    server.start();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the run failed: {err}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = summary["run_id"].as_i64().unwrap();
    let mut c = postgres::Client::connect(&ws, postgres::NoTls).unwrap();
    let (status, trials): (String, i64) = {
        let r = c
            .query_one(
                "SELECT status, (SELECT COUNT(*) FROM runs t WHERE t.parent_id = r.id AND t.status = 'completed')
                 FROM runs r WHERE id = $1",
                &[&id],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(status, "completed");
    assert_eq!(trials, 60, "every trial recorded once, none lost: {err}");
}
