//! Batch scoring (`automl batch-score`, Azure ML's batch endpoints): CSV and Parquet files, or a
//! folder of them, split into mini-batches of rows that are read one at a time (a file larger than
//! memory works), scored in parallel, retried when they fail, and counted against an error
//! threshold. Each finished mini-batch is written at once, atomically, under
//! `OUTPUT/.automl-batch/`; an interrupted job started again with the same inputs and model skips
//! them, so no row is scored twice and none is lost. At the end the parts are joined in input
//! order into one file whose rows carry their source file and row number.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::data::Table;
use crate::error::{Error, Result};
use crate::model::{csv_field, predictions_csv, write_atomic, ModelFile};

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputAction {
    /// Every scored row, in one file.
    AppendRow,
    /// Only `summary.json`.
    SummaryOnly,
}

/// Azure's batch-deployment settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchOptions {
    /// Rows per mini-batch.
    pub mini_batch_size: usize,
    /// Mini-batches scored at once.
    pub max_concurrency: usize,
    /// What to write.
    pub output_action: OutputAction,
    /// The joined output file's name (inside the output folder).
    pub output_file_name: String,
    /// Rows of failed mini-batches tolerated before the job stops (-1: any number).
    pub error_threshold: i64,
    /// Tries after a mini-batch's first failure.
    pub max_retries: u32,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            mini_batch_size: 10_000,
            max_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            output_action: OutputAction::AppendRow,
            output_file_name: "predictions.csv".into(),
            error_threshold: -1,
            max_retries: 3,
        }
    }
}

/// What a job did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BatchSummary {
    /// Input files.
    pub files: usize,
    /// Mini-batches in all.
    pub mini_batches: usize,
    /// Mini-batches found done by an earlier, interrupted run.
    pub resumed: usize,
    /// Rows scored (this run and earlier ones).
    pub rows: usize,
    /// Mini-batches that failed after their retries, with the error.
    pub failed: Vec<(String, String)>,
    /// Rows of the failed mini-batches.
    pub failed_rows: usize,
    /// The joined output file (append_row).
    pub output: Option<PathBuf>,
    /// Seconds of this run.
    pub secs: f64,
}

/// One mini-batch: rows `row..row + rows` of input `file`, at bytes `start..end` for CSV.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Mini {
    file: usize,
    row: usize,
    rows: usize,
    start: u64,
    end: u64,
}

impl Mini {
    fn id(&self) -> String {
        format!("{:05}-{:010}", self.file, self.row)
    }
}

/// The data files of `input` (a file, or a folder's CSV and Parquet files by name).
pub fn input_files(input: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
    if !meta.is_dir() {
        return Ok(vec![input.to_path_buf()]);
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(input)
        .map_err(|e| Error::io(input, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| ["csv", "parquet", "pq"].contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(Error::Data(format!(
            "{}: no .csv or .parquet files in this folder",
            input.display()
        )));
    }
    Ok(out)
}

fn is_parquet(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}

/// Byte offsets of a CSV file's records: (header end, then the start of every `n`-th record),
/// read once in a stream, aware of quoted newlines. Returns the header bytes and the mini-batches.
fn plan_csv(path: &Path, file: usize, n: usize) -> Result<(Vec<u8>, Vec<Mini>)> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    // One record: physical lines until the quotes balance (a quoted field may hold newlines).
    let mut record = |buf: &mut Vec<u8>| -> Result<u64> {
        buf.clear();
        let mut quoted = false;
        let mut got = 0u64;
        loop {
            let at = buf.len();
            let n = r.read_until(b'\n', buf).map_err(|e| Error::io(path, e))?;
            got += n as u64;
            quoted ^= buf[at..].iter().filter(|&&b| b == b'"').count() % 2 == 1;
            if n == 0 || !quoted {
                return Ok(got);
            }
        }
    };
    let mut pos = record(&mut buf)?;
    let mut header = buf.clone();
    if header.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Data(format!("{}: the file is empty", path.display())));
    }
    if !header.ends_with(b"\n") {
        header.push(b'\n');
    }
    let (mut start, mut rows, mut row) = (pos, 0usize, 0usize);
    loop {
        let got = record(&mut buf)?;
        if got == 0 {
            break;
        }
        pos += got;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        rows += 1;
        if rows == n {
            out.push(Mini {
                file,
                row,
                rows,
                start,
                end: pos,
            });
            row += rows;
            rows = 0;
            start = pos;
        }
    }
    if rows > 0 {
        out.push(Mini {
            file,
            row,
            rows,
            start,
            end: pos,
        });
    }
    Ok((header, out))
}

/// The names in a CSV header line (quotes removed).
fn csv_names(header: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(header);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = text.trim_end_matches(['\r', '\n']).chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Read one mini-batch as a table.
fn read_mini(path: &Path, header: &[u8], m: &Mini) -> Result<Table> {
    if is_parquet(path) {
        return Table::read_parquet_slice(path, m.row, m.rows);
    }
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    f.seek(SeekFrom::Start(m.start)).map_err(|e| Error::io(path, e))?;
    let mut bytes = header.to_vec();
    let len = usize::try_from(m.end - m.start).unwrap_or(usize::MAX);
    let at = bytes.len();
    bytes.resize(at + len, 0);
    f.read_exact(&mut bytes[at..]).map_err(|e| Error::io(path, e))?;
    Table::from_csv_bytes(bytes, path)
}

/// Score one mini-batch into CSV lines (`file,row,prediction,…`, no header) and the header.
fn score_mini(model: &ModelFile, path: &Path, header: &[u8], m: &Mini) -> Result<(String, String)> {
    let table = read_mini(path, header, m)?;
    if table.n_rows != m.rows {
        return Err(Error::Data(format!(
            "{}: expected {} rows at row {}, read {}",
            path.display(),
            m.rows,
            m.row,
            table.n_rows
        )));
    }
    let pred = model.predict_table(&table, &mut Vec::new())?;
    let text = predictions_csv(&model.schema, &pred);
    let mut lines = text.lines();
    let head = format!("file,row,{}", lines.next().unwrap_or("prediction"));
    let name = csv_field(
        &path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().to_string()),
    );
    let mut out = String::with_capacity(text.len() + m.rows * (name.len() + 12));
    for (i, l) in lines.enumerate() {
        out.push_str(&format!("{name},{},{l}\n", m.row + i));
    }
    Ok((head, out))
}

/// The identity of a job: its inputs (path, size, time), model and options.
fn identity(files: &[PathBuf], model_id: &str, opts: &BatchOptions) -> serde_json::Value {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).ok();
            json!({
                "path": p.display().to_string(),
                "size": m.as_ref().map(std::fs::Metadata::len),
                "modified": m.and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_millis() as u64),
            })
        })
        .collect();
    json!({"files": files, "model": model_id, "mini_batch_size": opts.mini_batch_size})
}

/// Score `files` with `model` (identified by `model_id`, e.g. `churn:3`) into the folder `out`.
/// `progress(rows done, rows in all)` hears of each finished mini-batch.
pub fn score(
    model: &ModelFile,
    model_id: &str,
    files: &[PathBuf],
    out: &Path,
    opts: &BatchOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<BatchSummary> {
    let t0 = Instant::now();
    if opts.mini_batch_size == 0 || opts.max_concurrency == 0 {
        return Err(Error::Config(
            "mini_batch_size and max_concurrency must be at least 1".into(),
        ));
    }
    let work = out.join(".automl-batch");
    let parts = work.join("parts");
    std::fs::create_dir_all(&parts).map_err(|e| Error::io(&parts, e))?;
    // Same job as an interrupted one here: resume; another job: refuse rather than mix outputs.
    let id = identity(files, model_id, opts);
    let job = work.join("job.json");
    match std::fs::read_to_string(&job) {
        Ok(t) if serde_json::from_str::<serde_json::Value>(&t).ok().as_ref() == Some(&id) => {}
        Ok(_) => {
            return Err(Error::Config(format!(
                "{} holds the output of another batch job (other inputs, model or mini-batch size); \
                 choose another --output folder or delete it",
                out.display()
            )))
        }
        Err(_) => write_atomic(&job, id.to_string().as_bytes())?,
    }
    // The plan: mini-batches of every file.
    let mut headers = Vec::with_capacity(files.len());
    let mut minis = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if is_parquet(f) {
            let n = Table::parquet_rows(f)?;
            let mut row = 0;
            while row < n {
                let rows = opts.mini_batch_size.min(n - row);
                minis.push(Mini {
                    file: i,
                    row,
                    rows,
                    start: 0,
                    end: 0,
                });
                row += rows;
            }
            headers.push(Vec::new());
        } else {
            let (h, m) = plan_csv(f, i, opts.mini_batch_size)?;
            headers.push(h);
            minis.extend(m);
        }
    }
    // Every file has the model's columns: a missing one fails the job at once, not every
    // mini-batch after its retries.
    for (i, f) in files.iter().enumerate() {
        let names: Vec<String> = if is_parquet(f) {
            Table::read_parquet_slice(f, 0, 1)?
                .columns
                .into_iter()
                .map(|c| c.name)
                .collect()
        } else {
            let mut h = headers[i].clone();
            h.extend_from_slice(b"\n");
            csv_names(&h)
        };
        let missing: Vec<&str> = model
            .schema
            .used()
            .map(|c| c.name.as_str())
            .filter(|c| !names.iter().any(|n| n == c))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Schema(format!(
                "{}: column(s) {} of the model are missing",
                f.display(),
                missing
                    .iter()
                    .map(|m| format!("'{m}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let total_rows: usize = minis.iter().map(|m| m.rows).sum();
    let done_part = |m: &Mini| parts.join(format!("{}.csv", m.id()));
    let resumed: Vec<bool> = minis.iter().map(|m| done_part(m).exists()).collect();
    let rows_done = AtomicUsize::new(
        minis
            .iter()
            .zip(&resumed)
            .filter(|(_, r)| **r)
            .map(|(m, _)| m.rows)
            .sum(),
    );
    progress(rows_done.load(Ordering::Relaxed), total_rows);
    let failed: Mutex<Vec<(String, String, usize)>> = Mutex::new(Vec::new());
    let failed_rows = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let head: Mutex<Option<String>> = Mutex::new(None);
    // Reading CSV through polars takes deep stacks (debug builds most): room to spare.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.max_concurrency)
        .stack_size(32 << 20)
        .build()
        .map_err(|e| Error::Config(format!("cannot start {} threads: {e}", opts.max_concurrency)))?;
    pool.install(|| {
        use rayon::prelude::*;
        minis.par_iter().zip(&resumed).for_each(|(m, was_done)| {
            if *was_done || stop.load(Ordering::Relaxed) {
                return;
            }
            let path = &files[m.file];
            let mut last = String::new();
            for _ in 0..=opts.max_retries {
                let tried = crate::guard::guarded(|| score_mini(model, path, &headers[m.file], m))
                    .map_err(|p| Error::Config(format!("scoring panicked: {p}")))
                    .and_then(|r| r);
                match tried.and_then(|(h, text)| {
                    write_atomic(&done_part(m), text.as_bytes())?;
                    Ok(h)
                }) {
                    Ok(h) => {
                        head.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(h);
                        let d = rows_done.fetch_add(m.rows, Ordering::Relaxed) + m.rows;
                        progress(d, total_rows);
                        return;
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            let label = format!("{} rows {}..{}", path.display(), m.row, m.row + m.rows);
            failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((label, last, m.rows));
            let n = failed_rows.fetch_add(m.rows, Ordering::Relaxed) + m.rows;
            if opts.error_threshold >= 0 && n as i64 > opts.error_threshold {
                stop.store(true, Ordering::Relaxed);
            }
        });
    });
    let mut failed = failed.into_inner().unwrap_or_else(|p| p.into_inner());
    failed.sort();
    let failed_rows = failed_rows.load(Ordering::Relaxed);
    let mut summary = BatchSummary {
        files: files.len(),
        mini_batches: minis.len(),
        resumed: resumed.iter().filter(|r| **r).count(),
        rows: rows_done.load(Ordering::Relaxed),
        failed: failed.iter().map(|(l, e, _)| (l.clone(), e.clone())).collect(),
        failed_rows,
        output: None,
        secs: 0.0,
    };
    if stop.load(Ordering::Relaxed) {
        return Err(Error::Data(format!(
            "{failed_rows} row(s) of failed mini-batches exceed the error threshold {}; first failure: {}: {}; \
             run the same command again to resume",
            opts.error_threshold,
            failed.first().map_or("", |f| f.0.as_str()),
            failed.first().map_or("", |f| f.1.as_str())
        )));
    }
    if opts.output_action == OutputAction::AppendRow {
        // The header: from this run, else from the first part's model (a resumed job).
        let head = head
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .or_else(|| {
                let text = predictions_csv(&model.schema, &empty_prediction(model));
                text.lines().next().map(|l| format!("file,row,{l}"))
            })
            .unwrap_or_else(|| "file,row,prediction".into());
        let target = out.join(&opts.output_file_name);
        let tmp = out.join(format!(".{}.tmp", opts.output_file_name));
        {
            let f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            let mut w = std::io::BufWriter::new(f);
            writeln!(w, "{head}").map_err(|e| Error::io(&tmp, e))?;
            for m in &minis {
                let p = done_part(m);
                if let Ok(mut part) = std::fs::File::open(&p) {
                    std::io::copy(&mut part, &mut w).map_err(|e| Error::io(&tmp, e))?;
                }
            }
            w.flush().map_err(|e| Error::io(&tmp, e))?;
        }
        std::fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e))?;
        summary.output = Some(target);
    }
    summary.secs = t0.elapsed().as_secs_f64();
    let text = serde_json::to_string_pretty(&summary).map_err(|e| Error::Config(e.to_string()))?;
    write_atomic(&out.join("summary.json"), text.as_bytes())?;
    Ok(summary)
}

/// A prediction of no rows (for the header of a resumed job's output).
fn empty_prediction(model: &ModelFile) -> crate::learners::Prediction {
    if model.schema.task.is_classification() {
        crate::learners::Prediction::Proba(crate::matrix::Matrix::zeros(0, model.schema.classes.len()))
    } else {
        crate::learners::Prediction::Values(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_is_split_on_records_not_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        std::fs::write(&p, "x,\"note\"\n1,\"two\nlines\"\n2,b\n\n3,c\n4,\"d\"\"q\"\n5,e").unwrap();
        let (h, m) = plan_csv(&p, 0, 2).unwrap();
        assert_eq!(h, b"x,\"note\"\n");
        assert_eq!(csv_names(&h), ["x", "note"]);
        assert_eq!(csv_names(b"\"a,b\",\"c\"\"d\"\r\n"), ["a,b", "c\"d"]);
        let rows: Vec<(usize, usize)> = m.iter().map(|m| (m.row, m.rows)).collect();
        assert_eq!(rows, [(0, 2), (2, 2), (4, 1)]);
        let t = read_mini(&p, &h, &m[0]).unwrap();
        assert_eq!(t.n_rows, 2);
        assert_eq!(t.columns[1].label(0).as_deref(), Some("two\nlines"));
        let t = read_mini(&p, &h, &m[2]).unwrap();
        assert_eq!(t.columns[0].label(0).as_deref(), Some("5"));
    }
}
