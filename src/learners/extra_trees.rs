//! Extremely randomised trees (learner `extra_trees`; Geurts, Ernst & Wehenkel 2006): like the
//! random forest, but every tree sees all rows (no bootstrap) and each examined feature is cut at
//! one random point instead of its best one. Cheaper per tree than a forest, smoother, and a
//! different kind of member for ensembles. Ours, see [`super::tree`].

use super::checked::Checked;
use super::tree::{self, Criterion, TreeParams};
use super::{Fitted, Learner, Shape, Y};
use crate::data::Task;
use crate::error::Result;
use crate::matrix::Matrix;
use crate::param::Params;

const NAME: &str = "extra_trees";

/// The learner `extra_trees`.
pub struct ExtraTrees;

/// Checked parameters of [`ExtraTrees`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtraTreesParams {
    n_trees: usize,
    max_features: f64,
    max_depth: usize,
    min_samples_leaf: usize,
    criterion: Criterion,
    balanced: bool,
}

impl ExtraTreesParams {
    /// Read and check sampled parameters; absent ones take the space's `init` values.
    pub fn check(p: &Params) -> Result<ExtraTreesParams> {
        let c = Checked::new(NAME, p);
        Ok(ExtraTreesParams {
            n_trees: c.count("n_trees", 1, 5000)?,
            max_features: c.real_above("max_features", 0.0, 1.0)?,
            max_depth: c.count("max_depth", 1, 1024)?,
            min_samples_leaf: c.count("min_samples_leaf", 1, 1 << 30)?,
            criterion: Criterion::of(c.choice("criterion", Criterion::NAMES)?),
            balanced: super::balanced(&c)?,
        })
    }
}

impl Learner for ExtraTrees {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/extra_trees.toml")
    }

    fn check(&self, params: &Params) -> Result<()> {
        ExtraTreesParams::check(params).map(drop)
    }

    tree::fits_by_binning!(grow);

    fn cost(&self, params: &Params, s: &Shape) -> f64 {
        // Its own constants, fitted on its own measurements (no bootstrap, random cuts).
        let p = ExtraTreesParams::check(params).ok();
        let (trees, frac) = p.map_or((100.0, 0.7), |p| (p.n_trees as f64, p.max_features));
        let (depth, leaf) = p.map_or((32.0, 1.0), |p| (p.max_depth as f64, p.min_samples_leaf as f64));
        trees * frac.clamp(0.05, 1.0) * super::tree::work(s, depth, leaf, 5.3, 0.26, 3.4)
            + super::tree::setup(s)
    }
}

/// Check `params`, bin `x` and grow the trees.
fn grow(params: &Params, x: tree::Rows, y: Y, seed: u64) -> Result<Fitted> {
    let p = ExtraTreesParams::check(params)?;
    let tp = TreeParams {
        max_depth: p.max_depth,
        min_samples_leaf: p.min_samples_leaf,
        max_features: ((p.max_features * x.cols() as f64).round() as usize).max(1),
        criterion: p.criterion,
        random_cuts: true,
        balanced: p.balanced,
    };
    tree::fit_learner(NAME, x, y, p.n_trees, false, tp, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_trees_learn_and_differ_from_a_forest() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/iris/train.csv");
        let data = crate::Dataset::from_path(&dir, "species", None).unwrap();
        let prep = crate::prep::PrepConfig::native().fit(&data.features, None);
        let x = prep.transform(&data.features, None).unwrap();
        let k = data.schema.classes.len();
        let y = Y::of(&data.target, k);
        let mut p = Params::default();
        p.set("n_trees", crate::param::Value::Int(30));
        let et = ExtraTrees
            .fit(&p, data.schema.task, x.clone(), &[], y, 1)
            .unwrap();
        let rf = super::super::random_forest::RandomForest
            .fit(&p, data.schema.task, x.clone(), &[], y, 1)
            .unwrap();
        let (pe, pr) = (et.predict(&x).unwrap(), rf.predict(&x).unwrap());
        assert_ne!(pe, pr);
        let acc = crate::Metric::Accuracy.score(&data.target, &pe).unwrap();
        assert!(acc > 0.95, "training accuracy {acc}");
        // Same seed, same trees.
        assert_eq!(
            ExtraTrees
                .fit(&p, data.schema.task, x.clone(), &[], y, 1)
                .unwrap()
                .predict(&x)
                .unwrap(),
            pe
        );
    }
}
