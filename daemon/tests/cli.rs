//! The commands for people (`codexd jobs/show/logs/cancel/prune/doctor`), the
//! service files (`install-service`, checked by `systemd-analyze verify`),
//! socket activation with an inherited listening socket, and the log file.

use std::{
    fs,
    os::{
        fd::AsRawFd,
        unix::{fs::PermissionsExt, net::UnixListener, process::CommandExt},
    },
    path::Path,
    process::{Command, Output, Stdio},
};

use codex_async_proto::{
    v1::{GetRequest, InfoRequest, JobStatus, ShutdownRequest, StartRequest},
    Client,
};
use serde_json::Value;
use testkit::{bin, poll_for, wait_until, Daemon, ProcessGuard, TempHome};

/// How the systemd tools the service tests need get onto a CI machine.
const SYSTEMD_HOW: &str = ".ci/run installs them with `apt-get install systemd`";

async fn start(client: &mut Client, req: StartRequest) -> String {
    client
        .start(req)
        .await
        .expect("start")
        .into_inner()
        .job
        .expect("job")
        .job_id
}

async fn wait_for_status(client: &Client, id: &str, want: fn(JobStatus) -> bool) {
    poll_for("the job status", || {
        let mut client = client.clone();
        let id = id.to_string();
        async move {
            let job = client
                .get(GetRequest {
                    job_id: id,
                    tail_lines: Some(0),
                    since: None,
                })
                .await
                .ok()?
                .into_inner()
                .job?;
            want(job.status()).then_some(())
        }
    })
    .await
}

/// Runs `codexd <args>` on `home` (stdout is a pipe, so never a terminal).
fn codexd(home: &TempHome, args: &[&str]) -> Output {
    home.run_codexd(args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

#[tokio::test]
async fn jobs_show_logs_cancel_and_prune_work_against_the_daemon() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let patched = home.workdir().join("notes.txt");
    let done = start(
        &mut client,
        home.start_request(&format!(
            "cmd:cargo test=0;patch:{};msg:All done.;usage:12,7",
            patched.display()
        )),
    )
    .await;
    wait_for_status(&client, &done, |s| s == JobStatus::Done).await;
    let running = start(&mut client, home.start_request("print:tick;hang")).await;
    wait_for_status(&client, &running, |s| s == JobStatus::Running).await;

    // jobs: a table with both, newest first, and no colour codes on a pipe.
    let out = codexd(&home, &["jobs"]);
    assert!(out.status.success(), "{out:?}");
    let table = stdout(&out);
    assert!(!table.contains('\x1b'), "colours on a pipe: {table:?}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("PROMPT"),
        "{table}"
    );
    assert!(
        lines[1].starts_with(&running) && lines[1].contains("running"),
        "{table}"
    );
    assert!(
        lines[2].starts_with(&done) && lines[2].contains("done"),
        "{table}"
    );
    let listed = json(&codexd(&home, &["jobs", "--status", "done", "--json"]));
    let ids: Vec<&str> = listed["jobs"]
        .as_array()
        .expect("jobs array")
        .iter()
        .filter_map(|j| j["job_id"].as_str())
        .collect();
    assert_eq!(ids, vec![done.as_str()]);
    let bad = codexd(&home, &["jobs", "--status", "finished"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("queued, running, input_required, done"));

    // show: the job's result (the rendering the MCP tools return), then
    // its record.
    let out = codexd(&home, &["show", &done]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("Codex job {done} done (exit 0")),
        "{text}"
    );
    for want in ["\n\nAll done.\n\n", "notes.txt", "cargo test", "12 in"] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
    let shown = json(&codexd(&home, &["show", &done, "--json"]));
    assert_eq!(shown["job"]["status"], "done");
    assert_eq!(shown["summary"]["final_message"], "All done.");
    assert_eq!(shown["summary"]["usage"]["output_tokens"], 7);
    assert_eq!(shown["summary"]["commands"][0]["command"], "cargo test");
    // Every field, for programs: the record's settings and the summary's
    // facts a result is made of, null when not set.
    for key in [
        "reasoning_effort",
        "review",
        "output_schema_path",
        "output_note",
        "worktree_note",
    ] {
        assert!(
            shown["job"].get(key).is_some(),
            "job.{key} missing: {shown}"
        );
    }
    for key in ["final_json", "final_json_error", "commit_note", "approvals"] {
        assert!(
            shown["summary"].get(key).is_some(),
            "summary.{key} missing: {shown}"
        );
    }
    let missing = codexd(&home, &["show", "0123456789ab"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no job 0123456789ab"));

    // logs: exactly output.txt, and for a running job what exists so far.
    let output_file = home.paths().jobs().join(&done).join("output.txt");
    let out = codexd(&home, &["logs", &done, "--raw"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, fs::read(&output_file).expect("output.txt"));
    let out = codexd(&home, &["logs", &done]);
    let readable = stdout(&out);
    assert!(
        readable.contains("$ cargo test  → exit 0") && readable.contains("message: All done."),
        "{readable}"
    );
    let running_output = home.paths().jobs().join(&running).join("output.txt");
    wait_until("the running job to print", || {
        fs::read_to_string(&running_output).is_ok_and(|t| t.contains("tick"))
    });
    let out = codexd(&home, &["logs", &running]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("tick"), "{}", stdout(&out));

    // logs -f follows until the job ends; cancel ends it.
    let follower = home
        .codexd()
        .args(["logs", "-f", &running])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn logs -f");
    let mut follower = ProcessGuard::new(follower);
    let out = codexd(&home, &["cancel", &running]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("cancelled"), "{}", stdout(&out));
    wait_until("logs -f to end with the job", || {
        matches!(follower.child().try_wait(), Ok(Some(_)))
    });
    let mut followed = String::new();
    let mut notes = String::new();
    use std::io::Read;
    let child = follower.child();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut followed)
        .expect("read");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut notes)
        .expect("read");
    assert!(followed.contains("tick"), "{followed}");
    assert!(notes.contains("ended cancelled"), "{notes}");

    // prune: an hour's age keeps both; 0s removes the finished ones, folders
    // included, and never a running job.
    let still = start(&mut client, home.start_request("hang")).await;
    wait_for_status(&client, &still, |s| s == JobStatus::Running).await;
    let kept = json(&codexd(&home, &["prune", "--older-than", "1h", "--json"]));
    assert_eq!(kept["job_ids"].as_array().map(Vec::len), Some(0));
    let dry = json(&codexd(
        &home,
        &["prune", "--older-than", "0s", "--dry-run", "--json"],
    ));
    assert_eq!(dry["job_ids"].as_array().map(Vec::len), Some(2));
    assert!(home.paths().jobs().join(&done).exists(), "dry run deleted");
    let pruned = json(&codexd(&home, &["prune", "--older-than", "0s", "--json"]));
    let mut ids: Vec<&str> = pruned["job_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    ids.sort();
    let mut want = vec![done.as_str(), running.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert!(pruned["freed_bytes"].as_u64().is_some_and(|b| b > 0));
    assert!(!home.paths().jobs().join(&done).exists());
    assert!(home.paths().jobs().join(&still).exists());
    let left = json(&codexd(&home, &["jobs", "--json"]));
    assert_eq!(left["jobs"].as_array().map(Vec::len), Some(1));
    assert_eq!(left["jobs"][0]["job_id"], still.as_str());
    let bad_age = codexd(&home, &["prune", "--older-than", "7"]);
    assert!(!bad_age.status.success());
    assert!(String::from_utf8_lossy(&bad_age.stderr).contains("7d"));
}

#[test]
fn read_only_commands_say_the_daemon_is_not_running() {
    let home = TempHome::new();
    for args in [
        &["jobs"][..],
        &["show", "0123456789ab"],
        &["logs", "0123456789ab"],
    ] {
        let out = codexd(&home, args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("not running") && err.contains("codexd start"),
            "{err}"
        );
    }
    assert!(
        !home.paths().socket.exists() && !home.paths().lock().exists(),
        "a read-only command started the daemon"
    );
    let out = codexd(&home, &["jobs", "--json"]);
    assert_eq!(json(&out)["running"], false);
}

/// A stand-in `codex` that prints a version.
fn fake_codex_version(dir: &Path, version: &str) -> std::path::PathBuf {
    let path = dir.join(format!("codex-{version}"));
    testkit::write_script(&path, &format!("#!/bin/sh\necho 'codex-cli {version}'\n"));
    path
}

#[tokio::test]
async fn doctor_checks_codex_version_daemon_and_prints_the_mcp_line() {
    let home = TempHome::new();
    let _daemon = Daemon::start(&home).await;
    let good = fake_codex_version(home.root(), "0.169.0");
    let out = home
        .codexd()
        .env("CODEX_BIN", &good)
        .args(["doctor"])
        .output()
        .expect("doctor");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let shim = bin("codex-async-shim");
    assert!(
        text.contains(&format!("claude mcp add codex-async -- {}", shim.display())),
        "{text}"
    );
    assert!(
        text.contains("0.169.0") && text.contains("running (pid"),
        "{text}"
    );

    let old = fake_codex_version(home.root(), "0.124.9");
    let out = home
        .codexd()
        .env("CODEX_BIN", &old)
        .args(["doctor", "--json"])
        .output()
        .expect("doctor");
    assert!(!out.status.success());
    let report = json(&out);
    assert_eq!(report["ok"], false);
    let codex = &report["checks"][0];
    assert_eq!(codex["status"], "fail");
    assert!(
        codex["fix"]
            .as_str()
            .is_some_and(|f| f.contains("npm install -g @openai/codex")),
        "{codex}"
    );

    let out = home
        .codexd()
        .env("CODEX_BIN", home.root().join("no-such-codex"))
        .args(["doctor"])
        .output()
        .expect("doctor");
    assert!(!out.status.success());
    assert!(stdout(&out).contains("not found"), "{}", stdout(&out));
}

/// doctor's `homes` check, run on `home` with `env` on top of its own.
fn doctor_homes(home: &TempHome, env: &[(&str, &Path)]) -> Option<Value> {
    let mut command = home.codexd();
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.args(["doctor", "--json"]).output().expect("doctor");
    let report = json(&out);
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == "homes"))
        .cloned()
}

#[tokio::test]
async fn doctor_warns_when_the_home_and_the_socket_name_different_homes() {
    let (here, there) = (TempHome::new(), TempHome::new());
    let daemon = Daemon::start(&there).await;
    let (here_home, there_home) = (here.home(), there.home());
    let there_socket = there.paths().socket;

    // The daemon answering on the socket keeps its jobs in another home.
    let check =
        doctor_homes(&here, &[("CODEX_ASYNC_SOCKET", &there_socket)]).expect("a homes check");
    let detail = check["detail"].as_str().unwrap_or_default();
    let fix = check["fix"].as_str().unwrap_or_default();
    assert_eq!(check["status"], "warn", "{check}");
    assert!(
        detail.contains(&format!("keeps its jobs in {}", there_home.display()))
            && detail.contains(&here_home.display().to_string()),
        "{check}"
    );
    assert!(
        fix.contains("unset CODEX_ASYNC_SOCKET")
            && fix.contains(&format!("CODEX_ASYNC_HOME={}", there_home.display())),
        "{check}"
    );
    // Its own socket, or one outside any home: nothing to say.
    assert_eq!(doctor_homes(&there, &[]), None);
    let elsewhere = here.root().join("run");
    fs::create_dir_all(&elsewhere).expect("mkdir");
    let outside = elsewhere.join("codexd.sock");
    assert_eq!(
        doctor_homes(&here, &[("CODEX_ASYNC_SOCKET", &outside)]),
        None
    );

    // With that daemon gone, the socket's folder is still another home.
    drop(daemon);
    let check =
        doctor_homes(&here, &[("CODEX_ASYNC_SOCKET", &there_socket)]).expect("a homes check");
    assert_eq!(check["status"], "warn", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!(
                "is in another codex-async home, {}",
                there_home.display()
            ))),
        "{check}"
    );

    // The daemon holding the home listens on a socket this environment
    // does not name.
    let mut serve = here.codexd();
    serve
        .env("CODEX_ASYNC_SOCKET", &outside)
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _serving = ProcessGuard::new(serve.spawn().expect("spawn codexd serve"));
    wait_until("codexd to listen on its socket", || {
        std::os::unix::net::UnixStream::connect(&outside).is_ok()
    });
    let check = doctor_homes(&here, &[]).expect("a homes check");
    assert_eq!(check["status"], "warn", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("listens on {}", outside.display()))),
        "{check}"
    );
}

/// A home directory for install-service (HOME decides where the files go).
fn service_cmd(user_home: &Path, home: &TempHome, args: &[&str]) -> Output {
    home.codexd()
        .env("HOME", user_home)
        .env_remove("XDG_CONFIG_HOME")
        .args(args)
        .output()
        .expect("run codexd")
}

#[test]
fn install_service_writes_units_that_systemd_accepts() {
    let home = TempHome::new();
    let user_home = home.root().join("user");
    fs::create_dir_all(&user_home).expect("user home");

    // --print writes nothing.
    let out = service_cmd(
        &user_home,
        &home,
        &["install-service", "--print", "--kind", "systemd"],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("KillMode=process"));
    let unit_dir = user_home.join(".config/systemd/user");
    assert!(!unit_dir.exists(), "--print wrote files");

    let out = service_cmd(&user_home, &home, &["install-service", "--kind", "systemd"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("systemctl --user enable --now codexd.socket"));
    let service = fs::read_to_string(unit_dir.join("codexd.service")).expect("service");
    let socket = fs::read_to_string(unit_dir.join("codexd.socket")).expect("socket");
    let exe = bin("codexd").canonicalize().expect("codexd path");
    assert!(
        service.contains(&format!("ExecStart=\"{}\" serve", exe.display())),
        "{service}"
    );
    assert!(service.contains("KillMode=process"));
    assert!(service.contains(&format!(
        "Environment=\"CODEX_ASYNC_HOME={}\"",
        home.home().display()
    )));
    assert!(
        socket.contains(&format!("ListenStream={}", home.paths().socket.display())),
        "{socket}"
    );
    assert!(socket.contains("SocketMode=0600"));

    if testkit::tool_on_path("systemd-analyze", "--version", SYSTEMD_HOW) {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(unit_dir.join("codexd.service"))
            .arg(unit_dir.join("codexd.socket"))
            .output()
            .expect("systemd-analyze verify");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.trim().is_empty(),
            "verify: {err}"
        );
    }

    let out = service_cmd(
        &user_home,
        &home,
        &["uninstall-service", "--kind", "systemd"],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(!unit_dir.join("codexd.service").exists());
    assert!(!unit_dir.join("codexd.socket").exists());

    // The launchd agent, printed (checked as a property list where python3 can).
    let out = service_cmd(
        &user_home,
        &home,
        &["install-service", "--print", "--kind", "launchd"],
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let plist = text.split_once('\n').map(|(_, rest)| rest).unwrap_or("");
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import plistlib,sys,json; p=plistlib.loads(sys.stdin.buffer.read()); print(json.dumps(p))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(plist.as_bytes())?;
            child.wait_with_output()
        })
        .expect("python3 plistlib");
    assert!(parsed.status.success(), "plist does not parse:\n{plist}");
    let p: Value = serde_json::from_slice(&parsed.stdout).expect("plist json");
    assert_eq!(p["Label"], "dev.codex-async.codexd");
    assert_eq!(p["ProgramArguments"][1], "serve");
    assert_eq!(p["AbandonProcessGroup"], true);
    assert_eq!(p["KeepAlive"]["SuccessfulExit"], false);
    assert!(p["StandardErrorPath"]
        .as_str()
        .is_some_and(|s| s.starts_with(&home.home().join("logs").display().to_string())));
}

/// The socket as systemd passes it: bound and listening by someone else,
/// inherited at fd 3 with LISTEN_FDS=1 and LISTEN_PID = codexd's own pid.
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "systemd socket activation and /proc/<pid>/fd are Linux's; launchd binds no socket for codexd"
)]
#[tokio::test]
async fn serve_accepts_a_socket_passed_by_systemd() {
    let home = TempHome::new();
    fs::create_dir_all(home.home()).expect("home");
    fs::set_permissions(home.home(), fs::Permissions::from_mode(0o700)).expect("chmod home");
    let socket = home.paths().socket;
    let listener = UnixListener::bind(&socket).expect("bind");
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o600)).expect("chmod socket");
    let fd = listener.as_raw_fd();
    let log = fs::File::create(home.root().join("activated.log")).expect("log");
    let mut command = Command::new("sh");
    // LISTEN_PID must be codexd's pid, known only after the fork: the shell
    // sets it to its own pid, then execs codexd (same pid).
    command
        .args([
            "-c",
            "LISTEN_PID=$$ exec \"$0\" serve",
            &bin("codexd").display().to_string(),
        ])
        .envs(home.env())
        .env("LISTEN_FDS", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log);
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if fd == 3 {
                let flags = libc::fcntl(3, libc::F_GETFD);
                libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            } else if libc::dup2(fd, 3) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let guard = ProcessGuard::new(command.spawn().expect("spawn codexd"));
    let pid = guard.pid();

    let mut client = poll_for("codexd to answer on the inherited socket", || {
        let socket = socket.clone();
        async move { codex_async_proto::connect(&socket).await.ok() }
    })
    .await;
    let info = client
        .info(InfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.pid, pid, "the activated codexd answered");

    // A job's monitor must not hold the listening socket: it outlives codexd.
    let id = start(&mut client, home.start_request("hang")).await;
    wait_for_status(&client, &id, |s| s == JobStatus::Running).await;
    let ino = fs::read_link(format!("/proc/self/fd/{fd}")).expect("our socket");
    // The monitor writes monitor.json just after it reports codex started.
    let monitors = poll_for("the job's monitor.json", || {
        let monitors = home.live_monitors();
        async move { (!monitors.is_empty()).then_some(monitors) }
    })
    .await;
    for monitor in monitors {
        let fds = fs::read_dir(format!("/proc/{monitor}/fd")).expect("monitor fds");
        for entry in fds.flatten() {
            assert_ne!(
                fs::read_link(entry.path()).ok().as_ref(),
                Some(&ino),
                "monitor {monitor} inherited the listening socket"
            );
        }
    }

    // Stopping leaves the socket file in place: it belongs to the socket unit.
    client.shutdown(ShutdownRequest {}).await.expect("shutdown");
    drop(client);
    let mut guard = guard;
    wait_until("codexd to exit", || {
        matches!(guard.child().try_wait(), Ok(Some(_)))
    });
    assert!(socket.exists(), "codexd removed the inherited socket");
    drop(listener);
}

#[tokio::test]
async fn serve_logs_job_lifecycle_to_a_daily_file() {
    let home = TempHome::new();
    let daemon = Daemon::start_with(&home, &[("RUST_LOG", "info".to_string())]).await;
    let mut client = daemon.client().await;
    let id = start(&mut client, home.start_request("print:hi")).await;
    wait_for_status(&client, &id, |s| s.is_terminal()).await;
    let logs = home.home().join("logs");
    let mode = fs::metadata(&logs).expect("logs dir").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    // The appender names its files by UTC date.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let file = logs.join(format!("codexd.log.{today}"));
    wait_until("the job's end in the log file", || {
        fs::read_to_string(&file).is_ok_and(|t| {
            t.lines()
                .any(|l| l.contains("job ended") && l.contains(&id))
        })
    });
    let text = fs::read_to_string(&file).expect("log file");
    assert!(text.contains("codexd serving"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("job running") && l.contains(&format!("job_id={id}"))),
        "{text}"
    );
}

/// The same through systemd's own activator, when installed: it binds the
/// socket, waits for the first connection, then execs codexd with fd 3.
#[tokio::test]
async fn serve_works_under_systemd_socket_activate() {
    if !testkit::tool_on_path("systemd-socket-activate", "--version", SYSTEMD_HOW) {
        return;
    }
    let home = TempHome::new();
    fs::create_dir_all(home.home()).expect("home");
    fs::set_permissions(home.home(), fs::Permissions::from_mode(0o700)).expect("chmod home");
    let socket = home.paths().socket;
    let mut command = Command::new("systemd-socket-activate");
    command.arg("-l").arg(&socket);
    // The activator passes on only the variables it is told to.
    for (key, value) in home.env() {
        command.arg("-E").arg(format!("{key}={value}"));
    }
    let log = fs::File::create(home.root().join("activate.log")).expect("log");
    let activator = command
        .arg(bin("codexd"))
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("spawn systemd-socket-activate");
    let _guard = ProcessGuard::new(activator);
    wait_until("the activator to bind the socket", || socket.exists());
    // The activator binds with the default mode; the unit file asks for 0600,
    // which codexd insists on. Set it before the first connection starts codexd.
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o600)).expect("chmod socket");
    let mut client = poll_for("codexd started by the first connection", || {
        let socket = socket.clone();
        async move { codex_async_proto::connect(&socket).await.ok() }
    })
    .await;
    let info = client
        .info(InfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.home, home.home().display().to_string());
    let log = fs::read_to_string(home.root().join("activate.log")).unwrap_or_default();
    assert!(
        log.contains("serving on the socket passed by the service manager"),
        "{log}"
    );
}
