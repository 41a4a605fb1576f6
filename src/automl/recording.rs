//! How `automl run` is recorded in a workspace: the parent run (settings, environment), its
//! trials' study ([`RunStudy`], the sweep's store), the search time spent across sessions, and
//! reopening an interrupted run for `--resume`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::pruners::Policy;
use crate::state::TrialState;
use crate::store::claims::hostname;
use crate::store::{keys, Layout, MetricPoint, NewRun, RunId, RunStudy, Sharing, Store};
use crate::sweep::{Monitor, TrialRecord, TrialStore};
use crate::trials::PipelineTrial;

use super::{default_jobs, AutoMLBuilder, TrialCallback};

/// Where a run is recorded: a store, the experiment name, and extra environment facts.
#[derive(Clone)]
pub struct Recording {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Experiment name.
    pub experiment: String,
    /// Extra environment facts (CLI arguments, data hash, …) merged into the snapshot.
    pub environment: serde_json::Map<String, serde_json::Value>,
    /// Folder under which `<run-id>/model.automl` is written before the run is marked completed.
    pub artifacts: Option<std::path::PathBuf>,
}

/// Parent-run parameters that must match for a resume.
const RESUME_KEYS: &[&str] = &[
    "target",
    "task",
    keys::METRIC,
    "seed",
    "learners",
    "validation",
    "sampler",
    "early_termination",
    "max_concurrent",
    "search_space",
];

/// The parent run of a search with these settings.
pub(super) fn parent_run(
    r: &Recording,
    data: &Dataset,
    metric: Metric,
    validation: &str,
    s: &AutoMLBuilder,
    jobs: usize,
) -> NewRun {
    let mut params = serde_json::Map::new();
    params.insert("target".into(), data.schema.target.clone().into());
    params.insert("task".into(), data.schema.task.name().into());
    params.insert(keys::METRIC.into(), metric.name().into());
    params.insert("validation".into(), validation.into());
    params.insert("time_budget".into(), s.time_budget.into());
    params.insert("max_trials".into(), s.max_trials.into());
    params.insert("seed".into(), s.seed.into());
    params.insert(
        "learners".into(),
        s.learners.as_ref().map_or("all".into(), |l| l.join(",")).into(),
    );
    params.insert("sampler".into(), s.sampler.name().into());
    params.insert(
        "early_termination".into(),
        s.policy.as_ref().unwrap_or(&Policy::None).describe().into(),
    );
    params.insert(
        "max_concurrent".into(),
        s.max_concurrent
            .unwrap_or(crate::sweep::DEFAULT_MAX_CONCURRENT)
            .into(),
    );
    params.insert(
        "search_space".into(),
        s.space_file
            .as_ref()
            .map_or("builtin".into(), |f| f.fingerprint())
            .into(),
    );
    let mut env = serde_json::Map::new();
    env.insert("automl_version".into(), env!("CARGO_PKG_VERSION").into());
    env.insert(
        "os".into(),
        format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH).into(),
    );
    env.insert("cpus".into(), default_jobs().into());
    env.insert("jobs".into(), jobs.into());
    env.insert("seed".into(), s.seed.into());
    env.insert("rows".into(), data.n_rows().into());
    for (k, v) in &r.environment {
        env.insert(k.clone(), v.clone());
    }
    NewRun {
        experiment: r.experiment.clone(),
        parent: None,
        name: format!("automl run ({})", data.schema.target),
        status: Some(TrialState::Running),
        params,
        environment: serde_json::Value::Object(env),
    }
}

/// A recorded run: its parent run and the study of its trials.
pub(super) struct Opened {
    /// The parent run.
    pub id: RunId,
    /// The trials' store.
    pub study: Arc<RunStudy>,
    /// Search seconds spent by earlier sessions.
    pub spent: f64,
    /// For a resumed run, what was resumed.
    pub note: Option<String>,
}

/// Create the parent run of a new search, or reopen run `resume` after checking it was started
/// with the same data and settings.
pub(super) fn open(
    r: &Recording,
    expected: &NewRun,
    metric: Metric,
    resume: Option<RunId>,
    sharing: Option<&Sharing>,
) -> Result<Opened> {
    let layout = Layout::Pipeline {
        metric: metric.name().to_string(),
    };
    let Some(id) = resume else {
        let id = r.store.create_run(expected)?;
        let study = match sharing {
            Some(sh) => {
                r.store.set_tags(id, &[(keys::DISTRIBUTED, "open")])?;
                sh.join(id)?;
                RunStudy::open_shared(r.store.clone(), id, &r.experiment, layout, sh.clone())?
            }
            None => {
                claim(r, id)?;
                RunStudy::open(r.store.clone(), id, &r.experiment, layout)?
            }
        };
        return Ok(Opened {
            id,
            study: Arc::new(study),
            spent: 0.0,
            note: None,
        });
    };
    let parent = r.store.run(id)?;
    if let Some(p) = parent.parent {
        return Err(Error::Config(format!(
            "run {id} is a trial; resume its parent run {p}"
        )));
    }
    if parent.status == TrialState::Completed {
        return Err(Error::Config(format!(
            "run {id} already completed; there is nothing to resume"
        )));
    }
    if let (Some(a), Some(b)) = (
        parent.environment.get("data_hash"),
        r.environment.get("data_hash"),
    ) {
        if a != b {
            return Err(Error::Config(format!(
                "the training data differs from the data run {id} was started with (hash {a} vs {b})"
            )));
        }
    }
    if let Some(sh) = sharing {
        check_settings(id, &parent, expected)?;
        sh.join(id)?;
        let study = RunStudy::open_shared(r.store.clone(), id, &parent.experiment, layout, sh.clone())?;
        // While other workers are at it, the budget runs from the run's start for every worker;
        // a run nobody works on any more (resumed after a crash) goes on from the search time
        // recorded, as an unshared resume does.
        let now = crate::store::now();
        let live = sh
            .claims
            .workers(id)?
            .iter()
            .any(|w| w.id != sh.worker && now - w.heartbeat <= sh.grace);
        let spent = if live {
            now - parent.started
        } else {
            recorded_search_secs(r, id)?
        };
        let note = format!(
            "joined run {id} as worker {}: {} finished trial(s) so far",
            sh.worker,
            study.finished_ids()?.len()
        );
        return Ok(Opened {
            id,
            study: Arc::new(study),
            spent,
            note: Some(note),
        });
    }
    if let Some(pid) = live_owner(&parent.tags) {
        return Err(Error::Config(format!(
            "run {id} is still being run by process {pid} on this machine; stop it before resuming"
        )));
    }
    check_settings(id, &parent, expected)?;
    let study = RunStudy::open(r.store.clone(), id, &parent.experiment, layout)?;
    // Search time of earlier sessions (downtime between sessions does not count).
    let spent = recorded_search_secs(r, id)?;
    r.store.reopen_run(id)?;
    claim(r, id)?;
    let note = format!(
        "resuming run {id}: {} finished trial(s) kept, {} trial(s) killed by the interruption will run again, {spent:.1}s of the budget already spent",
        study.finished_ids()?.len(),
        study.killed()
    );
    Ok(Opened {
        id,
        study: Arc::new(study),
        spent,
        note: Some(note),
    })
}

/// The search seconds run `id`'s sessions recorded.
fn recorded_search_secs(r: &Recording, id: RunId) -> Result<f64> {
    Ok(r.store
        .metric_history(id)?
        .iter()
        .filter(|p| p.key == keys::SEARCH_SECS)
        .map(|p| p.value)
        .fold(0.0, f64::max))
}

/// The settings a resumed or joined run must share with the run as started.
fn check_settings(id: RunId, parent: &crate::store::RunRecord, expected: &NewRun) -> Result<()> {
    for key in RESUME_KEYS {
        let (was, now) = (parent.params.get(*key), expected.params.get(*key));
        if was != now {
            return Err(Error::Config(format!(
                "run {id} was started with {key} = {}, this command has {}; resume with the same settings",
                was.map_or("nothing".into(), |v| v.to_string()),
                now.map_or("nothing".into(), |v| v.to_string())
            )));
        }
    }
    Ok(())
}

/// Record this process as the one running `id` (checked by a later resume).
fn claim(r: &Recording, id: RunId) -> Result<()> {
    let pid = std::process::id().to_string();
    r.store
        .set_tags(id, &[(keys::PID, &pid), (keys::HOST, &hostname())])
}

/// The pid recorded on a run when that process is still alive and is an automl process on this
/// machine (Linux /proc); `None` when it is gone, elsewhere, or cannot be checked.
fn live_owner(tags: &serde_json::Map<String, serde_json::Value>) -> Option<u32> {
    let pid: u32 = tags.get(keys::PID)?.as_str()?.parse().ok()?;
    if tags.get(keys::HOST)?.as_str()? != hostname() || pid == std::process::id() {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    String::from_utf8_lossy(&cmdline)
        .contains("automl")
        .then_some(pid)
}

/// Hears of each trial of `automl run` (the store records the trials themselves): keeps the
/// search time across sessions on the parent run, the refit-time reserve of the best trial so
/// far, and calls the user's callback.
pub(super) struct Progress<'a> {
    /// The store and parent run, when recorded.
    pub recording: Option<(&'a Recording, RunId)>,
    pub started: Instant,
    /// Search seconds of earlier sessions of a resumed run.
    pub spent_before: f64,
    pub metric: Metric,
    pub error: Mutex<Option<String>>,
    pub user: Option<&'a TrialCallback>,
    /// (best score so far, estimated seconds to refit it on all rows)
    pub best: Mutex<Option<(f64, f64)>>,
    /// The data and its validation plan (for the estimate of a refit).
    pub data: &'a crate::data::Dataset,
    pub plan: &'a crate::validation::Plan,
    /// Whether the final model's members are their fold models (see `Finish::bagged`).
    pub bagged: bool,
    /// Whether the final step may refit an ensemble (a larger reserve).
    pub ensemble: bool,
}

impl Progress<'_> {
    /// Take `t` into account for the refit-time reserve.
    pub fn consider(&self, t: &TrialRecord) {
        if let (Some(score), Ok(mut b)) = (t.score(), self.best.lock()) {
            if b.is_none_or(|(old, _)| self.metric.better(score, old)) {
                *b = Some((
                    score,
                    crate::trials::refit_secs(self.data, self.plan, t, self.bagged),
                ));
            }
        }
    }
}

impl Monitor for Progress<'_> {
    fn finished(&self, t: &TrialRecord) {
        self.consider(t);
        if let Some((r, parent)) = self.recording {
            // Search time across sessions, so a resume can honour the remaining budget.
            let spent = self.spent_before + self.started.elapsed().as_secs_f64();
            let point = MetricPoint::now(keys::SEARCH_SECS, t.id as i64, spent);
            if let Err(e) = r.store.log_metrics(parent, &[point]) {
                if let Ok(mut slot) = self.error.lock() {
                    slot.get_or_insert(e.to_string());
                }
            }
        }
        if let Some(f) = self.user {
            f(t);
        }
    }

    fn reserve_secs(&self) -> f64 {
        self.best
            .lock()
            .ok()
            .and_then(|b| b.map(|(_, secs)| secs))
            // An ensemble refits a few members, `jobs` at a time, and drops those the time left
            // cannot hold: a quarter more than one refit, plus selection.
            .map_or(0.0, |secs| if self.ensemble { 1.25 * secs + 0.2 } else { secs })
    }

    fn cost(&self, params: &crate::space::Params) -> Option<f64> {
        let config = crate::trials::config_of(params).ok()?;
        Some(crate::trials::cost_of(
            self.data,
            self.plan,
            &config,
            crate::trials::sample_of(params),
        ))
    }
}
