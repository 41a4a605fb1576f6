//! `automl endpoints|deployments|batch-endpoints|batch-deployments …`, `automl serve` and
//! `automl batch-score`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

use automl::serve::assets::{self, DeploymentSpec, EndpointSpec};
use automl::serve::batch::{self, BatchOptions, OutputAction};
use automl::serve::{serve as start_serving, ServeOptions};
use automl::store::{ModelRef, Workspace};
use automl::{Error, ModelFile, Result};

use super::flags::{JsonArgs, StoreArgs, WorkspaceArgs};
use super::output::{grid, print_json, progress_bar};

/// `automl endpoints` / `automl batch-endpoints`.
#[derive(Subcommand)]
pub enum EndpointsCmd {
    /// Create an endpoint (keys are made at once; see `keys`).
    Create {
        /// Name (letters, digits, '-'); or give -f.
        name: Option<String>,
        /// An Azure ML CLI v2 endpoint YAML, read as is (cloud-only fields reported as ignored).
        #[arg(short = 'f', long = "file", value_name = "YAML")]
        file: Option<PathBuf>,
        /// key (every request needs Authorization: Bearer KEY) or none (loopback only).
        #[arg(long, default_value = "key", value_parser = ["key", "none"])]
        auth: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        ws: StoreArgs,
    },
    /// Set the traffic split (must add up to 100) and mirrored traffic (at most 50 %).
    Update {
        /// Endpoint name.
        name: String,
        /// Percent of requests per deployment, e.g. blue=90,green=10.
        #[arg(long, value_name = "NAME=PCT,…")]
        traffic: Option<String>,
        /// Percent of requests copied to a deployment (answers discarded), e.g. green=20; "" clears.
        #[arg(long, value_name = "NAME=PCT,…")]
        mirror: Option<String>,
        #[command(flatten)]
        ws: StoreArgs,
    },
    /// List endpoints with their deployments and traffic.
    List(StoreArgs),
    /// Show one endpoint.
    Show {
        /// Endpoint name.
        name: String,
        #[command(flatten)]
        ws: StoreArgs,
    },
    /// Delete an endpoint and its deployments.
    Delete {
        /// Endpoint name.
        name: String,
        #[command(flatten)]
        ws: StoreArgs,
    },
    /// Print the endpoint's primary and secondary keys; --regenerate replaces one (a running
    /// server accepts the new key and refuses the old one within a second).
    Keys {
        /// Endpoint name.
        name: String,
        /// Replace this key first.
        #[arg(long, value_parser = ["primary", "secondary"])]
        regenerate: Option<String>,
        #[command(flatten)]
        ws: StoreArgs,
    },
}

/// `automl deployments` / `automl batch-deployments`.
#[derive(Subcommand)]
pub enum DeploymentsCmd {
    /// Create (or replace) a deployment serving a registered model.
    Create(Box<DeploymentArgs>),
    /// List an endpoint's deployments.
    List {
        /// Endpoint name.
        endpoint: String,
        #[command(flatten)]
        ws: StoreArgs,
    },
    /// Delete a deployment (refused while it takes traffic).
    Delete {
        /// Endpoint name.
        endpoint: String,
        /// Deployment name.
        name: String,
        #[command(flatten)]
        ws: StoreArgs,
    },
}

/// Batch settings, each with Azure's batch-deployment name.
#[derive(Args, Clone, Default)]
pub struct BatchFlags {
    /// Rows per mini-batch (default 10000).
    #[arg(long, value_name = "ROWS")]
    mini_batch_size: Option<usize>,
    /// Mini-batches scored at once (default: the CPU count).
    #[arg(long, value_name = "N")]
    max_concurrency: Option<usize>,
    /// append_row (one file of every row) or summary_only.
    #[arg(long, value_parser = ["append_row", "summary_only"])]
    output_action: Option<String>,
    /// Name of the joined output file (default predictions.csv).
    #[arg(long, value_name = "NAME")]
    output_file_name: Option<String>,
    /// Rows of failed mini-batches tolerated before the job stops (-1: any; default -1).
    #[arg(long, value_name = "ROWS", allow_negative_numbers = true)]
    error_threshold: Option<i64>,
    /// Retries of a failed mini-batch (default 3).
    #[arg(long, value_name = "N")]
    max_retries: Option<u32>,
}

impl BatchFlags {
    fn apply(&self, mut o: BatchOptions) -> BatchOptions {
        if let Some(n) = self.mini_batch_size {
            o.mini_batch_size = n;
        }
        if let Some(n) = self.max_concurrency {
            o.max_concurrency = n;
        }
        if let Some(a) = &self.output_action {
            o.output_action = if a == "summary_only" {
                OutputAction::SummaryOnly
            } else {
                OutputAction::AppendRow
            };
        }
        if let Some(f) = &self.output_file_name {
            o.output_file_name = f.clone();
        }
        if let Some(n) = self.error_threshold {
            o.error_threshold = n;
        }
        if let Some(n) = self.max_retries {
            o.max_retries = n;
        }
        o
    }
}

/// The flags of `automl deployments create`.
#[derive(Args)]
pub struct DeploymentArgs {
    /// Endpoint name (or endpoint_name in -f).
    endpoint: Option<String>,
    /// Deployment name, e.g. blue.
    #[arg(long)]
    name: Option<String>,
    /// Registered model: NAME, NAME:VERSION or NAME@ALIAS (follows the alias when it moves).
    #[arg(long)]
    model: Option<String>,
    /// An Azure ML CLI v2 deployment YAML, read as is (cloud-only fields reported as ignored).
    #[arg(short = 'f', long = "file", value_name = "YAML")]
    file: Option<PathBuf>,
    #[command(flatten)]
    batch: BatchFlags,
    #[command(flatten)]
    ws: StoreArgs,
}

/// The flags of `automl serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Endpoints to serve (default: every online endpoint of the workspace).
    endpoints: Vec<String>,
    #[command(flatten)]
    ws: WorkspaceArgs,
    /// Address to listen on (anything but loopback needs key auth on every endpoint).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Largest request body in MiB (413 beyond).
    #[arg(long, default_value_t = 16.0, value_name = "MIB")]
    max_body_mb: f64,
    /// Longest time a request may take, seconds (408 beyond).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    request_timeout: f64,
    #[command(flatten)]
    out: JsonArgs,
}

/// `automl serve --help`'s closing text.
pub const SERVE_HELP: &str = "\
Routes, per endpoint NAME:
  POST /endpoints/NAME/score        Azure ML: {\"input_data\": {\"columns\", \"index\", \"data\"}} or {\"data\": [...]}
  POST /endpoints/NAME/invocations  MLflow: one of dataframe_split, dataframe_records, instances,
                                    inputs (JSON), or text/csv; answers {\"predictions\": [...]}
  POST /v2/models/NAME/infer        KServe / Open Inference Protocol v2
  GET  /health  /ready  /metrics (Prometheus)  /openapi.json
The header azureml-model-deployment pins a deployment. Keys: Authorization: Bearer KEY (see
automl endpoints keys NAME). Answers carry x-automl-model (NAME:VERSION), x-automl-device and
azureml-model-deployment. The workspace is read again every second: traffic, keys and aliases
apply without a restart.

Example:
  automl endpoints create churn && automl deployments create churn --name blue --model churn@prod
  automl serve --port 8080";

/// The flags of `automl batch-score`.
#[derive(Args)]
pub struct BatchScoreArgs {
    /// A batch (or online) endpoint of the workspace, a registered model (NAME, NAME:VERSION,
    /// NAME@ALIAS) or a model file.
    source: String,
    /// A CSV or Parquet file, or a folder of them.
    #[arg(long, value_name = "FILE|FOLDER")]
    input: PathBuf,
    /// Output folder (an interrupted job run again with the same folder resumes).
    #[arg(long, value_name = "DIR")]
    output: PathBuf,
    #[command(flatten)]
    batch: BatchFlags,
    #[command(flatten)]
    ws: StoreArgs,
}

fn note_ignored(ignored: &[String], json: bool) {
    if !ignored.is_empty() && !json {
        eprintln!("note: cloud-only fields read and ignored: {}", ignored.join(", "));
    }
}

/// `automl endpoints …` (`batch`: `automl batch-endpoints …`).
pub fn endpoints(c: EndpointsCmd, batch: bool) -> Result<()> {
    let kind = if batch { "batch" } else { "online" };
    match c {
        EndpointsCmd::Create {
            name,
            file,
            auth,
            description,
            ws,
        } => {
            let w = ws.ws.open()?;
            let spec = match (&file, name) {
                (Some(f), given) => {
                    let mut s = assets::endpoint_yaml(f, batch)?;
                    if let Some(n) = given {
                        s.name = n;
                    }
                    s
                }
                (None, Some(n)) => EndpointSpec {
                    name: n,
                    auth,
                    description,
                    traffic: None,
                    mirror: None,
                    settings: serde_json::Value::Null,
                    ignored: Vec::new(),
                },
                (None, None) => return Err(Error::Config("give the endpoint's NAME or -f FILE".into())),
            };
            note_ignored(&spec.ignored, ws.json());
            let e = assets::create_endpoint(w.store.as_ref(), &w.root, kind, &spec)?;
            if spec.traffic.is_some() || spec.mirror.is_some() {
                eprintln!(
                    "note: traffic in the file applies once its deployments exist (automl endpoints update)"
                );
            }
            if ws.json() {
                return print_json(&json!({"name": e.name, "kind": e.kind, "auth": e.auth}));
            }
            println!(
                "{kind} endpoint '{}' created (auth {}); next: automl {}deployments create {} --name blue --model MODEL",
                e.name,
                e.auth,
                if batch { "batch-" } else { "" },
                e.name
            );
            Ok(())
        }
        EndpointsCmd::Update {
            name,
            traffic,
            mirror,
            ws,
        } => {
            let w = ws.ws.open_existing()?;
            let t = traffic.map(|t| assets::parse_split(&t, "traffic")).transpose()?;
            let m = mirror.map(|m| assets::parse_split(&m, "mirror")).transpose()?;
            let e = assets::set_traffic(w.store.as_ref(), &name, t, m)?;
            if ws.json() {
                return print_json(&json!({"name": e.name, "traffic": e.traffic, "mirror": e.mirror}));
            }
            println!(
                "endpoint '{}': traffic {:?}, mirror {:?}",
                e.name, e.traffic, e.mirror
            );
            Ok(())
        }
        EndpointsCmd::List(ws) => {
            let w = ws.ws.open_existing()?;
            let mut rows = Vec::new();
            for e in w.store.endpoints()?.into_iter().filter(|e| e.kind == kind) {
                let deps = w.store.deployments(&e.name)?;
                rows.push((e, deps));
            }
            if ws.json() {
                let v: Vec<_> = rows
                    .iter()
                    .map(|(e, d)| json!({"name": e.name, "auth": e.auth, "traffic": e.traffic, "mirror": e.mirror, "deployments": d.iter().map(|d| json!({"name": d.name, "model": d.model})).collect::<Vec<_>>()}))
                    .collect();
                return print_json(&v);
            }
            let mut t = grid(&["endpoint", "auth", "deployments", "traffic", "mirror"]);
            for (e, d) in rows {
                let show = |m: &std::collections::BTreeMap<String, u32>| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                t.add_row(vec![
                    e.name.clone(),
                    e.auth.clone(),
                    d.iter()
                        .map(|d| format!("{} ({})", d.name, d.model))
                        .collect::<Vec<_>>()
                        .join(", "),
                    show(&e.traffic),
                    show(&e.mirror),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        EndpointsCmd::Show { name, ws } => {
            let w = ws.ws.open_existing()?;
            let e = w.store.endpoint(&name)?;
            let deps = w.store.deployments(&name)?;
            let v = json!({
                "name": e.name, "kind": e.kind, "auth": e.auth, "description": e.description,
                "traffic": e.traffic, "mirror": e.mirror, "keys": assets::key_state(&e.keys),
                "settings": e.settings, "deployments": deps,
            });
            if ws.json() {
                return print_json(&v);
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&v).map_err(|e| Error::Config(e.to_string()))?
            );
            Ok(())
        }
        EndpointsCmd::Delete { name, ws } => {
            let w = ws.ws.open_existing()?;
            w.store.delete_endpoint(&name)?;
            if !ws.json() {
                println!("endpoint '{name}' deleted");
            }
            Ok(())
        }
        EndpointsCmd::Keys { name, regenerate, ws } => {
            let w = ws.ws.open_existing()?;
            let (p, s) = assets::endpoint_keys(w.store.as_ref(), &w.root, &name, regenerate.as_deref())?;
            if ws.json() {
                return print_json(&json!({"primary": p, "secondary": s}));
            }
            println!("primary:   {p}\nsecondary: {s}");
            Ok(())
        }
    }
}

/// `automl deployments …` (`batch`: `automl batch-deployments …`).
pub fn deployments(c: DeploymentsCmd, batch: bool) -> Result<()> {
    match c {
        DeploymentsCmd::Create(a) => {
            let w = a.ws.ws.open_existing()?;
            let spec = match &a.file {
                Some(f) => assets::deployment_yaml(f, batch)?,
                None => DeploymentSpec {
                    name: a
                        .name
                        .clone()
                        .ok_or_else(|| Error::Config("--name is required (or -f FILE)".into()))?,
                    endpoint: None,
                    model: a
                        .model
                        .clone()
                        .ok_or_else(|| Error::Config("--model is required (or -f FILE)".into()))?,
                    batch: batch.then(BatchOptions::default),
                    ignored: Vec::new(),
                },
            };
            note_ignored(&spec.ignored, a.ws.json());
            let endpoint =
                a.endpoint.clone().or(spec.endpoint.clone()).ok_or_else(|| {
                    Error::Config("give the ENDPOINT (or endpoint_name in the file)".into())
                })?;
            let name = a.name.clone().unwrap_or(spec.name.clone());
            let model = a.model.clone().unwrap_or(spec.model.clone());
            let kind = w.store.endpoint(&endpoint)?.kind;
            if (kind == "batch") != batch {
                return Err(Error::Config(format!(
                    "endpoint '{endpoint}' is a {kind} endpoint: use automl {}deployments",
                    if kind == "batch" { "batch-" } else { "" }
                )));
            }
            let settings = match spec.batch {
                Some(o) => {
                    serde_json::to_value(a.batch.apply(o)).map_err(|e| Error::Config(e.to_string()))?
                }
                None => serde_json::Value::Null,
            };
            let e = assets::create_deployment(w.store.as_ref(), &endpoint, &name, &model, settings)?;
            if a.ws.json() {
                return print_json(
                    &json!({"endpoint": endpoint, "name": name, "model": model, "traffic": e.traffic}),
                );
            }
            println!(
                "deployment '{name}' of '{endpoint}' serves {model}; traffic {:?}",
                e.traffic
            );
            Ok(())
        }
        DeploymentsCmd::List { endpoint, ws } => {
            let w = ws.ws.open_existing()?;
            let deps = w.store.deployments(&endpoint)?;
            if ws.json() {
                return print_json(&deps);
            }
            let e = w.store.endpoint(&endpoint)?;
            let mut t = grid(&["deployment", "model", "traffic", "mirror"]);
            for d in deps {
                t.add_row(vec![
                    d.name.clone(),
                    d.model.clone(),
                    e.traffic.get(&d.name).copied().unwrap_or(0).to_string(),
                    e.mirror.get(&d.name).copied().unwrap_or(0).to_string(),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        DeploymentsCmd::Delete { endpoint, name, ws } => {
            let w = ws.ws.open_existing()?;
            assets::delete_deployment(w.store.as_ref(), &endpoint, &name)?;
            if !ws.json() {
                println!("deployment '{name}' of '{endpoint}' deleted");
            }
            Ok(())
        }
    }
}

/// `automl serve`: until Ctrl-C.
pub fn serve(a: ServeArgs) -> Result<()> {
    let w = a.ws.open_existing()?;
    if !(a.max_body_mb > 0.0 && a.request_timeout > 0.0) {
        return Err(Error::Config(
            "--max-body-mb and --request-timeout must be positive".into(),
        ));
    }
    let opts = ServeOptions {
        host: a.host,
        port: a.port,
        endpoints: a.endpoints.clone(),
        max_body: (a.max_body_mb * 1024.0 * 1024.0) as usize,
        timeout: Duration::from_secs_f64(a.request_timeout),
        ..ServeOptions::default()
    };
    let mut s = start_serving(w.store.clone(), w.root.clone(), opts)?;
    let served = s.served();
    if a.out.json {
        print_json(&json!({"uri": format!("http://{}", s.addr()), "endpoints": served}))?;
    } else {
        eprintln!(
            "serving at http://{} (Ctrl-C stops; GET /openapi.json lists the routes)",
            s.addr()
        );
        for (e, deps) in &served {
            for (d, m, v) in deps {
                eprintln!("  {e}/{d}: {m}:{v}");
            }
        }
    }
    let stop = std::sync::Mutex::new(Some(s.stopper()));
    ctrlc::set_handler(move || {
        if let Some(f) = stop.lock().ok().and_then(|mut s| s.take()) {
            f();
        }
    })
    .map_err(|e| Error::Config(format!("cannot catch Ctrl-C: {e}")))?;
    s.wait();
    Ok(())
}

/// `automl batch-score`.
pub fn batch_score(a: BatchScoreArgs) -> Result<()> {
    let json_out = a.ws.json();
    let root = a.ws.ws.root();
    let ws = Workspace::exists(&root)
        .then(|| Workspace::open(&root))
        .transpose()?;
    // Endpoint (its default deployment and settings), registered model, or model file.
    let mut opts = BatchOptions::default();
    let (path, id) = match &ws {
        Some(w) if w.store.endpoint(&a.source).is_ok() => {
            let e = w.store.endpoint(&a.source)?;
            let d = assets::default_deployment(w.store.as_ref(), &e)?;
            if let Ok(o) = serde_json::from_value::<BatchOptions>(d.settings.clone()) {
                opts = o;
            }
            let v = w.store.model(&ModelRef::parse(&d.model)?)?;
            (w.file(&v.path)?, format!("{}:{}", v.name, v.version))
        }
        _ if std::path::Path::new(&a.source).is_file() => (PathBuf::from(&a.source), a.source.clone()),
        Some(w) => {
            let v = w.store.model(&ModelRef::parse(&a.source)?)?;
            (w.file(&v.path)?, format!("{}:{}", v.name, v.version))
        }
        None => {
            return Err(Error::Config(format!(
                "'{}' is not a model file, and there is no workspace at {} to find an endpoint or model in",
                a.source,
                root.display()
            )))
        }
    };
    let opts = a.batch.apply(opts);
    let model = ModelFile::load(&path)?;
    let files = batch::input_files(&a.input)?;
    let bar = progress_bar(json_out, None);
    bar.set_message(format!("scoring with {id}"));
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let sum = batch::score(&model, &id, &files, &a.output, &opts, &progress)?;
    bar.finish_and_clear();
    if json_out {
        return print_json(&sum);
    }
    println!(
        "{} rows of {} file(s) scored with {id} in {:.1}s ({} mini-batches{}){}",
        sum.rows,
        sum.files,
        sum.secs,
        sum.mini_batches,
        if sum.resumed > 0 {
            format!(", {} done before", sum.resumed)
        } else {
            String::new()
        },
        sum.output
            .as_ref()
            .map_or(String::new(), |p| format!("; written to {}", p.display()))
    );
    for (what, why) in &sum.failed {
        println!("  failed: {what}: {why}");
    }
    Ok(())
}
