//! `codexd status`: whether the daemon runs, and what it holds.

use std::process::ExitCode;

use codex_async_proto::paths::Paths;

use crate::cmd;

/// Exit code when the daemon is not running (as `systemctl status` uses).
const NOT_RUNNING: u8 = 3;
/// Exit code when it runs (it holds the home's lock) but does not answer.
const UNREACHABLE: u8 = 1;

pub fn run(json: bool) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    let runtime = cmd::client_runtime()?;
    let info = runtime.block_on(cmd::daemon_info(&paths));
    // Not answering is not "not running": a daemon whose socket file is
    // gone still holds the home, its jobs and the database.
    if info.is_none() {
        if let Some(daemon) = cmd::stop::find_by_lock(&paths) {
            return Ok(unreachable(&paths, &daemon, json));
        }
    }
    match (info, json) {
        (Some(i), false) => {
            println!("codexd is running");
            println!("  pid:      {}", i.pid);
            println!("  version:  {}", i.version);
            println!("  socket:   {}", i.socket);
            println!("  home:     {}", i.home);
            println!("  since:    {}", i.started_at);
            println!(
                "  jobs:     {} queued, {} running, {} done, {} error, {} cancelled",
                i.queued, i.running, i.done, i.error, i.cancelled
            );
            if i.pending_changes > 0 {
                println!("  pending:  {}", pending_note(i.pending_changes));
            }
            if let Some(note) = cmd::version_note(&i.version) {
                println!("  note:     {note}");
            }
            Ok(ExitCode::SUCCESS)
        }
        (Some(i), true) => {
            let value = serde_json::json!({
                "running": true, "pid": i.pid, "version": i.version, "socket": i.socket,
                "this_version": cmd::VERSION, "version_note": cmd::version_note(&i.version),
                "home": i.home, "started_at": i.started_at,
                "pending_changes": i.pending_changes,
                "jobs": {"queued": i.queued, "running": i.running, "done": i.done,
                         "error": i.error, "cancelled": i.cancelled},
            });
            println!("{value}");
            Ok(ExitCode::SUCCESS)
        }
        (None, false) => {
            println!(
                "codexd is not running (socket {}); start it with `codexd start`",
                paths.socket.display()
            );
            Ok(ExitCode::from(NOT_RUNNING))
        }
        (None, true) => {
            let value =
                serde_json::json!({"running": false, "socket": paths.socket.display().to_string()});
            println!("{value}");
            Ok(ExitCode::from(NOT_RUNNING))
        }
    }
}

/// What `status` says while state changes wait to be written.
fn pending_note(n: u64) -> String {
    format!(
        "{n} state change{} not yet written to the database (the disk is full or not writable); kept by codexd and written as soon as it can be — free space (`codexd prune`) and check `codexd doctor`",
        if n == 1 { "" } else { "s" }
    )
}

/// What `status` says of a daemon that holds the home but does not answer.
fn unreachable(paths: &Paths, daemon: &crate::store::home::Running, json: bool) -> ExitCode {
    if json {
        let value = serde_json::json!({"running": true, "reachable": false,
            "pid": daemon.pid, "socket": paths.socket.display().to_string()});
        println!("{value}");
    } else {
        println!(
            "codexd is running (pid {}) but does not answer on its socket {}; \
             it binds a removed socket again within seconds: if this lasts, see its log \
             ({}), or stop it with `codexd stop`",
            daemon.pid,
            paths.socket.display(),
            crate::logging::log_dir(paths).display()
        );
    }
    ExitCode::from(UNREACHABLE)
}
