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
        if json {
            let job = answer.job.as_ref().map(ui::job_json);
            ui::emit(&format!(
                "{}\n",
                json!({"job": job, "cancelled": answer.cancelled, "message": answer.message})
            ))?;
        } else {
            let status = answer
                .job
                .as_ref()
                .map(|j| ui::status_colored(ui::status_of(j), 0))
                .unwrap_or_default();
            ui::emit(&format!("{job_id}: {status}: {}\n", answer.message))?;
        }
        Ok(ExitCode::SUCCESS)
    })
}
