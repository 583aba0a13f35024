//! Finding and signalling the processes a job started.
//!
//! codex runs its tool commands in their own sessions, so a process-group kill
//! misses them; the monitor instead walks the parent links of every process.
//! On Linux the table comes from /proc; elsewhere from `ps`, the one portable
//! source (macOS has no /proc and its libproc API is not wrapped by nix).

use std::{collections::HashMap, fs, process::Command};

use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};

/// pid → parent pid of every live (non-zombie) process.
fn process_table() -> HashMap<i32, i32> {
    if cfg!(target_os = "linux") {
        linux_table()
    } else {
        ps_table()
    }
}

fn linux_table() -> HashMap<i32, i32> {
    let mut table = HashMap::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return table;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(stat) = read_stat(pid) {
            if stat.state != 'Z' && stat.state != 'X' {
                table.insert(pid, stat.ppid);
            }
        }
    }
    table
}

fn ps_table() -> HashMap<i32, i32> {
    let Ok(out) = Command::new("ps")
        .args(["-axo", "pid=,ppid=,stat="])
        .output()
    else {
        return HashMap::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let pid = f.next()?.parse().ok()?;
            let ppid = f.next()?.parse().ok()?;
            let stat = f.next().unwrap_or("");
            (!stat.starts_with('Z')).then_some((pid, ppid))
        })
        .collect()
}

/// The fields of /proc/<pid>/stat this module needs.
struct Stat {
    state: char,
    ppid: i32,
    start_time: i64,
}

fn read_stat(pid: i32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); ppid is field 4, starttime field 22.
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// The start time of `pid` in clock ticks since boot, where the platform tells
/// it (Linux); used to tell a process from a later one that reuses its pid.
pub fn start_time(pid: i32) -> Option<i64> {
    read_stat(pid).map(|s| s.start_time)
}

/// True when `pid` is alive, not a zombie, and (if `start` is known) is the
/// same process that was recorded.
pub fn is_same_process_alive(pid: i32, start: Option<i64>) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match read_stat(pid) {
        Some(stat) => {
            stat.state != 'Z' && stat.state != 'X' && start.is_none_or(|s| s == stat.start_time)
        }
        // No /proc (macOS): the signal probe is all there is.
        None => !cfg!(target_os = "linux"),
    }
}

/// Every live descendant of `root` (not `root` itself).
pub fn descendants(root: i32) -> Vec<i32> {
    let table = process_table();
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (&pid, &ppid) in &table {
        children.entry(ppid).or_default().push(pid);
    }
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        if let Some(kids) = children.get(&pid) {
            for &kid in kids {
                found.push(kid);
                stack.push(kid);
            }
        }
    }
    found
}

/// After a job's monitor died without recording an exit: SIGKILL what it
/// left, codex's descendants (even those in their own sessions, while codex
/// still parents them) and codex's process group. Only while `codex_pid` is
/// alive and has the recorded start time, so a reused pid is never hit; with no
/// start time to compare (macOS, or an older monitor.json) nothing is killed.
/// Returns whether codex was found and killed.
pub fn kill_orphaned_job(codex_pid: i32, codex_start_time: Option<i64>) -> bool {
    if codex_pid <= 1 || codex_start_time.is_none() {
        return false;
    }
    if !is_same_process_alive(codex_pid, codex_start_time) {
        return false;
    }
    let mut targets = descendants(codex_pid);
    targets.push(codex_pid);
    signal_all(&targets, Signal::SIGKILL);
    // codex leads its own group (the monitor starts it so).
    let _ = kill(Pid::from_raw(-codex_pid), Signal::SIGKILL);
    true
}

/// Sends `signal` to every pid in `pids`, ignoring those already gone.
pub fn signal_all(pids: &[i32], signal: Signal) {
    for &pid in pids {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}
