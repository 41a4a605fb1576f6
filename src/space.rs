//! Declarative search spaces: one TOML file per learner family under `search/`, embedded at build time.
//!
//! A space lists parameters with a distribution, an optional `init` value and an optional
//! `low_cost` value (the cheapest sensible configuration, tried first).

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::data::Task;
use crate::error::{Error, Result};

/// One parameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A whole number.
    Int(i64),
    /// A real number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string (choices such as `"gini"`).
    Str(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => {
                if x.abs() >= 1e-3 && x.abs() < 1e4 || *x == 0.0 {
                    write!(f, "{}", (x * 1e4).round() / 1e4)
                } else {
                    write!(f, "{x:.3e}")
                }
            }
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => write!(f, "{s}"),
        }
    }
}

/// A named set of parameter values, ordered by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Params(pub BTreeMap<String, Value>);

impl Params {
    /// Set a value.
    pub fn set(&mut self, name: &str, v: Value) {
        self.0.insert(name.to_string(), v);
    }

    /// A real value, or `default` when absent.
    pub fn f64_or(&self, name: &str, default: f64) -> Result<f64> {
        match self.0.get(name) {
            None => Ok(default),
            Some(Value::Float(x)) => Ok(*x),
            Some(Value::Int(i)) => Ok(*i as f64),
            Some(v) => Err(Error::Config(format!(
                "parameter {name}: expected a number, got '{v}'"
            ))),
        }
    }

    /// A whole value, or `default` when absent (reals are rounded).
    pub fn int_or(&self, name: &str, default: i64) -> Result<i64> {
        match self.0.get(name) {
            None => Ok(default),
            Some(Value::Int(i)) => Ok(*i),
            Some(Value::Float(x)) if x.is_finite() => Ok(x.round() as i64),
            Some(v) => Err(Error::Config(format!(
                "parameter {name}: expected a whole number, got '{v}'"
            ))),
        }
    }

    /// A string value, or `default` when absent.
    pub fn str_or<'a>(&'a self, name: &str, default: &'a str) -> Result<&'a str> {
        match self.0.get(name) {
            None => Ok(default),
            Some(Value::Str(s)) => Ok(s),
            Some(v) => Err(Error::Config(format!(
                "parameter {name}: expected a string, got '{v}'"
            ))),
        }
    }

    /// A short `k=v, …` rendering for tables.
    pub fn short(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A parameter's distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Dist {
    /// One of the listed values, uniformly.
    Choice {
        /// The values.
        values: Vec<Value>,
    },
    /// Uniform real in `[low, high]`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Log-uniform real in `[low, high]` (both > 0).
    Loguniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Uniform, rounded to a multiple of `q`.
    Quniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
        /// Step.
        q: f64,
    },
    /// Log-uniform, rounded to a multiple of `q`.
    Qloguniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
        /// Step.
        q: f64,
    },
    /// Uniform whole number in `[low, high]` (both inclusive).
    Randint {
        /// Lower bound (inclusive).
        low: i64,
        /// Upper bound (inclusive).
        high: i64,
    },
    /// Normal with mean `mu` and deviation `sigma`.
    Normal {
        /// Mean.
        mu: f64,
        /// Standard deviation.
        sigma: f64,
    },
    /// exp(Normal(mu, sigma)).
    Lognormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Deviation of the logarithm.
        sigma: f64,
    },
}

impl Dist {
    // Negated comparisons on purpose: a NaN bound must fail every check.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    fn check(&self, name: &str) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(format!("parameter {name}: {m}")));
        match self {
            Dist::Choice { values } if values.is_empty() => bad("choice needs at least one value"),
            Dist::Uniform { low, high } | Dist::Quniform { low, high, .. } if !(low <= high) => {
                bad("low must not exceed high")
            }
            Dist::Loguniform { low, high } | Dist::Qloguniform { low, high, .. }
                if !(*low > 0.0 && low <= high) =>
            {
                bad("log-uniform bounds must satisfy 0 < low <= high")
            }
            Dist::Quniform { q, .. } | Dist::Qloguniform { q, .. } if !(*q > 0.0) => {
                bad("q must be positive")
            }
            Dist::Randint { low, high } if low > high => bad("low must not exceed high"),
            Dist::Normal { sigma, .. } | Dist::Lognormal { sigma, .. } if !(*sigma > 0.0) => {
                bad("sigma must be positive")
            }
            _ => Ok(()),
        }
    }

    /// Draw one value.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Value {
        match self {
            Dist::Choice { values } => values[rng.gen_range(0..values.len())].clone(),
            Dist::Uniform { low, high } => Value::Float(uniform(rng, *low, *high)),
            Dist::Loguniform { low, high } => Value::Float(uniform(rng, low.ln(), high.ln()).exp()),
            Dist::Quniform { low, high, q } => Value::Float(quantize(uniform(rng, *low, *high), *q)),
            Dist::Qloguniform { low, high, q } => {
                Value::Float(quantize(uniform(rng, low.ln(), high.ln()).exp(), *q))
            }
            Dist::Randint { low, high } => Value::Int(rng.gen_range(*low..=*high)),
            Dist::Normal { mu, sigma } => Value::Float(mu + sigma * std_normal(rng)),
            Dist::Lognormal { mu, sigma } => Value::Float((mu + sigma * std_normal(rng)).exp()),
        }
    }
}

fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    if hi > lo {
        rng.gen_range(lo..=hi)
    } else {
        lo
    }
}

fn quantize(x: f64, q: f64) -> f64 {
    (x / q).round() * q
}

fn std_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // Box-Muller; 1 - u keeps the logarithm finite.
    let u: f64 = rng.gen();
    let v: f64 = rng.gen();
    (-2.0 * (1.0 - u).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// One searchable parameter. (Unknown keys are rejected by the flattened [`Dist`].)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// Distribution, flattened into the parameter's table.
    #[serde(flatten)]
    pub dist: Dist,
    /// A good general starting value.
    #[serde(default)]
    pub init: Option<Value>,
    /// The cheapest sensible value, tried first.
    #[serde(default)]
    pub low_cost: Option<Value>,
    /// Whether the value is a whole number (e.g. a count sampled log-uniformly).
    #[serde(default)]
    pub integer: bool,
}

/// The space of one learner (or of preprocessing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnerSpace {
    /// Learner name, as in `--learners`.
    pub learner: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Tasks the learner can do.
    pub tasks: Vec<Task>,
    /// Parameters by name.
    #[serde(default)]
    pub params: BTreeMap<String, ParamSpec>,
}

impl LearnerSpace {
    /// Parse a space from TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<LearnerSpace> {
        let space: LearnerSpace = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{origin}: {}", e.to_string().trim_end())))?;
        for (name, p) in &space.params {
            p.dist
                .check(name)
                .map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        }
        Ok(space)
    }

    /// Whether the learner handles `task`.
    pub fn supports(&self, task: Task) -> bool {
        self.tasks.contains(&task)
    }

    fn finish(spec: &ParamSpec, v: Value) -> Value {
        match (spec.integer, v) {
            (true, Value::Float(x)) => Value::Int(x.round() as i64),
            (_, v) => v,
        }
    }

    /// A random configuration.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Params {
        let mut p = Params::default();
        for (name, spec) in &self.params {
            p.set(name, Self::finish(spec, spec.dist.sample(rng)));
        }
        p
    }

    /// The low-cost starting configuration (`low_cost`, else `init`, else a draw).
    pub fn low_cost<R: Rng + ?Sized>(&self, rng: &mut R) -> Params {
        let mut p = Params::default();
        for (name, spec) in &self.params {
            let v = spec
                .low_cost
                .clone()
                .or_else(|| spec.init.clone())
                .unwrap_or_else(|| spec.dist.sample(rng));
            p.set(name, Self::finish(spec, v));
        }
        p
    }
}

/// The spaces shipped in `search/`, embedded at build time.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "search/preprocessing.toml",
        include_str!("../search/preprocessing.toml"),
    ),
    (
        "search/logistic_regression.toml",
        include_str!("../search/logistic_regression.toml"),
    ),
    (
        "search/linear_regression.toml",
        include_str!("../search/linear_regression.toml"),
    ),
    ("search/ridge.toml", include_str!("../search/ridge.toml")),
    ("search/lasso.toml", include_str!("../search/lasso.toml")),
    (
        "search/elastic_net.toml",
        include_str!("../search/elastic_net.toml"),
    ),
    (
        "search/decision_tree.toml",
        include_str!("../search/decision_tree.toml"),
    ),
    (
        "search/random_forest.toml",
        include_str!("../search/random_forest.toml"),
    ),
    ("search/knn.toml", include_str!("../search/knn.toml")),
    (
        "search/gaussian_nb.toml",
        include_str!("../search/gaussian_nb.toml"),
    ),
];

/// The preprocessing space and every learner space shipped with the crate.
pub fn builtin_spaces() -> Result<(LearnerSpace, Vec<LearnerSpace>)> {
    let mut prep = None;
    let mut learners = Vec::new();
    for (origin, text) in BUILTIN {
        let s = LearnerSpace::from_toml(text, origin)?;
        if s.learner == "preprocessing" {
            prep = Some(s);
        } else {
            learners.push(s);
        }
    }
    let prep = prep.ok_or_else(|| Error::Config("no preprocessing space".into()))?;
    Ok((prep, learners))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn builtin_spaces_parse_and_sample_in_range() {
        let (prep, learners) = builtin_spaces().unwrap();
        assert!(prep.params.contains_key("scale"));
        assert!(learners.len() >= 9);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for s in &learners {
            for _ in 0..50 {
                let p = s.sample(&mut rng);
                for (name, spec) in &s.params {
                    let v = &p.0[name];
                    match (&spec.dist, v) {
                        (Dist::Loguniform { low, high } | Dist::Uniform { low, high }, Value::Float(x)) => {
                            assert!(x >= low && x <= high, "{} {name}={x}", s.learner)
                        }
                        (Dist::Randint { low, high }, Value::Int(x)) => assert!(x >= low && x <= high),
                        (Dist::Loguniform { low, high }, Value::Int(x)) => {
                            assert!(*x as f64 >= low.round() && *x as f64 <= high.round())
                        }
                        (Dist::Choice { values }, v) => assert!(values.contains(v)),
                        _ => {}
                    }
                }
            }
        }
    }

    #[test]
    fn bad_space_names_the_line() {
        let text =
            "learner = \"x\"\ntasks = [\"binary\"]\n[params.a]\ntype = \"uniform\"\nlow = 1.0\nhgh = 2.0\n";
        let err = LearnerSpace::from_toml(text, "bad.toml").unwrap_err().to_string();
        assert!(err.contains("bad.toml") && err.contains("line"), "{err}");
        let text = "learner = \"x\"\ntasks = [\"binary\"]\n[params.a]\ntype = \"loguniform\"\nlow = 0.0\nhigh = 2.0\n";
        let err = LearnerSpace::from_toml(text, "bad.toml").unwrap_err().to_string();
        assert!(err.contains("0 < low"), "{err}");
    }

    #[test]
    fn same_seed_same_samples() {
        let (_, learners) = builtin_spaces().unwrap();
        let draw = |seed| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            learners.iter().map(|s| s.sample(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }
}
