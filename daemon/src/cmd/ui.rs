//! What the commands for people share: connecting (and saying how to start the
//! daemon when it is not running), printing (colours only on a terminal and
//! without NO_COLOR, a closed pipe is not an error), and formatting times,
//! sizes, excerpts and the JSON form of a job.

use std::{
    io::{self, Write},
    process::ExitCode,
    time::Duration,
};

use anstyle::{AnsiColor, Style};
use codex_async_proto::{
    connect, job_result,
    paths::Paths,
    v1::{Job, JobStatus},
    Client,
};
use serde_json::{json, Value};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::{api::service, job::JobId};

/// Exit code when the daemon is not running (as `codexd status` and `systemctl status`).
pub const NOT_RUNNING: u8 = 3;

/// A client on the daemon's socket, or None when nothing answers there.
pub async fn client(paths: &Paths) -> Option<Client> {
    connect(&paths.socket).await.ok()
}

/// Says the daemon is not running and how to start it; returns the exit code.
/// Read-only commands never start it themselves: looking must not change things.
pub fn not_running(paths: &Paths, json: bool) -> ExitCode {
    let message = format!(
        "codexd is not running (nothing answers on {}); start it with `codexd start` \
         (or install it as a service: `codexd install-service`)",
        paths.socket.display()
    );
    if json {
        let _ = emit(&format!(
            "{}\n",
            json!({"error": message, "running": false})
        ));
    }
    eprintln!("codexd: {message}");
    ExitCode::from(NOT_RUNNING)
}

/// An RPC error as the sentence the daemon wrote (it names the field and the fix).
pub fn rpc_error(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{}", status.message())
}

/// How a person lists jobs (the daemon's messages name the MCP tool instead).
const LIST_JOBS: &str = "`codexd jobs`";

/// An RPC error about one job, worded for a person: an unknown job points at
/// `codexd jobs` rather than at the MCP tool the daemon names for the model.
pub fn job_error(status: tonic::Status) -> anyhow::Error {
    let unknown = status
        .metadata()
        .get(service::UNKNOWN_JOB_KEY)
        .and_then(|id| id.to_str().ok());
    match unknown {
        Some(id) if status.code() == tonic::Code::NotFound => {
            anyhow::anyhow!("{}", service::no_job(id, LIST_JOBS))
        }
        _ => rpc_error(status),
    }
}

/// Checks a job id typed by a person, before asking the daemon (whose
/// answer would point at the MCP tools).
pub fn check_job_id(id: &str) -> anyhow::Result<()> {
    match JobId::parse(id) {
        Ok(_) => Ok(()),
        Err(bad) => anyhow::bail!(
            "{:?} is not a job id; job ids are 12 lowercase hex characters \
             (list them with {LIST_JOBS})",
            bad.0
        ),
    }
}

/// Writes `text` to stdout, stripping colours when stdout is not a terminal
/// or NO_COLOR is set. A reader that went away (`| head`) ends output quietly.
pub fn emit(text: &str) -> anyhow::Result<()> {
    emit_bytes(text.as_bytes())
}

/// Like [`emit`], for raw bytes (job output is not always UTF-8).
pub fn emit_bytes(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = anstream::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `text` in `style` (the escape codes are removed again by [`emit`] when
/// colours are off).
pub fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

pub fn bold(text: &str) -> String {
    paint(Style::new().bold(), text)
}

pub fn dim(text: &str) -> String {
    paint(Style::new().dimmed(), text)
}

pub fn green(text: &str) -> String {
    paint(AnsiColor::Green.on_default(), text)
}

pub fn yellow(text: &str) -> String {
    paint(AnsiColor::Yellow.on_default(), text)
}

pub fn magenta(text: &str) -> String {
    paint(AnsiColor::Magenta.on_default().bold(), text)
}

pub fn red(text: &str) -> String {
    paint(AnsiColor::Red.on_default().bold(), text)
}

/// A status name, coloured by what it means.
pub fn status_colored(status: JobStatus, padded_to: usize) -> String {
    colored_as(status, status.name(), padded_to)
}

/// The job's status as a table or a one-line answer names it: the watchdog
/// that stopped it (`stalled`, `timed_out`) rather than `error`, since the
/// stop, not how codex exited after it, is why the job ended; coloured as
/// its status.
pub fn job_status_colored(job: &Job, padded_to: usize) -> String {
    colored_as(status_of(job), status_label(job), padded_to)
}

/// The job's status name, or the watchdog that stopped it (see
/// [`job_status_colored`]).
pub fn status_label(job: &Job) -> &'static str {
    watchdog_of(job).unwrap_or_else(|| status_of(job).name())
}

/// The watchdog that stopped the job, if one did (its error says which).
pub fn watchdog_of(job: &Job) -> Option<&'static str> {
    job_result::Status::of(job)
        .and_then(|status| job_result::stopped_by_watchdog(status, job.error.as_deref()))
}

fn colored_as(status: JobStatus, label: &str, padded_to: usize) -> String {
    let name = format!("{label:<padded_to$}");
    match status {
        JobStatus::Done => green(&name),
        JobStatus::Error => red(&name),
        JobStatus::Running | JobStatus::Queued => yellow(&name),
        JobStatus::InputRequired => magenta(&name),
        JobStatus::Cancelled | JobStatus::Unspecified => dim(&name),
    }
}

/// The job's status, with an unknown number shown as `unspecified`.
pub fn status_of(job: &Job) -> JobStatus {
    JobStatus::try_from(job.status).unwrap_or(JobStatus::Unspecified)
}

/// Seconds from an RFC 3339 time to another (or to now), if both parse.
pub fn seconds_between(from: &str, to: Option<&str>) -> Option<i64> {
    let from = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let to = match to {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t).ok()?.to_utc(),
        None => chrono::Utc::now(),
    };
    Some((to - from.to_utc()).num_seconds().max(0))
}

/// A duration in its two largest units: `42s`, `2m13s`, `1h05m`, `3d04h`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// How long the job has run (until now while it runs), or `-` before it started.
pub fn job_duration(job: &Job) -> String {
    match job.started_at.as_deref() {
        Some(start) => seconds_between(start, job.finished_at.as_deref())
            .map(human_duration)
            .unwrap_or_else(|| "-".into()),
        None => "-".into(),
    }
}

/// How long ago the job was created.
pub fn job_age(job: &Job) -> String {
    seconds_between(&job.created_at, None)
        .map(human_duration)
        .unwrap_or_else(|| "-".into())
}

/// Bytes as people read them: `512 B`, `12.3 KB`, `4.0 MB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Parses an age such as `30m`, `12h`, `7d`, `2w` (or `90s`).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || format!("{text:?} is not an age; use a number and a unit: 90s, 30m, 12h, 7d, 2w");
    let n: u64 = number.parse().map_err(|_| bad())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 7 * 86400,
        _ => return Err(bad()),
    };
    n.checked_mul(unit_secs)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

/// Columns `text` takes on a terminal (a CJK character or an emoji takes two).
pub fn width(text: &str) -> usize {
    text.width()
}

/// `text` padded with spaces to `columns` terminal columns.
pub fn pad(text: &str, columns: usize) -> String {
    format!("{text}{}", " ".repeat(columns.saturating_sub(width(text))))
}

/// The start of `text` that fits in `columns` terminal columns, never
/// splitting a character.
fn clip_start(text: &str, columns: usize) -> &str {
    let mut used = 0;
    for (at, c) in text.char_indices() {
        used += c.width().unwrap_or(0);
        if used > columns {
            return &text[..at];
        }
    }
    text
}

/// The end of `text` that fits in `columns` terminal columns.
fn clip_end(text: &str, columns: usize) -> &str {
    let mut used = 0;
    for (at, c) in text.char_indices().rev() {
        used += c.width().unwrap_or(0);
        if used > columns {
            return &text[at + c.len_utf8()..];
        }
    }
    text
}

/// `text` on one line in at most `max` terminal columns, `…` when cut.
/// Control characters are dropped: they would move the cursor.
pub fn excerpt(text: &str, max: usize) -> String {
    let line: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if width(&line) <= max {
        line
    } else {
        format!("{}…", clip_start(&line, max.saturating_sub(1)))
    }
}

/// A path with the user's home shown as `~` and, when long, its start elided.
pub fn short_path(path: &str, max: usize) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    let shown = match path.strip_prefix(&home) {
        Some(rest) if !home.is_empty() && (rest.is_empty() || rest.starts_with('/')) => {
            format!("~{rest}")
        }
        _ => path.to_string(),
    };
    let shown: String = shown.chars().filter(|c| !c.is_control()).collect();
    if width(&shown) <= max {
        shown
    } else {
        format!("…{}", clip_end(&shown, max.saturating_sub(1)))
    }
}

/// The JSON form of a job (field names as in the proto and meta.json): the
/// proto message itself, serialized (`codex_async_proto::json`).
pub fn job_json(job: &Job) -> Value {
    serde_json::to_value(job).unwrap_or(Value::Null)
}

/// What `cancel` and `answer` print: the job's status and the daemon's
/// sentence, or with `--json` the job, `extra` fields and the message.
pub fn emit_outcome(
    job_id: &str,
    job: Option<&Job>,
    extra: serde_json::Map<String, Value>,
    message: &str,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let mut out = serde_json::Map::new();
        out.insert("job".into(), job.map(job_json).unwrap_or(Value::Null));
        out.extend(extra);
        out.insert("message".into(), Value::String(message.to_string()));
        emit(&format!("{}\n", Value::Object(out)))
    } else {
        let status = job.map(|j| job_status_colored(j, 0)).unwrap_or_default();
        emit(&format!("{job_id}: {status}: {message}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_with_units_only() {
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_age("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_age("2w"), Ok(Duration::from_secs(14 * 86400)));
        assert_eq!(parse_age("0s"), Ok(Duration::ZERO));
        for bad in [
            "7",
            "d",
            "",
            "-1d",
            "1.5h",
            "7 days",
            "99999999999999999999d",
        ] {
            assert!(parse_age(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn durations_show_two_units() {
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(133), "2m13s");
        assert_eq!(human_duration(3900), "1h05m");
        assert_eq!(human_duration(3 * 86400 + 4 * 3600), "3d04h");
    }

    #[test]
    fn wide_characters_are_clipped_and_padded_by_columns() {
        // Each CJK character takes two columns: 4 fit in 9, with the ellipsis.
        assert_eq!(excerpt("修正してください", 9), "修正して…");
        assert_eq!(width(&excerpt("修正してください", 9)), 9);
        // Never half a character: 3 columns hold one (2) and the ellipsis.
        assert_eq!(excerpt("修正", 3), "修…");
        assert_eq!(excerpt("a修正b", 3), "a…");
        assert_eq!(short_path("/x/作業/フォルダ", 8), "…ォルダ");
        assert_eq!(short_path("/x/作業/フォルダ", 9), "…フォルダ");
        assert_eq!(pad("作業", 6), "作業  ");
        assert_eq!(excerpt("a\u{1b}[31mb", 10), "a[31mb");
    }

    #[test]
    fn excerpts_are_one_line_and_bounded() {
        assert_eq!(excerpt("fix\nthe   bug", 20), "fix the bug");
        assert_eq!(excerpt("abcdefghij", 5), "abcd…");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(12_300), "12.3 KB");
    }
}
