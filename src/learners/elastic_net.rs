//! Elastic net (learner `elastic_net`): L1+L2-regularised linear regression by our covariance
//! coordinate descent ([`super::linear`]); the lasso is the same fit with an L1 ratio of 1.

use super::checked::Checked;
use super::{unsupported, Fitted, Learner, Shape, Y};
use crate::data::Task;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::param::Params;

const NAME: &str = "elastic_net";

/// The learner `elastic_net`.
pub struct ElasticNet;

/// Checked parameters of [`ElasticNet`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ElasticNetParams {
    alpha: f64,
    l1_ratio: f64,
}

impl ElasticNetParams {
    /// Read and check sampled parameters; absent ones take the space's `init` values.
    pub fn check(p: &Params) -> Result<ElasticNetParams> {
        let c = Checked::new(NAME, p);
        Ok(ElasticNetParams {
            alpha: c.real("alpha", 0.0, 1e12)?,
            l1_ratio: c.real("l1_ratio", 0.0, 1.0)?,
        })
    }
}

/// Fit a penalised linear model (`l1_ratio` 1: the lasso) for learner `name`, by covariance
/// coordinate descent ([`super::linear::elastic_net`]).
pub(super) fn fit_penalised(name: &str, x: &Matrix, v: &[f64], alpha: f64, l1_ratio: f64) -> Result<Fitted> {
    let (coef, intercept) = super::linear::elastic_net(x, v, alpha, l1_ratio, 1000, 1e-4);
    if coef.iter().any(|c| !c.is_finite()) || !intercept.is_finite() {
        return Err(Error::learner(
            name,
            "coordinate descent diverged (non-finite input?)",
        ));
    }
    Ok(Fitted::LinearCoef { coef, intercept })
}

impl Learner for ElasticNet {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/elastic_net.toml")
    }

    fn check(&self, params: &Params) -> Result<()> {
        ElasticNetParams::check(params).map(drop)
    }

    fn fit(&self, params: &Params, task: Task, x: Matrix, _: &[bool], y: Y, _: u64) -> Result<Fitted> {
        let Y::Values(v) = y else {
            return Err(unsupported(NAME, task));
        };
        let p = ElasticNetParams::check(params)?;
        fit_penalised(NAME, &x, v, p.alpha, p.l1_ratio)
    }

    fn cost(&self, _: &Params, s: &Shape) -> f64 {
        // Gram matrix from each row's non-zeros, then coordinate-descent sweeps over it.
        s.n * s.raw * s.raw + 50.0 * s.d * s.d
    }
}
