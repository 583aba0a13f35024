//! An MCP client of the shim over its stdio (newline-delimited JSON-RPC 2.0),
//! speaking as a client without MCP Tasks does (an `initialize` of revision
//! 2025-06-18, plain `tools/call`s): for tests that look at a tool's answer
//! exactly as a model's client receives it, such as the characters the model
//! reads (daemon/tests/agents_figures.rs). Every wait has the test deadline.

use std::{
    io::Write,
    process::{ChildStdin, Command, Stdio},
    sync::mpsc::Receiver,
    time::Instant,
};

use serde_json::{json, Value};

use crate::{bin, deadline, lines_of, ProcessGuard, TempHome};

/// One `tools/call` answer: its text blocks joined (what the model reads),
/// whether it is a tool error, and the whole `result` for a failure message.
#[derive(Debug, Clone)]
pub struct ToolAnswer {
    pub text: String,
    pub is_error: bool,
    pub result: Value,
}

impl ToolAnswer {
    /// The characters of the answer's text (what it costs the model's context).
    pub fn chars(&self) -> usize {
        self.text.chars().count()
    }
}

/// A running `codex-async-shim` and the client end of its stdio; the shim is
/// killed by pid when this is dropped.
pub struct McpShim {
    // Field order: stdin closes before the guard reaps the shim.
    stdin: ChildStdin,
    lines: Receiver<String>,
    guard: ProcessGuard,
    next_id: u64,
}

impl McpShim {
    /// Spawns the shim on `home` (with `env` on top of the home's own) and
    /// opens the session (`initialize`, then `notifications/initialized`).
    pub fn start(home: &TempHome, env: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(bin("codex-async-shim"));
        cmd.envs(home.env())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut guard = ProcessGuard::new(cmd.spawn().expect("spawn codex-async-shim"));
        let stdin = guard.child().stdin.take().expect("shim stdin");
        let stdout = guard.child().stdout.take().expect("shim stdout");
        let mut shim = Self {
            stdin,
            lines: lines_of(stdout),
            guard,
            next_id: 1,
        };
        let answer = shim.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "testkit", "version": "0"}}),
        );
        assert!(answer.get("result").is_some(), "initialize: {answer}");
        shim.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        shim
    }

    /// The shim's pid.
    pub fn pid(&self) -> i32 {
        self.guard.pid()
    }

    /// Sends a request; its whole JSON-RPC answer (notifications such as
    /// progress are passed over).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let (started, limit) = (Instant::now(), deadline());
        loop {
            let left = limit.saturating_sub(started.elapsed());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no answer to {method} within {limit:?}: {e}"));
            let answer: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("the shim wrote a line that is not JSON ({e}): {line}"));
            if answer["id"] == id {
                return answer;
            }
        }
    }

    /// Calls tool `name`; its answer (a JSON-RPC error panics: a tool's own
    /// failure is a result with `isError`).
    pub fn call(&mut self, name: &str, arguments: Value) -> ToolAnswer {
        let answer = self.request("tools/call", json!({"name": name, "arguments": arguments}));
        let result = answer
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("{name}: no result in {answer}"));
        let text = result["content"]
            .as_array()
            .map(|blocks| {
                blocks
                    .iter()
                    .filter_map(|b| b["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("")
            })
            .unwrap_or_default();
        ToolAnswer {
            text,
            is_error: result["isError"] == true,
            result,
        }
    }

    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").expect("write to the shim");
        self.stdin.flush().expect("flush the shim's stdin");
    }
}
