//! Jobs run by the real Claude Code (`CODEX_ASYNC_CLAUDE`, pinned in
//! `.ci/run`) through codexd, headless against testkit's fake Anthropic API
//! on loopback: its stream becomes codexd's events, its answer, commands and
//! token counts the same result a codex job has, a reply resumes its
//! session, suggest denies what would change files, and what codexd cannot
//! run on Claude Code is refused by name with nothing recorded. The faults
//! (kill -9, watchdogs, output cap, worktrees, a lost database) are in
//! faults_agents.rs, run for each agent.

use codex_async_proto::v1::{JobStatus, StartRequest};
use serde_json::json;
use testkit::{Daemon, FakeAnthropic, Step, TempHome};

fn claude_request(home: &TempHome, prompt: &str, policy: &str) -> StartRequest {
    StartRequest {
        approval_policy: Some(policy.into()),
        agent: Some("claude".into()),
        ..home.start_request(prompt)
    }
}

/// The last main-conversation request the fake received, as text.
fn last_request(fake: &FakeAnthropic) -> String {
    fake.log()
        .main_requests()
        .next_back()
        .map(|r| r.body.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_claude_job_runs_a_command_gives_its_answer_and_a_reply_resumes_it() {
    let home = TempHome::new();
    let fake = FakeAnthropic::start(vec![
        Step::tool_use(
            "Bash",
            json!({"command": "echo from-claude-bash", "description": "say it"}),
        ),
        Step::text("All done by claude."),
        Step::text("And again."),
    ]);
    let Some(daemon) = Daemon::with_claude(&home, &fake, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let job =
        testkit::start_job(&client, claude_request(&home, "run the shell", "full-auto")).await;
    assert_eq!(job.agent, "claude");
    let end = testkit::wait_for_end(&client, &job.job_id).await;
    let done = testkit::expect_done(&end);
    assert_eq!(done.agent, "claude");
    let summary = end.summary.clone().expect("summary");
    assert_eq!(
        summary.final_message.as_deref(),
        Some("All done by claude.")
    );
    assert!(
        summary
            .commands
            .iter()
            .any(|c| c.command == "echo from-claude-bash"
                && c.status == "completed"
                && c.exit_code == Some(0)),
        "{:?}",
        summary.commands
    );
    let usage = summary.usage.expect("usage");
    assert!(
        usage.input_tokens > 0 && usage.output_tokens > 0,
        "{usage:?}"
    );
    assert!(
        done.thread_id.as_deref().is_some_and(|t| !t.is_empty()),
        "the session is the thread: {done:?}"
    );
    let result = codex_async_proto::job_result::JobResult::from_get(&end, None, chrono::Utc::now())
        .expect("result");
    let text = result.to_text();
    assert!(
        text.starts_with(&format!("Claude job {} done", job.job_id)),
        "{text}"
    );
    assert!(text.contains("All done by claude."), "{text}");
    assert!(text.contains("echo from-claude-bash"), "{text}");

    // A reply resumes Claude Code's session: the model is given the first
    // exchange and the new prompt.
    let reply = testkit::start_job(
        &client,
        StartRequest {
            prompt: "and again".into(),
            cwd: String::new(),
            reply_to: Some(job.job_id.clone()),
            ..StartRequest::default()
        },
    )
    .await;
    assert_eq!(reply.agent, "claude", "a reply keeps its parent's agent");
    let end = testkit::wait_for_end(&client, &reply.job_id).await;
    testkit::expect_done(&end);
    assert_eq!(
        end.summary.and_then(|s| s.final_message).as_deref(),
        Some("And again.")
    );
    let last = last_request(&fake);
    assert!(
        last.contains("run the shell")
            && last.contains("from-claude-bash")
            && last.contains("and again"),
        "the resumed session holds the history: {last}"
    );
}

#[tokio::test]
async fn in_suggest_a_claude_job_changes_no_file_and_shows_the_calls_denied() {
    let home = TempHome::new();
    let target = home.workdir().join("made-by-claude");
    let fake = FakeAnthropic::start(vec![
        Step::tool_use(
            "Bash",
            json!({"command": "touch made-by-claude", "description": "make a file"}),
        ),
        Step::tool_use(
            "Write",
            json!({"file_path": target.display().to_string(), "content": "x"}),
        ),
        Step::text("I could not make it."),
    ]);
    let Some(daemon) = Daemon::with_claude(&home, &fake, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let job = testkit::start_job(&client, claude_request(&home, "make a file", "suggest")).await;
    let end = testkit::wait_for_end(&client, &job.job_id).await;
    testkit::expect_done(&end);
    assert!(!target.exists(), "suggest made a file");
    let summary = end.summary.clone().expect("summary");
    assert!(
        summary
            .commands
            .iter()
            .any(|c| c.command == "touch made-by-claude" && c.status == "declined"),
        "{:?}",
        summary.commands
    );
    assert!(summary.files_changed.is_empty(), "{summary:?}");
    assert_eq!(
        summary.final_message.as_deref(),
        Some("I could not make it.")
    );
    let written: Vec<_> = fake
        .log()
        .tool_results_of("Write")
        .into_iter()
        .filter(|r| !r.is_error)
        .collect();
    assert!(written.is_empty(), "Write ran: {written:?}");
}

#[tokio::test]
async fn in_auto_edit_a_claude_job_writes_files_shown_as_changes_and_runs_no_other_command() {
    let home = TempHome::new();
    let target = home.workdir().join("written-by-claude.txt");
    let fake = FakeAnthropic::start(vec![
        Step::tool_use(
            "Write",
            json!({"file_path": target.display().to_string(), "content": "hello\n"}),
        ),
        Step::tool_use(
            "Bash",
            json!({"command": "python3 -c 'print(6*7)'", "description": "compute"}),
        ),
        Step::text("Written."),
    ]);
    let Some(daemon) = Daemon::with_claude(&home, &fake, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let job = testkit::start_job(&client, claude_request(&home, "write it", "auto-edit")).await;
    let end = testkit::wait_for_end(&client, &job.job_id).await;
    testkit::expect_done(&end);
    assert_eq!(
        std::fs::read_to_string(&target).ok().as_deref(),
        Some("hello\n")
    );
    let summary = end.summary.expect("summary");
    assert!(
        summary
            .files_changed
            .iter()
            .any(|f| f.path == target.display().to_string()),
        "{summary:?}"
    );
    assert!(
        summary
            .commands
            .iter()
            .any(|c| c.command.starts_with("python3") && c.status == "declined"),
        "{:?}",
        summary.commands
    );
}

#[tokio::test]
async fn what_claude_cannot_honour_is_refused_by_name_and_nothing_is_recorded() {
    let home = TempHome::new();
    let fake = FakeAnthropic::start(vec![Step::text("unused")]);
    let Some(daemon) = Daemon::with_claude(&home, &fake, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let cases = [
        (
            StartRequest {
                reasoning_effort: Some("high".into()),
                ..claude_request(&home, "p", "suggest")
            },
            "reasoning_effort:",
        ),
        (
            StartRequest {
                output_schema: Some(r#"{"type":"object"}"#.into()),
                ..claude_request(&home, "p", "suggest")
            },
            "output_schema:",
        ),
    ];
    for (request, expected) in cases {
        let refused = client.clone().start(request).await.expect_err("refused");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
        assert!(
            refused.message().starts_with(expected),
            "{}",
            refused.message()
        );
    }
    assert!(testkit::list_all(&client).await.is_empty());
    assert_eq!(fake.log().requests().len(), 0, "nothing reached Claude");
}

#[tokio::test]
async fn a_claude_that_is_not_installed_is_refused_naming_how_to_install_it() {
    let home = TempHome::new();
    let daemon = Daemon::start_with(
        &home,
        &[(
            "CLAUDE_BIN",
            home.root().join("no-such-claude").display().to_string(),
        )],
    )
    .await;
    let client = daemon.client().await;
    let refused = client
        .clone()
        .start(claude_request(&home, "p", "suggest"))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused
            .message()
            .contains("npm install -g @anthropic-ai/claude-code")
            && refused.message().contains("CLAUDE_BIN"),
        "{}",
        refused.message()
    );
    assert!(testkit::list_all(&client).await.is_empty());
}

#[tokio::test]
async fn cancelling_a_claude_job_stops_claude_and_the_command_it_runs() {
    // Claude Code's Bash refuses a long plain `sleep` (field notes §1); it
    // runs each command in a session of its own.
    const MARKER: &str = "time.sleep(318.75)";
    let home = TempHome::new();
    let fake = FakeAnthropic::start(vec![
        Step::tool_use(
            "Bash",
            json!({"command": format!("python3 -c 'import time; {MARKER}'"), "description": "wait"}),
        ),
        Step::text("never reached"),
    ]);
    let Some(daemon) = Daemon::with_claude(&home, &fake, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let job = testkit::start_job(&client, claude_request(&home, "wait", "full-auto")).await;
    let claude = testkit::codex_of(&home, &job.job_id);
    testkit::wait_until("claude to run the command", || {
        !testkit::processes_with(MARKER).is_empty()
    });
    let cancelled = client
        .clone()
        .cancel(codex_async_proto::v1::CancelRequest {
            job_id: job.job_id.clone(),
        })
        .await
        .expect("cancel")
        .into_inner();
    assert!(cancelled.cancelled, "{cancelled:?}");
    let end = testkit::wait_for_end(&client, &job.job_id).await;
    assert_eq!(end.job.map(|j| j.status()), Some(JobStatus::Cancelled));
    testkit::wait_until("claude to be gone", || !testkit::pid_alive(claude));
    testkit::wait_until("the command claude ran to be gone", || {
        testkit::processes_with(MARKER).is_empty()
    });
}

#[test]
fn doctor_lists_claude_its_version_and_login_or_how_to_install_it() {
    let home = TempHome::new();
    let fake = FakeAnthropic::start(vec![Step::text("unused")]);
    let Some(env) = testkit::claude_env(&home, &fake) else {
        return;
    };
    let check = testkit::doctor_check(&home, &env, "claude");
    assert_eq!(check["status"], "ok", "{check}");
    let detail = check["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("(Claude Code)") && detail.contains("ANTHROPIC_API_KEY"),
        "{check}"
    );

    // No key, and a HOME without credentials: a warning with the fix.
    let no_key: Vec<_> = env
        .iter()
        .filter(|(k, _)| *k != "ANTHROPIC_API_KEY")
        .cloned()
        .collect();
    let check = testkit::doctor_check(&home, &no_key, "claude");
    assert_eq!(check["status"], "warn", "{check}");
    assert!(
        check["fix"]
            .as_str()
            .is_some_and(|f| f.contains("ANTHROPIC_API_KEY")),
        "{check}"
    );

    // A login file is a login (read, never tried: doctor stays offline).
    let credentials = testkit::claude_state(&home).join(".claude/.credentials.json");
    std::fs::create_dir_all(credentials.parent().expect("a parent")).expect("claude folder");
    std::fs::write(&credentials, r#"{"claudeAiOauth":{}}"#).expect("credentials");
    let check = testkit::doctor_check(&home, &no_key, "claude");
    assert_eq!(check["status"], "ok", "{check}");
    assert_eq!(fake.log().requests().len(), 0, "doctor stays offline");

    let missing = [(
        "CLAUDE_BIN",
        home.root().join("no-such-claude").display().to_string(),
    )];
    let check = testkit::doctor_check(&home, &missing, "claude");
    assert_eq!(check["status"], "warn", "{check}");
    assert!(
        check["fix"]
            .as_str()
            .is_some_and(|f| f.contains("npm install -g @anthropic-ai/claude-code")),
        "{check}"
    );
}

/// The real interactive Claude Code (MCP Tasks) starts a Claude Code job:
/// codex_start with agent claude becomes a task like any job, and the task's
/// notification brings the model the agent's result. Two fakes: one plays
/// the model of the interactive session, one the agent's model (codexd runs
/// already, started with the agent's environment, so the shim connects to
/// it instead of starting one with the session's).
#[test]
fn interactive_claude_code_runs_a_claude_job_as_a_task_and_is_told_its_result() {
    let Some(client_bin) = testkit::claude_bin() else {
        return;
    };
    const START: &str = "mcp__codex-async__codex_start";
    const ANSWER: &str = "The agent looked: the parser handles every case.";
    let home = TempHome::new();
    let agent = FakeAnthropic::start(vec![Step::text(ANSWER)]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let Some(_daemon) = runtime.block_on(Daemon::with_claude(&home, &agent, &[])) else {
        return;
    };
    let cwd = home.workdir().display().to_string();
    let model = FakeAnthropic::start(vec![
        Step::tool_use(
            START,
            json!({"prompt": "check the parser", "cwd": cwd, "agent": "claude"}),
        ),
        Step::text("The agent is working in the background."),
        Step::text("It says the parser handles every case."),
    ]);
    let claude = testkit::ClaudeCode::new(client_bin, &home, &model);
    let session = claude.interactive("Ask Claude Code to check the parser.");
    let log = claude.wait_for(&session, &model, "a completed task notification", |log| {
        log.user_texts().iter().any(|t| {
            t.contains("<task-notification>")
                && t.contains("<status>completed</status>")
                && t.contains(ANSWER)
        })
    });
    assert!(
        log.tool_results_of(START)[0]
            .text
            .contains("started server-side task"),
        "{}",
        claude.diagnostics(&session, &log)
    );
    let notice = log
        .user_texts()
        .into_iter()
        .find(|t| t.contains("<task-notification>"))
        .unwrap_or_default();
    let result = notice
        .split_once("<result>")
        .and_then(|(_, rest)| rest.split_once("</result>"))
        .map(|(inside, _)| inside.trim().to_string())
        .unwrap_or_default();
    assert!(result.starts_with("Claude job "), "{notice}");
    assert!(result.contains(" done (exit 0"), "{notice}");
    assert_eq!(result.matches(ANSWER).count(), 1, "{notice}");
}

#[tokio::test]
async fn an_api_retry_is_shown_in_the_events_and_a_run_that_recovers_is_done() {
    let home = TempHome::new();
    let fake = FakeAnthropic::start(vec![Step::Overloaded, Step::text("Recovered and done.")]);
    let Some(daemon) = Daemon::with_claude(&home, &fake, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let job = testkit::start_job(&client, claude_request(&home, "say done", "suggest")).await;
    let end = testkit::wait_for_end(&client, &job.job_id).await;
    testkit::expect_done(&end);
    let summary = end.summary.clone().expect("summary");
    assert_eq!(
        summary.final_message.as_deref(),
        Some("Recovered and done.")
    );
    assert!(
        end.events
            .contains("claude: the API failed (529, overloaded); retrying, attempt 1"),
        "the retry is shown: {}",
        end.events
    );
    let result = codex_async_proto::job_result::JobResult::from_get(&end, None, chrono::Utc::now())
        .expect("result")
        .to_text();
    assert!(
        !result.contains("overloaded"),
        "a retry that recovered is no error: {result}"
    );
}
