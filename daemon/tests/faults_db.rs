//! The job folders are the truth: a database that is deleted or damaged
//! never loses a job. Real daemon, real SQLite, the fake codex; every case
//! asserts the jobs' true end state after the fault.

use std::{fs, process::Output};

use codex_async_proto::v1::{CancelRequest, JobStatus};
use nix::sys::signal::Signal;
use testkit::{
    daemon_log, delete_database, get, list_all, poll_for, status_of, wait_for_end, wait_until,
    Daemon, TempHome,
};

fn codexd(home: &TempHome, args: &[&str]) -> Output {
    home.run_codexd(args)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Makes the database file unreadable as SQLite: its header overwritten.
fn corrupt_database(home: &TempHome) {
    use std::os::unix::fs::FileExt;
    let db = home.paths().database();
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    file.write_all_at(&[0xA5; 512], 0)
        .expect("overwrite header");
    file.sync_all().expect("sync");
}

/// Stops a daemon with SIGTERM (its WAL checkpointed, the files whole).
fn stop(daemon: Daemon) {
    daemon.signal(Signal::SIGTERM);
    assert!(daemon.wait().success());
}

/// Waits until the job's meta.json records `status`: codexd writes it just
/// after a Start's answer, and a folder without it cannot be rebuilt.
fn wait_for_meta(home: &TempHome, id: &str, status: &str) {
    let meta = home.paths().jobs().join(id).join("meta.json");
    let wanted = format!("\"status\": \"{status}\"");
    wait_until(&format!("meta.json of {id} to say {status}"), || {
        fs::read_to_string(&meta).is_ok_and(|t| t.contains(&wanted))
    });
}

fn corrupt_copies(home: &TempHome) -> Vec<std::path::PathBuf> {
    fs::read_dir(home.home())
        .expect("read home")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with("codexd.db.corrupt-")
                    && !n.to_string_lossy().ends_with("-wal")
                    && !n.to_string_lossy().ends_with("-shm")
            })
        })
        .collect()
}

#[tokio::test]
async fn deleted_database_files_are_rebuilt_from_the_folders_with_true_states() {
    let home = TempHome::new();
    let one_slot = [("CODEX_ASYNC_MAX_JOBS", "1".to_string())];
    let daemon = Daemon::start_with(&home, &one_slot).await;
    let client = daemon.client().await;

    let done = testkit::start_job(&client, home.start_request("msg:the first answer")).await;
    let done_end = wait_for_end(&client, &done.job_id).await;
    assert_eq!(
        done_end.job.as_ref().map(|j| j.status()),
        Some(JobStatus::Done)
    );
    let failed = testkit::start_job(&client, home.start_request("print:x;exit:3")).await;
    wait_for_end(&client, &failed.job_id).await;

    let go = home.root().join("go");
    let running_prompt = format!("print:started;waitfile:{};print:after", go.display());
    let running = testkit::start_job(&client, home.start_request(&running_prompt)).await;
    assert_eq!(running.status(), JobStatus::Running);
    let queued = testkit::start_job(&client, home.start_request("msg:the queued one ran")).await;
    assert_eq!(queued.status(), JobStatus::Queued, "max_jobs 1 holds it");
    wait_for_meta(&home, &running.job_id, "running");
    wait_for_meta(&home, &queued.job_id, "queued");

    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    delete_database(&home);

    let daemon = Daemon::start_with(&home, &one_slot).await;
    let client = daemon.client().await;
    let jobs = list_all(&client).await;
    assert_eq!(jobs.len(), 4, "every job is back: {jobs:?}");
    assert_eq!(status_of(&jobs, &done.job_id), Some(JobStatus::Done));
    assert_eq!(status_of(&jobs, &failed.job_id), Some(JobStatus::Error));
    assert_eq!(status_of(&jobs, &running.job_id), Some(JobStatus::Running));
    assert_eq!(status_of(&jobs, &queued.job_id), Some(JobStatus::Queued));

    let done_now = get(&mut client.clone(), &done.job_id).await;
    let job = done_now.job.expect("job");
    assert_eq!(job.exit_code, Some(0));
    assert_eq!(
        done_now.summary.and_then(|s| s.final_message).as_deref(),
        Some("the first answer"),
        "the rebuilt job's summary is folded from its output"
    );
    let failed_now = get(&mut client.clone(), &failed.job_id).await;
    assert_eq!(failed_now.job.and_then(|j| j.exit_code), Some(3));

    let log = daemon_log(&home);
    assert!(
        log.contains("deleted or lost") && log.contains("rebuilt=4"),
        "the start says the database was lost and how many jobs it rebuilt:\n{log}"
    );

    // The running one was re-adopted: it goes on and ends with codex's status.
    fs::write(&go, "").expect("write go file");
    let end = wait_for_end(&client, &running.job_id).await;
    let job = end.job.expect("job");
    assert_eq!(job.status(), JobStatus::Done, "{:?}", job.error);
    assert!(end.output.contains("after"), "{}", end.output);
    // Its slot freed, the queued one runs.
    let end = wait_for_end(&client, &queued.job_id).await;
    assert_eq!(end.job.map(|j| j.status()), Some(JobStatus::Done));
    assert_eq!(
        end.summary.and_then(|s| s.final_message).as_deref(),
        Some("the queued one ran")
    );
}

#[tokio::test]
async fn a_running_job_rebuilt_after_the_database_went_can_be_cancelled() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let job = testkit::start_job(&client, home.start_request("print:started;hang")).await;
    assert_eq!(job.status(), JobStatus::Running);
    wait_for_meta(&home, &job.job_id, "running");
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    delete_database(&home);

    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    assert_eq!(
        status_of(&list_all(&client).await, &job.job_id),
        Some(JobStatus::Running)
    );
    client
        .clone()
        .cancel(CancelRequest {
            job_id: job.job_id.clone(),
        })
        .await
        .expect("cancel");
    let end = wait_for_end(&client, &job.job_id).await;
    assert_eq!(end.job.map(|j| j.status()), Some(JobStatus::Cancelled));
    let codex = testkit::codex_of(&home, &job.job_id);
    wait_until("codex to be gone", || !testkit::pid_alive(codex));
}

#[tokio::test]
async fn a_database_deleted_while_codexd_runs_stops_it_and_the_next_start_rebuilds() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let job = testkit::start_job(&client, home.start_request("print:started;hang")).await;
    wait_for_meta(&home, &job.job_id, "running");
    delete_database(&home);
    // No Start may go into the unlinked file: codexd stops by itself.
    let pid = daemon.pid();
    wait_until("codexd to stop", || !testkit::pid_alive(pid));
    assert!(
        daemon_log(&home).contains("the database file was removed or replaced while codexd ran"),
        "{}",
        daemon_log(&home)
    );
    daemon.wait();
    let codex = testkit::codex_of(&home, &job.job_id);
    assert!(
        testkit::pid_alive(codex),
        "the job runs on under its monitor"
    );

    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    assert_eq!(
        status_of(&list_all(&client).await, &job.job_id),
        Some(JobStatus::Running)
    );
    client
        .clone()
        .cancel(CancelRequest {
            job_id: job.job_id.clone(),
        })
        .await
        .expect("cancel");
    let end = wait_for_end(&client, &job.job_id).await;
    assert_eq!(end.job.map(|j| j.status()), Some(JobStatus::Cancelled));
    wait_until("codex to be gone", || !testkit::pid_alive(codex));
}

#[tokio::test]
async fn a_corrupt_database_is_set_aside_at_start_and_its_jobs_come_back() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let job = testkit::start_job(&client, home.start_request("msg:kept")).await;
    wait_for_end(&client, &job.job_id).await;
    stop(daemon);
    corrupt_database(&home);

    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let jobs = list_all(&client).await;
    assert_eq!(
        status_of(&jobs, &job.job_id),
        Some(JobStatus::Done),
        "{jobs:?}"
    );
    let copies = corrupt_copies(&home);
    assert_eq!(
        copies.len(),
        1,
        "the damaged file is kept aside: {copies:?}"
    );
    let kept = fs::read(&copies[0]).expect("read the copy");
    assert!(kept.starts_with(&[0xA5; 512]), "it is the damaged file");
    let log = daemon_log(&home);
    assert!(
        log.contains("the database is damaged; moved it aside")
            && log.contains(&copies[0].display().to_string()),
        "the log says where the old file went:\n{log}"
    );
    // The new database takes new jobs.
    let next = testkit::start_job(&client, home.start_request("msg:new")).await;
    let end = wait_for_end(&client, &next.job_id).await;
    assert_eq!(end.job.map(|j| j.status()), Some(JobStatus::Done));
}

#[tokio::test]
async fn codexd_repair_refuses_while_codexd_runs_and_rebuilds_once_stopped() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let job = testkit::start_job(&client, home.start_request("print:x;exit:4")).await;
    wait_for_end(&client, &job.job_id).await;

    let refused = codexd(&home, &["repair"]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("codexd stop"),
        "says how to stop it: {}",
        text(&refused)
    );
    assert!(home.paths().database().exists(), "nothing moved");
    assert!(corrupt_copies(&home).is_empty());

    stop(daemon);
    corrupt_database(&home);
    let repaired = codexd(&home, &["repair"]);
    let said = text(&repaired);
    assert!(repaired.status.success(), "{said}");
    assert!(
        said.contains("moved it aside") && said.contains("rebuilt 1 jobs"),
        "{said}"
    );
    assert_eq!(corrupt_copies(&home).len(), 1, "{said}");

    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let got = get(&mut client.clone(), &job.job_id).await;
    let got = got.job.expect("job");
    assert_eq!((got.status(), got.exit_code), (JobStatus::Error, Some(4)));
    assert!(
        !daemon_log(&home).contains("is new, but this home had another one"),
        "repair recorded the new database's generation"
    );
}

fn doctor_checks(home: &TempHome) -> Vec<serde_json::Value> {
    let out = codexd(home, &["doctor", "--json"]);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    report["checks"].as_array().cloned().unwrap_or_default()
}

fn check_named<'a>(
    checks: &'a [serde_json::Value],
    name: &str,
    status: &str,
) -> Option<&'a serde_json::Value> {
    checks
        .iter()
        .find(|c| c["name"] == name && c["status"] == status)
}

#[tokio::test]
async fn doctor_flags_folders_without_records_and_says_what_to_run() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let job = testkit::start_job(&client, home.start_request("msg:one")).await;
    wait_for_end(&client, &job.job_id).await;
    stop(daemon);
    let checks = doctor_checks(&home);
    assert!(
        check_named(&checks, "folders", "ok").is_some(),
        "every folder accounted for: {checks:?}"
    );

    // A job whose row is gone (its folder copied under a new id), and a
    // folder that is no job anyone can read.
    let jobs = home.paths().jobs();
    let orphan = "0123456789ab";
    fs::create_dir(jobs.join(orphan)).expect("mkdir");
    let meta = fs::read_to_string(jobs.join(&job.job_id).join("meta.json")).expect("meta");
    fs::write(
        jobs.join(orphan).join("meta.json"),
        meta.replace(&job.job_id, orphan),
    )
    .expect("write meta");
    fs::copy(
        jobs.join(&job.job_id).join("output.txt"),
        jobs.join(orphan).join("output.txt"),
    )
    .expect("copy output");
    let bad = "ba0ba0ba0ba0";
    fs::create_dir(jobs.join(bad)).expect("mkdir");
    fs::write(jobs.join(bad).join("meta.json"), "{ not json").expect("write");
    fs::write(jobs.join(bad).join("output.txt"), "something").expect("write");

    let checks = doctor_checks(&home);
    let missing = check_named(&checks, "folders", "fail")
        .unwrap_or_else(|| panic!("a folder without a row fails: {checks:?}"));
    assert!(
        missing["detail"].as_str().unwrap_or("").contains(orphan)
            && missing["fix"]
                .as_str()
                .unwrap_or("")
                .contains("codexd repair"),
        "{missing}"
    );
    let unreadable = check_named(&checks, "folders", "warn")
        .unwrap_or_else(|| panic!("an unreadable folder warns: {checks:?}"));
    assert!(
        unreadable["detail"].as_str().unwrap_or("").contains(bad),
        "{unreadable}"
    );
    assert!(
        !checks
            .iter()
            .any(|c| c["status"] == "ok" && c["name"] == "folders"),
        "never ok with folders unaccounted for: {checks:?}"
    );

    let repaired = codexd(&home, &["repair", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&repaired.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&repaired)));
    assert_eq!(report["rebuilt"], 1, "{report}");
    assert_eq!(
        report["unreadable"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );

    let checks = doctor_checks(&home);
    assert!(
        check_named(&checks, "folders", "fail").is_none(),
        "{checks:?}"
    );
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let got = get(&mut client.clone(), orphan).await;
    assert_eq!(got.job.map(|j| j.status()), Some(JobStatus::Done));
    // The rebuilt job's summary is folded at the next start, from its output.
    let message = poll_for("the repaired job's final message", || {
        let mut client = client.clone();
        async move {
            get(&mut client, orphan)
                .await
                .summary
                .and_then(|s| s.final_message)
        }
    })
    .await;
    assert_eq!(message, "one");
}
