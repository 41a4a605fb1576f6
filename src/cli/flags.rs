//! Flag groups shared by several commands, each defined once and flattened with
//! `#[command(flatten)]`. A command whose help says more about a flag (`automl run`'s workspace
//! "recording the run") rewords only the help with `mut_arg`; the flag itself stays this one.

use std::path::PathBuf;

use clap::Args;

use automl::pruners::{Policy, PolicySettings};
use automl::store::Workspace;
use automl::{Error, Result};

/// `--workspace DIR`.
#[derive(Args, Clone, Debug, Default)]
pub struct WorkspaceArgs {
    /// Workspace folder (default: $AUTOML_WORKSPACE, else ./automl-workspace).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

impl WorkspaceArgs {
    /// The workspace folder: `--workspace`, else `$AUTOML_WORKSPACE`, else `./automl-workspace`.
    pub fn root(&self) -> PathBuf {
        Workspace::locate(self.workspace.as_deref())
    }

    /// Open the workspace, creating it on first use.
    pub fn open(&self) -> Result<Workspace> {
        Workspace::open(&self.root())
    }

    /// Open a workspace that must already exist (commands that only read its records).
    pub fn open_existing(&self) -> Result<Workspace> {
        let root = self.root();
        if !Workspace::exists(&root) {
            return Err(Error::Store(format!(
                "no workspace at {} (run `automl run` first, or pass --workspace DIR)",
                root.display()
            )));
        }
        Workspace::open(&root)
    }
}

/// `--json`.
#[derive(Args, Clone, Copy, Debug, Default)]
pub struct JsonArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `--workspace DIR` and `--json`: the flags of the commands over the workspace's records
/// (experiments, runs, data, models).
#[derive(Args, Clone, Debug, Default)]
pub struct StoreArgs {
    #[command(flatten)]
    pub ws: WorkspaceArgs,
    #[command(flatten)]
    pub out: JsonArgs,
}

impl StoreArgs {
    /// Whether to print JSON.
    pub fn json(&self) -> bool {
        self.out.json
    }
}

/// `--json` and `-q/--quiet`: how a long search (`automl run`, `automl sweep`) reports.
#[derive(Args, Clone, Copy, Debug, Default)]
#[command(mut_arg("json", |a| a.help("Print a JSON summary on stdout instead of tables")))]
pub struct OutputArgs {
    #[command(flatten)]
    pub format: JsonArgs,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

impl OutputArgs {
    /// Whether to print a JSON summary instead of tables.
    pub fn json(&self) -> bool {
        self.format.json
    }

    /// Whether to keep the progress bar and notes off the terminal (quiet or JSON).
    pub fn silent(&self) -> bool {
        self.quiet || self.format.json
    }
}

const ET: &str = "Early termination";

/// The early-termination flags of `automl run`: the same [`PolicySettings`] a sweep spec's
/// `[early_termination]` table gives, turned into a [`Policy`] by the same
/// [`Policy::from_settings`]. Defaults are [`PolicySettings::default`]'s.
#[derive(Args, Clone, Debug)]
pub struct PolicyArgs {
    /// Early-termination policy: none, bandit, median, truncation, asha, hyperband. Trials then
    /// report as they go: with cross-validation, the mean score of the folds done after each fold
    /// (steps 1..K); with a holdout, their score on 1/8, 2/8, 4/8 of the training rows before the
    /// full fit (steps 1, 2, 4, 8).
    #[arg(long, default_value = "none", value_name = "POLICY", help_heading = ET)]
    pub early_termination: String,
    /// Bandit: stop trials below best / (1 + F) (maximise) or above best * (1 + F).
    #[arg(long, value_name = "F", help_heading = ET)]
    pub slack_factor: Option<f64>,
    /// Bandit: stop trials more than A behind the best.
    #[arg(long, value_name = "A", conflicts_with = "slack_factor", help_heading = ET)]
    pub slack_amount: Option<f64>,
    /// Bandit / median / truncation: apply the policy every N steps.
    #[arg(long, default_value_t = PolicySettings::default().evaluation_interval, value_name = "N", help_heading = ET)]
    pub evaluation_interval: i64,
    /// Bandit / median / truncation: first step at which the policy applies.
    #[arg(long, default_value_t = PolicySettings::default().delay_evaluation, value_name = "N", help_heading = ET)]
    pub delay_evaluation: i64,
    /// Truncation: share (1-99) of trials to stop at each evaluation.
    #[arg(long, default_value_t = PolicySettings::default().truncation_percentage, value_name = "PCT", help_heading = ET)]
    pub truncation_percentage: f64,
    /// Truncation: leave finished trials out of the comparison.
    #[arg(long, help_heading = ET)]
    pub exclude_finished: bool,
    /// ASHA / Hyperband: keep 1 in this many at each rung.
    #[arg(long, default_value_t = PolicySettings::default().reduction_factor, value_name = "N", help_heading = ET)]
    pub reduction_factor: i64,
    /// ASHA / Hyperband: first rung (in eighths of the training rows).
    #[arg(long, default_value_t = PolicySettings::default().min_resource, value_name = "N", help_heading = ET)]
    pub min_resource: i64,
    /// Hyperband: largest resource (in eighths of the training rows).
    #[arg(long, default_value_t = PolicySettings::default().max_resource, value_name = "N", help_heading = ET)]
    pub max_resource: i64,
}

impl PolicyArgs {
    /// The flags as policy settings (the fields a sweep spec's `[early_termination]` sets).
    pub fn settings(&self) -> PolicySettings {
        PolicySettings {
            slack_factor: self.slack_factor,
            slack_amount: self.slack_amount,
            evaluation_interval: self.evaluation_interval,
            delay_evaluation: self.delay_evaluation,
            truncation_percentage: self.truncation_percentage,
            exclude_finished: self.exclude_finished,
            reduction_factor: self.reduction_factor,
            min_resource: self.min_resource,
            max_resource: self.max_resource,
        }
    }

    /// The policy the flags give, checked by [`Policy::from_settings`] as a sweep spec's is.
    pub fn policy(&self) -> Result<Policy> {
        Policy::from_settings(&self.early_termination, &self.settings())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct P {
        #[command(flatten)]
        p: PolicyArgs,
    }

    #[test]
    fn flag_defaults_are_the_policy_settings_defaults() {
        let p = P::parse_from(["p"]).p;
        assert_eq!(p.settings(), PolicySettings::default());
        assert_eq!(p.policy().ok(), Some(Policy::None));
    }

    #[test]
    fn flags_build_the_policy_a_spec_would() {
        let p = P::parse_from(["p", "--early-termination", "bandit", "--slack-factor", "0.2"]).p;
        let spec = PolicySettings {
            slack_factor: Some(0.2),
            ..PolicySettings::default()
        };
        assert_eq!(p.policy().ok(), Policy::from_settings("bandit", &spec).ok());
        let bad = P::parse_from(["p", "--early-termination", "bandit"]).p;
        assert!(bad.policy().is_err());
    }
}

/// Running a run or sweep with `automl worker` processes.
#[derive(Args, Clone, Debug, Default)]
pub struct DistributeArgs {
    /// Record the run (and on PostgreSQL its data) for `automl worker` processes, print the run
    /// id and the worker command, and exit. A plain run or sweep on a PostgreSQL workspace takes
    /// part as one worker itself. Sweep workers run the spec's command on their own machine: the
    /// spec and the program must be at the same paths there.
    #[arg(long, conflicts_with_all = ["resume", "no_store"], help_heading = "Workers")]
    pub workers_only: bool,
    #[command(flatten)]
    pub share: ShareArgs,
    /// Set by `automl worker`: the worker id this run takes part as.
    #[arg(skip)]
    pub worker: Option<String>,
}

/// How workers of a distributed run keep and hand over their trials.
#[derive(Args, Clone, Debug)]
pub struct ShareArgs {
    /// Seconds between a worker's heartbeats; a trial whose worker missed two in a row counts as
    /// lost and runs again on another worker.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS", help_heading = "Workers")]
    pub heartbeat: f64,
    /// Times a trial whose worker was lost runs again before it is recorded as failed.
    #[arg(long, default_value_t = 2, value_name = "N", help_heading = "Workers")]
    pub retries: u32,
}

impl Default for ShareArgs {
    fn default() -> ShareArgs {
        ShareArgs {
            heartbeat: 5.0,
            retries: 2,
        }
    }
}

impl ShareArgs {
    /// The sharing of a run of workspace `ws` by worker `worker`.
    pub fn sharing(&self, ws: &Workspace, worker: String) -> Result<automl::store::Sharing> {
        if !(self.heartbeat.is_finite() && self.heartbeat > 0.0 && self.heartbeat <= 3600.0) {
            return Err(Error::Config(format!(
                "--heartbeat must be a number of seconds in (0, 3600], got {}",
                self.heartbeat
            )));
        }
        Ok(automl::store::Sharing {
            claims: ws.store.clone(),
            worker,
            attempts: i64::from(self.retries) + 1,
            grace: 2.0 * self.heartbeat,
        })
    }
}

/// A new worker id: `host:pid:random`.
pub fn worker_id() -> String {
    let mut b = [0u8; 3];
    let _ = getrandom::fill(&mut b);
    format!(
        "{}:{}:{}",
        automl::automl::hostname(),
        std::process::id(),
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}
