//! Jobs as MCP tasks (the `io.modelcontextprotocol/tasks` extension, SEP-2663).
//!
//! A task is a job seen through the extension: its `taskId` is the job id,
//! so the id the model sees works with every tool and `codexd show`, and
//! nothing is kept in the shim — `tasks/get` asks codexd, so any shim process
//! answers for any task, across restarts of the shim and of codexd.
//!
//! rmcp does the protocol (the method gates, the wire shapes); this module
//! maps a job to a task: `working` while queued or running, `input_required`
//! while its codex asks (approval policy "ask": one `elicitation/create` form
//! per question, keyed by the question's id, which `tasks/update` answers: a
//! choice of decisions for an approval, per prompt a choice of codex's
//! options and a free-text field for codex's own question),
//! then `completed` with the job's one rendering ([`ResultText`]) as the tool
//! result (`isError` when the job ended in `error`), or `cancelled`.

use chrono::{DateTime, SecondsFormat, Utc};
use codex_async_proto::{
    job_result::{agent_title, parse_time as parse, JobResult, Question},
    v1,
};
use rmcp::{
    model::{
        DetailedTask, ElicitRequest, ElicitRequestParams, ElicitationAction, ElicitationSchema,
        EnumSchema, InputRequest, InputRequests, InputResponses, JsonObject,
        PrimitiveSchemaDefinition, StringSchema, Task, TaskPayload, TaskStatus,
    },
    service::RequestContext,
    ErrorData, RoleServer,
};
use serde_json::Value;

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
    Some(task(job, None, response.retention_seconds, None))
}

/// When codex last wrote to the job's output, or None when that cannot be
/// read. The job record's times stand still while codex works; its output
/// grows with every event (the same progress the stall watchdog watches).
/// codexd names the file in the record, and it is on this machine: the shim
/// reaches codexd over a Unix socket, as the same user.
pub async fn output_written(job: &v1::Job) -> Option<DateTime<Utc>> {
    if job.output_path.is_empty() {
        return None;
    }
    let metadata = tokio::fs::metadata(&job.output_path).await.ok()?;
    metadata.modified().ok().map(DateTime::<Utc>::from)
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

/// The form's one field: the user's decision.
const DECISION_FIELD: &str = "decision";

/// Most characters of the prompt the form's job line shows.
const FORM_PROMPT_CHARS: usize = 60;

/// What a person reads for each decision in the form (as `codexd answer`
/// names them) for a job of `agent` (empty: codex, who goes on after a
/// deny); a decision this release does not know shows its name.
fn decision_title(decision: &str, agent: &str) -> String {
    match decision {
        "allow" => "Allow once".into(),
        "allow_session" => "Allow for the rest of this job".into(),
        "deny" => format!(
            "Deny ({} goes on without it)",
            if agent.is_empty() { "codex" } else { agent }
        ),
        "stop" => "Deny and stop the job".into(),
        other => other.into(),
    }
}

/// An input question's fields: per prompt `answer:<n>:<prompt id>` (the
/// option picked, or the text when codex offers no options) and
/// `answer:<n>~<prompt id>` (the user's own words, where codex takes them;
/// they win over the option), `<n>` the prompt's place in codex's question,
/// three digits. Claude Code shows a form's fields in the order of their
/// names (rmcp keeps a schema's properties sorted), so these names keep
/// codex's order and put each prompt's free-text field right under its
/// choice: a person picks or types, then moves on to the next prompt.
/// Prefixed so a prompt named `decision` is still an answer.
const ANSWER_FIELD: &str = "answer:";

/// The name of the field of the prompt at `place`: its choice (or its text
/// field when codex offers no options), or its own-words field.
fn field_name(place: usize, own_words: bool, id: &str) -> String {
    let mark = if own_words { '~' } else { ':' };
    format!("{ANSWER_FIELD}{place:03}{mark}{id}")
}

/// A field's prompt id, and whether the field holds the user's own words;
/// None for a field not named by [`field_name`].
fn parse_field(field: &str) -> Option<(&str, bool)> {
    let rest = field.strip_prefix(ANSWER_FIELD)?;
    let (place, rest) = rest.split_at_checked(3)?;
    if !place.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(id) = rest.strip_prefix(':') {
        return Some((id, false));
    }
    rest.strip_prefix('~').map(|id| (id, true))
}

/// One answer a `tasks/update` carries: the question (its inputRequests key)
/// and the decision for it, or (codex's own question) the answer text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskAnswer {
    pub question_id: String,
    pub decision: String,
    /// Codex's own question: a JSON object of prompt id → text.
    pub answer: Option<String>,
}

/// An accepted input form's content as the answer text codexd takes: a JSON
/// object of prompt id → text (free text over the option picked, blanks
/// left out); None when it has no input fields, "" when all were blank.
fn input_answer(content: &JsonObject) -> Option<String> {
    let mut picked = serde_json::Map::new();
    let mut own_words = serde_json::Map::new();
    let mut any = false;
    for (field, value) in content {
        let Some((id, own)) = parse_field(field) else {
            continue;
        };
        let text = match value {
            Value::String(s) => s.trim().to_string(),
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            _ => continue,
        };
        any = true;
        if text.is_empty() {
            continue;
        }
        let into = if own { &mut own_words } else { &mut picked };
        into.insert(id.to_string(), Value::String(text));
    }
    if !any {
        return None;
    }
    // The user's own words win over the option picked for the same prompt.
    picked.extend(own_words);
    Some(if picked.is_empty() {
        String::new()
    } else {
        Value::Object(picked).to_string()
    })
}

/// The answers in a `tasks/update`'s `inputResponses`, in key order: an
/// accepted form gives its decision, a declined one "deny" (the user said
/// no), a cancelled one nothing (the form was put away, to answer later).
/// Anything else is the extension's invalid-params error naming the key.
pub fn answers(task_id: &str, responses: &InputResponses) -> Result<Vec<TaskAnswer>, ErrorData> {
    let bad = |key: &str, why: String| {
        ErrorData::invalid_params(
            format!("inputResponses[{key:?}] of task {task_id}: {why}"),
            None,
        )
    };
    let mut answers = Vec::with_capacity(responses.len());
    for (key, response) in responses {
        let result: rmcp::model::ElicitResult =
            serde_json::from_value(response.clone()).map_err(|e| {
                bad(
                    key,
                    format!(
                        "not an elicitation result ({e}); answer the form with \
                         {{\"action\": \"accept\", \"content\": {{\"decision\": …}}}}, \
                         {{\"action\": \"decline\"}} or {{\"action\": \"cancel\"}}"
                    ),
                )
            })?;
        let input = result
            .content
            .as_ref()
            .and_then(Value::as_object)
            .and_then(input_answer);
        if let (ElicitationAction::Accept, Some(answer)) = (&result.action, input) {
            // Codex's own question: nothing filled in is a decline (codex
            // gets no answer).
            let (decision, answer) = match answer.is_empty() {
                true => ("deny".to_string(), None),
                false => (String::new(), Some(answer)),
            };
            answers.push(TaskAnswer {
                question_id: key.clone(),
                decision,
                answer,
            });
            continue;
        }
        let decision = match result.action {
            ElicitationAction::Accept => {
                let decision = result
                    .content
                    .as_ref()
                    .and_then(|c| c.get(DECISION_FIELD))
                    .and_then(Value::as_str)
                    .filter(|d| !d.is_empty());
                match decision {
                    Some(decision) => decision.to_string(),
                    None => {
                        return Err(bad(
                            key,
                            format!(
                                "accepted without a decision; the content must be \
                                 {{\"{DECISION_FIELD}\": …}}, one of the form's choices"
                            ),
                        ))
                    }
                }
            }
            ElicitationAction::Decline => "deny".to_string(),
            ElicitationAction::Cancel => continue,
            // ElicitationAction is non-exhaustive: an action of a later
            // revision is not a decision this release can guess.
            #[allow(unreachable_patterns)]
            _ => return Err(bad(key, "an action this release does not know".into())),
        };
        answers.push(TaskAnswer {
            question_id: key.clone(),
            decision,
            answer: None,
        });
    }
    Ok(answers)
}

/// A failed Answer for the `tasks/update` answer to `question_id`: codexd's
/// refusal (no such question pending, a decision codex does not take, the
/// job ended) is the extension's invalid-params error with codexd's reason;
/// anything else an internal error.
pub fn update_error(task_id: &str, question_id: &str, error: &ToolError) -> ErrorData {
    if error.is_refusal() {
        ErrorData::invalid_params(
            format!("inputResponses[{question_id:?}] of task {task_id}: {error}"),
            None,
        )
    } else {
        ErrorData::internal_error(format!("tasks/update {task_id}: {error}"), None)
    }
}

/// The form for the question `job` asks: the question and the job in the
/// message, one required choice among the decisions codex takes. None when
/// the question offers nothing to choose (a daemon bug; the task then just
/// reads as working, its statusMessage still naming the question).
fn form(job: &v1::Job, question: &Question) -> Option<InputRequests> {
    if question.question_id.is_empty() {
        return None;
    }
    if question.is_input() {
        return input_form(job, question);
    }
    if question.decisions.is_empty() {
        return None;
    }
    let titles = question
        .decisions
        .iter()
        .map(|d| decision_title(d, &job.agent))
        .collect();
    let choice = EnumSchema::builder(question.decisions.clone())
        .enum_titles(titles)
        .ok()?
        .title("Your answer")
        .build();
    let schema = ElicitationSchema::builder()
        .required_property(DECISION_FIELD, PrimitiveSchemaDefinition::Enum(choice))
        .build()
        .ok()?;
    let params = ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: format!(
            "{}\n{}",
            question.text_by(&agent_title(&job.agent)),
            job_line(job)
        ),
        requested_schema: schema,
    };
    let request = InputRequest::Elicitation(ElicitRequest::new(params));
    Some(InputRequests::from([(
        question.question_id.clone(),
        request,
    )]))
}

/// The form for codex's own question (kind input): per prompt, a choice
/// among its options (titled `label — description`) and, where codex takes
/// free text, a text field beside it (a text field alone without options).
/// A Decline gives codex no answer.
fn input_form(job: &v1::Job, question: &Question) -> Option<InputRequests> {
    let mut schema = ElicitationSchema::builder();
    for (place, prompt) in question.prompts.iter().enumerate() {
        let title = match prompt.header.trim() {
            "" => prompt.question.trim().to_string(),
            header => header.to_string(),
        };
        let answer = field_name(place, false, &prompt.id);
        if prompt.options.is_empty() {
            let text = StringSchema::new()
                .title(title)
                .description(prompt.question.clone());
            schema = schema.required_property(answer, PrimitiveSchemaDefinition::String(text));
            continue;
        }
        let titles = prompt
            .options
            .iter()
            .zip(&prompt.option_descriptions)
            .map(|(label, description)| match description.trim() {
                "" => label.clone(),
                d => format!("{label} — {d}"),
            })
            .collect();
        let choice = EnumSchema::builder(prompt.options.clone())
            .enum_titles(titles)
            .ok()?
            .title(title.clone())
            .description(prompt.question.clone())
            .build();
        let choice = PrimitiveSchemaDefinition::Enum(choice);
        if prompt.is_other {
            let other = StringSchema::new()
                .title(format!("{title}: or in your words"))
                .description("Instead of a choice above");
            schema = schema.property(answer, choice).property(
                field_name(place, true, &prompt.id),
                PrimitiveSchemaDefinition::String(other),
            );
        } else {
            schema = schema.required_property(answer, choice);
        }
    }
    let params = ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: format!(
            "{}\n{}",
            question.text_by(&agent_title(&job.agent)),
            job_line(job)
        ),
        requested_schema: schema.build().ok()?,
    };
    let request = InputRequest::Elicitation(ElicitRequest::new(params));
    Some(InputRequests::from([(
        question.question_id.clone(),
        request,
    )]))
}

/// The job a form is about, in one line: `Job 0123456789ab in /repo: fix …`.
fn job_line(job: &v1::Job) -> String {
    let prompt = job
        .prompt
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let mut head: String = prompt.trim().chars().take(FORM_PROMPT_CHARS).collect();
    if head.len() < prompt.trim().len() {
        head.push('…');
    }
    if head.is_empty() {
        format!("Job {} in {}", job.job_id, job.cwd)
    } else {
        format!("Job {} in {}: {head}", job.job_id, job.cwd)
    }
}

/// The question a job in input_required asks.
fn question_of(job: &v1::Job) -> Option<Question> {
    let asking = Status::of(job) == Some(Status::InputRequired);
    job.question.as_ref().filter(|_| asking).map(Question::of)
}

/// The task state of the job in a Get answer; `output_written`: when codex
/// last wrote to its output ([`output_written`]).
pub fn detailed(
    response: &v1::GetResponse,
    output_written: Option<DateTime<Utc>>,
) -> Result<DetailedTask, ErrorData> {
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
    let mut base = task(
        job,
        response.summary.as_ref(),
        response.retention_seconds,
        output_written,
    );
    // A cancelled task carries no result, only its status message (Claude
    // Code shows "Task cancelled: <message>"): say what the job got done and
    // where its partial work is, not what it was doing when it stopped.
    if status == Status::Cancelled {
        if let Ok(result) = JobResult::from_get(response, Some(0), chrono::Utc::now()) {
            base = base.with_status_message(result.work_done());
        }
    }
    let payload = match status {
        Status::InputRequired => match question_of(job).and_then(|q| form(job, &q)) {
            Some(input_requests) => TaskPayload::InputRequired { input_requests },
            None => TaskPayload::Working,
        },
        Status::Queued | Status::Running => TaskPayload::Working,
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
fn task(
    job: &v1::Job,
    summary: Option<&v1::JobSummary>,
    retention_seconds: u64,
    output_written: Option<DateTime<Utc>>,
) -> Task {
    let question = question_of(job);
    // A question pending is a change of the task, until it is answered.
    let asked_at = job
        .question
        .as_ref()
        .filter(|_| question.is_some())
        .map(|q| q.asked_at.as_str())
        .filter(|t| !t.is_empty());
    let mut task = Task::new(
        job.job_id.clone(),
        TaskStatus::Working,
        job.created_at.clone(),
        last_updated(job, asked_at, output_written),
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
        Some(Status::InputRequired) if question.is_some() => {
            question.map(|q| q.text_by(&agent_title(&job.agent)))
        }
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

/// The task's latest change: the latest of the job record's times and of
/// codex's last write to its output, as codexd writes its times (a record's
/// time is kept as codexd wrote it).
fn last_updated(
    job: &v1::Job,
    asked_at: Option<&str>,
    output_written: Option<DateTime<Utc>>,
) -> String {
    let recorded = [
        Some(job.created_at.as_str()),
        job.started_at.as_deref(),
        asked_at,
        job.finished_at.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter_map(|text| parse(text).map(|at| (at, text)))
    .max_by_key(|(at, _)| *at);
    match (recorded, output_written) {
        (Some((at, text)), Some(written)) if written <= at => text.to_string(),
        (_, Some(written)) => written.to_rfc3339_opts(SecondsFormat::Millis, false),
        (Some((_, text)), None) => text.to_string(),
        (None, None) => job.created_at.clone(),
    }
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
        let detailed = detailed(&response(status), None).expect("task");
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
    fn a_running_job_was_last_updated_when_codex_last_wrote_its_output() {
        let at = |time: &str| parse(time);
        let updated = |written: Option<DateTime<Utc>>| {
            let task = detailed(&response(JobStatus::Running), written).expect("task");
            serde_json::to_value(task).expect("json")["lastUpdatedAt"].clone()
        };
        assert_eq!(
            updated(None),
            "2026-01-01T00:00:01Z",
            "started, no output read"
        );
        assert_eq!(
            updated(at("2026-01-01T00:00:42.5Z")),
            "2026-01-01T00:00:42.500+00:00"
        );
        assert_eq!(
            updated(at("2025-12-31T23:59:59Z")),
            "2026-01-01T00:00:01Z",
            "an output older than the start does not move it back"
        );
        // An ended job's last change is its end, unless codex wrote later.
        let ended = detailed(&response(JobStatus::Done), at("2026-01-01T00:00:59Z"));
        let ended = serde_json::to_value(ended.expect("task")).expect("json");
        assert_eq!(ended["lastUpdatedAt"], "2026-01-01T00:01:00Z");
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

    fn asking() -> v1::GetResponse {
        let mut response = response(JobStatus::InputRequired);
        if let Some(job) = response.job.as_mut() {
            job.prompt = "Install the dependencies and run the tests\nthen report".into();
            job.cwd = "/w/app".into();
            job.question = Some(v1::Question {
                question_id: "q2".into(),
                kind: "command".into(),
                command: Some("/bin/bash -lc 'npm install'".into()),
                cwd: Some("/w/app".into()),
                reason: Some("needs the network".into()),
                decisions: vec![
                    "allow".into(),
                    "allow_session".into(),
                    "deny".into(),
                    "stop".into(),
                ],
                asked_at: "2026-01-01T00:00:30Z".into(),
                deadline: "2026-01-01T00:10:30Z".into(),
                ..Default::default()
            });
        }
        response
    }

    #[test]
    fn a_job_that_asks_is_input_required_with_a_form_of_its_decisions() {
        let task = detailed(&asking(), None).expect("task");
        let task = serde_json::to_value(task).expect("json");
        assert_eq!(task["status"], "input_required");
        let question = "Codex asks to run `npm install` (needs the network).";
        assert_eq!(task["statusMessage"], question);
        assert_eq!(
            task["lastUpdatedAt"], "2026-01-01T00:00:30Z",
            "moved by the question"
        );
        assert_eq!(
            task["inputRequests"],
            serde_json::json!({"q2": {
                "method": "elicitation/create",
                "params": {
                    "mode": "form",
                    "message": format!(
                        "{question}\nJob 0123456789ab in /w/app: Install the dependencies and \
                         run the tests"
                    ),
                    "requestedSchema": {
                        "type": "object",
                        "properties": {"decision": {
                            "type": "string",
                            "title": "Your answer",
                            "oneOf": [
                                {"const": "allow", "title": "Allow once"},
                                {"const": "allow_session", "title": "Allow for the rest of this job"},
                                {"const": "deny", "title": "Deny (codex goes on without it)"},
                                {"const": "stop", "title": "Deny and stop the job"},
                            ],
                        }},
                        "required": ["decision"],
                    },
                },
            }}),
            "{task}"
        );
        assert!(task.get("result").is_none());
    }

    #[test]
    fn a_form_offers_only_the_decisions_codex_takes_and_names_a_long_prompt_short() {
        let mut response = asking();
        if let Some(job) = response.job.as_mut() {
            job.prompt = "x".repeat(200);
            if let Some(q) = job.question.as_mut() {
                q.decisions = vec!["allow".into(), "deny".into()];
                q.kind = "file_change".into();
                q.command = None;
                q.reason = None;
                q.files = vec!["/etc/hosts".into()];
            }
        }
        let task = serde_json::to_value(detailed(&response, None).expect("task")).expect("json");
        let params = &task["inputRequests"]["q2"]["params"];
        assert_eq!(
            params["requestedSchema"]["properties"]["decision"]["oneOf"],
            serde_json::json!([
                {"const": "allow", "title": "Allow once"},
                {"const": "deny", "title": "Deny (codex goes on without it)"},
            ])
        );
        assert_eq!(
            params["message"],
            format!(
                "Codex asks to change /etc/hosts.\nJob 0123456789ab in /w/app: {}…",
                "x".repeat(FORM_PROMPT_CHARS)
            )
        );
    }

    #[test]
    fn input_required_without_a_question_to_show_is_working() {
        let mut response = asking();
        if let Some(q) = response.job.as_mut().and_then(|j| j.question.as_mut()) {
            q.decisions.clear();
        }
        let task = serde_json::to_value(detailed(&response, None).expect("task")).expect("json");
        assert_eq!(task["status"], "working");
        assert_eq!(
            task["statusMessage"],
            "Codex asks to run `npm install` (needs the network)."
        );
        // A running job's stale question (codexd shows none then) is not asked.
        let mut running = asking();
        if let Some(job) = running.job.as_mut() {
            job.status = JobStatus::Running as i32;
        }
        let task = serde_json::to_value(detailed(&running, None).expect("task")).expect("json");
        assert_eq!(task["status"], "working");
        assert_eq!(task["statusMessage"], "running: cargo test");
        assert_eq!(task["lastUpdatedAt"], "2026-01-01T00:00:01Z");
    }

    fn responses(v: serde_json::Value) -> InputResponses {
        serde_json::from_value(v).expect("input responses")
    }

    #[test]
    fn update_answers_accept_decline_and_leave_cancel_for_later() {
        let answer = |q: &str, d: &str| TaskAnswer {
            question_id: q.into(),
            decision: d.into(),
            answer: None,
        };
        let got = answers(
            "0123456789ab",
            &responses(serde_json::json!({
                "q1": {"action": "accept", "content": {"decision": "allow_session"}},
                "q2": {"action": "decline"},
                "q3": {"action": "cancel"},
            })),
        );
        assert_eq!(
            got,
            Ok(vec![answer("q1", "allow_session"), answer("q2", "deny")])
        );
        assert_eq!(answers("0123456789ab", &InputResponses::new()), Ok(vec![]));
    }

    #[test]
    fn codexs_own_question_is_a_form_of_its_prompts_and_its_accept_the_answer_text() {
        let mut job = asking().job.expect("job");
        if let Some(q) = job.question.as_mut() {
            q.kind = "input".into();
            q.decisions.clear();
            q.prompts = vec![
                v1::Prompt {
                    id: "db".into(),
                    header: "Database".into(),
                    question: "Which database?".into(),
                    options: vec![
                        v1::PromptOption {
                            label: "Postgres".into(),
                            description: "Robust.".into(),
                        },
                        v1::PromptOption {
                            label: "SQLite".into(),
                            description: "".into(),
                        },
                    ],
                    is_other: true,
                    is_secret: false,
                },
                v1::Prompt {
                    id: "name".into(),
                    header: "Name".into(),
                    question: "Service name?".into(),
                    ..Default::default()
                },
            ];
        }
        let question = question_of(&job).expect("asks");
        let requests = form(&job, &question).expect("form");
        let request = serde_json::to_value(&requests).expect("json");
        let schema = &request[&question.question_id]["params"]["requestedSchema"];
        let db = &schema["properties"]["answer:000:db"];
        assert_eq!(
            db["oneOf"][0],
            serde_json::json!({"const": "Postgres", "title": "Postgres — Robust."})
        );
        assert_eq!(db["oneOf"][1]["title"], "SQLite");
        assert_eq!(schema["properties"]["answer:000~db"]["type"], "string");
        assert_eq!(schema["properties"]["answer:001:name"]["type"], "string");
        assert_eq!(schema["required"], serde_json::json!(["answer:001:name"]));
        // The fields go out (and Claude Code shows them) in codex's order,
        // each prompt's own-words field right after its choice (named by
        // kind first, the choices all came before the own-words fields).
        let sent = serde_json::to_string(&requests).expect("json");
        let at = |field: &str| sent.find(&format!("\"{field}\":{{")).expect(field);
        assert!(at("answer:000:db") < at("answer:000~db"), "{sent}");
        assert!(at("answer:000~db") < at("answer:001:name"), "{sent}");
        // A field of another shape is not an answer.
        assert_eq!(parse_field("answer:0:db"), None);
        assert_eq!(parse_field("answer:000-db"), None);

        let got = answers(
            "0123456789ab",
            &responses(serde_json::json!({
                "1": {"action": "accept", "content": {"answer:000:db": "SQLite", "answer:000~db": "", "answer:001:name": "svc"}},
                "2": {"action": "accept", "content": {"answer:000:db": "SQLite", "answer:000~db": "MySQL please"}},
                "3": {"action": "accept", "content": {"answer:000:db": " ", "answer:000~db": ""}},
            })),
        )
        .expect("answers");
        let text = |i: usize| {
            got[i]
                .answer
                .as_deref()
                .map(|a| serde_json::from_str::<Value>(a).expect("json"))
        };
        assert_eq!(
            text(0),
            Some(serde_json::json!({"db": "SQLite", "name": "svc"}))
        );
        assert_eq!(got[0].decision, "");
        assert_eq!(text(1), Some(serde_json::json!({"db": "MySQL please"})));
        // Accepted with nothing filled in: declined (codex gets no answer).
        assert_eq!(
            (got[2].decision.as_str(), got[2].answer.as_deref()),
            ("deny", None)
        );
    }

    #[test]
    fn update_refuses_what_is_not_an_answer_naming_the_key() {
        for (response, says) in [
            (
                serde_json::json!({"action": "accept"}),
                "accepted without a decision",
            ),
            (
                serde_json::json!({"action": "accept", "content": {"decision": 3}}),
                "accepted without a decision",
            ),
            (
                serde_json::json!({"action": "accept", "content": {"choice": "allow"}}),
                "accepted without a decision",
            ),
            (
                serde_json::json!({"action": "maybe"}),
                "not an elicitation result",
            ),
            (serde_json::json!("allow"), "not an elicitation result"),
        ] {
            let e = answers(
                "0123456789ab",
                &responses(serde_json::json!({"q1": response.clone()})),
            )
            .expect_err("refused");
            assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS, "{response}");
            assert!(
                e.message
                    .starts_with("inputResponses[\"q1\"] of task 0123456789ab: ")
                    && e.message.contains(says),
                "{response}: {}",
                e.message
            );
        }
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
