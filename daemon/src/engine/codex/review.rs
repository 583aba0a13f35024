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

/// What the caller calls a review request's fields, so an error names what
/// they typed: the MCP tool's arguments, or `codexd review`'s flags.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub target: &'static str,
    pub base_branch: &'static str,
    pub commit: &'static str,
    pub title: &'static str,
    pub instructions: &'static str,
    pub cwd: &'static str,
    /// Flags are written `--target base`; arguments `target "base"`.
    flags: bool,
}

/// The `codex_review` tool's (and the Start RPC's) field names.
pub const ARGUMENTS: Fields = Fields {
    target: "target",
    base_branch: "base_branch",
    commit: "commit",
    title: "title",
    instructions: "instructions",
    cwd: "cwd",
    flags: false,
};

/// `codexd review`'s flags.
pub const FLAGS: Fields = Fields {
    target: "--target",
    base_branch: "--base",
    commit: "--commit",
    title: "--title",
    instructions: "--instructions",
    cwd: "the directory",
    flags: true,
};

impl Fields {
    /// `target "base"` or `--target base`.
    pub fn target_is(&self, target: &str) -> String {
        if self.flags {
            format!("{} {target}", self.target)
        } else {
            format!("{} \"{target}\"", self.target)
        }
    }

    /// The target names a request may use, for error messages.
    pub fn targets(&self) -> String {
        format!(
            "uncommitted, base (with {}), commit (with {}, optional {}), auto (the default)",
            self.base_branch, self.commit, self.title
        )
    }
}

/// Resolves a requested target against the repository holding `cwd`:
/// `auto` becomes the uncommitted changes or the branch against its default
/// branch, a base branch and a commit must exist (a commit is pinned to its
/// full id, so the job reviews what was asked even if the branch moves).
/// The error names the field and the fix; nothing has been created then.
pub async fn resolve(requested: &Requested, cwd: &Path, names: &Fields) -> Result<Review, String> {
    let facts = worktree::review_facts(cwd).await.map_err(|e| match e {
        worktree::WorktreeError::NotARepo(why) => format!(
            "{}: {} is not inside a git repository ({why}); codex reviews git changes: pass a directory in a git repository",
            names.cwd,
            cwd.display()
        ),
        other => format!(
            "{}: cannot read the git repository at {}: {other}",
            names.cwd,
            cwd.display()
        ),
    })?;
    let on = facts
        .branch
        .as_deref()
        .map(|b| format!("branch {b}"))
        .unwrap_or_else(|| "the detached HEAD".into());
    let review = |target: Target, why: Option<String>| {
        let mut described = target.describe();
        if let Some(why) = why {
            described.push_str(&format!(" (target auto: {why})"));
        }
        Review { target, described }
    };
    // An explicit target with nothing to review is refused as `auto` is:
    // codex would only report that it found nothing.
    match requested {
        Requested::Uncommitted if !facts.dirty => Err(format!(
            "{}: the working tree at {} is clean, there is nothing uncommitted to review; make changes first, or pass {} with {} (e.g. HEAD) to review a commit",
            names.target_is("uncommitted"),
            cwd.display(),
            names.target_is("commit"),
            names.commit
        )),
        Requested::Uncommitted => Ok(review(Target::Uncommitted, None)),
        Requested::Instructions => Ok(review(Target::Instructions, None)),
        Requested::Base(branch) => {
            if worktree::commit_id(cwd, branch).await.is_none() {
                return Err(format!(
                    "{}: {branch:?} is not a branch or commit of the repository at {}; pass an existing branch, e.g. main",
                    names.base_branch,
                    cwd.display()
                ));
            }
            if !facts.dirty && worktree::commits_ahead(cwd, branch).await == Some(0) {
                return Err(format!(
                    "{}: {on} has no commits that {branch} lacks and the working tree at {} is clean, so there is nothing to review; pass the branch yours started from (e.g. main), or {} with {} to review one commit",
                    names.base_branch,
                    cwd.display(),
                    names.target_is("commit"),
                    names.commit
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
                "{}: {commit:?} is not a commit of the repository at {}; pass an existing commit, e.g. HEAD or a sha from git log",
                names.commit,
                cwd.display()
            )),
        },
        Requested::Auto if facts.dirty => Ok(review(
            Target::Uncommitted,
            Some("the working tree has uncommitted changes".into()),
        )),
        Requested::Auto => {
            // `target: auto found nothing`, `--target auto found nothing`.
            let auto = if names.flags {
                names.target_is("auto")
            } else {
                format!("{}: auto", names.target)
            };
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
                    "{auto} found nothing to review: the working tree at {} is clean and {on} has no commits that {base} lacks; make changes first, or pass {} with {} (e.g. HEAD) to review one commit",
                    cwd.display(),
                    names.target_is("commit"),
                    names.commit
                )),
                None => Err(format!(
                    "{auto} found nothing to review: the working tree at {} is clean and there is no default branch (origin/HEAD, main or master) other than {on} to compare with; pass {} with {}, or {} with {}",
                    cwd.display(),
                    names.target_is("base"),
                    names.base_branch,
                    names.target_is("commit"),
                    names.commit
                )),
            }
        }
    }
}
