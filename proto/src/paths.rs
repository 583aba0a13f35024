//! Where a user's codex-async state lives.
//!
//! One home per user: `$CODEX_ASYNC_HOME`, else `~/.codex-async`. The socket is
//! `<home>/codexd.sock` unless `$CODEX_ASYNC_SOCKET` names another path.

use std::{
    env,
    path::{Path, PathBuf},
};

/// Environment variable naming the state home.
pub const HOME_ENV: &str = "CODEX_ASYNC_HOME";
/// Environment variable naming the socket path.
pub const SOCKET_ENV: &str = "CODEX_ASYNC_SOCKET";

/// The state home and socket of one user's daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The state home (database, jobs, lock, logs).
    pub home: PathBuf,
    /// The Unix socket the daemon listens on.
    pub socket: PathBuf,
}

/// Why the paths could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    /// Neither `$CODEX_ASYNC_HOME` nor `$HOME` is set.
    #[error("cannot find the state home: set CODEX_ASYNC_HOME (or HOME) to a directory")]
    NoHome,
    /// A path variable is set but relative.
    #[error("{var} must be an absolute path, got {value:?}")]
    Relative {
        /// The variable's name.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// The socket path does not fit in a Unix socket address.
    #[error(
        "the socket path {path} is {len} bytes, longer than the {max} bytes a Unix socket path \
         may have on this system; set CODEX_ASYNC_SOCKET to a shorter path (in a folder only you \
         can write, e.g. $XDG_RUNTIME_DIR/codexd.sock)"
    )]
    SocketTooLong {
        /// The socket path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The most bytes a path may have here.
        max: usize,
    },
}

/// The most bytes a Unix socket path may have: `sun_path` less its closing
/// NUL (108 bytes on Linux, 104 on macOS and the BSDs). Written out rather
/// than taken from libc so this crate needs no libc; a longer path makes
/// bind and connect fail with a bare "path must be shorter than SUN_LEN".
pub const MAX_SOCKET_PATH: usize = if cfg!(target_os = "linux") { 107 } else { 103 };

impl Paths {
    /// Resolves the paths from the environment.
    pub fn from_env() -> Result<Self, PathsError> {
        let home = match non_empty_env(HOME_ENV) {
            Some(home) => absolute(HOME_ENV, home)?,
            None => {
                let user_home = non_empty_env("HOME").ok_or(PathsError::NoHome)?;
                absolute("HOME", user_home)?.join(".codex-async")
            }
        };
        let socket = match non_empty_env(SOCKET_ENV) {
            Some(socket) => absolute(SOCKET_ENV, socket)?,
            None => home.join("codexd.sock"),
        };
        Ok(Self { home, socket })
    }

    /// Paths for an explicit home, with the default socket inside it.
    pub fn in_home(home: &Path) -> Self {
        Self {
            home: home.to_path_buf(),
            socket: home.join("codexd.sock"),
        }
    }

    /// Refuses a socket path too long for a Unix socket address, with the
    /// limit and the fix; `codexd start`, `serve` and `doctor` all ask here.
    pub fn check_socket(&self) -> Result<(), PathsError> {
        check_socket_path(&self.socket)
    }

    /// The SQLite database.
    pub fn database(&self) -> PathBuf {
        self.home.join("codexd.db")
    }

    /// The lock file that makes one daemon per home.
    pub fn lock(&self) -> PathBuf {
        self.home.join("codexd.lock")
    }

    /// The folder holding one sub-folder per job.
    pub fn jobs(&self) -> PathBuf {
        self.home.join("jobs")
    }

    /// Where a detached daemon (`codexd start`) writes its log.
    pub fn daemon_log(&self) -> PathBuf {
        self.home.join("codexd.log")
    }
}

/// Refuses a socket path longer than [`MAX_SOCKET_PATH`] bytes.
pub fn check_socket_path(path: &Path) -> Result<(), PathsError> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(PathsError::SocketTooLong {
            path: path.to_path_buf(),
            len,
            max: MAX_SOCKET_PATH,
        });
    }
    Ok(())
}

fn non_empty_env(var: &str) -> Option<String> {
    env::var(var).ok().filter(|v| !v.is_empty())
}

fn absolute(var: &'static str, value: String) -> Result<PathBuf, PathsError> {
    let path = PathBuf::from(&value);
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(PathsError::Relative { var, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_path_must_fit_a_unix_socket_address() {
        let fits = PathBuf::from(format!("/{}", "s".repeat(MAX_SOCKET_PATH - 1)));
        assert!(check_socket_path(&fits).is_ok());
        let long = PathBuf::from(format!("/{}", "s".repeat(MAX_SOCKET_PATH)));
        let err = check_socket_path(&long).expect_err("too long").to_string();
        assert!(
            err.contains(&format!(
                "is {} bytes, longer than the {MAX_SOCKET_PATH} bytes",
                MAX_SOCKET_PATH + 1
            )) && err.contains("set CODEX_ASYNC_SOCKET to a shorter path"),
            "{err}"
        );
    }

    #[test]
    fn the_limit_is_the_one_bind_enforces() {
        let dir = std::env::temp_dir().join(format!("cxa-sun-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let at = |len: usize| {
            let prefix = dir.display().to_string().len() + 1;
            dir.join("s".repeat(len - prefix))
        };
        let longest = at(MAX_SOCKET_PATH);
        assert!(check_socket_path(&longest).is_ok());
        let bound = std::os::unix::net::UnixListener::bind(&longest);
        let over = std::os::unix::net::UnixListener::bind(at(MAX_SOCKET_PATH + 1));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(bound.is_ok(), "{bound:?}");
        assert!(over.is_err(), "bound a path over the limit");
    }
}
