//! Ridge regression (learner `ridge`): our sparse Gram + Cholesky solver, or its dual form when
//! columns outnumber rows ([`super::linear`]).

use super::checked::Checked;
use super::{unsupported, Fitted, Learner, Shape, Y};
use crate::data::Task;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::param::Params;

const NAME: &str = "ridge";

/// The learner `ridge`.
pub struct Ridge;

/// Checked parameters of [`Ridge`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RidgeParams {
    alpha: f64,
}

impl RidgeParams {
    /// Read and check sampled parameters; absent ones take the space's `init` values.
    pub fn check(p: &Params) -> Result<RidgeParams> {
        Ok(RidgeParams {
            alpha: Checked::new(NAME, p).real("alpha", 0.0, 1e12)?,
        })
    }
}

impl Learner for Ridge {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/ridge.toml")
    }

    fn check(&self, params: &Params) -> Result<()> {
        RidgeParams::check(params).map(drop)
    }

    fn fit(&self, params: &Params, task: Task, x: Matrix, _: &[bool], y: Y, _: u64) -> Result<Fitted> {
        let Y::Values(v) = y else {
            return Err(unsupported(NAME, task));
        };
        let p = RidgeParams::check(params)?;
        let (coef, intercept) = super::linear::ridge(&x, v, p.alpha)
            .ok_or_else(|| Error::learner(NAME, "the system is not positive definite (non-finite input?)"))?;
        Ok(Fitted::LinearCoef { coef, intercept })
    }

    fn cost(&self, _: &Params, s: &Shape) -> f64 {
        // Gram matrix from each row's non-zeros, then a Cholesky solve.
        s.n * s.raw * s.raw + s.d.powi(3) / 6.0
    }
}
