//! The daemon's settings: defaults, then `$CODEX_ASYNC_HOME/config.toml`, then
//! environment variables, each later source overriding the earlier. Read once
//! at start; an unknown key or a bad value stops the daemon with an error that
//! names the key (or variable) and the rule.

use std::{collections::BTreeMap, ffi::OsString, fmt, path::Path};

use crate::{api::validate, job::Policy};

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
/// How long a question codex asks (policy `ask`) waits for an answer before
/// it is denied, in seconds: long enough to come back to the terminal, short
/// enough that a forgotten job goes on.
pub const DEFAULT_QUESTION_TIMEOUT: u32 = 900;
/// How long codex's app-server gets to answer `initialize`, in seconds: it
/// answers within a second or two (Node's start), so 30 s leaves room for a
/// loaded machine while a codex that hangs before its session (an old or
/// broken one) ends the job in seconds rather than at the stall watchdog.
pub const DEFAULT_INIT_TIMEOUT: u32 = 30;
pub const DEFAULT_MAX_DURATION: u32 = 3600;
/// Most jobs that may run at once (each is a codex process and a monitor).
const MAX_MAX_JOBS: u64 = 256;

/// Settings that shape how jobs run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The codex executable.
    pub codex_bin: OsString,
    /// The Gemini CLI executable (jobs with agent `gemini`).
    pub gemini_bin: OsString,
    /// The Claude Code executable (jobs with agent `claude`).
    pub claude_bin: OsString,
    /// The policy of a job that names none.
    pub default_policy: Policy,
    /// The model of a job that names none (None: codex's own default).
    pub default_model: Option<String>,
    /// The reasoning effort of a job that names none (None: codex's own).
    pub default_reasoning_effort: Option<String>,
    /// How many jobs may run at once; the rest wait as `queued`.
    pub max_jobs: usize,
    /// Bytes of output kept per job; past it the head is dropped.
    pub output_cap: u64,
    /// Finished jobs older than this many days are pruned; 0 keeps them forever.
    pub retention_days: u32,
    /// Default stall watchdog: a job with no progress this long ends as `stalled`.
    pub stall_timeout: u32,
    /// A question codex asks is denied after this long without an answer.
    pub question_timeout: u32,
    /// codex's app-server not answering `initialize` this long ends the job.
    pub init_timeout: u32,
    /// Default max duration: a job running this long ends as `timed_out`.
    pub max_duration: u32,
    /// Arguments added to every codex command line (config overrides only).
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

/// One setting the daemon cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// config.toml exists but cannot be read.
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    /// config.toml is not TOML; `message` is toml's own, with its line,
    /// column and caret, kept on its lines.
    #[error("{path} is not valid TOML:\n{}", indent(message, "    "))]
    Syntax { path: String, message: String },
    /// A key config.toml may not have.
    #[error(
        "config.toml: unknown key {key:?}{}; the keys are {}",
        suggestion.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default(),
        known_keys()
    )]
    UnknownKey {
        key: String,
        /// The known key it is most likely a typo of.
        suggestion: Option<&'static str>,
    },
    /// A value that breaks its setting's rule.
    #[error("{setting} is not valid: {expected}")]
    Value {
        /// The key in config.toml and its value (`config.toml: key = value`),
        /// or the environment variable and its value (`VAR="value"`).
        setting: String,
        /// The rule, with an example.
        expected: String,
    },
}

/// Every problem found in the settings: all are reported at once, so one
/// edit fixes them all.
#[derive(Debug)]
pub struct ConfigErrors {
    /// The config file read.
    pub file: String,
    /// Each problem, in the order: the file, its unknown keys, each setting.
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = match self.errors.len() {
            1 => "a problem".to_string(),
            n => format!("{n} problems"),
        };
        write!(
            f,
            "the settings have {count} (read from {}, then the environment):",
            self.file
        )?;
        for error in &self.errors {
            write!(f, "\n{}", indent(&error.to_string(), "  "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

fn indent(text: &str, by: &str) -> String {
    text.trim_end()
        .lines()
        .map(|line| format!("{by}{line}").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// How a key's value is written in config.toml.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Number,
    Bool,
    Strings,
}

/// A key of config.toml: its environment variable, its kind and an example
/// value as written in the file.
struct Key {
    key: &'static str,
    var: &'static str,
    kind: Kind,
    example: &'static str,
}

const fn key(key: &'static str, var: &'static str, kind: Kind, example: &'static str) -> Key {
    Key {
        key,
        var,
        kind,
        example,
    }
}

/// Every key of config.toml.
const KEYS: &[Key] = &[
    key(
        "codex_bin",
        "CODEX_BIN",
        Kind::Text,
        "\"/usr/local/bin/codex\"",
    ),
    key(
        "gemini_bin",
        "GEMINI_BIN",
        Kind::Text,
        "\"/usr/local/bin/gemini\"",
    ),
    key(
        "claude_bin",
        "CLAUDE_BIN",
        Kind::Text,
        "\"/usr/local/bin/claude\"",
    ),
    key(
        "default_approval_policy",
        "CODEX_ASYNC_DEFAULT_POLICY",
        Kind::Text,
        "\"suggest\"",
    ),
    key(
        "default_model",
        "CODEX_ASYNC_DEFAULT_MODEL",
        Kind::Text,
        "\"gpt-5.5\"",
    ),
    key(
        "default_reasoning_effort",
        "CODEX_ASYNC_DEFAULT_REASONING_EFFORT",
        Kind::Text,
        "\"medium\"",
    ),
    key(
        "max_concurrent_jobs",
        "CODEX_ASYNC_MAX_JOBS",
        Kind::Number,
        "4",
    ),
    key(
        "output_cap_bytes",
        "CODEX_ASYNC_OUTPUT_CAP_BYTES",
        Kind::Number,
        "268435456",
    ),
    key(
        "retention_days",
        "CODEX_ASYNC_RETENTION_DAYS",
        Kind::Number,
        "7",
    ),
    key(
        "stall_timeout_seconds",
        "CODEX_ASYNC_STALL_TIMEOUT",
        Kind::Number,
        "600",
    ),
    key(
        "question_timeout_seconds",
        "CODEX_ASYNC_QUESTION_TIMEOUT",
        Kind::Number,
        "900",
    ),
    key(
        "init_timeout_seconds",
        "CODEX_ASYNC_INIT_TIMEOUT",
        Kind::Number,
        "30",
    ),
    key(
        "max_duration_seconds",
        "CODEX_ASYNC_MAX_DURATION",
        Kind::Number,
        "3600",
    ),
    key(
        "extra_codex_args",
        "CODEX_ASYNC_EXTRA_ARGS",
        Kind::Strings,
        "[\"-c\", \"model_reasoning_effort=\\\"high\\\"\"]",
    ),
    key("log_level", "RUST_LOG", Kind::Text, "\"info\""),
    key(
        "task_answers",
        "CODEX_ASYNC_TASK_ANSWERS",
        Kind::Bool,
        "true",
    ),
];

fn known_keys() -> String {
    KEYS.iter().map(|k| k.key).collect::<Vec<_>>().join(", ")
}

/// The known key an unknown one most likely meant: its environment
/// variable's name written as a key, the one key holding all its words
/// (`max_jobs`), or a close spelling (strsim's Jaro-Winkler, as clap uses
/// for its own suggestions).
fn suggest(unknown: &str) -> Option<&'static str> {
    if let Some(k) = KEYS.iter().find(|k| k.var.eq_ignore_ascii_case(unknown)) {
        return Some(k.key);
    }
    let lower = unknown.to_ascii_lowercase();
    let words: Vec<&str> = lower.split(['_', '-']).filter(|w| !w.is_empty()).collect();
    let holding: Vec<&Key> = KEYS
        .iter()
        .filter(|k| words.len() > 1 && words.iter().all(|w| k.key.split('_').any(|kw| kw == *w)))
        .collect();
    if let [only] = holding.as_slice() {
        return Some(only.key);
    }
    KEYS.iter()
        .map(|k| (strsim::jaro_winkler(unknown, k.key), k.key))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, key)| key)
}

/// The options both codex command lines codexd runs take (`codex app-server`
/// for tasks and replies, `codex exec review` for reviews; codex 0.146 to
/// 0.171): config overrides, each with its value, and `--strict-config`.
/// Everything a job sets itself (policy, sandbox, model, effort, schema,
/// cwd) goes in its requests instead, so nothing else may be added.
const EXTRA_WITH_VALUE: &[&str] = &["-c", "--config", "--enable", "--disable"];
const EXTRA_ALONE: &[&str] = &["--strict-config"];

impl Config {
    /// Reads config.toml in `home` (if present) and the environment, and
    /// checks every setting: `serve`, `start`, `config` and `doctor` all load
    /// through here, so they accept and refuse the same settings. Every
    /// problem is reported, not only the first.
    pub fn load(home: &Path) -> Result<Self, ConfigErrors> {
        let path = home.join("config.toml");
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_sources(Some(&text), &shown, |name| std::env::var_os(name)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Self::from_sources(None, &shown, |name| std::env::var_os(name))
            }
            Err(e) => Err(ConfigErrors {
                file: shown.clone(),
                errors: vec![ConfigError::Read {
                    path: shown,
                    message: e.to_string(),
                }],
            }),
        }
    }

    /// The settings from a config file's text and an environment lookup.
    fn from_sources(
        file_text: Option<&str>,
        file_name: &str,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        // A table, not a struct with deny_unknown_fields: serde stops at the
        // first unknown key or wrong type, and every one should be reported.
        let mut file = match file_text.map(|text| text.parse::<toml::Table>()) {
            Some(Ok(table)) => table,
            Some(Err(e)) => {
                errors.push(ConfigError::Syntax {
                    path: file_name.to_string(),
                    message: e.to_string(),
                });
                toml::Table::new()
            }
            None => toml::Table::new(),
        };
        for key in file.keys() {
            if !KEYS.iter().any(|k| k.key == key) {
                errors.push(ConfigError::UnknownKey {
                    key: key.clone(),
                    suggestion: suggest(key),
                });
            }
        }
        file.retain(|key, _| KEYS.iter().any(|k| k.key == key));
        let mut r = Resolver {
            env: &env,
            file,
            sources: BTreeMap::new(),
            errors,
        };

        let codex_bin = r.pick("codex_bin", "codex".to_string(), |v| {
            (!v.is_empty())
                .then(|| v.to_string())
                .ok_or_else(|| "a path or a command name".into())
        });
        let gemini_bin = r.pick("gemini_bin", "gemini".to_string(), |v| {
            (!v.is_empty())
                .then(|| v.to_string())
                .ok_or_else(|| "a path or a command name".into())
        });
        let claude_bin = r.pick("claude_bin", "claude".to_string(), |v| {
            (!v.is_empty())
                .then(|| v.to_string())
                .ok_or_else(|| "a path or a command name".into())
        });
        let default_policy = r.pick("default_approval_policy", Policy::Suggest, |v| {
            Policy::parse(v).map_err(|_| "one of suggest, auto-edit, full-auto".into())
        });
        let default_model = r.pick("default_model", None, |v| match v {
            "" => Ok(None),
            m => validate::model_name(m)
                .map(Some)
                .map_err(|_| "a model name: letters, digits and . _ : / -, e.g. gpt-5.5".into()),
        });
        let default_reasoning_effort = r.pick("default_reasoning_effort", None, |v| match v {
            "" => Ok(None),
            e => crate::job::reasoning_effort(e)
                .map(|e| Some(e.to_string()))
                .map_err(|_| {
                    format!(
                        "one of {} (codex's model_reasoning_effort)",
                        crate::job::REASONING_EFFORTS.join(", ")
                    )
                }),
        });
        let max_jobs = r.number(
            "max_concurrent_jobs",
            DEFAULT_MAX_JOBS as u64,
            1..=MAX_MAX_JOBS,
        );
        let output_cap = r.number(
            "output_cap_bytes",
            DEFAULT_OUTPUT_CAP,
            MIN_OUTPUT_CAP..=u64::MAX,
        );
        let retention_days = r.number(
            "retention_days",
            u64::from(DEFAULT_RETENTION_DAYS),
            0..=36_500,
        );
        let watchdog = 1..=u64::from(validate::MAX_WATCHDOG_SECONDS);
        let stall_timeout = r.number(
            "stall_timeout_seconds",
            u64::from(DEFAULT_STALL_TIMEOUT),
            watchdog.clone(),
        );
        let question_timeout = r.number(
            "question_timeout_seconds",
            u64::from(DEFAULT_QUESTION_TIMEOUT),
            watchdog.clone(),
        );
        let init_timeout = r.number(
            "init_timeout_seconds",
            u64::from(DEFAULT_INIT_TIMEOUT),
            watchdog.clone(),
        );
        let max_duration = r.number(
            "max_duration_seconds",
            u64::from(DEFAULT_MAX_DURATION),
            watchdog,
        );
        let extra_args = r.pick("extra_codex_args", Vec::new(), |v| {
            let args: Vec<String> = serde_json::from_str(v).map_err(|_| {
                "a JSON array of strings, e.g. [\"-c\", \"model_reasoning_effort=\\\"high\\\"\"]"
                    .to_string()
            })?;
            extra_args(&args).map(|()| args)
        });
        let log_level = r.pick("log_level", "info".to_string(), |v| {
            crate::logging::filter(v)
                .map(|_| v.to_string())
                .map_err(|why| {
                    format!(
                        "a tracing filter: a level (off, error, warn, info, debug, trace) or \
                         target=level pairs, e.g. info or info,codex_async_daemon=debug ({why})"
                    )
                })
        });
        let task_answers = r.pick("task_answers", true, |v| {
            match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "on" | "yes" => Ok(true),
                "false" | "0" | "off" | "no" => Ok(false),
                _ => Err("true or false (also 1/0, on/off, yes/no)".into()),
            }
        });
        if !r.errors.is_empty() {
            return Err(ConfigErrors {
                file: file_name.to_string(),
                errors: r.errors,
            });
        }
        Ok(Self {
            codex_bin: OsString::from(codex_bin),
            gemini_bin: OsString::from(gemini_bin),
            claude_bin: OsString::from(claude_bin),
            default_policy,
            default_model,
            default_reasoning_effort,
            max_jobs: usize::try_from(max_jobs).unwrap_or(DEFAULT_MAX_JOBS),
            output_cap,
            retention_days: u32::try_from(retention_days).unwrap_or(DEFAULT_RETENTION_DAYS),
            stall_timeout: u32::try_from(stall_timeout).unwrap_or(DEFAULT_STALL_TIMEOUT),
            question_timeout: u32::try_from(question_timeout).unwrap_or(DEFAULT_QUESTION_TIMEOUT),
            init_timeout: u32::try_from(init_timeout).unwrap_or(DEFAULT_INIT_TIMEOUT),
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
        let rows: [(&'static str, String); 16] = [
            ("codex_bin", self.codex_bin.to_string_lossy().into_owned()),
            ("gemini_bin", self.gemini_bin.to_string_lossy().into_owned()),
            ("claude_bin", self.claude_bin.to_string_lossy().into_owned()),
            ("default_approval_policy", self.default_policy.name().into()),
            (
                "default_model",
                self.default_model
                    .clone()
                    .unwrap_or_else(|| "(codex's default)".into()),
            ),
            (
                "default_reasoning_effort",
                self.default_reasoning_effort
                    .clone()
                    .unwrap_or_else(|| "(codex's default)".into()),
            ),
            ("max_concurrent_jobs", self.max_jobs.to_string()),
            ("output_cap_bytes", self.output_cap.to_string()),
            ("retention_days", self.retention_days.to_string()),
            ("stall_timeout_seconds", self.stall_timeout.to_string()),
            (
                "question_timeout_seconds",
                self.question_timeout.to_string(),
            ),
            ("init_timeout_seconds", self.init_timeout.to_string()),
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

/// Checks codexd's extra codex arguments: only [`EXTRA_WITH_VALUE`] (each
/// followed by its value, or joined to it by `=`) and [`EXTRA_ALONE`].
fn extra_args(args: &[String]) -> Result<(), String> {
    const ALLOWED: &str = "only config overrides, which both `codex app-server` (tasks, \
        replies) and `codex exec review` take: -c key=value, --enable FEATURE, --disable \
        FEATURE, --strict-config";
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg.is_empty() || arg.chars().any(|c| c.is_control()) {
            return Err(format!("{ALLOWED}; none empty or with control characters"));
        }
        let flag = arg.split('=').next().unwrap_or(arg);
        if EXTRA_WITH_VALUE.contains(&flag) {
            if flag == arg.as_str() && args.next().is_none() {
                return Err(format!("{ALLOWED}; {arg} needs its value after it"));
            }
        } else if !EXTRA_ALONE.contains(&arg.as_str()) {
            let instead = match flag {
                "-m" | "--model" => "; for the model use the job's model, or -c model=\"…\"",
                "-s"
                | "--sandbox"
                | "--full-auto"
                | "--dangerously-bypass-approvals-and-sandbox"
                | "-a"
                | "--ask-for-approval" => "; set approval_policy per job instead",
                _ => "",
            };
            let shown: String = arg.chars().take(60).collect();
            return Err(format!("{ALLOWED}, not {shown}{instead}"));
        }
    }
    Ok(())
}

/// Applies the sources in order, records where each value came from, and
/// collects every problem (a bad setting takes its default meanwhile, so the
/// others are still checked).
struct Resolver<'a, E: Fn(&str) -> Option<OsString>> {
    env: &'a E,
    /// config.toml's known keys, each taken once it is used.
    file: toml::Table,
    sources: BTreeMap<&'static str, Source>,
    errors: Vec<ConfigError>,
}

impl<E: Fn(&str) -> Option<OsString>> Resolver<'_, E> {
    /// The value of `key`: its environment variable if set, else the file's,
    /// else `default`; each is checked by `parse` in its text form (a file's
    /// number as digits, a list as a JSON array), so both sources follow
    /// one rule.
    fn pick<T>(
        &mut self,
        key: &'static str,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> T {
        let Some(&Key {
            var, kind, example, ..
        }) = KEYS.iter().find(|k| k.key == key)
        else {
            // Every caller names a key of KEYS; a typo there is a bug.
            unreachable!("{key} is not in KEYS");
        };
        if let Some(raw) = (self.env)(var).filter(|v| !v.is_empty()) {
            let value = raw.to_string_lossy().into_owned();
            self.sources.insert(key, Source::Env(var));
            return parse(&value).unwrap_or_else(|expected| {
                self.errors.push(ConfigError::Value {
                    setting: format!("{var}={value:?}"),
                    expected,
                });
                default
            });
        }
        let Some(value) = self.file.remove(key) else {
            self.sources.insert(key, Source::Default);
            return default;
        };
        self.sources.insert(key, Source::File);
        let text = file_text(kind, &value);
        match text.as_deref().map(&parse) {
            Some(Ok(parsed)) => parsed,
            Some(Err(expected)) => {
                self.errors.push(ConfigError::Value {
                    setting: format!("config.toml: {key} = {value}"),
                    expected,
                });
                default
            }
            None => {
                self.errors.push(ConfigError::Value {
                    setting: format!("config.toml: {key} = {value}"),
                    expected: format!("{}, e.g. {key} = {example}", kind.written()),
                });
                default
            }
        }
    }

    /// A whole number in `range`.
    fn number(
        &mut self,
        key: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> u64 {
        let expected = if *range.end() == u64::MAX {
            format!("a whole number ≥ {} (default {default})", range.start())
        } else {
            format!(
                "a whole number from {} to {} (default {default})",
                range.start(),
                range.end()
            )
        };
        self.pick(key, default, |v| {
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| expected.clone())
        })
    }
}

impl Kind {
    /// How a value of this kind is written in TOML, for a wrong type.
    fn written(self) -> &'static str {
        match self {
            Kind::Text => "a quoted string",
            Kind::Number => "a whole number without quotes",
            Kind::Bool => "true or false without quotes",
            Kind::Strings => "an array of quoted strings",
        }
    }
}

/// A config.toml value in the text form its setting's rule reads, or None
/// when it is the wrong TOML type.
fn file_text(kind: Kind, value: &toml::Value) -> Option<String> {
    match (kind, value) {
        (Kind::Text, toml::Value::String(s)) => Some(s.clone()),
        (Kind::Number, toml::Value::Integer(n)) => Some(n.to_string()),
        (Kind::Bool, toml::Value::Boolean(b)) => Some(b.to_string()),
        (Kind::Strings, toml::Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<Vec<String>>>()
            .and_then(|args| serde_json::to_string(&args).ok()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Config::from_sources(file, "/h/config.toml", move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn err(r: Result<Config, ConfigErrors>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    /// Each problem's own line(s), without the heading.
    fn problems(r: Result<Config, ConfigErrors>) -> Vec<String> {
        r.err()
            .map(|e| e.errors.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
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
    fn the_initialize_timeout_is_checked_like_the_other_durations() {
        assert_eq!(load(None, &[]).expect("defaults").init_timeout, 30);
        let file = load(Some("init_timeout_seconds = 5"), &[]).expect("file");
        assert_eq!(file.init_timeout, 5);
        assert_eq!(file.sources["init_timeout_seconds"], Source::File);
        let env = load(
            Some("init_timeout_seconds = 5"),
            &[("CODEX_ASYNC_INIT_TIMEOUT", "2")],
        )
        .expect("env");
        assert_eq!(env.init_timeout, 2);
        assert!(env
            .rows()
            .iter()
            .any(|(k, v, s)| *k == "init_timeout_seconds"
                && v == "2"
                && s == "$CODEX_ASYNC_INIT_TIMEOUT"));
        assert_eq!(
            problems(load(Some("init_timeout_seconds = 0"), &[])),
            [
                "config.toml: init_timeout_seconds = 0 is not valid: a whole number from 1 to \
              604800 (default 30)"
            ]
        );
        assert_eq!(
            problems(load(None, &[("CODEX_ASYNC_INIT_TIMEOUT", "30s")])),
            [
                "CODEX_ASYNC_INIT_TIMEOUT=\"30s\" is not valid: a whole number from 1 to 604800 \
              (default 30)"
            ]
        );
        assert_eq!(
            problems(load(Some("init_timeout_seconds = \"30\""), &[])),
            [
                "config.toml: init_timeout_seconds = \"30\" is not valid: a whole number without \
              quotes, e.g. init_timeout_seconds = 30"
            ]
        );
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
            range.contains(
                "config.toml: max_concurrent_jobs = 0 is not valid: a whole number from 1 to 256"
            ),
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
        assert!(
            reserved.contains("extra_codex_args")
                && reserved.contains("not --dangerously-bypass-approvals-and-sandbox; set approval_policy per job instead"),
            "{reserved}"
        );
        // exec's options mean nothing to app-server, which runs every task.
        let model = err(load(Some("extra_codex_args = [\"-m\", \"o3\"]"), &[]));
        assert!(
            model.contains("-c key=value, --enable FEATURE, --disable FEATURE, --strict-config, not -m; for the model use the job's model, or -c model=\"…\""),
            "{model}"
        );
        let dangling = err(load(Some("extra_codex_args = [\"-c\"]"), &[]));
        assert!(
            dangling.contains("-c needs its value after it"),
            "{dangling}"
        );
        let fine = load(
            Some("extra_codex_args = [\"-c\", \"a=1\", \"--config=b=2\", \"--enable\", \"x\", \"--strict-config\"]"),
            &[],
        );
        assert!(fine.is_ok(), "{:?}", fine.err());
        let env = err(load(None, &[("CODEX_ASYNC_OUTPUT_CAP_BYTES", "12")]));
        assert!(
            env.contains("\n  CODEX_ASYNC_OUTPUT_CAP_BYTES=\"12\" is not valid"),
            "{env}"
        );
        let stall = err(load(None, &[("CODEX_ASYNC_STALL_TIMEOUT", "soon")]));
        assert!(stall.contains("\n  CODEX_ASYNC_STALL_TIMEOUT"), "{stall}");
        let args = err(load(None, &[("CODEX_ASYNC_EXTRA_ARGS", "-c x=1")]));
        assert!(
            args.contains("\n  CODEX_ASYNC_EXTRA_ARGS") && args.contains("JSON array"),
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

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let file = "max_concurrent_jobs = 0\nmax_jobs = 3\nlog_level = \"verbose\"\n";
        let found = problems(load(Some(file), &[("CODEX_ASYNC_RETENTION_DAYS", "-1")]));
        assert_eq!(
            found,
            [
                format!(
                    "config.toml: unknown key \"max_jobs\" (did you mean max_concurrent_jobs?); \
                     the keys are {}",
                    known_keys()
                ),
                "config.toml: max_concurrent_jobs = 0 is not valid: a whole number from 1 to 256 \
                 (default 4)"
                    .to_string(),
                "CODEX_ASYNC_RETENTION_DAYS=\"-1\" is not valid: a whole number from 0 to 36500 \
                 (default 7)"
                    .to_string(),
                "config.toml: log_level = \"verbose\" is not valid: a tracing filter: a level (off, \
                 error, warn, info, debug, trace) or target=level pairs, e.g. info or \
                 info,codex_async_daemon=debug (\"verbose\" is not a level)"
                    .to_string(),
            ]
        );
        let all = err(load(Some(file), &[]));
        assert!(
            all.starts_with(
                "the settings have 3 problems (read from /h/config.toml, then the environment):\n  config.toml: unknown key"
            ),
            "{all}"
        );
    }

    #[test]
    fn rust_log_is_checked_like_log_level() {
        let bad = problems(load(None, &[("RUST_LOG", "info,codex_async_daemon=loud")]));
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(
            bad[0].starts_with(
                "RUST_LOG=\"info,codex_async_daemon=loud\" is not valid: a tracing filter"
            ),
            "{bad:?}"
        );
        let good = load(Some("log_level = \"warn\""), &[("RUST_LOG", "debug")]).expect("valid");
        assert_eq!(good.log_level, "debug");
        assert_eq!(good.sources["log_level"], Source::Env("RUST_LOG"));
    }

    #[test]
    fn a_wrong_type_says_how_to_write_the_value() {
        assert_eq!(
            problems(load(
                Some("retention_days = \"a week\"\ntask_answers = \"no\""),
                &[]
            )),
            [
                "config.toml: retention_days = \"a week\" is not valid: a whole number without \
                 quotes, e.g. retention_days = 7",
                "config.toml: task_answers = \"no\" is not valid: true or false without quotes, \
                 e.g. task_answers = true",
            ]
        );
        let unknown = problems(load(Some("CODEX_ASYNC_MAX_JOBS = 2"), &[]));
        assert!(
            unknown[0].contains("(did you mean max_concurrent_jobs?)"),
            "{unknown:?}"
        );
        let typo = problems(load(Some("retention_dayz = 2"), &[]));
        assert!(
            typo[0].contains("(did you mean retention_days?)"),
            "{typo:?}"
        );
        let far = problems(load(Some("colour = 2"), &[]));
        assert!(!far[0].contains("did you mean"), "{far:?}");
    }

    #[test]
    fn a_toml_syntax_error_keeps_its_lines_under_the_file_name() {
        let bad = err(load(Some("max_concurrent_jobs = = 2\n"), &[]));
        let mut lines = bad.lines();
        assert_eq!(
            lines.next(),
            Some("the settings have a problem (read from /h/config.toml, then the environment):")
        );
        assert_eq!(lines.next(), Some("  /h/config.toml is not valid TOML:"));
        let rest: Vec<&str> = lines.collect();
        assert!(rest.len() >= 3, "{bad}");
        assert!(rest.iter().all(|l| l.starts_with("      ")), "{bad}");
        assert!(rest.iter().any(|l| l.contains("line 1, column")), "{bad}");
        assert!(
            rest.iter()
                .any(|l| l.trim_start().starts_with('|') && l.contains('^')),
            "{bad}"
        );
    }
}
