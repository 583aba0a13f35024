//! Checks on everything a client sends, before anything is created.
//!
//! The daemon is the boundary (grpcurl and other clients reach it directly), so
//! every rule lives here; each failure names the field and how to fix it.

use std::path::{Path, PathBuf};

use codex_async_proto::v1::{JobStatus, ReviewRequest, StartRequest};

use crate::job::{
    self,
    answers::{Decision, Reply, MAX_ANSWER_BYTES},
    review::{self, Fields, Requested},
    Isolation, JobId, Policy,
};

/// Largest prompt accepted, in bytes.
pub const MAX_PROMPT_BYTES: usize = codex_async_proto::values::MAX_PROMPT_BYTES;
/// Default and largest `tail_lines`.
pub const DEFAULT_TAIL_LINES: u32 = 100;
pub const MAX_TAIL_LINES: u32 = 10_000;
/// Default and largest list `limit`.
pub const DEFAULT_LIST_LIMIT: u32 = 20;
pub const MAX_LIST_LIMIT: u32 = 1000;
const MAX_MODEL_LEN: usize = 100;

/// A rejected input; the text names the field and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Longest watchdog setting: a week.
pub const MAX_WATCHDOG_SECONDS: u32 = 7 * 24 * 3600;

/// A start request that passed every check. Fields left `None` take the
/// parent's value for a reply, else the default.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub prompt: String,
    /// Canonical absolute path of an existing directory (optional for a reply).
    pub cwd: Option<PathBuf>,
    pub policy: Option<Policy>,
    pub model: Option<String>,
    pub isolation: Isolation,
    pub reply_to: Option<JobId>,
    pub stall_timeout: Option<u32>,
    pub max_duration: Option<u32>,
    /// codex's reasoning effort (one of [`job::REASONING_EFFORTS`]).
    pub reasoning_effort: Option<&'static str>,
    /// The output schema, checked, as JSON text to write to the job folder.
    pub output_schema: Option<String>,
    /// Set for a review: its target, to resolve against the repository.
    pub review: Option<Requested>,
    /// The agent asked for (None: the parent's for a reply, else codex).
    pub agent: Option<crate::engine::agent::Agent>,
}

/// Longest branch name or commit a review accepts.
const MAX_REF_LEN: usize = 256;

/// Checks a start (or reply) request.
pub fn start(req: &StartRequest) -> Result<JobSpec, Invalid> {
    let review = req
        .review
        .as_ref()
        .map(|r| review(r, &review::ARGUMENTS))
        .transpose()?;
    let prompt = match (
        &review,
        req.review.as_ref().and_then(|r| r.instructions.as_deref()),
    ) {
        // The instructions are the prompt codex reads on stdin.
        (Some(Requested::Instructions), Some(instructions)) => self::prompt(instructions)
            .map_err(|e| Invalid(e.0.replacen("prompt", "instructions", 1)))?,
        // A target review reads no prompt: the record holds a description,
        // filled in once the target is resolved.
        (Some(_), _) => String::new(),
        (None, _) => prompt(&req.prompt)?,
    };
    let reply_to = match req.reply_to.as_deref() {
        None | Some("") => None,
        Some(id) => Some(
            JobId::parse(id)
                .map_err(|e| Invalid(e.to_string().replacen("job_id", "reply_to", 1)))?,
        ),
    };
    let cwd = match (req.cwd.as_str(), &reply_to) {
        ("", Some(_)) => None,
        (c, _) => Some(cwd(c)?),
    };
    let policy = match req.approval_policy.as_deref() {
        None | Some("") => None,
        Some(p) => Some(Policy::parse(p).map_err(|e| Invalid(e.to_string()))?),
    };
    let model = match req.model.as_deref() {
        None | Some("") => None,
        Some(m) => Some(model_name(m)?),
    };
    let isolation = match req.isolation.as_deref() {
        None | Some("") => Isolation::None,
        Some(i) => Isolation::parse(i).map_err(|e| Invalid(e.to_string()))?,
    };
    // Unlike the other optional strings, an empty effort is refused: a
    // client that sends one meant some effort, and silently running with
    // the default would hide that it got none.
    let reasoning_effort = match req.reasoning_effort.as_deref() {
        None => None,
        Some("") => {
            return Err(Invalid(format!(
                "reasoning_effort: is empty; use one of {} (codex's model_reasoning_effort), or leave it out for the default",
                job::REASONING_EFFORTS.join(", ")
            )))
        }
        Some(e) => Some(job::reasoning_effort(e).map_err(|e| Invalid(e.to_string()))?),
    };
    let output_schema = match req.output_schema.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            job::schema::check_schema(text)
                .map_err(Invalid)?
                .to_string(),
        ),
    };
    if review.is_some() {
        if reply_to.is_some() {
            return Err(Invalid(
                "reply_to: a review is a job of its own; to ask codex more about a review, reply to the review job without review".into(),
            ));
        }
        if cwd.is_none() {
            return Err(Invalid(
                "cwd: required for a review; pass the absolute path of a directory in the git repository to review".into(),
            ));
        }
        if matches!(policy, Some(p) if p != Policy::Suggest) {
            return Err(Invalid(
                "approval_policy: a review is always read-only (suggest); leave approval_policy out".into(),
            ));
        }
        if isolation == Isolation::Worktree {
            return Err(Invalid(
                "isolation: a review only reads the repository, in cwd; leave isolation out".into(),
            ));
        }
        if output_schema.is_some() {
            return Err(Invalid(
                "output_schema: codex's reviewer writes its findings in its own format; leave output_schema out of a review".into(),
            ));
        }
    }
    let agent = match req.agent.as_deref() {
        None | Some("") => None,
        Some(name) => Some(crate::engine::agent::Agent::parse(name).map_err(Invalid)?),
    };
    if review.is_some() && agent.is_some_and(|a| !a.reviews()) {
        return Err(Invalid(
            "agent: a review is codex's reviewer (codex exec review); leave agent out".into(),
        ));
    }
    if reply_to.is_some() && isolation == Isolation::Worktree {
        return Err(Invalid(
            "isolation: a reply runs where its parent ran (in the parent's worktree if it had one); leave isolation out".into(),
        ));
    }
    Ok(JobSpec {
        prompt,
        cwd,
        policy,
        model,
        isolation,
        reply_to,
        stall_timeout: watchdog("stall_timeout_seconds", req.stall_timeout_seconds)?,
        max_duration: watchdog("max_duration_seconds", req.max_duration_seconds)?,
        reasoning_effort,
        output_schema,
        review,
        agent,
    })
}

/// Checks a review request: one target (or instructions instead of one),
/// each with the fields it needs and no others. Errors name the fields as
/// the caller knows them (`names`).
pub fn review(r: &ReviewRequest, names: &Fields) -> Result<Requested, Invalid> {
    let given = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let (base, commit, title) = (given(&r.base_branch), given(&r.commit), given(&r.title));
    let instructions = r.instructions.as_deref().filter(|s| !s.trim().is_empty());
    if instructions.is_some() {
        // "auto" is the default, so naming it says nothing against instructions.
        let target = if !r.target.is_empty() && r.target != "auto" {
            Some(names.target_is(&r.target))
        } else if base.is_some() {
            Some(names.base_branch.to_string())
        } else if commit.is_some() {
            Some(names.commit.to_string())
        } else {
            None
        };
        if let Some(target) = target {
            return Err(Invalid(format!(
                "{} and {target}: codex takes custom review instructions only instead of a target; pass {} alone (codex reviews what they ask for) or the target without {}",
                names.instructions, names.instructions, names.instructions
            )));
        }
    }
    let only_with = |field: &str, value: &Option<String>, target: &str| match value {
        Some(_) => Err(Invalid(format!(
            "{field}: only with {}; pass {} or leave {field} out",
            names.target_is(target),
            names.target_is(target)
        ))),
        None => Ok(()),
    };
    let requested = match (r.target.as_str(), instructions) {
        (_, Some(_)) => Requested::Instructions,
        ("" | "auto", None) => Requested::Auto,
        ("uncommitted", None) => Requested::Uncommitted,
        ("base", None) => match &base {
            Some(b) => Requested::Base(git_ref(names.base_branch, b)?),
            None => {
                return Err(Invalid(format!(
                    "{}: required with {}; pass the branch to compare against, e.g. main",
                    names.base_branch,
                    names.target_is("base")
                )))
            }
        },
        ("commit", None) => match &commit {
            Some(c) => Requested::Commit {
                commit: git_ref(names.commit, c)?,
                title: title.clone().map(|t| review_title(&t, names)).transpose()?,
            },
            None => {
                return Err(Invalid(format!(
                    "{}: required with {}; pass the commit to review, e.g. HEAD or a sha",
                    names.commit,
                    names.target_is("commit")
                )))
            }
        },
        (other, None) => {
            return Err(Invalid(format!(
                "{}: unknown value {:?}; use one of {}",
                names.target,
                other.chars().take(40).collect::<String>(),
                names.targets()
            )))
        }
    };
    if !matches!(requested, Requested::Base(_)) {
        only_with(names.base_branch, &base, "base")?;
    }
    if !matches!(requested, Requested::Commit { .. }) {
        only_with(names.commit, &commit, "commit")?;
        only_with(names.title, &title, "commit")?;
    }
    Ok(requested)
}

/// A branch or commit as codex passes it to git: never an option, no
/// control characters, bounded.
fn git_ref(field: &str, value: &str) -> Result<String, Invalid> {
    let ok = value.len() <= MAX_REF_LEN
        && !value.starts_with('-')
        && !value.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(value.to_string())
    } else {
        Err(Invalid(format!(
            "{field}: {:?} is not a git branch or commit name; pass one without spaces that does not start with '-', e.g. main or a commit sha",
            value.chars().take(40).collect::<String>()
        )))
    }
}

fn review_title(title: &str, names: &Fields) -> Result<String, Invalid> {
    if title.len() > 200 || title.chars().any(char::is_control) {
        return Err(Invalid(format!(
            "{}: must be one line of at most 200 characters; pass a short commit title or leave it out",
            names.title
        )));
    }
    Ok(title.to_string())
}

fn watchdog(field: &str, value: Option<u32>) -> Result<Option<u32>, Invalid> {
    match value {
        None | Some(0) => Ok(None),
        Some(n) if n <= MAX_WATCHDOG_SECONDS => Ok(Some(n)),
        Some(n) => Err(Invalid(format!(
            "{field}: {n} is over the limit of {MAX_WATCHDOG_SECONDS} seconds (7 days); pass fewer seconds, or leave it out for the daemon's default"
        ))),
    }
}

/// Checks a `since` cursor against the output's size.
pub fn since(cursor: u64, output_bytes: u64) -> Result<u64, Invalid> {
    if cursor > output_bytes {
        return Err(Invalid(format!(
            "since: cursor {cursor} is past the end of the output ({output_bytes} bytes; output over the cap is dropped from the front); pass the cursor an earlier poll returned, or leave since out for the latest events"
        )));
    }
    Ok(cursor)
}

fn prompt(p: &str) -> Result<String, Invalid> {
    if p.trim().is_empty() {
        return Err(Invalid(
            "prompt: must not be empty; say what the agent should do".into(),
        ));
    }
    if p.len() > MAX_PROMPT_BYTES {
        return Err(Invalid(format!(
            "prompt: {} bytes is over the limit of {MAX_PROMPT_BYTES} bytes; shorten it or point the agent at a file that holds the details",
            p.len()
        )));
    }
    Ok(p.to_string())
}

fn cwd(c: &str) -> Result<PathBuf, Invalid> {
    if c.is_empty() {
        return Err(Invalid(
            "cwd: required; pass the absolute path of the project directory the agent should work in"
                .into(),
        ));
    }
    let path = Path::new(c);
    if !path.is_absolute() {
        return Err(Invalid(format!(
            "cwd: {c:?} is not an absolute path; pass the full path, e.g. /home/me/project"
        )));
    }
    let canonical = path.canonicalize().map_err(|e| {
        Invalid(format!(
            "cwd: {c:?} cannot be used ({e}); pass an existing directory you can read"
        ))
    })?;
    if !canonical.is_dir() {
        return Err(Invalid(format!(
            "cwd: {c:?} is not a directory; pass the project directory, not a file in it"
        )));
    }
    let access = nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::X_OK;
    if nix::unistd::access(&canonical, access).is_err() {
        return Err(Invalid(format!(
            "cwd: {c:?} is not readable by you; pass a directory you can read and enter"
        )));
    }
    Ok(canonical)
}

/// Checks a model name (also used for the configured default model).
pub fn model_name(m: &str) -> Result<String, Invalid> {
    let ok = m.len() <= MAX_MODEL_LEN
        && !m.starts_with('-')
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
    if ok {
        Ok(m.to_string())
    } else {
        Err(Invalid(format!(
            "model: {:?} is not a model name; use letters, digits and . _ : / - (at most {MAX_MODEL_LEN}), e.g. gpt-5.5, or leave it out for the agent's default",
            m.chars().take(40).collect::<String>()
        )))
    }
}

/// Checks a job id.
pub fn job_id(id: &str) -> Result<JobId, Invalid> {
    JobId::parse(id).map_err(|e| Invalid(e.to_string()))
}

/// Checks `tail_lines`, applying the default.
pub fn tail_lines(n: Option<u32>) -> Result<usize, Invalid> {
    let n = n.unwrap_or(DEFAULT_TAIL_LINES);
    if n > MAX_TAIL_LINES {
        return Err(Invalid(format!(
            "tail_lines: {n} is over the limit of {MAX_TAIL_LINES}; ask for fewer lines (output is capped at 8000 characters anyway)"
        )));
    }
    Ok(n as usize)
}

/// Checks a list `limit`, applying the default.
pub fn list_limit(n: Option<u32>) -> Result<u32, Invalid> {
    let n = n.unwrap_or(DEFAULT_LIST_LIMIT);
    if n == 0 || n > MAX_LIST_LIMIT {
        return Err(Invalid(format!(
            "limit: {n} is out of range; use 1 to {MAX_LIST_LIMIT}"
        )));
    }
    Ok(n)
}

/// Checks an Answer's question id (absent: the pending question): the
/// monitor names questions by codex's request ids, short digits or words.
pub fn question_id(q: Option<&str>) -> Result<Option<&str>, Invalid> {
    match q {
        None => Ok(None),
        Some(q)
            if !q.is_empty()
                && q.len() <= 64
                && q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(Some(q))
        }
        Some(q) => Err(Invalid(format!(
            "question_id: {:?} is not a question id; use the question_id codex_poll shows, or leave it out to answer the pending question",
            q.chars().take(40).collect::<String>()
        ))),
    }
}

/// Checks an Answer's reply: a decision, or (a question of kind `input`)
/// the answer text, not both; the text not blank and within
/// [`MAX_ANSWER_BYTES`] (its shape is checked against the question's prompts
/// by the supervisor, which knows them).
pub fn reply(decision: &str, answer: Option<String>) -> Result<Reply, Invalid> {
    match answer {
        Some(_) if !decision.is_empty() => Err(Invalid(
            "decision: give a decision (an approval) or answer (text, for codex's own questions), not both".into(),
        )),
        Some(text) if text.trim().is_empty() => Err(Invalid(
            "answer: empty; pass an option's label or your own words".into(),
        )),
        Some(text) if text.len() > MAX_ANSWER_BYTES => Err(Invalid(format!(
            "answer: {} bytes is over the limit of {MAX_ANSWER_BYTES} bytes; shorten it",
            text.len()
        ))),
        Some(text) => Ok(Reply::Text(text)),
        None if decision.is_empty() => Err(Invalid(
            "decision: missing; pass decision (allow, allow_session, deny, stop) for an approval, or answer (text) for codex's own question".into(),
        )),
        None => Decision::parse(decision)
            .map(Reply::Decision)
            .map_err(|e| Invalid(e.to_string())),
    }
}

/// Checks a steering's text: not blank, at most a prompt's size.
pub fn steer_text(text: String) -> Result<String, Invalid> {
    if text.trim().is_empty() {
        return Err(Invalid(
            "text: empty; pass what the agent should know or do now, in plain language".into(),
        ));
    }
    if text.len() > MAX_PROMPT_BYTES {
        return Err(Invalid(format!(
            "text: {} bytes is over the limit of {MAX_PROMPT_BYTES} bytes; shorten it or point the agent at a file that holds the details",
            text.len()
        )));
    }
    Ok(text)
}

/// Checks a list status filter (absent or unspecified means all).
pub fn status_filter(s: Option<i32>) -> Result<Option<JobStatus>, Invalid> {
    match s.map(JobStatus::try_from) {
        None | Some(Ok(JobStatus::Unspecified)) => Ok(None),
        Some(Ok(status)) => Ok(Some(status)),
        Some(Err(_)) => Err(Invalid(format!(
            "status: unknown value; use one of {}",
            codex_async_proto::values::listed(codex_async_proto::values::STATUSES)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(prompt: &str, cwd: &str) -> StartRequest {
        StartRequest {
            prompt: prompt.into(),
            cwd: cwd.into(),
            approval_policy: None,
            model: None,
            reply_to: None,
            isolation: None,
            stall_timeout_seconds: None,
            max_duration_seconds: None,
            ..Default::default()
        }
    }

    fn err(r: Result<JobSpec, Invalid>) -> String {
        r.err().map(|e| e.0).unwrap_or_default()
    }

    #[test]
    fn accepts_a_good_request_with_defaults() {
        let spec = start(&req("fix it", "/tmp")).expect("valid");
        assert_eq!(spec.policy, None);
        assert_eq!(spec.isolation, Isolation::None);
        assert!(spec.cwd.is_some_and(|c| c.is_absolute()));
        assert_eq!(spec.model, None);
    }

    #[test]
    fn each_rule_names_its_field() {
        assert!(err(start(&req("", "/tmp"))).starts_with("prompt:"));
        assert!(err(start(&req("  \n", "/tmp"))).starts_with("prompt:"));
        assert!(err(start(&req(&"x".repeat(MAX_PROMPT_BYTES + 1), "/tmp"))).starts_with("prompt:"));
        assert!(err(start(&req("p", ""))).starts_with("cwd:"));
        assert!(err(start(&req("p", "relative/dir"))).starts_with("cwd:"));
        assert!(err(start(&req("p", "/nonexistent/codex-async"))).starts_with("cwd:"));
        assert!(err(start(&req("p", "/etc/hostname"))).contains("not a directory"));
        let mut bad_policy = req("p", "/tmp");
        bad_policy.approval_policy = Some("yolo".into());
        assert!(err(start(&bad_policy)).starts_with("approval_policy:"));
        let mut bad_model = req("p", "/tmp");
        bad_model.model = Some("--dangerously-bypass-approvals-and-sandbox".into());
        assert!(err(start(&bad_model)).starts_with("model:"));
        let mut empty_effort = req("p", "/tmp");
        empty_effort.reasoning_effort = Some(String::new());
        assert_eq!(
            err(start(&empty_effort)),
            "reasoning_effort: is empty; use one of none, minimal, low, medium, high, xhigh \
             (codex's model_reasoning_effort), or leave it out for the default"
        );
    }

    #[test]
    fn reply_and_isolation_and_watchdog_rules() {
        let mut reply = req("more", "");
        reply.reply_to = Some("0123456789ab".into());
        assert!(start(&reply).is_ok_and(|s| s.cwd.is_none()));
        reply.reply_to = Some("../x".into());
        assert!(err(start(&reply)).starts_with("reply_to:"));
        let mut iso = req("p", "/tmp");
        iso.isolation = Some("bogus".into());
        assert!(err(start(&iso)).starts_with("isolation:"));
        let mut dog = req("p", "/tmp");
        dog.stall_timeout_seconds = Some(MAX_WATCHDOG_SECONDS + 1);
        assert!(err(start(&dog)).starts_with("stall_timeout_seconds:"));
        dog.stall_timeout_seconds = Some(0);
        dog.max_duration_seconds = Some(5);
        let spec = start(&dog).expect("valid");
        assert_eq!((spec.stall_timeout, spec.max_duration), (None, Some(5)));
        assert!(since(10, 5).is_err_and(|e| e.0.starts_with("since:")));
    }

    #[test]
    fn a_prompt_of_exactly_the_limit_is_accepted() {
        assert!(start(&req(&"x".repeat(MAX_PROMPT_BYTES), "/tmp")).is_ok());
    }

    #[test]
    fn bounds() {
        assert_eq!(tail_lines(None).ok(), Some(100));
        assert!(tail_lines(Some(MAX_TAIL_LINES + 1)).is_err());
        assert_eq!(list_limit(None).ok(), Some(20));
        assert!(list_limit(Some(0)).is_err());
        assert!(list_limit(Some(MAX_LIST_LIMIT + 1)).is_err());
        assert!(status_filter(Some(99)).is_err());
        assert_eq!(status_filter(Some(2)).ok(), Some(Some(JobStatus::Running)));
    }
}
