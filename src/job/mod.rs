//! Jobs: Azure AutoML jobs (`type: automl`, in [`AutoMLJob`], with their data inputs and MLTable
//! folders in [`DataInput`] / [`MlTable`]), and sweep jobs: a user program plus a search space, sampler, objective, early termination and
//! limits, read from a TOML spec (the shape of an Azure ML sweep job, in TOML):
//!
//! ```toml
//! command = "python3 train.py --lr ${{search_space.lr}} --data ${{inputs.data}}"
//! [inputs]
//! data = "data.csv"
//! [objective]
//! goal = "minimize"
//! primary_metric = "val_loss"
//! [sampling]
//! algorithm = "random"          # grid | random | bayesian (TPE) | tpe | cfo
//! seed = 1
//! [early_termination]
//! policy = "bandit"             # none | bandit | median_stopping | truncation_selection | asha | hyperband
//! slack_factor = 0.1
//! [limits]
//! max_total_trials = 20
//! max_concurrent_trials = 4
//! timeout = 600                 # seconds for the whole sweep
//! trial_timeout = 60
//! [search_space.lr]
//! type = "loguniform"
//! low = 1e-4
//! high = 1e-1
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::command::{placeholders, split_words, CommandSpec};
use crate::error::{Error, Result};
use crate::pruners::{Goal, Policy, PolicySettings};
use crate::samplers::SamplerKind;
use crate::space::{line_suffix, ParamSpec, SearchSpace};
use crate::sweep::Limits;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CommandText {
    Line(String),
    Argv(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Objective {
    goal: String,
    primary_metric: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sampling {
    #[serde(default)]
    algorithm: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Termination {
    policy: String,
    slack_factor: Option<f64>,
    slack_amount: Option<f64>,
    evaluation_interval: Option<i64>,
    delay_evaluation: Option<i64>,
    truncation_percentage: Option<f64>,
    exclude_finished_jobs: Option<bool>,
    reduction_factor: Option<i64>,
    min_resource: Option<i64>,
    max_resource: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsText {
    max_total_trials: Option<usize>,
    max_concurrent_trials: Option<usize>,
    timeout: Option<f64>,
    trial_timeout: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobText {
    command: CommandText,
    #[serde(default)]
    shell: bool,
    #[serde(default)]
    cwd: Option<PathBuf>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    inputs: BTreeMap<String, toml::Value>,
    objective: Objective,
    #[serde(default)]
    sampling: Sampling,
    #[serde(default)]
    early_termination: Option<Termination>,
    #[serde(default)]
    limits: LimitsText,
    search_space: BTreeMap<String, ParamSpec>,
}

type Ignored = Option<serde::de::IgnoredAny>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AzureTrial {
    command: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    environment_variables: Option<BTreeMap<String, String>>,
    #[serde(default)]
    environment: Ignored,
    #[serde(default)]
    resources: Ignored,
    #[serde(default)]
    distribution: Ignored,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AzureInput {
    Asset {
        #[serde(rename = "type")]
        #[allow(dead_code)]
        kind: Option<String>,
        path: String,
        #[allow(dead_code)]
        mode: Option<String>,
    },
    Whole(i64),
    Number(f64),
    Flag(bool),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AzureSampling {
    Name(String),
    Full {
        #[serde(rename = "type")]
        kind: String,
        seed: Option<u64>,
        rule: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AzureTermination {
    #[serde(rename = "type")]
    kind: String,
    slack_factor: Option<f64>,
    slack_amount: Option<f64>,
    evaluation_interval: Option<i64>,
    delay_evaluation: Option<i64>,
    truncation_percentage: Option<f64>,
    exclude_finished_jobs: Option<bool>,
}

/// Azure ML search-space expressions (bounds of log distributions are in log space, `randint`
/// draws from `[0, upper)`).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum AzureParam {
    Choice { values: Vec<crate::space::Value> },
    Randint { upper: i64 },
    Uniform { min_value: f64, max_value: f64 },
    Loguniform { min_value: f64, max_value: f64 },
    Quniform { min_value: f64, max_value: f64, q: f64 },
    Qloguniform { min_value: f64, max_value: f64, q: f64 },
    Normal { mu: f64, sigma: f64 },
    Qnormal { mu: f64, sigma: f64, q: f64 },
    Lognormal { mu: f64, sigma: f64 },
    Qlognormal { mu: f64, sigma: f64, q: f64 },
}

impl AzureParam {
    fn into_spec(self) -> ParamSpec {
        use crate::space::Dist;
        ParamSpec::new(match self {
            AzureParam::Choice { values } => Dist::Choice { values },
            AzureParam::Randint { upper } => Dist::Randint {
                low: 0,
                high: upper - 1,
            },
            AzureParam::Uniform { min_value, max_value } => Dist::Uniform {
                low: min_value,
                high: max_value,
            },
            AzureParam::Loguniform { min_value, max_value } => Dist::Loguniform {
                low: min_value.exp(),
                high: max_value.exp(),
            },
            AzureParam::Quniform {
                min_value,
                max_value,
                q,
            } => Dist::Quniform {
                low: min_value,
                high: max_value,
                q,
            },
            AzureParam::Qloguniform {
                min_value,
                max_value,
                q,
            } => Dist::Qloguniform {
                low: min_value.exp(),
                high: max_value.exp(),
                q,
            },
            AzureParam::Normal { mu, sigma } => Dist::Normal { mu, sigma },
            AzureParam::Qnormal { mu, sigma, q } => Dist::Qnormal { mu, sigma, q },
            AzureParam::Lognormal { mu, sigma } => Dist::Lognormal { mu, sigma },
            AzureParam::Qlognormal { mu, sigma, q } => Dist::Qlognormal { mu, sigma, q },
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AzureJob {
    #[serde(rename = "$schema", default)]
    schema: Ignored,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Ignored,
    #[serde(default)]
    display_name: Ignored,
    #[serde(default)]
    experiment_name: Option<String>,
    #[serde(default)]
    description: Ignored,
    #[serde(default)]
    tags: Ignored,
    #[serde(default)]
    compute: Ignored,
    #[serde(default)]
    identity: Ignored,
    #[serde(default)]
    outputs: Ignored,
    #[serde(default)]
    resources: Ignored,
    #[serde(default)]
    queue_settings: Ignored,
    trial: AzureTrial,
    #[serde(default)]
    inputs: Option<BTreeMap<String, AzureInput>>,
    sampling_algorithm: AzureSampling,
    search_space: BTreeMap<String, AzureParam>,
    objective: Objective,
    #[serde(default)]
    early_termination: Option<AzureTermination>,
    #[serde(default)]
    limits: Option<LimitsText>,
}

/// A sweep job, checked and ready to run.
#[derive(Debug, Clone)]
pub struct SweepJob {
    /// How each trial's program starts.
    pub command: CommandSpec,
    /// The parameters.
    pub space: SearchSpace,
    /// Minimise or maximise the primary metric.
    pub goal: Goal,
    /// The sampler.
    pub sampler: SamplerKind,
    /// Sampler seed.
    pub seed: u64,
    /// Early-termination policy.
    pub policy: Policy,
    /// Trials at once, and the determinism window.
    pub max_concurrent: usize,
    /// Trial count, sweep time and per-trial time limits.
    pub limits: Limits,
    /// Spec fields read but ignored (cloud-only settings of an Azure ML job).
    pub ignored: Vec<String>,
    /// The experiment the job names (Azure's `experiment_name`).
    pub experiment: Option<String>,
}

impl SweepJob {
    /// Read a TOML spec; relative paths (cwd) are relative to `dir`. Errors name `origin` and the
    /// line where known.
    pub fn from_toml(text: &str, origin: &str, dir: &Path) -> Result<SweepJob> {
        let j: JobText = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{origin}: {}", e.to_string().trim_end())))?;
        SweepJob::from_parts(j, text, origin, dir, Vec::new())
    }

    fn from_parts(
        j: JobText,
        text: &str,
        origin: &str,
        dir: &Path,
        ignored: Vec<String>,
    ) -> Result<SweepJob> {
        let at = |key: &str, e: Error| {
            Error::Config(format!("{origin}{}: {}", line_suffix(text, key), e.detail()))
        };
        let space = SearchSpace::from_specs(j.search_space, text, origin)?;
        let argv = match j.command {
            // A shell gets the script verbatim (its own quoting intact).
            CommandText::Line(l) if j.shell => vec![l],
            CommandText::Line(l) => split_words(&l).map_err(|e| at("command", e))?,
            CommandText::Argv(v) => v,
        };
        if j.shell && argv.iter().any(|a| !placeholders(a).is_empty()) {
            return Err(Error::Config(format!(
                "{origin}{}: with shell = true, parameters reach the script only through the environment ($AUTOML_PARAM_<NAME>, $AUTOML_PARAMS); remove the ${{{{...}}}} placeholders",
                line_suffix(text, "command")
            )));
        }
        if argv.is_empty() {
            return Err(Error::Config(format!(
                "{origin}{}: the command is empty",
                line_suffix(text, "command")
            )));
        }
        let inputs: BTreeMap<String, String> = j
            .inputs
            .into_iter()
            .map(|(k, v)| {
                let s = match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, s)
            })
            .collect();
        for arg in &argv {
            for ph in placeholders(arg) {
                let ok = match ph.split_once('.') {
                    Some(("search_space", n)) => space.get(n).is_some(),
                    Some(("inputs", n)) => inputs.contains_key(n),
                    _ => false,
                };
                if !ok {
                    return Err(Error::Config(format!(
                        "{origin}{}: the command uses ${{{{{ph}}}}}, which is not defined (search_space.NAME or inputs.NAME)",
                        line_suffix(text, "command")
                    )));
                }
            }
        }
        let goal = match j.objective.goal.to_ascii_lowercase().as_str() {
            "minimize" | "min" => Goal::Minimize,
            "maximize" | "max" => Goal::Maximize,
            g => {
                return Err(Error::Config(format!(
                    "{origin}{}: objective.goal must be minimize or maximize, not '{g}'",
                    line_suffix(text, "goal")
                )))
            }
        };
        let sampler = match j.sampling.algorithm.as_deref() {
            None => SamplerKind::Random,
            Some(a) => SamplerKind::parse(a).map_err(|e| at("algorithm", e))?,
        };
        let policy = match &j.early_termination {
            None => Policy::None,
            Some(t) => {
                let d = PolicySettings::default();
                Policy::from_settings(
                    &t.policy,
                    &PolicySettings {
                        slack_factor: t.slack_factor,
                        slack_amount: t.slack_amount,
                        evaluation_interval: t.evaluation_interval.unwrap_or(d.evaluation_interval),
                        delay_evaluation: t.delay_evaluation.unwrap_or(d.delay_evaluation),
                        truncation_percentage: t.truncation_percentage.unwrap_or(d.truncation_percentage),
                        exclude_finished: t.exclude_finished_jobs.unwrap_or(false),
                        reduction_factor: t.reduction_factor.unwrap_or(d.reduction_factor),
                        min_resource: t.min_resource.unwrap_or(d.min_resource),
                        max_resource: t.max_resource.unwrap_or(d.max_resource),
                    },
                )
                .map_err(|e| at("policy", e))?
            }
        };
        let secs = |v: Option<f64>, key: &str| -> Result<Option<Duration>> {
            match v {
                None => Ok(None),
                Some(s) if s.is_finite() && s > 0.0 && s <= 1e9 => Ok(Some(Duration::from_secs_f64(s))),
                Some(s) => Err(Error::Config(format!(
                    "{origin}{}: limits.{key} must be a positive number of seconds, got {s}",
                    line_suffix(text, key)
                ))),
            }
        };
        let limits = Limits {
            max_trials: j.limits.max_total_trials,
            time: secs(j.limits.timeout, "timeout")?,
            trial_timeout: secs(j.limits.trial_timeout, "trial_timeout")?,
            exit_score: None,
        };
        if limits.max_trials == Some(0) || j.limits.max_concurrent_trials == Some(0) {
            return Err(Error::Config(format!(
                "{origin}: limits.max_total_trials and limits.max_concurrent_trials must be at least 1"
            )));
        }
        if limits.max_trials.is_none() && limits.time.is_none() && sampler != SamplerKind::Grid {
            return Err(Error::Config(format!(
                "{origin}: set limits.max_total_trials or limits.timeout (only a grid ends by itself)"
            )));
        }
        let cwd = j.cwd.map_or_else(|| dir.to_path_buf(), |c| dir.join(c));
        Ok(SweepJob {
            command: CommandSpec {
                argv,
                shell: j.shell,
                cwd,
                env: j.env,
                inputs,
                primary_metric: j.objective.primary_metric,
                grace: Duration::from_secs(3),
            },
            space,
            goal,
            sampler,
            seed: j.sampling.seed.unwrap_or(0),
            policy,
            max_concurrent: j
                .limits
                .max_concurrent_trials
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            limits,
            ignored,
            experiment: None,
        })
    }

    /// Read a spec file: Azure ML sweep-job YAML (`.yml` / `.yaml`) or our TOML.
    pub fn load(path: &Path) -> Result<SweepJob> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read sweep spec {}: {e}", path.display())))?;
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let origin = path.display().to_string();
        match path.extension().and_then(|e| e.to_str()) {
            Some("yml" | "yaml") => SweepJob::from_azure_yaml(&text, &origin, &dir),
            _ => SweepJob::from_toml(&text, &origin, &dir),
        }
    }

    /// Read an Azure ML v2 sweep job (`type: sweep`) as is. Cloud-only fields (compute,
    /// environment, resources, …) are read and listed in [`SweepJob::ignored`]; unknown fields are
    /// errors naming them.
    pub fn from_azure_yaml(text: &str, origin: &str, dir: &Path) -> Result<SweepJob> {
        let a: AzureJob = serde_saphyr::from_str(text)
            .map_err(|e| Error::Config(format!("{origin}: {}", e.to_string().trim_end())))?;
        if a.kind != "sweep" {
            return Err(Error::Config(format!(
                "{origin}: type is '{}', only 'sweep' jobs can run here",
                a.kind
            )));
        }
        let mut ignored = Vec::new();
        for (name, present) in [
            ("$schema", a.schema.is_some()),
            ("name", a.name.is_some()),
            ("display_name", a.display_name.is_some()),
            ("description", a.description.is_some()),
            ("tags", a.tags.is_some()),
            ("compute", a.compute.is_some()),
            ("identity", a.identity.is_some()),
            ("outputs", a.outputs.is_some()),
            ("resources", a.resources.is_some()),
            ("queue_settings", a.queue_settings.is_some()),
            ("trial.environment", a.trial.environment.is_some()),
            ("trial.resources", a.trial.resources.is_some()),
            ("trial.distribution", a.trial.distribution.is_some()),
        ] {
            if present {
                ignored.push(name.to_string());
            }
        }
        let (algorithm, seed) = match a.sampling_algorithm {
            AzureSampling::Name(n) => (n, None),
            AzureSampling::Full { kind, seed, rule } => {
                if let Some(r) = rule.filter(|r| r != "random") {
                    return Err(Error::Config(format!(
                        "{origin}{}: sampling_algorithm.rule '{r}' is not supported here (only random)",
                        line_suffix(text, "rule")
                    )));
                }
                (kind, seed)
            }
        };
        let mut space = BTreeMap::new();
        for (name, p) in a.search_space {
            if let AzureParam::Randint { upper } = &p {
                if *upper < 1 {
                    return Err(Error::Config(format!(
                        "{origin}{}: search_space.{name}: randint upper must be at least 1 (values are drawn from [0, upper)), got {upper}",
                        line_suffix(text, &name)
                    )));
                }
            }
            let spec = p.into_spec();
            spec.dist.check(&name).map_err(|e| {
                Error::Config(format!(
                    "{origin}{}: search_space.{}",
                    line_suffix(text, &name),
                    e.detail()
                ))
            })?;
            space.insert(name, spec);
        }
        let inputs = a
            .inputs
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let value = match v {
                    AzureInput::Asset { path, .. } => toml::Value::String(path),
                    AzureInput::Whole(i) => toml::Value::Integer(i),
                    AzureInput::Number(x) => toml::Value::Float(x),
                    AzureInput::Text(t) => toml::Value::String(t),
                    AzureInput::Flag(b) => toml::Value::Boolean(b),
                };
                (k, value)
            })
            .collect::<BTreeMap<_, _>>();
        let j = JobText {
            command: CommandText::Line(a.trial.command),
            shell: false,
            cwd: a.trial.code.map(PathBuf::from),
            env: a.trial.environment_variables.unwrap_or_default(),
            inputs,
            objective: a.objective,
            sampling: Sampling {
                algorithm: Some(algorithm),
                seed,
            },
            early_termination: a.early_termination.map(|t| Termination {
                policy: t.kind,
                slack_factor: t.slack_factor,
                slack_amount: t.slack_amount,
                evaluation_interval: t.evaluation_interval,
                delay_evaluation: t.delay_evaluation,
                truncation_percentage: t.truncation_percentage,
                exclude_finished_jobs: t.exclude_finished_jobs,
                ..Termination::default()
            }),
            limits: a.limits.unwrap_or_default(),
            search_space: space,
        };
        let mut job = SweepJob::from_parts(j, text, origin, dir, ignored)?;
        job.experiment = a.experiment_name.filter(|e| !e.trim().is_empty());
        Ok(job)
    }
}

mod automl_job;
mod featurization;
mod mltable;
mod record;
mod training;

pub use automl_job::{is_automl_job, yaml_line, AutoMLJob, CrossValidations};
pub use featurization::{
    ColumnPurpose, Featurization, FeaturizationMode, ImputeStrategy, Imputer, Scalar, TransformerParams,
};
pub use mltable::{DataInput, Header, InputKind, MlTable, ReadAs};
pub use record::{finish_run, open_run, resumed_spec, JobRun};
pub use training::JobTask;
