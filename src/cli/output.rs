//! Terminal output shared by the commands: tables, the progress bar, warnings and JSON.

use std::time::Duration;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table as Grid};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use automl::{Error, Result};

/// A table with the given header, drawn with the condensed UTF-8 preset.
pub fn grid(header: &[&str]) -> Grid {
    let mut t = Grid::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    t
}

/// `warning: MSG` on stderr unless `quiet`.
pub fn warn(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("warning: {msg}");
    }
}

/// Print `v` as pretty JSON on stdout, through [`serde_json::Value`] (so objects print as `json!`
/// builds them); a value that cannot be serialised is an error.
pub fn print_json<T: Serialize + ?Sized>(v: &T) -> Result<()> {
    let v = serde_json::to_value(v).map_err(|e| Error::Config(e.to_string()))?;
    write_json(&v)
}

/// Write `v` as pretty JSON and a newline to stdout as it serialises, without building the text
/// or a [`serde_json::Value`] of it first (a run's leaderboard can hold tens of thousands of
/// trials). A closed or failing stdout is an error naming it, not a panic.
pub fn write_json<T: Serialize + ?Sized>(v: &T) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let io = |e: std::io::Error| Error::io("stdout", e);
    serde_json::to_writer_pretty(&mut out, v).map_err(|e| match e.io_error_kind() {
        Some(kind) => io(std::io::Error::new(kind, e.to_string())),
        None => Error::Config(e.to_string()),
    })?;
    out.write_all(b"\n").and_then(|()| out.flush()).map_err(io)
}

/// A progress bar over trials: a bar to `max_trials` when known, else a spinner; hidden when asked.
pub fn progress_bar(hidden: bool, max_trials: Option<usize>) -> ProgressBar {
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
