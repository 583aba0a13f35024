//! The same job on codex's two front ends (issue 18), the real codex against
//! the same scripted provider: every task runs on `codex app-server` (its
//! notifications translated into `codex exec --json` events by the
//! monitor), and `codex exec --json`, run here directly, is what jobs ran on
//! before. The model must not read more on the app-server: the events a poll
//! renders (the daemon's one renderer, on both outputs) cost no more and say
//! the same facts. Policy ask with nothing to ask costs nothing either.
//! Prints the character counts (they go in BENCHMARKS.md).

use std::process::Stdio;

use codex_async_daemon::{job::events::Event, job::events::Summary, output::render};
use codex_async_proto::job_result::JobResult;
use codex_async_proto::v1::{GetResponse, JobStatus, StartRequest};
use testkit::{real_codex, wait_for_end, Answer, Behaviour, Daemon, FakeProvider, TempHome};

const PROMPT: &str = "make a file that says hello";

fn script() -> FakeProvider {
    FakeProvider::start(Behaviour::Script(vec![
        Answer::Exec("printf 'hello\\n' > made.txt && cat made.txt".into()),
        Answer::Message("Made made.txt; it says hello.".into()),
    ]))
}

/// Runs one job with `policy` in a fresh home; its final Get answer and a
/// copy of its output.txt.
async fn run(policy: &str) -> Option<(GetResponse, Vec<u8>)> {
    let home = TempHome::new();
    let provider = script();
    let daemon = Daemon::with_real_codex(&home, &provider, &[]).await?;
    let client = daemon.client().await;
    let job = testkit::start_job(
        &client,
        StartRequest {
            prompt: PROMPT.into(),
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
    let output = std::fs::read(home.paths().jobs().join(&job.job_id).join("output.txt"))
        .expect("output.txt");
    Some((end, output))
}

/// The same job as `codex exec --json` ran it for codexd before (the
/// command line of codex/command.rs then); its stdout and stderr.
fn run_exec() -> Option<Vec<u8>> {
    let codex = real_codex()?;
    let home = TempHome::new();
    let provider = script();
    let codex_home = home.root().join("codex-home");
    provider.write_codex_config(&codex_home);
    let work = home.workdir();
    let out = std::process::Command::new(codex)
        .args([
            "exec",
            "--json",
            "--skip-git-repo-check",
            "-s",
            "workspace-write",
        ])
        .args(["--model", "gpt-5.5", "-C"])
        .arg(&work)
        .args(["--", PROMPT])
        .env("CODEX_HOME", &codex_home)
        .env("PYENV_REHASH_TIMEOUT", "0")
        .stdin(Stdio::null())
        .output()
        .expect("codex exec");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(work.join("made.txt")).expect("the file"),
        "hello\n"
    );
    let mut output = out.stdout;
    output.extend(out.stderr);
    Some(output)
}

/// The daemon's rendering of an output (what codex_poll shows), and its
/// summary's facts.
fn read(output: &[u8]) -> (String, Summary) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("output.txt");
    std::fs::write(&path, output).expect("write");
    let events = render::events(&path, None, output.len() as u64)
        .expect("render")
        .text;
    let mut summary = Summary::default();
    for line in output.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        summary.apply(&Event::parse(line));
    }
    (events, summary)
}

fn facts(s: &Summary) -> String {
    let commands: Vec<String> = s
        .commands
        .iter()
        .map(|c| format!("{} → {:?} {}", c.command, c.exit_code, c.status))
        .collect();
    let files: Vec<String> = s
        .files_changed
        .iter()
        .map(|f| format!("{} {}", f.kind, f.path))
        .collect();
    format!(
        "answer {:?}; commands {commands:?}; files {files:?}",
        s.final_message
    )
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
    let Some((app, app_output)) = run("auto-edit").await else {
        return;
    };
    let Some(exec_output) = run_exec() else {
        return;
    };
    let (app_events, app_summary) = read(&app_output);
    let (exec_events, exec_summary) = read(&exec_output);
    println!(
        "events: exec {} chars, app-server {} chars (the app-server job's poll: {})",
        exec_events.chars().count(),
        app_events.chars().count(),
        app.events.chars().count()
    );
    // The same facts: the answer, the command and its exit code, the file.
    assert_eq!(facts(&app_summary), facts(&exec_summary));
    assert!(
        app_events.chars().count() <= exec_events.chars().count(),
        "the app-server's events cost more:\nexec:\n{exec_events}\napp-server:\n{app_events}"
    );
}

#[tokio::test]
async fn asking_costs_the_model_nothing_when_nothing_is_asked() {
    let Some((plain, _)) = run("auto-edit").await else {
        return;
    };
    let Some((ask, _)) = run("ask").await else {
        return;
    };
    let (plain_text, ask_text) = (normalized(&plain), normalized(&ask));
    println!(
        "result: auto-edit {} chars, ask {} chars",
        plain_text.chars().count(),
        ask_text.chars().count()
    );
    assert_eq!(ask_text, plain_text, "the results differ");
    assert_eq!(ask.events.chars().count(), plain.events.chars().count());
}
