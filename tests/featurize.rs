//! Featurization end to end on constructed tables whose only signal sits where a plain category
//! or an ignored column would lose it: the day of the week of a date, the words of a text, and
//! the levels of a high-cardinality category (whose target code must not leak).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::Path;

use automl::data::{DatePart, FeatureKind, Target};
use automl::learners::Prediction;
use automl::prep::PrepConfig;
use automl::space::SpaceFile;
use automl::{AutoML, Dataset, Metric, ModelFile, Table};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn write(dir: &Path, name: &str, header: &str, rows: &[String]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path
}

fn kind(data: &Dataset, column: &str) -> FeatureKind {
    data.schema
        .features
        .iter()
        .find(|f| f.name == column)
        .unwrap()
        .kind
}

fn run(data: &Dataset, learners: Option<&[&str]>, space: Option<&str>) -> automl::RunSummary {
    let mut b = AutoML::builder().max_trials(24).jobs(2).seed(3);
    if let Some(l) = learners {
        b = b.learners(l.iter().map(|s| s.to_string()));
    }
    if let Some(s) = space {
        b = b.search_space(SpaceFile::from_toml(s, "space.toml").unwrap());
    }
    b.build().unwrap().fit(data).unwrap()
}

/// Score the saved model on a held-out file, through bytes as `automl predict` reads it.
fn test_score(run: &automl::RunSummary, test: &Path, metric: Metric) -> f64 {
    let model = ModelFile::from_bytes(&run.best.to_bytes().unwrap(), Path::new("m")).unwrap();
    let table = Table::read(test).unwrap();
    let (truth, pred) = model.predict_labelled(&table, &mut Vec::new()).unwrap();
    metric.score(&truth, &pred).unwrap()
}

/// A day of 2021–2023 and its sales: 8 more at weekends, plus noise in [0, 1).
fn weekend_sale(rng: &mut ChaCha8Rng) -> (chrono::NaiveDate, f64) {
    let base = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
    let d = base + chrono::Days::new(rng.gen_range(0..900));
    let weekend = matches!(
        chrono::Datelike::weekday(&d),
        chrono::Weekday::Sat | chrono::Weekday::Sun
    );
    (d, 10.0 + if weekend { 8.0 } else { 0.0 } + rng.gen::<f64>())
}

#[test]
fn a_date_column_gives_its_day_of_week() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut rows = Vec::new();
    for _ in 0..700 {
        let (d, y) = weekend_sale(&mut rng);
        rows.push(format!("{},{:.3},{y:.3}", d.format("%m/%d/%Y"), rng.gen::<f64>()));
    }
    let train = write(dir.path(), "train.csv", "when,noise,sales", &rows[..550]);
    let test = write(dir.path(), "test.csv", "when,noise,sales", &rows[550..]);
    let data = Dataset::from_path(&train, "sales", None).unwrap();
    assert_eq!(kind(&data, "when"), FeatureKind::Datetime);
    let when = &data.schema.features[0];
    assert_eq!(when.date_format.as_deref(), Some("%m/%d/%Y"));
    assert!(when.date_parts.contains(&DatePart::DayOfWeek));
    assert!(
        !when.date_parts.contains(&DatePart::Hour),
        "{:?}",
        when.date_parts
    );
    assert!(data.schema.summary(550).contains("1 datetime [when]"));
    // Encoded (forest) and raw (gbdt) input both split the day of week.
    for learners in [&["random_forest"][..], &["gbdt"][..]] {
        let r = run(&data, Some(learners), None);
        assert!(r.best.cv_score > 0.9, "{learners:?}: cv r2 {}", r.best.cv_score);
        assert!(test_score(&r, &test, Metric::R2) > 0.9, "{learners:?}");
        assert_eq!(r.best.format_version, 4);
    }
}

fn reviews(rng: &mut ChaCha8Rng, n: usize) -> Vec<String> {
    let good = ["great", "excellent", "loved", "wonderful", "best"];
    let bad = ["awful", "terrible", "hated", "worst", "boring"];
    let filler = [
        "the", "movie", "plot", "actor", "scene", "film", "story", "music", "ending",
    ];
    (0..n)
        .map(|i| {
            let positive = rng.gen_bool(0.5);
            let mut words: Vec<&str> = (0..6).map(|_| filler[rng.gen_range(0..filler.len())]).collect();
            let pick = if positive { &good } else { &bad };
            words.insert(rng.gen_range(0..6), pick[rng.gen_range(0..5)]);
            format!(
                "\"{} no {i}\",{:.3},{}",
                words.join(" "),
                rng.gen::<f64>(),
                if positive { "pos" } else { "neg" }
            )
        })
        .collect()
}

#[test]
fn a_text_column_gives_its_words() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let rows = reviews(&mut rng, 900);
    let train = write(dir.path(), "train.csv", "review,noise,label", &rows[..700]);
    let test = write(dir.path(), "test.csv", "review,noise,label", &rows[700..]);
    let data = Dataset::from_path(&train, "label", None).unwrap();
    // Every review is distinct: before text features it was ignored as an ID.
    assert_eq!(kind(&data, "review"), FeatureKind::Text);
    for learners in [&["logistic_regression"][..], &["gbdt"][..]] {
        let r = run(&data, Some(learners), None);
        assert!(r.best.cv_score > 0.9, "{learners:?}: cv auc {}", r.best.cv_score);
        assert!(test_score(&r, &test, Metric::RocAuc) > 0.9, "{learners:?}");
    }
}

/// ROC AUC of one score column against 0/1 classes.
fn auc(score: &[f64], y: &[usize]) -> f64 {
    let p = Prediction::Proba(automl::matrix::Matrix {
        rows: score.len(),
        cols: 2,
        data: score.iter().flat_map(|s| [1.0 - s, *s]).collect(),
    });
    Metric::RocAuc.score(&Target::Classes(y.to_vec()), &p).unwrap()
}

#[test]
fn target_codes_of_a_random_target_score_at_chance() {
    // 400 shops with 3 rows each and a coin-flip target: nothing to learn, but a target code
    // fitted on a row's own target would "predict" it.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let rows: Vec<String> = (0..1200)
        .map(|i| {
            format!(
                "shop{},{:.3},{}",
                i % 400,
                rng.gen::<f64>(),
                u8::from(rng.gen_bool(0.5))
            )
        })
        .collect();
    let train = write(dir.path(), "train.csv", "shop,noise,bought", &rows);
    let data = Dataset::from_path(&train, "bought", None).unwrap();
    assert_eq!(kind(&data, "shop"), FeatureKind::Categorical);
    let Target::Classes(y) = &data.target else {
        panic!("binary")
    };

    // In-sample codes (fitted on the rows they code) leak; the training codes a pipeline
    // learns from are out-of-fold and do not.
    let cfg = PrepConfig {
        high_card: Some(automl::prep::derived::CodeKind::Target),
        encode: automl::prep::Encode::Ordinal,
        ..PrepConfig::default()
    };
    let (prep, train_m) = cfg.fit_transform(&data.features, &data.target, None).unwrap();
    let in_sample = prep.transform(&data.features, None).unwrap();
    let code = |m: &automl::matrix::Matrix| (0..m.rows).map(|r| m.get(r, 1)).collect::<Vec<_>>();
    let leaky = auc(&code(&in_sample), y);
    let honest = auc(&code(&train_m), y);
    assert!(leaky > 0.75, "in-sample codes should leak: auc {leaky}");
    assert!((honest - 0.5).abs() < 0.06, "out-of-fold codes: auc {honest}");

    // A whole run that must use target codes validates at chance.
    let space = "[preprocessing.high_card]\ntype = \"choice\"\nvalues = [\"target\"]\n";
    let r = run(&data, Some(&["logistic_regression"]), Some(space));
    assert_eq!(r.best.config.prep_label().rsplit('+').next(), Some("target"));
    assert!((r.best.cv_score - 0.5).abs() < 0.06, "cv auc {}", r.best.cv_score);
}

#[test]
fn parquet_date_and_timestamp_columns_are_dates_and_csv_dates_score_against_them() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (mut days, mut ys, mut csv) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..500 {
        let (d, y) = weekend_sale(&mut rng);
        let since = (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32;
        if i < 400 {
            days.push(since);
            ys.push(y);
        } else {
            csv.push(format!("{},{y:.3}", d.format("%Y-%m-%d")));
        }
    }
    let test = write(dir.path(), "test.csv", "when,sales", &csv);
    for dtype in [DataType::Date, DataType::Datetime(TimeUnit::Milliseconds, None)] {
        let when = Series::new("when".into(), &days)
            .cast(&DataType::Date)
            .unwrap()
            .cast(&dtype)
            .unwrap();
        let mut df = DataFrame::new(
            days.len(),
            vec![when.into(), Series::new("sales".into(), &ys).into()],
        )
        .unwrap();
        let path = dir.path().join("train.parquet");
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .finish(&mut df)
            .unwrap();
        let data = Dataset::from_path(&path, "sales", None).unwrap();
        assert_eq!(kind(&data, "when"), FeatureKind::Datetime, "{dtype:?}");
        let r = run(&data, Some(&["gbdt"]), None);
        assert!(test_score(&r, &test, Metric::R2) > 0.9, "{dtype:?}");
    }
}

#[test]
fn encoded_rows_read_in_blocks_are_the_rows_of_the_whole_matrix() {
    // Every kind of step at once: a date, a text, a 400-level category with out-of-fold target
    // codes, a small category, a number with missing cells.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let reviews = reviews(&mut rng, 1200);
    let rows: Vec<String> = reviews
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (d, _) = weekend_sale(&mut rng);
            let number = if i % 7 == 0 {
                String::new()
            } else {
                format!("{:.3}", rng.gen::<f64>())
            };
            let review = r.rsplit_once(',').map_or(r.as_str(), |(head, _)| head);
            format!(
                "{},shop{},{},{number},{review},{}",
                d.format("%Y-%m-%d"),
                i % 400,
                ["a", "b", "c"][i % 3],
                u8::from(rng.gen_bool(0.5))
            )
        })
        .collect();
    let train = write(
        dir.path(),
        "train.csv",
        "when,shop,size,number,review,noise,bought",
        &rows,
    );
    let data = Dataset::from_path(&train, "bought", None).unwrap();
    assert_eq!(kind(&data, "review"), FeatureKind::Text);
    assert_eq!(kind(&data, "when"), FeatureKind::Datetime);
    let fold: Vec<usize> = (0..data.features.n_rows).filter(|i| i % 5 != 2).rev().collect();
    for encode in [automl::prep::Encode::Onehot, automl::prep::Encode::Ordinal] {
        let cfg = PrepConfig {
            high_card: Some(automl::prep::derived::CodeKind::Target),
            encode,
            max_categories: 10,
            ..PrepConfig::default()
        };
        let (_, whole) = cfg
            .fit_transform(&data.features, &data.target, Some(&fold))
            .unwrap();
        let e = cfg.fit_encoded(&data.features, &data.target, Some(&fold));
        assert_eq!((e.rows(), e.cols()), (whole.rows, whole.cols));
        assert_eq!(e.matrix().unwrap().data, whole.data, "{encode:?}");
        let mut joined = Vec::new();
        for start in (0..e.rows()).step_by(97) {
            joined.extend(e.block(start, (start + 97).min(e.rows())).unwrap().data);
        }
        assert_eq!(joined, whole.data, "{encode:?}");
        // A range beyond the rows is an error, not a panic.
        assert!(e.block(5, 3).is_err());
        assert!(e.block(0, e.rows() + 1).is_err());
        assert_eq!(e.block(e.rows(), e.rows()).unwrap().rows, 0);
    }
}
