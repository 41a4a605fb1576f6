//! A sweep's trials as the child runs of one workspace run: the [`TrialStore`] of recorded runs.
//!
//! Each trial is a child run, created `running` when the trial starts (so an interruption leaves
//! it visible) and completed in one transaction with its state, error, step values, per-fold
//! values and metrics. The sweep reads every finished trial back from here before telling it to
//! its sampler, so a live run and a resumed one see exactly the same history. Opening the study
//! of an interrupted run marks the trials it left `running` as killed (they run again) and offers
//! the finished ones for replay: resuming is opening the study and continuing.
//!
//! Two layouts of a child run's parameters, both read back by [`RunStudy`]:
//! - [`Layout::Pipeline`] (`automl run`): `learner`, `prep.*` and the learner's own parameters
//!   under their short names; steps under `step_<metric>`, folds under `fold_<metric>`.
//! - [`Layout::Program`] (`automl sweep`): the sampled parameters as one object under `params`;
//!   steps under the metric's own name, and the trial's log files as artifacts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::param::{Params, Value};
use crate::state::TrialState;
use crate::sweep::{Ownership, TrialRecord, TrialStore};

use super::{keys, Claim, Claims, MetricPoint, NewRun, RunFilter, RunId, RunRecord, Store};

/// How a trial's parameters and metrics are laid out in its child run.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// `automl run`: `learner`, `prep.*` and the learner's parameters by short name.
    Pipeline {
        /// The primary metric.
        metric: String,
    },
    /// `automl sweep`: the sampled parameters under `params`, log files as artifacts.
    Program {
        /// The primary metric.
        metric: String,
        /// Folder holding `trial-<id>/` log folders (recorded as artifacts when present).
        logs: PathBuf,
    },
}

/// Whether the `automl run` trial parameter `k` is stored as is rather than with its learner's
/// prefix stripped on write and put back on read: the learner, preprocessing and the searched row
/// share. One predicate for both directions, so they cannot disagree.
fn belongs_to_no_learner(k: &str) -> bool {
    k == keys::LEARNER || k == keys::SAMPLE || k.starts_with(keys::PREP_PREFIX)
}

impl Layout {
    /// The primary metric.
    pub fn metric(&self) -> &str {
        match self {
            Layout::Pipeline { metric } | Layout::Program { metric, .. } => metric,
        }
    }

    /// Key of the primary metric's step values.
    fn step_key(&self) -> String {
        match self {
            Layout::Pipeline { metric } => keys::step(metric),
            Layout::Program { metric, .. } => metric.clone(),
        }
    }

    /// Child-run parameters of a trial.
    fn encode_params(&self, id: usize, params: &Params) -> serde_json::Map<String, serde_json::Value> {
        let mut out = serde_json::Map::new();
        out.insert(keys::TRIAL.into(), id.into());
        let json = |v: &Value| serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
        match self {
            Layout::Program { .. } => {
                let all: serde_json::Map<String, serde_json::Value> =
                    params.0.iter().map(|(k, v)| (k.clone(), json(v))).collect();
                out.insert(keys::PARAMS.into(), all.into());
            }
            Layout::Pipeline { .. } => {
                let learner = params
                    .0
                    .get(keys::LEARNER)
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let own = format!("{learner}.");
                for (k, v) in &params.0 {
                    let name = if belongs_to_no_learner(k) {
                        k.as_str()
                    } else {
                        k.strip_prefix(&own).unwrap_or(k)
                    };
                    out.insert(name.to_string(), json(v));
                }
            }
        }
        out
    }

    /// The sampled parameters of a child run (inverse of [`Layout::encode_params`]).
    fn decode_params(&self, run: &RunRecord) -> Result<Params> {
        let value = |k: &str, v: &serde_json::Value| {
            serde_json::from_value::<Value>(v.clone())
                .map_err(|e| Error::Store(format!("run {}: parameter {k}: {e}", run.id)))
        };
        let mut out = Params::default();
        match self {
            Layout::Program { .. } => {
                if let Some(serde_json::Value::Object(m)) = run.params.get(keys::PARAMS) {
                    for (k, v) in m {
                        out.set(k, value(k, v)?);
                    }
                }
            }
            Layout::Pipeline { .. } => {
                let learner = run
                    .params
                    .get(keys::LEARNER)
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                for (k, v) in &run.params {
                    if k == keys::TRIAL {
                        continue;
                    }
                    if belongs_to_no_learner(k) {
                        out.set(k, value(k, v)?);
                    } else {
                        out.set(&format!("{learner}.{k}"), value(k, v)?);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Display name of a trial's child run.
    fn run_name(&self, id: usize, params: &Params) -> String {
        match (self, params.0.get(keys::LEARNER)) {
            (Layout::Pipeline { .. }, Some(l)) => format!("trial {id} {l}"),
            _ => format!("trial {id}"),
        }
    }

    /// The metric points of a finished trial.
    fn encode_metrics(&self, r: &TrialRecord) -> Vec<MetricPoint> {
        let step_key = self.step_key();
        let fold_key = keys::fold(self.metric());
        let mut points: Vec<MetricPoint> = r
            .folds
            .iter()
            .enumerate()
            .map(|(i, v)| MetricPoint::now(&fold_key, i as i64, *v))
            .collect();
        points.extend(r.steps.iter().map(|(s, v)| MetricPoint::now(&step_key, *s, *v)));
        if let (Layout::Program { metric, .. }, true, Some(v)) = (self, r.steps.is_empty(), r.value) {
            points.push(MetricPoint::now(metric, 0, v));
        }
        if let Some(v) = r.value {
            points.push(MetricPoint::now(keys::VALUE, 0, v));
        }
        points.push(MetricPoint::now(keys::STEPS, 0, r.steps.len() as f64));
        points.extend(r.metrics.iter().map(|(k, v)| MetricPoint::now(k, 0, *v)));
        if let Some(s) = r.fit_secs {
            points.push(MetricPoint::now(keys::FIT_SECS, 0, s));
        }
        if let Some(s) = r.predict_secs {
            points.push(MetricPoint::now(keys::PREDICT_SECS, 0, s));
        }
        points.push(MetricPoint::now(keys::TRIAL_SECS, 0, r.secs));
        points.push(MetricPoint::now(keys::STARTED_SECS, 0, r.started_secs));
        points.push(MetricPoint::now(keys::COST, 0, r.cost));
        points
    }

    /// The record of a finished child run.
    fn decode(&self, id: usize, run: &RunRecord, history: &[MetricPoint]) -> Result<TrialRecord> {
        let series = |key: &str| {
            let mut s: Vec<(i64, f64)> = history
                .iter()
                .filter(|p| p.key == key)
                .map(|p| (p.step, p.value))
                .collect();
            s.sort_by_key(|p| p.0);
            s
        };
        let metric = self.metric();
        let step_key = self.step_key();
        let mut steps = series(&step_key);
        if let Layout::Program { .. } = self {
            // Step 0 holds the value of a trial that reported no steps (runs recorded before the
            // step count was kept: steps start at 1).
            let reported = run.metrics.get(keys::STEPS).and_then(serde_json::Value::as_f64);
            match reported {
                Some(n) if n < 0.5 => steps.clear(),
                Some(_) => {}
                None => steps.retain(|s| s.0 > 0),
            }
        }
        let folds: Vec<f64> = series(&keys::fold(metric)).into_iter().map(|p| p.1).collect();
        let latest = |key: &str| run.metrics.get(key).and_then(serde_json::Value::as_f64);
        let program = matches!(self, Layout::Program { .. });
        let skip = |k: &str| keys::INTERNAL.contains(&k) || keys::is_series(k) || (program && k == metric);
        let metrics: BTreeMap<String, f64> = run
            .metrics
            .iter()
            .filter(|(k, _)| !skip(k))
            .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
            .collect();
        let state = run.status;
        // The value as the trial ended; runs recorded before it was kept: the metric, else the
        // last step.
        let value = if run.metrics.contains_key(keys::VALUE) {
            latest(keys::VALUE)
        } else if state == TrialState::Completed {
            latest(metric).or_else(|| steps.last().map(|s| s.1))
        } else if program && state == TrialState::Failed {
            None
        } else {
            steps.last().map(|s| s.1)
        };
        Ok(TrialRecord {
            id,
            params: self.decode_params(run)?,
            state,
            value,
            steps,
            cost: latest(keys::COST).unwrap_or(1.0),
            metrics,
            folds,
            fit_secs: latest(keys::FIT_SECS),
            predict_secs: latest(keys::PREDICT_SECS),
            started_secs: latest(keys::STARTED_SECS).unwrap_or(0.0),
            secs: latest(keys::TRIAL_SECS).unwrap_or_else(|| run.duration()),
            error: run.error.clone(),
            device: run
                .tags
                .get(keys::DEVICE)
                .and_then(|v| v.as_str())
                .map(str::to_string),
        })
    }
}

/// The layout of the trials of parent run `parent` (as recorded by `automl run` or
/// `automl sweep`), and its primary metric.
pub fn layout_of(parent: &RunRecord) -> Layout {
    let text = |k: &str| {
        parent
            .params
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("value")
            .to_string()
    };
    if parent.params.get(keys::KIND).and_then(|v| v.as_str()) == Some(keys::KIND_SWEEP) {
        Layout::Program {
            metric: text(keys::PRIMARY_METRIC),
            logs: PathBuf::new(),
        }
    } else {
        Layout::Pipeline {
            metric: text(keys::METRIC),
        }
    }
}

/// Every trial of run `parent` as recorded, whatever its state, with its child run (read only:
/// for reports).
pub fn read_trials(store: &dyn Store, parent: &RunRecord) -> Result<Vec<(RunRecord, TrialRecord)>> {
    let layout = layout_of(parent);
    let kids = store.runs(&RunFilter {
        parent: Some(parent.id),
        ..RunFilter::default()
    })?;
    let mut out = Vec::with_capacity(kids.len());
    for k in kids {
        let history = store.metric_history(k.id)?;
        let rec = layout.decode(trial_id(&k).unwrap_or(usize::MAX), &k, &history)?;
        out.push((k, rec));
    }
    Ok(out)
}

/// (trial id, child run) of the finished trials among child runs `kids`.
fn finished_trials(kids: &[RunRecord]) -> impl Iterator<Item = (usize, RunId)> + '_ {
    kids.iter().filter_map(|k| {
        let finished = matches!(
            k.status,
            TrialState::Completed | TrialState::Failed | TrialState::Pruned | TrialState::TimedOut
        );
        finished.then(|| trial_id(k).map(|id| (id, k.id))).flatten()
    })
}

/// The trial id of a child run.
pub fn trial_id(run: &RunRecord) -> Option<usize> {
    usize::try_from(run.params.get(keys::TRIAL)?.as_u64()?).ok()
}

/// How a study is shared with other worker processes (see [`super::claims`]).
#[derive(Clone)]
pub struct Sharing {
    /// The claims of the workspace.
    pub claims: Arc<dyn Claims>,
    /// This worker's id.
    pub worker: String,
    /// Attempts per trial (the first plus retries after lost workers).
    pub attempts: i64,
    /// Seconds without a heartbeat after which a claim's worker counts as lost.
    pub grace: f64,
}

impl Sharing {
    /// Claim the end of run `run` (trial -1): exactly one worker finishes a shared run. The one
    /// that gets it waits until every trial any worker started is finished (other workers'
    /// budgets may have ended later than this one's), giving up on those of lost workers, and
    /// returns `true`; the others return `false` at once.
    pub fn claim_end(&self, run: RunId) -> Result<bool> {
        let claim = self
            .claims
            .claim_trial(run, -1, &self.worker, self.attempts, self.grace)?;
        if !matches!(claim, Claim::Mine { .. }) {
            return Ok(false);
        }
        while self.claims.open_claims(run)? > 0 {
            self.claims.expire_lost(run, self.grace)?;
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        Ok(true)
    }

    /// Record this worker as taking part in run `run` (listed by `automl runs show`).
    pub fn join(&self, run: RunId) -> Result<()> {
        let t = super::now();
        self.claims.join_worker(&super::WorkerInfo {
            id: self.worker.clone(),
            run: Some(run),
            host: super::claims::hostname(),
            pid: i64::from(std::process::id()),
            devices: "cpu".into(),
            started: t,
            heartbeat: t,
            trials: 0,
        })
    }
}

/// The trials of workspace run `parent`, as child runs (see the module documentation).
pub struct RunStudy {
    store: Arc<dyn Store>,
    parent: RunId,
    experiment: String,
    layout: Layout,
    /// Child run of each trial started or finished.
    runs: Mutex<HashMap<usize, RunId>>,
    /// Steps written live, per running trial (not written again at its end).
    live: Mutex<HashMap<usize, Vec<(i64, f64)>>>,
    /// Trials finished in earlier sessions.
    earlier: BTreeSet<usize>,
    /// Trials marked killed when the study was opened.
    killed: usize,
    /// Set when other processes run trials of this study too.
    sharing: Option<Sharing>,
}

impl RunStudy {
    /// Open the study of run `parent` (of experiment `experiment`): trials it left `running` are
    /// marked killed (they will run again), finished ones are offered for replay.
    pub fn open(store: Arc<dyn Store>, parent: RunId, experiment: &str, layout: Layout) -> Result<RunStudy> {
        let kids = store.runs(&RunFilter {
            parent: Some(parent),
            ..RunFilter::default()
        })?;
        let running: Vec<RunId> = kids
            .iter()
            .filter(|k| k.status == TrialState::Running)
            .map(|k| k.id)
            .collect();
        let killed = store.mark_running_killed(&running)?;
        let runs: HashMap<usize, RunId> = finished_trials(&kids).collect();
        let earlier: BTreeSet<usize> = runs.keys().copied().collect();
        Ok(RunStudy {
            store,
            parent,
            experiment: experiment.to_string(),
            layout,
            runs: Mutex::new(runs),
            live: Mutex::new(HashMap::new()),
            earlier,
            killed,
            sharing: None,
        })
    }

    /// Open the study of run `parent` shared with other workers: trials other workers are running
    /// stay as they are (their claims decide), finished ones are offered for replay.
    pub fn open_shared(
        store: Arc<dyn Store>,
        parent: RunId,
        experiment: &str,
        layout: Layout,
        sharing: Sharing,
    ) -> Result<RunStudy> {
        let study = RunStudy {
            store,
            parent,
            experiment: experiment.to_string(),
            layout,
            runs: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
            earlier: BTreeSet::new(),
            killed: 0,
            sharing: Some(sharing),
        };
        let earlier = study.refresh()?;
        Ok(RunStudy { earlier, ..study })
    }

    /// Learn the finished trials other workers recorded; returns every finished trial id.
    fn refresh(&self) -> Result<BTreeSet<usize>> {
        let kids = self.store.runs(&RunFilter {
            parent: Some(self.parent),
            ..RunFilter::default()
        })?;
        let mut runs = self.runs();
        let mut done = BTreeSet::new();
        for (id, rid) in finished_trials(&kids) {
            runs.insert(id, rid);
            done.insert(id);
        }
        Ok(done)
    }

    /// How many trials were left `running` by an interruption and marked killed on opening.
    pub fn killed(&self) -> usize {
        self.killed
    }

    /// The parent run.
    pub fn parent(&self) -> RunId {
        self.parent
    }

    /// The child run of trial `trial`, once it started.
    pub fn run_of(&self, trial: usize) -> Option<RunId> {
        self.runs().get(&trial).copied()
    }

    fn runs(&self) -> std::sync::MutexGuard<'_, HashMap<usize, RunId>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn create(&self, id: usize, params: &Params) -> Result<RunId> {
        let rid = self.store.create_run(&NewRun {
            experiment: self.experiment.clone(),
            parent: Some(self.parent),
            name: self.layout.run_name(id, params),
            status: Some(TrialState::Running),
            params: self.layout.encode_params(id, params),
            environment: serde_json::Value::Null,
        })?;
        self.runs().insert(id, rid);
        Ok(rid)
    }
}

impl TrialStore for RunStudy {
    fn finished_ids(&self) -> Result<BTreeSet<usize>> {
        Ok(self.earlier.clone())
    }

    fn shared(&self) -> bool {
        self.sharing.is_some()
    }

    fn claim(&self, id: usize) -> Result<Ownership> {
        let Some(sh) = &self.sharing else {
            return Ok(Ownership::Mine);
        };
        match sh
            .claims
            .claim_trial(self.parent, id as i64, &sh.worker, sh.attempts, sh.grace)?
        {
            Claim::Mine { .. } => Ok(Ownership::Mine),
            Claim::Taken | Claim::Done => Ok(Ownership::Elsewhere),
        }
    }

    fn start(&self, id: usize, params: &Params) -> Result<()> {
        // A finished trial that could not be read back runs again: its old run steps aside, so
        // each trial id has one finished run.
        // Shared: the claim decides, and a lost attempt's run was marked by the takeover.
        let old = self.runs().get(&id).copied().filter(|_| self.sharing.is_none());
        if let Some(old) = old {
            self.store
                .finish_run(old, TrialState::Killed, Some("replaced: the trial ran again"))?;
        }
        let rid = self.create(id, params)?;
        if let Some(sh) = &self.sharing {
            sh.claims
                .set_claim_child(self.parent, id as i64, &sh.worker, rid)?;
        }
        Ok(())
    }

    fn report(&self, id: usize, step: i64, value: f64) -> Result<()> {
        let Some(rid) = self.runs().get(&id).copied() else {
            return Ok(());
        };
        self.store
            .log_metrics(rid, &[MetricPoint::now(&self.layout.step_key(), step, value)])?;
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.entry(id).or_default().push((step, value));
        Ok(())
    }

    fn keeps_steps_live(&self) -> bool {
        true
    }

    fn finish(&self, r: &Arc<TrialRecord>) -> Result<()> {
        let live = {
            let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            live.remove(&r.id).unwrap_or_default()
        };
        let known = self.runs().get(&r.id).copied();
        let rid = match known {
            Some(rid) => rid,
            None => self.create(r.id, &r.params)?,
        };
        let state = if r.state.is_finished() {
            r.state
        } else {
            TrialState::Killed
        };
        if let Some(d) = &r.device {
            self.store.set_tags(rid, &[(keys::DEVICE, d)])?;
        }
        let step_key = self.layout.step_key();
        let mut points = self.layout.encode_metrics(r);
        points.retain(|p| !(p.key == step_key && live.contains(&(p.step, p.value))));
        match &self.sharing {
            // Cancelled here (Ctrl-C): the trial is handed back for another worker to run.
            Some(sh) if state == TrialState::Killed => {
                self.runs().remove(&r.id);
                self.store.complete_run(rid, &points, state, r.error.as_deref())?;
                sh.claims.release_trial(self.parent, r.id as i64, &sh.worker)?;
            }
            Some(sh) => {
                let held = sh.claims.complete_claimed(
                    self.parent,
                    r.id as i64,
                    &sh.worker,
                    rid,
                    super::claims::Ending {
                        points: &points,
                        status: state,
                        error: r.error.as_deref(),
                    },
                )?;
                if !held {
                    // Another worker took the trial over meanwhile: its result is the one kept.
                    self.runs().remove(&r.id);
                    self.store.finish_run(
                        rid,
                        TrialState::Killed,
                        Some("another worker ran this trial after this one's heartbeat lapsed"),
                    )?;
                    return Ok(());
                }
            }
            None => self.store.complete_run(rid, &points, state, r.error.as_deref())?,
        }
        if let Layout::Program { logs, .. } = &self.layout {
            let dir = logs.join(format!("trial-{}", r.id));
            // Logs in the workspace's own artifact folder are recorded by workspace path (and kept
            // in the database by a workspace that keeps files); others by absolute path.
            let own = logs.ends_with(Path::new("artifacts").join(self.parent.to_string()));
            for log in ["stdout.log", "stderr.log", "command.json"] {
                let file = dir.join(log);
                if !file.exists() {
                    continue;
                }
                if own {
                    let rel = format!("artifacts/{}/trial-{}/{log}", self.parent, r.id);
                    self.store.add_artifact_file(rid, log, &rel, &file)?;
                } else {
                    self.store.add_artifact(rid, log, &file.display().to_string())?;
                }
            }
        }
        Ok(())
    }

    fn trial(&self, id: usize) -> Result<Option<Arc<TrialRecord>>> {
        let mut known = self.runs().get(&id).copied();
        if let (None, Some(sh)) = (known, &self.sharing) {
            // One small query per look: while another worker holds the trial, nothing more; once
            // it is done, its claim names its child run (the children are listed only when not).
            match sh.claims.claim_status(self.parent, id as i64)? {
                Some((state, _)) if state == "running" => return Ok(None),
                Some((_, Some(child))) => {
                    self.runs().insert(id, child);
                    known = Some(child);
                }
                _ => {
                    self.refresh()?;
                    known = self.runs().get(&id).copied();
                }
            }
        }
        let Some(rid) = known else {
            return Ok(None);
        };
        let run = self.store.run(rid)?;
        if !run.status.is_finished() {
            return Ok(None);
        }
        let history = self.store.metric_history(rid)?;
        self.layout.decode(id, &run, &history).map(|r| Some(Arc::new(r)))
    }

    fn trials(&self) -> Result<Vec<Arc<TrialRecord>>> {
        if self.sharing.is_some() {
            self.refresh()?;
        }
        let ids: BTreeMap<usize, RunId> = self.runs().iter().map(|(t, r)| (*t, *r)).collect();
        let mut out = Vec::with_capacity(ids.len());
        for (id, rid) in ids {
            let run = self.store.run(rid)?;
            if run.status.is_finished() {
                let history = self.store.metric_history(rid)?;
                out.push(Arc::new(self.layout.decode(id, &run, &history)?));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqlStore;

    fn record(id: usize, state: TrialState, params: &[(&str, Value)]) -> TrialRecord {
        let mut p = Params::default();
        for (k, v) in params {
            p.set(k, v.clone());
        }
        TrialRecord {
            id,
            params: p,
            state,
            value: Some(0.25 + id as f64 / 3.0),
            steps: vec![(1, 0.5), (2, 1.0 / 3.0)],
            cost: 1234.5678,
            metrics: [("log_loss".to_string(), 0.123_456_789_012_345_6)].into(),
            folds: vec![0.1, 0.2, 1.0 / 7.0],
            fit_secs: Some(0.75),
            predict_secs: Some(0.125),
            started_secs: 3.5,
            secs: 0.9,
            error: (state == TrialState::Failed).then(|| "boom".to_string()),
            device: (id % 2 == 1).then(|| "cuda:0".to_string()),
        }
    }

    /// A parent run recorded as `automl run` or `automl sweep` records it for `layout`.
    fn parent(store: &Arc<dyn Store>, layout: &Layout) -> RunId {
        let mut params = serde_json::Map::new();
        match layout {
            Layout::Pipeline { metric } => {
                params.insert(keys::METRIC.into(), metric.as_str().into());
            }
            Layout::Program { metric, .. } => {
                params.insert(keys::KIND.into(), keys::KIND_SWEEP.into());
                params.insert(keys::PRIMARY_METRIC.into(), metric.as_str().into());
            }
        }
        store
            .create_run(&NewRun {
                experiment: "e".into(),
                name: "run".into(),
                status: Some(TrialState::Running),
                params,
                ..NewRun::default()
            })
            .unwrap()
    }

    fn a_trial_reads_back_exactly_as_it_was_written_in_both_layouts(s: SqlStore) {
        let store: Arc<dyn Store> = Arc::new(s);
        let pipeline = Layout::Pipeline {
            metric: "accuracy".into(),
        };
        let program = Layout::Program {
            metric: "loss".into(),
            logs: PathBuf::from("/nonexistent"),
        };
        let cases = [
            (
                pipeline,
                vec![
                    ("learner", Value::Str("knn".into())),
                    ("prep.scale", Value::Str("none".into())),
                    ("knn.k", Value::Int(7)),
                    ("knn.w", Value::Float(1.0)),
                    // The searched row share belongs to no learner (it read back as `knn.sample`).
                    (crate::trials::SAMPLE, Value::Float(0.25)),
                ],
            ),
            (
                program,
                vec![
                    ("lr", Value::Float(0.1 + 0.2)),
                    ("layers", Value::Int(3)),
                    ("opt", Value::Str("adam".into())),
                ],
            ),
        ];
        for (layout, params) in cases {
            let id = parent(&store, &layout);
            let study = RunStudy::open(store.clone(), id, "e", layout.clone()).unwrap();
            for (t, state) in [TrialState::Completed, TrialState::Pruned, TrialState::Failed]
                .into_iter()
                .enumerate()
            {
                let mut r = record(t, state, &params);
                if matches!(layout, Layout::Program { .. }) {
                    // Program trials report their metric lines, not fold scores: one with no
                    // step, one from step 0, one from step 1.
                    r.folds.clear();
                    r.fit_secs = None;
                    r.predict_secs = None;
                    r.steps = [vec![], vec![(0, 0.5), (1, 0.25)], vec![(1, 0.5)]][t].clone();
                }
                study.start(t, &r.params).unwrap();
                assert_eq!(study.trial(t).unwrap(), None, "a running trial is not finished");
                let r = Arc::new(r);
                study.finish(&r).unwrap();
                assert_eq!(
                    study.trial(t).unwrap().as_deref(),
                    Some(&*r),
                    "{layout:?} {state:?}"
                );
            }
            assert_eq!(study.trials().unwrap().len(), 3);
            // The report's reader decodes the same records.
            let p = store.run(id).unwrap();
            let read = read_trials(store.as_ref(), &p).unwrap();
            assert_eq!(read.len(), 3);
            for (t, (_, r)) in read.iter().enumerate() {
                assert_eq!(*r, *study.trial(t).unwrap().unwrap());
            }
        }
    }

    fn reopening_kills_running_trials_and_offers_the_finished_ones(s: SqlStore) {
        let store: Arc<dyn Store> = Arc::new(s);
        let layout = Layout::Pipeline { metric: "r2".into() };
        let id = parent(&store, &layout);
        let study = RunStudy::open(store.clone(), id, "e", layout.clone()).unwrap();
        let params = [
            ("learner", Value::Str("ridge".into())),
            ("ridge.alpha", Value::Float(1.0)),
        ];
        for t in 0..3 {
            let r = Arc::new(record(t, TrialState::Completed, &params));
            study.start(t, &r.params).unwrap();
            if t != 1 {
                study.finish(&r).unwrap();
            }
        }
        // Trial 1 was running when the process died.
        let again = RunStudy::open(store.clone(), id, "e", layout).unwrap();
        assert_eq!(again.killed(), 1);
        assert_eq!(again.finished_ids().unwrap(), BTreeSet::from([0, 2]));
        assert_eq!(again.trial(1).unwrap(), None);
        assert_eq!(again.trial(2).unwrap().unwrap().id, 2);
    }

    fn a_trial_that_runs_again_leaves_one_finished_run_per_id(s: SqlStore) {
        let store: Arc<dyn Store> = Arc::new(s);
        let layout = Layout::Pipeline { metric: "r2".into() };
        let id = parent(&store, &layout);
        let params = [
            ("learner", Value::Str("ridge".into())),
            ("ridge.alpha", Value::Float(2.0)),
        ];
        let study = RunStudy::open(store.clone(), id, "e", layout.clone()).unwrap();
        let r = Arc::new(record(0, TrialState::Completed, &params));
        study.start(0, &r.params).unwrap();
        study.finish(&r).unwrap();
        let again = RunStudy::open(store.clone(), id, "e", layout).unwrap();
        again.start(0, &r.params).unwrap();
        again.finish(&r).unwrap();
        let p = store.run(id).unwrap();
        let states: Vec<TrialState> = read_trials(store.as_ref(), &p)
            .unwrap()
            .iter()
            .map(|(k, _)| k.status)
            .collect();
        assert_eq!(states, [TrialState::Killed, TrialState::Completed]);
        assert_eq!(again.trials().unwrap().len(), 1);
    }

    fn steps_reported_while_running_are_visible_at_once_and_written_once(s: SqlStore) {
        let store: Arc<dyn Store> = Arc::new(s);
        let layout = Layout::Program {
            metric: "loss".into(),
            logs: PathBuf::from("/nonexistent"),
        };
        let id = parent(&store, &layout);
        let study = RunStudy::open(store.clone(), id, "e", layout).unwrap();
        assert!(study.keeps_steps_live());
        let mut r = record(0, TrialState::Completed, &[("lr", Value::Float(0.5))]);
        r.folds.clear();
        r.fit_secs = None;
        r.predict_secs = None;
        study.start(0, &r.params).unwrap();
        study.report(0, 1, 0.5).unwrap();
        study.report(0, 2, 1.0 / 3.0).unwrap();
        let kid = study.runs().get(&0).copied().unwrap();
        let seen = |k: &str| {
            store
                .metric_history(kid)
                .unwrap()
                .iter()
                .filter(|p| p.key == k)
                .count()
        };
        assert_eq!(seen("loss"), 2, "a running trial's steps are in the store");
        let r = Arc::new(r);
        study.finish(&r).unwrap();
        assert_eq!(seen("loss"), 2, "and are not written twice");
        assert_eq!(study.trial(0).unwrap().as_deref(), Some(&*r));
    }

    crate::store::on_both_backends!(
        a_trial_reads_back_exactly_as_it_was_written_in_both_layouts,
        reopening_kills_running_trials_and_offers_the_finished_ones,
        a_trial_that_runs_again_leaves_one_finished_run_per_id,
        steps_reported_while_running_are_visible_at_once_and_written_once
    );
}
