//! The trial store: the one shared state of a sweep (Optuna's storage seam). The sweep writes
//! every trial through it (started, then finished with its record) and reads back what it tells
//! the sampler and what the early-termination policy compares with. A store that already holds
//! finished trials (a resumed study) makes the sweep continue where it stopped: those trials are
//! replayed to the sampler in id order and not run again.
//!
//! [`MemoryStore`] keeps trials in memory; `crate::store::RunStudy` keeps them as the child runs
//! of a workspace run (SQLite today), so a killed run resumes by opening its study again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::param::Params;

use super::TrialRecord;

/// Who runs a trial of a study shared by several processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// This process (the first claim, or one taken over from a lost worker).
    Mine,
    /// Another process runs it, or it is finished: wait for it to appear in the store.
    Elsewhere,
}

/// Where a sweep's trials live.
pub trait TrialStore: Send + Sync {
    /// Ids of the trials that finished before this sweep opened the store (a resumed study).
    fn finished_ids(&self) -> Result<BTreeSet<usize>>;
    /// Trial `id` starts with `params` (recorded as running, so an interruption leaves it visible).
    fn start(&self, id: usize, params: &Params) -> Result<()>;
    /// Trial `id` reported `value` at `step` while running. Stores that keep steps live (see
    /// [`TrialStore::keeps_steps_live`]) write it now, so a running trial's progress is visible;
    /// [`TrialStore::finish`] then writes only what was not written live.
    fn report(&self, id: usize, step: i64, value: f64) -> Result<()> {
        let _ = (id, step, value);
        Ok(())
    }
    /// Whether [`TrialStore::report`] writes anything (the sweep skips the calls otherwise).
    fn keeps_steps_live(&self) -> bool {
        false
    }
    /// Whether other processes run trials of this study too: the sweep then claims each trial
    /// before running it ([`TrialStore::claim`]) and polls the store for the others' trials.
    fn shared(&self) -> bool {
        false
    }
    /// Claim trial `id` for this process (always [`Ownership::Mine`] unless shared).
    fn claim(&self, id: usize) -> Result<Ownership> {
        let _ = id;
        Ok(Ownership::Mine)
    }
    /// A trial ended: its record (state, value, steps, metrics), written in one transaction.
    fn finish(&self, record: &Arc<TrialRecord>) -> Result<()>;
    /// The finished trial `id`, as stored; `None` when it has not finished.
    fn trial(&self, id: usize) -> Result<Option<Arc<TrialRecord>>>;
    /// Every finished trial, in id order.
    fn trials(&self) -> Result<Vec<Arc<TrialRecord>>>;
}

/// A store in memory (the default): trials last as long as the sweep.
#[derive(Debug, Default)]
pub struct MemoryStore {
    finished: Mutex<BTreeMap<usize, Arc<TrialRecord>>>,
}

impl MemoryStore {
    /// A store holding `records` already (as if finished in an earlier session).
    pub fn with(records: impl IntoIterator<Item = TrialRecord>) -> MemoryStore {
        MemoryStore {
            finished: Mutex::new(records.into_iter().map(|r| (r.id, Arc::new(r))).collect()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<usize, Arc<TrialRecord>>> {
        self.finished.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TrialStore for MemoryStore {
    fn finished_ids(&self) -> Result<BTreeSet<usize>> {
        Ok(self.lock().keys().copied().collect())
    }

    fn start(&self, _: usize, _: &Params) -> Result<()> {
        Ok(())
    }

    fn finish(&self, record: &Arc<TrialRecord>) -> Result<()> {
        self.lock().insert(record.id, record.clone());
        Ok(())
    }

    fn trial(&self, id: usize) -> Result<Option<Arc<TrialRecord>>> {
        Ok(self.lock().get(&id).cloned())
    }

    fn trials(&self) -> Result<Vec<Arc<TrialRecord>>> {
        Ok(self.lock().values().cloned().collect())
    }
}
