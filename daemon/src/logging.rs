//! Where `codexd serve` logs: stderr (journald, launchd's log file, or
//! codexd.log when detached by `codexd start`) and, when the home allows,
//! `<home>/logs/codexd.log.<YYYY-MM-DD>`, a new file each day and at most
//! [`KEEP_FILES`] kept. The level comes from `RUST_LOG` (default `info`).

use std::{
    fs,
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::PathBuf,
};

use codex_async_proto::paths::Paths;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

/// Daily files kept: a week of history, bounded whatever the volume per day.
pub const KEEP_FILES: usize = 7;
/// Log file names are `<PREFIX>.<date>`.
pub const FILE_PREFIX: &str = "codexd.log";

/// The folder of the daily log files.
pub fn log_dir(paths: &Paths) -> PathBuf {
    paths.home.join("logs")
}

/// Installs the global subscriber. Returns the log folder, or None when only
/// stderr is used (the folder could not be made; said on stderr, not fatal:
/// a daemon that cannot write its log file still runs jobs).
pub fn init(paths: &Paths, default_level: &str) -> Option<PathBuf> {
    // Not `codexd=info`: the daemon's code lives in the library crate, whose
    // targets are `codex_async_daemon::…`.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let dir = log_dir(paths);
    // The home's own checks (owner, mode, no symlink) come before anything is
    // created in it; when they fail, serve reports why right after.
    let file = match crate::home::create(paths)
        .map_err(|e| e.to_string())
        .and_then(|()| appender(&dir))
    {
        Ok(appender) => Some(
            tracing_subscriber::fmt::layer()
                .with_writer(appender)
                .with_ansi(false)
                .boxed(),
        ),
        Err(e) => {
            eprintln!(
                "codexd: logging to stderr only: cannot use {}: {e}",
                dir.display()
            );
            None
        }
    };
    let logs_to_file = file.is_some();
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .try_init();
    logs_to_file.then_some(dir)
}

fn appender(dir: &PathBuf) -> Result<RollingFileAppender, String> {
    // Owner-only like the rest of the home: log lines name folders and jobs.
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|()| fs::set_permissions(dir, fs::Permissions::from_mode(0o700)))
        .map_err(|e| e.to_string())?;
    // A blocking writer: a few lines per job, and no line is ever dropped
    // (the non-blocking one drops lines when its buffer is full).
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(FILE_PREFIX)
        .max_log_files(KEEP_FILES)
        .build(dir)
        .map_err(|e| e.to_string())
}
