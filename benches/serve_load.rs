//! An HTTP load generator for `benches/vs-mlflow-serve.sh`: POSTs one body at a fixed rate (open
//! loop, latency measured from each request's scheduled time, so a stalled server is not hidden)
//! or as fast as it can on N connections (closed loop), and prints p50/p99 latency and the
//! achieved rate as one JSON line.
//!
//! cargo bench --bench serve_load -- --url URL --body FILE [--key KEY] [--rate N | --closed N]
//!     [--seconds S] [--content-type T]
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test or benchmark

use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(url) = arg(&args, "--url") else {
        eprintln!(
            "usage: serve_load --url URL --body FILE [--key KEY] [--rate N | --closed N] [--seconds S]"
        );
        return;
    };
    let body = std::fs::read_to_string(arg(&args, "--body").expect("--body FILE")).unwrap();
    let key = arg(&args, "--key");
    let ct = arg(&args, "--content-type").unwrap_or_else(|| "application/json".into());
    let seconds: f64 = arg(&args, "--seconds").map_or(10.0, |s| s.parse().unwrap());
    let rate: Option<f64> = arg(&args, "--rate").map(|s| s.parse().unwrap());
    let closed: usize = arg(&args, "--closed").map_or(4, |s| s.parse().unwrap());
    let threads = if rate.is_some() { 32 } else { closed };
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + Duration::from_secs_f64(seconds);
    let results: Vec<(Vec<f64>, usize, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (url, body, key, ct) = (&url, &body, &key, &ct);
                s.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(Duration::from_secs(10)))
                        .build()
                        .into();
                    let mut lat = Vec::new();
                    let mut errors = 0;
                    let gap = rate.map(|r| Duration::from_secs_f64(threads as f64 / r));
                    let mut next =
                        start + gap.map_or(Duration::ZERO, |g| g.mul_f64(t as f64 / threads as f64));
                    loop {
                        let now = Instant::now();
                        if next < now && gap.is_none() {
                            next = now;
                        }
                        if next >= end {
                            break;
                        }
                        if next > now {
                            std::thread::sleep(next - now);
                        }
                        let mut r = agent.post(url).header("Content-Type", ct);
                        if let Some(k) = key {
                            r = r.header("Authorization", &format!("Bearer {k}"));
                        }
                        match r.send(body.as_str()) {
                            Ok(mut resp) if resp.status().as_u16() == 200 => {
                                let _ = resp.body_mut().read_to_vec();
                            }
                            _ => errors += 1,
                        }
                        lat.push(next.elapsed().as_secs_f64());
                        if let Some(g) = gap {
                            next += g;
                        }
                    }
                    (lat, errors, Instant::now())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut lat: Vec<f64> = results.iter().flat_map(|r| r.0.iter().copied()).collect();
    let errors: usize = results.iter().map(|r| r.1).sum();
    // Achieved: requests over the time from the first scheduled one to the last answer.
    let last = results.iter().map(|r| r.2).max().unwrap_or(start);
    let wall = last
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(seconds.min(1e-9));
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
            * 1000.0
    };
    println!(
        "{{\"requests\": {}, \"errors\": {errors}, \"rate\": {:.1}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"max_ms\": {:.3}}}",
        lat.len(),
        lat.len() as f64 / wall,
        q(0.5),
        q(0.99),
        q(1.0)
    );
}
