//! The `mlp` learner against the same network in PyTorch on the CPU:
//! `cargo bench --bench mlp -- [--epochs N] [--threads N] [--rows N] [--only a,b] [--python PATH]
//! [--devices cpu,cuda:0] [--no-torch]`.
//!
//! For a synthetic 200k-row table (binary: 16 numbers, 4 categories, a non-linear rule with label
//! noise) and two suite sets (`diamonds`, regression; `card_default`, binary; train.csv →
//! test.csv), the inputs are encoded once by our encoder and written to a temporary folder;
//! then our trainer and `benches/mlp_torch.py` (PyTorch, same architecture, initialisation,
//! optimiser, schedule, batches, label smoothing, held-out fifth and best-epoch rule) each
//! train for the same epochs on the same number of threads. Prints seconds per epoch (training
//! plus the held-out pass), the ratio, and both test scores (ROC AUC or R²). PyTorch comes from a
//! benchmark-only venv: `python3 -m venv ~/.cache/automl-torch-venv &&
//! ~/.cache/automl-torch-venv/bin/pip install torch numpy` (the default `--python`).
//!
//! `--devices cpu,cuda:0` (a `--features cuda` build on a GPU machine, `benches/gpu-check.sh`)
//! trains ours on each device and adds its seconds per epoch, the speed-up over the first device
//! and its test score.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed benchmark

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use automl::data::{Target, Task};
use automl::learners::mlp::encode::Encoder;
use automl::learners::mlp::net::Activation;
use automl::learners::mlp::train::{self, Settings, Targets};
use automl::matrix::Matrix;
use automl::metrics::roc_auc;
use automl::{Dataset, Table};
use rand::{Rng, SeedableRng};

struct Case {
    name: String,
    task: Task,
    x: Matrix,
    categorical: Vec<bool>,
    y: Vec<f64>,
    classes: usize,
    n_train: usize,
}

/// The synthetic table: `rows` rows, 80 % for training.
fn synthetic(rows: usize) -> Case {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let (nums, cats) = (16, 4);
    let levels = [3usize, 5, 8, 12];
    let mut data = Vec::with_capacity(rows * (nums + cats));
    let mut y = Vec::with_capacity(rows);
    for _ in 0..rows {
        let v: Vec<f64> = (0..nums).map(|_| rng.gen_range(-2.0..2.0)).collect();
        let c: Vec<usize> = levels.iter().map(|&l| rng.gen_range(0..l)).collect();
        let z = (v[0] * v[1]).sin() + v[2].abs() - 1.0 + 0.5 * v[3] * v[3] - 0.5
            + [0.0, 0.8, -0.8][c[0]]
            + if c[2].is_multiple_of(2) { 0.4 } else { -0.4 }
            + 0.3 * (v[4] + v[5]).tanh();
        let p = 1.0 / (1.0 + (-2.0 * z).exp());
        y.push(f64::from(u8::from(rng.gen::<f64>() < p)));
        data.extend(v);
        data.extend(c.iter().map(|&c| c as f64));
    }
    let mut categorical = vec![false; nums];
    categorical.extend(vec![true; cats]);
    Case {
        name: format!("synthetic {}k", rows / 1000),
        task: Task::Binary,
        x: Matrix {
            data,
            rows,
            cols: nums + cats,
        },
        categorical,
        y,
        classes: 2,
        n_train: rows * 4 / 5,
    }
}

/// A suite set: train.csv and test.csv in one dataset, in the native encoding.
fn suite(dir: &Path, name: &str) -> Case {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let task: Option<Task> = meta["task"].as_str().and_then(|t| t.parse().ok());
    let mut data =
        Dataset::from_path(&dir.join("train.csv"), meta["target"].as_str().unwrap(), task).unwrap();
    let n_train = data.n_rows();
    data.append(&Table::read(&dir.join("test.csv")).unwrap()).unwrap();
    let prep = automl::prep::PrepConfig::native();
    let train_rows: Vec<usize> = (0..n_train).collect();
    let fitted = prep.fit(&data.features, Some(&train_rows));
    let x = fitted.transform(&data.features, None).unwrap();
    let (y, classes) = match &data.target {
        Target::Classes(c) => (c.iter().map(|&c| c as f64).collect(), data.schema.classes.len()),
        Target::Values(v) => (v.clone(), 0),
    };
    Case {
        name: name.to_string(),
        task: data.schema.task,
        x,
        categorical: fitted.categorical(),
        y,
        classes,
        n_train,
    }
}

/// Write little-endian numbers (`x.to_le_bytes()` each) to `path`.
fn write_le<const N: usize>(path: &Path, values: impl Iterator<Item = [u8; N]>) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for b in values {
        f.write_all(&b).unwrap();
    }
}

/// ROC AUC (binary) or R² of outputs `out` (logits per class, or standardised values).
fn test_score(task: Task, out: &[f32], outputs: usize, y: &[f64], target: (f64, f64)) -> f64 {
    if task == Task::Regression {
        let pred: Vec<f64> = out.iter().map(|&v| v as f64 * target.1 + target.0).collect();
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let ss: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
        1.0 - pred.iter().zip(y).map(|(p, v)| (p - v).powi(2)).sum::<f64>() / ss
    } else {
        let score: Vec<f64> = out.chunks(outputs).map(|z| (z[1] - z[0]) as f64).collect();
        let truth: Vec<bool> = y.iter().map(|&c| c == 1.0).collect();
        roc_auc(&score, &truth)
    }
}

fn main() {
    let mut epochs = 4usize;
    let mut threads = 1usize;
    let mut rows = 200_000usize;
    let mut only: Option<Vec<String>> = None;
    let mut devices = vec![automl::device::Device::Cpu];
    let mut torch = true;
    let mut python = std::env::var("HOME").map_or_else(
        |_| PathBuf::from("python3"),
        |h| PathBuf::from(h).join(".cache/automl-torch-venv/bin/python"),
    );
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--epochs" => epochs = args.next().unwrap().parse().unwrap(),
            "--threads" => threads = args.next().unwrap().parse().unwrap(),
            "--rows" => rows = args.next().unwrap().parse().unwrap(),
            "--only" => only = args.next().map(|v| v.split(',').map(str::to_string).collect()),
            "--python" => python = PathBuf::from(args.next().unwrap()),
            "--devices" => devices = automl::device::parse_list(&args.next().unwrap()).unwrap(),
            "--no-torch" => torch = false,
            "--bench" => {}
            other => {
                eprintln!("mlp bench: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    // candle's CPU matrix products read rayon's variable for their thread count.
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/datasets");
    let mut cases = vec![synthetic(rows)];
    for name in ["diamonds", "card_default"] {
        let dir = shared.join(name);
        if dir.join("train.csv").exists() {
            cases.push(suite(&dir, name));
        } else {
            eprintln!("skipped {name}: {} not present", dir.display());
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let candle: Vec<candle_core::Device> = devices
        .iter()
        .map(|&d| automl::device::candle(d).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    println!("mlp vs PyTorch on the CPU: 3 x 256, batch 256, {epochs} epochs, {threads} thread(s)\n");
    let mut head =
        "| data | train rows | inputs | ours s/epoch | PyTorch s/epoch | ratio | ours test | PyTorch test |"
            .to_string();
    let mut rule = "|---|---:|---:|---:|---:|---:|---:|---:|".to_string();
    for d in devices.iter().skip(1) {
        head += &format!(" {d} s/epoch | speed-up | {d} test |");
        rule += "---:|---:|---:|";
    }
    println!("{head}\n{rule}");
    for case in cases {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| case.name.starts_with(n.as_str())))
        {
            continue;
        }
        let train_rows: Vec<usize> = (0..case.n_train).collect();
        let test_rows: Vec<usize> = (case.n_train..case.x.rows).collect();
        let xtr = case.x.select_rows(&train_rows);
        let xte = case.x.select_rows(&test_rows);
        let enc = Encoder::fit(&xtr, &case.categorical);
        let (etr, ete) = (enc.apply(&xtr), enc.apply(&xte));
        let (ytr, yte) = (&case.y[..case.n_train], &case.y[case.n_train..]);
        let regression = case.task == Task::Regression;
        let settings = Settings {
            hidden: vec![256; 3],
            epochs,
            learning_rate: if regression { 0.07 } else { 0.04 },
            batch: 256,
            dropout: 0.0,
            weight_decay: 0.0,
            label_smoothing: if regression { 0.0 } else { 0.1 },
            activation: if regression {
                Activation::Mish
            } else {
                Activation::Selu
            },
        };
        let classes: Vec<usize> = ytr.iter().map(|&c| c as usize).collect();
        let targets = if regression {
            Targets::Values(ytr)
        } else {
            Targets::Classes(&classes, case.classes)
        };
        // Ours, on each device: (seconds per epoch, test score).
        let mut ours = Vec::new();
        for dev in &candle {
            let mut times = Vec::new();
            let mut last = Instant::now();
            let trained = train::train(
                etr.clone(),
                case.n_train,
                enc.width(),
                targets,
                &settings,
                1,
                dev,
                &mut |_| {
                    times.push(last.elapsed().as_secs_f64());
                    last = Instant::now();
                    true
                },
            )
            .unwrap();
            let out = trained.weights.predict(&ete, test_rows.len()).unwrap();
            let outputs = if regression { 1 } else { case.classes };
            ours.push((
                times.iter().sum::<f64>() / times.len() as f64,
                test_score(case.task, &out, outputs, yte, trained.target),
            ));
        }
        let (ours_epoch, ours_test) = ours[0];
        // The same data for PyTorch.
        let dir = tmp.path().join(case.name.replace(' ', "_"));
        std::fs::create_dir_all(&dir).unwrap();
        write_le(&dir.join("x_train.f32"), etr.iter().map(|v| v.to_le_bytes()));
        write_le(&dir.join("x_test.f32"), ete.iter().map(|v| v.to_le_bytes()));
        write_le(&dir.join("y_train.f64"), ytr.iter().map(|v| v.to_le_bytes()));
        write_le(&dir.join("y_test.f64"), yte.iter().map(|v| v.to_le_bytes()));
        let meta = serde_json::json!({
            "inputs": enc.width(), "train": case.n_train, "test": test_rows.len(),
            "task": case.task.name(), "classes": case.classes, "epochs": epochs,
            "threads": threads, "seed": 1,
        });
        std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
        let torch = if torch {
            Command::new(&python)
                .arg(root.join("benches/mlp_torch.py"))
                .arg(&dir)
                .output()
        } else {
            Err(std::io::Error::other("skipped (--no-torch)"))
        };
        let (torch_epoch, torch_test) = match torch {
            Ok(o) if o.status.success() => {
                let v: serde_json::Value =
                    serde_json::from_slice(o.stdout.split(|&b| b == b'\n').rfind(|l| !l.is_empty()).unwrap())
                        .unwrap();
                (
                    v["epoch_secs"].as_f64().unwrap(),
                    v["test_score"].as_f64().unwrap(),
                )
            }
            Ok(o) => {
                eprintln!(
                    "{}: PyTorch failed: {}",
                    case.name,
                    String::from_utf8_lossy(&o.stderr)
                );
                (f64::NAN, f64::NAN)
            }
            Err(e) => {
                eprintln!("{}: cannot start {}: {e}", case.name, python.display());
                (f64::NAN, f64::NAN)
            }
        };
        let mut line = format!(
            "| {} | {} | {} | {ours_epoch:.3} | {torch_epoch:.3} | {:.2} | {ours_test:.4} | {torch_test:.4} |",
            case.name,
            case.n_train,
            enc.width(),
            ours_epoch / torch_epoch
        );
        for (secs, test) in ours.iter().skip(1) {
            line += &format!(" {secs:.4} | {:.1}x | {test:.4} |", ours_epoch / secs);
        }
        println!("{line}");
    }
}
