//! The settings are checked the same way by `doctor`, `config`, `serve` and
//! `start`, each problem named with its key; `codexd start` never waits for
//! nothing (a socket path too long, a daemon that dies at once, a daemon on
//! another socket); doctor's messages for a non-executable codex and a
//! symlinked home; and what `start` and `status` say about a daemon of
//! another version. Every command runs the real codexd binary.

use std::{
    fs,
    os::unix::fs::{symlink, PermissionsExt},
    path::PathBuf,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use codex_async_proto::connect;
use testkit::{daemon_pid, pid_alive, wait_until_async, Daemon, ProcessGuard, TempHome};

/// Only to catch the old fixed 20 s wait, not a speed requirement.
const NO_HANG: Duration = Duration::from_secs(10);

/// This codexd's version.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `codexd <args>` on `home`, with RUST_LOG unset so config.toml's
/// `log_level` is the one in effect.
fn run(home: &TempHome, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd: Command = home.codexd();
    cmd.env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null());
    cmd.output().expect("run codexd")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A home folder that exists (0700) with `config` as its config.toml.
fn home_with_config(config: &str) -> TempHome {
    let home = TempHome::new();
    fs::create_dir_all(home.home()).expect("create home");
    fs::set_permissions(home.home(), fs::Permissions::from_mode(0o700)).expect("chmod home");
    fs::write(home.home().join("config.toml"), config).expect("write config.toml");
    home
}

fn config_file(home: &TempHome) -> String {
    home.home().join("config.toml").display().to_string()
}

/// The lines doctor printed for its `config` check(s).
fn doctor_config_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("FAIL config "))
        .map(|l| l.trim_start_matches("FAIL config ").trim().to_string())
        .collect()
}

/// Runs doctor, config, serve and start on `home` and checks that doctor
/// fails with `problems` as its config lines and that the other three refuse
/// with the same text, which lists each problem.
fn refused_alike(home: &TempHome, problems: &[&str]) {
    let doctor = run(home, &["doctor"], &[]);
    let report = stdout(&doctor);
    assert_eq!(doctor.status.code(), Some(1), "{report}");
    assert!(
        !report.contains("all good") && report.contains("something needs fixing"),
        "{report}"
    );
    let first_lines: Vec<String> = problems
        .iter()
        .map(|p| p.lines().next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(doctor_config_lines(&report), first_lines, "{report}");

    let heading = match problems.len() {
        1 => "a problem".to_string(),
        n => format!("{n} problems"),
    };
    let mut expected = format!(
        "codexd: the settings have {heading} (read from {}, then the environment):\n",
        config_file(home)
    );
    for problem in problems {
        for line in problem.lines() {
            expected.push_str(&format!("  {line}\n"));
        }
    }
    for args in [&["config"][..], &["serve"], &["start"]] {
        let started = Instant::now();
        let out = run(home, args, &[]);
        assert!(started.elapsed() < NO_HANG, "codexd {args:?} hung");
        assert_eq!(out.status.code(), Some(1), "codexd {args:?}");
        assert_eq!(stderr(&out), expected, "codexd {args:?}");
    }
    assert_eq!(daemon_pid(&home.paths()), None, "no daemon was started");
}

#[test]
fn max_concurrent_jobs_0_is_refused_by_doctor_config_serve_and_start() {
    let home = home_with_config("max_concurrent_jobs = 0\n");
    refused_alike(
        &home,
        &["config.toml: max_concurrent_jobs = 0 is not valid: a whole number from 1 to 256 (default 4)"],
    );
}

#[test]
fn an_unknown_key_is_refused_with_the_known_keys_and_a_suggestion() {
    let home = home_with_config("max_jobs = 2\n");
    refused_alike(
        &home,
        &[
            "config.toml: unknown key \"max_jobs\" (did you mean max_concurrent_jobs?); the keys \
           are codex_bin, gemini_bin, claude_bin, default_approval_policy, default_model, default_reasoning_effort, max_concurrent_jobs, \
           output_cap_bytes, retention_days, stall_timeout_seconds, question_timeout_seconds, init_timeout_seconds, max_duration_seconds, \
           extra_codex_args, log_level, task_answers",
        ],
    );
}

#[test]
fn a_bad_log_level_is_refused_everywhere() {
    let home = home_with_config("log_level = \"info,codex_async_daemon=loud\"\n");
    let problem = "config.toml: log_level = \"info,codex_async_daemon=loud\" is not valid: a \
                   tracing filter: a level (off, error, warn, info, debug, trace) or target=level \
                   pairs, e.g. info or info,codex_async_daemon=debug (";
    let doctor = run(&home, &["doctor"], &[]);
    assert_eq!(doctor.status.code(), Some(1));
    let lines = doctor_config_lines(&stdout(&doctor));
    assert!(
        lines.len() == 1 && lines[0].starts_with(problem),
        "{lines:?}"
    );
    let exact = lines[0].clone();
    refused_alike(&home, &[exact.as_str()]);

    // RUST_LOG is the same setting and gets the same check.
    let plain = home_with_config("");
    let out = run(&plain, &["config"], &[("RUST_LOG", "verbose")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).ends_with(
            "\n  RUST_LOG=\"verbose\" is not valid: a tracing filter: a level (off, error, warn, \
             info, debug, trace) or target=level pairs, e.g. info or \
             info,codex_async_daemon=debug (\"verbose\" is not a level)\n"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn three_problems_are_three_lines_each_naming_its_key() {
    let home = home_with_config("max_concurrent_jobs = 0\nmax_jobs = 2\nlog_level = \"verbose\"\n");
    refused_alike(
        &home,
        &[
            "config.toml: unknown key \"max_jobs\" (did you mean max_concurrent_jobs?); the keys \
             are codex_bin, gemini_bin, claude_bin, default_approval_policy, default_model, default_reasoning_effort, max_concurrent_jobs, \
             output_cap_bytes, retention_days, stall_timeout_seconds, question_timeout_seconds, init_timeout_seconds, max_duration_seconds, \
             extra_codex_args, log_level, task_answers",
            "config.toml: max_concurrent_jobs = 0 is not valid: a whole number from 1 to 256 \
             (default 4)",
            "config.toml: log_level = \"verbose\" is not valid: a tracing filter: a level (off, \
             error, warn, info, debug, trace) or target=level pairs, e.g. info or \
             info,codex_async_daemon=debug (\"verbose\" is not a level)",
        ],
    );
}

#[test]
fn a_toml_syntax_error_keeps_its_lines_and_caret() {
    let home = home_with_config("max_concurrent_jobs = 4\nretention_days = = 3\n");
    let file = config_file(&home);
    let problem = format!(
        "{file} is not valid TOML:\n    TOML parse error at line 2, column 18\n      |\n    2 | \
         retention_days = = 3\n      |                  ^\n    extra `=`, expected nothing"
    );
    refused_alike(&home, &[problem.as_str()]);
    // doctor keeps the caret under the column, indented under its check.
    let report = stdout(&run(&home, &["doctor"], &[]));
    assert!(
        report.contains(&format!(
            "FAIL config    {file} is not valid TOML:\n                   TOML parse error at line 2, column 18\n"
        )),
        "{report}"
    );
}

/// A socket path one byte over the limit, under the test's temp root.
fn over_long_socket(home: &TempHome) -> PathBuf {
    let root = home.root().display().to_string();
    let name = "s".repeat(codex_async_proto::paths::MAX_SOCKET_PATH + 1 - root.len() - 1);
    home.root().join(name)
}

#[test]
fn start_refuses_an_over_long_socket_path_before_forking() {
    let home = TempHome::new();
    let socket = over_long_socket(&home);
    let shown = socket.display().to_string();
    let expected = format!(
        "codexd: the socket path {shown} is {} bytes, longer than the {} bytes a Unix socket \
         path may have on this system; set CODEX_ASYNC_SOCKET to a shorter path (in a folder \
         only you can write, e.g. $XDG_RUNTIME_DIR/codexd.sock)\n",
        shown.len(),
        codex_async_proto::paths::MAX_SOCKET_PATH
    );
    let started = Instant::now();
    let out = run(&home, &["start"], &[("CODEX_ASYNC_SOCKET", &shown)]);
    assert!(started.elapsed() < NO_HANG, "start hung");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), expected);
    assert!(
        !home.paths().daemon_log().exists() && daemon_pid(&home.paths()).is_none(),
        "nothing was forked"
    );

    // serve binds in home::listen, which gives the same reason.
    let out = run(&home, &["serve"], &[("CODEX_ASYNC_SOCKET", &shown)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).ends_with(&expected), "{}", stderr(&out));

    // doctor says it too.
    let report = stdout(&run(&home, &["doctor"], &[("CODEX_ASYNC_SOCKET", &shown)]));
    assert!(
        report.contains(&format!("FAIL socket    the socket path {shown} is ")),
        "{report}"
    );
}

#[test]
fn start_reports_at_once_why_the_daemon_it_spawned_exited() {
    // A database path that is a folder: only serve finds out (it opens the
    // database), after `start` has forked it.
    let home = home_with_config("");
    let db = home.paths().database();
    fs::create_dir(&db).expect("a folder where the database goes");
    let started = Instant::now();
    let out = run(&home, &["start"], &[]);
    assert!(
        started.elapsed() < NO_HANG,
        "start waited for a dead daemon"
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let said = stderr(&out);
    assert!(
        said.starts_with(&format!(
            "codexd: the codexd it started exited at once: opening {}: ",
            db.display()
        )) && said.contains("unable to open database file")
            && said.ends_with(&format!(" (see {})\n", home.paths().daemon_log().display())),
        "{said}"
    );
}

#[tokio::test]
async fn start_names_the_daemon_serving_the_home_on_another_socket() {
    let home = TempHome::new();
    let other = home.root().join("other.sock");
    let log = fs::File::create(home.root().join("other-serve.log")).expect("log");
    let serving = ProcessGuard::new(
        home.codexd()
            .env("CODEX_ASYNC_SOCKET", &other)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn codexd serve"),
    );
    let socket = other.clone();
    wait_until_async("codexd to answer on the other socket", || {
        let socket = socket.clone();
        async move { connect(&socket).await.is_ok() }
    })
    .await;
    let pid = serving.pid();
    let (theirs, ours) = (
        other.display().to_string(),
        home.paths().socket.display().to_string(),
    );

    let started = Instant::now();
    let out = run(&home, &["start"], &[]);
    assert!(started.elapsed() < NO_HANG, "start hung");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "codexd: codexd (pid {pid}) already serves {} on another socket, {theirs}; this \
             codexd uses {ours}. Use that daemon: set CODEX_ASYNC_SOCKET={theirs} (as it was \
             started with); or stop it: `CODEX_ASYNC_SOCKET={theirs} codexd stop`\n",
            home.home().display()
        )
    );
    // serve names the socket too.
    let out = run(&home, &["serve"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("(pid {pid}, socket {theirs})")),
        "{}",
        stderr(&out)
    );
    // The lock file keeps the pid alone on its first line.
    assert_eq!(daemon_pid(&home.paths()), Some(pid));
    assert!(pid_alive(pid));
}

#[tokio::test]
async fn start_and_status_say_when_the_running_daemon_is_another_version() {
    let home = TempHome::new();
    let _daemon = Daemon::start_with(
        &home,
        &[("CODEX_ASYNC_TEST_VERSION_OVERRIDE", "0.0.1-test".into())],
    )
    .await;
    let note = format!(
        "codexd 0.0.1-test is running, this is {VERSION}: restart it with `codexd stop && \
         codexd start` (running jobs keep running)"
    );

    let out = run(&home, &["start"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("codexd already running (pid ")
            && stdout(&out).contains("version 0.0.1-test"),
        "{}",
        stdout(&out)
    );
    assert_eq!(stderr(&out), format!("codexd: warning: {note}\n"));

    let out = run(&home, &["status"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).ends_with(&format!("\n  note:     {note}\n")),
        "{}",
        stdout(&out)
    );
    let out = run(&home, &["status", "--json"], &[]);
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(value["version"], "0.0.1-test");
    assert_eq!(value["this_version"], VERSION);
    assert_eq!(value["version_note"], note.as_str());

    let report = stdout(&run(&home, &["doctor"], &[]));
    assert!(
        report.contains("warn daemon    running (pid ") && report.contains(&format!("→ {note}")),
        "{report}"
    );
}

#[tokio::test]
async fn the_same_version_gets_no_note() {
    let home = TempHome::new();
    let _daemon = Daemon::start(&home).await;
    let out = run(&home, &["start"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "");
    let status = stdout(&run(&home, &["status"], &[]));
    assert!(!status.contains("note:"), "{status}");
}

/// Doctor's line for one check, and the fix under it.
fn doctor_check(report: &str, name: &str) -> (String, String) {
    let mut lines = report.lines();
    let line = lines
        .find(|l| {
            l.get(5..)
                .is_some_and(|rest| rest.starts_with(&format!("{name:<9} ")))
        })
        .unwrap_or_default()
        .to_string();
    let fix = lines.next().unwrap_or_default().trim().to_string();
    (line, fix)
}

#[test]
fn doctor_calls_a_codex_without_execute_permission_not_executable() {
    let home = TempHome::new();
    let codex = home.root().join("codex");
    fs::write(&codex, "#!/bin/sh\necho 'codex-cli 0.169.0'\n").expect("write codex");
    fs::set_permissions(&codex, fs::Permissions::from_mode(0o644)).expect("chmod");
    let shown = codex.display().to_string();
    let report = stdout(&run(&home, &["doctor"], &[("CODEX_BIN", &shown)]));
    assert_eq!(
        doctor_check(&report, "codex"),
        (
            format!("FAIL codex     {shown} is not executable (mode 644)"),
            format!("→ chmod +x {shown}")
        ),
        "{report}"
    );
}

#[test]
fn doctor_says_a_symlinked_home_is_a_symlink_and_how_to_fix_it() {
    let home = TempHome::new();
    let real = home.root().join("real-home");
    fs::create_dir(&real).expect("real home");
    fs::set_permissions(&real, fs::Permissions::from_mode(0o700)).expect("chmod");
    symlink(&real, home.home()).expect("symlink the home");
    let (link, real) = (
        home.home().display().to_string(),
        real.display().to_string(),
    );
    let report = stdout(&run(&home, &["doctor"], &[]));
    assert_eq!(
        doctor_check(&report, "home"),
        (
            format!("FAIL home      {link} is a symlink to {real}"),
            format!(
                "→ set CODEX_ASYNC_HOME={real} (the real path), or replace the link by a \
                 directory: `rm {link} && mkdir -m 700 {link}`"
            )
        ),
        "{report}"
    );
    assert!(!report.contains("chown"), "{report}");
}
