//! The state home on disk: the folder itself, the lock that makes one daemon
//! per home, and the listening socket.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Seek, Write},
    os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use codex_async_proto::paths::Paths;
use nix::{
    errno::Errno,
    fcntl::{Flock, FlockArg},
    sys::stat::{umask, Mode},
};
use tokio::net::UnixListener;

/// Why the home could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("cannot create the state home {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("codexd is already running for {home} (pid {pid}{}); stop it with `codexd stop`, or set CODEX_ASYNC_HOME to use another home", on_socket(.socket.as_deref()))]
    AlreadyRunning {
        home: PathBuf,
        pid: String,
        /// The socket it serves on (None: a daemon that did not record it).
        socket: Option<PathBuf>,
    },
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: io::Error },
    #[error(
        "{path} exists and is not a socket; move it away or set CODEX_ASYNC_SOCKET to another path"
    )]
    NotASocket { path: PathBuf },
    #[error("cannot listen on {path}: {source}")]
    Listen { path: PathBuf, source: io::Error },
    #[error(transparent)]
    SocketPath(#[from] codex_async_proto::paths::PathsError),
    /// A path another user could control: codexd runs code for whoever can
    /// reach its socket, so it refuses to start there.
    #[error("{path} {problem}; codexd refuses to use it. {fix}")]
    Insecure {
        path: PathBuf,
        problem: String,
        fix: String,
    },
}

fn on_socket(socket: Option<&Path>) -> String {
    socket
        .map(|s| format!(", socket {}", s.display()))
        .unwrap_or_default()
}

/// Refuses a directory or file that is a symlink, belongs to another user, or
/// that others can write.
fn check_private(path: &Path, fix_mode: &str) -> Result<(), HomeError> {
    let insecure = |problem: String, fix: String| HomeError::Insecure {
        path: path.to_path_buf(),
        problem,
        fix,
    };
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(HomeError::Create {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if meta.file_type().is_symlink() {
        return Err(insecure(
            "is a symlink".into(),
            "Point CODEX_ASYNC_HOME (or CODEX_ASYNC_SOCKET) at the real path.".into(),
        ));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(insecure(
            format!("belongs to uid {}, not to you (uid {me})", meta.uid()),
            "Use a path you own, e.g. the default ~/.codex-async.".into(),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(insecure(
            format!("is writable by others (mode {:o})", meta.mode() & 0o7777),
            format!("Run `chmod {fix_mode} {}`.", path.display()),
        ));
    }
    Ok(())
}

/// Creates the home and its jobs folder if missing, and makes both owner-only
/// (0700) even when they already existed readable by others. Refuses a home
/// that is a symlink, is someone else's, or that others can write.
pub fn create(paths: &Paths) -> Result<(), HomeError> {
    for dir in [paths.home.clone(), paths.jobs()] {
        check_private(&dir, "700")?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .and_then(|()| fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)))
            .map_err(|source| HomeError::Create { path: dir, source })?;
    }
    Ok(())
}

/// Held for the daemon's lifetime: the lock on the home's directory, which
/// keeps a second daemon off the database, and the lock on `codexd.lock`,
/// which holds its pid on the first line, the socket it serves on the second
/// and its start time (the pid-reuse guard, see [`running`]) on the third.
pub struct DaemonLock {
    /// Why the directory and not `codexd.lock` alone: a user may delete the
    /// lock file (a second daemon would then lock a new one and run on the
    /// same database), but not the home's directory without the database in
    /// it. A flock, not SQLite's own locking: SQLite's fcntl locks on the
    /// database file are per transaction and dropped whenever any descriptor
    /// of the file in the process closes, and flock and fcntl locks are
    /// independent on Linux and macOS, so neither disturbs the other. The
    /// directory exists before the database does (first start), and the
    /// lock goes with the process, however it ends.
    _home: Flock<File>,
    /// `codexd.lock`: where clients read who holds the home, and the lock an
    /// older codexd takes (so old and new still exclude each other).
    file: Flock<File>,
    record: String,
}

/// What keeping the lock file found (see [`DaemonLock::keep`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockFile {
    /// In place.
    Kept,
    /// It had been removed or replaced: made again, locked and recorded.
    Restored,
    /// Replaced by a file another process holds locked; tried again later.
    Busy,
}

/// What the daemon holding a home's lock recorded in `codexd.lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// Its pid, as written (empty while it is still writing the file).
    pub pid: String,
    /// The socket it serves on; None for a daemon from before the socket was
    /// recorded, or while the file is being written.
    pub socket: Option<PathBuf>,
}

impl LockHolder {
    /// Reads the pid and socket lines. The pid stays alone on the first line
    /// so `head -1 codexd.lock` (and older readers of that line) keep working.
    fn parse(text: &str) -> Self {
        let mut lines = text.lines();
        let pid = lines.next().unwrap_or_default().trim().to_string();
        let socket = lines
            .next()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        Self { pid, socket }
    }
}

/// The start time on the third line of a lock file (None from an older
/// codexd, or on a platform that does not tell start times).
fn parse_start_time(text: &str) -> Option<i64> {
    text.lines().nth(2)?.trim().parse().ok()
}

/// How often taking a lock that is held is tried again before giving up: a
/// client that probes it ([`is_locked`]) holds it for a moment only.
const LOCK_TRIES: u32 = 10;

/// Takes an exclusive flock on `file`, trying again for a moment while it is
/// held; `Err(Ok(file))` when another process keeps holding it.
fn lock_exclusive(file: File) -> Result<Flock<File>, Result<File, Errno>> {
    let mut file = file;
    for _ in 1..LOCK_TRIES {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(lock),
            Err((back, Errno::EWOULDBLOCK)) => file = back,
            Err((_, errno)) => return Err(Err(errno)),
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err((back, Errno::EWOULDBLOCK)) => Err(Ok(back)),
        Err((_, errno)) => Err(Err(errno)),
    }
}

/// Takes the home's locks, or says which daemon holds them. Records this
/// process's pid, `socket` and start time in the lock file.
pub fn lock(paths: &Paths) -> Result<DaemonLock, HomeError> {
    let already_running = || {
        let holder = fs::read_to_string(paths.lock())
            .map(|text| LockHolder::parse(&text))
            .ok()
            .filter(|h| !h.pid.is_empty());
        HomeError::AlreadyRunning {
            home: paths.home.clone(),
            pid: holder.as_ref().map_or_else(
                || "unknown: its lock file was removed".into(),
                |h| h.pid.clone(),
            ),
            socket: holder.and_then(|h| h.socket),
        }
    };
    let home_err = |source: io::Error| HomeError::Lock {
        path: paths.home.clone(),
        source,
    };
    // The directory first: a second daemon must fail before it touches the
    // lock file the first one may be about to make again.
    let dir = File::open(&paths.home).map_err(home_err)?;
    let home = match lock_exclusive(dir) {
        Ok(lock) => lock,
        Err(Ok(_)) => return Err(already_running()),
        Err(Err(errno)) => return Err(home_err(errno.into())),
    };
    let record = format!(
        "{}\n{}\n{}\n",
        std::process::id(),
        paths.socket.display(),
        crate::sys::proctree::start_time(std::process::id() as i32)
            .map(|t| t.to_string())
            .unwrap_or_default()
    );
    let file = match lock_file(paths, &record)? {
        Some(file) => file,
        None => return Err(already_running()),
    };
    Ok(DaemonLock {
        _home: home,
        file,
        record,
    })
}

/// Opens (or makes) `codexd.lock`, locks it and writes `record`; None when
/// another process holds it (an older codexd, which knows no home lock).
fn lock_file(paths: &Paths, record: &str) -> Result<Option<Flock<File>>, HomeError> {
    let path = paths.lock();
    let lock_err = |source: io::Error| HomeError::Lock {
        path: path.clone(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(lock_err)?;
    let mut lock = match lock_exclusive(file) {
        Ok(lock) => lock,
        Err(Ok(_)) => return Ok(None),
        Err(Err(errno)) => return Err(lock_err(errno.into())),
    };
    lock.set_len(0).map_err(lock_err)?;
    lock.rewind().map_err(lock_err)?;
    // One write, so a reader sees every line or none.
    lock.write_all(record.as_bytes()).map_err(lock_err)?;
    lock.sync_all().map_err(lock_err)?;
    Ok(Some(lock))
}

/// The file's device and inode, to tell it from another at the same path.
fn identity(meta: &fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

impl DaemonLock {
    /// Makes `codexd.lock` again when it was removed or replaced, so clients
    /// keep finding this daemon by it (`codexd stop` when the socket is gone).
    /// The home's lock is never let go meanwhile, so no other daemon starts.
    pub fn keep(&mut self, paths: &Paths) -> Result<LockFile, HomeError> {
        let held = self.file.metadata().map(|m| identity(&m)).ok();
        let there = fs::symlink_metadata(paths.lock())
            .map(|m| identity(&m))
            .ok();
        if held.is_some() && held == there {
            return Ok(LockFile::Kept);
        }
        match lock_file(paths, &self.record)? {
            Some(file) => {
                self.file = file;
                Ok(LockFile::Restored)
            }
            None => Ok(LockFile::Busy),
        }
    }
}

/// The live daemon recorded in the home's lock file, or None when the file
/// names no process that is alive. Reads the file without taking the lock:
/// a client polling the lock (even for a shared lock) could make a daemon
/// starting that instant fail to take it.
pub fn holder(paths: &Paths) -> Option<LockHolder> {
    let text = fs::read_to_string(paths.lock()).ok()?;
    let holder = LockHolder::parse(&text);
    let pid: i32 = holder.pid.parse().ok().filter(|pid| *pid > 0)?;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => Some(holder),
        Err(_) => None,
    }
}

/// The daemon that holds a home, found without its socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub pid: i32,
    /// Its start time, as recorded (see [`crate::sys::proctree::start_time`]).
    pub start_time: Option<i64>,
    pub socket: Option<PathBuf>,
}

impl Running {
    /// True while it is the same process (not a later one with its pid).
    pub fn is_alive(&self) -> bool {
        crate::sys::proctree::is_same_process_alive(self.pid, self.start_time)
    }
}

/// The daemon holding the home's lock, by the lock file, checked before
/// anyone signals it: the home is locked, the pid is alive with the start
/// time it recorded (a pid reused since is another process), and, where the
/// kernel lists locks (Linux), that pid is the one holding the home's lock.
pub fn running(paths: &Paths) -> Option<Running> {
    let text = fs::read_to_string(paths.lock()).ok()?;
    let holder = LockHolder::parse(&text);
    let pid: i32 = holder.pid.parse().ok().filter(|pid| *pid > 0)?;
    let found = Running {
        pid,
        start_time: parse_start_time(&text),
        socket: holder.socket,
    };
    if !is_locked(paths) || !found.is_alive() {
        return None;
    }
    if cfg!(target_os = "linux") && found.start_time.is_none() {
        // Linux always records one: a record without it is not trusted.
        return None;
    }
    match holds_flock(pid, &paths.home) {
        Some(false) => None,
        Some(true) | None => Some(found),
    }
}

/// Whether `pid` holds a flock on `dir`, from /proc/locks; None where the
/// kernel does not list them.
fn holds_flock(pid: i32, dir: &Path) -> Option<bool> {
    #[cfg(target_os = "linux")]
    {
        let meta = fs::metadata(dir).ok()?;
        let locks = fs::read_to_string("/proc/locks").ok()?;
        // `1: FLOCK  ADVISORY  WRITE 4242 00:2c:1234 0 EOF`: major and
        // minor in hex, then the inode.
        let wanted = format!(
            "{:02x}:{:02x}:{}",
            libc::major(meta.dev()),
            libc::minor(meta.dev()),
            meta.ino()
        );
        let pid = pid.to_string();
        Some(locks.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(&"FLOCK")
                && fields.get(3) == Some(&"WRITE")
                && fields.get(4) == Some(&pid.as_str())
                && fields.get(5) == Some(&wanted.as_str())
        }))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (pid, dir);
        None
    }
}

/// True when another process holds the home's lock (a daemon runs): the
/// home's directory lock, or `codexd.lock` (an older codexd takes only that).
pub fn is_locked(paths: &Paths) -> bool {
    let held = |file: File| {
        matches!(
            Flock::lock(file, FlockArg::LockSharedNonblock),
            Err((_, Errno::EWOULDBLOCK))
        )
    };
    File::open(&paths.home).is_ok_and(held) || File::open(paths.lock()).is_ok_and(held)
}

/// Binds the socket (0600, with no moment where it is wider). Call only while
/// holding the lock: a socket file left behind is then stale, never trusted.
pub fn listen(path: &Path) -> Result<UnixListener, HomeError> {
    codex_async_proto::paths::check_socket_path(path)?;
    if let Some(parent) = path.parent() {
        check_private(parent, "700")?;
    }
    check_private(path, "600")?;
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            fs::remove_file(path).map_err(|source| HomeError::Listen {
                path: path.to_path_buf(),
                source,
            })?;
        }
        Ok(_) => {
            return Err(HomeError::NotASocket {
                path: path.to_path_buf(),
            })
        }
        Err(_) => {}
    }
    if let Some(parent) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|source| HomeError::Create {
                path: parent.to_path_buf(),
                source,
            })?;
    }
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    umask(old);
    let listener = bound.map_err(|source| HomeError::Listen {
        path: path.to_path_buf(),
        source,
    })?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|source| {
        HomeError::Listen {
            path: path.to_path_buf(),
            source,
        }
    })?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_names_the_pid_first_then_the_socket_then_the_start_time() {
        assert_eq!(parse_start_time("4242\n/s.sock\n987654\n"), Some(987654));
        assert_eq!(parse_start_time("4242\n/s.sock\n"), None);
        assert_eq!(parse_start_time("4242\n/s.sock\n\n"), None);
        let holder = LockHolder::parse("4242\n/run/user/1000/codexd.sock\n");
        assert_eq!(holder.pid, "4242");
        assert_eq!(
            holder.socket.as_deref(),
            Some(Path::new("/run/user/1000/codexd.sock"))
        );
        let older = LockHolder::parse("4242\n");
        assert_eq!((older.pid.as_str(), older.socket), ("4242", None));
        let writing = LockHolder::parse("");
        assert_eq!((writing.pid.as_str(), writing.socket), ("", None));
    }

    #[test]
    fn the_home_stays_locked_when_its_lock_file_is_deleted() {
        let dir = tempfile::tempdir().expect("temp");
        let paths = Paths::in_home(&dir.path().join("home"));
        create(&paths).expect("home");
        let mut held = lock(&paths).expect("first lock");
        let me = std::process::id() as i32;
        if cfg!(target_os = "linux") {
            assert_eq!(holds_flock(me, &paths.home), Some(true));
            assert_eq!(holds_flock(me + 1, &paths.home), Some(false));
        }
        fs::remove_file(paths.lock()).expect("delete the lock file");
        match lock(&paths) {
            Err(HomeError::AlreadyRunning { pid, .. }) => {
                assert!(pid.starts_with("unknown"), "{pid}")
            }
            other => panic!("a second lock was taken: {:?}", other.err()),
        }
        assert_eq!(held.keep(&paths).expect("keep"), LockFile::Restored);
        assert_eq!(held.keep(&paths).expect("keep"), LockFile::Kept);
        let found = running(&paths).expect("found by its lock file");
        assert_eq!(found.pid, me);
        assert_eq!(found.start_time, crate::sys::proctree::start_time(me));
    }
}
