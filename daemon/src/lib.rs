//! codexd's library: everything the `codexd` binary runs, as modules, so the
//! fuzz targets and benchmarks can reach the parsers and validators directly.
//!
//! # Layout
//!
//! By layer, from the edge inwards (ARCHITECTURE.md has the one-page map):
//!
//! - Edge: [`cmd`], the `codexd` subcommands, one file per command;
//!   [`config`], [`logging`], [`service_files`].
//! - API: [`api`], the gRPC service on the Unix socket, request checks, watch.
//! - Jobs' life: [`supervisor`] (start, schedule, hand to a monitor, follow,
//!   answer, steer, cancel, end, reconcile after a restart); [`monitor`], the
//!   per-job process that runs the agent and writes its end, with
//!   [`watchdog`], its stall and duration clock; [`worktree`], git worktrees.
//! - The job: [`job`], the job record and what every engine produces in
//!   codexd's own terms: events and their summary ([`job::events`]), the
//!   answers to its questions ([`job::answers`]), review targets, structured
//!   answers.
//! - Output and store: [`output`] (events rendered for models and people,
//!   tails, the cap); [`store`] (SQLite, job folders, the home, rebuild,
//!   repair, prune).
//! - Agents: [`engine`], the seam. Each agent is a folder or file under it
//!   (`engine/{codex,gemini,claude}`): command lines, protocols and streams
//!   turned into codexd's events, approvals, versions, logins.
//!   `engine/mod.rs` dispatches on [`engine::Agent`]; everything above names
//!   no agent but through it (daemon/tests/seam.rs checks), so adding an
//!   agent is one folder plus its lines in `engine/mod.rs` and
//!   `engine/agent.rs`. Only the edge's codex-only commands (`codexd
//!   review`, doctor's codex checks) name codex.
//! - System: [`sys`], process trees, PATH lookups, resource exhaustion.

pub mod api;
pub mod cmd;
pub mod config;
pub mod engine;
pub mod job;
pub mod logging;
pub mod monitor;
pub mod output;
pub mod service_files;
pub mod store;
pub mod supervisor;
pub mod sys;
pub mod watchdog;
pub mod worktree;
