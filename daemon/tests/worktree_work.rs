//! A worktree job's work is never lost: when the job ends codexd commits what
//! codex left to the job's branch, `codexd prune` and retention remove a
//! worktree only once nothing in it is uncommitted (and never a branch), and
//! a job that never ran leaves no branch or worktree behind. With the fake
//! codex (fast), and end to end with the real codex CLI and the fake provider
//! (skipped with a message when `CODEX_ASYNC_REAL_CODEX` is unset).

use std::{
    path::{Path, PathBuf},
    process::{Output, Stdio},
};

use codex_async_proto::v1::{CancelRequest, GetRequest, GetResponse, JobStatus, StartRequest};
use codex_async_proto::Client;
use nix::sys::signal::Signal;
use testkit::{poll_for, sql, Answer, Behaviour, Daemon, FakeProvider, TempHome};

// ---------------------------------------------------------------- helpers

use testkit::git;

/// A repository in the home's work folder with one commit: `tracked.txt`
/// ("original") and `sub/file.txt`.
fn repo(home: &TempHome) -> PathBuf {
    let repo = home.workdir();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("tracked.txt"), "original\n").expect("tracked file");
    std::fs::create_dir_all(repo.join("sub")).expect("sub");
    std::fs::write(repo.join("sub/file.txt"), "original\n").expect("sub file");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    repo
}

fn worktree_req(cwd: &Path, prompt: &str) -> StartRequest {
    StartRequest {
        prompt: prompt.into(),
        cwd: cwd.display().to_string(),
        approval_policy: Some("auto-edit".into()),
        isolation: Some("worktree".into()),
        ..Default::default()
    }
}

async fn get(client: &Client, id: &str) -> Result<GetResponse, tonic::Status> {
    client
        .clone()
        .get(GetRequest {
            job_id: id.into(),
            tail_lines: Some(1000),
            since: None,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn wait_end(client: &Client, id: &str) -> GetResponse {
    poll_for("the job to end", || {
        let client = client.clone();
        let id = id.to_string();
        async move {
            let got = get(&client, &id).await.ok()?;
            got.job
                .as_ref()
                .is_some_and(|j| j.status().is_terminal())
                .then_some(got)
        }
    })
    .await
}

async fn wait_status(client: &Client, id: &str, want: JobStatus) {
    poll_for("the job's status", || {
        let client = client.clone();
        let id = id.to_string();
        async move {
            let job = get(&client, &id).await.ok()?.job?;
            (job.status() == want).then_some(())
        }
    })
    .await
}

/// Runs `codexd <args>` on `home` as a user would.
fn codexd(home: &TempHome, args: &[&str]) -> Output {
    home.codexd()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run codexd")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "codexd failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The worktree (its top) of job `id`.
fn tree_of(home: &TempHome, id: &str) -> PathBuf {
    home.paths().jobs().join(id).join("worktree")
}

/// `author|author email|committer|subject` of each commit on `rev`, newest first.
fn log(repo: &Path, rev: &str) -> Vec<String> {
    git(repo, &["log", "--format=%an|%ae|%cn|%s", rev])
        .lines()
        .map(str::to_string)
        .collect()
}

fn branches(repo: &Path) -> String {
    git(
        repo,
        &["branch", "--list", "--format=%(refname:short)", "codex/*"],
    )
}

/// The worktrees git knows for `repo`, as `git worktree list --porcelain` names them.
fn worktrees(repo: &Path) -> Vec<String> {
    git(repo, &["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .map(str::to_string)
        .collect()
}

// ------------------------------------------------------ with the fake codex

#[tokio::test]
async fn the_work_is_committed_to_the_branch_whatever_the_users_git_config() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let repo = repo(&home);
    // Hooks that refuse every commit, and signing the machine cannot do.
    let hooks = repo.join(".git/hooks");
    for hook in ["pre-commit", "commit-msg", "prepare-commit-msg"] {
        let path = hooks.join(hook);
        testkit::write_script(&path, "#!/bin/sh\nexit 1\n");
    }
    git(&repo, &["config", "commit.gpgsign", "true"]);
    git(&repo, &["config", "user.signingkey", "nonexistent-key"]);

    let id = testkit::start_job(
        &client,
        worktree_req(&repo.join("sub"), "patch:file.txt;msg:edited\nmore"),
    )
    .await
    .job_id;
    let end = wait_end(&client, &id).await;
    let job = end.job.expect("job");
    assert_eq!(job.status(), JobStatus::Done, "{:?}", job.error);
    let branch = format!("codex/{id}");
    assert_eq!(
        log(&repo, &branch),
        [
            format!("codex-async|codex-async@localhost|codex-async|codex-async job {id}: patch:file.txt;msg:edited"),
            "A User|user@example.com|A User|init".to_string(),
        ]
    );
    assert_eq!(
        git(&repo, &["show", "--format=", "--name-only", &branch]).trim(),
        "sub/file.txt"
    );
    assert_eq!(
        git(&repo, &["show", &format!("{branch}:sub/file.txt")]),
        "original\npatched\n"
    );
    assert_eq!(
        git(&tree_of(&home, &id), &["status", "--porcelain"]),
        "",
        "nothing is left uncommitted"
    );
    let diffstat = end.summary.expect("summary").diffstat.expect("diffstat");
    assert!(
        diffstat.contains("sub/file.txt") && diffstat.contains("1 file changed, 1 insertion(+)"),
        "{diffstat}"
    );
}

#[tokio::test]
async fn prune_keeps_a_worktree_with_uncommitted_changes_and_says_why() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let repo = repo(&home);
    let id = testkit::start_job(&client, worktree_req(&repo, "patch:tracked.txt"))
        .await
        .job_id;
    assert_eq!(
        wait_end(&client, &id).await.job.expect("job").status(),
        JobStatus::Done
    );
    let tree = tree_of(&home, &id);
    // The user works on in the worktree after the job and leaves it uncommitted.
    std::fs::write(tree.join("notes.txt"), "mine\n").expect("user file");

    let out = stdout(&codexd(&home, &["prune", "--older-than", "0s"]));
    let t = tree.display();
    assert_eq!(
        out,
        format!(
            "nothing pruned: the jobs that finished more than 0s ago were kept, see why below\n\
             warning: job {id} kept: its worktree {t} has uncommitted changes (1 file(s)); \
             commit them (`git -C {t} add -A && git -C {t} commit`) or discard them \
             (`git -C {t} reset --hard && git -C {t} clean -fd`), then prune again\n"
        )
    );
    assert!(get(&client, &id).await.is_ok(), "the job is kept");
    assert_eq!(
        std::fs::read_to_string(tree.join("notes.txt")).expect("the user's file is kept"),
        "mine\n"
    );

    // Committed, it may go: the worktree, not the branch.
    git(&tree, &["add", "-A"]);
    git(&tree, &["commit", "-q", "-m", "my notes"]);
    let out = stdout(&codexd(&home, &["prune", "--older-than", "0s"]));
    assert!(
        out.starts_with("pruned 1 finished job(s) older than 0s"),
        "{out}"
    );
    assert!(!out.contains("warning:"), "{out}");
    assert_eq!(
        get(&client, &id).await.expect_err("pruned").code(),
        tonic::Code::NotFound
    );
    assert!(!home.paths().jobs().join(&id).exists());
    assert_eq!(
        worktrees(&repo),
        [repo.canonicalize().expect("repo").display().to_string()]
    );
    let branch = format!("codex/{id}");
    let subjects: Vec<String> = log(&repo, &branch)
        .iter()
        .map(|l| l.rsplit('|').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        subjects,
        [
            "my notes",
            &format!("codex-async job {id}: patch:tracked.txt"),
            "init"
        ]
    );
    assert_eq!(
        git(&repo, &["show", &format!("{branch}:notes.txt")]),
        "mine\n"
    );
}

#[tokio::test]
async fn prune_keeps_a_worktree_a_running_reply_works_in() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let repo = repo(&home);
    let parent = testkit::start_job(&client, worktree_req(&repo, "patch:tracked.txt"))
        .await
        .job_id;
    wait_end(&client, &parent).await;
    let reply = testkit::start_job(
        &client,
        StartRequest {
            prompt: "hang".into(),
            reply_to: Some(parent.clone()),
            ..Default::default()
        },
    )
    .await
    .job_id;
    wait_status(&client, &reply, JobStatus::Running).await;

    let out = stdout(&codexd(&home, &["prune", "--older-than", "0s"]));
    let t = tree_of(&home, &parent);
    assert_eq!(
        out,
        format!(
            "nothing pruned: the jobs that finished more than 0s ago were kept, see why below\n\
             warning: job {parent} kept: job {reply} (running) works in its worktree {}; \
             prune again once it has finished\n",
            t.display()
        )
    );
    assert!(t.is_dir(), "the reply's worktree stays");

    let cancelled = client
        .clone()
        .cancel(CancelRequest {
            job_id: reply.clone(),
        })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(
        cancelled.message,
        format!("job {reply} was cancelled; codex and every process it started were stopped"),
        "a job that ran keeps the running-job message"
    );
    let out = stdout(&codexd(&home, &["prune", "--older-than", "0s"]));
    assert!(
        out.starts_with("pruned 2 finished job(s) older than 0s"),
        "{out}"
    );
    assert!(!t.exists());
    assert_eq!(
        branches(&repo).trim(),
        format!("codex/{parent}"),
        "the branch stays"
    );
}

#[tokio::test]
async fn a_worktree_job_in_a_folder_git_does_not_track_runs_there() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let repo = repo(&home);
    let empty = repo.join("empty/deeper");
    std::fs::create_dir_all(&empty).expect("empty folder");
    let untracked = repo.join("scratch");
    std::fs::create_dir_all(&untracked).expect("untracked folder");
    std::fs::write(untracked.join("notes.txt"), "untracked\n").expect("untracked file");

    for (cwd, relative) in [(&empty, "empty/deeper"), (&untracked, "scratch")] {
        let id = testkit::start_job(&client, worktree_req(cwd, "msg:here"))
            .await
            .job_id;
        let end = wait_end(&client, &id).await;
        let job = end.job.expect("job");
        assert_eq!(job.status(), JobStatus::Done, "{:?}", job.error);
        let run_dir = tree_of(&home, &id).join(relative);
        assert_eq!(
            job.worktree.as_deref(),
            Some(run_dir.to_str().expect("utf-8"))
        );
        let args = end
            .output
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["type"] == "fake.args")
            .expect("fake.args line");
        assert_eq!(
            args["cwd"],
            run_dir.display().to_string(),
            "codex ran there"
        );
    }
}

#[tokio::test]
async fn a_job_cancelled_while_queued_leaves_no_branch_and_no_worktree() {
    let home = TempHome::new();
    let daemon = Daemon::start_with(&home, &[("CODEX_ASYNC_MAX_JOBS", "1".into())]).await;
    let client = daemon.client().await;
    let repo = repo(&home);
    let holder = testkit::start_job(
        &client,
        StartRequest {
            prompt: "hang".into(),
            cwd: repo.display().to_string(),
            ..Default::default()
        },
    )
    .await
    .job_id;
    let queued = testkit::start_job(&client, worktree_req(&repo, "msg:never")).await;
    assert_eq!(queued.status(), JobStatus::Queued);
    let id = queued.job_id;
    assert_eq!(
        branches(&repo).trim(),
        format!("codex/{id}"),
        "made at the Start"
    );

    let resp = client
        .clone()
        .cancel(CancelRequest { job_id: id.clone() })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(
        resp.message,
        format!("job {id} was cancelled before it started; codex never ran")
    );
    let job = resp.job.expect("job");
    assert_eq!(job.status(), JobStatus::Cancelled);
    assert_eq!((job.branch, job.worktree), (None, None));
    assert_eq!(branches(&repo), "");
    assert_eq!(
        worktrees(&repo),
        [repo.canonicalize().expect("repo").display().to_string()]
    );
    assert!(!tree_of(&home, &id).exists());
    client
        .clone()
        .cancel(CancelRequest { job_id: holder })
        .await
        .expect("cancel the running job");
}

#[tokio::test]
async fn a_job_whose_codex_cannot_start_leaves_no_branch_and_no_worktree() {
    // Not installed: the Start is refused before anything is made.
    let home = TempHome::new();
    let missing = home.root().join("no-such-codex");
    let daemon = Daemon::start_with(&home, &[("CODEX_BIN", missing.display().to_string())]).await;
    let client = daemon.client().await;
    let repo = repo(&home);
    let refused = client
        .clone()
        .start(worktree_req(&repo, "msg:never"))
        .await
        .expect_err("refused");
    assert!(
        refused.message().starts_with("cannot start codex"),
        "{refused:?}"
    );
    assert_eq!(branches(&repo), "");
    assert_eq!(
        worktrees(&repo),
        [repo.canonicalize().expect("repo").display().to_string()]
    );
    drop(daemon);

    // There, but its spawn fails (an interpreter that does not exist): the
    // job ends in error once its monitor says so, and takes its worktree and
    // branch with it.
    let home = TempHome::new();
    let broken = home.root().join("broken-codex");
    testkit::write_script(&broken, "#!/no/such/interpreter\n");
    let daemon = Daemon::start_with(&home, &[("CODEX_BIN", broken.display().to_string())]).await;
    let client = daemon.client().await;
    let repo = self::repo(&home);
    let id = testkit::start_job(&client, worktree_req(&repo, "msg:never"))
        .await
        .job_id;
    let job = wait_end(&client, &id).await.job.expect("job");
    assert_eq!(job.status(), JobStatus::Error);
    assert!(
        job.error
            .as_deref()
            .is_some_and(|e| e.starts_with("cannot start codex")
                && e.contains("is there but could not be run")),
        "{:?}",
        job.error
    );
    assert_eq!((job.branch, job.worktree), (None, None));
    assert_eq!(branches(&repo), "");
    assert_eq!(
        worktrees(&repo),
        [repo.canonicalize().expect("repo").display().to_string()]
    );
}

// -------------------------------------------------- with the real codex CLI

/// Adds a file and changes a tracked one, in one patch.
const ADD_AND_CHANGE: &str = "*** Begin Patch\n*** Add File: made-by-codex.txt\n+hello\n\
    *** Update File: tracked.txt\n@@\n-original\n+changed by codex\n*** End Patch";
const REPLY_ADDS: &str = "*** Begin Patch\n*** Add File: from-the-reply.txt\n+again\n*** End Patch";

fn real_req(cwd: &Path, prompt: &str) -> StartRequest {
    StartRequest {
        model: Some("gpt-5.5".into()),
        ..worktree_req(cwd, prompt)
    }
}

#[tokio::test]
async fn real_codex_work_is_on_the_branch_and_survives_prune_with_a_users_commit() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::Patch(ADD_AND_CHANGE.into()),
        Answer::Message("Added and changed.".into()),
        Answer::Patch(REPLY_ADDS.into()),
        Answer::Message("Added another.".into()),
    ]));
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let repo = repo(&home);
    let id = testkit::start_job(
        &client,
        real_req(&repo, "add a file\nand change tracked.txt"),
    )
    .await
    .job_id;
    let end = wait_end(&client, &id).await;
    testkit::expect_done(&end);
    let branch = format!("codex/{id}");

    // One commit by codex-async holds both files.
    let show = git(&repo, &["show", "--stat", "--format=%an <%ae>|%s", &branch]);
    assert!(
        show.starts_with(&format!(
            "codex-async <codex-async@localhost>|codex-async job {id}: add a file\n"
        )),
        "{show}"
    );
    assert!(
        show.contains("made-by-codex.txt") && show.contains("tracked.txt"),
        "{show}"
    );
    assert_eq!(log(&repo, &branch).len(), 2, "base + one commit");
    assert_eq!(
        git(&repo, &["show", &format!("{branch}:made-by-codex.txt")]),
        "hello\n"
    );
    assert_eq!(
        git(&repo, &["show", &format!("{branch}:tracked.txt")]),
        "changed by codex\n"
    );
    let diffstat = end.summary.expect("summary").diffstat.expect("diffstat");
    assert!(
        diffstat.contains("made-by-codex.txt") && diffstat.contains("tracked.txt"),
        "{diffstat}"
    );

    // A reply works on the same branch, commits its own work, and reports
    // the branch's diffstat.
    let reply = testkit::start_job(
        &client,
        StartRequest {
            prompt: "one more file".into(),
            reply_to: Some(id.clone()),
            ..Default::default()
        },
    )
    .await
    .job_id;
    let end = wait_end(&client, &reply).await;
    let job = end.job.expect("reply");
    assert_eq!(
        job.status(),
        JobStatus::Done,
        "{:?}\n{}",
        job.error,
        end.output
    );
    let diffstat = end
        .summary
        .expect("summary")
        .diffstat
        .expect("the reply's diffstat");
    assert!(
        diffstat.contains("from-the-reply.txt")
            && diffstat.contains("made-by-codex.txt")
            && diffstat.contains("3 files changed"),
        "{diffstat}"
    );
    assert_eq!(
        log(&repo, &branch)[0],
        format!(
            "codex-async|codex-async@localhost|codex-async|codex-async job {reply}: one more file"
        )
    );

    // The user commits on the branch before pruning: kept as it is.
    let tree = tree_of(&home, &id);
    std::fs::write(tree.join("by-the-user.txt"), "mine\n").expect("user file");
    git(&tree, &["add", "by-the-user.txt"]);
    git(&tree, &["commit", "-q", "-m", "the user's commit"]);
    let user_commit = git(&repo, &["rev-parse", &branch]);

    let out = stdout(&codexd(&home, &["prune", "--older-than", "0s"]));
    assert!(
        out.starts_with("pruned 2 finished job(s) older than 0s"),
        "{out}"
    );
    assert!(!tree.exists(), "the worktree is removed");
    assert_eq!(
        worktrees(&repo),
        [repo.canonicalize().expect("repo").display().to_string()]
    );
    assert_eq!(
        git(&repo, &["rev-parse", &branch]),
        user_commit,
        "the branch is as it was"
    );
    for (file, text) in [
        ("made-by-codex.txt", "hello\n"),
        ("tracked.txt", "changed by codex\n"),
        ("from-the-reply.txt", "again\n"),
        ("by-the-user.txt", "mine\n"),
    ] {
        assert_eq!(
            git(&repo, &["show", &format!("{branch}:{file}")]),
            text,
            "{file}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(repo.join("tracked.txt")).expect("checkout"),
        "original\n",
        "the user's checkout is untouched"
    );
}

/// Runs SQL on a stopped daemon's database (a test-only way to age jobs).
#[tokio::test]
async fn real_codex_work_survives_retention() {
    let home = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Script(vec![
        Answer::Patch(ADD_AND_CHANGE.into()),
        Answer::Message("Added and changed.".into()),
    ]));
    let Some(daemon) = Daemon::with_real_codex(&home, &provider, &[]).await else {
        return;
    };
    let client = daemon.client().await;
    let repo = repo(&home);
    let id = testkit::start_job(&client, real_req(&repo, "add a file"))
        .await
        .job_id;
    let job = wait_end(&client, &id).await.job.expect("job");
    assert_eq!(job.status(), JobStatus::Done, "{:?}", job.error);
    // A second job (the provider only answers now): the user leaves work
    // uncommitted in its worktree.
    let dirty = testkit::start_job(&client, real_req(&repo, "just answer"))
        .await
        .job_id;
    let job = wait_end(&client, &dirty).await.job.expect("job");
    assert_eq!(job.status(), JobStatus::Done, "{:?}", job.error);
    let dirty_tree = tree_of(&home, &dirty);
    std::fs::write(dirty_tree.join("unsaved.txt"), "wip\n").expect("user file");
    daemon.signal(Signal::SIGKILL);
    daemon.wait();

    // Finished thirty days ago: retention (7 days) prunes right after start.
    sql(
        &home,
        "UPDATE jobs SET finished_at = '2000-01-01T00:00:00.000+00:00'",
    )
    .await;
    let daemon = Daemon::with_real_codex(
        &home,
        &provider,
        &[("CODEX_ASYNC_RETENTION_DAYS", "7".into())],
    )
    .await
    .expect("real codex");
    let client = daemon.client().await;
    poll_for("retention to prune the job", || {
        let client = client.clone();
        let id = id.clone();
        async move {
            let gone = get(&client, &id).await.err()?;
            (gone.code() == tonic::Code::NotFound).then_some(())
        }
    })
    .await;
    assert!(!tree_of(&home, &id).exists());
    let log_file = home.root().join("codexd-serve.log");
    let kept = format!(
        "retention: job {dirty} kept: its worktree {} has uncommitted changes (1 file(s))",
        dirty_tree.display()
    );
    poll_for("retention to say why it kept a job", || {
        let text = std::fs::read_to_string(&log_file).unwrap_or_default();
        let found = text.contains(&kept);
        async move { found.then_some(()) }
    })
    .await;
    assert!(
        get(&client, &dirty).await.is_ok(),
        "the job with uncommitted work is kept"
    );
    assert_eq!(
        std::fs::read_to_string(dirty_tree.join("unsaved.txt")).expect("kept"),
        "wip\n"
    );
    let repo_top = repo.canonicalize().expect("repo").display().to_string();
    assert_eq!(
        worktrees(&repo),
        [repo_top, dirty_tree.display().to_string()]
    );
    let branch = format!("codex/{id}");
    assert_eq!(
        git(&repo, &["show", &format!("{branch}:made-by-codex.txt")]),
        "hello\n"
    );
    assert_eq!(
        git(&repo, &["show", &format!("{branch}:tracked.txt")]),
        "changed by codex\n"
    );
}

// ------------------------------------- results that never mislead (fake codex)

/// The text of job `id`'s result, as the MCP tools and `codexd show` render it.
fn result_text(end: &GetResponse) -> String {
    codex_async_proto::job_result::JobResult::from_get(end, None, chrono::Utc::now())
        .expect("a result")
        .to_text()
}

#[tokio::test]
async fn prune_keeps_a_worktree_while_a_kept_reply_uses_it_then_prunes_them_together() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let repo = repo(&home);
    let parent = testkit::start_job(&client, worktree_req(&repo, "patch:tracked.txt"))
        .await
        .job_id;
    wait_end(&client, &parent).await;
    let reply = testkit::start_job(
        &client,
        StartRequest {
            prompt: "patch:tracked.txt".into(),
            reply_to: Some(parent.clone()),
            ..Default::default()
        },
    )
    .await
    .job_id;
    assert_eq!(
        wait_end(&client, &reply).await.job.expect("reply").status(),
        JobStatus::Done
    );
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    // The parent ended ten days ago; the reply is younger than the cutoff.
    sql(
        &home,
        &format!(
            "UPDATE jobs SET finished_at = '{}' WHERE job_id = '{parent}'",
            (chrono::Utc::now() - chrono::Duration::days(10)).to_rfc3339()
        ),
    )
    .await;
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let t = tree_of(&home, &parent);
    let out = stdout(&codexd(&home, &["prune", "--older-than", "7d"]));
    assert_eq!(
        out,
        format!(
            "nothing pruned: the jobs that finished more than 7d00h ago were kept, see why below\n\
             warning: job {parent} kept: job {reply} (done) works in its worktree {}; \
             it goes when that job is pruned\n",
            t.display()
        )
    );
    assert!(t.is_dir(), "the reply's worktree stays");
    // The kept reply can still be followed up, in that worktree.
    let again = testkit::start_job(
        &client,
        StartRequest {
            prompt: "patch:tracked.txt".into(),
            reply_to: Some(reply.clone()),
            ..Default::default()
        },
    )
    .await
    .job_id;
    let end = wait_end(&client, &again).await;
    assert_eq!(end.job.as_ref().expect("job").status(), JobStatus::Done);
    assert!(result_text(&end).contains(&format!("To follow up: codex_reply(job_id=\"{again}\")")));

    // Once all of them are old enough, one pass prunes them all.
    let out = stdout(&codexd(&home, &["prune", "--older-than", "0s"]));
    assert!(
        out.starts_with("pruned 3 finished job(s) older than 0s"),
        "{out}"
    );
    assert!(!out.contains("warning"), "{out}");
    assert!(!t.exists());
    assert_eq!(
        branches(&repo).trim(),
        format!("codex/{parent}"),
        "the branch stays"
    );
}

#[tokio::test]
async fn the_end_commit_holds_codexs_edits_and_names_the_users_files() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let repo = repo(&home);
    let parent = testkit::start_job(&client, worktree_req(&repo, "patch:tracked.txt"))
        .await
        .job_id;
    wait_end(&client, &parent).await;
    let branch = format!("codex/{parent}");
    // The user works in the worktree after the job ended.
    let tree = tree_of(&home, &parent);
    std::fs::write(tree.join("my-notes.md"), "mine\n").expect("user file");
    std::fs::write(tree.join("sub/file.txt"), "edited by the user\n").expect("user edit");
    let reply = testkit::start_job(
        &client,
        StartRequest {
            prompt: "patch:tracked.txt".into(),
            reply_to: Some(parent.clone()),
            ..Default::default()
        },
    )
    .await
    .job_id;
    let end = wait_end(&client, &reply).await;
    assert_eq!(end.job.as_ref().expect("reply").status(), JobStatus::Done);
    assert_eq!(
        git(&repo, &["show", "--format=", "--name-only", &branch]).trim(),
        "tracked.txt",
        "only codex's edit is in the reply's commit"
    );
    let mut left = git(&tree, &["status", "--porcelain"]);
    left = left.lines().map(str::trim).collect::<Vec<_>>().join("|");
    assert_eq!(
        left, "M sub/file.txt|?? my-notes.md",
        "the user's files stay uncommitted"
    );
    let text = result_text(&end);
    assert!(
        text.contains(&format!(
            "Not committed, as they are not codex's edits: my-notes.md, sub/file.txt \
             (still in the worktree {})",
            tree.display()
        )) || text.contains(&format!(
            "Not committed, as they are not codex's edits: sub/file.txt, my-notes.md \
             (still in the worktree {})",
            tree.display()
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_worktree_job_says_it_does_not_see_the_users_uncommitted_changes() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let repo = repo(&home);
    std::fs::write(repo.join("tracked.txt"), "the user's edit\n").expect("edit");
    std::fs::write(repo.join("new.txt"), "new\n").expect("new file");
    let started = testkit::start_job(&client, worktree_req(&repo, "msg:done")).await;
    let note = started.worktree_note.clone().expect("a note at start");
    assert!(
        note.contains("without the 2 uncommitted change(s)")
            && note.contains("new.txt")
            && note.contains("tracked.txt"),
        "{note}"
    );
    let end = wait_end(&client, &started.job_id).await;
    let text = result_text(&end);
    assert!(text.contains("The worktree starts from HEAD "), "{text}");
    // A clean checkout says nothing.
    git(&repo, &["stash", "-u", "-q"]);
    let clean = testkit::start_job(&client, worktree_req(&repo, "msg:done")).await;
    assert_eq!(clean.worktree_note, None);
}

#[tokio::test]
async fn a_failed_end_commit_says_so_and_where_the_work_is() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let repo = repo(&home);
    let gate = home.root().join("gate");
    let id = testkit::start_job(
        &client,
        worktree_req(
            &repo,
            &format!("patch:tracked.txt;waitfile:{}", gate.display()),
        ),
    )
    .await
    .job_id;
    wait_status(&client, &id, JobStatus::Running).await;
    // A git command that died and left its lock: git refuses every commit.
    let admin = git(&tree_of(&home, &id), &["rev-parse", "--absolute-git-dir"]);
    std::fs::write(Path::new(admin.trim()).join("index.lock"), "").expect("lock");
    std::fs::write(&gate, "").expect("gate");
    let end = wait_end(&client, &id).await;
    assert_eq!(end.job.as_ref().expect("job").status(), JobStatus::Done);
    let text = result_text(&end);
    assert!(text.contains("The end commit failed ("), "{text}");
    assert!(text.contains("index.lock"), "{text}");
    assert!(
        text.contains(&format!(
            "codex's work is uncommitted in the worktree {}",
            tree_of(&home, &id).display()
        )),
        "{text}"
    );
    assert!(!text.contains("no changes (`codexd prune"), "{text}");
}

#[tokio::test]
async fn prune_branches_deletes_only_empty_branches() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let repo = repo(&home);
    let read_only = testkit::start_job(&client, worktree_req(&repo, "msg:looked only"))
        .await
        .job_id;
    let end = wait_end(&client, &read_only).await;
    assert!(result_text(&end).contains(&format!(
        "Branch codex/{read_only} (worktree {}): no changes (`codexd prune --branches` deletes it with the job).",
        tree_of(&home, &read_only).display()
    )), "{}", result_text(&end));
    let worked = testkit::start_job(&client, worktree_req(&repo, "patch:tracked.txt"))
        .await
        .job_id;
    wait_end(&client, &worked).await;
    let out = stdout(&codexd(
        &home,
        &["prune", "--older-than", "0s", "--branches"],
    ));
    assert!(out.starts_with("pruned 2 finished job(s)"), "{out}");
    assert!(
        out.contains(&format!("deleted 1 empty branch(es): codex/{read_only}\n")),
        "{out}"
    );
    assert_eq!(
        branches(&repo).trim(),
        format!("codex/{worked}"),
        "a branch with a commit stays"
    );
}

#[tokio::test]
async fn a_reply_to_a_job_whose_worktree_was_removed_is_refused_with_the_way_on() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let repo = repo(&home);
    let id = testkit::start_job(&client, worktree_req(&repo, "patch:tracked.txt"))
        .await
        .job_id;
    wait_end(&client, &id).await;
    let tree = tree_of(&home, &id);
    std::fs::remove_dir_all(&tree).expect("remove the worktree");
    let end = get(&client, &id).await.expect("get");
    assert!(end.job.as_ref().expect("job").worktree_missing);
    let text = result_text(&end);
    assert!(!text.contains("To follow up: codex_reply"), "{text}");
    let refused = client
        .clone()
        .start(StartRequest {
            prompt: "more".into(),
            reply_to: Some(id.clone()),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(
        refused.message().contains(&format!(
            "worktree add {} codex/{id}` and reply again",
            tree.display()
        )),
        "{}",
        refused.message()
    );
}
