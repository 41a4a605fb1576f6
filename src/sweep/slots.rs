//! The order in which a sweep tells its sampler of finished trials, and which trials it defers:
//! the bookkeeping behind the sweep module's reproducibility rule.
//!
//! Each asked trial has a *tell slot*: its id, or its id + `defer` when it is deferred. A trial is
//! deferred when its estimated cost exceeds [`SLOW_FACTOR`] times the median of the [`RECENT`]
//! trials asked before it (once at least `window` were). The sweep asks trial `i` only once every
//! trial of the slots `0..=i−window` is told, so a deferred trial holds back the asks of the
//! `window + defer − 1` trials after it instead of `window − 1`. Everything here depends on the
//! order of asks and on the estimates, never on timing.

use std::collections::VecDeque;

/// A trial whose estimated cost exceeds this many times the median of the [`RECENT`] trials asked
/// before it is deferred.
pub const SLOW_FACTOR: f64 = 4.0;

/// How many of the trials asked last a trial's estimated cost is compared with.
pub const RECENT: usize = 32;

/// What the sweep decided about a trial when it was asked.
#[derive(Debug, Clone, Copy)]
struct Asked {
    /// Told `defer` slots after its id.
    deferred: bool,
    /// How many trials were told before it was asked.
    told_before: usize,
    /// Told to the sampler.
    told: bool,
}

/// Every asked trial's slot, and the trials whose slot has come, in the order to tell them.
#[derive(Debug)]
pub(super) struct Slots {
    window: usize,
    defer: usize,
    asked: Vec<Asked>,
    /// Every trial whose slot is below `slot` is in `due` or told.
    slot: usize,
    due: VecDeque<usize>,
    /// Estimated costs of the trials asked last (at most [`RECENT`]).
    recent: VecDeque<f64>,
    told: usize,
}

impl Slots {
    /// No trial asked yet; with `window` ≥ 2 a deferred trial is told `2 · window` slots late
    /// (with window 1 trials run one by one and none is deferred).
    pub(super) fn new(window: usize) -> Slots {
        Slots {
            window,
            defer: if window >= 2 { 2 * window } else { 0 },
            asked: Vec::new(),
            slot: 0,
            due: VecDeque::new(),
            recent: VecDeque::new(),
            told: 0,
        }
    }

    /// Trials asked so far: the next trial's id.
    pub(super) fn asked(&self) -> usize {
        self.asked.len()
    }

    /// Trials told so far.
    pub(super) fn told(&self) -> usize {
        self.told
    }

    /// Queue the trials of every slot below `upto`; `None` for every slot a trial asked so far
    /// can have. At slot `u`: the deferred trial `u − defer`, then trial `u` unless deferred.
    pub(super) fn queue(&mut self, upto: Option<usize>) {
        let last = self.asked() + self.defer;
        let end = upto.map_or(last, |u| u.min(last));
        while self.slot < end {
            let u = self.slot;
            if self.defer > 0 {
                if let Some(k) = u.checked_sub(self.defer) {
                    if self.asked.get(k).is_some_and(|a| a.deferred) {
                        self.due.push_back(k);
                    }
                }
            }
            if self.asked.get(u).is_some_and(|a| !a.deferred) {
                self.due.push_back(u);
            }
            self.slot += 1;
        }
    }

    /// The trial to tell next, once queued.
    pub(super) fn front(&self) -> Option<usize> {
        self.due.front().copied()
    }

    /// The trial [`Slots::front`] is told.
    pub(super) fn tell_front(&mut self) {
        if let Some(id) = self.due.pop_front() {
            if let Some(a) = self.asked.get_mut(id) {
                a.told = true;
            }
            self.told += 1;
        }
    }

    /// Whether trial `id` was asked and is not told yet.
    pub(super) fn untold(&self, id: usize) -> bool {
        self.asked.get(id).is_some_and(|a| !a.told)
    }

    /// How many trials were told before trial `id` was asked.
    pub(super) fn told_before(&self, id: usize) -> usize {
        self.asked.get(id).map_or(self.told, |a| a.told_before)
    }

    /// Ask the next trial, whose estimated cost is `cost` (positive and finite; `None`: no
    /// estimate); returns its id.
    pub(super) fn ask(&mut self, cost: Option<f64>) -> usize {
        let id = self.asked();
        let deferred = self.defers(cost);
        self.asked.push(Asked {
            deferred,
            told_before: self.told,
            told: false,
        });
        // Its slot has passed already only when everything was queued (a drain): due at once.
        let slot = if deferred { id + self.defer } else { id };
        if slot < self.slot {
            self.due.push_back(id);
        }
        id
    }

    /// Whether a trial estimated at `cost` is deferred, remembering its cost.
    fn defers(&mut self, cost: Option<f64>) -> bool {
        let (Some(c), true) = (cost, self.defer > 0) else {
            return false;
        };
        let slow = self.recent.len() >= self.window && {
            let mut r: Vec<f64> = self.recent.iter().copied().collect();
            r.sort_by(f64::total_cmp);
            c > SLOW_FACTOR * r[r.len() / 2]
        };
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(c);
        slow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ask `costs` in turn, telling every due trial before each ask (all finish at once): the
    /// order told.
    fn told_order(window: usize, costs: &[Option<f64>]) -> Vec<usize> {
        let mut s = Slots::new(window);
        let mut order = Vec::new();
        for &c in costs {
            let next = s.asked();
            s.queue(Some((next + 1).saturating_sub(window)));
            while let Some(id) = s.front() {
                order.push(id);
                s.tell_front();
            }
            s.ask(c);
        }
        s.queue(None);
        while let Some(id) = s.front() {
            order.push(id);
            s.tell_front();
        }
        order
    }

    #[test]
    fn without_estimates_trials_are_told_in_id_order() {
        assert_eq!(told_order(4, &[None; 12]), (0..12).collect::<Vec<_>>());
        assert_eq!(told_order(1, &[Some(1.0); 6]), (0..6).collect::<Vec<_>>());
    }

    #[test]
    fn a_trial_far_costlier_than_the_recent_ones_is_told_two_windows_late() {
        // Window 2: trial 3 (cost 10 against a median of 1) has slot 3 + 4 = 7: told after
        // trial 6, before trial 7.
        let mut costs = vec![Some(1.0); 10];
        costs[3] = Some(10.0);
        assert_eq!(told_order(2, &costs), [0, 1, 2, 4, 5, 6, 3, 7, 8, 9]);
        // At 4× the median it is not deferred; before `window` estimates nothing is.
        costs[3] = Some(4.0);
        costs[1] = Some(100.0);
        assert_eq!(told_order(2, &costs), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn a_deferred_trial_holds_back_later_asks_only() {
        let mut s = Slots::new(2);
        for _ in 0..3 {
            let next = s.asked();
            s.queue(Some((next + 1).saturating_sub(2)));
            while s.front().is_some() {
                s.tell_front();
            }
            s.ask(Some(1.0));
        }
        // Trial 3 is deferred and never finishes: trials 4..=8 may still be asked (their
        // slots ≤ i − 2 hold trials 0..=6 but 3), trial 9 needs slot 7, which is trial 3's.
        s.queue(Some(2));
        while s.front().is_some() {
            s.tell_front();
        }
        assert_eq!(s.ask(Some(50.0)), 3);
        let mut asked = vec![];
        loop {
            let next = s.asked();
            s.queue(Some(next - 1));
            while s.front().is_some_and(|id| id != 3) {
                s.tell_front();
            }
            if s.front() == Some(3) {
                break;
            }
            asked.push(s.ask(Some(1.0)));
        }
        assert_eq!(asked, [4, 5, 6, 7, 8]);
        assert_eq!(s.told_before(8), 6, "trials 0..=6 but 3 were told before trial 8");
        assert!(s.untold(3) && !s.untold(4) && !s.untold(9));
    }

    #[test]
    fn a_trial_asked_after_a_drain_is_due_at_once() {
        let mut s = Slots::new(2);
        s.ask(None);
        s.queue(None);
        assert_eq!(s.front(), Some(0));
        s.tell_front();
        assert_eq!(s.ask(None), 1);
        assert_eq!(s.front(), Some(1), "slot 1 was passed by the drain");
    }
}

/// The rule inside a sweep: the same trials on any number of workers, and a long deferred trial
/// does not stop the others.
#[cfg(test)]
mod in_a_sweep {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use crate::samplers::{testfns, SamplerKind};
    use crate::space::{ParamSpec, Params, SearchSpace};
    use crate::sweep::{Limits, Monitor, Sweep, SweepResult, Trial, TrialError, TrialState};

    /// A monitor that estimates each trial's cost with a function of its parameters.
    struct Costs(fn(&Params) -> f64);

    impl Monitor for Costs {
        fn cost(&self, p: &Params) -> Option<f64> {
            Some((self.0)(p))
        }
    }

    fn branin(jobs: usize, costs: Option<&Costs>) -> SweepResult {
        let (space, f) = testfns::branin();
        let sweep = Sweep::builder(space)
            .sampler(SamplerKind::Cfo)
            .seed(5)
            .jobs(jobs)
            .max_concurrent(3)
            .build()
            .unwrap();
        let objective = |t: &mut Trial| -> Result<f64, TrialError> {
            // Uneven durations shuffle the order trials end in.
            std::thread::sleep(Duration::from_micros((t.id() as u64 * 7919) % 700));
            Ok(f(t.params()))
        };
        let limits = Limits {
            max_trials: Some(80),
            ..Limits::default()
        };
        match costs {
            Some(c) => sweep.optimize_with(objective, limits, c).unwrap(),
            None => sweep.optimize(objective, limits).unwrap(),
        }
    }

    #[test]
    fn deferred_trials_keep_runs_the_same_on_any_number_of_workers() {
        // Costs spread over e^-5..e^10: some trials are far costlier than the ones before.
        let costs = Costs(|p| p.f64_or("x1", 0.0).unwrap_or(0.0).exp());
        let key =
            |r: &SweepResult| -> Vec<_> { r.trials.iter().map(|t| (t.params.clone(), t.value)).collect() };
        let one = key(&branin(1, Some(&costs)));
        assert_eq!(one.len(), 80);
        assert_eq!(key(&branin(2, Some(&costs))), one);
        assert_eq!(key(&branin(4, Some(&costs))), one);
        // The deferral changed what the sampler saw when: another sequence than without it.
        assert_ne!(key(&branin(1, None)), one);
    }

    #[test]
    fn later_trials_run_while_a_deferred_trial_runs() {
        // Window 2, trials k = 0..12 in order. Trial 4 costs 100× the others, so it is told at
        // slot 8: trials 5..=9 may start before it ends. It waits for trial 8 to end, which
        // without the deferral could not start before trial 4 is told (slot 6 = trial 4 + 2).
        let space = SearchSpace::new().add("k", ParamSpec::choice(0i64..12));
        let sweep = Sweep::builder(space)
            .sampler(SamplerKind::Grid)
            .jobs(2)
            .max_concurrent(2)
            .build()
            .unwrap();
        let eight_done = AtomicBool::new(false);
        let costs = Costs(|p| {
            if p.int_or("k", 0).unwrap_or(0) == 4 {
                100.0
            } else {
                1.0
            }
        });
        let r = sweep
            .optimize_with(
                |t: &mut Trial| {
                    let k = t.int("k")?;
                    if k == 4 {
                        let give_up = Instant::now() + Duration::from_secs(20);
                        while !eight_done.load(Ordering::SeqCst) {
                            if Instant::now() > give_up {
                                return Err(TrialError::Failed("trial 8 never ran meanwhile".into()));
                            }
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                    if k == 8 {
                        eight_done.store(true, Ordering::SeqCst);
                    }
                    Ok(k as f64)
                },
                Limits {
                    max_trials: Some(12),
                    ..Limits::default()
                },
                &costs,
            )
            .unwrap();
        assert_eq!(r.count(TrialState::Completed), 12, "{:?}", r.trials[4].error);
    }
}
