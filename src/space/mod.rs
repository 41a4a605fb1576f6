//! Search spaces: parameter distributions ([`Dist`], [`ParamSpec`]) and the conditional
//! [`SearchSpace`] a sweep samples from. The catalogue of shipped spaces (one TOML file per
//! learner under `search/`, embedded at build time) and the user's space files are in
//! [`catalogue`].

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use crate::param::{Params, Value};

pub mod catalogue;

pub use catalogue::{
    builtin_files, builtin_spaces, learner_entries, line_suffix, LearnerEntry, LearnerSpace, SpaceFile,
};

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
    /// Normal, rounded to a multiple of `q`.
    Qnormal {
        /// Mean.
        mu: f64,
        /// Standard deviation.
        sigma: f64,
        /// Step.
        q: f64,
    },
    /// exp(Normal(mu, sigma)), rounded to a multiple of `q`.
    Qlognormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Deviation of the logarithm.
        sigma: f64,
        /// Step.
        q: f64,
    },
}

impl Dist {
    /// The values of a choice (`None` for a range).
    pub fn choices(&self) -> Option<&[Value]> {
        match self {
            Dist::Choice { values } => Some(values),
            _ => None,
        }
    }

    // Negated comparisons on purpose: a NaN bound must fail every check.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    /// Check the bounds; errors name parameter `name`.
    pub fn check(&self, name: &str) -> Result<()> {
        let bad = |m: &str| Err(Error::param(name, m));
        let finite = |xs: &[f64]| xs.iter().all(|x| x.is_finite()) && (xs[1] - xs[0]).is_finite();
        match self {
            Dist::Choice { values } if values.is_empty() => bad("choice needs at least one value"),
            Dist::Uniform { low, high }
            | Dist::Loguniform { low, high }
            | Dist::Quniform { low, high, .. }
            | Dist::Qloguniform { low, high, .. }
                if !finite(&[*low, *high]) =>
            {
                bad("bounds must be finite numbers (and their difference too)")
            }
            Dist::Normal { mu, sigma }
            | Dist::Lognormal { mu, sigma }
            | Dist::Qnormal { mu, sigma, .. }
            | Dist::Qlognormal { mu, sigma, .. }
                if !finite(&[*mu, *sigma]) =>
            {
                bad("mu and sigma must be finite numbers")
            }
            Dist::Uniform { low, high } | Dist::Quniform { low, high, .. } if !(low <= high) => {
                bad("low must not exceed high")
            }
            Dist::Loguniform { low, high } | Dist::Qloguniform { low, high, .. }
                if !(*low > 0.0 && low <= high) =>
            {
                bad("log-uniform bounds must satisfy 0 < low <= high")
            }
            Dist::Quniform { q, .. }
            | Dist::Qloguniform { q, .. }
            | Dist::Qnormal { q, .. }
            | Dist::Qlognormal { q, .. }
                if !(*q > 0.0) =>
            {
                bad("q must be positive")
            }
            Dist::Randint { low, high } if low > high => bad("low must not exceed high"),
            Dist::Normal { sigma, .. }
            | Dist::Lognormal { sigma, .. }
            | Dist::Qnormal { sigma, .. }
            | Dist::Qlognormal { sigma, .. }
                if !(*sigma > 0.0) =>
            {
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
            Dist::Qnormal { mu, sigma, q } => Value::Float(quantize(mu + sigma * std_normal(rng), *q)),
            Dist::Qlognormal { mu, sigma, q } => {
                Value::Float(quantize((mu + sigma * std_normal(rng)).exp(), *q))
            }
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
    /// Condition: the parameter exists only when the named parameter takes one of the listed
    /// values (`when = { solver = ["saga"] }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<BTreeMap<String, Vec<Value>>>,
}

impl ParamSpec {
    /// A parameter with distribution `dist` and no init / low-cost point.
    pub fn new(dist: Dist) -> ParamSpec {
        ParamSpec {
            dist,
            init: None,
            low_cost: None,
            integer: false,
            when: None,
        }
    }

    /// One of `values`, uniformly.
    pub fn choice<V: Into<Value>>(values: impl IntoIterator<Item = V>) -> ParamSpec {
        ParamSpec::new(Dist::Choice {
            values: values.into_iter().map(Into::into).collect(),
        })
    }

    /// Uniform real in `[low, high]`.
    pub fn uniform(low: f64, high: f64) -> ParamSpec {
        ParamSpec::new(Dist::Uniform { low, high })
    }

    /// Log-uniform real in `[low, high]`.
    pub fn loguniform(low: f64, high: f64) -> ParamSpec {
        ParamSpec::new(Dist::Loguniform { low, high })
    }

    /// Uniform whole number in `[low, high]`.
    pub fn randint(low: i64, high: i64) -> ParamSpec {
        ParamSpec::new(Dist::Randint { low, high })
    }

    /// Set the good general starting value.
    pub fn with_init(mut self, v: impl Into<Value>) -> ParamSpec {
        self.init = Some(v.into());
        self
    }

    /// Set the cheapest sensible value (cost-frugal search starts there).
    pub fn with_low_cost(mut self, v: impl Into<Value>) -> ParamSpec {
        self.low_cost = Some(v.into());
        self
    }

    /// Round sampled values to whole numbers.
    pub fn integer(mut self) -> ParamSpec {
        self.integer = true;
        self
    }

    /// Make the parameter exist only when `on` takes one of `values`.
    pub fn when<V: Into<Value>>(mut self, on: &str, values: impl IntoIterator<Item = V>) -> ParamSpec {
        let mut m = BTreeMap::new();
        m.insert(on.to_string(), values.into_iter().map(Into::into).collect());
        self.when = Some(m);
        self
    }

    /// Round to whole numbers when the parameter is an integer one.
    pub fn finish(&self, v: Value) -> Value {
        match (self.integer, v) {
            (true, Value::Float(x)) => Value::Int(x.round() as i64),
            (_, v) => v,
        }
    }

    /// Draw one value (rounded when integer).
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Value {
        self.finish(self.dist.sample(rng))
    }

    /// Where the search starts: `low_cost`, else `init`, else the middle of the range (the first
    /// value of a choice).
    pub fn start(&self) -> Value {
        if let Some(v) = self.low_cost.clone().or_else(|| self.init.clone()) {
            return self.finish(v);
        }
        match &self.dist {
            Dist::Choice { values } => values[0].clone(),
            _ => self.from_unit(0.5),
        }
    }

    /// Number of distinct values when the domain is finite and small (choices, integer ranges).
    pub fn cardinality(&self) -> Option<usize> {
        match &self.dist {
            Dist::Choice { values } => Some(values.len()),
            Dist::Randint { low, high } => usize::try_from(high - low + 1).ok(),
            _ => None,
        }
    }

    /// The bounds of the unit mapping in the transformed (log for log distributions) domain.
    fn transformed_bounds(&self) -> (f64, f64, bool) {
        match &self.dist {
            Dist::Choice { values } => (0.0, values.len() as f64, false),
            Dist::Uniform { low, high } | Dist::Quniform { low, high, .. } => (*low, *high, false),
            Dist::Loguniform { low, high } | Dist::Qloguniform { low, high, .. } => {
                (low.ln(), high.ln(), true)
            }
            Dist::Randint { low, high } => (*low as f64 - 0.5, *high as f64 + 0.5, false),
            Dist::Normal { mu, sigma } | Dist::Qnormal { mu, sigma, .. } => {
                (mu - 3.0 * sigma, mu + 3.0 * sigma, false)
            }
            Dist::Lognormal { mu, sigma } | Dist::Qlognormal { mu, sigma, .. } => {
                (mu - 3.0 * sigma, mu + 3.0 * sigma, true)
            }
        }
    }

    /// Map a value to `[0, 1]` (log scale for log distributions; a choice's index to the middle of
    /// its cell). `None` for a value the distribution cannot hold.
    pub fn to_unit(&self, v: &Value) -> Option<f64> {
        if let Dist::Choice { values } = &self.dist {
            let i = values.iter().position(|x| x == v)?;
            return Some((i as f64 + 0.5) / values.len() as f64);
        }
        let x = match v {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            _ => return None,
        };
        let (lo, hi, log) = self.transformed_bounds();
        let t = if log {
            if x <= 0.0 {
                return None;
            }
            x.ln()
        } else {
            x
        };
        if hi > lo {
            Some(((t - lo) / (hi - lo)).clamp(0.0, 1.0))
        } else {
            Some(0.5)
        }
    }

    /// The value at `u` in `[0, 1]` (inverse of [`ParamSpec::to_unit`], rounded and quantised as
    /// the distribution requires).
    pub fn from_unit(&self, u: f64) -> Value {
        let u = if u.is_finite() { u.clamp(0.0, 1.0) } else { 0.5 };
        if let Dist::Choice { values } = &self.dist {
            let i = ((u * values.len() as f64).floor() as usize).min(values.len() - 1);
            return values[i].clone();
        }
        let (lo, hi, log) = self.transformed_bounds();
        let t = lo + u * (hi - lo);
        let x = if log { t.exp() } else { t };
        let v = match &self.dist {
            Dist::Quniform { low, high, q } => Value::Float(quantize(x, *q).clamp(*low, *high)),
            Dist::Qloguniform { low, high, q } => Value::Float(quantize(x, *q).clamp(*low, *high)),
            Dist::Randint { low, high } => Value::Int((x.round() as i64).clamp(*low, *high)),
            Dist::Uniform { low, high } | Dist::Loguniform { low, high } => {
                Value::Float(x.clamp(*low, *high))
            }
            Dist::Qnormal { q, .. } | Dist::Qlognormal { q, .. } => Value::Float(quantize(x, *q)),
            _ => Value::Float(x),
        };
        self.finish(v)
    }
}

/// A named parameter of a [`SearchSpace`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceParam {
    /// Name, unique in the space.
    pub name: String,
    /// Distribution, start points and condition.
    pub spec: ParamSpec,
}

/// A search space: parameters in order, each conditional one after the parameter it depends on.
///
/// ```
/// use automl::space::{ParamSpec, SearchSpace};
/// let space = SearchSpace::new()
///     .add("solver", ParamSpec::choice(["lbfgs", "saga"]))
///     .add("l1_ratio", ParamSpec::uniform(0.0, 1.0).when("solver", ["saga"]))
///     .add("c", ParamSpec::loguniform(1e-3, 1e3).with_init(1.0));
/// assert!(space.check().is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchSpace {
    /// The parameters, parents before the parameters conditional on them.
    pub params: Vec<SpaceParam>,
}

impl SearchSpace {
    /// An empty space.
    pub fn new() -> SearchSpace {
        SearchSpace::default()
    }

    /// Add a parameter (checked by [`SearchSpace::check`]).
    pub fn add(mut self, name: &str, spec: ParamSpec) -> SearchSpace {
        self.params.push(SpaceParam {
            name: name.to_string(),
            spec,
        });
        self
    }

    /// The parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name).map(|p| &p.spec)
    }

    /// Check distributions, unique names and conditions (each refers to an earlier choice
    /// parameter and lists values it can take).
    pub fn check(&self) -> Result<()> {
        if self.params.is_empty() {
            return Err(Error::Config("the search space has no parameters".into()));
        }
        for (i, p) in self.params.iter().enumerate() {
            p.spec.dist.check(&p.name)?;
            if self.params[..i].iter().any(|q| q.name == p.name) {
                return Err(Error::param(&p.name, "is defined twice"));
            }
            let Some(when) = &p.spec.when else { continue };
            if when.len() != 1 {
                return Err(Error::param(&p.name, "`when` names exactly one parameter"));
            }
            for (on, vals) in when {
                let parent = self.params[..i].iter().find(|q| &q.name == on);
                let Some(parent) = parent else {
                    return Err(Error::param(
                        &p.name,
                        format!("condition on '{on}', which is not a parameter defined before it"),
                    ));
                };
                let Dist::Choice { values } = &parent.spec.dist else {
                    return Err(Error::param(
                        &p.name,
                        format!("condition on '{on}', which is not a choice"),
                    ));
                };
                if let Some(v) = vals.iter().find(|v| !values.contains(v)) {
                    return Err(Error::param(
                        &p.name,
                        format!("condition value '{v}' is not one of {on}'s choices"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether parameter `p` exists given the values chosen so far.
    pub fn active(p: &SpaceParam, chosen: &Params) -> bool {
        match &p.spec.when {
            None => true,
            Some(w) => w
                .iter()
                .all(|(on, vals)| chosen.0.get(on).is_some_and(|v| vals.contains(v))),
        }
    }

    /// Build a configuration parameter by parameter, skipping inactive ones; `pick` gives the
    /// value of each active parameter.
    pub fn build(&self, mut pick: impl FnMut(usize, &SpaceParam, &Params) -> Value) -> Params {
        let mut out = Params::default();
        for (i, p) in self.params.iter().enumerate() {
            if Self::active(p, &out) {
                let v = pick(i, p, &out);
                out.set(&p.name, v);
            }
        }
        out
    }

    /// A random configuration.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Params {
        self.build(|_, p, _| p.spec.draw(rng))
    }

    /// The first choice parameter other parameters depend on (e.g. `learner`): the cost-frugal
    /// search runs one local search per value of it.
    pub fn branch_param(&self) -> Option<usize> {
        self.params.iter().position(|p| {
            matches!(p.spec.dist, Dist::Choice { .. })
                && p.spec.when.is_none()
                && self
                    .params
                    .iter()
                    .any(|q| q.spec.when.as_ref().is_some_and(|w| w.contains_key(&p.name)))
        })
    }

    /// Parse a space from TOML: one table per parameter (`[x] type = "uniform" …`, optional
    /// `when = { other = [values] }`). Parents are ordered before the parameters that depend on
    /// them; errors name `origin` and, where known, the line.
    pub fn from_toml(text: &str, origin: &str) -> Result<SearchSpace> {
        let table: BTreeMap<String, ParamSpec> = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{origin}: {}", e.to_string().trim_end())))?;
        SearchSpace::from_specs(table, text, origin)
    }

    /// A space from named specs (parents ordered first, then checked); `text` and `origin` name
    /// the lines of errors.
    pub fn from_specs(table: BTreeMap<String, ParamSpec>, text: &str, origin: &str) -> Result<SearchSpace> {
        let mut space = SearchSpace::new();
        let mut left: Vec<(String, ParamSpec)> = table.into_iter().collect();
        // Parents first: repeatedly take parameters whose condition is already placed.
        while !left.is_empty() {
            let before = left.len();
            let mut rest = Vec::new();
            for (name, spec) in left {
                let ready = spec
                    .when
                    .as_ref()
                    .is_none_or(|w| w.keys().all(|on| space.params.iter().any(|p| &p.name == on)));
                if ready {
                    space = space.add(&name, spec);
                } else {
                    rest.push((name, spec));
                }
            }
            left = rest;
            if left.len() == before {
                let (name, spec) = &left[0];
                let on = spec
                    .when
                    .as_ref()
                    .and_then(|w| w.keys().next().cloned())
                    .unwrap_or_default();
                return Err(Error::Config(format!(
                    "{origin}{}: parameter {name}: condition on '{on}', which is not a parameter (or is circular)",
                    line_suffix(text, name)
                )));
            }
        }
        space.check().map_err(|e| {
            let name = match &e {
                Error::Param { name, .. } => name.clone(),
                _ => String::new(),
            };
            Error::Config(format!("{origin}{}: {}", line_suffix(text, &name), e.detail()))
        })?;
        Ok(space)
    }
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

    #[test]
    fn search_space_file_narrows_and_names_bad_lines() {
        let (prep, mut learners) = builtin_spaces().unwrap();
        learners.push(prep);
        let text = "learners = [\"random_forest\"]\n\n[random_forest.n_trees]\ntype = \"randint\"\nlow = 10\nhigh = 20\n";
        let f = SpaceFile::from_toml(text, "s.toml").unwrap();
        f.apply(&mut learners).unwrap();
        let rf = learners.iter().find(|s| s.learner == "random_forest").unwrap();
        assert_eq!(rf.params["n_trees"].dist, Dist::Randint { low: 10, high: 20 });
        assert_eq!(f.learners.as_deref(), Some(&["random_forest".to_string()][..]));
        let bad = "\n[random_forest.n_tres]\ntype = \"randint\"\nlow = 1\nhigh = 2\n";
        let e = SpaceFile::from_toml(bad, "s.toml")
            .unwrap()
            .apply(&mut learners)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("n_tres"), "{e}");
        // A parameter gbdt holds fixed is searched once a file gives it a range.
        let gbdt = |l: &[LearnerSpace]| l.iter().find(|s| s.learner == "gbdt").unwrap().clone();
        assert!(!gbdt(&learners).params.contains_key("subsample"));
        assert_eq!(gbdt(&learners).fixed["subsample"], Value::Float(1.0));
        let text = "[gbdt.subsample]\ntype = \"uniform\"\nlow = 0.5\nhigh = 1.0\n";
        SpaceFile::from_toml(text, "s.toml")
            .unwrap()
            .apply(&mut learners)
            .unwrap();
        let dist = &gbdt(&learners).params["subsample"].dist;
        assert_eq!(dist, &Dist::Uniform { low: 0.5, high: 1.0 });
        // A value the learner refuses is reported with its line before any trial runs: a choice
        // value, or either end of a range.
        for (bad, want) in [
            (
                "\n[gbdt.max_bin]\ntype = \"choice\"\nvalues = [63, 1000]\n",
                "gbdt.max_bin: must be in [2, 255], got 1000",
            ),
            (
                "[gbdt.num_leaves]\ntype = \"randint\"\nlow = 1\nhigh = 8\n",
                "gbdt.num_leaves: must be in [2, 131072], got 1",
            ),
        ] {
            let e = SpaceFile::from_toml(bad, "s.toml")
                .unwrap()
                .apply(&mut learners)
                .unwrap_err()
                .to_string();
            assert!(e.contains("s.toml, line") && e.contains(want), "{e}");
        }
        let bad = "[knn.k]\ntype = \"loguniform\"\nlow = 0\nhigh = 2\n";
        let e = SpaceFile::from_toml(bad, "s.toml").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("0 < low"), "{e}");
        let bad = "[knn.k]\ntype = \"lognormal\"\nmu = 1\n";
        let e = SpaceFile::from_toml(bad, "s.toml").unwrap_err().to_string();
        assert!(e.contains("knn.k") && e.contains("sigma"), "{e}");
    }

    #[test]
    fn generic_space_toml_orders_parents_first_and_checks_conditions() {
        let text = "[lr]\ntype = \"loguniform\"\nlow = 1e-4\nhigh = 1.0\nwhen = { model = [\"b\"] }\n\n[model]\ntype = \"choice\"\nvalues = [\"a\", \"b\"]\n";
        let s = SearchSpace::from_toml(text, "g.toml").unwrap();
        assert_eq!(s.params[0].name, "model");
        assert_eq!(s.branch_param(), Some(0));
        let bad = text.replace("[\"b\"] }", "[\"z\"] }");
        let e = SearchSpace::from_toml(&bad, "g.toml").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("'z'"), "{e}");
        let u = ParamSpec::loguniform(1e-4, 1.0);
        let x = u.from_unit(u.to_unit(&Value::Float(0.01)).unwrap());
        assert!(matches!(x, Value::Float(v) if (v - 0.01).abs() < 1e-12));
    }
}
