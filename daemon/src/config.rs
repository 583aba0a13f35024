//! The daemon's settings, read once at start from the environment.

use std::ffi::OsString;

/// Settings that shape how jobs run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The codex executable: `$CODEX_BIN`, else `codex` on PATH.
    pub codex_bin: OsString,
    /// Default stall watchdog: a job with no progress this long ends as `stalled`.
    pub stall_timeout: u32,
    /// Default max duration: a job running this long ends as `timed_out`.
    pub max_duration: u32,
}

/// A setting with a bad value.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {value:?} is not valid; {rule}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub rule: &'static str,
}

impl Config {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let codex_bin = std::env::var_os("CODEX_BIN")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| OsString::from("codex"));
        Ok(Self {
            codex_bin,
            stall_timeout: seconds("CODEX_ASYNC_STALL_TIMEOUT", 600)?,
            max_duration: seconds("CODEX_ASYNC_MAX_DURATION", 3600)?,
        })
    }
}

fn seconds(var: &'static str, default: u32) -> Result<u32, ConfigError> {
    match std::env::var(var) {
        Err(_) => Ok(default),
        Ok(v) if v.is_empty() => Ok(default),
        Ok(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=crate::validate::MAX_WATCHDOG_SECONDS).contains(n))
            .ok_or(ConfigError {
                var,
                value: v,
                rule: "use a whole number of seconds from 1 to 604800",
            }),
    }
}
