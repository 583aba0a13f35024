//! The daemon's settings: defaults, then `$CODEX_ASYNC_HOME/config.toml`, then
//! environment variables, each later source overriding the earlier. Read once
//! at start; an unknown key or a bad value stops the daemon with an error that
//! names the key (or variable) and the rule.

use std::{collections::BTreeMap, ffi::OsString, fmt, path::Path};

use serde::Deserialize;

use crate::{job::Policy, validate};

/// Default for `max_concurrent_jobs`.
pub const DEFAULT_MAX_JOBS: usize = 4;
/// Default for `output_cap_bytes`: 256 MiB.
pub const DEFAULT_OUTPUT_CAP: u64 = 256 * 1024 * 1024;
/// The smallest output cap accepted: the cap drops whole filesystem blocks, so
/// it must hold several of them and the marker line.
pub const MIN_OUTPUT_CAP: u64 = 64 * 1024;
/// Default for `retention_days`.
pub const DEFAULT_RETENTION_DAYS: u32 = 7;
/// Defaults for the watchdogs, in seconds.
pub const DEFAULT_STALL_TIMEOUT: u32 = 600;
pub const DEFAULT_MAX_DURATION: u32 = 3600;
/// Most jobs that may run at once (each is a codex process and a monitor).
const MAX_MAX_JOBS: u64 = 256;

/// Settings that shape how jobs run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The codex executable.
    pub codex_bin: OsString,
    /// The policy of a job that names none.
    pub default_policy: Policy,
    /// The model of a job that names none (None: codex's own default).
    pub default_model: Option<String>,
    /// How many jobs may run at once; the rest wait as `queued`.
    pub max_jobs: usize,
    /// Bytes of output kept per job; past it the head is dropped.
    pub output_cap: u64,
    /// Finished jobs older than this many days are pruned; 0 keeps them forever.
    pub retention_days: u32,
    /// Default stall watchdog: a job with no progress this long ends as `stalled`.
    pub stall_timeout: u32,
    /// Default max duration: a job running this long ends as `timed_out`.
    pub max_duration: u32,
    /// Arguments added to every `codex exec` after the policy flags.
    pub extra_args: Vec<String>,
    /// The log filter when RUST_LOG is not set.
    pub log_level: String,
    /// Whether MCP clients that speak the Tasks extension get a job as a task
    /// (the client waits and is told the result); off: always a job id.
    pub task_answers: bool,
    /// Where each setting's value came from, by key.
    pub sources: BTreeMap<&'static str, Source>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Env(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File => f.write_str("config.toml"),
            Source::Env(var) => write!(f, "${var}"),
        }
    }
}

/// A setting the daemon cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{name}={value:?} is not valid: {expected}")]
    Value {
        /// The key in config.toml, or the environment variable.
        name: String,
        value: String,
        expected: String,
    },
}

/// config.toml as written by people: every key optional, none unknown.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    codex_bin: Option<String>,
    default_approval_policy: Option<String>,
    default_model: Option<String>,
    max_concurrent_jobs: Option<u64>,
    output_cap_bytes: Option<u64>,
    retention_days: Option<u64>,
    stall_timeout_seconds: Option<u64>,
    max_duration_seconds: Option<u64>,
    extra_codex_args: Option<Vec<String>>,
    log_level: Option<String>,
    task_answers: Option<bool>,
}

/// Flags codexd sets itself: an extra argument may not change them, or the
/// approval policy, the prompt or the output format would no longer hold.
const RESERVED_ARGS: &[&str] = &[
    "--json",
    "-C",
    "--cd",
    "-s",
    "--sandbox",
    "--dangerously-bypass-approvals-and-sandbox",
    "--full-auto",
    "-a",
    "--ask-for-approval",
    "--skip-git-repo-check",
    "-",
    "--",
];

impl Config {
    /// Reads config.toml in `home` (if present) and the environment.
    pub fn load(home: &Path) -> Result<Self, ConfigError> {
        let path = home.join("config.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(ConfigError::File {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })
            }
        };
        Self::from_sources(text.as_deref(), &path.display().to_string(), |name| {
            std::env::var_os(name)
        })
    }

    /// The settings from a config file's text and an environment lookup.
    fn from_sources(
        file_text: Option<&str>,
        file_name: &str,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Self, ConfigError> {
        let file: FileConfig = match file_text {
            Some(text) => toml::from_str(text).map_err(|e| ConfigError::File {
                path: file_name.to_string(),
                message: e.to_string().trim().replace('\n', " "),
            })?,
            None => FileConfig::default(),
        };
        let mut r = Resolver {
            env: &env,
            sources: BTreeMap::new(),
        };

        let codex_bin = r.pick(
            "codex_bin",
            "CODEX_BIN",
            file.codex_bin,
            "codex".into(),
            |v| {
                (!v.is_empty())
                    .then(|| v.to_string())
                    .ok_or("a path or a command name")
            },
        )?;
        let default_policy = r.pick(
            "default_approval_policy",
            "CODEX_ASYNC_DEFAULT_POLICY",
            file.default_approval_policy,
            Policy::Suggest,
            |v| Policy::parse(v).map_err(|_| "one of suggest, auto-edit, full-auto"),
        )?;
        let default_model = r.pick(
            "default_model",
            "CODEX_ASYNC_DEFAULT_MODEL",
            file.default_model.map(Some),
            None,
            |v| match v {
                "" => Ok(None),
                m => validate::model_name(m)
                    .map(Some)
                    .map_err(|_| "a model name: letters, digits and . _ : / -, e.g. gpt-5.5"),
            },
        )?;
        let max_jobs = r.number(
            "max_concurrent_jobs",
            "CODEX_ASYNC_MAX_JOBS",
            file.max_concurrent_jobs,
            DEFAULT_MAX_JOBS as u64,
            1..=MAX_MAX_JOBS,
        )?;
        let output_cap = r.number(
            "output_cap_bytes",
            "CODEX_ASYNC_OUTPUT_CAP_BYTES",
            file.output_cap_bytes,
            DEFAULT_OUTPUT_CAP,
            MIN_OUTPUT_CAP..=u64::MAX,
        )?;
        let retention_days = r.number(
            "retention_days",
            "CODEX_ASYNC_RETENTION_DAYS",
            file.retention_days,
            u64::from(DEFAULT_RETENTION_DAYS),
            0..=36_500,
        )?;
        let watchdog = 1..=u64::from(validate::MAX_WATCHDOG_SECONDS);
        let stall_timeout = r.number(
            "stall_timeout_seconds",
            "CODEX_ASYNC_STALL_TIMEOUT",
            file.stall_timeout_seconds,
            u64::from(DEFAULT_STALL_TIMEOUT),
            watchdog.clone(),
        )?;
        let max_duration = r.number(
            "max_duration_seconds",
            "CODEX_ASYNC_MAX_DURATION",
            file.max_duration_seconds,
            u64::from(DEFAULT_MAX_DURATION),
            watchdog,
        )?;
        let extra_args = r.pick(
            "extra_codex_args",
            "CODEX_ASYNC_EXTRA_ARGS",
            file.extra_codex_args.map(|v| serde_json::to_string(&v).unwrap_or_default()),
            Vec::new(),
            |v| {
                let args: Vec<String> = serde_json::from_str(v)
                    .map_err(|_| "a JSON array of strings, e.g. [\"-c\", \"model_reasoning_effort=\\\"high\\\"\"]")?;
                args.iter()
                    .try_for_each(|a| extra_arg(a))
                    .map(|()| args.clone())
            },
        )?;
        let log_level = r.pick(
            "log_level",
            "RUST_LOG",
            file.log_level,
            "info".into(),
            |v| {
                (!v.is_empty())
                    .then(|| v.to_string())
                    .ok_or("a level like info or debug")
            },
        )?;
        let task_answers = r.pick(
            "task_answers",
            "CODEX_ASYNC_TASK_ANSWERS",
            file.task_answers.map(|b| b.to_string()),
            true,
            |v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "on" | "yes" => Ok(true),
                "false" | "0" | "off" | "no" => Ok(false),
                _ => Err("true or false (also 1/0, on/off, yes/no)"),
            },
        )?;
        Ok(Self {
            codex_bin: OsString::from(codex_bin),
            default_policy,
            default_model,
            max_jobs: usize::try_from(max_jobs).unwrap_or(DEFAULT_MAX_JOBS),
            output_cap,
            retention_days: u32::try_from(retention_days).unwrap_or(DEFAULT_RETENTION_DAYS),
            stall_timeout: u32::try_from(stall_timeout).unwrap_or(DEFAULT_STALL_TIMEOUT),
            max_duration: u32::try_from(max_duration).unwrap_or(DEFAULT_MAX_DURATION),
            extra_args,
            log_level,
            task_answers,
            sources: r.sources,
        })
    }

    /// The effective settings as (key, value, source) rows, for `codexd config`.
    pub fn rows(&self) -> Vec<(&'static str, String, String)> {
        let source = |key: &str| {
            self.sources
                .get(key)
                .map(ToString::to_string)
                .unwrap_or_else(|| "default".into())
        };
        let rows: [(&'static str, String); 11] = [
            ("codex_bin", self.codex_bin.to_string_lossy().into_owned()),
            ("default_approval_policy", self.default_policy.name().into()),
            (
                "default_model",
                self.default_model
                    .clone()
                    .unwrap_or_else(|| "(codex's default)".into()),
            ),
            ("max_concurrent_jobs", self.max_jobs.to_string()),
            ("output_cap_bytes", self.output_cap.to_string()),
            ("retention_days", self.retention_days.to_string()),
            ("stall_timeout_seconds", self.stall_timeout.to_string()),
            ("max_duration_seconds", self.max_duration.to_string()),
            (
                "extra_codex_args",
                serde_json::to_string(&self.extra_args).unwrap_or_default(),
            ),
            ("log_level", self.log_level.clone()),
            ("task_answers", self.task_answers.to_string()),
        ];
        rows.into_iter()
            .map(|(key, value)| (key, value, source(key)))
            .collect()
    }
}

/// Checks one extra codex argument.
fn extra_arg(arg: &str) -> Result<(), &'static str> {
    if arg.is_empty() || arg.chars().any(|c| c.is_control()) {
        return Err("arguments without control characters, none empty");
    }
    let flag = arg.split('=').next().unwrap_or(arg);
    if RESERVED_ARGS.contains(&flag) {
        return Err("arguments that leave codexd's own flags alone (--json, -C, -s/--sandbox, --dangerously-bypass-approvals-and-sandbox, -, --): set the policy per job instead");
    }
    Ok(())
}

/// Applies the sources in order and records where each value came from.
struct Resolver<'a, E: Fn(&str) -> Option<OsString>> {
    env: &'a E,
    sources: BTreeMap<&'static str, Source>,
}

impl<E: Fn(&str) -> Option<OsString>> Resolver<'_, E> {
    /// The value of `key`: the environment variable if set, else the file's,
    /// else `default`; text values are checked by `parse`.
    fn pick<T, F: Into<FileValue>>(
        &mut self,
        key: &'static str,
        var: &'static str,
        file: Option<F>,
        default: T,
        parse: impl Fn(&str) -> Result<T, &'static str>,
    ) -> Result<T, ConfigError> {
        if let Some(raw) = (self.env)(var).filter(|v| !v.is_empty()) {
            let value = raw.to_string_lossy().into_owned();
            self.sources.insert(key, Source::Env(var));
            return parse(&value).map_err(|expected| ConfigError::Value {
                name: var.into(),
                value,
                expected: expected.into(),
            });
        }
        match file.map(Into::into) {
            Some(FileValue(Some(value))) => {
                self.sources.insert(key, Source::File);
                parse(&value).map_err(|expected| ConfigError::Value {
                    name: format!("config.toml: {key}"),
                    value,
                    expected: expected.into(),
                })
            }
            Some(FileValue(None)) => {
                self.sources.insert(key, Source::File);
                Ok(default)
            }
            None => {
                self.sources.insert(key, Source::Default);
                Ok(default)
            }
        }
    }

    fn number(
        &mut self,
        key: &'static str,
        var: &'static str,
        file: Option<u64>,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let expected = if *range.end() == u64::MAX {
            format!("a whole number ≥ {} (default {default})", range.start())
        } else {
            format!(
                "a whole number from {} to {} (default {default})",
                range.start(),
                range.end()
            )
        };
        let check = |n: u64| {
            range
                .contains(&n)
                .then_some(n)
                .ok_or_else(|| ConfigError::Value {
                    name: String::new(),
                    value: n.to_string(),
                    expected: expected.clone(),
                })
        };
        if let Some(raw) = (self.env)(var).filter(|v| !v.is_empty()) {
            let value = raw.to_string_lossy().into_owned();
            self.sources.insert(key, Source::Env(var));
            let bad = || ConfigError::Value {
                name: var.into(),
                value: value.clone(),
                expected: expected.clone(),
            };
            let n: u64 = value.trim().parse().map_err(|_| bad())?;
            return check(n).map_err(|_| bad());
        }
        match file {
            Some(n) => {
                self.sources.insert(key, Source::File);
                check(n).map_err(|e| match e {
                    ConfigError::Value {
                        value, expected, ..
                    } => ConfigError::Value {
                        name: format!("config.toml: {key}"),
                        value,
                        expected,
                    },
                    other => other,
                })
            }
            None => {
                self.sources.insert(key, Source::Default);
                Ok(default)
            }
        }
    }
}

/// A text value from config.toml (an empty `default_model` means "none").
struct FileValue(Option<String>);

impl From<String> for FileValue {
    fn from(s: String) -> Self {
        FileValue(Some(s))
    }
}

impl From<Option<String>> for FileValue {
    fn from(s: Option<String>) -> Self {
        FileValue(Some(s.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Config::from_sources(file, "/h/config.toml", move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn err(r: Result<Config, ConfigError>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn defaults() {
        let c = load(None, &[]).expect("defaults");
        assert_eq!(c.max_jobs, 4);
        assert_eq!(c.output_cap, 256 * 1024 * 1024);
        assert_eq!(c.retention_days, 7);
        assert_eq!((c.stall_timeout, c.max_duration), (600, 3600));
        assert_eq!(c.codex_bin, OsString::from("codex"));
        assert_eq!(c.default_policy, Policy::Suggest);
        assert!(c.extra_args.is_empty());
        assert!(c.sources.values().all(|s| *s == Source::Default));
    }

    #[test]
    fn the_file_then_the_environment_override_defaults() {
        let file = r#"
            codex_bin = "/opt/codex"
            default_approval_policy = "auto-edit"
            default_model = "gpt-5.5"
            max_concurrent_jobs = 2
            retention_days = 0
            extra_codex_args = ["-c", "model_reasoning_effort=\"high\""]
        "#;
        let c = load(Some(file), &[("CODEX_ASYNC_MAX_JOBS", "8")]).expect("valid");
        assert_eq!(c.codex_bin, OsString::from("/opt/codex"));
        assert_eq!(c.default_policy, Policy::AutoEdit);
        assert_eq!(c.default_model.as_deref(), Some("gpt-5.5"));
        assert_eq!(c.max_jobs, 8);
        assert_eq!(c.retention_days, 0);
        assert_eq!(c.extra_args, ["-c", "model_reasoning_effort=\"high\""]);
        assert_eq!(c.sources["codex_bin"], Source::File);
        assert_eq!(
            c.sources["max_concurrent_jobs"],
            Source::Env("CODEX_ASYNC_MAX_JOBS")
        );
        assert_eq!(c.sources["output_cap_bytes"], Source::Default);
        let rows = c.rows();
        assert!(rows.iter().any(|(k, v, s)| *k == "max_concurrent_jobs"
            && v == "8"
            && s == "$CODEX_ASYNC_MAX_JOBS"));
    }

    #[test]
    fn task_answers_are_on_unless_turned_off() {
        let on = load(None, &[]).expect("defaults");
        assert!(on.task_answers);
        let off = load(Some("task_answers = false"), &[]).expect("file");
        assert!(!off.task_answers);
        assert_eq!(off.sources["task_answers"], Source::File);
        let env = load(
            Some("task_answers = true"),
            &[("CODEX_ASYNC_TASK_ANSWERS", "off")],
        )
        .expect("env");
        assert!(!env.task_answers);
        let bad = err(load(None, &[("CODEX_ASYNC_TASK_ANSWERS", "maybe")]));
        assert!(
            bad.contains("CODEX_ASYNC_TASK_ANSWERS") && bad.contains("true or false"),
            "{bad}"
        );
        let wrong_type = err(load(Some("task_answers = \"no\""), &[]));
        assert!(wrong_type.contains("task_answers"), "{wrong_type}");
        assert!(on
            .rows()
            .iter()
            .any(|(k, v, _)| *k == "task_answers" && v == "true"));
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let unknown = err(load(Some("max_jobs = 3"), &[]));
        assert!(
            unknown.contains("config.toml") && unknown.contains("max_jobs"),
            "{unknown}"
        );
        let wrong_type = err(load(Some("retention_days = \"a week\""), &[]));
        assert!(wrong_type.contains("retention_days"), "{wrong_type}");
        let range = err(load(Some("max_concurrent_jobs = 0"), &[]));
        assert!(
            range.contains("config.toml: max_concurrent_jobs") && range.contains("from 1"),
            "{range}"
        );
        let policy = err(load(Some("default_approval_policy = \"yolo\""), &[]));
        assert!(
            policy.contains("default_approval_policy") && policy.contains("suggest"),
            "{policy}"
        );
        let reserved = err(load(
            Some("extra_codex_args = [\"--dangerously-bypass-approvals-and-sandbox\"]"),
            &[],
        ));
        assert!(reserved.contains("extra_codex_args"), "{reserved}");
        let env = err(load(None, &[("CODEX_ASYNC_OUTPUT_CAP_BYTES", "12")]));
        assert!(
            env.starts_with("CODEX_ASYNC_OUTPUT_CAP_BYTES=\"12\""),
            "{env}"
        );
        let stall = err(load(None, &[("CODEX_ASYNC_STALL_TIMEOUT", "soon")]));
        assert!(stall.starts_with("CODEX_ASYNC_STALL_TIMEOUT"), "{stall}");
        let args = err(load(None, &[("CODEX_ASYNC_EXTRA_ARGS", "-c x=1")]));
        assert!(
            args.starts_with("CODEX_ASYNC_EXTRA_ARGS") && args.contains("JSON array"),
            "{args}"
        );
        assert!(load(
            None,
            &[(
                "CODEX_ASYNC_EXTRA_ARGS",
                "[\"--sandbox=danger-full-access\"]"
            )]
        )
        .is_err());
    }
}
