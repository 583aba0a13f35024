//! The job folders are the truth when the database is not. Every folder
//! holds what its row is rebuilt from (`meta.json`, and `exit.json` /
//! `monitor.json`, which reconcile reads as it always does), so a database
//! that was deleted, lost its WAL, went back to a backup, or is damaged never
//! loses a job:
//!
//! - a damaged database (SQLITE_CORRUPT, SQLITE_NOTADB on open, migration or
//!   first read) is moved aside to `codexd.db.corrupt-<time>` (with its
//!   `-wal` and `-shm`) and a new one made;
//! - every folder under `jobs/` without a row gets its row back from its
//!   `meta.json`, in the order the jobs were created (FIFO holds);
//! - the home keeps a copy of the database's generation id
//!   (`codexd.generation`), so a new or another database where one existed is
//!   said loudly, not met with a silent empty start.
//!
//! Runs at every daemon start (before repair and reconcile) and on demand as
//! `codexd repair` with the daemon stopped.

use std::{
    collections::HashSet,
    fs, io,
    path::{Path, PathBuf},
};

use anyhow::Context;
use codex_async_proto::{paths::Paths, v1::JobStatus};
use tracing::{error, info, warn};

use crate::{
    job::{JobId, JobRecord},
    store::db::{Db, DbError},
    store::jobdir::JobDir,
};

/// The home's copy of its database's generation id.
pub const GENERATION_FILE: &str = "codexd.generation";

/// Whether to look for damage beyond what opening the database meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// At start: what opening, migrating and the first reads meet (cheap).
    Open,
    /// `codexd repair`: also `PRAGMA quick_check` (reads the whole file).
    Thorough,
}

/// Which database this is, against the one the home last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lineage {
    /// The home never recorded one (a new home, or one from before the
    /// generation file).
    First,
    /// The one the home last used.
    Same,
    /// A new database where `was` existed: deleted, or lost with its WAL.
    Vanished { was: String },
    /// Another existing database than `was`: restored or copied over.
    Replaced { was: String },
}

/// What opening the database found and did.
pub struct Opened {
    pub db: Db,
    /// Where a damaged database was moved, and why it was.
    pub moved_aside: Option<(PathBuf, String)>,
    pub lineage: Lineage,
    /// Jobs recorded again from their folders, with their status.
    pub rebuilt: Vec<(JobId, JobStatus)>,
    /// Folders without a row that could not be rebuilt, and why.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Opens the home's database, setting a damaged one aside, and rebuilds
/// every job it lacks from its folder; see the module docs. Logs what it
/// did. The caller holds the home's lock.
pub async fn open(paths: &Paths, check: Check) -> anyhow::Result<Opened> {
    let path = paths.database();
    let jobs_root = paths.jobs();
    let (db, generation, unrecorded, moved_aside) = match probe(&path, &jobs_root, check).await {
        Ok((db, generation, unrecorded)) => (db, generation, unrecorded, None),
        Err(e) if e.is_corrupt() => {
            let why = e.to_string();
            let aside = set_aside(&path)
                .with_context(|| format!("moving the damaged database {} aside", path.display()))?;
            error!(database = %path.display(), moved_to = %aside.display(), error = %why,
                "the database is damaged; moved it aside (kept for inspection) and rebuilding every job from its folder");
            let (db, generation, unrecorded) = probe(&path, &jobs_root, Check::Open)
                .await
                .with_context(|| format!("opening a new database at {}", path.display()))?;
            (db, generation, unrecorded, Some((aside, why)))
        }
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let (id, created) = generation;
    let lineage = lineage(&paths.home, &id, created);
    match &lineage {
        Lineage::Vanished { was } if moved_aside.is_none() => {
            error!(database = %path.display(), was = %was,
            "the database is new, but this home had another one: it was deleted or lost (with its WAL?); rebuilding every job from its folder")
        }
        Lineage::Replaced { was } => warn!(database = %path.display(), was = %was,
            "the database is not the one this home last used (restored from a backup, or copied over?); jobs it lacks are rebuilt from their folders"),
        _ => {}
    }
    // Before the folders are read: a folder a prune was removing is no job.
    let finished = crate::store::prune::finish_interrupted(&db, &paths.jobs())
        .await
        .context("finishing prunes a crash interrupted")?;
    if !finished.is_empty() {
        info!(
            jobs = finished.len(),
            "finished prunes an earlier codexd was doing when it stopped"
        );
    }
    undo_interrupted_worktrees(&jobs_root, &unrecorded).await;
    let (rebuilt, unreadable) = rebuild(&db, &jobs_root, &unrecorded)
        .await
        .context("rebuilding jobs from their folders")?;
    if !rebuilt.is_empty() {
        let count = |f: fn(JobStatus) -> bool| rebuilt.iter().filter(|(_, s)| f(*s)).count();
        warn!(
            rebuilt = rebuilt.len(),
            queued = count(|s| s == JobStatus::Queued),
            running = count(|s| s == JobStatus::Running),
            finished = count(JobStatus::is_terminal),
            "rebuilt jobs the database did not have from their folders: finished ones keep their status and exit code, \
             running ones are re-adopted or settled from exit.json, queued ones run"
        );
    }
    for (folder, why) in &unreadable {
        warn!(folder = %folder.display(), why = %why,
            "folder under jobs/ has no job in the database and cannot be rebuilt (its meta.json is missing or unreadable); left alone");
    }
    if let Err(e) = record_generation(&paths.home, &id) {
        warn!(error = %e, file = GENERATION_FILE, "cannot record the database's generation; a lost database will not be noticed by name");
    }
    Ok(Opened {
        db,
        moved_aside,
        lineage,
        rebuilt,
        unreadable,
    })
}

/// Opens the database and makes the reads everything after depends on, so
/// damage they meet is met here, where it can be set aside: its generation,
/// and which job folders have no row (a folder mid-prune is not one; only
/// `.pruning-` folders change in [`crate::store::prune::finish_interrupted`],
/// which runs after).
async fn probe(
    path: &Path,
    jobs_root: &Path,
    check: Check,
) -> Result<(Db, (String, bool), HashSet<String>), DbError> {
    let db = Db::open(path).await?;
    let read = async {
        if check == Check::Thorough {
            let verdict = db.quick_check().await?;
            if verdict != "ok" {
                return Err(DbError::Damaged(verdict));
            }
        }
        let folders = folder_names(jobs_root);
        Ok((db.generation().await?, db.without_rows(&folders).await?))
    };
    match read.await {
        Ok((generation, unrecorded)) => Ok((db, generation, unrecorded)),
        Err(e) => {
            // Closed before the files are moved: no connection may go on
            // writing to a file set aside.
            db.close().await;
            Err(e)
        }
    }
}

/// Moves `codexd.db` and its `-wal` and `-shm` to `codexd.db.corrupt-<time>`
/// (`-wal`, `-shm`: the names SQLite looks for, so the copy opens whole).
fn set_aside(path: &Path) -> io::Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "codexd.db".into());
    let mut aside = path.with_file_name(format!("{name}.corrupt-{stamp}"));
    let mut n = 1;
    while aside.exists() {
        aside = path.with_file_name(format!("{name}.corrupt-{stamp}-{n}"));
        n += 1;
    }
    fs::rename(path, &aside)?;
    for suffix in ["-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", path.display()));
        let to = PathBuf::from(format!("{}{suffix}", aside.display()));
        match fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(aside)
}

/// Compares the database's generation with the home's copy.
fn lineage(home: &Path, id: &str, created: bool) -> Lineage {
    let recorded = fs::read_to_string(home.join(GENERATION_FILE))
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty());
    match recorded {
        None => Lineage::First,
        Some(was) if was == id => Lineage::Same,
        Some(was) if created => Lineage::Vanished { was },
        Some(was) => Lineage::Replaced { was },
    }
}

fn record_generation(home: &Path, id: &str) -> io::Result<()> {
    let path = home.join(GENERATION_FILE);
    let tmp = home.join(format!("{GENERATION_FILE}.tmp"));
    fs::write(&tmp, format!("{id}\n"))?;
    fs::rename(&tmp, &path)
}

/// The folders of worktree Starts a crash interrupted before the job was
/// recorded (during `git worktree add`, say): no row, no meta.json, and the
/// worktree's intent file. Nobody was told of these jobs; their half-made
/// worktree and branch are undone (a branch with commits is kept, and so is
/// the folder, with a warning), then the folder goes. Run only while no
/// Start can be in progress (the home's lock held, nothing served yet).
async fn undo_interrupted_worktrees(jobs_root: &Path, unrecorded: &HashSet<String>) {
    for name in unrecorded {
        let Ok(id) = JobId::parse(name) else {
            continue;
        };
        let dir = JobDir::new(jobs_root, &id);
        if !crate::worktree::is_interrupted(dir.path()) || dir.read_record().is_ok() {
            continue;
        }
        match crate::worktree::undo_interrupted(dir.path()).await {
            Ok(()) => match fs::remove_dir_all(dir.path()) {
                Ok(()) => {
                    info!(job_id = %id, "removed a worktree Start interrupted before it was recorded: its worktree, branch and folder")
                }
                Err(e) => {
                    warn!(folder = %dir.path().display(), error = %e, "cannot remove the folder of an interrupted worktree Start")
                }
            },
            Err(e) => warn!(folder = %dir.path().display(), error = %e,
                "a worktree Start was interrupted before it was recorded; its folder is left alone"),
        }
    }
}

/// Records every job whose folder is among `unrecorded` (folders without a
/// row, from [`Db::without_rows`]) and still there, from its meta.json. A folder that holds only what a Start writes before its row
/// (the prompt and an empty output) is not a job anyone saw; repair removes
/// it. Returns the jobs recorded and the folders that could not be.
pub async fn rebuild(
    db: &Db,
    jobs_root: &Path,
    unrecorded: &HashSet<String>,
) -> Result<(Vec<(JobId, JobStatus)>, Vec<(PathBuf, String)>), DbError> {
    let (found, unreadable) = read_folders(
        jobs_root,
        unrecorded
            .iter()
            .filter(|name| jobs_root.join(name.as_str()).is_dir()),
    );
    let mut records: Vec<JobRecord> = found;
    // Creation order is the queue's order; RFC 3339 times of one writer
    // (UTC, milliseconds) sort as text.
    records.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    db.insert_rebuilt(&records).await?;
    let rebuilt = records
        .iter()
        .map(|r| (r.job_id.clone(), r.status))
        .collect();
    if !records.is_empty() {
        info!(jobs = records.len(), "recorded jobs from their folders");
    }
    Ok((rebuilt, unreadable))
}

/// The names of the folders under `jobs_root` that may be jobs: not files,
/// not a prune's `.pruning-` folders.
pub fn folder_names(jobs_root: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(jobs_root) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !crate::store::prune::is_pruning(name))
        .collect()
}

/// The records of folders under `jobs_root` that have no row in `known`,
/// and the folders among them that cannot be read as a job.
pub fn unrecorded(
    jobs_root: &Path,
    known: &HashSet<String>,
) -> (Vec<JobRecord>, Vec<(PathBuf, String)>) {
    let names = folder_names(jobs_root);
    read_folders(
        jobs_root,
        names.iter().filter(|name| !known.contains(*name)),
    )
}

/// The records of the folders named, and those that cannot be read as a job.
fn read_folders<'a>(
    jobs_root: &Path,
    names: impl Iterator<Item = &'a String>,
) -> (Vec<JobRecord>, Vec<(PathBuf, String)>) {
    let mut found = Vec::new();
    let mut unreadable = Vec::new();
    for name in names {
        let path = jobs_root.join(name);
        let Ok(id) = JobId::parse(name) else {
            unreadable.push((path.clone(), "not named like a job id".into()));
            continue;
        };
        let dir = JobDir::new(jobs_root, &id);
        match dir.read_record() {
            Ok(record) if record.job_id == *name => found.push(record),
            Ok(record) => unreadable.push((
                path.clone(),
                format!("its meta.json is of job {:?}", record.job_id),
            )),
            Err(_) if crate::store::repair::is_unrecorded_start(&path, name) => {}
            Err(why) => unreadable.push((path.clone(), why)),
        }
    }
    (found, unreadable)
}
