//! The fault suite run per agent: the promises codexd keeps for a codex job
//! (faults.rs, lifecycle.rs, codex_aware.rs, worktree_work.rs) held for the
//! real Gemini CLI and the real Claude Code, each against its fake API on
//! loopback. Every case is one function taking the agent, run once for each
//! (`<case>::gemini`, `<case>::claude`): a monitor killed -9 mid-command
//! (with codexd up, or down and started again), codexd killed -9 mid-job
//! and a new one started (before or after the job's end), the stall and time-limit
//! watchdogs, the output cap, worktree isolation, and a database lost and
//! rebuilt from the job folders.
//!
//! The model is scripted to call the agent's own tools: its shell (Gemini
//! CLI's `run_shell_command`, Claude Code's `Bash`) and its file writer
//! (`write_file`, `Write`). A long command is a `python3` sleep with a
//! number no other test uses, so the processes it leaves can be found by
//! their command line (Claude Code's Bash refuses a long plain `sleep`:
//! docs/field-notes/claude-agent.md §1).

use codex_async_proto::{
    job_result::JobResult,
    v1::{GetRequest, GetResponse, JobStatus, StartRequest},
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;
use testkit::{
    get, pid_alive, processes_with, wait_for_end, wait_until, Daemon, FakeAnthropic, FakeGemini,
    Step, TempHome, Turn,
};

/// The agents the suite runs on (codex has its own suites).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agent {
    Gemini,
    Claude,
}

impl Agent {
    /// Its name in a Start and in the job.
    fn name(self) -> &'static str {
        match self {
            Self::Gemini => "gemini",
            Self::Claude => "claude",
        }
    }

    /// How a result names the job ("Gemini job …").
    fn title(self) -> &'static str {
        match self {
            Self::Gemini => "Gemini",
            Self::Claude => "Claude",
        }
    }

    /// A number that makes a case's command line this agent's own.
    fn index(self) -> u32 {
        match self {
            Self::Gemini => 1,
            Self::Claude => 2,
        }
    }
}

/// One thing the scripted model does.
enum Move {
    /// Runs a command with the agent's shell tool.
    Shell(String),
    /// Writes a file (a path relative to where the agent runs) with the
    /// agent's file tool.
    Write(&'static str, &'static str),
    /// Answers with text, which ends the turn.
    Say(String),
}

/// The agent's fake API, scripted with the moves.
enum Fake {
    Gemini(FakeGemini),
    Claude(FakeAnthropic),
}

impl Fake {
    fn start(agent: Agent, moves: Vec<Move>) -> Self {
        match agent {
            Agent::Gemini => Self::Gemini(FakeGemini::start(
                moves
                    .into_iter()
                    .map(|m| match m {
                        Move::Shell(command) => {
                            Turn::call("run_shell_command", json!({ "command": command }))
                        }
                        Move::Write(path, content) => {
                            Turn::call("write_file", json!({"file_path": path, "content": content}))
                        }
                        Move::Say(text) => Turn::text(text),
                    })
                    .collect(),
            )),
            Agent::Claude => Self::Claude(FakeAnthropic::start(
                moves
                    .into_iter()
                    .map(|m| match m {
                        Move::Shell(command) => Step::tool_use(
                            "Bash",
                            json!({"command": command, "description": "run it"}),
                        ),
                        Move::Write(path, content) => {
                            Step::tool_use("Write", json!({"file_path": path, "content": content}))
                        }
                        Move::Say(text) => Step::text(text),
                    })
                    .collect(),
            )),
        }
    }

    /// codexd running this agent against this fake, with extra environment;
    /// None (the test skips, or fails under CI) without the agent's CLI.
    async fn daemon(&self, home: &TempHome, extra: &[(&'static str, String)]) -> Option<Daemon> {
        match self {
            Self::Gemini(fake) => Daemon::with_gemini(home, fake, extra).await,
            Self::Claude(fake) => Daemon::with_claude(home, fake, extra).await,
        }
    }

    /// The conversation the model was given last, as text.
    fn last_request(&self) -> String {
        match self {
            Self::Gemini(fake) => fake.turns().last().cloned().unwrap_or_default().to_string(),
            Self::Claude(fake) => fake
                .log()
                .main_requests()
                .next_back()
                .map(|r| r.body.to_string())
                .unwrap_or_default(),
        }
    }
}

/// A Start of `prompt` on `agent` in the home's work folder.
fn request(agent: Agent, home: &TempHome, prompt: &str, policy: &str) -> StartRequest {
    StartRequest {
        approval_policy: Some(policy.into()),
        agent: Some(agent.name().into()),
        ..home.start_request(prompt)
    }
}

/// A command that sleeps for `seconds` (a number no other command uses):
/// its command line is found by [`sleep_marker`].
fn sleeper(seconds: &str) -> String {
    format!("python3 -c 'import time; time.sleep({seconds})'")
}

fn sleep_marker(seconds: &str) -> String {
    format!("time.sleep({seconds})")
}

/// The result text of an ended job, as the tools give it.
fn result_text(end: &GetResponse) -> String {
    JobResult::from_get(end, None, chrono::Utc::now())
        .expect("a result")
        .to_text()
}

/// The job's status and reason, for assertions and their messages.
fn ending(end: &GetResponse) -> (JobStatus, String) {
    let job = end.job.as_ref().expect("job");
    (job.status(), job.error.clone().unwrap_or_default())
}

/// Registers a case for each agent: `<case>::gemini` and `<case>::claude`.
/// Two worker threads: a case waits on processes and files while codexd's
/// client calls run.
macro_rules! per_agent {
    ($case:ident) => {
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn gemini() {
                super::$case(super::Agent::Gemini).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn claude() {
                super::$case(super::Agent::Claude).await;
            }
        }
    };
}

// --------------------------------------------------- kill -9 of the monitor

per_agent!(a_killed_monitor_makes_the_job_lost_and_leaves_no_process);

/// As for codex (faults.rs): a job whose monitor is killed -9 has no true
/// end to record, so it ends `error` with a `lost:` reason and no made-up
/// exit code, and codexd kills what the monitor left: the agent and the
/// command it runs in a session of its own.
async fn a_killed_monitor_makes_the_job_lost_and_leaves_no_process(agent: Agent) {
    killed_monitor(agent, false).await;
}

per_agent!(a_monitor_killed_while_codexd_is_down_is_found_lost_by_the_next_codexd);

/// The same with codexd killed -9 first: the next codexd finds the job's
/// monitor gone without an end recorded (reconcile), calls the job lost and
/// kills what was left.
async fn a_monitor_killed_while_codexd_is_down_is_found_lost_by_the_next_codexd(agent: Agent) {
    killed_monitor(agent, true).await;
}

async fn killed_monitor(agent: Agent, codexd_down: bool) {
    let seconds = format!("40{}.{}", 1 + u32::from(codexd_down), agent.index());
    let home = TempHome::new();
    let fake = Fake::start(
        agent,
        vec![
            Move::Shell(sleeper(&seconds)),
            Move::Say("never reached".into()),
        ],
    );
    let Some(daemon) = fake.daemon(&home, &[]).await else {
        return;
    };
    let job = testkit::start_job(
        &daemon.client().await,
        request(agent, &home, "wait", "full-auto"),
    )
    .await;
    let pid = testkit::codex_of(&home, &job.job_id);
    let marker = sleep_marker(&seconds);
    wait_until("the agent to run its command", || {
        !processes_with(&marker).is_empty()
    });
    let monitor = testkit::monitor_of(&home, &job.job_id);
    let daemon = if codexd_down {
        daemon.signal(Signal::SIGKILL);
        daemon.wait();
        kill(Pid::from_raw(monitor), Signal::SIGKILL).expect("kill -9 the monitor");
        wait_until("the monitor to be gone", || !pid_alive(monitor));
        let Some(next) = fake.daemon(&home, &[]).await else {
            return;
        };
        next
    } else {
        kill(Pid::from_raw(monitor), Signal::SIGKILL).expect("kill -9 the monitor");
        daemon
    };

    let client = daemon.client().await;
    let end = wait_for_end(&client, &job.job_id).await;
    let (status, reason) = ending(&end);
    assert_eq!(status, JobStatus::Error, "never done: {reason}");
    assert!(
        reason.starts_with("lost:") && reason.contains("were killed"),
        "{reason}"
    );
    assert_eq!(
        end.job.and_then(|j| j.exit_code),
        None,
        "no made-up exit code"
    );
    wait_until("the agent to be killed", || !pid_alive(pid));
    wait_until("the agent's command to be killed", || {
        processes_with(&marker).is_empty()
    });
}

// ---------------------------------------------------- kill -9 of codexd

per_agent!(a_job_outlives_codexd_killed_mid_command_and_ends_right);

/// codexd killed -9 while the agent runs a command: the job runs on under
/// its monitor, the next codexd re-adopts it (the same agent process), and
/// it ends `done` with the answer the agent gave after the restart.
async fn a_job_outlives_codexd_killed_mid_command_and_ends_right(agent: Agent) {
    codexd_killed_mid_command(agent, false).await;
}

per_agent!(a_job_that_ends_while_codexd_is_down_keeps_its_true_end);

/// codexd killed -9 while the agent runs a command, and the job ends before
/// a codexd runs again: the monitor recorded the end (exit.json) and the
/// output, so the next codexd records `done` with the agent's answer.
async fn a_job_that_ends_while_codexd_is_down_keeps_its_true_end(agent: Agent) {
    codexd_killed_mid_command(agent, true).await;
}

async fn codexd_killed_mid_command(agent: Agent, end_while_down: bool) {
    let home = TempHome::new();
    let go = home.root().join("go");
    let command = format!(
        "python3 -c \"import os, time; [time.sleep(0.05) for _ in iter(lambda: os.path.exists('{}'), True)]; print('went on')\"",
        go.display()
    );
    let fake = Fake::start(
        agent,
        vec![
            Move::Shell(command.clone()),
            Move::Say("Finished after the restart.".into()),
        ],
    );
    let Some(daemon) = fake.daemon(&home, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let job = testkit::start_job(&client, request(agent, &home, "wait for go", "full-auto")).await;
    let pid = testkit::codex_of(&home, &job.job_id);
    let marker = go.display().to_string();
    wait_until("the agent to run its command", || {
        !processes_with(&marker).is_empty()
    });
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    assert!(pid_alive(pid), "the agent outlives codexd");
    if end_while_down {
        std::fs::write(&go, "").expect("let the command finish");
        let exit = home.paths().jobs().join(&job.job_id).join("exit.json");
        wait_until("the monitor to record the end", || exit.exists());
    }

    let Some(daemon) = fake.daemon(&home, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    if !end_while_down {
        let adopted = get(&mut client.clone(), &job.job_id)
            .await
            .job
            .expect("job");
        assert_eq!(adopted.status(), JobStatus::Running, "re-adopted");
        assert_eq!(adopted.pid, Some(pid), "the same agent, not a second one");
        std::fs::write(&go, "").expect("let the command finish");
    }
    let end = wait_for_end(&client, &job.job_id).await;
    let done = testkit::expect_done(&end);
    assert_eq!(done.agent, agent.name());
    assert_eq!(done.exit_code, Some(0));
    let summary = end.summary.clone().expect("summary");
    assert_eq!(
        summary.final_message.as_deref(),
        Some("Finished after the restart.")
    );
    assert!(
        summary
            .commands
            .iter()
            .any(|c| c.command == command && c.status == "completed"),
        "{:?}",
        summary.commands
    );
    wait_until("the agent to exit", || !pid_alive(pid));
    assert!(processes_with(&marker).is_empty());
}

// -------------------------------------------------------- the watchdogs

/// The stall timeout of the watchdog case: long enough for the agent to
/// start and call its tool on a loaded machine (its output is progress, and
/// it writes a line as it calls the tool), short enough for a test; scaled
/// with the test deadlines on slower machines.
fn stall_seconds() -> u32 {
    watchdog_seconds(10)
}

/// The time limit of the watchdog case, counted from the agent's start.
fn time_limit_seconds() -> u32 {
    watchdog_seconds(20)
}

fn watchdog_seconds(base: u64) -> u32 {
    let scaled = testkit::scaled(std::time::Duration::from_secs(base)).as_secs();
    u32::try_from(scaled).unwrap_or(u32::MAX)
}

per_agent!(the_stall_watchdog_stops_the_agent_and_its_command);

/// An agent waiting on a command that prints nothing makes no progress:
/// the stall watchdog stops the job, which ends `stalled` (its reason first
/// in the result, as for codex), and nothing of it is left running.
async fn the_stall_watchdog_stops_the_agent_and_its_command(agent: Agent) {
    watchdog_case(agent, "403", "stalled", |r| {
        r.stall_timeout_seconds = Some(stall_seconds())
    })
    .await;
}

per_agent!(the_time_limit_stops_the_agent_and_its_command);

/// An agent still running at its max duration is stopped: the job ends
/// `timed_out`, and nothing of it is left running.
async fn the_time_limit_stops_the_agent_and_its_command(agent: Agent) {
    watchdog_case(agent, "404", "timed_out", |r| {
        r.max_duration_seconds = Some(time_limit_seconds())
    })
    .await;
}

async fn watchdog_case(
    agent: Agent,
    base: &str,
    kind: &str,
    limit: impl FnOnce(&mut StartRequest),
) {
    let seconds = format!("{base}.{}", agent.index());
    let home = TempHome::new();
    let fake = Fake::start(
        agent,
        vec![
            Move::Shell(sleeper(&seconds)),
            Move::Say("never reached".into()),
        ],
    );
    let Some(daemon) = fake.daemon(&home, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let mut start = request(agent, &home, "wait", "full-auto");
    limit(&mut start);
    let job = testkit::start_job(&client, start).await;
    let pid = testkit::codex_of(&home, &job.job_id);
    let marker = sleep_marker(&seconds);
    wait_until("the agent to run its command", || {
        !processes_with(&marker).is_empty()
    });
    let end = wait_for_end(&client, &job.job_id).await;
    let (status, reason) = ending(&end);
    assert_eq!(status, JobStatus::Error, "{reason}");
    assert!(reason.starts_with(&format!("{kind}:")), "{reason}");
    let text = result_text(&end);
    assert!(
        text.starts_with(&format!(
            "{} job {} {kind} (stopped by its watchdog",
            agent.title(),
            job.job_id
        )),
        "{text}"
    );
    assert!(!pid_alive(pid), "the agent outlived its job");
    assert!(
        processes_with(&marker).is_empty(),
        "the agent's command outlived its job"
    );
    assert!(home.live_monitors().is_empty());
}

// ------------------------------------------------------- the output cap

per_agent!(a_job_over_the_output_cap_keeps_the_tail_and_says_so);

/// An agent whose output passes the cap: output.txt keeps its newest part
/// within the cap behind a marker saying how much was dropped, a poll says
/// so, and the job's answer (its last events) is whole.
async fn a_job_over_the_output_cap_keeps_the_tail_and_says_so(agent: Agent) {
    const CAP: u64 = 64 * 1024;
    const LAST: &str = "All four printed; this answer is the tail.";
    // Four commands of about 25 KB each (under what Claude Code's Bash
    // hands back whole), each line naming its command.
    let print = |n: u32| {
        Move::Shell(format!(
            "python3 -c \"[print('print {n} line %04d ' % i + 'x' * 40) for i in range(450)]\""
        ))
    };
    let home = TempHome::new();
    let fake = Fake::start(
        agent,
        vec![
            print(1),
            print(2),
            print(3),
            print(4),
            Move::Say(LAST.into()),
        ],
    );
    let cap = [("CODEX_ASYNC_OUTPUT_CAP_BYTES", CAP.to_string())];
    let Some(daemon) = fake.daemon(&home, &cap).await else {
        return;
    };
    let client = daemon.client().await;
    let job = testkit::start_job(&client, request(agent, &home, "print a lot", "full-auto")).await;
    let end = wait_for_end(&client, &job.job_id).await;
    testkit::expect_done(&end);
    let output = home.paths().jobs().join(&job.job_id).join("output.txt");
    let data = std::fs::read(&output).expect("output.txt");
    let text = String::from_utf8_lossy(&data);
    let log = std::fs::read_to_string(home.paths().jobs().join(&job.job_id).join("monitor.log"))
        .unwrap_or_default();
    let marker = text
        .lines()
        .find(|l| l.starts_with("[codex-async: "))
        .unwrap_or_else(|| panic!("no marker line; monitor.log: {log}"));
    let dropped: u64 = marker["[codex-async: ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {marker}"));
    assert!(dropped > 0, "{marker}");
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&output).expect("output.txt");
        // Without collapse the head is a hole: the disk use is bounded.
        let kept = if log.contains("(Punch)") {
            meta.blocks() * 512
        } else {
            meta.len()
        };
        assert!(kept <= CAP + 64 * 1024, "{kept} bytes kept, cap {CAP}");
    }
    assert!(
        !text.contains("print 1 line 0000 "),
        "the oldest output is dropped"
    );
    assert!(text.contains("print 4 line 0449 "), "the newest is kept");
    assert!(text.contains(LAST), "the answer is kept");
    // A poll from the start of what is kept begins with the cap's note.
    let from_start = client
        .clone()
        .get(GetRequest {
            job_id: job.job_id.clone(),
            tail_lines: None,
            since: Some(0),
        })
        .await
        .expect("get since 0")
        .into_inner();
    let first = from_start.events.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!(
            "note: {dropped} bytes of earlier output were dropped (the output cap keeps the last {CAP} bytes)"
        ),
        "a poll says so"
    );
    let summary = end.summary.clone().expect("summary");
    assert_eq!(summary.final_message.as_deref(), Some(LAST));
    assert!(result_text(&end).contains(LAST));
}

// --------------------------------------------------------------- worktrees

per_agent!(an_agents_edits_land_in_its_worktree_and_branch_not_the_checkout);

/// With `isolation: worktree`, the agent runs in a worktree of its own on
/// branch `codex/<id>`: the file its edit tool writes is there and committed
/// to that branch at the end, and the user's checkout is untouched.
async fn an_agents_edits_land_in_its_worktree_and_branch_not_the_checkout(agent: Agent) {
    let home = TempHome::new();
    let repo = home.workdir();
    testkit::git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("tracked.txt"), "original\n").expect("tracked file");
    testkit::git(&repo, &["add", "."]);
    testkit::git(&repo, &["commit", "-q", "-m", "init"]);
    let fake = Fake::start(
        agent,
        vec![
            Move::Write("made-by-agent.txt", "from the agent\n"),
            Move::Say("Wrote it.".into()),
        ],
    );
    let Some(daemon) = fake.daemon(&home, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let start = StartRequest {
        isolation: Some("worktree".into()),
        ..request(agent, &home, "write a file", "auto-edit")
    };
    let job = testkit::start_job(&client, start).await;
    let end = wait_for_end(&client, &job.job_id).await;
    testkit::expect_done(&end);
    let tree = home.paths().jobs().join(&job.job_id).join("worktree");
    assert_eq!(
        std::fs::read_to_string(tree.join("made-by-agent.txt"))
            .ok()
            .as_deref(),
        Some("from the agent\n"),
        "the edit is in the job's worktree"
    );
    assert!(
        !repo.join("made-by-agent.txt").exists(),
        "the user's checkout got the agent's file"
    );
    assert_eq!(
        testkit::git(&repo, &["status", "--porcelain"]).trim(),
        "",
        "the user's checkout is untouched"
    );
    let branch = format!("codex/{}", job.job_id);
    assert_eq!(
        testkit::git(&repo, &["show", "--format=", "--name-only", &branch]).trim(),
        "made-by-agent.txt",
        "the edit is committed to the job's branch"
    );
    assert_eq!(
        testkit::git(&repo, &["branch", "--show-current"]).trim(),
        "main"
    );
}

// ------------------------------------------------ rebuild from job folders

per_agent!(a_job_outlives_codexd_killed_and_its_database_lost);

/// codexd killed -9 and its database deleted: the next codexd rebuilds the
/// job from its folder with its agent, status, answer and commands, and a
/// reply to it still resumes the agent's session.
async fn a_job_outlives_codexd_killed_and_its_database_lost(agent: Agent) {
    let home = TempHome::new();
    let answer = format!("Still {}'s answer.", agent.name());
    let fake = Fake::start(
        agent,
        vec![
            Move::Shell("echo before-the-loss".into()),
            Move::Say(answer.clone()),
            Move::Say("And after it.".into()),
        ],
    );
    let Some(daemon) = fake.daemon(&home, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let job = testkit::start_job(&client, request(agent, &home, "first words", "full-auto")).await;
    let before = testkit::expect_done(&wait_for_end(&client, &job.job_id).await);
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    testkit::delete_database(&home);

    let Some(daemon) = fake.daemon(&home, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let end = get(&mut client.clone(), &job.job_id).await;
    let rebuilt = end.job.clone().expect("the job is rebuilt from its folder");
    assert_eq!(rebuilt.agent, agent.name(), "the folder keeps the agent");
    assert_eq!(rebuilt.status(), JobStatus::Done);
    assert_eq!(rebuilt.thread_id, before.thread_id, "and the session");
    let summary = end.summary.clone().expect("summary");
    assert_eq!(
        summary.final_message.as_deref(),
        Some(answer.as_str()),
        "folded again from its output"
    );
    assert!(
        summary
            .commands
            .iter()
            .any(|c| c.command == "echo before-the-loss"),
        "{:?}",
        summary.commands
    );
    assert!(
        result_text(&end).starts_with(&format!("{} job {} done", agent.title(), job.job_id)),
        "{}",
        result_text(&end)
    );

    let reply = testkit::start_job(
        &client,
        StartRequest {
            prompt: "second words".into(),
            reply_to: Some(job.job_id.clone()),
            ..StartRequest::default()
        },
    )
    .await;
    assert_eq!(reply.agent, agent.name(), "a reply keeps the rebuilt agent");
    let end = wait_for_end(&client, &reply.job_id).await;
    testkit::expect_done(&end);
    let last = fake.last_request();
    assert!(
        last.contains("first words") && last.contains("second words"),
        "the reply resumed the session: {last}"
    );
}
