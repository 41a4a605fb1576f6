//! Endpoints and deployments as workspace assets: creating them (from flags or Azure ML CLI v2
//! YAML files, read as they are), traffic and mirror splits, and keys.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::batch::{BatchOptions, OutputAction};
use super::keys;
use crate::error::{Error, Result};
use crate::store::{Backend, Deployment, Endpoint, Keys, ModelRef};

/// An Azure model reference (`azureml:NAME:VERSION`, `azureml:NAME@latest`, `NAME@ALIAS`) as ours.
pub fn model_ref(text: &str) -> Result<String> {
    let t = text.trim();
    let t = t.strip_prefix("azureml:").unwrap_or(t);
    let t = t.strip_suffix("@latest").unwrap_or(t);
    ModelRef::parse(t)?;
    Ok(t.to_string())
}

/// A YAML file as JSON, with the fields it may hold checked: `used` are read, `cloud` are read
/// and reported as ignored; anything else is an error naming it.
fn yaml(path: &Path, used: &[&str], cloud: &[&str]) -> Result<(Map<String, Value>, Vec<String>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let v: Value = serde_saphyr::from_str(&text)
        .map_err(|e| Error::Config(format!("{}: {}", path.display(), e.to_string().trim_end())))?;
    let Value::Object(m) = v else {
        return Err(Error::Config(format!(
            "{}: expected a YAML mapping",
            path.display()
        )));
    };
    let mut ignored = Vec::new();
    for k in m.keys() {
        if cloud.contains(&k.as_str()) {
            ignored.push(k.clone());
        } else if !used.contains(&k.as_str()) {
            return Err(Error::Config(format!(
                "{}: unknown field '{k}' (expected one of: {})",
                path.display(),
                used.iter().chain(cloud).copied().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok((m, ignored))
}

fn text(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

/// Fields of an Azure online or batch endpoint file.
#[derive(Debug)]
pub struct EndpointSpec {
    /// Name.
    pub name: String,
    /// `key` or `none`.
    pub auth: String,
    /// Description.
    pub description: String,
    /// Traffic (online), if given.
    pub traffic: Option<BTreeMap<String, u32>>,
    /// Mirror traffic (online), if given.
    pub mirror: Option<BTreeMap<String, u32>>,
    /// Settings kept as given (batch: defaults).
    pub settings: Value,
    /// Cloud-only fields read and ignored.
    pub ignored: Vec<String>,
}

fn percents(v: Option<&Value>, what: &str) -> Result<Option<BTreeMap<String, u32>>> {
    let Some(v) = v else { return Ok(None) };
    let m = v
        .as_object()
        .ok_or_else(|| Error::Config(format!("{what} must map deployment names to percents")))?;
    let mut out = BTreeMap::new();
    for (k, x) in m {
        let n = x
            .as_u64()
            .filter(|n| *n <= 100)
            .ok_or_else(|| Error::Config(format!("{what}.{k} must be a percent from 0 to 100")))?;
        out.insert(k.clone(), n as u32);
    }
    Ok(Some(out))
}

/// Read an Azure ML CLI v2 endpoint YAML (online or batch).
pub fn endpoint_yaml(path: &Path, batch: bool) -> Result<EndpointSpec> {
    let used: &[&str] = if batch {
        &["name", "description", "auth_mode", "defaults"]
    } else {
        &["name", "description", "auth_mode", "traffic", "mirror_traffic"]
    };
    let (m, ignored) = yaml(
        path,
        used,
        &[
            "$schema",
            "tags",
            "identity",
            "kind",
            "public_network_access",
            "properties",
        ],
    )?;
    let name =
        text(&m, "name").ok_or_else(|| Error::Config(format!("{}: 'name' is required", path.display())))?;
    let auth = match text(&m, "auth_mode").as_deref() {
        None | Some("key") | Some("aml_token") | Some("aad_token") => "key",
        Some(other) => {
            return Err(Error::Config(format!(
                "{}: auth_mode '{other}' is not key, aml_token or aad_token",
                path.display()
            )))
        }
    };
    Ok(EndpointSpec {
        name,
        auth: auth.into(),
        description: text(&m, "description").unwrap_or_default(),
        traffic: percents(m.get("traffic"), "traffic")?,
        mirror: percents(m.get("mirror_traffic"), "mirror_traffic")?,
        settings: m.get("defaults").map_or(Value::Null, |d| json!({"defaults": d})),
        ignored,
    })
}

/// Fields of an Azure online or batch deployment file.
#[derive(Debug)]
pub struct DeploymentSpec {
    /// Name.
    pub name: String,
    /// Its endpoint, when the file names it.
    pub endpoint: Option<String>,
    /// Model reference (ours).
    pub model: String,
    /// Batch settings (batch deployments).
    pub batch: Option<BatchOptions>,
    /// Cloud-only fields read and ignored.
    pub ignored: Vec<String>,
}

/// Read an Azure ML CLI v2 deployment YAML (online or batch).
pub fn deployment_yaml(path: &Path, batch: bool) -> Result<DeploymentSpec> {
    let used: &[&str] = if batch {
        &[
            "name",
            "endpoint_name",
            "model",
            "description",
            "mini_batch_size",
            "max_concurrency_per_instance",
            "output_action",
            "output_file_name",
            "error_threshold",
            "retry_settings",
        ]
    } else {
        &["name", "endpoint_name", "model", "description"]
    };
    let cloud = [
        "$schema",
        "tags",
        "code_configuration",
        "environment",
        "instance_type",
        "instance_count",
        "compute",
        "resources",
        "request_settings",
        "liveness_probe",
        "readiness_probe",
        "app_insights_enabled",
        "environment_variables",
        "scale_settings",
        "logging_level",
        "type",
        "egress_public_network_access",
        "data_collector",
        "properties",
    ];
    let (m, ignored) = yaml(path, used, &cloud)?;
    let name =
        text(&m, "name").ok_or_else(|| Error::Config(format!("{}: 'name' is required", path.display())))?;
    let model = match m.get("model") {
        Some(Value::String(s)) => model_ref(s)?,
        Some(Value::Object(o)) => {
            return Err(Error::Config(format!(
                "{}: model must name a registered model (azureml:NAME:VERSION), not an inline one ({})",
                path.display(),
                o.keys().cloned().collect::<Vec<_>>().join(", ")
            )))
        }
        _ => return Err(Error::Config(format!("{}: 'model' is required", path.display()))),
    };
    let batch = batch.then(|| {
        let mut o = BatchOptions::default();
        if let Some(n) = m.get("mini_batch_size").and_then(Value::as_u64) {
            o.mini_batch_size = n as usize;
        }
        if let Some(n) = m.get("max_concurrency_per_instance").and_then(Value::as_u64) {
            o.max_concurrency = n as usize;
        }
        if let Some(a) = text(&m, "output_action") {
            o.output_action = if a == "summary_only" {
                OutputAction::SummaryOnly
            } else {
                OutputAction::AppendRow
            };
        }
        if let Some(f) = text(&m, "output_file_name") {
            o.output_file_name = f;
        }
        if let Some(n) = m.get("error_threshold").and_then(Value::as_i64) {
            o.error_threshold = n;
        }
        if let Some(n) = m
            .get("retry_settings")
            .and_then(|r| r.get("max_retries"))
            .and_then(Value::as_u64)
        {
            o.max_retries = n as u32;
        }
        o
    });
    Ok(DeploymentSpec {
        name,
        endpoint: text(&m, "endpoint_name"),
        model,
        batch,
        ignored,
    })
}

/// Create an endpoint (`online` or `batch`) with fresh keys.
pub fn create_endpoint(
    store: &dyn Backend,
    root: &Path,
    kind: &str,
    spec: &EndpointSpec,
) -> Result<Endpoint> {
    let secret = keys::secret(store, root)?;
    let e = Endpoint {
        name: spec.name.clone(),
        kind: kind.into(),
        auth: spec.auth.clone(),
        keys: keys::keys_for(&secret, &spec.name, &crate::tracking::random_key()?[..16], (0, 0)),
        traffic: BTreeMap::new(),
        mirror: BTreeMap::new(),
        description: spec.description.clone(),
        settings: spec.settings.clone(),
        created: crate::store::now(),
    };
    store.create_endpoint(&e)?;
    Ok(e)
}

/// `blue=90,green=10` → percents.
pub fn parse_split(text: &str, what: &str) -> Result<BTreeMap<String, u32>> {
    let mut out = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| Error::Config(format!("{what}: '{part}' is not NAME=PERCENT")))?;
        let n: u32 = v
            .trim()
            .parse()
            .ok()
            .filter(|n| *n <= 100)
            .ok_or_else(|| Error::Config(format!("{what}: '{v}' is not a percent from 0 to 100")))?;
        out.insert(k.trim().to_string(), n);
    }
    Ok(out)
}

/// Set an endpoint's traffic and/or mirror split: traffic sums to 100 over its deployments, a
/// mirror takes at most 50 % and only a deployment that takes no live traffic.
pub fn set_traffic(
    store: &dyn Backend,
    name: &str,
    traffic: Option<BTreeMap<String, u32>>,
    mirror: Option<BTreeMap<String, u32>>,
) -> Result<Endpoint> {
    let mut e = store.endpoint(name)?;
    let deps: Vec<String> = store.deployments(name)?.into_iter().map(|d| d.name).collect();
    let known = |what: &str, m: &BTreeMap<String, u32>| -> Result<()> {
        match m.keys().find(|k| !deps.contains(k)) {
            Some(k) => Err(Error::Config(format!(
                "{what}: endpoint '{name}' has no deployment '{k}' (it has: {})",
                if deps.is_empty() {
                    "none".into()
                } else {
                    deps.join(", ")
                }
            ))),
            None => Ok(()),
        }
    };
    if let Some(t) = traffic {
        known("traffic", &t)?;
        let sum: u32 = t.values().sum();
        if sum != 100 && !(sum == 0 && t.is_empty()) {
            return Err(Error::Config(format!(
                "traffic must add up to 100 (it adds up to {sum})"
            )));
        }
        e.traffic = t.into_iter().filter(|(_, p)| *p > 0).collect();
    }
    if let Some(m) = mirror {
        known("mirror", &m)?;
        if let Some((k, p)) = m.iter().find(|(_, p)| **p > 50) {
            return Err(Error::Config(format!(
                "mirror: {k}={p}: at most 50 % of traffic can be mirrored"
            )));
        }
        e.mirror = m.into_iter().filter(|(_, p)| *p > 0).collect();
    }
    if let Some(k) = e.mirror.keys().find(|k| e.traffic.contains_key(*k)) {
        return Err(Error::Config(format!(
            "deployment '{k}' takes live traffic, so it cannot also be a mirror"
        )));
    }
    store.update_endpoint(&e)?;
    Ok(e)
}

/// Create (or replace) a deployment; an online endpoint's first deployment gets all its traffic.
pub fn create_deployment(
    store: &dyn Backend,
    endpoint: &str,
    name: &str,
    model: &str,
    settings: Value,
) -> Result<Endpoint> {
    let e = store.endpoint(endpoint)?;
    let model = model_ref(model)?;
    store.model(&ModelRef::parse(&model)?)?;
    store.put_deployment(&Deployment {
        endpoint: endpoint.into(),
        name: name.into(),
        model,
        settings,
        created: crate::store::now(),
    })?;
    if e.kind == "online" && e.traffic.is_empty() {
        let mut t = BTreeMap::new();
        t.insert(name.to_string(), 100);
        return set_traffic(store, endpoint, Some(t), None);
    }
    Ok(e)
}

/// Delete a deployment; refused while it takes traffic or mirrored traffic.
pub fn delete_deployment(store: &dyn Backend, endpoint: &str, name: &str) -> Result<()> {
    let e = store.endpoint(endpoint)?;
    if e.traffic.get(name).is_some_and(|p| *p > 0) || e.mirror.contains_key(name) {
        return Err(Error::Config(format!(
            "deployment '{name}' takes traffic; move it first (automl endpoints update {endpoint} --traffic …)"
        )));
    }
    store.delete_deployment(endpoint, name)
}

/// The endpoint's keys, regenerating `slot` first when given.
pub fn endpoint_keys(
    store: &dyn Backend,
    root: &Path,
    name: &str,
    regenerate: Option<&str>,
) -> Result<(String, String)> {
    let mut e = store.endpoint(name)?;
    let secret = keys::secret(store, root)?;
    if let Some(slot) = regenerate {
        let (p, s) = e.keys.generations;
        let gens = match slot {
            "primary" => (p + 1, s),
            "secondary" => (p, s + 1),
            other => {
                return Err(Error::Config(format!(
                    "--regenerate takes primary or secondary, not '{other}'"
                )))
            }
        };
        e.keys = keys::keys_for(&secret, name, &e.keys.salt, gens);
        store.update_endpoint(&e)?;
    }
    Ok(keys::current(&secret, &e))
}

/// The deployment `automl batch-score ENDPOINT` uses: the batch endpoint's default
/// (`defaults.deployment_name`), its only one, or the online endpoint's largest traffic share.
pub fn default_deployment(store: &dyn Backend, e: &Endpoint) -> Result<Deployment> {
    let deps = store.deployments(&e.name)?;
    let wanted = e
        .settings
        .get("defaults")
        .and_then(|d| d.get("deployment_name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| e.traffic.iter().max_by_key(|(_, p)| **p).map(|(k, _)| k.clone()));
    match wanted {
        Some(w) => deps
            .into_iter()
            .find(|d| d.name == w)
            .ok_or_else(|| Error::Config(format!("endpoint '{}' has no deployment '{w}'", e.name))),
        None if deps.len() == 1 => Ok(deps
            .into_iter()
            .next()
            .ok_or_else(|| Error::Config("no deployment".into()))?),
        None => Err(Error::Config(format!(
            "endpoint '{}' has {} deployments and no default (defaults.deployment_name)",
            e.name,
            deps.len()
        ))),
    }
}

/// Keys of an endpoint as stored (digests): for listings.
pub fn key_state(k: &Keys) -> Value {
    json!({"primary_generation": k.generations.0, "secondary_generation": k.generations.1})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_splits() {
        assert_eq!(model_ref("azureml:churn:3").unwrap(), "churn:3");
        assert_eq!(model_ref("azureml:churn@latest").unwrap(), "churn");
        assert_eq!(model_ref("churn@prod").unwrap(), "churn@prod");
        assert!(model_ref("churn:x").is_err());
        let t = parse_split("blue=90, green=10", "traffic").unwrap();
        assert_eq!(t.get("blue"), Some(&90));
        assert!(parse_split("blue", "traffic").is_err());
        assert!(parse_split("blue=101", "traffic").is_err());
    }

    #[test]
    fn azure_files_are_read_and_cloud_fields_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.yml");
        std::fs::write(
            &p,
            "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json\nname: blue\nendpoint_name: ep\nmodel: azureml:churn:1\ninstance_type: Standard_DS3_v2\ninstance_count: 1\n",
        )
        .unwrap();
        let d = deployment_yaml(&p, false).unwrap();
        assert_eq!(
            (d.name.as_str(), d.endpoint.as_deref(), d.model.as_str()),
            ("blue", Some("ep"), "churn:1")
        );
        assert_eq!(d.ignored, ["$schema", "instance_count", "instance_type"]);
        std::fs::write(&p, "name: blue\nmodel: m\ncolour: red\n").unwrap();
        let e = deployment_yaml(&p, false).unwrap_err().to_string();
        assert!(e.contains("unknown field 'colour'"), "{e}");
        std::fs::write(&p, "name: b\nendpoint_name: ep\nmodel: azureml:m:2\nmini_batch_size: 50\noutput_action: summary_only\nerror_threshold: 10\nretry_settings:\n  max_retries: 1\n  timeout: 30\ncompute: azureml:cpu\n").unwrap();
        let d = deployment_yaml(&p, true).unwrap();
        let o = d.batch.unwrap();
        assert_eq!(
            (
                o.mini_batch_size,
                o.output_action,
                o.error_threshold,
                o.max_retries
            ),
            (50, OutputAction::SummaryOnly, 10, 1)
        );
        std::fs::write(&p, "name: ep\nauth_mode: key\ntraffic:\n  blue: 100\n").unwrap();
        let e = endpoint_yaml(&p, false).unwrap();
        assert_eq!(e.traffic.unwrap().get("blue"), Some(&100));
    }
}
