//! End-to-end tests of the `automl` command on the bundled datasets and on bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{json, Value};

fn data(name: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets")
        .join(name)
        .join(file)
}

fn automl() -> Command {
    Command::cargo_bin("automl").expect("binary built")
}

/// Run `automl` and return (success, stdout, stderr), checking it never panicked.
fn exec(args: &[&str], dir: &Path) -> (bool, String, String) {
    let out = automl().args(args).current_dir(dir).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !stderr.contains("panicked")
            && !stderr.contains("RUST_BACKTRACE")
            && !stderr.contains("internal error"),
        "panic in {args:?}: {stderr}"
    );
    (out.status.success(), stdout, stderr)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write fixture");
    p.to_string_lossy().to_string()
}

fn json_run(args: &[&str], dir: &Path) -> Value {
    let (ok, out, err) = exec(args, dir);
    assert!(ok, "run failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad json ({e}): {out}"))
}

/// `automl run --json` on a bundled set's train.csv with `--max-trials trials` (and `extra`),
/// scored on its test.csv.
fn json_run_scored(set: &str, target: &str, trials: &str, extra: &[&str], dir: &Path) -> Value {
    let (tr, te) = (data(set, "train.csv"), data(set, "test.csv"));
    let (tr, te) = (tr.to_str().unwrap(), te.to_str().unwrap());
    let mut args = vec!["run", tr, "--target", target, "--max-trials", trials];
    args.extend_from_slice(extra);
    args.extend(["--test", te, "--json"]);
    json_run(&args, dir)
}

#[test]
fn run_then_predict_gives_identical_files_and_good_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let train = data("iris", "train.csv");
    let test = data("iris", "test.csv");
    let (train, test) = (train.to_str().unwrap(), test.to_str().unwrap());
    let v = json_run(
        &[
            "run",
            train,
            "--target",
            "species",
            "--max-trials",
            "12",
            "--seed",
            "1",
            "--jobs",
            "2",
            "--test",
            test,
            "--predict",
            test,
            "--out",
            "p1.csv",
            "--model-out",
            "m.automl",
            "--json",
        ],
        d,
    );
    assert_eq!(v["task"], "multiclass");
    assert_eq!(v["metric"], "accuracy");
    assert_eq!(v["trials"], 12);
    let acc = v["test"]["accuracy"].as_f64().unwrap();
    assert!(acc >= 0.85, "iris test accuracy {acc}");
    let (ok, _, err) = exec(
        &[
            "predict", "--model", "m.automl", "--data", test, "--out", "p2.csv",
        ],
        d,
    );
    assert!(ok, "{err}");
    let p1 = std::fs::read(d.join("p1.csv")).unwrap();
    let p2 = std::fs::read(d.join("p2.csv")).unwrap();
    assert_eq!(p1, p2, "run --predict and automl predict differ");
    let text = String::from_utf8(p1).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("prediction,setosa,versicolor,virginica"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 30);
    // Rows keep input order: the first test row is a setosa in the file.
    let first_truth = std::fs::read_to_string(test)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .rsplit(',')
        .next()
        .unwrap()
        .to_string();
    assert!(rows[0].starts_with(&first_truth), "{} vs {first_truth}", rows[0]);
    for r in rows {
        let p: f64 = r.split(',').skip(1).map(|x| x.parse::<f64>().unwrap()).sum();
        assert!((p - 1.0).abs() < 1e-9, "probabilities sum to {p}");
    }
}

/// `--json` output goes to a reader that has gone (`automl run --json | head -1` after `head`
/// exits): an `error:` line naming stdout and a failed exit, not a panic.
#[test]
fn json_to_a_closed_pipe_is_an_error_not_a_panic() {
    use assert_cmd::cargo::CommandCargoExt;
    let tmp = tempfile::tempdir().unwrap();
    let train = data("iris", "train.csv");
    let mut child = std::process::Command::cargo_bin("automl")
        .unwrap()
        .args(["run", train.to_str().unwrap(), "--target", "species"])
        .args(["--max-trials", "3", "--quiet", "--json"])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit 0 writing to a closed pipe: {err}");
    assert!(err.contains("error: stdout:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn failed_trials_are_listed_unranked_with_their_error() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // A regression loss on a classification task fails every gbdt trial; the others go on.
    let space = write(
        d,
        "space.toml",
        "[gbdt.objective]\ntype = \"choice\"\nvalues = [\"huber\"]\n",
    );
    let v = json_run_scored(
        "iris",
        "species",
        "30",
        &["--seed", "1", "--no-store", "--search-space", &space],
        d,
    );
    let unranked = v["unranked"].as_array().unwrap();
    assert_eq!(
        unranked.len() as u64,
        v["failed"].as_u64().unwrap(),
        "{unranked:?}"
    );
    assert!(!unranked.is_empty(), "no failed trial: {v}");
    for t in unranked {
        assert_eq!(t["learner"], "gbdt", "{t}");
        assert_eq!(t["status"], "failed", "{t}");
        assert!(t["score"].is_null(), "{t}");
        assert!(t["error"].as_str().unwrap().contains("objective"), "{t}");
    }
    let board = v["leaderboard"].as_array().unwrap();
    assert_eq!(
        board.len() + unranked.len(),
        v["trials"].as_u64().unwrap() as usize
    );
    assert!(board
        .iter()
        .all(|t| t["learner"] != "gbdt" && t["error"].is_null()));
}

#[test]
fn same_seed_gives_same_leaderboard() {
    let tmp = tempfile::tempdir().unwrap();
    let train = data("penguins", "train.csv");
    let args = [
        "run",
        train.to_str().unwrap(),
        "--target",
        "species",
        "--max-trials",
        "16",
        "--seed",
        "7",
        "--jobs",
        "2",
        "--json",
    ];
    let strip = |v: &Value| -> Vec<Value> {
        v["leaderboard"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let mut t = t.clone();
                let o = t.as_object_mut().unwrap();
                // Times differ between runs; they must be there and add up (a trial's folds may
                // run on both threads: at most twice its wall time).
                let secs = |k: &str| o.get(k).and_then(Value::as_f64).unwrap_or(-1.0);
                let (fit, predict, wall) = (secs("fit_secs"), secs("predict_secs"), secs("secs"));
                assert!(fit >= 0.0 && predict >= 0.0, "fit {fit} predict {predict}");
                assert!(
                    fit + predict <= 2.0 * wall + 1e-3,
                    "fit {fit} + predict {predict} > wall {wall}"
                );
                for k in ["fit_secs", "predict_secs", "secs"] {
                    o.remove(k);
                }
                t
            })
            .collect()
    };
    let a = json_run(&args, tmp.path());
    let b = json_run(&args, tmp.path());
    assert_eq!(strip(&a), strip(&b));
    assert!(strip(&a).len() >= 10);
    // A small set: no row sampling; without a time budget every member sees all rows.
    assert!(strip(&a).iter().all(|t| t["sample"] == 1.0), "{a}");
    assert_eq!(a["refit_fewer_rows"], serde_json::json!([]));
    let mut c_args = args.to_vec();
    c_args[7] = "8";
    let c = json_run(&c_args, tmp.path());
    assert_ne!(strip(&a), strip(&c), "a different seed should change the trials");
}

#[test]
fn regression_and_binary_reach_sane_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let v = json_run_scored("diabetes", "progression", "20", &[], tmp.path());
    assert_eq!(v["task"], "regression");
    let r2 = v["test"]["r2"].as_f64().unwrap();
    assert!(r2 > 0.3, "diabetes test r2 {r2}");
    let v = json_run_scored("breast_cancer", "diagnosis", "12", &[], tmp.path());
    let auc = v["test"]["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.97, "breast cancer test auc {auc}");
}

#[test]
fn a_used_ensemble_reports_its_calibration_in_json() {
    // penguins, 20 trials, seed 1: a blend of several trials is the model, and `--json` shows
    // the temperature its probabilities get (fitted on the out-of-fold predictions; the fit
    // itself is tested in tests/ensemble.rs and src/ensemble/calibrate.rs). The test rows keep
    // a sane log loss.
    let tmp = tempfile::tempdir().unwrap();
    // Whether the blend beats the best trial depends on the search's path (6 of seeds 1–10 with
    // in-flight costs counted; seed 7 before): that premise is the first assertion.
    let v = json_run_scored("penguins", "species", "20", &["--seed", "1"], tmp.path());
    let e = &v["ensemble"];
    assert_eq!(e["used"], true, "{e}");
    assert_eq!(e["calibration"]["kind"], "temperature", "{e}");
    let t = e["calibration"]["t"].as_f64().unwrap();
    assert!(t > 0.1 && t < 20.0, "temperature {t}");
    let ll = v["test"]["log_loss"].as_f64().unwrap();
    assert!(ll < 0.3, "penguins test log loss {ll}");
}

#[test]
fn learners_flag_restricts_search_and_rejects_unknown() {
    let tmp = tempfile::tempdir().unwrap();
    let tr = data("wine", "train.csv");
    let v = json_run(
        &[
            "run",
            tr.to_str().unwrap(),
            "--target",
            "cultivar",
            "--max-trials",
            "6",
            "--learners",
            "knn,gaussian_nb",
            "--json",
        ],
        tmp.path(),
    );
    for t in v["leaderboard"].as_array().unwrap() {
        let l = t["learner"].as_str().unwrap();
        assert!(l == "knn" || l == "gaussian_nb", "{l}");
    }
    let (ok, _, err) = exec(
        &[
            "run",
            tr.to_str().unwrap(),
            "--target",
            "cultivar",
            "--learners",
            "xgboost",
        ],
        tmp.path(),
    );
    assert!(!ok);
    assert!(err.contains("unknown learner 'xgboost'"), "{err}");
}

/// Expect failure with one clear line containing `needle`.
fn fails_with(args: &[&str], dir: &Path, needle: &str) {
    let (ok, _, err) = exec(args, dir);
    assert_failed(ok, &err, args, needle);
}

/// The checks of [`fails_with`] on a command already run: it failed, with one `error` line, and
/// `needle` in its stderr.
fn assert_failed(ok: bool, err: &str, args: &[&str], needle: &str) {
    assert!(!ok, "expected failure for {args:?}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    assert!(
        err.lines().filter(|l| l.starts_with("error")).count() == 1,
        "{err}"
    );
}

#[test]
fn bad_training_input_gives_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let check = |f: &str, extra: &[&str], needle: &str| {
        let mut v = vec!["run", f, "--target", "y", "--max-trials", "4"];
        v.extend_from_slice(extra);
        fails_with(&v, d, needle);
    };

    check("nope.csv", &[], "nope.csv");
    let f = write(d, "empty.csv", "");
    check(&f, &[], "empty");
    let f = write(d, "header.csv", "a,b,y\n");
    check(&f, &[], "no data rows");
    let f = write(d, "ragged.csv", "a,b,y\n1,2,3\n4,5,6,7,8\n1,2,3\n");
    check(&f, &[], "line 3 has 5 field(s) but the header has 3");
    let f = write(d, "short.csv", "a,b,y\n1,2,3\n4,5\n1,2,3\n");
    check(&f, &[], "line 3 has 2 field(s)");
    let f = write(d, "notarget.csv", "a,b,c\n1,2,3\n4,5,6\n");
    check(&f, &[], "target column 'y' not found");
    let f = write(d, "constant.csv", "a,y\n1,x\n2,x\n3,x\n");
    check(&f, &[], "single value");
    let f = write(d, "one.csv", "a,y\n1,x\n");
    check(&f, &[], "only 1 data row");
    let f = write(d, "ok.csv", "a,y\n1,0.5\n2,1.5\n3,2.5\n4,3.1\n5,4.2\n6,5.0\n");
    check(&f, &["--metric", "bogus"], "unknown metric 'bogus'");
    check(&f, &["--metric", "accuracy"], "does not apply to regression");
    check(&f, &["--task", "clustering"], "unknown task 'clustering'");
    check(&f, &["--time-budget", "0"], "time budget must be a positive");
    check(&f, &["--time-budget", "1e20"], "at most 1e9");
    // Destinations that cannot be written fail before the data is read or any trial runs,
    // naming the path asked for (not the temporary file a save goes through).
    let plain = write(d, "plain", "x");
    let under = format!("{plain}/m.automl");
    check(&f, &["--model-out", &under], &format!("{under}: Not a directory"));
    let folder = d.to_str().unwrap();
    check(
        &f,
        &["--report", folder],
        &format!("{folder}: is a folder, not a file"),
    );
    let (_, _, err) = exec(&["run", &f, "--target", "y", "--model-out", &under], d);
    assert!(!err.contains("guardrails"), "{err}");
    let temps = std::fs::read_dir(d)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".tmp"))
        .count();
    assert_eq!(temps, 0, "no temporary file left in {folder}");
}

#[test]
fn awkward_training_input_is_handled_with_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // An all-missing column, an infinite value, a row without target, and only 3 labelled rows.
    let f = write(
        d,
        "odd.csv",
        "a,empty,b,y\n1,,2,1.0\ninf,,3,2.0\n3,,1,\n4,,5,3.5\n",
    );
    let (ok, _, err) = exec(&["run", &f, "--target", "y", "--max-trials", "6"], d);
    assert!(ok, "{err}");
    assert!(
        err.contains("ignoring column 'empty': all values missing"),
        "{err}"
    );
    assert!(err.contains("infinite value"), "{err}");
    assert!(err.contains("dropped 1 row(s) with a missing target"), "{err}");
    assert!(err.contains("3-fold"), "{err}");
}

#[test]
fn predict_checks_the_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let tr = data("penguins", "train.csv");
    let (ok, _, err) = exec(
        &[
            "run",
            tr.to_str().unwrap(),
            "--target",
            "species",
            "--max-trials",
            "6",
            "--model-out",
            "m.automl",
            "-q",
        ],
        d,
    );
    assert!(ok, "{err}");
    let header = "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year";
    let f = write(
        d,
        "missing.csv",
        "island,bill_length_mm,bill_depth_mm,flipper_length_mm,sex,year\nDream,40,18,190,male,2008\n",
    );
    fails_with(
        &["predict", "--model", "m.automl", "--data", &f, "--out", "o.csv"],
        d,
        "column 'body_mass_g' is missing",
    );
    let f = write(
        d,
        "wrongtype.csv",
        &format!("{header}\nDream,forty,18,190,3900,male,2008\n"),
    );
    fails_with(
        &["predict", "--model", "m.automl", "--data", &f, "--out", "o.csv"],
        d,
        "'bill_length_mm' should be numeric",
    );
    let f = write(
        d,
        "unseen.csv",
        &format!("{header},extra\nAtlantis,40,18,190,3900,male,2008,1\nDream,50,15,220,5000,,2009,2\n"),
    );
    let (ok, out, err) = exec(
        &["predict", "--model", "m.automl", "--data", &f, "--out", "o.csv"],
        d,
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("not seen in training") && err.contains("island"),
        "{err}"
    );
    assert!(err.contains("extra"), "{err}");
    assert!(out.contains("2 predictions"), "{out}");
    let f = write(d, "garbage.json", "{not json");
    fails_with(
        &["predict", "--model", &f, "--data", &f, "--out", "o.csv"],
        d,
        "not an automl model file",
    );
}

#[test]
fn runs_are_recorded_and_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let tr = data("penguins", "train.csv");
    let v = json_run(
        &[
            "run",
            tr.to_str().unwrap(),
            "--target",
            "species",
            "--max-trials",
            "9",
            "--json",
        ],
        d,
    );
    let id = v["run_id"].as_i64().expect("run id");
    let exps: Value = serde_json::from_str(&exec(&["experiments", "list", "--json"], d).1).unwrap();
    assert_eq!(exps[0]["name"], "penguins");
    assert_eq!(exps[0]["runs"], 1);
    let (ok, out, err) = exec(&["runs", "list", "penguins", "--json"], d);
    assert!(ok, "{err}");
    let runs: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(runs[0]["tags"]["trials"], "9");
    assert_eq!(
        runs[0]["metrics"]["accuracy"].as_f64(),
        v["best"]["cv_score"].as_f64()
    );
    let (ok, out, err) = exec(&["runs", "show", &id.to_string(), "--json"], d);
    assert!(ok, "{err}");
    let show: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(show["children"].as_array().unwrap().len(), 9);
    let trial = &show["children"][0];
    assert_eq!(trial["parent"], id);
    assert!(trial["params"]["learner"].is_string());
    assert_eq!(show["run"]["environment"]["seed"], 0);
    assert!(show["run"]["environment"]["data_hash"].is_string());
    let arts = show["run"]["artifacts"].as_array().unwrap();
    let model = arts.iter().find(|a| a[0] == "model").unwrap()[1]
        .as_str()
        .unwrap();
    assert!(d.join("automl-workspace").join(model).exists());
    let log = arts.iter().find(|a| a[0] == "log").unwrap()[1].as_str().unwrap();
    let log = std::fs::read_to_string(d.join("automl-workspace").join(log)).unwrap();
    assert!(
        log.contains("9 trials") && log.contains("5-fold stratified CV"),
        "{log}"
    );
    // A trial run's history holds one step per fold.
    let tid = trial["id"].as_i64().unwrap().to_string();
    let t: Value = serde_json::from_str(&exec(&["runs", "show", &tid, "--json"], d).1).unwrap();
    let folds = t["metric_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["key"] == "fold_accuracy")
        .count();
    assert_eq!(folds, 5);
    let (ok, out, _) = exec(&["runs", "list", "--status", "failed", "--json"], d);
    assert!(ok);
    assert_eq!(out.trim(), "[]");
    fails_with(&["runs", "show", "999"], d, "no run 999");
    fails_with(
        &["run", "--resume", &tid],
        d,
        &format!("run {tid} is a trial; resume its parent run {id}"),
    );
    fails_with(&["run", "--resume", &id.to_string()], d, "already completed");
    fails_with(
        &["runs", "list", "--status", "weird"],
        d,
        "unknown status 'weird'",
    );
    let other = tempfile::tempdir().unwrap();
    fails_with(&["runs", "list"], other.path(), "no workspace at");
    let (ok, _, _) = exec(
        &[
            "run",
            tr.to_str().unwrap(),
            "--target",
            "species",
            "--max-trials",
            "2",
            "--no-store",
            "-q",
        ],
        other.path(),
    );
    assert!(ok);
    assert!(!other.path().join("automl-workspace").exists());
}

#[test]
fn four_processes_share_one_workspace() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let tr = data("iris", "train.csv");
    let children: Vec<_> = (0..4)
        .map(|i| {
            automl()
                .args([
                    "run",
                    tr.to_str().unwrap(),
                    "--target",
                    "species",
                    "--max-trials",
                    "40",
                    "--jobs",
                    "1",
                ])
                .args([
                    "--seed",
                    &i.to_string(),
                    "--experiment",
                    "shared",
                    "--model-out",
                    &format!("m{i}.automl"),
                    "-q",
                ])
                .current_dir(d)
                .output()
                .expect("runs")
        })
        .collect();
    for c in &children {
        assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
        assert!(!String::from_utf8_lossy(&c.stderr).contains("locked"));
    }
    let runs: Value = serde_json::from_str(&exec(&["runs", "list", "shared", "--json"], d).1).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 4);
    for r in runs.as_array().unwrap() {
        let id = r["id"].as_i64().unwrap().to_string();
        let show: Value = serde_json::from_str(&exec(&["runs", "show", &id, "--json"], d).1).unwrap();
        assert_eq!(show["children"].as_array().unwrap().len(), 40);
    }
}

fn completed_trials(d: &Path, run: i64) -> Vec<(i64, f64)> {
    let (ok, out, err) = exec(&["runs", "show", &run.to_string(), "--json"], d);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut done: Vec<(i64, f64)> = v["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "completed")
        .map(|c| {
            (
                c["params"]["trial"].as_i64().unwrap(),
                c["metrics"]["accuracy"].as_f64().unwrap(),
            )
        })
        .collect();
    done.sort_by_key(|t| t.0);
    done
}

fn integrity(d: &Path) {
    let s = automl::store::SqlStore::open(&d.join("automl-workspace/automl.db")).expect("store opens");
    s.integrity_check().expect("integrity");
}

#[test]
fn kill_nine_then_resume_loses_no_completed_trial() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let tr = data("breast_cancer", "train.csv");
    let bin = assert_cmd::cargo::cargo_bin("automl");
    let start = |args: &[&str]| {
        std::process::Command::new(&bin)
            .args(args)
            .current_dir(d)
            .spawn()
            .expect("spawn")
    };
    let first = [
        "run",
        tr.to_str().unwrap(),
        "--target",
        "diagnosis",
        "--metric",
        "accuracy",
        "--max-trials",
        "500",
        "--jobs",
        "2",
        "--seed",
        "5",
        "-q",
    ];
    let mut seen: Vec<(i64, f64)> = Vec::new();
    let mut kills = 0;
    let mut finished = false;
    // Kill the first run, then each resume, until one finishes by itself; check the store each time.
    let mut child = start(&first);
    // While the first run is alive, a resume is refused. The workspace file exists a moment
    // before the run is recorded in it; until then a resume is refused as an unknown run.
    std::thread::sleep(std::time::Duration::from_millis(700));
    for _ in 0..50 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        let resume = ["run", "--resume", "1", "-q"];
        let (ok, _, err) = exec(&resume, d);
        if !ok && err.contains("no run 1 in this workspace") {
            std::thread::sleep(std::time::Duration::from_millis(100));
            continue;
        }
        assert_failed(ok, &err, &resume, "is still being run by process");
        break;
    }
    for delay_ms in [900u64, 900, 900, 900, 900] {
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let alone = child.try_wait().unwrap().is_some();
        if !alone {
            child.kill().unwrap();
            kills += 1;
        }
        let status = child.wait().unwrap();
        if alone {
            assert!(status.success());
            finished = true;
            break;
        }
        if !d.join("automl-workspace/automl.db").exists() {
            child = start(&first);
            continue;
        }
        integrity(d);
        if kills == 1 {
            let tr = tr.to_str().unwrap();
            let other_seed = [
                "run",
                tr,
                "--target",
                "diagnosis",
                "--metric",
                "accuracy",
                "--seed",
                "6",
                "--resume",
                "1",
            ];
            fails_with(&other_seed, d, "was started with seed = 5, this command has 6");
        }
        let now = completed_trials(d, 1);
        for t in &seen {
            assert!(now.contains(t), "completed trial {t:?} lost after a kill");
        }
        seen = now;
        child = start(&["run", "--resume", "1", "-q"]);
    }
    if !finished {
        assert!(child.wait().unwrap().success());
    }
    assert!(
        kills >= 2,
        "the test should interrupt the run at least twice ({kills})"
    );
    integrity(d);
    let done = completed_trials(d, 1);
    for t in &seen {
        assert!(done.contains(t), "completed trial {t:?} lost");
    }
    let ids: Vec<i64> = done.iter().map(|t| t.0).collect();
    assert_eq!(
        ids,
        (0..500).collect::<Vec<i64>>(),
        "every trial id completed exactly once"
    );
    let runs: Value = serde_json::from_str(&exec(&["runs", "list", "--json"], d).1).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["status"], "completed");
    // The replayed cost-frugal search suggests exactly what an uninterrupted run does.
    let fresh = tempfile::tempdir().unwrap();
    let (ok, _, err) = exec(&first, fresh.path());
    assert!(ok, "{err}");
    assert_eq!(
        completed_trials(fresh.path(), 1),
        done,
        "a resumed run differs from an uninterrupted one"
    );
    eprintln!(
        "kill -9 test: {kills} kills; {} trials kept across them; 500 completed at the end",
        seen.len()
    );
}

#[test]
fn resume_with_the_budget_spent_finishes_with_the_kept_trials() {
    // A run killed after its budget is spent is resumed with a smaller budget: no new trial runs,
    // but the kept trials are ranked, the best is refitted, saved and the run completes.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let tr = data("penguins", "train.csv");
    let bin = assert_cmd::cargo::cargo_bin("automl");
    let mut child = std::process::Command::new(&bin)
        .args([
            "run",
            tr.to_str().unwrap(),
            "--target",
            "species",
            "--time-budget",
            "60",
            "--jobs",
            "2",
            "--seed",
            "3",
            "-q",
        ])
        .current_dir(d)
        .spawn()
        .expect("spawn");
    let mut kept = Vec::new();
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(200));
        if d.join("automl-workspace/automl.db").exists() {
            kept = completed_trials(d, 1);
            if kept.len() >= 20 {
                break;
            }
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = completed_trials(d, 1).len().max(kept.len());
    assert!(kept >= 20, "the first run should have kept trials ({kept})");
    let (ok, out, err) = exec(&["run", "--resume", "1", "--time-budget", "1", "--json"], d);
    assert!(ok, "resume failed: {err}");
    assert!(err.contains("the time budget is already spent"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["trials"].as_u64().unwrap() as usize >= kept, "{v}");
    assert!(v["best"]["cv_score"].as_f64().unwrap() > 0.9, "{v}");
    assert!(d.join("automl-workspace/artifacts/1/model.automl").exists());
    let runs: Value = serde_json::from_str(&exec(&["runs", "list", "--json"], d).1).unwrap();
    assert_eq!(runs[0]["status"], "completed");
}

#[test]
fn model_registry_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (tr, te) = (data("penguins", "train.csv"), data("penguins", "test.csv"));
    let (tr, te) = (tr.to_str().unwrap(), te.to_str().unwrap());
    let ok = |args: &[&str]| {
        let (ok, out, err) = exec(args, d);
        assert!(ok, "{args:?}: {err}");
        out
    };
    assert!(ok(&["data", "register", "penguins", tr]).contains("registered penguins:1"));
    assert!(ok(&["data", "register", "penguins", tr]).contains("no new version"));
    let v = json_run(
        &[
            "run",
            tr,
            "--target",
            "species",
            "--max-trials",
            "6",
            "--register",
            "pg",
            "--json",
        ],
        d,
    );
    assert_eq!(v["registered"], "pg:1");
    let run = v["run_id"].as_i64().unwrap().to_string();
    let show: Value = serde_json::from_str(&ok(&["runs", "show", &run, "--json"])).unwrap();
    assert_eq!(show["run"]["dataset"], "penguins:1");
    assert!(ok(&[
        "models",
        "register",
        "pg",
        "--run",
        &run,
        "--alias",
        "champion",
        "--tag",
        "stage=prod"
    ])
    .contains("pg:2"));
    let list: Value = serde_json::from_str(&ok(&["models", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["aliases"][0], "champion");
    assert_eq!(list[1]["tags"]["stage"], "prod");
    ok(&[
        "predict",
        "--model",
        "pg@champion",
        "--data",
        te,
        "--out",
        "a.csv",
    ]);
    ok(&[
        "predict",
        "--model",
        "model.automl",
        "--data",
        te,
        "--out",
        "b.csv",
    ]);
    assert_eq!(
        std::fs::read(d.join("a.csv")).unwrap(),
        std::fs::read(d.join("b.csv")).unwrap()
    );
    fails_with(&["models", "delete", "pg:2"], d, "target of alias(es) @champion");
    ok(&["models", "alias", "pg", "champion", "1"]);
    ok(&["models", "delete", "pg:2"]);
    let m: Value = serde_json::from_str(&ok(&["models", "show", "pg@champion", "--json"])).unwrap();
    assert_eq!(m["model"]["version"], 1);
    assert_eq!(m["dataset"], "penguins:1");
    // Under 5-fold CV (and no time budget) the final members are their fold models of two
    // 5-fold splits, and the registry says so.
    let members = m["members"].as_array().unwrap();
    assert!(!members.is_empty(), "{m}");
    assert!(members.iter().all(|e| e["fold_models"] == 10), "{m}");
    assert!(ok(&["models", "show", "pg:1"]).contains("10 fold models"));
    let moves: Vec<i64> = m["alias_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[1].as_i64().unwrap())
        .collect();
    assert_eq!(moves, vec![2, 1]);
    ok(&["models", "export", "pg:1", "--out", "exported.automl"]);
    assert_eq!(
        std::fs::read(d.join("exported.automl")).unwrap(),
        std::fs::read(d.join("model.automl")).unwrap()
    );
    fails_with(
        &["predict", "--model", "pg@nope", "--data", te, "--out", "c.csv"],
        d,
        "has no alias 'nope'",
    );
    fails_with(
        &["predict", "--model", "ghost", "--data", te, "--out", "c.csv"],
        d,
        "no registered model named 'ghost'",
    );
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A parameter gbdt holds fixed (its space's `[fixed]` table) can be searched from a
/// `--search-space` file, and each trial trains with its own value: two bin counts in one sweep
/// (both binnings of the run's shared data, which hessboost keys by `max_bin`) score apart.
#[test]
fn a_search_space_file_can_search_a_parameter_the_learner_holds_fixed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let tr = data("diabetes", "train.csv");
    let mut text =
        String::from("learners = [\"gbdt\"]\n[gbdt.max_bin]\ntype = \"choice\"\nvalues = [3, 255]\n");
    for (name, value) in [
        ("n_estimators", "50"),
        ("num_leaves", "15"),
        ("learning_rate", "0.1"),
        ("min_child_weight", "1.0"),
        ("colsample_bytree", "1.0"),
        ("reg_alpha", "0.001"),
        ("reg_lambda", "1.0"),
    ] {
        text += &format!("[gbdt.{name}]\ntype = \"choice\"\nvalues = [{value}]\n");
    }
    let space = d.join("space.toml");
    std::fs::write(&space, &text).unwrap();
    let (tr, sp) = (tr.to_str().unwrap(), space.to_str().unwrap());
    let base = [
        "run",
        tr,
        "--target",
        "progression",
        "--no-store",
        "-q",
        "--search-space",
        sp,
    ];
    let mut run = base.to_vec();
    run.extend(["--sampler", "grid", "--seed", "1", "--json"]);
    let out = json_run(&run, d);
    let board = out["leaderboard"].as_array().unwrap();
    assert_eq!(board.len(), 2, "{out}");
    let score = |bins: i64| {
        let row = board.iter().find(|r| r["params"]["max_bin"] == bins);
        row.unwrap_or_else(|| panic!("no trial with max_bin {bins}: {out}"))["score"]
            .as_f64()
            .unwrap()
    };
    // Three bins per feature cost diabetes about 0.06 R² (0.34 against 0.40).
    let (coarse, fine) = (score(3), score(255));
    assert!(fine > coarse + 0.02, "max_bin 3: {coarse}, 255: {fine}");
    // A name the learner neither searches nor holds fixed is refused, with both lists.
    std::fs::write(&space, "[gbdt.max_bins]\ntype = \"choice\"\nvalues = [63]\n").unwrap();
    let (ok, _, err) = exec(&base, d);
    assert!(!ok, "{err}");
    assert!(
        err.contains("gbdt has no parameter 'max_bins' (searched: class_weight, colsample_bytree")
            && err.contains("; fixed, settable: early_stopping_rounds, huber_delta, max_bin, max_depth"),
        "{err}"
    );
    // A value gbdt refuses stops the run before its first trial, naming the file's line.
    std::fs::write(
        &space,
        "learners = [\"gbdt\"]\n[gbdt.max_bin]\ntype = \"choice\"\nvalues = [63, 1000]\n",
    )
    .unwrap();
    let (ok, out, err) = exec(&base, d);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("space.toml, line 2: parameter gbdt.max_bin: must be in [2, 255], got 1000")
            && !err.contains("trial"),
        "{err}"
    );
}

#[test]
fn samplers_search_spaces_and_policies_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let tr = data("breast_cancer", "train.csv");
    let tr = tr.to_str().unwrap();
    let base = ["run", tr, "--target", "diagnosis", "--no-store", "-q"];
    let with = |extra: &[&str]| -> Vec<String> { base.iter().chain(extra).map(|s| s.to_string()).collect() };

    // Grid sampling needs choice parameters only.
    let v = with(&["--sampler", "grid"]);
    fails_with(&args(&v), d, "grid sampling takes choice parameters only");

    // A search-space file narrows the space to a 6-point grid, run to exhaustion.
    let space = d.join("space.toml");
    std::fs::write(
        &space,
        "learners = [\"logistic_regression\"]\n\n[logistic_regression.alpha]\ntype = \"choice\"\nvalues = [0.1, 1.0]\n\n\
         [preprocessing.impute]\ntype = \"choice\"\nvalues = [\"median\"]\n[preprocessing.scale]\ntype = \"choice\"\nvalues = [\"standard\"]\n\
         [preprocessing.encode]\ntype = \"choice\"\nvalues = [\"onehot\"]\n[preprocessing.max_categories]\ntype = \"choice\"\nvalues = [20]\n",
    )
    .unwrap();
    let sp = space.to_str().unwrap();
    let v = with(&["--sampler", "grid", "--search-space", sp, "--json"]);
    let out = json_run(&args(&v), d);
    assert_eq!(out["trials"], 6, "{out}");
    assert_eq!(out["sampler"], "grid");
    assert_eq!(out["best"]["learner"], "logistic_regression");

    // A bad space file names its line.
    std::fs::write(&space, "[knn.k]\ntype = \"loguniform\"\nlow = 5\nhigh = 2\n\n[random_forest.n_tress]\ntype = \"randint\"\nlow = 1\nhigh = 2\n").unwrap();
    let v = with(&["--search-space", sp]);
    fails_with(
        &args(&v),
        d,
        "space.toml, line 1: parameter knn.k: log-uniform bounds",
    );
    std::fs::write(
        &space,
        "[random_forest.n_tress]\ntype = \"randint\"\nlow = 1\nhigh = 2\n",
    )
    .unwrap();
    fails_with(&args(&v), d, "line 1: random_forest has no parameter 'n_tress'");

    // Policies: ASHA stops trials (recorded as pruned, with their step scores in the store).
    let v: Vec<String> = [
        "run",
        tr,
        "--target",
        "diagnosis",
        "-q",
        "--json",
        "--sampler",
        "random",
        "--max-trials",
        "40",
        "--seed",
        "3",
        "--early-termination",
        "asha",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = json_run(&args(&v), d);
    let pruned = out["pruned"].as_u64().unwrap();
    assert!(pruned >= 10, "asha pruned only {pruned} of 40: {out}");
    let (ok, show, err) = exec(&["runs", "show", "1", "--json"], d);
    assert!(ok, "{err}");
    let show: Value = serde_json::from_str(&show).unwrap();
    let kids = show["children"].as_array().unwrap();
    let p = kids
        .iter()
        .find(|c| c["status"] == "pruned")
        .expect("a pruned child run");
    assert!(p["metrics"]["step_roc_auc"].is_number(), "{p}");
    assert_eq!(kids.len(), 40);

    // Bad policy settings are named.
    let v = with(&["--early-termination", "bandit"]);
    fails_with(
        &args(&v),
        d,
        "needs a slack factor or a slack amount (--slack-factor",
    );
    let v = with(&[
        "--early-termination",
        "truncation",
        "--truncation-percentage",
        "120",
    ]);
    fails_with(&args(&v), d, "between 1 and 99");
    let v = with(&["--sampler", "annealing"]);
    fails_with(&args(&v), d, "unknown sampler 'annealing'");

    // A per-trial timeout far below one fit stops every trial; the run says why.
    let v = with(&["--trial-timeout", "0.000001", "--max-trials", "4"]);
    fails_with(&args(&v), d, "trial timeout");
}

/// Write a sweep spec running examples/sweep/train.py over the given layer values (grid, one
/// trial at a time so every decision sees all earlier trials), with extra TOML appended.
fn layer_sweep(d: &Path, layers: &[i64], extra: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sweep/train.py");
    let spec = d.join("spec.toml");
    let text = format!(
        "command = [\"python3\", {script:?}, \"--lr\", \"0.01\", \"--layers\", \"${{{{search_space.layers}}}}\", \"--epochs\", \"5\", \"--epoch-seconds\", \"0\", \"--fail-if-layers\", \"9\", \"--hang-if-layers\", \"8\", \"--tag\", \"${{{{search_space.tag}}}}\"]\n\
         [objective]\ngoal = \"minimize\"\nprimary_metric = \"val_loss\"\n\
         [sampling]\nalgorithm = \"grid\"\n\
         [search_space.layers]\ntype = \"choice\"\nvalues = {layers:?}\n\
         [search_space.tag]\ntype = \"choice\"\nvalues = [\"; rm -rf / $(whoami) `id` 'q'\"]\n\
         {extra}",
        script = script.display().to_string()
    );
    std::fs::write(&spec, text).unwrap();
    spec
}

fn sweep_json(spec: &Path, d: &Path) -> Value {
    let (ok, out, err) = exec(
        &[
            "sweep",
            spec.to_str().unwrap(),
            "--json",
            "--artifacts",
            d.join("art").to_str().unwrap(),
            "--report",
            "sweep.html",
        ],
        d,
    );
    assert!(ok, "sweep failed: {err}\n{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad json ({e}): {out}"))
}

fn states(v: &Value) -> Vec<(i64, String, u64)> {
    let mut s: Vec<(i64, String, u64)> = v["leaderboard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["trial"].as_i64().unwrap(),
                t["status"].as_str().unwrap().to_string(),
                t["steps"].as_u64().unwrap(),
            )
        })
        .collect();
    s.sort();
    s
}

#[test]
fn sweep_grid_finds_the_known_best_and_passes_values_literally() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sweep/grid.toml");
    let v = sweep_json(&spec, d);
    assert_eq!(v["trials"], 9);
    // The sweep's HTML report lists the 9 trials with their settings.
    let html = std::fs::read_to_string(d.join("sweep.html")).unwrap();
    assert_eq!(html.matches("data-trial=").count(), 9);
    assert!(
        html.contains("<th>sampler</th><td>grid</td>"),
        "settings in the summary"
    );
    assert_eq!(v["completed"], 9);
    assert_eq!(v["best"]["params"]["lr"], 0.01);
    assert_eq!(v["best"]["params"]["layers"], 3);
    assert!((v["best"]["value"].as_f64().unwrap() - 0.2).abs() < 1e-9);
    // A value full of shell syntax reaches the program as one literal argument.
    let spec = layer_sweep(d, &[3], "");
    let v = sweep_json(&spec, d);
    assert_eq!(v["completed"], 1, "{v}");
    let log = std::fs::read_to_string(d.join("art/trial-0/stdout.log")).unwrap();
    assert!(log.contains("tag=; rm -rf / $(whoami) `id` 'q'\n"), "{log}");
    assert!(
        !log.contains("automl_metric"),
        "metric lines are not copied to the log"
    );
}

#[test]
fn sweep_policies_stop_the_expected_trials() {
    // loss(epoch) = 0.1 * |layers - 3| + 1 / epoch; trials 0..3 have layers 3, 1, 5, 2.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let layers = [3, 1, 5, 2];
    let limits = "[limits]\nmax_concurrent_trials = 1\n";
    let run = |policy: &str| {
        let spec = layer_sweep(d, &layers, &format!("{limits}[early_termination]\n{policy}\n"));
        states(&sweep_json(&spec, d))
    };
    let s = |v: &[(&str, u64)]| -> Vec<(i64, String, u64)> {
        v.iter()
            .enumerate()
            .map(|(i, (st, n))| (i as i64, st.to_string(), *n))
            .collect()
    };
    // Bandit, slack 0.25: stop when loss > 1.25 x best at that epoch.
    // Trial 1: epoch 2 0.7 > 0.625; trial 3: epoch 3 0.433 > 0.417.
    assert_eq!(
        run("policy = \"bandit\"\nslack_factor = 0.25"),
        s(&[("completed", 5), ("pruned", 2), ("pruned", 2), ("pruned", 3)])
    );
    // Median: stop when the best so far is worse than the median of the others' running averages.
    assert_eq!(
        run("policy = \"median_stopping\""),
        s(&[("completed", 5), ("pruned", 1), ("pruned", 1), ("completed", 5)])
    );
    // Truncation 50 %: the worse half at each epoch stops (ties: the later trial).
    assert_eq!(
        run("policy = \"truncation_selection\"\ntruncation_percentage = 50"),
        s(&[("completed", 5), ("pruned", 1), ("pruned", 1), ("pruned", 2)])
    );
}

#[test]
fn sweep_kills_hanging_trials_and_goes_on_after_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // layers 8 hangs (sleeps an hour), 9 exits 1, 3 works.
    let spec = layer_sweep(
        d,
        &[8, 9, 3],
        "[limits]\nmax_concurrent_trials = 3\ntrial_timeout = 1.5\n",
    );
    let t0 = std::time::Instant::now();
    let v = sweep_json(&spec, d);
    assert!(
        t0.elapsed().as_secs_f64() < 20.0,
        "the hanging trial was not stopped"
    );
    let lb = v["leaderboard"].as_array().unwrap();
    let by = |id: i64| lb.iter().find(|t| t["trial"] == id).unwrap();
    assert_eq!(by(0)["status"], "timed_out", "{v}");
    assert!(by(0)["secs"].as_f64().unwrap() < 10.0);
    assert_eq!(by(1)["status"], "failed");
    let e = by(1)["error"].as_str().unwrap();
    assert!(e.contains("code 1") && e.contains("diverged: loss is nan"), "{e}");
    assert_eq!(by(2)["status"], "completed");
    assert_eq!(v["best"]["trial"], 2);
}

#[test]
fn sweep_spec_errors_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let bad = |text: &str, needle: &str| {
        let p = d.join("bad.toml");
        std::fs::write(&p, text).unwrap();
        fails_with(&["sweep", p.to_str().unwrap()], d, needle);
    };
    let ok = "command = \"true ${{search_space.x}}\"\n[objective]\ngoal = \"minimize\"\nprimary_metric = \"m\"\n[limits]\nmax_total_trials = 2\n[search_space.x]\ntype = \"uniform\"\nlow = 0\nhigh = 1\n";
    bad(
        &ok.replace("${{search_space.x}}", "${{search_space.y}}"),
        "${{search_space.y}}, which is not defined",
    );
    bad(
        &ok.replace("goal = \"minimize\"", "goal = \"lowest\""),
        "objective.goal must be minimize or maximize",
    );
    bad(
        &ok.replace("max_total_trials = 2", "max_total_trial = 2"),
        "unknown field `max_total_trial`",
    );
    bad(&ok.replace("low = 0", "low = 2"), "low must not exceed high");
    bad(
        &format!("{ok}[early_termination]\npolicy = \"bandit\"\n"),
        "needs a slack factor",
    );
    // A program that reports nothing fails every trial; the sweep says why.
    let p = d.join("silent.toml");
    std::fs::write(&p, ok).unwrap();
    fails_with(
        &["sweep", p.to_str().unwrap(), "-q"],
        d,
        "none of 2 trial(s) completed",
    );
}

#[test]
fn a_program_that_crashes_at_once_shows_its_stderr_everywhere() {
    // Like a script failing on its first line (`import mlflow` without mlflow): the last lines of
    // its stderr reach the summary, --json and the store, for every trial.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let spec = "command = [\"sh\", \"-c\", \"echo 'Traceback (most recent call last):' >&2; echo \\\"ModuleNotFoundError: No module named 'mlflow'\\\" >&2; exit 1\", \"${{search_space.x}}\"]\n[objective]\ngoal = \"maximize\"\nprimary_metric = \"acc\"\n[limits]\nmax_total_trials = 12\nmax_concurrent_trials = 4\n[search_space.x]\ntype = \"uniform\"\nlow = 0\nhigh = 1\n";
    let p = write(d, "crash.toml", spec);
    let needle = "ModuleNotFoundError: No module named 'mlflow'";
    let (ok, out, _) = exec(&["sweep", &p, "-q"], d);
    assert!(!ok);
    assert!(
        out.contains("failed: the program exited with code 1; stderr ends with:"),
        "{out}"
    );
    assert!(out.contains(needle), "the summary lacks the traceback:\n{out}");
    let (ok, out, _) = exec(&["sweep", &p, "--json"], d);
    assert!(!ok);
    let v: Value = serde_json::from_str(&out).unwrap();
    let board = v["leaderboard"].as_array().unwrap();
    assert_eq!(board.len(), 12);
    for t in board {
        let e = t["error"].as_str().unwrap();
        assert!(e.contains("Traceback") && e.contains(needle), "{e}");
    }
    // The store keeps it on each trial run.
    let run = v["run_id"].as_i64().unwrap();
    let (ok, out, err) = exec(&["runs", "show", &run.to_string(), "--json"], d);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    let kids = shown["children"].as_array().unwrap();
    assert_eq!(kids.len(), 12);
    for k in kids {
        let e = k["error"].as_str().unwrap_or_default();
        assert!(e.contains(needle), "{k}");
    }
}

#[test]
fn sweep_runs_an_azure_ml_sweep_yaml_as_is() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sweep/azure-sweep.yml");
    let v = sweep_json(&spec, d);
    assert_eq!(v["trials"], 16, "{v}");
    assert_eq!(v["sampler"], "random");
    assert!(v["early_termination"].as_str().unwrap().starts_with("median"));
    let ignored: Vec<&str> = v["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    for f in ["$schema", "compute", "trial.environment", "display_name"] {
        assert!(ignored.contains(&f), "{f} not reported as ignored: {ignored:?}");
    }
    // experiment_name names the experiment the sweep is recorded in.
    assert!(!ignored.contains(&"experiment_name"), "{ignored:?}");
    let (ok, out, _) = exec(&["experiments", "list", "--json"], d);
    assert!(ok && out.contains("\"train-py\""), "{out}");
    for t in v["leaderboard"].as_array().unwrap() {
        // loguniform bounds are exponents in Azure ML: exp(-9.2) .. exp(0).
        let lr = t["params"]["learning_rate"].as_f64().unwrap();
        assert!((1.0e-4..=1.0).contains(&lr), "{lr}");
        let dropout = t["params"]["dropout"].as_f64().unwrap();
        assert!(
            ((dropout * 10.0).round() - dropout * 10.0).abs() < 1e-9,
            "quniform q=0.1: {dropout}"
        );
    }
    assert!(v["completed"].as_u64().unwrap() >= 8);
    // Errors name the field or the unsupported value.
    let text = std::fs::read_to_string(&spec).unwrap();
    let bad = |t: String, needle: &str| {
        let p = d.join("bad.yml");
        std::fs::write(&p, t).unwrap();
        fails_with(&["sweep", p.to_str().unwrap()], d, needle);
    };
    bad(
        text.replace("  seed: 11", "  seed: 11\n  rule: sobol"),
        "rule 'sobol' is not supported",
    );
    bad(text.replace("limits:", "limitz:"), "limitz");
    bad(text.replace("type: sweep", "type: command"), "only 'sweep' jobs");
    bad(
        text.replace("max_value: 0.5", "max_value: -0.5"),
        "low must not exceed high",
    );
}

#[cfg(unix)]
#[test]
fn sweep_ctrl_c_marks_the_run_killed_and_resume_finishes_it_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let spec = layer_sweep(d, &[3, 1, 5, 2, 4, 6], "[limits]\nmax_concurrent_trials = 2\n");
    let text = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("\"--epoch-seconds\", \"0\"", "\"--epoch-seconds\", \"0.15\"");
    std::fs::write(&spec, text).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("automl");
    let child = std::process::Command::new(&bin)
        .args(["sweep", spec.to_str().unwrap(), "-q"])
        .current_dir(d)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: signals the child we spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("interrupted") && err.contains("automl sweep --resume 1"),
        "{err}"
    );
    let (ok, show, e) = exec(&["runs", "show", "1", "--json"], d);
    assert!(ok, "{e}");
    let show: Value = serde_json::from_str(&show).unwrap();
    assert_eq!(show["run"]["status"], "killed");
    // Resume finishes the sweep; the result equals an uninterrupted sweep's.
    let (ok, resumed, e) = exec(&["sweep", "--resume", "1", "--json"], d);
    assert!(ok, "{e}");
    let resumed: Value = serde_json::from_str(&resumed).unwrap();
    assert_eq!(resumed["trials"], 6);
    let fresh = tempfile::tempdir().unwrap();
    let again = sweep_json(&spec, fresh.path());
    assert_eq!(states(&resumed), states(&again));
    assert_eq!(resumed["best"], again["best"]);
    let (ok, show, _) = exec(&["runs", "show", "1", "--json"], d);
    assert!(ok);
    let show: Value = serde_json::from_str(&show).unwrap();
    assert_eq!(show["run"]["status"], "completed");
    assert_eq!(show["run"]["tags"]["best_trial"], "0");
    let kids = show["children"].as_array().unwrap();
    assert!(
        kids.iter().any(|k| k["status"] == "killed"),
        "the interrupted trials stay recorded"
    );
    assert_eq!(kids.iter().filter(|k| k["status"] == "completed").count(), 6);
}

#[test]
fn sweep_runs_a_shell_script_trial_reading_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sweep/shell.toml");
    let v = sweep_json(&spec, d);
    assert_eq!(v["trials"], 30);
    assert_eq!(v["completed"], 30, "{v}");
    // score = -(x - 0.7)^2, maximised: TPE gets close to 0.7.
    let x = v["best"]["params"]["x"].as_f64().unwrap();
    assert!((x - 0.7).abs() < 0.1, "best x {x}");
    let log = std::fs::read_to_string(d.join("art/trial-0/stdout.log")).unwrap();
    assert!(log.starts_with("trial 0: x="), "{log}");
}

/// Replace the two timing columns (3rd- and 2nd-last) of Markdown / CSV rows with `t`.
fn mask_timings(text: &str, sep: char) -> String {
    text.lines()
        .map(|l| {
            let mut cells: Vec<String> = l.split(sep).map(str::to_string).collect();
            let n = cells.len();
            let data_row = l.contains("completed") || l.contains("pruned") || l.contains("failed");
            if data_row && n >= 4 {
                let (a, b) = if sep == '|' {
                    (n - 4, n - 3)
                } else {
                    (n - 3, n - 2)
                };
                cells[a] = if sep == '|' { " t ".into() } else { "t".into() };
                cells[b] = cells[a].clone();
            }
            cells.join(&sep.to_string())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The fixed-seed penguins run behind the golden leaderboards and the HTML report test.
fn fixed_penguins_run(d: &Path, extra: &[&str]) {
    let tr = data("penguins", "train.csv");
    let mut args = vec![
        "run",
        tr.to_str().unwrap(),
        "--target",
        "species",
        "--max-trials",
        "30",
        "--seed",
        "42",
        "--jobs",
        "2",
        "--early-termination",
        "median",
        "-q",
    ];
    args.extend_from_slice(extra);
    let (ok, _, err) = exec(&args, d);
    assert!(ok, "{err}");
}

#[test]
fn leaderboard_reports_match_their_golden_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fixed_penguins_run(d, &[]);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let check = |name: &str, got: String| {
        let path = golden.join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("missing {} (run with UPDATE_GOLDEN=1)", path.display()));
        assert_eq!(got, want, "{name} differs from its golden file");
    };
    let (ok, md, err) = exec(&["leaderboard", "1", "--top", "8", "--format", "md"], d);
    assert!(ok, "{err}");
    check("leaderboard.md", mask_timings(&md, '|'));
    let (ok, csv, err) = exec(&["leaderboard", "1", "--top", "8", "--format", "csv"], d);
    assert!(ok, "{err}");
    check("leaderboard.csv", mask_timings(&csv, ','));
    let out = d.join("lb.json");
    let (ok, _, err) = exec(
        &[
            "leaderboard",
            "penguins",
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
        ],
        d,
    );
    assert!(ok, "{err}");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["schema"], "automl-leaderboard");
    assert_eq!(v["version"], 1);
    assert_eq!(v["rows"].as_array().unwrap().len(), 30, "json lists every trial");
    for r in v["rows"].as_array_mut().unwrap() {
        r["fit_secs"] = Value::Null;
        r["predict_secs"] = Value::Null;
        r["started_secs"] = Value::Null;
        r["secs"] = Value::Null;
    }
    check("leaderboard.json", serde_json::to_string_pretty(&v).unwrap());
    fails_with(
        &["leaderboard", "1", "--format", "pdf"],
        d,
        "unknown format 'pdf'",
    );
    fails_with(
        &["leaderboard", "nosuch"],
        d,
        "no run or experiment called 'nosuch'",
    );
}

#[test]
fn sweep_trials_that_close_their_output_or_leave_children_behind_end() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let spec = d.join("odd.toml");
    // Trial 0 reports then leaves a background child holding stdout; trial 1 closes stdout and
    // sleeps past the timeout.
    std::fs::write(
        &spec,
        "command = [\"sh\", \"-c\", \"${{search_space.script}}\"]\n\
         [objective]\ngoal = \"minimize\"\nprimary_metric = \"m\"\n\
         [sampling]\nalgorithm = \"grid\"\n\
         [limits]\nmax_concurrent_trials = 1\ntrial_timeout = 2\n\
         [search_space.script]\ntype = \"choice\"\nvalues = [\
         \"echo '{\\\"automl_metric\\\": \\\"m\\\", \\\"value\\\": 1}'; sleep 30 &\", \
         \"exec >/dev/null; sleep 30\"]\n",
    )
    .unwrap();
    let t0 = std::time::Instant::now();
    let (ok, out, err) = exec(&["sweep", spec.to_str().unwrap(), "--json", "--no-store"], d);
    assert!(ok, "{err}");
    assert!(t0.elapsed().as_secs_f64() < 15.0, "a trial hung");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        states(&v),
        [(0, "completed".to_string(), 1), (1, "timed_out".to_string(), 0)]
    );
}

#[test]
fn sweep_shell_mode_runs_the_script_verbatim_with_parameters_in_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let spec = d.join("sh.toml");
    let body = r#"
[objective]
goal = "minimize"
primary_metric = "m"
[sampling]
algorithm = "grid"
[search_space.x]
type = "choice"
values = [3]
"#;
    let script = r#"shell = true
command = '''printf '%s\n' 'a  b' > 'out file.txt'; echo "{\"automl_metric\": \"m\", \"value\": $AUTOML_PARAM_X}"'''
"#;
    std::fs::write(&spec, format!("{script}{body}")).unwrap();
    let (ok, out, err) = exec(&["sweep", spec.to_str().unwrap(), "--json", "--no-store"], d);
    assert!(ok, "{err}\n{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["best"]["value"], 3.0, "{v}");
    // The script's own quoting survived: one file with a space in its name, holding "a  b".
    assert_eq!(std::fs::read_to_string(d.join("out file.txt")).unwrap(), "a  b\n");
    // Placeholders are refused in shell mode (values would be pasted into a script).
    let bad = "shell = true\ncommand = \"echo ${{search_space.x}}\"\n";
    std::fs::write(&spec, format!("{bad}{body}")).unwrap();
    fails_with(
        &["sweep", spec.to_str().unwrap(), "--no-store"],
        d,
        "with shell = true, parameters reach the script only through the environment",
    );
}

#[test]
fn learners_command_lists_every_learner_and_prints_its_space() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (ok, out, err) = exec(&["learners", "--json"], d);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let all = v.as_array().unwrap();
    let (ok, help, _) = exec(&["run", "--help"], d);
    assert!(ok);
    for e in all {
        let name = e["name"].as_str().unwrap();
        assert!(help.contains(name), "{name} missing from run --help");
        assert!(!e["tasks"].as_array().unwrap().is_empty(), "{e}");
    }
    let get = |n: &str| all.iter().find(|e| e["name"] == n).unwrap();
    assert_eq!(get("gbdt")["by_default"], true);
    assert_eq!(get("gbdt")["native_input"], true);
    assert_eq!(get("oblivious_gbdt")["by_default"], false);
    assert!(get("mlp")["params"].as_array().unwrap().contains(&json!("width")));
    assert!(get("gbdt")["fixed"]
        .as_array()
        .unwrap()
        .contains(&json!("max_bin")));
    assert_eq!(get("knn")["fixed"], json!([]));
    // The table says the same, and one learner's space is its file, with its defaults.
    let (ok, table, _) = exec(&["learners"], d);
    assert!(
        ok && table.contains("when named") && table.contains("knn"),
        "{table}"
    );
    let (ok, space, err) = exec(&["learners", "random_forest"], d);
    assert!(ok, "{err}");
    assert!(space.starts_with("# search/random_forest.toml\n"), "{space}");
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("search/random_forest.toml"))
            .unwrap();
    assert!(space.ends_with(&text));
    let (ok, _, err) = exec(&["learners", "xgboost"], d);
    assert!(
        !ok && err.starts_with("error: ") && err.contains("unknown learner 'xgboost'"),
        "{err}"
    );
}

#[test]
fn oblivious_gbdt_searches_fits_saves_and_predicts_through_the_cli() {
    // Regression on diabetes: the learner alone, its trials on the searched preprocessing recipe,
    // a real test score, and the saved model predicting the same test rows through `predict`.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (tr, te) = (data("diabetes", "train.csv"), data("diabetes", "test.csv"));
    let v = json_run(
        &[
            "run",
            tr.to_str().unwrap(),
            "--target",
            "progression",
            "--learners",
            "oblivious_gbdt",
            "--max-trials",
            "12",
            "--seed",
            "5",
            "--test",
            te.to_str().unwrap(),
            "--model-out",
            "m.automl",
            "--json",
        ],
        d,
    );
    let board = v["leaderboard"].as_array().unwrap();
    assert_eq!(board.len(), 12);
    for t in board {
        assert_eq!(t["learner"], "oblivious_gbdt");
        assert_ne!(t["preprocessing"]["encode"], "native", "{t}");
    }
    let r2 = v["test"]["r2"].as_f64().unwrap();
    assert!(r2 > 0.35, "diabetes test r2 {r2}");
    let (ok, _, err) = exec(
        &[
            "predict",
            "--model",
            "m.automl",
            "--data",
            te.to_str().unwrap(),
            "--out",
            "p.csv",
        ],
        d,
    );
    assert!(ok, "{err}");
    let rows = std::fs::read_to_string(te).unwrap().lines().count();
    let p = std::fs::read_to_string(d.join("p.csv")).unwrap();
    assert_eq!(
        p.lines().count(),
        rows,
        "one prediction per test row, plus the header"
    );
    // Searched only when named: a run without --learners tries the others, never it.
    let v = json_run(
        &[
            "run",
            tr.to_str().unwrap(),
            "--target",
            "progression",
            "--max-trials",
            "30",
            "--json",
        ],
        d,
    );
    let ran: std::collections::BTreeSet<&str> = v["leaderboard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["learner"].as_str().unwrap())
        .collect();
    assert!(ran.len() >= 6 && !ran.contains("oblivious_gbdt"), "{ran:?}");
    let (ok, help, _) = exec(&["run", "--help"], d);
    assert!(ok && help.contains("oblivious_gbdt (only when named)"), "{help}");
}

#[test]
fn gbdt_runs_on_raw_missing_values_and_categories_and_predicts_unseen_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/titanic");
    if !dir.join("train.csv").exists() {
        eprintln!("skipped: ../shared/datasets/titanic not present");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (train, test) = (dir.join("train.csv"), dir.join("test.csv"));
    let (train, test) = (train.to_str().unwrap(), test.to_str().unwrap());
    let v = json_run(
        &[
            "run",
            train,
            "--target",
            "survived",
            "--learners",
            "gbdt",
            "--max-trials",
            "25",
            "--seed",
            "3",
            "--test",
            test,
            "--model-out",
            "m.automl",
            "--json",
        ],
        d,
    );
    for t in v["leaderboard"].as_array().unwrap() {
        assert_eq!(t["learner"], "gbdt");
        assert_eq!(t["preprocessing"]["encode"], "native", "{t}");
    }
    let auc = v["test"]["roc_auc"].as_f64().unwrap();
    assert!(auc >= 0.85, "titanic test AUC {auc}");
    // Unseen categories, a missing age and an unseen numeric range all predict.
    let text = std::fs::read_to_string(test).unwrap();
    let header = text.lines().next().unwrap();
    let cols: Vec<&str> = header.split(',').collect();
    let row: Vec<&str> = cols
        .iter()
        .map(|c| match *c {
            "pclass" => "9th",
            "sex" => "unknown",
            "age" => "",
            "sibsp" => "42",
            "parch" => "7",
            "survived" => "yes",
            _ => "1",
        })
        .collect();
    let odd = write(d, "odd.csv", &format!("{header}\n{}\n", row.join(",")));
    let (ok, _, err) = exec(
        &["predict", "--model", "m.automl", "--data", &odd, "--out", "p.csv"],
        d,
    );
    assert!(ok, "{err}");
    let p = std::fs::read_to_string(d.join("p.csv")).unwrap();
    let probs: f64 = p
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .skip(1)
        .map(|x| x.parse::<f64>().unwrap())
        .sum();
    assert!((probs - 1.0).abs() < 1e-9, "{p}");
}

/// A headless Chromium (or Chrome) binary, if one is installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn headless(browser: &Path, extra: &[&str], page: &Path, dir: &Path) -> (bool, String, String) {
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--hide-scrollbars",
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .env("HOME", dir)
        .current_dir(dir)
        .output()
        .expect("browser runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn html_report_renders_in_headless_chromium_without_errors() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromium for the HTML report test (.ci/run installs it)"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fixed_penguins_run(d, &["--report", "report.html"]);
    let page = d.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        html.matches("http").count(),
        html.matches("http://www.w3.org/2000/svg").count(),
        "no link leaves the file except the SVG namespace"
    );
    assert!(
        !html.contains("<script src") && !html.contains("<link "),
        "the report loads nothing"
    );
    // The same report renders again from the workspace.
    let (ok, again, err) = exec(&["leaderboard", "1", "--format", "html"], d);
    assert!(ok, "{err}");
    assert!(again.contains("Confusion matrix") && again.contains("Data profile"));

    let (ok, dom, err) = headless(&browser, &["--dump-dom"], &page, d);
    assert!(ok, "chromium failed: {err}");
    assert!(
        dom.contains("data-ready=\"1\""),
        "the report's script did not finish: {err}"
    );
    if let Some(i) = dom.find("data-js-error=\"") {
        panic!("JavaScript error: {}", &dom[i..(i + 200).min(dom.len())]);
    }
    let completed = dom.matches("data-trial=").count();
    let lb = std::fs::read_to_string(golden_dir().join("leaderboard.md")).unwrap();
    let expected: usize = lb
        .lines()
        .last()
        .and_then(|l| l.split(", ").next())
        .and_then(|l| l.split(": ").nth(1))
        .and_then(|n| n.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(completed, expected, "one leaderboard row per completed trial");
    for section in [
        "Run summary",
        "Data profile",
        "Leaderboard",
        "Optimization history",
        "Best score per learner",
        "Hyperparameters",
        "Confusion matrix",
        "ROC curve",
        "Permutation feature importance",
    ] {
        assert!(dom.contains(section), "missing section {section}");
    }

    let shot = d.join("shot.png");
    let arg = format!("--screenshot={}", shot.display());
    let (ok, _, err) = headless(&browser, &[&arg, "--window-size=1280,2400"], &page, d);
    assert!(ok && shot.exists(), "no screenshot: {err}");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let background = &pixels[..3];
    let differing = pixels.chunks(px).filter(|p| p[..3] != *background).count();
    let share = differing as f64 / (pixels.len() / px) as f64;
    assert!(
        share > 0.05,
        "screenshot looks blank: {:.1}% of pixels differ from the corner",
        share * 100.0
    );
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}
