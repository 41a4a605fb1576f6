//! Preprocessing searched together with the learner: imputation, scaling and categorical encoding.
//!
//! A [`PrepConfig`] is fitted on training rows only (no leakage across CV folds) and becomes a
//! [`FittedPrep`], which turns any [`Features`] with the same schema into a dense [`Matrix`].
//! Missing and unseen categories are handled: one-hot gives an all-zero row, ordinal gives -1.
//! Dates become their parts, free text hashed word 1–2-gram TF-IDF plus its length, and
//! high-cardinality categories may get a frequency or out-of-fold target code ([`derived`]).

use serde::{Deserialize, Serialize};

use crate::data::{sort_labels, FeatureColumn, Features, Schema, Target, MISSING_CODE};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::param::Params;

pub mod derived;
mod encoded;
mod step;

pub use encoded::Encoded;
use step::{write, Out, Step};

use derived::{CodeKind, LevelCode, Stats, NATIVE_TEXT_DIM};

/// How to fill missing numeric cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    /// Column mean of the training rows.
    Mean,
    /// Column median of the training rows.
    Median,
}

/// How to scale numeric columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Leave values as they are.
    None,
    /// Subtract the mean, divide by the standard deviation.
    Standard,
    /// Map the training range to [0, 1].
    Minmax,
    /// Subtract the median, divide by the inter-quartile range.
    Robust,
}

/// How to turn categories into numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encode {
    /// One 0/1 column per frequent category.
    Onehot,
    /// One column holding the category's index in sorted order.
    Ordinal,
    /// For learners that handle raw input (gbdt): numbers as they are (NaN kept missing, no
    /// scaling) and each categorical column as its level index (NaN for missing or unseen),
    /// marked categorical. Independent of the rows it is fitted on.
    Native,
}

/// A preprocessing recipe (unfitted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepConfig {
    /// Numeric imputation.
    pub impute: Impute,
    /// Numeric scaling.
    pub scale: Scale,
    /// Categorical encoding.
    pub encode: Encode,
    /// Most one-hot columns per categorical feature; rarer categories share the all-zero code.
    pub max_categories: usize,
    /// Hashed TF-IDF columns per free-text feature.
    pub text_dim: usize,
    /// An extra code for categorical features with more levels than `max_categories`.
    pub high_card: Option<CodeKind>,
}

/// Categorical columns with more distinct levels than this make `high_card` worth searching
/// (the smallest `max_categories` of the built-in space).
pub const HIGH_CARD_LEVELS: usize = 10;

/// Whether a preprocessing parameter can change anything on these features, whose values the
/// search may give it (`values`: a choice's values, `None` for a range). The search leaves out
/// parameters that cannot (their trials would repeat others): `impute` needs a missing numeric
/// or date value (or values without the default, median, which new data would get otherwise),
/// `encode` a categorical column, `max_categories` one with more levels than the smallest value,
/// `text_dim` a text column, `high_card` a categorical one with more than [`HIGH_CARD_LEVELS`]
/// levels.
pub fn applies(param: &str, values: Option<&[crate::param::Value]>, x: &Features) -> bool {
    let most_levels = x
        .columns
        .iter()
        .map(|c| match c {
            FeatureColumn::Categorical { levels, .. } => levels.len(),
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    match param {
        // Without missing values in training, imputation acts only on new data, with the default
        // (median) when the parameter is left out: kept when the values given exclude it.
        "impute" => {
            let default = crate::param::Value::Str("median".into());
            values.is_some_and(|vals| !vals.contains(&default))
                || x.columns.iter().any(|c| match c {
                    FeatureColumn::Numeric(v) => v.iter().any(|x| !x.is_finite()),
                    FeatureColumn::Datetime { secs, .. } => secs.iter().any(|x| !x.is_finite()),
                    _ => false,
                })
        }
        "encode" => x
            .columns
            .iter()
            .any(|c| matches!(c, FeatureColumn::Categorical { .. })),
        "max_categories" => {
            let smallest = values.and_then(|vals| {
                vals.iter()
                    .map(|v| match v {
                        crate::param::Value::Int(i) => Some(*i),
                        _ => None,
                    })
                    .collect::<Option<Vec<i64>>>()
                    .and_then(|v| v.into_iter().min())
            });
            smallest.is_none_or(|m| most_levels as i64 > m.max(1))
        }
        "text_dim" => x.columns.iter().any(|c| matches!(c, FeatureColumn::Text(_))),
        "high_card" => most_levels > HIGH_CARD_LEVELS,
        _ => true,
    }
}

impl Default for PrepConfig {
    fn default() -> Self {
        PrepConfig {
            impute: Impute::Median,
            scale: Scale::Standard,
            encode: Encode::Onehot,
            max_categories: 20,
            text_dim: 128,
            high_card: None,
        }
    }
}

impl PrepConfig {
    /// The raw-input recipe of learners that bin, split categories and route missing values
    /// themselves.
    pub fn native() -> PrepConfig {
        PrepConfig {
            encode: Encode::Native,
            ..PrepConfig::default()
        }
    }

    /// Read the recipe from sampled parameters (`impute`, `scale`, `encode`, `max_categories`).
    pub fn from_params(p: &Params) -> Result<PrepConfig> {
        let d = PrepConfig::default();
        let impute = match p.str_or("impute", "median")? {
            "mean" => Impute::Mean,
            "median" => Impute::Median,
            o => {
                return Err(Error::Config(format!(
                    "impute: unknown value '{o}' (mean, median)"
                )))
            }
        };
        let scale = match p.str_or("scale", "standard")? {
            "none" => Scale::None,
            "standard" => Scale::Standard,
            "minmax" => Scale::Minmax,
            "robust" => Scale::Robust,
            o => {
                return Err(Error::Config(format!(
                    "scale: unknown value '{o}' (none, standard, minmax, robust)"
                )))
            }
        };
        let encode =
            match p.str_or("encode", "onehot")? {
                "onehot" => Encode::Onehot,
                "ordinal" => Encode::Ordinal,
                "native" => return Err(Error::Config(
                    "encode: 'native' is the raw input of gbdt, not a searchable encoding (onehot, ordinal)"
                        .into(),
                )),
                o => {
                    return Err(Error::Config(format!(
                        "encode: unknown value '{o}' (onehot, ordinal)"
                    )))
                }
            };
        let max_categories = p.int_or("max_categories", d.max_categories as i64)?;
        if max_categories < 1 {
            return Err(Error::Config("max_categories must be at least 1".into()));
        }
        let text_dim = p.int_or("text_dim", d.text_dim as i64)?;
        if !(1..=4096).contains(&text_dim) {
            return Err(Error::Config(format!(
                "text_dim must be between 1 and 4096, got {text_dim}"
            )));
        }
        let high_card = match p.str_or("high_card", "none")? {
            "none" => None,
            "frequency" => Some(CodeKind::Frequency),
            "target" => Some(CodeKind::Target),
            o => {
                return Err(Error::Config(format!(
                    "high_card: unknown value '{o}' (none, frequency, target)"
                )))
            }
        };
        Ok(PrepConfig {
            impute,
            scale,
            encode,
            max_categories: max_categories as usize,
            text_dim: text_dim as usize,
            high_card,
        })
    }

    /// Short label for leaderboards, e.g. `median+standard+onehot`.
    pub fn label(&self) -> String {
        if self.encode == Encode::Native {
            return "native".into();
        }
        let i = match self.impute {
            Impute::Mean => "mean",
            Impute::Median => "median",
        };
        let s = match self.scale {
            Scale::None => "noscale",
            Scale::Standard => "standard",
            Scale::Minmax => "minmax",
            Scale::Robust => "robust",
        };
        let e = match self.encode {
            Encode::Onehot => "onehot",
            Encode::Ordinal => "ordinal",
            Encode::Native => "native",
        };
        let c = match self.high_card {
            None => "",
            Some(CodeKind::Frequency) => "+freq",
            Some(CodeKind::Target) => "+target",
        };
        format!("{i}+{s}+{e}{c}")
    }

    /// Columns this recipe makes of `col` (for one-hot, at most `max_categories` per feature;
    /// a level code counts one column): what learners' cost estimates see.
    pub fn column_width(&self, col: &FeatureColumn) -> usize {
        match (col, self.encode) {
            (FeatureColumn::Numeric(_), _) => 1,
            (FeatureColumn::Datetime { parts, .. }, _) => parts.len(),
            (FeatureColumn::Text(_), Encode::Native) => NATIVE_TEXT_DIM + 2,
            (FeatureColumn::Text(_), _) => self.text_dim + 2,
            (FeatureColumn::Categorical { .. }, Encode::Native) => 1,
            (FeatureColumn::Categorical { levels, .. }, e) => {
                let base = if e == Encode::Onehot {
                    levels.len().clamp(1, self.max_categories.max(1))
                } else {
                    1
                };
                let code = usize::from(self.high_card.is_some() && levels.len() > self.max_categories);
                base + code
            }
        }
    }

    /// Fill, center and scale of a numeric column from its values on the fitted rows (NaN
    /// for missing).
    fn stats(&self, values: &[f64]) -> Stats {
        let mut present: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        present.sort_by(f64::total_cmp);
        let fill = if present.is_empty() {
            0.0
        } else {
            match self.impute {
                Impute::Mean => mean(&present),
                Impute::Median => quantile(&present, 0.5),
            }
        };
        // Scale statistics are computed on the imputed column, as the learner will see it.
        let missing = values.len() - present.len();
        let (center, scale) = scale_stats(self.scale, &present, fill, missing);
        (fill, center, scale)
    }

    /// Fit on the given rows and transform them: what a pipeline trains on. Target codes of the
    /// training rows are out-of-fold (see [`LevelCode::out_of_fold`]); any other data is coded
    /// with the codes fitted on all the given rows.
    pub fn fit_transform(
        &self,
        x: &Features,
        target: &Target,
        rows: Option<&[usize]>,
    ) -> Result<(FittedPrep, Matrix)> {
        let encoded = self.fit_encoded(x, target, rows);
        let m = encoded.matrix()?;
        Ok((encoded.into_prep(), m))
    }

    /// Fit on the given rows (all rows when `None`) and return them to be encoded on demand,
    /// whole or a block at a time ([`Encoded`]): what [`PrepConfig::fit_transform`] returns as
    /// one matrix, target codes of the training rows out of fold as there.
    pub fn fit_encoded<'a>(
        &self,
        x: &'a Features,
        target: &Target,
        rows: Option<&'a [usize]>,
    ) -> Encoded<'a> {
        let rows = all_rows(rows, x.n_rows);
        let y = if self.high_card == Some(CodeKind::Target) && self.encode != Encode::Native {
            derived::target_columns(target, &rows)
        } else {
            None
        };
        let y = y.as_ref().map(|(v, w)| (v.as_slice(), *w));
        let prep = self.fit_rows(x, &rows, y);
        // The training rows' target codes are replaced by out-of-fold ones.
        let mut oof = Vec::new();
        let mut offset = 0;
        for (step, col) in prep.steps.iter().zip(&x.columns) {
            if let (Step::Coded { base, code }, FeatureColumn::Categorical { codes, levels }) = (step, col) {
                if let Some(values) = code.out_of_fold(codes, levels.len(), &rows, y) {
                    oof.push((offset + base.width(), code.width, values));
                }
            }
            offset += step.width();
        }
        Encoded::new(prep, x, rows, oof)
    }

    /// Fit on the given rows (all rows when `rows` is `None`), without a target: a target code
    /// asked for becomes a frequency code. Pipelines use [`PrepConfig::fit_transform`].
    pub fn fit(&self, x: &Features, rows: Option<&[usize]>) -> FittedPrep {
        let rows = all_rows(rows, x.n_rows);
        let rows = rows.as_ref();
        self.fit_rows(x, rows, None)
    }

    fn fit_rows(&self, x: &Features, rows: &[usize], y: Option<(&[f64], usize)>) -> FittedPrep {
        let mut steps = Vec::with_capacity(x.columns.len());
        let mut width = 0;
        for col in &x.columns {
            let step = match col {
                FeatureColumn::Numeric(_) if self.encode == Encode::Native => {
                    width += 1;
                    Step::Raw
                }
                FeatureColumn::Categorical { levels, .. } if self.encode == Encode::Native => {
                    width += 1;
                    Step::Category {
                        levels: levels.clone(),
                    }
                }
                FeatureColumn::Datetime { parts, .. } if self.encode == Encode::Native => {
                    width += parts.len();
                    Step::RawDate { parts: parts.clone() }
                }
                FeatureColumn::Text(_) if self.encode == Encode::Native => {
                    width += NATIVE_TEXT_DIM + 2;
                    Step::RawText { dim: NATIVE_TEXT_DIM }
                }
                FeatureColumn::Numeric(v) => {
                    let (fill, center, scale) = self.stats(&rows.iter().map(|&i| v[i]).collect::<Vec<_>>());
                    width += 1;
                    Step::Numeric { fill, center, scale }
                }
                FeatureColumn::Datetime { secs, parts } => {
                    let stats = parts
                        .iter()
                        .map(|&p| self.stats(&derived::part_values(secs, rows, p)))
                        .collect();
                    width += parts.len();
                    Step::Date {
                        parts: parts.clone(),
                        stats,
                    }
                }
                FeatureColumn::Text(t) => {
                    let idf = derived::idf(t, rows, self.text_dim);
                    let lens: Vec<[f64; 2]> = rows
                        .iter()
                        .map(|&r| derived::log_lengths(t[r].as_deref()))
                        .collect();
                    let chars = self.stats(&lens.iter().map(|l| l[0]).collect::<Vec<_>>());
                    let words = self.stats(&lens.iter().map(|l| l[1]).collect::<Vec<_>>());
                    width += self.text_dim + 2;
                    Step::Text {
                        idf,
                        lengths: [chars, words],
                    }
                }
                FeatureColumn::Categorical { codes, levels } => {
                    let mut counts = vec![0usize; levels.len()];
                    for &i in rows {
                        let c = codes[i];
                        if c != MISSING_CODE {
                            counts[c as usize] += 1;
                        }
                    }
                    let mut seen: Vec<(usize, &String)> = counts
                        .iter()
                        .zip(levels)
                        .filter(|(n, _)| **n > 0)
                        .map(|(n, l)| (*n, l))
                        .collect();
                    let distinct = seen.len();
                    let base = match self.encode {
                        Encode::Onehot => {
                            // Most frequent first; ties by label so the result is deterministic.
                            seen.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
                            let cut = seen.len().min(self.max_categories);
                            let mut kept: Vec<String> =
                                seen[..cut].iter().map(|(_, l)| (*l).clone()).collect();
                            let mut rare: Vec<String> =
                                seen[cut..].iter().map(|(_, l)| (*l).clone()).collect();
                            kept.sort();
                            rare.sort();
                            width += kept.len();
                            Step::OneHot { levels: kept, rare }
                        }
                        Encode::Ordinal | Encode::Native => {
                            let mut kept: Vec<String> = seen.into_iter().map(|(_, l)| l.clone()).collect();
                            sort_labels(&mut kept);
                            width += 1;
                            Step::Ordinal { levels: kept }
                        }
                    };
                    match self.high_card {
                        Some(kind) if distinct > self.max_categories => {
                            let code = LevelCode::fit(kind, codes, levels, rows, y);
                            width += code.width;
                            Step::Coded {
                                base: Box::new(base),
                                code,
                            }
                        }
                        _ => base,
                    }
                }
            };
            steps.push(step);
        }
        FittedPrep { steps, width }
    }
}

/// The given rows, or all `n` rows when `None`.
fn all_rows(rows: Option<&[usize]>, n: usize) -> std::borrow::Cow<'_, [usize]> {
    match rows {
        Some(r) => std::borrow::Cow::Borrowed(r),
        None => std::borrow::Cow::Owned((0..n).collect()),
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Linear-interpolated quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn scale_stats(scale: Scale, present: &[f64], fill: f64, missing: usize) -> (f64, f64) {
    let n = (present.len() + missing) as f64;
    let safe = |s: f64| if s.is_finite() && s > 1e-12 { s } else { 1.0 };
    match scale {
        Scale::None => (0.0, 1.0),
        Scale::Standard => {
            if n == 0.0 {
                return (0.0, 1.0);
            }
            let m = (present.iter().sum::<f64>() + fill * missing as f64) / n;
            let var = (present.iter().map(|x| (x - m) * (x - m)).sum::<f64>()
                + (fill - m) * (fill - m) * missing as f64)
                / n;
            (m, safe(var.sqrt()))
        }
        Scale::Minmax => {
            let lo = present.first().copied().unwrap_or(0.0).min(fill);
            let hi = present.last().copied().unwrap_or(0.0).max(fill);
            (lo, safe(hi - lo))
        }
        Scale::Robust => {
            let med = quantile(present, 0.5);
            let iqr = quantile(present, 0.75) - quantile(present, 0.25);
            (med, safe(iqr))
        }
    }
}

/// A fitted preprocessing recipe: the statistics it needs to transform new data identically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedPrep {
    steps: Vec<Step>,
    width: usize,
}

impl FittedPrep {
    /// Number of output columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Per output column, whether it holds category codes (only with native encoding).
    pub fn categorical(&self) -> Vec<bool> {
        let mut out = Vec::with_capacity(self.width);
        for step in &self.steps {
            match step {
                Step::Category { .. } => out.push(true),
                Step::Coded { base, code } if matches!(base.as_ref(), Step::Category { .. }) => {
                    out.push(true);
                    out.extend(std::iter::repeat_n(false, code.width));
                }
                s => out.extend(std::iter::repeat_n(false, s.width())),
            }
        }
        out
    }

    /// Whether reading this preprocessing needs model format 4 (dates, text or level codes).
    pub fn needs_v4(&self) -> bool {
        self.steps.iter().any(Step::is_v4)
    }

    /// Whether `level` of categorical column `column` occurred in the training rows.
    pub fn knows(&self, schema: &Schema, column: &str, level: &str) -> bool {
        let step = schema.used().zip(&self.steps).find(|(f, _)| f.name == column);
        let step = match step {
            Some((f, Step::Coded { base, .. })) => Some((f, base.as_ref())),
            s => s,
        };
        match step {
            Some((_, Step::OneHot { levels, rare })) => levels.iter().chain(rare).any(|l| l == level),
            Some((_, Step::Ordinal { levels } | Step::Category { levels })) => {
                levels.iter().any(|l| l == level)
            }
            _ => true,
        }
    }

    /// Transform the given rows (all when `None`) into a dense matrix.
    pub fn transform(&self, x: &Features, rows: Option<&[usize]>) -> Result<Matrix> {
        if x.columns.len() != self.steps.len() {
            return Err(Error::Schema(format!(
                "expected {} feature columns, got {}",
                self.steps.len(),
                x.columns.len()
            )));
        }
        let n = rows.map_or(x.n_rows, <[usize]>::len);
        let mut out = Matrix::zeros(n, self.width);
        let mut offset = 0;
        for (step, col) in self.steps.iter().zip(&x.columns) {
            let mut view = Out {
                data: &mut out.data,
                width: self.width,
                offset,
            };
            write(step, col, rows, n, &mut view)?;
            offset += step.width();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features() -> Features {
        Features {
            n_rows: 4,
            columns: vec![
                FeatureColumn::Numeric(vec![1.0, f64::NAN, 3.0, 5.0]),
                FeatureColumn::Categorical {
                    codes: vec![0, 1, 0, MISSING_CODE],
                    levels: vec!["b".into(), "a".into()],
                },
            ],
        }
    }

    #[test]
    fn only_parameters_that_can_change_the_encoding_are_searched() {
        use crate::param::Value;
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let load = |dir: &std::path::Path, target: &str| {
            crate::data::Dataset::from_path(&dir.join("train.csv"), target, None)
                .unwrap()
                .features
        };
        // The built-in choices (`search/preprocessing.toml`).
        let caps: Vec<Value> = [10i64, 20, 50].into_iter().map(Value::Int).collect();
        let imputes: Vec<Value> = vec![Value::Str("median".into()), Value::Str("mean".into())];
        let all = |x: &Features| {
            [
                "impute",
                "encode",
                "max_categories",
                "scale",
                "text_dim",
                "high_card",
            ]
            .into_iter()
            .filter(|p| match *p {
                "impute" => applies(p, Some(&imputes), x),
                "max_categories" => applies(p, Some(&caps), x),
                _ => applies(p, None, x),
            })
            .collect::<Vec<_>>()
        };
        // Diabetes: numeric, nothing missing: only scaling can change anything.
        assert_eq!(
            all(&load(&root.join("datasets/diabetes"), "progression")),
            ["scale"]
        );
        // Penguins: missing measurements and three-level categories (fewer than any cap).
        let penguins = load(&root.join("datasets/penguins"), "species");
        assert_eq!(all(&penguins), ["impute", "encode", "scale"]);
        // A cap below the levels of a column makes the cap count.
        let small: Vec<Value> = vec![Value::Int(2), Value::Int(5)];
        assert!(applies("max_categories", Some(&small), &penguins));
        assert!(applies("max_categories", None, &penguins), "a range is kept");
        // A search space without the default imputation keeps its choice for new data.
        let mean = vec![Value::Str("mean".into())];
        let diabetes = load(&root.join("datasets/diabetes"), "progression");
        assert!(applies("impute", Some(&mean), &diabetes));
        let sacramento = root.join("../shared/datasets/sacramento");
        if sacramento.join("train.csv").exists() {
            // Nothing missing; zip codes with 68 levels.
            assert_eq!(
                all(&load(&sacramento, "price")),
                ["encode", "max_categories", "scale", "high_card"]
            );
        }
    }

    #[test]
    fn median_impute_standard_scale_onehot() {
        let cfg = PrepConfig::default();
        let fitted = cfg.fit(&features(), None);
        assert_eq!(fitted.width(), 3);
        let m = fitted.transform(&features(), None).unwrap();
        // Imputed column is [1, 3, 3, 5]: mean 3, std sqrt(2).
        let s = 2f64.sqrt();
        assert!((m.get(0, 0) + 2.0 / s).abs() < 1e-12);
        assert_eq!(m.get(1, 0), 0.0);
        // One-hot columns sorted by label: a, b. Missing category → all zeros.
        assert_eq!(m.row(0)[1..], [0.0, 1.0]);
        assert_eq!(m.row(1)[1..], [1.0, 0.0]);
        assert_eq!(m.row(3)[1..], [0.0, 0.0]);
    }

    #[test]
    fn unseen_category_is_zero_or_minus_one() {
        let train = features();
        let test = Features {
            n_rows: 2,
            columns: vec![
                FeatureColumn::Numeric(vec![2.0, 2.0]),
                FeatureColumn::Categorical {
                    codes: vec![0, 1],
                    levels: vec!["zzz".into(), "a".into()],
                },
            ],
        };
        let onehot = PrepConfig::default()
            .fit(&train, None)
            .transform(&test, None)
            .unwrap();
        assert_eq!(onehot.row(0)[1..], [0.0, 0.0]);
        assert_eq!(onehot.row(1)[1..], [1.0, 0.0]);
        let cfg = PrepConfig {
            encode: Encode::Ordinal,
            scale: Scale::None,
            ..PrepConfig::default()
        };
        let ord = cfg.fit(&train, None).transform(&test, None).unwrap();
        assert_eq!(ord.row(0), [2.0, -1.0]);
        assert_eq!(ord.row(1), [2.0, 0.0]);
    }

    #[test]
    fn ordinal_levels_follow_numeric_order() {
        let x = Features {
            n_rows: 3,
            columns: vec![FeatureColumn::Categorical {
                codes: vec![0, 1, 2],
                levels: vec!["10".into(), "2".into(), "-1".into()],
            }],
        };
        let cfg = PrepConfig {
            encode: Encode::Ordinal,
            ..PrepConfig::default()
        };
        let m = cfg.fit(&x, None).transform(&x, None).unwrap();
        assert_eq!(m.data, vec![2.0, 1.0, 0.0]);
    }

    #[test]
    fn fit_uses_only_given_rows() {
        let cfg = PrepConfig {
            impute: Impute::Mean,
            scale: Scale::Minmax,
            ..PrepConfig::default()
        };
        let fitted = cfg.fit(&features(), Some(&[0, 2]));
        let m = fitted.transform(&features(), Some(&[3])).unwrap();
        // Training range [1, 3]; 5 maps to 2.
        assert_eq!(m.get(0, 0), 2.0);
    }
}
