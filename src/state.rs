//! The state of a trial or run (a leaf module): one enum for the sweep, `automl run`'s trials and
//! the store, as Optuna has one `TrialState`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// State of a trial or run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialState {
    /// Created, not started.
    Queued,
    /// In progress.
    Running,
    /// Finished normally: the objective returned a value.
    Completed,
    /// Stopped early by the early-termination policy.
    Pruned,
    /// Ended with an error or a panic.
    Failed,
    /// Stopped at its time limit.
    TimedOut,
    /// Stopped by a cancelled sweep, or its process died or was interrupted while it ran.
    Killed,
}

impl TrialState {
    /// Name as stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            TrialState::Queued => "queued",
            TrialState::Running => "running",
            TrialState::Completed => "completed",
            TrialState::Pruned => "pruned",
            TrialState::Failed => "failed",
            TrialState::TimedOut => "timed_out",
            TrialState::Killed => "killed",
        }
    }

    /// Every state.
    pub const ALL: [TrialState; 7] = [
        TrialState::Queued,
        TrialState::Running,
        TrialState::Completed,
        TrialState::Pruned,
        TrialState::Failed,
        TrialState::TimedOut,
        TrialState::Killed,
    ];

    /// Whether the trial has ended (and will not change again).
    pub fn is_finished(self) -> bool {
        !matches!(self, TrialState::Queued | TrialState::Running)
    }
}

impl std::str::FromStr for TrialState {
    type Err = Error;
    fn from_str(s: &str) -> Result<TrialState> {
        TrialState::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown status '{s}' (one of: {})",
                    TrialState::ALL.map(|r| r.name()).join(", ")
                ))
            })
    }
}
