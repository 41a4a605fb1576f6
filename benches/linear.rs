//! Linear learners on wide one-hot data: `cargo bench --bench linear -- [--rows N] [--reps N]`.
//!
//! A seeded table of N rows (default 2,000): 20 standardised numeric columns and 48 categorical
//! ones of 12 levels, one-hot encoded as preprocessing does (0/1 columns, unscaled; the two rarest
//! levels share the all-zero code) — 500 columns, about 60 non-zeros a row. Each linear learner is fitted with its default parameters on one
//! thread, beside the library solver it replaced (linfa-logistic's L-BFGS, smartcore's
//! Cholesky ridge and SVD least squares, linfa-elasticnet's coordinate descent), median of
//! `--reps` fits. Goal: ≤ 50 ms per fit for every linear learner.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed benchmark

use std::time::Instant;

use automl::data::Task;
use automl::learners::{self, Y};
use automl::matrix::Matrix;
use automl::param::Params;
use linfa::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn table(rows: usize) -> (Matrix, Vec<f64>, Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (num, cat, levels) = (20, 48, 12);
    let cols = num + cat * (levels - 2); // rarest two levels share the all-zero code
    let mut x = Matrix::zeros(rows, cols);
    let effect: Vec<f64> = (0..cols).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let mut y = Vec::with_capacity(rows);
    for i in 0..rows {
        let row = &mut x.data[i * cols..(i + 1) * cols];
        for v in row.iter_mut().take(num) {
            *v = rng.gen_range(-2.0..2.0);
        }
        for c in 0..cat {
            let level = rng.gen_range(0..levels);
            if level < levels - 2 {
                row[num + c * (levels - 2) + level] = 1.0;
            }
        }
        let z: f64 = row.iter().zip(&effect).map(|(a, b)| a * b).sum::<f64>() + rng.gen_range(-1.0..1.0);
        y.push(z);
    }
    let binary: Vec<usize> = y.iter().map(|&v| usize::from(v > 0.0)).collect();
    let three: Vec<usize> = y
        .iter()
        .map(|&v| {
            if v < -1.0 {
                0
            } else if v < 1.0 {
                1
            } else {
                2
            }
        })
        .collect();
    (x, y, binary, three)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

/// [`time`] of `f` on a fresh `setup()` each time (the setup not timed).
fn time_owned<T>(reps: usize, mut setup: impl FnMut() -> T, mut f: impl FnMut(T)) -> f64 {
    median(
        (0..reps)
            .map(|_| {
                let input = setup();
                let t = Instant::now();
                f(input);
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

fn main() {
    let (mut rows, mut reps) = (2000, 5);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rows" => rows = args.next().and_then(|v| v.parse().ok()).unwrap_or(rows),
            "--reps" => reps = args.next().and_then(|v| v.parse().ok()).unwrap_or(reps),
            _ => {}
        }
    }
    let (x, y, binary, three) = table(rows);
    let nnz = x.data.iter().filter(|v| **v != 0.0).count() as f64 / rows as f64;
    println!(
        "linear learners: {rows} rows × {} columns ({nnz:.0} non-zeros a row), 1 thread, median of {reps}\n",
        x.cols
    );
    println!("| learner | task | ours ms | library ms | library | speed-up |");
    println!("|---|---|---:|---:|---|---:|");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let none = vec![false; x.cols];
    let p = Params::default();
    let ours = |name: &str, task: Task, yy: Y| {
        pool.install(|| {
            // The learner owns its matrix: each fit gets a copy made outside the timing.
            time_owned(
                reps,
                || x.clone(),
                |xx| drop(learners::fit(name, &p, task, xx, &none, yy, 1).unwrap()),
            )
        })
    };
    let view = x.view();
    let yv = ndarray::Array1::from(y.clone());
    let dm =
        smartcore::linalg::basic::matrix::DenseMatrix::new(x.rows, x.cols, x.data.clone(), false).unwrap();
    let row = |name: &str, task: &str, a: f64, b: f64, lib: &str| {
        println!("| {name} | {task} | {a:.1} | {b:.1} | {lib} | {:.1}× |", b / a);
    };
    let a = ours("logistic_regression", Task::Binary, Y::Classes(&binary, 2));
    let b = pool.install(|| {
        time(reps, || {
            let ds = DatasetBase::new(view, ndarray::Array1::from(binary.clone()));
            drop(
                linfa_logistic::LogisticRegression::default()
                    .alpha(1.0)
                    .max_iterations(100)
                    .fit(&ds)
                    .unwrap(),
            );
        })
    });
    row("logistic_regression", "binary", a, b, "linfa-logistic");
    let a = ours("logistic_regression", Task::Multiclass, Y::Classes(&three, 3));
    let b = pool.install(|| {
        time(reps, || {
            let ds = DatasetBase::new(view, ndarray::Array1::from(three.clone()));
            drop(
                linfa_logistic::MultiLogisticRegression::default()
                    .alpha(1.0)
                    .max_iterations(100)
                    .fit(&ds)
                    .unwrap(),
            );
        })
    });
    row("logistic_regression", "3 classes", a, b, "linfa-logistic");
    let a = ours("ridge", Task::Regression, Y::Values(&y));
    let b = pool.install(|| {
        time(reps, || {
            use smartcore::linear::ridge_regression::*;
            let rp = RidgeRegressionParameters::default()
                .with_alpha(1.0)
                .with_solver(RidgeRegressionSolverName::Cholesky);
            let m: RidgeRegression<f64, f64, _, Vec<f64>> = RidgeRegression::fit(&dm, &y, rp).unwrap();
            drop(m);
        })
    });
    row("ridge", "regression", a, b, "smartcore Cholesky");
    let a = ours("linear_regression", Task::Regression, Y::Values(&y));
    let b = pool.install(|| {
        time(reps, || {
            use smartcore::linear::linear_regression::*;
            let lp = LinearRegressionParameters::default().with_solver(LinearRegressionSolverName::SVD);
            let m: LinearRegression<f64, f64, _, Vec<f64>> = LinearRegression::fit(&dm, &y, lp).unwrap();
            drop(m);
        })
    });
    row("linear_regression", "regression", a, b, "smartcore SVD");
    for (name, l1) in [("lasso", 1.0), ("elastic_net", 0.5)] {
        let a = ours(name, Task::Regression, Y::Values(&y));
        let b = pool.install(|| {
            time(reps, || {
                let ds = DatasetBase::new(view, yv.clone());
                drop(
                    linfa_elasticnet::ElasticNet::params()
                        .penalty(0.01)
                        .l1_ratio(l1)
                        .max_iterations(1000)
                        .tolerance(1e-4)
                        .fit(&ds)
                        .unwrap(),
                );
            })
        });
        row(name, "regression", a, b, "linfa-elasticnet");
    }
}
