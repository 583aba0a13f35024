//! A minimal MCP client: JSON-RPC 2.0, one message per line, over the shim's stdio.

use std::{
    io::{BufRead, BufReader, Write},
    process::{ChildStdin, ChildStdout, Command, Stdio},
};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::{
    daemon::Home,
    procs::{Binaries, Guard},
};

/// The protocol version the bench announces.
const PROTOCOL_VERSION: &str = "2025-06-18";
/// The revision of a modern session (`server/discover`, then `_meta` on every
/// request), as interactive Claude Code speaks it.
const MODERN_PROTOCOL_VERSION: &str = "2026-07-28";
/// The Tasks extension's name in capabilities.
const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// A shim process and the client end of its stdio.
pub struct Shim {
    // Field order: the pipes close before the guard reaps the process.
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    guard: Guard,
    next_id: u64,
    line: String,
    /// In a modern session: the `_meta` every request carries.
    meta: Option<Value>,
}

impl Shim {
    /// Spawns the shim for `home` (its stderr is discarded).
    pub fn spawn(bins: &Binaries, home: &Home) -> anyhow::Result<Self> {
        let mut cmd = Command::new(&bins.shim);
        home.apply_env(&mut cmd, bins);
        Self::spawn_command(cmd, "codex-async-shim")
    }

    /// Spawns any MCP stdio server `cmd` (the tool codex-async replaces, for
    /// one) as the client end of its stdio; its stderr is discarded.
    pub fn spawn_command(mut cmd: Command, name: &'static str) -> anyhow::Result<Self> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run {name} ({cmd:?})"))?;
        let stdin = child.stdin.take().context("shim stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("shim stdout")?);
        Ok(Self {
            stdin,
            stdout,
            guard: Guard::new(child, name, false),
            next_id: 1,
            line: String::new(),
            meta: None,
        })
    }

    pub fn pid(&self) -> i32 {
        self.guard.pid()
    }

    /// The `initialize` request alone (no `initialized` notice yet): what the
    /// spawn→initialize figure times.
    pub fn initialize_request(&mut self) -> anyhow::Result<Value> {
        self.request(
            "initialize",
            json!({
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "codex-async-bench", "version": env!("CARGO_PKG_VERSION")}
            }),
        )
    }

    /// The whole handshake: `initialize`, then `notifications/initialized`.
    pub fn initialize(&mut self) -> anyhow::Result<Value> {
        let answer = self.initialize_request()?;
        self.notify("notifications/initialized", json!({}))?;
        Ok(answer)
    }

    /// Opens a session of revision 2026-07-28 instead of `initialize`: from
    /// now on every request carries the protocol version, client info and
    /// capabilities in its `_meta`, the capabilities declaring the Tasks
    /// extension; then `server/discover`. Fails unless the server declares
    /// the extension.
    pub fn discover_with_tasks(&mut self) -> anyhow::Result<Value> {
        self.meta = Some(json!({
            "io.modelcontextprotocol/protocolVersion": MODERN_PROTOCOL_VERSION,
            "io.modelcontextprotocol/clientInfo":
                {"name": "codex-async-bench", "version": env!("CARGO_PKG_VERSION")},
            "io.modelcontextprotocol/clientCapabilities":
                {"extensions": {TASKS_EXTENSION: {}}},
        }));
        let answer = self.request("server/discover", json!({}))?;
        if answer["capabilities"]["extensions"][TASKS_EXTENSION].is_null() {
            bail!("server/discover does not declare {TASKS_EXTENSION}: {answer}");
        }
        Ok(answer)
    }

    /// Calls tool `name`; returns its `structuredContent`, or for a job's
    /// result (text only: what a model reads) its text as a JSON string. A
    /// tool error (`isError`) or a JSON-RPC error is an error.
    pub fn call_tool(&mut self, name: &str, arguments: Value) -> anyhow::Result<Value> {
        let result = self.request("tools/call", json!({"name": name, "arguments": arguments}))?;
        if result.get("isError").and_then(Value::as_bool) == Some(true) {
            bail!("{name} returned a tool error: {}", text_of(&result));
        }
        if let Some(structured) = result.get("structuredContent") {
            return Ok(structured.clone());
        }
        let text = text_of(&result);
        if !text.starts_with("Codex job ") {
            bail!("{name} answered neither structuredContent nor a job's result: {result}");
        }
        Ok(Value::String(text))
    }

    /// Sends a request and reads lines until its answer; returns `result`.
    pub fn request(&mut self, method: &str, mut params: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        if let (Some(meta), Some(params)) = (&self.meta, params.as_object_mut()) {
            let own = params.entry("_meta").or_insert_with(|| json!({}));
            if let (Some(own), Some(meta)) = (own.as_object_mut(), meta.as_object()) {
                own.extend(meta.clone());
            }
        }
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send(&message)?;
        loop {
            self.line.clear();
            let n = self
                .stdout
                .read_line(&mut self.line)
                .context("reading from the shim")?;
            if n == 0 {
                bail!("the shim closed stdout while {method} (id {id}) was pending");
            }
            let answer: Value = serde_json::from_str(self.line.trim_end()).with_context(|| {
                format!("the shim wrote a line that is not JSON: {}", self.line)
            })?;
            if answer.get("id").and_then(Value::as_u64) != Some(id) {
                continue; // a notification (log, progress) or another answer
            }
            if let Some(error) = answer.get("error") {
                bail!("{method} failed: {error}");
            }
            return answer
                .get("result")
                .cloned()
                .with_context(|| format!("{method} answered without a result: {answer}"));
        }
    }

    /// Bytes of the last line the shim wrote (the last answer, with its newline).
    pub fn last_answer_len(&self) -> usize {
        self.line.len()
    }

    /// Sends a notification (no answer expected).
    pub fn notify(&mut self, method: &str, params: Value) -> anyhow::Result<()> {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
    }

    fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(message)?;
        line.push(b'\n');
        self.stdin
            .write_all(&line)
            .and_then(|()| self.stdin.flush())
            .context("writing to the shim")
    }
}

/// The text content of a tool result, for error messages.
fn text_of(result: &Value) -> String {
    result
        .get("content")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .and_then(|c| c.get("text"))
        .and_then(Value::as_str)
        .unwrap_or("(no text)")
        .to_string()
}
