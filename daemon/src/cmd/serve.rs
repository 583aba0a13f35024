//! `codexd serve`: the daemon in the foreground.

use std::process::ExitCode;

use codex_async_proto::paths::Paths;

use crate::{config::Config, server};

pub fn run() -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    crate::logging::init(&paths);
    let config = Config::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(server::serve(paths, config))?;
    Ok(ExitCode::SUCCESS)
}
