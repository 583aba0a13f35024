//! `codexd steer <id> TEXT`: send text into a running job's turn from a
//! terminal — what codex_reply does for a running job from Claude Code.

use std::process::ExitCode;

use codex_async_proto::{paths::Paths, v1::SteerRequest};

use crate::cmd::{self, ui};

pub fn run(job_id: &str, text: &str, json: bool) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    ui::check_job_id(job_id)?;
    cmd::client_runtime()?.block_on(async {
        let Some(mut client) = ui::client(&paths).await else {
            return Ok(ui::not_running(&paths, json));
        };
        let steered = client
            .steer(SteerRequest {
                job_id: job_id.to_string(),
                text: text.to_string(),
            })
            .await
            .map_err(ui::job_error)?
            .into_inner();
        ui::emit_outcome(
            job_id,
            steered.job.as_ref(),
            serde_json::Map::new(),
            &steered.message,
            json,
        )?;
        Ok(ExitCode::SUCCESS)
    })
}
