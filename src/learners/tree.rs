//! CART trees on binned features, and random forests of them.
//!
//! Ours rather than a library's: linfa-trees has no probabilities and no regression tree, and
//! smartcore's tree probabilities are one-hot (leaf majority) and its forest exposes neither
//! probabilities nor its tree builder. ROC AUC and log loss need leaf class distributions, so
//! leaves here keep them. Features are binned once per fit into at most 255 quantile bins;
//! large nodes are split from histograms, small ones by sorting their few samples.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::matrix::Matrix;

mod binned;

pub use binned::Binned;
pub(super) use binned::Rows;
use binned::MAX_BINS;

/// The two fit entry points of a tree learner ([`super::Learner::fit`] on a matrix,
/// [`super::Learner::fit_encoded`] on a pipeline's rows), both handing `$grow` (check the
/// parameters, bin, grow) the rows as [`Rows`].
macro_rules! fits_by_binning {
    ($grow:path) => {
        fn fit(&self, params: &Params, _: Task, x: Matrix, _: &[bool], y: Y, seed: u64) -> Result<Fitted> {
            $grow(params, super::tree::Rows::Dense(x), y, seed)
        }

        fn fit_encoded(
            &self,
            params: &Params,
            _: Task,
            x: &crate::prep::Encoded,
            _: &[bool],
            y: Y,
            seed: u64,
        ) -> Result<Fitted> {
            $grow(params, super::tree::Rows::Encoded(x), y, seed)
        }
    };
}
pub(super) use fits_by_binning;

/// Split criterion for classification trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Gini impurity.
    Gini,
    /// Information gain (entropy).
    Entropy,
}

impl Criterion {
    /// The names a search space uses, in [`Criterion::of`]'s order.
    pub const NAMES: &'static [&'static str] = &["gini", "entropy"];

    /// The criterion called `name` (one of [`Criterion::NAMES`]; anything else is entropy).
    pub fn of(name: &str) -> Criterion {
        if name == "gini" {
            Criterion::Gini
        } else {
            Criterion::Entropy
        }
    }
}

/// The fixed work of one fit of a tree learner, whatever its trees: sorting each numeric
/// column into bins, setting up buffers. Small fits (the search's cheap first points) are mostly
/// this. Calibrated by `cargo bench --bench cost_calibration -- --point low_cost`.
pub(super) fn setup(s: &super::Shape) -> f64 {
    2e4 * s.raw + 100.0 * s.n + 3.1 * s.n * s.n.log2().max(1.0) * s.numeric
}

/// The work of growing one tree examining every feature, in the units of
/// [`super::Learner::cost`]: `a` per row, feature and level (levels up to `depth`, at most
/// log2(rows)), plus `b` per row and feature for the nodes' split searches (many small nodes in
/// regression: every leaf holds `min_leaf` rows; in classification they stop when pure, about 8 per
/// class), plus `c` times [`sorted`]. Calibrated by `cargo bench --bench cost_calibration` at
/// both points.
pub(super) fn work(s: &super::Shape, depth: f64, min_leaf: f64, a: f64, b: f64, c: f64) -> f64 {
    let levels = depth.min(s.n.log2().max(1.0));
    let nodes = if s.regression() {
        64.0 / min_leaf.max(1.0)
    } else {
        8.0 * s.k / min_leaf.max(1.0)
    };
    s.n * s.d * (a * levels * level_factor(s) + b * nodes) + c * sorted(s, depth)
}

/// How much deeper than log2(rows) trees grow: regression trees split to their leaf size,
/// classification trees stop when pure, later with more classes.
fn level_factor(s: &super::Shape) -> f64 {
    if s.regression() {
        1.0
    } else {
        (1.0 + s.k / 4.0) / 2.5
    }
}

/// The work of sorting small nodes' rows by numeric columns, in row × column × log2(node rows)
/// steps: a node with fewer rows than a column's bins sorts its rows instead of filling a
/// histogram (see `grow`), and numeric columns usually have all [`MAX_BINS`] bins. Level `l` of
/// a tree holds nodes of about `n / 2^l` rows, so every level below `n / 2^l < 256` sorts all
/// rows at log2 of that size. One-hot columns (two bins) always fill histograms: only the
/// `numeric` columns count. This is why forests on small numeric tables (breast_cancer, glass,
/// concrete) cost up to 4× what the level term alone says.
pub(super) fn sorted(s: &super::Shape, depth: f64) -> f64 {
    let n_log = s.n.log2().max(1.0);
    // At most 64 levels: the searched depths go to 40, and the cap bounds the loop.
    let levels = depth.min(n_log).min(64.0);
    let histogram_below = (MAX_BINS as f64 + 1.0).log2();
    let mut steps = 0.0;
    let mut l = 0.0;
    while l < levels {
        let size = n_log - l;
        if size < histogram_below {
            steps += (levels - l).min(1.0) * size.max(1.0);
        }
        l += 1.0;
    }
    s.n * s.numeric.min(s.d) * steps * level_factor(s)
}

/// Grow `n_trees` trees (one without `bootstrap` is a single CART tree) for learner `learner`.
pub(super) fn fit_learner(
    learner: &str,
    x: Rows,
    y: super::Y,
    n_trees: usize,
    bootstrap: bool,
    p: TreeParams,
    seed: u64,
) -> crate::error::Result<super::Fitted> {
    let weights;
    let (labels, n_classes) = match y {
        super::Y::Classes(c, k) if p.balanced => {
            weights = super::balanced_weights(c, k);
            (Labels::Weighted(c, &weights), k)
        }
        super::Y::Classes(c, k) => (Labels::Classes(c, k), k),
        super::Y::Values(v) => (Labels::Values(v), 0),
    };
    // The trees read only the bins: an encoded matrix goes before they grow.
    let binned = x.bin()?;
    let forest = Forest::fit_binned(&binned, labels, n_trees, bootstrap, p, seed);
    if let Some(r) = crate::cancel::current().reason() {
        return Err(crate::error::Error::learner(
            learner,
            format!("stopped while fitting ({r:?})"),
        ));
    }
    Ok(super::Fitted::Forest { forest, n_classes })
}

/// Settings for growing one tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeParams {
    /// Deepest level a node may sit at (root = 0).
    pub max_depth: usize,
    /// Fewest (bootstrap) samples in a leaf.
    pub min_samples_leaf: usize,
    /// Features examined per split.
    pub max_features: usize,
    /// Classification criterion.
    pub criterion: Criterion,
    /// Extremely randomised trees (Geurts et al. 2006): each examined feature gets one random cut
    /// (uniform among the node's occupied bins) instead of its best one; the best of those wins.
    pub random_cuts: bool,
    /// Weigh classes by their balanced weights (`class_weight = "balanced"`; classification).
    pub balanced: bool,
}

/// What the tree predicts.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Classification with this many classes.
    Classes(usize),
    /// Regression.
    Regression,
}

/// Training labels: class indices or real values.
#[derive(Debug, Clone, Copy)]
pub enum Labels<'a> {
    /// Class index per row, with the number of classes.
    Classes(&'a [usize], usize),
    /// Real value per row.
    Values(&'a [f64]),
    /// Class index per row, with a weight per class (one per class: their number is the number
    /// of classes): impurities and leaf distributions count each row with its class's weight.
    Weighted(&'a [usize], &'a [f64]),
}

impl Labels<'_> {
    fn kind(&self) -> Kind {
        match self {
            Labels::Classes(_, k) => Kind::Classes(*k),
            Labels::Weighted(_, w) => Kind::Classes(w.len()),
            Labels::Values(_) => Kind::Regression,
        }
    }

    /// Width of a leaf's output (classes, or 1).
    fn width(&self) -> usize {
        match self {
            Labels::Classes(_, k) => *k,
            Labels::Weighted(_, w) => w.len(),
            Labels::Values(_) => 1,
        }
    }
}

/// A tree node. The right child of a split is always `left + 1`, so it is not stored.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum Node {
    /// Rows with `x[feature] <= threshold` go to `left`, the others to `left + 1`.
    Split { feature: u32, threshold: f64, left: u32 },
    /// Output starts at this offset of `Tree::values`.
    Leaf { value: u32 },
}

impl Node {
    /// A leaf placeholder; filled in when its samples are processed.
    const LEAF: Node = Node::Leaf { value: 0 };
}

/// A fitted tree: split nodes and leaf outputs (class distribution or mean).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tree {
    nodes: Vec<Node>,
    values: Vec<f64>,
    width: usize,
}

impl Tree {
    fn leaf_of(&self, row: &[f64]) -> &[f64] {
        let mut n = 0usize;
        loop {
            match self.nodes[n] {
                Node::Leaf { value } => {
                    let v = value as usize;
                    return &self.values[v..v + self.width];
                }
                Node::Split {
                    feature,
                    threshold,
                    left,
                } => n = left as usize + usize::from(row[feature as usize] > threshold),
            }
        }
    }

    /// Add this tree's output for every row of `x` into `out` (rows × width).
    pub fn accumulate(&self, x: &Matrix, out: &mut [f64]) {
        for i in 0..x.rows {
            let leaf = self.leaf_of(x.row(i));
            for (o, v) in out[i * self.width..(i + 1) * self.width].iter_mut().zip(leaf) {
                *o += v;
            }
        }
    }

    /// Number of nodes.
    pub fn size(&self) -> usize {
        self.nodes.len()
    }
}

/// Running statistics of a set of samples.
#[derive(Clone)]
struct Stats {
    n: f64,
    /// Class counts, or `[sum, sum of squares]` for regression.
    acc: Vec<f64>,
}

impl Stats {
    fn new(width: usize) -> Stats {
        Stats {
            n: 0.0,
            acc: vec![0.0; width],
        }
    }

    fn add(&mut self, y: &Labels, i: usize) {
        self.n += 1.0;
        add_label(&mut self.acc, y, i);
    }

    /// Impurity times sample count (lower is better).
    fn cost(&self, kind: Kind, criterion: Criterion) -> f64 {
        cost(self.n, &self.acc, kind, criterion)
    }

    fn leaf_value(&self, kind: Kind) -> Vec<f64> {
        match kind {
            Kind::Regression => vec![if self.n > 0.0 { self.acc[0] / self.n } else { 0.0 }],
            Kind::Classes(_) => {
                // The class mass (the row count, unless rows are weighted).
                let mass: f64 = self.acc.iter().sum();
                self.acc
                    .iter()
                    .map(|c| if mass > 0.0 { c / mass } else { 0.0 })
                    .collect()
            }
        }
    }
}

/// Add sample `i`'s label to accumulated statistics (class counts, or [sum, sum of squares]).
fn add_label(acc: &mut [f64], y: &Labels, i: usize) {
    match y {
        Labels::Classes(c, _) => acc[c[i]] += 1.0,
        Labels::Weighted(c, w) => acc[c[i]] += w[c[i]],
        Labels::Values(v) => {
            acc[0] += v[i];
            acc[1] += v[i] * v[i];
        }
    }
}

/// Impurity times sample count of `n` samples with statistics `acc` (lower is better).
fn cost(n: f64, acc: &[f64], kind: Kind, criterion: Criterion) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    match kind {
        Kind::Regression => (acc[1] - acc[0] * acc[0] / n).max(0.0),
        Kind::Classes(_) => match criterion {
            // Impurities over the class mass (the row count `n` unless rows are weighted).
            Criterion::Gini => {
                let n: f64 = acc.iter().sum();
                if n <= 0.0 {
                    return 0.0;
                }
                n - acc.iter().map(|c| c * c).sum::<f64>() / n
            }
            Criterion::Entropy => {
                let n: f64 = acc.iter().sum();
                -acc.iter()
                    .filter(|&&c| c > 0.0)
                    .map(|&c| c * (c / n).ln())
                    .sum::<f64>()
            }
        },
    }
}

struct Split {
    feature: usize,
    bin: usize,
    gain: f64,
}

/// Grow one tree on the samples `idx` (may repeat rows, as in a bootstrap sample).
pub fn grow(binned: &Binned, y: Labels, mut idx: Vec<u32>, p: TreeParams, seed: u64) -> Tree {
    let kind = y.kind();
    let width = y.width();
    let stat_width = match kind {
        Kind::Classes(k) => k,
        Kind::Regression => 2,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tree = Tree {
        nodes: Vec::new(),
        values: Vec::new(),
        width,
    };
    let n_features = binned.n_features();
    let mut features: Vec<usize> = (0..n_features).collect();
    let min_leaf = p.min_samples_leaf.max(1) as f64;
    // Scratch buffers reused across nodes and features.
    let (mut hist_n, mut hist_acc, mut bins, mut bn, mut bacc) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut left_acc, mut right_acc, mut order): (Vec<f64>, Vec<f64>, Vec<(u8, u32)>) =
        (Vec::new(), Vec::new(), Vec::new());
    // Where each candidate feature's histogram starts in `hist_n` (`None`: its node is small and
    // sorted instead), and the (feature, offset) pairs filled in one pass over the samples.
    let (mut hist_at, mut wide): (Vec<Option<usize>>, Vec<(usize, usize)>) = (Vec::new(), Vec::new());
    // Split tolerances are relative to the root's impurity, so the target's scale does not matter.
    let mut root = Stats::new(stat_width);
    for &i in &idx {
        root.add(&y, i as usize);
    }
    let tol = root.cost(kind, p.criterion) * 1e-12;
    // Work stack: (node index, start, end, depth).
    let mut stack = vec![(0usize, 0usize, idx.len(), 0usize)];
    tree.nodes.push(Node::LEAF);
    while let Some((node, start, end, depth)) = stack.pop() {
        let samples = &idx[start..end];
        let mut total = Stats::new(stat_width);
        for &i in samples {
            total.add(&y, i as usize);
        }
        let parent_cost = total.cost(kind, p.criterion);
        let mut best: Option<Split> = None;
        if depth < p.max_depth && total.n >= 2.0 * min_leaf && parent_cost > tol {
            features.shuffle(&mut rng);
            let mtry = p.max_features.clamp(1, n_features.max(1));
            // The histograms of every candidate feature with at least as many samples as bins,
            // in one pass over the samples (row by row: see `Binned`). Each cell adds the
            // samples in the same order as one histogram per feature would.
            hist_at.clear();
            wide.clear();
            let mut cells = 0;
            for &f in &features[..mtry] {
                let n_bins = binned.edges[f].len() + 1;
                if n_bins >= 2 && samples.len() >= n_bins {
                    hist_at.push(Some(cells));
                    wide.push((f, cells));
                    cells += n_bins;
                } else {
                    hist_at.push(None);
                }
            }
            hist_n.clear();
            hist_n.resize(cells, 0.0);
            hist_acc.clear();
            hist_acc.resize(cells * stat_width, 0.0);
            if !wide.is_empty() {
                for &i in samples {
                    let row = binned.row(i as usize);
                    for &(f, at) in &wide {
                        let b = at + row[f] as usize;
                        hist_n[b] += 1.0;
                        add_label(
                            &mut hist_acc[b * stat_width..(b + 1) * stat_width],
                            &y,
                            i as usize,
                        );
                    }
                }
            }
            for (&f, at) in features[..mtry].iter().zip(&hist_at) {
                let n_bins = binned.edges[f].len() + 1;
                if n_bins < 2 {
                    continue;
                }
                // Per-bin statistics of the node's occupied bins, in bin order, in flat reused
                // buffers: counts in `bn`, class counts or [sum, sum of squares] in `bacc`.
                bins.clear();
                bn.clear();
                bacc.clear();
                if let Some(at) = *at {
                    let (n, acc) = (&hist_n[at..at + n_bins], &hist_acc[at * stat_width..]);
                    for b in (0..n_bins).filter(|&b| n[b] > 0.0) {
                        bins.push(b);
                        bn.push(n[b]);
                        bacc.extend_from_slice(&acc[b * stat_width..(b + 1) * stat_width]);
                    }
                } else {
                    // Small node: sort its few samples by bin instead of touching every bin.
                    order.clear();
                    order.extend(samples.iter().map(|&i| (binned.bin(f, i as usize) as u8, i)));
                    order.sort_unstable();
                    for &(b, i) in order.iter() {
                        if bins.last() != Some(&(b as usize)) {
                            bins.push(b as usize);
                            bn.push(0.0);
                            bacc.extend(std::iter::repeat_n(0.0, stat_width));
                        }
                        let k = bn.len() - 1;
                        bn[k] += 1.0;
                        add_label(&mut bacc[k * stat_width..(k + 1) * stat_width], &y, i as usize);
                    }
                }
                // Extra-trees: only one random cut among the occupied bins is considered.
                let only = match (p.random_cuts, bins.len()) {
                    (false, _) => None,
                    (true, 0 | 1) => continue,
                    (true, n) => Some(rng.gen_range(0..n - 1)),
                };
                // Scan split points left to right; the last occupied bin cannot split.
                let mut left_n = 0.0;
                left_acc.clear();
                left_acc.resize(stat_width, 0.0);
                right_acc.clear();
                right_acc.resize(stat_width, 0.0);
                for k in 0..bins.len().saturating_sub(1) {
                    left_n += bn[k];
                    for (l, x) in left_acc
                        .iter_mut()
                        .zip(&bacc[k * stat_width..(k + 1) * stat_width])
                    {
                        *l += x;
                    }
                    if only.is_some_and(|o| k < o) {
                        continue;
                    }
                    if left_n < min_leaf {
                        if only.is_some() {
                            break;
                        }
                        continue;
                    }
                    let right_n = total.n - left_n;
                    if right_n < min_leaf {
                        break;
                    }
                    for ((r, t), l) in right_acc.iter_mut().zip(&total.acc).zip(left_acc.iter()) {
                        *r = t - l;
                    }
                    let gain = parent_cost
                        - cost(left_n, &left_acc, kind, p.criterion)
                        - cost(right_n, &right_acc, kind, p.criterion);
                    if gain > tol && best.as_ref().is_none_or(|s| gain > s.gain) {
                        best = Some(Split {
                            feature: f,
                            bin: bins[k],
                            gain,
                        });
                    }
                    if only.is_some() {
                        break;
                    }
                }
            }
        }
        match best {
            None => {
                tree.nodes[node] = Node::Leaf {
                    value: tree.values.len() as u32,
                };
                tree.values.extend(total.leaf_value(kind));
            }
            Some(s) => {
                // Partition samples in place: bins <= s.bin go left.
                let slice = &mut idx[start..end];
                let mut mid = 0;
                for j in 0..slice.len() {
                    if binned.bin(s.feature, slice[j] as usize) <= s.bin {
                        slice.swap(mid, j);
                        mid += 1;
                    }
                }
                let left = tree.nodes.len();
                tree.nodes.extend([Node::LEAF, Node::LEAF]);
                tree.nodes[node] = Node::Split {
                    feature: s.feature as u32,
                    threshold: binned.edges[s.feature][s.bin],
                    left: left as u32,
                };
                stack.push((left, start, start + mid, depth + 1));
                stack.push((left + 1, start + mid, end, depth + 1));
            }
        }
    }
    tree
}

/// A fitted forest (a single tree is a forest of one without bootstrap).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forest {
    trees: Vec<Tree>,
    width: usize,
}

impl Forest {
    /// Fit `n_trees` trees; with `bootstrap`, each on a resample of the rows. Trees are grown in parallel
    /// but each has its own seed, so the forest does not depend on the number of threads.
    pub fn fit(x: &Matrix, y: Labels, n_trees: usize, bootstrap: bool, p: TreeParams, seed: u64) -> Forest {
        Self::fit_binned(&Binned::new(x), y, n_trees, bootstrap, p, seed)
    }

    /// [`Forest::fit`] on rows already binned.
    fn fit_binned(
        binned: &Binned,
        y: Labels,
        n_trees: usize,
        bootstrap: bool,
        p: TreeParams,
        seed: u64,
    ) -> Forest {
        // Regression targets are centred so sums of squares do not cancel for large offsets.
        let (centered, offset) = match y {
            Labels::Values(v) => {
                let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
                (v.iter().map(|t| t - m).collect::<Vec<f64>>(), m)
            }
            Labels::Classes(..) | Labels::Weighted(..) => (Vec::new(), 0.0),
        };
        let y = match y {
            Labels::Values(_) => Labels::Values(&centered),
            c => c,
        };
        let n = binned.rows;
        // Trees already started finish; the rest are skipped once the trial is cancelled (the
        // caller sees the fired token and discards the partial forest).
        let token = crate::cancel::current();
        let trees = (0..n_trees.max(1))
            .into_par_iter()
            .filter_map(|t| {
                if token.fired() {
                    return None;
                }
                let tree_seed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(t as u64);
                let idx: Vec<u32> = if bootstrap {
                    let mut rng = ChaCha8Rng::seed_from_u64(tree_seed ^ 0xB007);
                    (0..n).map(|_| rng.gen_range(0..n) as u32).collect()
                } else {
                    (0..n as u32).collect()
                };
                let mut tree = grow(binned, y, idx, p, tree_seed);
                if offset != 0.0 {
                    tree.values.iter_mut().for_each(|v| *v += offset);
                }
                Some(tree)
            })
            .collect();
        Forest {
            trees,
            width: y.width(),
        }
    }

    /// Mean of the trees' outputs: class probabilities (rows × classes) or values (rows × 1).
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        let mut out = vec![0.0; x.rows * self.width];
        for t in &self.trees {
            t.accumulate(x, &mut out);
        }
        let k = self.trees.len().max(1) as f64;
        out.iter_mut().for_each(|v| *v /= k);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xor_data(n: usize) -> (Matrix, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut m = Matrix::zeros(n, 3);
        let mut y = Vec::new();
        for i in 0..n {
            let a: f64 = rng.gen();
            let b: f64 = rng.gen();
            m.data[i * 3] = a;
            m.data[i * 3 + 1] = b;
            m.data[i * 3 + 2] = rng.gen(); // noise
            y.push(((a > 0.5) ^ (b > 0.5)) as usize);
        }
        (m, y)
    }

    fn params(depth: usize, mtry: usize) -> TreeParams {
        TreeParams {
            random_cuts: false,
            max_depth: depth,
            min_samples_leaf: 1,
            max_features: mtry,
            criterion: Criterion::Gini,
            balanced: false,
        }
    }

    #[test]
    fn tree_learns_xor_and_probabilities_sum_to_one() {
        let (x, y) = xor_data(400);
        let f = Forest::fit(&x, Labels::Classes(&y, 2), 1, false, params(6, 3), 1);
        let p = f.predict(&x);
        let acc = (0..400)
            .filter(|&i| (p[i * 2 + 1] > 0.5) as usize == y[i])
            .count();
        assert!(acc >= 390, "train accuracy {acc}/400");
        for i in 0..400 {
            assert!((p[i * 2] + p[i * 2 + 1] - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn regression_works_at_any_target_scale() {
        let (x, _) = xor_data(200);
        for scale in [1e-9, 1.0, 1e9] {
            let y: Vec<f64> = (0..200).map(|i| 1e6 * scale + scale * x.get(i, 0)).collect();
            let p = Forest::fit(&x, Labels::Values(&y), 1, false, params(8, 3), 1).predict(&x);
            let mean = y.iter().sum::<f64>() / 200.0;
            let ss_tot: f64 = y.iter().map(|t| (t - mean) * (t - mean)).sum();
            let ss_res: f64 = y.iter().zip(&p).map(|(t, q)| (t - q) * (t - q)).sum();
            assert!(
                1.0 - ss_res / ss_tot > 0.95,
                "scale {scale}: r2 {}",
                1.0 - ss_res / ss_tot
            );
        }
    }

    #[test]
    fn depth_limit_is_respected() {
        let (x, y) = xor_data(200);
        let f = Forest::fit(&x, Labels::Classes(&y, 2), 1, false, params(1, 3), 1);
        assert!(f.trees[0].size() <= 3);
    }

    #[test]
    fn forest_is_deterministic_and_regresses() {
        let (x, _) = xor_data(300);
        let y: Vec<f64> = (0..300).map(|i| 3.0 * x.get(i, 0) + x.get(i, 1)).collect();
        let fit = || Forest::fit(&x, Labels::Values(&y), 20, true, params(12, 2), 9).predict(&x);
        let a = fit();
        assert_eq!(a, fit());
        let mse: f64 = a.iter().zip(&y).map(|(p, t)| (p - t) * (p - t)).sum::<f64>() / 300.0;
        assert!(mse < 0.05, "mse {mse}");
    }
}
