//! `codexd cancel <id>`: stop a job and everything it started.

use std::process::ExitCode;

use codex_async_proto::{paths::Paths, v1::CancelRequest};
use serde_json::json;

use crate::cmd::{self, ui};

pub fn run(job_id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    ui::check_job_id(job_id)?;
    cmd::client_runtime()?.block_on(async {
        let Some(mut client) = ui::client(&paths).await else {
            return Ok(ui::not_running(&paths, json));
        };
        let answer = client
            .cancel(CancelRequest {
                job_id: job_id.to_string(),
            })
            .await
            .map_err(ui::job_error)?
            .into_inner();
        let mut extra = serde_json::Map::new();
        extra.insert("cancelled".into(), json!(answer.cancelled));
        ui::emit_outcome(job_id, answer.job.as_ref(), extra, &answer.message, json)?;
        Ok(ExitCode::SUCCESS)
    })
}
