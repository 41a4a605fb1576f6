//! The `featurization` section of an Azure AutoML job: its text as read, and
//! [`Featurization`], the checked settings (column purposes, imputers, transformer parameters,
//! blocked transformers) for the data and preprocessing layers to apply.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Result};

use super::training::normalise;

/// `featurization.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeaturizationMode {
    /// Azure's default: featurize as the engine sees fit.
    #[default]
    Auto,
    /// No featurization.
    Off,
    /// Featurize with the given column types, transformer parameters and blocked transformers.
    Custom,
}

/// How a column is to be featurized (`column_name_and_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnPurpose {
    /// A category (Azure's `Categorical`, `CategoricalHash`).
    Categorical,
    /// A number.
    Numeric,
    /// A date or time.
    DateTime,
    /// Free text.
    Text,
    /// Not used (Azure's `Ignore`).
    Ignore,
}

impl ColumnPurpose {
    fn parse(s: &str) -> Option<ColumnPurpose> {
        Some(match s.to_ascii_lowercase().replace('_', "").as_str() {
            "categorical" | "categoricalhash" => ColumnPurpose::Categorical,
            "numeric" => ColumnPurpose::Numeric,
            "datetime" => ColumnPurpose::DateTime,
            "text" => ColumnPurpose::Text,
            "ignore" => ColumnPurpose::Ignore,
            _ => return None,
        })
    }
}

/// The imputer's `strategy`.
#[derive(Debug, Clone, PartialEq)]
pub enum ImputeStrategy {
    /// The column mean.
    Mean,
    /// The column median.
    Median,
    /// The most frequent value.
    MostFrequent,
    /// A constant (`fill_value`, when given).
    Constant(Option<Scalar>),
}

/// A YAML scalar: a number, a flag or text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// A number.
    Number(f64),
    /// A flag.
    Flag(bool),
    /// Text.
    Text(String),
}

/// One imputer entry of `transformer_params`: these fields imputed with this strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct Imputer {
    /// The columns.
    pub fields: Vec<String>,
    /// How missing values are filled.
    pub strategy: ImputeStrategy,
}

/// One `hash_one_hot_encoder` / `tf_idf` entry of `transformer_params`, kept as read.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformerParams {
    /// The transformer (`hash_one_hot_encoder` or `tf_idf`).
    pub transformer: String,
    /// The columns.
    pub fields: Vec<String>,
    /// Its parameters.
    pub parameters: BTreeMap<String, Scalar>,
}

/// Azure's `featurization` section, parsed and checked (names validated), for the data and
/// preprocessing layers to apply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Featurization {
    /// `mode`.
    pub mode: FeaturizationMode,
    /// `column_name_and_types`: column → purpose.
    pub column_types: BTreeMap<String, ColumnPurpose>,
    /// `transformer_params.imputer`.
    pub imputers: Vec<Imputer>,
    /// `transformer_params.hash_one_hot_encoder` and `transformer_params.tf_idf`.
    pub other_params: Vec<TransformerParams>,
    /// `blocked_transformers`, in Azure's spelling (e.g. `WordEmbedding`).
    pub blocked_transformers: Vec<String>,
    /// `enable_dnn_featurization`, read (no DNN featurization here).
    pub enable_dnn_featurization: Option<bool>,
}

/// Azure's featurization transformers (`blocked_transformers` values).
const TRANSFORMERS: &[&str] = &[
    "TextTargetEncoder",
    "OneHotEncoder",
    "CatTargetEncoder",
    "TfIdf",
    "WoETargetEncoder",
    "LabelEncoder",
    "WordEmbedding",
    "NaiveBayes",
    "CountVectorizer",
    "HashOneHotEncoder",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnTransformerText {
    fields: Vec<String>,
    #[serde(default)]
    parameters: BTreeMap<String, Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransformerParamsText {
    #[serde(default)]
    imputer: Vec<ColumnTransformerText>,
    #[serde(default)]
    hash_one_hot_encoder: Vec<ColumnTransformerText>,
    #[serde(default)]
    tf_idf: Vec<ColumnTransformerText>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FeaturizationText {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    column_name_and_types: BTreeMap<String, String>,
    #[serde(default)]
    transformer_params: TransformerParamsText,
    #[serde(default)]
    blocked_transformers: Vec<String>,
    #[serde(default)]
    enable_dnn_featurization: Option<bool>,
}

pub(super) fn featurization(f: FeaturizationText, notes: &mut Vec<String>) -> Result<Featurization> {
    let mode = match f.mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("auto") => FeaturizationMode::Auto,
        Some("off") => FeaturizationMode::Off,
        Some("custom") => FeaturizationMode::Custom,
        Some(m) => {
            return Err(Error::Config(format!(
                "mode '{m}' is not one of auto, off, custom"
            )))
        }
    };
    if mode == FeaturizationMode::Off {
        notes.push("featurization.mode off: dates and free text stay plain categories and high-cardinality categories get no level codes; imputation, scaling and encoding are part of every pipeline here and still run".into());
    }
    let mut column_types = BTreeMap::new();
    for (col, kind) in f.column_name_and_types {
        let p = ColumnPurpose::parse(&kind).ok_or_else(|| {
            Error::Config(format!(
                "column_name_and_types.{col}: '{kind}' is not one of Categorical, CategoricalHash, Numeric, DateTime, Text, Ignore"
            ))
        })?;
        column_types.insert(col, p);
    }
    let mut imputers = Vec::new();
    for entry in f.transformer_params.imputer {
        if entry.fields.is_empty() {
            return Err(Error::Config(
                "transformer_params.imputer: an entry has no fields".into(),
            ));
        }
        let mut strategy = None;
        let mut fill = None;
        for (k, v) in entry.parameters {
            match (k.as_str(), v) {
                ("strategy", Scalar::Text(s)) => strategy = Some(s),
                ("fill_value", v) => fill = Some(v),
                (k, _) => {
                    return Err(Error::Config(format!(
                        "transformer_params.imputer: unknown parameter '{k}' (strategy, fill_value)"
                    )))
                }
            }
        }
        let strategy = match strategy.as_deref().unwrap_or("mean") {
            "mean" => ImputeStrategy::Mean,
            "median" => ImputeStrategy::Median,
            "most_frequent" => ImputeStrategy::MostFrequent,
            "constant" => ImputeStrategy::Constant(fill.take()),
            s => {
                return Err(Error::Config(format!(
                    "transformer_params.imputer: strategy '{s}' is not one of mean, median, most_frequent, constant"
                )))
            }
        };
        if fill.is_some() {
            return Err(Error::Config(
                "transformer_params.imputer: fill_value goes with strategy: constant".into(),
            ));
        }
        imputers.push(Imputer {
            fields: entry.fields,
            strategy,
        });
    }
    let mut other_params = Vec::new();
    for (name, entries) in [
        ("hash_one_hot_encoder", f.transformer_params.hash_one_hot_encoder),
        ("tf_idf", f.transformer_params.tf_idf),
    ] {
        for e in entries {
            other_params.push(TransformerParams {
                transformer: name.to_string(),
                fields: e.fields,
                parameters: e.parameters,
            });
        }
    }
    let mut blocked_transformers = Vec::new();
    for b in f.blocked_transformers {
        let known = TRANSFORMERS
            .iter()
            .find(|t| normalise(t) == normalise(&b))
            .ok_or_else(|| {
                Error::Config(format!(
                    "blocked_transformers: unknown transformer '{b}' (known: {})",
                    TRANSFORMERS.join(", ")
                ))
            })?;
        blocked_transformers.push(known.to_string());
    }
    if f.enable_dnn_featurization == Some(true) {
        notes.push("featurization.enable_dnn_featurization: not applicable here".into());
    }
    let mut pending = Vec::new();
    let unused: Vec<&str> = blocked_transformers
        .iter()
        .map(String::as_str)
        .filter(|b| ["WordEmbedding", "NaiveBayes", "CountVectorizer"].contains(b))
        .collect();
    if !unused.is_empty() {
        notes.push(format!(
            "featurization.blocked_transformers: {} not used here anyway",
            unused.join(", ")
        ));
    }
    if !other_params.is_empty() {
        pending.push("transformer_params other than imputer");
    }
    if !pending.is_empty() {
        notes.push(format!(
            "featurization: {} read but not applied yet",
            pending.join(", ")
        ));
    }
    Ok(Featurization {
        mode,
        column_types,
        imputers,
        other_params,
        blocked_transformers,
        enable_dnn_featurization: f.enable_dnn_featurization,
    })
}

/// `mean` or `median` when every imputer entry asks for that same strategy.
pub(super) fn imputer_choice(imputers: &[Imputer]) -> Option<&'static str> {
    let first = &imputers.first()?.strategy;
    let name = match first {
        ImputeStrategy::Mean => "mean",
        ImputeStrategy::Median => "median",
        _ => return None,
    };
    imputers.iter().all(|i| &i.strategy == first).then_some(name)
}
