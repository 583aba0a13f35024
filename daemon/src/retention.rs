//! Retention: finished jobs older than `CODEX_ASYNC_RETENTION_DAYS` are pruned
//! by codexd itself, at start and then every hour. A queued or running job is
//! never pruned (the delete itself checks the status).
//!
//! The folder goes first, then the row: a crash in between leaves a row
//! without a folder, which the start-up check recreates and the next pass
//! prunes again. The other order would leave a folder nobody accounts for.

use std::{io, path::PathBuf, time::Duration};

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::{
    db::{Db, DbError},
    job::JobId,
    jobdir::JobDir,
};

/// How often retention runs after the pass at start.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Why a pruning pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("removing {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },
}

/// Prunes every finished job whose `finished_at` is more than `days` days
/// before `now`; `days == 0` keeps everything. Returns how many were pruned.
pub async fn prune(
    db: &Db,
    jobs_root: &std::path::Path,
    days: u32,
    now: DateTime<Utc>,
) -> Result<usize, RetentionError> {
    if days == 0 {
        return Ok(0);
    }
    let cutoff = now - chrono::Duration::days(i64::from(days));
    let mut pruned = 0;
    for job in db.all().await? {
        if !job.status.is_terminal() {
            continue;
        }
        let Some(finished) = job.finished_at.as_deref() else {
            continue;
        };
        let Ok(finished) = DateTime::parse_from_rfc3339(finished) else {
            warn!(job_id = %job.job_id, finished_at = finished, "unreadable finished_at; job kept");
            continue;
        };
        if finished.with_timezone(&Utc) >= cutoff {
            continue;
        }
        let Ok(id) = JobId::parse(&job.job_id) else {
            warn!(job_id = %job.job_id, "malformed job id in the database; job kept");
            continue;
        };
        let dir = JobDir::new(jobs_root, &id);
        match std::fs::remove_dir_all(dir.path()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(RetentionError::Remove {
                    path: dir.path().to_path_buf(),
                    source,
                })
            }
        }
        if db.delete_finished(id.as_str()).await? {
            pruned += 1;
        }
    }
    if pruned > 0 {
        info!(pruned, days, "pruned finished jobs past retention");
    }
    Ok(pruned)
}

/// Prunes every [`EVERY`] from now on, for the daemon's lifetime (serve runs
/// the first pass itself, before it answers).
pub fn spawn(db: Db, jobs_root: PathBuf, days: u32) {
    if days == 0 {
        info!("retention off (CODEX_ASYNC_RETENTION_DAYS=0): finished jobs are kept");
        return;
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        // The first tick is now, and serve has just pruned.
        every.tick().await;
        loop {
            every.tick().await;
            if let Err(e) = prune(&db, &jobs_root, days, Utc::now()).await {
                warn!(error = %e, "pruning old jobs failed; retrying in an hour");
            }
        }
    });
}
