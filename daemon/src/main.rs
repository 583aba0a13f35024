//! `codexd`: the per-user daemon that runs codex jobs in the background for
//! codex-async. See ARCHITECTURE.md for the map of modules.

mod cmd;
mod config;
mod db;
mod home;
mod job;
mod jobdir;
mod monitor;
mod output_cap;
mod proctree;
mod repair;
mod retention;
mod server;
mod service;
mod supervisor;
mod tail;
mod validate;
mod watch;

use std::{ffi::OsString, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

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
        /// Bytes of output to keep (see output_cap.rs).
        #[arg(long, default_value_t = config::DEFAULT_OUTPUT_CAP)]
        output_cap: u64,
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
            output_cap,
            argv,
        } => return ExitCode::from(monitor::run(job_dir, output_cap, argv) as u8),
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
