//! knn's own k-d tree over f32 rows: points stored leaf by leaf (one contiguous run per leaf),
//! nodes cut on their widest column at the median moved to the nearest boundary between distinct
//! values (scikit-learn's `KDTree` cuts at the median itself, which on a column where one value
//! dominates puts that value on both sides of every cut), and each node keeps the tight bounding
//! box of its rows, so a query skips every node whose box is farther than the k-th nearest found
//! so far (tight boxes matter on skewed, unscaled columns, where a cut's region is far larger
//! than the rows in it). The k nearest are the `k` smallest by (squared distance, training row),
//! whatever order the leaves are visited in, so results never depend on threads.

/// Rows per leaf: enough to amortise a node visit, few enough that a query's leaves stay small.
const LEAF: usize = 24;

/// A node holds the points `lo..hi` (tree order); a split node's children are `left` and
/// `left + 1` (a leaf has `left == 0`: the root is nobody's child).
#[derive(Debug, Clone, Copy)]
struct Node {
    lo: u32,
    hi: u32,
    left: u32,
}

/// A k-d tree over `rows` rows of `cols` f32 columns (row-major).
#[derive(Debug)]
pub(super) struct KdTree {
    cols: usize,
    /// The rows in tree order.
    points: Vec<f32>,
    /// The training row of each point.
    index: Vec<u32>,
    nodes: Vec<Node>,
    /// Per node, the least then the greatest value of each column over its rows (`2 · cols`).
    boxes: Vec<f32>,
}

/// The `k` nearest found so far, ascending by (squared distance, training row).
#[derive(Debug, Default)]
pub(super) struct Nearest {
    k: usize,
    found: Vec<(f32, u32)>,
    /// Distances computed (the work a query did).
    pub(super) visited: usize,
    /// Nodes still to visit, with their boxes' distances (kept to reuse its memory).
    todo: Vec<(u32, f32)>,
}

impl Nearest {
    fn worst(&self) -> f32 {
        if self.found.len() < self.k {
            f32::INFINITY
        } else {
            self.found[self.k - 1].0
        }
    }

    /// Nodes whose boxes are farther than this cannot hold a nearer row: the k-th nearest's
    /// distance with room for f32 rounding (box and row distances add their terms in different
    /// orders), so ties are never skipped.
    fn limit(&self) -> f32 {
        let w = self.worst();
        w + w * 1e-5
    }

    fn offer(&mut self, d: f32, j: u32) {
        let full = self.found.len() >= self.k;
        if full && !less((d, j), self.found[self.k - 1]) {
            return;
        }
        let at = self.found.partition_point(|&f| less(f, (d, j)));
        if full {
            self.found.pop();
        }
        self.found.insert(at, (d, j));
    }

    /// (squared distance, training row) of the nearest, ascending.
    pub(super) fn found(&self) -> &[(f32, u32)] {
        &self.found
    }
}

/// Order of candidates: by distance (NaN as infinitely far), then by training row.
fn less(a: (f32, u32), b: (f32, u32)) -> bool {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).is_lt()
}

impl KdTree {
    /// The tree over `data` (`data.len() / cols` rows).
    pub(super) fn new(data: &[f32], cols: usize) -> KdTree {
        let rows = data.len().checked_div(cols).unwrap_or(0);
        let mut index: Vec<u32> = (0..rows as u32).collect();
        let mut nodes = Vec::with_capacity(2 * rows.div_ceil(LEAF) + 1);
        nodes.push(Node {
            lo: 0,
            hi: rows as u32,
            left: 0,
        });
        let mut boxes = Vec::new();
        // Nodes are made in order and boxed in order: node `n`'s box is `boxes[2 n cols..]`.
        let mut next = 0;
        while next < nodes.len() {
            let n = next;
            next += 1;
            let (lo, hi) = (nodes[n].lo as usize, nodes[n].hi as usize);
            let at = boxes.len();
            bounds(data, cols, &index[lo..hi], &mut boxes);
            if hi - lo <= LEAF {
                continue;
            }
            let (least, greatest) = boxes[at..].split_at(cols);
            let (col, spread) = least
                .iter()
                .zip(greatest)
                .map(|(l, h)| h - l)
                .enumerate()
                .fold((0, 0.0f32), |best, (c, s)| if s > best.1 { (c, s) } else { best });
            // Every column constant here (repeated rows): one leaf.
            if spread <= 0.0 {
                continue;
            }
            let mid = lo + (hi - lo) / 2;
            let value = |j: u32| data[j as usize * cols + col];
            index[lo..hi]
                .select_nth_unstable_by(mid - lo, |&a, &b| value(a).total_cmp(&value(b)).then(a.cmp(&b)));
            // Cut between distinct values, nearest the median: rows equal to the median value
            // all go one way, so a column where one value dominates (an imputed gap, a zero)
            // sends that value's rows to a child of their own, which then splits on the
            // other columns.
            let m = value(index[mid]);
            let below = lo + partition(&mut index[lo..mid], |j| value(j) < m);
            let at_most = mid + partition(&mut index[mid..hi], |j| value(j) == m);
            let cut = [below, at_most]
                .into_iter()
                .filter(|&c| c > lo && c < hi)
                .min_by_key(|&c| c.abs_diff(mid));
            let Some(mid) = cut else { continue };
            nodes[n].left = nodes.len() as u32;
            for (a, b) in [(lo, mid), (mid, hi)] {
                nodes.push(Node {
                    lo: a as u32,
                    hi: b as u32,
                    left: 0,
                });
            }
        }
        let points = index
            .iter()
            .flat_map(|&j| &data[j as usize * cols..(j as usize + 1) * cols])
            .copied()
            .collect();
        KdTree {
            cols,
            points,
            index,
            nodes,
            boxes,
        }
    }

    /// The `k` nearest rows of `q` (`cols` values), into `out` (reused between queries).
    pub(super) fn nearest(&self, q: &[f32], k: usize, out: &mut Nearest) {
        out.k = k.max(1);
        out.found.clear();
        out.visited = 0;
        if self.index.is_empty() {
            return;
        }
        // Depth first, the nearer child first, on a stack of its own (no recursion: a tree of
        // uneven cuts can be deep); a node is checked again when taken, the k-th distance having
        // shrunk since it was put there.
        let mut todo = std::mem::take(&mut out.todo);
        todo.clear();
        todo.push((0, 0.0));
        while let Some((n, d)) = todo.pop() {
            // A NaN bound (a NaN query column) visits: never skip what cannot be ruled out.
            if !d.is_nan() && d > out.limit() {
                continue;
            }
            let node = self.nodes[n as usize];
            if node.left == 0 {
                let c = self.cols;
                for p in node.lo as usize..node.hi as usize {
                    let d = squared_distance(&self.points[p * c..(p + 1) * c], q);
                    out.offer(d, self.index[p]);
                }
                out.visited += (node.hi - node.lo) as usize;
                continue;
            }
            let (a, b) = (node.left, node.left + 1);
            let (da, db) = (self.box_distance(a as usize, q), self.box_distance(b as usize, q));
            // Pushed far then near: the near child is taken first.
            if db < da {
                todo.extend([(a, da), (b, db)]);
            } else {
                todo.extend([(b, db), (a, da)]);
            }
        }
        out.todo = todo;
    }

    /// Squared distance from `q` to node `n`'s box (no more than to any of its rows).
    fn box_distance(&self, n: usize, q: &[f32]) -> f32 {
        let b = &self.boxes[2 * n * self.cols..2 * (n + 1) * self.cols];
        let (least, greatest) = b.split_at(self.cols);
        let mut s = 0.0f32;
        for ((&l, &h), &v) in least.iter().zip(greatest).zip(q) {
            let d = (l - v).max(v - h).max(0.0);
            s += d * d;
        }
        s
    }
}

/// Move the rows for which `first` holds to the front, keeping the order of each part; returns
/// how many there are.
fn partition(rows: &mut [u32], first: impl Fn(u32) -> bool) -> usize {
    let (yes, no): (Vec<u32>, Vec<u32>) = rows.iter().partition(|&&j| first(j));
    let count = yes.len();
    for (r, j) in rows.iter_mut().zip(yes.into_iter().chain(no)) {
        *r = j;
    }
    count
}

/// Append the least then the greatest value of each column over `rows` to `boxes`.
fn bounds(data: &[f32], cols: usize, rows: &[u32], boxes: &mut Vec<f32>) {
    let at = boxes.len();
    boxes.extend(std::iter::repeat_n(f32::INFINITY, cols));
    boxes.extend(std::iter::repeat_n(f32::NEG_INFINITY, cols));
    let (lo, hi) = boxes[at..].split_at_mut(cols);
    for &j in rows {
        let row = &data[j as usize * cols..(j as usize + 1) * cols];
        for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
            *l = l.min(v);
            *h = h.max(v);
        }
    }
}

/// Squared Euclidean distance in f32, eight running sums (so the compiler can keep them in one
/// vector register); NaN counts as infinitely far.
pub(super) fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for i in 0..8 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ar.iter().zip(br) {
        s += (x - y) * (x - y);
    }
    if s.is_nan() {
        f32::INFINITY
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The `k` smallest by (squared distance, row), every row tried.
    fn exhaustive(data: &[f32], cols: usize, q: &[f32], k: usize) -> Vec<(f32, u32)> {
        let mut all: Vec<(f32, u32)> = data
            .chunks_exact(cols)
            .enumerate()
            .map(|(j, r)| (squared_distance(r, q), j as u32))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.truncate(k);
        all
    }

    #[test]
    fn the_tree_finds_the_k_smallest_by_distance_then_row_ties_included() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // Continuous columns; a grid of few values (many exact ties, like one-hot and ordinal
        // codes); repeated rows; one column.
        let cases: Vec<(usize, Vec<f32>)> = vec![
            (5, (0..5 * 3000).map(|_| rng.gen::<f32>()).collect()),
            (9, (0..9 * 2000).map(|_| rng.gen_range(0..3) as f32).collect()),
            (17, (0..17 * 500).map(|i| ((i / 17) % 7) as f32).collect()),
            (1, (0..800).map(|_| rng.gen_range(0..20) as f32 * 0.5).collect()),
        ];
        for (cols, data) in cases {
            let tree = KdTree::new(&data, cols);
            let mut out = Nearest::default();
            for t in 0..60 {
                // Query rows near the data (some exactly on it) and far from it.
                let q: Vec<f32> = (0..cols)
                    .map(|c| match t % 3 {
                        0 => data[(t * 37 % (data.len() / cols)) * cols + c],
                        1 => rng.gen_range(-0.5..3.5),
                        _ => rng.gen_range(-50.0..50.0),
                    })
                    .collect();
                for k in [1, 5, 50] {
                    tree.nearest(&q, k, &mut out);
                    assert_eq!(out.found(), exhaustive(&data, cols, &q, k), "cols {cols} k {k}");
                }
            }
        }
    }

    #[test]
    fn a_column_where_one_value_dominates_does_not_stop_the_other_columns_splitting() {
        // As movies' budget, imputed (by the median) on most rows: one value on 90 % of the
        // rows, in the middle of a huge spread on the rest (the widest column at every node that
        // holds both), and two columns that locate the rows. Median cuts alone put that value on
        // both sides of every cut on it, and queries visited a tenth of the rows.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(6);
        let n = 20_000;
        let data: Vec<f32> = (0..n)
            .flat_map(|_| {
                let gap = if rng.gen::<f32>() < 0.9 {
                    5e7
                } else {
                    rng.gen_range(1e6..1e8)
                };
                [gap, rng.gen::<f32>(), rng.gen::<f32>()]
            })
            .collect();
        let tree = KdTree::new(&data, 3);
        let mut out = Nearest::default();
        let mut visited = 0;
        for i in 0..100 {
            tree.nearest(&[5e7, i as f32 / 100.0, 0.5], 5, &mut out);
            visited += out.visited;
        }
        assert!(visited / 100 < n / 100, "{} rows per query", visited / 100);
    }

    #[test]
    fn queries_on_low_dimensional_data_visit_few_rows_and_nan_or_empty_do_not_panic() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let data: Vec<f32> = (0..3 * 20_000).map(|_| rng.gen::<f32>()).collect();
        let tree = KdTree::new(&data, 3);
        let mut out = Nearest::default();
        tree.nearest(&[0.5, 0.5, 0.5], 5, &mut out);
        assert!(out.visited < 400, "visited {}", out.visited);
        tree.nearest(&[f32::NAN, 0.5, 0.5], 5, &mut out);
        assert_eq!(out.found().len(), 5);
        let empty = KdTree::new(&[], 3);
        empty.nearest(&[0.0, 0.0, 0.0], 5, &mut out);
        assert!(out.found().is_empty());
    }
}
