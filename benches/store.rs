//! Store throughput: `cargo bench --bench store`.
//!
//! Metric rows per second inserted one transaction per row and in batches, and the cost of
//! recording a whole trial (child run + params, then fold metrics + status) — the per-trial store
//! overhead of `automl run`. Uses a SQLite file in a temporary folder (WAL, as in a workspace).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

use automl::store::{MetricPoint, NewRun, SqlStore, Store, TrialState};

fn main() {
    divan::main();
}

fn store() -> (tempfile::TempDir, SqlStore, i64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = SqlStore::open(&dir.path().join("bench.db")).expect("open");
    let run = s
        .create_run(&NewRun {
            experiment: "bench".into(),
            name: "parent".into(),
            ..NewRun::default()
        })
        .expect("run");
    (dir, s, run)
}

fn points(n: usize) -> Vec<MetricPoint> {
    (0..n)
        .map(|i| MetricPoint {
            key: "val_loss".into(),
            value: 1.0 / (i + 1) as f64,
            step: i as i64,
            timestamp: 1.7e9 + i as f64,
        })
        .collect()
}

/// 1,000 metric rows, one transaction each.
#[divan::bench(sample_count = 5)]
fn metrics_single_1000(b: divan::Bencher) {
    let (_d, s, run) = store();
    let p = points(1000);
    b.counter(divan::counter::ItemsCount::new(1000usize))
        .bench_local(|| {
            for x in &p {
                s.log_metrics(run, std::slice::from_ref(x)).expect("log");
            }
        });
}

/// 10,000 metric rows in one batch (one transaction).
#[divan::bench(sample_count = 10)]
fn metrics_batch_10000(b: divan::Bencher) {
    let (_d, s, run) = store();
    let p = points(10_000);
    b.counter(divan::counter::ItemsCount::new(10_000usize))
        .bench_local(|| s.log_metrics(run, &p).expect("log"));
}

/// One trial as `automl run` records it: child run started (6 params), then 10 metrics and the
/// end state in a second transaction, then the parent's `search_secs` in a third.
#[divan::bench(sample_count = 20)]
fn record_whole_trial(b: divan::Bencher) {
    let (_d, s, run) = store();
    let mut params = serde_json::Map::new();
    for (k, v) in [
        ("learner", "random_forest"),
        ("n_trees", "100"),
        ("max_depth", "12"),
    ] {
        params.insert(k.into(), v.into());
    }
    params.insert("prep.scale".into(), "standard".into());
    params.insert("prep.impute".into(), "median".into());
    params.insert("trial".into(), 7.into());
    let trial = NewRun {
        experiment: "bench".into(),
        parent: Some(run),
        name: "trial".into(),
        status: Some(TrialState::Running),
        params,
        environment: serde_json::Value::Null,
    };
    let p = points(10);
    b.bench_local(|| {
        let id = s.create_run(&trial).expect("start");
        s.complete_run(id, &p, TrialState::Completed, None)
            .expect("complete");
    });
}
