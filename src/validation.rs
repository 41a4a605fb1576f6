//! Validation splits: k-fold cross-validation for small data, a holdout split for large data.
//!
//! Rule: up to [`CV_MAX_ROWS`] rows → k-fold (k = 5, fewer when there are fewer rows or when the
//! rarest class has fewer members); above → one 80/20 holdout. Classification splits are stratified.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::Target;
use crate::error::{Error, Result};

/// Largest row count validated with k-fold CV; larger data uses a holdout split.
pub const CV_MAX_ROWS: usize = 10_000;
/// Default number of CV folds.
pub const DEFAULT_FOLDS: usize = 5;
/// Share of rows held out for validation on large data.
pub const HOLDOUT_FRACTION: f64 = 0.2;

/// One train/validation split of row indices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    /// Rows to fit on.
    pub train: Vec<usize>,
    /// Rows to score on.
    pub valid: Vec<usize>,
}

/// The validation scheme of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Human description, e.g. `5-fold stratified CV`.
    pub description: String,
    /// The splits.
    pub folds: Vec<Fold>,
}

/// How trials are validated.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// k-fold CV up to [`CV_MAX_ROWS`] rows, a holdout above (the default).
    #[default]
    Auto,
    /// k-fold cross-validation whatever the size (k ≥ 2).
    Folds(usize),
    /// One holdout of this share of the rows (0 < share < 1).
    Holdout(f64),
    /// The first `n` rows train, the rest (a validation set given by the user) validate.
    Given(usize),
}

impl Scheme {
    /// Check the numbers.
    pub fn check(self) -> Result<Scheme> {
        match self {
            Scheme::Folds(k) if k < 2 => Err(Error::Config(format!(
                "cross-validation needs at least 2 folds, got {k}"
            ))),
            Scheme::Holdout(f) if !(f > 0.0 && f < 1.0) => Err(Error::Config(format!(
                "the validation share must be between 0 and 1 (exclusive), got {f}"
            ))),
            s => Ok(s),
        }
    }
}

/// Choose and build the validation splits for `target` (the default scheme).
pub fn plan(target: &Target, seed: u64, warnings: &mut Vec<String>) -> Result<Plan> {
    plan_with(target, seed, Scheme::Auto, warnings)
}

/// Build the validation splits of `scheme` for `target`.
pub fn plan_with(target: &Target, seed: u64, scheme: Scheme, warnings: &mut Vec<String>) -> Result<Plan> {
    let n = target.len();
    if let Scheme::Given(train) = scheme {
        if train == 0 || train >= n {
            return Err(Error::Data(format!(
                "a given validation set needs training rows and validation rows (got {train} of {n} rows for training)"
            )));
        }
        return Ok(Plan {
            description: format!("the given validation set ({} rows)", n - train),
            folds: vec![Fold {
                train: (0..train).collect(),
                valid: (train..n).collect(),
            }],
        });
    }
    if n < 2 {
        return Err(Error::Data(format!(
            "only {n} row(s): at least 2 are needed to validate a model"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_F01D);
    // Groups of rows that must be spread evenly over folds (one per class, or all rows).
    let groups: Vec<Vec<usize>> = match target {
        Target::Classes(y) => {
            let k = y.iter().copied().max().unwrap_or(0) + 1;
            let mut g = vec![Vec::new(); k];
            for (i, &c) in y.iter().enumerate() {
                g[c].push(i);
            }
            g.retain(|v| !v.is_empty());
            g
        }
        Target::Values(_) => vec![(0..n).collect()],
    };
    let stratified = matches!(target, Target::Classes(_));
    let mut groups = groups;
    for g in &mut groups {
        g.shuffle(&mut rng);
    }
    let holdout = match scheme {
        Scheme::Holdout(f) => Some(f),
        Scheme::Auto if n > CV_MAX_ROWS => Some(HOLDOUT_FRACTION),
        _ => None,
    };
    if let Some(share) = holdout {
        let mut fold = Fold {
            train: Vec::new(),
            valid: Vec::new(),
        };
        for g in &groups {
            // Every group of two rows or more keeps rows on both sides; a single row trains.
            let cut = if g.len() >= 2 {
                (((g.len() as f64) * share).round() as usize).clamp(1, g.len() - 1)
            } else {
                0
            };
            fold.valid.extend_from_slice(&g[..cut]);
            fold.train.extend_from_slice(&g[cut..]);
        }
        if fold.valid.is_empty() || fold.train.is_empty() {
            return Err(Error::Data(format!(
                "a {:.0}% holdout of {n} rows leaves no rows to {}",
                share * 100.0,
                if fold.valid.is_empty() {
                    "validate on"
                } else {
                    "train on"
                }
            )));
        }
        fold.train.sort_unstable();
        fold.valid.sort_unstable();
        return Ok(Plan {
            description: format!(
                "holdout {:.0}%{}{}",
                share * 100.0,
                if stratified { ", stratified" } else { "" },
                if scheme == Scheme::Auto {
                    format!(" ({n} rows > {CV_MAX_ROWS})")
                } else {
                    String::new()
                }
            ),
            folds: vec![fold],
        });
    }
    let want = match scheme {
        Scheme::Folds(k) => k,
        _ => DEFAULT_FOLDS,
    };
    let mut k = want.min(n);
    if stratified {
        let rarest = groups.iter().map(Vec::len).min().unwrap_or(0);
        if rarest < k {
            warnings.push(format!(
                "the rarest class has {rarest} row(s); using {} folds",
                rarest.clamp(2, k)
            ));
            k = rarest.clamp(2, k);
        }
    } else if k < want {
        warnings.push(format!("only {n} rows; using {k}-fold cross-validation"));
    }
    // Deal rows round-robin into folds, continuing across groups so fold sizes stay even.
    let mut member = vec![0usize; n];
    let mut next = 0;
    for g in &groups {
        for &i in g {
            member[i] = next % k;
            next += 1;
        }
    }
    let folds = (0..k)
        .map(|f| Fold {
            train: (0..n).filter(|&i| member[i] != f).collect(),
            valid: (0..n).filter(|&i| member[i] == f).collect(),
        })
        .collect();
    Ok(Plan {
        description: format!("{k}-fold{} CV", if stratified { " stratified" } else { "" }),
        folds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_folds_partition_rows_and_keep_class_shares() {
        let y: Vec<usize> = (0..100).map(|i| usize::from(i % 4 == 0)).collect();
        let p = plan(&Target::Classes(y.clone()), 1, &mut Vec::new()).unwrap();
        assert_eq!(p.folds.len(), 5);
        let mut seen = vec![0; 100];
        for f in &p.folds {
            assert_eq!(f.valid.len(), 20);
            assert_eq!(f.valid.iter().filter(|&&i| y[i] == 1).count(), 5);
            for &i in &f.valid {
                seen[i] += 1;
            }
            assert_eq!(f.train.len() + f.valid.len(), 100);
        }
        assert!(seen.iter().all(|&s| s == 1));
    }

    #[test]
    fn folds_holdout_and_given_schemes() {
        let y = Target::Values((0..100).map(f64::from).collect());
        let p = plan_with(&y, 0, Scheme::Folds(3), &mut Vec::new()).unwrap();
        assert_eq!((p.folds.len(), p.description.as_str()), (3, "3-fold CV"));
        let p = plan_with(&y, 0, Scheme::Holdout(0.3), &mut Vec::new()).unwrap();
        assert_eq!(
            (p.folds[0].valid.len(), p.description.as_str()),
            (30, "holdout 30%")
        );
        let p = plan_with(&y, 0, Scheme::Given(80), &mut Vec::new()).unwrap();
        assert_eq!(p.folds[0].train, (0..80).collect::<Vec<_>>());
        assert_eq!(p.folds[0].valid, (80..100).collect::<Vec<_>>());
        assert!(plan_with(&y, 0, Scheme::Given(100), &mut Vec::new()).is_err());
        // A tiny share still validates on a row; a single row cannot be split.
        let p = plan_with(&y, 0, Scheme::Holdout(0.001), &mut Vec::new()).unwrap();
        assert_eq!(p.folds[0].valid.len(), 1);
        let one = Target::Values(vec![1.0, 2.0]);
        assert_eq!(
            plan_with(&one, 0, Scheme::Holdout(0.9), &mut Vec::new())
                .unwrap()
                .folds[0]
                .train
                .len(),
            1
        );
        let classes = Target::Classes(vec![0, 1]);
        assert!(plan_with(&classes, 0, Scheme::Holdout(0.5), &mut Vec::new()).is_err());
        assert!(Scheme::Folds(1).check().is_err());
        assert!(Scheme::Holdout(1.0).check().is_err());
    }

    #[test]
    fn large_data_uses_holdout_and_tiny_data_fewer_folds() {
        let big = Target::Values((0..20_000).map(|i| i as f64).collect());
        let p = plan(&big, 0, &mut Vec::new()).unwrap();
        assert_eq!(p.folds.len(), 1);
        assert_eq!(p.folds[0].valid.len(), 4000);
        let mut w = Vec::new();
        let small = plan(&Target::Values(vec![1.0, 2.0, 3.0]), 0, &mut w).unwrap();
        assert_eq!(small.folds.len(), 3);
        assert_eq!(w.len(), 1);
        assert!(plan(&Target::Values(vec![1.0]), 0, &mut Vec::new()).is_err());
    }
}
