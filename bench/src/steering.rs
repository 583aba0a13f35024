//! Figure 13: a steering's round trip, Steer → codex has it (the monitor sent
//! `turn/steer` and codex's app-server answered), on one running job of the
//! python fake codex (which answers `turn/steer` as codex does), one Steer
//! every 50 ms straight to codexd. With the real codex the app-server's own
//! answer took ~10 ms (FIELD-NOTES); the model reads the text at its next
//! request, after a running command ends (daemon/tests/steer.rs holds that).

use std::{
    fs, thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use codex_async_proto::v1::{GetRequest, SteerRequest};

use crate::{
    daemon::{self, Daemon, Home},
    report::{Row, Unit},
    stats::{ms, summarize},
    Ctx,
};

/// Pause between two steerings.
const PACE: Duration = Duration::from_millis(50);
/// How long the fake codex may take to reach its waiting step.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

pub fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let home = Home::new(&ctx.root, "steer", &ctx.bins.fake_codex)?;
    let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
    let mut client = daemon::client(&ctx.rt, &home)?;
    let go = home.work.join("go");
    let prompt = format!("msg:ready;waitfile:{};msg:done", go.display());
    let id = daemon::start_job(&ctx.rt, &mut client, &home, &prompt)?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let got = ctx
            .rt
            .block_on(client.get(GetRequest {
                job_id: id.clone(),
                tail_lines: Some(0),
                since: None,
            }))
            .context("Get failed")?
            .into_inner();
        if got.events.contains("message: ready") {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the fake codex did not reach its waiting step: {}",
                got.events
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    let n = ctx.n(200, 10);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 3 {
        thread::sleep(PACE);
        let t = Instant::now();
        let said = ctx
            .rt
            .block_on(client.steer(SteerRequest {
                job_id: id.clone(),
                text: format!("steering {i}"),
            }))
            .context("Steer failed")?
            .into_inner()
            .message;
        let took = ms(t.elapsed());
        if !said.starts_with("codex has it") {
            bail!("steering {i} was not taken: {said}");
        }
        if i >= 3 {
            samples.push(took);
        }
    }
    fs::write(&go, "")?;
    daemon::wait_done(&ctx.rt, &mut client, &id, READY_TIMEOUT)?;
    daemon.stop(&ctx.rt)?;
    Ok(vec![Row::new(
        "13",
        "Steer → codex has it (the monitor sent turn/steer, codex answered), one running job",
        Unit::Ms,
        summarize(&samples),
    )
    .note(format!(
        "python fake codex; one Steer every {} ms, straight to codexd",
        PACE.as_millis()
    ))])
}
