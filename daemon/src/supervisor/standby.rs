//! The standby monitor: one `codexd monitor --standby` kept started ahead of
//! time, so a Start hands it a job instead of waiting for a new process to
//! load (the exec of codexd and its runtime set-up were most of a Start's
//! latency; see BENCHMARKS.md, figure 2).
//!
//! The standby waits for one JSON line on its stdin (monitor.rs). It holds
//! nothing of a job until then, and exits when codexd does (its stdin closes),
//! so an unused one leaves nothing behind.

use std::{io, path::Path, process::Stdio, sync::Mutex};

use tokio::{
    io::AsyncWriteExt,
    process::{Child, Command},
};
use tracing::warn;

use crate::monitor::MonitorJob;

/// At most one idle monitor, ready for the next job.
#[derive(Default)]
pub(super) struct Standby {
    spare: Mutex<Option<Child>>,
}

impl Standby {
    /// Starts a spare if there is none (after a job took the last one).
    pub(super) fn refill(&self, exe: &Path) {
        let mut spare = self.lock();
        if spare.as_mut().is_some_and(is_alive) {
            return;
        }
        match spawn(exe) {
            Ok(child) => *spare = Some(child),
            Err(e) => warn!(error = %e, "cannot start a standby job monitor"),
        }
    }

    /// Hands `job` to the spare, or to a monitor started now if the spare is
    /// gone or busy; returns that monitor, which then reports on its stdout.
    pub(super) async fn hand_over(&self, exe: &Path, job: &MonitorJob) -> io::Result<Child> {
        let spare = self.lock().take();
        let mut line = serde_json::to_vec(job).map_err(io::Error::other)?;
        line.push(b'\n');
        if let Some(mut spare) = spare {
            if is_alive(&mut spare) && send(&mut spare, &line).await.is_ok() {
                return Ok(spare);
            }
            // It died (killed from outside): start one the slow way.
            let _ = spare.start_kill();
        }
        let mut fresh = spawn(exe)?;
        send(&mut fresh, &line).await?;
        Ok(fresh)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.spare
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn spawn(exe: &Path) -> io::Result<Child> {
    let mut cmd = Command::new(exe);
    cmd.arg("monitor")
        .arg("--standby")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // Until it has a job it has nothing to say; then it opens the job's
        // monitor.log as its stderr.
        .stderr(Stdio::null())
        .kill_on_drop(false);
    // No pre_exec: the monitor calls setsid itself, so the standard library
    // can posix_spawn it instead of forking this multi-threaded daemon.
    cmd.spawn()
}

fn is_alive(child: &mut Child) -> bool {
    matches!(child.try_wait(), Ok(None))
}

/// Writes the job line and closes the pipe (the monitor reads one line).
async fn send(child: &mut Child, line: &[u8]) -> io::Result<()> {
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("the monitor's stdin was already used"))?;
    stdin.write_all(line).await?;
    stdin.flush().await
}
