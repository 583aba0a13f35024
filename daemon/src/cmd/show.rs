//! `codexd show <id>`: everything known about one job — its record, codex's
//! final message, the files it changed, the commands it ran, token usage.

use std::process::ExitCode;

use codex_async_proto::{
    paths::Paths,
    v1::{GetRequest, Job, JobSummary},
};
use serde_json::json;

use crate::cmd::{self, ui};

pub fn run(job_id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
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
            .map_err(ui::rpc_error)?
            .into_inner();
        let job = answer.job.unwrap_or_default();
        let summary = answer.summary.unwrap_or_default();
        if json {
            ui::emit(&format!(
                "{}\n",
                json!({"job": ui::job_json(&job), "summary": ui::summary_json(&summary),
                       "output_bytes": answer.output_bytes})
            ))?;
        } else {
            ui::emit(&render(&job, &summary, answer.output_bytes))?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn render(job: &Job, s: &JobSummary, output_bytes: u64) -> String {
    let mut out = String::new();
    let status = ui::status_of(job);
    let exit = job
        .exit_code
        .map(|c| format!(" (exit {c})"))
        .unwrap_or_default();
    out.push_str(&format!(
        "{} {}{exit}\n",
        ui::bold(&format!("job {}", job.job_id)),
        ui::status_colored(status, 0)
    ));
    let mut field = |name: &str, value: &str| {
        out.push_str(&format!("  {:<11} {value}\n", format!("{name}:")));
    };
    if let Some(error) = &job.error {
        field("error", error);
    }
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
    if job.isolation == "worktree" {
        field(
            "worktree",
            &format!(
                "{} (branch {})",
                job.worktree.as_deref().unwrap_or("-"),
                job.branch.as_deref().unwrap_or("-")
            ),
        );
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
    if !s.activity.is_empty() {
        field("activity", &s.activity);
    }
    if let Some(error) = &s.error_message {
        field("codex said", &ui::red(error));
    }
    if let Some(usage) = &s.usage {
        field(
            "tokens",
            &format!(
                "{} in ({} cached), {} out",
                usage.input_tokens, usage.cached_input_tokens, usage.output_tokens
            ),
        );
    }
    if let Some(message) = &s.final_message {
        out.push_str(&format!("\n{}\n", ui::bold("final message:")));
        for line in message.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    if !s.files_changed.is_empty() {
        out.push_str(&format!(
            "\n{}\n",
            ui::bold(&format!("files changed ({}):", s.files_changed.len()))
        ));
        for f in &s.files_changed {
            out.push_str(&format!("  {:<7} {}\n", f.kind, f.path));
        }
    }
    if let Some(diffstat) = &s.diffstat {
        out.push_str(&format!("\n{}\n", ui::bold("diffstat:")));
        for line in diffstat.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    if s.commands_count > 0 {
        let shown = s.commands.len();
        let note = if (shown as u32) < s.commands_count {
            format!(", last {shown} shown")
        } else {
            String::new()
        };
        out.push_str(&format!(
            "\n{}\n",
            ui::bold(&format!("commands ({} run{note}):", s.commands_count))
        ));
        for c in &s.commands {
            let mark = match (c.status.as_str(), c.exit_code) {
                ("completed", Some(0)) => ui::green("ok  "),
                ("in_progress", _) => ui::yellow("... "),
                (_, Some(code)) => ui::red(&format!("{code:<4}")),
                _ => ui::red(&format!("{:<4}", c.status)),
            };
            out.push_str(&format!("  {mark} {}\n", ui::excerpt(&c.command, 200)));
        }
    }
    out
}

/// Continuation lines of a multi-line value, indented under its first line.
fn indent_rest(text: &str, by: usize) -> String {
    let pad = format!("\n{}", " ".repeat(by));
    text.trim_end().lines().collect::<Vec<_>>().join(&pad)
}
