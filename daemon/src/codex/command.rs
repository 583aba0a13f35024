//! The one builder of codex's command lines. Every kind of job (a new task, a
//! reply resuming a thread, a review) is a variation of one argv, so the flags
//! each codex subcommand accepts are decided here and nowhere else.

use std::ffi::{OsStr, OsString};

use crate::job::{JobRecord, Policy};

/// The codex command line for a job. A new job:
/// `codex exec --json --skip-git-repo-check <policy> [--model M] -C <dir> -- -`;
/// a reply: `codex exec resume --json --skip-git-repo-check <policy> [--model M] <thread> -- -`
/// (resume takes no `-s`/`-C`: the sandbox goes by `-c sandbox_mode=…` and the
/// directory is the process's cwd). The prompt is read from stdin (`-`).
pub fn argv(codex_bin: &OsStr, extra_args: &[String], job: &JobRecord) -> Vec<OsString> {
    let policy = Policy::parse(&job.approval_policy).unwrap_or(Policy::Suggest);
    let reply_thread = job.parent_job_id.as_ref().and(job.thread_id.as_ref());
    let mut argv: Vec<OsString> = vec![codex_bin.to_os_string(), "exec".into()];
    if reply_thread.is_some() {
        argv.push("resume".into());
    }
    argv.push("--json".into());
    argv.push("--skip-git-repo-check".into());
    let flags = if reply_thread.is_some() {
        policy.resume_flags()
    } else {
        policy.codex_flags()
    };
    argv.extend(flags.iter().map(OsString::from));
    argv.extend(extra_args.iter().map(OsString::from));
    if let Some(model) = &job.model {
        argv.push("--model".into());
        argv.push(model.into());
    }
    match reply_thread {
        Some(thread) => argv.push(thread.into()),
        None => {
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
