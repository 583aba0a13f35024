//! Running the other agents under a test codexd: the real Gemini CLI and the
//! real Claude Code, each pointed at its fake API on loopback, and what the
//! tests of those agents (daemon/tests/gemini.rs, claude_agent.rs,
//! faults_agents.rs) look at besides the API: `codexd doctor`'s check of an
//! agent. One copy here, so the agents' suites set the CLIs up the same way.

use std::path::PathBuf;

use crate::{claude_bin, gemini_bin, Daemon, FakeAnthropic, FakeGemini, TempHome};

/// Every variable the agents' login checks read: doctor runs without the
/// machine's own (only the login a test gives counts).
const LOGIN_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CONFIG_DIR",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
];

/// The environment that makes codexd run the real Gemini CLI against
/// `fake`, its state under the home's temp root; None (the test skips, or
/// fails under CI) without the Gemini CLI.
pub fn gemini_env(home: &TempHome, fake: &FakeGemini) -> Option<Vec<(&'static str, String)>> {
    let gemini = gemini_bin()?;
    let mut env = fake.cli_env(&gemini_state(home));
    env.push(("GEMINI_BIN", gemini.display().to_string()));
    Some(env)
}

/// The environment that makes codexd run the real Claude Code against
/// `fake`, its HOME under the home's temp root; None (the test skips, or
/// fails under CI) without Claude Code.
pub fn claude_env(home: &TempHome, fake: &FakeAnthropic) -> Option<Vec<(&'static str, String)>> {
    let claude = claude_bin()?;
    let mut env = fake.cli_env(&claude_state(home));
    env.push(("CLAUDE_BIN", claude.display().to_string()));
    Some(env)
}

/// Where Gemini CLI keeps its settings and sessions in a test.
pub fn gemini_state(home: &TempHome) -> PathBuf {
    home.root().join("gemini-home")
}

/// Claude Code's HOME in a test.
pub fn claude_state(home: &TempHome) -> PathBuf {
    home.root().join("claude-home")
}

impl Daemon {
    /// `codexd serve` running the real Gemini CLI (`CODEX_ASYNC_GEMINI`)
    /// against `fake`, with extra environment; None without the Gemini CLI.
    pub async fn with_gemini(
        home: &TempHome,
        fake: &FakeGemini,
        extra: &[(&'static str, String)],
    ) -> Option<Self> {
        let mut env = gemini_env(home, fake)?;
        env.extend(extra.iter().cloned());
        Some(Self::start_with(home, &env).await)
    }

    /// `codexd serve` running the real Claude Code (`CODEX_ASYNC_CLAUDE`)
    /// against `fake`, with extra environment; None without Claude Code.
    pub async fn with_claude(
        home: &TempHome,
        fake: &FakeAnthropic,
        extra: &[(&'static str, String)],
    ) -> Option<Self> {
        let mut env = claude_env(home, fake)?;
        env.extend(extra.iter().cloned());
        Some(Self::start_with(home, &env).await)
    }
}

/// `codexd doctor --json`'s check named `name`, run with `env` and none of
/// the machine's own agent logins.
pub fn doctor_check(home: &TempHome, env: &[(&str, String)], name: &str) -> serde_json::Value {
    let mut doctor = home.codexd();
    for var in LOGIN_VARS {
        doctor.env_remove(var);
    }
    let out = doctor
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["doctor", "--json"])
        .output()
        .expect("doctor");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no {name} check: {report}"))
}
