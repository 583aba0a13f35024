//! codexd's event lines, the format of every job's `output.txt` whatever its
//! agent: parse each line, fold it into a [`Summary`] (what the agent is
//! doing and what it concluded), and render it as one compact line for a
//! model to read.
//!
//! The format is codex's `--json` event stream (`codex exec review` writes it
//! as is; every other engine translates its agent's output into it), so
//! stored job folders read the same whichever agent wrote them. codex adds
//! event and item types between versions, so nothing here is a closed enum:
//! unknown types are kept and shown by name, never an error, and a line that
//! is not JSON (an agent's stderr warnings) is shown as text.

use codex_async_proto::job_result::unwrap_shell;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// At most this many commands are kept in a summary (the count goes on).
pub const MAX_COMMANDS: usize = 200;
/// At most this many changed files are kept in a summary.
pub const MAX_FILES: usize = 1000;
/// Longest text kept for a message, command or error in a summary.
const MAX_TEXT: usize = 16 * 1024;
/// Longest final message kept: the whole answer must reach the result.
pub const MAX_FINAL: usize = 256 * 1024;
/// Longest text shown for one rendered event.
const MAX_LINE: usize = 400;

/// What codex did and concluded so far.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub thread_id: Option<String>,
    /// One line: what codex is doing now (or did last).
    pub activity: String,
    /// codex's final answer: the turn's last agent message, set only once
    /// codex finished its turn (`turn.completed`); None while it runs and for
    /// a turn that failed or never completed (cancelled, killed). Read from
    /// summaries stored before the rename as `last_message`.
    #[serde(alias = "last_message")]
    pub final_message: Option<String>,
    /// The running turn's latest agent message: its final message if the turn
    /// completes next. Kept here because a summary is folded in many calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_message: Option<String>,
    pub files_changed: Vec<FileChange>,
    /// The most recent [`MAX_COMMANDS`] commands.
    pub commands: Vec<CommandRun>,
    pub commands_count: u32,
    pub usage: Option<Usage>,
    pub error_message: Option<String>,
    /// The question codex waits on (approval policy "ask"), until answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<Question>,
    /// The questions answered so far, in order (at most [`MAX_APPROVALS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
    /// What the turn was told while it ran ([`STEERED`]), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steered: Vec<String>,
}

/// At most this many answered questions are kept in a summary.
pub const MAX_APPROVALS: usize = 100;

/// What codex asks (the `question` of an [`APPROVAL_REQUESTED`] event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// The monitor's name for it (codex's JSON-RPC request id, as text).
    pub id: String,
    /// `command` or `file_change`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The decisions codex takes here (codex-async's names: allow,
    /// allow_session, deny, stop); empty for kind `input`.
    #[serde(default)]
    pub decisions: Vec<String>,
    pub asked_at: String,
    /// When the monitor denies it if nobody answered.
    pub deadline: String,
    /// The decision given (codexd stored it in `answer.json`) while the
    /// monitor has not handed it to codex yet: the job no longer waits on a
    /// person, so it is not `input_required` and its form is not shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<String>,
    /// Kind `input` (codex's `item/tool/requestUserInput`): what it asks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<Prompt>,
}

/// One of codex's own questions (a question of kind `input`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    pub id: String,
    #[serde(default)]
    pub header: String,
    #[serde(default)]
    pub question: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<PromptOption>,
    #[serde(default)]
    pub is_other: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_secret: bool,
}

/// An answer codex suggests for a [`Prompt`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptOption {
    pub label: String,
    #[serde(default)]
    pub description: String,
}

/// An answered question (an [`APPROVAL_RESOLVED`] event, matched with its question).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub what: String,
    pub decision: String,
    /// `user`, `timeout` or `codex-async` (an MCP server's form declined).
    pub by: String,
    /// Kind `input`: the answer given, per prompt (secrets masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

/// codex-async's own events, written into `output.txt` by the monitor of an
/// app-server job beside codex's: a question codex asks, and its answer.
pub const APPROVAL_REQUESTED: &str = "approval.requested";
pub const APPROVAL_RESOLVED: &str = "approval.resolved";
/// The monitor's event for text codexd sent into the running turn
/// (`turn/steer`), once codex took it: `{"type": "turn.steered", "text"}`.
pub const STEERED: &str = "turn.steered";
/// At most this many steerings are kept in a summary, each clipped to
/// [`MAX_STEER_TEXT`] bytes (the whole text is in output.txt).
pub const MAX_STEERED: usize = 50;
const MAX_STEER_TEXT: usize = 2000;

/// The event types a [`Summary`] is folded from, wherever they are in the
/// output. Others (`item.updated`, types codex adds) only matter as the
/// latest activity, which the newest events set.
pub const SUMMARY_EVENTS: &[&str] = &[
    "thread.started",
    "turn.started",
    "turn.completed",
    "turn.failed",
    "error",
    "item.started",
    "item.completed",
    APPROVAL_REQUESTED,
    APPROVAL_RESOLVED,
    STEERED,
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileChange {
    pub path: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRun {
    /// codex's item id, to match `item.completed` with its `item.started`.
    #[serde(default)]
    pub id: String,
    pub command: String,
    pub exit_code: Option<i32>,
    pub status: String,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
}

/// One line of output, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A JSON object with a `type`: for the types this module knows, only the
    /// fields it reads; for any other type, the whole object (to show it).
    Json { kind: String, value: Value },
    /// Anything else (stderr text, a truncated line).
    Text(String),
}

/// The fields of an event this module reads. Deserializing into it skips
/// everything else without building it — above all a command's
/// `aggregated_output`, which can be megabytes — so folding and rendering
/// cost a fraction of parsing whole lines into `Value`s.
#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "type")]
    kind: String,
    thread_id: Option<Value>,
    message: Option<Value>,
    usage: Option<Value>,
    error: Option<Value>,
    item: Option<WireItem>,
}

#[derive(Deserialize)]
struct WireItem {
    id: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<Value>,
    text: Option<Value>,
    command: Option<Value>,
    exit_code: Option<Value>,
    status: Option<Value>,
    changes: Option<Value>,
    server: Option<Value>,
    tool: Option<Value>,
    query: Option<Value>,
    items: Option<Value>,
    message: Option<Value>,
}

/// The event types folded and rendered field by field; any other is kept whole.
const KNOWN_EVENTS: &[&str] = &[
    "thread.started",
    "turn.started",
    "turn.completed",
    "turn.failed",
    "error",
    "item.started",
    "item.updated",
    "item.completed",
];
/// Likewise for the items of `item.*` events.
const KNOWN_ITEMS: &[&str] = &[
    "agent_message",
    "reasoning",
    "command_execution",
    "file_change",
    "mcp_tool_call",
    "web_search",
    "todo_list",
    "error",
];

fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect(),
    )
}

impl Wire {
    /// True when every type in it is one this module reads field by field.
    fn is_known(&self) -> bool {
        let item_known = self.item.as_ref().is_none_or(|item| {
            item.kind
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(|k| KNOWN_ITEMS.contains(&k))
        });
        KNOWN_EVENTS.contains(&self.kind.as_str()) && item_known
    }

    fn into_value(self) -> Value {
        let item = self.item.map(|i| {
            object(vec![
                ("id", i.id),
                ("type", i.kind),
                ("text", i.text),
                ("command", i.command),
                ("exit_code", i.exit_code),
                ("status", i.status),
                ("changes", i.changes),
                ("server", i.server),
                ("tool", i.tool),
                ("query", i.query),
                ("items", i.items),
                ("message", i.message),
            ])
        });
        object(vec![
            ("type", Some(Value::String(self.kind))),
            ("thread_id", self.thread_id),
            ("message", self.message),
            ("usage", self.usage),
            ("error", self.error),
            ("item", item),
        ])
    }
}

impl Event {
    /// Folding this event twice in a row is folding it once: anything but a
    /// turn's end (its usage adds up) and an item without an id (a command
    /// without one counts again).
    pub fn folds_once(&self) -> bool {
        match self {
            Self::Json { kind, .. } if kind == "turn.completed" => false,
            Self::Json { kind, value } if kind.starts_with("item.") => value
                .pointer("/item/id")
                .and_then(Value::as_str)
                .is_some_and(|id| !id.is_empty()),
            Self::Json { .. } => true,
            Self::Text(_) => true,
        }
    }

    /// Parses one line (without its newline). Never fails.
    pub fn parse(line: &[u8]) -> Self {
        if let Ok(wire) = serde_json::from_slice::<Wire>(line) {
            if wire.is_known() {
                return Self::Json {
                    kind: wire.kind.clone(),
                    value: wire.into_value(),
                };
            }
        }
        // A type this module does not know (codex adds them), or fields of
        // unexpected types: read it whole, to show it as it is.
        if let Ok(value) = serde_json::from_slice::<Value>(line) {
            if let Some(kind) = value.get("type").and_then(Value::as_str) {
                return Self::Json {
                    kind: kind.to_string(),
                    value,
                };
            }
        }
        Self::Text(String::from_utf8_lossy(line).trim_end().to_string())
    }

    /// Parses a line too long to hold from its first and last bytes: the
    /// head, cut short and closed, gives the type, the item and its first
    /// fields (a command's `command`); the tail gives the fields after the
    /// string the line was cut in (codex writes a command's `exit_code` and
    /// `status` after its `aggregated_output`). Never fails.
    pub fn parse_long(head: &[u8], tail: &[u8]) -> Self {
        let Some(cut) = close_prefix(head) else {
            return Self::Text(one_line(&String::from_utf8_lossy(head), MAX_LINE));
        };
        let mut value = cut.value;
        if let (Some(path), Some(after)) = (cut.string_in, fields_after_string(tail)) {
            let mut target = Some(&mut value);
            for key in &path {
                target = target.and_then(|v| v.get_mut(key));
            }
            if let Some(Value::Object(map)) = target {
                for (key, field) in after {
                    map.entry(key).or_insert(field);
                }
            }
        }
        Self::from_value(value)
    }

    /// Like [`Self::parse`], from a parsed value.
    fn from_value(value: Value) -> Self {
        if let Ok(wire) = Wire::deserialize(&value) {
            if wire.is_known() {
                return Self::Json {
                    kind: wire.kind.clone(),
                    value: wire.into_value(),
                };
            }
        }
        match value.get("type").and_then(Value::as_str) {
            Some(kind) => Self::Json {
                kind: kind.to_string(),
                value,
            },
            None => Self::Text(one_line(&value.to_string(), MAX_LINE)),
        }
    }
}

/// The head of a JSON line, closed.
struct ClosedPrefix {
    value: Value,
    /// When the head ended inside a string value: the keys leading to the
    /// object holding it (the tail's fields belong there).
    string_in: Option<Vec<String>>,
}

/// One open object or array while scanning a JSON head.
struct Frame {
    object: bool,
    /// Its key in the enclosing object (None in an array, or at the top).
    key: Option<String>,
    /// The key of the member being read (objects).
    member: Option<String>,
    expect_key: bool,
}

/// Makes a valid JSON value of the first bytes of one: a string value the
/// head ends in is cut at a character boundary and closed, as is every open
/// object and array; otherwise the head is cut after its last whole member.
fn close_prefix(head: &[u8]) -> Option<ClosedPrefix> {
    let mut stack: Vec<Frame> = Vec::new();
    // Where a cut leaves valid JSON: (bytes kept, open containers then).
    let mut good: Option<(usize, usize)> = None;
    let mut string: Option<(usize, bool)> = None;
    let mut escaped = false;
    for (i, &b) in head.iter().enumerate() {
        if let Some((start, is_key)) = string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                string = None;
                let top = stack.last_mut()?;
                if is_key {
                    top.member = serde_json::from_slice(&head[start..=i]).ok();
                } else {
                    good = Some((i + 1, stack.len()));
                }
            }
            continue;
        }
        match b {
            b'{' | b'[' => {
                let key = stack.last().and_then(|f| f.member.clone());
                stack.push(Frame {
                    object: b == b'{',
                    key,
                    member: None,
                    expect_key: b == b'{',
                });
                good = Some((i + 1, stack.len()));
            }
            b'}' | b']' => {
                stack.pop();
                if stack.is_empty() {
                    // Not cut at all.
                    let value = serde_json::from_slice(&head[..=i]).ok()?;
                    return Some(ClosedPrefix {
                        value,
                        string_in: None,
                    });
                }
                good = Some((i + 1, stack.len()));
            }
            b'"' => {
                let is_key = stack.last().is_some_and(|f| f.object && f.expect_key);
                string = Some((i, is_key));
            }
            b':' => {
                if let Some(top) = stack.last_mut() {
                    top.expect_key = false;
                }
            }
            b',' => {
                if let Some(top) = stack.last_mut() {
                    top.expect_key = top.object;
                }
                good = Some((i, stack.len()));
            }
            _ => {}
        }
    }
    let close = |kept: &[u8], open: &[Frame], quote: bool| -> Option<Value> {
        let mut text = kept.to_vec();
        if quote {
            text.push(b'"');
        }
        text.extend(
            open.iter()
                .rev()
                .map(|f| if f.object { b'}' } else { b']' }),
        );
        serde_json::from_slice(&text).ok()
    };
    if let Some((start, false)) = string {
        let kept = start + 1 + string_cut(&head[start + 1..]);
        if let Some(value) = close(&head[..kept], &stack, true) {
            let path: Option<Vec<String>> = stack.iter().skip(1).map(|f| f.key.clone()).collect();
            let in_objects = stack.iter().all(|f| f.object);
            return Some(ClosedPrefix {
                value,
                string_in: path.filter(|_| in_objects),
            });
        }
    }
    let (kept, open) = good?;
    Some(ClosedPrefix {
        value: close(&head[..kept], &stack[..open.min(stack.len())], false)?,
        string_in: None,
    })
}

/// How many bytes of a JSON string's content (cut short) can be kept: not
/// ending inside an escape, after the first half of a surrogate pair, or
/// inside a UTF-8 character.
fn string_cut(content: &[u8]) -> usize {
    let mut end = content.len();
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'\\', &content[i..]) {
        let at = i + p;
        let unicode = content.get(at + 1) == Some(&b'u');
        let len = if unicode { 6 } else { 2 };
        let lone_high = unicode
            && at + len == content.len()
            && matches!(
                content.get(at + 2..at + 4),
                Some([b'd' | b'D', b'8' | b'9' | b'a' | b'b' | b'A' | b'B'])
            );
        if at + len > content.len() || lone_high {
            end = at;
            break;
        }
        i = at + len;
    }
    match std::str::from_utf8(&content[..end]) {
        Ok(_) => end,
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        // Invalid in the middle: the caller falls back to a cut before it.
        Err(_) => end,
    }
}

/// The members after the string that `tail` starts inside: the tail past
/// that string's closing quote, read as the rest of its object.
fn fields_after_string(tail: &[u8]) -> Option<serde_json::Map<String, Value>> {
    let mut from = 0;
    let quote = loop {
        let q = from + memchr::memchr(b'"', &tail[from..])?;
        let run = tail[..q].iter().rev().take_while(|&&b| b == b'\\').count();
        // A quote after an even run of backslashes ends a string, unless the
        // run reaches the cut (then it is unknown).
        if run % 2 == 0 && run < q {
            break q;
        }
        from = q + 1;
    };
    let rest = &tail[quote + 1..];
    let rest = &rest[rest.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
    match rest.first() {
        Some(b',') => {
            let mut object = b"{".to_vec();
            object.extend_from_slice(&rest[1..]);
            serde_json::Deserializer::from_slice(&object)
                .into_iter::<serde_json::Map<String, Value>>()
                .next()?
                .ok()
        }
        Some(b'}') => Some(serde_json::Map::new()),
        _ => None,
    }
}

impl Question {
    /// Its API form.
    pub fn to_proto(&self) -> codex_async_proto::v1::Question {
        codex_async_proto::v1::Question {
            question_id: self.id.clone(),
            kind: self.kind.clone(),
            command: self.command.clone(),
            cwd: self.cwd.clone(),
            files: self.files.clone(),
            reason: self.reason.clone(),
            decisions: self.decisions.clone(),
            asked_at: self.asked_at.clone(),
            deadline: self.deadline.clone(),
            prompts: self
                .prompts
                .iter()
                .map(|p| codex_async_proto::v1::Prompt {
                    id: p.id.clone(),
                    header: p.header.clone(),
                    question: p.question.clone(),
                    options: p
                        .options
                        .iter()
                        .map(|o| codex_async_proto::v1::PromptOption {
                            label: o.label.clone(),
                            description: o.description.clone(),
                        })
                        .collect(),
                    is_other: p.is_other,
                    is_secret: p.is_secret,
                })
                .collect(),
        }
    }

    /// What it asks for, in one line (the one wording, from the proto crate).
    pub fn what(&self) -> String {
        codex_async_proto::job_result::Question::of(&self.to_proto()).what()
    }
}

impl Summary {
    /// Folds one event into the summary.
    pub fn apply(&mut self, event: &Event) {
        let Event::Json { kind, value } = event else {
            return;
        };
        match kind.as_str() {
            "thread.started" => {
                self.thread_id = str_at(value, "thread_id").map(str::to_string);
                self.activity = "session started".into();
            }
            "turn.started" => {
                // A new turn's answer is yet to come.
                self.final_message = None;
                self.turn_message = None;
                self.activity = "thinking".into();
            }
            APPROVAL_REQUESTED => {
                let question = value
                    .get("question")
                    .and_then(|q| Question::deserialize(q).ok());
                if let Some(question) = question {
                    self.activity = format!("waiting for an answer: {}", question.what());
                    self.question = Some(question);
                }
            }
            APPROVAL_RESOLVED => {
                let id = str_at(value, "id").unwrap_or("");
                if let Some(question) = self.question.take_if(|q| q.id == id) {
                    let decision = str_at(value, "decision").unwrap_or("deny").to_string();
                    let by = str_at(value, "by").unwrap_or("user").to_string();
                    self.activity = format!("{decision} ({by}): {}", question.what());
                    if self.approvals.len() < MAX_APPROVALS {
                        self.approvals.push(Approval {
                            what: question.what(),
                            decision,
                            by,
                            answer: str_at(value, "answer").map(|a| clip(a, MAX_TEXT)),
                        });
                    }
                } else if let Some(what) = str_at(value, "what") {
                    // A request answered without asking anyone (an MCP
                    // server's form, declined): in the result all the same.
                    let decision = str_at(value, "decision").unwrap_or("deny").to_string();
                    let by = str_at(value, "by").unwrap_or("codex-async").to_string();
                    self.activity = format!("{decision} ({by}): {}", one_line(what, 120));
                    if self.approvals.len() < MAX_APPROVALS {
                        self.approvals.push(Approval {
                            what: clip(what, MAX_TEXT),
                            decision,
                            by,
                            answer: None,
                        });
                    }
                }
            }
            STEERED => {
                let text = str_at(value, "text").unwrap_or("");
                self.activity = format!("steered: {}", one_line(text, 120));
                if self.steered.len() < MAX_STEERED {
                    self.steered.push(clip(text, MAX_STEER_TEXT));
                }
            }
            "turn.completed" => {
                // No question outlives its turn.
                self.question = None;
                self.final_message = self.turn_message.take();
                if let Some(u) = value.get("usage") {
                    let usage = self.usage.get_or_insert_with(Usage::default);
                    usage.input_tokens += u64_at(u, "input_tokens");
                    usage.cached_input_tokens += u64_at(u, "cached_input_tokens");
                    usage.output_tokens += u64_at(u, "output_tokens");
                }
                self.activity = "turn completed".into();
            }
            "turn.failed" => {
                let message = value
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("turn failed");
                self.error_message = Some(clip(message, MAX_TEXT));
                self.activity = format!("failed: {}", one_line(message, 120));
                self.question = None;
                // What codex said before it failed is no answer.
                self.turn_message = None;
            }
            "error" => {
                let message = str_at(value, "message").unwrap_or("error");
                self.error_message = Some(clip(message, MAX_TEXT));
                self.activity = format!("error: {}", one_line(message, 120));
            }
            "item.started" | "item.updated" | "item.completed" => {
                if let Some(item) = value.get("item") {
                    self.apply_item(item, kind == "item.completed");
                }
            }
            _ => {}
        }
    }

    fn apply_item(&mut self, item: &Value, completed: bool) {
        let id = str_at(item, "id").unwrap_or("").to_string();
        match str_at(item, "type").unwrap_or("") {
            "agent_message" => {
                if let (true, Some(text)) = (completed, str_at(item, "text")) {
                    self.turn_message = Some(clip(text, MAX_FINAL));
                    self.activity = format!("said: {}", one_line(text, 100));
                }
            }
            "reasoning" => self.activity = "thinking".into(),
            "command_execution" => {
                let command = clip(str_at(item, "command").unwrap_or(""), MAX_TEXT);
                let exit_code = item
                    .get("exit_code")
                    .and_then(Value::as_i64)
                    .and_then(|c| i32::try_from(c).ok());
                let status = str_at(item, "status")
                    .unwrap_or(if completed {
                        "completed"
                    } else {
                        "in_progress"
                    })
                    .to_string();
                self.activity = if completed {
                    format!("ran: {}", one_line(&command, 100))
                } else {
                    format!("running: {}", one_line(&command, 100))
                };
                let run = CommandRun {
                    id: id.clone(),
                    command,
                    exit_code,
                    status,
                };
                match self
                    .commands
                    .iter_mut()
                    .rev()
                    .find(|c| !id.is_empty() && c.id == id)
                {
                    Some(existing) => *existing = run,
                    None => {
                        self.commands_count += 1;
                        self.commands.push(run);
                        if self.commands.len() > MAX_COMMANDS {
                            self.commands.remove(0);
                        }
                    }
                }
            }
            "file_change" => {
                let changes = item.get("changes").and_then(Value::as_array);
                let mut paths = Vec::new();
                for change in changes.into_iter().flatten() {
                    let path = str_at(change, "path").unwrap_or("").to_string();
                    let kind = str_at(change, "kind").unwrap_or("update").to_string();
                    paths.push(path.clone());
                    let room = self.files_changed.len() < MAX_FILES;
                    match self.files_changed.iter_mut().find(|f| f.path == path) {
                        Some(existing) => existing.kind = kind,
                        None if room => self.files_changed.push(FileChange { path, kind }),
                        None => {}
                    }
                }
                self.activity = format!("editing {}", one_line(&paths.join(", "), 100));
            }
            "mcp_tool_call" => {
                let tool = format!(
                    "{}.{}",
                    str_at(item, "server").unwrap_or("?"),
                    str_at(item, "tool").unwrap_or("?")
                );
                self.activity = format!("calling {tool}");
            }
            "web_search" => {
                self.activity = format!(
                    "searching: {}",
                    one_line(str_at(item, "query").unwrap_or(""), 100)
                );
            }
            "todo_list" => self.activity = "planning".into(),
            "error" => {
                let message = str_at(item, "message").unwrap_or("error");
                self.error_message = Some(clip(message, MAX_TEXT));
            }
            _ => {}
        }
    }
}

/// The event as one compact line, or None for events not worth a line
/// (turn.started, item.updated, a command's start).
pub fn render(event: &Event) -> Option<String> {
    let (kind, value) = match event {
        Event::Text(text) if text.trim().is_empty() => return None,
        Event::Text(text) => return Some(one_line(text, MAX_LINE)),
        Event::Json { kind, value } => (kind.as_str(), value),
    };
    let line = match kind {
        "thread.started" => format!("session {}", str_at(value, "thread_id").unwrap_or("?")),
        "turn.started" | "item.updated" => return None,
        "turn.completed" => match value.get("usage") {
            Some(u) => format!(
                "turn done: {} tokens in ({} cached), {} out",
                u64_at(u, "input_tokens"),
                u64_at(u, "cached_input_tokens"),
                u64_at(u, "output_tokens")
            ),
            None => "turn done".into(),
        },
        "turn.failed" => format!(
            "turn failed: {}",
            value
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("?")
        ),
        "error" => format!("error: {}", str_at(value, "message").unwrap_or("?")),
        STEERED => format!("steered: {}", str_at(value, "text").unwrap_or("")),
        // The question in its one wording, not its JSON (an `input`
        // question's prompts and options would fill the line).
        APPROVAL_REQUESTED => match value.get("question").map(Question::deserialize) {
            Some(Ok(question)) => format!(
                "question {}: {}",
                question.id,
                codex_async_proto::job_result::Question::of(&question.to_proto()).text()
            ),
            _ => format!("[{kind}] {}", fields_json(value)),
        },
        APPROVAL_RESOLVED => {
            let what = str_at(value, "what")
                .map(|w| format!(" {w}"))
                .unwrap_or_default();
            let answer = str_at(value, "answer")
                .map(|a| format!(": {a}"))
                .unwrap_or_default();
            format!(
                "question {} {} ({}){what}{answer}",
                str_at(value, "id").unwrap_or("?"),
                str_at(value, "decision").unwrap_or("?"),
                str_at(value, "by").unwrap_or("?"),
            )
        }
        "item.started" | "item.completed" => {
            let item = value.get("item").unwrap_or(&Value::Null);
            return render_item(item, kind == "item.completed").map(|l| one_line(&l, MAX_LINE));
        }
        other => format!("[{other}] {}", fields_json(value)),
    };
    Some(one_line(&line, MAX_LINE))
}

fn render_item(item: &Value, completed: bool) -> Option<String> {
    let kind = str_at(item, "type").unwrap_or("?");
    Some(match (kind, completed) {
        ("agent_message", true) => format!("message: {}", str_at(item, "text").unwrap_or("")),
        ("reasoning", true) => match str_at(item, "text").map(str::trim) {
            // Empty reasoning (codex sends it with the reasoning hidden) says nothing.
            None | Some("") => return None,
            Some(text) => format!("thinking: {text}"),
        },
        ("command_execution", true) => {
            let command = unwrap_shell(str_at(item, "command").unwrap_or("").trim());
            match item.get("exit_code").and_then(Value::as_i64) {
                Some(code) => format!("$ {command}  → exit {code}"),
                None => format!(
                    "$ {command}  → {}",
                    str_at(item, "status").unwrap_or("ended")
                ),
            }
        }
        ("file_change", true) => {
            let changes = item.get("changes").and_then(Value::as_array);
            let parts: Vec<String> = changes
                .into_iter()
                .flatten()
                .map(|c| {
                    format!(
                        "{} {}",
                        str_at(c, "kind").unwrap_or("update"),
                        str_at(c, "path").unwrap_or("?")
                    )
                })
                .collect();
            format!("edit: {}", parts.join(", "))
        }
        ("mcp_tool_call", true) => format!(
            "mcp: {}.{} {}",
            str_at(item, "server").unwrap_or("?"),
            str_at(item, "tool").unwrap_or("?"),
            str_at(item, "status").unwrap_or("")
        ),
        ("web_search", true) => format!("search: {}", str_at(item, "query").unwrap_or("")),
        ("todo_list", _) => {
            let items = item.get("items").and_then(Value::as_array);
            let total = items.map_or(0, Vec::len);
            let done = items
                .into_iter()
                .flatten()
                .filter(|i| i.get("completed") == Some(&Value::Bool(true)))
                .count();
            format!("plan: {done}/{total} done")
        }
        ("error", _) => format!("error: {}", str_at(item, "message").unwrap_or("?")),
        (
            "agent_message" | "reasoning" | "command_execution" | "file_change" | "mcp_tool_call"
            | "web_search",
            false,
        ) => return None,
        (other, _) => format!("[{other}] {}", fields_json(item)),
    })
}

/// The object's fields but `type` (already shown) as compact JSON, cut short.
fn fields_json(value: &Value) -> String {
    let text = match value {
        Value::Object(map) => {
            let rest: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(k, _)| k.as_str() != "type")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(rest).to_string()
        }
        other => other.to_string(),
    };
    one_line(&text, 200)
}

fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn u64_at(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// `text` on one line, at most `max` characters (an ellipsis marks a cut).
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| {
            if c == '\n' || c == '\r' || c == '\t' {
                ' '
            } else {
                c
            }
        })
        .filter(|c| !c.is_control())
        .collect();
    let flat = flat.trim();
    if flat.chars().count() <= max {
        flat.to_string()
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

// Writing codexd's events: every engine's translator and the monitor write
// their lines through `event_line`.

/// One event as the line `output.txt` gets, newline included, with its keys
/// in the order the readers of a long line need: `type` and `id` first, then
/// the smaller fields, the biggest last. A line too long to hold is folded
/// from its first and last bytes only (lines.rs, `Event::parse_long`), so a
/// command's megabytes of `aggregated_output` must come after its command,
/// exit code and status, which then all sit in the head. serde_json's own
/// map order is alphabetical, which would put the output first and `type`
/// last, out of reach of the head.
pub fn event_line(event: &Value) -> String {
    let mut out = Vec::with_capacity(weight(event) + 64);
    write_ordered(&mut out, event);
    out.push(b'\n');
    // serde_json writes UTF-8 only, so this never loses a byte.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Writes straight into `out`: every line of a job's output passes here
/// (figure 7), so no key or scalar is made into a String of its own first,
/// and each value's weight is taken once per object, not at every
/// comparison of the sort.
fn write_ordered(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<((u8, usize), &String, &Value)> = map
                .iter()
                .map(|(key, value)| {
                    let rank = match key.as_str() {
                        "type" => (0, 0),
                        "id" => (1, 0),
                        _ => (2, weight(value)),
                    };
                    (rank, key, value)
                })
                .collect();
            // Stable: equal weights keep their (alphabetical) order.
            keys.sort_by_key(|(rank, _, _)| *rank);
            out.push(b'{');
            for (i, (_, key, value)) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, key);
                out.push(b':');
                write_ordered(out, value);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_ordered(out, item);
            }
            out.push(b']');
        }
        scalar => write_json(out, scalar),
    }
}

/// A string or scalar as JSON. Writing into a Vec cannot fail, and neither
/// can serializing a string or a JSON scalar.
fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Roughly the bytes `value` takes as JSON (without escapes): enough to
/// tell a command's output from its exit code.
fn weight(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + 2,
        Value::Array(items) => items.iter().map(weight).sum::<usize>() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(k, v)| k.len() + 3 + weight(v))
                .sum::<usize>()
                + 2
        }
        _ => 8,
    }
}

/// The event the monitor writes once the agent took a steering.
pub fn steered_event(text: &str) -> Value {
    json!({"type": STEERED, "text": text})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(lines: &[&str]) -> Summary {
        let mut s = Summary::default();
        for line in lines {
            s.apply(&Event::parse(line.as_bytes()));
        }
        s
    }

    #[test]
    fn a_real_codex_stream_folds_into_a_summary() {
        let s = fold(&[
            r#"{"type":"thread.started","thread_id":"0199a213-81c0-7800-8aa1-bbab2a035a53"}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#,
            r#"{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"a\n","exit_code":0,"status":"completed"}}"#,
            r#"{"type":"item.completed","item":{"id":"item_2","type":"file_change","changes":[{"path":"src/a.rs","kind":"update"},{"path":"b.txt","kind":"add"}],"status":"completed"}}"#,
            r#"{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"Done: fixed it."}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":20,"output_tokens":7}}"#,
        ]);
        assert_eq!(
            s.thread_id.as_deref(),
            Some("0199a213-81c0-7800-8aa1-bbab2a035a53")
        );
        assert_eq!(s.final_message.as_deref(), Some("Done: fixed it."));
        assert_eq!(s.commands_count, 1, "started+completed is one command");
        assert_eq!(s.commands[0].exit_code, Some(0));
        assert_eq!(s.commands[0].status, "completed");
        assert_eq!(
            s.files_changed,
            vec![
                FileChange {
                    path: "src/a.rs".into(),
                    kind: "update".into()
                },
                FileChange {
                    path: "b.txt".into(),
                    kind: "add".into()
                }
            ]
        );
        assert_eq!(
            s.usage,
            Some(Usage {
                input_tokens: 100,
                cached_input_tokens: 20,
                output_tokens: 7
            })
        );
        assert_eq!(s.activity, "turn completed");
    }

    #[test]
    fn failures_are_kept_as_the_error_message() {
        let s = fold(&[r#"{"type":"turn.failed","error":{"message":"unexpected status 500"}}"#]);
        assert_eq!(s.error_message.as_deref(), Some("unexpected status 500"));
        assert!(s.activity.starts_with("failed:"));
    }

    #[test]
    fn unknown_types_and_text_are_shown_not_fatal() {
        let novel = Event::parse(br#"{"type":"fancy.new","x":1}"#);
        assert_eq!(render(&novel).as_deref(), Some(r#"[fancy.new] {"x":1}"#));
        let item =
            Event::parse(br#"{"type":"item.completed","item":{"type":"hologram","id":"i"}}"#);
        assert!(render(&item).unwrap_or_default().starts_with("[hologram]"));
        let text = Event::parse(b"WARNING: disk almost full\xff");
        assert!(matches!(text, Event::Text(_)));
        assert!(render(&text).unwrap_or_default().starts_with("WARNING"));
        let mut s = Summary::default();
        s.apply(&novel);
        s.apply(&text);
        assert_eq!(s, Summary::default());
    }

    #[test]
    fn renders_commands_and_edits_as_one_line_each() {
        let cmd = Event::parse(
            br#"{"type":"item.completed","item":{"id":"1","type":"command_execution","command":"cargo test\n--all","exit_code":101,"status":"failed"}}"#,
        );
        assert_eq!(
            render(&cmd).as_deref(),
            Some("$ cargo test --all  → exit 101")
        );
        let started = Event::parse(
            br#"{"type":"item.started","item":{"id":"1","type":"command_execution","command":"x","status":"in_progress"}}"#,
        );
        assert_eq!(render(&started), None);
        let edit = Event::parse(
            br#"{"type":"item.completed","item":{"type":"file_change","changes":[{"path":"a","kind":"add"}]}}"#,
        );
        assert_eq!(render(&edit).as_deref(), Some("edit: add a"));
    }

    #[test]
    fn a_command_reads_without_its_shell_wrapper_in_either_quoting() {
        let line = |command: &str| {
            let item = serde_json::json!({"type": "item.completed", "item": {
                "id": "1", "type": "command_execution", "command": command,
                "exit_code": 0, "status": "completed"}});
            render(&Event::parse(item.to_string().as_bytes()))
        };
        assert_eq!(
            line("/bin/bash -lc 'grep -n \"fn main\" src'").as_deref(),
            Some("$ grep -n \"fn main\" src  → exit 0")
        );
        assert_eq!(
            line(r#"/bin/bash -lc "grep -n \"fn main\" src | sed 's/\\/\//' > \$OUT""#).as_deref(),
            Some(r#"$ grep -n "fn main" src | sed 's/\/\//' > $OUT  → exit 0"#)
        );
        // Neither form, or one that cannot be read back: shown as it is.
        assert_eq!(
            line("cargo test --all").as_deref(),
            Some("$ cargo test --all  → exit 0")
        );
        assert_eq!(
            line(r#"/bin/bash -lc "echo $HOME""#).as_deref(),
            Some(r#"$ /bin/bash -lc "echo $HOME"  → exit 0"#)
        );
    }

    #[test]
    fn commands_are_bounded_but_counted() {
        let mut s = Summary::default();
        for i in 0..(MAX_COMMANDS + 50) {
            let line = format!(
                r#"{{"type":"item.completed","item":{{"id":"c{i}","type":"command_execution","command":"echo {i}","exit_code":0}}}}"#
            );
            s.apply(&Event::parse(line.as_bytes()));
        }
        assert_eq!(s.commands.len(), MAX_COMMANDS);
        assert_eq!(s.commands_count as usize, MAX_COMMANDS + 50);
        assert_eq!(
            s.commands.last().map(|c| c.command.as_str()),
            Some("echo 249")
        );
    }

    #[test]
    fn big_outputs_are_skipped_and_odd_types_still_parse() {
        let big = format!(
            r#"{{"type":"item.completed","item":{{"id":"c","type":"command_execution","command":"cat big","aggregated_output":"{}","exit_code":0,"status":"completed"}}}}"#,
            "x".repeat(1 << 20)
        );
        let event = Event::parse(big.as_bytes());
        let Event::Json { value, .. } = &event else {
            panic!("not json: {event:?}")
        };
        assert!(
            value.pointer("/item/aggregated_output").is_none(),
            "the output was not kept"
        );
        assert_eq!(render(&event).as_deref(), Some("$ cat big  → exit 0"));
        // A field of an unexpected type (a newer codex): still an event, never a crash.
        let odd = Event::parse(br#"{"type":"item.completed","item":[1,2]}"#);
        assert!(matches!(odd, Event::Json { .. }));
        let mut s = Summary::default();
        s.apply(&odd);
        assert!(render(&odd).is_some());
    }

    const MESSAGE: &str = r#"{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"Looking at it."}}"#;
    const TURN_DONE: &str =
        r#"{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}"#;

    #[test]
    fn a_running_turn_has_no_final_message_only_activity() {
        let s = fold(&[r#"{"type":"turn.started"}"#, MESSAGE]);
        assert_eq!(s.final_message, None);
        assert_eq!(s.activity, "said: Looking at it.");
    }

    #[test]
    fn the_final_message_is_the_last_message_of_a_completed_turn() {
        let later = r#"{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"Done."}}"#;
        let s = fold(&[r#"{"type":"turn.started"}"#, MESSAGE, later, TURN_DONE]);
        assert_eq!(s.final_message.as_deref(), Some("Done."));
        assert_eq!(
            s.turn_message, None,
            "nothing pending once the turn is done"
        );
        // The whole answer, up to MAX_FINAL; other texts keep MAX_TEXT.
        let message = |text: &str| {
            format!(
                r#"{{"type":"item.completed","item":{{"id":"m","type":"agent_message","text":"{text}"}}}}"#
            )
        };
        let long = "a".repeat(200 * 1024);
        let s = fold(&[&message(&long), TURN_DONE]);
        assert_eq!(s.final_message.as_deref(), Some(long.as_str()));
        let s = fold(&[&message(&"b".repeat(300 * 1024)), TURN_DONE]);
        assert_eq!(
            s.final_message.map(|m| m.len()),
            Some(MAX_FINAL + "…".len())
        );
    }

    #[test]
    fn a_turn_that_failed_or_never_completed_has_no_final_message() {
        let failed = r#"{"type":"turn.failed","error":{"message":"stream disconnected"}}"#;
        let s = fold(&[r#"{"type":"turn.started"}"#, MESSAGE, failed]);
        assert_eq!(s.final_message, None);
        // Cancelled, killed, or exited without ending its turn: the stream
        // just stops.
        let s = fold(&[r#"{"type":"turn.started"}"#, MESSAGE]);
        assert_eq!(s.final_message, None);
        // A summary stored between two folds (the follower) goes on the same.
        let s = fold(&[r#"{"type":"turn.started"}"#, MESSAGE]);
        let mut stored: Summary =
            serde_json::from_str(&serde_json::to_string(&s).expect("json")).expect("parse");
        assert_eq!(stored, s);
        stored.apply(&Event::parse(TURN_DONE.as_bytes()));
        assert_eq!(stored.final_message.as_deref(), Some("Looking at it."));
    }

    #[test]
    fn codex_set_up_noise_and_empty_reasoning_are_not_shown() {
        let warning = Event::parse(
            br#"WARNING: proceeding, even though we could not create PATH aliases: Refusing to create helper binaries under temporary dir "/tmp" (codex_home: AbsolutePathBuf("/tmp/x"))"#,
        );
        // Not shown by the output's renderer, which asks the engines.
        let Event::Text(text) = &warning else {
            panic!("a text line: {warning:?}")
        };
        assert!(crate::engine::is_setup_chatter(text));
        for text in [r#""""#, r#"" \n ""#, "null"] {
            let line = format!(
                r#"{{"type":"item.completed","item":{{"id":"r","type":"reasoning","text":{text}}}}}"#
            );
            assert_eq!(render(&Event::parse(line.as_bytes())), None, "{line}");
        }
        let thought = Event::parse(
            br#"{"type":"item.completed","item":{"id":"r","type":"reasoning","text":"**Planning** the fix"}}"#,
        );
        assert_eq!(
            render(&thought).as_deref(),
            Some("thinking: **Planning** the fix")
        );
        // Other warnings still reach the reader.
        let other = Event::parse(b"WARNING: proceeding without a sandbox");
        assert!(render(&other).is_some());
    }

    /// A command_execution line as codex 0.169 writes it (field order checked
    /// against the real CLI): the output, then exit_code and status.
    fn command_line(command: &str, output: &str, exit: &str, status: &str) -> String {
        format!(
            r#"{{"type":"item.completed","item":{{"id":"item_0","type":"command_execution","command":{},"aggregated_output":{},"exit_code":{exit},"status":"{status}"}}}}"#,
            serde_json::to_string(command).expect("json"),
            serde_json::to_string(output).expect("json"),
        )
    }

    fn head_and_tail(line: &str, head: usize, tail: usize) -> Event {
        let bytes = line.as_bytes();
        Event::parse_long(&bytes[..head], &bytes[bytes.len() - tail..])
    }

    #[test]
    fn a_long_command_line_is_read_from_its_head_and_tail() {
        let output: String = (1..=90000).map(|i| format!("{i}\n")).collect();
        let line = command_line(
            "/bin/bash -lc 'seq 1 90000; exit 3'",
            &output,
            "3",
            "failed",
        );
        let event = head_and_tail(&line, 16 * 1024, 4 * 1024);
        assert_eq!(
            render(&event).as_deref(),
            Some("$ seq 1 90000; exit 3  → exit 3")
        );
        let mut s = Summary::default();
        s.apply(&event);
        assert_eq!(s.commands_count, 1);
        let run = &s.commands[0];
        assert_eq!(
            (run.id.as_str(), run.exit_code, run.status.as_str()),
            ("item_0", Some(3), "failed")
        );
        // Parsed whole, the same line says the same.
        assert_eq!(render(&Event::parse(line.as_bytes())), render(&event));
    }

    #[test]
    fn quotes_escapes_and_wide_characters_at_the_cuts_are_handled() {
        // Output full of quotes, backslashes and non-ASCII, cut at every
        // offset around them: the command and the exit code always come out.
        let output = "say \"hi\" \\ \\\" é ✓ 😀 \u{7} \u{1F600} ".repeat(400);
        let line = command_line("echo \"é\"", &output, "7", "failed");
        let start = line.find("aggregated_output").expect("field") + 20;
        for cut in start..start + 150 {
            for tail in [40, 41, 45, 50, 57, 64, 100, 333] {
                let event = head_and_tail(&line, cut, tail);
                let mut s = Summary::default();
                s.apply(&event);
                assert_eq!(s.commands.len(), 1, "head {cut}, tail {tail}: {event:?}");
                assert_eq!(s.commands[0].command, "echo \"é\"", "head {cut}");
                assert_eq!(s.commands[0].exit_code, Some(7), "head {cut}, tail {tail}");
            }
        }
    }

    #[test]
    fn a_head_cut_anywhere_still_parses() {
        let line = command_line("ls -la", "a\nb\n", "0", "completed");
        let type_end = r#"{"type":"item.completed""#.len();
        for cut in 1..line.len() {
            let event = Event::parse_long(&line.as_bytes()[..cut], b"");
            if cut >= type_end {
                assert!(
                    matches!(&event, Event::Json { kind, .. } if kind == "item.completed"),
                    "cut {cut}: {event:?}"
                );
            }
            let mut s = Summary::default();
            s.apply(&event);
            let _ = render(&event);
        }
        // A head that is not JSON at all is text.
        assert!(matches!(
            Event::parse_long(b"{not json", b""),
            Event::Text(_)
        ));
    }

    #[test]
    fn string_cuts_never_split_an_escape_or_a_character() {
        assert_eq!(string_cut(br"abc\"), 3);
        assert_eq!(string_cut(br"abc\\"), 5);
        assert_eq!(string_cut(br"abc\u00"), 3);
        assert_eq!(string_cut(br"abc\u00e9"), 9);
        assert_eq!(
            string_cut(br"abc\ud83d"),
            3,
            "the first half of a pair alone"
        );
        assert_eq!(string_cut(br"abc\ud83d\ude00"), 15);
        assert_eq!(string_cut("abé".as_bytes()), 4);
        assert_eq!(string_cut(&"abé".as_bytes()[..3]), 2);
    }

    #[test]
    fn one_line_strips_controls_and_cuts() {
        assert_eq!(one_line("a\nb\u{7}c", 10), "a bc");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
