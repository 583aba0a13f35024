//! Retention: finished jobs older than `retention_days` are pruned by codexd
//! itself, right after start and then every hour, through the same code as
//! `codexd prune` ([`crate::store::prune`]). A queued or running job is never pruned,
//! nor a worktree holding uncommitted work; branches are never deleted.

use std::{fs, path::Path, time::Duration};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::{
    store::jobdir::{write_json_atomic, Durability},
    store::prune,
    supervisor::Supervisor,
};

/// How often retention runs after the pass at start.
pub const EVERY: Duration = Duration::from_secs(3600);

/// One pass: prunes every finished job that ended more than `days` days ago;
/// `days == 0` keeps everything. Fails soft: old jobs kept a while longer
/// harm nobody.
pub async fn pass(supervisor: &Supervisor, days: u32) {
    if days == 0 {
        return;
    }
    if let Some(doubt) = clock_doubt(supervisor).await {
        // Ages are wall-clock differences: with a clock that jumped ahead,
        // every job looks old and the whole history would go at once.
        warn!(days, "retention skipped: the clock looks wrong: {doubt}; if it is right, remove {} (retention resumes at the next pass), or prune by hand with `codexd prune --older-than`",
            supervisor.paths().home.join(CLOCK_FILE).display());
        return;
    }
    let age = Duration::from_secs(u64::from(days) * 86_400);
    // Branches are the user's to delete (`codexd prune --branches`).
    let options = prune::Options {
        older_than: age,
        dry_run: false,
        empty_branches: false,
    };
    match prune::prune(supervisor, &options).await {
        Ok(pruned) => {
            if !pruned.job_ids.is_empty() {
                info!(
                    pruned = pruned.job_ids.len(),
                    days, "pruned finished jobs past retention"
                );
            }
            // A job kept (its worktree holds uncommitted work…) is tried
            // again next hour; the log says why and what to do.
            for warning in &pruned.warnings {
                warn!(days, "retention: {warning}");
            }
        }
        Err(e) => warn!(error = %e, "pruning old jobs failed; retrying in an hour"),
    }
}

/// How far the clock may be off before retention distrusts it: more than
/// any NTP step on a healthy machine, far less than any retention period.
const CLOCK_SLACK: chrono::Duration = chrono::Duration::minutes(5);

/// Jobs looked at for the newest end: the most recently created ones hold it.
const NEWEST_JOBS: u32 = 64;

/// The home's record of the wall clock at the last pass that trusted it,
/// against the time since boot (which no clock change moves).
pub const CLOCK_FILE: &str = "retention.clock";

#[derive(Debug, Serialize, Deserialize)]
struct ClockMark {
    /// This boot's id (`/proc/sys/kernel/random/boot_id` on Linux, the
    /// `kern.bootsessionuuid` sysctl on macOS): the time since boot only
    /// compares within one boot.
    boot_id: String,
    /// Seconds since boot, suspend included (`/proc/uptime` on Linux,
    /// `CLOCK_MONOTONIC` on macOS, which counts while asleep).
    uptime: f64,
    /// The wall clock then, RFC 3339.
    wall: String,
}

/// Why the wall clock cannot be trusted for ages now, if it cannot: a job
/// finished in the future (the clock went back since), or the wall clock
/// moved ahead of the time since boot since the last pass (it jumped
/// forward, also while codexd was down, within one boot). Otherwise records
/// the clock for the next pass.
async fn clock_doubt(supervisor: &Supervisor) -> Option<String> {
    let now = chrono::Utc::now();
    match supervisor.db().list(NEWEST_JOBS, None).await {
        Ok(jobs) => {
            let newest = jobs
                .iter()
                .filter_map(|job| job.finished_at.as_deref())
                .filter_map(codex_async_proto::job_result::parse_time)
                .max();
            if let Some(newest) = newest.filter(|t| *t > now + CLOCK_SLACK) {
                return Some(format!(
                    "a job finished at {}, {} ahead of now ({})",
                    newest.to_rfc3339(),
                    codex_async_proto::job_result::duration(
                        u64::try_from((newest - now).num_seconds()).unwrap_or(0)
                    ),
                    now.to_rfc3339()
                ));
            }
        }
        // Nothing to prune from either, then: prune fails the same way.
        Err(e) => warn!(error = %e, "retention: cannot read the newest jobs"),
    }
    let file = supervisor.paths().home.join(CLOCK_FILE);
    let here = ClockMark::now(now)?;
    if let Some(jump) = ClockMark::read(&file).and_then(|mark| mark.jump_to(&here)) {
        return Some(jump);
    }
    if let Err(e) = write_json_atomic(&file, &here, Durability::Atomic) {
        warn!(error = %e, file = %file.display(), "retention: cannot record the clock; a later jump will not be noticed");
    }
    None
}

impl ClockMark {
    /// The clock now; None where the time since boot cannot be read: the
    /// future check above is all there is then.
    fn now(wall: chrono::DateTime<chrono::Utc>) -> Option<Self> {
        let (boot_id, uptime) = boot()?;
        Some(Self {
            boot_id,
            uptime,
            wall: wall.to_rfc3339(),
        })
    }

    fn read(path: &Path) -> Option<Self> {
        serde_json::from_slice(&fs::read(path).ok()?).ok()
    }

    /// How far the wall clock ran ahead of the time since boot from `self`
    /// to `later`, when that is more than [`CLOCK_SLACK`]. A clock that went
    /// back is no danger here (jobs look younger, none is pruned early).
    fn jump_to(&self, later: &Self) -> Option<String> {
        if self.boot_id != later.boot_id {
            return None;
        }
        let (then, now) = (
            codex_async_proto::job_result::parse_time(&self.wall)?,
            codex_async_proto::job_result::parse_time(&later.wall)?,
        );
        let elapsed =
            chrono::Duration::milliseconds(((later.uptime - self.uptime) * 1000.0) as i64);
        let ahead = (now - then) - elapsed;
        (ahead > CLOCK_SLACK).then(|| {
            format!(
                "the wall clock moved {} further than the time since boot since {}",
                codex_async_proto::job_result::duration(
                    u64::try_from(ahead.num_seconds()).unwrap_or(0)
                ),
                self.wall
            )
        })
    }
}

/// This boot's id and the seconds since it, suspend included.
#[cfg(target_os = "linux")]
fn boot() -> Option<(String, f64)> {
    let boot_id = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let uptime = fs::read_to_string("/proc/uptime").ok()?;
    let uptime = uptime.split_whitespace().next()?.parse::<f64>().ok()?;
    Some((boot_id.trim().to_string(), uptime))
}

/// This boot's id and the seconds since it, sleep included. Not
/// `kern.boottime`: macOS moves it when the wall clock is set, which would
/// look like a new boot and hide the very jump this is for.
#[cfg(target_os = "macos")]
fn boot() -> Option<(String, f64)> {
    let mut id = [0u8; 128];
    let mut len = id.len();
    // SAFETY: sysctlbyname writes at most `len` bytes into `id`, which lives
    // here, and sets `len` to what it wrote; nothing is set (no new value).
    let rc = unsafe {
        libc::sysctlbyname(
            c"kern.bootsessionuuid".as_ptr(),
            id.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    let id = std::ffi::CStr::from_bytes_until_nul(id.get(..len)?).ok()?;
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return None;
    }
    let uptime = now.tv_sec as f64 + now.tv_nsec as f64 / 1e9;
    Some((id.to_str().ok()?.to_string(), uptime))
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn boot() -> Option<(String, f64)> {
    None
}

/// Prunes now and then every [`EVERY`], for the daemon's lifetime.
pub async fn run(supervisor: &Supervisor, days: u32) {
    if days == 0 {
        info!("retention off (retention_days = 0): finished jobs are kept");
        return;
    }
    loop {
        pass(supervisor, days).await;
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The boot and the time since it read on Linux and macOS alike, and
    /// comparable: one boot, a time that only grows.
    #[test]
    fn the_boot_and_the_time_since_it_are_read_here() {
        let (id, first) = boot().expect("a boot id and the time since boot");
        let (again, later) = boot().expect("read again");
        assert!(!id.is_empty());
        assert_eq!(id, again, "one boot");
        assert!(first > 0.0 && later >= first, "{first} then {later}");
        let mark = ClockMark::now(chrono::Utc::now()).expect("a clock mark");
        let ahead = ClockMark {
            wall: (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
            ..ClockMark::now(chrono::Utc::now()).expect("a clock mark")
        };
        assert!(mark.jump_to(&ahead).is_some(), "an hour's jump is seen");
    }
}
