//! Fault injection: the daemon, its monitors and its clients are killed,
//! flooded and crowded, and every case asserts the exact end state.
//! (A codexd killed mid-job, re-adoption and true exit codes after a restart
//! are in lifecycle.rs.)

use std::{
    collections::HashMap,
    process::Stdio,
    sync::atomic::{AtomicUsize, Ordering},
};

use codex_async_proto::{
    v1::{GetRequest, GetResponse, Job, JobStatus, ListRequest, StartRequest},
    Client,
};
use testkit::{poll_for, Daemon, TempHome};

fn start_req(home: &TempHome, prompt: &str) -> StartRequest {
    StartRequest {
        prompt: prompt.into(),
        cwd: home.workdir().display().to_string(),
        approval_policy: None,
        model: None,
    }
}

async fn start(client: &mut Client, home: &TempHome, prompt: &str) -> Job {
    client
        .start(start_req(home, prompt))
        .await
        .expect("start")
        .into_inner()
        .job
        .expect("job in start response")
}

async fn get(client: &mut Client, id: &str) -> GetResponse {
    client
        .get(GetRequest {
            job_id: id.into(),
            tail_lines: None,
        })
        .await
        .expect("get")
        .into_inner()
}

async fn wait_for_end(client: &Client, id: &str) -> GetResponse {
    poll_for("the job to end", || {
        let mut client = client.clone();
        let id = id.to_string();
        async move {
            let resp = get(&mut client, &id).await;
            let ended = resp.job.as_ref().is_some_and(|j| j.status().is_terminal());
            ended.then_some(resp)
        }
    })
    .await
}

async fn list_all(client: &mut Client) -> Vec<Job> {
    client
        .list(ListRequest {
            limit: Some(1000),
            status: None,
        })
        .await
        .expect("list")
        .into_inner()
        .jobs
}

#[tokio::test]
async fn a_bad_setting_stops_the_daemon_at_start_naming_the_variable() {
    let home = TempHome::new();
    for (name, value) in [
        ("CODEX_ASYNC_MAX_JOBS", "0"),
        ("CODEX_ASYNC_OUTPUT_CAP_BYTES", "lots"),
        ("CODEX_ASYNC_RETENTION_DAYS", "-3"),
    ] {
        let out = home
            .codexd()
            .env(name, value)
            .arg("serve")
            .stdin(Stdio::null())
            .output()
            .expect("run codexd serve");
        assert!(!out.status.success(), "{name}={value} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(name) && stderr.contains(value), "{stderr}");
    }
}

#[tokio::test]
async fn queue_of_ten_with_limit_two_runs_at_most_two_in_fifo_order() {
    let home = TempHome::new();
    let daemon = Daemon::start_with(&home, &[("CODEX_ASYNC_MAX_JOBS", "2".into())]).await;
    let mut client = daemon.client().await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let job = start(&mut client, &home, &format!("print:job{i};sleep:0.3")).await;
        if i >= 2 {
            // Both slots are taken by jobs that sleep: the rest wait.
            assert_eq!(job.status(), JobStatus::Queued, "job {i}");
            assert_eq!(job.pid, None, "a queued job has no codex pid");
        }
        ids.push(job.job_id);
    }
    let most = AtomicUsize::new(0);
    poll_for("all ten jobs to finish", || {
        let mut client = client.clone();
        let most = &most;
        let home = &home;
        async move {
            let jobs = list_all(&mut client).await;
            let running = jobs
                .iter()
                .filter(|j| j.status() == JobStatus::Running)
                .count();
            let monitors = home.live_monitors().len();
            assert!(running <= 2, "{running} jobs running with a limit of 2");
            assert!(monitors <= 2, "{monitors} monitors alive with a limit of 2");
            most.fetch_max(running, Ordering::SeqCst);
            jobs.iter().all(|j| j.status().is_terminal()).then_some(())
        }
    })
    .await;
    assert_eq!(
        most.into_inner(),
        2,
        "the limit is used, not just respected"
    );
    let by_id: HashMap<String, Job> = list_all(&mut client)
        .await
        .into_iter()
        .map(|j| (j.job_id.clone(), j))
        .collect();
    let started: Vec<String> = ids
        .iter()
        .map(|id| {
            let job = &by_id[id];
            assert_eq!(job.status(), JobStatus::Done, "{id}: {:?}", job.error);
            job.started_at.clone().expect("started_at")
        })
        .collect();
    let mut sorted = started.clone();
    sorted.sort();
    assert_eq!(
        started, sorted,
        "jobs started in the order they were created"
    );
}

#[tokio::test]
async fn output_over_the_cap_keeps_the_tail_and_a_marker() {
    let home = TempHome::new();
    let cap: u64 = 64 * 1024;
    let daemon =
        Daemon::start_with(&home, &[("CODEX_ASYNC_OUTPUT_CAP_BYTES", cap.to_string())]).await;
    let client = daemon.client().await;
    // 3,000,000 bytes of 64-byte lines: spam 000000000 … spam 000046874.
    let job = start(&mut client.clone(), &home, "spam:3000000;print:the-end").await;
    let end = wait_for_end(&client, &job.job_id).await;
    assert_eq!(end.job.as_ref().map(|j| j.status()), Some(JobStatus::Done));
    let last = format!("spam {:09} {}\n", 46874, ".".repeat(48));
    assert!(
        end.output.contains(&last),
        "poll shows the last lines: {}",
        end.output
    );
    assert!(end.output.contains("the-end"));

    let dir = home.paths().jobs().join(&job.job_id);
    let output = dir.join("output.txt");
    let meta = std::fs::metadata(&output).expect("output.txt");
    let log = std::fs::read_to_string(dir.join("monitor.log")).unwrap_or_default();
    use std::os::unix::fs::MetadataExt;
    if log.contains("(Punch)") {
        // A filesystem without collapse: the head is a hole, disk use is bounded.
        assert!(
            meta.blocks() * 512 <= cap + 64 * 1024,
            "{} bytes on disk",
            meta.blocks() * 512
        );
    } else {
        assert!(
            meta.len() <= cap,
            "output.txt is {} bytes, over the cap {cap}",
            meta.len()
        );
    }
    let data = std::fs::read(&output).expect("read output");
    let text = String::from_utf8_lossy(&data);
    let marker = text
        .lines()
        .find(|l| l.starts_with("[codex-async: "))
        .unwrap_or_else(|| panic!("no marker line; monitor.log: {log}"));
    let dropped: u64 = marker["[codex-async: ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("dropped count in marker");
    assert!(
        dropped >= 3_000_000 - cap,
        "marker says {dropped} bytes dropped"
    );
    assert!(text.ends_with("{\"type\": \"fake.print\", \"text\": \"the-end\"}\n"));
    assert!(text.contains(&last));
}
