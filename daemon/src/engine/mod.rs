//! The agents codexd runs, behind one seam: which agent CLI a job runs
//! ([`Agent`], recorded with the job), and per agent what only that agent's
//! engine knows: its command line, how its output becomes codexd's events
//! (`crate::job::events`, which belong to no agent), its questions, and what
//! its exit codes mean. codex's engine is [`codex`] (its app-server protocol
//! and session, reviews, versions and login); Gemini CLI's is [`gemini`],
//! Claude Code's [`claude`].
//!
//! This module is the one the core calls: supervisor, monitor, store,
//! output and API name no agent (daemon/tests/seam.rs holds them to it), and
//! every `match` on [`Agent`] that picks an engine is here. Adding an agent
//! is a folder here (its command line, its stream translator, its exit
//! codes, its doctor checks) plus its line in [`Agent`] (agent.rs), in
//! `codex_async_proto::values::AGENTS`, and its arm in each dispatch below.

pub mod agent;
pub mod claude;
pub mod codex;
pub mod gemini;

use std::{
    ffi::{OsStr, OsString},
    path::Path,
};

use serde::{Deserialize, Serialize};

use crate::{
    config::Config,
    job::{
        review::{Fields, Requested, Review},
        JobRecord,
    },
};

pub use agent::{Agent, DEFAULT};

/// Whether a line an agent printed on stderr (which goes into output.txt as
/// it is) is its talk about its own set-up, not shown to anyone reading the
/// job: the renderer asks this of every text line, whatever the agent.
pub fn is_setup_chatter(line: &str) -> bool {
    codex::is_setup_chatter(line) || gemini::is_setup_chatter(line)
}

/// A job driven through its agent's own protocol rather than read as a
/// stream (codex's app-server): [`SessionPlan`] is what the session asks the
/// agent for, [`Session`] the monitor's side of it (`engine/codex/session.rs`:
/// the job's questions, steering, interrupt, how far it got), [`TurnEnd`]
/// how its turn ended.
pub use codex::{
    app_server::{Plan as SessionPlan, TurnEnd},
    session::{Control, Session},
};

/// How a job's run ended, as the monitor settles it for exit.json: what
/// its process said, and what a stop (a cancel, a watchdog) set; a
/// [`Session`] has its say on it (`Session::settle`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Why the job did not succeed, if it did not.
    pub reason: Option<String>,
    /// The job ends cancelled.
    pub cancelled: bool,
}

/// What a job's monitor is given by the job's engine: how to start the
/// agent, and how its output becomes codexd's events.
pub struct Launch {
    /// The agent's command line.
    pub argv: Vec<OsString>,
    /// Set when the monitor drives the agent's own protocol.
    pub session: Option<SessionPlan>,
    /// Set when the monitor translates the agent's output line by line.
    pub stream: Option<Stream>,
    /// What the engine adds to the agent's environment.
    pub env: Vec<(String, String)>,
}

/// How `job` runs on its agent (`dir` its folder), from codexd's settings.
/// Neither a session nor a stream: the agent writes codexd's events itself
/// (`codex exec review --json`).
pub fn launch(config: &Config, job: &JobRecord, dir: &Path) -> Launch {
    let owned = |env: &[(&str, &str)]| -> Vec<(String, String)> {
        env.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    };
    match job.agent {
        Agent::Codex => Launch {
            argv: codex::command::argv(
                &config.codex_bin,
                &config.extra_args,
                &codex::auth::app_server_overrides_here(&config.extra_args),
                job,
            ),
            session: (codex::engine(job) == codex::Engine::AppServer).then(|| {
                codex::app_server::Plan::for_job(job, config.question_timeout, config.init_timeout)
            }),
            stream: None,
            env: Vec::new(),
        },
        Agent::Gemini => Launch {
            argv: gemini::argv(&config.gemini_bin, job),
            session: None,
            stream: Some(Stream::Gemini),
            env: owned(gemini::ENV),
        },
        Agent::Claude => Launch {
            argv: claude::argv(&config.claude_bin, job, dir),
            session: None,
            stream: Some(Stream::Claude),
            env: claude::env(job),
        },
    }
}

/// The command that runs `agent`, from its setting.
pub fn program(config: &Config, agent: Agent) -> &OsStr {
    match agent {
        Agent::Codex => &config.codex_bin,
        Agent::Gemini => &config.gemini_bin,
        Agent::Claude => &config.claude_bin,
    }
}

/// Why a job of `agent` cannot start: its command (from its setting) is not
/// installed; None when it is.
pub fn not_installed(config: &Config, agent: Agent) -> Option<String> {
    missing(agent, program(config, agent))
}

/// What a job's non-zero exit `code` means, in a sentence with the fix,
/// when its engine can tell more than the code (`output` the job's
/// output.txt): for codex, a command line it refused (exit 2, clap's usage
/// error) with its version and the one needed. Agents whose streams are
/// translated explain theirs in the monitor (`Translate::explain_exit`).
pub async fn explain_exit(
    config: &Config,
    agent: Agent,
    output: &Path,
    code: i32,
) -> Option<String> {
    match agent {
        Agent::Codex => {
            codex::version::explain_exit(&config.codex_bin, &config.extra_args, output, code).await
        }
        Agent::Gemini | Agent::Claude => None,
    }
}

/// A review's requested target resolved against the repository holding
/// `cwd` (`auto` pinned to what it chose), or the error naming the field
/// (`names`) and the fix. Reviews run on codex (`codex exec review`); an
/// agent without reviews is refused before this (`api/validate.rs`).
pub async fn review_target(
    requested: &Requested,
    cwd: &Path,
    names: &Fields,
) -> Result<Review, String> {
    codex::review_target::resolve(requested, cwd, names).await
}

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

/// Whether `agent` takes a reasoning effort, so that codexd's default one
/// (`default_reasoning_effort`, codex's setting) applies to its jobs; an
/// agent that does not refuses an asked one (`refusal`).
pub fn takes_reasoning_effort(agent: Agent) -> bool {
    match agent {
        Agent::Codex => true,
        Agent::Gemini | Agent::Claude => false,
    }
}

/// `codexd ask-relay`: the relay an agent starts for a job under `ask` to
/// send its permission questions to the job's monitor (Claude Code's
/// permission prompt tool, engine/claude/relay.rs). Returns the process's
/// exit code.
pub fn serve_ask_relay(job_dir: &Path) -> i32 {
    claude::relay::serve(job_dir)
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
