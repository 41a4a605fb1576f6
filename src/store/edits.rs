//! What MLflow clients change beside runs and metrics: empty experiments, parameters logged after a
//! run started, a run's name, and the record of what was exported to which MLflow server.

use serde_json::{Map, Value};

use super::sql::args;
use super::{RunId, SqlStore};
use crate::error::{Error, Result};

/// One exported item: where it went and what was sent (a JSON document the exporter owns).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportEntry {
    /// The remote id (an MLflow run id, experiment id or model version).
    pub remote: String,
    /// What was sent so far (the exporter's own bookkeeping, JSON).
    pub state: Value,
}

/// Edits of runs and experiments beyond the run lifecycle, and the export log.
pub trait Edits: Send + Sync {
    /// Create an experiment without runs; an error when the name is taken.
    fn create_experiment(&self, name: &str) -> Result<i64>;
    /// Add parameters to a run. A key logged again with the same value is fine; with another value
    /// it is an error naming the key (parameters are immutable, as in MLflow).
    fn log_params(&self, id: RunId, params: &[(String, Value)]) -> Result<()>;
    /// Rename a run.
    fn rename_run(&self, id: RunId, name: &str) -> Result<()>;
    /// What was exported of `kind`/`local` to `target`.
    fn export_entry(&self, target: &str, kind: &str, local: &str) -> Result<Option<ExportEntry>>;
    /// Record what was exported of `kind`/`local` to `target`.
    fn set_export_entry(&self, target: &str, kind: &str, local: &str, entry: &ExportEntry) -> Result<()>;
}

impl Edits for SqlStore {
    fn create_experiment(&self, name: &str) -> Result<i64> {
        let id: Option<i64> = self.write(|tx| {
            tx.opt(
                "INSERT INTO experiments (name, created) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING RETURNING id",
                args![name, super::now()],
            )
        })?;
        id.ok_or_else(|| Error::Config(format!("experiment '{name}' already exists")))
    }

    fn log_params(&self, id: RunId, new: &[(String, Value)]) -> Result<()> {
        self.write(|tx| {
            let text: Option<String> = tx.opt("SELECT params FROM runs WHERE id = ?1", args![id])?;
            let text = text.ok_or_else(|| Error::Store(format!("no run {id} in this workspace")))?;
            let mut map = match serde_json::from_str(&text) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            for (k, v) in new {
                match map.get(k) {
                    Some(old) if old != v && param_text(old) != param_text(v) => {
                        return Err(Error::Config(format!(
                            "parameter '{k}' of run {id} is already {} and cannot be changed to {}",
                            param_text(old),
                            param_text(v)
                        )))
                    }
                    Some(_) => {}
                    None => {
                        map.insert(k.clone(), v.clone());
                    }
                }
            }
            tx.exec(
                "UPDATE runs SET params = ?1 WHERE id = ?2",
                args![Value::Object(map).to_string(), id],
            )
            .map(drop)
        })
    }

    fn rename_run(&self, id: RunId, name: &str) -> Result<()> {
        let n = self.write(|tx| tx.exec("UPDATE runs SET name = ?1 WHERE id = ?2", args![name, id]))?;
        if n == 0 {
            return Err(Error::Store(format!("no run {id} in this workspace")));
        }
        Ok(())
    }

    fn export_entry(&self, target: &str, kind: &str, local: &str) -> Result<Option<ExportEntry>> {
        let rows = self.read(|tx| {
            tx.query(
                "SELECT remote, state FROM exports WHERE target = ?1 AND kind = ?2 AND local = ?3",
                args![target, kind, local],
            )
        })?;
        match rows.first() {
            Some(r) => Ok(Some(ExportEntry {
                remote: r.get(0)?,
                state: serde_json::from_str(&r.get::<String>(1)?).unwrap_or(Value::Null),
            })),
            None => Ok(None),
        }
    }

    fn set_export_entry(&self, target: &str, kind: &str, local: &str, entry: &ExportEntry) -> Result<()> {
        self.write(|tx| {
            tx.exec(
                "INSERT INTO exports (target, kind, local, remote, state) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (target, kind, local) DO UPDATE SET remote = excluded.remote, state = excluded.state",
                args![target, kind, local, &entry.remote, entry.state.to_string()],
            )
            .map(drop)
        })
    }
}

/// A parameter value as text, the way MLflow shows it: strings as they are, others as JSON.
pub fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewRun, Store};

    fn params_are_added_once_and_never_changed(s: SqlStore) {
        let id = s
            .create_run(&NewRun {
                experiment: "e".into(),
                name: "r".into(),
                ..NewRun::default()
            })
            .unwrap();
        s.log_params(id, &[("lr".into(), Value::from("0.1"))]).unwrap();
        // The same value again (as text or as a number) is accepted.
        s.log_params(id, &[("lr".into(), Value::from(0.1))]).unwrap();
        let e = s
            .log_params(id, &[("lr".into(), Value::from("0.2"))])
            .unwrap_err();
        assert!(e.to_string().contains("parameter 'lr'"), "{e}");
        assert_eq!(s.run(id).unwrap().params["lr"], Value::from("0.1"));
        assert!(s.log_params(99, &[]).is_err());
        assert!(s.create_experiment("e").is_err());
        let x = s.create_experiment("new").unwrap();
        assert!(s.experiments().unwrap().iter().any(|e| e.id == x && e.runs == 0));
        s.rename_run(id, "renamed").unwrap();
        assert_eq!(s.run(id).unwrap().name, "renamed");
        assert_eq!(s.export_entry("http://x", "run", "1").unwrap(), None);
        let entry = ExportEntry {
            remote: "abc".into(),
            state: serde_json::json!({"metrics": 3}),
        };
        s.set_export_entry("http://x", "run", "1", &entry).unwrap();
        assert_eq!(s.export_entry("http://x", "run", "1").unwrap(), Some(entry));
    }

    crate::store::on_both_backends!(params_are_added_once_and_never_changed);
}
