//! The real Gemini CLI (`CODEX_ASYNC_GEMINI`, pinned in `.ci/run`) runs
//! headless against the fake Gemini API, the way codexd's Gemini engine will
//! drive it (issue 29): its endpoint override holds at the pinned version, its
//! stream-json events are what the engine reads, its approval modes decide
//! which tools it offers, and `--resume` continues a session. If a new Gemini
//! CLI breaks one of these, this fails before the engine does.

use std::{
    path::Path,
    process::{Command, Stdio},
};

use serde_json::{json, Value};
use testkit::{FakeGemini, Turn};

/// One headless run: `gemini --skip-trust -o stream-json ARGS` in `work`, with
/// a home of its own pointed at `fake`; its exit code and its event lines.
fn run(gemini: &Path, fake: &FakeGemini, root: &Path, args: &[&str]) -> (i32, Vec<Value>) {
    let env = fake.cli_env(&root.join("gemini-home"));
    let work = root.join("work");
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&work).expect("work folder");
    std::fs::create_dir_all(&tmp).expect("tmp folder");
    let out = Command::new(gemini)
        .args(["--skip-trust", "-o", "stream-json"])
        .args(args)
        .current_dir(&work)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("TMPDIR", &tmp)
        .envs(env)
        // One node process, which handles SIGTERM (the relaunching parent
        // ignores it).
        .env("GEMINI_CLI_NO_RELAUNCH", "true")
        .stdin(Stdio::null())
        .output()
        .expect("run gemini");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!(
                    "not a JSON event ({e}): {l}\nstderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
        })
        .collect();
    (out.status.code().unwrap_or(-1), events)
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

#[test]
fn the_gemini_cli_runs_a_shell_call_against_the_fake_and_resumes_its_session() {
    let Some(gemini) = testkit::gemini_bin() else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    let fake = FakeGemini::start(vec![
        Turn::call(
            "run_shell_command",
            json!({"command": "echo from-the-shell"}),
        ),
        Turn::text("done: the shell said hello"),
    ]);
    let (code, events) = run(
        &gemini,
        &fake,
        root.path(),
        &["--approval-mode", "yolo", "-p", "run it"],
    );
    assert_eq!(code, 0, "{events:#?}");
    let init = of_type(&events, "init");
    let session = init
        .first()
        .and_then(|i| i["session_id"].as_str())
        .unwrap_or_else(|| panic!("no init with a session_id: {events:#?}"))
        .to_string();
    let tool_use = of_type(&events, "tool_use");
    assert_eq!(tool_use.len(), 1, "{events:#?}");
    assert_eq!(tool_use[0]["tool_name"], "run_shell_command");
    let tool_result = of_type(&events, "tool_result");
    assert_eq!(tool_result[0]["status"], "success", "{events:#?}");
    assert!(
        tool_result[0]["output"]
            .as_str()
            .is_some_and(|o| o.contains("from-the-shell")),
        "{events:#?}"
    );
    // The answer comes as deltas; the result carries no text of its own.
    let said: String = of_type(&events, "message")
        .iter()
        .filter(|m| m["role"] == "assistant")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(said, "done: the shell said hello");
    let result = of_type(&events, "result");
    assert_eq!(result[0]["status"], "success", "{events:#?}");
    assert!(
        result[0]["stats"]["input_tokens"].as_u64() >= Some(testkit::GEMINI_PROMPT_TOKENS),
        "{events:#?}"
    );
    let turns = fake.turns();
    assert_eq!(turns.len(), 2, "one request per model turn");
    assert!(
        turns[1].to_string().contains("from-the-shell"),
        "the command's output went back to the model"
    );

    // A reply resumes the session: the model is given the first exchange.
    let (code, events) = run(
        &gemini,
        &fake,
        root.path(),
        &["--resume", &session, "-p", "and again"],
    );
    assert_eq!(code, 0, "{events:#?}");
    let resumed = of_type(&events, "init");
    assert_eq!(resumed[0]["session_id"], session.as_str());
    let last = fake.turns().last().cloned().unwrap_or_default().to_string();
    assert!(
        last.contains("run it") && last.contains("and again"),
        "history and the new prompt: {last}"
    );
}

#[test]
fn in_its_default_mode_the_headless_gemini_cli_offers_no_shell_and_never_asks() {
    let Some(gemini) = testkit::gemini_bin() else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    let fake = FakeGemini::start(vec![
        Turn::call(
            "run_shell_command",
            json!({"command": "touch made-by-the-shell"}),
        ),
        Turn::text("could not"),
    ]);
    let (code, events) = run(
        &gemini,
        &fake,
        root.path(),
        &["--approval-mode", "default", "-p", "try it"],
    );
    assert_eq!(code, 0, "{events:#?}");
    let tool_result = of_type(&events, "tool_result");
    assert_eq!(tool_result[0]["status"], "error", "{events:#?}");
    assert_eq!(tool_result[0]["error"]["type"], "tool_not_registered");
    assert!(!root.path().join("work/made-by-the-shell").exists());
    let offered = fake.turns()[0].to_string();
    assert!(
        !offered.contains("\"run_shell_command\""),
        "the shell is not among the tools offered"
    );
}
