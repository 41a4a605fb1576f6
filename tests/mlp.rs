//! The `mlp` learner end to end through the CLI: floors against gbdt on real data (bundled sets and
//! a larger suite set), the model file through `predict`, the ensemble taking a network in, and
//! device errors (a missing CUDA device is an error, never a CPU fallback).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn bundled(name: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets")
        .join(name)
        .join(file)
}

fn shared(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets")
        .join(name);
    if dir.join("train.csv").exists() {
        Some(dir)
    } else {
        eprintln!("skipped: ../shared/datasets/{name} not present");
        None
    }
}

/// Run `automl` in `dir`: (success, stdout, stderr), checking it never panicked.
fn exec(args: &[&str], dir: &Path) -> (bool, String, String) {
    let out = Command::cargo_bin("automl")
        .unwrap()
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "panic in {args:?}: {stderr}");
    (out.status.success(), stdout, stderr)
}

/// `automl run --json` with one fixed configuration of `learner` (a search-space file of single
/// choices), scored on `test`: the test score.
fn fixed_run(
    dir: &Path,
    train: &Path,
    test: &Path,
    target: &str,
    learner: &str,
    params: &[(&str, &str)],
) -> f64 {
    let mut space = format!("learners = [\"{learner}\"]\n");
    for (k, v) in params {
        space += &format!("\n[{learner}.{k}]\ntype = \"choice\"\nvalues = [{v}]\n");
    }
    let file = dir.join(format!("{learner}.toml"));
    std::fs::write(&file, space).unwrap();
    let (ok, out, err) = exec(
        &[
            "run",
            train.to_str().unwrap(),
            "--target",
            target,
            "--search-space",
            file.to_str().unwrap(),
            "--max-trials",
            "1",
            "--seed",
            "1",
            "--jobs",
            "2",
            "--ensemble",
            "none",
            "--test",
            test.to_str().unwrap(),
            "--workspace",
            dir.join(format!("ws-{learner}")).to_str().unwrap(),
            "--json",
        ],
        dir,
    );
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["best"]["learner"], learner);
    // The primary metric's test score (ROC AUC, R²: higher is better).
    let metric = v["metric"].as_str().unwrap();
    v["test"][metric]
        .as_f64()
        .unwrap_or_else(|| panic!("no test {metric} in {}", v["test"]))
}

const NET: &[(&str, &str)] = &[("epochs", "64"), ("width", "128"), ("depth", "2")];
const GBDT: &[(&str, &str)] = &[
    ("n_estimators", "100"),
    ("num_leaves", "31"),
    ("learning_rate", "0.1"),
];

#[test]
fn the_network_is_within_reach_of_gbdt_on_real_data() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut sets = vec![
        (
            bundled("breast_cancer", "train.csv"),
            bundled("breast_cancer", "test.csv"),
            "diagnosis".to_string(),
            0.02,
        ),
        (
            bundled("diabetes", "train.csv"),
            bundled("diabetes", "test.csv"),
            "progression".to_string(),
            0.02,
        ),
    ];
    // A larger suite set, with categories (binary, 8,000 training rows).
    if let Some(dir) = shared("card_default") {
        let meta: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
        sets.push((
            dir.join("train.csv"),
            dir.join("test.csv"),
            meta["target"].as_str().unwrap().to_string(),
            0.01,
        ));
    }
    for (train, test, target, slack) in sets {
        let net = fixed_run(d, &train, &test, &target, "mlp", NET);
        let gbdt = fixed_run(d, &train, &test, &target, "gbdt", GBDT);
        eprintln!("{}: mlp {net:.4}, gbdt {gbdt:.4}", train.display());
        assert!(
            net >= gbdt - slack,
            "{}: mlp {net} vs gbdt {gbdt}",
            train.display()
        );
    }
}

#[test]
fn a_network_model_predicts_through_the_model_file_and_joins_an_ensemble() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let train = bundled("wine", "train.csv");
    let (ok, out, err) = exec(
        &[
            "run",
            train.to_str().unwrap(),
            "--target",
            "cultivar",
            "--learners",
            "mlp,decision_tree",
            "--max-trials",
            "24",
            "--seed",
            "3",
            "--jobs",
            "2",
            "--ensemble",
            "greedy",
            "--json",
        ],
        d,
    );
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let members: Vec<&str> = v["best"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["learner"].as_str().unwrap())
        .collect();
    assert!(members.contains(&"mlp"), "members {members:?}");
    // The header (after 8 magic bytes and its u64 length) says format 6: a network inside.
    let bytes = std::fs::read(d.join("model.automl")).unwrap();
    let len = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[16..16 + len]).unwrap();
    assert_eq!(header["format_version"], 6, "{header}");
    let test = bundled("wine", "test.csv");
    let (ok, _, err) = exec(
        &[
            "predict",
            "--model",
            "model.automl",
            "--data",
            test.to_str().unwrap(),
            "--out",
            "p.csv",
        ],
        d,
    );
    assert!(ok, "{err}");
    let p = std::fs::read_to_string(d.join("p.csv")).unwrap();
    assert_eq!(
        p.lines().count(),
        std::fs::read_to_string(&test).unwrap().lines().count()
    );
}

#[test]
fn missing_or_unknown_devices_are_errors_not_a_cpu_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let train = bundled("iris", "train.csv");
    for (devices, needle) in [
        ("cpu,cuda:0", "cuda:0"),
        ("cuda:7", "cuda:7"),
        ("gpu", "unknown device 'gpu'"),
    ] {
        let (ok, _, err) = exec(
            &[
                "run",
                train.to_str().unwrap(),
                "--target",
                "species",
                "--max-trials",
                "2",
                "--devices",
                devices,
            ],
            d,
        );
        if cfg!(feature = "cuda") && devices == "cpu,cuda:0" {
            continue; // a GPU build on a GPU machine runs it
        }
        assert!(!ok, "--devices {devices} ran");
        assert!(err.contains(needle), "{devices}: {err}");
        assert_eq!(err.lines().filter(|l| l.starts_with("error")).count(), 1, "{err}");
        if !cfg!(feature = "cuda") && devices != "gpu" {
            assert!(err.contains("--features cuda"), "{err}");
        }
    }
    assert!(!d.join("model.automl").exists(), "no run happened");
    let (ok, _, err) = exec(&["worker", "--devices", "cuda:3", "--wait", "0"], d);
    assert!(!ok && err.contains("cuda:3"), "{err}");
}
