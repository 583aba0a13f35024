//! Issue 3's proof through the shim's tools: the real codex CLI (npm
//! @openai/codex, installed by `.ci/run`) talking to a scripted fake Responses
//! API on loopback, driven only through MCP calls. Skipped with a message when
//! `CODEX_ASYNC_REAL_CODEX` is not set.

mod common;

use common::Shim;
use serde_json::{json, Value};
use testkit::{processes_with, real_codex, wait_until, Answer, Behaviour, FakeProvider, TempHome};

/// A shim whose autostarted daemon runs the real codex against `provider`.
fn shim_with_real_codex(home: &TempHome, provider: &FakeProvider) -> Option<Shim> {
    let codex = real_codex()?;
    let codex_home = home.root().join("codex-home");
    provider.write_codex_config(&codex_home);
    let (codex, codex_home) = (
        codex.display().to_string(),
        codex_home.display().to_string(),
    );
    Some(Shim::spawn(
        home,
        &[("CODEX_BIN", &codex), ("CODEX_HOME", &codex_home)],
    ))
}

/// codex_wait until the job ends (each wait answers within its timeout).
fn wait_end(shim: &mut Shim, job_id: &str) -> Value {
    let mut last = Value::Null;
    wait_until("the job to end", || {
        last = shim.ok(
            "codex_wait",
            json!({"job_id": job_id, "timeout_seconds": 10}),
        );
        last["status"] != "running" && last["status"] != "queued"
    });
    last
}

const ADD_FILE: &str = "*** Begin Patch\n*** Add File: made-by-codex.txt\n+hello\n*** End Patch";

#[test]
fn a_command_and_a_patch_show_up_as_events_and_the_answer_leads_the_result() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::Exec("echo from-the-command".into()),
        Answer::Patch(ADD_FILE.into()),
        Answer::Message("Added made-by-codex.txt.".into()),
    ]));
    let Some(mut shim) = shim_with_real_codex(&home, &provider) else {
        return;
    };
    let work = home.workdir();
    let id =
        shim.start(json!({"prompt": "add a file", "cwd": work, "approval_policy": "auto-edit"}));
    let end = wait_end(&mut shim, &id);
    assert_eq!(end["status"], "done", "{end}");
    assert_eq!(end["final_message"], "Added made-by-codex.txt.");
    let all = shim.ok("codex_poll", json!({"job_id": id, "tail_lines": 1000}));
    let output = all["output"].as_str().unwrap_or_default();
    assert!(output.contains("echo from-the-command"), "{output}");
    let result = shim.ok_result("codex_result", json!({"job_id": id}));
    assert!(
        result
            .text
            .starts_with(&format!("Codex job {id} done (exit 0")),
        "{}",
        result.text
    );
    for want in [
        "\n\nAdded made-by-codex.txt.\n\n",
        "Files changed (1): add ",
        "made-by-codex.txt",
        "`echo from-the-command` ok",
    ] {
        assert!(result.text.contains(want), "{want:?} in {}", result.text);
    }
    assert!(
        !result.text.contains("WARNING: proceeding"),
        "codex's noise stays out: {}",
        result.text
    );
    let r = result.structured;
    assert_eq!(r["final_message"], "Added made-by-codex.txt.");
    assert!(r["files_changed"][0]["path"]
        .as_str()
        .is_some_and(|p| p.ends_with("made-by-codex.txt")));
    assert_eq!(r["files_changed"][0]["kind"], "add");
    assert!(r["usage"]["output_tokens"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(
        std::fs::read_to_string(work.join("made-by-codex.txt")).expect("the file really changed"),
        "hello\n"
    );

    // A reply continues the same codex thread.
    let thread = r["thread_id"].as_str().expect("thread id").to_string();
    let reply = shim.ok("codex_reply", json!({"job_id": id, "prompt": "and now?"}));
    let reply_id = reply["job_id"].as_str().expect("reply id").to_string();
    assert_eq!(reply["parent_job_id"], id.as_str());
    let end = wait_end(&mut shim, &reply_id);
    assert_eq!(end["status"], "done", "{end}");
    assert_eq!(end["thread_id"], thread.as_str(), "the same codex thread");
}

#[test]
fn a_read_only_job_cannot_write() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::Patch(ADD_FILE.into()),
        Answer::Message("I could not write.".into()),
    ]));
    let Some(mut shim) = shim_with_real_codex(&home, &provider) else {
        return;
    };
    let work = home.workdir();
    let id = shim.start(json!({"prompt": "add a file", "cwd": work}));
    let end = wait_end(&mut shim, &id);
    assert_ne!(end["status"], "running");
    assert!(
        !work.join("made-by-codex.txt").exists(),
        "suggest (read-only) let a write through"
    );
}

#[test]
fn a_provider_error_is_a_job_error_with_codexs_message() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![Answer::Status(
        429,
        "slow down".into(),
    )]));
    let Some(mut shim) = shim_with_real_codex(&home, &provider) else {
        return;
    };
    let id = shim.start(json!({"prompt": "hi", "cwd": home.workdir()}));
    let end = wait_end(&mut shim, &id);
    assert_eq!(end["status"], "error", "{end}");
    assert_eq!(end["exit_code"], 1);
    assert!(
        end["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("codex exited with code 1: ")),
        "{end}"
    );
}

#[test]
fn a_stalled_provider_trips_the_watchdog_and_cancel_stops_a_command() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Hang);
    let Some(mut shim) = shim_with_real_codex(&home, &provider) else {
        return;
    };
    let id = shim.start(json!({"prompt": "hi", "cwd": home.workdir(), "stall_timeout_seconds": 3}));
    let end = wait_end(&mut shim, &id);
    assert_eq!(end["status"], "error", "{end}");
    assert!(
        end["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("stalled:")),
        "{end}"
    );

    let home = TempHome::new();
    let token = format!("{}.{}", 30 + std::process::id() % 50, std::process::id());
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::Exec(format!("sleep {token}")),
        Answer::Message("slept".into()),
    ]));
    let Some(mut shim) = shim_with_real_codex(&home, &provider) else {
        return;
    };
    let id = shim
        .start(json!({"prompt": "sleep", "cwd": home.workdir(), "approval_policy": "full-auto"}));
    let sleeping = || processes_with(&format!("sleep {token}")).len();
    wait_until("codex's command to run", || sleeping() > 0);
    let cancelled = shim.ok("codex_cancel", json!({"job_id": id}));
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(sleeping(), 0, "codex's command survived cancel");
}

/// A command whose output is far larger than a summary fold reads (codex
/// puts all of it in the one event that carries the exit code) still reaches
/// every view of the job with its exit code: the task result, codex_wait,
/// codex_result and `codexd show`.
///
/// Under the default policy (codex's read-only sandbox): with `full-auto`
/// codex 0.169 itself never finishes such a command here (its exec tool
/// yields "Process running" after 10 s and the command ends as exit -1 when
/// the turn does, with no `item.completed` in `--json` at all).
#[test]
fn a_command_printing_megabytes_keeps_its_exit_code_in_every_view() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::Exec("seq 1 200000; exit 3".into()),
        Answer::Message("The command failed with exit code 3.".into()),
    ]));
    let Some(codex) = real_codex() else {
        return;
    };
    let codex_home = home.root().join("codex-home");
    provider.write_codex_config(&codex_home);
    let (codex, codex_home) = (
        codex.display().to_string(),
        codex_home.display().to_string(),
    );
    let env = [
        ("CODEX_BIN", codex.as_str()),
        ("CODEX_HOME", codex_home.as_str()),
    ];
    let mut shim = Shim::spawn_modern(&home, &env, true);
    let work = home.workdir();
    let handle = shim.request(
        "tools/call",
        json!({"name": "codex_start", "arguments": {
            "prompt": "run it", "cwd": work}}),
    );
    assert_eq!(handle["result"]["resultType"], "task", "{handle}");
    let id = handle["result"]["taskId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut task = Value::Null;
    wait_until("the task to complete", || {
        task = shim.request("tasks/get", json!({"taskId": id}))["result"].clone();
        task["status"] != "working"
    });
    assert_eq!(task["status"], "completed", "{task}");
    let text = task["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let command = "`seq 1 200000; exit 3` exit 3";
    assert!(text.contains(command), "{text}");
    assert!(
        text.contains("The command failed with exit code 3."),
        "{text}"
    );
    assert!(text.chars().count() < 2_000, "the output stays out: {text}");

    for tool in ["codex_wait", "codex_result"] {
        let same = shim.ok_result(tool, json!({"job_id": id}));
        assert_eq!(same.text, text, "{tool}");
        let commands = same.structured["commands"].clone();
        assert_eq!(commands[0]["exit_code"], 3, "{tool}: {commands}");
    }
    let shown = std::process::Command::new(testkit::bin("codexd"))
        .envs(home.env())
        .args(["show", &id])
        .env("NO_COLOR", "1")
        .output()
        .expect("codexd show");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains(command), "{shown}");
}
