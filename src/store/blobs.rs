//! Workspace files kept in the database. A PostgreSQL workspace stores every artifact (model
//! files, logs, registered data, the endpoint-key secret) as a blob under its workspace-relative
//! path, so `automl` processes on other machines need no shared filesystem: each keeps a local
//! cache folder and [`materialize`] fetches what it lacks. A SQLite workspace keeps its files in
//! its folder only.

use std::path::{Component, Path, PathBuf};

use super::sql::{args, Tx};
use super::SqlStore;
use crate::error::{Error, Result};

/// Files stored in the database beside the records.
pub trait Blobs: Send + Sync {
    /// Whether this backend keeps the workspace's files (PostgreSQL) rather than leaving them to
    /// the workspace folder (SQLite).
    fn keeps_blobs(&self) -> bool;
    /// Store `data` under the workspace-relative path `rel` (replacing it).
    fn put_blob(&self, rel: &str, data: &[u8]) -> Result<()>;
    /// The file stored under `rel`, if any.
    fn blob(&self, rel: &str) -> Result<Option<Vec<u8>>>;
    /// The file under `rel`; `data` is stored first when there is none (the first writer wins).
    fn blob_or_put(&self, rel: &str, data: &[u8]) -> Result<Vec<u8>>;
    /// The SHA-256 (hex) of the file stored under `rel`, if any.
    fn blob_digest(&self, rel: &str) -> Result<Option<String>>;
}

/// SHA-256 of `data`, in hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Store `data` under `rel` in transaction `tx` (replacing it).
pub(crate) fn upsert_blob(tx: &mut dyn Tx, rel: &str, data: &[u8]) -> Result<()> {
    tx.exec(
        "INSERT INTO blobs (path, data, sha256, created) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (path) DO UPDATE SET data = excluded.data, sha256 = excluded.sha256,
                                          created = excluded.created",
        args![rel, data, sha256_hex(data), super::now()],
    )
    .map(drop)
}

impl Blobs for SqlStore {
    fn keeps_blobs(&self) -> bool {
        self.is_postgres()
    }

    fn put_blob(&self, rel: &str, data: &[u8]) -> Result<()> {
        self.write(|tx| upsert_blob(tx, rel, data))
    }

    fn blob_digest(&self, rel: &str) -> Result<Option<String>> {
        self.read(|tx| tx.opt("SELECT sha256 FROM blobs WHERE path = ?1", args![rel]))
    }

    fn blob(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        self.read(|tx| tx.opt("SELECT data FROM blobs WHERE path = ?1", args![rel]))
    }

    fn blob_or_put(&self, rel: &str, data: &[u8]) -> Result<Vec<u8>> {
        self.write(|tx| {
            tx.exec(
                "INSERT INTO blobs (path, data, sha256, created) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (path) DO NOTHING",
                args![rel, data, sha256_hex(data), super::now()],
            )?;
            tx.one("SELECT data FROM blobs WHERE path = ?1", args![rel])
        })
    }
}

/// `rel` as a path inside `root`: relative, without `..` (a path read from the database never
/// leads outside the workspace folder).
pub fn inside(root: &Path, rel: &str) -> Result<PathBuf> {
    let p = Path::new(rel);
    if p.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        Ok(root.join(p))
    } else {
        Err(Error::Store(format!(
            "workspace path '{rel}' is not relative to the workspace"
        )))
    }
}

/// The local file for workspace path `rel`: `root/rel`, fetched from the database first when the
/// backend keeps blobs and the local copy is missing or differs from the stored one (checked by
/// SHA-256, so a file replaced in the database is never served stale). Written atomically, so
/// processes sharing the cache folder never see half a file.
pub fn materialize(store: &dyn Blobs, root: &Path, rel: &str) -> Result<PathBuf> {
    let path = inside(root, rel)?;
    if !store.keeps_blobs() {
        return Ok(path);
    }
    let want = store
        .blob_digest(rel)?
        .ok_or_else(|| Error::Store(format!("the workspace holds no file '{rel}'")))?;
    // The cached copy serves only while it matches the stored file (one may replace it).
    if std::fs::read(&path).is_ok_and(|local| sha256_hex(&local) == want) {
        return Ok(path);
    }
    let data = store
        .blob(rel)?
        .ok_or_else(|| Error::Store(format!("the workspace holds no file '{rel}'")))?;
    crate::model::write_atomic(&path, &data)?;
    Ok(path)
}

/// Store the local file `root/rel` in the database when the backend keeps blobs.
pub fn publish(store: &dyn Blobs, root: &Path, rel: &str) -> Result<()> {
    if !store.keeps_blobs() {
        return Ok(());
    }
    let path = inside(root, rel)?;
    let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    store.put_blob(rel, &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_the_database_stay_inside_the_workspace() {
        let root = Path::new("/ws");
        assert_eq!(
            inside(root, "artifacts/3/model.automl").unwrap(),
            root.join("artifacts/3/model.automl")
        );
        assert!(inside(root, "../etc/passwd").is_err());
        assert!(inside(root, "/etc/passwd").is_err());
        assert!(inside(root, "a/../../b").is_err());
    }

    fn files_round_trip(s: SqlStore) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("artifacts/1")).unwrap();
        std::fs::write(dir.path().join("artifacts/1/m.bin"), b"\x00model\xff").unwrap();
        publish(&s, dir.path(), "artifacts/1/m.bin").unwrap();
        let other = tempfile::tempdir().unwrap();
        if s.keeps_blobs() {
            // Another machine: an empty cache folder gets the same bytes.
            let p = materialize(&s, other.path(), "artifacts/1/m.bin").unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), b"\x00model\xff");
            // Replaced in the database: the cached copy is refreshed, not served stale.
            s.put_blob("artifacts/1/m.bin", b"v2").unwrap();
            let again = materialize(&s, other.path(), "artifacts/1/m.bin").unwrap();
            assert_eq!(std::fs::read(again).unwrap(), b"v2");
            assert_eq!(s.blob_or_put("secret", b"first").unwrap(), b"first");
            assert_eq!(
                s.blob_or_put("secret", b"second").unwrap(),
                b"first",
                "first writer wins"
            );
            assert!(materialize(&s, other.path(), "artifacts/9/none").is_err());
        } else {
            assert_eq!(
                s.blob("artifacts/1/m.bin").unwrap(),
                None,
                "SQLite keeps files in its folder"
            );
        }
    }
    crate::store::on_both_backends!(files_round_trip);
}
