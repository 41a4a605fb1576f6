//! Parameter values (a leaf module): what a trial tried, as learners, samplers and the store see it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
            Some(v) => Err(Error::param(name, format!("expected a number, got '{v}'"))),
        }
    }

    /// A whole value, or `default` when absent (reals are rounded).
    pub fn int_or(&self, name: &str, default: i64) -> Result<i64> {
        match self.0.get(name) {
            None => Ok(default),
            Some(Value::Int(i)) => Ok(*i),
            Some(Value::Float(x)) if x.is_finite() => Ok(x.round() as i64),
            Some(v) => Err(Error::param(name, format!("expected a whole number, got '{v}'"))),
        }
    }

    /// A string value, or `default` when absent.
    pub fn str_or<'a>(&'a self, name: &str, default: &'a str) -> Result<&'a str> {
        match self.0.get(name) {
            None => Ok(default),
            Some(Value::Str(s)) => Ok(s),
            Some(v) => Err(Error::param(name, format!("expected a string, got '{v}'"))),
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

impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Float(x)
    }
}
impl From<i64> for Value {
    fn from(x: i64) -> Value {
        Value::Int(x)
    }
}
impl From<bool> for Value {
    fn from(x: bool) -> Value {
        Value::Bool(x)
    }
}
impl From<&str> for Value {
    fn from(x: &str) -> Value {
        Value::Str(x.to_string())
    }
}
impl From<String> for Value {
    fn from(x: String) -> Value {
        Value::Str(x)
    }
}
