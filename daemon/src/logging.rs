//! Where `codexd serve` logs: stderr (journald, launchd's log file, or
//! codexd.log when detached by `codexd start`) and, when the home allows,
//! `<home>/logs/codexd.log.<YYYY-MM-DD>`, a new file each day and at most
//! [`KEEP_FILES`] kept. The filter is the `log_level` setting (`RUST_LOG`,
//! else config.toml, else `info`), checked by [`filter`] when the settings load.

use std::{
    fs,
    io::{self, Write},
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use codex_async_proto::paths::Paths;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::{
    fmt::MakeWriter, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer,
};

/// Daily files kept: a week of history, bounded whatever the volume per day.
pub const KEEP_FILES: usize = 7;
/// Log file names are `<PREFIX>.<date>`.
pub const FILE_PREFIX: &str = "codexd.log";

/// The folder of the daily log files.
pub fn log_dir(paths: &Paths) -> PathBuf {
    paths.home.join("logs")
}

/// Levels a bare word of a filter may be.
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// The log filter `spec` describes (`info`, `info,codex_async_daemon=debug`),
/// or why it is not one. The settings check `log_level` and `RUST_LOG` with
/// this, and [`init`] installs what it returns, so what is accepted is what runs.
///
/// Stricter than `EnvFilter` in one way: a bare word must be a level. EnvFilter
/// reads any other bare word (`verbose`, `loud`) as a target, which silently
/// turns off every line codexd writes; a target is given with its level
/// (`hyper=debug`).
pub fn filter(spec: &str) -> Result<EnvFilter, String> {
    if spec.trim().is_empty() {
        return Err("it is empty".into());
    }
    for directive in spec.split(',').map(str::trim) {
        let bare = !directive.contains(['=', '[', ':']);
        if bare
            && !directive.is_empty()
            && !LEVELS.contains(&directive.to_ascii_lowercase().as_str())
        {
            return Err(format!("{directive:?} is not a level"));
        }
    }
    EnvFilter::try_new(spec).map_err(|e| e.to_string())
}

/// Installs the global subscriber with the `log_level` setting. Returns the
/// log folder, or None when only stderr is used (the folder could not be made;
/// said on stderr, not fatal: a daemon that cannot write its log file still
/// runs jobs).
pub fn init(paths: &Paths, log_level: &str) -> Option<PathBuf> {
    // Not `codexd=info`: the daemon's code lives in the library crate, whose
    // targets are `codex_async_daemon::…`. The settings were checked with the
    // same function, so the fallback is only for a caller that skipped them.
    let filter = filter(log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(WholeLines::new(std::io::stderr))
        .with_ansi(false);
    let dir = log_dir(paths);
    // The home's own checks (owner, mode, no symlink) come before anything is
    // created in it; when they fail, serve reports why right after.
    let file = match crate::store::home::create(paths)
        .map_err(|e| e.to_string())
        .and_then(|()| appender(&dir))
    {
        Ok(appender) => Some(
            tracing_subscriber::fmt::layer()
                .with_writer(WholeLines::new(appender))
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

/// A log writer that keeps lines apart when writes fail. tracing's fmt layer
/// writes each event as one buffer; on a full disk that write can stop
/// halfway, and the next event would then continue the torn line. After a
/// failed write the next one starts on a new line, so a torn line stays alone
/// and the lines after it parse. A failed write is dropped, never fatal (unlike
/// `eprintln!`, which panics when stderr is a file on a full disk).
pub struct WholeLines<M> {
    inner: M,
    torn: Arc<AtomicBool>,
}

impl<M> WholeLines<M> {
    /// Wraps a writer factory.
    pub fn new(inner: M) -> Self {
        Self {
            inner,
            torn: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for WholeLines<M> {
    type Writer = WholeLinesWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        WholeLinesWriter {
            inner: self.inner.make_writer(),
            torn: Arc::clone(&self.torn),
        }
    }
}

/// One event's writer, from [`WholeLines`].
pub struct WholeLinesWriter<W> {
    inner: W,
    torn: Arc<AtomicBool>,
}

impl<W: Write> Write for WholeLinesWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.torn.load(Ordering::Relaxed) {
            self.inner.write_all(b"\n")?;
            self.torn.store(false, Ordering::Relaxed);
        }
        match self.inner.write_all(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                self.torn.store(true, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_levels_and_target_level_pairs() {
        for good in [
            "info",
            "DEBUG",
            "warn,codex_async_daemon=debug",
            "codex_async_daemon=debug,codexd=debug",
            "codex_async_daemon::api::server=trace",
            "off",
        ] {
            assert!(filter(good).is_ok(), "{good}");
        }
        assert_eq!(
            filter("verbose").err().as_deref(),
            Some("\"verbose\" is not a level")
        );
        assert!(filter("").is_err());
        let bad_level = filter("info,codex_async_daemon=loud")
            .err()
            .unwrap_or_default();
        assert!(bad_level.contains("level"), "{bad_level}");
    }

    /// A file-like writer that accepts only `room` more bytes, like a disk
    /// that fills up.
    #[derive(Clone)]
    struct Disk {
        bytes: Arc<std::sync::Mutex<Vec<u8>>>,
        room: Arc<std::sync::Mutex<usize>>,
    }

    impl Write for Disk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut room = self.room.lock().map_err(|_| io::Error::other("poisoned"))?;
            if *room == 0 {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            let n = buf.len().min(*room);
            *room -= n;
            self.bytes
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_torn_by_a_full_disk_is_not_continued_by_the_next() {
        let disk = Disk {
            bytes: Arc::default(),
            room: Arc::new(std::sync::Mutex::new(10)),
        };
        let lines = WholeLines::new({
            let disk = disk.clone();
            move || disk.clone()
        });
        let first = lines.make_writer().write_all(b"first line, torn\n");
        assert!(first.is_err(), "the disk had room for 10 bytes only");
        let dropped = lines.make_writer().write_all(b"second line, dropped\n");
        assert!(dropped.is_err());
        *disk.room.lock().unwrap() = 1000;
        lines.make_writer().write_all(b"third line\n").unwrap();
        let text = String::from_utf8(disk.bytes.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "first line\nthird line\n");
    }
}
