//! codex_review and the new arguments of codex_start/codex_reply through the
//! shim: their schemas in tools/list, and every bad input a tool error naming
//! the field that creates nothing. (Real reviews against the real codex are
//! in daemon/tests/review_schema.rs.)

mod common;

use std::{fs, process::Command};

use common::{serve_daemon, Shim, NO_AUTOSTART};
use serde_json::{json, Value};
use testkit::TempHome;

#[test]
fn tools_list_shows_codex_review_and_the_new_arguments() {
    let home = TempHome::new();
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let response = shim.request("tools/list", json!({}));
    let tools = response["result"]["tools"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let tool = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let review = tool("codex_review");
    let props = &review["inputSchema"]["properties"];
    assert_eq!(
        props["target"]["enum"],
        json!(["auto", "uncommitted", "base", "commit"]),
        "{review}"
    );
    assert_eq!(props["target"]["default"], "auto");
    for field in ["base_branch", "commit", "title", "instructions", "model"] {
        assert!(props[field].is_object(), "{field}: {review}");
    }
    assert_eq!(review["annotations"]["readOnlyHint"], true, "{review}");
    let efforts = json!(["none", "minimal", "low", "medium", "high", "xhigh"]);
    for name in ["codex_start", "codex_reply", "codex_review"] {
        let props = &tool(name)["inputSchema"]["properties"];
        assert_eq!(props["reasoning_effort"]["enum"], efforts, "{name}");
    }
    for name in ["codex_start", "codex_reply"] {
        let props = &tool(name)["inputSchema"]["properties"];
        assert!(props["output_schema"].is_object(), "{name}: {props}");
    }
}

#[test]
fn bad_review_schema_and_effort_inputs_are_tool_errors_that_create_nothing() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let repo = home.workdir().join("repo");
    fs::create_dir_all(&repo).expect("repo");
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    fs::write(repo.join("a.txt"), "a\n").expect("write");
    git(&["add", "."]);
    git(&["commit", "-qm", "first"]);
    let cwd = repo.display().to_string();
    let plain = home.workdir().display().to_string();

    let cases: Vec<(&str, Value, &str)> = vec![
        ("codex_review", json!({}), "cwd: missing"),
        (
            "codex_review",
            json!({"cwd": cwd, "target": "everything"}),
            "target: unknown value \"everything\"",
        ),
        (
            "codex_review",
            json!({"cwd": cwd, "target": "base"}),
            "base_branch: required with target \"base\"",
        ),
        (
            "codex_review",
            json!({"cwd": cwd, "target": "commit"}),
            "commit: required with target \"commit\"",
        ),
        (
            "codex_review",
            json!({"cwd": cwd, "target": "uncommitted", "instructions": "perf"}),
            "instructions and target \"uncommitted\": codex takes custom review instructions only instead of a target",
        ),
        (
            "codex_review",
            json!({"cwd": cwd, "base_branch": "main"}),
            "base_branch: only with target \"base\"",
        ),
        (
            "codex_review",
            json!({"cwd": cwd, "reasoning_effort": "ultra"}),
            "reasoning_effort: unknown value \"ultra\"; use one of none, minimal, low, medium, high, xhigh",
        ),
        (
            "codex_review",
            json!({"cwd": cwd}),
            "target: auto found nothing to review",
        ),
        (
            "codex_review",
            json!({"cwd": plain}),
            "is not inside a git repository",
        ),
        (
            "codex_start",
            json!({"prompt": "p", "cwd": plain, "output_schema": {"type": "bogus"}}),
            "output_schema: is not a valid JSON Schema",
        ),
        (
            "codex_start",
            json!({"prompt": "p", "cwd": plain, "output_schema": {"description": "x".repeat(70_000)}}),
            "output_schema: 70018 bytes is over the limit of 65536 bytes",
        ),
        (
            "codex_start",
            json!({"prompt": "p", "cwd": plain, "output_schema": 5}),
            "output_schema: expected a JSON Schema object, got 5",
        ),
        (
            "codex_start",
            json!({"prompt": "p", "cwd": plain, "reasoning_effort": "max"}),
            "reasoning_effort: unknown value \"max\"",
        ),
        (
            "codex_reply",
            json!({"job_id": "000000000000", "prompt": "p", "reasoning_effort": "max"}),
            "reasoning_effort: unknown value \"max\"",
        ),
        (
            "codex_start",
            json!({"prompt": "p", "cwd": plain, "reasoning_effort": ""}),
            "reasoning_effort: is empty; use one of none, minimal, low, medium, high, xhigh",
        ),
        (
            "codex_reply",
            json!({"job_id": "000000000000", "prompt": "p", "reasoning_effort": ""}),
            "reasoning_effort: is empty; use one of none, minimal, low, medium, high, xhigh",
        ),
        (
            "codex_review",
            json!({"cwd": cwd, "reasoning_effort": ""}),
            "reasoning_effort: is empty; use one of none, minimal, low, medium, high, xhigh",
        ),
    ];
    let mut failures = Vec::new();
    for (tool, args, expected) in cases {
        let result = shim.call(tool, args.clone());
        if !result.is_error || !result.text.contains(expected) {
            let shown: String = args.to_string().chars().take(200).collect();
            failures.push(format!(
                "{tool}({shown}): isError={} text={:?} (wanted {expected:?})",
                result.is_error, result.text
            ));
        }
    }
    assert!(failures.is_empty(), "bad inputs:\n{}", failures.join("\n"));
    let entries: Vec<_> = fs::read_dir(home.paths().jobs())
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(entries.is_empty(), "bad input created {entries:?}");
    let listed = shim.ok("codex_list", json!({}));
    assert_eq!(listed["jobs"], json!([]), "{listed}");
}
