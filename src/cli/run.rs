//! `automl run`: search for the best pipeline on a training table, then print its leaderboard
//! and summary (or a JSON summary).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::{Args, Parser};
use serde_json::json;

use automl::automl::{self as library, Recording};
use automl::data::Task;
use automl::ensemble::{EnsembleKind, FinalFit};
use automl::job::{is_automl_job, AutoMLJob};
use automl::samplers::SamplerKind;
use automl::space::SpaceFile;
use automl::store::{Store, TrialState};
use automl::sweep::TrialRecord;
use automl::trials::PipelineTrial;
use automl::validation::Scheme;
use automl::{AutoML, Dataset, Error, Metric, Result};

use super::flags::{worker_id, DistributeArgs, JsonArgs, OutputArgs, PolicyArgs, ShareArgs, WorkspaceArgs};
use super::output::{print_json, progress_bar, warn};
use super::predict::{predict_file, score_test, score_test_table};
use super::{Cli, Command};

mod print;
use print::{print_leaderboard, print_run_json, print_summary};

/// `automl run --help`'s closing text, with the learner list from the registry.
pub fn run_help() -> String {
    RUN_HELP.replace("{LEARNERS}", &automl::learners::described())
}

const RUN_HELP: &str = "\
How it works:
  Column kinds and the task are inferred from TRAIN (a schema summary is printed). Each trial fits
  preprocessing (imputation, scaling, categorical encoding) plus one learner on validation splits:
  5-fold (stratified) cross-validation up to 10,000 rows, one 80/20 holdout above. Trials run in
  parallel until --time-budget or --max-trials; the best pipeline is refitted on all rows and saved.

Learners: {LEARNERS} (search spaces: search/*.toml).

Reproducibility: trial i's configuration depends only on --seed and i, so --seed S --max-trials N
  gives the same leaderboard on any number of --jobs.

Azure AutoML jobs: `automl run job.yml` runs an Azure ML v2 AutoML job file (type: automl) as is:
  task, primary_metric (Azure's names), target_column_name, training_data / test_data (files or
  MLTable folders), limits, training (allowed/blocked algorithms, vote/stack ensembles),
  featurization, experiment_name. Cloud-only fields are reported as ignored; flags given on the
  command line override the job's values.

Examples:
  automl run datasets/iris/train.csv --target species --time-budget 30
  automl run automl-job.yml --max-trials 20
  automl run train.csv --target price --metric rmse --test test.csv --predict new.csv --out pred.csv
  automl run train.csv --target churn --learners random_forest,logistic_regression --json";

/// The flags of `automl run`.
#[derive(Args)]
#[command(mut_arg("quiet", |a| a.help("No progress bar or schema summary")))]
#[command(mut_arg("workspace", |a| a.help(
    "Workspace folder recording the run (default: $AUTOML_WORKSPACE, else ./automl-workspace)"
)))]
pub struct RunArgs {
    /// Training data: a CSV (with header) or Parquet file, or an Azure AutoML job YAML
    /// (`type: automl`) naming its data, target and settings.
    train: Option<PathBuf>,
    /// Name of the column to predict (from the job for an AutoML job YAML).
    #[arg(long)]
    target: Option<String>,
    /// binary, multiclass or regression (default: inferred from the target column).
    #[arg(long)]
    task: Option<String>,
    /// Primary metric: accuracy, balanced_accuracy, log_loss, roc_auc, f1_macro, auc_weighted,
    /// average_precision_weighted, norm_macro_recall, precision_weighted (classification); r2,
    /// rmse, mae, spearman, nrmse, nmae (regression); Azure AutoML's names (AUC_weighted,
    /// r2_score, ...) are accepted too (default: roc_auc for binary, accuracy for multiclass, r2
    /// for regression).
    #[arg(long)]
    metric: Option<String>,
    /// Seconds from the command's start to the model saved: reading the data, search, ensemble
    /// and refit included; a trial that would run past it is stopped (default 60, or unlimited
    /// when only --max-trials is given).
    #[arg(long, value_name = "SECONDS")]
    time_budget: Option<f64>,
    /// Most trials to run.
    #[arg(long, value_name = "N")]
    max_trials: Option<usize>,
    /// Trials run in parallel (default: all cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Compute devices, comma-separated: cpu, cuda:0, cuda:1, ... Each CUDA device is a slot on
    /// which trials of GPU-suited learners (mlp) run while the --jobs threads keep the CPU busy;
    /// the leaderboard says which device ran each trial. Needs the GPU build (README "Devices
    /// and the GPU build"); a missing device is an error, never a silent CPU fallback.
    #[arg(long, default_value = "cpu", value_name = "LIST")]
    devices: String,
    /// Seed: the same seed gives the same trials and the same leaderboard.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Comma-separated learners to search (default: all that fit the task).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    learners: Option<Vec<String>>,
    /// Labelled test file to score the best model on.
    #[arg(long, value_name = "FILE")]
    test: Option<PathBuf>,
    /// Data file to predict with the best model (needs --out).
    #[arg(long, value_name = "FILE", requires = "out")]
    predict: Option<PathBuf>,
    /// Where --predict writes predictions.
    #[arg(long, value_name = "FILE", requires = "predict")]
    out: Option<PathBuf>,
    /// Where to save the best model.
    #[arg(long, value_name = "FILE", default_value = "model.automl")]
    model_out: PathBuf,
    /// Write a self-contained HTML report of the run to FILE (summary, data profile, leaderboard,
    /// charts, diagnostics of the best model); `automl leaderboard RUN --format html` renders it
    /// again later from the workspace.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Leaderboard rows to print in the table (--json lists every trial, ranked, one at a time as
    /// it writes, so memory does not grow with the count).
    #[arg(long, default_value_t = 10, value_name = "N")]
    top: usize,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    ws: WorkspaceArgs,
    /// Experiment name (default: the training file's name without extension, or its folder's name
    /// for generic names such as train.csv).
    #[arg(long, value_name = "NAME")]
    experiment: Option<String>,
    /// Do not record the run in a workspace.
    #[arg(long, conflicts_with_all = ["workspace", "experiment", "resume"])]
    no_store: bool,
    /// Register the best model in the workspace's model registry under this name.
    #[arg(long, value_name = "NAME", conflicts_with = "no_store")]
    register: Option<String>,
    /// Continue an interrupted run of the workspace: finished trials are kept, trials killed by the
    /// interruption run again, the remaining time budget is honoured. Without TRAIN, the run's
    /// recorded command line is reused (from the same folder).
    #[arg(long, value_name = "RUN")]
    resume: Option<i64>,

    /// How configurations are chosen: cfo (cost-frugal local search from cheap configurations,
    /// learners picked by estimated cost for improvement), tpe (Bayesian), random, or grid
    /// (choice parameters only; narrow the space with --search-space).
    #[arg(long, default_value = "cfo", value_name = "SAMPLER", help_heading = "Search")]
    sampler: String,
    /// TOML file narrowing or overriding the built-in search spaces: `learners = [...]` and
    /// `[LEARNER.PARAM]` tables (type = choice|uniform|loguniform|quniform|qloguniform|randint|
    /// normal|lognormal, with low/high/q/values/mu/sigma, init, low_cost). A table may also set
    /// (one-value choice) or search a parameter the learner holds fixed (`automl learners NAME`
    /// lists them under [fixed], e.g. gbdt's max_bin).
    #[arg(long, value_name = "FILE", help_heading = "Search")]
    search_space: Option<PathBuf>,
    /// Stop a trial after this many seconds (recorded as timed_out).
    #[arg(long, value_name = "SECONDS", help_heading = "Search")]
    trial_timeout: Option<f64>,
    /// Most trials in flight (default 8). Also the reproducibility window: trial i is chosen from
    /// trials 0..=i-N, so results do not depend on --jobs.
    #[arg(long, value_name = "N", help_heading = "Search")]
    max_concurrent: Option<usize>,
    /// The final model: greedy (an ensemble of the best trials, chosen greedily with replacement
    /// on their validation predictions), stack (a linear meta-model over the best trial of each
    /// learner, cross-validated on the same predictions) or none (the best trial). An ensemble is
    /// used only when it validates better than the best single trial (or, on accuracy-like
    /// metrics, ties it with a lower log loss); its members are fitted in parallel within the
    /// time budget.
    /// Default greedy (for an AutoML job YAML: from its enable_vote_ensemble /
    /// enable_stack_ensemble).
    #[arg(long, value_name = "KIND", help_heading = "Search")]
    ensemble: Option<String>,
    /// How the final model's members are fitted under cross-validation: folds (each is the
    /// average of its k fold models, the models it was validated and weighted with: bagging;
    /// plus its k fold models of a second split of the rows when the time left allows) or all
    /// (each is refitted once on all rows). A run validated on a holdout always refits on all
    /// rows.
    #[arg(long, default_value = "folds", value_name = "HOW", help_heading = "Search")]
    final_fit: String,

    /// Validate every trial with N-fold cross-validation, whatever the data size (default: 5 folds
    /// up to 10,000 rows, a 20 % holdout above).
    #[arg(
        long,
        value_name = "N",
        conflicts_with = "validation_size",
        help_heading = "Search"
    )]
    cv_folds: Option<usize>,
    /// Validate every trial on one holdout of this share of the rows (e.g. 0.2).
    #[arg(long, value_name = "SHARE", help_heading = "Search")]
    validation_size: Option<f64>,
    /// Start no more trials once one validates this well on the primary metric (this low for
    /// metrics where lower is better), like Azure's exit_score.
    #[arg(long, value_name = "SCORE", help_heading = "Search")]
    exit_score: Option<f64>,
    /// Keep columns the leakage guardrail flags (a single column that predicts the target almost
    /// perfectly on its own, usually computed from it); by default they are excluded.
    #[arg(long, help_heading = "Search")]
    allow_leaky: bool,

    #[command(flatten)]
    policy: PolicyArgs,

    #[command(flatten)]
    dist: DistributeArgs,
}

/// The recorded command line of run `run`, parsed again.
fn recorded_args(run: &automl::store::RunRecord) -> Result<RunArgs> {
    let id = run.id;
    let args: Vec<String> = run
        .environment
        .get("args")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .ok_or_else(|| {
            Error::Store(format!(
                "run {id} has no recorded command line; give TRAIN and --target"
            ))
        })?;
    match Cli::try_parse_from(args) {
        Ok(Cli {
            command: Command::Run(old),
        }) => Ok(*old),
        _ => Err(Error::Store(format!(
            "run {id}'s recorded command line cannot be reused; give TRAIN and --target"
        ))),
    }
}

/// The arguments with which worker `worker` (of `automl worker`) takes part in run `run` of
/// workspace `ws`: the run's own command line, on the training data kept in the workspace,
/// without its local outputs (test scoring, predictions, report).
pub fn worker_args(
    ws: &automl::store::Workspace,
    at: WorkspaceArgs,
    run: &automl::store::RunRecord,
    worker: &str,
    jobs: Option<usize>,
    devices: &str,
    share: ShareArgs,
) -> Result<RunArgs> {
    let old = recorded_args(run)?;
    if let Some(f) = old.search_space.as_ref().filter(|f| !f.exists()) {
        return Err(Error::Config(format!(
            "run {} reads --search-space {}, which is not on this machine (give workers the same file at the same path)",
            run.id,
            f.display()
        )));
    }
    let env = |k: &str| {
        run.environment
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let train = match env(automl::store::keys::DATA_BLOB) {
        Some(rel) => ws.file(&rel)?,
        None => PathBuf::from(
            env("data_file")
                .ok_or_else(|| Error::Store(format!("run {} records no training data", run.id)))?,
        ),
    };
    Ok(RunArgs {
        train: Some(train),
        resume: Some(run.id),
        ws: at,
        jobs: jobs.or(old.jobs),
        // The worker's own devices, not those of the machine that recorded the run.
        devices: devices.to_string(),
        test: None,
        predict: None,
        out: None,
        report: None,
        dist: DistributeArgs {
            workers_only: false,
            share,
            worker: Some(worker.to_string()),
        },
        output: OutputArgs {
            quiet: true,
            format: JsonArgs { json: false },
        },
        ..old
    })
}

/// For `--resume RUN` without a training file: the arguments the run was started with.
fn resumed_args(a: RunArgs) -> Result<RunArgs> {
    let (Some(id), None) = (a.resume, &a.train) else {
        return Ok(a);
    };
    let ws = a.ws.open_existing()?;
    let run = ws.store.run(id)?;
    if let Some(p) = run.parent {
        return Err(Error::Config(format!(
            "run {id} is a trial; resume its parent run {p}"
        )));
    }
    let old = recorded_args(&run)?;
    Ok(RunArgs {
        resume: Some(id),
        // Resume in the workspace the run was read from, whatever the original folder was.
        ws: WorkspaceArgs {
            workspace: Some(a.ws.root()),
        },
        output: OutputArgs {
            quiet: a.output.quiet || old.output.quiet,
            format: JsonArgs {
                json: a.output.json() || old.output.json(),
            },
        },
        // Options given now override the recorded ones.
        time_budget: a.time_budget.or(old.time_budget),
        max_trials: a.max_trials.or(old.max_trials),
        jobs: a.jobs.or(old.jobs),
        test: a.test.or(old.test.clone()),
        predict: a.predict.or(old.predict.clone()),
        out: a.out.or(old.out.clone()),
        register: a.register.or(old.register.clone()),
        ..old
    })
}

/// `--workers-only`: say which run was recorded and how workers take it.
fn submitted(a: &RunArgs, id: i64) -> Result<()> {
    let at = automl::store::postgres::redact(&a.ws.root().to_string_lossy());
    let command = format!("automl worker --workspace {at} --run {id}");
    if a.output.json() {
        print_json(&json!({"run_id": id, "workspace": at, "worker_command": command}))
    } else {
        println!("recorded run {id} for workers; start them with:\n  {command}");
        Ok(())
    }
}

/// The best score so far, its learner, and how many trials stopped or failed: the progress
/// bar's message.
type Best = (Option<f64>, String, usize);

/// `automl run`.
pub fn run(a: RunArgs) -> Result<()> {
    // The time budget counts from here: reading and checking the data are inside it.
    let started = std::time::Instant::now();
    let a = resumed_args(a)?;
    let job = match &a.train {
        Some(p) if is_automl_job(p) => Some(AutoMLJob::load(p)?),
        _ => None,
    };
    let target = a
        .target
        .clone()
        .or_else(|| job.as_ref().map(|j| j.target.clone()));
    let (Some(train), Some(target)) = (a.train.clone(), target) else {
        return Err(Error::Config(
            "give a TRAIN file and --target, or an AutoML job YAML (or --resume RUN)".into(),
        ));
    };
    // Where the results go must be writable before the search spends its budget.
    automl::model::check_writable(&a.model_out)?;
    for file in [&a.out, &a.report].into_iter().flatten() {
        automl::model::check_writable(file)?;
    }
    let quiet = a.output.quiet;
    let json = a.output.json();
    let task = a.task.as_deref().map(str::parse::<Task>).transpose()?;
    let metric = a.metric.as_deref().map(str::parse::<Metric>).transpose()?;
    let metric = metric.or(job.as_ref().and_then(|j| j.metric));
    // For a job, the data file that stands for its training data in records and hashes.
    let data_file = job
        .as_ref()
        .map_or_else(|| train.clone(), |j| j.training_data.representative_file());
    automl::heap::settle_for(&data_file);
    if let Some(j) = &job {
        if !j.ignored.is_empty() && !json {
            eprintln!(
                "note: cloud-only fields read and ignored: {}",
                j.ignored.join(", ")
            );
        }
        if !json {
            for n in &j.notes {
                warn(quiet, n);
            }
        }
    }
    let (mut data, job_scheme) = match &job {
        Some(j) => j.datasets(&target, task)?,
        None => (Dataset::from_path(&train, &target, task)?, Scheme::Auto),
    };
    if matches!(job_scheme, Scheme::Given(_)) && (a.cv_folds.is_some() || a.validation_size.is_some()) {
        return Err(Error::Config(
            "the job gives validation_data: --cv-folds and --validation-size cannot replace it (its rows would be mixed into training)".into(),
        ));
    }
    let scheme = match (a.cv_folds, a.validation_size) {
        (Some(k), _) => Scheme::Folds(k),
        (None, Some(share)) => Scheme::Holdout(share),
        (None, None) => job_scheme,
    }
    .check()?;
    let options = automl::guardrails::Options {
        allow_leaky: a.allow_leaky,
        validation: automl::validation::plan_with(&data.target, a.seed, scheme, &mut Vec::new())?.description,
        jobs: a.jobs.unwrap_or_else(library::default_jobs),
        available_memory: None,
    };
    let guardrails = automl::guardrails::check(&mut data, &options);
    if !a.output.silent() {
        eprintln!("{}: {}", data_file.display(), data.schema.summary(data.n_rows()));
        eprintln!("guardrails:\n{}", automl::guardrails::table(&guardrails));
    }
    let mut builder = match &job {
        Some(j) => j.builder()?,
        None => AutoML::builder(),
    }
    .seed(a.seed)
    .started_at(started)
    .validation(scheme)
    .guardrails(guardrails.clone());
    if let Some(m) = metric {
        builder = builder.metric(m);
    }
    if let Some(t) = a.time_budget {
        builder = builder.time_budget_secs(t);
    }
    if let Some(n) = a.max_trials {
        builder = builder.max_trials(n);
    }
    if let Some(x) = a.exit_score {
        builder = builder.exit_score(x);
    }
    if let Some(j) = a.jobs {
        builder = builder.jobs(j);
    }
    builder = builder.devices(automl::device::parse_list(&a.devices)?);
    if let Some(l) = &a.learners {
        builder = builder.learners(l.iter().map(|s| s.trim().to_string()));
    }
    if let Some(e) = &a.ensemble {
        builder = builder.ensemble(EnsembleKind::parse(e)?);
    }
    builder = builder
        .final_fit(FinalFit::parse(&a.final_fit)?)
        .sampler(SamplerKind::parse(&a.sampler)?)
        .early_termination(a.policy.policy()?);
    if let Some(t) = a.trial_timeout {
        builder = builder.trial_timeout_secs(t);
    }
    if let Some(n) = a.max_concurrent {
        builder = builder.max_concurrent(n);
    }
    if let Some(f) = &a.search_space {
        builder = builder.search_space(SpaceFile::load(f)?);
    }
    if let Some(name) = &a.register {
        automl::store::registry::check_model_name(name)?;
    }
    // Hashed once: recorded in the environment and used to find a registered dataset version.
    let data_hash = if a.no_store {
        None
    } else {
        library::file_hash(&data_file)
    };
    let workspace = if a.no_store { None } else { Some(a.ws.open()?) };
    if let Some(ws) = &workspace {
        let experiment = a
            .experiment
            .clone()
            .or_else(|| job.as_ref().and_then(|j| j.experiment_name.clone()))
            .unwrap_or_else(|| library::default_experiment(&train));
        let args: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        if let Some(id) = a.resume {
            builder = builder.resume(id);
        }
        // Shared with workers: every run on a PostgreSQL workspace, `--workers-only`, and the
        // runs `automl worker` joins. The training data goes into a PostgreSQL workspace, so
        // workers on other machines read it from there.
        // A resumed run that was shared stays shared (its workers' trials are left to them).
        let was_shared = match a.resume {
            Some(id) => ws
                .store
                .run(id)?
                .tags
                .contains_key(automl::store::keys::DISTRIBUTED),
            None => false,
        };
        let shared = job.is_none()
            && (ws.store.keeps_blobs() || a.dist.workers_only || a.dist.worker.is_some() || was_shared);
        if a.dist.workers_only && job.is_some() {
            return Err(Error::Config(
                "--workers-only takes a TRAIN file, not an AutoML job YAML".into(),
            ));
        }
        let mut data_blob = None;
        if shared && ws.store.keeps_blobs() && a.dist.worker.is_none() {
            let name = data_file
                .file_name()
                .map_or("train.csv".into(), |n| n.to_string_lossy().to_string());
            let rel = format!("data/{}/{name}", data_hash.clone().unwrap_or_default());
            if ws.store.blob_digest(&rel)?.is_none() {
                let bytes = std::fs::read(&data_file).map_err(|e| Error::io(&data_file, e))?;
                ws.store.put_blob(&rel, &bytes)?;
            }
            data_blob = Some(rel);
        }
        if shared {
            let worker = a.dist.worker.clone().unwrap_or_else(worker_id);
            builder = builder.share(a.dist.share.sharing(ws, worker)?);
            if a.dist.workers_only {
                builder = builder.submit_only();
            }
        }
        builder = builder.record(Recording {
            store: ws.store.clone() as Arc<dyn Store>,
            experiment,
            environment: {
                let mut env = library::run_environment(&args, &data_file, data_hash.as_deref());
                env.insert("guardrails".into(), json!(guardrails));
                if let Some(rel) = &data_blob {
                    env.insert(automl::store::keys::DATA_BLOB.into(), json!(rel));
                }
                env
            },
            artifacts: Some(ws.root.join("artifacts")),
        });
    }
    let primary = metric.unwrap_or(Metric::default_for(data.schema.task));
    let bar = progress_bar(
        a.output.silent(),
        a.max_trials.or(job.as_ref().and_then(|j| j.max_trials)),
    );
    let best: Arc<Mutex<Best>> = Arc::new(Mutex::new((None, String::new(), 0)));
    {
        let bar = bar.clone();
        let best = best.clone();
        builder = builder.on_trial(move |r: &TrialRecord| {
            if let Ok(mut b) = best.lock() {
                if r.state != TrialState::Completed {
                    b.2 += 1;
                }
                if let Some(s) = r.score() {
                    if b.0.is_none_or(|old| primary.better(s, old)) {
                        b.0 = Some(s);
                        b.1 = r.learner().to_string();
                    }
                }
                let failed = if b.2 > 0 {
                    format!(", {} stopped or failed", b.2)
                } else {
                    String::new()
                };
                if let Some(s) = b.0 {
                    bar.set_message(format!("best {} {s:.4} ({}){failed}", primary.name(), b.1));
                }
            }
            bar.inc(1);
        });
    }
    let automl = builder.build()?;
    let run = automl.fit(&data);
    bar.finish_and_clear();
    let mut run = match run {
        Err(Error::FinishedElsewhere(m)) => {
            let skipped = a.test.is_some() || a.predict.is_some() || a.report.is_some();
            if json {
                print_json(&json!({"finished_by_another_worker": true, "message": m}))?;
            } else if !a.output.silent() {
                eprintln!("{m}");
            }
            if skipped && a.dist.worker.is_none() {
                warn(
                    quiet,
                    "--test, --predict and --report were not done here: the worker that finishes the run saves the model (see `automl runs show`)",
                );
            }
            return Ok(());
        }
        Err(Error::Submitted(id)) => return submitted(&a, id),
        r => r?,
    };
    if let Some(note) = &run.resumed {
        eprintln!("{note}");
    }
    if !json {
        for w in &run.warnings {
            warn(quiet, w);
        }
    }
    // What is used from here on (report, test scores, predictions) is the model decoded from
    // the bytes just saved (not re-read from a path another process may overwrite), so
    // `automl predict` gives identical output.
    run.best.save_and_reload(&a.model_out)?;
    let mut registered = None;
    if let (Some(ws), Some(id)) = (&workspace, run.run_id) {
        if ws
            .store
            .run(id)?
            .tags
            .contains_key(automl::store::keys::DISTRIBUTED)
        {
            ws.store
                .set_tags(id, &[(automl::store::keys::DISTRIBUTED, "closed")])?;
        }
        if let Some(h) = &data_hash {
            library::link_dataset(ws, id, h)?;
        }
        library::save_run_log(ws, id, &library::run_log(&data_file, &data, &run))?;
        if let Some(name) = &a.register {
            let v = ws.register_run_model(name, id, "", &[], None)?;
            registered = Some(format!("{name}:{v}"));
        }
    }
    // The report's insight (summary, data profile; with --report also the best-model
    // diagnostics, one extra fit), kept beside the run so `automl leaderboard RUN --format html`
    // can render it later.
    if workspace.is_some() || a.report.is_some() {
        let t0 = std::time::Instant::now();
        let report = automl::report::Report::of_run(&run, &data, a.report.is_some());
        if let (Some(ws), Some(id), Some(insight)) = (&workspace, run.run_id, &report.insight) {
            library::save_insight(ws, id, insight)?;
        }
        if let Some(path) = &a.report {
            let html = report.html();
            automl::model::write_atomic(path, html.as_bytes())?;
            if !a.output.silent() {
                eprintln!(
                    "report written to {} ({} KB, {:.2}s)",
                    path.display(),
                    html.len().div_ceil(1024),
                    t0.elapsed().as_secs_f64()
                );
            }
        }
    }
    let model = &run.best;
    let mut notes = Vec::new();
    let test_scores = match (&a.test, job.as_ref().and_then(|j| j.test_data.as_ref())) {
        (Some(path), _) => Some(score_test(model, path, &mut notes)?),
        (None, Some(input)) => Some(score_test_table(model, &input.read()?, &input.path, &mut notes)?),
        (None, None) => None,
    };
    let test_name = a.test.clone().or_else(|| {
        job.as_ref()
            .and_then(|j| j.test_data.as_ref())
            .map(|t| t.path.clone())
    });
    if let (Some(input), Some(out)) = (&a.predict, &a.out) {
        predict_file(model, input, out, &mut notes)?;
        if let (Some(ws), Some(id)) = (&workspace, run.run_id) {
            library::save_predictions(ws, id, out)?;
        }
    }
    if json {
        print_run_json(
            &run,
            &data,
            &a,
            test_scores.as_deref(),
            registered.as_deref(),
            job.as_ref(),
        )?;
    } else {
        for n in &notes {
            warn(quiet, n);
        }
        print_leaderboard(&run, a.top);
        print_summary(&run, &a, test_scores.as_deref(), test_name.as_deref(), registered);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_help_lists_every_learner() {
        for l in automl::learners::names() {
            assert!(
                super::run_help().contains(l),
                "{l} missing from `automl run --help`"
            );
        }
    }
}
