//! `automl sweep`: tune any program's hyperparameters from a sweep spec, then print the
//! leaderboard and summary (or a JSON summary).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use clap::Args;
use indicatif::ProgressBar;
use serde_json::json;

use automl::command::Tracker;
use automl::job::SweepJob;
use automl::model::write_atomic;
use automl::store::TrialState;
use automl::sweep::{Goal, Sweep, TrialRecord};
use automl::tracking::SweepTracker;
use automl::{Error, Result};

use super::flags::{worker_id, DistributeArgs, OutputArgs, ShareArgs, WorkspaceArgs};
use super::output::{grid, print_json, progress_bar, warn};

/// `automl sweep --help`'s closing text.
pub const SWEEP_HELP: &str = "\
The program reports metrics by printing JSON lines on standard output:
  {\"automl_metric\": \"val_loss\", \"value\": 0.31, \"step\": 4}
Other lines pass through to the trial's stdout.log. A program may log through MLflow instead
(mlflow.log_metric / log_param / set_tag / log_artifact, autolog): each trial gets
MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN, MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID of a loopback
endpoint of the sweep, and what it logs lands on its trial (needs the workspace: not with
--no-store). Each trial gets its parameters in the
command's ${{search_space.NAME}} placeholders (one argument each, never through a shell), and in
the environment: AUTOML_TRIAL_ID, AUTOML_PARAMS (JSON), AUTOML_PARAM_<NAME>.

Example:
  automl sweep examples/sweep/quadratic.toml";

/// The flags of `automl sweep`.
#[derive(Args)]
#[command(mut_arg("workspace", |a| a.help(
    "Workspace recording the sweep (default: $AUTOML_WORKSPACE, else ./automl-workspace)"
)))]
pub struct SweepArgs {
    /// Sweep spec: our TOML (command, search_space, objective, sampling, early_termination,
    /// limits) or an Azure ML sweep-job YAML (.yml/.yaml).
    #[arg(required_unless_present = "resume")]
    spec: Option<PathBuf>,
    #[command(flatten)]
    ws: WorkspaceArgs,
    /// Experiment name (default: the Azure job's experiment_name, else the spec file's name
    /// without extension).
    #[arg(long, value_name = "NAME")]
    experiment: Option<String>,
    /// Do not record the sweep in a workspace.
    #[arg(long, conflicts_with_all = ["workspace", "experiment", "resume"])]
    no_store: bool,
    /// Continue an interrupted sweep of the workspace: finished trials are kept (and replayed by
    /// the sampler), trials killed by the interruption run again.
    #[arg(long, value_name = "RUN")]
    resume: Option<i64>,
    /// Folder for each trial's stdout.log / stderr.log (default: automl-sweep next to the spec).
    #[arg(long, value_name = "DIR")]
    artifacts: Option<PathBuf>,
    /// Worker threads starting trials (default: max_concurrent_trials).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Leaderboard rows to print.
    #[arg(long, default_value_t = 10, value_name = "N")]
    top: usize,
    /// Write a self-contained HTML report of the sweep to FILE (needs the workspace).
    #[arg(long, value_name = "FILE", conflicts_with = "no_store")]
    report: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    dist: DistributeArgs,
}

impl SweepArgs {
    /// The arguments with which worker `worker` takes part in sweep run `run`.
    pub fn for_worker(
        ws: WorkspaceArgs,
        run: i64,
        worker: &str,
        jobs: Option<usize>,
        share: ShareArgs,
    ) -> SweepArgs {
        SweepArgs {
            spec: None,
            ws,
            experiment: None,
            no_store: false,
            resume: Some(run),
            artifacts: None,
            jobs,
            top: 10,
            report: None,
            output: OutputArgs {
                quiet: true,
                format: super::flags::JsonArgs { json: false },
            },
            dist: DistributeArgs {
                workers_only: false,
                share,
                worker: Some(worker.to_string()),
            },
        }
    }
}

/// Progress of a sweep: trials done, running, pruned, failed, best value.
struct SweepProgress {
    bar: ProgressBar,
    goal: Goal,
    counts: Mutex<(usize, usize, usize, usize, Option<f64>)>,
}

impl automl::sweep::Monitor for SweepProgress {
    fn started(&self, _id: usize, _p: &automl::space::Params) {
        if let Ok(mut c) = self.counts.lock() {
            c.1 += 1;
        }
    }
    fn finished(&self, r: &TrialRecord) {
        if let Ok(mut c) = self.counts.lock() {
            c.0 += 1;
            c.1 = c.1.saturating_sub(1);
            match r.state {
                TrialState::Pruned => c.2 += 1,
                TrialState::Failed | TrialState::TimedOut | TrialState::Killed => c.3 += 1,
                TrialState::Completed | TrialState::Queued | TrialState::Running => {}
            }
            if r.state == TrialState::Completed {
                if let Some(v) = r.value {
                    let better = match self.goal {
                        Goal::Maximize => c.4.is_none_or(|b| v > b),
                        Goal::Minimize => c.4.is_none_or(|b| v < b),
                    };
                    if better {
                        c.4 = Some(v);
                    }
                }
            }
            let best = c.4.map_or("-".into(), |b| format!("{b:.6}"));
            self.bar.set_message(format!(
                "running {}, pruned {}, failed/timed out {}, best {best}",
                c.1, c.2, c.3
            ));
        }
        self.bar.inc(1);
    }
}

/// `automl sweep`.
pub fn sweep(a: SweepArgs) -> Result<()> {
    let json = a.output.json();
    let workspace = if a.no_store { None } else { Some(a.ws.open()?) };
    // The spec: given, or the one a resumed run was started with.
    let (spec, resume) = match (a.resume, &workspace) {
        (Some(id), Some(ws)) => {
            let (recorded, experiment) = automl::job::resumed_spec(ws.store.as_ref(), id)?;
            (a.spec.clone().unwrap_or(recorded), Some((id, experiment)))
        }
        (Some(id), None) => {
            return Err(Error::Config(format!(
                "cannot resume run {id} without a workspace"
            )))
        }
        (None, _) => (a.spec.clone().unwrap_or_default(), None),
    };
    let spec = std::fs::canonicalize(&spec)
        .map_err(|e| Error::Config(format!("cannot read sweep spec {}: {e}", spec.display())))?;
    let job = SweepJob::load(&spec)?;
    if !job.ignored.is_empty() && !json {
        eprintln!(
            "note: cloud-only fields read and ignored: {}",
            job.ignored.join(", ")
        );
    }
    let goal_name = if job.goal == Goal::Maximize {
        "maximize"
    } else {
        "minimize"
    };
    // Parent run and the study of its trials (a resumed sweep's finished trials are kept), and
    // where logs go.
    let default_logs = || {
        spec.parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
            .join("automl-sweep")
    };
    let recorded = match &workspace {
        Some(ws) => {
            let experiment = match &resume {
                Some((_, exp)) => exp.clone(),
                None => a
                    .experiment
                    .clone()
                    .or_else(|| job.experiment.clone())
                    .unwrap_or_else(|| {
                        spec.file_stem()
                            .map_or("sweep".into(), |s| s.to_string_lossy().to_string())
                    }),
            };
            let logs = |id| match &a.artifacts {
                Some(d) => Ok(d.clone()),
                None => ws.artifact_dir(id),
            };
            let sharing = if ws.store.keeps_blobs() || a.dist.workers_only || a.dist.worker.is_some() {
                let worker = a.dist.worker.clone().unwrap_or_else(worker_id);
                Some(a.dist.share.sharing(ws, worker)?)
            } else {
                None
            };
            let run = automl::job::open_run(
                ws.store.clone(),
                &job,
                &spec,
                &experiment,
                resume.as_ref().map(|r| r.0),
                logs,
                sharing.clone(),
            )?;
            if a.dist.workers_only {
                let at = automl::store::postgres::redact(&a.ws.root().to_string_lossy());
                let command = format!("automl worker --workspace {at} --run {}", run.id);
                if json {
                    print_json(&json!({"run_id": run.id, "workspace": at, "worker_command": command}))?;
                } else {
                    println!(
                        "recorded sweep run {} for workers; start them with:\n  {command}",
                        run.id
                    );
                }
                return Ok(());
            }
            if let (Some(note), false) = (&run.note, json) {
                eprintln!("{note}");
            }
            Some((run, sharing))
        }
        None => None,
    };
    let (recorded, sharing) = match recorded {
        Some((r, s)) => (Some(r), s),
        None => (None, None),
    };
    let run_id = recorded.as_ref().map(|r| r.id);
    let dir = match (&recorded, &a.artifacts) {
        (Some(r), _) => r.logs.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => default_logs(),
    };
    let mut builder = Sweep::builder(job.space.clone())
        .goal(job.goal)
        .sampler(job.sampler)
        .policy(job.policy.clone())
        .seed(job.seed)
        .max_concurrent(job.max_concurrent)
        .jobs(a.jobs.unwrap_or(job.max_concurrent));
    if let Some(r) = &recorded {
        builder = builder.store(r.study.clone());
    }
    let sweep = builder.build()?;
    // Ctrl-C: no new trials; running ones are stopped (their process groups killed) and recorded
    // as cancelled; the run is marked killed and can be resumed.
    let cancel = sweep.cancel_flag();
    let _ = ctrlc::set_handler(move || cancel.store(true, std::sync::atomic::Ordering::SeqCst));
    let progress = SweepProgress {
        bar: progress_bar(a.output.silent(), job.limits.max_trials),
        goal: job.goal,
        counts: Mutex::new((0, 0, 0, 0, None)),
    };
    // What a trial's program logs through MLflow lands on its trial: a loopback tracking endpoint
    // for the sweep's running trials.
    let tracker = match (&workspace, &recorded) {
        (Some(ws), Some(r)) => Some(SweepTracker::start(
            ws.store.clone(),
            ws.root.clone(),
            r.study.clone(),
            &job.command.primary_metric,
        )?),
        _ => None,
    };
    let command = &job.command;
    let objective = |t: &mut automl::sweep::Trial| {
        let dir = dir.join(format!("trial-{}", t.id()));
        command.run_tracked(t, &dir, tracker.as_ref().map(|x| x as &dyn Tracker))
    };
    let mut limits = job.limits;
    if let (Some(t), Some(_), Some(ws), Some(id)) = (limits.time, &sharing, &workspace, run_id) {
        // Every worker's budget runs from the sweep's start.
        let elapsed = automl::store::now() - ws.store.run(id)?.started;
        limits.time = Some(t.saturating_sub(std::time::Duration::from_secs_f64(elapsed.max(0.0))));
    }
    // Beats until the sweep's end is recorded (this worker may hold it).
    let _beat = automl::store::heartbeat::Heartbeat::start(sharing.as_ref());
    let mut out = sweep.optimize_with(objective, limits, &progress)?;
    if let (Some(sh), Some(id), Some(r)) = (&sharing, run_id, &recorded) {
        // A cancelled worker hands its trials back and leaves the sweep to the others; exactly
        // one worker records the sweep's end, once every trial any worker started is finished.
        if out.cancelled || !sh.claim_end(id)? {
            progress.bar.finish_and_clear();
            if !a.output.silent() {
                eprintln!("sweep run {id}: this worker's trials are done; another worker finishes the run");
            }
            return Ok(());
        }
        use automl::sweep::TrialStore;
        out.trials = r.study.trials()?;
    }
    if let Some(e) = &out.store_error {
        warn(
            a.output.silent(),
            &format!("some trials could not be recorded: {e}"),
        );
    }
    if let (Some(ws), Some(id)) = (&workspace, run_id) {
        automl::job::finish_run(ws.store.as_ref(), id, &out, &job.command.primary_metric)?;
        if let Some(sh) = &sharing {
            ws.store
                .set_tags(id, &[(automl::store::keys::DISTRIBUTED, "closed")])?;
            sh.claims.close_claim(id, -1, &sh.worker)?;
        }
    }
    progress.bar.finish_and_clear();
    if let (Some(path), Some(ws), Some(id)) = (&a.report, &workspace, run_id) {
        let html = automl::report::Report::load(ws.store.as_ref(), &id.to_string(), Some(ws))?.html();
        write_atomic(path, html.as_bytes())?;
        if !a.output.silent() {
            eprintln!("report written to {}", path.display());
        }
    }
    let mut order: Vec<&TrialRecord> = out.ranked();
    order.extend(
        out.trials
            .iter()
            .map(|t| &**t)
            .filter(|t| t.state != TrialState::Completed),
    );
    if json {
        print_json(&json!({
            "spec": spec,
            "run_id": run_id,
            "cancelled": out.cancelled,
            "ignored": job.ignored,
            "goal": goal_name,
            "primary_metric": job.command.primary_metric,
            "sampler": job.sampler.name(),
            "early_termination": job.policy.describe(),
            "trials": out.trials.len(),
            "completed": out.count(TrialState::Completed),
            "pruned": out.count(TrialState::Pruned),
            "failed": out.count(TrialState::Failed),
            "timed_out": out.count(TrialState::TimedOut),
            "secs": out.secs,
            "best": out.best().map(|b| json!({"trial": b.id, "value": b.value, "params": b.params})),
            "leaderboard": order.iter().map(|t| json!({
                "trial": t.id, "status": t.state.name(), "value": t.value, "params": t.params,
                "steps": t.steps.len(), "secs": t.secs, "error": t.error,
            })).collect::<Vec<_>>(),
            "artifacts": dir,
        }))?;
    } else {
        let mut t = grid(&[
            "rank",
            "trial",
            "status",
            &job.command.primary_metric,
            "steps",
            "secs",
            "params",
        ]);
        for (i, r) in order.iter().take(a.top).enumerate() {
            t.add_row(vec![
                if r.state == TrialState::Completed {
                    (i + 1).to_string()
                } else {
                    "-".into()
                },
                r.id.to_string(),
                r.state.name().to_string(),
                r.value.map_or("-".into(), |v| format!("{v:.6}")),
                r.steps.len().to_string(),
                format!("{:.2}", r.secs),
                r.params.short(),
            ]);
        }
        println!("{t}");
        println!(
            "{} trials in {:.1}s: {} completed, {} pruned, {} failed, {} timed out, {} cancelled (sampler {}, early termination {}); logs in {}",
            out.trials.len(),
            out.secs,
            out.count(TrialState::Completed),
            out.count(TrialState::Pruned),
            out.count(TrialState::Failed),
            out.count(TrialState::TimedOut),
            out.count(TrialState::Killed),
            job.sampler.name(),
            job.policy.describe(),
            dir.display()
        );
        if let Some(f) = out.trials.iter().find(|t| t.state == TrialState::Failed) {
            // The whole error: a program's failure ends with the last lines of its stderr (the
            // traceback of a script that crashed on import, say).
            let error = f.error.as_deref().unwrap_or("");
            let mut lines = error.lines();
            println!("  trial {} failed: {}", f.id, lines.next().unwrap_or(""));
            for l in lines {
                println!("    {l}");
            }
        }
        match out.best() {
            Some(b) => println!(
                "best: trial {} {} = {:.6} with {}",
                b.id,
                job.command.primary_metric,
                b.value.unwrap_or(f64::NAN),
                b.params.short()
            ),
            None => println!("no trial completed"),
        }
    }
    if out.cancelled {
        let hint = run_id.map_or(String::new(), |id| {
            format!("; resume with: automl sweep --resume {id}")
        });
        return Err(Error::Config(format!("the sweep was interrupted{hint}")));
    }
    if out.best().is_none() {
        return Err(Error::NoModel(format!(
            "none of {} trial(s) completed",
            out.trials.len()
        )));
    }
    Ok(())
}
