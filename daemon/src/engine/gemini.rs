//! Gemini CLI's engine: its command line, its `-o stream-json` output
//! translated into codexd's events, and its exit codes (measured on 0.61.0:
//! docs/field-notes/gemini.md).
//!
//! Headless, Gemini CLI never asks anyone: tools that need an approval are
//! left out of what the model is offered. So the policies map onto its
//! approval modes (suggest → `default`: read-only tools; auto-edit →
//! `auto_edit`: edits; full-auto → `yolo`: the shell too), and `ask`, which
//! needs a person to answer, is refused.

use std::ffi::OsString;

use serde_json::{json, Value};

use super::Translate;
use crate::job::{JobRecord, Policy};

/// The environment every run gets: one node process (the relaunching parent
/// ignores SIGTERM, so a cancel would not reach the worker).
pub const ENV: &[(&str, &str)] = &[("GEMINI_CLI_NO_RELAUNCH", "true")];

/// Why a job cannot run on Gemini CLI as asked, naming the field and the fix.
pub fn refusal(policy: Policy, reasoning_effort: bool, output_schema: bool) -> Option<String> {
    if policy == Policy::Ask {
        return Some(
            "approval_policy: Gemini CLI cannot relay its approvals when it runs headless (it leaves out the tools that would need one); use suggest (read-only), auto-edit or full-auto, or agent codex for ask".into(),
        );
    }
    if reasoning_effort {
        return Some(
            "reasoning_effort: codex's setting, which Gemini CLI does not take; leave it out for agent gemini".into(),
        );
    }
    if output_schema {
        return Some(
            "output_schema: Gemini CLI has no structured answer; leave output_schema out for agent gemini, or use agent codex".into(),
        );
    }
    None
}

/// Gemini CLI's approval mode for a policy.
fn approval_mode(policy: Policy) -> &'static str {
    match policy {
        Policy::Suggest | Policy::Ask => "default",
        Policy::AutoEdit => "auto_edit",
        Policy::FullAuto => "yolo",
    }
}

/// The command line for a job: the prompt goes on stdin (from prompt.txt:
/// no argv length limit, no prompt in `ps`), a reply resumes its parent's
/// session (Gemini CLI keeps sessions per directory, and a reply runs in its
/// parent's).
pub fn argv(gemini_bin: &std::ffi::OsStr, job: &JobRecord) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![gemini_bin.to_os_string()];
    argv.extend(
        [
            "--skip-trust",
            "--output-format",
            "stream-json",
            "--approval-mode",
            approval_mode(job.approval_policy),
        ]
        .map(OsString::from),
    );
    if let Some(model) = &job.model {
        argv.push("--model".into());
        argv.push(model.into());
    }
    if let (Some(_), Some(session)) = (&job.parent_job_id, &job.thread_id) {
        argv.push("--resume".into());
        argv.push(session.into());
    }
    argv
}

/// How Gemini CLI will log in, from the environment it runs with (`var`)
/// and its settings and credentials under its home; Err when it has none.
/// Read from files and variables only: Gemini CLI has no login status
/// command that stays offline.
pub fn login(var: impl Fn(&str) -> Option<OsString>) -> Result<String, String> {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    if set("GEMINI_API_KEY") {
        return Ok("GEMINI_API_KEY is set".into());
    }
    if set("GOOGLE_GENAI_USE_VERTEXAI") || set("GOOGLE_API_KEY") {
        return Ok("Vertex AI settings are set".into());
    }
    let home = var("GEMINI_CLI_HOME")
        .or_else(|| var("HOME"))
        .map(|h| std::path::PathBuf::from(h).join(".gemini"));
    if let Some(home) = home {
        for file in ["oauth_creds.json", "gemini-credentials.json"] {
            if home.join(file).is_file() {
                return Ok(format!("logged in ({})", home.join(file).display()));
            }
        }
        let chosen = std::fs::read(home.join("settings.json"))
            .ok()
            .and_then(|s| serde_json::from_slice::<Value>(&s).ok())
            .and_then(|s| {
                s.pointer("/security/auth/selectedType")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        if let Some(kind) = chosen {
            return Err(format!(
                "its settings choose {kind} but no key or login was found"
            ));
        }
    }
    Err("no GEMINI_API_KEY and no login".into())
}

/// Turns `-o stream-json` lines into codexd's events.
#[derive(Default)]
pub struct Translator {
    /// The model's text since its last tool call (it streams in deltas).
    said: String,
    /// The tools called and not yet answered: id → (name, parameters).
    calls: Vec<(String, String, Value)>,
    /// The run's error, from its `result` (exit 0 all the same).
    failure: Option<String>,
    /// The last `error` event's message.
    last_error: Option<String>,
    /// Messages written so far, for their ids.
    messages: usize,
}

impl Translator {
    fn flush_said(&mut self, out: &mut Vec<String>) {
        if self.said.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.said);
        self.messages += 1;
        out.push(event(json!({
            "type": "item.completed",
            "item": {"id": format!("msg_{}", self.messages), "type": "agent_message", "text": text}
        })));
    }
}

/// What Gemini CLI 0.61 prints on stderr about itself, headless, whatever
/// the job: the terminal it lacks, the approval mode it was given (twice),
/// the ripgrep it has no binary of, its start-up metrics. Kept in
/// output.txt (stderr goes there as it is) but not shown: every model
/// reading the job's events would pay 330–530 characters a job for them,
/// more than the events themselves (measured in agents_figures.rs).
/// Matched by their start; anything else it prints is shown.
const SETUP_CHATTER: &[&str] = &[
    "Warning: 256-color support not detected",
    "YOLO mode is enabled.",
    "Ripgrep is not available.",
    "[STARTUP] ",
];

pub fn is_setup_chatter(line: &str) -> bool {
    let line = line.trim_start();
    SETUP_CHATTER.iter().any(|start| line.starts_with(start))
}

fn event(value: Value) -> String {
    value.to_string()
}

fn text_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A call of one of Gemini CLI's tools as codexd's item: the shell is a
/// command, edits are file changes, anything else a tool call.
fn item(id: &str, name: &str, params: &Value, result: Option<&Value>) -> Value {
    let completed = result.is_some();
    let ok = result.is_none_or(|r| r.get("status").and_then(Value::as_str) == Some("success"));
    let output = result.map(|r| {
        let output = text_of(r, "output");
        match r.pointer("/error/message").and_then(Value::as_str) {
            Some(error) if output.is_empty() => error.to_string(),
            _ => output,
        }
    });
    match name {
        "run_shell_command" => json!({
            "id": id,
            "type": "command_execution",
            "command": text_of(params, "command"),
            "aggregated_output": output.unwrap_or_default(),
            "status": if !completed { "in_progress" } else if ok { "completed" } else { "failed" },
        }),
        "write_file" | "replace" if completed && ok => json!({
            "id": id,
            "type": "file_change",
            "changes": [{
                "path": text_of(params, "file_path"),
                "kind": if name == "write_file" { "add" } else { "update" },
            }],
            "status": "completed",
        }),
        _ => json!({
            "id": id,
            "type": "mcp_tool_call",
            "server": "gemini",
            "tool": name,
            "arguments": params,
            "status": if !completed { "in_progress" } else if ok { "completed" } else { "failed" },
            "error": if ok { Value::Null } else { json!({"message": output.unwrap_or_default()}) },
        }),
    }
}

impl Translate for Translator {
    fn line(&mut self, line: &str) -> Vec<String> {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            // Not an event (a warning it printed): kept as text.
            return if line.trim().is_empty() {
                Vec::new()
            } else {
                vec![line.to_string()]
            };
        };
        let mut out = Vec::new();
        match value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "init" => {
                out.push(event(
                    json!({"type": "thread.started", "thread_id": text_of(&value, "session_id")}),
                ));
                out.push(event(json!({"type": "turn.started"})));
            }
            "message" => {
                if value.get("role").and_then(Value::as_str) == Some("assistant") {
                    self.said.push_str(&text_of(&value, "content"));
                }
            }
            "tool_use" => {
                self.flush_said(&mut out);
                let id = text_of(&value, "tool_id");
                let name = text_of(&value, "tool_name");
                let params = value.get("parameters").cloned().unwrap_or(Value::Null);
                out.push(event(
                    json!({"type": "item.started", "item": item(&id, &name, &params, None)}),
                ));
                self.calls.push((id, name, params));
            }
            "tool_result" => {
                let id = text_of(&value, "tool_id");
                let (name, params) = match self.calls.iter().position(|(c, _, _)| *c == id) {
                    Some(at) => {
                        let (_, name, params) = self.calls.remove(at);
                        (name, params)
                    }
                    None => (String::from("tool"), Value::Null),
                };
                out.push(event(json!({"type": "item.completed", "item": item(&id, &name, &params, Some(&value))})));
            }
            "error" => {
                let message = text_of(&value, "message");
                if value.get("severity").and_then(Value::as_str) == Some("error") {
                    out.push(event(json!({"type": "error", "message": message})));
                }
                self.last_error = Some(message);
            }
            "result" => {
                self.flush_said(&mut out);
                if value.get("status").and_then(Value::as_str) == Some("success") {
                    let stats = value.get("stats").cloned().unwrap_or(Value::Null);
                    let count = |key: &str| stats.get(key).and_then(Value::as_u64).unwrap_or(0);
                    out.push(event(json!({
                        "type": "turn.completed",
                        "usage": {
                            "input_tokens": count("input_tokens"),
                            "cached_input_tokens": count("cached"),
                            "output_tokens": count("output_tokens"),
                        }
                    })));
                } else {
                    let message = value
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .or_else(|| self.last_error.clone())
                        .unwrap_or_else(|| "Gemini CLI reported an error".into());
                    out.push(event(
                        json!({"type": "turn.failed", "error": {"message": message}}),
                    ));
                    self.failure = Some(format!("gemini: {message}"));
                }
            }
            // What a newer Gemini CLI adds is kept, for the raw output.
            _ => out.push(line.to_string()),
        }
        out
    }

    fn finish(&mut self) -> (Vec<String>, Option<String>) {
        let mut out = Vec::new();
        self.flush_said(&mut out);
        (out, self.failure.take())
    }

    fn explain_exit(&self, code: i32) -> Option<String> {
        let why = match code {
            41 => "Gemini CLI has no login: set GEMINI_API_KEY in codexd's environment (or log in by running `gemini` once), then start the job again".to_string(),
            42 => "Gemini CLI refused its input: an empty prompt, or a session to resume that it has not kept in this directory".to_string(),
            44 => "Gemini CLI could not start its sandbox".to_string(),
            52 => "Gemini CLI's settings are invalid; run `gemini` in a terminal to see which".to_string(),
            53 => "Gemini CLI reached its turn limit (its setting model.maxSessionTurns)".to_string(),
            55 => "Gemini CLI does not trust the directory".to_string(),
            // It exits with an API error's HTTP status, modulo 256.
            144 => "the Gemini API refused the request (HTTP 400)".to_string(),
            145 => "the Gemini API refused the key (HTTP 401): check GEMINI_API_KEY".to_string(),
            147 => "the Gemini API denied access (HTTP 403): check the key's project and permissions".to_string(),
            148 => "the Gemini API does not know the model (HTTP 404): check the model name".to_string(),
            173 => "the Gemini API's quota is used up (HTTP 429): wait, or raise the quota".to_string(),
            244 => "the Gemini API failed (HTTP 500)".to_string(),
            247 => "the Gemini API is unavailable (HTTP 503)".to_string(),
            _ => return None,
        };
        let said = self.last_error.as_deref().or(self.failure.as_deref());
        Some(match said {
            Some(message) => format!("gemini exited with code {code}: {why} ({message})"),
            None => format!("gemini exited with code {code}: {why}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(lines: &[Value]) -> (Vec<Value>, Option<String>) {
        let mut t = Translator::default();
        let mut out: Vec<String> = lines.iter().flat_map(|l| t.line(&l.to_string())).collect();
        let (rest, failure) = t.finish();
        out.extend(rest);
        let events = out
            .iter()
            .map(|l| serde_json::from_str(l).expect("an event line"))
            .collect();
        (events, failure)
    }

    #[test]
    fn its_set_up_chatter_is_told_from_other_text() {
        for line in [
            "Warning: 256-color support not detected. Using a terminal with at least 256-color support is recommended for a better visual experience.",
            "YOLO mode is enabled. All tool calls will be automatically approved.",
            "Ripgrep is not available. Falling back to GrepTool.",
            "[STARTUP] Phase 'cleanup_ops' was started but never ended. Skipping metrics.",
        ] {
            assert!(is_setup_chatter(line), "{line}");
        }
        assert!(!is_setup_chatter("Error: quota exceeded for this project"));
    }

    #[test]
    fn a_run_becomes_a_thread_a_command_an_answer_and_its_usage() {
        let (events, failure) = translate(&[
            json!({"type": "init", "session_id": "s-1", "model": "auto"}),
            json!({"type": "message", "role": "user", "content": "run it"}),
            json!({"type": "tool_use", "tool_name": "run_shell_command", "tool_id": "t1", "parameters": {"command": "echo hi"}}),
            json!({"type": "tool_result", "tool_id": "t1", "status": "success", "output": "hi"}),
            json!({"type": "message", "role": "assistant", "content": "It said ", "delta": true}),
            json!({"type": "message", "role": "assistant", "content": "hi.", "delta": true}),
            json!({"type": "result", "status": "success", "stats": {"input_tokens": 11, "output_tokens": 6, "cached": 2}}),
        ]);
        assert_eq!(failure, None);
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            kinds,
            [
                "thread.started",
                "turn.started",
                "item.started",
                "item.completed",
                "item.completed",
                "turn.completed"
            ]
        );
        assert_eq!(events[0]["thread_id"], "s-1");
        assert_eq!(events[3]["item"]["type"], "command_execution");
        assert_eq!(events[3]["item"]["command"], "echo hi");
        assert_eq!(events[3]["item"]["aggregated_output"], "hi");
        assert_eq!(events[4]["item"]["text"], "It said hi.");
        assert_eq!(events[5]["usage"]["input_tokens"], 11);
        assert_eq!(events[5]["usage"]["cached_input_tokens"], 2);
    }

    #[test]
    fn an_error_result_fails_the_turn_although_gemini_exits_0() {
        let (events, failure) = translate(&[
            json!({"type": "init", "session_id": "s-2"}),
            json!({"type": "error", "severity": "error", "message": "The model returned an empty response"}),
            json!({"type": "result", "status": "error", "stats": {}}),
        ]);
        assert_eq!(
            events.last().map(|e| e["type"].clone()),
            Some(json!("turn.failed"))
        );
        assert_eq!(
            failure.as_deref(),
            Some("gemini: The model returned an empty response")
        );
    }

    #[test]
    fn edits_are_file_changes_and_a_refused_tool_is_a_failed_call() {
        let (events, _) = translate(&[
            json!({"type": "tool_use", "tool_name": "write_file", "tool_id": "w", "parameters": {"file_path": "/w/a.txt", "content": "x"}}),
            json!({"type": "tool_result", "tool_id": "w", "status": "success"}),
            json!({"type": "tool_use", "tool_name": "run_shell_command", "tool_id": "r", "parameters": {"command": "rm -rf x"}}),
            json!({"type": "tool_result", "tool_id": "r", "status": "error", "error": {"type": "tool_not_registered", "message": "Tool not found"}}),
        ]);
        assert_eq!(events[1]["item"]["type"], "file_change");
        assert_eq!(events[1]["item"]["changes"][0]["path"], "/w/a.txt");
        assert_eq!(events[3]["item"]["status"], "failed");
        assert_eq!(events[3]["item"]["aggregated_output"], "Tool not found");
    }

    #[test]
    fn exit_codes_say_what_happened_and_the_fix() {
        let t = Translator::default();
        assert!(t
            .explain_exit(41)
            .is_some_and(|w| w.contains("GEMINI_API_KEY")));
        assert!(t.explain_exit(145).is_some_and(|w| w.contains("HTTP 401")));
        assert!(t.explain_exit(53).is_some_and(|w| w.contains("turn limit")));
        assert_eq!(t.explain_exit(1), None);
    }

    #[test]
    fn ask_and_codex_only_options_are_refused_by_name() {
        assert!(
            refusal(Policy::Ask, false, false).is_some_and(|r| r.starts_with("approval_policy:"))
        );
        assert!(refusal(Policy::Suggest, true, false)
            .is_some_and(|r| r.starts_with("reasoning_effort:")));
        assert!(
            refusal(Policy::FullAuto, false, true).is_some_and(|r| r.starts_with("output_schema:"))
        );
        assert_eq!(refusal(Policy::AutoEdit, false, false), None);
    }
}
