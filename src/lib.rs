//! automl: an AutoML and hyperparameter-sweep engine.
//!
//! Data flows one way: [`data`] (read, infer schema) → [`prep`] (impute, scale, encode) →
//! [`learners`] → [`space`] / [`samplers`] / [`pruners`] (what to try, when to stop) →
//! [`sweep`] (the trial scheduler: Sweep / Trial, ask / tell) → [`trials`] (the objective of
//! `automl run`) → [`model`] / [`store`]. [`AutoML`] ties them together; [`sweep::Sweep`] sweeps
//! any objective.

pub mod automl;
pub mod cancel;
pub mod command;
pub mod data;
pub mod error;
pub mod guard;
pub mod job;
pub mod learners;
pub mod matrix;
pub mod metrics;
pub mod model;
pub mod param;
pub mod prep;
pub mod pruners;
pub mod report;
pub mod samplers;
pub mod space;
pub mod state;
pub mod store;
pub mod sweep;
pub mod trials;
pub mod validation;

pub use crate::automl::{AutoML, AutoMLBuilder, RunSummary};

/// The README's Rust examples, compiled (and run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
pub use crate::data::{Dataset, Table, Task};
pub use crate::error::{Error, Result};
pub use crate::metrics::Metric;
pub use crate::model::ModelFile;
