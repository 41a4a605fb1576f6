//! Trials shared by many processes: each trial id of a run is claimed by exactly one worker at a
//! time (a row of `claims`, inserted or taken over inside one write transaction), kept alive by
//! heartbeats, and completed in the same transaction that checks the claim is still held, so a
//! trial id is never completed twice. A claim whose heartbeat is older than the grace period
//! belongs to a lost worker: the next worker to look takes it over (up to a retry limit), and the
//! lost attempt's child run is marked killed.

use serde::{Deserialize, Serialize};

use super::sql::{args, Dialect, Tx};
use super::{MetricPoint, RunId, SqlStore, TrialState};
use crate::error::Result;

/// How a claim of one trial went.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This worker runs the trial (attempt 1, or a later one after a lost worker).
    Mine {
        /// 1 for the first attempt.
        attempt: i64,
    },
    /// Another live worker runs it.
    Taken,
    /// It is finished.
    Done,
}

/// A worker taking part in runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Unique id (`host:pid:random`).
    pub id: String,
    /// The run it works on, if any.
    pub run: Option<RunId>,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: i64,
    /// Devices it offers (`cpu`, `cuda:0`, …).
    pub devices: String,
    /// When it joined.
    pub started: f64,
    /// Its last heartbeat.
    pub heartbeat: f64,
    /// Trials it completed.
    pub trials: i64,
}

/// This machine's name.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// How a claimed trial ended: its metric points, end state and error text.
#[derive(Debug, Clone, Copy)]
pub struct Ending<'a> {
    /// Metric points to log.
    pub points: &'a [MetricPoint],
    /// End state.
    pub status: TrialState,
    /// Error text of a failed trial.
    pub error: Option<&'a str>,
}

/// Claims of trials and the workers that hold them.
pub trait Claims: Send + Sync {
    /// Claim trial `trial` of run `run` for `worker`. A claim whose heartbeat is older than
    /// `grace` seconds is taken over when it has had fewer than `attempts` attempts; past that the
    /// trial is recorded as failed (its child run, if any) and reported [`Claim::Done`].
    fn claim_trial(&self, run: RunId, trial: i64, worker: &str, attempts: i64, grace: f64) -> Result<Claim>;
    /// Hand trial `trial` back (this worker stops without finishing it): the next worker to look
    /// takes it over at once.
    fn release_trial(&self, run: RunId, trial: i64, worker: &str) -> Result<()>;
    /// Mark a claim that holds no trial (the run's end, -1) done.
    fn close_claim(&self, run: RunId, trial: i64, worker: &str) -> Result<()>;
    /// Claims of `run`'s trials whose worker was lost (no heartbeat for `grace` seconds) are
    /// recorded failed, with their child runs, so the run can end without them. Returns how many.
    fn expire_lost(&self, run: RunId, grace: f64) -> Result<usize>;
    /// Record the child run of the claimed trial.
    fn set_claim_child(&self, run: RunId, trial: i64, worker: &str, child: RunId) -> Result<()>;
    /// Complete the claimed trial's child run (metrics, end state) and the claim in one
    /// transaction; `false` (and nothing written) when `worker` no longer holds the claim.
    fn complete_claimed(
        &self,
        run: RunId,
        trial: i64,
        worker: &str,
        child: RunId,
        end: Ending<'_>,
    ) -> Result<bool>;
    /// The claim of trial `trial` of `run`, if any: its state (`running`, `done`, `failed`) and
    /// the child run of its latest attempt.
    fn claim_status(&self, run: RunId, trial: i64) -> Result<Option<(String, Option<RunId>)>>;
    /// Whether any trial of `run` is claimed and not finished.
    fn open_claims(&self, run: RunId) -> Result<i64>;
    /// Refresh the heartbeat of `worker` and of every claim it holds.
    fn heartbeat(&self, worker: &str) -> Result<()>;
    /// Register (or update) a worker.
    fn join_worker(&self, w: &WorkerInfo) -> Result<()>;
    /// The workers that took part in `run`.
    fn workers(&self, run: RunId) -> Result<Vec<WorkerInfo>>;
}

/// Seconds since the Unix epoch by the database server's clock (one clock for every worker, so
/// machines whose clocks disagree do not see each other's heartbeats as stale).
fn server_now(tx: &mut dyn Tx, dialect: Dialect) -> Result<f64> {
    let sql = match dialect {
        Dialect::Postgres => "SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8",
        Dialect::Sqlite => "SELECT (julianday('now') - 2440587.5) * 86400.0",
    };
    tx.one(sql, &[])
}

/// Give the claim of a lost worker to `worker` (attempt `attempt`), marking the lost attempt's
/// child run killed.
fn take_over(
    tx: &mut dyn Tx,
    claim: (RunId, i64),
    worker: &str,
    attempt: i64,
    old_child: Option<i64>,
    t: f64,
) -> Result<()> {
    let (run, trial) = claim;
    if let Some(c) = old_child {
        tx.exec(
            "UPDATE runs SET status = 'killed', ended = ?1, error = 'its worker was lost (no heartbeat); the trial runs again'
             WHERE id = ?2 AND status = 'running'",
            args![t, c],
        )?;
    }
    tx.exec(
        "UPDATE claims SET worker = ?1, attempt = ?2, state = 'running', heartbeat = ?3, child = NULL
         WHERE run_id = ?4 AND trial = ?5",
        args![worker, attempt, t, run, trial],
    )
    .map(drop)
}

impl Claims for SqlStore {
    fn claim_trial(&self, run: RunId, trial: i64, worker: &str, attempts: i64, grace: f64) -> Result<Claim> {
        let dialect = self.db.dialect();
        self.write(|tx| {
            let t = server_now(tx, dialect)?;
            let row = tx.query(
                "SELECT worker, attempt, state, heartbeat, child FROM claims WHERE run_id = ?1 AND trial = ?2",
                args![run, trial],
            )?;
            let Some(r) = row.first() else {
                tx.exec(
                    "INSERT INTO claims (run_id, trial, worker, attempt, state, heartbeat)
                     VALUES (?1, ?2, ?3, 1, 'running', ?4)",
                    args![run, trial, worker, t],
                )?;
                return Ok(Claim::Mine { attempt: 1 });
            };
            let (holder, attempt, state, beat, child): (String, i64, String, f64, Option<i64>) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            if state != "running" {
                return Ok(Claim::Done);
            }
            if holder == worker {
                return Ok(Claim::Mine { attempt });
            }
            if t - beat <= grace {
                return Ok(Claim::Taken);
            }
            // A lost attempt that never started its child run did no work: it does not count.
            if attempt < attempts || child.is_none() {
                take_over(tx, (run, trial), worker, attempt + 1, child, t)?;
                return Ok(Claim::Mine { attempt: attempt + 1 });
            }
            // Out of attempts: the trial ends failed, for every worker.
            if let Some(c) = child {
                tx.exec(
                    "UPDATE runs SET status = 'failed', ended = ?1, error = ?2 WHERE id = ?3 AND status = 'running'",
                    args![t, format!("its worker was lost {attempt} time(s); not retried"), c],
                )?;
            }
            tx.exec(
                "UPDATE claims SET state = 'failed' WHERE run_id = ?1 AND trial = ?2",
                args![run, trial],
            )?;
            Ok(Claim::Done)
        })
    }

    fn release_trial(&self, run: RunId, trial: i64, worker: &str) -> Result<()> {
        self.write(|tx| {
            tx.exec(
                "UPDATE claims SET heartbeat = 0 WHERE run_id = ?1 AND trial = ?2 AND worker = ?3
                   AND state = 'running'",
                args![run, trial, worker],
            )
            .map(drop)
        })
    }

    fn close_claim(&self, run: RunId, trial: i64, worker: &str) -> Result<()> {
        self.write(|tx| {
            tx.exec(
                "UPDATE claims SET state = 'done' WHERE run_id = ?1 AND trial = ?2 AND worker = ?3",
                args![run, trial, worker],
            )
            .map(drop)
        })
    }

    fn expire_lost(&self, run: RunId, grace: f64) -> Result<usize> {
        let dialect = self.db.dialect();
        self.write(|tx| {
            let t = server_now(tx, dialect)?;
            let lost = tx.query(
                "SELECT trial, child FROM claims WHERE run_id = ?1 AND state = 'running' AND trial >= 0
                   AND heartbeat < ?2",
                args![run, t - grace],
            )?;
            for r in &lost {
                let (trial, child): (i64, Option<i64>) = (r.get(0)?, r.get(1)?);
                if let Some(c) = child {
                    tx.exec(
                        "UPDATE runs SET status = 'failed', ended = ?1,
                                error = 'its worker was lost after the search ended'
                         WHERE id = ?2 AND status = 'running'",
                        args![t, c],
                    )?;
                }
                tx.exec(
                    "UPDATE claims SET state = 'failed' WHERE run_id = ?1 AND trial = ?2",
                    args![run, trial],
                )?;
            }
            Ok(lost.len())
        })
    }

    fn set_claim_child(&self, run: RunId, trial: i64, worker: &str, child: RunId) -> Result<()> {
        self.write(|tx| {
            tx.exec(
                "UPDATE claims SET child = ?1 WHERE run_id = ?2 AND trial = ?3 AND worker = ?4",
                args![child, run, trial, worker],
            )
            .map(drop)
        })
    }

    fn complete_claimed(
        &self,
        run: RunId,
        trial: i64,
        worker: &str,
        child: RunId,
        end: Ending<'_>,
    ) -> Result<bool> {
        self.write(|tx| {
            let held = tx.exec(
                "UPDATE claims SET state = 'done'
                 WHERE run_id = ?1 AND trial = ?2 AND worker = ?3 AND state = 'running'",
                args![run, trial, worker],
            )?;
            if held == 0 {
                return Ok(false);
            }
            super::runs::insert_metrics(tx, child, end.points)?;
            super::runs::finish(tx, child, end.status, end.error)?;
            tx.exec(
                "UPDATE workers SET trials = trials + 1 WHERE id = ?1",
                args![worker],
            )?;
            Ok(true)
        })
    }

    fn claim_status(&self, run: RunId, trial: i64) -> Result<Option<(String, Option<RunId>)>> {
        let rows = self.read(|tx| {
            tx.query(
                "SELECT state, child FROM claims WHERE run_id = ?1 AND trial = ?2",
                args![run, trial],
            )
        })?;
        match rows.first() {
            Some(r) => Ok(Some((r.get(0)?, r.get(1)?))),
            None => Ok(None),
        }
    }

    fn open_claims(&self, run: RunId) -> Result<i64> {
        self.read(|tx| {
            tx.one(
                "SELECT COUNT(*) FROM claims WHERE run_id = ?1 AND state = 'running' AND trial >= 0",
                args![run],
            )
        })
    }

    fn heartbeat(&self, worker: &str) -> Result<()> {
        let dialect = self.db.dialect();
        self.write(|tx| {
            let t = server_now(tx, dialect)?;
            tx.exec(
                "UPDATE claims SET heartbeat = ?1 WHERE worker = ?2 AND state = 'running'",
                args![t, worker],
            )?;
            tx.exec(
                "UPDATE workers SET heartbeat = ?1 WHERE id = ?2",
                args![t, worker],
            )
            .map(drop)
        })
    }

    fn join_worker(&self, w: &WorkerInfo) -> Result<()> {
        self.write(|tx| {
            tx.exec(
                "INSERT INTO workers (id, run_id, host, pid, devices, started, heartbeat, trials)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, heartbeat = excluded.heartbeat",
                args![
                    &w.id,
                    w.run,
                    &w.host,
                    w.pid,
                    &w.devices,
                    w.started,
                    w.heartbeat,
                    w.trials
                ],
            )
            .map(drop)
        })
    }

    fn workers(&self, run: RunId) -> Result<Vec<WorkerInfo>> {
        let rows = self.read(|tx| {
            tx.query(
                "SELECT id, run_id, host, pid, devices, started, heartbeat, trials FROM workers
                 WHERE run_id = ?1 ORDER BY started, id",
                args![run],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(WorkerInfo {
                    id: r.get(0)?,
                    run: r.get(1)?,
                    host: r.get(2)?,
                    pid: r.get(3)?,
                    devices: r.get(4)?,
                    started: r.get(5)?,
                    heartbeat: r.get(6)?,
                    trials: r.get(7)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{now, NewRun, Store};

    fn trial_run(s: &SqlStore, run: RunId, trial: i64) -> RunId {
        s.create_run(&NewRun {
            experiment: "e".into(),
            parent: Some(run),
            name: format!("trial {trial}"),
            ..NewRun::default()
        })
        .unwrap()
    }

    fn done(points: &[MetricPoint]) -> Ending<'_> {
        Ending {
            points,
            status: TrialState::Completed,
            error: None,
        }
    }

    fn claims_are_exclusive_and_lost_workers_are_replaced(s: SqlStore) {
        let run = s
            .create_run(&NewRun {
                experiment: "e".into(),
                name: "r".into(),
                ..NewRun::default()
            })
            .unwrap();
        assert_eq!(
            s.claim_trial(run, 0, "a", 3, 60.0).unwrap(),
            Claim::Mine { attempt: 1 }
        );
        assert_eq!(s.claim_trial(run, 0, "b", 3, 60.0).unwrap(), Claim::Taken);
        assert_eq!(
            s.claim_trial(run, 0, "a", 3, 60.0).unwrap(),
            Claim::Mine { attempt: 1 }
        );
        let child = trial_run(&s, run, 0);
        s.set_claim_child(run, 0, "a", child).unwrap();
        assert_eq!(s.open_claims(run).unwrap(), 1);
        // Worker a goes silent: with a grace of 0 s, b takes over and a's child run is killed.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            s.claim_trial(run, 0, "b", 3, 0.0).unwrap(),
            Claim::Mine { attempt: 2 }
        );
        assert_eq!(s.run(child).unwrap().status, TrialState::Killed);
        // a comes back: its result is refused, nothing written.
        let pts = [MetricPoint::now("r2", 0, 0.5)];
        assert!(!s.complete_claimed(run, 0, "a", child, done(&pts)).unwrap());
        let child2 = trial_run(&s, run, 0);
        s.set_claim_child(run, 0, "b", child2).unwrap();
        assert!(s.complete_claimed(run, 0, "b", child2, done(&pts)).unwrap());
        assert_eq!(s.run(child2).unwrap().status, TrialState::Completed);
        assert_eq!(s.claim_trial(run, 0, "c", 3, 0.0).unwrap(), Claim::Done);
        assert_eq!(s.open_claims(run).unwrap(), 0);
        // Out of attempts: the trial is failed for everyone.
        assert_eq!(
            s.claim_trial(run, 1, "a", 1, 0.0).unwrap(),
            Claim::Mine { attempt: 1 }
        );
        // An attempt lost before it started its child run did no work: taken over regardless.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            s.claim_trial(run, 1, "b", 1, 0.0).unwrap(),
            Claim::Mine { attempt: 2 }
        );
        let child1 = trial_run(&s, run, 1);
        s.set_claim_child(run, 1, "b", child1).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(s.claim_trial(run, 1, "c", 1, 0.0).unwrap(), Claim::Done);
        assert_eq!(s.run(child1).unwrap().status, TrialState::Failed);
        // A trial handed back is taken over at once, whatever the grace.
        assert_eq!(
            s.claim_trial(run, 2, "a", 3, 60.0).unwrap(),
            Claim::Mine { attempt: 1 }
        );
        s.release_trial(run, 2, "a").unwrap();
        assert_eq!(
            s.claim_trial(run, 2, "b", 3, 60.0).unwrap(),
            Claim::Mine { attempt: 2 }
        );
        // After the search: claims of lost workers are given up, so the run can end.
        assert_eq!(s.open_claims(run).unwrap(), 1);
        assert_eq!(s.expire_lost(run, 60.0).unwrap(), 0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(s.expire_lost(run, 0.0).unwrap(), 1);
        assert_eq!(s.open_claims(run).unwrap(), 0);
        // Workers and heartbeats.
        let w = WorkerInfo {
            id: "b".into(),
            run: Some(run),
            host: "h".into(),
            pid: 7,
            devices: "cpu".into(),
            started: now(),
            heartbeat: now(),
            trials: 0,
        };
        s.join_worker(&w).unwrap();
        s.heartbeat("b").unwrap();
        let ws = s.workers(run).unwrap();
        assert_eq!(ws.len(), 1);
        assert_eq!(ws[0].pid, 7);
    }
    crate::store::on_both_backends!(claims_are_exclusive_and_lost_workers_are_replaced);
}
