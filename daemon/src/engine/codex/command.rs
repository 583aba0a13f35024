//! The one builder of codex's command lines, so the flags each codex
//! subcommand accepts are decided here and nowhere else: `codex app-server`
//! for tasks and replies (what they ask of it goes in its requests:
//! app_server.rs), `codex exec review` for reviews (checked against
//! `codex app-server --help` and `codex exec review --help` of codex 0.146
//! and 0.171).

use std::ffi::{OsStr, OsString};

use crate::job::{review::Target, JobRecord, Kind};

/// A review's sandbox: `exec review` takes no `-s`, and a review only reads.
const REVIEW_SANDBOX: [&str; 2] = ["-c", "sandbox_mode=\"read-only\""];

/// The codex command line for a job.
///
/// - a task or a reply: `codex app-server [extra]`; its thread, policy,
///   model, effort, schema and prompt go in the session's requests
///   (app_server.rs `Plan`)
/// - a review: `codex exec review --json --skip-git-repo-check -c sandbox_mode="read-only"
///   [extra] [--model M] [-c model_reasoning_effort="E"] [--output-schema FILE]
///   <--uncommitted | --base B | --commit SHA [--title T] | -- ->`, the
///   instructions on stdin (`-`)
///
/// where `[extra]` are codexd's `extra_codex_args`, given to every codex
/// command line (config.rs lets through only what both take), and for the
/// app-server also `auth` (auth.rs: what makes it read `CODEX_API_KEY`).
pub fn argv(
    codex_bin: &OsStr,
    extra_args: &[String],
    auth: &[String],
    job: &JobRecord,
) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![codex_bin.to_os_string()];
    let Kind::Review(review) = job.kind() else {
        argv.push("app-server".into());
        argv.extend(extra_args.iter().chain(auth).map(OsString::from));
        return argv;
    };
    argv.extend(["exec", "review", "--json", "--skip-git-repo-check"].map(OsString::from));
    argv.extend(REVIEW_SANDBOX.map(OsString::from));
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
    argv.extend(target_flags(&review.target));
    argv
}

/// The flags `codex exec review` takes for this target, after every
/// other flag: a target's own, or for instructions the prompt from stdin.
pub fn target_flags(target: &Target) -> Vec<OsString> {
    match target {
        Target::Uncommitted => vec!["--uncommitted".into()],
        Target::Base { branch } => vec!["--base".into(), branch.into()],
        Target::Commit { commit, title } => {
            let mut flags: Vec<OsString> = vec!["--commit".into(), commit.into()];
            if let Some(title) = title {
                flags.push("--title".into());
                flags.push(title.into());
            }
            flags
        }
        // `--` keeps the `-` (read the instructions from stdin) positional.
        Target::Instructions => vec!["--".into(), "-".into()],
    }
}
