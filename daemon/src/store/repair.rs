//! The start-up check that the database and the job folders agree, whatever
//! crash came before. SQLite is the source of truth:
//!
//! - a row whose folder is missing gets the folder and meta.json back (logged);
//! - meta.json is rewritten for every unfinished job, and for a finished one
//!   when it is missing or says something else than the row (a crash between
//!   the database commit and the rename leaves it one change behind);
//! - a folder with no row (one `rebuild` could not read at start) is logged
//!   and left alone: it may be user data we
//!   cannot account for, and deleting it could not be undone. The one
//!   exception is what an interrupted Start leaves (Start creates the folder
//!   before it inserts the row): a folder named like a job id holding nothing
//!   but `prompt.txt` and an empty `output.txt`. No client ever saw that job,
//!   so it is removed.
//!
//! Queued and running jobs are checked before the daemon serves (reconcile
//! needs them); everything else in the background right after.

use std::{
    collections::HashSet,
    fs,
    path::Path,
    time::{Duration, SystemTime},
};

use tracing::{info, warn};

use crate::{
    job::{JobId, JobRecord},
    store::db::{Db, DbError},
    store::jobdir::JobDir,
};

/// More than one tick of the kernel's coarse clock (4–10 ms), far less than
/// any daemon takes to start.
const CLOCK_TICK_MARGIN: Duration = Duration::from_millis(20);

/// What the check found and did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub folders_recreated: usize,
    pub metas_rewritten: usize,
    pub unknown_folders: usize,
    pub unrecorded_starts_removed: usize,
}

/// Which jobs a check covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Queued and running jobs only: what reconcile needs, cheap at any
    /// database size, so it runs before the daemon serves.
    Unfinished,
    /// Every job and every folder: run in the background once serving, so a
    /// home with 100,000 jobs does not delay the first answer. Folders
    /// modified since `serving_since` (when this daemon began to take Starts)
    /// may be a Start in progress, written just before its row, and are left
    /// alone; older ones can only be left by an earlier daemon.
    All { serving_since: SystemTime },
}

/// Runs the check over the jobs of `scope`; see the module docs.
pub async fn check(db: &Db, jobs_root: &Path, scope: Scope) -> Result<Report, DbError> {
    let mut report = Report::default();
    let mut known = HashSet::new();
    let jobs = match scope {
        Scope::Unfinished => db.unfinished().await?,
        Scope::All { .. } => db.all().await?,
    };
    for (n, job) in jobs.into_iter().enumerate() {
        // File work for every job of a large home: let the runtime run other
        // tasks, and let a stopping daemon drop this check between jobs.
        if n % 64 == 63 {
            tokio::task::yield_now().await;
        }
        let id = job.job_id.clone();
        known.insert(job.job_id.clone());
        if matches!(scope, Scope::All { .. }) && !job.status.is_terminal() {
            // Checked before serving; since then its row may have moved on,
            // and this snapshot of it must not overwrite a newer meta.json.
            continue;
        }
        let dir = JobDir::new(jobs_root, &id);
        if !dir.path().is_dir() {
            if matches!(scope, Scope::All { .. }) && is_being_pruned(db, jobs_root, &id).await? {
                continue;
            }
            if let Err(e) = dir.create(&job.prompt) {
                warn!(job_id = %id, error = %e, "job folder missing and cannot be recreated");
                continue;
            }
            warn!(job_id = %id, status = %job.status, "job folder was missing; recreated from the database (its output is lost)");
            report.folders_recreated += 1;
        } else if job.status.is_terminal() && meta_agrees(&dir, &job) {
            continue;
        }
        match dir.write_meta(&job) {
            Ok(()) => report.metas_rewritten += 1,
            Err(e) => warn!(job_id = %id, error = %e, "cannot rewrite meta.json"),
        }
    }
    let (entries, serving_since) = match scope {
        // File times come from the kernel's coarse clock, which lags the
        // real one by up to a tick: allow for it.
        Scope::All { serving_since } => (
            fs::read_dir(jobs_root).ok(),
            serving_since - CLOCK_TICK_MARGIN,
        ),
        Scope::Unfinished => (None, SystemTime::UNIX_EPOCH),
    };
    if let Some(entries) = entries {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // A prune in progress (the Prune RPC runs beside this check), or
            // one the next start finishes.
            if known.contains(name.as_str()) || crate::store::prune::is_pruning(&name) {
                continue;
            }
            let recent = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified >= serving_since);
            if recent {
                continue;
            }
            if is_unrecorded_start(&entry.path(), &name) {
                match fs::remove_dir_all(entry.path()) {
                    Ok(()) => {
                        info!(folder = %entry.path().display(), "removed the empty folder of a Start interrupted before it was recorded");
                        report.unrecorded_starts_removed += 1;
                        continue;
                    }
                    Err(e) => {
                        warn!(folder = %entry.path().display(), error = %e, "cannot remove the folder of an unrecorded Start")
                    }
                }
            }
            {
                warn!(folder = %entry.path().display(), "folder under jobs/ has no job in the database and was not rebuilt at start (see the start's log for why); left alone");
                report.unknown_folders += 1;
            }
        }
    }
    if report != Report::default() {
        info!(
            folders_recreated = report.folders_recreated,
            metas_rewritten = report.metas_rewritten,
            unknown_folders = report.unknown_folders,
            unrecorded_starts_removed = report.unrecorded_starts_removed,
            "checked job folders against the database"
        );
    }
    Ok(report)
}

/// True when the job of a missing folder is being pruned (its folder moved
/// aside, or its row gone since this check read it): its folder must not be
/// made again, or a pruned job would come back.
async fn is_being_pruned(db: &Db, jobs_root: &Path, id: &JobId) -> Result<bool, DbError> {
    let aside = jobs_root.join(format!(".pruning-{id}"));
    Ok(aside.exists() || db.get(id.as_str()).await?.is_none())
}

/// True for a folder named like a job id that holds only what Start writes
/// before the row exists: the prompt and an empty output.txt.
pub fn is_unrecorded_start(path: &Path, name: &str) -> bool {
    if JobId::parse(name).is_err() {
        return false;
    }
    let Ok(entries) = fs::read_dir(path) else {
        return false;
    };
    let mut only_empty_output = true;
    for entry in entries.flatten() {
        let empty_output = entry.file_name() == "output.txt"
            && entry.metadata().is_ok_and(|m| m.is_file() && m.len() == 0);
        let prompt = entry.file_name() == "prompt.txt";
        only_empty_output &= empty_output || prompt;
    }
    only_empty_output
}

/// True when meta.json exists and records the row's outcome.
fn meta_agrees(dir: &JobDir, job: &JobRecord) -> bool {
    let Ok(text) = fs::read(dir.meta()) else {
        return false;
    };
    let Ok(meta) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return false;
    };
    // `isolation` came with the fields a lost row is rebuilt from: an older
    // meta.json lacking it is rewritten whole.
    meta["job_id"] == job.job_id.as_str()
        && meta["isolation"] == job.isolation.name()
        && meta["status"] == job.status.name()
        && meta["exit_code"] == serde_json::json!(job.exit_code)
        && meta["error"] == serde_json::json!(job.error)
        && meta["started_at"] == serde_json::json!(job.started_at)
        && meta["finished_at"] == serde_json::json!(job.finished_at)
        && meta["pid"] == serde_json::json!(job.pid)
}
