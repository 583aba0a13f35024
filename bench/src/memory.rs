//! Figure 5: the daemon's memory (VmRSS) idle and with many running jobs, the
//! monitors' (one process per running job), and the daemon's CPU use while
//! it only follows running jobs.

use std::{
    thread,
    time::{Duration, Instant},
};

use anyhow::Context;
use codex_async_proto::v1::InfoRequest;

use crate::{
    daemon::{self, Daemon, Home},
    procs::{children, cmdline, cpu_seconds, rss_kib},
    report::{Row, Unit},
    stats::summarize,
    Ctx,
};

pub fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let jobs = ctx.n(100, 20);
    // How long the jobs settle, then how long the daemon's CPU use is watched.
    let settle = Duration::from_secs(ctx.n(2, 1) as u64);
    let cpu_window = Duration::from_secs(ctx.n(3, 1) as u64);
    let home = Home::new(&ctx.root, "memory", &ctx.bins.fake_codex)?;
    let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
    let pid = daemon.pid();
    let mut client = daemon::client(&ctx.rt, &home)?;
    ctx.rt
        .block_on(client.info(InfoRequest {}))
        .context("Info failed")?;
    thread::sleep(Duration::from_millis(500));
    let idle = sample_rss(pid, 5)?;

    let t = Instant::now();
    for _ in 0..jobs {
        daemon::start_job(&ctx.rt, &mut client, &home, "hang")?;
    }
    let started = t.elapsed();
    // Let every fake codex start and print its first events, and the daemon fold them.
    thread::sleep(settle);
    // A job's monitor has codex under it; the standby monitor has no child.
    let monitors: Vec<i32> = children(pid)
        .into_iter()
        .filter(|&p| cmdline(p).contains(" monitor ") && !children(p).is_empty())
        .collect();
    anyhow::ensure!(
        monitors.len() == jobs,
        "expected {jobs} monitors under the daemon, found {}",
        monitors.len()
    );
    let cpu_before = cpu_seconds(pid).context("cannot read the daemon's CPU time")?;
    let t = Instant::now();
    thread::sleep(cpu_window);
    let cpu = (cpu_seconds(pid).context("cannot read the daemon's CPU time")? - cpu_before)
        / t.elapsed().as_secs_f64()
        * 100.0;
    let busy = sample_rss(pid, 5)?;
    let monitor_rss: Vec<f64> = monitors
        .iter()
        .filter_map(|&p| rss_kib(p))
        .map(|k| k as f64 / 1024.0)
        .collect();
    let total_monitors: f64 = monitor_rss.iter().sum();
    drop(daemon); // kills the daemon, its monitors and their fake codex

    Ok(vec![
        Row::new("5a", "daemon RSS, idle", Unit::MiB, summarize(&idle)).value_at_most(15.0),
        Row::new(
            "5b",
            format!("daemon RSS, {jobs} running jobs"),
            Unit::MiB,
            summarize(&busy),
        )
        .value_at_most(60.0)
        .note(format!(
            "{jobs} Starts took {:.0} ms in all (python fake codex, prompt `hang`)",
            started.as_secs_f64() * 1000.0
        )),
        Row::new(
            "5c",
            format!("RSS per monitor process ({jobs} monitors)"),
            Unit::MiB,
            summarize(&monitor_rss),
        )
        .note(format!(
            "separate processes (`codexd monitor`); {total_monitors:.0} MiB together"
        )),
        Row::new(
            "5d",
            format!("daemon CPU while {jobs} jobs run and print nothing"),
            Unit::Percent,
            summarize(&[cpu]),
        )
        .note(format!(
            "% of one core over {} s: the cost of following running jobs",
            cpu_window.as_secs()
        )),
    ])
}

/// `n` readings of VmRSS in MiB, 100 ms apart.
fn sample_rss(pid: i32, n: usize) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if i > 0 {
            thread::sleep(Duration::from_millis(100));
        }
        let kib = rss_kib(pid).context("cannot read the daemon's VmRSS")?;
        out.push(kib as f64 / 1024.0);
    }
    Ok(out)
}
