//! Figure 14 (issue 29): `codex_start` → job id through the shim for each
//! agent (codex, Gemini CLI, Claude Code), at figure 2's cadence, the calls
//! of the three agents alternated so that each sees the same machine.
//!
//! The agents are stub scripts (one line on stdout, exit 0), which is enough:
//! codexd answers a Start once the job is recorded and its monitor has the
//! job line, before the monitor spawns the agent (supervisor.rs `launch`);
//! all it asks of the agent's program before that is that it is there (a
//! PATH lookup, the same for every agent). So the figure is the core's
//! per-agent path (the agent's checks of the request, its command line, the
//! monitor's job), not the agents' own start-up, and it needs no real CLI:
//! it runs in CI's smoke pass.

use std::{thread, time::Instant};

use anyhow::{bail, Context};
use serde_json::json;

use crate::{
    daemon::{write_script, Daemon, Home},
    mcp::Shim,
    report::{Row, Unit},
    shim_latency::{self, START_PACE},
    stats::{ms, summarize},
    Ctx,
};

/// The agents, in the order their calls alternate, with their row ids.
const AGENTS: [(&str, &str); 3] = [("14a", "codex"), ("14b", "gemini"), ("14c", "claude")];

pub fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let bin = ctx.root.sub("agents-bin")?;
    // Stand-ins that print one line of their agent's stream and exit; the
    // job then ends (its result does not matter here).
    let gemini = write_script(
        &bin,
        "gemini",
        "# Gemini CLI stand-in (ignores its arguments)\n\
         echo '{\"type\":\"init\",\"session_id\":\"bench\",\"model\":\"bench\"}'\n",
    )?;
    let claude = write_script(
        &bin,
        "claude",
        "# Claude Code stand-in (ignores its arguments)\n\
         echo '{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"bench\"}'\n",
    )?;
    let home = Home::new(&ctx.root, "agents", &ctx.fast_codex)?
        .with_env("GEMINI_BIN", gemini.display().to_string())
        .with_env("CLAUDE_BIN", claude.display().to_string());
    let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
    let floor = shim_latency::grpc_floor(ctx, &home)?;
    let mut shim = Shim::spawn(&ctx.bins, &home)?;
    shim.initialize()?;

    let n = ctx.n(300, 20);
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(n); AGENTS.len()];
    // The first rounds warm what a session has warm already.
    for round in 0..n + 3 {
        for (i, (_, agent)) in AGENTS.iter().enumerate() {
            let args = json!({
                "prompt": "bench",
                "cwd": home.work.display().to_string(),
                "agent": agent,
            });
            thread::sleep(START_PACE);
            let t = Instant::now();
            let out = shim.call_tool("codex_start", args)?;
            let took = ms(t.elapsed());
            let Some(id) = out.get("job_id").and_then(|v| v.as_str()) else {
                bail!("codex_start with agent {agent} answered without a job_id: {out}");
            };
            if round == 0 {
                // The job is the agent's: a stand-in of the wrong agent
                // would time another path than the row says.
                check_agent(ctx, &home, id, agent)?;
            }
            if round >= 3 {
                samples[i].push(took);
            }
        }
    }
    daemon.stop(&ctx.rt)?;

    let floor_text = format!(
        "gRPC Info round trip: {} / {}",
        Unit::Ms.show(floor.median),
        Unit::Ms.show(floor.p99)
    );
    Ok(AGENTS
        .iter()
        .zip(samples)
        .map(|((id, agent), samples)| {
            Row::new(
                id,
                format!("`codex_start` with agent {agent} through the shim → job_id"),
                Unit::Ms,
                summarize(&samples),
            )
            .median_at_most(3.0)
            .floor(floor_text.clone())
            .note(format!(
                "{agent}: a stub script (Start answers before the agent runs); calls of the \
                 three agents alternated, one every {} ms",
                START_PACE.as_millis()
            ))
        })
        .collect())
}

/// Fails unless codexd recorded job `id` as run by `agent`.
fn check_agent(ctx: &Ctx, home: &Home, id: &str, agent: &str) -> anyhow::Result<()> {
    let mut client = crate::daemon::client(&ctx.rt, home)?;
    let job = ctx
        .rt
        .block_on(client.get(codex_async_proto::v1::GetRequest {
            job_id: id.to_string(),
            tail_lines: Some(0),
            since: None,
        }))
        .context("Get failed")?
        .into_inner()
        .job
        .context("Get answered without a job")?;
    if job.agent != agent {
        bail!(
            "job {id} was started for {agent} but codexd runs it on {}",
            job.agent
        );
    }
    Ok(())
}
