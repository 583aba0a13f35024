//! Unknown arguments are refused by every tool, creating nothing; and
//! codex_wait with `job_ids` returns at the first of several jobs to end.
//! A real shim, a real `codexd serve`, the fake codex.

mod common;

use std::fs;

use common::{serve_daemon, Shim, NO_AUTOSTART};
use serde_json::{json, Value};
use testkit::{wait_until, TempHome};

/// A `tools/call` answer as the model reads it: isError and the first text.
fn answer(message: &Value) -> (bool, String) {
    let result = message
        .get("result")
        .unwrap_or_else(|| panic!("tools/call answered with a JSON-RPC error: {message}"));
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {message}"))
        .to_string();
    (result["isError"] == json!(true), text)
}

/// Calls a tool; its isError and text, whatever shape the text has.
fn call(shim: &mut Shim, tool: &str, arguments: Value) -> (bool, String) {
    let message = shim.request("tools/call", json!({"name": tool, "arguments": arguments}));
    answer(&message)
}

/// Calls a tool that must fail; its error text.
fn refused(shim: &mut Shim, tool: &str, arguments: Value) -> String {
    let (is_error, text) = call(shim, tool, arguments.clone());
    assert!(
        is_error,
        "{tool}({arguments}) should fail, answered: {text}"
    );
    text
}

/// What the refusal of an unknown argument says a tool takes, from the
/// tool's input schema as `tools/list` shows it: the required arguments
/// first, in order, then the others by name.
fn takes(tools: &[Value], tool: &str) -> String {
    let schema = &tools
        .iter()
        .find(|t| t["name"] == tool)
        .unwrap_or_else(|| panic!("no tool {tool}"))["inputSchema"];
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut optional: Vec<&str> = schema["properties"]
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    optional.retain(|name| !required.contains(name));
    optional.sort_unstable();
    let mut names: Vec<String> = required.iter().map(|r| format!("{r} (required)")).collect();
    names.extend(optional.iter().map(|o| o.to_string()));
    names.join(", ")
}

/// The job ids codex_list shows.
fn listed(shim: &mut Shim) -> Vec<String> {
    let list = shim.ok("codex_list", json!({}));
    list["jobs"]
        .as_array()
        .map(|jobs| {
            jobs.iter()
                .filter_map(|j| j["job_id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_tool_refuses_an_unknown_argument_naming_it_and_does_nothing() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();
    let tools_list = shim.request("tools/list", json!({}));
    let tools = tools_list["result"]["tools"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no tools in {tools_list}"));

    // Tools that would create a job: nothing is created.
    let text = refused(
        &mut shim,
        "codex_start",
        json!({"prompt": "print:x", "cwd": cwd, "aproval_policy": "full-auto"}),
    );
    assert_eq!(
        text,
        format!(
            "aproval_policy: no such argument of codex_start (did you mean approval_policy?); \
             it takes {}. Nothing was done.",
            takes(&tools, "codex_start")
        )
    );
    assert!(
        text.contains("it takes prompt (required), cwd (required), agent, approval_policy, "),
        "{text}"
    );
    let text = refused(
        &mut shim,
        "codex_reply",
        json!({"job_id": "000000000000", "prompt": "go on", "modle": "gpt-5.5"}),
    );
    assert_eq!(
        text,
        format!(
            "modle: no such argument of codex_reply (did you mean model?); it takes {}. \
             Nothing was done.",
            takes(&tools, "codex_reply")
        )
    );
    assert_eq!(listed(&mut shim), Vec::<String>::new());
    let folders: Vec<_> = fs::read_dir(home.paths().jobs())
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        folders.is_empty(),
        "an unknown argument created {folders:?}"
    );

    // Tools on a running job: the job is untouched.
    let go = home.root().join("go");
    let job = shim.start(json!({
        "prompt": format!("msg:working;waitfile:{};msg:finished", go.display()),
        "cwd": cwd,
    }));
    let cases = [
        (
            "codex_result",
            json!({"job": job}),
            "job: no such argument of codex_result (did you mean job_id?); it takes job_id \
             (required), format. Nothing was done.",
        ),
        (
            "codex_list",
            json!({"limt": 5}),
            "limt: no such argument of codex_list (did you mean limit?); it takes limit, \
             status. Nothing was done.",
        ),
        (
            "codex_poll",
            json!({"job_id": job, "tail": 5}),
            "tail: no such argument of codex_poll (did you mean tail_lines?); it takes job_id \
             (required), since, tail_lines. Nothing was done.",
        ),
        (
            "codex_wait",
            json!({"job_id": job, "timeout": 5, "jobs": [job]}),
            // Named in the order the JSON object keeps them (serde_json sorts keys).
            "jobs, timeout: no such arguments of codex_wait (did you mean job_ids for jobs, \
             timeout_seconds for timeout?); it takes job_id, job_ids, since, timeout_seconds. \
             Nothing was done.",
        ),
        (
            "codex_cancel",
            json!({"job_id": job, "force": true}),
            "force: no such argument of codex_cancel; it takes job_id (required). Nothing was \
             done.",
        ),
    ];
    for (tool, arguments, expected) in cases {
        let text = refused(&mut shim, tool, arguments);
        assert_eq!(text, expected, "{tool}");
        assert_eq!(
            text.split(" it takes ").nth(1),
            Some(format!("{}. Nothing was done.", takes(&tools, tool)).as_str()),
            "{tool} lists its schema's arguments"
        );
    }
    let polled = shim.ok("codex_poll", json!({"job_id": job}));
    assert_eq!(
        polled["status"], "running",
        "codex_cancel(force) stopped it"
    );
    assert_eq!(listed(&mut shim), vec![job.clone()]);

    // The same arguments, spelt right, work.
    fs::write(&go, "").expect("write go file");
    let (is_error, text) = call(
        &mut shim,
        "codex_wait",
        json!({"job_id": job, "timeout_seconds": 50}),
    );
    assert!(!is_error, "{text}");
    assert!(text.starts_with(&format!("Codex job {job} done")), "{text}");
}

/// A job that says `working-<name>` and then waits for `<root>/<name>` to
/// exist before answering `finished-<name>`.
fn gated_job(shim: &mut Shim, home: &TempHome, name: &str) -> String {
    let gate = home.root().join(name);
    shim.start(json!({
        "prompt": format!("msg:working-{name};waitfile:{};msg:finished-{name}", gate.display()),
        "cwd": home.workdir().display().to_string(),
    }))
}

fn open_gate(home: &TempHome, name: &str) {
    fs::write(home.root().join(name), "").expect("write gate file");
}

/// Waits until `job` runs and has said its first message.
fn wait_running(shim: &mut Shim, job: &str) {
    wait_until(&format!("job {job} to be running"), || {
        let polled = shim.ok("codex_poll", json!({"job_id": job}));
        polled["status"] == "running"
            && polled["activity"]
                .as_str()
                .is_some_and(|a| a.starts_with("said: working-"))
    });
}

/// The lines of a fan-out answer up to the blank line, and the rest.
fn split_answer(text: &str) -> (Vec<&str>, &str) {
    let (head, result) = text
        .split_once("\n\n")
        .unwrap_or_else(|| panic!("no blank line before the result: {text}"));
    (head.lines().collect(), result)
}

/// Asserts `line` is `<id> <status> <elapsed>` and nothing else.
fn assert_status_line(line: &str, id: &str, status: &str) {
    let rest = line
        .strip_prefix(&format!("{id} {status} "))
        .unwrap_or_else(|| panic!("{line:?} is not a status line of {id} {status}"));
    // The header's durations: "9 s", "1m05s", "2h03m".
    let elapsed = rest.strip_suffix(" s").unwrap_or(rest);
    assert!(
        !elapsed.is_empty()
            && elapsed
                .chars()
                .all(|c| c.is_ascii_digit() || "mhs".contains(c)),
        "{line:?} ends with the elapsed time alone"
    );
}

#[test]
fn codex_wait_on_three_jobs_returns_at_the_first_to_end() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let a = gated_job(&mut shim, &home, "a");
    let b = gated_job(&mut shim, &home, "b");
    let c = gated_job(&mut shim, &home, "c");
    for job in [&a, &b, &c] {
        wait_running(&mut shim, job);
    }
    let ids = json!([a, b, c]);

    // None ends: at the timeout, one line each, with progress meanwhile.
    let id = shim.send_request(
        "tools/call",
        json!({
            "name": "codex_wait",
            "arguments": {"job_ids": ids, "timeout_seconds": 2},
            "_meta": {"progressToken": "fan-out"},
        }),
    );
    let (message, notifications) = shim.response_and_notifications(id);
    let (is_error, text) = answer(&message);
    assert!(!is_error, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "None of the 3 jobs ended within 2 s; call codex_wait again with the same job_ids."
    );
    assert_eq!(lines.len(), 4, "{text}");
    for (line, (job, name)) in lines[1..].iter().zip([(&a, "a"), (&b, "b"), (&c, "c")]) {
        assert!(
            line.starts_with(&format!("{job} running ")),
            "{line:?} in {text}"
        );
        assert!(
            line.ends_with(&format!(": said: working-{name}")),
            "{line:?} in {text}"
        );
    }
    let progress: Vec<&str> = notifications
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .filter_map(|n| n["params"]["message"].as_str())
        .collect();
    assert!(!progress.is_empty(), "no progress: {notifications:?}");
    for message in &progress {
        assert!(
            message.starts_with("3 running; latest ") && message.contains(": said: working-"),
            "{message:?}"
        );
    }

    // b ends while the wait runs: it returns naming b, with b's result.
    let id = shim.send_request(
        "tools/call",
        json!({"name": "codex_wait", "arguments": {"job_ids": ids, "timeout_seconds": 50}}),
    );
    open_gate(&home, "b");
    let (is_error, text) = answer(&shim.response(id));
    assert!(!is_error, "{text}");
    let (head, result) = split_answer(&text);
    assert_eq!(head[0], format!("First of 3 jobs to end: {b}. The others:"));
    assert_eq!(head.len(), 4, "{text}");
    assert!(head[1].starts_with(&format!("{a} running ")), "{text}");
    assert!(!head[1].contains(':'), "no activity: {text}");
    assert!(head[2].starts_with(&format!("{c} running ")), "{text}");
    assert_eq!(
        head[3],
        format!("Wait for the rest: codex_wait(job_ids=[\"{a}\", \"{c}\"]).")
    );
    let (_, own) = call(&mut shim, "codex_result", json!({"job_id": b}));
    assert_eq!(result, own, "b's one rendering follows");
    assert!(
        result.starts_with(&format!("Codex job {b} done (exit 0")),
        "{result}"
    );
    assert!(result.contains("\nfinished-b\n"), "{result}");
    // For a program: every field as JSON.
    let (is_error, doc) = call(
        &mut shim,
        "codex_result",
        json!({"job_id": b, "format": "json"}),
    );
    assert!(!is_error, "{doc}");
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
    assert_eq!(doc["job"]["job_id"], b.as_str(), "{doc}");
    assert_eq!(doc["job"]["status"], "done", "{doc}");
    assert_eq!(doc["summary"]["final_message"], "finished-b", "{doc}");
    assert!(doc["summary"].get("final_json").is_some(), "{doc}");
    let (is_error, text) = call(
        &mut shim,
        "codex_result",
        json!({"job_id": b, "format": "yaml"}),
    );
    assert!(is_error);
    assert!(
        text.starts_with("format: unknown value \"yaml\"; use \"text\""),
        "{text}"
    );

    // b had already ended and c ends too: at once, b first, saying both did.
    open_gate(&home, "c");
    wait_until("job c to end", || {
        let (_, text) = call(&mut shim, "codex_result", json!({"job_id": c}));
        text.starts_with(&format!("Codex job {c} done"))
    });
    let (is_error, text) = call(&mut shim, "codex_wait", json!({"job_ids": ids}));
    assert!(!is_error, "{text}");
    let (head, result) = split_answer(&text);
    assert_eq!(
        head[0],
        format!(
            "2 of 3 jobs have ended, {b} first (codex_result gives the others' results). The \
             others:"
        )
    );
    assert!(head[1].starts_with(&format!("{a} running ")), "{text}");
    assert_status_line(head[2], &c, "done");
    assert_eq!(
        head[3],
        format!("Wait for the rest: codex_wait(job_ids=[\"{a}\"]).")
    );
    assert_eq!(head.len(), 4, "{text}");
    assert!(
        result.starts_with(&format!("Codex job {b} done")),
        "{result}"
    );

    // One id in the list is the one-job wait.
    let (_, single) = call(&mut shim, "codex_wait", json!({"job_ids": [c]}));
    let (_, own) = call(&mut shim, "codex_result", json!({"job_id": c}));
    assert_eq!(single, own);

    open_gate(&home, "a");
    let (is_error, text) = call(
        &mut shim,
        "codex_wait",
        json!({"job_id": a, "timeout_seconds": 50}),
    );
    assert!(
        !is_error && text.starts_with(&format!("Codex job {a} done")),
        "{text}"
    );
}

#[test]
fn bad_job_ids_are_exact_errors_and_create_nothing() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();
    let done = shim.start(json!({"prompt": "print:x", "cwd": cwd}));
    shim.poll_until_finished(&done);

    let hint = "pass the job ids codex_start returned, e.g. [\"0123456789ab\", \
                \"fedcba987654\"] (codex_list shows recent ones)";
    let many: Vec<String> = (0..21).map(|i| format!("{i:012x}")).collect();
    let cases: Vec<(Value, String)> = vec![
        (
            // An unknown id is an error even beside a job that has ended.
            json!({"job_ids": [done, "000000000000"]}),
            "job_ids: no job 000000000000; list existing jobs with codex_list (finished jobs \
             are kept until pruned)"
                .into(),
        ),
        (
            json!({"job_ids": []}),
            format!("job_ids: is empty; {hint}, 1 to 20 of them"),
        ),
        (
            json!({"job_ids": many}),
            "job_ids: lists 21 jobs, at most 20 can be waited for at once; pass 20 or fewer \
             (the ones you need first)"
                .into(),
        ),
        (
            json!({"job_id": done, "job_ids": [done, "000000000000"]}),
            "job_id, job_ids: pass one of them, not both: job_id to wait for one job, job_ids \
             for the first of several to end"
                .into(),
        ),
        (
            json!({"timeout_seconds": 5}),
            "job_id, job_ids: missing; pass the job_id that codex_start returned (codex_list \
             shows recent ones), or job_ids (a list of 1 to 20) to wait for the first of \
             several to end"
                .into(),
        ),
        (
            json!({"job_ids": [done, 7]}),
            format!("job_ids: item 2 is 7, not a job id string; {hint}"),
        ),
        (
            json!({"job_ids": [done, "000000000000"], "since": 0}),
            "since: a cursor belongs to one job; pass it with job_id, or leave it out with \
             job_ids"
                .into(),
        ),
    ];
    for (arguments, expected) in cases {
        let text = refused(&mut shim, "codex_wait", arguments.clone());
        assert_eq!(text, expected, "{arguments}");
    }
    assert_eq!(listed(&mut shim), vec![done]);
    let folders = fs::read_dir(home.paths().jobs())
        .map(|dir| dir.count())
        .unwrap_or_default();
    assert_eq!(folders, 1, "only the one job's folder");
}
