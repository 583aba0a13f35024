//! The fault suite for resources running out: a state home on a small real
//! filesystem (a tmpfs the test mounts; root only, as in CI — skipped with a
//! message otherwise) that a job's output fills. Every case asserts, after
//! the room comes back: each job's status and exit code are the true ones, no
//! job whose codex exited is still `running`, `meta.json` agrees with the
//! database, a new job runs, and the same holds after a kill -9 and restart.
//!
//! Linux only: the faults are made with Linux's tmpfs mounts, bind mounts, the
//! pids cgroup and prlimit on another process, none of which macOS has; the
//! code they exercise (errno handling, pending writes) is the same there.
#![cfg(target_os = "linux")]

use std::{fs, path::Path};

use codex_async_proto::{v1::GetResponse, Client};
use nix::sys::signal::Signal;
use testkit::{get, poll_for, start_job, wait_for_end, Daemon, SmallDisk, TempHome};

/// What the faults below need (root for mount, a pids cgroup) and where it is.
const ROOT_HOW: &str =
    "run as root (CI does) on a Linux with tmpfs, bind mounts and the cgroup v1 \
    pids controller at /sys/fs/cgroup/pids (this project's CI machines have all three)";

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

/// (status, exit code) of a job as its database row says, read directly.
async fn db_row(home: &TempHome, id: &str) -> (String, Option<i64>) {
    use sqlx::{ConnectOptions, Row};
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(home.paths().database())
        .read_only(true)
        .connect()
        .await
        .expect("open the database");
    let row = sqlx::query("SELECT status, exit_code FROM jobs WHERE job_id = ?")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .expect("the job's row");
    (row.get(0), row.get(1))
}

/// (status, exit code) of a job as its meta.json says.
fn meta(home: &TempHome, id: &str) -> Option<(String, Option<i64>)> {
    let meta = read_json(&home.paths().jobs().join(id).join("meta.json"))?;
    Some((
        meta["status"].as_str()?.to_string(),
        meta["exit_code"].as_i64(),
    ))
}

/// Waits until the database row and meta.json of `id` both say `expected`.
async fn converged(home: &TempHome, id: &str, expected: &(String, Option<i64>)) {
    poll_for("the database and meta.json to catch up", || async {
        let row = db_row(home, id).await;
        (row == *expected && meta(home, id).as_ref() == Some(expected)).then_some(())
    })
    .await;
}

fn status_of(resp: &GetResponse) -> (String, Option<i64>) {
    let job = resp.job.as_ref().expect("job");
    (
        job.status()
            .as_str_name()
            .to_lowercase()
            .replace("job_status_", ""),
        job.exit_code.map(i64::from),
    )
}

/// A Start that must be refused for want of a resource (`why` says which):
/// its error, after checking it is ResourceExhausted and left no job folder.
async fn refused_start(client: &mut Client, home: &TempHome, why: &str) -> tonic::Status {
    let jobs = || fs::read_dir(home.paths().jobs()).expect("jobs").count();
    let before = jobs();
    let refused = client
        .start(home.start_request("print:never"))
        .await
        .expect_err(why);
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert_eq!(jobs(), before, "no half-made job folder");
    refused
}

/// How many log-line timestamps (`2026-12-02T05:16:31`) a line holds.
fn timestamps(line: &str) -> usize {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    let bytes = line.as_bytes();
    (0..bytes.len().saturating_sub(SHAPE.len() - 1))
        .filter(|&at| {
            SHAPE
                .iter()
                .zip(&bytes[at..])
                .all(|(want, got)| match want {
                    b'd' => got.is_ascii_digit(),
                    other => got == other,
                })
        })
        .count()
}

/// `codexd status` as a person reads it.
fn codexd_status(home: &TempHome) -> String {
    let out = home
        .codexd()
        .arg("status")
        .output()
        .expect("run codexd status");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn status_json(home: &TempHome) -> serde_json::Value {
    let out = home
        .codexd()
        .args(["status", "--json"])
        .output()
        .expect("run codexd status --json");
    serde_json::from_slice(&out.stdout).expect("status --json is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_drops_no_state_change_and_all_catches_up_when_room_returns() {
    let home = TempHome::new();
    let disk = match SmallDisk::mount(&home.home(), 24 << 20) {
        Ok(disk) => disk,
        Err(why) => {
            testkit::skip_or_fail(&why, ROOT_HOW);
            return;
        }
    };
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let go = home.root().join("go");

    // One job that has nothing to do with the big one, and ends while the
    // disk is full; one whose output fills the disk.
    let small = start_job(
        &client,
        home.start_request(&format!("print:small;waitfile:{};exit:3", go.display())),
    )
    .await;
    let big = start_job(&client, home.start_request("spam:200000000")).await;
    let big_end = wait_for_end(&client, &big.job_id).await;
    assert_eq!(disk.available(), 0, "the big job's output filled the disk");
    fs::write(&go, "").expect("write the go file");
    let small_end = wait_for_end(&client, &small.job_id).await;

    // The true ends, while the disk is still full.
    assert_eq!(
        status_of(&small_end),
        ("error".to_string(), Some(3)),
        "{:?}",
        small_end.job
    );
    let exit = read_json(&home.paths().jobs().join(&big.job_id).join("exit.json"))
        .expect("the monitor stored the big job's exit.json on the full disk");
    let big_code = exit["exit_code"].as_i64();
    assert!(big_code.is_some(), "codex's true exit status: {exit}");
    let big_status = status_of(&big_end);
    assert_eq!(big_status.1, big_code, "{:?}", big_end.job);
    let note = big_end.job.as_ref().and_then(|j| j.output_note.clone());
    assert!(
        note.as_deref()
            .is_some_and(|n| n
                .starts_with("output incomplete: the disk holding the job's output was full at ")),
        "the result says the output is incomplete: {:?}",
        big_end.job
    );
    assert!(
        exit["output_note"].as_str().is_some_and(
            |n| n.starts_with("output incomplete: the disk holding the job's output was full")
        ),
        "{exit}"
    );

    // codexd says what it holds back, and why.
    let pending = status_json(&home)["pending_changes"].as_u64();
    assert!(
        pending.is_some_and(|n| n >= 1),
        "the two ends met a full database: {pending:?}"
    );
    let text = codexd_status(&home);
    assert!(
        text.contains(" not yet written to the database (the disk is full or not writable); kept by codexd and written as soon as it can be"),
        "{text}"
    );

    let doctor = home
        .codexd()
        .arg("doctor")
        .env("NO_COLOR", "1")
        .output()
        .expect("run codexd doctor");
    let doctor = String::from_utf8_lossy(&doctor.stdout).into_owned();
    assert!(
        doctor.contains(&format!(
            "warn space     only 0 B free for {}: a job's output can fill it, and then no new job starts",
            home.home().display()
        )) && doctor.contains("`codexd prune --older-than 1d`"),
        "{doctor}"
    );

    // A new job is refused while the disk is full, naming the resource and
    // the fix, and leaves nothing behind.
    let refused = refused_start(&mut client, &home, "a start on a full disk is refused").await;
    assert!(
        refused.message().starts_with(&format!(
            "the disk holding {} is full or not writable",
            home.home().display()
        )) && refused.message().contains("codexd prune"),
        "{}",
        refused.message()
    );

    // Room comes back: the database and meta.json catch up, no restart.
    disk.resize(512 << 20);
    let small_truth = ("error".to_string(), Some(3));
    converged(&home, &small.job_id, &small_truth).await;
    converged(&home, &big.job_id, &big_status).await;
    assert_eq!(status_json(&home)["pending_changes"].as_u64(), Some(0));
    assert!(!codexd_status(&home).contains("pending:"));

    // A new job runs.
    let next = start_job(&client, home.start_request("print:after")).await;
    let next_end = wait_for_end(&client, &next.job_id).await;
    assert_eq!(status_of(&next_end), ("done".to_string(), Some(0)));

    // And the same after a kill -9 and a restart.
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    for (id, truth) in [(&small.job_id, &small_truth), (&big.job_id, &big_status)] {
        let resp = get(&mut client, id).await;
        assert_eq!(&status_of(&resp), truth, "{:?}", resp.job);
        assert!(
            !resp
                .job
                .as_ref()
                .and_then(|j| j.error.as_deref())
                .unwrap_or("")
                .starts_with("lost:"),
            "{:?}",
            resp.job
        );
        converged(&home, id, truth).await;
    }
    // codexd's own log, on the same full disk, kept its lines apart.
    let logs = fs::read_dir(home.home().join("logs")).expect("the log folder");
    for entry in logs.flatten() {
        let text = fs::read_to_string(entry.path()).expect("read a log file");
        for line in text.lines().filter(|l| !l.is_empty()) {
            assert!(
                timestamps(line) <= 1,
                "two log lines mixed into one: {line}"
            );
        }
    }
    drop(client);
    drop(daemon);
    drop(disk);
    if std::env::var_os("SHOW_LOG").is_some() {
        eprintln!(
            "{}",
            fs::read_to_string(home.root().join("codexd-serve.log")).unwrap_or_default()
        );
    }
}

/// Sets the soft limit on open files of process `pid` (the hard limit stays).
fn set_nofile(pid: i32, soft: u64) {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit reads `new` and writes `old`, both ours.
    let rc = unsafe {
        libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old);
        let new = libc::rlimit {
            rlim_cur: soft,
            rlim_max: old.rlim_max,
        };
        libc::prlimit(pid, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut())
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// The lowest descriptor number `pid` does not use: the next one it would
/// open. A limit of that many leaves it none.
fn lowest_free_fd(pid: i32) -> u64 {
    let used: std::collections::HashSet<u64> = fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read the daemon's fds")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|fd| !used.contains(fd)).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_free_descriptors_refuses_a_start_by_name_and_the_daemon_serves_on() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let first = start_job(&client, home.start_request("print:before")).await;
    let first_end = wait_for_end(&client, &first.job_id).await;

    // Every descriptor the daemon may have is in use.
    set_nofile(daemon.pid(), lowest_free_fd(daemon.pid()));
    let refused = refused_start(
        &mut client,
        &home,
        "a start with no free descriptor is refused",
    )
    .await;
    assert!(
        refused
            .message()
            .starts_with("codexd has no free file descriptors (Too many open files (os error 24); its limit, `ulimit -n`, is ")
            && refused.message().contains("raise it (`ulimit -n 4096`"),
        "{}",
        refused.message()
    );
    // Every other call is still served.
    let again = get(&mut client, &first.job_id).await;
    assert_eq!(status_of(&again), status_of(&first_end));

    // Descriptors come back: a new job runs.
    set_nofile(daemon.pid(), 4096);
    let next = start_job(&client, home.start_request("print:after")).await;
    let next_end = wait_for_end(&client, &next.job_id).await;
    assert_eq!(status_of(&next_end), ("done".to_string(), Some(0)));
    same_after_kill_and_restart(daemon, &home, &[&first_end, &next_end]).await;
}

/// After a kill -9 and a restart, each job still has the status and exit
/// code it had, and the database and meta.json agree on it.
async fn same_after_kill_and_restart(daemon: Daemon, home: &TempHome, ends: &[&GetResponse]) {
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    let daemon = Daemon::start(home).await;
    let mut client = daemon.client().await;
    for end in ends {
        let id = &end.job.as_ref().expect("job").job_id;
        let resp = get(&mut client, id).await;
        assert_eq!(status_of(&resp), status_of(end), "{:?}", resp.job);
        converged(home, id, &status_of(end)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_that_cannot_write_exit_json_keeps_the_status_until_it_can() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let go = home.root().join("go");
    let job = start_job(
        &client,
        home.start_request(&format!("waitfile:{};exit:4", go.display())),
    )
    .await;
    let dir = home.paths().jobs().join(&job.job_id);
    // Something in the way of exit.json: a folder that is not empty (as real
    // as a full disk for the monitor's rename, and undone at will).
    let blocker = dir.join("exit.json");
    fs::create_dir_all(blocker.join("in-the-way")).expect("make the blocker");
    fs::write(&go, "").expect("write the go file");
    let codex_pid = testkit::codex_of(&home, &job.job_id);
    testkit::wait_until("codex to exit", || !testkit::pid_alive(codex_pid));
    testkit::wait_until("the monitor to say it retries", || {
        fs::read_to_string(dir.join("monitor.log")).is_ok_and(|log| {
            log.contains("cannot write exit.json (") && log.contains("retrying until it can be")
        })
    });
    // The monitor stays; the job is not called lost, nor given a made-up end.
    let monitor = read_json(&dir.join("monitor.json")).expect("monitor.json")["monitor_pid"]
        .as_i64()
        .expect("monitor pid") as i32;
    assert!(
        testkit::pid_alive(monitor),
        "the monitor waits to write the status"
    );
    let resp = get(&mut client, &job.job_id).await;
    assert_eq!(
        status_of(&resp),
        ("running".to_string(), None),
        "{:?}",
        resp.job
    );

    fs::remove_dir_all(&blocker).expect("remove the blocker");
    let end = wait_for_end(&client, &job.job_id).await;
    assert_eq!(
        status_of(&end),
        ("error".to_string(), Some(4)),
        "{:?}",
        end.job
    );
    testkit::wait_until("the monitor to exit", || !testkit::pid_alive(monitor));
    converged(&home, &job.job_id, &("error".to_string(), Some(4))).await;
}

/// A cgroup (v1 pids controller) that caps how many processes and threads
/// its members may have: as real as `RLIMIT_NPROC`, which does not bind root.
/// Needs root and the controller mounted at /sys/fs/cgroup/pids; removed
/// when dropped (its members moved back to the root group first).
struct PidsCap {
    dir: std::path::PathBuf,
}

impl PidsCap {
    fn new() -> Result<Self, String> {
        let root = Path::new("/sys/fs/cgroup/pids");
        if !root.join("cgroup.procs").exists() {
            return Err("no cgroup v1 pids controller at /sys/fs/cgroup/pids".into());
        }
        let dir = root.join(format!("cxa-test-{}", std::process::id()));
        fs::create_dir(&dir).map_err(|e| format!("cannot make a pids cgroup: {e}"))?;
        Ok(Self { dir })
    }

    /// Moves `pid` (all its threads) in and caps the group at what it has now.
    fn hold(&self, pid: i32) {
        fs::write(self.dir.join("cgroup.procs"), pid.to_string()).expect("move into the cgroup");
        let current = fs::read_to_string(self.dir.join("pids.current")).expect("pids.current");
        fs::write(self.dir.join("pids.max"), current.trim()).expect("set pids.max");
    }

    fn release(&self) {
        fs::write(self.dir.join("pids.max"), "max").expect("lift pids.max");
    }
}

impl Drop for PidsCap {
    fn drop(&mut self) {
        let _ = fs::write(self.dir.join("pids.max"), "max");
        if let Ok(procs) = fs::read_to_string(self.dir.join("cgroup.procs")) {
            for pid in procs.lines() {
                let _ = fs::write("/sys/fs/cgroup/pids/cgroup.procs", pid);
            }
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_process_can_be_forked_refuses_a_start_by_name_and_the_daemon_serves_on() {
    let home = TempHome::new();
    let cap = match PidsCap::new() {
        Ok(cap) => cap,
        Err(why) => {
            testkit::skip_or_fail(&why, ROOT_HOW);
            return;
        }
    };
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let first = start_job(&client, home.start_request("print:before")).await;
    let first_end = wait_for_end(&client, &first.job_id).await;

    // A monitor is forked ahead of time (the standby): the first Start
    // after the cap takes it; the one after needs a new process.
    testkit::wait_until("a standby monitor", || {
        !testkit::idle_standby_monitors(daemon.pid()).is_empty()
    });
    cap.hold(daemon.pid());
    let via_standby = start_job(&client, home.start_request("print:standby")).await;
    let refused = refused_start(
        &mut client,
        &home,
        "a start that needs a new process is refused",
    )
    .await;
    assert!(
        refused.message().starts_with(
            "cannot start a process for the job (Resource temporarily unavailable (os error 11)): the limit on processes (`ulimit -u`, "
        ) && refused.message().ends_with("end some processes or raise the limit, then start the job again"),
        "{}",
        refused.message()
    );
    // Every other call is served, and the refused job is nowhere.
    let again = get(&mut client, &first.job_id).await;
    assert_eq!(status_of(&again), status_of(&first_end));
    let listed = client
        .list(codex_async_proto::v1::ListRequest {
            limit: Some(100),
            status: None,
        })
        .await
        .expect("list")
        .into_inner()
        .jobs;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let standby_end = wait_for_end(&client, &via_standby.job_id).await;
    assert_eq!(status_of(&standby_end), ("done".to_string(), Some(0)));

    // Processes come back: a new job runs.
    cap.release();
    let next = start_job(&client, home.start_request("print:after")).await;
    let next_end = wait_for_end(&client, &next.job_id).await;
    assert_eq!(status_of(&next_end), ("done".to_string(), Some(0)));
    same_after_kill_and_restart(daemon, &home, &[&first_end, &standby_end, &next_end]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_made_read_only_while_jobs_run_loses_nothing_and_catches_up() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let go = home.root().join("go");
    let job = start_job(
        &client,
        home.start_request(&format!("print:working;waitfile:{};exit:5", go.display())),
    )
    .await;
    // The job runs and its monitor has written what it writes at the start.
    let monitor_json = home.paths().jobs().join(&job.job_id).join("monitor.json");
    testkit::wait_until("the monitor to settle", || monitor_json.exists());
    let mut view = match testkit::ReadOnlyView::apply(&home.home()) {
        Ok(view) => view,
        Err(why) => {
            testkit::skip_or_fail(&why, ROOT_HOW);
            return;
        }
    };

    // New work is refused, naming the cause, and leaves nothing.
    let refused = refused_start(&mut client, &home, "a start on a read-only home is refused").await;
    assert_eq!(
        refused.message(),
        format!(
            "the filesystem holding {} is read-only (Read-only file system (os error 30)): no job can be recorded; remount it read-write, then start the job again",
            home.home().display()
        )
    );

    // codex ends while nothing can be written: its monitor keeps the status.
    fs::write(&go, "").expect("write the go file");
    let codex_pid = testkit::codex_of(&home, &job.job_id);
    testkit::wait_until("codex to exit", || !testkit::pid_alive(codex_pid));
    let resp = get(&mut client, &job.job_id).await;
    assert_eq!(
        status_of(&resp),
        ("running".to_string(), None),
        "{:?}",
        resp.job
    );

    // Writable again: the end arrives with its true exit code, meta.json too.
    view.lift();
    let truth = ("error".to_string(), Some(5));
    let end = wait_for_end(&client, &job.job_id).await;
    assert_eq!(status_of(&end), truth, "{:?}", end.job);
    assert!(end.output.contains("working"), "{}", end.output);
    converged(&home, &job.job_id, &truth).await;
    let next = start_job(&client, home.start_request("print:after")).await;
    let next_end = wait_for_end(&client, &next.job_id).await;
    assert_eq!(status_of(&next_end), ("done".to_string(), Some(0)));

    // And the same after a kill -9 and a restart.
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let resp = get(&mut client, &job.job_id).await;
    assert_eq!(status_of(&resp), truth, "{:?}", resp.job);
    converged(&home, &job.job_id, &truth).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_past_the_busy_timeout_drops_no_state_change() {
    use sqlx::{ConnectOptions, Connection};
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let go = home.root().join("go");
    let job = start_job(
        &client,
        home.start_request(&format!("print:working;waitfile:{};exit:6", go.display())),
    )
    .await;
    testkit::wait_until("codexd to record the job running", || {
        meta(&home, &job.job_id).is_some_and(|(status, _)| status == "running")
    });

    // Another process takes the database's write lock and keeps it, past
    // codexd's busy timeout (10 s).
    let mut holder = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(home.paths().database())
        .connect()
        .await
        .expect("open the database");
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .expect("take the write lock");

    fs::write(&go, "").expect("write the go file");
    let truth = ("error".to_string(), Some(6));
    // The poll tells the truth while the database cannot be written…
    let end = wait_for_end(&client, &job.job_id).await;
    assert_eq!(status_of(&end), truth, "{:?}", end.job);
    assert_eq!(
        db_row(&home, &job.job_id).await,
        ("running".to_string(), None),
        "the database is still behind"
    );
    assert!(status_json(&home)["pending_changes"]
        .as_u64()
        .is_some_and(|n| n >= 1));
    // …and a Start is refused, naming the lock.
    let refused = refused_start(
        &mut client,
        &home,
        "a start while the database stays locked is refused",
    )
    .await;
    assert!(
        refused.message().starts_with(&format!(
            "the job database in {} stays locked by another process (",
            home.home().display()
        )),
        "{}",
        refused.message()
    );

    // The lock goes: the database and meta.json catch up, without a restart.
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("release the lock");
    holder.close().await.expect("close");
    converged(&home, &job.job_id, &truth).await;
    let next = start_job(&client, home.start_request("print:after")).await;
    let next_end = wait_for_end(&client, &next.job_id).await;
    assert_eq!(status_of(&next_end), ("done".to_string(), Some(0)));
    same_after_kill_and_restart(daemon, &home, &[&end, &next_end]).await;
}
