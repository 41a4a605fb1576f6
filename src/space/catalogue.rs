//! The catalogue of search spaces: one TOML file per learner (and one for preprocessing) under
//! `search/`, embedded at build time, each listing parameters with a distribution, an optional
//! `init` value (the learner's default) and an optional `low_cost` value (the cheapest sensible
//! configuration, tried first); and the `--search-space` files that narrow or override them.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Dist, ParamSpec, Params, Value};
use crate::data::Task;
use crate::error::{Error, Result};

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
    /// Parameters the learner takes but does not search, at these values, unless a
    /// `--search-space` file sets or searches them.
    #[serde(default)]
    pub fixed: BTreeMap<String, Value>,
}

impl LearnerSpace {
    /// Parse a space from TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<LearnerSpace> {
        let space: LearnerSpace = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{origin}: {}", e.to_string().trim_end())))?;
        for (name, p) in &space.params {
            p.dist
                .check(name)
                .map_err(|e| Error::Config(format!("{origin}: {}", e.detail())))?;
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

/// The spaces shipped in `search/`, embedded at build time: preprocessing, then each learner's
/// (from [`crate::learners::REGISTRY`]), as (file, text).
pub fn builtin_files() -> Vec<(String, &'static str)> {
    let mut out = vec![(
        "search/preprocessing.toml".to_string(),
        include_str!("../../search/preprocessing.toml"),
    )];
    for l in crate::learners::REGISTRY {
        out.push((format!("search/{}.toml", l.name()), l.space()));
    }
    out
}

/// One learner as `automl learners` lists it: what it is, what it does, and how a run treats it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LearnerEntry {
    /// Name, as in `--learners`.
    pub name: String,
    /// One-line description (its space file's).
    pub description: String,
    /// Tasks it can do.
    pub tasks: Vec<Task>,
    /// Whether a run searches it without `--learners` naming it.
    pub by_default: bool,
    /// Whether it takes raw input (missing values, category codes) instead of a searched
    /// preprocessing recipe.
    pub native_input: bool,
    /// Whether its trials run on a GPU slot when the run has one.
    pub gpu: bool,
    /// Its searched parameters, by name.
    pub params: Vec<String>,
    /// The parameters it takes at fixed values (its space's `[fixed]` table), which a
    /// `--search-space` file may set or search, by name.
    pub fixed: Vec<String>,
    /// Where its space lives in the source tree (embedded in the binary).
    pub space_file: String,
    /// The text of that space file.
    #[serde(skip)]
    pub space_text: &'static str,
}

/// Every learner, in the order a run tries them, from [`crate::learners::REGISTRY`] and the
/// spaces shipped with the crate.
pub fn learner_entries() -> Result<Vec<LearnerEntry>> {
    crate::learners::REGISTRY
        .iter()
        .map(|l| {
            let file = format!("search/{}.toml", l.name());
            let space = LearnerSpace::from_toml(l.space(), &file)?;
            Ok(LearnerEntry {
                name: l.name().to_string(),
                description: space.description,
                tasks: space.tasks,
                by_default: l.by_default(),
                native_input: l.native_input(),
                gpu: l.gpu(),
                params: space.params.into_keys().collect(),
                fixed: space.fixed.into_keys().collect(),
                space_file: file,
                space_text: l.space(),
            })
        })
        .collect()
}

/// The preprocessing space and every learner space shipped with the crate.
pub fn builtin_spaces() -> Result<(LearnerSpace, Vec<LearnerSpace>)> {
    let mut prep = None;
    let mut learners = Vec::new();
    for (origin, text) in builtin_files() {
        let s = LearnerSpace::from_toml(text, &origin)?;
        if origin != format!("search/{}.toml", s.learner) {
            return Err(Error::Config(format!(
                "{origin} describes learner '{}'",
                s.learner
            )));
        }
        if s.learner == "preprocessing" {
            prep = Some(s);
        } else {
            learners.push(s);
        }
    }
    let prep = prep.ok_or_else(|| Error::Config("no preprocessing space".into()))?;
    Ok((prep, learners))
}

/// `" line N"` for the first line of `text` that opens table `[name]` / `[x.name]` or sets `name`.
pub fn line_suffix(text: &str, name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    text.lines()
        .position(|l| {
            let t = l.trim();
            t == format!("[{name}]")
                || (t.starts_with('[') && t.trim_end_matches(']').ends_with(&format!(".{name}")))
                || t.starts_with(&format!("{name} ="))
                || t.starts_with(&format!("{name}="))
        })
        .map(|i| format!(", line {}", i + 1))
        .unwrap_or_default()
}

/// A `--search-space` file for `automl run`: optional `learners = [...]` to narrow the learners,
/// and `[LEARNER.PARAM]` tables (or `[preprocessing.PARAM]`) replacing a parameter's default
/// distribution, e.g.
///
/// ```toml
/// learners = ["random_forest", "logistic_regression"]
/// [random_forest.n_trees]
/// type = "randint"
/// low = 10
/// high = 60
/// low_cost = 10
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpaceFile {
    /// Learners to search, when given.
    pub learners: Option<Vec<String>>,
    /// Replacement parameter specs by learner (or `preprocessing`) and parameter name.
    pub params: BTreeMap<String, BTreeMap<String, ParamSpec>>,
    text: String,
    origin: String,
}

impl SpaceFile {
    /// Parse the file's text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<SpaceFile> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{origin}: {}", e.to_string().trim_end())))?;
        let mut out = SpaceFile {
            text: text.to_string(),
            origin: origin.to_string(),
            ..SpaceFile::default()
        };
        for (key, value) in table {
            if key == "learners" {
                let list: Vec<String> = value.try_into().map_err(|_| {
                    Error::Config(format!(
                        "{origin}{}: learners must be a list of learner names",
                        line_suffix(text, "learners")
                    ))
                })?;
                out.learners = Some(list);
                continue;
            }
            let toml::Value::Table(params) = value else {
                return Err(Error::Config(format!(
                    "{origin}{}: '{key}' must be a table of parameters ([{key}.PARAM])",
                    line_suffix(text, &key)
                )));
            };
            let mut specs = BTreeMap::new();
            for (name, v) in params {
                let spec: ParamSpec = v.try_into().map_err(|e: toml::de::Error| {
                    Error::Config(format!(
                        "{origin}{}: {key}.{name}: {}",
                        line_suffix(text, &format!("{key}.{name}")),
                        e.message().trim_end()
                    ))
                })?;
                spec.dist.check(&format!("{key}.{name}")).map_err(|e| {
                    Error::Config(format!(
                        "{origin}{}: {}",
                        line_suffix(text, &format!("{key}.{name}")),
                        e.detail()
                    ))
                })?;
                specs.insert(name, spec);
            }
            out.params.insert(key, specs);
        }
        Ok(out)
    }

    /// A short fingerprint of the file's content (FNV-1a), recorded so a resume uses the same space.
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.text.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// Read and parse a file.
    pub fn load(path: &std::path::Path) -> Result<SpaceFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read search space {}: {e}", path.display())))?;
        SpaceFile::from_toml(&text, &path.display().to_string())
    }

    /// Replace the parameters of `spaces` named in the file, or add one a space holds fixed (it is
    /// then searched, or set where the file gives one value); an error names a learner or
    /// parameter the spaces do not have.
    pub fn apply(&self, spaces: &mut [LearnerSpace]) -> Result<()> {
        for (learner, params) in &self.params {
            let Some(space) = spaces.iter_mut().find(|s| &s.learner == learner) else {
                let known: Vec<&str> = spaces.iter().map(|s| s.learner.as_str()).collect();
                return Err(Error::Config(format!(
                    "{}{}: unknown learner '{learner}' (known: {})",
                    self.origin,
                    line_suffix(&self.text, learner),
                    known.join(", ")
                )));
            };
            for (name, spec) in params {
                if !space.params.contains_key(name) && !space.fixed.contains_key(name) {
                    let list = |names: Vec<&String>| match names.is_empty() {
                        true => "none".to_string(),
                        false => names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "),
                    };
                    let fixed = match space.fixed.is_empty() {
                        true => String::new(),
                        false => format!("; fixed, settable: {}", list(space.fixed.keys().collect())),
                    };
                    return Err(Error::Config(format!(
                        "{}{}: {learner} has no parameter '{name}' (searched: {}{fixed})",
                        self.origin,
                        line_suffix(&self.text, &format!("{learner}.{name}")),
                        list(space.params.keys().collect()),
                    )));
                }
                self.check_values(learner, name, spec)?;
                space.params.insert(name.clone(), spec.clone());
            }
        }
        Ok(())
    }

    /// Refuse, before any trial runs, a value the learner would refuse in every trial that draws
    /// it: each value of a choice, and both ends of a bounded range, checked alone (the other
    /// parameters at their defaults) by the learner's parameter type.
    fn check_values(&self, learner: &str, name: &str, spec: &ParamSpec) -> Result<()> {
        let Ok(l) = crate::learners::get(learner) else {
            return Ok(()); // preprocessing: its recipe checks its own values
        };
        let values: Vec<Value> = match &spec.dist {
            Dist::Choice { values } => values.clone(),
            Dist::Normal { .. } | Dist::Lognormal { .. } | Dist::Qnormal { .. } | Dist::Qlognormal { .. } => {
                Vec::new() // unbounded: values are checked as trials draw them
            }
            _ => vec![spec.from_unit(0.0), spec.from_unit(1.0)],
        };
        for v in values {
            let mut p = Params::default();
            p.set(name, v);
            l.check(&p).map_err(|e| {
                Error::Config(format!(
                    "{}{}: {}",
                    self.origin,
                    line_suffix(&self.text, &format!("{learner}.{name}")),
                    e.detail()
                ))
            })?;
        }
        Ok(())
    }
}
