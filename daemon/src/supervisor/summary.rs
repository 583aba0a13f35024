//! Folding a job's output into its summary: a follower per running job, a
//! fold per poll, and a final fold once the job ended.

use std::{io, sync::Arc, time::Duration};

use tracing::warn;

use super::{Supervisor, SupervisorError};
use crate::{
    events::Event,
    job::JobId,
    lines::{line_start_at_or_after, read_lines, Line},
};

/// How often a running job's new events are folded into its summary.
const FOLLOW_TICK: Duration = Duration::from_millis(250);
/// Bounds on one fold: bytes per read, reads per call, longest line parsed
/// (command output can make a line long), and how far to look for a line's end.
const SUMMARY_BUDGET: usize = 1024 * 1024;
const SUMMARY_STEPS: usize = 32;
const SUMMARY_MAX_LINE: usize = 16 * 1024 * 1024;
const SUMMARY_MAX_SCAN: u64 = 1024 * 1024 * 1024;
/// The most output one fold reads: a running job's fold (every tick, and
/// every poll), and its final fold. Past that, codex is flooding (hundreds of
/// MB/s of command output); folding it all would take a core from codex
/// itself, and the summary only needs the latest events (the final answer
/// comes last), so the fold jumps ahead and the events in between are skipped.
const FOLLOW_FOLD_WINDOW: u64 = 512 * 1024;
const FINAL_FOLD_WINDOW: u64 = 2 * 1024 * 1024;

/// How much a summary fold may do.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fold {
    Follow,
    Final,
}

impl Supervisor {
    /// Folds new output of job `id` into its summary (bounded work per call).
    pub async fn advance_summary(&self, id: &JobId) -> Result<(), SupervisorError> {
        self.fold_summary(id, Fold::Follow).await
    }

    /// Folds new output into the summary. Both modes jump over all but the
    /// last [`FOLLOW_FOLD_WINDOW`] / [`FINAL_FOLD_WINDOW`] bytes if codex
    /// printed more than that since the last fold; `Follow` then does bounded
    /// work per call (the follower calls again), `Final` folds to the end, so
    /// the final answer, usage and error (which come last) are always in.
    pub(super) async fn fold_summary(&self, id: &JobId, mode: Fold) -> Result<(), SupervisorError> {
        let lock = self.summary_lock(id);
        let _guard = lock.lock().await;
        let job = self.load(id).await?;
        let path = self.job_dir(id).output();
        let (mut summary, start) = (job.summary, job.events_offset);
        let folded = tokio::task::spawn_blocking(move || {
            // Past the end: the output cap dropped the head of the file, and
            // offsets moved. Go on from the end; the events in between are
            // skipped (the README's Limits say so).
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let mut offset = start.min(size);
            let (window, steps) = match mode {
                Fold::Follow => (FOLLOW_FOLD_WINDOW, SUMMARY_STEPS),
                Fold::Final => (FINAL_FOLD_WINDOW, usize::MAX),
            };
            if size - offset > window {
                offset = line_start_at_or_after(&path, size - window, SUMMARY_MAX_SCAN)?;
            }
            // A following fold stops at the size seen above: a flood must not
            // keep it reading what codex writes meanwhile.
            let stop_at = match mode {
                Fold::Follow => size,
                Fold::Final => u64::MAX,
            };
            for _ in 0..steps {
                let read = read_lines(
                    &path,
                    offset,
                    SUMMARY_BUDGET,
                    SUMMARY_MAX_LINE,
                    SUMMARY_MAX_SCAN,
                )?;
                for (line, _) in &read.lines {
                    if let Line::Text(bytes) = line {
                        summary.apply(&Event::parse(bytes));
                    }
                }
                offset = read.end;
                if !read.more || offset >= stop_at {
                    break;
                }
            }
            io::Result::Ok((summary, offset))
        })
        .await
        .map_err(|e| SupervisorError::Task(e.to_string()))?
        .map_err(|source| SupervisorError::JobDir {
            path: self.job_dir(id).output(),
            source,
        })?;
        let (summary, offset) = folded;
        if offset != start {
            self.inner
                .db
                .set_summary(id.as_str(), &summary, offset)
                .await?;
        }
        Ok(())
    }

    fn summary_lock(&self, id: &JobId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .summary_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(id.to_string()).or_default().clone()
    }

    /// Keeps a running job's summary current until the job ends.
    pub(super) fn follow_events(&self, id: JobId) {
        let this = self.clone();
        let mut changes = self.subscribe();
        let output = self.job_dir(&id).output();
        tokio::spawn(async move {
            // One stat per tick while codex is quiet; the database only when
            // the output grew or this job's record changed.
            let mut last_size = None;
            loop {
                let size = std::fs::metadata(&output).map(|m| m.len()).ok();
                if size != last_size {
                    last_size = size;
                    if let Err(e) = this.advance_summary(&id).await {
                        warn!(job_id = %id, error = %e, "cannot fold codex events");
                    }
                }
                let changed = tokio::select! {
                    _ = tokio::time::sleep(FOLLOW_TICK) => false,
                    change = changes.recv() => match change {
                        Ok(changed_id) => changed_id == id.as_str(),
                        // Missed some: check to be safe.
                        Err(_) => true,
                    },
                };
                if changed {
                    match this.inner.db.get(id.as_str()).await {
                        Ok(Some(job)) if !job.status.is_terminal() => {}
                        _ => break,
                    }
                }
            }
            let mut locks = this
                .inner
                .summary_locks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.remove(id.as_str());
        });
    }
}
