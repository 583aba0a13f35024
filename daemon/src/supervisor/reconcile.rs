//! Reconcile, at daemon start: every job an earlier daemon left queued or
//! running is settled from its monitor's `exit.json` (it ended: its true exit
//! status), a live monitor (re-adopted, its pid checked against its start
//! time), or neither (it was lost); then the queue opens.

use codex_async_proto::v1::JobStatus;
use tracing::{info, warn};

use super::{Supervisor, SupervisorError};
use crate::{job::JobId, sys::proctree};

impl Supervisor {
    /// At daemon start: settle every job an earlier daemon left queued or running.
    pub async fn reconcile(&self) -> Result<(), SupervisorError> {
        let unfinished = self.inner.db.unfinished().await?;
        self.await_interrupted_launches(&unfinished).await;
        for job in unfinished {
            let id = job.job_id.clone();
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
                                .set_running(id.as_str(), pid, start_time, &m.started_at)
                                .await?;
                        }
                    }
                    if job.pid.is_none() {
                        // An earlier codexd died between recording the job
                        // running and recording codex's pid.
                        if let Some(m) = &monitor {
                            self.inner.db.set_pid(id.as_str(), m.codex_pid).await?;
                        }
                    }
                    if job.status == JobStatus::Queued || job.pid.is_none() {
                        self.refresh(&id).await?;
                    }
                    info!(job_id = %id, monitor_pid = pid, "re-adopted running job");
                    self.follow_events(id.clone());
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

    /// Folds the output of finished jobs rebuilt from their folders into
    /// their summaries (a rebuilt row starts with none), so their final
    /// message, commands and usage read as before the database was lost.
    /// Unfinished ones are folded as they end.
    pub async fn fold_rebuilt(&self, rebuilt: &[(JobId, JobStatus)]) {
        for (id, status) in rebuilt {
            if !status.is_terminal() {
                continue;
            }
            if let Err(e) = self.fold_summary(id, super::summary::Fold::Final).await {
                warn!(job_id = %id, error = %e, "cannot fold a rebuilt job's output into its summary");
            }
        }
    }

    /// In the background after start: the same for finished jobs `codexd
    /// repair` rebuilt (it has no supervisor to fold with), found as finished
    /// jobs with output but nothing folded.
    pub async fn fold_unfolded(&self) {
        let ids = match self.inner.db.finished_unfolded().await {
            Ok(ids) => ids,
            Err(e) => {
                warn!(error = %e, "cannot look for finished jobs without a summary");
                return;
            }
        };
        for job_id in ids {
            let Ok(id) = JobId::parse(&job_id) else {
                continue;
            };
            let has_output =
                std::fs::metadata(self.job_dir(&id).output()).is_ok_and(|m| m.len() > 0);
            if !has_output {
                continue;
            }
            if let Err(e) = self.fold_summary(&id, super::summary::Fold::Final).await {
                warn!(job_id = %id, error = %e, "cannot fold a rebuilt job's output into its summary");
            }
        }
    }
}
