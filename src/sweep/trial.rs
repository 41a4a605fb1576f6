//! The vocabulary of a sweep: a [`Trial`] as the objective sees it, how it ends ([`Stop`],
//! [`TrialError`]), its finished [`TrialRecord`], the budgets ([`Limits`]) and hooks ([`Monitor`]).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cancel::{Reason, Token};
use crate::error::Error;
use crate::param::{Params, Value};
use crate::pruners::{Curve, Goal, History, Policy};
use crate::samplers::Observation;
use crate::state::TrialState;

use super::TrialStore;

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

pub(crate) struct Pruning {
    pub(crate) policy: Policy,
    pub(crate) history: Arc<RwLock<History>>,
    /// Trials with id below this are visible to the decision.
    pub(crate) limit: usize,
}

/// One trial, handed to the objective: its parameters, and the way to report step values.
pub struct Trial {
    id: usize,
    params: Params,
    seed: u64,
    started: Instant,
    token: Token,
    pruning: Option<Arc<Pruning>>,
    /// Where step reports are written as they come (stores that keep steps live).
    store: Option<Arc<dyn TrialStore>>,
    curve: Curve,
    pruned: bool,
    cost: f64,
    metrics: BTreeMap<String, f64>,
    folds: Vec<f64>,
    fit_secs: Option<f64>,
    predict_secs: Option<f64>,
    device: Option<String>,
}

impl Trial {
    /// A trial starting now.
    pub(crate) fn new(
        id: usize,
        params: Params,
        seed: u64,
        token: Token,
        pruning: Option<Arc<Pruning>>,
        store: Option<Arc<dyn TrialStore>>,
    ) -> Trial {
        Trial {
            id,
            params,
            seed,
            started: Instant::now(),
            token,
            pruning,
            store,
            curve: Curve::default(),
            pruned: false,
            cost: 1.0,
            metrics: BTreeMap::new(),
            folds: Vec::new(),
            fit_secs: None,
            predict_secs: None,
            device: None,
        }
    }

    /// When the trial started.
    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// The record of this trial ended with `outcome` (`Err`: the objective panicked with that
    /// message), `started_secs` after the sweep started.
    pub(crate) fn into_record(
        self,
        outcome: std::result::Result<std::result::Result<f64, TrialError>, String>,
        started_secs: f64,
    ) -> TrialRecord {
        let last = self.curve.values.iter().next_back().map(|(_, v)| *v);
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
                Some(format!(
                    "stopped after {:.1}s (trial timeout, or the end of the time budget)",
                    self.elapsed()
                )),
            ),
            Ok(Err(TrialError::Stopped(Stop::Cancelled))) => {
                (TrialState::Killed, last, Some("the sweep was cancelled".into()))
            }
            Ok(Err(TrialError::Failed(e))) => (TrialState::Failed, last, Some(e)),
            Err(panic) => (TrialState::Failed, last, Some(format!("panicked: {panic}"))),
        };
        let secs = self.elapsed();
        TrialRecord {
            id: self.id,
            params: self.params,
            state,
            value,
            steps: self.curve.values.into_iter().collect(),
            cost: self.cost,
            metrics: self.metrics,
            folds: self.folds,
            fit_secs: self.fit_secs,
            predict_secs: self.predict_secs,
            started_secs,
            secs,
            error,
            device: self.device,
        }
    }

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
        self.record_step(step, value);
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
        if let Some(s) = &self.store {
            // A step that cannot be written now is written with the trial's end.
            let _ = s.report(self.id, step, value);
        }
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

    /// Record the device that ran the trial (`cpu`, `cuda:0`, ...), kept in its record.
    pub fn set_device(&mut self, device: &str) {
        self.device = Some(device.to_string());
    }

    /// Record the primary metric of each validation fold (kept in its record).
    pub fn set_folds(&mut self, folds: Vec<f64>) {
        self.folds = folds;
    }

    /// Record the seconds spent fitting and predicting (kept in its record; the wall time of
    /// the whole trial is recorded anyway).
    pub fn set_times(&mut self, fit_secs: f64, predict_secs: f64) {
        self.fit_secs = Some(fit_secs);
        self.predict_secs = Some(predict_secs);
    }

    /// Values reported so far, by step.
    pub fn steps(&self) -> &BTreeMap<i64, f64> {
        &self.curve.values
    }
}

/// A finished trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The primary metric per validation fold, when the objective set them.
    #[serde(default)]
    pub folds: Vec<f64>,
    /// Seconds spent fitting, when the objective measured them.
    #[serde(default)]
    pub fit_secs: Option<f64>,
    /// Seconds spent predicting validation rows, when the objective measured them.
    #[serde(default)]
    pub predict_secs: Option<f64>,
    /// Seconds after the sweep started when the trial began.
    pub started_secs: f64,
    /// Wall seconds the trial took.
    pub secs: f64,
    /// Error text of a failed trial.
    pub error: Option<String>,
    /// The device that ran it, when the run had GPU slots (`cpu`, `cuda:0`, ...).
    #[serde(default)]
    pub device: Option<String>,
}

impl TrialRecord {
    /// Standard deviation of the fold values around the value (completed trials with folds).
    pub fn fold_std(&self) -> Option<f64> {
        let mean = self.value.filter(|_| self.state == TrialState::Completed)?;
        if self.folds.is_empty() {
            return None;
        }
        let k = self.folds.len() as f64;
        Some((self.folds.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / k).sqrt())
    }

    /// What the sampler is told of this trial.
    pub(crate) fn observation(&self, goal: Goal) -> Observation<'_> {
        let sign = if goal == Goal::Maximize { -1.0 } else { 1.0 };
        Observation {
            id: self.id,
            params: &self.params,
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
    /// No trial starts once a trial the sampler has been told of scored this well (Azure's
    /// `exit_score`): told trials only, so the stopping point does not depend on parallelism.
    pub exit_score: Option<f64>,
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
    /// An estimate of what a trial with `params` costs (any unit, `None`: unknown). A trial far
    /// costlier than those asked before it is told to the sampler later (the module's "Deferred
    /// trials"), and the sampler hears of the estimate when the trial is asked
    /// ([`crate::samplers::Sampler::asked_cost`]). It must depend on `params` only, or runs stop
    /// being reproducible.
    fn cost(&self, _params: &Params) -> Option<f64> {
        None
    }
}

/// A monitor that does nothing.
pub struct Quiet;
impl Monitor for Quiet {}

/// Seed of trial `id` (for the objective's own randomness).
pub fn trial_seed(seed: u64, id: usize) -> u64 {
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}
