//! Structured answers: the JSON Schema a job's final answer must follow
//! (for codex, the turn's `outputSchema` or a review's `--output-schema
//! FILE`; an agent that cannot honour one refuses it: `engine::refusal`),
//! checked before anything starts, and the agent's final answer read back
//! against it once the job ends.
//!
//! The `jsonschema` crate does both checks (the schema against its draft's
//! meta-schema, then the answer against the schema) rather than anything
//! hand-written here.

use serde_json::Value;

/// Largest output schema accepted, serialized.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// The file in a job's folder holding its output schema.
pub const SCHEMA_FILE: &str = "output_schema.json";

/// Checks an output schema sent as JSON text; returns it parsed. Every
/// error names the field `output_schema` and the fix.
pub fn check_schema(text: &str) -> Result<Value, String> {
    if text.len() > MAX_SCHEMA_BYTES {
        return Err(format!(
            "output_schema: {} bytes is over the limit of {MAX_SCHEMA_BYTES} bytes (64 KiB) serialized; pass a smaller JSON Schema (describe the answer's shape, not its data)",
            text.len()
        ));
    }
    let schema: Value = serde_json::from_str(text).map_err(|e| {
        format!("output_schema: is not JSON ({e}); pass a JSON Schema object, e.g. {{\"type\": \"object\", \"properties\": {{\"answer\": {{\"type\": \"string\"}}}}, \"required\": [\"answer\"], \"additionalProperties\": false}}")
    })?;
    if !schema.is_object() {
        return Err(format!(
            "output_schema: must be a JSON Schema object, got {}; pass e.g. {{\"type\": \"object\", \"properties\": {{\"answer\": {{\"type\": \"string\"}}}}, \"required\": [\"answer\"]}}",
            kind(&schema)
        ));
    }
    if let Err(e) = jsonschema::meta::validate(&schema) {
        return Err(format!(
            "output_schema: is not a valid JSON Schema: {e}{}; fix the schema (it is checked against its draft's meta-schema, 2020-12 unless $schema says otherwise)",
            at(e.instance_path().as_str())
        ));
    }
    // Compiling also catches what the meta-schema cannot: a $ref that
    // resolves nowhere (remote references are never fetched).
    if let Err(e) = jsonschema::validator_for(&schema) {
        return Err(format!(
            "output_schema: cannot be used: {e}; make every $ref point inside the schema"
        ));
    }
    Ok(schema)
}

/// Reads codex's final answer against the schema: the answer as JSON when
/// it matches, else why not (not JSON, or which rule it breaks, and where).
pub fn check_answer(schema_text: &str, answer: &str) -> Result<Value, String> {
    let schema: Value = serde_json::from_str(schema_text)
        .map_err(|e| format!("the output schema of this job cannot be read ({e})"))?;
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| format!("the output schema of this job cannot be used ({e})"))?;
    let value: Value = serde_json::from_str(answer.trim())
        .map_err(|e| format!("codex's answer did not parse as JSON: {e}"))?;
    if let Some(e) = validator.iter_errors(&value).next() {
        return Err(format!(
            "codex's answer did not match the output schema: {e}{}",
            at(e.instance_path().as_str())
        ));
    }
    Ok(value)
}

fn at(pointer: &str) -> String {
    if pointer.is_empty() {
        String::new()
    } else {
        format!(" (at {pointer})")
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"],"additionalProperties":false}"#;

    #[test]
    fn schemas_are_checked_against_their_meta_schema() {
        assert!(check_schema(SCHEMA).is_ok());
        let bad = check_schema(r#"{"type":"bogus"}"#)
            .err()
            .unwrap_or_default();
        assert!(
            bad.starts_with("output_schema: is not a valid JSON Schema"),
            "{bad}"
        );
        let not_object = check_schema("[1]").err().unwrap_or_default();
        assert!(
            not_object.contains("must be a JSON Schema object, got an array"),
            "{not_object}"
        );
        let big = format!(r#"{{"description":"{}"}}"#, "x".repeat(MAX_SCHEMA_BYTES));
        let too_big = check_schema(&big).err().unwrap_or_default();
        assert!(
            too_big.contains("over the limit of 65536 bytes"),
            "{too_big}"
        );
    }

    #[test]
    fn answers_are_read_against_the_schema() {
        assert_eq!(
            check_answer(SCHEMA, r#"{"answer":"42"}"#).ok(),
            Some(serde_json::json!({"answer": "42"}))
        );
        let prose = check_answer(SCHEMA, "The answer is 42.")
            .err()
            .unwrap_or_default();
        assert!(
            prose.starts_with("codex's answer did not parse as JSON"),
            "{prose}"
        );
        let wrong = check_answer(SCHEMA, r#"{"answer":42}"#)
            .err()
            .unwrap_or_default();
        assert!(
            wrong.starts_with("codex's answer did not match the output schema")
                && wrong.contains("/answer"),
            "{wrong}"
        );
    }
}
