//! `codexd serve`: the daemon in the foreground.

use std::process::ExitCode;

use codex_async_proto::paths::Paths;
use tracing_subscriber::EnvFilter;

use crate::{config::Config, server};

pub fn run() -> anyhow::Result<ExitCode> {
    init_logging();
    let paths = Paths::from_env()?;
    let config = Config::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(server::serve(paths, config))?;
    Ok(ExitCode::SUCCESS)
}

/// Logs to stderr (journald, launchd's log file, or codexd.log when detached);
/// level from RUST_LOG, default info.
fn init_logging() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("codexd=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
