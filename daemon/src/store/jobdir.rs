//! A job's folder, `<home>/jobs/<job_id>/`, and the files in it:
//!
//! - `prompt.txt`   the prompt, given to codex on stdin
//! - `output.txt`   everything codex printed (stdout and stderr), written by codex itself
//! - `meta.json`    a mirror of the job's database row: for people who debug by
//!   hand, and what the row is rebuilt from when the database is lost
//! - `monitor.json` written by the job's monitor when codex has started (pids, start time)
//! - `exit.json`    written by the monitor when codex has ended: the true exit status
//! - `monitor.log`  the monitor's own diagnostics
//!
//! Every JSON file is written whole to a temp file and renamed over, so a reader
//! (or a crash) never sees half of one.

use std::{
    fs::{self, File},
    io::{self, Write},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use codex_async_proto::v1::JobStatus;

use crate::job::{events::Summary, review::Review, Isolation, JobId, JobRecord, Policy};

/// The paths of one job's files.
#[derive(Debug, Clone)]
pub struct JobDir {
    dir: PathBuf,
}

impl JobDir {
    /// The folder of `id` under `jobs_root`. Takes a [`JobId`], so only a
    /// validated id ever becomes a path.
    pub fn new(jobs_root: &Path, id: &JobId) -> Self {
        Self {
            dir: jobs_root.join(id.as_str()),
        }
    }

    /// Wraps an existing folder (the monitor is told its folder by path).
    pub fn at(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn prompt(&self) -> PathBuf {
        self.dir.join("prompt.txt")
    }

    pub fn output(&self) -> PathBuf {
        self.dir.join("output.txt")
    }

    pub fn meta(&self) -> PathBuf {
        self.dir.join("meta.json")
    }

    pub fn monitor_info(&self) -> PathBuf {
        self.dir.join("monitor.json")
    }

    pub fn exit(&self) -> PathBuf {
        self.dir.join("exit.json")
    }

    pub fn monitor_log(&self) -> PathBuf {
        self.dir.join("monitor.log")
    }

    /// codexd's answer to the question the job's codex asks (see
    /// `crate::job::answers`).
    pub fn answer(&self) -> PathBuf {
        self.dir.join("answer.json")
    }

    /// The socket an agent's permission relay reaches the job's monitor on
    /// (monitor/asks.rs), by its name in the folder: a socket's path is
    /// limited to ~100 bytes, so both sides use it from inside the folder.
    pub fn ask_socket_name() -> &'static str {
        "ask.sock"
    }

    /// Text codexd sends into the running turn, one note per Steer, in
    /// order (see [`SteerNote`]).
    pub fn steer_dir(&self) -> PathBuf {
        self.dir.join("steer")
    }

    /// The `n`th steering: `<n>.json` while it waits for the monitor,
    /// `<n>.sent` once the monitor sent it to codex, `<n>.done` with
    /// codex's answer ([`SteerDone`]).
    pub fn steer_note(&self, n: u32, state: &str) -> PathBuf {
        self.steer_dir().join(format!("{n:06}.{state}"))
    }

    /// The numbers of the steerings whose note is in `state` (`json`,
    /// `sent`, `done`; any state when None), in order.
    pub fn steers(&self, state: Option<&str>) -> Vec<u32> {
        let Ok(entries) = fs::read_dir(self.steer_dir()) else {
            return Vec::new();
        };
        let mut numbers: Vec<u32> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (n, ext) = name.split_once('.')?;
                state.is_none_or(|s| s == ext).then(|| n.parse().ok())?
            })
            .collect();
        numbers.sort_unstable();
        numbers
    }

    /// The number the next steering takes: one past the highest used.
    pub fn next_steer(&self) -> u32 {
        self.steers(None).last().map_or(1, |n| n + 1)
    }

    /// Creates the folder (0700), the prompt file and an empty output file.
    pub fn create(&self, prompt: &str) -> io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        fs::DirBuilder::new().mode(0o700).create(&self.dir)?;
        let private = |path: PathBuf| {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
        };
        private(self.prompt())?.write_all(prompt.as_bytes())?;
        private(self.output())?;
        Ok(())
    }

    /// Removes a folder [`Self::create`] made (or began to make) for a Start
    /// that is refused. By name, without listing it: listing needs a free
    /// descriptor, and the refusal may be because there is none.
    pub fn discard_new(&self) {
        let _ = fs::remove_file(self.prompt());
        let _ = fs::remove_file(self.output());
        let _ = fs::remove_file(self.monitor_log());
        // Written just before the monitor is asked for (a refusal for want
        // of a process comes after it).
        let _ = fs::remove_file(self.meta());
        let _ = fs::remove_file(self.meta().with_extension("json.tmp"));
        if fs::remove_dir(&self.dir).is_err() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    /// Rewrites meta.json from the job's record.
    pub fn write_meta(&self, job: &JobRecord) -> io::Result<()> {
        let meta = Meta {
            job_id: &job.job_id,
            status: job.status.name(),
            prompt: &job.prompt,
            cwd: &job.cwd,
            approval_policy: job.approval_policy.name(),
            model: job.model.as_deref(),
            pid: job.pid,
            created_at: &job.created_at,
            started_at: job.started_at.as_deref(),
            finished_at: job.finished_at.as_deref(),
            exit_code: job.exit_code,
            error: job.error.as_deref(),
            output_note: job.output_note.as_deref(),
            monitor_pid: job.monitor_pid,
            monitor_start_time: job.monitor_start_time,
            thread_id: job.thread_id.as_deref(),
            parent_job_id: job.parent_job_id.as_deref(),
            isolation: job.isolation.name(),
            branch: job.branch.as_deref(),
            worktree: job.worktree.as_deref(),
            diffstat: job.diffstat.as_deref(),
            stall_timeout: job.stall_timeout,
            max_duration: job.max_duration,
            reasoning_effort: job.reasoning_effort.as_deref(),
            review: job.review.as_ref(),
            output_schema: job.output_schema.as_deref(),
            worktree_note: job.worktree_note.as_deref(),
            commit_note: job.commit_note.as_deref(),
            agent: job.agent.name(),
        };
        // SQLite is the source of truth; meta.json is rewritten from it, and
        // holds every field a lost row is rebuilt from (see `read_record`).
        write_json_atomic(&self.meta(), &meta, Durability::Atomic)
    }

    /// The job's record as meta.json holds it, for a database that lost its
    /// row. What only the output holds (the summary) starts empty, to be
    /// folded again; fields an older codexd did not write take their
    /// defaults. Err says why the file cannot be used.
    pub fn read_record(&self) -> Result<JobRecord, String> {
        let path = self.meta();
        let text = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let meta: StoredMeta = serde_json::from_slice(&text)
            .map_err(|e| format!("{}: not a job's meta.json: {e}", path.display()))?;
        let status = meta
            .status
            .parse::<JobStatus>()
            .ok()
            .filter(|s| *s != JobStatus::Unspecified && *s != JobStatus::InputRequired)
            .ok_or_else(|| format!("{}: unknown status {:?}", path.display(), meta.status))?;
        let isolation = Isolation::parse(meta.isolation.as_deref().unwrap_or("none"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(JobRecord {
            job_id: JobId::parse(&meta.job_id).map_err(|e| format!("{}: {e}", path.display()))?,
            status,
            prompt: meta.prompt,
            cwd: meta.cwd,
            approval_policy: Policy::parse(&meta.approval_policy)
                .map_err(|e| format!("{}: {e}", path.display()))?,
            model: meta.model,
            pid: meta.pid,
            monitor_pid: meta.monitor_pid,
            monitor_start_time: meta.monitor_start_time,
            exit_code: meta.exit_code,
            error: meta.error,
            created_at: meta.created_at,
            started_at: meta.started_at,
            finished_at: meta.finished_at,
            thread_id: meta.thread_id,
            parent_job_id: meta.parent_job_id,
            isolation,
            branch: meta.branch,
            worktree: meta.worktree,
            diffstat: meta.diffstat,
            output_note: meta.output_note,
            stall_timeout: meta.stall_timeout,
            max_duration: meta.max_duration,
            summary: Summary::default(),
            events_offset: 0,
            reasoning_effort: meta.reasoning_effort,
            review: meta.review,
            output_schema: meta.output_schema,
            worktree_note: meta.worktree_note,
            commit_note: meta.commit_note,
            // A rebuilt job falls back to its wall-clock times.
            run_ms: None,
            agent: meta.agent,
        })
    }

    /// The monitor's record of a started codex, if written.
    pub fn read_monitor_info(&self) -> Option<MonitorInfo> {
        read_json(&self.monitor_info())
    }

    /// The monitor's record of how codex ended, if written.
    pub fn read_exit(&self) -> Option<ExitInfo> {
        read_json(&self.exit())
    }
}

/// meta.json: the fields of the Python tool's meta.json, plus model, created_at, error.
#[derive(Serialize)]
struct Meta<'a> {
    job_id: &'a str,
    status: &'a str,
    prompt: &'a str,
    cwd: &'a str,
    approval_policy: &'a str,
    model: Option<&'a str>,
    pid: Option<i32>,
    created_at: &'a str,
    started_at: Option<&'a str>,
    finished_at: Option<&'a str>,
    exit_code: Option<i32>,
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_note: Option<&'a str>,
    // What a lost row is rebuilt from, beyond the fields above.
    monitor_pid: Option<i32>,
    monitor_start_time: Option<i64>,
    thread_id: Option<&'a str>,
    parent_job_id: Option<&'a str>,
    isolation: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    branch: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    worktree: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diffstat: Option<&'a str>,
    stall_timeout: u32,
    max_duration: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    review: Option<&'a Review>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_schema: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    worktree_note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit_note: Option<&'a str>,
    agent: &'a str,
}

/// meta.json as read back: [`Meta`]'s fields, those an older codexd did not
/// write defaulted.
#[derive(Deserialize)]
struct StoredMeta {
    job_id: String,
    status: String,
    prompt: String,
    cwd: String,
    approval_policy: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    pid: Option<i32>,
    created_at: String,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    finished_at: Option<String>,
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    output_note: Option<String>,
    #[serde(default)]
    monitor_pid: Option<i32>,
    #[serde(default)]
    monitor_start_time: Option<i64>,
    #[serde(default)]
    thread_id: Option<String>,
    #[serde(default)]
    parent_job_id: Option<String>,
    #[serde(default)]
    isolation: Option<String>,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    worktree: Option<String>,
    #[serde(default)]
    diffstat: Option<String>,
    #[serde(default)]
    stall_timeout: u32,
    #[serde(default)]
    max_duration: u32,
    #[serde(default)]
    reasoning_effort: Option<String>,
    #[serde(default)]
    review: Option<Review>,
    #[serde(default)]
    output_schema: Option<String>,
    #[serde(default)]
    worktree_note: Option<String>,
    #[serde(default)]
    commit_note: Option<String>,
    /// Absent from jobs an older codexd recorded: all of them ran codex.
    #[serde(default)]
    agent: crate::engine::agent::Agent,
}

/// monitor.json: who runs the job, so a restarted daemon can find it again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MonitorInfo {
    pub monitor_pid: i32,
    /// The monitor's start time (`proctree::start_time`: clock ticks since
    /// boot on Linux, microseconds since the epoch on macOS), to tell it from
    /// a later process that got the same pid.
    pub monitor_start_time: Option<i64>,
    pub codex_pid: i32,
    /// codex's start time (as for the monitor), so a monitor's orphans are
    /// killed only if the pid still names the same codex.
    #[serde(default)]
    pub codex_start_time: Option<i64>,
    pub started_at: String,
}

/// exit.json: how the job ended, written once by the monitor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExitInfo {
    /// codex's exit code, when it exited normally.
    pub exit_code: Option<i32>,
    /// The signal that ended codex, when one did.
    pub signal: Option<i32>,
    /// True when the job was stopped by a cancel request.
    pub cancelled: bool,
    /// Set when a watchdog stopped the job (`stalled: …` / `timed_out: …`).
    #[serde(default)]
    pub reason: Option<String>,
    /// Set when codex could not be started at all.
    pub spawn_error: Option<String>,
    /// Set when some of codex's output could not be written (a full disk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_note: Option<String>,
    /// How long codex ran, from its spawn to the monitor seeing it end, by
    /// the monotonic clock: the run time a wall-clock jump cannot distort
    /// (`finished_at` minus `started_at` can). Absent from older monitors
    /// and when codex never started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    pub finished_at: String,
}

/// Room for `exit.json`, set aside when codex starts: a file of
/// [`ExitSlot::RESERVED`] bytes, allocated while there is space, that the
/// monitor later overwrites in place and renames over `exit.json`. Rewriting
/// blocks a file already owns needs no new space, so codex's exit status is
/// stored even when codex's own output has filled the disk since.
pub struct ExitSlot {
    reserved: Option<File>,
    tmp: PathBuf,
    path: PathBuf,
}

impl ExitSlot {
    /// Bytes set aside: an exit record is a few hundred bytes; the reasons in
    /// it are clipped well below this.
    pub const RESERVED: usize = 4096;

    /// Sets the room aside, best effort: without it (the disk is already
    /// full) [`Self::store`] writes a new file as usual, and retries.
    pub fn reserve(dir: &JobDir) -> Self {
        let tmp = dir.dir.join("exit.json.reserved");
        let reserved = (|| -> io::Result<File> {
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            allocate(&mut file, Self::RESERVED)?;
            Ok(file)
        })();
        if reserved.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        Self {
            reserved: reserved.ok(),
            tmp,
            path: dir.exit(),
        }
    }

    /// An exit slot with nothing set aside (codex never started).
    pub fn unreserved(dir: &JobDir) -> Self {
        Self {
            reserved: None,
            tmp: dir.dir.join("exit.json.reserved"),
            path: dir.exit(),
        }
    }

    /// Writes `exit` to `exit.json` (fsynced, atomically). Safe to call again
    /// after a failure.
    ///
    /// When the job's folder was removed (or replaced) since the room was set
    /// aside, the room went with it: the rename finds no file (ENOENT), and
    /// would forever. The record is then written as a new file, into the
    /// folder re-created if need be (see [`Self::recreate_folder`]).
    pub fn store(&mut self, exit: &ExitInfo) -> io::Result<()> {
        let Some(file) = self.reserved.as_ref() else {
            return self.store_new(exit);
        };
        use std::os::unix::fs::FileExt;
        let mut text = serde_json::to_vec_pretty(exit).map_err(io::Error::other)?;
        text.push(b'\n');
        file.write_all_at(&text, 0)?;
        file.set_len(text.len() as u64)?;
        file.sync_all()?;
        match fs::rename(&self.tmp, &self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.reserved = None;
                return self.store_new(exit);
            }
            Err(e) => return Err(e),
        }
        self.reserved = None;
        Ok(())
    }

    fn store_new(&self, exit: &ExitInfo) -> io::Result<()> {
        match write_json_atomic(&self.path, exit, Durability::Synced) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.recreate_folder()?;
                write_json_atomic(&self.path, exit, Durability::Synced)
            }
            done => done,
        }
    }

    /// Makes the job's folder again (0700), and `jobs/` above it, but never
    /// the home: a home that is gone was removed on purpose, and a folder
    /// made there would be a home without a database. Fails with
    /// [`FolderGone`] then, which no retry can cure.
    fn recreate_folder(&self) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        let folder = self.path.parent();
        let home = folder.and_then(Path::parent).and_then(Path::parent);
        match (folder, home) {
            (Some(folder), Some(home)) if home.is_dir() => fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(folder),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, FolderGone)),
        }
    }
}

/// A steering codexd hands the job's monitor: the text to send into the
/// running turn (`steer/<n>.json`, written by codexd, SIGUSR1 to the monitor).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SteerNote {
    pub text: String,
}

/// How a steering went, written by the monitor once codex answered
/// (`steer/<n>.done`): `error` is codex's refusal (no turn running, say).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SteerDone {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Gives `file` its first `len` bytes' blocks now. On Linux one
/// `fallocate`: the blocks are the file's at once, with no data written and
/// no fsync, which would cost a Start milliseconds (the monitor reserves the
/// room before it spawns codex, and the Start waits for that spawn).
/// Elsewhere, and where the filesystem has no `fallocate`, the bytes are
/// written and synced: written, not only sized, because a sparse file owns
/// no blocks to rewrite, and synced so that a delayed allocation is made.
fn allocate(file: &mut File, len: usize) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use nix::fcntl::{fallocate, FallocateFlags};
        let size = i64::try_from(len).map_err(io::Error::other)?;
        match fallocate(&*file, FallocateFlags::empty(), 0, size) {
            Ok(()) => return Ok(()),
            Err(nix::errno::Errno::EOPNOTSUPP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    write_out(file, len)
}

/// [`allocate`]'s way where there is no `fallocate` (macOS): the bytes
/// written and synced, which works everywhere (a test runs it on Linux).
fn write_out(file: &mut File, len: usize) -> io::Result<()> {
    file.write_all(&vec![b' '; len])?;
    file.sync_all()
}

/// The error of an exit record with nowhere to go: the job's folder and the
/// home above it were removed.
#[derive(Debug, thiserror::Error)]
#[error("the job's folder and its home were removed; there is nowhere to write exit.json")]
pub struct FolderGone;

impl FolderGone {
    /// True when `e` is this error: retrying cannot help.
    pub fn is(e: &io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<FolderGone>())
    }
}

/// A job folder as it was when the monitor began: which directory it was, so
/// one removed, or removed and made again (repair re-creates missing folders
/// of unfinished jobs), is told from the one the job's files live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderIdentity {
    dev: u64,
    ino: u64,
}

impl FolderIdentity {
    /// The folder's identity now; None when it cannot be looked at.
    pub fn of(dir: &JobDir) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(dir.path()).ok()?;
        Some(Self {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Why the job's files are gone, when `dir` is no longer this folder:
    /// the reason a job ends with then. A folder that cannot be looked at for
    /// another reason (permissions, I/O) is not called removed.
    pub fn removed_reason(&self, dir: &JobDir) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        let removed = match fs::metadata(dir.path()) {
            Ok(meta) => (meta.dev(), meta.ino()) != (self.dev, self.ino),
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        };
        removed.then(|| folder_removed_reason(dir.path()))
    }
}

/// The reason of a job whose folder was removed while it ran.
pub fn folder_removed_reason(dir: &Path) -> String {
    format!(
        "folder_removed: the job folder {} was removed while the job ran, so its output is lost",
        dir.display()
    )
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let text = fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// How much a write must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Atomic against a process crash (rename): mirrors and hints.
    Atomic,
    /// Also fsynced, to survive a power loss: facts nothing else records.
    Synced,
}

/// Writes `value` as JSON to `path` by temp file + rename (+ fsync when `Synced`).
pub fn write_json_atomic<T: Serialize>(
    path: &Path,
    value: &T,
    durability: Durability,
) -> io::Result<()> {
    let mut text = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    text.push(b'\n');
    let tmp = path.with_extension("json.tmp");
    {
        let mut file = File::create(&tmp)?;
        file.write_all(&text)?;
        if durability == Durability::Synced {
            file.sync_all()?;
        }
    }
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn the_exit_records_room_owns_its_blocks_before_codex_starts() {
        let root = tempfile::tempdir().expect("temp dir");
        // This platform's way, and macOS's (written out), run here too.
        for (name, set_aside) in [
            (
                "allocated",
                allocate as fn(&mut File, usize) -> io::Result<()>,
            ),
            ("written", write_out),
        ] {
            let mut file = File::create(root.path().join(name)).expect("create");
            set_aside(&mut file, ExitSlot::RESERVED).expect(name);
            let meta = file.metadata().expect("metadata");
            // Not sparse: rewriting these bytes needs no new space on a full disk.
            assert!(
                meta.blocks() * 512 >= ExitSlot::RESERVED as u64,
                "{name}: {meta:?}"
            );
            assert_eq!(meta.len(), ExitSlot::RESERVED as u64, "{name}");
        }
    }
}
