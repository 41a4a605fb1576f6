//! Ensembles end to end on real data: greedy selection over the trials' validation predictions,
//! the refitted blend in the model file, and the same ensemble on any number of jobs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::Path;

use automl::ensemble::calibrate::Calibration;
use automl::ensemble::{EnsembleKind, FinalFit};
use automl::{AutoML, Dataset, Metric, ModelFile, Table};

fn data(name: &str, target: &str) -> (Dataset, Table) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets").join(name);
    (
        Dataset::from_path(&dir.join("train.csv"), target, None).unwrap(),
        Table::read(&dir.join("test.csv")).unwrap(),
    )
}

fn run(data: &Dataset, jobs: usize, kind: EnsembleKind) -> automl::RunSummary {
    run_trials(data, jobs, kind, 40)
}

fn run_trials(data: &Dataset, jobs: usize, kind: EnsembleKind, trials: usize) -> automl::RunSummary {
    run_seeded(data, jobs, kind, trials, 7)
}

fn run_seeded(
    data: &Dataset,
    jobs: usize,
    kind: EnsembleKind,
    trials: usize,
    seed: u64,
) -> automl::RunSummary {
    AutoML::builder()
        .max_trials(trials)
        .jobs(jobs)
        .seed(seed)
        .ensemble(kind)
        .build()
        .unwrap()
        .fit(data)
        .unwrap()
}

#[test]
fn a_greedy_ensemble_is_chosen_saved_and_the_same_on_any_number_of_jobs() {
    let (train, test) = data("diabetes", "progression");
    let one = run(&train, 1, EnsembleKind::Greedy);
    let report = one.ensemble.clone().expect("an ensemble report");
    // Diabetes mixes learners well: the blend validates better than the best single trial.
    assert!(report.used, "{report:?}");
    assert!(report.weights.len() >= 2, "{report:?}");
    assert!(report.score > report.single, "{report:?}");
    let total: f64 = one.best.ensemble.iter().map(|m| m.weight).sum();
    assert!((total - 1.0).abs() < 1e-9);
    // Each member is its fold models of two 5-fold splits (no time limit here), averaged.
    assert!(
        one.best.ensemble.iter().all(|m| m.bag == 10),
        "{:?}",
        one.best.ensemble
    );
    assert_eq!(one.best.body.pipelines().count(), 10 * one.best.ensemble.len());
    assert_eq!(one.best.cv_score, report.score);
    assert_eq!(one.best.metrics.get("r2").copied(), Some(report.score));
    // Same seed and trial limit on two jobs: the same trials, the same ensemble.
    let two = run(&train, 2, EnsembleKind::Greedy);
    assert_eq!(two.ensemble, one.ensemble);
    let ids = |r: &automl::RunSummary| r.trials.iter().map(|t| (t.id, t.value)).collect::<Vec<_>>();
    assert_eq!(ids(&one), ids(&two));
    // The saved file holds the blend: it loads and predicts exactly as before saving.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ens.automl");
    one.best.save(&path).unwrap();
    let back = ModelFile::load(&path).unwrap();
    assert_eq!(back.ensemble.len(), one.best.ensemble.len());
    let a = one.best.predict_table(&test, &mut Vec::new()).unwrap();
    let b = back.predict_table(&test, &mut Vec::new()).unwrap();
    assert_eq!(a, b);
    let (truth, pred) = back.predict_labelled(&test, &mut Vec::new()).unwrap();
    let r2 = Metric::R2.score(&truth, &pred).unwrap();
    assert!(r2 > 0.35, "ensemble test r2 {r2}");
    // A damaged ensemble body is refused, not misread: its checksum no longer holds.
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes.truncate(n - 10);
    std::fs::write(&path, &bytes).unwrap();
    let e = ModelFile::load(&path).unwrap_err().to_string();
    assert!(e.contains("checksum"), "{e}");
}

#[test]
fn an_ensemble_that_ties_on_accuracy_is_used_when_its_log_loss_is_lower() {
    // On wine some trials validate at accuracy 1: the blend cannot score higher, so it takes
    // the best trial's place only on its lower log loss over the same folds. Whether a seed
    // reaches accuracy 1 within 300 trials depends on the search's path (3 of seeds 1–40 on the
    // search of this commit; seed 7 and then 27 on earlier ones), so the test takes the first of
    // these seeds that does, and fails if none does.
    let (train, _) = data("wine", "cultivar");
    let mut reports = Vec::new();
    let r = [16, 22, 30, 7, 27]
        .into_iter()
        .map(|seed| run_seeded(&train, 2, EnsembleKind::Greedy, 300, seed))
        .find(|r| {
            reports.push(r.ensemble.clone());
            r.ensemble
                .as_ref()
                .is_some_and(|e| (e.score, e.single) == (1.0, 1.0))
        })
        .unwrap_or_else(|| panic!("no seed reached validation accuracy 1: {reports:?}"));
    let report = r.ensemble.clone().expect("an ensemble report");
    assert!(report.used && report.weights.len() >= 2, "{report:?}");
    let best = r.trials.iter().find(|t| t.id == r.leaderboard()[0].id).unwrap();
    let single = best.metrics["log_loss"];
    let blend = r.best.metrics["log_loss"];
    assert!(blend < single, "blend log loss {blend} vs best trial's {single}");
    // Every out-of-fold label is right: the calibration may sharpen the blend, but not to the
    // temperature's floor (0.05, probabilities p^20), where hard 0/1 targets put it and a test
    // row the blend got wrong cost 9–14 nats (1500 trials, seeds 42 and 2: log loss 0.49, 0.76).
    match r.best.calibration {
        Some(Calibration::Temperature { t }) => {
            assert!(t > 0.2, "temperature {t}")
        }
        None => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_ensembling_the_model_is_the_best_trial_as_its_fold_models_or_refitted() {
    let (train, test) = data("penguins", "species");
    // By default the best trial's fold models of two 5-fold splits are averaged (bagging): a
    // one-member model with a bag of 10, written as format version 3, that reads back and
    // predicts the same.
    let r = run(&train, 2, EnsembleKind::None);
    assert!(r.ensemble.is_none());
    assert_eq!(r.best.cv_score, r.leaderboard()[0].value.unwrap());
    assert_eq!(r.best.ensemble.len(), 1);
    assert_eq!(r.best.ensemble[0].trial, r.best_trial);
    assert_eq!(r.best.ensemble[0].bag, 10);
    assert!(
        r.best_label().contains("its 10 fold models averaged"),
        "{}",
        r.best_label()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bag.automl");
    r.best.save(&path).unwrap();
    let back = ModelFile::load(&path).unwrap();
    // Nearest neighbours keep f32 rows, which only format version 7 holds.
    let knn = r.best.config.learner == "knn";
    assert_eq!(
        back.format_version,
        if knn { 7 } else { 3 },
        "{}",
        r.best.config.learner
    );
    assert_eq!(back.body.pipelines().count(), 10);
    let a = r.best.predict_table(&test, &mut Vec::new()).unwrap();
    assert_eq!(a, back.predict_table(&test, &mut Vec::new()).unwrap());
    let (truth, pred) = back.predict_labelled(&test, &mut Vec::new()).unwrap();
    assert!(Metric::Accuracy.score(&truth, &pred).unwrap() > 0.9);
    // Refitted on all rows instead: one pipeline, format version 1.
    let all = AutoML::builder()
        .max_trials(40)
        .jobs(2)
        .seed(7)
        .ensemble(EnsembleKind::None)
        .final_fit(FinalFit::All)
        .build()
        .unwrap()
        .fit(&train)
        .unwrap();
    assert!(all.best.ensemble.is_empty());
    assert_eq!(all.best.format_version, if knn { 7 } else { 1 });
    assert_eq!(all.best_trial, r.best_trial);
}

#[test]
fn on_large_data_the_rows_a_trial_fits_on_are_searched_from_a_sample_up() {
    // 25,000 rows: holdout validation, 20,000 training rows, so the search starts at 10,000.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut text = String::from("a,b,y\n");
    for i in 0..25_000u32 {
        let (a, b) = (f64::from(i % 97) / 97.0, f64::from((i * 31) % 89) / 89.0);
        text.push_str(&format!(
            "{a},{b},{}\n",
            3.0 * a - 2.0 * b + f64::from(i % 7) / 70.0
        ));
    }
    std::fs::write(&path, text).unwrap();
    let data = Dataset::from_path(&path, "y", None).unwrap();
    let run = AutoML::builder()
        .max_trials(12)
        .jobs(2)
        .seed(3)
        .learners(["ridge", "gbdt"])
        .build()
        .unwrap()
        .fit(&data)
        .unwrap();
    let samples: Vec<f64> = run
        .trials
        .iter()
        .map(|t| automl::trials::sample_of(&t.params))
        .collect();
    // Each learner's search starts on half the training rows (10,000 of 20,000).
    assert!((samples[0] - 0.5).abs() < 1e-9, "{samples:?}");
    assert!(
        samples.iter().all(|s| (0.5 - 1e-9..=1.0).contains(s)),
        "{samples:?}"
    );
    assert!(run.best.cv_score > 0.9, "{}", run.best.cv_score);
}

#[test]
fn a_stack_is_validated_honestly_saved_as_version_3_and_the_same_on_any_number_of_jobs() {
    let (train, test) = data("diabetes", "progression");
    let one = run_trials(&train, 1, EnsembleKind::Stack, 300);
    let report = one.ensemble.clone().expect("an ensemble report");
    assert_eq!(report.kind, EnsembleKind::Stack);
    // The stack's score is cross-validated over the same folds; on diabetes it beats the best
    // single trial and becomes the model.
    assert!(report.used, "{report:?}");
    assert!(report.score > report.single, "{report:?}");
    let meta = one.best.stacker.clone().expect("a stacker in the header");
    assert_eq!(meta.members, one.best.ensemble.len());
    // Regression stacks have non-negative weights.
    assert!(meta.coef.iter().all(|w| *w >= 0.0), "{meta:?}");
    let two = run_trials(&train, 2, EnsembleKind::Stack, 300);
    assert_eq!(two.ensemble, one.ensemble);
    assert_eq!(two.best.stacker, one.best.stacker);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.automl");
    one.best.save(&path).unwrap();
    let back = ModelFile::load(&path).unwrap();
    // Version 3 holds a stack; 6 when a member is a neural network, 7 nearest neighbours.
    let has = |l: &str| one.best.ensemble.iter().any(|m| m.config.learner == l);
    let expected = if has("knn") {
        7
    } else if has("mlp") {
        6
    } else {
        3
    };
    assert_eq!(back.format_version, expected);
    assert_eq!(back.stacker, one.best.stacker);
    let a = one.best.predict_table(&test, &mut Vec::new()).unwrap();
    let b = back.predict_table(&test, &mut Vec::new()).unwrap();
    assert_eq!(a, b);
    let (truth, pred) = back.predict_labelled(&test, &mut Vec::new()).unwrap();
    let r2 = Metric::R2.score(&truth, &pred).unwrap();
    assert!(r2 > 0.35, "stack test r2 {r2}");
}

#[test]
fn a_classification_stack_predicts_probabilities_that_sum_to_one() {
    let (train, test) = data("penguins", "species");
    let r = run(&train, 2, EnsembleKind::Stack);
    let report = r.ensemble.clone().expect("an ensemble report");
    assert_eq!(report.kind, EnsembleKind::Stack);
    assert!(report.score.is_finite(), "{report:?}");
    let (truth, pred) = r.best.predict_labelled(&test, &mut Vec::new()).unwrap();
    let automl::learners::Prediction::Proba(p) = &pred else {
        panic!("classification predicts probabilities")
    };
    assert!(p
        .data
        .chunks(p.cols)
        .all(|row| (row.iter().sum::<f64>() - 1.0).abs() < 1e-9));
    let acc = Metric::Accuracy.score(&truth, &pred).unwrap();
    assert!(acc > 0.9, "penguins accuracy {acc}");
}
