//! SQLite backend of the [`Store`](super::Store): WAL journal, busy timeout, immediate transactions,
//! and a schema version table with forward-only migrations.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, TransactionBehavior};
use serde_json::{Map, Value};

use super::{now, Experiment, MetricPoint, NewRun, RunFilter, RunId, RunRecord, Store, TrialState};
use crate::error::{Error, Result};

/// Schema version this build writes; older databases are migrated, newer ones refused.
pub const SCHEMA_VERSION: i64 = 4;

const MIGRATIONS: &[&str] = &[
    // 1: experiments, runs (with children), metrics, tags, artifacts.
    "CREATE TABLE experiments (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created DOUBLE PRECISION NOT NULL
     );
     CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id),
        parent_id INTEGER REFERENCES runs(id),
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        started DOUBLE PRECISION NOT NULL,
        ended DOUBLE PRECISION,
        params TEXT NOT NULL,
        environment TEXT NOT NULL,
        error TEXT
     );
     CREATE INDEX runs_experiment ON runs(experiment_id);
     CREATE INDEX runs_parent ON runs(parent_id);
     CREATE TABLE metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        key TEXT NOT NULL,
        step INTEGER NOT NULL,
        value DOUBLE PRECISION NOT NULL,
        ts DOUBLE PRECISION NOT NULL
     );
     CREATE INDEX metrics_run ON metrics(run_id, key, step);
     CREATE TABLE tags (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (run_id, key)
     );
     CREATE TABLE artifacts (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        PRIMARY KEY (run_id, name)
     );",
    // 2: dataset versions, model registry with tags, aliases and alias history.
    "CREATE TABLE datasets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        hash TEXT NOT NULL,
        path TEXT NOT NULL,
        profile TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        UNIQUE (name, version),
        UNIQUE (name, hash)
     );
     ALTER TABLE runs ADD COLUMN dataset_id INTEGER REFERENCES datasets(id);
     CREATE TABLE models (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        path TEXT NOT NULL,
        description TEXT NOT NULL,
        metrics TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        UNIQUE (name, version)
     );
     CREATE TABLE model_tags (
        model_id INTEGER NOT NULL REFERENCES models(id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (model_id, key)
     );
     CREATE TABLE model_aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, alias)
     );
     CREATE TABLE model_alias_history (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        moved DOUBLE PRECISION NOT NULL
     );",
    // 3: what was exported where (`automl mlflow export`), so a second export updates.
    "CREATE TABLE exports (
        target TEXT NOT NULL,
        kind TEXT NOT NULL,
        local TEXT NOT NULL,
        remote TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (target, kind, local)
     );",
    // 4: endpoints and their deployments.
    "CREATE TABLE endpoints (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        auth TEXT NOT NULL,
        keys TEXT NOT NULL,
        traffic TEXT NOT NULL,
        mirror TEXT NOT NULL,
        description TEXT NOT NULL,
        settings TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL
     );
     CREATE TABLE deployments (
        endpoint TEXT NOT NULL REFERENCES endpoints(name),
        name TEXT NOT NULL,
        model TEXT NOT NULL,
        settings TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (endpoint, name)
     );",
];

/// A store in one SQLite database (a file, or memory).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    pub(crate) label: String,
}

pub(crate) fn db_err(label: &str) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Store(format!("{label}: {e}"))
}

impl SqliteStore {
    /// Open or create the database file, migrating an older schema.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let label = path.display().to_string();
        let conn = Connection::open(path).map_err(db_err(&label))?;
        Self::init(conn, label)
    }

    /// A private database in memory (tests, library users).
    pub fn in_memory() -> Result<SqliteStore> {
        let conn = Connection::open_in_memory().map_err(db_err("memory"))?;
        Self::init(conn, "memory".into())
    }

    fn init(mut conn: Connection, label: String) -> Result<SqliteStore> {
        let e = db_err(&label);
        conn.busy_timeout(Duration::from_secs(30)).map_err(&e)?;
        // journal_mode answers with a row; a file that is not a database fails here.
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
            .map_err(|err| Error::Store(format!("{label}: not a usable automl database ({err})")))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            .map_err(&e)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(&e)?;
        let current: Option<i64> = tx
            .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
            .map_err(&e)?;
        let current = current.unwrap_or(0);
        if current > SCHEMA_VERSION {
            return Err(Error::Store(format!(
                "{label}: database schema version {current} is newer than this automl supports \
                 ({SCHEMA_VERSION}); upgrade automl"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.execute_batch(sql).map_err(&e)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                params![i as i64 + 1],
            )
            .map_err(&e)?;
        }
        tx.commit().map_err(&e)?;
        drop(e);
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            label,
        })
    }

    pub(crate) fn conn(&self) -> Result<MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| Error::Store(format!("{}: connection poisoned by an earlier panic", self.label)))
    }

    /// Run SQLite's integrity check; `Ok(())` when the database is sound.
    pub fn integrity_check(&self) -> Result<()> {
        let c = self.conn()?;
        let r: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(db_err(&self.label))?;
        if r == "ok" {
            Ok(())
        } else {
            Err(Error::Store(format!(
                "{}: integrity check failed: {r}",
                self.label
            )))
        }
    }
}

fn insert_run(tx: &rusqlite::Transaction, run: &NewRun) -> rusqlite::Result<RunId> {
    let t = now();
    tx.execute(
        "INSERT INTO experiments (name, created) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        params![run.experiment, t],
    )?;
    let exp: i64 = tx.query_row(
        "SELECT id FROM experiments WHERE name = ?1",
        params![run.experiment],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO runs (experiment_id, parent_id, name, status, started, params, environment)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            exp,
            run.parent,
            run.name,
            run.status.unwrap_or(TrialState::Running).name(),
            t,
            Value::Object(run.params.clone()).to_string(),
            run.environment.to_string(),
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

fn insert_metrics(tx: &rusqlite::Transaction, id: RunId, points: &[MetricPoint]) -> rusqlite::Result<()> {
    let mut st =
        tx.prepare_cached("INSERT INTO metrics (run_id, key, step, value, ts) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for p in points {
        st.execute(params![id, p.key, p.step, p.value, p.timestamp])?;
    }
    Ok(())
}

fn finish(
    tx: &rusqlite::Transaction,
    id: RunId,
    status: TrialState,
    error: Option<&str>,
) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE runs SET status = ?1, ended = ?2, error = ?3 WHERE id = ?4",
        params![status.name(), now(), error, id],
    )
}

/// Rows of (text, value) from a statement taking one run id.
fn pairs<T: rusqlite::types::FromSql>(
    st: &mut rusqlite::CachedStatement,
    id: RunId,
) -> rusqlite::Result<Vec<(String, T)>> {
    st.query_map(params![id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, T>(1)?)))?
        .collect()
}

fn parse_map(s: &str) -> Map<String, Value> {
    match serde_json::from_str(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

impl Store for SqliteStore {
    fn create_run(&self, run: &NewRun) -> Result<RunId> {
        let e = db_err(&self.label);
        let mut c = self.conn()?;
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        let id = insert_run(&tx, run).map_err(&e)?;
        tx.commit().map_err(&e)?;
        Ok(id)
    }

    fn finish_run(&self, id: RunId, status: TrialState, error: Option<&str>) -> Result<()> {
        let e = db_err(&self.label);
        let mut c = self.conn()?;
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        if finish(&tx, id, status, error).map_err(&e)? == 0 {
            return Err(Error::Store(format!("no run {id}")));
        }
        tx.commit().map_err(&e)
    }

    fn log_metrics(&self, id: RunId, points: &[MetricPoint]) -> Result<()> {
        let e = db_err(&self.label);
        let mut c = self.conn()?;
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        insert_metrics(&tx, id, points).map_err(&e)?;
        tx.commit().map_err(&e)
    }

    fn set_tags(&self, id: RunId, tags: &[(&str, &str)]) -> Result<()> {
        let e = db_err(&self.label);
        let mut c = self.conn()?;
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        for (k, v) in tags {
            tx.execute(
                "INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                params![id, k, v],
            )
            .map_err(&e)?;
        }
        tx.commit().map_err(&e)
    }

    fn add_artifact(&self, id: RunId, name: &str, path: &str) -> Result<()> {
        let e = db_err(&self.label);
        let c = self.conn()?;
        c.execute(
            "INSERT INTO artifacts (run_id, name, path) VALUES (?1, ?2, ?3)
             ON CONFLICT (run_id, name) DO UPDATE SET path = excluded.path",
            params![id, name, path],
        )
        .map_err(&e)?;
        Ok(())
    }

    fn complete_run(
        &self,
        id: RunId,
        points: &[MetricPoint],
        status: TrialState,
        error: Option<&str>,
    ) -> Result<()> {
        let e = db_err(&self.label);
        let mut c = self.conn()?;
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        insert_metrics(&tx, id, points).map_err(&e)?;
        if finish(&tx, id, status, error).map_err(&e)? == 0 {
            return Err(Error::Store(format!("no run {id}")));
        }
        tx.commit().map_err(&e)
    }

    fn reopen_run(&self, id: RunId) -> Result<()> {
        let c = self.conn()?;
        let n = c
            .execute(
                "UPDATE runs SET status = 'running', ended = NULL, error = NULL WHERE id = ?1",
                params![id],
            )
            .map_err(db_err(&self.label))?;
        if n == 0 {
            return Err(Error::Store(format!("no run {id} in this workspace")));
        }
        Ok(())
    }

    fn run(&self, id: RunId) -> Result<RunRecord> {
        self.runs_where("r.id = ?1", &[&id])?
            .pop()
            .ok_or_else(|| Error::Store(format!("no run {id} in this workspace")))
    }

    fn runs(&self, f: &RunFilter) -> Result<Vec<RunRecord>> {
        let mut cond = vec!["1 = 1".to_string()];
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if let Some(x) = &f.experiment {
            args.push(Box::new(x.clone()));
            cond.push(format!("e.name = ?{}", args.len()));
        }
        match f.parent {
            Some(p) => {
                args.push(Box::new(p));
                cond.push(format!("r.parent_id = ?{}", args.len()));
            }
            None if !f.all_levels => cond.push("r.parent_id IS NULL".into()),
            None => {}
        }
        if let Some(s) = f.status {
            args.push(Box::new(s.name()));
            cond.push(format!("r.status = ?{}", args.len()));
        }
        let refs: Vec<&dyn rusqlite::ToSql> = args.iter().map(|b| b.as_ref()).collect();
        self.runs_where(&cond.join(" AND "), &refs)
    }

    fn metric_history(&self, id: RunId) -> Result<Vec<MetricPoint>> {
        let e = db_err(&self.label);
        let c = self.conn()?;
        let mut st = c
            .prepare("SELECT key, step, value, ts FROM metrics WHERE run_id = ?1 ORDER BY key, step, ts")
            .map_err(&e)?;
        let rows = st
            .query_map(params![id], |r| {
                Ok(MetricPoint {
                    key: r.get(0)?,
                    step: r.get(1)?,
                    value: r.get(2)?,
                    timestamp: r.get(3)?,
                })
            })
            .map_err(&e)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(&e)
    }

    fn experiments(&self) -> Result<Vec<Experiment>> {
        let e = db_err(&self.label);
        let c = self.conn()?;
        let mut st = c
            .prepare(
                "SELECT e.id, e.name, e.created,
                        (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.id AND r.parent_id IS NULL)
                 FROM experiments e ORDER BY e.id",
            )
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok(Experiment {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created: r.get(2)?,
                    runs: r.get(3)?,
                })
            })
            .map_err(&e)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(&e)
    }

    fn mark_running_killed(&self, ids: &[RunId]) -> Result<usize> {
        let e = db_err(&self.label);
        let mut c = self.conn()?;
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        let mut n = 0;
        for id in ids {
            n += tx
                .execute(
                    "UPDATE runs SET status = 'killed', ended = ?1, error = 'process died while running'
                     WHERE id = ?2 AND status = 'running'",
                    params![now(), id],
                )
                .map_err(&e)?;
        }
        tx.commit().map_err(&e)?;
        Ok(n)
    }
}

impl SqliteStore {
    fn runs_where(&self, cond: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<RunRecord>> {
        let e = db_err(&self.label);
        let c = self.conn()?;
        let sql = format!(
            "SELECT r.id, e.name, r.parent_id, r.name, r.status, r.started, r.ended, r.params,
                    r.environment, r.error,
                    (SELECT d.name || ':' || d.version FROM datasets d WHERE d.id = r.dataset_id)
             FROM runs r JOIN experiments e ON e.id = r.experiment_id
             WHERE {cond} ORDER BY r.id"
        );
        let mut st = c.prepare(&sql).map_err(&e)?;
        let rows = st
            .query_map(args, |r| {
                let status: String = r.get(4)?;
                let params: String = r.get(7)?;
                let env: String = r.get(8)?;
                Ok(RunRecord {
                    id: r.get(0)?,
                    experiment: r.get(1)?,
                    parent: r.get(2)?,
                    name: r.get(3)?,
                    status: status.parse().unwrap_or(TrialState::Failed),
                    started: r.get(5)?,
                    ended: r.get(6)?,
                    params: parse_map(&params),
                    metrics: Map::new(),
                    tags: Map::new(),
                    error: r.get(9)?,
                    environment: serde_json::from_str(&env).unwrap_or(Value::Null),
                    artifacts: Vec::new(),
                    dataset: r.get(10)?,
                })
            })
            .map_err(&e)?;
        let mut runs = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(&e)?;
        // Latest metric values, tags and artifacts per run.
        let mut latest = c
            .prepare_cached(
                "SELECT key, value FROM metrics m WHERE run_id = ?1 AND step = (
                    SELECT MAX(step) FROM metrics m2 WHERE m2.run_id = m.run_id AND m2.key = m.key)
                 ORDER BY key, ts",
            )
            .map_err(&e)?;
        let mut tags = c
            .prepare_cached("SELECT key, value FROM tags WHERE run_id = ?1 ORDER BY key")
            .map_err(&e)?;
        let mut arts = c
            .prepare_cached("SELECT name, path FROM artifacts WHERE run_id = ?1 ORDER BY name")
            .map_err(&e)?;
        for run in &mut runs {
            for (k, v) in pairs::<f64>(&mut latest, run.id).map_err(&e)? {
                run.metrics.insert(k, Value::from(v));
            }
            for (k, v) in pairs::<String>(&mut tags, run.id).map_err(&e)? {
                run.tags.insert(k, Value::from(v));
            }
            run.artifacts = pairs::<String>(&mut arts, run.id).map_err(&e)?;
        }
        Ok(runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Registry;

    /// Record a finished trial the way `automl run` does: started, then completed.
    fn record(
        s: &SqliteStore,
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

    #[test]
    fn runs_trials_metrics_tags_round_trip() {
        let s = SqliteStore::in_memory().unwrap();
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
        drop(SqliteStore::open(&p).unwrap());
        {
            let c = Connection::open(&p).unwrap();
            c.execute("INSERT INTO schema_version (version) VALUES (99)", [])
                .unwrap();
        }
        let e = SqliteStore::open(&p).err().unwrap().to_string();
        assert!(e.contains("newer than this automl supports"), "{e}");
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
        let e = SqliteStore::open(&junk).err().unwrap().to_string();
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
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.execute("INSERT INTO experiments (name, created) VALUES ('old', 0)", [])
                .unwrap();
        }
        let s = SqliteStore::open(&p).unwrap();
        let v: i64 = s
            .conn()
            .unwrap()
            .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
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

    #[test]
    fn killed_marks_only_running_runs() {
        let s = SqliteStore::in_memory().unwrap();
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
}
