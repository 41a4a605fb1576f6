//! Fitted pipelines (preprocessing + learner) and the versioned model file they are saved in
//! (its bytes on disk: `model/file.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::{Features, Schema, Table, Target};
use crate::ensemble::stack::Stacker;
use crate::error::{Error, Result};
use crate::learners::{self, Fitted, Prediction, Y};
use crate::metrics::argmax;
use crate::param::Params;
use crate::prep::{FittedPrep, PrepConfig};

mod file;
pub use file::{check_writable, write_atomic, write_atomic_with};

/// What one trial tries: preprocessing parameters, a learner and its hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialConfig {
    /// Learner name.
    pub learner: String,
    /// Preprocessing parameters.
    pub prep: Params,
    /// Learner hyperparameters.
    pub params: Params,
}

impl TrialConfig {
    /// The preprocessing recipe this trial runs: the raw-input one for native learners (gbdt),
    /// else the one its parameters describe.
    pub fn recipe(&self) -> Result<PrepConfig> {
        if learners::native_input(&self.learner) {
            Ok(PrepConfig::native())
        } else {
            PrepConfig::from_params(&self.prep)
        }
    }

    /// The preprocessing parameters as reported: `{encode: native}` for native learners.
    pub fn prep_params(&self) -> Params {
        if learners::native_input(&self.learner) {
            let mut p = Params::default();
            p.set("encode", crate::param::Value::Str("native".into()));
            p
        } else {
            self.prep.clone()
        }
    }

    /// Short label of the preprocessing for leaderboards (`native` or e.g. `median+standard+onehot`).
    pub fn prep_label(&self) -> String {
        self.recipe().map(|p| p.label()).unwrap_or_default()
    }
}

/// Preprocessing and learner fitted together; what `predict` runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pipeline {
    /// Fitted preprocessing.
    pub prep: FittedPrep,
    /// Fitted learner.
    pub learner: Fitted,
}

/// Targets of the given rows, in the form learners take.
pub fn subset_target(target: &Target, rows: Option<&[usize]>) -> Target {
    rows.map_or_else(|| target.clone(), |r| target.select(r))
}

impl Pipeline {
    /// Fit `config` on the given rows of `x` (all when `None`).
    pub fn fit(
        schema: &Schema,
        x: &Features,
        target: &Target,
        config: &TrialConfig,
        rows: Option<&[usize]>,
        seed: u64,
    ) -> Result<Pipeline> {
        let encoded = config.recipe()?.fit_encoded(x, target, rows);
        let t = subset_target(target, rows);
        let y = Y::of(&t, schema.classes.len());
        let learner = learners::fit_encoded(
            &config.learner,
            &config.params,
            schema.task,
            &encoded,
            &encoded.prep().categorical(),
            y,
            seed,
        )?;
        Ok(Pipeline {
            prep: encoded.into_prep(),
            learner,
        })
    }

    /// Predict the given rows of `x` (all when `None`); errors on non-finite output.
    pub fn predict(&self, x: &Features, rows: Option<&[usize]>) -> Result<Prediction> {
        let m = self.prep.transform(x, rows)?;
        self.learner.predict(&m)?.checked("pipeline")
    }
}

/// Name of the model file format.
pub const FORMAT: &str = "automl-model";
/// Current model file format version; files with a newer version are refused. Version 2 added
/// weighted ensembles, version 3 stacked ones and members averaged over their fold models,
/// version 4 date and text features and level codes of high-cardinality categories, version 5
/// calibrated probabilities, version 6 neural networks (`mlp`), version 7 nearest neighbours
/// keeping their rows in f32; each file is written with the lowest version that holds it, so
/// older automl reads what it can predict with.
pub const FORMAT_VERSION: u32 = 7;
/// The version written for models holding nearest neighbours with f32 rows.
pub const FORMAT_VERSION_NEIGHBOURS: u32 = 7;
/// The version written for models holding a neural network.
pub const FORMAT_VERSION_MLP: u32 = 6;
/// The version written for models with calibrated probabilities.
pub const FORMAT_VERSION_CALIBRATED: u32 = 5;
/// The version written for models using date, text or level-code preprocessing steps.
pub const FORMAT_VERSION_PREP: u32 = 4;
/// The version written for stacks and bagged members.
pub const FORMAT_VERSION_STACK: u32 = 3;
/// The version written for single-pipeline models.
pub const FORMAT_VERSION_SINGLE: u32 = 1;
/// The version written for weighted ensembles.
pub const FORMAT_VERSION_BLEND: u32 = 2;
/// First bytes of every model file.
pub const MAGIC: &[u8; 8] = b"AUTOMLM\n";
/// Marks the last 40 bytes of a sealed model file: these 8 bytes, then the SHA-256 of everything
/// before them.
pub const SEAL: &[u8; 8] = b"AMLSHA2\n";

/// Everything about a saved model except the fitted pipeline: readable without loading it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] at save time.
    pub format_version: u32,
    /// Version of automl that wrote the file.
    pub automl_version: String,
    /// Input schema, task, target and classes.
    pub schema: Schema,
    /// Primary metric name.
    pub metric: String,
    /// Validation scheme used to choose the model.
    pub validation: String,
    /// Validation score of the chosen configuration (mean over folds).
    pub cv_score: f64,
    /// Standard deviation over folds.
    pub cv_std: f64,
    /// Mean validation value of every reported metric.
    pub metrics: BTreeMap<String, f64>,
    /// Chosen configuration.
    pub config: TrialConfig,
    /// Seed of the run.
    pub seed: u64,
    /// The members of an ensemble model (empty for a single pipeline): `config` above is then
    /// the first (heaviest) member's, and `cv_score` the ensemble's validation score.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ensemble: Vec<EnsembleMember>,
    /// The meta-model of a stacked ensemble (format version 3): its members are `ensemble`, in
    /// order, and their `weight` is their share of the meta-model's weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacker: Option<Stacker>,
    /// Calibration of an ensemble's probabilities, applied after the body predicts (format
    /// version 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::ensemble::calibrate::Calibration>,
    /// Whether the file ends with a checksum of its whole content ([`SEAL`]); every file this
    /// automl writes does, and a sealed file whose checksum does not match is refused.
    #[serde(default)]
    pub sealed: bool,
}

/// One member of an ensemble model, as the header describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleMember {
    /// The trial it comes from.
    pub trial: usize,
    /// Its weight (weights sum to 1; in a stack, its share of the meta-model's weight).
    pub weight: f64,
    /// Its configuration.
    pub config: TrialConfig,
    /// Its own validation score (mean over folds).
    pub cv_score: f64,
    /// How many fitted pipelines it has in the body: its cross-validation fold models, averaged
    /// (format version 3), or 1 when refitted on all rows.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub bag: usize,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

/// What a model file predicts with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // one per model file: boxing would buy nothing
pub enum Body {
    /// One fitted pipeline.
    Single(Pipeline),
    /// Fitted pipelines averaged with weights (probabilities or values).
    Ensemble(Vec<(f64, Pipeline)>),
    /// Members combined by a linear meta-model; each member is one pipeline or the average of its
    /// fold models.
    Stack(Vec<Vec<Pipeline>>, Stacker),
}

impl Body {
    /// Predict the given rows of `x` (all when `None`).
    pub fn predict(&self, x: &Features, rows: Option<&[usize]>) -> Result<Prediction> {
        match self {
            Body::Single(p) => p.predict(x, rows),
            Body::Ensemble(members) => {
                let preds = members
                    .iter()
                    .map(|(w, p)| p.predict(x, rows).map(|pred| (*w, pred)))
                    .collect::<Result<Vec<_>>>()?;
                crate::ensemble::blend(&preds)
            }
            Body::Stack(members, meta) => {
                let preds = members
                    .iter()
                    .map(|bag| {
                        let preds = bag
                            .iter()
                            .map(|p| p.predict(x, rows).map(|pred| (1.0, pred)))
                            .collect::<Result<Vec<_>>>()?;
                        crate::ensemble::blend(&preds)
                    })
                    .collect::<Result<Vec<_>>>()?;
                meta.predict(&preds)
            }
        }
    }

    /// The lowest file format version that holds this body with these `members`.
    pub fn format_version(&self, members: &[EnsembleMember]) -> u32 {
        if self
            .pipelines()
            .any(|p| matches!(p.learner, crate::learners::Fitted::Neighbours { .. }))
        {
            return FORMAT_VERSION_NEIGHBOURS;
        }
        if self
            .pipelines()
            .any(|p| matches!(p.learner, crate::learners::Fitted::Mlp { .. }))
        {
            return FORMAT_VERSION_MLP;
        }
        if self.pipelines().any(|p| p.prep.needs_v4()) {
            return FORMAT_VERSION_PREP;
        }
        if members.iter().any(|m| m.bag != 1) {
            return FORMAT_VERSION_STACK;
        }
        match self {
            Body::Single(_) => FORMAT_VERSION_SINGLE,
            Body::Ensemble(_) => FORMAT_VERSION_BLEND,
            Body::Stack(..) => FORMAT_VERSION_STACK,
        }
    }

    /// The fitted pipelines.
    pub fn pipelines(&self) -> impl Iterator<Item = &Pipeline> {
        let one = match self {
            Body::Single(p) => Some(p),
            _ => None,
        };
        let blend: &[(f64, Pipeline)] = match self {
            Body::Ensemble(m) => m,
            _ => &[],
        };
        let stacked: &[Vec<Pipeline>] = match self {
            Body::Stack(m, _) => m,
            _ => &[],
        };
        one.into_iter()
            .chain(blend.iter().map(|(_, p)| p))
            .chain(stacked.iter().flatten())
    }
}

/// A saved model: the pipeline plus everything needed to use and audit it.
///
/// On disk: [`MAGIC`], the header length (u64, little endian), the [`ModelInfo`] as JSON, then the
/// fitted body in postcard's compact binary form (floats stored bit-exact): one [`Pipeline`], or
/// for an ensemble (a header with `ensemble` members, format version 2) `(weight, Pipeline)` pairs,
/// or for a stack (a header with a `stacker` too, format version 3) the members' pipelines; last
/// [`SEAL`] and the SHA-256 of every byte before it.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// Metadata.
    pub info: ModelInfo,
    /// The fitted pipeline(s).
    pub body: Body,
}

impl std::ops::Deref for ModelFile {
    type Target = ModelInfo;
    fn deref(&self) -> &ModelInfo {
        &self.info
    }
}

impl ModelFile {
    /// Predict a table read from a file; `notes` collects non-fatal remarks (ignored columns...).
    pub fn predict_table(&self, table: &Table, notes: &mut Vec<String>) -> Result<Prediction> {
        let x = self.schema.features_from(table, notes)?;
        let mut unseen = Vec::new();
        for (f, col) in self.schema.used().zip(&x.columns) {
            if let crate::data::FeatureColumn::Categorical { levels, .. } = col {
                let n = levels.iter().filter(|l| !self.known_level(&f.name, l)).count();
                if n > 0 {
                    unseen.push(format!("{} ({n})", f.name));
                }
            }
        }
        if !unseen.is_empty() {
            notes.push(format!(
                "categories not seen in training, encoded as unknown: {}",
                unseen.join(", ")
            ));
        }
        let mut pred =
            crate::guard::guarded(|| self.body.predict(&x, None)).map_err(|p| Error::Learner {
                learner: self.config.learner.clone(),
                message: format!("the saved model is inconsistent (damaged file?): {p}"),
            })??;
        if let Some(c) = &self.calibration {
            c.apply(&mut pred);
        }
        Ok(pred)
    }

    /// Predict a labelled table and return `(truth, predictions)` for the rows whose target is present.
    pub fn predict_labelled(&self, table: &Table, notes: &mut Vec<String>) -> Result<(Target, Prediction)> {
        let schema = &self.schema;
        let col = table
            .column(&schema.target)
            .ok_or_else(|| Error::Data(format!("no target column '{}' to score against", schema.target)))?;
        let rows: Vec<usize> = (0..table.n_rows).filter(|&i| col.label(i).is_some()).collect();
        if rows.len() < table.n_rows {
            notes.push(format!(
                "{} row(s) without a target are not scored",
                table.n_rows - rows.len()
            ));
        }
        let truth = if schema.task.is_classification() {
            let mut y = Vec::with_capacity(rows.len());
            for &i in &rows {
                let l = col.label(i).unwrap_or_default();
                let c = schema
                    .classes
                    .iter()
                    .position(|c| *c == l)
                    .ok_or_else(|| Error::Data(format!("label '{l}' was not a class in training")))?;
                y.push(c);
            }
            Target::Classes(y)
        } else {
            let mut y = Vec::with_capacity(rows.len());
            for &i in &rows {
                let l = col.label(i).unwrap_or_default();
                let v: f64 = l
                    .parse()
                    .map_err(|_| Error::Data(format!("target value '{l}' is not a number")))?;
                y.push(v);
            }
            Target::Values(y)
        };
        let pred = match self.predict_table(table, notes)? {
            Prediction::Proba(m) => Prediction::Proba(m.select_rows(&rows)),
            Prediction::Values(v) => Prediction::Values(rows.iter().map(|&i| v[i]).collect()),
        };
        Ok((truth, pred))
    }

    fn known_level(&self, column: &str, level: &str) -> bool {
        self.body
            .pipelines()
            .any(|p| p.prep.knows(&self.schema, column, level))
    }
}

/// Quote a CSV field when needed.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Render predictions as CSV: `prediction`, then one probability column per class named after it.
/// Numbers use Rust's shortest round-trip form, so the text is a function of the values alone.
pub fn predictions_csv(schema: &Schema, pred: &Prediction) -> String {
    let mut out = String::new();
    match pred {
        Prediction::Proba(p) => {
            let mut header = vec!["prediction".to_string()];
            header.extend(schema.classes.iter().map(|c| csv_field(c)));
            out.push_str(&header.join(","));
            out.push('\n');
            for i in 0..p.rows {
                let row = p.row(i);
                let label = schema.classes.get(argmax(row)).map_or("", String::as_str);
                out.push_str(&csv_field(label));
                for v in row {
                    out.push(',');
                    out.push_str(&format!("{v:?}"));
                }
                out.push('\n');
            }
        }
        Prediction::Values(v) => {
            out.push_str("prediction\n");
            for x in v {
                out.push_str(&format!("{x:?}"));
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AutoML;
    use std::path::Path;

    pub(super) fn penguins_model() -> (ModelFile, Table) {
        penguins_search(10, &["random_forest", "logistic_regression"])
    }

    /// The best model of `trials` trials of `learners` on penguins, and its test table.
    fn penguins_search(trials: usize, learners: &[&str]) -> (ModelFile, Table) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/penguins");
        let data = crate::Dataset::from_path(&dir.join("train.csv"), "species", None).unwrap();
        let run = AutoML::builder()
            .max_trials(trials)
            .jobs(1)
            .seed(3)
            .learners(learners.iter().copied())
            .build()
            .unwrap()
            .fit(&data)
            .unwrap();
        (run.best, Table::read(&dir.join("test.csv")).unwrap())
    }

    #[test]
    fn saved_model_round_trips_and_predicts_identically() {
        let (model, test) = penguins_model();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.automl");
        model.save(&path).unwrap();
        // Streamed into the file byte for byte as encoded in memory, in one exact allocation.
        let bytes = model.to_bytes().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert_eq!(bytes.len(), bytes.capacity());
        let back = ModelFile::load(&path).unwrap();
        assert_eq!(back.config, model.config);
        let mut reloaded = model.clone();
        reloaded.save_and_reload(&dir.path().join("r.automl")).unwrap();
        assert_eq!(
            reloaded.predict_table(&test, &mut Vec::new()).unwrap(),
            back.predict_table(&test, &mut Vec::new()).unwrap()
        );
        assert_eq!(ModelFile::read_info(&path).unwrap().cv_score, model.cv_score);
        let a = model.predict_table(&test, &mut Vec::new()).unwrap();
        let b = back.predict_table(&test, &mut Vec::new()).unwrap();
        assert_eq!(a, b);
        let (truth, pred) = back.predict_labelled(&test, &mut Vec::new()).unwrap();
        let acc = crate::Metric::Accuracy.score(&truth, &pred).unwrap();
        assert!(acc > 0.9, "penguins test accuracy {acc}");
    }

    #[test]
    fn nearest_neighbour_models_are_format_7() {
        let (model, test) = penguins_search(2, &["knn"]);
        assert_eq!(model.format_version, FORMAT_VERSION_NEIGHBOURS);
        let back = ModelFile::from_bytes(&model.to_bytes().unwrap(), Path::new("m")).unwrap();
        assert_eq!(back.format_version, FORMAT_VERSION_NEIGHBOURS);
        let (truth, pred) = back.predict_labelled(&test, &mut Vec::new()).unwrap();
        let acc = crate::Metric::Accuracy.score(&truth, &pred).unwrap();
        assert!(acc > 0.9, "penguins knn test accuracy {acc}");
    }
}
