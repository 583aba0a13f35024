//! codex-async-bench: drives the real `codexd` and `codex-async-shim` binaries
//! (each in its own temp home, with a fake codex) and prints, for each figure
//! of issue 7, the median and p99 beside its target and the floor this machine
//! allows. See BENCHMARKS.md.
//!
//! `cargo run --release -p codex-async-bench` (the full run; builds the
//! binaries first if needed), `-- --quick` for a smoke pass of a few seconds.

mod agents;
mod cadence;
mod capture;
mod concurrency;
mod daemon;
mod dbfill;
mod flood;
mod jobs100k;
mod mcp;
mod memory;
mod output;
mod procs;
mod report;
mod shim_latency;
mod stats;
mod steering;
mod task_latency;

use std::{collections::BTreeSet, path::PathBuf, time::Instant};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::json;

use crate::{
    daemon::write_script,
    procs::{Binaries, TempRoot},
    report::{Machine, Row},
};

/// Benchmarks codexd and codex-async-shim against targets and floors.
#[derive(Debug, Parser)]
#[command(name = "codex-async-bench")]
struct Cli {
    /// A smoke pass of a few seconds: fewer samples, smaller sizes. Timings
    /// from it are noisy; use the full run for figures.
    #[arg(long)]
    quick: bool,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Benchmark the binaries of this cargo profile (target/<profile>)
    /// instead of the one the bench was built with, e.g. `--profile debug`.
    #[arg(long)]
    profile: Option<String>,
    /// Do not run `cargo build` for codexd and the shim first.
    #[arg(long)]
    no_build: bool,
    /// Run this shell command over and over beside figures 2c and 2d (the
    /// cadence of a model's calls), e.g. a build: `--load "cargo build"`.
    #[arg(long, value_name = "CMD")]
    load: Option<String>,
    /// Only these figures (numbers from 1 to 10, 12, 13 and 14; 13 is 13
    /// and 13b, 14 is codex_start per agent), e.g. `--only 2,3`.
    #[arg(long, value_delimiter = ',')]
    only: Vec<u32>,
}

/// What every figure needs.
pub struct Ctx {
    pub bins: Binaries,
    pub root: TempRoot,
    pub rt: tokio::runtime::Runtime,
    pub quick: bool,
    /// A codex stand-in that prints one event line and exits at once.
    pub fast_codex: PathBuf,
}

impl Ctx {
    /// `full` samples in a full run, `quick` in a smoke pass.
    pub fn n(&self, full: usize, quick: usize) -> usize {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codex-async-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Figure 11 is measured by a test with the real Claude Code, not here.
    if let Some(bad) = cli
        .only
        .iter()
        .find(|&&n| !(1..=10).contains(&n) && !(12..=14).contains(&n))
    {
        bail!("--only {bad}: figures are numbered 1 to 10, 12, 13 and 14");
    }
    let only: BTreeSet<u32> = cli.only.iter().copied().collect();
    let wants = |n: u32| only.is_empty() || only.contains(&n);

    let bins = Binaries::locate(cli.profile.as_deref())?;
    if !cli.no_build {
        bins.build()?;
    }
    bins.check()?;
    let root = TempRoot::new()?;
    let bin_dir = root.sub("bin")?;
    let fast_codex = write_script(
        &bin_dir,
        "fast-codex",
        "# codex stand-in: one event line, exit 0 (ignores its arguments)\n\
         echo '{\"type\":\"thread.started\",\"thread_id\":\"bench\"}'\n",
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot create the async runtime")?;
    let ctx = Ctx {
        bins,
        root,
        rt,
        quick: cli.quick,
        fast_codex,
    };

    let machine = Machine::describe();
    let load_before = report::load_average();
    let begun = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    let mut step = |name: &str, figure: &dyn Fn() -> anyhow::Result<Vec<Row>>| {
        eprintln!("… {name}");
        let t = Instant::now();
        match figure() {
            Ok(r) => rows.extend(r),
            Err(e) => {
                // One broken figure must not hide the others.
                eprintln!("  failed: {e:#}");
                rows.push(
                    Row::new(
                        "!",
                        format!("{name}: FAILED"),
                        report::Unit::Ms,
                        stats::summarize(&[]),
                    )
                    .note(format!("{e:#}")),
                );
            }
        }
        eprintln!("  ({:.1} s)", t.elapsed().as_secs_f64());
    };
    if wants(1) || wants(2) || wants(3) || wants(6) {
        step(
            "figures 1, 2, 3, 6: shim start-up, codex_start, codex_poll, shim RSS",
            &|| shim_latency::run(&ctx, wants(1), wants(2) || wants(6), wants(3) || wants(6)),
        );
    }
    if wants(2) {
        step(
            "figures 2c, 2d: codex_start at a model's cadence (0.6 s and 5 s apart)",
            &|| cadence::run(&ctx, cli.load.as_deref()),
        );
    }
    if wants(4) || wants(9) {
        step(
            "figures 4, 9: codex_list and cold start with 100,000 jobs in the database",
            &|| jobs100k::run(&ctx, wants(4), wants(9)),
        );
    }
    if wants(5) {
        step("figure 5: daemon and monitor RSS", &|| memory::run(&ctx));
    }
    if wants(7) {
        step("figure 7: output capture throughput", &|| {
            capture::run(&ctx)
        });
    }
    if wants(8) {
        step("figure 8: 32 concurrent shims polling", &|| {
            concurrency::run(&ctx)
        });
    }
    if wants(10) {
        step(
            "figure 10: codex's exit → tasks/get answers completed",
            &|| task_latency::run(&ctx),
        );
    }
    if wants(12) {
        step(
            "figure 12: one connection's 3,000 concurrent Gets beside another client",
            &|| flood::run(&ctx),
        );
    }
    if wants(13) {
        step("figure 13: Steer → codex has it", &|| steering::run(&ctx));
        step(
            "figure 13b: Steer → codex's next model request carries it (the real codex)",
            &|| steering::run_next_request(&ctx),
        );
    }
    if wants(14) {
        step(
            "figure 14: codex_start → job_id per agent (codex, Gemini CLI, Claude Code)",
            &|| agents::run(&ctx),
        );
    }
    rows.sort_by_key(|r| natural(&r.id));
    let load_after = report::load_average();
    let mut mode = if ctx.quick {
        "quick smoke pass (--quick): few samples, noisy; not for comparison".to_string()
    } else {
        "full run".to_string()
    };
    if ctx.bins.profile() != "release" {
        mode.push_str(&format!(
            " · {} binaries: the targets are for release builds",
            ctx.bins.profile()
        ));
    }

    if cli.json {
        let doc = json!({
            "mode": if ctx.quick { "quick" } else { "full" },
            "machine": machine.line(),
            "binaries": ctx.bins.dir.display().to_string(),
            "profile": ctx.bins.profile(),
            "load_before": load_before,
            "load_after": load_after,
            "seconds": begun.elapsed().as_secs_f64(),
            "rows": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("codex-async bench — {mode}");
        println!();
        println!("machine: {}", machine.line());
        println!(
            "binaries: {} ({} profile) · load average before {load_before}, after {load_after} · took {:.1} s",
            ctx.bins.dir.display(),
            ctx.bins.profile(),
            begun.elapsed().as_secs_f64()
        );
        println!();
        print!("{}", report::table(&rows));
    }
    if rows.iter().any(|r| r.id == "!") {
        bail!("some figures could not be measured (see the table)");
    }
    Ok(())
}

/// Sort key for row ids: "3b" → (3, "b"); failures last.
fn natural(id: &str) -> (u32, String) {
    let digits: String = id.chars().take_while(char::is_ascii_digit).collect();
    let rest = id[digits.len()..].to_string();
    (digits.parse().unwrap_or(u32::MAX), rest)
}
