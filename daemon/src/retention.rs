//! Retention: finished jobs older than `retention_days` are pruned by codexd
//! itself, right after start and then every hour, through the same code as
//! `codexd prune` ([`crate::prune`]). A queued or running job is never pruned,
//! nor a worktree holding uncommitted work; branches are never deleted.

use std::time::Duration;

use tracing::{info, warn};

use crate::{prune, supervisor::Supervisor};

/// How often retention runs after the pass at start.
pub const EVERY: Duration = Duration::from_secs(3600);

/// One pass: prunes every finished job that ended more than `days` days ago;
/// `days == 0` keeps everything. Fails soft: old jobs kept a while longer
/// harm nobody.
pub async fn pass(supervisor: &Supervisor, days: u32) {
    if days == 0 {
        return;
    }
    let age = Duration::from_secs(u64::from(days) * 86_400);
    // Branches are the user's to delete (`codexd prune --branches`).
    let options = prune::Options {
        older_than: age,
        dry_run: false,
        empty_branches: false,
    };
    match prune::prune(supervisor, &options).await {
        Ok(pruned) => {
            if !pruned.job_ids.is_empty() {
                info!(
                    pruned = pruned.job_ids.len(),
                    days, "pruned finished jobs past retention"
                );
            }
            // A job kept (its worktree holds uncommitted work…) is tried
            // again next hour; the log says why and what to do.
            for warning in &pruned.warnings {
                warn!(days, "retention: {warning}");
            }
        }
        Err(e) => warn!(error = %e, "pruning old jobs failed; retrying in an hour"),
    }
}

/// Prunes now and then every [`EVERY`], for the daemon's lifetime.
pub async fn run(supervisor: &Supervisor, days: u32) {
    if days == 0 {
        info!("retention off (retention_days = 0): finished jobs are kept");
        return;
    }
    loop {
        pass(supervisor, days).await;
        tokio::time::sleep(EVERY).await;
    }
}
