//! Figures 2c and 2d: `codex_start` at the cadence a model calls it, one
//! call every 0.6 s and every 5 s, where figure 2 calls every 30 ms.
//!
//! Seconds apart, whatever was warm after the last call has cooled (CPU
//! caches, a parked thread, a device gone idle), and that is what a user
//! pays: a model starts a job, then thinks. Beside each call, after the
//! same gap, the floor of the same run: a job folder made by hand (what any
//! Start must write). With `CODEX_ASYNC_BENCH_REPLACED` naming the tool
//! codex-async replaces (a command line that starts its MCP server; see
//! BENCHMARKS.md), its `codex_start` is timed too, the calls of the two
//! alternated, so both see the same machine. With `--load CMD`, CMD runs
//! over and over beside the calls (a build, say).

use std::{
    fs,
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::json;

use crate::{
    daemon::{Daemon, Home},
    mcp::Shim,
    report::{Row, Unit},
    shim_latency,
    stats::{ms, summarize},
    Ctx,
};

/// The environment variable naming the replaced tool's server command.
const REPLACED: &str = "CODEX_ASYNC_BENCH_REPLACED";

/// The two cadences, their figure ids and sample counts (full, quick).
const CADENCES: [(&str, Duration, usize, usize); 2] = [
    ("2c", Duration::from_millis(600), 40, 3),
    ("2d", Duration::from_secs(5), 16, 1),
];

pub fn run(ctx: &Ctx, load: Option<&str>) -> anyhow::Result<Vec<Row>> {
    let home = Home::new(&ctx.root, "cadence", &ctx.fast_codex)?;
    let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
    let mut ours = Shim::spawn(&ctx.bins, &home)?;
    ours.initialize()?;
    let mut theirs = match std::env::var(REPLACED) {
        Ok(command) if !command.trim().is_empty() => Some(replaced(ctx, &command)?),
        _ => None,
    };
    let _load = load.map(Load::start).transpose()?;
    let scratch = home.work.join("folder-floor");
    fs::create_dir_all(&scratch)?;
    let args = json!({"prompt": "bench", "cwd": home.work.display().to_string()});
    let mut rows = Vec::new();
    for (id, pace, full, quick) in CADENCES {
        let n = ctx.n(full, quick);
        let (mut mine, mut other, mut floor) = (Vec::new(), Vec::new(), Vec::new());
        // The first round warms what a session has warm already.
        for i in 0..=n {
            thread::sleep(pace);
            let took = shim_latency::job_folder_by_hand(&scratch.join(format!("{id}-{i}")))?;
            thread::sleep(pace);
            let t = Instant::now();
            ours.call_tool("codex_start", args.clone())?;
            let mine_took = ms(t.elapsed());
            let other_took = match &mut theirs {
                Some(tool) => {
                    thread::sleep(pace);
                    let t = Instant::now();
                    tool.shim.call_tool("codex_start", tool.args.clone())?;
                    Some(ms(t.elapsed()))
                }
                None => None,
            };
            if i > 0 {
                floor.push(took);
                mine.push(mine_took);
                other.extend(other_took);
            }
        }
        let floor = summarize(&floor);
        let mut row = Row::new(
            id,
            format!(
                "`codex_start` through the shim → job_id, one call every {}",
                show(pace)
            ),
            Unit::Ms,
            summarize(&mine),
        )
        .median_at_most(3.0)
        .floor(format!(
            "a job folder made by hand after the same gap: {} / {}",
            Unit::Ms.show(floor.median),
            Unit::Ms.show(floor.p99)
        ));
        if !other.is_empty() {
            let other = summarize(&other);
            row = row.note(format!(
                "the tool codex-async replaces, calls alternated with these: {} median / {} p99",
                Unit::Ms.show(other.median),
                Unit::Ms.show(other.p99)
            ));
        }
        if let Some(cmd) = load {
            row = row.note(format!("beside `{cmd}`, run over and over"));
        }
        rows.push(row);
    }
    fs::remove_dir_all(&scratch)?;
    daemon.stop(&ctx.rt)?;
    Ok(rows)
}

fn show(pace: Duration) -> String {
    if pace.as_millis().is_multiple_of(1000) {
        format!("{} s", pace.as_secs())
    } else {
        format!("{:.1} s", pace.as_secs_f64())
    }
}

/// The replaced tool's server, in a HOME of its own (it keeps its jobs
/// under `~/.codex-async`), running the same fast codex (it calls `codex`
/// from PATH).
struct Replaced {
    shim: Shim,
    args: serde_json::Value,
}

fn replaced(ctx: &Ctx, command: &str) -> anyhow::Result<Replaced> {
    let home = ctx.root.sub("replaced-home")?;
    let work = ctx.root.sub("replaced-work")?;
    let bin = ctx.root.sub("replaced-bin")?;
    let codex = bin.join("codex");
    if !codex.exists() {
        std::os::unix::fs::symlink(&ctx.fast_codex, &codex)
            .with_context(|| format!("cannot link {}", codex.display()))?;
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", command])
        .env("HOME", &home)
        .env("PATH", path);
    let mut shim = Shim::spawn_command(cmd, "the replaced tool")?;
    shim.initialize()
        .with_context(|| format!("{REPLACED}={command}: its server did not initialize"))?;
    Ok(Replaced {
        shim,
        args: json!({"prompt": "bench", "cwd": work.display().to_string()}),
    })
}

/// A command run over and over in the background until dropped.
struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    runner: Option<thread::JoinHandle<()>>,
}

impl Load {
    fn start(command: &str) -> anyhow::Result<Self> {
        use std::sync::{atomic::AtomicBool, Arc};
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let command = command.to_string();
        let runner = thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                use std::os::unix::process::CommandExt;
                // Its own process group, so a stop reaches what it started.
                let child: std::io::Result<Child> = Command::new("sh")
                    .args(["-c", &command])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0)
                    .spawn();
                let Ok(mut child) = child else { return };
                // Looked at often, so a stop does not wait for a whole build.
                loop {
                    if flag.load(std::sync::atomic::Ordering::Relaxed) {
                        if let Ok(group) = i32::try_from(child.id()) {
                            // SAFETY: kill(2) on a process group of our own child.
                            unsafe { libc::kill(-group, libc::SIGKILL) };
                        }
                        let _ = child.wait();
                        return;
                    }
                    match child.try_wait() {
                        Ok(Some(_)) => break,
                        Ok(None) => thread::sleep(Duration::from_millis(50)),
                        Err(_) => return,
                    }
                }
            }
        });
        Ok(Self {
            stop,
            runner: Some(runner),
        })
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(runner) = self.runner.take() {
            let _ = runner.join();
        }
    }
}
