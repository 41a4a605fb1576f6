//! Sweeps: optimise any objective over a [`SearchSpace`] with a sampler, an early-termination
//! policy and budgets, on a pool of worker threads — or drive trials yourself with ask / tell.
//!
//! ```
//! use automl::space::{ParamSpec, SearchSpace};
//! use automl::sweep::{Goal, Limits, Sweep, Trial, TrialError};
//! use automl::samplers::SamplerKind;
//! # fn main() -> automl::Result<()> {
//! let space = SearchSpace::new().add("x", ParamSpec::uniform(-5.0, 5.0));
//! let sweep = Sweep::builder(space).goal(Goal::Minimize).sampler(SamplerKind::Tpe).seed(7).build()?;
//! let result = sweep.optimize(
//!     |t: &mut Trial| -> Result<f64, TrialError> {
//!         let x = t.float("x")?;
//!         Ok((x - 1.0) * (x - 1.0))
//!     },
//!     Limits { max_trials: Some(50), ..Limits::default() },
//! )?;
//! assert!(result.best().unwrap().value.unwrap() < 0.5);
//! # Ok(()) }
//! ```
//!
//! **Reproducibility rule.** Each trial has a *tell slot*: its id, or its id + `2·W` when it is
//! *deferred* (below). Trial `i`'s configuration is decided from the trials whose slot is at most
//! `i−W` only, where `W` is `max_concurrent` (a search setting, default 8, not the number of worker
//! threads): those trials have always finished when trial `i` starts, and the sampler is told them
//! in slot order (ties: the deferred trial first). Early-termination decisions for trial `i`
//! compare it with the same trials. So with a seed, the sequence of configurations and of pruning
//! decisions depends neither on the number of workers nor on timing. What timing can change: which
//! trials a time budget leaves time for (the trials run are a prefix of the same sequence),
//! per-trial timeouts, and the wall times recorded.
//!
//! **Deferred trials.** Without a cost estimate ([`Monitor::cost`]), or with `W` = 1, no trial is
//! deferred and the slots are the ids: the sampler hears of trials in id order. With one, a trial
//! estimated at more than [`SLOW_FACTOR`] times the median of the [`RECENT`] trials asked before
//! it is deferred: the `3·W − 1` trials after it can be asked before it is told, not `W − 1`, so
//! while a long trial runs the other workers go on with cheaper ones instead of waiting for it. The
//! estimate depends on the parameters only, so which trials are deferred is the same on any number
//! of workers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::cancel::{self, Token};
use crate::error::{Error, Result};
pub use crate::guard::guarded;
pub use crate::pruners::Goal;
use crate::pruners::{History, Policy};
use crate::samplers::{Sampler, SamplerKind};
use crate::space::{Params, SearchSpace};
/// How a trial ended (the crate's one state enum).
pub use crate::state::TrialState;

mod slots;
mod storage;
mod trial;

use slots::Slots;
pub use slots::{RECENT, SLOW_FACTOR};

pub use storage::{MemoryStore, Ownership, TrialStore};
use trial::Pruning;
pub use trial::{trial_seed, Limits, Monitor, Quiet, Stop, Trial, TrialError, TrialRecord};

/// Default for `max_concurrent`, the determinism window.
pub const DEFAULT_MAX_CONCURRENT: usize = 8;

/// Builder of a [`Sweep`].
pub struct SweepBuilder {
    space: SearchSpace,
    goal: Goal,
    sampler: SamplerKind,
    policy: Policy,
    seed: u64,
    max_concurrent: usize,
    jobs: usize,
    store: Option<Arc<dyn TrialStore>>,
}

impl SweepBuilder {
    /// Minimise (default) or maximise.
    pub fn goal(mut self, g: Goal) -> Self {
        self.goal = g;
        self
    }
    /// Which sampler (default: cost-frugal search).
    pub fn sampler(mut self, s: SamplerKind) -> Self {
        self.sampler = s;
        self
    }
    /// Early-termination policy (default none).
    pub fn policy(mut self, p: Policy) -> Self {
        self.policy = p;
        self
    }
    /// Seed of every random choice.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// Most trials in flight, and the determinism window (default 8).
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = n;
        self
    }
    /// Worker threads for [`Sweep::optimize`] (default: all cores).
    pub fn jobs(mut self, n: usize) -> Self {
        self.jobs = n;
        self
    }
    /// Where trials are written and read back (default: a new [`MemoryStore`]). Trials the store
    /// already holds as finished (a resumed study) are replayed to the sampler and not run again.
    pub fn store(mut self, store: Arc<dyn TrialStore>) -> Self {
        self.store = Some(store);
        self
    }
    /// Check the settings, open the store and build the sampler.
    pub fn build(self) -> Result<Sweep> {
        if self.max_concurrent == 0 {
            return Err(Error::Config("max concurrent trials must be at least 1".into()));
        }
        if self.jobs == 0 {
            return Err(Error::Config("jobs must be at least 1".into()));
        }
        let sampler = self.sampler.build(&self.space)?;
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::default()));
        let earlier = store.finished_ids()?;
        Ok(Sweep {
            history: Arc::new(RwLock::new(History::new(self.goal))),
            space: self.space,
            goal: self.goal,
            policy: self.policy,
            seed: self.seed,
            window: self.max_concurrent,
            jobs: self.jobs,
            cancel: Arc::new(AtomicBool::new(false)),
            store,
            state: Mutex::new(State {
                sampler,
                slots: Slots::new(self.max_concurrent),
                pending: BTreeMap::new(),
                unstored: BTreeMap::new(),
                told_records: Vec::new(),
                earlier,
                foreign: BTreeMap::new(),
                exhausted: false,
                started: Instant::now(),
                store_error: None,
                waiting: 0,
            }),
            wake: Condvar::new(),
        })
    }
}

struct State {
    sampler: Box<dyn Sampler>,
    /// Which trials are asked and told, and in which order they are told.
    slots: Slots,
    /// Finished in this session, not yet told to the sampler (what was written, used only when
    /// the store cannot give the trial back).
    pending: BTreeMap<usize, Arc<TrialRecord>>,
    /// Trials the store refused to write: kept here for the result.
    unstored: BTreeMap<usize, Arc<TrialRecord>>,
    /// Every trial told so far, in the order told (shared with the store): the result when the
    /// store cannot list its trials.
    told_records: Vec<Arc<TrialRecord>>,
    /// Trials the store held as finished when the sweep opened it, not yet replayed.
    earlier: BTreeSet<usize>,
    /// Trials of a shared store run by other processes, with their parameters (kept in case this
    /// process takes one over from a lost worker), until told.
    foreign: BTreeMap<usize, Params>,
    exhausted: bool,
    started: Instant,
    store_error: Option<String>,
    /// Workers waiting on the condition variable (a notification costs a system call: only
    /// made when someone waits).
    waiting: usize,
}

impl State {
    fn note(&mut self, e: &Error) {
        self.store_error.get_or_insert_with(|| e.to_string());
    }

    /// Keep finished trial `rec` until it is told.
    fn hold(&mut self, rec: Arc<TrialRecord>) {
        self.pending.insert(rec.id, rec);
    }

    /// Whether trial `id` has finished here (and is not told yet).
    fn finished(&self, id: usize) -> bool {
        self.pending.contains_key(&id) || self.unstored.contains_key(&id)
    }
}

/// A configured sweep. Share it by reference: [`Sweep::optimize`] runs trials on a worker pool;
/// [`Sweep::ask`] / [`Sweep::tell`] let the caller run them.
pub struct Sweep {
    space: SearchSpace,
    goal: Goal,
    policy: Policy,
    seed: u64,
    window: usize,
    jobs: usize,
    cancel: Arc<AtomicBool>,
    /// The step curves of told trials: what the early-termination policy compares with.
    history: Arc<RwLock<History>>,
    store: Arc<dyn TrialStore>,
    state: Mutex<State>,
    wake: Condvar,
}

/// Every trial of a sweep.
#[derive(Debug, Clone)]
pub struct SweepResult {
    /// Records in id order (shared with the sweep's store).
    pub trials: Vec<Arc<TrialRecord>>,
    /// Optimisation direction.
    pub goal: Goal,
    /// Seconds the sweep ran.
    pub secs: f64,
    /// Whether the sweep was cancelled.
    pub cancelled: bool,
    /// The first error of the trial store, if any (the sweep went on; such trials are in
    /// `trials` all the same).
    pub store_error: Option<String>,
}

impl SweepResult {
    /// The best completed trial (ties: lowest id).
    pub fn best(&self) -> Option<&TrialRecord> {
        // One pass (the first of equals is kept), not a sort of every trial.
        let better = |a: f64, b: f64| match self.goal {
            Goal::Maximize => a.total_cmp(&b).is_gt(),
            Goal::Minimize => a.total_cmp(&b).is_lt(),
        };
        let mut best: Option<(&TrialRecord, f64)> = None;
        for t in &self.trials {
            if let (TrialState::Completed, Some(v)) = (t.state, t.value) {
                if best.is_none_or(|(b, bv)| better(v, bv) || (v.total_cmp(&bv).is_eq() && t.id < b.id)) {
                    best = Some((t, v));
                }
            }
        }
        best.map(|(t, _)| t)
    }

    /// Completed trials, best first (ties by id).
    pub fn ranked(&self) -> Vec<&TrialRecord> {
        let mut ok: Vec<&TrialRecord> = self
            .trials
            .iter()
            .map(|t| &**t)
            .filter(|t| t.state == TrialState::Completed && t.value.is_some())
            .collect();
        ok.sort_by(|a, b| {
            let (x, y) = (a.value.unwrap_or(f64::NAN), b.value.unwrap_or(f64::NAN));
            let o = if self.goal == Goal::Maximize {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            };
            o.then(a.id.cmp(&b.id))
        });
        ok
    }

    /// Number of trials that ended in `state`.
    pub fn count(&self, state: TrialState) -> usize {
        self.trials.iter().filter(|t| t.state == state).count()
    }
}

enum Next {
    Run(usize, Params),
    Wait,
    Done,
}

impl Sweep {
    /// Start configuring a sweep over `space`.
    pub fn builder(space: SearchSpace) -> SweepBuilder {
        SweepBuilder {
            space,
            goal: Goal::Minimize,
            sampler: SamplerKind::default(),
            policy: Policy::None,
            seed: 0,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            store: None,
        }
    }

    /// The search space.
    pub fn space(&self) -> &SearchSpace {
        &self.space
    }

    /// A flag that, once set, stops the sweep: no new trials, running ones see
    /// [`Stop::Cancelled`] at their next check.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The finished trial `id` as the store gives it back (the copy kept meanwhile when it
    /// cannot, noting the error).
    fn read_back(&self, st: &mut State, id: usize) -> Option<Arc<TrialRecord>> {
        let kept = st.pending.remove(&id);
        if let Some(r) = st.unstored.get(&id) {
            return Some(r.clone());
        }
        match self.store.trial(id) {
            Ok(Some(r)) => Some(r),
            Ok(None) => {
                if kept.is_some() {
                    st.note(&Error::Store(format!(
                        "trial {id} was written but cannot be read back"
                    )));
                }
                kept
            }
            Err(e) => {
                st.note(&e);
                kept
            }
        }
    }

    /// Tell the sampler, in slot order, every finished trial whose slot is before `upto` (`None`:
    /// every trial asked), stopping at the first one not finished yet. A trial of another process
    /// (shared store) is looked up in the store; one whose worker was lost is claimed again and
    /// returned to run here.
    fn tell_finished(&self, st: &mut State, upto: Option<usize>) -> Option<(usize, Params)> {
        st.slots.queue(upto);
        while let Some(id) = st.slots.front() {
            if !st.finished(id) {
                let Some(params) = st.foreign.get(&id).cloned() else {
                    break;
                };
                match self.store.trial(id) {
                    Ok(Some(rec)) => st.hold(rec),
                    Ok(None) => match self.store.claim(id) {
                        Ok(Ownership::Mine) => {
                            st.foreign.remove(&id);
                            return Some((id, params));
                        }
                        Ok(Ownership::Elsewhere) => break,
                        Err(e) => {
                            st.note(&e);
                            break;
                        }
                    },
                    Err(e) => {
                        st.note(&e);
                        break;
                    }
                }
            }
            st.foreign.remove(&id);
            if let Some(rec) = self.read_back(st, id) {
                st.told_records.push(rec.clone());
                st.sampler.tell(&self.space, &rec.observation(self.goal));
                // Only a policy reads the step history.
                let history = (self.policy != Policy::None)
                    .then(|| self.history.write().ok())
                    .flatten();
                if let Some(mut h) = history {
                    for (s, v) in &rec.steps {
                        h.report(rec.id, *s, *v);
                    }
                    h.finish_at(rec.id, st.slots.told());
                }
            }
            st.slots.tell_front();
        }
        None
    }

    /// The sweep has nothing more to start. With a shared store it ends only once every trial
    /// asked so far is finished (other processes' included, taking over those of lost workers),
    /// so the result holds them all; a cancelled sweep ends at once.
    fn drain(&self, st: &mut State) -> Next {
        if !self.store.shared() || self.cancel.load(Ordering::Relaxed) {
            return Next::Done;
        }
        if let Some((id, params)) = self.tell_finished(st, None) {
            return Next::Run(id, params);
        }
        if st.slots.told() < st.slots.asked() {
            Next::Wait
        } else {
            Next::Done
        }
    }

    /// Tell the sampler every finished trial it may see before asking the next trial; then ask
    /// (`cost`: the trial's estimated cost, which decides whether it is deferred).
    fn next_trial(
        &self,
        st: &mut State,
        limits: &Limits,
        reserve: f64,
        cost: &dyn Fn(&Params) -> Option<f64>,
    ) -> Next {
        loop {
            if self.cancel.load(Ordering::Relaxed) || st.exhausted {
                return self.drain(st);
            }
            if limits.max_trials.is_some_and(|m| st.slots.asked() >= m) {
                return self.drain(st);
            }
            // A trial of an earlier session costs no time: it is replayed even when the time
            // budget is already spent, so a resumed run always keeps what it had.
            let replay = st.earlier.contains(&st.slots.asked());
            let out_of_time = |st: &State| {
                limits.time.is_some_and(|t| {
                    let t = t.as_secs_f64();
                    st.started.elapsed().as_secs_f64() + reserve.min(t / 2.0) >= t
                })
            };
            if !replay && out_of_time(st) {
                return self.drain(st);
            }
            // Trials of slots 0..=next−W must be told before trial `next` is asked: each is read
            // back from the store, told to the sampler and given to the policy's history, in
            // slot order.
            let upto = (st.slots.asked() + 1).saturating_sub(self.window);
            if let Some((id, params)) = self.tell_finished(st, Some(upto)) {
                return Next::Run(id, params);
            }
            if let Some(target) = limits.exit_score {
                let reached = |v: f64| match self.goal {
                    Goal::Maximize => v >= target,
                    Goal::Minimize => v <= target,
                };
                // Completed trials only: a pruned or stopped trial's value is partial.
                if st
                    .told_records
                    .iter()
                    .any(|r| r.state == TrialState::Completed && r.value.is_some_and(reached))
                {
                    st.exhausted = true;
                    return self.drain(st);
                }
            }
            if st.slots.front().is_some() {
                return Next::Wait;
            }
            let id = st.slots.asked();
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(id as u64 + 1);
            let Some(params) = st.sampler.ask(id, &self.space, &mut rng) else {
                st.exhausted = true;
                return self.drain(st);
            };
            // One validity rule for both uses: a positive, finite estimate, or none.
            let estimate = cost(&params).filter(|c| c.is_finite() && *c > 0.0);
            if let Some(c) = estimate {
                st.sampler.asked_cost(id, c);
            }
            st.slots.ask(estimate);
            if replay {
                // A trial of an earlier session: not run again; told from the store in turn.
                st.earlier.remove(&id);
                // When the store cannot give it back, the trial runs again instead (a new trial,
                // so only within the time budget).
                let error = match self.store.trial(id) {
                    Ok(Some(rec)) => {
                        st.hold(rec);
                        continue;
                    }
                    // Shared: never run again unclaimed; told once the store gives it back.
                    _ if self.store.shared() => {
                        st.foreign.insert(id, params);
                        continue;
                    }
                    Ok(None) => Error::Store(format!("finished trial {id} cannot be read back")),
                    Err(e) => e,
                };
                st.note(&error);
                return if out_of_time(st) {
                    st.exhausted = true;
                    Next::Done
                } else {
                    Next::Run(id, params)
                };
            }
            if self.store.shared() {
                // Another process may run it: then it is told once it appears in the store.
                match self.store.claim(id) {
                    Ok(Ownership::Mine) => {}
                    Ok(Ownership::Elsewhere) => {
                        st.foreign.insert(id, params);
                        continue;
                    }
                    Err(e) => {
                        st.note(&e);
                        st.foreign.insert(id, params);
                        continue;
                    }
                }
            }
            return Next::Run(id, params);
        }
    }

    /// Write a finished trial through the store (outside the lock: other workers go on);
    /// returns whether a worker waits for news.
    fn finish(&self, rec: TrialRecord) -> bool {
        let rec = Arc::new(rec);
        {
            let mut st = self.lock();
            if !st.slots.untold(rec.id) || st.finished(rec.id) {
                let e = Error::Config(format!(
                    "trial {} was not asked from this sweep, or was told already",
                    rec.id
                ));
                st.note(&e);
                return false;
            }
        }
        let written = self.store.finish(&rec);
        let mut st = self.lock();
        if self.store.shared() {
            // Told as the store holds it (another worker's result when this one's claim was
            // taken over meanwhile; the trial runs again here when the write failed): every
            // worker tells the same record.
            if let Err(e) = written {
                st.note(&e);
            }
            st.foreign.insert(rec.id, rec.params.clone());
        } else if let Err(e) = written {
            st.note(&e);
            // Read back from here.
            st.unstored.insert(rec.id, rec);
        } else {
            st.hold(rec);
        }
        st.waiting > 0
    }

    /// A trial's token fires at its own timeout or when the time budget (less `reserve`, the time
    /// kept for the caller's final step) runs out, whichever comes first: a trial that would
    /// overrun the budget is stopped and recorded as timed out, not waited for. Its pruning
    /// compares it with the first `told_before` trials told.
    fn make_trial(
        &self,
        (id, params, told_before): (usize, Params, usize),
        limits: &Limits,
        started: Instant,
        reserve: f64,
    ) -> Trial {
        let pruning = (self.policy != Policy::None).then(|| {
            Arc::new(Pruning {
                policy: self.policy.clone(),
                history: self.history.clone(),
                limit: told_before,
            })
        });
        let own = limits.trial_timeout.map(|t| Instant::now() + t);
        let budget = limits.time.map(|t| {
            let t = t.as_secs_f64();
            started + Duration::from_secs_f64((t - reserve.min(t / 2.0)).max(0.0))
        });
        let deadline = match (own, budget) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let token = Token::new(Some(self.cancel.clone()), deadline);
        let store = self.store.keeps_steps_live().then(|| self.store.clone());
        Trial::new(id, params, trial_seed(self.seed, id), token, pruning, store)
    }

    /// Record that trial `id` starts (the store marks it running).
    fn start(&self, id: usize, params: &Params) {
        if let Err(e) = self.store.start(id, params) {
            self.lock().note(&e);
        }
    }

    /// Run `objective` on trials until the limits are reached, the grid is exhausted or the sweep
    /// is cancelled, on `jobs` worker threads (at most `max_concurrent` trials at once). A trial
    /// that errors or panics is recorded as failed and the sweep goes on.
    pub fn optimize<F>(&self, objective: F, limits: Limits) -> Result<SweepResult>
    where
        F: Fn(&mut Trial) -> std::result::Result<f64, TrialError> + Sync,
    {
        self.optimize_with(objective, limits, &Quiet)
    }

    /// [`Sweep::optimize`] with a monitor hearing of each trial's start and end.
    pub fn optimize_with<F>(&self, objective: F, limits: Limits, monitor: &dyn Monitor) -> Result<SweepResult>
    where
        F: Fn(&mut Trial) -> std::result::Result<f64, TrialError> + Sync,
    {
        let workers = self.jobs.min(self.window).max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("automl-trial-{i}"))
            .build()
            .map_err(|e| Error::Config(format!("cannot start {workers} worker threads: {e}")))?;
        self.lock().started = Instant::now();
        let poll = Duration::from_millis(if self.store.shared() { 200 } else { 5 });
        let objective = &objective;
        // One worker loop per pool thread (a broadcast): each trial runs on a thread of the pool,
        // so a learner's own parallel work shares the `jobs` threads, with no hop between threads
        // per trial. A broadcast job runs only on its own thread, and each thread takes it before
        // any other work (the pool is new and has none), so one worker loop can never start
        // nested inside another's trial while that trial waits for stolen work.
        pool.broadcast(|_| loop {
            let (id, params, told_before, sweep_started) = {
                let mut st = self.lock();
                loop {
                    match self.next_trial(&mut st, &limits, monitor.reserve_secs(), &|p| monitor.cost(p)) {
                        Next::Run(id, p) => break (id, p, st.slots.told_before(id), st.started),
                        Next::Done => {
                            if st.waiting > 0 {
                                self.wake.notify_all();
                            }
                            return;
                        }
                        Next::Wait => {
                            // Rather than idle, run a job a running trial left on the pool
                            // (a fold of its validation); else look again soon, since a trial
                            // that starts leaves its jobs without waking this thread (a shared
                            // store is asked less often: each look may read it).
                            drop(st);
                            let helped = matches!(rayon::yield_now(), Some(rayon::Yield::Executed));
                            st = self.lock();
                            if helped {
                                continue;
                            }
                            st.waiting += 1;
                            st = self
                                .wake
                                .wait_timeout(st, poll)
                                .map(|(g, _)| g)
                                .unwrap_or_else(|p| p.into_inner().0);
                            st.waiting -= 1;
                        }
                    }
                }
            };
            self.start(id, &params);
            // A panicking monitor must not leave the trial unrecorded (others wait on it).
            let _ = guarded(|| monitor.started(id, &params));
            let mut trial = self.make_trial(
                (id, params, told_before),
                &limits,
                sweep_started,
                monitor.reserve_secs(),
            );
            let token = trial.token().clone();
            let outcome = guarded(|| cancel::with(token, || objective(&mut trial)));
            let started_secs = trial
                .started()
                .saturating_duration_since(sweep_started)
                .as_secs_f64();
            let rec = trial.into_record(outcome, started_secs);
            let _ = guarded(|| monitor.finished(&rec));
            if self.finish(rec) {
                self.wake.notify_all();
            }
        });
        Ok(self.result())
    }

    /// Every finished trial so far, as the store holds them.
    pub fn result(&self) -> SweepResult {
        let mut st = self.lock();
        let mut trials = match self.store.trials() {
            Ok(t) => t,
            Err(e) => {
                st.note(&e);
                st.told_records
                    .iter()
                    .chain(st.pending.values())
                    .cloned()
                    .collect()
            }
        };
        let have: BTreeSet<usize> = trials.iter().map(|t| t.id).collect();
        trials.extend(st.unstored.values().filter(|r| !have.contains(&r.id)).cloned());
        if !trials.is_sorted_by_key(|r| r.id) {
            trials.sort_by_key(|r| r.id);
        }
        SweepResult {
            trials,
            goal: self.goal,
            secs: st.started.elapsed().as_secs_f64(),
            cancelled: self.cancel.load(Ordering::Relaxed),
            store_error: st.store_error.clone(),
        }
    }

    /// The next trial to run yourself, `Ok(None)` when the sweep has nothing left (grid exhausted,
    /// `limits` reached). An error when `max_concurrent` trials are already out: tell one first.
    pub fn ask(&self, limits: &Limits) -> Result<Option<Trial>> {
        let mut st = self.lock();
        match self.next_trial(&mut st, limits, 0.0, &|_| None) {
            Next::Run(id, p) => {
                let (started, told_before) = (st.started, st.slots.told_before(id));
                drop(st);
                self.start(id, &p);
                Ok(Some(self.make_trial((id, p, told_before), limits, started, 0.0)))
            }
            Next::Done => Ok(None),
            Next::Wait => Err(Error::Config(format!(
                "trial {} must be told before more trials are asked ({} may be in flight: max_concurrent)",
                st.slots.front().unwrap_or(st.slots.told()),
                self.window
            ))),
        }
    }

    /// Report the outcome of a trial obtained with [`Sweep::ask`]; returns its record.
    pub fn tell(&self, trial: Trial, outcome: std::result::Result<f64, TrialError>) -> TrialRecord {
        let started = self.lock().started;
        let started_secs = trial.started().saturating_duration_since(started).as_secs_f64();
        let rec = trial.into_record(Ok(outcome), started_secs);
        self.finish(rec.clone());
        self.wake.notify_all();
        rec
    }
}

/// Test support shared by learners that report while they train (gbdt rounds, mlp epochs).
#[cfg(test)]
pub(crate) mod testing {
    use super::{Limits, Sweep, TrialError, TrialState};
    use crate::pruners::Policy;
    use crate::samplers::SamplerKind;
    use crate::space::{ParamSpec, SearchSpace};

    /// A report callback: `(step, value)`, false to stop training.
    pub type Report<'a> = &'a mut (dyn FnMut(i64, f64) -> bool + Send);

    /// Sweep 16 random learning rates in `[low, high]` under successive halving (halving from
    /// `min_resource`, seed `seed`, 2 jobs), each trial training with `train(rate, seed, report)`
    /// for `steps` steps, and check the policy stopped bad trials mid-training while the best ran
    /// every step.
    pub fn assert_halving_stops_mid_training<E: std::fmt::Display>(
        (low, high): (f64, f64),
        min_resource: i64,
        seed: u64,
        steps: usize,
        train: impl Fn(f64, u64, Report) -> std::result::Result<(), E> + Sync,
    ) {
        let space = SearchSpace::new().add("learning_rate", ParamSpec::loguniform(low, high));
        let sweep = Sweep::builder(space)
            .sampler(SamplerKind::Random)
            .policy(Policy::SuccessiveHalving {
                min_resource,
                reduction_factor: 2,
            })
            .seed(seed)
            .jobs(2)
            .build()
            .unwrap();
        let result = sweep
            .optimize(
                |t| {
                    let rate = t.float("learning_rate")?;
                    let (mut stop, mut last) = (None, f64::INFINITY);
                    train(rate, t.seed(), &mut |step, value| {
                        last = value;
                        match t.report(step, value) {
                            Ok(()) => true,
                            Err(s) => {
                                stop = Some(s);
                                false
                            }
                        }
                    })
                    .map_err(|e| TrialError::Failed(e.to_string()))?;
                    match stop {
                        Some(s) => Err(s.into()),
                        None => Ok(last),
                    }
                },
                Limits {
                    max_trials: Some(16),
                    ..Limits::default()
                },
            )
            .unwrap();
        let pruned: Vec<_> = result
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Pruned)
            .collect();
        assert!(pruned.len() >= 4, "{} pruned", pruned.len());
        assert!(
            pruned.iter().all(|t| t.steps.len() < steps),
            "pruned trials stopped early"
        );
        let best = result.best().unwrap();
        assert_eq!(best.state, TrialState::Completed);
        assert_eq!(best.steps.len(), steps, "one report per step");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pruners::{Curve, Schedule, Slack};
    use crate::samplers::testfns;
    use crate::space::ParamSpec;

    fn branin_sweep(kind: SamplerKind, jobs: usize, window: usize) -> SweepResult {
        let (space, f) = testfns::branin();
        let sweep = Sweep::builder(space)
            .sampler(kind)
            .seed(11)
            .jobs(jobs)
            .max_concurrent(window)
            .build()
            .unwrap();
        sweep
            .optimize(
                |t: &mut Trial| {
                    // Uneven trial durations shuffle completion order between workers.
                    std::thread::sleep(Duration::from_micros((t.id() as u64 * 7919) % 500));
                    Ok(f(t.params()))
                },
                Limits {
                    max_trials: Some(60),
                    ..Limits::default()
                },
            )
            .unwrap()
    }

    #[test]
    fn same_seed_same_trials_whatever_the_number_of_workers() {
        for kind in [SamplerKind::Tpe, SamplerKind::Cfo, SamplerKind::Random] {
            let a = branin_sweep(kind, 1, 4);
            let b = branin_sweep(kind, 4, 4);
            let pa: Vec<_> = a.trials.iter().map(|t| (t.params.clone(), t.value)).collect();
            let pb: Vec<_> = b.trials.iter().map(|t| (t.params.clone(), t.value)).collect();
            assert_eq!(pa.len(), 60);
            assert_eq!(pa, pb, "{kind:?}");
        }
    }

    #[test]
    fn failures_panics_and_timeouts_are_recorded_and_the_sweep_goes_on() {
        let space = SearchSpace::new().add("k", ParamSpec::choice([0i64, 1, 2, 3]));
        let sweep = Sweep::builder(space)
            .sampler(SamplerKind::Grid)
            .jobs(2)
            .build()
            .unwrap();
        let r = sweep
            .optimize(
                |t: &mut Trial| match t.int("k")? {
                    0 => Ok(1.0),
                    1 => Err(TrialError::Failed("bad value".into())),
                    2 => panic!("boom"),
                    _ => loop {
                        t.check()?;
                        std::thread::sleep(Duration::from_millis(5));
                    },
                },
                Limits {
                    trial_timeout: Some(Duration::from_millis(200)),
                    ..Limits::default()
                },
            )
            .unwrap();
        let states: Vec<TrialState> = r.trials.iter().map(|t| t.state).collect();
        assert_eq!(
            states,
            [
                TrialState::Completed,
                TrialState::Failed,
                TrialState::Failed,
                TrialState::TimedOut
            ]
        );
        assert!(r.trials[2].error.as_deref().unwrap().contains("boom"));
        assert!(r.trials[3].secs >= 0.2 && r.trials[3].secs < 5.0);
        assert_eq!(r.best().unwrap().id, 0);
    }

    #[test]
    fn bandit_prunes_trials_behind_the_best_seen() {
        // Trial i reports a flat curve of value i at steps 1..=5 (maximise); with the window 1 every
        // earlier trial is visible. Bandit slack 0.2: a trial stops when its value < best / 1.2.
        let space = SearchSpace::new().add("v", ParamSpec::choice([10i64, 9, 5, 11, 8]));
        let sweep = Sweep::builder(space)
            .sampler(SamplerKind::Grid)
            .goal(Goal::Maximize)
            .max_concurrent(1)
            .policy(Policy::Bandit {
                slack: Slack::Factor(0.2),
                schedule: Schedule::default(),
            })
            .build()
            .unwrap();
        let r = sweep
            .optimize(
                |t: &mut Trial| {
                    let v = t.float("v")?;
                    for s in 1..=5 {
                        t.report(s, v)?;
                    }
                    Ok(v)
                },
                Limits::default(),
            )
            .unwrap();
        let states: Vec<&str> = r.trials.iter().map(|t| t.state.name()).collect();
        // 10 → best; 9 ≥ 8.33 kept; 5 < 8.33 pruned at step 1; 11 new best; 8 < 11/1.2 = 9.17 pruned.
        assert_eq!(
            states,
            ["completed", "completed", "pruned", "completed", "pruned"]
        );
        assert_eq!(r.trials[2].steps, vec![(1, 5.0)]);
        assert_eq!(r.trials[2].value, Some(5.0));
    }

    #[test]
    fn ask_tell_drives_trials_by_hand_within_the_window() {
        let (space, f) = testfns::branin();
        let sweep = Sweep::builder(space)
            .sampler(SamplerKind::Tpe)
            .max_concurrent(2)
            .seed(3)
            .build()
            .unwrap();
        let limits = Limits {
            max_trials: Some(40),
            ..Limits::default()
        };
        let a = sweep.ask(&limits).unwrap().unwrap();
        let b = sweep.ask(&limits).unwrap().unwrap();
        assert!(sweep.ask(&limits).is_err(), "two in flight with max_concurrent 2");
        let va = f(a.params());
        sweep.tell(a, Ok(va));
        let vb = f(b.params());
        sweep.tell(b, Ok(vb));
        while let Some(t) = sweep.ask(&limits).unwrap() {
            let v = f(t.params());
            sweep.tell(t, Ok(v));
        }
        let r = sweep.result();
        assert_eq!(r.trials.len(), 40);
        assert!(r.best().unwrap().value.unwrap() < 2.0);
    }

    #[test]
    fn edge_cases_found_in_review_neither_hang_nor_panic() {
        // A branch value without parameters, under the cost-frugal sampler with parallel trials.
        let space = SearchSpace::new()
            .add("model", ParamSpec::choice(["a", "b"]))
            .add("x", ParamSpec::uniform(0.0, 1.0).when("model", ["a"]));
        let sweep = Sweep::builder(space)
            .sampler(SamplerKind::Cfo)
            .jobs(2)
            .max_concurrent(4)
            .build()
            .unwrap();
        let r = sweep
            .optimize(
                |t: &mut Trial| Ok(t.float("x").unwrap_or(0.5)),
                Limits {
                    max_trials: Some(30),
                    ..Limits::default()
                },
            )
            .unwrap();
        assert_eq!(r.trials.len(), 30);
        // ASHA with a step far beyond every rung, and Hyperband with a huge max resource.
        let h = History::new(Goal::Minimize);
        let mut c = Curve::default();
        c.values.insert(i64::MAX, 1.0);
        let asha = Policy::SuccessiveHalving {
            min_resource: 1,
            reduction_factor: 3,
        };
        assert!(!asha.decide(&h, usize::MAX, 0, &c, i64::MAX));
        let hb = Policy::Hyperband {
            min_resource: 1,
            max_resource: i64::MAX,
            reduction_factor: 2,
        };
        assert!(!hb.decide(&h, usize::MAX, 0, &c, i64::MAX));
        // Infinite bounds are refused before any draw.
        let inf = SearchSpace::new().add("lr", ParamSpec::loguniform(1e-3, f64::INFINITY));
        assert!(inf.check().unwrap_err().to_string().contains("finite"));
        let wide = SearchSpace::new().add("x", ParamSpec::uniform(-1e308, 1e308));
        assert!(wide.check().is_err());
    }

    #[test]
    fn bandit_slack_factor_works_with_negative_values() {
        // Minimise; best -1.0, slack 0.2: the limit is -1 + 0.2 = -0.8.
        let mut h = History::new(Goal::Minimize);
        h.report(0, 1, -1.0);
        h.report(1, 1, -0.85);
        h.report(2, 1, -0.7);
        let p = Policy::Bandit {
            slack: Slack::Factor(0.2),
            schedule: Schedule::default(),
        };
        assert!(!p.should_stop(&h, 0, 1), "the best is never cut");
        assert!(!p.should_stop(&h, 1, 1));
        assert!(p.should_stop(&h, 2, 1));
        // Maximise with a negative best -1.0: limit -1 - 1·0.2/1.2 = -1.1667.
        let mut h = History::new(Goal::Maximize);
        h.report(0, 1, -1.0);
        h.report(1, 1, -1.1);
        h.report(2, 1, -1.2);
        assert!(!p.should_stop(&h, 0, 1) && !p.should_stop(&h, 1, 1));
        assert!(p.should_stop(&h, 2, 1));
    }

    #[test]
    fn a_sweep_opened_on_a_store_with_finished_trials_continues_without_rerunning_them() {
        for kind in [SamplerKind::Tpe, SamplerKind::Cfo] {
            let (space, f) = testfns::branin();
            let limits = |n| Limits {
                max_trials: Some(n),
                ..Limits::default()
            };
            let sweep = |store: Arc<dyn TrialStore>| {
                Sweep::builder(space.clone())
                    .sampler(kind)
                    .seed(5)
                    .max_concurrent(3)
                    .jobs(2)
                    .store(store)
                    .build()
                    .unwrap()
            };
            let runs = std::sync::atomic::AtomicUsize::new(0);
            let objective = |t: &mut Trial| {
                runs.fetch_add(1, Ordering::Relaxed);
                Ok(f(t.params()))
            };
            let whole = sweep(Arc::new(MemoryStore::default()))
                .optimize(objective, limits(40))
                .unwrap();
            // Interrupted after 25 trials (in-flight ones lost), then reopened.
            let first = sweep(Arc::new(MemoryStore::default()))
                .optimize(objective, limits(25))
                .unwrap();
            let kept: Vec<TrialRecord> = first
                .trials
                .iter()
                .map(|t| (**t).clone())
                .filter(|t| t.id != 23)
                .collect();
            runs.store(0, Ordering::Relaxed);
            let resumed = sweep(Arc::new(MemoryStore::with(kept)))
                .optimize(objective, limits(40))
                .unwrap();
            assert_eq!(
                runs.load(Ordering::Relaxed),
                16,
                "{kind:?}: only trial 23 and 25..40 run"
            );
            let key = |r: &SweepResult| {
                r.trials
                    .iter()
                    .map(|t| (t.id, t.params.clone(), t.value))
                    .collect::<Vec<_>>()
            };
            assert_eq!(key(&resumed), key(&whole), "{kind:?}");
        }
    }

    /// A store that refuses every write after the first `ok` trials.
    struct Failing {
        inner: MemoryStore,
        ok: usize,
    }

    impl TrialStore for Failing {
        fn finished_ids(&self) -> Result<BTreeSet<usize>> {
            self.inner.finished_ids()
        }
        fn start(&self, _: usize, _: &Params) -> Result<()> {
            Ok(())
        }
        fn finish(&self, r: &Arc<TrialRecord>) -> Result<()> {
            if r.id < self.ok {
                self.inner.finish(r)
            } else {
                Err(Error::Store("disk full".into()))
            }
        }
        fn trial(&self, id: usize) -> Result<Option<Arc<TrialRecord>>> {
            self.inner.trial(id)
        }
        fn trials(&self) -> Result<Vec<Arc<TrialRecord>>> {
            self.inner.trials()
        }
    }

    #[test]
    fn a_store_that_fails_is_reported_and_the_sweep_goes_on_with_the_same_trials() {
        let (space, f) = testfns::branin();
        let run = |store: Arc<dyn TrialStore>| {
            Sweep::builder(space.clone())
                .sampler(SamplerKind::Tpe)
                .seed(2)
                .max_concurrent(2)
                .store(store)
                .build()
                .unwrap()
                .optimize(
                    |t: &mut Trial| Ok(f(t.params())),
                    Limits {
                        max_trials: Some(30),
                        ..Limits::default()
                    },
                )
                .unwrap()
        };
        let good = run(Arc::new(MemoryStore::default()));
        let bad = run(Arc::new(Failing {
            inner: MemoryStore::default(),
            ok: 12,
        }));
        assert_eq!(good.store_error, None);
        assert_eq!(bad.store_error.as_deref(), Some("workspace store: disk full"));
        let key = |r: &SweepResult| r.trials.iter().map(|t| (t.id, t.value)).collect::<Vec<_>>();
        assert_eq!(key(&bad), key(&good));
    }

    /// A store that offers trial 2 as finished but cannot give it back.
    struct Forgetful(MemoryStore);

    impl TrialStore for Forgetful {
        fn finished_ids(&self) -> Result<BTreeSet<usize>> {
            self.0.finished_ids()
        }
        fn start(&self, id: usize, p: &Params) -> Result<()> {
            self.0.start(id, p)
        }
        fn finish(&self, r: &Arc<TrialRecord>) -> Result<()> {
            self.0.finish(r)
        }
        fn trial(&self, id: usize) -> Result<Option<Arc<TrialRecord>>> {
            if id == 2 {
                return Err(Error::Store("unreadable".into()));
            }
            self.0.trial(id)
        }
        fn trials(&self) -> Result<Vec<Arc<TrialRecord>>> {
            self.0.trials()
        }
    }

    #[test]
    fn a_finished_trial_the_store_cannot_give_back_runs_again_once() {
        let (space, f) = testfns::branin();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let go = |store: Arc<dyn TrialStore>, n| {
            Sweep::builder(space.clone())
                .sampler(SamplerKind::Cfo)
                .seed(9)
                .max_concurrent(2)
                .store(store)
                .build()
                .unwrap()
                .optimize(
                    |t: &mut Trial| {
                        runs.fetch_add(1, Ordering::Relaxed);
                        Ok(f(t.params()))
                    },
                    Limits {
                        max_trials: Some(n),
                        ..Limits::default()
                    },
                )
                .unwrap()
        };
        let whole = go(Arc::new(MemoryStore::default()), 12);
        let first = go(Arc::new(MemoryStore::default()), 6);
        runs.store(0, Ordering::Relaxed);
        let kept = first.trials.iter().map(|t| (**t).clone());
        let again = go(Arc::new(Forgetful(MemoryStore::with(kept))), 12);
        assert_eq!(runs.load(Ordering::Relaxed), 7, "trial 2 and trials 6..12");
        assert_eq!(again.store_error.as_deref(), Some("workspace store: unreadable"));
        let key = |r: &SweepResult| {
            r.trials
                .iter()
                .map(|t| (t.id, t.params.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&again), key(&whole));
    }

    /// A store that cannot list its trials.
    struct NoList(MemoryStore);

    impl TrialStore for NoList {
        fn finished_ids(&self) -> Result<BTreeSet<usize>> {
            self.0.finished_ids()
        }
        fn start(&self, id: usize, p: &Params) -> Result<()> {
            self.0.start(id, p)
        }
        fn finish(&self, r: &Arc<TrialRecord>) -> Result<()> {
            self.0.finish(r)
        }
        fn trial(&self, id: usize) -> Result<Option<Arc<TrialRecord>>> {
            self.0.trial(id)
        }
        fn trials(&self) -> Result<Vec<Arc<TrialRecord>>> {
            Err(Error::Store("cannot list".into()))
        }
    }

    #[test]
    fn the_result_keeps_every_trial_when_the_store_cannot_list_them_and_foreign_trials_are_refused() {
        let (space, f) = testfns::branin();
        let sweep = Sweep::builder(space.clone())
            .sampler(SamplerKind::Random)
            .max_concurrent(3)
            .store(Arc::new(NoList(MemoryStore::default())))
            .build()
            .unwrap();
        let r = sweep
            .optimize(
                |t: &mut Trial| Ok(f(t.params())),
                Limits {
                    max_trials: Some(20),
                    ..Limits::default()
                },
            )
            .unwrap();
        assert_eq!(
            r.trials.iter().map(|t| t.id).collect::<Vec<_>>(),
            (0..20).collect::<Vec<_>>()
        );
        assert_eq!(r.store_error.as_deref(), Some("workspace store: cannot list"));
        // A trial asked from another sweep is refused, not mixed in (nor a panic).
        let other = Sweep::builder(space)
            .sampler(SamplerKind::Random)
            .build()
            .unwrap();
        let limits = Limits::default();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let t = other.ask(&limits).unwrap().unwrap();
            ids.push(t.id());
            let v = f(t.params());
            other.tell(t, Ok(v));
        }
        let mine = Sweep::builder(SearchSpace::new().add("x", ParamSpec::uniform(0.0, 1.0)))
            .build()
            .unwrap();
        let foreign = other.ask(&limits).unwrap().unwrap();
        mine.tell(foreign, Ok(1.0));
        let res = mine.result();
        assert!(res.trials.is_empty());
        assert!(res.store_error.unwrap().contains("was not asked from this sweep"));
    }
}

#[cfg(test)]
mod helping {
    use super::*;
    use crate::space::ParamSpec;
    use rayon::prelude::*;
    use std::collections::HashSet;

    /// A worker held back by the window runs jobs of the running trial instead of idling.
    #[test]
    fn a_waiting_worker_takes_jobs_of_the_running_trial() {
        let space = SearchSpace::new().add("x", ParamSpec::uniform(0.0, 1.0));
        // Window 2: the worker that ends quick trial 1 cannot start trial 2 before trial 0 is
        // told, so it has nothing of its own while trial 0 runs (and nothing after trial 2).
        let sweep = Sweep::builder(space)
            .sampler(SamplerKind::Random)
            .jobs(2)
            .max_concurrent(2)
            .build()
            .unwrap();
        let threads = Mutex::new(Vec::new());
        let r = sweep
            .optimize(
                |t: &mut Trial| {
                    if t.id() % 2 == 1 {
                        return t.float("x");
                    }
                    let seen: HashSet<String> = (0..8)
                        .into_par_iter()
                        .with_max_len(1)
                        .map(|_| {
                            std::thread::sleep(Duration::from_millis(40));
                            std::thread::current().name().unwrap_or("").to_string()
                        })
                        .collect();
                    threads.lock().unwrap().push((t.id(), seen.len()));
                    t.float("x")
                },
                Limits {
                    max_trials: Some(3),
                    ..Limits::default()
                },
            )
            .unwrap();
        assert_eq!(r.count(TrialState::Completed), 3);
        let mut threads = threads.into_inner().unwrap();
        threads.sort();
        assert_eq!(
            threads,
            [(0, 2), (2, 2)],
            "each long trial's jobs ran on both workers"
        );
    }
}
