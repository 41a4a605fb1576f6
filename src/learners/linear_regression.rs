//! Ordinary least squares (learner `linear_regression`), by smartcore's SVD solver.

use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{
    LinearRegression as Ols, LinearRegressionParameters, LinearRegressionSolverName,
};

use super::{dense, unsupported, Fitted, Learner, Y};
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

    fn fit(&self, _: &Params, task: Task, x: &Matrix, _: &[bool], y: Y, _: u64) -> Result<Fitted> {
        let Y::Values(v) = y else {
            return Err(unsupported(NAME, task));
        };
        // SVD least squares: one-hot columns that sum to the intercept make X rank-deficient, and
        // the SVD solve drops the null space (minimum-norm solution) where QR would blow up.
        let dm = dense(x).map_err(|e| Error::learner(NAME, e))?;
        let p = LinearRegressionParameters::default().with_solver(LinearRegressionSolverName::SVD);
        let m: Ols<f64, f64, DenseMatrix<f64>, Vec<f64>> =
            Ols::fit(&dm, &v.to_vec(), p).map_err(|e| Error::learner(NAME, e))?;
        Ok(Fitted::LinearCoef {
            coef: (0..x.cols).map(|j| *m.coefficients().get((j, 0))).collect(),
            intercept: *m.intercept(),
        })
    }

    fn cost(&self, _: &Params, n: f64, d: f64, _: f64) -> f64 {
        n * d * d + d * d * d
    }
}
