//! Approval policy `ask`, end to end with the real codex app-server against
//! the fake Responses provider: codex asks to run a command outside its
//! sandbox, the job shows the question (status input_required), and the
//! answer given through the Answer RPC reaches codex — allowed, denied, left
//! unanswered, cancelled while waiting, and across a codexd killed -9 — and
//! one given in the real Claude Code's form (MCP tasks, `tasks/update`).
//! With the fake codex (its `ask:` step): an answer stored while the monitor
//! cannot hand it over yet is not asked again.

use std::path::Path;

use codex_async_proto::v1::{
    AnswerRequest, CancelRequest, GetResponse, JobStatus, ListRequest, StartRequest,
};
use codex_async_proto::Client;
use testkit::{
    get, pid_alive, poll_for, wait_for_end, Answer, Behaviour, Daemon, FakeProvider, TempHome,
};

/// A script where codex's first step asks to create `target` (outside the
/// workspace: the sandbox refuses it) and the next ends the turn.
fn escalating(target: &Path) -> FakeProvider {
    FakeProvider::start(Behaviour::Script(vec![
        Answer::ExecEscalated(
            format!("touch {} && echo made-it", target.display()),
            "needs to write outside the workspace".into(),
        ),
        Answer::Message("finished after the question".into()),
    ]))
}

fn ask_request(home: &TempHome, prompt: &str) -> StartRequest {
    StartRequest {
        prompt: prompt.into(),
        cwd: home.workdir().display().to_string(),
        approval_policy: Some("ask".into()),
        model: Some("gpt-5.5".into()),
        ..Default::default()
    }
}

/// Waits until the job asks; returns the Get answer then.
async fn wait_for_question(client: &Client, id: &str) -> GetResponse {
    poll_for("codex to ask its question", || {
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

async fn answer_rpc(
    client: &Client,
    id: &str,
    decision: &str,
    question_id: Option<&str>,
) -> Result<codex_async_proto::v1::AnswerResponse, tonic::Status> {
    client
        .clone()
        .answer(AnswerRequest {
            job_id: id.into(),
            decision: decision.into(),
            question_id: question_id.map(str::to_string),
            answer: None,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn answer(
    client: &Client,
    id: &str,
    decision: &str,
) -> codex_async_proto::v1::AnswerResponse {
    answer_rpc(client, id, decision, None)
        .await
        .expect("answer")
}

/// A test's world: codexd with the real codex, the fake provider scripted
/// with [`escalating`] for `target` (a file under the test's root). Fields
/// drop in order: the daemon before the provider, the home last.
struct Setup {
    daemon: Daemon,
    client: Client,
    provider: FakeProvider,
    target: std::path::PathBuf,
    home: TempHome,
}

impl Setup {
    /// None (the test skips, saying why) without a real codex.
    async fn new(file: &str, env: &[(&str, String)]) -> Option<Self> {
        let home = TempHome::new();
        let target = home.root().join(file);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        let provider = escalating(&target);
        let daemon = Daemon::with_real_codex(&home, &provider, env).await?;
        let client = daemon.client().await;
        Some(Self {
            daemon,
            client,
            provider,
            target,
            home,
        })
    }

    /// Starts an ask job and waits until codex asks; its record as started
    /// and the Get answer once it asks.
    async fn ask(&self) -> (codex_async_proto::v1::Job, GetResponse) {
        let job = testkit::start_job(&self.client, ask_request(&self.home, "make the file")).await;
        let asked = wait_for_question(&self.client, &job.job_id).await;
        (job, asked)
    }
}

#[tokio::test]
async fn an_allowed_command_runs_and_the_result_says_so() {
    let Some(setup) = Setup::new("outside/allowed.txt", &[]).await else {
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
            .unwrap_or("")
            .contains("allowed.txt"),
        "{question:?}"
    );
    assert_eq!(
        question.reason.as_deref(),
        Some("needs to write outside the workspace")
    );
    assert!(
        question.decisions.iter().any(|d| d == "allow"),
        "{question:?}"
    );
    assert!(!target.exists(), "nothing runs before the answer");
    // The List filter finds it, and the question is in the summary's activity.
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

    let answered = answer(&client, &job.job_id, "allow").await;
    assert!(
        answered.message.starts_with("allow run `touch"),
        "{}",
        answered.message
    );
    let end = wait_for_end(&client, &job.job_id).await;
    let done = end.job.as_ref().expect("job");
    assert_eq!(
        done.status(),
        JobStatus::Done,
        "{:?}\n{}",
        done.error,
        end.output
    );
    assert!(target.exists(), "the allowed command ran");
    let summary = end.summary.clone().expect("summary");
    assert_eq!(
        summary.final_message.as_deref(),
        Some("finished after the question")
    );
    assert_eq!(summary.approvals.len(), 1);
    assert_eq!(summary.approvals[0].decision, "allow");
    assert_eq!(summary.approvals[0].by, "user");
    assert!(
        summary
            .commands
            .iter()
            .any(|c| c.exit_code == Some(0) && c.command.contains("allowed.txt")),
        "{:?}",
        summary.commands
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
    assert!(text.contains("Approvals: allowed run `touch"), "{text}");
}

#[tokio::test]
async fn a_denied_command_does_not_run_and_codex_goes_on() {
    let Some(setup) = Setup::new("denied.txt", &[]).await else {
        return;
    };
    let (client, target) = (setup.client.clone(), setup.target.clone());
    let (job, _) = setup.ask().await;
    // A decision codex was not offered, or a stale question id, changes nothing.
    let bad = answer_rpc(&client, &job.job_id, "yes", None)
        .await
        .expect_err("unknown decision");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(
        bad.message().starts_with("decision: unknown value \"yes\""),
        "{}",
        bad.message()
    );
    let stale = answer_rpc(&client, &job.job_id, "allow", Some("999"))
        .await
        .expect_err("stale question");
    assert_eq!(
        stale.code(),
        tonic::Code::FailedPrecondition,
        "{}",
        stale.message()
    );

    answer(&client, &job.job_id, "deny").await;
    let end = wait_for_end(&client, &job.job_id).await;
    let done = end.job.as_ref().expect("job");
    assert_eq!(
        done.status(),
        JobStatus::Done,
        "{:?}\n{}",
        done.error,
        end.output
    );
    assert!(!target.exists(), "the denied command never ran");
    let summary = end.summary.expect("summary");
    assert_eq!(
        summary.final_message.as_deref(),
        Some("finished after the question")
    );
    assert_eq!(summary.approvals[0].decision, "deny");
    // Answering again: nothing is pending.
    let again = answer_rpc(&client, &job.job_id, "allow", None)
        .await
        .expect_err("nothing pending");
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    assert!(again.message().contains("has ended"), "{}", again.message());
}

#[tokio::test]
async fn a_question_nobody_answers_is_denied_at_its_deadline() {
    let env = [("CODEX_ASYNC_QUESTION_TIMEOUT", "2".to_string())];
    let Some(setup) = Setup::new("never.txt", &env).await else {
        return;
    };
    let (client, target) = (setup.client.clone(), setup.target.clone());
    let (job, _) = setup.ask().await;
    let end = wait_for_end(&client, &job.job_id).await;
    let done = end.job.as_ref().expect("job");
    assert_eq!(
        done.status(),
        JobStatus::Done,
        "{:?}\n{}",
        done.error,
        end.output
    );
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
}

#[tokio::test]
async fn cancel_while_codex_waits_leaves_no_process() {
    let Some(setup) = Setup::new("cancelled.txt", &[]).await else {
        return;
    };
    let (client, target, home) = (setup.client.clone(), setup.target.clone(), &setup.home);
    let (job, _) = setup.ask().await;
    let codex = testkit::codex_of(home, &job.job_id);
    let monitors = home.live_monitors();
    assert!(!monitors.is_empty());
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
    poll_for("codex and the monitor to be gone", || {
        let gone = !pid_alive(codex) && home.live_monitors().is_empty();
        async move { gone.then_some(()) }
    })
    .await;
    assert!(!target.exists());
}

#[tokio::test]
async fn a_question_survives_codexd_killed_and_its_answer_still_reaches_codex() {
    let Some(setup) = Setup::new("after-restart.txt", &[]).await else {
        return;
    };
    let (job, _) = setup.ask().await;
    let Setup {
        daemon,
        provider,
        target,
        home,
        ..
    } = setup;
    daemon.signal(nix::sys::signal::Signal::SIGKILL);
    let _ = daemon.wait();

    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let asked = wait_for_question(&client, &job.job_id).await;
    assert!(asked
        .job
        .as_ref()
        .and_then(|j| j.question.as_ref())
        .is_some());
    // `codexd jobs` shows it waiting; `codexd answer` answers from a terminal.
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
    // `codexd show` tells a person the command that answers.
    let shown = home
        .codexd()
        .args(["show", &job.job_id])
        .env("NO_COLOR", "1")
        .output()
        .expect("codexd show");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains(&format!(
            "Waiting for your answer: codexd answer {} ",
            job.job_id
        )) && !shown.contains("codex_answer"),
        "{shown}"
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
    assert!(said.contains("allow run `touch"), "{said}");
    let end = wait_for_end(&client, &job.job_id).await;
    let done = end.job.as_ref().expect("job");
    assert_eq!(
        done.status(),
        JobStatus::Done,
        "{:?}\n{}",
        done.error,
        end.output
    );
    assert!(
        target.exists(),
        "the answer given to the new codexd reached codex"
    );
}

/// Polls the job until `done` holds on its Get answer; after the deadline
/// panics with `what` and `diagnostics()` (the screen, Claude Code's log).
async fn wait_for_job(
    client: &Client,
    id: &str,
    what: &str,
    done: impl Fn(&GetResponse) -> bool,
    diagnostics: impl Fn() -> String,
) -> GetResponse {
    let (start, limit) = (std::time::Instant::now(), testkit::deadline());
    loop {
        let got = get(&mut client.clone(), id).await;
        if done(&got) {
            return got;
        }
        if start.elapsed() > limit {
            panic!(
                "timed out ({limit:?}) waiting for {what}: job {:?}, {:?}\n{}",
                got.job.as_ref().map(|j| j.status()),
                got.summary.map(|s| s.activity).unwrap_or_default(),
                diagnostics()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// What a Claude Code screen shows since the last full redraw of an MCP
/// form (each starts with its title line).
fn last_form(screen: &str) -> &str {
    let at = screen.rfind("requests your input").unwrap_or(0);
    &screen[at..]
}

/// The real interactive Claude Code (MCP tasks) in a pty: codex_start with
/// policy ask becomes a task; when codex asks, Claude Code shows the form,
/// keystrokes pick "Allow once" and accept, `tasks/update` reaches the shim
/// (so codexd has the user's answer), codex runs the command and goes on,
/// and the task's notification carries the result with the approval given.
#[tokio::test]
async fn claude_code_shows_the_form_and_the_users_answer_reaches_codex() {
    let Some(claude) = testkit::claude_bin() else {
        return;
    };
    let Some(setup) = Setup::new("from-the-form.txt", &[]).await else {
        return;
    };
    let (client, target, home) = (setup.client.clone(), setup.target.clone(), &setup.home);
    let cwd = home.workdir().display().to_string();
    let api = testkit::FakeAnthropic::start(vec![
        testkit::Step::tool_use(
            "mcp__codex-async__codex_start",
            serde_json::json!({"prompt": "make the file", "cwd": cwd, "approval_policy": "ask", "model": "gpt-5.5"}),
        ),
        testkit::Step::text("Codex is working; it may ask you in a form."),
        testkit::Step::text("Codex finished."),
    ]);
    let claude = testkit::ClaudeCode::new(claude, home, &api);
    let session = claude.interactive("Have Codex make the file.");
    let diagnostics = || claude.diagnostics(&session, &api.log());
    let id = testkit::newest_job_id(&client).await;
    // The call became a task. The scripted model never calls codex_answer,
    // so whatever answers the question below came through the form.
    claude.wait_for(
        &session,
        &api,
        "the task handle as the tool result",
        |log| {
            log.tool_results()
                .iter()
                .any(|r| r.text.contains("started server-side task") && r.text.contains(&id))
        },
    );
    let asked = wait_for_question(&client, &id).await;
    let asked_at = std::time::Instant::now();
    let question_id = asked
        .job
        .as_ref()
        .and_then(|j| j.question.as_ref())
        .map(|q| q.question_id.clone())
        .expect("question");
    let form_now = || last_form(&session.screen()).to_string();
    testkit::wait_until("Claude Code to show the form", || {
        session.screen().contains("requests your input")
    });
    let form_at = std::time::Instant::now();
    let form = form_now();
    for shown in [
        "Codex asks to run `touch",
        "from-the-form.txt",
        "(needs to write outside the workspace)",
        &format!("Job {id} in "),
        "Your answer",
        "Accept",
    ] {
        assert!(form.contains(shown), "the form shows {shown:?}:\n{form}");
    }
    assert!(!target.exists(), "nothing runs before the answer");
    // Each key once the form shows what it acts on: typed earlier, the form
    // may not have it yet. → opens the choices (the decisions' titles),
    // Enter picks the first and moves the focus to Accept, Enter accepts.
    session.type_keys(testkit::keys::RIGHT);
    testkit::wait_until("the choices to open", || {
        let form = form_now();
        [
            "Allow once",
            "Deny (codex goes on without it)",
            "Deny and stop the job",
        ]
        .iter()
        .all(|title| form.contains(title))
    });
    session.type_keys(testkit::keys::ENTER);
    // Claude Code ignores an Enter that lands on Accept right after the
    // focus did (see type_keys_when): what kept this test from passing.
    session.type_keys_when(
        "Allow once set and the focus on Accept",
        |screen| {
            let form = last_form(screen);
            form.contains("Your answer: Allow") && form.contains("\u{276f} Accept")
        },
        testkit::keys::ENTER,
    );
    let accepted_at = std::time::Instant::now();
    // Claude Code sent tasks/update, the shim gave codexd the answer and
    // codex took it: the job asks no more.
    let resumed = wait_for_job(
        &client,
        &id,
        "the answer to reach codex (tasks/update → the shim → codexd)",
        |got| {
            got.job
                .as_ref()
                .is_some_and(|j| j.status() != JobStatus::InputRequired)
        },
        diagnostics,
    )
    .await;
    let resumed_at = std::time::Instant::now();
    // Claude Code logs the tasks/update the shim answered (once the answer
    // came back, so perhaps after codex resumed), keyed by the form's
    // inputRequests key: the question's id.
    let answered = format!("task {id}: answered {question_id}");
    testkit::wait_until(&format!("Claude Code's log to say {answered:?}"), || {
        claude.debug_log().contains(&answered)
    });
    let resumed_job = resumed.job.as_ref().expect("job");
    assert!(
        !resumed_job.status().is_terminal() || resumed_job.status() == JobStatus::Done,
        "{:?}\n{}",
        resumed_job.error,
        resumed.output
    );
    let end = wait_for_job(
        &client,
        &id,
        "the job to end",
        |got| got.job.as_ref().is_some_and(|j| j.status().is_terminal()),
        diagnostics,
    )
    .await;
    let ended_at = std::time::Instant::now();
    let done = end.job.as_ref().expect("job");
    assert_eq!(
        done.status(),
        JobStatus::Done,
        "{:?}\n{}\n{}",
        done.error,
        end.output,
        diagnostics()
    );
    assert!(target.exists(), "the command the user allowed ran");
    let summary = end.summary.as_ref().expect("summary");
    assert_eq!(summary.approvals.len(), 1, "{:?}", summary.approvals);
    assert_eq!(
        (
            summary.approvals[0].decision.as_str(),
            summary.approvals[0].by.as_str()
        ),
        ("allow", "user")
    );
    // codex ran it and read its output: the provider got "made-it" back.
    let bodies = setup
        .provider
        .bodies()
        .iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>();
    assert!(
        bodies.iter().any(|b| b.contains("made-it")),
        "the command's output reached the model"
    );
    // Claude Code's poll finds the task completed and the model gets the
    // job's result as the task's notification.
    let log = claude.wait_for(&session, &api, "the task's notification", |log| {
        log.user_texts()
            .iter()
            .any(|t| t.contains("<task-notification>") && t.contains(&id))
    });
    let notified_at = std::time::Instant::now();
    let texts = log.user_texts();
    let notification = texts
        .iter()
        .find(|t| t.contains("<task-notification>") && t.contains(&id))
        .expect("notification");
    for said in [
        "<status>completed</status>",
        &format!("Codex job {id} done"),
        "finished after the question",
        "Approvals: allowed run `touch",
        // (the result is XML-escaped in the notification)
        "Commands (1): `touch ",
        "echo made-it` ok.",
    ] {
        assert!(
            notification.contains(said),
            "the notification says {said:?}:\n{notification}"
        );
    }
    eprintln!(
        "claude code + ask: job {id}: codexd input_required → form on screen {:?}; \
         Accept typed → codex resumed {:?} → job done {:?} → task notification at the model {:?}",
        form_at - asked_at,
        resumed_at - accepted_at,
        ended_at - resumed_at,
        notified_at - ended_at,
    );
}

/// SIGCONTs a process when dropped, so a failing test leaves none stopped.
struct Stopped(i32);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0),
            nix::sys::signal::Signal::SIGCONT,
        );
    }
}

#[tokio::test]
async fn an_answer_on_its_way_to_codex_is_not_asked_again() {
    // The fake codex asks (`ask:`): no real codex needed.
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let job =
        testkit::start_job(&client, ask_request(&home, "ask:npm install;msg:installed")).await;
    let asked = wait_for_question(&client, &job.job_id).await;
    let question = asked.job.and_then(|j| j.question).expect("the question");
    assert_eq!(question.command.as_deref(), Some("npm install"));

    // Its monitor cannot hand the answer over while it is stopped.
    let monitor = testkit::monitor_of(&home, &job.job_id);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .expect("SIGSTOP the monitor");
    let stopped = Stopped(monitor);
    let stored = answer(&client, &job.job_id, "allow").await;
    assert!(
        stored.message.contains("the answer is stored"),
        "{}",
        stored.message
    );
    // Answered: the job waits on codex now, not on a person, so neither a
    // poll nor tasks/get shows the question (or its form) again.
    let mut c = client.clone();
    let got = get(&mut c, &job.job_id).await;
    let shown = got.job.expect("job");
    assert_eq!(shown.status(), JobStatus::Running);
    assert!(shown.question.is_none(), "{:?}", shown.question);
    let waiting = client
        .clone()
        .list(ListRequest {
            status: Some(JobStatus::InputRequired as i32),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert!(waiting.jobs.is_empty(), "{:?}", waiting.jobs);

    drop(stopped);
    let end = wait_for_end(&client, &job.job_id).await;
    testkit::expect_done(&end);
    let summary = end.summary.clone().expect("summary");
    assert_eq!(summary.final_message.as_deref(), Some("installed"));
    let result = codex_async_proto::job_result::JobResult::from_get(&end, None, chrono::Utc::now())
        .expect("result")
        .to_text();
    assert!(result.contains("allowed run `npm install`"), "{result}");
}
