//! Figure 8: 32 shims (32 Claude sessions) polling one daemon at once.

use std::{
    sync::{Arc, Barrier},
    thread,
    time::Instant,
};

use serde_json::json;

use crate::{
    daemon::{Daemon, Home},
    mcp::Shim,
    report::{combine, Row, Unit, Verdict},
    shim_latency::job_with_output,
    stats::{ms, summarize},
    Ctx,
};

const SHIMS: usize = 32;

/// What one shim saw.
struct Outcome {
    samples: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
}

pub fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let polls = ctx.n(1000, 50);
    let home = Home::new(&ctx.root, "concurrent", &ctx.fast_codex)?;
    let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
    let (job, _) = job_with_output(ctx, &home, 1 << 20)?;
    let barrier = Arc::new(Barrier::new(SHIMS + 1));
    let mut threads = Vec::with_capacity(SHIMS);
    for _ in 0..SHIMS {
        let (bins, home, job, barrier) =
            (ctx.bins.clone(), home.clone(), job.clone(), barrier.clone());
        threads.push(thread::spawn(move || -> anyhow::Result<Outcome> {
            let args = json!({"job_id": job});
            // Spawn, initialize and connect (the first call opens the socket)
            // before the clock starts; wait at the barrier even after a failure.
            let setup = (|| -> anyhow::Result<Shim> {
                let mut shim = Shim::spawn(&bins, &home)?;
                shim.initialize()?;
                shim.call_tool("codex_poll", args.clone())?;
                Ok(shim)
            })();
            barrier.wait();
            let mut shim = setup?;
            let mut out = Outcome {
                samples: Vec::with_capacity(polls),
                errors: 0,
                first_error: None,
            };
            for _ in 0..polls {
                let t = Instant::now();
                match shim.call_tool("codex_poll", args.clone()) {
                    Ok(_) => out.samples.push(ms(t.elapsed())),
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            Ok(out)
        }));
    }
    barrier.wait();
    let t = Instant::now();
    let mut samples = Vec::with_capacity(SHIMS * polls);
    let mut errors = 0;
    let mut first_error = None;
    for handle in threads {
        let outcome = handle
            .join()
            .map_err(|_| anyhow::anyhow!("a polling thread panicked"))??;
        samples.extend(outcome.samples);
        errors += outcome.errors;
        first_error = first_error.or(outcome.first_error);
    }
    let wall = t.elapsed().as_secs_f64();
    daemon.stop(&ctx.rt)?;

    let summary = summarize(&samples);
    let no_errors = if errors == 0 {
        Verdict::Met
    } else {
        Verdict::Missed(format!("{errors} errors"))
    };
    let mut row = Row::new(
        "8",
        format!("{SHIMS} concurrent shims × {polls} `codex_poll` (1 MiB job)"),
        Unit::Ms,
        summary,
    )
    .p99_at_most(10.0);
    let verdict = combine(row.verdict.clone(), no_errors);
    row = row.target("≤ 10 ms p99, zero errors", verdict);
    row = row.note(format!(
        "{errors} errors; {:.0} polls/s in all",
        (SHIMS * polls) as f64 / wall
    ));
    if let Some(e) = first_error {
        row = row.note(format!("first error: {e}"));
    }
    Ok(vec![row])
}
