//! codex's own questions (`item/tool/requestUserInput`, policy `ask`), end to
//! end with the real codex app-server against the fake Responses provider
//! (the model calls `request_user_input`): the job shows the question, an
//! answer given through the shim's codex_answer reaches codex's next model
//! request as the call's output, bad answers are refused with nothing sent
//! to codex, a question nobody answers gets the empty answer at its
//! deadline, and a reply (`thread/resume`) is offered the tool again and
//! answered with `codexd answer --text`. With the fake codex (`askuser:`):
//! a question outlives codexd killed -9 and its answer still reaches codex;
//! an MCP server's own form is declined with a line in the result, and
//! codex's MCP tool-call approval is a question (`elicit:`, `mcptool:`).

#[path = "../../shim/tests/common/mod.rs"]
mod shim_client;

use codex_async_proto::v1::{AnswerRequest, GetResponse, JobStatus, Question, StartRequest};
use codex_async_proto::Client;
use serde_json::{json, Value};
use testkit::{get, poll_for, wait_for_end, Answer, Behaviour, Daemon, FakeProvider, TempHome};

fn ask_request(home: &TempHome, prompt: &str) -> StartRequest {
    StartRequest {
        prompt: prompt.into(),
        cwd: home.workdir().display().to_string(),
        approval_policy: Some("ask".into()),
        model: Some("gpt-5.5".into()),
        ..Default::default()
    }
}

/// The model's `request_user_input` call: one question with two options.
fn database_question() -> Value {
    json!([{"id": "db_choice", "header": "Database", "question": "Which database should I use?",
        "options": [{"label": "Postgres (Recommended)", "description": "Robust."},
                    {"label": "SQLite", "description": "Zero setup."}]}])
}

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

fn question_of(got: &GetResponse) -> Question {
    got.job
        .as_ref()
        .and_then(|j| j.question.clone())
        .expect("a question")
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

fn result_text(end: &GetResponse) -> String {
    codex_async_proto::job_result::JobResult::from_get(end, None, chrono::Utc::now())
        .expect("result")
        .to_text()
}

/// What a tool call on the shim answered: whether it is an error, its text.
struct Called {
    is_error: bool,
    text: String,
}

/// A tool call on the shim (a blocking client) from this test's runtime,
/// read raw (codex_answer answers a sentence, not a job's result).
fn call(shim: &mut shim_client::Shim, tool: &str, arguments: Value) -> Called {
    tokio::task::block_in_place(|| {
        let id = shim.send_call(tool, arguments);
        let message = shim.response(id);
        let result = &message["result"];
        Called {
            is_error: result["isError"].as_bool().unwrap_or(false),
            text: result["content"][0]["text"]
                .as_str()
                .unwrap_or_else(|| panic!("no text in {message}"))
                .to_string(),
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_answered_through_codex_answer_reaches_codexs_next_request() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::AskUser(database_question()),
        Answer::Message("going with the user's database".into()),
    ]));
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let job = testkit::start_job(&client, ask_request(&home, "set up storage")).await;
    let asked = wait_for_question(&client, &job.job_id).await;
    let question = question_of(&asked);
    assert_eq!(question.kind, "input", "{question:?}");
    assert!(question.decisions.is_empty(), "{question:?}");
    assert_eq!(question.prompts.len(), 1, "{question:?}");
    let prompt = &question.prompts[0];
    assert_eq!(prompt.id, "db_choice");
    assert_eq!(prompt.question, "Which database should I use?");
    let labels: Vec<&str> = prompt.options.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, ["Postgres (Recommended)", "SQLite"]);
    // The model was offered the tool in the default mode (the feature on).
    let offered = provider.bodies()[0]["tools"]
        .as_array()
        .and_then(|tools| {
            tools
                .iter()
                .find(|t| t["name"] == "request_user_input")
                .cloned()
        })
        .expect("request_user_input offered");
    assert!(
        offered["description"]
            .as_str()
            .unwrap_or_default()
            .contains("Default"),
        "{offered}"
    );

    let mut shim = shim_client::Shim::spawn(&home, &[]);
    let polled = call(&mut shim, "codex_poll", json!({"job_id": job.job_id}));
    assert!(
        polled.text.contains(
            "Codex asks: Which database should I use? (Postgres (Recommended) | SQLite | or your own words)."
        ),
        "{}",
        polled.text
    );
    assert!(
        polled.text.contains("codex_answer(job_id="),
        "{}",
        polled.text
    );

    // Bad answers: each refused naming its field, nothing sent to codex.
    let posts = provider.posts();
    for (arguments, says) in [
        (
            json!({"decision": "allow"}),
            "decision: \"allow\" answers an approval",
        ),
        (json!({"answer": "  "}), "answer: is empty"),
        (
            json!({"answer": "x".repeat(20_000)}),
            "answer: 20000 bytes is over the limit",
        ),
        (
            json!({"answer": "SQLite", "decision": "deny"}),
            "decision: give decision (an approval) or answer",
        ),
        (
            json!({"answer": "SQLite", "question_id": "99"}),
            "question_id: job",
        ),
    ] {
        let mut arguments = arguments;
        arguments["job_id"] = json!(job.job_id);
        let refused = call(&mut shim, "codex_answer", arguments.clone());
        assert!(refused.is_error, "{arguments}: {}", refused.text);
        assert!(refused.text.contains(says), "{arguments}: {}", refused.text);
    }
    let mut c = client.clone();
    let still = get(&mut c, &job.job_id).await;
    assert_eq!(
        still.job.as_ref().map(|j| j.status()),
        Some(JobStatus::InputRequired)
    );
    assert_eq!(provider.posts(), posts, "nothing reached codex");

    let answered = call(
        &mut shim,
        "codex_answer",
        json!({"job_id": job.job_id, "answer": "SQLite"}),
    );
    assert!(!answered.is_error, "{}", answered.text);
    let end = wait_for_end(&client, &job.job_id).await;
    testkit::expect_done(&end);
    let output = call_output(&provider, "call_ask0").expect("the answer reached the model");
    let output: Value = serde_json::from_str(&output).expect("json output");
    assert_eq!(
        output,
        json!({"answers": {"db_choice": {"answers": ["SQLite"]}}})
    );
    let summary = end.summary.clone().expect("summary");
    assert_eq!(summary.approvals.len(), 1, "{:?}", summary.approvals);
    assert_eq!(summary.approvals[0].answer.as_deref(), Some("SQLite"));
    let text = result_text(&end);
    assert!(
        text.contains("Questions: \"Which database should I use?\" → SQLite.\n"),
        "{text}"
    );
    // Answered and ended: a second answer is refused.
    let again = call(
        &mut shim,
        "codex_answer",
        json!({"job_id": job.job_id, "answer": "Postgres"}),
    );
    assert!(
        again.is_error && again.text.contains("has ended"),
        "{}",
        again.text
    );
}

#[tokio::test]
async fn an_unanswered_question_gets_the_empty_answer_and_a_reply_is_asked_again() {
    let home = TempHome::new();
    let two = json!([
        {"id": "db_choice", "header": "Database", "question": "Which database should I use?",
         "options": [{"label": "Postgres", "description": "Robust."}, {"label": "SQLite", "description": "Zero setup."}]},
        {"id": "name", "header": "Name", "question": "What should the service be called?",
         "options": [{"label": "svc-a", "description": "The usual."}, {"label": "svc-b", "description": "The other."}]}
    ]);
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::AskUser(two.clone()),
        Answer::Message("went on without an answer".into()),
        Answer::AskUser(two),
        Answer::Message("named it".into()),
    ]));
    let env = [("CODEX_ASYNC_QUESTION_TIMEOUT", "2".to_string())];
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &env).await else {
        return;
    };
    let client = daemon.client().await;
    let job = testkit::start_job(&client, ask_request(&home, "set up storage")).await;
    let end = wait_for_end(&client, &job.job_id).await;
    testkit::expect_done(&end);
    let output = call_output(&provider, "call_ask0").expect("codex answered the model");
    assert_eq!(
        serde_json::from_str::<Value>(&output).expect("json"),
        json!({"answers": {}})
    );
    let text = result_text(&end);
    assert!(
        text.contains(
            "Questions: \"Which database should I use?\" and \"What should the service be called?\" → no answer in time (codex got none).\n"
        ),
        "{text}"
    );

    // A reply resumes the thread: the tool is offered again, and a person
    // answers both questions from a terminal, as a JSON object.
    let reply = testkit::start_job(
        &client,
        StartRequest {
            reply_to: Some(job.job_id.clone()),
            ..ask_request(&home, "now name it")
        },
    )
    .await;
    let asked = wait_for_question(&client, &reply.job_id).await;
    assert_eq!(question_of(&asked).prompts.len(), 2);
    let refused = home.run_codexd(&["answer", &reply.job_id, "--text", "svc-b"]);
    assert!(!refused.status.success());
    let said = testkit::output_text(&refused);
    assert!(
        said.contains("answer: codex asks 2 questions (db_choice, name); pass a JSON object"),
        "{said}"
    );
    let given = home.run_codexd(&[
        "answer",
        &reply.job_id,
        "--text",
        r#"{"db_choice": "SQLite", "name": "my own name"}"#,
    ]);
    assert!(given.status.success(), "{}", testkit::output_text(&given));
    let end = wait_for_end(&client, &reply.job_id).await;
    testkit::expect_done(&end);
    let output = call_output(&provider, "call_ask2").expect("the answer reached the model");
    assert_eq!(
        serde_json::from_str::<Value>(&output).expect("json"),
        json!({"answers": {"db_choice": {"answers": ["SQLite"]}, "name": {"answers": ["my own name"]}}})
    );
    let text = result_text(&end);
    assert!(
        text.contains("→ Database: SQLite; Name: my own name.\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_question_outlives_codexd_killed_and_its_answer_reaches_codex() {
    // The fake codex asks (`askuser:`): no real codex needed.
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let job = testkit::start_job(
        &client,
        ask_request(&home, "askuser:go=Shall I go on?;msg:finished"),
    )
    .await;
    let asked = wait_for_question(&client, &job.job_id).await;
    assert_eq!(question_of(&asked).kind, "input");
    let output_path = asked
        .job
        .as_ref()
        .map(|j| j.output_path.clone())
        .unwrap_or_default();
    let output = std::fs::read_to_string(&output_path).expect("output.txt");
    assert!(
        output.contains("\"default_mode_request_user_input\": true"),
        "the thread was started with the feature: {output}"
    );
    daemon.signal(nix::sys::signal::Signal::SIGKILL);
    drop(daemon);
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    // The question outlived codexd: still asked, still answerable.
    let asked = wait_for_question(&client, &job.job_id).await;
    assert_eq!(question_of(&asked).prompts[0].question, "Shall I go on?");
    let answered = client
        .clone()
        .answer(AnswerRequest {
            job_id: job.job_id.clone(),
            answer: Some("no".into()),
            ..Default::default()
        })
        .await
        .expect("answer")
        .into_inner();
    assert!(answered.message.contains("→ no"), "{}", answered.message);
    let end = wait_for_end(&client, &job.job_id).await;
    testkit::expect_done(&end);
    let summary = end.summary.clone().expect("summary");
    assert!(summary.commands.is_empty(), "{summary:?}");
    let output = std::fs::read_to_string(&output_path).expect("output.txt");
    assert!(
        output.contains(r#"answers: {\"go\": {\"answers\": [\"no\"]}}"#),
        "codex got the answer: {output}"
    );
    assert_eq!(summary.approvals.len(), 1, "{summary:?}");
    assert_eq!(summary.approvals[0].answer.as_deref(), Some("no"));
}

#[tokio::test]
async fn an_mcp_servers_form_is_declined_with_a_line_and_a_tool_call_approval_is_asked() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let job = testkit::start_job(
        &client,
        ask_request(
            &home,
            "elicit:Pick a deploy target;mcptool:deploy;msg:finished",
        ),
    )
    .await;
    let asked = wait_for_question(&client, &job.job_id).await;
    let question = question_of(&asked);
    assert_eq!(question.kind, "mcp_tool", "{question:?}");
    assert_eq!(question.command.as_deref(), Some("fakesrv/deploy"));
    assert_eq!(question.decisions, ["allow", "allow_session", "deny"]);
    let answered = client
        .clone()
        .answer(AnswerRequest {
            job_id: job.job_id.clone(),
            decision: "allow_session".into(),
            ..Default::default()
        })
        .await
        .expect("answer")
        .into_inner();
    assert!(
        answered
            .message
            .starts_with("allow_session call the MCP tool `fakesrv/deploy`"),
        "{}",
        answered.message
    );
    let end = wait_for_end(&client, &job.job_id).await;
    testkit::expect_done(&end);
    let output =
        std::fs::read_to_string(&end.job.as_ref().expect("job").output_path).expect("output.txt");
    assert!(output.contains("elicitation: decline"), "{output}");
    assert!(output.contains("mcp tool: accept session"), "{output}");
    let text = result_text(&end);
    assert!(
        text.contains(
            "Approvals: denied answer the fakesrv MCP server's form: \"Pick a deploy target\" \
             (by codex-async: not shown to you); allowed for the job call the MCP tool \
             `fakesrv/deploy`.\n"
        ),
        "{text}"
    );
}
