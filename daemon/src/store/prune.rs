//! Pruning: delete finished jobs that ended before a cutoff, their records
//! and their folders. Queued and running jobs are never touched: both the
//! query and the delete only match finished statuses. Used by `codexd prune`
//! (the Prune RPC) and by retention.
//!
//! A prune is atomic for the user: the folder is first renamed to
//! `jobs/.pruning-<id>` (one rename), then the record deleted, then the
//! files removed; the next start finishes any prune a crash interrupted
//! ([`finish_interrupted`]), so a pruned job never comes back.
//!
//! A worktree job's work lives on its branch (committed when the job ended),
//! which pruning never deletes. Its worktree (in the folder of the job that
//! made it) goes only once nothing in it is uncommitted and no kept job (a
//! reply, finished or not) works in it; otherwise the job is kept, folder and
//! worktree, and a warning says why and what to do. Replies are pruned
//! before the job whose worktree they use, so one pass prunes them together.

use std::{
    fs,
    io::ErrorKind,
    path::{Path, PathBuf},
    time::Duration,
};

use tracing::{info, warn};

use crate::{
    job::{Isolation, JobId, JobRecord},
    store::db::{Db, DbError},
    supervisor::{Supervisor, SupervisorError},
    worktree,
};

/// What a prune did (or, dry, would do).
#[derive(Debug, Default)]
pub struct Pruned {
    pub job_ids: Vec<String>,
    pub freed_bytes: u64,
    pub warnings: Vec<String>,
    /// With [`Options::empty_branches`]: the branches deleted.
    pub branches_deleted: Vec<String>,
}

/// What to prune.
#[derive(Debug, Clone)]
pub struct Options {
    /// Jobs that finished at least this long ago.
    pub older_than: Duration,
    /// Say what would go; delete nothing.
    pub dry_run: bool,
    /// Also delete a pruned job's branch when it holds nothing beyond its base.
    pub empty_branches: bool,
}

/// Prunes every finished job that ended at least `options.older_than` ago.
pub async fn prune(supervisor: &Supervisor, options: &Options) -> Result<Pruned, SupervisorError> {
    let (older_than, dry_run) = (options.older_than, options.dry_run);
    // An absurdly long age reaches before any job: then nothing is pruned.
    let cutoff = chrono::Duration::from_std(older_than)
        .ok()
        .and_then(|age| chrono::Utc::now().checked_sub_signed(age))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    let mut candidates = supervisor.db().finished_before(&cutoff).await?;
    // Jobs that made a worktree go after every other job (their replies),
    // oldest first within each group.
    candidates
        .sort_by_key(|job| job.isolation == Isolation::Worktree && job.parent_job_id.is_none());
    let mut pruned = Pruned::default();
    for job in candidates {
        let id = job.job_id.clone();
        let dir = supervisor.job_dir(&id).path().to_path_buf();
        let tree = worktree::tree_in(&dir);
        let holds_tree = tree.is_dir();
        if holds_tree {
            if let Some(why) = keep_worktree(supervisor, &id, &job, &tree, &pruned.job_ids).await? {
                info!(job_id = %id, reason = %why, "job kept: its worktree is not prunable");
                pruned.warnings.push(why);
                continue;
            }
        }
        let size = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || disk_usage(&dir))
                .await
                .map_err(|e| SupervisorError::Task(e.to_string()))?
        };
        // Read before the folder (and the base commit recorded in it) goes.
        let empty_branch = match (&job.branch, options.empty_branches) {
            (Some(branch), true) if job.parent_job_id.is_none() => {
                worktree::is_unchanged(&dir, Path::new(&job.cwd), branch)
                    .await
                    .then(|| branch.clone())
            }
            _ => None,
        };
        if dry_run {
            pruned.job_ids.push(id.to_string());
            pruned.freed_bytes += size;
            pruned.branches_deleted.extend(empty_branch);
            continue;
        }
        if holds_tree {
            // git removes only a clean worktree, so a change made since the
            // check above is not lost either.
            if let Err(e) = worktree::remove_clean(&tree).await {
                warn!(job_id = %id, error = %e, "cannot remove the worktree");
                pruned.warnings.push(format!(
                    "job {id} kept: git did not remove its worktree {} ({e}); look at it with `git -C {} status`, then prune again",
                    tree.display(),
                    tree.display()
                ));
                continue;
            }
        }
        // One rename takes the job out of sight, then the record goes, then
        // the files: a crash at any point leaves the job either whole or
        // gone for the user. A `.pruning-<id>` folder is not named like a job
        // (never rebuilt, never repaired), and the next start finishes it
        // (its row deleted, its files removed: `finish_interrupted`).
        let doomed = pruning_dir(&dir, &id);
        match fs::rename(&dir, &doomed) {
            Ok(()) => {}
            // Removed by hand: the record still goes.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                warn!(job_id = %id, error = %e, "cannot move the job folder aside to remove it");
                pruned.warnings.push(format!(
                    "job {id}: folder {} not removed, job kept: {e}",
                    dir.display()
                ));
                continue;
            }
        }
        if !supervisor.db().delete_finished(id.as_str()).await? {
            // No longer a finished job (cannot happen today: only finished
            // rows are listed): give its folder back.
            if let Err(e) = fs::rename(&doomed, &dir) {
                warn!(job_id = %id, error = %e, "cannot move a job folder back after its record was not deleted");
            }
            continue;
        }
        remove_doomed(&id, doomed).await?;
        // A worktree job whose folder had lost its worktree (removed by hand):
        // let git forget it. Its branch (codex/<job_id>) is the user's work
        // and stays.
        if job.isolation == Isolation::Worktree && !holds_tree && job.parent_job_id.is_none() {
            if let Err(e) = worktree::forget_removed(Path::new(&job.cwd)).await {
                pruned.warnings.push(format!(
                    "job {id}: `git worktree prune` in {} failed: {e}",
                    job.cwd
                ));
            }
        }
        if let Some(branch) = empty_branch {
            match worktree::delete_branch(Path::new(&job.cwd), &branch).await {
                Ok(()) => pruned.branches_deleted.push(branch),
                Err(e) => pruned
                    .warnings
                    .push(format!("job {id}: branch {branch} not deleted: {e}")),
            }
        }
        info!(job_id = %id, status = %job.status, bytes = size, "job pruned");
        pruned.job_ids.push(id.to_string());
        pruned.freed_bytes += size;
    }
    Ok(pruned)
}

/// Why the worktree `tree` of job `id` must stay (the warning to show), or
/// None when it may go: a job that stays (a reply, not pruned in this pass:
/// `going`) works in it, or something in it is not committed, or git cannot
/// tell.
async fn keep_worktree(
    supervisor: &Supervisor,
    id: &JobId,
    job: &JobRecord,
    tree: &Path,
    going: &[String],
) -> Result<Option<String>, SupervisorError> {
    let shown = tree.display();
    if let Some(branch) = job.branch.as_deref() {
        let users = supervisor.db().on_branch(branch).await?;
        let staying = users.iter().filter(|other| {
            other.job_id != id.as_str() && !going.iter().any(|g| other.job_id == *g)
        });
        // An unfinished one first: it is the reason that goes away soonest.
        if let Some(user) = staying
            .clone()
            .find(|other| !other.status.is_terminal())
            .or_else(|| staying.clone().next_back())
        {
            let when = if user.status.is_terminal() {
                "it goes when that job is pruned"
            } else {
                "prune again once it has finished"
            };
            return Ok(Some(format!(
                "job {id} kept: job {} ({}) works in its worktree {shown}; {when}",
                user.job_id, user.status
            )));
        }
    }
    Ok(match worktree::uncommitted(tree).await {
        Ok(changes) if changes.is_empty() => None,
        Ok(changes) => Some(format!(
            "job {id} kept: its worktree {shown} has uncommitted changes ({} file(s)); commit them (`git -C {shown} add -A && git -C {shown} commit`) or discard them (`git -C {shown} reset --hard && git -C {shown} clean -fd`), then prune again",
            changes.len()
        )),
        Err(e) => Some(format!(
            "job {id} kept: cannot tell whether its worktree {shown} holds uncommitted work ({e}); look with `git -C {shown} status`, or delete the job's folder yourself if nothing in it is needed"
        )),
    })
}

/// The name a job folder is moved to while it is being removed.
const PRUNING_PREFIX: &str = ".pruning-";

/// `jobs/.pruning-<id>`, beside `dir` (`jobs/<id>`).
fn pruning_dir(dir: &Path, id: &JobId) -> PathBuf {
    dir.with_file_name(format!("{PRUNING_PREFIX}{id}"))
}

/// True for a folder under `jobs/` that a prune was removing: it is no job
/// (rebuild and repair leave it to [`finish_interrupted`]).
pub fn is_pruning(name: &str) -> bool {
    name.starts_with(PRUNING_PREFIX)
}

/// Removes a folder a prune moved aside. A failure is logged, not returned:
/// the job is gone for the user already, and the next start tries again.
async fn remove_doomed(id: &JobId, doomed: PathBuf) -> Result<(), SupervisorError> {
    let removed = {
        let doomed = doomed.clone();
        tokio::task::spawn_blocking(move || fs::remove_dir_all(&doomed))
            .await
            .map_err(|e| SupervisorError::Task(e.to_string()))?
    };
    match removed {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            warn!(job_id = %id, folder = %doomed.display(), error = %e, "cannot remove a pruned job's folder; the next start removes it")
        }
    }
    Ok(())
}

/// At start (and `codexd repair`), before anything reads the folders: a
/// prune a crash interrupted is finished. Every `jobs/.pruning-<id>` loses
/// its row (if still there and finished) and then its files. A row that is
/// not finished (not one a prune takes) gets its folder back instead.
/// Returns the jobs finished so.
pub async fn finish_interrupted(db: &Db, jobs_root: &Path) -> Result<Vec<JobId>, DbError> {
    let Ok(entries) = fs::read_dir(jobs_root) else {
        return Ok(Vec::new());
    };
    let mut finished = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name
            .strip_prefix(PRUNING_PREFIX)
            .and_then(|rest| JobId::parse(rest).ok())
        else {
            continue;
        };
        let doomed = entry.path();
        let row = db.get(id.as_str()).await?;
        if let Some(job) = row.as_ref().filter(|job| !job.status.is_terminal()) {
            let dir = jobs_root.join(id.as_str());
            warn!(job_id = %id, status = %job.status, "a folder being pruned belongs to an unfinished job; putting it back");
            if let Err(e) = fs::rename(&doomed, &dir) {
                warn!(job_id = %id, error = %e, "cannot put the folder back");
            }
            continue;
        }
        if row.is_some() {
            db.delete_finished(id.as_str()).await?;
        }
        if let Some(job) =
            row.filter(|job| job.isolation == Isolation::Worktree && job.parent_job_id.is_none())
        {
            // Its worktree went before the rename (or by hand): let git
            // forget it. The branch stays, as for every prune.
            let _ = worktree::forget_removed(Path::new(&job.cwd)).await;
        }
        match fs::remove_dir_all(&doomed) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                warn!(job_id = %id, folder = %doomed.display(), error = %e, "cannot remove a pruned job's folder");
                continue;
            }
        }
        info!(job_id = %id, "finished a prune an earlier codexd was doing when it stopped");
        finished.push(id);
    }
    Ok(finished)
}

/// Bytes the files under `dir` hold (symlinks are not followed; unreadable
/// entries count as zero: this is a report, not an audit).
fn disk_usage(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else {
            total += meta.len();
        }
    }
    total
}
