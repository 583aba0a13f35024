//! Jobs run by the real Gemini CLI (`CODEX_ASYNC_GEMINI`, pinned in
//! `.ci/run`) through codexd, against the fake Gemini API on loopback: its
//! stream becomes codexd's events, its answer, commands and token counts the
//! same result a codex job has, a reply resumes its session, and what Gemini
//! CLI cannot honour is refused by name with nothing recorded. The faults
//! (kill -9, watchdogs, output cap, worktrees, a lost database) are in
//! faults_agents.rs, run for each agent.

use codex_async_proto::v1::{JobStatus, StartRequest};
use serde_json::json;
use testkit::{Daemon, FakeGemini, TempHome, Turn};

fn gemini_request(home: &TempHome, prompt: &str, policy: &str) -> StartRequest {
    StartRequest {
        approval_policy: Some(policy.into()),
        agent: Some("gemini".into()),
        ..home.start_request(prompt)
    }
}

#[tokio::test]
async fn a_gemini_job_runs_the_shell_gives_its_answer_and_a_reply_resumes_it() {
    let home = TempHome::new();
    let fake = FakeGemini::start(vec![
        Turn::call(
            "run_shell_command",
            json!({"command": "echo from-gemini-shell"}),
        ),
        Turn::text("All done by gemini."),
        Turn::text("And again."),
    ]);
    let Some(daemon) = Daemon::with_gemini(&home, &fake, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let job =
        testkit::start_job(&client, gemini_request(&home, "run the shell", "full-auto")).await;
    assert_eq!(job.agent, "gemini");
    let end = testkit::wait_for_end(&client, &job.job_id).await;
    let done = testkit::expect_done(&end);
    assert_eq!(done.agent, "gemini");
    let summary = end.summary.clone().expect("summary");
    assert_eq!(
        summary.final_message.as_deref(),
        Some("All done by gemini.")
    );
    assert!(
        summary
            .commands
            .iter()
            .any(|c| c.command == "echo from-gemini-shell"),
        "{:?}",
        summary.commands
    );
    let usage = summary.usage.expect("usage");
    assert!(
        usage.input_tokens >= testkit::GEMINI_PROMPT_TOKENS,
        "{usage:?}"
    );
    let result = codex_async_proto::job_result::JobResult::from_get(&end, None, chrono::Utc::now())
        .expect("result");
    let text = result.to_text();
    assert!(
        text.starts_with(&format!("Gemini job {} done", job.job_id)),
        "{text}"
    );
    assert!(text.contains("All done by gemini."), "{text}");

    // A reply resumes Gemini CLI's session: the model is given the first
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
    assert_eq!(reply.agent, "gemini", "a reply keeps its parent's agent");
    let end = testkit::wait_for_end(&client, &reply.job_id).await;
    testkit::expect_done(&end);
    assert_eq!(
        end.summary.and_then(|s| s.final_message).as_deref(),
        Some("And again.")
    );
    let last = fake.turns().last().cloned().unwrap_or_default().to_string();
    assert!(
        last.contains("run the shell") && last.contains("and again"),
        "the resumed session holds the history: {last}"
    );
}

#[tokio::test]
async fn in_suggest_a_gemini_job_is_offered_no_shell_and_says_so() {
    let home = TempHome::new();
    let fake = FakeGemini::start(vec![
        Turn::call(
            "run_shell_command",
            json!({"command": "touch made-by-gemini"}),
        ),
        Turn::text("I could not run it."),
    ]);
    let Some(daemon) = Daemon::with_gemini(&home, &fake, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let job = testkit::start_job(&client, gemini_request(&home, "touch a file", "suggest")).await;
    let end = testkit::wait_for_end(&client, &job.job_id).await;
    testkit::expect_done(&end);
    assert!(!home.workdir().join("made-by-gemini").exists());
    let summary = end.summary.expect("summary");
    assert!(
        summary
            .commands
            .iter()
            .any(|c| c.command == "touch made-by-gemini" && c.status == "failed"),
        "{:?}",
        summary.commands
    );
}

#[tokio::test]
async fn what_gemini_cannot_honour_is_refused_by_name_and_nothing_is_recorded() {
    let home = TempHome::new();
    let fake = FakeGemini::start(vec![Turn::text("unused")]);
    let Some(daemon) = Daemon::with_gemini(&home, &fake, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let cases = [
        (gemini_request(&home, "p", "ask"), "approval_policy:"),
        (
            StartRequest {
                reasoning_effort: Some("high".into()),
                ..gemini_request(&home, "p", "suggest")
            },
            "reasoning_effort:",
        ),
        (
            StartRequest {
                output_schema: Some(r#"{"type":"object"}"#.into()),
                ..gemini_request(&home, "p", "suggest")
            },
            "output_schema:",
        ),
        (
            StartRequest {
                agent: Some("cursor".into()),
                ..home.start_request("p")
            },
            "agent: unknown value \"cursor\"; use one of codex, gemini, claude",
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
    assert_eq!(fake.turns().len(), 0, "nothing reached Gemini");
}

#[tokio::test]
async fn a_gemini_that_is_not_installed_is_refused_naming_how_to_install_it() {
    let home = TempHome::new();
    let daemon = Daemon::start_with(
        &home,
        &[(
            "GEMINI_BIN",
            home.root().join("no-such-gemini").display().to_string(),
        )],
    )
    .await;
    let client = daemon.client().await;
    let refused = client
        .clone()
        .start(gemini_request(&home, "p", "suggest"))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused
            .message()
            .contains("npm install -g @google/gemini-cli")
            && refused.message().contains("GEMINI_BIN"),
        "{}",
        refused.message()
    );
    assert!(testkit::list_all(&client).await.is_empty());
}

#[tokio::test]
async fn cancelling_a_gemini_job_stops_gemini_and_the_command_it_runs() {
    let home = TempHome::new();
    let fake = FakeGemini::start(vec![
        Turn::call("run_shell_command", json!({"command": "sleep 317.25"})),
        Turn::text("never reached"),
    ]);
    let Some(daemon) = Daemon::with_gemini(&home, &fake, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let job = testkit::start_job(&client, gemini_request(&home, "wait", "full-auto")).await;
    let gemini = testkit::codex_of(&home, &job.job_id);
    testkit::wait_until("gemini to run the command", || {
        !testkit::processes_running(&["sleep", "317.25"]).is_empty()
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
    testkit::wait_until("gemini to be gone", || !testkit::pid_alive(gemini));
    testkit::wait_until("the command gemini ran to be gone", || {
        testkit::processes_running(&["sleep", "317.25"]).is_empty()
    });
}

#[test]
fn doctor_lists_gemini_its_version_and_login_or_how_to_install_it() {
    let home = TempHome::new();
    let fake = FakeGemini::start(vec![Turn::text("unused")]);
    let Some(env) = testkit::gemini_env(&home, &fake) else {
        return;
    };
    let check = testkit::doctor_check(&home, &env, "gemini");
    assert_eq!(check["status"], "ok", "{check}");
    let detail = check["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("0.61.0") && detail.contains("GEMINI_API_KEY"),
        "{check}"
    );

    let no_key: Vec<_> = env
        .iter()
        .filter(|(k, _)| *k != "GEMINI_API_KEY")
        .cloned()
        .collect();
    let check = testkit::doctor_check(&home, &no_key, "gemini");
    assert_eq!(check["status"], "warn", "{check}");
    assert!(
        check["fix"]
            .as_str()
            .is_some_and(|f| f.contains("GEMINI_API_KEY")),
        "{check}"
    );

    let missing = [(
        "GEMINI_BIN",
        home.root().join("no-such-gemini").display().to_string(),
    )];
    let check = testkit::doctor_check(&home, &missing, "gemini");
    assert_eq!(check["status"], "warn", "{check}");
    assert!(
        check["fix"]
            .as_str()
            .is_some_and(|f| f.contains("npm install -g @google/gemini-cli")),
        "{check}"
    );
}

/// The real interactive Claude Code (MCP Tasks) starts a Gemini CLI job:
/// codex_start with agent gemini becomes a task like any job, and the
/// task's notification brings the model Gemini's result.
#[test]
fn interactive_claude_code_runs_a_gemini_job_as_a_task_and_is_told_its_result() {
    let (Some(claude), Some(gemini)) = (testkit::claude_bin(), testkit::gemini_bin()) else {
        return;
    };
    const START: &str = "mcp__codex-async__codex_start";
    const ANSWER: &str = "Gemini checked it: all 12 files compile.";
    let home = TempHome::new();
    let fake = FakeGemini::start(vec![Turn::text(ANSWER)]);
    let cwd = home.workdir().display().to_string();
    let api = testkit::FakeAnthropic::start(vec![
        testkit::Step::tool_use(
            START,
            json!({"prompt": "check that it compiles", "cwd": cwd, "agent": "gemini"}),
        ),
        testkit::Step::text("Gemini is working in the background."),
        testkit::Step::text("Gemini says all 12 files compile."),
    ]);
    // The shim starts codexd with Claude Code's environment, which points
    // Gemini CLI at its fake.
    let mut claude = testkit::ClaudeCode::new(claude, &home, &api)
        .env("GEMINI_BIN", &gemini.display().to_string());
    for (key, value) in fake.cli_env(&testkit::gemini_state(&home)) {
        claude = claude.env(key, &value);
    }
    let session = claude.interactive("Ask Gemini whether it compiles.");
    let log = claude.wait_for(&session, &api, "a completed task notification", |log| {
        log.user_texts().iter().any(|t| {
            t.contains("<task-notification>")
                && t.contains("<status>completed</status>")
                && t.contains(ANSWER)
        })
    });
    let started = &log.tool_results_of(START)[0];
    assert!(
        started.text.contains("started server-side task"),
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
    assert!(result.starts_with("Gemini job "), "{notice}");
    assert!(result.contains(" done (exit 0"), "{notice}");
    assert_eq!(result.matches(ANSWER).count(), 1, "{notice}");
    eprintln!(
        "a Gemini job as a task, as the model got it: {} characters of tool results, {} of the result",
        log.tool_results().iter().map(|r| r.text.chars().count()).sum::<usize>(),
        result.chars().count()
    );
}
