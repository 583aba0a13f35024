//! What a job is: its id, its approval policy, and the record kept for it;
//! and what every engine produces for a job, in codexd's own terms whatever
//! the agent: its events and their summary ([`events`]), the answers to its
//! questions ([`answers`]) and, for a review, its target ([`review`]).

pub mod answers;
pub mod events;
pub mod review;
pub mod schema;

use std::fmt;

use codex_async_proto::v1::{self, JobStatus};

pub use crate::engine::agent::Agent;
use events::Summary;
use rand_id::new_id_hex;
use review::Review;

/// The reasoning efforts codex-async passes as `-c model_reasoning_effort`:
/// the values codex's configuration reference and the Responses API name
/// (`reasoning.effort`). codex 0.171 itself does not check the value (it
/// sends any string on to the provider), so this list is the only guard.
pub const REASONING_EFFORTS: &[&str] = codex_async_proto::values::REASONING_EFFORTS;

/// A reasoning effort that is not one of [`REASONING_EFFORTS`].
#[derive(Debug, thiserror::Error)]
#[error("reasoning_effort: unknown value {0:?}; use one of {efforts} (codex's model_reasoning_effort), or leave it out for the default", efforts = codex_async_proto::values::listed(REASONING_EFFORTS))]
pub struct BadEffort(pub String);

/// Checks a reasoning effort name.
pub fn reasoning_effort(s: &str) -> Result<&'static str, BadEffort> {
    REASONING_EFFORTS
        .iter()
        .find(|e| **e == s)
        .copied()
        .ok_or_else(|| BadEffort(s.chars().take(40).collect()))
}

/// Length of a job id: 12 lowercase hex characters (48 random bits).
pub const JOB_ID_LEN: usize = 12;

/// A validated job id: exactly [`JOB_ID_LEN`] lowercase hex characters, so it is
/// safe in paths and URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobId(String);

/// Why a string is not a job id.
#[derive(Debug, thiserror::Error)]
#[error("job_id: {0:?} is not a job id; job ids are 12 lowercase hex characters, as returned by codex_start (list them with codex_list)")]
pub struct BadJobId(pub String);

impl JobId {
    /// A fresh random id (from a v4 uuid).
    pub fn generate() -> Self {
        Self(new_id_hex())
    }

    /// Checks `s` is a well-formed id. Nothing touches the filesystem before this.
    pub fn parse(s: &str) -> Result<Self, BadJobId> {
        let ok = s.len() == JOB_ID_LEN
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(Self(s.to_string()))
        } else {
            let shown: String = s.chars().take(40).collect();
            Err(BadJobId(shown))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A job id reads as the text it is (paths, SQL binds, messages).
impl std::ops::Deref for JobId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// Sets and maps of ids are looked up by the text (a folder's name): the
/// derived `Hash` of the one `String` field hashes as that `str` does.
impl std::borrow::Borrow<str> for JobId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for JobId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for JobId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for JobId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

mod rand_id {
    /// 12 hex chars of a v4 uuid: its first 48 bits are random.
    pub fn new_id_hex() -> String {
        let uuid = uuid::Uuid::new_v4();
        uuid.simple().to_string()[..super::JOB_ID_LEN].to_string()
    }
}

/// How much codex may do without asking (exec never asks, so this picks the sandbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Read-only sandbox: codex can read and answer, not write.
    Suggest,
    /// Workspace-write sandbox: codex edits files in the working directory.
    AutoEdit,
    /// No sandbox and no approvals: codex can do anything the user can.
    FullAuto,
    /// Workspace-write sandbox, and codex asks (codex's `on-request`) before
    /// it runs or changes anything outside it: the job's question, answered
    /// by the user. Runs on codex's app-server (`codex exec` cannot ask).
    Ask,
}

/// Every policy, in the order messages and schemas list them.
pub const POLICIES: &[Policy] = &[
    Policy::Suggest,
    Policy::AutoEdit,
    Policy::Ask,
    Policy::FullAuto,
];

/// An approval policy name that is not one of the three.
#[derive(Debug, thiserror::Error)]
#[error("approval_policy: unknown value {0:?}; use one of suggest (read-only sandbox, the default), auto-edit (may edit files in cwd), ask (may edit files in cwd; asks the user before anything else), full-auto (no sandbox)")]
pub struct BadPolicy(pub String);

impl Policy {
    /// Parses a policy name; an unknown name is an error, never a fallback.
    pub fn parse(s: &str) -> Result<Self, BadPolicy> {
        match s {
            "suggest" => Ok(Self::Suggest),
            "auto-edit" => Ok(Self::AutoEdit),
            "full-auto" => Ok(Self::FullAuto),
            "ask" => Ok(Self::Ask),
            other => Err(BadPolicy(other.chars().take(40).collect())),
        }
    }

    /// The name users pass and see.
    pub fn name(self) -> &'static str {
        match self {
            Self::Suggest => "suggest",
            Self::AutoEdit => "auto-edit",
            Self::FullAuto => "full-auto",
            Self::Ask => "ask",
        }
    }

    /// codex's app-server names: (`approvalPolicy`, `sandbox`) of
    /// `thread/start` and `thread/resume`.
    pub fn app_server(self) -> (&'static str, &'static str) {
        match self {
            Self::Suggest => ("never", "read-only"),
            Self::AutoEdit => ("never", "workspace-write"),
            Self::FullAuto => ("never", "danger-full-access"),
            Self::Ask => ("on-request", "workspace-write"),
        }
    }
}

/// A job as recorded in the database (the source of truth).
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub job_id: JobId,
    pub status: JobStatus,
    pub prompt: String,
    pub cwd: String,
    pub approval_policy: Policy,
    pub model: Option<String>,
    /// codex's pid.
    pub pid: Option<i32>,
    /// The per-job monitor's pid and start time (guards against pid reuse).
    pub monitor_pid: Option<i32>,
    pub monitor_start_time: Option<i64>,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// codex's thread id (from its events), for codex_reply.
    pub thread_id: Option<String>,
    /// The job this one continues.
    pub parent_job_id: Option<String>,
    pub isolation: Isolation,
    /// With worktree isolation: the branch and the directory codex runs in.
    pub branch: Option<String>,
    pub worktree: Option<String>,
    pub diffstat: Option<String>,
    /// Set when some of codex's output could not be written (a full disk).
    pub output_note: Option<String>,
    /// Watchdogs, in seconds.
    pub stall_timeout: u32,
    pub max_duration: u32,
    /// What codex did so far, folded from its events.
    pub summary: Summary,
    /// Bytes of output.txt folded into `summary`.
    pub events_offset: u64,
    /// codex's reasoning effort (`-c model_reasoning_effort`), when set.
    pub reasoning_effort: Option<String>,
    /// Set for a review job (`codex exec review`): its target.
    pub review: Option<Review>,
    /// With a structured answer: the output schema file in the job's folder.
    pub output_schema: Option<String>,
    /// With worktree isolation: what the worktree lacked at start (the
    /// caller's uncommitted changes).
    pub worktree_note: Option<String>,
    /// With worktree isolation, once ended: what the end commit left out or
    /// why it failed.
    pub commit_note: Option<String>,
    /// How long codex ran, by the monitor's monotonic clock (exit.json).
    pub run_ms: Option<u64>,
    /// The agent CLI that runs the job.
    pub agent: Agent,
}

/// Where codex works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// In the caller's cwd.
    None,
    /// In a new git worktree on branch `codex/<job_id>`.
    Worktree,
}

/// An isolation name that is not one of the two.
#[derive(Debug, thiserror::Error)]
#[error("isolation: unknown value {0:?}; use none (work in cwd, the default) or worktree (a new git worktree on branch codex/<job_id>)")]
pub struct BadIsolation(pub String);

impl Isolation {
    pub fn parse(s: &str) -> Result<Self, BadIsolation> {
        match s {
            "none" => Ok(Self::None),
            "worktree" => Ok(Self::Worktree),
            other => Err(BadIsolation(other.chars().take(40).collect())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Worktree => "worktree",
        }
    }
}

/// What a job asks codex for, decided in this one place: codex's command
/// line (codex/command.rs), its engine and app-server plan (codex/mod.rs,
/// codex/app_server.rs) all follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    /// A new task (a new app-server thread).
    Task,
    /// A reply: continues codex's conversation `thread` (`thread/resume` in
    /// a new app-server).
    Reply { thread: &'a str },
    /// A review of `review`'s target (`codex exec review`).
    Review(&'a Review),
}

impl JobRecord {
    /// What the job asks codex for: a review, a reply (a parent whose codex
    /// thread is known), or a task.
    pub fn kind(&self) -> Kind<'_> {
        match (&self.review, &self.parent_job_id, &self.thread_id) {
            (Some(review), _, _) => Kind::Review(review),
            (None, Some(_), Some(thread)) => Kind::Reply { thread },
            _ => Kind::Task,
        }
    }

    /// The directory codex runs in: the worktree when isolated, else cwd.
    pub fn run_dir(&self) -> &str {
        self.worktree.as_deref().unwrap_or(&self.cwd)
    }

    /// The API form, with the path of the job's output file.
    pub fn to_proto(&self, output_path: String) -> v1::Job {
        v1::Job {
            job_id: self.job_id.to_string(),
            status: self.api_status() as i32,
            prompt: self.prompt.clone(),
            cwd: self.cwd.clone(),
            approval_policy: self.approval_policy.name().to_string(),
            model: self.model.clone(),
            pid: self.pid,
            exit_code: self.exit_code,
            error: self.error.clone(),
            created_at: self.created_at.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
            output_path,
            parent_job_id: self.parent_job_id.clone(),
            thread_id: self.thread_id.clone(),
            isolation: self.isolation.name().to_string(),
            branch: self.branch.clone(),
            worktree: self.worktree.clone(),
            stall_timeout_seconds: self.stall_timeout,
            max_duration_seconds: self.max_duration,
            output_note: self.output_note.clone(),
            reasoning_effort: self.reasoning_effort.clone(),
            review: self.review.as_ref().map(|r| r.described.clone()),
            output_schema_path: self.output_schema.clone(),
            question: self
                .summary
                .question
                .as_ref()
                .filter(|q| self.status == JobStatus::Running && q.answered.is_none())
                .map(|q| q.to_proto()),
            worktree_missing: false,
            worktree_note: self.worktree_note.clone(),
            run_ms: self.run_ms,
            // Set where a list cuts the prompt (fit.rs).
            prompt_truncated: false,
            agent: self.agent.name().to_string(),
        }
    }

    /// The status the API shows: a running job that waits for an answer is
    /// `input_required` (the database records it as running: it is); one
    /// whose answer is on its way to codex runs.
    pub fn api_status(&self) -> JobStatus {
        let asks = self
            .summary
            .question
            .as_ref()
            .is_some_and(|q| q.answered.is_none());
        if self.status == JobStatus::Running && asks {
            JobStatus::InputRequired
        } else {
            self.status
        }
    }

    /// The summary in its API form.
    pub fn summary_proto(&self) -> v1::JobSummary {
        let s = &self.summary;
        v1::JobSummary {
            activity: s.activity.clone(),
            final_message: s.final_message.clone(),
            files_changed: s
                .files_changed
                .iter()
                .map(|f| v1::FileChange {
                    path: f.path.clone(),
                    kind: f.kind.clone(),
                })
                .collect(),
            commands: s
                .commands
                .iter()
                .map(|c| v1::CommandRun {
                    command: c.command.clone(),
                    exit_code: c.exit_code,
                    status: c.status.clone(),
                })
                .collect(),
            commands_count: s.commands_count,
            usage: s.usage.as_ref().map(|u| v1::Usage {
                input_tokens: u.input_tokens,
                cached_input_tokens: u.cached_input_tokens,
                output_tokens: u.output_tokens,
            }),
            error_message: s.error_message.clone(),
            diffstat: self.diffstat.clone(),
            commit_note: self.commit_note.clone(),
            parsed_bytes: self.events_offset,
            final_json: None,
            final_json_error: None,
            steered: s.steered.clone(),
            approvals: s
                .approvals
                .iter()
                .map(|a| v1::Approval {
                    answer: a.answer.clone(),
                    what: a.what.clone(),
                    decision: a.decision.clone(),
                    by: a.by.clone(),
                })
                .collect(),
        }
    }
}

/// Now, as RFC 3339 with milliseconds and an explicit offset (`+00:00`, as the
/// Python tool wrote it).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

#[cfg(test)]
mod tests {
    use codex_async_proto::values;

    /// The daemon's types hold exactly the values the API states once
    /// (`codex_async_proto::values`), which the MCP schemas are made from.
    #[test]
    fn the_daemons_types_hold_the_apis_values() {
        let policies: Vec<&str> = POLICIES.iter().map(|p| p.name()).collect();
        assert_eq!(policies, values::APPROVAL_POLICIES);
        for name in values::APPROVAL_POLICIES {
            assert_eq!(Policy::parse(name).map(Policy::name).ok(), Some(*name));
        }
        for name in values::ISOLATIONS {
            assert_eq!(
                Isolation::parse(name).map(Isolation::name).ok(),
                Some(*name)
            );
        }
        let decisions: Vec<&str> = answers::DECISIONS.iter().map(|d| d.name()).collect();
        assert_eq!(decisions, values::DECISIONS);
        assert_eq!(REASONING_EFFORTS, values::REASONING_EFFORTS);
    }

    use super::*;

    #[test]
    fn generated_ids_parse() {
        for _ in 0..100 {
            let id = JobId::generate();
            assert_eq!(JobId::parse(id.as_str()).map(|j| j.0).ok(), Some(id.0));
        }
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "../etc",
            "ABCDEF012345",
            "abcdef01234",
            "abcdef0123456",
            "abcdef01234g",
            "abc/ef012345",
        ] {
            assert!(JobId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn policies_map_to_codexs_app_server_names() {
        let names = |p: &str| Policy::parse(p).map(Policy::app_server).ok();
        assert_eq!(names("suggest"), Some(("never", "read-only")));
        assert_eq!(names("auto-edit"), Some(("never", "workspace-write")));
        assert_eq!(names("full-auto"), Some(("never", "danger-full-access")));
        assert_eq!(names("ask"), Some(("on-request", "workspace-write")));
        let err = Policy::parse("yolo")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("approval_policy") && err.contains("yolo"),
            "{err}"
        );
    }
}
