//! Gaussian naive Bayes (learner `gaussian_nb`), by linfa-bayes.

use linfa::prelude::*;

use super::checked::Checked;
use super::{labels_array, unsupported, Fitted, Learner, Shape, Y};
use crate::data::Task;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::param::Params;

const NAME: &str = "gaussian_nb";

/// The learner `gaussian_nb`.
pub struct GaussianNb;

/// Checked parameters of [`GaussianNb`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianNbParams {
    var_smoothing: f64,
}

impl GaussianNbParams {
    /// Read and check sampled parameters; absent ones take the space's `init` values.
    pub fn check(p: &Params) -> Result<GaussianNbParams> {
        Ok(GaussianNbParams {
            var_smoothing: Checked::new(NAME, p).real("var_smoothing", 0.0, 1e6)?,
        })
    }
}

impl Learner for GaussianNb {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/gaussian_nb.toml")
    }

    fn check(&self, params: &Params) -> Result<()> {
        GaussianNbParams::check(params).map(drop)
    }

    fn fit(&self, params: &Params, task: Task, x: Matrix, _: &[bool], y: Y, _: u64) -> Result<Fitted> {
        let Y::Classes(c, k) = y else {
            return Err(unsupported(NAME, task));
        };
        let p = GaussianNbParams::check(params)?;
        let ds = DatasetBase::new(x.view(), labels_array(c));
        let model = linfa_bayes::GaussianNb::params()
            .var_smoothing(p.var_smoothing)
            .fit(&ds)
            .map_err(|e| Error::learner(NAME, e))?;
        Ok(Fitted::GaussianNb { model, n_classes: k })
    }

    fn cost(&self, _: &Params, s: &Shape) -> f64 {
        3.2 * s.n * s.d * s.k
    }
}
