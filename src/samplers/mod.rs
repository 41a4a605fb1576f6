//! Samplers decide which configuration trial `i` tries, from the search space and the trials
//! finished before it: [`GridSampler`], [`RandomSampler`], [`TpeSampler`] (Bayesian) and
//! [`CfoSampler`] (cost-frugal local search, the default of `automl run`).
//!
//! A sampler is told finished trials in trial-id order and asked for trial ids in increasing order,
//! each ask with its own random stream, so its suggestions are a deterministic function of the
//! seed and of the results it was told (the sweep decides which results those are).

mod cfo;
mod tpe;

pub use cfo::CfoSampler;
pub use tpe::TpeSampler;

use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::space::{Dist, Params, SearchSpace};

/// A finished trial, as samplers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation<'a> {
    /// Trial id.
    pub id: usize,
    /// What was tried.
    pub params: &'a Params,
    /// Objective as a loss (smaller is better): the final value of a completed trial, the last
    /// reported value of a stopped one, `None` when it failed without a value.
    pub loss: Option<f64>,
    /// Whether the trial ran to the end (false: pruned, timed out, cancelled or failed).
    pub complete: bool,
    /// Cost of the trial in the objective's units (see [`crate::sweep::Trial::set_cost`]).
    pub cost: f64,
}

impl Observation<'_> {
    /// The loss of a completed trial.
    pub fn final_loss(&self) -> Option<f64> {
        if self.complete {
            self.loss.filter(|l| l.is_finite())
        } else {
            None
        }
    }
}

/// What decides the next configuration.
pub trait Sampler: Send {
    /// Configuration for trial `id`, or `None` when there is nothing left to try (a finished grid).
    fn ask(&mut self, id: usize, space: &SearchSpace, rng: &mut ChaCha8Rng) -> Option<Params>;
    /// Learn from a finished trial; called in the sweep's tell order (trial-id order unless the
    /// sweep defers long trials: see [`crate::sweep`]).
    fn tell(&mut self, space: &SearchSpace, obs: &Observation);
    /// The estimated cost of trial `id`, just asked, when the sweep has an estimate: a sampler
    /// that weighs what it spent may count it before the trial is told.
    fn asked_cost(&mut self, _id: usize, _cost: f64) {}
}

/// Which sampler to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SamplerKind {
    /// Every combination of choice values, in order.
    Grid,
    /// Independent random draws.
    Random,
    /// Tree-structured Parzen estimator.
    Tpe,
    /// Cost-frugal local search with learner selection by estimated cost for improvement.
    #[default]
    Cfo,
}

impl SamplerKind {
    /// Parse `grid|random|tpe|cfo` (`bayesian` is an alias of `tpe`).
    pub fn parse(s: &str) -> Result<SamplerKind> {
        match s.to_ascii_lowercase().as_str() {
            "grid" => Ok(SamplerKind::Grid),
            "random" => Ok(SamplerKind::Random),
            "tpe" | "bayesian" => Ok(SamplerKind::Tpe),
            "cfo" => Ok(SamplerKind::Cfo),
            _ => Err(Error::Config(format!(
                "unknown sampler '{s}' (use grid, random, tpe or cfo)"
            ))),
        }
    }

    /// Name as given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SamplerKind::Grid => "grid",
            SamplerKind::Random => "random",
            SamplerKind::Tpe => "tpe",
            SamplerKind::Cfo => "cfo",
        }
    }

    /// A fresh sampler of this kind for `space` (checked).
    pub fn build(self, space: &SearchSpace) -> Result<Box<dyn Sampler>> {
        space.check()?;
        Ok(match self {
            SamplerKind::Grid => Box::new(GridSampler::new(space)?),
            SamplerKind::Random => Box::new(RandomSampler),
            SamplerKind::Tpe => Box::new(TpeSampler::default()),
            SamplerKind::Cfo => Box::new(CfoSampler::new(space)),
        })
    }
}

/// Independent random draws from the space.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSampler;

impl Sampler for RandomSampler {
    fn ask(&mut self, _id: usize, space: &SearchSpace, rng: &mut ChaCha8Rng) -> Option<Params> {
        Some(space.sample(rng))
    }
    fn tell(&mut self, _space: &SearchSpace, _obs: &Observation) {}
}

/// Every combination of choice values (conditional parameters only where active), in order:
/// the last parameter varies fastest. Like Azure ML, grid sampling takes choice parameters only.
#[derive(Debug, Clone)]
pub struct GridSampler {
    grid: Vec<Params>,
}

/// Most grid points a grid sampler enumerates.
pub const MAX_GRID: usize = 1_000_000;

impl GridSampler {
    /// Enumerate the grid; an error names any parameter that is not a choice.
    pub fn new(space: &SearchSpace) -> Result<GridSampler> {
        let bad: Vec<&str> = space
            .params
            .iter()
            .filter(|p| !matches!(p.spec.dist, Dist::Choice { .. }))
            .map(|p| p.name.as_str())
            .collect();
        if !bad.is_empty() {
            return Err(Error::Config(format!(
                "grid sampling takes choice parameters only; not a choice: {} (narrow them with a search-space file, or use another sampler)",
                bad.join(", ")
            )));
        }
        let mut grid = vec![Params::default()];
        for p in &space.params {
            let Dist::Choice { values } = &p.spec.dist else {
                continue;
            };
            let mut next = Vec::new();
            for g in grid {
                if SearchSpace::active(p, &g) {
                    for v in values {
                        let mut h = g.clone();
                        h.set(&p.name, v.clone());
                        next.push(h);
                    }
                } else {
                    next.push(g);
                }
                if next.len() > MAX_GRID {
                    return Err(Error::Config(format!(
                        "the grid has more than {MAX_GRID} points; narrow the choices or use another sampler"
                    )));
                }
            }
            grid = next;
        }
        Ok(GridSampler { grid })
    }

    /// Number of grid points.
    pub fn len(&self) -> usize {
        self.grid.len()
    }

    /// Whether the grid is empty (never, for a checked space).
    pub fn is_empty(&self) -> bool {
        self.grid.is_empty()
    }
}

impl Sampler for GridSampler {
    fn ask(&mut self, id: usize, _space: &SearchSpace, _rng: &mut ChaCha8Rng) -> Option<Params> {
        self.grid.get(id).cloned()
    }
    fn tell(&mut self, _space: &SearchSpace, _obs: &Observation) {}
}

/// The value of `name` in `params` mapped to `[0, 1]`.
fn unit_of(space: &SearchSpace, name: &str, params: &Params) -> Option<f64> {
    let spec = space.get(name)?;
    spec.to_unit(params.0.get(name)?)
}

#[cfg(test)]
pub(crate) mod testfns {
    //! Standard test functions for comparing samplers.
    use super::*;
    use crate::space::ParamSpec;
    use rand::SeedableRng;

    /// A test problem: its space and objective.
    pub type Problem = (SearchSpace, fn(&Params) -> f64);

    /// Branin on x1 ∈ [-5, 10], x2 ∈ [0, 15]; minimum 0.397887.
    pub fn branin() -> Problem {
        let space = SearchSpace::new()
            .add("x1", ParamSpec::uniform(-5.0, 10.0))
            .add("x2", ParamSpec::uniform(0.0, 15.0));
        fn f(p: &Params) -> f64 {
            let (x1, x2) = (
                p.f64_or("x1", 0.0).unwrap_or(0.0),
                p.f64_or("x2", 0.0).unwrap_or(0.0),
            );
            let pi = std::f64::consts::PI;
            let b = 5.1 / (4.0 * pi * pi);
            let c = 5.0 / pi;
            let t = 1.0 / (8.0 * pi);
            (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - t) * x1.cos() + 10.0
        }
        (space, f)
    }

    /// Rosenbrock in 4 dimensions on [-2, 2]; minimum 0 at (1, 1, 1, 1).
    pub fn rosenbrock() -> Problem {
        let mut space = SearchSpace::new();
        for i in 0..4 {
            space = space.add(&format!("x{i}"), ParamSpec::uniform(-2.0, 2.0));
        }
        fn f(p: &Params) -> f64 {
            let x: Vec<f64> = (0..4)
                .map(|i| p.f64_or(&format!("x{i}"), 0.0).unwrap_or(0.0))
                .collect();
            (0..3)
                .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
                .sum()
        }
        (space, f)
    }

    /// A conditional toy: a model choice, each with its own parameters (one log-scaled, one
    /// integer); the best value 0 is reached only in branch "b" at lr = 0.01, depth = 7.
    pub fn conditional() -> Problem {
        let space = SearchSpace::new()
            .add("model", ParamSpec::choice(["a", "b", "c"]))
            .add("a_x", ParamSpec::uniform(0.0, 1.0).when("model", ["a"]))
            .add("lr", ParamSpec::loguniform(1e-4, 1.0).when("model", ["b"]))
            .add("depth", ParamSpec::randint(1, 20).when("model", ["b"]))
            .add("c_x", ParamSpec::uniform(-1.0, 1.0).when("model", ["c"]));
        fn f(p: &Params) -> f64 {
            match p.str_or("model", "").unwrap_or("") {
                "a" => 1.0 + (p.f64_or("a_x", 0.0).unwrap_or(0.0) - 0.3).powi(2),
                "b" => {
                    let lr = p.f64_or("lr", 1.0).unwrap_or(1.0).log10() + 2.0;
                    let d = p.int_or("depth", 1).unwrap_or(1) as f64 - 7.0;
                    lr * lr + 0.01 * d * d
                }
                _ => 0.8 + p.f64_or("c_x", 0.0).unwrap_or(0.0).abs(),
            }
        }
        (space, f)
    }

    /// Best value found by `kind` in `n` sequential trials with `seed`.
    pub fn best_of(
        kind: SamplerKind,
        space: &SearchSpace,
        f: fn(&Params) -> f64,
        n: usize,
        seed: u64,
    ) -> f64 {
        let mut s = kind.build(space).unwrap();
        let mut best = f64::INFINITY;
        for id in 0..n {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(id as u64 + 1);
            let Some(p) = s.ask(id, space, &mut rng) else {
                break;
            };
            let y = f(&p);
            best = best.min(y);
            tell(&mut *s, space, id, &p, Some(y), 1.0);
        }
        best
    }

    /// Tell `s` that trial `id` (`p`) ended with `loss` at `cost` (complete when it has a loss).
    pub fn tell(
        s: &mut dyn Sampler,
        space: &SearchSpace,
        id: usize,
        p: &Params,
        loss: Option<f64>,
        cost: f64,
    ) {
        s.tell(
            space,
            &Observation {
                id,
                params: p,
                loss,
                complete: loss.is_some(),
                cost,
            },
        );
    }

    /// Mean best value over seeds 0..10.
    pub fn mean_best(kind: SamplerKind, f: fn() -> Problem, n: usize) -> f64 {
        let (space, obj) = f();
        (0..10).map(|s| best_of(kind, &space, obj, n, s)).sum::<f64>() / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::testfns::*;
    use super::*;
    use crate::space::ParamSpec;
    use rand::SeedableRng;

    #[test]
    fn grid_enumerates_conditional_choices_in_order_and_rejects_ranges() {
        let space = SearchSpace::new()
            .add("m", ParamSpec::choice(["a", "b"]))
            .add("k", ParamSpec::choice([1i64, 2, 3]).when("m", ["b"]))
            .add("z", ParamSpec::choice([true, false]));
        let mut g = GridSampler::new(&space).unwrap();
        assert_eq!(g.len(), 2 + 6);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let first = g.ask(0, &space, &mut rng).unwrap();
        assert_eq!(first.short(), "m=a z=true");
        assert_eq!(g.ask(2, &space, &mut rng).unwrap().short(), "k=1 m=b z=true");
        assert!(g.ask(8, &space, &mut rng).is_none());
        let bad = space.add("lr", ParamSpec::loguniform(1e-3, 1.0));
        let e = GridSampler::new(&bad).unwrap_err().to_string();
        assert!(e.contains("not a choice: lr"), "{e}");
    }

    #[test]
    fn random_respects_conditions() {
        let (space, _) = conditional();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..100 {
            let p = space.sample(&mut rng);
            let m = p.str_or("model", "").unwrap().to_string();
            assert_eq!(p.0.contains_key("lr"), m == "b");
            assert_eq!(p.0.contains_key("depth"), m == "b");
            assert_eq!(p.0.contains_key("a_x"), m == "a");
        }
    }

    #[test]
    fn tpe_and_cfo_beat_random_on_branin() {
        let r = mean_best(SamplerKind::Random, branin, 60);
        let t = mean_best(SamplerKind::Tpe, branin, 60);
        let c = mean_best(SamplerKind::Cfo, branin, 60);
        eprintln!("branin mean best of 60: random {r:.4} tpe {t:.4} cfo {c:.4}");
        assert!(t < r * 0.8, "tpe {t} vs random {r}");
        assert!(c < r * 0.8, "cfo {c} vs random {r}");
    }

    #[test]
    fn tpe_and_cfo_beat_random_on_rosenbrock() {
        let r = mean_best(SamplerKind::Random, rosenbrock, 150);
        let t = mean_best(SamplerKind::Tpe, rosenbrock, 150);
        let c = mean_best(SamplerKind::Cfo, rosenbrock, 150);
        eprintln!("rosenbrock mean best of 150: random {r:.4} tpe {t:.4} cfo {c:.4}");
        assert!(t < r * 0.8, "tpe {t} vs random {r}");
        assert!(c < r * 0.8, "cfo {c} vs random {r}");
    }

    #[test]
    fn tpe_and_cfo_beat_random_on_a_conditional_space() {
        let r = mean_best(SamplerKind::Random, conditional, 80);
        let t = mean_best(SamplerKind::Tpe, conditional, 80);
        let c = mean_best(SamplerKind::Cfo, conditional, 80);
        eprintln!("conditional mean best of 80: random {r:.4} tpe {t:.4} cfo {c:.4}");
        assert!(t < r * 0.8, "tpe {t} vs random {r}");
        assert!(c < r * 0.8, "cfo {c} vs random {r}");
    }

    #[test]
    fn samplers_are_deterministic_per_seed() {
        let (space, f) = conditional();
        for kind in [SamplerKind::Random, SamplerKind::Tpe, SamplerKind::Cfo] {
            assert_eq!(best_of(kind, &space, f, 40, 5), best_of(kind, &space, f, 40, 5));
        }
    }
}
