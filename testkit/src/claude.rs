//! Drives the real Claude Code CLI against [`FakeAnthropic`] and the shim:
//! headless (`claude -p`) or interactive under a pseudo-terminal (tasks are
//! only offered in an interactive session). See FIELD-NOTES: "Claude Code
//! 2.1.332 as an MCP client".
//!
//! Every run gets a fresh HOME holding a `~/.claude.json` that skips the
//! first-run dialogs, an MCP config registering `codex-async` as the shim
//! with the [`TempHome`]'s environment (so the shim autostarts codexd in the
//! test's home; [`TempHome`]'s drop stops that codexd by pid), and
//! `--debug-file` so a failure can show the MCP client's decisions.

use std::{
    fs,
    io::Read,
    os::{fd::OwnedFd, unix::process::CommandExt},
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use nix::{
    fcntl::{fcntl, FcntlArg, FdFlag},
    pty::{openpty, Winsize},
    sys::signal::{kill, Signal},
    unistd::Pid,
};
use serde_json::{json, Value};

use crate::{
    bin, deadline, pid_alive, scaled, tool_from_env, FakeAnthropic, Log, ProcessGuard, TempHome,
};

/// The MCP server name the shim is registered under (tools are
/// `mcp__codex-async__<tool>`).
pub const SERVER: &str = "codex-async";

/// How long a whole headless run may take (Claude Code starts in ~2 s idle,
/// several times that on a loaded 2-core machine), times
/// [`time_scale`](crate::time_scale): a limit for a broken run, not a speed
/// requirement.
pub fn run_deadline() -> Duration {
    scaled(Duration::from_secs(180))
}

/// The Claude Code CLI named by `$CODEX_ASYNC_CLAUDE` (`.ci/run` installs
/// it from npm), or None after [`skip_or_fail`](crate::skip_or_fail) (a
/// panic under `CI=true`).
#[track_caller]
pub fn claude_bin() -> Option<PathBuf> {
    tool_from_env(
        "CODEX_ASYNC_CLAUDE",
        "Claude Code (the claude binary of @anthropic-ai/claude-code)",
        ".ci/run installs it with npm into ~/.cache/codex-async-ci/claude and exports it",
    )
}

/// One Claude Code setup: its HOME, project folder, MCP config and debug log.
pub struct ClaudeCode {
    bin: PathBuf,
    base_url: String,
    user_home: PathBuf,
    project: PathBuf,
    mcp_config: PathBuf,
    debug_file: PathBuf,
    allowed_tools: Vec<String>,
    env: Vec<(String, String)>,
}

impl ClaudeCode {
    /// Prepares a run of `bin` in `home` against `api`: writes
    /// `<root>/claude-home/.claude.json` and `<root>/mcp.json`. Tools of the
    /// shim are allowed without asking; see [`ClaudeCode::allow`].
    pub fn new(bin: PathBuf, home: &TempHome, api: &FakeAnthropic) -> Self {
        let root = home.root();
        let user_home = root.join("claude-home");
        let project = root.join("project");
        fs::create_dir_all(&user_home).expect("create claude home");
        fs::create_dir_all(&project).expect("create claude project");
        let project = fs::canonicalize(&project).expect("canonical project path");
        let project_key = project.display().to_string();
        let settings = json!({
            "hasCompletedOnboarding": true,
            "customApiKeyResponses": {"approved": ["test"], "rejected": []},
            "projects": {project_key: {
                "hasTrustDialogAccepted": true,
                "hasCompletedProjectOnboarding": true,
                "allowedTools": [],
            }},
        });
        fs::write(user_home.join(".claude.json"), settings.to_string())
            .expect("write .claude.json");
        let env: serde_json::Map<String, Value> = home
            .env()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let config = json!({"mcpServers": {SERVER: {
            "type": "stdio",
            "command": bin_path("codex-async-shim"),
            "args": [],
            "env": env,
        }}});
        let mcp_config = root.join("mcp.json");
        fs::write(&mcp_config, config.to_string()).expect("write mcp config");
        Self {
            bin,
            base_url: api.base_url(),
            user_home,
            project,
            mcp_config,
            debug_file: root.join("claude-debug.log"),
            allowed_tools: vec![format!("mcp__{SERVER}")],
            env: Vec::new(),
        }
    }

    /// Also allows `tool` (e.g. `TaskStop`) without a permission prompt.
    pub fn allow(mut self, tool: &str) -> Self {
        self.allowed_tools.push(tool.into());
        self
    }

    /// Sets an extra environment variable for Claude Code (and so the shim).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The folder Claude Code runs in (trusted in `.claude.json`).
    pub fn project(&self) -> &Path {
        &self.project
    }

    /// What Claude Code wrote to its `--debug-file` so far.
    pub fn debug_log(&self) -> String {
        fs::read_to_string(&self.debug_file).unwrap_or_default()
    }

    /// The debug log's lines about MCP and tools (the last 80), for failure messages.
    pub fn debug_summary(&self) -> String {
        let log = self.debug_log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| {
                l.contains("MCP")
                    || l.contains(SERVER)
                    || l.contains("tool")
                    || l.contains("ERROR")
                    || l.contains("WARN")
            })
            .collect();
        let tail = &lines[lines.len().saturating_sub(80)..];
        format!(
            "claude debug log ({}), MCP/tool lines:\n{}",
            self.debug_file.display(),
            tail.join("\n")
        )
    }

    /// `claude ARGS…` with a clean environment: PATH, the fresh HOME, the
    /// fake API and no telemetry, updates or error reports.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear();
        for key in ["PATH", "LANG", "USER", "LOGNAME", "SHELL", "TMPDIR"] {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        cmd.env("HOME", &self.user_home)
            .env("TERM", "xterm-256color")
            .env("ANTHROPIC_BASE_URL", &self.base_url)
            .env("ANTHROPIC_API_KEY", "test")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .arg("--strict-mcp-config")
            .arg("--mcp-config")
            .arg(&self.mcp_config)
            // One comma-separated value: the flag takes several, so a
            // following argument would be swallowed.
            .arg("--allowedTools")
            .arg(self.allowed_tools.join(","))
            .arg("--debug-file")
            .arg(&self.debug_file)
            .current_dir(&self.project);
        cmd
    }

    /// Runs `claude -p PROMPT --output-format stream-json --verbose …` to its
    /// end (within [`run_deadline`], else panics with the diagnostics).
    pub fn headless(&self, prompt: &str, api: &FakeAnthropic) -> Headless {
        let root = self.user_home.parent().unwrap_or(&self.user_home);
        let stdout_path = root.join("claude-stdout.jsonl");
        let stderr_path = root.join("claude-stderr.log");
        let (started, limit) = (Instant::now(), run_deadline());
        let child = self
            .command(&["-p", prompt, "--output-format", "stream-json", "--verbose"])
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout_path).expect("create claude stdout"))
            .stderr(fs::File::create(&stderr_path).expect("create claude stderr"))
            .spawn()
            .expect("spawn claude -p");
        let mut guard = ProcessGuard::new(child);
        let status = loop {
            if let Some(status) = guard.child().try_wait().expect("wait for claude") {
                break status;
            }
            if started.elapsed() > limit {
                let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
                panic!(
                    "claude -p did not end within {limit:?}\nstdout:\n{}\n{}\n{}",
                    tail(&stdout, 4000),
                    self.debug_summary(),
                    api.log().summary()
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        Headless {
            status,
            stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
            stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
            elapsed: started.elapsed(),
        }
    }

    /// Starts `claude PROMPT …` interactively under a pseudo-terminal; the
    /// session runs until the returned handle is dropped.
    pub fn interactive(&self, prompt: &str) -> Interactive {
        let size = Winsize {
            ws_row: 50,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(&size, None).expect("open a pseudo-terminal");
        for fd in [&pty.master, &pty.slave] {
            // Other tests spawn processes at the same time: none may inherit these.
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("set FD_CLOEXEC");
        }
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the pty"));
        let mut cmd = self.command(&[prompt]);
        cmd.stdin(stdio(&pty.slave))
            .stdout(stdio(&pty.slave))
            .stderr(stdio(&pty.slave));
        // SAFETY: between fork and exec only async-signal-safe calls: setsid
        // and ioctl, on the child's own fds.
        unsafe {
            cmd.pre_exec(|| {
                // A session of its own with the pty as controlling terminal, as
                // a terminal emulator starts a shell.
                if libc::setsid() == -1 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let started = Instant::now();
        let child = cmd.spawn().expect("spawn claude under a pty");
        drop(pty.slave);
        let screen = Arc::new(Mutex::new(Vec::new()));
        {
            // Drain the terminal all the time, so Claude never blocks on a write.
            let screen = screen.clone();
            let mut master = fs::File::from(pty.master.try_clone().expect("dup the pty master"));
            thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                // EIO once every process closed the terminal.
                while let Ok(n) = master.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    screen
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(&buf[..n]);
                }
            });
        }
        Interactive {
            guard: Some(ProcessGuard::new(child)),
            screen,
            keyboard: Mutex::new(fs::File::from(pty.master)),
            started,
        }
    }

    /// Everything a failure message of an interactive run needs.
    pub fn diagnostics(&self, session: &Interactive, log: &Log) -> String {
        format!(
            "claude screen (ANSI stripped, tail):\n{}\n\n{}\n\n{}",
            tail(&session.screen(), 4000),
            self.debug_summary(),
            log.summary()
        )
    }

    /// Waits (up to [`deadline`]) until `cond` holds on `api`'s log; panics
    /// with `what` and [`ClaudeCode::diagnostics`] then.
    pub fn wait_for(
        &self,
        session: &Interactive,
        api: &FakeAnthropic,
        what: &str,
        cond: impl FnMut(&Log) -> bool,
    ) -> Log {
        api.try_wait_for(deadline(), cond).unwrap_or_else(|log| {
            panic!(
                "timed out waiting for {what}\n{}",
                self.diagnostics(session, &log)
            )
        })
    }
}

fn bin_path(name: &str) -> String {
    bin(name).display().to_string()
}

fn tail(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max {
        return s.to_string();
    }
    let rest: String = s.chars().skip(count - max).collect();
    format!("…{rest}")
}

/// A finished `claude -p` run.
#[derive(Debug)]
pub struct Headless {
    pub status: ExitStatus,
    /// stream-json: one JSON object per line.
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Headless {
    /// The stream-json events of stdout (lines that are not JSON skipped).
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The final `{"type":"result",…}` event, if Claude Code wrote one.
    pub fn result(&self) -> Option<Value> {
        self.events()
            .into_iter()
            .rev()
            .find(|e| e["type"] == "result")
    }

    /// Status, the end of stdout and stderr, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "claude -p: {} after {:?}\nstdout (tail):\n{}\nstderr (tail):\n{}",
            self.status,
            self.elapsed,
            tail(&self.stdout, 4000),
            tail(&self.stderr, 2000)
        )
    }
}

/// A running interactive Claude Code session. Dropping it kills Claude Code
/// and the processes it started (the shim among them) by pid; the codexd the
/// shim started is the [`TempHome`]'s to stop.
pub struct Interactive {
    guard: Option<ProcessGuard>,
    screen: Arc<Mutex<Vec<u8>>>,
    /// The terminal's input side: what a person types.
    keyboard: Mutex<fs::File>,
    started: Instant,
}

/// How long to let an MCP form (elicitation) of Claude Code 2.1.332 settle
/// before pressing Enter on Accept: it ignores, silently, an accept within
/// 150 ms of the focus landing on Accept (and starts that window again), and
/// an accept or decline within 150 ms of the form being painted — its guard
/// against an Enter typed for something else before the form showed or
/// moved (read in its bundled JS: the form's `arrived()`/`refuses()`, 150 ms
/// constant). A person is never that quick; a test is. Twice that, for
/// margin. See [`Interactive::type_keys_when`].
pub const FORM_KEY_GUARD: Duration = Duration::from_millis(300);

/// Keys as a terminal sends them.
pub mod keys {
    pub const RIGHT: &[u8] = b"\x1b[C";
    pub const DOWN: &[u8] = b"\x1b[B";
    pub const ENTER: &[u8] = b"\r";
}

impl Interactive {
    /// Claude Code's pid.
    pub fn pid(&self) -> Option<i32> {
        self.guard.as_ref().map(ProcessGuard::pid)
    }

    /// How long the session has been running.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Types `keys` into the session.
    pub fn type_keys(&self, keys: &[u8]) {
        use std::io::Write;
        let mut keyboard = self.keyboard.lock().unwrap_or_else(|p| p.into_inner());
        keyboard.write_all(keys).expect("type into the pty");
    }

    /// Waits (up to [`deadline`]) until the screen holds what `ready` looks
    /// for, then [`FORM_KEY_GUARD`] more, then types `keys`: for a key on a
    /// form that Claude Code would ignore if it came right after the focus
    /// moved or the form showed.
    ///
    /// The screen shows the focus only after Claude Code moved it, so the
    /// guard counted from then on is over on any machine, however loaded:
    /// this waits out a fixed window, it does not wait for something to
    /// happen.
    pub fn type_keys_when(&self, what: &str, ready: impl Fn(&str) -> bool, keys: &[u8]) {
        crate::wait_until(what, || ready(&self.screen()));
        thread::sleep(FORM_KEY_GUARD);
        self.type_keys(keys);
    }

    /// Bytes Claude Code wrote to the terminal so far (to wait for a redraw).
    pub fn screen_len(&self) -> usize {
        self.screen.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Everything Claude Code wrote to the terminal, ANSI escapes stripped.
    pub fn screen(&self) -> String {
        let raw = self
            .screen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        strip_ansi(&String::from_utf8_lossy(&raw))
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        // Find the descendants first: once Claude Code is gone they are
        // reparented and no longer recognizable as its.
        let descendants = descendants_of(guard.pid());
        drop(guard); // SIGKILL and reap Claude Code
        for pid in &descendants {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        let (start, limit) = (Instant::now(), deadline());
        while start.elapsed() < limit && descendants.iter().any(|p| pid_alive(*p)) {
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Every live descendant of `root` (children, their children, …).
fn descendants_of(root: i32) -> Vec<i32> {
    let parents: Vec<(i32, i32)> = fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter_map(|pid| {
                    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                    // Field 4, after the parenthesised command name, is the parent pid.
                    let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
                    Some((pid, ppid.parse().ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Terminal output as plain text: escape sequences removed, cursor moves
/// that start a new line or skip columns turned into a newline or a space.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte.
                Some('[') => {
                    let mut last = None;
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            last = Some(c);
                            break;
                        }
                    }
                    match last {
                        Some('H' | 'f' | 'B' | 'E' | 'F' | 'A') => out.push('\n'),
                        Some('C' | 'G') => out.push(' '),
                        _ => {}
                    }
                }
                // OSC and other strings: up to BEL or ESC \.
                Some(']' | 'P' | '_' | '^') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => out.push('\n'),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    // Redraws leave runs of blank lines.
    let mut text = String::with_capacity(out.len());
    let mut blank = false;
    for line in out.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            if !blank {
                text.push('\n');
            }
            blank = true;
        } else {
            text.push_str(line);
            text.push('\n');
            blank = false;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::strip_ansi;

    #[test]
    fn strip_ansi_keeps_the_text() {
        let raw = "\u{1b}[2J\u{1b}[1;1H\u{1b}[38;5;2mhello\u{1b}[0m\u{1b}[1Cworld\r\n\
                   \u{1b}]0;title\u{7}\r\n\r\n\r\nnext";
        assert_eq!(strip_ansi(raw), "\nhello world\n\nnext\n");
    }
}
