//! Cost-frugal optimisation, in the manner of FLAML's CFO (Wu, Wang & Huang, AAAI 2021) and its
//! learner selection (Wang et al., MLSys 2021):
//!
//! * one local search per value of the space's branch parameter (e.g. one per learner), over the
//!   parameters active in that branch, in the normalised space `[0, 1]^d` (log scale where the
//!   distribution is);
//! * each search starts from the low-cost point, so expensive dimensions (trees, leaves) grow only
//!   when larger values pay: a randomized direct search proposes `x + δu` for a random unit
//!   direction `u`, then `x − δu` if that did not improve; after `patience` failed pairs the step
//!   shrinks, and below its floor the search restarts from a random point;
//! * branches are chosen with probability inversely proportional to their estimated cost for
//!   improvement (ECI): the cost the branch needed for its last improvement, or — for branches
//!   behind the best — the cost to close the gap at the branch's observed rate of improvement.
//!
//! Costs are the ones trials report ([`crate::sweep::Trial::set_cost`]), so the search is
//! deterministic when those are.

use std::collections::HashMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Observation, Sampler};
use crate::space::{Params, SearchSpace, Value};

#[derive(Debug, Clone)]
struct Thread {
    /// Branch value (`None` for a space without a branch parameter).
    value: Option<Value>,
    /// Indices into the space's parameters searched by this thread.
    dims: Vec<usize>,
    start: Vec<f64>,
    x: Vec<f64>,
    loss: f64,
    /// Bumped whenever the incumbent moves (stale opposite moves are dropped).
    version: u64,
    step: f64,
    step0: f64,
    step_lb: f64,
    fails: usize,
    patience: usize,
    opposite: Vec<(u64, Vec<f64>)>,
    init_asked: bool,
    // Estimated-cost-for-improvement statistics.
    told: usize,
    ok: usize,
    k0: f64,
    k1: f64,
    k2: f64,
    best: f64,
    prev_best: f64,
    incumbent_cost: f64,
}

impl Thread {
    /// A proposal that did not improve: after `patience` of them the step shrinks, and below its
    /// floor the search restarts from a random point (the next told result wins).
    fn count_failure(&mut self) {
        self.fails += 1;
        if self.fails >= self.patience {
            self.fails = 0;
            self.step *= 0.7;
            if self.step < self.step_lb {
                self.step = self.step0;
                self.loss = f64::INFINITY;
                self.version += 1;
                self.opposite.clear();
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Pending {
    thread: usize,
    x: Vec<f64>,
    /// Direction and sign of a local move (`None` for start / restart points).
    mv: Option<(Vec<f64>, bool, u64)>,
    /// Its estimated cost, counted in its thread's spending since it was asked.
    estimate: f64,
}

/// The cost-frugal sampler.
#[derive(Debug, Clone)]
pub struct CfoSampler {
    branch: Option<usize>,
    threads: Vec<Thread>,
    pending: HashMap<usize, Pending>,
}

impl CfoSampler {
    /// A sampler for `space` (one local search per branch value).
    pub fn new(space: &SearchSpace) -> CfoSampler {
        let branch = space.branch_param();
        let values: Vec<Option<Value>> = match branch.and_then(|b| space.params[b].spec.dist.choices()) {
            Some(vals) => vals.iter().cloned().map(Some).collect(),
            None => vec![None],
        };
        let threads = values
            .into_iter()
            .map(|value| {
                let dims: Vec<usize> = (0..space.params.len())
                    .filter(|&i| Some(i) != branch)
                    .filter(|&i| match (&space.params[i].spec.when, branch, &value) {
                        (Some(w), Some(b), Some(v)) => {
                            w.get(&space.params[b].name).is_none_or(|vals| vals.contains(v))
                        }
                        _ => true,
                    })
                    .collect();
                let start: Vec<f64> = dims
                    .iter()
                    .map(|&i| {
                        let spec = &space.params[i].spec;
                        spec.to_unit(&spec.start()).unwrap_or(0.5)
                    })
                    .collect();
                let d = dims.len().max(1) as f64;
                let step0 = 0.1 * d.sqrt();
                Thread {
                    value,
                    x: start.clone(),
                    start,
                    loss: f64::INFINITY,
                    version: 0,
                    step: step0,
                    step0,
                    step_lb: 0.005 * d.sqrt(),
                    fails: 0,
                    patience: (1usize << (dims.len().saturating_sub(1)).min(10))
                        .clamp(2, 2 * dims.len().max(1)),
                    opposite: Vec::new(),
                    init_asked: false,
                    told: 0,
                    ok: 0,
                    k0: 0.0,
                    k1: 0.0,
                    k2: 0.0,
                    best: f64::INFINITY,
                    prev_best: f64::INFINITY,
                    incumbent_cost: 0.0,
                    dims,
                }
            })
            .collect();
        CfoSampler {
            branch,
            threads,
            pending: HashMap::new(),
        }
    }

    fn decode(&self, space: &SearchSpace, t: usize, x: &[f64]) -> Params {
        let th = &self.threads[t];
        space.build(|i, p, _| {
            if Some(i) == self.branch {
                if let Some(v) = &th.value {
                    return v.clone();
                }
            }
            match th.dims.iter().position(|&d| d == i) {
                Some(k) => p.spec.from_unit(x[k]),
                None => p.spec.start(),
            }
        })
    }

    /// Remember trial `id` as thread `t`'s proposal `x` (a local move `mv`, or a start point) and
    /// return its configuration.
    fn propose(
        &mut self,
        space: &SearchSpace,
        id: usize,
        t: usize,
        x: Vec<f64>,
        mv: Option<(Vec<f64>, bool, u64)>,
    ) -> Params {
        let p = self.decode(space, t, &x);
        self.pending.insert(
            id,
            Pending {
                thread: t,
                x,
                mv,
                estimate: 0.0,
            },
        );
        p
    }

    /// Estimated cost for improvement of each thread.
    fn eci(&self) -> Vec<f64> {
        let global = self.threads.iter().map(|t| t.best).fold(f64::INFINITY, f64::min);
        self.threads
            .iter()
            .map(|t| {
                if t.told >= 3 && t.ok == 0 || t.dims.is_empty() {
                    return f64::INFINITY;
                }
                let eci1 = (t.k0 - t.k1).max(t.k1 - t.k2).max(t.incumbent_cost).max(1e-12);
                if !t.best.is_finite() || t.best <= global {
                    return eci1;
                }
                // Behind the best: twice the gap over the branch's rate of progress, measured as
                // its last improvement over the cost spent since the improvement before it (so
                // the rate decays while the branch stagnates).
                let gap = t.best - global;
                let eci2 = if t.prev_best.is_finite() && t.prev_best > t.best {
                    let speed = (t.prev_best - t.best) / (t.k0 - t.k2).max(1e-12);
                    2.0 * gap / speed
                } else {
                    eci1
                };
                eci1.max(eci2)
            })
            .collect()
    }

    fn choose_thread(&self, rng: &mut ChaCha8Rng) -> usize {
        if self.threads.len() == 1 {
            return 0;
        }
        let w: Vec<f64> = self
            .eci()
            .iter()
            .map(|e| if e.is_finite() && *e > 0.0 { 1.0 / e } else { 0.0 })
            .collect();
        let total: f64 = w.iter().sum();
        if total <= 0.0 || !total.is_finite() {
            return rng.gen_range(0..self.threads.len());
        }
        let mut u = rng.gen::<f64>() * total;
        for (i, wi) in w.iter().enumerate() {
            if u < *wi {
                return i;
            }
            u -= wi;
        }
        w.iter().rposition(|x| *x > 0.0).unwrap_or(0)
    }
}

fn direction(rng: &mut ChaCha8Rng, d: usize) -> Vec<f64> {
    if d == 0 {
        return Vec::new();
    }
    loop {
        let v: Vec<f64> = (0..d)
            .map(|_| {
                let u: f64 = rng.gen();
                let w: f64 = rng.gen();
                (-2.0 * (1.0 - u).ln()).sqrt() * (2.0 * std::f64::consts::PI * w).cos()
            })
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if n > 1e-12 {
            return v.into_iter().map(|x| x / n).collect();
        }
    }
}

fn moved(x: &[f64], dir: &[f64], step: f64, sign: bool) -> Vec<f64> {
    let s = if sign { step } else { -step };
    x.iter()
        .zip(dir)
        .map(|(a, b)| (a + s * b).clamp(0.0, 1.0))
        .collect()
}

impl Sampler for CfoSampler {
    fn ask(&mut self, id: usize, space: &SearchSpace, rng: &mut ChaCha8Rng) -> Option<Params> {
        // Every branch's low-cost start point first, in order.
        if let Some(t) = self.threads.iter().position(|t| !t.init_asked) {
            self.threads[t].init_asked = true;
            let x = self.threads[t].start.clone();
            return Some(self.propose(space, id, t, x, None));
        }
        let t = self.choose_thread(rng);
        let d = self.threads[t].dims.len();
        if !self.threads[t].loss.is_finite() {
            // No incumbent yet (start point still running or failed): a random point.
            let x: Vec<f64> = if self.threads[t].told == 0 {
                let dir = direction(rng, d);
                moved(&self.threads[t].start, &dir, self.threads[t].step, true)
            } else {
                (0..d).map(|_| rng.gen()).collect()
            };
            return Some(self.propose(space, id, t, x, None));
        }
        let current = self.decode(space, t, &self.threads[t].x);
        let th = &mut self.threads[t];
        let version = th.version;
        th.opposite.retain(|(v, _)| *v == version);
        let (mut x, mut mv) = match th.opposite.pop() {
            Some((_, dir)) => (moved(&th.x, &dir, th.step, false), (dir, false, version)),
            None => {
                let dir = direction(rng, d);
                (moved(&th.x, &dir, th.step, true), (dir, true, version))
            }
        };
        // A move too small to change any parameter is wasted: try other directions.
        for _ in 0..8 {
            if self.decode(space, t, &x) != current {
                break;
            }
            let th = &self.threads[t];
            let dir = direction(rng, d);
            x = moved(&th.x, &dir, th.step, true);
            mv = (dir, true, version);
        }
        Some(self.propose(space, id, t, x, Some(mv)))
    }

    /// A branch's spending counts its trials in flight at their estimated cost: else a branch
    /// whose long trials are still running (or told late: the sweep defers them) looks cheaper
    /// than it is, and is chosen more.
    fn asked_cost(&mut self, id: usize, cost: f64) {
        if let Some(p) = self.pending.get_mut(&id) {
            let add = cost.max(0.0) - p.estimate;
            p.estimate = cost.max(0.0);
            self.threads[p.thread].k0 += add;
        }
    }

    fn tell(&mut self, _space: &SearchSpace, obs: &Observation) {
        let Some(pend) = self.pending.remove(&obs.id) else {
            return;
        };
        let th = &mut self.threads[pend.thread];
        th.told += 1;
        // The trial's cost replaces the estimate counted when it was asked.
        th.k0 += obs.cost.max(0.0) - pend.estimate;
        let loss = obs.final_loss();
        if loss.is_some() {
            th.ok += 1;
        }
        let l = loss.unwrap_or(f64::INFINITY);
        if l < th.best {
            th.prev_best = th.best;
            th.best = l;
            th.k2 = th.k1;
            th.k1 = th.k0;
        }
        if l < th.loss {
            th.loss = l;
            th.x = pend.x;
            th.version += 1;
            th.fails = 0;
            th.opposite.clear();
            th.incumbent_cost = obs.cost.max(0.0);
            return;
        }
        // A tie (discrete metrics such as accuracy have plateaus): move there, so the search
        // drifts across the plateau towards its edge, but count it as a failure for the step size.
        if l.is_finite() && l == th.loss {
            if let Some((_, _, v)) = &pend.mv {
                if *v == th.version {
                    th.x = pend.x;
                    th.version += 1;
                    th.opposite.clear();
                }
            }
            th.count_failure();
            return;
        }
        match pend.mv {
            Some((dir, true, v)) if v == th.version => th.opposite.push((v, dir)),
            Some((_, false, v)) if v == th.version => th.count_failure(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samplers::testfns;
    use rand::SeedableRng;

    /// Branch `model` of trial `id`'s configuration.
    fn branch(p: &Params) -> String {
        p.str_or("model", "").unwrap_or("").to_string()
    }

    #[test]
    fn a_branch_with_a_costly_trial_in_flight_weighs_less_before_it_is_told() {
        let (space, f) = testfns::conditional();
        let mut s = CfoSampler::new(&space);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // The three start points, told at cost 1 each.
        for id in 0..3 {
            let p = s.ask(id, &space, &mut rng).unwrap();
            testfns::tell(&mut s, &space, id, &p, Some(f(&p)), 1.0);
        }
        let before = s.eci();
        let p = s.ask(3, &space, &mut rng).unwrap();
        let t = s
            .threads
            .iter()
            .position(|th| th.value.as_ref().is_some_and(|v| v.to_string() == branch(&p)));
        let t = t.unwrap();
        s.asked_cost(3, 1000.0);
        let during = s.eci();
        assert!(
            during[t] >= 1000.0 && during[t] > before[t],
            "{before:?} -> {during:?}"
        );
        // Told at its cost: counted once, not twice.
        testfns::tell(&mut s, &space, 3, &p, None, 1000.0);
        assert!((s.threads[t].k0 - 1001.0).abs() < 1e-9, "{}", s.threads[t].k0);
    }
}
