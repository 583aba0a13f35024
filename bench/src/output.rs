//! Output that looks like codex's: `--json` event lines (commands with their
//! output, messages, reasoning), used to grow a job's output.txt to a size.

use std::{
    fs::OpenOptions,
    io::{BufWriter, Write},
    path::Path,
};

use anyhow::Context;
use serde_json::json;

/// One MiB (give or take a line) of codex-like event lines.
pub fn block() -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    let mut i = 0u64;
    while out.len() < (1 << 20) {
        i += 1;
        let id = format!("item_{i}");
        let command = format!("cargo test -p crate{} -- --nocapture", i % 17);
        let started = json!({"type": "item.started", "item": {"id": id, "type": "command_execution",
            "command": command, "aggregated_output": "", "exit_code": null, "status": "in_progress"}});
        let output = "   Compiling codex-async v0.1.0\n    Finished test profile in 3.2s\n     Running unittests\n"
            .repeat(3);
        let completed = json!({"type": "item.completed", "item": {"id": id, "type": "command_execution",
            "command": command, "aggregated_output": output, "exit_code": 0, "status": "completed"}});
        let message = json!({"type": "item.completed", "item": {"id": format!("msg_{i}"),
            "type": "agent_message", "text": format!("Step {i}: the tests pass; moving on to the next module.")}});
        let reasoning = json!({"type": "item.completed", "item": {"id": format!("r_{i}"),
            "type": "reasoning", "text": "Looking at how the daemon reads the tail of the output file."}});
        for event in [started, completed, reasoning, message] {
            out.extend_from_slice(event.to_string().as_bytes());
            out.push(b'\n');
        }
    }
    out
}

/// Appends whole copies of `block` to `path` until it holds at least `bytes`;
/// returns its size.
pub fn grow_to(path: &Path, bytes: u64, block: &[u8]) -> anyhow::Result<u64> {
    let file = OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut size = file.metadata()?.len();
    let mut out = BufWriter::with_capacity(1 << 20, file);
    while size < bytes {
        out.write_all(block)?;
        size += block.len() as u64;
    }
    out.flush()?;
    Ok(size)
}
