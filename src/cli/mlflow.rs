//! `automl server` (the MLflow tracking API over a workspace) and `automl mlflow export`.

use std::net::{IpAddr, SocketAddr};

use clap::{Args, Subcommand};

use automl::tracking::{export, random_key, Auth, Scope, Server};
use automl::{Error, Result};

use super::flags::{JsonArgs, StoreArgs, WorkspaceArgs};
use super::output::{print_json, progress_bar};

/// `automl server --help`'s closing text.
pub const SERVER_HELP: &str = "\
MLflow clients point at it like at an MLflow server:
  export MLFLOW_TRACKING_URI=http://127.0.0.1:5000
  python -c 'import mlflow; print(mlflow.search_runs(experiment_names=[\"penguins\"]))'
It serves the MLflow 2.x REST routes: experiments, runs (create, get, update, log-metric,
log-parameter, log-batch, set-tag, search), metric history, artifacts (mlflow-artifacts proxy)
and the registry's models, versions and aliases (read). On any address other than loopback every
request needs `Authorization: Bearer KEY` (MLFLOW_TRACKING_TOKEN=KEY for the MLflow client); the
key is $AUTOML_SERVER_KEY, else a new one printed at start.";

/// The flags of `automl server`.
#[derive(Args)]
pub struct ServerArgs {
    #[command(flatten)]
    ws: WorkspaceArgs,
    /// Address to listen on (anything but loopback needs a key).
    #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
    host: IpAddr,
    /// Port (0: any free port, printed at start).
    #[arg(long, default_value_t = 5000, value_name = "N")]
    port: u16,
    #[command(flatten)]
    out: JsonArgs,
}

/// `automl server`: serve until Ctrl-C.
pub fn server(a: ServerArgs) -> Result<()> {
    let ws = a.ws.open()?;
    let key = match (a.host.is_loopback(), std::env::var("AUTOML_SERVER_KEY").ok()) {
        (_, Some(k)) if !k.trim().is_empty() => Some((k.trim().to_string(), false)),
        (true, _) => None,
        (false, _) => Some((random_key()?, true)),
    };
    let auth = key.as_ref().map_or(Auth::Open, |(k, _)| Auth::key(k));
    let mut server = Server::start(
        ws.store.clone(),
        ws.root.clone(),
        Scope::Workspace,
        auth,
        SocketAddr::new(a.host, a.port),
    )?;
    let uri = server.uri();
    if a.out.json {
        print_json(&serde_json::json!({
            "uri": uri,
            "workspace": ws.location,
            "key": key.as_ref().filter(|(_, new)| *new).map(|(k, _)| k.clone()),
        }))?;
    } else {
        eprintln!(
            "serving the MLflow tracking API of workspace {} at {uri}",
            ws.location
        );
        match &key {
            Some((k, true)) => eprintln!("key (use it as MLFLOW_TRACKING_TOKEN): {k}"),
            Some((_, false)) => eprintln!("key: $AUTOML_SERVER_KEY"),
            None => eprintln!("loopback only, no key; Ctrl-C stops"),
        }
    }
    let stop = std::sync::Mutex::new(Some(server.stopper()));
    ctrlc::set_handler(move || {
        if let Some(f) = stop.lock().ok().and_then(|mut s| s.take()) {
            f();
        }
    })
    .map_err(|e| Error::Config(format!("cannot catch Ctrl-C: {e}")))?;
    server.wait();
    Ok(())
}

/// `automl mlflow`.
#[derive(Subcommand)]
pub enum MlflowCmd {
    /// Push a run with its trials (or every run of an experiment) to an MLflow tracking server:
    /// parameters, step metrics, tags, artifacts, and with --models the registered versions with
    /// their tags and aliases. A second export updates rather than duplicates.
    Export(ExportArgs),
}

/// The flags of `automl mlflow export`.
#[derive(Args)]
pub struct ExportArgs {
    /// Run id, or experiment name.
    which: String,
    /// The MLflow server (credentials from MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and
    /// MLFLOW_TRACKING_PASSWORD).
    #[arg(long, value_name = "URL")]
    to: String,
    /// Also export the registered model versions of these runs, with tags and aliases.
    #[arg(long)]
    models: bool,
    #[command(flatten)]
    ws: StoreArgs,
}

/// `automl mlflow …`.
pub fn mlflow(c: MlflowCmd) -> Result<()> {
    let MlflowCmd::Export(a) = c;
    let ws = a.ws.ws.open_existing()?;
    let bar = progress_bar(a.ws.json(), None);
    bar.set_message("exporting runs");
    let sum = export::export(
        ws.store.as_ref(),
        &ws.root,
        &a.which,
        &a.to,
        a.models,
        &|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    if a.ws.json() {
        return print_json(&sum);
    }
    println!(
        "exported {} run(s) to {} (experiment {}): {} created, {} metric point(s), {} parameter(s), {} artifact file(s){}",
        sum.runs.len(),
        sum.target,
        sum.experiment_id,
        sum.runs_created,
        sum.metrics_sent,
        sum.params_sent,
        sum.artifacts_sent,
        if a.models {
            format!(", {} model version(s) created", sum.versions_created)
        } else {
            String::new()
        }
    );
    for s in &sum.skipped {
        println!("  skipped: {s}");
    }
    Ok(())
}
