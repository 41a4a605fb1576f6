//! `automl mlflow export`: push runs of a workspace (a run with its trials nested under it, or
//! every run of an experiment) to a real MLflow tracking server through its REST API, with their
//! parameters, step metrics, tags and artifacts, and optionally the registered model versions of
//! those runs with their tags and aliases.
//!
//! Idempotent: what was sent where is kept in the workspace ([`crate::store::Edits`]), so a second
//! export creates nothing new and sends only what changed (new metric points, new parameters,
//! changed artifacts); tags and the end state are set again.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::api::{flat_params, run_tags, status_name};
use crate::error::{Error, Result};
use crate::store::{Backend, ExportEntry, ModelVersion, RunFilter, RunId, RunRecord};

/// MLflow's limits per `log-batch` request.
const BATCH_METRICS: usize = 1000;
const BATCH_PARAMS: usize = 100;
const BATCH_TAGS: usize = 100;
/// MLflow's longest parameter and tag values.
const PARAM_CHARS: usize = 6000;
const TAG_CHARS: usize = 8000;

/// What an export did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ExportSummary {
    /// The MLflow server.
    pub target: String,
    /// Remote experiment id.
    pub experiment_id: String,
    /// Local run id → remote run id, for every exported run.
    pub runs: BTreeMap<RunId, String>,
    /// Runs created on the server (0 on a repeated export).
    pub runs_created: usize,
    /// Metric points sent.
    pub metrics_sent: usize,
    /// Parameters sent.
    pub params_sent: usize,
    /// Artifact files uploaded.
    pub artifacts_sent: usize,
    /// Model versions created on the server.
    pub versions_created: usize,
    /// What could not be sent, with the reason.
    pub skipped: Vec<String>,
}

/// A client of one MLflow server.
struct Client {
    base: String,
    auth: Option<String>,
    agent: ureq::Agent,
}

/// Base64 (standard alphabet, padded), for HTTP basic auth.
fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, x)| acc | (u32::from(*x) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Client {
    fn new(url: &str) -> Result<Client> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Config(format!(
                "--to must be an MLflow server URL (http:// or https://), not '{url}'"
            )));
        }
        // The MLflow client's own variables.
        let auth = match (
            std::env::var("MLFLOW_TRACKING_TOKEN").ok(),
            std::env::var("MLFLOW_TRACKING_USERNAME").ok(),
        ) {
            (Some(t), _) => Some(format!("Bearer {t}")),
            (None, Some(u)) => {
                let p = std::env::var("MLFLOW_TRACKING_PASSWORD").unwrap_or_default();
                Some(format!("Basic {}", base64(format!("{u}:{p}").as_bytes())))
            }
            (None, None) => None,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Client { base, auth, agent })
    }

    /// Turn a response into JSON, or an error naming what was refused.
    fn answer(
        &self,
        what: &str,
        r: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value> {
        let mut resp =
            r.map_err(|e| Error::Config(format!("cannot reach the MLflow server at {}: {e}", self.base)))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match status {
            200..=299 => Ok(body),
            401 | 403 => Err(Error::Config(format!(
                "the MLflow server at {} refused the credentials (HTTP {status}) for {what}; set \
                 MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
                self.base
            ))),
            _ => {
                let code = body["error_code"].as_str().unwrap_or("");
                let msg = body["message"]
                    .as_str()
                    .map_or_else(|| text.chars().take(300).collect(), str::to_string);
                Err(Error::Config(format!(
                    "the MLflow server refused {what} (HTTP {status} {code}): {msg}"
                )))
            }
        }
    }

    fn post(&self, route: &str, body: &Value) -> Result<Value> {
        let mut req = self.agent.post(format!("{}/api/2.0/mlflow/{route}", self.base));
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        self.answer(route, req.send_json(body))
    }

    fn get(&self, route: &str, query: &[(&str, &str)]) -> Result<Value> {
        let mut req = self.agent.get(format!("{}/api/2.0/mlflow/{route}", self.base));
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        self.answer(route, req.call())
    }

    /// `get`, with a missing resource as `None`.
    fn find(&self, route: &str, query: &[(&str, &str)]) -> Result<Option<Value>> {
        match self.get(route, query) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.to_string().contains("RESOURCE_DOES_NOT_EXIST") => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn put_artifact(&self, artifact_uri: &str, name: &str, bytes: &[u8]) -> Result<()> {
        let Some(path) = artifact_uri.strip_prefix("mlflow-artifacts:") else {
            return Err(Error::Config(format!(
                "the server keeps this run's artifacts at '{artifact_uri}', which its REST API does not \
                 proxy (start it with --serve-artifacts and an mlflow-artifacts root)"
            )));
        };
        let path = path.trim_start_matches('/');
        let encoded: String = name.split('/').map(encode).collect::<Vec<_>>().join("/");
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{path}/{encoded}",
            self.base
        );
        let mut req = self.agent.put(url);
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        self.answer(&format!("artifact '{name}'"), req.send(bytes))
            .map(drop)
    }
}

/// Percent-encoding of one path segment.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A value cut to MLflow's limit (marked with an ellipsis).
fn cut(v: &str, n: usize) -> String {
    if v.chars().count() <= n {
        v.to_string()
    } else {
        let mut s: String = v.chars().take(n - 1).collect();
        s.push('…');
        s
    }
}

/// The runs `which` names: a run id (with its trials), or an experiment (all its runs), parents
/// before their children.
fn select(store: &dyn Backend, which: &str) -> Result<(String, Vec<RunRecord>)> {
    let tops: Vec<RunRecord> = match which.parse::<RunId>() {
        Ok(id) => vec![store.run(id)?],
        Err(_) => {
            let runs = store.runs(&RunFilter {
                experiment: Some(which.to_string()),
                ..RunFilter::default()
            })?;
            if runs.is_empty() {
                return Err(Error::Config(format!(
                    "'{which}' is neither a run id nor an experiment with runs in this workspace"
                )));
            }
            runs
        }
    };
    let experiment = tops[0].experiment.clone();
    let mut out = Vec::new();
    let mut queue: Vec<RunRecord> = tops;
    while let Some(r) = queue.first().cloned() {
        queue.remove(0);
        let kids = store.runs(&RunFilter {
            parent: Some(r.id),
            ..RunFilter::default()
        })?;
        out.push(r);
        queue.extend(kids);
    }
    Ok((experiment, out))
}

/// Export `which` (a run id or an experiment name) of the workspace at `root` to the MLflow server
/// at `to`; with `models`, also the registered versions of the exported runs. `progress` hears of
/// each run sent.
pub fn export(
    store: &dyn Backend,
    root: &Path,
    which: &str,
    to: &str,
    models: bool,
    progress: &dyn Fn(usize, usize),
) -> Result<ExportSummary> {
    let client = Client::new(to)?;
    let target = client.base.clone();
    let (experiment, runs) = select(store, which)?;
    let mut sum = ExportSummary {
        target: target.clone(),
        ..ExportSummary::default()
    };
    let exp_id = match client.find("experiments/get-by-name", &[("experiment_name", &experiment)])? {
        Some(v) => v["experiment"]["experiment_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        None => client.post("experiments/create", &json!({"name": experiment}))?["experiment_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    if exp_id.is_empty() {
        return Err(Error::Config(format!(
            "the MLflow server at {target} gave no id for experiment '{experiment}'"
        )));
    }
    sum.experiment_id = exp_id.clone();
    for (i, r) in runs.iter().enumerate() {
        export_run(&client, store, root, &target, &exp_id, r, &mut sum)?;
        progress(i + 1, runs.len());
    }
    if models {
        export_models(&client, store, &target, &mut sum)?;
    }
    Ok(sum)
}

/// `log-batch` requests carrying `params`, `tags` and `metrics` within MLflow's limits: at most
/// 100 params, 100 tags and 1000 entries in all per request.
fn batches(mut params: &[Value], mut tags: &[Value], mut metrics: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    while !(params.is_empty() && tags.is_empty() && metrics.is_empty()) {
        let np = params.len().min(BATCH_PARAMS);
        let nt = tags.len().min(BATCH_TAGS);
        let nm = metrics.len().min(BATCH_METRICS - np - nt);
        out.push(json!({"params": &params[..np], "tags": &tags[..nt], "metrics": &metrics[..nm]}));
        params = &params[np..];
        tags = &tags[nt..];
        metrics = &metrics[nm..];
    }
    out
}

/// A short fingerprint of a JSON value (to tell whether tags or the end state changed).
fn fingerprint(v: &Value) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(v.to_string().as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn export_run(
    client: &Client,
    store: &dyn Backend,
    root: &Path,
    target: &str,
    exp_id: &str,
    r: &RunRecord,
    sum: &mut ExportSummary,
) -> Result<()> {
    let local = r.id.to_string();
    let known = store.export_entry(target, "run", &local)?;
    // The remote run, unless it was deleted on the server since.
    let mut remote: Option<(String, Value, String)> = None;
    if let Some(e) = &known {
        if let Some(v) = client.find("runs/get", &[("run_id", &e.remote)])? {
            if v["run"]["info"]["lifecycle_stage"].as_str() != Some("deleted") {
                let uri = v["run"]["info"]["artifact_uri"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                remote = Some((e.remote.clone(), e.state.clone(), uri));
            }
        }
    }
    let parent_remote = r.parent.and_then(|p| sum.runs.get(&p).cloned());
    let (rid, mut state, artifact_uri) = match remote {
        Some(x) => x,
        None => {
            let mut tags = vec![
                json!({"key": "mlflow.runName", "value": r.name}),
                json!({"key": "automl.run_id", "value": local}),
            ];
            if let Some(p) = &parent_remote {
                tags.push(json!({"key": "mlflow.parentRunId", "value": p}));
            }
            let v = client.post(
                "runs/create",
                &json!({
                    "experiment_id": exp_id,
                    "run_name": r.name,
                    "start_time": (r.started * 1000.0) as i64,
                    "tags": tags,
                }),
            )?;
            let info = &v["run"]["info"];
            let id = info["run_id"].as_str().unwrap_or_default().to_string();
            if id.is_empty() {
                return Err(Error::Config(format!(
                    "the MLflow server gave no id for run {}",
                    r.id
                )));
            }
            sum.runs_created += 1;
            let uri = info["artifact_uri"].as_str().unwrap_or_default().to_string();
            (id, json!({}), uri)
        }
    };
    sum.runs.insert(r.id, rid.clone());
    // Parameters not sent yet (MLflow's are immutable).
    let sent_params: Vec<String> = state["params"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let mut params = Vec::new();
    for (k, v) in flat_params(r) {
        if sent_params.contains(&k) {
            continue;
        }
        if v.chars().count() > PARAM_CHARS {
            sum.skipped.push(format!(
                "parameter '{k}' of run {}: {} characters, MLflow keeps at most {PARAM_CHARS}",
                r.id,
                v.chars().count()
            ));
            continue;
        }
        params.push((k, v));
    }
    let param_values: Vec<Value> = params
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    // Metric points beyond those sent, per key.
    let history = store.metric_history(r.id)?;
    let mut by_key: BTreeMap<&str, Vec<&crate::store::MetricPoint>> = BTreeMap::new();
    for p in &history {
        by_key.entry(p.key.as_str()).or_default().push(p);
    }
    let mut points = Vec::new();
    let mut counts = serde_json::Map::new();
    for (k, ps) in by_key.iter_mut() {
        // In the order they were logged: points logged after an export come after those sent.
        ps.sort_by(|a, b| a.timestamp.total_cmp(&b.timestamp).then(a.step.cmp(&b.step)));
        let done = state["metrics"][*k].as_u64().unwrap_or(0) as usize;
        points.extend(ps.iter().skip(done).map(|p| super::api::metric_json(p)));
        counts.insert((*k).to_string(), json!(ps.len()));
    }
    // Tags (they may change: sent again when they did), cut to MLflow's length.
    let tags: Vec<Value> = run_tags(r)
        .into_iter()
        .filter(|(k, _)| k != "mlflow.runName" && k != "mlflow.parentRunId")
        .map(|(k, v)| json!({"key": k, "value": cut(&v, TAG_CHARS)}))
        .collect();
    let tag_print = fingerprint(&Value::Array(tags.clone()));
    let tags = if state["tags"].as_str() == Some(tag_print.as_str()) {
        Vec::new()
    } else {
        tags
    };
    for mut b in batches(&param_values, &tags, &points) {
        b["run_id"] = json!(rid);
        client.post("runs/log-batch", &b)?;
    }
    sum.params_sent += params.len();
    sum.metrics_sent += points.len();
    let mut all_params = sent_params;
    all_params.extend(params.into_iter().map(|(k, _)| k));
    state["params"] = json!(all_params);
    state["metrics"] = Value::Object(counts);
    state["tags"] = json!(tag_print);
    // Artifacts whose size or time changed.
    let mut sent = state["artifacts"].as_object().cloned().unwrap_or_default();
    for (name, recorded) in &r.artifacts {
        let p = Path::new(recorded);
        let path = if p.is_absolute() {
            p.to_path_buf()
        } else {
            // Fetched into this machine's cache from a workspace that keeps its files.
            crate::store::blobs::materialize(store, root, recorded).unwrap_or_default()
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            sum.skipped.push(format!(
                "artifact '{name}' of run {}: {} is gone",
                r.id,
                path.display()
            ));
            continue;
        };
        let stamp = format!(
            "{}:{}",
            meta.len(),
            meta.modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis())
        );
        if sent.get(name).and_then(Value::as_str) == Some(stamp.as_str()) {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        match client.put_artifact(&artifact_uri, name, &bytes) {
            Ok(()) => {
                sum.artifacts_sent += 1;
                sent.insert(name.clone(), json!(stamp));
            }
            Err(e) if e.to_string().contains("does not proxy") => {
                sum.skipped.push(format!("artifacts of run {}: {e}", r.id));
                break;
            }
            Err(e) => return Err(e),
        }
    }
    state["artifacts"] = Value::Object(sent);
    // The end state, when it changed.
    let mut update = json!({"run_id": rid, "status": status_name(r.status)});
    if let Some(end) = r.ended {
        update["end_time"] = json!((end * 1000.0) as i64);
    }
    let end_print = fingerprint(&update);
    if state["end"].as_str() != Some(end_print.as_str()) {
        client.post("runs/update", &update)?;
        state["end"] = json!(end_print);
    }
    store.set_export_entry(target, "run", &local, &ExportEntry { remote: rid, state })?;
    Ok(())
}

fn export_models(client: &Client, store: &dyn Backend, target: &str, sum: &mut ExportSummary) -> Result<()> {
    let versions: Vec<ModelVersion> = store
        .models(None)?
        .into_iter()
        .filter(|v| sum.runs.contains_key(&v.run))
        .collect();
    for v in &versions {
        if client
            .find("registered-models/get", &[("name", &v.name)])?
            .is_none()
        {
            client.post("registered-models/create", &json!({"name": v.name}))?;
        }
        let local = format!("{}:{}", v.name, v.version);
        let known = store.export_entry(target, "model_version", &local)?;
        let mut remote = None;
        if let Some(e) = &known {
            if client
                .find("model-versions/get", &[("name", &v.name), ("version", &e.remote)])?
                .is_some()
            {
                remote = Some(e.remote.clone());
            }
        }
        let run_remote = sum.runs.get(&v.run).cloned().unwrap_or_default();
        let version = match remote {
            Some(r) => r,
            None => {
                let info = client.get("runs/get", &[("run_id", &run_remote)])?;
                let uri = info["run"]["info"]["artifact_uri"].as_str().unwrap_or_default();
                let created = client.post(
                    "model-versions/create",
                    &json!({
                        "name": v.name,
                        "source": format!("{uri}/model"),
                        "run_id": run_remote,
                        "description": v.description,
                    }),
                )?;
                sum.versions_created += 1;
                created["model_version"]["version"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| {
                        created["model_version"]["version"]
                            .as_i64()
                            .map(|n| n.to_string())
                    })
                    .unwrap_or_default()
            }
        };
        store.set_export_entry(
            target,
            "model_version",
            &local,
            &ExportEntry {
                remote: version.clone(),
                state: Value::Null,
            },
        )?;
        let mut tags: Vec<(String, String)> = v
            .tags
            .iter()
            .map(|(k, x)| (k.clone(), crate::store::edits::param_text(x)))
            .collect();
        tags.push(("automl.version".into(), v.version.to_string()));
        for (k, x) in tags {
            client.post(
                "model-versions/set-tag",
                &json!({"name": v.name, "version": version, "key": k, "value": cut(&x, TAG_CHARS)}),
            )?;
        }
        for a in &v.aliases {
            client.post(
                "registered-models/alias",
                &json!({"name": v.name, "alias": a, "version": version}),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(encode("trial-1/std out.log"), "trial-1%2Fstd%20out.log");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
        assert!(Client::new("localhost:5000").is_err());
        // Batches keep MLflow's limits: 100 params, 100 tags, 1000 entries in all.
        let v = |n: usize| vec![json!({"key": "k", "value": "v"}); n];
        let b = batches(&v(150), &v(20), &v(2500));
        let sizes: Vec<(usize, usize, usize)> = b
            .iter()
            .map(|x| {
                let n = |k: &str| x[k].as_array().unwrap().len();
                (n("params"), n("tags"), n("metrics"))
            })
            .collect();
        assert_eq!(sizes, [(100, 20, 880), (50, 0, 950), (0, 0, 670)]);
        assert!(batches(&[], &[], &[]).is_empty());
    }
}
