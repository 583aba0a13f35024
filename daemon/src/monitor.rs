//! The per-job monitor: a small process between codexd and the job's agent
//! (the pattern of containerd-shim and conmon). It names no agent: what to
//! run and how to read it comes from the engine (`engine::launch`).
//!
//! codexd keeps one monitor on standby (`codexd monitor --standby`, in its own
//! session, waiting for a job on stdin) so a Start only has to hand it a job
//! (one JSON line, [`MonitorJob`]) instead of waiting for a process to start;
//! `codexd monitor --job-dir DIR -- ARGS…` runs one command directly. The
//! monitor starts the agent and reads it the way its engine says: a session
//! in the agent's own protocol (`engine::Session`, codex's app-server: the
//! prompt goes in its turn, its events into `output.txt`, its stderr straight
//! there), a stream translated line by line (`engine::Stream`, monitor/stream.rs:
//! Gemini CLI, Claude Code, the prompt on stdin), or neither (`codex exec
//! review`: the prompt file as stdin and stdout+stderr straight into
//! `output.txt`, no copy loop). It becomes a child subreaper on Linux so
//! every process the agent starts stays in its tree even after `setsid` (on
//! macOS, which has no subreaper, it walks its tree every second instead,
//! remembering the sessions that hold what the agent started:
//! `proctree::Tree`), and writes the agent's true exit status to `exit.json`.
//! It does not need codexd once the agent runs, so jobs outlive a daemon
//! crash or restart.
//!
//! Protocol with codexd: one line on stdout, `started <agent pid>` or
//! `failed <reason>`, then nothing. SIGTERM or SIGINT to the monitor means
//! "cancel": the session's interrupt (codex's `turn/interrupt`), else SIGINT
//! to the agent's process group, then SIGTERM, then SIGKILL to every
//! descendant, each after a grace period.
//! A standby monitor whose stdin closes before a job arrives (codexd exited)
//! exits quietly.

use std::{
    ffi::{OsStr, OsString},
    fs::{File, OpenOptions},
    io::{self, BufRead, Read, Write},
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use nix::{
    errno::Errno,
    sys::{
        signal::{kill, Signal},
        wait::{waitpid, WaitPidFlag, WaitStatus},
    },
    unistd::Pid,
};
use serde::{Deserialize, Serialize};
use tokio::{
    signal::unix::{signal, SignalKind},
    time::{sleep_until, Instant},
};

mod asks;
mod stream;

use crate::{
    engine::{self, SessionPlan},
    job::now_rfc3339,
    output::output_cap::{self, OutputCap},
    store::jobdir::{
        write_json_atomic, Durability, ExitInfo, ExitSlot, FolderGone, FolderIdentity, JobDir,
        MonitorInfo,
    },
    sys::proctree,
    watchdog::Watchdog,
};

/// After SIGINT, how long codex gets to stop its commands and exit.
const INT_GRACE: Duration = Duration::from_secs(3);
/// After SIGTERM, how long what is left gets before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);
/// How often the watchdogs look at the job.
const WATCHDOG_TICK: Duration = Duration::from_secs(1);
/// How often, where orphans leave the parent links (macOS), the monitor walks
/// its tree to remember the sessions and groups codex's processes are in, so
/// a process whose parent exited is still found when the job ends. A walk
/// reads one row per process on the machine (a millisecond or two).
const TREE_WALK_EVERY: Duration = Duration::from_secs(1);
/// After codex ends, how long the app-server session gets to read what
/// codex wrote before it exited (a process that kept its stdout open would
/// otherwise hold the job's end).
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// After codex ends, how long its leftover processes get after SIGTERM.
const LEFTOVER_GRACE: Duration = Duration::from_secs(1);
/// How soon a failed write of exit.json is tried again, and the longest wait
/// between two tries.
const EXIT_RETRY_FIRST: Duration = Duration::from_millis(200);
const EXIT_RETRY_MAX: Duration = Duration::from_secs(5);
/// The longest job line a standby monitor accepts (the argv is small: the
/// prompt is in a file).
const MAX_JOB_LINE: u64 = 1024 * 1024;

/// What the monitor enforces besides cancel: the watchdogs (seconds, 0 = off)
/// and the output cap (bytes).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Limits {
    pub stall_timeout: u32,
    pub max_duration: u32,
    pub output_cap: u64,
}

/// One job for a monitor: what codexd writes to a standby monitor's stdin as
/// one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonitorJob {
    /// The job's folder (`jobs/<id>`).
    pub job_dir: PathBuf,
    /// Where codex runs; None keeps the monitor's own working directory.
    pub run_dir: Option<PathBuf>,
    pub limits: Limits,
    /// The agent's command line.
    pub argv: Vec<OsString>,
    /// Set when the agent is driven through its own protocol (codex's
    /// app-server): what to ask it for (the monitor then runs the engine's
    /// `engine::Session`). The field keeps its name for the job line's format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_server: Option<SessionPlan>,
    /// Set when the agent's output is translated into codexd's events line
    /// by line (engine::Stream) before it reaches output.txt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<crate::engine::Stream>,
    /// Environment the agent gets on top of the monitor's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
    /// The agent `argv` runs, for what the monitor says when it cannot
    /// start it (a job line from an older codexd ran codex).
    #[serde(default)]
    pub agent: crate::engine::agent::Agent,
    /// Set when the agent of `stream` sends its permission questions to a
    /// relay (policy `ask`): they become the job's questions (monitor/asks.rs),
    /// each denied after this many seconds unanswered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questions: Option<u32>,
}

/// Runs one job given on the command line. Returns the process exit code (0
/// unless the monitor itself failed).
pub fn run(job: MonitorJob) -> i32 {
    // Its own session first: out of codexd's process group and session, so it
    // outlives codexd and never gets the signals of codexd's terminal.
    let _ = nix::unistd::setsid();
    let dir = JobDir::at(job.job_dir.clone());
    let Some((runtime, signals)) = prepare() else {
        return 1;
    };
    finish(&runtime, &dir, signals, job)
}

/// Waits on stdin for the job codexd hands over, then runs it; exits quietly
/// if stdin closes first. Everything that does not depend on the job (the
/// runtime, the signal handlers, the subreaper flag) is set up while waiting,
/// so the job's codex starts as soon as the job arrives.
pub fn run_standby() -> i32 {
    let _ = nix::unistd::setsid();
    let Some((runtime, signals)) = prepare() else {
        return 1;
    };
    let mut line = String::new();
    let read = io::stdin().lock().take(MAX_JOB_LINE).read_line(&mut line);
    match read {
        Ok(0) => return 0,
        Ok(_) => {}
        Err(e) => {
            report(&Report::Failed(format!(
                "the monitor cannot read its job: {e}"
            )));
            return 1;
        }
    }
    let job: MonitorJob = match serde_json::from_str(&line) {
        Ok(job) => job,
        Err(e) => {
            report(&Report::Failed(format!(
                "the monitor got a malformed job: {e}"
            )));
            return 1;
        }
    };
    let dir = JobDir::at(job.job_dir.clone());
    attach_to_job(&dir);
    finish(&runtime, &dir, signals, job)
}

/// The signals the monitor acts on, registered before codex exists so none
/// is missed.
struct Signals {
    child: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    /// codexd left an answer to codex's question (`answer.json`).
    answer: tokio::signal::unix::Signal,
    /// Ignored: a lost terminal is no reason to stop.
    _hangup: tokio::signal::unix::Signal,
}

/// The runtime and the signal handlers; None (after reporting why) if the
/// process cannot have them.
fn prepare() -> Option<(tokio::runtime::Runtime, Signals)> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report(&Report::Failed(format!("cannot create runtime: {e}")));
            return None;
        }
    };
    become_subreaper();
    let signals = {
        let _entered = runtime.enter();
        (|| -> io::Result<Signals> {
            Ok(Signals {
                child: signal(SignalKind::child())?,
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
                answer: signal(SignalKind::user_defined1())?,
                _hangup: signal(SignalKind::hangup())?,
            })
        })()
    };
    match signals {
        Ok(signals) => Some((runtime, signals)),
        Err(e) => {
            report(&Report::Failed(format!("cannot listen for signals: {e}")));
            None
        }
    }
}

fn finish(
    runtime: &tokio::runtime::Runtime,
    dir: &JobDir,
    signals: Signals,
    job: MonitorJob,
) -> i32 {
    match runtime.block_on(supervise(dir, signals, job)) {
        Ok(()) => 0,
        Err(e) => {
            log(dir, &format!("monitor error: {e:#}"));
            1
        }
    }
}

/// A standby monitor, once it has its job: stdin no longer holds codexd's
/// pipe, and stderr goes to the job's monitor.log.
fn attach_to_job(dir: &JobDir) {
    if let Ok(null) = File::open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(&null);
    }
    if let Ok(log) = OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.monitor_log())
    {
        let _ = nix::unistd::dup2_stderr(&log);
    }
}

/// Records that codex could not be started (exit.json, then the report line).
async fn fail_start(dir: &JobDir, reason: String) -> anyhow::Result<()> {
    let exit = ExitInfo {
        exit_code: None,
        signal: None,
        cancelled: false,
        reason: None,
        spawn_error: Some(reason.clone()),
        output_note: None,
        duration_ms: None,
        finished_at: now_rfc3339(),
    };
    store_exit(dir, &mut ExitSlot::unreserved(dir), &exit).await;
    report(&Report::Failed(reason));
    Ok(())
}

/// Writes exit.json, retrying until it is stored: codex's exit status is the
/// one fact nothing else knows, so the monitor stays (small and idle) until it
/// is safe rather than exit with it unwritten (a full disk, a home remounted
/// read-only for a while, an I/O error).
async fn store_exit(dir: &JobDir, slot: &mut ExitSlot, exit: &ExitInfo) {
    let mut backoff = EXIT_RETRY_FIRST;
    let mut logged = false;
    loop {
        match slot.store(exit) {
            Ok(()) => {
                if logged {
                    log(dir, "exit.json written after all");
                }
                return;
            }
            Err(e) if FolderGone::is(&e) => {
                // Nothing can hold the record: codexd finds the monitor gone
                // without one and says why (the folder was removed).
                eprintln!("codexd monitor: {e}; giving up on exit.json");
                return;
            }
            Err(e) => {
                if !logged {
                    // The log may be on the same full disk: best effort.
                    log(
                        dir,
                        &format!("cannot write exit.json ({e}); retrying until it can be"),
                    );
                    logged = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(EXIT_RETRY_MAX);
            }
        }
    }
}

async fn supervise(dir: &JobDir, signals: Signals, job: MonitorJob) -> anyhow::Result<()> {
    let MonitorJob {
        run_dir,
        limits,
        argv,
        app_server,
        stream,
        env,
        agent,
        questions,
        ..
    } = job;
    let Signals {
        child: mut sigchld,
        terminate: mut sigterm,
        interrupt: mut sigint,
        answer: mut sigusr1,
        _hangup,
    } = signals;

    // Before the agent (its relay connects as soon as it asks) and before
    // the run directory is entered (the bind is made from the job's folder).
    let ask_socket = match (questions, stream) {
        (Some(_), Some(_)) => match asks::bind(dir) {
            Ok(listener) => Some(listener),
            Err(e) => {
                return fail_start(
                    dir,
                    format!(
                        "cannot open the socket the agent's questions come by, in {}: {e}",
                        dir.path().display()
                    ),
                )
                .await;
            }
        },
        _ => None,
    };
    if let Some(run_dir) = &run_dir {
        // Checked here rather than by the spawn, whose "not found" would
        // blame codex for a missing directory.
        if let Err(e) = std::env::set_current_dir(run_dir) {
            return fail_start(
                dir,
                format!(
                    "cannot enter the job's directory {}: {e}; check that it exists and is readable",
                    run_dir.display()
                ),
            )
            .await;
        }
    }
    // The folder the job's files are in, to notice it removed (see below).
    let folder = FolderIdentity::of(dir);
    // Before codex can fill the disk with its output.
    let mut exit_slot = ExitSlot::reserve(dir);
    let codex = match spawn_codex(dir, &argv, &env, app_server.is_some(), stream.is_some()) {
        Ok(spawned) => spawned,
        Err(e) => {
            let program = display_program(&argv);
            let reason = match e.kind() {
                io::ErrorKind::NotFound
                    if crate::sys::program::which(std::path::Path::new(&program)).is_some() =>
                {
                    crate::engine::cannot_execute(agent, &program, &e)
                }
                io::ErrorKind::NotFound => crate::engine::not_found(agent, &program),
                _ => format!("cannot start {agent} ({program}): {e}"),
            };
            return fail_start(dir, reason).await;
        }
    };
    // codex's run time, by a clock no wall-clock change moves.
    let spawned_at = std::time::Instant::now();
    let Spawned {
        pid: codex,
        pipes,
        stdout: agent_stdout,
    } = codex;
    // An agent whose output is translated: its lines go through the engine's
    // translator into output.txt until it closes its stdout.
    let mut pump = match (stream, agent_stdout) {
        (Some(stream), Some(stdout)) => match stream::Pump::start(dir, stream, stdout) {
            Ok(pump) => Some(pump),
            Err(e) => {
                let _ = kill(codex, Signal::SIGKILL);
                return fail_start(dir, format!("cannot read the agent's output: {e}")).await;
            }
        },
        _ => None,
    };
    let asks = match (ask_socket, stream) {
        (Some(listener), Some(stream)) => {
            match asks::Asks::start(dir, listener, stream, questions.unwrap_or(0)) {
                Ok(asks) => Some(asks),
                Err(e) => {
                    let _ = kill(codex, Signal::SIGKILL);
                    return fail_start(dir, format!("cannot take the agent's questions: {e}"))
                        .await;
                }
            }
        }
        _ => None,
    };
    let mut session = match (app_server, pipes) {
        (Some(plan), Some((stdin, stdout))) => {
            match engine::Session::start(dir, plan, stdin, stdout, codex.as_raw()) {
                Ok(session) => Some(session),
                Err(e) => {
                    let _ = kill(codex, Signal::SIGKILL);
                    let reason = format!("cannot talk to codex app-server: {e}");
                    return fail_start(dir, reason).await;
                }
            }
        }
        _ => None,
    };
    let me = std::process::id() as i32;
    let info = MonitorInfo {
        monitor_pid: me,
        monitor_start_time: proctree::start_time(me),
        codex_pid: codex.as_raw(),
        codex_start_time: proctree::start_time(codex.as_raw()),
        started_at: now_rfc3339(),
    };
    // codexd first (a Start is waiting for this line), then the hint for
    // re-adoption (after a power loss the monitor is gone anyway). A codexd
    // that dies in between finds this monitor by its pid in the database.
    report(&Report::Started(codex.as_raw()));
    detach_stdout();
    // Only a hint for re-adoption (the database holds the monitor's pid too):
    // a home that went read-only or full this very moment must not end the
    // job, whose codex already runs and whose end is retried until stored.
    if let Err(e) = write_json_atomic(&dir.monitor_info(), &info, Durability::Atomic) {
        eprintln!(
            "codexd monitor: cannot write {}: {e}; going on without it",
            dir.monitor_info().display()
        );
    }
    let mut cap = CapGuard::open(dir, limits.output_cap);
    let mut cap_check = tokio::time::interval(output_cap::CHECK_EVERY);
    let mut disk = DiskWatch { full_since: None };

    let mut watchdog = Watchdog::new(
        dir.output(),
        limits.stall_timeout,
        limits.max_duration,
        agent,
    );
    let mut tick = tokio::time::interval(WATCHDOG_TICK);
    let mut stop: Option<CancelStage> = None;
    let mut tree = proctree::Tree::new(me);
    let mut tree_walk = tokio::time::interval(TREE_WALK_EVERY);
    let status = loop {
        if let Some(status) = reap(Some(codex)) {
            break status;
        }
        let deadline = stop.as_ref().map(|c| c.deadline);
        tokio::select! {
            _ = sigchld.recv() => {}
            _ = cap_check.tick() => {
                cap.enforce(dir);
                disk.check(dir);
                // The job's folder is the job: with it gone nobody can read
                // codex's output, ask for its result or find this monitor
                // (monitor.json), so the job is over. codex is stopped like
                // a cancel rather than left to run (and edit files) unseen.
                if stop.is_none() {
                    if let Some(why) = folder.and_then(|f| f.removed_reason(dir)) {
                        let why = format!("{why}; {agent} was stopped");
                        stop = Some(CancelStage::begin(dir, codex, session.as_ref(), Some(why)));
                    }
                }
            }
            _ = tree_walk.tick(), if proctree::ORPHANS_LEAVE_THE_TREE => {
                tree.descendants();
            }
            _ = sigterm.recv() => stop = stop.or_else(|| Some(CancelStage::begin(dir, codex, session.as_ref(), None))),
            _ = sigint.recv() => stop = stop.or_else(|| Some(CancelStage::begin(dir, codex, session.as_ref(), None))),
            _ = sigusr1.recv() => {
                if let Some(session) = &session {
                    let _ = session.control.send(engine::Control::Answer);
                }
                if let Some(asks) = &asks {
                    asks.wake();
                }
            }
            _ = tick.tick(), if stop.is_none() && !watchdog.is_off() => {
                // Waiting for a person is not a stall.
                if session.as_ref().is_some_and(engine::Session::waiting)
                    || asks.as_ref().is_some_and(asks::Asks::waiting)
                {
                    watchdog.hold();
                }
                if let Some(reason) = watchdog.check() {
                    // A monitor that was frozen (SIGSTOP, a suspended VM)
                    // wakes to an elapsed deadline and, maybe, to codex
                    // already exited: the exit that happened wins over the
                    // timer, whichever of the two this wake-up saw first.
                    if let Some(status) = reap(Some(codex)) {
                        break status;
                    }
                    stop = Some(CancelStage::begin(dir, codex, session.as_ref(), Some(reason)));
                }
            }
            _ = initialize_overdue(session.as_ref()), if stop.is_none() => {
                // As with a watchdog, an exit already happened wins.
                if let Some(status) = reap(Some(codex)) {
                    break status;
                }
                let why = session.as_ref().map(engine::Session::give_up);
                stop = Some(CancelStage::begin(dir, codex, session.as_ref(), why));
            }
            _ = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                if let Some(stage) = stop.as_mut() {
                    stage.escalate(&mut tree, codex);
                }
            }
        }
    };
    // The agent is gone: nothing asks any more (the socket file goes too).
    let asks_stopped = asks.as_ref().is_some_and(asks::Asks::stopped);
    drop(asks);
    kill_leftovers(&mut tree, &mut sigchld).await;
    if let Some(session) = session.as_mut() {
        session.drain(DRAIN_GRACE).await;
    }
    let pumped = match pump.take() {
        Some(pump) => Some(pump.finish(DRAIN_GRACE).await),
        None => None,
    };
    // What codex printed since the last check counts too.
    cap.enforce(dir);
    disk.check(dir);

    let (exit_code, signal) = match status {
        WaitStatus::Exited(_, code) => (Some(code), None),
        WaitStatus::Signaled(_, sig, _) => (None, Some(sig as i32)),
        _ => (None, None),
    };
    let stop_sent = stop.is_some();
    let mut ending = engine::Ending {
        cancelled: stop.as_ref().is_some_and(|s| s.reason.is_none()),
        reason: stop.and_then(|s| s.reason),
        exit_code,
        signal,
    };
    if let Some(session) = &session {
        // A session's turn, not its process, says how the job went.
        let program = argv
            .first()
            .map_or(OsStr::new(agent.default_program()), OsString::as_os_str);
        session
            .settle(program, &dir.output(), stop_sent, &mut ending)
            .await;
    }
    let engine::Ending {
        mut exit_code,
        signal,
        mut reason,
        mut cancelled,
    } = ending;
    // The user answered `stop` to a relayed question: the agent ended its
    // run for it (with its own error), and the job ends cancelled, as a
    // codex job's `stop` does (a watchdog's reason stands).
    if asks_stopped && reason.is_none() {
        cancelled = true;
    }
    if let Some(pumped) = pumped {
        // The agent's own word on how its run went: an error it reported
        // with exit 0, or what its exit code means.
        if reason.is_none() && !cancelled {
            reason = match exit_code {
                Some(0) => pumped.failure,
                Some(code) => pumped.explained(code),
                None => None,
            };
            if reason.is_some() && exit_code == Some(0) {
                exit_code = Some(1);
            }
        }
    }
    // Removed in the last moments, or while a cancel or a watchdog stopped
    // codex: whatever else happened, the job's output is lost, and its
    // result must say so.
    if !reason
        .as_deref()
        .is_some_and(|r| r.starts_with("folder_removed:"))
    {
        if let Some(why) = folder.and_then(|f| f.removed_reason(dir)) {
            reason = Some(why);
            cancelled = false;
        }
    }
    let exit = ExitInfo {
        exit_code,
        signal,
        cancelled,
        reason,
        spawn_error: None,
        output_note: disk.note(),
        duration_ms: Some(u64::try_from(spawned_at.elapsed().as_millis()).unwrap_or(u64::MAX)),
        finished_at: now_rfc3339(),
    };
    store_exit(dir, &mut exit_slot, &exit).await;
    Ok(())
}

/// The output cap as the monitor uses it: a failure is logged, never fatal,
/// since losing the job over its output size would be worse.
struct CapGuard {
    cap: Option<OutputCap>,
    reported: Option<output_cap::Method>,
    /// The last error, so a lasting one is logged once.
    last_error: Option<String>,
}

impl CapGuard {
    fn open(dir: &JobDir, bytes: u64) -> Self {
        let cap = match OutputCap::open(&dir.output(), bytes) {
            Ok(cap) => Some(cap),
            Err(e) => {
                log(
                    dir,
                    &format!("output cap disabled: cannot open output.txt: {e}"),
                );
                None
            }
        };
        Self {
            cap,
            reported: None,
            last_error: None,
        }
    }

    fn enforce(&mut self, dir: &JobDir) {
        let Some(cap) = self.cap.as_mut() else {
            return;
        };
        match cap.enforce() {
            Ok(Some(dropped)) if self.reported != Some(dropped.method) => {
                self.reported = Some(dropped.method);
                log(
                    dir,
                    &format!(
                        "output over the cap: dropping its head ({:?}); {} bytes dropped so far",
                        dropped.method, dropped.total
                    ),
                );
            }
            Ok(_) => {}
            Err(e) => {
                // Kept, not disabled: a full disk or an I/O error passes, and
                // the cap must work again when it does. Said once per cause.
                let text = e.to_string();
                if self.last_error.as_deref() != Some(text.as_str()) {
                    log(dir, &format!("output cap: {e}; trying again"));
                    self.last_error = Some(text);
                }
                return;
            }
        }
        self.last_error = None;
    }
}

/// Watches the filesystem that holds `output.txt`: codex writes there itself,
/// so the monitor cannot see a write fail, but it can see that there was no
/// room left for one. The first time, it notes when, for the job's result.
struct DiskWatch {
    full_since: Option<String>,
}

impl DiskWatch {
    fn check(&mut self, dir: &JobDir) {
        if self.full_since.is_some() {
            return;
        }
        let Ok(stat) = nix::sys::statvfs::statvfs(dir.path()) else {
            return;
        };
        if stat.blocks_available() == 0 {
            let at = now_rfc3339();
            log(
                dir,
                "the filesystem holding output.txt is full: the agent's output is being lost",
            );
            self.full_since = Some(at);
        }
    }

    /// What the job's result says about its output, if anything was lost.
    fn note(&self) -> Option<String> {
        self.full_since.as_ref().map(|at| {
            format!("output incomplete: the disk holding the job's output was full at {at}, so some of what codex printed may not have been written; free space (codexd prune) before the next job")
        })
    }
}

/// Where a stop (a cancel, or a watchdog) is: which signal was sent last and
/// when the next is due.
struct CancelStage {
    next: Signal,
    deadline: Instant,
    /// The watchdog's reason; None for a cancel request.
    reason: Option<String>,
}

impl CancelStage {
    fn begin(
        dir: &JobDir,
        codex: Pid,
        session: Option<&engine::Session>,
        reason: Option<String>,
    ) -> Self {
        let why = reason.as_deref().unwrap_or("cancel requested");
        match session {
            // The app-server stops the turn and its command itself; the
            // signals follow only if it does not.
            Some(session) => {
                log(dir, &format!("{why}: turn/interrupt to codex app-server"));
                let _ = session.control.send(engine::Control::Interrupt);
            }
            None => {
                log(dir, &format!("{why}: SIGINT to codex's process group"));
                // codex's process group has codex's pid (it was started with process_group(0)).
                let _ = kill(Pid::from_raw(-codex.as_raw()), Signal::SIGINT);
            }
        }
        Self {
            next: Signal::SIGTERM,
            deadline: Instant::now() + INT_GRACE,
            reason,
        }
    }

    fn escalate(&mut self, tree: &mut proctree::Tree, codex: Pid) {
        let mut targets = tree.descendants();
        targets.push(codex.as_raw());
        proctree::signal_all(&targets, self.next);
        self.deadline = Instant::now() + TERM_GRACE;
        self.next = Signal::SIGKILL;
    }
}

/// Reaps every exited child (as a subreaper, orphans are ours too); returns
/// codex's status once codex has exited.
fn reap(codex: Option<Pid>) -> Option<WaitStatus> {
    let mut codex_status = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
            Ok(status) => {
                if codex.is_some() && status.pid() == codex {
                    codex_status = Some(status);
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    codex_status
}

/// After codex has ended, nothing it started may outlive the job: SIGTERM,
/// a short grace, then SIGKILL until none is left.
async fn kill_leftovers(tree: &mut proctree::Tree, sigchld: &mut tokio::signal::unix::Signal) {
    let left = tree.descendants();
    if left.is_empty() {
        return;
    }
    proctree::signal_all(&left, Signal::SIGTERM);
    let deadline = Instant::now() + LEFTOVER_GRACE;
    loop {
        reap(None);
        let left = tree.descendants();
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            proctree::signal_all(&left, Signal::SIGKILL);
        }
        // Wake on a child's exit, or re-check soon (a grandchild's exit is not ours to hear).
        tokio::select! {
            _ = sigchld.recv() => {}
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
}

/// codex started: its pid, and for the app-server its stdin and stdout.
struct Spawned {
    pid: Pid,
    pipes: Option<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)>,
    /// The agent's stdout alone, for a translated stream.
    stdout: Option<std::os::fd::OwnedFd>,
}

fn spawn_codex(
    dir: &JobDir,
    argv: &[OsString],
    env: &[(String, String)],
    app_server: bool,
    translated: bool,
) -> io::Result<Spawned> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no codex command given"))?;
    let output = OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.output())?;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stderr(output.try_clone()?)
        .process_group(0);
    if translated {
        // The prompt on stdin as below; its output through the translator.
        command
            .stdin(match File::open(dir.prompt()) {
                Ok(prompt) => Stdio::from(prompt),
                Err(_) => Stdio::null(),
            })
            .stdout(Stdio::piped());
    } else if app_server {
        // The protocol runs on stdin and stdout; the prompt goes in turn/start.
        command.stdin(Stdio::piped()).stdout(Stdio::piped());
    } else {
        // The prompt comes on stdin (`-`) from its file: no argv length limit
        // (Linux caps one argument at 128 KiB), no prompt in `ps` for other
        // users to read, and EOF right after it — an open pipe would make
        // codex wait forever.
        command
            .stdin(match File::open(dir.prompt()) {
                Ok(prompt) => Stdio::from(prompt),
                Err(_) => Stdio::null(),
            })
            .stdout(output);
    }
    let mut child = command.spawn()?;
    let pipes = match (child.stdin.take(), child.stdout.take()) {
        (Some(stdin), Some(stdout)) => Some((stdin.into(), stdout.into())),
        (None, Some(stdout)) => {
            return Ok(Spawned {
                pid: Pid::from_raw(child.id() as i32),
                pipes: None,
                stdout: Some(stdout.into()),
            })
        }
        _ => None,
    };
    // The monitor reaps codex itself (waitpid, as a subreaper): the Child
    // handle is dropped without a wait.
    Ok(Spawned {
        pid: Pid::from_raw(child.id() as i32),
        pipes,
        stdout: None,
    })
}

fn display_program(argv: &[OsString]) -> String {
    argv.first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "codex".into())
}

#[cfg(target_os = "linux")]
fn become_subreaper() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes plain integers and has no
    // memory effects.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn become_subreaper() {
    // macOS has no subreaper: a descendant whose parent exits is reparented to
    // launchd, and is found by the sessions the monitor's walks remember
    // (proctree::Tree, TREE_WALK_EVERY).
}

/// Tells codexd how the start went (its one line on our stdout).
/// The one line a monitor tells codexd on stdout, once: codex runs (its
/// pid), or it could not be started (why). Both sides use this type, so the
/// protocol has one definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Started(i32),
    Failed(String),
}

impl Report {
    /// The line on the wire: `started <pid>` or `failed <reason>`.
    pub fn line(&self) -> String {
        match self {
            Self::Started(pid) => format!("started {pid}"),
            Self::Failed(reason) => format!("failed {}", reason.replace('\n', " ")),
        }
    }

    /// A line read from a monitor; None for anything else (a monitor that
    /// died mid-line, or another program).
    pub fn parse(line: &str) -> Option<Self> {
        if let Some(pid) = line.strip_prefix("started ") {
            return pid.trim().parse().ok().map(Self::Started);
        }
        line.strip_prefix("failed ")
            .map(|reason| Self::Failed(reason.to_string()))
    }
}

fn report(report: &Report) {
    let line = report.line();
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Points stdout at /dev/null: codexd may be gone, and nothing else is said.
fn detach_stdout() {
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
    }
}

/// Resolves when the app-server session gave codex too long to answer
/// `initialize`; never without a session.
async fn initialize_overdue(session: Option<&engine::Session>) {
    match session {
        Some(session) => session.initialize_overdue().await,
        None => std::future::pending().await,
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

fn log(dir: &JobDir, message: &str) {
    if let Ok(mut f) = OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.monitor_log())
    {
        let _ = writeln!(f, "{} {message}", now_rfc3339());
    }
}

#[cfg(test)]
mod tests {
    use super::Report;

    #[test]
    fn a_report_reads_back_as_written() {
        for report in [
            Report::Started(4242),
            Report::Failed("cannot start codex: not found".into()),
        ] {
            assert_eq!(Report::parse(&report.line()), Some(report));
        }
        // One line, whatever the reason holds.
        assert_eq!(Report::Failed("a\nb".into()).line(), "failed a b");
        assert_eq!(Report::parse("started x"), None);
        assert_eq!(Report::parse("hello"), None);
    }
}
