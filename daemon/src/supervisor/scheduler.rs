//! The run-slot scheduler: at most `max_jobs` jobs run at once, the rest wait
//! as `queued` and start oldest first (by `seq`), also across daemon restarts,
//! because the queue is the database itself.
//!
//! Every decision that starts a job or cancels a queued one is taken under one
//! lock, so two jobs ending at once cannot both see the same free slot, and a
//! cancel cannot slip between "picked" and "started".

use codex_async_proto::v1::JobStatus;
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};
use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use tokio::sync::{oneshot, Mutex};
use tracing::{info, warn};

use super::{Supervisor, SupervisorError};
use crate::{
    job::{JobId, JobRecord},
    sys::proctree,
};

/// How long reconcile waits for a monitor that an earlier daemon was starting
/// when it died to say whether codex runs.
const INTERRUPTED_LAUNCH_WAIT: Duration = Duration::from_secs(5);

/// How soon the queue is tried again after a resource ran out.
const RETRY_QUEUE_AFTER: Duration = Duration::from_secs(2);

/// The scheduler's state: the limit and the lock that serializes decisions.
pub(super) struct Scheduler {
    max_jobs: u64,
    turn: Mutex<()>,
    /// False until reconcile has settled every job an earlier daemon left: a
    /// job ending during reconcile must not start a queued job whose monitor
    /// reconcile has yet to find (it would run twice).
    open: AtomicBool,
    /// A pass is due shortly (see `retry_queue_later`).
    retry_armed: AtomicBool,
}

impl Scheduler {
    pub(super) fn new(max_jobs: usize) -> Self {
        Self {
            max_jobs: u64::try_from(max_jobs.max(1)).unwrap_or(u64::MAX),
            turn: Mutex::new(()),
            open: AtomicBool::new(false),
            retry_armed: AtomicBool::new(false),
        }
    }
}

impl Supervisor {
    /// Starts queued jobs, oldest first, while run slots are free.
    ///
    /// Runs in its own task: a Start whose client hangs up must not drop this
    /// future between spawning a monitor and recording it, or the job would
    /// run twice.
    pub(super) async fn schedule(&self) -> Result<(), SupervisorError> {
        let this = self.clone();
        match tokio::spawn(async move { this.schedule_now(&mut None).await }).await {
            Ok(result) => result,
            Err(e) => {
                warn!(error = %e, "the scheduler task failed");
                Ok(())
            }
        }
    }

    /// Runs a scheduling pass for a Start; returns the job's running record
    /// as soon as the pass has launched `id`, or None if the pass ended
    /// without it (it waits for a slot, or could not start). The rest of the
    /// pass goes on in the background.
    pub(super) async fn schedule_for(
        &self,
        id: &JobId,
    ) -> Result<Option<JobRecord>, SupervisorError> {
        let (tx, rx) = oneshot::channel();
        let this = self.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let mut waiter = Some((id.clone(), tx));
            if let Err(e) = this.schedule_now(&mut waiter).await {
                warn!(error = %e, "cannot start queued jobs");
                this.retry_queue_later();
            }
            if waiter.is_some() {
                // Not launched by this pass (it waits for a slot, or ended at
                // once): meta.json shows the record as it is now. Under the
                // lock, so a launch by another pass cannot be overwritten.
                let _turn = this.inner.scheduler.turn.lock().await;
                if let Ok(job) = this.load(&id).await {
                    this.mirror(&id, &job);
                }
            }
        });
        match rx.await {
            Ok(Ok(running)) => Ok(Some(running)),
            Ok(Err(refused)) => Err(refused),
            Err(_) => Ok(None),
        }
    }

    /// Asks for a scheduling pass in a moment: queued jobs could not start
    /// for want of a resource, which may come back without any job ending.
    pub(super) fn retry_queue_later(&self) {
        if self
            .inner
            .scheduler
            .retry_armed
            .swap(true, Ordering::SeqCst)
        {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RETRY_QUEUE_AFTER).await;
            this.inner
                .scheduler
                .retry_armed
                .store(false, Ordering::SeqCst);
            this.kick();
        });
    }

    /// Takes back a Start that could not get a process: its record, folder
    /// and (for a new worktree job) worktree and branch go, since it never
    /// ran.
    async fn withdraw(&self, id: &JobId, job: &JobRecord) {
        match self.inner.db.delete_queued(id.as_str()).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                warn!(job_id = %id, error = %e, "cannot withdraw a refused start; it stays queued");
                return;
            }
        }
        let dir = self.job_dir(id);
        if job.parent_job_id.is_none() {
            if let Some(branch) = &job.branch {
                if let Err(e) = crate::worktree::discard_unused(dir.path(), branch).await {
                    warn!(job_id = %id, error = %e, "cannot remove the worktree of a refused start");
                }
            }
        }
        dir.discard_new();
        info!(job_id = %id, "start refused: no process could be made for it");
    }

    /// Called once reconcile has settled every job: from now on queued jobs start.
    pub(super) async fn open_queue(&self) -> Result<(), SupervisorError> {
        self.inner.scheduler.open.store(true, Ordering::SeqCst);
        self.refill_standby();
        self.schedule().await
    }

    /// Asks for a scheduling pass without waiting for it (after a job ends).
    pub(super) fn kick(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.schedule_now(&mut None).await {
                warn!(error = %e, "cannot start queued jobs");
            }
        });
    }

    /// One pass; `waiter` learns of its job's launch as soon as it happens
    /// (and is then taken).
    async fn schedule_now(
        &self,
        waiter: &mut Option<(JobId, oneshot::Sender<Result<JobRecord, SupervisorError>>)>,
    ) -> Result<(), SupervisorError> {
        let sched = &self.inner.scheduler;
        if !sched.open.load(Ordering::SeqCst) {
            return Ok(());
        }
        let _turn = sched.turn.lock().await;
        loop {
            let Some(job) = self.inner.db.next_to_start(sched.max_jobs).await? else {
                return Ok(());
            };
            let id = job.job_id.clone();
            info!(job_id = %id, "starting job");
            // launch always moves the job out of `queued` (running, or ended),
            // so this loop makes progress.
            let handed = match self.launch(&id, &job).await {
                Ok(Some(handed)) => handed,
                Ok(None) => continue,
                Err(SupervisorError::Exhausted(why)) => {
                    // No process for it now: the Start waiting for it is
                    // refused (and takes nothing with it); a job that waited
                    // in the queue stays queued. Either way the queue is
                    // tried again shortly.
                    self.retry_queue_later();
                    if waiter.as_ref().is_some_and(|(wanted, _)| *wanted == id) {
                        self.withdraw(&id, &job).await;
                        if let Some((_, tx)) = waiter.take() {
                            let _ = tx.send(Err(SupervisorError::Exhausted(why)));
                        }
                    } else {
                        warn!(job_id = %id, reason = %why, "cannot start a queued job now; it stays queued");
                    }
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            // The Start waiting for this job gets its answer once the
            // monitor has it; codex's spawn and the bookkeeping after it are
            // off its path. Still under the lock: a cancel waits for the
            // monitor's report (cancel_unstarted).
            if waiter.as_ref().is_some_and(|(wanted, _)| *wanted == id) {
                if let Some((_, tx)) = waiter.take() {
                    let _ = tx.send(Ok(handed.record.clone()));
                }
            }
            if let Some(launched) = self.confirm(&id, handed).await? {
                self.announce_running(&id, launched).await;
            }
        }
    }

    /// Before reconcile: a queued job whose monitor.log exists had its monitor
    /// spawned by a daemon that died before recording it as running, and a
    /// running one without codex's pid by a daemon that died after answering
    /// its Start but before the monitor said codex runs. That monitor may
    /// still be starting; wait (bounded) for its monitor.json or exit.json,
    /// so reconcile adopts it (with codex's pid) instead of starting codex
    /// twice.
    pub(super) async fn await_interrupted_launches(&self, jobs: &[JobRecord]) {
        let pending: Vec<_> = jobs
            .iter()
            .filter(|job| {
                job.status == JobStatus::Queued
                    || (job.status == JobStatus::Running && job.pid.is_none())
            })
            .map(|job| job.job_id.clone())
            .map(|id| self.job_dir(&id))
            .filter(|dir| dir.monitor_log().exists())
            .collect();
        if pending.is_empty() {
            return;
        }
        info!(
            jobs = pending.len(),
            "waiting for job monitors an earlier codexd was starting"
        );
        let deadline = tokio::time::Instant::now() + INTERRUPTED_LAUNCH_WAIT;
        while tokio::time::Instant::now() < deadline
            && pending
                .iter()
                .any(|dir| !dir.monitor_info().exists() && !dir.exit().exists())
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Cancels a job that has no live monitor we know of: a queued job is
    /// marked cancelled without ever starting; one the scheduler started in
    /// the meantime is cancelled through its monitor.
    pub(super) async fn cancel_unstarted(&self, id: &JobId) -> Result<(), SupervisorError> {
        let _turn = self.inner.scheduler.turn.lock().await;
        let job = self.load(id).await?;
        match job.monitor_pid {
            Some(monitor)
                if job.status == JobStatus::Running
                    && proctree::is_same_process_alive(monitor, job.monitor_start_time) =>
            {
                info!(job_id = %id, monitor_pid = monitor, "cancelling job");
                let _ = kill(Pid::from_raw(monitor), Signal::SIGTERM);
                Ok(())
            }
            _ => {
                self.record_end(id, JobStatus::Cancelled, None, Some("cancelled by request"))
                    .await
            }
        }
    }
}
