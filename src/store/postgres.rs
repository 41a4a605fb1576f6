//! The PostgreSQL driver of [`Db`]: a bounded pool of synchronous connections, prepared
//! statements cached per connection, an advisory transaction lock for writers, and reconnection
//! when the server goes away (a restart, a dropped connection): a transaction that lost its
//! connection before committing runs again on a new one, for up to [`RETRY_ENV`] seconds.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use super::sql::{dollar_placeholders, Db, Dialect, Row, Tx, Val};
use crate::error::{Error, Result};

/// Most connections one process opens (override with `AUTOML_DB_CONNECTIONS`).
pub const DEFAULT_CONNECTIONS: usize = 4;
/// Environment variable: seconds to keep retrying when the server cannot be reached (default 60).
pub const RETRY_ENV: &str = "AUTOML_DB_RETRY";
/// The advisory lock every writer takes, serialising writes as SQLite's immediate transactions do.
const WRITE_LOCK: i64 = 0x6175_746f_6d6c; // "automl"

/// Round trips to any PostgreSQL server made by this process (statements, prepares, BEGIN,
/// the write lock and COMMIT): what the worker benchmark divides by trials.
static ROUND_TRIPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Round trips to PostgreSQL servers so far in this process.
pub fn round_trips() -> u64 {
    ROUND_TRIPS.load(std::sync::atomic::Ordering::Relaxed)
}

fn trip() {
    ROUND_TRIPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Whether `s` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
pub fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or("");
            format!("{scheme}://{name}:***@{host}")
        }
        _ => url.to_string(),
    }
}

/// A PostgreSQL database reached by URL.
pub struct Postgres {
    config: postgres::Config,
    label: String,
    pool: Mutex<Pool>,
    freed: Condvar,
    max: usize,
    retry: Duration,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Conn>,
    open: usize,
}

struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// How one attempt at a transaction ended.
enum Failure {
    /// The connection was lost before the commit: safe to run again on a new one.
    Lost(Error),
    /// Anything else.
    Failed(Error),
}

fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// Whether `e` means the connection is gone (rather than a problem with the statement).
fn connection_lost(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        // Class 08 (connection exception) and 57P01..57P03 (shutdown, crash, cannot connect now).
        Some(code) => code.code().starts_with("08") || code.code().starts_with("57P0"),
        None => std::error::Error::source(e).is_some_and(|c| c.is::<std::io::Error>()),
    }
}

impl Postgres {
    /// Connect to `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`; the password may come from
    /// `PGPASSWORD`). Fails at once, naming the server, when it cannot be reached or refuses us.
    pub fn connect(url: &str) -> Result<Postgres> {
        let label = redact(url);
        let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            Error::Config(format!("{label}: not a PostgreSQL URL: {}", describe(&e)))
        })?;
        if config.get_password().is_none() {
            if let Ok(p) = std::env::var("PGPASSWORD") {
                config.password(p);
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("automl");
        let max = std::env::var("AUTOML_DB_CONNECTIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(DEFAULT_CONNECTIONS);
        let retry = std::env::var(RETRY_ENV)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(Duration::from_secs(60), Duration::from_secs_f64);
        let db = Postgres {
            config,
            label,
            pool: Mutex::new(Pool::default()),
            freed: Condvar::new(),
            max,
            retry,
        };
        let first = db.open_conn()?;
        db.lock().open = 1;
        db.checkin(first);
        Ok(db)
    }

    fn open_conn(&self) -> Result<Conn> {
        let client = self
            .config
            .connect(NoTls)
            .map_err(|e| Error::Store(format!("{}: cannot connect: {}", self.label, describe(&e))))?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection, a new one while under the cap, else wait for one to come back.
    fn checkout(&self) -> Result<Conn> {
        let since = Instant::now();
        let mut pool = self.lock();
        loop {
            if let Some(c) = pool.idle.pop() {
                if !c.client.is_closed() {
                    return Ok(c);
                }
                pool.open -= 1;
                continue;
            }
            if pool.open < self.max {
                pool.open += 1;
                drop(pool);
                return self.open_conn().inspect_err(|_| self.lock().open -= 1);
            }
            if since.elapsed() > self.retry {
                return Err(Error::Store(format!(
                    "{}: all {} connections of this process stayed busy for {:.0} s",
                    self.label,
                    self.max,
                    self.retry.as_secs_f64()
                )));
            }
            pool = self
                .freed
                .wait_timeout(pool, Duration::from_secs(1))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    fn checkin(&self, c: Conn) {
        let mut pool = self.lock();
        if c.client.is_closed() {
            pool.open = pool.open.saturating_sub(1);
        } else {
            pool.idle.push(c);
        }
        drop(pool);
        self.freed.notify_one();
    }
}

impl Conn {
    fn attempt(
        &mut self,
        write: bool,
        label: &str,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>,
    ) -> std::result::Result<(), Failure> {
        let classify = |e: postgres::Error| {
            let err = Error::Store(format!("{label}: {}", describe(&e)));
            if connection_lost(&e) {
                Failure::Lost(err)
            } else {
                Failure::Failed(err)
            }
        };
        // Reads see one snapshot (a run and its metrics, tags and artifacts agree).
        let mut builder = self.client.build_transaction();
        if !write {
            builder = builder
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true);
        }
        trip();
        let mut tx = builder.start().map_err(classify)?;
        if write {
            trip();
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .map_err(classify)?;
        }
        let mut t = PgTx {
            tx: &mut tx,
            statements: &mut self.statements,
            label,
            lost: false,
        };
        let r = f(&mut t);
        let lost = t.lost;
        match r {
            Ok(()) => {
                trip();
                tx.commit()
                    .map_err(|e| Failure::Failed(Error::Store(format!("{label}: commit: {}", describe(&e)))))
            }
            Err(e) if lost => Err(Failure::Lost(e)),
            Err(e) => Err(Failure::Failed(e)),
        }
    }
}

struct PgTx<'a, 'b> {
    tx: &'a mut postgres::Transaction<'b>,
    statements: &'a mut HashMap<String, Statement>,
    label: &'a str,
    lost: bool,
}

impl PgTx<'_, '_> {
    fn err(&mut self, e: &postgres::Error) -> Error {
        if connection_lost(e) {
            self.lost = true;
        }
        Error::Store(format!("{}: {}", self.label, describe(e)))
    }

    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        trip();
        let st = match self.tx.prepare(&dollar_placeholders(sql)) {
            Ok(st) => st,
            Err(e) => return Err(self.err(&e)),
        };
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Val::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::FLOAT8 => f.to_sql(ty, out),
                _ => Err(format!("a float cannot be bound to a {ty} parameter").into()),
            },
            Val::Text(s) if <&str as ToSql>::accepts(ty) => s.as_str().to_sql(ty, out),
            Val::Blob(b) if *ty == Type::BYTEA => b.as_slice().to_sql(ty, out),
            Val::Text(_) | Val::Blob(_) => {
                Err(format!("{self:?} cannot be bound to a {ty} parameter").into())
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn cell(row: &postgres::Row, i: usize) -> std::result::Result<Val, postgres::Error> {
    let ty = row.columns()[i].type_().clone();
    Ok(match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map_or(Val::Null, Val::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Val::Null, |v| Val::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map_or(Val::Null, |v| Val::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Val::Null, |v| Val::Int(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map_or(Val::Null, Val::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)?
            .map_or(Val::Null, |v| Val::Real(v.into())),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Val::Null, Val::Blob),
        _ => row.try_get::<_, Option<String>>(i)?.map_or(Val::Null, Val::Text),
    })
}

impl Tx for PgTx<'_, '_> {
    fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64> {
        let st = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        trip();
        match self.tx.execute(&st, &params) {
            Ok(n) => Ok(n),
            Err(e) => Err(self.err(&e)),
        }
    }

    fn query(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Row>> {
        let st = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        trip();
        let rows = match self.tx.query(&st, &params) {
            Ok(r) => r,
            Err(e) => return Err(self.err(&e)),
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut cells = Vec::with_capacity(r.len());
            for i in 0..r.len() {
                match cell(r, i) {
                    Ok(v) => cells.push(v),
                    Err(e) => return Err(self.err(&e)),
                }
            }
            out.push(Row(cells));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        match self.tx.batch_execute(sql) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.err(&e)),
        }
    }
}

impl Db for Postgres {
    fn label(&self) -> &str {
        &self.label
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn transact(&self, write: bool, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        let deadline = Instant::now() + self.retry;
        let mut pause = Duration::from_millis(100);
        loop {
            let result = match self.checkout() {
                Ok(mut conn) => {
                    let r = conn.attempt(write, &self.label, f);
                    self.checkin(conn);
                    r
                }
                Err(e) => Err(Failure::Lost(e)),
            };
            match result {
                Ok(()) => return Ok(()),
                Err(Failure::Lost(_)) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(Failure::Lost(e) | Failure::Failed(e)) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recognised_and_passwords_hidden() {
        assert!(is_url("postgres://u@h/db") && is_url("postgresql://u@h/db"));
        assert!(!is_url("./automl-workspace"));
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn bad_urls_and_dead_servers_are_clear_errors() {
        let e = Postgres::connect("postgres://u@h:notaport/db")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a PostgreSQL URL"), "{e}");
        // Port 1 on loopback: nothing listens there.
        let e = Postgres::connect("postgres://u:pw@127.0.0.1:1/db")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("postgres://u:***@127.0.0.1:1/db: cannot connect"),
            "{e}"
        );
        assert!(!e.contains("pw"), "{e}");
    }
}
