//! Which agent CLI runs a job: a value the job record, the store and the
//! API carry without knowing any agent's engine (a leaf: it imports nothing
//! of codexd's).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The agent CLI that runs a job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Agent {
    /// OpenAI's codex CLI (`codex app-server`, `codex exec review`).
    #[default]
    Codex,
    /// Google's Gemini CLI (`gemini -o stream-json`, headless).
    Gemini,
    /// Anthropic's Claude Code (`claude -p --output-format stream-json`).
    Claude,
}

/// The agent every job ran before jobs recorded one, and the default.
pub const DEFAULT: Agent = Agent::Codex;

impl Agent {
    /// Its name in the API, the database and meta.json.
    pub fn name(self) -> &'static str {
        match self {
            Self::Codex => "codex",
            Self::Gemini => "gemini",
            Self::Claude => "claude",
        }
    }

    /// Parses an agent's name.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "codex" => Ok(Self::Codex),
            "gemini" => Ok(Self::Gemini),
            "claude" => Ok(Self::Claude),
            other => Err(format!(
                "agent: unknown value {other:?}; use one of {}",
                codex_async_proto::values::listed(codex_async_proto::values::AGENTS)
            )),
        }
    }

    /// The command that runs it when its setting names none.
    pub fn default_program(self) -> &'static str {
        match self {
            Self::Codex => "codex",
            Self::Gemini => "gemini",
            Self::Claude => "claude",
        }
    }

    /// Whether it runs reviews (`codex_review`, `codexd review`): codex's
    /// reviewer, `codex exec review` (engine/codex/review_target.rs). Here
    /// rather than in engine/mod.rs because the request checks, which the
    /// settings use, read it and must not reach the engines.
    pub fn reviews(self) -> bool {
        match self {
            Self::Codex => true,
            Self::Gemini | Self::Claude => false,
        }
    }

    /// How a user installs it.
    pub fn install_hint(self) -> &'static str {
        match self {
            Self::Codex => "npm install -g @openai/codex",
            Self::Gemini => "npm install -g @google/gemini-cli",
            Self::Claude => "npm install -g @anthropic-ai/claude-code",
        }
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
