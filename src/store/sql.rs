//! The SQL both backends share: values, rows, transactions and the database handle.
//!
//! Every store module writes its SQL once against [`Tx`], with `?N` placeholders and the types
//! SQLite and PostgreSQL share (BIGINT ids, DOUBLE PRECISION, TEXT, and a blob type). [`Db`]
//! runs a closure in one transaction: SQLite takes an immediate transaction for writes,
//! PostgreSQL an advisory transaction lock, so writers are serialised on both and
//! read-then-write sequences (next version number, claim a trial) are atomic. The PostgreSQL
//! driver reconnects and reruns the closure when the server went away before the commit, so the
//! closure must touch nothing but the transaction.

use crate::error::{Error, Result};

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// SQL NULL.
    Null,
    /// An integer (BIGINT).
    Int(i64),
    /// A float (DOUBLE PRECISION).
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes (BLOB / BYTEA).
    Blob(Vec<u8>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}
impl From<usize> for Val {
    fn from(v: usize) -> Val {
        Val::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::Real(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(v.to_string())
    }
}
impl From<&&str> for Val {
    fn from(v: &&str) -> Val {
        Val::Text((*v).to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Val {
        Val::Text(v.clone())
    }
}
impl From<&[u8]> for Val {
    fn from(v: &[u8]) -> Val {
        Val::Blob(v.to_vec())
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map_or(Val::Null, Into::into)
    }
}

/// Statement arguments: `args![a, b]` is `&[Val::from(a), Val::from(b)]`.
macro_rules! args {
    ($($x:expr),* $(,)?) => { &[$($crate::store::sql::Val::from($x)),*] };
}
pub(crate) use args;

/// A Rust type read from a [`Val`].
pub trait FromVal: Sized {
    /// The value as `Self`; `None` when the types do not match.
    fn from_val(v: &Val) -> Option<Self>;
}
impl FromVal for i64 {
    fn from_val(v: &Val) -> Option<i64> {
        match v {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }
}
impl FromVal for f64 {
    fn from_val(v: &Val) -> Option<f64> {
        match v {
            Val::Real(f) => Some(*f),
            Val::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromVal for String {
    fn from_val(v: &Val) -> Option<String> {
        match v {
            Val::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromVal for Vec<u8> {
    fn from_val(v: &Val) -> Option<Vec<u8>> {
        match v {
            Val::Blob(b) => Some(b.clone()),
            Val::Text(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }
}
impl<T: FromVal> FromVal for Option<T> {
    fn from_val(v: &Val) -> Option<Option<T>> {
        match v {
            Val::Null => Some(None),
            other => T::from_val(other).map(Some),
        }
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Val>);

impl Row {
    /// Column `i` as `T`; an error naming the column when it is missing or of another type.
    pub fn get<T: FromVal>(&self, i: usize) -> Result<T> {
        let v = self
            .0
            .get(i)
            .ok_or_else(|| Error::Store(format!("result has no column {i}")))?;
        T::from_val(v).ok_or_else(|| {
            Error::Store(format!(
                "column {i} holds {v:?}, not a {}",
                std::any::type_name::<T>()
            ))
        })
    }

    /// Columns `a` and `b` as a text pair.
    pub fn text_pair(&self) -> Result<(String, String)> {
        Ok((self.get(0)?, self.get(1)?))
    }
}

/// One open transaction.
pub trait Tx {
    /// Execute a statement; returns the number of rows it changed.
    fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64>;
    /// Run a query; returns every row.
    fn query(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Row>>;
    /// Execute several statements without arguments (schema migrations).
    fn batch(&mut self, sql: &str) -> Result<()>;
}

impl dyn Tx + '_ {
    /// The first column of the first row, if any row.
    pub fn opt<T: FromVal>(&mut self, sql: &str, args: &[Val]) -> Result<Option<T>> {
        match self.query(sql, args)?.first() {
            Some(r) => r.get(0).map(Some),
            None => Ok(None),
        }
    }

    /// The first column of the first row (an error when there is no row).
    pub fn one<T: FromVal>(&mut self, sql: &str, args: &[Val]) -> Result<T> {
        self.opt(sql, args)?
            .ok_or_else(|| Error::Store(format!("no row for: {}", first_line(sql))))
    }

    /// The first column of every row.
    pub fn column<T: FromVal>(&mut self, sql: &str, args: &[Val]) -> Result<Vec<T>> {
        self.query(sql, args)?.iter().map(|r| r.get(0)).collect()
    }

    /// Run an INSERT and return the new row's `id`.
    pub fn insert(&mut self, sql: &str, args: &[Val]) -> Result<i64> {
        self.one(&format!("{sql} RETURNING id"), args)
    }
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or(sql).trim()
}

/// The SQL dialect of a [`Db`]: where the two differ (schema types only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// Schema text with its type words filled in: `{ID}` (an auto-numbered BIGINT primary key),
    /// `{INT}` and `{BLOB}`.
    pub fn schema(self, sql: &str) -> String {
        let (id, int, blob) = match self {
            Dialect::Sqlite => ("INTEGER PRIMARY KEY", "INTEGER", "BLOB"),
            Dialect::Postgres => (
                "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                "BIGINT",
                "BYTEA",
            ),
        };
        sql.replace("{ID}", id)
            .replace("{INT}", int)
            .replace("{BLOB}", blob)
    }
}

/// A database: runs closures in transactions.
pub trait Db: Send + Sync {
    /// What to call the database in messages (a path, or a URL without its password).
    fn label(&self) -> &str;
    /// Its dialect.
    fn dialect(&self) -> Dialect;
    /// Run `f` in one transaction (serialised with other writers when `write`), committing when
    /// it returns `Ok`. A backend may run `f` again after reconnecting.
    fn transact(&self, write: bool, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()>;
}

/// Run `f` in a write transaction (serialised with every other writer) and return its value.
pub fn write<T>(db: &dyn Db, mut f: impl FnMut(&mut dyn Tx) -> Result<T>) -> Result<T> {
    run(db, true, &mut f)
}

/// Run `f` in a read transaction (one consistent view) and return its value.
pub fn read<T>(db: &dyn Db, mut f: impl FnMut(&mut dyn Tx) -> Result<T>) -> Result<T> {
    run(db, false, &mut f)
}

fn run<T>(db: &dyn Db, write: bool, f: &mut dyn FnMut(&mut dyn Tx) -> Result<T>) -> Result<T> {
    let mut out = None;
    db.transact(write, &mut |tx| {
        out = Some(f(tx)?);
        Ok(())
    })?;
    out.ok_or_else(|| Error::Store(format!("{}: transaction returned nothing", db.label())))
}

/// `sql` with `?N` placeholders rewritten as PostgreSQL's `$N` (a bare `?` takes the next
/// number), leaving quoted text alone.
pub fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1usize;
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                if digits.is_empty() {
                    digits = next.to_string();
                }
                next = digits.parse::<usize>().map_or(next, |n| n + 1);
                out.push('$');
                out.push_str(&digits);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_dollars_outside_quotes() {
        assert_eq!(
            dollar_placeholders("SELECT a FROM t WHERE x = ?1 AND y = ?2 OR x = ?1"),
            "SELECT a FROM t WHERE x = $1 AND y = $2 OR x = $1"
        );
        assert_eq!(dollar_placeholders("VALUES (?, ?)"), "VALUES ($1, $2)");
        assert_eq!(
            dollar_placeholders("WHERE a = '?' AND b = ?3"),
            "WHERE a = '?' AND b = $3"
        );
    }

    #[test]
    fn schema_words_follow_the_dialect() {
        let s = "CREATE TABLE t (id {ID}, n {INT}, b {BLOB})";
        assert_eq!(
            Dialect::Sqlite.schema(s),
            "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, b BLOB)"
        );
        assert!(Dialect::Postgres
            .schema(s)
            .contains("BIGINT GENERATED BY DEFAULT AS IDENTITY"));
    }

    #[test]
    fn rows_convert_and_name_mismatches() {
        let r = Row(vec![Val::Int(3), Val::Null, Val::Text("x".into())]);
        assert_eq!(r.get::<i64>(0).unwrap(), 3);
        assert_eq!(r.get::<f64>(0).unwrap(), 3.0);
        assert_eq!(r.get::<Option<String>>(1).unwrap(), None);
        assert!(r.get::<i64>(2).is_err());
        assert!(r.get::<i64>(9).is_err());
    }
}
