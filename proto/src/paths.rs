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
}

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
