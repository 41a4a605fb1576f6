//! Request counters and latency histograms per endpoint and deployment, in Prometheus' text
//! format (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds (seconds) of the latency buckets.
pub const BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default, Clone)]
struct Series {
    requests: u64,
    client_errors: u64,
    server_errors: u64,
    mirrored: u64,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
}

/// The counters of one server.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String), Series>>,
}

impl Metrics {
    /// Count one answered request of `endpoint`/`deployment` (empty when none was chosen).
    pub fn observe(&self, endpoint: &str, deployment: &str, status: u16, secs: f64) {
        let mut m = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = m
            .entry((endpoint.to_string(), deployment.to_string()))
            .or_default();
        s.requests += 1;
        match status {
            400..=499 => s.client_errors += 1,
            500..=599 => s.server_errors += 1,
            _ => {}
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
        s.sum += secs;
    }

    /// Count one mirrored request.
    pub fn mirrored(&self, endpoint: &str, deployment: &str) {
        let mut m = self.series.lock().unwrap_or_else(|p| p.into_inner());
        m.entry((endpoint.to_string(), deployment.to_string()))
            .or_default()
            .mirrored += 1;
    }

    /// Requests counted so far for `endpoint`/`deployment`.
    pub fn requests(&self, endpoint: &str, deployment: &str) -> u64 {
        let m = self.series.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&(endpoint.to_string(), deployment.to_string()))
            .map_or(0, |s| s.requests)
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let m = self.series.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut out = String::new();
        let label = |e: &str, d: &str| format!("endpoint=\"{}\",deployment=\"{}\"", esc(e), esc(d));
        let mut family = |name: &str, help: &str, kind: &str, f: &dyn Fn(&Series) -> u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((e, d), s) in &m {
                let _ = writeln!(out, "{name}{{{}}} {}", label(e, d), f(s));
            }
        };
        family("automl_requests_total", "Requests answered.", "counter", &|s| {
            s.requests
        });
        family(
            "automl_request_errors_total",
            "Requests answered with a 4xx status.",
            "counter",
            &|s| s.client_errors,
        );
        family(
            "automl_request_failures_total",
            "Requests answered with a 5xx status.",
            "counter",
            &|s| s.server_errors,
        );
        family(
            "automl_mirrored_requests_total",
            "Requests copied to a mirror deployment.",
            "counter",
            &|s| s.mirrored,
        );
        let _ = writeln!(
            out,
            "# HELP automl_request_seconds Request latency.\n# TYPE automl_request_seconds histogram"
        );
        for ((e, d), s) in &m {
            let l = label(e, d);
            for (b, n) in BUCKETS.iter().zip(&s.buckets) {
                let _ = writeln!(out, "automl_request_seconds_bucket{{{l},le=\"{b}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "automl_request_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                s.requests
            );
            let _ = writeln!(out, "automl_request_seconds_sum{{{l}}} {}", s.sum);
            let _ = writeln!(out, "automl_request_seconds_count{{{l}}} {}", s.requests);
        }
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets() {
        let m = Metrics::default();
        m.observe("e", "blue", 200, 0.0004);
        m.observe("e", "blue", 400, 0.003);
        m.observe("e", "", 401, 0.0001);
        m.mirrored("e", "green");
        let t = m.render();
        assert!(
            t.contains("automl_requests_total{endpoint=\"e\",deployment=\"blue\"} 2"),
            "{t}"
        );
        assert!(t.contains("automl_request_errors_total{endpoint=\"e\",deployment=\"blue\"} 1"));
        assert!(
            t.contains("automl_request_seconds_bucket{endpoint=\"e\",deployment=\"blue\",le=\"0.001\"} 1")
        );
        assert!(t.contains("automl_request_seconds_bucket{endpoint=\"e\",deployment=\"blue\",le=\"+Inf\"} 2"));
        assert!(t.contains("automl_mirrored_requests_total{endpoint=\"e\",deployment=\"green\"} 1"));
        assert_eq!(m.requests("e", "blue"), 2);
    }
}
