//! `codexd stop`: ask the daemon to exit and wait until it has. A daemon that
//! does not answer on its socket (its file removed, say) is found by the
//! home's lock instead, checked, and sent SIGTERM, which stops it the same way.

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use codex_async_proto::{connect, paths::Paths, v1::ShutdownRequest};
use nix::sys::signal::{kill, Signal};

use crate::{cmd, store::home, sys::proctree};

const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a home that is locked may go without a lock file naming its
/// daemon: a running codexd makes a removed one again within a second.
const LOCK_FILE_WAIT: Duration = Duration::from_secs(5);

pub fn run() -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    let runtime = cmd::client_runtime()?;
    let Some(info) = runtime.block_on(cmd::daemon_info(&paths)) else {
        drop(runtime);
        return stop_unreachable(&paths);
    };
    let start_time = proctree::start_time(info.pid);
    runtime.block_on(async {
        let mut client = connect(&paths.socket).await?;
        client.shutdown(ShutdownRequest {}).await?;
        anyhow::Ok(())
    })?;
    // Close our connections, so the daemon has none left to wait for.
    drop(runtime);
    wait_gone(&paths, info.pid, start_time)?;
    println!(
        "codexd stopped (pid {}); running jobs continue and are re-adopted at next start",
        info.pid
    );
    Ok(ExitCode::SUCCESS)
}

/// Nothing answers on the socket: stops the daemon that holds the home's
/// lock, if one does, by SIGTERM.
fn stop_unreachable(paths: &Paths) -> anyhow::Result<ExitCode> {
    let Some(daemon) = find_by_lock(paths) else {
        println!("codexd is not running (socket {})", paths.socket.display());
        return Ok(ExitCode::SUCCESS);
    };
    kill(nix::unistd::Pid::from_raw(daemon.pid), Signal::SIGTERM)
        .with_context(|| format!("sending SIGTERM to codexd (pid {})", daemon.pid))?;
    wait_gone(paths, daemon.pid, daemon.start_time)?;
    println!(
        "codexd stopped (pid {}; it did not answer on {}, so it was sent SIGTERM); \
         running jobs continue and are re-adopted at next start",
        daemon.pid,
        paths.socket.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The daemon holding the home's lock ([`home::running`]), waiting a moment
/// for its lock file when the home is locked but the file names nobody
/// (removed, and not yet made again).
pub(crate) fn find_by_lock(paths: &Paths) -> Option<home::Running> {
    let start = Instant::now();
    loop {
        if let Some(found) = home::running(paths) {
            return Some(found);
        }
        if !home::is_locked(paths) || start.elapsed() > LOCK_FILE_WAIT {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the daemon (`pid` with `start_time`) has exited and the
/// home's lock is free.
fn wait_gone(paths: &Paths, pid: i32, start_time: Option<i64>) -> anyhow::Result<()> {
    let start = Instant::now();
    while proctree::is_same_process_alive(pid, start_time) || home::is_locked(paths) {
        if start.elapsed() > STOP_TIMEOUT {
            bail!(
                "codexd (pid {pid}) did not exit within {}s",
                STOP_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
