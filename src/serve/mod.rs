//! Online endpoints: `automl serve` answers scoring requests for every online endpoint of a
//! workspace (or the ones named) on one port, in the formats clients already speak
//! (module `formats`): Azure ML `/endpoints/NAME/score`, MLflow `/endpoints/NAME/invocations` and
//! KServe v2 `/v2/models/NAME/infer`, plus `/health`, `/ready`, `/metrics` and `/openapi.json`.
//!
//! Each endpoint splits its traffic between deployments by percent (a request may pin one with
//! the `azureml-model-deployment` header) and may copy a share of requests to a mirror
//! deployment. What is served follows the workspace: every second the endpoints, keys and the
//! registry are read again, and a deployment whose alias moved loads the new version beside the
//! old one and swaps it in, so no request is dropped. Key auth compares SHA-256 digests in
//! constant time. Every answer names the model version and device in its headers.

pub mod assets;
pub mod batch;
mod formats;
pub mod keys;
mod metrics;
mod openapi;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub use formats::Protocol;
pub use metrics::Metrics;

use crate::error::{Error, Result};
use crate::model::ModelFile;
use crate::store::{Backend, Endpoint, ModelRef};

/// How `automl serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on.
    pub host: IpAddr,
    /// Port (0: any free port).
    pub port: u16,
    /// Endpoints to serve (empty: every online endpoint of the workspace).
    pub endpoints: Vec<String>,
    /// Largest request body, bytes (413 beyond).
    pub max_body: usize,
    /// Longest time a request may take (408 beyond).
    pub timeout: Duration,
    /// How often the workspace is read again (keys, traffic, aliases).
    pub refresh: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            endpoints: Vec::new(),
            max_body: 16 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            refresh: Duration::from_secs(1),
        }
    }
}

/// A deployment ready to answer: its model file loaded.
pub struct LiveDeployment {
    /// Deployment name.
    pub name: String,
    /// The model reference it was created with (`NAME@ALIAS`, …).
    pub reference: String,
    /// Registered model name.
    pub model: String,
    /// Registered version served now.
    pub version: i64,
    /// The loaded model.
    pub file: Arc<ModelFile>,
}

/// An endpoint as served now.
pub struct LiveEndpoint {
    /// Its record (auth, keys, traffic, mirror).
    pub endpoint: Endpoint,
    /// Its loaded deployments.
    pub deployments: BTreeMap<String, Arc<LiveDeployment>>,
}

type LiveMap = Arc<HashMap<String, Arc<LiveEndpoint>>>;

/// A file's length and modification time, and why it failed to load.
type FileStamp = (u64, Option<std::time::SystemTime>, String);

/// State shared by the handlers and the refresher.
pub struct State {
    store: Arc<dyn Backend>,
    root: PathBuf,
    opts: ServeOptions,
    live: RwLock<LiveMap>,
    problems: Mutex<BTreeMap<String, String>>,
    /// Model files that failed to load, by (length, modification time): not read again each
    /// second until they change.
    failed: Mutex<HashMap<PathBuf, FileStamp>>,
    metrics: Metrics,
    draws: AtomicU64,
}

/// splitmix64: a well-spread number from a counter (traffic draws).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl State {
    fn live(&self) -> LiveMap {
        self.live.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn draw(&self) -> u64 {
        mix(self.draws.fetch_add(1, Ordering::Relaxed)) % 100
    }

    fn problem(&self, key: &str, message: Option<String>) {
        let mut p = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        match message {
            Some(m) => {
                if p.get(key) != Some(&m) {
                    eprintln!("warning: {key}: {m}");
                }
                p.insert(key.to_string(), m);
            }
            None => {
                p.remove(key);
            }
        }
    }

    /// Load a model file, unless it failed before and has not changed since.
    fn load(&self, path: &std::path::Path) -> Result<Arc<ModelFile>> {
        let stamp = std::fs::metadata(path).map(|m| (m.len(), m.modified().ok())).ok();
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some((len, time)), Some((l, t, why))) = (stamp, failed.get(path)) {
            if *l == len && *t == time {
                return Err(Error::Config(why.clone()));
            }
        }
        match ModelFile::load(path) {
            Ok(f) => {
                failed.remove(path);
                Ok(Arc::new(f))
            }
            Err(e) => {
                if let Some((len, time)) = stamp {
                    failed.insert(path.to_path_buf(), (len, time, e.to_string()));
                }
                Err(e)
            }
        }
    }

    /// Read endpoints, deployments and the registry again; load model versions that changed.
    /// A version that cannot be loaded (damaged file) leaves the one served before in place.
    fn refresh(&self) -> Result<()> {
        let old = self.live();
        let mut next = HashMap::new();
        for ep in self.store.endpoints()? {
            if ep.kind != "online"
                || !(self.opts.endpoints.is_empty() || self.opts.endpoints.contains(&ep.name))
            {
                continue;
            }
            let mut deployments = BTreeMap::new();
            for d in self.store.deployments(&ep.name)? {
                let key = format!("deployment {}/{}", ep.name, d.name);
                let before = old
                    .get(&ep.name)
                    .and_then(|l| l.deployments.get(&d.name))
                    .cloned();
                let resolved = ModelRef::parse(&d.model).and_then(|r| self.store.model(&r));
                let loaded = match resolved {
                    Ok(v) => match before
                        .filter(|b| b.model == v.name && b.version == v.version && b.reference == d.model)
                    {
                        Some(same) => Ok(same),
                        None => crate::store::blobs::materialize(self.store.as_ref(), &self.root, &v.path)
                            .and_then(|p| self.load(&p))
                            .map(|f| {
                                Arc::new(LiveDeployment {
                                    name: d.name.clone(),
                                    reference: d.model.clone(),
                                    model: v.name.clone(),
                                    version: v.version,
                                    file: f,
                                })
                            }),
                    },
                    Err(e) => Err(e),
                };
                match loaded {
                    Ok(l) => {
                        self.problem(&key, None);
                        deployments.insert(d.name.clone(), l);
                    }
                    Err(e) => {
                        self.problem(
                            &key,
                            Some(format!("{e}; still serving what it served before, if anything")),
                        );
                        if let Some(b) = old.get(&ep.name).and_then(|l| l.deployments.get(&d.name)) {
                            deployments.insert(d.name.clone(), b.clone());
                        }
                    }
                }
            }
            next.insert(
                ep.name.clone(),
                Arc::new(LiveEndpoint {
                    endpoint: ep,
                    deployments,
                }),
            );
        }
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        Ok(())
    }
}

/// A running server; stops when dropped.
pub struct Serving {
    service: crate::http::Service,
    state: Arc<State>,
}

impl Serving {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.service.addr()
    }

    /// What is served now: endpoint → deployments (name, model, version).
    pub fn served(&self) -> BTreeMap<String, Vec<(String, String, i64)>> {
        self.state
            .live()
            .iter()
            .map(|(n, l)| {
                let deps = l
                    .deployments
                    .values()
                    .map(|d| (d.name.clone(), d.model.clone(), d.version))
                    .collect();
                (n.clone(), deps)
            })
            .collect()
    }

    /// Block until stopped.
    pub fn wait(self) {
        self.service.wait();
    }

    /// A handle that stops the server from another thread (Ctrl-C): requests in flight finish.
    pub fn stopper(&mut self) -> impl FnOnce() + Send + 'static {
        self.service.stopper()
    }
}

/// Start serving the online endpoints of the workspace (`store`, files under `root`).
pub fn serve(store: Arc<dyn Backend>, root: PathBuf, opts: ServeOptions) -> Result<Serving> {
    for name in &opts.endpoints {
        let e = store.endpoint(name)?;
        if e.kind != "online" {
            return Err(Error::Config(format!(
                "endpoint '{name}' is a {} endpoint; `automl batch-score {name}` scores files with it",
                e.kind
            )));
        }
    }
    let state = Arc::new(State {
        store,
        root,
        opts: opts.clone(),
        live: RwLock::new(Arc::new(HashMap::new())),
        problems: Mutex::new(BTreeMap::new()),
        failed: Mutex::new(HashMap::new()),
        metrics: Metrics::default(),
        draws: AtomicU64::new(0),
    });
    state.refresh()?;
    let live = state.live();
    if live.is_empty() {
        return Err(Error::Config(
            "no online endpoint to serve (create one: automl endpoints create NAME, then automl deployments create NAME --name blue --model MODEL)"
                .into(),
        ));
    }
    if !opts.host.is_loopback() {
        if let Some(e) = live.values().find(|l| l.endpoint.auth != "key") {
            return Err(Error::Config(format!(
                "endpoint '{}' has no key auth; on {} (not loopback) every endpoint needs --auth key",
                e.endpoint.name, opts.host
            )));
        }
    }
    let app = axum::Router::new().fallback(handle).with_state(state.clone());
    // The refresher: the workspace read again every `refresh`.
    let r = state.clone();
    let refresher: crate::http::Task = Box::pin(async move {
        loop {
            tokio::time::sleep(r.opts.refresh).await;
            let r2 = r.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || r2.refresh()).await {
                r.problem("workspace", Some(e.to_string()));
            }
        }
    });
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
    let addr = SocketAddr::new(opts.host, opts.port);
    let service = crate::http::Service::start(addr, threads, "automl-serve", app, Some(refresher))?;
    Ok(Serving { service, state })
}

/// An answer with the headers that name what answered.
struct Scored {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    endpoint: String,
    deployment: String,
    model: String,
}

impl Scored {
    fn json(status: u16, v: &Value) -> Scored {
        Scored {
            status,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
            endpoint: String::new(),
            deployment: String::new(),
            model: String::new(),
        }
    }

    fn error(status: u16, message: &str) -> Scored {
        Scored::json(status, &json!({"error": message}))
    }

    fn text(status: u16, content_type: &'static str, text: String) -> Scored {
        Scored {
            content_type,
            body: text.into_bytes(),
            ..Scored::json(status, &Value::Null)
        }
    }

    fn from(mut self, endpoint: &str) -> Scored {
        self.endpoint = endpoint.to_string();
        self
    }
}

/// `/endpoints/NAME/score`, `/endpoints/NAME/invocations`, `/v2/models/NAME[/versions/V]/infer`:
/// the protocol, the endpoint and the model version asked for.
fn route(path: &str) -> Option<(Protocol, String, Option<String>)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["endpoints", name, "score"] => Some((Protocol::Azure, (*name).to_string(), None)),
        ["endpoints", name, "invocations"] => Some((Protocol::Mlflow, (*name).to_string(), None)),
        ["v2", "models", name, "infer"] => Some((Protocol::Kserve, (*name).to_string(), None)),
        ["v2", "models", name, "versions", v, "infer"] => {
            Some((Protocol::Kserve, (*name).to_string(), Some((*v).to_string())))
        }
        _ => None,
    }
}

async fn handle(
    axum::extract::State(st): axum::extract::State<Arc<State>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let t0 = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let method = parts.method.as_str().to_string();
    let header = |k: &str| {
        parts
            .headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let scored = match (method.as_str(), route(&path)) {
        ("POST", Some((protocol, endpoint, version))) => {
            // The endpoint and the key, from the headers alone, before the body is read.
            let live = st.live();
            match admit(&st, &live, &endpoint, header("authorization").as_deref()) {
                Err(s) => s,
                Ok(l) => {
                    let pin = header("azureml-model-deployment");
                    let ct = header("content-type").unwrap_or_default();
                    let (st2, ep) = (st.clone(), endpoint.clone());
                    // The time limit covers reading the body and scoring.
                    let work = async move {
                        match axum::body::to_bytes(body, st2.opts.max_body).await {
                            Err(_) => Scored::error(
                                413,
                                &format!(
                                    "the request body could not be read within {} bytes",
                                    st2.opts.max_body
                                ),
                            ),
                            Ok(bytes) => tokio::task::spawn_blocking(move || {
                                score(&st2, protocol, &l, pin, version, &ct, &bytes)
                            })
                            .await
                            .unwrap_or_else(|e| Scored::error(500, &format!("scoring failed: {e}"))),
                        }
                    };
                    match tokio::time::timeout(st.opts.timeout, work).await {
                        Ok(s) => s,
                        Err(_) => Scored::error(
                            408,
                            &format!(
                                "the request took longer than {:.3} s",
                                st.opts.timeout.as_secs_f64()
                            ),
                        ),
                    }
                    .from(&ep)
                }
            }
        }
        ("GET", _) => info(&st, &path),
        _ => Scored::error(404, &format!("no route {method} {path} (see GET /openapi.json)")),
    };
    // Series only for endpoints that exist: made-up names do not grow /metrics.
    if !scored.endpoint.is_empty() {
        st.metrics.observe(
            &scored.endpoint,
            &scored.deployment,
            scored.status,
            t0.elapsed().as_secs_f64(),
        );
    } else if route(&path).is_some() {
        st.metrics
            .observe("", "", scored.status, t0.elapsed().as_secs_f64());
    }
    respond(scored)
}

/// The live endpoint a request names, if its key (when it needs one) admits the request.
fn admit(
    st: &State,
    live: &LiveMap,
    endpoint: &str,
    auth: Option<&str>,
) -> std::result::Result<Arc<LiveEndpoint>, Scored> {
    let Some(l) = live.get(endpoint).cloned() else {
        return Err(Scored::error(
            404,
            &format!("no endpoint '{endpoint}' is served here"),
        ));
    };
    if l.endpoint.auth == "key" {
        if !keys::admits(&l.endpoint.keys, auth) {
            return Err(
                Scored::error(401, "a valid key is needed: Authorization: Bearer KEY").from(endpoint),
            );
        }
    } else if !st.opts.host.is_loopback() {
        return Err(Scored::error(
            403,
            "this endpoint has no key auth and the server is not on loopback",
        )
        .from(endpoint));
    }
    Ok(l)
}

fn respond(s: Scored) -> axum::response::Response {
    use axum::http::{header::CONTENT_TYPE, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    let status = StatusCode::from_u16(s.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, [(CONTENT_TYPE, s.content_type)], s.body).into_response();
    let h = r.headers_mut();
    if !s.deployment.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&s.deployment) {
            h.insert("azureml-model-deployment", v);
        }
    }
    if !s.model.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&s.model) {
            h.insert("x-automl-model", v);
        }
        h.insert("x-automl-device", HeaderValue::from_static("cpu"));
    }
    r
}

/// Pick the deployment: the pinned one, else by traffic percent.
fn choose(
    st: &State,
    l: &LiveEndpoint,
    pin: Option<&str>,
) -> std::result::Result<Arc<LiveDeployment>, Scored> {
    if let Some(p) = pin.filter(|p| !p.is_empty()) {
        return l.deployments.get(p).cloned().ok_or_else(|| {
            Scored::error(
                404,
                &format!(
                    "endpoint '{}' has no deployment '{p}' (azureml-model-deployment)",
                    l.endpoint.name
                ),
            )
        });
    }
    let draw = st.draw() as u32;
    let mut acc = 0;
    for (name, pct) in &l.endpoint.traffic {
        acc += pct;
        if draw < acc {
            if let Some(d) = l.deployments.get(name) {
                return Ok(d.clone());
            }
        }
    }
    Err(Scored::error(
        503,
        &format!(
            "endpoint '{}' has no loaded deployment taking traffic (automl endpoints update {} --traffic NAME=100)",
            l.endpoint.name, l.endpoint.name
        ),
    ))
}

fn score(
    st: &State,
    protocol: Protocol,
    l: &LiveEndpoint,
    pin: Option<String>,
    version: Option<String>,
    content_type: &str,
    body: &[u8],
) -> Scored {
    let endpoint = l.endpoint.name.as_str();
    let chosen = match &version {
        // KServe's /versions/V/: the deployment serving that version.
        Some(v) => l
            .deployments
            .values()
            .find(|d| d.version.to_string() == *v)
            .cloned()
            .ok_or_else(|| Scored::error(404, &format!("endpoint '{endpoint}' serves no version {v}"))),
        None => choose(st, l, pin.as_deref()),
    };
    let d = match chosen {
        Ok(d) => d,
        Err(s) => return s.from(endpoint),
    };
    let mut out = predict(protocol, &d, content_type, body);
    // Mirrored traffic: the same request to another deployment, its answer discarded.
    for (m, pct) in &l.endpoint.mirror {
        if *m == d.name || (st.draw() as u32) >= *pct {
            continue;
        }
        if let Some(md) = l.deployments.get(m).cloned() {
            st.metrics.mirrored(endpoint, m);
            let ct = content_type.to_string();
            let b = body.to_vec();
            if let Ok(h) = tokio::runtime::Handle::try_current() {
                h.spawn_blocking(move || drop(predict(protocol, &md, &ct, &b)));
            }
        }
    }
    out.endpoint = endpoint.to_string();
    out.deployment = d.name.clone();
    out.model = format!("{}:{}", d.model, d.version);
    out
}

fn predict(protocol: Protocol, d: &LiveDeployment, content_type: &str, body: &[u8]) -> Scored {
    let schema = &d.file.schema;
    let table = match formats::read(protocol, content_type, body, schema) {
        Ok(t) => t,
        Err((code, m)) => return Scored::error(code, &m),
    };
    let mut notes = Vec::new();
    match d.file.predict_table(&table, &mut notes) {
        Ok(pred) => Scored::json(
            200,
            &formats::answer(protocol, &d.model, &d.version.to_string(), schema, &pred),
        ),
        Err(e @ (Error::Schema(_) | Error::Data(_))) => Scored::error(400, &e.to_string()),
        Err(e) => Scored::error(500, &e.to_string()),
    }
}

/// GET routes: health, readiness, metrics, OpenAPI, KServe metadata.
fn info(st: &State, path: &str) -> Scored {
    let live = st.live();
    match path.trim_end_matches('/') {
        "/health" | "/v2/health/live" => Scored::text(200, "text/plain", "OK".into()),
        "/ready" | "/v2/health/ready" => {
            let problems = st.problems.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let endpoints: serde_json::Map<String, Value> = live
                .iter()
                .map(|(n, l)| {
                    let deps: serde_json::Map<String, Value> = l
                        .deployments
                        .values()
                        .map(|d| {
                            (
                                d.name.clone(),
                                json!({
                                    "model": d.model, "version": d.version, "reference": d.reference,
                                    "device": "cpu", "traffic": l.endpoint.traffic.get(&d.name).copied().unwrap_or(0),
                                    "mirror": l.endpoint.mirror.get(&d.name).copied().unwrap_or(0),
                                }),
                            )
                        })
                        .collect();
                    (n.clone(), json!({"auth": l.endpoint.auth, "deployments": deps}))
                })
                .collect();
            let ready = live.values().any(|l| !l.deployments.is_empty());
            Scored::json(
                if ready { 200 } else { 503 },
                &json!({"ready": ready, "endpoints": endpoints, "problems": problems}),
            )
        }
        "/metrics" => Scored::text(200, "text/plain; version=0.0.4", st.metrics.render()),
        "/openapi.json" => Scored::json(200, &openapi::document(&live)),
        p => {
            let parts: Vec<&str> = p.trim_matches('/').split('/').collect();
            match parts.as_slice() {
                ["v2", "models", name] | ["v2", "models", name, "ready"] => match live.get(*name) {
                    Some(l) => {
                        let versions: Vec<String> =
                            l.deployments.values().map(|d| d.version.to_string()).collect();
                        let inputs: Vec<Value> = l
                            .deployments
                            .values()
                            .next()
                            .map(|d| {
                                d.file
                                    .schema
                                    .used()
                                    .map(|f| json!({"name": f.name, "datatype": if f.kind == crate::data::FeatureKind::Numeric { "FP64" } else { "BYTES" }, "shape": [-1]}))
                                    .collect()
                            })
                            .unwrap_or_default();
                        Scored::json(
                            200,
                            &json!({"name": name, "versions": versions, "platform": "automl", "inputs": inputs, "ready": !l.deployments.is_empty()}),
                        )
                    }
                    None => Scored::error(404, &format!("no model '{name}' is served here")),
                },
                _ => Scored::error(404, &format!("no route GET {p} (see GET /openapi.json)")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_draws() {
        let r = |p: Protocol, v: Option<&str>| Some((p, "churn".to_string(), v.map(str::to_string)));
        assert_eq!(route("/endpoints/churn/score"), r(Protocol::Azure, None));
        assert_eq!(route("/endpoints/churn/invocations"), r(Protocol::Mlflow, None));
        assert_eq!(route("/v2/models/churn/infer"), r(Protocol::Kserve, None));
        assert_eq!(
            route("/v2/models/churn/versions/3/infer"),
            r(Protocol::Kserve, Some("3"))
        );
        assert_eq!(route("/endpoints/churn"), None);
        // Draws spread evenly: 90/10 within a point over 10k.
        let low = (0..10_000u64).filter(|i| mix(*i) % 100 < 90).count();
        assert!((8900..=9100).contains(&low), "{low}");
    }
}
