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
    x: Matrix,
    categorical: &[bool],
    y: Y,
    seed: u64,
    on_epoch: &mut dyn FnMut(Epoch) -> bool,
) -> Result<MlpModel> {
    let p = MlpParams::check(params)?;
    let encoder = Encoder::fit(&x, categorical);
    if encoder.width() == 0 {
        return Err(Error::learner(NAME, "no input columns"));
    }
    let xe = encoder.apply(&x);
    let rows = x.rows;
    drop(x);
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
        xe,
        rows,
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
        x: Matrix,
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
        // Inputs: numbers plus the ±1 and one-hot columns of the categories.
        let d = s.inputs;
        let k = s.k.max(2.0);
        let macs = if depth > 0.0 {
            d * width + (depth - 1.0) * width * width + width * k
        } else {
            d * k
        };
        // Activations forward and backward per hidden unit (fused passes; Mish, for regression,
        // costs a little more than SELU).
        let act = width * depth * if s.regression() { 10.0 } else { 6.0 };
        let (train, valid) = (0.8 * s.n, 0.2 * s.n);
        let steps = (train / BATCH as f64).floor().max(1.0);
        // Multiply-adds about 0.1 ns each on one core at width 64 (×3 for forward and backward),
        // fewer per add on wider layers, whose larger matrix products run nearer the core's peak
        // (measured 0.05 ns at width 256: `cargo bench --bench cost_calibration`), and a fixed
        // cost per step (a few dozen tensor operations per layer) and per epoch.
        let mac = 0.1 * (64.0 / width.max(1.0)).sqrt().min(2.0);
        let per_epoch = train * (3.0 * macs * mac + act)
            + valid * (macs * mac + act / 3.0)
            + steps * 4e4 * (depth + 1.0)
            + 2e4 * (depth + 1.0);
        epochs * per_epoch + s.n * d * 20.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::Value;
    use rand::{Rng, SeedableRng};

    /// 600 rows: two informative numbers, a noise number with missing values, a three-level
    /// category that shifts the target; `y = sin(3a) + b² + shift + noise`.
    fn table(seed: u64) -> (Matrix, Vec<bool>, Vec<f64>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let n = 600;
        let mut data = Vec::with_capacity(n * 4);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let (a, b): (f64, f64) = (rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0));
            let noise = if i % 7 == 0 {
                f64::NAN
            } else {
                rng.gen_range(-1.0..1.0)
            };
            let cat = (i % 3) as f64;
            data.extend([a, b, noise, cat]);
            y.push((3.0 * a).sin() + b * b + [0.0, 0.5, -0.5][i % 3] + rng.gen_range(-0.05..0.05));
        }
        let x = Matrix {
            data,
            rows: n,
            cols: 4,
        };
        (x, vec![false, false, false, true], y)
    }

    fn params(epochs: i64) -> Params {
        let mut p = Params::default();
        p.set("epochs", Value::Int(epochs));
        p.set("width", Value::Int(64));
        p.set("depth", Value::Int(2));
        p
    }

    /// [`fit_reporting`] of a regression network with `p` on the rows `x`, `cat`, `y` of a
    /// [`table`].
    fn regress(
        (x, cat, y): &(Matrix, Vec<bool>, Vec<f64>),
        p: &Params,
        seed: u64,
        on_epoch: &mut dyn FnMut(Epoch) -> bool,
    ) -> Result<MlpModel> {
        fit_reporting(p, Task::Regression, x.clone(), cat, Y::Values(y), seed, on_epoch)
    }

    fn r2(pred: &[f64], y: &[f64]) -> f64 {
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let ss: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
        1.0 - pred.iter().zip(y).map(|(p, v)| (p - v).powi(2)).sum::<f64>() / ss
    }

    #[test]
    fn learns_a_nonlinear_regression_and_the_same_seed_gives_the_same_model() {
        let t = table(1);
        let (xt, _, yt) = table(2);
        let fit = |seed| regress(&t, &params(200), seed, &mut |_| true).unwrap();
        let a = fit(7);
        let Prediction::Values(p) = a.predict(&xt).unwrap() else {
            panic!("values")
        };
        let score = r2(&p, &yt);
        assert!(score > 0.9, "held-out R² {score}");
        assert_eq!(a, fit(7), "same seed, same weights");
        assert_ne!(a.weights, fit(8).weights, "another seed, other weights");
        assert_eq!(a.device(), "cpu");
        assert!(a.best_epoch() >= 1 && a.best_epoch() <= 200);
    }

    #[test]
    fn classifies_and_round_trips_through_the_model_file() {
        let (x, cat, y) = table(3);
        let classes: Vec<usize> = y
            .iter()
            .map(|v| usize::from(*v > 0.2) + usize::from(*v > 0.9))
            .collect();
        let m = Mlp
            .fit(
                &params(200),
                Task::Multiclass,
                x.clone(),
                &cat,
                Y::Classes(&classes, 3),
                1,
            )
            .unwrap();
        let bytes = postcard::to_allocvec(&m).unwrap();
        let back: Fitted = postcard::from_bytes(&bytes).unwrap();
        let (p, q) = (m.predict(&x).unwrap(), back.predict(&x).unwrap());
        assert_eq!(p, q, "the model file predicts the same");
        let Prediction::Proba(p) = p else { panic!("proba") };
        assert_eq!(p.cols, 3);
        let mut right = 0;
        for (i, &c) in classes.iter().enumerate() {
            let row = p.row(i);
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            right += usize::from(crate::metrics::argmax(row) == c);
        }
        assert!(right as f64 / 600.0 > 0.85, "training accuracy {right}/600");
        // Schema drift: a column fewer is an error, not a panic.
        let narrow = Matrix {
            data: vec![0.0; 6],
            rows: 2,
            cols: 3,
        };
        let e = m.predict(&narrow).unwrap_err().to_string();
        assert!(e.contains("feature count"), "{e}");
    }

    #[test]
    fn every_epoch_is_reported_and_a_false_answer_stops_training() {
        let t = table(4);
        let mut seen = Vec::new();
        let m = regress(&t, &params(12), 1, &mut |e| {
            seen.push(e);
            true
        })
        .unwrap();
        assert_eq!(
            seen.iter().map(|e| e.epoch).collect::<Vec<_>>(),
            (1..=12).collect::<Vec<_>>()
        );
        assert!(seen.iter().all(|e| e.valid.is_finite() && e.valid > 0.0));
        let best = seen.iter().fold((f64::INFINITY, 0), |b, e| {
            if e.valid <= b.0 {
                (e.valid, e.epoch)
            } else {
                b
            }
        });
        assert_eq!(m.best_epoch(), best.1, "the best held-out epoch is kept");
        let mut calls = 0;
        regress(&t, &params(12), 1, &mut |_| {
            calls += 1;
            calls < 3
        })
        .unwrap();
        assert_eq!(calls, 3, "stopped after the third epoch");
    }

    #[test]
    fn a_fired_cancellation_token_stops_training_with_an_error() {
        let t = table(5);
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let token = crate::cancel::Token::new(Some(flag), None);
        let e = crate::cancel::with(token, || regress(&t, &params(50), 1, &mut |_| true)).unwrap_err();
        assert!(e.to_string().contains("stopped while training"), "{e}");
    }

    #[test]
    fn a_cuda_trial_without_cuda_is_an_error_not_a_cpu_fallback() {
        let t = table(6);
        let r = crate::device::with(crate::device::Device::Cuda(0), || {
            regress(&t, &params(2), 1, &mut |_| true)
        });
        if crate::device::CUDA_BUILT {
            // A CUDA build on a machine with a GPU trains there; without one it must say so.
            if let Ok(m) = r {
                assert_eq!(m.device(), "cuda:0");
            }
        } else {
            let e = r.unwrap_err().to_string();
            assert!(e.contains("cuda:0") && e.contains("without CUDA"), "{e}");
        }
    }

    #[test]
    fn epochs_report_to_a_sweep_whose_policy_stops_hopeless_networks() {
        let t = table(7);
        crate::sweep::testing::assert_halving_stops_mid_training(
            (1e-4, 0.3),
            2,
            3,
            16,
            |rate, seed, report| {
                let mut p = params(16);
                p.set("learning_rate", Value::Float(rate));
                regress(&t, &p, seed, &mut |e| report(e.epoch as i64, e.valid)).map(drop)
            },
        );
    }

    #[test]
    fn past_a_soft_deadline_training_ends_after_one_epoch_with_a_model() {
        let t = table(8);
        // The final refit's deadline has passed: the network keeps what it has instead of failing
        // (a hard deadline, a trial's timeout, is an error: see above).
        let token = crate::cancel::Token::new(None, None).with_soft_deadline(Some(std::time::Instant::now()));
        let mut epochs = 0;
        let m = crate::cancel::with(token, || {
            regress(&t, &params(50), 1, &mut |_| {
                epochs += 1;
                true
            })
        })
        .unwrap();
        assert_eq!((epochs, m.best_epoch()), (1, 1), "one whole epoch");
        // Trees and other learners ignore soft deadlines.
        assert!(crate::cancel::Token::new(None, None)
            .with_soft_deadline(Some(std::time::Instant::now()))
            .reason()
            .is_none());
    }
}
