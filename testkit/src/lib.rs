//! Test support: every test gets its own temp home and socket, a real `codexd`
//! and the fake codex, and stops what it started by pid when it is dropped.
//! Fakes of the OpenAI Responses API (for the real codex), of the Anthropic
//! Messages API (for the real Claude Code, driven by [`claude`]) and of the
//! Gemini API (for the real Gemini CLI) run on loopback; `agents` points
//! codexd's Gemini CLI and Claude Code jobs at them.
//! [`McpShim`] talks to the shim as a model's MCP client does.

mod agents;
pub mod claude;
mod fake_anthropic;
mod fake_gemini;
mod fake_provider;
mod mcp;
mod needs;
mod small_disk;

pub use agents::{claude_env, claude_state, doctor_check, gemini_env, gemini_state};
pub use claude::{claude_bin, keys, ClaudeCode, Headless, Interactive};
pub use fake_anthropic::{FakeAnthropic, InputFn, Log, Request, Step, ToolResult};
pub use fake_gemini::{FakeGemini, Turn, PROMPT_TOKENS as GEMINI_PROMPT_TOKENS};
pub use fake_provider::{Answer, Behaviour, FakeProvider};
pub use mcp::{McpShim, ToolAnswer};
pub use needs::{
    deadline, in_ci, root, scaled, skip_or_fail, time_scale, tool_from_env, tool_on_path,
};
pub use small_disk::{ReadOnlyView, SmallDisk};

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use codex_async_proto::{
    connect,
    paths::Paths,
    v1::{GetRequest, GetResponse, Job, StartRequest},
    Client,
};
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};

/// The old fixed wait limit, kept so code written against it still builds.
#[deprecated(
    note = "use testkit::deadline(), which is longer and scales with CODEX_ASYNC_TEST_TIME_SCALE"
)]
pub const DEADLINE: Duration = Duration::from_secs(120);

/// Path of a binary of this workspace, built next to the test executable.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

/// The real codex CLI named by `$CODEX_ASYNC_REAL_CODEX` (`.ci/run` installs
/// it from npm), or None after [`skip_or_fail`] (a panic under `CI=true`).
#[track_caller]
pub fn real_codex() -> Option<PathBuf> {
    tool_from_env(
        "CODEX_ASYNC_REAL_CODEX",
        "the real codex CLI",
        ".ci/run installs @openai/codex with npm into ~/.cache/codex-async-ci/npm and exports it",
    )
}

/// The real Gemini CLI named by `$CODEX_ASYNC_GEMINI` (`.ci/run` installs it
/// from npm), or None after [`skip_or_fail`] (a panic under `CI=true`).
#[track_caller]
pub fn gemini_bin() -> Option<PathBuf> {
    tool_from_env(
        "CODEX_ASYNC_GEMINI",
        "the Gemini CLI",
        ".ci/run installs @google/gemini-cli with npm into ~/.cache/codex-async-ci/gemini and exports it",
    )
}

/// The repository's root folder (this checkout).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives in the repository")
        .to_path_buf()
}

/// The fake codex script (see testdata/fake-codex).
pub fn fake_codex() -> PathBuf {
    repo_root().join("testdata/fake-codex")
}

/// Polls `cond` until it holds or [`deadline`] passes; panics with `what` then.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let (start, limit) = (Instant::now(), deadline());
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out waiting for {what} ({limit:?})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Async form of [`wait_until`] for conditions that need the daemon.
pub async fn wait_until_async<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (start, limit) = (Instant::now(), deadline());
    while !cond().await {
        assert!(
            start.elapsed() < limit,
            "timed out waiting for {what} ({limit:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `f` until it yields a value or [`deadline`] passes; panics with `what` then.
pub async fn poll_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let (start, limit) = (Instant::now(), deadline());
    loop {
        if let Some(value) = f().await {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "timed out waiting for {what} ({limit:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// True while `pid` names a live process (a zombie counts as dead).
pub fn pid_alive(pid: i32) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    let state = match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3, after the parenthesised command name, is the state.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_string)),
        // No /proc (macOS): ps says.
        Err(_) if !Path::new("/proc/self").exists() => Command::new("ps")
            .args(["-o", "stat=", "-p", &pid.to_string()])
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|state| !state.is_empty()),
        Err(_) => None,
    };
    state.is_some_and(|state| !state.starts_with('Z') && !state.starts_with('X'))
}

/// A process as the tests look at it: state, parent and command line (its
/// arguments joined by NUL, as /proc/<pid>/cmdline has them).
struct Row {
    pid: i32,
    ppid: i32,
    state: String,
    cmdline: String,
}

/// Every process, from /proc on Linux and from `ps` elsewhere (macOS has no
/// /proc; the words of `ps`'s command line are joined by NUL, as in
/// /proc/<pid>/cmdline, so a token means the same on both).
fn process_rows() -> Vec<Row> {
    if Path::new("/proc/self/stat").exists() {
        return fs::read_dir("/proc")
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                    .filter_map(|pid| {
                        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                        // After the parenthesised command name: state, then parent pid.
                        let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
                        let state = fields.next()?.to_string();
                        let ppid = fields.next()?.parse().ok()?;
                        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                        Some(Row {
                            pid,
                            ppid,
                            state,
                            cmdline: String::from_utf8_lossy(&cmdline).into_owned(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
    let Ok(out) = Command::new("ps")
        .args(["-A", "-o", "pid=,ppid=,stat=,args="])
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some(Row {
                pid: fields.next()?.parse().ok()?,
                ppid: fields.next()?.parse().ok()?,
                state: fields.next()?.to_string(),
                cmdline: fields.collect::<Vec<_>>().join("\0"),
            })
        })
        .collect()
}

/// Live processes whose command line holds `token`: to prove that nothing a
/// job started (even in its own session) survived it. Looks, never kills.
pub fn processes_with(token: &str) -> Vec<i32> {
    process_rows()
        .into_iter()
        .filter(|p| p.cmdline.contains(token))
        .map(|p| p.pid)
        .filter(|pid| pid_alive(*pid))
        .collect()
}

/// Live processes whose command line is exactly `argv` (a command a test
/// made unique, such as `sleep 317.25`): what a job ran, found even in a
/// session of its own. Looks, never kills.
pub fn processes_running(argv: &[&str]) -> Vec<i32> {
    let wanted = argv.join("\0");
    process_rows()
        .into_iter()
        .filter(|p| p.cmdline.trim_end_matches('\0') == wanted)
        .map(|p| p.pid)
        .filter(|pid| pid_alive(*pid))
        .collect()
}

/// codexd's idle standby monitors: its children started as
/// `codexd monitor --standby` that have no job yet (no codex under them).
pub fn idle_standby_monitors(daemon: i32) -> Vec<i32> {
    let rows = process_rows();
    rows.iter()
        .filter(|p| p.ppid == daemon && !p.state.starts_with('Z'))
        .filter(|p| p.cmdline.contains("monitor\0--standby"))
        .filter(|p| !rows.iter().any(|child| child.ppid == p.pid))
        .map(|p| p.pid)
        .collect()
}

/// The id of the newest job once there is one: the job a client (a real
/// Claude Code, say) started where the test cannot see its answer.
pub async fn newest_job_id(client: &Client) -> String {
    poll_for("the job to start", || {
        let client = client.clone();
        async move {
            let jobs = client
                .clone()
                .list(codex_async_proto::v1::ListRequest {
                    limit: Some(5),
                    status: None,
                })
                .await
                .ok()?
                .into_inner()
                .jobs;
            jobs.first().map(|j| j.job_id.clone())
        }
    })
    .await
}

/// A job as Get shows it by default (no raw tail, the latest events).
pub async fn get(client: &mut Client, id: &str) -> GetResponse {
    client
        .get(GetRequest {
            job_id: id.into(),
            tail_lines: None,
            since: None,
        })
        .await
        .expect("get")
        .into_inner()
}

/// Starts a job; its record as the Start answered it.
pub async fn start_job(client: &Client, request: StartRequest) -> Job {
    client
        .clone()
        .start(request)
        .await
        .expect("start")
        .into_inner()
        .job
        .expect("job in start response")
}

/// Codex's pid for a job that was just started: a Start answers once the
/// job's monitor has it, and the pid follows when codex has been spawned.
pub async fn codex_pid(client: &Client, id: &str) -> i32 {
    poll_for("codex's pid", || {
        let mut client = client.clone();
        let id = id.to_string();
        async move {
            let job = get(&mut client, &id)
                .await
                .job
                .expect("job in get response");
            if job.pid.is_none() && job.status().is_terminal() {
                panic!("job {id} ended before codex had a pid: {job:?}");
            }
            job.pid
        }
    })
    .await
}

/// Polls the job until it has ended; its Get answer then.
pub async fn wait_for_end(client: &Client, id: &str) -> GetResponse {
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

/// Writes an executable script (a stand-in codex, a wrapper, a git hook).
pub fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// The status of job `id` among `jobs`.
pub fn status_of(jobs: &[Job], id: &str) -> Option<codex_async_proto::v1::JobStatus> {
    jobs.iter().find(|j| j.job_id == id).map(|j| j.status())
}

/// Removes the home's database and its WAL and shared-memory files (as a
/// user losing it would), asserting it is gone.
pub fn delete_database(home: &TempHome) {
    let db = home.paths().database();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", db.display());
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("remove {path}: {e}"),
        }
    }
    assert!(!db.exists());
}

/// The pid of job `id`'s monitor, from its `monitor.json` (waited for).
pub fn monitor_of(home: &TempHome, id: &str) -> i32 {
    from_monitor_json(home, id, "monitor_pid")
}

/// The pid of job `id`'s codex, from its monitor's `monitor.json` (waited
/// for): found with no codexd running, too.
pub fn codex_of(home: &TempHome, id: &str) -> i32 {
    from_monitor_json(home, id, "codex_pid")
}

fn from_monitor_json(home: &TempHome, id: &str, field: &str) -> i32 {
    let path = home.paths().jobs().join(id).join("monitor.json");
    let mut pid = None;
    wait_until("the job's monitor.json", || {
        pid = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v[field].as_i64());
        pid.is_some()
    });
    pid.unwrap_or_else(|| panic!("{field} in {}", path.display())) as i32
}

/// The job of an ended Get answer, asserting it ended `done` (else the
/// failure shows its error and output).
pub fn expect_done(end: &GetResponse) -> Job {
    let job = end.job.clone().expect("job");
    assert_eq!(
        job.status(),
        codex_async_proto::v1::JobStatus::Done,
        "{:?}\n{}",
        job.error,
        end.output
    );
    job
}

/// A private state home in a short temp dir (socket paths are limited to ~100 bytes).
pub struct TempHome {
    dir: tempfile::TempDir,
}

impl TempHome {
    /// A fresh, empty home.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cxa-")
            .tempdir_in("/tmp")
            .expect("create temp home");
        Self { dir }
    }

    /// The home directory codexd will use (created by codexd itself).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The paths codexd and the shim derive from this home.
    pub fn paths(&self) -> Paths {
        Paths::in_home(&self.home())
    }

    /// A scratch directory for jobs to run in.
    pub fn workdir(&self) -> PathBuf {
        let dir = self.dir.path().join("work");
        fs::create_dir_all(&dir).expect("create workdir");
        dir
    }

    /// The temp root, for files a test wants to put beside the home.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Environment that points codexd and the shim at this home and the fake codex.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("CODEX_ASYNC_HOME".into(), self.home().display().to_string()),
            ("CODEX_BIN".into(), fake_codex().display().to_string()),
            ("CODEX_ASYNC_SOCKET".into(), String::new()),
            (
                "RUST_LOG".into(),
                "codex_async_daemon=debug,codexd=debug".into(),
            ),
        ]
    }

    /// A `Command` for `codexd` with this home's environment.
    pub fn codexd(&self) -> Command {
        let mut cmd = Command::new(bin("codexd"));
        cmd.envs(self.env());
        cmd
    }

    /// Runs `codexd <args>` on this home, stdin closed (stdout is a pipe,
    /// so never a terminal); its output.
    pub fn run_codexd(&self, args: &[&str]) -> std::process::Output {
        self.codexd()
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run codexd")
    }

    /// A Start of `prompt` (the fake codex's script) in this home's work
    /// folder, every other field at its default.
    pub fn start_request(&self, prompt: &str) -> StartRequest {
        StartRequest {
            prompt: prompt.into(),
            cwd: self.workdir().display().to_string(),
            ..Default::default()
        }
    }

    /// Every job monitor still alive under this home, by the pid it recorded.
    pub fn live_monitors(&self) -> Vec<i32> {
        let Ok(entries) = fs::read_dir(self.paths().jobs()) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| fs::read_to_string(e.path().join("monitor.json")).ok())
            .filter_map(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .filter_map(|v| v["monitor_pid"].as_i64())
            .map(|pid| pid as i32)
            .filter(|pid| pid_alive(*pid))
            .collect()
    }
}

impl Default for TempHome {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempHome {
    /// Stops every job monitor left running (SIGTERM makes a monitor cancel its
    /// job and kill codex's whole tree), then SIGKILLs any that linger.
    fn drop(&mut self) {
        let monitors = self.live_monitors();
        for pid in &monitors {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
        }
        // Not an assertion: how long a cancelling monitor gets before SIGKILL.
        let (start, limit) = (Instant::now(), scaled(Duration::from_secs(10)));
        while start.elapsed() < limit && monitors.iter().any(|p| pid_alive(*p)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in monitors {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if let Some(pid) = daemon_pid(&self.paths()) {
            if pid_alive(pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// The pid a daemon recorded in its lock file (the first line), if any.
pub fn daemon_pid(paths: &Paths) -> Option<i32> {
    fs::read_to_string(paths.lock())
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Kills a process by pid when dropped (SIGKILL), and reaps it.
pub struct ProcessGuard {
    child: Child,
}

impl ProcessGuard {
    /// Guards an already spawned child.
    pub fn new(child: Child) -> Self {
        Self { child }
    }

    /// The guarded process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The child, for its pipes.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills a process that is not our child by pid when dropped (SIGKILL), for
/// processes a test reaches only by pid (a job's monitor or codex once its
/// folder, and so its `monitor.json`, is gone). The pid's start time is
/// recorded, so a pid reused after the process ended is never hit.
pub struct PidGuard {
    pid: i32,
    start_time: Option<String>,
}

impl PidGuard {
    /// Guards `pid` as the process it is now.
    pub fn new(pid: i32) -> Self {
        Self {
            pid,
            start_time: start_time(pid),
        }
    }

    /// The guarded pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl Drop for PidGuard {
    fn drop(&mut self) {
        if self.start_time.is_some() && start_time(self.pid) == self.start_time {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
    }
}

/// Field 22 of /proc/<pid>/stat (start time since boot), as text.
fn start_time(pid: i32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(19)?
            .to_string(),
    )
}

/// A `codexd serve` running in the foreground on a temp home.
pub struct Daemon {
    guard: ProcessGuard,
    paths: Paths,
}

impl Daemon {
    /// Starts `codexd serve` on `home` and waits until its socket answers.
    pub async fn start(home: &TempHome) -> Self {
        Self::start_with(home, &[]).await
    }

    /// Like [`Daemon::start`], with extra environment variables.
    pub async fn start_with(home: &TempHome, env: &[(&str, String)]) -> Self {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.root().join("codexd-serve.log"))
            .expect("create log");
        let child = home
            .codexd()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn codexd serve");
        let daemon = Self {
            guard: ProcessGuard::new(child),
            paths: home.paths(),
        };
        let socket = daemon.paths.socket.clone();
        let (started, limit) = (Instant::now(), deadline());
        while connect(&socket).await.is_err() {
            if started.elapsed() > limit {
                // What codexd said is the first thing a reader of a CI log needs.
                let log =
                    fs::read_to_string(home.root().join("codexd-serve.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "timed out ({limit:?}) waiting for codexd to answer on its socket {}; its log ends:\n{}",
                    socket.display(),
                    tail.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        daemon
    }

    /// `codexd serve` running the real codex (`CODEX_ASYNC_REAL_CODEX`)
    /// against `provider`, with extra environment; None (the test skips,
    /// saying why; under `CI=true` it fails) without a real codex.
    pub async fn with_real_codex(
        home: &TempHome,
        provider: &FakeProvider,
        env: &[(&str, String)],
    ) -> Option<Self> {
        let codex = real_codex()?;
        let codex_home = home.root().join("codex-home");
        provider.write_codex_config(&codex_home);
        // codex keeps the user's HOME: with a HOME of its own, codex (0.146
        // most often) went on without running a full-auto command at all in
        // about half the runs of real_codex's cancel_mid_command test.
        // codex runs commands in login shells, whose profile may run pyenv's
        // rehash; a shell a test kills mid-rehash leaves its lock, and every
        // later rehash would wait 60 s for it (making commands look hung).
        // With no wait, a rehash that finds the lock just gives up.
        let mut all = vec![
            ("CODEX_BIN", codex.display().to_string()),
            ("CODEX_HOME", codex_home.display().to_string()),
            ("PYENV_REHASH_TIMEOUT", "0".to_string()),
        ];
        all.extend(env.iter().cloned());
        Some(Self::start_with(home, &all).await)
    }

    /// The daemon's pid.
    pub fn pid(&self) -> i32 {
        self.guard.pid()
    }

    /// A fresh client on the daemon's socket.
    pub async fn client(&self) -> Client {
        connect(&self.paths.socket)
            .await
            .expect("connect to codexd")
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid()), signal).expect("signal codexd");
    }

    /// Waits for the daemon to exit and returns its exit status.
    pub fn wait(mut self) -> std::process::ExitStatus {
        let (start, limit) = (Instant::now(), deadline());
        loop {
            if let Some(status) = self.guard.child().try_wait().expect("wait codexd") {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "codexd did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs git in `dir` as a user would, with a fixed identity (`A User
/// <user@example.com>`), asserting success; its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "A User")
        .env("GIT_AUTHOR_EMAIL", "user@example.com")
        .env("GIT_COMMITTER_NAME", "A User")
        .env("GIT_COMMITTER_EMAIL", "user@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs SQL on the home's database while codexd is stopped (a test-only way
/// to age jobs or fake a clock).
pub async fn sql(home: &TempHome, statement: &str) {
    use sqlx::ConnectOptions;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(home.paths().database())
        .connect()
        .await
        .expect("open the database");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(&mut conn)
        .await
        .expect("run sql");
}

/// Every job codexd lists (up to 1,000), newest first.
pub async fn list_all(client: &Client) -> Vec<codex_async_proto::v1::Job> {
    client
        .clone()
        .list(codex_async_proto::v1::ListRequest {
            limit: Some(1000),
            status: None,
        })
        .await
        .unwrap_or_else(|e| panic!("List failed: {e}"))
        .into_inner()
        .jobs
}

/// What the test's `codexd serve` said on stderr (and so in its log) so far.
pub fn daemon_log(home: &TempHome) -> String {
    fs::read_to_string(home.root().join("codexd-serve.log")).unwrap_or_default()
}

/// A finished command's status and both its streams, for a failure message.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The lines `stream` gives (a child's stdout, say), read on a thread of
/// their own so that every wait on them can have a deadline.
pub fn lines_of(stream: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Points every proxy variable `cmd` may read at a closed port, loopback
/// excepted: a program under test that reaches for the network fails at
/// once instead of waiting, and one talking to a fake on loopback works.
pub fn without_network(cmd: &mut Command) -> &mut Command {
    let dead_proxy = "http://127.0.0.1:9";
    cmd.env("HTTPS_PROXY", dead_proxy)
        .env("HTTP_PROXY", dead_proxy)
        .env("https_proxy", dead_proxy)
        .env("http_proxy", dead_proxy)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
}
