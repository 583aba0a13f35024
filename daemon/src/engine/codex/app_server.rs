//! codex's app-server (`codex app-server`, JSON-RPC lines on stdio): the
//! engine of every task and reply, and the one that lets codex ask a person
//! before it runs or changes something outside its sandbox (`codex exec`
//! refuses `-a` and rejects escalations).
//!
//! What codex-async knows of that protocol lives here (its command line is
//! command.rs's): the requests a job makes (`initialize`, `thread/start` or `thread/resume`,
//! `turn/start`, `turn/interrupt`), the approval requests codex sends, and the
//! translation of its notifications into the `--json` events of `codex exec`
//! ([`Translator`]), so the job's `output.txt`, its summary, its rendering and
//! its result are the same whichever engine ran it — the characters a model
//! reads do not grow. Checked against `codex app-server generate-json-schema`
//! of codex 0.171.
//!
//! The monitor drives a session with these (engine/codex/session.rs).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::job::{
    answers::{Decision, DECISIONS},
    events::{Prompt, PromptOption, Question},
};
use crate::job::{JobRecord, Kind};

/// What the monitor asks codex's app-server for one job (handed to it with
/// the job, as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// A reply: the thread to resume; None starts a new thread.
    pub thread_id: Option<String>,
    pub cwd: String,
    /// codex's `approvalPolicy` and `sandbox` names.
    pub approval_policy: String,
    pub sandbox: String,
    pub model: Option<String>,
    pub effort: Option<String>,
    /// The output schema file (its JSON goes in `turn/start`).
    pub output_schema: Option<String>,
    /// Seconds a question waits for an answer before it is denied.
    pub question_timeout: u32,
    /// Seconds codex gets to answer `initialize` before the job ends
    /// (startup.rs says why). Defaulted for a job line from a codexd that
    /// predates it.
    #[serde(default = "default_init_timeout")]
    pub init_timeout: u32,
    /// A person may answer (policy `ask`): codex is offered its own
    /// `request_user_input` tool, whose questions become the job's.
    #[serde(default)]
    pub user_input: bool,
}

/// The thread `config` that lets codex ask the user in its default mode
/// (the feature is "under development" and off by default in 0.146 to
/// 0.171; without it the model is told the tool is unavailable). Not kept
/// with the thread: a `thread/resume` needs it again. The warning codex
/// sends about such features is turned off: it would read as a fault.
fn user_input_config() -> Value {
    json!({
        "features": {"default_mode_request_user_input": true},
        "suppress_unstable_features_warning": true,
    })
}

fn default_init_timeout() -> u32 {
    crate::config::DEFAULT_INIT_TIMEOUT
}

impl Plan {
    /// The plan for a job record, with codexd's question and initialize
    /// timeouts (seconds).
    pub fn for_job(job: &JobRecord, question_timeout: u32, init_timeout: u32) -> Self {
        let (approval_policy, sandbox) = job.approval_policy.app_server();
        Self {
            thread_id: match job.kind() {
                Kind::Reply { thread } => Some(thread.to_string()),
                Kind::Task | Kind::Review(_) => None,
            },
            cwd: job.run_dir().to_string(),
            approval_policy: approval_policy.into(),
            sandbox: sandbox.into(),
            model: job.model.clone(),
            effort: job.reasoning_effort.clone(),
            output_schema: job.output_schema.clone(),
            question_timeout,
            init_timeout,
            user_input: job.approval_policy == crate::job::Policy::Ask,
        }
    }

    /// `initialize`: who we are, and the experimental API (approvals need it).
    pub fn initialize() -> Value {
        json!({
            "clientInfo": {"name": "codex-async", "version": env!("CARGO_PKG_VERSION")},
            "capabilities": {"experimentalApi": true},
        })
    }

    /// `thread/start` or `thread/resume` with its params.
    pub fn thread_request(&self) -> (&'static str, Value) {
        let mut params = json!({
            "approvalPolicy": self.approval_policy,
            "sandbox": self.sandbox,
            "cwd": self.cwd,
        });
        if let Some(model) = &self.model {
            params["model"] = json!(model);
        }
        if self.user_input {
            params["config"] = user_input_config();
        }
        match &self.thread_id {
            Some(thread) => {
                params["threadId"] = json!(thread);
                params["excludeTurns"] = json!(true);
                ("thread/resume", params)
            }
            None => ("thread/start", params),
        }
    }

    /// `turn/start` with the prompt; `schema` is the output schema's JSON.
    pub fn turn_request(&self, thread_id: &str, prompt: &str, schema: Option<Value>) -> Value {
        let mut params = json!({
            "threadId": thread_id,
            "input": [{"type": "text", "text": prompt}],
        });
        if let Some(effort) = &self.effort {
            params["effort"] = json!(effort);
        }
        if let Some(schema) = schema {
            params["outputSchema"] = schema;
        }
        params
    }
}

/// `turn/interrupt` for a running turn.
pub fn interrupt_request(thread_id: &str, turn_id: &str) -> Value {
    json!({"threadId": thread_id, "turnId": turn_id})
}

/// `turn/steer`'s params: `text` into the running turn `turn_id`, which
/// codex refuses if that turn is no longer the one running.
pub fn steer_request(thread_id: &str, turn_id: &str, text: &str) -> Value {
    json!({
        "threadId": thread_id,
        "expectedTurnId": turn_id,
        "input": [{"type": "text", "text": text}],
    })
}

/// How a turn ended, from `turn/completed`.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEnd {
    Completed,
    Failed(String),
    Interrupted,
}

/// One message from codex's app-server, understood.
#[derive(Debug)]
pub enum Incoming {
    /// The answer to one of our requests.
    Response {
        id: Value,
        result: Result<Value, String>,
    },
    /// A request codex makes of us (an approval, or one we do not serve).
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
}

/// The notifications [`Translator::notification`] reads (its match arms):
/// any other (the deltas that stream a message or a command's output, rate
/// limits, status flags) is recognised from its method alone, its params
/// skipped unparsed, which is most of what codex writes while it works.
const TRANSLATED: &[&str] = &[
    "turn/started",
    "item/started",
    "item/completed",
    "thread/tokenUsage/updated",
    "error",
    "turn/completed",
];

/// A message's method and whether it has an id, read without building the
/// rest (serde skips the params without allocating).
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    method: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    id: Option<serde::de::IgnoredAny>,
}

impl Incoming {
    /// Parses one line; None for a line that is not a JSON-RPC message.
    pub fn parse(line: &[u8]) -> Option<Self> {
        if let Ok(Peek {
            method: Some(method),
            id: None,
        }) = serde_json::from_slice::<Peek>(line)
        {
            if !TRANSLATED.contains(&method.as_ref()) {
                return Some(Self::Notification {
                    method: method.into_owned(),
                    params: Value::Null,
                });
            }
        }
        let value: Value = serde_json::from_slice(line).ok()?;
        let method = value.get("method").and_then(Value::as_str);
        let params = value.get("params").cloned().unwrap_or(Value::Null);
        match (value.get("id"), method) {
            (Some(id), Some(method)) => Some(Self::Request {
                id: id.clone(),
                method: method.to_string(),
                params,
            }),
            (None, Some(method)) => Some(Self::Notification {
                method: method.to_string(),
                params,
            }),
            (Some(id), None) => {
                let result = match value.get("error") {
                    Some(error) => Err(error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("error")
                        .to_string()),
                    None => Ok(value.get("result").cloned().unwrap_or(Value::Null)),
                };
                Some(Self::Response {
                    id: id.clone(),
                    result,
                })
            }
            (None, None) => None,
        }
    }
}

/// A JSON-RPC request line.
pub fn request_line(id: u64, method: &str, params: Value) -> String {
    format!(
        "{}\n",
        json!({"id": id, "method": method, "params": params})
    )
}

/// A JSON-RPC notification line.
pub fn notification_line(method: &str) -> String {
    format!("{}\n", json!({"method": method}))
}

/// A JSON-RPC response line answering codex's request `id`.
pub fn response_line(id: &Value, result: Value) -> String {
    format!("{}\n", json!({"id": id, "result": result}))
}

/// A JSON-RPC error line answering a request of codex's we do not serve
/// (codex then goes on as if refused, never waits).
pub fn error_line(id: &Value, message: &str) -> String {
    format!(
        "{}\n",
        json!({"id": id, "error": {"code": -32601, "message": message}})
    )
}

/// The approval requests codex-async turns into questions.
pub const COMMAND_APPROVAL: &str = "item/commandExecution/requestApproval";
pub const FILE_CHANGE_APPROVAL: &str = "item/fileChange/requestApproval";
/// codex's own question to the user (its `request_user_input` tool).
pub const USER_INPUT: &str = "item/tool/requestUserInput";
/// An MCP server's elicitation, or (`_meta.codex_approval_kind:
/// "mcp_tool_call"`) codex's approval of an MCP tool call under policy ask.
pub const ELICITATION: &str = "mcpServer/elicitation/request";

/// Whether an elicitation is codex's own MCP tool-call approval.
pub fn is_mcp_tool_approval(method: &str, params: &Value) -> bool {
    method == ELICITATION
        && params
            .pointer("/_meta/codex_approval_kind")
            .and_then(Value::as_str)
            == Some("mcp_tool_call")
}

/// The answer to an approval request (`method` the request's).
pub fn decision_result(method: &str, decision: Decision) -> Value {
    if method == ELICITATION {
        // An MCP tool-call approval: accept runs the tool (persist
        // "session": and the same tool again without asking), decline
        // tells the model "user rejected MCP tool call" and the turn goes on.
        return match decision {
            Decision::Allow => json!({"action": "accept", "content": {}}),
            Decision::AllowSession => {
                json!({"action": "accept", "content": {}, "_meta": {"persist": "session"}})
            }
            Decision::Deny | Decision::Stop => json!({"action": "decline", "content": null}),
        };
    }
    json!({"decision": decision_value(decision)})
}

/// codex's app-server name for a decision (`CommandExecutionApprovalDecision`
/// / `FileChangeApprovalDecision`).
pub fn decision_value(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow => "accept",
        Decision::AllowSession => "acceptForSession",
        Decision::Deny => "decline",
        Decision::Stop => "cancel",
    }
}

/// The decision codex's `availableDecisions` entry stands for, if any.
pub fn decision_from(value: &Value) -> Option<Decision> {
    match value.as_str()? {
        "accept" => Some(Decision::Allow),
        "acceptForSession" => Some(Decision::AllowSession),
        "decline" => Some(Decision::Deny),
        "cancel" => Some(Decision::Stop),
        _ => None,
    }
}

/// The answer to `item/tool/requestUserInput`: each prompt's text by its id
/// (none: the empty answer codex gives the model as "no answer").
pub fn user_input_result(answers: &std::collections::BTreeMap<String, String>) -> Value {
    let answers: Map<String, Value> = answers
        .iter()
        .map(|(id, text)| (id.clone(), json!({"answers": [text]})))
        .collect();
    json!({"answers": answers})
}

/// The answer to an MCP server's own elicitation: declined (codex-async
/// shows no MCP server's forms; see README, "Questions").
pub fn elicitation_declined() -> Value {
    json!({"action": "decline", "content": null})
}

/// What an MCP server's elicitation asked, in one line, for the job's
/// events and result: `the <server> MCP server's form: <message>`.
pub fn elicitation_what(params: &Value) -> String {
    let server = params
        .get("serverName")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let message = params
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    let kind = match params.get("mode").and_then(Value::as_str) {
        Some("url") => "request to open a URL",
        _ => "form",
    };
    let message: String = message.chars().take(300).collect();
    format!("answer the {server} MCP server's {kind}: \"{message}\"")
}

/// Turns app-server notifications into `codex exec --json` events, keeping
/// what later ones need (the thread and turn, the files an item changes, the
/// turn's token usage).
#[derive(Debug, Default)]
pub struct Translator {
    pub thread_id: Option<String>,
    pub turn_id: Option<String>,
    /// Token usage of the running turn (the sum of each request's `last`).
    usage: (u64, u64, u64),
    /// The files of each file-change item, for its approval question.
    item_files: HashMap<String, Vec<String>>,
}

impl Translator {
    /// `thread.started`, from `thread/start`'s or `thread/resume`'s result.
    pub fn thread_started(&mut self, result: &Value) -> Option<Value> {
        let id = result.pointer("/thread/id").and_then(Value::as_str)?;
        self.thread_id = Some(id.to_string());
        Some(json!({"type": "thread.started", "thread_id": id}))
    }

    /// The events of one notification (none for most: deltas, rate limits,
    /// status flags, warnings exec does not print either), and the turn's
    /// end when this was `turn/completed`.
    pub fn notification(&mut self, method: &str, params: &Value) -> (Vec<Value>, Option<TurnEnd>) {
        match method {
            "turn/started" => {
                self.turn_id = params
                    .pointer("/turn/id")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                self.usage = (0, 0, 0);
                (vec![json!({"type": "turn.started"})], None)
            }
            "item/started" | "item/completed" => {
                let kind = if method == "item/started" {
                    "item.started"
                } else {
                    "item.completed"
                };
                let item = params.get("item").and_then(|i| self.item(i));
                (
                    item.map(|item| json!({"type": kind, "item": item}))
                        .into_iter()
                        .collect(),
                    None,
                )
            }
            "thread/tokenUsage/updated" => {
                if let Some(last) = params.pointer("/tokenUsage/last") {
                    let n = |k: &str| last.get(k).and_then(Value::as_u64).unwrap_or(0);
                    self.usage.0 += n("inputTokens");
                    self.usage.1 += n("cachedInputTokens");
                    self.usage.2 += n("outputTokens");
                }
                (Vec::new(), None)
            }
            "error" => {
                let message = params
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("error");
                (vec![json!({"type": "error", "message": message})], None)
            }
            "turn/completed" => {
                let turn = params.get("turn").unwrap_or(&Value::Null);
                match turn.get("status").and_then(Value::as_str) {
                    Some("failed") => {
                        let message = turn
                            .pointer("/error/message")
                            .and_then(Value::as_str)
                            .unwrap_or("turn failed")
                            .to_string();
                        (
                            vec![json!({"type": "turn.failed", "error": {"message": message}})],
                            Some(TurnEnd::Failed(message)),
                        )
                    }
                    Some("interrupted") => (Vec::new(), Some(TurnEnd::Interrupted)),
                    _ => {
                        let (input, cached, output) = self.usage;
                        (
                            vec![json!({"type": "turn.completed", "usage": {
                                "input_tokens": input,
                                "cached_input_tokens": cached,
                                "output_tokens": output,
                            }})],
                            Some(TurnEnd::Completed),
                        )
                    }
                }
            }
            _ => (Vec::new(), None),
        }
    }

    /// An app-server item as `codex exec` writes it: snake_case type and
    /// keys, statuses in snake_case, a file change's kind as a word, a
    /// reasoning item's summary as its text, the review as codex's answer.
    /// None for items exec does not print (the user's own message).
    fn item(&mut self, item: &Value) -> Option<Value> {
        let kind = item.get("type").and_then(Value::as_str)?;
        if matches!(kind, "userMessage" | "hookPrompt" | "enteredReviewMode") {
            return None;
        }
        let Value::Object(fields) = item else {
            return None;
        };
        let mut out = Map::new();
        for (key, value) in fields {
            if key == "type" {
                continue;
            }
            let value = match (key.as_str(), value) {
                ("status", Value::String(s)) => Value::String(snake(s)),
                _ => value.clone(),
            };
            out.insert(snake(key), value);
        }
        match kind {
            "fileChange" => {
                let changes: Vec<Value> = fields
                    .get("changes")
                    .and_then(Value::as_array)
                    .map(|changes| {
                        changes
                            .iter()
                            .map(|c| {
                                let kind = c
                                    .pointer("/kind/type")
                                    .or_else(|| c.get("kind"))
                                    .and_then(Value::as_str)
                                    .unwrap_or("update");
                                json!({"path": c.get("path").cloned().unwrap_or(Value::Null), "kind": kind})
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(id) = fields.get("id").and_then(Value::as_str) {
                    let paths = changes
                        .iter()
                        .filter_map(|c| c.get("path").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect();
                    self.item_files.insert(id.to_string(), paths);
                }
                out.insert("changes".into(), Value::Array(changes));
            }
            "reasoning" => {
                let text = ["summary", "content"]
                    .iter()
                    .filter_map(|k| fields.get(*k).and_then(Value::as_array))
                    .find(|parts| !parts.is_empty())
                    .map(|parts| {
                        parts
                            .iter()
                            .filter_map(|p| p.as_str().or_else(|| p.get("text")?.as_str()))
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default();
                out.insert("text".into(), Value::String(text));
            }
            _ => {}
        }
        let kind = match kind {
            // The review is the reviewer's answer.
            "exitedReviewMode" => {
                let review = fields.get("review").cloned().unwrap_or(Value::Null);
                out.insert("text".into(), review);
                "agent_message".to_string()
            }
            other => snake(other),
        };
        out.insert("type".into(), Value::String(kind));
        Some(Value::Object(out))
    }

    /// The question an approval request asks, with the decisions codex takes.
    pub fn question(
        &self,
        request_id: &Value,
        method: &str,
        params: &Value,
        asked_at: String,
        deadline: String,
    ) -> Option<Question> {
        let text = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_string);
        let id = match request_id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if method == USER_INPUT {
            return user_input_question(id, params, asked_at, deadline);
        }
        if is_mcp_tool_approval(method, params) {
            return Some(mcp_tool_question(id, params, asked_at, deadline));
        }
        let (kind, files) = match method {
            COMMAND_APPROVAL => ("command", Vec::new()),
            FILE_CHANGE_APPROVAL => {
                let files = text("itemId")
                    .and_then(|item| self.item_files.get(&item).cloned())
                    .unwrap_or_default();
                ("file_change", files)
            }
            _ => return None,
        };
        let mut decisions: Vec<String> =
            match params.get("availableDecisions").and_then(Value::as_array) {
                Some(offered) => offered
                    .iter()
                    .filter_map(decision_from)
                    .map(|d| d.name().to_string())
                    .collect(),
                None => DECISIONS.iter().map(|d| d.name().to_string()).collect(),
            };
        // codex takes a plain decline even where it does not list it (0.171).
        if !decisions.iter().any(|d| d == Decision::Deny.name()) {
            decisions.push(Decision::Deny.name().into());
        }
        decisions.sort_by_key(|d| DECISIONS.iter().position(|x| x.name() == d));
        Some(Question {
            id,
            kind: kind.into(),
            command: text("command"),
            cwd: text("cwd"),
            files,
            reason: text("reason")
                .or_else(|| text("grantRoot").map(|r| format!("write access to {r}"))),
            decisions,
            asked_at,
            deadline,
            answered: None,
            prompts: Vec::new(),
        })
    }
}

/// The question of an `item/tool/requestUserInput` (kind `input`); None
/// when it holds no question codex-async can show (then refused, which
/// codex gives the model as an empty answer).
fn user_input_question(
    id: String,
    params: &Value,
    asked_at: String,
    deadline: String,
) -> Option<Question> {
    let text = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let prompts: Vec<Prompt> = params
        .get("questions")
        .and_then(Value::as_array)?
        .iter()
        .filter(|q| q.get("id").and_then(Value::as_str).is_some())
        .map(|q| Prompt {
            id: text(q, "id"),
            header: text(q, "header"),
            question: text(q, "question"),
            options: q
                .get("options")
                .and_then(Value::as_array)
                .map(|options| {
                    options
                        .iter()
                        .filter_map(|o| {
                            Some(PromptOption {
                                label: o.get("label")?.as_str()?.to_string(),
                                description: text(o, "description"),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
            is_other: q.get("isOther").and_then(Value::as_bool).unwrap_or(false),
            is_secret: q.get("isSecret").and_then(Value::as_bool).unwrap_or(false),
        })
        .collect();
    if prompts.is_empty() {
        return None;
    }
    Some(Question {
        id,
        kind: "input".into(),
        command: None,
        cwd: None,
        files: Vec::new(),
        reason: None,
        decisions: Vec::new(),
        asked_at,
        deadline,
        answered: None,
        prompts,
    })
}

/// The question of codex's MCP tool-call approval (kind `mcp_tool`,
/// `command` = `server/tool`): allow, allow for the session when codex
/// offers to remember it, or deny (a cancel would not stop the turn here,
/// so `stop` is not offered).
fn mcp_tool_question(id: String, params: &Value, asked_at: String, deadline: String) -> Question {
    let server = params
        .get("serverName")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let tool = params
        .pointer("/_meta/tool_name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let session = params
        .pointer("/_meta/persist")
        .and_then(Value::as_array)
        .is_some_and(|p| p.iter().any(|v| v.as_str() == Some("session")));
    let mut decisions = vec![Decision::Allow.name().to_string()];
    if session {
        decisions.push(Decision::AllowSession.name().into());
    }
    decisions.push(Decision::Deny.name().into());
    Question {
        id,
        kind: "mcp_tool".into(),
        command: Some(format!("{server}/{tool}")),
        cwd: None,
        files: Vec::new(),
        reason: params
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string),
        decisions,
        asked_at,
        deadline,
        answered: None,
        prompts: Vec::new(),
    }
}

/// `camelCase` → `snake_case`.
fn snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{
        answers::{answer_event, declined_event, input_answer_event, question_event},
        events::{event_line, Event, Summary},
    };

    fn fold(events: &[Value]) -> Summary {
        let mut summary = Summary::default();
        for e in events {
            summary.apply(&Event::parse(e.to_string().as_bytes()));
        }
        summary
    }

    #[test]
    fn decisions_map_to_codex_and_back() {
        for d in DECISIONS {
            assert_eq!(decision_from(&json!(decision_value(*d))), Some(*d));
        }
    }

    #[test]
    fn notifications_become_exec_events_the_summary_reads() {
        let mut t = Translator::default();
        let mut events = vec![t
            .thread_started(&json!({"thread": {"id": "th1"}}))
            .expect("thread")];
        let script = [
            ("turn/started", json!({"turn": {"id": "tu1"}})),
            (
                "item/started",
                json!({"item": {"type": "userMessage", "id": "u"}}),
            ),
            (
                "item/started",
                json!({"item": {"type": "commandExecution", "id": "c1",
                "command": "/bin/bash -lc 'touch x'", "status": "inProgress", "aggregatedOutput": null, "exitCode": null}}),
            ),
            (
                "item/completed",
                json!({"item": {"type": "commandExecution", "id": "c1",
                "command": "/bin/bash -lc 'touch x'", "status": "completed", "aggregatedOutput": "", "exitCode": 0}}),
            ),
            (
                "item/completed",
                json!({"item": {"type": "fileChange", "id": "p1", "status": "completed",
                "changes": [{"path": "a.txt", "kind": {"type": "add"}, "diff": ""}]}}),
            ),
            (
                "thread/tokenUsage/updated",
                json!({"tokenUsage": {"last": {"inputTokens": 10, "cachedInputTokens": 2, "outputTokens": 5}}}),
            ),
            (
                "thread/tokenUsage/updated",
                json!({"tokenUsage": {"last": {"inputTokens": 10, "cachedInputTokens": 0, "outputTokens": 5}}}),
            ),
            (
                "item/completed",
                json!({"item": {"type": "agentMessage", "id": "m1", "text": "all done"}}),
            ),
        ];
        for (method, params) in script {
            let (e, end) = t.notification(method, &params);
            assert!(end.is_none());
            events.extend(e);
        }
        let (e, end) = t.notification("turn/completed", &json!({"turn": {"status": "completed"}}));
        events.extend(e);
        assert_eq!(end, Some(TurnEnd::Completed));
        let s = fold(&events);
        assert_eq!(s.thread_id.as_deref(), Some("th1"));
        assert_eq!(s.final_message.as_deref(), Some("all done"));
        assert_eq!(s.commands.len(), 1);
        assert_eq!(s.commands[0].exit_code, Some(0));
        assert_eq!(s.commands[0].status, "completed");
        assert_eq!(s.files_changed.len(), 1);
        assert_eq!(s.files_changed[0].kind, "add");
        let usage = s.usage.expect("usage");
        assert_eq!(
            (
                usage.input_tokens,
                usage.cached_input_tokens,
                usage.output_tokens
            ),
            (20, 2, 10)
        );
    }

    #[test]
    fn only_the_notifications_translated_are_parsed_whole() {
        let delta = br#"{"method":"item/commandExecution/outputDelta","params":{"delta":"eA==","itemId":"c1"}}"#;
        match Incoming::parse(delta) {
            Some(Incoming::Notification { method, params }) => {
                assert_eq!(method, "item/commandExecution/outputDelta");
                assert_eq!(params, Value::Null, "skipped");
            }
            other => panic!("{other:?}"),
        }
        let done = br#"{"params":{"turn":{"status":"completed"}},"method":"turn/completed"}"#;
        match Incoming::parse(done) {
            Some(Incoming::Notification { params, .. }) => {
                assert_eq!(params["turn"]["status"], "completed")
            }
            other => panic!("{other:?}"),
        }
        // A request of codex's with a method no translation reads is still one.
        let request = br#"{"id":7,"method":"item/tool/requestUserInput","params":{"x":1}}"#;
        assert!(matches!(
            Incoming::parse(request),
            Some(Incoming::Request { .. })
        ));
        for method in TRANSLATED {
            let mut t = Translator::default();
            let params = json!({"turn": {"id": "t", "status": "completed"},
                "item": {"type": "agentMessage", "id": "m", "text": "x"},
                "tokenUsage": {"last": {"inputTokens": 1}}, "error": {"message": "e"}});
            let (events, end) = t.notification(method, &params);
            assert!(
                !events.is_empty() || end.is_some() || *method == "thread/tokenUsage/updated",
                "{method} is translated"
            );
        }
    }

    #[test]
    fn a_failed_turn_is_turn_failed_and_an_interrupted_one_says_nothing() {
        let mut t = Translator::default();
        let (e, end) = t.notification(
            "turn/completed",
            &json!({"turn": {"status": "failed", "error": {"message": "high demand"}}}),
        );
        assert_eq!(end, Some(TurnEnd::Failed("high demand".into())));
        assert_eq!(e[0]["type"], "turn.failed");
        let (e, end) = t.notification(
            "turn/completed",
            &json!({"turn": {"status": "interrupted"}}),
        );
        assert_eq!(end, Some(TurnEnd::Interrupted));
        assert!(e.is_empty());
    }

    #[test]
    fn approval_requests_become_questions_with_codexs_decisions() {
        let mut t = Translator::default();
        let _ = t.notification(
            "item/started",
            &json!({"item": {"type": "fileChange", "id": "p1", "status": "inProgress",
                "changes": [{"path": "/etc/x", "kind": {"type": "update"}, "diff": ""}]}}),
        );
        let q = t
            .question(
                &json!(0),
                COMMAND_APPROVAL,
                &json!({"command": "npm install", "cwd": "/w", "reason": "needs network",
                    "availableDecisions": ["accept", {"acceptWithExecpolicyAmendment": {}}, "cancel"]}),
                "t0".into(),
                "t1".into(),
            )
            .expect("question");
        assert_eq!(q.id, "0");
        assert_eq!(q.decisions, ["allow", "deny", "stop"]);
        assert_eq!(q.reason.as_deref(), Some("needs network"));
        let f = t
            .question(
                &json!(1),
                FILE_CHANGE_APPROVAL,
                &json!({"itemId": "p1"}),
                "t0".into(),
                "t1".into(),
            )
            .expect("question");
        assert_eq!(f.kind, "file_change");
        assert_eq!(f.files, ["/etc/x"]);
        assert_eq!(f.decisions, ["allow", "allow_session", "deny", "stop"]);
        assert!(t
            .question(
                &json!(2),
                "item/tool/requestUserInput",
                &json!({}),
                "a".into(),
                "b".into()
            )
            .is_none());

        let s = fold(&[question_event(&q)]);
        assert_eq!(s.question.as_ref().map(|q| q.id.as_str()), Some("0"));
        let s2 = {
            let mut s = s.clone();
            s.apply(&Event::parse(
                answer_event("0", Decision::Allow, "user")
                    .to_string()
                    .as_bytes(),
            ));
            s
        };
        assert!(s2.question.is_none());
        assert_eq!(s2.approvals.len(), 1);
        assert_eq!(s2.approvals[0].decision, "allow");
        assert_eq!(s2.approvals[0].what, "run `npm install`");
    }

    #[test]
    fn codexs_own_questions_become_an_input_question_and_its_answer_codexs_shape() {
        let t = Translator::default();
        let params = json!({"threadId": "T", "turnId": "U", "itemId": "call_ask1", "isBlocking": true,
            "questions": [{"id": "db_choice", "header": "Database", "question": "Which database?",
                "isOther": true, "isSecret": false,
                "options": [{"label": "Postgres", "description": "Robust."}, {"label": "SQLite", "description": "Zero setup."}]}]});
        let q = t
            .question(&json!(3), USER_INPUT, &params, "t0".into(), "t1".into())
            .expect("question");
        assert_eq!((q.id.as_str(), q.kind.as_str()), ("3", "input"));
        assert!(q.decisions.is_empty());
        assert_eq!(q.prompts[0].options[1].label, "SQLite");
        assert!(q.prompts[0].is_other);
        let text = codex_async_proto::job_result::Question::of(&q.to_proto()).text();
        assert_eq!(
            text,
            "Codex asks: Which database? (Postgres | SQLite | or your own words)."
        );
        let answers =
            std::collections::BTreeMap::from([("db_choice".to_string(), "SQLite".to_string())]);
        assert_eq!(
            user_input_result(&answers),
            json!({"answers": {"db_choice": {"answers": ["SQLite"]}}})
        );
        assert_eq!(
            user_input_result(&Default::default()),
            json!({"answers": {}})
        );

        let s = fold(&[
            question_event(&q),
            input_answer_event("3", Some("SQLite"), "user"),
        ]);
        assert!(s.question.is_none());
        assert_eq!(s.approvals[0].decision, "answered");
        assert_eq!(s.approvals[0].answer.as_deref(), Some("SQLite"));
        assert_eq!(s.approvals[0].what, "answer \"Which database?\"");
    }

    #[test]
    fn only_an_ask_plan_offers_codexs_question_tool_on_start_and_resume() {
        let mut plan = Plan {
            thread_id: None,
            cwd: "/w".into(),
            approval_policy: "on-request".into(),
            sandbox: "workspace-write".into(),
            model: None,
            effort: None,
            output_schema: None,
            question_timeout: 60,
            init_timeout: 60,
            user_input: true,
        };
        let (method, params) = plan.thread_request();
        assert_eq!(method, "thread/start");
        assert_eq!(
            params["config"]["features"]["default_mode_request_user_input"],
            true
        );
        assert_eq!(params["config"]["suppress_unstable_features_warning"], true);
        plan.thread_id = Some("th".into());
        let (method, params) = plan.thread_request();
        assert_eq!(method, "thread/resume");
        assert_eq!(
            params["config"]["features"]["default_mode_request_user_input"],
            true
        );
        plan.user_input = false;
        assert!(plan.thread_request().1.get("config").is_none());
        // A job line from a codexd that predates the field: not offered.
        let mut line = serde_json::to_value(&plan).expect("plan");
        line.as_object_mut().expect("object").remove("user_input");
        let back: Plan = serde_json::from_value(line).expect("old plan");
        assert!(!back.user_input);
    }

    #[test]
    fn mcp_tool_approvals_are_questions_and_server_forms_are_declined_with_a_line() {
        let t = Translator::default();
        let params = json!({"threadId": "T", "serverName": "elicit", "mode": "form",
            "_meta": {"codex_approval_kind": "mcp_tool_call", "persist": ["session", "always"], "tool_name": "ask_form"},
            "message": "Allow the elicit MCP server to run tool \"ask_form\"?", "requestedSchema": {"type": "object", "properties": {}}});
        assert!(is_mcp_tool_approval(ELICITATION, &params));
        let q = t
            .question(&json!(0), ELICITATION, &params, "a".into(), "b".into())
            .expect("question");
        assert_eq!(q.kind, "mcp_tool");
        assert_eq!(q.command.as_deref(), Some("elicit/ask_form"));
        assert_eq!(q.decisions, ["allow", "allow_session", "deny"]);
        assert_eq!(
            decision_result(ELICITATION, Decision::AllowSession),
            json!({"action": "accept", "content": {}, "_meta": {"persist": "session"}})
        );
        assert_eq!(
            decision_result(ELICITATION, Decision::Deny)["action"],
            "decline"
        );
        assert_eq!(
            decision_result(COMMAND_APPROVAL, Decision::Deny),
            json!({"decision": "decline"})
        );

        let form = json!({"serverName": "elicit", "mode": "form", "_meta": null, "message": "Pick a deploy target"});
        assert!(!is_mcp_tool_approval(ELICITATION, &form));
        let what = elicitation_what(&form);
        assert_eq!(
            what,
            "answer the elicit MCP server's form: \"Pick a deploy target\""
        );
        let s = fold(&[declined_event(&json!(1), &what)]);
        assert_eq!(s.approvals[0].by, "codex-async");
        assert_eq!(s.approvals[0].what, what);
    }

    #[test]
    fn a_long_event_line_keeps_the_command_its_exit_and_status_in_its_head() {
        let output: String = (0..400_000).map(|i| format!("{i}\n")).collect();
        let mut t = Translator::default();
        let (events, _) = t.notification(
            "item/completed",
            &json!({"item": {"type": "commandExecution", "id": "c1",
                "command": "/bin/bash -lc 'seq 1 400000; exit 3'", "cwd": "/w",
                "status": "failed", "aggregatedOutput": output, "exitCode": 3,
                "durationMs": 12, "commandActions": [], "processId": "7", "source": "agent"}}),
        );
        let line = event_line(&events[0]);
        assert!(line.ends_with("\n") && !line[..line.len() - 1].contains('\n'));
        assert!(
            line.starts_with(
                r#"{"type":"item.completed","item":{"type":"command_execution","id":"c1""#
            ),
            "{}",
            &line[..200]
        );
        let back: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(back, events[0]);
        // What the fold reads of a line too long to hold: its head and tail.
        let bytes = line.trim_end().as_bytes();
        let head = &bytes[..crate::output::lines::LONG_HEAD];
        let tail = &bytes[bytes.len() - crate::output::lines::LONG_TAIL..];
        let mut s = Summary::default();
        s.apply(&Event::parse_long(head, tail));
        assert_eq!(s.commands.len(), 1);
        assert_eq!(s.commands[0].exit_code, Some(3));
        assert_eq!(s.commands[0].status, "failed");
        assert!(s.commands[0].command.contains("exit 3"));
    }
}
