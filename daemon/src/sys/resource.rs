//! Naming the resource that ran out. A Start that fails because the machine
//! has no room, no descriptors or no processes left is refused with a message
//! that says which and what to do about it, instead of an errno.

use std::{io, path::Path};

use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};

use crate::store::db::DbError;

/// The sentence for an I/O error that means a resource ran out (None for any
/// other error): what ran out, the error itself, and the fix. `home` is the
/// state home, where job folders and the database live.
pub fn exhausted(e: &io::Error, home: &Path) -> Option<String> {
    let errno = e.raw_os_error()?;
    Some(match errno {
        libc::ENOSPC | libc::EDQUOT => disk_full(home, &e.to_string()),
        libc::EROFS => format!(
            "the filesystem holding {} is read-only ({e}): no job can be recorded; remount it read-write, then start the job again",
            home.display()
        ),
        libc::EMFILE | libc::ENFILE => format!(
            "codexd has no free file descriptors ({e}; its limit, `ulimit -n`, is {}): raise it (`ulimit -n 4096` in the shell that runs `codexd start`, or LimitNOFILE= in the service), restart codexd with `codexd stop && codexd start` (running jobs keep running), then start the job again",
            limit(Resource::RLIMIT_NOFILE)
        ),
        libc::EAGAIN | libc::ENOMEM => format!(
            "cannot start a process for the job ({e}): the limit on processes (`ulimit -u`, {}) or memory is reached; end some processes or raise the limit, then start the job again",
            process_limit()
        ),
        _ => return None,
    })
}

/// The sentence for a database error that passes by itself — a full or
/// read-only disk, a lock held past the busy timeout, a resource the
/// connection could not get — (None for any other).
pub fn db_exhausted(e: &DbError, home: &Path) -> Option<String> {
    if !e.is_transient() {
        return None;
    }
    if let DbError::Sqlx(sqlx::Error::Io(io)) = e {
        if let Some(message) = exhausted(io, home) {
            return Some(message);
        }
    }
    if e.is_busy() {
        return Some(format!(
            "the job database in {} stays locked by another process ({e}): something holds it in a transaction (an sqlite3 shell, a backup); let it finish, then start the job again",
            home.display()
        ));
    }
    Some(disk_full(home, &e.to_string()))
}

fn disk_full(home: &Path, error: &str) -> String {
    format!(
        "the disk holding {} is full or not writable ({error}): free space (`codexd prune --older-than 1d` deletes finished jobs older than a day), then start the job again",
        home.display()
    )
}

/// A resource limit of this process, as people write it.
fn limit(resource: Resource) -> String {
    soft_limit(getrlimit(resource).map(|(soft, _)| soft).ok())
}

fn soft_limit(soft: Option<libc::rlim_t>) -> String {
    match soft {
        Some(RLIM_INFINITY) => "unlimited".into(),
        Some(soft) => soft.to_string(),
        None => "unknown".into(),
    }
}

/// `ulimit -u`, the processes this user may run.
#[cfg(not(target_os = "macos"))]
fn process_limit() -> String {
    limit(Resource::RLIMIT_NPROC)
}

/// `ulimit -u`: nix 0.32 names RLIMIT_NPROC only for Linux and the BSDs, not
/// for macOS, whose kernel has it too; so it is read through libc here.
#[cfg(target_os = "macos")]
fn process_limit() -> String {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives here.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut limit) } == 0;
    soft_limit(read.then_some(limit.rlim_cur))
}
