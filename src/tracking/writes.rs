//! The MLflow REST calls that write a run: create and update it, and log its metrics, params,
//! tags, batches and dataset inputs (each through [`writable`]: the store, or a sweep trial's sink).

use serde_json::{json, Map, Value};

use super::api::{
    experiment_id, experiment_name, parse_run, run_info, run_json, store_err, writable, Answer, Args, Reply,
    DERIVED_TAGS,
};
use super::{Scope, Shared};
use crate::command::Report;
use crate::store::{MetricPoint, NewRun, RunId, TrialState};

/// A metric value: a number or MLflow's text forms of NaN and the infinities.
fn metric_value(v: Option<&Value>) -> std::result::Result<f64, Reply> {
    match v {
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| Reply::bad("bad metric value")),
        Some(Value::String(t)) => match t.trim() {
            "NaN" | "nan" => Ok(f64::NAN),
            "Infinity" | "inf" => Ok(f64::INFINITY),
            "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
            other => other
                .parse()
                .map_err(|_| Reply::bad(&format!("metric value '{other}' is not a number"))),
        },
        _ => Err(Reply::bad("missing value for required parameter 'value'")),
    }
}

/// One metric object of a request → a point (timestamps in ms, step 0 when absent).
fn point(m: &Map<String, Value>) -> std::result::Result<MetricPoint, Reply> {
    let key = match m.get("key") {
        Some(Value::String(k)) if !k.is_empty() => k.clone(),
        _ => return Err(Reply::bad("a metric needs a 'key'")),
    };
    let value = metric_value(m.get("value"))?;
    let int = |k: &str| -> std::result::Result<Option<i64>, Reply> { Args(m.clone(), None).int(k) };
    let ts = int("timestamp")?.map_or_else(crate::store::now, |t| t as f64 / 1000.0);
    Ok(MetricPoint {
        key,
        value,
        step: int("step")?.unwrap_or(0),
        timestamp: ts,
    })
}

/// Store metric points of run `id`; a sweep trial's primary metric goes to the trial instead.
fn store_points(s: &Shared, a: &Args, id: RunId, points: Vec<MetricPoint>) -> std::result::Result<(), Reply> {
    let sink = writable(s, a, id)?;
    let mut direct = Vec::new();
    for p in points {
        match (&sink, &s.scope) {
            (Some(sink), Scope::Sweep(scope)) if p.key == scope.primary => {
                let sent = sink.send(Report {
                    metric: p.key.clone(),
                    value: p.value,
                    step: Some(p.step),
                });
                if !sent {
                    return Err(Reply::error(
                        400,
                        "INVALID_STATE",
                        &format!("run {id}'s trial has ended"),
                    ));
                }
            }
            _ => direct.push(p),
        }
    }
    if !direct.is_empty() {
        s.store.log_metrics(id, &direct).map_err(store_err)?;
    }
    Ok(())
}

pub(super) fn log_metric(s: &Shared, a: &Args) -> Answer {
    let id = a.run()?;
    let p = point(&a.0)?;
    store_points(s, a, id, vec![p])?;
    Ok(json!({}))
}

fn store_params(
    s: &Shared,
    a: &Args,
    id: RunId,
    params: Vec<(String, String)>,
) -> std::result::Result<(), Reply> {
    writable(s, a, id)?;
    for (k, v) in &params {
        if k.is_empty() || k.len() > 250 {
            return Err(Reply::bad(&format!(
                "parameter name '{k}' must have 1 to 250 characters"
            )));
        }
        if v.len() > 6000 {
            return Err(Reply::bad(&format!(
                "parameter '{k}' is longer than 6000 characters"
            )));
        }
    }
    let values: Vec<(String, Value)> = params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    s.store.log_params(id, &values).map_err(store_err)
}

pub(super) fn log_param(s: &Shared, a: &Args) -> Answer {
    let id = a.run()?;
    store_params(
        s,
        a,
        id,
        vec![(a.need("key")?, a.text("value").unwrap_or_default())],
    )?;
    Ok(json!({}))
}

fn store_tags(
    s: &Shared,
    a: &Args,
    id: RunId,
    tags: Vec<(String, String)>,
) -> std::result::Result<(), Reply> {
    writable(s, a, id)?;
    // A sweep's trial keeps its name ("trial 3").
    let trial_run = a.1 == Some(id);
    let mut kept: Vec<(&str, &str)> = Vec::new();
    for (k, v) in &tags {
        match k.as_str() {
            "mlflow.runName" if !trial_run => s.store.rename_run(id, v).map_err(store_err)?,
            k if DERIVED_TAGS.contains(&k) => {}
            _ => kept.push((k, v)),
        }
    }
    if !kept.is_empty() {
        s.store.set_tags(id, &kept).map_err(store_err)?;
    }
    Ok(())
}

pub(super) fn set_tag(s: &Shared, a: &Args) -> Answer {
    let id = a.run()?;
    store_tags(
        s,
        a,
        id,
        vec![(a.need("key")?, a.text("value").unwrap_or_default())],
    )?;
    Ok(json!({}))
}

/// Key/value objects of a request list.
fn pairs_of(list: &[Value], what: &str) -> std::result::Result<Vec<(String, String)>, Reply> {
    list.iter()
        .map(|v| {
            let key = v.get("key").and_then(Value::as_str).unwrap_or_default();
            if key.is_empty() {
                return Err(Reply::bad(&format!("a {what} needs a 'key'")));
            }
            let value = match v.get("value") {
                Some(Value::String(t)) => t.clone(),
                None | Some(Value::Null) => String::new(),
                Some(x) => x.to_string(),
            };
            Ok((key.to_string(), value))
        })
        .collect()
}

pub(super) fn log_batch(s: &Shared, a: &Args) -> Answer {
    let id = a.run()?;
    let (metrics, params, tags) = (a.list("metrics"), a.list("params"), a.list("tags"));
    if metrics.len() > 1000 || params.len() > 100 || tags.len() > 100 {
        return Err(Reply::bad(
            "a batch holds at most 1000 metrics, 100 params and 100 tags",
        ));
    }
    let params = pairs_of(&params, "param")?;
    let tags = pairs_of(&tags, "tag")?;
    let points = metrics
        .iter()
        .map(|m| match m {
            Value::Object(o) => point(o),
            _ => Err(Reply::bad("a metric must be an object")),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if !params.is_empty() {
        store_params(s, a, id, params)?;
    }
    if !points.is_empty() {
        store_points(s, a, id, points)?;
    }
    if !tags.is_empty() {
        store_tags(s, a, id, tags)?;
    }
    writable(s, a, id)?;
    Ok(json!({}))
}

/// Dataset inputs: kept as tags `mlflow.input.<name>` holding the dataset's digest and source.
pub(super) fn log_inputs(s: &Shared, a: &Args) -> Answer {
    let id = a.run()?;
    let mut tags = Vec::new();
    for d in a.list("datasets") {
        let ds = d.get("dataset").cloned().unwrap_or(Value::Null);
        let name = ds.get("name").and_then(Value::as_str).unwrap_or("dataset");
        let digest = ds.get("digest").and_then(Value::as_str).unwrap_or("");
        let source = ds.get("source_type").and_then(Value::as_str).unwrap_or("");
        tags.push((
            format!("mlflow.input.{name}"),
            format!("digest={digest} source={source}"),
        ));
    }
    if !tags.is_empty() {
        store_tags(s, a, id, tags)?;
    }
    Ok(json!({}))
}

pub(super) fn create_run(s: &Shared, a: &Args) -> Answer {
    let exp = a.text("experiment_id").unwrap_or_else(|| "0".into());
    let experiment = experiment_name(s, &exp)?;
    let tags = pairs_of(&a.list("tags"), "tag")?;
    let tag = |k: &str| tags.iter().find(|(t, _)| t == k).map(|(_, v)| v.clone());
    let parent = match tag("mlflow.parentRunId") {
        Some(p) => Some(parse_run(&p)?),
        None => None,
    };
    if let Scope::Sweep(_) = s.scope {
        match (parent, a.1) {
            // A script's nested run, under its own trial only.
            (Some(p), _) => {
                writable(s, a, p)?;
            }
            // A new top-level run is the trial's own run again (MLflow forgets MLFLOW_RUN_ID once
            // a run ends, e.g. after autolog's): what the script logs stays on its trial.
            (None, Some(own)) => {
                store_tags(s, a, own, tags)?;
                return Ok(json!({"run": run_json(s, own)?}));
            }
            (None, None) => return Err(Reply::error(403, "PERMISSION_DENIED", "no trial run")),
        }
    }
    let name = a
        .text("run_name")
        .filter(|n| !n.is_empty())
        .or_else(|| tag("mlflow.runName"))
        .unwrap_or_else(|| "mlflow run".into());
    let id = s
        .store
        .create_run(&NewRun {
            experiment,
            parent,
            name,
            status: Some(TrialState::Running),
            params: Map::new(),
            environment: json!({"source": "mlflow client"}),
        })
        .map_err(store_err)?;
    store_tags(s, a, id, tags)?;
    Ok(json!({"run": run_json(s, id)?}))
}

pub(super) fn update_run(s: &Shared, a: &Args) -> Answer {
    let id = a.run()?;
    let sink = writable(s, a, id)?;
    if let Some(name) = a.text("run_name").filter(|n| !n.is_empty()) {
        s.store.rename_run(id, &name).map_err(store_err)?;
    }
    // A sweep's trial ends when its program ends; the sweep records how.
    if let (Some(status), None) = (a.text("status"), sink) {
        let run = s.store.run(id).map_err(store_err)?;
        let state = match status.as_str() {
            "FINISHED" => Some(TrialState::Completed),
            "FAILED" => Some(TrialState::Failed),
            "KILLED" => Some(TrialState::Killed),
            "RUNNING" | "SCHEDULED" => None,
            other => return Err(Reply::bad(&format!("unknown run status '{other}'"))),
        };
        match state {
            Some(st) => s.store.finish_run(id, st, None).map_err(store_err)?,
            None if run.ended.is_some() => s.store.reopen_run(id).map_err(store_err)?,
            None => {}
        }
    }
    let r = s.store.run(id).map_err(store_err)?;
    Ok(json!({"run_info": run_info(&r, experiment_id(s, &r.experiment))}))
}
