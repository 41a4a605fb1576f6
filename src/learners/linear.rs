//! Our linear solvers, built for wide one-hot tables (thousands of rows, hundreds of mostly-zero
//! columns), where the libraries' dense solvers took seconds per fit.
//!
//! Why these methods (measured: `cargo bench --bench linear`):
//! - every row is kept as its few non-zeros ([`Sparse`]); one-hot columns are 0/1 and unscaled by
//!   preprocessing, so a row of 500 encoded columns often holds under 80 non-zeros;
//! - least squares (OLS, ridge): the centred Gram matrix `XᵀX − n·μμᵀ` is accumulated from the
//!   non-zeros (rows × nnz² instead of rows × d²), then one Cholesky solve of `d × d`; when
//!   columns outnumber rows, the dual (kernel) system `(XXᵀ + λI)a = y` of `n × n` instead;
//! - lasso / elastic net: covariance coordinate descent (glmnet's "covariance updates") on the same
//!   Gram matrix: a sweep costs O(d) plus O(d) per coordinate that moves, never a pass over rows;
//! - logistic regression (binary and multinomial): L-BFGS on the penalised log-likelihood, whose
//!   gradient needs two sparse passes over the rows.

use crate::matrix::Matrix;

/// Rows of a matrix as their non-zero entries.
pub struct Sparse {
    /// Start of each row's entries in `idx` / `val` (rows + 1 offsets).
    start: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<f64>,
    /// Number of columns.
    pub cols: usize,
}

impl Sparse {
    /// The non-zeros of `x`, row by row.
    pub fn of(x: &Matrix) -> Sparse {
        let mut s = Sparse {
            start: Vec::with_capacity(x.rows + 1),
            idx: Vec::new(),
            val: Vec::new(),
            cols: x.cols,
        };
        s.start.push(0);
        for i in 0..x.rows {
            for (j, &v) in x.row(i).iter().enumerate() {
                if v != 0.0 {
                    s.idx.push(j as u32);
                    s.val.push(v);
                }
            }
            s.start.push(s.idx.len());
        }
        s
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.start.len() - 1
    }

    /// Row `i` as (column, value) pairs.
    fn row(&self, i: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let r = self.start[i]..self.start[i + 1];
        self.idx[r.clone()]
            .iter()
            .map(|&j| j as usize)
            .zip(self.val[r].iter().copied())
    }

    /// `x_i · w`.
    fn dot(&self, i: usize, w: &[f64]) -> f64 {
        self.row(i).map(|(j, v)| v * w[j]).sum()
    }

    /// Column means.
    fn means(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.cols];
        for (&j, &v) in self.idx.iter().zip(&self.val) {
            m[j as usize] += v;
        }
        let n = self.rows().max(1) as f64;
        m.iter_mut().for_each(|x| *x /= n);
        m
    }
}

/// The centred Gram matrix `XcᵀXc` (full, row-major `d × d`), `Xcᵀ(y − ȳ)`, the column means and
/// the mean of `y`.
fn centred_gram(x: &Sparse, y: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>, f64) {
    let d = x.cols;
    let n = x.rows() as f64;
    let mu = x.means();
    let ybar = y.iter().sum::<f64>() / n.max(1.0);
    let mut g = vec![0.0; d * d];
    let mut c = vec![0.0; d];
    for (i, yi) in y.iter().enumerate() {
        let r = x.start[i]..x.start[i + 1];
        let (idx, val) = (&x.idx[r.clone()], &x.val[r]);
        for (a, (&ja, &va)) in idx.iter().zip(val).enumerate() {
            let row = &mut g[ja as usize * d..(ja as usize + 1) * d];
            for (&jb, &vb) in idx[a..].iter().zip(&val[a..]) {
                row[jb as usize] += va * vb;
            }
            c[ja as usize] += va * yi;
        }
    }
    // Mirror the upper triangle, then centre: G − n μμᵀ, c − n μ ȳ.
    for a in 0..d {
        for b in a..d {
            let v = g[a * d + b] - n * mu[a] * mu[b];
            g[a * d + b] = v;
            g[b * d + a] = v;
        }
        c[a] -= n * mu[a] * ybar;
    }
    (g, c, mu, ybar)
}

/// Solve `A x = b` for a symmetric positive definite `A` (row-major `n × n`, overwritten by its
/// Cholesky factor). `None` when `A` is not positive definite.
fn cholesky_solve(a: &mut [f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut s = a[j * n + j];
        for k in 0..j {
            s -= a[j * n + k] * a[j * n + k];
        }
        if s <= 0.0 || !s.is_finite() {
            return None;
        }
        let l = s.sqrt();
        a[j * n + j] = l;
        let (done, rest) = a.split_at_mut((j + 1) * n);
        let lj = &done[j * n..j * n + j];
        for i in j + 1..n {
            let row = &mut rest[(i - j - 1) * n..(i - j) * n];
            let dot: f64 = row[..j].iter().zip(lj).map(|(x, y)| x * y).sum();
            row[j] = (row[j] - dot) / l;
        }
    }
    let mut x = b.to_vec();
    for i in 0..n {
        let s: f64 = (0..i).map(|k| a[i * n + k] * x[k]).sum();
        x[i] = (x[i] - s) / a[i * n + i];
    }
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[k * n + i] * x[k]).sum();
        x[i] = (x[i] - s) / a[i * n + i];
    }
    Some(x)
}

/// Ridge regression `min ||y − Xw − b||² + alpha·||w||²` (intercept unpenalised); `alpha` 0 is
/// least squares, made solvable on collinear columns (one-hot groups) by a ridge of 1e-8 of the
/// mean diagonal. Returns `(coef, intercept)`.
pub fn ridge(x: &Matrix, y: &[f64], alpha: f64) -> Option<(Vec<f64>, f64)> {
    let s = Sparse::of(x);
    let (n, d) = (s.rows(), s.cols);
    if d > n {
        return ridge_dual(&s, y, alpha);
    }
    let (mut g, c, mu, ybar) = centred_gram(&s, y);
    let scale = (0..d).map(|j| g[j * d + j]).sum::<f64>() / d.max(1) as f64;
    let lambda = alpha.max(1e-8 * scale.max(1e-12));
    for j in 0..d {
        g[j * d + j] += lambda;
    }
    let w = cholesky_solve(&mut g, &c, d)?;
    let b = ybar - w.iter().zip(&mu).map(|(w, m)| w * m).sum::<f64>();
    Some((w, b))
}

/// Ridge in its dual form for `d > n`: `(XcXcᵀ + λI) a = y − ȳ`, `w = Xcᵀ a`.
fn ridge_dual(s: &Sparse, y: &[f64], alpha: f64) -> Option<(Vec<f64>, f64)> {
    let (n, d) = (s.rows(), s.cols);
    let mu = s.means();
    let ybar = y.iter().sum::<f64>() / n.max(1) as f64;
    let mm: f64 = mu.iter().map(|m| m * m).sum();
    let xm: Vec<f64> = (0..n).map(|i| s.dot(i, &mu)).collect();
    // Dense rows for the n × n inner products (d > n keeps this small).
    let mut k = vec![0.0; n * n];
    let mut dense_i = vec![0.0; d];
    for i in 0..n {
        for (j, v) in s.row(i) {
            dense_i[j] = v;
        }
        for j in i..n {
            let v = s.dot(j, &dense_i) - xm[i] - xm[j] + mm;
            k[i * n + j] = v;
            k[j * n + i] = v;
        }
        for (j, _) in s.row(i) {
            dense_i[j] = 0.0;
        }
    }
    let scale = (0..n).map(|i| k[i * n + i]).sum::<f64>() / n.max(1) as f64;
    let lambda = alpha.max(1e-8 * scale.max(1e-12));
    for i in 0..n {
        k[i * n + i] += lambda;
    }
    let yc: Vec<f64> = y.iter().map(|v| v - ybar).collect();
    let a = cholesky_solve(&mut k, &yc, n)?;
    let mut w = vec![0.0; d];
    let sum_a: f64 = a.iter().sum();
    for (i, ai) in a.iter().enumerate() {
        for (j, v) in s.row(i) {
            w[j] += ai * v;
        }
    }
    for (wj, m) in w.iter_mut().zip(&mu) {
        *wj -= sum_a * m;
    }
    let b = ybar - w.iter().zip(&mu).map(|(w, m)| w * m).sum::<f64>();
    Some((w, b))
}

/// Elastic net `min 1/(2n)·||y − Xw − b||² + alpha·(l1_ratio·||w||₁ + (1 − l1_ratio)/2·||w||²)`
/// (scikit-learn's form; `l1_ratio` 1 is the lasso) by covariance coordinate descent, until no
/// coefficient moves by more than `tol` (relative to the largest) or after `max_sweeps` sweeps.
pub fn elastic_net(
    x: &Matrix,
    y: &[f64],
    alpha: f64,
    l1_ratio: f64,
    max_sweeps: usize,
    tol: f64,
) -> (Vec<f64>, f64) {
    descend(
        x,
        y,
        alpha * l1_ratio,
        alpha * (1.0 - l1_ratio),
        false,
        max_sweeps,
        tol,
    )
}

/// Covariance coordinate descent on `1/(2n)·||y − Xw − b||² + l1·||w||₁ + l2/2·||w||²`, with
/// `w ≥ 0` when `nonneg`.
fn descend(
    x: &Matrix,
    y: &[f64],
    l1: f64,
    l2: f64,
    nonneg: bool,
    max_sweeps: usize,
    tol: f64,
) -> (Vec<f64>, f64) {
    let s = Sparse::of(x);
    let d = s.cols;
    let n = s.rows().max(1) as f64;
    let (g, c, mu, ybar) = centred_gram(&s, y);
    let mut w = vec![0.0; d];
    // q = G w / n, kept up to date as coordinates move.
    let mut q = vec![0.0; d];
    for _ in 0..max_sweeps {
        let (mut biggest, mut moved) = (0.0f64, 0.0f64);
        for j in 0..d {
            let gjj = g[j * d + j] / n;
            if gjj <= 0.0 {
                continue;
            }
            let rho = c[j] / n - (q[j] - gjj * w[j]);
            let mut new = soft(rho, l1) / (gjj + l2);
            if nonneg {
                new = new.max(0.0);
            }
            let delta = new - w[j];
            if delta != 0.0 {
                for (qk, gk) in q.iter_mut().zip(&g[j * d..(j + 1) * d]) {
                    *qk += delta * gk / n;
                }
                w[j] = new;
                moved = moved.max(delta.abs());
            }
            biggest = biggest.max(new.abs());
        }
        if moved <= tol * biggest.max(1e-12) {
            break;
        }
    }
    let b = ybar - w.iter().zip(&mu).map(|(w, m)| w * m).sum::<f64>();
    (w, b)
}

/// Non-negative ridge regression `min ||y − Xw − b||² + alpha·||w||²` subject to `w ≥ 0`
/// (intercept free) — Breiman's stacked regressions: the sign constraint keeps a blend of
/// correlated predictions from cancelling out. Returns `(coef, intercept)`.
pub fn nonneg_ridge(x: &Matrix, y: &[f64], alpha: f64, max_sweeps: usize) -> (Vec<f64>, f64) {
    let n = x.rows.max(1) as f64;
    descend(x, y, 0.0, alpha / n, true, max_sweeps, 1e-9)
}

fn soft(z: f64, t: f64) -> f64 {
    if z > t {
        z - t
    } else if z < -t {
        z + t
    } else {
        0.0
    }
}

/// Penalised logistic regression: `min Σ −log p(y_i | x_i) + alpha/2·||W||²` (intercepts
/// unpenalised) by L-BFGS. Binary (`k == 2`): one weight vector for class 1; else a softmax over
/// `k` classes. Returns the weights (`(k or 1) × d`, row-major) and intercepts.
/// With `class_weights`, each row's loss counts its class's weight.
pub fn logistic(
    x: &Matrix,
    y: &[usize],
    k: usize,
    alpha: f64,
    max_iter: usize,
    class_weights: Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>) {
    let s = Sparse::of(x);
    let d = s.cols;
    let m = if k <= 2 { 1 } else { k };
    // Parameters feature-major: row j holds the m class weights of feature j, row d the intercepts,
    // so a row's non-zeros are read once for all classes.
    let f = |theta: &[f64], grad: &mut [f64]| -> f64 {
        logistic_loss(&s, y, m, alpha, class_weights, theta, grad)
    };
    let theta = lbfgs(f, vec![0.0; (d + 1) * m], max_iter);
    let mut w = vec![0.0; m * d];
    for j in 0..d {
        for c in 0..m {
            w[c * d + j] = theta[j * m + c];
        }
    }
    (w, theta[d * m..].to_vec())
}

/// Loss and gradient of [`logistic`]'s objective; `theta` is `(d + 1) × m`, feature-major.
fn logistic_loss(
    s: &Sparse,
    y: &[usize],
    m: usize,
    alpha: f64,
    class_weights: Option<&[f64]>,
    theta: &[f64],
    grad: &mut [f64],
) -> f64 {
    let d = s.cols;
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut loss = 0.0;
    let mut z = vec![0.0; m];
    let mut r = vec![0.0; m];
    for (i, &yi) in y.iter().enumerate() {
        z.copy_from_slice(&theta[d * m..]);
        for (j, v) in s.row(i) {
            for (zc, t) in z.iter_mut().zip(&theta[j * m..(j + 1) * m]) {
                *zc += v * t;
            }
        }
        if m == 1 {
            // Binary: p = σ(z); loss = log(1 + e^z) − y z, computed stably.
            let zi = z[0];
            let yv = f64::from(u8::from(yi == 1));
            let w = class_weights.and_then(|cw| cw.get(yi)).copied().unwrap_or(1.0);
            loss += w
                * (if zi > 0.0 {
                    zi + (-zi).exp().ln_1p()
                } else {
                    zi.exp().ln_1p()
                } - yv * zi);
            r[0] = w * (1.0 / (1.0 + (-zi).exp()) - yv);
        } else {
            let zmax = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = z.iter().map(|v| (v - zmax).exp()).sum();
            let lse = zmax + sum.ln();
            let w = class_weights.and_then(|cw| cw.get(yi)).copied().unwrap_or(1.0);
            loss += w * (lse - z[yi.min(m - 1)]);
            for (c, rc) in r.iter_mut().enumerate() {
                *rc = w * ((z[c] - lse).exp() - f64::from(u8::from(c == yi)));
            }
        }
        for (j, v) in s.row(i) {
            for (g, rc) in grad[j * m..(j + 1) * m].iter_mut().zip(&r) {
                *g += rc * v;
            }
        }
        for (g, rc) in grad[d * m..].iter_mut().zip(&r) {
            *g += rc;
        }
    }
    for (g, t) in grad[..d * m].iter_mut().zip(&theta[..d * m]) {
        loss += 0.5 * alpha * t * t;
        *g += alpha * t;
    }
    loss
}

/// Minimise `f` (returning the value and writing the gradient) from `x0` by L-BFGS with a
/// memory of 10 and a backtracking (Armijo) line search; stops after `max_iter` iterations, when
/// the gradient vanishes, or when an iteration lowers the loss by less than 1e-5 of itself.
fn lbfgs(f: impl Fn(&[f64], &mut [f64]) -> f64, x0: Vec<f64>, max_iter: usize) -> Vec<f64> {
    const MEM: usize = 10;
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut hist: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> = std::collections::VecDeque::new();
    let (mut xn, mut gn) = (vec![0.0; n], vec![0.0; n]);
    let g0 = g.iter().map(|v| v.abs()).fold(0.0, f64::max).max(1e-300);
    for _ in 0..max_iter {
        let gmax = g.iter().map(|v| v.abs()).fold(0.0, f64::max);
        if gmax <= 1e-6 * g0 || !fx.is_finite() {
            break;
        }
        // Two-loop recursion: direction = −H g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(hist.len());
        for (s, y, rho) in hist.iter().rev() {
            let a = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
            alphas.push(a);
        }
        if let Some((s, y, _)) = hist.back() {
            let gamma = dot(s, y) / dot(y, y).max(1e-300);
            q.iter_mut().for_each(|v| *v *= gamma);
        } else {
            let scale = 1.0 / g.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
            q.iter_mut().for_each(|v| *v *= scale);
        }
        for ((s, y, rho), a) in hist.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
        }
        let mut slope = -dot(&g, &q);
        if slope >= 0.0 {
            // Not a descent direction: restart from the gradient.
            hist.clear();
            q.clone_from(&g);
            slope = -dot(&g, &g);
        }
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            xn.iter_mut()
                .zip(&x)
                .zip(&q)
                .for_each(|((v, xi), qi)| *v = xi - step * qi);
            let fnew = f(&xn, &mut gn);
            if fnew.is_finite() && fnew <= fx + 1e-4 * step * slope {
                let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
                let y: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
                let sy = dot(&s, &y);
                if sy > 1e-12 {
                    if hist.len() == MEM {
                        hist.pop_front();
                    }
                    hist.push_back((s, y, 1.0 / sy));
                }
                let decrease = fx - fnew;
                std::mem::swap(&mut x, &mut xn);
                std::mem::swap(&mut g, &mut gn);
                fx = fnew;
                accepted = true;
                // A step that gains less than 1e-5 of the loss: converged for prediction's sake
                // (probabilities move in the fourth decimal at most).
                if decrease <= 1e-5 * fx.abs().max(1.0) {
                    return x;
                }
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    x
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: &[&[f64]]) -> Matrix {
        Matrix {
            data: rows.iter().flat_map(|r| r.iter().copied()).collect(),
            rows: rows.len(),
            cols: rows[0].len(),
        }
    }

    #[test]
    fn least_squares_recovers_an_exact_line_in_primal_and_dual_form() {
        let x = m(&[&[1.0, 0.0], &[2.0, 1.0], &[3.0, 0.0], &[4.0, 1.0], &[0.0, 1.0]]);
        let y: Vec<f64> = (0..5)
            .map(|i| 2.0 * x.get(i, 0) - 3.0 * x.get(i, 1) + 1.0)
            .collect();
        let (w, b) = ridge(&x, &y, 0.0).unwrap();
        assert!(
            (w[0] - 2.0).abs() < 1e-6 && (w[1] + 3.0).abs() < 1e-6 && (b - 1.0).abs() < 1e-6,
            "{w:?} {b}"
        );
        // Wider than tall: the dual form; with a small ridge it still fits the rows.
        let x = m(&[&[1.0, 0.0, 2.0], &[0.0, 1.0, 1.0]]);
        let (w, b) = ridge(&x, &[1.0, 3.0], 1e-9).unwrap();
        for (i, t) in [1.0, 3.0].iter().enumerate() {
            let p = b + x.row(i).iter().zip(&w).map(|(a, c)| a * c).sum::<f64>();
            assert!((p - t).abs() < 1e-4, "{p} vs {t}");
        }
    }

    #[test]
    fn the_lasso_zeroes_useless_columns_and_ridge_shrinks() {
        let rows: Vec<Vec<f64>> = (0..50)
            .map(|i| {
                vec![
                    f64::from(i % 7),
                    f64::from((i * 13) % 5),
                    f64::from(u8::from(i % 2 == 0)),
                ]
            })
            .collect();
        let x = Matrix {
            data: rows.iter().flatten().copied().collect(),
            rows: 50,
            cols: 3,
        };
        let y: Vec<f64> = rows.iter().map(|r| 3.0 * r[0] + 0.5).collect();
        let (w, b) = elastic_net(&x, &y, 0.1, 1.0, 1000, 1e-8);
        assert!(w[1] == 0.0 && w[2] == 0.0, "{w:?}");
        assert!((w[0] - 3.0).abs() < 0.1 && (b - 0.5).abs() < 0.5, "{w:?} {b}");
        let (big, _) = ridge(&x, &y, 1e4).unwrap();
        assert!(big[0].abs() < 3.0 * 0.9, "{big:?}");
    }

    #[test]
    fn logistic_regression_separates_classes_binary_and_multinomial() {
        let rows: Vec<Vec<f64>> = (0..60)
            .map(|i| vec![f64::from(i % 3), f64::from(i % 2)])
            .collect();
        let x = Matrix {
            data: rows.iter().flatten().copied().collect(),
            rows: 60,
            cols: 2,
        };
        let y2: Vec<usize> = rows.iter().map(|r| usize::from(r[0] >= 1.0)).collect();
        let (w, b) = logistic(&x, &y2, 2, 0.01, 200, None);
        let correct = (0..60)
            .filter(|&i| (x.get(i, 0) * w[0] + x.get(i, 1) * w[1] + b[0] > 0.0) == (y2[i] == 1))
            .count();
        assert_eq!(correct, 60);
        let y3: Vec<usize> = rows.iter().map(|r| r[0] as usize).collect();
        let (w, b) = logistic(&x, &y3, 3, 0.01, 300, None);
        let correct = (0..60)
            .filter(|&i| {
                let z: Vec<f64> = (0..3)
                    .map(|c| x.get(i, 0) * w[c * 2] + x.get(i, 1) * w[c * 2 + 1] + b[c])
                    .collect();
                crate::metrics::argmax(&z) == y3[i]
            })
            .count();
        assert_eq!(correct, 60);
    }
}
