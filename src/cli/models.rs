//! `automl models …`: the model registry (named, versioned models with tags and aliases).

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use automl::model::write_atomic;
use automl::store::ModelRef;
use automl::{Error, ModelFile, Result};

use super::flags::StoreArgs;
use super::output::{grid, print_json};

/// `automl models`.
#[derive(Subcommand)]
pub enum ModelsCmd {
    /// Register the best model of a run as the next version of NAME.
    Register {
        /// Model name.
        name: String,
        /// Run whose model to register.
        #[arg(long)]
        run: i64,
        /// Free-text description.
        #[arg(long, default_value = "")]
        description: String,
        /// Tag as KEY=VALUE (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// Point this alias (e.g. champion) at the new version.
        #[arg(long)]
        alias: Option<String>,
        #[command(flatten)]
        ws: StoreArgs,
    },
    /// List registered model versions.
    List {
        /// Only this model.
        name: Option<String>,
        #[command(flatten)]
        ws: StoreArgs,
    },
    /// Show one version: NAME, NAME:VERSION or NAME@ALIAS.
    Show {
        /// Model reference.
        model: String,
        #[command(flatten)]
        ws: StoreArgs,
    },
    /// Point ALIAS of NAME at VERSION (the move is recorded).
    Alias {
        /// Model name.
        name: String,
        /// Alias, e.g. champion.
        alias: String,
        /// Version.
        version: i64,
        #[command(flatten)]
        ws: StoreArgs,
    },
    /// Copy a version's model file out of the workspace.
    Export {
        /// Model reference: NAME, NAME:VERSION or NAME@ALIAS.
        model: String,
        /// Destination file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        ws: StoreArgs,
    },
    /// Delete a version (refused while an alias points at it).
    Delete {
        /// NAME:VERSION.
        model: String,
        #[command(flatten)]
        ws: StoreArgs,
    },
}

/// `@a @b` for aliases `a`, `b`.
fn aliases(names: &[String]) -> String {
    names
        .iter()
        .map(|a| format!("@{a}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `automl models …`.
pub fn models(c: ModelsCmd) -> Result<()> {
    match c {
        ModelsCmd::Register {
            name,
            run,
            description,
            tags,
            alias,
            ws,
        } => {
            let w = ws.ws.open_existing()?;
            let mut kv = Vec::new();
            for t in &tags {
                let (k, v) = t
                    .split_once('=')
                    .ok_or_else(|| Error::Config(format!("--tag '{t}' must be KEY=VALUE")))?;
                kv.push((k.to_string(), v.to_string()));
            }
            let v = w.register_run_model(&name, run, &description, &kv, alias.as_deref())?;
            if ws.json() {
                return print_json(&w.store.model(&ModelRef::Version(name, v))?);
            }
            println!("registered model {name}:{v} from run {run}");
            Ok(())
        }
        ModelsCmd::List { name, ws } => {
            let w = ws.ws.open_existing()?;
            let all = w.store.models(name.as_deref())?;
            if ws.json() {
                return print_json(&all);
            }
            let mut t = grid(&["model", "version", "run", "aliases", "metrics", "description"]);
            for m in all {
                let metrics = m
                    .metrics
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| format!("{k}={:.4}", v.as_f64().unwrap_or(f64::NAN)))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                t.add_row(vec![
                    m.name,
                    m.version.to_string(),
                    m.run.to_string(),
                    aliases(&m.aliases),
                    metrics,
                    m.description,
                ]);
            }
            println!("{t}");
            Ok(())
        }
        ModelsCmd::Show { model, ws } => {
            let w = ws.ws.open_existing()?;
            let m = w.store.model(&ModelRef::parse(&model)?)?;
            let info = ModelFile::read_info(&w.file(&m.path)?)?;
            let history = w.store.alias_history(&m.name)?;
            let run = w.store.run(m.run)?;
            if ws.json() {
                return print_json(&json!({
                    "model": m, "learner": info.config.learner, "task": info.schema.task,
                    "target": info.schema.target, "classes": info.schema.classes, "cv_score": info.cv_score,
                    "metric": info.metric, "alias_history": history, "run_environment": run.environment,
                    "dataset": run.dataset, "stacked": info.stacker.is_some(),
                    "members": info.ensemble.iter().map(|e| json!({
                        "trial": e.trial, "weight": e.weight, "learner": e.config.learner,
                        "cv_score": e.cv_score, "fold_models": e.bag,
                    })).collect::<Vec<_>>(),
                }));
            }
            println!(
                "model {}:{} (run {}, experiment '{}')",
                m.name, m.version, m.run, run.experiment
            );
            if !m.description.is_empty() {
                println!("description: {}", m.description);
            }
            println!(
                "learner {}; task {} on '{}'; {} {:.4} ({})",
                info.config.learner,
                info.schema.task.name(),
                info.schema.target,
                info.metric,
                info.cv_score,
                info.validation
            );
            println!("params: {}", info.config.params.short());
            if let Some(line) = members_line(&info) {
                println!("{line}");
            }
            if !m.aliases.is_empty() {
                println!("aliases: {}", aliases(&m.aliases));
            }
            for (k, v) in &m.tags {
                println!("tag {k} = {}", v.as_str().unwrap_or_default());
            }
            for (alias, version, _) in history {
                println!("alias history: @{alias} -> {version}");
            }
            if let Some(d) = &run.dataset {
                println!("dataset version: {d}");
            }
            if let Some(d) = run.environment.get("data_hash") {
                println!(
                    "trained on {} (hash {})",
                    run.environment
                        .get("data_file")
                        .and_then(|f| f.as_str())
                        .unwrap_or("?"),
                    d.as_str().unwrap_or("?")
                );
            }
            println!("file: {}", w.file(&m.path)?.display());
            Ok(())
        }
        ModelsCmd::Alias {
            name,
            alias,
            version,
            ws,
        } => {
            let w = ws.ws.open_existing()?;
            w.store.set_alias(&name, &alias, version)?;
            println!("@{alias} of {name} now points at version {version}");
            Ok(())
        }
        ModelsCmd::Export { model, out, ws } => {
            let w = ws.ws.open_existing()?;
            let m = w.store.model(&ModelRef::parse(&model)?)?;
            let path = w.file(&m.path)?;
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            write_atomic(&out, &bytes)?;
            println!("exported {}:{} to {}", m.name, m.version, out.display());
            Ok(())
        }
        ModelsCmd::Delete { model, ws } => {
            let w = ws.ws.open_existing()?;
            let ModelRef::Version(name, v) = ModelRef::parse(&model)? else {
                return Err(Error::Config(format!(
                    "give the version to delete as NAME:VERSION, not '{model}'"
                )));
            };
            w.store.delete_model(&name, v)?;
            println!("deleted model {name}:{v}");
            Ok(())
        }
    }
}

/// The members of an ensemble model (or the fold models of a bagged one), in one line; `None`
/// for a single pipeline.
fn members_line(info: &automl::model::ModelInfo) -> Option<String> {
    if info.ensemble.is_empty() {
        return None;
    }
    let kind = if info.stacker.is_some() {
        "stack"
    } else {
        "ensemble"
    };
    let parts: Vec<String> = info
        .ensemble
        .iter()
        .map(|e| {
            let bag = if e.bag > 1 {
                format!(", {} fold models", e.bag)
            } else {
                String::new()
            };
            format!("trial {} {} ({:.2}{bag})", e.trial, e.config.learner, e.weight)
        })
        .collect();
    Some(if info.ensemble.len() == 1 {
        format!("fitted as: {}", parts.join(""))
    } else {
        format!("{kind} of {}: {}", info.ensemble.len(), parts.join(", "))
    })
}
