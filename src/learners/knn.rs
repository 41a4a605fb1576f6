//! k nearest neighbours (learner `knn`): the model keeps the training rows (f32); queries use
//! a k-d tree (module `kd`) where it prunes well and a blocked brute-force search where it does not.

mod kd;

use linfa_nn::distance::L2Dist;
use linfa_nn::{CommonNearestNeighbour, NearestNeighbour};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView1};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::checked::Checked;
use super::{Fitted, Learner, Prediction, Shape, Y};
use crate::data::Task;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::param::Params;

const NAME: &str = "knn";

/// The learner `knn`.
pub struct Knn;

/// Checked parameters of [`Knn`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnnParams {
    k: usize,
    distance_weights: bool,
}

impl KnnParams {
    /// Read and check sampled parameters; absent ones take the space's `init` values.
    pub fn check(p: &Params) -> Result<KnnParams> {
        let c = Checked::new(NAME, p);
        Ok(KnnParams {
            k: c.count("k", 1, 1 << 30)?,
            distance_weights: c.choice("weights", &["uniform", "distance"])? == "distance",
        })
    }
}

impl Learner for Knn {
    fn name(&self) -> &'static str {
        NAME
    }

    fn space(&self) -> &'static str {
        include_str!("../../search/knn.toml")
    }

    fn check(&self, params: &Params) -> Result<()> {
        KnnParams::check(params).map(drop)
    }

    fn fit(&self, params: &Params, _: Task, x: Matrix, _: &[bool], y: Y, _: u64) -> Result<Fitted> {
        let p = KnnParams::check(params)?;
        let rows = Rows::of(&x);
        let (y, n_classes) = match y {
            Y::Classes(c, k) => (c.iter().map(|&c| c as f64).collect(), k),
            Y::Values(v) => (v.to_vec(), 0),
        };
        Ok(Fitted::Neighbours {
            brute: prefer_brute(&rows, p.k),
            x: rows,
            y,
            k: p.k,
            distance_weights: p.distance_weights,
            n_classes,
        })
    }

    fn cost(&self, _: &Params, s: &Shape) -> f64 {
        // The validation rows against all training rows: by brute force from
        // [`BRUTE_COST_FROM_RAW`] raw columns (one f32 product per pair and column, and choosing
        // the nearest), else through a k-d tree (building and querying). Calibrated with the
        // validation rows a quarter of the training rows (as cross-validation and the holdout
        // have them), so the constants are per query row times 4: a trial fitting on a sample
        // of a large table queries all its validation rows.
        if s.raw >= BRUTE_COST_FROM_RAW {
            0.04 * s.n * s.valid * s.d + 5.2 * s.n * s.valid
        } else {
            22.4 * s.valid * s.d * s.n.log2().max(1.0)
        }
    }
}

/// The cost model's stand-in for the fit's choice ([`prefer_brute`]), which no column count can
/// make: brute force from this many raw columns, the k-d tree below. On the suite the two agree
/// but for small tables of few columns whose tree visits most rows (brute force, and either way
/// under a millisecond) and a synthetic 160k-row table with three independent noise columns
/// (brute force on a 10k-row sample, 3.5 times the k-d tree's estimate).
const BRUTE_COST_FROM_RAW: f64 = 20.0;

/// Training rows the fit's probe queries (evenly spaced).
const PROBES: usize = 32;

/// The share of the training rows a k-d tree query may compute distances to and still beat
/// brute force: per row visited the tree pays about eight times a brute-force pair (its own
/// distance loop and the node boxes against one row of a matrix product). Measured one fold, one
/// thread, per visited row / per pair: flchain 46 / 5.9 ns, diamonds 60 / 6.1, the 160k table 49
/// / 10.1, lending_club 47 / 7.8, caravan (563 columns) 414 / 33.
const BRUTE_ABOVE: f64 = 0.125;

/// Whether brute force beats the k-d tree on `rows`: the tree's cost follows the data's
/// intrinsic dimension, which no column count tells (a query on the 160k table's 13 columns
/// visits 41 % of 10k rows, on movies' 12 columns 0.3 % of 38k), so the fit builds the tree and
/// counts the rows [`PROBES`] queries (training rows, evenly spaced) visit. Deterministic: the
/// same rows always choose the same search.
fn prefer_brute(rows: &Rows, k: usize) -> bool {
    let n = rows.rows;
    if n == 0 {
        return false;
    }
    let tree = kd::KdTree::new(&rows.data, rows.cols);
    let probes = PROBES.min(n);
    let limit = BRUTE_ABOVE * (n * probes) as f64;
    let mut near = kd::Nearest::default();
    let mut visited = 0;
    for p in 0..probes {
        let j = p * n / probes;
        tree.nearest(&rows.data[j * rows.cols..(j + 1) * rows.cols], k, &mut near);
        visited += near.visited;
        if visited as f64 > limit {
            return true;
        }
    }
    false
}

/// Query rows per block of the brute-force search: a block's distances to all training rows are
/// one matrix product (`BLOCK` × training rows of f32, 2.5 MiB for 10k training rows).
const BLOCK: usize = 64;

/// Distances one block should hold (4 MiB of f32): blocks get fewer rows than [`BLOCK`] on large
/// training sets (6 rows on 160k training rows, at least 4 rows), so each thread's share stays
/// small (plus 16 bytes per training row for choosing the nearest).
const BLOCK_DISTANCES: usize = 1 << 20;

/// Training rows in f32, row after row, less their column means (distances do not change, and
/// f32 keeps its precision on columns far from zero: the search's recipes include no scaling).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rows {
    data: Vec<f32>,
    mean: Vec<f64>,
    rows: usize,
    cols: usize,
}

impl Rows {
    fn of(m: &Matrix) -> Rows {
        let mut mean = vec![0.0; m.cols];
        for i in 0..m.rows {
            for (s, v) in mean.iter_mut().zip(m.row(i)) {
                *s += v;
            }
        }
        for s in &mut mean {
            *s /= m.rows.max(1) as f64;
            if !s.is_finite() {
                *s = 0.0;
            }
        }
        let data = (0..m.rows)
            .flat_map(|i| m.row(i).iter().zip(&mean).map(|(v, c)| (v - c) as f32))
            .collect();
        Rows {
            data,
            mean,
            rows: m.rows,
            cols: m.cols,
        }
    }

    /// The rows as a matrix; an error (never a panic) when a damaged model's sizes disagree.
    fn view(&self) -> Result<ndarray::ArrayView2<'_, f32>> {
        if self.mean.len() != self.cols {
            return Err(Error::learner(NAME, "damaged model: column means do not match"));
        }
        ndarray::ArrayView2::from_shape((self.rows, self.cols), &self.data)
            .map_err(|e| Error::learner(NAME, e.to_string()))
    }

    /// Query row `q` less the column means, in f64.
    fn centre(&self, q: &[f64]) -> Vec<f64> {
        q.iter().zip(&self.mean).map(|(v, c)| v - c).collect()
    }

    /// Distance of training row `j` from a centred query row, in f64 (NaN counts as infinitely
    /// far).
    fn distance(&self, j: usize, centred: &[f64]) -> f64 {
        let row = &self.data[j * self.cols..(j + 1) * self.cols];
        finite_or_far(distance_f64(row.iter().map(|&v| f64::from(v)), centred))
    }
}

/// The training rows of a fitted model: f64 in model files written before f32 rows (predicted as
/// they were, on the k-d tree), f32 with the search chosen at fit time.
#[derive(Clone, Copy)]
pub(super) enum Train<'a> {
    F64(&'a Matrix),
    F32 { rows: &'a Rows, brute: bool },
}

/// Predict `x` from the training rows `train` / `y` (class index or value per row).
pub(super) fn predict(
    train: Train,
    y: &[f64],
    k: usize,
    distance_weights: bool,
    n_classes: usize,
    x: &Matrix,
) -> Result<Prediction> {
    let (rows, cols) = match train {
        Train::F64(m) => (m.rows, m.cols),
        Train::F32 { rows, .. } => (rows.rows, rows.cols),
    };
    if cols != x.cols {
        return Err(Error::learner("knn", "feature count differs from training"));
    }
    let k = k.min(rows).max(1);
    let vote = Vote {
        y,
        distance_weights,
        n_classes,
    };
    let rows = match train {
        Train::F64(m) => kd_tree(
            m.view(),
            x,
            k,
            &vote,
            |i| x.row(i).to_vec(),
            |j, q| distance_f64(m.row(j).iter().copied(), q),
        )?,
        Train::F32 { rows: r, brute: true } => brute(r, x, k, &vote)?,
        Train::F32 {
            rows: r,
            brute: false,
        } => {
            r.view()?; // a damaged model's sizes: an error, not a panic
            tree_search(r, x, k, &vote)?
        }
    };
    let width = vote.width();
    let mut data = Vec::with_capacity(x.rows * width);
    for r in rows {
        data.extend(r);
    }
    Ok(if n_classes > 0 {
        Prediction::Proba(Matrix {
            data,
            rows: x.rows,
            cols: width,
        })
    } else {
        Prediction::Values(data)
    })
}

/// How the neighbours' targets are combined into one prediction row.
struct Vote<'a> {
    y: &'a [f64],
    distance_weights: bool,
    n_classes: usize,
}

impl Vote<'_> {
    fn width(&self) -> usize {
        self.n_classes.max(1)
    }

    /// Class shares (classification) or the mean value (regression) of the neighbours `found`
    /// (training row index, exact distance).
    fn row(&self, found: impl Iterator<Item = (usize, f64)>) -> Vec<f64> {
        let mut acc = vec![0.0; self.width()];
        let mut total = 0.0;
        for (j, d) in found {
            let w = if self.distance_weights {
                1.0 / (d + 1e-9)
            } else {
                1.0
            };
            if self.n_classes > 0 {
                acc[self.y[j] as usize] += w;
            } else {
                acc[0] += w * self.y[j];
            }
            total += w;
        }
        acc.iter_mut().for_each(|a| *a /= total.max(1e-300));
        acc
    }
}

/// Euclidean distance of two rows, in f64.
fn distance_f64(a: impl Iterator<Item = f64>, b: &[f64]) -> f64 {
    a.zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt()
}

/// `d`, or infinity for NaN (a NaN's sign would otherwise decide where `total_cmp` puts it).
fn finite_or_far<F: linfa::Float>(d: F) -> F {
    if d.is_nan() {
        F::infinity()
    } else {
        d
    }
}

/// The stop reason of the trial, as an error: queries on many rows take seconds, so they stop
/// when the trial's token fires.
fn stopped(token: &crate::cancel::Token) -> Result<()> {
    match token.reason() {
        Some(r) => Err(Error::learner("knn", format!("stopped while predicting ({r:?})"))),
        None => Ok(()),
    }
}

/// Neighbours from linfa-nn's k-d tree (model files with f64 rows, as they always predicted; the
/// tests' reference) on the training rows `train`: `query(i)`
/// gives query row `i` in f64 as the rows are stored (centred or not), `exact(j, q)` the f64
/// distance of training row `j` from such a row (for the weights).
fn kd_tree<F: linfa::Float>(
    train: ndarray::ArrayView2<F>,
    x: &Matrix,
    k: usize,
    vote: &Vote,
    query: impl Fn(usize) -> Vec<f64> + Sync,
    exact: impl Fn(usize, &[f64]) -> f64 + Sync,
) -> Result<Vec<Vec<f64>>> {
    let index = CommonNearestNeighbour::KdTree
        .from_batch(&train, L2Dist)
        .map_err(|e| Error::learner("knn", e.to_string()))?;
    // rayon's threads do not carry the trial's token, so it is taken here.
    let token = crate::cancel::current();
    (0..x.rows)
        .into_par_iter()
        .map(|i| {
            stopped(&token)?;
            let q = query(i);
            let point: Vec<F> = q.iter().map(|&v| F::cast(v)).collect();
            let found = index
                .k_nearest(ArrayView1::from(&point), k)
                .map_err(|e| Error::learner("knn", e.to_string()))?;
            Ok(vote.row(found.into_iter().map(|(_, j)| {
                let d = if vote.distance_weights { exact(j, &q) } else { 0.0 };
                (j, d)
            })))
        })
        .collect()
}

/// Neighbours from [`kd::KdTree`] over the training rows (the tree is built again for each
/// prediction: `n · cols · log n` work, small beside the queries).
fn tree_search(r: &Rows, x: &Matrix, k: usize, vote: &Vote) -> Result<Vec<Vec<f64>>> {
    let tree = kd::KdTree::new(&r.data, r.cols);
    let token = crate::cancel::current();
    (0..x.rows)
        .into_par_iter()
        .map_init(kd::Nearest::default, |near, i| {
            stopped(&token)?;
            let q = r.centre(x.row(i));
            let point: Vec<f32> = q.iter().map(|&v| v as f32).collect();
            tree.nearest(&point, k, near);
            Ok(vote.row(near.found().iter().map(|&(_, j)| {
                let j = j as usize;
                let d = if vote.distance_weights {
                    r.distance(j, &q)
                } else {
                    0.0
                };
                (j, d)
            })))
        })
        .collect()
}

/// Neighbours by blocked brute force (many columns): squared distances as
/// `|q|² + |t|² − 2 q·t` with the products of a block of query rows and all training rows as one
/// f32 matrix product; per query row the [`shortlist`] nearest by those are ranked again by
/// their f64 distances, and the `k` nearest kept, ties broken by the training row's index (so the
/// result does not depend on threads or blocks).
fn brute(r: &Rows, x: &Matrix, k: usize, vote: &Vote) -> Result<Vec<Vec<f64>>> {
    let t = r.view()?;
    let t_norm: Vec<f32> = t.rows().into_iter().map(|row| row.dot(&row)).collect();
    let token = crate::cancel::current();
    let block = (BLOCK_DISTANCES / t.nrows().max(1)).clamp(4, BLOCK);
    let m = shortlist(k).min(t.nrows());
    let blocks: Vec<Result<Vec<Vec<f64>>>> = (0..x.rows.div_ceil(block))
        .into_par_iter()
        .map(|b| {
            stopped(&token)?;
            let lo = b * block;
            let hi = (lo + block).min(x.rows);
            let centred: Vec<Vec<f64>> = (lo..hi).map(|i| r.centre(x.row(i))).collect();
            let q = Array2::from_shape_vec(
                (hi - lo, x.cols),
                centred.iter().flatten().map(|&v| v as f32).collect(),
            )
            .map_err(|e| Error::learner("knn", e.to_string()))?;
            let mut dots = Array2::<f32>::zeros((hi - lo, t.nrows()));
            general_mat_mul(1.0, &q, &t.t(), 0.0, &mut dots);
            let mut cand: Vec<(f32, usize)> = Vec::with_capacity(2 * m);
            let mut out = Vec::with_capacity(hi - lo);
            for (row, (products, query)) in dots.rows().into_iter().zip(&centred).enumerate() {
                let qr = q.row(row);
                let q_norm = qr.dot(&qr);
                smallest(
                    products
                        .iter()
                        .zip(&t_norm)
                        .map(|(&p, &tn)| finite_or_far(q_norm + tn - 2.0 * p).max(0.0)),
                    m,
                    &mut cand,
                );
                let mut near: Vec<(f64, usize)> = cand[..m]
                    .iter()
                    .map(|&(_, j)| (r.distance(j, query), j))
                    .collect();
                near.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                out.push(vote.row(near[..k].iter().map(|&(d, j)| (j, d))));
            }
            Ok(out)
        })
        .collect();
    let mut rows = Vec::with_capacity(x.rows);
    for b in blocks {
        rows.extend(b?);
    }
    Ok(rows)
}

/// Into `cand`, the `m` smallest of `dist` by (value, position), in no order. A running threshold
/// (the `m`-th smallest so far) turns most values away with one comparison, where choosing among
/// all of them took half of a brute-force search's time; positions come in order, so a value
/// equal to the threshold is never nearer than it, and the result is the one choosing among all
/// would give.
fn smallest(dist: impl Iterator<Item = f32>, m: usize, cand: &mut Vec<(f32, usize)>) {
    let by = |a: &(f32, usize), b: &(f32, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    let m = m.max(1);
    cand.clear();
    let mut threshold: Option<f32> = None;
    for (j, d) in dist.enumerate() {
        if threshold.is_some_and(|t| !d.total_cmp(&t).is_lt()) {
            continue;
        }
        cand.push((d, j));
        if cand.len() >= 2 * m {
            cand.select_nth_unstable_by(m - 1, by);
            cand.truncate(m);
            threshold = Some(cand[m - 1].0);
        }
    }
    if cand.len() > m {
        cand.select_nth_unstable_by(m - 1, by);
        cand.truncate(m);
    }
}

/// Candidates the f32 products choose for `k` neighbours before their f64 distances rank them:
/// the products' rounding can swap rows whose distances are close, not rows this far apart.
fn shortlist(k: usize) -> usize {
    2 * k + 16
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::data::{Dataset, Target};
    use crate::prep::PrepConfig;

    /// breast_cancer's 30 continuous columns (standardised by the native preparation is not
    /// needed: distances on the raw columns are as good a test), its class indices and a split.
    fn breast_cancer() -> (Matrix, Vec<f64>, Matrix) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let d =
            Dataset::from_path(&root.join("datasets/breast_cancer/train.csv"), "diagnosis", None).unwrap();
        let prep = PrepConfig::native().fit(&d.features, None);
        let x = prep.transform(&d.features, None).unwrap();
        let Target::Classes(c) = &d.target else {
            panic!("classes")
        };
        let n = x.rows * 3 / 4;
        let part = |lo: usize, hi: usize| Matrix {
            data: x.data[lo * x.cols..hi * x.cols].to_vec(),
            rows: hi - lo,
            cols: x.cols,
        };
        let y = c[..n].iter().map(|&v| v as f64).collect();
        (part(0, n), y, part(n, x.rows))
    }

    #[test]
    fn large_training_sets_take_smaller_blocks_with_the_same_neighbours() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (n, cols, queries) = (17_000, 20, 130);
        let mut m = |rows: usize| Matrix {
            data: (0..rows * cols).map(|_| rng.gen::<f64>()).collect(),
            rows,
            cols,
        };
        let (train, query) = (m(n), m(queries));
        let block = BLOCK_DISTANCES / n;
        assert!(block < BLOCK && queries > 2 * block, "block {block}");
        let y: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
        let fitted = Knn
            .fit(&Params::default(), Task::Regression, train, &[], Y::Values(&y), 1)
            .unwrap();
        let Prediction::Values(all) = fitted.predict(&query).unwrap() else {
            panic!("values")
        };
        for i in [0, block - 1, block, 2 * block, queries - 1] {
            let one = Matrix {
                data: query.row(i).to_vec(),
                rows: 1,
                cols,
            };
            let Prediction::Values(v) = fitted.predict(&one).unwrap() else {
                panic!("values")
            };
            assert_eq!(v[0], all[i], "row {i}");
        }
    }

    #[test]
    fn the_fit_chooses_the_k_d_tree_where_its_queries_visit_few_rows() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut uniform = |rows: usize, cols: usize| Matrix {
            data: (0..rows * cols).map(|_| rng.gen::<f64>()).collect(),
            rows,
            cols,
        };
        // Three independent columns: a query visits a few dozen of 5000 rows.
        assert!(!prefer_brute(&Rows::of(&uniform(5000, 3)), 5));
        // Twenty: nearly all of them (the curse of dimensionality).
        assert!(prefer_brute(&Rows::of(&uniform(2000, 20)), 5));
        // The same three columns with 17 columns that are one number copied (one direction):
        // intrinsic dimension, not the column count, decides.
        let low = uniform(5000, 3);
        let wide = Matrix {
            data: (0..low.rows)
                .flat_map(|i| {
                    let r = low.row(i);
                    r.iter()
                        .copied()
                        .chain(std::iter::repeat_n(r[0], 17))
                        .collect::<Vec<_>>()
                })
                .collect(),
            rows: low.rows,
            cols: 20,
        };
        assert!(!prefer_brute(&Rows::of(&wide), 5));
        // breast_cancer's 30 continuous columns unscaled: the area columns (hundreds to
        // thousands) dominate every distance, so the tree prunes; standardised, all 30 count.
        let (raw, _, _) = breast_cancer();
        assert!(!prefer_brute(&Rows::of(&raw), 5));
        let scaled = Matrix {
            data: raw
                .data
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let c = i % raw.cols;
                    let col = (0..raw.rows).map(|r| raw.data[r * raw.cols + c]);
                    let (lo, hi) = col.fold((f64::MAX, f64::MIN), |(l, h), x| (l.min(x), h.max(x)));
                    (v - lo) / (hi - lo).max(1e-12)
                })
                .collect(),
            ..raw.clone()
        };
        assert!(prefer_brute(&Rows::of(&scaled), 5));
        // No training rows: nothing to probe, no panic.
        assert!(!prefer_brute(&Rows::of(&uniform(0, 3)), 5));
    }

    #[test]
    fn knn_is_charged_for_every_validation_row_it_predicts() {
        // A sampled trial of a large table: 10k training rows, all 32k validation rows.
        let s = Shape {
            n: 10_000.0,
            d: 37.0,
            raw: 14.0,
            numeric: 10.0,
            levels: 40.0,
            inputs: 37.0,
            k: 1.0,
            valid: 2_500.0,
        };
        let p = Params::default();
        for shape in [
            s,
            Shape {
                raw: 85.0,
                d: 570.0,
                ..s
            },
        ] {
            // A quarter of the training rows (cross-validation, the holdout): the constants as
            // calibrated; 12.8 times the queries, 12.8 times the work, k-d tree or brute force.
            let quarter = Knn.cost(&p, &shape);
            let sampled = Knn.cost(
                &p,
                &Shape {
                    valid: 32_000.0,
                    ..shape
                },
            );
            assert!((sampled / quarter - 12.8).abs() < 1e-9, "{shape:?}");
        }
        assert_eq!(Knn.cost(&p, &s), 5.6 * s.n * s.d * s.n.log2());
    }

    #[test]
    fn the_running_threshold_keeps_what_choosing_among_all_keeps() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
        let by = |a: &(f32, usize), b: &(f32, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        // Continuous values, many ties (few distinct values), descending (every value passes
        // the threshold), infinities, fewer values than asked for.
        let cases: Vec<Vec<f32>> = vec![
            (0..5000).map(|_| rng.gen::<f32>()).collect(),
            (0..5000).map(|_| rng.gen_range(0..4) as f32).collect(),
            (0..3000).rev().map(|v| v as f32).collect(),
            (0..800)
                .map(|i| if i % 3 == 0 { f32::INFINITY } else { rng.gen() })
                .collect(),
            vec![2.0, 1.0, 2.0],
        ];
        let mut cand = Vec::new();
        for dist in cases {
            for m in [1, 7, 26, 116] {
                let mut all: Vec<(f32, usize)> = dist.iter().copied().zip(0..).collect();
                all.sort_by(by);
                all.truncate(m);
                smallest(dist.iter().copied(), m, &mut cand);
                cand.sort_by(by);
                assert_eq!(cand, all, "m {m}, {} values", dist.len());
            }
        }
    }

    fn proba(p: Prediction) -> Matrix {
        let Prediction::Proba(m) = p else { panic!("proba") };
        m
    }

    #[test]
    fn brute_force_finds_the_k_d_trees_neighbours() {
        let (train, y, query) = breast_cancer();
        // The same rows moved far from zero (unscaled columns can be): f32 products of the raw
        // values would lose the small columns, the centred rows keep them.
        let shift = |m: &Matrix| Matrix {
            data: m
                .data
                .iter()
                .enumerate()
                .map(|(i, v)| if i % m.cols == 0 { v + 1e7 } else { *v })
                .collect(),
            ..m.clone()
        };
        for weights in [false, true] {
            let vote = Vote {
                y: &y,
                distance_weights: weights,
                n_classes: 2,
            };
            // linfa-nn's tree on the f64 rows (old model files) is the reference.
            let reference = kd_tree(
                train.view(),
                &query,
                7,
                &vote,
                |i| query.row(i).to_vec(),
                |j, q| distance_f64(train.row(j).iter().copied(), q),
            )
            .unwrap();
            assert_eq!(reference.len(), query.rows);
            for (train, query) in [(train.clone(), query.clone()), (shift(&train), shift(&query))] {
                let rows = Rows::of(&train);
                let bf = brute(&rows, &query, 7, &vote).unwrap();
                let kd = tree_search(&rows, &query, 7, &vote).unwrap();
                // Continuous columns have no ties: the same neighbours, the same shares (weights
                // from f32 rows differ in the 7th digit at most).
                for found in [&bf, &kd] {
                    for (a, b) in reference.iter().zip(found) {
                        for (p, q) in a.iter().zip(b) {
                            assert!((p - q).abs() < 1e-5, "{a:?} vs {b:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn predictions_do_not_depend_on_blocks_and_old_f64_models_still_predict() {
        let (train, y, query) = breast_cancer();
        assert!(query.rows > BLOCK, "more query rows than one block");
        let p = Params::default();
        let classes = y.iter().map(|&v| v as usize).collect::<Vec<_>>();
        let fitted = Knn
            .fit(&p, Task::Binary, train.clone(), &[], Y::Classes(&classes, 2), 1)
            .unwrap();
        let all = proba(fitted.predict(&query).unwrap());
        for i in [0, BLOCK - 1, BLOCK, query.rows - 1] {
            let one = Matrix {
                data: query.row(i).to_vec(),
                rows: 1,
                cols: query.cols,
            };
            assert_eq!(proba(fitted.predict(&one).unwrap()).data, all.row(i), "row {i}");
        }
        // A model file written before f32 rows holds `Fitted::Knn`: it decodes and predicts.
        let old = Fitted::Knn {
            x: train,
            y,
            k: 5,
            distance_weights: false,
            n_classes: 2,
        };
        let old: Fitted = postcard::from_bytes(&postcard::to_stdvec(&old).unwrap()).unwrap();
        let from_old = proba(old.predict(&query).unwrap());
        let agree = (0..query.rows).filter(|&i| from_old.row(i) == all.row(i)).count();
        assert!(
            agree * 100 >= query.rows * 99,
            "{agree} of {} rows agree",
            query.rows
        );
    }
}
