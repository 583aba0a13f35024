//! Figure 7: output capture. A codex app-server stand-in answers codexd's
//! requests, then writes N bytes of item notifications to stdout as fast as
//! it can; the job's monitor reads them, translates each into an exec event
//! and writes it to `output.txt`. We time codex_start → job done, against
//! the floor: the very same writer with its stdout on a file in the same
//! folder (its requests read from a file).
//!
//! 7 is the capture itself (the output cap set above N, as for any job that
//! prints less than its cap); 7b is the same with the default 256 MiB cap
//! dropping the head of the file while codex writes, a cost the floor does
//! not pay; 7c is codex streaming a command's output as deltas, which the
//! monitor reads and skips (the command's output reaches `output.txt` once,
//! in its item's end).

use std::{
    fs::{self, File},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant, SystemTime},
};

use anyhow::{bail, Context};
use codex_async_proto::v1::{GetRequest, InfoRequest, JobStatus};

use crate::{
    daemon::{self, write_script, Daemon, Home},
    report::{Row, Unit, Verdict},
    stats::{summarize, summarize_higher_better},
    Ctx,
};

const MIB: u64 = 1 << 20;
/// The notification the writer repeats (codex app-server style, ~230 bytes).
const LINE: &str = r#"{"method":"item/completed","params":{"item":{"type":"commandExecution","id":"item_7","command":"cargo build --release","aggregatedOutput":"   Compiling codex-async v0.1.0\n","exitCode":0,"status":"completed"}}}"#;

/// A delta of a running command's output (skipped by the monitor), ~230 bytes.
const DELTA: &str = r#"{"method":"item/commandExecution/outputDelta","params":{"threadId":"bench","turnId":"t","itemId":"item_7","delta":"ICAgQ29tcGlsaW5nIGNvZGV4LWFzeW5jIHYwLjEuMCAoL3dvcmsvbWFpbi9kYWVtb24pCiAgIENvbXBpbGluZyBjb2RleC1hc3luYy1zaGltIHYwLjEuMCAoL3dvcmsvbWFpbi9zaGltKQo="}}"#;

/// The throughput target: the monitor reads, and translates or skips,
/// every line codex writes.
const TARGET_MIB_S: f64 = 50.0;

/// What codexd's monitor sends an app-server before the turn's output: the
/// floor's writer reads these from a file.
const REQUESTS: &str = "{\"id\":0,\"method\":\"initialize\"}\n{\"method\":\"initialized\"}\n\
    {\"id\":1,\"method\":\"thread/start\"}\n{\"id\":2,\"method\":\"turn/start\"}\n";

pub fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let bytes = if ctx.quick { 64 * MIB } else { 1024 * MIB };
    let base = ctx.root.sub("capture-bin")?;
    let items = writer(&base, "writer-codex", LINE, bytes)?;
    let deltas = writer(&base, "delta-codex", DELTA, bytes)?;
    let uncapped = measure(ctx, &items, bytes, "capture", Some(bytes * 2), ctx.n(5, 2))?;
    let capped = measure(ctx, &items, bytes, "capture-capped", None, ctx.n(3, 1))?;
    let skipped = measure(ctx, &deltas, bytes, "capture-deltas", None, ctx.n(3, 1))?;
    Ok(vec![
        uncapped.row(
            "7",
            format!(
                "output capture: fake codex app-server writing {} MiB of item notifications, Start → job done",
                bytes / MIB
            ),
            true,
        ),
        capped.row(
            "7b",
            format!(
                "the same with the default 256 MiB output cap dropping the head while codex writes ({} MiB)",
                bytes / MIB
            ),
            false,
        ),
        skipped.row(
            "7c",
            format!(
                "fake codex streaming {} MiB of a command's output deltas (read and skipped)",
                bytes / MIB
            ),
            true,
        ),
    ])
}

/// A codex app-server stand-in: answers initialize, thread/start and
/// turn/start, writes `bytes` bytes of `line` as fast as it can, ends its
/// turn and waits for its stdin to close, as codex does.
fn writer(
    base: &std::path::Path,
    name: &str,
    line: &str,
    bytes: u64,
) -> anyhow::Result<std::path::PathBuf> {
    write_script(
        base,
        name,
        &format!(
            "# codex app-server stand-in: {bytes} bytes of notifications on stdout\n\
             IFS= read -r _; printf '%s\\n' '{{\"id\":0,\"result\":{{}}}}'\n\
             IFS= read -r _; IFS= read -r _\n\
             printf '%s\\n' '{{\"id\":1,\"result\":{{\"thread\":{{\"id\":\"bench\"}}}}}}'\n\
             IFS= read -r _; printf '%s\\n' '{{\"id\":2,\"result\":{{\"turn\":{{\"id\":\"t\"}}}}}}'\n\
             yes '{line}' | head -c {bytes}\n\
             printf '\\n%s\\n' '{{\"method\":\"turn/completed\",\"params\":{{\"turn\":{{\"id\":\"t\",\"status\":\"completed\"}}}}}}'\n\
             cat > /dev/null\n"
        ),
    )
}

/// One configuration's runs.
struct Measured {
    floor: Vec<f64>,
    captured: Vec<f64>,
    sizes: Vec<u64>,
    bytes: u64,
    writer_done: Vec<f64>,
    folded: Vec<(u64, u64)>,
    recorded_after: Vec<f64>,
}

/// Runs the writer `runs` times into a file and through a daemon whose output
/// cap is `cap` (None: the default).
fn measure(
    ctx: &Ctx,
    writer: &std::path::Path,
    bytes: u64,
    name: &str,
    cap: Option<u64>,
    runs: usize,
) -> anyhow::Result<Measured> {
    let home = Home::new(&ctx.root, name, writer)?;
    if let Some(cap) = cap {
        fs::write(
            home.home.join("config.toml"),
            format!("output_cap_bytes = {cap}\n"),
        )?;
    }
    let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
    let mut client = daemon::client(&ctx.rt, &home)?;

    let mut floor = Vec::with_capacity(runs);
    let mut captured = Vec::with_capacity(runs);
    let mut sizes = Vec::with_capacity(runs);
    let mut writer_done = Vec::with_capacity(runs);
    let mut folded = Vec::with_capacity(runs);
    let mut recorded_after = Vec::with_capacity(runs);
    for _ in 0..runs {
        // The floor: the writer straight into a file.
        let file_path = home.work.join("floor.out");
        let file = File::create(&file_path)?;
        let requests = home.work.join("floor.requests");
        fs::write(&requests, REQUESTS)?;
        let t = Instant::now();
        let status = Command::new(writer)
            .stdin(File::open(&requests)?)
            .stdout(Stdio::from(file))
            .stderr(Stdio::null())
            .status()
            .context("cannot run the writer")?;
        let took = t.elapsed().as_secs_f64();
        if !status.success() {
            bail!("the writer failed: {status}");
        }
        let written = fs::metadata(&file_path)?.len();
        floor.push(written as f64 / MIB as f64 / took);
        fs::remove_file(&file_path)?;

        // Through codexd: Start → the daemon has recorded the job done.
        let ended_before = ended_count(ctx, &mut client)?;
        let t = Instant::now();
        let wall = SystemTime::now();
        let id = daemon::start_job(&ctx.rt, &mut client, &home, "bench")?;
        loop {
            if ended_count(ctx, &mut client)? > ended_before {
                break;
            }
            if t.elapsed() > Duration::from_secs(600) {
                bail!("the capture job did not finish within 10 minutes");
            }
            // Coarse enough not to take CPU from the writer (±0.4 % at 1 GiB).
            thread::sleep(Duration::from_millis(10));
        }
        let took = t.elapsed().as_secs_f64();
        let status = daemon::wait_done(&ctx.rt, &mut client, &id, Duration::from_secs(5))?;
        if status != JobStatus::Done {
            bail!("the capture job ended {status:?}, not done");
        }
        let output = home.output(&id);
        let size = fs::metadata(&output)?.len();
        folded.push((parsed_bytes(ctx, &mut client, &id)?, size));
        // When the monitor wrote exit.json: codex (the writer) had ended.
        let exit_json = output.with_file_name("exit.json");
        if let Some(ended) = fs::metadata(&exit_json)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.duration_since(wall).ok())
        {
            writer_done.push(ended.as_secs_f64() * 1000.0);
            recorded_after.push((took - ended.as_secs_f64()) * 1000.0);
        }
        // What codex wrote, whatever the cap kept of it.
        captured.push(bytes as f64 / MIB as f64 / took);
        sizes.push(size);
        fs::remove_file(&output)?;
    }
    daemon.stop(&ctx.rt)?;
    Ok(Measured {
        floor,
        captured,
        sizes,
        bytes,
        writer_done,
        folded,
        recorded_after,
    })
}

impl Measured {
    fn row(&self, id: &str, name: String, with_target: bool) -> Row {
        let bytes = self.bytes;
        let floor = summarize_higher_better(&self.floor);
        let got = summarize_higher_better(&self.captured);
        let ratio = got.median / floor.median;
        let mut row = Row::new(id, name, Unit::MiBPerSec, got);
        if with_target {
            let verdict = if got.median >= TARGET_MIB_S {
                Verdict::Met
            } else {
                Verdict::Missed(format!("{:.0} MiB/s", got.median))
            };
            row = row.target(format!("≥ {TARGET_MIB_S:.0} MiB/s"), verdict);
        }
        row = row
            .floor(format!(
                "same writer into a file: {} / {}",
                Unit::MiBPerSec.show(floor.median),
                Unit::MiBPerSec.show(floor.p99)
            ))
            .note(format!(
                "{:.0} % of the floor; p99 column = slowest 1 %",
                ratio * 100.0
            ))
            .note(format!(
                "median: codex ended (exit.json) {:.0} ms after Start, the daemon recorded done {:.0} ms later",
                summarize(&self.writer_done).median,
                summarize(&self.recorded_after).median
            ));
        // The writer cuts its last line short, and a partial line is never folded.
        if let Some((parsed, size)) = self.folded.iter().find(|(p, s)| p + 4096 < *s) {
            row = row.note(format!(
                "the final summary was folded from only {} of {} MiB of output: later events \
                 (e.g. codex's final answer) are never folded",
                parsed / MIB,
                size / MIB
            ));
        }
        // Not codex's bytes: the monitor's events (the cap, if below, keeps its last part).
        if let Some(size) = self.sizes.iter().max() {
            row = row.note(format!(
                "output.txt ended at {} MiB of events for the {} MiB codex wrote",
                size / MIB,
                bytes / MIB
            ));
        }
        row
    }
}

/// How many bytes of the job's output its summary was folded from.
fn parsed_bytes(
    ctx: &Ctx,
    client: &mut codex_async_proto::Client,
    job_id: &str,
) -> anyhow::Result<u64> {
    let request = GetRequest {
        job_id: job_id.to_string(),
        tail_lines: Some(0),
        since: None,
    };
    let response = ctx
        .rt
        .block_on(client.get(request))
        .context("Get failed")?
        .into_inner();
    Ok(response.summary.map_or(0, |s| s.parsed_bytes))
}

/// Jobs that have ended (Info's counts: cheap, and unlike Get it does not
/// make the daemon fold a running job's output).
fn ended_count(ctx: &Ctx, client: &mut codex_async_proto::Client) -> anyhow::Result<u64> {
    let info = ctx
        .rt
        .block_on(client.info(InfoRequest {}))
        .context("Info failed")?
        .into_inner();
    Ok(info.done + info.error + info.cancelled)
}
