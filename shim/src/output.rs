//! The tools' results: the JSON each tool returns and the schema it declares.
//!
//! Each struct derives `Serialize` (the `structuredContent` and the JSON text
//! block) and `JsonSchema` (the tool's `outputSchema`, derived by rmcp from the
//! [`Json<T>`] return type). Optional values are `Option`s without
//! `skip_serializing_if`, so an absent value is written as JSON `null` and the
//! schema says `["…", "null"]`: the field set is fixed, as in the Python tool.
//!
//! Field order matters: the JSON text a model reads lists the fields in the
//! order they are declared here (see [`Json`]), so each struct puts what the
//! model needs first first.

use codex_async_proto::v1::{self, JobStatus};
use rmcp::{
    handler::server::tool::IntoCallToolResult,
    model::{CallToolResponse, CallToolResult, ContentBlock},
};
use schemars::JsonSchema;
use serde::Serialize;

use crate::tool_error::ToolError;

/// A tool's result: JSON text plus the same value as `structuredContent`.
///
/// Like rmcp's `Json`, but the text is serialized from the struct itself, so
/// its keys keep their declaration order (a finished codex_poll leads with
/// `final_message`); rmcp's renders a `serde_json::Value`, whose keys are
/// sorted. Named `Json` because rmcp's `#[tool]` macro derives a tool's
/// `outputSchema` from a return type whose last path segment is `Json<T>`.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: Serialize + JsonSchema + 'static> IntoCallToolResult for Json<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        let serialize_error = |e: serde_json::Error| {
            rmcp::ErrorData::internal_error(format!("cannot serialize the result: {e}"), None)
        };
        let text = serde_json::to_string(&self.0).map_err(serialize_error)?;
        let value = serde_json::to_value(&self.0).map_err(serialize_error)?;
        // Not CallToolResult::structured: it renders the value to text too,
        // a third serialization of up to ~16 KB per poll, thrown away here.
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(value);
        Ok(result.into())
    }
}

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
    /// True for done, error and cancelled: the job will not change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Error | Self::Cancelled)
    }

    /// The lowercase name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }

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
    /// The new job's id; pass it to codex_wait, codex_poll, codex_result and codex_cancel.
    pub job_id: String,
    /// Usually "running"; "error" if Codex could not start (see codex_poll).
    pub status: Status,
    /// Process id of Codex, when it runs.
    pub pid: Option<i32>,
    /// With isolation "worktree": the new branch Codex works on
    /// (codex/<job_id>), else null.
    pub branch: Option<String>,
    /// With isolation "worktree": the git worktree folder Codex works in, else null.
    pub worktree: Option<String>,
}

/// Result of `codex_reply`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReplyOutput {
    /// The new job's id (a reply is a job of its own); pass it to codex_wait,
    /// codex_poll and codex_result.
    pub job_id: String,
    /// Usually "running"; "error" if Codex could not start (see codex_poll).
    pub status: Status,
    /// Process id of Codex, when it runs.
    pub pid: Option<i32>,
    /// The job whose conversation this one continues.
    pub parent_job_id: Option<String>,
}

/// Result of `codex_poll` and `codex_wait`.
///
/// `final_message` and `files_changed` come first: once the job has ended
/// they are what the model needs, and it reads them before anything else.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PollOutput {
    /// Once the job has ended: Codex's last message, its final answer (null if
    /// it said nothing). Null while the job is queued or running.
    pub final_message: Option<String>,
    /// Once the job has ended: the files Codex changed, each {path, kind} with
    /// kind add | delete | update ([] if none). Null while the job is queued
    /// or running (see files_changed_count).
    pub files_changed: Option<Vec<FileChange>>,
    /// queued | running | done | error | cancelled; done, error and cancelled are final.
    pub status: Status,
    /// Seconds since Codex started (until it ended, once it has); null before it starts.
    pub elapsed_seconds: Option<u64>,
    /// What Codex is doing now (or did last), in one line; null before it says anything.
    pub activity: Option<String>,
    /// How many commands Codex has run so far.
    pub commands_run: u32,
    /// How many files Codex has changed so far.
    pub files_changed_count: u32,
    /// What Codex did since `since` (or lately, without `since`), one compact
    /// line per event: messages, commands with their exit codes, file changes.
    pub events: String,
    /// Pass this back as `since` on your next codex_poll or codex_wait of this
    /// job to get only newer events.
    pub cursor: u64,
    /// True when more events happened than `events` holds; poll again with
    /// `cursor` as `since` to read on.
    pub events_truncated: bool,
    /// Codex's exit code once it has exited, else null.
    pub exit_code: Option<i32>,
    /// Why the job is in status error (or how it was cancelled), else null.
    pub error: Option<String>,
    /// Codex's conversation id, once Codex has started it.
    pub thread_id: Option<String>,
    /// When Codex started (RFC 3339), or null.
    pub started_at: Option<String>,
    /// When the job ended (RFC 3339), or null while it runs.
    pub finished_at: Option<String>,
    /// The directory Codex runs in.
    pub cwd: String,
    /// The job's id.
    pub job_id: String,
    /// Only when `tail_lines` was passed: the last lines of Codex's raw output
    /// (stdout and stderr), at most 8000 characters; else null.
    pub output: Option<String>,
    /// Only when `tail_lines` was passed: true when earlier output exists
    /// beyond what `output` holds; else null.
    pub output_truncated: Option<bool>,
}

/// Result of `codex_result`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResultOutput {
    /// The job's id.
    pub job_id: String,
    /// queued | running | done | error | cancelled. While queued or running
    /// the other fields are what is known so far.
    pub status: Status,
    /// Codex's exit code once it has exited, else null.
    pub exit_code: Option<i32>,
    /// Why the job is in status error (or how it was cancelled), else null.
    pub error: Option<String>,
    /// Codex's last message: its final answer once the job is done (null if it said nothing).
    pub final_message: Option<String>,
    /// The files Codex changed, each {path, kind} with kind add | delete | update.
    pub files_changed: Vec<FileChange>,
    /// The commands Codex ran, in order (the most recent ones if there were very many).
    pub commands: Vec<CommandRun>,
    /// How many commands Codex ran in all.
    pub commands_run: u32,
    /// Tokens used, once Codex has reported them, else null.
    pub usage: Option<Usage>,
    /// Codex's conversation id (codex_reply continues it).
    pub thread_id: Option<String>,
    /// With isolation "worktree": the branch holding Codex's changes, else null.
    pub branch: Option<String>,
    /// With isolation "worktree": the worktree folder, else null.
    pub worktree: Option<String>,
    /// With isolation "worktree", once the job ended: `git diff --stat` of its branch, else null.
    pub diffstat: Option<String>,
}

/// A file Codex changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct FileChange {
    /// The file's path, as Codex gave it.
    pub path: String,
    /// add | delete | update.
    pub kind: String,
}

/// A command Codex ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct CommandRun {
    /// The command line.
    pub command: String,
    /// Its exit code, once it has one.
    pub exit_code: Option<i32>,
    /// in_progress | completed | failed | declined.
    pub status: String,
}

/// Tokens Codex used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct Usage {
    /// Input tokens, including cached ones.
    pub input_tokens: u64,
    /// Input tokens served from the provider's cache.
    pub cached_input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
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
            branch: job.branch.filter(|b| !b.is_empty()),
            worktree: job.worktree.filter(|w| !w.is_empty()),
        })
    }
}

impl ReplyOutput {
    /// From the daemon's answer to a Start with `reply_to`.
    pub fn from_proto(response: v1::StartResponse) -> Result<Self, ToolError> {
        let job = require_job(response.job, "Start")?;
        Ok(Self {
            status: Status::from_proto(&job)?,
            job_id: job.job_id,
            pid: job.pid,
            parent_job_id: job.parent_job_id.filter(|p| !p.is_empty()),
        })
    }
}

impl PollOutput {
    /// From the daemon's answer to Get; `with_output` when the caller asked
    /// for the raw tail (`tail_lines`).
    pub fn from_proto(response: v1::GetResponse, with_output: bool) -> Result<Self, ToolError> {
        let job = require_job(response.job, "Get")?;
        let status = Status::from_proto(&job)?;
        let summary = response.summary.unwrap_or_default();
        let (final_message, files_changed) = if status.is_final() {
            (
                summary.final_message.clone().filter(|m| !m.is_empty()),
                Some(file_changes(&summary)),
            )
        } else {
            (None, None)
        };
        Ok(Self {
            final_message,
            files_changed,
            status,
            elapsed_seconds: elapsed_seconds(
                job.started_at.as_deref(),
                job.finished_at.as_deref(),
                chrono::Utc::now(),
            ),
            activity: Some(summary.activity.clone()).filter(|a| !a.is_empty()),
            commands_run: summary.commands_count,
            files_changed_count: u32::try_from(summary.files_changed.len()).unwrap_or(u32::MAX),
            events: response.events,
            cursor: response.next_cursor,
            events_truncated: response.events_truncated,
            exit_code: job.exit_code,
            error: job_error(status, job.error, summary.error_message),
            thread_id: job.thread_id.filter(|t| !t.is_empty()),
            started_at: job.started_at,
            finished_at: job.finished_at,
            cwd: job.cwd,
            job_id: job.job_id,
            output: with_output.then_some(response.output),
            output_truncated: with_output.then_some(response.output_truncated),
        })
    }
}

impl ResultOutput {
    /// From the daemon's answer to Get.
    pub fn from_proto(response: v1::GetResponse) -> Result<Self, ToolError> {
        let job = require_job(response.job, "Get")?;
        let status = Status::from_proto(&job)?;
        let summary = response.summary.unwrap_or_default();
        Ok(Self {
            files_changed: file_changes(&summary),
            commands: summary
                .commands
                .into_iter()
                .map(|c| CommandRun {
                    command: c.command,
                    exit_code: c.exit_code,
                    status: c.status,
                })
                .collect(),
            commands_run: summary.commands_count,
            usage: summary.usage.map(|u| Usage {
                input_tokens: u.input_tokens,
                cached_input_tokens: u.cached_input_tokens,
                output_tokens: u.output_tokens,
            }),
            final_message: summary.final_message.filter(|m| !m.is_empty()),
            diffstat: summary.diffstat.filter(|d| !d.is_empty()),
            error: job_error(status, job.error, summary.error_message),
            status,
            exit_code: job.exit_code,
            thread_id: job.thread_id.filter(|t| !t.is_empty()),
            branch: job.branch.filter(|b| !b.is_empty()),
            worktree: job.worktree.filter(|w| !w.is_empty()),
            job_id: job.job_id,
        })
    }
}

fn file_changes(summary: &v1::JobSummary) -> Vec<FileChange> {
    summary
        .files_changed
        .iter()
        .map(|f| FileChange {
            path: f.path.clone(),
            kind: f.kind.clone(),
        })
        .collect()
}

/// The `error` a model reads: the daemon's reason, plus codex's own message
/// when the job failed and the reason does not already say it ("codex exited
/// with code 1" alone does not tell what went wrong). codex's error events of
/// a job that then succeeded (it retries after "Reconnecting…") are left out.
fn job_error(status: Status, reason: Option<String>, codex_said: Option<String>) -> Option<String> {
    let reason = reason.filter(|r| !r.is_empty());
    let codex_said = codex_said.filter(|m| !m.is_empty());
    if status != Status::Error {
        return reason;
    }
    match (reason, codex_said) {
        (Some(reason), Some(said)) if !reason.contains(&said) => Some(format!("{reason}: {said}")),
        (Some(reason), _) => Some(reason),
        (None, said) => said,
    }
}

/// Whole seconds from `started_at` to `finished_at` (or `now` while the job
/// runs); None before it started or when a time does not parse.
fn elapsed_seconds(
    started_at: Option<&str>,
    finished_at: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<u64> {
    let parse = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let start = parse(started_at?)?;
    let end = match finished_at {
        Some(t) => parse(t)?,
        None => now,
    };
    Some(u64::try_from((end - start).num_seconds()).unwrap_or(0))
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
        let out = PollOutput::from_proto(
            v1::GetResponse {
                job: Some(job(JobStatus::Running)),
                output: "hi".into(),
                ..Default::default()
            },
            true,
        )
        .expect("poll output");
        let value = serde_json::to_value(out).expect("json");
        assert_eq!(value["status"], json!("running"));
        assert_eq!(value["exit_code"], Value::Null);
        assert_eq!(value["finished_at"], Value::Null);
        assert_eq!(value["error"], Value::Null);
        assert_eq!(value["output"], json!("hi"));
        assert_eq!(value["final_message"], Value::Null);
        assert_eq!(value["files_changed"], Value::Null);
        assert_eq!(value["elapsed_seconds"], Value::Null);
        assert_eq!(value["activity"], Value::Null);
    }

    fn summary() -> v1::JobSummary {
        v1::JobSummary {
            activity: "ran: cargo test (exit 0)".into(),
            final_message: Some("All green.".into()),
            files_changed: vec![v1::FileChange {
                path: "src/lib.rs".into(),
                kind: "update".into(),
            }],
            commands: vec![v1::CommandRun {
                command: "cargo test".into(),
                exit_code: Some(0),
                status: "completed".into(),
            }],
            commands_count: 1,
            usage: Some(v1::Usage {
                input_tokens: 10,
                cached_input_tokens: 2,
                output_tokens: 5,
            }),
            error_message: Some("boom".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_finished_poll_leads_with_the_answer_and_the_files() {
        let mut finished = job(JobStatus::Done);
        finished.started_at = Some("2026-01-01T00:00:00Z".into());
        finished.finished_at = Some("2026-01-01T00:01:05.5+00:00".into());
        let out = PollOutput::from_proto(
            v1::GetResponse {
                job: Some(finished),
                output: "raw".into(),
                events: "msg: All green.".into(),
                next_cursor: 42,
                summary: Some(summary()),
                ..Default::default()
            },
            false,
        )
        .expect("poll output");
        let text = match Json(out.clone()).into_call_tool_result() {
            Ok(CallToolResponse::Complete(result)) => result.content[0]
                .as_text()
                .map(|t| t.text.clone())
                .unwrap_or_default(),
            other => panic!("{other:?}"),
        };
        assert!(
            text.starts_with(
                r#"{"final_message":"All green.","files_changed":[{"path":"src/lib.rs","kind":"update"}],"status":"done""#
            ),
            "{text}"
        );
        let value = serde_json::to_value(out).expect("json");
        assert_eq!(value["elapsed_seconds"], json!(65));
        assert_eq!(value["cursor"], json!(42));
        assert_eq!(value["commands_run"], json!(1));
        assert_eq!(value["files_changed_count"], json!(1));
        assert_eq!(value["output"], Value::Null, "no tail unless asked");
        assert_eq!(value["output_truncated"], Value::Null);
        // A job that succeeded keeps codex's transient errors out of `error`.
        assert_eq!(value["error"], Value::Null);
    }

    #[test]
    fn result_has_what_to_act_on() {
        let mut failed = job(JobStatus::Error);
        failed.error = Some("codex exited with code 1".into());
        failed.exit_code = Some(1);
        let out = ResultOutput::from_proto(v1::GetResponse {
            job: Some(failed),
            summary: Some(summary()),
            ..Default::default()
        })
        .expect("result output");
        let value = serde_json::to_value(out).expect("json");
        assert_eq!(value["error"], json!("codex exited with code 1: boom"));
        assert_eq!(value["final_message"], json!("All green."));
        assert_eq!(
            value["commands"],
            json!([{"command": "cargo test", "exit_code": 0, "status": "completed"}])
        );
        assert_eq!(
            value["usage"],
            json!({"input_tokens": 10, "cached_input_tokens": 2, "output_tokens": 5})
        );
        assert_eq!(value["branch"], Value::Null);
        assert_eq!(value["diffstat"], Value::Null);
    }

    #[test]
    fn errors_combine_reason_and_codex_message() {
        let e = |status, reason: Option<&str>, said: Option<&str>| {
            job_error(status, reason.map(Into::into), said.map(Into::into))
        };
        assert_eq!(
            e(Status::Error, Some("x: boom"), Some("boom")),
            Some("x: boom".into())
        );
        assert_eq!(e(Status::Error, None, Some("boom")), Some("boom".into()));
        assert_eq!(e(Status::Done, None, Some("Reconnecting... 1/5")), None);
        assert_eq!(
            e(Status::Cancelled, Some("cancelled"), Some("boom")),
            Some("cancelled".into())
        );
    }

    #[test]
    fn elapsed_runs_to_now_while_running() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:10Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        assert_eq!(
            elapsed_seconds(Some("2026-01-01T00:00:00Z"), None, now),
            Some(10)
        );
        assert_eq!(elapsed_seconds(None, None, now), None);
        assert_eq!(elapsed_seconds(Some("garbage"), None, now), None);
        assert_eq!(
            elapsed_seconds(Some("2026-01-01T00:00:20Z"), None, now),
            Some(0)
        );
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
