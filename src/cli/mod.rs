//! The command line: parsing ([`Cli`], [`Command`]) and one module per command group, each
//! calling the library and printing what it returns. Nothing here decides, records or computes
//! what the library can.

use clap::{Parser, Subcommand};

use automl::Result;

mod data;
mod endpoints;
mod flags;
mod learners;
mod mlflow;
mod models;
mod output;
mod predict;
mod run;
mod runs;
mod sweep;
mod worker;

/// AutoML for tables: search preprocessing + learners + hyperparameters, keep the best model.
#[derive(Parser)]
#[command(name = "automl", version, about, long_about = None)]
#[command(after_help = "Examples:\n  \
automl run datasets/penguins/train.csv --target species --time-budget 30 --test datasets/penguins/test.csv --report report.html\n  \
automl predict --model model.automl --data datasets/penguins/test.csv --out predictions.csv\n  \
automl leaderboard 1 --format html --out report.html")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Search for the best pipeline on a training table, save it, optionally score and predict.
    #[command(after_help = run::run_help())]
    Run(Box<run::RunArgs>),
    /// Tune any program's hyperparameters: run it once per trial with sampled parameters, read
    /// its metric lines, stop hopeless or slow trials.
    #[command(after_help = sweep::SWEEP_HELP)]
    Sweep(sweep::SweepArgs),
    /// Take trials of the open distributed runs of a workspace (PostgreSQL for many machines,
    /// SQLite for many processes on one), until none is left.
    #[command(after_help = worker::WORKER_HELP)]
    Worker(worker::WorkerArgs),
    /// The leaderboard of a recorded run (or of every run of an experiment): table, Markdown, CSV
    /// or versioned JSON.
    Leaderboard(runs::LeaderboardArgs),
    /// The learners a run can search (tasks, default or only when named) and each one's search
    /// space.
    Learners(learners::LearnersArgs),
    /// Predict with a saved model.
    Predict(predict::PredictArgs),
    /// Experiments recorded in the workspace.
    #[command(subcommand)]
    Experiments(runs::ExperimentsCmd),
    /// Runs recorded in the workspace.
    #[command(subcommand)]
    Runs(runs::RunsCmd),
    /// Registered dataset versions.
    #[command(subcommand)]
    Data(data::DataCmd),
    /// The model registry: named, versioned models with tags and aliases.
    #[command(subcommand)]
    Models(models::ModelsCmd),
    /// Serve the workspace through the MLflow tracking REST API, so MLflow clients
    /// (`mlflow.search_runs`, `MlflowClient`) read and write its runs and read its registry.
    #[command(after_help = mlflow::SERVER_HELP)]
    Server(mlflow::ServerArgs),
    /// MLflow interoperation: export runs and models to an MLflow tracking server.
    #[command(subcommand)]
    Mlflow(mlflow::MlflowCmd),
    /// Online endpoints: named, keyed, with deployments and a traffic split (`automl serve`).
    #[command(subcommand)]
    Endpoints(endpoints::EndpointsCmd),
    /// Deployments of online endpoints: which registered model each serves.
    #[command(subcommand)]
    Deployments(endpoints::DeploymentsCmd),
    /// Batch endpoints (`automl batch-score ENDPOINT`).
    #[command(subcommand)]
    BatchEndpoints(endpoints::EndpointsCmd),
    /// Deployments of batch endpoints, with Azure's batch settings.
    #[command(subcommand)]
    BatchDeployments(endpoints::DeploymentsCmd),
    /// Serve the online endpoints of the workspace over HTTP (Azure ML, MLflow and KServe v2
    /// request formats).
    #[command(after_help = endpoints::SERVE_HELP)]
    Serve(endpoints::ServeArgs),
    /// Score CSV/Parquet files in mini-batches, in parallel, resumable (a batch endpoint, a
    /// registered model or a model file).
    BatchScore(endpoints::BatchScoreArgs),
}

/// Parse the command line and run the command.
pub fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run(a) => run::run(*a),
        Command::Sweep(a) => sweep::sweep(a),
        Command::Worker(a) => worker::worker(a),
        Command::Leaderboard(a) => runs::leaderboard(a),
        Command::Learners(a) => learners::learners(a),
        Command::Predict(a) => predict::predict(a),
        Command::Experiments(c) => runs::experiments(c),
        Command::Runs(c) => runs::runs(c),
        Command::Data(c) => data::data(c),
        Command::Models(c) => models::models(c),
        Command::Server(a) => mlflow::server(a),
        Command::Mlflow(c) => mlflow::mlflow(c),
        Command::Endpoints(c) => endpoints::endpoints(c, false),
        Command::Deployments(c) => endpoints::deployments(c, false),
        Command::BatchEndpoints(c) => endpoints::endpoints(c, true),
        Command::BatchDeployments(c) => endpoints::deployments(c, true),
        Command::Serve(a) => endpoints::serve(a),
        Command::BatchScore(a) => endpoints::batch_score(a),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
