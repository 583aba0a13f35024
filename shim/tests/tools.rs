//! The tools end to end: a real shim, a real `codexd serve`, the fake codex.
//! (Events, results, replies, waiting and worktrees: `events.rs`.)

mod common;

use common::{is_job_id, serve_daemon, Shim, NO_AUTOSTART};
use serde_json::{json, Value};
use testkit::TempHome;

#[test]
fn tools_list_shows_the_tools_with_input_and_output_schemas() {
    let home = TempHome::new();
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let response = shim.request("tools/list", json!({}));
    let tools = response["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {response}"));
    let mut names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "codex_answer",
            "codex_cancel",
            "codex_list",
            "codex_poll",
            "codex_reply",
            "codex_result",
            "codex_review",
            "codex_start",
            "codex_wait"
        ]
    );

    let tool = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let required = |name: &str| tool(name)["inputSchema"]["required"].clone();
    assert_eq!(required("codex_start"), json!(["prompt", "cwd"]));
    assert_eq!(required("codex_poll"), json!(["job_id"]));
    assert_eq!(required("codex_cancel"), json!(["job_id"]));
    assert_eq!(required("codex_list"), Value::Null);
    // job_id or job_ids, exactly one: checked by the shim, not the schema.
    assert_eq!(required("codex_wait"), Value::Null);
    assert_eq!(required("codex_result"), json!(["job_id"]));
    assert_eq!(required("codex_reply"), json!(["job_id", "prompt"]));
    assert_eq!(required("codex_review"), json!(["cwd"]));
    // decision or answer, exactly one: checked by the shim, not the schema.
    assert_eq!(required("codex_answer"), json!(["job_id"]));

    let start = tool("codex_start");
    let props = &start["inputSchema"]["properties"];
    assert_eq!(props["approval_policy"]["default"], "suggest");
    assert_eq!(
        props["approval_policy"]["enum"],
        json!(["suggest", "auto-edit", "ask", "full-auto"])
    );
    assert!(props["model"].is_object(), "{start}");
    assert_eq!(props["isolation"]["enum"], json!(["none", "worktree"]));
    assert_eq!(props["isolation"]["default"], "none");
    assert!(props["stall_timeout_seconds"].is_object(), "{start}");
    assert!(props["max_duration_seconds"].is_object(), "{start}");
    let poll_props = &tool("codex_poll")["inputSchema"]["properties"];
    assert!(poll_props["since"].is_object(), "{poll_props}");
    assert!(poll_props["tail_lines"].is_object(), "{poll_props}");
    let wait_props = &tool("codex_wait")["inputSchema"]["properties"];
    assert_eq!(wait_props["timeout_seconds"]["default"], 30);
    assert_eq!(wait_props["timeout_seconds"]["maximum"], 50);
    assert!(wait_props["since"].is_object(), "{wait_props}");
    assert_eq!(wait_props["job_ids"]["maxItems"], 20);
    assert_eq!(
        tool("codex_list")["inputSchema"]["properties"]["limit"]["default"],
        20
    );

    let output_fields = [
        (
            "codex_start",
            vec!["job_id", "status", "pid", "branch", "worktree"],
        ),
        (
            "codex_reply",
            vec!["job_id", "status", "pid", "parent_job_id"],
        ),
        ("codex_list", vec!["jobs"]),
        (
            "codex_cancel",
            vec!["job_id", "status", "cancelled", "message"],
        ),
    ];
    // codex_poll and codex_wait answer with progress while a job runs and
    // with its result once it has ended (text only, as codex_result):
    // no outputSchema.
    for name in ["codex_poll", "codex_wait", "codex_result"] {
        assert!(tool(name).get("outputSchema").is_none(), "{name}");
    }
    for (name, fields) in output_fields {
        let t = tool(name);
        assert_eq!(t["inputSchema"]["type"], "object", "{name}");
        let output = &t["outputSchema"];
        assert_eq!(output["type"], "object", "{name} outputSchema: {output}");
        for field in fields {
            assert!(
                output["properties"][field].is_object(),
                "{name} outputSchema lacks {field}: {output}"
            );
        }
        assert!(
            !output.to_string().contains("$ref"),
            "{name} outputSchema should be self-contained: {output}"
        );
        let description = t["description"].as_str().unwrap_or_default();
        assert!(
            description.len() > 80,
            "{name} needs a description for a model"
        );
    }
    let poll = tool("codex_poll")["description"].to_string();
    for word in [
        "20-60 seconds",
        "queued",
        "running",
        "done",
        "error",
        "cancelled",
        "cursor",
        "since",
        "codex_wait",
    ] {
        assert!(poll.contains(word), "codex_poll description lacks {word:?}");
    }
    let wait = tool("codex_wait")["description"].to_string();
    for word in ["timeout_seconds", "cursor", "progress"] {
        assert!(wait.contains(word), "codex_wait description lacks {word:?}");
    }
    assert!(tool("codex_start")["description"]
        .to_string()
        .contains("worktree"));
    assert!(tool("codex_start")["description"]
        .to_string()
        .contains("at once"));

    // Listing tools is not a tool call: the shim has not touched a daemon.
    assert!(
        !home.paths().lock().exists(),
        "tools/list must not start codexd"
    );
}

#[test]
fn codex_start_returns_while_the_job_runs_and_cancel_stops_it() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();

    let started = shim.ok("codex_start", json!({"prompt": "sleep:30", "cwd": cwd}));
    assert!(is_job_id(&started["job_id"]), "{started}");
    assert_eq!(started["status"], "running", "{started}");
    let job_id = started["job_id"].as_str().unwrap_or_default().to_string();

    assert_eq!(started["branch"], Value::Null, "{started}");
    assert_eq!(started["worktree"], Value::Null, "{started}");

    let polled = shim.ok("codex_poll", json!({"job_id": job_id}));
    assert_eq!(polled["status"], "running", "{polled}");
    assert!(polled.get("final_message").is_none(), "{polled}");
    assert_eq!(polled["job_id"], job_id.as_str());
    assert!(polled["elapsed_seconds"].is_u64(), "{polled}");
    assert!(polled.get("prompt").is_none(), "{polled}");

    let cancelled = shim.ok("codex_cancel", json!({"job_id": job_id}));
    assert_eq!(cancelled["job_id"], job_id.as_str());
    assert_eq!(cancelled["cancelled"], true, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert!(cancelled["message"].as_str().is_some_and(|m| !m.is_empty()));

    let polled = shim.poll_until_finished(&job_id);
    assert_eq!(polled["status"], "cancelled", "{polled}");
    assert_eq!(polled["final_message"], Value::Null, "{polled}");

    // A second cancel finds the job finished and changes nothing.
    let again = shim.ok("codex_cancel", json!({"job_id": job_id}));
    assert_eq!(again["cancelled"], false, "{again}");
    assert_eq!(again["status"], "cancelled", "{again}");
    assert!(again["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[test]
fn codex_poll_follows_a_job_from_running_to_done() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();

    let started = shim.ok(
        "codex_start",
        json!({"prompt": "sleep:1;print:hello", "cwd": cwd, "approval_policy": "auto-edit"}),
    );
    assert_eq!(started["status"], "running", "{started}");
    let job_id = started["job_id"].as_str().unwrap_or_default().to_string();

    let done = shim.poll_until_finished(&job_id);
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["exit_code"], 0, "{done}");
    assert_eq!(done["error"], Value::Null, "{done}");
    assert!(done["elapsed_seconds"].is_u64(), "{done}");
    // Without tail_lines there is no raw output.
    assert!(done.get("output").is_none(), "{done}");

    // tail_lines still returns the raw tail.
    let raw = shim.ok("codex_poll", json!({"job_id": job_id, "tail_lines": 100}));
    assert!(
        raw["output"].as_str().is_some_and(|o| o.contains("hello")),
        "{raw}"
    );

    // tail_lines = 0 asks for no output at all.
    let quiet = shim.ok("codex_poll", json!({"job_id": job_id, "tail_lines": 0}));
    assert_eq!(quiet["output"].as_str().unwrap_or(""), "", "{quiet}");

    // Cancelling a finished job changes nothing.
    let cancel = shim.ok("codex_cancel", json!({"job_id": job_id}));
    assert_eq!(cancel["cancelled"], false, "{cancel}");
    assert_eq!(cancel["status"], "done", "{cancel}");
}

#[test]
fn a_non_zero_exit_is_status_error_with_its_exit_code() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();

    let started = shim.ok(
        "codex_start",
        json!({"prompt": "print:failing;exit:3", "cwd": cwd, "model": "gpt-5.5"}),
    );
    let job_id = started["job_id"].as_str().unwrap_or_default().to_string();
    let finished = shim.poll_until_finished(&job_id);
    assert_eq!(finished["status"], "error", "{finished}");
    assert_eq!(finished["exit_code"], 3, "{finished}");
    assert!(finished["error"].is_string(), "{finished}");
}

#[test]
fn codex_list_is_newest_first_honours_limit_and_filters_by_status() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();

    let long_prompt = format!("print:{}", "é".repeat(300));
    let mut ids = Vec::new();
    for prompt in ["print:a", "print:b", long_prompt.as_str()] {
        let started = shim.ok("codex_start", json!({"prompt": prompt, "cwd": cwd}));
        ids.push(started["job_id"].as_str().unwrap_or_default().to_string());
    }
    for id in &ids {
        shim.poll_until_finished(id);
    }
    let listed_ids = |list: &Value| -> Vec<String> {
        list["jobs"]
            .as_array()
            .map(|jobs| {
                jobs.iter()
                    .filter_map(|j| j["job_id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    let all = shim.ok("codex_list", json!({}));
    assert_eq!(listed_ids(&all), newest_first, "{all}");
    let newest = &all["jobs"][0];
    assert_eq!(
        newest["prompt"].as_str().map(|p| p.chars().count()),
        Some(200),
        "prompts are cut to 200 characters: {newest}"
    );
    for key in [
        "job_id",
        "status",
        "prompt",
        "cwd",
        "created_at",
        "started_at",
        "finished_at",
        "exit_code",
    ] {
        assert!(
            newest.get(key).is_some(),
            "list entry lacks {key}: {newest}"
        );
    }
    assert_eq!(newest["status"], "done");
    assert_eq!(newest["exit_code"], 0);
    assert_eq!(newest["cwd"], cwd.as_str());

    let two = shim.ok("codex_list", json!({"limit": 2}));
    assert_eq!(listed_ids(&two), newest_first[..2].to_vec(), "{two}");

    let done = shim.ok("codex_list", json!({"status": "done"}));
    assert_eq!(listed_ids(&done).len(), 3, "{done}");
    let running = shim.ok("codex_list", json!({"status": "running", "limit": 5}));
    assert_eq!(listed_ids(&running), Vec::<String>::new(), "{running}");
}

/// A daemon restarted under a running shim is picked up again (here the kept
/// gRPC channel reconnects by itself; the shim's own Unavailable retry is
/// covered by `a_shim_whose_codexd_died_starts_a_new_one`).
#[test]
fn the_shim_reconnects_after_codexd_restarts() {
    let home = TempHome::new();
    let daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();
    let first = shim.ok("codex_start", json!({"prompt": "print:one", "cwd": cwd}));
    drop(daemon); // SIGKILL: the shim's connection breaks

    let _daemon = serve_daemon(&home);
    let listed = shim.ok("codex_list", json!({}));
    assert_eq!(listed["jobs"][0]["job_id"], first["job_id"], "{listed}");
}

/// A prompt of exactly the largest size allowed, running `script` (the fake
/// codex's steps, which it reads without the blanks that pad them).
fn largest_prompt(script: &str) -> String {
    let max = codex_async_proto::values::MAX_PROMPT_BYTES;
    format!("{script}{}", " ".repeat(max - script.len()))
}

/// The start of a long text, for a failure's message.
fn head(text: &str) -> String {
    text.chars().take(600).collect()
}

#[test]
fn jobs_with_the_largest_prompts_allowed_never_break_a_list_or_a_result() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();
    // 24 MiB of prompts, six times what a gRPC client accepts in one answer.
    let ids: Vec<String> = (0..24)
        .map(|n| shim.start(json!({"prompt": largest_prompt(&format!("msg:job {n}")), "cwd": cwd})))
        .collect();
    for id in &ids {
        shim.poll_until_finished(id);
    }
    // One more whose summary alone would be over 4 MiB with its prompt:
    // 200 commands of 16 KiB (a summary keeps that many) and 1000 files.
    let huge = shim.start(json!({
        "prompt": largest_prompt("manycmd:200=16000;manypatch:1000=1000;msg:all done"),
        "cwd": cwd,
    }));
    let end = shim.poll_until_finished(&huge);
    assert_eq!(end["status"], "done", "{end}");

    let listed = shim.ok("codex_list", json!({"limit": 100}));
    let jobs = listed["jobs"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(jobs.len(), 25, "{listed}");
    assert!(listed.get("left_off").is_none(), "{listed}");
    for job in jobs {
        let prompt = job["prompt"].as_str().unwrap_or_default();
        assert_eq!(prompt.chars().count(), 200, "a head, not the whole prompt");
    }
    assert!(jobs[0]["prompt"]
        .as_str()
        .is_some_and(|p| p.starts_with("manycmd:200")));

    // The result of the job with the huge summary: its answer, its last
    // commands, and how many it ran in all.
    let result = shim.ok_result("codex_result", json!({"job_id": huge}));
    assert!(!result.is_error, "{}", head(&result.text));
    assert!(result.text.contains("all done"), "{}", head(&result.text));
    assert!(
        result.text.contains("Commands: 200 run"),
        "{}",
        head(&result.text)
    );

    // The people's commands too, with the whole prompt one call away.
    let table = home.run_codexd(&["jobs", "--limit", "1000"]);
    assert!(
        table.status.success(),
        "{}",
        String::from_utf8_lossy(&table.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&table.stdout).lines().count(), 26);
    let listed = home.run_codexd(&["jobs", "--limit", "1000", "--json"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("jobs --json");
    assert_eq!(listed["jobs"].as_array().map(Vec::len), Some(25));
    assert_eq!(
        listed["jobs"][1]["prompt_truncated"], true,
        "{}",
        listed["jobs"][1]
    );
    for id in [&ids[3], &huge] {
        let shown = home.run_codexd(&["show", id, "--json"]);
        assert!(
            shown.status.success(),
            "{}",
            String::from_utf8_lossy(&shown.stderr)
        );
        let shown: Value = serde_json::from_slice(&shown.stdout).expect("show --json");
        assert_eq!(
            shown["job"]["prompt"].as_str().map(str::len),
            Some(codex_async_proto::values::MAX_PROMPT_BYTES),
            "the whole prompt"
        );
    }
    let shown = home.run_codexd(&["show", &huge, "--json"]);
    let shown: Value = serde_json::from_slice(&shown.stdout).expect("show --json");
    assert_eq!(
        shown["summary"]["commands_count"], 200,
        "{}",
        shown["summary"]["commands_count"]
    );
    let kept = shown["summary"]["commands"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert!(
        (1..200).contains(&kept),
        "the oldest commands shed, the latest kept: {kept}"
    );
}

/// What the model reads of each tool (its description and input schema, as
/// Claude Code hands them over), and of the server (its instructions, sent
/// with every session): held to the budgets of the README's "What the model
/// reads", so they cannot creep back.
#[test]
fn tool_definitions_and_instructions_stay_within_their_budgets() {
    let home = TempHome::new();
    let mut shim = Shim::spawn_uninitialized(&home, NO_AUTOSTART);
    let init = shim.initialize();
    let instructions = init["instructions"].as_str().unwrap_or_default();
    let response = shim.request("tools/list", json!({}));
    let tools = response["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {response}"));
    let mut total = 0;
    let mut sizes = Vec::new();
    for tool in tools {
        let name = tool["name"].as_str().unwrap_or_default();
        let description = tool["description"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .count();
        let schema = tool["inputSchema"].to_string().chars().count();
        sizes.push(format!(
            "{name}: {description} + {schema} = {}",
            description + schema
        ));
        total += description + schema;
    }
    let report = format!(
        "instructions {}; tools {total}:\n{}",
        instructions.chars().count(),
        sizes.join("\n")
    );
    println!("{report}");
    assert!(instructions.chars().count() <= 1000, "{report}");
    assert!(total <= 6000, "{report}");
    for tool in tools {
        let name = tool["name"].as_str().unwrap_or_default();
        let size = tool["description"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .count()
            + tool["inputSchema"].to_string().chars().count();
        assert!(size <= 1500, "{name}: {report}");
    }
}

#[test]
fn codex_reply_to_a_running_job_steers_its_turn() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();
    let go = home.root().join("go");
    let id = shim.start(json!({
        "prompt": format!("msg:working;waitfile:{};msg:done", go.display()),
        "cwd": cwd,
    }));
    testkit::wait_until("the job's turn to start", || {
        let polled = shim.ok("codex_poll", json!({"job_id": id}));
        polled["events"]
            .as_str()
            .is_some_and(|e| e.contains("message: working"))
    });
    // With anything but the prompt it would be a new job: refused, saying how.
    let refused = shim.call(
        "codex_reply",
        json!({"job_id": id, "prompt": "x", "approval_policy": "auto-edit"}),
    );
    assert!(refused.is_error, "{}", refused.text);
    assert!(refused.text.contains("steer it"), "{}", refused.text);

    let steered = shim.ok(
        "codex_reply",
        json!({"job_id": id, "prompt": "look at src/ only"}),
    );
    assert_eq!(steered["job_id"], id.as_str(), "the same job: {steered}");
    assert_eq!(steered["status"], "running");
    assert!(
        steered["steered"]
            .as_str()
            .is_some_and(|s| s.starts_with("codex has it")),
        "{steered}"
    );
    std::fs::write(&go, "").expect("go");
    let end = shim.poll_until_finished(&id);
    assert_eq!(end["status"], "done", "{end}");
    let result = shim.ok_result("codex_result", json!({"job_id": id}));
    assert!(
        result.text.contains("Steered: look at src/ only"),
        "{}",
        result.text
    );
}
