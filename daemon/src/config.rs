//! The daemon's settings, read once at start from the environment.

use std::ffi::OsString;

/// Default for `CODEX_ASYNC_MAX_JOBS`.
pub const DEFAULT_MAX_JOBS: usize = 4;
/// Default for `CODEX_ASYNC_OUTPUT_CAP_BYTES`: 256 MiB.
pub const DEFAULT_OUTPUT_CAP: u64 = 256 * 1024 * 1024;
/// The smallest output cap accepted: the cap drops whole filesystem blocks, so
/// it must hold several of them and the marker line.
pub const MIN_OUTPUT_CAP: u64 = 64 * 1024;
/// Default for `CODEX_ASYNC_RETENTION_DAYS`.
pub const DEFAULT_RETENTION_DAYS: u32 = 7;

/// Settings that shape how jobs run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The codex executable: `$CODEX_BIN`, else `codex` on PATH.
    pub codex_bin: OsString,
    /// How many jobs may run at once; the rest wait as `queued`.
    pub max_jobs: usize,
    /// Bytes of output kept per job; past it the head is dropped.
    pub output_cap: u64,
    /// Finished jobs older than this many days are pruned; 0 keeps them forever.
    pub retention_days: u32,
}

/// A setting with a value the daemon cannot use.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value:?} is not valid: {expected}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub expected: String,
}

impl Config {
    /// Reads the settings from the environment; a malformed value is an error
    /// naming the variable, never a silent default.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Result<Self, ConfigError> {
        let codex_bin = get("CODEX_BIN")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| OsString::from("codex"));
        let max_jobs = number(&get, "CODEX_ASYNC_MAX_JOBS", DEFAULT_MAX_JOBS as u64, 1)?;
        let output_cap = number(
            &get,
            "CODEX_ASYNC_OUTPUT_CAP_BYTES",
            DEFAULT_OUTPUT_CAP,
            MIN_OUTPUT_CAP,
        )?;
        let retention_days = number(
            &get,
            "CODEX_ASYNC_RETENTION_DAYS",
            u64::from(DEFAULT_RETENTION_DAYS),
            0,
        )?;
        Ok(Self {
            codex_bin,
            max_jobs: usize::try_from(max_jobs).unwrap_or(usize::MAX),
            output_cap,
            retention_days: u32::try_from(retention_days).unwrap_or(u32::MAX),
        })
    }
}

/// An unsigned integer setting of at least `min`; unset or empty means `default`.
fn number(
    get: &impl Fn(&str) -> Option<OsString>,
    name: &'static str,
    default: u64,
    min: u64,
) -> Result<u64, ConfigError> {
    let Some(raw) = get(name).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    let value = raw.to_string_lossy().into_owned();
    let bad = || ConfigError {
        name,
        value: value.clone(),
        expected: format!("expected a whole number ≥ {min} (default {default})"),
    };
    let n: u64 = value.trim().parse().map_err(|_| bad())?;
    if n < min {
        return Err(bad());
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Config::from_lookup(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults() {
        let c = with(&[]).expect("defaults");
        assert_eq!(c.max_jobs, 4);
        assert_eq!(c.output_cap, 256 * 1024 * 1024);
        assert_eq!(c.retention_days, 7);
        assert_eq!(c.codex_bin, OsString::from("codex"));
    }

    #[test]
    fn values_are_read() {
        let c = with(&[
            ("CODEX_ASYNC_MAX_JOBS", "2"),
            ("CODEX_ASYNC_OUTPUT_CAP_BYTES", "65536"),
            ("CODEX_ASYNC_RETENTION_DAYS", "0"),
        ])
        .expect("config");
        assert_eq!((c.max_jobs, c.output_cap, c.retention_days), (2, 65536, 0));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("CODEX_ASYNC_MAX_JOBS", "0"),
            ("CODEX_ASYNC_MAX_JOBS", "-1"),
            ("CODEX_ASYNC_MAX_JOBS", "four"),
            ("CODEX_ASYNC_OUTPUT_CAP_BYTES", "100"),
            ("CODEX_ASYNC_RETENTION_DAYS", "1.5"),
        ] {
            let err = with(&[(name, value)]).err().map(|e| e.to_string());
            let err = err.unwrap_or_default();
            assert!(err.contains(name) && err.contains(value), "{err}");
        }
    }
}
