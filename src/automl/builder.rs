//! [`AutoMLBuilder`]: every setting of a search, each with its default, checked once by
//! [`AutoMLBuilder::build`].

use std::sync::Arc;

use crate::ensemble::{EnsembleKind, FinalFit};
use crate::error::{Error, Result};
use crate::guardrails::Guardrail;
use crate::metrics::Metric;
use crate::pruners::Policy;
use crate::samplers::SamplerKind;
use crate::space::SpaceFile;
use crate::store::RunId;
use crate::sweep::TrialRecord;
use crate::validation;

use super::{AutoML, Recording};

/// Callback invoked after every trial.
pub type TrialCallback = Arc<dyn Fn(&TrialRecord) + Send + Sync>;

/// Builder for [`AutoML`]; every setting has a sensible default.
#[derive(Clone, Default)]
pub struct AutoMLBuilder {
    pub(super) metric: Option<Metric>,
    pub(super) time_budget: Option<f64>,
    pub(super) max_trials: Option<usize>,
    pub(super) jobs: Option<usize>,
    pub(super) devices: Vec<crate::device::Device>,
    pub(super) seed: u64,
    pub(super) learners: Option<Vec<String>>,
    pub(super) on_trial: Option<TrialCallback>,
    pub(super) recording: Option<Recording>,
    pub(super) resume: Option<RunId>,
    pub(super) sharing: Option<crate::store::Sharing>,
    pub(super) submit_only: bool,
    pub(super) sampler: SamplerKind,
    pub(super) policy: Option<Policy>,
    pub(super) trial_timeout: Option<f64>,
    pub(super) max_concurrent: Option<usize>,
    pub(super) space_file: Option<SpaceFile>,
    pub(super) ensemble: EnsembleKind,
    pub(super) final_fit: FinalFit,
    pub(super) guardrails: Vec<Guardrail>,
    pub(super) validation: validation::Scheme,
    pub(super) exit_score: Option<f64>,
    pub(super) started: Option<std::time::Instant>,
}

impl AutoMLBuilder {
    /// Stop starting trials once a trial validates at least this well (at most, for metrics
    /// where lower is better): Azure's `exit_score`. Only trials the sampler has been told of
    /// count, so the stopping point is the same on any number of jobs.
    pub fn exit_score(mut self, score: f64) -> Self {
        self.exit_score = Some(score);
        self
    }

    /// How trials are validated (default: 5-fold CV up to 10,000 rows, a 20 % holdout above).
    pub fn validation(mut self, scheme: validation::Scheme) -> Self {
        self.validation = scheme;
        self
    }

    /// The data guardrails checked before the run ([`crate::guardrails::check`]), carried into
    /// the summary and the report.
    pub fn guardrails(mut self, checks: Vec<Guardrail>) -> Self {
        self.guardrails = checks;
        self
    }

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

    /// Seconds from the start of [`AutoML::fit`] (or [`AutoMLBuilder::started_at`]) to the
    /// final model (search, ensemble and refit included; a trial that would run past the
    /// search's share is stopped and recorded as timed out). Default 60 when no trial limit is
    /// set.
    pub fn time_budget_secs(mut self, secs: f64) -> Self {
        self.time_budget = Some(secs);
        self
    }

    /// When the time budget started (default: when [`AutoML::fit`] is called). A command that
    /// reads and checks the data first passes the instant it started, so that reading counts
    /// inside the budget: on a 500k-row CSV it takes over a second.
    pub fn started_at(mut self, at: std::time::Instant) -> Self {
        self.started = Some(at);
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

    /// Compute devices (default: the CPU alone). Each CUDA device (`cuda:N`, builds with the
    /// `cuda` feature) is a slot of its own: trials of GPU-suited learners (`mlp`) run on a free
    /// one while the `jobs` threads keep the CPU busy. A device that is missing, or CUDA in a
    /// build without it, fails the run before it starts.
    pub fn devices(mut self, devices: Vec<crate::device::Device>) -> Self {
        self.devices = devices;
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
    pub fn on_trial(mut self, f: impl Fn(&TrialRecord) + Send + Sync + 'static) -> Self {
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

    /// How the final model is made: a greedy ensemble of the best trials when it validates
    /// better than the best single trial (default), or always the best single trial.
    pub fn ensemble(mut self, kind: EnsembleKind) -> Self {
        self.ensemble = kind;
        self
    }

    /// How the final model's members are fitted: under cross-validation, by default, each is the
    /// average of its fold models, and of its fold models of a second split when the time left
    /// allows ([`FinalFit::Folds`]); [`FinalFit::All`] refits each on all rows.
    pub fn final_fit(mut self, f: FinalFit) -> Self {
        self.final_fit = f;
        self
    }

    /// Run as one of several workers of a shared (distributed) run: trials are claimed from the
    /// workspace, a heartbeat keeps the claims alive, trials of lost workers are taken over, and
    /// the worker that claims the run's end refits and saves the model (the others end with
    /// [`Error::FinishedElsewhere`]). Needs a recording; ensembling is off (members' out-of-fold
    /// predictions stay in the process that ran them).
    pub fn share(mut self, sharing: crate::store::Sharing) -> Self {
        self.sharing = Some(sharing);
        self
    }

    /// With [`AutoMLBuilder::share`]: record the run (for workers to take) and return
    /// [`Error::Submitted`] without running a trial here.
    pub fn submit_only(mut self) -> Self {
        self.submit_only = true;
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
        self.validation.check()?;
        if let Some(x) = self.exit_score {
            if !x.is_finite() {
                return Err(Error::Config(format!(
                    "exit score must be a finite number, got {x}"
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
