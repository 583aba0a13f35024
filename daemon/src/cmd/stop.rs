//! `codexd stop`: ask the daemon to exit and wait until it has.

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::bail;
use codex_async_proto::{connect, paths::Paths, v1::ShutdownRequest};

use crate::{cmd, home};

const STOP_TIMEOUT: Duration = Duration::from_secs(20);

pub fn run() -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    let runtime = cmd::client_runtime()?;
    let Some(info) = runtime.block_on(cmd::daemon_info(&paths)) else {
        println!("codexd is not running (socket {})", paths.socket.display());
        return Ok(ExitCode::SUCCESS);
    };
    runtime.block_on(async {
        let mut client = connect(&paths.socket).await?;
        client.shutdown(ShutdownRequest {}).await?;
        anyhow::Ok(())
    })?;
    // Close our connections, so the daemon has none left to wait for.
    drop(runtime);
    let start = Instant::now();
    while home::is_locked(&paths) {
        if start.elapsed() > STOP_TIMEOUT {
            bail!(
                "codexd (pid {}) did not exit within {}s",
                info.pid,
                STOP_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "codexd stopped (pid {}); running jobs continue and are re-adopted at next start",
        info.pid
    );
    Ok(ExitCode::SUCCESS)
}
