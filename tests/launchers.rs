//! The cluster launchers in `examples/`: the Slurm scripts pass `bash -n` and their bodies run
//! here (a stand-in `sbatch` runs the array tasks locally) against a real PostgreSQL workspace;
//! the Kubernetes manifests pass `kubectl apply --dry-run=client` (kinds mapped by a stand-in
//! discovery endpoint, as no cluster is at hand) and say what the workers need.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

#[path = "support/postgres.rs"]
mod pg;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use assert_cmd::cargo::cargo_bin;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn slurm_scripts_parse_and_their_bodies_run_a_distributed_run() {
    let slurm = repo().join("examples/slurm");
    for f in ["submit.sh", "worker.sbatch"] {
        let st = Command::new("bash")
            .arg("-n")
            .arg(slurm.join(f))
            .status()
            .unwrap();
        assert!(st.success(), "bash -n {f}");
    }
    // `automl` on PATH, and an `sbatch` that runs the array's tasks here, all at once.
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(cargo_bin("automl"), bin.path().join("automl")).unwrap();
    let sbatch = bin.path().join("sbatch");
    std::fs::write(
        &sbatch,
        r#"#!/usr/bin/env bash
set -euo pipefail
for a in "$@"; do
  case "$a" in
    --array=*) range="${a#--array=}" ;;
    --export=ALL,*) export "${a#--export=ALL,}" ;;
    -*) ;;
    *) script="$a" ;;
  esac
done
pids=()
for i in $(seq "${range%-*}" "${range#*-}"); do
  SLURM_ARRAY_TASK_ID=$i SLURM_JOB_ID=42 SLURM_CPUS_PER_TASK=1 AUTOML_WORKER_WAIT=2 bash "$script" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
echo "Submitted batch job 42"
"#,
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&sbatch).status().unwrap();
    let ws = pg::database();
    let work = tempfile::tempdir().unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap());
    let train = repo().join("datasets/penguins/train.csv");
    let out = Command::new("bash")
        .arg(slurm.join("submit.sh"))
        .args([
            train.to_str().unwrap(),
            "species",
            "3",
            "--max-trials",
            "12",
            "--seed",
            "4",
        ])
        .current_dir(work.path())
        .env("PATH", &path)
        .env("AUTOML_WORKSPACE", &ws)
        .env("TMPDIR", work.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("starting 3 workers") && text.contains("Submitted batch job 42"),
        "{text}"
    );
    // Every task cached in its own folder; the run is complete with all its trials.
    let caches = std::fs::read_dir(work.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("automl-cache-42-")
        })
        .count();
    assert_eq!(caches, 3);
    let shown = Command::new(cargo_bin("automl"))
        .args(["runs", "show", "1", "--json", "--workspace", &ws])
        .env("AUTOML_CACHE", work.path().join("c"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(v["run"]["status"], "completed", "{text}");
    assert_eq!(v["children"].as_array().unwrap().len(), 12);
    assert_eq!(
        v["workers"].as_array().unwrap().len(),
        4,
        "the submitter and three tasks"
    );
}

#[test]
fn kubernetes_manifests_pass_a_client_dry_run() {
    let k8s = repo().join("examples/kubernetes");
    let mut stub = Command::new("python3")
        .arg(repo().join("tests/support/k8s_discovery.py"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(stub.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let out = Command::new("kubectl")
        .args(["apply", "--dry-run=client", "--validate=false", "-o", "json"])
        .arg(format!("--server=http://127.0.0.1:{}", port.trim()))
        .arg("-k")
        .arg(&k8s)
        .output()
        .expect("kubectl (the Kubernetes client) is installed");
    let _ = stub.kill();
    let _ = stub.wait();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = v["items"].as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
    let of = |kind: &str, name: &str| {
        items
            .iter()
            .find(|i| i["kind"] == kind && i["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
            .clone()
    };
    let workers = of("Job", "automl-workers");
    assert!(workers["spec"]["parallelism"].as_i64().unwrap() >= 2);
    let container = &workers["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"][0], "worker");
    let secret = of("Secret", "automl-db");
    // Every secret key the pods read exists, and the workspace URL is a PostgreSQL one.
    for job in ["automl-workers", "automl-submit"] {
        for e in of("Job", job)["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
        {
            if let Some(key) = e["valueFrom"]["secretKeyRef"]["key"].as_str() {
                assert!(
                    secret["stringData"][key].is_string(),
                    "{job} reads missing key {key}"
                );
            }
        }
    }
    assert!(secret["stringData"]["workspace"]
        .as_str()
        .unwrap()
        .starts_with("postgres://"));
    let submit = of("Job", "automl-submit");
    let args: Vec<&str> = submit["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.contains(&"--workers-only"), "{args:?}");
    of("PersistentVolumeClaim", "automl-db");
    of("Service", "automl-db");
}
