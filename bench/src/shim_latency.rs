//! Figures 1, 2, 3 and 6: what a Claude session feels through the shim.
//!
//! 1. spawn the shim → `initialize` answered (floor: spawn and exit of /bin/true)
//! 2. `codex_start` → job id, daemon warm, one long-lived shim (floor: a gRPC Info round trip)
//! 3. `codex_poll` on finished jobs with 1 MiB and 200 MiB of output (same floor)
//! 6. shim RSS after `initialize`, and after the calls of 2 and 3

use std::{
    fs::{self, File},
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::Context;
use codex_async_proto::v1::{GetRequest, InfoRequest};
use serde_json::json;

use crate::{
    daemon::{self, Daemon, Home},
    mcp::Shim,
    output,
    procs::rss_kib,
    report::{Row, Unit},
    stats::{ms, summarize, Summary},
    Ctx,
};

const MIB: u64 = 1 << 20;
/// Pause between two codex_start calls, so one job's end (its monitor
/// writing exit.json, the daemon recording it) does not overlap the next start.
pub(crate) const START_PACE: Duration = Duration::from_millis(30);

pub fn run(ctx: &Ctx, spawn: bool, start: bool, poll: bool) -> anyhow::Result<Vec<Row>> {
    let home = Home::new(&ctx.root, "warm", &ctx.fast_codex)?;
    let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
    let mut rows = Vec::new();
    let floor = grpc_floor(ctx, &home)?;
    let floor_text = format!(
        "gRPC Info round trip: {} / {}",
        Unit::Ms.show(floor.median),
        Unit::Ms.show(floor.p99)
    );

    if spawn {
        rows.extend(spawn_initialize(ctx, &home)?);
    }
    if start || poll {
        let mut shim = Shim::spawn(&ctx.bins, &home)?;
        shim.initialize()?;
        let pid = shim.pid();
        if start {
            let (samples, folders) = starts(ctx, &home, &mut shim)?;
            let folders = summarize(&folders);
            rows.push(
                Row::new(
                    "2",
                    "`codex_start` through the shim → job_id (daemon warm, one shim)",
                    Unit::Ms,
                    summarize(&samples),
                )
                .median_at_most(3.0)
                .p99_at_most(10.0)
                .floor(floor_text.clone())
                .note(format!(
                    "fake codex: a sh script; one call every {} ms",
                    START_PACE.as_millis()
                ))
                .note(format!(
                    "filesystem floor, taken alternately with the calls: making a job folder by \
                     hand (mkdir, 4 files, a rename) {} median / {} p99",
                    Unit::Ms.show(folders.median),
                    Unit::Ms.show(folders.p99)
                )),
            );
            let direct = direct_starts(ctx, &home, samples.len())?;
            rows.push(
                Row::new(
                    "2b",
                    "gRPC Start straight to codexd (no shim)",
                    Unit::Ms,
                    direct,
                )
                .floor(floor_text.clone())
                .note("reference: the daemon's share of 2 (Start returns once the job is recorded and its monitor has it)"),
            );
        }
        if poll {
            rows.extend(polls(ctx, &home, &mut shim, &floor_text)?);
        }
        let rss = rss_kib(pid).context("cannot read the shim's VmRSS")? as f64 / 1024.0;
        rows.push(
            Row::new(
                "6b",
                "shim RSS after initialize and the calls of figures 2–3",
                Unit::MiB,
                summarize(&[rss]),
            )
            .value_at_most(8.0),
        );
    }
    daemon.stop(&ctx.rt)?;
    Ok(rows)
}

/// One gRPC round trip on a warm connection: Info (a tiny database count).
pub fn grpc_floor(ctx: &Ctx, home: &Home) -> anyhow::Result<Summary> {
    let mut client = daemon::client(&ctx.rt, home)?;
    let n = ctx.n(2000, 200);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 20 {
        let t = Instant::now();
        ctx.rt
            .block_on(client.info(InfoRequest {}))
            .context("Info failed")?;
        if i >= 20 {
            samples.push(ms(t.elapsed()));
        }
    }
    Ok(summarize(&samples))
}

/// Figure 1 (and 6a): spawn → initialize answered, vs spawn of /bin/true.
fn spawn_initialize(ctx: &Ctx, home: &Home) -> anyhow::Result<Vec<Row>> {
    let n = ctx.n(200, 20);
    let mut samples = Vec::with_capacity(n);
    let mut rss = Vec::with_capacity(n);
    for i in 0..n + 3 {
        let t = Instant::now();
        let mut shim = Shim::spawn(&ctx.bins, home)?;
        shim.initialize_request()?;
        let took = ms(t.elapsed());
        if i >= 3 {
            samples.push(took);
            if let Some(kib) = rss_kib(shim.pid()) {
                rss.push(kib as f64 / 1024.0);
            }
        }
    }
    let mut floor = Vec::with_capacity(n);
    for i in 0..n + 3 {
        let t = Instant::now();
        let status = Command::new("/bin/true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("cannot run /bin/true")?;
        let took = ms(t.elapsed());
        if !status.success() {
            anyhow::bail!("/bin/true failed: {status}");
        }
        if i >= 3 {
            floor.push(took);
        }
    }
    let floor = summarize(&floor);
    Ok(vec![
        Row::new(
            "1",
            "shim spawn → `initialize` answered",
            Unit::Ms,
            summarize(&samples),
        )
        .median_at_most(5.0)
        .floor(format!(
            "spawn+exit of /bin/true: {} / {}",
            Unit::Ms.show(floor.median),
            Unit::Ms.show(floor.p99)
        )),
        Row::new(
            "6a",
            "shim RSS right after `initialize`",
            Unit::MiB,
            summarize(&rss),
        )
        .note("median and p99 over the figure-1 spawns"),
    ])
}

/// Figure 2: codex_start calls on one long-lived shim.
/// Figure 2's samples, and beside each the filesystem floor taken just
/// before it: making a job folder by hand (what any Start must do before it
/// answers). On a virtual disk this varies several-fold from run to run, so
/// the two are taken together.
fn starts(ctx: &Ctx, home: &Home, shim: &mut Shim) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let n = ctx.n(300, 20);
    let args = json!({"prompt": "bench", "cwd": home.work.display().to_string()});
    let mut samples = Vec::with_capacity(n);
    let mut folders = Vec::with_capacity(n);
    let scratch = home.work.join("folder-floor");
    fs::create_dir_all(&scratch)?;
    for i in 0..n + 3 {
        let took = job_folder_by_hand(&scratch.join(i.to_string()))?;
        if i >= 3 {
            folders.push(took);
        }
        thread::sleep(START_PACE / 2);
        let t = Instant::now();
        let out = shim.call_tool("codex_start", args.clone())?;
        let took = ms(t.elapsed());
        out.get("job_id")
            .and_then(|v| v.as_str())
            .with_context(|| format!("codex_start answered without a job_id: {out}"))?;
        if i >= 3 {
            samples.push(took);
        }
        thread::sleep(START_PACE / 2);
    }
    fs::remove_dir_all(&scratch)?;
    Ok((samples, folders))
}

/// What a Start writes before it answers, done by hand: the job folder, its
/// prompt, output, monitor.log and meta.json (temp file + rename). Returns ms.
pub fn job_folder_by_hand(dir: &Path) -> anyhow::Result<f64> {
    let t = Instant::now();
    fs::create_dir(dir)?;
    fs::write(dir.join("prompt.txt"), "bench")?;
    File::create(dir.join("output.txt"))?;
    File::create(dir.join("monitor.log"))?;
    fs::write(dir.join("meta.json.tmp"), "{}")?;
    fs::rename(dir.join("meta.json.tmp"), dir.join("meta.json"))?;
    Ok(ms(t.elapsed()))
}

/// Get as codex_poll sends it (tail_lines 0, no cursor), straight to the daemon.
fn direct_gets(ctx: &Ctx, home: &Home, job: &str, n: usize) -> anyhow::Result<Summary> {
    let mut client = daemon::client(&ctx.rt, home)?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 10 {
        let request = GetRequest {
            job_id: job.to_string(),
            tail_lines: Some(0),
            since: None,
        };
        let t = Instant::now();
        ctx.rt.block_on(client.get(request)).context("Get failed")?;
        if i >= 10 {
            samples.push(ms(t.elapsed()));
        }
    }
    Ok(summarize(&samples))
}

/// Start straight to the daemon (no shim), paced like figure 2.
fn direct_starts(ctx: &Ctx, home: &Home, n: usize) -> anyhow::Result<Summary> {
    let mut client = daemon::client(&ctx.rt, home)?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 3 {
        let t = Instant::now();
        daemon::start_job(&ctx.rt, &mut client, home, "bench")?;
        if i >= 3 {
            samples.push(ms(t.elapsed()));
        }
        thread::sleep(START_PACE);
    }
    Ok(summarize(&samples))
}

/// A finished job whose output.txt holds at least `bytes` of codex-like events.
pub fn job_with_output(ctx: &Ctx, home: &Home, bytes: u64) -> anyhow::Result<(String, u64)> {
    let mut client = daemon::client(&ctx.rt, home)?;
    let id = daemon::start_job(&ctx.rt, &mut client, home, "bench")?;
    daemon::wait_done(&ctx.rt, &mut client, &id, Duration::from_secs(30))?;
    let size = output::grow_to(&home.output(&id), bytes, &output::block())?;
    Ok((id, size))
}

/// Figure 3: codex_poll (as the model calls it: job_id only), and with the raw tail.
fn polls(ctx: &Ctx, home: &Home, shim: &mut Shim, floor_text: &str) -> anyhow::Result<Vec<Row>> {
    let n = ctx.n(1000, 50);
    let (small, small_size) = job_with_output(ctx, home, MIB)?;
    let (big, big_size) = job_with_output(ctx, home, 200 * MIB)?;
    // Each measurement also says how long the shim's last answer was.
    let mut measure = |job: &str, extra: serde_json::Value| -> anyhow::Result<(Summary, usize)> {
        let mut args = json!({"job_id": job});
        if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        let mut samples = Vec::with_capacity(n);
        for i in 0..n + 10 {
            let t = Instant::now();
            shim.call_tool("codex_poll", args.clone())?;
            if i >= 10 {
                samples.push(ms(t.elapsed()));
            }
        }
        Ok((summarize(&samples), shim.last_answer_len()))
    };
    let (a, _) = measure(&small, json!({}))?;
    let (b, poll_answer) = measure(&big, json!({}))?;
    let (c, _) = measure(&big, json!({"tail_lines": 100}))?;
    let d = direct_gets(ctx, home, &big, n)?;
    let ratio = b.median / a.median;
    let equal = if (0.67..=1.5).contains(&ratio) {
        format!("{ratio:.2}× the 1 MiB median: equal within noise")
    } else {
        format!("{ratio:.2}× the 1 MiB median: NOT equal")
    };
    let mib = |b: u64| b as f64 / MIB as f64;
    Ok(vec![
        Row::new(
            "3a",
            format!(
                "`codex_poll` (job_id only), {:.0} MiB of output",
                mib(small_size)
            ),
            Unit::Ms,
            a,
        )
        .median_at_most(1.0)
        .floor(floor_text.to_string()),
        Row::new(
            "3b",
            format!(
                "`codex_poll` (job_id only), {:.0} MiB of output",
                mib(big_size)
            ),
            Unit::Ms,
            b,
        )
        .median_at_most(1.0)
        .floor(floor_text.to_string())
        .note(equal)
        .note(format!(
            "one answer is {:.1} KiB of JSON-RPC",
            poll_answer as f64 / 1024.0
        )),
        Row::new(
            "3c",
            format!(
                "`codex_poll` with tail_lines=100, {:.0} MiB of output",
                mib(big_size)
            ),
            Unit::Ms,
            c,
        )
        .floor(floor_text.to_string())
        .note("reference: the raw tail as well as the events"),
        Row::new(
            "3d",
            format!(
                "gRPC Get straight to codexd (no shim), {:.0} MiB of output",
                mib(big_size)
            ),
            Unit::Ms,
            d,
        )
        .floor(floor_text.to_string())
        .note("reference: the daemon's share of 3b"),
    ])
}
