//! Jobs as MCP tasks (the Tasks extension of revision 2026-07-28), over the
//! shim's stdio as interactive Claude Code speaks it: a real shim, a real
//! `codexd serve`, the fake codex. A steering (codex_reply on a running job)
//! keeps the job's task, whose result shows it.

mod common;

use std::fs;

use common::{is_job_id, serve_daemon, Shim, NO_AUTOSTART};
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use testkit::{pid_alive, wait_until, TempHome};

/// A `tools/call` answered with a task handle: the handle.
fn start_task(shim: &mut Shim, arguments: Value) -> Value {
    let answer = shim.request(
        "tools/call",
        json!({"name": "codex_start", "arguments": arguments}),
    );
    let handle = answer["result"].clone();
    assert_eq!(handle["resultType"], "task", "{answer}");
    assert!(
        is_job_id(&handle["taskId"]),
        "the task id is the job id: {handle}"
    );
    assert_eq!(handle["status"], "working", "{handle}");
    assert!(handle["createdAt"].is_string(), "{handle}");
    assert!(handle["lastUpdatedAt"].is_string(), "{handle}");
    let interval = handle["pollIntervalMs"].as_u64().unwrap_or(0);
    assert!((250..=1000).contains(&interval), "{handle}");
    handle
}

/// `tasks/get` until the task is no longer working; returns the last answer.
fn until_settled(shim: &mut Shim, task_id: &str) -> Value {
    let mut last = Value::Null;
    wait_until(&format!("task {task_id} to settle"), || {
        let answer = shim.request("tasks/get", json!({"taskId": task_id}));
        last = answer["result"].clone();
        assert!(last.is_object(), "tasks/get failed: {answer}");
        last["status"] != "working"
    });
    last
}

fn result_text(task: &Value) -> String {
    task["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_task_goes_from_working_to_completed_with_codexs_answer() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn_modern(&home, NO_AUTOSTART, true);
    let discovered = shim.request("server/discover", json!({}));
    assert!(
        discovered["result"]["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"]
            .is_object(),
        "the server declares the extension: {discovered}"
    );
    let go = home.root().join("go");
    let cwd = home.workdir().display().to_string();
    let handle = start_task(
        &mut shim,
        json!({"prompt": format!("cmd:make=0;waitfile:{};msg:The answer is 42", go.display()), "cwd": cwd}),
    );
    let task_id = handle["taskId"].as_str().unwrap_or_default().to_string();

    // Working while codex runs, saying what it does.
    let mut working = Value::Null;
    wait_until("the task to say what codex does", || {
        working = shim.request("tasks/get", json!({"taskId": task_id}))["result"].clone();
        working["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("make"))
    });
    assert_eq!(working["status"], "working", "{working}");
    assert!(working.get("result").is_none(), "{working}");

    fs::write(&go, "").expect("go");
    let done = until_settled(&mut shim, &task_id);
    assert_eq!(done["status"], "completed", "{done}");
    assert_ne!(done["result"]["isError"], true, "{done}");
    let text = result_text(&done);
    assert!(
        text.starts_with(&format!("Codex job {task_id} done (exit 0")),
        "{text}"
    );
    assert_eq!(text.matches("The answer is 42").count(), 1, "{text}");
    assert!(text.contains("`make` ok"), "{text}");
    assert!(
        done["result"].get("structuredContent").is_none(),
        "text only: {done}"
    );
    assert!(
        done["ttlMs"].as_u64().is_some_and(|t| t > 86_400_000),
        "{done}"
    );

    // The same job through the job-id tools: the same one rendering.
    let result = shim.ok_result("codex_result", json!({"job_id": task_id}));
    assert_eq!(result.text, text);
}

#[test]
fn a_steering_keeps_the_same_task_and_its_result_shows_it() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn_modern(&home, NO_AUTOSTART, true);
    let go = home.root().join("go");
    let cwd = home.workdir().display().to_string();
    let handle = start_task(
        &mut shim,
        json!({"prompt": format!("msg:working;waitfile:{};msg:done", go.display()), "cwd": cwd}),
    );
    let task_id = handle["taskId"].as_str().unwrap_or_default().to_string();
    wait_until("the task's turn to start", || {
        let polled = shim.ok("codex_poll", json!({"job_id": task_id}));
        polled["events"]
            .as_str()
            .is_some_and(|e| e.contains("message: working"))
    });

    // codex_reply on the running job steers it: answered at once, no new task.
    let answer = shim.request(
        "tools/call",
        json!({"name": "codex_reply", "arguments": {"job_id": task_id, "prompt": "look at src/ only"}}),
    );
    let result = &answer["result"];
    assert_ne!(result["resultType"], "task", "no new task: {answer}");
    assert_ne!(result["isError"], true, "{answer}");
    assert_eq!(
        result["structuredContent"]["job_id"],
        task_id.as_str(),
        "{answer}"
    );
    assert!(
        result["structuredContent"]["steered"]
            .as_str()
            .is_some_and(|s| s.starts_with("codex has it")),
        "{answer}"
    );
    let still = shim.request("tasks/get", json!({"taskId": task_id}));
    assert_eq!(still["result"]["status"], "working", "{still}");

    fs::write(&go, "").expect("go");
    let done = until_settled(&mut shim, &task_id);
    assert_eq!(done["status"], "completed", "{done}");
    let text = result_text(&done);
    assert!(text.contains("Steered: look at src/ only"), "{text}");
}

#[test]
fn a_failed_job_is_a_completed_task_whose_result_is_an_error() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn_modern(&home, NO_AUTOSTART, true);
    let cwd = home.workdir().display().to_string();
    let handle = start_task(
        &mut shim,
        json!({"prompt": "cmd:cargo test=101;exit:3", "cwd": cwd}),
    );
    let task_id = handle["taskId"].as_str().unwrap_or_default().to_string();
    let done = until_settled(&mut shim, &task_id);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["isError"], true, "{done}");
    let text = result_text(&done);
    assert!(text.contains("error (exit 3"), "{text}");
    assert!(text.contains("`cargo test` exit 101"), "{text}");
}

#[test]
fn tasks_cancel_stops_codex_and_everything_it_started() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn_modern(&home, NO_AUTOSTART, true);
    let cwd = home.workdir().display().to_string();
    let handle = start_task(&mut shim, json!({"prompt": "grandchild;hang", "cwd": cwd}));
    let task_id = handle["taskId"].as_str().unwrap_or_default().to_string();

    // The grandchild (its own session, ignoring SIGTERM and SIGINT) says its pid.
    let mut grandchild = 0;
    wait_until("the grandchild to start", || {
        let raw = shim.ok("codex_poll", json!({"job_id": task_id, "tail_lines": 50}));
        grandchild = raw["output"]
            .as_str()
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["type"] == "fake.grandchild")
            .and_then(|e| e["pid"].as_i64())
            .unwrap_or(0) as i32;
        grandchild > 0
    });
    let newest = shim.ok("codex_list", json!({}))["jobs"][0]["job_id"].clone();
    assert_eq!(
        newest,
        json!(task_id),
        "the task is the job codex_list shows"
    );

    let ack = shim.request("tasks/cancel", json!({"taskId": task_id}));
    assert_eq!(ack["result"], json!({"resultType": "complete"}), "{ack}");
    let settled = until_settled(&mut shim, &task_id);
    assert_eq!(settled["status"], "cancelled", "{settled}");
    wait_until("the grandchild to be gone", || !pid_alive(grandchild));

    // Cancelling again (or an unknown or malformed task) is acknowledged and changes nothing.
    for id in [task_id.as_str(), "0123456789ab", "not-a-task"] {
        let again = shim.request("tasks/cancel", json!({"taskId": id}));
        assert_eq!(again["result"]["resultType"], "complete", "{again}");
    }
    let still = shim.request("tasks/get", json!({"taskId": task_id}));
    assert_eq!(still["result"]["status"], "cancelled", "{still}");
    // What Claude Code shows ("Task cancelled: …"): what the job got done.
    let message = still["result"]["statusMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.starts_with("cancelled after ")
            && message.ends_with(": before Codex ran a command or changed a file"),
        "{still}"
    );
}

#[test]
fn any_shim_answers_for_any_task_and_bad_ids_are_invalid_params() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut first = Shim::spawn_modern(&home, NO_AUTOSTART, true);
    let cwd = home.workdir().display().to_string();
    let handle = start_task(
        &mut first,
        json!({"prompt": "msg:from the first", "cwd": cwd}),
    );
    let task_id = handle["taskId"].as_str().unwrap_or_default().to_string();
    drop(first);

    // Claude Code restarted the shim: a new process knows the task.
    let mut second = Shim::spawn_modern(&home, NO_AUTOSTART, true);
    let done = until_settled(&mut second, &task_id);
    assert_eq!(done["status"], "completed", "{done}");
    assert!(result_text(&done).contains("from the first"), "{done}");

    for (id, what) in [("0123456789ab", "unknown"), ("../etc/passwd", "malformed")] {
        let answer = second.request("tasks/get", json!({"taskId": id}));
        assert_eq!(answer["error"]["code"], -32602, "{what}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("taskId")),
            "{what}: {answer}"
        );
    }
    // An answer to a question the job does not ask (it has ended) is the
    // extension's invalid-params error naming the key, with codexd's reason.
    let update = second.request(
        "tasks/update",
        json!({"taskId": task_id, "inputResponses": {
            "q1": {"action": "accept", "content": {"decision": "allow"}}
        }}),
    );
    assert_eq!(update["error"]["code"], -32602, "{update}");
    assert!(
        update["error"]["message"].as_str().is_some_and(|m| m
            .starts_with(&format!("inputResponses[\"q1\"] of task {task_id}: "))
            && m.contains("has ended")),
        "{update}"
    );
    // A form put away for later changes nothing; an unknown task is refused.
    let later = second.request(
        "tasks/update",
        json!({"taskId": task_id, "inputResponses": {"q1": {"action": "cancel"}}}),
    );
    assert!(later.get("error").is_none(), "{later}");
    let unknown = second.request(
        "tasks/update",
        json!({"taskId": "0123456789ab", "inputResponses": {"q1": {"action": "decline"}}}),
    );
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
}

#[test]
fn a_running_task_that_asks_nothing_refuses_an_answer_and_keeps_working() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn_modern(&home, NO_AUTOSTART, true);
    let cwd = home.workdir().display().to_string();
    let go = home.root().join("go");
    let handle = start_task(
        &mut shim,
        json!({
            "prompt": format!("waitfile:{};msg:answered nothing", go.display()),
            "cwd": cwd,
            "approval_policy": "auto-edit",
        }),
    );
    let task_id = handle["taskId"].as_str().unwrap_or_default().to_string();
    let update = shim.request(
        "tasks/update",
        json!({"taskId": task_id, "inputResponses": {"q1": {"action": "decline"}}}),
    );
    assert_eq!(update["error"]["code"], -32602, "{update}");
    assert!(
        update["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("asks nothing now")),
        "{update}"
    );
    let bad = shim.request(
        "tasks/update",
        json!({"taskId": task_id, "inputResponses": {"q1": {"action": "accept"}}}),
    );
    assert!(
        bad["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("accepted without a decision")),
        "{bad}"
    );
    let task = shim.request("tasks/get", json!({"taskId": task_id}));
    assert_eq!(task["result"]["status"], "working", "{task}");
    fs::write(&go, "").expect("go");
    let done = until_settled(&mut shim, &task_id);
    assert_eq!(done["status"], "completed", "{done}");
    assert!(result_text(&done).contains("answered nothing"), "{done}");
}

#[test]
fn a_task_survives_codexd_killed_and_completes_with_the_true_exit_code() {
    let home = TempHome::new();
    let daemon = serve_daemon(&home);
    let mut shim = Shim::spawn_modern(&home, NO_AUTOSTART, true);
    let cwd = home.workdir().display().to_string();
    let go = home.root().join("go");
    let handle = start_task(
        &mut shim,
        json!({"prompt": format!("waitfile:{};msg:late;exit:5", go.display()), "cwd": cwd}),
    );
    let task_id = handle["taskId"].as_str().unwrap_or_default().to_string();

    daemon.signal(Signal::SIGKILL);
    let _ = daemon.wait();
    fs::write(&go, "").expect("go");
    let _restarted = serve_daemon(&home);
    let done = until_settled(&mut shim, &task_id);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["isError"], true, "{done}");
    assert!(result_text(&done).contains("error (exit 5"), "{done}");
}

#[test]
fn without_the_extension_or_with_task_answers_off_a_start_is_the_job_record() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let cwd = home.workdir().display().to_string();
    // A 2025-11-25 session that names the extension at initialize (as the
    // MCP Inspector 2.12 does) still reads a task handle as a tool result.
    let mut legacy_with_tasks = Shim::spawn_uninitialized(&home, NO_AUTOSTART);
    let init = legacy_with_tasks.request(
        "initialize",
        json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}},
            "clientInfo": {"name": "inspector-like", "version": "0"}
        }),
    );
    assert!(init.get("result").is_some(), "{init}");
    legacy_with_tasks.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    // A 2026-07-28 client without tasks (claude -p), and a legacy session.
    for mut shim in [
        Shim::spawn_modern(&home, NO_AUTOSTART, false),
        Shim::spawn(&home, NO_AUTOSTART),
        legacy_with_tasks,
    ] {
        let started = shim.ok("codex_start", json!({"prompt": "msg:hi", "cwd": cwd}));
        assert!(is_job_id(&started["job_id"]), "{started}");
        assert!(started.get("taskId").is_none(), "{started}");
    }
}

#[test]
fn task_answers_off_gives_job_ids_to_task_clients() {
    let home = TempHome::new();
    let _daemon = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(testkit::Daemon::start_with(
            &home,
            &[("CODEX_ASYNC_TASK_ANSWERS", "off".to_string())],
        ));
    let mut shim = Shim::spawn_modern(&home, NO_AUTOSTART, true);
    let cwd = home.workdir().display().to_string();
    let started = shim.ok("codex_start", json!({"prompt": "msg:hi", "cwd": cwd}));
    assert!(is_job_id(&started["job_id"]), "{started}");
}

/// `lastUpdatedAt` of a task, as a time.
fn last_updated(task: &Value) -> chrono::DateTime<chrono::Utc> {
    task["lastUpdatedAt"]
        .as_str()
        .and_then(codex_async_proto::job_result::parse_time)
        .unwrap_or_else(|| panic!("lastUpdatedAt is not an RFC 3339 time: {task}"))
}

#[test]
fn a_working_tasks_last_update_moves_as_codex_goes_on() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn_modern(&home, NO_AUTOSTART, true);
    let cwd = home.workdir().display().to_string();
    let (go, end) = (home.root().join("go"), home.root().join("end"));
    let handle = start_task(
        &mut shim,
        json!({
            "prompt": format!(
                "cmd:make=0;waitfile:{};cmd:cargo test=0;waitfile:{}",
                go.display(),
                end.display()
            ),
            "cwd": cwd,
        }),
    );
    let task_id = handle["taskId"].as_str().unwrap_or_default().to_string();
    let get =
        |shim: &mut Shim| shim.request("tasks/get", json!({"taskId": task_id}))["result"].clone();

    let mut first = Value::Null;
    wait_until("codex to run make", || {
        first = get(&mut shim);
        first["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("make"))
    });
    assert!(last_updated(&first) >= last_updated(&handle), "{first}");

    // codex goes on (and waits again): its progress is the task's change.
    fs::write(&go, "").expect("go");
    let mut later = Value::Null;
    wait_until("codex to run cargo test", || {
        later = get(&mut shim);
        later["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("cargo test"))
    });
    assert_eq!(later["status"], "working", "{later}");
    assert!(
        last_updated(&later) > last_updated(&first),
        "lastUpdatedAt stood still while codex worked: {first} then {later}"
    );

    fs::write(&end, "").expect("end");
    let done = until_settled(&mut shim, &task_id);
    assert_eq!(done["status"], "completed", "{done}");
    assert!(last_updated(&done) >= last_updated(&later), "{done}");
}
