//! The lasso (learner `lasso`): L1-regularised linear regression by our covariance coordinate
//! descent (the elastic net's fit with an L1 ratio of 1).

use super::checked::Checked;
use super::elastic_net::fit_penalised;
use super::{unsupported, Fitted, Learner, Shape, Y};
use crate::data::Task;
use crate::error::Result;
use crate::matrix::Matrix;
use crate::param::Params;

const NAME: &str = "lasso";

/// The learner `lasso`.
pub struct Lasso;

/// Checked parameters of [`Lasso`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LassoParams {
    alpha: f64,
}

impl LassoParams {
    /// Read and check sampled parameters; absent ones take the space's `init` values.
    pub fn check(p: &Params) -> Result<LassoParams> {
        Ok(LassoParams {
            alpha: Checked::new(NAME, p).real("alpha", 0.0, 1e12)?,
        })
    }
}

impl Learner for Lasso {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/lasso.toml")
    }

    fn check(&self, params: &Params) -> Result<()> {
        LassoParams::check(params).map(drop)
    }

    fn fit(&self, params: &Params, task: Task, x: Matrix, _: &[bool], y: Y, _: u64) -> Result<Fitted> {
        let Y::Values(v) = y else {
            return Err(unsupported(NAME, task));
        };
        fit_penalised(NAME, &x, v, LassoParams::check(params)?.alpha, 1.0)
    }

    fn cost(&self, _: &Params, s: &Shape) -> f64 {
        // Gram matrix from each row's non-zeros, then coordinate-descent sweeps over it.
        s.n * s.raw * s.raw + 50.0 * s.d * s.d
    }
}
