//! The listening socket: inherited from a service manager (systemd's socket
//! activation protocol: `LISTEN_PID` = our pid, `LISTEN_FDS` = 1, the socket at
//! fd 3), or bound by codexd itself ([`home::listen`]).
//!
//! With socket activation the socket file belongs to the socket unit: codexd
//! never removes or replaces it, so the next connection starts codexd again.

use std::{
    fs,
    os::{
        fd::{FromRawFd, RawFd},
        unix::fs::MetadataExt,
    },
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
};

use anyhow::{bail, Context};
use codex_async_proto::paths::Paths;
use tokio::net::UnixListener;
use tracing::{info, warn};

use crate::store::home;

/// The first inherited descriptor (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// Set once fd 3 has been wrapped, so it is never owned twice.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The socket a service manager passed, taken (and made close-on-exec) as
/// early as possible: before any job monitor is started, since a monitor that
/// inherited it would hold it open after codexd exits.
pub fn take_inherited(paths: &Paths) -> anyhow::Result<Option<UnixListener>> {
    inherited(paths)
}

/// The socket codexd serves on: `inherited` (from [`take_inherited`]) or one
/// bound now; and whether it was inherited (then the socket file is the
/// service manager's and stays when codexd exits).
pub fn listen(
    paths: &Paths,
    inherited: Option<UnixListener>,
) -> anyhow::Result<(UnixListener, bool)> {
    if let Some(listener) = inherited {
        return Ok((listener, true));
    }
    refuse_live_socket(&paths.socket)?;
    Ok((home::listen(&paths.socket)?, false))
}

/// The socket file clients reach codexd by, kept in place while codexd runs:
/// a file removed (or replaced) by someone would otherwise leave the daemon
/// unreachable for good, every client saying it is not running.
pub struct Endpoint {
    path: PathBuf,
    /// Device and inode of the file at `path` that codexd listens on; None
    /// when it serves an inherited socket at another path (or an unnamed
    /// one), which is the service manager's to keep.
    identity: Option<(u64, u64)>,
    /// The file at `path` is the service manager's (socket activation).
    inherited: bool,
    /// What the last failed attempt to bind again said, to log it once.
    last_refusal: Option<String>,
}

/// What [`Endpoint::check`] found.
pub enum Checked {
    /// The file is the one codexd listens on.
    InPlace,
    /// It was gone or replaced, and codexd listens on a new one there now.
    Rebound(UnixListener),
    /// It was gone or replaced, and cannot be bound again yet (something
    /// else is there); the reason, when it is news.
    Refused(Option<String>),
}

impl Endpoint {
    /// The endpoint of the socket [`listen`] returned.
    pub fn new(paths: &Paths, listener: &UnixListener, inherited: bool) -> Self {
        // An inherited socket is watched only at the configured path: that
        // is where clients look.
        let at_configured = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(|p| p == paths.socket))
            .unwrap_or(false);
        Self {
            path: paths.socket.clone(),
            identity: at_configured
                .then(|| socket_identity(&paths.socket))
                .flatten(),
            inherited,
            last_refusal: None,
        }
    }

    /// Looks at the socket file; binds it again (with every check of a
    /// start: path, private parent, 0600, nothing else answering there) when
    /// it is gone or is another file now.
    ///
    /// An inherited socket's file is the socket unit's, but when it is gone
    /// codexd binds its own there too, and keeps going. Exiting instead, for
    /// systemd to restart it, would not help: systemd hands the restarted
    /// service the same descriptor, whose file is gone, and makes the file
    /// again only when the socket unit itself restarts. The log says how to
    /// give the path back to systemd.
    pub fn check(&mut self) -> Checked {
        let Some(identity) = self.identity else {
            return Checked::InPlace;
        };
        if socket_identity(&self.path) == Some(identity) {
            self.last_refusal = None;
            return Checked::InPlace;
        }
        match refuse_live_socket(&self.path)
            .and_then(|()| home::listen(&self.path).map_err(anyhow::Error::from))
        {
            Ok(listener) => {
                if self.inherited {
                    warn!(socket = %self.path.display(),
                        "the socket unit's file was removed; codexd bound its own there so clients reach it. \
                         `systemctl --user restart codexd.socket codexd.service` gives it back to systemd");
                } else {
                    warn!(socket = %self.path.display(), "the socket file was removed or replaced; bound it again");
                }
                self.identity = socket_identity(&self.path);
                self.inherited = false;
                self.last_refusal = None;
                Checked::Rebound(listener)
            }
            Err(e) => {
                let text = format!("{e:#}");
                let news = self.last_refusal.as_deref() != Some(text.as_str());
                self.last_refusal = Some(text.clone());
                Checked::Refused(news.then_some(text))
            }
        }
    }

    /// Removes the socket file at exit when it is the one codexd bound: an
    /// inherited one is the service manager's, and a file put in its place
    /// by someone else is theirs.
    pub fn remove(&self) {
        if !self.inherited
            && self.identity.is_some()
            && socket_identity(&self.path) == self.identity
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Device and inode of the file at `path`, when there is one.
fn socket_identity(path: &Path) -> Option<(u64, u64)> {
    fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The listener passed by a service manager, if this process was given one.
///
/// `LISTEN_FDS`/`LISTEN_PID` are left in the environment: children (monitors,
/// codex) see a `LISTEN_PID` that is not theirs and so ignore them, which is
/// the protocol's own guard; removing variables in a threaded process is unsound.
fn inherited(paths: &Paths) -> anyhow::Result<Option<UnixListener>> {
    let Some(pid) = std::env::var("LISTEN_PID").ok() else {
        return Ok(None);
    };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Ok(None);
    }
    let fds = std::env::var("LISTEN_FDS").unwrap_or_default();
    match fds.trim().parse::<u32>() {
        Ok(0) | Err(_) => return Ok(None),
        Ok(1) => {}
        Ok(n) => bail!(
            "LISTEN_FDS={n}: codexd takes exactly one socket; give the socket unit one ListenStream"
        ),
    }
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(None);
    }
    let fd = LISTEN_FDS_START;
    check_listening_unix_stream(fd)?;
    // SAFETY: the protocol hands fd 3 to this process (LISTEN_PID matched), it
    // was checked open and a listening stream socket above, and TAKEN makes
    // this the only owner.
    let std_listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
    // Jobs must not inherit the listening socket: their monitors outlive codexd
    // and would keep it open (and a systemd restart would find it held).
    // SAFETY: plain fcntl on a descriptor we own.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
        return Err(std::io::Error::last_os_error()).context("setting close-on-exec on fd 3");
    }
    std_listener
        .set_nonblocking(true)
        .context("making the inherited socket non-blocking")?;
    let addr = std_listener
        .local_addr()
        .context("fd 3 from LISTEN_FDS is not a Unix socket")?;
    match addr.as_pathname() {
        Some(path) => {
            check_private_socket(path)?;
            if path != paths.socket {
                warn!(inherited = %path.display(), configured = %paths.socket.display(),
                    "the inherited socket is not the configured one; clients use the configured path");
            }
            info!(socket = %path.display(), "serving on the socket passed by the service manager");
        }
        None => info!("serving on an unnamed socket passed by the service manager"),
    }
    let listener = UnixListener::from_std(std_listener).context("registering fd 3")?;
    Ok(Some(listener))
}

/// Fails unless `fd` is an open, listening stream socket.
fn check_listening_unix_stream(fd: RawFd) -> anyhow::Result<()> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `value`.
    let accepting = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if accepting == -1 {
        return Err(std::io::Error::last_os_error())
            .context("LISTEN_FDS=1 but fd 3 is not an open socket");
    }
    if value == 0 {
        bail!("LISTEN_FDS=1 but fd 3 is not a listening socket; use ListenStream= with Accept=no");
    }
    let mut kind: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: as above.
    let got = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut kind as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if got == -1 || kind != libc::SOCK_STREAM {
        bail!("fd 3 from LISTEN_FDS is not a stream socket; use ListenStream=");
    }
    Ok(())
}

/// The same rule codexd applies to a socket it binds: owned by this user, no
/// access for group or others.
fn check_private_socket(path: &Path) -> anyhow::Result<()> {
    let meta = fs::symlink_metadata(path)
        .with_context(|| format!("inspecting the inherited socket {}", path.display()))?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        bail!(
            "the inherited socket {} belongs to uid {}, not to you (uid {me}); run the socket unit as a user unit",
            path.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o077 != 0 {
        bail!(
            "the inherited socket {} has mode {:o}; set SocketMode=0600 in codexd.socket",
            path.display(),
            meta.mode() & 0o777
        );
    }
    Ok(())
}

/// Binding replaces a socket file left by a dead daemon; refuse when something
/// still answers there (a socket unit that codexd was not started by, say),
/// rather than steal its path.
fn refuse_live_socket(path: &Path) -> anyhow::Result<()> {
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        bail!(
            "another process listens on {} (a systemd codexd.socket unit?); \
             use that daemon (`codexd status`), or stop it first (`systemctl --user stop codexd.socket codexd.service`)",
            path.display()
        );
    }
    Ok(())
}
