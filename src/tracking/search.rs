//! `runs/search` and `experiments/search`: MLflow's filter strings (clauses joined by AND, such as
//! `metrics.acc > 0.9 and params.lr = '0.1' and attributes.status = 'FINISHED'`), `order_by` and
//! page tokens.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{json, Value};

use super::api::{self, experiment_ids, Answer, Args, Reply};
use super::Shared;
use crate::store::RunRecord;

/// A filter clause's operator.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
}

/// What a clause or an ordering reads.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Metric(String),
    Param(String),
    Tag(String),
    Attr(String),
}

/// One `field OP value` clause.
#[derive(Debug, Clone, PartialEq)]
struct Clause {
    field: Field,
    op: Op,
    value: Literal,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Num(f64),
    Text(String),
}

/// A field name: `metrics.x`, `params."a b"`, `tags.`k``, `attributes.status`, or a bare attribute.
fn field(t: &str) -> Result<Field, String> {
    let (kind, key) = match t.split_once('.') {
        Some((k, rest)) => (k.to_ascii_lowercase(), rest.to_string()),
        None => ("attributes".into(), t.to_string()),
    };
    let key = key
        .trim_matches(|c| c == '`' || c == '"' || c == '\'')
        .to_string();
    match kind.as_str() {
        "metrics" | "metric" => Ok(Field::Metric(key)),
        "params" | "param" | "parameters" | "parameter" => Ok(Field::Param(key)),
        "tags" | "tag" => Ok(Field::Tag(key)),
        "attributes" | "attribute" | "attr" | "run" => Ok(Field::Attr(key)),
        other => Err(format!(
            "unknown field kind '{other}' (metrics, params, tags, attributes)"
        )),
    }
}

/// Split a filter into tokens: identifiers (with quoted parts), operators, quoted strings, numbers.
fn tokens(f: &str) -> Result<Vec<String>, String> {
    let c: Vec<char> = f.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '\'' || (ch == '"' && out.last().is_some_and(|t: &String| is_op(t))) {
            let q = ch;
            let mut j = i + 1;
            while j < c.len() && c[j] != q {
                j += 1;
            }
            if j >= c.len() {
                return Err("a quoted value is not closed".into());
            }
            out.push(format!("'{}", c[i + 1..j].iter().collect::<String>()));
            i = j + 1;
        } else if "=!<>".contains(ch) {
            let two = i + 1 < c.len() && c[i + 1] == '=';
            let op: String = if two {
                c[i..i + 2].iter().collect()
            } else {
                ch.to_string()
            };
            out.push(op);
            i += if two { 2 } else { 1 };
        } else {
            let mut j = i;
            let mut quote: Option<char> = None;
            while j < c.len() {
                let x = c[j];
                match quote {
                    Some(q) if x == q => quote = None,
                    Some(_) => {}
                    None if x == '`' || x == '"' => quote = Some(x),
                    None if x.is_whitespace() || "=!<>'".contains(x) => break,
                    None => {}
                }
                j += 1;
            }
            out.push(c[i..j].iter().collect());
            i = j;
        }
    }
    Ok(out)
}

fn is_op(t: &str) -> bool {
    matches!(t, "=" | "!=" | "<" | "<=" | ">" | ">=")
        || t.eq_ignore_ascii_case("like")
        || t.eq_ignore_ascii_case("ilike")
}

/// Parse a filter string (empty: no clause).
fn parse(f: &str) -> Result<Vec<Clause>, String> {
    if f.len() > MAX_FILTER {
        return Err(format!("the filter is longer than {MAX_FILTER} characters"));
    }
    let t = tokens(f)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if i + 3 > t.len() {
            return Err(format!("incomplete clause near '{}'", t[i..].join(" ")));
        }
        let field = field(&t[i])?;
        let op = match t[i + 1].to_ascii_lowercase().as_str() {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "like" => Op::Like,
            "ilike" => Op::ILike,
            o => return Err(format!("unknown operator '{o}'")),
        };
        let raw = &t[i + 2];
        let value = match raw.strip_prefix('\'') {
            Some(text) => Literal::Text(text.to_string()),
            None => Literal::Num(
                raw.parse()
                    .map_err(|_| format!("'{raw}' is neither a number nor a quoted value"))?,
            ),
        };
        out.push(Clause { field, op, value });
        i += 3;
        if i < t.len() {
            if !t[i].eq_ignore_ascii_case("and") {
                return Err(format!("expected AND, found '{}' (only AND joins clauses)", t[i]));
            }
            i += 1;
        }
    }
    Ok(out)
}

/// SQL LIKE with `%` and `_`: two pointers, backing up to the last `%` (O(text × pattern), no
/// recursion, so no pattern can exhaust the stack).
pub fn like(text: &str, pat: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pat.chars().collect();
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < t.len() {
        if j < p.len() && (p[j] == '_' || p[j] == t[i]) && p[j] != '%' {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '%' {
            star = Some((j, i));
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj + 1;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    p[j..].iter().all(|c| *c == '%')
}

/// The longest filter string accepted.
const MAX_FILTER: usize = 4096;

/// A run flattened for filtering and ordering.
struct View {
    run: Value,
    metrics: HashMap<String, f64>,
    params: HashMap<String, String>,
    tags: HashMap<String, String>,
}

impl View {
    fn of(run: Value) -> View {
        let list = |k: &str| -> Vec<Value> { run["data"][k].as_array().cloned().unwrap_or_default() };
        let metrics = list("metrics")
            .iter()
            .filter_map(|m| Some((m["key"].as_str()?.to_string(), m["value"].as_f64()?)))
            .collect();
        let text = |k: &str| -> HashMap<String, String> {
            list(k)
                .iter()
                .filter_map(|m| Some((m["key"].as_str()?.to_string(), m["value"].as_str()?.to_string())))
                .collect()
        };
        let (params, tags) = (text("params"), text("tags"));
        View {
            run,
            metrics,
            params,
            tags,
        }
    }

    fn get(&self, f: &Field) -> Option<Literal> {
        match f {
            Field::Metric(k) => self.metrics.get(k).map(|v| Literal::Num(*v)),
            Field::Param(k) => self.params.get(k).map(|v| Literal::Text(v.clone())),
            Field::Tag(k) => self.tags.get(k).map(|v| Literal::Text(v.clone())),
            Field::Attr(k) => {
                let key = match k.as_str() {
                    "run_name" => "run_name",
                    "status" => "status",
                    "start_time" | "created" => "start_time",
                    "end_time" => "end_time",
                    "run_id" | "id" => "run_id",
                    "user_id" => "user_id",
                    _ => return None,
                };
                match &self.run["info"][key] {
                    // Run ids are numbers here: "10" sorts after "9".
                    Value::String(s) if key == "run_id" => s.parse().ok().map(Literal::Num),
                    Value::Number(n) => n.as_f64().map(Literal::Num),
                    Value::String(s) => Some(Literal::Text(s.clone())),
                    _ => None,
                }
            }
        }
    }

    fn admits(&self, c: &Clause) -> bool {
        let Some(have) = self.get(&c.field) else {
            return false;
        };
        let ord = match (&have, &c.value) {
            (Literal::Num(a), Literal::Num(b)) => a.partial_cmp(b),
            (Literal::Text(a), Literal::Text(b)) => match c.op {
                Op::Like => return like(a, b),
                Op::ILike => return like(&a.to_lowercase(), &b.to_lowercase()),
                _ => Some(a.cmp(b)),
            },
            (Literal::Text(a), Literal::Num(b)) => a.parse::<f64>().ok().and_then(|a| a.partial_cmp(b)),
            (Literal::Num(a), Literal::Text(b)) => b.parse::<f64>().ok().and_then(|b| a.partial_cmp(&b)),
        };
        let Some(o) = ord else {
            return false;
        };
        match c.op {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Like | Op::ILike => false,
        }
    }
}

/// Compare two values of an ordering key (missing values last).
fn cmp_lit(a: Option<Literal>, b: Option<Literal>) -> Ordering {
    match (a, b) {
        (Some(Literal::Num(x)), Some(Literal::Num(y))) => x.total_cmp(&y),
        (Some(Literal::Text(x)), Some(Literal::Text(y))) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// Offset of a page token.
fn offset(a: &Args) -> usize {
    a.text("page_token").and_then(|t| t.parse().ok()).unwrap_or(0)
}

/// `POST runs/search`.
pub fn runs(s: &Shared, a: &Args) -> Answer {
    let names = api::names_of(s, &a.list("experiment_ids"))?;
    let clauses =
        parse(&a.text("filter").unwrap_or_default()).map_err(|e| Reply::bad(&format!("bad filter: {e}")))?;
    let mut order: Vec<(Field, bool)> = Vec::new();
    for o in a.list("order_by") {
        let t = o.as_str().unwrap_or_default().trim().to_string();
        let (name, asc) = match t.rsplit_once(' ') {
            Some((n, d)) if d.eq_ignore_ascii_case("desc") => (n.trim().to_string(), false),
            Some((n, d)) if d.eq_ignore_ascii_case("asc") => (n.trim().to_string(), true),
            _ => (t.clone(), true),
        };
        order.push((
            field(&name).map_err(|e| Reply::bad(&format!("bad order_by: {e}")))?,
            asc,
        ));
    }
    // MLflow's default: newest first.
    order.push((Field::Attr("start_time".into()), false));
    order.push((Field::Attr("run_id".into()), false));
    let ids = experiment_ids(s)?;
    let records: Vec<RunRecord> = api::runs_of(s, &names)?;
    let mut views = Vec::new();
    for r in &records {
        let v = View::of(api::run_value(s, r, &ids)?);
        if clauses.iter().all(|c| v.admits(c)) {
            views.push(v);
        }
    }
    views.sort_by(|x, y| {
        for (f, asc) in &order {
            let o = cmp_lit(x.get(f), y.get(f));
            let o = if *asc || x.get(f).is_none() || y.get(f).is_none() {
                o
            } else {
                o.reverse()
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    let start = offset(a);
    let max = a
        .int("max_results")?
        .map_or(1000, |m| m.clamp(1, 50_000) as usize);
    let total = views.len();
    let page: Vec<Value> = views.into_iter().skip(start).take(max).map(|v| v.run).collect();
    let mut out = json!({"runs": page});
    if start.saturating_add(max) < total {
        out["next_page_token"] = json!((start + max).to_string());
    }
    Ok(out)
}

/// `experiments/search`: by name (`name = 'x'`, `name LIKE 'x%'`), newest last.
pub fn experiments(s: &Shared, a: &Args) -> Answer {
    let clauses =
        parse(&a.text("filter").unwrap_or_default()).map_err(|e| Reply::bad(&format!("bad filter: {e}")))?;
    let all = s.store.experiments().map_err(api::store_err)?;
    let mut out = Vec::new();
    for e in &all {
        let v = View {
            run: json!({"info": {"run_name": e.name}}),
            metrics: HashMap::new(),
            params: HashMap::new(),
            tags: HashMap::new(),
        };
        let ok = clauses.iter().all(|c| {
            let c = match &c.field {
                Field::Attr(k) if k == "name" => Clause {
                    field: Field::Attr("run_name".into()),
                    ..c.clone()
                },
                _ => c.clone(),
            };
            v.admits(&c)
        });
        if ok {
            out.push(api::experiment_json(e));
        }
    }
    let start = offset(a);
    let max = a
        .int("max_results")?
        .map_or(1000, |m| m.clamp(1, 50_000) as usize);
    let total = out.len();
    let page: Vec<Value> = out.into_iter().skip(start).take(max).collect();
    let mut res = json!({"experiments": page});
    if start.saturating_add(max) < total {
        res["next_page_token"] = json!((start + max).to_string());
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_match() {
        let c = parse("metrics.acc > 0.9 and params.lr = '0.1' AND attributes.status = 'FINISHED'").unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].field, Field::Metric("acc".into()));
        assert_eq!(c[1].value, Literal::Text("0.1".into()));
        assert_eq!(parse("").unwrap(), vec![]);
        assert!(parse("metrics.acc >").is_err());
        assert!(parse("metrics.acc > 1 or metrics.b < 2").is_err());
        assert!(parse("foo.bar = 1").is_err());
        let c = parse("tags.`mlflow.runName` LIKE 'trial%'").unwrap();
        assert_eq!(c[0].field, Field::Tag("mlflow.runName".into()));
        let run = json!({
            "info": {"status": "FINISHED", "start_time": 10, "run_id": "3", "run_name": "trial 1"},
            "data": {
                "metrics": [{"key": "acc", "value": 0.95}],
                "params": [{"key": "lr", "value": "0.1"}],
                "tags": [{"key": "mlflow.runName", "value": "trial 1"}],
            }
        });
        let v = View::of(run);
        let all = |f: &str| parse(f).unwrap().iter().all(|c| v.admits(c));
        assert!(all(
            "metrics.acc > 0.9 and params.lr = '0.1' and status = 'FINISHED'"
        ));
        assert!(all("tags.`mlflow.runName` LIKE 'trial%'"));
        assert!(all("attributes.run_name ILIKE 'TRIAL _'"));
        assert!(!all("metrics.acc < 0.9"));
        assert!(!all("metrics.missing > 0"));
        assert!(all("params.lr >= 0.1"));
        // LIKE without recursion: long patterns and many wildcards are fine.
        assert!(like("abcabd", "%ab_"));
        assert!(like("abc", "a%c") && !like("abc", "a%d") && like("", "%%"));
        assert!(!like(&"a".repeat(6000), &format!("{}b", "%a".repeat(3000))));
        assert!(parse(&format!("params.x LIKE '{}'", "%".repeat(10_000))).is_err());
    }
}
