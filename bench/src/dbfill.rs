//! Filling a daemon's database with finished jobs, written straight into
//! SQLite while the daemon is stopped (the schema is `migrations/*.sql`).

use std::{path::Path, time::Duration};

use anyhow::Context;
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode},
    Connection, SqliteConnection,
};
use tokio::runtime::Runtime;

/// The summary of a typical finished job, as the daemon stores it.
const SUMMARY: &str = r#"{"thread_id":"0199a1b2-c3d4-7e8f-9a0b-1c2d3e4f5a6b","activity":"done","final_message":"All tests pass. I changed the tail reader to seek from the end and added a test for a 1 GiB file.","files_changed":[{"path":"src/tail.rs","kind":"update"},{"path":"tests/tail.rs","kind":"add"}],"commands":[{"id":"item_1","command":"cargo test","exit_code":0,"status":"completed"}],"commands_count":1,"usage":{"input_tokens":12000,"cached_input_tokens":8000,"output_tokens":900},"error_message":null}"#;

/// Inserts `count` finished jobs (status done, unique 12-hex ids) into the
/// database at `db`, in one statement (so one transaction).
pub fn fill(rt: &Runtime, db: &Path, work: &Path, count: u64) -> anyhow::Result<()> {
    rt.block_on(async {
        let options = SqliteConnectOptions::new()
            .filename(db)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .with_context(|| format!("opening {}", db.display()))?;
        // One statement generating every row inside SQLite: 100,000 rows take
        // well under a second (row-by-row binds from Rust take several).
        // Times are spread over minutes so they look real and sort as they should.
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1) \
             INSERT INTO jobs (job_id, status, prompt, cwd, approval_policy, pid, exit_code, \
               created_at, started_at, finished_at, summary, events_offset, thread_id) \
             SELECT printf('%012x', 193514046488576 + i), 'done', \
               'Refactor module ' || i || ' so that the tail of the output is read by seeking from the end; run the tests.', \
               ?2, 'suggest', 10000 + i % 50000, 0, \
               strftime('%Y-%m-%dT%H:%M:%SZ', '2026-01-01', '+' || i || ' minutes'), \
               strftime('%Y-%m-%dT%H:%M:%SZ', '2026-01-01', '+' || i || ' minutes'), \
               strftime('%Y-%m-%dT%H:%M:%SZ', '2026-01-01', '+' || (i + 7) || ' minutes'), \
               ?3, 48000, '0199a1b2-c3d4-7e8f-9a0b-1c2d3e4f5a6b' \
             FROM n",
        )
        .bind(i64::try_from(count).context("too many jobs")?)
        .bind(work.display().to_string())
        .bind(SUMMARY)
        .execute(&mut conn)
        .await
        .context("inserting the jobs")?;
        conn.close().await?;
        anyhow::Ok(())
    })
}
