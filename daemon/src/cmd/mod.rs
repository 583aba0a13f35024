//! One module per `codexd` subcommand.

pub mod answer;
pub mod cancel;
pub mod config;
pub mod doctor;
pub mod install_service;
pub mod jobs;
pub mod logs;
pub mod prune;
pub mod repair;
pub mod review;
pub mod serve;
pub mod show;
pub mod start;
pub mod status;
pub mod steer;
pub mod stop;
pub mod ui;

use codex_async_proto::{connect, paths::Paths, v1::InfoRequest, v1::InfoResponse};

/// A runtime for the short client commands (one thread is plenty).
pub fn client_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The running daemon's info, or None when nothing answers on the socket.
pub async fn daemon_info(paths: &Paths) -> Option<InfoResponse> {
    let mut client = connect(&paths.socket).await.ok()?;
    client
        .info(InfoRequest {})
        .await
        .ok()
        .map(|r| r.into_inner())
}

/// This codexd's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Test-only: when set, a daemon reports this version in Info instead of its
/// own, so tests can show what clients say about a daemon of another version
/// without building two. Never set it outside tests.
pub const TEST_VERSION_OVERRIDE_ENV: &str = "CODEX_ASYNC_TEST_VERSION_OVERRIDE";

/// The version a serving daemon reports (its own, unless a test overrides it).
pub fn served_version() -> String {
    std::env::var(TEST_VERSION_OVERRIDE_ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| VERSION.to_string())
}

/// What to say when the running daemon is `running` and this codexd another
/// version; None when they are the same.
pub fn version_note(running: &str) -> Option<String> {
    (running != VERSION).then(|| {
        format!(
            "codexd {running} is running, this is {VERSION}: restart it with \
             `codexd stop && codexd start` (running jobs keep running)"
        )
    })
}
