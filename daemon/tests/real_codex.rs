//! End to end against the real codex CLI (npm @openai/codex), offline: codex
//! talks to a fake Responses API on loopback. Proves the command line codexd
//! builds is one the real CLI accepts, and that cancel stops the real thing.

use codex_async_proto::v1::{CancelRequest, GetRequest, GetResponse, JobStatus, StartRequest};
use codex_async_proto::Client;
use testkit::{pid_alive, poll_for, real_codex, Behaviour, Daemon, FakeProvider, TempHome};

async fn daemon_with_real_codex(home: &TempHome, provider: &FakeProvider) -> Option<Daemon> {
    let codex = real_codex()?;
    let codex_home = home.root().join("codex-home");
    provider.write_codex_config(&codex_home);
    let env = [
        ("CODEX_BIN", codex.display().to_string()),
        ("CODEX_HOME", codex_home.display().to_string()),
    ];
    Some(Daemon::start_with(home, &env).await)
}

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
    let Some(daemon) = daemon_with_real_codex(&home, &provider).await else {
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
    let Some(daemon) = daemon_with_real_codex(&home, &provider).await else {
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
    let codex = job.pid.expect("codex pid");
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
