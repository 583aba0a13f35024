//! codex's engine: everything codex-async knows about the codex CLI itself:
//! its command lines ([`command`]: app-server, and exec review with its
//! flags), its app-server protocol ([`app_server`], whose notifications are
//! translated into codexd's events, `crate::job::events`, the format of
//! codex's own `--json` stream) and the monitor's session in it
//! ([`session`]), review targets against a repository ([`review_target`]),
//! which codex releases have which of them ([`version`]), what a job says
//! when the app-server never reached its turn ([`startup`]), and where its
//! credentials come from ([`auth`]). The core reaches these only through
//! `engine/mod.rs`.

pub mod app_server;
pub mod auth;
pub mod command;
pub mod review_target;
pub mod session;
pub mod startup;
pub mod version;

use crate::job::{JobRecord, Kind};

/// Lines codex prints that tell a reader nothing about the job: stderr
/// warnings about codex's own set-up, matched by their start.
const SETUP_CHATTER: &[&str] = &[
    // CODEX_HOME under the temp folder; harmless (FIELD-NOTES).
    "WARNING: proceeding, even though we could not create PATH aliases",
];

/// Whether a line codex printed on stderr is its talk about its own set-up
/// (`engine::is_setup_chatter`).
pub fn is_setup_chatter(line: &str) -> bool {
    SETUP_CHATTER.iter().any(|prefix| line.starts_with(prefix))
}

/// Which of codex's front ends runs a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `codex app-server` driven by the monitor (app_server.rs): every task
    /// and reply, whatever its policy (only it can ask a person).
    AppServer,
    /// `codex exec review --json`: reviews, because the app-server's
    /// `review/start` takes no output schema, model or effort (ARCHITECTURE.md,
    /// "Why reviews stay on exec").
    Exec,
}

/// The engine for a job.
pub fn engine(job: &JobRecord) -> Engine {
    match job.kind() {
        Kind::Review(_) => Engine::Exec,
        Kind::Task | Kind::Reply { .. } => Engine::AppServer,
    }
}
