//! State changes the database could not take yet.
//!
//! A job's transitions (running, codex's pid, its end, summary folds, the
//! diffstat) are facts: dropping one leaves a job `running` forever whose
//! codex has exited. When SQLite cannot write one for a reason that passes —
//! the disk is full (`SQLITE_FULL`), the home is read-only for a while, an I/O
//! error, the database stays locked past the busy timeout — [`crate::store::db::Db`]
//! keeps the change here instead, in memory, per job and in order, and a
//! background task writes them as soon as SQLite takes them again. Reads go
//! through the same place, so the API answers from what is known meanwhile (a
//! poll shows the job ended with its true exit code before the database does).
//!
//! Nothing here outlives the daemon, and nothing needs to: every change is
//! derived from a durable file in the job's folder (`monitor.json`,
//! `exit.json` — whose room the monitor sets aside before codex starts —, and
//! `output.txt`), and the next daemon's reconcile rebuilds them from those.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
};

use codex_async_proto::v1::JobStatus;

use crate::job::{events::Summary, JobRecord};

/// One state change of a job, as [`crate::store::db::Db`] writes it.
#[derive(Debug, Clone)]
pub enum Change {
    /// The job runs under its monitor (only from queued or running).
    Running {
        monitor_pid: i32,
        monitor_start_time: Option<i64>,
        started_at: String,
    },
    /// codex's pid.
    Pid(i32),
    /// The job ended (only once: a finished job never changes).
    Finish {
        status: JobStatus,
        exit_code: Option<i32>,
        error: Option<String>,
        finished_at: String,
    },
    /// The folded summary and how far into the output it reaches.
    Summary { summary: Box<Summary>, offset: u64 },
    /// A worktree job's diffstat, and what its end commit left out or why it failed.
    Diffstat { stat: String, note: Option<String> },
    /// Why some of the job's output is missing.
    OutputNote(String),
    /// How long codex ran, by the monitor's monotonic clock.
    RunMs(u64),
}

impl Change {
    /// Applies the change to a record as the database's statement would.
    /// Returns whether it changed the job's state (false for a finish or a
    /// running mark on a job that had already ended).
    pub fn apply(&self, job: &mut JobRecord) -> bool {
        match self {
            Change::Running {
                monitor_pid,
                monitor_start_time,
                started_at,
            } => {
                if job.status.is_terminal() {
                    return false;
                }
                job.status = JobStatus::Running;
                job.monitor_pid = Some(*monitor_pid);
                job.monitor_start_time = *monitor_start_time;
                job.started_at = Some(started_at.clone());
            }
            Change::Pid(pid) => job.pid = Some(*pid),
            Change::Finish {
                status,
                exit_code,
                error,
                finished_at,
            } => {
                if job.status.is_terminal() {
                    return false;
                }
                job.status = *status;
                job.exit_code = *exit_code;
                job.error = error.clone();
                job.finished_at = Some(finished_at.clone());
            }
            Change::Summary { summary, offset } => {
                if summary.thread_id.is_some() {
                    job.thread_id = summary.thread_id.clone();
                }
                job.summary = (**summary).clone();
                job.events_offset = *offset;
            }
            Change::Diffstat { stat, note } => {
                job.diffstat = Some(stat.clone());
                job.commit_note = note.clone();
            }
            Change::OutputNote(note) => job.output_note = Some(note.clone()),
            Change::RunMs(ms) => job.run_ms = Some(*ms),
        }
        true
    }
}

/// The changes waiting to be written, per job, oldest first.
#[derive(Default)]
pub struct Pending {
    jobs: Mutex<HashMap<String, VecDeque<Change>>>,
}

impl Pending {
    /// Whether `job_id` has changes waiting (then new ones queue behind them,
    /// so they reach the database in order).
    pub fn has(&self, job_id: &str) -> bool {
        self.lock().get(job_id).is_some_and(|q| !q.is_empty())
    }

    /// Queues a change. A summary replaces a summary still waiting right
    /// before it: only the newest fold matters.
    pub fn push(&self, job_id: &str, change: Change) {
        let mut jobs = self.lock();
        let queue = jobs.entry(job_id.to_string()).or_default();
        if let (Change::Summary { .. }, Some(Change::Summary { .. })) = (&change, queue.back()) {
            queue.pop_back();
        }
        queue.push_back(change);
    }

    /// `job_id`'s oldest waiting change.
    pub fn head(&self, job_id: &str) -> Option<Change> {
        self.lock().get(job_id).and_then(|q| q.front().cloned())
    }

    /// Drops `job_id`'s oldest change once it is written; returns whether the
    /// job has none left.
    pub fn pop(&self, job_id: &str) -> bool {
        let mut jobs = self.lock();
        let Some(queue) = jobs.get_mut(job_id) else {
            return true;
        };
        queue.pop_front();
        if queue.is_empty() {
            jobs.remove(job_id);
            true
        } else {
            false
        }
    }

    /// Applies `job`'s waiting changes to its record as read from the database.
    pub fn overlay(&self, job: &mut JobRecord) {
        if let Some(queue) = self.lock().get(job.job_id.as_str()) {
            for change in queue {
                change.apply(job);
            }
        }
    }

    /// The ids of the jobs with changes waiting.
    pub fn job_ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// How many changes are waiting, over all jobs.
    pub fn len(&self) -> usize {
        self.lock().values().map(VecDeque::len).sum()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Change>>> {
        // A panic while holding the lock leaves consistent data (each
        // operation is a single push or pop), so a poisoned lock is used as is.
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
