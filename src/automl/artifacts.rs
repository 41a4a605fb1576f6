//! What a run leaves in a workspace besides its model and trials: content hashes of data files,
//! the recorded environment (command line, data file and hash, git commit), the plain-text
//! `run.log`, the report's `insight.json`, a copy of the predictions, the link to a registered
//! dataset version, and registered dataset copies themselves.
//!
//! Each function takes plain values and returns what a caller may show; none prints.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::data::{Dataset, Table};
use crate::error::{Error, Result};
use crate::model::write_atomic;
use crate::store::{registry::check_model_name, DatasetVersion, RunId, Workspace};
use crate::trials::PipelineTrial;

use super::RunSummary;

/// FNV-1a 64 of bytes, as 16 hex digits (stable across platforms and Rust versions): the content
/// hash of recorded and registered data files.
pub fn bytes_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// [`bytes_hash`] of a file's content; `None` when the file cannot be read.
pub fn file_hash(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|b| bytes_hash(&b))
}

/// The current git commit (`git rev-parse HEAD`) when run inside a repository with git installed.
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The environment facts recorded with a run: `args` (the command line, which `--resume` reuses),
/// `data_file`, `data_hash` and `git_commit` (the current one, see [`git_commit`]).
pub fn run_environment(args: &[String], data_file: &Path, data_hash: Option<&str>) -> Map<String, Value> {
    let mut env = Map::new();
    env.insert("args".into(), json!(args));
    // Absolute, so a worker started elsewhere on this machine finds it.
    let absolute = data_file
        .canonicalize()
        .unwrap_or_else(|_| data_file.to_path_buf());
    env.insert("data_file".into(), json!(absolute.display().to_string()));
    env.insert("data_hash".into(), json!(data_hash));
    env.insert("git_commit".into(), json!(git_commit()));
    env
}

/// The experiment a training file's runs go to by default: the file's name without extension, or
/// its folder's name for generic names (`train.csv`, `data.parquet`, …).
pub fn default_experiment(train: &Path) -> String {
    let stem = train
        .file_stem()
        .map_or("default".into(), |s| s.to_string_lossy().to_string());
    let generic = ["train", "training", "data", "dataset"].contains(&stem.to_ascii_lowercase().as_str());
    let parent = train.canonicalize().ok().and_then(|p| {
        p.parent()
            .and_then(|d| d.file_name())
            .map(|d| d.to_string_lossy().to_string())
    });
    match (generic, parent) {
        (true, Some(dir)) => dir,
        _ => stem,
    }
}

/// Link run `id` to the registered dataset version whose content hash is `data_hash`, if there
/// is one (a failed look-up links nothing); returns the linked version.
pub fn link_dataset(ws: &Workspace, id: RunId, data_hash: &str) -> Result<Option<DatasetVersion>> {
    let Some(d) = ws.store.dataset_by_hash(data_hash).ok().flatten() else {
        return Ok(None);
    };
    ws.store.set_run_dataset(id, &d.name, d.version)?;
    Ok(Some(d))
}

/// The plain-text log of a run of `data` read from `data_file`: schema, validation, warnings,
/// every failed trial, and the best trial.
pub fn run_log(data_file: &Path, data: &Dataset, run: &RunSummary) -> String {
    let mut log = format!(
        "{}: {}\nvalidation: {}\n",
        data_file.display(),
        data.schema.summary(data.n_rows()),
        run.validation
    );
    for w in &run.warnings {
        log.push_str(&format!("warning: {w}\n"));
    }
    for t in run.trials.iter().filter(|t| t.error.is_some()) {
        log.push_str(&format!(
            "trial {} {} failed: {}\n",
            t.id,
            t.learner(),
            t.error.as_deref().unwrap_or("")
        ));
    }
    log.push_str(&format!(
        "{} trials in {:.1}s; best trial {} {} {} = {:.6}\n",
        run.trials.len(),
        run.search_secs,
        run.best_trial,
        run.best.config.learner,
        run.metric.name(),
        run.best.cv_score
    ));
    log
}

/// Write `bytes` as `artifacts/<id>/<file>` of the workspace and record it as run `id`'s artifact
/// `name`; returns the written file.
fn save_artifact(ws: &Workspace, id: RunId, name: &str, file: &str, bytes: &[u8]) -> Result<PathBuf> {
    let path = ws.artifact_dir(id)?.join(file);
    write_atomic(&path, bytes)?;
    ws.store
        .add_artifact_file(id, name, &format!("artifacts/{id}/{file}"), &path)?;
    Ok(path)
}

/// Write a run's log (see [`run_log`]) as `artifacts/<id>/run.log`, recorded as artifact `log`;
/// returns the written file.
pub fn save_run_log(ws: &Workspace, id: RunId, log: &str) -> Result<PathBuf> {
    save_artifact(ws, id, "log", "run.log", log.as_bytes())
}

/// Write a run's report insight as `artifacts/<id>/insight.json`, recorded as artifact `insight`
/// (the HTML report renders it again later); returns the written file. A value that cannot be
/// serialised is an error.
pub fn save_insight<T: Serialize + ?Sized>(ws: &Workspace, id: RunId, insight: &T) -> Result<PathBuf> {
    let text = serde_json::to_string(insight)
        .map_err(|e| Error::Config(format!("cannot serialise the run's insight: {e}")))?;
    save_artifact(ws, id, "insight", "insight.json", text.as_bytes())
}

/// Copy a predictions file into the workspace as `artifacts/<id>/predictions.csv`, recorded as
/// artifact `predictions`; returns the copy.
pub fn save_predictions(ws: &Workspace, id: RunId, predictions: &Path) -> Result<PathBuf> {
    let dest = ws.artifact_dir(id)?.join("predictions.csv");
    std::fs::copy(predictions, &dest).map_err(|e| Error::io(&dest, e))?;
    ws.store.add_artifact_file(
        id,
        "predictions",
        &format!("artifacts/{id}/predictions.csv"),
        &dest,
    )?;
    Ok(dest)
}

/// A data file registered by [`register_dataset`].
#[derive(Debug, Clone)]
pub struct RegisteredDataset {
    /// The version holding the content (new, or the existing one with the same hash).
    pub version: DatasetVersion,
    /// Whether this registration created the version.
    pub new: bool,
    /// Rows of the table.
    pub rows: usize,
}

/// Register the CSV or Parquet `file` as the next version of dataset `name` in the workspace at
/// `root` (opened, and created on first use, only once the file and the name are known good). A
/// copy is kept under `datasets/<name>/<hash>/`, written before the version row; content already
/// registered keeps its version.
pub fn register_dataset(root: &Path, name: &str, file: &Path) -> Result<RegisteredDataset> {
    let table = Table::read(file)?;
    let profile = json!({
        "rows": table.n_rows,
        "columns": table.columns.iter().map(|c| json!({
            "name": c.name, "type": c.raw, "missing": c.missing(), "distinct": c.distinct()
        })).collect::<Vec<_>>(),
    });
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    let hash = bytes_hash(&bytes);
    check_model_name(name)?;
    let ws = Workspace::open(root)?;
    let fname = file
        .file_name()
        .map_or("data".into(), |f| f.to_string_lossy().to_string());
    // The copy lands (atomically, under its content hash) before the version row is written.
    let rel = format!("datasets/{name}/{hash}/{fname}");
    let dest = ws.root.join(&rel);
    if !dest.exists() {
        write_atomic(&dest, &bytes)?;
    }
    ws.publish(&rel)?;
    let (version, new) = ws.store.register_dataset(name, &hash, &rel, &profile)?;
    Ok(RegisteredDataset {
        version,
        new,
        rows: table.n_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        // FNV-1a 64 test vectors.
        assert_eq!(bytes_hash(b""), "cbf29ce484222325");
        assert_eq!(bytes_hash(b"a"), "af63dc4c8601ec8c");
        assert_eq!(bytes_hash(b"foobar"), "85944171f73967e8");
    }

    #[test]
    fn generic_training_file_names_take_their_folder_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sub = dir.path().join("penguins");
        std::fs::create_dir_all(&sub).expect("folder");
        let train = sub.join("train.csv");
        std::fs::write(&train, "a\n1\n").expect("file");
        assert_eq!(default_experiment(&train), "penguins");
        assert_eq!(default_experiment(Path::new("sales_2024.csv")), "sales_2024");
    }

    #[test]
    fn the_environment_records_the_command_line_and_data() {
        let env = run_environment(&["automl".into(), "run".into()], Path::new("d.csv"), Some("ab"));
        assert_eq!(env["args"], json!(["automl", "run"]));
        assert_eq!(env["data_file"], json!("d.csv"));
        assert_eq!(env["data_hash"], json!("ab"));
        assert!(env.contains_key("git_commit"));
    }
}
