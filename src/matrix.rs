//! A dense row-major `f64` matrix: the one numeric hand-off between preprocessing and learners.

use serde::{Deserialize, Serialize};

/// Dense row-major matrix owned by us; libraries get zero-copy views (linfa) or a moved buffer (smartcore).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    /// Values, row after row.
    pub data: Vec<f64>,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
}

impl Matrix {
    /// An all-zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix {
            data: vec![0.0; rows * cols],
            rows,
            cols,
        }
    }

    /// Row `i` as a slice.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Element at (`i`, `j`).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// A zero-copy ndarray 0.16 view (the version linfa uses).
    ///
    /// Panics when `data.len() != rows * cols`, which every constructor of the crate upholds.
    #[allow(clippy::expect_used)]
    pub fn view(&self) -> ndarray::ArrayView2<'_, f64> {
        ndarray::ArrayView2::from_shape((self.rows, self.cols), &self.data)
            .expect("matrix invariant: data.len() == rows * cols")
    }

    /// The rows listed in `idx`, copied into a new matrix.
    pub fn select_rows(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            data,
            rows: idx.len(),
            cols: self.cols,
        }
    }
}
