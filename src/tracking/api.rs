//! Request dispatch and the MLflow JSON shapes of experiments, runs, metrics, params and tags.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::{artifacts, logged, models, search, writes, Scope, Shared};
use crate::command::ReportSink;
use crate::error::Error;
use crate::store::edits::param_text;
use crate::store::{MetricPoint, RunFilter, RunId, RunRecord, TrialState};

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn json(v: &Value) -> Reply {
        Reply {
            status: 200,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
        }
    }

    /// An MLflow error: `{"error_code": code, "message": message}`.
    pub fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: json!({"error_code": code, "message": message})
                .to_string()
                .into_bytes(),
        }
    }

    /// 400 INVALID_PARAMETER_VALUE.
    pub fn bad(message: &str) -> Reply {
        Reply::error(400, "INVALID_PARAMETER_VALUE", message)
    }

    /// 404 RESOURCE_DOES_NOT_EXIST.
    pub fn missing(message: &str) -> Reply {
        Reply::error(404, "RESOURCE_DOES_NOT_EXIST", message)
    }
}

/// A handler's result.
pub type Answer = std::result::Result<Value, Reply>;

/// A store error as an MLflow error: a missing run or experiment is 404, a refused value 400.
pub fn store_err(e: Error) -> Reply {
    let m = e.to_string();
    if m.contains("no run") || m.contains("not found") || m.contains("no model") || m.contains("no version") {
        Reply::missing(&m)
    } else if matches!(e, Error::Config(_)) {
        Reply::bad(&m)
    } else {
        Reply::error(500, "INTERNAL_ERROR", &m)
    }
}

/// A request's arguments: the JSON body merged with the query string (GET routes), and the
/// trial run of the sweep whose token it carries.
pub struct Args(pub(super) Map<String, Value>, pub Option<RunId>);

impl Args {
    fn parse(query: &str, body: &[u8], caller: Option<RunId>) -> std::result::Result<Args, Reply> {
        let mut m = if body.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err(Reply::bad("the request body must be a JSON object")),
                Err(e) => return Err(Reply::bad(&format!("the request body is not valid JSON: {e}"))),
            }
        };
        for (k, v) in query_pairs(query) {
            match m.get_mut(&k) {
                Some(Value::Array(a)) => a.push(Value::String(v)),
                Some(old) => {
                    let first = old.take();
                    *old = Value::Array(vec![first, Value::String(v)]);
                }
                None => {
                    m.insert(k, Value::String(v));
                }
            }
        }
        Ok(Args(m, caller))
    }

    /// No arguments, from `caller`.
    pub fn caller(caller: Option<RunId>) -> Args {
        Args(Map::new(), caller)
    }

    /// A text argument.
    pub fn text(&self, k: &str) -> Option<String> {
        match self.0.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            v => Some(v.to_string()),
        }
    }

    /// A required text argument.
    pub fn need(&self, k: &str) -> std::result::Result<String, Reply> {
        self.text(k)
            .ok_or_else(|| Reply::bad(&format!("missing value for required parameter '{k}'")))
    }

    /// An integer argument (a number or a numeric string).
    pub fn int(&self, k: &str) -> std::result::Result<Option<i64>, Reply> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| Reply::bad(&format!("'{k}' must be an integer"))),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| Reply::bad(&format!("'{k}' must be an integer, not '{s}'"))),
            Some(v) => Err(Reply::bad(&format!("'{k}' must be an integer, not {v}"))),
        }
    }

    /// A list argument (an array, or one value).
    pub fn list(&self, k: &str) -> Vec<Value> {
        match self.0.get(k) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(v) => vec![v.clone()],
        }
    }

    /// The run id argument (`run_id`, or the older `run_uuid`).
    pub fn run(&self) -> std::result::Result<RunId, Reply> {
        let t = self
            .text("run_id")
            .or_else(|| self.text("run_uuid"))
            .ok_or_else(|| Reply::bad("missing value for required parameter 'run_id'"))?;
        parse_run(&t)
    }
}

/// A run id as text → our run id.
pub fn parse_run(t: &str) -> std::result::Result<RunId, Reply> {
    t.trim()
        .parse()
        .map_err(|_| Reply::missing(&format!("run '{t}' not found (automl run ids are integers)")))
}

/// `a=b&c=d` pairs, percent-decoded.
pub fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decoding (with `+` as space).
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Route one request.
pub fn dispatch(
    s: &Shared,
    caller: Option<RunId>,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Reply {
    let path = path.trim_end_matches('/');
    if path == "/health" {
        return Reply {
            status: 200,
            content_type: "text/plain",
            body: b"OK".to_vec(),
        };
    }
    if path == "/version" {
        return Reply {
            status: 200,
            content_type: "text/plain",
            body: env!("CARGO_PKG_VERSION").as_bytes().to_vec(),
        };
    }
    if path.ends_with("/server-info") {
        return Reply::json(&json!({}));
    }
    if let Some(rest) = path.strip_prefix("/api/2.0/mlflow-artifacts/artifacts") {
        return artifacts::handle(s, caller, method, rest, query, body);
    }
    let route = [
        "/api/2.0/mlflow/",
        "/ajax-api/2.0/mlflow/",
        "/api/2.0/preview/mlflow/",
    ]
    .iter()
    .find_map(|p| path.strip_prefix(p));
    let Some(route) = route else {
        return not_served(method, path);
    };
    let args = match Args::parse(query, body, caller) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let out = match (method, route) {
        ("GET", "experiments/get") => get_experiment(s, &args),
        ("GET", "experiments/get-by-name") => experiment_by_name(s, &args),
        ("POST", "experiments/create") => create_experiment(s, &args),
        ("POST" | "GET", "experiments/search") => search::experiments(s, &args),
        ("POST", "runs/create") => writes::create_run(s, &args),
        ("GET", "runs/get") => args.run().and_then(|id| Ok(json!({"run": run_json(s, id)?}))),
        ("POST", "runs/update") => writes::update_run(s, &args),
        ("POST", "runs/log-metric") => writes::log_metric(s, &args),
        ("POST", "runs/log-parameter") => writes::log_param(s, &args),
        ("POST", "runs/set-tag") => writes::set_tag(s, &args),
        ("POST", "runs/log-batch") => writes::log_batch(s, &args),
        ("POST", "runs/log-inputs") => writes::log_inputs(s, &args),
        ("POST", "runs/search") => search::runs(s, &args),
        ("GET", "metrics/get-history") => metric_history(s, &args),
        ("GET", "artifacts/list") => artifacts::list_run(s, &args),
        ("POST", "runs/outputs") => args
            .run()
            .and_then(|id| writable(s, &args, id))
            .map(|_| json!({})),
        (_, r) if r.starts_with("logged-models") => logged::handle(s, method, r, &args),
        ("GET", r) | ("POST", r)
            if r.starts_with("registered-models/") || r.starts_with("model-versions/") =>
        {
            models::handle(s, method, r, &args)
        }
        _ => return not_served(method, path),
    };
    match out {
        Ok(v) => Reply::json(&v),
        Err(r) => r,
    }
}

fn not_served(method: &str, path: &str) -> Reply {
    Reply::error(
        404,
        "ENDPOINT_NOT_FOUND",
        &format!("automl's tracking endpoint does not serve {method} {path}"),
    )
}

/// Experiment ids by name.
pub fn experiment_ids(s: &Shared) -> std::result::Result<HashMap<String, i64>, Reply> {
    Ok(s.store
        .experiments()
        .map_err(store_err)?
        .into_iter()
        .map(|e| (e.name, e.id))
        .collect())
}

/// The id of the experiment named `name` (0 when unknown).
pub fn experiment_id(s: &Shared, name: &str) -> i64 {
    experiment_ids(s)
        .ok()
        .and_then(|ids| ids.get(name).copied())
        .unwrap_or(0)
}

/// The experiment id of run `run` (0 when unknown).
pub fn experiment_of_run(s: &Shared, run: RunId) -> i64 {
    s.store.run(run).map_or(0, |r| experiment_id(s, &r.experiment))
}

/// The name of experiment `id` ("0" is MLflow's default experiment, named "Default").
pub fn experiment_name(s: &Shared, id: &str) -> std::result::Result<String, Reply> {
    if id.trim() == "0" {
        return Ok("Default".into());
    }
    let n: i64 = id
        .trim()
        .parse()
        .map_err(|_| Reply::missing(&format!("experiment '{id}' does not exist")))?;
    s.store
        .experiments()
        .map_err(store_err)?
        .into_iter()
        .find(|e| e.id == n)
        .map(|e| e.name)
        .ok_or_else(|| Reply::missing(&format!("experiment '{id}' does not exist")))
}

/// MLflow's experiment object.
pub fn experiment_json(e: &crate::store::Experiment) -> Value {
    let ms = (e.created * 1000.0) as i64;
    json!({
        "experiment_id": e.id.to_string(),
        "name": e.name,
        "artifact_location": format!("mlflow-artifacts:/{}", e.id),
        "lifecycle_stage": "active",
        "creation_time": ms,
        "last_update_time": ms,
        "tags": [],
    })
}

fn find_experiment(s: &Shared, pick: impl Fn(&crate::store::Experiment) -> bool, what: &str) -> Answer {
    let e = s
        .store
        .experiments()
        .map_err(store_err)?
        .into_iter()
        .find(|e| pick(e))
        .ok_or_else(|| Reply::missing(&format!("experiment {what} does not exist")))?;
    Ok(json!({"experiment": experiment_json(&e)}))
}

fn get_experiment(s: &Shared, a: &Args) -> Answer {
    let id = a.need("experiment_id")?;
    let name = experiment_name(s, &id)?;
    find_experiment(s, |e| e.name == name, &format!("'{id}'"))
}

fn experiment_by_name(s: &Shared, a: &Args) -> Answer {
    let name = a.need("experiment_name")?;
    find_experiment(s, |e| e.name == name, &format!("'{name}'"))
}

fn create_experiment(s: &Shared, a: &Args) -> Answer {
    if let Scope::Sweep(_) = s.scope {
        return Err(Reply::error(
            403,
            "PERMISSION_DENIED",
            "a sweep's tracking endpoint only records its own trials",
        ));
    }
    let name = a.need("name")?;
    if name.trim().is_empty() {
        return Err(Reply::bad("an experiment needs a name"));
    }
    let id = s.store.create_experiment(&name).map_err(|e| {
        if e.to_string().contains("already exists") {
            Reply::error(400, "RESOURCE_ALREADY_EXISTS", &e.to_string())
        } else {
            store_err(e)
        }
    })?;
    Ok(json!({"experiment_id": id.to_string()}))
}

/// MLflow's run status of a state.
pub fn status_name(t: TrialState) -> &'static str {
    match t {
        TrialState::Queued => "SCHEDULED",
        TrialState::Running => "RUNNING",
        TrialState::Completed => "FINISHED",
        TrialState::Failed | TrialState::TimedOut => "FAILED",
        TrialState::Pruned | TrialState::Killed => "KILLED",
    }
}

/// Tags this endpoint derives from the run itself (not taken from the stored tags).
pub(super) const DERIVED_TAGS: &[&str] = &["mlflow.runName", "mlflow.parentRunId", "automl.state"];

/// A run's parameters as MLflow's flat text pairs (a program trial's sampled parameters are
/// stored as one object: each becomes its own parameter).
pub fn flat_params(r: &RunRecord) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in &r.params {
        match (k.as_str(), v) {
            (crate::store::keys::PARAMS, Value::Object(m)) => {
                out.extend(m.iter().map(|(k, v)| (k.clone(), param_text(v))));
            }
            _ => out.push((k.clone(), param_text(v))),
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// Every tag of a run as MLflow shows them (stored ones plus the derived ones).
pub fn run_tags(r: &RunRecord) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = r
        .tags
        .iter()
        .filter(|(k, _)| !DERIVED_TAGS.contains(&k.as_str()) && !k.starts_with(logged::TAG_PREFIX))
        .map(|(k, v)| (k.clone(), param_text(v)))
        .collect();
    tags.push(("mlflow.runName".into(), r.name.clone()));
    if let Some(p) = r.parent {
        tags.push(("mlflow.parentRunId".into(), p.to_string()));
    }
    tags.push(("automl.state".into(), r.status.name().to_string()));
    if let Some(e) = &r.error {
        tags.push(("automl.error".into(), e.clone()));
    }
    tags
}

/// MLflow's run info object.
pub fn run_info(r: &RunRecord, exp: i64) -> Value {
    let mut info = json!({
        "run_id": r.id.to_string(),
        "run_uuid": r.id.to_string(),
        "run_name": r.name,
        "experiment_id": exp.to_string(),
        "user_id": "",
        "status": status_name(r.status),
        "start_time": (r.started * 1000.0) as i64,
        "artifact_uri": format!("mlflow-artifacts:/{exp}/{}/artifacts", r.id),
        "lifecycle_stage": "active",
    });
    if let (Some(end), Value::Object(m)) = (r.ended, &mut info) {
        m.insert("end_time".into(), json!((end * 1000.0) as i64));
    }
    info
}

/// A metric point as MLflow's JSON.
pub fn metric_json(p: &MetricPoint) -> Value {
    json!({
        "key": p.key,
        "value": number(p.value),
        "timestamp": (p.timestamp * 1000.0) as i64,
        "step": p.step,
    })
}

/// A float as JSON (MLflow writes NaN and infinities as strings).
fn number(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(v)
    }
}

/// MLflow's run object of run `id`.
pub fn run_json(s: &Shared, id: RunId) -> Answer {
    let r = s.store.run(id).map_err(store_err)?;
    let ids = experiment_ids(s)?;
    run_value(s, &r, &ids)
}

/// MLflow's run object of a stored run.
pub fn run_value(s: &Shared, r: &RunRecord, ids: &HashMap<String, i64>) -> Answer {
    let exp = ids.get(&r.experiment).copied().unwrap_or(0);
    let history = s.store.metric_history(r.id).map_err(store_err)?;
    // The latest point of each key: the highest step, then the newest (history is ordered so).
    let mut latest: Vec<&MetricPoint> = Vec::new();
    for p in &history {
        match latest.last_mut() {
            Some(l) if l.key == p.key => *l = p,
            _ => latest.push(p),
        }
    }
    let kv = |v: Vec<(String, String)>| -> Vec<Value> {
        v.into_iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect()
    };
    Ok(json!({
        "info": run_info(r, exp),
        "data": {
            "metrics": latest.iter().map(|p| metric_json(p)).collect::<Vec<_>>(),
            "params": kv(flat_params(r)),
            "tags": kv(run_tags(r)),
        },
        "inputs": {},
    }))
}

/// Where a write to run `id` goes: the sink of a sweep's running trial, or straight to the store.
/// On a sweep's endpoint a request writes only its own trial's run and runs nested under it.
pub fn writable(s: &Shared, a: &Args, id: RunId) -> std::result::Result<Option<ReportSink>, Reply> {
    let run = s.store.run(id).map_err(store_err)?;
    match &s.scope {
        Scope::Workspace => Ok(None),
        Scope::Sweep(scope) => {
            let own = a.1;
            if own == Some(id) {
                return scope.sink(id).map(Some).ok_or_else(|| {
                    Reply::error(400, "INVALID_STATE", &format!("run {id}'s trial has ended"))
                });
            }
            // Nested under the trial's run, at any depth (bounded).
            let mut parent = run.parent;
            for _ in 0..16 {
                match parent {
                    Some(p) if Some(p) == own => return Ok(None),
                    Some(p) => parent = s.store.run(p).map_err(store_err)?.parent,
                    None => break,
                }
            }
            Err(Reply::error(
                403,
                "PERMISSION_DENIED",
                &format!("run {id} is not this trial's run (MLFLOW_RUN_ID) nor nested under it"),
            ))
        }
    }
}

fn metric_history(s: &Shared, a: &Args) -> Answer {
    let id = a.run()?;
    let key = a.need("metric_key")?;
    s.store.run(id).map_err(store_err)?;
    let mut points: Vec<MetricPoint> = s
        .store
        .metric_history(id)
        .map_err(store_err)?
        .into_iter()
        .filter(|p| p.key == key)
        .collect();
    points.sort_by(|x, y| x.step.cmp(&y.step).then(x.timestamp.total_cmp(&y.timestamp)));
    let start: usize = a.text("page_token").and_then(|t| t.parse().ok()).unwrap_or(0);
    let max = a.int("max_results")?.map_or(usize::MAX, |m| m.max(1) as usize);
    let page: Vec<Value> = points.iter().skip(start).take(max).map(metric_json).collect();
    let mut out = json!({"metrics": page});
    if start.saturating_add(max) < points.len() {
        out["next_page_token"] = json!((start + max).to_string());
    }
    Ok(out)
}

/// Runs of the experiments named `ids` (all levels).
pub fn runs_of(s: &Shared, names: &[String]) -> std::result::Result<Vec<RunRecord>, Reply> {
    let mut out = Vec::new();
    for n in names {
        out.extend(
            s.store
                .runs(&RunFilter {
                    experiment: Some(n.clone()),
                    all_levels: true,
                    ..RunFilter::default()
                })
                .map_err(store_err)?,
        );
    }
    Ok(out)
}

/// Experiment names of MLflow experiment ids (unknown ids are skipped).
pub fn names_of(s: &Shared, ids: &[Value]) -> std::result::Result<Vec<String>, Reply> {
    let mut out = Vec::new();
    for v in ids {
        let id = match v {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        if let Ok(n) = experiment_name(s, &id) {
            out.push(n);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode() {
        assert_eq!(
            query_pairs("run_id=3&metric_key=val%20loss&x=a+b&e="),
            vec![
                ("run_id".to_string(), "3".to_string()),
                ("metric_key".to_string(), "val loss".to_string()),
                ("x".to_string(), "a b".to_string()),
                ("e".to_string(), String::new()),
            ]
        );
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("name%3D%27m%27"), "name='m'");
    }
}
