//! Runs jobs: starts each under its own monitor process, records every status
//! change (database first, then meta.json, then a broadcast), cancels, and at
//! daemon start re-adopts the jobs a previous daemon left running.

use std::{
    ffi::OsString,
    io,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use codex_async_proto::{paths::Paths, v1::JobStatus};
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::broadcast,
};
use tracing::{info, warn};

use crate::{
    config::Config,
    db::{Db, DbError},
    job::{now_rfc3339, JobId, JobRecord},
    jobdir::{ExitInfo, JobDir},
    proctree,
    validate::JobSpec,
};

mod scheduler;

/// How long a monitor may take to report that codex started.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How often an adopted job (not our child) is checked for its end.
const ADOPTED_POLL: Duration = Duration::from_millis(100);
/// How long Cancel waits for the job to end before answering.
pub const CANCEL_WAIT: Duration = Duration::from_secs(15);

/// Why a supervisor operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("job folder {path}: {source}")]
    JobDir { path: PathBuf, source: io::Error },
    #[error("job {0} vanished from the database")]
    Vanished(String),
}

/// The job runner, shared by every request.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    paths: Paths,
    config: Config,
    scheduler: scheduler::Scheduler,
    /// The id of every job whose record changed.
    changes: broadcast::Sender<String>,
}

/// What Cancel did.
pub struct CancelOutcome {
    pub job: JobRecord,
    pub cancelled: bool,
    pub message: String,
}

impl Supervisor {
    pub fn new(db: Db, paths: Paths, config: Config) -> Self {
        let (changes, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Inner {
                db,
                paths,
                scheduler: scheduler::Scheduler::new(config.max_jobs),
                config,
                changes,
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn paths(&self) -> &Paths {
        &self.inner.paths
    }

    /// The folder of a job.
    pub fn job_dir(&self, id: &JobId) -> JobDir {
        JobDir::new(&self.inner.paths.jobs(), id)
    }

    /// Subscribes to job changes (the id of each job whose record changed).
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.inner.changes.subscribe()
    }

    /// Records a new job as queued and starts it if a run slot is free; returns
    /// once codex runs (or failed to start), or at once if the job waits.
    pub async fn start(&self, spec: JobSpec) -> Result<JobRecord, SupervisorError> {
        let id = JobId::generate();
        let dir = self.job_dir(&id);
        dir.create().map_err(|source| SupervisorError::JobDir {
            path: dir.path().to_path_buf(),
            source,
        })?;
        let record = JobRecord {
            job_id: id.to_string(),
            status: JobStatus::Queued,
            prompt: spec.prompt,
            cwd: spec.cwd.display().to_string(),
            approval_policy: spec.policy.name().to_string(),
            model: spec.model,
            pid: None,
            monitor_pid: None,
            monitor_start_time: None,
            exit_code: None,
            error: None,
            created_at: now_rfc3339(),
            started_at: None,
            finished_at: None,
        };
        if let Err(e) = self.inner.db.insert(&record).await {
            let _ = std::fs::remove_dir_all(dir.path());
            return Err(e.into());
        }
        self.mirror(&id, &record);
        info!(job_id = %id, policy = %record.approval_policy, cwd = %record.cwd, "job queued");
        self.schedule().await?;
        self.load(&id).await
    }

    /// Starts the monitor (and through it codex) for a queued job.
    async fn launch(&self, id: &JobId, job: &JobRecord) -> Result<(), SupervisorError> {
        let dir = self.job_dir(id);
        let mut child = match self.spawn_monitor(&dir, job) {
            Ok(child) => child,
            Err(e) => {
                let reason = format!("cannot start the job monitor: {e}");
                return self
                    .record_end(id, JobStatus::Error, None, Some(&reason))
                    .await;
            }
        };
        let monitor_pid = child.id().map(|p| p as i32);
        let first_line = read_first_line(&mut child).await;
        match (first_line, monitor_pid) {
            (Some(line), Some(monitor_pid)) if line.starts_with("started ") => {
                let pid = line["started ".len()..].trim().parse::<i32>().ok();
                let start_time = proctree::start_time(monitor_pid);
                let started_at = now_rfc3339();
                let changed = self
                    .inner
                    .db
                    .set_running(
                        id.as_str(),
                        pid.unwrap_or(0),
                        monitor_pid,
                        start_time,
                        &started_at,
                    )
                    .await?;
                if changed {
                    info!(job_id = %id, pid = pid.unwrap_or(0), monitor_pid, "job running");
                    self.refresh(id).await?;
                } else {
                    // Cancelled while it was starting: the monitor stops codex.
                    let _ = kill(Pid::from_raw(monitor_pid), Signal::SIGTERM);
                }
                self.watch_child(id.clone(), child);
                Ok(())
            }
            (first_line, _) => {
                // "failed …", or the monitor died before saying anything.
                let _ = child.wait().await;
                let reason = match first_line {
                    Some(line) if line.starts_with("failed ") => {
                        line["failed ".len()..].to_string()
                    }
                    _ => format!(
                        "the job monitor exited before codex started; see {}",
                        dir.monitor_log().display()
                    ),
                };
                self.finish_from_exit_file(id, Some(reason)).await
            }
        }
    }

    fn spawn_monitor(&self, dir: &JobDir, job: &JobRecord) -> io::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.monitor_log())?;
        let mut cmd = Command::new(self_exe());
        cmd.arg("monitor")
            .arg("--job-dir")
            .arg(dir.path())
            .arg("--output-cap")
            .arg(self.inner.config.output_cap.to_string())
            .arg("--")
            .args(self.codex_argv(job))
            .current_dir(&job.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(false);
        // SAFETY: setsid is async-signal-safe; it puts the monitor in its own
        // session so it outlives codexd and never gets codexd's terminal signals.
        unsafe {
            cmd.pre_exec(|| nix::unistd::setsid().map(drop).map_err(io::Error::from));
        }
        cmd.spawn()
    }

    /// `codex exec --json --skip-git-repo-check [policy] [--model M] -C <cwd> -- <prompt>`.
    /// The `--` keeps a prompt that starts with `-` a prompt.
    fn codex_argv(&self, job: &JobRecord) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![
            self.inner.config.codex_bin.clone(),
            "exec".into(),
            "--json".into(),
            "--skip-git-repo-check".into(),
        ];
        let policy =
            crate::job::Policy::parse(&job.approval_policy).unwrap_or(crate::job::Policy::Suggest);
        argv.extend(policy.codex_flags().iter().map(OsString::from));
        if let Some(model) = &job.model {
            argv.push("--model".into());
            argv.push(model.into());
        }
        argv.push("-C".into());
        argv.push(job.cwd.clone().into());
        argv.push("--".into());
        argv.push(job.prompt.clone().into());
        argv
    }

    /// Waits for our own monitor child, then records how the job ended.
    fn watch_child(&self, id: JobId, mut child: Child) {
        let this = self.clone();
        tokio::spawn(async move {
            let _ = child.wait().await;
            if let Err(e) = this.finish_from_exit_file(&id, None).await {
                warn!(job_id = %id, error = %e, "cannot record the job's end");
            }
        });
    }

    /// Follows a monitor started by an earlier daemon until it exits.
    fn watch_adopted(&self, id: JobId, monitor_pid: i32, start_time: Option<i64>) {
        let this = self.clone();
        let exit_file = self.job_dir(&id).exit();
        tokio::spawn(async move {
            while proctree::is_same_process_alive(monitor_pid, start_time) && !exit_file.exists() {
                tokio::time::sleep(ADOPTED_POLL).await;
            }
            // The monitor writes exit.json and then exits; give it that moment.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while proctree::is_same_process_alive(monitor_pid, start_time)
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if let Err(e) = this.finish_from_exit_file(&id, None).await {
                warn!(job_id = %id, error = %e, "cannot record the job's end");
            }
        });
    }

    /// Records a job's end from the monitor's exit.json; without one the job was lost.
    async fn finish_from_exit_file(
        &self,
        id: &JobId,
        fallback_reason: Option<String>,
    ) -> Result<(), SupervisorError> {
        let dir = self.job_dir(id);
        let (status, code, reason) = match dir.read_exit() {
            Some(exit) => outcome(&exit),
            None => (
                JobStatus::Error,
                None,
                Some(fallback_reason.unwrap_or_else(|| lost_reason(&dir))),
            ),
        };
        self.record_end(id, status, code, reason.as_deref()).await
    }

    async fn record_end(
        &self,
        id: &JobId,
        status: JobStatus,
        exit_code: Option<i32>,
        reason: Option<&str>,
    ) -> Result<(), SupervisorError> {
        let changed = self
            .inner
            .db
            .finish(id.as_str(), status, exit_code, reason, &now_rfc3339())
            .await?;
        if changed {
            info!(job_id = %id, status = %status, exit_code, reason, "job ended");
            self.refresh(id).await?;
            // A slot may have freed.
            self.kick();
        }
        Ok(())
    }

    /// Cancels a job: stops codex and everything it started, and waits (up to
    /// [`CANCEL_WAIT`]) for the job to end. A finished job is left as it is.
    pub async fn cancel(&self, id: &JobId) -> Result<Option<CancelOutcome>, SupervisorError> {
        let mut changes = self.subscribe();
        let Some(job) = self.inner.db.get(id.as_str()).await? else {
            return Ok(None);
        };
        if job.status.is_terminal() {
            let message = format!(
                "job {id} had already finished ({}); nothing was changed",
                job.status
            );
            return Ok(Some(CancelOutcome {
                job,
                cancelled: false,
                message,
            }));
        }
        match job.monitor_pid {
            Some(monitor) if proctree::is_same_process_alive(monitor, job.monitor_start_time) => {
                info!(job_id = %id, monitor_pid = monitor, "cancelling job");
                let _ = kill(Pid::from_raw(monitor), Signal::SIGTERM);
            }
            _ => {
                // Not started (or its monitor is gone): nothing runs, record it.
                self.cancel_unstarted(id).await?;
            }
        }
        let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
        loop {
            let job = self.load(id).await?;
            if job.status.is_terminal() {
                let cancelled = job.status == JobStatus::Cancelled;
                let message = if cancelled {
                    format!(
                        "job {id} was cancelled; codex and every process it started were stopped"
                    )
                } else {
                    format!(
                        "job {id} finished ({}) before the cancel took effect",
                        job.status
                    )
                };
                return Ok(Some(CancelOutcome {
                    job,
                    cancelled,
                    message,
                }));
            }
            let wait = tokio::time::timeout_at(deadline, changes.recv()).await;
            if wait.is_err() {
                let message = format!(
                    "job {id} is still stopping after {}s; poll it to see it end",
                    CANCEL_WAIT.as_secs()
                );
                return Ok(Some(CancelOutcome {
                    job,
                    cancelled: true,
                    message,
                }));
            }
        }
    }

    /// At daemon start: settle every job an earlier daemon left queued or running.
    pub async fn reconcile(&self) -> Result<(), SupervisorError> {
        let unfinished = self.inner.db.unfinished().await?;
        self.await_interrupted_launches(&unfinished).await;
        for job in unfinished {
            let Ok(id) = JobId::parse(&job.job_id) else {
                warn!(job_id = %job.job_id, "malformed job id in the database; skipped");
                continue;
            };
            let dir = self.job_dir(&id);
            if dir.read_exit().is_some() {
                self.finish_from_exit_file(&id, None).await?;
                continue;
            }
            let monitor = dir.read_monitor_info();
            let (monitor_pid, start_time) = match (&monitor, job.monitor_pid) {
                (Some(m), _) => (Some(m.monitor_pid), m.monitor_start_time),
                (None, Some(pid)) => (Some(pid), job.monitor_start_time),
                (None, None) => (None, None),
            };
            match monitor_pid {
                Some(pid) if proctree::is_same_process_alive(pid, start_time) => {
                    if job.status == JobStatus::Queued {
                        if let Some(m) = &monitor {
                            self.inner
                                .db
                                .set_running(
                                    id.as_str(),
                                    m.codex_pid,
                                    pid,
                                    start_time,
                                    &m.started_at,
                                )
                                .await?;
                            self.refresh(&id).await?;
                        }
                    }
                    info!(job_id = %id, monitor_pid = pid, "re-adopted running job");
                    self.watch_adopted(id, pid, start_time);
                }
                None if job.status == JobStatus::Queued => {
                    // Started below, in queue order, once re-adopted jobs hold their slots.
                }
                _ => {
                    self.finish_from_exit_file(&id, None).await?;
                }
            }
        }
        self.open_queue().await
    }

    /// Loads a job that must exist.
    pub async fn load(&self, id: &JobId) -> Result<JobRecord, SupervisorError> {
        self.inner
            .db
            .get(id.as_str())
            .await?
            .ok_or_else(|| SupervisorError::Vanished(id.to_string()))
    }

    /// After a database change: rewrite meta.json and tell watchers.
    async fn refresh(&self, id: &JobId) -> Result<(), SupervisorError> {
        let job = self.load(id).await?;
        self.mirror(id, &job);
        Ok(())
    }

    fn mirror(&self, id: &JobId, job: &JobRecord) {
        if let Err(e) = self.job_dir(id).write_meta(job) {
            warn!(job_id = %id, error = %e, "cannot write meta.json");
        }
        let _ = self.inner.changes.send(id.to_string());
    }
}

/// Why a job whose monitor vanished is `error`; kills what the monitor left
/// running, since nothing else would ever stop it.
fn lost_reason(dir: &JobDir) -> String {
    let reason = "lost: the job's monitor ended without recording codex's exit status";
    match dir.read_monitor_info() {
        Some(m) if proctree::kill_orphaned_job(m.codex_pid, m.codex_start_time) => {
            warn!(
                codex_pid = m.codex_pid,
                "killed the processes of a job whose monitor died"
            );
            format!(
                "{reason}; codex (pid {}) and its processes were killed",
                m.codex_pid
            )
        }
        _ => reason.to_string(),
    }
}

/// Status, exit code and reason from a monitor's exit record.
fn outcome(exit: &ExitInfo) -> (JobStatus, Option<i32>, Option<String>) {
    if let Some(reason) = &exit.spawn_error {
        return (JobStatus::Error, None, Some(reason.clone()));
    }
    if exit.cancelled {
        return (
            JobStatus::Cancelled,
            exit.exit_code,
            Some("cancelled by request".into()),
        );
    }
    match (exit.exit_code, exit.signal) {
        (Some(0), _) => (JobStatus::Done, Some(0), None),
        (Some(code), _) => (
            JobStatus::Error,
            Some(code),
            Some(format!(
                "codex exited with code {code}; see the output for why"
            )),
        ),
        (None, Some(sig)) => (
            JobStatus::Error,
            None,
            Some(format!("codex was killed by signal {sig}")),
        ),
        (None, None) => (
            JobStatus::Error,
            None,
            Some("codex ended with an unknown status".into()),
        ),
    }
}

/// The monitor's first line on stdout, if it says one in time.
async fn read_first_line(child: &mut Child) -> Option<String> {
    let stdout = child.stdout.take()?;
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    let read = reader.read_line(&mut line);
    match tokio::time::timeout(START_TIMEOUT, read).await {
        Ok(Ok(n)) if n > 0 => Some(line.trim_end().to_string()),
        _ => None,
    }
}

/// This executable, to run as `codexd monitor`. /proc/self/exe still works
/// after the binary on disk was replaced by an upgrade.
fn self_exe() -> PathBuf {
    let proc_exe = Path::new("/proc/self/exe");
    if proc_exe.exists() {
        return proc_exe.to_path_buf();
    }
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("codexd"))
}
