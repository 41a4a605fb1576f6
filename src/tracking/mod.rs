//! The MLflow tracking REST API over a workspace, so MLflow clients read and write automl runs.
//!
//! Two scopes share one implementation (module `api`):
//! - [`Scope::Sweep`]: while `automl sweep` runs, a loopback endpoint with a random token. Each
//!   trial's program gets `MLFLOW_TRACKING_URI`, `MLFLOW_TRACKING_TOKEN`, `MLFLOW_RUN_ID` (its
//!   child run) and `MLFLOW_EXPERIMENT_ID`; what it logs lands on its trial, and the primary metric
//!   reaches the trial like a metric line, so early termination judges it ([`SweepTracker`]).
//!   Each trial has its own token: a request can write only its own trial's run (and runs nested
//!   under it), and nothing once the trial ended. A run the script creates without a parent
//!   (after `mlflow.autolog()` ended the trial's run, say) is the trial's run again.
//! - [`Scope::Workspace`]: `automl server`, every run of the workspace, read and write, with the
//!   registry's models, versions and aliases readable.
//!
//! Routes are the MLflow 2.x REST routes the Python client uses (`/api/2.0/mlflow/...` and the
//! `mlflow-artifacts` proxy). Handlers are synchronous store calls run on tokio's blocking pool.

mod api;
mod artifacts;
pub mod export;
mod logged;
mod models;
mod search;
mod writes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::command::{ReportSink, Tracker};
use crate::error::{Error, Result};
use crate::store::{Backend, RunId, RunStudy};

/// Largest request body accepted (artifacts included).
pub const MAX_BODY: usize = 512 * 1024 * 1024;

/// Who may use the endpoint.
pub enum Auth {
    /// Anyone who can connect (loopback only).
    Open,
    /// `Authorization: Bearer KEY` where SHA-256(KEY) is this digest.
    Key([u8; 32]),
}

impl Auth {
    /// Key auth for `key`.
    pub fn key(key: &str) -> Auth {
        Auth::Key(digest(key))
    }

    /// Whether the `Authorization` header value admits the request (constant-time comparison of
    /// digests).
    fn admits(&self, header: Option<&str>) -> bool {
        match self {
            Auth::Open => true,
            Auth::Key(want) => {
                let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
                    return false;
                };
                ct_eq(&digest(token.trim()), want)
            }
        }
    }
}

/// Equality of two byte strings in time that depends on their length only (secrets' digests).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// A random key or token: 32 bytes from the operating system, as hex.
pub fn random_key() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| Error::Config(format!("no random bytes from the system: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A running trial of a sweep: its id, where its reports go, and the digest of its own token.
pub struct Attached {
    trial: usize,
    sink: ReportSink,
    token: [u8; 32],
}

/// The running trials of a sweep the endpoint serves.
pub struct SweepScope {
    /// The study giving each trial's child run.
    pub study: Arc<RunStudy>,
    /// The sweep's primary metric: reported to the trial rather than stored directly.
    pub primary: String,
    attached: Mutex<HashMap<RunId, Attached>>,
}

impl SweepScope {
    fn attached(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, Attached>> {
        self.attached.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The run of the running trial whose token the `Authorization` header carries. Each trial
    /// has its own token, so a request names its trial, and a trial that ended (or a process it
    /// left behind) can write nothing more.
    fn caller(&self, header: Option<&str>) -> Option<RunId> {
        let token = header?.strip_prefix("Bearer ")?.trim();
        let got = digest(token);
        self.attached()
            .iter()
            .find(|(_, a)| ct_eq(&got, &a.token))
            .map(|(run, _)| *run)
    }

    /// Where trial run `run`'s primary-metric reports go.
    fn sink(&self, run: RunId) -> Option<ReportSink> {
        self.attached().get(&run).map(|a| a.sink.clone())
    }
}

/// What the endpoint serves.
pub enum Scope {
    /// The trials of one running sweep.
    Sweep(SweepScope),
    /// The whole workspace.
    Workspace,
}

/// State shared by the handlers.
pub struct Shared {
    store: Arc<dyn Backend>,
    root: PathBuf,
    auth: Auth,
    scope: Scope,
}

/// A running endpoint; stops when dropped.
pub struct Server {
    service: crate::http::Service,
    shared: Arc<Shared>,
}

impl Server {
    /// Serve `scope` of the workspace (`store`, artifacts under `root`) on `addr` (port 0: any
    /// free port) with `auth`.
    pub fn start(
        store: Arc<dyn Backend>,
        root: PathBuf,
        scope: Scope,
        auth: Auth,
        addr: SocketAddr,
    ) -> Result<Server> {
        let shared = Arc::new(Shared {
            store,
            root,
            auth,
            scope,
        });
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let service = crate::http::Service::start(addr, 2, "automl-tracking", app, None)?;
        Ok(Server { service, shared })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.service.addr()
    }

    /// The tracking URI clients use (`http://HOST:PORT`).
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Block until the server ends (stopped from another thread via [`Server::stopper`]).
    pub fn wait(self) {
        self.service.wait();
    }

    /// A handle stopping the server from another thread (Ctrl-C).
    pub fn stopper(&mut self) -> impl FnOnce() + Send + 'static {
        self.service.stopper()
    }
}

/// Largest body of a request other than an artifact upload.
pub const MAX_JSON: usize = 16 * 1024 * 1024;

/// Who may act: `Ok(None)` on the workspace endpoint, `Ok(Some(trial run))` on a sweep's.
fn admit(shared: &Shared, header: Option<&str>) -> std::result::Result<Option<RunId>, api::Reply> {
    match &shared.scope {
        Scope::Workspace if shared.auth.admits(header) => Ok(None),
        Scope::Workspace => Err(api::Reply::error(
            401,
            "UNAUTHENTICATED",
            "a valid key is needed (Authorization: Bearer KEY)",
        )),
        Scope::Sweep(scope) => scope.caller(header).map(Some).ok_or_else(|| {
            api::Reply::error(
                401,
                "UNAUTHENTICATED",
                "only a running trial of this sweep may use its endpoint (MLFLOW_TRACKING_TOKEN)",
            )
        }),
    }
}

async fn handle(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    let text = |k: axum::http::HeaderName| parts.headers.get(k).and_then(|v| v.to_str().ok());
    // Who asks, before anything is read.
    let caller = match admit(&shared, text(axum::http::header::AUTHORIZATION)) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    // A JSON API: a POST of another type (what a web page may send without asking) is refused.
    let json = text(axum::http::header::CONTENT_TYPE).is_some_and(|t| t.starts_with("application/json"));
    if parts.method == axum::http::Method::POST && !json {
        return api::Reply::error(
            415,
            "INVALID_PARAMETER_VALUE",
            "POST bodies must be application/json",
        )
        .into_response();
    }
    let limit = if parts.method == axum::http::Method::PUT {
        MAX_BODY
    } else {
        MAX_JSON
    };
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            return api::Reply::error(
                413,
                "INVALID_PARAMETER_VALUE",
                &format!("cannot read the body (at most {limit} bytes): {e}"),
            )
            .into_response()
        }
    };
    let reply = tokio::task::spawn_blocking(move || {
        api::dispatch(
            &shared,
            caller,
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query().unwrap_or(""),
            &body,
        )
    })
    .await
    .unwrap_or_else(|e| api::Reply::error(500, "INTERNAL_ERROR", &format!("the handler failed: {e}")));
    reply.into_response()
}

impl axum::response::IntoResponse for api::Reply {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.status)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(axum::http::header::CONTENT_TYPE, self.content_type)],
            self.body,
        )
            .into_response()
    }
}

/// The sweep side of the endpoint: attaches each trial's child run while it runs.
pub struct SweepTracker {
    server: Server,
    experiment: String,
}

impl SweepTracker {
    /// Serve the trials of the sweep recorded by `study` on a loopback port with a random token.
    pub fn start(
        store: Arc<dyn Backend>,
        root: PathBuf,
        study: Arc<RunStudy>,
        primary: &str,
    ) -> Result<SweepTracker> {
        let parent = store.run(study.parent())?;
        let experiment = store
            .experiments()?
            .into_iter()
            .find(|e| e.name == parent.experiment)
            .map(|e| e.id.to_string())
            .unwrap_or_default();
        let scope = Scope::Sweep(SweepScope {
            study,
            primary: primary.to_string(),
            attached: Mutex::new(HashMap::new()),
        });
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        // Requests are admitted by the per-trial tokens (SweepScope::caller).
        let server = Server::start(store, root, scope, Auth::Open, addr)?;
        Ok(SweepTracker { server, experiment })
    }

    /// The endpoint's URI.
    pub fn uri(&self) -> String {
        self.server.uri()
    }
}

impl Tracker for SweepTracker {
    fn attach(&self, trial: usize, sink: ReportSink) -> std::result::Result<Vec<(String, String)>, String> {
        let Scope::Sweep(scope) = &self.server.shared.scope else {
            return Err("the tracking endpoint does not serve a sweep".into());
        };
        let run = scope
            .study
            .run_of(trial)
            .ok_or_else(|| format!("trial {trial} has no run in the workspace"))?;
        let token = random_key().map_err(|e| e.to_string())?;
        scope.attached().insert(
            run,
            Attached {
                trial,
                sink,
                token: digest(&token),
            },
        );
        Ok(vec![
            ("MLFLOW_TRACKING_URI".into(), self.uri()),
            ("MLFLOW_TRACKING_TOKEN".into(), token),
            ("MLFLOW_RUN_ID".into(), run.to_string()),
            ("MLFLOW_EXPERIMENT_ID".into(), self.experiment.clone()),
        ])
    }

    fn detach(&self, trial: usize) {
        if let Scope::Sweep(scope) = &self.server.shared.scope {
            scope.attached().retain(|_, a| a.trial != trial);
        }
    }

    fn secret_vars(&self) -> &[&str] {
        &["MLFLOW_TRACKING_TOKEN"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_by_digest() {
        let a = Auth::key("secret");
        assert!(a.admits(Some("Bearer secret")));
        assert!(!a.admits(Some("Bearer secreT")));
        assert!(!a.admits(Some("secret")));
        assert!(!a.admits(None));
        assert!(Auth::Open.admits(None));
        let k = random_key().unwrap();
        assert_eq!(k.len(), 64);
        assert_ne!(k, random_key().unwrap());
    }
}
