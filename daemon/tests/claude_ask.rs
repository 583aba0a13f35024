//! Policy `ask` for agent claude, end to end with the real Claude Code
//! (`CODEX_ASYNC_CLAUDE`) against testkit's fake Anthropic API: the model
//! calls Bash with a command its `acceptEdits` mode leaves open (python3
//! writing a file), Claude Code asks codexd's permission prompt tool
//! (`codexd ask-relay`), the job shows the question (status input_required,
//! in Get, List, `codexd jobs`), and the answer given through the Answer RPC,
//! `codexd answer` or the interactive client's form (MCP tasks) reaches
//! Claude Code: allowed (the command runs), denied (it does not; the model
//! is told and goes on), stopped (the job ends cancelled), unanswered
//! (denied at its deadline, and no stall meanwhile), cancelled while it
//! waits (no process left), across a codexd killed -9 while it waits, and
//! with the job's monitor killed -9 while it waits (the job lost, nothing
//! left running, no socket left behind); and two calls in one message,
//! asked one after the other.

use std::path::{Path, PathBuf};

use codex_async_proto::v1::{
    AnswerRequest, CancelRequest, GetResponse, JobStatus, ListRequest, StartRequest,
};
use codex_async_proto::Client;
use serde_json::json;
use testkit::{get, poll_for, wait_for_end, Daemon, FakeAnthropic, Step, TempHome};

/// The model's script: a Bash call that writes `target` (python3, which
/// `acceptEdits` does not allow on its own), then its last words.
fn writing(target: &Path) -> FakeAnthropic {
    FakeAnthropic::start(vec![
        write_step(target),
        Step::text("finished after the question"),
    ])
}

/// The model's Bash call that writes `target` with python3.
fn write_step(target: &Path) -> Step {
    let (name, input) = write_call(target);
    Step::tool_use(name, input)
}

/// The tool and input of that call.
fn write_call(target: &Path) -> (String, serde_json::Value) {
    let command = format!(
        "python3 -c \"open('{}', 'w').write('made')\" && echo made-it",
        target.display()
    );
    (
        "Bash".into(),
        json!({"command": command, "description": "write the file"}),
    )
}

/// A test's world. Fields drop in order: the daemon before the fake API,
/// the home last.
struct Setup {
    daemon: Daemon,
    client: Client,
    fake: FakeAnthropic,
    env: Vec<(&'static str, String)>,
    target: PathBuf,
    home: TempHome,
}

impl Setup {
    /// None (the test skips, or fails under CI) without Claude Code.
    async fn new(file: &str, extra: &[(&'static str, String)]) -> Option<Self> {
        let home = TempHome::new();
        let target = home.root().join(file);
        let fake = writing(&target);
        Self::with(home, target, fake, extra).await
    }

    /// A world whose model follows `fake`'s script; `target` is the file the
    /// test looks at.
    async fn with(
        home: TempHome,
        target: PathBuf,
        fake: FakeAnthropic,
        extra: &[(&'static str, String)],
    ) -> Option<Self> {
        let claude = testkit::claude_bin()?;
        let mut env = fake.cli_env(&home.root().join("claude-home"));
        env.push(("CLAUDE_BIN", claude.display().to_string()));
        env.extend(extra.iter().cloned());
        let daemon = Daemon::start_with(&home, &env).await;
        let client = daemon.client().await;
        Some(Self {
            daemon,
            client,
            fake,
            env,
            target,
            home,
        })
    }

    /// Starts an ask job and waits until Claude Code asks; the job as
    /// started and the Get answer once it asks.
    async fn ask(&self) -> (codex_async_proto::v1::Job, GetResponse) {
        self.ask_with(None).await
    }

    /// [`Setup::ask`] with a stall watchdog of `stall` seconds.
    async fn ask_with(&self, stall: Option<u32>) -> (codex_async_proto::v1::Job, GetResponse) {
        let request = StartRequest {
            approval_policy: Some("ask".into()),
            agent: Some("claude".into()),
            stall_timeout_seconds: stall,
            ..self.home.start_request("write the file")
        };
        let job = testkit::start_job(&self.client, request).await;
        let asked = wait_for_question(&self.client, &job.job_id).await;
        (job, asked)
    }
}

/// Waits until the job asks; the Get answer then.
async fn wait_for_question(client: &Client, id: &str) -> GetResponse {
    poll_for("Claude Code to ask its question", || {
        let mut client = client.clone();
        let id = id.to_string();
        async move {
            let got = get(&mut client, &id).await;
            let job = got.job.as_ref()?;
            assert!(
                !job.status().is_terminal(),
                "the job ended before it asked: {:?}\n{}",
                job.error,
                got.output
            );
            (job.status() == JobStatus::InputRequired).then_some(got)
        }
    })
    .await
}

async fn answer(
    client: &Client,
    id: &str,
    decision: &str,
) -> Result<codex_async_proto::v1::AnswerResponse, tonic::Status> {
    client
        .clone()
        .answer(AnswerRequest {
            job_id: id.into(),
            decision: decision.into(),
            question_id: None,
            answer: None,
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The pids of the processes whose command line (its arguments separated
/// by NULs) holds `needle`: the relay Claude Code started for a job is
/// `codexd ask-relay --job-dir <its folder>`.
fn processes_with(needle: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// What runs for a job while Claude Code's question waits: the monitor's
/// question socket in the job's folder, Claude Code's pid and its relays'.
struct Waiting {
    socket: PathBuf,
    claude: i32,
    relays: Vec<i32>,
}

impl Waiting {
    fn of(home: &TempHome, id: &str) -> Self {
        let folder = home.paths().jobs().join(id);
        let relays = processes_with(&format!("ask-relay\0--job-dir\0{}", folder.display()));
        assert!(!relays.is_empty(), "Claude Code started codexd's relay");
        Self {
            socket: folder.join("ask.sock"),
            claude: testkit::codex_of(home, id),
            relays,
        }
    }

    /// Waits until Claude Code and its relays have exited.
    async fn gone(&self) {
        poll_for("Claude Code and its relay to be gone", || {
            let gone = !testkit::pid_alive(self.claude)
                && self.relays.iter().all(|p| !testkit::pid_alive(*p));
            async move { gone.then_some(()) }
        })
        .await;
    }
}

/// The job's end, asserted `done`.
async fn done(client: &Client, id: &str) -> GetResponse {
    let end = wait_for_end(client, id).await;
    let job = end.job.as_ref().expect("job");
    assert_eq!(
        job.status(),
        JobStatus::Done,
        "{:?}\n{}",
        job.error,
        end.output
    );
    end
}

#[tokio::test]
async fn an_allowed_command_runs_and_the_result_says_so() {
    let Some(setup) = Setup::new("allowed.txt", &[]).await else {
        return;
    };
    let (client, target) = (setup.client.clone(), setup.target.clone());
    let (job, asked) = setup.ask().await;
    let question = asked
        .job
        .as_ref()
        .and_then(|j| j.question.clone())
        .expect("question");
    assert_eq!(question.kind, "command");
    assert!(
        question
            .command
            .as_deref()
            .is_some_and(|c| c.starts_with("python3 -c") && c.contains("allowed.txt")),
        "{question:?}"
    );
    assert_eq!(question.reason.as_deref(), Some("write the file"));
    assert_eq!(question.decisions, ["allow", "deny", "stop"]);
    assert!(
        question.question_id.starts_with("toolu_"),
        "named by Claude Code's tool_use_id: {question:?}"
    );
    assert!(!target.exists(), "nothing runs before the answer");
    // The result while it waits names who asks, and how to answer.
    let waiting_text =
        codex_async_proto::job_result::JobResult::from_get(&asked, None, chrono::Utc::now())
            .expect("result")
            .to_text();
    assert!(
        waiting_text.contains("Claude asks to run `python3 -c")
            && waiting_text.contains("decision=\"allow|deny|stop\""),
        "{waiting_text}"
    );
    let waiting = client
        .clone()
        .list(ListRequest {
            limit: Some(10),
            status: Some(JobStatus::InputRequired as i32),
        })
        .await
        .expect("list")
        .into_inner()
        .jobs;
    assert_eq!(waiting.len(), 1);
    // A decision Claude Code's prompt tool cannot give is refused by name.
    let session = answer(&client, &job.job_id, "allow_session")
        .await
        .expect_err("allow_session is not offered");
    assert!(
        session.message().starts_with("decision:") && session.message().contains("allow, deny"),
        "{}",
        session.message()
    );

    let answered = answer(&client, &job.job_id, "allow").await.expect("answer");
    assert!(
        answered.message.starts_with("allow run `python3")
            && answered.message.contains("claude has the answer"),
        "{}",
        answered.message
    );
    let end = done(&client, &job.job_id).await;
    assert_eq!(
        std::fs::read_to_string(&target).ok().as_deref(),
        Some("made"),
        "the allowed command ran"
    );
    let summary = end.summary.clone().expect("summary");
    assert_eq!(
        summary.final_message.as_deref(),
        Some("finished after the question")
    );
    assert_eq!(summary.approvals.len(), 1);
    assert_eq!(
        (
            summary.approvals[0].decision.as_str(),
            summary.approvals[0].by.as_str()
        ),
        ("allow", "user")
    );
    assert!(
        summary
            .commands
            .iter()
            .any(|c| c.exit_code == Some(0) && c.command.contains("allowed.txt")),
        "{:?}",
        summary.commands
    );
    let ran = setup.fake.log().tool_results_of("Bash");
    assert!(
        ran.first()
            .is_some_and(|r| !r.is_error && r.text.contains("made-it")),
        "{ran:?}"
    );
    let text = codex_async_proto::job_result::JobResult::from_get(
        &GetResponse {
            summary: Some(summary),
            ..end
        },
        None,
        chrono::Utc::now(),
    )
    .expect("result")
    .to_text();
    assert!(text.contains("Approvals: allowed run `python3"), "{text}");
}

#[tokio::test]
async fn a_denied_command_does_not_run_and_claude_goes_on() {
    let Some(setup) = Setup::new("denied.txt", &[]).await else {
        return;
    };
    let (client, target) = (setup.client.clone(), setup.target.clone());
    let (job, _) = setup.ask().await;
    answer(&client, &job.job_id, "deny").await.expect("answer");
    let end = done(&client, &job.job_id).await;
    assert!(!target.exists(), "the denied command never ran");
    let summary = end.summary.expect("summary");
    assert_eq!(
        summary.final_message.as_deref(),
        Some("finished after the question"),
        "Claude Code went on after the denial"
    );
    assert_eq!(summary.approvals[0].decision, "deny");
    assert!(
        summary
            .commands
            .iter()
            .any(|c| c.status == "declined" && c.command.contains("denied.txt")),
        "{:?}",
        summary.commands
    );
    let told = setup.fake.log().tool_results_of("Bash");
    assert!(
        told.first()
            .is_some_and(|r| r.is_error && r.text.contains("The user denied this")),
        "the model is told: {told:?}"
    );
}

#[tokio::test]
async fn stop_denies_and_ends_the_job_cancelled() {
    let Some(setup) = Setup::new("stopped.txt", &[]).await else {
        return;
    };
    let (client, target) = (setup.client.clone(), setup.target.clone());
    let (job, _) = setup.ask().await;
    answer(&client, &job.job_id, "stop").await.expect("answer");
    let end = wait_for_end(&client, &job.job_id).await;
    let ended = end.job.as_ref().expect("job");
    assert_eq!(
        ended.status(),
        JobStatus::Cancelled,
        "{:?}\n{}",
        ended.error,
        end.output
    );
    assert!(!target.exists(), "the stopped command never ran");
    let summary = end.summary.expect("summary");
    assert_eq!(summary.approvals[0].decision, "stop");
    assert_eq!(
        setup.fake.log().main_requests().count(),
        1,
        "Claude Code asked the model nothing more after the stop"
    );
}

#[tokio::test]
async fn cancel_while_claude_waits_leaves_no_process_and_no_socket() {
    let Some(setup) = Setup::new("cancelled.txt", &[]).await else {
        return;
    };
    let (client, target, home) = (setup.client.clone(), setup.target.clone(), &setup.home);
    let (job, _) = setup.ask().await;
    let waiting = Waiting::of(home, &job.job_id);
    assert_eq!(
        std::fs::metadata(&waiting.socket)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .ok(),
        Some(0o600),
        "the monitor listens while the job runs, for its owner only"
    );
    let cancelled = client
        .clone()
        .cancel(CancelRequest {
            job_id: job.job_id.clone(),
        })
        .await
        .expect("cancel")
        .into_inner();
    assert!(cancelled.cancelled, "{}", cancelled.message);
    let end = wait_for_end(&client, &job.job_id).await;
    assert_eq!(
        end.job.as_ref().expect("job").status(),
        JobStatus::Cancelled
    );
    waiting.gone().await;
    poll_for("the monitor to be gone", || {
        let gone = home.live_monitors().is_empty();
        async move { gone.then_some(()) }
    })
    .await;
    assert!(!target.exists());
    assert!(!waiting.socket.exists(), "the socket goes with the job");
}

#[tokio::test]
async fn a_question_nobody_answers_is_denied_at_its_deadline_and_is_no_stall() {
    // The question waits twice the stall watchdog's time in silence:
    // waiting for a person is no stall, so the job ends by the denial.
    let env = [("CODEX_ASYNC_QUESTION_TIMEOUT", "8".to_string())];
    let Some(setup) = Setup::new("never.txt", &env).await else {
        return;
    };
    let (client, target) = (setup.client.clone(), setup.target.clone());
    let (job, _) = setup.ask_with(Some(4)).await;
    let end = done(&client, &job.job_id).await;
    assert!(!target.exists());
    let summary = end.summary.expect("summary");
    assert_eq!(summary.approvals.len(), 1);
    assert_eq!(
        (
            summary.approvals[0].decision.as_str(),
            summary.approvals[0].by.as_str()
        ),
        ("deny", "timeout")
    );
    let told = setup.fake.log().tool_results_of("Bash");
    assert!(
        told.first()
            .is_some_and(|r| r.is_error && r.text.contains("within 8 seconds")),
        "{told:?}"
    );
}

#[tokio::test]
async fn a_question_survives_codexd_killed_and_its_answer_still_reaches_claude() {
    let Some(setup) = Setup::new("after-restart.txt", &[]).await else {
        return;
    };
    let (job, _) = setup.ask().await;
    let Setup {
        daemon,
        fake,
        env,
        target,
        home,
        ..
    } = setup;
    daemon.signal(nix::sys::signal::Signal::SIGKILL);
    let _ = daemon.wait();

    let daemon = Daemon::start_with(&home, &env).await;
    let client = daemon.client().await;
    wait_for_question(&client, &job.job_id).await;
    let jobs = home
        .codexd()
        .args(["jobs", "--status", "input_required"])
        .output()
        .expect("codexd jobs");
    let listed = String::from_utf8_lossy(&jobs.stdout);
    assert!(
        listed.contains(&job.job_id) && listed.contains("input_required"),
        "{listed}"
    );
    let answered = home
        .codexd()
        .args(["answer", &job.job_id, "allow"])
        .output()
        .expect("codexd answer");
    let said = String::from_utf8_lossy(&answered.stdout);
    assert!(
        answered.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&answered.stderr)
    );
    assert!(said.contains("allow run `python3"), "{said}");
    done(&client, &job.job_id).await;
    assert!(
        target.exists(),
        "the answer given to the new codexd reached Claude Code"
    );
    drop(fake);
}

/// What a Claude Code screen shows since the last full redraw of an MCP
/// form (each starts with its title line).
fn last_form(screen: &str) -> &str {
    let at = screen.rfind("requests your input").unwrap_or(0);
    &screen[at..]
}

/// The real interactive Claude Code (MCP tasks) as the client, in a pty:
/// its codex_start of a Claude Code job with policy ask becomes a task;
/// when the job's Claude Code asks, the client shows the form ("Claude asks
/// to run …"), keystrokes pick "Allow once" and accept, `tasks/update`
/// reaches the shim and codexd, the command runs, and the task's
/// notification carries the result with the approval given. The client's
/// model (one fake API) never calls codex_answer; the job's (another) is
/// scripted by [`writing`].
#[tokio::test]
async fn the_clients_form_answers_a_claude_jobs_question() {
    let Some(setup) = Setup::new("from-the-form.txt", &[]).await else {
        return;
    };
    let Some(claude) = testkit::claude_bin() else {
        return;
    };
    let (client, target, home) = (setup.client.clone(), setup.target.clone(), &setup.home);
    let cwd = home.workdir().display().to_string();
    let api = FakeAnthropic::start(vec![
        Step::tool_use(
            "mcp__codex-async__codex_start",
            json!({"prompt": "write the file", "cwd": cwd, "approval_policy": "ask", "agent": "claude"}),
        ),
        Step::text("Claude is working; it may ask you in a form."),
        Step::text("The job finished."),
    ]);
    let user = testkit::ClaudeCode::new(claude, home, &api);
    let session = user.interactive("Have Claude make the file.");
    let id = testkit::newest_job_id(&client).await;
    user.wait_for(
        &session,
        &api,
        "the task handle as the tool result",
        |log| {
            log.tool_results()
                .iter()
                .any(|r| r.text.contains("started server-side task") && r.text.contains(&id))
        },
    );
    wait_for_question(&client, &id).await;
    let form_now = || last_form(&session.screen()).to_string();
    testkit::wait_until("Claude Code to show the form", || {
        session.screen().contains("requests your input")
    });
    let form = form_now();
    for shown in [
        "Claude asks to run `python3 -c",
        "(write the file)",
        &format!("Job {id} in "),
        "Your answer",
    ] {
        assert!(form.contains(shown), "the form shows {shown:?}:\n{form}");
    }
    assert!(!target.exists(), "nothing runs before the answer");
    session.type_keys(testkit::keys::RIGHT);
    testkit::wait_until("the choices to open", || {
        let form = form_now();
        form.contains("Allow once")
            && form.contains("Deny (claude goes on without it)")
            && form.contains("Deny and stop the job")
            && !form.contains("Allow for the rest of this job")
    });
    session.type_keys(testkit::keys::ENTER);
    session.type_keys_when(
        "Allow once set and the focus on Accept",
        |screen| {
            let form = last_form(screen);
            form.contains("Your answer: Allow") && form.contains("\u{276f} Accept")
        },
        testkit::keys::ENTER,
    );
    let end = poll_for("the job to end", || {
        let mut client = client.clone();
        let id = id.clone();
        async move {
            let got = get(&mut client, &id).await;
            got.job
                .as_ref()
                .is_some_and(|j| j.status().is_terminal())
                .then_some(got)
        }
    })
    .await;
    let done = end.job.as_ref().expect("job");
    assert_eq!(
        done.status(),
        JobStatus::Done,
        "{:?}\n{}\n{}",
        done.error,
        end.output,
        user.diagnostics(&session, &api.log())
    );
    assert!(target.exists(), "the command the user allowed ran");
    let summary = end.summary.as_ref().expect("summary");
    assert_eq!(
        (
            summary.approvals[0].decision.as_str(),
            summary.approvals[0].by.as_str()
        ),
        ("allow", "user")
    );
    let log = user.wait_for(&session, &api, "the task's notification", |log| {
        log.user_texts()
            .iter()
            .any(|t| t.contains("<task-notification>") && t.contains(&id))
    });
    let texts = log.user_texts();
    let notification = texts
        .iter()
        .find(|t| t.contains("<task-notification>") && t.contains(&id))
        .expect("notification");
    for said in [
        "<status>completed</status>",
        &format!("Claude job {id} done"),
        "finished after the question",
        "Approvals: allowed run `python3",
    ] {
        assert!(
            notification.contains(said),
            "the notification says {said:?}:\n{notification}"
        );
    }
}

#[tokio::test]
async fn a_reply_to_a_claude_ask_job_asks_again_through_its_own_relay() {
    let home = TempHome::new();
    let (first, second) = (
        home.root().join("first.txt"),
        home.root().join("second.txt"),
    );
    let fake = FakeAnthropic::start(vec![
        write_step(&first),
        Step::text("first done"),
        write_step(&second),
        Step::text("second done"),
    ]);
    let Some(setup) = Setup::with(home, first.clone(), fake, &[]).await else {
        return;
    };
    let client = setup.client.clone();
    let job = testkit::start_job(
        &client,
        StartRequest {
            approval_policy: Some("ask".into()),
            agent: Some("claude".into()),
            ..setup.home.start_request("write the first file")
        },
    )
    .await;
    wait_for_question(&client, &job.job_id).await;
    answer(&client, &job.job_id, "allow").await.expect("answer");
    done(&client, &job.job_id).await;
    assert!(first.exists());

    let reply = testkit::start_job(
        &client,
        StartRequest {
            prompt: "now the second".into(),
            cwd: String::new(),
            reply_to: Some(job.job_id.clone()),
            ..StartRequest::default()
        },
    )
    .await;
    assert_eq!(
        (reply.agent.as_str(), reply.approval_policy.as_str()),
        ("claude", "ask"),
        "a reply keeps its parent's agent and policy"
    );
    let asked = wait_for_question(&client, &reply.job_id).await;
    let question = asked.job.and_then(|j| j.question).expect("question");
    assert!(
        question
            .command
            .as_deref()
            .is_some_and(|c| c.contains("second.txt")),
        "{question:?}"
    );
    assert!(!second.exists(), "nothing runs before the answer");
    answer(&client, &reply.job_id, "deny")
        .await
        .expect("answer");
    let end = done(&client, &reply.job_id).await;
    assert!(!second.exists(), "the denied command never ran");
    assert_eq!(
        end.summary.and_then(|s| s.final_message).as_deref(),
        Some("second done")
    );
}

#[tokio::test]
async fn a_monitor_killed_while_claude_waits_ends_the_job_lost_with_nothing_left() {
    let Some(setup) = Setup::new("monitor-killed.txt", &[]).await else {
        return;
    };
    let (client, target, home) = (setup.client.clone(), setup.target.clone(), &setup.home);
    let (job, _) = setup.ask().await;
    let waiting = Waiting::of(home, &job.job_id);
    let monitor = testkit::monitor_of(home, &job.job_id);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9 the monitor");
    let end = wait_for_end(&client, &job.job_id).await;
    let ended = end.job.as_ref().expect("job");
    let reason = ended.error.clone().unwrap_or_default();
    assert_eq!(ended.status(), JobStatus::Error, "{reason}");
    assert!(
        reason.starts_with("lost:") && reason.contains("were killed"),
        "{reason}"
    );
    assert!(
        ended.question.is_none(),
        "no question is pending on an ended job"
    );
    waiting.gone().await;
    assert!(!target.exists(), "nobody allowed the command");
    assert!(
        !waiting.socket.exists(),
        "the dead monitor's socket goes with the job"
    );
    let refused = answer(&client, &job.job_id, "allow").await;
    assert!(
        refused.is_err(),
        "an ended job's question cannot be answered"
    );
}

/// The command of the job's pending question, once it names `file`.
async fn wait_for_question_about(client: &Client, id: &str, file: &str) -> String {
    poll_for("the question about the file", || {
        let mut client = client.clone();
        let (id, file) = (id.to_string(), file.to_string());
        async move {
            let got = get(&mut client, &id).await;
            let job = got.job.as_ref()?;
            assert!(
                !job.status().is_terminal(),
                "{:?}\n{}",
                job.error,
                got.output
            );
            let command = job.question.as_ref()?.command.clone()?;
            command.contains(&file).then_some(command)
        }
    })
    .await
}

#[tokio::test]
async fn two_calls_in_one_message_are_asked_one_after_the_other() {
    let home = TempHome::new();
    let (first, second) = (
        home.root().join("first.txt"),
        home.root().join("second.txt"),
    );
    let fake = FakeAnthropic::start(vec![
        Step::ToolUses(vec![write_call(&first), write_call(&second)]),
        Step::text("finished both questions"),
    ]);
    let Some(setup) = Setup::with(home, first.clone(), fake, &[]).await else {
        return;
    };
    let client = setup.client.clone();
    let request = StartRequest {
        approval_policy: Some("ask".into()),
        agent: Some("claude".into()),
        ..setup.home.start_request("write both files")
    };
    let job = testkit::start_job(&client, request).await;

    // Whichever Claude Code asks first is the one pending; the other waits
    // its turn in the monitor and is asked once the first is answered.
    let asked = wait_for_question(&client, &job.job_id).await;
    let command = asked
        .job
        .and_then(|j| j.question)
        .and_then(|q| q.command)
        .expect("a command question");
    let (allowed, denied) = if command.contains("first.txt") {
        (&first, &second)
    } else {
        (&second, &first)
    };
    answer(&client, &job.job_id, "allow").await.expect("allow");
    let denied_name = denied.file_name().and_then(|n| n.to_str()).expect("name");
    wait_for_question_about(&client, &job.job_id, denied_name).await;
    answer(&client, &job.job_id, "deny").await.expect("deny");

    let end = done(&client, &job.job_id).await;
    assert!(allowed.exists(), "the allowed command ran");
    assert!(!denied.exists(), "the denied command did not");
    let summary = end.summary.expect("summary");
    let decisions: Vec<(&str, &str)> = summary
        .approvals
        .iter()
        .map(|a| (a.decision.as_str(), a.by.as_str()))
        .collect();
    assert_eq!(decisions, [("allow", "user"), ("deny", "user")]);
    assert_eq!(
        summary.final_message.as_deref(),
        Some("finished both questions")
    );
    let told = setup.fake.log().tool_results_of("Bash");
    assert_eq!(told.len(), 2, "Claude Code answered both calls: {told:?}");
    assert_eq!(
        told.iter().filter(|r| r.is_error).count(),
        1,
        "one denied: {told:?}"
    );
}
