//! Endpoint keys. The workspace stores only their SHA-256 digests; each key is derived from the
//! workspace's secret file (`secret.key`, created on first use, readable by its owner only), the
//! endpoint, the slot (primary / secondary) and how often that slot was regenerated, so
//! `automl endpoints keys NAME` can show them again and a regeneration changes one at once.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::{Blobs, Endpoint, Keys};

/// The two key slots.
pub const SLOTS: [&str; 2] = ["primary", "secondary"];

/// The workspace's secret, created on first use: a database blob in a workspace that keeps its
/// files in the database (shared by every machine), else `secret.key` in the folder.
pub fn secret(store: &dyn Blobs, root: &Path) -> Result<String> {
    if store.keeps_blobs() {
        let new = crate::tracking::random_key()?;
        let s = store.blob_or_put("secret.key", new.as_bytes())?;
        return Ok(String::from_utf8_lossy(&s).trim().to_string());
    }
    let path = root.join("secret.key");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if s.trim().len() >= 32 {
            return Ok(s.trim().to_string());
        }
    }
    let s = crate::tracking::random_key()?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(&path) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(s.as_bytes()).map_err(|e| Error::io(&path, e))?;
            Ok(s)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(&path)
            .map(|t| t.trim().to_string())
            .map_err(|e| Error::io(&path, e)),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// The key of `endpoint` (created with `salt`)'s `slot` at `generation`. The salt is new for
/// each endpoint created, so an endpoint deleted and created again under the same name never
/// brings back a key that was regenerated away.
pub fn key(secret: &str, endpoint: &str, salt: &str, slot: &str, generation: u32) -> String {
    let d = Sha256::digest(format!("{secret}\n{endpoint}\n{salt}\n{slot}\n{generation}").as_bytes());
    d.iter().take(24).map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of a key.
pub fn digest(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Key digests for an endpoint with `salt` at `generations`.
pub fn keys_for(secret: &str, endpoint: &str, salt: &str, generations: (u32, u32)) -> Keys {
    Keys {
        primary: digest(&key(secret, endpoint, salt, SLOTS[0], generations.0)),
        secondary: digest(&key(secret, endpoint, salt, SLOTS[1], generations.1)),
        generations,
        salt: salt.to_string(),
    }
}

/// The endpoint's current keys (primary, secondary).
pub fn current(secret: &str, e: &Endpoint) -> (String, String) {
    (
        key(secret, &e.name, &e.keys.salt, SLOTS[0], e.keys.generations.0),
        key(secret, &e.name, &e.keys.salt, SLOTS[1], e.keys.generations.1),
    )
}

/// Whether `Authorization: Bearer KEY` (or the bare key) matches one of the digests, compared in
/// constant time.
pub fn admits(keys: &Keys, header: Option<&str>) -> bool {
    let Some(h) = header else {
        return false;
    };
    let token = h.strip_prefix("Bearer ").unwrap_or(h).trim();
    if token.is_empty() {
        return false;
    }
    let got = digest(token);
    let same = |want: &str| crate::tracking::ct_eq(got.as_bytes(), want.as_bytes());
    // Both compared, whatever the first gives.
    let a = same(&keys.primary);
    let b = same(&keys.secondary);
    a | b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_derive_check_and_regenerate() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::SqlStore::in_memory().unwrap();
        let s = secret(&store, dir.path()).unwrap();
        assert_eq!(secret(&store, dir.path()).unwrap(), s, "created once");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let k = keys_for(&s, "ep", "salt1", (0, 0));
        let p = key(&s, "ep", "salt1", "primary", 0);
        let q = key(&s, "ep", "salt1", "secondary", 0);
        assert_ne!(
            p,
            key(&s, "ep", "salt2", "primary", 0),
            "a new endpoint of the same name"
        );
        assert_ne!(p, q);
        assert!(admits(&k, Some(&format!("Bearer {p}"))));
        assert!(admits(&k, Some(&q)));
        assert!(!admits(&k, Some("Bearer nope")));
        assert!(!admits(&k, None));
        let k2 = keys_for(&s, "ep", "salt1", (1, 0));
        assert!(!admits(&k2, Some(&p)), "a regenerated primary key is refused");
        assert!(admits(&k2, Some(&q)), "the secondary still works");
    }
}
