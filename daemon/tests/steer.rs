//! Steering a running job (issue 28): text sent into codex's turn while it
//! works, through the Steer RPC, `codexd steer` and codex_reply; refused,
//! changing nothing, for a job in no turn. Real daemon, real socket, the
//! fake codex (which takes `turn/steer` as codex's app-server does and says
//! what it was told before its turn ends).

use std::{fs, path::Path};

use codex_async_proto::{
    job_result::JobResult,
    v1::{JobStatus, SteerRequest},
    Client,
};
use nix::sys::signal::Signal;
use testkit::{start_job, wait_for_end, wait_until, Daemon, TempHome};
use tonic::Code;

async fn steer(client: &Client, id: &str, text: &str) -> Result<String, tonic::Status> {
    client
        .clone()
        .steer(SteerRequest {
            job_id: id.into(),
            text: text.into(),
        })
        .await
        .map(|r| r.into_inner().message)
}

/// Steers `id` with `text`, which must be refused with `code` and a message
/// holding each of `saying`.
async fn refused(client: &Client, id: &str, text: &str, code: Code, saying: &[&str]) {
    let status = steer(client, id, text)
        .await
        .expect_err("the steering must be refused");
    assert_eq!(status.code(), code, "{}", status.message());
    for words in saying {
        assert!(status.message().contains(words), "{}", status.message());
    }
}

/// A job whose turn runs until `go` exists.
fn waiting_prompt(go: &Path) -> String {
    format!("msg:working;waitfile:{};msg:done", go.display())
}

/// Waits until the job's turn has started (its monitor can steer it).
async fn in_its_turn(client: &Client, id: &str) {
    testkit::wait_until_async("the job's turn to start", || {
        let client = client.clone();
        let id = id.to_string();
        async move {
            let got = testkit::get(&mut client.clone(), &id).await;
            got.events.contains("message: working")
        }
    })
    .await;
}

#[tokio::test]
async fn a_running_job_takes_a_steering_and_its_result_says_so() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let go = home.root().join("go");
    let job = start_job(&client, home.start_request(&waiting_prompt(&go))).await;
    in_its_turn(&client, &job.job_id).await;

    let said = steer(&client, &job.job_id, "use the v2 API, not v1")
        .await
        .expect("steer a running job");
    assert!(said.starts_with("codex has it"), "{said}");
    // And from a terminal, in order.
    let out = home.run_codexd(&["steer", &job.job_id, "and keep the tests green"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("codex has it"));

    fs::write(&go, "").expect("go");
    let end = wait_for_end(&client, &job.job_id).await;
    let ended = end.job.clone().expect("job");
    assert_eq!(ended.status(), JobStatus::Done, "{:?}", ended.error);
    let summary = end.summary.clone().expect("summary");
    assert_eq!(
        summary.steered,
        vec!["use the v2 API, not v1", "and keep the tests green"]
    );
    // codex read them in its turn: the fake says what it was told.
    assert_eq!(
        summary.final_message.as_deref(),
        Some("steered: and keep the tests green")
    );
    let result = JobResult::from_get(&end, None, chrono::Utc::now())
        .expect("result")
        .to_text();
    let first = result
        .find("Steered: use the v2 API, not v1")
        .expect(&result);
    let second = result
        .find("Steered: and keep the tests green")
        .expect(&result);
    assert!(first < second, "in the order they were sent:\n{result}");
    let events = testkit::get(&mut client.clone(), &job.job_id).await.events;
    assert!(
        events.contains("steered: use the v2 API, not v1"),
        "{events}"
    );
}

#[tokio::test]
async fn a_job_in_no_turn_refuses_a_steering_and_nothing_changes() {
    let home = TempHome::new();
    let daemon = Daemon::start_with(&home, &[("CODEX_ASYNC_MAX_JOBS", "1".to_string())]).await;
    let client = daemon.client().await;
    let go = home.root().join("go");
    let running = start_job(&client, home.start_request(&waiting_prompt(&go))).await;
    let queued = start_job(&client, home.start_request("msg:later")).await;
    assert_eq!(queued.status(), JobStatus::Queued);

    refused(
        &client,
        &queued.job_id,
        "hurry",
        Code::FailedPrecondition,
        &["is queued", "cancel it and start it again"],
    )
    .await;
    assert!(!home
        .paths()
        .jobs()
        .join(&queued.job_id)
        .join("steer")
        .exists());

    fs::write(&go, "").expect("go");
    wait_for_end(&client, &running.job_id).await;
    refused(
        &client,
        &running.job_id,
        "too late",
        Code::FailedPrecondition,
        &["has ended (done)", "codex_reply"],
    )
    .await;
    let end = wait_for_end(&client, &running.job_id).await;
    assert!(end.summary.expect("summary").steered.is_empty());

    refused(&client, "0123456789ab", "anyone?", Code::NotFound, &[]).await;
    let blank = steer(&client, &running.job_id, "  ")
        .await
        .expect_err("blank text");
    assert_eq!(blank.code(), Code::InvalidArgument);
    assert!(blank.message().starts_with("text:"), "{}", blank.message());
    let out = home.run_codexd(&["steer", "0123456789ab", "x"]);
    assert!(!out.status.success());
}

#[tokio::test]
async fn a_steering_reaches_codex_after_codexd_was_killed() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let go = home.root().join("go");
    let job = start_job(&client, home.start_request(&waiting_prompt(&go))).await;
    in_its_turn(&client, &job.job_id).await;
    daemon.signal(Signal::SIGKILL);
    daemon.wait();

    // The monitor holds codex: the next codexd steers it.
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let said = steer(&client, &job.job_id, "after the restart")
        .await
        .expect("steer after a restart");
    assert!(said.starts_with("codex has it"), "{said}");
    fs::write(&go, "").expect("go");
    let end = wait_for_end(&client, &job.job_id).await;
    let summary = end.summary.expect("summary");
    assert_eq!(summary.steered, vec!["after the restart"]);
    assert_eq!(
        summary.final_message.as_deref(),
        Some("steered: after the restart")
    );
    wait_until("the monitor to be gone", || home.live_monitors().is_empty());
}

#[tokio::test]
async fn a_steering_during_a_command_reaches_the_real_codexs_next_model_request() {
    use testkit::{Answer, Behaviour, FakeProvider};
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::Exec("sleep 3; echo slept".into()),
        Answer::Message("done as steered".into()),
    ]));
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let mut request = home.start_request("run the command");
    request.approval_policy = Some("auto-edit".into());
    request.model = Some("gpt-5.5".into());
    let job = start_job(&client, request).await;
    testkit::wait_until_async("codex to be running its command", || {
        let client = client.clone();
        let id = job.job_id.clone();
        async move {
            let got = testkit::get(&mut client.clone(), &id).await;
            got.summary.is_some_and(|s| s.activity.contains("sleep 3"))
        }
    })
    .await;
    let posts_before = provider.posts();
    let said = steer(&client, &job.job_id, "STEER-TOKEN-42: also print the date")
        .await
        .expect("steer the real codex");
    assert!(said.starts_with("codex has it"), "{said}");

    let end = wait_for_end(&client, &job.job_id).await;
    let ended = end.job.clone().expect("job");
    assert_eq!(
        ended.status(),
        JobStatus::Done,
        "{:?}\n{}",
        ended.error,
        end.output
    );
    let summary = end.summary.expect("summary");
    assert_eq!(summary.steered, vec!["STEER-TOKEN-42: also print the date"]);
    assert_eq!(summary.final_message.as_deref(), Some("done as steered"));
    // The model's next request, after the command's output, carries it.
    let bodies = provider.bodies();
    let after: Vec<String> = bodies
        .iter()
        .skip(posts_before.saturating_sub(1))
        .map(|b| b.to_string())
        .collect();
    assert!(
        after.iter().any(|b| b.contains("STEER-TOKEN-42")),
        "no request after the steering carries it ({} requests)",
        bodies.len()
    );
    assert!(
        !bodies[..posts_before.saturating_sub(1).min(bodies.len())]
            .iter()
            .any(|b| b.to_string().contains("STEER-TOKEN-42")),
        "it cannot be in a request made before it was sent"
    );
}

#[tokio::test]
async fn steerings_sent_at_once_all_reach_codex() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let go = home.root().join("go");
    let job = start_job(&client, home.start_request(&waiting_prompt(&go))).await;
    in_its_turn(&client, &job.job_id).await;
    let texts: Vec<String> = (0..8).map(|n| format!("at once {n}")).collect();
    let calls = texts.iter().map(|text| {
        let client = client.clone();
        let (id, text) = (job.job_id.clone(), text.clone());
        tokio::spawn(async move { steer(&client, &id, &text).await })
    });
    for call in calls.collect::<Vec<_>>() {
        let said = call.await.expect("join").expect("steer");
        assert!(said.starts_with("codex has it"), "{said}");
    }
    fs::write(&go, "").expect("go");
    let end = wait_for_end(&client, &job.job_id).await;
    let mut steered = end.summary.expect("summary").steered;
    steered.sort();
    assert_eq!(steered, texts, "each one, once");
}
