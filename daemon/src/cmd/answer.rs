//! `codexd answer <id> <decision>` or `codexd answer <id> --text TEXT`:
//! answer the question a job's codex asks (approval policy `ask`: an
//! approval, or codex's own question) from a terminal — the same answer a
//! Claude Code form or codex_answer gives.

use std::process::ExitCode;

use codex_async_proto::{paths::Paths, v1::AnswerRequest};

use crate::cmd::{self, ui};

pub fn run(
    job_id: &str,
    decision: Option<String>,
    text: Option<String>,
    question: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    ui::check_job_id(job_id)?;
    cmd::client_runtime()?.block_on(async {
        let Some(mut client) = ui::client(&paths).await else {
            return Ok(ui::not_running(&paths, json));
        };
        let answer = client
            .answer(AnswerRequest {
                job_id: job_id.to_string(),
                decision: decision.unwrap_or_default(),
                question_id: question.map(str::to_string),
                answer: text,
            })
            .await
            .map_err(ui::job_error)?
            .into_inner();
        ui::emit_outcome(
            job_id,
            answer.job.as_ref(),
            serde_json::Map::new(),
            &answer.message,
            json,
        )?;
        Ok(ExitCode::SUCCESS)
    })
}
