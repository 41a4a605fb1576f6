//! A random forest of binned CART trees (learner `random_forest`), trees grown in parallel: ours,
//! see [`super::tree`].

use super::checked::Checked;
use super::tree::{self, Criterion, TreeParams};
use super::{Fitted, Learner, Shape, Y};
use crate::data::Task;
use crate::error::Result;
use crate::matrix::Matrix;
use crate::param::Params;

const NAME: &str = "random_forest";

/// The learner `random_forest`.
pub struct RandomForest;

/// Checked parameters of [`RandomForest`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomForestParams {
    n_trees: usize,
    max_features: f64,
    max_depth: usize,
    min_samples_leaf: usize,
    criterion: Criterion,
    balanced: bool,
}

impl RandomForestParams {
    /// Read and check sampled parameters; absent ones take the space's `init` values.
    pub fn check(p: &Params) -> Result<RandomForestParams> {
        let c = Checked::new(NAME, p);
        Ok(RandomForestParams {
            n_trees: c.count("n_trees", 1, 5000)?,
            max_features: c.real_above("max_features", 0.0, 1.0)?,
            max_depth: c.count("max_depth", 1, 1024)?,
            min_samples_leaf: c.count("min_samples_leaf", 1, 1 << 30)?,
            criterion: Criterion::of(c.choice("criterion", Criterion::NAMES)?),
            balanced: super::balanced(&c)?,
        })
    }
}

impl Learner for RandomForest {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/random_forest.toml")
    }

    fn check(&self, params: &Params) -> Result<()> {
        RandomForestParams::check(params).map(drop)
    }

    tree::fits_by_binning!(grow);

    fn cost(&self, params: &Params, s: &Shape) -> f64 {
        let p = RandomForestParams::check(params).ok();
        let (trees, frac) = p.map_or((100.0, 0.5), |p| (p.n_trees as f64, p.max_features));
        let (depth, leaf) = p.map_or((32.0, 1.0), |p| (p.max_depth as f64, p.min_samples_leaf as f64));
        trees * frac.clamp(0.05, 1.0) * super::tree::work(s, depth, leaf, 5.5, 0.17, 3.3)
            + super::tree::setup(s)
    }
}

/// Check `params`, bin `x` and grow the trees.
fn grow(params: &Params, x: tree::Rows, y: Y, seed: u64) -> Result<Fitted> {
    let p = RandomForestParams::check(params)?;
    let tp = TreeParams {
        random_cuts: false,
        max_depth: p.max_depth,
        min_samples_leaf: p.min_samples_leaf,
        max_features: ((p.max_features * x.cols() as f64).round() as usize).max(1),
        criterion: p.criterion,
        balanced: p.balanced,
    };
    tree::fit_learner(NAME, x, y, p.n_trees, true, tp, seed)
}
