//! `kill -9` of codexd at the worst moments: right after a Start is answered,
//! in the middle of `git worktree add`, in the middle of a prune. Real
//! daemon, real git, the fake codex; each case asserts what the next daemon
//! finds: every job the user was told of, nothing they were not, nothing
//! half-made left behind.

use std::{fs, path::Path, time::Duration};

use codex_async_proto::{v1::JobStatus, Client};
use nix::sys::signal::Signal;
use testkit::{
    daemon_log, delete_database, git, list_all, sql, status_of, wait_for_end, wait_until, Daemon,
    TempHome,
};

fn kill_9(daemon: Daemon) {
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
}

/// The names under `jobs/`.
fn job_folders(home: &TempHome) -> Vec<String> {
    fs::read_dir(home.paths().jobs())
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg_attr(
    not(target_os = "linux"),
    ignore = "its fake codex finds its folder by /proc/$$/fd/2"
)]
#[tokio::test]
async fn a_job_killed_with_codexd_right_after_its_start_survives_a_lost_database() {
    let home = TempHome::new();
    // codex itself kills codexd (-9) the moment it starts: before the Start
    // is answered or just after, whichever is sooner, and always before
    // codexd's bookkeeping after the answer. What it saw of its folder then
    // is what a lost database leaves to rebuild from.
    let seen = home.root().join("seen-at-codex-start");
    let codex = home.root().join("codex-that-kills-codexd");
    testkit::write_script(
        &codex,
        &format!(
            "#!/bin/sh\n\
             dir=$(dirname \"$(readlink /proc/$$/fd/2)\")\n\
             ls \"$dir\" > {seen}.tmp && mv {seen}.tmp {seen}\n\
             kill -9 \"$(head -n1 {lock})\"\n\
             exec {fake} \"$@\"\n",
            seen = seen.display(),
            lock = home.paths().lock().display(),
            fake = testkit::fake_codex().display(),
        ),
    );
    let daemon = Daemon::start_with(&home, &[("CODEX_BIN", codex.display().to_string())]).await;
    let client = daemon.client().await;
    let go = home.root().join("go");
    let prompt = format!("print:started;waitfile:{};print:after", go.display());
    // Answered or not: codexd dies under it.
    let _ = client.clone().start(home.start_request(&prompt)).await;
    daemon.wait();
    wait_until("codex to say what it saw", || seen.is_file());
    let listing = fs::read_to_string(&seen).expect("read what codex saw");
    assert!(
        listing.lines().any(|l| l == "meta.json"),
        "meta.json is written before the monitor starts codex; the folder held:\n{listing}"
    );
    let folders = job_folders(&home);
    assert_eq!(folders.len(), 1, "{folders:?}");
    let id = folders[0].clone();
    delete_database(&home);

    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let jobs = list_all(&client).await;
    assert_eq!(
        status_of(&jobs, &id),
        Some(JobStatus::Running),
        "rebuilt and re-adopted: {jobs:?}\n{}",
        daemon_log(&home)
    );
    fs::write(&go, "").expect("write go file");
    let end = wait_for_end(&client, &id).await;
    let ended = end.job.expect("job");
    assert_eq!(ended.status(), JobStatus::Done, "{:?}", ended.error);
    assert_eq!(ended.exit_code, Some(0));
    assert!(end.output.contains("after"), "{}", end.output);
}

/// Fills `dir` with `count` small files, in folders of 1000, so removing
/// it takes a while (long enough to kill codexd in the middle).
fn fill(dir: &Path, count: usize) {
    for n in 0..count {
        let sub = dir.join(format!("d{}", n / 1000));
        if n % 1000 == 0 {
            fs::create_dir_all(&sub).expect("create bulk folder");
        }
        fs::write(sub.join(format!("f{n}")), b"x").expect("write bulk file");
    }
}

async fn prune_all(client: &Client) -> Result<codex_async_proto::v1::PruneResponse, tonic::Status> {
    client
        .clone()
        .prune(codex_async_proto::v1::PruneRequest {
            older_than_seconds: 0,
            dry_run: false,
            empty_branches: false,
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn a_job_pruned_when_codexd_is_killed_mid_prune_stays_pruned() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let job = testkit::start_job(&client, home.start_request("msg:pruned")).await;
    wait_for_end(&client, &job.job_id).await;
    let folder = home.paths().jobs().join(&job.job_id);
    fill(&folder, 40_000);

    let pruning = {
        let client = client.clone();
        tokio::spawn(async move { prune_all(&client).await })
    };
    let aside = home.paths().jobs().join(format!(".pruning-{}", job.job_id));
    // Async: the prune's call runs on this test's runtime.
    testkit::wait_until_async("the prune to move the folder aside", || {
        let seen = aside.exists();
        async move { seen }
    })
    .await;
    kill_9(daemon);
    let _ = pruning.await;
    assert!(
        aside.exists(),
        "codexd was killed while it removed the folder (else this test needs more files)"
    );

    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let jobs = list_all(&client).await;
    assert_eq!(
        status_of(&jobs, &job.job_id),
        None,
        "a pruned job never comes back: {jobs:?}"
    );
    let folders = job_folders(&home);
    assert!(
        !folders.iter().any(|f| f.contains(&job.job_id)),
        "its folder, moved aside or not, is gone: {folders:?}"
    );
}

#[tokio::test]
async fn a_prune_interrupted_before_its_record_went_is_finished_at_start() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let job = testkit::start_job(&client, home.start_request("msg:pruned")).await;
    wait_for_end(&client, &job.job_id).await;
    let kept = testkit::start_job(&client, home.start_request("msg:kept")).await;
    wait_for_end(&client, &kept.job_id).await;
    kill_9(daemon);
    // What a crash right after a prune's rename leaves: the folder aside,
    // the record still there. Without the record too, the database lost.
    let jobs_root = home.paths().jobs();
    fs::rename(
        jobs_root.join(&job.job_id),
        jobs_root.join(format!(".pruning-{}", job.job_id)),
    )
    .expect("move the folder aside");

    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let jobs = list_all(&client).await;
    assert_eq!(status_of(&jobs, &job.job_id), None, "{jobs:?}");
    assert_eq!(status_of(&jobs, &kept.job_id), Some(JobStatus::Done));
    assert_eq!(job_folders(&home), vec![kept.job_id.clone()]);
    assert!(
        daemon_log(&home).contains("finished a prune"),
        "{}",
        daemon_log(&home)
    );
    // And it stays gone when the database is lost afterwards.
    kill_9(daemon);
    delete_database(&home);
    let daemon = Daemon::start(&home).await;
    let jobs = list_all(&daemon.client().await).await;
    assert_eq!(status_of(&jobs, &job.job_id), None, "{jobs:?}");
    assert_eq!(status_of(&jobs, &kept.job_id), Some(JobStatus::Done));
}

/// Runs git as the user would, asserting success.
/// Where `git` is for this test (the wrapper below calls it by path).
fn real_git() -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .expect("look for git");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!path.is_empty(), "git is needed");
    path
}

/// A repository with one commit in the home's work folder.
fn repo(home: &TempHome) -> std::path::PathBuf {
    let repo = home.workdir();
    git(&repo, &["init", "-q", "-b", "main"]);
    fs::write(repo.join("tracked.txt"), "original\n").expect("tracked file");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    repo
}

/// Starts a worktree job on a codexd whose git stops for good right after
/// `git worktree add` has made the branch and the worktree (before codexd
/// records the base or the job), then kills codexd -9 there. Returns the job
/// folder left behind.
async fn kill_codexd_in_worktree_add(home: &TempHome, repo: &Path) -> std::path::PathBuf {
    let bin = home.root().join("slow-git");
    fs::create_dir_all(&bin).expect("create wrapper folder");
    let inside = home.root().join("git-in-worktree-add");
    testkit::write_script(
        &bin.join("git"),
        &format!(
            "#!/bin/sh\n\
             case \" $* \" in\n\
             *\" worktree add \"*)\n\
               {git} \"$@\" || exit $?\n\
               echo $$ > {inside}.tmp && mv {inside}.tmp {inside}\n\
               exec sleep 3600 ;;\n\
             esac\n\
             exec {git} \"$@\"\n",
            git = real_git(),
            inside = inside.display(),
        ),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let daemon = Daemon::start_with(home, &[("PATH", path)]).await;
    let client = daemon.client().await;
    let start = {
        let client = client.clone();
        let request = codex_async_proto::v1::StartRequest {
            prompt: "msg:never runs".into(),
            cwd: repo.display().to_string(),
            approval_policy: Some("auto-edit".into()),
            isolation: Some("worktree".into()),
            ..Default::default()
        };
        tokio::spawn(async move { client.clone().start(request).await })
    };
    testkit::wait_until_async("git to be inside `worktree add`", || {
        let there = inside.is_file();
        async move { there }
    })
    .await;
    let git_pid: i32 = fs::read_to_string(&inside)
        .expect("read the wrapper's pid")
        .trim()
        .parse()
        .expect("a pid");
    let git_guard = testkit::PidGuard::new(git_pid);
    kill_9(daemon);
    drop(git_guard);
    assert!(
        start.await.expect("join").is_err(),
        "the Start was never answered"
    );
    let folders = job_folders(home);
    assert_eq!(folders.len(), 1, "{folders:?}");
    home.paths().jobs().join(&folders[0])
}

fn branches(repo: &Path) -> Vec<String> {
    git(repo, &["branch", "--format=%(refname:short)"])
        .lines()
        .map(str::to_string)
        .collect()
}

fn worktrees(repo: &Path) -> usize {
    git(repo, &["worktree", "list", "--porcelain"])
        .lines()
        .filter(|l| l.starts_with("worktree "))
        .count()
}

#[tokio::test]
async fn a_worktree_start_killed_in_git_worktree_add_leaves_no_branch_or_folder() {
    let home = TempHome::new();
    let repo = repo(&home);
    let folder = kill_codexd_in_worktree_add(&home, &repo).await;
    let id = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .expect("folder name");
    let branch = format!("codex/{id}");
    assert!(branches(&repo).contains(&branch), "git made the branch");
    assert!(folder.join("worktree").is_dir(), "and the worktree");

    let daemon = Daemon::start(&home).await;
    assert!(
        !folder.exists(),
        "the folder of a Start nobody was answered for goes: {:?}\n{}",
        job_folders(&home),
        daemon_log(&home)
    );
    assert_eq!(branches(&repo), vec!["main".to_string()], "its branch goes");
    assert_eq!(worktrees(&repo), 1, "git forgot the worktree");
    assert!(list_all(&daemon.client().await).await.is_empty());
}

#[tokio::test]
async fn an_interrupted_worktree_start_whose_branch_got_a_commit_keeps_it() {
    let home = TempHome::new();
    let repo = repo(&home);
    let folder = kill_codexd_in_worktree_add(&home, &repo).await;
    let tree = folder.join("worktree");
    fs::write(tree.join("mine.txt"), "mine\n").expect("write a file");
    git(&tree, &["add", "mine.txt"]);
    git(&tree, &["commit", "-q", "-m", "work someone did here"]);
    let id = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .expect("folder name");

    let _daemon = Daemon::start(&home).await;
    assert!(
        branches(&repo).contains(&format!("codex/{id}")),
        "a branch with commits is never deleted"
    );
    assert!(tree.join("mine.txt").is_file(), "nor its worktree");
    assert!(
        daemon_log(&home).contains("commits beyond its base"),
        "the log says why it stays:\n{}",
        daemon_log(&home)
    );
}

/// Runs SQL on the home's database (codexd stopped).
/// Two finished jobs, the first made to have finished in 2000 (past any
/// retention); codexd stopped. Returns (old, recent).
async fn an_old_and_a_recent_job(home: &TempHome) -> (String, String) {
    let daemon = Daemon::start(home).await;
    let client = daemon.client().await;
    let old = testkit::start_job(&client, home.start_request("msg:old")).await;
    wait_for_end(&client, &old.job_id).await;
    let recent = testkit::start_job(&client, home.start_request("msg:recent")).await;
    wait_for_end(&client, &recent.job_id).await;
    kill_9(daemon);
    sql(
        home,
        &format!(
            "UPDATE jobs SET finished_at = '2000-01-01T00:00:00.000+00:00' WHERE job_id = '{}'",
            old.job_id
        ),
    )
    .await;
    (old.job_id, recent.job_id)
}

async fn exists(client: &Client, id: &str) -> bool {
    match client
        .clone()
        .get(codex_async_proto::v1::GetRequest {
            job_id: id.into(),
            tail_lines: None,
            since: None,
        })
        .await
    {
        Ok(_) => true,
        Err(status) if status.code() == tonic::Code::NotFound => false,
        Err(status) => panic!("get {id}: {status}"),
    }
}

async fn wait_for_log(home: &TempHome, text: &str) {
    testkit::wait_until_async(&format!("codexd to log {text:?}"), || {
        let found = daemon_log(home).contains(text);
        async move { found }
    })
    .await;
}

#[tokio::test]
async fn retention_skips_its_pass_when_the_newest_job_finished_in_the_future() {
    let home = TempHome::new();
    let (old, recent) = an_old_and_a_recent_job(&home).await;
    let ahead = (chrono::Utc::now() + chrono::Duration::days(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    sql(
        &home,
        &format!("UPDATE jobs SET finished_at = '{ahead}' WHERE job_id = '{recent}'"),
    )
    .await;
    let retention = [("CODEX_ASYNC_RETENTION_DAYS", "7".to_string())];
    let daemon = Daemon::start_with(&home, &retention).await;
    wait_for_log(&home, "retention skipped: the clock looks wrong").await;
    assert!(daemon_log(&home).contains("ahead of now"));
    let client = daemon.client().await;
    assert!(
        exists(&client, &old).await,
        "nothing is pruned on a doubtful clock"
    );
    assert!(exists(&client, &recent).await);
}

#[cfg_attr(
    not(target_os = "linux"),
    ignore = "writes a Linux retention.clock (boot_id, /proc/uptime); retention.rs tests the macOS clock"
)]
#[tokio::test]
async fn retention_skips_its_pass_after_the_clock_jumped_forward_and_prunes_once_trusted() {
    let home = TempHome::new();
    let (old, recent) = an_old_and_a_recent_job(&home).await;
    // What the last pass recorded, had the clock jumped 30 days ahead since:
    // the wall clock then, 30 days before now, at this moment since boot.
    let boot_id = fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("boot id");
    let uptime = fs::read_to_string("/proc/uptime").expect("uptime");
    let uptime: f64 = uptime
        .split_whitespace()
        .next()
        .and_then(|u| u.parse().ok())
        .expect("seconds since boot");
    let mark = home.home().join("retention.clock");
    let then = chrono::Utc::now() - chrono::Duration::days(30);
    fs::write(
        &mark,
        serde_json::json!({
            "boot_id": boot_id.trim(),
            "uptime": uptime,
            "wall": then.to_rfc3339(),
        })
        .to_string(),
    )
    .expect("write the clock mark");
    let retention = [("CODEX_ASYNC_RETENTION_DAYS", "7".to_string())];
    let daemon = Daemon::start_with(&home, &retention).await;
    wait_for_log(&home, "further than the time since boot").await;
    let client = daemon.client().await;
    assert!(
        exists(&client, &old).await,
        "nothing is pruned after a jump"
    );
    kill_9(daemon);

    // Told the clock is right (the file removed, as the warning says): the
    // next pass prunes by age again.
    fs::remove_file(&mark).expect("remove the clock mark");
    let daemon = Daemon::start_with(&home, &retention).await;
    let client = daemon.client().await;
    testkit::wait_until_async("retention to prune the old job", || {
        let client = client.clone();
        let old = old.clone();
        async move { !exists(&client, &old).await }
    })
    .await;
    assert!(exists(&client, &recent).await, "the recent one stays");
}

#[tokio::test]
async fn exit_json_records_codexs_run_time_by_the_monotonic_clock() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let job = testkit::start_job(&client, home.start_request("sleep:0.3;msg:done")).await;
    wait_for_end(&client, &job.job_id).await;
    let exit = home.paths().jobs().join(&job.job_id).join("exit.json");
    let exit: serde_json::Value =
        serde_json::from_slice(&fs::read(&exit).expect("read exit.json")).expect("exit.json");
    let ms = exit["duration_ms"]
        .as_u64()
        .expect("duration_ms in exit.json");
    assert!(ms >= 300, "codex slept 0.3 s: {exit}");
    assert!(ms < testkit::deadline().as_millis() as u64, "{exit}");
    // The record carries it, and the result's duration comes from it, not
    // from the wall-clock times (which a clock jump would have moved).
    let end = wait_for_end(&client, &job.job_id).await;
    assert_eq!(end.job.as_ref().and_then(|j| j.run_ms), Some(ms));
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    sql(
        &home,
        &format!(
            "UPDATE jobs SET finished_at = '2099-01-01T00:00:00.000+00:00' WHERE job_id = '{}'",
            job.job_id
        ),
    )
    .await;
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let end = wait_for_end(&client, &job.job_id).await;
    let result = codex_async_proto::job_result::JobResult::from_get(&end, None, chrono::Utc::now())
        .expect("result");
    assert_eq!(
        result.elapsed_seconds,
        Some(ms / 1000),
        "{}",
        result.to_text()
    );
    assert!(result
        .to_text()
        .starts_with(&format!("Codex job {} done (exit 0, 0 s)", job.job_id)));
}

/// What does not agree between codexd's records, the job folders, `repo`'s
/// worktrees and its `codex/` branches: each line one thing of no job, or a
/// job missing a part. Empty when every job is whole.
async fn half_made(home: &TempHome, client: &Client, repo: &Path) -> Vec<String> {
    let jobs = list_all(client).await;
    let ids: std::collections::HashSet<&str> = jobs.iter().map(|j| j.job_id.as_str()).collect();
    let mut found = Vec::new();
    let folders = job_folders(home);
    for folder in &folders {
        if !ids.contains(folder.as_str()) {
            found.push(format!("folder jobs/{folder} has no record"));
        }
    }
    for job in &jobs {
        if !folders.contains(&job.job_id) {
            found.push(format!("job {} has no folder", job.job_id));
        }
        if let Some(tree) = &job.worktree {
            if !Path::new(tree).is_dir() {
                found.push(format!("job {} has no worktree {tree}", job.job_id));
            }
        }
    }
    let jobs_root = home.paths().jobs();
    for line in git(repo, &["worktree", "list", "--porcelain"]).lines() {
        let Some(tree) = line.strip_prefix("worktree ") else {
            continue;
        };
        let Ok(inside) = Path::new(tree).strip_prefix(&jobs_root) else {
            continue;
        };
        let owner = inside
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        if !ids.contains(owner.as_str()) {
            found.push(format!("worktree {tree} belongs to no job"));
        }
    }
    for branch in branches(repo) {
        if let Some(id) = branch.strip_prefix("codex/") {
            if !ids.contains(id) {
                found.push(format!("branch {branch} belongs to no job"));
            }
        }
    }
    found
}

/// Sends `codex_start` through a real shim, then kills the shim (-9) after
/// `delay`: Claude Code quitting, or its session crashing, at that point.
fn shim_killed_after_start(home: &TempHome, request: serde_json::Value, delay: Duration) {
    use std::io::Write;
    let mut shim = testkit::ProcessGuard::new(
        std::process::Command::new(testkit::bin("codex-async-shim"))
            .envs(home.env())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn the shim"),
    );
    let mut stdin = shim.child().stdin.take().expect("shim stdin");
    let lines = [
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "faults", "version": "0"}}}),
        serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "codex_start", "arguments": request}}),
    ];
    for line in lines {
        writeln!(stdin, "{line}").expect("write to the shim");
    }
    stdin.flush().expect("flush the shim's stdin");
    // Not a synchronisation: where in the call the client goes is what varies.
    std::thread::sleep(delay);
    drop(shim);
}

#[tokio::test]
async fn a_client_gone_mid_start_leaves_each_job_whole_or_not_at_all() {
    let home = TempHome::new();
    let repo = repo(&home);
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let request = |worktree: bool| codex_async_proto::v1::StartRequest {
        prompt: "msg:ok".into(),
        cwd: repo.display().to_string(),
        approval_policy: Some("auto-edit".into()),
        isolation: Some(if worktree { "worktree" } else { "none" }.into()),
        ..Default::default()
    };
    // A client that gives up on its call at many points: the call is reset
    // (RST_STREAM) while codexd is making the folder, adding the worktree,
    // recording the job, or handing it to a monitor. A plain Start takes a
    // few milliseconds, a worktree Start tens (`git worktree add`).
    for step in 0..16u64 {
        for (worktree, unit) in [(false, 250), (true, 4_000)] {
            let mut caller = client.clone();
            let call = caller.start(request(worktree));
            let _ = tokio::time::timeout(Duration::from_micros(step * unit), call).await;
        }
    }
    // And a client that dies: a real shim killed -9 at several points of
    // its codex_start (its connection closes under the call).
    for delay_ms in [5u64, 15, 30, 60, 120] {
        for worktree in [false, true] {
            let arguments = serde_json::json!({
                "prompt": "msg:ok", "cwd": repo.display().to_string(),
                "approval_policy": "auto-edit", "isolation": if worktree { "worktree" } else { "none" },
            });
            shim_killed_after_start(&home, arguments, Duration::from_millis(delay_ms));
        }
    }
    // With codexd still running (no restart to tidy up), every job is whole
    // and nothing belongs to no job, once the calls in flight have ended.
    let (start, limit) = (std::time::Instant::now(), testkit::deadline());
    let last = loop {
        let last = half_made(&home, &client, &repo).await;
        if last.is_empty() || start.elapsed() > limit {
            break last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        last.is_empty(),
        "half-made jobs left by clients gone mid-Start:\n{}\n{}",
        last.join("\n"),
        daemon_log(&home)
    );
    assert!(testkit::pid_alive(daemon.pid()), "codexd still runs");
}
