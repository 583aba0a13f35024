//! Figure 12: one client floods codexd with concurrent Gets on one connection
//! (issue 20.8: 3,000 at once took the daemon to 155 MB and stalled every
//! other client for 6.4 s). Reported: the daemon's peak RSS (VmHWM) and the
//! latency another client sees for its polls meanwhile, beside the same
//! polls without the flood.

use std::{
    fs,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::Context;
use codex_async_proto::{connect, v1::GetRequest, Client};
use tokio::task::JoinSet;

use crate::{
    daemon::{Daemon, Home},
    report::{Row, Unit},
    shim_latency::job_with_output,
    stats::{ms, summarize},
    Ctx,
};

/// Gets the flooding client has in flight at once, all on one connection.
const CONCURRENT: usize = 3000;
/// The other client's pause between two polls (a shim's codex_wait polls
/// far less often; this samples the latency densely).
const POLL_PAUSE: Duration = Duration::from_millis(2);
const MIB: u64 = 1 << 20;

pub fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let waves = ctx.n(3, 1);
    let home = Home::new(&ctx.root, "flood", &ctx.fast_codex)?;
    let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
    let pid = daemon.pid();
    // The flood reads a finished job's raw tail (a poll with tail_lines, which
    // no cache answers: each Get reads the output and renders its events);
    // the other client polls another job as codex_poll does.
    let (flooded, _) = job_with_output(ctx, &home, MIB)?;
    let (polled, _) = job_with_output(ctx, &home, MIB)?;

    // The other client's polls alone, for comparison.
    let quiet = {
        let keep_on = AtomicBool::new(true);
        poll_loop(&home, &polled, &keep_on, Some(ctx.n(300, 50)))?.samples
    };
    let rss_before = vm_kib(pid, "VmRSS:").context("cannot read the daemon's VmRSS")?;

    let flooding = Arc::new(AtomicBool::new(true));
    let poller = {
        let (home, polled, flooding) = (home.clone(), polled.clone(), flooding.clone());
        thread::spawn(move || poll_loop(&home, &polled, &flooding, None))
    };
    let begun = Instant::now();
    let flood = {
        let home = home.clone();
        thread::spawn(move || flood(&home, &flooded, waves))
    };
    let flood = flood
        .join()
        .map_err(|_| anyhow::anyhow!("the flooding thread panicked"))?;
    let flood_wall = begun.elapsed();
    flooding.store(false, Ordering::SeqCst);
    let polls = poller
        .join()
        .map_err(|_| anyhow::anyhow!("the polling thread panicked"))??;
    let flood = flood?;
    let peak = vm_kib(pid, "VmHWM:").context("cannot read the daemon's VmHWM")?;
    drop(daemon);

    let calls = waves * CONCURRENT;
    let quiet_summary = summarize(&quiet);
    let floor = format!(
        "the same polls without the flood: {:.3} ms / {:.3} ms",
        quiet_summary.median, quiet_summary.p99
    );
    let polled_summary = summarize(&polls.samples);
    Ok(vec![
        Row::new(
            "12a",
            format!(
                "daemon peak RSS while one connection has {CONCURRENT} Gets (tail_lines=100) in flight"
            ),
            Unit::MiB,
            summarize(&[peak as f64 / 1024.0]),
        )
        .value_at_most(60.0)
        .floor(format!("before the flood: {:.1} MiB", rss_before as f64 / 1024.0))
        .note(format!(
            "VmHWM; {waves} waves of {CONCURRENT}: {calls} Gets in {:.1} s ({:.0}/s), {} failed{}",
            flood_wall.as_secs_f64(),
            calls as f64 / flood_wall.as_secs_f64(),
            flood.errors,
            flood
                .first_error
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        )),
        Row::new(
            "12b",
            "another client's poll (Get, job_id only) during that flood",
            Unit::Ms,
            polled_summary,
        )
        .p99_at_most(200.0)
        .floor(floor)
        .note(format!(
            "worst {:.1} ms; {} failed{}; one poll every {} ms on its own connection",
            polled_summary.max,
            polls.errors,
            polls
                .first_error
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default(),
            POLL_PAUSE.as_millis()
        )),
    ])
}

/// What a loop of calls saw.
struct Calls {
    samples: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
}

impl Calls {
    fn failed(&mut self, e: tonic::Status) {
        self.errors += 1;
        self.first_error
            .get_or_insert_with(|| format!("{:?}: {}", e.code(), e.message()));
    }
}

/// Polls `job` on a connection of its own while `keep_on` holds (and, with
/// `n`, until `n` polls are done).
fn poll_loop(
    home: &Home,
    job: &str,
    keep_on: &AtomicBool,
    n: Option<usize>,
) -> anyhow::Result<Calls> {
    let rt = runtime()?;
    let mut client = rt
        .block_on(connect(&home.socket()))
        .context("cannot connect the polling client")?;
    let mut out = Calls {
        samples: Vec::new(),
        errors: 0,
        first_error: None,
    };
    let request = GetRequest {
        job_id: job.to_string(),
        tail_lines: None,
        since: None,
    };
    // A first call opens the connection before anything is timed.
    rt.block_on(client.get(request.clone()))
        .context("the first poll failed")?;
    loop {
        let t = Instant::now();
        match rt.block_on(client.get(request.clone())) {
            Ok(_) => out.samples.push(ms(t.elapsed())),
            Err(e) => out.failed(e),
        }
        let done = out.samples.len() + out.errors;
        if n.is_some_and(|n| done >= n) || !keep_on.load(Ordering::SeqCst) {
            return Ok(out);
        }
        thread::sleep(POLL_PAUSE);
    }
}

/// `waves` times, [`CONCURRENT`] Gets at once on one connection, each wave
/// waited for in full.
fn flood(home: &Home, job: &str, waves: usize) -> anyhow::Result<Calls> {
    let rt = runtime()?;
    let client: Client = rt
        .block_on(connect(&home.socket()))
        .context("cannot connect the flooding client")?;
    let request = GetRequest {
        job_id: job.to_string(),
        tail_lines: Some(100),
        since: None,
    };
    // Opens the connection (and receives the server's settings) first.
    rt.block_on(client.clone().get(request.clone()))
        .context("the flood's first Get failed")?;
    let mut out = Calls {
        samples: Vec::new(),
        errors: 0,
        first_error: None,
    };
    for _ in 0..waves {
        rt.block_on(async {
            let mut set = JoinSet::new();
            for _ in 0..CONCURRENT {
                let (mut client, request) = (client.clone(), request.clone());
                set.spawn(async move { client.get(request).await.map(|_| ()) });
            }
            while let Some(done) = set.join_next().await {
                match done {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => out.failed(e),
                    Err(e) => out.failed(tonic::Status::unknown(e.to_string())),
                }
            }
        });
    }
    Ok(out)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot create a runtime")
}

/// A `/proc/<pid>/status` figure in KiB (`VmRSS:`, `VmHWM:` the peak).
fn vm_kib(pid: i32, key: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
