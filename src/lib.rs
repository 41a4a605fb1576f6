//! automl: an AutoML and hyperparameter-sweep engine.
//!
//! Modules depend on each other one way (`tests/module_graph.rs` fails on a `crate::` import
//! cycle). From the leaves up:
//!
//! - leaves: [`error`], [`param`] (parameter values), [`state`] (the one trial/run state),
//!   [`guard`] (the panic guard), [`heap`] (one malloc arena for large inputs), [`cancel`],
//!   [`matrix`], [`pruners`] (policies: pure functions of a trial history);
//! - [`data`] (read, infer schema) → [`prep`] (impute, scale, encode) and [`validation`]
//!   (splits) → [`learners`] (one file per learner, one registry) → [`metrics`] → [`ensemble`]
//!   (validation predictions of the best trials, greedy selection, stacking) → [`model`] (fitted
//!   pipelines and ensembles, the model file);
//! - [`space`] (search spaces; its catalogue comes from the learner registry) → [`samplers`] →
//!   [`sweep`] (the trial scheduler: Sweep / Trial, ask / tell, and the [`sweep::TrialStore`]
//!   seam it writes every trial through and reads its history back from);
//! - [`trials`] (the objective of `automl run`) and [`command`] (trials that run a program);
//! - [`store`] (the workspace: runs, registry, and `store::RunStudy`, a sweep's trials as child
//!   runs) → [`automl`] ([`AutoML`]: `automl run` as a library) and [`job`] (sweep jobs) →
//!   [`report`] (leaderboards, HTML).

pub mod automl;
pub mod cancel;
pub mod command;
pub mod data;
pub mod device;
pub mod ensemble;
pub mod error;
pub mod guard;
pub mod guardrails;
pub mod heap;
pub mod http;
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
pub mod serve;
pub mod space;
pub mod state;
pub mod store;
pub mod sweep;
pub mod tracking;
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
