//! End-to-end: `automl run job.yml` on Azure ML AutoML job files written in the shape of
//! Microsoft's azureml-examples (bank-marketing classification, hardware-performance regression),
//! pointing at the bundled datasets through MLTable folders.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn data(name: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets")
        .join(name)
        .join(file)
}

/// An MLTable folder `dir/name` over `file` (copied in, its commas turned into `delimiter`).
fn mltable(dir: &Path, name: &str, file: &Path, delimiter: char) {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let text = std::fs::read_to_string(file)
        .unwrap()
        .replace(',', &delimiter.to_string());
    std::fs::write(folder.join("data.csv"), text).unwrap();
    std::fs::write(
        folder.join("MLTable"),
        format!(
            "paths:\n  - file: ./data.csv\ntransformations:\n  - read_delimited:\n        delimiter: '{delimiter}'\n        encoding: 'ascii'\n"
        ),
    )
    .unwrap();
}

/// Run `automl run JOB --json --no-store` plus `extra` in `dir`; the JSON summary and stderr.
fn run_job(dir: &Path, job: &str, extra: &[&str]) -> (Value, String) {
    std::fs::write(dir.join("job.yml"), job).unwrap();
    let out = Command::cargo_bin("automl")
        .unwrap()
        .args([
            "run",
            "job.yml",
            "--json",
            "--no-store",
            "--model-out",
            "m.automl",
        ])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "automl run job.yml failed: {stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

#[test]
fn bank_marketing_shaped_classification_job_runs_locally() {
    let d = tempfile::tempdir().unwrap();
    mltable(
        d.path(),
        "training-mltable-folder",
        &data("breast_cancer", "train.csv"),
        ',',
    );
    mltable(
        d.path(),
        "validation-mltable-folder",
        &data("breast_cancer", "test.csv"),
        ',',
    );
    mltable(
        d.path(),
        "test-mltable-folder",
        &data("breast_cancer", "test.csv"),
        ',',
    );
    let job = r#"$schema: https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json
type: automl

experiment_name: dpv2-cli-automl-classifier-experiment
description: A Classification job using breast cancer in the shape of bank marketing

compute: azureml:cpu-cluster

task: classification
log_verbosity: debug
primary_metric: AUC_weighted

target_column_name: "diagnosis"

training_data:
  path: "./training-mltable-folder"
  type: mltable
validation_data:
  path: "./validation-mltable-folder"
  type: mltable
test_data:
  path: "./test-mltable-folder"
  type: mltable

limits:
  timeout_minutes: 5
  max_trials: 4
  max_concurrent_trials: 2
  trial_timeout_minutes: 2
  enable_early_termination: true
  exit_score: 0.92

featurization:
  mode: custom
  transformer_params:
    imputer:
      - fields: ["mean_radius"]
        parameters:
          strategy: most_frequent
  blocked_transformers:
    - WordEmbedding

training:
  enable_model_explainability: true
  allowed_training_algorithms:
    - gradient_boosting
    - logistic_regression
"#;
    let (v, _) = run_job(d.path(), job, &[]);
    assert_eq!(v["task"], "binary");
    assert_eq!(v["metric"], "auc_weighted");
    // exit_score 0.92 is reached by the first trial: no trial starts once it is told, and with
    // max_concurrent_trials 2 that is after trial 1 (max_trials would allow 4).
    assert_eq!(v["trials"], 2);
    let learners: Vec<&str> = v["learners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(learners, ["gbdt", "logistic_regression"]);
    let auc = v["test"]["auc_weighted"].as_f64().unwrap();
    assert!(auc > 0.95, "test AUC_weighted {auc}");
    let ignored = v["job"]["ignored"].to_string();
    for f in ["$schema", "description", "compute", "log_verbosity"] {
        assert!(ignored.contains(f), "{f} not reported as ignored: {ignored}");
    }
    // Trials were validated on the given validation set (the test split's 114 rows).
    assert_eq!(v["validation"], "the given validation set (114 rows)");
    let notes = v["job"]["notes"].to_string();
    assert!(notes.contains("enable_early_termination"), "{notes}");
    assert!(
        !notes.contains("validation_data") && !notes.contains("exit_score"),
        "{notes}"
    );
}

#[test]
fn hardware_performance_shaped_regression_job_runs_locally() {
    let d = tempfile::tempdir().unwrap();
    mltable(
        d.path(),
        "training-mltable-folder",
        &data("diabetes", "train.csv"),
        ';',
    );
    let job = r#"$schema: https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json
type: automl

experiment_name: dpv2-cli-automl-regression-experiment
description: A regression AutoML job in the shape of hardware performance

compute: azureml:cpu-cluster
task: regression
primary_metric: normalized_root_mean_squared_error
log_verbosity: debug

target_column_name: "progression"
n_cross_validations: 5

training_data:
  path: "./training-mltable-folder"
  type: mltable
test_data:
  path: "TEST"
  type: uri_file

limits:
  timeout_minutes: 5
  max_trials: 6
  max_concurrent_trials: 2
  trial_timeout_minutes: 2
  enable_early_termination: true

featurization:
  mode: custom
  transformer_params:
    imputer:
      - fields: ["bmi", "bp"]
        parameters:
          strategy: median
  blocked_transformers:
    - LabelEncoder

training:
  enable_stack_ensemble: false
  enable_vote_ensemble: false
  allowed_training_algorithms:
    - DecisionTree
    - LightGBM
    - ElasticNet
"#
    .replace("TEST", &data("diabetes", "test.csv").display().to_string());
    // A flag given on the command line overrides the job's max_trials.
    let (v, _) = run_job(d.path(), &job, &["--max-trials", "3"]);
    assert_eq!(v["task"], "regression");
    assert_eq!(v["metric"], "nrmse");
    assert_eq!(v["validation"], "5-fold CV");
    assert_eq!(v["trials"], 3);
    assert!(
        v["ensemble"].is_null(),
        "both ensembles disabled: the best trial is the model"
    );
    let learners = v["learners"].to_string();
    assert!(
        learners.contains("decision_tree") && learners.contains("gbdt") && learners.contains("elastic_net")
    );
    let nrmse = v["test"]["nrmse"].as_f64().unwrap();
    assert!(nrmse > 0.0 && nrmse < 0.5, "test nrmse {nrmse}");
    // Validation flags override the job's n_cross_validations.
    let (v3, _) = run_job(d.path(), &job, &["--max-trials", "2", "--cv-folds", "3"]);
    assert_eq!(v3["validation"], "3-fold CV");
    let (vh, _) = run_job(
        d.path(),
        &job,
        &["--max-trials", "2", "--validation-size", "0.25"],
    );
    assert_eq!(vh["validation"], "holdout 25%");
    // The median imputer is the only imputation searched.
    for t in v["leaderboard"].as_array().unwrap() {
        if let Some(imp) = t["preprocessing"].get("impute") {
            assert_eq!(imp, "median");
        }
    }
}

#[test]
fn unsupported_task_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("job.yml"),
        "type: automl\ntask: image_object_detection\ntarget_column_name: label\n",
    )
    .unwrap();
    let out = Command::cargo_bin("automl")
        .unwrap()
        .args(["run", "job.yml", "--no-store"])
        .current_dir(d.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("task 'image_object_detection' is not supported yet"),
        "{stderr}"
    );
}

#[test]
fn exit_score_stops_the_search_at_the_same_trial_on_any_number_of_jobs() {
    let data = automl::Dataset::from_path(&data("iris", "train.csv"), "species", None).unwrap();
    let run = |jobs: usize, exit: Option<f64>| {
        let mut b = automl::AutoML::builder().max_trials(120).jobs(jobs).seed(5);
        if let Some(x) = exit {
            b = b.exit_score(x);
        }
        b.build().unwrap().fit(&data).unwrap()
    };
    let full = run(2, None);
    assert_eq!(full.trials.len(), 120);
    let one = run(1, Some(0.9));
    let two = run(2, Some(0.9));
    assert!(one.trials.len() < 60, "stopped after {} trials", one.trials.len());
    assert_eq!(one.trials.len(), two.trials.len());
    // Trials told before the stop include one at or above the exit score.
    assert!(one.trials.iter().any(|t| t.value.is_some_and(|v| v >= 0.9)));
    let bad = automl::AutoML::builder().exit_score(f64::NAN).build();
    assert!(bad.is_err());
}
