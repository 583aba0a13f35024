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

use codex_async_proto::v1;
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

impl<T: Serialize> Json<T> {
    /// The tool result: the JSON text and `structuredContent`.
    pub fn into_result(self) -> Result<CallToolResult, ToolError> {
        let serialize_error =
            |e: serde_json::Error| ToolError::new(format!("cannot serialize the result: {e}"));
        let text = serde_json::to_string(&self.0).map_err(serialize_error)?;
        let value = serde_json::to_value(&self.0).map_err(serialize_error)?;
        // Not CallToolResult::structured: it renders the value to text too,
        // a third serialization, thrown away here.
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(value);
        Ok(result)
    }
}

impl<T: Serialize + JsonSchema + 'static> IntoCallToolResult for Json<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        self.into_result()
            .map(Into::into)
            .map_err(|e| rmcp::ErrorData::internal_error(e.to_string(), None))
    }
}

/// How many characters of a prompt `codex_list` shows (codexd sends no more).
pub use codex_async_proto::values::LIST_PROMPT_CHARS;

/// The shapes shared with `codexd show`: one rendering of a job's result.
pub use codex_async_proto::job_result::{CommandRun, FileChange, JobResult, Status, Usage};

/// The status of a job record, or the tool error for a daemon of another release.
fn status_of(job: &v1::Job) -> Result<Status, ToolError> {
    Status::of(job).ok_or_else(|| {
        ToolError::new(format!(
            "codexd reported job {} with an unknown status ({}); codexd and \
             codex-async-shim must come from the same release: update both and restart codexd.",
            job.job_id, job.status
        ))
    })
}

/// A job's result as a tool result: the compact text the model reads.
#[derive(Debug, Clone)]
pub struct ResultText(pub JobResult);

impl ResultText {
    /// The result of the job in a Get answer, sized for an MCP client.
    pub fn from_proto(response: &v1::GetResponse) -> Result<Self, ToolError> {
        let answer_budget = codex_async_proto::job_result::MCP_TEXT_BUDGET - 5_000;
        JobResult::from_get(response, Some(answer_budget), chrono::Utc::now())
            .map(Self)
            .map_err(|e| {
                ToolError::new(format!(
                    "{e}; codexd and codex-async-shim must come from the same release: \
                     update both and restart codexd."
                ))
            })
    }

    /// The tool result: the text alone, `isError` unset (the call itself
    /// succeeded).
    ///
    /// No `structuredContent`: Claude Code 2.1.332 gives the model a result's
    /// `structuredContent` instead of its text when both are present
    /// (measured in daemon/tests/claude_code.rs), and the same facts as JSON
    /// cost about three times the characters of this text. Programs that
    /// want the fields read them over gRPC (Get) or `codexd show --json`.
    pub fn into_call_tool_result(self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult::success(vec![ContentBlock::text(
            self.0.to_text(),
        )]))
    }
}

/// Result of `codex_start`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StartOutput {
    /// The new job's id; pass it to codex_wait, codex_poll, codex_result and codex_cancel.
    pub job_id: String,
    /// Usually "running"; "error" if Codex could not start (see codex_poll).
    pub status: Status,
    /// Process id of Codex; null at start (Codex is starting: codex_poll shows it).
    pub pid: Option<i32>,
    /// With isolation "worktree": the new branch Codex works on
    /// (codex/<job_id>), else null.
    pub branch: Option<String>,
    /// With isolation "worktree": the git worktree folder Codex works in, else null.
    pub worktree: Option<String>,
    /// With approval_policy "ask": how its questions reach the user; with
    /// isolation "worktree" and uncommitted changes in cwd's repository: that
    /// the worktree starts without them. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Result of `codex_review`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReviewOutput {
    /// The review job's id; pass it to codex_wait, codex_poll, codex_result and codex_cancel.
    pub job_id: String,
    /// Usually "running"; "error" if Codex could not start (see codex_poll).
    pub status: Status,
    /// Process id of Codex; null at start (Codex is starting: codex_poll shows it).
    pub pid: Option<i32>,
    /// What Codex reviews (for target auto, also why that was chosen).
    pub review: String,
}

/// Result of `codex_reply`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReplyOutput {
    /// The new job's id (a reply is a job of its own); pass it to codex_wait,
    /// codex_poll and codex_result.
    pub job_id: String,
    /// Usually "running"; "error" if Codex could not start (see codex_poll).
    pub status: Status,
    /// Process id of Codex; null at start (Codex is starting: codex_poll shows it).
    pub pid: Option<i32>,
    /// The job whose conversation this one continues.
    pub parent_job_id: Option<String>,
    /// With approval_policy "ask": how its questions reach the user; absent
    /// otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Set when the job was still running and the prompt went into its turn
    /// instead (job_id is then that job): what happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steered: Option<String>,
}

/// Result of `codex_poll` and `codex_wait` while the job is queued or
/// running. Once it has ended, or while its codex asks, they return its
/// [`ResultText`] instead, so the answer (or the question) reaches the model
/// once.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PollOutput {
    /// queued | running (input_required, done, error and cancelled come as
    /// the job's result).
    pub status: Status,
    /// Seconds since Codex started; absent before it starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_seconds: Option<u64>,
    /// What Codex is doing now, in one line; absent before it says anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    /// How many commands Codex has run so far.
    pub commands_run: u32,
    /// How many files Codex has changed so far.
    pub files_changed_count: u32,
    /// What Codex did since `since` (or lately, without `since`), one compact
    /// line per event; codex_wait includes them only when `since` is passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<String>,
    /// Pass this back as `since` to get only newer events.
    pub cursor: u64,
    /// True when more events happened than `events` holds.
    pub events_truncated: bool,
    /// The job's id.
    pub job_id: String,
    /// Only when `tail_lines` was passed: the last lines of Codex's raw output
    /// (stdout and stderr), at most 8000 characters; else null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Only when `tail_lines` was passed: true when earlier output exists
    /// beyond what `output` holds; else null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_truncated: Option<bool>,
}

/// Result of `codex_list`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListOutput {
    /// Jobs, newest first.
    pub jobs: Vec<JobSummary>,
    /// Older matching jobs left out to keep the answer small; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_off: Option<u32>,
}

/// One job in `codex_list`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct JobSummary {
    /// The job's id.
    pub job_id: String,
    /// queued | running | input_required | done | error | cancelled.
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
    /// With status input_required: what Codex asks (codex_answer answers
    /// it); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// The agent that runs the job when it is not codex (gemini, claude);
    /// absent for codex, so a list of codex jobs reads as it always did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
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

/// What a start answer without a task says of a job with approval policy
/// "ask": the model must relay the questions (the task path's form needs no
/// word here: the tool description and the instructions say it).
const ASK_NOTE: &str = "Codex asks before running or changing anything outside cwd: codex_wait \
                        returns its question; ask the user, then codex_answer.";

/// The same for a Claude Code job: it asks before any command and any
/// change outside cwd (its `acceptEdits` mode; edits inside go ahead).
const CLAUDE_ASK_NOTE: &str = "Claude asks before running commands or changing anything \
                               outside cwd: codex_wait returns its question; ask the user, \
                               then codex_answer.";

fn ask_note(job: &v1::Job) -> Option<String> {
    let note = match job.agent.as_str() {
        "claude" => CLAUDE_ASK_NOTE,
        _ => ASK_NOTE,
    };
    (job.approval_policy == "ask").then(|| note.to_string())
}

/// The start answer's note: how an `ask` job's questions reach the user,
/// and what a worktree job does not see (the caller's uncommitted changes).
fn start_note(job: &v1::Job) -> Option<String> {
    let notes: Vec<String> = ask_note(job)
        .into_iter()
        .chain(job.worktree_note.clone().filter(|n| !n.is_empty()))
        .collect();
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// The text of a codex_answer result: codexd's sentence and where the job
/// is now, in one line; when codex already asks again, that question and
/// how to answer it.
pub fn answer_text(response: v1::AnswerResponse) -> Result<String, ToolError> {
    let job = require_job(response.job, "Answer")?;
    let status = status_of(&job)?;
    let message = response.message.trim().trim_end_matches('.');
    let mut text = if message.is_empty() {
        format!("Job {} is {}.", job.job_id, status.as_str())
    } else {
        format!("{message}; job {} is {}.", job.job_id, status.as_str())
    };
    if let (Status::InputRequired, Some(q)) = (status, job.question.as_ref()) {
        let q = codex_async_proto::job_result::Question::of(q);
        text.push('\n');
        text.push_str(&q.text_by(&codex_async_proto::job_result::agent_title(&job.agent)));
        text.push('\n');
        text.push_str(&codex_async_proto::job_result::question_next_step(
            &job.job_id,
            &q,
        ));
    }
    Ok(text.trim_end().to_string())
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
            status: status_of(&job)?,
            note: start_note(&job),
            job_id: job.job_id,
            pid: job.pid,
            branch: job.branch.filter(|b| !b.is_empty()),
            worktree: job.worktree.filter(|w| !w.is_empty()),
        })
    }
}

impl ReviewOutput {
    /// From the daemon's answer to a Start with `review`.
    pub fn from_proto(response: v1::StartResponse) -> Result<Self, ToolError> {
        let job = require_job(response.job, "Start")?;
        Ok(Self {
            status: status_of(&job)?,
            job_id: job.job_id,
            pid: job.pid,
            review: job.review.unwrap_or_default(),
        })
    }
}

impl ReplyOutput {
    /// From the daemon's answer to a Start with `reply_to`.
    pub fn from_proto(response: v1::StartResponse) -> Result<Self, ToolError> {
        let job = require_job(response.job, "Start")?;
        Ok(Self {
            status: status_of(&job)?,
            note: ask_note(&job).filter(|_| response.steered.is_none()),
            job_id: job.job_id,
            pid: job.pid,
            parent_job_id: job.parent_job_id.filter(|p| !p.is_empty()),
            steered: response.steered,
        })
    }
}

impl PollOutput {
    /// From the daemon's answer to Get about a job that has not ended;
    /// `with_events` and `with_output` say what the caller asked for.
    pub fn from_proto(
        response: v1::GetResponse,
        with_events: bool,
        with_output: bool,
    ) -> Result<Self, ToolError> {
        let job = require_job(response.job, "Get")?;
        let status = status_of(&job)?;
        let summary = response.summary.unwrap_or_default();
        Ok(Self {
            status,
            elapsed_seconds: codex_async_proto::job_result::elapsed_seconds(
                job.started_at.as_deref(),
                job.finished_at.as_deref(),
                chrono::Utc::now(),
            ),
            activity: Some(summary.activity.clone()).filter(|a| !a.is_empty()),
            commands_run: summary.commands_count,
            files_changed_count: u32::try_from(summary.files_changed.len()).unwrap_or(u32::MAX),
            events: with_events.then_some(response.events),
            cursor: response.next_cursor,
            events_truncated: response.events_truncated,
            job_id: job.job_id,
            output: with_output.then_some(response.output),
            output_truncated: with_output.then_some(response.output_truncated),
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
        Ok(Self {
            jobs,
            left_off: (response.left_off > 0).then_some(response.left_off),
        })
    }
}

impl JobSummary {
    fn from_proto(job: v1::Job) -> Result<Self, ToolError> {
        let status = status_of(&job)?;
        let question = job
            .question
            .as_ref()
            .filter(|_| status == Status::InputRequired)
            .map(|q| {
                codex_async_proto::job_result::Question::of(q)
                    .text_by(&codex_async_proto::job_result::agent_title(&job.agent))
            });
        Ok(Self {
            status,
            question,
            prompt: job.prompt.chars().take(LIST_PROMPT_CHARS).collect(),
            job_id: job.job_id,
            cwd: job.cwd,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            exit_code: job.exit_code,
            agent: Some(job.agent).filter(|a| !a.is_empty() && a != "codex"),
        })
    }
}

impl CancelOutput {
    /// From the daemon's answer to Cancel.
    pub fn from_proto(response: v1::CancelResponse) -> Result<Self, ToolError> {
        let job = require_job(response.job, "Cancel")?;
        Ok(Self {
            status: status_of(&job)?,
            job_id: job.job_id,
            cancelled: response.cancelled,
            message: response.message,
        })
    }
}

/// What codex_poll and codex_wait return: the job's result once it has
/// ended or while its codex asks (the one rendering names the question and
/// how to answer it), else its progress (`with_events`: the events after
/// the cursor; `with_output`: the raw tail).
pub(crate) fn view(
    response: v1::GetResponse,
    with_events: bool,
    with_output: bool,
) -> Result<CallToolResult, ToolError> {
    let settled = response
        .job
        .as_ref()
        .and_then(Status::of)
        .is_some_and(|s| s.is_final() || s == Status::InputRequired);
    if !settled {
        return Json(PollOutput::from_proto(response, with_events, with_output)?).into_result();
    }
    let mut result = ResultText::from_proto(&response)?.into_call_tool_result()?;
    if with_output && !response.output.is_empty() {
        result.content.push(rmcp::model::ContentBlock::text(format!(
            "Output tail:\n{}",
            response.output
        )));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_async_proto::v1::JobStatus;
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
    fn a_running_poll_says_what_codex_does_and_no_raw_tail_unless_asked() {
        let mut running = job(JobStatus::Running);
        running.started_at = Some("2026-01-01T00:00:00Z".into());
        let response = v1::GetResponse {
            job: Some(running),
            output: "raw".into(),
            events: "$ cargo test  → exit 0".into(),
            next_cursor: 42,
            summary: Some(v1::JobSummary {
                activity: "ran: cargo test".into(),
                commands_count: 1,
                ..Default::default()
            }),
            ..Default::default()
        };
        let out = PollOutput::from_proto(response.clone(), true, false).expect("poll output");
        let value = serde_json::to_value(out).expect("json");
        assert_eq!(value["status"], json!("running"));
        assert_eq!(value["activity"], json!("ran: cargo test"));
        assert_eq!(value["events"], json!("$ cargo test  → exit 0"));
        assert_eq!(value["cursor"], json!(42));
        assert_eq!(value["output"], Value::Null, "no tail unless asked");
        let quiet = PollOutput::from_proto(response, false, true).expect("poll output");
        let value = serde_json::to_value(quiet).expect("json");
        assert_eq!(value["events"], Value::Null);
        assert_eq!(value["output"], json!("raw"));
    }

    #[test]
    fn a_finished_result_is_text_plus_structure() {
        let mut done = job(JobStatus::Done);
        done.exit_code = Some(0);
        let response = v1::GetResponse {
            job: Some(done),
            summary: Some(v1::JobSummary {
                final_message: Some("All green.".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let result = ResultText::from_proto(&response)
            .and_then(ResultText::into_call_tool_result)
            .expect("result");
        let text = result.content[0]
            .as_text()
            .map(|t| t.text.clone())
            .unwrap_or_default();
        assert!(
            text.starts_with("Codex job 0123456789ab done (exit 0)\n\nAll green.\n"),
            "{text}"
        );
        assert_eq!(result.structured_content, None, "the text alone");
        assert_ne!(result.is_error, Some(true));
    }

    fn question() -> v1::Question {
        v1::Question {
            question_id: "q1".into(),
            kind: "command".into(),
            command: Some("npm install".into()),
            reason: Some("needs the network".into()),
            decisions: vec!["allow".into(), "deny".into()],
            asked_at: "2026-01-01T00:00:30Z".into(),
            deadline: "2026-01-01T00:10:30Z".into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_answer_is_codexds_sentence_and_the_status_in_one_line() {
        let text = answer_text(v1::AnswerResponse {
            job: Some(job(JobStatus::Running)),
            message: "allow run `npm install`: codex has the answer and goes on".into(),
        });
        assert_eq!(
            text,
            Ok(
                "allow run `npm install`: codex has the answer and goes on; job 0123456789ab \
                 is running."
                    .into()
            )
        );
        // Codex asked again at once: the new question and how to answer it.
        let mut again = job(JobStatus::InputRequired);
        again.question = Some(question());
        let text = answer_text(v1::AnswerResponse {
            job: Some(again),
            message: "allow run `ls /`: codex has the answer and goes on.".into(),
        })
        .unwrap_or_default();
        assert_eq!(
            text,
            "allow run `ls /`: codex has the answer and goes on; job 0123456789ab is \
             input_required.\nCodex asks to run `npm install` (needs the network).\n\
             Waiting for an answer: codex_answer(job_id=\"0123456789ab\", \
             decision=\"allow|deny\"); ask the user first. Unanswered, it is denied at \
             2026-01-01T00:10:30Z."
        );
        assert!(answer_text(v1::AnswerResponse::default()).is_err());
    }

    #[test]
    fn ask_jobs_say_how_questions_reach_the_user_and_list_shows_the_question() {
        let mut started = job(JobStatus::Running);
        started.approval_policy = "ask".into();
        let out = StartOutput::from_proto(v1::StartResponse {
            job: Some(started.clone()),
            ..Default::default()
        })
        .expect("start output");
        assert_eq!(out.note.as_deref(), Some(ASK_NOTE));
        let reply = ReplyOutput::from_proto(v1::StartResponse {
            job: Some(started),
            ..Default::default()
        })
        .expect("reply output");
        assert_eq!(reply.note.as_deref(), Some(ASK_NOTE));
        let plain = StartOutput::from_proto(v1::StartResponse {
            job: Some(job(JobStatus::Running)),
            ..Default::default()
        })
        .expect("start output");
        let value = serde_json::to_value(plain).expect("json");
        assert!(value.get("note").is_none(), "{value}");

        let mut waits = job(JobStatus::InputRequired);
        waits.question = Some(question());
        let mut ran = job(JobStatus::Done);
        ran.question = Some(question());
        let out = ListOutput::from_proto(v1::ListResponse {
            jobs: vec![waits, ran],
            left_off: 0,
        })
        .expect("list output");
        let value = serde_json::to_value(out).expect("json");
        assert_eq!(value["jobs"][0]["status"], "input_required");
        assert_eq!(
            value["jobs"][0]["question"],
            "Codex asks to run `npm install` (needs the network)."
        );
        assert!(value["jobs"][1].get("question").is_none(), "{value}");

        // A Claude Code job's: its own note, and its questions are Claude's.
        let mut claude = job(JobStatus::InputRequired);
        claude.approval_policy = "ask".into();
        claude.agent = "claude".into();
        claude.question = Some(question());
        let out = StartOutput::from_proto(v1::StartResponse {
            job: Some(claude.clone()),
            ..Default::default()
        })
        .expect("start output");
        assert_eq!(out.note.as_deref(), Some(CLAUDE_ASK_NOTE));
        let out = ListOutput::from_proto(v1::ListResponse {
            jobs: vec![claude],
            left_off: 0,
        })
        .expect("list output");
        let value = serde_json::to_value(out).expect("json");
        assert_eq!(
            value["jobs"][0]["question"],
            "Claude asks to run `npm install` (needs the network)."
        );
    }

    #[test]
    fn list_cuts_prompts_on_char_boundaries() {
        let out = ListOutput::from_proto(v1::ListResponse {
            jobs: vec![job(JobStatus::Done)],
            left_off: 0,
        })
        .expect("list output");
        assert_eq!(out.jobs[0].prompt.chars().count(), LIST_PROMPT_CHARS);
    }

    #[test]
    fn unspecified_status_and_missing_job_are_tool_errors() {
        assert!(StartOutput::from_proto(v1::StartResponse {
            job: Some(job(JobStatus::Unspecified)),
            ..Default::default()
        })
        .is_err());
        assert!(CancelOutput::from_proto(v1::CancelResponse::default()).is_err());
    }
}
