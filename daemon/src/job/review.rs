//! What a review job reviews: the target a client asks for and the one
//! recorded with the job (for `auto`, chosen from the repository's state by
//! the engine), in words for the result. How a target is written on the
//! agent's command line is the engine's (`engine/codex/command.rs`).

use serde::{Deserialize, Serialize};

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
    pub(crate) flags: bool,
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
