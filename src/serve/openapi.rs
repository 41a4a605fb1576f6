//! The OpenAPI 3 document of what is served now (`GET /openapi.json`): each endpoint's three
//! scoring routes, with its model's columns and their types.

use serde_json::{json, Map, Value};

use super::LiveMap;
use crate::data::FeatureKind;

/// The document.
pub fn document(live: &LiveMap) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut names: Vec<&String> = live.keys().collect();
    names.sort();
    for name in names {
        let l = &live[name];
        let row = format!("{name}_row");
        let mut props = Map::new();
        if let Some(d) = l.deployments.values().next() {
            for f in d.file.schema.used() {
                let t = if f.kind == FeatureKind::Numeric {
                    "number"
                } else {
                    "string"
                };
                props.insert(f.name.clone(), json!({"type": [t, "null"]}));
            }
        }
        schemas.insert(row.clone(), json!({"type": "object", "properties": props}));
        let security = if l.endpoint.auth == "key" {
            json!([{"key": []}])
        } else {
            json!([])
        };
        let op = |summary: &str, body: Value, answer: Value| {
            json!({"post": {
                "summary": summary,
                "security": security,
                "parameters": [{"name": "azureml-model-deployment", "in": "header", "required": false,
                                "schema": {"type": "string"}, "description": "Pin a deployment"}],
                "requestBody": {"required": true, "content": body},
                "responses": {
                    "200": {"description": "Predictions", "content": {"application/json": {"schema": answer}}},
                    "400": {"description": "The request does not match the model's columns"},
                    "401": {"description": "A valid key is needed"},
                    "408": {"description": "Too slow"},
                    "413": {"description": "Too large"}
                }
            }})
        };
        let row_ref = json!({"$ref": format!("#/components/schemas/{row}")});
        paths.insert(
            format!("/endpoints/{name}/score"),
            op(
                "Azure ML scoring",
                json!({"application/json": {"schema": {"type": "object", "properties": {
                    "input_data": {"type": "object", "properties": {
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "index": {"type": "array"},
                        "data": {"type": "array", "items": {"type": "array"}}}},
                    "data": {"type": "array", "items": row_ref}}}}}),
                json!({"type": "array"}),
            ),
        );
        paths.insert(
            format!("/endpoints/{name}/invocations"),
            op(
                "MLflow scoring protocol",
                json!({
                    "application/json": {"schema": {"type": "object", "properties": {
                        "dataframe_split": {"type": "object"},
                        "dataframe_records": {"type": "array", "items": row_ref},
                        "instances": {"type": "array"},
                        "inputs": {}}}},
                    "text/csv": {"schema": {"type": "string"}}
                }),
                json!({"type": "object", "properties": {"predictions": {"type": "array"}}}),
            ),
        );
        paths.insert(
            format!("/v2/models/{name}/infer"),
            op(
                "Open Inference Protocol v2",
                json!({"application/json": {"schema": {"type": "object", "properties": {
                    "inputs": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "shape": {"type": "array"},
                        "datatype": {"type": "string"}, "data": {"type": "array"}}}}}}}}),
                json!({"type": "object", "properties": {"outputs": {"type": "array"}}}),
            ),
        );
    }
    for (p, summary) in [
        ("/health", "Liveness"),
        ("/ready", "Endpoints, deployments, model versions and device"),
        ("/metrics", "Prometheus metrics"),
    ] {
        paths.insert(
            p.into(),
            json!({"get": {"summary": summary, "responses": {"200": {"description": "OK"}}}}),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "automl online endpoints", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"key": {"type": "http", "scheme": "bearer"}}
        }
    })
}
