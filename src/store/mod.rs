//! The experiment store: experiments, runs with child runs (trials), params, step metrics, tags,
//! artifacts and an environment snapshot, behind the [`Store`] trait.
//!
//! [`SqlStore`] implements every store trait once, over SQLite (a workspace folder with one
//! database file and an `artifacts/` tree; `SqlStore::in_memory` for tests and library users) or
//! PostgreSQL (`postgres://…`: artifacts are database blobs, so workers on many machines share
//! one workspace without a shared filesystem). Every state change is one transaction.

pub mod blobs;
pub mod claims;
pub mod edits;
pub mod endpoints;
pub mod heartbeat;
pub mod keys;
pub mod postgres;
pub mod registry;
mod runs;
pub mod schema;
pub mod sql;
mod sqlite;
pub mod study;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use blobs::Blobs;
pub use claims::{Claim, Claims, Ending, WorkerInfo};
pub use edits::{Edits, ExportEntry};
pub use endpoints::{Deployment, Endpoint, Endpoints, Keys};
pub use registry::{DatasetVersion, ModelRef, ModelVersion, Registry};
pub use runs::SqlStore;
pub use study::{Layout, RunStudy, Sharing};

use crate::error::Result;

/// Run identifier (unique within a store).
pub type RunId = i64;

/// State of a run or trial (the crate's one state enum).
pub use crate::state::TrialState;

/// An experiment: a named group of runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Identifier.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Creation time (seconds since the Unix epoch).
    pub created: f64,
    /// Number of top-level runs.
    pub runs: i64,
}

/// What to record when a run starts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewRun {
    /// Experiment name (created when new).
    pub experiment: String,
    /// Parent run for a child run (trial).
    pub parent: Option<RunId>,
    /// Display name, e.g. the learner of a trial.
    pub name: String,
    /// Initial status.
    pub status: Option<TrialState>,
    /// Parameters, as JSON values.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Environment snapshot (top-level runs).
    pub environment: serde_json::Value,
}

/// One metric value at a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Metric name.
    pub key: String,
    /// Value.
    pub value: f64,
    /// Step (fold, boosting round, epoch…).
    pub step: i64,
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
}

impl MetricPoint {
    /// `value` of `key` at `step`, stamped with the current time.
    pub fn now(key: &str, step: i64, value: f64) -> MetricPoint {
        MetricPoint {
            key: key.to_string(),
            value,
            step,
            timestamp: now(),
        }
    }
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Identifier.
    pub id: RunId,
    /// Experiment name.
    pub experiment: String,
    /// Parent run, for trials.
    pub parent: Option<RunId>,
    /// Display name.
    pub name: String,
    /// Current state.
    pub status: TrialState,
    /// Start time.
    pub started: f64,
    /// End time, once ended.
    pub ended: Option<f64>,
    /// Parameters.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Latest value of each metric.
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Tags.
    pub tags: serde_json::Map<String, serde_json::Value>,
    /// Error text of a failed run.
    pub error: Option<String>,
    /// Environment snapshot.
    pub environment: serde_json::Value,
    /// Artifact names and paths relative to the workspace.
    pub artifacts: Vec<(String, String)>,
    /// Registered dataset version the run trained on (`name:version`), when known.
    pub dataset: Option<String>,
}

impl RunRecord {
    /// Seconds from start to end (or to now while running).
    pub fn duration(&self) -> f64 {
        self.ended.unwrap_or_else(now) - self.started
    }
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only runs of this experiment.
    pub experiment: Option<String>,
    /// Only children of this run (`None`: top-level runs only, unless `all_levels`).
    pub parent: Option<RunId>,
    /// Include runs at every level.
    pub all_levels: bool,
    /// Only runs in this state.
    pub status: Option<TrialState>,
}

/// Storage of experiments, runs, metrics and artifacts.
pub trait Store: Send + Sync {
    /// Start a run (creating its experiment when needed).
    fn create_run(&self, run: &NewRun) -> Result<RunId>;
    /// Record a run's end state (and error text).
    fn finish_run(&self, id: RunId, status: TrialState, error: Option<&str>) -> Result<()>;
    /// Append metric values.
    fn log_metrics(&self, id: RunId, points: &[MetricPoint]) -> Result<()>;
    /// Set tags (overwriting existing keys).
    fn set_tags(&self, id: RunId, tags: &[(&str, &str)]) -> Result<()>;
    /// Record an artifact's path relative to the workspace.
    fn add_artifact(&self, id: RunId, name: &str, path: &str) -> Result<()>;
    /// Record the artifact written at `file` (workspace path `path`); a backend that keeps the
    /// workspace's files (PostgreSQL) stores its bytes in the same transaction.
    fn add_artifact_file(&self, id: RunId, name: &str, path: &str, file: &Path) -> Result<()> {
        let _ = file;
        self.add_artifact(id, name, path)
    }
    /// Log a run's final metrics and end state in one transaction.
    fn complete_run(
        &self,
        id: RunId,
        points: &[MetricPoint],
        status: TrialState,
        error: Option<&str>,
    ) -> Result<()>;
    /// Put an ended run back to `running` (resuming it).
    fn reopen_run(&self, id: RunId) -> Result<()>;
    /// One run.
    fn run(&self, id: RunId) -> Result<RunRecord>;
    /// Runs matching a filter, oldest first.
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>>;
    /// Every value of every metric of a run, by key then step.
    fn metric_history(&self, id: RunId) -> Result<Vec<MetricPoint>>;
    /// All experiments.
    fn experiments(&self) -> Result<Vec<Experiment>>;
    /// Mark runs left `running` by a dead process as `killed`; returns how many.
    fn mark_running_killed(&self, ids: &[RunId]) -> Result<usize>;
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A complete backend: run store plus registry. The workspace holds one behind this trait, so a
/// PostgreSQL backend can replace SQLite without touching callers.
pub trait Backend: Store + Registry + Edits + Endpoints + Blobs + Claims {}
impl<T: Store + Registry + Edits + Endpoints + Blobs + Claims> Backend for T {}

/// Default workspace folder when neither `--workspace` nor `AUTOML_WORKSPACE` is given.
pub const DEFAULT_WORKSPACE: &str = "automl-workspace";

/// A workspace: a folder (`automl.db` plus `artifacts/<run-id>/…`), or a PostgreSQL database
/// (`postgres://…`) whose files are blobs, cached in a local folder.
pub struct Workspace {
    /// The folder holding the workspace's files (for PostgreSQL: this machine's cache of them).
    pub root: PathBuf,
    /// Its store.
    pub store: std::sync::Arc<dyn Backend>,
    /// The folder, or the database URL without its password.
    pub location: String,
}

/// This machine's cache folder for the files of the PostgreSQL workspace `label`:
/// `$AUTOML_CACHE`, else `$XDG_CACHE_HOME/automl`, else `~/.cache/automl`, then `workspaces/<hash>`.
pub fn cache_folder(label: &str) -> PathBuf {
    use sha2::Digest;
    let base = std::env::var_os("AUTOML_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("automl")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/automl")))
        .unwrap_or_else(|| std::env::temp_dir().join("automl-cache"));
    let digest = sha2::Sha256::digest(label.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    base.join("workspaces").join(hex)
}

impl Workspace {
    /// Pick the workspace: the given folder or URL, else `AUTOML_WORKSPACE`, else
    /// `./automl-workspace`.
    pub fn locate(given: Option<&Path>) -> PathBuf {
        given
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("AUTOML_WORKSPACE").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_WORKSPACE))
    }

    /// The PostgreSQL URL when `at` is one.
    pub fn url(at: &Path) -> Option<&str> {
        at.to_str().filter(|s| postgres::is_url(s))
    }

    /// Whether a workspace exists at `at` (a URL counts: its server answers when opened).
    pub fn exists(at: &Path) -> bool {
        Self::url(at).is_some() || at.join("automl.db").exists()
    }

    /// Open (creating on first use) the workspace at `at`: a folder, or a PostgreSQL URL.
    pub fn open(at: &Path) -> Result<Workspace> {
        if let Some(url) = Self::url(at) {
            let store = SqlStore::connect(url)?;
            let location = store.label().to_string();
            let root = cache_folder(&location);
            std::fs::create_dir_all(root.join("artifacts")).map_err(|e| crate::Error::io(&root, e))?;
            return Ok(Workspace {
                root,
                store: std::sync::Arc::new(store),
                location,
            });
        }
        let root = at;
        std::fs::create_dir_all(root.join("artifacts")).map_err(|e| crate::Error::io(root, e))?;
        let store = std::sync::Arc::new(SqlStore::open(&root.join("automl.db"))?);
        Ok(Workspace {
            root: root.to_path_buf(),
            store,
            location: root.display().to_string(),
        })
    }

    /// The local file for workspace path `rel` (fetched from the database when it keeps the
    /// workspace's files and this machine has no copy yet).
    pub fn file(&self, rel: &str) -> Result<PathBuf> {
        blobs::materialize(self.store.as_ref(), &self.root, rel)
    }

    /// Store the local file for workspace path `rel` in the database (when it keeps files).
    pub fn publish(&self, rel: &str) -> Result<()> {
        blobs::publish(self.store.as_ref(), &self.root, rel)
    }

    /// Register run `id`'s model artifact as the next version of `name`, with tags and an alias;
    /// returns the new version.
    pub fn register_run_model(
        &self,
        name: &str,
        id: RunId,
        description: &str,
        tags: &[(String, String)],
        alias: Option<&str>,
    ) -> Result<i64> {
        let run = self.store.run(id)?;
        let path = run
            .artifacts
            .iter()
            .find(|(n, _)| n == "model")
            .map(|(_, p)| p.clone())
            .ok_or_else(|| {
                crate::Error::Store(format!("run {id} has no model artifact (did it complete?)"))
            })?;
        let metrics = serde_json::Value::Object(run.metrics.clone());
        let v = self
            .store
            .register_model(name, id, &path, description, &metrics)?;
        if !tags.is_empty() {
            self.store.tag_model(name, v, tags)?;
        }
        if let Some(a) = alias {
            self.store.set_alias(name, a, v)?;
        }
        Ok(v)
    }

    /// Folder for a run's artifacts (created).
    pub fn artifact_dir(&self, id: RunId) -> Result<PathBuf> {
        let d = self.root.join("artifacts").join(id.to_string());
        std::fs::create_dir_all(&d).map_err(|e| crate::Error::io(&d, e))?;
        Ok(d)
    }
}

/// The throwaway PostgreSQL server of the tests (shared with `tests/`).
#[cfg(test)]
#[path = "../../tests/support/postgres.rs"]
pub(crate) mod pgtest;

/// Run each named test function (taking a fresh [`SqlStore`]) on SQLite in memory and on a new
/// database of the test PostgreSQL server, as two tests `NAME::sqlite` and `NAME::postgres`.
#[cfg(test)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(crate::store::SqlStore::in_memory().unwrap())
            }
            #[test]
            fn postgres() {
                let url = crate::store::pgtest::database();
                super::$name(crate::store::SqlStore::connect(&url).unwrap())
            }
        }
    )* };
}
#[cfg(test)]
pub(crate) use on_both_backends;
