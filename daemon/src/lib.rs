//! codexd's library: everything the `codexd` binary runs, as modules, so the
//! fuzz targets and benchmarks can reach the parsers and validators directly.
//! See ARCHITECTURE.md for the map of modules.

pub mod activation;
pub mod cmd;
pub mod codex;
pub mod config;
pub mod db;
pub mod engine;
pub mod fit;
pub mod home;
pub mod job;
pub mod jobdir;
pub mod lines;
pub mod logging;
pub mod monitor;
pub mod output_cap;
pub mod pending;
pub mod proctree;
pub mod program;
pub mod prune;
pub mod rebuild;
pub mod render;
pub mod render_cache;
pub mod repair;
pub mod resource;
pub mod retention;
pub mod server;
pub mod service;
pub mod service_files;
pub mod supervisor;
pub mod tail;
pub mod validate;
pub mod watch;
pub mod watchdog;
pub mod worktree;
