//! Azure ML v2 AutoML jobs (`type: automl`) read as is, to run locally with `automl run job.yml`:
//!
//! ```yaml
//! $schema: https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json
//! type: automl
//! experiment_name: bank-marketing
//! compute: azureml:cpu-cluster          # cloud-only: read and reported as ignored
//! task: classification
//! primary_metric: AUC_weighted
//! target_column_name: y
//! training_data:
//!   path: ./training-mltable-folder
//!   type: mltable
//! test_data:
//!   path: ./test-mltable-folder
//!   type: mltable
//! limits:
//!   timeout_minutes: 10
//!   max_trials: 40
//!   max_concurrent_trials: 4
//!   trial_timeout_minutes: 2
//! training:
//!   allowed_training_algorithms: [LightGBM, LogisticRegression]
//!   enable_stack_ensemble: false
//! featurization:
//!   mode: custom
//!   transformer_params:
//!     imputer:
//!       - fields: [age]
//!         parameters: {strategy: median}
//! ```
//!
//! Everything a run needs ends up in [`AutoMLJob`]; settings read but not applied locally are
//! listed in [`AutoMLJob::ignored`] (cloud-only) and [`AutoMLJob::notes`] (each with its reason).

use std::path::{Path, PathBuf};

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::automl::AutoMLBuilder;
use crate::data::{Dataset, Table, Task};
use crate::ensemble::EnsembleKind;
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::space::SpaceFile;
use crate::validation::Scheme;

use super::featurization::{
    featurization, imputer_choice, ColumnPurpose, Featurization, FeaturizationMode, FeaturizationText, Scalar,
};
use super::mltable::{DataInput, InputKind};
use super::training::{training_learners, JobTask, TrainingText};

/// `, line N` for the first line of `text` that sets YAML key `key` (`key:` or `- key:`), or
/// nothing when no line does.
pub fn yaml_line(text: &str, key: &str) -> String {
    if key.is_empty() {
        return String::new();
    }
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ").trim_start();
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
                || t.strip_prefix(&format!("\"{key}\""))
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| format!(", line {}", i + 1))
        .unwrap_or_default()
}

type Ignored = Option<IgnoredAny>;

/// Parse YAML with YAML 1.2 booleans (only `true` / `false`): a column named `y`, `n`, `on` or
/// `no` (bank marketing's target is `y`) stays a name.
pub(super) fn parse_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
) -> std::result::Result<T, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, serde_saphyr::options! { strict_booleans: true })
}

/// Azure AutoML tasks read but not run here.
const UNSUPPORTED_TASKS: &[&str] = &[
    "forecasting",
    "image_classification",
    "image_classification_multilabel",
    "image_object_detection",
    "image_instance_segmentation",
    "text_classification",
    "text_classification_multilabel",
    "text_ner",
];

/// `n_cross_validations`: a number of folds or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossValidations {
    /// The engine's choice (5 folds up to 10,000 rows, a holdout above).
    Auto,
    /// This many folds.
    Folds(usize),
}

/// A data input: `{type, path}` or a plain path.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum InputText {
    Path(String),
    Asset {
        #[serde(rename = "type", default)]
        kind: Option<String>,
        path: String,
        #[serde(default)]
        mode: Option<String>,
        #[serde(default)]
        description: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FoldsText {
    Number(i64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsText {
    #[serde(default)]
    timeout_minutes: Option<f64>,
    #[serde(default)]
    trial_timeout_minutes: Option<f64>,
    #[serde(default)]
    max_trials: Option<i64>,
    #[serde(default)]
    max_concurrent_trials: Option<i64>,
    #[serde(default)]
    max_cores_per_trial: Option<i64>,
    #[serde(default)]
    enable_early_termination: Option<bool>,
    #[serde(default)]
    exit_score: Option<f64>,
    #[serde(default)]
    max_nodes: Ignored,
}

#[derive(Debug, Deserialize)]
struct Head {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    task: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobText {
    #[serde(rename = "$schema", default)]
    schema: Ignored,
    #[serde(rename = "type")]
    _kind: String,
    #[serde(rename = "task")]
    _task: String,
    #[serde(default)]
    primary_metric: Option<String>,
    target_column_name: String,
    training_data: InputText,
    #[serde(default)]
    validation_data: Option<InputText>,
    #[serde(default)]
    test_data: Option<InputText>,
    #[serde(default)]
    validation_data_size: Option<f64>,
    #[serde(default)]
    test_data_size: Option<f64>,
    #[serde(default)]
    n_cross_validations: Option<FoldsText>,
    #[serde(default)]
    cv_split_column_names: Option<Vec<String>>,
    #[serde(default)]
    weight_column_name: Option<String>,
    #[serde(default)]
    positive_label: Option<Scalar>,
    #[serde(default)]
    limits: LimitsText,
    #[serde(default)]
    training: TrainingText,
    #[serde(default)]
    featurization: Option<FeaturizationText>,
    #[serde(default)]
    experiment_name: Option<String>,
    #[serde(default)]
    name: Ignored,
    #[serde(default)]
    display_name: Ignored,
    #[serde(default)]
    description: Ignored,
    #[serde(default)]
    tags: Ignored,
    #[serde(default)]
    properties: Ignored,
    #[serde(default)]
    compute: Ignored,
    #[serde(default)]
    log_verbosity: Ignored,
    #[serde(default)]
    outputs: Ignored,
    #[serde(default)]
    identity: Ignored,
    #[serde(default)]
    resources: Ignored,
    #[serde(default)]
    queue_settings: Ignored,
    #[serde(default)]
    environment_variables: Ignored,
    #[serde(default)]
    services: Ignored,
}

/// An Azure AutoML job, checked and ready to run.
#[derive(Debug, Clone)]
pub struct AutoMLJob {
    /// The job file, for messages.
    pub origin: String,
    /// `task`.
    pub task: JobTask,
    /// `primary_metric` (Azure's names accepted), when given.
    pub metric: Option<Metric>,
    /// `target_column_name`.
    pub target: String,
    /// `training_data`, resolved against the job file's folder.
    pub training_data: DataInput,
    /// `validation_data`, when given.
    pub validation_data: Option<DataInput>,
    /// `test_data`, when given: scored after the run.
    pub test_data: Option<DataInput>,
    /// `validation_data_size`: the share of rows held out for validation.
    pub validation_data_size: Option<f64>,
    /// `n_cross_validations`.
    pub cross_validations: Option<CrossValidations>,
    /// `limits.timeout_minutes`, in seconds.
    pub time_budget_secs: Option<f64>,
    /// `limits.trial_timeout_minutes`, in seconds.
    pub trial_timeout_secs: Option<f64>,
    /// `limits.max_trials`.
    pub max_trials: Option<usize>,
    /// `limits.max_concurrent_trials`.
    pub max_concurrent: Option<usize>,
    /// `limits.exit_score`.
    pub exit_score: Option<f64>,
    /// The learners to search (from `allowed_training_algorithms` / `blocked_training_algorithms`);
    /// `None`: every learner that fits the task.
    pub learners: Option<Vec<String>>,
    /// The final model, from `enable_vote_ensemble` / `enable_stack_ensemble`.
    pub ensemble: EnsembleKind,
    /// `featurization`.
    pub featurization: Featurization,
    /// `experiment_name`.
    pub experiment_name: Option<String>,
    /// Cloud-only fields read and ignored.
    pub ignored: Vec<String>,
    /// Settings read but not applied here, each with its reason.
    pub notes: Vec<String>,
}

/// Whether `path` is a YAML file whose `type` is `automl` (so `automl run` takes it as a job).
/// Only `.yml` / `.yaml` files are read.
pub fn is_automl_job(path: &Path) -> bool {
    let yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"));
    yaml && std::fs::read_to_string(path)
        .ok()
        .and_then(|t| parse_yaml::<Head>(&t).ok())
        .and_then(|h| h.kind)
        .is_some_and(|k| k == "automl")
}

impl AutoMLJob {
    /// Read a job file; relative data paths are relative to its folder.
    pub fn load(path: &Path) -> Result<AutoMLJob> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read AutoML job {}: {e}", path.display())))?;
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        AutoMLJob::from_yaml(&text, &path.display().to_string(), &dir)
    }

    /// Parse an Azure ML v2 AutoML job. Cloud-only fields are listed in [`AutoMLJob::ignored`];
    /// unknown fields are errors naming the field and its line; unsupported tasks are errors
    /// naming the task.
    pub fn from_yaml(text: &str, origin: &str, dir: &Path) -> Result<AutoMLJob> {
        let err = |key: &str, msg: String| Error::Config(format!("{origin}{}: {msg}", yaml_line(text, key)));
        let head: Head =
            parse_yaml(text).map_err(|e| Error::Config(format!("{origin}: {}", e.to_string().trim_end())))?;
        match head.kind.as_deref() {
            Some("automl") => {}
            Some(k) => {
                return Err(err(
                    "type",
                    format!("type is '{k}'; automl run reads AutoML jobs (type: automl); sweep jobs run with automl sweep"),
                ))
            }
            None => return Err(Error::Config(format!("{origin}: no 'type: automl'"))),
        }
        let task = match head.task.as_deref() {
            Some("classification") => JobTask::Classification,
            Some("regression") => JobTask::Regression,
            Some(t) if UNSUPPORTED_TASKS.contains(&t) => {
                return Err(err(
                    "task",
                    format!(
                        "task '{t}' is not supported yet (only classification and regression run locally)"
                    ),
                ))
            }
            Some(t) => {
                return Err(err(
                    "task",
                    format!("unknown task '{t}' (classification or regression)"),
                ))
            }
            None => return Err(Error::Config(format!("{origin}: missing field `task`"))),
        };
        let j: JobText = parse_yaml(text).map_err(|e| {
            let msg = e.to_string();
            // Name the line of an unknown field when the parser does not.
            let line = unknown_field(&msg)
                .filter(|_| !msg.contains("line"))
                .map(|f| yaml_line(text, f))
                .unwrap_or_default();
            Error::Config(format!("{origin}{line}: {}", msg.trim_end()))
        })?;
        let mut ignored = Vec::new();
        for (name, present) in [
            ("$schema", j.schema.is_some()),
            ("name", j.name.is_some()),
            ("display_name", j.display_name.is_some()),
            ("description", j.description.is_some()),
            ("tags", j.tags.is_some()),
            ("properties", j.properties.is_some()),
            ("compute", j.compute.is_some()),
            ("log_verbosity", j.log_verbosity.is_some()),
            ("outputs", j.outputs.is_some()),
            ("identity", j.identity.is_some()),
            ("resources", j.resources.is_some()),
            ("queue_settings", j.queue_settings.is_some()),
            ("environment_variables", j.environment_variables.is_some()),
            ("services", j.services.is_some()),
            ("limits.max_nodes", j.limits.max_nodes.is_some()),
            (
                "training.ensemble_model_download_timeout_minutes",
                j.training.ensemble_model_download_timeout_minutes.is_some(),
            ),
            ("training.training_mode", j.training.training_mode.is_some()),
        ] {
            if present {
                ignored.push(name.to_string());
            }
        }
        let mut notes = Vec::new();
        let metric = match &j.primary_metric {
            None => None,
            Some(m) => {
                let metric: Metric = m.parse().map_err(|e: Error| err("primary_metric", e.detail()))?;
                let fits = match task {
                    JobTask::Classification => metric.fits(Task::Binary),
                    JobTask::Regression => metric.fits(Task::Regression),
                };
                if !fits {
                    return Err(err(
                        "primary_metric",
                        format!("primary_metric '{m}' does not apply to {} tasks", task_name(task)),
                    ));
                }
                Some(metric)
            }
        };
        if j.target_column_name.trim().is_empty() {
            return Err(err("target_column_name", "target_column_name is empty".into()));
        }
        let input = |key: &str, t: InputText| -> Result<DataInput> {
            let (kind, path) = match t {
                InputText::Path(p) => (None, p),
                InputText::Asset {
                    kind,
                    path,
                    mode,
                    description,
                } => {
                    let _ = (mode, description);
                    (kind, path)
                }
            };
            if path.starts_with("azureml:") || path.contains("://") {
                return Err(err(
                    key,
                    format!("{key}.path '{path}' is a cloud asset; only local files and folders can be read (download the data and point at it)"),
                ));
            }
            let full = dir.join(path.strip_prefix("./").unwrap_or(&path));
            let kind = match kind {
                Some(k) => InputKind::parse(&k).map_err(|e| err(key, format!("{key}: {}", e.detail())))?,
                None if full.is_dir() => InputKind::UriFolder,
                None => InputKind::UriFile,
            };
            if !full.exists() {
                return Err(err(
                    key,
                    format!("{key}: '{path}' not found (looked for {})", full.display()),
                ));
            }
            Ok(DataInput { path: full, kind })
        };
        let training_data = input("training_data", j.training_data)?;
        let validation_data = j
            .validation_data
            .map(|v| input("validation_data", v))
            .transpose()?;
        let test_data = j.test_data.map(|v| input("test_data", v)).transpose()?;
        if let Some(s) = j.validation_data_size {
            if !(s > 0.0 && s < 1.0) {
                return Err(err(
                    "validation_data_size",
                    format!("validation_data_size must be between 0 and 1 (exclusive), got {s}"),
                ));
            }
        }
        let cross_validations = match j.n_cross_validations {
            None => None,
            Some(FoldsText::Text(t)) if t.eq_ignore_ascii_case("auto") => Some(CrossValidations::Auto),
            Some(FoldsText::Number(n)) if n >= 2 => Some(CrossValidations::Folds(n as usize)),
            Some(FoldsText::Number(n)) => {
                return Err(err(
                    "n_cross_validations",
                    format!("n_cross_validations must be auto or at least 2, got {n}"),
                ))
            }
            Some(FoldsText::Text(t)) => {
                return Err(err(
                    "n_cross_validations",
                    format!("n_cross_validations must be auto or a number of folds, got '{t}'"),
                ))
            }
        };
        if validation_data.is_some() && (cross_validations.is_some() || j.validation_data_size.is_some()) {
            return Err(err(
                "validation_data",
                "give validation_data or n_cross_validations / validation_data_size, not both".into(),
            ));
        }
        if let Some(s) = j.test_data_size {
            return Err(err(
                "test_data_size",
                format!("test_data_size ({s}) is not supported yet: give test_data"),
            ));
        }
        if let Some(c) = &j.cv_split_column_names {
            return Err(err(
                "cv_split_column_names",
                format!("cv_split_column_names ({}) is not supported yet", c.join(", ")),
            ));
        }
        if let Some(w) = &j.weight_column_name {
            return Err(err(
                "weight_column_name",
                format!("weight_column_name ('{w}') is not supported yet: rows cannot be weighted"),
            ));
        }
        if j.positive_label.is_some() {
            notes.push("positive_label: the positive class is the second of the sorted labels here".into());
        }
        let l = &j.limits;
        let minutes = |v: Option<f64>, key: &str| -> Result<Option<f64>> {
            match v {
                None => Ok(None),
                Some(m) if m.is_finite() && m > 0.0 && m * 60.0 <= 1e9 => Ok(Some(m * 60.0)),
                Some(m) => Err(err(
                    key,
                    format!("limits.{key} must be a positive number of minutes, got {m}"),
                )),
            }
        };
        let count = |v: Option<i64>, key: &str| -> Result<Option<usize>> {
            match v {
                None => Ok(None),
                Some(n) if n >= 1 => Ok(Some(n as usize)),
                Some(n) => Err(err(key, format!("limits.{key} must be at least 1, got {n}"))),
            }
        };
        let time_budget_secs = minutes(l.timeout_minutes, "timeout_minutes")?;
        let trial_timeout_secs = minutes(l.trial_timeout_minutes, "trial_timeout_minutes")?;
        let max_trials = count(l.max_trials, "max_trials")?;
        let max_concurrent = count(l.max_concurrent_trials, "max_concurrent_trials")?;
        if count(l.max_cores_per_trial.filter(|&n| n != -1), "max_cores_per_trial")?.is_some() {
            notes.push(
                "limits.max_cores_per_trial: each trial uses one core here (parallel trials use the rest)"
                    .into(),
            );
        }
        if l.enable_early_termination == Some(true) {
            notes.push("limits.enable_early_termination: the run ends at timeout_minutes or max_trials (no stop on a stalled score); for trial pruning use --early-termination".into());
        }
        let t = &j.training;
        let learners = training_learners(t, task, &mut notes).map_err(|e| {
            let key = if t.allowed_training_algorithms.is_some() {
                "allowed_training_algorithms"
            } else {
                "blocked_training_algorithms"
            };
            err(key, e.detail())
        })?;
        let vote = t.enable_vote_ensemble.unwrap_or(true);
        let stack = t.enable_stack_ensemble.unwrap_or(true);
        let ensemble = match (vote, stack) {
            (true, _) => EnsembleKind::Greedy,
            (false, true) => EnsembleKind::Stack,
            (false, false) => EnsembleKind::None,
        };
        for (name, set) in [
            (
                "training.enable_model_explainability",
                t.enable_model_explainability,
            ),
            (
                "training.enable_onnx_compatible_models",
                t.enable_onnx_compatible_models,
            ),
            ("training.enable_dnn_training", t.enable_dnn_training),
        ] {
            if set == Some(true) {
                notes.push(format!("{name}: not applicable here"));
            }
        }
        if t.stack_ensemble_settings.is_some() {
            notes.push("training.stack_ensemble_settings: the stack's meta-model is our own (a cross-validated linear model)".into());
        }
        let featurization = match j.featurization {
            None => Featurization::default(),
            Some(f) => featurization(f, &mut notes).map_err(|e| {
                Error::Config(format!(
                    "{origin}{}: featurization: {}",
                    yaml_line(text, "featurization"),
                    e.detail()
                ))
            })?,
        };
        if !featurization.imputers.is_empty() {
            let mapped = imputer_choice(&featurization.imputers);
            notes.push(match mapped {
                Some(s) => format!("featurization imputer: {s} imputation applied to every numeric column"),
                None => "featurization imputer: only a single mean or median strategy for all fields is applied here; the engine searches mean/median imputation instead".into(),
            });
        }
        if matches!(cross_validations, Some(CrossValidations::Folds(_))) && j.validation_data_size.is_some() {
            notes.push(
                "validation_data_size: n_cross_validations is given too; trials are cross-validated".into(),
            );
        }
        Ok(AutoMLJob {
            origin: origin.to_string(),
            task,
            metric,
            target: j.target_column_name,
            training_data,
            validation_data,
            test_data,
            validation_data_size: j.validation_data_size,
            cross_validations,
            time_budget_secs,
            trial_timeout_secs,
            max_trials,
            max_concurrent,
            exit_score: l.exit_score,
            learners,
            ensemble,
            featurization,
            experiment_name: j.experiment_name,
            ignored,
            notes,
        })
    }

    /// The training data as a dataset with `target` (the job's unless overridden); the task is the
    /// job's (classification: binary or multiclass by the target's distinct values) unless `task`
    /// overrides it.
    pub fn training_dataset(&self, target: &str, task: Option<Task>) -> Result<Dataset> {
        let table = self.training_data.read()?;
        let task = match task {
            Some(t) => t,
            None => self.data_task(&table, target)?,
        };
        let mut data = Dataset::from_table_with(table, target, Some(task), &self.kind_rules())?;
        if self.blocks(&["TfIdf"]) {
            let text: Vec<String> = data
                .schema
                .used()
                .filter(|f| f.kind == crate::data::FeatureKind::Text)
                .map(|f| f.name.clone())
                .collect();
            for name in text {
                data.exclude(&name, "free text, and the job blocks TfIdf");
            }
        }
        Ok(data)
    }

    /// The training data with the validation data's rows appended (when the job gives
    /// `validation_data`), and how trials are validated: on the given validation rows, with
    /// `n_cross_validations` folds, on a `validation_data_size` holdout, or as the engine
    /// chooses.
    pub fn datasets(&self, target: &str, task: Option<Task>) -> Result<(Dataset, Scheme)> {
        let mut data = self.training_dataset(target, task)?;
        if let Some(v) = &self.validation_data {
            let n = data.n_rows();
            let added = data
                .append(&v.read()?)
                .map_err(|e| Error::Data(format!("validation_data ({}): {e}", v.path.display())))?;
            if added == 0 {
                return Err(Error::Data(format!(
                    "validation_data ({}) has no labelled rows",
                    v.path.display()
                )));
            }
            return Ok((data, Scheme::Given(n)));
        }
        let scheme = match (self.cross_validations, self.validation_data_size) {
            (Some(CrossValidations::Folds(k)), _) => Scheme::Folds(k),
            (_, Some(share)) => Scheme::Holdout(share),
            _ => Scheme::Auto,
        };
        Ok((data, scheme))
    }

    /// Whether `blocked_transformers` names any of `names`.
    fn blocks(&self, names: &[&str]) -> bool {
        self.featurization
            .blocked_transformers
            .iter()
            .any(|b| names.contains(&b.as_str()))
    }

    /// The column kinds the job sets (`column_name_and_types`), and whether dates and free text
    /// are recognised (not with `mode: off`).
    pub fn kind_rules(&self) -> crate::data::KindRules {
        use crate::data::FeatureKind;
        let kinds = self
            .featurization
            .column_types
            .iter()
            .map(|(name, p)| {
                let kind = match p {
                    ColumnPurpose::Categorical => FeatureKind::Categorical,
                    ColumnPurpose::Numeric => FeatureKind::Numeric,
                    ColumnPurpose::DateTime => FeatureKind::Datetime,
                    ColumnPurpose::Text => FeatureKind::Text,
                    ColumnPurpose::Ignore => FeatureKind::Ignored,
                };
                (name.clone(), kind)
            })
            .collect();
        crate::data::KindRules {
            kinds,
            derived: self.featurization.mode != FeaturizationMode::Off,
        }
    }

    fn data_task(&self, table: &Table, target: &str) -> Result<Task> {
        Ok(match self.task {
            JobTask::Regression => Task::Regression,
            JobTask::Classification => {
                let col = table.column(target).ok_or_else(|| {
                    Error::Data(format!("target column '{target}' not found in the training data"))
                })?;
                if col.distinct() <= 2 {
                    Task::Binary
                } else {
                    Task::Multiclass
                }
            }
        })
    }

    /// A builder set up with the job's metric, limits, learners, ensemble and search-space
    /// narrowing; settings given afterwards (the command line's) override them.
    pub fn builder(&self) -> Result<AutoMLBuilder> {
        let mut b = crate::AutoML::builder().ensemble(self.ensemble);
        if let Some(m) = self.metric {
            b = b.metric(m);
        }
        if let Some(t) = self.time_budget_secs {
            b = b.time_budget_secs(t);
        }
        if let Some(t) = self.trial_timeout_secs {
            b = b.trial_timeout_secs(t);
        }
        if let Some(n) = self.max_trials {
            b = b.max_trials(n);
        }
        if let Some(x) = self.exit_score {
            b = b.exit_score(x);
        }
        if let Some(n) = self.max_concurrent {
            b = b.max_concurrent(n);
        }
        if let Some(l) = &self.learners {
            b = b.learners(l.iter().cloned());
        }
        if let Some(f) = self.search_space()? {
            b = b.search_space(f);
        }
        Ok(b)
    }

    /// The search-space narrowing the job implies: the imputer's strategy when every imputer entry
    /// asks for the same `mean` or `median` (our preprocessing imputes all numeric columns alike).
    pub fn search_space(&self) -> Result<Option<SpaceFile>> {
        let choice = |param: &str, values: &[&str]| {
            let list: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
            format!(
                "[preprocessing.{param}]\ntype = \"choice\"\nvalues = [{}]\ninit = \"{}\"\n",
                list.join(", "),
                values[0]
            )
        };
        let mut text = String::new();
        if let Some(name) = imputer_choice(&self.featurization.imputers) {
            text.push_str(&choice("impute", &[name]));
        }
        // Level codes of high-cardinality categories (not searched by default): none with
        // featurization off or a target encoder blocked, whatever a later space file says.
        if self.featurization.mode == FeaturizationMode::Off
            || self.blocks(&["CatTargetEncoder", "WoETargetEncoder", "TextTargetEncoder"])
        {
            text.push_str(&choice("high_card", &["none"]));
        }
        let onehot = self.blocks(&["OneHotEncoder", "HashOneHotEncoder"]);
        let label = self.blocks(&["LabelEncoder"]);
        match (onehot, label) {
            (true, true) => {
                return Err(Error::Config(format!(
                    "{}: featurization.blocked_transformers blocks both one-hot and label encoding: categorical columns need one of them",
                    self.origin
                )))
            }
            (true, false) => text.push_str(&choice("encode", &["ordinal"])),
            (false, true) => text.push_str(&choice("encode", &["onehot"])),
            (false, false) => {}
        }
        if text.is_empty() {
            return Ok(None);
        }
        SpaceFile::from_toml(&text, &format!("{} (featurization)", self.origin)).map(Some)
    }
}

fn task_name(t: JobTask) -> &'static str {
    match t {
        JobTask::Classification => "classification",
        JobTask::Regression => "regression",
    }
}

/// The field named in a serde "unknown field `x`" message.
fn unknown_field(msg: &str) -> Option<&str> {
    let rest = msg.split("unknown field `").nth(1)?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::ImputeStrategy;

    /// A folder with a small CSV (`data.csv`: x, y) and an MLTable folder (`table/`) over it.
    fn folder() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("data.csv"), "x,y\n1,a\n2,b\n3,a\n4,b\n").unwrap();
        std::fs::create_dir(d.path().join("table")).unwrap();
        std::fs::write(d.path().join("table/part.csv"), "x,y\n1,a\n2,b\n").unwrap();
        std::fs::write(
            d.path().join("table/MLTable"),
            "paths:\n  - file: ./part.csv\ntransformations:\n  - read_delimited:\n      delimiter: ','\n",
        )
        .unwrap();
        d
    }

    fn parse(text: &str, dir: &Path) -> Result<AutoMLJob> {
        AutoMLJob::from_yaml(text, "job.yml", dir)
    }

    const MINIMAL: &str = "type: automl\ntask: classification\ntarget_column_name: y\ntraining_data:\n  path: ./table\n  type: mltable\n";

    #[test]
    fn featurization_sets_kinds_and_narrows_encodings() {
        let d = tempfile::tempdir().unwrap();
        let mut csv = String::from("when,note,code,y\n");
        for i in 0..40 {
            csv.push_str(&format!(
                "2024-01-{:02},the parcel number {i} came late,{},{}\n",
                i % 28 + 1,
                i % 3,
                ["a", "b"][i % 2]
            ));
        }
        std::fs::write(d.path().join("t.csv"), csv).unwrap();
        let job = |featurization: &str| {
            let text = format!(
                "type: automl\ntask: classification\ntarget_column_name: y\ntraining_data: ./t.csv\nfeaturization:\n{featurization}"
            );
            parse(&text, d.path()).unwrap()
        };
        let kind = |data: &Dataset, c: &str| data.schema.features.iter().find(|f| f.name == c).unwrap().kind;
        use crate::data::FeatureKind;
        // auto: a date and free text; custom kinds win.
        let auto = job("  mode: auto\n").training_dataset("y", None).unwrap();
        assert_eq!(kind(&auto, "when"), FeatureKind::Datetime);
        assert_eq!(kind(&auto, "note"), FeatureKind::Text);
        let custom = job("  mode: custom\n  column_name_and_types:\n    when: Categorical\n    code: Numeric\n    y: Categorical\n")
            .training_dataset("y", None)
            .unwrap();
        assert_eq!(kind(&custom, "when"), FeatureKind::Categorical);
        assert_eq!(kind(&custom, "code"), FeatureKind::Numeric);
        let err = job("  column_name_and_types:\n    note: DateTime\n")
            .training_dataset("y", None)
            .unwrap_err();
        assert!(err.to_string().contains("'note' is set to datetime"), "{err}");
        let err = job("  column_name_and_types:\n    nope: Text\n")
            .training_dataset("y", None)
            .unwrap_err();
        assert!(err.to_string().contains("'nope' is given a kind"), "{err}");
        // off: plain categories (the unique note is an ID), and no level codes.
        let off = job("  mode: off\n");
        let data = off.training_dataset("y", None).unwrap();
        assert_eq!(kind(&data, "when"), FeatureKind::Categorical);
        assert_eq!(kind(&data, "note"), FeatureKind::Ignored);
        let space = off.search_space().unwrap().unwrap();
        assert!(space.params["preprocessing"].contains_key("high_card"));
        // Blocked transformers: TfIdf drops text, target encoders the target code, one-hot the
        // one-hot encoding; blocking both encoders is an error.
        let blocked = job("  blocked_transformers: [TfIdf, CatTargetEncoder, OneHotEncoder]\n");
        let data = blocked.training_dataset("y", None).unwrap();
        assert_eq!(kind(&data, "note"), FeatureKind::Ignored);
        let space = blocked.search_space().unwrap().unwrap();
        assert!(space.params["preprocessing"].contains_key("encode"));
        assert!(space.params["preprocessing"].contains_key("high_card"));
        let both = job("  blocked_transformers: [HashOneHotEncoder, LabelEncoder]\n");
        assert!(both
            .search_space()
            .unwrap_err()
            .to_string()
            .contains("both one-hot and label"));
    }

    #[test]
    fn every_field_is_read() {
        let d = folder();
        let text = r#"$schema: https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json
type: automl
name: job-1
display_name: bank marketing
experiment_name: bank
description: a job
tags: {owner: me}
compute: azureml:cpu-cluster
log_verbosity: debug
task: classification
primary_metric: AUC_weighted
target_column_name: "y"
training_data:
  path: "./table"
  type: mltable
test_data: ./data.csv
n_cross_validations: 5
limits:
  timeout_minutes: 3
  trial_timeout_minutes: 0.5
  max_trials: 7
  max_concurrent_trials: 2
  max_cores_per_trial: -1
  enable_early_termination: true
  exit_score: 0.9
  max_nodes: 4
training:
  allowed_training_algorithms: [LightGBM, XGBoostClassifier, logistic_regression, LinearSVM]
  enable_vote_ensemble: false
  enable_stack_ensemble: true
  enable_model_explainability: true
  enable_onnx_compatible_models: false
  enable_dnn_training: false
featurization:
  mode: custom
  column_name_and_types:
    x: Numeric
    y: Categorical
  transformer_params:
    imputer:
      - fields: ["x"]
        parameters:
          strategy: mean
  blocked_transformers: [WordEmbedding, LabelEncoder]
"#;
        let j = parse(text, d.path()).unwrap();
        assert_eq!(j.task, JobTask::Classification);
        assert_eq!(j.metric, Some(Metric::AucWeighted));
        assert_eq!(j.target, "y");
        assert_eq!(j.training_data.kind, InputKind::MlTable);
        assert_eq!(j.training_data.path, d.path().join("table"));
        assert_eq!(j.test_data.as_ref().unwrap().kind, InputKind::UriFile);
        assert_eq!(j.cross_validations, Some(CrossValidations::Folds(5)));
        assert_eq!(j.time_budget_secs, Some(180.0));
        assert_eq!(j.trial_timeout_secs, Some(30.0));
        assert_eq!(j.max_trials, Some(7));
        assert_eq!(j.max_concurrent, Some(2));
        assert_eq!(j.exit_score, Some(0.9));
        assert_eq!(
            j.learners,
            Some(vec!["gbdt".to_string(), "logistic_regression".into()])
        );
        assert_eq!(j.ensemble, EnsembleKind::Stack);
        assert_eq!(j.experiment_name.as_deref(), Some("bank"));
        assert_eq!(j.featurization.mode, FeaturizationMode::Custom);
        assert_eq!(j.featurization.column_types["x"], ColumnPurpose::Numeric);
        assert_eq!(j.featurization.column_types["y"], ColumnPurpose::Categorical);
        assert_eq!(j.featurization.imputers[0].strategy, ImputeStrategy::Mean);
        assert_eq!(
            j.featurization.blocked_transformers,
            vec!["WordEmbedding", "LabelEncoder"]
        );
        for f in [
            "$schema",
            "name",
            "display_name",
            "description",
            "tags",
            "compute",
            "log_verbosity",
            "limits.max_nodes",
        ] {
            assert!(
                j.ignored.iter().any(|i| i == f),
                "{f} not reported as ignored: {:?}",
                j.ignored
            );
        }
        let notes = j.notes.join("\n");
        for n in [
            "LinearSVM",
            "enable_early_termination",
            "enable_model_explainability",
        ] {
            assert!(notes.contains(n), "no note on {n}: {notes}");
        }
        // The mean imputer becomes the preprocessing's only imputation.
        let space = j.search_space().unwrap().unwrap();
        assert!(space.params["preprocessing"].contains_key("impute"));
        // The training data reads through its MLTable; the task is inferred binary.
        let data = j.training_dataset("y", None).unwrap();
        assert_eq!(data.schema.task, Task::Binary);
        assert_eq!(data.n_rows(), 2);
    }

    #[test]
    fn ensembles_limits_and_defaults() {
        let d = folder();
        let j = parse(MINIMAL, d.path()).unwrap();
        assert_eq!(j.ensemble, EnsembleKind::Greedy);
        assert_eq!((j.metric, j.learners.clone(), j.max_trials), (None, None, None));
        assert!(j.ignored.is_empty() && j.notes.is_empty());
        assert!(j.search_space().unwrap().is_none());
        let none =
            format!("{MINIMAL}training:\n  enable_vote_ensemble: false\n  enable_stack_ensemble: false\n");
        assert_eq!(parse(&none, d.path()).unwrap().ensemble, EnsembleKind::None);
        let auto = format!("{MINIMAL}n_cross_validations: auto\nvalidation_data_size: 0.2\n");
        assert_eq!(
            parse(&auto, d.path()).unwrap().cross_validations,
            Some(CrossValidations::Auto)
        );
        let bad = format!("{MINIMAL}limits:\n  max_trials: 0\n");
        let e = parse(&bad, d.path()).unwrap_err().to_string();
        assert!(e.contains("max_trials") && e.contains("line 8"), "{e}");
        let bad = format!("{MINIMAL}primary_metric: r2_score\n");
        let e = parse(&bad, d.path()).unwrap_err().to_string();
        assert!(
            e.contains("does not apply to classification") && e.contains("line 7"),
            "{e}"
        );
        let reg = "type: automl\ntask: regression\nprimary_metric: normalized_root_mean_squared_error\ntarget_column_name: x\ntraining_data: ./data.csv\n";
        let j = parse(reg, d.path()).unwrap();
        assert_eq!((j.task, j.metric), (JobTask::Regression, Some(Metric::Nrmse)));
        assert_eq!(j.training_data.kind, InputKind::UriFile);
        assert_eq!(
            j.training_dataset("x", None).unwrap().schema.task,
            Task::Regression
        );
    }

    #[test]
    fn blocked_algorithms_drop_a_learner_only_when_all_it_stands_for_are_blocked() {
        let d = folder();
        let text = format!(
            "{MINIMAL}training:\n  blocked_training_algorithms: [XGBoostClassifier, RandomForest, KNN]\n"
        );
        let j = parse(&text, d.path()).unwrap();
        let l = j.learners.unwrap();
        assert!(l.contains(&"gbdt".to_string()), "LightGBM still stands for gbdt");
        assert!(!l.contains(&"random_forest".to_string()) && !l.contains(&"knn".to_string()));
        assert!(j
            .notes
            .iter()
            .any(|n| n.contains("XGBoostClassifier") && n.contains("gbdt")));
        let text = format!("{MINIMAL}training:\n  blocked_training_algorithms: [LightGBM, XGBoostClassifier, GradientBoosting]\n");
        assert!(!parse(&text, d.path())
            .unwrap()
            .learners
            .unwrap()
            .contains(&"gbdt".to_string()));
        let text = format!("{MINIMAL}training:\n  allowed_training_algorithms: [SVM, TabnetClassifier]\n");
        let e = parse(&text, d.path()).unwrap_err().to_string();
        assert!(
            e.contains("has a counterpart here") && e.contains("line 8"),
            "{e}"
        );
        let text = format!("{MINIMAL}training:\n  allowed_training_algorithms: [Prophet9]\n");
        let e = parse(&text, d.path()).unwrap_err().to_string();
        assert!(e.contains("unknown training algorithm 'Prophet9'"), "{e}");
    }

    #[test]
    fn unknown_fields_are_errors_naming_field_and_line() {
        let d = folder();
        let text = format!("{MINIMAL}limits:\n  max_trials: 3\n  max_trails: 4\n");
        let e = parse(&text, d.path()).unwrap_err().to_string();
        assert!(e.contains("max_trails") && e.contains("line 9"), "{e}");
        let text = format!("{MINIMAL}primary_metrc: accuracy\n");
        let e = parse(&text, d.path()).unwrap_err().to_string();
        assert!(e.contains("primary_metrc") && e.contains("line 7"), "{e}");
        let text = format!("{MINIMAL}featurization:\n  mode: custom\n  blocked_transformers: [Word2Vec]\n");
        let e = parse(&text, d.path()).unwrap_err().to_string();
        assert!(e.contains("Word2Vec") && e.contains("featurization"), "{e}");
        let text = format!("{MINIMAL}featurization:\n  transformer_params:\n    imputer:\n      - fields: [x]\n        parameters: {{strategy: mode}}\n");
        let e = parse(&text, d.path()).unwrap_err().to_string();
        assert!(e.contains("strategy 'mode'"), "{e}");
    }

    #[test]
    fn unsupported_tasks_and_inputs_are_named() {
        let d = folder();
        for task in [
            "forecasting",
            "image_classification",
            "image_object_detection",
            "text_ner",
            "text_classification_multilabel",
        ] {
            // Task-specific sections (unknown to us) do not hide the task's own error.
            let text = format!("type: automl\ntask: {task}\nimage_model: {{}}\ntarget_column_name: y\n");
            let e = parse(&text, d.path()).unwrap_err().to_string();
            assert!(
                e.contains(&format!("task '{task}' is not supported yet")) && e.contains("line 2"),
                "{e}"
            );
        }
        let e = parse("type: sweep\ntask: regression\n", d.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("automl sweep"), "{e}");
        let text = MINIMAL.replace("./table", "azureml:bank_train:1");
        let e = parse(&text, d.path()).unwrap_err().to_string();
        assert!(e.contains("cloud asset") && e.contains("line 4"), "{e}");
        let text = MINIMAL.replace("./table", "./missing");
        assert!(parse(&text, d.path())
            .unwrap_err()
            .to_string()
            .contains("not found"));
        let text = format!("{MINIMAL}weight_column_name: w\n");
        assert!(parse(&text, d.path())
            .unwrap_err()
            .to_string()
            .contains("weight_column_name"));
        // A validation set of its own is appended to the training rows and validates every trial.
        let text = format!("{MINIMAL}validation_data: ./data.csv\n");
        let j = parse(&text, d.path()).unwrap();
        assert!(j.notes.is_empty(), "{:?}", j.notes);
        let (data, scheme) = j.datasets("y", None).unwrap();
        assert_eq!((data.n_rows(), scheme), (6, Scheme::Given(2)));
        let folds = format!("{MINIMAL}n_cross_validations: 3\n");
        assert_eq!(
            parse(&folds, d.path()).unwrap().datasets("y", None).unwrap().1,
            Scheme::Folds(3)
        );
        let share = format!("{MINIMAL}validation_data_size: 0.25\n");
        assert_eq!(
            parse(&share, d.path()).unwrap().datasets("y", None).unwrap().1,
            Scheme::Holdout(0.25)
        );
    }

    #[test]
    fn yaml_lines_are_found() {
        let t = "a: 1\nlimits:\n  max_trials: 2\n  - file: x\n\"quoted\": 3\n";
        assert_eq!(yaml_line(t, "max_trials"), ", line 3");
        assert_eq!(yaml_line(t, "file"), ", line 4");
        assert_eq!(yaml_line(t, "quoted"), ", line 5");
        assert_eq!(yaml_line(t, "max"), "");
    }
}
