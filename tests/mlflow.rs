//! MLflow both ways, end to end: scripts that log through MLflow under `automl sweep`, MLflow
//! clients reading and writing through `automl server`, and `automl mlflow export` to a real
//! `mlflow server`. Tests that need the real MLflow client find it in the Python of
//! $AUTOML_MLFLOW_PYTHON, else ~/.cache/automl-mlflow-venv (`.ci/run` creates it); under CI a
//! missing one fails them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::{json, Value};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python that has the `mlflow` package, or `None` (outside CI: the test is skipped).
fn mlflow_python() -> Option<PathBuf> {
    let given = std::env::var_os("AUTOML_MLFLOW_PYTHON").map(PathBuf::from);
    let home =
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/automl-mlflow-venv/bin/python"));
    let found = given.into_iter().chain(home).find(|p| {
        p.is_file()
            && Command::new(p)
                .args(["-c", "import mlflow, sklearn"])
                .output()
                .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs a Python with mlflow and scikit-learn (.ci/run creates ~/.cache/automl-mlflow-venv)"
        );
        eprintln!("skipped: no Python with mlflow (set AUTOML_MLFLOW_PYTHON)");
    }
    found
}

/// PATH with the Python's folder first, so trial commands' `python3` is that Python.
fn path_with(python: &Path) -> String {
    let bin = python.parent().unwrap();
    // A venv has python3 beside python.
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

fn automl() -> Command {
    Command::cargo_bin("automl").unwrap()
}

/// Run automl; (success, stdout, stderr).
fn exec(args: &[&str], dir: &Path, path: Option<&str>) -> (bool, String, String) {
    let mut c = automl();
    c.args(args).current_dir(dir);
    if let Some(p) = path {
        c.env("PATH", p);
    }
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "panic in {args:?}: {stderr}");
    (out.status.success(), stdout, stderr)
}

fn json_of(args: &[&str], dir: &Path, path: Option<&str>) -> Value {
    let (ok, out, err) = exec(args, dir, path);
    assert!(ok, "automl {args:?} failed: {err}\n{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad json ({e}): {out}"))
}

/// `automl runs show RUN --json`.
fn show(ws: &Path, run: i64) -> Value {
    json_of(
        &[
            "runs",
            "show",
            &run.to_string(),
            "--json",
            "--workspace",
            ws.to_str().unwrap(),
        ],
        ws,
        None,
    )
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills a background process (and, when it leads one, its process group: `mlflow server`
/// starts uvicorn and job workers) when the test ends, however it ends.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        #[cfg(unix)]
        unsafe {
            // The group exists only when the child was started as its leader.
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `automl server` on a free port; returns it and its URI.
fn automl_server(ws: &Path, key: Option<&str>) -> (Background, String) {
    let (b, uri, _) = automl_server_on(ws, key, "127.0.0.1");
    (b, uri)
}

/// `automl server` on `host`; returns it, its URI and the key it printed (when it made one).
fn automl_server_on(ws: &Path, key: Option<&str>, host: &str) -> (Background, String, Option<String>) {
    let mut c = automl();
    c.args([
        "server",
        "--port",
        "0",
        "--json",
        "--host",
        host,
        "--workspace",
        ws.to_str().unwrap(),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    match key {
        Some(k) => c.env("AUTOML_SERVER_KEY", k),
        None => c.env_remove("AUTOML_SERVER_KEY"),
    };
    let mut child = c.spawn().unwrap();
    let mut text = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    while !text.trim_end().ends_with('}') {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the server printed no address: {text}"
        );
        text.push_str(&line);
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    let made = v["key"].as_str().map(str::to_string);
    (Background(child), v["uri"].as_str().unwrap().to_string(), made)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// POST JSON; (status, body).
fn post(uri: &str, route: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut r = agent().post(format!("{uri}/api/2.0/mlflow/{route}"));
    if let Some(k) = key {
        r = r.header("Authorization", &format!("Bearer {k}"));
    }
    let mut resp = r.send_json(body).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// GET with a query; (status, body).
fn get(uri: &str, route: &str, key: Option<&str>, query: &[(&str, &str)]) -> (u16, Value) {
    let mut r = agent().get(format!("{uri}/api/2.0/mlflow/{route}"));
    if let Some(k) = key {
        r = r.header("Authorization", &format!("Bearer {k}"));
    }
    for (k, v) in query {
        r = r.query(*k, *v);
    }
    let mut resp = r.call().unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn the_tracking_api_speaks_mlflow_json_and_checks_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    let (_server, uri) = automl_server(&ws, Some("k3y"));
    let key = Some("k3y");
    // No key, a wrong key: 401.
    assert_eq!(
        post(&uri, "experiments/create", None, &json!({"name": "x"})).0,
        401
    );
    assert_eq!(
        post(&uri, "experiments/create", Some("nope"), &json!({"name": "x"})).0,
        401
    );
    let (st, v) = post(&uri, "experiments/create", key, &json!({"name": "exp"}));
    assert_eq!(st, 200, "{v}");
    let exp = v["experiment_id"].as_str().unwrap().to_string();
    let (st, v) = post(&uri, "experiments/create", key, &json!({"name": "exp"}));
    assert_eq!(
        (st, v["error_code"].as_str()),
        (400, Some("RESOURCE_ALREADY_EXISTS"))
    );
    let (st, v) = get(
        &uri,
        "experiments/get-by-name",
        key,
        &[("experiment_name", "exp")],
    );
    assert_eq!(
        (st, v["experiment"]["experiment_id"].as_str()),
        (200, Some(exp.as_str()))
    );
    let (st, _) = get(
        &uri,
        "experiments/get-by-name",
        key,
        &[("experiment_name", "none")],
    );
    assert_eq!(st, 404);
    // A run, a batch, its history and search.
    let (st, v) = post(
        &uri,
        "runs/create",
        key,
        &json!({"experiment_id": exp, "run_name": "r1", "tags": [{"key": "team", "value": "a"}]}),
    );
    assert_eq!(st, 200, "{v}");
    let run = v["run"]["info"]["run_id"].as_str().unwrap().to_string();
    assert_eq!(v["run"]["info"]["status"], "RUNNING");
    let metrics: Vec<Value> = (0..5)
        .map(|i| json!({"key": "loss", "value": 1.0 / f64::from(i + 1), "timestamp": 1_700_000_000_000i64 + i64::from(i), "step": i}))
        .collect();
    let (st, v) = post(
        &uri,
        "runs/log-batch",
        key,
        &json!({"run_id": run, "metrics": metrics, "params": [{"key": "lr", "value": "0.1"}]}),
    );
    assert_eq!(st, 200, "{v}");
    // A parameter cannot change; the same value again is fine.
    let p = |value: &str| {
        post(
            &uri,
            "runs/log-parameter",
            key,
            &json!({"run_id": run, "key": "lr", "value": value}),
        )
    };
    assert_eq!(p("0.1").0, 200);
    let (st, v) = p("0.2");
    assert_eq!(st, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("'lr'"), "{v}");
    let (st, v) = get(
        &uri,
        "metrics/get-history",
        key,
        &[("run_id", &run), ("metric_key", "loss")],
    );
    assert_eq!(st, 200);
    let steps: Vec<i64> = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["step"].as_i64().unwrap())
        .collect();
    assert_eq!(steps, [0, 1, 2, 3, 4]);
    let (st, v) = post(
        &uri,
        "runs/update",
        key,
        &json!({"run_id": run, "status": "FINISHED", "end_time": 1}),
    );
    assert_eq!((st, v["run_info"]["status"].as_str()), (200, Some("FINISHED")));
    let (_, v) = post(
        &uri,
        "runs/create",
        key,
        &json!({"experiment_id": exp, "run_name": "r2"}),
    );
    let other = v["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let search = |filter: &str| {
        let (st, v) = post(
            &uri,
            "runs/search",
            key,
            &json!({"experiment_ids": [exp], "filter": filter}),
        );
        assert_eq!(st, 200, "{v}");
        v["runs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| r["info"]["run_id"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(search(""), [other.clone(), run.clone()], "newest first");
    assert_eq!(
        search("metrics.loss < 0.5 and params.lr = '0.1'"),
        vec![run.clone()]
    );
    assert_eq!(search("attributes.status = 'RUNNING'"), vec![other.clone()]);
    assert_eq!(search("tags.team = 'a'"), vec![run.clone()]);
    let (st, v) = post(
        &uri,
        "runs/search",
        key,
        &json!({"experiment_ids": [exp], "filter": "metrics.loss <"}),
    );
    assert_eq!(st, 400, "{v}");
    // The latest metric of the run is the highest step.
    let (_, v) = get(&uri, "runs/get", key, &[("run_id", &run)]);
    assert_eq!(v["run"]["data"]["metrics"][0]["value"], json!(0.2));
    assert_eq!(v["run"]["data"]["params"], json!([{"key": "lr", "value": "0.1"}]));
    // Artifacts: upload, list, download; a path out of the run is refused.
    let art = format!("{uri}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts");
    let put = |rel: &str, body: &[u8]| {
        agent()
            .put(format!("{art}/{rel}"))
            .header("Authorization", "Bearer k3y")
            .send(body)
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(put("model/weights.bin", b"\x00\x01binary"), 200);
    assert_eq!(put("..%2F..%2Fescape.txt", b"x"), 400);
    let mut resp = agent()
        .get(format!("{art}/model/weights.bin"))
        .header("Authorization", "Bearer k3y")
        .call()
        .unwrap();
    assert_eq!(resp.body_mut().read_to_vec().unwrap(), b"\x00\x01binary");
    let (_, v) = get(&uri, "artifacts/list", key, &[("run_id", &run)]);
    assert_eq!(v["files"], json!([{"path": "model", "is_dir": true}]));
    assert!(!ws.join("escape.txt").exists() && !tmp.path().join("escape.txt").exists());
    // Bad requests get MLflow errors, never a dropped connection.
    let mut resp = agent()
        .post(format!("{uri}/api/2.0/mlflow/runs/log-metric"))
        .header("Authorization", "Bearer k3y")
        .header("Content-Type", "application/json")
        .send("{not json")
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("INVALID_PARAMETER_VALUE"));
    assert_eq!(
        post(
            &uri,
            "runs/log-metric",
            key,
            &json!({"run_id": "999", "key": "m", "value": 1})
        )
        .0,
        404
    );
    assert_eq!(
        post(&uri, "runs/log-metric", key, &json!({"run_id": run, "value": 1})).0,
        400
    );
    // A POST that is not JSON (what a web page can send without asking) is refused, and so is
    // a filter far too long.
    let resp = agent()
        .post(format!("{uri}/api/2.0/mlflow/runs/log-metric"))
        .header("Authorization", "Bearer k3y")
        .header("Content-Type", "text/plain")
        .send(r#"{"run_id": "1", "key": "m", "value": 1}"#)
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    let long = format!("params.lr LIKE '{}'", "%".repeat(10_000));
    let (st, v) = post(
        &uri,
        "runs/search",
        key,
        &json!({"experiment_ids": [exp], "filter": long}),
    );
    assert_eq!(st, 400, "{v}");
    let (st, v) = post(&uri, "runs/delete", key, &json!({"run_id": run}));
    assert_eq!((st, v["error_code"].as_str()), (404, Some("ENDPOINT_NOT_FOUND")));
    // Off loopback with no key given, the server makes one and needs it.
    let (_open, wide, made) = automl_server_on(&ws, None, "0.0.0.0");
    let made = made.expect("a key is printed");
    let local = format!("http://127.0.0.1:{}", wide.rsplit(':').next().unwrap());
    let by_name = [("experiment_name", "exp")];
    assert_eq!(get(&local, "experiments/get-by-name", None, &by_name).0, 401);
    assert_eq!(
        get(&local, "experiments/get-by-name", Some(&made), &by_name).0,
        200
    );
    let (st, v) = post(
        &uri,
        "runs/log-batch",
        key,
        &json!({"run_id": run, "params": vec![json!({"key": "k", "value": "v"}); 101]}),
    );
    assert_eq!(st, 400, "{v}");
}

#[test]
fn a_trial_writes_only_its_own_run_with_its_own_token() {
    // A program using the tracking REST API with the standard library only: its own token works,
    // no token and another trial's run are refused, and its primary metric reaches the trial.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let script = r#"
import json, os, sys, urllib.request, urllib.error
uri, run = os.environ["MLFLOW_TRACKING_URI"], os.environ["MLFLOW_RUN_ID"]
def call(route, body, token):
    req = urllib.request.Request(uri + "/api/2.0/mlflow/" + route, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        return urllib.request.urlopen(req).status
    except urllib.error.HTTPError as e:
        return e.code
token = os.environ["MLFLOW_TRACKING_TOKEN"]
x = float(sys.argv[1])
codes = {
    "no_token": call("runs/log-metric", {"run_id": run, "key": "score", "value": 1}, None),
    "missing_run": call("runs/log-metric", {"run_id": str(int(run) + 1000), "key": "score", "value": 1}, token),
    "parent_run": call("runs/set-tag", {"run_id": "1", "key": "k", "value": "v"}, token),
}
for step in (1, 2):
    assert call("runs/log-metric", {"run_id": run, "key": "score", "value": -(x - 0.7) ** 2, "step": step}, token) == 200
assert call("runs/log-batch", {"run_id": run, "metrics": [{"key": "aux", "value": x, "step": 5, "timestamp": 1}]}, token) == 200
for k, v in codes.items():
    print(json.dumps({"automl_metric": k, "value": v}))
"#;
    std::fs::write(d.join("t.py"), script).unwrap();
    let spec = "command = \"python3 t.py ${{search_space.x}}\"\n[objective]\ngoal = \"maximize\"\nprimary_metric = \"score\"\n[sampling]\nalgorithm = \"grid\"\n[limits]\nmax_concurrent_trials = 2\n[search_space.x]\ntype = \"choice\"\nvalues = [0.1, 0.7, 0.9]\n";
    std::fs::write(d.join("s.toml"), spec).unwrap();
    let v = json_of(&["sweep", "s.toml", "--json", "--workspace", "ws"], d, None);
    assert_eq!(v["completed"], 3, "{v}");
    assert_eq!(v["best"]["params"]["x"], json!(0.7));
    let ws = d.join("ws");
    let parent = show(&ws, v["run_id"].as_i64().unwrap());
    for kid in parent["children"].as_array().unwrap() {
        let m = &kid["metrics"];
        assert_eq!(
            (
                m["no_token"].as_f64(),
                m["missing_run"].as_f64(),
                m["parent_run"].as_f64()
            ),
            (Some(401.0), Some(404.0), Some(403.0)),
            "{kid}"
        );
        let run = show(&ws, kid["id"].as_i64().unwrap());
        let steps: Vec<(i64, String)> = run["metric_history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["key"] == "score" || p["key"] == "aux")
            .map(|p| {
                (
                    p["step"].as_i64().unwrap(),
                    p["key"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            steps,
            [
                (5, "aux".to_string()),
                (1, "score".to_string()),
                (2, "score".to_string())
            ],
            "{run}"
        );
    }
    // The token is not written to the trial's command.json.
    let logs = v["artifacts"].as_str().unwrap();
    let cmd = std::fs::read_to_string(d.join(logs).join("trial-0/command.json")).unwrap();
    assert!(cmd.contains("\"MLFLOW_TRACKING_TOKEN\": \"(hidden)\""), "{cmd}");
}

#[test]
fn hello_sweep_logging_through_mlflow_finds_the_best_and_prunes() {
    let Some(py) = mlflow_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    let path = path_with(&py);
    let spec = repo().join("examples/mlflow/hello-sweep.yml");
    let v = json_of(
        &[
            "sweep",
            spec.to_str().unwrap(),
            "--json",
            "--workspace",
            ws.to_str().unwrap(),
        ],
        tmp.path(),
        Some(&path),
    );
    assert_eq!(v["best"]["params"], json!({"layers": 3, "lr": 0.01}), "{v}");
    assert!((v["best"]["value"].as_f64().unwrap() - 0.125).abs() < 1e-9);
    assert_eq!(v["failed"], 0, "{v}");
    assert!(
        v["pruned"].as_u64().unwrap() >= 2,
        "bandit stops the worst trials: {v}"
    );
    let parent = show(&ws, v["run_id"].as_i64().unwrap());
    let kids = parent["children"].as_array().unwrap();
    assert_eq!(kids.len(), 9);
    for kid in kids {
        let run = show(&ws, kid["id"].as_i64().unwrap());
        let r = &run["run"];
        // What the script logged: its parameters, a tag, both metrics with their steps, a file.
        assert_eq!(
            r["params"]["layers"],
            json!(r["params"]["params"]["layers"].to_string()),
            "{r}"
        );
        assert_eq!(r["tags"]["script"], "hello-sweep");
        let steps = |key: &str| -> Vec<i64> {
            run["metric_history"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["key"] == key)
                .map(|p| p["step"].as_i64().unwrap())
                .collect()
        };
        if r["status"] == "completed" {
            assert_eq!(steps("val_loss"), (1..=8).collect::<Vec<_>>());
            assert_eq!(steps("train_loss"), (1..=8).collect::<Vec<_>>());
            let art = r["artifacts"].as_array().unwrap();
            let summary = art
                .iter()
                .find(|a| a[0] == "summary.txt")
                .expect("summary.txt logged");
            let text = std::fs::read_to_string(ws.join(summary[1].as_str().unwrap())).unwrap();
            assert!(text.starts_with("lr="), "{text}");
        } else {
            assert_eq!(r["status"], "pruned");
            assert!(steps("val_loss").len() < 8);
        }
    }
}

#[test]
fn sklearn_autolog_metrics_and_model_arrive_on_the_trial() {
    let Some(py) = mlflow_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    let spec = repo().join("examples/mlflow/iris-autolog.yml");
    let v = json_of(
        &[
            "sweep",
            spec.to_str().unwrap(),
            "--json",
            "--workspace",
            ws.to_str().unwrap(),
        ],
        tmp.path(),
        Some(&path_with(&py)),
    );
    assert_eq!(v["completed"], 2, "{v}");
    assert_eq!(v["best"]["params"]["C"], json!(1.0));
    assert!(v["best"]["value"].as_f64().unwrap() > 0.9);
    let parent = show(&ws, v["run_id"].as_i64().unwrap());
    for kid in parent["children"].as_array().unwrap() {
        let m = &kid["metrics"];
        let train = m["training_accuracy_score"]
            .as_f64()
            .expect("autolog's training metrics");
        assert!((0.3..=1.0).contains(&train), "{kid}");
        assert!(m["test_accuracy"].as_f64().is_some());
        assert_eq!(
            kid["params"]["solver"], "lbfgs",
            "autolog's estimator parameters: {kid}"
        );
        assert_eq!(kid["tags"]["estimator_name"], "LogisticRegression");
        let names: Vec<&str> = kid["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a[0].as_str().unwrap())
            .collect();
        assert!(
            names.iter().any(|n| n.ends_with("/model.pkl")),
            "the logged model's files: {names:?}"
        );
        assert!(names.iter().any(|n| n.ends_with("/MLmodel")), "{names:?}");
    }
}

#[test]
fn mlflow_clients_read_and_write_automl_runs_through_automl_server() {
    let Some(py) = mlflow_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    let grid = repo().join("examples/sweep/grid.toml");
    let v = json_of(
        &[
            "sweep",
            grid.to_str().unwrap(),
            "--json",
            "--workspace",
            ws.to_str().unwrap(),
            "--experiment",
            "grid",
        ],
        tmp.path(),
        None,
    );
    let parent = v["run_id"].as_i64().unwrap();
    // A registered model with an alias, for the registry's read side.
    let train = repo().join("datasets/iris/train.csv");
    let w = ws.to_str().unwrap();
    let m = json_of(
        &[
            "run",
            train.to_str().unwrap(),
            "--target",
            "species",
            "--max-trials",
            "6",
            "--register",
            "iris",
            "--json",
            "-q",
            "--workspace",
            w,
        ],
        tmp.path(),
        None,
    );
    let model_run = m["run_id"].as_i64().unwrap();
    let (ok, _, err) = exec(
        &["models", "alias", "iris", "prod", "1", "--workspace", w],
        tmp.path(),
        None,
    );
    assert!(ok, "{err}");
    let (_server, uri) = automl_server(&ws, None);
    let script = r#"
import json, mlflow
from mlflow import MlflowClient
df = mlflow.search_runs(experiment_names=["grid"])
c = MlflowClient()
runs = c.search_runs([df["experiment_id"][0]], filter_string="metrics.val_loss < 0.3", order_by=["metrics.val_loss ASC"])
best = runs[0]
hist = c.get_metric_history(best.info.run_id, "val_loss")
with mlflow.start_run(experiment_id=df["experiment_id"][0], run_name="from-mlflow") as r:
    mlflow.log_param("source", "client")
    mlflow.log_metric("m", 3.5, step=2)
mv = c.get_model_version_by_alias("iris", "prod")
rm = c.get_registered_model("iris")
print(json.dumps({
    "alias_run": mv.run_id, "aliases": rm.aliases, "versions": [v.version for v in c.search_model_versions("name='iris'")],
    "n": len(df), "names": sorted(df["tags.mlflow.runName"].tolist()),
    "parents": sorted(set(df["tags.mlflow.parentRunId"].dropna().tolist())),
    "best": best.data.params, "best_loss": best.data.metrics["val_loss"],
    "steps": [m.step for m in hist], "new": r.info.run_id,
}))
"#;
    let out = Command::new(&py)
        .args(["-c", script])
        .env("MLFLOW_TRACKING_URI", &uri)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(r["n"], 10, "the sweep and its 9 trials: {r}");
    assert_eq!(r["parents"], json!([parent.to_string()]));
    assert_eq!(r["best"]["layers"], "3");
    assert_eq!(r["best"]["lr"], "0.01");
    assert_eq!(r["steps"], json!([1, 2, 3, 4, 5]));
    assert_eq!(r["alias_run"], json!(model_run.to_string()));
    assert_eq!(r["aliases"], json!({"prod": "1"}));
    assert_eq!(r["versions"], json!(["1"]));
    // The client's run is in the workspace.
    let new: i64 = r["new"].as_str().unwrap().parse().unwrap();
    let run = show(&ws, new);
    assert_eq!(run["run"]["params"]["source"], "client");
    assert_eq!(run["run"]["status"], "completed");
    assert_eq!(run["run"]["name"], "from-mlflow");
}

/// Start `mlflow server` on a free port with its own SQLite store and artifact root.
fn mlflow_server(py: &Path, dir: &Path) -> (Background, String) {
    let port = free_port();
    let mlflow = py.parent().unwrap().join("mlflow");
    let mut cmd = Command::new(&mlflow);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd
        .args([
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--workers",
            "1",
            "--backend-store-uri",
            &format!("sqlite:///{}", dir.join("mlflow.db").display()),
            "--artifacts-destination",
            &dir.join("artifacts").display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Background(child);
    let uri = format!("http://127.0.0.1:{port}");
    let t0 = Instant::now();
    loop {
        if let Ok(r) = agent().get(format!("{uri}/health")).call() {
            if r.status().as_u16() == 200 {
                break;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "mlflow server did not start"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    (server, uri)
}

#[test]
fn export_to_a_real_mlflow_server_nests_trials_and_a_second_export_adds_nothing() {
    let Some(py) = mlflow_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ws = d.join("ws");
    let w = ws.to_str().unwrap();
    let train = repo().join("datasets/iris/train.csv");
    let v = json_of(
        &[
            "run",
            train.to_str().unwrap(),
            "--target",
            "species",
            "--max-trials",
            "12",
            "--register",
            "iris",
            "--json",
            "-q",
            "--workspace",
            w,
        ],
        d,
        None,
    );
    let run = v["run_id"].as_i64().unwrap_or_else(|| panic!("{v}"));
    let (ok, _, err) = exec(
        &["models", "alias", "iris", "champion", "1", "--workspace", w],
        d,
        None,
    );
    assert!(ok, "{err}");
    let (_mlflow, uri) = mlflow_server(&py, &d.join("mlflow"));
    let args = [
        "mlflow",
        "export",
        &run.to_string(),
        "--to",
        &uri,
        "--models",
        "--json",
        "--workspace",
        w,
    ];
    let first = json_of(&args, d, None);
    let trials = show(&ws, run)["children"].as_array().unwrap().len();
    assert!(trials >= 12, "{trials}");
    assert_eq!(first["runs_created"], json!(trials + 1), "{first}");
    assert_eq!(first["versions_created"], 1);
    assert!(first["metrics_sent"].as_u64().unwrap() > 12 * 5);
    assert!(first["artifacts_sent"].as_u64().unwrap() >= 1, "the model file");
    // What MLflow holds, read through its REST API.
    let remote = first["runs"][run.to_string()].as_str().unwrap().to_string();
    let name = show(&ws, run)["run"]["experiment"].as_str().unwrap().to_string();
    let (_, e) = get(
        &uri,
        "experiments/get-by-name",
        None,
        &[("experiment_name", &name)],
    );
    let exp = e["experiment"]["experiment_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{e}"))
        .to_string();
    let all = |uri: &str| {
        let (st, v) = post(
            uri,
            "runs/search",
            None,
            &json!({"experiment_ids": [exp], "max_results": 1000}),
        );
        assert_eq!(st, 200, "{v}");
        v["runs"].as_array().unwrap().clone()
    };
    let runs = all(&uri);
    assert_eq!(runs.len(), trials + 1);
    let tag = |r: &Value, k: &str| -> Option<String> {
        r["data"]["tags"]
            .as_array()?
            .iter()
            .find(|t| t["key"] == k)
            .map(|t| t["value"].as_str().unwrap().to_string())
    };
    let nested = runs
        .iter()
        .filter(|r| tag(r, "mlflow.parentRunId").as_deref() == Some(remote.as_str()))
        .count();
    assert_eq!(nested, trials, "every trial nested under the run");
    let child = runs
        .iter()
        .find(|r| tag(r, "automl.run_id").as_deref() != Some(&run.to_string()))
        .unwrap();
    let child_id = child["info"]["run_id"].as_str().unwrap();
    let (_, h) = get(
        &uri,
        "metrics/get-history",
        None,
        &[("run_id", child_id), ("metric_key", "fold_accuracy")],
    );
    let folds = h["metrics"].as_array().unwrap().len();
    assert!(folds >= 3, "the per-fold history: {h}");
    let (st, mv) = get(
        &uri,
        "registered-models/alias",
        None,
        &[("name", "iris"), ("alias", "champion")],
    );
    assert_eq!(st, 200, "{mv}");
    assert_eq!(mv["model_version"]["run_id"].as_str(), Some(remote.as_str()));
    let (_, parent) = get(&uri, "runs/get", None, &[("run_id", &remote)]);
    assert_eq!(parent["run"]["info"]["status"], "FINISHED");
    // Again: nothing new, nothing duplicated.
    let second = json_of(&args, d, None);
    for k in [
        "runs_created",
        "metrics_sent",
        "params_sent",
        "artifacts_sent",
        "versions_created",
    ] {
        assert_eq!(second[k], 0, "{k}: {second}");
    }
    assert_eq!(all(&uri).len(), trials + 1);
    let (_, h2) = get(
        &uri,
        "metrics/get-history",
        None,
        &[("run_id", child_id), ("metric_key", "fold_accuracy")],
    );
    assert_eq!(h2["metrics"].as_array().unwrap().len(), folds);
    // A server that is not there, and a refused credential, are clear errors.
    let (ok, _, err) = exec(
        &[
            "mlflow",
            "export",
            &run.to_string(),
            "--to",
            &format!("http://127.0.0.1:{}", free_port()),
            "--workspace",
            w,
        ],
        d,
        None,
    );
    assert!(!ok && err.contains("cannot reach the MLflow server"), "{err}");
    let (_guarded, guarded) = automl_server(&d.join("other"), Some("s3cret"));
    let (ok, _, err) = exec(
        &[
            "mlflow",
            "export",
            &run.to_string(),
            "--to",
            &guarded,
            "--workspace",
            w,
        ],
        d,
        None,
    );
    assert!(!ok && err.contains("refused the credentials"), "{err}");
}
