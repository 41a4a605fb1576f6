//! A tabular neural network (learner `mlp`) after RealMLP-TD-S (Holzmüller, Grinsztajn & Steinwart,
//! "Better by default: strong pre-tuned MLPs and boosted trees on tabular data", 2024): its own
//! input encoding ([`encode`]), a scaled multilayer perceptron in the neural-tangent
//! parametrisation ([`net`]) and the recipe's training loop ([`train`]), on candle tensors.
//!
//! It trains on the CPU, or on the CUDA device of the GPU slot its trial holds
//! ([`crate::device::current`], builds with the `cuda` feature); the model file keeps the weights
//! as plain numbers, so `predict` needs no GPU. Seeded: the same seed gives the same model on the
//! CPU.

pub mod encode;
pub mod net;
pub mod train;

use serde::{Deserialize, Serialize};

use super::checked::Checked;
use super::{Fitted, Learner, Prediction, Shape, Y};
use crate::data::Task;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::param::Params;
use encode::Encoder;
use net::{Activation, Weights};
use train::{Epoch, Settings, Targets};

const NAME: &str = "mlp";

/// Rows per training step (the recipe's 256).
pub const BATCH: usize = 256;

/// RealMLP-TD-S's regression learning rate over its classification one (0.07 / 0.04).
const REGRESSION_LR: f64 = 1.75;

/// The learner `mlp`.
pub struct Mlp;

/// Checked parameters of [`Mlp`].
#[derive(Debug, Clone, PartialEq)]
pub struct MlpParams {
    epochs: usize,
    width: usize,
    depth: usize,
    learning_rate: f64,
    dropout: f64,
    weight_decay: f64,
}

impl MlpParams {
    /// Read and check sampled parameters; absent ones take the space's `init` values.
    pub fn check(p: &Params) -> Result<MlpParams> {
        let c = Checked::new(NAME, p);
        Ok(MlpParams {
            epochs: c.count("epochs", 1, 100_000)?,
            width: c.count("width", 1, 8192)?,
            depth: c.count("depth", 0, 16)?,
            learning_rate: c.real_above("learning_rate", 0.0, 10.0)?,
            dropout: c.real("dropout", 0.0, 0.9)?,
            weight_decay: c.real("weight_decay", 0.0, 1.0)?,
        })
    }

    fn settings(&self, task: Task) -> Settings {
        let regression = task == Task::Regression;
        Settings {
            hidden: vec![self.width; self.depth],
            epochs: self.epochs,
            learning_rate: self.learning_rate * if regression { REGRESSION_LR } else { 1.0 },
            batch: BATCH,
            dropout: self.dropout,
            weight_decay: self.weight_decay,
            label_smoothing: if regression { 0.0 } else { 0.1 },
            activation: if regression {
                Activation::Mish
            } else {
                Activation::Selu
            },
        }
    }
}

/// A fitted network with its input encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpModel {
    encoder: Encoder,
    weights: Weights,
    /// Classes of the task (0 for regression).
    n_classes: usize,
    /// Target mean and standard deviation (regression).
    target: (f64, f64),
    /// The epoch whose weights these are (from 1).
    best_epoch: usize,
    /// The device it was trained on (`cpu`, `cuda:0`, ...).
    device: String,
}

impl MlpModel {
    /// The epoch whose weights the model keeps (from 1).
    pub fn best_epoch(&self) -> usize {
        self.best_epoch
    }

    /// The device it was trained on.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Predict rows of raw input (as given to the fit).
    pub fn predict(&self, x: &Matrix) -> Result<Prediction> {
        if x.cols != self.encoder.raw_columns() {
            return Err(Error::learner(NAME, "feature count differs from training"));
        }
        let xe = self.encoder.apply(x);
        let out = self
            .weights
            .predict(&xe, x.rows)
            .map_err(|e| Error::learner(NAME, e.to_string()))?;
        if self.n_classes == 0 {
            let (mean, sd) = self.target;
            return Ok(Prediction::Values(
                out.iter().map(|&v| v as f64 * sd + mean).collect(),
            ));
        }
        let outputs = self.weights.layers.last().map_or(1, |l| l.outputs).max(1);
        let k = self.n_classes;
        let mut p = Matrix::zeros(x.rows, k);
        for (i, z) in out.chunks(outputs).enumerate() {
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let e: Vec<f64> = z.iter().map(|&v| (v as f64 - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            for (c, v) in e.iter().enumerate().take(k) {
                p.data[i * k + c] = v / sum;
            }
        }
        Ok(Prediction::Proba(p))
    }
}

/// Fit a network, reporting each epoch's held-out score to `on_epoch` (false stops training,
/// keeping the best epoch so far): how a sweep's early-termination policy sees the network learn.
pub fn fit_reporting(
    params: &Params,
    task: Task,
    x: &Matrix,
    categorical: &[bool],
    y: Y,
    seed: u64,
    on_epoch: &mut dyn FnMut(Epoch) -> bool,
) -> Result<MlpModel> {
    let p = MlpParams::check(params)?;
    let encoder = Encoder::fit(x, categorical);
    if encoder.width() == 0 {
        return Err(Error::learner(NAME, "no input columns"));
    }
    let xe = encoder.apply(x);
    let placed = crate::device::current();
    let device = crate::device::candle(placed)?;
    let (targets, n_classes) = match y {
        Y::Classes(c, k) => (Targets::Classes(c, k), k),
        Y::Values(v) => {
            if v.iter().any(|t| !t.is_finite()) {
                return Err(Error::learner(NAME, "the target has non-finite values"));
            }
            (Targets::Values(v), 0)
        }
    };
    let t = train::train(
        &xe,
        x.rows,
        encoder.width(),
        targets,
        &p.settings(task),
        seed,
        &device,
        on_epoch,
    )?;
    Ok(MlpModel {
        encoder,
        weights: t.weights,
        n_classes,
        target: t.target,
        best_epoch: t.best_epoch,
        device: placed.to_string(),
    })
}

impl Learner for Mlp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/mlp.toml")
    }

    fn native_input(&self) -> bool {
        true
    }

    fn gpu(&self) -> bool {
        true
    }

    fn check(&self, params: &Params) -> Result<()> {
        MlpParams::check(params).map(drop)
    }

    fn fit(
        &self,
        params: &Params,
        task: Task,
        x: &Matrix,
        categorical: &[bool],
        y: Y,
        seed: u64,
    ) -> Result<Fitted> {
        let model = fit_reporting(params, task, x, categorical, y, seed, &mut |_| true)?;
        Ok(Fitted::Mlp { model })
    }

    fn cost(&self, params: &Params, s: &Shape) -> f64 {
        let p = MlpParams::check(params).ok();
        let (epochs, width, depth) = p.map_or((256.0, 256.0, 3.0), |p| {
            (p.epochs as f64, p.width as f64, p.depth as f64)
        });
        // Inputs: numbers plus the one-hot columns of the categories (at most MAX_ONE_HOT each).
        let d = s.raw + s.levels.min(encode::MAX_ONE_HOT as f64 * s.raw);
        let k = s.k.max(2.0);
        let macs = if depth > 0.0 {
            d * width + (depth - 1.0) * width * width + width * k
        } else {
            d * k
        };
        // Activations forward and backward per hidden unit: Mish (regression) is a chain of
        // element-wise operations, SELU one.
        let act = width * depth * if s.regression() { 30.0 } else { 6.0 };
        let (train, valid) = (0.8 * s.n, 0.2 * s.n);
        let steps = (train / BATCH as f64).floor().max(1.0);
        // Multiply-adds about 0.1 ns each on one core (×3 for forward and backward), and a fixed
        // cost per step (a few dozen tensor operations per layer) and per epoch.
        let per_epoch = train * (3.0 * macs * 0.1 + act)
            + valid * (macs * 0.1 + act / 3.0)
            + steps * 4e4 * (depth + 1.0)
            + 2e4 * (depth + 1.0);
        epochs * per_epoch + s.n * d * 20.0
    }
}

#[cfg(test)]
mod tests;
