//! Runs jobs: starts each under its own monitor process, records every status
//! change (database first, then meta.json, then a broadcast), cancels, and at
//! daemon start re-adopts the jobs a previous daemon left running. How a job
//! ends (and what happens to a worktree job's branch then) is in
//! `supervisor/ending.rs`, the start-up settling in `supervisor/reconcile.rs`.

use std::{
    collections::HashMap,
    io,
    path::{Path, PathBuf},
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
    process::Child,
    sync::broadcast,
};
use tracing::{info, warn};

use crate::{
    api::validate::JobSpec,
    config::Config,
    engine,
    job::events::Summary,
    job::{now_rfc3339, Isolation, JobId, JobRecord},
    monitor::{Limits, MonitorJob},
    store::db::{Db, DbError},
    store::jobdir::JobDir,
    sys::proctree,
    sys::resource,
    worktree::{self, WorktreeError},
};

mod answer;
mod catch_up;
mod ending;
mod reconcile;
mod scheduler;
mod standby;
mod steer;
mod summary;

/// How long a monitor may take to report that codex started.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long after a launch the next standby monitor is started.
const STANDBY_REFILL_DELAY: Duration = Duration::from_millis(10);
/// How long Cancel waits for the job to end before answering.
pub const CANCEL_WAIT: Duration = Duration::from_secs(15);

/// Tells `job`'s monitor, if it is the one recorded and still alive, to read
/// now what codexd left in the job's folder (an answer, a steering): SIGUSR1.
/// Without it the monitor finds the note at its next look, within a second.
fn wake_monitor(job: &JobRecord) {
    if let Some(monitor) = job
        .monitor_pid
        .filter(|m| proctree::is_same_process_alive(*m, job.monitor_start_time))
    {
        let _ = kill(Pid::from_raw(monitor), Signal::SIGUSR1);
    }
}

/// Why a supervisor operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("job folder {path}: {source}")]
    JobDir { path: PathBuf, source: io::Error },
    #[error("job {0} vanished from the database")]
    Vanished(String),
    /// Bad input found only with the database at hand (the text names the field).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// The request is fine but the job is not in a state that allows it.
    #[error("{0}")]
    Precondition(String),
    #[error("{0}")]
    Worktree(String),
    /// A resource ran out (disk, descriptors, processes): the text names it
    /// and the fix.
    #[error("{0}")]
    Exhausted(String),
    #[error("background task failed: {0}")]
    Task(String),
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
    standby: standby::Standby,
    /// The id of every job whose record changed.
    changes: broadcast::Sender<String>,
    /// One lock per job whose summary is being folded, so two folds never
    /// apply the same events twice.
    summary_locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// One lock per worktree (by branch) being committed to.
    worktree_locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Jobs whose meta.json could not be written (retried by `catch_up`).
    meta_behind: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Held while a steering takes its number and writes its note, so two
    /// Steers at once never take the same `steer/<n>`.
    steering: tokio::sync::Mutex<()>,
}

/// A job whose monitor has started codex: its running record, and the
/// monitor to wait for.
struct Launched {
    record: JobRecord,
    monitor: Child,
}

/// A job given to its monitor and recorded as running, before the monitor
/// has said whether codex started.
struct Handed {
    record: JobRecord,
    monitor: Child,
}

pub use answer::AnswerOutcome;

/// What Cancel did.
pub struct CancelOutcome {
    pub job: JobRecord,
    pub cancelled: bool,
    pub message: String,
}

impl Supervisor {
    pub fn new(db: Db, paths: Paths, config: Config) -> Self {
        let (changes, _) = broadcast::channel(1024);
        let supervisor = Self {
            inner: Arc::new(Inner {
                db,
                paths,
                scheduler: scheduler::Scheduler::new(config.max_jobs),
                standby: standby::Standby::default(),
                config,
                changes,
                summary_locks: std::sync::Mutex::new(HashMap::new()),
                worktree_locks: std::sync::Mutex::new(HashMap::new()),
                meta_behind: std::sync::Mutex::default(),
                steering: tokio::sync::Mutex::default(),
            }),
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(supervisor.clone().catch_up());
        }
        supervisor
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The settings the daemon started with.
    pub fn config(&self) -> &Config {
        &self.inner.config
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

    /// Records a new job (or a reply continuing a finished one) as queued and
    /// starts it if a run slot is free; returns once codex runs (or failed to
    /// start), or at once if the job waits.
    pub async fn start(&self, spec: JobSpec) -> Result<JobRecord, SupervisorError> {
        let parent = match &spec.reply_to {
            Some(parent_id) => Some(self.reply_parent(parent_id).await?),
            None => None,
        };
        let cwd = match (&spec.cwd, &parent) {
            (Some(cwd), _) => cwd.display().to_string(),
            (None, Some(p)) => p.cwd.clone(),
            (None, None) => {
                return Err(SupervisorError::Invalid(
                    "cwd: required; pass the absolute path of the project directory the agent should work in".into(),
                ))
            }
        };
        let policy = spec
            .policy
            .or_else(|| parent.as_ref().map(|p| p.approval_policy))
            .unwrap_or(self.inner.config.default_policy);
        let model = spec
            .model
            .or_else(|| parent.as_ref().and_then(|p| p.model.clone()))
            .or_else(|| self.inner.config.default_model.clone());

        // A reply continues its parent's conversation, which only the
        // parent's agent holds.
        let agent = match (spec.agent, &parent) {
            (Some(asked), Some(p)) if asked != p.agent => {
                return Err(SupervisorError::Invalid(format!(
                    "agent: job {} ran {}, and a reply continues its conversation there; leave agent out",
                    p.job_id, p.agent
                )))
            }
            (_, Some(p)) => p.agent,
            (Some(asked), None) => asked,
            (None, None) => crate::engine::agent::DEFAULT,
        };
        let reasoning_effort = spec
            .reasoning_effort
            .map(str::to_string)
            .or_else(|| parent.as_ref().and_then(|p| p.reasoning_effort.clone()))
            .or_else(|| {
                // codexd's default effort is codex's setting: it goes only
                // to an agent that takes one.
                engine::takes_reasoning_effort(agent)
                    .then(|| self.inner.config.default_reasoning_effort.clone())
                    .flatten()
            });
        // An agent that is not installed: the Start's error, with nothing
        // recorded (a queued job whose agent goes missing later ends with the
        // same words when its turn comes: launch).
        if let Some(why) = engine::not_installed(&self.inner.config, agent) {
            return Err(SupervisorError::Precondition(why));
        }
        if let Some(why) = engine::refusal(
            agent,
            policy,
            reasoning_effort.is_some(),
            spec.output_schema.is_some(),
        ) {
            return Err(SupervisorError::Invalid(why));
        }
        // A review's target is resolved against the repository before
        // anything is created: a bad one is the caller's error, and `auto`
        // is pinned to what it chose.
        let review = match &spec.review {
            Some(requested) => Some(
                engine::review_target(requested, Path::new(&cwd), &crate::job::review::ARGUMENTS)
                    .await
                    .map_err(SupervisorError::Invalid)?,
            ),
            None => None,
        };
        let prompt = match &review {
            Some(r) if r.target != crate::job::review::Target::Instructions => r.target.prompt(),
            _ => spec.prompt,
        };

        let id = JobId::generate();
        let dir = self.job_dir(&id);
        let created = dir
            .create(&prompt)
            .and_then(|()| match &spec.output_schema {
                Some(schema) => {
                    let path = dir.path().join(crate::job::schema::SCHEMA_FILE);
                    std::fs::write(&path, schema).map(|()| Some(path.display().to_string()))
                }
                None => Ok(None),
            });
        let output_schema = match created {
            Ok(path) => path,
            Err(source) => {
                // Nothing half-made stays behind (the folder may exist already).
                dir.discard_new();
                return Err(match resource::exhausted(&source, &self.inner.paths.home) {
                    Some(message) => SupervisorError::Exhausted(message),
                    None => SupervisorError::JobDir {
                        path: dir.path().to_path_buf(),
                        source,
                    },
                });
            }
        };
        let (isolation, branch, worktree, worktree_note) = match (&parent, spec.isolation) {
            // A reply works where its parent worked, on the same branch.
            (Some(p), _) => (p.isolation, p.branch.clone(), p.worktree.clone(), None),
            (None, Isolation::Worktree) => {
                match worktree::create(Path::new(&cwd), dir.path(), &id, agent).await {
                    Ok(tree) => (
                        Isolation::Worktree,
                        Some(tree.branch),
                        Some(tree.run_dir.display().to_string()),
                        tree.note,
                    ),
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(dir.path());
                        return Err(match e {
                            WorktreeError::NotARepo(_) => SupervisorError::Invalid(e.to_string()),
                            WorktreeError::Git(_) => SupervisorError::Worktree(e.to_string()),
                        });
                    }
                }
            }
            (None, Isolation::None) => (Isolation::None, None, None, None),
        };
        let record = JobRecord {
            job_id: id.clone(),
            status: JobStatus::Queued,
            prompt,
            cwd,
            approval_policy: policy,
            model,
            pid: None,
            monitor_pid: None,
            monitor_start_time: None,
            exit_code: None,
            error: None,
            created_at: now_rfc3339(),
            started_at: None,
            finished_at: None,
            thread_id: parent.as_ref().and_then(|p| p.thread_id.clone()),
            parent_job_id: parent.as_ref().map(|p| p.job_id.to_string()),
            isolation,
            branch,
            worktree,
            diffstat: None,
            stall_timeout: spec
                .stall_timeout
                .unwrap_or(self.inner.config.stall_timeout),
            max_duration: spec.max_duration.unwrap_or(self.inner.config.max_duration),
            summary: Summary::default(),
            events_offset: 0,
            output_note: None,
            reasoning_effort,
            review,
            output_schema,
            worktree_note,
            commit_note: None,
            run_ms: None,
            agent,
        };
        if let Err(e) = self.inner.db.insert(&record).await {
            // Nothing may outlive a Start that failed: not its worktree and
            // branch (only for a new job: a reply's belong to its parent).
            if parent.is_none() {
                if let Some(branch) = &record.branch {
                    if let Err(e) = worktree::discard_unused(dir.path(), branch).await {
                        warn!(job_id = %id, error = %e, "cannot remove the worktree of a failed start");
                    }
                }
            }
            let _ = std::fs::remove_dir_all(dir.path());
            return Err(match resource::db_exhausted(&e, &self.inner.paths.home) {
                Some(message) => SupervisorError::Exhausted(message),
                None => e.into(),
            });
        }
        if parent.is_none() && record.isolation == Isolation::Worktree {
            worktree::recorded(dir.path());
        }
        // No meta.json yet: the scheduler writes it once it knows whether the
        // job runs, always before the Start is answered (launch writes it
        // before the monitor starts; a job left waiting gets it when its
        // pass ends). A crash before that leaves a Start nobody was answered
        // for: the start-up repair rewrites meta.json from the row, and with
        // the row lost too, the folder is an unrecorded Start and goes.
        info!(job_id = %id, policy = record.approval_policy.name(), cwd = %record.cwd,
              parent = record.parent_job_id.as_deref().unwrap_or(""), "job queued");
        match self.schedule_for(&id).await? {
            Some(running) => Ok(running),
            // Waiting for a run slot, or it ended at once (codex missing…).
            None => match self.load(&id).await {
                Ok(job) => Ok(job),
                // Recorded, and started once the database answers again.
                Err(SupervisorError::Db(e)) if e.is_transient() => {
                    warn!(job_id = %id, error = %e, "cannot read a new job back; answering with it as recorded");
                    Ok(record)
                }
                Err(e) => Err(e),
            },
        }
    }

    /// The job a reply continues: it must have ended and have a codex thread.
    async fn reply_parent(&self, parent_id: &JobId) -> Result<JobRecord, SupervisorError> {
        let parent = self
            .inner
            .db
            .get(parent_id.as_str())
            .await?
            .ok_or_else(|| {
                SupervisorError::NotFound(format!(
                    "reply_to: no job {parent_id}; list jobs with codex_list"
                ))
            })?;
        if !parent.status.is_terminal() {
            return Err(SupervisorError::Precondition(format!(
                "reply_to: job {parent_id} is still {}; wait for it to finish (codex_wait) before replying, or, while it runs, steer it: send the prompt alone (codex_reply with only job_id and prompt; codexd steer {parent_id} TEXT)",
                parent.status
            )));
        }
        if parent.thread_id.is_none() {
            return Err(SupervisorError::Precondition(format!(
                "reply_to: job {parent_id} has no {agent} conversation to continue ({agent} never started a thread: {}); start a new job instead",
                parent.error.as_deref().unwrap_or("no thread id in its output"),
                agent = parent.agent
            )));
        }
        if let (Some(tree), Some(branch)) = (parent.worktree.as_deref(), parent.branch.as_deref()) {
            if !Path::new(tree).exists() {
                let root = worktree::owner_of(branch)
                    .map(|owner| worktree::tree_in(self.job_dir(&owner).path()))
                    .unwrap_or_else(|| PathBuf::from(tree));
                return Err(SupervisorError::Precondition(format!(
                    "reply_to: job {parent_id}'s worktree {tree} no longer exists; its work is on branch {branch}: re-create the worktree with `git -C {} worktree add {} {branch}` and reply again, or merge {branch} and start a new job",
                    parent.cwd,
                    root.display()
                )));
            }
        }
        Ok(parent)
    }

    /// Hands a queued job to a monitor and records it as running; returns
    /// the job's record then (codex's pid still unknown: the monitor is
    /// starting it), or None if it could not start (the job has ended then),
    /// or [`SupervisorError::Exhausted`] when no process could be made for it
    /// (the job is still queued). The Start is answered with this record:
    /// the job is recorded, its meta.json written and its monitor owns it,
    /// so waiting for codex's spawn would only add the monitor's wake-up and
    /// report to every Start (BENCHMARKS.md, figures 2c and 2d). The caller
    /// then calls [`Self::confirm`], still in its scheduling pass, so a
    /// cancel waits until the monitor has said whether codex runs.
    async fn launch(&self, id: &JobId, job: &JobRecord) -> Result<Option<Handed>, SupervisorError> {
        let dir = self.job_dir(id);
        // A missing agent ends the job here (the monitor would find it only
        // after the Start was answered).
        if let Some(reason) = engine::not_installed(&self.inner.config, job.agent) {
            self.record_end(id, JobStatus::Error, None, Some(&reason))
                .await?;
            return Ok(None);
        }
        // meta.json before the monitor: once a monitor runs, the Start is
        // answered before announce_running mirrors the record, and a codexd
        // killed in between with its database lost too would leave a folder
        // rebuild cannot read (a running codex nobody could see). One small
        // rename-atomic write, not fsynced: a later mirror overwrites it.
        // A failure is no reason to refuse the job: announce_running writes
        // it again (and retries).
        if let Err(e) = dir.write_meta(job) {
            warn!(job_id = %id, error = %e, "cannot write meta.json before starting the monitor");
        }
        let mut child = match self.hand_over(&dir, job).await {
            Ok(child) => child,
            Err(e) => {
                if let Some(why) = resource::exhausted(&e, &self.inner.paths.home) {
                    // Nothing started: the job is still only queued (and no
                    // monitor is starting it, whatever monitor.log says).
                    let _ = std::fs::remove_file(dir.monitor_log());
                    return Err(SupervisorError::Exhausted(why));
                }
                let reason = format!("cannot start the job monitor: {e}");
                self.record_end(id, JobStatus::Error, None, Some(&reason))
                    .await?;
                return Ok(None);
            }
        };
        let Some(monitor_pid) = child.id().map(|p| p as i32) else {
            // Already reaped: it died before it could take the job.
            let reason = format!("the job monitor exited before {} started", job.agent);
            self.finish_from_exit_file(id, Some(reason)).await?;
            return Ok(None);
        };
        // The monitor owns the job from now on: record it as running while
        // the monitor starts codex; codex's pid follows (confirm).
        let start_time = proctree::start_time(monitor_pid);
        let started_at = now_rfc3339();
        let marked = match self
            .inner
            .db
            .set_running(id.as_str(), monitor_pid, start_time, &started_at)
            .await
        {
            Ok(marked) => marked,
            Err(e) => {
                // The monitor runs the job whatever the database says: it
                // is followed (its end recorded) like any other.
                self.watch_child(id.clone(), child);
                return Err(e.into());
            }
        };
        if !marked {
            // Cancelled while it was starting: the monitor stops codex. Its
            // first line first, so SIGTERM finds its handlers in place.
            let _ = read_first_line(&mut child).await;
            let _ = kill(Pid::from_raw(monitor_pid), Signal::SIGTERM);
            self.watch_child(id.clone(), child);
            return Ok(None);
        }
        Ok(Some(Handed {
            record: JobRecord {
                status: JobStatus::Running,
                pid: None,
                monitor_pid: Some(monitor_pid),
                monitor_start_time: start_time,
                started_at: Some(started_at),
                ..job.clone()
            },
            monitor: child,
        }))
    }

    /// The monitor's word on a job [`Self::launch`] handed to it: the job's
    /// record with codex's pid once codex runs (the caller then calls
    /// [`Self::announce_running`]), or None if codex could not start (the
    /// job has ended then).
    async fn confirm(
        &self,
        id: &JobId,
        handed: Handed,
    ) -> Result<Option<Launched>, SupervisorError> {
        let Handed {
            record,
            monitor: mut child,
        } = handed;
        let report = read_first_line(&mut child)
            .await
            .as_deref()
            .and_then(crate::monitor::Report::parse);
        match report {
            Some(crate::monitor::Report::Started(pid)) => {
                info!(job_id = %id, pid, monitor_pid = record.monitor_pid, "job running");
                Ok(Some(Launched {
                    record: JobRecord {
                        pid: Some(pid),
                        ..record
                    },
                    monitor: child,
                }))
            }
            report => {
                // It could not start codex, or died before saying anything.
                let _ = child.wait().await;
                let reason = match report {
                    Some(crate::monitor::Report::Failed(reason)) => reason,
                    _ => format!(
                        "the job monitor exited before {} started; see {}",
                        record.agent,
                        self.job_dir(id).monitor_log().display()
                    ),
                };
                self.finish_from_exit_file(id, Some(reason)).await?;
                Ok(None)
            }
        }
    }

    /// The rest of a launch, once the Start that asked for it has its answer:
    /// meta.json, watchers, the summary follower, and a new standby monitor.
    async fn announce_running(&self, id: &JobId, launched: Launched) {
        let Launched { record, monitor } = launched;
        if let Some(pid) = record.pid {
            if let Err(e) = self.inner.db.set_pid(id.as_str(), pid).await {
                warn!(job_id = %id, error = %e, "cannot record codex's pid");
            }
        }
        self.mirror(id, &record);
        self.follow_events(id.clone());
        // Only now: the job's end (which can come at once) must be recorded
        // after the running state above, never before it.
        self.watch_child(id.clone(), monitor);
        self.refill_standby();
    }

    /// Starts a standby monitor in the background if none is waiting.
    fn refill_standby(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            // Out of the way of the Start being answered and of codex
            // starting: loading a process costs a few ms of CPU.
            tokio::time::sleep(STANDBY_REFILL_DELAY).await;
            let _ =
                tokio::task::spawn_blocking(move || this.inner.standby.refill(&self_exe())).await;
        });
    }

    /// Gives the job to a monitor. monitor.log is created first: it tells a
    /// later daemon that a monitor may be starting this job (reconcile).
    async fn hand_over(&self, dir: &JobDir, job: &JobRecord) -> io::Result<Child> {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.monitor_log())?;
        let monitor_job = self.monitor_job(dir, job);
        self.inner
            .standby
            .hand_over(&self_exe(), &monitor_job)
            .await
    }

    /// What a monitor is given to run `job`: the same folder, limits and
    /// watchdogs for every agent; per agent its command line, how its output
    /// is read (codex's app-server protocol, or a stream the monitor
    /// translates) and the environment its engine sets.
    fn monitor_job(&self, dir: &JobDir, job: &JobRecord) -> MonitorJob {
        let config = &self.inner.config;
        // An agent whose questions come through a relay (codex's come in
        // its app-server plan): how long each may wait.
        let questions = engine::relays_questions(job.agent, job.approval_policy)
            .then_some(config.question_timeout);
        let engine::Launch {
            argv,
            session: app_server,
            stream,
            env,
        } = engine::launch(config, job, dir.path());
        MonitorJob {
            job_dir: dir.path().to_path_buf(),
            run_dir: Some(PathBuf::from(job.run_dir())),
            limits: Limits {
                stall_timeout: job.stall_timeout,
                max_duration: job.max_duration,
                output_cap: config.output_cap,
            },
            argv,
            app_server,
            stream,
            env,
            agent: job.agent,
            questions,
        }
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
            // Only once codex's pid is recorded: before that the monitor may
            // be one that was just started and has no signal handlers yet
            // (SIGTERM would kill it outright, and the job would be lost).
            Some(monitor)
                if job.pid.is_some()
                    && proctree::is_same_process_alive(monitor, job.monitor_start_time) =>
            {
                info!(job_id = %id, monitor_pid = monitor, "cancelling job");
                let _ = kill(Pid::from_raw(monitor), Signal::SIGTERM);
            }
            _ => {
                // Not started, starting (this waits for the launch to end),
                // or its monitor is gone.
                self.cancel_unstarted(id).await?;
            }
        }
        let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
        loop {
            let job = self.load(id).await?;
            if job.status.is_terminal() {
                let cancelled = job.status == JobStatus::Cancelled;
                let message = if cancelled && !ending::agent_ran(&self.job_dir(id)) {
                    format!(
                        "job {id} was cancelled before it started; {} never ran",
                        job.agent
                    )
                } else if cancelled {
                    format!(
                        "job {id} was cancelled; {} and every process it started were stopped",
                        job.agent
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
            warn!(job_id = %id, error = %e, "cannot write meta.json; retrying until it can be");
            self.meta_behind(id);
        }
        let _ = self.inner.changes.send(id.to_string());
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
