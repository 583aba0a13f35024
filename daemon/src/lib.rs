//! codexd's library: everything the `codexd` binary runs, as modules, so the
//! fuzz targets and benchmarks can reach the parsers and validators directly.
//!
//! # Layout
//!
//! From the edge inwards (ARCHITECTURE.md has the one-page map):
//!
//! - [`cmd`]: the `codexd` subcommands, one file per command.
//! - [`api`]: the gRPC service on the Unix socket, request checks, watch.
//! - [`supervisor`]: jobs' life: start, schedule, hand to a monitor, follow,
//!   answer, steer, cancel, end, reconcile after a restart.
//! - [`monitor`]: the per-job process that runs the agent and writes its end;
//!   [`watchdog`] is its stall and duration clock.
//! - [`engine`]: the agents (codex, Gemini CLI, Claude Code): command lines,
//!   protocols and streams turned into codexd's events, approvals, versions,
//!   logins. The layers above name no agent but through [`engine::Agent`].
//! - [`output`]: events rendered for models and people, tails, the cap.
//! - [`store`]: SQLite, job folders, the home, rebuild, repair, prune.
//! - [`job`], [`config`], [`worktree`], [`logging`], [`service_files`]: the
//!   job record, the settings, git worktrees, logs, service unit files.
//! - [`sys`]: process trees, PATH lookups, resource exhaustion.

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
