//! The request formats clients already speak, read into a [`Table`], and the answers:
//! - Azure ML (`/score`): `{"input_data": {"columns", "index", "data"}}` or `{"data": [...]}`;
//! - MLflow scoring (`/invocations`): exactly one of `dataframe_split`, `dataframe_records`,
//!   `instances`, `inputs`, or a `text/csv` body; answers `{"predictions": [...]}`;
//! - KServe / Open Inference Protocol v2 (`/v2/models/NAME/infer`): named input tensors.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::data::{format_number, RawColumn, RawType, Values};
use crate::data::{FeatureKind, Schema, Table};
use crate::learners::Prediction;

/// How a request is read and answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Azure ML online endpoint scoring.
    Azure,
    /// MLflow's scoring server.
    Mlflow,
    /// Open Inference Protocol v2.
    Kserve,
}

/// A refused request: HTTP status and message.
pub type Refusal = (u16, String);

fn bad(m: impl Into<String>) -> Refusal {
    (400, m.into())
}

/// Columns in arrival order, each with its cells.
type Columns = Vec<(String, Vec<Value>)>;

/// Feature columns a positional row maps to: every non-target column of training, in order.
fn positional(schema: &Schema) -> Vec<String> {
    schema.features.iter().map(|f| f.name.clone()).collect()
}

/// Rows given as objects (`[{"a": 1, "b": "x"}, …]`): the model's columns only (others are
/// ignored anyway, and a request with many made-up keys must not grow a grid of them).
fn from_records(rows: &[Value], schema: &Schema) -> Result<Columns, Refusal> {
    let known: std::collections::HashSet<&str> = schema.features.iter().map(|f| f.name.as_str()).collect();
    let mut names: Vec<String> = Vec::new();
    for r in rows {
        let Value::Object(m) = r else {
            return Err(bad("each record must be an object of column: value"));
        };
        for k in m.keys() {
            if known.contains(k.as_str()) && !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    Ok(names
        .into_iter()
        .map(|n| {
            let cells = rows
                .iter()
                .map(|r| r.get(&n).cloned().unwrap_or(Value::Null))
                .collect();
            (n, cells)
        })
        .collect())
}

/// Rows given as arrays under `columns` names.
fn from_split(columns: &[String], data: &[Value]) -> Result<Columns, Refusal> {
    let mut out: Columns = columns
        .iter()
        .map(|c| (c.clone(), Vec::with_capacity(data.len())))
        .collect();
    for (i, row) in data.iter().enumerate() {
        let Value::Array(cells) = row else {
            return Err(bad(format!(
                "row {i} must be an array of {} values",
                columns.len()
            )));
        };
        if cells.len() != columns.len() {
            return Err(bad(format!(
                "row {i} has {} value(s) but there are {} column(s)",
                cells.len(),
                columns.len()
            )));
        }
        for (c, v) in out.iter_mut().zip(cells) {
            c.1.push(v.clone());
        }
    }
    Ok(out)
}

/// Rows as a list of objects, or of arrays in training column order.
fn from_rows(rows: &[Value], schema: &Schema) -> Result<Columns, Refusal> {
    match rows.first() {
        Some(Value::Object(_)) | None => from_records(rows, schema),
        Some(Value::Array(_)) => from_split(&positional(schema), rows),
        Some(_) => Err(bad("rows must be objects (column: value) or arrays of values")),
    }
}

fn names(v: &Value, what: &str) -> Result<Vec<String>, Refusal> {
    v.as_array()
        .ok_or_else(|| bad(format!("'{what}' must be a list of column names")))?
        .iter()
        .map(|c| {
            c.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(format!("'{what}' must hold column names (text)")))
        })
        .collect()
}

/// `{"columns": [...], "data": [[...]]}` (pandas' split orientation).
fn split_object(v: &Value, what: &str) -> Result<Columns, Refusal> {
    let cols = names(
        v.get("columns").unwrap_or(&Value::Null),
        &format!("{what}.columns"),
    )?;
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("'{what}.data' must be a list of rows")))?;
    from_split(&cols, data)
}

fn parse_json(body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad("the body must be a JSON object")),
        Err(e) => Err(bad(format!("the body is not valid JSON: {e}"))),
    }
}

/// Read a request body into a table of the model's columns.
pub fn read(protocol: Protocol, content_type: &str, body: &[u8], schema: &Schema) -> Result<Table, Refusal> {
    let columns = match protocol {
        Protocol::Mlflow if content_type.starts_with("text/csv") => {
            return Table::from_csv_bytes(body.to_vec(), Path::new("request"))
                .map_err(|e| bad(e.to_string()));
        }
        Protocol::Azure => {
            let m = parse_json(body)?;
            match (m.get("input_data"), m.get("data")) {
                (Some(v @ Value::Object(_)), _) => split_object(v, "input_data")?,
                (Some(Value::Array(rows)), _) | (None, Some(Value::Array(rows))) => from_rows(rows, schema)?,
                _ => return Err(bad(
                    "expected {\"input_data\": {\"columns\": [...], \"data\": [[...]]}} or {\"data\": [...]}",
                )),
            }
        }
        Protocol::Mlflow => {
            let m = parse_json(body)?;
            let keys = ["dataframe_split", "dataframe_records", "instances", "inputs"];
            let given: Vec<&str> = keys.iter().copied().filter(|k| m.contains_key(*k)).collect();
            if given.len() != 1 {
                return Err(bad(format!(
                    "the body must hold exactly one of dataframe_split, dataframe_records, instances, inputs (found {})",
                    if given.is_empty() { "none".to_string() } else { given.join(", ") }
                )));
            }
            let v = &m[given[0]];
            match (given[0], v) {
                ("dataframe_split", _) => split_object(v, "dataframe_split")?,
                (_, Value::Array(rows)) => from_rows(rows, schema)?,
                // Columnar: {"col": [values], …}.
                ("inputs" | "instances", Value::Object(cols)) => {
                    let mut out = Columns::new();
                    for (k, v) in cols {
                        let cells = match v {
                            Value::Array(a) => a.clone(),
                            one => vec![one.clone()],
                        };
                        out.push((k.clone(), cells));
                    }
                    out
                }
                (k, _) => {
                    return Err(bad(format!(
                        "'{k}' must be a list of rows or an object of columns"
                    )))
                }
            }
        }
        Protocol::Kserve => {
            let m = parse_json(body)?;
            let inputs = m.get("inputs").and_then(Value::as_array).ok_or_else(|| {
                bad("expected {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}, ...]}")
            })?;
            let mut out = Columns::new();
            for t in inputs {
                let name = t
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let data = t
                    .get("data")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad(format!("input '{name}' has no 'data' list")))?;
                let shape: Vec<usize> = t
                    .get("shape")
                    .and_then(Value::as_array)
                    .map(|s| s.iter().filter_map(|x| x.as_u64().map(|n| n as usize)).collect())
                    .unwrap_or_default();
                let flat: Vec<Value> = data
                    .iter()
                    .flat_map(|v| match v {
                        Value::Array(a) => a.clone(),
                        x => vec![x.clone()],
                    })
                    .collect();
                let cols = positional(schema);
                // One [rows, columns] tensor in training column order, or one tensor per column.
                if shape.len() == 2 && shape[1] > 1 {
                    if shape[1] != cols.len() || flat.len() != shape[0] * shape[1] {
                        return Err(bad(format!(
                            "input '{name}' of shape {shape:?} must be [rows, {}] with rows × {} values",
                            cols.len(),
                            cols.len()
                        )));
                    }
                    let rows: Vec<Value> = flat.chunks(shape[1]).map(|c| Value::Array(c.to_vec())).collect();
                    out.extend(from_split(&cols, &rows)?);
                } else {
                    out.push((name, flat));
                }
            }
            out
        }
    };
    to_table(columns, schema)
}

/// Build the table: each model column typed as in training (numbers for numeric features, labels
/// for the others); a value of the wrong kind is refused naming its column.
fn to_table(columns: Columns, schema: &Schema) -> Result<Table, Refusal> {
    let n = columns.first().map_or(0, |c| c.1.len());
    if n == 0 {
        return Err(bad("no rows to score"));
    }
    let mut out = Vec::with_capacity(columns.len());
    let mut seen = std::collections::BTreeSet::new();
    for (name, cells) in columns {
        if !seen.insert(name.clone()) {
            return Err(bad(format!("column '{name}' is given twice")));
        }
        if cells.len() != n {
            return Err(bad(format!(
                "column '{name}' has {} value(s), other columns {n}",
                cells.len()
            )));
        }
        let numeric = schema
            .features
            .iter()
            .any(|f| f.name == name && f.kind == FeatureKind::Numeric);
        let col = if numeric {
            let mut v = Vec::with_capacity(n);
            for (i, c) in cells.iter().enumerate() {
                v.push(match c {
                    Value::Null => f64::NAN,
                    Value::Number(x) => x.as_f64().unwrap_or(f64::NAN),
                    Value::Bool(b) => f64::from(u8::from(*b)),
                    Value::String(s) if s.trim().is_empty() => f64::NAN,
                    Value::String(s) => s
                        .trim()
                        .parse()
                        .map_err(|_| bad(format!("column '{name}' is numeric, but row {i} holds '{s}'")))?,
                    other => return Err(bad(format!("column '{name}', row {i}: {other} is not a value"))),
                });
            }
            RawColumn {
                name,
                raw: RawType::Float,
                values: Values::Numeric(v),
            }
        } else {
            let mut v = Vec::with_capacity(n);
            for (i, c) in cells.iter().enumerate() {
                v.push(match c {
                    Value::Null => None,
                    Value::String(s) if s.is_empty() => None,
                    Value::String(s) => Some(s.clone()),
                    Value::Number(x) => x.as_f64().map(format_number),
                    Value::Bool(b) => Some(b.to_string()),
                    other => return Err(bad(format!("column '{name}', row {i}: {other} is not a value"))),
                });
            }
            RawColumn {
                name,
                raw: RawType::Text,
                values: Values::Text(v),
            }
        };
        out.push(col);
    }
    Ok(Table {
        columns: out,
        n_rows: n,
    })
}

/// The predicted labels (classification) or values (regression), as JSON.
pub fn labels(schema: &Schema, pred: &Prediction) -> Vec<Value> {
    match pred {
        Prediction::Values(v) => v.iter().map(|x| json!(x)).collect(),
        Prediction::Proba(p) => (0..p.rows)
            .map(|i| {
                let row = p.row(i);
                let best = crate::metrics::argmax(row);
                json!(schema.classes.get(best).cloned().unwrap_or_default())
            })
            .collect(),
    }
}

/// The answer body of `protocol` for these predictions.
pub fn answer(protocol: Protocol, model: &str, version: &str, schema: &Schema, pred: &Prediction) -> Value {
    let preds = labels(schema, pred);
    match protocol {
        Protocol::Azure => Value::Array(preds),
        Protocol::Mlflow => json!({"predictions": preds}),
        Protocol::Kserve => {
            let n = preds.len();
            let mut outputs = vec![json!({
                "name": "predict",
                "shape": [n],
                "datatype": if matches!(pred, Prediction::Values(_)) { "FP64" } else { "BYTES" },
                "data": preds,
            })];
            if let Prediction::Proba(p) = pred {
                let flat: Vec<f64> = (0..p.rows).flat_map(|i| p.row(i).to_vec()).collect();
                outputs.push(json!({
                    "name": "predict_proba",
                    "shape": [p.rows, p.cols],
                    "datatype": "FP64",
                    "data": flat,
                }));
            }
            json!({"model_name": model, "model_version": version, "outputs": outputs})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{FeatureSchema, Task};

    fn schema() -> Schema {
        let f = |name: &str, kind| FeatureSchema {
            name: name.into(),
            raw: if kind == FeatureKind::Numeric {
                RawType::Float
            } else {
                RawType::Text
            },
            kind,
            reason: None,
            missing: 0,
            distinct: 2,
            date_format: None,
            date_parts: Vec::new(),
        };
        Schema {
            target: "y".into(),
            task: Task::Binary,
            features: vec![
                f("age", FeatureKind::Numeric),
                f("city", FeatureKind::Categorical),
            ],
            classes: vec!["no".into(), "yes".into()],
        }
    }

    fn cells(t: &Table) -> Vec<(String, Vec<Option<String>>)> {
        t.columns
            .iter()
            .map(|c| (c.name.clone(), (0..t.n_rows).map(|i| c.label(i)).collect()))
            .collect()
    }

    #[test]
    fn every_format_reads_the_same_table() {
        let s = schema();
        let want = vec![
            ("age".to_string(), vec![Some("30".to_string()), None]),
            (
                "city".to_string(),
                vec![Some("Oslo".to_string()), Some("7".to_string())],
            ),
        ];
        let bodies: Vec<(Protocol, &str, &str)> = vec![
            (
                Protocol::Azure,
                "application/json",
                r#"{"input_data": {"columns": ["age", "city"], "index": [0, 1], "data": [[30, "Oslo"], [null, 7]]}}"#,
            ),
            (
                Protocol::Azure,
                "application/json",
                r#"{"data": [{"age": 30, "city": "Oslo"}, {"city": 7}]}"#,
            ),
            (
                Protocol::Azure,
                "application/json",
                r#"{"data": [[30, "Oslo"], ["", "7"]]}"#,
            ),
            (
                Protocol::Mlflow,
                "application/json",
                r#"{"dataframe_split": {"columns": ["age", "city"], "data": [["30", "Oslo"], [null, 7]]}}"#,
            ),
            (
                Protocol::Mlflow,
                "application/json",
                r#"{"dataframe_records": [{"age": 30, "city": "Oslo"}, {"age": null, "city": "7"}]}"#,
            ),
            (
                Protocol::Mlflow,
                "application/json",
                r#"{"instances": [{"age": 30, "city": "Oslo"}, {"city": "7"}]}"#,
            ),
            (
                Protocol::Mlflow,
                "application/json",
                r#"{"inputs": {"age": [30, null], "city": ["Oslo", 7]}}"#,
            ),
            (Protocol::Mlflow, "text/csv", "age,city\n30,Oslo\n,7\n"),
            (
                Protocol::Kserve,
                "application/json",
                r#"{"inputs": [{"name": "age", "shape": [2], "datatype": "FP64", "data": [30, null]}, {"name": "city", "shape": [2], "datatype": "BYTES", "data": ["Oslo", "7"]}]}"#,
            ),
            (
                Protocol::Kserve,
                "application/json",
                r#"{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "BYTES", "data": [30, "Oslo", null, "7"]}]}"#,
            ),
        ];
        for (p, ct, b) in bodies {
            let t = read(p, ct, b.as_bytes(), &s).unwrap_or_else(|e| panic!("{p:?} {b}: {e:?}"));
            assert_eq!(cells(&t), want, "{p:?} {b}");
        }
    }

    #[test]
    fn malformed_requests_are_refused_with_a_reason() {
        let s = schema();
        let refused = |p, b: &str, needle: &str| {
            let (code, m) = read(p, "application/json", b.as_bytes(), &s).unwrap_err();
            assert_eq!(code, 400);
            assert!(m.contains(needle), "{b}: {m}");
        };
        refused(Protocol::Mlflow, "{not json", "not valid JSON");
        refused(
            Protocol::Mlflow,
            r#"{"instances": [], "inputs": []}"#,
            "exactly one",
        );
        refused(
            Protocol::Mlflow,
            r#"{"dataframe_records": [{"age": "old"}]}"#,
            "column 'age' is numeric",
        );
        refused(
            Protocol::Azure,
            r#"{"input_data": {"columns": ["age"], "data": [[1, 2]]}}"#,
            "row 0 has 2",
        );
        refused(Protocol::Azure, r#"{"something": 1}"#, "expected");
        refused(Protocol::Azure, r#"{"data": [{"age": [1]}]}"#, "not a value");
        refused(
            Protocol::Kserve,
            r#"{"inputs": [{"name": "x", "shape": [1, 3], "data": [1, 2, 3]}]}"#,
            "must be [rows, 2]",
        );
        refused(Protocol::Azure, r#"{"data": []}"#, "no rows");
    }
}
