//! Logistic regression (learner `logistic_regression`): L2-regularised, by our L-BFGS on sparse
//! rows ([`super::linear`]); multinomial for three classes or more. (Models saved by earlier
//! versions, fitted by linfa-logistic, still load and predict.)

use super::checked::Checked;
use super::{unsupported, Fitted, Learner, Shape, Y};
use crate::data::Task;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::param::Params;

const NAME: &str = "logistic_regression";

/// The learner `logistic_regression`.
pub struct LogisticRegression;

/// Checked parameters of [`LogisticRegression`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticParams {
    alpha: f64,
    max_iterations: u64,
    balanced: bool,
}

impl LogisticParams {
    /// Read and check sampled parameters; absent ones take the space's `init` values.
    pub fn check(p: &Params) -> Result<LogisticParams> {
        let c = Checked::new(NAME, p);
        Ok(LogisticParams {
            alpha: c.real("alpha", 0.0, 1e12)?,
            max_iterations: c.int("max_iterations", 1, 1_000_000)? as u64,
            balanced: super::balanced(&c)?,
        })
    }
}

impl Learner for LogisticRegression {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/logistic_regression.toml")
    }

    fn check(&self, params: &Params) -> Result<()> {
        LogisticParams::check(params).map(drop)
    }

    fn fit(&self, params: &Params, task: Task, x: Matrix, _: &[bool], y: Y, _: u64) -> Result<Fitted> {
        let Y::Classes(c, k) = y else {
            return Err(unsupported(NAME, task));
        };
        let p = LogisticParams::check(params)?;
        let weights = p.balanced.then(|| super::balanced_weights(c, k));
        let (coef, intercept) =
            super::linear::logistic(&x, c, k, p.alpha, p.max_iterations as usize, weights.as_deref());
        if coef.iter().chain(&intercept).any(|v| !v.is_finite()) {
            return Err(Error::learner(NAME, "the solver diverged (non-finite weights)"));
        }
        Ok(Fitted::LogisticCoef {
            coef,
            intercept,
            n_classes: k,
        })
    }

    fn cost(&self, params: &Params, s: &Shape) -> f64 {
        // L-BFGS iterations (most stop before 100) × two passes over each row's non-zeros.
        let iters = LogisticParams::check(params).map_or(100, |p| p.max_iterations) as f64;
        let outputs = if s.k > 2.0 { s.k } else { 1.0 };
        // Plus the per-row work outside the iterations (scaling, the line search's set-up).
        125.0 * iters.min(100.0) / 100.0 * s.n * (s.raw + s.d / 8.0) * outputs + 300.0 * s.n
    }
}
