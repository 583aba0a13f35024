//! `codexd serve`: the daemon in the foreground.

use std::process::ExitCode;

use codex_async_proto::paths::Paths;

use crate::{config::Config, server};

pub fn run() -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    // Settings first: a bad one is reported on stderr before anything starts.
    let config = Config::load(&paths.home)?;
    crate::logging::init(&paths, &config.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(server::serve(paths, config))?;
    Ok(ExitCode::SUCCESS)
}
