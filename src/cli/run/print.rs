//! What `automl run` prints when the run is done: the leaderboard, the summary lines (trials,
//! ensemble, test scores, where the model went) and the `--json` document.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table as Grid};
use serde_json::json;

use automl::automl::EnsembleReport;
use automl::job::AutoMLJob;
use automl::store::TrialState;
use automl::sweep::TrialRecord;
use automl::trials::PipelineTrial;
use automl::{Dataset, Metric, Result, RunSummary};

use super::RunArgs;
use crate::cli::output::write_json;

fn fmt_score(r: &TrialRecord) -> String {
    match (r.score(), r.fold_std()) {
        (Some(s), Some(d)) => format!("{s:.4} ± {d:.4}"),
        (Some(s), None) => format!("{s:.4}"),
        _ => "-".into(),
    }
}

pub(super) fn print_leaderboard(run: &RunSummary, top: usize) {
    let mut t = Grid::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "rank".to_string(),
        "trial".into(),
        "learner".into(),
        "preprocessing".into(),
        "params".into(),
        format!("{} (cv)", run.metric.name()),
        "fit s".into(),
    ]);
    for (rank, r) in run.leaderboard().into_iter().take(top).enumerate() {
        let config = r.config();
        let prep = config.prep_label();
        let mut params = config.params.short();
        if params.chars().count() > 60 {
            params = params.chars().take(57).collect::<String>() + "...";
        }
        t.add_row(vec![
            Cell::new(rank + 1).set_alignment(CellAlignment::Right),
            Cell::new(r.id).set_alignment(CellAlignment::Right),
            Cell::new(&config.learner),
            Cell::new(prep),
            Cell::new(params),
            Cell::new(fmt_score(r)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.2}", r.fit_time())).set_alignment(CellAlignment::Right),
        ]);
    }
    println!("{t}");
}

pub(super) fn print_summary(
    run: &RunSummary,
    a: &RunArgs,
    test: Option<&[(String, f64)]>,
    test_name: Option<&std::path::Path>,
    registered: Option<String>,
) {
    let done = run.trials.len();
    let failed = run.failed();
    let mut ended = format!("{failed} failed");
    for st in [TrialState::Pruned, TrialState::TimedOut, TrialState::Killed] {
        let n = run.count(st);
        if n > 0 {
            ended.push_str(&format!(", {n} {}", st.name()));
        }
    }
    let best = run.best_label();
    println!(
        "{done} trials in {:.1}s ({ended}; sampler {}, early termination {}), validation: {}; best: {best}",
        run.search_secs, run.sampler, run.policy, run.validation,
    );
    if let Some(e) = &run.ensemble {
        println!("{}", ensemble_line(e, run.metric));
    }
    if failed > 0 {
        let mut reasons: Vec<String> = run
            .trials
            .iter()
            .filter_map(|t| t.error.as_ref().map(|e| format!("{}: {e}", t.learner())))
            .collect();
        reasons.sort();
        reasons.dedup();
        for r in reasons.iter().take(3) {
            println!("  failed: {r}");
        }
    }
    if let Some(scores) = test {
        let s: Vec<String> = scores.iter().map(|(m, v)| format!("{m} {v:.4}")).collect();
        println!(
            "test ({}): {}",
            test_name.map_or(String::new(), |p| p.display().to_string()),
            s.join(", ")
        );
    }
    let how = if run.best.ensemble.iter().any(|m| m.bag > 1) {
        "fold models fitted"
    } else if run.fewer_rows.is_empty() {
        "refit on all rows"
    } else {
        "refit"
    };
    let fewer = match run.fewer_rows.len() {
        0 => String::new(),
        n => format!("; {n} member(s) on fewer rows to finish in time, see the warnings"),
    };
    println!(
        "model saved to {} ({how} in {:.2}s{fewer})",
        a.model_out.display(),
        run.refit_secs
    );
    if let Some(out) = &a.out {
        println!("predictions written to {}", out.display());
    }
    if let Some(r) = registered {
        println!("registered as model {r}");
    }
    if let Some(id) = run.run_id {
        println!(
            "recorded as run {id} in {} (see: automl runs show {id})",
            automl::store::postgres::redact(&a.ws.root().to_string_lossy())
        );
    }
}

/// One line on the ensemble the final step found: members, validation score, whether it is the model.
fn ensemble_line(e: &EnsembleReport, metric: Metric) -> String {
    let members: Vec<String> = e.weights.iter().map(|(t, w)| format!("{t} ({w:.2})")).collect();
    let verdict = if e.used { "the model" } else { "not used" };
    let mut line = format!(
        "ensemble: {} {} {:.4} on the validation folds vs {:.4} for the best trial, trials {} -> {verdict}",
        e.kind.name(),
        metric.name(),
        e.score,
        e.single,
        members.join(", ")
    );
    if let Some(n) = &e.note {
        line.push_str(&format!(" ({n})"));
    }
    line
}

pub(super) fn print_run_json(
    run: &RunSummary,
    data: &Dataset,
    a: &RunArgs,
    test: Option<&[(String, f64)]>,
    registered: Option<&str>,
    job: Option<&AutoMLJob>,
) -> Result<()> {
    let trial = |r: &TrialRecord| {
        let config = r.config();
        json!({
            "trial": r.id,
            "learner": config.learner,
            "preprocessing": config.prep_params(),
            "params": config.params,
            // Share of each fold's training rows the trial fitted on (large data; else 1).
            "sample": automl::trials::sample_of(&r.params),
            "status": r.state,
            "score": r.score(),
            "std": r.fold_std(),
            "metrics": r.metrics,
            "fit_secs": r.fit_time(),
            // Predicting the validation rows (null when not recorded) and the trial's wall time:
            // with `fit_secs`, where a trial's time went.
            "predict_secs": r.predict_secs,
            "secs": r.secs,
            "error": r.error,
        })
    };
    let v = json!({
        "task": run.task,
        "schema": data.schema.features.iter().map(|f| json!({
            "name": f.name,
            "kind": f.kind.name(),
            "reason": f.reason,
        })).collect::<Vec<_>>(),
        "guardrails": run.guardrails,
        "metric": run.metric.name(),
        "validation": run.validation,
        "learners": run.learners,
        "trials": run.trials.len(),
        "failed": run.failed(),
        "pruned": run.count(TrialState::Pruned),
        "timed_out": run.count(TrialState::TimedOut),
        "sampler": run.sampler,
        "early_termination": run.policy,
        "search_secs": run.search_secs,
        "refit_fewer_rows": run
            .fewer_rows
            .iter()
            .map(|(trial, rows)| serde_json::json!({"trial": trial, "rows": rows}))
            .collect::<Vec<_>>(),
        "best": {
            "trial": run.best_trial,
            "learner": run.best.config.learner,
            "preprocessing": run.best.config.prep_params(),
            "params": run.best.config.params,
            "cv_score": run.best.cv_score,
            "cv_std": run.best.cv_std,
            "metrics": run.best.metrics,
            "members": run.best.ensemble.iter().map(|m| json!({
                "trial": m.trial,
                "weight": m.weight,
                "learner": m.config.learner,
                "cv_score": m.cv_score,
            })).collect::<Vec<_>>(),
        },
        "ensemble": run.ensemble.as_ref().map(|e| json!({
            "kind": e.kind.name(),
            "members": e.weights.iter().map(|(t, w)| json!({"trial": t, "weight": w})).collect::<Vec<_>>(),
            "score": e.score,
            "best_single": e.single,
            "used": e.used,
            "note": e.note,
            // Only an ensemble that is the model has one (a single trial is never calibrated).
            "calibration": run.best.calibration,
        })),
        "test": test.map(|t| t.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()),
        "model": a.model_out,
        "run_id": run.run_id,
        "resumed": run.resumed,
        "registered": registered,
        "predictions": a.out,
        // Written row by row by `WithBoard`: one trial's object at a time, not all of them.
        "leaderboard": serde_json::Value::Null,
        // Trials without a score (failed, timed out or pruned before their first fold), id
        // order, with their `error`; also written row by row.
        "unranked": serde_json::Value::Null,
        "warnings": run.warnings,
        "job": job.map(|j| json!({
            "file": j.origin,
            "ignored": j.ignored,
            "notes": j.notes,
        })),
    });
    write_json(&WithBoard {
        head: &v,
        board: run.leaderboard(),
        unranked: run.unranked(),
        row: &trial,
    })
}

/// The run's JSON object with its `leaderboard` and `unranked` entries written one trial at a
/// time: a 30 s run on a small table ranks tens of thousands of trials, and their objects built
/// all at once held three quarters of the process's peak memory (iris: 255 MiB with `--json`, 60
/// without).
struct WithBoard<'a, F> {
    /// Every other entry, and `leaderboard` and `unranked` (null) where the rows go.
    head: &'a serde_json::Value,
    /// The ranked trials.
    board: Vec<&'a TrialRecord>,
    /// The trials without a score, written under `unranked` the same way.
    unranked: Vec<&'a TrialRecord>,
    /// One leaderboard row.
    row: &'a F,
}

impl<F: Fn(&TrialRecord) -> serde_json::Value> serde::Serialize for WithBoard<'_, F> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Rows<'b, F>(&'b [&'b TrialRecord], &'b F);
        impl<F: Fn(&TrialRecord) -> serde_json::Value> serde::Serialize for Rows<'_, F> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for r in self.0 {
                    seq.serialize_element(&(self.1)(r))?;
                }
                seq.end()
            }
        }
        let Some(head) = self.head.as_object() else {
            return self.head.serialize(s);
        };
        let mut map = s.serialize_map(Some(head.len()))?;
        for (k, v) in head {
            match k.as_str() {
                "leaderboard" => map.serialize_entry(k, &Rows(&self.board, self.row))?,
                "unranked" => map.serialize_entry(k, &Rows(&self.unranked, self.row))?,
                _ => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}
