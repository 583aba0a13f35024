//! Issue 3 through the shim: codex_poll in events with the since/cursor
//! protocol, codex_result, codex_reply, codex_wait (with progress
//! notifications) and worktree isolation — a real shim, a real `codexd
//! serve`, the fake codex (whose prompt is a script of codex-like events).

mod common;

use std::{
    fs,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use common::{is_job_id, serve_daemon, Shim, NO_AUTOSTART};
use serde_json::{json, Value};
use testkit::{wait_until, TempHome};

/// How many event lines hold `marker`, leaving out the fake's `fake.args`
/// line (it echoes the whole prompt).
fn count(text: &str, marker: &str) -> usize {
    text.lines()
        .filter(|line| !line.starts_with("[fake.args]"))
        .filter(|line| line.contains(marker))
        .count()
}

fn events(poll: &Value) -> String {
    poll["events"].as_str().unwrap_or_default().to_string()
}

#[test]
fn poll_speaks_in_events_and_the_cursor_returns_only_new_ones() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();
    let go = home.root().join("go");
    let finish = home.root().join("finish");

    let job_id = shim.start(json!({
        "prompt": format!(
            "msg:alpha-marker;think:pondering;cmd:ls -la=0;novel;noise;waitfile:{};\
             patch:notes.txt;msg:omega-marker;usage:10,5;waitfile:{}",
            go.display(),
            finish.display()
        ),
        "cwd": cwd,
        "approval_policy": "auto-edit",
    }));

    // The first poll has no cursor: it shows the latest events.
    let mut first = Value::Null;
    wait_until("the first agent message to show in events", || {
        first = shim.ok("codex_poll", json!({"job_id": job_id}));
        events(&first).contains("alpha-marker")
    });
    let first_events = events(&first);
    assert!(first["cursor"].is_u64(), "{first}");
    assert_eq!(first["events_truncated"], false, "{first}");
    assert_eq!(first["status"], "running", "{first}");
    assert_eq!(
        first["output"],
        Value::Null,
        "no raw tail unless asked: {first}"
    );
    assert!(
        !first_events.contains("{\"type\""),
        "events are compact lines, not codex's JSON: {first_events}"
    );

    // With the cursor of the first poll: only what happened after it.
    fs::write(&go, "").expect("go");
    let cursor = first["cursor"].clone();
    let mut second = Value::Null;
    wait_until("the last agent message to show after the cursor", || {
        second = shim.ok("codex_poll", json!({"job_id": job_id, "since": cursor}));
        events(&second).contains("turn done")
    });
    let second_events = events(&second);
    assert_eq!(
        count(&second_events, "alpha-marker"),
        0,
        "seen before the cursor: {second_events}"
    );
    let both = format!("{first_events}\n{second_events}");
    for marker in ["alpha-marker", "omega-marker", "ls -la", "notes.txt"] {
        assert_eq!(
            count(&both, marker),
            1,
            "{marker:?} once across the two polls:\n--- first\n{first_events}\n--- second\n{second_events}"
        );
    }
    // Unknown event types are shown, not dropped.
    assert!(both.contains("fancy.new_event"), "{both}");
    assert!(
        second["cursor"].as_u64() >= first["cursor"].as_u64(),
        "{first} {second}"
    );

    // Nothing is new after the last cursor.
    let third = shim.ok(
        "codex_poll",
        json!({"job_id": job_id, "since": second["cursor"]}),
    );
    assert_eq!(events(&third).trim(), "", "{third}");
    assert_eq!(third["cursor"], second["cursor"], "{third}");
    assert_eq!(third["commands_run"], 1, "{third}");
    assert_eq!(third["files_changed_count"], 1, "{third}");
    assert!(third["activity"].is_string(), "{third}");

    // Once the job has ended a poll is its result, whatever the cursor: the
    // answer comes once, not again in the events.
    fs::write(&finish, "").expect("finish");
    let done = shim.poll_until_finished(&job_id);
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["exit_code"], 0, "{done}");
    assert_eq!(done["final_message"], "omega-marker", "{done}");
    assert_eq!(done["commands_run"], 1, "{done}");
    let after = shim.ok_result("codex_poll", json!({"job_id": job_id, "since": cursor}));
    assert_eq!(
        after.text.matches("omega-marker").count(),
        1,
        "the answer once: {}",
        after.text
    );
    assert!(
        after.structured.get("events").is_none(),
        "{}",
        after.structured
    );

    // tail_lines still adds the raw output.
    let raw = shim.ok("codex_poll", json!({"job_id": job_id, "tail_lines": 5}));
    assert!(raw["output"].is_string(), "{raw}");
}

#[test]
fn a_finished_poll_leads_with_the_final_message_and_the_files_changed() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let workdir = home.workdir();
    let cwd = workdir.display().to_string();

    let job_id = shim.start(json!({
        "prompt": "patch:notes.txt;msg:All done.;usage:10,5",
        "cwd": cwd,
        "approval_policy": "auto-edit",
    }));
    shim.poll_until_finished(&job_id);

    let result = shim.ok_result("codex_poll", json!({"job_id": job_id}));
    assert!(
        result
            .text
            .starts_with(&format!("Codex job {job_id} done (exit 0")),
        "{}",
        result.text
    );
    assert!(
        result
            .text
            .contains("\n\nAll done.\n\nFiles changed (1): update "),
        "the answer, then the files: {}",
        result.text
    );
    let poll = result.structured;
    assert_eq!(poll["status"], "done", "{poll}");
    let files = poll["files_changed"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(files.len(), 1, "{poll}");
    assert!(
        files[0]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("notes.txt")),
        "{poll}"
    );
    assert_eq!(files[0]["kind"], "update", "{poll}");
    // The fake really changed the file.
    let notes = fs::read_to_string(workdir.join("notes.txt")).unwrap_or_default();
    assert!(notes.contains("patched"), "{notes:?}");
}

#[test]
fn a_running_poll_has_no_final_message_yet() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();

    let job_id = shim.start(json!({"prompt": "msg:thinking aloud;hang", "cwd": cwd}));
    let mut poll = Value::Null;
    wait_until("the message to show", || {
        poll = shim.ok("codex_poll", json!({"job_id": job_id}));
        events(&poll).contains("thinking aloud") && poll["activity"].is_string()
    });
    assert_eq!(poll["status"], "running", "{poll}");
    assert!(poll.get("final_message").is_none(), "{poll}");
    assert!(poll["activity"].is_string(), "{poll}");

    // codex_result on a running job says so through its status, and an
    // interim message is activity, not a final answer.
    let result = shim.ok_result("codex_result", json!({"job_id": job_id}));
    assert_eq!(result.structured["status"], "running", "{}", result.text);
    assert_eq!(
        result.structured["exit_code"],
        Value::Null,
        "{}",
        result.text
    );
    assert_eq!(
        result.structured["final_message"],
        Value::Null,
        "{}",
        result.text
    );
    assert!(
        result.text.contains("Now: said: thinking aloud"),
        "{}",
        result.text
    );

    shim.ok("codex_cancel", json!({"job_id": job_id}));
}

#[test]
fn codex_result_reports_answer_files_commands_and_usage() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();

    let job_id = shim.start(json!({
        "prompt": "cmd:cargo test=0;cmd:false=1;patch:a.txt;msg:Tests pass.;usage:100,7",
        "cwd": cwd,
        "approval_policy": "auto-edit",
    }));
    shim.poll_until_finished(&job_id);
    let result = shim.ok("codex_result", json!({"job_id": job_id}));
    assert_eq!(result["job_id"], job_id.as_str(), "{result}");
    assert_eq!(result["status"], "done", "{result}");
    assert_eq!(result["exit_code"], 0, "{result}");
    assert_eq!(result["error"], Value::Null, "{result}");
    assert_eq!(result["final_message"], "Tests pass.", "{result}");
    assert_eq!(
        result["commands"],
        json!([
            {"command": "cargo test", "exit_code": 0, "status": "completed"},
            {"command": "false", "exit_code": 1, "status": "failed"},
        ]),
        "{result}"
    );
    assert_eq!(result["commands_run"], 2, "{result}");
    let files = result["files_changed"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(files.len(), 1, "{result}");
    assert!(
        files[0]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("a.txt")),
        "{result}"
    );
    assert_eq!(
        result["usage"],
        json!({"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 7}),
        "{result}"
    );
    assert!(
        result["thread_id"]
            .as_str()
            .is_some_and(|t| t.starts_with("fake-thread-")),
        "{result}"
    );
    for key in ["branch", "worktree", "diffstat"] {
        assert_eq!(
            result[key],
            Value::Null,
            "{key} without isolation: {result}"
        );
    }

    // A failed turn: status error, and the error says what codex said.
    let failed = shim.start(json!({"prompt": "cmd:make=2;fail:model exploded", "cwd": cwd}));
    shim.poll_until_finished(&failed);
    let result = shim.ok("codex_result", json!({"job_id": failed}));
    assert_eq!(result["status"], "error", "{result}");
    assert_eq!(result["exit_code"], 1, "{result}");
    assert!(
        result["error"]
            .as_str()
            .is_some_and(|e| e.contains("model exploded")),
        "{result}"
    );
    assert_eq!(result["usage"], Value::Null, "{result}");
}

#[test]
fn codex_reply_continues_the_same_thread_as_a_new_linked_job() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();

    let parent = shim.start(json!({
        "prompt": "msg:first answer",
        "cwd": cwd,
        "approval_policy": "auto-edit",
    }));
    shim.poll_until_finished(&parent);
    let parent_result = shim.ok("codex_result", json!({"job_id": parent}));
    assert_eq!(
        parent_result["final_message"], "first answer",
        "{parent_result}"
    );
    let thread_id = parent_result["thread_id"]
        .as_str()
        .unwrap_or_else(|| panic!("parent has no thread id: {parent_result}"))
        .to_string();

    let reply = shim.ok(
        "codex_reply",
        json!({"job_id": parent, "prompt": "msg:second answer"}),
    );
    assert!(is_job_id(&reply["job_id"]), "{reply}");
    assert_ne!(reply["job_id"], parent.as_str(), "{reply}");
    assert_eq!(reply["parent_job_id"], parent.as_str(), "{reply}");
    assert!(
        matches!(
            reply["status"].as_str(),
            Some("queued" | "running" | "done")
        ),
        "{reply}"
    );
    assert!(reply["pid"].is_i64() || reply["pid"].is_null(), "{reply}");
    let child = reply["job_id"].as_str().unwrap_or_default().to_string();

    let done = shim.poll_until_finished(&child);
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["final_message"], "second answer", "{done}");
    assert_eq!(done["thread_id"], thread_id.as_str(), "{done}");
    let listed = shim.ok("codex_list", json!({}));
    let child_cwd = listed["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["job_id"] == child.as_str()))
        .map(|j| j["cwd"].clone());
    assert_eq!(
        child_cwd,
        Some(json!(cwd)),
        "a reply runs where its parent ran"
    );

    // codex was asked to resume the thread (`thread/resume`).
    let raw = shim.ok("codex_poll", json!({"job_id": child, "tail_lines": 200}));
    let output = raw["output"].as_str().unwrap_or_default();
    assert!(
        output.contains(&format!("\"resume\": \"{thread_id}\"")),
        "the reply resumed thread {thread_id}: {output}"
    );

    // A reply to a job that still runs is refused, and says why.
    let running = shim.start(json!({"prompt": "hang", "cwd": cwd}));
    let refused = shim.call(
        "codex_reply",
        json!({"job_id": running, "prompt": "msg:too early"}),
    );
    assert!(refused.is_error, "{}", refused.text);
    assert!(
        refused.text.contains("running") || refused.text.contains("finish"),
        "{}",
        refused.text
    );
    shim.ok("codex_cancel", json!({"job_id": running}));
}

#[test]
fn codex_wait_returns_as_soon_as_the_job_ends() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();

    let job_id = shim.start(json!({"prompt": "sleep:1;msg:done", "cwd": cwd}));
    let begun = Instant::now();
    let waited = shim.ok_result(
        "codex_wait",
        json!({"job_id": job_id, "timeout_seconds": 50}),
    );
    let took = begun.elapsed();
    let result = &waited.structured;
    assert_eq!(result["status"], "done", "{result}");
    assert!(
        took < Duration::from_secs(20),
        "returned {took:?} after the start, not at the 50 s timeout"
    );
    assert_eq!(result["final_message"], "done", "{result}");

    // The same result as codex_result and codex_poll, the answer once.
    let later = shim.ok_result("codex_result", json!({"job_id": job_id}));
    let polled = shim.ok_result("codex_poll", json!({"job_id": job_id}));
    assert_eq!(later.text, waited.text);
    assert_eq!(polled.text, waited.text);
    assert_eq!(
        waited.text.matches("\ndone\n").count(),
        1,
        "{}",
        waited.text
    );

    // Waiting on a finished job answers at once.
    let again = shim.ok_result("codex_wait", json!({"job_id": job_id, "since": 0}));
    assert_eq!(again.text, waited.text);
}

#[test]
fn codex_wait_returns_at_its_timeout_while_the_job_runs() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();

    let job_id = shim.start(json!({"prompt": "hang", "cwd": cwd}));
    let begun = Instant::now();
    let (result, notifications) = shim.call_with_meta(
        "codex_wait",
        json!({"job_id": job_id, "timeout_seconds": 2}),
        json!({}),
    );
    let took = begun.elapsed();
    assert!(!result.is_error, "{}", result.text);
    assert_eq!(result.structured["status"], "running", "{}", result.text);
    assert_eq!(result.structured["final_message"], Value::Null);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "waited {took:?} for a 2 s timeout"
    );
    assert!(
        notifications.is_empty(),
        "no progress without a progressToken: {notifications:?}"
    );
    shim.ok("codex_cancel", json!({"job_id": job_id}));
}

#[test]
fn codex_wait_sends_progress_notifications_when_asked() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();

    let job_id = shim.start(json!({"prompt": "msg:working on it;hang", "cwd": cwd}));
    let (result, notifications) = shim.call_with_meta(
        "codex_wait",
        json!({"job_id": job_id, "timeout_seconds": 6}),
        json!({"progressToken": "wait-1"}),
    );
    assert!(!result.is_error, "{}", result.text);
    assert_eq!(result.structured["status"], "running", "{}", result.text);

    let progress: Vec<&Value> = notifications
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .collect();
    // One at once, then at least one heartbeat within 5 s.
    assert!(
        progress.len() >= 2,
        "expected progress at the start and at least every 5 s: {notifications:?}"
    );
    let mut last = -1.0;
    for notice in &progress {
        let params = &notice["params"];
        assert_eq!(params["progressToken"], "wait-1", "{notice}");
        assert_eq!(params["total"].as_f64(), Some(6.0), "{notice}");
        let value = params["progress"].as_f64().unwrap_or(-1.0);
        assert!(value > last && value <= 6.0, "progress grows: {progress:?}");
        last = value;
        assert!(
            params["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{notice}"
        );
    }
    shim.ok("codex_cancel", json!({"job_id": job_id}));

    // A numeric token works as well, and a job that ends stops the wait.
    let job_id = shim.start(json!({"prompt": "sleep:1;msg:finished", "cwd": cwd}));
    let (result, notifications) = shim.call_with_meta(
        "codex_wait",
        json!({"job_id": job_id, "timeout_seconds": 40}),
        json!({"progressToken": 7}),
    );
    assert_eq!(result.structured["status"], "done", "{}", result.text);
    assert!(
        notifications
            .iter()
            .all(|n| n["params"]["progressToken"] == 7),
        "{notifications:?}"
    );
}

/// A git repository with one commit, in `dir`.
fn git_repo(dir: &Path) {
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
            .args(args)
            .current_dir(dir)
            .status()
            .expect("run git");
        assert!(status.success(), "git {args:?} failed");
    };
    git(&["init", "-q", "-b", "main"]);
    fs::write(dir.join("README.md"), "hello\n").expect("write README");
    git(&["add", "README.md"]);
    git(&["commit", "-q", "-m", "initial"]);
}

#[test]
fn worktree_isolation_keeps_parallel_jobs_apart() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let repo = home.workdir();
    git_repo(&repo);
    let cwd = repo.display().to_string();
    // Work the user has not committed is not in a worktree: the start says so.
    fs::write(repo.join("scratch.txt"), "wip\n").expect("write scratch");

    let mut jobs = Vec::new();
    for name in ["one", "two"] {
        let started = shim.ok(
            "codex_start",
            json!({
                "prompt": format!("patch:README.md;msg:edited by {name}"),
                "cwd": cwd,
                "approval_policy": "auto-edit",
                "isolation": "worktree",
            }),
        );
        let job_id = started["job_id"].as_str().unwrap_or_default().to_string();
        assert_eq!(
            started["branch"],
            format!("codex/{job_id}").as_str(),
            "{started}"
        );
        let worktree = started["worktree"].as_str().unwrap_or_default().to_string();
        assert!(Path::new(&worktree).is_dir(), "{started}");
        assert_ne!(worktree, cwd, "{started}");
        assert!(
            started["note"]
                .as_str()
                .is_some_and(|n| n.contains("without the 1 uncommitted change(s) in")
                    && n.contains("(scratch.txt); commit them for codex to see them")),
            "{started}"
        );
        jobs.push((job_id, worktree));
    }
    assert_ne!(jobs[0].1, jobs[1].1, "each job has its own worktree");

    for (job_id, worktree) in &jobs {
        shim.poll_until_finished(job_id);
        let result = shim.ok("codex_result", json!({"job_id": job_id}));
        assert_eq!(result["status"], "done", "{result}");
        assert_eq!(
            result["branch"],
            format!("codex/{job_id}").as_str(),
            "{result}"
        );
        assert_eq!(result["worktree"], worktree.as_str(), "{result}");
        assert!(
            result["diffstat"]
                .as_str()
                .is_some_and(|d| d.contains("README.md")),
            "{result}"
        );
        // Each worktree got exactly its own job's change.
        let readme = fs::read_to_string(Path::new(worktree).join("README.md")).unwrap_or_default();
        assert_eq!(readme, "hello\npatched\n", "{worktree}");
    }
    // The repository the user works in is untouched.
    let readme = fs::read_to_string(repo.join("README.md")).unwrap_or_default();
    assert_eq!(readme, "hello\n");
}

#[test]
fn watchdog_arguments_reach_codexd() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();

    // Silent for longer than the stall timeout: error "stalled".
    let stalled = shim.start(json!({"prompt": "hang", "cwd": cwd, "stall_timeout_seconds": 1}));
    // Busy, but past its max duration: error "timed_out".
    let timed_out = shim.start(json!({
        "prompt": "print:a;sleep:0.4;print:b;sleep:0.4;print:c;sleep:0.4;print:d;sleep:0.4;print:e;hang",
        "cwd": cwd,
        "max_duration_seconds": 1,
    }));
    for (job_id, reason) in [(stalled, "stalled"), (timed_out, "timed_out")] {
        let done = shim.poll_until_finished(&job_id);
        assert_eq!(done["status"], "error", "{done}");
        assert!(
            done["error"]
                .as_str()
                .is_some_and(|e| e.starts_with(reason)),
            "{reason}: {done}"
        );
    }
}

#[test]
fn other_calls_are_answered_while_a_wait_is_pending() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();

    let job_id = shim.start(json!({"prompt": "hang", "cwd": cwd}));
    let begun = Instant::now();
    let wait = shim.send_call(
        "codex_wait",
        json!({"job_id": job_id, "timeout_seconds": 5}),
    );
    // Answered while the wait is still waiting (its answer is read below).
    let listed = shim.ok("codex_list", json!({}));
    assert!(
        begun.elapsed() < Duration::from_secs(4),
        "codex_list waited for codex_wait: {:?}",
        begun.elapsed()
    );
    assert_eq!(listed["jobs"][0]["job_id"], job_id.as_str(), "{listed}");
    let waited = shim.call_result(wait);
    assert_eq!(waited.structured["status"], "running", "{}", waited.text);
    assert!(begun.elapsed() >= Duration::from_secs(5));
    shim.ok("codex_cancel", json!({"job_id": job_id}));
}
