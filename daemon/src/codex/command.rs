//! The one builder of codex's command lines. Every kind of job (a new task, a
//! reply resuming a thread, a review) is a variation of one argv, so the flags
//! each codex subcommand accepts are decided here and nowhere else (checked
//! against `codex exec --help`, `codex exec resume --help` and
//! `codex exec review --help` of codex 0.171).

use std::ffi::{OsStr, OsString};

use crate::job::{JobRecord, Kind, Policy};

/// The reasoning efforts codex-async passes as `-c model_reasoning_effort`:
/// the values codex's configuration reference and the Responses API name
/// (`reasoning.effort`). codex 0.171 itself does not check the value (it
/// sends any string on to the provider), so this list is the only guard.
pub const REASONING_EFFORTS: &[&str] = codex_async_proto::values::REASONING_EFFORTS;

/// A reasoning effort that is not one of [`REASONING_EFFORTS`].
#[derive(Debug, thiserror::Error)]
#[error("reasoning_effort: unknown value {0:?}; use one of {efforts} (codex's model_reasoning_effort), or leave it out for the default", efforts = codex_async_proto::values::listed(REASONING_EFFORTS))]
pub struct BadEffort(pub String);

/// Checks a reasoning effort name.
pub fn reasoning_effort(s: &str) -> Result<&'static str, BadEffort> {
    REASONING_EFFORTS
        .iter()
        .find(|e| **e == s)
        .copied()
        .ok_or_else(|| BadEffort(s.chars().take(40).collect()))
}

/// The codex command line for a job; the prompt (a task, a reply, or a
/// review's instructions) is read from stdin (`-`).
///
/// - a new job: `codex exec --json --skip-git-repo-check <policy> [flags] -C <dir> -- -`
/// - a reply: `codex exec resume --json --skip-git-repo-check <policy> [flags] <thread> -- -`
///   (resume takes no `-s`/`-C`: the sandbox goes by `-c sandbox_mode=…` and
///   the directory is the process's cwd)
/// - a review: `codex exec review --json --skip-git-repo-check -c sandbox_mode="read-only"
///   [flags] <--uncommitted | --base B | --commit SHA [--title T] | -- ->` (no `-s`/`-C`
///   either; always read-only)
///
/// where `[flags]` are the configured extra arguments, `--model M`,
/// `-c model_reasoning_effort="E"` and `--output-schema FILE` when set.
pub fn argv(codex_bin: &OsStr, extra_args: &[String], job: &JobRecord) -> Vec<OsString> {
    let kind = job.kind();
    let mut argv: Vec<OsString> = vec![codex_bin.to_os_string(), "exec".into()];
    let flags = match kind {
        Kind::Review(_) => {
            argv.push("review".into());
            Policy::Suggest.resume_flags()
        }
        Kind::Reply { .. } => {
            argv.push("resume".into());
            job.approval_policy.resume_flags()
        }
        Kind::Task => job.approval_policy.codex_flags(),
    };
    argv.push("--json".into());
    argv.push("--skip-git-repo-check".into());
    argv.extend(flags.iter().map(OsString::from));
    argv.extend(extra_args.iter().map(OsString::from));
    if let Some(model) = &job.model {
        argv.push("--model".into());
        argv.push(model.into());
    }
    if let Some(effort) = &job.reasoning_effort {
        // TOML string syntax: codex parses the value as TOML.
        argv.push("-c".into());
        argv.push(format!("model_reasoning_effort=\"{effort}\"").into());
    }
    if let Some(schema) = &job.output_schema {
        argv.push("--output-schema".into());
        argv.push(schema.into());
    }
    match kind {
        Kind::Review(review) => {
            argv.extend(review.target.flags());
            return argv;
        }
        Kind::Reply { thread } => argv.push(thread.into()),
        Kind::Task => {
            argv.push("-C".into());
            argv.push(job.run_dir().into());
        }
    }
    // The prompt itself goes on stdin (see monitor.rs); `--` keeps the
    // `-` a positional argument.
    argv.push("--".into());
    argv.push("-".into());
    argv
}
