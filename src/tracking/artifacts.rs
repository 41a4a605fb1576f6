//! The `mlflow-artifacts` proxy: upload (PUT), download (GET) and listing of a run's artifacts,
//! kept in the workspace under `artifacts/<run>/mlflow/` and recorded as the run's artifacts. A
//! run's artifact URI is `mlflow-artifacts:/<experiment>/<run>/artifacts`.

use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};

use super::api::{self, store_err, Answer, Args, Reply};
use super::Shared;
use crate::store::{RunId, RunRecord};

/// `<experiment>/<run>/artifacts/<rel>` → (run, rel); `rel` may be empty.
fn split(path: &str) -> Result<(RunId, String), Reply> {
    let parts: Vec<&str> = path.trim_matches('/').splitn(4, '/').collect();
    match parts.as_slice() {
        [_, run, "artifacts", rel @ ..] => {
            let run = api::parse_run(run)?;
            Ok((run, rel.first().copied().unwrap_or("").to_string()))
        }
        [_, run] => Ok((api::parse_run(run)?, String::new())),
        _ => Err(Reply::missing(&format!(
            "'{path}' is not an artifact path of this endpoint (<experiment>/<run>/artifacts/<path>)"
        ))),
    }
}

/// A relative artifact path with no `..`, no root and no empty parts.
fn safe(rel: &str) -> Result<PathBuf, Reply> {
    let p = Path::new(rel);
    let ok = !rel.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(p.to_path_buf())
    } else {
        Err(Reply::bad(&format!(
            "artifact path '{rel}' is not a plain relative path"
        )))
    }
}

/// Where an artifact's recorded path lies (fetched into the local cache from a workspace that
/// keeps its files in the database).
/// A relative path that would leave the workspace is refused.
fn resolve(s: &Shared, recorded: &str) -> crate::Result<PathBuf> {
    let p = Path::new(recorded);
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        crate::store::blobs::materialize(s.store.as_ref(), &s.root, recorded)
    }
}

/// Requests under `/api/2.0/mlflow-artifacts/artifacts`.
pub fn handle(
    s: &Shared,
    caller: Option<RunId>,
    method: &str,
    rest: &str,
    query: &str,
    body: &[u8],
) -> Reply {
    let rest = api::decode(rest);
    let out = match method {
        "PUT" => upload(s, caller, &rest, body),
        "GET" if rest.trim_matches('/').is_empty() => {
            let path = api::query_pairs(query)
                .into_iter()
                .find(|(k, _)| k == "path")
                .map(|(_, v)| v)
                .unwrap_or_default();
            list(s, &path).map(|v| Reply::json(&v))
        }
        "GET" => download(s, &rest),
        _ => Err(Reply::error(
            404,
            "ENDPOINT_NOT_FOUND",
            &format!("automl's tracking endpoint does not serve {method} on artifacts"),
        )),
    };
    out.unwrap_or_else(|r| r)
}

fn upload(s: &Shared, caller: Option<RunId>, rest: &str, body: &[u8]) -> Result<Reply, Reply> {
    let (id, rel) = split(rest)?;
    let rel_path = safe(&rel)?;
    api::writable(s, &Args::caller(caller), id)?;
    let stored = Path::new("artifacts")
        .join(id.to_string())
        .join("mlflow")
        .join(&rel_path);
    let file = s.root.join(&stored);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Reply::error(
                500,
                "INTERNAL_ERROR",
                &format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    }
    crate::model::write_atomic(&file, body)
        .map_err(|e| Reply::error(500, "INTERNAL_ERROR", &e.to_string()))?;
    s.store
        .add_artifact_file(id, &rel, &stored.to_string_lossy(), &file)
        .map_err(store_err)?;
    Ok(Reply::json(&json!({})))
}

fn download(s: &Shared, rest: &str) -> Result<Reply, Reply> {
    let (id, rel) = split(rest)?;
    let run = s.store.run(id).map_err(store_err)?;
    let (_, recorded) = run
        .artifacts
        .iter()
        .find(|(n, _)| *n == rel)
        .ok_or_else(|| Reply::missing(&format!("run {id} has no artifact '{rel}'")))?;
    let path = resolve(s, recorded)
        .map_err(|e| Reply::missing(&format!("artifact '{rel}' of run {id} cannot be read: {e}")))?;
    let body = std::fs::read(&path).map_err(|e| {
        Reply::missing(&format!(
            "artifact '{rel}' of run {id} cannot be read ({}): {e}",
            path.display()
        ))
    })?;
    Ok(Reply {
        status: 200,
        content_type: "application/octet-stream",
        body,
    })
}

/// The entries of a run's artifacts directly under `sub`: (name relative to `sub`, is_dir, size).
fn children(s: &Shared, run: &RunRecord, sub: &str) -> Vec<(String, bool, Option<u64>)> {
    let prefix = if sub.is_empty() {
        String::new()
    } else {
        format!("{}/", sub.trim_matches('/'))
    };
    let mut out: Vec<(String, bool, Option<u64>)> = Vec::new();
    for (name, recorded) in &run.artifacts {
        let Some(tail) = name.strip_prefix(&prefix) else {
            continue;
        };
        match tail.split_once('/') {
            Some((dir, _)) if !out.iter().any(|(n, d, _)| *d && n == dir) => {
                out.push((dir.to_string(), true, None));
            }
            Some(_) => {}
            None if !tail.is_empty() => {
                let size = resolve(s, recorded)
                    .ok()
                    .and_then(|p| std::fs::metadata(p).ok())
                    .map(|m| m.len());
                out.push((tail.to_string(), false, size));
            }
            None => {}
        }
    }
    out.sort();
    out
}

fn file_json(path: String, dir: bool, size: Option<u64>) -> Value {
    let mut f = json!({"path": path, "is_dir": dir});
    if let Some(n) = size {
        f["file_size"] = json!(n);
    }
    f
}

/// `GET mlflow-artifacts/artifacts?path=<experiment>/<run>/artifacts/<sub>`: base names.
fn list(s: &Shared, path: &str) -> Answer {
    let (id, sub) = split(path)?;
    let run = s.store.run(id).map_err(store_err)?;
    let files: Vec<Value> = children(s, &run, &sub)
        .into_iter()
        .map(|(n, d, z)| file_json(n, d, z))
        .collect();
    Ok(json!({"files": files}))
}

/// `GET artifacts/list?run_id=…&path=…`: paths relative to the run's artifact root.
pub fn list_run(s: &Shared, a: &Args) -> Answer {
    let id = api::parse_run(&a.need("run_id")?)?;
    let sub = a.text("path").unwrap_or_default();
    let run = s.store.run(id).map_err(store_err)?;
    let prefix = if sub.is_empty() {
        String::new()
    } else {
        format!("{}/", sub.trim_matches('/'))
    };
    let files: Vec<Value> = children(s, &run, &sub)
        .into_iter()
        .map(|(n, d, z)| file_json(format!("{prefix}{n}"), d, z))
        .collect();
    let exp = api::experiment_id(s, &run.experiment);
    Ok(json!({"root_uri": format!("mlflow-artifacts:/{exp}/{id}/artifacts"), "files": files}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_paths_are_checked() {
        assert_eq!(
            split("/1/7/artifacts/model/m.pkl").unwrap(),
            (7, "model/m.pkl".into())
        );
        assert_eq!(split("1/7/artifacts").unwrap(), (7, String::new()));
        assert!(split("1").is_err());
        assert!(split("/1/x/artifacts/a").is_err());
        assert!(safe("a/b.txt").is_ok());
        assert!(safe("../x").is_err());
        assert!(safe("/etc/passwd").is_err());
        assert!(safe("a/../../x").is_err());
        assert!(safe("").is_err());
    }
}
