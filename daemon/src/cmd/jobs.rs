//! `codexd jobs`: the jobs as a table, newest first.

use std::process::ExitCode;

use codex_async_proto::{
    paths::Paths,
    v1::{JobStatus, ListRequest},
};
use serde_json::json;

use crate::cmd::{self, ui};

/// Widest cwd and prompt shown, in terminal columns; the full values are in
/// `codexd show`.
const CWD_WIDTH: usize = 32;
const PROMPT_WIDTH: usize = 48;

pub fn run(limit: u32, status: Option<JobStatus>, json: bool) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    cmd::client_runtime()?.block_on(async {
        let Some(mut client) = ui::client(&paths).await else {
            return Ok(ui::not_running(&paths, json));
        };
        let listed = client
            .list(ListRequest {
                limit: Some(limit),
                status: status.map(|s| s as i32),
            })
            .await
            .map_err(ui::rpc_error)?
            .into_inner();
        let (jobs, left_off) = (listed.jobs, listed.left_off);
        if json {
            let jobs: Vec<_> = jobs.iter().map(ui::job_json).collect();
            ui::emit(&format!(
                "{}\n",
                json!({ "jobs": jobs, "left_off": left_off })
            ))?;
            return Ok(ExitCode::SUCCESS);
        }
        if jobs.is_empty() {
            let which = status.map(|s| format!("{s} ")).unwrap_or_default();
            ui::emit(&format!(
                "no {which}jobs (start one from Claude Code with the codex_start tool)\n"
            ))?;
            return Ok(ExitCode::SUCCESS);
        }
        let rows: Vec<[String; 7]> = jobs
            .iter()
            .map(|job| {
                [
                    job.job_id.clone(),
                    ui::status_label(job).to_string(),
                    if job.agent.is_empty() {
                        "codex".to_string()
                    } else {
                        job.agent.clone()
                    },
                    ui::job_age(job),
                    ui::job_duration(job),
                    ui::short_path(&job.cwd, CWD_WIDTH),
                    ui::excerpt(&job.prompt, PROMPT_WIDTH),
                ]
            })
            .collect();
        let header = ["ID", "STATUS", "AGENT", "AGE", "DURATION", "CWD", "PROMPT"];
        // Columns are terminal columns, not characters: a CJK character or
        // an emoji in a cwd or prompt takes two.
        let mut widths = header.map(ui::width);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(ui::width(cell));
            }
        }
        let mut out = String::new();
        let line: Vec<String> = header
            .iter()
            .zip(widths)
            .map(|(h, w)| ui::pad(h, w))
            .collect();
        out.push_str(&ui::bold(line.join("  ").trim_end()));
        out.push('\n');
        for (row, job) in rows.iter().zip(&jobs) {
            let mut cells: Vec<String> = Vec::with_capacity(7);
            for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                cells.push(match i {
                    1 => ui::job_status_colored(job, w),
                    6 => cell.clone(),
                    _ => ui::pad(cell, w),
                });
            }
            out.push_str(&cells.join("  "));
            out.push('\n');
        }
        if left_off > 0 {
            out.push_str(&format!(
                "({left_off} older jobs left out: the answer would be over 4 MiB; try --status)\n"
            ));
        }
        ui::emit(&out)?;
        Ok(ExitCode::SUCCESS)
    })
}
