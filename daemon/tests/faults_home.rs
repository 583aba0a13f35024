//! Faults in the home itself (issue 20, "the job folders are the truth"):
//! codexd's socket or lock file deleted under a running daemon, a running
//! job's folder deleted, and a monitor frozen past its watchdog's deadline.
//! Every case runs the real daemon on its real socket with the fake codex.

use std::time::{Duration, Instant};

use codex_async_proto::v1::{CancelRequest, JobStatus};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use testkit::{pid_alive, wait_for_end, wait_until, Daemon, PidGuard, TempHome};

/// The monitor pid a job's monitor.json names, once it is written.
fn monitor_of(home: &TempHome, id: &str) -> i32 {
    let path = home.paths().jobs().join(id).join("monitor.json");
    let mut pid = None;
    wait_until("the job's monitor.json", || {
        pid = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v["monitor_pid"].as_i64());
        pid.is_some()
    });
    pid.expect("monitor pid") as i32
}

#[tokio::test]
async fn a_running_jobs_folder_removed_ends_it_as_error_and_cancel_works() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let mut guards = Vec::new();
    let start_hanging = || {
        let client = client.clone();
        let home = &home;
        async move {
            let job = testkit::start_job(&client, home.start_request("hang")).await;
            (job.job_id.clone(), job.pid.expect("codex pid"))
        }
    };
    // Left alone: it must end by itself, not stay `running`.
    let (alone, alone_codex) = start_hanging().await;
    // Cancelled right after its folder goes.
    let (cancelled, cancelled_codex) = start_hanging().await;
    for (id, codex) in [(&alone, alone_codex), (&cancelled, cancelled_codex)] {
        guards.push(PidGuard::new(monitor_of(&home, id)));
        guards.push(PidGuard::new(codex));
        std::fs::remove_dir_all(home.paths().jobs().join(id)).expect("remove the job folder");
    }
    let resp = client
        .clone()
        .cancel(CancelRequest {
            job_id: cancelled.clone(),
        })
        .await
        .expect("cancel")
        .into_inner();
    let job = resp.job.expect("job");
    assert!(
        job.status().is_terminal(),
        "{:?}: {}",
        job.status(),
        resp.message
    );
    assert!(!resp.message.contains("still stopping"), "{}", resp.message);

    for (id, job) in [
        (&alone, wait_for_end(&client, &alone).await.job),
        (&cancelled, Some(job)),
    ] {
        let job = job.expect("job");
        assert_eq!(job.status(), JobStatus::Error, "{id}: {:?}", job.error);
        let reason = job.error.unwrap_or_default();
        assert!(
            reason.contains("folder") && reason.contains("removed"),
            "{id}: {reason}"
        );
    }
    for guard in &guards {
        let pid = guard.pid();
        wait_until("the job's monitor and codex to be gone", || !pid_alive(pid));
    }
}

#[tokio::test]
async fn a_running_jobs_folder_removed_while_codexd_is_down_ends_it_after_the_restart() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let job = testkit::start_job(&client, home.start_request("hang")).await;
    let _monitor = PidGuard::new(monitor_of(&home, &job.job_id));
    let _codex = PidGuard::new(job.pid.expect("codex pid"));
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    std::fs::remove_dir_all(home.paths().jobs().join(&job.job_id)).expect("remove the folder");

    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let end = wait_for_end(&client, &job.job_id).await.job.expect("job");
    assert_eq!(end.status(), JobStatus::Error, "{:?}", end.error);
    let reason = end.error.unwrap_or_default();
    assert!(
        reason.contains("folder") && reason.contains("removed"),
        "{reason}"
    );
    let meta = home.paths().jobs().join(&job.job_id).join("meta.json");
    wait_until("meta.json to record the end", || {
        std::fs::read_to_string(&meta).is_ok_and(|m| m.contains("\"error\""))
    });
}

/// SIGCONTs the processes when dropped, so a failing test leaves none frozen.
struct Frozen(Vec<i32>);

impl Drop for Frozen {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGCONT);
        }
    }
}

#[tokio::test]
async fn an_exit_that_happened_while_the_monitor_was_frozen_wins_over_its_max_duration() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    const MAX_SECS: u32 = 3;
    // Several at once: the monitor's wake-up may see codex's exit and the
    // watchdog's tick in either order, so one job could pass by luck.
    let mut jobs = Vec::new();
    let started = Instant::now();
    for n in 0..3 {
        let go = home.root().join(format!("go-{n}"));
        let mut request = home.start_request(&format!("waitfile:{};print:done", go.display()));
        request.max_duration_seconds = Some(MAX_SECS);
        let job = testkit::start_job(&client, request).await;
        jobs.push((job.job_id.clone(), job.pid.expect("codex pid"), go));
    }
    let monitors: Vec<i32> = jobs.iter().map(|(id, ..)| monitor_of(&home, id)).collect();
    let _guards: Vec<PidGuard> = monitors.iter().map(|p| PidGuard::new(*p)).collect();
    let frozen = Frozen(monitors.clone());
    for pid in &monitors {
        kill(Pid::from_raw(*pid), Signal::SIGSTOP).expect("SIGSTOP the monitor");
    }
    assert!(
        started.elapsed() < Duration::from_secs(u64::from(MAX_SECS)),
        "the machine is too slow for this test: the monitors were frozen only after {:?}",
        started.elapsed()
    );
    for (_, codex, go) in &jobs {
        std::fs::write(go, "").expect("let codex finish");
        // Exited, unreaped: its monitor is frozen.
        wait_until("codex to exit", || !pid_alive(*codex));
    }
    // The watchdog's deadline passes while the monitors cannot act.
    let past = Duration::from_secs(u64::from(MAX_SECS) + 2);
    wait_until("the max duration to pass", || started.elapsed() > past);
    drop(frozen);
    for (id, ..) in &jobs {
        let job = wait_for_end(&client, id).await.job.expect("job");
        assert_eq!(
            (job.status(), job.exit_code, job.error.as_deref()),
            (JobStatus::Done, Some(0), None),
            "{id}"
        );
    }
}
