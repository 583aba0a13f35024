//! `codexd start`: detach a daemon and return once it answers.

use std::{
    fs::OpenOptions,
    os::unix::fs::OpenOptionsExt,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use codex_async_proto::paths::Paths;
use daemonize::{Daemonize, Outcome};

use crate::{cmd, home};

const READY_TIMEOUT: Duration = Duration::from_secs(20);

pub fn run() -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    // Checked before detaching, so a bad setting is reported here and now,
    // not as a daemon that never answers.
    crate::config::Config::load(&paths.home)?;
    home::create(&paths)?;
    // Something listening without the lock is a socket unit (systemd socket
    // activation): connecting starts codexd, so wait for it instead of racing it.
    let listening = std::os::unix::net::UnixStream::connect(&paths.socket).is_ok();
    if listening || home::is_locked(&paths) {
        // Started already (maybe by another shim this instant): wait until it answers.
        return wait_ready(&paths, "already running");
    }
    let log_path = paths.daemon_log();
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let log_err = log.try_clone()?;
    // Fork before any runtime exists: a forked tokio runtime is unusable.
    let daemon = Daemonize::new()
        .working_directory("/")
        .umask(0o077)
        .stdout(log)
        .stderr(log_err);
    match daemon.execute() {
        Outcome::Parent(Ok(_)) => wait_ready(&paths, "started"),
        Outcome::Parent(Err(e)) => bail!("cannot detach codexd: {e}"),
        Outcome::Child(Ok(_)) => cmd::serve::run(),
        Outcome::Child(Err(e)) => bail!("cannot detach codexd: {e}"),
    }
}

fn wait_ready(paths: &Paths, what: &str) -> anyhow::Result<ExitCode> {
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
            return Ok(ExitCode::SUCCESS);
        }
        if start.elapsed() > READY_TIMEOUT {
            bail!(
                "codexd did not answer on {} within {}s; see {}",
                paths.socket.display(),
                READY_TIMEOUT.as_secs(),
                paths.daemon_log().display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
