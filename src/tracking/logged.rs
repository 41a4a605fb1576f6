//! MLflow 3's logged models (`/logged-models`), which `mlflow.<flavor>.log_model` and autolog
//! create: kept with their source run (a run tag holding the model's record), their files among
//! the run's artifacts under `models/<model id>/`.

use serde_json::{json, Map, Value};

use super::api::{self, store_err, Answer, Args, Reply};
use super::Shared;
use crate::store::{RunFilter, RunId};

/// Prefix of the run tags holding logged models.
pub const TAG_PREFIX: &str = "automl.logged_model.";

/// `m-<run>-<n>` → the run.
fn run_of(model_id: &str) -> Result<RunId, Reply> {
    model_id
        .strip_prefix("m-")
        .and_then(|t| t.split('-').next())
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| Reply::missing(&format!("logged model '{model_id}' not found")))
}

/// The stored record of a logged model.
fn load(s: &Shared, model_id: &str) -> Result<(RunId, Map<String, Value>), Reply> {
    let run = run_of(model_id)?;
    let r = s.store.run(run).map_err(store_err)?;
    let rec = r
        .tags
        .get(&format!("{TAG_PREFIX}{model_id}"))
        .and_then(Value::as_str)
        .and_then(|t| serde_json::from_str::<Map<String, Value>>(t).ok())
        .ok_or_else(|| Reply::missing(&format!("logged model '{model_id}' not found")))?;
    Ok((run, rec))
}

fn save(s: &Shared, run: RunId, model_id: &str, rec: &Map<String, Value>) -> Result<(), Reply> {
    let text = Value::Object(rec.clone()).to_string();
    s.store
        .set_tags(run, &[(&format!("{TAG_PREFIX}{model_id}"), &text)])
        .map_err(store_err)
}

/// MLflow's logged model object.
fn model_json(s: &Shared, model_id: &str, run: RunId, rec: &Map<String, Value>) -> Value {
    let exp = api::experiment_of_run(s, run);
    let kv = |k: &str| -> Vec<Value> {
        rec.get(k)
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| json!({"key": k, "value": v})).collect())
            .unwrap_or_default()
    };
    json!({
        "info": {
            "model_id": model_id,
            "experiment_id": exp.to_string(),
            "name": rec.get("name").cloned().unwrap_or(json!("model")),
            "artifact_uri": format!("mlflow-artifacts:/{exp}/{run}/artifacts/models/{model_id}"),
            "creation_timestamp_ms": rec.get("created").cloned().unwrap_or(json!(0)),
            "last_updated_timestamp_ms": rec.get("updated").cloned().unwrap_or(json!(0)),
            "model_type": rec.get("model_type").cloned().unwrap_or(json!("")),
            "source_run_id": run.to_string(),
            "status": rec.get("status").cloned().unwrap_or(json!("LOGGED_MODEL_PENDING")),
            "status_message": "",
            "tags": kv("tags"),
        },
        "data": {"params": kv("params"), "metrics": []},
    })
}

/// Merge `[{key, value}]` pairs into the record's map `field`.
fn merge(rec: &mut Map<String, Value>, field: &str, list: &[Value]) {
    let entry = rec.entry(field.to_string()).or_insert_with(|| json!({}));
    if let Value::Object(m) = entry {
        for v in list {
            if let Some(k) = v.get("key").and_then(Value::as_str) {
                let value = v.get("value").cloned().unwrap_or(json!(""));
                m.insert(k.to_string(), value);
            }
        }
    }
}

fn now_ms() -> i64 {
    (crate::store::now() * 1000.0) as i64
}

/// Routes under `logged-models`.
pub fn handle(s: &Shared, method: &str, route: &str, a: &Args) -> Answer {
    let parts: Vec<&str> = route.split('/').collect();
    match (method, parts.as_slice()) {
        ("POST", ["logged-models"]) => {
            let run = match a.text("source_run_id") {
                Some(r) => api::parse_run(&r)?,
                None => a.1.ok_or_else(|| {
                    Reply::bad(
                        "automl keeps a logged model with its run: log it inside a run (source_run_id)",
                    )
                })?,
            };
            api::writable(s, a, run)?;
            // A random suffix: two models logged at once never share an id.
            let suffix = crate::tracking::random_key()
                .map_err(|e| Reply::error(500, "INTERNAL_ERROR", &e.to_string()))?;
            let model_id = format!("m-{run}-{}", &suffix[..12]);
            let mut rec = Map::new();
            rec.insert(
                "name".into(),
                json!(a.text("name").unwrap_or_else(|| "model".into())),
            );
            rec.insert(
                "model_type".into(),
                json!(a.text("model_type").unwrap_or_default()),
            );
            rec.insert("status".into(), json!("LOGGED_MODEL_PENDING"));
            rec.insert("created".into(), json!(now_ms()));
            rec.insert("updated".into(), json!(now_ms()));
            merge(&mut rec, "params", &a.list("params"));
            merge(&mut rec, "tags", &a.list("tags"));
            save(s, run, &model_id, &rec)?;
            Ok(json!({"model": model_json(s, &model_id, run, &rec)}))
        }
        ("GET", ["logged-models", id]) => {
            let (run, rec) = load(s, id)?;
            Ok(json!({"model": model_json(s, id, run, &rec)}))
        }
        ("PATCH", ["logged-models", id]) => {
            let (run, mut rec) = load(s, id)?;
            api::writable(s, a, run)?;
            if let Some(st) = a.text("status") {
                rec.insert("status".into(), json!(st));
            }
            rec.insert("updated".into(), json!(now_ms()));
            save(s, run, id, &rec)?;
            Ok(json!({"model": model_json(s, id, run, &rec)}))
        }
        ("PATCH" | "POST", ["logged-models", id, field @ ("tags" | "params")]) => {
            let (run, mut rec) = load(s, id)?;
            api::writable(s, a, run)?;
            let list = a.list(field);
            merge(&mut rec, field, &list);
            rec.insert("updated".into(), json!(now_ms()));
            save(s, run, id, &rec)?;
            Ok(json!({}))
        }
        ("POST", ["logged-models", "search"]) => {
            let names = api::names_of(s, &a.list("experiment_ids"))?;
            let mut models = Vec::new();
            for n in names {
                let runs = s
                    .store
                    .runs(&RunFilter {
                        experiment: Some(n),
                        all_levels: true,
                        ..RunFilter::default()
                    })
                    .map_err(store_err)?;
                for r in runs {
                    for k in r.tags.keys().filter_map(|k| k.strip_prefix(TAG_PREFIX)) {
                        if let Ok((run, rec)) = load(s, k) {
                            models.push(model_json(s, k, run, &rec));
                        }
                    }
                }
            }
            Ok(json!({"models": models}))
        }
        _ => Err(Reply::error(
            501,
            "NOT_IMPLEMENTED",
            &format!("automl's tracking endpoint does not serve {method} {route}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_name_their_run() {
        assert_eq!(run_of("m-12-1").unwrap(), 12);
        assert!(run_of("x-12").is_err());
        assert!(run_of("m-abc-1").is_err());
    }
}
