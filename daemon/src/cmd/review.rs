//! `codexd review [--target …] [cwd]`: codex's reviewer for a person at a
//! terminal. Starts a review job (the same Start the `codex_review` tool
//! makes, so it is an ordinary job: queued, durable, cancellable), follows
//! it as `codexd logs -f` does, then prints its result (the one rendering
//! `codexd show` and the MCP tools use).

use std::{path::PathBuf, process::ExitCode};

use codex_async_proto::{
    job_result::JobResult,
    paths::Paths,
    v1::{GetRequest, ReviewRequest, StartRequest},
};

use crate::{
    api::validate,
    cmd::{self, logs, ui},
    engine,
    job::review::FLAGS,
};

/// `codexd review --help`'s exit status section.
pub const EXIT_STATUS: &str = "\
Exit status:
  0  the review ended done (its findings are printed)
  1  the review ended in error or was cancelled, or could not start (a bad
     flag, nothing to review)
  3  codexd is not running, or it went away and did not come back within 30s
     (the review runs on: `codexd start`, then `codexd logs -f <job_id>`)";

/// What `codexd review` was asked to review.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// auto (default) | uncommitted | base | commit.
    pub target: Option<String>,
    pub base_branch: Option<String>,
    pub commit: Option<String>,
    pub title: Option<String>,
    pub instructions: Option<String>,
    pub model: Option<String>,
    pub reasoning_effort: Option<String>,
    /// The directory to review (default: the current one).
    pub cwd: Option<PathBuf>,
}

pub fn run(options: Options) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    let cwd = match options.cwd {
        Some(dir) => std::path::absolute(&dir)?,
        None => std::env::current_dir()?,
    };
    // Infer the target from the flags given, so `--base main` alone works.
    let target = options.target.unwrap_or_else(|| {
        if options.base_branch.is_some() {
            "base".into()
        } else if options.commit.is_some() {
            "commit".into()
        } else {
            String::new()
        }
    });
    let request = ReviewRequest {
        target,
        base_branch: options.base_branch,
        commit: options.commit,
        title: options.title,
        instructions: options.instructions,
    };
    let started = cmd::client_runtime()?.block_on(async {
        // Checked here first, so an error names this command's flags
        // (codexd would name the tool's arguments): the same rules, run on
        // the same repository.
        let checked = match validate::review(&request, &FLAGS) {
            Ok(requested) => engine::review_target(&requested, &cwd, &FLAGS).await,
            Err(invalid) => Err(invalid.0),
        };
        if let Err(why) = checked {
            anstream::eprintln!("codexd review: {why}");
            return Ok(Err(ExitCode::FAILURE));
        }
        let Some(mut client) = ui::client(&paths).await else {
            return Ok(Err(ui::not_running(&paths, false)));
        };
        let answer = client
            .start(StartRequest {
                cwd: cwd.display().to_string(),
                model: options.model,
                reasoning_effort: options.reasoning_effort,
                review: Some(request),
                ..Default::default()
            })
            .await
            .map_err(ui::rpc_error)?
            .into_inner();
        anyhow::Ok(Ok(answer.job.unwrap_or_default()))
    })?;
    let job = match started {
        Ok(job) => job,
        Err(code) => return Ok(code),
    };
    // anstream strips the bold when stderr is not a terminal or NO_COLOR is set.
    anstream::eprintln!(
        "{} {} (job {}; `codexd cancel {}` stops it)",
        ui::bold("codex reviews"),
        job.review.as_deref().unwrap_or("the changes"),
        job.job_id,
        job.job_id
    );
    let followed = logs::run(&job.job_id, true, false, false)?;
    cmd::client_runtime()?.block_on(async {
        let Some(mut client) = ui::client(&paths).await else {
            return Ok(ui::not_running(&paths, false));
        };
        let answer = client
            .get(GetRequest {
                job_id: job.job_id.clone(),
                tail_lines: Some(0),
                since: None,
            })
            .await
            .map_err(ui::job_error)?
            .into_inner();
        let result = JobResult::from_get(&answer, None, chrono::Utc::now())?;
        // codex's findings were just printed as the job's events.
        ui::emit(&format!("\n{}", result.to_text_after_events()))?;
        Ok(followed)
    })
}
