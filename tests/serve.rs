//! Online and batch endpoints end to end, with a real HTTP client against `automl serve`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::{json, Value};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn automl() -> Command {
    Command::cargo_bin("automl").unwrap()
}

fn exec(args: &[&str], ws: &Path) -> (bool, String, String) {
    let out = automl().args(args).arg("--workspace").arg(ws).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "panic in {args:?}: {stderr}");
    (out.status.success(), stdout, stderr)
}

fn ok(args: &[&str], ws: &Path) -> String {
    let (good, out, err) = exec(args, ws);
    assert!(good, "automl {args:?} failed: {err}\n{out}");
    out
}

fn json_of(args: &[&str], ws: &Path) -> Value {
    let out = ok(args, ws);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad json ({e}): {out}"))
}

struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `automl serve --port 0 --json …`; returns it and its base URI.
fn serve(ws: &Path, extra: &[&str]) -> (Background, String) {
    let mut child = automl()
        .args(["serve", "--port", "0", "--json", "--workspace"])
        .arg(ws)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    while !text.trim_end().ends_with('}') || text.matches('{').count() != text.matches('}').count() {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "serve printed no address: {text}"
        );
        text.push_str(&line);
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    (Background(child), v["uri"].as_str().unwrap().to_string())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// POST a body; (status, deployment header, model header, body).
fn post(
    a: &ureq::Agent,
    url: &str,
    key: Option<&str>,
    ct: &str,
    body: &str,
    pin: Option<&str>,
) -> (u16, String, String, String) {
    let mut r = a.post(url).header("Content-Type", ct);
    if let Some(k) = key {
        r = r.header("Authorization", &format!("Bearer {k}"));
    }
    if let Some(p) = pin {
        r = r.header("azureml-model-deployment", p);
    }
    let mut resp = r.send(body).unwrap();
    let h = |k: &str| {
        resp.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (dep, model) = (h("azureml-model-deployment"), h("x-automl-model"));
    let status = resp.status().as_u16();
    (
        status,
        dep,
        model,
        resp.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// POST over a plain socket, writing on one thread and reading on another (a server may answer
/// and close before the whole body is written); returns what the server sent.
fn raw_post(uri: &str, path: &str, key: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let addr = uri.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = s.try_clone().unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let body = body.to_string();
    let writer = std::thread::spawn(move || {
        let _ = w
            .write_all(head.as_bytes())
            .and_then(|_| w.write_all(body.as_bytes()));
    });
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let _ = writer.join();
    String::from_utf8_lossy(&out).to_string()
}

fn get(a: &ureq::Agent, url: &str) -> (u16, String) {
    let mut resp = a.get(url).call().unwrap();
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
}

/// A workspace with iris:1 and iris:2 (alias prod → 2) and an endpoint `iris`: blue serves
/// iris:1, green iris@prod.
fn workspace(d: &Path) -> PathBuf {
    let ws = d.join("ws");
    let train = repo().join("datasets/iris/train.csv");
    let t = train.to_str().unwrap();
    for seed in ["1", "2"] {
        ok(
            &[
                "run",
                t,
                "--target",
                "species",
                "--max-trials",
                "8",
                "--seed",
                seed,
                "--register",
                "iris",
                "-q",
                "--json",
            ],
            &ws,
        );
    }
    ok(&["models", "alias", "iris", "prod", "2"], &ws);
    ok(&["endpoints", "create", "iris"], &ws);
    ok(
        &[
            "deployments",
            "create",
            "iris",
            "--name",
            "blue",
            "--model",
            "iris:1",
        ],
        &ws,
    );
    ok(
        &[
            "deployments",
            "create",
            "iris",
            "--name",
            "green",
            "--model",
            "iris@prod",
        ],
        &ws,
    );
    ws
}

fn keys(ws: &Path) -> (String, String) {
    let v = json_of(&["endpoints", "keys", "iris", "--json"], ws);
    (
        v["primary"].as_str().unwrap().to_string(),
        v["secondary"].as_str().unwrap().to_string(),
    )
}

const ROW: &str =
    r#"{"sepal_length_cm": 6.1, "sepal_width_cm": 2.8, "petal_length_cm": 4.7, "petal_width_cm": 1.2}"#;

fn columns(ws: &Path) -> Vec<String> {
    let _ = ws;
    let text = std::fs::read_to_string(repo().join("datasets/iris/test.csv")).unwrap();
    text.lines()
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .filter(|c| c != "species")
        .collect()
}

/// Wait until `f` holds (the server reads the workspace every second).
fn eventually(what: &str, f: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{what} did not happen within 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn online_endpoint_speaks_three_protocols_splits_traffic_and_checks_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path());
    let cols = columns(&ws);
    assert_eq!(
        cols,
        [
            "sepal_length_cm",
            "sepal_width_cm",
            "petal_length_cm",
            "petal_width_cm"
        ],
        "iris columns"
    );
    ok(
        &["endpoints", "update", "iris", "--traffic", "blue=90,green=10"],
        &ws,
    );
    let (_s, uri) = serve(&ws, &["--max-body-mb", "0.01"]);
    let (key, second) = keys(&ws);
    let a = agent();
    let score = format!("{uri}/endpoints/iris/score");
    let inv = format!("{uri}/endpoints/iris/invocations");
    let infer = format!("{uri}/v2/models/iris/infer");
    // Every request format gives the same prediction, from blue.
    let row = "[6.1, 2.8, 4.7, 1.2]";
    let bodies = [
        (&score, "application/json", format!(r#"{{"input_data": {{"columns": {cols:?}, "index": [0], "data": [{row}]}}}}"#)),
        (&score, "application/json", format!(r#"{{"data": [{ROW}]}}"#)),
        (&score, "application/json", format!(r#"{{"data": [{row}]}}"#)),
        (&inv, "application/json", format!(r#"{{"dataframe_split": {{"columns": {cols:?}, "data": [{row}]}}}}"#)),
        (&inv, "application/json", format!(r#"{{"dataframe_records": [{ROW}]}}"#)),
        (&inv, "application/json", format!(r#"{{"instances": [{ROW}]}}"#)),
        (&inv, "application/json", r#"{"inputs": {"sepal_length_cm": [6.1], "sepal_width_cm": [2.8], "petal_length_cm": [4.7], "petal_width_cm": [1.2]}}"#.to_string()),
        (&inv, "text/csv", format!("{}\n6.1,2.8,4.7,1.2\n", cols.join(","))),
        (&infer, "application/json", format!(r#"{{"inputs": [{{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": {row}}}]}}"#)),
    ];
    for (url, ct, body) in &bodies {
        let (st, dep, model, text) = post(&a, url, Some(&key), ct, body, Some("blue"));
        assert_eq!(st, 200, "{url} {body}: {text}");
        assert_eq!((dep.as_str(), model.as_str()), ("blue", "iris:1"));
        assert!(text.contains("versicolor"), "{url} {body}: {text}");
    }
    // Keys: none, a wrong one → 401; the secondary works.
    assert_eq!(
        post(&a, &score, None, "application/json", &bodies[1].2, None).0,
        401
    );
    assert_eq!(
        post(&a, &score, Some("nope"), "application/json", &bodies[1].2, None).0,
        401
    );
    assert_eq!(
        post(&a, &score, Some(&second), "application/json", &bodies[1].2, None).0,
        200
    );
    // 10k requests split 90/10 (±2 %), on 4 connections.
    let blue = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (blue, failures, score, key, body) =
                (blue.clone(), failures.clone(), &score, &key, &bodies[1].2);
            s.spawn(move || {
                let a = agent();
                for _ in 0..2500 {
                    let (st, dep, _, _) = post(&a, score, Some(key), "application/json", body, None);
                    if st != 200 {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    if dep == "blue" {
                        blue.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    let share = blue.load(Ordering::Relaxed) as f64 / 10_000.0;
    assert!((0.88..=0.92).contains(&share), "blue took {share}");
    // Pinning.
    for _ in 0..50 {
        assert_eq!(
            post(
                &a,
                &score,
                Some(&key),
                "application/json",
                &bodies[1].2,
                Some("green")
            )
            .1,
            "green"
        );
    }
    assert_eq!(
        post(
            &a,
            &score,
            Some(&key),
            "application/json",
            &bodies[1].2,
            Some("red")
        )
        .0,
        404
    );
    // 10k requests, 5 % malformed: only those get a 4xx, the rest 200, and the server answers on.
    let huge = format!(r#"{{"data": [{}]}}"#, vec![ROW; 400].join(","));
    let bad = [
        "{not json".to_string(),
        r#"{"data": [{"sepal_length_cm": 1}]}"#.to_string(),
        r#"{"data": [{"sepal_length_cm": "wide", "sepal_width_cm": 1, "petal_length_cm": 1, "petal_width_cm": 1}]}"#
            .to_string(),
        huge,
        r#"{"input_data": {"columns": ["a"], "data": [[1, 2]]}}"#.to_string(),
    ];
    let wrong = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for t in 0..4 {
            let (wrong, score, key, good, bad) = (wrong.clone(), &score, &key, &bodies[1].2, &bad);
            s.spawn(move || {
                let a = agent();
                for i in 0..2500 {
                    let malformed = i % 20 == 0;
                    let body = if malformed {
                        &bad[(i / 20 + t) % bad.len()]
                    } else {
                        good
                    };
                    let (st, _, _, text) = post(&a, score, Some(key), "application/json", body, None);
                    let right = if malformed {
                        (400..500).contains(&st)
                    } else {
                        st == 200
                    };
                    if !right {
                        eprintln!("{st} for {}: {text}", &body[..body.len().min(80)]);
                        wrong.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(wrong.load(Ordering::Relaxed), 0);
    let (st, _, _, text) = post(&a, &score, Some(&key), "application/json", &bad[1], None);
    assert_eq!(st, 400);
    assert!(text.contains("column 'sepal_width_cm' is missing"), "{text}");
    assert_eq!(
        post(&a, &score, Some(&key), "application/json", &bad[3], None).0,
        413
    );
    // Mirror: blue takes all traffic, 20 % is copied to green.
    ok(
        &[
            "endpoints",
            "update",
            "iris",
            "--traffic",
            "blue=100",
            "--mirror",
            "green=20",
        ],
        &ws,
    );
    eventually("the mirror", || {
        get(&a, &format!("{uri}/ready")).1.contains("\"mirror\":20")
    });
    let metric = |name: &str, dep: &str| -> u64 {
        let text = get(&a, &format!("{uri}/metrics")).1;
        let want = format!("{name}{{endpoint=\"iris\",deployment=\"{dep}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&want))
            .map_or(0, |n| n.parse().unwrap())
    };
    let before = metric("automl_mirrored_requests_total", "green");
    for _ in 0..1000 {
        assert_eq!(
            post(&a, &score, Some(&key), "application/json", &bodies[1].2, None).1,
            "blue"
        );
    }
    let mirrored = metric("automl_mirrored_requests_total", "green") - before;
    assert!((140..=260).contains(&mirrored), "mirrored {mirrored} of 1000");
    // Key regeneration without a restart: the old primary is refused, the new one and the
    // secondary work.
    ok(&["endpoints", "keys", "iris", "--regenerate", "primary"], &ws);
    let (new_key, same_second) = keys(&ws);
    assert_ne!(new_key, key);
    assert_eq!(same_second, second);
    eventually("the new key", || {
        post(&a, &score, Some(&new_key), "application/json", &bodies[1].2, None).0 == 200
    });
    assert_eq!(
        post(&a, &score, Some(&key), "application/json", &bodies[1].2, None).0,
        401
    );
    // Health, readiness, OpenAPI.
    assert_eq!(get(&a, &format!("{uri}/health")), (200, "OK".to_string()));
    let ready: Value = serde_json::from_str(&get(&a, &format!("{uri}/ready")).1).unwrap();
    assert_eq!(ready["endpoints"]["iris"]["deployments"]["green"]["version"], 2);
    assert_eq!(
        ready["endpoints"]["iris"]["deployments"]["green"]["device"],
        "cpu"
    );
    let api: Value = serde_json::from_str(&get(&a, &format!("{uri}/openapi.json")).1).unwrap();
    assert!(api["paths"]["/endpoints/iris/invocations"]["post"].is_object());
    assert_eq!(
        api["components"]["schemas"]["iris_row"]["properties"]["petal_width_cm"]["type"],
        json!(["number", "null"])
    );
    assert!(metric("automl_requests_total", "blue") > 10_000);
    // KServe's versioned route serves that version, or says it is not served.
    let body =
        format!(r#"{{"inputs": [{{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": {row}}}]}}"#);
    let (st, dep, model, _) = post(
        &a,
        &format!("{uri}/v2/models/iris/versions/2/infer"),
        Some(&new_key),
        "application/json",
        &body,
        None,
    );
    assert_eq!((st, dep.as_str(), model.as_str()), (200, "green", "iris:2"));
    assert_eq!(
        post(
            &a,
            &format!("{uri}/v2/models/iris/versions/9/infer"),
            Some(&new_key),
            "application/json",
            &body,
            None
        )
        .0,
        404
    );
    // Made-up endpoint names get 404 and add no series to /metrics.
    for i in 0..20 {
        assert_eq!(
            post(
                &a,
                &format!("{uri}/endpoints/made-up-{i}/score"),
                None,
                "application/json",
                "{}",
                None
            )
            .0,
            404
        );
    }
    assert!(!get(&a, &format!("{uri}/metrics")).1.contains("made-up"));
}

#[test]
fn an_alias_move_under_load_switches_versions_without_a_failed_request() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path());
    let (_s, uri) = serve(&ws, &[]);
    let (key, _) = keys(&ws);
    let score = format!("{uri}/endpoints/iris/score");
    let body = format!(r#"{{"data": [{ROW}]}}"#);
    let stop = Arc::new(AtomicBool::new(false));
    let (failures, v1, sent) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (stop, failures, v1, sent, score, key, body) = (
                stop.clone(),
                failures.clone(),
                v1.clone(),
                sent.clone(),
                &score,
                &key,
                &body,
            );
            s.spawn(move || {
                let a = agent();
                while !stop.load(Ordering::Relaxed) {
                    let (st, _, model, _) =
                        post(&a, score, Some(key), "application/json", body, Some("green"));
                    sent.fetch_add(1, Ordering::Relaxed);
                    if st != 200 {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    if model == "iris:1" {
                        v1.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(v1.load(Ordering::Relaxed), 0, "green serves iris@prod = 2");
        let moved = Instant::now();
        ok(&["models", "alias", "iris", "prod", "1"], &ws);
        let a = agent();
        eventually("the alias move", || {
            post(&a, &score, Some(&key), "application/json", &body, Some("green")).2 == "iris:1"
        });
        assert!(moved.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
    });
    assert!(sent.load(Ordering::Relaxed) > 200);
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no request failed during the move"
    );
    assert!(v1.load(Ordering::Relaxed) > 0);
}

#[test]
fn a_tampered_model_file_is_refused_by_predict_and_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path());
    let v = json_of(&["models", "show", "iris:1", "--json"], &ws);
    let path = ws.join(v["model"]["path"].as_str().unwrap_or_else(|| panic!("{v}")));
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    for b in &mut bytes[n - 50..n - 46] {
        *b ^= 0xff;
    }
    std::fs::write(&path, &bytes).unwrap();
    let test = repo().join("datasets/iris/test.csv");
    let (good, _, err) = exec(
        &[
            "predict",
            "--model",
            "iris:1",
            "--data",
            test.to_str().unwrap(),
            "--out",
            tmp.path().join("p.csv").to_str().unwrap(),
        ],
        &ws,
    );
    assert!(!good && err.contains("checksum mismatch"), "{err}");
    // The server serves what it can and says what it refused.
    let (_s, uri) = serve(&ws, &[]);
    let a = agent();
    let ready: Value = serde_json::from_str(&get(&a, &format!("{uri}/ready")).1).unwrap();
    let problem = ready["problems"]["deployment iris/blue"]
        .as_str()
        .unwrap_or_else(|| panic!("{ready}"));
    assert!(problem.contains("checksum mismatch"), "{problem}");
    assert!(ready["endpoints"]["iris"]["deployments"]["blue"].is_null());
    let (key, _) = keys(&ws);
    let (st, dep, _, _) = post(
        &a,
        &format!("{uri}/endpoints/iris/score"),
        Some(&key),
        "application/json",
        &format!(r#"{{"data": [{ROW}]}}"#),
        Some("green"),
    );
    assert_eq!((st, dep.as_str()), (200, "green"));
    // A request slower than the time limit gives 408 (100k rows against 1 ms). The server may
    // answer before the body is all sent, so the client writes and reads on its own socket.
    let (_t, slow) = serve(&ws, &["--request-timeout", "0.001", "--max-body-mb", "64"]);
    let big = format!(r#"{{"data": [{}]}}"#, vec![ROW; 100_000].join(","));
    let answer = raw_post(&slow, "/endpoints/iris/score", &key, &big);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "{}",
        &answer[..answer.len().min(300)]
    );
    // Ctrl-C (SIGINT) stops the server cleanly.
    let mut t = _t;
    #[cfg(unix)]
    unsafe {
        libc::kill(t.0.id() as i32, libc::SIGINT);
    }
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = t.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "serve did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn endpoint_files_in_azure_yaml_and_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path());
    let e = tmp.path().join("endpoint.yml");
    std::fs::write(&e, "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json\nname: flowers\nauth_mode: key\ntags:\n  team: a\n").unwrap();
    let (good, _, err) = exec(&["endpoints", "create", "-f", e.to_str().unwrap()], &ws);
    assert!(good, "{err}");
    assert!(err.contains("ignored: $schema, tags"), "{err}");
    let d = tmp.path().join("blue.yml");
    std::fs::write(&d, "name: blue\nendpoint_name: flowers\nmodel: azureml:iris:2\ninstance_type: Standard_DS3_v2\ninstance_count: 1\n").unwrap();
    let (good, out, err) = exec(&["deployments", "create", "-f", d.to_str().unwrap()], &ws);
    assert!(good && out.contains("\"blue\": 100"), "{out} {err}");
    let fails = |args: &[&str], needle: &str| {
        let (good, _, err) = exec(args, &ws);
        assert!(!good && err.contains(needle), "{args:?}: {err}");
    };
    fails(
        &["endpoints", "update", "flowers", "--traffic", "blue=50"],
        "add up to 100",
    );
    fails(
        &["endpoints", "update", "flowers", "--traffic", "red=100"],
        "no deployment 'red'",
    );
    fails(
        &[
            "deployments",
            "create",
            "flowers",
            "--name",
            "x",
            "--model",
            "nosuch:1",
        ],
        "nosuch",
    );
    fails(&["deployments", "delete", "flowers", "blue"], "takes traffic");
    fails(&["endpoints", "create", "bad name"], "must be 1 to 64");
    fails(&["serve", "nosuch"], "no endpoint 'nosuch'");
    ok(&["endpoints", "create", "open", "--auth", "none"], &ws);
    fails(
        &["serve", "--host", "0.0.0.0", "--port", "0"],
        "endpoint 'open' has no key auth",
    );
}

#[test]
fn batch_scoring_streams_retries_and_resumes_after_kill_nine() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ws = workspace(d);
    // A 120k-row file (iris test rows repeated).
    let test = std::fs::read_to_string(repo().join("datasets/iris/test.csv")).unwrap();
    let mut lines = test.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let mut big = format!("{header}\n");
    for i in 0..120_000 {
        big.push_str(rows[i % rows.len()]);
        big.push('\n');
    }
    let input = d.join("big.csv");
    std::fs::write(&input, &big).unwrap();
    let run = |out: &Path, extra: &[&str]| -> (bool, String, String) {
        let mut args = vec![
            "batch-score",
            "iris:2",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        exec(&args, &ws)
    };
    // A clean run, as the reference.
    let clean = d.join("clean");
    let (good, out, err) = run(&clean, &["--mini-batch-size", "1000"]);
    assert!(good, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["rows"].as_u64(), v["mini_batches"].as_u64()),
        (Some(120_000), Some(120))
    );
    let reference = std::fs::read_to_string(clean.join("predictions.csv")).unwrap();
    assert_eq!(reference.lines().count(), 120_001);
    assert!(reference.starts_with("file,row,prediction,"));
    // Killed with -9 part way, then run again: every row exactly once, same predictions.
    let out = d.join("killed");
    let mut child = automl()
        .args([
            "batch-score",
            "iris:2",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ])
        .args([
            "--mini-batch-size",
            "100",
            "--max-concurrency",
            "1",
            "--workspace",
        ])
        .arg(&ws)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let parts = out.join(".automl-batch/parts");
    // Finished parts only: a part being written is a hidden temp file until it is renamed.
    let finished = || {
        std::fs::read_dir(&parts).map_or(0, |r| {
            r.filter_map(|e| e.ok())
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
    };
    eventually("some mini-batches", || finished() >= 20);
    child.kill().unwrap();
    let _ = child.wait();
    let done_before = finished();
    assert!(
        done_before < 1200,
        "killed before the end ({done_before} of 1200)"
    );
    let (good, text, err) = exec(
        &[
            "batch-score",
            "iris:2",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--mini-batch-size",
            "100",
            "--json",
        ],
        &ws,
    );
    assert!(good, "{err}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["resumed"].as_u64(), Some(done_before as u64), "{v}");
    let resumed = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    let mut seen = vec![0u8; 120_000];
    for l in resumed.lines().skip(1) {
        let row: usize = l.split(',').nth(1).unwrap().parse().unwrap();
        seen[row] += 1;
    }
    assert!(seen.iter().all(|&n| n == 1), "a row lost or scored twice");
    assert_eq!(resumed, reference, "same rows, same predictions, same order");
    // Another job into the same folder is refused.
    let (good, _, err) = run(&out, &["--mini-batch-size", "7"]);
    assert!(!good && err.contains("another batch job"), "{err}");
    // Failed mini-batches: counted, retried, and the threshold stops the job.
    let mut broken = big.clone();
    broken.push_str("wide,2.8,4.7,1.2,versicolor\n");
    std::fs::write(&input, &broken).unwrap();
    let (good, text, err) = run(
        &d.join("tolerant"),
        &["--mini-batch-size", "1000", "--max-retries", "1"],
    );
    assert!(good, "{err}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["failed_rows"], 1, "{v}");
    assert!(v["failed"][0][1].as_str().unwrap().contains("numeric"), "{v}");
    let (good, _, err) = run(
        &d.join("strict"),
        &["--mini-batch-size", "1000", "--error-threshold", "0"],
    );
    assert!(!good && err.contains("exceed the error threshold 0"), "{err}");
    // A batch endpoint with Azure's settings.
    ok(&["batch-endpoints", "create", "nightly"], &ws);
    ok(
        &[
            "batch-deployments",
            "create",
            "nightly",
            "--name",
            "main",
            "--model",
            "iris@prod",
            "--mini-batch-size",
            "5000",
            "--output-file-name",
            "scores.csv",
        ],
        &ws,
    );
    std::fs::write(&input, &big).unwrap();
    let b = d.join("batch");
    let v = json_of(
        &[
            "batch-score",
            "nightly",
            "--input",
            input.to_str().unwrap(),
            "--output",
            b.to_str().unwrap(),
            "--json",
        ],
        &ws,
    );
    assert_eq!(v["mini_batches"], 24, "{v}");
    assert!(b.join("scores.csv").exists());
}
