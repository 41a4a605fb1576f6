//! The crate's error type: every failure a user can cause is one of these, with a message that names the problem.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a run, each variant naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A data file could not be parsed as a table.
    #[error("{path}: cannot read table: {message}")]
    Parse {
        /// The file concerned.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The data is unusable for the requested task (empty, constant target, ...).
    #[error("{0}")]
    Data(String),
    /// Data given for prediction does not match the schema the model was trained on.
    #[error("schema mismatch: {0}")]
    Schema(String),
    /// A configuration value (CLI flag, search space, parameter) is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A parameter value is out of its range or of the wrong kind.
    #[error("invalid configuration: parameter {name}: {message}")]
    Param {
        /// The parameter, as named in search spaces (`max_depth`, `gbdt.num_leaves`).
        name: String,
        /// What is wrong with the value.
        message: String,
    },
    /// A learner failed to fit or predict.
    #[error("{learner}: {message}")]
    Learner {
        /// Learner name.
        learner: String,
        /// What failed.
        message: String,
    },
    /// A model file is unreadable or from an incompatible version.
    #[error("model file {path}: {message}")]
    ModelFile {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The workspace database is unusable or refused an operation.
    #[error("workspace store: {0}")]
    Store(String),
    /// No trial finished successfully, so there is no model.
    #[error("no trial succeeded: {0}")]
    NoModel(String),
    /// A worker's share of a distributed run is done and another worker finishes the run
    /// (ensemble, refit, model): not a failure.
    #[error("{0}")]
    FinishedElsewhere(String),
    /// A distributed run was recorded for workers and not run here (`--workers-only`).
    #[error("run {0} recorded for workers")]
    Submitted(i64),
}

impl Error {
    /// The message without its kind prefix, for wrapping in a more specific error.
    pub fn detail(&self) -> String {
        match self {
            Error::Config(m) => m.clone(),
            Error::Param { name, message } => format!("parameter {name}: {message}"),
            e => e.to_string(),
        }
    }
}

impl Error {
    /// Build an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Build an [`Error::Param`].
    pub fn param(name: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Param {
            name: name.into(),
            message: message.to_string(),
        }
    }

    /// Build an [`Error::Learner`].
    pub fn learner(learner: &str, message: impl std::fmt::Display) -> Self {
        Error::Learner {
            learner: learner.to_string(),
            message: message.to_string(),
        }
    }
}
