//! Ordinary least squares (learner `linear_regression`), by our sparse Gram + Cholesky solver
//! ([`super::linear`]).

use super::{unsupported, Fitted, Learner, Shape, Y};
use crate::data::Task;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::param::Params;

const NAME: &str = "linear_regression";

/// The learner `linear_regression` (no parameters).
pub struct LinearRegression;

impl Learner for LinearRegression {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/linear_regression.toml")
    }

    fn check(&self, _: &Params) -> Result<()> {
        Ok(())
    }

    fn fit(&self, _: &Params, task: Task, x: Matrix, _: &[bool], y: Y, _: u64) -> Result<Fitted> {
        let Y::Values(v) = y else {
            return Err(unsupported(NAME, task));
        };
        // Least squares through the ridge solver with a vanishing ridge: one-hot columns that sum
        // to the intercept make X rank-deficient, and the tiny ridge picks the minimum-norm
        // solution there (as an SVD solve would) at the cost of one Cholesky solve.
        let (coef, intercept) = super::linear::ridge(&x, v, 0.0)
            .ok_or_else(|| Error::learner(NAME, "the system is not positive definite (non-finite input?)"))?;
        Ok(Fitted::LinearCoef { coef, intercept })
    }

    fn cost(&self, _: &Params, s: &Shape) -> f64 {
        // Gram matrix from each row's non-zeros, then a Cholesky solve.
        s.n * s.raw * s.raw + s.d.powi(3) / 6.0
    }
}
