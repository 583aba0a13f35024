//! What `codex exec review` reviews: the target a client asks for, the one
//! codex is given (for `auto`, chosen from the repository's state), and how
//! each is written on codex's command line.

use std::{ffi::OsString, path::Path};

use serde::{Deserialize, Serialize};

use crate::worktree;

/// The target a review request names (checked, not yet resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// The uncommitted changes when the tree is dirty, else the branch
    /// against its upstream default branch.
    Auto,
    Uncommitted,
    Base(String),
    Commit {
        commit: String,
        title: Option<String>,
    },
    /// Custom instructions instead of a target (they go on stdin).
    Instructions,
}

/// What codex reviews, as recorded with the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "lowercase")]
pub enum Target {
    /// Staged, unstaged and untracked changes.
    Uncommitted,
    /// The current branch against `branch` (from their merge base).
    Base { branch: String },
    /// One commit (its full id), with an optional title for the summary.
    Commit {
        commit: String,
        title: Option<String>,
    },
    /// What the custom instructions (the job's prompt) say.
    Instructions,
}

/// A review job's target and, in words, what it covers and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    #[serde(flatten)]
    pub target: Target,
    /// One sentence for the result: what was reviewed (and for `auto`, why).
    pub described: String,
}

impl Target {
    /// The flags `codex exec review` takes for this target, after every
    /// other flag: a target's own, or for instructions the prompt from stdin.
    pub fn flags(&self) -> Vec<OsString> {
        match self {
            Self::Uncommitted => vec!["--uncommitted".into()],
            Self::Base { branch } => vec!["--base".into(), branch.into()],
            Self::Commit { commit, title } => {
                let mut flags: Vec<OsString> = vec!["--commit".into(), commit.into()];
                if let Some(title) = title {
                    flags.push("--title".into());
                    flags.push(title.into());
                }
                flags
            }
            // `--` keeps the `-` (read the instructions from stdin) positional.
            Self::Instructions => vec!["--".into(), "-".into()],
        }
    }

    /// What is reviewed, in words.
    pub fn describe(&self) -> String {
        match self {
            Self::Uncommitted => "the uncommitted changes (staged, unstaged and untracked)".into(),
            Self::Base { branch } => format!("the current branch against {branch}"),
            Self::Commit { commit, title } => {
                let short: String = commit.chars().take(12).collect();
                match title {
                    Some(t) => format!("commit {short} ({t})"),
                    None => format!("commit {short}"),
                }
            }
            Self::Instructions => "what the custom instructions ask for".into(),
        }
    }

    /// The text recorded as a review job's prompt (shown by `codex_list`
    /// and `codexd jobs`); a review with instructions records those instead.
    pub fn prompt(&self) -> String {
        format!("Review {}", self.describe())
    }
}

/// The target names a request may use, for error messages.
pub const TARGETS: &str = "uncommitted, base (with base_branch), commit (with commit, optional title), auto (the default)";

/// Resolves a requested target against the repository holding `cwd`:
/// `auto` becomes the uncommitted changes or the branch against its default
/// branch, a base branch and a commit must exist (a commit is pinned to its
/// full id, so the job reviews what was asked even if the branch moves).
/// The error names the field and the fix; nothing has been created then.
pub async fn resolve(requested: &Requested, cwd: &Path) -> Result<Review, String> {
    let facts = worktree::review_facts(cwd).await.map_err(|e| match e {
        worktree::WorktreeError::NotARepo(why) => format!(
            "cwd: {} is not inside a git repository ({why}); codex reviews git changes: pass a directory in a git repository",
            cwd.display()
        ),
        other => format!("cwd: cannot read the git repository at {}: {other}", cwd.display()),
    })?;
    let review = |target: Target, why: Option<String>| {
        let mut described = target.describe();
        if let Some(why) = why {
            described.push_str(&format!(" (target auto: {why})"));
        }
        Review { target, described }
    };
    match requested {
        Requested::Uncommitted => Ok(review(Target::Uncommitted, None)),
        Requested::Instructions => Ok(review(Target::Instructions, None)),
        Requested::Base(branch) => {
            if worktree::commit_id(cwd, branch).await.is_none() {
                return Err(format!(
                    "base_branch: {branch:?} is not a branch or commit of the repository at {}; pass an existing branch, e.g. main",
                    cwd.display()
                ));
            }
            Ok(review(Target::Base { branch: branch.clone() }, None))
        }
        Requested::Commit { commit, title } => match worktree::commit_id(cwd, commit).await {
            Some(id) => Ok(review(
                Target::Commit {
                    commit: id,
                    title: title.clone(),
                },
                None,
            )),
            None => Err(format!(
                "commit: {commit:?} is not a commit of the repository at {}; pass an existing commit, e.g. HEAD or a sha from git log",
                cwd.display()
            )),
        },
        Requested::Auto if facts.dirty => Ok(review(
            Target::Uncommitted,
            Some("the working tree has uncommitted changes".into()),
        )),
        Requested::Auto => {
            let on = facts
                .branch
                .as_deref()
                .map(|b| format!("branch {b}"))
                .unwrap_or_else(|| "the detached HEAD".into());
            match facts.default_branch {
                Some((base, ahead)) if ahead > 0 => Ok(review(
                    Target::Base {
                        branch: base.clone(),
                    },
                    Some(format!(
                        "the working tree is clean, and {on} has {ahead} commit{} that {base} lacks",
                        if ahead == 1 { "" } else { "s" }
                    )),
                )),
                Some((base, _)) => Err(format!(
                    "target: auto found nothing to review: the working tree at {} is clean and {on} has no commits that {base} lacks; make changes first, or pass target \"commit\" with commit (e.g. HEAD) to review one commit",
                    cwd.display()
                )),
                None => Err(format!(
                    "target: auto found nothing to review: the working tree at {} is clean and there is no default branch (origin/HEAD, main or master) other than {on} to compare with; pass target \"base\" with base_branch, or target \"commit\" with commit",
                    cwd.display()
                )),
            }
        }
    }
}
