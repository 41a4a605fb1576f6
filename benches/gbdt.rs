//! GBDT benchmark, our side: `cargo bench --bench gbdt -- --out DIR [--repeat N] [--only a,b]`.
//!
//! For each dataset (a synthetic 200k × 20 binary set, `../shared/datasets/diamonds`,
//! `../shared/datasets/telco_churn`) it writes the exact numeric input both systems train on
//! (`DIR/NAME/{x_train,y_train,x_test,y_test}.csv` plus `meta.json` naming the categorical
//! columns), trains our `gbdt` with LightGBM-equivalent parameters (255 bins, 31 leaves, learning
//! rate 0.1, 200 rounds, no bagging, min 20 rows per leaf) on 2 threads, and prints one JSON line
//! per dataset and variant: median train and predict seconds over the repeats and the test metric
//! (binary: ROC AUC; regression: R²). `benches/vs-lightgbm.sh` runs LightGBM on the same files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use automl::data::{Target, Task};
use automl::learners::gbdt::{self, GbdtData, GbdtParams};
use automl::learners::{Prediction, Y};
use automl::matrix::Matrix;
use automl::metrics::{roc_auc, Metric};
use automl::prep::PrepConfig;
use automl::{Dataset, Table};
use rand::{Rng, SeedableRng};

struct Set {
    name: String,
    x_train: Matrix,
    x_test: Matrix,
    categorical: Vec<bool>,
    /// Binary: 1 = positive class; regression: the value.
    y_train: Vec<f64>,
    y_test: Vec<f64>,
    task: Task,
}

/// 200k train + 50k test rows, 20 features: 10 informative through a nonlinear logit, 10 noise.
fn synthetic() -> Set {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261122);
    let (n, d) = (250_000, 20);
    let mut x = Matrix::zeros(n, d);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        for j in 0..d {
            // Sum of uniforms: roughly normal, cheap and dependency-free.
            let v: f64 = (0..4).map(|_| rng.gen::<f64>()).sum::<f64>() - 2.0;
            x.data[i * d + j] = v;
        }
        let r = x.row(i);
        let logit = 1.5 * r[0] - 2.0 * r[1] * r[2] + (3.0 * r[3]).sin() + r[4] * r[4] - 0.5
            + 0.8 * (r[5] > 0.3) as i32 as f64
            - r[6].abs()
            + 0.5 * r[7] * r[8]
            + 0.3 * r[9];
        let p = 1.0 / (1.0 + (-logit).exp());
        y.push(f64::from(u8::from(rng.gen::<f64>() < p)));
    }
    let split = 200_000;
    Set {
        name: "synthetic_200k".into(),
        x_train: x.select_rows(&(0..split).collect::<Vec<_>>()),
        x_test: x.select_rows(&(split..n).collect::<Vec<_>>()),
        categorical: vec![false; d],
        y_train: y[..split].to_vec(),
        y_test: y[split..].to_vec(),
        task: Task::Binary,
    }
}

/// A shared dataset in native encoding (numbers raw, categories as codes of the training levels).
fn shared(root: &Path, name: &str) -> Result<Set, String> {
    let dir = root.join("../shared/datasets").join(name);
    let meta: serde_json::Value = std::fs::read_to_string(dir.join("meta.json"))
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))?;
    let target = meta["target"].as_str().ok_or("meta.json: no target")?;
    let task: Task = meta["task"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .ok_or("meta.json: no task")?;
    let train = Dataset::from_path(&dir.join("train.csv"), target, Some(task)).map_err(|e| e.to_string())?;
    let test = Table::read(&dir.join("test.csv")).map_err(|e| e.to_string())?;
    let prep = PrepConfig::native().fit(&train.features, None);
    let x_train = prep.transform(&train.features, None).map_err(|e| e.to_string())?;
    let test_features = train
        .schema
        .features_from(&test, &mut Vec::new())
        .map_err(|e| e.to_string())?;
    let x_test = prep.transform(&test_features, None).map_err(|e| e.to_string())?;
    let col = test.column(target).ok_or("test.csv: no target column")?;
    let (y_train, y_test) = match (&train.target, task) {
        (Target::Classes(c), Task::Binary) => {
            let pos_label = meta["positive_class"].as_str().ok_or("no positive_class")?;
            let pos = train
                .schema
                .classes
                .iter()
                .position(|c| c == pos_label)
                .ok_or("positive class not among classes")?;
            let ytr = c.iter().map(|&k| f64::from(u8::from(k == pos))).collect();
            let yte = (0..test.n_rows)
                .map(|i| f64::from(u8::from(col.label(i).as_deref() == Some(pos_label))))
                .collect();
            (ytr, yte)
        }
        (Target::Values(v), Task::Regression) => {
            let yte = (0..test.n_rows)
                .map(|i| col.label(i).and_then(|l| l.parse().ok()).unwrap_or(f64::NAN))
                .collect();
            (v.clone(), yte)
        }
        _ => return Err(format!("{name}: only binary and regression sets are benchmarked")),
    };
    Ok(Set {
        name: name.into(),
        x_train,
        x_test,
        categorical: prep.categorical(),
        y_train,
        y_test,
        task,
    })
}

fn write_matrix(path: &Path, m: &Matrix) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    for i in 0..m.rows {
        let row: Vec<String> = m
            .row(i)
            .iter()
            .map(|v| if v.is_nan() { "nan".into() } else { format!("{v}") })
            .collect();
        writeln!(w, "{}", row.join(","))?;
    }
    w.flush()
}

fn write_vec(path: &Path, v: &[f64]) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    for x in v {
        writeln!(w, "{x}")?;
    }
    w.flush()
}

fn export(dir: &Path, s: &Set) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_matrix(&dir.join("x_train.csv"), &s.x_train)?;
    write_matrix(&dir.join("x_test.csv"), &s.x_test)?;
    write_vec(&dir.join("y_train.csv"), &s.y_train)?;
    write_vec(&dir.join("y_test.csv"), &s.y_test)?;
    let cats: Vec<usize> = (0..s.categorical.len()).filter(|&j| s.categorical[j]).collect();
    let meta = serde_json::json!({
        "task": s.task.name(),
        "categorical": cats,
        "rows": s.x_train.rows,
        "cols": s.x_train.cols,
    });
    std::fs::write(dir.join("meta.json"), meta.to_string())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn score(s: &Set, pred: &Prediction) -> f64 {
    match pred {
        Prediction::Proba(p) => {
            let sc: Vec<f64> = (0..p.rows).map(|i| p.get(i, 1)).collect();
            let t: Vec<bool> = s.y_test.iter().map(|&y| y > 0.5).collect();
            roc_auc(&sc, &t)
        }
        Prediction::Values(v) => Metric::R2
            .score(&Target::Values(s.y_test.clone()), &Prediction::Values(v.clone()))
            .unwrap_or(f64::NAN),
    }
}

fn run(s: &Set, variant: &str, params: &GbdtParams, repeat: usize) -> Result<serde_json::Value, String> {
    let threads = std::env::var("GBDT_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| e.to_string())?;
    let classes: Vec<usize> = s.y_train.iter().map(|&y| usize::from(y > 0.5)).collect();
    let (mut fit_secs, mut pred_secs, mut metric, mut rounds) = (Vec::new(), Vec::new(), 0.0, 0);
    for _ in 0..repeat {
        let t0 = Instant::now();
        let model = pool.install(|| {
            let data = GbdtData::new(&s.x_train, &s.categorical)?;
            let y = match s.task {
                Task::Regression => Y::Values(&s.y_train),
                _ => Y::Classes(&classes, 2),
            };
            gbdt::train(
                params,
                gbdt::Fit {
                    data: &data,
                    y,
                    valid: None,
                },
                0,
                &mut |_| true,
            )
        });
        let model = model.map_err(|e| e.to_string())?;
        fit_secs.push(t0.elapsed().as_secs_f64());
        let t1 = Instant::now();
        let pred = pool
            .install(|| model.predict(&s.x_test))
            .map_err(|e| e.to_string())?;
        pred_secs.push(t1.elapsed().as_secs_f64());
        metric = score(s, &pred);
        rounds = model.rounds();
    }
    Ok(serde_json::json!({
        "system": "automl",
        "variant": variant,
        "dataset": s.name,
        "rows": s.x_train.rows,
        "cols": s.x_train.cols,
        "rounds": rounds,
        "train_secs": median(fit_secs),
        "predict_secs": median(pred_secs),
        "metric": if s.task == Task::Regression { "r2" } else { "roc_auc" },
        "score": metric,
    }))
}

fn main() {
    let mut out = PathBuf::from("target/gbdt-bench");
    let mut repeat = 3;
    let mut only: Option<Vec<String>> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().map(PathBuf::from).unwrap_or(out),
            "--repeat" => repeat = args.next().and_then(|v| v.parse().ok()).unwrap_or(repeat),
            "--only" => only = args.next().map(|v| v.split(',').map(str::to_string).collect()),
            "--bench" => {}
            other => {
                eprintln!("gbdt bench: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let wanted = |n: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == n));
    let mut sets = Vec::new();
    if wanted("synthetic_200k") {
        sets.push(Ok(synthetic()));
    }
    for name in ["diamonds", "telco_churn"] {
        if wanted(name) {
            sets.push(shared(&root, name));
        }
    }
    // LightGBM's defaults (31 leaves, learning rate 0.1, 255 bins, min_sum_hessian 1e-3, no
    // bagging, no regularisation) with 200 rounds and min_data_in_leaf 20.
    let base = GbdtParams {
        n_estimators: 200,
        min_child_samples: 20,
        ..GbdtParams::lightgbm()
    };
    let no_count = GbdtParams {
        min_child_samples: 1,
        ..base.clone()
    };
    for set in sets {
        let s = match set {
            Ok(s) => s,
            Err(e) => {
                eprintln!("gbdt bench: {e}");
                continue;
            }
        };
        if let Err(e) = export(&out.join(&s.name), &s) {
            eprintln!("gbdt bench: writing {}: {e}", s.name);
            continue;
        }
        for (variant, p) in [
            ("min_child_samples=20", &base),
            ("min_child_weight only", &no_count),
        ] {
            match run(&s, variant, p, repeat) {
                Ok(j) => println!("{j}"),
                Err(e) => eprintln!("gbdt bench: {} {variant}: {e}", s.name),
            }
        }
    }
}
