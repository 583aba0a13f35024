//! Catching up after a resource came back: what codexd knows but could not
//! write reaches the database and `meta.json` without a restart.
//!
//! The database keeps the state changes it could not take (see
//! [`crate::store::pending`]) and says when a job's have all been written; then the
//! job's `meta.json` is rewritten and watchers are told. A `meta.json` that
//! could not be written (full disk) is tried again every [`RETRY_EVERY`] until
//! it is.

use std::{collections::HashSet, time::Duration};

use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

use super::Supervisor;
use crate::job::JobId;

/// How often a `meta.json` that could not be written is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(1);

impl Supervisor {
    /// Runs for the daemon's lifetime (started with the supervisor).
    pub(super) async fn catch_up(self) {
        let mut drained = self.db().drained();
        let mut retry = tokio::time::interval(RETRY_EVERY);
        loop {
            tokio::select! {
                id = drained.recv() => match id {
                    Ok(id) => {
                        if let Ok(id) = JobId::parse(&id) {
                            if let Err(e) = self.refresh(&id).await {
                                warn!(job_id = %id, error = %e, "cannot reload a job after its kept changes were written");
                            }
                        }
                        // A finish that was kept may have freed a run slot.
                        self.kick();
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                _ = retry.tick() => self.retry_meta().await,
            }
        }
    }

    /// Notes that a job's `meta.json` is behind its record.
    pub(super) fn meta_behind(&self, id: &JobId) {
        self.inner
            .meta_behind
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_string());
    }

    async fn retry_meta(&self) {
        let ids: HashSet<String> = std::mem::take(
            &mut *self
                .inner
                .meta_behind
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for id in ids {
            let Ok(id) = JobId::parse(&id) else { continue };
            let written = match self.load(&id).await {
                Ok(job) => self.job_dir(&id).write_meta(&job).is_ok(),
                // Pruned meanwhile: nothing to catch up.
                Err(_) => continue,
            };
            if written {
                info!(job_id = %id, "meta.json caught up");
            } else {
                self.meta_behind(&id);
            }
        }
    }
}
