use super::*;
use crate::param::Value;
use rand::{Rng, SeedableRng};

/// 600 rows: two informative numbers, a noise number with missing values, a three-level
/// category that shifts the target; `y = sin(3a) + b² + shift + noise`.
fn table(seed: u64) -> (Matrix, Vec<bool>, Vec<f64>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n = 600;
    let mut data = Vec::with_capacity(n * 4);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let (a, b): (f64, f64) = (rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0));
        let noise = if i % 7 == 0 {
            f64::NAN
        } else {
            rng.gen_range(-1.0..1.0)
        };
        let cat = (i % 3) as f64;
        data.extend([a, b, noise, cat]);
        y.push((3.0 * a).sin() + b * b + [0.0, 0.5, -0.5][i % 3] + rng.gen_range(-0.05..0.05));
    }
    let x = Matrix {
        data,
        rows: n,
        cols: 4,
    };
    (x, vec![false, false, false, true], y)
}

fn params(epochs: i64) -> Params {
    let mut p = Params::default();
    p.set("epochs", Value::Int(epochs));
    p.set("width", Value::Int(64));
    p.set("depth", Value::Int(2));
    p
}

fn r2(pred: &[f64], y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    1.0 - pred.iter().zip(y).map(|(p, v)| (p - v).powi(2)).sum::<f64>() / ss
}

#[test]
fn learns_a_nonlinear_regression_and_the_same_seed_gives_the_same_model() {
    let (x, cat, y) = table(1);
    let (xt, _, yt) = table(2);
    let fit = |seed| {
        fit_reporting(
            &params(200),
            Task::Regression,
            &x,
            &cat,
            Y::Values(&y),
            seed,
            &mut |_| true,
        )
        .unwrap()
    };
    let a = fit(7);
    let Prediction::Values(p) = a.predict(&xt).unwrap() else {
        panic!("values")
    };
    let score = r2(&p, &yt);
    assert!(score > 0.9, "held-out R² {score}");
    assert_eq!(a, fit(7), "same seed, same weights");
    assert_ne!(a.weights, fit(8).weights, "another seed, other weights");
    assert_eq!(a.device(), "cpu");
    assert!(a.best_epoch() >= 1 && a.best_epoch() <= 200);
}

#[test]
fn classifies_and_round_trips_through_the_model_file() {
    let (x, cat, y) = table(3);
    let classes: Vec<usize> = y
        .iter()
        .map(|v| usize::from(*v > 0.2) + usize::from(*v > 0.9))
        .collect();
    let m = Mlp
        .fit(
            &params(200),
            Task::Multiclass,
            &x,
            &cat,
            Y::Classes(&classes, 3),
            1,
        )
        .unwrap();
    let bytes = postcard::to_allocvec(&m).unwrap();
    let back: Fitted = postcard::from_bytes(&bytes).unwrap();
    let (p, q) = (m.predict(&x).unwrap(), back.predict(&x).unwrap());
    assert_eq!(p, q, "the model file predicts the same");
    let Prediction::Proba(p) = p else { panic!("proba") };
    assert_eq!(p.cols, 3);
    let mut right = 0;
    for (i, &c) in classes.iter().enumerate() {
        let row = p.row(i);
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        right += usize::from(crate::metrics::argmax(row) == c);
    }
    assert!(right as f64 / 600.0 > 0.85, "training accuracy {right}/600");
    // Schema drift: a column fewer is an error, not a panic.
    let narrow = Matrix {
        data: vec![0.0; 6],
        rows: 2,
        cols: 3,
    };
    let e = m.predict(&narrow).unwrap_err().to_string();
    assert!(e.contains("feature count"), "{e}");
}

#[test]
fn every_epoch_is_reported_and_a_false_answer_stops_training() {
    let (x, cat, y) = table(4);
    let mut seen = Vec::new();
    let m = fit_reporting(
        &params(12),
        Task::Regression,
        &x,
        &cat,
        Y::Values(&y),
        1,
        &mut |e| {
            seen.push(e);
            true
        },
    )
    .unwrap();
    assert_eq!(
        seen.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
    assert!(seen.iter().all(|e| e.valid.is_finite() && e.valid > 0.0));
    let best = seen.iter().fold((f64::INFINITY, 0), |b, e| {
        if e.valid <= b.0 {
            (e.valid, e.epoch)
        } else {
            b
        }
    });
    assert_eq!(m.best_epoch(), best.1, "the best held-out epoch is kept");
    let mut calls = 0;
    fit_reporting(
        &params(12),
        Task::Regression,
        &x,
        &cat,
        Y::Values(&y),
        1,
        &mut |_| {
            calls += 1;
            calls < 3
        },
    )
    .unwrap();
    assert_eq!(calls, 3, "stopped after the third epoch");
}

#[test]
fn a_fired_cancellation_token_stops_training_with_an_error() {
    let (x, cat, y) = table(5);
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let token = crate::cancel::Token::new(Some(flag), None);
    let e = crate::cancel::with(token, || {
        fit_reporting(
            &params(50),
            Task::Regression,
            &x,
            &cat,
            Y::Values(&y),
            1,
            &mut |_| true,
        )
    })
    .unwrap_err();
    assert!(e.to_string().contains("stopped while training"), "{e}");
}

#[test]
fn a_cuda_trial_without_cuda_is_an_error_not_a_cpu_fallback() {
    let (x, cat, y) = table(6);
    let r = crate::device::with(crate::device::Device::Cuda(0), || {
        fit_reporting(
            &params(2),
            Task::Regression,
            &x,
            &cat,
            Y::Values(&y),
            1,
            &mut |_| true,
        )
    });
    if crate::device::CUDA_BUILT {
        // A CUDA build on a machine with a GPU trains there; without one it must say so.
        if let Ok(m) = r {
            assert_eq!(m.device(), "cuda:0");
        }
    } else {
        let e = r.unwrap_err().to_string();
        assert!(e.contains("cuda:0") && e.contains("without CUDA"), "{e}");
    }
}

#[test]
fn epochs_report_to_a_sweep_whose_policy_stops_hopeless_networks() {
    use crate::pruners::Policy;
    use crate::samplers::SamplerKind;
    use crate::space::{ParamSpec, SearchSpace};
    use crate::sweep::{Limits, Sweep, TrialError, TrialState};
    let (x, cat, y) = table(7);
    let space = SearchSpace::new().add("learning_rate", ParamSpec::loguniform(1e-4, 0.3));
    let sweep = Sweep::builder(space)
        .sampler(SamplerKind::Random)
        .policy(Policy::SuccessiveHalving {
            min_resource: 2,
            reduction_factor: 2,
        })
        .seed(3)
        .jobs(2)
        .build()
        .unwrap();
    let result = sweep
        .optimize(
            |t| {
                let mut p = params(16);
                p.set("learning_rate", Value::Float(t.float("learning_rate")?));
                let (mut stop, mut last) = (None, f64::INFINITY);
                fit_reporting(
                    &p,
                    Task::Regression,
                    &x,
                    &cat,
                    Y::Values(&y),
                    t.seed(),
                    &mut |e| {
                        last = e.valid;
                        match t.report(e.epoch as i64, e.valid) {
                            Ok(()) => true,
                            Err(s) => {
                                stop = Some(s);
                                false
                            }
                        }
                    },
                )
                .map_err(|e| TrialError::Failed(e.to_string()))?;
                match stop {
                    Some(s) => Err(s.into()),
                    None => Ok(last),
                }
            },
            Limits {
                max_trials: Some(16),
                ..Limits::default()
            },
        )
        .unwrap();
    let pruned: Vec<_> = result
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .collect();
    assert!(pruned.len() >= 4, "{} pruned", pruned.len());
    assert!(
        pruned.iter().all(|t| t.steps.len() < 16),
        "pruned networks stopped early"
    );
    let best = result.best().unwrap();
    assert_eq!(best.state, TrialState::Completed);
    assert_eq!(best.steps.len(), 16, "one report per epoch");
}

#[test]
fn past_a_soft_deadline_training_ends_after_one_epoch_with_a_model() {
    let (x, cat, y) = table(8);
    // The final refit's deadline has passed: the network keeps what it has instead of failing
    // (a hard deadline, a trial's timeout, is an error: see above).
    let token = crate::cancel::Token::new(None, None).with_soft_deadline(Some(std::time::Instant::now()));
    let mut epochs = 0;
    let m = crate::cancel::with(token, || {
        fit_reporting(
            &params(50),
            Task::Regression,
            &x,
            &cat,
            Y::Values(&y),
            1,
            &mut |_| {
                epochs += 1;
                true
            },
        )
    })
    .unwrap();
    assert_eq!((epochs, m.best_epoch()), (1, 1), "one whole epoch");
    // Trees and other learners ignore soft deadlines.
    assert!(crate::cancel::Token::new(None, None)
        .with_soft_deadline(Some(std::time::Instant::now()))
        .reason()
        .is_none());
}
