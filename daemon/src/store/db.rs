//! The job database: one SQLite file in WAL mode, migrations applied at open.
//!
//! Every state change is one statement (so one transaction); queries are
//! runtime-checked so building needs no DATABASE_URL.

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use codex_async_proto::v1::JobStatus;
use sqlx::{
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
    Row, SqlitePool,
};

use tokio::sync::{broadcast, Notify};
use tracing::{error, info, warn};

use crate::{
    job::events::Summary,
    job::{Isolation, JobId, JobRecord, Policy},
    store::pending::{Change, Pending},
};

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database holds an unknown status {0:?}")]
    BadStatus(String),
    #[error("database holds an unknown isolation {0:?}")]
    BadIsolation(String),
    #[error("database holds an unknown approval policy {0:?}")]
    BadPolicy(String),
    #[error("database holds a malformed job id {0:?}")]
    BadJobId(String),
    #[error("job summary: {0}")]
    Summary(String),
    #[error("job review target: {0}")]
    Review(String),
    #[error("database disk image is damaged: quick_check says {0}")]
    Damaged(String),
}

impl DbError {
    /// Whether another connection held the database locked past the busy
    /// timeout (SQLITE_BUSY, SQLITE_LOCKED).
    pub fn is_busy(&self) -> bool {
        self.primary_code()
            .is_some_and(|code| matches!(code, 5 | 6))
    }

    /// Whether SQLite found the file damaged or not a database at all
    /// (SQLITE_CORRUPT, SQLITE_NOTADB): nothing but another file can cure it.
    pub fn is_corrupt(&self) -> bool {
        let sqlx_error = match self {
            DbError::Sqlx(e)
            | DbError::Migrate(
                sqlx::migrate::MigrateError::Execute(e)
                | sqlx::migrate::MigrateError::ExecuteMigration(e, _),
            ) => e,
            DbError::Damaged(_) => return true,
            _ => return false,
        };
        match sqlx_error {
            sqlx::Error::Database(db) => db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .is_some_and(|code| matches!(code & 0xff, 11 | 26)),
            _ => false,
        }
    }

    /// SQLite's primary result code (the low byte of an extended one), for
    /// an error SQLite returned.
    fn primary_code(&self) -> Option<i32> {
        match self {
            DbError::Sqlx(sqlx::Error::Database(db)) => db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .map(|code| code & 0xff),
            _ => None,
        }
    }

    /// Whether the failure can pass by itself (a full disk, a read-only or
    /// failing filesystem, a lock held past the busy timeout), so a state
    /// change that met it is kept and retried rather than lost.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Sqlx(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut) => true,
            // BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN.
            _ => self
                .primary_code()
                .is_some_and(|code| matches!(code, 5 | 6 | 8 | 10 | 13 | 14)),
        }
    }
}

/// Counts of jobs per status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub error: u64,
    pub cancelled: u64,
}

impl Counts {
    fn of(&mut self, status: JobStatus) -> &mut u64 {
        match status {
            JobStatus::Queued | JobStatus::Unspecified => &mut self.queued,
            // Recorded as running: input_required is what the API shows.
            JobStatus::Running | JobStatus::InputRequired => &mut self.running,
            JobStatus::Done => &mut self.done,
            JobStatus::Error => &mut self.error,
            JobStatus::Cancelled => &mut self.cancelled,
        }
    }
}

/// SQLite connections in the pool (each has its own thread). Two: one write
/// and one read at a time is what WAL mode runs in parallel anyway, and each
/// connection kept costs a thread and its page cache for the daemon's whole
/// life (BENCHMARKS 5a).
const CONNECTIONS: u32 = 2;

/// How soon kept changes are tried again, and the longest wait between tries.
const DRAIN_FIRST: Duration = Duration::from_millis(200);
const DRAIN_MAX: Duration = Duration::from_secs(2);

/// The job store.
#[derive(Clone)]
pub struct Db {
    pool: SqlitePool,
    /// Changes SQLite could not take yet, and the task that writes them.
    pending: Arc<Pending>,
    drain: Arc<Notify>,
    /// The id of every job whose waiting changes have all been written.
    drained: broadcast::Sender<String>,
}

/// How much of each prompt [`Db::list`] reads: a list's head and one more
/// character, which tells a prompt that was cut (the SQL has it literally).
pub const LISTED_PROMPT_CHARS: usize = 201;
const _: () = assert!(LISTED_PROMPT_CHARS == codex_async_proto::values::LIST_PROMPT_CHARS + 1);

/// `SELECT <every column> FROM jobs <rest>`, as a static string (sqlx 0.9
/// accepts only audited, non-dynamic SQL).
macro_rules! select_jobs {
    ($rest:literal) => {
        select_jobs!("prompt", $rest)
    };
    ($prompt:literal, $rest:literal) => {
        concat!(
            "SELECT job_id, status, ",
            $prompt,
            ", cwd, approval_policy, model, pid, monitor_pid, ",
            "monitor_start_time, exit_code, error, created_at, started_at, finished_at, ",
            "thread_id, parent_job_id, isolation, branch, worktree, diffstat, stall_timeout, ",
            "max_duration, summary, events_offset, output_note, reasoning_effort, review, ",
            "output_schema, worktree_note, commit_note, run_ms, agent FROM jobs ",
            $rest
        )
    };
}

impl Db {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub async fn open(path: &Path) -> Result<Self, DbError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a commit survives a process crash; only an OS
            // crash can lose the last transactions, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(CONNECTIONS)
            // Connections (each a thread) are kept once made (see below).
            .idle_timeout(None)
            .max_lifetime(None)
            // A ping before every query is for network databases; with a
            // local file it only doubles each query's round trips to the
            // connection's worker thread.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("../migrations").run(&pool).await?;
        // Every connection is made now, after the migrations, and kept: a
        // daemon that can no longer start a thread (the process limit) still
        // reads and writes its jobs. Not with `min_connections`, whose
        // background opens race the first connection's switch of a new
        // database to WAL, which SQLite answers with "database is locked".
        let mut warm = Vec::with_capacity(CONNECTIONS as usize);
        for _ in 0..CONNECTIONS {
            warm.push(pool.acquire().await?);
        }
        drop(warm);
        let db = Self {
            pool,
            pending: Arc::default(),
            drain: Arc::default(),
            drained: broadcast::channel(1024).0,
        };
        tokio::spawn(db.clone().drain_pending());
        Ok(db)
    }

    /// Writes a state change, or, when SQLite cannot take it now for a reason
    /// that passes (full disk, read-only, I/O error, busy), keeps it to write
    /// later ([`crate::store::pending`]). Returns whether the job's state changed
    /// (as far as is known, for a change that waits).
    async fn change(&self, job_id: &str, change: Change) -> Result<bool, DbError> {
        if !self.pending.has(job_id) {
            match self.write(job_id, &change).await {
                Ok(changed) => return Ok(changed),
                Err(e) if e.is_transient() => {
                    warn!(job_id, error = %e, "cannot record a state change yet; kept and retried until it is");
                }
                Err(e) => return Err(e),
            }
        }
        let changed = match self.get(job_id).await? {
            Some(mut job) => change.apply(&mut job),
            None => false,
        };
        self.pending.push(job_id, change);
        self.drain.notify_one();
        Ok(changed)
    }

    /// One state change as one statement.
    async fn write(&self, job_id: &str, change: &Change) -> Result<bool, DbError> {
        let done = match change {
            Change::Running {
                monitor_pid,
                monitor_start_time,
                started_at,
            } => {
                sqlx::query(
                    "UPDATE jobs SET status = 'running', monitor_pid = ?, monitor_start_time = ?, \
                     started_at = ? WHERE job_id = ? AND status IN ('queued', 'running')",
                )
                .bind(monitor_pid)
                .bind(monitor_start_time)
                .bind(started_at)
                .bind(job_id)
                .execute(&self.pool)
                .await?
            }
            Change::Pid(pid) => {
                sqlx::query("UPDATE jobs SET pid = ? WHERE job_id = ?")
                    .bind(pid)
                    .bind(job_id)
                    .execute(&self.pool)
                    .await?
            }
            Change::Finish {
                status,
                exit_code,
                error,
                finished_at,
            } => {
                sqlx::query(
                    "UPDATE jobs SET status = ?, exit_code = ?, error = ?, finished_at = ? \
                     WHERE job_id = ? AND status IN ('queued', 'running')",
                )
                .bind(status.name())
                .bind(exit_code)
                .bind(error)
                .bind(finished_at)
                .bind(job_id)
                .execute(&self.pool)
                .await?
            }
            Change::Summary { summary, offset } => {
                let json =
                    serde_json::to_string(summary).map_err(|e| DbError::Summary(e.to_string()))?;
                sqlx::query(
                    "UPDATE jobs SET summary = ?, events_offset = ?, thread_id = COALESCE(?, thread_id) \
                     WHERE job_id = ?",
                )
                .bind(json)
                .bind(i64::try_from(*offset).unwrap_or(i64::MAX))
                .bind(&summary.thread_id)
                .bind(job_id)
                .execute(&self.pool)
                .await?
            }
            Change::Diffstat { stat, note } => {
                sqlx::query("UPDATE jobs SET diffstat = ?, commit_note = ? WHERE job_id = ?")
                    .bind(stat)
                    .bind(note)
                    .bind(job_id)
                    .execute(&self.pool)
                    .await?
            }
            Change::RunMs(ms) => {
                sqlx::query("UPDATE jobs SET run_ms = ? WHERE job_id = ?")
                    .bind(i64::try_from(*ms).unwrap_or(i64::MAX))
                    .bind(job_id)
                    .execute(&self.pool)
                    .await?
            }
            Change::OutputNote(note) => {
                sqlx::query("UPDATE jobs SET output_note = ? WHERE job_id = ?")
                    .bind(note)
                    .bind(job_id)
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }

    /// Writes waiting changes as soon as SQLite takes them: each job's in
    /// order, one job's stuck change never holding up another's. Runs for the
    /// life of the pool.
    async fn drain_pending(self) {
        let mut backoff = DRAIN_FIRST;
        loop {
            if self.pending.is_empty() {
                backoff = DRAIN_FIRST;
                self.drain.notified().await;
            } else {
                tokio::time::sleep(backoff).await;
            }
            if self.pool.is_closed() {
                return;
            }
            let mut stuck = false;
            for job_id in self.pending.job_ids() {
                // Each job's changes in order, until one does not go through.
                while let Some(change) = self.pending.head(&job_id) {
                    match self.write(&job_id, &change).await {
                        Ok(_) => {}
                        Err(e) if e.is_transient() => {
                            stuck = true;
                            break;
                        }
                        Err(e) => {
                            // It will never go through: drop it, loudly.
                            error!(job_id, error = %e, ?change, "a kept state change cannot be written; dropped");
                        }
                    }
                    if self.pending.pop(&job_id) {
                        info!(job_id, "kept state changes written to the database");
                        let _ = self.drained.send(job_id.clone());
                    }
                }
            }
            backoff = if stuck {
                (backoff * 2).min(DRAIN_MAX)
            } else {
                DRAIN_FIRST
            };
        }
    }

    /// Subscribes to jobs whose kept changes have all reached the database.
    pub fn drained(&self) -> broadcast::Receiver<String> {
        self.drained.subscribe()
    }

    /// How many state changes wait to be written.
    pub fn pending_changes(&self) -> usize {
        self.pending.len()
    }

    /// Records a new job.
    pub async fn insert(&self, job: &JobRecord) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO jobs (job_id, status, prompt, cwd, approval_policy, model, created_at, \
             thread_id, parent_job_id, isolation, branch, worktree, stall_timeout, max_duration, \
             reasoning_effort, review, output_schema, worktree_note, agent) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(job.job_id.as_str())
        .bind(job.status.name())
        .bind(&job.prompt)
        .bind(&job.cwd)
        .bind(job.approval_policy.name())
        .bind(&job.model)
        .bind(&job.created_at)
        .bind(&job.thread_id)
        .bind(&job.parent_job_id)
        .bind(job.isolation.name())
        .bind(&job.branch)
        .bind(&job.worktree)
        .bind(job.stall_timeout)
        .bind(job.max_duration)
        .bind(&job.reasoning_effort)
        .bind(
            job.review
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| DbError::Review(e.to_string()))?,
        )
        .bind(&job.output_schema)
        .bind(&job.worktree_note)
        .bind(job.agent.name())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records jobs rebuilt from their folders (the database lost them), in
    /// the order given (their `seq`, so FIFO order holds), in one
    /// transaction. A job that has a row already is left as it is. Returns
    /// how many were recorded.
    pub async fn insert_rebuilt(&self, jobs: &[JobRecord]) -> Result<usize, DbError> {
        let mut tx = self.pool.begin().await?;
        let mut inserted = 0;
        for job in jobs {
            let review = job
                .review
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| DbError::Review(e.to_string()))?;
            let done = sqlx::query(
                "INSERT OR IGNORE INTO jobs (job_id, status, prompt, cwd, approval_policy, model, \
                 pid, monitor_pid, monitor_start_time, exit_code, error, created_at, started_at, \
                 finished_at, thread_id, parent_job_id, isolation, branch, worktree, diffstat, \
                 stall_timeout, max_duration, output_note, reasoning_effort, review, \
                 output_schema, worktree_note, commit_note, agent) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(job.job_id.as_str())
            .bind(job.status.name())
            .bind(&job.prompt)
            .bind(&job.cwd)
            .bind(job.approval_policy.name())
            .bind(&job.model)
            .bind(job.pid)
            .bind(job.monitor_pid)
            .bind(job.monitor_start_time)
            .bind(job.exit_code)
            .bind(&job.error)
            .bind(&job.created_at)
            .bind(&job.started_at)
            .bind(&job.finished_at)
            .bind(&job.thread_id)
            .bind(&job.parent_job_id)
            .bind(job.isolation.name())
            .bind(&job.branch)
            .bind(&job.worktree)
            .bind(&job.diffstat)
            .bind(job.stall_timeout)
            .bind(job.max_duration)
            .bind(&job.output_note)
            .bind(&job.reasoning_effort)
            .bind(review)
            .bind(&job.output_schema)
            .bind(&job.worktree_note)
            .bind(&job.commit_note)
            .bind(job.agent.name())
            .execute(&mut *tx)
            .await?;
            inserted += usize::try_from(done.rows_affected()).unwrap_or(0);
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Finished jobs whose output was never folded into their summary (rows
    /// rebuilt from their folders by `codexd repair`; also jobs that printed
    /// nothing).
    pub async fn finished_unfolded(&self) -> Result<Vec<String>, DbError> {
        let rows = sqlx::query(
            // Named: without statistics SQLite prefers the status index,
            // which reads every finished row (migrations/0009).
            "SELECT job_id FROM jobs INDEXED BY jobs_unfolded WHERE events_offset = 0 \
             AND status IN ('done', 'error', 'cancelled') ORDER BY seq ASC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| row.try_get::<String, _>(0).map_err(DbError::from))
            .collect()
    }

    /// Which of `ids` (job folders' names) have no row. Asked at every
    /// start, so its cost follows the folders, not the rows, and no id
    /// leaves SQLite that has a folder: the names go in as one JSON array
    /// and SQLite looks each up on the job_id index (0.3 µs a name: 12,000
    /// folders beside 100,000 rows take 3.5 ms). Reading every id out
    /// instead took 54 ms at 100,000 rows (sqlx hands rows over one by
    /// one), ~80 ms of a 100 ms start with the set built from them.
    pub async fn without_rows(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashSet<String>, DbError> {
        if ids.is_empty() {
            return Ok(std::collections::HashSet::new());
        }
        // A list of strings always serializes; the error is kept anyway.
        let names = serde_json::to_string(ids)
            .map_err(|e| DbError::Sqlx(sqlx::Error::Encode(Box::new(e))))?;
        let missing: Vec<String> = sqlx::query_scalar(
            "SELECT value FROM json_each(?1) \
             WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE job_id = value)",
        )
        .bind(names)
        .fetch_all(&self.pool)
        .await?;
        Ok(missing.into_iter().collect())
    }

    /// This database's generation id (see `migrations/0006_generation.sql`),
    /// made now if it has none; true when it was made now: the database is
    /// new.
    pub async fn generation(&self) -> Result<(String, bool), DbError> {
        let row = sqlx::query("SELECT id FROM generation LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = row {
            return Ok((row.try_get(0)?, false));
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        sqlx::query("INSERT INTO generation (id, created_at) VALUES (?, ?)")
            .bind(&id)
            .bind(crate::job::now_rfc3339())
            .execute(&self.pool)
            .await?;
        Ok((id, true))
    }

    /// Marks a job running under its monitor. Returns false when the job had
    /// already ended (cancelled while it was starting).
    pub async fn set_running(
        &self,
        job_id: &str,
        monitor_pid: i32,
        monitor_start_time: Option<i64>,
        started_at: &str,
    ) -> Result<bool, DbError> {
        let change = Change::Running {
            monitor_pid,
            monitor_start_time,
            started_at: started_at.to_string(),
        };
        self.change(job_id, change).await
    }

    /// Records codex's pid, once its monitor has started it.
    pub async fn set_pid(&self, job_id: &str, pid: i32) -> Result<(), DbError> {
        self.change(job_id, Change::Pid(pid)).await.map(drop)
    }

    /// Records a job's end. Only a job that has not ended yet changes, so a
    /// finished job can never be rewritten. Returns whether it changed.
    pub async fn finish(
        &self,
        job_id: &str,
        status: JobStatus,
        exit_code: Option<i32>,
        error: Option<&str>,
        finished_at: &str,
    ) -> Result<bool, DbError> {
        let change = Change::Finish {
            status,
            exit_code,
            error: error.map(str::to_string),
            finished_at: finished_at.to_string(),
        };
        self.change(job_id, change).await
    }

    /// Stores the folded event summary and how far into the output it reaches.
    pub async fn set_summary(
        &self,
        job_id: &str,
        summary: &Summary,
        offset: u64,
    ) -> Result<(), DbError> {
        let change = Change::Summary {
            summary: Box::new(summary.clone()),
            offset,
        };
        self.change(job_id, change).await.map(drop)
    }

    /// Forgets a worktree job's branch and worktree (removed: codex never ran).
    pub async fn clear_worktree(&self, job_id: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE jobs SET branch = NULL, worktree = NULL WHERE job_id = ?")
            .bind(job_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores how long codex ran, by the monitor's monotonic clock.
    pub async fn set_run_ms(&self, job_id: &str, ms: u64) -> Result<(), DbError> {
        self.change(job_id, Change::RunMs(ms)).await.map(drop)
    }

    /// Stores why some of a job's output is missing.
    pub async fn set_output_note(&self, job_id: &str, note: &str) -> Result<(), DbError> {
        self.change(job_id, Change::OutputNote(note.to_string()))
            .await
            .map(drop)
    }

    /// Stores the diffstat of a worktree job's branch, and what its end
    /// commit left out or why it failed.
    pub async fn set_diffstat(
        &self,
        job_id: &str,
        diffstat: &str,
        note: Option<&str>,
    ) -> Result<(), DbError> {
        self.change(
            job_id,
            Change::Diffstat {
                stat: diffstat.to_string(),
                note: note.map(str::to_string),
            },
        )
        .await
        .map(drop)
    }

    /// One job, if it exists.
    pub async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, DbError> {
        let row = sqlx::query(select_jobs!("WHERE job_id = ?"))
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| self.record(&r)).transpose()
    }

    /// A job's record as read, with its waiting changes applied.
    fn record(&self, row: &SqliteRow) -> Result<JobRecord, DbError> {
        let mut job = from_row(row)?;
        self.pending.overlay(&mut job);
        Ok(job)
    }

    /// Up to `limit` jobs, newest first, optionally of one status; each
    /// prompt only its head, its first [`LISTED_PROMPT_CHARS`] characters.
    pub async fn list(
        &self,
        limit: u32,
        status: Option<JobStatus>,
    ) -> Result<Vec<JobRecord>, DbError> {
        // A list shows prompts' heads (values::LIST_PROMPT_CHARS, plus one
        // to tell a cut one): reading whole prompts would hold up to a GiB
        // for a thousand jobs with 1 MiB prompts.
        let rows = match status {
            Some(status) => {
                sqlx::query(select_jobs!(
                    "substr(prompt, 1, 201) AS prompt",
                    "WHERE status = ? ORDER BY seq DESC LIMIT ?"
                ))
                .bind(status.name())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(select_jobs!(
                    "substr(prompt, 1, 201) AS prompt",
                    "ORDER BY seq DESC LIMIT ?"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|r| self.record(r))
            .filter(|job| match (job, status) {
                // A kept change may have moved the job out of that status.
                (Ok(job), Some(status)) => job.status == status,
                _ => true,
            })
            .collect()
    }

    /// Jobs that have not ended (queued or running), oldest first.
    pub async fn unfinished(&self) -> Result<Vec<JobRecord>, DbError> {
        let rows = sqlx::query(select_jobs!(
            "WHERE status IN ('queued', 'running') ORDER BY seq ASC"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| self.record(r))
            .filter(|job| job.as_ref().map_or(true, |j| !j.status.is_terminal()))
            .collect()
    }

    /// The queued job that was accepted first (FIFO start order), if fewer
    /// than `max_running` jobs run: the scheduler's question in one query.
    pub async fn next_to_start(&self, max_running: u64) -> Result<Option<JobRecord>, DbError> {
        let limit = i64::try_from(max_running).unwrap_or(i64::MAX);
        let row = sqlx::query(select_jobs!(
            "WHERE status = 'queued' \
             AND (SELECT COUNT(*) FROM jobs WHERE status = 'running') < ? \
             ORDER BY seq ASC LIMIT 1"
        ))
        .bind(limit)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| self.record(&r)).transpose()
    }

    /// Every job, oldest first.
    pub async fn all(&self) -> Result<Vec<JobRecord>, DbError> {
        let rows = sqlx::query(select_jobs!("ORDER BY seq ASC"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| self.record(r)).collect()
    }

    /// How many jobs are in each status.
    pub async fn counts(&self) -> Result<Counts, DbError> {
        let rows = sqlx::query("SELECT status, COUNT(*) FROM jobs GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = Counts::default();
        for row in rows {
            let status: String = row.try_get(0)?;
            let n: i64 = row.try_get(1)?;
            let n = u64::try_from(n).unwrap_or(0);
            match parse_status(&status)? {
                JobStatus::Queued => counts.queued = n,
                JobStatus::Running | JobStatus::InputRequired => counts.running = n,
                JobStatus::Done => counts.done = n,
                JobStatus::Error => counts.error = n,
                JobStatus::Cancelled => counts.cancelled = n,
                JobStatus::Unspecified => {}
            }
        }
        // Jobs whose kept changes move them to another status count there.
        for job_id in self.pending.job_ids() {
            let row = sqlx::query(select_jobs!("WHERE job_id = ?"))
                .bind(&job_id)
                .fetch_optional(&self.pool)
                .await?;
            let Some(row) = row else { continue };
            let mut job = from_row(&row)?;
            let before = job.status;
            self.pending.overlay(&mut job);
            if job.status != before {
                *counts.of(before) = counts.of(before).saturating_sub(1);
                *counts.of(job.status) += 1;
            }
        }
        Ok(counts)
    }

    /// SQLite's `PRAGMA quick_check`: "ok", or the first problems it found.
    pub async fn quick_check(&self) -> Result<String, DbError> {
        let rows = sqlx::query("PRAGMA quick_check")
            .fetch_all(&self.pool)
            .await?;
        let said: Vec<String> = rows
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        Ok(said.join("; "))
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn parse_status(s: &str) -> Result<JobStatus, DbError> {
    JobStatus::from_str(s).map_err(|_| DbError::BadStatus(s.to_string()))
}

fn from_row(row: &SqliteRow) -> Result<JobRecord, DbError> {
    let status: String = row.try_get("status")?;
    Ok(JobRecord {
        job_id: {
            let id: String = row.try_get("job_id")?;
            JobId::parse(&id).map_err(|_| DbError::BadJobId(id))?
        },
        status: parse_status(&status)?,
        prompt: row.try_get("prompt")?,
        cwd: row.try_get("cwd")?,
        approval_policy: {
            let name: String = row.try_get("approval_policy")?;
            Policy::parse(&name).map_err(|_| DbError::BadPolicy(name))?
        },
        model: row.try_get("model")?,
        pid: row.try_get("pid")?,
        monitor_pid: row.try_get("monitor_pid")?,
        monitor_start_time: row.try_get("monitor_start_time")?,
        exit_code: row.try_get("exit_code")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        thread_id: row.try_get("thread_id")?,
        parent_job_id: row.try_get("parent_job_id")?,
        isolation: {
            let name: String = row.try_get("isolation")?;
            Isolation::parse(&name).map_err(|_| DbError::BadIsolation(name))?
        },
        branch: row.try_get("branch")?,
        worktree: row.try_get("worktree")?,
        diffstat: row.try_get("diffstat")?,
        stall_timeout: row.try_get("stall_timeout")?,
        max_duration: row.try_get("max_duration")?,
        // A summary that no longer parses (written by another version) is rebuilt empty.
        summary: row
            .try_get::<Option<String>, _>("summary")?
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default(),
        events_offset: u64::try_from(row.try_get::<i64, _>("events_offset")?).unwrap_or(0),
        output_note: row.try_get("output_note")?,
        reasoning_effort: row.try_get("reasoning_effort")?,
        review: match row.try_get::<Option<String>, _>("review")? {
            None => None,
            // Unlike a summary, a review target cannot be rebuilt: a job
            // whose target no longer reads must not run as a plain task.
            Some(json) => Some(
                serde_json::from_str(&json)
                    .map_err(|e| DbError::Review(format!("{json:?}: {e}")))?,
            ),
        },
        output_schema: row.try_get("output_schema")?,
        worktree_note: row.try_get("worktree_note")?,
        commit_note: row.try_get("commit_note")?,
        run_ms: row
            .try_get::<Option<i64>, _>("run_ms")?
            .and_then(|ms| u64::try_from(ms).ok()),
        // A name this codexd does not know (a newer one wrote it) reads as
        // the default rather than making the job unreadable.
        agent: crate::engine::agent::Agent::parse(row.try_get::<&str, _>("agent")?)
            .unwrap_or(crate::engine::agent::DEFAULT),
    })
}

/// Pruning (`codexd prune`): kept apart from the state changes above.
impl Db {
    /// Finished jobs (done, error, cancelled) that ended before `cutoff`
    /// (RFC 3339), oldest first. Times are compared as instants (julianday), so
    /// any offset or precision compares correctly; an unparsable time never matches.
    pub async fn finished_before(&self, cutoff: &str) -> Result<Vec<JobRecord>, DbError> {
        let rows = sqlx::query(select_jobs!(
            "WHERE status IN ('done', 'error', 'cancelled') \
             AND julianday(finished_at) < julianday(?) ORDER BY seq ASC"
        ))
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.record(r)).collect()
    }

    /// Every job on `branch` (a worktree job and its replies), oldest first.
    pub async fn on_branch(&self, branch: &str) -> Result<Vec<JobRecord>, DbError> {
        let rows = sqlx::query(select_jobs!("WHERE branch = ? ORDER BY seq ASC"))
            .bind(branch)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| self.record(r)).collect()
    }

    /// Deletes a job that never started (a Start refused for want of a
    /// process to run it). Returns false unless it was still queued.
    pub async fn delete_queued(&self, job_id: &str) -> Result<bool, DbError> {
        let done = sqlx::query("DELETE FROM jobs WHERE job_id = ? AND status = 'queued'")
            .bind(job_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a finished job's record. Returns false when the job does not
    /// exist or has not finished (a running job is never deleted).
    pub async fn delete_finished(&self, job_id: &str) -> Result<bool, DbError> {
        let done = sqlx::query(
            "DELETE FROM jobs WHERE job_id = ? AND status IN ('done', 'error', 'cancelled')",
        )
        .bind(job_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`Db::without_rows`] names exactly the folders without a row, for a
    /// few folders and for many, a name that is no job id among them.
    #[tokio::test(flavor = "current_thread")]
    async fn without_rows_names_the_folders_without_a_row_few_or_many() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open(&dir.path().join("codexd.db"))
            .await
            .expect("open the database");
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < 3000) \
             INSERT INTO jobs (job_id, status, prompt, cwd, approval_policy, created_at) \
             SELECT printf('%012x', i), 'done', 'p', '/', 'suggest', '2026-01-01T00:00:00Z' FROM n",
        )
        .execute(&db.pool)
        .await
        .expect("insert 3000 jobs");
        let id = |i: usize| format!("{i:012x}");

        let few = vec![id(1), id(2999), id(3000), "not-a-job".to_string()];
        let missing = db.without_rows(&few).await.expect("few");
        assert_eq!(
            missing,
            [id(3000), "not-a-job".to_string()].into_iter().collect()
        );

        let many: Vec<String> = (500..3100).map(id).collect();
        let missing = db.without_rows(&many).await.expect("many");
        assert_eq!(missing, (3000..3100).map(id).collect());

        assert!(db.without_rows(&[]).await.expect("none").is_empty());
    }
}
