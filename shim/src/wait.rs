//! `codex_wait`: for one job, or for the first of several to end (fan-out).
//!
//! Both ask codexd with a Get every [`WAIT_POLL_INTERVAL`] until a job ends,
//! its codex asks (input_required: the model must relay the question, so
//! waiting on would only run the question towards its deadline) or the
//! timeout passes, and send `notifications/progress` meanwhile when the
//! request carried a progress token. A job that has ended or asks is
//! answered with its one rendering ([`ResultText`], which names the question
//! and how to answer it); the fan-out puts a few lines before it: which job
//! ended or asked first and one line per other job (id, status, elapsed),
//! since every character costs the model tokens.

use std::{collections::HashMap, time::Duration};

use codex_async_proto::{job_result, v1};
use rmcp::{
    model::{CallToolResult, ContentBlock, ProgressNotificationParam, ProgressToken},
    service::RequestContext,
    Peer, RoleServer,
};
use tokio::time::Instant;

use crate::{
    args::WaitArgs,
    daemon_link::DaemonLink,
    output::{view, ResultText, Status},
    tool_error::ToolError,
};

/// How often `codex_wait` asks codexd about its jobs.
///
/// Polling beats holding a Watch stream here: a Get on the local socket costs
/// well under a millisecond, while Watch would stream every byte of codex's
/// output to the shim only to be dropped, and its Job events carry no summary,
/// so the activity for progress notifications and the final payload would
/// need Gets anyway. Each Get also goes through the daemon link's reconnect,
/// so a codexd restarted mid-wait costs one retry instead of a broken stream.
/// The price is that a wait returns up to this much after the job ended.
pub const WAIT_POLL_INTERVAL: Duration = Duration::from_millis(300);

/// Longest gap between two progress notifications while the activity stays
/// the same (clients reset their idle timeout on each; the MCP promise is
/// "at least every 5 s", and a notice is only sent after a Get).
const PROGRESS_HEARTBEAT: Duration = Duration::from_secs(4);

/// Most characters of a job's activity in a fan-out status line or progress
/// message.
const ACTIVITY_CHARS: usize = 80;

/// Runs one `codex_wait` call.
pub async fn wait(
    server: &DaemonLink,
    args: WaitArgs,
    context: RequestContext<RoleServer>,
) -> Result<CallToolResult, ToolError> {
    let field = named_field(args.job_id.is_some());
    let job_id = match (args.job_ids, args.job_id) {
        (Some(ids), _) if ids.len() > 1 => {
            return wait_any(server, ids, args.timeout_seconds, context).await
        }
        // One id in a list is the one-job wait, answered the same way.
        (Some(ids), _) => ids.into_iter().next(),
        (None, id) => id,
    };
    let Some(job_id) = job_id else {
        return Err(ToolError::new(
            "job_id, job_ids: missing; pass the job_id that codex_start returned",
        ));
    };
    let begun = Instant::now();
    let deadline = begun + Duration::from_secs(args.timeout_seconds.into());
    let mut progress = Progress::for_call(&context, args.timeout_seconds);
    loop {
        let response = server
            .get(job_id.clone(), args.since, 0)
            .await
            .map_err(|e| e.rename_field("job_id", field))?;
        let now = Instant::now();
        if settled(&response) || now >= deadline || context.ct.is_cancelled() {
            return view(response, args.since.is_some(), false);
        }
        if let Some(progress) = progress.as_mut() {
            let activity = response
                .summary
                .as_ref()
                .map(|s| s.activity.clone())
                .filter(|a| !a.is_empty());
            let message = activity.unwrap_or_else(|| "Codex job is queued".into());
            progress.report(now - begun, message).await;
        }
        pause(deadline, now, &context).await;
    }
}

/// The argument a daemon's "job_id: …" error is about.
fn named_field(job_id_given: bool) -> &'static str {
    if job_id_given {
        "job_id"
    } else {
        "job_ids"
    }
}

/// Waits for the first of `ids` (2 or more, distinct) to end.
async fn wait_any(
    server: &DaemonLink,
    ids: Vec<String>,
    timeout_seconds: u32,
    context: RequestContext<RoleServer>,
) -> Result<CallToolResult, ToolError> {
    let begun = Instant::now();
    let deadline = begun + Duration::from_secs(timeout_seconds.into());
    let mut progress = Progress::for_call(&context, timeout_seconds);
    let mut latest = Latest::default();
    loop {
        // One Get after another: each answers in well under a millisecond on
        // the local socket, so a concurrent fan-out would save nothing.
        let mut jobs = Vec::with_capacity(ids.len());
        for id in &ids {
            let response = server
                .get(id.clone(), None, 0)
                .await
                .map_err(|e| e.rename_field("job_id", "job_ids"))?;
            jobs.push(response);
        }
        let now = Instant::now();
        let utc_now = chrono::Utc::now();
        if let Some(first) = first_settled(&jobs) {
            let result = ResultText::from_proto(&jobs[first])?;
            let text = format!(
                "{}\n{}",
                ended_header(&jobs, first, utc_now),
                result.0.to_text()
            );
            return Ok(CallToolResult::success(vec![ContentBlock::text(text)]));
        }
        if now >= deadline || context.ct.is_cancelled() {
            let mut text = format!(
                "None of the {} jobs ended within {timeout_seconds} s; call codex_wait again \
                 with the same job_ids.\n",
                jobs.len()
            );
            for job in &jobs {
                text.push_str(&status_line(job, true, utc_now));
                text.push('\n');
            }
            return Ok(CallToolResult::success(vec![ContentBlock::text(text)]));
        }
        if let Some(progress) = progress.as_mut() {
            latest.observe(&jobs);
            progress.report(now - begun, latest.message(&jobs)).await;
        }
        pause(deadline, now, &context).await;
    }
}

/// Sleeps until the next poll, the deadline, or the client giving up.
async fn pause(deadline: Instant, now: Instant, context: &RequestContext<RoleServer>) {
    tokio::select! {
        () = tokio::time::sleep_until(deadline.min(now + WAIT_POLL_INTERVAL)) => {}
        // The client gave up on this call (notifications/cancelled): the
        // answer will be dropped, so stop asking codexd.
        () = context.ct.cancelled() => {}
    }
}

/// True once the job will not change again. A missing job or an unknown
/// status counts as ended too: the answer then carries the error naming the
/// release mismatch instead of waiting for nothing.
fn ended(response: &v1::GetResponse) -> bool {
    response
        .job
        .as_ref()
        .and_then(Status::of)
        .is_none_or(Status::is_final)
}

/// True while the job's codex waits for an answer.
fn asks(response: &v1::GetResponse) -> bool {
    response.job.as_ref().and_then(Status::of) == Some(Status::InputRequired)
}

/// True when a wait is over for this job: it ended, or it asks.
fn settled(response: &v1::GetResponse) -> bool {
    ended(response) || asks(response)
}

/// The job that ended or asked first among `jobs`, by its finish time or
/// the time its question was asked (in the order given when equal or
/// unknown); None while all are queued or running.
fn first_settled(jobs: &[v1::GetResponse]) -> Option<usize> {
    jobs.iter()
        .enumerate()
        .filter(|(_, job)| settled(job))
        .min_by_key(|(i, response)| {
            let at = response.job.as_ref().and_then(|j| {
                if asks(response) {
                    j.question.as_ref().map(|q| q.asked_at.as_str())
                } else {
                    j.finished_at.as_deref()
                }
            });
            let at = at.and_then(job_result::parse_time);
            // Unknown times sort last.
            (at.is_none(), at, *i)
        })
        .map(|(i, _)| i)
}

/// What precedes the result of the job that ended (or asked) first: which
/// one it is, how many ended or ask, the others' statuses, and how to wait
/// for the rest.
fn ended_header(
    jobs: &[v1::GetResponse],
    first: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let id = job_id(&jobs[first]);
    let settled_count = jobs.iter().filter(|j| settled(j)).count();
    // "ask" is said only when a job asks: the usual answer stays as short.
    let any_asks = jobs.iter().any(asks);
    let mut out = match (settled_count, any_asks) {
        (1, false) => format!("First of {} jobs to end: {id}. The others:\n", jobs.len()),
        (1, true) => format!("First of {} jobs to ask: {id}. The others:\n", jobs.len()),
        (n, false) => format!(
            "{n} of {} jobs have ended, {id} first (codex_result gives the others' \
             results). The others:\n",
            jobs.len()
        ),
        (n, true) => format!(
            "{n} of {} jobs have ended or ask, {id} first (codex_result gives the others' \
             results). The others:\n",
            jobs.len()
        ),
    };
    for (i, job) in jobs.iter().enumerate() {
        if i != first {
            out.push_str(&status_line(job, false, now));
            out.push('\n');
        }
    }
    let rest: Vec<String> = jobs
        .iter()
        .filter(|j| !settled(j))
        .map(|j| format!("\"{}\"", job_id(j)))
        .collect();
    if !rest.is_empty() {
        out.push_str(&format!(
            "Wait for the rest: codex_wait(job_ids=[{}]).\n",
            rest.join(", ")
        ));
    }
    out
}

/// One job in a line: `0123456789ab running 1m05s` (and with `activity`,
/// `: what Codex is doing`).
fn status_line(
    response: &v1::GetResponse,
    activity: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let Some(job) = response.job.as_ref() else {
        return "(a job codexd did not describe)".into();
    };
    let status = Status::of(job).map_or("unknown", Status::as_str);
    let mut line = format!("{} {status}", job.job_id);
    if let Some(seconds) =
        job_result::elapsed_seconds(job.started_at.as_deref(), job.finished_at.as_deref(), now)
    {
        line.push(' ');
        line.push_str(&job_result::duration(seconds));
    }
    // What a job asks is always named: the model has to relay it.
    let question = job
        .question
        .as_ref()
        .filter(|_| asks(response))
        .map(|q| job_result::Question::of(q).what());
    if let Some(what) = question {
        line.push_str(": asks to ");
        line.push_str(&what);
    } else if let Some(now_doing) = activity.then(|| activity_of(response)).flatten() {
        line.push_str(": ");
        line.push_str(&now_doing);
    }
    line
}

fn job_id(response: &v1::GetResponse) -> &str {
    response.job.as_ref().map_or("?", |j| j.job_id.as_str())
}

/// What Codex is doing in this job, clipped for a line; None before it says
/// anything.
fn activity_of(response: &v1::GetResponse) -> Option<String> {
    let activity = response.summary.as_ref()?.activity.trim();
    if activity.is_empty() {
        return None;
    }
    let mut clipped: String = activity.chars().take(ACTIVITY_CHARS).collect();
    if clipped.len() < activity.len() {
        clipped.push('…');
    }
    Some(clipped)
}

/// The most recent activity across the jobs of a fan-out wait, for its
/// progress message: the job whose activity changed last between two polls
/// (on the first poll, the last job in the list that has one).
#[derive(Default)]
struct Latest {
    seen: HashMap<String, String>,
    latest: Option<(String, String)>,
}

impl Latest {
    fn observe(&mut self, jobs: &[v1::GetResponse]) {
        for job in jobs {
            let Some(activity) = activity_of(job) else {
                continue;
            };
            let id = job_id(job).to_string();
            if self.seen.get(&id) != Some(&activity) {
                self.seen.insert(id.clone(), activity.clone());
                self.latest = Some((id, activity));
            }
        }
    }

    /// "2 running, 1 queued; latest 0123456789ab: ran: cargo test".
    fn message(&self, jobs: &[v1::GetResponse]) -> String {
        let count = |status: Status| {
            jobs.iter()
                .filter(|j| j.job.as_ref().and_then(Status::of) == Some(status))
                .count()
        };
        let counts: Vec<String> = [Status::Running, Status::Queued]
            .into_iter()
            .map(|s| (count(s), s))
            .filter(|(n, _)| *n > 0)
            .map(|(n, s)| format!("{n} {}", s.as_str()))
            .collect();
        let mut message = counts.join(", ");
        if let Some((id, activity)) = &self.latest {
            message.push_str(&format!("; latest {id}: {activity}"));
        }
        message
    }
}

/// `notifications/progress` for one `codex_wait` call whose request carried
/// a progress token: progress = seconds waited, total = the timeout, message
/// = what Codex is doing. Sent when the message changes and at least every
/// [`PROGRESS_HEARTBEAT`] (clients reset their idle timeout on each).
struct Progress {
    peer: Peer<RoleServer>,
    token: ProgressToken,
    total: f64,
    /// When the last notice went out, its progress and its message.
    last: Option<(Instant, f64, String)>,
    /// Set once sending failed (the client went away): stop trying.
    broken: bool,
}

impl Progress {
    /// Progress for this call, if its request asked for it.
    fn for_call(context: &RequestContext<RoleServer>, total_seconds: u32) -> Option<Self> {
        context.meta.get_progress_token().map(|token| Self {
            peer: context.peer.clone(),
            token,
            total: f64::from(total_seconds),
            last: None,
            broken: false,
        })
    }

    /// Sends a notice if one is due.
    async fn report(&mut self, waited: Duration, message: String) {
        if self.broken {
            return;
        }
        // Tenths of a second; the spec wants progress to grow with each notice.
        let mut progress = (waited.as_secs_f64() * 10.0).round() / 10.0;
        if let Some((at, last_progress, last_message)) = &self.last {
            if *last_message == message && at.elapsed() < PROGRESS_HEARTBEAT {
                return;
            }
            progress = progress.max(last_progress + 0.1);
        }
        let progress = progress.min(self.total);
        let notice = ProgressNotificationParam::new(self.token.clone(), progress)
            .with_total(self.total)
            .with_message(message.clone());
        match self.peer.notify_progress(notice).await {
            Ok(()) => self.last = Some((Instant::now(), progress, message)),
            Err(error) => {
                tracing::info!(
                    "cannot send a progress notification ({error}); no more for this wait"
                );
                self.broken = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_async_proto::v1::JobStatus;

    fn job(
        id: &str,
        status: JobStatus,
        finished_at: Option<&str>,
        activity: &str,
    ) -> v1::GetResponse {
        v1::GetResponse {
            job: Some(v1::Job {
                job_id: id.into(),
                status: status as i32,
                started_at: Some("2026-01-01T00:00:00.000Z".into()),
                finished_at: finished_at.map(Into::into),
                ..Default::default()
            }),
            summary: Some(v1::JobSummary {
                activity: activity.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        job_result::parse_time("2026-01-01T00:01:05Z").unwrap_or_default()
    }

    #[test]
    fn the_first_to_end_is_the_earliest_finish() {
        let jobs = [
            job("aaaaaaaaaaaa", JobStatus::Running, None, ""),
            job(
                "bbbbbbbbbbbb",
                JobStatus::Done,
                Some("2026-01-01T00:00:09.500Z"),
                "",
            ),
            job(
                "cccccccccccc",
                JobStatus::Error,
                Some("2026-01-01T00:00:09.100Z"),
                "",
            ),
        ];
        assert_eq!(first_settled(&jobs), Some(2));
        assert_eq!(first_settled(&jobs[..1]), None);
        assert_eq!(
            ended_header(&jobs, 2, now()),
            "2 of 3 jobs have ended, cccccccccccc first (codex_result gives the others' \
             results). The others:\naaaaaaaaaaaa running 1m05s\nbbbbbbbbbbbb done 9 s\n\
             Wait for the rest: codex_wait(job_ids=[\"aaaaaaaaaaaa\"]).\n"
        );
    }

    fn asking(id: &str, asked_at: &str, command: &str) -> v1::GetResponse {
        let mut response = job(id, JobStatus::InputRequired, None, "waiting");
        if let Some(job) = response.job.as_mut() {
            job.question = Some(v1::Question {
                question_id: "q1".into(),
                kind: "command".into(),
                command: Some(command.into()),
                decisions: vec!["allow".into(), "deny".into()],
                asked_at: asked_at.into(),
                deadline: "2026-01-01T00:10:00Z".into(),
                ..Default::default()
            });
        }
        response
    }

    #[test]
    fn a_job_that_asks_settles_a_wait_like_one_that_ends() {
        let jobs = [
            job("aaaaaaaaaaaa", JobStatus::Running, None, "ran: ls"),
            asking("bbbbbbbbbbbb", "2026-01-01T00:00:20Z", "npm install"),
            job("cccccccccccc", JobStatus::Queued, None, ""),
        ];
        assert!(settled(&jobs[1]) && !ended(&jobs[1]));
        assert_eq!(first_settled(&jobs), Some(1));
        assert_eq!(
            ended_header(&jobs, 1, now()),
            "First of 3 jobs to ask: bbbbbbbbbbbb. The others:\naaaaaaaaaaaa running 1m05s\n\
             cccccccccccc queued 1m05s\n\
             Wait for the rest: codex_wait(job_ids=[\"aaaaaaaaaaaa\", \"cccccccccccc\"]).\n"
        );
        // The earliest of a question and an end comes first; another job's
        // question is named in its line.
        let jobs = [
            asking("aaaaaaaaaaaa", "2026-01-01T00:00:30Z", "cargo fetch"),
            job(
                "bbbbbbbbbbbb",
                JobStatus::Done,
                Some("2026-01-01T00:00:10Z"),
                "",
            ),
        ];
        assert_eq!(first_settled(&jobs), Some(1));
        assert_eq!(
            ended_header(&jobs, 1, now()),
            "2 of 2 jobs have ended or ask, bbbbbbbbbbbb first (codex_result gives the others' \
             results). The others:\naaaaaaaaaaaa input_required 1m05s: asks to run `cargo fetch`\n"
        );
    }

    #[test]
    fn a_job_that_asks_is_shown_by_the_one_rendering_with_how_to_answer() {
        let result = view(
            asking("bbbbbbbbbbbb", "2026-01-01T00:00:20Z", "npm install"),
            true,
            false,
        )
        .expect("view");
        let text = result.content[0]
            .as_text()
            .map(|t| t.text.clone())
            .unwrap_or_default();
        assert!(
            text.starts_with("Codex job bbbbbbbbbbbb input_required (")
                && text.contains("\nCodex asks to run `npm install`.\n")
                && text.contains(
                    "Waiting for an answer: codex_answer(job_id=\"bbbbbbbbbbbb\", \
                     decision=\"allow|deny\"); ask the user first."
                ),
            "{text}"
        );
        assert!(
            !text.contains("waiting"),
            "the activity is not repeated: {text}"
        );
    }

    #[test]
    fn progress_counts_the_jobs_and_names_the_latest_activity() {
        let mut latest = Latest::default();
        let mut jobs = vec![
            job("aaaaaaaaaaaa", JobStatus::Running, None, "ran: ls"),
            job("bbbbbbbbbbbb", JobStatus::Running, None, "ran: make"),
            job("cccccccccccc", JobStatus::Queued, None, ""),
        ];
        latest.observe(&jobs);
        assert_eq!(
            latest.message(&jobs),
            "2 running, 1 queued; latest bbbbbbbbbbbb: ran: make"
        );
        jobs[0] = job("aaaaaaaaaaaa", JobStatus::Running, None, "ran: cargo test");
        latest.observe(&jobs);
        assert_eq!(
            latest.message(&jobs),
            "2 running, 1 queued; latest aaaaaaaaaaaa: ran: cargo test"
        );
        assert_eq!(
            status_line(&jobs[0], true, now()),
            "aaaaaaaaaaaa running 1m05s: ran: cargo test"
        );
    }
}
