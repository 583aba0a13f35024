//! codex-async-shim: the MCP stdio server Claude Code launches
//! (`claude mcp add codex-async -- codex-async-shim`).
//!
//! It is deliberately tiny and stateless: seven tools, each forwarded to the
//! per-user daemon `codexd` over its Unix socket and answered at once (only
//! `codex_wait` waits, at most 50 s and with progress notifications), so no
//! tool call ever runs into an MCP timeout and jobs outlive the shim. The
//! daemon is connected on the first tool call and started if none runs.
//!
//! stdout is the MCP protocol: logs go to stderr only (`RUST_LOG`, default
//! `warn`), and no child process ever inherits stdout.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use codex_async_proto::paths::Paths;
use rmcp::{transport::io::stdio_pipes, ServiceExt};
use tracing_subscriber::EnvFilter;

use codex_async_shim::{
    daemon_link::DaemonLink, tools::CodexAsyncServer, transport::LineTransport,
};

/// MCP stdio server for codex-async: exposes codex_start, codex_poll,
/// codex_wait, codex_result, codex_reply, codex_list and codex_cancel,
/// forwarded to the codexd daemon.
///
/// Register it with `claude mcp add codex-async -- codex-async-shim`. It
/// starts `codexd` on first use if none runs ($CODEX_ASYNC_CODEXD, else the
/// codexd beside this binary, else codexd on PATH). Environment:
/// CODEX_ASYNC_HOME (state folder, default ~/.codex-async), CODEX_ASYNC_SOCKET,
/// RUST_LOG (logs on stderr, default warn).
#[derive(Debug, Parser)]
#[command(name = "codex-async-shim", version)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    init_logging();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("codex-async-shim: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `warn`).
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

/// Serves MCP on stdin/stdout until the client closes stdin.
///
/// A current-thread runtime: the shim handles one client and forwards small
/// calls, so worker threads would only cost start-up time and memory.
fn run() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot create the async runtime")?;
    runtime.block_on(async {
        // A bad environment is reported by each tool call, not by refusing to
        // start: the client then shows the reason to the model and the user.
        let paths = Paths::from_env().map_err(|e| e.to_string());
        let server = CodexAsyncServer::new(DaemonLink::new(paths));
        // Non-blocking pipes when stdin/stdout are FIFOs (as MCP clients
        // launch servers), so no blocking threads hand messages around.
        let (stdin, stdout) = stdio_pipes();
        let service = server
            .serve(LineTransport::new(stdin, stdout))
            .await
            .context("MCP initialization failed")?;
        service.waiting().await.context("MCP service failed")?;
        anyhow::Ok(())
    })
}
