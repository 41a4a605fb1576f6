//! automl: an AutoML and hyperparameter-sweep engine.
//!
//! Data flows one way: [`data`] (read, infer schema) → [`prep`] (impute, scale, encode) →
//! [`learners`] → [`space`] / [`sampler`] (what to try) → [`trials`] (validate in parallel) →
//! [`model`] (the fitted pipeline and its file). [`AutoML`] ties them together.

pub mod automl;
pub mod cancel;
pub mod data;
pub mod error;
pub mod learners;
pub mod matrix;
pub mod metrics;
pub mod model;
pub mod prep;
pub mod pruners;
pub mod samplers;
pub mod space;
pub mod store;
pub mod sweep;
pub mod trials;
pub mod validation;

pub use crate::automl::{AutoML, AutoMLBuilder, RunSummary};
pub use crate::data::{Dataset, Table, Task};
pub use crate::error::{Error, Result};
pub use crate::metrics::Metric;
pub use crate::model::ModelFile;
