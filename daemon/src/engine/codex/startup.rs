//! What a job says when codex's app-server never got as far as its turn: it
//! ended (exited, or was killed) before, or did not answer `initialize`
//! within `init_timeout_seconds`. codex's exit status alone says nothing
//! then — a codex older than codex-async supports may print nothing and
//! exit 2, and one that hangs before answering would sit `running` until the
//! stall watchdog — so the reason names codex's version against the range
//! codex-async supports ([`MIN_CODEX`] to [`NEWEST_TESTED`]) and quotes the
//! end of what codex printed.
//!
//! The monitor's session (engine/codex/session.rs) knows how far the session
//! got and asks here for the words; clap's usage error (exit 2, "unexpected
//! argument") is left to [`super::version::explain_exit`], which codexd runs
//! when the job ends because it alone knows `extra_codex_args`.

use std::{ffi::OsStr, path::Path};

use super::version::{
    parse_rejection, read_tail, read_version, Version, CODEX_INSTALL, MIN_CODEX, NEWEST_TESTED,
};

/// How many of codex's last lines the reason quotes: its error and a little
/// context, not a Node stack trace.
const PRINTED_LINES: usize = 5;
/// How many characters of them, at most (the end is kept: the last words are
/// the error).
const PRINTED_CHARS: usize = 300;

/// Why the monitor stops a codex that has not answered `initialize` in
/// `seconds` (its log line; the job's reason is [`explain`]'s, said once
/// codex is gone).
pub fn no_initialize(seconds: u32) -> String {
    format!("codex app-server did not answer initialize within {seconds} s")
}

/// How far a session got before it ended without a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTurn {
    /// codex ended on its own: an exit code, or the signal that killed it.
    Ended {
        code: Option<i32>,
        signal: Option<i32>,
        /// codex had answered `initialize` (then it ended before its turn
        /// started).
        initialized: bool,
    },
    /// codex did not answer `initialize` within `seconds`, and was stopped.
    NoInitialize {
        seconds: u32,
        /// It had closed its stdout (so it never could answer).
        stdout_closed: bool,
    },
}

/// The reason for a job whose session ended as `what`, with codex's
/// `version` (None when `codex --version` named none) and the end of its
/// output (`tail`: codex's stderr and any stdout line that was not the
/// protocol, beside the events the monitor wrote).
pub fn reason(what: NoTurn, version: Option<Version>, tail: &str) -> String {
    let happened = match what {
        NoTurn::Ended {
            code,
            signal,
            initialized,
        } => {
            let ended = match (code, signal) {
                (Some(code), _) => format!("exited with code {code}"),
                (None, Some(sig)) => format!("was killed by signal {sig}"),
                (None, None) => "ended".to_string(),
            };
            let before = if initialized {
                "before its turn started"
            } else {
                "before answering initialize"
            };
            format!("codex app-server {ended} {before}")
        }
        NoTurn::NoInitialize {
            seconds,
            stdout_closed,
        } => {
            let closed = if stdout_closed {
                ", having closed its stdout,"
            } else {
                ""
            };
            format!(
                "codex app-server{closed} did not answer initialize within {seconds} s, and was \
                 stopped with its processes"
            )
        }
    };
    let printed = match printed(tail) {
        p if p.is_empty() => "it printed nothing".to_string(),
        p => format!("it printed: {p}"),
    };
    match version {
        Some(v) if v < MIN_CODEX => format!(
            "{happened}: codex {v} is older than {MIN_CODEX}, the oldest codex-async supports; \
             upgrade it with `{CODEX_INSTALL}@latest`; {printed}"
        ),
        Some(v) if v > NEWEST_TESTED => format!(
            "{happened} (codex {v}, newer than {NEWEST_TESTED}, the newest codex-async is tested \
             with: `{CODEX_INSTALL}@{NEWEST_TESTED}` installs that one); {printed}"
        ),
        Some(v) => format!("{happened} (codex {v}); {printed}"),
        None => format!(
            "{happened} (its version unknown: `codex --version` named none; codex-async \
             supports {MIN_CODEX} to {NEWEST_TESTED}); {printed}"
        ),
    }
}

/// The last few lines codex printed in `tail` (the end of the job's output),
/// on one line, without the events the monitor wrote there; empty when codex
/// printed nothing.
fn printed(tail: &str) -> String {
    // Translated events start with their type (`job::events::event_line`).
    let own: Vec<String> = tail
        .lines()
        .filter(|line| !line.starts_with("{\"type\":"))
        .map(|line| {
            line.chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
                .trim()
                .to_string()
        })
        .filter(|line| !line.is_empty())
        .collect();
    let last = own[own.len().saturating_sub(PRINTED_LINES)..].join(" | ");
    let count = last.chars().count();
    if count <= PRINTED_CHARS {
        return last;
    }
    let kept: String = last.chars().skip(count - (PRINTED_CHARS - 1)).collect();
    format!("…{kept}")
}

/// The reason for a job whose session ended as `what`, with codex's version
/// (`codex_bin --version`, bounded) and the end of `output`, the job's
/// `output.txt`.
pub async fn explain(codex_bin: &OsStr, output: &Path, what: NoTurn) -> String {
    let path = output.to_path_buf();
    let tail = tokio::task::spawn_blocking(move || read_tail(&path))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let version = read_version(codex_bin).await;
    reason(what, version, &tail)
}

/// Whether the end of `output` is codex's usage error for an exit `code`:
/// then the job's reason is [`super::version::explain_exit`]'s, not ours.
pub async fn is_usage_error(output: &Path, code: Option<i32>) -> bool {
    if code != Some(2) {
        return false;
    }
    let path = output.to_path_buf();
    tokio::task::spawn_blocking(move || read_tail(&path))
        .await
        .ok()
        .and_then(Result::ok)
        .is_some_and(|tail| parse_rejection(&tail).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: Option<Version> = Some(Version::new(0, 120, 0));
    const NOW: Option<Version> = Some(Version::new(0, 171, 0));

    fn ended(code: i32) -> NoTurn {
        NoTurn::Ended {
            code: Some(code),
            signal: None,
            initialized: false,
        }
    }

    #[test]
    fn a_codex_older_than_supported_is_named_with_the_floor_and_the_fix() {
        assert_eq!(
            reason(ended(2), OLD, ""),
            "codex app-server exited with code 2 before answering initialize: codex 0.120.0 is \
             older than 0.146.0, the oldest codex-async supports; upgrade it with \
             `npm install -g @openai/codex@latest`; it printed nothing"
        );
    }

    #[test]
    fn a_codex_in_range_is_named_and_what_it_printed_quoted() {
        let tail = "\n{\"type\":\"thread.started\",\"thread_id\":\"t\"}\nError: no config\n  \n";
        let started = NoTurn::Ended {
            code: Some(1),
            signal: None,
            initialized: true,
        };
        assert_eq!(
            reason(started, NOW, tail),
            "codex app-server exited with code 1 before its turn started (codex 0.171.0); it \
             printed: Error: no config"
        );
        let killed = NoTurn::Ended {
            code: None,
            signal: Some(9),
            initialized: false,
        };
        assert_eq!(
            reason(killed, None, ""),
            "codex app-server was killed by signal 9 before answering initialize (its version \
             unknown: `codex --version` named none; codex-async supports 0.146.0 to 0.171.0); it \
             printed nothing"
        );
        let newer = reason(ended(1), Some(Version::new(0, 190, 0)), "x");
        assert!(
            newer.contains("(codex 0.190.0, newer than 0.171.0, the newest codex-async is tested with: `npm install -g @openai/codex@0.171.0` installs that one); it printed: x"),
            "{newer}"
        );
    }

    #[test]
    fn no_answer_to_initialize_says_how_long_was_waited() {
        let hung = NoTurn::NoInitialize {
            seconds: 30,
            stdout_closed: false,
        };
        assert_eq!(
            reason(hung, NOW, "starting\n"),
            "codex app-server did not answer initialize within 30 s, and was stopped with its \
             processes (codex 0.171.0); it printed: starting"
        );
        let closed = NoTurn::NoInitialize {
            seconds: 2,
            stdout_closed: true,
        };
        assert!(reason(closed, NOW, "")
            .starts_with("codex app-server, having closed its stdout, did not answer"));
    }

    #[test]
    fn only_the_last_lines_are_quoted_and_a_long_end_is_clipped() {
        let lines: String = (1..=8).map(|i| format!("line {i}\n")).collect();
        assert_eq!(
            printed(&lines),
            "line 4 | line 5 | line 6 | line 7 | line 8"
        );
        let long = format!("{}END\u{7}\n", "x".repeat(1000));
        let clipped = printed(&long);
        assert_eq!(clipped.chars().count(), PRINTED_CHARS);
        assert!(
            clipped.starts_with('…') && clipped.ends_with("xEND"),
            "{clipped}"
        );
    }
}
