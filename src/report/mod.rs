//! Leaderboard reports of recorded runs: one data model ([`Leaderboard`], read from the store)
//! rendered as a terminal table, Markdown, CSV or versioned JSON.
//!
//! JSON schema (`"schema": "automl-leaderboard", "version": 1`): `source` (what was asked for),
//! `runs` (run ids), `metric`, `goal` (`maximize` | `minimize`), `counts` (trials by status),
//! `rows` (completed trials best first, then the others), each row: `rank` (null unless
//! completed), `run`, `trial`, `learner` (null for sweeps of a program), `preprocessing`,
//! `params` (object), `score`, `std`, `metrics` (object of secondary metrics), `fit_secs`,
//! `predict_secs`, `status`, `error`, `started_secs` (seconds after the run started, when
//! known), `secs` (the trial's wall seconds, when known), `device` (`cuda:0`, ... when the run had
//! GPU slots; absent otherwise, the CPU). Tables, Markdown and CSV add a `device` column when any
//! shown trial has one.
//!
//! [`html`] renders a [`Report`] (a leaderboard plus [`insight::RunInsight`]) as one
//! self-contained HTML file.

pub mod html;
pub mod insight;
mod svg;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::{keys, study, Layout, RunFilter, RunId, RunRecord, Store, TrialState};
use crate::sweep::TrialRecord;
use crate::trials::PipelineTrial;

/// Version of the JSON layout.
pub const SCHEMA_VERSION: u32 = 1;

/// One trial in a leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// 1-based rank among completed trials.
    pub rank: Option<usize>,
    /// Parent run.
    pub run: RunId,
    /// Trial number in its run.
    pub trial: i64,
    /// Learner (`automl run`), none for program sweeps.
    pub learner: Option<String>,
    /// Preprocessing, e.g. `median+standard+onehot`.
    pub preprocessing: String,
    /// Hyperparameters.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Primary metric (CV mean, or the program's last value).
    pub score: Option<f64>,
    /// Standard deviation over folds.
    pub std: Option<f64>,
    /// Secondary metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Seconds fitting (all folds) or running the trial.
    pub fit_secs: Option<f64>,
    /// Seconds predicting validation rows.
    pub predict_secs: Option<f64>,
    /// Final state.
    pub status: String,
    /// Error of a failed trial.
    pub error: Option<String>,
    /// Seconds after its run started when the trial began.
    pub started_secs: Option<f64>,
    /// Wall seconds the trial took.
    pub secs: Option<f64>,
    /// The device that ran it, when the run had GPU slots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

impl Row {
    /// Hyperparameters as `name=value` pairs, space-separated, floats shortened.
    pub fn params_text(&self) -> String {
        self.params
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                serde_json::Value::Number(n) => match n.as_f64() {
                    Some(x) if n.is_f64() => format!("{k}={}", crate::space::Value::Float(x)),
                    _ => format!("{k}={n}"),
                },
                v => format!("{k}={v}"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A leaderboard of one run or of every run of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leaderboard {
    /// Always `automl-leaderboard`.
    pub schema: &'static str,
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// What was asked for (`run 3`, `experiment iris`).
    pub source: String,
    /// Runs included.
    pub runs: Vec<RunId>,
    /// Primary metric.
    pub metric: String,
    /// `maximize` or `minimize`.
    pub goal: String,
    /// Trials by status.
    pub counts: BTreeMap<String, usize>,
    /// Completed trials best first, then the others by run and trial.
    pub rows: Vec<Row>,
}

const HIGHER_IS_BETTER: &[&str] = &["accuracy", "balanced_accuracy", "roc_auc", "f1_macro", "r2"];

fn primary(run: &RunRecord) -> (String, bool) {
    if let Some(m) = run.params.get(keys::METRIC).and_then(|v| v.as_str()) {
        return (m.to_string(), HIGHER_IS_BETTER.contains(&m));
    }
    let m = run
        .params
        .get(keys::PRIMARY_METRIC)
        .and_then(|v| v.as_str())
        .unwrap_or("value")
        .to_string();
    let max = run.params.get(keys::GOAL).and_then(|v| v.as_str()) == Some("maximize");
    (m, max)
}

/// The row of trial `t` of run `run`: `pipeline` trials (of `automl run`) show their learner,
/// preprocessing and the learner's own parameters; a program sweep's show every parameter and its
/// value whatever the state.
fn row(run: RunId, t: &TrialRecord, pipeline: bool, metric: &str, times: [Option<f64>; 2]) -> Row {
    let json = |p: &crate::param::Params| {
        p.0.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                )
            })
            .collect()
    };
    let config = pipeline
        .then(|| crate::trials::config_of(&t.params).ok())
        .flatten();
    let completed = t.state == TrialState::Completed;
    Row {
        rank: None,
        run,
        trial: i64::try_from(t.id).unwrap_or(-1),
        learner: config.as_ref().map(|c| c.learner.clone()),
        // The recipe the trial ran, as `automl run`'s table shows it (a value the search left
        // out at its default, e.g. `median` on data without missing values).
        preprocessing: config
            .as_ref()
            .map_or(String::new(), crate::model::TrialConfig::prep_label),
        params: config
            .as_ref()
            .map_or_else(|| json(&t.params), |c| json(&c.params)),
        score: t.value.filter(|_| completed || !pipeline),
        std: t.fold_std(),
        metrics: t
            .metrics
            .iter()
            .filter(|(k, _)| k.as_str() != metric)
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        fit_secs: t.fit_secs.or((!pipeline).then_some(t.secs)),
        predict_secs: t.predict_secs,
        status: t.state.name().to_string(),
        error: t.error.clone(),
        started_secs: times[0],
        secs: times[1],
        device: t.device.clone(),
    }
}

/// A leaderboard and, when known, the run's insight: what the HTML report renders.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Title shown at the top.
    pub title: String,
    /// The trials.
    pub leaderboard: Leaderboard,
    /// Summary, data profile and diagnostics (absent for program sweeps and old runs).
    pub insight: Option<insight::RunInsight>,
    /// Facts shown when there is no insight: the recorded run's settings.
    pub facts: Vec<(String, String)>,
}

impl Report {
    /// The report of a run just finished in this process (the library path): `data` is what it
    /// trained on. Computes the diagnostics (one extra fit of the best configuration).
    pub fn of(summary: &crate::automl::RunSummary, data: &crate::Dataset) -> Report {
        Report::of_run(summary, data, true)
    }

    /// As [`Report::of`], with the best-model diagnostics only when `diagnostics` is set (they
    /// cost one more fit of the best configuration and one prediction per feature).
    pub fn of_run(summary: &crate::automl::RunSummary, data: &crate::Dataset, diagnostics: bool) -> Report {
        let insight = if diagnostics {
            insight::RunInsight::of(summary, data)
        } else {
            insight::RunInsight::summary_only(summary, data)
        };
        Report {
            title: format!("automl run: {} ({})", data.schema.target, summary.task.name()),
            leaderboard: Leaderboard::from_summary(summary),
            insight: Some(insight),
            facts: Vec::new(),
        }
    }

    /// The report of a recorded run or experiment, with the insight saved beside the run
    /// (`artifacts/<run>/insight.json`) when there is one.
    pub fn load(
        store: &dyn Store,
        which: &str,
        workspace: Option<&crate::store::Workspace>,
    ) -> Result<Report> {
        let leaderboard = Leaderboard::load(store, which)?;
        let mut insight = None;
        let mut facts = Vec::new();
        if let [one] = leaderboard.runs.as_slice() {
            let run = store.run(*one)?;
            facts.push(("run".to_string(), format!("{} ({})", run.id, run.name)));
            facts.push(("experiment".to_string(), run.experiment.clone()));
            facts.push(("status".to_string(), run.status.name().to_string()));
            if let Some(end) = run.ended {
                facts.push(("duration".to_string(), format!("{:.1} s", end - run.started)));
            }
            for (k, v) in &run.params {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(_) | serde_json::Value::Bool(_) => v.to_string(),
                    _ => continue,
                };
                facts.push((k.replace('_', " "), text));
            }
            // A missing or unreadable insight file leaves the report without it, not failed.
            if let (Some(ws), Some((_, rel))) =
                (workspace, run.artifacts.iter().find(|(n, _)| n == "insight"))
            {
                insight = ws
                    .file(rel)
                    .ok()
                    .and_then(|p| std::fs::read_to_string(p).ok())
                    .and_then(|text| serde_json::from_str(&text).ok());
            }
        }
        Ok(Report {
            title: format!("automl leaderboard: {}", leaderboard.source),
            leaderboard,
            insight,
            facts,
        })
    }

    /// The report as one self-contained HTML page.
    pub fn html(&self) -> String {
        html::render(self)
    }
}

impl Leaderboard {
    /// The leaderboard of a run just finished in this process.
    pub fn from_summary(summary: &crate::automl::RunSummary) -> Leaderboard {
        let metric = summary.metric;
        let run = summary.run_id.unwrap_or(0);
        let summary_row = |t: &TrialRecord| {
            let busy = t.fit_time() + t.predict_secs.unwrap_or(0.0);
            let mut r = row(run, t, true, metric.name(), [Some(t.started_secs), Some(busy)]);
            r.fit_secs = Some(t.fit_time());
            r.predict_secs = Some(t.predict_secs.unwrap_or(0.0));
            r
        };
        let ranked = summary.leaderboard();
        let mut rows: Vec<Row> = ranked
            .iter()
            .enumerate()
            .map(|(i, t)| Row {
                rank: Some(i + 1),
                ..summary_row(t)
            })
            .collect();
        let ranked_ids: std::collections::BTreeSet<usize> = ranked.iter().map(|t| t.id).collect();
        rows.extend(
            summary
                .trials
                .iter()
                .filter(|t| !ranked_ids.contains(&t.id))
                .map(|t| summary_row(t)),
        );
        Leaderboard::assemble(
            summary.run_id.map_or("this run".into(), |id| format!("run {id}")),
            summary.run_id.into_iter().collect(),
            metric.name().to_string(),
            metric.higher_is_better(),
            rows,
        )
    }

    /// A leaderboard of ranked `rows`, with its status counts.
    fn assemble(
        source: String,
        runs: Vec<RunId>,
        metric: String,
        maximize: bool,
        rows: Vec<Row>,
    ) -> Leaderboard {
        let mut counts = BTreeMap::new();
        for r in &rows {
            *counts.entry(r.status.clone()).or_insert(0) += 1;
        }
        Leaderboard {
            schema: "automl-leaderboard",
            version: SCHEMA_VERSION,
            source,
            runs,
            metric,
            goal: if maximize { "maximize" } else { "minimize" }.into(),
            counts,
            rows,
        }
    }

    /// Whether larger scores are better.
    pub fn maximize(&self) -> bool {
        self.goal == "maximize"
    }

    /// First lines of the trials' errors with how often each occurs, commonest first.
    pub fn top_errors(&self) -> Vec<(String, usize)> {
        let mut errors: BTreeMap<String, usize> = BTreeMap::new();
        for r in &self.rows {
            if let Some(e) = &r.error {
                *errors
                    .entry(e.lines().next().unwrap_or("").to_string())
                    .or_insert(0) += 1;
            }
        }
        let mut errors: Vec<(String, usize)> = errors.into_iter().collect();
        errors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        errors
    }

    /// The leaderboard of run `which` (a number) or of every top-level run of experiment `which`.
    pub fn load(store: &dyn Store, which: &str) -> Result<Leaderboard> {
        let (source, parents) = match which.parse::<RunId>() {
            Ok(id) => {
                let r = store.run(id)?;
                if let Some(p) = r.parent {
                    return Err(Error::Config(format!(
                        "run {id} is a trial of run {p}; ask for run {p}"
                    )));
                }
                (format!("run {id}"), vec![r])
            }
            Err(_) => {
                let runs = store.runs(&RunFilter {
                    experiment: Some(which.to_string()),
                    ..RunFilter::default()
                })?;
                if runs.is_empty() {
                    return Err(Error::Config(format!("no run or experiment called '{which}'")));
                }
                (format!("experiment {which}"), runs)
            }
        };
        let (metric, maximize) = primary(&parents[0]);
        if let Some(other) = parents.iter().find(|p| primary(p).0 != metric) {
            return Err(Error::Config(format!(
                "run {} optimises {}, not {metric}: ask for one run at a time",
                other.id,
                primary(other).0
            )));
        }
        let mut rows = Vec::new();
        for p in &parents {
            let pipeline = matches!(study::layout_of(p), Layout::Pipeline { .. });
            for (k, t) in study::read_trials(store, p)? {
                let started = (k.started - p.started).max(0.0);
                let secs = k.ended.map(|e| (e - k.started).max(0.0));
                let mut r = row(p.id, &t, pipeline, &metric, [Some(started), secs]);
                r.trial = study::trial_id(&k).map_or(-1, |i| i as i64);
                rows.push(r);
            }
        }
        let key = |r: &Row| (r.status != "completed" || r.score.is_none(), r.run, r.trial);
        rows.sort_by(|a, b| {
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0)
                .then_with(|| {
                    if ka.0 {
                        std::cmp::Ordering::Equal
                    } else {
                        let (x, y) = (a.score.unwrap_or(f64::NAN), b.score.unwrap_or(f64::NAN));
                        if maximize {
                            y.total_cmp(&x)
                        } else {
                            x.total_cmp(&y)
                        }
                    }
                })
                .then(ka.1.cmp(&kb.1))
                .then(ka.2.cmp(&kb.2))
        });
        let mut rank = 0;
        for r in rows.iter_mut() {
            if r.status == "completed" && r.score.is_some() {
                rank += 1;
                r.rank = Some(rank);
            }
        }
        Ok(Leaderboard::assemble(
            source,
            parents.iter().map(|p| p.id).collect(),
            metric,
            maximize,
            rows,
        ))
    }

    /// The first `top` completed rows, plus every other row when `all` (summaries otherwise).
    fn shown(&self, top: usize) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.rank.is_some_and(|k| k <= top))
            .collect()
    }

    fn secondary(&self) -> Vec<String> {
        let mut names: Vec<String> = self.rows.iter().flat_map(|r| r.metrics.keys().cloned()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Cells of the shown rows, with a header: the same columns for table, Markdown and CSV.
    pub fn cells(&self, top: usize) -> (Vec<String>, Vec<Vec<String>>) {
        let secondary = self.secondary();
        let mut header: Vec<String> = ["rank", "run", "trial", "learner", "preprocessing", "params"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        header.push(format!("{} (mean ± std)", self.metric));
        header.extend(secondary.iter().cloned());
        header.extend(["fit s", "predict s", "status"].iter().map(|s| s.to_string()));
        let shown = self.shown(top);
        let devices = shown.iter().any(|r| r.device.is_some());
        if devices {
            header.push("device".into());
        }
        let num = |x: Option<f64>, d: usize| x.map_or(String::new(), |v| format!("{v:.d$}"));
        let rows = shown
            .into_iter()
            .map(|r| {
                let score = match (r.score, r.std) {
                    (Some(s), Some(d)) => format!("{s:.4} ± {d:.4}"),
                    (Some(s), None) => format!("{s:.4}"),
                    _ => String::new(),
                };
                let mut row = vec![
                    r.rank.map_or(String::new(), |k| k.to_string()),
                    r.run.to_string(),
                    r.trial.to_string(),
                    r.learner.clone().unwrap_or_default(),
                    r.preprocessing.clone(),
                    r.params_text(),
                    score,
                ];
                row.extend(secondary.iter().map(|m| num(r.metrics.get(m).copied(), 4)));
                row.extend([num(r.fit_secs, 3), num(r.predict_secs, 3), r.status.clone()]);
                if devices {
                    row.push(r.device.clone().unwrap_or_else(|| "cpu".into()));
                }
                row
            })
            .collect();
        (header, rows)
    }

    /// One line on the trials not shown: counts by status, and the most common errors.
    pub fn summary(&self) -> String {
        let counts: Vec<String> = self.counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let errors = self.top_errors();
        let mut s = format!("{} trials: {}", self.rows.len(), counts.join(", "));
        for (e, n) in errors.iter().take(3) {
            s.push_str(&format!("\n  {n}× {e}"));
        }
        s
    }

    /// Markdown table of the top `top` completed trials and the summary.
    pub fn markdown(&self, top: usize) -> String {
        let (header, rows) = self.cells(top);
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = format!(
            "# Leaderboard: {} ({} {})\n\n| {} |\n|{}|\n",
            self.source,
            self.goal,
            self.metric,
            header.join(" | "),
            header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
        );
        for r in rows {
            out.push_str(&format!(
                "| {} |\n",
                r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        out.push_str(&format!("\n{}\n", self.summary().replace("\n  ", "\n- ")));
        out
    }

    /// CSV (RFC 4180 quoting) of the top `top` completed trials.
    pub fn csv(&self, top: usize) -> String {
        let (header, rows) = self.cells(top);
        let q = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out = header.iter().map(|h| q(h)).collect::<Vec<_>>().join(",") + "\n";
        for r in rows {
            out.push_str(&(r.iter().map(|c| q(c)).collect::<Vec<_>>().join(",") + "\n"));
        }
        out
    }

    /// Pretty JSON of the whole leaderboard (every row; see the module docs for the schema).
    pub fn json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::Config(format!("cannot encode the leaderboard: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::{Params, Value};

    fn trial(id: usize, device: Option<&str>) -> TrialRecord {
        let mut params = Params::default();
        params.set(crate::trials::LEARNER, Value::Str("mlp".into()));
        TrialRecord {
            id,
            params,
            state: TrialState::Completed,
            value: Some(0.9 - id as f64 / 10.0),
            steps: Vec::new(),
            cost: 1.0,
            metrics: BTreeMap::new(),
            folds: Vec::new(),
            fit_secs: Some(0.5),
            predict_secs: Some(0.1),
            started_secs: 0.0,
            secs: 1.0,
            error: None,
            device: device.map(str::to_string),
        }
    }

    fn board(devices: &[Option<&str>]) -> Leaderboard {
        let rows = devices
            .iter()
            .enumerate()
            .map(|(i, d)| Row {
                rank: Some(i + 1),
                ..row(1, &trial(i, *d), true, "accuracy", [None, None])
            })
            .collect();
        Leaderboard::assemble("run 1".into(), vec![1], "accuracy".into(), true, rows)
    }

    #[test]
    fn a_device_column_appears_when_a_run_had_gpu_slots() {
        let (header, rows) = board(&[Some("cuda:0"), Some("cpu")]).cells(10);
        assert_eq!(header.last().map(String::as_str), Some("device"));
        assert_eq!(rows[0].last().map(String::as_str), Some("cuda:0"));
        assert_eq!(rows[1].last().map(String::as_str), Some("cpu"));
        let json = serde_json::to_value(board(&[Some("cuda:0")])).unwrap();
        assert_eq!(json["rows"][0]["device"], "cuda:0");
        // CPU-only runs record no device: no column, no JSON key (earlier reports unchanged).
        let plain = board(&[None, None]);
        assert!(!plain.cells(10).0.iter().any(|h| h == "device"));
        assert!(serde_json::to_value(plain).unwrap()["rows"][0]
            .get("device")
            .is_none());
    }
}
