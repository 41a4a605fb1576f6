//! Data guardrails, each triggered by a real or a small constructed table: missing values,
//! high cardinality, class imbalance, memory, target leakage (excluded unless allowed) and
//! ID-like columns; and the CLI's `--json` carrying them with the schema.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use automl::data::FeatureKind;
use automl::guardrails::{check, Guardrail, Options, Status};
use automl::Dataset;

fn options() -> Options {
    Options {
        allow_leaky: false,
        validation: "5-fold CV".into(),
        jobs: 2,
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
