//! Codex-aware jobs through the real daemon: the event summary, the
//! since/cursor protocol, replies, worktree isolation and the watchdogs.

use std::path::Path;

use codex_async_proto::job_result::JobResult;
use codex_async_proto::v1::{GetRequest, GetResponse, JobStatus, StartRequest};
use codex_async_proto::Client;
use testkit::{poll_for, Daemon, TempHome};

fn req(cwd: &Path, prompt: &str) -> StartRequest {
    StartRequest {
        prompt: prompt.into(),
        cwd: cwd.display().to_string(),
        ..Default::default()
    }
}

async fn start(client: &Client, request: StartRequest) -> String {
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

async fn get(client: &Client, id: &str, since: Option<u64>) -> GetResponse {
    client
        .clone()
        .get(GetRequest {
            job_id: id.into(),
            tail_lines: Some(0),
            since,
        })
        .await
        .expect("get")
        .into_inner()
}

async fn wait_end(client: &Client, id: &str) -> GetResponse {
    poll_for("the job to end", || {
        let client = client.clone();
        let id = id.to_string();
        async move {
            let got = get(&client, &id, None).await;
            got.job
                .as_ref()
                .is_some_and(|j| j.status().is_terminal())
                .then_some(got)
        }
    })
    .await
}

#[tokio::test]
async fn the_summary_tells_what_codex_did_and_concluded() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let work = home.workdir();
    let prompt = "think:hmm;cmd:cargo test=101;cmd:ls=0;patch:notes.txt;novel;noise;msg:All fixed.;usage:120,30";
    let id = start(&client, req(&work, prompt)).await;
    let end = wait_end(&client, &id).await;
    let job = end.job.expect("job");
    assert_eq!(job.status(), JobStatus::Done);
    assert!(job
        .thread_id
        .as_deref()
        .is_some_and(|t| t.starts_with("fake-thread-")));
    let s = end.summary.expect("summary");
    assert_eq!(s.final_message.as_deref(), Some("All fixed."));
    assert_eq!(s.commands_count, 2);
    assert_eq!(s.commands[0].command, "cargo test");
    assert_eq!(s.commands[0].exit_code, Some(101));
    assert_eq!(s.commands[1].exit_code, Some(0));
    assert_eq!(s.files_changed.len(), 1);
    assert_eq!(
        (
            s.files_changed[0].path.as_str(),
            s.files_changed[0].kind.as_str()
        ),
        ("notes.txt", "update")
    );
    let usage = s.usage.expect("usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (120, 30));
    assert_eq!(
        s.parsed_bytes, end.output_bytes,
        "the whole output was folded"
    );
    assert_eq!(end.output, "", "tail_lines 0 returns no raw output");
    // The latest events, one compact line each; unknown types and text kept.
    for line in [
        "$ cargo test  → exit 101",
        "edit: update notes.txt",
        "[fancy.new_event]",
        "this line is not json",
        "turn done: 120 tokens in (0 cached), 30 out",
        "message: All fixed.",
    ] {
        assert!(
            end.events.contains(line),
            "{line:?} missing in:\n{}",
            end.events
        );
    }
    assert!(
        !end.events.contains("{\"type\": \"item"),
        "events are rendered, not raw JSON"
    );
}

#[tokio::test]
async fn the_cursor_returns_only_what_is_new() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let id = start(
        &client,
        req(&home.workdir(), "msg:first;sleep:1;msg:second"),
    )
    .await;
    let first = poll_for("the first message", || {
        let client = client.clone();
        let id = id.clone();
        async move {
            let got = get(&client, &id, Some(0)).await;
            got.events.contains("message: first").then_some(got)
        }
    })
    .await;
    assert!(
        !first.events.contains("message: second"),
        "{}",
        first.events
    );
    let cursor = first.next_cursor;
    wait_end(&client, &id).await;
    let next = get(&client, &id, Some(cursor)).await;
    assert_eq!(
        next.events.trim(),
        "message: second\nturn done: 10 tokens in (0 cached), 1 out",
        "only the new events"
    );
    let after = get(&client, &id, Some(next.next_cursor)).await;
    assert_eq!(after.events, "");
    assert_eq!(after.next_cursor, next.next_cursor);

    let past_end = client
        .clone()
        .get(GetRequest {
            job_id: id.clone(),
            tail_lines: None,
            since: Some(1 << 40),
        })
        .await
        .expect_err("cursor past the end");
    assert_eq!(past_end.code(), tonic::Code::InvalidArgument);
    assert!(past_end.message().starts_with("since:"));
}

#[tokio::test]
async fn a_failed_turn_is_an_error_with_codexs_message() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let id = start(
        &client,
        req(
            &home.workdir(),
            "fail:unexpected status 500 Internal Server Error",
        ),
    )
    .await;
    let job = wait_end(&client, &id).await.job.expect("job");
    assert_eq!(job.status(), JobStatus::Error);
    assert_eq!(job.exit_code, Some(1));
    let error = job.error.unwrap_or_default();
    assert!(
        error.contains("code 1") && error.contains("unexpected status 500"),
        "{error}"
    );
}

#[tokio::test]
async fn reply_continues_the_thread_in_the_same_place() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let work = home.workdir();
    let mut first_req = req(&work, "msg:one");
    first_req.approval_policy = Some("auto-edit".into());
    let first = start(&client, first_req).await;
    let parent = wait_end(&client, &first).await.job.expect("job");
    let thread = parent.thread_id.clone().expect("thread id");

    let reply = StartRequest {
        prompt: "msg:two".into(),
        reply_to: Some(first.clone()),
        ..Default::default()
    };
    let second = start(&client, reply).await;
    let end = client
        .clone()
        .get(GetRequest {
            job_id: second.clone(),
            tail_lines: Some(100),
            since: None,
        })
        .await
        .expect("get")
        .into_inner();
    let end = if end.job.as_ref().is_some_and(|j| j.status().is_terminal()) {
        end
    } else {
        wait_end(&client, &second).await
    };
    let job = end.job.expect("job");
    assert_eq!(job.status(), JobStatus::Done, "{:?}", job.error);
    assert_eq!(job.parent_job_id.as_deref(), Some(first.as_str()));
    assert_eq!(
        job.thread_id.as_deref(),
        Some(thread.as_str()),
        "same codex thread"
    );
    assert_eq!(job.cwd, parent.cwd);
    assert_eq!(
        job.approval_policy, "auto-edit",
        "the parent's policy by default"
    );
    let raw = client
        .clone()
        .get(GetRequest {
            job_id: second.clone(),
            tail_lines: Some(100),
            since: None,
        })
        .await
        .expect("get")
        .into_inner()
        .output;
    let args: serde_json::Value = raw
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "fake.args")
        .expect("fake.args");
    assert_eq!(args["resume"], thread.as_str());
    assert_eq!(
        args["method"], "thread/resume",
        "a new process resumes the thread"
    );
    assert_eq!(args["sandbox"], "workspace-write", "the parent's sandbox");
    assert_eq!(
        args["cwd"],
        job.cwd.as_str(),
        "resume runs in the parent's directory"
    );
    assert_eq!(
        end.summary.expect("summary").final_message.as_deref(),
        Some("two")
    );
}

#[tokio::test]
async fn reply_is_refused_for_running_and_unknown_jobs() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let running = start(&client, req(&home.workdir(), "hang")).await;
    let reply = |to: &str| StartRequest {
        prompt: "more".into(),
        reply_to: Some(to.into()),
        ..Default::default()
    };
    let err = client
        .clone()
        .start(reply(&running))
        .await
        .expect_err("running parent");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(err.message().contains("still running"), "{}", err.message());
    let err = client
        .clone()
        .start(reply("0123456789ab"))
        .await
        .expect_err("unknown parent");
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert!(err.message().starts_with("reply_to:"));
    let jobs = std::fs::read_dir(home.paths().jobs())
        .expect("jobs")
        .count();
    assert_eq!(jobs, 1, "refused replies leave no folder");
}

use testkit::git;

#[tokio::test]
async fn worktree_isolation_keeps_parallel_jobs_apart() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let repo = home.workdir();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(repo.join("sub")).expect("sub");
    std::fs::write(repo.join("sub/file.txt"), "original\n").expect("file");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "init"]);

    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut r = req(&repo.join("sub"), "patch:file.txt;msg:edited");
        r.isolation = Some("worktree".into());
        r.approval_policy = Some("auto-edit".into());
        ids.push(start(&client, r).await);
    }
    for id in &ids {
        let end = wait_end(&client, id).await;
        let job = end.job.expect("job");
        assert_eq!(job.status(), JobStatus::Done, "{:?}", job.error);
        assert_eq!(job.isolation, "worktree");
        assert_eq!(job.branch.as_deref(), Some(format!("codex/{id}").as_str()));
        let tree = job.worktree.expect("worktree dir");
        assert!(tree.starts_with(&home.paths().jobs().join(id).display().to_string()));
        assert!(
            tree.ends_with("/sub"),
            "runs at the same place in the tree: {tree}"
        );
        assert_eq!(
            std::fs::read_to_string(Path::new(&tree).join("file.txt")).expect("worktree file"),
            "original\npatched\n",
            "each job patched its own copy once"
        );
        let diffstat = end.summary.expect("summary").diffstat.expect("diffstat");
        assert!(
            diffstat.contains("sub/file.txt") && diffstat.contains("1 insertion"),
            "{diffstat}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(repo.join("sub/file.txt")).expect("file"),
        "original\n",
        "the user's checkout is untouched"
    );
    let branches = git(&repo, &["branch", "--list", "codex/*"]);
    assert_eq!(branches.lines().count(), 2);
}

#[tokio::test]
async fn worktree_isolation_outside_a_repo_is_a_clear_error() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let mut r = req(&home.workdir(), "msg:x");
    r.isolation = Some("worktree".into());
    let err = client.clone().start(r).await.expect_err("not a repo");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().starts_with("isolation:")
            && err.message().contains("not inside a git repository"),
        "{}",
        err.message()
    );
    assert_eq!(
        std::fs::read_dir(home.paths().jobs())
            .expect("jobs")
            .count(),
        0
    );
}

#[tokio::test]
async fn the_stall_watchdog_stops_a_job_that_only_retries() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let mut r = req(&home.workdir(), "reconnecting");
    r.stall_timeout_seconds = Some(2);
    let id = start(&client, r).await;
    let end = wait_end(&client, &id).await;
    let job = end.job.clone().expect("job");
    assert_eq!(job.status(), JobStatus::Error);
    assert!(
        job.error
            .as_deref()
            .is_some_and(|e| e.starts_with("stalled:")),
        "{:?}",
        job.error
    );
    assert_eq!(job.stall_timeout_seconds, 2);
    assert!(home.live_monitors().is_empty());

    // Every rendering of the ended job leads with the watchdog's reason,
    // not codex's exit after the stop.
    let why = job
        .error
        .as_deref()
        .and_then(|e| e.strip_prefix("stalled:"));
    let text = JobResult::from_get(&end, None, chrono::Utc::now())
        .expect("a result")
        .to_text();
    let head = format!("Codex job {id} stalled (stopped by its watchdog after ");
    assert!(
        text.starts_with(&head) && why.is_some_and(|why| text.contains(&format!("):{why}"))),
        "{text}"
    );
    assert!(!text.contains("(exit "), "{text}");
    let show = home.run_codexd(&["show", &id]);
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(show.starts_with(&head), "{show}");
    assert!(
        show.contains("error (stopped by its watchdog: stalled)"),
        "{show}"
    );
    let logs = home.run_codexd(&["logs", "-f", &id]);
    let logs = String::from_utf8_lossy(&logs.stderr);
    assert!(
        logs.starts_with(&format!("codexd: job {id} ended stalled: no progress")),
        "{logs}"
    );
    let jobs = home.run_codexd(&["jobs"]);
    let jobs = String::from_utf8_lossy(&jobs.stdout);
    let row = jobs
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_default();
    assert_eq!(row.split_whitespace().nth(1), Some("stalled"), "{jobs}");
}

#[tokio::test]
async fn the_max_duration_watchdog_stops_a_long_job() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let mut r = req(&home.workdir(), "grandchild;hang");
    r.max_duration_seconds = Some(1);
    let id = start(&client, r).await;
    let end = wait_end(&client, &id).await;
    let job = end.job.clone().expect("job");
    assert_eq!(job.status(), JobStatus::Error);
    assert!(
        job.error
            .as_deref()
            .is_some_and(|e| e.starts_with("timed_out:")),
        "{:?}",
        job.error
    );
    assert!(home.live_monitors().is_empty());
    let text = JobResult::from_get(&end, None, chrono::Utc::now())
        .expect("a result")
        .to_text();
    assert!(
        text.starts_with(&format!(
            "Codex job {id} timed_out (stopped by its watchdog"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_command_with_megabytes_of_output_keeps_its_exit_code() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    for bytes in [560_000, 5_000_000, 20_000_000] {
        // A long command line, then a flood the fold must skim past, then
        // more: every command is in the summary with its exit code.
        let prompt = format!("cmdout:{bytes}=3;spam:3000000;cmd:ls=0;msg:done");
        let id = start(&client, req(&home.workdir(), &prompt)).await;
        let end = wait_end(&client, &id).await;
        let s = end.summary.expect("summary");
        let runs: Vec<_> = s
            .commands
            .iter()
            .map(|c| (c.command.as_str(), c.exit_code, c.status.as_str()))
            .collect();
        let long = format!("print {bytes}");
        assert_eq!(
            runs,
            [
                (long.as_str(), Some(3), "failed"),
                ("ls", Some(0), "completed")
            ],
            "{bytes} bytes"
        );
        assert_eq!(s.commands_count, 2);
        assert_eq!(s.final_message.as_deref(), Some("done"));
        assert_eq!(s.parsed_bytes, end.output_bytes);

        // The long line among the latest events renders like any command.
        let id = start(
            &client,
            req(&home.workdir(), &format!("cmdout:{bytes}=3;msg:done")),
        )
        .await;
        let end = wait_end(&client, &id).await;
        assert!(
            end.events
                .contains(&format!("$ print {bytes}  → exit 3\nmessage: done\n")),
            "{bytes} bytes: {}",
            end.events
        );
        let s = end.summary.expect("summary");
        assert_eq!(s.commands.first().and_then(|c| c.exit_code), Some(3));
        // And from the cursor's start, page by page.
        let mut cursor = 0;
        let mut events = String::new();
        loop {
            let got = get(&client, &id, Some(cursor)).await;
            events.push_str(&got.events);
            cursor = got.next_cursor;
            if !got.events_truncated {
                break;
            }
        }
        assert!(
            events.contains(&format!("$ print {bytes}  → exit 3\n")),
            "{events}"
        );
    }
}

#[tokio::test]
async fn the_final_message_waits_for_the_end_of_the_turn() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let go = home.root().join("go");
    let prompt = format!(
        "msg:looking into it;waitfile:{};msg:the answer",
        go.display()
    );
    let id = start(&client, req(&home.workdir(), &prompt)).await;
    let running = poll_for("the interim message", || {
        let client = client.clone();
        let id = id.clone();
        async move {
            let got = get(&client, &id, None).await;
            got.summary
                .as_ref()
                .is_some_and(|s| s.activity.starts_with("said:"))
                .then_some(got)
        }
    })
    .await;
    let s = running.summary.expect("summary");
    assert_eq!(s.activity, "said: looking into it");
    assert_eq!(s.final_message, None, "not an answer while codex runs");
    std::fs::write(&go, "").expect("let the job finish");
    let end = wait_end(&client, &id).await;
    assert_eq!(
        end.summary.and_then(|s| s.final_message).as_deref(),
        Some("the answer")
    );

    // A job that exits or fails without ending its turn has no answer, nor
    // has a cancelled one.
    for prompt in [
        "msg:half done;exit:0",
        "msg:half done;fail:boom",
        "msg:half done;hang",
    ] {
        let id = start(&client, req(&home.workdir(), prompt)).await;
        if prompt.ends_with("hang") {
            poll_for("the message", || {
                let client = client.clone();
                let id = id.clone();
                async move {
                    let got = get(&client, &id, None).await;
                    got.events.contains("message: half done").then_some(())
                }
            })
            .await;
            client
                .clone()
                .cancel(codex_async_proto::v1::CancelRequest { job_id: id.clone() })
                .await
                .expect("cancel");
        }
        let end = wait_end(&client, &id).await;
        let s = end.summary.expect("summary");
        assert_eq!(s.final_message, None, "{prompt}");
        let expected = if prompt.contains("fail:") {
            "failed: boom"
        } else {
            "said: half done"
        };
        assert_eq!(s.activity, expected, "{prompt}");
    }
}
