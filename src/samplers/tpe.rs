//! Tree-structured Parzen estimator (Bergstra et al., 2011), univariate as in Optuna's default:
//! after `n_startup` random trials, completed trials are split into the best `gamma(n)` ("good")
//! and the rest ("bad"; stopped and failed trials count as bad). Each active parameter is drawn
//! from candidates sampled from the good density `l`, keeping the candidate with the largest
//! `l(x) / g(x)` (a choice is drawn with probability proportional to `l / g`). Conditional parameters only use trials in which they were present.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{unit_of, Observation, Sampler};
use crate::space::{Params, SearchSpace, SpaceParam, Value};

/// The TPE sampler.
#[derive(Debug, Clone)]
pub struct TpeSampler {
    /// Random trials before the model is used.
    pub n_startup: usize,
    /// Candidates drawn from `l` per parameter.
    pub n_candidates: usize,
    /// The final loss of each seen trial (`None`: it did not complete).
    seen: Vec<Option<f64>>,
    /// Per seen trial, each parameter's value mapped to `[0, 1]` (by parameter index).
    units: Vec<Vec<Option<f64>>>,
    /// (loss, id, index into `seen`) of completed trials, kept sorted.
    ranked: Vec<(f64, usize, usize)>,
    /// Per parameter index, (unit value, index into `seen`) of every seen trial where it is
    /// active, kept sorted by value: the "bad" set is all of them but the good few, already in
    /// order for the Parzen estimator.
    sorted: Vec<Vec<(f64, usize)>>,
}

impl Default for TpeSampler {
    fn default() -> Self {
        TpeSampler {
            n_startup: 10,
            n_candidates: 24,
            seen: Vec::new(),
            units: Vec::new(),
            ranked: Vec::new(),
            sorted: Vec::new(),
        }
    }
}

/// Number of "good" trials out of `n` completed ones (Optuna's default rule).
fn gamma(n: usize) -> usize {
    (n.div_ceil(10)).clamp(1, 25)
}

/// A Parzen mixture on `[0, 1]`: the uniform-ish prior N(0.5, 1) plus one truncated normal per
/// observation, bandwidth from the distances to its neighbours.
struct Parzen {
    /// Component means, sorted; the last component is the prior N(0.5, 1).
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    inv: Vec<f64>,
    /// Per component: 1 / (sigma · sqrt(2π) · mass inside [0, 1] · number of components).
    scale: Vec<f64>,
    /// Beyond this distance no observation component contributes (9 of its sigmas).
    reach: f64,
}

fn erf(x: f64) -> f64 {
    // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x >= 0.0 {
        y
    } else {
        -y
    }
}

fn phi(x: f64) -> f64 {
    0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

impl Parzen {
    fn new(points: &[f64]) -> Parzen {
        let n = points.len();
        let mut mus = points.to_vec();
        mus.sort_by(f64::total_cmp);
        let min_sigma = 1.0 / (n as f64 + 1.0).min(100.0);
        let mut sigmas: Vec<f64> = (0..n)
            .map(|k| {
                let left = if k > 0 { mus[k] - mus[k - 1] } else { mus[k] };
                let right = if k + 1 < n {
                    mus[k + 1] - mus[k]
                } else {
                    1.0 - mus[k]
                };
                left.max(right).clamp(min_sigma, 1.0)
            })
            .collect();
        let reach = 9.0 * sigmas.iter().copied().fold(0.0, f64::max);
        mus.push(0.5); // the prior, sigma 1
        sigmas.push(1.0);
        let k = mus.len() as f64;
        let scale = mus
            .iter()
            .zip(&sigmas)
            .map(|(&m, &s)| {
                let mass = if m / s > 8.0 && (1.0 - m) / s > 8.0 {
                    1.0 // the truncation removes less than 1e-15
                } else {
                    (phi((1.0 - m) / s) - phi(-m / s)).max(1e-12)
                };
                1.0 / (s * (2.0 * std::f64::consts::PI).sqrt() * mass * k)
            })
            .collect();
        let inv = sigmas.iter().map(|s| 1.0 / s).collect();
        Parzen {
            mus,
            sigmas,
            inv,
            scale,
            reach,
        }
    }

    fn density(&self, x: f64) -> f64 {
        let n = self.mus.len() - 1;
        let obs = &self.mus[..n];
        let lo = obs.partition_point(|m| *m < x - self.reach);
        let hi = obs.partition_point(|m| *m <= x + self.reach);
        let mut total = 0.0;
        for i in lo..hi {
            let z = (x - self.mus[i]) * self.inv[i];
            // Beyond 9 of its own sigmas a component adds less than 1e-17 of its peak: skip the exp.
            if z * z < 81.0 {
                total += self.scale[i] * (-0.5 * z * z).exp();
            }
        }
        let z = (x - self.mus[n]) * self.inv[n];
        total + self.scale[n] * (-0.5 * z * z).exp()
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        let k = rng.gen_range(0..self.mus.len());
        let (m, s) = (self.mus[k], self.sigmas[k]);
        for _ in 0..64 {
            let u: f64 = rng.gen();
            let v: f64 = rng.gen();
            let z = (-2.0 * (1.0 - u).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
            let x = m + s * z;
            if (0.0..=1.0).contains(&x) {
                return x;
            }
        }
        m.clamp(0.0, 1.0)
    }
}

impl TpeSampler {
    fn units(&self, i: usize, set: &[usize]) -> Vec<f64> {
        set.iter()
            .filter_map(|&o| self.units[o].get(i).copied().flatten())
            .collect()
    }

    /// Parameter `i`'s values of every seen trial not in the good set, in increasing order.
    fn bad_units(&self, i: usize, good: &[bool]) -> Vec<f64> {
        self.sorted
            .get(i)
            .map(|v| v.iter().filter(|e| !good[e.1]).map(|e| e.0).collect())
            .unwrap_or_default()
    }

    fn pick_numeric(
        &self,
        i: usize,
        p: &SpaceParam,
        good: &[usize],
        in_good: &[bool],
        rng: &mut ChaCha8Rng,
    ) -> Value {
        let (l, g) = (
            Parzen::new(&self.units(i, good)),
            Parzen::new(&self.bad_units(i, in_good)),
        );
        let mut best = (f64::NEG_INFINITY, 0.5);
        for _ in 0..self.n_candidates {
            let x = l.sample(rng);
            let score = l.density(x).ln() - g.density(x).ln();
            if score > best.0 {
                best = (score, x);
            }
        }
        p.spec.from_unit(best.1)
    }

    fn pick_choice(
        &self,
        i: usize,
        values: &[Value],
        good: &[usize],
        in_good: &[bool],
        rng: &mut ChaCha8Rng,
    ) -> Value {
        let k = values.len();
        let weights = |units: Vec<f64>| -> Vec<f64> {
            let mut w = vec![1.0 / k as f64; k];
            for u in units {
                w[((u * k as f64).floor() as usize).min(k - 1)] += 1.0;
            }
            let s: f64 = w.iter().sum();
            w.iter().map(|x| x / s).collect()
        };
        let (l, g) = (weights(self.units(i, good)), weights(self.bad_units(i, in_good)));
        // Drawn with probability proportional to l/g rather than by argmax, so a value whose first
        // trials were poor (a learner started at a bad point) keeps a chance to be explored.
        let ratio: Vec<f64> = l.iter().zip(&g).map(|(a, b)| a / b).collect();
        let total: f64 = ratio.iter().sum();
        let mut u = rng.gen::<f64>() * total;
        for (j, r) in ratio.iter().enumerate() {
            if u < *r {
                return values[j].clone();
            }
            u -= r;
        }
        values[k - 1].clone()
    }
}

impl Sampler for TpeSampler {
    fn ask(&mut self, _id: usize, space: &SearchSpace, rng: &mut ChaCha8Rng) -> Option<Params> {
        if self.ranked.len() < self.n_startup {
            return Some(space.sample(rng));
        }
        let n_good = gamma(self.ranked.len());
        // Good: the best completed trials; bad: every other seen trial (failed ones too).
        let good: Vec<usize> = self.ranked[..n_good].iter().map(|r| r.2).collect();
        let mut in_good = vec![false; self.seen.len()];
        for &o in &good {
            in_good[o] = true;
        }
        Some(space.build(|i, p, _| match p.spec.dist.choices() {
            Some(values) => self.pick_choice(i, values, &good, &in_good, rng),
            None => self.pick_numeric(i, p, &good, &in_good, rng),
        }))
    }

    fn tell(&mut self, space: &SearchSpace, obs: &Observation) {
        let units: Vec<Option<f64>> = space
            .params
            .iter()
            .map(|p| unit_of(space, &p.name, obs.params))
            .collect();
        let o = self.seen.len();
        self.sorted.resize(self.sorted.len().max(units.len()), Vec::new());
        for (sorted, u) in self.sorted.iter_mut().zip(&units) {
            if let Some(u) = *u {
                let at = sorted.partition_point(|e| e.0.total_cmp(&u).is_le());
                sorted.insert(at, (u, o));
            }
        }
        self.units.push(units);
        if let Some(l) = obs.final_loss() {
            let key = (l, obs.id, self.seen.len());
            let at = self
                .ranked
                .partition_point(|r| r.0.total_cmp(&l).then(r.1.cmp(&obs.id)).is_lt());
            self.ranked.insert(at, key);
        }
        self.seen.push(obs.final_loss());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parzen_is_a_density_on_the_unit_interval() {
        let p = Parzen::new(&[0.1, 0.15, 0.8]);
        let n = 10_000;
        let integral: f64 = (0..n)
            .map(|i| p.density((i as f64 + 0.5) / n as f64))
            .sum::<f64>()
            / n as f64;
        assert!((integral - 1.0).abs() < 1e-3, "{integral}");
        assert!(p.density(0.12) > p.density(0.5));
        assert!((phi(0.0) - 0.5).abs() < 1e-9 && (phi(1.96) - 0.975).abs() < 1e-4);
    }

    #[test]
    fn gamma_follows_the_ten_percent_rule_capped_at_25() {
        assert_eq!((gamma(1), gamma(10), gamma(11), gamma(1000)), (1, 1, 2, 25));
    }
}
