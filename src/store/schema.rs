//! The workspace schema, written once for SQLite and PostgreSQL (`{ID}`, `{INT}` and `{BLOB}` are
//! filled in per dialect), with a version table and forward-only migrations.

use super::sql::{self, args, Db};
use crate::error::{Error, Result};

/// Schema version this build writes; older databases are migrated, newer ones refused.
pub const SCHEMA_VERSION: i64 = 5;

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: experiments, runs (with children), metrics, tags, artifacts.
    "CREATE TABLE experiments (
        id {ID},
        name TEXT NOT NULL UNIQUE,
        created DOUBLE PRECISION NOT NULL
     );
     CREATE TABLE runs (
        id {ID},
        experiment_id {INT} NOT NULL REFERENCES experiments(id),
        parent_id {INT} REFERENCES runs(id),
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
        run_id {INT} NOT NULL REFERENCES runs(id),
        key TEXT NOT NULL,
        step {INT} NOT NULL,
        value DOUBLE PRECISION NOT NULL,
        ts DOUBLE PRECISION NOT NULL
     );
     CREATE INDEX metrics_run ON metrics(run_id, key, step);
     CREATE TABLE tags (
        run_id {INT} NOT NULL REFERENCES runs(id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (run_id, key)
     );
     CREATE TABLE artifacts (
        run_id {INT} NOT NULL REFERENCES runs(id),
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        PRIMARY KEY (run_id, name)
     );",
    // 2: dataset versions, model registry with tags, aliases and alias history.
    "CREATE TABLE datasets (
        id {ID},
        name TEXT NOT NULL,
        version {INT} NOT NULL,
        hash TEXT NOT NULL,
        path TEXT NOT NULL,
        profile TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        UNIQUE (name, version),
        UNIQUE (name, hash)
     );
     ALTER TABLE runs ADD COLUMN dataset_id {INT} REFERENCES datasets(id);
     CREATE TABLE models (
        id {ID},
        name TEXT NOT NULL,
        version {INT} NOT NULL,
        run_id {INT} NOT NULL REFERENCES runs(id),
        path TEXT NOT NULL,
        description TEXT NOT NULL,
        metrics TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        deleted {INT} NOT NULL DEFAULT 0,
        UNIQUE (name, version)
     );
     CREATE TABLE model_tags (
        model_id {INT} NOT NULL REFERENCES models(id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (model_id, key)
     );
     CREATE TABLE model_aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version {INT} NOT NULL,
        PRIMARY KEY (name, alias)
     );
     CREATE TABLE model_alias_history (
        id {ID},
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version {INT} NOT NULL,
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
    // 5: artifacts as database blobs (PostgreSQL workspaces need no shared filesystem), trial
    // claims with heartbeats, and the workers taking part in distributed runs.
    "CREATE TABLE blobs (
        path TEXT PRIMARY KEY,
        data {BLOB} NOT NULL,
        sha256 TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL
     );
     CREATE TABLE claims (
        run_id {INT} NOT NULL REFERENCES runs(id),
        trial {INT} NOT NULL,
        worker TEXT NOT NULL,
        attempt {INT} NOT NULL,
        state TEXT NOT NULL,
        heartbeat DOUBLE PRECISION NOT NULL,
        child {INT},
        PRIMARY KEY (run_id, trial)
     );
     CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        run_id {INT} REFERENCES runs(id),
        host TEXT NOT NULL,
        pid {INT} NOT NULL,
        devices TEXT NOT NULL,
        started DOUBLE PRECISION NOT NULL,
        heartbeat DOUBLE PRECISION NOT NULL,
        trials {INT} NOT NULL DEFAULT 0
     );",
];

/// Bring `db` to [`SCHEMA_VERSION`] in one write transaction (so workers starting together
/// migrate once); refuse a database written by a newer automl.
pub fn migrate(db: &dyn Db) -> Result<()> {
    let dialect = db.dialect();
    let label = db.label().to_string();
    sql::write(db, |tx| {
        tx.batch(&dialect.schema("CREATE TABLE IF NOT EXISTS schema_version (version {INT} NOT NULL)"))?;
        let current: i64 = tx
            .opt::<Option<i64>>("SELECT MAX(version) FROM schema_version", &[])?
            .flatten()
            .unwrap_or(0);
        if current > SCHEMA_VERSION {
            return Err(Error::Store(format!(
                "{label}: database schema version {current} is newer than this automl supports \
                 ({SCHEMA_VERSION}); upgrade automl"
            )));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.batch(&dialect.schema(m))?;
            tx.exec("INSERT INTO schema_version (version) VALUES (?1)", args![i + 1])?;
        }
        Ok(())
    })
}
