//! Data guardrails, each triggered by a real or a small constructed table: missing values,
//! high cardinality, class imbalance, memory, target leakage (excluded unless allowed) and
//! ID-like columns; and the CLI's `--json` carrying them with the schema.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use automl::data::FeatureKind;
use automl::guardrails::{check, Guardrail, Options, Status};
use automl::trials::PipelineTrial;
use automl::Dataset;

fn options() -> Options {
    Options {
        allow_leaky: false,
        validation: "5-fold CV".into(),
        jobs: 2,
        available_memory: None,
    }
}

fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets")
        .join(name)
        .join("train.csv")
}

fn write(dir: &Path, header: &str, rows: impl Iterator<Item = String>) -> PathBuf {
    let path = dir.join("t.csv");
    let body: Vec<String> = rows.collect();
    std::fs::write(&path, format!("{header}\n{}\n", body.join("\n"))).unwrap();
    path
}

fn find<'a>(checks: &'a [Guardrail], name: &str) -> &'a Guardrail {
    checks.iter().find(|g| g.name == name).unwrap()
}

#[test]
fn a_clean_table_passes_and_real_missing_values_are_reported() {
    let mut iris = Dataset::from_path(&bundled("iris"), "species", None).unwrap();
    let checks = check(&mut iris, &options());
    assert_eq!(checks.len(), 7);
    for g in &checks {
        let expected = if g.name == "validation split handling" {
            Status::Done
        } else {
            Status::Passed
        };
        assert_eq!(g.status, expected, "{g:?}");
    }
    assert!(find(&checks, "memory estimate").detail.contains("MiB"));
    // With 10 KiB available, even iris is too big.
    let mut iris = Dataset::from_path(&bundled("iris"), "species", None).unwrap();
    let tight = Options {
        available_memory: Some(10.0 * 1024.0),
        ..options()
    };
    let memory = check(&mut iris, &tight)
        .into_iter()
        .find(|g| g.name == "memory estimate")
        .unwrap();
    assert_eq!(memory.status, Status::Alerted, "{memory:?}");
    assert!(memory.detail.contains("use fewer --jobs"), "{}", memory.detail);

    let mut penguins = Dataset::from_path(&bundled("penguins"), "species", None).unwrap();
    let checks = check(&mut penguins, &options());
    let missing = find(&checks, "missing feature values imputation");
    assert_eq!(missing.status, Status::Done);
    assert!(missing.detail.contains("sex (11)"), "{}", missing.detail);
}

#[test]
fn imbalance_high_cardinality_and_ids_are_found() {
    let dir = tempfile::tempdir().unwrap();
    // 5 % positives, a 40-level shop, and a row id.
    let path = write(
        dir.path(),
        "row_id,shop,x,y",
        (0..400).map(|i| {
            format!(
                "{},s{},{},{}",
                1000 + i,
                i % 40,
                (i * 7) % 13,
                u8::from(i % 20 == 0)
            )
        }),
    );
    let mut data = Dataset::from_path(&path, "y", None).unwrap();
    let checks = check(&mut data, &options());
    let balance = find(&checks, "class balancing detection");
    assert_eq!(balance.status, Status::Alerted);
    assert!(balance.detail.contains("5.0% of all"), "{}", balance.detail);
    let card = find(&checks, "high cardinality feature detection");
    assert_eq!(card.status, Status::Done);
    assert!(card.detail.contains("shop (40 levels)"), "{}", card.detail);
    let ids = find(&checks, "ID-like columns");
    assert_eq!(ids.status, Status::Done);
    assert!(ids.detail.contains("row_id"), "{}", ids.detail);
}

fn leaky_table(dir: &Path) -> PathBuf {
    // `refund` is the target times 3 (recorded after the fact); `x` carries a weak signal.
    write(
        dir,
        "x,refund,noise,spend",
        (0..300).map(|i| {
            let spend = (i % 50) as f64 + ((i * 37) % 11) as f64;
            format!(
                "{},{},{},{spend}",
                (i % 50) as f64 * 0.5,
                spend * 3.0,
                (i * 13) % 7
            )
        }),
    )
}

#[test]
fn a_column_that_is_the_target_in_disguise_is_excluded_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = leaky_table(dir.path());
    let mut data = Dataset::from_path(&path, "spend", None).unwrap();
    let checks = check(&mut data, &options());
    let leak = find(&checks, "target leakage");
    assert_eq!(leak.status, Status::Alerted);
    assert!(leak.detail.starts_with("excluded refund"), "{}", leak.detail);
    let refund = data.schema.features.iter().find(|f| f.name == "refund").unwrap();
    assert_eq!(refund.kind, FeatureKind::Ignored);
    assert_eq!(data.features.columns.len(), 2);
    // x alone explains part of spend, not almost all of it: kept.
    assert!(data.schema.used().any(|f| f.name == "x"));

    let mut kept = Dataset::from_path(&path, "spend", None).unwrap();
    let checks = check(
        &mut kept,
        &Options {
            allow_leaky: true,
            ..options()
        },
    );
    assert!(find(&checks, "target leakage").detail.starts_with("kept"));
    assert_eq!(kept.features.columns.len(), 3);
}

#[test]
fn run_json_carries_the_schema_and_the_guardrails() {
    let dir = tempfile::tempdir().unwrap();
    let path = leaky_table(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_automl"))
        .args([
            "run",
            path.to_str().unwrap(),
            "--target",
            "spend",
            "--max-trials",
            "4",
            "--no-store",
            "--json",
        ])
        .args(["--model-out", dir.path().join("m.automl").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema = v["schema"].as_array().unwrap();
    let refund = schema.iter().find(|c| c["name"] == "refund").unwrap();
    assert_eq!(refund["kind"], "ignored");
    assert!(refund["reason"].as_str().unwrap().starts_with("leaks the target"));
    assert_eq!(
        schema.iter().find(|c| c["name"] == "x").unwrap()["kind"],
        "numeric"
    );
    let guardrails = v["guardrails"].as_array().unwrap();
    assert_eq!(guardrails.len(), 7);
    let leak = guardrails.iter().find(|g| g["name"] == "target leakage").unwrap();
    assert_eq!(leak["status"], "alerted");
}

#[test]
fn class_weights_are_searched_on_imbalanced_classes_only_and_lift_the_minority() {
    use automl::learners::{fit, Prediction, Y};
    use automl::param::{Params, Value};
    // 600 rows, 8 % positives, overlapping: x is shifted by one for the positives.
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "x,z,y",
        (0..600).map(|i| {
            let pos = i % 12 == 0;
            let noise = ((i * 7919) % 1000) as f64 / 250.0;
            format!(
                "{:.3},{},{}",
                noise + if pos { 1.0 } else { 0.0 },
                i % 7,
                u8::from(pos)
            )
        }),
    );
    let data = Dataset::from_path(&path, "y", None).unwrap();
    let run = automl::AutoML::builder()
        .max_trials(30)
        .seed(2)
        .learners(["logistic_regression", "random_forest"])
        .build()
        .unwrap()
        .fit(&data)
        .unwrap();
    let weighted = |r: &automl::RunSummary| {
        r.trials
            .iter()
            .filter(|t| t.config().params.0.contains_key("class_weight"))
            .count()
    };
    assert!(weighted(&run) > 0, "class_weight never searched");
    let iris = Dataset::from_path(&bundled("iris"), "species", None).unwrap();
    let balanced_run = automl::AutoML::builder()
        .max_trials(30)
        .seed(2)
        .build()
        .unwrap()
        .fit(&iris)
        .unwrap();
    assert_eq!(weighted(&balanced_run), 0);
    // Accuracy counts every row alike: weights that favour the minority are not searched for it.
    let accuracy_run = automl::AutoML::builder()
        .max_trials(30)
        .seed(2)
        .metric(automl::Metric::Accuracy)
        .learners(["logistic_regression", "random_forest"])
        .build()
        .unwrap()
        .fit(&data)
        .unwrap();
    assert_eq!(weighted(&accuracy_run), 0);

    // Balanced weights move probability mass to the minority: more positives predicted.
    let m = automl::prep::PrepConfig::default().fit(&data.features, None);
    let x = m.transform(&data.features, None).unwrap();
    let automl::data::Target::Classes(y) = &data.target else {
        panic!("binary")
    };
    let positives = |cw: &str, learner: &str| {
        let mut p = Params::default();
        p.set("class_weight", Value::Str(cw.into()));
        let f = fit(
            learner,
            &p,
            data.schema.task,
            x.clone(),
            &m.categorical(),
            Y::Classes(y, 2),
            1,
        )
        .unwrap();
        let Prediction::Proba(pr) = f.predict(&x).unwrap() else {
            panic!("proba")
        };
        (0..pr.rows).filter(|&r| pr.get(r, 1) > 0.5).count()
    };
    for learner in [
        "logistic_regression",
        "random_forest",
        "decision_tree",
        "extra_trees",
        "gbdt",
        "oblivious_gbdt",
    ] {
        let (plain, bal) = (positives("none", learner), positives("balanced", learner));
        assert!(
            bal > plain + 20,
            "{learner}: {plain} -> {bal} rows predicted positive"
        );
    }
}
