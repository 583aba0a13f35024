//! Fault injection: the daemon, its monitors and its clients are killed,
//! flooded and crowded, and every case asserts the exact end state.
//! (A codexd killed mid-job, re-adoption and true exit codes after a restart
//! are in lifecycle.rs.)

use std::{
    collections::HashMap,
    path::Path,
    process::Stdio,
    sync::atomic::{AtomicUsize, Ordering},
};

use codex_async_proto::{
    v1::{CancelRequest, GetRequest, InfoRequest, Job, JobStatus, ListRequest, StartRequest},
    Client,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use testkit::{
    get, idle_standby_monitors, pid_alive, poll_for, sql, wait_for_end, wait_until, Daemon,
    TempHome,
};

async fn start(client: &mut Client, home: &TempHome, prompt: &str) -> Job {
    testkit::start_job(client, home.start_request(prompt)).await
}

/// The JSON lines of the fake codex's output of the given type.
fn events<'a>(output: &'a str, kind: &'a str) -> impl Iterator<Item = serde_json::Value> + 'a {
    output
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(move |v| v["type"] == kind)
}

/// Waits for the fake codex to print a line of `kind` and returns it.
async fn wait_for_event(client: &Client, id: &str, kind: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + testkit::deadline();
    loop {
        let resp = get(&mut client.clone(), id).await;
        if let Some(event) = events(&resp.output, kind).next() {
            return event;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {kind}: {:?}\n{}",
            resp.job,
            resp.output
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Runs SQL on a stopped daemon's database (a test-only way to age jobs).
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
        let out = home
            .codexd()
            .env(name, value)
            .arg("start")
            .stdin(Stdio::null())
            .output()
            .expect("run codexd start");
        assert!(!out.status.success(), "start with {name}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(name), "start names the variable: {stderr}");
        assert_eq!(
            testkit::daemon_pid(&home.paths()),
            None,
            "no daemon was left"
        );
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
    let go = home.root().join("go");
    // 3,000,000 bytes of 64-byte lines: spam 000000000 … spam 000046874.
    let job = start(
        &mut client.clone(),
        &home,
        &format!("spam:3000000;waitfile:{};print:the-end", go.display()),
    )
    .await;
    let dir = home.paths().jobs().join(&job.job_id);
    let output = dir.join("output.txt");
    // The cap holds while codex runs, not only once it has ended.
    wait_until("the running job's output to be cut to the cap", || {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&output).is_ok_and(|m| m.len() <= cap || m.blocks() * 512 <= cap)
            && std::fs::read(&output).is_ok_and(|d| d.starts_with(b"[codex-async: "))
    });
    let running = get(&mut client.clone(), &job.job_id)
        .await
        .job
        .expect("job");
    assert_eq!(running.status(), JobStatus::Running);
    std::fs::write(&go, "").expect("let the job finish");
    let end = wait_for_end(&client, &job.job_id).await;
    assert_eq!(end.job.as_ref().map(|j| j.status()), Some(JobStatus::Done));
    let last = format!("spam {:09} {}\n", 46874, ".".repeat(48));
    assert!(
        end.output.contains(&last),
        "poll shows the last lines: {}",
        end.output
    );
    assert!(end.output.contains("the-end"));
    // The summary went on past the drops to the turn's end (its usage).
    let usage = end.summary.as_ref().and_then(|s| s.usage);
    assert_eq!(usage.map(|u| u.input_tokens), Some(10), "{:?}", end.summary);

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
    // The newest output is kept: the last print, then the end of the turn.
    assert!(
        text.ends_with(concat!(
            "{\"type\": \"fake.print\", \"text\": \"the-end\"}\n",
            "{\"type\":\"turn.completed\",\"usage\":{\"cached_input_tokens\":0,\"input_tokens\":10,\"output_tokens\":1}}\n"
        )),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    assert!(text.contains(&last));
}

#[tokio::test]
async fn a_killed_monitor_makes_the_job_lost_and_its_processes_are_killed() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let job = start(&mut client, &home, "grandchild;ignore-term;hang").await;
    let grandchild = wait_for_event(&client, &job.job_id, "fake.grandchild").await["pid"]
        .as_i64()
        .expect("grandchild pid") as i32;
    let codex = testkit::codex_of(&home, &job.job_id);
    let monitor_json = home.paths().jobs().join(&job.job_id).join("monitor.json");
    wait_until("the job's monitor.json", || monitor_json.exists());
    let monitor = read_json(&monitor_json)["monitor_pid"]
        .as_i64()
        .expect("monitor pid") as i32;
    kill(Pid::from_raw(monitor), Signal::SIGKILL).expect("kill -9 the monitor");

    let end = wait_for_end(&client, &job.job_id).await;
    let job = end.job.expect("job");
    assert_eq!(job.status(), JobStatus::Error, "never done");
    let reason = job.error.unwrap_or_default();
    assert!(reason.starts_with("lost:"), "{reason}");
    assert!(reason.contains("were killed"), "{reason}");
    assert_eq!(job.exit_code, None, "no exit code is made up");
    wait_until("codex to be killed", || !pid_alive(codex));
    wait_until("codex's setsid grandchild to be killed", || {
        !pid_alive(grandchild)
    });
    let meta = home.paths().jobs().join(&job.job_id).join("meta.json");
    wait_until("meta.json to record the loss", || {
        read_json(&meta)["status"] == "error"
    });
}

#[tokio::test]
async fn retention_prunes_only_old_finished_jobs_rows_and_folders() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let done_old = start(&mut client, &home, "print:a").await.job_id;
    let error_old = start(&mut client, &home, "exit:3").await.job_id;
    let done_recent = start(&mut client, &home, "print:d").await.job_id;
    let cancelled_old = start(&mut client, &home, "hang").await.job_id;
    for id in [&done_old, &error_old, &done_recent] {
        wait_for_end(&client, id).await;
    }
    client
        .cancel(CancelRequest {
            job_id: cancelled_old.clone(),
        })
        .await
        .expect("cancel");
    let running = start(&mut client, &home, "hang").await.job_id;
    daemon.signal(Signal::SIGKILL);
    daemon.wait();

    // One slot, held by the re-adopted job: the next one waits.
    let limit = [("CODEX_ASYNC_MAX_JOBS", "1".to_string())];
    let daemon = Daemon::start_with(&home, &limit).await;
    let mut client = daemon.client().await;
    let queued = start(&mut client, &home, "print:q").await;
    assert_eq!(queued.status(), JobStatus::Queued);
    let queued = queued.job_id;
    daemon.signal(Signal::SIGKILL);
    daemon.wait();

    // Thirty days ago for every job but one, even the unfinished ones.
    sql(
        &home,
        &format!(
            "UPDATE jobs SET finished_at = '2000-01-01T00:00:00.000+00:00', \
             created_at = '2000-01-01T00:00:00.000+00:00' WHERE job_id != '{done_recent}'"
        ),
    )
    .await;

    let daemon = Daemon::start_with(&home, &limit).await;
    let mut client = daemon.client().await;
    let jobs_root = home.paths().jobs();
    for id in [&done_old, &error_old, &cancelled_old] {
        // Retention runs in the background right after start.
        let gone = poll_for("an old finished job to be pruned", || {
            let mut client = client.clone();
            let id = id.clone();
            async move {
                client
                    .get(GetRequest {
                        job_id: id,
                        tail_lines: None,
                        since: None,
                    })
                    .await
                    .err()
            }
        })
        .await;
        assert_eq!(gone.code(), tonic::Code::NotFound);
        assert!(!jobs_root.join(id).exists(), "{id}: folder removed");
    }
    for (id, status) in [
        (&done_recent, JobStatus::Done),
        (&running, JobStatus::Running),
        (&queued, JobStatus::Queued),
    ] {
        let job = get(&mut client, id).await.job.expect("job kept");
        assert_eq!(job.status(), status, "{id}");
        assert!(
            jobs_root.join(id).join("meta.json").exists(),
            "{id}: folder kept"
        );
    }
    assert_eq!(list_all(&mut client).await.len(), 3);
}

#[tokio::test]
async fn folders_and_meta_json_are_repaired_from_the_database() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let finished = start(&mut client, &home, "print:f;exit:4").await.job_id;
    wait_for_end(&client, &finished).await;
    let running = start(&mut client, &home, "hang").await.job_id;
    let jobs_root = home.paths().jobs();
    // meta.json follows a Start's answer by a moment.
    wait_until("the running job's meta.json", || {
        jobs_root.join(&running).join("meta.json").exists()
    });
    daemon.signal(Signal::SIGKILL);
    daemon.wait();

    std::fs::remove_dir_all(jobs_root.join(&finished)).expect("remove a finished job's folder");
    std::fs::remove_file(jobs_root.join(&running).join("meta.json")).expect("remove meta.json");
    let stray = jobs_root.join("not-a-job");
    std::fs::create_dir(&stray).expect("stray folder");
    std::fs::write(stray.join("notes.txt"), "mine").expect("stray file");
    // What a Start killed between creating the folder and recording the row leaves.
    let unrecorded = jobs_root.join("abcdef012345");
    std::fs::create_dir(&unrecorded).expect("unrecorded start");
    std::fs::write(unrecorded.join("output.txt"), "").expect("empty output");
    // From a crash an hour ago: a fresh folder could be a Start in progress.
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for path in [&unrecorded, &stray] {
        std::fs::File::open(path)
            .and_then(|dir| dir.set_modified(an_hour_ago))
            .expect("age the folder");
    }

    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    // Unfinished jobs are repaired before the daemon serves; the rest right after.
    let meta = read_json(&jobs_root.join(&running).join("meta.json"));
    assert_eq!(meta["status"], "running");
    let unrecorded_gone = unrecorded.clone();
    let finished_meta = jobs_root.join(&finished).join("meta.json");
    poll_for("the background repair", || {
        let done = finished_meta.exists() && !unrecorded_gone.exists();
        async move { done.then_some(()) }
    })
    .await;
    let meta = read_json(&finished_meta);
    assert_eq!(meta["status"], "error");
    assert_eq!(meta["exit_code"], 4);
    assert_eq!(meta["job_id"], finished.as_str());
    let meta = read_json(&jobs_root.join(&running).join("meta.json"));
    assert_eq!(meta["status"], "running");
    assert_eq!(
        std::fs::read_to_string(stray.join("notes.txt")).expect("stray kept"),
        "mine",
        "a folder the database does not know is left alone"
    );
    assert!(
        !unrecorded.exists(),
        "an unrecorded Start's empty folder is removed"
    );
    let log = std::fs::read_to_string(home.root().join("codexd-serve.log")).expect("log");
    assert!(log.contains("recreated from the database"), "{log}");
    assert!(log.contains("has no job in the database"), "{log}");
    let job = get(&mut client, &running).await.job.expect("job");
    assert_eq!(job.status(), JobStatus::Running, "re-adopted");
}

#[tokio::test]
async fn cancelling_a_queued_job_never_starts_it() {
    let home = TempHome::new();
    let daemon = Daemon::start_with(&home, &[("CODEX_ASYNC_MAX_JOBS", "1".into())]).await;
    let mut client = daemon.client().await;
    let running = start(&mut client, &home, "hang").await.job_id;
    let marker = home.root().join("queued-job-ran");
    let queued = start(&mut client, &home, &format!("pidfile:{}", marker.display())).await;
    assert_eq!(queued.status(), JobStatus::Queued);
    let resp = client
        .cancel(CancelRequest {
            job_id: queued.job_id.clone(),
        })
        .await
        .expect("cancel")
        .into_inner();
    assert!(resp.cancelled, "{}", resp.message);
    let job = resp.job.expect("job");
    assert_eq!(job.status(), JobStatus::Cancelled);
    assert_eq!((job.pid, job.started_at), (None, None), "never started");
    // The slot frees; the cancelled job must still not start.
    client
        .cancel(CancelRequest { job_id: running })
        .await
        .expect("cancel the running job");
    let next = start(&mut client, &home, "print:after").await.job_id;
    wait_for_end(&client, &next).await;
    assert!(!marker.exists(), "the cancelled queued job ran codex");
    assert!(!home
        .paths()
        .jobs()
        .join(&queued.job_id)
        .join("monitor.json")
        .exists());
}

/// Processes whose working directory is `dir` (the jobs' cwd), from /proc
/// (on macOS, which has none, from `lsof`).
fn processes_in(dir: &Path) -> Vec<i32> {
    if !Path::new("/proc/self").exists() {
        // `-F pn`: a `p<pid>` line, then an `n<path>` line for its cwd.
        let Ok(out) = std::process::Command::new("lsof")
            .args(["-n", "-d", "cwd", "-F", "pn"])
            .output()
        else {
            return Vec::new();
        };
        let mut found = Vec::new();
        let mut pid = None;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(p) = line.strip_prefix('p') {
                pid = p.parse::<i32>().ok();
            } else if let (Some(path), Some(p)) = (line.strip_prefix('n'), pid) {
                if Path::new(path) == dir && pid_alive(p) {
                    found.push(p);
                }
            }
        }
        return found;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir))
        .filter(|pid| pid_alive(*pid))
        .collect()
}

#[tokio::test]
async fn cancel_leaves_no_process_even_setsid_grandchildren_that_fork_again() {
    let home = TempHome::new();
    let workdir = home.workdir().canonicalize().expect("workdir");
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let job = start(
        &mut client,
        &home,
        "forking-grandchild;grandchild;ignore-term;ignore-int;hang",
    )
    .await;
    let forked = wait_for_event(&client, &job.job_id, "fake.forked").await;
    let grandchild = wait_for_event(&client, &job.job_id, "fake.grandchild").await;
    let mut pids: Vec<i32> = forked["pids"]
        .as_array()
        .expect("pids")
        .iter()
        .filter_map(|p| p.as_i64())
        .map(|p| p as i32)
        .collect();
    pids.push(grandchild["pid"].as_i64().expect("pid") as i32);
    pids.push(testkit::codex_of(&home, &job.job_id));
    assert_eq!(pids.len(), 4);
    assert!(pids.iter().all(|p| pid_alive(*p)), "all started");
    assert!(processes_in(&workdir).len() >= 4, "/proc sees them");

    let resp = client
        .cancel(CancelRequest {
            job_id: job.job_id.clone(),
        })
        .await
        .expect("cancel")
        .into_inner();
    assert!(resp.cancelled, "{}", resp.message);
    assert_eq!(resp.job.expect("job").status(), JobStatus::Cancelled);
    let left: Vec<i32> = pids.iter().copied().filter(|p| pid_alive(*p)).collect();
    assert!(left.is_empty(), "survived cancel: {left:?}");
    let left = processes_in(&workdir);
    assert!(left.is_empty(), "processes left in the job's cwd: {left:?}");
    assert!(home.live_monitors().is_empty());
}

/// Sends one JSON-RPC line to a shim.
fn send(stdin: &mut std::process::ChildStdin, message: serde_json::Value) {
    use std::io::Write;
    writeln!(stdin, "{message}").expect("write to the shim");
    stdin.flush().expect("flush the shim's stdin");
}

#[tokio::test]
async fn a_shim_killed_mid_call_leaves_the_daemon_and_jobs_alone() {
    use std::io::BufRead;
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    // A job whose cancel takes seconds (it ignores SIGINT and SIGTERM), so
    // the shim can be killed while its codex_cancel call waits in codexd.
    let stubborn = start(&mut client, &home, "ignore-int;ignore-term;hang")
        .await
        .job_id;

    let mut shim = testkit::ProcessGuard::new(
        std::process::Command::new(testkit::bin("codex-async-shim"))
            .envs(home.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the shim"),
    );
    let mut stdin = shim.child().stdin.take().expect("shim stdin");
    let stdout = shim.child().stdout.take().expect("shim stdout");
    let (tx, lines) = std::sync::mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str(&line) else {
                continue;
            };
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    let answer = |id: u64| loop {
        let v = lines
            .recv_timeout(testkit::deadline())
            .unwrap_or_else(|e| panic!("no answer to request {id}: {e}"));
        if v["id"] == id {
            return v;
        }
    };
    send(
        &mut stdin,
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "faults", "version": "0"}}}),
    );
    assert!(answer(1).get("result").is_some());
    send(
        &mut stdin,
        serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    let cwd = home.workdir().display().to_string();
    send(
        &mut stdin,
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "codex_start",
            "arguments": {"prompt": "print:from-shim;sleep:1;print:still-here", "cwd": cwd}}}),
    );
    let started = answer(2);
    let from_shim = started["result"]["structuredContent"]["job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no job id in {started}"))
        .to_string();
    send(
        &mut stdin,
        serde_json::json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "codex_cancel", "arguments": {"job_id": stubborn}}}),
    );
    let monitor_log = home.paths().jobs().join(&stubborn).join("monitor.log");
    wait_until("codexd to be cancelling the job", || {
        std::fs::read_to_string(&monitor_log).is_ok_and(|l| l.contains("cancel requested"))
    });
    kill(Pid::from_raw(shim.pid()), Signal::SIGKILL).expect("kill -9 the shim");
    drop(shim);

    // The daemon answers, the cancel it was serving completes, the other job runs on.
    let info = client
        .info(InfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.pid, daemon.pid());
    let end = wait_for_end(&client, &stubborn).await;
    assert_eq!(end.job.expect("job").status(), JobStatus::Cancelled);
    let end = wait_for_end(&client, &from_shim).await;
    assert_eq!(end.job.expect("job").status(), JobStatus::Done);
    assert!(end.output.contains("still-here"), "{}", end.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_clients_times_fifty_calls_all_succeed() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let mut existing = Vec::new();
    for i in 0..4 {
        existing.push(
            start(&mut client, &home, &format!("print:seed{i}"))
                .await
                .job_id,
        );
    }
    existing.push(start(&mut client, &home, "hang").await.job_id);
    let cwd = home.workdir().display().to_string();
    let mut tasks = Vec::new();
    for task in 0..32usize {
        let mut client = daemon.client().await;
        let existing = existing.clone();
        let cwd = cwd.clone();
        tasks.push(tokio::spawn(async move {
            let mut started = Vec::new();
            for call in 0..50usize {
                let id = existing[(task + call) % existing.len()].clone();
                let result = match call % 25 {
                    0 => client
                        .start(StartRequest {
                            prompt: format!("print:t{task}c{call}"),
                            cwd: cwd.clone(),
                            approval_policy: None,
                            model: None,
                            ..Default::default()
                        })
                        .await
                        .map(|r| started.extend(r.into_inner().job.map(|j| j.job_id))),
                    12 => {
                        // Cancel what this task started (or a finished seed job).
                        let job_id = started.last().cloned().unwrap_or(id);
                        client.cancel(CancelRequest { job_id }).await.map(drop)
                    }
                    n if n % 2 == 0 => client
                        .get(GetRequest {
                            job_id: id,
                            tail_lines: Some(20),
                            since: None,
                        })
                        .await
                        .map(drop),
                    _ => client
                        .list(ListRequest {
                            limit: Some(50),
                            status: None,
                        })
                        .await
                        .map(drop),
                };
                if let Err(status) = result {
                    panic!("task {task} call {call}: {status:?}");
                }
            }
            started.len()
        }));
    }
    let mut starts = 0;
    for task in tasks {
        starts += task.await.expect("client task");
    }
    assert_eq!(starts, 32 * 2, "every Start answered with a job");
    client
        .cancel(CancelRequest {
            job_id: existing[4].clone(),
        })
        .await
        .expect("cancel the hanging job");
    poll_for("every job to end", || {
        let mut client = client.clone();
        async move {
            let jobs = list_all(&mut client).await;
            (jobs.len() == 5 + 64 && jobs.iter().all(|j| j.status().is_terminal())).then_some(())
        }
    })
    .await;
    let info = client
        .info(InfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.done + info.error + info.cancelled, 5 + 64);
    assert_eq!(info.error, 0, "no job failed");
    let log = std::fs::read_to_string(home.root().join("codexd-serve.log")).expect("log");
    assert!(!log.contains("database is locked"), "{log}");
    assert!(!log.contains("request failed"), "{log}");
}

// Multi-threaded: the client tasks run while the test thread polls the folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codexd_killed_during_status_churn_leaves_db_and_meta_json_agreeing() {
    let home = TempHome::new();
    let daemon = Daemon::start_with(&home, &[("CODEX_ASYNC_MAX_JOBS", "3".into())]).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(daemon.client().await);
    }
    let cwd = home.workdir().display().to_string();
    // Four clients start short jobs while earlier ones end and queued ones start.
    let mut tasks = Vec::new();
    for (n, mut client) in clients.into_iter().enumerate() {
        let cwd = cwd.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..15 {
                let req = StartRequest {
                    prompt: format!("print:c{n}j{i}"),
                    cwd: cwd.clone(),
                    approval_policy: None,
                    model: None,
                    ..Default::default()
                };
                if client.start(req).await.is_err() {
                    break; // the daemon was killed under us
                }
            }
        }));
    }
    let jobs_root = home.paths().jobs();
    wait_until("a dozen jobs to exist", || {
        std::fs::read_dir(&jobs_root).is_ok_and(|d| d.count() >= 12)
    });
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    for task in tasks {
        task.await.expect("client task");
    }

    let daemon = Daemon::start_with(&home, &[("CODEX_ASYNC_MAX_JOBS", "3".into())]).await;
    let mut client = daemon.client().await;
    let jobs = poll_for("every job to end after the restart", || {
        let mut client = client.clone();
        async move {
            let jobs = list_all(&mut client).await;
            jobs.iter()
                .all(|j| j.status().is_terminal())
                .then_some(jobs)
        }
    })
    .await;
    // Each client may have had one Start cut short (folder made, row not): 12 - 4.
    assert!(jobs.len() >= 8, "{} jobs", jobs.len());
    for job in &jobs {
        assert_eq!(
            job.status(),
            JobStatus::Done,
            "{}: {:?}",
            job.job_id,
            job.error
        );
    }
    // meta.json follows each commit, so the last one may trail the database briefly.
    let meta_path = |job: &Job| jobs_root.join(&job.job_id).join("meta.json");
    wait_until("every meta.json to agree with the database", || {
        jobs.iter().all(|job| {
            let meta = read_json(&meta_path(job));
            meta["status"] == "done"
                && meta["exit_code"] == serde_json::json!(job.exit_code)
                && meta["finished_at"] == serde_json::json!(job.finished_at)
                && meta["started_at"] == serde_json::json!(job.started_at)
                && meta["pid"] == serde_json::json!(job.pid)
        })
    });
    let folders = std::fs::read_dir(&jobs_root).expect("jobs").count();
    assert_eq!(folders, jobs.len(), "one folder per row");
    let _ = get(&mut client, &jobs[0].job_id).await;
}

#[cfg_attr(
    not(target_os = "linux"),
    ignore = "reads /proc/<pid>/exe; on macOS a monitor runs the binary at codexd's path (README, On macOS)"
)]
#[tokio::test]
async fn an_upgraded_codexd_readopts_jobs_whose_monitors_run_the_old_binary() {
    let home = TempHome::new();
    let bin_dir = home.root().join("bin");
    std::fs::create_dir(&bin_dir).expect("bin dir");
    let installed = bin_dir.join("codexd");
    std::fs::copy(testkit::bin("codexd"), &installed).expect("install codexd");
    let socket = home.paths().socket;
    let serve = || async {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.root().join("codexd-serve.log"))
            .expect("log");
        let guard = testkit::ProcessGuard::new(
            std::process::Command::new(&installed)
                .envs(home.env())
                .arg("serve")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("spawn the installed codexd"),
        );
        testkit::wait_until_async("the installed codexd to answer", || {
            let socket = socket.clone();
            async move { codex_async_proto::connect(&socket).await.is_ok() }
        })
        .await;
        guard
    };

    let mut old = serve().await;
    let go = home.root().join("go");
    let mut client = codex_async_proto::connect(&socket).await.expect("connect");
    let job = start(
        &mut client,
        &home,
        &format!("print:before;waitfile:{};print:after;exit:7", go.display()),
    )
    .await;
    drop(client);
    // The monitor writes monitor.json just after it reports codex started.
    let monitor_json = home.paths().jobs().join(&job.job_id).join("monitor.json");
    wait_until("the job's monitor.json", || monitor_json.exists());
    let monitor = read_json(&monitor_json)["monitor_pid"]
        .as_i64()
        .expect("monitor pid") as i32;
    // Upgrade the way package managers do: stop, write a new file, rename it over the old one.
    kill(Pid::from_raw(old.pid()), Signal::SIGTERM).expect("stop codexd");
    wait_until("the old codexd to exit", || {
        old.child().try_wait().ok().flatten().is_some()
    });
    let staged = bin_dir.join("codexd.new");
    std::fs::copy(testkit::bin("codexd"), &staged).expect("stage the new codexd");
    std::fs::rename(&staged, &installed).expect("replace codexd");
    let exe = std::fs::read_link(format!("/proc/{monitor}/exe")).expect("monitor exe");
    assert!(
        exe.to_string_lossy().ends_with("(deleted)"),
        "the monitor runs the replaced binary: {}",
        exe.display()
    );
    assert!(pid_alive(monitor) && pid_alive(testkit::codex_of(&home, &job.job_id)));

    let _new = serve().await;
    let client = codex_async_proto::connect(&socket).await.expect("connect");
    std::fs::write(&go, "").expect("let the job finish");
    let end = wait_for_end(&client, &job.job_id).await;
    let job = end.job.expect("job");
    assert_eq!(job.status(), JobStatus::Error);
    assert_eq!(job.exit_code, Some(7), "the true exit code");
    assert!(end.output.contains("before") && end.output.contains("after"));
}

#[tokio::test]
async fn the_queue_survives_a_killed_daemon_and_keeps_its_order() {
    let home = TempHome::new();
    let limit = [("CODEX_ASYNC_MAX_JOBS", "1".to_string())];
    let daemon = Daemon::start_with(&home, &limit).await;
    let mut client = daemon.client().await;
    let first = start(&mut client, &home, "hang").await.job_id;
    let mut queued = Vec::new();
    for i in 0..3 {
        let job = start(&mut client, &home, &format!("print:q{i};sleep:0.2")).await;
        assert_eq!(job.status(), JobStatus::Queued);
        queued.push(job.job_id);
    }
    daemon.signal(Signal::SIGKILL);
    daemon.wait();

    let daemon = Daemon::start_with(&home, &limit).await;
    let mut client = daemon.client().await;
    assert_eq!(
        get(&mut client, &first).await.job.map(|j| j.status()),
        Some(JobStatus::Running),
        "re-adopted, and holding the only slot"
    );
    for id in &queued {
        let job = get(&mut client, id).await.job.expect("job");
        assert_eq!(job.status(), JobStatus::Queued, "{id} still waits");
    }
    client
        .cancel(CancelRequest {
            job_id: first.clone(),
        })
        .await
        .expect("cancel");
    let mut started = Vec::new();
    for id in &queued {
        let job = wait_for_end(&client, id).await.job.expect("job");
        assert_eq!(job.status(), JobStatus::Done, "{id}: {:?}", job.error);
        started.push(job.started_at.expect("started_at"));
    }
    let mut sorted = started.clone();
    sorted.sort();
    assert_eq!(
        started, sorted,
        "queued jobs started in FIFO order after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_the_killed_daemon_was_starting_is_adopted_not_run_twice() {
    use std::io::BufRead;
    let home = TempHome::new();
    let limit = [("CODEX_ASYNC_MAX_JOBS", "1".to_string())];
    let daemon = Daemon::start_with(&home, &limit).await;
    let mut client = daemon.client().await;
    let holder = start(&mut client, &home, "hang").await.job_id;
    let queued = start(&mut client, &home, "print:never-run-by-codexd").await;
    assert_eq!(queued.status(), JobStatus::Queued);
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    // As if codexd had died just after spawning the queued job's monitor:
    // monitor.log exists, the monitor has not yet written monitor.json.
    let dir = home.paths().jobs().join(&queued.job_id);
    let monitor_log = dir.join("monitor.log");
    std::fs::write(&monitor_log, "").expect("monitor.log");
    let go = home.root().join("go");

    let start_monitor = async {
        let log = home.root().join("codexd-serve.log");
        testkit::wait_until_async("codexd to wait for the monitor", || {
            let log = log.clone();
            async move {
                std::fs::read_to_string(&log)
                    .is_ok_and(|l| l.contains("waiting for job monitors an earlier codexd"))
            }
        })
        .await;
        let mut monitor = std::process::Command::new(testkit::bin("codexd"))
            .envs(home.env())
            .arg("monitor")
            .arg("--job-dir")
            .arg(&dir)
            .arg("--")
            .arg(testkit::fake_codex())
            .args(["exec", "--json", "--skip-git-repo-check", "--"])
            .arg(format!("print:adopted;waitfile:{}", go.display()))
            .current_dir(home.workdir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&monitor_log).expect("monitor.log"))
            .spawn()
            .expect("spawn a monitor");
        let stdout = monitor.stdout.take().expect("monitor stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("monitor's first line");
        assert!(line.starts_with("started "), "{line}");
        let codex = line["started ".len()..]
            .trim()
            .parse::<i32>()
            .expect("codex pid");
        (codex, monitor)
    };
    let (daemon, (codex, mut monitor)) =
        tokio::join!(Daemon::start_with(&home, &limit), start_monitor);
    let mut client = daemon.client().await;
    let job = get(&mut client, &queued.job_id).await.job.expect("job");
    assert_eq!(job.status(), JobStatus::Running, "adopted");
    assert_eq!(
        job.pid,
        Some(codex),
        "the monitor's codex, not a second one"
    );
    std::fs::write(&go, "").expect("let it finish");
    let end = wait_for_end(&client, &queued.job_id).await;
    assert_eq!(end.job.expect("job").status(), JobStatus::Done);
    assert_eq!(
        events(&end.output, "fake.args").count(),
        1,
        "codex ran once"
    );
    assert!(!end.output.contains("never-run-by-codexd"));
    let holder = get(&mut client, &holder).await.job.expect("job");
    assert_eq!(holder.status(), JobStatus::Running);
    // The job has ended, so its monitor has exited or is about to.
    let status = monitor.wait().expect("reap the monitor");
    assert!(status.success(), "monitor exit: {status}");
}

#[tokio::test]
async fn the_background_repair_leaves_a_start_in_progress_alone() {
    use codex_async_daemon::{store::db::Db, store::repair};
    let home = TempHome::new();
    let paths = home.paths();
    std::fs::create_dir_all(paths.jobs()).expect("jobs dir");
    let db = Db::open(&paths.database())
        .await
        .expect("open the database");
    let serving_since = std::time::SystemTime::now();
    // What a Start has written just before it inserts the row.
    let starting = paths.jobs().join("abcdef012345");
    std::fs::create_dir(&starting).expect("job folder");
    std::fs::write(starting.join("prompt.txt"), "fix it").expect("prompt");
    std::fs::write(starting.join("output.txt"), "").expect("output");
    let report = repair::check(&db, &paths.jobs(), repair::Scope::All { serving_since })
        .await
        .expect("check");
    assert!(
        starting.join("prompt.txt").exists(),
        "a Start in progress lost its folder"
    );
    assert_eq!(report.unrecorded_starts_removed, 0);
    db.close().await;
}

/// The standby monitor (started ahead of the next Start) is a convenience,
/// never a risk: killed from outside it costs no job, and it leaves with codexd.
#[tokio::test]
async fn a_killed_standby_monitor_costs_no_job_and_a_standby_leaves_with_codexd() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let daemon_pid = daemon.pid();
    let standby = || async move { idle_standby_monitors(daemon_pid).first().copied() };

    let spare = poll_for("codexd to keep a standby monitor", standby).await;
    kill(Pid::from_raw(spare), Signal::SIGKILL).expect("kill the standby");
    wait_until("the standby to die", || !pid_alive(spare));
    let job = start(&mut client, &home, "print:ran-without-the-standby").await;
    assert_ne!(job.status(), JobStatus::Error, "{:?}", job.error);
    let end = wait_for_end(&client, &job.job_id).await;
    let ended = end.job.expect("job");
    assert_eq!(ended.status(), JobStatus::Done, "{:?}", ended.error);
    assert_eq!(ended.exit_code, Some(0));
    let output = std::fs::read_to_string(home.paths().jobs().join(&job.job_id).join("output.txt"))
        .expect("output.txt");
    assert!(output.contains("ran-without-the-standby"), "{output}");

    // A new standby replaces the used one; when codexd dies (even by
    // SIGKILL) its stdin closes and it exits.
    let spare = poll_for("a new standby monitor", standby).await;
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    wait_until("the standby to exit with codexd", || !pid_alive(spare));
}
