//! `codexd start`: detach a daemon and return once it answers.
//!
//! It never waits for nothing: a socket path that cannot work is refused
//! before forking, a daemon already serving the home on another socket is
//! named at once, and a spawned daemon that exits is noticed at once (a pipe
//! it holds open until it exits) with the error it wrote to codexd.log.

use std::{
    fs::{File, OpenOptions},
    io::{self, PipeReader, Read, Seek, SeekFrom, Write},
    os::unix::fs::OpenOptionsExt,
    path::Path,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use codex_async_proto::paths::Paths;
use daemonize::{Daemonize, Outcome};
use nix::fcntl::{fcntl, FcntlArg, OFlag};

use crate::{cmd, store::home};

const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Most bytes of the daemon's last words read back from codexd.log.
const MAX_LOG_READ: u64 = 64 * 1024;

pub fn run() -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    // Checked before detaching, so a bad setting or socket path is reported
    // here and now, not as a daemon that never answers.
    crate::config::Config::load(&paths.home)?;
    paths.check_socket()?;
    home::create(&paths)?;
    // Something listening without the lock is a socket unit (systemd socket
    // activation): connecting starts codexd, so wait for it instead of racing it.
    let listening = std::os::unix::net::UnixStream::connect(&paths.socket).is_ok();
    if listening || home::is_locked(&paths) {
        // Started already (maybe by another shim this instant): wait until it answers.
        return wait_ready(&paths, None);
    }
    let log_path = paths.daemon_log();
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
    let log_err = log.try_clone()?;
    // The daemon writes its pid to this pipe and holds the write end until
    // it exits: EOF on the read end is its exit. Both ends are close-on-exec,
    // so codex and the job monitors never hold it.
    let (exit_pipe, held_by_daemon) = io::pipe().context("creating a pipe")?;
    // Fork before any runtime exists: a forked tokio runtime is unusable.
    let daemon = Daemonize::new()
        .working_directory("/")
        .umask(0o077)
        .stdout(log)
        .stderr(log_err);
    match daemon.execute() {
        Outcome::Parent(Ok(_)) => {
            drop(held_by_daemon);
            fcntl(&exit_pipe, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
                .context("making the pipe non-blocking")?;
            wait_ready(
                &paths,
                Some(Spawned {
                    exit_pipe,
                    said: Vec::new(),
                    log_start,
                }),
            )
        }
        Outcome::Parent(Err(e)) => bail!("cannot detach codexd: {e}"),
        Outcome::Child(Ok(_)) => {
            drop(exit_pipe);
            let mut held_by_daemon = held_by_daemon;
            // Its pid tells `start` whether the lock holder it sees is this
            // daemon (exited, maybe not yet reaped) or one a racing `start` made.
            let _ = writeln!(held_by_daemon, "{}", std::process::id());
            // Kept open until the process is gone, after main has written the
            // error that stopped it to codexd.log: closing it on return from
            // serve would let `start` read the log before that line is there.
            std::mem::forget(held_by_daemon);
            cmd::serve::run()
        }
        Outcome::Child(Err(e)) => bail!("cannot detach codexd: {e}"),
    }
}

/// The daemon this `start` forked.
struct Spawned {
    /// Reads the daemon's pid, then EOF once it has exited.
    exit_pipe: PipeReader,
    /// What it wrote (its pid).
    said: Vec<u8>,
    /// Where codexd.log ended before it started: what follows is its own.
    log_start: u64,
}

impl Spawned {
    /// True once the daemon has exited.
    fn exited(&mut self) -> bool {
        let mut chunk = [0u8; 64];
        loop {
            match self.exit_pipe.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.said.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return e.kind() != io::ErrorKind::WouldBlock,
            }
        }
    }

    /// The daemon's pid, as it wrote it.
    fn pid(&self) -> String {
        String::from_utf8_lossy(&self.said).trim().to_string()
    }
}

fn wait_ready(paths: &Paths, mut spawned: Option<Spawned>) -> anyhow::Result<ExitCode> {
    let what = if spawned.is_some() {
        "started"
    } else {
        "already running"
    };
    let runtime = cmd::client_runtime()?;
    let start = Instant::now();
    loop {
        if let Some(info) = runtime.block_on(cmd::daemon_info(paths)) {
            println!(
                "codexd {what} (pid {}, version {}, socket {})",
                info.pid,
                info.version,
                paths.socket.display()
            );
            // The daemon this command started is this version; one that was
            // already running may be an older install.
            if spawned.is_none() {
                if let Some(note) = cmd::version_note(&info.version) {
                    eprintln!("codexd: warning: {note}");
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        let holder = home::holder(paths);
        if let Some(home::LockHolder {
            pid,
            socket: Some(theirs),
        }) = &holder
        {
            if *theirs != paths.socket {
                bail!(
                    "codexd (pid {pid}) already serves {} on another socket, {}; this codexd uses {}. \
                     Use that daemon: set CODEX_ASYNC_SOCKET={} (as it was started with); or stop \
                     it: `CODEX_ASYNC_SOCKET={} codexd stop`",
                    paths.home.display(),
                    theirs.display(),
                    paths.socket.display(),
                    theirs.display(),
                    theirs.display(),
                );
            }
        }
        if let Some(child) = spawned.as_mut() {
            if child.exited() {
                // A holder that is this daemon is one that has exited but
                // may not be reaped yet (a zombie still answers kill 0).
                if holder.as_ref().is_none_or(|h| h.pid == child.pid()) {
                    bail!(
                        "the codexd it started exited at once: {}",
                        exit_reason(paths, child.log_start)
                    );
                }
                // It lost the lock to a daemon another `start` spawned this
                // instant, which holds the home now: wait for that one.
                spawned = None;
            }
        }
        if start.elapsed() > READY_TIMEOUT {
            let who = holder
                .filter(|h| !h.pid.is_empty())
                .map(|h| format!(" (pid {})", h.pid))
                .unwrap_or_default();
            bail!(
                "codexd{who} did not answer on {} within {}s; see {}",
                paths.socket.display(),
                READY_TIMEOUT.as_secs(),
                paths.daemon_log().display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a daemon that exited wrote about why, from codexd.log past `from`.
fn exit_reason(paths: &Paths, from: u64) -> String {
    let log = paths.daemon_log();
    let written = read_from(&log, from).unwrap_or_default();
    match last_words(&written) {
        Some(reason) => format!("{reason} (see {})", log.display()),
        None => format!("it wrote no error; see {}", log.display()),
    }
}

fn read_from(path: &Path, from: u64) -> io::Result<String> {
    let mut file = File::open(path)?;
    let end = file.metadata()?.len();
    file.seek(SeekFrom::Start(from.max(end.saturating_sub(MAX_LOG_READ))))?;
    let mut bytes = Vec::new();
    file.take(MAX_LOG_READ).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The error that stopped a daemon: main writes it last, as `codexd: …`
/// (the lines after it belong to it); a panic's message otherwise.
fn last_words(written: &str) -> Option<String> {
    let lines: Vec<&str> = written.lines().collect();
    let at = lines
        .iter()
        .rposition(|l| l.starts_with("codexd: ") || l.contains("panicked at"))?;
    let first = lines[at].strip_prefix("codexd: ").unwrap_or(lines[at]);
    let rest = lines[at + 1..]
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty());
    Some(
        std::iter::once(first.trim())
            .chain(rest)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_words_are_mains_error_after_the_log_lines() {
        let log = "2026-01-01T00:00:00Z  INFO codex_async_daemon::api::server: settings\n\
                   codexd: logging to stderr only: cannot use /h/logs: denied\n\
                   codexd: opening /h/codexd.db: unable to open database file\n";
        assert_eq!(
            last_words(log).as_deref(),
            Some("opening /h/codexd.db: unable to open database file")
        );
        assert_eq!(last_words("2026-01-01T00:00:00Z  INFO settings\n"), None);
        let panic = "thread 'main' panicked at daemon/src/x.rs:1:1:\nboom\n";
        assert_eq!(
            last_words(panic).as_deref(),
            Some("thread 'main' panicked at daemon/src/x.rs:1:1: boom")
        );
    }
}
