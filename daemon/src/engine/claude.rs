//! Claude Code's engine: its command line, its `--output-format stream-json`
//! output translated into codexd's events, and its exit codes (measured on
//! 2.1.332: docs/field-notes/claude-agent.md).
//!
//! Headless (`claude -p`), Claude Code waits for no person on its own: a
//! tool call that would need an approval is denied, the model is told why
//! and the run goes on. So the policies map onto its permission modes
//! (suggest → `dontAsk`: read-only commands and reads in the working
//! directory; auto-edit → `acceptEdits`: edits and file-making commands
//! there; full-auto → `bypassPermissions`: everything), and `ask` is
//! `acceptEdits` whose open questions go to codexd's permission prompt tool
//! ([`relay`]) and become the job's questions.

use std::ffi::OsString;

use serde_json::{json, Value};

pub mod relay;

use super::Translate;
use crate::job::{JobRecord, Policy};

/// The environment every run gets: no first-run network calls (the
/// `/api/hello` preflight, the MCP registry, telemetry), which a job does
/// not need and which would reach Anthropic from a job pointed elsewhere.
pub const ENV: &[(&str, &str)] = &[("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")];

/// The tools a read-only job is not even offered: `dontAsk` denies them
/// already, but allow-rules in the user's own settings still apply there.
const READ_ONLY_WITHOUT: &str = "Edit,Write,NotebookEdit";

/// Why a job cannot run on Claude Code as asked, naming the field and the fix.
/// Every policy is honoured (`ask` through [`relay`]).
pub fn refusal(_policy: Policy, reasoning_effort: bool, output_schema: bool) -> Option<String> {
    if reasoning_effort {
        return Some(
            "reasoning_effort: codex's setting, which Claude Code does not take; leave it out for agent claude".into(),
        );
    }
    if output_schema {
        return Some(
            "output_schema: codexd checks structured answers for codex only; leave output_schema out for agent claude, or use agent codex".into(),
        );
    }
    None
}

/// Claude Code's permission mode for a policy. Not `plan` or `auto`: both
/// ask a classifier on Anthropic's side, and `plan` lets a prompt tool
/// approve writes (field notes §2).
fn permission_mode(policy: Policy) -> &'static str {
    match policy {
        Policy::Suggest => "dontAsk",
        // As codex's `ask`: edits in the folder go ahead, anything else is
        // asked (of the relay; `dontAsk` would never call it, measured).
        Policy::AutoEdit | Policy::Ask => "acceptEdits",
        Policy::FullAuto => "bypassPermissions",
    }
}

/// The command line for a job. The prompt goes on stdin (from prompt.txt:
/// `-p` with no prompt argument reads it there, measured; no argv length
/// limit, no prompt in `ps`). A reply resumes its parent's session, in its
/// parent's directory (Claude Code finds a session from anywhere, but tells
/// the model the directory changed). Under `ask` its permission questions go
/// to the relay for the job in `job_dir` ([`relay::args`]).
pub fn argv(
    claude_bin: &std::ffi::OsStr,
    job: &JobRecord,
    job_dir: &std::path::Path,
) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![claude_bin.to_os_string()];
    argv.extend(
        [
            "-p",
            "--output-format",
            "stream-json",
            // stream-json with -p is refused without it.
            "--verbose",
            "--permission-mode",
            permission_mode(job.approval_policy),
        ]
        .map(OsString::from),
    );
    if job.approval_policy == Policy::Suggest {
        // One `=` argument: the flag takes several values.
        argv.push(format!("--disallowedTools={READ_ONLY_WITHOUT}").into());
    }
    if job.approval_policy == Policy::Ask {
        // The relay is this binary (`codexd ask-relay`); /proc/self/exe
        // would name Claude Code's own binary there.
        let codexd = std::env::current_exe().unwrap_or_else(|_| "codexd".into());
        argv.extend(relay::args(&codexd, job_dir));
    }
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

/// The environment of a job's run: [`ENV`], and for full-auto under root
/// `IS_SANDBOX=1`, without which Claude Code refuses `bypassPermissions` as
/// root (exit 1). Only then: it is a promise that the machine is a sandbox,
/// which codexd cannot make for other modes or users.
pub fn env(job: &JobRecord) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = ENV
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    if job.approval_policy == Policy::FullAuto && nix::unistd::geteuid().is_root() {
        env.push(("IS_SANDBOX".into(), "1".into()));
    }
    env
}

/// How Claude Code will log in, from the environment it runs with (`var`)
/// and its credentials file; Err when it has none. Files and variables only:
/// `claude auth status` reads the same without proving more, and doctor
/// stays quick and offline.
pub fn login(var: impl Fn(&str) -> Option<OsString>) -> Result<String, String> {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    for name in ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"] {
        if set(name) {
            return Ok(format!("{name} is set"));
        }
    }
    let config = var("CLAUDE_CONFIG_DIR")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| var("HOME").map(|h| std::path::PathBuf::from(h).join(".claude")));
    if let Some(credentials) = config.map(|c| c.join(".credentials.json")) {
        if credentials.is_file() {
            return Ok(format!("logged in ({})", credentials.display()));
        }
    }
    Err("no ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or ~/.claude/.credentials.json".into())
}

/// Claude Code's `system/api_retry` as one line: what failed, which attempt
/// of how many, and when it tries again.
fn retry_line(value: &Value) -> String {
    let number = |key: &str| value.get(key).and_then(Value::as_u64);
    let mut what = String::from("claude: the API failed");
    if let Some(status) = number("error_status") {
        what.push_str(&format!(" ({status}"));
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            what.push_str(&format!(", {error}"));
        }
        what.push(')');
    }
    what.push_str("; retrying");
    if let Some(attempt) = number("attempt") {
        what.push_str(&format!(", attempt {attempt}"));
        if let Some(max) = number("max_retries") {
            what.push_str(&format!(" of {max}"));
        }
    }
    if let Some(ms) = number("retry_delay_ms") {
        what.push_str(&format!(", in {:.1} s", ms as f64 / 1000.0));
    }
    what
}

/// Turns `--output-format stream-json` lines into codexd's events.
#[derive(Default)]
pub struct Translator {
    /// The tools called and not yet answered: (id, name, input).
    calls: Vec<(String, String, Value)>,
    /// The calls Claude Code denied (its `permission_denied` events).
    denied: Vec<String>,
    /// Agent messages so far, for their ids.
    messages: usize,
    /// Whether its `result` came.
    ended: bool,
    /// The run's error as its `result` said it (exit 0 or 1).
    reported: Option<String>,
    /// The same, until `finish` hands it over.
    failure: Option<String>,
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

/// A tool result's text: its string, or its text blocks joined.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The exit code Claude Code's Bash tool puts first in a failed result
/// ("Exit code 2\n…").
fn exit_code_of(output: &str) -> Option<i64> {
    output
        .strip_prefix("Exit code ")?
        .split(|c: char| !c.is_ascii_digit() && c != '-')
        .next()?
        .parse()
        .ok()
}

/// How a call ended: None while it runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Failed,
    Denied,
}

/// A call of one of Claude Code's tools as codexd's item: Bash is a command,
/// an edit a file change (only once it happened), anything else a tool call.
fn item(id: &str, name: &str, input: &Value, end: Option<(Outcome, &str)>) -> Value {
    let status = match end {
        None => "in_progress",
        Some((Outcome::Ok, _)) => "completed",
        Some((Outcome::Failed, _)) => "failed",
        Some((Outcome::Denied, _)) if name == "Bash" => "declined",
        Some((Outcome::Denied, _)) => "failed",
    };
    let output = end.map(|(_, text)| text).unwrap_or_default();
    let ok = matches!(end, None | Some((Outcome::Ok, _)));
    match name {
        "Bash" => {
            let exit_code = match end {
                Some((Outcome::Ok, _)) => Some(0),
                Some((Outcome::Failed, text)) => exit_code_of(text),
                _ => None,
            };
            json!({
                "id": id,
                "type": "command_execution",
                "command": text_of(input, "command"),
                "aggregated_output": output,
                "exit_code": exit_code,
                "status": status,
            })
        }
        "Edit" | "Write" | "MultiEdit" | "NotebookEdit" if end.is_some() && ok => {
            let path = input
                .get("file_path")
                .or_else(|| input.get("notebook_path"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            json!({
                "id": id,
                "type": "file_change",
                // Write makes or replaces a whole file; which one it was is
                // not in the stream.
                "changes": [{"path": path, "kind": if name == "Write" { "add" } else { "update" }}],
                "status": "completed",
            })
        }
        _ => json!({
            "id": id,
            "type": "mcp_tool_call",
            "server": "claude",
            "tool": name,
            "arguments": input,
            "status": status,
            "error": if ok { Value::Null } else { json!({"message": output}) },
        }),
    }
}

impl Translator {
    fn assistant(&mut self, value: &Value, out: &mut Vec<String>) {
        // A subagent's messages (Task) are not the job's answer; its tool
        // calls are work the job did.
        let own = value.get("parent_tool_use_id").is_none_or(Value::is_null);
        let blocks = value
            .pointer("/message/content")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for block in blocks {
            match block.get("type").and_then(Value::as_str) {
                Some("text") if own => {
                    let text = text_of(&block, "text");
                    if text.trim().is_empty() {
                        continue;
                    }
                    self.messages += 1;
                    out.push(event(json!({
                        "type": "item.completed",
                        "item": {"id": format!("msg_{}", self.messages), "type": "agent_message", "text": text}
                    })));
                }
                Some("tool_use") => {
                    let id = text_of(&block, "id");
                    let name = text_of(&block, "name");
                    let input = block.get("input").cloned().unwrap_or(Value::Null);
                    out.push(event(
                        json!({"type": "item.started", "item": item(&id, &name, &input, None)}),
                    ));
                    self.calls.push((id, name, input));
                }
                // Thinking, and what a newer Claude Code adds.
                _ => {}
            }
        }
    }

    fn user(&mut self, value: &Value, out: &mut Vec<String>) {
        // A call its prompt tool denied comes with no `permission_denied`
        // event, only this decision beside its result (field notes §3).
        for meta in value
            .get("tool_result_meta")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if meta
                .pointer("/permission_decision/decision")
                .and_then(Value::as_str)
                == Some("reject")
            {
                self.denied.push(text_of(meta, "id"));
            }
        }
        let blocks = value
            .pointer("/message/content")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for block in blocks {
            if block.get("type").and_then(Value::as_str) != Some("tool_result") {
                continue;
            }
            let id = text_of(&block, "tool_use_id");
            let Some(at) = self.calls.iter().position(|(c, _, _)| *c == id) else {
                continue;
            };
            let (id, name, input) = self.calls.remove(at);
            let text = content_text(block.get("content"));
            let outcome = if self.denied.contains(&id) {
                Outcome::Denied
            } else if block.get("is_error").and_then(Value::as_bool) == Some(true) {
                Outcome::Failed
            } else {
                Outcome::Ok
            };
            out.push(event(json!({
                "type": "item.completed",
                "item": item(&id, &name, &input, Some((outcome, &text)))
            })));
        }
    }

    fn result(&mut self, value: &Value, out: &mut Vec<String>) {
        self.ended = true;
        // `is_error`, not `subtype`: an API error ends with subtype
        // "success" (field notes §5).
        if value.get("is_error").and_then(Value::as_bool) != Some(true) {
            let usage = value.get("usage").cloned().unwrap_or(Value::Null);
            let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
            let cached = count("cache_read_input_tokens");
            out.push(event(json!({
                "type": "turn.completed",
                "usage": {
                    // codexd's input tokens include the cached ones;
                    // Anthropic counts cache reads and writes apart.
                    "input_tokens": count("input_tokens") + count("cache_creation_input_tokens") + cached,
                    "cached_input_tokens": cached,
                    "output_tokens": count("output_tokens"),
                }
            })));
            return;
        }
        let errors = value
            .get("errors")
            .and_then(Value::as_array)
            .map(|e| {
                e.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .filter(|e| !e.is_empty());
        let message = value
            .get("result")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .or(errors)
            .unwrap_or_else(|| match value.get("subtype").and_then(Value::as_str) {
                Some("error_max_turns") => "it reached its turn limit".into(),
                Some(other) => format!("Claude Code reported {other}"),
                None => "Claude Code reported an error".into(),
            });
        out.push(event(
            json!({"type": "turn.failed", "error": {"message": message}}),
        ));
        self.reported = Some(message.clone());
        self.failure = Some(format!("claude: {message}"));
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
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let subtype = value
            .get("subtype")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match (kind, subtype) {
            ("system", "init") => {
                out.push(event(
                    json!({"type": "thread.started", "thread_id": text_of(&value, "session_id")}),
                ));
                out.push(event(json!({"type": "turn.started"})));
            }
            ("system", "permission_denied") => {
                self.denied.push(text_of(&value, "tool_use_id"));
            }
            // Its retries of the API: a line of text, which anyone reading
            // the job sees (its retries of an outage take minutes, and the
            // job would look idle), and which the summary does not take as
            // the job's error, as an `error` event would: the run may recover.
            ("system", "api_retry") => out.push(retry_line(&value)),
            // Its background tasks and notes: the calls and the messages they
            // concern say what matters.
            ("system", _) => {}
            ("assistant", _) => self.assistant(&value, &mut out),
            ("user", _) => self.user(&value, &mut out),
            ("result", _) => self.result(&value, &mut out),
            // What a newer Claude Code adds is kept, for the raw output.
            _ => out.push(line.to_string()),
        }
        out
    }

    fn finish(&mut self) -> (Vec<String>, Option<String>) {
        let failure = self.failure.take().or_else(|| {
            (!self.ended).then(|| "claude ended without its result; see the output".to_string())
        });
        (Vec::new(), failure)
    }

    fn explain_exit(&self, code: i32) -> Option<String> {
        let why = match (code, &self.reported) {
            (1, Some(said)) => said.clone(),
            (1, None) => "Claude Code refused its command line or could not start (its message is in the output): run `claude --version` to check the install, and as root full-auto needs IS_SANDBOX=1 (codexd sets it)".to_string(),
            (143, _) => "Claude Code was stopped by a SIGTERM from outside codexd".to_string(),
            (130, _) => "Claude Code was interrupted by a SIGINT from outside codexd".to_string(),
            _ => return None,
        };
        Some(format!("claude exited with code {code}: {why}"))
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

    fn assistant(content: Value) -> Value {
        json!({"type": "assistant", "message": {"role": "assistant", "content": content}, "parent_tool_use_id": null, "session_id": "s-1"})
    }

    fn tool_result(id: &str, text: &str, is_error: bool) -> Value {
        json!({"type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": id, "type": "tool_result", "content": text, "is_error": is_error}
        ]}, "parent_tool_use_id": null, "session_id": "s-1"})
    }

    fn kinds(events: &[Value]) -> Vec<&str> {
        events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or(""))
            .collect()
    }

    #[test]
    fn a_run_becomes_a_thread_a_command_an_answer_and_its_usage() {
        let (events, failure) = translate(&[
            json!({"type": "system", "subtype": "init", "session_id": "s-1", "model": "m"}),
            assistant(
                json!([{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "echo hi", "description": "say"}}]),
            ),
            json!({"type": "system", "subtype": "task_started", "tool_use_id": "t1"}),
            tool_result("t1", "hi", false),
            assistant(json!([{"type": "text", "text": "It said hi."}])),
            json!({"type": "result", "subtype": "success", "is_error": false, "result": "It said hi.",
                   "usage": {"input_tokens": 200, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 30, "output_tokens": 40}}),
        ]);
        assert_eq!(failure, None);
        assert_eq!(
            kinds(&events),
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
        assert_eq!(events[3]["item"]["exit_code"], 0);
        assert_eq!(events[4]["item"]["text"], "It said hi.");
        assert_eq!(events[5]["usage"]["input_tokens"], 235);
        assert_eq!(events[5]["usage"]["cached_input_tokens"], 30);
        assert_eq!(events[5]["usage"]["output_tokens"], 40);
    }

    #[test]
    fn an_api_retry_is_a_line_of_text_not_the_jobs_error() {
        let mut t = Translator::default();
        let lines = t.line(
            &json!({"type": "system", "subtype": "api_retry", "attempt": 2, "max_retries": 10,
                    "retry_delay_ms": 1180, "error_status": 529, "error": "overloaded"})
            .to_string(),
        );
        assert_eq!(
            lines,
            vec!["claude: the API failed (529, overloaded); retrying, attempt 2 of 10, in 1.2 s"]
        );
        let mut summary = crate::job::events::Summary::default();
        summary.apply(&crate::job::events::Event::parse(lines[0].as_bytes()));
        assert_eq!(summary.error_message, None, "not the job's error");
        assert_eq!(
            t.line(&json!({"type": "system", "subtype": "api_retry"}).to_string()),
            vec!["claude: the API failed; retrying"]
        );
    }

    #[test]
    fn an_error_result_fails_the_turn_whatever_its_subtype() {
        // An API error: subtype success, is_error true, exit 1.
        let mut t = Translator::default();
        let _ =
            t.line(&json!({"type": "system", "subtype": "api_retry", "attempt": 1}).to_string());
        let lines = t.line(
            &json!({"type": "result", "subtype": "success", "is_error": true, "api_error_status": 500,
                    "result": "API Error: 500 fake 500."})
            .to_string(),
        );
        let failed: Value = serde_json::from_str(&lines[0]).expect("an event");
        assert_eq!(failed["type"], "turn.failed");
        assert_eq!(failed["error"]["message"], "API Error: 500 fake 500.");
        assert!(t
            .explain_exit(1)
            .is_some_and(|w| w == "claude exited with code 1: API Error: 500 fake 500."));
        assert_eq!(
            t.finish().1.as_deref(),
            Some("claude: API Error: 500 fake 500.")
        );

        // The turn limit: no `result` text, its errors instead.
        let (events, failure) =
            translate(&[json!({"type": "result", "subtype": "error_max_turns",
            "is_error": true, "errors": ["Reached maximum number of turns (2)"]})]);
        assert_eq!(
            events[0]["error"]["message"],
            "Reached maximum number of turns (2)"
        );
        assert!(failure.is_some_and(|f| f.contains("maximum number of turns")));
    }

    #[test]
    fn denied_and_failed_calls_are_shown_so_and_only_made_edits_are_file_changes() {
        let (events, _) = translate(&[
            assistant(
                json!([{"type": "tool_use", "id": "b", "name": "Bash", "input": {"command": "touch x"}}]),
            ),
            json!({"type": "system", "subtype": "permission_denied", "tool_name": "Bash", "tool_use_id": "b", "message": "needs approval"}),
            tool_result("b", "touch needs approval", true),
            assistant(
                json!([{"type": "tool_use", "id": "w", "name": "Write", "input": {"file_path": "/w/a.txt", "content": "x"}}]),
            ),
            tool_result("w", "No such tool available: Write", true),
            assistant(
                json!([{"type": "tool_use", "id": "e", "name": "Edit", "input": {"file_path": "/w/b.txt"}}]),
            ),
            json!({"type": "user", "message": {"role": "user", "content": [
                {"tool_use_id": "e", "type": "tool_result", "content": [{"type": "text", "text": "edited"}]}
            ]}}),
            assistant(
                json!([{"type": "tool_use", "id": "f", "name": "Bash", "input": {"command": "false"}}]),
            ),
            tool_result("f", "Exit code 1\n", true),
            json!({"type": "result", "subtype": "success", "is_error": false, "permission_denials": [{"tool_name": "Bash", "tool_use_id": "b"}]}),
        ]);
        let completed: Vec<&Value> = events
            .iter()
            .filter(|e| e["type"] == "item.completed")
            .map(|e| &e["item"])
            .collect();
        assert_eq!(completed[0]["status"], "declined");
        assert_eq!(completed[0]["exit_code"], Value::Null);
        assert_eq!(completed[0]["aggregated_output"], "touch needs approval");
        assert_eq!(completed[1]["type"], "mcp_tool_call");
        assert_eq!(completed[1]["status"], "failed");
        assert_eq!(
            completed[1]["error"]["message"],
            "No such tool available: Write"
        );
        assert_eq!(completed[2]["type"], "file_change");
        assert_eq!(completed[2]["changes"][0]["path"], "/w/b.txt");
        assert_eq!(completed[2]["changes"][0]["kind"], "update");
        assert_eq!(completed[3]["status"], "failed");
        assert_eq!(completed[3]["exit_code"], 1);
    }

    #[test]
    fn a_subagents_text_is_not_the_answer_and_an_output_without_result_fails() {
        let (events, failure) = translate(&[
            json!({"type": "assistant", "parent_tool_use_id": "task-1",
                   "message": {"content": [{"type": "text", "text": "inner"}]}}),
            json!({"type": "user", "message": {"content": [{"type": "text", "text": "[Request interrupted by user]"}]}}),
        ]);
        assert!(events.is_empty(), "{events:?}");
        assert!(failure.is_some_and(|f| f.contains("without its result")));
    }

    #[test]
    fn a_call_its_prompt_tool_denied_is_declined() {
        let (events, _) = translate(&[
            assistant(
                json!([{"type": "tool_use", "id": "b", "name": "Bash", "input": {"command": "python3 x.py"}}]),
            ),
            json!({"type": "user", "message": {"role": "user", "content": [
                {"tool_use_id": "b", "type": "tool_result", "content": "The user denied this.", "is_error": true}]},
                "tool_result_meta": [{"id": "b", "non_execution_kind": "permission-rule",
                    "permission_decision": {"decision": "reject", "source": "user_reject"}}]}),
        ]);
        assert_eq!(events[1]["item"]["status"], "declined");
        assert_eq!(
            events[1]["item"]["aggregated_output"],
            "The user denied this."
        );
    }

    #[test]
    fn exit_codes_say_what_happened_and_the_fix() {
        let t = Translator::default();
        assert!(t.explain_exit(1).is_some_and(|w| w.contains("IS_SANDBOX")));
        assert!(t.explain_exit(143).is_some_and(|w| w.contains("SIGTERM")));
        assert_eq!(t.explain_exit(2), None);
    }

    #[test]
    fn the_policies_map_onto_permission_modes_and_only_options_are_refused() {
        assert_eq!(refusal(Policy::Ask, false, false), None);
        assert!(refusal(Policy::Suggest, true, false)
            .is_some_and(|r| r.starts_with("reasoning_effort:")));
        assert!(
            refusal(Policy::FullAuto, false, true).is_some_and(|r| r.starts_with("output_schema:"))
        );
        assert_eq!(refusal(Policy::AutoEdit, false, false), None);
        assert_eq!(permission_mode(Policy::Suggest), "dontAsk");
        assert_eq!(permission_mode(Policy::AutoEdit), "acceptEdits");
        assert_eq!(permission_mode(Policy::Ask), "acceptEdits");
        assert_eq!(permission_mode(Policy::FullAuto), "bypassPermissions");
    }

    #[test]
    fn login_is_read_from_the_environment_and_the_credentials_file() {
        let dir = std::env::temp_dir().join(format!("claude-login-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let vars = |pairs: Vec<(&'static str, OsString)>| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            }
        };
        assert!(login(vars(vec![("ANTHROPIC_API_KEY", "k".into())]))
            .is_ok_and(|h| h.contains("ANTHROPIC_API_KEY")));
        assert!(login(vars(vec![("HOME", dir.clone().into())])).is_err());
        std::fs::create_dir_all(dir.join(".claude")).expect("a temp folder");
        std::fs::write(dir.join(".claude/.credentials.json"), "{}").expect("a temp file");
        assert!(login(vars(vec![("HOME", dir.clone().into())]))
            .is_ok_and(|h| h.contains(".credentials.json")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
