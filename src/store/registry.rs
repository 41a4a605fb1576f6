//! Dataset versions and the model registry (names, versions, tags, aliases with history).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::sql::{args, Tx};
use super::{now, RunId, SqlStore};
use crate::error::{Error, Result};

/// A registered dataset version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetVersion {
    /// Name.
    pub name: String,
    /// Version, from 1.
    pub version: i64,
    /// Content hash (FNV-1a 64, hex).
    pub hash: String,
    /// Stored copy, relative to the workspace.
    pub path: String,
    /// Schema profile (columns, types, missing counts).
    pub profile: Value,
    /// Registration time.
    pub created: f64,
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Name.
    pub name: String,
    /// Version, from 1.
    pub version: i64,
    /// Run that produced it (lineage).
    pub run: RunId,
    /// Model file, relative to the workspace.
    pub path: String,
    /// Free text.
    pub description: String,
    /// Validation metrics at registration.
    pub metrics: Value,
    /// Tags.
    pub tags: Map<String, Value>,
    /// Aliases pointing at this version.
    pub aliases: Vec<String>,
    /// Registration time.
    pub created: f64,
}

/// A reference to a model version: `NAME`, `NAME:VERSION` or `NAME@ALIAS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// Latest version.
    Latest(String),
    /// A given version.
    Version(String, i64),
    /// The version an alias points at.
    Alias(String, String),
}

impl ModelRef {
    /// Parse `NAME`, `NAME:VERSION` or `NAME@ALIAS`.
    pub fn parse(s: &str) -> Result<ModelRef> {
        if let Some((n, a)) = s.split_once('@') {
            return Ok(ModelRef::Alias(n.to_string(), a.to_string()));
        }
        if let Some((n, v)) = s.split_once(':') {
            let v = v
                .parse()
                .map_err(|_| Error::Config(format!("'{s}': the version after ':' must be a number")))?;
            return Ok(ModelRef::Version(n.to_string(), v));
        }
        Ok(ModelRef::Latest(s.to_string()))
    }
}

/// Names of models and datasets: non-empty, no ':', '@', '/', '\\' and not starting with '.'.
pub fn check_model_name(name: &str) -> Result<()> {
    if name.is_empty() || name.starts_with('.') || name.contains([':', '@', '/', '\\']) {
        return Err(Error::Config(format!(
            "name '{name}' must be non-empty, not start with '.', and contain no ':', '@', '/' or '\\'"
        )));
    }
    Ok(())
}

/// Id of a model version that is not deleted.
fn live_model_id(tx: &mut dyn Tx, name: &str, version: i64) -> Result<Option<i64>> {
    tx.opt(
        "SELECT id FROM models WHERE name = ?1 AND version = ?2 AND deleted = 0",
        args![name, version],
    )
}

/// Dataset versions and model registry; implemented by every store backend.
pub trait Registry {
    /// Register dataset content under `name`; identical content returns the existing version.
    /// Returns the version and whether it is new.
    fn register_dataset(
        &self,
        name: &str,
        hash: &str,
        path: &str,
        profile: &Value,
    ) -> Result<(DatasetVersion, bool)>;

    /// Registered dataset versions (of one name).
    fn datasets(&self, name: Option<&str>) -> Result<Vec<DatasetVersion>>;

    /// Find a dataset version by content hash.
    fn dataset_by_hash(&self, hash: &str) -> Result<Option<DatasetVersion>>;

    /// Register the model file of `run` under `name` as the next version.
    fn register_model(
        &self,
        name: &str,
        run: RunId,
        path: &str,
        description: &str,
        metrics: &Value,
    ) -> Result<i64>;

    /// Model versions (of one name), oldest first.
    fn models(&self, name: Option<&str>) -> Result<Vec<ModelVersion>>;

    /// Resolve a reference to one model version.
    fn model(&self, r: &ModelRef) -> Result<ModelVersion>;

    /// Point `alias` of model `name` at `version`, recording the move.
    fn set_alias(&self, name: &str, alias: &str, version: i64) -> Result<()>;

    /// Every move of the aliases of model `name`: (alias, version, time).
    fn alias_history(&self, name: &str) -> Result<Vec<(String, i64, f64)>>;

    /// Set tags on a model version.
    fn tag_model(&self, name: &str, version: i64, tags: &[(String, String)]) -> Result<()>;

    /// Delete a model version; refused while an alias points at it.
    fn delete_model(&self, name: &str, version: i64) -> Result<()>;

    /// Record which dataset version a run used.
    fn set_run_dataset(&self, run: RunId, name: &str, version: i64) -> Result<()>;
}

impl Registry for SqlStore {
    fn register_dataset(
        &self,
        name: &str,
        hash: &str,
        path: &str,
        profile: &Value,
    ) -> Result<(DatasetVersion, bool)> {
        let new = self.write(|tx| {
            let existing: Option<i64> = tx.opt(
                "SELECT version FROM datasets WHERE name = ?1 AND hash = ?2",
                args![name, hash],
            )?;
            if existing.is_some() {
                return Ok(false);
            }
            let next: i64 = tx.one(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM datasets WHERE name = ?1",
                args![name],
            )?;
            tx.exec(
                "INSERT INTO datasets (name, version, hash, path, profile, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![name, next, hash, path, profile.to_string(), now()],
            )?;
            Ok(true)
        })?;
        let d = self
            .datasets(Some(name))?
            .into_iter()
            .find(|d| d.hash == hash)
            .ok_or_else(|| Error::Store(format!("dataset {name} vanished")))?;
        Ok((d, new))
    }

    fn datasets(&self, name: Option<&str>) -> Result<Vec<DatasetVersion>> {
        let rows = self.read(|tx| {
            tx.query(
                "SELECT name, version, hash, path, profile, created FROM datasets
                 WHERE CAST(?1 AS TEXT) IS NULL OR name = ?1 ORDER BY name, version",
                args![name],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(DatasetVersion {
                    name: r.get(0)?,
                    version: r.get(1)?,
                    hash: r.get(2)?,
                    path: r.get(3)?,
                    profile: serde_json::from_str(&r.get::<String>(4)?).unwrap_or(Value::Null),
                    created: r.get(5)?,
                })
            })
            .collect()
    }

    fn dataset_by_hash(&self, hash: &str) -> Result<Option<DatasetVersion>> {
        Ok(self.datasets(None)?.into_iter().find(|d| d.hash == hash))
    }

    fn register_model(
        &self,
        name: &str,
        run: RunId,
        path: &str,
        description: &str,
        metrics: &Value,
    ) -> Result<i64> {
        check_model_name(name)?;
        self.write(|tx| {
            let next: i64 = tx.one(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE name = ?1",
                args![name],
            )?;
            tx.exec(
                "INSERT INTO models (name, version, run_id, path, description, metrics, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                args![name, next, run, path, description, metrics.to_string(), now()],
            )?;
            Ok(next)
        })
    }

    fn models(&self, name: Option<&str>) -> Result<Vec<ModelVersion>> {
        let (rows, tags, aliases) = self.read(|tx| {
            let rows = tx.query(
                "SELECT id, name, version, run_id, path, description, metrics, created FROM models
                 WHERE deleted = 0 AND (CAST(?1 AS TEXT) IS NULL OR name = ?1) ORDER BY name, version",
                args![name],
            )?;
            let tags = tx.query(
                "SELECT t.model_id, t.key, t.value FROM model_tags t JOIN models m ON m.id = t.model_id
                 WHERE m.deleted = 0 AND (CAST(?1 AS TEXT) IS NULL OR m.name = ?1) ORDER BY t.key",
                args![name],
            )?;
            let aliases = tx.query(
                "SELECT name, version, alias FROM model_aliases
                 WHERE CAST(?1 AS TEXT) IS NULL OR name = ?1 ORDER BY alias",
                args![name],
            )?;
            Ok((rows, tags, aliases))
        })?;
        let mut out = Vec::with_capacity(rows.len());
        let mut by_id = std::collections::HashMap::new();
        let mut by_version = std::collections::HashMap::new();
        for r in &rows {
            let m = ModelVersion {
                name: r.get(1)?,
                version: r.get(2)?,
                run: r.get(3)?,
                path: r.get(4)?,
                description: r.get(5)?,
                metrics: serde_json::from_str(&r.get::<String>(6)?).unwrap_or(Value::Null),
                tags: Map::new(),
                aliases: Vec::new(),
                created: r.get(7)?,
            };
            by_id.insert(r.get::<i64>(0)?, out.len());
            by_version.insert((m.name.clone(), m.version), out.len());
            out.push(m);
        }
        for t in &tags {
            if let Some(&i) = by_id.get(&t.get::<i64>(0)?) {
                out[i].tags.insert(t.get(1)?, Value::from(t.get::<String>(2)?));
            }
        }
        for a in &aliases {
            if let Some(&i) = by_version.get(&(a.get::<String>(0)?, a.get::<i64>(1)?)) {
                out[i].aliases.push(a.get(2)?);
            }
        }
        Ok(out)
    }

    fn model(&self, r: &ModelRef) -> Result<ModelVersion> {
        let (name, version) = match r {
            ModelRef::Latest(n) => (n, None),
            ModelRef::Version(n, v) => (n, Some(*v)),
            ModelRef::Alias(n, a) => {
                let v: Option<i64> = self.read(|tx| {
                    tx.opt(
                        "SELECT version FROM model_aliases WHERE name = ?1 AND alias = ?2",
                        args![n, a],
                    )
                })?;
                let v = v.ok_or_else(|| Error::Store(format!("model '{n}' has no alias '{a}'")))?;
                (n, Some(v))
            }
        };
        let all = self.models(Some(name))?;
        if all.is_empty() {
            return Err(Error::Store(format!("no registered model named '{name}'")));
        }
        match version {
            None => all
                .into_iter()
                .last()
                .ok_or_else(|| Error::Store(format!("no model '{name}'"))),
            Some(v) => all
                .into_iter()
                .find(|m| m.version == v)
                .ok_or_else(|| Error::Store(format!("model '{name}' has no version {v}"))),
        }
    }

    fn set_alias(&self, name: &str, alias: &str, version: i64) -> Result<()> {
        self.write(|tx| {
            // Checked inside the transaction, so a concurrent delete cannot slip in between.
            if live_model_id(tx, name, version)?.is_none() {
                return Err(Error::Store(format!("model '{name}' has no version {version}")));
            }
            tx.exec(
                "INSERT INTO model_aliases (name, alias, version) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                args![name, alias, version],
            )?;
            tx.exec(
                "INSERT INTO model_alias_history (name, alias, version, moved) VALUES (?1, ?2, ?3, ?4)",
                args![name, alias, version, now()],
            )?;
            Ok(())
        })
    }

    fn alias_history(&self, name: &str) -> Result<Vec<(String, i64, f64)>> {
        let rows = self.read(|tx| {
            tx.query(
                "SELECT alias, version, moved FROM model_alias_history WHERE name = ?1 ORDER BY id",
                args![name],
            )
        })?;
        rows.iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .collect()
    }

    fn tag_model(&self, name: &str, version: i64, tags: &[(String, String)]) -> Result<()> {
        self.write(|tx| {
            let id = live_model_id(tx, name, version)?
                .ok_or_else(|| Error::Store(format!("model '{name}' has no version {version}")))?;
            for (k, v) in tags {
                tx.exec(
                    "INSERT INTO model_tags (model_id, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
                    args![id, k, v],
                )?;
            }
            Ok(())
        })
    }

    fn delete_model(&self, name: &str, version: i64) -> Result<()> {
        self.write(|tx| {
            if live_model_id(tx, name, version)?.is_none() {
                return Err(Error::Store(format!("model '{name}' has no version {version}")));
            }
            let aliases: Vec<String> = tx.column(
                "SELECT alias FROM model_aliases WHERE name = ?1 AND version = ?2 ORDER BY alias",
                args![name, version],
            )?;
            if !aliases.is_empty() {
                let list: Vec<String> = aliases.iter().map(|a| format!("@{a}")).collect();
                return Err(Error::Store(format!(
                    "model {name}:{version} is the target of alias(es) {}; move them first",
                    list.join(", ")
                )));
            }
            // Soft delete: the row stays so its version number is never handed out again.
            tx.exec(
                "UPDATE models SET deleted = 1 WHERE name = ?1 AND version = ?2",
                args![name, version],
            )?;
            Ok(())
        })
    }

    fn set_run_dataset(&self, run: RunId, name: &str, version: i64) -> Result<()> {
        self.write(|tx| {
            tx.exec(
                "UPDATE runs SET dataset_id = (SELECT id FROM datasets WHERE name = ?1 AND version = ?2) WHERE id = ?3",
                args![name, version, run],
            )
            .map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewRun, Registry, Store};

    fn registry_versions_aliases_and_protected_delete(s: SqlStore) {
        let run = s
            .create_run(&NewRun {
                experiment: "e".into(),
                name: "r".into(),
                ..NewRun::default()
            })
            .unwrap();
        let metrics = serde_json::json!({"accuracy": 0.9});
        assert_eq!(
            s.register_model("iris", run, "a/1", "first", &metrics).unwrap(),
            1
        );
        assert_eq!(
            s.register_model("iris", run, "a/1", "second", &metrics).unwrap(),
            2
        );
        assert!(s.register_model("bad:name", run, "x", "", &metrics).is_err());
        s.set_alias("iris", "champion", 1).unwrap();
        s.set_alias("iris", "champion", 2).unwrap();
        assert!(s.set_alias("iris", "champion", 7).is_err());
        assert_eq!(
            s.model(&ModelRef::parse("iris@champion").unwrap())
                .unwrap()
                .version,
            2
        );
        assert_eq!(s.model(&ModelRef::parse("iris").unwrap()).unwrap().version, 2);
        assert_eq!(
            s.model(&ModelRef::parse("iris:1").unwrap()).unwrap().description,
            "first"
        );
        assert_eq!(
            s.alias_history("iris")
                .unwrap()
                .iter()
                .map(|h| h.1)
                .collect::<Vec<_>>(),
            vec![1, 2]
        );
        let err = s.delete_model("iris", 2).unwrap_err().to_string();
        assert!(err.contains("@champion"), "{err}");
        s.tag_model("iris", 1, &[("stage".into(), "old".into())]).unwrap();
        s.delete_model("iris", 1).unwrap();
        assert_eq!(s.models(Some("iris")).unwrap().len(), 1);
        assert!(s.model(&ModelRef::parse("iris:1").unwrap()).is_err());
        assert!(s.delete_model("iris", 1).is_err(), "already deleted");
        s.set_alias("iris", "old", 1).unwrap_err();
        assert_eq!(
            s.register_model("iris", run, "a/1", "third", &metrics).unwrap(),
            3,
            "numbers are not reused"
        );
        assert!(ModelRef::parse("iris:x").is_err());
    }

    fn identical_dataset_content_is_not_a_new_version(s: SqlStore) {
        let p = serde_json::json!({"rows": 3});
        let (a, new_a) = s.register_dataset("d", "h1", "datasets/d/h1/x.csv", &p).unwrap();
        let (b, new_b) = s.register_dataset("d", "h1", "datasets/d/h1/x.csv", &p).unwrap();
        let (c, new_c) = s.register_dataset("d", "h2", "datasets/d/h2/x.csv", &p).unwrap();
        assert!(new_a && !new_b && new_c);
        assert_eq!((a.version, b.version, c.version), (1, 1, 2));
        assert_eq!(c.path, "datasets/d/h2/x.csv");
    }

    crate::store::on_both_backends!(
        registry_versions_aliases_and_protected_delete,
        identical_dataset_content_is_not_a_new_version
    );
}
