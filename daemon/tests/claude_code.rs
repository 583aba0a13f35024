//! The real Claude Code CLI end to end, offline: a scripted fake Anthropic
//! API plays the model (testkit::FakeAnthropic), Claude Code runs the shim
//! from an MCP config, the shim autostarts codexd in the test's home, codexd
//! runs the fake codex. What the model was given is read from the fake's
//! request log. Skipped, with a message, when CODEX_ASYNC_CLAUDE is not set
//! (`.ci/run` installs Claude Code 2.1.332 and sets it).

use std::time::Instant;

use codex_async_proto::{
    connect,
    v1::{JobStatus, ListRequest},
};
use serde_json::{json, Value};
use testkit::{
    claude_bin, get, poll_for, processes_with, wait_until, ClaudeCode, FakeAnthropic, Log, Step,
    TempHome,
};

const START: &str = "mcp__codex-async__codex_start";
/// codex's answer in the jobs below: about 200 characters, as a typical short
/// answer is.
const ANSWER: &str = "The answer is 42. I ran the test suite: 200 tests, all passing. \
I changed notes.txt to record the answer and left everything else as it was, and nothing else \
needs your attention.";

/// A typical short job for the fake codex: one command, one changed file,
/// the answer, token usage (then codex's turn ends).
fn typical_job(cwd: &str) -> Value {
    json!({
        "prompt": format!("cmd:seq 1 200=0;patch:notes.txt;msg:{ANSWER};usage:1200,80"),
        "cwd": cwd,
        "approval_policy": "auto-edit",
    })
}
const WAIT: &str = "mcp__codex-async__codex_wait";

/// The job id in the latest codex_start result the model got (the job
/// record's JSON), or null, which makes the next call a tool error that
/// shows in the log.
fn started_job_id(log: &Log) -> Value {
    log.tool_results_of(START)
        .last()
        .and_then(|r| serde_json::from_str::<Value>(&r.text).ok())
        .map(|record| record["job_id"].clone())
        .unwrap_or(Value::Null)
}

/// The local task id Claude Code gave a call it moved to the background:
/// its notice ends '… use TaskStop with task_id "<id>"; …'.
fn local_task_id(log: &Log) -> Value {
    log.tool_results_of(START)
        .last()
        .and_then(|r| {
            let (_, rest) = r.text.split_once("task_id \"")?;
            let (id, _) = rest.split_once('"')?;
            Some(Value::String(id.into()))
        })
        .unwrap_or(Value::Null)
}

/// Characters of `text` that are codex's answer or the changed-files line:
/// what the budgets of issue 11 leave out (they count everything else).
fn answer_and_files_chars(text: &str) -> usize {
    let files = text
        .lines()
        .find(|l| l.starts_with("Files changed"))
        .map_or(0, |l| l.chars().count());
    text.matches(ANSWER).count() * ANSWER.chars().count() + files
}

/// The tool results' total size in characters: what the calls cost the
/// model's context.
fn tool_result_chars(log: &Log) -> usize {
    log.tool_results()
        .iter()
        .map(|r| r.text.chars().count())
        .sum()
}

#[test]
fn headless_claude_code_starts_a_job_and_waits_for_codex_s_answer() {
    let Some(claude) = claude_bin() else {
        return;
    };
    let started = Instant::now();
    let home = TempHome::new();
    let cwd = home.workdir().display().to_string();
    let api = FakeAnthropic::start(vec![
        Step::tool_use(START, typical_job(&cwd)),
        Step::tool_use_with(WAIT, |log| json!({"job_id": started_job_id(log)})),
        Step::text("Codex says: The answer is 42."),
    ]);
    let claude = ClaudeCode::new(claude, &home, &api);

    let run = claude.headless("Ask Codex for the answer.", &api);
    let log = api.log();
    let why = || {
        format!(
            "{}\n{}\n{}",
            run.describe(),
            claude.debug_summary(),
            log.summary()
        )
    };
    assert!(run.status.success(), "{}", why());
    assert_eq!(
        api.steps_left(),
        0,
        "the script was not played out: {}",
        why()
    );
    let result = run
        .result()
        .unwrap_or_else(|| panic!("no result event: {}", why()));
    assert_eq!(result["is_error"], false, "{}", why());

    let started_result = log.tool_results_of(START);
    assert_eq!(started_result.len(), 1, "{}", why());
    assert!(!started_result[0].is_error, "{}", why());
    let waited = log.tool_results_of(WAIT);
    assert_eq!(waited.len(), 1, "{}", why());
    assert!(!waited[0].is_error, "{}", why());
    // The job's result, once: the same rendering a task's notification has.
    let id = started_job_id(&log);
    let id = id.as_str().unwrap_or_default();
    assert!(
        waited[0]
            .text
            .starts_with(&format!("Codex job {id} done (exit 0")),
        "{}",
        why()
    );
    assert_eq!(
        waited[0].text.matches(ANSWER).count(),
        1,
        "{}",
        waited[0].text
    );

    // Issue 11's budget without tasks: start + waits at most 1,200
    // characters beyond codex's answer and the changed-files list.
    let beyond = tool_result_chars(&log) - answer_and_files_chars(&waited[0].text);
    assert!(
        beyond <= 1_200,
        "{beyond} characters beyond the answer: {}",
        why()
    );
    eprintln!(
        "claude -p: {beyond} characters beyond codex's answer and files; the model got {} characters of tool results ({} from codex_start, {} from codex_wait); run took {:?}, test {:?}",
        tool_result_chars(&log),
        started_result[0].text.chars().count(),
        waited[0].text.chars().count(),
        run.elapsed,
        started.elapsed()
    );
}

/// With tasks turned off, an interactive session makes plain tool calls:
/// the model gets the job record from codex_start at once. (Proves the pty
/// driver: the session starts, reaches the fake API and the shim.)
#[test]
fn interactive_claude_code_gets_the_job_record_from_codex_start() {
    let Some(claude) = claude_bin() else {
        return;
    };
    let started = Instant::now();
    let home = TempHome::new();
    let cwd = home.workdir().display().to_string();
    let api = FakeAnthropic::start(vec![
        Step::tool_use(START, json!({"prompt": "msg:The answer is 42", "cwd": cwd})),
        Step::text("Codex is on it."),
    ]);
    let claude = ClaudeCode::new(claude, &home, &api).env("CLAUDE_CODE_DISABLE_MCP_TASKS", "1");
    let session = claude.interactive("Ask Codex for the answer.");

    let log = claude.wait_for(
        &session,
        &api,
        "the model to answer codex_start's result",
        |log| !log.tool_results_of(START).is_empty() && log.main_requests().count() >= 2,
    );
    let result = &log.tool_results_of(START)[0];
    eprintln!(
        "interactive codex_start result, as the model got it: {}",
        result.text
    );
    let why = || claude.diagnostics(&session, &log);
    assert!(!result.is_error, "{}", why());
    let record: Value = serde_json::from_str(&result.text)
        .unwrap_or_else(|e| panic!("codex_start's result is not JSON ({e}): {}", why()));
    let id = record["job_id"].as_str().unwrap_or_default();
    assert_eq!(id.len(), 12, "{}", why());
    assert!(
        ["queued", "running", "done"].contains(&record["status"].as_str().unwrap_or_default()),
        "{}",
        why()
    );
    eprintln!(
        "interactive: codex_start answered {:?} after the session started; test {:?}",
        session.elapsed(),
        started.elapsed()
    );
}

#[test]
fn interactive_claude_code_runs_codex_start_as_a_task_and_is_notified_of_its_result() {
    let Some(claude) = claude_bin() else {
        return;
    };
    let started = Instant::now();
    let home = TempHome::new();
    let cwd = home.workdir().display().to_string();
    let api = FakeAnthropic::start(vec![
        Step::tool_use(START, typical_job(&cwd)),
        Step::text("Codex is working in the background."),
        // The turn the task notification starts.
        Step::text("Codex says: The answer is 42."),
    ]);
    let claude = ClaudeCode::new(claude, &home, &api);
    let session = claude.interactive("Ask Codex for the answer.");

    let log = claude.wait_for(&session, &api, "codex_start's result", |log| {
        !log.tool_results_of(START).is_empty()
    });
    let result = &log.tool_results_of(START)[0];
    eprintln!(
        "codex_start as a task, as the model got it: {}",
        result.text
    );
    // 'MCP tool "codex-async/codex_start" started server-side task <id>. It was
    // moved to the background as task <local id> …'
    assert!(
        result
            .text
            .contains("MCP tool \"codex-async/codex_start\" started server-side task")
            && result.text.contains("moved to the background"),
        "{}",
        claude.diagnostics(&session, &log)
    );

    let log = claude.wait_for(&session, &api, "a completed task notification", |log| {
        log.user_texts().iter().any(|t| {
            t.contains("<task-notification>")
                && t.contains("<status>completed</status>")
                && t.contains(ANSWER)
        })
    });
    let notice = log
        .user_texts()
        .into_iter()
        .find(|t| t.contains("<task-notification>"))
        .unwrap_or_default();
    eprintln!("the task notification: {notice}");
    // The notification carries the job's result (its text, not JSON), with
    // codex's answer once.
    let result_text = notice
        .split_once("<result>")
        .and_then(|(_, rest)| rest.split_once("</result>"))
        .map(|(inside, _)| inside.trim().to_string())
        .unwrap_or_default();
    let id = result
        .text
        .split_once("server-side task ")
        .and_then(|(_, rest)| rest.split_once('.'))
        .map(|(id, _)| id.to_string())
        .unwrap_or_default();
    assert_eq!(id.len(), 12, "the task id is the job id: {}", result.text);
    assert!(
        result_text.starts_with(&format!("Codex job {id} done (exit 0")),
        "{notice}"
    );
    assert_eq!(result_text.matches(ANSWER).count(), 1, "{notice}");
    // Issue 11's budget with tasks: at most 600 characters beyond codex's
    // answer and the changed-files list, Claude Code's own notice included.
    let total = tool_result_chars(&log) + result_text.chars().count();
    let beyond = total - answer_and_files_chars(&result_text);
    assert!(
        beyond <= 600,
        "{beyond} characters beyond the answer: {notice}"
    );
    eprintln!(
        "interactive with a task: {beyond} characters beyond codex's answer and files; {} characters of tool results + {} of the result in the \
         notification ({} of them codex's answer); test {:?}",
        tool_result_chars(&log),
        result_text.chars().count(),
        ANSWER.len(),
        started.elapsed()
    );
}

#[test]
fn task_stop_in_claude_code_cancels_the_job_and_its_codex() {
    let Some(claude) = claude_bin() else {
        return;
    };
    let started = Instant::now();
    let home = TempHome::new();
    let workdir = home.workdir().display().to_string();
    // TaskStop is one of Claude Code's deferred built-in tools; its input
    // schema (loaded with ToolSearch "select:TaskStop") is
    // {task_id: string, shell_id: string (deprecated)}.
    let api = FakeAnthropic::start(vec![
        Step::tool_use(START, json!({"prompt": "hang", "cwd": workdir})),
        Step::tool_use_with("TaskStop", |log| json!({"task_id": local_task_id(log)})),
        Step::text("Stopped Codex."),
    ]);
    let claude = ClaudeCode::new(claude, &home, &api).allow("TaskStop");
    let session = claude.interactive("Start Codex, then stop it.");

    let log = claude.wait_for(&session, &api, "TaskStop's result", |log| {
        !log.tool_results_of("TaskStop").is_empty()
    });
    let stopped = &log.tool_results_of("TaskStop")[0];
    eprintln!("TaskStop's result, as the model got it: {}", stopped.text);
    assert!(
        !stopped.is_error && stopped.text.contains("is stopped"),
        "{}",
        claude.diagnostics(&session, &log)
    );

    // codex ran (`-C <workdir>` is on its command line) and is gone now.
    wait_until("no codex process of the job to be left", || {
        processes_with(&workdir).is_empty()
    });
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let mut client = connect(&home.paths().socket)
            .await
            .expect("connect to the codexd the shim started");
        let jobs = client
            .list(ListRequest {
                limit: None,
                status: None,
            })
            .await
            .expect("list")
            .into_inner()
            .jobs;
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        let id = jobs[0].job_id.clone();
        let job = poll_for("the job to be cancelled", || {
            let mut client = client.clone();
            let id = id.clone();
            async move {
                let job = get(&mut client, &id).await.job?;
                job.status().is_terminal().then_some(job)
            }
        })
        .await;
        assert_eq!(job.status(), JobStatus::Cancelled, "{job:?}");
        assert!(job.started_at.is_some(), "codex never started: {job:?}");
    });
    assert!(
        home.live_monitors().is_empty(),
        "{:?}",
        home.live_monitors()
    );
    eprintln!("TaskStop: test {:?}", started.elapsed());
}
