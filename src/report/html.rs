//! The HTML report: one self-contained file (inline CSS, inline SVG charts drawn here, a few
//! lines of inline JavaScript for sorting), readable offline in any browser.
//!
//! Sections: run summary, guardrail warnings, data profile, the sortable leaderboard (failed and
//! pruned trials summarised), optimization history (score over time with the best so far), the
//! best score per learner, hyperparameter importance and hyperparameter-vs-score scatters, and for
//! the best configuration on validation rows: confusion matrix with ROC and precision-recall
//! curves, or predicted-vs-actual with residuals, plus permutation feature importance.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::insight::{Diagnosis, Diagnostics, RunInsight};
use super::svg::*;
use super::{Report, Row};

/// Most completed trials listed in the table (the rest are counted).
const MAX_ROWS: usize = 200;
/// Rows shown before "show all".
const FIRST_ROWS: usize = 20;
/// Most dots in the history chart (scatters get half).
const MAX_DOTS: usize = 400;
/// Hyperparameter scatters drawn.
const MAX_SCATTERS: usize = 6;

const PALETTE: &[&str] = &[
    "#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2", "#97bbf5", "#9c6b4e",
    "#9498a0",
];

fn section(id: &str, title: &str, body: &str) -> String {
    format!("<section id=\"{id}\"><h2>{}</h2>{body}</section>\n", esc(title))
}

fn summary_section(r: &Report, insight: Option<&RunInsight>) -> String {
    let lb = &r.leaderboard;
    let mut rows: Vec<(String, String)> = match insight {
        Some(i) => i.summary.clone(),
        None if !r.facts.is_empty() => r.facts.clone(),
        None => vec![("source".into(), lb.source.clone())],
    };
    rows.retain(|(k, _)| k != "primary metric");
    rows.push(("primary metric".into(), format!("{} ({})", lb.metric, lb.goal)));
    let counts: Vec<String> = lb.counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    rows.push(("trial outcomes".into(), counts.join(", ")));
    let mut s = String::from("<table class=\"kv\">");
    for (k, v) in rows {
        let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", esc(&k), esc(&v));
    }
    s.push_str("</table>");
    if let Some(best) = lb.rows.iter().find(|r| r.rank == Some(1)) {
        let _ = write!(
            s,
            "<p class=\"best\">Best: trial {} — {} {} = <b>{}</b>{}</p>",
            best.trial,
            esc(best.learner.as_deref().unwrap_or("program")),
            esc(&lb.metric),
            esc(&best.score.map_or("?".into(), num)),
            best.std.map_or(String::new(), |d| format!(" ± {}", esc(&num(d))))
        );
    }
    section("summary", "Run summary", &s)
}

fn warnings_section(insight: &RunInsight) -> String {
    let mut s = String::new();
    if !insight.guardrails.is_empty() {
        s.push_str("<table class=\"grid\"><thead><tr><th>check</th><th>status</th><th>detail</th></tr></thead><tbody>");
        for g in &insight.guardrails {
            let _ = write!(
                s,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
                g.status.name(),
                esc(&g.name),
                g.status.name(),
                esc(&g.detail)
            );
        }
        s.push_str("</tbody></table>");
    }
    if insight.warnings.is_empty() {
        s.push_str("<p class=\"ok\">No warnings on the data or the run.</p>");
    } else {
        s.push_str("<ul class=\"warn\">");
        for w in &insight.warnings {
            let _ = write!(s, "<li>{}</li>", esc(w));
        }
        s.push_str("</ul>");
    }
    section("warnings", "Guardrails", &s)
}

fn profile_section(insight: &RunInsight) -> String {
    let mut s = String::from(
        "<table class=\"grid\"><thead><tr><th>column</th><th>type</th><th>missing</th><th>distinct</th><th>min / mean / max or top levels</th><th>note</th></tr></thead><tbody>",
    );
    for c in &insight.profile {
        let detail = match (&c.stats, c.top.is_empty()) {
            (Some([a, m, b]), _) => format!("{} / {} / {}", num(*a), num(*m), num(*b)),
            (None, false) => c
                .top
                .iter()
                .map(|(l, n)| format!("{l} ({n})"))
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        let _ = write!(
            s,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.kind),
            esc(&c.name),
            esc(&c.kind),
            c.missing,
            c.distinct,
            esc(&detail),
            esc(c.note.as_deref().unwrap_or(""))
        );
    }
    s.push_str("</tbody></table>");
    section("profile", "Data profile", &s)
}

fn leaderboard_section(r: &Report) -> String {
    let lb = &r.leaderboard;
    let secondary = lb.secondary();
    let mut s = String::from("<p class=\"muted\">Click a column header to sort.</p><table class=\"grid sortable\" id=\"leaderboard\"><thead><tr>");
    let mut head = vec![
        "rank".to_string(),
        "trial".into(),
        "learner".into(),
        "preprocessing".into(),
        "hyperparameters".into(),
        format!("{} (mean ± std)", lb.metric),
    ];
    head.extend(secondary.iter().cloned());
    head.extend(["fit s".to_string(), "predict s".into(), "status".into()]);
    for (i, h) in head.iter().enumerate() {
        let _ = write!(s, "<th data-col=\"{i}\">{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    let shown: Vec<&Row> = lb
        .rows
        .iter()
        .filter(|r| r.rank.is_some_and(|k| k <= MAX_ROWS))
        .collect();
    for row in &shown {
        let cell = |v: Option<f64>| match v {
            Some(x) => format!("<td class=\"n\" data-v=\"{x}\">{}</td>", esc(&num(x))),
            None => "<td></td>".into(),
        };
        let more = if row.rank.is_some_and(|k| k > FIRST_ROWS) {
            " more"
        } else {
            ""
        };
        let _ = write!(
            s,
            "<tr class=\"trial{more}\" data-trial=\"{}\"><td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{}\">{}</td><td>{}</td><td>{}</td><td class=\"params\">{}</td><td class=\"n\" data-v=\"{}\">{}{}</td>",
            row.trial,
            row.rank.unwrap_or(0),
            row.rank.unwrap_or(0),
            row.trial,
            row.trial,
            esc(row.learner.as_deref().unwrap_or("")),
            esc(&row.preprocessing),
            esc(&row.params_text()),
            row.score.unwrap_or(f64::NAN),
            esc(&row.score.map_or(String::new(), num)),
            row.std.map_or(String::new(), |d| format!(" ± {}", esc(&num(d))))
        );
        for m in &secondary {
            s.push_str(&cell(row.metrics.get(m).copied()));
        }
        s.push_str(&cell(row.fit_secs));
        s.push_str(&cell(row.predict_secs));
        let _ = write!(s, "<td>{}</td></tr>", esc(&row.status));
    }
    s.push_str("</tbody></table>");
    if shown.len() > FIRST_ROWS {
        let _ = write!(
            s,
            "<p><button type=\"button\" id=\"show-all\">Show all {} listed trials</button></p>",
            shown.len()
        );
    }
    let completed = lb.rows.iter().filter(|r| r.rank.is_some()).count();
    if completed > shown.len() {
        let _ = write!(
            s,
            "<p class=\"muted\">{} more completed trials not listed (JSON output has them all).</p>",
            completed - shown.len()
        );
    }
    // Trials that did not complete: counted by status, with their most common errors.
    let others: Vec<&Row> = lb.rows.iter().filter(|r| r.rank.is_none()).collect();
    if !others.is_empty() {
        let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
        for o in &others {
            *by_status.entry(o.status.as_str()).or_insert(0) += 1;
        }
        let counts: Vec<String> = by_status.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let _ = write!(
            s,
            "<div class=\"others\"><p><b>Not completed:</b> {}.</p>",
            esc(&counts.join(", "))
        );
        let errors = lb.top_errors();
        if !errors.is_empty() {
            s.push_str("<ul>");
            for (e, n) in errors.iter().take(5) {
                let _ = write!(s, "<li>{n}× {}</li>", esc(e));
            }
            s.push_str("</ul>");
        }
        s.push_str("</div>");
    }
    section("leaderboard-section", "Leaderboard", &s)
}

fn learner_colors(rows: &[Row]) -> BTreeMap<String, &'static str> {
    let mut names: Vec<String> = rows
        .iter()
        .map(|r| r.learner.clone().unwrap_or_else(|| "trial".into()))
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, PALETTE[i % PALETTE.len()]))
        .collect()
}

fn legend(colors: &BTreeMap<String, &str>) -> String {
    let mut s = String::from("<div class=\"legend\">");
    for (n, c) in colors {
        let _ = write!(s, "<span><i style=\"background:{c}\"></i>{}</span>", esc(n));
    }
    s.push_str("</div>");
    s
}

fn history_section(r: &Report) -> String {
    let lb = &r.leaderboard;
    let max = lb.maximize();
    let timed = lb.rows.iter().all(|r| r.started_secs.is_some());
    let end = |r: &Row| {
        if timed {
            r.started_secs.unwrap_or(0.0) + r.secs.unwrap_or(0.0)
        } else {
            r.trial as f64
        }
    };
    let mut done: Vec<&Row> = lb
        .rows
        .iter()
        .filter(|r| r.rank.is_some() && r.score.is_some())
        .collect();
    if done.is_empty() {
        return section(
            "history",
            "Optimization history",
            "<p class=\"muted\">No completed trials.</p>",
        );
    }
    done.sort_by(|a, b| end(a).total_cmp(&end(b)).then(a.trial.cmp(&b.trial)));
    let colors = learner_colors(&lb.rows);
    let scores: Vec<f64> = done.iter().filter_map(|r| r.score).collect();
    let mut plot = Plot::new(
        range(done.iter().map(|r| end(r)).chain(std::iter::once(0.0))),
        range(scores.iter().copied()),
        if timed {
            "seconds since start (trial end)"
        } else {
            "trial"
        },
        &lb.metric,
    );
    let mut best = Vec::new();
    let mut cur: Option<f64> = None;
    for row in &done {
        let v = row.score.unwrap_or(f64::NAN);
        let better = cur.is_none_or(|c| if max { v > c } else { v < c });
        if better {
            cur = Some(v);
        }
        best.push((end(row), cur.unwrap_or(v)));
    }
    // Dots: every trial that improved the best, plus an even sample of the others.
    let improving: std::collections::BTreeSet<(i64, i64)> = done
        .iter()
        .zip(&best)
        .enumerate()
        .filter(|(i, (r, b))| *i == 0 || r.score == Some(b.1) && best[*i - 1].1 != b.1)
        .map(|(_, (r, _))| (r.run, r.trial))
        .collect();
    let every = done.len().div_ceil(MAX_DOTS).max(1);
    for (i, row) in done.iter().enumerate() {
        if i % every != 0 && !improving.contains(&(row.run, row.trial)) {
            continue;
        }
        let l = row.learner.clone().unwrap_or_else(|| "trial".into());
        let c = colors.get(&l).copied().unwrap_or("#888");
        plot.point(
            end(row),
            row.score.unwrap_or(f64::NAN),
            c,
            false,
            &format!("trial {} {l}: {}", row.trial, num(row.score.unwrap_or(f64::NAN))),
        );
    }
    plot.line(&best, "#222", false, true);
    let body = format!(
        "<p class=\"muted\">Each dot is a completed trial{}; the black line is the best score so far.</p>{}{}",
        if every > 1 { format!(" (every trial that improved the best, and 1 in {every} of the others)") } else { String::new() },
        plot.finish(),
        legend(&colors)
    );
    section("history", "Optimization history", &body)
}

fn per_learner_section(r: &Report) -> String {
    let lb = &r.leaderboard;
    let max = lb.maximize();
    let mut best: BTreeMap<String, f64> = BTreeMap::new();
    for row in lb.rows.iter().filter(|r| r.rank.is_some()) {
        let (Some(l), Some(v)) = (row.learner.clone(), row.score) else {
            continue;
        };
        let e = best.entry(l).or_insert(v);
        if (max && v > *e) || (!max && v < *e) {
            *e = v;
        }
    }
    let mut v: Vec<(String, f64)> = best.into_iter().collect();
    v.sort_by(|a, b| {
        if max {
            b.1.total_cmp(&a.1)
        } else {
            a.1.total_cmp(&b.1)
        }
    });
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for row in &lb.rows {
        *counts
            .entry(row.learner.clone().unwrap_or_else(|| "trial".into()))
            .or_insert(0) += 1;
    }
    let tried: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let body = format!(
        "{}<p class=\"muted\">Trials per learner: {}.</p>",
        bars(&v, max, ""),
        esc(&tried.join(", "))
    );
    section("learners", "Best score per learner", &body)
}

fn hyper_section(r: &Report) -> String {
    let lb = &r.leaderboard;
    let importance = super::insight::hyperparameter_importance(&lb.rows);
    let mut body = String::from(
        "<h3>Importance</h3><p class=\"muted\">Share of the score's variance across completed trials explained by each hyperparameter (η², values binned by quantile).</p>",
    );
    let shares: Vec<(String, f64)> = importance
        .iter()
        .take(15)
        .map(|p| (p.label.clone(), p.share))
        .collect();
    body.push_str(&bars(&shares, true, ""));
    // Scatters of the most important numeric hyperparameters.
    let done: Vec<&Row> = lb
        .rows
        .iter()
        .filter(|r| r.rank.is_some() && r.score.is_some())
        .collect();
    let colors = learner_colors(&lb.rows);
    let mut charts = String::new();
    let mut drawn = 0;
    for imp in &importance {
        if drawn >= MAX_SCATTERS {
            break;
        }
        let (name, param) = (&imp.label, imp.param.as_str());
        let all: Vec<(f64, f64, &Row)> = done
            .iter()
            .filter(|r| imp.learner.is_none() || r.learner == imp.learner)
            .filter_map(|r| Some((r.params.get(param)?.as_f64()?, r.score?, *r)))
            .collect();
        let every = all.len().div_ceil(MAX_DOTS / 2).max(1);
        let pts: Vec<(f64, f64, &Row)> = all.into_iter().step_by(every).collect();
        if pts.len() < 3 {
            continue;
        }
        let (lo, hi) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
        let mut plot = Plot::new(
            range(pts.iter().map(|p| p.0)),
            range(pts.iter().map(|p| p.1)),
            name,
            &lb.metric,
        );
        if lo > 0.0 && hi / lo > 100.0 {
            plot.log_x = true;
            plot.x = (lo / 1.3, hi * 1.3);
        }
        for (x, y, row) in &pts {
            let l = row.learner.clone().unwrap_or_else(|| "trial".into());
            plot.point(
                *x,
                *y,
                colors.get(&l).copied().unwrap_or("#888"),
                false,
                &format!("trial {}: {name}={} → {}", row.trial, num(*x), num(*y)),
            );
        }
        charts.push_str(&plot.finish());
        drawn += 1;
    }
    if !charts.is_empty() {
        body.push_str("<h3>Hyperparameter vs score</h3><div class=\"charts\">");
        body.push_str(&charts);
        body.push_str("</div>");
    }
    section("hyperparameters", "Hyperparameters", &body)
}

fn diagnostics_section(d: &Diagnostics, higher_is_better: bool) -> String {
    let mut body = format!(
        "<p class=\"muted\">The best configuration refitted on the training rows of one validation split and scored on its {}: {} = <b>{}</b>.</p>",
        esc(&d.rows),
        esc(&d.metric),
        esc(&num(d.score))
    );
    match &d.diagnosis {
        Diagnosis::Classification {
            classes,
            confusion,
            curves,
        } => {
            let max = confusion.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
            body.push_str("<div class=\"charts\"><div><h3>Confusion matrix</h3><table class=\"confusion\"><tr><th>truth \\ predicted</th>");
            for c in classes {
                let _ = write!(body, "<th>{}</th>", esc(c));
            }
            body.push_str("</tr>");
            for (t, row) in confusion.iter().enumerate() {
                let _ = write!(body, "<tr><th>{}</th>", esc(&classes[t]));
                for (p, &n) in row.iter().enumerate() {
                    let a = 0.08 + 0.85 * n as f64 / max;
                    let color = if t == p { "66,105,208" } else { "255,114,92" };
                    let fg = if a > 0.55 { "#fff" } else { "#111" };
                    let _ = write!(
                        body,
                        "<td style=\"background:rgba({color},{a:.2});color:{fg}\">{n}</td>"
                    );
                }
                body.push_str("</tr>");
            }
            body.push_str("</table></div>");
            let mut roc = Plot::new(
                (0.0, 1.0),
                (0.0, 1.0),
                "false positive rate",
                "true positive rate",
            );
            roc.line(&[(0.0, 0.0), (1.0, 1.0)], "#aaa", true, false);
            let mut pr = Plot::new((0.0, 1.0), (0.0, 1.02), "recall", "precision");
            let mut names = Vec::new();
            for (i, c) in curves.iter().enumerate() {
                let color = PALETTE[i % PALETTE.len()];
                roc.line(&c.roc, color, false, false);
                pr.line(&c.pr, color, false, false);
                names.push(format!(
                    "<span><i style=\"background:{color}\"></i>{}: AUC {}, AP {}</span>",
                    esc(&c.class),
                    num(c.auc),
                    num(c.average_precision)
                ));
            }
            let _ = write!(
                body,
                "<div><h3>ROC curve</h3>{}</div><div><h3>Precision-recall curve</h3>{}</div></div><div class=\"legend\">{}</div>",
                roc.finish(),
                pr.finish(),
                names.join("")
            );
        }
        Diagnosis::Regression { points, residuals } => {
            let all = range(points.iter().flat_map(|p| [p.0, p.1]));
            let mut pva = Plot::new(all, all, "actual", "predicted");
            pva.line(&[(all.0, all.0), (all.1, all.1)], "#aaa", true, false);
            for (a, p) in points {
                pva.point(
                    *a,
                    *p,
                    PALETTE[0],
                    false,
                    &format!("actual {} predicted {}", num(*a), num(*p)),
                );
            }
            let lo = residuals.first().map_or(0.0, |b| b.0);
            let hi = residuals.last().map_or(1.0, |b| b.1);
            let top = residuals.iter().map(|b| b.2).max().unwrap_or(1) as f64;
            let mut hist = Plot::new(
                (lo, hi),
                (0.0, top * 1.05),
                "residual (actual − predicted)",
                "rows",
            );
            for (x0, x1, c) in residuals {
                hist.rect(
                    *x0,
                    *x1,
                    *c as f64,
                    PALETTE[3],
                    &format!("{c} rows in [{}, {})", num(*x0), num(*x1)),
                );
            }
            let _ = write!(
                body,
                "<div class=\"charts\"><div><h3>Predicted vs actual</h3>{}</div><div><h3>Residuals</h3>{}</div></div>",
                pva.finish(),
                hist.finish()
            );
        }
    }
    body.push_str(&format!(
        "<h3>Permutation feature importance</h3><p class=\"muted\">How much {} {} when one feature's values are shuffled among the validation rows.</p>",
        esc(&d.metric),
        if higher_is_better { "drops" } else { "rises" }
    ));
    let top: Vec<(String, f64)> = d.permutation.iter().take(20).cloned().collect();
    body.push_str(&bars(&top, true, ""));
    section("best-model", "Best model on validation rows", &body)
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;margin:0;background:#f3f5f8}
header{background:#1d2a44;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;opacity:.8}
main{max-width:1180px;margin:0 auto;padding:12px 20px 40px}
section{background:#fff;border:1px solid #dde1e7;border-radius:8px;margin:16px 0;padding:14px 20px}
h2{font-size:18px;margin:4px 0 10px}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse}table.kv th{text-align:left;padding:3px 16px 3px 0;color:#555;font-weight:600}table.kv td{padding:3px 0}
table.grid{width:100%;font-size:13px}table.grid th,table.grid td{border-bottom:1px solid #e8ebef;padding:5px 8px;text-align:left;vertical-align:top}
table.grid thead th{background:#f0f3f7;position:sticky;top:0}table.sortable th{cursor:pointer;user-select:none}
tr.more{display:none}table.all tr.more{display:table-row}button{font:inherit;padding:4px 12px;border:1px solid #b8c0cc;border-radius:5px;background:#f6f8fb;cursor:pointer}
table.sortable th.asc::after{content:" ▲"}table.sortable th.desc::after{content:" ▼"}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.params{font-family:ui-monospace,monospace;font-size:12px;color:#333;max-width:420px}
tr.ignored td{color:#999}.muted{color:#667;font-size:13px}.ok{color:#2d7a3a}.best{font-size:15px}
ul.warn li{color:#8a5a00}tr.alerted td{color:#8a5a00;font-weight:600}.others{background:#fbf7ee;border:1px solid #eadfc4;border-radius:6px;padding:4px 12px;margin-top:10px}
.charts{display:flex;flex-wrap:wrap;gap:14px}.chart{background:#fff;max-width:100%;height:auto}
.chart .tick{font-size:10px;fill:#667}.chart .axis{font-size:11px;fill:#333}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;margin:6px 0}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.bars{max-width:760px}.bar{display:flex;align-items:center;gap:8px;margin:3px 0;font-size:13px}
.bar .label{width:230px;text-align:right;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bar .track{flex:1;background:#eef1f5;height:14px;border-radius:3px}.bar .fill{display:block;height:14px;background:#4269d0;border-radius:3px}
.bar .value{width:90px;font-variant-numeric:tabular-nums}
table.confusion td,table.confusion th{border:1px solid #dde1e7;padding:6px 10px;text-align:center}
footer{color:#889;font-size:12px;text-align:center;margin:20px}
"#;

const SCRIPT: &str = r#"
window.addEventListener('error', function (e) { document.body.setAttribute('data-js-error', String(e.message)); });
document.querySelectorAll('table.sortable').forEach(function (table) {
  var heads = table.querySelectorAll('thead th');
  heads.forEach(function (th, col) {
    th.addEventListener('click', function () {
      var asc = !th.classList.contains('asc');
      heads.forEach(function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(asc ? 'asc' : 'desc');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col], y = b.cells[col];
        var xv = x.getAttribute('data-v'), yv = y.getAttribute('data-v');
        var c = (xv !== null && yv !== null) ? (parseFloat(xv) - parseFloat(yv)) : x.textContent.localeCompare(y.textContent);
        if (isNaN(c)) { c = 0; }
        return asc ? c : -c;
      });
      rows.forEach(function (r, i) {
        if (r.classList.contains('trial')) { r.classList.toggle('more', i >= FIRST_ROWS); }
        body.appendChild(r);
      });
    });
  });
});
var showAll = document.getElementById('show-all');
if (showAll) {
  showAll.addEventListener('click', function () {
    var t = document.getElementById('leaderboard');
    var all = t.classList.toggle('all');
    showAll.textContent = all ? 'Show the first rows only' : 'Show all listed trials';
  });
}
document.body.setAttribute('data-ready', '1');
"#;

/// Render `report` as one self-contained HTML page.
pub fn render(report: &Report) -> String {
    let script = SCRIPT.replace("FIRST_ROWS", &FIRST_ROWS.to_string());
    let insight = report.insight.as_ref();
    let lb = &report.leaderboard;
    let mut html = String::with_capacity(64 * 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>\n<header><h1>{}</h1><p>{} trials · {} ({}) · generated by automl {}</p></header><main>\n",
        esc(&report.title),
        esc(&report.title),
        lb.rows.len(),
        esc(&lb.metric),
        esc(&lb.goal),
        env!("CARGO_PKG_VERSION")
    );
    html.push_str(&summary_section(report, insight));
    if let Some(i) = insight {
        html.push_str(&warnings_section(i));
        if !i.profile.is_empty() {
            html.push_str(&profile_section(i));
        }
    }
    html.push_str(&leaderboard_section(report));
    html.push_str(&history_section(report));
    if lb.rows.iter().any(|r| r.learner.is_some()) {
        html.push_str(&per_learner_section(report));
    }
    html.push_str(&hyper_section(report));
    match insight.map(|i| i.diagnostics.as_ref()) {
        Some(Some(d)) => html.push_str(&diagnostics_section(d, lb.maximize())),
        Some(None) => html.push_str(&section(
            "best-model",
            "Best model on validation rows",
            "<p class=\"muted\">Not computed for this run: diagnostics cost one more fit, so \
             <code>automl run</code> computes them with <code>--report FILE</code>.</p>",
        )),
        None => {}
    }
    let _ = writeln!(
        html,
        "</main><footer>automl {} · self-contained report: no network access needed</footer><script>{script}</script></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let t = ticks(0.0, 1.0);
        assert_eq!(t.len(), 6, "{t:?}");
        assert!(t
            .iter()
            .zip([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
            .all(|(a, b)| (a - b).abs() < 1e-9));
        let t = ticks(0.83, 0.86);
        assert_eq!(t, vec![0.83, 0.84, 0.85, 0.86]);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
