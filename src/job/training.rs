//! What an Azure AutoML job trains: its task ([`JobTask`]), Azure's training algorithms and the
//! learner standing for each here, and the `training` section's allowed / blocked lists turned
//! into the learners to search.

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::error::{Error, Result};

/// A field read and ignored.
type Ignored = Option<IgnoredAny>;

/// The tasks of Azure AutoML that run here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobTask {
    /// Binary or multiclass, inferred from the target's distinct values.
    Classification,
    /// Regression.
    Regression,
}

/// Azure's training algorithms and the learner standing for each here (`None`: no counterpart),
/// by normalised name (lower case, no `_`), with the task it belongs to (`None`: both).
const ALGORITHMS: &[(&str, &str, Option<&str>, Option<JobTask>)] = &[
    ("lightgbm", "LightGBM", Some("gbdt"), None),
    ("gradientboosting", "GradientBoosting", Some("gbdt"), None),
    (
        "xgboostclassifier",
        "XGBoostClassifier",
        Some("gbdt"),
        Some(JobTask::Classification),
    ),
    (
        "xgboostregressor",
        "XGBoostRegressor",
        Some("gbdt"),
        Some(JobTask::Regression),
    ),
    ("randomforest", "RandomForest", Some("random_forest"), None),
    (
        "extremerandomtrees",
        "ExtremeRandomTrees",
        Some("extra_trees"),
        None,
    ),
    ("decisiontree", "DecisionTree", Some("decision_tree"), None),
    ("knn", "KNN", Some("knn"), None),
    (
        "logisticregression",
        "LogisticRegression",
        Some("logistic_regression"),
        Some(JobTask::Classification),
    ),
    (
        "gaussiannaivebayes",
        "GaussianNaiveBayes",
        Some("gaussian_nb"),
        Some(JobTask::Classification),
    ),
    (
        "multinomialnaivebayes",
        "MultinomialNaiveBayes",
        Some("gaussian_nb"),
        Some(JobTask::Classification),
    ),
    (
        "bernoullinaivebayes",
        "BernoulliNaiveBayes",
        Some("gaussian_nb"),
        Some(JobTask::Classification),
    ),
    (
        "elasticnet",
        "ElasticNet",
        Some("elastic_net"),
        Some(JobTask::Regression),
    ),
    ("lassolars", "LassoLars", Some("lasso"), Some(JobTask::Regression)),
    ("sgd", "SGD", None, None),
    ("linearsvm", "LinearSVM", None, Some(JobTask::Classification)),
    ("svm", "SVM", None, Some(JobTask::Classification)),
    (
        "tabnetclassifier",
        "TabnetClassifier",
        None,
        Some(JobTask::Classification),
    ),
    (
        "tabnetregressor",
        "TabnetRegressor",
        None,
        Some(JobTask::Regression),
    ),
    (
        "averagedperceptronclassifier",
        "AveragedPerceptronClassifier",
        None,
        Some(JobTask::Classification),
    ),
    (
        "onlinegradientdescentregressor",
        "OnlineGradientDescentRegressor",
        None,
        Some(JobTask::Regression),
    ),
    (
        "fastlinearregressor",
        "FastLinearRegressor",
        None,
        Some(JobTask::Regression),
    ),
];

pub(super) fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '-', ' '], "")
}

/// The learner for an Azure algorithm name (or one of ours): `Ok(Some)` mapped, `Ok(None)` known
/// without a counterpart here; an unknown name is an error.
fn learner_for(name: &str) -> Result<Option<&'static str>> {
    if let Some(l) = crate::learners::names().into_iter().find(|l| *l == name) {
        return Ok(Some(l));
    }
    let n = normalise(name);
    ALGORITHMS.iter().find(|a| a.0 == n).map(|a| a.2).ok_or_else(|| {
        Error::Config(format!(
            "unknown training algorithm '{name}' (Azure's: {}; or one of ours: {})",
            ALGORITHMS.iter().map(|a| a.1).collect::<Vec<_>>().join(", "),
            crate::learners::names().join(", ")
        ))
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TrainingText {
    #[serde(default)]
    pub(super) allowed_training_algorithms: Option<Vec<String>>,
    #[serde(default)]
    pub(super) blocked_training_algorithms: Option<Vec<String>>,
    #[serde(default)]
    pub(super) enable_vote_ensemble: Option<bool>,
    #[serde(default)]
    pub(super) enable_stack_ensemble: Option<bool>,
    #[serde(default)]
    pub(super) enable_model_explainability: Option<bool>,
    #[serde(default)]
    pub(super) enable_onnx_compatible_models: Option<bool>,
    #[serde(default)]
    pub(super) enable_dnn_training: Option<bool>,
    #[serde(default)]
    pub(super) stack_ensemble_settings: Ignored,
    #[serde(default)]
    pub(super) ensemble_model_download_timeout_minutes: Ignored,
    #[serde(default)]
    pub(super) training_mode: Ignored,
}

pub(super) fn training_learners(
    t: &TrainingText,
    task: JobTask,
    notes: &mut Vec<String>,
) -> Result<Option<Vec<String>>> {
    let fits = |a: &(&str, &str, Option<&str>, Option<JobTask>)| a.3.is_none_or(|k| k == task);
    if let Some(allowed) = &t.allowed_training_algorithms {
        let mut out: Vec<String> = Vec::new();
        let mut skipped = Vec::new();
        for name in allowed {
            match learner_for(name)? {
                Some(l) => {
                    if !out.iter().any(|o| o == l) {
                        out.push(l.to_string());
                    }
                }
                None => skipped.push(name.clone()),
            }
        }
        if !skipped.is_empty() {
            notes.push(format!(
                "allowed_training_algorithms: no counterpart here for {}, skipped",
                skipped.join(", ")
            ));
        }
        if out.is_empty() {
            return Err(Error::Config(format!(
                "allowed_training_algorithms: none of {} has a counterpart here",
                allowed.join(", ")
            )));
        }
        if t.blocked_training_algorithms
            .as_ref()
            .is_some_and(|b| !b.is_empty())
        {
            return Err(Error::Config(
                "give allowed_training_algorithms or blocked_training_algorithms, not both".into(),
            ));
        }
        return Ok(Some(out));
    }
    let Some(blocked) = &t.blocked_training_algorithms else {
        return Ok(None);
    };
    let mut blocked_norm = Vec::new();
    let mut ours = Vec::new();
    for name in blocked {
        // Checks the name; our own learner names block that learner directly.
        if learner_for(name)?.is_some() && crate::learners::names().contains(&name.as_str()) {
            ours.push(name.clone());
        }
        blocked_norm.push(normalise(name));
    }
    // A learner is dropped when every Azure algorithm it stands for (for this task) is blocked.
    let mut keep = Vec::new();
    for l in crate::learners::names() {
        if !crate::learners::by_default(l) {
            continue;
        }
        let stands_for: Vec<&str> = ALGORITHMS
            .iter()
            .filter(|a| a.2 == Some(l) && fits(a) && a.0 != "gaussiannaivebayes")
            .map(|a| a.0)
            .collect();
        let all_blocked =
            !stands_for.is_empty() && stands_for.iter().all(|a| blocked_norm.iter().any(|b| b == a));
        if all_blocked || ours.iter().any(|o| o == l) {
            continue;
        }
        let partly: Vec<&str> = ALGORITHMS
            .iter()
            .filter(|a| a.2 == Some(l) && fits(a) && blocked_norm.iter().any(|b| b == a.0))
            .map(|a| a.1)
            .collect();
        if !partly.is_empty() {
            notes.push(format!(
                "blocked_training_algorithms: {} blocked, but {l} also stands for unblocked algorithms and is kept",
                partly.join(", ")
            ));
        }
        keep.push(l.to_string());
    }
    Ok(Some(keep))
}
