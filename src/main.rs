//! The `automl` command: a thin layer over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table as Grid};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use automl::automl::Recording;
use automl::data::Task;
use automl::job::SweepJob;
use automl::model::{predictions_csv, write_atomic};
use automl::pruners::{Policy, PolicySettings};
use automl::samplers::SamplerKind;
use automl::space::SpaceFile;
use automl::store::{ModelRef, RunFilter, RunRecord, Store, TrialState, Workspace};
use automl::sweep::{Goal, Sweep, TrialRecord};
use automl::trials::TrialResult;
use automl::{AutoML, Dataset, Error, Metric, ModelFile, Result, RunSummary, Table};

/// AutoML for tables: search preprocessing + learners + hyperparameters, keep the best model.
#[derive(Parser)]
#[command(name = "automl", version, about, long_about = None)]
#[command(after_help = "Examples:\n  \
automl run datasets/penguins/train.csv --target species --time-budget 30 --test datasets/penguins/test.csv --report report.html\n  \
automl predict --model model.automl --data datasets/penguins/test.csv --out predictions.csv\n  \
automl leaderboard 1 --format html --out report.html")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Search for the best pipeline on a training table, save it, optionally score and predict.
    #[command(after_help = run_help())]
    Run(Box<RunArgs>),
    /// Tune any program's hyperparameters: run it once per trial with sampled parameters, read
    /// its metric lines, stop hopeless or slow trials.
    #[command(after_help = SWEEP_HELP)]
    Sweep(SweepArgs),
    /// The leaderboard of a recorded run (or of every run of an experiment): table, Markdown, CSV
    /// or versioned JSON.
    Leaderboard(LeaderboardArgs),
    /// Predict with a saved model.
    Predict(PredictArgs),
    /// Experiments recorded in the workspace.
    #[command(subcommand)]
    Experiments(ExperimentsCmd),
    /// Runs recorded in the workspace.
    #[command(subcommand)]
    Runs(RunsCmd),
    /// Registered dataset versions.
    #[command(subcommand)]
    Data(DataCmd),
    /// The model registry: named, versioned models with tags and aliases.
    #[command(subcommand)]
    Models(ModelsCmd),
}

const SWEEP_HELP: &str = "\
The program reports metrics by printing JSON lines on standard output:
  {\"automl_metric\": \"val_loss\", \"value\": 0.31, \"step\": 4}
Other lines pass through to the trial's stdout.log. Each trial gets its parameters in the
command's ${{search_space.NAME}} placeholders (one argument each, never through a shell), and in
the environment: AUTOML_TRIAL_ID, AUTOML_PARAMS (JSON), AUTOML_PARAM_<NAME>.

Example:
  automl sweep examples/sweep/quadratic.toml";

#[derive(Args)]
struct SweepArgs {
    /// Sweep spec: our TOML (command, search_space, objective, sampling, early_termination,
    /// limits) or an Azure ML sweep-job YAML (.yml/.yaml).
    #[arg(required_unless_present = "resume")]
    spec: Option<PathBuf>,
    /// Workspace recording the sweep (default: $AUTOML_WORKSPACE, else ./automl-workspace).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Experiment name (default: the spec file's name without extension).
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
    /// Print a JSON summary on stdout instead of tables.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Subcommand)]
enum DataCmd {
    /// Register a data file under NAME (a copy is kept; identical content keeps its version).
    Register {
        /// Dataset name.
        name: String,
        /// CSV or Parquet file.
        file: PathBuf,
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
    /// List dataset versions.
    List(WorkspaceArgs),
}

#[derive(Subcommand)]
enum ModelsCmd {
    /// Register the best model of a run as the next version of NAME.
    Register {
        /// Model name.
        name: String,
        /// Run whose model to register.
        #[arg(long)]
        run: i64,
        /// Free-text description.
        #[arg(long, default_value = "")]
        description: String,
        /// Tag as KEY=VALUE (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// Point this alias (e.g. champion) at the new version.
        #[arg(long)]
        alias: Option<String>,
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
    /// List registered model versions.
    List {
        /// Only this model.
        name: Option<String>,
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
    /// Show one version: NAME, NAME:VERSION or NAME@ALIAS.
    Show {
        /// Model reference.
        model: String,
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
    /// Point ALIAS of NAME at VERSION (the move is recorded).
    Alias {
        /// Model name.
        name: String,
        /// Alias, e.g. champion.
        alias: String,
        /// Version.
        version: i64,
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
    /// Copy a version's model file out of the workspace.
    Export {
        /// Model reference: NAME, NAME:VERSION or NAME@ALIAS.
        model: String,
        /// Destination file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
    /// Delete a version (refused while an alias points at it).
    Delete {
        /// NAME:VERSION.
        model: String,
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
}

#[derive(Args, Clone)]
struct WorkspaceArgs {
    /// Workspace folder (default: $AUTOML_WORKSPACE, else ./automl-workspace).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct LeaderboardArgs {
    /// Run id, or experiment name (every run of it).
    which: String,
    /// Completed trials to show (failed, pruned and other trials are summarised).
    #[arg(long, default_value_t = 20, value_name = "N")]
    top: usize,
    /// table, md, csv, json (every trial; schema in src/report/mod.rs) or html (a self-contained
    /// page with charts and, for `automl run` runs, data profile and best-model diagnostics).
    #[arg(long, default_value = "table", value_name = "FORMAT")]
    format: String,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Workspace folder (default: $AUTOML_WORKSPACE, else ./automl-workspace).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

fn leaderboard_cmd(a: LeaderboardArgs) -> Result<()> {
    let w = open_existing(&WorkspaceArgs {
        workspace: a.workspace.clone(),
        json: false,
    })?;
    let lb = automl::report::Leaderboard::load(w.store.as_ref(), &a.which)?;
    let text = match a.format.as_str() {
        "md" | "markdown" => lb.markdown(a.top),
        "csv" => lb.csv(a.top),
        "json" => lb.json() + "\n",
        "table" => {
            let (header, rows) = lb.cells(a.top);
            let mut t = grid(&header.iter().map(String::as_str).collect::<Vec<_>>());
            for r in rows {
                t.add_row(r);
            }
            format!("{t}\n{}\n", lb.summary())
        }
        "html" => automl::report::Report::load(w.store.as_ref(), &a.which, Some(&w.root))?.html(),
        o => {
            return Err(Error::Config(format!(
                "unknown format '{o}' (table, md, csv, json, html)"
            )))
        }
    };
    match &a.out {
        Some(p) => automl::model::write_atomic(p, text.as_bytes())?,
        None => print!("{text}"),
    }
    Ok(())
}

#[derive(Subcommand)]
enum ExperimentsCmd {
    /// List experiments with their number of runs.
    List(WorkspaceArgs),
}

#[derive(Subcommand)]
enum RunsCmd {
    /// List the top-level runs (of one experiment), newest last.
    List {
        /// Experiment name (default: all).
        experiment: Option<String>,
        /// Only runs in this state: queued, running, completed, pruned, failed, timed_out, killed.
        #[arg(long)]
        status: Option<String>,
        /// Sort by this metric, best first (direction from the metric's name).
        #[arg(long, value_name = "METRIC")]
        sort: Option<String>,
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
    /// Show one run: params, final metrics, metric history, trials, error, environment.
    Show {
        /// Run id.
        run: i64,
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
}

/// `automl run --help`'s closing text, with the learner list from the registry.
fn run_help() -> String {
    RUN_HELP.replace("{LEARNERS}", &automl::learners::names().join(", "))
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

Examples:
  automl run datasets/iris/train.csv --target species --time-budget 30
  automl run train.csv --target price --metric rmse --test test.csv --predict new.csv --out pred.csv
  automl run train.csv --target churn --learners random_forest,logistic_regression --json";

#[derive(Args)]
struct RunArgs {
    /// Training data: a CSV (with header) or Parquet file.
    train: Option<PathBuf>,
    /// Name of the column to predict.
    #[arg(long, required_unless_present = "resume")]
    target: Option<String>,
    /// binary, multiclass or regression (default: inferred from the target column).
    #[arg(long)]
    task: Option<String>,
    /// Primary metric: accuracy, balanced_accuracy, log_loss, roc_auc, f1_macro, rmse, mae, r2
    /// (default: roc_auc for binary, accuracy for multiclass, r2 for regression).
    #[arg(long)]
    metric: Option<String>,
    /// Seconds to spend starting trials (default 60, or unlimited when only --max-trials is given).
    #[arg(long, value_name = "SECONDS")]
    time_budget: Option<f64>,
    /// Most trials to run.
    #[arg(long, value_name = "N")]
    max_trials: Option<usize>,
    /// Trials run in parallel (default: all cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
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
    /// Leaderboard rows to print.
    #[arg(long, default_value_t = 10, value_name = "N")]
    top: usize,
    /// Print a JSON summary on stdout instead of tables.
    #[arg(long)]
    json: bool,
    /// No progress bar or schema summary.
    #[arg(long, short)]
    quiet: bool,
    /// Workspace folder recording the run (default: $AUTOML_WORKSPACE, else ./automl-workspace).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
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
    /// normal|lognormal, with low/high/q/values/mu/sigma, init, low_cost).
    #[arg(long, value_name = "FILE", help_heading = "Search")]
    search_space: Option<PathBuf>,
    /// Stop a trial after this many seconds (recorded as timed_out).
    #[arg(long, value_name = "SECONDS", help_heading = "Search")]
    trial_timeout: Option<f64>,
    /// Most trials in flight (default 8). Also the reproducibility window: trial i is chosen from
    /// trials 0..=i-N, so results do not depend on --jobs.
    #[arg(long, value_name = "N", help_heading = "Search")]
    max_concurrent: Option<usize>,

    /// Early-termination policy: none, bandit, median, truncation, asha, hyperband. Trials then
    /// report as they go: with cross-validation, the mean score of the folds done after each fold
    /// (steps 1..K); with a holdout, their score on 1/8, 2/8, 4/8 of the training rows before the
    /// full fit (steps 1, 2, 4, 8).
    #[arg(
        long,
        default_value = "none",
        value_name = "POLICY",
        help_heading = "Early termination"
    )]
    early_termination: String,
    /// Bandit: stop trials below best / (1 + F) (maximise) or above best * (1 + F).
    #[arg(long, value_name = "F", help_heading = "Early termination")]
    slack_factor: Option<f64>,
    /// Bandit: stop trials more than A behind the best.
    #[arg(
        long,
        value_name = "A",
        conflicts_with = "slack_factor",
        help_heading = "Early termination"
    )]
    slack_amount: Option<f64>,
    /// Bandit / median / truncation: apply the policy every N steps.
    #[arg(
        long,
        default_value_t = 1,
        value_name = "N",
        help_heading = "Early termination"
    )]
    evaluation_interval: i64,
    /// Bandit / median / truncation: first step at which the policy applies.
    #[arg(
        long,
        default_value_t = 0,
        value_name = "N",
        help_heading = "Early termination"
    )]
    delay_evaluation: i64,
    /// Truncation: share (1-99) of trials to stop at each evaluation.
    #[arg(
        long,
        default_value_t = 25.0,
        value_name = "PCT",
        help_heading = "Early termination"
    )]
    truncation_percentage: f64,
    /// Truncation: leave finished trials out of the comparison.
    #[arg(long, help_heading = "Early termination")]
    exclude_finished: bool,
    /// ASHA / Hyperband: keep 1 in this many at each rung.
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        help_heading = "Early termination"
    )]
    reduction_factor: i64,
    /// ASHA / Hyperband: first rung (in eighths of the training rows).
    #[arg(
        long,
        default_value_t = 1,
        value_name = "N",
        help_heading = "Early termination"
    )]
    min_resource: i64,
    /// Hyperband: largest resource (in eighths of the training rows).
    #[arg(
        long,
        default_value_t = 8,
        value_name = "N",
        help_heading = "Early termination"
    )]
    max_resource: i64,
}

/// The early-termination policy given by the run flags.
fn policy_of(a: &RunArgs) -> Result<Policy> {
    Policy::from_settings(
        &a.early_termination,
        &PolicySettings {
            slack_factor: a.slack_factor,
            slack_amount: a.slack_amount,
            evaluation_interval: a.evaluation_interval,
            delay_evaluation: a.delay_evaluation,
            truncation_percentage: a.truncation_percentage,
            exclude_finished: a.exclude_finished,
            reduction_factor: a.reduction_factor,
            min_resource: a.min_resource,
            max_resource: a.max_resource,
        },
    )
}

#[derive(Args)]
struct PredictArgs {
    /// Model file written by `automl run`, or a registered model: NAME, NAME:VERSION, NAME@ALIAS.
    #[arg(long, value_name = "FILE|NAME")]
    model: PathBuf,
    /// Workspace holding the registry (default: $AUTOML_WORKSPACE, else ./automl-workspace).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Data to predict (CSV or Parquet, same columns as training; the target may be absent).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Output CSV: `prediction` plus one probability column per class.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        if !automl::trials::in_trial() {
            eprintln!("automl: internal error: {info}");
        }
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => run(*a),
        Command::Sweep(a) => sweep_cmd(a),
        Command::Leaderboard(a) => leaderboard_cmd(a),
        Command::Predict(a) => predict(a),
        Command::Experiments(ExperimentsCmd::List(ws)) => experiments_list(&ws),
        Command::Runs(RunsCmd::List {
            experiment,
            status,
            sort,
            ws,
        }) => runs_list(experiment, status, sort, &ws),
        Command::Runs(RunsCmd::Show { run, ws }) => runs_show(run, &ws),
        Command::Data(c) => data_cmd(c),
        Command::Models(c) => models_cmd(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn warn(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("warning: {msg}");
    }
}

/// For `--resume RUN` without a training file: the arguments the run was started with.
fn resumed_args(a: RunArgs) -> Result<RunArgs> {
    let (Some(id), None) = (a.resume, &a.train) else {
        return Ok(a);
    };
    let ws = open_existing(&WorkspaceArgs {
        workspace: a.workspace.clone(),
        json: false,
    })?;
    let run = ws.store.run(id)?;
    if let Some(p) = run.parent {
        return Err(Error::Config(format!(
            "run {id} is a trial; resume its parent run {p}"
        )));
    }
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
        }) => Ok(RunArgs {
            resume: Some(id),
            // Resume in the workspace the run was read from, whatever the original folder was.
            workspace: Some(Workspace::locate(a.workspace.as_deref())),
            quiet: a.quiet || old.quiet,
            json: a.json || old.json,
            // Options given now override the recorded ones.
            time_budget: a.time_budget.or(old.time_budget),
            max_trials: a.max_trials.or(old.max_trials),
            jobs: a.jobs.or(old.jobs),
            test: a.test.or(old.test.clone()),
            predict: a.predict.or(old.predict.clone()),
            out: a.out.or(old.out.clone()),
            register: a.register.or(old.register.clone()),
            ..*old
        }),
        _ => Err(Error::Store(format!(
            "run {id}'s recorded command line cannot be reused; give TRAIN and --target"
        ))),
    }
}

fn run(a: RunArgs) -> Result<()> {
    let a = resumed_args(a)?;
    let (Some(train), Some(target)) = (a.train.clone(), a.target.clone()) else {
        return Err(Error::Config(
            "give a TRAIN file and --target (or --resume RUN)".into(),
        ));
    };
    let task = a.task.as_deref().map(str::parse::<Task>).transpose()?;
    let metric = a.metric.as_deref().map(str::parse::<Metric>).transpose()?;
    let data = Dataset::from_path(&train, &target, task)?;
    if !a.quiet && !a.json {
        eprintln!("{}: {}", train.display(), data.schema.summary(data.n_rows()));
    }
    let mut builder = AutoML::builder().seed(a.seed);
    if let Some(m) = metric {
        builder = builder.metric(m);
    }
    if let Some(t) = a.time_budget {
        builder = builder.time_budget_secs(t);
    }
    if let Some(n) = a.max_trials {
        builder = builder.max_trials(n);
    }
    if let Some(j) = a.jobs {
        builder = builder.jobs(j);
    }
    if let Some(l) = &a.learners {
        builder = builder.learners(l.iter().map(|s| s.trim().to_string()));
    }
    builder = builder
        .sampler(SamplerKind::parse(&a.sampler)?)
        .early_termination(policy_of(&a)?);
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
    let data_hash = if a.no_store { None } else { file_hash(&train) };
    let workspace = if a.no_store {
        None
    } else {
        Some(Workspace::open(&Workspace::locate(a.workspace.as_deref()))?)
    };
    if let Some(ws) = &workspace {
        let experiment = a.experiment.clone().unwrap_or_else(|| default_experiment(&train));
        let mut env = serde_json::Map::new();
        let args: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        env.insert("args".into(), json!(args));
        env.insert("data_file".into(), json!(train.display().to_string()));
        env.insert("data_hash".into(), json!(data_hash));
        env.insert("git_commit".into(), json!(git_commit()));
        if let Some(id) = a.resume {
            builder = builder.resume(id);
        }
        builder = builder.record(Recording {
            store: ws.store.clone() as Arc<dyn Store>,
            experiment,
            environment: env,
            artifacts: Some(ws.root.join("artifacts")),
        });
    }
    let primary = metric.unwrap_or(Metric::default_for(data.schema.task));
    let bar = progress_bar(a.quiet || a.json, a.max_trials);
    let best: Arc<Mutex<(Option<f64>, String, usize)>> = Arc::new(Mutex::new((None, String::new(), 0)));
    {
        let bar = bar.clone();
        let best = best.clone();
        builder = builder.on_trial(move |r: &TrialResult| {
            if let Ok(mut b) = best.lock() {
                if r.status != TrialState::Completed {
                    b.2 += 1;
                }
                if let Some(s) = r.score {
                    if b.0.is_none_or(|old| primary.better(s, old)) {
                        b.0 = Some(s);
                        b.1 = r.config.learner.clone();
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
    let run = run?;
    if let Some(note) = &run.resumed {
        eprintln!("{note}");
    }
    if !a.json {
        for w in &run.warnings {
            warn(a.quiet, w);
        }
    }
    run.best.save(&a.model_out)?;
    let mut registered = None;
    if let (Some(ws), Some(id)) = (&workspace, run.run_id) {
        let dir = ws.artifact_dir(id)?;
        if let Some(d) = data_hash
            .as_deref()
            .and_then(|h| ws.store.dataset_by_hash(h).ok().flatten())
        {
            ws.store.set_run_dataset(id, &d.name, d.version)?;
        }
        // A plain-text log of the run: schema, validation, warnings, best trial, every failure.
        let mut log = format!(
            "{}: {}\nvalidation: {}\n",
            train.display(),
            data.schema.summary(data.n_rows()),
            run.validation
        );
        for w in &run.warnings {
            log.push_str(&format!("warning: {w}\n"));
        }
        for t in run.trials.iter().filter(|t| t.error.is_some()) {
            log.push_str(&format!(
                "trial {} {} failed: {}\n",
                t.id,
                t.config.learner,
                t.error.as_deref().unwrap_or("")
            ));
        }
        log.push_str(&format!(
            "{} trials in {:.1}s; best trial {} {} {} = {:.6}\n",
            run.trials.len(),
            run.search_secs,
            run.best_trial,
            run.best.config.learner,
            run.metric.name(),
            run.best.cv_score
        ));
        write_atomic(&dir.join("run.log"), log.as_bytes())?;
        ws.store
            .add_artifact(id, "log", &format!("artifacts/{id}/run.log"))?;
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
            let path = ws.artifact_dir(id)?.join("insight.json");
            let text = serde_json::to_string(insight).map_err(|e| Error::Config(e.to_string()))?;
            write_atomic(&path, text.as_bytes())?;
            ws.store
                .add_artifact(id, "insight", &format!("artifacts/{id}/insight.json"))?;
        }
        if let Some(path) = &a.report {
            let html = report.html();
            write_atomic(path, html.as_bytes())?;
            if !a.quiet && !a.json {
                eprintln!(
                    "report written to {} ({} KB, {:.2}s)",
                    path.display(),
                    html.len().div_ceil(1024),
                    t0.elapsed().as_secs_f64()
                );
            }
        }
    }
    // Predict and score with the model decoded from the bytes just saved (not re-read from a path
    // another process may overwrite), so `automl predict` gives identical output.
    let model = ModelFile::from_bytes(&run.best.to_bytes()?, &a.model_out)?;
    let mut notes = Vec::new();
    let test_scores = match &a.test {
        Some(path) => Some(score_test(&model, path, &mut notes)?),
        None => None,
    };
    if let (Some(input), Some(out)) = (&a.predict, &a.out) {
        predict_file(&model, input, out, &mut notes)?;
        if let (Some(ws), Some(id)) = (&workspace, run.run_id) {
            let dest = ws.artifact_dir(id)?.join("predictions.csv");
            std::fs::copy(out, &dest).map_err(|e| Error::io(&dest, e))?;
            ws.store
                .add_artifact(id, "predictions", &format!("artifacts/{id}/predictions.csv"))?;
        }
    }
    if a.json {
        print_json(&run, &a, test_scores.as_deref(), registered.as_deref())?;
    } else {
        for n in &notes {
            warn(a.quiet, n);
        }
        print_leaderboard(&run, a.top);
        print_summary(&run, &a, test_scores.as_deref(), registered);
    }
    Ok(())
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

fn sweep_cmd(a: SweepArgs) -> Result<()> {
    let workspace = if a.no_store {
        None
    } else {
        Some(Workspace::open(&Workspace::locate(a.workspace.as_deref()))?)
    };
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
    if !job.ignored.is_empty() && !a.json {
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
                None => a.experiment.clone().unwrap_or_else(|| {
                    spec.file_stem()
                        .map_or("sweep".into(), |s| s.to_string_lossy().to_string())
                }),
            };
            let logs = |id| match &a.artifacts {
                Some(d) => Ok(d.clone()),
                None => ws.artifact_dir(id),
            };
            let run = automl::job::open_run(
                ws.store.clone(),
                &job,
                &spec,
                &experiment,
                resume.as_ref().map(|r| r.0),
                logs,
            )?;
            if let (Some(note), false) = (&run.note, a.json) {
                eprintln!("{note}");
            }
            Some(run)
        }
        None => None,
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
        bar: progress_bar(a.quiet || a.json, job.limits.max_trials),
        goal: job.goal,
        counts: Mutex::new((0, 0, 0, 0, None)),
    };
    let command = &job.command;
    let objective = |t: &mut automl::sweep::Trial| command.run(t, &dir.join(format!("trial-{}", t.id())));
    let out = sweep.optimize_with(objective, job.limits, &progress)?;
    if let Some(e) = &out.store_error {
        warn(
            a.quiet || a.json,
            &format!("some trials could not be recorded: {e}"),
        );
    }
    if let (Some(ws), Some(id)) = (&workspace, run_id) {
        automl::job::finish_run(ws.store.as_ref(), id, &out, &job.command.primary_metric)?;
    }
    progress.bar.finish_and_clear();
    if let (Some(path), Some(ws), Some(id)) = (&a.report, &workspace, run_id) {
        let html = automl::report::Report::load(ws.store.as_ref(), &id.to_string(), Some(&ws.root))?.html();
        write_atomic(path, html.as_bytes())?;
        if !a.quiet && !a.json {
            eprintln!("report written to {}", path.display());
        }
    }
    let mut order: Vec<&TrialRecord> = out.ranked();
    order.extend(out.trials.iter().filter(|t| t.state != TrialState::Completed));
    if a.json {
        let v = json!({
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
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
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
            println!(
                "  trial {} failed: {}",
                f.id,
                f.error.as_deref().unwrap_or("").lines().next().unwrap_or("")
            );
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

fn progress_bar(hidden: bool, max_trials: Option<usize>) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let (bar, template) = match max_trials {
        Some(n) => (
            ProgressBar::new(n as u64),
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} trials  {msg}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} [{elapsed_precise}] {pos} trials  {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn fmt_score(r: &TrialResult) -> String {
    match (r.score, r.std) {
        (Some(s), Some(d)) => format!("{s:.4} ± {d:.4}"),
        (Some(s), None) => format!("{s:.4}"),
        _ => "-".into(),
    }
}

fn print_leaderboard(run: &RunSummary, top: usize) {
    let mut t = Grid::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "rank".to_string(),
        "trial".into(),
        "learner".into(),
        "preprocessing".into(),
        "params".into(),
        format!("{} (cv)", run.metric.name()),
        "fit s".into(),
    ]);
    for (rank, r) in run.leaderboard().into_iter().take(top).enumerate() {
        let prep = r.config.prep_label();
        let mut params = r.config.params.short();
        if params.chars().count() > 60 {
            params = params.chars().take(57).collect::<String>() + "...";
        }
        t.add_row(vec![
            Cell::new(rank + 1).set_alignment(CellAlignment::Right),
            Cell::new(r.id).set_alignment(CellAlignment::Right),
            Cell::new(&r.config.learner),
            Cell::new(prep),
            Cell::new(params),
            Cell::new(fmt_score(r)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.2}", r.fit_secs)).set_alignment(CellAlignment::Right),
        ]);
    }
    println!("{t}");
}

fn print_summary(run: &RunSummary, a: &RunArgs, test: Option<&[(String, f64)]>, registered: Option<String>) {
    let done = run.trials.len();
    let failed = run.failed();
    let mut ended = format!("{failed} failed");
    for st in [TrialState::Pruned, TrialState::TimedOut, TrialState::Killed] {
        let n = run.count(st);
        if n > 0 {
            ended.push_str(&format!(", {n} {}", st.name()));
        }
    }
    println!(
        "{done} trials in {:.1}s ({ended}; sampler {}, early termination {}), validation: {}; best: trial {} {} {} = {:.4} ± {:.4}",
        run.search_secs,
        run.sampler,
        run.policy,
        run.validation,
        run.best_trial,
        run.best.config.learner,
        run.metric.name(),
        run.best.cv_score,
        run.best.cv_std
    );
    if failed > 0 {
        let mut reasons: Vec<String> = run
            .trials
            .iter()
            .filter_map(|t| t.error.as_ref().map(|e| format!("{}: {e}", t.config.learner)))
            .collect();
        reasons.sort();
        reasons.dedup();
        for r in reasons.iter().take(3) {
            println!("  failed: {r}");
        }
    }
    if let Some(scores) = test {
        let s: Vec<String> = scores.iter().map(|(m, v)| format!("{m} {v:.4}")).collect();
        println!(
            "test ({}): {}",
            a.test.as_ref().map_or(String::new(), |p| p.display().to_string()),
            s.join(", ")
        );
    }
    println!(
        "model saved to {} (refit on all rows in {:.2}s)",
        a.model_out.display(),
        run.refit_secs
    );
    if let Some(out) = &a.out {
        println!("predictions written to {}", out.display());
    }
    if let Some(r) = registered {
        println!("registered as model {r}");
    }
    if let Some(id) = run.run_id {
        println!(
            "recorded as run {id} in {} (see: automl runs show {id})",
            Workspace::locate(a.workspace.as_deref()).display()
        );
    }
}

fn print_json(
    run: &RunSummary,
    a: &RunArgs,
    test: Option<&[(String, f64)]>,
    registered: Option<&str>,
) -> Result<()> {
    let trial = |r: &TrialResult| {
        json!({
            "trial": r.id,
            "learner": r.config.learner,
            "preprocessing": r.config.prep_params(),
            "params": r.config.params,
            "status": r.status,
            "score": r.score,
            "std": r.std,
            "metrics": r.metrics,
            "fit_secs": r.fit_secs,
            "error": r.error,
        })
    };
    let v = json!({
        "task": run.task,
        "metric": run.metric.name(),
        "validation": run.validation,
        "learners": run.learners,
        "trials": run.trials.len(),
        "failed": run.failed(),
        "pruned": run.count(TrialState::Pruned),
        "timed_out": run.count(TrialState::TimedOut),
        "sampler": run.sampler,
        "early_termination": run.policy,
        "search_secs": run.search_secs,
        "best": {
            "trial": run.best_trial,
            "learner": run.best.config.learner,
            "preprocessing": run.best.config.prep_params(),
            "params": run.best.config.params,
            "cv_score": run.best.cv_score,
            "cv_std": run.best.cv_std,
            "metrics": run.best.metrics,
        },
        "test": test.map(|t| t.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()),
        "model": a.model_out,
        "run_id": run.run_id,
        "resumed": run.resumed,
        "registered": registered,
        "predictions": a.out,
        "leaderboard": run.leaderboard().into_iter().map(trial).collect::<Vec<_>>(),
        "warnings": run.warnings,
    });
    let text = serde_json::to_string_pretty(&v).map_err(|e| Error::Config(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// Score the model on a labelled file with every reported metric of the task.
fn score_test(model: &ModelFile, path: &Path, notes: &mut Vec<String>) -> Result<Vec<(String, f64)>> {
    let table = Table::read(path)?;
    let (truth, pred) = model.predict_labelled(&table, notes).map_err(|e| match e {
        Error::Data(m) => Error::Data(format!("{}: {m}", path.display())),
        other => other,
    })?;
    Metric::report_set(model.schema.task)
        .iter()
        .map(|m| Ok((m.name().to_string(), m.score(&truth, &pred)?)))
        .collect()
}

fn predict_file(model: &ModelFile, input: &Path, out: &Path, notes: &mut Vec<String>) -> Result<usize> {
    let table = Table::read(input)?;
    let pred = model.predict_table(&table, notes)?;
    write_atomic(out, predictions_csv(&model.schema, &pred).as_bytes())?;
    Ok(table.n_rows)
}

fn predict(a: PredictArgs) -> Result<()> {
    let path = if a.model.exists() {
        a.model.clone()
    } else {
        let reference = a.model.to_string_lossy().to_string();
        let root = Workspace::locate(a.workspace.as_deref());
        if !root.join("automl.db").exists() {
            return Err(Error::io(
                &a.model,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        let ws = Workspace::open(&root)?;
        let m = ws.store.model(&ModelRef::parse(&reference)?)?;
        eprintln!(
            "note: using registered model {}:{} (run {})",
            m.name, m.version, m.run
        );
        ws.root.join(m.path)
    };
    let model = ModelFile::load(&path)?;
    let mut notes = Vec::new();
    let n = predict_file(&model, &a.data, &a.out, &mut notes)?;
    if a.json {
        let v = json!({"rows": n, "out": a.out, "notes": notes, "learner": model.config.learner});
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| Error::Config(e.to_string()))?
        );
    } else {
        for n in &notes {
            eprintln!("note: {n}");
        }
        println!("{n} predictions written to {}", a.out.display());
    }
    Ok(())
}

/// The training file's name without extension; for generic names (`train.csv`), its folder's name.
fn default_experiment(train: &Path) -> String {
    let stem = train
        .file_stem()
        .map_or("default".into(), |s| s.to_string_lossy().to_string());
    let generic = ["train", "training", "data", "dataset"].contains(&stem.to_ascii_lowercase().as_str());
    let parent = train.canonicalize().ok().and_then(|p| {
        p.parent()
            .and_then(|d| d.file_name())
            .map(|d| d.to_string_lossy().to_string())
    });
    match (generic, parent) {
        (true, Some(dir)) => dir,
        _ => stem,
    }
}

/// FNV-1a 64 of a file's bytes, as hex (stable across platforms and Rust versions).
fn file_hash(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|b| bytes_hash(&b))
}

/// FNV-1a 64 of bytes, as hex.
fn bytes_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The current git commit when run inside a repository.
fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn open_existing(ws: &WorkspaceArgs) -> Result<Workspace> {
    let root = Workspace::locate(ws.workspace.as_deref());
    if !root.join("automl.db").exists() {
        return Err(Error::Store(format!(
            "no workspace at {} (run `automl run` first, or pass --workspace DIR)",
            root.display()
        )));
    }
    Workspace::open(&root)
}

fn print_json_value(v: &serde_json::Value) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(|e| Error::Config(e.to_string()))?
    );
    Ok(())
}

fn grid(header: &[&str]) -> Grid {
    let mut t = Grid::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    t
}

fn experiments_list(ws: &WorkspaceArgs) -> Result<()> {
    let w = open_existing(ws)?;
    let exps = w.store.experiments()?;
    if ws.json {
        return print_json_value(&json!(exps));
    }
    let mut t = grid(&["id", "experiment", "runs"]);
    for e in exps {
        t.add_row(vec![e.id.to_string(), e.name, e.runs.to_string()]);
    }
    println!("{t}");
    Ok(())
}

fn metric_of(r: &RunRecord, key: &str) -> Option<f64> {
    r.metrics.get(key).and_then(serde_json::Value::as_f64)
}

fn runs_list(
    experiment: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    ws: &WorkspaceArgs,
) -> Result<()> {
    let w = open_existing(ws)?;
    let status = status.as_deref().map(str::parse::<TrialState>).transpose()?;
    let mut runs = w.store.runs(&RunFilter {
        experiment,
        status,
        ..RunFilter::default()
    })?;
    if let Some(key) = &sort {
        let higher = key.parse::<Metric>().map_or(true, Metric::higher_is_better);
        runs.sort_by(|a, b| {
            let (x, y) = (metric_of(a, key), metric_of(b, key));
            match (x, y) {
                (Some(x), Some(y)) if higher => y.total_cmp(&x),
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.id.cmp(&b.id),
            }
        });
    }
    if ws.json {
        return print_json_value(&json!(runs));
    }
    let mut t = grid(&[
        "run",
        "experiment",
        "status",
        "best learner",
        "metric",
        "trials",
        "duration s",
    ]);
    for r in &runs {
        let metric = r.params.get("metric").and_then(|m| m.as_str()).unwrap_or("");
        let score = metric_of(r, metric).map_or("-".into(), |v| format!("{metric} {v:.4}"));
        let tag = |k: &str| r.tags.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_string();
        t.add_row(vec![
            r.id.to_string(),
            r.experiment.clone(),
            r.status.name().to_string(),
            tag("best_learner"),
            score,
            tag("trials"),
            format!("{:.1}", r.duration()),
        ]);
    }
    println!("{t}");
    Ok(())
}

fn runs_show(id: i64, ws: &WorkspaceArgs) -> Result<()> {
    let w = open_existing(ws)?;
    let run = w.store.run(id)?;
    let history = w.store.metric_history(id)?;
    let children = w.store.runs(&RunFilter {
        parent: Some(id),
        ..RunFilter::default()
    })?;
    if ws.json {
        return print_json_value(&json!({"run": run, "metric_history": history, "children": children}));
    }
    println!(
        "run {} ({}), experiment '{}', status {}",
        run.id,
        run.name,
        run.experiment,
        run.status.name()
    );
    if let Some(p) = run.parent {
        println!("parent run: {p}");
    }
    println!("duration: {:.2}s", run.duration());
    if let Some(d) = &run.dataset {
        println!("dataset: {d}");
    }
    if let Some(e) = &run.error {
        println!("error: {e}");
    }
    let kv = |title: &str, m: &serde_json::Map<String, serde_json::Value>| {
        if !m.is_empty() {
            let mut t = grid(&[title, "value"]);
            for (k, v) in m {
                t.add_row(vec![k.clone(), v.to_string().trim_matches('"').to_string()]);
            }
            println!("{t}");
        }
    };
    kv("param", &run.params);
    kv("metric", &run.metrics);
    kv("tag", &run.tags);
    if history.iter().any(|p| p.step > 0) {
        let mut t = grid(&["metric", "step", "value"]);
        for p in history
            .iter()
            .filter(|p| history.iter().filter(|q| q.key == p.key).count() > 1)
        {
            t.add_row(vec![p.key.clone(), p.step.to_string(), format!("{:.6}", p.value)]);
        }
        println!("metric history\n{t}");
    }
    for (name, path) in &run.artifacts {
        println!("artifact {name}: {}", w.root.join(path).display());
    }
    if !children.is_empty() {
        let metric = run
            .params
            .get("metric")
            .and_then(|m| m.as_str())
            .unwrap_or("")
            .to_string();
        let failed = children.iter().filter(|c| c.status == TrialState::Failed).count();
        println!(
            "{} trial runs ({failed} failed); `automl runs show <trial run>` for one",
            children.len()
        );
        let mut best: Vec<&RunRecord> = children
            .iter()
            .filter(|c| metric_of(c, &metric).is_some())
            .collect();
        let higher = metric.parse::<Metric>().map_or(true, Metric::higher_is_better);
        best.sort_by(|a, b| {
            let (x, y) = (
                metric_of(a, &metric).unwrap_or(0.0),
                metric_of(b, &metric).unwrap_or(0.0),
            );
            if higher {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            }
        });
        let mut t = grid(&["trial run", "name", "status", &metric]);
        for c in best.iter().take(5) {
            t.add_row(vec![
                c.id.to_string(),
                c.name.clone(),
                c.status.name().to_string(),
                metric_of(c, &metric).map_or("-".into(), |v| format!("{v:.4}")),
            ]);
        }
        println!("{t}");
    }
    if run.parent.is_none() {
        println!(
            "environment: {}",
            serde_json::to_string(&run.environment).map_err(|e| Error::Config(e.to_string()))?
        );
    }
    Ok(())
}

fn data_cmd(c: DataCmd) -> Result<()> {
    match c {
        DataCmd::Register { name, file, ws } => {
            let table = Table::read(&file)?;
            let profile = json!({
                "rows": table.n_rows,
                "columns": table.columns.iter().map(|c| json!({
                    "name": c.name, "type": c.raw, "missing": c.missing(), "distinct": c.distinct()
                })).collect::<Vec<_>>(),
            });
            let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            let hash = bytes_hash(&bytes);
            automl::store::registry::check_model_name(&name)?;
            let root = Workspace::locate(ws.workspace.as_deref());
            let w = Workspace::open(&root)?;
            let fname = file
                .file_name()
                .map_or("data".into(), |f| f.to_string_lossy().to_string());
            // The copy lands (atomically, under its content hash) before the version row is written.
            let rel = format!("datasets/{name}/{hash}/{fname}");
            let dest = w.root.join(&rel);
            if !dest.exists() {
                write_atomic(&dest, &bytes)?;
            }
            let (d, new) = w.store.register_dataset(&name, &hash, &rel, &profile)?;
            if ws.json {
                return print_json_value(&json!({"dataset": d, "new_version": new}));
            }
            if new {
                println!(
                    "registered {}:{} ({} rows, hash {})",
                    d.name, d.version, table.n_rows, d.hash
                );
            } else {
                println!(
                    "{}:{} already holds this content (hash {}); no new version",
                    d.name, d.version, d.hash
                );
            }
            Ok(())
        }
        DataCmd::List(ws) => {
            let w = open_existing(&ws)?;
            let all = w.store.datasets(None)?;
            if ws.json {
                return print_json_value(&json!(all));
            }
            let mut t = grid(&["dataset", "version", "rows", "hash", "path"]);
            for d in all {
                t.add_row(vec![
                    d.name,
                    d.version.to_string(),
                    d.profile["rows"].to_string(),
                    d.hash,
                    d.path,
                ]);
            }
            println!("{t}");
            Ok(())
        }
    }
}

fn models_cmd(c: ModelsCmd) -> Result<()> {
    match c {
        ModelsCmd::Register {
            name,
            run,
            description,
            tags,
            alias,
            ws,
        } => {
            let w = open_existing(&ws)?;
            let mut kv = Vec::new();
            for t in &tags {
                let (k, v) = t
                    .split_once('=')
                    .ok_or_else(|| Error::Config(format!("--tag '{t}' must be KEY=VALUE")))?;
                kv.push((k.to_string(), v.to_string()));
            }
            let v = w.register_run_model(&name, run, &description, &kv, alias.as_deref())?;
            if ws.json {
                return print_json_value(&json!(w.store.model(&ModelRef::Version(name, v))?));
            }
            println!("registered model {name}:{v} from run {run}");
            Ok(())
        }
        ModelsCmd::List { name, ws } => {
            let w = open_existing(&ws)?;
            let all = w.store.models(name.as_deref())?;
            if ws.json {
                return print_json_value(&json!(all));
            }
            let mut t = grid(&["model", "version", "run", "aliases", "metrics", "description"]);
            for m in all {
                let metrics = m
                    .metrics
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| format!("{k}={:.4}", v.as_f64().unwrap_or(f64::NAN)))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                t.add_row(vec![
                    m.name,
                    m.version.to_string(),
                    m.run.to_string(),
                    m.aliases
                        .iter()
                        .map(|a| format!("@{a}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    metrics,
                    m.description,
                ]);
            }
            println!("{t}");
            Ok(())
        }
        ModelsCmd::Show { model, ws } => {
            let w = open_existing(&ws)?;
            let m = w.store.model(&ModelRef::parse(&model)?)?;
            let info = ModelFile::read_info(&w.root.join(&m.path))?;
            let history = w.store.alias_history(&m.name)?;
            let run = w.store.run(m.run)?;
            if ws.json {
                return print_json_value(&json!({
                    "model": m, "learner": info.config.learner, "task": info.schema.task,
                    "target": info.schema.target, "classes": info.schema.classes, "cv_score": info.cv_score,
                    "metric": info.metric, "alias_history": history, "run_environment": run.environment,
                    "dataset": run.dataset,
                }));
            }
            println!(
                "model {}:{} (run {}, experiment '{}')",
                m.name, m.version, m.run, run.experiment
            );
            if !m.description.is_empty() {
                println!("description: {}", m.description);
            }
            println!(
                "learner {}; task {} on '{}'; {} {:.4} ({})",
                info.config.learner,
                info.schema.task.name(),
                info.schema.target,
                info.metric,
                info.cv_score,
                info.validation
            );
            println!("params: {}", info.config.params.short());
            if !m.aliases.is_empty() {
                println!(
                    "aliases: {}",
                    m.aliases
                        .iter()
                        .map(|a| format!("@{a}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
            for (k, v) in &m.tags {
                println!("tag {k} = {}", v.as_str().unwrap_or_default());
            }
            for (alias, version, _) in history {
                println!("alias history: @{alias} -> {version}");
            }
            if let Some(d) = &run.dataset {
                println!("dataset version: {d}");
            }
            if let Some(d) = run.environment.get("data_hash") {
                println!(
                    "trained on {} (hash {})",
                    run.environment["data_file"].as_str().unwrap_or("?"),
                    d.as_str().unwrap_or("?")
                );
            }
            println!("file: {}", w.root.join(&m.path).display());
            Ok(())
        }
        ModelsCmd::Alias {
            name,
            alias,
            version,
            ws,
        } => {
            let w = open_existing(&ws)?;
            w.store.set_alias(&name, &alias, version)?;
            println!("@{alias} of {name} now points at version {version}");
            Ok(())
        }
        ModelsCmd::Export { model, out, ws } => {
            let w = open_existing(&ws)?;
            let m = w.store.model(&ModelRef::parse(&model)?)?;
            let bytes =
                std::fs::read(w.root.join(&m.path)).map_err(|e| Error::io(w.root.join(&m.path), e))?;
            write_atomic(&out, &bytes)?;
            println!("exported {}:{} to {}", m.name, m.version, out.display());
            Ok(())
        }
        ModelsCmd::Delete { model, ws } => {
            let w = open_existing(&ws)?;
            let ModelRef::Version(name, v) = ModelRef::parse(&model)? else {
                return Err(Error::Config(format!(
                    "give the version to delete as NAME:VERSION, not '{model}'"
                )));
            };
            w.store.delete_model(&name, v)?;
            println!("deleted model {name}:{v}");
            Ok(())
        }
    }
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
