//! The network: a learnable per-feature scaling layer (starting at 1), then fully connected layers
//! in the neural-tangent parametrisation (weights and biases drawn from N(0, 1), each layer's
//! product multiplied by `1/sqrt(fan_in)`; the output layer starts at zero), SELU or Mish between
//! them. The same forward pass trains (on candle
//! variables, any device) and predicts (from the plain weights saved in the model file, on the
//! CPU).

use candle_core::{Device, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The activation between hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Scaled ELU (RealMLP's choice for classification).
    Selu,
    /// `x · tanh(softplus(x))` (RealMLP's choice for regression).
    Mish,
    /// `max(x, 0)`.
    Relu,
}

impl Activation {
    /// Names as in the search space.
    pub const NAMES: &'static [&'static str] = &["auto", "selu", "mish", "relu"];

    /// Apply to `h`.
    pub fn apply(self, h: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Selu => h.elu(1.673_263_242_354_377)?.affine(1.050_700_987_355_480_5, 0.0),
            Activation::Mish => {
                // softplus(x) = relu(x) + log(1 + exp(-|x|)): no overflow, finite gradients.
                let soft = (h.relu()? + h.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?;
                h * soft.tanh()?
            }
            Activation::Relu => h.relu(),
        }
    }
}

/// Weights of one layer as plain numbers: `w` is `inputs × outputs`, row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Weights, inputs × outputs.
    pub w: Vec<f32>,
    /// Bias per output.
    pub b: Vec<f32>,
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
}

/// A network's weights, as saved in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    /// The per-feature input scale.
    pub scale: Vec<f32>,
    /// Hidden layers, then the output layer.
    pub layers: Vec<Layer>,
    /// The activation between layers.
    pub activation: Activation,
}

/// A network being trained: candle variables on one device.
pub struct Net {
    /// The per-feature input scale (initialised to 1).
    pub scale: Var,
    /// `(weights, bias)` per layer; the last is the output layer.
    pub layers: Vec<(Var, Var)>,
    /// The activation between layers.
    pub activation: Activation,
}

/// Standard normal draws (Box–Muller) from a seeded generator: the same weights on any device.
fn normals(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u: f64 = 1.0 - rng.gen::<f64>();
            let v: f64 = rng.gen();
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        })
        .collect()
}

impl Net {
    /// A fresh network with `inputs` inputs, `hidden` widths and `outputs` outputs.
    pub fn new(
        inputs: usize,
        hidden: &[usize],
        outputs: usize,
        activation: Activation,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> candle_core::Result<Net> {
        let scale = Var::from_vec(vec![1f32; inputs], inputs, device)?;
        let mut layers = Vec::with_capacity(hidden.len() + 1);
        let mut fan_in = inputs;
        for (l, &width) in hidden.iter().chain(std::iter::once(&outputs)).enumerate() {
            let (w, b) = if l < hidden.len() {
                (normals(rng, fan_in * width), normals(rng, width))
            } else {
                (vec![0f32; fan_in * width], vec![0f32; width])
            };
            let w = Var::from_vec(w, (fan_in, width), device)?;
            let b = Var::from_vec(b, width, device)?;
            layers.push((w, b));
            fan_in = width;
        }
        Ok(Net {
            scale,
            layers,
            activation,
        })
    }

    /// Every variable with its learning-rate factor: the scaling layer learns faster, biases slower.
    pub fn vars(&self, scale_lr: f64, bias_lr: f64) -> Vec<(&Var, f64)> {
        let mut out = vec![(&self.scale, scale_lr)];
        for (w, b) in &self.layers {
            out.push((w, 1.0));
            out.push((b, bias_lr));
        }
        out
    }

    /// Forward pass on `x` (`rows × inputs`). During training `dropout` holds the rate and the
    /// generator drawing the masks.
    pub fn forward(
        &self,
        x: &Tensor,
        dropout: Option<(f64, &mut ChaCha8Rng)>,
    ) -> candle_core::Result<Tensor> {
        let tensors: Vec<(&Tensor, &Tensor)> = self
            .layers
            .iter()
            .map(|(w, b)| (w.as_tensor(), b.as_tensor()))
            .collect();
        forward(x, self.scale.as_tensor(), &tensors, self.activation, dropout)
    }

    /// The current weights as plain numbers.
    pub fn weights(&self) -> candle_core::Result<Weights> {
        let mut layers = Vec::with_capacity(self.layers.len());
        for (w, b) in &self.layers {
            let (inputs, outputs) = w.as_tensor().dims2()?;
            layers.push(Layer {
                w: w.as_tensor().flatten_all()?.to_vec1()?,
                b: b.as_tensor().to_vec1()?,
                inputs,
                outputs,
            });
        }
        Ok(Weights {
            scale: self.scale.as_tensor().to_vec1()?,
            layers,
            activation: self.activation,
        })
    }
}

/// The forward pass shared by training and prediction.
fn forward(
    x: &Tensor,
    scale: &Tensor,
    layers: &[(&Tensor, &Tensor)],
    activation: Activation,
    mut dropout: Option<(f64, &mut ChaCha8Rng)>,
) -> candle_core::Result<Tensor> {
    let mut h = x.broadcast_mul(scale)?;
    let last = layers.len().saturating_sub(1);
    for (l, (w, b)) in layers.iter().enumerate() {
        let fan_in = w.dims2()?.0.max(1);
        h = h
            .matmul(w)?
            .affine(1.0 / (fan_in as f64).sqrt(), 0.0)?
            .broadcast_add(b)?;
        if l < last {
            h = activation.apply(&h)?;
            if let Some((rate, rng)) = dropout.as_mut() {
                if *rate > 0.0 {
                    let (rows, cols) = h.dims2()?;
                    let keep = 1.0 / (1.0 - *rate);
                    let mask: Vec<f32> = (0..rows * cols)
                        .map(|_| {
                            if rng.gen::<f64>() < *rate {
                                0.0
                            } else {
                                keep as f32
                            }
                        })
                        .collect();
                    h = (h * Tensor::from_vec(mask, (rows, cols), x.device())?)?;
                }
            }
        }
    }
    Ok(h)
}

impl Weights {
    /// Outputs for `x` (`rows × inputs`, row-major), computed on the CPU in batches.
    pub fn predict(&self, x: &[f32], rows: usize) -> candle_core::Result<Vec<f32>> {
        let dev = Device::Cpu;
        let inputs = self.scale.len();
        let scale = Tensor::from_slice(&self.scale, inputs, &dev)?;
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            layers.push((
                Tensor::from_slice(&l.w, (l.inputs, l.outputs), &dev)?,
                Tensor::from_slice(&l.b, l.outputs, &dev)?,
            ));
        }
        let refs: Vec<(&Tensor, &Tensor)> = layers.iter().map(|(w, b)| (w, b)).collect();
        let outputs = self.layers.last().map_or(0, |l| l.outputs);
        let mut out = Vec::with_capacity(rows * outputs);
        const BATCH: usize = 4096;
        let mut start = 0;
        while start < rows {
            let n = BATCH.min(rows - start);
            let xb = Tensor::from_slice(&x[start * inputs..(start + n) * inputs], (n, inputs), &dev)?;
            let y = forward(&xb, &scale, &refs, self.activation, None)?;
            out.extend(y.flatten_all()?.to_vec1::<f32>()?);
            start += n;
        }
        Ok(out)
    }
}
