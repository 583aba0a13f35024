//! A minimal MCP client for the shim tests: spawns the real shim binary and
//! speaks newline-delimited JSON-RPC 2.0 over its stdin/stdout, as Claude does.
//!
//! stdout is read on a thread into a channel so every wait has a deadline;
//! every stdout line must be a JSON-RPC message (stdout is the protocol).
//! The shim's stderr goes to `<temp root>/shim-N.log`, shown when a wait fails.
#![allow(dead_code)]

use std::{
    fs,
    io::Write,
    path::PathBuf,
    process::{ChildStdin, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc::{Receiver, RecvTimeoutError},
    },
    time::Instant,
};

use serde_json::{json, Value};
use testkit::{bin, deadline, wait_until, ProcessGuard, TempHome};

/// The MCP protocol version the tests speak (what Claude Code sends).
pub const PROTOCOL_VERSION: &str = "2025-06-18";
/// The revision interactive Claude Code 2.1.332 speaks (with the Tasks extension).
pub const MODERN_PROTOCOL_VERSION: &str = "2026-07-28";

/// One running shim with an initialized MCP session.
pub struct Shim {
    guard: ProcessGuard,
    stdin: ChildStdin,
    lines: Receiver<String>,
    next_id: u64,
    log: PathBuf,
    /// For a 2026-07-28 session: the `_meta` every request carries.
    meta: Option<Value>,
    /// codexd's socket, to read a job behind a result the test got.
    socket: PathBuf,
}

/// What a `tools/call` returned.
#[derive(Debug, Clone)]
pub struct ToolResult {
    pub is_error: bool,
    /// The first text block.
    pub text: String,
    /// `structuredContent` (null when absent).
    pub structured: Value,
}

impl Shim {
    /// Starts the shim on `home` (its env plus `env`) and initializes a session.
    ///
    /// `CODEX_ASYNC_CODEXD` is cleared unless `env` sets it, so a shim finds
    /// the codexd built next to it.
    pub fn spawn(home: &TempHome, env: &[(&str, &str)]) -> Self {
        let mut shim = Self::spawn_uninitialized(home, env);
        shim.initialize();
        shim
    }

    /// Starts the shim without the MCP handshake.
    pub fn spawn_uninitialized(home: &TempHome, env: &[(&str, &str)]) -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let log = home
            .root()
            .join(format!("shim-{}.log", COUNT.fetch_add(1, Ordering::SeqCst)));
        let mut cmd = Command::new(bin("codex-async-shim"));
        cmd.envs(home.env())
            .env("RUST_LOG", "codex_async_shim=debug,codexd=debug")
            .env_remove("CODEX_ASYNC_CODEXD");
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log).expect("create shim log"))
            .spawn()
            .expect("spawn codex-async-shim");
        let mut guard = ProcessGuard::new(child);
        let stdin = guard.child().stdin.take().expect("shim stdin");
        let stdout = guard.child().stdout.take().expect("shim stdout");
        let lines = testkit::lines_of(stdout);
        Self {
            guard,
            stdin,
            lines,
            next_id: 1,
            log,
            meta: None,
            socket: home.paths().socket,
        }
    }

    /// Starts the shim and opens a session of MCP revision 2026-07-28 as
    /// Claude Code does: `server/discover`, then the protocol version, client
    /// info and capabilities in every request's `_meta`; with `tasks` the
    /// capabilities declare the Tasks extension (interactive Claude Code).
    pub fn spawn_modern(home: &TempHome, env: &[(&str, &str)], tasks: bool) -> Self {
        let mut shim = Self::spawn_uninitialized(home, env);
        let extensions = if tasks {
            json!({"io.modelcontextprotocol/tasks": {}})
        } else {
            json!({})
        };
        shim.meta = Some(json!({
            "io.modelcontextprotocol/protocolVersion": MODERN_PROTOCOL_VERSION,
            "io.modelcontextprotocol/clientInfo": {"name": "shim-tests", "version": "0"},
            "io.modelcontextprotocol/clientCapabilities": {"extensions": extensions},
        }));
        let discovered = shim.request("server/discover", json!({}));
        assert_eq!(
            discovered["result"]["resultType"], "complete",
            "server/discover: {discovered}"
        );
        shim
    }

    /// The shim's pid.
    pub fn pid(&self) -> i32 {
        self.guard.pid()
    }

    /// The shim's stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `initialize` then `notifications/initialized`; returns the initialize result.
    pub fn initialize(&mut self) -> Value {
        let result = self.request(
            "initialize",
            json!({
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "shim-tests", "version": "0"}
            }),
        );
        assert!(
            result.get("result").is_some(),
            "initialize failed: {result}"
        );
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        result["result"].clone()
    }

    /// Writes one message line.
    pub fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").expect("write to shim stdin");
        self.stdin.flush().expect("flush shim stdin");
    }

    /// Writes `bytes` and a newline as they are: a line no JSON encoder
    /// would write.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).expect("write to shim stdin");
        self.stdin.write_all(b"\n").expect("write to shim stdin");
        self.stdin.flush().expect("flush shim stdin");
    }

    /// Sends a request and returns its id without waiting for the answer.
    pub fn send_request(&mut self, method: &str, mut params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        if let (Some(meta), Some(params)) = (&self.meta, params.as_object_mut()) {
            let own = params.entry("_meta").or_insert_with(|| json!({}));
            if let (Some(own), Some(meta)) = (own.as_object_mut(), meta.as_object()) {
                for (key, value) in meta {
                    own.insert(key.clone(), value.clone());
                }
            }
        }
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// Waits for the response to request `id` (the whole message).
    pub fn response(&mut self, id: u64) -> Value {
        self.response_and_notifications(id).0
    }

    /// Waits for the response to request `id`; also returns every
    /// notification the shim sent before it, in order.
    pub fn response_and_notifications(&mut self, id: u64) -> (Value, Vec<Value>) {
        let (response, before) = self.response_after(&json!(id));
        let notifications = before
            .into_iter()
            .filter(|m| m.get("id").is_none() && m.get("method").is_some())
            .collect();
        (response, notifications)
    }

    /// Waits for the message whose `id` is `id` (`null` too: the answer to
    /// a line whose id could not be read); also returns every message the
    /// shim sent before it, in order.
    pub fn response_after(&mut self, id: &Value) -> (Value, Vec<Value>) {
        let (start, limit) = (Instant::now(), deadline());
        let mut before = Vec::new();
        loop {
            let left = limit.saturating_sub(start.elapsed());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no answer to request {id} within {limit:?}; shim log:\n{}",
                        self.log()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the shim closed stdout before answering {id}; shim log:\n{}",
                        self.log()
                    )
                }
            };
            let message: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                panic!(
                    "stdout line is not JSON ({e}): {line:?}; shim log:\n{}",
                    self.log()
                )
            });
            assert_eq!(message["jsonrpc"], "2.0", "not JSON-RPC 2.0: {line}");
            if message.get("id") == Some(id) {
                return (message, before);
            }
            before.push(message);
        }
    }

    /// Sends a request and waits for its response (the whole message).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params);
        self.response(id)
    }

    /// Sends a `tools/call` without waiting.
    pub fn send_call(&mut self, tool: &str, arguments: Value) -> u64 {
        self.send_request("tools/call", json!({"name": tool, "arguments": arguments}))
    }

    /// Waits for the answer to a `tools/call`; a JSON-RPC error fails the test
    /// (clients hide those, so every tool failure must be a result).
    pub fn call_result(&mut self, id: u64) -> ToolResult {
        let message = self.response(id);
        self.tool_result(&message)
    }

    /// Calls a tool with `_meta` (e.g. a progressToken) and returns its result
    /// and the notifications that arrived before it.
    pub fn call_with_meta(
        &mut self,
        tool: &str,
        arguments: Value,
        meta: Value,
    ) -> (ToolResult, Vec<Value>) {
        let id = self.send_request(
            "tools/call",
            json!({"name": tool, "arguments": arguments, "_meta": meta}),
        );
        let (message, notifications) = self.response_and_notifications(id);
        (self.tool_result(&message), notifications)
    }

    /// Calls a tool and waits for its result.
    pub fn call(&mut self, tool: &str, arguments: Value) -> ToolResult {
        let id = self.send_call(tool, arguments);
        self.call_result(id)
    }

    /// Calls a tool that must succeed; returns its structured content.
    pub fn ok(&mut self, tool: &str, arguments: Value) -> Value {
        self.ok_result(tool, arguments).structured
    }

    /// Calls a tool that must succeed; returns the whole result (for its text).
    pub fn ok_result(&mut self, tool: &str, arguments: Value) -> ToolResult {
        let result = self.call(tool, arguments.clone());
        assert!(
            !result.is_error,
            "{tool}({arguments}) failed: {}; shim log:\n{}",
            result.text,
            self.log()
        );
        result
    }

    /// Polls `job_id` until its status is terminal; returns the last poll.
    pub fn poll_until_finished(&mut self, job_id: &str) -> Value {
        let mut last = Value::Null;
        wait_until(&format!("job {job_id} to finish"), || {
            last = self.ok("codex_poll", json!({"job_id": job_id}));
            matches!(
                last["status"].as_str(),
                Some("done" | "error" | "cancelled")
            )
        });
        last
    }

    /// Starts a job that must start; returns its id.
    pub fn start(&mut self, arguments: Value) -> String {
        let started = self.ok("codex_start", arguments);
        assert!(is_job_id(&started["job_id"]), "{started}");
        started["job_id"].as_str().unwrap_or_default().to_string()
    }
}

impl Shim {
    /// The tool result in a `tools/call` response.
    ///
    /// A job's result is text only (Claude Code would show the model a
    /// `structuredContent` instead of the text), so for one the test's
    /// `structured` is the same rendering's fields read from codexd.
    fn tool_result(&self, message: &Value) -> ToolResult {
        let Some(result) = message.get("result") else {
            panic!("tools/call answered with a JSON-RPC error: {message}");
        };
        let is_error = result["isError"].as_bool().unwrap_or(false);
        let text = result["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("no text content in {message}"))
            .to_string();
        let mut structured = result
            .get("structuredContent")
            .cloned()
            .unwrap_or(Value::Null);
        if !is_error {
            match serde_json::from_str::<Value>(&text) {
                Ok(parsed) => assert_eq!(parsed, structured, "text and structuredContent differ"),
                Err(_) => {
                    assert_eq!(
                        structured,
                        Value::Null,
                        "a job's result is text only: {message}"
                    );
                    structured = self.job_view(&text);
                    if let Some(tail) = result["content"][1]["text"]
                        .as_str()
                        .and_then(|t| t.strip_prefix("Output tail:\n"))
                    {
                        structured["output"] = json!(tail);
                    }
                }
            }
        }
        ToolResult {
            is_error,
            text,
            structured,
        }
    }

    /// The fields of the job whose result `text` is, from codexd.
    fn job_view(&self, text: &str) -> Value {
        // "Codex job <id> …", "Gemini job <id> …", "Claude job <id> …".
        let id = ["Codex job ", "Gemini job ", "Claude job "]
            .iter()
            .find_map(|title| text.strip_prefix(title))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("neither JSON nor a job's result: {text}"))
            .to_string();
        let socket = self.socket.clone();
        let response = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test runtime")
            .block_on(async move {
                let mut client = codex_async_proto::connect(&socket)
                    .await
                    .expect("connect to codexd");
                testkit::get(&mut client, &id).await
            });
        let view =
            codex_async_proto::job_result::JobResult::from_get(&response, None, chrono::Utc::now())
                .expect("a job result");
        let rendered = view.to_text();
        assert_eq!(
            text.lines().next(),
            rendered.lines().next(),
            "the result names the job as codexd has it"
        );
        serde_json::to_value(view).expect("json")
    }
}

/// Starts `codexd serve` on `home` (foreground, killed when the guard drops).
pub fn serve_daemon(home: &TempHome) -> testkit::Daemon {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime")
        .block_on(testkit::Daemon::start(home))
}

/// Env for a shim that must use an already running daemon: if none answers,
/// the autostart fails at once (instead of silently starting another).
pub const NO_AUTOSTART: &[(&str, &str)] = &[("CODEX_ASYNC_CODEXD", "/bin/false")];

/// True for a job id as codexd makes them: 12 lowercase hex characters.
pub fn is_job_id(id: &Value) -> bool {
    id.as_str().is_some_and(|s| {
        s.len() == 12
            && s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}
