//! Every name the store is read and written with (run parameters, metric keys, tags), in one place.

/// Child-run parameter: the trial id.
pub const TRIAL: &str = "trial";
/// Child-run parameter of `automl run` trials: the learner.
pub const LEARNER: &str = "learner";
/// Prefix of the preprocessing parameters of `automl run` trials.
pub const PREP_PREFIX: &str = "prep.";
/// Child-run parameter of `automl run` trials on large data: the share of training rows fitted
/// on (`trials::SAMPLE`). Like the learner it belongs to no learner, so it is stored and read
/// back without a learner prefix.
pub const SAMPLE: &str = "sample";
/// Child-run parameter of program-sweep trials: the sampled parameters, as one object.
pub const PARAMS: &str = "params";
/// Parent-run parameter: what kind of run it is ([`KIND_SWEEP`] for program sweeps).
pub const KIND: &str = "kind";
/// The [`KIND`] of a program sweep.
pub const KIND_SWEEP: &str = "sweep";
/// Parent-run parameter of `automl run`: the primary metric.
pub const METRIC: &str = "metric";
/// Parent-run parameter of program sweeps: the primary metric.
pub const PRIMARY_METRIC: &str = "primary_metric";
/// Parent-run parameter of program sweeps: `minimize` or `maximize`.
pub const GOAL: &str = "goal";
/// Parent-run parameter of program sweeps: the spec file.
pub const SPEC: &str = "spec";

/// Metric: seconds a trial spent fitting (all folds).
pub const FIT_SECS: &str = "fit_secs";
/// Child-run tag: the device that ran the trial (runs with GPU slots).
pub const DEVICE: &str = "device";
/// Metric: seconds a trial spent predicting validation rows (all folds).
pub const PREDICT_SECS: &str = "predict_secs";
/// Metric: wall seconds of a trial.
pub const TRIAL_SECS: &str = "trial_secs";
/// Metric: seconds after the sweep started when the trial began.
pub const STARTED_SECS: &str = "started_secs";
/// Metric: the trial's deterministic cost (what the cost-frugal sampler is told).
pub const COST: &str = "cost";
/// Metric: how many step values the trial reported (tells a step-0 report from the value of a
/// program trial that reported no steps).
pub const STEPS: &str = "trial_steps";
/// Metric: the value the trial ended with (the objective's value, else its last step).
pub const VALUE: &str = "trial_value";
/// Parent-run metric: search seconds spent across sessions (step = trial id).
pub const SEARCH_SECS: &str = "search_secs";
/// Metrics that are bookkeeping, not scores (hidden from leaderboards).
pub const INTERNAL: &[&str] = &[
    FIT_SECS,
    PREDICT_SECS,
    TRIAL_SECS,
    SEARCH_SECS,
    STARTED_SECS,
    COST,
    VALUE,
    STEPS,
];

/// Tag: the best trial of a finished run.
pub const BEST_TRIAL: &str = "best_trial";
/// Tag: the learner of the best trial of `automl run`.
pub const BEST_LEARNER: &str = "best_learner";
/// Tag: the parameters of the best trial of a program sweep (JSON).
pub const BEST_PARAMS: &str = "best_params";
/// Tag: the number of trials of a finished run.
pub const TRIALS: &str = "trials";
/// Tag: the process running a run (checked by a resume).
pub const PID: &str = "pid";
/// Tag: the host of [`PID`].
pub const HOST: &str = "host";

/// Metric key of the primary metric per validation fold (step = fold index).
pub fn fold(metric: &str) -> String {
    format!("fold_{metric}")
}

/// Metric key of the primary metric's step reports of `automl run` trials.
pub fn step(metric: &str) -> String {
    format!("step_{metric}")
}

/// Whether `key` is a per-fold or per-step series rather than a metric of its own.
pub fn is_series(key: &str) -> bool {
    key.starts_with("fold_") || key.starts_with("step_")
}

/// Tag of a run that workers may join (`open`) and of one that is finished (`closed`).
pub const DISTRIBUTED: &str = "automl.distributed";
/// Environment key: the workspace path of the training data kept in the database for workers.
pub const DATA_BLOB: &str = "data_blob";
