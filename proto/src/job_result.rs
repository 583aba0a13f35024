//! The one rendering of a job's result: what `tasks/get` returns when a task
//! completes, what `codex_wait` and `codex_poll` return once a job has ended,
//! what `codex_result` returns, and the result part of `codexd show`.
//!
//! Every character of it costs the model's tokens, so each fact appears once:
//! a header line (status, exit code, time, the error), codex's answer
//! verbatim, then one line each for the files, the commands, tokens and the
//! branch, and how to continue. [`JobResult`] is also the `structuredContent`
//! of those results (MCP clients show the model the text; the structure is
//! for programs).

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::Serialize;

use crate::v1::{self, JobStatus};

/// The text of a result for an MCP client stays under this many characters:
/// Claude Code replaces a tool result over 50,000 characters with a 2 KB
/// preview and a file path, so the answer would be lost to the model.
pub const MCP_TEXT_BUDGET: usize = 45_000;

/// Commands shown one by one when there are at most this many; above it, the
/// failures are named and the rest counted.
const LIST_ALL_COMMANDS: usize = 8;
/// At most this many failed commands are named.
const MAX_FAILED_SHOWN: usize = 20;
/// At most this many changed files are listed in the text.
const MAX_FILES_SHOWN: usize = 100;
/// Longest command line shown in the text.
const MAX_COMMAND_CHARS: usize = 120;
/// Longest text shown for one of codex's own questions, and for an option.
const MAX_PROMPT_CHARS: usize = 300;
const MAX_OPTION_CHARS: usize = 80;

/// Where a job is in its life.
///
/// Inlined in the schemas (no `$ref`), which every client understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum Status {
    /// Accepted; Codex has not started yet.
    Queued,
    /// Codex is working.
    Running,
    /// Codex waits for an answer to its question (approval policy "ask"):
    /// the user answers in Claude Code's form, or codex_answer does.
    InputRequired,
    /// Codex finished with exit code 0.
    Done,
    /// Codex exited non-zero, could not start, or was lost; see `error`.
    Error,
    /// Stopped by codex_cancel (or a client's task cancel).
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
            Self::InputRequired => "input_required",
            Self::Done => "done",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status of a job record; None for an unspecified (or unknown)
    /// status, which only a daemon of another release sends.
    pub fn of(job: &v1::Job) -> Option<Self> {
        match JobStatus::try_from(job.status).unwrap_or(JobStatus::Unspecified) {
            JobStatus::Queued => Some(Self::Queued),
            JobStatus::Running => Some(Self::Running),
            JobStatus::InputRequired => Some(Self::InputRequired),
            JobStatus::Done => Some(Self::Done),
            JobStatus::Error => Some(Self::Error),
            JobStatus::Cancelled => Some(Self::Cancelled),
            JobStatus::Unspecified => None,
        }
    }
}

/// The reason a job stopped by its stall watchdog starts with (`stalled:
/// no progress from codex for …`), written by the monitor's watchdog.
pub const STALLED: &str = "stalled";
/// The reason a job stopped by its max-duration watchdog starts with.
pub const TIMED_OUT: &str = "timed_out";

/// The watchdog that stopped a job ([`STALLED`] or [`TIMED_OUT`]), read from
/// its status and its error, which starts with the watchdog's name; None for
/// any other job. Such a job is in status error because it was stopped, not
/// because of how codex exited after the stop, so its renderings lead with
/// the watchdog.
pub fn stopped_by_watchdog(status: Status, error: Option<&str>) -> Option<&'static str> {
    if status != Status::Error {
        return None;
    }
    let error = error?;
    [STALLED, TIMED_OUT].into_iter().find(|name| {
        error
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(':'))
    })
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

impl CommandRun {
    /// True when the command did not succeed (a non-zero exit, failed, declined).
    pub fn failed(&self) -> bool {
        match self.exit_code {
            Some(code) => code != 0,
            None => matches!(self.status.as_str(), "failed" | "declined"),
        }
    }
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

/// A job's result: everything needed to act on it once it has ended (and,
/// while it runs, what is known so far).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct JobResult {
    /// The job's id (codex_reply, codex_poll and `codexd show` take it).
    pub job_id: String,
    /// queued | running | done | error | cancelled; done, error and cancelled are final.
    pub status: Status,
    /// Codex's exit code once it has exited, else null.
    pub exit_code: Option<i32>,
    /// Why the job is in status error (or how it was cancelled), else null.
    pub error: Option<String>,
    /// Set when some of Codex's output could not be written (a full disk);
    /// absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_note: Option<String>,
    /// Seconds Codex ran (so far, while it runs); null before it started.
    pub elapsed_seconds: Option<u64>,
    /// Codex's final answer, once it finished its turn; else null. Longer
    /// answers keep their head and tail (see final_message_omitted_chars).
    pub final_message: Option<String>,
    /// Characters left out of the middle of final_message to fit the result
    /// (0 when it is whole); the whole answer: `codexd show <job_id>`.
    pub final_message_omitted_chars: usize,
    /// With an output_schema: Codex's answer parsed as JSON, when it matches
    /// the schema; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_json: Option<serde_json::Value>,
    /// With an output_schema: why Codex's answer is not final_json (it did not
    /// parse as JSON, or did not match the schema); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_json_error: Option<String>,
    /// For a review (codex_review): what Codex reviewed, and for target auto
    /// why; absent for other jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
    /// What Codex is doing now (or did last); null once it gave its answer.
    pub activity: Option<String>,
    /// The files Codex changed, each {path, kind} with kind add | delete | update.
    pub files_changed: Vec<FileChange>,
    /// The commands Codex ran, in order (the most recent ones if there were very many).
    pub commands: Vec<CommandRun>,
    /// How many commands Codex ran in all.
    pub commands_run: u32,
    /// Tokens used, once Codex has reported them, else null.
    pub usage: Option<Usage>,
    /// With isolation "worktree": the branch holding Codex's changes, else null.
    pub branch: Option<String>,
    /// With isolation "worktree": the worktree folder, else null.
    pub worktree: Option<String>,
    /// With isolation "worktree", once the job ended: `git diff --stat` of its branch.
    pub diffstat: Option<String>,
    /// With isolation "worktree": what the worktree did not have at start
    /// (the caller's uncommitted changes); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree_note: Option<String>,
    /// With isolation "worktree", once the job ended: what the end commit
    /// left uncommitted (not codex's edits) or why it failed; absent when it
    /// committed all of codex's work.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_note: Option<String>,
    /// With isolation "worktree": true when the worktree folder no longer
    /// exists (codex_reply cannot continue there; the branch keeps the work).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub worktree_missing: bool,
    /// Codex's raw output (stdout and stderr), whole.
    pub output_path: String,
    /// Codex's conversation id (codex_reply continues it); not in the text,
    /// where the job id stands for it.
    pub thread_id: Option<String>,
    /// With status input_required: what Codex asks; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<Question>,
    /// The questions answered so far (approval policy "ask"), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
    /// What the job was told while its turn ran (steered), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steered: Vec<String>,
    /// The agent CLI that ran the job when it is not codex (gemini).
    #[serde(skip_serializing_if = "is_codex")]
    pub agent: String,
}

fn is_codex(agent: &String) -> bool {
    agent.is_empty() || agent == "codex"
}

/// An agent's name (a job's `agent`: "claude", or empty for codex) as a
/// sentence starts with it: "Codex", "Gemini", "Claude".
pub fn agent_title(agent: &str) -> String {
    let name = if agent.is_empty() { "codex" } else { agent };
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What Codex asks while a job waits (status input_required).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct Question {
    /// Names the question (codex_answer's question_id).
    pub question_id: String,
    /// command | file_change | mcp_tool | tool | input (codex asks the user: prompts).
    pub kind: String,
    /// The command Codex wants to run (kind command).
    pub command: Option<String>,
    /// The files Codex wants to change (kind file_change).
    pub files: Vec<String>,
    /// Why, in Codex's words.
    pub reason: Option<String>,
    /// The answers Codex takes: allow | allow_session | deny | stop (none for kind input).
    pub decisions: Vec<String>,
    /// RFC 3339 time the question is denied (kind input: left unanswered) at if nobody answers.
    pub deadline: String,
    /// Kind input: Codex's questions (answer an option's label or free text).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<Prompt>,
}

/// One of Codex's own questions (kind input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct Prompt {
    /// Names it in a several-prompt answer.
    pub id: String,
    pub header: String,
    pub question: String,
    /// The answers Codex suggests (their labels).
    pub options: Vec<String>,
    /// Each option's description, for a form (not in the JSON: the labels
    /// are what an answer gives).
    #[serde(skip)]
    #[schemars(skip)]
    pub option_descriptions: Vec<String>,
    /// Free text is taken too.
    pub is_other: bool,
}

impl Prompt {
    /// `Which database? (Postgres | SQLite | or your own words)`.
    fn text(&self) -> String {
        let mut choices: Vec<String> = self
            .options
            .iter()
            .map(|o| clip_chars(o, MAX_OPTION_CHARS))
            .collect();
        if self.is_other || choices.is_empty() {
            choices.push("or your own words".into());
        }
        let question = match self.question.trim() {
            "" => self.header.trim(),
            q => q,
        };
        format!(
            "{} ({})",
            clip_chars(question, MAX_PROMPT_CHARS),
            choices.join(" | ")
        )
    }
}

/// An answered question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct Approval {
    /// What Codex asked to do, in one line.
    pub what: String,
    /// allow | allow_session | deny | stop.
    pub decision: String,
    /// user | timeout | codex-async.
    pub by: String,
    /// Kind input: the answer given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

impl Approval {
    /// An answer to codex's own questions (kind input), not an approval.
    pub fn is_input(&self) -> bool {
        matches!(self.decision.as_str(), "answered" | "unanswered")
    }
}

impl Question {
    /// The question of a job record.
    pub fn of(q: &v1::Question) -> Self {
        Self {
            question_id: q.question_id.clone(),
            kind: q.kind.clone(),
            command: q.command.clone(),
            files: q.files.clone(),
            reason: q.reason.clone().filter(|r| !r.trim().is_empty()),
            decisions: q.decisions.clone(),
            deadline: q.deadline.clone(),
            prompts: q
                .prompts
                .iter()
                .map(|p| Prompt {
                    id: p.id.clone(),
                    header: p.header.clone(),
                    question: p.question.clone(),
                    options: p.options.iter().map(|o| o.label.clone()).collect(),
                    option_descriptions: p.options.iter().map(|o| o.description.clone()).collect(),
                    is_other: p.is_other,
                })
                .collect(),
        }
    }

    /// Kind input: codex asks the user, answered with text.
    pub fn is_input(&self) -> bool {
        self.kind == "input"
    }

    /// What it asks for, in one line: `` run `cmd` ``, `change a, b`,
    /// `` call `server/tool` `` or (kind input) its questions.
    pub fn what(&self) -> String {
        let q = self;
        if q.is_input() {
            let asks: Vec<String> = q
                .prompts
                .iter()
                .map(|p| {
                    let text = if p.question.trim().is_empty() {
                        &p.header
                    } else {
                        &p.question
                    };
                    format!("\"{}\"", clip_chars(text.trim(), MAX_PROMPT_CHARS))
                })
                .collect();
            return format!("answer {}", asks.join(" and "));
        }
        match (q.kind.as_str(), &q.command) {
            ("mcp_tool", Some(tool)) => format!(
                "call the MCP tool `{}`",
                clip_chars(tool.trim(), MAX_COMMAND_CHARS)
            ),
            // Another of the agent's tools (Claude Code's WebFetch, say):
            // its name and input.
            ("tool", Some(tool)) => {
                format!("use {}", clip_chars(tool.trim(), MAX_COMMAND_CHARS))
            }
            ("command", Some(command)) => format!(
                "run `{}`",
                clip_chars(&unwrap_shell(command.trim()), MAX_COMMAND_CHARS)
            ),
            _ if !q.files.is_empty() => {
                format!("change {}", first_few(q.files.iter().map(String::as_str)))
            }
            _ => "change files".to_string(),
        }
    }

    /// The question as people and the model read it, in one sentence:
    /// `Codex asks to run `cmd` (why).`
    pub fn text(&self) -> String {
        self.text_by("Codex")
    }

    /// [`Question::text`] for a job of another agent: `agent` is who asks
    /// (`agent_title`: "Claude").
    pub fn text_by(&self, agent: &str) -> String {
        let why = self
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| format!(" ({})", clip_chars(r, 300)))
            .unwrap_or_default();
        if self.is_input() {
            return match self.prompts.as_slice() {
                [one] => format!("{agent} asks: {}.", one.text()),
                several => format!(
                    "{agent} asks {} questions: {}.",
                    several.len(),
                    several
                        .iter()
                        .map(|p| format!("[{}] {}", p.id, p.text()))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            };
        }
        format!("{agent} asks to {}{why}.", self.what())
    }

    /// How the answer text is written, for the next step: the text itself
    /// for one prompt, a JSON object of prompt id → text for several.
    fn answer_form(&self) -> String {
        match self.prompts.as_slice() {
            [_] => "answer=\"<an option or your words>\"".to_string(),
            several => format!(
                "answer='{{{}}}'",
                several
                    .iter()
                    .map(|p| format!("\"{}\": \"…\"", p.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Who reads a result: the model (next steps are tool calls) or a person
/// at a terminal (next steps are `codexd` commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    Model,
    Person,
}

/// How to answer a pending question, for a model without the Tasks form.
pub fn question_next_step(job_id: &str, q: &Question) -> String {
    if q.is_input() {
        return format!(
            "Waiting for an answer: codex_answer(job_id=\"{job_id}\", {}); ask the user \
             first. Unanswered by {}, codex gets no answer.\n",
            q.answer_form(),
            q.deadline
        );
    }
    let decisions = q.decisions.join("|");
    format!(
        "Waiting for an answer: codex_answer(job_id=\"{job_id}\", decision=\"{decisions}\"); \
         ask the user first. Unanswered, it is denied at {}.\n",
        q.deadline
    )
}

/// Why a daemon answer cannot be rendered (it comes from another release).
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// The answer carried no job.
    #[error("codexd answered without a job record")]
    NoJob,
    /// The job's status is not one this release knows.
    #[error("codexd reported job {job_id} with an unknown status ({status})")]
    UnknownStatus {
        /// The job.
        job_id: String,
        /// The raw status number.
        status: i32,
    },
}

impl JobResult {
    /// The result of the job in a Get answer. `answer_budget` bounds the
    /// characters of codex's answer kept (head and tail); None keeps it whole
    /// (`codexd show`).
    pub fn from_get(
        response: &v1::GetResponse,
        answer_budget: Option<usize>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, ResultError> {
        let job = response.job.as_ref().ok_or(ResultError::NoJob)?;
        let status = Status::of(job).ok_or_else(|| ResultError::UnknownStatus {
            job_id: job.job_id.clone(),
            status: job.status,
        })?;
        let empty = v1::JobSummary::default();
        let summary = response.summary.as_ref().unwrap_or(&empty);
        let answer = summary
            .final_message
            .as_deref()
            .filter(|m| !m.trim().is_empty());
        let (final_message, omitted) = match (answer, answer_budget) {
            (Some(text), Some(budget)) => {
                let (kept, omitted) = head_and_tail(text, budget);
                (Some(kept), omitted)
            }
            (Some(text), None) => (Some(text.to_string()), 0),
            (None, _) => (None, 0),
        };
        let activity =
            Some(summary.activity.clone()).filter(|a| !a.is_empty() && final_message.is_none());
        Ok(Self {
            job_id: job.job_id.clone(),
            status,
            exit_code: job.exit_code,
            error: job_error(
                status,
                job.error.as_deref(),
                summary.error_message.as_deref(),
            ),
            output_note: job.output_note.clone().filter(|n| !n.is_empty()),
            // A finished job's run time by the monitor's monotonic clock when
            // it has one: the wall clock may have jumped meanwhile.
            elapsed_seconds: match (job.finished_at.as_ref(), job.run_ms) {
                (Some(_), Some(ms)) => Some(ms / 1000),
                _ => elapsed_seconds(job.started_at.as_deref(), job.finished_at.as_deref(), now),
            },
            final_message,
            final_message_omitted_chars: omitted,
            final_json: summary
                .final_json
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok()),
            final_json_error: summary.final_json_error.clone(),
            review: job.review.clone().filter(|r| !r.is_empty()),
            activity,
            files_changed: summary
                .files_changed
                .iter()
                .map(|f| FileChange {
                    path: f.path.clone(),
                    kind: f.kind.clone(),
                })
                .collect(),
            commands: summary
                .commands
                .iter()
                .map(|c| CommandRun {
                    command: c.command.clone(),
                    exit_code: c.exit_code,
                    status: c.status.clone(),
                })
                .collect(),
            commands_run: summary.commands_count,
            // A stream that reports no usage (codex's reviewer) is not a
            // zero cost: say nothing rather than something false.
            usage: summary
                .usage
                .as_ref()
                .filter(|u| u.input_tokens > 0 || u.output_tokens > 0)
                .map(|u| Usage {
                    input_tokens: u.input_tokens,
                    cached_input_tokens: u.cached_input_tokens,
                    output_tokens: u.output_tokens,
                }),
            branch: job.branch.clone().filter(|b| !b.is_empty()),
            worktree: job.worktree.clone().filter(|w| !w.is_empty()),
            diffstat: summary.diffstat.clone().filter(|d| !d.trim().is_empty()),
            worktree_note: job.worktree_note.clone().filter(|n| !n.is_empty()),
            commit_note: summary.commit_note.clone().filter(|n| !n.is_empty()),
            worktree_missing: job.worktree_missing,
            output_path: job.output_path.clone(),
            thread_id: job.thread_id.clone().filter(|t| !t.is_empty()),
            question: job
                .question
                .as_ref()
                .filter(|_| status == Status::InputRequired)
                .map(Question::of),
            approvals: summary
                .approvals
                .iter()
                .map(|a| Approval {
                    what: a.what.clone(),
                    decision: a.decision.clone(),
                    by: a.by.clone(),
                    answer: a.answer.clone(),
                })
                .collect(),
            steered: summary.steered.clone(),
            agent: job.agent.clone(),
        })
    }

    /// The agent's name as the header says it: "Codex", "Gemini".
    fn agent_title(&self) -> String {
        agent_title(&self.agent)
    }

    /// The result as the model reads it: a header line, codex's answer, one
    /// line per kind of fact, and what to do next.
    pub fn to_text(&self) -> String {
        self.render(true, Reader::Model)
    }

    /// The result for a person at a terminal (`codexd show`): the same
    /// facts, with the next step as a `codexd` command where the model's
    /// is a tool call.
    pub fn to_text_for_people(&self) -> String {
        self.render(true, Reader::Person)
    }

    /// The result without codex's answer, for a reader who has just seen it
    /// in the job's events (`codexd review` after following the job).
    pub fn to_text_after_events(&self) -> String {
        self.render(false, Reader::Person)
    }

    fn render(&self, with_answer: bool, reader: Reader) -> String {
        let mut out = self.header();
        out.push('\n');
        if let Some(note) = &self.output_note {
            out.push_str(note);
            out.push('\n');
        }
        if let Some(answer) = &self.final_message {
            if with_answer {
                out.push('\n');
                out.push_str(answer.trim_end());
                out.push_str("\n\n");
            }
        } else if let Some(q) = &self.question {
            out.push_str(&q.text_by(&self.agent_title()));
            out.push('\n');
        } else if let Some(activity) = self.activity.as_ref().filter(|a| !self.repeats_error(a)) {
            let label = if self.status.is_final() {
                "Codex gave no final answer; last activity"
            } else {
                "Now"
            };
            out.push_str(&format!("{label}: {activity}\n"));
        } else if self.status.is_final() {
            out.push_str("Codex gave no final answer.\n");
        }
        if let Some(why) = &self.final_json_error {
            out.push_str(&format!("Structured answer: none; {why}.\n"));
        } else if self.final_json.is_some() {
            out.push_str("Structured answer: matches the output schema (final_json).\n");
        }
        if let Some(review) = &self.review {
            out.push_str(&format!("Reviewed: {review}.\n"));
        }
        for text in &self.steered {
            // One line each: the result names what the job was told,
            // output.txt holds it whole.
            out.push_str(&format!("Steered: {}\n", clip_chars(text, 300)));
        }
        if let Some(line) = self.files_line() {
            out.push_str(&line);
        }
        if let Some(line) = self.commands_line() {
            out.push_str(&line);
        }
        if let Some(line) = self.approvals_line() {
            out.push_str(&line);
        }
        if let Some(line) = self.answers_line() {
            out.push_str(&line);
        }
        if let Some(u) = &self.usage {
            out.push_str(&format!(
                "Tokens: {} in ({} cached), {} out.\n",
                u.input_tokens, u.cached_input_tokens, u.output_tokens
            ));
        }
        if let Some(branch) = &self.branch {
            let stat = self
                .diffstat
                .as_deref()
                .and_then(|d| d.lines().rev().find(|l| !l.trim().is_empty()))
                .map(|l| format!(": {}", l.trim()))
                .unwrap_or_default();
            let worktree = match (self.worktree.as_deref(), self.worktree_missing) {
                (Some(w), true) => format!(" (its worktree {w} was removed)"),
                (Some(w), false) => format!(" (worktree {w})"),
                (None, _) => String::new(),
            };
            // An empty branch stays until someone deletes it: say how.
            let empty =
                if self.diffstat.as_deref() == Some("no changes") && self.commit_note.is_none() {
                    " (`codexd prune --branches` deletes it with the job)"
                } else {
                    ""
                };
            out.push_str(&format!("Branch {branch}{worktree}{stat}{empty}.\n"));
            if let Some(note) = &self.commit_note {
                out.push_str(&format!("{}.\n", capitalized(note)));
            }
            if let Some(note) = &self.worktree_note {
                out.push_str(&format!("{}.\n", capitalized(note)));
            }
        }
        out.push_str(&self.next_step(reader));
        out
    }

    fn header(&self) -> String {
        // The watchdog's reason is the story: codex's exit code after the
        // stop (often 0, from a clean shutdown) only misleads next to
        // "error", and stays in `exit_code`.
        // It takes the status's place, as in `error (exit 1, 9 s): why`.
        if let Some((watchdog, why)) = stopped_by_watchdog(self.status, self.error.as_deref())
            .zip(self.error.as_deref())
            .and_then(|(name, error)| Some((name, error.strip_prefix(name)?.strip_prefix(':')?)))
        {
            let after = self
                .elapsed_seconds
                .map(|s| format!(" after {}", duration(s)))
                .unwrap_or_default();
            return format!(
                "{} job {} {watchdog} (stopped by its watchdog{after}):{why}",
                self.agent_title(),
                self.job_id
            );
        }
        let mut facts = Vec::new();
        if let Some(code) = self.exit_code {
            facts.push(format!("exit {code}"));
        }
        if let Some(seconds) = self.elapsed_seconds {
            facts.push(duration(seconds));
        }
        let facts = if facts.is_empty() {
            String::new()
        } else {
            format!(" ({})", facts.join(", "))
        };
        let error = self
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        format!(
            "{} job {} {}{facts}{error}",
            self.agent_title(),
            self.job_id,
            self.status.as_str()
        )
    }

    /// What a stopped job got done, in one line, for a cancelled task's
    /// status: `cancelled after 42 s: 3 commands run; changed a.rs, b.rs;
    /// the partial work is on branch codex/… (worktree …)`.
    pub fn work_done(&self) -> String {
        let mut parts = Vec::new();
        if self.commands_run > 0 {
            parts.push(format!("{} command(s) run", self.commands_run));
        }
        if !self.files_changed.is_empty() {
            let paths = self.files_changed.iter().map(|f| f.path.as_str());
            parts.push(format!("changed {}", first_few(paths)));
        }
        if let Some(branch) = &self.branch {
            let worktree = self
                .worktree
                .as_deref()
                .map(|w| format!(" (worktree {w})"))
                .unwrap_or_default();
            parts.push(format!("the partial work is on branch {branch}{worktree}"));
        }
        if parts.is_empty() {
            parts.push("before Codex ran a command or changed a file".into());
        }
        let after = self
            .elapsed_seconds
            .map(|s| format!(" after {}", duration(s)))
            .unwrap_or_default();
        format!("{}{after}: {}", self.status.as_str(), parts.join("; "))
    }

    /// True when `activity` (`failed: <message>`) only repeats the error
    /// the header already shows.
    fn repeats_error(&self, activity: &str) -> bool {
        let Some(error) = self.error.as_deref().filter(|_| self.status.is_final()) else {
            return false;
        };
        let said = activity
            .split_once(": ")
            .map_or(activity, |(_, rest)| rest)
            .trim_end_matches('…')
            .trim();
        !said.is_empty() && error.contains(said)
    }

    /// `Questions: "Which database?" → SQLite; "Name?" → no answer in time.`
    /// (codex's own questions, kind input).
    fn answers_line(&self) -> Option<String> {
        let parts: Vec<String> = self
            .approvals
            .iter()
            .filter(|a| a.is_input())
            .map(|a| {
                let asked = a.what.strip_prefix("answer ").unwrap_or(&a.what);
                match (&a.answer, a.by.as_str()) {
                    (Some(answer), _) => format!("{asked} → {}", clip_chars(answer, 300)),
                    (None, "timeout") => format!("{asked} → no answer in time (codex got none)"),
                    (None, _) => format!("{asked} → declined (codex got no answer)"),
                }
            })
            .collect();
        (!parts.is_empty()).then(|| format!("Questions: {}.\n", parts.join("; ")))
    }

    /// `Approvals: allowed `cmd`; denied `x` (no answer in time).`
    fn approvals_line(&self) -> Option<String> {
        let parts: Vec<String> = self
            .approvals
            .iter()
            .filter(|a| !a.is_input())
            .map(|a| {
                let decision = match a.decision.as_str() {
                    "allow" => "allowed",
                    "allow_session" => "allowed for the job",
                    "deny" => "denied",
                    "stop" => "denied and stopped",
                    other => other,
                };
                let by = match a.by.as_str() {
                    "timeout" => " (no answer in time)",
                    "codex-async" => " (by codex-async: not shown to you)",
                    _ => "",
                };
                format!("{decision} {}{by}", a.what)
            })
            .collect();
        if parts.is_empty() {
            return None;
        }
        Some(format!("Approvals: {}.\n", parts.join("; ")))
    }

    fn files_line(&self) -> Option<String> {
        if self.files_changed.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = self
            .files_changed
            .iter()
            .take(MAX_FILES_SHOWN)
            .map(|f| format!("{} {}", f.kind, f.path))
            .collect();
        let hidden = self.files_changed.len().saturating_sub(MAX_FILES_SHOWN);
        if hidden > 0 {
            parts.push(format!("{hidden} more (codexd show {})", self.job_id));
        }
        Some(format!(
            "Files changed ({}): {}.\n",
            self.files_changed.len(),
            parts.join(", ")
        ))
    }

    fn commands_line(&self) -> Option<String> {
        if self.commands_run == 0 {
            return None;
        }
        let total = self.commands_run;
        if self.commands.len() <= LIST_ALL_COMMANDS && self.commands.len() as u32 == total {
            let parts: Vec<String> = self.commands.iter().map(command_text).collect();
            return Some(format!("Commands ({total}): {}.\n", parts.join("; ")));
        }
        let failed: Vec<&CommandRun> = self.commands.iter().filter(|c| c.failed()).collect();
        let mut line = format!("Commands: {total} run");
        if failed.is_empty() {
            line.push_str(", none failed");
        } else {
            let named: Vec<String> = failed
                .iter()
                .take(MAX_FAILED_SHOWN)
                .map(|c| command_text(c))
                .collect();
            line.push_str(&format!(", {} failed: {}", failed.len(), named.join("; ")));
            if failed.len() > MAX_FAILED_SHOWN {
                line.push_str(&format!("; … (codexd show {})", self.job_id));
            }
        }
        let running: Vec<String> = self
            .commands
            .iter()
            .filter(|c| c.exit_code.is_none() && c.status == "in_progress")
            .map(command_text)
            .collect();
        if !running.is_empty() {
            line.push_str(&format!("; unfinished: {}", running.join("; ")));
        }
        line.push_str(".\n");
        Some(line)
    }

    fn next_step(&self, reader: Reader) -> String {
        let id = &self.job_id;
        let mut out = String::new();
        if self.final_message_omitted_chars > 0 {
            out.push_str(&format!(
                "The answer is cut in the middle ({} characters left out): read it whole \
                 with `codexd show {id}` or in {}.\n",
                self.final_message_omitted_chars, self.output_path
            ));
        }
        match self.status {
            Status::Queued | Status::Running => out.push_str(&format!(
                "Not finished: codex_wait(job_id=\"{id}\") returns when it ends.\n"
            )),
            Status::InputRequired => {
                if let Some(q) = &self.question {
                    match reader {
                        Reader::Model => out.push_str(&question_next_step(id, q)),
                        Reader::Person if q.is_input() => out.push_str(&format!(
                            "Waiting for your answer: codexd answer {id} --text TEXT{}. \
                             Unanswered by {}, codex gets no answer.\n",
                            if q.prompts.len() > 1 {
                                " (a JSON object of question id → answer)"
                            } else {
                                ""
                            },
                            q.deadline
                        )),
                        Reader::Person => out.push_str(&format!(
                            "Waiting for your answer: codexd answer {id} {}. Unanswered, it is denied at {}.\n",
                            q.decisions.join("|"),
                            q.deadline
                        )),
                    }
                }
            }
            Status::Done | Status::Error | Status::Cancelled => {
                if self.thread_id.is_none() {
                    out.push_str(
                        "Codex never began a conversation, so there is nothing to reply to: \
                         start a new job to try again.\n",
                    );
                } else if self.worktree_missing {
                    let branch = self.branch.as_deref().unwrap_or("its branch");
                    out.push_str(&format!(
                        "codex_reply cannot continue it without its worktree: re-create it \
                         from {branch} (`git worktree add`), or merge {branch} and start a new job.\n"
                    ));
                } else {
                    out.push_str(&format!("To follow up: codex_reply(job_id=\"{id}\").\n"))
                }
            }
        }
        out
    }
}

/// One command for the text: `` `cmd` ok `` / `` `cmd` exit 3 ``.
fn command_text(c: &CommandRun) -> String {
    let command = clip_chars(&unwrap_shell(c.command.trim()), MAX_COMMAND_CHARS);
    let outcome = match (c.exit_code, c.status.as_str()) {
        (Some(0), _) => "ok".to_string(),
        (Some(code), _) => format!("exit {code}"),
        (None, "in_progress") => "unfinished".to_string(),
        (None, status) => status.to_string(),
    };
    format!("`{command}` {outcome}")
}

/// The command codex ran inside its shell wrapper (`/bin/bash -lc '…'` or
/// `/bin/bash -lc "…"`): the wrapper is the same on every command and tells
/// the reader nothing. Shared by the result and the compact event line
/// (`codexd logs`, a poll's events), so a command reads the same in both.
///
/// Only a wrapper whose one argument reads back exactly is taken off; any
/// other command comes back as it is:
/// - single quotes: shell takes everything up to the next `'` literally, so
///   the argument is the text between them, provided it holds no `'` (a
///   quote spliced in as `'\''` would need undoing);
/// - double quotes: the shell undoes `\"`, `\\`, `\$`, `` \` `` and a
///   backslash-newline, and keeps any other backslash; an unescaped `$` or
///   `` ` `` expands before the inner shell sees it, and an unescaped `"`
///   ends the argument early, so neither can be read back and both leave the
///   command whole.
pub fn unwrap_shell(command: &str) -> Cow<'_, str> {
    const WRAPPERS: &[&str] = &[
        "/bin/bash -lc ",
        "bash -lc ",
        "/bin/zsh -lc ",
        "zsh -lc ",
        "/bin/sh -c ",
        "sh -c ",
    ];
    for wrapper in WRAPPERS {
        let Some(quoted) = command.strip_prefix(wrapper) else {
            continue;
        };
        if let Some(inner) = quoted
            .strip_prefix('\'')
            .and_then(|q| q.strip_suffix('\''))
            .filter(|inner| !inner.contains('\''))
        {
            return Cow::Borrowed(inner);
        }
        if let Some(inner) = quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .and_then(double_quoted)
        {
            return inner;
        }
    }
    Cow::Borrowed(command)
}

/// The word a shell reads from `inner`, the text between a pair of double
/// quotes (the closing one already taken off), or None when it cannot be
/// read back without running the shell (see [`unwrap_shell`]).
fn double_quoted(inner: &str) -> Option<Cow<'_, str>> {
    if !inner.contains(['\\', '"', '$', '`']) {
        return Some(Cow::Borrowed(inner));
    }
    let mut word = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('"' | '\\' | '$' | '`')) => word.push(escaped),
                Some('\n') => {}
                Some(other) => {
                    word.push('\\');
                    word.push(other);
                }
                // A backslash last escaped the quote taken off as closing:
                // the argument goes on past it.
                None => return None,
            },
            '"' | '$' | '`' => return None,
            c => word.push(c),
        }
    }
    Some(Cow::Owned(word))
}

/// `a, b, c, d, e and 3 more`: the first five of a list, the rest counted
/// (the one way a result, a question or a note names many paths).
pub fn first_few<'a>(items: impl ExactSizeIterator<Item = &'a str>) -> String {
    let total = items.len();
    let shown: Vec<&str> = items.take(5).collect();
    match total - shown.len() {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn clip_chars(text: &str, max: usize) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut kept: String = one_line.chars().take(max.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

/// `text` within `budget` characters: its head and tail around a marker, and
/// how many characters were left out (0 when it fits).
fn head_and_tail(text: &str, budget: usize) -> (String, usize) {
    let total = text.chars().count();
    if total <= budget {
        return (text.to_string(), 0);
    }
    // Two thirds head (the answer usually leads with its conclusion), one
    // third tail (where a summary or the last step usually is).
    let head_chars = budget * 2 / 3;
    let tail_chars = budget - head_chars;
    let mut head: String = text.chars().take(head_chars).collect();
    let mut tail: String = text.chars().skip(total - tail_chars).collect();
    // Cut between lines where a line ends near the cut (within a fifth of
    // each part), so no line of the answer is shown half.
    if let Some(end) = head
        .rfind('\n')
        .filter(|&i| i >= head.len() - head.len() / 5)
    {
        head.truncate(end);
    }
    if let Some(start) = tail.find('\n').filter(|&i| i <= tail.len() / 5) {
        tail.drain(..=start);
    }
    let omitted = total - head.chars().count() - tail.chars().count();
    (
        format!("{head}\n[… {omitted} characters left out …]\n{tail}"),
        omitted,
    )
}

/// A duration as the result's header writes it: `9 s`, `1m05s`, `2h03m`.
pub fn duration(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The `error` a model reads: the daemon's reason, plus codex's own message
/// when the job failed and the reason does not already say it ("codex exited
/// with code 1" alone does not tell what went wrong). codex's error events of
/// a job that then succeeded (it retries after "Reconnecting…") are left out.
pub fn job_error(status: Status, reason: Option<&str>, codex_said: Option<&str>) -> Option<String> {
    let reason = reason.filter(|r| !r.is_empty());
    let codex_said = codex_said.filter(|m| !m.is_empty());
    if status != Status::Error {
        return reason.map(str::to_string);
    }
    match (reason, codex_said) {
        (Some(reason), Some(said)) if !reason.contains(said) => Some(format!("{reason}: {said}")),
        (Some(reason), _) => Some(reason.to_string()),
        (None, said) => said.map(str::to_string),
    }
}

/// A job record's RFC 3339 time; None when it does not parse.
pub fn parse_time(time: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(time)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Whole seconds from `started_at` to `finished_at` (or `now` while the job
/// runs); None before it started or when a time does not parse.
pub fn elapsed_seconds(
    started_at: Option<&str>,
    finished_at: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<u64> {
    let start = parse_time(started_at?)?;
    let end = match finished_at {
        Some(t) => parse_time(t)?,
        None => now,
    };
    Some(u64::try_from((end - start).num_seconds()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-01-01T00:01:05Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default()
    }

    fn response(status: JobStatus, summary: v1::JobSummary) -> v1::GetResponse {
        v1::GetResponse {
            job: Some(v1::Job {
                job_id: "0123456789ab".into(),
                status: status as i32,
                exit_code: Some(0),
                started_at: Some("2026-01-01T00:00:00Z".into()),
                finished_at: Some("2026-01-01T00:01:05Z".into()),
                output_path: "/h/jobs/0123456789ab/output.txt".into(),
                thread_id: Some("thread-1".into()),
                ..Default::default()
            }),
            summary: Some(summary),
            ..Default::default()
        }
    }

    fn command(command: &str, exit_code: Option<i32>, status: &str) -> v1::CommandRun {
        v1::CommandRun {
            command: command.into(),
            exit_code,
            status: status.into(),
        }
    }

    #[test]
    fn a_done_job_reads_as_answer_then_one_line_per_fact() {
        let summary = v1::JobSummary {
            activity: "turn completed".into(),
            final_message: Some("All green.".into()),
            files_changed: vec![v1::FileChange {
                path: "src/lib.rs".into(),
                kind: "update".into(),
            }],
            commands: vec![
                command("cargo build", Some(0), "completed"),
                command("cargo test", Some(3), "failed"),
            ],
            commands_count: 2,
            usage: Some(v1::Usage {
                input_tokens: 10,
                cached_input_tokens: 2,
                output_tokens: 5,
            }),
            ..Default::default()
        };
        let result =
            JobResult::from_get(&response(JobStatus::Done, summary), Some(100), now()).ok();
        let text = result.map(|r| r.to_text()).unwrap_or_default();
        assert_eq!(
            text,
            "Codex job 0123456789ab done (exit 0, 1m05s)\n\nAll green.\n\n\
             Files changed (1): update src/lib.rs.\n\
             Commands (2): `cargo build` ok; `cargo test` exit 3.\n\
             Tokens: 10 in (2 cached), 5 out.\n\
             To follow up: codex_reply(job_id=\"0123456789ab\").\n"
        );
    }

    #[test]
    fn many_commands_name_every_failure_and_count_the_rest() {
        let mut commands: Vec<v1::CommandRun> = (0..30)
            .map(|i| command(&format!("step {i}"), Some(0), "completed"))
            .collect();
        commands[4] = command("seq 1 90000; exit 3", Some(3), "failed");
        commands[20] = command("rm -rf /", None, "declined");
        let summary = v1::JobSummary {
            commands,
            commands_count: 30,
            ..Default::default()
        };
        let result = JobResult::from_get(&response(JobStatus::Done, summary), None, now());
        let text = result.map(|r| r.to_text()).unwrap_or_default();
        assert!(
            text.contains(
                "Commands: 30 run, 2 failed: `seq 1 90000; exit 3` exit 3; `rm -rf /` declined.\n"
            ),
            "{text}"
        );
        assert!(!text.contains("step 1"), "{text}");
    }

    #[test]
    fn a_long_answer_keeps_head_and_tail_and_says_where_the_rest_is() {
        let answer = format!("{}{}", "h".repeat(60_000), "t".repeat(60_000));
        let summary = v1::JobSummary {
            final_message: Some(answer),
            ..Default::default()
        };
        let r = JobResult::from_get(
            &response(JobStatus::Done, summary),
            Some(MCP_TEXT_BUDGET - 1000),
            now(),
        );
        let Ok(r) = r else {
            panic!("renders");
        };
        let text = r.to_text();
        assert!(text.chars().count() < 50_000, "{}", text.len());
        assert!(text.contains("hhhh\n[… "), "head kept");
        assert!(text.contains("…]\ntttt"), "tail kept");
        assert_eq!(
            r.final_message_omitted_chars,
            120_000 - (MCP_TEXT_BUDGET - 1000)
        );
        assert!(
            text.contains("codexd show 0123456789ab"),
            "{}",
            &text[text.len() - 300..]
        );
        assert!(text.contains("/h/jobs/0123456789ab/output.txt"));
    }

    #[test]
    fn a_failed_job_says_why_and_what_codex_did_last() {
        let mut resp = response(
            JobStatus::Error,
            v1::JobSummary {
                activity: "said: trying again".into(),
                error_message: Some("boom".into()),
                ..Default::default()
            },
        );
        if let Some(job) = resp.job.as_mut() {
            job.exit_code = Some(1);
            job.error = Some("codex exited with code 1".into());
        }
        let text = JobResult::from_get(&resp, None, now())
            .map(|r| r.to_text())
            .unwrap_or_default();
        assert!(text.starts_with(
            "Codex job 0123456789ab error (exit 1, 1m05s): codex exited with code 1: boom\n\
             Codex gave no final answer; last activity: said: trying again\n"
        ));
    }

    #[test]
    fn a_job_its_watchdog_stopped_leads_with_the_reason_not_the_exit() {
        let stopped = |reason: &str, exit: Option<i32>| {
            let mut resp = response(
                JobStatus::Error,
                v1::JobSummary {
                    activity: "said: Reconnecting... 2/5".into(),
                    ..Default::default()
                },
            );
            if let Some(job) = resp.job.as_mut() {
                job.exit_code = exit;
                job.error = Some(reason.into());
            }
            text_of(&resp)
        };
        let stall = "stalled: no progress from codex for 30 s (it may be retrying a dead network \
                     or provider)";
        let text = stopped(stall, Some(0));
        assert!(
            text.starts_with(
                "Codex job 0123456789ab stalled (stopped by its watchdog after 1m05s): no \
                 progress from codex for 30 s (it may be retrying a dead network or provider)\n"
            ),
            "{text}"
        );
        assert!(!text.contains("exit 0"), "{text}");
        let text = stopped("timed_out: ran longer than the max duration of 60 s", None);
        assert!(
            text.starts_with(
                "Codex job 0123456789ab timed_out (stopped by its watchdog after 1m05s): ran \
                 longer than the max duration of 60 s\n"
            ),
            "{text}"
        );
        // Only a reason that names a watchdog, of a job in error.
        let text = stopped("stalledness: something else", Some(1));
        assert!(
            text.starts_with("Codex job 0123456789ab error (exit 1, 1m05s): stalledness"),
            "{text}"
        );
        assert_eq!(
            stopped_by_watchdog(Status::Error, Some("timed_out: ran longer")),
            Some(TIMED_OUT)
        );
        assert_eq!(
            stopped_by_watchdog(Status::Cancelled, Some("stalled: x")),
            None
        );
        assert_eq!(stopped_by_watchdog(Status::Error, None), None);
    }

    fn text_of(resp: &v1::GetResponse) -> String {
        JobResult::from_get(resp, None, now())
            .map(|r| r.to_text())
            .unwrap_or_default()
    }

    #[test]
    fn codexs_own_questions_show_their_options_how_to_answer_and_their_answers() {
        let prompt = |id: &str, q: &str, options: &[&str]| v1::Prompt {
            id: id.into(),
            header: id.to_uppercase(),
            question: q.into(),
            options: options
                .iter()
                .map(|l| v1::PromptOption {
                    label: (*l).into(),
                    description: String::new(),
                })
                .collect(),
            is_other: true,
            is_secret: false,
        };
        let mut resp = response(JobStatus::InputRequired, v1::JobSummary::default());
        if let Some(job) = resp.job.as_mut() {
            job.question = Some(v1::Question {
                question_id: "4".into(),
                kind: "input".into(),
                deadline: "2026-01-01T00:15:00Z".into(),
                prompts: vec![prompt("db", "Which database?", &["Postgres", "SQLite"])],
                ..Default::default()
            });
        }
        let text = text_of(&resp);
        assert!(
            text.contains("Codex asks: Which database? (Postgres | SQLite | or your own words).\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "codex_answer(job_id=\"0123456789ab\", answer=\"<an option or your words>\")"
            ),
            "{text}"
        );
        if let Some(q) = resp.job.as_mut().and_then(|j| j.question.as_mut()) {
            q.prompts.push(prompt("name", "Service name?", &[]));
        }
        let text = text_of(&resp);
        assert!(text.contains("Codex asks 2 questions: [db] Which database? (Postgres | SQLite | or your own words); [name] Service name? (or your own words)."), "{text}");
        assert!(
            text.contains(r#"answer='{"db": "…", "name": "…"}'"#),
            "{text}"
        );

        let done = response(
            JobStatus::Done,
            v1::JobSummary {
                final_message: Some("ok".into()),
                approvals: vec![
                    v1::Approval {
                        what: "answer \"Which database?\"".into(),
                        decision: "answered".into(),
                        by: "user".into(),
                        answer: Some("SQLite".into()),
                    },
                    v1::Approval {
                        what: "answer \"Service name?\"".into(),
                        decision: "unanswered".into(),
                        by: "timeout".into(),
                        answer: None,
                    },
                    v1::Approval {
                        what: "run `ls`".into(),
                        decision: "allow".into(),
                        by: "user".into(),
                        answer: None,
                    },
                ],
                ..Default::default()
            },
        );
        let text = text_of(&done);
        assert!(text.contains("Approvals: allowed run `ls`.\n"), "{text}");
        assert!(
            text.contains(
                "Questions: \"Which database?\" → SQLite; \"Service name?\" → no answer in time \
                 (codex got none).\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_failure_codex_reported_is_said_once() {
        let mut resp = response(
            JobStatus::Error,
            v1::JobSummary {
                activity: "failed: We're currently experiencing high demand, which may…".into(),
                error_message: Some(
                    "We're currently experiencing high demand, which may cause temporary errors."
                        .into(),
                ),
                ..Default::default()
            },
        );
        if let Some(job) = resp.job.as_mut() {
            job.exit_code = Some(1);
            job.error = Some("codex exited with code 1".into());
        }
        let text = text_of(&resp);
        assert_eq!(text.matches("high demand").count(), 1, "{text}");
        assert!(text.contains("Codex gave no final answer.\n"), "{text}");
    }

    #[test]
    fn a_stream_without_usage_reports_no_tokens() {
        let resp = response(
            JobStatus::Done,
            v1::JobSummary {
                final_message: Some("No findings.".into()),
                usage: Some(v1::Usage::default()),
                ..Default::default()
            },
        );
        let result = JobResult::from_get(&resp, None, now()).expect("result");
        assert!(result.usage.is_none());
        assert!(!result.to_text().contains("Tokens"), "{}", result.to_text());
    }

    #[test]
    fn no_reply_is_offered_where_a_reply_cannot_work() {
        // codex never started a thread (cancelled while queued, or it failed to start).
        let mut resp = response(JobStatus::Cancelled, v1::JobSummary::default());
        if let Some(job) = resp.job.as_mut() {
            job.thread_id = None;
        }
        let text = text_of(&resp);
        assert!(!text.contains("codex_reply"), "{text}");
        assert!(text.contains("start a new job"), "{text}");
        // The worktree was removed by hand: the branch is the way on.
        let mut resp = response(
            JobStatus::Done,
            v1::JobSummary {
                diffstat: Some(" a.txt | 1 +\n 1 file changed, 1 insertion(+)".into()),
                ..Default::default()
            },
        );
        if let Some(job) = resp.job.as_mut() {
            job.branch = Some("codex/0123456789ab".into());
            job.worktree = Some("/h/jobs/0123456789ab/worktree".into());
            job.worktree_missing = true;
        }
        let text = text_of(&resp);
        assert!(
            text.contains(
                "Branch codex/0123456789ab (its worktree /h/jobs/0123456789ab/worktree was removed): \
                 1 file changed, 1 insertion(+).\n"
            ),
            "{text}"
        );
        assert!(!text.contains("To follow up"), "{text}");
        assert!(
            text.contains("re-create it from codex/0123456789ab"),
            "{text}"
        );
    }

    #[test]
    fn the_worktree_notes_follow_the_branch_line() {
        let mut resp = response(
            JobStatus::Done,
            v1::JobSummary {
                diffstat: Some("no changes".into()),
                commit_note: Some("not committed, as they are not codex's edits: notes.md (still in the worktree /w)".into()),
                ..Default::default()
            },
        );
        if let Some(job) = resp.job.as_mut() {
            job.branch = Some("codex/0123456789ab".into());
            job.worktree_note = Some("the worktree starts from HEAD abc, without the 1 uncommitted change(s) in /r (x.rs); commit them for codex to see them".into());
        }
        let text = text_of(&resp);
        assert!(
            text.contains(
                "Branch codex/0123456789ab: no changes.\n\
                 Not committed, as they are not codex's edits: notes.md (still in the worktree /w).\n\
                 The worktree starts from HEAD abc, without the 1 uncommitted change(s) in /r (x.rs); \
                 commit them for codex to see them.\n"
            ),
            "{text}"
        );
        // Without a note, an empty branch says how it goes.
        if let Some(s) = resp.summary.as_mut() {
            s.commit_note = None;
        }
        assert!(text_of(&resp).contains(
            "Branch codex/0123456789ab: no changes (`codexd prune --branches` deletes it with the job).\n"
        ));
    }

    #[test]
    fn another_agents_question_names_that_agent_and_its_tool() {
        let mut resp = response(JobStatus::InputRequired, v1::JobSummary::default());
        if let Some(job) = resp.job.as_mut() {
            job.finished_at = None;
            job.exit_code = None;
            job.agent = "claude".into();
            job.question = Some(v1::Question {
                question_id: "toolu_1".into(),
                kind: "tool".into(),
                command: Some("WebFetch {\"url\":\"https://example.com\"}".into()),
                decisions: vec!["allow".into(), "deny".into(), "stop".into()],
                deadline: "2026-01-01T00:16:05Z".into(),
                ..Default::default()
            });
        }
        let text = JobResult::from_get(&resp, None, now())
            .expect("result")
            .to_text();
        assert!(
            text.contains("Claude asks to use WebFetch {\"url\":\"https://example.com\"}."),
            "{text}"
        );
        assert_eq!(agent_title(""), "Codex");
    }

    #[test]
    fn a_waiting_job_tells_a_person_the_codexd_command() {
        let mut resp = response(JobStatus::InputRequired, v1::JobSummary::default());
        if let Some(job) = resp.job.as_mut() {
            job.finished_at = None;
            job.exit_code = None;
            job.question = Some(v1::Question {
                question_id: "q1".into(),
                kind: "command".into(),
                command: Some("npm install".into()),
                decisions: vec!["allow".into(), "deny".into()],
                deadline: "2026-01-01T00:16:05Z".into(),
                ..Default::default()
            });
        }
        let result = JobResult::from_get(&resp, None, now()).expect("result");
        assert!(result
            .to_text()
            .contains("codex_answer(job_id=\"0123456789ab\""));
        let people = result.to_text_for_people();
        assert!(
            people.contains("Waiting for your answer: codexd answer 0123456789ab allow|deny."),
            "{people}"
        );
        assert!(!people.contains("codex_answer"), "{people}");
    }

    #[test]
    fn a_cancelled_job_says_what_it_got_done() {
        let mut resp = response(
            JobStatus::Cancelled,
            v1::JobSummary {
                activity: "running: cargo test".into(),
                files_changed: vec![v1::FileChange {
                    path: "src/lib.rs".into(),
                    kind: "update".into(),
                }],
                commands: vec![command("cargo test", None, "in_progress")],
                commands_count: 3,
                ..Default::default()
            },
        );
        if let Some(job) = resp.job.as_mut() {
            job.branch = Some("codex/0123456789ab".into());
            job.worktree = Some("/w".into());
        }
        let result = JobResult::from_get(&resp, None, now()).expect("result");
        assert_eq!(
            result.work_done(),
            "cancelled after 1m05s: 3 command(s) run; changed src/lib.rs; \
             the partial work is on branch codex/0123456789ab (worktree /w)"
        );
        let resp = response(JobStatus::Cancelled, v1::JobSummary::default());
        let result = JobResult::from_get(&resp, None, now()).expect("result");
        assert_eq!(
            result.work_done(),
            "cancelled after 1m05s: before Codex ran a command or changed a file"
        );
    }

    #[test]
    fn a_long_answer_is_cut_between_lines() {
        let answer: String = (0..400)
            .map(|i| format!("line {i:03} of the answer\n"))
            .collect();
        let (kept, omitted) = head_and_tail(&answer, 1000);
        assert!(omitted > 0);
        let (head, rest) = kept.split_once("\n[…").expect("marker");
        let tail = rest.split_once("…]\n").map(|(_, t)| t).expect("marker end");
        assert!(head.ends_with("of the answer"), "{head:?}");
        assert!(tail.starts_with("line "), "{tail:?}");
        assert_eq!(
            head.chars().count() + tail.chars().count() + omitted,
            answer.chars().count(),
            "the omitted count is exact"
        );
    }

    #[test]
    fn the_shell_wrapper_is_left_out_unless_quoting_needs_it() {
        assert_eq!(unwrap_shell("/bin/bash -lc 'echo hi'"), "echo hi");
        assert_eq!(
            unwrap_shell("bash -lc 'seq 1 9; exit 3'"),
            "seq 1 9; exit 3"
        );
        assert_eq!(
            unwrap_shell("/bin/bash -lc 'echo '\\''x'\\'''"),
            "/bin/bash -lc 'echo '\\''x'\\'''"
        );
        assert_eq!(unwrap_shell("cargo test"), "cargo test");
    }

    #[test]
    fn a_double_quoted_wrapper_is_left_out_with_its_escapes_undone() {
        assert_eq!(unwrap_shell(r#"/bin/bash -lc "echo hi""#), "echo hi");
        assert_eq!(
            unwrap_shell(r#"/bin/bash -lc "grep -n \"fn main\" src/*.rs""#),
            r#"grep -n "fn main" src/*.rs"#
        );
        assert_eq!(
            unwrap_shell(r#"bash -lc "echo \$HOME \`date\` a\\b""#),
            r#"echo $HOME `date` a\b"#
        );
        // The shell keeps a backslash before anything else, and drops a
        // backslash-newline.
        assert_eq!(
            unwrap_shell("/bin/bash -lc \"printf 'a\\tb' \\\n| cat\""),
            "printf 'a\\tb' | cat"
        );
        // Expanded by the outer shell, cut short by a bare quote, or with
        // its closing quote escaped: the argument cannot be read back.
        for whole in [
            r#"/bin/bash -lc "echo $HOME""#,
            r#"/bin/bash -lc "echo `date`""#,
            r#"/bin/bash -lc "a" "b""#,
            r#"/bin/bash -lc "echo \""#,
            r#"/bin/bash -lc "echo"#,
        ] {
            assert_eq!(unwrap_shell(whole), whole);
        }
        assert_eq!(
            unwrap_shell(r#"cargo test -- "a b""#),
            r#"cargo test -- "a b""#
        );
    }

    #[test]
    fn unknown_status_and_missing_job_are_errors() {
        let mut resp = response(JobStatus::Unspecified, v1::JobSummary::default());
        assert!(JobResult::from_get(&resp, None, now()).is_err());
        resp.job = None;
        assert!(JobResult::from_get(&resp, None, now()).is_err());
    }

    #[test]
    fn statuses_serialize_as_their_names() {
        for status in [
            Status::Queued,
            Status::Running,
            Status::InputRequired,
            Status::Done,
            Status::Error,
            Status::Cancelled,
        ] {
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(serde_json::Value::String(status.as_str().into()))
            );
        }
    }

    #[test]
    fn errors_combine_reason_and_codex_message() {
        assert_eq!(
            job_error(Status::Error, Some("x: boom"), Some("boom")),
            Some("x: boom".into())
        );
        assert_eq!(
            job_error(Status::Error, None, Some("boom")),
            Some("boom".into())
        );
        assert_eq!(
            job_error(Status::Done, None, Some("Reconnecting... 1/5")),
            None
        );
        assert_eq!(
            job_error(Status::Cancelled, Some("cancelled"), Some("boom")),
            Some("cancelled".into())
        );
    }

    #[test]
    fn elapsed_runs_to_now_while_running() {
        assert_eq!(
            elapsed_seconds(Some("2026-01-01T00:00:00Z"), None, now()),
            Some(65)
        );
        assert_eq!(elapsed_seconds(None, None, now()), None);
        assert_eq!(elapsed_seconds(Some("garbage"), None, now()), None);
    }
}
