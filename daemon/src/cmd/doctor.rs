//! `codexd doctor`: checks everything a working setup needs — the settings
//! (loaded and checked exactly as `serve` does), codex, its version and its
//! login (or key, or own provider), the daemon and its socket (and that they
//! belong to the same home), the database, the permissions of the home — and
//! prints the `claude mcp add` line to register the shim.

use std::{
    collections::{HashMap, HashSet},
    ffi::{OsStr, OsString},
    fs,
    os::unix::ffi::OsStrExt,
    os::unix::fs::{FileTypeExt, MetadataExt},
    path::{Path, PathBuf},
    process::{ExitCode, Stdio},
    time::Duration,
};

use codex_async_proto::{
    paths::{Paths, HOME_ENV, SOCKET_ENV},
    v1::InfoResponse,
};
use serde_json::json;
use sqlx::{sqlite::SqliteConnectOptions, ConnectOptions, Row};

use crate::{
    cmd::{self, ui},
    config::Config,
    store::rebuild,
    sys::program::{is_executable, not_executable, which},
};

use crate::engine::agent::Agent;
use crate::engine::codex::version::{Version, CODEX_INSTALL, MIN_CODEX, NEWEST_TESTED};
/// `codex --version` starts Node; give it time on a loaded machine.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);
/// `codex login status` reads a file or two, but starts Node too.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

struct Check {
    name: &'static str,
    level: Level,
    detail: String,
    /// What to do about it (for Warn and Fail).
    fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            level: Level::Ok,
            detail: detail.into(),
            fix: None,
        }
    }
    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            level: Level::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            level: Level::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

pub fn run(json: bool) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    let runtime = cmd::client_runtime()?;
    let config = Config::load(&paths.home);
    // The codex the daemon would run: the settings' (its file or CODEX_BIN);
    // with broken settings, CODEX_BIN or `codex` still says whether codex is there.
    let bin = match &config {
        Ok(config) => config.codex_bin.clone(),
        Err(_) => codex_bin(),
    };
    let info = runtime.block_on(cmd::daemon_info(&paths));
    let mut checks = vec![runtime.block_on(check_codex(bin.clone()))];
    if let Some(path) = which(Path::new(&bin)) {
        let env = CodexEnv::of(info.as_ref().map(|i| i.pid));
        let extra_args = config
            .as_ref()
            .map(|c| c.extra_args.clone())
            .unwrap_or_default();
        checks.push(runtime.block_on(check_login(&path, &env, &extra_args)));
    }
    let gemini_bin = match &config {
        Ok(config) => config.gemini_bin.clone(),
        Err(_) => std::env::var_os("GEMINI_BIN").unwrap_or_else(|| "gemini".into()),
    };
    let env = CodexEnv::of(info.as_ref().map(|i| i.pid));
    checks.push(runtime.block_on(check_agent(
        Agent::Gemini,
        &gemini_bin,
        &env,
        crate::engine::gemini::ENV,
        |var| crate::engine::gemini::login(var),
        "set GEMINI_API_KEY where codexd runs (its service file or shell), or run `gemini` once to log in",
    )));
    let claude_bin = match &config {
        Ok(config) => config.claude_bin.clone(),
        Err(_) => std::env::var_os("CLAUDE_BIN").unwrap_or_else(|| "claude".into()),
    };
    checks.push(runtime.block_on(check_agent(
        Agent::Claude,
        &claude_bin,
        &env,
        crate::engine::claude::ENV,
        |var| crate::engine::claude::login(var),
        // On macOS Claude Code keeps its login in the Keychain, which doctor
        // does not read: say so rather than claim no login.
        "set ANTHROPIC_API_KEY (or CLAUDE_CODE_OAUTH_TOKEN, from `claude setup-token`) where codexd runs, or run `claude` once to log in (a login kept in the macOS Keychain is not seen here)",
    )));
    checks.extend(check_config(&paths, &config));
    checks.extend(check_homes(&paths, info.as_ref()));
    checks.extend([
        check_dir(&paths.home, "home", 0o700),
        check_space(&paths.home),
        runtime.block_on(check_daemon(&paths, info)),
        check_socket_file(&paths),
    ]);
    checks.extend(runtime.block_on(check_database(&paths)));
    let shim = find_shim();
    let mcp_add = shim
        .as_ref()
        .map(|p| format!("claude mcp add codex-async -- {}", p.display()));
    checks.push(match &shim {
        Some(path) => Check::ok("shim", path.display().to_string()),
        None => Check::fail(
            "shim",
            "codex-async-shim is neither next to codexd nor on PATH",
            "install it: cargo install --locked --path shim (from the codex-async checkout)",
        ),
    });
    let failed = checks.iter().any(|c| c.level == Level::Fail);

    if json {
        let list: Vec<_> = checks
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "status": match c.level { Level::Ok => "ok", Level::Warn => "warn", Level::Fail => "fail" },
                    "detail": c.detail,
                    "fix": c.fix,
                })
            })
            .collect();
        ui::emit(&format!(
            "{}\n",
            json!({"ok": !failed, "checks": list, "claude_mcp_add": mcp_add,
                   "home": paths.home.display().to_string(),
                   "socket": paths.socket.display().to_string()})
        ))?;
    } else {
        let mut out = String::new();
        for c in &checks {
            let mark = match c.level {
                Level::Ok => ui::green("ok  "),
                Level::Warn => ui::yellow("warn"),
                Level::Fail => ui::red("FAIL"),
            };
            // A detail of several lines (a TOML error's caret) stays aligned.
            let detail = c.detail.replace('\n', &format!("\n{:15}", ""));
            out.push_str(&format!("{mark} {:<9} {detail}\n", c.name));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("     {:<9} {} {fix}\n", "", ui::dim("→")));
            }
        }
        if let Some(line) = &mcp_add {
            out.push_str(&format!(
                "\nRegister the MCP server with Claude Code (add `-s user` for every project):\n  {line}\n"
            ));
        }
        out.push_str(&if failed {
            format!("\n{}\n", ui::red("something needs fixing (see FAIL above)"))
        } else {
            format!("\n{}\n", ui::green("all good"))
        });
        ui::emit(&out)?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The codex binary when the settings cannot be read: `$CODEX_BIN`, else
/// `codex` on PATH.
fn codex_bin() -> OsString {
    std::env::var_os("CODEX_BIN")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| OsString::from("codex"))
}

/// The settings as `serve` would read them: one check per problem, each
/// naming its key (or variable) and the rule.
fn check_config(paths: &Paths, config: &Result<Config, crate::config::ConfigErrors>) -> Vec<Check> {
    let file = paths.home.join("config.toml");
    match config {
        Ok(_) if file.exists() => vec![Check::ok("config", format!("{} (valid)", file.display()))],
        Ok(_) => vec![Check::ok(
            "config",
            format!(
                "{} not present (defaults and the environment)",
                file.display()
            ),
        )],
        Err(errors) => errors
            .errors
            .iter()
            .map(|e| {
                Check::fail(
                    "config",
                    e.to_string(),
                    format!(
                        "fix it in {} (or the environment variable), then restart codexd: \
                         `codexd stop && codexd start`",
                        file.display()
                    ),
                )
            })
            .collect(),
    }
}

async fn check_codex(bin: OsString) -> Check {
    let Some(path) = which(Path::new(&bin)) else {
        if let Some(path) = not_executable(Path::new(&bin)) {
            let mode = fs::metadata(&path).map(|m| m.mode() & 0o7777).unwrap_or(0);
            return Check::fail(
                "codex",
                format!("{} is not executable (mode {mode:o})", path.display()),
                format!("chmod +x {}", path.display()),
            );
        }
        return Check::fail(
            "codex",
            format!("{} not found", bin.to_string_lossy()),
            format!("install it: {CODEX_INSTALL} (or set CODEX_BIN to its path)"),
        );
    };
    let run = tokio::process::Command::new(&path)
        .arg("--version")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(VERSION_TIMEOUT, run).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            return Check::fail(
                "codex",
                format!("{} cannot run: {e}", path.display()),
                format!("reinstall it: {CODEX_INSTALL}"),
            )
        }
        Err(_) => {
            return Check::fail(
                "codex",
                format!("`{} --version` did not answer", path.display()),
                format!("reinstall it: {CODEX_INSTALL}"),
            )
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let Some(version) = Version::parse(&text) else {
        return Check::fail(
            "codex",
            format!(
                "{}: cannot read a version from {:?}",
                path.display(),
                text.trim()
            ),
            format!("reinstall it: {CODEX_INSTALL}"),
        );
    };
    if version < MIN_CODEX {
        return Check::fail(
            "codex",
            format!(
                "{} is version {version}; codex-async needs {MIN_CODEX} or newer",
                path.display(),
            ),
            format!("update it: {CODEX_INSTALL}@latest"),
        );
    }
    if version > NEWEST_TESTED {
        return Check::ok(
            "codex",
            format!(
                "{} ({version}; newer than {NEWEST_TESTED}, the newest tested with codex-async)",
                path.display()
            ),
        );
    }
    Check::ok("codex", format!("{} ({version})", path.display()))
}

/// Another process's environment, `NAME=value` entries each ended by a NUL,
/// as /proc/<pid>/environ holds it.
#[cfg(target_os = "linux")]
fn environ(pid: i32) -> Option<Vec<u8>> {
    fs::read(format!("/proc/{pid}/environ")).ok()
}

/// Another process's environment, `NAME=value` entries each ended by a NUL,
/// from the `KERN_PROCARGS2` sysctl (what `ps -E` reads; a process of one's
/// own user only).
#[cfg(target_os = "macos")]
fn environ(pid: i32) -> Option<Vec<u8>> {
    let mut mib = [libc::CTL_KERN, libc::KERN_PROCARGS2, pid];
    let mut size: libc::size_t = 0;
    // SAFETY: with no buffer, sysctl only sets `size` to what it needs.
    let rc = unsafe {
        libc::sysctl(
            mib.as_mut_ptr(),
            3,
            std::ptr::null_mut(),
            &mut size,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 || size == 0 {
        return None;
    }
    let mut buf = vec![0u8; size];
    // SAFETY: `buf` is `size` bytes and lives here; sysctl writes at most
    // that and sets `size` to what it wrote.
    let rc = unsafe {
        libc::sysctl(
            mib.as_mut_ptr(),
            3,
            buf.as_mut_ptr().cast(),
            &mut size,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    buf.truncate(size);
    procargs2_environ(&buf)
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn environ(_pid: i32) -> Option<Vec<u8>> {
    None
}

/// The environment in a `KERN_PROCARGS2` buffer: argc (a native-endian
/// i32), the executable's path, NUL padding, argc arguments, then the
/// environment's entries up to an empty one.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
fn procargs2_environ(buf: &[u8]) -> Option<Vec<u8>> {
    let argc = i32::from_ne_bytes(buf.get(..4)?.try_into().ok()?);
    let mut rest = buf.get(4..)?;
    // The path, then the padding after it.
    let end = rest.iter().position(|b| *b == 0)?;
    rest = &rest[end..];
    let start = rest.iter().position(|b| *b != 0)?;
    rest = &rest[start..];
    let mut entries = rest.split(|b| *b == 0);
    for _ in 0..argc {
        entries.next()?;
    }
    let mut environ = Vec::new();
    for entry in entries.take_while(|e| !e.is_empty()) {
        environ.extend_from_slice(entry);
        environ.push(0);
    }
    Some(environ)
}

/// The environment codex runs with: the running codexd's (its monitors and
/// codex inherit it unchanged), else this process's, which a `codexd start`
/// from here would pass on.
struct CodexEnv {
    vars: HashMap<OsString, OsString>,
    /// Whose environment it is, for the report.
    whose: String,
}

impl CodexEnv {
    fn of(daemon_pid: Option<i32>) -> Self {
        let daemon = daemon_pid.and_then(|pid| {
            let bytes = environ(pid)?;
            let vars = bytes
                .split(|b| *b == 0)
                .filter_map(|entry| {
                    let at = entry.iter().position(|b| *b == b'=')?;
                    Some((
                        OsStr::from_bytes(&entry[..at]).to_os_string(),
                        OsStr::from_bytes(&entry[at + 1..]).to_os_string(),
                    ))
                })
                .collect();
            Some(Self {
                vars,
                whose: format!("the environment of codexd (pid {pid})"),
            })
        });
        daemon.unwrap_or_else(|| Self {
            vars: std::env::vars_os().collect(),
            whose: match daemon_pid {
                Some(_) => "this shell's environment (codexd's cannot be read)".into(),
                None => "this shell's environment (codexd is not running)".into(),
            },
        })
    }

    fn is_set(&self, name: &str) -> bool {
        self.vars
            .get(OsStr::new(name))
            .is_some_and(|v| !v.is_empty())
    }

    /// codex's home: `$CODEX_HOME`, else `~/.codex`.
    fn codex_home(&self) -> Option<PathBuf> {
        crate::engine::codex::auth::codex_home_of(|name| self.vars.get(OsStr::new(name)).cloned())
    }
}

/// The model provider codex is set to use other than OpenAI's, and where
/// that is set (codex/auth.rs).
fn custom_provider(env: &CodexEnv, extra_args: &[String]) -> Option<(String, String)> {
    crate::engine::codex::auth::provider_setting(env.codex_home().as_deref(), extra_args)
        .filter(|(name, _)| name != "openai")
}

/// An engine's login check (e.g. `engine::gemini::login`), given a lookup
/// of codexd's environment.
type AgentLogin = fn(&dyn Fn(&str) -> Option<OsString>) -> Result<String, String>;

/// An agent other than codex that jobs may ask for (Gemini CLI, Claude
/// Code): optional, so a missing one is a warning; found, its version
/// (`--version`, which needs no login or config; never `claude doctor`, which
/// hangs without a terminal) and how it logs in (`login`, read from codexd's
/// environment, which its jobs get), else `login_fix`.
async fn check_agent(
    agent: Agent,
    bin: &OsStr,
    env: &CodexEnv,
    run_env: &[(&str, &str)],
    login: AgentLogin,
    login_fix: &str,
) -> Check {
    let name = agent.name();
    let Some(path) = which(Path::new(bin)) else {
        return Check::warn(
            name,
            format!(
                "{} not found (only jobs with agent {name} need it)",
                bin.to_string_lossy()
            ),
            format!(
                "install it: {} (or set {}_BIN to its path)",
                agent.install_hint(),
                name.to_uppercase()
            ),
        );
    };
    let run = tokio::process::Command::new(&path)
        .arg("--version")
        .envs(run_env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let version = match tokio::time::timeout(VERSION_TIMEOUT, run).await {
        Ok(Ok(out)) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
        _ => {
            return Check::warn(
                name,
                format!("{} --version did not answer", path.display()),
                format!("run `{name} --version` to see why"),
            )
        }
    };
    match login(&|var| env.vars.get(OsStr::new(var)).cloned()) {
        Ok(how) => Check::ok(
            name,
            format!("{version} at {}; {how} ({})", path.display(), env.whose),
        ),
        Err(why) => Check::warn(
            name,
            format!("{version} at {}; {why} ({})", path.display(), env.whose),
            login_fix,
        ),
    }
}

/// Whether codex can reach its model: logged in (`codex login status`, run
/// with the daemon's environment, so its CODEX_HOME), or given CODEX_API_KEY,
/// or set to a provider of its own. Only a certain "Not logged in" with none
/// of the others fails; a status that cannot be read is a warning.
async fn check_login(codex: &Path, env: &CodexEnv, extra_args: &[String]) -> Check {
    let run = tokio::process::Command::new(codex)
        .args(["login", "status"])
        .env_clear()
        .envs(&env.vars)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let status = tokio::time::timeout(LOGIN_TIMEOUT, run).await;
    // codex prints its status on stderr; its set-up warnings are not the status.
    let said = |output: &std::process::Output| {
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("WARNING:"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if let Ok(Ok(output)) = &status {
        if output.status.success() {
            return Check::ok("login", said(output));
        }
    }
    if env.is_set("CODEX_API_KEY") {
        return Check::ok(
            "login",
            format!("not logged in, but CODEX_API_KEY is set in {}", env.whose),
        );
    }
    if let Some((provider, place)) = custom_provider(env, extra_args) {
        return Check::ok(
            "login",
            format!(
                "codex uses the model provider {provider:?} (set in {place}); its credentials are \
                 not checked"
            ),
        );
    }
    let fix = "run `codex login` (or `printenv OPENAI_API_KEY | codex login --with-api-key`), or \
               set CODEX_API_KEY in the daemon's environment (then `codexd stop && codexd start`)";
    match status {
        Ok(Ok(output)) if output.status.code() == Some(1) && said(&output) == "Not logged in" => {
            let mut detail = format!(
                "codex is not logged in (`codex login status`: Not logged in) and CODEX_API_KEY \
                 is not set in {}",
                env.whose
            );
            if env.is_set("OPENAI_API_KEY") {
                detail.push_str(
                    "; OPENAI_API_KEY is set there, but codex does not read it (it reads \
                     CODEX_API_KEY)",
                );
            }
            Check::fail("login", detail, fix)
        }
        Ok(Ok(output)) => Check::warn(
            "login",
            format!(
                "`codex login status` failed ({}): {}",
                output.status,
                said(&output)
            ),
            format!("run `codex login status` to see why; {fix}"),
        ),
        Ok(Err(e)) => Check::warn(
            "login",
            format!("`{} login status` cannot run: {e}", codex.display()),
            format!("reinstall codex: {CODEX_INSTALL}"),
        ),
        Err(_) => Check::warn(
            "login",
            format!(
                "`{} login status` did not answer in {} s",
                codex.display(),
                LOGIN_TIMEOUT.as_secs()
            ),
            "run `codex login status` to see why",
        ),
    }
}

/// Owner-only and ours: what codexd itself enforces on the home.
/// Below this much free space in the home, doctor warns: a job's output
/// (capped at 256 MiB each by default) may fill the rest, and then no job can
/// start and state changes wait (see README, "What survives what").
pub const LOW_SPACE: u64 = 1 << 30;

/// Free space on the filesystem that holds the home (or the folder it will be in).
fn check_space(home: &Path) -> Check {
    let probe = home
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let free = match nix::sys::statvfs::statvfs(probe) {
        // Both are u32 on macOS.
        #[allow(clippy::unnecessary_cast)]
        Ok(stat) => stat.blocks_available() as u64 * stat.fragment_size() as u64,
        Err(e) => {
            return Check::warn(
                "space",
                format!("cannot read the free space of {}: {e}", probe.display()),
                "check the filesystem with `df -h`",
            )
        }
    };
    let detail = format!("{} free for {}", ui::human_bytes(free), home.display());
    if free >= LOW_SPACE {
        Check::ok("space", detail)
    } else {
        Check::warn(
            "space",
            format!("only {detail}: a job's output can fill it, and then no new job starts"),
            "free space: `codexd prune --older-than 1d` deletes finished jobs older than a day, or move the home (CODEX_ASYNC_HOME) to a larger disk",
        )
    }
}

fn check_dir(path: &Path, name: &'static str, mode: u32) -> Check {
    match fs::symlink_metadata(path) {
        Err(_) => Check::warn(
            name,
            format!("{} does not exist yet", path.display()),
            "it is created when codexd first starts (`codexd start`)",
        ),
        Ok(meta) if meta.file_type().is_symlink() => {
            let target = fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            // codexd refuses a symlinked home (another user could swap the
            // link), so the fix is the real path or a real folder, not chown.
            let fix = match fs::canonicalize(path) {
                Ok(real) if real.is_dir() => format!(
                    "set CODEX_ASYNC_HOME={} (the real path), or replace the link by a directory: \
                     `rm {} && mkdir -m 700 {}`",
                    real.display(),
                    path.display(),
                    path.display()
                ),
                _ => format!(
                    "replace the link by a directory: `rm {} && mkdir -m 700 {}`",
                    path.display(),
                    path.display()
                ),
            };
            Check::fail(
                name,
                format!("{} is a symlink to {target}", path.display()),
                fix,
            )
        }
        Ok(meta) => private_problem(&meta, mode)
            .map(|problem| {
                Check::fail(
                    name,
                    format!("{} {problem}", path.display()),
                    format!("chown $USER {0} && chmod {mode:o} {0}", path.display()),
                )
            })
            .unwrap_or_else(|| {
                Check::ok(name, format!("{} (mode {mode:o}, yours)", path.display()))
            }),
    }
}

fn private_problem(meta: &fs::Metadata, mode: u32) -> Option<String> {
    let me = nix::unistd::geteuid().as_raw();
    if meta.file_type().is_symlink() {
        return Some("is a symlink".into());
    }
    if meta.uid() != me {
        return Some(format!(
            "belongs to uid {}, not to you (uid {me})",
            meta.uid()
        ));
    }
    let actual = meta.mode() & 0o777;
    (actual != mode).then(|| format!("has mode {actual:o}, not {mode:o}"))
}

fn check_socket_file(paths: &Paths) -> Check {
    let socket = paths.socket.as_path();
    if let Err(too_long) = paths.check_socket() {
        return Check::fail(
            "socket",
            too_long.to_string(),
            "set CODEX_ASYNC_SOCKET to a shorter path (for codexd and the shim)",
        );
    }
    match fs::symlink_metadata(socket) {
        Err(_) => Check::warn(
            "socket",
            format!(
                "{} does not exist (codexd is not running)",
                socket.display()
            ),
            "`codexd start`, or `codexd install-service` to have it start on demand",
        ),
        Ok(meta) if !meta.file_type().is_socket() => Check::fail(
            "socket",
            format!("{} is not a socket", socket.display()),
            "move it away; codexd makes the socket itself",
        ),
        Ok(meta) => match private_problem(&meta, 0o600) {
            Some(problem) => Check::fail(
                "socket",
                format!("{} {problem}", socket.display()),
                "stop codexd, remove the socket, start codexd again (it binds it 0600)",
            ),
            None => Check::ok("socket", format!("{} (mode 600, yours)", socket.display())),
        },
    }
}

/// Whether the socket and the home belong to one daemon. With
/// `CODEX_ASYNC_SOCKET` naming a socket of another home, the shim (and the
/// `codexd` commands) talk to that home's daemon while `codexd start`,
/// doctor's database check and the settings use this one, so jobs seem to
/// vanish. A socket outside any home (`$XDG_RUNTIME_DIR/codexd.sock`, for a
/// home whose path is too long for one) is fine, so only evidence counts:
/// the daemon answering on the socket serves another home, the daemon
/// holding this home listens elsewhere, or the socket's folder is a home.
fn check_homes(paths: &Paths, info: Option<&InfoResponse>) -> Option<Check> {
    let (home, socket) = (paths.home.display(), paths.socket.display());
    let one_home = |other: &Path| {
        format!(
            "point both at one home, here and in the environment Claude Code starts the shim \
             with: unset {SOCKET_ENV} (the socket is then {home}/codexd.sock), or set \
             {HOME_ENV}={} if that is the home you mean",
            other.display()
        )
    };
    if let Some(info) = info {
        let served = PathBuf::from(&info.home);
        return (!same_path(&served, &paths.home)).then(|| {
            Check::warn(
                "homes",
                format!(
                    "the codexd answering on {socket} (pid {}) keeps its jobs in {}, not in \
                     {home}, the home this environment names ({HOME_ENV} and {SOCKET_ENV} name \
                     different homes)",
                    info.pid,
                    served.display()
                ),
                one_home(&served),
            )
        });
    }
    if let Some(running) = crate::store::home::running(paths) {
        let elsewhere = running.socket.filter(|s| !same_path(s, &paths.socket))?;
        return Some(Check::warn(
            "homes",
            format!(
                "the codexd holding {home} (pid {}) listens on {}, not on {socket}: the shim \
                 and the codexd commands started with this environment do not reach it",
                running.pid,
                elsewhere.display()
            ),
            format!(
                "give codexd, this shell and Claude Code's environment the same {SOCKET_ENV}: \
                 set it to {} here, or restart codexd with this environment (`codexd stop && \
                 codexd start`)",
                elsewhere.display()
            ),
        ));
    }
    let folder = paths.socket.parent()?;
    let is_home = ["codexd.db", "codexd.lock"]
        .iter()
        .any(|file| folder.join(file).exists());
    (is_home && !same_path(folder, &paths.home)).then(|| {
        Check::warn(
            "homes",
            format!(
                "the socket {socket} is in another codex-async home, {}, not in {home} \
                 ({HOME_ENV} and {SOCKET_ENV} name different homes): a codexd started here \
                 would keep its jobs in {home} on that home's socket, and that home's codexd \
                 would answer the shim instead",
                folder.display()
            ),
            one_home(folder),
        )
    })
}

/// The same file or folder, through symlinks where both can be resolved.
fn same_path(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

async fn check_daemon(paths: &Paths, info: Option<InfoResponse>) -> Check {
    match info {
        Some(info) => {
            if let Some(note) = cmd::version_note(&info.version) {
                Check::warn(
                    "daemon",
                    format!("running (pid {}), version {}", info.pid, info.version),
                    note,
                )
            } else {
                Check::ok(
                    "daemon",
                    format!(
                        "running (pid {}, version {}, {} running / {} queued jobs)",
                        info.pid, info.version, info.running, info.queued
                    ),
                )
            }
        }
        None if crate::store::home::is_locked(paths) => Check::fail(
            "daemon",
            format!(
                "a codexd holds {} but does not answer on {}",
                paths.lock().display(),
                paths.socket.display()
            ),
            format!(
                "read {} and the logs in {}; then `codexd stop` or kill the pid in the lock file",
                paths.daemon_log().display(),
                crate::logging::log_dir(paths).display()
            ),
        ),
        None => Check::warn(
            "daemon",
            "not running",
            "the MCP shim starts it on first use; or `codexd start`, or `codexd install-service`",
        ),
    }
}

/// Opens the database read-only (never migrating or locking it for writers),
/// then accounts for every job folder: one without a row is a job that
/// `codexd jobs` does not show.
async fn check_database(paths: &Paths) -> Vec<Check> {
    let path = paths.database();
    if !path.exists() {
        let (found, unreadable) = rebuild::unrecorded(&paths.jobs(), &HashSet::new());
        if found.is_empty() {
            return vec![Check::warn(
                "database",
                format!("{} does not exist yet", path.display()),
                "it is created when codexd first starts",
            )];
        }
        let mut checks = vec![Check::fail(
            "database",
            format!(
                "{} does not exist, but {} job folders do: the database was lost",
                path.display(),
                found.len()
            ),
            REBUILD_FIX,
        )];
        checks.extend(unreadable_check(&unreadable));
        return checks;
    }
    let opened = async {
        let mut conn = SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true)
            .connect()
            .await?;
        let rows = sqlx::query("SELECT job_id FROM jobs")
            .fetch_all(&mut conn)
            .await?;
        let known = rows
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<HashSet<_>, _>>()?;
        let check = sqlx::query("PRAGMA quick_check")
            .fetch_one(&mut conn)
            .await?;
        let verdict: String = check.try_get(0)?;
        Ok::<_, sqlx::Error>((known, verdict))
    };
    match opened.await {
        Ok((known, verdict)) if verdict == "ok" => {
            let mut checks = vec![Check::ok(
                "database",
                format!("{} ({} jobs)", path.display(), known.len()),
            )];
            checks.extend(check_folders(paths, &known));
            checks
        }
        Ok((_, verdict)) => vec![Check::fail(
            "database",
            format!("{} is damaged: {verdict}", path.display()),
            REPAIR_FIX,
        )],
        Err(e) => vec![Check::fail(
            "database",
            format!("{} cannot be read: {e}", path.display()),
            format!("check its owner and mode; if it is damaged: {REPAIR_FIX}"),
        )],
    }
}

/// How to get a damaged database's jobs back.
const REPAIR_FIX: &str = "run `codexd stop && codexd repair && codexd start`: repair moves the \
     damaged files aside (codexd.db.corrupt-<time>) and rebuilds every job from its folder";
/// How to get jobs whose rows are missing back.
const REBUILD_FIX: &str = "run `codexd stop && codexd repair && codexd start` (or restart \
     codexd: it rebuilds them at start); running jobs keep running";

/// Job folders without a row: rebuildable ones fail (jobs nobody sees),
/// unreadable ones warn (not known to be jobs).
fn check_folders(paths: &Paths, known: &HashSet<String>) -> Vec<Check> {
    let (found, unreadable) = rebuild::unrecorded(&paths.jobs(), known);
    let mut checks = Vec::new();
    if let Some(first) = found.first() {
        checks.push(Check::fail(
            "folders",
            format!(
                "{} job folders have no record in the database (e.g. {}): their jobs are missing from `codexd jobs`",
                found.len(),
                paths.jobs().join(first.job_id.as_str()).display()
            ),
            REBUILD_FIX,
        ));
    }
    checks.extend(unreadable_check(&unreadable));
    if checks.is_empty() {
        checks.push(Check::ok("folders", "every job folder has its record"));
    }
    checks
}

fn unreadable_check(unreadable: &[(PathBuf, String)]) -> Option<Check> {
    let (folder, why) = unreadable.first()?;
    Some(Check::warn(
        "folders",
        format!(
            "{} folders under jobs/ have no record and cannot be rebuilt (e.g. {}: {why})",
            unreadable.len(),
            folder.display()
        ),
        "look at them and remove those you do not need; a job folder needs a readable meta.json to be rebuilt",
    ))
}

/// The shim installed with this codexd (same folder), else the one on PATH.
fn find_shim() -> Option<PathBuf> {
    let name = "codex-async-shim";
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok())
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|p| is_executable(p));
    beside.or_else(|| which(Path::new(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_read_from_a_procargs2_buffer() {
        let mut buf = 2i32.to_ne_bytes().to_vec();
        buf.extend_from_slice(
            b"/usr/local/bin/codexd\0\0\0\0codexd\0serve\0A=1\0PATH=/bin:/usr/bin\0\0junk\0",
        );
        assert_eq!(
            procargs2_environ(&buf).as_deref(),
            Some(&b"A=1\0PATH=/bin:/usr/bin\0"[..])
        );
        // Cut short inside the arguments: no environment to report.
        assert_eq!(procargs2_environ(&buf[..20]), None);
    }
}
