//! Trials that are programs: run a user's command once per trial, without a shell, with the
//! trial's parameters as arguments and environment variables; read metrics from its standard
//! output; stop its whole process group when the policy prunes it or it times out.
//!
//! **Metric protocol.** A line of standard output that is a JSON object with an `automl_metric`
//! key is a metric report: `{"automl_metric": "val_loss", "value": 0.31, "step": 4}` (`step`
//! optional: reports of one metric are numbered 1, 2, …). Every other line passes through to
//! the trial's `stdout.log` untouched.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::space::{Params, Value};
use crate::sweep::{Stop, Trial, TrialError};

/// How a trial's program is started.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    /// Program and arguments; each element may hold `${{search_space.NAME}}` and
    /// `${{inputs.NAME}}` placeholders, replaced inside that element only (no word splitting).
    pub argv: Vec<String>,
    /// Run `argv` joined into one `sh -c` script instead (only when the spec asks for a shell;
    /// parameters then reach the script only through the environment).
    pub shell: bool,
    /// Working directory (default: the spec file's folder).
    pub cwd: PathBuf,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Named inputs (literal values or paths).
    pub inputs: BTreeMap<String, String>,
    /// The metric whose reports are the trial's step values and final value.
    pub primary_metric: String,
    /// Seconds between SIGTERM and SIGKILL when a trial is stopped.
    pub grace: Duration,
}

/// `value` as an argument: whole numbers without a decimal point, reals in full precision.
fn arg_text(v: &Value) -> String {
    match v {
        Value::Float(x) => format!("{x}"),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Str(s) => s.clone(),
    }
}

/// The `search_space.NAME` / `inputs.NAME` placeholders used in `arg`.
pub fn placeholders(arg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(start) = rest.find("${{") {
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    out
}

/// Split a command line into arguments like a POSIX shell would split words (single and double
/// quotes, backslash escapes) — without running a shell or expanding anything.
pub fn split_words(line: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(Error::Config(format!("unclosed ' in command: {line}"))),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x) => cur.push(x),
                            None => return Err(Error::Config(format!("unclosed \" in command: {line}"))),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(Error::Config(format!("unclosed \" in command: {line}"))),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Replace the placeholders of one argument. Unknown names are an error naming them.
pub fn render(arg: &str, params: &Params, inputs: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else {
            return Err(Error::Config(format!("unclosed placeholder in argument '{arg}'")));
        };
        let name = after[..end].trim();
        let value = if let Some(p) = name.strip_prefix("search_space.") {
            // A conditional parameter absent from this trial renders empty (names are checked
            // against the space when the spec is read).
            Some(params.0.get(p).map(arg_text).unwrap_or_default())
        } else if let Some(i) = name.strip_prefix("inputs.") {
            inputs.get(i).cloned()
        } else {
            None
        };
        let Some(value) = value else {
            return Err(Error::Config(format!(
                "unknown placeholder ${{{{{name}}}}} in argument '{arg}' (use search_space.NAME or inputs.NAME)"
            )));
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One parsed metric report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Metric name.
    pub metric: String,
    /// Value.
    pub value: f64,
    /// Step, when given.
    pub step: Option<i64>,
}

/// Parse a line of the metric protocol (`None` for any other line).
pub fn parse_report(line: &str) -> Option<Report> {
    let t = line.trim();
    if !t.starts_with('{') || !t.contains("automl_metric") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(t).ok()?;
    Some(Report {
        metric: v.get("automl_metric")?.as_str()?.to_string(),
        value: v.get("value")?.as_f64()?,
        step: v.get("step").and_then(serde_json::Value::as_i64),
    })
}

#[cfg(unix)]
fn signal_group(child: &Child, sig: i32) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is touched.
        unsafe {
            libc::kill(-pid, sig);
        }
    }
}

/// Kills a trial's process group when the thread unwinds past it (a panic while the program
/// runs), so no process outlives its trial; normal endings stop the group themselves.
struct KillOnUnwind(u32);

impl Drop for KillOnUnwind {
    fn drop(&mut self) {
        #[cfg(unix)]
        if std::thread::panicking() {
            if let Ok(pid) = i32::try_from(self.0) {
                // SAFETY: kill(2) with a negative pid signals that process group; no memory is touched.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
        }
    }
}

/// Stop the trial's process group: SIGTERM, then SIGKILL after `grace`.
fn stop(child: &mut Child, grace: Duration) {
    #[cfg(unix)]
    {
        signal_group(child, libc::SIGTERM);
        let t0 = Instant::now();
        while t0.elapsed() < grace {
            if let Ok(Some(_)) = child.try_wait() {
                signal_group(child, libc::SIGKILL); // leftovers of the group
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal_group(child, libc::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Last `n` lines of a file.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

enum Line {
    Report(Report),
    Done,
}

/// Another way in for a trial's reports besides its standard output: the MLflow tracking endpoint
/// of `automl sweep`, which hands over what a script logs with `mlflow.log_metric`.
pub trait Tracker: Send + Sync {
    /// Take the reports of trial `trial` into `sink` while it runs; returns the environment
    /// variables that point its program at the tracker.
    fn attach(&self, trial: usize, sink: ReportSink) -> std::result::Result<Vec<(String, String)>, String>;
    /// Trial `trial` ended: refuse its further reports.
    fn detach(&self, trial: usize);
    /// Environment variables that must not be written to `command.json` (secrets).
    fn secret_vars(&self) -> &[&str] {
        &[]
    }
}

/// Hands reports to a running trial, as if its program had printed them.
#[derive(Clone)]
pub struct ReportSink(mpsc::Sender<Line>);

impl ReportSink {
    /// Hand over one report; `false` once the trial has ended.
    pub fn send(&self, r: Report) -> bool {
        self.0.send(Line::Report(r)).is_ok()
    }
}

/// Detaches a trial from its tracker however the trial ends.
struct Detach<'a>(Option<&'a dyn Tracker>, usize);

impl Drop for Detach<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            t.detach(self.1);
        }
    }
}

impl CommandSpec {
    /// The argv of `trial` (placeholders replaced).
    pub fn argv_for(&self, params: &Params) -> Result<Vec<String>> {
        self.argv
            .iter()
            .map(|a| render(a, params, &self.inputs))
            .collect()
    }

    /// Apply one metric report to the trial: the primary metric becomes a step value (numbered
    /// 1, 2, … per metric when the program gives no step), judged by the policy when `judge`;
    /// other metrics are kept with the trial.
    fn take(
        &self,
        trial: &mut Trial,
        counts: &mut BTreeMap<String, i64>,
        last: &mut Option<f64>,
        r: Report,
        judge: bool,
    ) -> std::result::Result<(), Stop> {
        let n = counts.entry(r.metric.clone()).or_insert(0);
        *n += 1;
        let step = r.step.unwrap_or(*n);
        if r.metric != self.primary_metric {
            trial.set_metric(&r.metric, r.value);
            return Ok(());
        }
        *last = Some(r.value);
        if judge {
            trial.report(step, r.value)
        } else {
            trial.record_step(step, r.value);
            Ok(())
        }
    }

    /// Run one trial: start the program in its own process group with the trial's parameters,
    /// stream its metric reports to the trial (the policy may stop it), keep its output in
    /// `dir/stdout.log` and `dir/stderr.log`, and return the last value of the primary metric.
    pub fn run(&self, trial: &mut Trial, dir: &Path) -> std::result::Result<f64, TrialError> {
        self.run_tracked(trial, dir, None)
    }

    /// [`CommandSpec::run`], also taking the reports `tracker` receives for the trial (what its
    /// program logs through MLflow).
    pub fn run_tracked(
        &self,
        trial: &mut Trial,
        dir: &Path,
        tracker: Option<&dyn Tracker>,
    ) -> std::result::Result<f64, TrialError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| TrialError::Failed(format!("cannot create {}: {e}", dir.display())))?;
        let argv = self.argv_for(trial.params())?;
        let mut cmd = if self.shell {
            let mut c = Command::new("sh");
            c.arg("-c").arg(argv.join(" "));
            c
        } else {
            let Some((prog, args)) = argv.split_first() else {
                return Err(TrialError::Failed("the command is empty".into()));
            };
            let mut c = Command::new(prog);
            c.args(args);
            c
        };
        let params_json = serde_json::to_string(&trial.params().0)
            .map_err(|e| TrialError::Failed(format!("cannot encode the parameters: {e}")))?;
        cmd.current_dir(&self.cwd)
            .envs(&self.env)
            .env("AUTOML_TRIAL_ID", trial.id().to_string())
            .env("AUTOML_PARAMS", &params_json)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        for (k, v) in &trial.params().0 {
            let key: String = k
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            cmd.env(format!("AUTOML_PARAM_{key}"), arg_text(v));
        }
        // What ran, where, with which variables: kept beside the logs.
        let mut env_seen: BTreeMap<String, String> = self.env.clone();
        env_seen.insert("AUTOML_TRIAL_ID".into(), trial.id().to_string());
        env_seen.insert("AUTOML_PARAMS".into(), params_json.clone());
        let (tx, rx) = mpsc::channel();
        let _detach = Detach(tracker, trial.id());
        if let Some(t) = tracker {
            let vars = t
                .attach(trial.id(), ReportSink(tx.clone()))
                .map_err(TrialError::Failed)?;
            // A spec that sets one of these itself (its own MLFLOW_TRACKING_URI, say) points its
            // program elsewhere: the tracker stays out.
            let own = vars.iter().any(|(k, _)| self.env.contains_key(k));
            if own {
                t.detach(trial.id());
            }
            for (k, v) in vars.into_iter().filter(|_| !own) {
                cmd.env(&k, &v);
                let shown = if t.secret_vars().contains(&k.as_str()) {
                    "(hidden)".to_string()
                } else {
                    v
                };
                env_seen.insert(k, shown);
            }
        }
        let record = serde_json::json!({
            "argv": argv,
            "shell": self.shell,
            "cwd": self.cwd,
            "env": env_seen,
        });
        let record = serde_json::to_string_pretty(&record)
            .map_err(|e| TrialError::Failed(format!("cannot encode command.json: {e}")))?;
        let _ = std::fs::write(dir.join("command.json"), record);
        let err_path = dir.join("stderr.log");
        let err_file = std::fs::File::create(&err_path)
            .map_err(|e| TrialError::Failed(format!("cannot create {}: {e}", err_path.display())))?;
        cmd.stderr(Stdio::from(err_file));
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| TrialError::Failed(format!("cannot start '{}': {e}", argv.join(" "))))?;
        let _guard = KillOnUnwind(child.id());
        let Some(stdout) = child.stdout.take() else {
            stop(&mut child, self.grace);
            return Err(TrialError::Failed("no standard output pipe".into()));
        };
        let out_path = dir.join("stdout.log");
        let reader = std::thread::spawn(move || {
            let mut log = std::fs::File::create(&out_path).ok();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match parse_report(&line) {
                    Some(r) => {
                        let _ = tx.send(Line::Report(r));
                    }
                    None => {
                        if let Some(f) = log.as_mut() {
                            let _ = writeln!(f, "{line}");
                        }
                    }
                }
            }
            let _ = tx.send(Line::Done);
        });
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        let mut last: Option<f64> = None;
        let mut stopped: Option<Stop> = None;
        let mut reader_done = false;
        let mut exited: Option<(std::process::ExitStatus, Instant)> = None;
        loop {
            if let Err(s) = trial.check() {
                stopped = Some(s);
                break;
            }
            match rx.recv_timeout(Duration::from_millis(25)) {
                Ok(Line::Report(r)) => {
                    // After the program exited, late lines are recorded, not judged.
                    let judge = exited.is_none();
                    if let Err(s) = self.take(trial, &mut counts, &mut last, r, judge) {
                        stopped = Some(s);
                        break;
                    }
                }
                Ok(Line::Done) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    reader_done = true;
                    break;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if exited.is_none() {
                if let Ok(Some(st)) = child.try_wait() {
                    exited = Some((st, Instant::now()));
                }
            }
            // The program exited but something it started still holds its output open.
            if exited.is_some_and(|(_, at)| at.elapsed() > Duration::from_millis(500)) {
                break;
            }
        }
        if let Some(s) = stopped {
            stop(&mut child, self.grace);
            if reader_done {
                let _ = reader.join();
            }
            return Err(s.into());
        }
        // Wait for the exit (the program may have closed its output early), still honouring the
        // trial timeout and cancellation.
        let status = loop {
            if let Some((st, _)) = exited {
                break st;
            }
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) => {}
                Err(e) => {
                    stop(&mut child, self.grace);
                    return Err(TrialError::Failed(format!("waiting for the program: {e}")));
                }
            }
            if let Err(s) = trial.check() {
                stop(&mut child, self.grace);
                return Err(s.into());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if reader_done {
            let _ = reader.join();
        } else {
            // Leftover processes of the trial's group hold the pipe: stop them; the reader thread
            // ends when the pipe closes.
            #[cfg(unix)]
            signal_group(&child, libc::SIGKILL);
            drop(reader);
        }
        // Reports that arrived between the last poll and the end.
        while let Ok(Line::Report(r)) =
            rx.recv_timeout(Duration::from_millis(if reader_done { 0 } else { 100 }))
        {
            let _ = self.take(trial, &mut counts, &mut last, r, false);
        }
        if !status.success() {
            let code = status
                .code()
                .map_or("a signal".to_string(), |c| format!("code {c}"));
            let tail = tail(&err_path, 10);
            return Err(TrialError::Failed(if tail.trim().is_empty() {
                format!("the program exited with {code} and wrote nothing to stderr")
            } else {
                format!("the program exited with {code}; stderr ends with:\n{tail}")
            }));
        }
        last.ok_or_else(|| {
            TrialError::Failed(format!(
                "the program reported no value of '{}' (print {{\"automl_metric\": \"{}\", \"value\": …}} lines)",
                self.primary_metric, self.primary_metric
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_panic_while_the_program_runs_kills_its_process_group() {
        use std::os::unix::process::{CommandExt, ExitStatusExt};
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let id = child.id();
        let unwound = std::panic::catch_unwind(|| {
            let _guard = KillOnUnwind(id);
            panic!("a bug in the trial loop");
        });
        assert!(unwound.is_err());
        let t0 = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "the program outlived its trial"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        // Without a panic the guard leaves the program alone.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        drop(KillOnUnwind(other.id()));
        std::thread::sleep(Duration::from_millis(50));
        assert!(other.try_wait().unwrap().is_none());
        let _ = other.kill();
        let _ = other.wait();
    }

    #[test]
    fn placeholders_stay_inside_their_argument() {
        let mut p = Params::default();
        p.set("lr", Value::Float(0.001));
        p.set("name", Value::Str("x; rm -rf / $(whoami)".into()));
        let mut inputs = BTreeMap::new();
        inputs.insert("data".into(), "d.csv".into());
        assert_eq!(
            render("--lr=${{search_space.lr}}", &p, &inputs).unwrap(),
            "--lr=0.001"
        );
        assert_eq!(
            render("${{ search_space.name }}", &p, &inputs).unwrap(),
            "x; rm -rf / $(whoami)"
        );
        assert_eq!(render("${{inputs.data}}", &p, &inputs).unwrap(), "d.csv");
        let e = render("${{outputs.x}}", &p, &inputs).unwrap_err().to_string();
        assert!(e.contains("${{outputs.x}}"), "{e}");
        assert!(render("${{inputs.data", &p, &inputs).is_err());
    }

    #[test]
    fn words_split_like_a_shell_without_one() {
        let w =
            split_words(r#"python3 train.py --name 'a b' --x "c \"d\"" e\ f ${{search_space.lr}}"#).unwrap();
        assert_eq!(
            w,
            [
                "python3",
                "train.py",
                "--name",
                "a b",
                "--x",
                "c \"d\"",
                "e f",
                "${{search_space.lr}}"
            ]
        );
        assert!(split_words("a 'b").is_err());
        assert_eq!(
            placeholders("--a=${{search_space.x}}/${{ inputs.d }}"),
            ["search_space.x", "inputs.d"]
        );
    }

    #[test]
    fn metric_lines_are_recognised_and_others_are_not() {
        let r = parse_report(r#"{"automl_metric": "val_loss", "value": 0.31, "step": 4}"#).unwrap();
        assert_eq!((r.metric.as_str(), r.value, r.step), ("val_loss", 0.31, Some(4)));
        assert_eq!(
            parse_report(r#"  {"automl_metric":"acc","value":1}"#)
                .unwrap()
                .step,
            None
        );
        assert!(parse_report("epoch 4 val_loss 0.31").is_none());
        assert!(parse_report(r#"{"loss": 1}"#).is_none());
        assert!(parse_report(r#"{"automl_metric": "x", "value": "high"}"#).is_none());
    }
}
