//! The per-job watchdogs, run by the monitor (so they hold even while codexd
//! is down): codex with no network or a dead provider retries forever, so a
//! job that makes no progress for the stall timeout, or runs past its max
//! duration, is stopped like a cancel and ends as `error` (`stalled` /
//! `timed_out`).
//!
//! Progress is any new output line other than codex's `error` events: its
//! "Reconnecting…" retries print those, and must not keep a dead job alive.

use codex_async_proto::job_result::{STALLED, TIMED_OUT};
use std::{
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    path::PathBuf,
    time::{Duration, Instant},
};

use crate::job::Agent;

/// Bytes scanned per check at most; past that, output this large is progress.
const MAX_SCAN: u64 = 4 * 1024 * 1024;

pub struct Watchdog {
    output: PathBuf,
    stall: Option<Duration>,
    max: Option<Duration>,
    started: Instant,
    last_progress: Instant,
    scanned: u64,
    /// Whose progress it watches, named in its reason.
    agent: Agent,
}

impl Watchdog {
    /// Seconds of 0 disable a watchdog.
    pub fn new(output: PathBuf, stall_secs: u32, max_secs: u32, agent: Agent) -> Self {
        let now = Instant::now();
        let secs = |s: u32| (s > 0).then(|| Duration::from_secs(u64::from(s)));
        Self {
            output,
            stall: secs(stall_secs),
            max: secs(max_secs),
            started: now,
            last_progress: now,
            scanned: 0,
            agent,
        }
    }

    /// Counts now as progress: the agent waits for a person, which is no stall.
    pub fn hold(&mut self) {
        self.last_progress = Instant::now();
    }

    /// True when neither watchdog is set.
    pub fn is_off(&self) -> bool {
        self.stall.is_none() && self.max.is_none()
    }

    /// Looks at new output; returns why the job must stop, if it must.
    pub fn check(&mut self) -> Option<String> {
        if self.new_progress().unwrap_or(false) {
            self.last_progress = Instant::now();
        }
        if let Some(max) = self.max {
            if self.started.elapsed() >= max {
                return Some(format!(
                    "{TIMED_OUT}: ran longer than the max duration of {} s",
                    max.as_secs()
                ));
            }
        }
        if let Some(stall) = self.stall {
            if self.last_progress.elapsed() >= stall {
                return Some(format!(
                    "{STALLED}: no progress from {} for {} s (it may be retrying a dead network or provider)",
                    self.agent,
                    stall.as_secs()
                ));
            }
        }
        None
    }

    fn new_progress(&mut self) -> io::Result<bool> {
        let mut file = File::open(&self.output)?;
        let size = file.metadata()?.len();
        if size < self.scanned {
            // The output cap dropped the head: the file shrank because codex
            // wrote a lot, which is progress.
            self.scanned = size;
            return Ok(true);
        }
        if size == self.scanned {
            return Ok(false);
        }
        let start = self.scanned;
        if size - start > MAX_SCAN {
            self.scanned = size;
            return Ok(true);
        }
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::with_capacity((size - start) as usize);
        file.take(size - start).read_to_end(&mut buf)?;
        let Some(last_nl) = buf.iter().rposition(|&b| b == b'\n') else {
            return Ok(false); // a partial line: wait for its end
        };
        self.scanned = start + last_nl as u64 + 1;
        Ok(buf[..last_nl].split(|&b| b == b'\n').any(is_progress))
    }
}

/// Any line but a codex `error` event (with or without spaces in the JSON).
fn is_progress(line: &[u8]) -> bool {
    let head: Vec<u8> = line
        .iter()
        .take(64)
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    !head.is_empty() && !head.starts_with(br#"{"type":"error""#)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn error_events_are_not_progress() {
        assert!(!is_progress(
            br#"{"type":"error","message":"Reconnecting... 1/5"}"#
        ));
        assert!(!is_progress(br#"{"type": "error", "message": "x"}"#));
        assert!(is_progress(br#"{"type":"item.completed","item":{}}"#));
        assert!(is_progress(b"WARNING: something"));
        assert!(!is_progress(b""));
    }

    #[test]
    fn stall_trips_without_progress_and_not_with_it() {
        let mut f = tempfile::NamedTempFile::new().expect("temp");
        let mut dog = Watchdog::new(f.path().to_path_buf(), 1, 0, Agent::Codex);
        dog.last_progress -= Duration::from_secs(2);
        writeln!(f, r#"{{"type":"error","message":"Reconnecting..."}}"#).expect("write");
        let reason = dog.check().unwrap_or_default();
        assert!(
            reason.starts_with("stalled: no progress from codex "),
            "{reason}"
        );
        // The reason names the job's agent, not codex.
        let mut dog = Watchdog::new(f.path().to_path_buf(), 1, 0, Agent::Claude);
        dog.scanned = f.as_file().metadata().expect("meta").len();
        dog.last_progress -= Duration::from_secs(2);
        let reason = dog.check().unwrap_or_default();
        assert!(
            reason.starts_with("stalled: no progress from claude "),
            "{reason}"
        );

        let mut dog = Watchdog::new(f.path().to_path_buf(), 1, 0, Agent::Codex);
        dog.scanned = f.as_file().metadata().expect("meta").len();
        dog.last_progress -= Duration::from_secs(2);
        writeln!(f, r#"{{"type":"turn.started"}}"#).expect("write");
        assert_eq!(dog.check(), None);
    }

    #[test]
    fn max_duration_trips() {
        let f = tempfile::NamedTempFile::new().expect("temp");
        let mut dog = Watchdog::new(f.path().to_path_buf(), 0, 1, Agent::Codex);
        dog.started -= Duration::from_secs(2);
        assert!(dog.check().unwrap_or_default().starts_with("timed_out:"));
        assert!(Watchdog::new(f.path().to_path_buf(), 0, 0, Agent::Codex).is_off());
    }
}
