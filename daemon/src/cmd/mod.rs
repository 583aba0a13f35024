//! One module per `codexd` subcommand.

pub mod cancel;
pub mod config;
pub mod doctor;
pub mod install_service;
pub mod jobs;
pub mod logs;
pub mod prune;
pub mod serve;
pub mod show;
pub mod start;
pub mod status;
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
