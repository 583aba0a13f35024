//! `codexd`: the per-user daemon that runs codex jobs in the background for
//! codex-async. See ARCHITECTURE.md for the map of modules.

use std::{ffi::OsString, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use codex_async_daemon::{cmd, monitor};

/// codexd runs OpenAI codex jobs in the background for Claude Code (through
/// codex-async-shim) and keeps them running across Claude restarts.
///
/// State lives in $CODEX_ASYNC_HOME (default ~/.codex-async); the socket is
/// <home>/codexd.sock unless $CODEX_ASYNC_SOCKET says otherwise; the codex
/// binary is $CODEX_BIN (default `codex` on PATH).
#[derive(Parser)]
#[command(name = "codexd", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run in the foreground (what a systemd or launchd service runs).
    Serve,
    /// Start in the background and return once it answers on its socket.
    Start,
    /// Ask the running daemon to exit (running jobs keep running).
    Stop,
    /// Say whether the daemon runs: pid, version, socket, job counts.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Internal: own one job's codex process (started by codexd itself).
    #[command(hide = true)]
    Monitor {
        #[arg(long)]
        job_dir: PathBuf,
        /// Stop the job after this many seconds without progress (0 = never).
        #[arg(long, default_value_t = 0)]
        stall_timeout: u32,
        /// Stop the job after this many seconds in all (0 = never).
        #[arg(long, default_value_t = 0)]
        max_duration: u32,
        #[arg(last = true, required = true)]
        argv: Vec<OsString>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // The monitor and start must not create a runtime before forking.
        Command::Monitor {
            job_dir,
            stall_timeout,
            max_duration,
            argv,
        } => {
            return ExitCode::from(monitor::run(job_dir, (stall_timeout, max_duration), argv) as u8)
        }
        Command::Start => cmd::start::run(),
        Command::Serve => cmd::serve::run(),
        Command::Stop => cmd::stop::run(),
        Command::Status { json } => cmd::status::run(json),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("codexd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
