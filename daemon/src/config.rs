//! The daemon's settings, read once at start from the environment.

use std::ffi::OsString;

/// Settings that shape how jobs run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The codex executable: `$CODEX_BIN`, else `codex` on PATH.
    pub codex_bin: OsString,
}

impl Config {
    /// Reads the settings from the environment.
    pub fn from_env() -> Self {
        let codex_bin = std::env::var_os("CODEX_BIN")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| OsString::from("codex"));
        Self { codex_bin }
    }
}
