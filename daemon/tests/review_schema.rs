//! Reviews, structured answers and reasoning effort (issue 14, items 1-3):
//! the real codex CLI against the fake Responses provider, asserting on what
//! codex sent the provider (its review prompt, `reasoning.effort`,
//! `text.format`), and every bad input refused before anything is created.

use std::path::Path;

use codex_async_proto::v1::{GetRequest, GetResponse, ListRequest, ReviewRequest, StartRequest};
use codex_async_proto::Client;
use serde_json::{json, Value};
use testkit::{poll_for, Behaviour, Daemon, FakeProvider, TempHome};

/// A review as the fake model writes it: codex's reviewer expects this JSON
/// and renders it as the review text.
const REVIEW_JSON: &str = r#"{"findings":[{"title":"[P1] Off by one","body":"The loop skips the last item.","confidence_score":0.8,"priority":1,"code_location":{"absolute_file_path":"/tmp/a.txt","line_range":{"start":1,"end":1}}}],"overall_correctness":"patch is incorrect","overall_explanation":"One bug.","overall_confidence_score":0.7}"#;

/// git's output, trimmed (these tests compare single values).
fn git(dir: &Path, args: &[&str]) -> String {
    testkit::git(dir, args).trim().to_string()
}

/// A repository on branch `feature`, one commit ahead of `main`, clean.
fn repo(home: &TempHome) -> std::path::PathBuf {
    let dir = home.workdir().join("repo");
    std::fs::create_dir_all(&dir).expect("repo dir");
    git(&dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("a.txt"), "one\n").expect("write");
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "first"]);
    git(&dir, &["checkout", "-qb", "feature"]);
    std::fs::write(dir.join("a.txt"), "one\ntwo\n").expect("write");
    git(&dir, &["commit", "-qam", "Add two"]);
    dir
}

fn review(cwd: &Path, review: ReviewRequest) -> StartRequest {
    StartRequest {
        cwd: cwd.display().to_string(),
        review: Some(review),
        ..Default::default()
    }
}

fn target(name: &str) -> ReviewRequest {
    ReviewRequest {
        target: name.into(),
        ..Default::default()
    }
}

async fn get(client: &Client, id: &str) -> GetResponse {
    client
        .clone()
        .get(GetRequest {
            job_id: id.into(),
            tail_lines: Some(1000),
            since: None,
        })
        .await
        .expect("get")
        .into_inner()
}

async fn run_to_end(client: &Client, request: StartRequest) -> GetResponse {
    let job = client
        .clone()
        .start(request)
        .await
        .expect("start")
        .into_inner()
        .job
        .expect("job");
    let id = job.job_id.clone();
    let end = poll_for("real codex to finish", || {
        let client = client.clone();
        let id = id.clone();
        async move {
            let got = get(&client, &id).await;
            got.job
                .as_ref()
                .is_some_and(|j| j.status().is_terminal())
                .then_some(got)
        }
    })
    .await;
    testkit::expect_done(&end);
    end
}

/// The text of every user message codex posted in `bodies`.
fn user_texts(bodies: &[Value]) -> String {
    bodies
        .iter()
        .flat_map(|b| b["input"].as_array().cloned().unwrap_or_default())
        .filter(|m| m["role"] == "user")
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["text"].as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn reviews_of_uncommitted_changes_a_branch_and_a_commit_reach_codex() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Reply(REVIEW_JSON.into()));
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let dir = repo(&home);
    let head = git(&dir, &["rev-parse", "HEAD"]);

    // A branch against its base, with an effort.
    let seen = provider.bodies().len();
    let mut base = target("base");
    base.base_branch = Some("main".into());
    let mut request = review(&dir, base);
    request.reasoning_effort = Some("high".into());
    let end = run_to_end(&client, request).await;
    let bodies = provider.bodies()[seen..].to_vec();
    let prompt = user_texts(&bodies);
    assert!(
        prompt.contains("Review the code changes against the base branch 'main'"),
        "{prompt}"
    );
    assert!(
        bodies.iter().all(|b| b["reasoning"]["effort"] == "high"),
        "{bodies:?}"
    );
    let job = end.job.clone().expect("job");
    assert_eq!(
        job.review.as_deref(),
        Some("the current branch against main")
    );
    assert_eq!(job.reasoning_effort.as_deref(), Some("high"));
    assert_eq!(job.approval_policy, "suggest");
    let answer = end
        .summary
        .as_ref()
        .and_then(|s| s.final_message.clone())
        .unwrap_or_default();
    assert!(
        answer.contains("[P1] Off by one") && answer.contains("The loop skips the last item."),
        "{answer}"
    );
    let text = codex_async_proto::job_result::JobResult::from_get(&end, None, chrono::Utc::now())
        .expect("result")
        .to_text();
    let findings = text
        .find("[P1] Off by one")
        .expect("findings in the result");
    let reviewed = text
        .find("Reviewed: the current branch against main.")
        .expect("what was reviewed");
    assert!(findings < reviewed, "{text}");

    // One commit, pinned to its full id, with a title.
    let seen = provider.bodies().len();
    let mut commit = target("commit");
    commit.commit = Some("HEAD".into());
    commit.title = Some("Add two".into());
    let end = run_to_end(&client, review(&dir, commit)).await;
    let prompt = user_texts(&provider.bodies()[seen..]);
    assert!(
        prompt.contains(&format!(
            "Review the code changes introduced by commit {head} (\"Add two\")"
        )),
        "{prompt}"
    );
    assert_eq!(
        end.job.expect("job").review.as_deref(),
        Some(format!("commit {} (Add two)", &head[..12]).as_str())
    );

    // The uncommitted changes.
    std::fs::write(dir.join("b.txt"), "new\n").expect("write");
    let seen = provider.bodies().len();
    let end = run_to_end(&client, review(&dir, target("uncommitted"))).await;
    let prompt = user_texts(&provider.bodies()[seen..]);
    assert!(
        prompt.contains("Review the current code changes (staged, unstaged, and untracked files)"),
        "{prompt}"
    );
    assert!(end
        .summary
        .and_then(|s| s.final_message)
        .is_some_and(|m| m.contains("[P1] Off by one")));

    // Custom instructions instead of a target reach codex as its prompt.
    let seen = provider.bodies().len();
    let instructions = ReviewRequest {
        instructions: Some("Look only for SQL injection.".into()),
        ..Default::default()
    };
    let end = run_to_end(&client, review(&dir, instructions)).await;
    let prompt = user_texts(&provider.bodies()[seen..]);
    assert!(prompt.contains("Look only for SQL injection."), "{prompt}");
    assert_eq!(end.job.expect("job").prompt, "Look only for SQL injection.");
}

#[tokio::test]
async fn auto_reviews_a_dirty_tree_then_a_clean_branch_and_refuses_when_nothing_changed() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Reply(REVIEW_JSON.into()));
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let dir = repo(&home);

    // Clean, one commit ahead of main: the branch against main.
    let seen = provider.bodies().len();
    let end = run_to_end(&client, review(&dir, ReviewRequest::default())).await;
    assert_eq!(
        end.job.expect("job").review.as_deref(),
        Some("the current branch against main (target auto: the working tree is clean, and branch feature has 1 commit that main lacks)")
    );
    let prompt = user_texts(&provider.bodies()[seen..]);
    assert!(
        prompt.contains("against the base branch 'main'"),
        "{prompt}"
    );

    // Dirty: the uncommitted changes.
    std::fs::write(dir.join("a.txt"), "changed\n").expect("write");
    let seen = provider.bodies().len();
    let end = run_to_end(&client, review(&dir, target("auto"))).await;
    assert_eq!(
        end.job.expect("job").review.as_deref(),
        Some("the uncommitted changes (staged, unstaged and untracked) (target auto: the working tree has uncommitted changes)")
    );
    let prompt = user_texts(&provider.bodies()[seen..]);
    assert!(
        prompt.contains("staged, unstaged, and untracked"),
        "{prompt}"
    );

    // Clean and on main: nothing to review, and nothing is created.
    git(&dir, &["checkout", "-q", "--", "a.txt"]);
    git(&dir, &["checkout", "-q", "main"]);
    let jobs_before = std::fs::read_dir(home.paths().jobs())
        .expect("jobs")
        .count();
    let err = client
        .clone()
        .start(review(&dir, ReviewRequest::default()))
        .await
        .expect_err("nothing to review");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message()
            .starts_with("target: auto found nothing to review: the working tree at ")
            && err
                .message()
                .contains("is clean and there is no default branch"),
        "{}",
        err.message()
    );
    let jobs_after = std::fs::read_dir(home.paths().jobs())
        .expect("jobs")
        .count();
    assert_eq!(jobs_before, jobs_after);
}

const SCHEMA: &str = r#"{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"],"additionalProperties":false}"#;

#[tokio::test]
async fn an_output_schema_round_trips_to_final_json_and_a_wrong_answer_says_why() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        testkit::Answer::Message(r#"{"answer":"42"}"#.into()),
        testkit::Answer::Message(r#"{"answer":42}"#.into()),
    ]));
    let env = [(
        "CODEX_ASYNC_DEFAULT_REASONING_EFFORT",
        "minimal".to_string(),
    )];
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &env).await else {
        return;
    };
    let client = daemon.client().await;
    let mut request = home.start_request("answer in JSON");
    request.output_schema = Some(SCHEMA.into());
    let end = run_to_end(&client, request).await;
    let bodies = provider.bodies();
    assert_eq!(
        bodies[0]["text"]["format"]["schema"],
        serde_json::from_str::<Value>(SCHEMA).expect("schema"),
        "{bodies:?}"
    );
    // The config's default effort reaches codex's config.
    assert_eq!(bodies[0]["reasoning"]["effort"], "minimal");
    let job = end.job.clone().expect("job");
    let schema_path = job.output_schema_path.clone().expect("schema path");
    assert!(
        schema_path.ends_with("/output_schema.json"),
        "{schema_path}"
    );
    let summary = end.summary.clone().expect("summary");
    assert_eq!(summary.final_json.as_deref(), Some(r#"{"answer":"42"}"#));
    assert_eq!(summary.final_json_error, None);
    let result = codex_async_proto::job_result::JobResult::from_get(&end, None, chrono::Utc::now())
        .expect("result");
    assert_eq!(result.final_json, Some(json!({"answer": "42"})));
    assert!(result
        .to_text()
        .contains("Structured answer: matches the output schema (final_json)."));

    // A reply (thread/resume) takes an output schema and an effort too;
    // this answer breaks the schema.
    let reply = StartRequest {
        prompt: "again".into(),
        reply_to: Some(job.job_id.clone()),
        output_schema: Some(SCHEMA.into()),
        reasoning_effort: Some("low".into()),
        ..Default::default()
    };
    let end = run_to_end(&client, reply).await;
    let last = provider.bodies().last().cloned().expect("a request");
    assert_eq!(last["reasoning"]["effort"], "low");
    assert_eq!(last["text"]["format"]["type"], "json_schema");
    let summary = end.summary.clone().expect("summary");
    assert_eq!(summary.final_json, None);
    let why = summary.final_json_error.clone().unwrap_or_default();
    assert!(
        why.starts_with(
            "codex's answer did not match the output schema: 42 is not of type \"string\""
        ) && why.ends_with("(at /answer)"),
        "{why}"
    );
    let text = codex_async_proto::job_result::JobResult::from_get(&end, None, chrono::Utc::now())
        .expect("result")
        .to_text();
    assert!(
        text.contains("Structured answer: none; codex's answer did not match the output schema"),
        "{text}"
    );
}

/// Every bad input is refused naming its field, before anything exists:
/// no job row, no job folder.
#[tokio::test]
async fn bad_inputs_name_the_field_and_create_nothing() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let dir = repo(&home);
    let plain = home.workdir().join("plain");
    std::fs::create_dir_all(&plain).expect("plain dir");
    let with = |f: &dyn Fn(&mut StartRequest)| {
        let mut r = review(&dir, ReviewRequest::default());
        f(&mut r);
        r
    };
    let huge = format!(
        r#"{{"type":"object","description":"{}"}}"#,
        "x".repeat(65 * 1024)
    );
    let too_big = format!(
        "output_schema: {} bytes is over the limit of 65536 bytes (64 KiB) serialized",
        huge.len()
    );
    let cases: Vec<(StartRequest, &str)> = vec![
        (
            with(&|r| r.review = Some(target("everything"))),
            "target: unknown value \"everything\"; use one of uncommitted, base (with base_branch), commit (with commit, optional title), auto (the default)",
        ),
        (
            with(&|r| r.review = Some(target("base"))),
            "base_branch: required with target \"base\"; pass the branch to compare against, e.g. main",
        ),
        (
            with(&|r| {
                r.review = Some(ReviewRequest {
                    target: "uncommitted".into(),
                    instructions: Some("look at perf".into()),
                    ..Default::default()
                })
            }),
            "instructions and target \"uncommitted\": codex takes custom review instructions only instead of a target; pass instructions alone (codex reviews what they ask for) or the target without instructions",
        ),
        (
            with(&|r| {
                let mut t = target("base");
                t.base_branch = Some("no-such-branch".into());
                r.review = Some(t);
            }),
            "base_branch: \"no-such-branch\" is not a branch or commit of the repository at",
        ),
        (
            with(&|r| r.reasoning_effort = Some("ultra".into())),
            "reasoning_effort: unknown value \"ultra\"; use one of none, minimal, low, medium, high, xhigh (codex's model_reasoning_effort), or leave it out for the default",
        ),
        (
            review(&plain, ReviewRequest::default()),
            "is not inside a git repository",
        ),
        (
            StartRequest {
                output_schema: Some(r#"{"type":"bogus"}"#.into()),
                ..home.start_request("p")
            },
            "output_schema: is not a valid JSON Schema",
        ),
        (
            StartRequest {
                output_schema: Some(huge),
                ..home.start_request("p")
            },
            &too_big,
        ),
        (
            StartRequest {
                reasoning_effort: Some("max".into()),
                ..home.start_request("p")
            },
            "reasoning_effort: unknown value \"max\"",
        ),
        (
            StartRequest {
                reasoning_effort: Some(String::new()),
                ..home.start_request("p")
            },
            "reasoning_effort: is empty; use one of none, minimal, low, medium, high, xhigh",
        ),
        (
            with(&|r| r.reasoning_effort = Some(String::new())),
            "reasoning_effort: is empty; use one of none, minimal",
        ),
    ];
    for (request, expected) in cases {
        let err = client.start(request).await.expect_err(expected);
        assert_eq!(
            err.code(),
            tonic::Code::InvalidArgument,
            "{}",
            err.message()
        );
        assert!(
            err.message().contains(expected),
            "{}\n  wanted: {expected}",
            err.message()
        );
    }
    let listed = client
        .list(ListRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.jobs.is_empty(), "{:?}", listed.jobs);
    let folders = std::fs::read_dir(home.paths().jobs())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(folders, 0);
}

#[tokio::test]
async fn codexd_review_runs_a_review_from_a_terminal_and_prints_the_result() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Reply(REVIEW_JSON.into()));
    let Some(_daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let dir = repo(&home);
    let run = |args: &[&str]| {
        let mut cmd = home.codexd();
        cmd.arg("review").args(args).arg(&dir).env("NO_COLOR", "1");
        let child = testkit::ProcessGuard::new(
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run codexd review"),
        );
        child
    };

    let mut review = run(&["--base", "main"]);
    let out = poll_for("codexd review to finish", || {
        let done = review.child().try_wait().ok().flatten();
        async move { done }
    })
    .await;
    let mut stdout = String::new();
    let mut stderr = String::new();
    use std::io::Read;
    review
        .child()
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read stdout");
    review
        .child()
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert!(out.success(), "{out:?}\n{stdout}\n{stderr}");
    assert!(
        stderr.starts_with("codex reviews the current branch against main (job "),
        "{stderr}"
    );
    assert_eq!(
        stdout.matches("[P1] Off by one").count(),
        1,
        "codex's findings are printed once: {stdout}"
    );
    assert!(!stdout.contains("Tokens: 0 in"), "no false cost: {stdout}");
    let findings = stdout.find("[P1] Off by one").expect("the findings");
    let reviewed = stdout
        .find("Reviewed: the current branch against main.")
        .expect("what was reviewed");
    assert!(findings < reviewed, "{stdout}");

    // Bad input is refused before anything starts, naming the flags.
    let refused = |args: &[&str]| {
        let mut bad = run(args);
        let out = bad.child().wait().expect("codexd review ends");
        let mut stderr = String::new();
        bad.child()
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("read stderr");
        assert!(!out.success(), "{stderr}");
        stderr
    };
    let stderr = refused(&["--target", "bogus"]);
    assert!(
        stderr.contains("--target: unknown value \"bogus\"; use one of uncommitted, base (with --base), commit (with --commit, optional --title), auto (the default)"),
        "{stderr}"
    );
    let stderr = refused(&["--target", "base"]);
    assert!(
        stderr.contains("--base: required with --target base; pass the branch"),
        "{stderr}"
    );
    // An explicit target with nothing to review is refused as auto is.
    let stderr = refused(&["--target", "uncommitted"]);
    assert!(
        stderr.contains("--target uncommitted: the working tree at ")
            && stderr.contains("is clean, there is nothing uncommitted to review"),
        "{stderr}"
    );
    let head = git(&dir, &["rev-parse", "--abbrev-ref", "HEAD"]);
    let stderr = refused(&["--base", head.trim()]);
    assert!(
        stderr.contains(&format!(
            "--base: branch {} has no commits that {} lacks",
            head.trim(),
            head.trim()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("base_branch"), "{stderr}");
}
