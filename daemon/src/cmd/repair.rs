//! `codexd repair`: with the daemon stopped, make the database whole from the
//! job folders — a damaged database (SQLite's quick_check included) is moved
//! aside to `codexd.db.corrupt-<time>`, and every job it lacks is recorded
//! again from its folder (see `rebuild.rs`). `codexd serve` does the same at
//! every start, short of the quick_check.

use std::process::ExitCode;

use codex_async_proto::{paths::Paths, v1::JobStatus};
use serde_json::json;

use crate::{
    cmd::{self, ui},
    store::home::{self, HomeError},
    store::rebuild::{self, Lineage},
};

pub fn run(json: bool) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    if !paths.home.is_dir() {
        ui::emit(&format!(
            "nothing to repair: {} does not exist\n",
            paths.home.display()
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    // The home's lock: repair must never move a database a daemon has open.
    let _lock = match home::lock(&paths) {
        Ok(lock) => lock,
        Err(HomeError::AlreadyRunning { pid, .. }) => {
            eprintln!(
                "codexd: codexd is running (pid {pid}) on {}; repair needs it stopped: \
                 run `codexd stop` (running jobs keep running), then `codexd repair`, \
                 then `codexd start`",
                paths.home.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    let runtime = cmd::client_runtime()?;
    let opened = runtime.block_on(rebuild::open(&paths, rebuild::Check::Thorough))?;
    runtime.block_on(opened.db.close());

    let count = |f: fn(JobStatus) -> bool| opened.rebuilt.iter().filter(|(_, s)| f(*s)).count();
    let (queued, running, finished) = (
        count(|s| s == JobStatus::Queued),
        count(|s| s == JobStatus::Running),
        count(JobStatus::is_terminal),
    );
    let database = paths.database();
    if json {
        let lineage = match &opened.lineage {
            Lineage::First => json!({"kind": "first"}),
            Lineage::Same => json!({"kind": "same"}),
            Lineage::Vanished { was } => json!({"kind": "vanished", "was": was}),
            Lineage::Replaced { was } => json!({"kind": "replaced", "was": was}),
        };
        let unreadable: Vec<_> = opened
            .unreadable
            .iter()
            .map(|(folder, why)| json!({"folder": folder.display().to_string(), "why": why}))
            .collect();
        ui::emit(&format!(
            "{}\n",
            json!({
                "database": database.display().to_string(),
                "moved_aside": opened.moved_aside.as_ref().map(|(p, _)| p.display().to_string()),
                "damage": opened.moved_aside.as_ref().map(|(_, why)| why),
                "lineage": lineage,
                "rebuilt": opened.rebuilt.len(),
                "rebuilt_queued": queued,
                "rebuilt_running": running,
                "rebuilt_finished": finished,
                "unreadable": unreadable,
            })
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    match &opened.moved_aside {
        Some((aside, why)) => out.push_str(&format!(
            "{} {} was damaged ({why}); moved it aside to {} and made a new one\n",
            ui::yellow("moved"),
            database.display(),
            aside.display()
        )),
        None => out.push_str(&format!(
            "{} {} reads whole\n",
            ui::green("ok"),
            database.display()
        )),
    }
    if let Lineage::Vanished { .. } | Lineage::Replaced { .. } = opened.lineage {
        if opened.moved_aside.is_none() {
            out.push_str(
                "note: this is not the database this home last used (deleted, or replaced)\n",
            );
        }
    }
    if opened.rebuilt.is_empty() {
        out.push_str("every job folder has its record; nothing rebuilt\n");
    } else {
        out.push_str(&format!(
            "{} {} jobs from their folders ({finished} finished, {running} running, {queued} queued)\n",
            ui::green("rebuilt"),
            opened.rebuilt.len()
        ));
    }
    for (folder, why) in &opened.unreadable {
        out.push_str(&format!(
            "{} {} has no record and cannot be rebuilt: {why}\n",
            ui::yellow("left"),
            folder.display()
        ));
    }
    out.push_str(
        "start codexd again with `codexd start`: running jobs are re-adopted (or settled from \
         exit.json), queued ones run\n",
    );
    ui::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}
