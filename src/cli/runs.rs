//! What the workspace recorded: `automl experiments list`, `automl runs list|show` and
//! `automl leaderboard`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use automl::model::write_atomic;
use automl::report::{Leaderboard, Report};
use automl::store::{keys, RunFilter, RunRecord, TrialState};
use automl::{Error, Metric, Result};

use super::flags::{StoreArgs, WorkspaceArgs};
use super::output::{grid, print_json};

/// The flags of `automl leaderboard`.
#[derive(Args)]
pub struct LeaderboardArgs {
    /// Run id, or experiment name (every run of it).
    which: String,
    /// Completed trials to show (failed, pruned and other trials are summarised).
    #[arg(long, default_value_t = 20, value_name = "N")]
    top: usize,
    /// table, md, csv, json (every trial; schema in src/report/mod.rs) or html (a self-contained
    /// page with charts and, for `automl run` runs, data profile and best-model diagnostics).
    #[arg(long, default_value = "table", value_name = "FORMAT")]
    format: String,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    ws: WorkspaceArgs,
}

/// `automl experiments`.
#[derive(Subcommand)]
pub enum ExperimentsCmd {
    /// List experiments with their number of runs.
    List(StoreArgs),
}

/// `automl runs`.
#[derive(Subcommand)]
pub enum RunsCmd {
    /// List the top-level runs (of one experiment), newest last.
    List {
        /// Experiment name (default: all).
        experiment: Option<String>,
        /// Only runs in this state: queued, running, completed, pruned, failed, timed_out, killed.
        #[arg(long)]
        status: Option<String>,
        /// Sort by this metric, best first (direction from the metric's name).
        #[arg(long, value_name = "METRIC")]
        sort: Option<String>,
        #[command(flatten)]
        ws: StoreArgs,
    },
    /// Show one run: params, final metrics, metric history, trials, error, environment.
    Show {
        /// Run id.
        run: i64,
        #[command(flatten)]
        ws: StoreArgs,
    },
}

/// `automl leaderboard`.
pub fn leaderboard(a: LeaderboardArgs) -> Result<()> {
    let w = a.ws.open_existing()?;
    let lb = Leaderboard::load(w.store.as_ref(), &a.which)?;
    let text = match a.format.as_str() {
        "md" | "markdown" => lb.markdown(a.top),
        "csv" => lb.csv(a.top),
        "json" => lb.json()? + "\n",
        "table" => {
            let (header, rows) = lb.cells(a.top);
            let mut t = grid(&header.iter().map(String::as_str).collect::<Vec<_>>());
            for r in rows {
                t.add_row(r);
            }
            format!("{t}\n{}\n", lb.summary())
        }
        "html" => Report::load(w.store.as_ref(), &a.which, Some(&w))?.html(),
        o => {
            return Err(Error::Config(format!(
                "unknown format '{o}' (table, md, csv, json, html)"
            )))
        }
    };
    match &a.out {
        Some(p) => write_atomic(p, text.as_bytes())?,
        None => print!("{text}"),
    }
    Ok(())
}

/// `automl experiments …`.
pub fn experiments(c: ExperimentsCmd) -> Result<()> {
    let ExperimentsCmd::List(ws) = c;
    let w = ws.ws.open_existing()?;
    let exps = w.store.experiments()?;
    if ws.json() {
        return print_json(&exps);
    }
    let mut t = grid(&["id", "experiment", "runs"]);
    for e in exps {
        t.add_row(vec![e.id.to_string(), e.name, e.runs.to_string()]);
    }
    println!("{t}");
    Ok(())
}

/// `automl runs …`.
pub fn runs(c: RunsCmd) -> Result<()> {
    match c {
        RunsCmd::List {
            experiment,
            status,
            sort,
            ws,
        } => runs_list(experiment, status, sort, &ws),
        RunsCmd::Show { run, ws } => runs_show(run, &ws),
    }
}

fn metric_of(r: &RunRecord, key: &str) -> Option<f64> {
    r.metrics.get(key).and_then(serde_json::Value::as_f64)
}

fn runs_list(
    experiment: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    ws: &StoreArgs,
) -> Result<()> {
    let w = ws.ws.open_existing()?;
    let status = status.as_deref().map(str::parse::<TrialState>).transpose()?;
    let mut runs = w.store.runs(&RunFilter {
        experiment,
        status,
        ..RunFilter::default()
    })?;
    if let Some(key) = &sort {
        let higher = key.parse::<Metric>().map_or(true, Metric::higher_is_better);
        runs.sort_by(|a, b| {
            let (x, y) = (metric_of(a, key), metric_of(b, key));
            match (x, y) {
                (Some(x), Some(y)) if higher => y.total_cmp(&x),
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.id.cmp(&b.id),
            }
        });
    }
    if ws.json() {
        return print_json(&runs);
    }
    let mut t = grid(&[
        "run",
        "experiment",
        "status",
        "best learner",
        "metric",
        "trials",
        "duration s",
    ]);
    for r in &runs {
        let metric = r.params.get("metric").and_then(|m| m.as_str()).unwrap_or("");
        let score = metric_of(r, metric).map_or("-".into(), |v| format!("{metric} {v:.4}"));
        let tag = |k: &str| r.tags.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_string();
        t.add_row(vec![
            r.id.to_string(),
            r.experiment.clone(),
            r.status.name().to_string(),
            tag("best_learner"),
            score,
            tag("trials"),
            format!("{:.1}", r.duration()),
        ]);
    }
    println!("{t}");
    Ok(())
}

fn runs_show(id: i64, ws: &StoreArgs) -> Result<()> {
    let w = ws.ws.open_existing()?;
    let run = w.store.run(id)?;
    let history = w.store.metric_history(id)?;
    let children = w.store.runs(&RunFilter {
        parent: Some(id),
        ..RunFilter::default()
    })?;
    let workers = w.store.workers(id)?;
    if ws.json() {
        return print_json(
            &json!({"run": run, "metric_history": history, "children": children, "workers": workers}),
        );
    }
    println!(
        "run {} ({}), experiment '{}', status {}",
        run.id,
        run.name,
        run.experiment,
        run.status.name()
    );
    if let Some(p) = run.parent {
        println!("parent run: {p}");
    }
    println!("duration: {:.2}s", run.duration());
    if let Some(d) = &run.dataset {
        println!("dataset: {d}");
    }
    if let Some(e) = &run.error {
        println!("error: {e}");
    }
    let kv = |title: &str, m: &serde_json::Map<String, serde_json::Value>| {
        if !m.is_empty() {
            let mut t = grid(&[title, "value"]);
            for (k, v) in m {
                t.add_row(vec![k.clone(), v.to_string().trim_matches('"').to_string()]);
            }
            println!("{t}");
        }
    };
    kv("param", &run.params);
    kv("metric", &run.metrics);
    kv("tag", &run.tags);
    if history.iter().any(|p| p.step > 0) {
        let mut t = grid(&["metric", "step", "value"]);
        for p in history
            .iter()
            .filter(|p| history.iter().filter(|q| q.key == p.key).count() > 1)
        {
            t.add_row(vec![p.key.clone(), p.step.to_string(), format!("{:.6}", p.value)]);
        }
        println!("metric history\n{t}");
    }
    for (name, path) in &run.artifacts {
        match w.file(path) {
            Ok(p) => println!("artifact {name}: {}", p.display()),
            Err(e) => println!("artifact {name}: {path} ({e})"),
        }
    }
    if !workers.is_empty() {
        let mut t = grid(&["worker", "host", "pid", "trials done", "last heartbeat"]);
        let now = automl::store::now();
        for k in &workers {
            t.add_row(vec![
                k.id.clone(),
                k.host.clone(),
                k.pid.to_string(),
                k.trials.to_string(),
                format!("{:.0} s ago", (now - k.heartbeat).max(0.0)),
            ]);
        }
        println!("workers\n{t}");
    }
    if !children.is_empty() {
        // `automl run` records its metric; a program sweep its primary metric and goal.
        let text = |k: &str| run.params.get(k).and_then(|m| m.as_str()).map(str::to_string);
        let metric = text(keys::METRIC)
            .or_else(|| text(keys::PRIMARY_METRIC))
            .unwrap_or_default();
        let failed = children.iter().filter(|c| c.status == TrialState::Failed).count();
        println!(
            "{} trial runs ({failed} failed); `automl runs show <trial run>` for one",
            children.len()
        );
        let mut best: Vec<&RunRecord> = children
            .iter()
            .filter(|c| metric_of(c, &metric).is_some())
            .collect();
        let higher = match text(keys::GOAL).as_deref() {
            Some(goal) => goal == "maximize",
            None => metric.parse::<Metric>().map_or(true, Metric::higher_is_better),
        };
        best.sort_by(|a, b| {
            let (x, y) = (
                metric_of(a, &metric).unwrap_or(0.0),
                metric_of(b, &metric).unwrap_or(0.0),
            );
            if higher {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            }
        });
        if best.is_empty() {
            // No trial reported the metric: show the first ones and why they ended.
            let mut t = grid(&["trial run", "name", "status", "error"]);
            for c in children.iter().take(5) {
                let error = c.error.as_deref().unwrap_or("");
                t.add_row(vec![
                    c.id.to_string(),
                    c.name.clone(),
                    c.status.name().to_string(),
                    error.lines().last().unwrap_or("").to_string(),
                ]);
            }
            println!("{t}");
        } else {
            let mut t = grid(&["trial run", "name", "status", &metric]);
            for c in best.iter().take(5) {
                t.add_row(vec![
                    c.id.to_string(),
                    c.name.clone(),
                    c.status.name().to_string(),
                    metric_of(c, &metric).map_or("-".into(), |v| format!("{v:.4}")),
                ]);
            }
            println!("{t}");
        }
    }
    if run.parent.is_none() {
        println!(
            "environment: {}",
            serde_json::to_string(&run.environment).map_err(|e| Error::Config(e.to_string()))?
        );
    }
    Ok(())
}
