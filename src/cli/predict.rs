//! `automl predict`, and the predicting and scoring `automl run` shares with it.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use automl::model::{predictions_csv, write_atomic};
use automl::store::{ModelRef, Workspace};
use automl::{Error, Metric, ModelFile, Result, Table};

use super::flags::{JsonArgs, WorkspaceArgs};
use super::output::print_json;

/// The flags of `automl predict`.
#[derive(Args)]
#[command(mut_arg("workspace", |a| a.help(
    "Workspace holding the registry (default: $AUTOML_WORKSPACE, else ./automl-workspace)"
)))]
#[command(mut_arg("json", |a| a.help("Print a JSON summary on stdout")))]
pub struct PredictArgs {
    /// Model file written by `automl run`, or a registered model: NAME, NAME:VERSION, NAME@ALIAS.
    #[arg(long, value_name = "FILE|NAME")]
    model: PathBuf,
    #[command(flatten)]
    ws: WorkspaceArgs,
    /// Data to predict (CSV or Parquet, same columns as training; the target may be absent).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Output CSV: `prediction` plus one probability column per class.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    output: JsonArgs,
}

/// Score the model on a labelled file with every reported metric of the task (and its primary
/// metric).
pub fn score_test(model: &ModelFile, path: &Path, notes: &mut Vec<String>) -> Result<Vec<(String, f64)>> {
    score_test_table(model, &Table::read(path)?, path, notes)
}

/// [`score_test`] on a table already read (from `origin`, named in errors).
pub fn score_test_table(
    model: &ModelFile,
    table: &Table,
    origin: &Path,
    notes: &mut Vec<String>,
) -> Result<Vec<(String, f64)>> {
    let path = origin;
    let (truth, pred) = model.predict_labelled(table, notes).map_err(|e| match e {
        Error::Data(m) => Error::Data(format!("{}: {m}", path.display())),
        other => other,
    })?;
    // The model's primary metric first when the task's report set lacks it (an Azure job's
    // AUC_weighted, say).
    let mut set = Metric::report_set(model.schema.task).to_vec();
    if let Ok(m) = model.metric.parse::<Metric>() {
        if !set.contains(&m) {
            set.insert(0, m);
        }
    }
    set.iter()
        .map(|m| Ok((m.name().to_string(), m.score(&truth, &pred)?)))
        .collect()
}

/// Predict the rows of `input` and write them as CSV to `out`; returns the number of rows.
pub fn predict_file(model: &ModelFile, input: &Path, out: &Path, notes: &mut Vec<String>) -> Result<usize> {
    let table = Table::read(input)?;
    let pred = model.predict_table(&table, notes)?;
    write_atomic(out, predictions_csv(&model.schema, &pred).as_bytes())?;
    Ok(table.n_rows)
}

/// `automl predict`.
pub fn predict(a: PredictArgs) -> Result<()> {
    let path = if a.model.exists() {
        a.model.clone()
    } else {
        let reference = a.model.to_string_lossy().to_string();
        let root = a.ws.root();
        if !Workspace::exists(&root) {
            return Err(Error::io(
                &a.model,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        let ws = Workspace::open(&root)?;
        let m = ws.store.model(&ModelRef::parse(&reference)?)?;
        eprintln!(
            "note: using registered model {}:{} (run {})",
            m.name, m.version, m.run
        );
        ws.file(&m.path)?
    };
    let model = ModelFile::load(&path)?;
    let mut notes = Vec::new();
    let n = predict_file(&model, &a.data, &a.out, &mut notes)?;
    if a.output.json {
        print_json(&json!({"rows": n, "out": a.out, "notes": notes, "learner": model.config.learner}))?;
    } else {
        for n in &notes {
            eprintln!("note: {n}");
        }
        println!("{n} predictions written to {}", a.out.display());
    }
    Ok(())
}
