//! The SQLite driver of [`Db`]: one connection behind a mutex, WAL journal, a busy timeout, and
//! immediate transactions for writers.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, TransactionBehavior};

use super::sql::{Db, Dialect, Row, Tx, Val};
use crate::error::{Error, Result};

/// One SQLite database (a file, or memory).
pub struct Sqlite {
    conn: Mutex<Connection>,
    label: String,
}

fn db_err(label: &str) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Store(format!("{label}: {e}"))
}

impl Sqlite {
    /// Open or create the database file.
    pub fn open(path: &Path) -> Result<Sqlite> {
        let label = path.display().to_string();
        let conn = Connection::open(path).map_err(db_err(&label))?;
        Self::init(conn, label)
    }

    /// A private database in memory.
    pub fn in_memory() -> Result<Sqlite> {
        let conn = Connection::open_in_memory().map_err(db_err("memory"))?;
        Self::init(conn, "memory".into())
    }

    fn init(conn: Connection, label: String) -> Result<Sqlite> {
        let e = db_err(&label);
        conn.busy_timeout(Duration::from_secs(30)).map_err(&e)?;
        // journal_mode answers with a row; a file that is not a database fails here.
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
            .map_err(|err| Error::Store(format!("{label}: not a usable automl database ({err})")))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            .map_err(&e)?;
        conn.set_prepared_statement_cache_capacity(64);
        drop(e);
        Ok(Sqlite {
            conn: Mutex::new(conn),
            label,
        })
    }

    /// Run SQLite's integrity check; `Ok(())` when the database is sound.
    pub fn integrity_check(&self) -> Result<()> {
        let c = self.lock()?;
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

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| Error::Store(format!("{}: connection poisoned by an earlier panic", self.label)))
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Val::Int(i) => ToSqlOutput::from(*i),
            Val::Real(f) => ToSqlOutput::from(*f),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Val::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

struct SqliteTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    label: &'a str,
}

impl Tx for SqliteTx<'_> {
    fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64> {
        let e = db_err(self.label);
        let mut st = self.tx.prepare_cached(sql).map_err(&e)?;
        let n = st.execute(rusqlite::params_from_iter(args)).map_err(&e)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Row>> {
        let e = db_err(self.label);
        let mut st = self.tx.prepare_cached(sql).map_err(&e)?;
        let n = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(args)).map_err(&e)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(&e)? {
            let mut cells = Vec::with_capacity(n);
            for i in 0..n {
                cells.push(match r.get_ref(i).map_err(&e)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(v) => Val::Int(v),
                    ValueRef::Real(v) => Val::Real(v),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Val::Blob(b.to_vec()),
                });
            }
            out.push(Row(cells));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.tx.execute_batch(sql).map_err(db_err(self.label))
    }
}

impl Db for Sqlite {
    fn label(&self) -> &str {
        &self.label
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn transact(&self, write: bool, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        let e = db_err(&self.label);
        let mut c = self.lock()?;
        let behavior = if write {
            TransactionBehavior::Immediate
        } else {
            TransactionBehavior::Deferred
        };
        let tx = c.transaction_with_behavior(behavior).map_err(&e)?;
        f(&mut SqliteTx {
            tx: &tx,
            label: &self.label,
        })?;
        tx.commit().map_err(&e)
    }
}
