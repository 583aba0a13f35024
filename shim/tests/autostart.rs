//! With no daemon running, the first tool call starts one (`codexd start`);
//! concurrent shims end up sharing a single daemon; a daemon that cannot be
//! started is a tool error saying what to run.

mod common;

use std::{fs, path::Path};

use common::{is_job_id, Shim};
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};
use serde_json::json;
use testkit::{daemon_pid, pid_alive, wait_until, TempHome};

/// Live `codexd` processes whose environment points at `home`.
fn codexd_processes_of(home: &Path) -> Vec<i32> {
    let needle = format!("CODEX_ASYNC_HOME={}", home.display());
    if !Path::new("/proc/self").exists() {
        // macOS: `ps -E` prints a process's environment after its command line.
        let Ok(out) = std::process::Command::new("ps")
            .args(["-A", "-wwE", "-o", "pid=,command="])
            .output()
        else {
            return Vec::new();
        };
        return String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let pid: i32 = words.next()?.parse().ok()?;
                let program = Path::new(words.next()?).file_name()?.to_owned();
                (program == "codexd" && words.any(|w| w == needle) && pid_alive(pid)).then_some(pid)
            })
            .collect();
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| {
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            comm.trim() == "codexd"
                && environ
                    .split(|b| *b == 0)
                    .any(|var| var == needle.as_bytes())
                && pid_alive(*pid)
        })
        .collect()
}

#[test]
fn the_first_tool_call_starts_codexd() {
    let home = TempHome::new();
    assert_eq!(daemon_pid(&home.paths()), None);
    // No CODEX_ASYNC_CODEXD: the shim finds the codexd built next to it.
    let mut shim = Shim::spawn(&home, &[]);
    let listed = shim.ok("codex_list", json!({}));
    assert_eq!(listed["jobs"], json!([]));

    let pid = daemon_pid(&home.paths()).expect("codexd wrote its pid in the lock file");
    assert!(pid_alive(pid), "codexd {pid} is not running");
    assert_ne!(pid, shim.pid());

    // The started daemon serves real work, and later calls reuse it.
    let cwd = home.workdir().display().to_string();
    let started = shim.ok("codex_start", json!({"prompt": "print:auto", "cwd": cwd}));
    assert!(is_job_id(&started["job_id"]), "{started}");
    let done = shim.poll_until_finished(started["job_id"].as_str().unwrap_or_default());
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(daemon_pid(&home.paths()), Some(pid));
}

#[test]
fn a_shim_whose_codexd_died_starts_a_new_one() {
    let home = TempHome::new();
    let mut shim = Shim::spawn(&home, &[]);
    shim.ok("codex_list", json!({}));
    let first = daemon_pid(&home.paths()).expect("codexd pid");
    kill(Pid::from_raw(first), Signal::SIGKILL).expect("kill codexd");
    wait_until("the killed codexd to be gone", || !pid_alive(first));

    // The kept connection fails (Unavailable); the shim reconnects, finds no
    // daemon, and starts a new one.
    let listed = shim.ok("codex_list", json!({}));
    assert_eq!(listed["jobs"], json!([]));
    let second = daemon_pid(&home.paths()).expect("codexd pid");
    assert_ne!(first, second);
    assert!(pid_alive(second));
    assert!(shim.log().contains("reconnecting"), "{}", shim.log());
}

#[test]
fn four_shims_starting_at_once_share_one_codexd() {
    let home = TempHome::new();
    let cwd = home.workdir().display().to_string();
    let mut shims: Vec<Shim> = (0..4).map(|_| Shim::spawn(&home, &[])).collect();
    // Send all four calls before reading any answer, so the autostarts race.
    let ids: Vec<u64> = shims
        .iter_mut()
        .enumerate()
        .map(|(i, shim)| {
            shim.send_call(
                "codex_start",
                json!({"prompt": format!("print:shim{i}"), "cwd": cwd}),
            )
        })
        .collect();
    let mut job_ids = Vec::new();
    for (shim, id) in shims.iter_mut().zip(ids) {
        let result = shim.call_result(id);
        assert!(
            !result.is_error,
            "a concurrent first call failed: {}; shim log:\n{}",
            result.text,
            shim.log()
        );
        job_ids.push(result.structured["job_id"].clone());
    }

    let pid = daemon_pid(&home.paths()).expect("codexd wrote its pid in the lock file");
    assert!(pid_alive(pid));
    wait_until("the losing `codexd start`s to exit", || {
        codexd_processes_of(&home.home()) == vec![pid]
    });

    // Every shim talks to that one daemon: each sees all four jobs.
    for shim in &mut shims {
        let listed = shim.ok("codex_list", json!({}));
        let mut seen: Vec<_> = listed["jobs"]
            .as_array()
            .map(|jobs| jobs.iter().map(|j| j["job_id"].clone()).collect())
            .unwrap_or_default();
        seen.sort_by_key(|v| v.to_string());
        let mut expected = job_ids.clone();
        expected.sort_by_key(|v| v.to_string());
        assert_eq!(seen, expected);
    }
}

#[test]
fn a_codexd_that_cannot_start_is_a_tool_error_saying_what_to_run() {
    let home = TempHome::new();
    let mut shim = Shim::spawn(&home, &[("CODEX_ASYNC_CODEXD", "/bin/false")]);
    let cwd = home.workdir().display().to_string();
    for (tool, args) in [
        ("codex_list", json!({})),
        ("codex_start", json!({"prompt": "print:x", "cwd": cwd})),
        ("codex_poll", json!({"job_id": "000000000000"})),
    ] {
        let result = shim.call(tool, args);
        assert!(result.is_error, "{tool}: {result:?}");
        assert!(
            result.text.contains("`codexd start`"),
            "{tool}: {}",
            result.text
        );
        assert!(
            result.text.contains("codexd.log"),
            "{tool}: {}",
            result.text
        );
        assert!(
            result.text.contains("/bin/false"),
            "{tool}: {}",
            result.text
        );
    }
    assert_eq!(daemon_pid(&home.paths()), None);

    // A missing binary says so too.
    let mut shim = Shim::spawn(&home, &[("CODEX_ASYNC_CODEXD", "/nonexistent/codexd")]);
    let result = shim.call("codex_list", json!({}));
    assert!(result.is_error);
    assert!(result.text.contains("cannot run"), "{}", result.text);
    assert!(result.text.contains("`codexd start`"), "{}", result.text);
}

#[test]
fn bad_input_does_not_need_a_daemon() {
    let home = TempHome::new();
    let mut shim = Shim::spawn(&home, &[("CODEX_ASYNC_CODEXD", "/bin/false")]);
    let result = shim.call("codex_start", json!({"cwd": "/tmp"}));
    assert!(result.is_error);
    assert!(
        result.text.starts_with("prompt: missing"),
        "{}",
        result.text
    );
    assert!(!home.home().exists(), "bad input must not create the home");
}
