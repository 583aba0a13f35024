//! The tools' arguments: their JSON Schemas (what `tools/list` shows) and how
//! they are read from a call's raw `arguments` object.
//!
//! Why not rmcp's `Parameters<T>`: serde stops at the first problem and, for a
//! wrong type, says "invalid type: string \"abc\", expected u32" without naming
//! the field, so a model cannot tell what to fix. Each tool therefore takes the
//! raw JSON object and reads it here field by field; every problem is an
//! [`ArgError`] that names the field and the fix, and becomes a tool error
//! (`isError`), never a JSON-RPC error. The structs below only derive
//! `JsonSchema`, so the input schemas clients see still come from them (with
//! `prompt`, `cwd` and `job_id` required).
//!
//! The shim checks presence and JSON types only. Values the daemon owns (is
//! `cwd` an existing absolute directory, is the policy known, is a job id well
//! formed, is a limit in range) are checked by codexd, whose messages already
//! name the field, so there is one source of truth for them.

use std::sync::Arc;

use rmcp::{handler::server::tool::schema_for_type, model::JsonObject};
use schemars::JsonSchema;
use serde_json::Value;

/// A problem with one argument, as a sentence that names the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(pub String);

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The input schema of a tool, from its argument struct.
///
/// Uses rmcp's own generator (draft 2020-12, root title/description removed);
/// our structs always have an object root, and if one ever did not, the plain
/// schema is still better than no tool at all.
pub fn input_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    rmcp::handler::server::common::schema_for_input::<T>().unwrap_or_else(|error| {
        tracing::error!("input schema of {}: {error}", std::any::type_name::<T>());
        schema_for_type::<T>()
    })
}

/// Arguments of `codex_start`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct StartArgs {
    /// The task for Codex, in plain language, with everything it needs to know
    /// (files, constraints, how to check its work). Must not be empty.
    #[schemars(length(min = 1))]
    pub prompt: String,
    /// Absolute path of an existing directory; Codex runs there (usually the
    /// repository root).
    pub cwd: String,
    /// What Codex may do: "suggest" = read-only sandbox, it can read and answer
    /// but not change files (default); "auto-edit" = may edit files inside cwd;
    /// "full-auto" = no sandbox, it can run anything you could.
    #[schemars(
        default = "default_approval_policy",
        extend("enum" = ["suggest", "auto-edit", "full-auto"])
    )]
    pub approval_policy: String,
    /// Codex model to use (e.g. "gpt-5.5"); omit for Codex's default.
    pub model: Option<String>,
}

fn default_approval_policy() -> String {
    "suggest".to_string()
}

/// Arguments of `codex_poll`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct PollArgs {
    /// The job id codex_start returned (12 lowercase hex characters).
    pub job_id: String,
    /// How many lines of output to return from the end (0 = none, at most
    /// 10000; the text is capped at 8000 characters either way).
    #[schemars(default = "default_tail_lines", range(max = 10000))]
    pub tail_lines: u32,
}

fn default_tail_lines() -> u32 {
    100
}

/// Arguments of `codex_list`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct ListArgs {
    /// Most jobs to return, newest first (1 to 1000).
    #[schemars(default = "default_limit", range(min = 1, max = 1000))]
    pub limit: u32,
    /// Only jobs with this status; omit for all.
    #[schemars(extend("enum" = ["queued", "running", "done", "error", "cancelled", null]))]
    pub status: Option<String>,
}

fn default_limit() -> u32 {
    20
}

/// Arguments of `codex_cancel`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct CancelArgs {
    /// The job id codex_start returned (12 lowercase hex characters).
    pub job_id: String,
}

const JOB_ID_HINT: &str =
    "pass the job_id that codex_start returned (codex_list shows recent ones)";

impl StartArgs {
    /// Reads and type-checks the arguments of a `codex_start` call.
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        let prompt = required_string(
            args,
            "prompt",
            "pass the task for Codex as a non-empty string",
        )?;
        if prompt.trim().is_empty() {
            return Err(ArgError(
                "prompt: is empty; pass the task for Codex as a non-empty string".into(),
            ));
        }
        let cwd = required_string(
            args,
            "cwd",
            "pass the absolute path of the directory Codex should work in",
        )?;
        let approval_policy =
            optional_string(args, "approval_policy")?.unwrap_or_else(default_approval_policy);
        let model = optional_string(args, "model")?.filter(|m| !m.is_empty());
        Ok(Self {
            prompt,
            cwd,
            approval_policy,
            model,
        })
    }
}

impl PollArgs {
    /// Reads and type-checks the arguments of a `codex_poll` call.
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        Ok(Self {
            job_id: required_job_id(args)?,
            tail_lines: optional_count(args, "tail_lines", default_tail_lines())?,
        })
    }
}

impl ListArgs {
    /// Reads and type-checks the arguments of a `codex_list` call.
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        Ok(Self {
            limit: optional_count(args, "limit", default_limit())?,
            status: optional_string(args, "status")?.filter(|s| !s.is_empty()),
        })
    }
}

impl CancelArgs {
    /// Reads and type-checks the arguments of a `codex_cancel` call.
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        Ok(Self {
            job_id: required_job_id(args)?,
        })
    }
}

fn required_job_id(args: &JsonObject) -> Result<String, ArgError> {
    let job_id = required_string(args, "job_id", JOB_ID_HINT)?;
    if job_id.trim().is_empty() {
        return Err(ArgError(format!("job_id: is empty; {JOB_ID_HINT}")));
    }
    Ok(job_id)
}

/// A string that must be present (null counts as missing).
fn required_string(args: &JsonObject, field: &str, hint: &str) -> Result<String, ArgError> {
    match args.get(field) {
        None | Some(Value::Null) => Err(ArgError(format!("{field}: missing; {hint}"))),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(ArgError(format!(
            "{field}: expected a string, got {}; {hint}",
            describe(other)
        ))),
    }
}

/// A string that may be absent or null.
fn optional_string(args: &JsonObject, field: &str) -> Result<Option<String>, ArgError> {
    match args.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ArgError(format!(
            "{field}: expected a string, got {}; pass a string or leave it out",
            describe(other)
        ))),
    }
}

/// A whole number ≥ 0 that may be absent or null (then `default`).
///
/// Like the Python tool this replaces (pydantic's lax mode), a number written
/// as a string ("50") or as a float with no fraction (50.0) is accepted;
/// anything else is an error naming the field.
fn optional_count(args: &JsonObject, field: &str, default: u32) -> Result<u32, ArgError> {
    let bad = |what: String| {
        ArgError(format!(
            "{field}: expected a whole number ≥ 0, got {what}; pass e.g. {default} or leave it out"
        ))
    };
    let value = match args.get(field) {
        None | Some(Value::Null) => return Ok(default),
        Some(value) => value,
    };
    let number: Option<i128> = match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e18)
                    .map(|f| f as i128)
            }),
        Value::String(s) => s.trim().parse::<i128>().ok(),
        _ => None,
    };
    match number {
        None => Err(bad(describe(value))),
        Some(n) if n < 0 => Err(bad(n.to_string())),
        Some(n) => u32::try_from(n).map_err(|_| bad(n.to_string())),
    }
}

/// A short description of a JSON value for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            let ellipsis = if short.len() < s.len() { "…" } else { "" };
            format!("the string {short:?}{ellipsis}")
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        match v {
            Value::Object(o) => o,
            _ => JsonObject::new(),
        }
    }

    #[test]
    fn start_defaults_and_required_fields() {
        let args = StartArgs::from_json(&obj(json!({"prompt": "p", "cwd": "/tmp"})));
        assert_eq!(
            args,
            Ok(StartArgs {
                prompt: "p".into(),
                cwd: "/tmp".into(),
                approval_policy: "suggest".into(),
                model: None
            })
        );
        let err = StartArgs::from_json(&obj(json!({"cwd": "/tmp"}))).unwrap_err();
        assert!(err.0.starts_with("prompt: missing"), "{err}");
        let err = StartArgs::from_json(&obj(json!({"prompt": "  ", "cwd": "/tmp"}))).unwrap_err();
        assert!(err.0.starts_with("prompt: is empty"), "{err}");
        let err = StartArgs::from_json(&obj(json!({"prompt": "p"}))).unwrap_err();
        assert!(err.0.starts_with("cwd: missing"), "{err}");
        let err = StartArgs::from_json(&obj(json!({"prompt": 5, "cwd": "/tmp"}))).unwrap_err();
        assert!(
            err.0.starts_with("prompt: expected a string, got 5"),
            "{err}"
        );
        let err = StartArgs::from_json(&obj(json!({"prompt": "p", "cwd": "/tmp", "model": []})))
            .unwrap_err();
        assert!(
            err.0.starts_with("model: expected a string, got a list"),
            "{err}"
        );
    }

    #[test]
    fn counts_accept_lax_numbers_and_reject_the_rest() {
        let poll = |v: Value| PollArgs::from_json(&obj(json!({"job_id": "abc", "tail_lines": v})));
        assert_eq!(poll(json!(5)).map(|a| a.tail_lines), Ok(5));
        assert_eq!(poll(json!(5.0)).map(|a| a.tail_lines), Ok(5));
        assert_eq!(poll(json!("7")).map(|a| a.tail_lines), Ok(7));
        assert_eq!(poll(Value::Null).map(|a| a.tail_lines), Ok(100));
        for bad in [
            json!("abc"),
            json!(-1),
            json!(2.5),
            json!(true),
            json!(1u64 << 40),
        ] {
            let err = poll(bad.clone()).unwrap_err();
            assert!(
                err.0.starts_with("tail_lines: expected a whole number"),
                "{bad}: {err}"
            );
        }
        let err = ListArgs::from_json(&obj(json!({"limit": "x"}))).unwrap_err();
        assert!(err.0.starts_with("limit: "), "{err}");
    }

    #[test]
    fn job_id_is_required_and_non_empty() {
        let err = CancelArgs::from_json(&JsonObject::new()).unwrap_err();
        assert!(err.0.starts_with("job_id: missing"), "{err}");
        let err = PollArgs::from_json(&obj(json!({"job_id": ""}))).unwrap_err();
        assert!(err.0.starts_with("job_id: is empty"), "{err}");
        let err = PollArgs::from_json(&obj(json!({"job_id": 12}))).unwrap_err();
        assert!(err.0.starts_with("job_id: expected a string"), "{err}");
    }

    #[test]
    fn schemas_mark_the_required_fields() {
        let required = |schema: Arc<JsonObject>| schema.get("required").cloned();
        assert_eq!(
            required(input_schema::<StartArgs>()),
            Some(json!(["prompt", "cwd"]))
        );
        assert_eq!(
            required(input_schema::<PollArgs>()),
            Some(json!(["job_id"]))
        );
        assert_eq!(
            required(input_schema::<CancelArgs>()),
            Some(json!(["job_id"]))
        );
        assert_eq!(required(input_schema::<ListArgs>()), None);
        let start = input_schema::<StartArgs>();
        assert_eq!(
            start["properties"]["approval_policy"]["default"],
            json!("suggest")
        );
        assert_eq!(
            start["properties"]["approval_policy"]["enum"],
            json!(["suggest", "auto-edit", "full-auto"])
        );
        assert_eq!(
            input_schema::<PollArgs>()["properties"]["tail_lines"]["default"],
            json!(100)
        );
    }
}
