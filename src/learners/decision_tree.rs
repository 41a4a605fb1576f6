//! A single CART tree (learner `decision_tree`) on binned features: ours, see [`super::tree`].

use super::checked::Checked;
use super::tree::{self, Criterion, TreeParams};
use super::{Fitted, Learner, Shape, Y};
use crate::data::Task;
use crate::error::Result;
use crate::matrix::Matrix;
use crate::param::Params;

const NAME: &str = "decision_tree";

/// The learner `decision_tree`.
pub struct DecisionTree;

/// Checked parameters of [`DecisionTree`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecisionTreeParams {
    max_depth: usize,
    min_samples_leaf: usize,
    criterion: Criterion,
    balanced: bool,
}

impl DecisionTreeParams {
    /// Read and check sampled parameters; absent ones take the space's `init` values.
    pub fn check(p: &Params) -> Result<DecisionTreeParams> {
        let c = Checked::new(NAME, p);
        Ok(DecisionTreeParams {
            max_depth: c.count("max_depth", 1, 1024)?,
            min_samples_leaf: c.count("min_samples_leaf", 1, 1 << 30)?,
            criterion: Criterion::of(c.choice("criterion", Criterion::NAMES)?),
            balanced: super::balanced(&c)?,
        })
    }
}

impl Learner for DecisionTree {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/decision_tree.toml")
    }

    fn check(&self, params: &Params) -> Result<()> {
        DecisionTreeParams::check(params).map(drop)
    }

    tree::fits_by_binning!(grow);

    fn cost(&self, params: &Params, s: &Shape) -> f64 {
        let depth = DecisionTreeParams::check(params).map_or(8, |p| p.max_depth) as f64;
        4.6 * s.n * s.d * depth.min(s.n.log2().max(1.0))
            + 1.5 * super::tree::sorted(s, depth)
            + 0.5 * super::tree::setup(s)
    }
}

/// Check `params`, bin `x` and grow the tree.
fn grow(params: &Params, x: tree::Rows, y: Y, seed: u64) -> Result<Fitted> {
    let p = DecisionTreeParams::check(params)?;
    let tp = TreeParams {
        random_cuts: false,
        max_depth: p.max_depth,
        min_samples_leaf: p.min_samples_leaf,
        max_features: x.cols().max(1),
        criterion: p.criterion,
        balanced: p.balanced,
    };
    tree::fit_learner(NAME, x, y, 1, false, tp, seed)
}
