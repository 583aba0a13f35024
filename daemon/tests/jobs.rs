//! The job lifecycle through the real daemon on a real socket: start, poll,
//! list, cancel, watch, and what lands on disk.

use codex_async_proto::v1::{
    watch_event::Event, CancelRequest, GetRequest, GetResponse, JobStatus, ListRequest,
    StartRequest, WatchRequest,
};
use codex_async_proto::Client;
use testkit::{get, pid_alive, poll_for, Daemon, TempHome};

async fn start(client: &mut Client, req: StartRequest) -> String {
    let resp = client.start(req).await.expect("start").into_inner();
    resp.job.expect("job in start response").job_id
}

fn status(resp: &GetResponse) -> JobStatus {
    resp.job
        .as_ref()
        .map(|j| j.status())
        .unwrap_or(JobStatus::Unspecified)
}

async fn wait_for_end(client: &mut Client, id: &str) -> GetResponse {
    poll_for("the job to end", || {
        let mut client = client.clone();
        let id = id.to_string();
        async move {
            let resp = get(&mut client, &id).await;
            status(&resp).is_terminal().then_some(resp)
        }
    })
    .await
}

/// The pid printed by the fake codex on a line of the given type.
fn pid_in_output(output: &str, kind: &str) -> Option<i32> {
    output
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == kind)
        .and_then(|v| v["pid"].as_i64())
        .map(|p| p as i32)
}

#[tokio::test]
async fn start_returns_while_the_job_runs_then_poll_sees_it_finish() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;

    let resp = client
        .start(home.start_request("print:hello;sleep:1.5"))
        .await
        .expect("start")
        .into_inner();
    let job = resp.job.expect("job");
    assert_eq!(
        job.status(),
        JobStatus::Running,
        "start answers while codex runs"
    );
    let codex_pid = testkit::codex_of(&home, &job.job_id);
    assert!(pid_alive(codex_pid), "codex runs after start returned");
    assert_eq!(job.job_id.len(), 12);

    let done = wait_for_end(&mut client, &job.job_id).await;
    let job = done.job.as_ref().expect("job");
    assert_eq!(job.status(), JobStatus::Done);
    assert_eq!(job.exit_code, Some(0));
    assert!(job.finished_at.is_some() && job.started_at.is_some());
    assert!(done.output.contains("\"hello\""), "output: {}", done.output);
    assert!(!pid_alive(codex_pid));
}

#[tokio::test]
async fn non_zero_exit_is_an_error_with_its_code() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let id = start(&mut client, home.start_request("stderr:boom;exit:3")).await;
    let end = wait_for_end(&mut client, &id).await;
    let job = end.job.expect("job");
    assert_eq!(job.status(), JobStatus::Error);
    assert_eq!(job.exit_code, Some(3));
    assert!(job.error.unwrap_or_default().contains("code 3"));
    assert!(end.output.contains("boom"), "stderr is captured too");
}

#[tokio::test]
async fn codex_app_server_gets_the_policy_model_directory_and_prompt_in_its_requests() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let workdir = home.workdir().canonicalize().expect("canonical workdir");

    for (policy, approval, sandbox) in [
        ("suggest", "never", "read-only"),
        ("auto-edit", "never", "workspace-write"),
        ("full-auto", "never", "danger-full-access"),
        ("ask", "on-request", "workspace-write"),
    ] {
        // A prompt that looks like a flag must reach codex as the prompt.
        let prompt = "--dangerously-bypass-approvals-and-sandbox -c x=y";
        let mut req = home.start_request(prompt);
        req.approval_policy = Some(policy.into());
        req.model = Some("gpt-5.5".into());
        req.reasoning_effort = Some("high".into());
        let id = start(&mut client, req).await;
        let end = wait_for_end(&mut client, &id).await;
        let args: serde_json::Value = end
            .output
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["type"] == "fake.args")
            .expect("fake.args line");
        let cwd = workdir.display().to_string();
        assert_eq!(args["argv"], serde_json::json!(["app-server"]), "{policy}");
        assert_eq!(args["method"], "thread/start");
        assert_eq!(
            (&args["approval_policy"], &args["sandbox"]),
            (&serde_json::json!(approval), &serde_json::json!(sandbox)),
            "policy {policy}"
        );
        assert_eq!(args["model"], "gpt-5.5");
        assert_eq!(args["effort"], "high");
        assert_eq!(args["prompt"], prompt);
        assert_eq!(args["cwd"], cwd);
        assert_eq!(
            args["pgid"], args["pid"],
            "codex leads its own process group"
        );
        assert_eq!(end.job.expect("job").approval_policy, policy);
    }
}

#[tokio::test]
async fn cancel_stops_codex_and_a_setsid_grandchild_that_ignores_signals() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let id = start(
        &mut client,
        home.start_request("grandchild;ignore-term;ignore-int;hang"),
    )
    .await;

    let grandchild = poll_for("the grandchild to start", || {
        let mut client = client.clone();
        let id = id.clone();
        async move { pid_in_output(&get(&mut client, &id).await.output, "fake.grandchild") }
    })
    .await;
    let codex = get(&mut client, &id)
        .await
        .job
        .and_then(|j| j.pid)
        .expect("codex pid");
    assert!(pid_alive(grandchild) && pid_alive(codex));

    let resp = client
        .cancel(CancelRequest { job_id: id.clone() })
        .await
        .expect("cancel")
        .into_inner();
    assert!(resp.cancelled, "{}", resp.message);
    assert_eq!(resp.job.expect("job").status(), JobStatus::Cancelled);
    assert!(!pid_alive(codex), "codex survived cancel");
    assert!(
        !pid_alive(grandchild),
        "grandchild {grandchild} survived cancel"
    );
    assert!(home.live_monitors().is_empty(), "the monitor exited");

    let again = client
        .cancel(CancelRequest { job_id: id.clone() })
        .await
        .expect("second cancel")
        .into_inner();
    assert!(!again.cancelled);
    assert!(
        again.message.contains("already finished"),
        "{}",
        again.message
    );
    assert_eq!(again.job.expect("job").status(), JobStatus::Cancelled);
}

#[tokio::test]
async fn leftover_processes_are_stopped_when_codex_exits() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let id = start(&mut client, home.start_request("grandchild")).await;
    let end = wait_for_end(&mut client, &id).await;
    let grandchild = pid_in_output(&end.output, "fake.grandchild").expect("grandchild pid");
    assert_eq!(status(&end), JobStatus::Done);
    assert!(
        !pid_alive(grandchild),
        "a process codex left behind outlived the job"
    );
}

#[tokio::test]
async fn list_is_newest_first_limited_and_filtered() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(start(&mut client, home.start_request(&format!("print:{i}"))).await);
    }
    let hang = start(&mut client, home.start_request("hang")).await;
    for id in &ids {
        wait_for_end(&mut client, id).await;
    }

    let list = |limit, status| ListRequest { limit, status };
    let all = client
        .list(list(None, None))
        .await
        .expect("list")
        .into_inner()
        .jobs;
    let listed: Vec<_> = all.iter().map(|j| j.job_id.clone()).collect();
    let mut expected = vec![hang.clone()];
    expected.extend(ids.iter().rev().cloned());
    assert_eq!(listed, expected);

    let two = client
        .list(list(Some(2), None))
        .await
        .expect("list")
        .into_inner()
        .jobs;
    assert_eq!(
        two.iter().map(|j| j.job_id.clone()).collect::<Vec<_>>(),
        expected[..2]
    );

    let running = client
        .list(list(None, Some(JobStatus::Running as i32)))
        .await
        .expect("list")
        .into_inner()
        .jobs;
    assert_eq!(
        running.iter().map(|j| j.job_id.clone()).collect::<Vec<_>>(),
        vec![hang]
    );
}

#[tokio::test]
async fn meta_json_mirrors_the_database() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let id = start(&mut client, home.start_request("print:x;exit:7")).await;
    let end = wait_for_end(&mut client, &id).await;
    let job = end.job.expect("job");

    let meta_path = home.paths().jobs().join(&id).join("meta.json");
    // meta.json is written after the database commit that Get already sees.
    testkit::wait_until("meta.json to record the end", || {
        std::fs::read(&meta_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|m| m["status"] == "error")
    });
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).expect("meta.json")).expect("json");
    assert_eq!(meta["job_id"], job.job_id);
    assert_eq!(meta["status"], "error");
    assert_eq!(meta["prompt"], job.prompt);
    assert_eq!(meta["cwd"], job.cwd);
    assert_eq!(meta["approval_policy"], "suggest");
    assert_eq!(meta["pid"], job.pid.expect("pid"));
    assert_eq!(meta["started_at"], job.started_at.expect("started_at"));
    assert_eq!(meta["finished_at"], job.finished_at.expect("finished_at"));
    assert_eq!(meta["exit_code"], 7);
    for time in ["created_at", "started_at", "finished_at"] {
        let text = meta[time].as_str().expect("time string");
        assert!(chrono_like_rfc3339(text), "{time} = {text}");
    }
    let output = std::fs::read_to_string(home.paths().jobs().join(&id).join("output.txt"))
        .expect("output.txt");
    assert!(output.contains("\"x\""));
}

fn chrono_like_rfc3339(s: &str) -> bool {
    // 2026-04-29T10:00:00.123+00:00
    s.len() == 29 && &s[4..5] == "-" && &s[10..11] == "T" && s.ends_with("+00:00")
}

#[tokio::test]
async fn watch_streams_output_and_status_until_the_end() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let id = start(&mut client, home.start_request("lines:3;sleep:0.5;lines:2")).await;
    let mut stream = client
        .watch(WatchRequest {
            job_id: id.clone(),
            from_offset: 0,
        })
        .await
        .expect("watch")
        .into_inner();
    let mut output = Vec::new();
    let mut statuses = Vec::new();
    while let Some(event) = stream.message().await.expect("watch event") {
        match event.event {
            Some(Event::Output(chunk)) => {
                assert_eq!(chunk.offset as usize, output.len(), "chunks are contiguous");
                output.extend(chunk.data);
            }
            Some(Event::Job(job)) => statuses.push(job.status()),
            None => {}
        }
    }
    assert_eq!(statuses.last(), Some(&JobStatus::Done));
    let text = String::from_utf8_lossy(&output);
    assert_eq!(text.matches("line ").count(), 5, "{text}");
    let file = std::fs::read(home.paths().jobs().join(&id).join("output.txt")).expect("output");
    assert_eq!(output, file, "watch delivered exactly the file");
}

#[tokio::test]
async fn a_missing_codex_binary_is_an_error_that_says_so() {
    let home = TempHome::new();
    let daemon = {
        // Point CODEX_BIN at nothing for this daemon only.
        let missing = home.root().join("no-such-codex");
        Daemon::start_with(&home, &[("CODEX_BIN", missing.display().to_string())]).await
    };
    let mut client = daemon.client().await;
    let refused = client
        .start(home.start_request("print:x"))
        .await
        .expect_err("a Start with no codex installed is refused");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    let reason = refused.message();
    assert!(
        reason.contains("no-such-codex")
            && reason.contains("CODEX_BIN")
            && reason.contains("npm install -g @openai/codex"),
        "{reason}"
    );
    assert!(
        testkit::list_all(&client).await.is_empty(),
        "nothing is recorded"
    );
    let jobs = std::fs::read_dir(home.paths().jobs()).map_or(0, |d| d.count());
    assert_eq!(jobs, 0, "no job folder is left");
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_the_field_and_leaves_no_trace() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let work = home.workdir();
    let file = work.join("a-file");
    std::fs::write(&file, "x").expect("file");
    let req = |prompt: &str, cwd: &str, policy: Option<&str>, model: Option<&str>| StartRequest {
        prompt: prompt.into(),
        cwd: cwd.into(),
        approval_policy: policy.map(Into::into),
        model: model.map(Into::into),
        ..Default::default()
    };
    let w = work.display().to_string();
    let cases = [
        (req("", &w, None, None), "prompt:"),
        (req(" \n\t", &w, None, None), "prompt:"),
        (req(&"p".repeat(1024 * 1024 + 1), &w, None, None), "prompt:"),
        (req("p", "", None, None), "cwd:"),
        (req("p", "relative/dir", None, None), "cwd:"),
        (
            req("p", "/nonexistent/codex-async-test", None, None),
            "cwd:",
        ),
        (req("p", &file.display().to_string(), None, None), "cwd:"),
        (req("p", &w, Some("yolo"), None), "approval_policy:"),
        (req("p", &w, Some("--full-auto"), None), "approval_policy:"),
        (req("p", &w, None, Some("-c x=y")), "model:"),
    ];
    for (request, field) in cases {
        let err = client.start(request).await.expect_err("must be refused");
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{field}");
        assert!(
            err.message().starts_with(field),
            "{field}: {}",
            err.message()
        );
    }
    for bad in ["", "../../etc", "ABCDEF012345", "abc", "0123456789abX"] {
        let err = client
            .get(GetRequest {
                job_id: bad.into(),
                tail_lines: None,
                since: None,
            })
            .await
            .expect_err("bad id");
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{bad:?}");
        assert!(err.message().starts_with("job_id:"), "{}", err.message());
        let err = client
            .cancel(CancelRequest { job_id: bad.into() })
            .await
            .expect_err("bad id");
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }
    let unknown = client
        .get(GetRequest {
            job_id: "0123456789ab".into(),
            tail_lines: None,
            since: None,
        })
        .await
        .expect_err("unknown id");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    assert!(unknown.message().starts_with("job_id:"));
    let too_many = client
        .get(GetRequest {
            job_id: "0123456789ab".into(),
            tail_lines: Some(1_000_000),
            since: None,
        })
        .await
        .expect_err("tail bound");
    assert!(too_many.message().starts_with("tail_lines:"));
    for limit in [0, 100_000] {
        let err = client
            .list(ListRequest {
                limit: Some(limit),
                status: None,
            })
            .await
            .expect_err("limit bound");
        assert!(err.message().starts_with("limit:"), "{}", err.message());
    }

    let jobs: Vec<_> = std::fs::read_dir(home.paths().jobs())
        .expect("jobs dir")
        .collect();
    assert!(jobs.is_empty(), "rejected requests created job folders");
    let listed = client
        .list(ListRequest {
            limit: None,
            status: None,
        })
        .await
        .expect("list");
    assert!(
        listed.into_inner().jobs.is_empty(),
        "rejected requests created rows"
    );
}

#[tokio::test]
async fn what_codex_prints_on_stdout_outside_the_protocol_is_kept() {
    let home = TempHome::new();
    // A wrapper as people put in CODEX_BIN: it says something on stdout,
    // which is the app-server's protocol channel, then runs codex.
    let wrapper = home.root().join("codex-wrapper");
    testkit::write_script(
        &wrapper,
        &format!(
            "#!/bin/sh\necho 'wrapper: using the team codex'\nexec '{}' \"$@\"\n",
            testkit::fake_codex().display()
        ),
    );
    let daemon = Daemon::start_with(&home, &[("CODEX_BIN", wrapper.display().to_string())]).await;
    let mut client = daemon.client().await;
    let id = start(&mut client, home.start_request("msg:fine")).await;
    let end = wait_for_end(&mut client, &id).await;
    let job = testkit::expect_done(&end);
    assert_eq!(job.exit_code, Some(0));
    assert!(
        end.output.contains("wrapper: using the team codex\n"),
        "{}",
        end.output
    );
}
