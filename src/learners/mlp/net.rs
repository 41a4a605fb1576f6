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

    /// Apply to `h`: one fused operation on the CPU, candle's element-wise operations elsewhere.
    pub fn apply(self, h: &Tensor) -> candle_core::Result<Tensor> {
        let fused = h.device().is_cpu() && h.dtype() == candle_core::DType::F32;
        match self {
            Activation::Selu | Activation::Mish if fused => h.apply_op1(Fused {
                activation: self,
                derivative: false,
            }),
            Activation::Selu => h.elu(f64::from(SELU_ALPHA))?.affine(f64::from(SELU_LAMBDA), 0.0),
            // softplus(x) = relu(x) + log(1 + exp(-|x|)): no overflow.
            Activation::Mish => {
                let soft = (h.relu()? + h.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?;
                h * soft.tanh()?
            }
            Activation::Relu => h.relu(),
        }
    }
}

/// An element-wise activation fused into one operation on f32 CPU storage, with its derivative
/// (another fused operation on the input) as the backward pass: candle's composed form takes
/// several passes over the activations forward and more backward. Each function is a type
/// parameter of the loop, so it inlines and vectorises.
#[derive(Clone, Copy)]
struct Fused {
    activation: Activation,
    derivative: bool,
}

const SELU_LAMBDA: f32 = 1.050_700_9;
const SELU_ALPHA: f32 = 1.673_263_2;

/// `exp(x)` without a libm call and without branches, so loops over it vectorise: `2^n · e^f`
/// with `n = round(x / ln 2)`, `|f| ≤ ln 2 / 2` and a degree-6 Taylor polynomial for `e^f`
/// (relative error about 2e-7; inputs clamped to [-87, 88], where f32 stays normal).
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // 1.5 · 2^23: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let f = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0 + f * (1.0 + f * (0.5 + f * (1.0 / 6.0 + f * (1.0 / 24.0 + f * (1.0 / 120.0 + f / 720.0)))));
    p * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

#[inline(always)]
fn selu(x: f32) -> f32 {
    let neg = SELU_LAMBDA * SELU_ALPHA * (fast_exp(x.min(0.0)) - 1.0);
    if x > 0.0 {
        SELU_LAMBDA * x
    } else {
        neg
    }
}

#[inline(always)]
fn selu_grad(x: f32) -> f32 {
    let neg = SELU_LAMBDA * SELU_ALPHA * fast_exp(x.min(0.0));
    if x > 0.0 {
        SELU_LAMBDA
    } else {
        neg
    }
}

#[inline(always)]
fn mish(x: f32) -> f32 {
    // tanh(log(1 + e)) = n / (n + 2) with n = e (e + 2), e = exp(x); about x above 20.
    let e = fast_exp(x.min(20.0));
    let n = e * (e + 2.0);
    let m = x * n / (n + 2.0);
    if x > 20.0 {
        x
    } else {
        m
    }
}

#[inline(always)]
fn mish_grad(x: f32) -> f32 {
    // tanh(sp) + x · sech²(sp) · sigmoid(x), sp = softplus(x); with e = exp(x):
    // tanh(sp) = n / (n + 2), n = e (e + 2), and sigmoid(x) = e / (1 + e).
    let e = fast_exp(x.min(20.0));
    let n = e * (e + 2.0);
    let t = n / (n + 2.0);
    let d = t + x * (1.0 - t * t) * (e / (1.0 + e));
    if x > 20.0 {
        1.0
    } else {
        d
    }
}

/// Apply `f` to contiguous f32 CPU storage.
fn map_f32<F: Fn(f32) -> f32>(
    s: &candle_core::CpuStorage,
    l: &candle_core::Layout,
    f: F,
) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
    let candle_core::CpuStorage::F32(v) = s else {
        candle_core::bail!("fused activation: f32 only")
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("fused activation: contiguous input only")
    };
    let out: Vec<f32> = v[a..b].iter().map(|&x| f(x)).collect();
    Ok((candle_core::CpuStorage::F32(out), l.shape().clone()))
}

impl candle_core::CustomOp1 for Fused {
    fn name(&self) -> &'static str {
        match (self.activation, self.derivative) {
            (Activation::Selu, false) => "selu",
            (Activation::Selu, true) => "selu-derivative",
            (Activation::Mish, false) => "mish",
            (Activation::Mish, true) => "mish-derivative",
            (Activation::Relu, _) => "relu",
        }
    }

    fn cpu_fwd(
        &self,
        s: &candle_core::CpuStorage,
        l: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        match (self.activation, self.derivative) {
            (Activation::Selu, false) => map_f32(s, l, selu),
            (Activation::Selu, true) => map_f32(s, l, selu_grad),
            (Activation::Mish, false) => map_f32(s, l, mish),
            (Activation::Mish, true) => map_f32(s, l, mish_grad),
            (Activation::Relu, false) => map_f32(s, l, |x| x.max(0.0)),
            (Activation::Relu, true) => map_f32(s, l, |x| if x > 0.0 { 1.0 } else { 0.0 }),
        }
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let derivative = Fused {
            derivative: true,
            ..*self
        };
        let d = arg.contiguous()?.apply_op1_no_bwd(&derivative)?;
        Ok(Some((grad * d)?))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_activations_match_the_composed_ones_forward_and_backward() {
        let xs: Vec<f32> = (-40..=40).map(|i| i as f32 * 0.25).collect();
        let n = xs.len();
        let v = Var::from_vec(xs.clone(), (1, n), &Device::Cpu).unwrap();
        let x = v.as_tensor();
        let fused = Activation::Selu.apply(x).unwrap();
        let composed = x
            .elu(f64::from(SELU_ALPHA))
            .unwrap()
            .affine(f64::from(SELU_LAMBDA), 0.0)
            .unwrap();
        let (ga, gb) = (
            fused.sum_all().unwrap().backward().unwrap(),
            composed.sum_all().unwrap().backward().unwrap(),
        );
        let flat = |t: &Tensor| -> Vec<f32> { t.flatten_all().unwrap().to_vec1().unwrap() };
        let (a, b) = (flat(&fused), flat(&composed));
        let (da, db) = (flat(ga.get(x).unwrap()), flat(gb.get(x).unwrap()));
        for i in 0..n {
            assert!(
                (a[i] - b[i]).abs() <= 1e-5,
                "selu({}) {} vs {}",
                xs[i],
                a[i],
                b[i]
            );
            assert!(
                (da[i] - db[i]).abs() <= 1e-5,
                "selu'({}) {} vs {}",
                xs[i],
                da[i],
                db[i]
            );
        }
        mish_matches();
        for i in -8700..=8800 {
            let x = i as f32 * 0.01;
            let (a, b) = (fast_exp(x), x.exp());
            assert!((a - b).abs() <= 1e-6 * b, "exp({x}) {a} vs {b}");
        }
    }

    fn mish_matches() {
        let xs: Vec<f32> = (-60..=60).map(|i| i as f32 * 0.5).collect();
        let n = xs.len();
        let dev = Device::Cpu;
        let v = Var::from_vec(xs.clone(), (1, n), &dev).unwrap();
        let fused = Activation::Mish.apply(v.as_tensor()).unwrap();
        let g_fused = fused.sum_all().unwrap().backward().unwrap();
        let x = v.as_tensor();
        let soft = (x.relu().unwrap()
            + x.abs()
                .unwrap()
                .neg()
                .unwrap()
                .exp()
                .unwrap()
                .affine(1.0, 1.0)
                .unwrap()
                .log()
                .unwrap())
        .unwrap();
        let composed = (x * soft.tanh().unwrap()).unwrap();
        let g_composed = composed.sum_all().unwrap().backward().unwrap();
        let (a, b): (Vec<f32>, Vec<f32>) = (
            fused.flatten_all().unwrap().to_vec1().unwrap(),
            composed.flatten_all().unwrap().to_vec1().unwrap(),
        );
        let ga: Vec<f32> = g_fused.get(x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let gb: Vec<f32> = g_composed
            .get(x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for i in 0..n {
            assert!(
                (a[i] - b[i]).abs() <= 1e-5 * (1.0 + b[i].abs()),
                "mish({}) {} vs {}",
                xs[i],
                a[i],
                b[i]
            );
            assert!(
                (ga[i] - gb[i]).abs() <= 1e-4,
                "mish'({}) {} vs {}",
                xs[i],
                ga[i],
                gb[i]
            );
        }
    }
}
