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

use std::{ffi::OsString, process::ExitCode};

use anyhow::Context as _;
use codex_async_proto::paths::Paths;
use rmcp::{transport::io::stdio_pipes, ServiceExt};
use tracing::Level;
use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt};

use codex_async_shim::{
    daemon_link::DaemonLink, tools::CodexAsyncServer, transport::LineTransport,
};

const HELP: &str = "\
MCP stdio server for codex-async: exposes codex_start, codex_poll, codex_wait,
codex_result, codex_reply, codex_list and codex_cancel, forwarded to the codexd
daemon.

Register it with `claude mcp add codex-async -- codex-async-shim`. It starts
codexd on first use if none runs ($CODEX_ASYNC_CODEXD, else the codexd beside
this binary, else codexd on PATH). Environment: CODEX_ASYNC_HOME (state folder,
default ~/.codex-async), CODEX_ASYNC_SOCKET, RUST_LOG (logs on stderr, default
warn).

Usage: codex-async-shim

Options:
  -h, --help     Print help
  -V, --version  Print version
";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Asked {
    Serve,
    Help,
    Version,
}

/// Reads the command line: no arguments, `--help` or `--version`.
///
/// Hand-written rather than clap: with nothing to parse but these two flags,
/// clap's ~0.2 MiB of code was pages every Claude session's shim maps at start
/// (BENCHMARKS 6b).
fn parse_args(mut args: impl Iterator<Item = OsString>) -> Result<Asked, String> {
    let asked = match args.next() {
        None => return Ok(Asked::Serve),
        Some(arg) => match arg.to_str() {
            Some("-h" | "--help") => Asked::Help,
            Some("-V" | "--version") => Asked::Version,
            _ => {
                return Err(format!(
                    "unexpected argument {:?}: codex-async-shim takes no arguments \
                     (an MCP client launches it: `claude mcp add codex-async -- codex-async-shim`); \
                     see --help",
                    arg.to_string_lossy()
                ))
            }
        },
    };
    match args.next() {
        None => Ok(asked),
        Some(extra) => Err(format!(
            "unexpected argument {:?}: give --help or --version alone",
            extra.to_string_lossy()
        )),
    }
}

fn main() -> ExitCode {
    match parse_args(std::env::args_os().skip(1)) {
        Ok(Asked::Serve) => {}
        Ok(Asked::Help) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Asked::Version) => {
            println!("codex-async-shim {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("codex-async-shim: {error}");
            // clap's code for a usage error, which scripts may already test.
            return ExitCode::from(2);
        }
    }
    init_logging();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("codex-async-shim: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `warn`): levels per target
/// (`warn,codex_async_shim=debug`). `Targets` rather than `EnvFilter`, whose
/// span and field filters bring a regex engine into the shim's pages; a
/// `RUST_LOG` it cannot read falls back to `warn`.
fn init_logging() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::WARN));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Asked, String> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn the_command_line_is_empty_help_or_version() {
        assert_eq!(parse(&[]), Ok(Asked::Serve));
        assert_eq!(parse(&["--help"]), Ok(Asked::Help));
        assert_eq!(parse(&["-h"]), Ok(Asked::Help));
        assert_eq!(parse(&["--version"]), Ok(Asked::Version));
        assert_eq!(parse(&["-V"]), Ok(Asked::Version));
    }

    #[test]
    fn anything_else_is_refused_by_name() {
        let error = parse(&["--port"]).unwrap_err();
        assert!(
            error.contains("\"--port\"") && error.contains("takes no arguments"),
            "{error}"
        );
        let error = parse(&["--version", "x"]).unwrap_err();
        assert!(
            error.contains("\"x\"") && error.contains("alone"),
            "{error}"
        );
    }
}
