//! A fitted `gbdt` model: what it predicts, its predictions and importances, and its model-file
//! form.

use std::fmt;

use hessboost::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::learners::{Prediction, Y};
use crate::matrix::Matrix;

use super::data::{to_f32, GbdtData};
use super::{err, Fit, GbdtParams, RegressionLoss, Round};

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Kind {
    /// Probability of class 1 of 2.
    Binary,
    /// Probabilities of `k` classes.
    Multiclass(usize),
    /// Real values under a loss.
    Regression(RegressionLoss),
}

impl Kind {
    /// The model kind for targets `y` with regression loss `loss`.
    pub fn of(y: &Y, loss: RegressionLoss) -> Kind {
        match y {
            Y::Classes(_, k) if *k <= 2 => Kind::Binary,
            Y::Classes(_, k) => Kind::Multiclass(*k),
            Y::Values(_) => Kind::Regression(loss),
        }
    }
}

/// A fitted boosted model.
#[derive(Clone, Deserialize)]
#[serde(try_from = "Stored")]
pub struct GbdtModel {
    pub(super) model: BoostedModel,
    pub(super) kind: Kind,
    /// Regression targets are boosted standardised, `(y - shift) / scale`, so large values keep
    /// their precision in hessboost's `f32` labels and leaves; predictions are mapped back.
    pub(super) shift: f64,
    pub(super) scale: f64,
}

/// The model-file form: hessboost's own compressed, checksummed binary encoding.
#[derive(Serialize, Deserialize)]
struct Stored {
    kind: Kind,
    shift: f64,
    scale: f64,
    bytes: Vec<u8>,
}

impl Serialize for GbdtModel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        // hessboost's checksummed binary encoding; its failure is an error of the model file.
        let bytes = self
            .model
            .encode(ModelFormat::Binary)
            .map_err(|e| serde::ser::Error::custom(format!("gbdt model: {e}")))?;
        Stored {
            kind: self.kind,
            shift: self.shift,
            scale: self.scale,
            bytes,
        }
        .serialize(serializer)
    }
}

impl TryFrom<Stored> for GbdtModel {
    type Error = String;
    fn try_from(s: Stored) -> std::result::Result<GbdtModel, String> {
        let model =
            BoostedModel::decode(&s.bytes, ModelFormat::Binary).map_err(|e| format!("gbdt model: {e}"))?;
        if !(s.shift.is_finite() && s.scale.is_finite() && s.scale > 0.0) {
            return Err("gbdt model: bad target scaling".into());
        }
        Ok(GbdtModel {
            model,
            kind: s.kind,
            shift: s.shift,
            scale: s.scale,
        })
    }
}

impl fmt::Debug for GbdtModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "GbdtModel({:?}, {} rounds, {} features)",
            self.kind,
            self.rounds(),
            self.model.n_features()
        )
    }
}

/// Which importance to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// Total loss reduction brought by the feature's splits.
    Gain,
    /// Number of splits on the feature.
    Splits,
}

impl GbdtModel {
    /// Boosting rounds in the model.
    pub fn rounds(&self) -> usize {
        self.model.num_boost_rounds()
    }

    /// Add up to `params.n_estimators` rounds to this model (same data layout and task). The
    /// result equals training all rounds in one go with the same parameters and seed.
    pub fn continue_training(
        &self,
        params: &GbdtParams,
        fit: Fit,
        seed: u64,
        on_round: &mut (dyn FnMut(Round) -> bool + Send),
    ) -> Result<GbdtModel> {
        super::train_from(params, fit, seed, Some(self), on_round)
    }

    /// Predict a dense matrix (same columns as in training).
    pub fn predict(&self, x: &Matrix) -> Result<Prediction> {
        if x.cols != self.model.n_features() {
            return Err(err(format!(
                "{} feature columns, the model was trained on {}",
                x.cols,
                self.model.n_features()
            )));
        }
        let p = self
            .model
            .predict_rows(&to_f32(&x.data), Iterations::Best)
            .map_err(err)?;
        Ok(self.shape(p.as_slice(), x.rows))
    }

    /// Predict the rows of `data` (no conversion: reads its `f32` values).
    pub fn predict_data(&self, data: &GbdtData) -> Result<Prediction> {
        let p = self.model.predict(&data.dm, Iterations::Best).map_err(err)?;
        Ok(self.shape(p.as_slice(), data.n_rows()))
    }

    fn shape(&self, p: &[f32], rows: usize) -> Prediction {
        match self.kind {
            Kind::Binary => {
                let mut out = Matrix::zeros(rows, 2);
                for (i, &v) in p.iter().take(rows).enumerate() {
                    let v = f64::from(v).clamp(0.0, 1.0);
                    out.data[2 * i] = 1.0 - v;
                    out.data[2 * i + 1] = v;
                }
                Prediction::Proba(out)
            }
            Kind::Multiclass(k) => {
                // f32 softmax rows sum to 1 only within ~1e-7: renormalise in f64.
                let mut data: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
                for row in data.chunks_mut(k.max(1)) {
                    let z: f64 = row.iter().sum();
                    if z > 0.0 {
                        row.iter_mut().for_each(|v| *v /= z);
                    }
                }
                Prediction::Proba(Matrix { data, rows, cols: k })
            }
            Kind::Regression(_) => Prediction::Values(
                p.iter()
                    .map(|&v| f64::from(v) * self.scale + self.shift)
                    .collect(),
            ),
        }
    }

    /// Importance per feature column (0 for columns never split on).
    pub fn importance(&self, kind: Importance) -> Vec<f64> {
        let t = match kind {
            Importance::Gain => ImportanceType::TotalGain,
            Importance::Splits => ImportanceType::Weight,
        };
        let mut out = vec![0.0; self.model.n_features()];
        for (j, v) in self.model.feature_importance(t) {
            if let Some(o) = out.get_mut(j) {
                *o = v;
            }
        }
        out
    }
}
