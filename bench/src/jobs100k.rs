//! Figures 4 and 9: a database with many (100,000) finished jobs.
//!
//! 4. `codex_list(limit=20)` through the shim (baseline: the same SELECT run
//!    directly on the database by the bench, i.e. what SQLite alone costs)
//! 9. daemon cold start to serving: spawn `codexd serve`, time until Info
//!    answers (baseline: the same with an empty database)

use std::time::Instant;

use anyhow::Context;
use codex_async_proto::v1::InfoRequest;
use serde_json::json;
use sqlx::{sqlite::SqliteConnectOptions, Connection, SqliteConnection};

use crate::{
    daemon::{Daemon, Home},
    dbfill,
    mcp::Shim,
    report::{Row, Unit},
    stats::{ms, summarize, Summary},
    Ctx,
};

/// The daemon's list query (db.rs `select_jobs!` + `list`).
const LIST_SQL: &str =
    "SELECT job_id, status, prompt, cwd, approval_policy, model, pid, monitor_pid, \
    monitor_start_time, exit_code, error, created_at, started_at, finished_at, \
    thread_id, parent_job_id, isolation, branch, worktree, diffstat, stall_timeout, \
    max_duration, summary, events_offset FROM jobs ORDER BY seq DESC LIMIT ?";

pub fn run(ctx: &Ctx, list: bool, cold: bool) -> anyhow::Result<Vec<Row>> {
    let count: u64 = 100_000;
    let home = Home::new(&ctx.root, "many", &ctx.fast_codex)?;
    // A first start creates the database and applies the migrations.
    let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
    daemon.stop(&ctx.rt)?;
    let t = Instant::now();
    dbfill::fill(&ctx.rt, &home.database(), &home.work, count)?;
    eprintln!(
        "  inserted {count} jobs in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let jobs = format!("{}k jobs", count / 1000);
    let mut rows = Vec::new();

    if list {
        let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
        let mut shim = Shim::spawn(&ctx.bins, &home)?;
        shim.initialize()?;
        let n = ctx.n(1000, 50);
        let mut samples = Vec::with_capacity(n);
        for i in 0..n + 10 {
            let t = Instant::now();
            let out = shim.call_tool("codex_list", json!({"limit": 20}))?;
            let took = ms(t.elapsed());
            let listed = out
                .get("jobs")
                .and_then(|j| j.as_array())
                .map_or(0, Vec::len);
            if listed != 20 {
                anyhow::bail!("codex_list(limit=20) returned {listed} jobs");
            }
            if i >= 10 {
                samples.push(took);
            }
        }
        let sql = direct_select(ctx, &home, n)?;
        rows.push(
            Row::new(
                "4",
                format!("`codex_list(limit=20)`, {jobs} in the database"),
                Unit::Ms,
                summarize(&samples),
            )
            .median_at_most(2.0)
            .floor(format!(
                "the same SELECT in-process: {} / {}",
                Unit::Ms.show(sql.median),
                Unit::Ms.show(sql.p99)
            )),
        );
        let info = info_round_trips(ctx, &home, n)?;
        rows.push(
            Row::new(
                "4b",
                format!("gRPC Info round trip, {jobs} in the database"),
                Unit::Ms,
                info,
            )
            .note("reference: Info counts the jobs per status (also what figure 9 waits for)"),
        );
        drop(shim);
        daemon.stop(&ctx.rt)?;
    }

    if cold {
        let n = ctx.n(20, 3);
        let many = cold_starts(ctx, &home, n)?;
        let empty_home = Home::new(&ctx.root, "empty", &ctx.fast_codex)?;
        let (daemon, _) = Daemon::start(&ctx.bins, &empty_home, &ctx.rt)?;
        daemon.stop(&ctx.rt)?;
        let empty = cold_starts(ctx, &empty_home, n)?;
        rows.push(
            Row::new(
                "9",
                format!("daemon cold start → Info answered, {jobs} in the database"),
                Unit::Ms,
                many,
            )
            .median_at_most(200.0)
            .floor(format!(
                "empty database: {} / {}",
                Unit::Ms.show(empty.median),
                Unit::Ms.show(empty.p99)
            ))
            .note(
                "spawn of `codexd serve` until its first Info answer (Info counts jobs per status)",
            ),
        );
    }
    Ok(rows)
}

fn info_round_trips(ctx: &Ctx, home: &Home, n: usize) -> anyhow::Result<Summary> {
    let mut client = crate::daemon::client(&ctx.rt, home)?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 10 {
        let t = Instant::now();
        ctx.rt
            .block_on(client.info(InfoRequest {}))
            .context("Info failed")?;
        if i >= 10 {
            samples.push(ms(t.elapsed()));
        }
    }
    Ok(summarize(&samples))
}

fn cold_starts(ctx: &Ctx, home: &Home, n: usize) -> anyhow::Result<Summary> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let (daemon, took) = Daemon::start(&ctx.bins, home, &ctx.rt)?;
        samples.push(ms(took));
        daemon.stop(&ctx.rt)?;
    }
    Ok(summarize(&samples))
}

/// The list query run by the bench itself on the database, `n` times.
fn direct_select(ctx: &Ctx, home: &Home, n: usize) -> anyhow::Result<Summary> {
    ctx.rt.block_on(async {
        let options = SqliteConnectOptions::new()
            .filename(home.database())
            .read_only(true);
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .context("opening the database read-only")?;
        let mut samples = Vec::with_capacity(n);
        for i in 0..n + 10 {
            let t = Instant::now();
            let rows = sqlx::query(LIST_SQL)
                .bind(20)
                .fetch_all(&mut conn)
                .await
                .context("the list SELECT failed")?;
            let took = ms(t.elapsed());
            anyhow::ensure!(
                rows.len() == 20,
                "the list SELECT returned {} rows",
                rows.len()
            );
            if i >= 10 {
                samples.push(took);
            }
        }
        conn.close().await?;
        Ok(summarize(&samples))
    })
}
