//! The daemon as a process: one per home, stale sockets, start/stop/status,
//! and jobs that outlive a daemon killed with SIGKILL.

use std::{
    os::unix::net::UnixListener,
    process::Stdio,
    time::{Duration, Instant},
};

use codex_async_proto::v1::{GetRequest, JobStatus};
use nix::sys::signal::Signal;
use testkit::{daemon_pid, pid_alive, poll_for, scaled, wait_until, Daemon, TempHome};

#[tokio::test]
async fn a_second_daemon_on_the_same_home_is_refused() {
    let home = TempHome::new();
    let first = Daemon::start(&home).await;
    let started = Instant::now();
    let out = home
        .codexd()
        .arg("serve")
        .stdin(Stdio::null())
        .output()
        .expect("run second codexd");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already running") && stderr.contains(&first.pid().to_string()),
        "{stderr}"
    );
    assert!(
        // An assertion, not a wait: the bound it always had (the old
        // testkit DEADLINE), only scaled for slow machines.
        started.elapsed() < scaled(Duration::from_secs(30)),
        "refused at once, not after a wait"
    );
    // The first one still serves.
    first
        .client()
        .await
        .info(codex_async_proto::v1::InfoRequest {})
        .await
        .expect("info");
}

#[tokio::test]
async fn a_stale_socket_from_a_crashed_daemon_is_replaced() {
    let home = TempHome::new();
    std::fs::create_dir_all(home.home()).expect("home");
    let socket = home.paths().socket;
    drop(UnixListener::bind(&socket).expect("bind a socket nobody serves"));
    assert!(socket.exists());
    let daemon = Daemon::start(&home).await;
    let info = daemon
        .client()
        .await
        .info(codex_async_proto::v1::InfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.pid, daemon.pid());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "socket is owner-only");
    let home_mode = std::fs::metadata(home.home())
        .expect("home")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(home_mode, 0o700, "home is owner-only");
}

#[test]
fn start_status_stop_from_the_command_line() {
    let home = TempHome::new();
    let status = |home: &TempHome| home.codexd().arg("status").output().expect("status");

    let before = status(&home);
    assert_eq!(before.status.code(), Some(3), "not running → exit 3");
    assert!(String::from_utf8_lossy(&before.stdout).contains("not running"));

    let start = home
        .codexd()
        .arg("start")
        .stdin(Stdio::null())
        .output()
        .expect("start");
    assert!(
        start.status.success(),
        "{}",
        String::from_utf8_lossy(&start.stderr)
    );
    let pid = daemon_pid(&home.paths()).expect("pid in lock file");
    assert!(pid_alive(pid));
    assert!(String::from_utf8_lossy(&start.stdout).contains(&pid.to_string()));

    // Starting again is harmless and reports the same daemon.
    let again = home
        .codexd()
        .arg("start")
        .stdin(Stdio::null())
        .output()
        .expect("start");
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already running"));
    assert_eq!(daemon_pid(&home.paths()), Some(pid));

    let running = status(&home);
    assert!(running.status.success());
    let text = String::from_utf8_lossy(&running.stdout);
    assert!(text.contains(&format!("pid:      {pid}")), "{text}");
    assert!(
        text.contains(env!("CARGO_PKG_VERSION")) && text.contains("codexd.sock"),
        "{text}"
    );
    let json = home
        .codexd()
        .args(["status", "--json"])
        .output()
        .expect("status --json");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json status");
    assert_eq!(v["pid"], pid);
    assert_eq!(v["jobs"]["running"], 0);

    let stop = home.codexd().arg("stop").output().expect("stop");
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    wait_until("codexd to exit", || !pid_alive(pid));
    assert!(!home.paths().socket.exists(), "socket removed on stop");
    assert_eq!(status(&home).status.code(), Some(3));
}

#[tokio::test]
async fn a_job_outlives_a_killed_daemon_and_keeps_its_exit_code() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let prompt = "print:before;sleep:0.3;lines:2;exit:5";
    let job = client
        .start(home.start_request(prompt))
        .await
        .expect("start")
        .into_inner()
        .job
        .expect("job");
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    let codex = testkit::codex_of(&home, &job.job_id);

    // The job ends while no daemon runs.
    wait_until("codex to finish without a daemon", || !pid_alive(codex));
    let exit_file = home.paths().jobs().join(&job.job_id).join("exit.json");
    wait_until("the monitor to record the exit", || exit_file.exists());

    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let got = client
        .get(GetRequest {
            job_id: job.job_id.clone(),
            tail_lines: None,
            since: None,
        })
        .await
        .expect("get")
        .into_inner();
    let job = got.job.expect("job");
    assert_eq!(job.status(), JobStatus::Error);
    assert_eq!(
        job.exit_code,
        Some(5),
        "the true exit code, recorded after restart"
    );
    assert!(got.output.contains("before") && got.output.contains("line 2"));
}

#[tokio::test]
async fn a_running_job_is_readopted_by_the_next_daemon() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let prompt = "print:started;sleep:2;print:after";
    let job = client
        .start(home.start_request(prompt))
        .await
        .expect("start")
        .into_inner()
        .job
        .expect("job");
    // Killed as soon as the Start is answered: the monitor may not have
    // said yet that codex runs (nor codexd recorded its pid).
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    let codex = testkit::codex_of(&home, &job.job_id);
    assert!(pid_alive(codex), "codex survives the daemon");

    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let id = job.job_id.clone();
    let got = poll_for("the re-adopted job to finish", || {
        let mut client = client.clone();
        let id = id.clone();
        async move {
            let got = client
                .get(GetRequest {
                    job_id: id,
                    tail_lines: None,
                    since: None,
                })
                .await
                .expect("get")
                .into_inner();
            let done = got.job.as_ref().is_some_and(|j| j.status().is_terminal());
            done.then_some(got)
        }
    })
    .await;
    let job = got.job.expect("job");
    assert_eq!(job.status(), JobStatus::Done, "{:?}", job.error);
    assert_eq!(job.exit_code, Some(0));
    assert_eq!(job.pid, Some(codex), "the next codexd learns codex's pid");
    assert!(
        got.output.contains("after"),
        "output written while no daemon ran is kept"
    );
}
