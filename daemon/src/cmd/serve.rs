//! `codexd serve`: the daemon in the foreground.

use std::process::ExitCode;

use codex_async_proto::paths::Paths;

use crate::{api::server, config::Config};

pub fn run() -> anyhow::Result<ExitCode> {
    // Before any thread (the log writer's, the runtime's) allocates.
    crate::sys::few_malloc_arenas();
    let paths = Paths::from_env()?;
    // Settings first: a bad one is reported on stderr before anything starts.
    let config = Config::load(&paths.home)?;
    crate::logging::init(&paths, &config.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let served = runtime.block_on(server::serve(paths, config));
    // Blocking tasks still running (a prune's folder removal, say) must not
    // hold the exit up: their work is either done or redone at next start.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served?;
    Ok(ExitCode::SUCCESS)
}
