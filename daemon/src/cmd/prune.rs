//! `codexd prune`: delete finished jobs older than an age (records and folders).

use std::{process::ExitCode, time::Duration};

use codex_async_proto::{paths::Paths, v1::PruneRequest};
use serde_json::json;

use crate::cmd::{self, ui};

pub fn run(
    older_than: Duration,
    dry_run: bool,
    branches: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    cmd::client_runtime()?.block_on(async {
        let Some(mut client) = ui::client(&paths).await else {
            return Ok(ui::not_running(&paths, json));
        };
        let answer = client
            .prune(PruneRequest {
                older_than_seconds: older_than.as_secs(),
                dry_run,
                empty_branches: branches,
            })
            .await
            .map_err(ui::rpc_error)?
            .into_inner();
        if json {
            ui::emit(&format!(
                "{}\n",
                json!({"dry_run": dry_run, "job_ids": answer.job_ids,
                       "freed_bytes": answer.freed_bytes, "warnings": answer.warnings,
                       "branches_deleted": answer.branches_deleted})
            ))?;
            return Ok(ExitCode::SUCCESS);
        }
        let age = ui::human_duration(i64::try_from(older_than.as_secs()).unwrap_or(i64::MAX));
        let mut out = String::new();
        if answer.job_ids.is_empty() && answer.warnings.is_empty() {
            out.push_str(&format!(
                "nothing to prune: no job finished more than {age} ago\n"
            ));
        } else if answer.job_ids.is_empty() {
            out.push_str(&format!(
                "nothing pruned: the jobs that finished more than {age} ago were kept, see why below\n"
            ));
        } else {
            let verb = if dry_run { "would prune" } else { "pruned" };
            let freed = if dry_run { "would free" } else { "freed" };
            out.push_str(&format!(
                "{verb} {} finished job(s) older than {age}, {freed} {}:\n",
                answer.job_ids.len(),
                ui::human_bytes(answer.freed_bytes)
            ));
            for id in &answer.job_ids {
                out.push_str(&format!("  {id}\n"));
            }
        }
        if !answer.branches_deleted.is_empty() {
            let verb = if dry_run { "would delete" } else { "deleted" };
            out.push_str(&format!(
                "{verb} {} empty branch(es): {}\n",
                answer.branches_deleted.len(),
                answer.branches_deleted.join(", ")
            ));
        }
        for warning in &answer.warnings {
            out.push_str(&format!("{} {warning}\n", ui::yellow("warning:")));
        }
        ui::emit(&out)?;
        Ok(ExitCode::SUCCESS)
    })
}
