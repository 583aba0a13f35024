//! The state home on disk: the folder itself, the lock that makes one daemon
//! per home, and the listening socket.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Read, Seek, Write},
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

/// Held for the daemon's lifetime: the lock on `codexd.lock`, which holds its
/// pid on the first line and the socket it serves on the second.
pub struct DaemonLock {
    _lock: Flock<File>,
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

/// Takes the home's lock, or says which daemon holds it. Records this
/// process's pid and `socket` in the lock file.
pub fn lock(paths: &Paths) -> Result<DaemonLock, HomeError> {
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
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = LockHolder::parse(&text);
            return Err(HomeError::AlreadyRunning {
                home: paths.home.clone(),
                pid: holder.pid,
                socket: holder.socket,
            });
        }
        Err((_, errno)) => return Err(lock_err(errno.into())),
    };
    lock.set_len(0).map_err(lock_err)?;
    lock.rewind().map_err(lock_err)?;
    // One write, so a reader sees both lines or neither.
    let record = format!("{}\n{}\n", std::process::id(), paths.socket.display());
    lock.write_all(record.as_bytes()).map_err(lock_err)?;
    lock.sync_all().map_err(lock_err)?;
    Ok(DaemonLock { _lock: lock })
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

/// True when another process holds the home's lock (a daemon runs).
pub fn is_locked(paths: &Paths) -> bool {
    let Ok(file) = File::open(paths.lock()) else {
        return false;
    };
    matches!(
        Flock::lock(file, FlockArg::LockSharedNonblock),
        Err((_, Errno::EWOULDBLOCK))
    )
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
    fn the_lock_file_names_the_pid_first_then_the_socket() {
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
}
