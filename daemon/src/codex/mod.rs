//! Everything codex-async knows about the codex CLI itself: its command lines
//! ([`command`]: exec, resume, review and their flags) and its `--json` event
//! stream ([`events`]), and which codex releases have which of them
//! ([`version`]). Jobs, replies, reviews and structured answers reuse these
//! instead of each building their own.

pub mod answer;
pub mod app_server;
pub mod approval;
pub mod command;
pub mod events;
pub mod review;
pub mod version;

use crate::job::{JobRecord, Kind, Policy};

/// Which of codex's front ends runs a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `codex exec --json` (command.rs).
    Exec,
    /// `codex app-server` driven by the monitor (app_server.rs): the one
    /// that can ask a person, so every job with policy `ask`.
    AppServer,
}

/// The engine for a job.
pub fn engine(job: &JobRecord) -> Engine {
    match (job.approval_policy, job.kind()) {
        (Policy::Ask, Kind::Task | Kind::Reply { .. }) => Engine::AppServer,
        _ => Engine::Exec,
    }
}
