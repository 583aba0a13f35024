//! Resolving a review's target against its repository (git, through
//! `worktree.rs`), apart from the target types in `review.rs`: the job
//! record holds a [`Review`] and must not depend on git.

use std::path::Path;

use crate::job::review::{Fields, Requested, Review, Target};
use crate::worktree;

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
