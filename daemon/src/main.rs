//! `codexd`: the per-user daemon that runs codex jobs in the background for
//! codex-async. See ARCHITECTURE.md for the map of modules.

use std::{ffi::OsString, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use codex_async_daemon::{
    cmd::{self, install_service::Kind},
    monitor,
};
use codex_async_proto::v1::JobStatus;

/// codexd runs OpenAI codex jobs in the background for Claude Code (through
/// codex-async-shim) and keeps them running across Claude restarts.
///
/// State lives in $CODEX_ASYNC_HOME (default ~/.codex-async); the socket is
/// <home>/codexd.sock unless $CODEX_ASYNC_SOCKET says otherwise; the codex
/// binary is $CODEX_BIN (default `codex` on PATH).
///
/// New here? `codexd doctor` checks the setup and prints the `claude mcp add`
/// line; `codexd jobs`, `show` and `logs -f` watch what codex does.
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
    /// Print the effective settings and where each comes from (default,
    /// <home>/config.toml, or an environment variable).
    Config {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List jobs, newest first: id, status, age, duration, cwd, prompt.
    Jobs {
        /// Only jobs with this status: queued, running, input_required, done, error, cancelled.
        #[arg(long, value_parser = parse_status)]
        status: Option<JobStatus>,
        /// Most jobs to show (1-1000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Everything about one job: its record, codex's final message, the files
    /// it changed, the commands it ran, token usage.
    Show {
        /// The job id (12 hex characters, from `codexd jobs`).
        job_id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print what a job's codex did, one line per event, from the start (-f: follow it live).
    #[command(after_help = cmd::logs::EXIT_STATUS)]
    Logs {
        /// The job id (12 hex characters, from `codexd jobs`).
        job_id: String,
        /// Keep printing as the job writes, until it ends.
        #[arg(short, long)]
        follow: bool,
        /// Print output.txt exactly as codex wrote it (its JSON event lines),
        /// instead of one readable line per event.
        #[arg(long)]
        raw: bool,
        /// Print one JSON object per output chunk (and, with -f, per status change).
        #[arg(long)]
        json: bool,
    },
    /// Answer the question a job's codex asks (approval policy ask; `codexd
    /// jobs` shows such jobs as input_required, `codexd show` the question):
    /// a decision for an approval, --text for codex's own question.
    Answer {
        /// The job id (12 hex characters, from `codexd jobs`).
        job_id: String,
        /// allow (this once), allow_session (this and the same again for the
        /// rest of the job), deny (codex goes on without it), or stop (deny
        /// and end the job).
        #[arg(
            value_parser = clap::builder::PossibleValuesParser::new(
                codex_async_daemon::job::answers::DECISIONS.iter().map(|d| d.name())
            ),
            required_unless_present = "text",
            conflicts_with = "text"
        )]
        decision: Option<String>,
        /// The answer to codex's own question (kind input): an option's label
        /// or your own words; for several questions a JSON object of
        /// question id → answer.
        #[arg(long)]
        text: Option<String>,
        /// The question answered (as `codexd show` names it); without it, the
        /// one pending.
        #[arg(long)]
        question: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send text into a running job's turn: codex reads it at its next step
    /// (a command running now finishes first).
    Steer {
        /// The job id (12 hex characters, from `codexd jobs`).
        job_id: String,
        /// What codex should know or do now.
        text: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Stop a job and every process it started.
    Cancel {
        /// The job id (12 hex characters, from `codexd jobs`).
        job_id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Have codex review code changes in a git repository (read-only): start a
    /// review job, follow it like `logs -f`, then print its result. Without
    /// flags: the uncommitted changes if there are any, else the branch
    /// against its default branch.
    #[command(after_help = cmd::review::EXIT_STATUS)]
    Review {
        /// auto (default), uncommitted, base (with --base) or commit (with --commit).
        #[arg(long)]
        target: Option<String>,
        /// Review the current branch against this branch.
        #[arg(long = "base")]
        base_branch: Option<String>,
        /// Review this one commit.
        #[arg(long)]
        commit: Option<String>,
        /// A title for the commit under review.
        #[arg(long)]
        title: Option<String>,
        /// Custom review instructions, instead of a target.
        #[arg(long)]
        instructions: Option<String>,
        /// Codex model to use.
        #[arg(long)]
        model: Option<String>,
        /// none, minimal, low, medium, high or xhigh.
        #[arg(long)]
        reasoning_effort: Option<String>,
        /// A directory in the repository to review (default: the current one).
        cwd: Option<PathBuf>,
    },
    /// Delete finished jobs (done, error, cancelled) older than an age: their
    /// records and folders. Queued and running jobs are never touched.
    Prune {
        /// Age of the jobs to delete, counted from when they finished: 90s, 30m, 12h, 7d, 2w.
        #[arg(long, default_value = "7d", value_parser = cmd::ui::parse_age)]
        older_than: std::time::Duration,
        /// Only say what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Also delete each pruned worktree job's branch (codex/<job_id>)
        /// when it holds nothing beyond the commit it branched from; a branch
        /// with commits is never deleted.
        #[arg(long)]
        branches: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the setup (codex and its version, daemon, socket, database,
    /// permissions) and print the `claude mcp add` line. Exits 1 if something is wrong.
    Doctor {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// With codexd stopped: move a damaged database aside
    /// (codexd.db.corrupt-<time>) and rebuild every job the database lacks
    /// from its folder. codexd does the same at start, short of a full check.
    Repair {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Install codexd as a service: a systemd user service started by its
    /// socket on first use (Linux), or a launchd agent (macOS).
    InstallService {
        /// Show the files without writing them.
        #[arg(long)]
        print: bool,
        /// Also activate it now (systemctl --user enable --now codexd.socket, or launchctl bootstrap).
        #[arg(long)]
        now: bool,
        /// Service manager (default: this system's).
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove the service files written by install-service (running jobs keep running).
    UninstallService {
        /// Also stop and disable it now (systemctl / launchctl).
        #[arg(long)]
        now: bool,
        /// Service manager (default: this system's).
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Internal: the MCP server an agent asks its permission questions of
    /// (Claude Code's --permission-prompt-tool under policy ask), started by
    /// the agent; it hands each question to the job's monitor.
    #[command(hide = true)]
    AskRelay {
        /// The job's folder, whose monitor holds the questions.
        #[arg(long)]
        job_dir: PathBuf,
    },
    /// Internal: own one job's codex process (started by codexd itself).
    #[command(hide = true)]
    Monitor {
        /// Wait for the job on stdin (one JSON line from codexd) instead.
        #[arg(long, conflicts_with_all = ["job_dir", "argv"])]
        standby: bool,
        #[arg(long, required_unless_present = "standby")]
        job_dir: Option<PathBuf>,
        /// Stop the job after this many seconds without progress (0 = never).
        #[arg(long, default_value_t = 0)]
        stall_timeout: u32,
        /// Stop the job after this many seconds in all (0 = never).
        #[arg(long, default_value_t = 0)]
        max_duration: u32,
        /// Bytes of output to keep (see output_cap.rs).
        #[arg(long, default_value_t = codex_async_daemon::config::DEFAULT_OUTPUT_CAP)]
        output_cap: u64,
        #[arg(last = true, required_unless_present = "standby")]
        argv: Vec<OsString>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // The monitor and start must not create a runtime before forking.
        Command::Monitor {
            standby,
            job_dir,
            stall_timeout,
            max_duration,
            output_cap,
            argv,
        } => {
            let code = match job_dir {
                Some(job_dir) if !standby => monitor::run(monitor::MonitorJob {
                    job_dir,
                    run_dir: None,
                    limits: monitor::Limits {
                        stall_timeout,
                        max_duration,
                        output_cap,
                    },
                    argv,
                    // The direct form runs a command as a review runs
                    // (tests and people); codexd hands every job to a
                    // standby monitor, with its app-server plan.
                    app_server: None,
                    stream: None,
                    env: Vec::new(),
                    agent: Default::default(),
                    questions: None,
                }),
                _ => monitor::run_standby(),
            };
            return ExitCode::from(code as u8);
        }
        Command::AskRelay { job_dir } => {
            let code = codex_async_daemon::engine::serve_ask_relay(&job_dir);
            return ExitCode::from(code as u8);
        }
        Command::Start => cmd::start::run(),
        Command::Serve => cmd::serve::run(),
        Command::Stop => cmd::stop::run(),
        Command::Status { json } => cmd::status::run(json),
        Command::Config { json } => cmd::config::run(json),
        Command::Jobs {
            status,
            limit,
            json,
        } => cmd::jobs::run(limit, status, json),
        Command::Show { job_id, json } => cmd::show::run(&job_id, json),
        Command::Logs {
            job_id,
            follow,
            raw,
            json,
        } => cmd::logs::run(&job_id, follow, raw, json),
        Command::Cancel { job_id, json } => cmd::cancel::run(&job_id, json),
        Command::Answer {
            job_id,
            decision,
            text,
            question,
            json,
        } => cmd::answer::run(&job_id, decision, text, question.as_deref(), json),
        Command::Steer { job_id, text, json } => cmd::steer::run(&job_id, &text, json),
        Command::Prune {
            older_than,
            dry_run,
            branches,
            json,
        } => cmd::prune::run(older_than, dry_run, branches, json),
        Command::Doctor { json } => cmd::doctor::run(json),
        Command::Repair { json } => cmd::repair::run(json),
        Command::Review {
            target,
            base_branch,
            commit,
            title,
            instructions,
            model,
            reasoning_effort,
            cwd,
        } => cmd::review::run(cmd::review::Options {
            target,
            base_branch,
            commit,
            title,
            instructions,
            model,
            reasoning_effort,
            cwd,
        }),
        Command::InstallService {
            print,
            now,
            kind,
            json,
        } => cmd::install_service::install(kind.unwrap_or_else(Kind::native), print, now, json),
        Command::UninstallService { now, kind, json } => {
            cmd::install_service::uninstall(kind.unwrap_or_else(Kind::native), now, json)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("codexd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_status(s: &str) -> Result<JobStatus, String> {
    s.parse()
        .map_err(|e: codex_async_proto::ParseStatusError| e.to_string())
}
