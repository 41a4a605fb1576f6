//! How `automl sweep` is recorded in a workspace: the parent run (spec, settings), the study of
//! its trials ([`RunStudy`], the sweep's store, with each trial's logs as artifacts), resuming an
//! interrupted sweep, and the end state.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;

use crate::error::{Error, Result};
use crate::pruners::Goal;
use crate::state::TrialState;
use crate::store::{keys, Layout, MetricPoint, NewRun, RunId, RunStudy, Sharing, Store};
use crate::sweep::{SweepResult, TrialStore};

use super::SweepJob;

/// The spec file and experiment of sweep run `id`, to resume it.
pub fn resumed_spec(store: &dyn Store, id: RunId) -> Result<(PathBuf, String)> {
    let parent = store.run(id)?;
    if parent.params.get(keys::KIND).and_then(|v| v.as_str()) != Some(keys::KIND_SWEEP) {
        return Err(Error::Config(format!("run {id} is not a sweep")));
    }
    if parent.status == TrialState::Completed {
        return Err(Error::Config(format!(
            "sweep run {id} already completed; there is nothing to resume"
        )));
    }
    let spec = parent
        .params
        .get(keys::SPEC)
        .and_then(|v| v.as_str())
        .map(PathBuf::from)
        .ok_or_else(|| Error::Config(format!("run {id} has no recorded spec")))?;
    Ok((spec, parent.experiment))
}

/// A recorded sweep: its parent run and the study of its trials.
pub struct JobRun {
    /// The parent run.
    pub id: RunId,
    /// Folder of the trials' log folders.
    pub logs: PathBuf,
    /// The trials' store (give it to the sweep).
    pub study: Arc<RunStudy>,
    /// For a resumed sweep, what was resumed.
    pub note: Option<String>,
}

/// Create the parent run of sweep `job` (read from `spec`) in experiment `experiment`, or reopen
/// run `resume`; trial logs go under `logs(run id)` and are recorded as artifacts.
pub fn open_run(
    store: Arc<dyn Store>,
    job: &SweepJob,
    spec: &Path,
    experiment: &str,
    resume: Option<RunId>,
    logs: impl FnOnce(RunId) -> Result<PathBuf>,
    sharing: Option<Sharing>,
) -> Result<JobRun> {
    let layout = |logs: PathBuf| Layout::Program {
        metric: job.command.primary_metric.clone(),
        logs,
    };
    if let (Some(id), Some(sh)) = (resume, &sharing) {
        // A worker joining the sweep: other workers' running trials stay theirs.
        let logs = logs(id)?;
        sh.join(id)?;
        let study = RunStudy::open_shared(store.clone(), id, experiment, layout(logs.clone()), sh.clone())?;
        let note = format!(
            "joined sweep run {id} as worker {}: {} finished trial(s) so far",
            sh.worker,
            study.finished_ids()?.len()
        );
        return Ok(JobRun {
            id,
            logs,
            study: Arc::new(study),
            note: Some(note),
        });
    }
    if let Some(id) = resume {
        let logs = logs(id)?;
        let study = RunStudy::open(store.clone(), id, experiment, layout(logs.clone()))?;
        store.reopen_run(id)?;
        let note = format!(
            "resuming sweep run {id}: {} finished trial(s) kept",
            study.finished_ids()?.len()
        );
        return Ok(JobRun {
            id,
            logs,
            study: Arc::new(study),
            note: Some(note),
        });
    }
    let goal = if job.goal == Goal::Maximize {
        "maximize"
    } else {
        "minimize"
    };
    let mut params = serde_json::Map::new();
    params.insert(keys::KIND.into(), json!(keys::KIND_SWEEP));
    params.insert(keys::SPEC.into(), json!(spec.display().to_string()));
    params.insert(keys::PRIMARY_METRIC.into(), json!(job.command.primary_metric));
    params.insert(keys::GOAL.into(), json!(goal));
    params.insert("sampler".into(), json!(job.sampler.name()));
    params.insert("early_termination".into(), json!(job.policy.describe()));
    params.insert("seed".into(), json!(job.seed));
    params.insert("max_concurrent".into(), json!(job.max_concurrent));
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().to_string())
        .collect();
    let id = store.create_run(&NewRun {
        experiment: experiment.to_string(),
        parent: None,
        name: format!(
            "sweep {}",
            spec.file_name()
                .map_or(String::new(), |s| s.to_string_lossy().to_string())
        ),
        status: Some(TrialState::Running),
        params,
        environment: json!({"automl_version": env!("CARGO_PKG_VERSION"), "args": args}),
    })?;
    let logs = logs(id)?;
    let study = match sharing {
        Some(sh) => {
            store.set_tags(id, &[(keys::DISTRIBUTED, "open")])?;
            sh.join(id)?;
            RunStudy::open_shared(store, id, experiment, layout(logs.clone()), sh)?
        }
        None => RunStudy::open(store, id, experiment, layout(logs.clone()))?,
    };
    Ok(JobRun {
        id,
        logs,
        study: Arc::new(study),
        note: None,
    })
}

/// Record the end of sweep run `id`: killed when it was interrupted, else the best trial (tags
/// and the primary metric) and completed, or failed when no trial completed.
pub fn finish_run(store: &dyn Store, id: RunId, out: &SweepResult, metric: &str) -> Result<()> {
    if out.cancelled {
        return store.finish_run(id, TrialState::Killed, Some("interrupted (Ctrl-C)"));
    }
    let Some(b) = out.best() else {
        return store.finish_run(id, TrialState::Failed, None);
    };
    let params = serde_json::to_string(&b.params.0)
        .map_err(|e| Error::Store(format!("cannot encode the best parameters: {e}")))?;
    store.set_tags(
        id,
        &[
            (keys::BEST_TRIAL, &b.id.to_string()),
            (keys::BEST_PARAMS, &params),
        ],
    )?;
    if let Some(v) = b.value {
        store.log_metrics(id, &[MetricPoint::now(metric, 0, v)])?;
    }
    store.finish_run(id, TrialState::Completed, None)
}
