//! Sweeps: optimise any objective over a [`SearchSpace`] with a sampler, an early-termination
//! policy and budgets, on a pool of worker threads — or drive trials yourself with ask / tell.
//!
//! ```
//! use automl::space::{ParamSpec, SearchSpace};
//! use automl::sweep::{Goal, Limits, Sweep, Trial, TrialError};
//! use automl::samplers::SamplerKind;
//! # fn main() -> automl::Result<()> {
//! let space = SearchSpace::new().add("x", ParamSpec::uniform(-5.0, 5.0));
//! let sweep = Sweep::builder(space).goal(Goal::Minimize).sampler(SamplerKind::Tpe).seed(7).build()?;
//! let result = sweep.optimize(
//!     |t: &mut Trial| -> Result<f64, TrialError> {
//!         let x = t.float("x")?;
//!         Ok((x - 1.0) * (x - 1.0))
//!     },
//!     Limits { max_trials: Some(50), ..Limits::default() },
//! )?;
//! assert!(result.best().unwrap().value.unwrap() < 0.5);
//! # Ok(()) }
//! ```
//!
//! **Reproducibility rule.** Trial `i`'s configuration is decided from the trials `0..=i−W` only,
//! where `W` is `max_concurrent` (a search setting, default 8, not the number of worker threads):
//! those trials have always finished when trial `i` starts, and the sampler is told them in id
//! order. Early-termination decisions for trial `i` compare it with the same trials. So with a
//! seed, the sequence of configurations and of pruning decisions depends neither on the number of
//! workers nor on timing. What timing can change: which trials a time budget leaves time for
//! (the trials run are a prefix of the same sequence), per-trial timeouts, and the wall times
//! recorded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::cancel::{self, Reason, Token};
use crate::error::{Error, Result};
pub use crate::pruners::Goal;
use crate::pruners::{Curve, History, Policy};
use crate::samplers::{Observation, Sampler, SamplerKind};
use crate::space::{Params, SearchSpace, Value};

/// Default for `max_concurrent`, the determinism window.
pub const DEFAULT_MAX_CONCURRENT: usize = 8;

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialState {
    /// The objective returned a value.
    Completed,
    /// Stopped by the early-termination policy.
    Pruned,
    /// The objective returned an error or panicked.
    Failed,
    /// Stopped at the per-trial time limit.
    TimedOut,
    /// Stopped because the sweep was cancelled (incomplete).
    Cancelled,
}

impl TrialState {
    /// Name as shown and stored.
    pub fn name(self) -> &'static str {
        match self {
            TrialState::Completed => "completed",
            TrialState::Pruned => "pruned",
            TrialState::Failed => "failed",
            TrialState::TimedOut => "timed_out",
            TrialState::Cancelled => "cancelled",
        }
    }
}

/// Why a trial stopped before returning a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The early-termination policy stopped it.
    Pruned,
    /// It ran past the per-trial timeout.
    TimedOut,
    /// The sweep is being cancelled.
    Cancelled,
}

impl From<Reason> for Stop {
    fn from(r: Reason) -> Stop {
        match r {
            Reason::TimedOut => Stop::TimedOut,
            Reason::Cancelled => Stop::Cancelled,
        }
    }
}

/// What an objective returns instead of a value.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialError {
    /// Stopped early (pruned, timed out, cancelled).
    Stopped(Stop),
    /// Failed, with a message.
    Failed(String),
}

impl From<Stop> for TrialError {
    fn from(s: Stop) -> TrialError {
        TrialError::Stopped(s)
    }
}

impl From<Error> for TrialError {
    fn from(e: Error) -> TrialError {
        TrialError::Failed(e.to_string())
    }
}

impl From<String> for TrialError {
    fn from(e: String) -> TrialError {
        TrialError::Failed(e)
    }
}

struct Pruning {
    policy: Policy,
    history: Arc<RwLock<History>>,
    /// Trials with id below this are visible to the decision.
    limit: usize,
}

/// One trial, handed to the objective: its parameters, and the way to report step values.
pub struct Trial {
    id: usize,
    params: Params,
    seed: u64,
    started: Instant,
    token: Token,
    pruning: Option<Arc<Pruning>>,
    curve: Curve,
    pruned: bool,
    cost: f64,
    metrics: BTreeMap<String, f64>,
    attrs: serde_json::Map<String, serde_json::Value>,
}

impl Trial {
    /// Trial number, from 0.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Every parameter value of the trial.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// A seed for this trial's own randomness (derived from the sweep seed and the id).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A real parameter.
    pub fn float(&self, name: &str) -> std::result::Result<f64, TrialError> {
        match self.params.0.get(name) {
            Some(Value::Float(x)) => Ok(*x),
            Some(Value::Int(i)) => Ok(*i as f64),
            Some(v) => Err(TrialError::Failed(format!(
                "parameter {name} is not a number: {v}"
            ))),
            None => Err(TrialError::Failed(format!("no parameter {name} in this trial"))),
        }
    }

    /// A whole-number parameter (reals are rounded).
    pub fn int(&self, name: &str) -> std::result::Result<i64, TrialError> {
        self.float(name).map(|x| x.round() as i64)
    }

    /// A string parameter (a choice).
    pub fn str(&self, name: &str) -> std::result::Result<&str, TrialError> {
        match self.params.0.get(name) {
            Some(Value::Str(s)) => Ok(s),
            Some(v) => Err(TrialError::Failed(format!(
                "parameter {name} is not a string: {v}"
            ))),
            None => Err(TrialError::Failed(format!("no parameter {name} in this trial"))),
        }
    }

    /// Record `value` at `step` (steps increase from 1), then ask the early-termination policy:
    /// `Err(Stop::Pruned)` means stop now. Also reports a timeout or cancellation.
    pub fn report(&mut self, step: i64, value: f64) -> std::result::Result<(), Stop> {
        self.curve.values.insert(step, value);
        if let Some(p) = &self.pruning {
            if let Ok(h) = p.history.read() {
                if value.is_nan() || p.policy.decide(&h, p.limit, self.id, &self.curve, step) {
                    self.pruned = true;
                }
            }
        }
        if self.pruned {
            return Err(Stop::Pruned);
        }
        self.check()
    }

    /// Record `value` at `step` without asking the policy (e.g. the final full-budget step).
    pub fn record_step(&mut self, step: i64, value: f64) {
        self.curve.values.insert(step, value);
    }

    /// Whether the last report was judged hopeless by the policy (Optuna-style polling).
    pub fn should_prune(&self) -> bool {
        self.pruned
    }

    /// `Err` when the trial is past its time limit or the sweep is cancelled.
    pub fn check(&self) -> std::result::Result<(), Stop> {
        match self.token.reason() {
            Some(r) => Err(r.into()),
            None => Ok(()),
        }
    }

    /// The cancellation token (learners poll [`crate::cancel::current`], which is this token).
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Seconds since the trial started.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Set the trial's cost, used by the cost-frugal sampler (default 1; use a deterministic
    /// measure of work to keep the sweep reproducible).
    pub fn set_cost(&mut self, cost: f64) {
        if cost.is_finite() && cost >= 0.0 {
            self.cost = cost;
        }
    }

    /// Record a named metric of the trial (kept in its record).
    pub fn set_metric(&mut self, name: &str, value: f64) {
        self.metrics.insert(name.to_string(), value);
    }

    /// Attach any JSON value to the trial's record.
    pub fn set_attr(&mut self, name: &str, value: serde_json::Value) {
        self.attrs.insert(name.to_string(), value);
    }

    /// Values reported so far, by step.
    pub fn steps(&self) -> &BTreeMap<i64, f64> {
        &self.curve.values
    }
}

/// A finished trial.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Trial number.
    pub id: usize,
    /// What was tried.
    pub params: Params,
    /// How it ended.
    pub state: TrialState,
    /// The objective value (completed), or the last reported value (stopped early).
    pub value: Option<f64>,
    /// Reported step values.
    pub steps: Vec<(i64, f64)>,
    /// Cost given by the objective.
    pub cost: f64,
    /// Named metrics set by the objective.
    pub metrics: BTreeMap<String, f64>,
    /// Attributes set by the objective.
    pub attrs: serde_json::Map<String, serde_json::Value>,
    /// Seconds after the sweep started when the trial began.
    pub started_secs: f64,
    /// Wall seconds the trial took.
    pub secs: f64,
    /// Error text of a failed trial.
    pub error: Option<String>,
}

impl TrialRecord {
    fn observation(&self, goal: Goal) -> Observation {
        let sign = if goal == Goal::Maximize { -1.0 } else { 1.0 };
        Observation {
            id: self.id,
            params: self.params.clone(),
            loss: self.value.map(|v| sign * v),
            complete: self.state == TrialState::Completed,
            cost: self.cost,
        }
    }
}

/// Budgets of a sweep.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Most trials (counting trials of a resumed sweep).
    pub max_trials: Option<usize>,
    /// No trial starts after this much time (running trials finish).
    pub time: Option<Duration>,
    /// A trial running longer is stopped (cooperatively) and recorded as timed out.
    pub trial_timeout: Option<Duration>,
}

/// Hooks into a running sweep (progress, recording).
pub trait Monitor: Sync {
    /// Trial `id` starts with `params`.
    fn started(&self, _id: usize, _params: &Params) {}
    /// A trial finished.
    fn finished(&self, _record: &TrialRecord) {}
    /// Seconds to keep free at the end of the time budget (e.g. for a final refit).
    fn reserve_secs(&self) -> f64 {
        0.0
    }
}

/// A monitor that does nothing.
pub struct Quiet;
impl Monitor for Quiet {}

/// Builder of a [`Sweep`].
pub struct SweepBuilder {
    space: SearchSpace,
    goal: Goal,
    sampler: SamplerKind,
    policy: Policy,
    seed: u64,
    max_concurrent: usize,
    jobs: usize,
    prior: Vec<TrialRecord>,
}

impl SweepBuilder {
    /// Minimise (default) or maximise.
    pub fn goal(mut self, g: Goal) -> Self {
        self.goal = g;
        self
    }
    /// Which sampler (default: cost-frugal search).
    pub fn sampler(mut self, s: SamplerKind) -> Self {
        self.sampler = s;
        self
    }
    /// Early-termination policy (default none).
    pub fn policy(mut self, p: Policy) -> Self {
        self.policy = p;
        self
    }
    /// Seed of every random choice.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// Most trials in flight, and the determinism window (default 8).
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = n;
        self
    }
    /// Worker threads for [`Sweep::optimize`] (default: all cores).
    pub fn jobs(mut self, n: usize) -> Self {
        self.jobs = n;
        self
    }
    /// Trials already finished in an earlier session (a resumed sweep): the sampler replays them
    /// and they are not run again.
    pub fn prior(mut self, records: Vec<TrialRecord>) -> Self {
        self.prior = records;
        self
    }
    /// Check the settings and build the sampler.
    pub fn build(self) -> Result<Sweep> {
        if self.max_concurrent == 0 {
            return Err(Error::Config("max concurrent trials must be at least 1".into()));
        }
        if self.jobs == 0 {
            return Err(Error::Config("jobs must be at least 1".into()));
        }
        let sampler = self.sampler.build(&self.space)?;
        let prior = self.prior.into_iter().map(|r| (r.id, r)).collect();
        Ok(Sweep {
            history: Arc::new(RwLock::new(History::new(self.goal))),
            space: self.space,
            goal: self.goal,
            policy: self.policy,
            seed: self.seed,
            window: self.max_concurrent,
            jobs: self.jobs,
            cancel: Arc::new(AtomicBool::new(false)),
            state: Mutex::new(State {
                sampler,
                next: 0,
                told: 0,
                finished: BTreeMap::new(),
                records: Vec::new(),
                exhausted: false,
                prior,
                started: Instant::now(),
            }),
            wake: Condvar::new(),
        })
    }
}

struct State {
    sampler: Box<dyn Sampler>,
    next: usize,
    told: usize,
    /// Finished, not yet told to the sampler.
    finished: BTreeMap<usize, TrialRecord>,
    records: Vec<TrialRecord>,
    exhausted: bool,
    prior: BTreeMap<usize, TrialRecord>,
    started: Instant,
}

/// A configured sweep. Share it by reference: [`Sweep::optimize`] runs trials on a worker pool;
/// [`Sweep::ask`] / [`Sweep::tell`] let the caller run them.
pub struct Sweep {
    space: SearchSpace,
    goal: Goal,
    policy: Policy,
    seed: u64,
    window: usize,
    jobs: usize,
    cancel: Arc<AtomicBool>,
    history: Arc<RwLock<History>>,
    state: Mutex<State>,
    wake: Condvar,
}

/// Every trial of a sweep.
#[derive(Debug, Clone)]
pub struct SweepResult {
    /// Records in id order.
    pub trials: Vec<TrialRecord>,
    /// Optimisation direction.
    pub goal: Goal,
    /// Seconds the sweep ran.
    pub secs: f64,
    /// Whether the sweep was cancelled.
    pub cancelled: bool,
}

impl SweepResult {
    /// The best completed trial (ties: lowest id).
    pub fn best(&self) -> Option<&TrialRecord> {
        self.ranked().into_iter().next()
    }

    /// Completed trials, best first (ties by id).
    pub fn ranked(&self) -> Vec<&TrialRecord> {
        let mut ok: Vec<&TrialRecord> = self
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Completed && t.value.is_some())
            .collect();
        ok.sort_by(|a, b| {
            let (x, y) = (a.value.unwrap_or(f64::NAN), b.value.unwrap_or(f64::NAN));
            let o = if self.goal == Goal::Maximize {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            };
            o.then(a.id.cmp(&b.id))
        });
        ok
    }

    /// Number of trials that ended in `state`.
    pub fn count(&self, state: TrialState) -> usize {
        self.trials.iter().filter(|t| t.state == state).count()
    }
}

enum Next {
    Run(usize, Params),
    Wait,
    Done,
}

thread_local! {
    static IN_TRIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the current thread is inside [`guarded`] (panic hooks use this to stay quiet).
pub fn in_trial() -> bool {
    IN_TRIAL.with(std::cell::Cell::get)
}

/// Run `f`, turning a panic into `Err(message)`; panic hooks can stay quiet meanwhile ([`in_trial`]).
pub fn guarded<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    let was = IN_TRIAL.with(|g| g.replace(true));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_TRIAL.with(|g| g.set(was));
    out.map_err(|p| {
        if let Some(s) = p.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = p.downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic".to_string()
        }
    })
}

/// Seed of trial `id` (for the objective's own randomness).
pub fn trial_seed(seed: u64, id: usize) -> u64 {
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Sweep {
    /// Start configuring a sweep over `space`.
    pub fn builder(space: SearchSpace) -> SweepBuilder {
        SweepBuilder {
            space,
            goal: Goal::Minimize,
            sampler: SamplerKind::default(),
            policy: Policy::None,
            seed: 0,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            prior: Vec::new(),
        }
    }

    /// The search space.
    pub fn space(&self) -> &SearchSpace {
        &self.space
    }

    /// A flag that, once set, stops the sweep: no new trials, running ones see
    /// [`Stop::Cancelled`] at their next check.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tell the sampler every finished trial it may see before asking for `st.next`; then ask.
    fn next_trial(&self, st: &mut State, limits: &Limits, reserve: f64) -> Next {
        loop {
            if self.cancel.load(Ordering::Relaxed) || st.exhausted {
                return Next::Done;
            }
            if limits.max_trials.is_some_and(|m| st.next >= m) {
                return Next::Done;
            }
            if let Some(t) = limits.time {
                if st.started.elapsed().as_secs_f64() + reserve.min(t.as_secs_f64() / 2.0) >= t.as_secs_f64()
                {
                    return Next::Done;
                }
            }
            // Trials 0..=next−W must be told before trial `next` is asked.
            while st.told + self.window <= st.next {
                let Some(rec) = st.finished.remove(&st.told) else {
                    break;
                };
                st.sampler.tell(&self.space, &rec.observation(self.goal));
                st.told += 1;
            }
            if st.told + self.window <= st.next {
                return Next::Wait;
            }
            let id = st.next;
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(id as u64 + 1);
            let Some(params) = st.sampler.ask(id, &self.space, &mut rng) else {
                st.exhausted = true;
                return Next::Done;
            };
            st.next += 1;
            if let Some(mut rec) = st.prior.remove(&id) {
                // A trial of an earlier session: not run again.
                rec.params = params;
                self.store_record(st, rec, false);
                continue;
            }
            return Next::Run(id, params);
        }
    }

    fn store_record(&self, st: &mut State, rec: TrialRecord, fresh: bool) {
        if let Ok(mut h) = self.history.write() {
            for (s, v) in &rec.steps {
                h.report(rec.id, *s, *v);
            }
            h.finish(rec.id);
        }
        let _ = fresh;
        st.records.push(rec.clone());
        st.finished.insert(rec.id, rec);
    }

    fn make_trial(&self, id: usize, params: Params, limits: &Limits) -> Trial {
        let started = Instant::now();
        let pruning = (self.policy != Policy::None).then(|| {
            Arc::new(Pruning {
                policy: self.policy.clone(),
                history: self.history.clone(),
                limit: (id + 1).saturating_sub(self.window),
            })
        });
        Trial {
            id,
            params,
            seed: trial_seed(self.seed, id),
            started,
            token: Token::new(
                Some(self.cancel.clone()),
                limits.trial_timeout.map(|t| started + t),
            ),
            pruning,
            curve: Curve::default(),
            pruned: false,
            cost: 1.0,
            metrics: BTreeMap::new(),
            attrs: serde_json::Map::new(),
        }
    }

    fn record(
        &self,
        trial: Trial,
        outcome: std::result::Result<std::result::Result<f64, TrialError>, String>,
        started_secs: f64,
    ) -> TrialRecord {
        let last = trial.curve.values.iter().next_back().map(|(_, v)| *v);
        let (state, value, error) = match outcome {
            Ok(Ok(v)) if v.is_finite() => (TrialState::Completed, Some(v), None),
            Ok(Ok(v)) => (
                TrialState::Failed,
                None,
                Some(format!("the objective returned {v}")),
            ),
            Ok(Err(TrialError::Stopped(Stop::Pruned))) => (TrialState::Pruned, last, None),
            Ok(Err(TrialError::Stopped(Stop::TimedOut))) => (
                TrialState::TimedOut,
                last,
                Some(format!("stopped after {:.1}s (trial timeout)", trial.elapsed())),
            ),
            Ok(Err(TrialError::Stopped(Stop::Cancelled))) => (
                TrialState::Cancelled,
                last,
                Some("the sweep was cancelled".into()),
            ),
            Ok(Err(TrialError::Failed(e))) => (TrialState::Failed, last, Some(e)),
            Err(panic) => (TrialState::Failed, last, Some(format!("panicked: {panic}"))),
        };
        TrialRecord {
            id: trial.id,
            params: trial.params.clone(),
            state,
            value,
            steps: trial.curve.values.iter().map(|(s, v)| (*s, *v)).collect(),
            cost: trial.cost,
            metrics: trial.metrics.clone(),
            attrs: trial.attrs.clone(),
            started_secs,
            secs: trial.elapsed(),
            error,
        }
    }

    /// Run `objective` on trials until the limits are reached, the grid is exhausted or the sweep
    /// is cancelled, on `jobs` worker threads (at most `max_concurrent` trials at once). A trial
    /// that errors or panics is recorded as failed and the sweep goes on.
    pub fn optimize<F>(&self, objective: F, limits: Limits) -> Result<SweepResult>
    where
        F: Fn(&mut Trial) -> std::result::Result<f64, TrialError> + Sync,
    {
        self.optimize_with(objective, limits, &Quiet)
    }

    /// [`Sweep::optimize`] with a monitor hearing of each trial's start and end.
    pub fn optimize_with<F>(&self, objective: F, limits: Limits, monitor: &dyn Monitor) -> Result<SweepResult>
    where
        F: Fn(&mut Trial) -> std::result::Result<f64, TrialError> + Sync,
    {
        let workers = self.jobs.min(self.window).max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("automl-trial-{i}"))
            .build()
            .map_err(|e| Error::Config(format!("cannot start {workers} worker threads: {e}")))?;
        self.lock().started = Instant::now();
        let objective = &objective;
        // Worker loops are plain threads; each trial runs inside the rayon pool (learners use it
        // for their own parallel work), so a learner's work-stealing can never pick up another
        // worker loop and block on it.
        let pool = &pool;
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(move || loop {
                    let (id, params, started_secs) = {
                        let mut st = self.lock();
                        loop {
                            match self.next_trial(&mut st, &limits, monitor.reserve_secs()) {
                                Next::Run(id, p) => break (id, p, st.started.elapsed().as_secs_f64()),
                                Next::Done => {
                                    self.wake.notify_all();
                                    return;
                                }
                                Next::Wait => {
                                    st = self
                                        .wake
                                        .wait_timeout(st, Duration::from_millis(200))
                                        .map(|(g, _)| g)
                                        .unwrap_or_else(|p| p.into_inner().0);
                                }
                            }
                        }
                    };
                    // A panicking monitor must not leave the trial unrecorded (others wait on it).
                    let _ = guarded(|| monitor.started(id, &params));
                    let mut trial = self.make_trial(id, params, &limits);
                    let token = trial.token.clone();
                    let outcome = pool.install(|| guarded(|| cancel::with(token, || objective(&mut trial))));
                    let rec = self.record(trial, outcome, started_secs);
                    let _ = guarded(|| monitor.finished(&rec));
                    let mut st = self.lock();
                    self.store_record(&mut st, rec, true);
                    drop(st);
                    self.wake.notify_all();
                });
            }
        });
        Ok(self.result())
    }

    /// Every finished trial so far.
    pub fn result(&self) -> SweepResult {
        let st = self.lock();
        let mut trials = st.records.clone();
        trials.sort_by_key(|r| r.id);
        SweepResult {
            trials,
            goal: self.goal,
            secs: st.started.elapsed().as_secs_f64(),
            cancelled: self.cancel.load(Ordering::Relaxed),
        }
    }

    /// The next trial to run yourself, `Ok(None)` when the sweep has nothing left (grid exhausted,
    /// `limits` reached). An error when `max_concurrent` trials are already out: tell one first.
    pub fn ask(&self, limits: &Limits) -> Result<Option<Trial>> {
        let mut st = self.lock();
        match self.next_trial(&mut st, limits, 0.0) {
            Next::Run(id, p) => {
                drop(st);
                Ok(Some(self.make_trial(id, p, limits)))
            }
            Next::Done => Ok(None),
            Next::Wait => Err(Error::Config(format!(
                "trial {} must be told before more trials are asked ({} may be in flight: max_concurrent)",
                st.told, self.window
            ))),
        }
    }

    /// Report the outcome of a trial obtained with [`Sweep::ask`]; returns its record.
    pub fn tell(&self, trial: Trial, outcome: std::result::Result<f64, TrialError>) -> TrialRecord {
        let started = self.lock().started;
        let started_secs = trial.started.saturating_duration_since(started).as_secs_f64();
        let rec = self.record(trial, Ok(outcome), started_secs);
        let mut st = self.lock();
        self.store_record(&mut st, rec.clone(), true);
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pruners::{Schedule, Slack};
    use crate::samplers::testfns;
    use crate::space::ParamSpec;

    fn branin_sweep(kind: SamplerKind, jobs: usize, window: usize) -> SweepResult {
        let (space, f) = testfns::branin();
        let sweep = Sweep::builder(space)
            .sampler(kind)
            .seed(11)
            .jobs(jobs)
            .max_concurrent(window)
            .build()
            .unwrap();
        sweep
            .optimize(
                |t: &mut Trial| {
                    // Uneven trial durations shuffle completion order between workers.
                    std::thread::sleep(Duration::from_micros((t.id() as u64 * 7919) % 500));
                    Ok(f(t.params()))
                },
                Limits {
                    max_trials: Some(60),
                    ..Limits::default()
                },
            )
            .unwrap()
    }

    #[test]
    fn same_seed_same_trials_whatever_the_number_of_workers() {
        for kind in [SamplerKind::Tpe, SamplerKind::Cfo, SamplerKind::Random] {
            let a = branin_sweep(kind, 1, 4);
            let b = branin_sweep(kind, 4, 4);
            let pa: Vec<_> = a.trials.iter().map(|t| (t.params.clone(), t.value)).collect();
            let pb: Vec<_> = b.trials.iter().map(|t| (t.params.clone(), t.value)).collect();
            assert_eq!(pa.len(), 60);
            assert_eq!(pa, pb, "{kind:?}");
        }
    }

    #[test]
    fn failures_panics_and_timeouts_are_recorded_and_the_sweep_goes_on() {
        let space = SearchSpace::new().add("k", ParamSpec::choice([0i64, 1, 2, 3]));
        let sweep = Sweep::builder(space)
            .sampler(SamplerKind::Grid)
            .jobs(2)
            .build()
            .unwrap();
        let r = sweep
            .optimize(
                |t: &mut Trial| match t.int("k")? {
                    0 => Ok(1.0),
                    1 => Err(TrialError::Failed("bad value".into())),
                    2 => panic!("boom"),
                    _ => loop {
                        t.check()?;
                        std::thread::sleep(Duration::from_millis(5));
                    },
                },
                Limits {
                    trial_timeout: Some(Duration::from_millis(200)),
                    ..Limits::default()
                },
            )
            .unwrap();
        let states: Vec<TrialState> = r.trials.iter().map(|t| t.state).collect();
        assert_eq!(
            states,
            [
                TrialState::Completed,
                TrialState::Failed,
                TrialState::Failed,
                TrialState::TimedOut
            ]
        );
        assert!(r.trials[2].error.as_deref().unwrap().contains("boom"));
        assert!(r.trials[3].secs >= 0.2 && r.trials[3].secs < 5.0);
        assert_eq!(r.best().unwrap().id, 0);
    }

    #[test]
    fn bandit_prunes_trials_behind_the_best_seen() {
        // Trial i reports a flat curve of value i at steps 1..=5 (maximise); with the window 1 every
        // earlier trial is visible. Bandit slack 0.2: a trial stops when its value < best / 1.2.
        let space = SearchSpace::new().add("v", ParamSpec::choice([10i64, 9, 5, 11, 8]));
        let sweep = Sweep::builder(space)
            .sampler(SamplerKind::Grid)
            .goal(Goal::Maximize)
            .max_concurrent(1)
            .policy(Policy::Bandit {
                slack: Slack::Factor(0.2),
                schedule: Schedule::default(),
            })
            .build()
            .unwrap();
        let r = sweep
            .optimize(
                |t: &mut Trial| {
                    let v = t.float("v")?;
                    for s in 1..=5 {
                        t.report(s, v)?;
                    }
                    Ok(v)
                },
                Limits::default(),
            )
            .unwrap();
        let states: Vec<&str> = r.trials.iter().map(|t| t.state.name()).collect();
        // 10 → best; 9 ≥ 8.33 kept; 5 < 8.33 pruned at step 1; 11 new best; 8 < 11/1.2 = 9.17 pruned.
        assert_eq!(
            states,
            ["completed", "completed", "pruned", "completed", "pruned"]
        );
        assert_eq!(r.trials[2].steps, vec![(1, 5.0)]);
        assert_eq!(r.trials[2].value, Some(5.0));
    }

    #[test]
    fn ask_tell_drives_trials_by_hand_within_the_window() {
        let (space, f) = testfns::branin();
        let sweep = Sweep::builder(space)
            .sampler(SamplerKind::Tpe)
            .max_concurrent(2)
            .seed(3)
            .build()
            .unwrap();
        let limits = Limits {
            max_trials: Some(40),
            ..Limits::default()
        };
        let a = sweep.ask(&limits).unwrap().unwrap();
        let b = sweep.ask(&limits).unwrap().unwrap();
        assert!(sweep.ask(&limits).is_err(), "two in flight with max_concurrent 2");
        let va = f(a.params());
        sweep.tell(a, Ok(va));
        let vb = f(b.params());
        sweep.tell(b, Ok(vb));
        while let Some(t) = sweep.ask(&limits).unwrap() {
            let v = f(t.params());
            sweep.tell(t, Ok(v));
        }
        let r = sweep.result();
        assert_eq!(r.trials.len(), 40);
        assert!(r.best().unwrap().value.unwrap() < 2.0);
    }

    #[test]
    fn edge_cases_found_in_review_neither_hang_nor_panic() {
        // A branch value without parameters, under the cost-frugal sampler with parallel trials.
        let space = SearchSpace::new()
            .add("model", ParamSpec::choice(["a", "b"]))
            .add("x", ParamSpec::uniform(0.0, 1.0).when("model", ["a"]));
        let sweep = Sweep::builder(space)
            .sampler(SamplerKind::Cfo)
            .jobs(2)
            .max_concurrent(4)
            .build()
            .unwrap();
        let r = sweep
            .optimize(
                |t: &mut Trial| Ok(t.float("x").unwrap_or(0.5)),
                Limits {
                    max_trials: Some(30),
                    ..Limits::default()
                },
            )
            .unwrap();
        assert_eq!(r.trials.len(), 30);
        // ASHA with a step far beyond every rung, and Hyperband with a huge max resource.
        let h = History::new(Goal::Minimize);
        let mut c = Curve::default();
        c.values.insert(i64::MAX, 1.0);
        let asha = Policy::SuccessiveHalving {
            min_resource: 1,
            reduction_factor: 3,
        };
        assert!(!asha.decide(&h, usize::MAX, 0, &c, i64::MAX));
        let hb = Policy::Hyperband {
            min_resource: 1,
            max_resource: i64::MAX,
            reduction_factor: 2,
        };
        assert!(!hb.decide(&h, usize::MAX, 0, &c, i64::MAX));
        // Infinite bounds are refused before any draw.
        let inf = SearchSpace::new().add("lr", ParamSpec::loguniform(1e-3, f64::INFINITY));
        assert!(inf.check().unwrap_err().to_string().contains("finite"));
        let wide = SearchSpace::new().add("x", ParamSpec::uniform(-1e308, 1e308));
        assert!(wide.check().is_err());
    }

    #[test]
    fn bandit_slack_factor_works_with_negative_values() {
        // Minimise; best -1.0, slack 0.2: the limit is -1 + 0.2 = -0.8.
        let mut h = History::new(Goal::Minimize);
        h.report(0, 1, -1.0);
        h.report(1, 1, -0.85);
        h.report(2, 1, -0.7);
        let p = Policy::Bandit {
            slack: Slack::Factor(0.2),
            schedule: Schedule::default(),
        };
        assert!(!p.should_stop(&h, 0, 1), "the best is never cut");
        assert!(!p.should_stop(&h, 1, 1));
        assert!(p.should_stop(&h, 2, 1));
        // Maximise with a negative best -1.0: limit -1 - 1·0.2/1.2 = -1.1667.
        let mut h = History::new(Goal::Maximize);
        h.report(0, 1, -1.0);
        h.report(1, 1, -1.1);
        h.report(2, 1, -1.2);
        assert!(!p.should_stop(&h, 0, 1) && !p.should_stop(&h, 1, 1));
        assert!(p.should_stop(&h, 2, 1));
    }
}
