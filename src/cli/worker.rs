//! `automl worker`: take trials of the open distributed runs of a workspace until none is left.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Args;

use automl::store::{keys, RunFilter, TrialState};
use automl::{Error, Result};

use super::flags::{worker_id, ShareArgs, WorkspaceArgs};

/// `automl worker --help`'s closing text.
pub const WORKER_HELP: &str = "\
How it works:
  A worker joins the open runs of a workspace (started by `automl run --workers-only`, or by a
  plain `automl run` on a PostgreSQL workspace, which takes part as one worker itself). It reads
  the run's settings and training data from the workspace (cached by content hash), claims trial
  ids one at a time, and runs them. Trial i's configuration depends only on the seed and trials
  0..=i-W, so any number of workers give the same trials and leaderboard as one process.
  Each worker sends a heartbeat every --heartbeat seconds; a trial whose worker missed two
  heartbeats runs again on another worker (up to --retries times). When no trial is left, the
  worker that claims the end of the run refits and saves the best model (and registers it when
  the run asked for it); the others move on. A worker exits after --wait seconds without an open
  run.

Examples:
  automl run train.csv --target y --max-trials 200 --workspace postgres://u@db/automl --workers-only
  automl worker --workspace postgres://u@db/automl --jobs 4        # on each machine
  automl runs show 1                                               # lists the workers";

/// The flags of `automl worker`.
#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    ws: WorkspaceArgs,
    /// Only take trials of this run.
    #[arg(long, value_name = "RUN")]
    run: Option<i64>,
    /// Trials this worker runs in parallel (default: the run's own --jobs, else all cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Seconds to wait for an open run before exiting (0: exit at once when none is open).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    wait: f64,
    /// Devices this worker offers, comma-separated: cpu, cuda:0, ... A CUDA device takes the
    /// GPU-suited trials (mlp) of automl runs beside the --jobs CPU trials; it needs the GPU
    /// build and must exist here (checked at start). Program sweeps run on the CPU slots.
    #[arg(long, default_value = "cpu", value_name = "LIST")]
    devices: String,
    #[command(flatten)]
    share: ShareArgs,
}

/// `automl worker`.
pub fn worker(a: WorkerArgs) -> Result<()> {
    // A device this machine lacks fails the worker now, not each run it joins.
    automl::device::Slots::open(&automl::device::parse_list(&a.devices)?)?;
    if !(a.wait.is_finite() && a.wait >= 0.0) {
        return Err(Error::Config(format!(
            "--wait must be a number of seconds >= 0, got {}",
            a.wait
        )));
    }
    let ws = a.ws.open()?;
    let id = worker_id();
    eprintln!("worker {id} on {}", ws.location);
    // Runs joined, and when: one still open later (its finishing worker was lost) is joined again.
    let mut seen: BTreeMap<i64, Instant> = BTreeMap::new();
    let rejoin = Duration::from_secs_f64(6.0 * a.share.heartbeat.max(0.05));
    let mut failed = 0usize;
    let mut idle = Instant::now();
    loop {
        let open: Vec<_> = ws
            .store
            .runs(&RunFilter {
                status: Some(TrialState::Running),
                ..RunFilter::default()
            })?
            .into_iter()
            .filter(|r| r.tags.get(keys::DISTRIBUTED).and_then(|v| v.as_str()) == Some("open"))
            .filter(|r| a.run.is_none_or(|x| x == r.id))
            .filter(|r| seen.get(&r.id).is_none_or(|t| t.elapsed() >= rejoin))
            .collect();
        let Some(run) = open.into_iter().next() else {
            if idle.elapsed().as_secs_f64() >= a.wait {
                eprintln!("worker {id}: no open run; done");
                return match failed {
                    0 => Ok(()),
                    n => Err(Error::Config(format!(
                        "{n} run(s) failed on worker {id} (see above)"
                    ))),
                };
            }
            std::thread::sleep(Duration::from_millis(500));
            continue;
        };
        seen.insert(run.id, Instant::now());
        eprintln!("worker {id}: joining run {} ({})", run.id, run.experiment);
        let sweep = run.params.get(keys::KIND).and_then(|v| v.as_str()) == Some(keys::KIND_SWEEP);
        let result = if sweep {
            let args =
                super::sweep::SweepArgs::for_worker(a.ws.clone(), run.id, &id, a.jobs, a.share.clone());
            super::sweep::sweep(args)
        } else {
            super::run::worker_args(&ws, a.ws.clone(), &run, &id, a.jobs, &a.devices, a.share.clone())
                .and_then(super::run::run)
        };
        match result {
            Ok(()) => eprintln!("worker {id}: run {} done", run.id),
            // One run's failure does not stop the worker: it is recorded on the run.
            Err(e) => {
                failed += 1;
                eprintln!("error: worker {id}: run {}: {e}", run.id);
            }
        }
        idle = Instant::now();
    }
}
