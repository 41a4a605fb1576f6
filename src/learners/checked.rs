//! Checked parameters: a learner reads its sampled values through [`Checked`], which fills the
//! absent ones from the `init` values of the learner's search space (its defaults, written in that
//! file and nowhere else) and names the parameter in every error ([`Error::Param`]).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::param::{Params, Value};

/// The defaults a search-space file gives: the `init` values of its `[params.*]` tables and the
/// values of its `[fixed]` table (parameters it does not search).
pub fn init_values(space_toml: &str) -> Result<Params> {
    let doc: toml::Table = toml::from_str(space_toml).map_err(|e| Error::Config(e.to_string()))?;
    let mut out = Params::default();
    let value = |name: &str, v: &toml::Value| match v {
        toml::Value::Integer(i) => Ok(Value::Int(*i)),
        toml::Value::Float(x) => Ok(Value::Float(*x)),
        toml::Value::Boolean(b) => Ok(Value::Bool(*b)),
        toml::Value::String(s) => Ok(Value::Str(s.clone())),
        other => Err(Error::param(
            name,
            format!("a default must be a number, boolean or string, not {other}"),
        )),
    };
    let table = |key: &str| doc.get(key).and_then(toml::Value::as_table);
    for (name, spec) in table("params").into_iter().flatten() {
        if let Some(init) = spec.get("init") {
            out.set(name, value(name, init)?);
        }
    }
    for (name, v) in table("fixed").into_iter().flatten() {
        out.set(name, value(name, v)?);
    }
    Ok(out)
}

/// The defaults of learner `name`: the `init` values of its embedded search space (parsed once;
/// empty for an unknown learner). The spaces are tested to parse.
pub fn defaults(name: &str) -> &'static Params {
    static ALL: OnceLock<BTreeMap<&'static str, Params>> = OnceLock::new();
    static NONE: OnceLock<Params> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        super::REGISTRY
            .iter()
            .map(|l| (l.name(), init_values(l.space()).unwrap_or_default()))
            .collect()
    });
    all.get(name).unwrap_or_else(|| NONE.get_or_init(Params::default))
}

/// Upper bounds from here on read as "no upper bound" in messages.
const UNBOUNDED: i64 = 1 << 30;

/// Sampled parameters of one learner, read with their defaults and range checks.
pub struct Checked<'a> {
    learner: &'static str,
    given: &'a Params,
    init: &'static Params,
}

impl<'a> Checked<'a> {
    /// Read `given` as parameters of `learner`.
    pub fn new(learner: &'static str, given: &'a Params) -> Checked<'a> {
        Checked {
            learner,
            given,
            init: defaults(learner),
        }
    }

    /// Whether `name` has a value (given, or an `init` in the space).
    pub fn has(&self, name: &str) -> bool {
        self.given.0.contains_key(name) || self.init.0.contains_key(name)
    }

    fn name(&self, name: &str) -> String {
        format!("{}.{name}", self.learner)
    }

    fn source(&self, name: &str) -> Result<&Params> {
        if self.given.0.contains_key(name) {
            Ok(self.given)
        } else if self.init.0.contains_key(name) {
            Ok(self.init)
        } else {
            Err(Error::param(
                self.name(name),
                format!("no value given and no init in search/{}.toml", self.learner),
            ))
        }
    }

    /// A real value in `[low, high]`.
    pub fn real(&self, name: &str, low: f64, high: f64) -> Result<f64> {
        let v = self
            .source(name)?
            .f64_or(name, f64::NAN)
            .map_err(|e| self.rename(e, name))?;
        if v.is_finite() && v >= low && v <= high {
            Ok(v)
        } else {
            Err(Error::param(
                self.name(name),
                format!("must be in [{low}, {high}], got {v}"),
            ))
        }
    }

    /// A real value in `(low, high]`.
    pub fn real_above(&self, name: &str, low: f64, high: f64) -> Result<f64> {
        let v = self
            .source(name)?
            .f64_or(name, f64::NAN)
            .map_err(|e| self.rename(e, name))?;
        if v.is_finite() && v > low && v <= high {
            Ok(v)
        } else {
            Err(Error::param(
                self.name(name),
                format!("must be in ({low}, {high}], got {v}"),
            ))
        }
    }

    /// A whole value in `[low, high]` (reals are rounded).
    pub fn int(&self, name: &str, low: i64, high: i64) -> Result<i64> {
        let v = self
            .source(name)?
            .int_or(name, 0)
            .map_err(|e| self.rename(e, name))?;
        if v >= low && v <= high {
            Ok(v)
        } else if high >= UNBOUNDED {
            Err(Error::param(
                self.name(name),
                format!("must be at least {low}, got {v}"),
            ))
        } else {
            Err(Error::param(
                self.name(name),
                format!("must be in [{low}, {high}], got {v}"),
            ))
        }
    }

    /// A count in `[low, high]`.
    pub fn count(&self, name: &str, low: usize, high: usize) -> Result<usize> {
        let v = self.int(name, low as i64, high as i64)?;
        Ok(v as usize)
    }

    /// One of `options`.
    pub fn choice(&self, name: &str, options: &[&'static str]) -> Result<&'static str> {
        let v = self
            .source(name)?
            .str_or(name, "")
            .map_err(|e| self.rename(e, name))?;
        options.iter().copied().find(|o| *o == v).ok_or_else(|| {
            Error::param(
                self.name(name),
                format!("unknown value '{v}' ({})", options.join(", ")),
            )
        })
    }

    fn rename(&self, e: Error, name: &str) -> Error {
        match e {
            Error::Param { message, .. } => Error::param(self.name(name), message),
            e => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_every_space_file_and_errors_name_the_parameter() {
        for l in super::super::REGISTRY {
            let init = init_values(l.space()).unwrap();
            assert_eq!(defaults(l.name()), &init, "{}", l.name());
            // Every learner accepts its own defaults.
            l.check(&Params::default())
                .unwrap_or_else(|e| panic!("{}: {e}", l.name()));
        }
        // gbdt's defaults are its space's init values, not LightGBM's (min_child_weight 1e-3).
        let init = defaults("gbdt");
        let g = super::super::gbdt::GbdtParams::default();
        assert_eq!(Value::Float(g.min_child_weight), init.0["min_child_weight"]);
        assert_eq!(Value::Int(g.num_leaves as i64), init.0["num_leaves"]);
        // Its unsearched parameters take the values of the space's [fixed] table, which are
        // LightGBM's but for the row-count limit (1: none).
        assert_eq!(init.0["max_bin"], Value::Int(255));
        let lgb = super::super::gbdt::GbdtParams::lightgbm();
        assert_eq!(
            (
                g.max_depth,
                g.min_child_samples,
                g.min_split_gain,
                g.subsample,
                g.max_bin
            ),
            (
                lgb.max_depth,
                lgb.min_child_samples,
                lgb.min_split_gain,
                lgb.subsample,
                lgb.max_bin
            )
        );
        assert_eq!((g.loss, g.early_stopping_rounds), (lgb.loss, 0));
        let mut p = Params::default();
        p.set("max_depth", Value::Int(0));
        let e = Checked::new("decision_tree", &p)
            .count("max_depth", 1, 64)
            .unwrap_err();
        assert!(
            matches!(&e, Error::Param { name, .. } if name == "decision_tree.max_depth"),
            "{e}"
        );
        p.set("criterion", Value::Str("gain".into()));
        let e = Checked::new("decision_tree", &p)
            .choice("criterion", &["gini", "entropy"])
            .unwrap_err();
        assert!(
            e.to_string().contains("unknown value 'gain' (gini, entropy)"),
            "{e}"
        );
        p.set("alpha", Value::Str("big".into()));
        let e = Checked::new("ridge", &p).real("alpha", 0.0, 1e9).unwrap_err();
        assert!(
            matches!(&e, Error::Param { name, .. } if name == "ridge.alpha"),
            "{e}"
        );
        let e = Checked::new("ridge", &Params::default())
            .real("nope", 0.0, 1.0)
            .unwrap_err();
        assert!(e.to_string().contains("no init in search/ridge.toml"), "{e}");
    }
}
