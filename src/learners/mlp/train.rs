//! Training, after RealMLP-TD-S (Holzmüller et al. 2024): Adam with β = (0.9, 0.95) and ε = 1e-8,
//! learning-rate factors per parameter (×6 for the scaling layer, ×0.1 for biases), the coslog4
//! schedule `0.5 · (1 − cos(2π · log2(1 + 15t)))` over the run's steps, shuffled batches of 256
//! (at most the training rows; a last partial batch is dropped), label smoothing 0.1 for classes
//! and standardised targets for regression. A random fifth of the rows is held out: after every
//! epoch the network is scored there (classification error, ties going to the later epoch; RMSE
//! for regression) and the best epoch's weights are kept. The trial's cancellation token is
//! polled between batches; past its soft deadline (the final refit's end of budget) training
//! ends there, after at least one epoch, keeping the best weights so far.

use candle_core::{DType, Device, Tensor, Var};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::net::{Activation, Net, Weights};
use crate::error::{Error, Result};

/// What the network learns.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    /// Class index per row, and the number of classes.
    Classes(&'a [usize], usize),
    /// Real values.
    Values(&'a [f64]),
}

/// Training settings (checked by the learner).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Passes over the training rows.
    pub epochs: usize,
    /// Base learning rate.
    pub learning_rate: f64,
    /// Rows per step.
    pub batch: usize,
    /// Dropout rate after each hidden layer.
    pub dropout: f64,
    /// Decoupled weight decay (AdamW), on weights only.
    pub weight_decay: f64,
    /// Label smoothing (classification).
    pub label_smoothing: f64,
    /// Activation between layers.
    pub activation: Activation,
}

/// One epoch's validation result, as reported to the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epoch {
    /// Epochs done (from 1).
    pub epoch: usize,
    /// The held-out score that picks the best epoch (lower is better): classification error,
    /// or RMSE in the target's units.
    pub valid: f64,
}

/// A trained network.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The best epoch's weights.
    pub weights: Weights,
    /// Which epoch that was (from 1).
    pub best_epoch: usize,
    /// Epochs run (fewer than asked when the caller stopped early).
    pub epochs_run: usize,
    /// Target mean and standard deviation (regression; 0 and 1 for classes).
    pub target: (f64, f64),
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.95;
const EPS: f64 = 1e-8;
const SCALE_LR: f64 = 6.0;
const BIAS_LR: f64 = 0.1;
const VALID_FRACTION: f64 = 0.2;

/// The coslog4 learning-rate factor at progress `t` in [0, 1].
pub fn coslog4(t: f64) -> f64 {
    0.5 * (1.0 - (std::f64::consts::TAU * (1.0 + 15.0 * t).log2()).cos())
}

fn err(e: candle_core::Error) -> Error {
    Error::learner("mlp", e.to_string())
}

/// Adam's moments for every variable.
struct Adam {
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: i32,
}

impl Adam {
    fn new(vars: &[(&Var, f64)]) -> candle_core::Result<Adam> {
        let zeros = |v: &Var| v.as_tensor().zeros_like();
        Ok(Adam {
            m: vars
                .iter()
                .map(|(v, _)| zeros(v))
                .collect::<candle_core::Result<_>>()?,
            v: vars
                .iter()
                .map(|(v, _)| zeros(v))
                .collect::<candle_core::Result<_>>()?,
            step: 0,
        })
    }

    fn update(
        &mut self,
        vars: &[(&Var, f64)],
        grads: &candle_core::backprop::GradStore,
        lr: f64,
        weight_decay: f64,
    ) -> candle_core::Result<()> {
        self.step += 1;
        let c1 = 1.0 - BETA1.powi(self.step);
        let c2 = 1.0 - BETA2.powi(self.step);
        for (i, (var, factor)) in vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            // Detached: the moments must not carry every earlier step's graph along.
            let g = g.detach();
            let m = ((&self.m[i] * BETA1)? + (&g * (1.0 - BETA1))?)?.detach();
            let v = ((&self.v[i] * BETA2)? + (g.sqr()? * (1.0 - BETA2))?)?.detach();
            let step_lr = lr * factor;
            let update = ((&m / c1)? / ((&v / c2)?.sqrt()? + EPS)?)?;
            let p = var.as_detached_tensor();
            // Weight decay on weight matrices only (biases and the scale are vectors).
            let decayed = if weight_decay > 0.0 && p.rank() == 2 {
                (&p * (1.0 - step_lr * weight_decay))?
            } else {
                p
            };
            var.set(&(decayed - (update * step_lr)?)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(())
    }
}

/// Train on `x` (`rows × inputs`, row-major, already encoded; moved onto `device`) and `y` on `device`. `on_epoch`
/// sees each epoch's validation result; returning false stops training (the best epoch so far is
/// kept).
#[allow(clippy::too_many_arguments)]
pub fn train(
    x: Vec<f32>,
    rows: usize,
    inputs: usize,
    y: Targets,
    s: &Settings,
    seed: u64,
    device: &Device,
    on_epoch: &mut dyn FnMut(Epoch) -> bool,
) -> Result<Trained> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Hold out a random fifth (none when that leaves no batch to train on).
    let mut order: Vec<usize> = (0..rows).collect();
    order.shuffle(&mut rng);
    let n_valid = if rows >= 10 {
        ((rows as f64) * VALID_FRACTION).floor() as usize
    } else {
        0
    };
    let (valid_rows, train_rows) = order.split_at(n_valid);
    let (outputs, target) = match y {
        Targets::Classes(_, k) => (k.max(2), (0.0, 1.0)),
        Targets::Values(v) => {
            let train_y: Vec<f64> = train_rows.iter().map(|&i| v[i]).collect();
            (1, crate::learners::standardisation(&train_y))
        }
    };
    // Moved, not copied, onto the CPU device: the encoded rows are held once.
    let xt = Tensor::from_vec(x, (rows, inputs), device).map_err(err)?;
    // Per-row targets on the device: smoothed class distributions, or standardised values.
    let yt = match y {
        Targets::Classes(c, _) => {
            let eps = s.label_smoothing;
            let mut q = vec![(eps / outputs as f64) as f32; rows * outputs];
            for (i, &ci) in c.iter().enumerate().take(rows) {
                q[i * outputs + ci.min(outputs - 1)] += (1.0 - eps) as f32;
            }
            Tensor::from_vec(q, (rows, outputs), device)
        }
        Targets::Values(v) => {
            let z: Vec<f32> = v.iter().map(|x| ((x - target.0) / target.1) as f32).collect();
            Tensor::from_vec(z, (rows, 1), device)
        }
    }
    .map_err(err)?;
    let net = Net::new(inputs, &s.hidden, outputs, s.activation, &mut rng, device).map_err(err)?;
    let vars = net.vars(SCALE_LR, BIAS_LR);
    let mut adam = Adam::new(&vars).map_err(err)?;
    let batch = s.batch.clamp(1, train_rows.len().max(1));
    let per_epoch = (train_rows.len() / batch).max(1);
    let total = (per_epoch * s.epochs).max(1) as f64;
    let token = crate::cancel::current();
    let mut best: Option<(f64, usize, Weights)> = None;
    let mut shuffled: Vec<usize> = train_rows.to_vec();
    let mut step = 0usize;
    let mut epochs_run = 0;
    let mut out_of_time = false;
    for epoch in 1..=s.epochs {
        if epoch > 1 && token.soft_deadline_passed() {
            break;
        }
        shuffled.shuffle(&mut rng);
        for b in 0..per_epoch {
            if let Some(why) = token.reason() {
                return Err(Error::learner("mlp", format!("stopped while training ({why:?})")));
            }
            if epoch > 1 && token.soft_deadline_passed() {
                out_of_time = true;
                break;
            }
            let chunk = &shuffled[b * batch..((b + 1) * batch).min(shuffled.len())];
            let idx = Tensor::from_vec(
                chunk.iter().map(|&i| i as u32).collect::<Vec<u32>>(),
                chunk.len(),
                device,
            )
            .map_err(err)?;
            let lr = s.learning_rate * coslog4(step as f64 / total);
            step += 1;
            let loss = batch_loss(&net, &xt, &yt, &idx, y, s, &mut rng).map_err(err)?;
            let grads = loss.backward().map_err(err)?;
            adam.update(&vars, &grads, lr, s.weight_decay).map_err(err)?;
        }
        epochs_run = epoch;
        let score = if n_valid > 0 {
            validate(&net, &xt, y, valid_rows, target).map_err(err)?
        } else {
            0.0
        };
        if !score.is_finite() {
            return Err(Error::learner("mlp", format!("diverged at epoch {epoch}")));
        }
        if best.as_ref().is_none_or(|(b, _, _)| score <= *b) {
            best = Some((score, epoch, net.weights().map_err(err)?));
        }
        if !on_epoch(Epoch { epoch, valid: score }) || out_of_time {
            break;
        }
    }
    let (_, best_epoch, weights) = match best {
        Some(b) => b,
        None => (0.0, 0, net.weights().map_err(err)?),
    };
    Ok(Trained {
        weights,
        best_epoch,
        epochs_run,
        target,
    })
}

/// The training loss of one batch.
fn batch_loss(
    net: &Net,
    xt: &Tensor,
    yt: &Tensor,
    idx: &Tensor,
    y: Targets,
    s: &Settings,
    rng: &mut ChaCha8Rng,
) -> candle_core::Result<Tensor> {
    let xb = xt.index_select(idx, 0)?;
    let yb = yt.index_select(idx, 0)?;
    let out = net.forward(&xb, Some((s.dropout, rng)))?;
    match y {
        Targets::Classes(..) => {
            let logp = log_softmax(&out)?;
            (yb * logp)?.sum_all()?.affine(-1.0 / idx.dims1()? as f64, 0.0)
        }
        Targets::Values(_) => (out - yb)?.sqr()?.mean_all(),
    }
}

/// Row-wise log-softmax.
pub fn log_softmax(z: &Tensor) -> candle_core::Result<Tensor> {
    let shifted = z.broadcast_sub(&z.max_keepdim(1)?.detach())?;
    let lse = shifted.exp()?.sum_keepdim(1)?.log()?;
    shifted.broadcast_sub(&lse)
}

/// Held-out rows scored per forward pass: the activations of a pass over all of them (several
/// tensors of rows × hidden width) would otherwise be the largest allocation of a fit on many
/// rows.
const VALID_BATCH: usize = 4096;

/// The held-out score: classification error, or RMSE in the target's units. Rows are scored
/// [`VALID_BATCH`] at a time (each row's output does not depend on the others in its batch).
fn validate(
    net: &Net,
    xt: &Tensor,
    y: Targets,
    rows: &[usize],
    target: (f64, f64),
) -> candle_core::Result<f64> {
    let mut loss = 0.0f64;
    for chunk in rows.chunks(VALID_BATCH) {
        let idx = Tensor::from_vec(
            chunk.iter().map(|&i| i as u32).collect::<Vec<u32>>(),
            chunk.len(),
            xt.device(),
        )?;
        let out = net.forward(&xt.index_select(&idx, 0)?, None)?;
        // Summed row by row in one running total: the same arithmetic as one pass.
        match y {
            Targets::Classes(c, _) => {
                let pred: Vec<u32> = out.argmax(1)?.to_dtype(DType::U32)?.to_vec1()?;
                for (&i, &p) in chunk.iter().zip(&pred) {
                    if c[i] != p as usize {
                        loss += 1.0;
                    }
                }
            }
            Targets::Values(v) => {
                let pred: Vec<f32> = out.flatten_all()?.to_vec1()?;
                for (&i, &p) in chunk.iter().zip(&pred) {
                    loss += (p as f64 * target.1 + target.0 - v[i]).powi(2);
                }
            }
        }
    }
    let mean = loss / rows.len().max(1) as f64;
    Ok(match y {
        Targets::Classes(..) => mean,
        Targets::Values(_) => mean.sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_out_rows_scored_in_batches_match_one_pass_over_them() {
        let device = Device::Cpu;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (rows, inputs) = (VALID_BATCH * 2 + 123, 4);
        let x: Vec<f32> = (0..rows * inputs)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let values: Vec<f64> = (0..rows).map(|i| (i % 13) as f64 - 6.0).collect();
        let classes: Vec<usize> = (0..rows).map(|i| i % 3).collect();
        let xt = Tensor::from_vec(x, (rows, inputs), &device).unwrap();
        // Every other row, out of order, spanning more than two batches.
        let held: Vec<usize> = (0..rows).rev().step_by(2).collect();
        assert!(held.len() > VALID_BATCH);
        let all = Tensor::from_vec(
            held.iter().map(|&i| i as u32).collect::<Vec<u32>>(),
            held.len(),
            &device,
        )
        .unwrap();
        let target = (0.5, 2.0);
        let net = Net::new(inputs, &[16], 1, Activation::Mish, &mut rng, &device).unwrap();
        let out: Vec<f32> = net
            .forward(&xt.index_select(&all, 0).unwrap(), None)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let se: f64 = held
            .iter()
            .zip(&out)
            .map(|(&i, &p)| (p as f64 * target.1 + target.0 - values[i]).powi(2))
            .sum();
        let rmse = validate(&net, &xt, Targets::Values(&values), &held, target).unwrap();
        assert!(
            (rmse - (se / held.len() as f64).sqrt()).abs() <= 1e-9 * rmse.max(1.0),
            "{rmse}"
        );
        let net = Net::new(inputs, &[16], 3, Activation::Selu, &mut rng, &device).unwrap();
        let pred: Vec<u32> = net
            .forward(&xt.index_select(&all, 0).unwrap(), None)
            .unwrap()
            .argmax(1)
            .unwrap()
            .to_dtype(DType::U32)
            .unwrap()
            .to_vec1()
            .unwrap();
        let wrong = held
            .iter()
            .zip(&pred)
            .filter(|(&i, &p)| classes[i] != p as usize)
            .count();
        let error = validate(&net, &xt, Targets::Classes(&classes, 3), &held, (0.0, 1.0)).unwrap();
        assert_eq!(error, wrong as f64 / held.len() as f64);
        assert!(error > 0.0 && error < 1.0, "{error}");
    }

    #[test]
    fn coslog4_starts_at_zero_and_has_four_peaks() {
        assert_eq!(coslog4(0.0), 0.0);
        assert!(coslog4(1.0) < 1e-12);
        // Peaks where log2(1 + 15t) = k + 1/2.
        let peaks: Vec<f64> = (0..4).map(|k| (2f64.powf(k as f64 + 0.5) - 1.0) / 15.0).collect();
        for t in peaks {
            assert!((coslog4(t) - 1.0).abs() < 1e-12, "{t}");
        }
    }
}
