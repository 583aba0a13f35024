//! Finding and signalling the processes a job started.
//!
//! codex runs its tool commands in their own sessions, so a process-group kill
//! misses them; a job's processes are found instead as a tree ([`Tree`]): the
//! children of every member (by parent pid), and every process in a session or
//! process group a member leads. The sessions catch what the parent links lose:
//! a process whose parent exits is reparented, on Linux to the monitor (a
//! child subreaper, so it stays in the tree) but on macOS to launchd, where
//! only its session or group still ties it to the job. A [`Tree`] therefore
//! remembers the sessions and groups it has seen led by a member: their ids
//! cannot be taken by a new process while any process is still in them
//! (Linux and XNU both refuse a pid that names a live group or session), and
//! are forgotten as soon as a walk finds none left.
//!
//! The table comes from the kernel: /proc on Linux, libproc
//! (`proc_listallpids`, `proc_pidinfo(PROC_PIDTBSDINFO)`) and `getsid` on
//! macOS, through `libc` (the `libproc` crate generates its bindings with
//! bindgen at build time, which needs libclang and the macOS SDK, and wraps no
//! more than these two calls). The walk is the same code on both, and its
//! tests run on each.

use std::collections::{HashMap, HashSet};

use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};

/// One live (non-zombie) process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    /// Process group id.
    pub pgid: i32,
    /// Session id.
    pub sid: i32,
    /// When it started (see [`start_time`]).
    pub start: i64,
}

/// Whether a process whose parent exits can leave a job's parent links: where
/// the monitor cannot be a subreaper (macOS) it is reparented to launchd, so
/// the monitor walks its tree now and then to remember the sessions and
/// groups that still hold such processes.
pub const ORPHANS_LEAVE_THE_TREE: bool = !cfg!(target_os = "linux");

/// The start time of `pid`, where the platform tells it: clock ticks since
/// boot on Linux (/proc/<pid>/stat), microseconds since the epoch on macOS
/// (`pbi_start_tvsec`/`tvusec`). Recorded and compared on one machine only,
/// to tell a process from a later one that reuses its pid.
pub fn start_time(pid: i32) -> Option<i64> {
    info(pid).map(|p| p.start)
}

/// True when `pid` is alive, not a zombie, and (if `start` is known) is the
/// same process that was recorded.
pub fn is_same_process_alive(pid: i32, start: Option<i64>) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match info(pid) {
        Some(found) => start.is_none_or(|s| s == found.start),
        // The signal probe found it, so it is a zombie, or it exited since.
        None => false,
    }
}

/// Every live descendant of `root` (not `root` itself); see [`Tree`].
pub fn descendants(root: i32) -> Vec<i32> {
    Tree::new(root).descendants()
}

/// A job's processes below `root`, remembering between walks the sessions and
/// groups its members led (see the module docs).
#[derive(Debug)]
pub struct Tree {
    root: i32,
    /// Ids of sessions and groups a member led when last seen, that some
    /// process was still in at the last walk.
    known: HashSet<i32>,
}

impl Tree {
    pub fn new(root: i32) -> Self {
        Self {
            root,
            known: HashSet::new(),
        }
    }

    /// Every live process of the tree but `root`, from the kernel's table now.
    pub fn descendants(&mut self) -> Vec<i32> {
        self.walk(&table())
    }

    /// Every process of `table` in the tree but `root`: children of members,
    /// and the members of sessions and groups that a member leads or that were
    /// remembered; then remembers the sessions and groups still in use.
    pub fn walk(&mut self, table: &[Proc]) -> Vec<i32> {
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        let mut in_session: HashMap<i32, Vec<i32>> = HashMap::new();
        let mut in_group: HashMap<i32, Vec<i32>> = HashMap::new();
        for p in table {
            children.entry(p.ppid).or_default().push(p.pid);
            in_session.entry(p.sid).or_default().push(p.pid);
            in_group.entry(p.pgid).or_default().push(p.pid);
        }
        // Ids whose processes belong to the tree: the root's, every member's
        // (as a session or group leader), and the remembered ones.
        let mut leaders: HashSet<i32> = HashSet::from([self.root]);
        let mut found: HashSet<i32> = HashSet::from([self.root]);
        let mut order = Vec::new();
        let mut stack: Vec<i32> = vec![self.root];
        stack.extend(self.known.iter().copied());
        leaders.extend(self.known.iter().copied());
        while let Some(id) = stack.pop() {
            let linked = [&children, &in_session, &in_group]
                .into_iter()
                .filter_map(|by| by.get(&id))
                .flatten();
            // Children go by parent pid, so only a member's; a session or
            // group only by a leader id (every member's pid is one).
            let linked: Vec<i32> = linked.copied().collect();
            for pid in linked {
                if found.insert(pid) {
                    order.push(pid);
                    leaders.insert(pid);
                    stack.push(pid);
                }
            }
        }
        self.known = leaders
            .into_iter()
            .filter(|id| *id != self.root)
            .filter(|id| in_session.contains_key(id) || in_group.contains_key(id))
            .collect();
        order
    }
}

/// After a job's monitor died without recording an exit: SIGKILL what it
/// left, codex's descendants (even those in their own sessions, while codex
/// still parents them), codex's process group, and the dead monitor's session
/// (which codex and everything it started without `setsid` are in, also once
/// reparented). Only while `codex_pid` is alive and has the recorded start
/// time, so a reused pid is never hit; with no start time recorded (an older
/// monitor.json) nothing is killed. Returns whether codex was found and killed.
pub fn kill_orphaned_job(monitor_pid: i32, codex_pid: i32, codex_start_time: Option<i64>) -> bool {
    if codex_pid <= 1 || codex_start_time.is_none() {
        return false;
    }
    if !is_same_process_alive(codex_pid, codex_start_time) {
        return false;
    }
    let table = table();
    let mut targets = Tree::new(codex_pid).walk(&table);
    // codex is in the session its monitor made (setsid), so the session's id
    // is the monitor's pid, held while codex lives: nobody else's session.
    // Checked, so a monitor that failed its setsid never names its parent's.
    let monitor_session = table
        .iter()
        .find(|p| p.pid == codex_pid)
        .is_some_and(|codex| codex.sid == monitor_pid && monitor_pid > 1);
    if monitor_session {
        targets.extend(
            table
                .iter()
                .filter(|p| p.sid == monitor_pid && p.pid != monitor_pid)
                .map(|p| p.pid),
        );
    }
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

/// Every live process, from the kernel.
pub fn table() -> Vec<Proc> {
    platform::pids()
        .into_iter()
        .filter_map(platform::info)
        .collect()
}

/// `pid`'s row, if it is alive and not a zombie.
pub fn info(pid: i32) -> Option<Proc> {
    platform::info(pid)
}

#[cfg(target_os = "linux")]
mod platform {
    use std::fs;

    use super::Proc;

    pub fn pids() -> Vec<i32> {
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
            .collect()
    }

    pub fn info(pid: i32) -> Option<Proc> {
        parse_stat(pid, &fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// A /proc/<pid>/stat line; None for a zombie or a dead process.
    pub fn parse_stat(pid: i32, text: &str) -> Option<Proc> {
        // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        let (_, rest) = text.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // rest starts at field 3 (state); ppid is field 4, pgrp 5, session 6,
        // starttime 22.
        let state = fields.first()?.chars().next()?;
        if state == 'Z' || state == 'X' {
            return None;
        }
        Some(Proc {
            pid,
            ppid: fields.get(1)?.parse().ok()?,
            pgid: fields.get(2)?.parse().ok()?,
            sid: fields.get(3)?.parse().ok()?,
            start: fields.get(19)?.parse().ok()?,
        })
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use std::{ffi::c_void, mem};

    use nix::unistd::{getsid, Pid};

    use super::Proc;

    pub fn pids() -> Vec<i32> {
        // SAFETY: with no buffer, proc_listallpids only returns how many pids there are.
        let count = unsafe { libc::proc_listallpids(std::ptr::null_mut(), 0) };
        let Ok(count) = usize::try_from(count) else {
            return Vec::new();
        };
        // Room for processes started between the two calls.
        let mut pids = vec![0i32; count + 64];
        let Ok(bytes) = libc::c_int::try_from(pids.len() * mem::size_of::<i32>()) else {
            return Vec::new();
        };
        // SAFETY: the buffer is `bytes` long and lives here; the call writes
        // at most that many bytes of pids into it.
        let got = unsafe { libc::proc_listallpids(pids.as_mut_ptr().cast::<c_void>(), bytes) };
        let Ok(got) = usize::try_from(got) else {
            return Vec::new();
        };
        pids.truncate(got);
        pids.retain(|pid| *pid > 0);
        pids
    }

    pub fn info(pid: i32) -> Option<Proc> {
        // SAFETY: proc_bsdinfo is plain integers and byte arrays: all zeros is a value.
        let mut bsd: libc::proc_bsdinfo = unsafe { mem::zeroed() };
        let size = libc::c_int::try_from(mem::size_of::<libc::proc_bsdinfo>()).ok()?;
        // SAFETY: the buffer is a proc_bsdinfo of `size` bytes that lives
        // here; PROC_PIDTBSDINFO writes at most that.
        let got = unsafe {
            libc::proc_pidinfo(
                pid,
                libc::PROC_PIDTBSDINFO,
                0,
                (&mut bsd as *mut libc::proc_bsdinfo).cast::<c_void>(),
                size,
            )
        };
        if got != size || bsd.pbi_status == libc::SZOMB {
            return None;
        }
        // proc_bsdinfo has the group but not the session.
        let sid = getsid(Some(Pid::from_raw(pid))).ok()?.as_raw();
        let micros = i64::try_from(bsd.pbi_start_tvsec)
            .ok()?
            .checked_mul(1_000_000)?
            .checked_add(i64::try_from(bsd.pbi_start_tvusec).ok()?)?;
        Some(Proc {
            pid,
            ppid: i32::try_from(bsd.pbi_ppid).ok()?,
            pgid: i32::try_from(bsd.pbi_pgid).ok()?,
            sid,
            start: micros,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pid: i32, ppid: i32, pgid: i32, sid: i32) -> Proc {
        Proc {
            pid,
            ppid,
            pgid,
            sid,
            start: 0,
        }
    }

    fn sorted(mut pids: Vec<i32>) -> Vec<i32> {
        pids.sort_unstable();
        pids
    }

    #[test]
    fn a_walk_follows_parents_sessions_and_groups_a_member_leads() {
        // 10 the root (a session leader, as the monitor is); 11 its child in
        // its session; 12 an orphan of the session (parent gone, reparented to
        // 1); 13 a child of 11 that called setsid; 14 an orphan in 13's session;
        // 15 an orphan in a group 11 leads; 20 and 21 someone else's.
        let table = [
            row(1, 0, 1, 1),
            row(10, 5, 10, 10),
            row(11, 10, 11, 10),
            row(12, 1, 10, 10),
            row(13, 11, 13, 13),
            row(14, 1, 13, 13),
            row(15, 1, 11, 10),
            row(20, 1, 20, 20),
            row(21, 20, 20, 20),
        ];
        let mut tree = Tree::new(10);
        assert_eq!(sorted(tree.walk(&table)), vec![11, 12, 13, 14, 15]);
        // Codex (11) as the root: not the monitor's session, which 11 does not lead.
        assert_eq!(sorted(Tree::new(11).walk(&table)), vec![13, 14, 15]);
    }

    #[test]
    fn a_tree_remembers_a_session_whose_leader_left_it() {
        // 13 called setsid under 11; then 11 exited: 13 and its child 14
        // were reparented to 1, and no parent link leads to them.
        let before = [
            row(10, 5, 10, 10),
            row(11, 10, 11, 10),
            row(13, 11, 13, 13),
            row(14, 13, 13, 13),
        ];
        let after = [row(10, 5, 10, 10), row(13, 1, 13, 13), row(14, 1, 13, 13)];
        let mut tree = Tree::new(10);
        assert_eq!(sorted(tree.walk(&before)), vec![11, 13, 14]);
        assert!(Tree::new(10).walk(&after).is_empty(), "not by links alone");
        assert_eq!(sorted(tree.walk(&after)), vec![13, 14]);
        // 13 exits too: 14 still holds session 13.
        assert_eq!(
            tree.walk(&[row(10, 5, 10, 10), row(14, 1, 13, 13)]),
            vec![14]
        );
        // All gone: the id is forgotten, so a later process given pid 13 is
        // not taken for the job's.
        assert!(tree.walk(&[row(10, 5, 10, 10)]).is_empty());
        assert!(tree
            .walk(&[row(10, 5, 10, 10), row(13, 1, 13, 13)])
            .is_empty());
    }

    /// A real tree, as codex's tool commands make one: R (leading its own
    /// group, as codex does) → M → G, which calls setsid and starts GG. Then
    /// M is killed, so G (and its session) leave R's parent links, and later G,
    /// so only GG is left in G's session. Runs on Linux and on macOS alike.
    #[test]
    fn a_real_tree_is_found_after_a_setsid_grandchild_is_orphaned() {
        use std::{
            io::{BufRead, BufReader},
            os::unix::process::CommandExt,
            process::{Command, Stdio},
            time::{Duration, Instant},
        };
        const SCRIPT: &str = r#"
import os
m = os.fork()
if m == 0:
    g = os.fork()
    if g == 0:
        os.setsid()
        gg = os.fork()
        if gg == 0:
            os.execvp("sleep", ["sleep", "300"])
        print(os.getppid(), os.getpid(), gg, flush=True)
        os.execvp("sleep", ["sleep", "300"])
    os.execvp("sleep", ["sleep", "300"])
os.execvp("sleep", ["sleep", "300"])
"#;
        let mut root = Command::new("python3")
            .args(["-c", SCRIPT])
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("python3 runs");
        let r = root.id() as i32;
        let mut line = String::new();
        BufReader::new(root.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the tree says its pids");
        let pids: Vec<i32> = line
            .split_whitespace()
            .map(|p| p.parse().expect("a pid"))
            .collect();
        let [m, g, gg] = pids[..] else {
            panic!("three pids, got {line:?}");
        };
        let everyone = [r, m, g, gg];
        // Whatever an assertion does, nothing is left running.
        struct Cleanup([i32; 4]);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                signal_all(&self.0, Signal::SIGKILL);
            }
        }
        let _cleanup = Cleanup(everyone);
        let until = |what: &str, done: &dyn Fn() -> bool| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !done() {
                assert!(Instant::now() < deadline, "timed out waiting until {what}");
                std::thread::sleep(Duration::from_millis(10));
            }
        };

        // The kernel's table agrees with what the processes say of
        // themselves and with `ps`, another reader of the same table.
        let table = table();
        let row = |pid: i32| *table.iter().find(|p| p.pid == pid).expect("in the table");
        assert_eq!((row(r).pgid, row(m).ppid, row(g).ppid), (r, r, m));
        assert_eq!(
            (row(g).sid, row(g).pgid, row(gg).sid, row(gg).ppid),
            (g, g, g, g)
        );
        let ps = Command::new("ps")
            .args(["-A", "-o", "pid=,ppid=,pgid="])
            .output()
            .expect("ps runs");
        let ps = String::from_utf8_lossy(&ps.stdout);
        for pid in everyone {
            let p = row(pid);
            let want = format!("{} {} {}", p.pid, p.ppid, p.pgid);
            assert!(
                ps.lines()
                    .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == want),
                "ps has no row {want}"
            );
            let sid = nix::unistd::getsid(Some(Pid::from_raw(pid))).expect("getsid");
            assert_eq!(p.sid, sid.as_raw(), "session of {pid}");
        }
        let start = start_time(r).expect("a start time");
        assert!(is_same_process_alive(r, Some(start)));
        assert!(
            !is_same_process_alive(r, Some(start + 1)),
            "another start is another process"
        );

        let mut tree = Tree::new(r);
        assert_eq!(sorted(tree.descendants()), sorted(vec![m, g, gg]));

        // M dies: G is reparented away from R (to init, launchd or a subreaper).
        signal_all(&[m], Signal::SIGKILL);
        until("G has left M", &|| info(g).is_some_and(|p| p.ppid != m));
        let fresh = descendants(r);
        assert!(
            !fresh.contains(&g) && !fresh.contains(&gg),
            "found by links alone: {fresh:?}"
        );
        assert_eq!(sorted(tree.descendants()), sorted(vec![g, gg]));

        // G dies: GG alone holds G's session.
        signal_all(&[g], Signal::SIGKILL);
        until("GG has left G", &|| info(gg).is_some_and(|p| p.ppid != g));
        assert_eq!(tree.descendants(), vec![gg]);

        signal_all(&[gg, r], Signal::SIGKILL);
        root.wait().expect("reap R");
        until("GG is gone", &|| info(gg).is_none());
        assert!(tree.descendants().is_empty());
    }

    /// A monitor killed -9 as `faults.rs` does, but with a process codex's
    /// links and group both lost: L (the monitor, a session leader) → C
    /// (codex, its own group) → Y → Z, where Z takes a group of its own and Y
    /// exits. Only L's session still holds Z.
    #[test]
    fn a_killed_monitors_session_is_killed_with_codex_and_only_by_codexs_start_time() {
        use std::{
            io::{BufRead, BufReader},
            process::{Command, Stdio},
            time::{Duration, Instant},
        };
        const SCRIPT: &str = r#"
import os
os.setsid()
c = os.fork()
if c == 0:
    os.setpgid(0, 0)
    y = os.fork()
    if y == 0:
        z = os.fork()
        if z == 0:
            os.setpgid(0, 0)
            os.execvp("sleep", ["sleep", "300"])
        print(os.getppid(), z, flush=True)
        os._exit(0)
    os.waitpid(y, 0)
    os.execvp("sleep", ["sleep", "300"])
os.execvp("sleep", ["sleep", "300"])
"#;
        let mut monitor = Command::new("python3")
            .args(["-c", SCRIPT])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let l = monitor.id() as i32;
        let mut line = String::new();
        BufReader::new(monitor.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the tree says its pids");
        let pids: Vec<i32> = line
            .split_whitespace()
            .map(|p| p.parse().expect("a pid"))
            .collect();
        let [c, z] = pids[..] else {
            panic!("two pids, got {line:?}");
        };
        struct Cleanup([i32; 3]);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                signal_all(&self.0, Signal::SIGKILL);
            }
        }
        let _cleanup = Cleanup([l, c, z]);
        let until = |what: &str, done: &dyn Fn() -> bool| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !done() {
                assert!(Instant::now() < deadline, "timed out waiting until {what}");
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        until("Z has left C's links", &|| {
            info(z).is_some_and(|p| p.ppid != c && p.sid == l && p.pgid == z)
        });
        signal_all(&[l], Signal::SIGKILL);
        monitor.wait().expect("reap the monitor");
        assert!(
            !descendants(c).contains(&z),
            "not by codex's links or group"
        );

        let start = start_time(c).expect("codex's start time");
        assert!(!kill_orphaned_job(l, c, Some(start + 1)), "another codex");
        assert!(!kill_orphaned_job(l, c, None), "no start time recorded");
        assert!(is_same_process_alive(c, Some(start)) && info(z).is_some());
        assert!(kill_orphaned_job(l, c, Some(start)));
        until("codex and Z are gone", &|| {
            info(c).is_none() && info(z).is_none()
        });
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_stat_line_reads_back_with_any_command_name() {
        let line =
            "4242 (a) b (c)) S 4200 4240 4100 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 1";
        assert_eq!(
            platform::parse_stat(4242, line),
            Some(Proc {
                pid: 4242,
                ppid: 4200,
                pgid: 4240,
                sid: 4100,
                start: 987654
            })
        );
        let zombie = "4242 (a) Z 4200 4240 4100 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 1";
        assert_eq!(platform::parse_stat(4242, zombie), None);
    }
}
