//! The model registry, read side: registered models, their versions, tags and aliases, in
//! MLflow's shapes. Models are registered with `automl models register` (or `--register`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::api::{self, store_err, Answer, Args, Reply};
use super::Shared;
use crate::store::{ModelRef, ModelVersion};

/// MLflow's model version object.
pub fn version_json(s: &Shared, v: &ModelVersion) -> Value {
    let exp = api::experiment_of_run(s, v.run);
    let ms = (v.created * 1000.0) as i64;
    let tags: Vec<Value> = v
        .tags
        .iter()
        .map(|(k, x)| json!({"key": k, "value": crate::store::edits::param_text(x)}))
        .collect();
    json!({
        "name": v.name,
        "version": v.version.to_string(),
        "creation_timestamp": ms,
        "last_updated_timestamp": ms,
        "current_stage": "None",
        "description": v.description,
        "source": format!("mlflow-artifacts:/{exp}/{}/artifacts/model", v.run),
        "run_id": v.run.to_string(),
        "status": "READY",
        "tags": tags,
        "aliases": v.aliases,
    })
}

/// MLflow's registered model object of all versions of one name (oldest first).
fn model_json(s: &Shared, versions: &[ModelVersion]) -> Value {
    let Some(latest) = versions.last() else {
        return Value::Null;
    };
    let first = versions.first().map_or(latest.created, |v| v.created);
    let aliases: Vec<Value> = versions
        .iter()
        .flat_map(|v| {
            v.aliases
                .iter()
                .map(move |a| json!({"alias": a, "version": v.version.to_string()}))
        })
        .collect();
    json!({
        "name": latest.name,
        "creation_timestamp": (first * 1000.0) as i64,
        "last_updated_timestamp": (latest.created * 1000.0) as i64,
        "description": "",
        "latest_versions": [version_json(s, latest)],
        "tags": [],
        "aliases": aliases,
    })
}

/// Versions grouped by model name.
fn by_name(s: &Shared) -> Result<BTreeMap<String, Vec<ModelVersion>>, Reply> {
    let mut out: BTreeMap<String, Vec<ModelVersion>> = BTreeMap::new();
    for v in s.store.models(None).map_err(store_err)? {
        out.entry(v.name.clone()).or_default().push(v);
    }
    Ok(out)
}

/// The value of `name = 'x'` / `run_id = 'x'` clauses of a simple registry filter, and LIKE.
fn filter_admits(filter: &str, fields: &[(&str, String)]) -> bool {
    filter
        .split(" and ")
        .flat_map(|c| c.split(" AND "))
        .filter(|c| !c.trim().is_empty())
        .all(|clause| {
            let c = clause.trim();
            let (f, op, v) = if let Some((f, v)) = c.split_once(" LIKE ").or_else(|| c.split_once(" like ")) {
                (f, "like", v)
            } else if let Some((f, v)) = c.split_once("!=") {
                (f, "!=", v)
            } else if let Some((f, v)) = c.split_once('=') {
                (f, "=", v)
            } else {
                return false;
            };
            let f = f.trim();
            let v = v.trim().trim_matches(|c| c == '\'' || c == '"');
            let Some((_, have)) = fields.iter().find(|(k, _)| *k == f) else {
                return false;
            };
            match op {
                "=" => have == v,
                "!=" => have != v,
                _ => super::search::like(have, v),
            }
        })
}

fn get_version(s: &Shared, name: &str, version: &str) -> Result<ModelVersion, Reply> {
    let v: i64 = version
        .trim()
        .parse()
        .map_err(|_| Reply::bad(&format!("model version '{version}' is not a number")))?;
    s.store
        .model(&ModelRef::Version(name.to_string(), v))
        .map_err(|e| Reply::missing(&e.to_string()))
}

/// Registry routes (`registered-models/...`, `model-versions/...`).
pub fn handle(s: &Shared, method: &str, route: &str, a: &Args) -> Answer {
    match (method, route) {
        ("GET", "registered-models/get") => {
            let name = a.need("name")?;
            let all = by_name(s)?;
            let versions = all
                .get(&name)
                .ok_or_else(|| Reply::missing(&format!("registered model '{name}' not found")))?;
            Ok(json!({"registered_model": model_json(s, versions)}))
        }
        ("GET" | "POST", "registered-models/search") => {
            let filter = a.text("filter").unwrap_or_default();
            let models: Vec<Value> = by_name(s)?
                .iter()
                .filter(|(n, _)| filter_admits(&filter, &[("name", (*n).clone())]))
                .map(|(_, v)| model_json(s, v))
                .collect();
            Ok(json!({"registered_models": models}))
        }
        ("POST" | "GET", "registered-models/get-latest-versions") => {
            let name = a.need("name")?;
            let all = by_name(s)?;
            let versions = all
                .get(&name)
                .ok_or_else(|| Reply::missing(&format!("registered model '{name}' not found")))?;
            let latest: Vec<Value> = versions.last().map(|v| version_json(s, v)).into_iter().collect();
            Ok(json!({"model_versions": latest}))
        }
        ("GET", "registered-models/alias") => {
            let (name, alias) = (a.need("name")?, a.need("alias")?);
            let v = s
                .store
                .model(&ModelRef::Alias(name.clone(), alias.clone()))
                .map_err(|e| Reply::missing(&e.to_string()))?;
            Ok(json!({"model_version": version_json(s, &v)}))
        }
        ("GET", "model-versions/get") => {
            let v = get_version(s, &a.need("name")?, &a.need("version")?)?;
            Ok(json!({"model_version": version_json(s, &v)}))
        }
        ("GET", "model-versions/get-download-uri") => {
            let v = get_version(s, &a.need("name")?, &a.need("version")?)?;
            Ok(json!({"artifact_uri": version_json(s, &v)["source"]}))
        }
        ("GET" | "POST", "model-versions/search") => {
            let filter = a.text("filter").unwrap_or_default();
            let versions: Vec<Value> = s
                .store
                .models(None)
                .map_err(store_err)?
                .iter()
                .filter(|v| {
                    filter_admits(
                        &filter,
                        &[
                            ("name", v.name.clone()),
                            ("run_id", v.run.to_string()),
                            ("version", v.version.to_string()),
                            ("version_number", v.version.to_string()),
                        ],
                    )
                })
                .map(|v| version_json(s, v))
                .collect();
            Ok(json!({"model_versions": versions}))
        }
        _ => Err(Reply::error(
            501,
            "NOT_IMPLEMENTED",
            &format!(
                "{method} {route}: this endpoint reads the registry; register models with `automl models register`"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_filters() {
        let f = [("name", "churn".to_string()), ("run_id", "4".to_string())];
        assert!(filter_admits("", &f));
        assert!(filter_admits("name='churn'", &f));
        assert!(filter_admits("name = 'churn' and run_id = '4'", &f));
        assert!(!filter_admits("name='other'", &f));
        assert!(filter_admits("name LIKE 'ch%'", &f));
        assert!(!filter_admits("name LIKE '%x%'", &f));
        assert!(!filter_admits("stage = 'x'", &f));
    }
}
