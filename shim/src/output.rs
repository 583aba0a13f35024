//! The tools' results: the JSON each tool returns and the schema it declares.
//!
//! Each struct derives `Serialize` (the `structuredContent` and the JSON text
//! block) and `JsonSchema` (the tool's `outputSchema`, derived by rmcp from the
//! `Json<T>` return type). Optional values are `Option`s without
//! `skip_serializing_if`, so an absent value is written as JSON `null` and the
//! schema says `["…", "null"]`: the field set is fixed, as in the Python tool.

use codex_async_proto::v1::{self, JobStatus};
use schemars::JsonSchema;
use serde::Serialize;

use crate::tool_error::ToolError;

/// How many characters of a prompt `codex_list` shows.
pub const LIST_PROMPT_CHARS: usize = 200;

/// Where a job is in its life.
///
/// Inlined in the schemas (no `$ref`), which every client understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum Status {
    /// Accepted; Codex has not started yet.
    Queued,
    /// Codex is working.
    Running,
    /// Codex finished with exit code 0.
    Done,
    /// Codex exited non-zero, could not start, or was lost; see `error`.
    Error,
    /// Stopped by codex_cancel.
    Cancelled,
}

impl Status {
    fn from_proto(job: &v1::Job) -> Result<Self, ToolError> {
        match JobStatus::try_from(job.status).unwrap_or(JobStatus::Unspecified) {
            JobStatus::Queued => Ok(Self::Queued),
            JobStatus::Running => Ok(Self::Running),
            JobStatus::Done => Ok(Self::Done),
            JobStatus::Error => Ok(Self::Error),
            JobStatus::Cancelled => Ok(Self::Cancelled),
            JobStatus::Unspecified => Err(ToolError::new(format!(
                "codexd reported job {} with an unknown status ({}); codexd and \
                 codex-async-shim must come from the same release: update both and restart codexd.",
                job.job_id, job.status
            ))),
        }
    }
}

/// Result of `codex_start`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StartOutput {
    /// The new job's id; pass it to codex_poll and codex_cancel.
    pub job_id: String,
    /// Usually "running"; "error" if Codex could not start (see codex_poll).
    pub status: Status,
    /// Process id of Codex, when it runs.
    pub pid: Option<i32>,
}

/// Result of `codex_poll`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PollOutput {
    /// The job's id.
    pub job_id: String,
    /// queued | running | done | error | cancelled.
    pub status: Status,
    /// Codex's exit code once it has exited, else null.
    pub exit_code: Option<i32>,
    /// Why the job is in status error (or how it was cancelled), else null.
    pub error: Option<String>,
    /// The last lines of Codex's output (stdout and stderr), at most 8000 characters.
    pub output: String,
    /// True when earlier output exists beyond what `output` holds.
    pub output_truncated: bool,
    /// When Codex started (RFC 3339), or null.
    pub started_at: Option<String>,
    /// When the job ended (RFC 3339), or null while it runs.
    pub finished_at: Option<String>,
    /// The prompt the job was started with.
    pub prompt: String,
    /// The directory Codex runs in.
    pub cwd: String,
}

/// Result of `codex_list`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListOutput {
    /// Jobs, newest first.
    pub jobs: Vec<JobSummary>,
}

/// One job in `codex_list`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct JobSummary {
    /// The job's id.
    pub job_id: String,
    /// queued | running | done | error | cancelled.
    pub status: Status,
    /// The first 200 characters of the prompt.
    pub prompt: String,
    /// The directory Codex runs in.
    pub cwd: String,
    /// When the job was accepted (RFC 3339).
    pub created_at: String,
    /// When Codex started (RFC 3339), or null.
    pub started_at: Option<String>,
    /// When the job ended (RFC 3339), or null while it runs.
    pub finished_at: Option<String>,
    /// Codex's exit code once it has exited, else null.
    pub exit_code: Option<i32>,
}

/// Result of `codex_cancel`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CancelOutput {
    /// The job's id.
    pub job_id: String,
    /// The job's status after the call ("cancelled" if this call stopped it).
    pub status: Status,
    /// True when this call stopped the job; false when it had already finished.
    pub cancelled: bool,
    /// What happened, in a sentence.
    pub message: String,
}

/// The job a response must carry; its absence is a daemon bug worth naming.
fn require_job(job: Option<v1::Job>, call: &str) -> Result<v1::Job, ToolError> {
    job.ok_or_else(|| {
        ToolError::new(format!(
            "codexd answered {call} without a job; codexd and codex-async-shim \
             must come from the same release: update both and restart codexd."
        ))
    })
}

impl StartOutput {
    /// From the daemon's answer to Start.
    pub fn from_proto(response: v1::StartResponse) -> Result<Self, ToolError> {
        let job = require_job(response.job, "Start")?;
        Ok(Self {
            status: Status::from_proto(&job)?,
            job_id: job.job_id,
            pid: job.pid,
        })
    }
}

impl PollOutput {
    /// From the daemon's answer to Get.
    pub fn from_proto(response: v1::GetResponse) -> Result<Self, ToolError> {
        let job = require_job(response.job, "Get")?;
        Ok(Self {
            status: Status::from_proto(&job)?,
            job_id: job.job_id,
            exit_code: job.exit_code,
            error: job.error,
            output: response.output,
            output_truncated: response.output_truncated,
            started_at: job.started_at,
            finished_at: job.finished_at,
            prompt: job.prompt,
            cwd: job.cwd,
        })
    }
}

impl ListOutput {
    /// From the daemon's answer to List (already newest first).
    pub fn from_proto(response: v1::ListResponse) -> Result<Self, ToolError> {
        let jobs = response
            .jobs
            .into_iter()
            .map(JobSummary::from_proto)
            .collect::<Result<_, _>>()?;
        Ok(Self { jobs })
    }
}

impl JobSummary {
    fn from_proto(job: v1::Job) -> Result<Self, ToolError> {
        Ok(Self {
            status: Status::from_proto(&job)?,
            prompt: job.prompt.chars().take(LIST_PROMPT_CHARS).collect(),
            job_id: job.job_id,
            cwd: job.cwd,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            exit_code: job.exit_code,
        })
    }
}

impl CancelOutput {
    /// From the daemon's answer to Cancel.
    pub fn from_proto(response: v1::CancelResponse) -> Result<Self, ToolError> {
        let job = require_job(response.job, "Cancel")?;
        Ok(Self {
            status: Status::from_proto(&job)?,
            job_id: job.job_id,
            cancelled: response.cancelled,
            message: response.message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn job(status: JobStatus) -> v1::Job {
        v1::Job {
            job_id: "0123456789ab".into(),
            status: status as i32,
            prompt: "é".repeat(300),
            cwd: "/w".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            ..Default::default()
        }
    }

    #[test]
    fn absent_values_are_null_and_status_is_lowercase() {
        let out = PollOutput::from_proto(v1::GetResponse {
            job: Some(job(JobStatus::Running)),
            output: "hi".into(),
            ..Default::default()
        })
        .expect("poll output");
        let value = serde_json::to_value(out).expect("json");
        assert_eq!(value["status"], json!("running"));
        assert_eq!(value["exit_code"], Value::Null);
        assert_eq!(value["finished_at"], Value::Null);
        assert_eq!(value["error"], Value::Null);
        assert_eq!(value["output"], json!("hi"));
    }

    #[test]
    fn list_cuts_prompts_on_char_boundaries() {
        let out = ListOutput::from_proto(v1::ListResponse {
            jobs: vec![job(JobStatus::Done)],
        })
        .expect("list output");
        assert_eq!(out.jobs[0].prompt.chars().count(), LIST_PROMPT_CHARS);
    }

    #[test]
    fn unspecified_status_and_missing_job_are_tool_errors() {
        assert!(StartOutput::from_proto(v1::StartResponse {
            job: Some(job(JobStatus::Unspecified))
        })
        .is_err());
        assert!(CancelOutput::from_proto(v1::CancelResponse::default()).is_err());
    }
}
