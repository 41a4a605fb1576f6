//! A pipeline's training rows as its fitted preprocessing encodes them, made on demand: whole
//! (a [`Matrix`]) or a block of rows at a time. A learner that keeps its own form of the rows
//! (the trees' bins) reads them block by block and never holds the whole encoded table, which on
//! a one-hot recipe is many times the size of the data (160k rows × 37 columns: 47 MiB of f64).

use std::borrow::Cow;

use super::FittedPrep;
use crate::data::Features;
use crate::error::{Error, Result};
use crate::matrix::Matrix;

/// The training rows of a fitted preprocessing, encoded when asked for.
pub struct Encoded<'a> {
    prep: FittedPrep,
    x: &'a Features,
    rows: Cow<'a, [usize]>,
    /// Out-of-fold target codes, which replace the transform's for the training rows: per coded
    /// column group, its first output column, its width, and its values (rows × width).
    oof: Vec<(usize, usize, Vec<f64>)>,
}

impl<'a> Encoded<'a> {
    pub(super) fn new(
        prep: FittedPrep,
        x: &'a Features,
        rows: Cow<'a, [usize]>,
        oof: Vec<(usize, usize, Vec<f64>)>,
    ) -> Encoded<'a> {
        Encoded { prep, x, rows, oof }
    }

    /// The fitted preprocessing.
    pub fn prep(&self) -> &FittedPrep {
        &self.prep
    }

    /// The fitted preprocessing, once the learner is trained.
    pub fn into_prep(self) -> FittedPrep {
        self.prep
    }

    /// Number of training rows.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Number of encoded columns.
    pub fn cols(&self) -> usize {
        self.prep.width
    }

    /// Training rows `start..end` (positions among the training rows), encoded; a range beyond
    /// the rows is an error.
    pub fn block(&self, start: usize, end: usize) -> Result<Matrix> {
        if start > end || end > self.rows.len() {
            return Err(Error::Config(format!(
                "encoded rows {start}..{end} asked of 0..{}",
                self.rows.len()
            )));
        }
        let mut m = self.prep.transform(self.x, Some(&self.rows[start..end]))?;
        let width = self.prep.width;
        for (first, w, values) in &self.oof {
            for r in 0..end - start {
                let from = (start + r) * w;
                m.data[r * width + first..r * width + first + w].copy_from_slice(&values[from..from + w]);
            }
        }
        Ok(m)
    }

    /// All training rows, encoded.
    pub fn matrix(&self) -> Result<Matrix> {
        self.block(0, self.rows.len())
    }
}
