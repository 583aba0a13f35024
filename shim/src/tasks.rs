//! Jobs as MCP tasks (the `io.modelcontextprotocol/tasks` extension, SEP-2663).
//!
//! A task is a job seen through the extension: its `taskId` is the job id,
//! so the id the model sees works with every tool and `codexd show`, and
//! nothing is kept in the shim — `tasks/get` asks codexd, so any shim process
//! answers for any task, across restarts of the shim and of codexd.
//!
//! rmcp does the protocol (the method gates, the wire shapes); this module
//! maps a job to a task: `working` while queued or running, then `completed`
//! with the job's one rendering ([`ResultText`]) as the tool result
//! (`isError` when the job ended in `error`), or `cancelled`.

use codex_async_proto::{job_result::parse_time as parse, v1};
use rmcp::{
    model::{DetailedTask, JsonObject, Task, TaskPayload, TaskStatus},
    service::RequestContext,
    ErrorData, RoleServer,
};

use crate::{
    output::{ResultText, Status},
    tool_error::ToolError,
};

/// `pollIntervalMs` while a job is young: most jobs that end quickly end in
/// their first half minute, and a poll costs codexd well under a millisecond.
const POLL_YOUNG_MS: u64 = 500;
/// `pollIntervalMs` later: the model learns of the end within about a second.
const POLL_MS: u64 = 1000;
/// How long a job counts as young.
const YOUNG_SECONDS: i64 = 30;

/// The task handle for a job a tool just started, when this request's
/// `_meta` declares the extension (revision 2026-07-28, as interactive Claude
/// Code sends it) and codexd's `task_answers` setting is on; None means
/// answer with the job record as before.
///
/// Only the request's own capabilities count, not the session's: a
/// 2025-11-25 session may name the extension at `initialize` (the MCP
/// Inspector 2.12 does) and still read a task handle as a tool result.
pub fn handle_for(
    context: &RequestContext<RoleServer>,
    response: &v1::StartResponse,
) -> Option<Task> {
    let declared = context
        .meta
        .client_capabilities()
        .is_some_and(|caps| caps.supports_tasks());
    if !declared || !response.task_answers {
        return None;
    }
    let job = response.job.as_ref()?;
    Some(task(job, None, response.retention_seconds))
}

/// The job id behind a task id, or the extension's error for a malformed one.
pub fn job_id(task_id: &str) -> Result<String, ErrorData> {
    let well_formed = task_id.len() == 12
        && task_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if well_formed {
        Ok(task_id.to_string())
    } else {
        Err(ErrorData::invalid_params(
            format!(
                "taskId: {task_id:?} is not a codex-async task; task ids are job ids, \
                 12 lowercase hex characters, as returned by codex_start"
            ),
            None,
        ))
    }
}

/// A failed Get for `method` as a JSON-RPC error: an unknown job is the
/// extension's invalid-params error; anything else (codexd unreachable) an
/// internal error, which the client retries on its next poll.
pub fn error(method: &str, task_id: &str, error: &ToolError) -> ErrorData {
    if error.is_bad_input() {
        ErrorData::invalid_params(
            format!("taskId: no codex-async task {task_id} ({error})"),
            None,
        )
    } else {
        ErrorData::internal_error(format!("{method} {task_id}: {error}"), None)
    }
}

/// `tasks/update` of any task: codex jobs never ask for input.
pub fn no_input_requests(task_id: &str) -> ErrorData {
    ErrorData::invalid_params(
        format!(
            "taskId: task {task_id} has no input requests; codex-async tasks never ask for \
             input, so there is nothing to update"
        ),
        None,
    )
}

/// The task state of the job in a Get answer.
pub fn detailed(response: &v1::GetResponse) -> Result<DetailedTask, ErrorData> {
    let job = response
        .job
        .as_ref()
        .ok_or_else(|| ErrorData::internal_error("codexd answered Get without a job", None))?;
    let status = Status::of(job).ok_or_else(|| {
        ErrorData::internal_error(
            format!(
                "codexd reported job {} with an unknown status ({}); update codexd and \
                 codex-async-shim together",
                job.job_id, job.status
            ),
            None,
        )
    })?;
    let base = task(job, response.summary.as_ref(), response.retention_seconds);
    let payload = match status {
        Status::Queued | Status::Running | Status::InputRequired => TaskPayload::Working,
        Status::Cancelled => TaskPayload::Cancelled,
        Status::Done | Status::Error => {
            let mut result = ResultText::from_proto(response)
                .and_then(ResultText::into_call_tool_result)
                .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
            // codex ran and failed: the model must read why, so it is a
            // completed task whose tool result is an error.
            if status == Status::Error {
                result.is_error = Some(true);
            }
            let value = serde_json::to_value(result).map_err(|e| {
                ErrorData::internal_error(format!("cannot serialize the result: {e}"), None)
            })?;
            let result: JsonObject = match value {
                serde_json::Value::Object(map) => map,
                _ => JsonObject::new(),
            };
            TaskPayload::Completed { result }
        }
    };
    Ok(DetailedTask::new(base, payload))
}

/// The base task fields of a job.
fn task(job: &v1::Job, summary: Option<&v1::JobSummary>, retention_seconds: u64) -> Task {
    let updated = job
        .finished_at
        .as_deref()
        .or(job.started_at.as_deref())
        .unwrap_or(&job.created_at);
    let mut task = Task::new(
        job.job_id.clone(),
        TaskStatus::Working,
        job.created_at.clone(),
        updated.to_string(),
    );
    let created = parse(&job.created_at);
    let young = created
        .map(|c| (chrono::Utc::now() - c).num_seconds() < YOUNG_SECONDS)
        .unwrap_or(false);
    task = task.with_poll_interval_ms(if young { POLL_YOUNG_MS } else { POLL_MS });
    // A job is kept while it runs and for the retention period after it
    // ends: the ttl from creation is known only once it has ended.
    if retention_seconds > 0 {
        if let (Some(created), Some(finished)) =
            (created, job.finished_at.as_deref().and_then(parse))
        {
            let lived = u64::try_from((finished - created).num_milliseconds()).unwrap_or(0);
            task = task.with_ttl_ms(lived.saturating_add(retention_seconds.saturating_mul(1000)));
        }
    }
    let message = match Status::of(job) {
        Some(Status::Queued) => Some("queued: waiting for a free run slot".to_string()),
        _ => summary
            .map(|s| s.activity.clone())
            .filter(|a| !a.is_empty())
            .or_else(|| Some("Codex is starting".to_string())),
    };
    if let Some(message) = message {
        task = task.with_status_message(message);
    }
    task
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_async_proto::v1::JobStatus;

    fn response(status: JobStatus) -> v1::GetResponse {
        v1::GetResponse {
            job: Some(v1::Job {
                job_id: "0123456789ab".into(),
                status: status as i32,
                created_at: "2026-01-01T00:00:00Z".into(),
                started_at: Some("2026-01-01T00:00:01Z".into()),
                finished_at: status_is_final(status).then(|| "2026-01-01T00:01:00Z".into()),
                exit_code: status_is_final(status).then_some(3),
                ..Default::default()
            }),
            summary: Some(v1::JobSummary {
                activity: "running: cargo test".into(),
                ..Default::default()
            }),
            retention_seconds: 86_400,
            ..Default::default()
        }
    }

    fn status_is_final(status: JobStatus) -> bool {
        matches!(
            status,
            JobStatus::Done | JobStatus::Error | JobStatus::Cancelled
        )
    }

    fn wire(status: JobStatus) -> serde_json::Value {
        let detailed = detailed(&response(status)).expect("task");
        serde_json::to_value(detailed).expect("json")
    }

    #[test]
    fn a_running_job_is_working_with_what_codex_does() {
        let task = wire(JobStatus::Running);
        assert_eq!(task["taskId"], "0123456789ab");
        assert_eq!(task["status"], "working");
        assert_eq!(task["statusMessage"], "running: cargo test");
        assert_eq!(task["pollIntervalMs"], POLL_MS);
        assert_eq!(task["ttlMs"], serde_json::Value::Null, "kept while it runs");
        assert!(task.get("result").is_none());
    }

    #[test]
    fn an_error_job_is_completed_with_an_error_result() {
        let task = wire(JobStatus::Error);
        assert_eq!(task["status"], "completed");
        assert_eq!(task["result"]["isError"], true);
        let text = task["result"]["content"][0]["text"].as_str().unwrap_or("");
        assert!(
            text.starts_with("Codex job 0123456789ab error (exit 3"),
            "{text}"
        );
        assert_eq!(task["ttlMs"], 60_000 + 86_400_000);
        let done = wire(JobStatus::Done);
        assert_eq!(done["status"], "completed");
        assert!(done["result"].get("isError").is_none_or(|e| e == false));
    }

    #[test]
    fn a_cancelled_job_is_cancelled() {
        assert_eq!(wire(JobStatus::Cancelled)["status"], "cancelled");
    }

    #[test]
    fn malformed_ids_are_invalid_params() {
        for bad in ["", "xyz", "0123456789AB", "../../etc/pa", "0123456789abc"] {
            let e = job_id(bad).expect_err(bad);
            assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS, "{bad}");
        }
        assert!(job_id("0123456789ab").is_ok());
    }
}
