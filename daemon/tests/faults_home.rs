//! Faults in the home itself (issue 20, "the job folders are the truth"):
//! codexd's socket or lock file deleted under a running daemon, a running
//! job's folder deleted, and a monitor frozen past its watchdog's deadline.
//! Every case runs the real daemon on its real socket with the fake codex.

use std::{
    os::unix::fs::{FileTypeExt, PermissionsExt},
    process::{Output, Stdio},
    time::{Duration, Instant},
};

use codex_async_proto::{
    connect,
    v1::{CancelRequest, InfoRequest, JobStatus},
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use testkit::{
    daemon_pid, pid_alive, wait_for_end, wait_until, wait_until_async, Daemon, PidGuard,
    ProcessGuard, TempHome,
};

/// How soon codexd must have put back a removed socket or lock file: it looks
/// every half second; the rest is slack for a loaded machine.
const PUT_BACK_WITHIN: Duration = Duration::from_secs(10);

fn run(home: &TempHome, args: &[&str]) -> Output {
    home.codexd()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run codexd")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The monitor pid a job's monitor.json names, once it is written.
use testkit::monitor_of;

#[tokio::test]
async fn a_removed_socket_is_bound_again_and_status_and_stop_find_the_daemon_without_it() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let socket = home.paths().socket;
    std::fs::remove_file(&socket).expect("remove the socket");
    let removed = Instant::now();
    wait_until_async("codexd to answer on its socket again", || {
        let socket = socket.clone();
        async move { connect(&socket).await.is_ok() }
    })
    .await;
    assert!(
        removed.elapsed() < PUT_BACK_WITHIN,
        "the socket came back after {:?}",
        removed.elapsed()
    );
    let meta = std::fs::symlink_metadata(&socket).expect("the new socket");
    assert!(meta.file_type().is_socket());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "same mode as at start"
    );
    let info = daemon
        .client()
        .await
        .info(InfoRequest {})
        .await
        .expect("info on the new socket")
        .into_inner();
    assert_eq!(info.pid, daemon.pid(), "the same daemon answers");

    // A file that is not a socket in its place: codexd does not delete what
    // it did not make (the same rule as at start), so it stays unreachable,
    // and status and stop must find it by its lock.
    std::fs::remove_file(&socket).expect("remove the socket again");
    std::fs::write(&socket, "not a socket").expect("a plain file in its place");
    let status = run(&home, &["status"]);
    let said = text(&status);
    assert_eq!(
        status.status.code(),
        Some(1),
        "running but unreachable: {said}"
    );
    assert!(
        said.contains(&format!("pid {}", daemon.pid())) && said.contains("does not answer"),
        "{said}"
    );
    let json = run(&home, &["status", "--json"]);
    let value: serde_json::Value =
        serde_json::from_slice(&json.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&json)));
    assert_eq!(value["running"], true, "{value}");
    assert_eq!(value["reachable"], false, "{value}");
    assert_eq!(value["pid"], daemon.pid(), "{value}");

    let stop = run(&home, &["stop"]);
    let said = text(&stop);
    assert!(stop.status.success(), "{said}");
    assert!(said.contains("stopped"), "{said}");
    let pid = daemon.pid();
    let exit = daemon.wait();
    assert!(exit.success(), "codexd {pid} stopped cleanly: {exit:?}");
    assert_eq!(
        std::fs::read_to_string(&socket).ok().as_deref(),
        Some("not a socket"),
        "codexd left the file it did not make"
    );
    let status = run(&home, &["status"]);
    assert_eq!(status.status.code(), Some(3), "{}", text(&status));
}

#[tokio::test]
async fn two_daemons_cannot_share_a_home_even_without_its_lock_file_and_socket() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let paths = home.paths();
    std::fs::remove_file(paths.lock()).expect("remove the lock file");
    std::fs::remove_file(&paths.socket).expect("remove the socket");
    let mut second = ProcessGuard::new(
        home.codexd()
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn a second codexd serve"),
    );
    let mut exited = None;
    wait_until("the second codexd to give up", || {
        exited = second.child().try_wait().expect("try_wait");
        exited.is_some()
    });
    let mut stderr = String::new();
    use std::io::Read;
    second
        .child()
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read its stderr");
    assert!(!exited.expect("status").success(), "{stderr}");
    assert!(stderr.contains("already running"), "{stderr}");

    // The first one puts its lock file (naming itself) and socket back.
    let removed = Instant::now();
    wait_until("the lock file to name the running daemon again", || {
        daemon_pid(&paths) == Some(daemon.pid())
    });
    wait_until("the socket to be back", || {
        std::os::unix::net::UnixStream::connect(&paths.socket).is_ok()
    });
    assert!(
        removed.elapsed() < PUT_BACK_WITHIN,
        "{:?}",
        removed.elapsed()
    );
    let info = daemon
        .client()
        .await
        .info(InfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.pid, daemon.pid());
    let stop = run(&home, &["stop"]);
    assert!(stop.status.success(), "{}", text(&stop));
    assert!(daemon.wait().success());
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
            (job.job_id.clone(), testkit::codex_of(home, &job.job_id))
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
    let _codex = PidGuard::new(testkit::codex_of(&home, &job.job_id));
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
async fn a_turn_that_ended_while_the_monitor_was_frozen_wins_over_its_max_duration() {
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
        let ended = home.root().join(format!("ended-{n}"));
        // usage: ends the turn; the pid file then says its end is in the pipe.
        let mut request = home.start_request(&format!(
            "waitfile:{};usage:10,1;pidfile:{}",
            go.display(),
            ended.display()
        ));
        request.max_duration_seconds = Some(MAX_SECS);
        let job = testkit::start_job(&client, request).await;
        jobs.push((job.job_id.clone(), ended, go));
    }
    for (id, ..) in &jobs {
        // The monitor hands codex the prompt after the start: frozen before
        // that, codex would never run.
        let output = home.paths().jobs().join(id).join("output.txt");
        wait_until("codex to have its prompt", || {
            std::fs::read_to_string(&output).is_ok_and(|o| o.contains("fake.args"))
        });
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
    for (_, ended, go) in &jobs {
        std::fs::write(go, "").expect("let codex finish");
        // Its turn's end written, unread: its monitor is frozen.
        wait_until("codex to end its turn", || ended.is_file());
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
