//! Worktree isolation: a job runs in its own git worktree on branch
//! `codex/<job_id>`, under the job's folder, so parallel jobs on one repository
//! never touch each other's files (or the user's checkout).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::process::Command;

use crate::job::JobId;

/// How long one git command may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a worktree could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    /// The caller's cwd is not in a usable repository (their input's fault).
    #[error("isolation: {0}")]
    NotARepo(String),
    /// git itself failed.
    #[error("git worktree: {0}")]
    Git(String),
}

/// A worktree made for a job.
#[derive(Debug, Clone)]
pub struct Worktree {
    pub branch: String,
    /// Where codex runs: the worktree, at the same place in the tree as the caller's cwd.
    pub run_dir: PathBuf,
}

/// Creates the worktree for job `id` in `job_dir/worktree`, branching from the
/// HEAD of the repository that holds `cwd`.
pub async fn create(cwd: &Path, job_dir: &Path, id: &JobId) -> Result<Worktree, WorktreeError> {
    let root = git(cwd, &["rev-parse", "--show-toplevel"], GIT_TIMEOUT).await.map_err(|e| {
        WorktreeError::NotARepo(format!(
            "{} is not inside a git repository ({e}); run in a git repository or leave isolation out",
            cwd.display()
        ))
    })?;
    let root = PathBuf::from(root.trim());
    let base = git(&root, &["rev-parse", "--verify", "HEAD"], GIT_TIMEOUT).await.map_err(|_| {
        WorktreeError::NotARepo(format!(
            "the repository at {} has no commit yet to branch from; commit once, or leave isolation out",
            root.display()
        ))
    })?;
    let branch = format!("codex/{id}");
    let tree = job_dir.join("worktree");
    let tree_arg = tree.display().to_string();
    git(
        &root,
        &["worktree", "add", "-b", &branch, &tree_arg, base.trim()],
        GIT_TIMEOUT,
    )
    .await
    .map_err(WorktreeError::Git)?;
    std::fs::write(job_dir.join("worktree.base"), base.trim())
        .map_err(|e| WorktreeError::Git(format!("recording the base commit: {e}")))?;
    // cwd may be a sub-folder of the repository: run at the same place.
    let canonical_root = root.canonicalize().unwrap_or(root);
    let relative = cwd.strip_prefix(&canonical_root).unwrap_or(Path::new(""));
    Ok(Worktree {
        branch,
        run_dir: tree.join(relative),
    })
}

/// `git diff --stat` of everything the job changed on its branch (committed
/// or not, new files included), against the commit it branched from.
pub async fn diffstat(run_dir: &Path, job_dir: &Path) -> Result<String, WorktreeError> {
    let base = std::fs::read_to_string(job_dir.join("worktree.base"))
        .map_err(|e| WorktreeError::Git(format!("reading the base commit: {e}")))?;
    // Staging in the job's own worktree is harmless and makes new files count.
    git(run_dir, &["add", "-A"], GIT_TIMEOUT)
        .await
        .map_err(WorktreeError::Git)?;
    let stat = git(
        run_dir,
        &["diff", "--cached", "--stat", base.trim()],
        GIT_TIMEOUT,
    )
    .await
    .map_err(WorktreeError::Git)?;
    Ok(if stat.trim().is_empty() {
        "no changes".into()
    } else {
        stat.trim_end().to_string()
    })
}

/// After a worktree job's folder is removed (pruning): lets the repository at
/// `repo` forget the worktree. Its branch (codex/<job_id>) is the user's work
/// and stays.
pub async fn forget_removed(repo: &Path, timeout: Duration) -> Result<(), String> {
    git(repo, &["worktree", "prune"], timeout).await.map(drop)
}

/// Runs git in `dir` without a terminal; stdout on success, stderr on failure.
async fn git(dir: &Path, args: &[&str], timeout: Duration) -> Result<String, String> {
    let run = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(timeout, run).await {
        Err(_) => {
            return Err(format!(
                "git {} took over {}s",
                args.join(" "),
                timeout.as_secs()
            ))
        }
        Ok(Err(e)) => return Err(format!("cannot run git: {e}")),
        Ok(Ok(out)) => out,
    };
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}
