//! End to end against the real codex CLI (npm @openai/codex), offline: codex
//! talks to a fake Responses API on loopback. Proves the command line codexd
//! builds is one the real CLI accepts, and that cancel stops the real thing.

use codex_async_proto::v1::{CancelRequest, GetRequest, GetResponse, JobStatus, StartRequest};
use codex_async_proto::Client;
use testkit::{
    pid_alive, poll_for, processes_with, Answer, Behaviour, Daemon, FakeProvider, TempHome,
};

fn start_req(home: &TempHome, prompt: &str, policy: &str) -> StartRequest {
    StartRequest {
        prompt: prompt.into(),
        cwd: home.workdir().display().to_string(),
        approval_policy: Some(policy.into()),
        model: Some("gpt-5.5".into()),
        ..Default::default()
    }
}

async fn get(client: &Client, id: &str) -> GetResponse {
    client
        .clone()
        .get(GetRequest {
            job_id: id.into(),
            tail_lines: Some(1000),
            since: None,
        })
        .await
        .expect("get")
        .into_inner()
}

#[tokio::test]
async fn real_codex_runs_to_done_under_every_policy() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Reply("hello from the fake provider".into()));
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let mut client = daemon.client().await;
    for policy in ["suggest", "auto-edit", "full-auto"] {
        // A prompt that looks like a flag must stay a prompt.
        let job = client
            .start(start_req(&home, "-c say hi", policy))
            .await
            .expect("start")
            .into_inner()
            .job
            .expect("job");
        let id = job.job_id.clone();
        let end = poll_for("real codex to finish", || {
            let client = client.clone();
            let id = id.clone();
            async move {
                let got = get(&client, &id).await;
                got.job
                    .as_ref()
                    .is_some_and(|j| j.status().is_terminal())
                    .then_some(got)
            }
        })
        .await;
        let job = end.job.expect("job");
        assert_eq!(
            job.status(),
            JobStatus::Done,
            "{policy}: {:?}\n{}",
            job.error,
            end.output
        );
        assert_eq!(job.exit_code, Some(0));
        assert!(end.output.contains("\"thread.started\""), "{}", end.output);
        assert!(
            end.output.contains("hello from the fake provider"),
            "{}",
            end.output
        );
    }
    assert!(provider.requests() >= 3);
}

#[tokio::test]
async fn cancel_stops_a_real_codex_waiting_on_its_provider() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Hang);
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let mut client = daemon.client().await;
    let job = client
        .start(start_req(&home, "wait forever", "suggest"))
        .await
        .expect("start")
        .into_inner()
        .job
        .expect("job");
    let codex = testkit::codex_of(&home, &job.job_id);
    poll_for("codex to reach the provider", || {
        let n = provider.requests();
        async move { (n > 0).then_some(()) }
    })
    .await;
    assert_eq!(
        get(&client, &job.job_id).await.job.expect("job").status(),
        JobStatus::Running
    );

    let resp = client
        .cancel(CancelRequest {
            job_id: job.job_id.clone(),
        })
        .await
        .expect("cancel")
        .into_inner();
    assert!(resp.cancelled, "{}", resp.message);
    assert_eq!(resp.job.expect("job").status(), JobStatus::Cancelled);
    assert!(!pid_alive(codex), "codex survived cancel");
    assert!(home.live_monitors().is_empty());
}

async fn run_to_end(client: &Client, id: &str) -> GetResponse {
    poll_for("real codex to finish", || {
        let client = client.clone();
        let id = id.to_string();
        async move {
            let got = get(&client, &id).await;
            got.job
                .as_ref()
                .is_some_and(|j| j.status().is_terminal())
                .then_some(got)
        }
    })
    .await
}

async fn start_job(client: &Client, request: StartRequest) -> String {
    client
        .clone()
        .start(request)
        .await
        .expect("start")
        .into_inner()
        .job
        .expect("job")
        .job_id
}

const ADD_FILE: &str = "*** Begin Patch\n*** Add File: made-by-codex.txt\n+hello\n*** End Patch";

#[tokio::test]
async fn real_codex_runs_a_command_and_a_patch_under_workspace_write() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::Exec("echo command-ran".into()),
        Answer::Patch(ADD_FILE.into()),
        Answer::Message("All done.".into()),
    ]));
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let id = start_job(&client, start_req(&home, "make a file", "auto-edit")).await;
    let end = run_to_end(&client, &id).await;
    let job = testkit::expect_done(&end);
    let s = end.summary.expect("summary");
    assert_eq!(s.final_message.as_deref(), Some("All done."));
    assert!(
        s.commands
            .iter()
            .any(|c| c.command.contains("echo command-ran") && c.exit_code == Some(0)),
        "{:?}",
        s.commands
    );
    assert!(
        s.files_changed
            .iter()
            .any(|f| f.path.ends_with("made-by-codex.txt") && f.kind == "add"),
        "{:?}",
        s.files_changed
    );
    assert!(s.usage.is_some_and(|u| u.output_tokens > 0));
    assert!(job.thread_id.is_some());
    let made = home.workdir().join("made-by-codex.txt");
    assert_eq!(
        std::fs::read_to_string(&made).expect("codex wrote the file"),
        "hello\n"
    );
}

#[tokio::test]
async fn real_codex_is_refused_a_patch_under_read_only() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::Patch(ADD_FILE.into()),
        Answer::Message("Could not write.".into()),
    ]));
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let id = start_job(&client, start_req(&home, "make a file", "suggest")).await;
    let end = run_to_end(&client, &id).await;
    assert!(end.job.is_some_and(|j| j.status().is_terminal()));
    assert!(
        !home.workdir().join("made-by-codex.txt").exists(),
        "read-only sandbox let a write through"
    );
}

#[tokio::test]
async fn real_codex_provider_errors_become_job_errors_with_the_message() {
    for status in [500, 429] {
        let home = TempHome::new();
        let provider = FakeProvider::start(Behaviour::Script(vec![Answer::Status(
            status,
            "the fake provider broke".into(),
        )]));
        let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
            return;
        };
        let client = daemon.client().await;
        let id = start_job(&client, start_req(&home, "hi", "suggest")).await;
        let end = run_to_end(&client, &id).await;
        let job = end.job.expect("job");
        assert_eq!(
            job.status(),
            JobStatus::Error,
            "HTTP {status}: {}",
            end.output
        );
        assert_eq!(job.exit_code, Some(1));
        let error = job.error.unwrap_or_default();
        assert!(
            error.starts_with("codex exited with code 1: "),
            "codex's own message is added: {error}"
        );
        assert!(end.summary.and_then(|s| s.error_message).is_some());
    }
}

#[tokio::test]
async fn real_codex_reply_continues_the_same_thread() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::Message("first answer".into()),
        Answer::Message("second answer".into()),
    ]));
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let first = start_job(&client, start_req(&home, "one", "auto-edit")).await;
    let parent = run_to_end(&client, &first).await.job.expect("job");
    assert_eq!(parent.status(), JobStatus::Done, "{:?}", parent.error);
    let thread = parent.thread_id.expect("thread id");
    let reply = StartRequest {
        prompt: "two".into(),
        reply_to: Some(first.clone()),
        ..Default::default()
    };
    let second = start_job(&client, reply).await;
    let end = run_to_end(&client, &second).await;
    let job = testkit::expect_done(&end);
    assert_eq!(job.parent_job_id.as_deref(), Some(first.as_str()));
    let events_thread = end
        .output
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "thread.started")
        .and_then(|v| v["thread_id"].as_str().map(str::to_string));
    assert_eq!(
        events_thread.as_deref(),
        Some(thread.as_str()),
        "codex resumed the same thread"
    );
    assert_eq!(
        end.summary.and_then(|s| s.final_message).as_deref(),
        Some("second answer")
    );
}

#[tokio::test]
async fn real_codex_on_a_stalled_provider_trips_the_stall_watchdog() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Hang);
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let mut request = start_req(&home, "hi", "suggest");
    request.stall_timeout_seconds = Some(3);
    let id = start_job(&client, request).await;
    let job = run_to_end(&client, &id).await.job.expect("job");
    assert_eq!(job.status(), JobStatus::Error);
    assert!(
        job.error
            .as_deref()
            .is_some_and(|e| e.starts_with("stalled:")),
        "{:?}",
        job.error
    );
    assert!(!pid_alive(job.pid.expect("pid")));
}

#[tokio::test]
async fn cancel_mid_command_leaves_nothing_behind() {
    // Under a loaded machine codex 0.171 has once gone on without running
    // the command at all (its item never completed, the turn ended after
    // ~10 s): nothing to cancel then, so that attempt proves nothing and
    // one more is made. A second such attempt fails the test.
    for attempt in 1..=2 {
        match cancel_mid_command(attempt).await {
            Some(Ok(())) | None => return,
            Some(Err(why)) if attempt == 1 => eprintln!("attempt 1 inconclusive: {why}"),
            Some(Err(why)) => panic!("{why}"),
        }
    }
}

/// One try of [`cancel_mid_command_leaves_nothing_behind`]: Err when the
/// job ended before its command ran (saying how); None without a real codex.
async fn cancel_mid_command(attempt: u32) -> Option<Result<(), String>> {
    let home = TempHome::new();
    let token = format!(
        "{}.{}{attempt}",
        40 + std::process::id() % 50,
        std::process::id()
    );
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::Exec(format!("sleep {token}")),
        Answer::Message("slept".into()),
    ]));
    let daemon = Daemon::with_real_codex(&home, &provider, &[]).await?;
    let client = daemon.client().await;
    let id = start_job(&client, start_req(&home, "sleep", "full-auto")).await;
    // Until the command runs, or the job ends without it (then say how).
    let ended = poll_for("codex's command to run", || {
        let found = !processes_with(&format!("sleep {token}")).is_empty();
        let client = client.clone();
        let id = id.clone();
        async move {
            if found {
                return Some(None);
            }
            let got = get(&client, &id).await;
            let over = got.job.as_ref().is_some_and(|j| j.status().is_terminal());
            over.then_some(Some(got))
        }
    })
    .await;
    if let Some(got) = ended {
        return Some(Err(format!(
            "the job ended before its command ran: {:?}\n{}",
            got.job, got.output
        )));
    }
    let resp = client
        .clone()
        .cancel(CancelRequest { job_id: id.clone() })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(resp.job.expect("job").status(), JobStatus::Cancelled);
    assert_eq!(
        processes_with(&format!("sleep {token}")),
        Vec::<i32>::new(),
        "codex's command survived cancel"
    );
    assert!(home.live_monitors().is_empty());
    Some(Ok(()))
}

#[tokio::test]
async fn real_codex_commands_with_megabytes_of_output_keep_their_exit_code() {
    // ~560 KB, ~1.3 MB and ~5.2 MB of output: codex writes each command as one line
    // holding its output (capped by codex near 1 MiB), exit code after it.
    // Under `ask` it runs on codex app-server: the monitor writes the line
    // (codex/app_server.rs, event_line), with the same result.
    for (count, policy) in [
        (90_000, "auto-edit"),
        (200_000, "auto-edit"),
        (750_000, "auto-edit"),
        (200_000, "ask"),
        (750_000, "ask"),
    ] {
        let home = TempHome::new();
        let command = format!("seq 1 {count}; exit 3");
        let provider = FakeProvider::start(Behaviour::Script(vec![
            Answer::Exec(command.clone()),
            Answer::Message("printed".into()),
        ]));
        let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
            return;
        };
        let client = daemon.client().await;
        let id = start_job(&client, start_req(&home, "print numbers", policy)).await;
        let end = run_to_end(&client, &id).await;
        let job = end.job.expect("job");
        assert_eq!(job.status(), JobStatus::Done, "{:?}", job.error);
        let s = end.summary.expect("summary");
        let runs: Vec<_> = s
            .commands
            .iter()
            .map(|c| (c.command.as_str(), c.exit_code, c.status.as_str()))
            .collect();
        assert!(
            matches!(runs.as_slice(), [(c, Some(3), "failed")] if c.contains(&command)),
            "{count} {policy}: {runs:?}"
        );
        assert_eq!(s.commands_count, 1);
        assert_eq!(s.final_message.as_deref(), Some("printed"));
        assert_eq!(s.parsed_bytes, end.output_bytes);
        // The finished job's latest events show the command and its end,
        // and not codex's set-up warning (its CODEX_HOME is under /tmp).
        assert!(
            end.events.contains(&format!("$ {command}  → exit 3\n")),
            "{count}: {}",
            end.events
        );
        assert!(
            end.events.contains("message: printed\nturn done:"),
            "{}",
            end.events
        );
        assert!(
            !end.events.contains("WARNING: proceeding"),
            "{}",
            end.events
        );
    }
}

#[tokio::test]
async fn an_api_key_in_codexds_environment_reaches_openais_provider_from_the_app_server() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Reply("hello with a key".into()));
    let key = ("CODEX_API_KEY", "sk-test-key-1234".to_string());
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[key]).await else {
        return;
    };
    // No provider of the user's own: OpenAI's, pointed at the fake. codex
    // app-server alone would send no key at all (measured, 0.171).
    provider.write_openai_config(&home.root().join("codex-home"));
    let client = daemon.client().await;
    let first = start_job(&client, start_req(&home, "say hi", "suggest")).await;
    let end = run_to_end(&client, &first).await;
    testkit::expect_done(&end);
    let reply = start_job(
        &client,
        StartRequest {
            prompt: "again".into(),
            reply_to: Some(first),
            ..Default::default()
        },
    )
    .await;
    let end = run_to_end(&client, &reply).await;
    testkit::expect_done(&end);
    let seen = provider.authorizations();
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(
        seen.iter()
            .all(|a| a.as_deref() == Some("Bearer sk-test-key-1234")),
        "{seen:?}"
    );
}
