//! Requests for a method the server serves whose params rmcp cannot read.
//!
//! rmcp reads a request into the first of its request types that fits, the
//! last being its custom request (any method, any params), so `tools/call`
//! with `arguments: [1]` arrives as a custom request, and rmcp's answer to
//! those is -32601 "method not found": the client then looks for the wrong
//! mistake. For the methods this server serves this is -32602 instead,
//! naming the param and what it must be.

use rmcp::model::{
    CallToolRequest, CancelTaskRequest, CustomRequest, DiscoverRequest, ErrorData, GetTaskRequest,
    InitializeRequest, ListToolsRequest, UpdateTaskRequest,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use crate::args::describe;

/// Why rmcp could not read the request's params as the request type of its
/// method; None for a method this server does not serve (rmcp's -32601
/// stands).
pub fn invalid_params(request: &CustomRequest) -> Option<ErrorData> {
    let method = request.method.as_str();
    let (fits, example): (Fits, &str) = match method {
        "tools/call" => (
            fits::<CallToolRequest>,
            r#"{"name": "codex_list", "arguments": {"limit": 5}}"#,
        ),
        "tools/list" => (fits::<ListToolsRequest>, "{}"),
        "tasks/get" => (fits::<GetTaskRequest>, r#"{"taskId": "0123456789ab"}"#),
        "tasks/cancel" => (fits::<CancelTaskRequest>, r#"{"taskId": "0123456789ab"}"#),
        "tasks/update" => (
            fits::<UpdateTaskRequest>,
            r#"{"taskId": "0123456789ab", "inputResponses": {}}"#,
        ),
        "initialize" => (
            fits::<InitializeRequest>,
            r#"{"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "…", "version": "…"}}"#,
        ),
        "server/discover" => (fits::<DiscoverRequest>, "{}"),
        _ => return None,
    };
    let params = request.params.clone().unwrap_or(Value::Null);
    let why = match &params {
        Value::Object(fields) => field_error(method, fields).unwrap_or_else(|| {
            let serde = fits(method, params.clone())
                .err()
                .map_or_else(|| "they do not fit".to_string(), |e| e.to_string());
            format!("params: {serde}; pass e.g. {example}")
        }),
        Value::Null => format!("params: missing; pass an object, e.g. {example}"),
        other => format!(
            "params: must be an object, got {}; pass e.g. {example}",
            describe(other)
        ),
    };
    Some(ErrorData::invalid_params(
        format!("Invalid params of {method}: {why}"),
        None,
    ))
}

type Fits = fn(&str, Value) -> Result<(), serde_json::Error>;

/// Whether `params` read as `T`, the request type of `method`, as rmcp
/// tried; the error is serde's.
fn fits<T: DeserializeOwned>(method: &str, params: Value) -> Result<(), serde_json::Error> {
    serde_json::from_value::<T>(json!({"method": method, "params": params})).map(drop)
}

/// The fields clients get wrong, each named with what it must be; None
/// leaves the error to serde.
fn field_error(method: &str, fields: &Map<String, Value>) -> Option<String> {
    let must_be = |field: &str, what: &str| {
        fields
            .get(field)
            .map(|value| format!("params.{field}: must be {what}, got {}", describe(value)))
    };
    let missing = |field: &str, what: &str| {
        (!fields.contains_key(field)).then(|| format!("params.{field}: missing; pass {what}"))
    };
    if let Some(meta) = fields
        .get("_meta")
        .filter(|m| !m.is_object() && !m.is_null())
    {
        return Some(format!(
            "params._meta: must be an object, got {}",
            describe(meta)
        ));
    }
    match method {
        "tools/call" => {
            const NAME: &str = "the tool's name, a string such as \"codex_list\"";
            const ARGUMENTS: &str =
                "an object (the tool's arguments by name, e.g. {\"job_id\": \"0123456789ab\"})";
            missing("name", NAME)
                .or_else(|| {
                    fields
                        .get("name")
                        .filter(|n| !n.is_string())
                        .and(must_be("name", NAME))
                })
                .or_else(|| {
                    fields
                        .get("arguments")
                        .filter(|a| !a.is_object() && !a.is_null())
                        .and(must_be("arguments", ARGUMENTS))
                })
        }
        "tasks/get" | "tasks/cancel" | "tasks/update" => {
            const TASK_ID: &str = "the task's id, a string as the task handle gave it";
            missing("taskId", TASK_ID)
                .or_else(|| {
                    fields
                        .get("taskId")
                        .filter(|t| !t.is_string())
                        .and(must_be("taskId", TASK_ID))
                })
                .or_else(|| {
                    const RESPONSES: &str =
                        "an object of the answers by input request key, e.g. {\"q1\": {\"action\": \"accept\", \"content\": {\"decision\": \"allow\"}}}";
                    fields
                        .get("inputResponses")
                        .filter(|r| method == "tasks/update" && !r.is_object())
                        .and(must_be("inputResponses", RESPONSES))
                })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(method: &str, params: Value) -> Option<String> {
        let request = CustomRequest::new(method, Some(params));
        invalid_params(&request).map(|e| {
            assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS);
            e.message.into_owned()
        })
    }

    #[test]
    fn a_tool_call_names_the_param_that_is_wrong() {
        let says = |params: Value| message("tools/call", params).unwrap_or_default();
        let got = says(json!({"name": "codex_list", "arguments": [1]}));
        assert!(
            got.starts_with("Invalid params of tools/call: params.arguments: must be an object")
                && got.ends_with("got a list"),
            "{got}"
        );
        assert!(says(json!({"name": 5})).contains("params.name: must be the tool's name"));
        assert!(says(json!({"arguments": {}})).contains("params.name: missing"));
        assert!(says(json!([1])).contains("params: must be an object, got a list"));
        assert!(says(json!({"name": "x", "_meta": 3})).contains("params._meta: must be an object"));
    }

    #[test]
    fn task_methods_name_the_task_id() {
        let got = message("tasks/get", json!({"taskId": 5})).unwrap_or_default();
        assert!(
            got.contains("params.taskId: must be the task's id"),
            "{got}"
        );
        let got = message(
            "tasks/update",
            json!({"taskId": "a", "inputResponses": [1]}),
        )
        .unwrap_or_default();
        assert!(
            got.contains("params.inputResponses: must be an object"),
            "{got}"
        );
    }

    #[test]
    fn other_shapes_fall_back_to_serde_and_unknown_methods_to_method_not_found() {
        let got = message("initialize", json!({"protocolVersion": 5})).unwrap_or_default();
        assert!(
            got.starts_with("Invalid params of initialize: params: "),
            "{got}"
        );
        assert!(got.contains("pass e.g. {\"protocolVersion\""), "{got}");
        assert_eq!(message("tools/frobnicate", json!([1])), None);
        assert_eq!(message("prompts/get", json!([1])), None, "not served");
    }
}
