//! The seam holds (issue 29): codexd's core — supervisor, monitor, store,
//! output, API, the job record and its events, watchdog, worktrees,
//! settings, logs, service files, system — names no agent. It reaches the agents only through `engine/mod.rs`
//! (`engine::launch`, `engine::Session`, `engine::Stream`, …) and
//! `engine::Agent`, so adding an agent is a folder under `engine/` plus its
//! lines in `engine/mod.rs` and `engine/agent.rs`, and nothing here.
//!
//! The edge may name one: `cmd/doctor.rs` checks codex's version and login,
//! `cmd/review.rs` is `codexd review` (codex's reviewer), `main.rs` wires
//! the commands. Comments and test modules are not code and are left out.

use std::path::{Path, PathBuf};

/// The core's files and folders under `daemon/src`.
const CORE: &[&str] = &[
    "api",
    "config.rs",
    "job.rs",
    "job",
    "monitor.rs",
    "monitor",
    "logging.rs",
    "output",
    "service_files.rs",
    "store",
    "supervisor.rs",
    "supervisor",
    "sys",
    "watchdog.rs",
    "worktree.rs",
];

/// What would name an agent: a path into an agent's engine, or a branch on
/// one agent (`Agent::Codex`), which belongs in `engine/mod.rs`.
const NAMING: &[&str] = &[
    "engine::codex",
    "engine::gemini",
    "engine::claude",
    "codex::",
    "gemini::",
    "claude::",
    "Agent::Codex",
    "Agent::Gemini",
    "Agent::Claude",
    "Stream::Gemini",
    "Stream::Claude",
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .expect("read a source folder")
            .map(|e| e.expect("a folder entry").path())
            .collect();
        entries.sort();
        for entry in entries {
            rust_files(&entry, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// A file's code: its test module (from `#[cfg(test)]` on) and its comment
/// lines left out.
fn code(text: &str) -> String {
    let text = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |at| &text[..at]);
    text.lines()
        .map(|line| {
            let code = line.split("//").next().unwrap_or_default();
            format!("{code}\n")
        })
        .collect()
}

#[test]
fn the_core_names_no_agent() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for part in CORE {
        let path = src.join(part);
        assert!(path.exists(), "{} is gone: update CORE", path.display());
        rust_files(&path, &mut files);
    }
    assert!(files.len() > 30, "only {} core files found", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a source file");
        for (n, line) in code(&text).lines().enumerate() {
            for name in NAMING {
                if line.contains(name) {
                    found.push(format!(
                        "{}:{}: names {name}: {}",
                        file.strip_prefix(&src).unwrap_or(file).display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "the core names an agent; ask the engine seam (engine/mod.rs) instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn comments_and_tests_are_not_code() {
    let text =
        "use a::b; // engine::codex\n/// codex::x\n#[cfg(test)]\nmod tests { Agent::Codex }\n";
    let code = code(text);
    assert!(!NAMING.iter().any(|n| code.contains(n)), "{code}");
    assert!(code.contains("use a::b;"));
}
