//! codex_answer and approval policy "ask" through the real shim and a real
//! `codexd serve` with the fake codex. The fake codex never asks, so these
//! cover the refusals (unknown job, a job that asks nothing, bad decisions
//! and question ids) and what an ask job's start says; a real question
//! needs the app-server engine and is covered end to end there.

mod common;

use std::fs;

use common::{serve_daemon, Shim, NO_AUTOSTART};
use serde_json::json;
use testkit::TempHome;

#[test]
fn codex_answer_refusals_reach_the_model_as_tool_errors_naming_the_field() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();
    let go = home.root().join("go");
    let job_id = shim.start(json!({
        "prompt": format!("waitfile:{};msg:done", go.display()),
        "cwd": cwd,
        "approval_policy": "ask",
    }));

    let cases = [
        // Checked by the shim.
        (json!({"decision": "allow"}), "job_id: missing"),
        (json!({"job_id": job_id}), "decision: missing"),
        (
            json!({"job_id": job_id, "decision": 1}),
            "decision: expected a string",
        ),
        (
            json!({"job_id": job_id, "decision": "allow", "question_id": []}),
            "question_id: expected a string",
        ),
        (
            json!({"job_id": job_id, "decison": "allow"}),
            "decison: no such argument of codex_answer (did you mean decision?)",
        ),
        // Checked by codexd, passed through.
        (json!({"job_id": "../etc", "decision": "allow"}), "job_id: "),
        (
            json!({"job_id": "000000000000", "decision": "allow"}),
            "job_id: ",
        ),
        (
            json!({"job_id": job_id, "decision": "maybe"}),
            "decision: unknown value \"maybe\"",
        ),
        (
            json!({"job_id": job_id, "decision": "allow", "question_id": "../x"}),
            "question_id: ",
        ),
        // FailedPrecondition: the job runs but asks nothing.
        (
            json!({"job_id": job_id, "decision": "allow"}),
            "asks nothing now",
        ),
    ];
    let mut failures = Vec::new();
    for (args, says) in &cases {
        let result = shim.call("codex_answer", args.clone());
        if !result.is_error || !result.text.contains(says) {
            failures.push(format!(
                "codex_answer({args}): isError={} text={:?} (should say {says:?})",
                result.is_error, result.text
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Once the job has ended there is nothing to answer either.
    fs::write(&go, "").expect("go");
    shim.poll_until_finished(&job_id);
    let ended = shim.call(
        "codex_answer",
        json!({"job_id": job_id, "decision": "deny"}),
    );
    assert!(
        ended.is_error && ended.text.contains("has ended"),
        "{}",
        ended.text
    );
}

#[test]
fn an_ask_start_without_tasks_says_how_questions_reach_the_user() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();
    let started = shim.ok(
        "codex_start",
        json!({"prompt": "msg:hi", "cwd": cwd, "approval_policy": "ask"}),
    );
    let note = started["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("codex_wait returns its question") && note.contains("codex_answer"),
        "{started}"
    );
    // The fake codex has no app-server, so the job above cannot start a
    // thread; a reply that switches to ask continues one the fake did start.
    let plain = shim.ok("codex_start", json!({"prompt": "msg:hi", "cwd": cwd}));
    assert!(plain.get("note").is_none(), "{plain}");
    let plain_id = plain["job_id"].as_str().unwrap_or_default().to_string();
    shim.poll_until_finished(&plain_id);
    let replied = shim.ok(
        "codex_reply",
        json!({"job_id": plain_id, "prompt": "msg:again", "approval_policy": "ask"}),
    );
    assert!(
        replied["note"].is_string(),
        "an ask reply says it too: {replied}"
    );

    // The status filter of codex_list takes input_required (none asks here).
    let listed = shim.ok("codex_list", json!({"status": "input_required"}));
    assert_eq!(listed["jobs"], json!([]), "{listed}");
}
