//! What the benchmarks share: the dataset list.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every dataset in `datasets/` and `../shared/datasets` (a folder with `meta.json` and
/// `train.csv`; the project's copy wins), smallest training file first, so a short run still
/// covers most sets.
pub fn datasets(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = BTreeMap::new();
    for dir in [root.join("datasets"), root.join("../shared/datasets")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.join("meta.json").exists() && p.join("train.csv").exists() {
                out.entry(e.file_name().to_string_lossy().to_string())
                    .or_insert(p);
            }
        }
    }
    let mut v: Vec<(String, PathBuf)> = out.into_iter().collect();
    v.sort_by_key(|(_, p)| {
        std::fs::metadata(p.join("train.csv"))
            .map(|m| m.len())
            .unwrap_or(0)
    });
    v
}
