//! The same job on both engines (issue 18): `codex exec` (policy auto-edit)
//! and `codex app-server` (policy ask, with nothing to ask), the real codex
//! against the same scripted provider. The model must not read more on the
//! app-server: its notifications are translated into exec's events, so the
//! events a poll renders and the result are the same facts. Prints the
//! character counts (they go in BENCHMARKS.md).

use codex_async_proto::job_result::JobResult;
use codex_async_proto::v1::{GetResponse, JobStatus, StartRequest};
use testkit::{wait_for_end, Answer, Behaviour, Daemon, FakeProvider, TempHome};

/// Runs one job with `policy` in a fresh home; its final Get answer.
async fn run(policy: &str) -> Option<GetResponse> {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::Exec("printf 'hello\\n' > made.txt && cat made.txt".into()),
        Answer::Message("Made made.txt; it says hello.".into()),
    ]));
    let daemon = Daemon::with_real_codex(&home, &provider, &[]).await?;
    let client = daemon.client().await;
    let job = testkit::start_job(
        &client,
        StartRequest {
            prompt: "make a file that says hello".into(),
            cwd: home.workdir().display().to_string(),
            approval_policy: Some(policy.into()),
            model: Some("gpt-5.5".into()),
            ..Default::default()
        },
    )
    .await;
    let end = wait_for_end(&client, &job.job_id).await;
    let ended = end.job.as_ref().expect("job");
    assert_eq!(
        ended.status(),
        JobStatus::Done,
        "{policy}: {:?}\n{}",
        ended.error,
        end.output
    );
    assert_eq!(
        std::fs::read_to_string(home.workdir().join("made.txt")).expect("the file"),
        "hello\n"
    );
    Some(end)
}

/// The result text with what differs between two runs by nature (the
/// temp home's path, the job id, the elapsed time) made equal.
fn normalized(end: &GetResponse) -> String {
    let job = end.job.as_ref().expect("job");
    let mut result = JobResult::from_get(end, None, chrono::Utc::now()).expect("result");
    result.elapsed_seconds = Some(1);
    result
        .to_text()
        .replace(&job.job_id, "<id>")
        .replace(&job.cwd, "<cwd>")
}

#[tokio::test]
async fn the_model_reads_no_more_on_the_app_server_than_on_exec() {
    let Some(exec) = run("auto-edit").await else {
        return;
    };
    let Some(app) = run("ask").await else {
        return;
    };
    let (exec_text, app_text) = (normalized(&exec), normalized(&app));
    println!(
        "result: exec {} chars, app-server {} chars; events: exec {} chars, app-server {} chars",
        exec_text.chars().count(),
        app_text.chars().count(),
        exec.events.chars().count(),
        app.events.chars().count()
    );
    // The same facts: the answer, the command and its exit code, the tokens.
    assert_eq!(app_text, exec_text, "the results differ");
    assert!(
        app.events.chars().count() <= exec.events.chars().count(),
        "the app-server's events cost more:\nexec:\n{}\napp-server:\n{}",
        exec.events,
        app.events
    );
}
