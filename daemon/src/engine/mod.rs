//! The agents codexd runs, behind one seam: which agent CLI a job runs
//! ([`Agent`], recorded with the job), and per agent what only that agent's
//! engine knows: its command line, how its output becomes codexd's events,
//! and what its exit codes mean. codex's engine is `crate::engine::codex` (its
//! app-server protocol, approvals, versions and login); Gemini CLI's is
//! [`gemini`], Claude Code's [`claude`].
//!
//! Adding an agent is a folder here (its command line, its stream
//! translator, its exit codes, its doctor checks) plus its line in
//! [`Agent`] and in `codex_async_proto::values::AGENTS`.

pub mod agent;
pub mod claude;
pub mod codex;
pub mod gemini;

use serde::{Deserialize, Serialize};

pub use agent::{Agent, DEFAULT};

/// Why a job of `agent` cannot start when its command (`program`, from its
/// setting) is not installed; None when it is there. A path relative to a
/// folder is not checked: the spawn resolves it against the job's folder.
pub fn missing(agent: Agent, program: &std::ffi::OsStr) -> Option<String> {
    let path = std::path::Path::new(program);
    if path.is_relative() && path.components().count() > 1 {
        return None;
    }
    crate::sys::program::which(path)
        .is_none()
        .then(|| not_found(agent, &path.display().to_string()))
}

/// Why a job of `agent` cannot start: `program` is not installed.
pub fn not_found(agent: Agent, program: &str) -> String {
    format!(
        "cannot start {agent}: {program} was not found; install it with `{}` or set {}_BIN to its path, then restart codexd",
        agent.install_hint(),
        agent.name().to_uppercase()
    )
}

/// Why a job of `agent` cannot start when its program is there but the
/// system says "not found" running it: a script whose interpreter (node,
/// for the npm-installed agents) or a library is missing.
pub fn cannot_execute(agent: Agent, program: &str, error: &std::io::Error) -> String {
    format!(
        "cannot start {agent}: {program} is there but could not be run ({error}): its interpreter (node, for an npm install) or a library it needs is missing; run `{program} --version` to see, then reinstall it with `{}`",
        agent.install_hint()
    )
}

/// Why a job cannot run on `agent` as asked (a policy or an option it
/// cannot honour), naming the field and the fix; None when it can.
pub fn refusal(
    agent: Agent,
    policy: crate::job::Policy,
    reasoning_effort: bool,
    output_schema: bool,
) -> Option<String> {
    match agent {
        // codex takes everything a request can say.
        Agent::Codex => None,
        Agent::Gemini => gemini::refusal(policy, reasoning_effort, output_schema),
        Agent::Claude => claude::refusal(policy, reasoning_effort, output_schema),
    }
}

/// Whether a job of `agent` under `policy` sends its permission questions
/// to a relay the monitor serves (monitor/asks.rs): Claude Code under `ask`
/// (its permission prompt tool). codex asks through its app-server session.
pub fn relays_questions(agent: Agent, policy: crate::job::Policy) -> bool {
    agent == Agent::Claude && policy == crate::job::Policy::Ask
}

/// How the monitor reads an agent's standard output, when the agent is not
/// driven through a protocol of its own (codex's app-server) and does not
/// write codexd's events itself (`codex exec --json`): each line is
/// translated into codexd's event lines before it reaches output.txt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Gemini CLI's `-o stream-json`.
    Gemini,
    /// Claude Code's `--output-format stream-json`.
    Claude,
}

impl Stream {
    /// A translator for one run.
    pub fn translator(self) -> Box<dyn Translate + Send> {
        match self {
            Self::Gemini => Box::new(gemini::Translator::default()),
            Self::Claude => Box::new(claude::Translator::default()),
        }
    }
}

impl Stream {
    /// The job's question for a permission request the agent's prompt tool
    /// handed to the monitor (monitor/asks.rs; `request` as the agent sent
    /// it, `fallback_id` its name when the agent gave none); None for an
    /// agent whose questions are not relayed.
    pub fn question(
        self,
        request: &serde_json::Value,
        fallback_id: String,
        asked_at: String,
        deadline: String,
    ) -> Option<crate::job::events::Question> {
        match self {
            Self::Claude => Some(claude::relay::question(
                request,
                fallback_id,
                asked_at,
                deadline,
            )),
            Self::Gemini => None,
        }
    }

    /// What the agent's prompt tool answers for `decision` (`timed_out`:
    /// nobody answered within `timeout` seconds), in the agent's shape; for
    /// `stop` the agent ends its run itself, and the monitor ends the job
    /// cancelled.
    pub fn reply(
        self,
        request: &serde_json::Value,
        decision: crate::job::answers::Decision,
        timed_out: bool,
        timeout: u32,
    ) -> String {
        match self {
            Self::Claude => claude::relay::reply(request, decision, timed_out, timeout),
            Self::Gemini => String::new(),
        }
    }
}

/// Turns an agent's output lines into codexd's event lines (the `--json`
/// events of [`crate::job::events`], which every summary, rendering and
/// result reads).
pub trait Translate {
    /// The event lines one line of the agent's output becomes.
    fn line(&mut self, line: &str) -> Vec<String>;
    /// At the end of the output: the events still held back, and why the run
    /// failed when the agent said so in its output but not in its exit code.
    fn finish(&mut self) -> (Vec<String>, Option<String>);
    /// What a non-zero exit code means, in a sentence with the fix.
    fn explain_exit(&self, code: i32) -> Option<String>;
}
