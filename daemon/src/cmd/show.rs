//! `codexd show <id>`: everything known about one job — its result (the one
//! rendering the MCP tools and tasks return, with codex's answer whole), then
//! its record.

use std::process::ExitCode;

use codex_async_proto::{
    job_result::JobResult,
    paths::Paths,
    v1::{GetRequest, Job},
};

use crate::cmd::{self, ui};

pub fn run(job_id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    ui::check_job_id(job_id)?;
    cmd::client_runtime()?.block_on(async {
        let Some(mut client) = ui::client(&paths).await else {
            return Ok(ui::not_running(&paths, json));
        };
        let answer = client
            .get(GetRequest {
                job_id: job_id.to_string(),
                tail_lines: Some(0),
                since: None,
            })
            .await
            .map_err(ui::job_error)?
            .into_inner();
        let job = answer.job.clone().unwrap_or_default();
        if json {
            ui::emit(&format!(
                "{}\n",
                codex_async_proto::json::job_document(&answer)
            ))?;
        } else {
            let result = JobResult::from_get(&answer, None, chrono::Utc::now())?;
            ui::emit(&render(&job, &result, answer.output_bytes))?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn render(job: &Job, result: &JobResult, output_bytes: u64) -> String {
    let mut out = result.to_text_for_people();
    out.push('\n');
    out.push_str(&format!("{}\n", ui::bold("job:")));
    let mut field = |name: &str, value: &str| {
        out.push_str(&format!("  {:<11} {value}\n", format!("{name}:")));
    };
    // The record keeps the API's status; the watchdog that caused it follows.
    let watchdog = ui::watchdog_of(job)
        .map(|name| format!(" (stopped by its watchdog: {name})"))
        .unwrap_or_default();
    field(
        "status",
        &format!("{}{watchdog}", ui::status_colored(ui::status_of(job), 0)),
    );
    field("prompt", &indent_rest(&job.prompt, 14));
    field("cwd", &job.cwd);
    field("policy", &job.approval_policy);
    field("model", job.model.as_deref().unwrap_or("(codex's default)"));
    field(
        "created",
        &format!("{} ({} ago)", job.created_at, ui::job_age(job)),
    );
    if let Some(started) = &job.started_at {
        field("started", started);
    }
    if let Some(finished) = &job.finished_at {
        field(
            "finished",
            &format!("{finished} (ran {})", ui::job_duration(job)),
        );
    } else if job.started_at.is_some() {
        field("running", &format!("for {}", ui::job_duration(job)));
    }
    if let Some(pid) = job.pid {
        field("pid", &pid.to_string());
    }
    if let Some(parent) = &job.parent_job_id {
        field("reply to", parent);
    }
    if let Some(thread) = &job.thread_id {
        field("thread", thread);
    }
    field(
        "watchdogs",
        &format!(
            "stalled after {}s without progress, stopped after {}s in all",
            job.stall_timeout_seconds, job.max_duration_seconds
        ),
    );
    field(
        "output",
        &format!(
            "{} ({}; `codexd logs {}`)",
            job.output_path,
            ui::human_bytes(output_bytes),
            job.job_id
        ),
    );
    if let Some(diffstat) = &result.diffstat {
        out.push_str(&format!("\n{}\n", ui::bold("diffstat:")));
        for line in diffstat.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

/// Continuation lines of a multi-line value, indented under its first line.
fn indent_rest(text: &str, by: usize) -> String {
    let pad = format!("\n{}", " ".repeat(by));
    text.trim_end().lines().collect::<Vec<_>>().join(&pad)
}
