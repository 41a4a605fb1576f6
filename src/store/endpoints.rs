//! Endpoints and their deployments as workspace assets (Azure ML's online and batch endpoints):
//! auth mode, key digests, traffic split and mirrored traffic, and which registered model each
//! deployment serves.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::sql::{args, Row};
use super::SqlStore;
use crate::error::{Error, Result};

/// An endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Unique name (letters, digits, `-`; it is part of URLs).
    pub name: String,
    /// `online` or `batch`.
    pub kind: String,
    /// `key` or `none`.
    pub auth: String,
    /// SHA-256 digests (hex) of the primary and secondary keys, and how often each was
    /// generated (the key itself is derived from the workspace's secret and that count).
    pub keys: Keys,
    /// Percent of requests per deployment (sums to 100 once deployments exist).
    pub traffic: BTreeMap<String, u32>,
    /// Percent of requests copied to a deployment (answers discarded).
    pub mirror: BTreeMap<String, u32>,
    /// Free text.
    pub description: String,
    /// Other settings (batch: mini_batch_size, …), as given.
    pub settings: Value,
    /// Creation time.
    pub created: f64,
}

/// Key digests of an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Keys {
    /// Digest of the primary key.
    pub primary: String,
    /// Digest of the secondary key.
    pub secondary: String,
    /// Generations of the primary and secondary keys.
    pub generations: (u32, u32),
    /// Random per endpoint (keys derive from it too).
    #[serde(default)]
    pub salt: String,
}

/// A deployment of an endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// Its endpoint.
    pub endpoint: String,
    /// Its name (`blue`, `green`, …).
    pub name: String,
    /// The registered model: `NAME`, `NAME:VERSION` or `NAME@ALIAS`.
    pub model: String,
    /// Other settings, as given.
    pub settings: Value,
    /// Creation time.
    pub created: f64,
}

/// Storage of endpoints and deployments.
pub trait Endpoints: Send + Sync {
    /// Create an endpoint; an error when the name is taken.
    fn create_endpoint(&self, e: &Endpoint) -> Result<()>;
    /// Replace an endpoint's record (traffic, mirror, keys, settings).
    fn update_endpoint(&self, e: &Endpoint) -> Result<()>;
    /// One endpoint.
    fn endpoint(&self, name: &str) -> Result<Endpoint>;
    /// Every endpoint, by name.
    fn endpoints(&self) -> Result<Vec<Endpoint>>;
    /// Delete an endpoint and its deployments.
    fn delete_endpoint(&self, name: &str) -> Result<()>;
    /// Create or replace a deployment.
    fn put_deployment(&self, d: &Deployment) -> Result<()>;
    /// The deployments of an endpoint, by name.
    fn deployments(&self, endpoint: &str) -> Result<Vec<Deployment>>;
    /// Delete a deployment.
    fn delete_deployment(&self, endpoint: &str, name: &str) -> Result<()>;
}

/// Check an endpoint or deployment name: 1–64 letters, digits and `-`, starting with a letter.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "{what} name '{name}' must be 1 to 64 letters, digits or '-', starting with a letter"
        )))
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn endpoint_of(r: &Row) -> Result<Endpoint> {
    let text = |i: usize| -> Result<String> { r.get(i) };
    Ok(Endpoint {
        name: r.get(0)?,
        kind: r.get(1)?,
        auth: r.get(2)?,
        keys: serde_json::from_str(&text(3)?).unwrap_or_default(),
        traffic: serde_json::from_str(&text(4)?).unwrap_or_default(),
        mirror: serde_json::from_str(&text(5)?).unwrap_or_default(),
        description: r.get(6)?,
        settings: serde_json::from_str(&text(7)?).unwrap_or(Value::Null),
        created: r.get(8)?,
    })
}

const ENDPOINT_COLUMNS: &str = "name, kind, auth, keys, traffic, mirror, description, settings, created";

impl Endpoints for SqlStore {
    fn create_endpoint(&self, e: &Endpoint) -> Result<()> {
        check_name("endpoint", &e.name)?;
        let n = self.write(|tx| {
            tx.exec(
                &format!(
                    "INSERT INTO endpoints ({ENDPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (name) DO NOTHING"
                ),
                args![
                    &e.name,
                    &e.kind,
                    &e.auth,
                    json(&e.keys),
                    json(&e.traffic),
                    json(&e.mirror),
                    &e.description,
                    e.settings.to_string(),
                    e.created
                ],
            )
        })?;
        if n == 0 {
            return Err(Error::Config(format!("endpoint '{}' already exists", e.name)));
        }
        Ok(())
    }

    fn update_endpoint(&self, e: &Endpoint) -> Result<()> {
        let n = self.write(|tx| {
            tx.exec(
                "UPDATE endpoints SET auth = ?2, keys = ?3, traffic = ?4, mirror = ?5, description = ?6,
                        settings = ?7 WHERE name = ?1",
                args![
                    &e.name,
                    &e.auth,
                    json(&e.keys),
                    json(&e.traffic),
                    json(&e.mirror),
                    &e.description,
                    e.settings.to_string()
                ],
            )
        })?;
        if n == 0 {
            return Err(Error::Config(format!(
                "no endpoint '{}' in this workspace",
                e.name
            )));
        }
        Ok(())
    }

    fn endpoint(&self, name: &str) -> Result<Endpoint> {
        let rows = self.read(|tx| {
            tx.query(
                &format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE name = ?1"),
                args![name],
            )
        })?;
        match rows.first() {
            Some(r) => endpoint_of(r),
            None => Err(Error::Config(format!("no endpoint '{name}' in this workspace"))),
        }
    }

    fn endpoints(&self) -> Result<Vec<Endpoint>> {
        let rows = self.read(|tx| {
            tx.query(
                &format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints ORDER BY name"),
                &[],
            )
        })?;
        rows.iter().map(endpoint_of).collect()
    }

    fn delete_endpoint(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            tx.exec("DELETE FROM deployments WHERE endpoint = ?1", args![name])?;
            let n = tx.exec("DELETE FROM endpoints WHERE name = ?1", args![name])?;
            if n == 0 {
                return Err(Error::Config(format!("no endpoint '{name}' in this workspace")));
            }
            Ok(())
        })
    }

    fn put_deployment(&self, d: &Deployment) -> Result<()> {
        check_name("deployment", &d.name)?;
        self.endpoint(&d.endpoint)?;
        self.write(|tx| {
            tx.exec(
                "INSERT INTO deployments (endpoint, name, model, settings, created) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (endpoint, name) DO UPDATE SET model = excluded.model, settings = excluded.settings",
                args![&d.endpoint, &d.name, &d.model, d.settings.to_string(), d.created],
            )
            .map(drop)
        })
    }

    fn deployments(&self, endpoint: &str) -> Result<Vec<Deployment>> {
        let rows = self.read(|tx| {
            tx.query(
                "SELECT endpoint, name, model, settings, created FROM deployments WHERE endpoint = ?1 ORDER BY name",
                args![endpoint],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(Deployment {
                    endpoint: r.get(0)?,
                    name: r.get(1)?,
                    model: r.get(2)?,
                    settings: serde_json::from_str(&r.get::<String>(3)?).unwrap_or(Value::Null),
                    created: r.get(4)?,
                })
            })
            .collect()
    }

    fn delete_deployment(&self, endpoint: &str, name: &str) -> Result<()> {
        let n = self.write(|tx| {
            tx.exec(
                "DELETE FROM deployments WHERE endpoint = ?1 AND name = ?2",
                args![endpoint, name],
            )
        })?;
        if n == 0 {
            return Err(Error::Config(format!(
                "endpoint '{endpoint}' has no deployment '{name}'"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints_and_deployments_round_trip(s: SqlStore) {
        let e = Endpoint {
            name: "churn".into(),
            kind: "online".into(),
            auth: "key".into(),
            keys: Keys::default(),
            traffic: BTreeMap::new(),
            mirror: BTreeMap::new(),
            description: String::new(),
            settings: Value::Null,
            created: 1.0,
        };
        s.create_endpoint(&e).unwrap();
        assert!(s.create_endpoint(&e).is_err());
        let mut bad = e.clone();
        bad.name = "no spaces".into();
        assert!(s.create_endpoint(&bad).is_err());
        let d = Deployment {
            endpoint: "churn".into(),
            name: "blue".into(),
            model: "m@prod".into(),
            settings: Value::Null,
            created: 2.0,
        };
        s.put_deployment(&d).unwrap();
        let mut other = d.clone();
        other.endpoint = "none".into();
        assert!(s.put_deployment(&other).is_err());
        let mut e2 = e.clone();
        e2.traffic.insert("blue".into(), 100);
        s.update_endpoint(&e2).unwrap();
        assert_eq!(s.endpoint("churn").unwrap(), e2);
        assert_eq!(s.deployments("churn").unwrap(), vec![d]);
        s.delete_endpoint("churn").unwrap();
        assert!(s.endpoint("churn").is_err());
        assert!(s.deployments("churn").unwrap().is_empty());
    }

    crate::store::on_both_backends!(endpoints_and_deployments_round_trip);
}
