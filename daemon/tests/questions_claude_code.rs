//! codex's own question answered in the real interactive Claude Code's form
//! (MCP tasks, issue 28): the real codex app-server against the fake
//! Responses provider, policy `ask`, the model calls `request_user_input`
//! with two questions. Claude Code shows the form the shim builds for a
//! question of kind `input` (per question, in codex's order, a choice among
//! its options and a free-text field under it), key presses pick an option
//! for one question and type the user's own words for the other, and
//! accept; the answer reaches codex's next model request as the call's
//! output, and the job's result (the task's notification at the model too)
//! has the `Questions:` line.

use codex_async_proto::v1::{GetResponse, JobStatus};
use codex_async_proto::Client;
use serde_json::{json, Value};
use testkit::{get, keys, poll_for, Answer, Behaviour, Daemon, FakeProvider, TempHome};

/// Waits until the job asks; returns the Get answer then.
async fn wait_for_question(client: &Client, id: &str) -> GetResponse {
    poll_for("codex to ask its question", || {
        let mut client = client.clone();
        let id = id.to_string();
        async move {
            let got = get(&mut client, id.as_str()).await;
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
/// form (each starts with its title line). Claude Code redraws only what
/// changed, so a state of the form is found by the lines it added last.
fn last_form(screen: &str) -> &str {
    let at = screen.rfind("requests your input").unwrap_or(0);
    &screen[at..]
}

/// The output codex gave the model for the call `call_id` (the
/// `function_call_output` of a later request), if any request carried it.
fn call_output(provider: &FakeProvider, call_id: &str) -> Option<String> {
    provider.bodies().iter().find_map(|body| {
        body["input"].as_array()?.iter().find_map(|item| {
            (item["type"] == "function_call_output" && item["call_id"] == call_id)
                .then(|| item["output"].as_str().unwrap_or_default().to_string())
        })
    })
}

/// Two questions, each with codex's options (codex also takes free text for
/// each: it always sends `isOther`).
fn two_questions() -> Value {
    json!([
        {"id": "db_choice", "header": "Database", "question": "Which database should I use?",
         "options": [{"label": "Postgres (Recommended)", "description": "Robust."},
                     {"label": "SQLite", "description": "Zero setup."}]},
        {"id": "name", "header": "Name", "question": "What should the service be called?",
         "options": [{"label": "svc-a", "description": "The usual."},
                     {"label": "svc-b", "description": "The other."}]}
    ])
}

/// The real interactive Claude Code (MCP tasks) in a pty: codex_start with
/// policy ask becomes a task; when codex asks, Claude Code shows the form,
/// key presses pick SQLite for the first question and type `my-svc` as the
/// own words for the second, and accept; `tasks/update` reaches the shim,
/// codexd hands the answer to codex, and codex's next model request carries
/// it as the `request_user_input` call's output.
#[tokio::test]
async fn claude_code_shows_codexs_question_and_the_answer_typed_there_reaches_codex() {
    let Some(claude) = testkit::claude_bin() else {
        return;
    };
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::AskUser(two_questions()),
        Answer::Message("going with the user's database".into()),
    ]));
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let cwd = home.workdir().display().to_string();
    let api = testkit::FakeAnthropic::start(vec![
        testkit::Step::tool_use(
            "mcp__codex-async__codex_start",
            json!({"prompt": "set up storage", "cwd": cwd, "approval_policy": "ask", "model": "gpt-5.5"}),
        ),
        testkit::Step::text("Codex is working; it may ask you in a form."),
        testkit::Step::text("Codex finished."),
    ]);
    let claude = testkit::ClaudeCode::new(claude, &home, &api);
    let session = claude.interactive("Have Codex set up storage.");
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
    let question = asked
        .job
        .as_ref()
        .and_then(|j| j.question.clone())
        .expect("question");
    assert_eq!(question.kind, "input", "{question:?}");

    let form_now = || last_form(&session.screen()).to_string();
    testkit::wait_until("Claude Code to show the whole form", || {
        let form = form_now();
        form.contains("requests your input") && form.contains("Accept")
    });
    let form = form_now();
    // Per question, in codex's order: its choice (the first one focused),
    // the question under it, then its free-text field; the job the form is
    // about.
    let order = [
        "\u{276f} Database: \u{25b8} not set",
        "Which database should I use?",
        "Database: or in your words: not set",
        "Name: not set",
        "What should the service be called?",
        "Name: or in your words: not set",
        "Decline",
    ];
    let mut from = 0;
    for shown in order {
        let Some(at) = form[from..].find(shown) else {
            panic!(
                "the form shows {shown:?} after {:?}:\n{form}",
                &form[..from]
            );
        };
        from += at + shown.len();
    }
    assert!(
        form.contains("Codex asks 2 questions: [db_choice] Which database should I use?")
            && form.contains(&format!("Job {id} in ")),
        "{form}"
    );
    assert_eq!(provider.posts(), 1, "codex waits for the answer");

    // Each key once the form shows what it acts on: typed earlier, the form
    // may not have it yet. → opens the first choice (codex's options with
    // their descriptions), ↓ moves to SQLite, Enter picks it and moves on
    // to the next field (the first question's free-text field).
    session.type_keys(keys::RIGHT);
    testkit::wait_until("the first question's options to open", || {
        let form = form_now();
        form.contains("Postgres (Recommended) \u{2014} Robust.")
            && form.contains("SQLite \u{2014} Zero setup.")
    });
    session.type_keys(keys::DOWN);
    testkit::wait_until("SQLite under the cursor", || {
        form_now().contains("\u{276f} SQLite \u{2014} Zero setup.")
    });
    session.type_keys(keys::ENTER);
    testkit::wait_until("SQLite picked and the focus on its free-text field", || {
        let form = form_now();
        form.contains("\u{2714} Database: SQLite")
            && form.contains("\u{276f} Database: or in your words: Type something")
    });
    // The second question in the user's own words: ↓ to its choice, ↓ to
    // its free-text field, type, Enter moves to Accept.
    session.type_keys(keys::DOWN);
    testkit::wait_until("the focus on the second choice", || {
        form_now().contains("\u{276f} Name: \u{25b8} not set")
    });
    session.type_keys(keys::DOWN);
    testkit::wait_until("the focus on the second free-text field", || {
        form_now().contains("\u{276f} Name: or in your words: Type something")
    });
    session.type_keys(b"my-svc");
    testkit::wait_until("the typed name in its field", || {
        form_now().contains("Name: or in your words: my-svc")
    });
    session.type_keys(keys::ENTER);
    // Claude Code ignores an Enter that lands on Accept right after the
    // focus did (see type_keys_when).
    session.type_keys_when(
        "the focus on Accept",
        |screen| last_form(screen).contains("\u{276f} Accept"),
        keys::ENTER,
    );

    // Claude Code sent tasks/update, the shim gave codexd the answer and
    // codex took it: the job asks no more, and ends.
    let end = wait_for_job(
        &client,
        &id,
        "the answer to reach codex and the job to end",
        |got| got.job.as_ref().is_some_and(|j| j.status().is_terminal()),
        diagnostics,
    )
    .await;
    let done = end.job.as_ref().expect("job");
    assert_eq!(
        done.status(),
        JobStatus::Done,
        "{:?}\n{}\n{}",
        done.error,
        end.output,
        diagnostics()
    );
    let answered = format!("task {id}: answered {}", question.question_id);
    testkit::wait_until(&format!("Claude Code's log to say {answered:?}"), || {
        claude.debug_log().contains(&answered)
    });
    // codex's next model request carries the form's answer as the call's
    // output: the option picked for one, the typed words for the other.
    let output = call_output(&provider, "call_ask0").expect("the answer reached the model");
    let output: Value = serde_json::from_str(&output).expect("json output");
    assert_eq!(
        output,
        json!({"answers": {"db_choice": {"answers": ["SQLite"]}, "name": {"answers": ["my-svc"]}}})
    );
    let summary = end.summary.clone().expect("summary");
    assert_eq!(summary.approvals.len(), 1, "{:?}", summary.approvals);
    assert_eq!(summary.approvals[0].by, "user");
    assert_eq!(
        summary.final_message.as_deref(),
        Some("going with the user's database")
    );
    let questions = "Questions: \"Which database should I use?\" and \"What should the service \
                     be called?\" \u{2192} Database: SQLite; Name: my-svc.\n";
    let text = codex_async_proto::job_result::JobResult::from_get(&end, None, chrono::Utc::now())
        .expect("result")
        .to_text();
    assert!(text.contains(questions), "{text}");
    // Claude Code's poll finds the task completed; the model gets the job's
    // result, the Questions line in it, as the task's notification.
    let log = claude.wait_for(&session, &api, "the task's notification", |log| {
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
        "going with the user's database",
        "Questions: ",
        "Database: SQLite; Name: my-svc.",
    ] {
        assert!(
            notification.contains(said),
            "the notification says {said:?}:\n{notification}"
        );
    }
}
