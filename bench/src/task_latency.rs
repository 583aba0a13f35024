//! Figure 10: codex's exit → `tasks/get` answers `completed`.
//!
//! One shim in a session of revision 2026-07-28 with the Tasks extension, as
//! interactive Claude Code opens it. Per sample: `codex_start` (answered with
//! a task handle) with the python fake codex waiting for a go file, the go
//! file created, then `tasks/get` in a closed loop, [`POLL_PAUSE`] apart,
//! until the task is `completed`. Before each `tasks/get` the same loop looks
//! at the job: codex's process (a zombie or gone: it has exited), `exit.json`
//! (written by the monitor once codex has ended), the monitor's process. So
//! each moment is the first time the bench saw it, at most one loop turn
//! (the pause and one `tasks/get` round trip) late.
//!
//! 10 is `exit.json` seen → completed: the monitor exiting, the daemon
//! reaping it and recording the end (SQLite, meta.json), and the answer.
//! 10b adds the monitor's share before `exit.json` (from codex's own exit);
//! 10c is from the go file's creation, so it also holds the fake codex's own
//! time to notice the file (it checks every 20 ms) and exit.

use std::{
    fs,
    path::{Path, PathBuf},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::{
    daemon::{Daemon, Home},
    mcp::Shim,
    report::{Row, Unit},
    stats::{ms, summarize},
    Ctx,
};

/// How long one job may take from the go file to `completed`.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long codex may take to start and reach its `waitfile` step.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Quiet time once codex waits, before the go file: the standby monitor
/// refilled behind the start and the daemon's first folds are done.
const SETTLE: Duration = Duration::from_millis(100);
/// Pause between two turns of the polling loop. Without one, the loop (the
/// bench, the shim and codexd answering back to back) keeps a core busy and
/// on 2 cores delays the very monitor and daemon it measures (about 1–2 ms
/// more on the median); 1 ms keeps the loop's resolution near 1.4 ms.
const POLL_PAUSE: Duration = Duration::from_millis(1);
/// Samples dropped at the start (the first job warms the daemon's paths).
const WARMUP: usize = 2;

/// The moments of one sample, as first seen by the polling loop.
struct Sample {
    go: Instant,
    codex_exited: Instant,
    exit_json: Instant,
    monitor_exited: Instant,
    completed: Instant,
}

pub fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let n = ctx.n(30, 5);
    let home = Home::new(&ctx.root, "tasks", &ctx.bins.fake_codex)?;
    let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
    let mut shim = Shim::spawn(&ctx.bins, &home)?;
    shim.discover_with_tasks()?;

    let mut samples = Vec::with_capacity(n);
    let mut last_task = String::new();
    for i in 0..n + WARMUP {
        let (task, sample) = one(&home, &mut shim, i)?;
        if i >= WARMUP {
            samples.push(sample);
        }
        last_task = task;
    }
    // The floor: a tasks/get round trip, the polling loop's resolution.
    let mut round_trips = Vec::new();
    for i in 0..ctx.n(200, 20) + 10 {
        let t = Instant::now();
        tasks_get(&mut shim, &last_task)?;
        if i >= 10 {
            round_trips.push(ms(t.elapsed()));
        }
    }
    daemon.stop(&ctx.rt)?;

    let between = |from: fn(&Sample) -> Instant, to: fn(&Sample) -> Instant| {
        let values: Vec<f64> = samples
            .iter()
            .map(|s| ms(to(s).saturating_duration_since(from(s))))
            .collect();
        summarize(&values)
    };
    let show = |s: crate::stats::Summary| {
        format!(
            "{} median / {} p99",
            Unit::Ms.show(s.median),
            Unit::Ms.show(s.p99)
        )
    };
    let floor = summarize(&round_trips);
    let floor_text = format!(
        "one `tasks/get` round trip: {} / {} (the loop polls every {} ms + one round trip)",
        Unit::Ms.show(floor.median),
        Unit::Ms.show(floor.p99),
        POLL_PAUSE.as_millis()
    );
    let to_monitor_exit = between(|s| s.exit_json, |s| s.monitor_exited);
    let daemon_share = between(|s| s.monitor_exited, |s| s.completed);
    let monitor_before = between(|s| s.codex_exited, |s| s.exit_json);
    let codex_own = between(|s| s.go, |s| s.codex_exited);
    Ok(vec![
        Row::new(
            "10",
            "codex's exit (`exit.json` written) → `tasks/get` answers `completed`",
            Unit::Ms,
            between(|s| s.exit_json, |s| s.completed),
        )
        .median_at_most(50.0)
        .floor(floor_text.clone())
        .note(format!(
            "one shim, a 2026-07-28 session with the Tasks extension; `tasks/get` every {} ms + one round trip",
            POLL_PAUSE.as_millis()
        ))
        .note(format!(
            "split, each moment seen up to one loop turn late: exit.json → the monitor has exited {}; → the daemon answers completed {}",
            show(to_monitor_exit),
            show(daemon_share)
        )),
        Row::new(
            "10b",
            "codex's process exits → `tasks/get` answers `completed`",
            Unit::Ms,
            between(|s| s.codex_exited, |s| s.completed),
        )
        .floor(floor_text.clone())
        .note(format!(
            "reference: 10 plus the monitor's share before exit.json (reap codex, scan /proc for leftovers, fsync and rename exit.json): {}",
            show(monitor_before)
        )),
        Row::new(
            "10c",
            "go file created → `tasks/get` answers `completed` (includes the fake codex's own exit)",
            Unit::Ms,
            between(|s| s.go, |s| s.completed),
        )
        .floor(floor_text)
        .note(format!(
            "reference: of which the fake codex's own (its waitfile checks every 20 ms, then python exits): {}",
            show(codex_own)
        )),
    ])
}

/// One job: start it, wait until codex waits for its go file, create the file
/// and poll until the task is completed. Returns the task id and the moments.
fn one(home: &Home, shim: &mut Shim, i: usize) -> anyhow::Result<(String, Sample)> {
    let go = home.work.join(format!("go-{i}"));
    let prompt = format!("waitfile:{};msg:done", go.display());
    let handle = shim.request(
        "tools/call",
        json!({"name": "codex_start", "arguments": {
            "prompt": prompt, "cwd": home.work.display().to_string()
        }}),
    )?;
    if handle["resultType"] != "task" {
        bail!("codex_start did not answer a task handle: {handle}");
    }
    let task = handle["taskId"]
        .as_str()
        .with_context(|| format!("the task handle has no taskId: {handle}"))?
        .to_string();
    let dir = home.home.join("jobs").join(&task);
    let (monitor, codex) = wait_ready(&dir)?;
    thread::sleep(SETTLE);
    if dir.join("exit.json").exists() {
        bail!("job {task} ended before its go file was created");
    }

    fs::write(&go, "").with_context(|| format!("creating {}", go.display()))?;
    let t_go = Instant::now();
    let exit_json = dir.join("exit.json");
    let (mut codex_exited, mut exit_seen, mut monitor_exited) = (None, None, None);
    loop {
        // Each moment is taken before the tasks/get that follows, so none is
        // later than the completed answer it precedes.
        if codex_exited.is_none() && has_exited(codex) {
            codex_exited = Some(Instant::now());
        }
        if exit_seen.is_none() && exit_json.exists() {
            exit_seen = Some(Instant::now());
        }
        if monitor_exited.is_none() && has_exited(monitor) {
            monitor_exited = Some(Instant::now());
        }
        let answer = tasks_get(shim, &task)?;
        let now = Instant::now();
        match answer["status"].as_str() {
            Some("working") => {}
            Some("completed") => {
                if answer["result"]["isError"] == true {
                    bail!("job {task} failed: {answer}");
                }
                // Seen only now: they happened during this last round trip.
                let seen = |t: Option<Instant>| t.unwrap_or(now);
                let sample = Sample {
                    go: t_go,
                    codex_exited: seen(codex_exited),
                    exit_json: seen(exit_seen),
                    monitor_exited: seen(monitor_exited),
                    completed: now,
                };
                return Ok((task, sample));
            }
            _ => bail!("tasks/get of {task} answered {answer}"),
        }
        thread::sleep(POLL_PAUSE);
        if t_go.elapsed() > SAMPLE_TIMEOUT {
            bail!("task {task} still working {SAMPLE_TIMEOUT:?} after its go file");
        }
    }
}

fn tasks_get(shim: &mut Shim, task: &str) -> anyhow::Result<Value> {
    shim.request("tasks/get", json!({"taskId": task}))
}

/// Waits until the job's codex runs its script (its `turn.started` line is
/// in output.txt, and monitor.json names it); returns the monitor's and
/// codex's pids.
fn wait_ready(dir: &Path) -> anyhow::Result<(i32, i32)> {
    let begun = Instant::now();
    let info: PathBuf = dir.join("monitor.json");
    loop {
        let started = fs::read_to_string(dir.join("output.txt"))
            .is_ok_and(|out| out.contains("\"turn.started\""));
        if started {
            if let Some(pids) = fs::read(&info)
                .ok()
                .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
                .and_then(|v| {
                    Some((
                        i32::try_from(v["monitor_pid"].as_i64()?).ok()?,
                        i32::try_from(v["codex_pid"].as_i64()?).ok()?,
                    ))
                })
            {
                return Ok(pids);
            }
        }
        if begun.elapsed() > READY_TIMEOUT {
            bail!(
                "codex did not start within {READY_TIMEOUT:?} (see {})",
                dir.display()
            );
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// True once `pid` has exited: gone, or a zombie its parent has not reaped.
fn has_exited(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_none_or(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}
