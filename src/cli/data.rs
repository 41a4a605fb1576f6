//! `automl data register|list`: registered dataset versions.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use automl::automl::register_dataset;
use automl::Result;

use super::flags::StoreArgs;
use super::output::{grid, print_json};

/// `automl data`.
#[derive(Subcommand)]
pub enum DataCmd {
    /// Register a data file under NAME (a copy is kept; identical content keeps its version).
    Register {
        /// Dataset name.
        name: String,
        /// CSV or Parquet file.
        file: PathBuf,
        #[command(flatten)]
        ws: StoreArgs,
    },
    /// List dataset versions.
    List(StoreArgs),
}

/// `automl data …`.
pub fn data(c: DataCmd) -> Result<()> {
    match c {
        DataCmd::Register { name, file, ws } => {
            let r = register_dataset(&ws.ws.root(), &name, &file)?;
            let d = r.version;
            if ws.json() {
                return print_json(&json!({"dataset": d, "new_version": r.new}));
            }
            if r.new {
                println!(
                    "registered {}:{} ({} rows, hash {})",
                    d.name, d.version, r.rows, d.hash
                );
            } else {
                println!(
                    "{}:{} already holds this content (hash {}); no new version",
                    d.name, d.version, d.hash
                );
            }
            Ok(())
        }
        DataCmd::List(ws) => {
            let w = ws.ws.open_existing()?;
            let all = w.store.datasets(None)?;
            if ws.json() {
                return print_json(&all);
            }
            let mut t = grid(&["dataset", "version", "rows", "hash", "path"]);
            for d in all {
                t.add_row(vec![
                    d.name,
                    d.version.to_string(),
                    d.profile["rows"].to_string(),
                    d.hash,
                    d.path,
                ]);
            }
            println!("{t}");
            Ok(())
        }
    }
}
