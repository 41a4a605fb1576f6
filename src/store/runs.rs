//! The run store ([`Store`]) over either database: experiments, runs with child runs, step
//! metrics, tags and artifact records, each change one transaction.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::postgres::Postgres;
use super::sql::{self, args, Db, Tx, Val};
use super::sqlite::Sqlite;
use super::{now, Experiment, MetricPoint, NewRun, RunFilter, RunId, RunRecord, Store, TrialState};
use crate::error::{Error, Result};

/// A workspace database: SQLite (a file, or memory) or PostgreSQL, behind one implementation of
/// every store trait.
pub struct SqlStore {
    pub(crate) db: Box<dyn Db>,
    sqlite: Option<std::sync::Arc<Sqlite>>,
}

/// An `Arc<Sqlite>` is a [`Db`] too (the store keeps one for the integrity check).
impl Db for std::sync::Arc<Sqlite> {
    fn label(&self) -> &str {
        self.as_ref().label()
    }
    fn dialect(&self) -> sql::Dialect {
        self.as_ref().dialect()
    }
    fn transact(&self, write: bool, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        self.as_ref().transact(write, f)
    }
}

impl SqlStore {
    /// Open or create a SQLite database file, migrating an older schema.
    pub fn open(path: &Path) -> Result<SqlStore> {
        Self::sqlite(Sqlite::open(path)?)
    }

    /// A private SQLite database in memory (tests, library users).
    pub fn in_memory() -> Result<SqlStore> {
        Self::sqlite(Sqlite::in_memory()?)
    }

    /// Connect to a PostgreSQL database (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`), creating
    /// or migrating the schema.
    pub fn connect(url: &str) -> Result<SqlStore> {
        Self::init(Box::new(Postgres::connect(url)?), None)
    }

    fn sqlite(db: Sqlite) -> Result<SqlStore> {
        let db = std::sync::Arc::new(db);
        Self::init(Box::new(db.clone()), Some(db))
    }

    fn init(db: Box<dyn Db>, sqlite: Option<std::sync::Arc<Sqlite>>) -> Result<SqlStore> {
        super::schema::migrate(db.as_ref())?;
        Ok(SqlStore { db, sqlite })
    }

    /// The database in messages (a path, or a URL without its password).
    pub fn label(&self) -> &str {
        self.db.label()
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.db.dialect() == sql::Dialect::Postgres
    }

    /// Run a write transaction.
    pub(crate) fn write<T>(&self, f: impl FnMut(&mut dyn Tx) -> Result<T>) -> Result<T> {
        sql::write(self.db.as_ref(), f)
    }

    /// Run a read transaction.
    pub(crate) fn read<T>(&self, f: impl FnMut(&mut dyn Tx) -> Result<T>) -> Result<T> {
        sql::read(self.db.as_ref(), f)
    }

    /// Check the database: SQLite's integrity check; PostgreSQL answers a query.
    pub fn integrity_check(&self) -> Result<()> {
        match &self.sqlite {
            Some(s) => s.integrity_check(),
            None => self.read(|tx| tx.one::<i64>("SELECT 1", &[]).map(drop)),
        }
    }
}

fn insert_run(tx: &mut dyn Tx, run: &NewRun) -> Result<RunId> {
    let t = now();
    tx.exec(
        "INSERT INTO experiments (name, created) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        args![&run.experiment, t],
    )?;
    let exp: i64 = tx.one(
        "SELECT id FROM experiments WHERE name = ?1",
        args![&run.experiment],
    )?;
    tx.insert(
        "INSERT INTO runs (experiment_id, parent_id, name, status, started, params, environment)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![
            exp,
            run.parent,
            &run.name,
            run.status.unwrap_or(TrialState::Running).name(),
            t,
            Value::Object(run.params.clone()).to_string(),
            run.environment.to_string(),
        ],
    )
}

pub(crate) fn insert_metrics(tx: &mut dyn Tx, id: RunId, points: &[MetricPoint]) -> Result<()> {
    for p in points {
        tx.exec(
            "INSERT INTO metrics (run_id, key, step, value, ts) VALUES (?1, ?2, ?3, ?4, ?5)",
            args![id, &p.key, p.step, p.value, p.timestamp],
        )?;
    }
    Ok(())
}

fn upsert_artifact(tx: &mut dyn Tx, id: RunId, name: &str, path: &str) -> Result<()> {
    tx.exec(
        "INSERT INTO artifacts (run_id, name, path) VALUES (?1, ?2, ?3)
         ON CONFLICT (run_id, name) DO UPDATE SET path = excluded.path",
        args![id, name, path],
    )
    .map(drop)
}

pub(crate) fn finish(tx: &mut dyn Tx, id: RunId, status: TrialState, error: Option<&str>) -> Result<()> {
    let n = tx.exec(
        "UPDATE runs SET status = ?1, ended = ?2, error = ?3 WHERE id = ?4",
        args![status.name(), now(), error, id],
    )?;
    if n == 0 {
        return Err(Error::Store(format!("no run {id}")));
    }
    Ok(())
}

pub(crate) fn parse_map(s: &str) -> Map<String, Value> {
    match serde_json::from_str(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

impl Store for SqlStore {
    fn create_run(&self, run: &NewRun) -> Result<RunId> {
        self.write(|tx| insert_run(tx, run))
    }

    fn finish_run(&self, id: RunId, status: TrialState, error: Option<&str>) -> Result<()> {
        self.write(|tx| finish(tx, id, status, error))
    }

    fn log_metrics(&self, id: RunId, points: &[MetricPoint]) -> Result<()> {
        self.write(|tx| insert_metrics(tx, id, points))
    }

    fn set_tags(&self, id: RunId, tags: &[(&str, &str)]) -> Result<()> {
        self.write(|tx| {
            for (k, v) in tags {
                tx.exec(
                    "INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                    args![id, k, v],
                )?;
            }
            Ok(())
        })
    }

    fn add_artifact(&self, id: RunId, name: &str, path: &str) -> Result<()> {
        self.write(|tx| upsert_artifact(tx, id, name, path))
    }

    fn add_artifact_file(&self, id: RunId, name: &str, path: &str, file: &Path) -> Result<()> {
        if !self.is_postgres() {
            return self.add_artifact(id, name, path);
        }
        let data = std::fs::read(file).map_err(|e| Error::io(file, e))?;
        self.write(|tx| {
            upsert_artifact(tx, id, name, path)?;
            super::blobs::upsert_blob(tx, path, &data)
        })
    }

    fn complete_run(
        &self,
        id: RunId,
        points: &[MetricPoint],
        status: TrialState,
        error: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            insert_metrics(tx, id, points)?;
            finish(tx, id, status, error)
        })
    }

    fn reopen_run(&self, id: RunId) -> Result<()> {
        let n = self.write(|tx| {
            tx.exec(
                "UPDATE runs SET status = 'running', ended = NULL, error = NULL WHERE id = ?1",
                args![id],
            )
        })?;
        if n == 0 {
            return Err(Error::Store(format!("no run {id} in this workspace")));
        }
        Ok(())
    }

    fn run(&self, id: RunId) -> Result<RunRecord> {
        self.runs_where("r.id = ?1", args![id])?
            .pop()
            .ok_or_else(|| Error::Store(format!("no run {id} in this workspace")))
    }

    fn runs(&self, f: &RunFilter) -> Result<Vec<RunRecord>> {
        let mut cond = vec!["1 = 1".to_string()];
        let mut args: Vec<Val> = Vec::new();
        if let Some(x) = &f.experiment {
            args.push(x.into());
            cond.push(format!("e.name = ?{}", args.len()));
        }
        match f.parent {
            Some(p) => {
                args.push(p.into());
                cond.push(format!("r.parent_id = ?{}", args.len()));
            }
            None if !f.all_levels => cond.push("r.parent_id IS NULL".into()),
            None => {}
        }
        if let Some(s) = f.status {
            args.push(s.name().into());
            cond.push(format!("r.status = ?{}", args.len()));
        }
        self.runs_where(&cond.join(" AND "), &args)
    }

    fn metric_history(&self, id: RunId) -> Result<Vec<MetricPoint>> {
        let rows = self.read(|tx| {
            tx.query(
                "SELECT key, step, value, ts FROM metrics WHERE run_id = ?1 ORDER BY key, step, ts",
                args![id],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(MetricPoint {
                    key: r.get(0)?,
                    step: r.get(1)?,
                    value: r.get(2)?,
                    timestamp: r.get(3)?,
                })
            })
            .collect()
    }

    fn experiments(&self) -> Result<Vec<Experiment>> {
        let rows = self.read(|tx| {
            tx.query(
                "SELECT e.id, e.name, e.created,
                        (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.id AND r.parent_id IS NULL)
                 FROM experiments e ORDER BY e.id",
                &[],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(Experiment {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created: r.get(2)?,
                    runs: r.get(3)?,
                })
            })
            .collect()
    }

    fn mark_running_killed(&self, ids: &[RunId]) -> Result<usize> {
        self.write(|tx| {
            let mut n = 0;
            for id in ids {
                n += tx.exec(
                    "UPDATE runs SET status = 'killed', ended = ?1, error = 'process died while running'
                     WHERE id = ?2 AND status = 'running'",
                    args![now(), *id],
                )?;
            }
            Ok(n as usize)
        })
    }
}

impl SqlStore {
    /// Runs matching `cond` (over `runs r JOIN experiments e`), with their latest metric values,
    /// tags and artifacts: four queries in one read transaction, however many runs match.
    fn runs_where(&self, cond: &str, args: &[Val]) -> Result<Vec<RunRecord>> {
        let from = format!("FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE {cond}");
        let (rows, metrics, tags, artifacts) = self.read(|tx| {
            let rows = tx.query(
                &format!(
                    "SELECT r.id, e.name, r.parent_id, r.name, r.status, r.started, r.ended, r.params,
                            r.environment, r.error,
                            (SELECT d.name || ':' || d.version FROM datasets d WHERE d.id = r.dataset_id)
                     {from} ORDER BY r.id"
                ),
                args,
            )?;
            let ids = format!("SELECT r.id {from}");
            let metrics = tx.query(
                &format!(
                    "SELECT m.run_id, m.key, m.value FROM metrics m WHERE m.run_id IN ({ids}) AND m.step = (
                        SELECT MAX(step) FROM metrics m2 WHERE m2.run_id = m.run_id AND m2.key = m.key)
                     ORDER BY m.run_id, m.key, m.ts"
                ),
                args,
            )?;
            let tags = tx.query(
                &format!("SELECT run_id, key, value FROM tags WHERE run_id IN ({ids}) ORDER BY run_id, key"),
                args,
            )?;
            let artifacts = tx.query(
                &format!(
                    "SELECT run_id, name, path FROM artifacts WHERE run_id IN ({ids}) ORDER BY run_id, name"
                ),
                args,
            )?;
            Ok((rows, metrics, tags, artifacts))
        })?;
        let mut runs = Vec::with_capacity(rows.len());
        let mut index = HashMap::with_capacity(rows.len());
        for r in &rows {
            let status: String = r.get(4)?;
            let env: String = r.get(8)?;
            let id: RunId = r.get(0)?;
            index.insert(id, runs.len());
            runs.push(RunRecord {
                id,
                experiment: r.get(1)?,
                parent: r.get(2)?,
                name: r.get(3)?,
                status: status.parse().unwrap_or(TrialState::Failed),
                started: r.get(5)?,
                ended: r.get(6)?,
                params: parse_map(&r.get::<String>(7)?),
                metrics: Map::new(),
                tags: Map::new(),
                error: r.get(9)?,
                environment: serde_json::from_str(&env).unwrap_or(Value::Null),
                artifacts: Vec::new(),
                dataset: r.get(10)?,
            });
        }
        for m in &metrics {
            if let Some(run) = owner(&mut runs, &index, m)? {
                run.metrics.insert(m.get(1)?, Value::from(m.get::<f64>(2)?));
            }
        }
        for t in &tags {
            if let Some(run) = owner(&mut runs, &index, t)? {
                run.tags.insert(t.get(1)?, Value::from(t.get::<String>(2)?));
            }
        }
        for a in &artifacts {
            if let Some(run) = owner(&mut runs, &index, a)? {
                run.artifacts.push((a.get(1)?, a.get(2)?));
            }
        }
        Ok(runs)
    }
}

/// The run whose id is column 0 of `row`.
fn owner<'a>(
    runs: &'a mut [RunRecord],
    index: &HashMap<RunId, usize>,
    row: &sql::Row,
) -> Result<Option<&'a mut RunRecord>> {
    let id: RunId = row.get(0)?;
    Ok(index.get(&id).and_then(|&i| runs.get_mut(i)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::{MIGRATIONS, SCHEMA_VERSION};
    use crate::store::Registry;
    use rusqlite::Connection;

    /// Record a finished trial the way `automl run` does: started, then completed.
    fn record(
        s: &SqlStore,
        t: &NewRun,
        points: &[MetricPoint],
        status: TrialState,
        err: Option<&str>,
    ) -> RunId {
        let id = s.create_run(t).unwrap();
        s.complete_run(id, points, status, err).unwrap();
        id
    }

    fn trial(parent: RunId, name: &str) -> NewRun {
        let mut params = Map::new();
        params.insert("alpha".into(), Value::from(0.5));
        NewRun {
            experiment: "exp".into(),
            parent: Some(parent),
            name: name.into(),
            params,
            ..NewRun::default()
        }
    }

    fn point(key: &str, step: i64, value: f64) -> MetricPoint {
        MetricPoint::now(key, step, value)
    }

    fn runs_trials_metrics_tags_round_trip(s: SqlStore) {
        let parent = s
            .create_run(&NewRun {
                experiment: "exp".into(),
                name: "automl run".into(),
                environment: serde_json::json!({"seed": 3}),
                ..NewRun::default()
            })
            .unwrap();
        let pts = [point("r2", 0, 0.4), point("r2", 1, 0.6)];
        let t1 = record(&s, &trial(parent, "ridge"), &pts, TrialState::Completed, None);
        let t2 = record(
            &s,
            &trial(parent, "knn"),
            &[],
            TrialState::Failed,
            Some("k must be at least 1"),
        );
        s.set_tags(parent, &[("best", "ridge")]).unwrap();
        s.set_tags(parent, &[("best", "knn")]).unwrap();
        s.add_artifact(parent, "model", "artifacts/1/model.automl")
            .unwrap();
        s.finish_run(parent, TrialState::Completed, None).unwrap();

        let p = s.run(parent).unwrap();
        assert_eq!(p.status, TrialState::Completed);
        assert_eq!(p.tags["best"], "knn");
        assert_eq!(p.environment["seed"], 3);
        assert_eq!(
            p.artifacts,
            vec![("model".to_string(), "artifacts/1/model.automl".to_string())]
        );
        let kids = s
            .runs(&RunFilter {
                parent: Some(parent),
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(kids.iter().map(|r| r.id).collect::<Vec<_>>(), vec![t1, t2]);
        assert_eq!(kids[0].metrics["r2"], 0.6, "latest step wins");
        assert_eq!(kids[0].params["alpha"], 0.5);
        assert_eq!(kids[1].error.as_deref(), Some("k must be at least 1"));
        assert_eq!(s.metric_history(t1).unwrap().len(), 2);
        let top = s.runs(&RunFilter::default()).unwrap();
        assert_eq!(top.len(), 1, "children are not top-level runs");
        let failed = s
            .runs(&RunFilter {
                all_levels: true,
                status: Some(TrialState::Failed),
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(s.experiments().unwrap()[0].runs, 1);
        s.integrity_check().unwrap();
    }

    #[test]
    fn newer_schema_and_non_databases_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.db");
        drop(SqlStore::open(&p).unwrap());
        {
            let c = Connection::open(&p).unwrap();
            c.execute("INSERT INTO schema_version (version) VALUES (99)", [])
                .unwrap();
        }
        let e = SqlStore::open(&p).err().unwrap().to_string();
        assert!(e.contains("newer than this automl supports"), "{e}");
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
        let e = SqlStore::open(&junk).err().unwrap().to_string();
        assert!(e.contains("not a usable automl database"), "{e}");
    }

    #[test]
    fn version_one_databases_are_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v1.db");
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);")
                .unwrap();
            c.execute_batch(&crate::store::sql::Dialect::Sqlite.schema(MIGRATIONS[0]))
                .unwrap();
            c.execute("INSERT INTO experiments (name, created) VALUES ('old', 0)", [])
                .unwrap();
        }
        let s = SqlStore::open(&p).unwrap();
        let v: i64 = s
            .read(|tx| tx.one("SELECT MAX(version) FROM schema_version", &[]))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        assert_eq!(
            s.experiments().unwrap()[0].name,
            "old",
            "data survives the migration"
        );
        assert!(s.datasets(None).unwrap().is_empty());
        s.integrity_check().unwrap();
    }

    fn killed_marks_only_running_runs(s: SqlStore) {
        assert!(
            s.create_run(&trial(12345, "orphan")).is_err(),
            "parent must exist"
        );
        let r = s
            .create_run(&NewRun {
                experiment: "e".into(),
                name: "r".into(),
                ..NewRun::default()
            })
            .unwrap();
        let done = record(&s, &trial(r, "t"), &[], TrialState::Completed, None);
        assert_eq!(s.mark_running_killed(&[r, done]).unwrap(), 1);
        assert_eq!(s.run(r).unwrap().status, TrialState::Killed);
        assert_eq!(s.run(done).unwrap().status, TrialState::Completed);
    }

    crate::store::on_both_backends!(
        runs_trials_metrics_tags_round_trip,
        killed_marks_only_running_runs
    );
}
