//! A fake of the Anthropic Messages API on loopback, so the real Claude Code
//! CLI can run end to end offline (see FIELD-NOTES: "Driving it offline in a
//! test").
//!
//! It is scripted: each main-conversation request consumes the next [`Step`]
//! (a text answer, or a tool call the model makes). Claude Code's side
//! requests (titles, summaries, small-model helpers) get a short text and
//! consume nothing. Every request is kept in a [`Log`], from which a test reads
//! what the model was given: tool results, user messages, task notifications.

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream},
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, MutexGuard,
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::deadline;

/// Computes a tool call's input from what the model has seen so far (for
/// example a job id from an earlier tool result). It runs inside the fake:
/// a panic becomes a text answer naming it, not a hung Claude.
pub type InputFn = Box<dyn Fn(&Log) -> Value + Send>;

/// What the model answers to one main-conversation request.
pub enum Step {
    /// A text answer; ends the turn (`end_turn`).
    Text(String),
    /// A call of tool `name` with `input` (`tool_use`).
    ToolUse { name: String, input: Value },
    /// A call of tool `name` whose input is computed from the log when the
    /// request that consumes this step arrives.
    ToolUseWith { name: String, input: InputFn },
    /// Several tool calls in one message (`name`, `input` each), as a model
    /// that calls tools in parallel answers.
    ToolUses(Vec<(String, Value)>),
    /// HTTP 529 `overloaded_error`, which Claude Code retries.
    Overloaded,
}

impl Step {
    /// A text answer.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// A tool call with a fixed input.
    pub fn tool_use(name: impl Into<String>, input: Value) -> Self {
        Self::ToolUse {
            name: name.into(),
            input,
        }
    }

    /// A tool call whose input is computed from the log.
    pub fn tool_use_with(
        name: impl Into<String>,
        input: impl Fn(&Log) -> Value + Send + 'static,
    ) -> Self {
        Self::ToolUseWith {
            name: name.into(),
            input: Box::new(input),
        }
    }
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(text) => f.debug_tuple("Text").field(text).finish(),
            Self::ToolUse { name, input } => f
                .debug_struct("ToolUse")
                .field("name", name)
                .field("input", input)
                .finish(),
            Self::ToolUseWith { name, .. } => f
                .debug_struct("ToolUseWith")
                .field("name", name)
                .finish_non_exhaustive(),
            Self::ToolUses(calls) => f.debug_tuple("ToolUses").field(calls).finish(),
            Self::Overloaded => f.write_str("Overloaded"),
        }
    }
}

/// The text answered once the script is used up, and to side requests.
const DONE_TEXT: &str = "Done.";
const SIDE_TEXT: &str = "Test session";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method and path with query, e.g. `POST /v1/messages?beta=true`.
    pub target: String,
    /// The body as JSON (a JSON string holding the raw text if it was not JSON).
    pub body: Value,
    /// True for a main-conversation request (one that consumes a step).
    pub main: bool,
    /// What the fake answered, in a few words (for failure messages).
    pub answer: String,
}

/// A tool result the model received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    pub tool_use_id: String,
    /// The name of the tool the model called, from the matching `tool_use`.
    pub tool_name: Option<String>,
    /// The text blocks of the result, concatenated (or the string content).
    pub text: String,
    pub is_error: bool,
}

/// Every request the fake received, in order.
#[derive(Debug, Clone, Default)]
pub struct Log {
    requests: Vec<Request>,
}

impl Log {
    /// All requests, side requests and token counts included.
    pub fn requests(&self) -> &[Request] {
        &self.requests
    }

    /// The main-conversation `POST /v1/messages` requests.
    pub fn main_requests(&self) -> impl DoubleEndedIterator<Item = &Request> {
        self.requests.iter().filter(|r| r.main)
    }

    /// Every message of every main request (a conversation is resent whole,
    /// so the same message appears many times).
    fn messages(&self) -> impl Iterator<Item = &Value> {
        self.main_requests()
            .filter_map(|r| r.body["messages"].as_array())
            .flatten()
    }

    /// Every tool result the model received, once each, in the order first seen.
    pub fn tool_results(&self) -> Vec<ToolResult> {
        let mut names: Vec<(String, String)> = Vec::new();
        let mut results: Vec<ToolResult> = Vec::new();
        for message in self.messages() {
            for block in blocks(message) {
                match block["type"].as_str() {
                    Some("tool_use") => {
                        if let (Some(id), Some(name)) =
                            (block["id"].as_str(), block["name"].as_str())
                        {
                            names.push((id.into(), name.into()));
                        }
                    }
                    Some("tool_result") => {
                        let Some(id) = block["tool_use_id"].as_str() else {
                            continue;
                        };
                        if results.iter().any(|r| r.tool_use_id == id) {
                            continue;
                        }
                        results.push(ToolResult {
                            tool_use_id: id.into(),
                            tool_name: names.iter().find(|(i, _)| i == id).map(|(_, n)| n.clone()),
                            text: content_text(&block["content"]),
                            is_error: block["is_error"].as_bool().unwrap_or(false),
                        });
                    }
                    _ => {}
                }
            }
        }
        results
    }

    /// The results of calls of tool `name` (e.g. `mcp__codex-async__codex_start`).
    pub fn tool_results_of(&self, name: &str) -> Vec<ToolResult> {
        self.tool_results()
            .into_iter()
            .filter(|r| r.tool_name.as_deref() == Some(name))
            .collect()
    }

    /// The latest tool result the model received.
    pub fn last_tool_result(&self) -> Option<ToolResult> {
        self.tool_results().pop()
    }

    /// Every text of a user message (text blocks and string contents, not
    /// tool results), once each, in the order first seen: where Claude Code
    /// puts reminders and `<task-notification>`s.
    pub fn user_texts(&self) -> Vec<String> {
        let mut texts: Vec<String> = Vec::new();
        for message in self.messages().filter(|m| m["role"] == "user") {
            let found = match &message["content"] {
                Value::String(s) => vec![s.clone()],
                content => content
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|b| b["type"] == "text")
                    .filter_map(|b| b["text"].as_str().map(String::from))
                    .collect(),
            };
            for text in found {
                if !texts.contains(&text) {
                    texts.push(text);
                }
            }
        }
        texts
    }

    /// The definition (`name`, `description`, `input_schema`) of a tool Claude
    /// Code offered the model, from the latest main request that lists it.
    pub fn tool_definition(&self, name: &str) -> Option<Value> {
        self.main_requests()
            .rev()
            .filter_map(|r| r.body["tools"].as_array())
            .flatten()
            .find(|t| t["name"] == name)
            .cloned()
    }

    /// The request log in a few lines each, for failure messages.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} request(s) to the fake Anthropic API:\n",
            self.requests.len()
        );
        for (i, r) in self.requests.iter().enumerate() {
            let kind = if r.main { "main" } else { "side" };
            let model = r.body["model"].as_str().unwrap_or("-");
            let last = r.body["messages"]
                .as_array()
                .and_then(|m| m.last())
                .map(|m| truncate(&m.to_string(), 600))
                .unwrap_or_default();
            out.push_str(&format!(
                "  #{i} {} [{kind}, {model}] -> {}\n      last message: {last}\n",
                r.target, r.answer
            ));
        }
        out
    }
}

/// The blocks of a message's content (a string content is one text block).
fn blocks(message: &Value) -> Vec<Value> {
    match &message["content"] {
        Value::String(s) => vec![json!({"type": "text", "text": s})],
        Value::Array(blocks) => blocks.clone(),
        _ => Vec::new(),
    }
}

/// The text of a tool result's content: the string, or its text blocks joined.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max).collect();
    format!("{head}…")
}

/// True for a request of the main conversation: it offers the agent's own
/// tool set (Bash, ToolSearch, Agent or MCP tools). Claude Code's side
/// requests (session titles, summaries, small-model helpers such as haiku)
/// offer no such tools.
fn is_main(body: &Value) -> bool {
    if body["model"].as_str().is_some_and(|m| m.contains("haiku")) {
        return false;
    }
    body["tools"].as_array().is_some_and(|tools| {
        tools.iter().filter_map(|t| t["name"].as_str()).any(|name| {
            matches!(name, "Bash" | "ToolSearch" | "Agent") || name.starts_with("mcp__")
        })
    })
}

struct State {
    log: Log,
    steps: VecDeque<Step>,
    next_id: usize,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running fake Anthropic API; stops accepting when dropped.
pub struct FakeAnthropic {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeAnthropic {
    /// Starts the fake on a free loopback port with this script.
    pub fn start(steps: Vec<Step>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake Anthropic API");
        let port = listener.local_addr().expect("local addr").port();
        let state = Arc::new(Mutex::new(State {
            log: Log::default(),
            steps: steps.into(),
            next_id: 1,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = state.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let state = state.clone();
                    thread::spawn(move || serve(conn, &state));
                }
            })
        };
        Self {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// The URL for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment that runs the real Claude Code headless against this
    /// fake, offline, with its state (`~/.claude`: sessions, shell snapshots)
    /// under `state`, which becomes its HOME: `claude -p` needs no
    /// `.claude.json` (docs/field-notes/claude-agent.md §0), one retry per
    /// request (it retries for minutes otherwise) and no first-run traffic.
    pub fn cli_env(&self, state: &std::path::Path) -> Vec<(&'static str, String)> {
        std::fs::create_dir_all(state).expect("claude state folder");
        vec![
            ("HOME", state.display().to_string()),
            ("ANTHROPIC_BASE_URL", self.base_url()),
            ("ANTHROPIC_API_KEY", "test".to_string()),
            ("CLAUDE_CODE_MAX_RETRIES", "1".to_string()),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_string()),
            ("DISABLE_AUTOUPDATER", "1".to_string()),
            ("DISABLE_ERROR_REPORTING", "1".to_string()),
            ("DISABLE_TELEMETRY", "1".to_string()),
        ]
    }

    /// A copy of the request log as it is now.
    pub fn log(&self) -> Log {
        lock(&self.state).log.clone()
    }

    /// How many steps of the script are still unused.
    pub fn steps_left(&self) -> usize {
        lock(&self.state).steps.len()
    }

    /// Waits until `cond` holds on the log, up to `timeout`; the log either way.
    pub fn try_wait_for(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&Log) -> bool,
    ) -> Result<Log, Log> {
        let start = Instant::now();
        loop {
            let log = self.log();
            if cond(&log) {
                return Ok(log);
            }
            if start.elapsed() >= timeout {
                return Err(log);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `cond` holds on the log, up to [`deadline`]; panics with
    /// `what` and the log's summary then.
    pub fn wait_for(&self, what: &str, cond: impl FnMut(&Log) -> bool) -> Log {
        self.try_wait_for(deadline(), cond)
            .unwrap_or_else(|log| panic!("timed out waiting for {what}\n{}", log.summary()))
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP/1.1 request off a keep-alive connection.
struct HttpRequest {
    method: String,
    target: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut impl BufRead) -> Option<HttpRequest> {
    let mut line = String::new();
    // Skip stray empty lines between requests.
    while line.trim().is_empty() {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().ok()?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).ok()?;
            let size_text = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_text, 16).ok()?;
            let mut chunk = vec![0; size + 2]; // data and CRLF
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(HttpRequest {
        method,
        target,
        body,
    })
}

/// Serves one connection's requests until the client closes it.
fn serve(conn: TcpStream, state: &Mutex<State>) {
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut conn = conn;
    while let Some(request) = read_request(&mut reader) {
        let body: Value = serde_json::from_slice(&request.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&request.body).into()));
        let path = request.target.split('?').next().unwrap_or("");
        let (status, content_type, payload) = if request.method != "POST" {
            not_found(state, &request, body)
        } else if path == "/v1/messages/count_tokens" {
            record(state, &request, body, false, "count_tokens: 12".into());
            (
                "200 OK",
                "application/json",
                json!({"input_tokens": 12}).to_string(),
            )
        } else if path == "/v1/messages" {
            answer_message(state, &request, body)
        } else {
            not_found(state, &request, body)
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncache-control: no-cache\r\n\
             request-id: req_fake\r\ncontent-length: {}\r\n\r\n",
            payload.len()
        );
        if conn.write_all(head.as_bytes()).is_err()
            || conn.write_all(payload.as_bytes()).is_err()
            || conn.flush().is_err()
        {
            return;
        }
    }
}

fn record(state: &Mutex<State>, request: &HttpRequest, body: Value, main: bool, answer: String) {
    lock(state).log.requests.push(Request {
        target: format!("{} {}", request.method, request.target),
        body,
        main,
        answer,
    });
}

fn not_found(
    state: &Mutex<State>,
    request: &HttpRequest,
    body: Value,
) -> (&'static str, &'static str, String) {
    record(state, request, body, false, "404".into());
    let error = json!({"type": "error", "error": {"type": "not_found_error",
                       "message": format!("fake Anthropic API: no {}", request.target)}});
    ("404 Not Found", "application/json", error.to_string())
}

/// The content block the model answers with.
enum Block {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

/// Answers `POST /v1/messages`: takes the next step for a main request.
fn answer_message(
    state: &Mutex<State>,
    request: &HttpRequest,
    body: Value,
) -> (&'static str, &'static str, String) {
    let main = is_main(&body);
    let model = body["model"].as_str().unwrap_or("claude-fake").to_string();
    let stream = body["stream"].as_bool().unwrap_or(false);
    let mut state = lock(state);
    let n = state.next_id;
    state.next_id += 1;
    state.log.requests.push(Request {
        target: format!("{} {}", request.method, request.target),
        body,
        main,
        answer: String::new(),
    });
    let step = if main { state.steps.pop_front() } else { None };
    if matches!(step, Some(Step::Overloaded)) {
        if let Some(last) = state.log.requests.last_mut() {
            last.answer = "529".into();
        }
        let error = json!({"type": "error", "error": {"type": "overloaded_error",
                           "message": "fake Anthropic API: overloaded"}});
        return ("529 Overloaded", "application/json", error.to_string());
    }
    let blocks = match step {
        Some(Step::ToolUses(calls)) => calls
            .into_iter()
            .enumerate()
            .map(|(i, (name, input))| Block::ToolUse {
                id: format!("toolu_fake_{n:04}_{i}"),
                name,
                input,
            })
            .collect(),
        step => vec![one_block(&state.log, n, main, step)],
    };
    let answer = blocks
        .iter()
        .map(|block| match block {
            Block::Text(text) => format!("text {:?}", truncate(text, 80)),
            Block::ToolUse { name, input, .. } => {
                format!("tool_use {name} {}", truncate(&input.to_string(), 200))
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    if let Some(last) = state.log.requests.last_mut() {
        last.answer = answer;
    }
    drop(state);
    let message_id = format!("msg_fake_{n:04}");
    if stream {
        (
            "200 OK",
            "text/event-stream",
            sse_message(&message_id, &model, &blocks),
        )
    } else {
        (
            "200 OK",
            "application/json",
            json_message(&message_id, &model, &blocks).to_string(),
        )
    }
}

/// The one block a step other than [`Step::ToolUses`] answers with.
fn one_block(log: &Log, n: usize, main: bool, step: Option<Step>) -> Block {
    match step {
        Some(Step::Overloaded | Step::ToolUses(_)) => Block::Text(DONE_TEXT.into()),
        None if main => Block::Text(DONE_TEXT.into()),
        None => Block::Text(SIDE_TEXT.into()),
        Some(Step::Text(text)) => Block::Text(text),
        Some(Step::ToolUse { name, input }) => Block::ToolUse {
            id: format!("toolu_fake_{n:04}"),
            name,
            input,
        },
        Some(Step::ToolUseWith { name, input }) => {
            match catch_unwind(AssertUnwindSafe(|| input(log))) {
                Ok(input) => Block::ToolUse {
                    id: format!("toolu_fake_{n:04}"),
                    name,
                    input,
                },
                Err(panic) => {
                    let why = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Block::Text(format!(
                        "fake Anthropic API: the input of the {name} call panicked: {why}"
                    ))
                }
            }
        }
    }
}

/// `tool_use` when the message calls a tool, else `end_turn`.
fn stop_reason(blocks: &[Block]) -> &'static str {
    if blocks.iter().any(|b| matches!(b, Block::ToolUse { .. })) {
        "tool_use"
    } else {
        "end_turn"
    }
}

/// A whole message, for a request without `stream: true`.
fn json_message(id: &str, model: &str, blocks: &[Block]) -> Value {
    let content: Vec<Value> = blocks
        .iter()
        .map(|block| match block {
            Block::Text(text) => json!({"type": "text", "text": text}),
            Block::ToolUse { id, name, input } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
        })
        .collect();
    json!({
        "id": id, "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop_reason(blocks), "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 5,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    })
}

/// The message as server-sent events, as the real API streams it.
fn sse_message(id: &str, model: &str, blocks: &[Block]) -> String {
    let mut events = vec![(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
    )];
    for (index, block) in blocks.iter().enumerate() {
        let (start, delta) = match block {
            Block::Text(text) => (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": text}),
            ),
            Block::ToolUse { id, name, input } => (
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                json!({"type": "input_json_delta", "partial_json": input.to_string()}),
            ),
        };
        events.extend([
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": index, "content_block": start}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ),
            (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ),
        ]);
    }
    events.extend([
        (
            "message_delta",
            json!({"type": "message_delta",
                   "delta": {"stop_reason": stop_reason(blocks), "stop_sequence": null},
                   "usage": {"output_tokens": 5}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One request on a fresh connection; the response as text.
    fn send(api: &FakeAnthropic, method: &str, target: &str, body: &Value) -> String {
        let mut conn = TcpStream::connect(("127.0.0.1", api.port)).expect("connect");
        let body = body.to_string();
        let request = format!(
            "{method} {target} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(request.as_bytes()).expect("send");
        let mut reader = BufReader::new(conn);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("read head");
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().expect("length");
            }
            if line.trim().is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let mut payload = vec![0; length];
        std::io::Read::read_exact(&mut reader, &mut payload).expect("read body");
        format!("{head}\n{}", String::from_utf8_lossy(&payload))
    }

    fn main_request(messages: Value) -> Value {
        json!({"model": "claude-x", "stream": true, "messages": messages,
               "tools": [{"name": "Bash"}, {"name": "ToolSearch"}]})
    }

    #[test]
    fn the_script_answers_main_requests_and_side_requests_consume_nothing() {
        let api = FakeAnthropic::start(vec![
            Step::tool_use("mcp__s__t", json!({"a": 1})),
            Step::tool_use_with(
                "mcp__s__u",
                |log| json!({"seen": log.last_tool_result().map(|r| r.text)}),
            ),
        ]);
        let side = send(
            &api,
            "POST",
            "/v1/messages?beta=true",
            &json!({"model": "claude-haiku-x", "messages": []}),
        );
        assert!(
            side.contains("Test session") && side.contains("end_turn"),
            "{side}"
        );
        let first = send(
            &api,
            "POST",
            "/v1/messages?beta=true",
            &main_request(json!([{"role": "user", "content": "go"}])),
        );
        assert!(first.contains("text/event-stream"), "{first}");
        for event in [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ] {
            assert!(first.contains(&format!("event: {event}\n")), "{first}");
        }
        assert!(first.contains("input_json_delta"), "{first}");
        assert!(first.contains("\"stop_reason\":\"tool_use\"") && first.contains("mcp__s__t"));
        let conversation = json!([
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_fake_0002",
                                               "name": "mcp__s__t", "input": {"a": 1}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_fake_0002",
                 "content": [{"type": "text", "text": "result one"}]},
                {"type": "text", "text": "<task-notification>x</task-notification>"}]},
        ]);
        let second = send(
            &api,
            "POST",
            "/v1/messages",
            &main_request(conversation.clone()),
        );
        assert!(second.contains(r#"{\"seen\":\"result one\"}"#), "{second}");
        let done = send(&api, "POST", "/v1/messages", &main_request(conversation));
        assert!(
            done.contains("Done.") && done.contains("end_turn"),
            "{done}"
        );
        let counted = send(
            &api,
            "POST",
            "/v1/messages/count_tokens?beta=true",
            &json!({}),
        );
        assert!(counted.contains("input_tokens"), "{counted}");
        let missing = send(&api, "GET", "/v1/models", &json!({}));
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");

        let log = api.log();
        assert_eq!(api.steps_left(), 0);
        assert_eq!(log.requests().len(), 6);
        assert_eq!(log.main_requests().count(), 3);
        let results = log.tool_results_of("mcp__s__t");
        assert_eq!(results.len(), 1, "{results:?}");
        assert_eq!(results[0].text, "result one");
        assert!(log
            .user_texts()
            .iter()
            .any(|t| t.contains("<task-notification>")));
        assert_eq!(log.user_texts().iter().filter(|t| *t == "go").count(), 1);
    }
}
