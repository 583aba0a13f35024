//! Worktree isolation: a job runs in its own git worktree on branch
//! `codex/<job_id>`, under the job's folder, so parallel jobs on one repository
//! never touch each other's files (or the user's checkout).
//!
//! The branch is where the work lives: when a job ends, whatever codex left
//! uncommitted is committed to it (codex cannot commit under `auto-edit`: the
//! worktree's index lives in the main repository's `.git`, outside its
//! sandbox), so the worktree can later be removed without losing anything.
//! A reply works in its parent's worktree, on the same branch; the worktree and
//! its `worktree.base` live in the folder of the job that made them, the one
//! the branch is named after.
//!
//! This is the one module that runs git.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::process::Command;

use crate::job::JobId;

/// How long one git command may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(60);
/// The prefix of every job branch.
const BRANCH_PREFIX: &str = "codex/";
/// Who commits a job's work.
const COMMITTER_NAME: &str = "codex-async";
const COMMITTER_EMAIL: &str = "codex-async@localhost";
/// Characters of the prompt's first line in a commit's subject.
const SUBJECT_PROMPT_CHARS: usize = 60;

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
    /// `codex/<job_id>`: where the job's work is committed.
    pub branch: String,
    /// Where codex runs: the worktree, at the same place in the tree as the caller's cwd.
    pub run_dir: PathBuf,
    /// Said when the caller's checkout had uncommitted changes: the worktree
    /// starts from HEAD, so codex does not see them.
    pub note: Option<String>,
}

/// `a, b, c, d, e and 4 more` (proto's `first_few`, as results name paths).
pub fn name_paths(all: &[String]) -> String {
    codex_async_proto::job_result::first_few(all.iter().map(String::as_str))
}

/// The worktree inside the folder of the job that made it.
pub fn tree_in(job_dir: &Path) -> PathBuf {
    job_dir.join("worktree")
}

/// The file holding the commit a worktree branched from.
fn base_file(job_dir: &Path) -> PathBuf {
    job_dir.join("worktree.base")
}

/// The job that made the worktree of `branch` (`codex/<job_id>`), whose
/// folder holds the worktree and its base commit: the job itself, or for a
/// reply the job it (indirectly) continues.
pub fn owner_of(branch: &str) -> Option<JobId> {
    JobId::parse(branch.strip_prefix(BRANCH_PREFIX)?).ok()
}

/// Creates the worktree for job `id` in `job_dir/worktree`, branching from the
/// HEAD of the repository that holds `cwd`. A `cwd` git does not track (an
/// empty folder, or one with only untracked files) is created in the
/// worktree. On any failure nothing is left behind: no worktree, no branch.
/// `agent`, who will work in it, is named in the note.
pub async fn create(
    cwd: &Path,
    job_dir: &Path,
    id: &JobId,
    agent: crate::job::Agent,
) -> Result<Worktree, WorktreeError> {
    let root = git(cwd, &["rev-parse", "--show-toplevel"]).await.map_err(|e| {
        WorktreeError::NotARepo(format!(
            "{} is not inside a git repository ({e}); run in a git repository or leave isolation out",
            cwd.display()
        ))
    })?;
    let root = PathBuf::from(root.trim());
    let base = git(&root, &["rev-parse", "--verify", "HEAD"])
        .await
        .map_err(|_| {
            WorktreeError::NotARepo(format!(
                "the repository at {} has no commit yet to branch from; commit once, or leave isolation out",
                root.display()
            ))
        })?;
    let base = base.trim();
    // What the worktree will not have: the caller's uncommitted changes. A
    // failure to tell is no reason to refuse the job.
    let note = match dirty_paths(&root).await {
        Ok(changes) if !changes.is_empty() => Some(format!(
            "the worktree starts from HEAD {}, without the {} uncommitted change(s) in {} ({}); commit them for {agent} to see them",
            base.get(..12).unwrap_or(base),
            changes.len(),
            root.display(),
            name_paths(&changes)
        )),
        _ => None,
    };
    let branch = format!("{BRANCH_PREFIX}{id}");
    let tree = tree_in(job_dir);
    let tree_arg = tree.display().to_string();
    // The intent first: a codexd killed during `git worktree add` (or before
    // the job is recorded) leaves a branch and a worktree nobody was told
    // of; this file says what to undo at the next start
    // (`undo_interrupted`). Removed once the job is recorded (`recorded`).
    let intent = Intent {
        repo: root.clone(),
        branch: branch.clone(),
        base: base.to_string(),
    };
    crate::store::jobdir::write_json_atomic(
        &intent_file(job_dir),
        &intent,
        crate::store::jobdir::Durability::Synced,
    )
    .map_err(|e| WorktreeError::Git(format!("recording the worktree about to be made: {e}")))?;
    if let Err(e) = git(&root, &["worktree", "add", "-b", &branch, &tree_arg, base]).await {
        // git may have made the branch before it failed; a branch that was
        // there before (the one way `-b` fails at once) is not ours.
        if e.contains("already exists") {
            recorded(job_dir);
        } else if let Err(cleanup) = undo_interrupted(job_dir).await {
            tracing::warn!(job_id = %id, error = %cleanup, "cannot remove what a failed `git worktree add` left");
        }
        return Err(WorktreeError::Git(e));
    }
    // cwd may be a sub-folder of the repository: run at the same place.
    let canonical_root = root.canonicalize().unwrap_or(root);
    let relative = cwd.strip_prefix(&canonical_root).unwrap_or(Path::new(""));
    // (`tree.join("")` would end in a slash, shown in every result.)
    let run_dir = if relative.as_os_str().is_empty() {
        tree.clone()
    } else {
        tree.join(relative)
    };
    let finish = async {
        std::fs::write(base_file(job_dir), base)
            .map_err(|e| format!("recording the base commit: {e}"))?;
        // A folder git does not track is not in the checkout: make it.
        std::fs::create_dir_all(&run_dir)
            .map_err(|e| format!("cannot create {} in the worktree: {e}", relative.display()))
    };
    if let Err(e) = finish.await {
        if let Err(cleanup) = discard_unused(job_dir, &branch).await {
            tracing::warn!(job_id = %id, error = %cleanup, "cannot remove the worktree of a failed start");
        }
        return Err(WorktreeError::Git(e));
    }
    Ok(Worktree {
        branch,
        run_dir,
        note,
    })
}

/// The file in a job's folder that records a worktree being made, until the
/// job is recorded.
pub const INTENT_FILE: &str = "worktree.adding";

fn intent_file(job_dir: &Path) -> PathBuf {
    job_dir.join(INTENT_FILE)
}

/// What [`create`] is about to make: enough to undo it without the job's
/// record (which does not exist yet) or a working worktree (git may have
/// been killed half-way).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Intent {
    /// The repository's top level.
    repo: PathBuf,
    branch: String,
    base: String,
}

/// True when `job_dir` holds a worktree [`create`] began and the job was
/// never recorded (see [`recorded`]).
pub fn is_interrupted(job_dir: &Path) -> bool {
    intent_file(job_dir).is_file()
}

/// Once the job is recorded, its worktree is no longer a Start in progress:
/// the job (and its meta.json) accounts for it from then on. A failure to
/// remove the file is harmless (see [`is_interrupted`]'s callers: only a
/// folder with neither a row nor a meta.json is undone).
pub fn recorded(job_dir: &Path) {
    let _ = std::fs::remove_file(intent_file(job_dir));
}

/// Undoes what an interrupted [`create`] made in `job_dir`, from its intent:
/// the worktree (however far git got: it holds only a checkout of the base
/// that nobody was told of) and its branch, unless the branch has commits
/// beyond its base (someone worked on it: then both stay and the error says
/// so). The job's folder itself is the caller's. Ok when nothing of it is
/// left.
pub async fn undo_interrupted(job_dir: &Path) -> Result<(), WorktreeError> {
    let path = intent_file(job_dir);
    let text = std::fs::read(&path)
        .map_err(|e| WorktreeError::Git(format!("reading {}: {e}", path.display())))?;
    let intent: Intent = serde_json::from_slice(&text)
        .map_err(|e| WorktreeError::Git(format!("{}: {e}", path.display())))?;
    if !intent.branch.starts_with(BRANCH_PREFIX) {
        return Err(WorktreeError::Git(format!(
            "{}: {} is not a job's branch; nothing removed",
            path.display(),
            intent.branch
        )));
    }
    let repo = intent.repo.as_path();
    let tip = branch_tip(repo, &intent.branch).await;
    if let Some(tip) = &tip {
        if *tip != intent.base {
            return Err(WorktreeError::Git(format!(
                "{} has commits beyond its base {}; kept, with its worktree {}",
                intent.branch,
                intent.base,
                tree_in(job_dir).display()
            )));
        }
    }
    let tree = tree_in(job_dir);
    if tree.exists() {
        let tree_arg = tree.display().to_string();
        // A half-made worktree may not be one git can remove: then its files
        // go by hand and git forgets it below.
        if git(
            repo,
            &["worktree", "remove", "--force", "--force", &tree_arg],
        )
        .await
        .is_err()
        {
            std::fs::remove_dir_all(&tree)
                .map_err(|e| WorktreeError::Git(format!("removing {}: {e}", tree.display())))?;
        }
    }
    git(repo, &["worktree", "prune"])
        .await
        .map_err(WorktreeError::Git)?;
    if tip.is_some() {
        git(repo, &["branch", "-D", "--end-of-options", &intent.branch])
            .await
            .map_err(WorktreeError::Git)?;
    }
    Ok(())
}

/// Removes the worktree in `job_dir` and deletes `branch`, for a job that
/// never ran (its Start failed, or it ended before codex started). Only when
/// they hold nothing: the branch still at its base commit and the worktree
/// clean; otherwise both stay and the error says why.
pub async fn discard_unused(job_dir: &Path, branch: &str) -> Result<(), WorktreeError> {
    let tree = tree_in(job_dir);
    let base = read_base(job_dir)?;
    match branch_tip(&tree, branch).await {
        Some(tip) if tip == base => {}
        Some(_) => {
            return Err(WorktreeError::Git(format!(
                "{branch} has commits beyond its base {base}; kept"
            )))
        }
        None => {
            return Err(WorktreeError::Git(format!(
                "git cannot read the branch {branch} in {}; kept",
                tree.display()
            )))
        }
    }
    if !uncommitted(&tree).await?.is_empty() {
        return Err(WorktreeError::Git(format!(
            "{} has uncommitted changes; kept",
            tree.display()
        )));
    }
    // The main repository's .git, to run in once the worktree is gone.
    let common = git(
        &tree,
        &["rev-parse", "--path-format=absolute", "--git-common-dir"],
    )
    .await
    .map_err(WorktreeError::Git)?;
    let common = PathBuf::from(common.trim());
    let tree_arg = tree.display().to_string();
    git(&common, &["worktree", "remove", "--force", &tree_arg])
        .await
        .map_err(WorktreeError::Git)?;
    git(&common, &["branch", "-D", branch])
        .await
        .map_err(WorktreeError::Git)?;
    Ok(())
}

/// What [`commit_work`] did.
#[derive(Debug, PartialEq, Eq, Default)]
pub struct Committed {
    /// The commit made, if codex left any of its changes uncommitted.
    pub commit: Option<String>,
    /// Uncommitted paths that are not codex's edits (the user's files, or
    /// what codex's commands wrote): left in the worktree, uncommitted.
    pub left_out: Vec<String>,
}

/// How often the end commit is tried when git finds the index locked (a git
/// command of the user's, or an editor's, running in the worktree).
const COMMIT_TRIES: u32 = 3;
const COMMIT_RETRY: Duration = Duration::from_secs(1);

/// Commits what the job's agent changed in the worktree of `branch` (held
/// in `owner_dir`, the folder of the job that made it) and left
/// uncommitted, as one commit by codex-async whose message names job `id`
/// and the first line of `prompt`. The agent's changes are the files its
/// edits named (`agent_paths`, as its events gave them: absolute, or
/// relative to `run_dir`); anything else uncommitted (the user's own files,
/// or what the agent's commands wrote) is left as it is and returned, so the
/// result can name it instead of passing it off as the agent's work. The branch's earlier
/// commits stay as they are. The user's git config cannot get in the way:
/// no hooks, no signing, no editor, a fixed author and committer.
pub async fn commit_work(
    owner_dir: &Path,
    branch: &str,
    work: &JobWork<'_>,
) -> Result<Committed, WorktreeError> {
    let tree = tree_in(owner_dir);
    // codex may have switched the worktree to another branch: committing
    // there would not put the work on the job's branch.
    let head = git(&tree, &["symbolic-ref", "-q", "HEAD"])
        .await
        .map_err(|e| {
            WorktreeError::Git(format!(
                "the worktree {} is on no branch: {e}",
                tree.display()
            ))
        })?;
    if head.trim() != format!("refs/heads/{branch}") {
        return Err(WorktreeError::Git(format!(
            "the worktree {} is on {} instead of {branch}; nothing committed",
            tree.display(),
            head.trim()
        )));
    }
    let dirty = dirty_paths(&tree).await?;
    if dirty.is_empty() {
        return Ok(Committed::default());
    }
    let root = tree.canonicalize().unwrap_or_else(|_| tree.clone());
    let run_dir = work
        .run_dir
        .canonicalize()
        .unwrap_or_else(|_| work.run_dir.to_path_buf());
    let (mine, left_out): (Vec<String>, Vec<String>) = match work.agent_paths {
        Some(paths) => {
            let codex: std::collections::HashSet<PathBuf> = paths
                .iter()
                .filter_map(|p| relative_to_root(&root, &run_dir, p))
                .collect();
            dirty
                .into_iter()
                .partition(|p| codex.contains(Path::new(p)))
        }
        None => (dirty, Vec::new()),
    };
    if mine.is_empty() {
        return Ok(Committed {
            commit: None,
            left_out,
        });
    }
    let first_line = work
        .prompt
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let message = format!(
        "codex-async job {}: {}\n\nWhat codex changed and left uncommitted in the worktree when the job ended ({}).\n",
        work.id,
        crate::job::events::one_line(first_line, SUBJECT_PROMPT_CHARS),
        work.ending
    );
    // Literal pathspecs: a file named `*.rs` is that file, not a glob.
    let mut add: Vec<String> = ["add", "--all", "--"].map(String::from).to_vec();
    add.extend(mine.iter().map(|p| format!(":(literal){p}")));
    let mut commit: Vec<String> = [
        "-c",
        "commit.gpgsign=false",
        "-c",
        "core.hooksPath=/dev/null",
        "commit",
        "--no-verify",
        "--no-edit",
        "--quiet",
        "--cleanup=verbatim",
        "-m",
        &message,
        "--",
    ]
    .map(String::from)
    .to_vec();
    commit.extend(mine.iter().map(|p| format!(":(literal){p}")));
    let mut tries = 0;
    loop {
        tries += 1;
        let attempt = async {
            git_owned(&tree, &add).await?;
            git_owned(&tree, &commit).await
        };
        match attempt.await {
            Ok(_) => break,
            Err(e) if tries < COMMIT_TRIES && e.contains("index.lock") => {
                tokio::time::sleep(COMMIT_RETRY).await;
            }
            Err(e) => return Err(WorktreeError::Git(e)),
        }
    }
    let sha = git(&tree, &["rev-parse", "HEAD"])
        .await
        .map_err(WorktreeError::Git)?;
    Ok(Committed {
        commit: Some(sha.trim().to_string()),
        left_out,
    })
}

/// What a job did, for [`commit_work`].
#[derive(Debug)]
pub struct JobWork<'a> {
    pub id: &'a JobId,
    pub prompt: &'a str,
    /// How the job ended, for the commit message.
    pub ending: &'a str,
    /// Where the agent ran (relative paths in its events start there).
    pub run_dir: &'a Path,
    /// The files the agent's edits named; None when they are not all known (more
    /// than the summary keeps): then everything uncommitted is committed.
    pub agent_paths: Option<&'a [String]>,
}

/// Every uncommitted path in `tree`, relative to its root (both sides of a
/// rename), from `git status --porcelain -z`: NUL-separated, so no path is
/// quoted or split.
async fn dirty_paths(tree: &Path) -> Result<Vec<String>, WorktreeError> {
    let status = git(
        tree,
        &["status", "--porcelain", "-z", "--untracked-files=all"],
    )
    .await
    .map_err(WorktreeError::Git)?;
    let mut paths = Vec::new();
    let mut entries = status.split('\0').filter(|e| !e.is_empty());
    while let Some(entry) = entries.next() {
        let (code, path) = (entry.get(..2).unwrap_or(""), entry.get(3..).unwrap_or(""));
        paths.push(path.to_string());
        // A rename or copy is followed by the path it came from.
        if code.contains('R') || code.contains('C') {
            if let Some(from) = entries.next() {
                paths.push(from.to_string());
            }
        }
    }
    Ok(paths)
}

/// `path` (as codex named it: absolute, or relative to `run_dir`) relative
/// to the worktree's `root`; None when it is outside the worktree.
fn relative_to_root(root: &Path, run_dir: &Path, path: &str) -> Option<PathBuf> {
    let path = Path::new(path);
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        run_dir.join(path)
    };
    // The file may be gone (a deletion): canonicalize its folder.
    let absolute = match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map(|p| p.join(name))
            .unwrap_or(absolute.clone()),
        _ => absolute,
    };
    let relative = absolute.strip_prefix(root).ok()?;
    // `a/./b` and `a/../b` as git writes them.
    let mut clean = PathBuf::new();
    for part in relative.components() {
        match part {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::Normal(p) => clean.push(p),
            _ => {}
        }
    }
    Some(clean)
}

/// `git diff --stat` of `branch` against the commit its worktree (held in
/// `owner_dir`) branched from: what the branch holds, for the job and for
/// every reply on it.
pub async fn diffstat(owner_dir: &Path, branch: &str) -> Result<String, WorktreeError> {
    let base = read_base(owner_dir)?;
    let branch_ref = format!("refs/heads/{branch}");
    let stat = git(
        &tree_in(owner_dir),
        &["diff", "--stat", &base, &branch_ref, "--"],
    )
    .await
    .map_err(WorktreeError::Git)?;
    Ok(if stat.trim().is_empty() {
        "no changes".into()
    } else {
        stat.trim_end().to_string()
    })
}

/// What `git status --porcelain` lists in `tree`: changed, staged and
/// untracked files (ignored ones are not counted). Empty when all is committed.
pub async fn uncommitted(tree: &Path) -> Result<Vec<String>, WorktreeError> {
    let status = git(tree, &["status", "--porcelain", "--untracked-files=all"])
        .await
        .map_err(WorktreeError::Git)?;
    Ok(status
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

/// Removes the worktree `tree` if it is clean (git itself refuses otherwise,
/// which also covers a change made after the caller looked). The branch stays.
pub async fn remove_clean(tree: &Path) -> Result<(), WorktreeError> {
    let tree_arg = tree.display().to_string();
    git(tree, &["worktree", "remove", &tree_arg])
        .await
        .map(drop)
        .map_err(WorktreeError::Git)
}

/// Whether `branch` (in the repository holding `repo`) is still at the
/// commit the worktree in `job_dir` branched from: codex committed nothing
/// and nothing was left to commit. False whenever git or the record cannot
/// tell (a branch is never deleted on a guess).
pub async fn is_unchanged(job_dir: &Path, repo: &Path, branch: &str) -> bool {
    let Ok(base) = read_base(job_dir) else {
        return false;
    };
    branch_tip(repo, branch)
        .await
        .is_some_and(|tip| tip == base)
}

/// The commit `branch` points at, asked in `dir` (a worktree or the
/// repository holding it); None when git has no such branch or cannot say.
async fn branch_tip(dir: &Path, branch: &str) -> Option<String> {
    let branch_ref = format!("refs/heads/{branch}");
    git(dir, &["rev-parse", "--verify", "--quiet", &branch_ref])
        .await
        .ok()
        .map(|tip| tip.trim().to_string())
}

/// Deletes `branch` in the repository holding `repo` (a pruned job's branch
/// that [`is_unchanged`] found empty). git refuses while a worktree has it
/// checked out.
pub async fn delete_branch(repo: &Path, branch: &str) -> Result<(), WorktreeError> {
    // The worktree was just removed: let git forget it first, or it still
    // counts the branch as checked out there.
    git(repo, &["worktree", "prune"])
        .await
        .map_err(WorktreeError::Git)?;
    git(repo, &["branch", "-D", "--end-of-options", branch])
        .await
        .map(drop)
        .map_err(WorktreeError::Git)
}

/// After a worktree job's folder is removed (pruning): lets the repository at
/// `repo` forget the worktree. Its branch (codex/<job_id>) is the user's work
/// and stays.
pub async fn forget_removed(repo: &Path) -> Result<(), String> {
    git(repo, &["worktree", "prune"]).await.map(drop)
}

/// What a review of the repository holding `dir` can look at: whether
/// anything is uncommitted, the current branch, and the branch to compare a
/// clean tree against.
#[derive(Debug, Clone)]
pub struct ReviewFacts {
    /// `git status --porcelain` lists something (ignored files aside).
    pub dirty: bool,
    /// The current branch (None on a detached HEAD).
    pub branch: Option<String>,
    /// The upstream default branch (`origin/HEAD`, else `origin/main`,
    /// `origin/master`, `main`, `master`, the first that exists) and how
    /// many commits HEAD has that it lacks.
    pub default_branch: Option<(String, u64)>,
}

/// Reads [`ReviewFacts`] for `dir`; an error when `dir` is not in a git
/// repository (with git's words).
pub async fn review_facts(dir: &Path) -> Result<ReviewFacts, WorktreeError> {
    git(dir, &["rev-parse", "--show-toplevel"])
        .await
        .map_err(WorktreeError::NotARepo)?;
    let dirty = !uncommitted(dir).await?.is_empty();
    let branch = git(dir, &["symbolic-ref", "--quiet", "--short", "HEAD"])
        .await
        .ok()
        .map(|b| b.trim().to_string());
    let mut candidates = Vec::new();
    if let Ok(head) = git(
        dir,
        &[
            "symbolic-ref",
            "--quiet",
            "--short",
            "refs/remotes/origin/HEAD",
        ],
    )
    .await
    {
        candidates.push(head.trim().to_string());
    }
    candidates.extend(["origin/main", "origin/master", "main", "master"].map(String::from));
    let mut default_branch = None;
    for candidate in candidates {
        if Some(&candidate) == branch.as_ref() {
            // Comparing a branch with itself reviews nothing.
            continue;
        }
        let commit = format!("{candidate}^{{commit}}");
        if git(dir, &["rev-parse", "--verify", "--quiet", &commit])
            .await
            .is_ok()
        {
            let range = format!("{candidate}..HEAD");
            let ahead = git(dir, &["rev-list", "--count", &range])
                .await
                .map_err(WorktreeError::Git)?;
            default_branch = Some((candidate, ahead.trim().parse().unwrap_or(0)));
            break;
        }
    }
    Ok(ReviewFacts {
        dirty,
        branch,
        default_branch,
    })
}

/// How many commits HEAD (in the repository holding `dir`) has that `base`
/// lacks; None when git cannot tell.
pub async fn commits_ahead(dir: &Path, base: &str) -> Option<u64> {
    let range = format!("{base}..HEAD");
    git(dir, &["rev-list", "--count", "--end-of-options", &range])
        .await
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The full id of commit `rev` in the repository holding `dir`, if it names one.
pub async fn commit_id(dir: &Path, rev: &str) -> Option<String> {
    let commit = format!("{rev}^{{commit}}");
    git(
        dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &commit,
        ],
    )
    .await
    .ok()
    .map(|id| id.trim().to_string())
}

fn read_base(owner_dir: &Path) -> Result<String, WorktreeError> {
    std::fs::read_to_string(base_file(owner_dir))
        .map(|b| b.trim().to_string())
        .map_err(|e| WorktreeError::Git(format!("reading the base commit: {e}")))
}

/// Runs git in `dir` with no terminal, no prompt, no editor and no pager,
/// for at most [`GIT_TIMEOUT`]; stdout on success, stderr on failure.
/// Commits are made by codex-async whatever the user's identity settings.
async fn git_owned(dir: &Path, args: &[String]) -> Result<String, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    git(dir, &args).await
}

/// Serializes this codexd's `git worktree` commands. git does not guard its
/// `.git/worktrees/` admin folders against two of them at once: a `worktree
/// add` beside another add or a prune can fail reading the other's half-made
/// entry ("failed to read .git/worktrees/worktreeN/commondir"), and the
/// cleanup after it fail the same way, leaving a branch that belongs to no
/// job (seen in faults_crash.rs under load). Each takes milliseconds. Other
/// processes' git commands are not held back: a person's own `git worktree`
/// at the same moment can still meet the race, and then sees git's error.
fn worktree_admin() -> &'static tokio::sync::Mutex<()> {
    static ADMIN: std::sync::OnceLock<tokio::sync::Mutex<()>> = std::sync::OnceLock::new();
    ADMIN.get_or_init(|| tokio::sync::Mutex::new(()))
}

async fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let _admin = match args.first() {
        // `branch -D` reads every worktree's HEAD: the same folders.
        Some(&"worktree") | Some(&"branch") => Some(worktree_admin().lock().await),
        _ => None,
    };
    let run = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // Set when codexd was started from inside a git command (a hook):
        // they would point every command here at that other repository.
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_EDITOR", "true")
        .env("GIT_PAGER", "cat")
        .env("GIT_AUTHOR_NAME", COMMITTER_NAME)
        .env("GIT_AUTHOR_EMAIL", COMMITTER_EMAIL)
        .env("GIT_COMMITTER_NAME", COMMITTER_NAME)
        .env("GIT_COMMITTER_EMAIL", COMMITTER_EMAIL)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(GIT_TIMEOUT, run).await {
        Err(_) => {
            return Err(format!(
                "git {} took over {}s",
                args.join(" "),
                GIT_TIMEOUT.as_secs()
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
