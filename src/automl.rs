//! The library entry point: configure a search with [`AutoML::builder`], run it with [`AutoML::fit`].
//!
//! ```no_run
//! use automl::{AutoML, Dataset};
//! # fn main() -> automl::Result<()> {
//! let data = Dataset::from_path("datasets/iris/train.csv".as_ref(), "species", None)?;
//! let run = AutoML::builder().time_budget_secs(10.0).seed(42).build()?.fit(&data)?;
//! println!("best: {} {:.4}", run.best.config.learner, run.best.cv_score);
//! run.best.save("iris.automl".as_ref())?;
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::data::{Dataset, Task};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::model::{ModelFile, ModelInfo, Pipeline, FORMAT, FORMAT_VERSION};
use crate::pruners::Policy;
use crate::samplers::SamplerKind;
use crate::space::{builtin_spaces, ParamSpec, SearchSpace, SpaceFile};
use crate::store::{MetricPoint, NewRun, RunId, RunStatus, Store};
use crate::sweep::{Goal, Limits, Monitor, Sweep, TrialRecord};
use crate::trials::{self, EvalContext, TrialResult, TrialStatus};
use crate::validation;

/// Callback invoked after every trial.
pub type TrialCallback = Arc<dyn Fn(&TrialResult) + Send + Sync>;

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

/// Builder for [`AutoML`]; every setting has a sensible default.
#[derive(Clone, Default)]
pub struct AutoMLBuilder {
    metric: Option<Metric>,
    time_budget: Option<f64>,
    max_trials: Option<usize>,
    jobs: Option<usize>,
    seed: u64,
    learners: Option<Vec<String>>,
    on_trial: Option<TrialCallback>,
    recording: Option<Recording>,
    resume: Option<RunId>,
    sampler: SamplerKind,
    policy: Option<Policy>,
    trial_timeout: Option<f64>,
    max_concurrent: Option<usize>,
    space_file: Option<SpaceFile>,
}

impl AutoMLBuilder {
    /// Continue run `id` of the recording store instead of starting a new one: finished trials are
    /// kept, trials killed by the interruption run again, the remaining time budget is honoured.
    pub fn resume(mut self, id: RunId) -> Self {
        self.resume = Some(id);
        self
    }

    /// Record the run, every trial and their metrics in a store.
    pub fn record(mut self, r: Recording) -> Self {
        self.recording = Some(r);
        self
    }

    /// Primary metric (default: ROC AUC for binary, accuracy for multiclass, R² for regression).
    pub fn metric(mut self, m: Metric) -> Self {
        self.metric = Some(m);
        self
    }

    /// Stop starting trials after this many seconds (default 60 when no trial limit is set).
    pub fn time_budget_secs(mut self, secs: f64) -> Self {
        self.time_budget = Some(secs);
        self
    }

    /// Run at most this many trials.
    pub fn max_trials(mut self, n: usize) -> Self {
        self.max_trials = Some(n);
        self
    }

    /// Parallel trials (default: all cores).
    pub fn jobs(mut self, n: usize) -> Self {
        self.jobs = Some(n);
        self
    }

    /// Seed for sampling, splits and learners (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Restrict the search to these learners.
    pub fn learners<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.learners = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Call `f` after every trial (for progress display).
    pub fn on_trial(mut self, f: impl Fn(&TrialResult) + Send + Sync + 'static) -> Self {
        self.on_trial = Some(Arc::new(f));
        self
    }

    /// How configurations are chosen (default: the cost-frugal search).
    pub fn sampler(mut self, s: SamplerKind) -> Self {
        self.sampler = s;
        self
    }

    /// Early-termination policy (default none). With a policy, each trial reports as it goes:
    /// with cross-validation, the mean score of the folds done after each fold (step = folds);
    /// with a holdout, its score on 1/8, 2/8, 4/8 of the training rows (the policy's rungs) before
    /// the full fit (step 8).
    pub fn early_termination(mut self, p: Policy) -> Self {
        self.policy = Some(p);
        self
    }

    /// Stop a trial running longer than this (recorded as timed out).
    pub fn trial_timeout_secs(mut self, secs: f64) -> Self {
        self.trial_timeout = Some(secs);
        self
    }

    /// Most trials at once, and the determinism window (default 8; see [`crate::sweep`]).
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = Some(n);
        self
    }

    /// Narrow or override the built-in search spaces.
    pub fn search_space(mut self, f: SpaceFile) -> Self {
        self.space_file = Some(f);
        self
    }

    /// Check the settings.
    pub fn build(self) -> Result<AutoML> {
        if let Some(t) = self.trial_timeout {
            if !(t.is_finite() && t > 0.0 && t <= 1e9) {
                return Err(Error::Config(format!(
                    "trial timeout must be a positive number of seconds, got {t}"
                )));
            }
        }
        if self.max_concurrent == Some(0) {
            return Err(Error::Config("max concurrent trials must be at least 1".into()));
        }
        if let Some(t) = self.time_budget {
            if !(t.is_finite() && t > 0.0 && t <= 1e9) {
                return Err(Error::Config(format!(
                    "time budget must be a positive number of seconds (at most 1e9), got {t}"
                )));
            }
        }
        if self.max_trials == Some(0) {
            return Err(Error::Config("max trials must be at least 1".into()));
        }
        if self.jobs == Some(0) {
            return Err(Error::Config("jobs must be at least 1".into()));
        }
        Ok(AutoML { s: self })
    }
}

/// A configured search.
#[derive(Clone)]
pub struct AutoML {
    s: AutoMLBuilder,
}

/// The outcome of [`AutoML::fit`]: every trial and the best pipeline refitted on all rows.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The task.
    pub task: Task,
    /// Primary metric.
    pub metric: Metric,
    /// Validation scheme.
    pub validation: String,
    /// Learners searched.
    pub learners: Vec<String>,
    /// Sampler used.
    pub sampler: String,
    /// Early-termination policy used.
    pub policy: String,
    /// Every trial in id order.
    pub trials: Vec<TrialResult>,
    /// The best model, ready to save or predict with.
    pub best: ModelFile,
    /// Id of the best trial.
    pub best_trial: usize,
    /// Seconds spent searching.
    pub search_secs: f64,
    /// Seconds spent refitting the best configuration on all rows.
    pub refit_secs: f64,
    /// Non-fatal remarks.
    pub warnings: Vec<String>,
    /// The parent run in the store, when recorded.
    pub run_id: Option<RunId>,
    /// What was resumed, for a resumed run.
    pub resumed: Option<String>,
}

impl RunSummary {
    /// Completed trials, best first.
    pub fn leaderboard(&self) -> Vec<&TrialResult> {
        trials::ranked(&self.trials, self.metric)
    }

    /// Number of failed trials.
    pub fn failed(&self) -> usize {
        self.count(TrialStatus::Failed)
    }

    /// Number of trials that ended in `status`.
    pub fn count(&self, status: TrialStatus) -> usize {
        self.trials.iter().filter(|t| t.status == status).count()
    }
}

fn parent_run(
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
    params.insert("metric".into(), metric.name().into());
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
        status: Some(RunStatus::Running),
        params,
        environment: serde_json::Value::Object(env),
    }
}

/// Records each trial as a child run: `running` when it starts (so a killed process leaves it
/// visible), then its fold metrics (`fold_<metric>`), step values (`step_<metric>`), fold means and
/// end state in one transaction. Also keeps the refit-time reserve of the best trial so far.
struct Recorder<'a> {
    recording: Option<(&'a Recording, RunId)>,
    /// Experiment of the parent run (a resumed run keeps its own).
    experiment: String,
    started: Instant,
    /// Search seconds of earlier sessions of a resumed run.
    spent_before: f64,
    metric: Metric,
    runs: std::sync::Mutex<std::collections::HashMap<usize, RunId>>,
    error: std::sync::Mutex<Option<String>>,
    user: Option<&'a TrialCallback>,
    /// (best score so far, estimated seconds to refit it on all rows)
    best: std::sync::Mutex<Option<(f64, f64)>>,
    /// Rows of the full data / rows of one fold's training part.
    refit_scale: f64,
    folds: f64,
}

impl Recorder<'_> {
    fn note(&self, e: Error) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(e.to_string());
        }
    }

    fn consider(&self, t: &TrialResult) {
        if let (Some(score), Ok(mut b)) = (t.score, self.best.lock()) {
            if b.is_none_or(|(old, _)| self.metric.better(score, old)) {
                *b = Some((score, t.fit_secs / self.folds * self.refit_scale));
            }
        }
    }
}

impl Monitor for Recorder<'_> {
    fn started(&self, id: usize, p: &crate::space::Params) {
        let Some((r, parent)) = self.recording else { return };
        let Ok(config) = trials::config_of(p) else { return };
        let mut params = serde_json::Map::new();
        params.insert("trial".into(), id.into());
        params.insert("learner".into(), config.learner.clone().into());
        for (k, v) in &config.prep.0 {
            params.insert(
                format!("{PREP_PREFIX}{k}"),
                serde_json::to_value(v).unwrap_or_default(),
            );
        }
        for (k, v) in &config.params.0 {
            params.insert(k.clone(), serde_json::to_value(v).unwrap_or_default());
        }
        let run = NewRun {
            experiment: self.experiment.clone(),
            parent: Some(parent),
            name: format!("trial {id} {}", config.learner),
            status: Some(RunStatus::Running),
            params,
            environment: serde_json::Value::Null,
        };
        match r.store.create_run(&run) {
            Ok(rid) => {
                if let Ok(mut m) = self.runs.lock() {
                    m.insert(id, rid);
                }
            }
            Err(e) => self.note(e),
        }
    }

    fn finished(&self, rec: &TrialRecord) {
        let t = trials::result_of(rec);
        self.consider(&t);
        if let Some((r, parent)) = self.recording {
            let rid = self.runs.lock().ok().and_then(|mut m| m.remove(&t.id));
            if let Some(rid) = rid {
                let fold_key = format!("fold_{}", self.metric.name());
                let step_key = format!("{STEP_PREFIX}{}", self.metric.name());
                let mut points: Vec<MetricPoint> = t
                    .fold_scores
                    .iter()
                    .enumerate()
                    .map(|(i, v)| MetricPoint::now(&fold_key, i as i64, *v))
                    .collect();
                points.extend(t.steps.iter().map(|(s, v)| MetricPoint::now(&step_key, *s, *v)));
                points.extend(t.metrics.iter().map(|(k, v)| MetricPoint::now(k, 0, *v)));
                points.push(MetricPoint::now(FIT_SECS, 0, t.fit_secs));
                points.push(MetricPoint::now(PREDICT_SECS, 0, t.predict_secs));
                let status = match t.status {
                    TrialStatus::Completed => RunStatus::Completed,
                    TrialStatus::Failed => RunStatus::Failed,
                    TrialStatus::Pruned => RunStatus::Pruned,
                    TrialStatus::TimedOut => RunStatus::TimedOut,
                    TrialStatus::Cancelled => RunStatus::Killed,
                };
                if let Err(e) = r.store.complete_run(rid, &points, status, t.error.as_deref()) {
                    self.note(e);
                }
                // Search time across sessions, so a resume can honour the remaining budget.
                let spent = self.spent_before + self.started.elapsed().as_secs_f64();
                if let Err(e) = r
                    .store
                    .log_metrics(parent, &[MetricPoint::now(SEARCH_SECS, t.id as i64, spent)])
                {
                    self.note(e);
                }
            }
        }
        if let Some(f) = self.user {
            f(&t);
        }
    }

    fn reserve_secs(&self) -> f64 {
        self.best
            .lock()
            .ok()
            .and_then(|b| b.map(|(_, secs)| secs))
            .unwrap_or(0.0)
    }
}

const PREP_PREFIX: &str = "prep.";
const FIT_SECS: &str = "fit_secs";
const PREDICT_SECS: &str = "predict_secs";
const SEARCH_SECS: &str = "search_secs";
/// Parent-run parameters that must match for a resume.
const RESUME_KEYS: &[&str] = &[
    "target",
    "task",
    "metric",
    "seed",
    "learners",
    "validation",
    "sampler",
    "early_termination",
    "max_concurrent",
    "search_space",
];
const STEP_PREFIX: &str = "step_";

/// Reopen run `id` for resuming: mark trials left `running` as killed, rebuild the finished ones,
/// and measure the time already spent. Returns (finished trials, seconds spent, a note).
fn reopen(
    r: &Recording,
    id: RunId,
    metric: Metric,
    expected: &NewRun,
) -> Result<(Vec<TrialResult>, f64, String, String)> {
    let parent = r.store.run(id)?;
    if let Some(p) = parent.parent {
        return Err(Error::Config(format!(
            "run {id} is a trial; resume its parent run {p}"
        )));
    }
    if parent.status == RunStatus::Completed {
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
    if let Some(pid) = live_owner(&parent.tags) {
        return Err(Error::Config(format!(
            "run {id} is still being run by process {pid} on this machine; stop it before resuming"
        )));
    }
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
    let kids = r.store.runs(&crate::store::RunFilter {
        parent: Some(id),
        ..Default::default()
    })?;
    let running: Vec<RunId> = kids
        .iter()
        .filter(|k| k.status == RunStatus::Running)
        .map(|k| k.id)
        .collect();
    let killed = r.store.mark_running_killed(&running)?;
    let mut prior = Vec::new();
    for k in kids.iter().filter(|k| {
        matches!(
            k.status,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Pruned | RunStatus::TimedOut
        )
    }) {
        let history = r.store.metric_history(k.id)?;
        if let Some(t) = trial_from_record(k, &history, metric) {
            prior.push(t);
        }
    }
    // Search time of earlier sessions (downtime between sessions does not count).
    let spent = r
        .store
        .metric_history(id)?
        .iter()
        .filter(|p| p.key == SEARCH_SECS)
        .map(|p| p.value)
        .fold(0.0, f64::max);
    r.store.reopen_run(id)?;
    claim(r, id)?;
    let note = format!(
        "resuming run {id}: {} finished trial(s) kept, {killed} trial(s) killed by the interruption will run again, {spent:.1}s of the budget already spent",
        prior.len()
    );
    Ok((prior, spent, note, parent.experiment))
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Record this process as the one running `id` (checked by a later resume).
fn claim(r: &Recording, id: RunId) -> Result<()> {
    let pid = std::process::id().to_string();
    r.store.set_tags(id, &[("pid", &pid), ("host", &hostname())])
}

/// The pid recorded on a run when that process is still alive and is an automl process on this
/// machine (Linux /proc); `None` when it is gone, elsewhere, or cannot be checked.
fn live_owner(tags: &serde_json::Map<String, serde_json::Value>) -> Option<u32> {
    let pid: u32 = tags.get("pid")?.as_str()?.parse().ok()?;
    if tags.get("host")?.as_str()? != hostname() || pid == std::process::id() {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    String::from_utf8_lossy(&cmdline)
        .contains("automl")
        .then_some(pid)
}

/// Rebuild a finished trial from its stored child run.
fn trial_from_record(
    rec: &crate::store::RunRecord,
    history: &[MetricPoint],
    metric: Metric,
) -> Option<TrialResult> {
    let id = usize::try_from(rec.params.get("trial")?.as_u64()?).ok()?;
    let learner = rec.params.get("learner")?.as_str()?.to_string();
    let mut prep = crate::space::Params::default();
    let mut params = crate::space::Params::default();
    for (k, v) in &rec.params {
        if k == "trial" || k == "learner" {
            continue;
        }
        let value: crate::space::Value = serde_json::from_value(v.clone()).ok()?;
        match k.strip_prefix(PREP_PREFIX) {
            Some(name) => prep.set(name, value),
            None => params.set(k, value),
        }
    }
    let fold_key = format!("fold_{}", metric.name());
    let step_key = format!("{STEP_PREFIX}{}", metric.name());
    let mut steps: Vec<(i64, f64)> = history
        .iter()
        .filter(|p| p.key == step_key)
        .map(|p| (p.step, p.value))
        .collect();
    steps.sort_by_key(|s| s.0);
    let mut folds: Vec<&MetricPoint> = history.iter().filter(|p| p.key == fold_key).collect();
    folds.sort_by_key(|p| p.step);
    let fold_scores: Vec<f64> = folds.iter().map(|p| p.value).collect();
    let metrics: std::collections::BTreeMap<String, f64> = rec
        .metrics
        .iter()
        .filter(|(k, _)| {
            *k != &fold_key && *k != &step_key && k.as_str() != FIT_SECS && k.as_str() != PREDICT_SECS
        })
        .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
        .collect();
    let completed = rec.status == RunStatus::Completed;
    let score = if completed {
        metrics.get(metric.name()).copied()
    } else {
        None
    };
    let std = score.map(|m| {
        let n = fold_scores.len().max(1) as f64;
        (fold_scores.iter().map(|s| (s - m) * (s - m)).sum::<f64>() / n).sqrt()
    });
    Some(TrialResult {
        id,
        config: crate::model::TrialConfig {
            learner,
            prep,
            params,
        },
        status: match rec.status {
            RunStatus::Completed => TrialStatus::Completed,
            RunStatus::Pruned => TrialStatus::Pruned,
            RunStatus::TimedOut => TrialStatus::TimedOut,
            _ => TrialStatus::Failed,
        },
        score,
        std,
        fold_scores,
        metrics,
        fit_secs: rec.metrics.get(FIT_SECS).and_then(|v| v.as_f64()).unwrap_or(0.0),
        predict_secs: 0.0,
        started_secs: 0.0,
        error: rec.error.clone(),
        steps,
        cost: 0.0,
    })
}

/// Default worker count: every available core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl AutoML {
    /// Start configuring a search.
    pub fn builder() -> AutoMLBuilder {
        AutoMLBuilder::default()
    }

    /// Search for the best pipeline on `data`, then refit it on all rows.
    pub fn fit(&self, data: &Dataset) -> Result<RunSummary> {
        let s = &self.s;
        let task = data.schema.task;
        let metric = s.metric.unwrap_or(Metric::default_for(task));
        if !metric.fits(task) {
            let ok: Vec<&str> = crate::metrics::ALL
                .iter()
                .filter(|m| m.fits(task))
                .map(|m| m.name())
                .collect();
            return Err(Error::Config(format!(
                "metric {} does not apply to {} tasks (use one of: {})",
                metric.name(),
                task.name(),
                ok.join(", ")
            )));
        }
        let (prep, spaces) = builtin_spaces()?;
        let mut all = spaces;
        all.push(prep);
        if let Some(f) = &s.space_file {
            f.apply(&mut all)?;
        }
        let prep = all
            .pop()
            .ok_or_else(|| Error::Config("no preprocessing space".into()))?;
        let mut spaces: Vec<_> = all.into_iter().filter(|sp| sp.supports(task)).collect();
        let known: BTreeSet<&str> = crate::learners::LEARNERS.iter().copied().collect();
        let wanted = [
            s.learners.clone(),
            s.space_file.as_ref().and_then(|f| f.learners.clone()),
        ];
        for want in wanted.iter().flatten() {
            for w in want {
                if !known.contains(w.as_str()) {
                    return Err(Error::Config(format!(
                        "unknown learner '{w}' (known: {})",
                        crate::learners::LEARNERS.join(", ")
                    )));
                }
            }
            spaces.retain(|sp| want.contains(&sp.learner));
        }
        if spaces.is_empty() {
            return Err(Error::Config(format!(
                "none of the requested learners supports {} tasks",
                task.name()
            )));
        }
        let learners: Vec<String> = spaces.iter().map(|sp| sp.learner.clone()).collect();
        // One search space: the learner, preprocessing, and each learner's own parameters.
        let mut space = SearchSpace::new().add(
            trials::LEARNER,
            ParamSpec::choice(learners.iter().map(String::as_str)),
        );
        // Preprocessing is searched only for learners that take encoded input.
        let encoded: Vec<&str> = learners
            .iter()
            .map(String::as_str)
            .filter(|l| !crate::learners::native_input(l))
            .collect();
        if !encoded.is_empty() {
            for (name, spec) in &prep.params {
                let spec = spec.clone().when(trials::LEARNER, encoded.iter().copied());
                space = space.add(&format!("{}{name}", trials::PREP), spec);
            }
        }
        for sp in &spaces {
            for (name, spec) in &sp.params {
                let spec = spec.clone().when(trials::LEARNER, [sp.learner.as_str()]);
                space = space.add(&format!("{}.{name}", sp.learner), spec);
            }
        }
        let policy = s.policy.clone().unwrap_or(Policy::None);
        let mut warnings = data.warnings.clone();
        let plan = validation::plan(&data.target, s.seed, &mut warnings)?;
        // Steps under a policy: folds for cross-validation, growing subsets for a holdout.
        let fold_steps = policy != Policy::None && plan.folds.len() >= 2;
        let ctx = EvalContext {
            data,
            plan: &plan,
            metric,
            steps: if policy == Policy::None || fold_steps {
                vec![trials::MAX_STEP]
            } else {
                policy.report_steps(trials::MAX_STEP)
            },
            fold_steps,
            gbdt: Default::default(),
        };
        let jobs = s.jobs.unwrap_or_else(default_jobs);
        // A resumed run keeps its finished trials and the time it already spent.
        let mut resumed = None;
        let mut resumed_experiment = None;
        let (run_id, prior, spent) = match (&s.recording, s.resume) {
            (Some(r), Some(id)) => {
                let expected = parent_run(r, data, metric, &plan.description, s, jobs);
                let (prior, spent, note, experiment) = reopen(r, id, metric, &expected)?;
                resumed = Some(note);
                resumed_experiment = Some(experiment);
                (Some(id), prior, spent)
            }
            (None, Some(id)) => {
                return Err(Error::Config(format!(
                    "cannot resume run {id} without a workspace"
                )));
            }
            (Some(r), None) => {
                let id = r
                    .store
                    .create_run(&parent_run(r, data, metric, &plan.description, s, jobs))?;
                claim(r, id)?;
                (Some(id), Vec::new(), 0.0)
            }
            (None, None) => (None, Vec::new(), 0.0),
        };
        let limits = Limits {
            time: match (s.time_budget, s.max_trials) {
                (Some(t), _) => Some(Duration::from_secs_f64((t - spent).max(0.0))),
                (None, Some(_)) => None,
                (None, None) => Some(Duration::from_secs_f64((60.0 - spent).max(0.0))),
            },
            max_trials: s.max_trials,
            trial_timeout: s.trial_timeout.map(Duration::from_secs_f64),
        };
        let goal = if metric.higher_is_better() {
            Goal::Maximize
        } else {
            Goal::Minimize
        };
        let sweep = Sweep::builder(space)
            .goal(goal)
            .sampler(s.sampler)
            .policy(policy.clone())
            .seed(s.seed)
            .jobs(jobs)
            .max_concurrent(s.max_concurrent.unwrap_or(crate::sweep::DEFAULT_MAX_CONCURRENT))
            .prior(prior.iter().map(|t| trials::record_of(t, data, &plan)).collect())
            .build()?;
        let n_rows = data.n_rows() as f64;
        let fold_train = plan.folds.first().map_or(n_rows, |f| f.train.len().max(1) as f64);
        let observer = Recorder {
            recording: s.recording.as_ref().zip(run_id),
            experiment: resumed_experiment
                .or_else(|| s.recording.as_ref().map(|r| r.experiment.clone()))
                .unwrap_or_default(),
            started: Instant::now(),
            spent_before: spent,
            metric,
            runs: std::sync::Mutex::new(std::collections::HashMap::new()),
            error: std::sync::Mutex::new(None),
            user: s.on_trial.as_ref(),
            best: std::sync::Mutex::new(None),
            refit_scale: n_rows / fold_train,
            folds: plan.folds.len().max(1) as f64,
        };
        for t in &prior {
            observer.consider(t);
        }
        let t0 = Instant::now();
        let results = sweep
            .optimize_with(|t| trials::objective(&ctx, t), limits, &observer)
            .map(|r| r.trials.iter().map(trials::result_of).collect::<Vec<_>>());
        let search_secs = t0.elapsed().as_secs_f64();
        if let Ok(Some(e)) = observer.error.into_inner() {
            warnings.push(format!("some trials could not be recorded: {e}"));
        }
        let results = match (results, &s.recording, run_id) {
            (Err(e), Some(r), Some(id)) => {
                r.store.finish_run(id, RunStatus::Failed, Some(&e.to_string()))?;
                return Err(e);
            }
            (res, _, _) => res?,
        };
        let ranked = trials::ranked(&results, metric);
        let Some(best) = ranked.first().copied() else {
            let mut reasons: Vec<String> = results
                .iter()
                .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.config.learner)))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .take(3)
                .collect();
            if reasons.is_empty() {
                reasons.push("the budget allowed no trial to finish".into());
            }
            return Err(Error::NoModel(format!(
                "{} trial(s) ran; {}",
                results.len(),
                reasons.join("; ")
            )));
        };
        let t1 = Instant::now();
        let pipeline = trials::guarded(|| {
            Pipeline::fit(
                &data.schema,
                &data.features,
                &data.target,
                &best.config,
                None,
                trials::trial_seed(s.seed, best.id),
            )
        })
        .map_err(|p| Error::learner(&best.config.learner, format!("refit on all rows panicked: {p}")))
        .and_then(|r| r);
        let pipeline = match (pipeline, &s.recording, run_id) {
            (Err(e), Some(r), Some(id)) => {
                r.store.finish_run(id, RunStatus::Failed, Some(&e.to_string()))?;
                return Err(e);
            }
            (p, _, _) => p?,
        };
        let refit_secs = t1.elapsed().as_secs_f64();
        let info = ModelInfo {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            automl_version: env!("CARGO_PKG_VERSION").to_string(),
            schema: data.schema.clone(),
            metric: metric.name().to_string(),
            validation: plan.description.clone(),
            cv_score: best.score.unwrap_or(f64::NAN),
            cv_std: best.std.unwrap_or(0.0),
            metrics: best.metrics.clone(),
            config: best.config.clone(),
            seed: s.seed,
        };
        let model = ModelFile { info, pipeline };
        let best_trial = best.id;
        if let (Some(r), Some(id)) = (&s.recording, run_id) {
            let mut points = vec![MetricPoint::now(
                &format!("cv_{}", metric.name()),
                0,
                model.cv_score,
            )];
            points.extend(model.metrics.iter().map(|(k, v)| MetricPoint::now(k, 0, *v)));
            r.store.log_metrics(id, &points)?;
            let (trial, n) = (best_trial.to_string(), results.len().to_string());
            r.store.set_tags(
                id,
                &[
                    ("best_trial", &trial),
                    ("best_learner", &model.config.learner),
                    ("trials", &n),
                ],
            )?;
            if let Some(root) = &r.artifacts {
                let path = root.join(id.to_string()).join("model.automl");
                model.save(&path)?;
                r.store
                    .add_artifact(id, "model", &format!("artifacts/{id}/model.automl"))?;
            }
            r.store.finish_run(id, RunStatus::Completed, None)?;
        }
        Ok(RunSummary {
            task,
            metric,
            validation: plan.description,
            learners,
            sampler: s.sampler.name().to_string(),
            policy: policy.describe(),
            trials: results,
            best: model,
            best_trial,
            search_secs,
            refit_secs,
            warnings,
            run_id,
            resumed,
        })
    }
}
