//! The npm packages (`npm/build.sh`), installed as a user with Node and no
//! Rust would: published to a real npm registry on loopback (verdaccio),
//! installed with the README's command into a fresh HOME whose PATH has no
//! cargo and no rustc, then `codexd doctor`, `claude mcp add` / `claude mcp
//! list` (✔ Connected, the real Claude Code) and one job of the real codex
//! (against the fake Responses API) run to `done` through the installed shim.
//! The plugin is checked as the whole install: with nothing but Node, Claude
//! Code starts its server, which installs the package on its first start.
//! And the bad inputs: no install scripts, a missing or mismatched platform
//! package, a platform no package serves.
//!
//! Needs `$CODEX_ASYNC_NPM_PACKAGES` (the folder of the built .tgz files),
//! `$CODEX_ASYNC_VERDACCIO`, `$CODEX_ASYNC_CLAUDE` and
//! `$CODEX_ASYNC_REAL_CODEX`; `.ci/run` builds and installs them. The tests
//! that install are `#[ignore]`d, since a plain `cargo test --workspace` runs
//! before the packages exist; `.ci/run` runs them after building the packages
//! (`--include-ignored`), and there a missing one fails (under `CI=true`
//! every skip fails, naming what is missing).

use std::{
    ffi::OsString,
    fs,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Output, Stdio},
    sync::mpsc::Receiver,
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use testkit::{
    claude_bin, daemon_pid, deadline, real_codex, tool_from_env, wait_until, Behaviour,
    FakeProvider, ProcessGuard, TempHome,
};

/// The version every package is published at: the crates'.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The README's no-toolchain install command, as the README states it.
const README_INSTALL: &str = "npm install -g codex-async && codexd start";

/// The platform package npm picks on this machine.
fn platform() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "linux-arm64",
        _ => "linux-x64",
    }
}

use testkit::repo_root as repo;

use testkit::output_text as text;

/// The built packages: `codex-async-<VERSION>.tgz` and this platform's.
struct Packages {
    main: PathBuf,
    native: PathBuf,
}

fn packages() -> Option<Packages> {
    let dir = tool_from_env(
        "CODEX_ASYNC_NPM_PACKAGES",
        "the npm packages built by npm/build.sh",
        ".ci/run runs `npm/build.sh --out target/npm linux-x64` and exports the folder",
    )?;
    let main = dir.join(format!("codex-async-{VERSION}.tgz"));
    let native = dir.join(format!("codex-async-{}-{VERSION}.tgz", platform()));
    for file in [&main, &native] {
        assert!(
            file.is_file(),
            "{} is missing: run npm/build.sh {} (at the crates' version {VERSION})",
            file.display(),
            platform()
        );
    }
    Some(Packages { main, native })
}

fn verdaccio() -> Option<PathBuf> {
    tool_from_env(
        "CODEX_ASYNC_VERDACCIO",
        "verdaccio, the npm registry the tests publish to",
        ".ci/run installs verdaccio@6.8.0 with npm into ~/.cache/codex-async-ci/verdaccio",
    )
}

/// A free loopback port (the listener is closed again for verdaccio to take it).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("its address").port()
}

/// One GET on loopback; the status line and body, or None if nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// A real npm registry on loopback, with nothing in it but what a test
/// publishes (no uplink: a package it lacks is a 404, never a download).
struct Registry {
    /// Stops verdaccio (by pid) when the test ends.
    _guard: ProcessGuard,
    port: u16,
    /// HOME of the publishing npm (its token and cache), not the user's.
    publisher: PathBuf,
}

impl Registry {
    fn start(root: &Path, verdaccio: &Path) -> Self {
        let dir = root.join("registry");
        fs::create_dir_all(&dir).expect("create the registry folder");
        // Anyone may read and publish: the test's loopback registry has no
        // users; npm still wants a token to publish, any will do.
        fs::write(
            dir.join("config.yaml"),
            "storage: ./storage\n\
             auth:\n  htpasswd:\n    file: ./htpasswd\n\
             uplinks: {}\n\
             packages:\n  '**':\n    access: $all\n    publish: $all\n\
             max_body_size: 100mb\n\
             log: { type: stdout, format: pretty, level: warn }\n",
        )
        .expect("write verdaccio's config");
        let port = free_port();
        let child = Command::new(verdaccio)
            .args(["--config", "config.yaml", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("verdaccio.log")).expect("create its log"))
            .stderr(Stdio::from(
                fs::File::create(dir.join("verdaccio.err")).expect("create its log"),
            ))
            .spawn()
            .expect("spawn verdaccio");
        let mut guard = ProcessGuard::new(child);
        wait_until("verdaccio to answer /-/ping", || {
            if let Ok(Some(status)) = guard.child().try_wait() {
                panic!(
                    "verdaccio exited ({status}): {}",
                    fs::read_to_string(dir.join("verdaccio.err")).unwrap_or_default()
                );
            }
            http_get(port, "/-/ping").is_some_and(|a| a.starts_with("HTTP/1.1 200"))
        });
        let publisher = root.join("publisher");
        fs::create_dir_all(&publisher).expect("create the publisher's home");
        fs::write(
            publisher.join(".npmrc"),
            format!("//127.0.0.1:{port}/:_authToken=test\n"),
        )
        .expect("write the publisher's .npmrc");
        Self {
            _guard: guard,
            port,
            publisher,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// `npm publish FILE` to this registry.
    fn publish(&self, tarball: &Path) {
        let out = Command::new("npm")
            .args(["publish", "--loglevel=error"])
            .arg(tarball)
            .env("HOME", &self.publisher)
            .env("npm_config_registry", self.url())
            .stdin(Stdio::null())
            .output()
            .expect("run npm publish");
        assert!(
            out.status.success(),
            "npm publish {}: {}",
            tarball.display(),
            text(&out)
        );
    }

    /// A registry holding the built packages (this platform's and the main one).
    fn with(root: &Path, verdaccio: &Path, packages: &Packages) -> Self {
        let registry = Self::start(root, verdaccio);
        registry.publish(&packages.native);
        registry.publish(&packages.main);
        registry
    }
}

/// Names that must not be on the user's PATH: a Rust toolchain, and our own
/// binaries or codex from elsewhere.
fn left_out(name: &str) -> bool {
    name.starts_with("cargo")
        || name.starts_with("rust")
        || name == "clippy-driver"
        || name.starts_with("codex")
}

/// A folder of links to every program of the system's folders but those
/// [`left_out`]: the PATH of a machine with Node and no Rust. (Debian puts
/// rustc and node in the same /usr/bin, so the folders cannot be used as
/// they are.)
fn system_bin(root: &Path) -> PathBuf {
    let bin = root.join("sysbin");
    fs::create_dir_all(&bin).expect("create sysbin");
    for dir in ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if left_out(&name.to_string_lossy()) || bin.join(&name).exists() {
                continue;
            }
            symlink(entry.path(), bin.join(&name)).expect("link a system program");
        }
    }
    bin
}

/// A person's account on a machine with Node and npm and no Rust: a fresh
/// HOME, npm's global prefix in it (`npm install -g` without root), PATH
/// = that prefix's bin + the system's programs, npm's registry the test's,
/// codexd's home and the real codex (against the fake provider) in the
/// environment, and every proxy a closed port (nothing reaches a network).
struct User {
    home: PathBuf,
    prefix: PathBuf,
    path: OsString,
    env: Vec<(String, String)>,
}

impl User {
    fn new(temp: &TempHome, registry: &Registry, provider: Option<&FakeProvider>) -> Self {
        let home = temp.root().join("user");
        let prefix = home.join(".npm-global");
        fs::create_dir_all(prefix.join("bin")).expect("create the npm prefix");
        let path = std::env::join_paths([prefix.join("bin"), system_bin(temp.root())])
            .expect("PATH from its parts");
        let mut env: Vec<(String, String)> = temp
            .env()
            .into_iter()
            .filter(|(k, _)| k != "CODEX_BIN")
            .collect();
        env.push(("npm_config_registry".into(), registry.url()));
        env.push(("npm_config_prefix".into(), prefix.display().to_string()));
        if let (Some(provider), Some(codex)) = (provider, real_codex()) {
            let codex_home = temp.root().join("codex-home");
            provider.write_codex_config(&codex_home);
            env.push(("CODEX_BIN".into(), codex.display().to_string()));
            env.push(("CODEX_HOME".into(), codex_home.display().to_string()));
        }
        let user = Self {
            home,
            prefix,
            path,
            env,
        };
        // The premise: no toolchain (and none of our binaries) on this PATH.
        let found = user
            .sh("command -v cargo; command -v rustc; command -v codex-async-shim; true")
            .stdout;
        assert!(
            found.is_empty(),
            "PATH has {}",
            String::from_utf8_lossy(&found)
        );
        user
    }

    /// `program` with only this user's environment, in their HOME.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear();
        for key in ["LANG", "USER", "LOGNAME", "TMPDIR"] {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        testkit::without_network(&mut cmd)
            .env("PATH", &self.path)
            .env("HOME", &self.home)
            .env("SHELL", "/bin/sh")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.home)
            .stdin(Stdio::null());
        cmd
    }

    /// `sh -c SCRIPT` as this user; its output.
    fn sh(&self, script: &str) -> Output {
        self.command("/bin/sh")
            .args(["-c", script])
            .output()
            .expect("run sh")
    }

    /// `sh -c SCRIPT`, asserted to succeed; its stdout.
    fn ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(out.status.success(), "{script}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Where `name` resolves on this user's PATH.
    fn which(&self, name: &str) -> PathBuf {
        PathBuf::from(self.ok(&format!("command -v {name}")).trim())
    }

    /// The package's folder in the global prefix.
    fn package(&self) -> PathBuf {
        self.prefix.join("lib/node_modules/codex-async")
    }

    /// `claude ARGS…` as this user (Claude Code's own first-run questions
    /// answered in `.claude.json`), in `project`.
    fn claude(&self, claude: &Path, project: &Path, args: &[&str]) -> Output {
        self.command(claude)
            .args(args)
            .current_dir(project)
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            .output()
            .expect("run claude")
    }

    /// A trusted project folder for Claude Code, with onboarding done.
    fn claude_project(&self) -> PathBuf {
        let project = self.home.join("project");
        fs::create_dir_all(&project).expect("create the project");
        let settings = json!({
            "hasCompletedOnboarding": true,
            "projects": {project.display().to_string(): {
                "hasTrustDialogAccepted": true,
                "hasCompletedProjectOnboarding": true,
            }},
        });
        fs::write(self.home.join(".claude.json"), settings.to_string())
            .expect("write .claude.json");
        project
    }
}

/// True when `path` (through links) is an ELF executable, not a script.
fn is_native(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == *b"\x7fELF")
}

/// The `claude mcp list` line of `server`, asserted to end ✔ Connected.
fn assert_connected(listed: &Output, server: &str) -> String {
    let out = String::from_utf8_lossy(&listed.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{server}: ")))
        .unwrap_or_else(|| panic!("{server} not listed: {}", text(listed)))
        .to_string();
    assert!(line.ends_with("\u{2714} Connected"), "{}", text(listed));
    line
}

/// An MCP stdio session with a spawned server (newline-delimited JSON-RPC).
struct Mcp {
    guard: ProcessGuard,
    stdin: ChildStdin,
    lines: Receiver<String>,
    next_id: u64,
}

impl Mcp {
    fn spawn(mut cmd: Command) -> Self {
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the MCP server");
        Self::attach(child)
    }

    fn attach(child: Child) -> Self {
        let mut guard = ProcessGuard::new(child);
        let stdin = guard.child().stdin.take().expect("server stdin");
        let stdout = guard.child().stdout.take().expect("server stdout");
        let lines = testkit::lines_of(stdout);
        Self {
            guard,
            stdin,
            lines,
            next_id: 1,
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{message}").expect("write to the server");
        self.stdin.flush().expect("flush the server's stdin");
        let (started, limit) = (Instant::now(), deadline());
        loop {
            let left = limit.saturating_sub(started.elapsed());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no answer to {method} within {limit:?}: {e}"));
            let answer: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                panic!("the server wrote a line that is not JSON ({e}): {line}")
            });
            if answer["id"] == id {
                return answer;
            }
        }
    }

    fn initialize(&mut self) -> Value {
        let answer = self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "npm-tests", "version": "0"}}),
        );
        assert!(answer.get("result").is_some(), "initialize: {answer}");
        writeln!(
            self.stdin,
            "{}",
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        )
        .expect("write to the server");
        answer
    }

    /// A tool call's text, asserted not to be an error. (A job's record is
    /// JSON; a finished job's result is text, "Codex job <id> <status> …".)
    fn call(&mut self, tool: &str, arguments: Value) -> String {
        let answer = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        let result = &answer["result"];
        assert!(
            result.is_object() && result["isError"] != true,
            "{tool}: {answer}"
        );
        result["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{tool}: no text in {answer}"))
            .to_string()
    }

    fn pid(&self) -> i32 {
        self.guard.pid()
    }
}

/// The program a live process runs (`/proc/PID/exe`).
fn exe_of(pid: i32) -> PathBuf {
    fs::read_link(format!("/proc/{pid}/exe")).expect("read /proc/PID/exe")
}

/// The README states the no-toolchain install command the tests run.
#[test]
fn the_readme_states_the_npm_install_the_tests_run() {
    let readme = fs::read_to_string(repo().join("README.md")).expect("read README.md");
    assert!(
        readme.contains(README_INSTALL),
        "README.md lacks `{README_INSTALL}`"
    );
    // And the package's platform list is the build script's and the release's.
    let manifest: Value = serde_json::from_str(
        &fs::read_to_string(repo().join("npm/codex-async/package.json"))
            .expect("read npm/codex-async/package.json"),
    )
    .expect("package.json is JSON");
    // (serde_json's map is sorted: compared as sets.)
    let platforms: std::collections::BTreeSet<&str> = manifest["optionalDependencies"]
        .as_object()
        .expect("optionalDependencies")
        .keys()
        .map(|k| k.trim_start_matches("@codex-async/"))
        .collect();
    assert_eq!(
        platforms,
        ["darwin-arm64", "darwin-x64", "linux-arm64", "linux-x64"].into()
    );
    let platform_js = fs::read_to_string(repo().join("npm/codex-async/lib/platform.js"))
        .expect("read lib/platform.js");
    assert!(
        platform_js.contains(
            "const PLATFORMS = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'darwin-x64'];"
        ),
        "lib/platform.js lists other platforms than package.json"
    );
}

#[test]
#[ignore = "needs the npm packages: .ci/run builds them (npm/build.sh), then runs these with --include-ignored"]
fn the_npm_install_puts_native_commands_on_path_and_runs_a_real_codex_job() {
    let (Some(packages), Some(verdaccio), Some(claude)) = (packages(), verdaccio(), claude_bin())
    else {
        return;
    };
    let temp = TempHome::new();
    let provider = FakeProvider::start(Behaviour::Reply("hello from the npm install".into()));
    let registry = Registry::with(temp.root(), &verdaccio, &packages);
    let user = User::new(&temp, &registry, Some(&provider));
    assert!(
        user.env.iter().any(|(k, _)| k == "CODEX_BIN"),
        "the real codex is needed"
    );

    // The README's command, as written.
    let started = Instant::now();
    user.ok(README_INSTALL);
    eprintln!("figure: {README_INSTALL}: {:?}", started.elapsed());

    // Both commands are the native binaries themselves: nothing in between.
    for command in ["codexd", "codex-async-shim"] {
        let found = user.which(command);
        assert_eq!(found, user.prefix.join("bin").join(command));
        assert!(
            is_native(&found),
            "{} is not the native binary",
            found.display()
        );
        assert_eq!(
            user.ok(&format!("{command} --version")).trim(),
            format!("{command} {VERSION}")
        );
    }
    // The daemon `codexd start` left running is the installed one.
    let daemon = daemon_pid(&temp.paths()).expect("codexd start recorded its pid");
    let exe = exe_of(daemon);
    assert!(exe.starts_with(user.package()), "{}", exe.display());

    let doctor = user.sh("codexd doctor");
    assert!(doctor.status.success(), "codexd doctor: {}", text(&doctor));

    // Claude Code registers the installed shim by name and connects to it.
    let project = user.claude_project();
    let added = user.claude(
        &claude,
        &project,
        &["mcp", "add", "codex-async", "--", "codex-async-shim"],
    );
    assert!(added.status.success(), "{}", text(&added));
    let listed = user.claude(&claude, &project, &["mcp", "list"]);
    let line = assert_connected(&listed, "codex-async");
    assert!(line.starts_with("codex-async: codex-async-shim "), "{line}");

    // One job of the real codex, through the installed shim, to done.
    let mut shim = Mcp::spawn({
        let mut cmd = user.command(user.which("codex-async-shim"));
        cmd.current_dir(&project);
        cmd
    });
    shim.initialize();
    let work = temp.workdir();
    let job = shim.call(
        "codex_start",
        json!({"prompt": "say hello", "cwd": work, "model": "gpt-5.5"}),
    );
    let job: Value = serde_json::from_str(&job).expect("codex_start answers a JSON record");
    let id = job["job_id"].as_str().expect("a job id").to_string();
    let mut end = String::new();
    wait_until("the job to end", || {
        end = shim.call("codex_wait", json!({"job_id": id, "timeout_seconds": 10}));
        end.starts_with(&format!("Codex job {id} "))
    });
    assert!(
        end.starts_with(&format!("Codex job {id} done (exit 0")),
        "{end}"
    );
    assert!(end.contains("\n\nhello from the npm install"), "{end}");
    assert!(provider.posts() >= 1);
    assert_eq!(
        exe_of(shim.pid()),
        user.package().join("bin/codex-async-shim")
    );
    drop(shim);

    // Spawn → initialize answered: the platform package's binary, and the
    // installed command (which is that binary, linked into place).
    let runs = 21;
    let binary = platform_package(&user).join("bin/codex-async-shim");
    let command = user.which("codex-async-shim");
    let (native, installed) =
        spawn_to_initialize(runs, || user.command(&binary), || user.command(&command));
    eprintln!(
        "figure: spawn to initialize answered, median of {runs}: native {native:?}, \
         the installed codex-async-shim {installed:?}"
    );
    drop(registry);
}

/// The folder of this platform's package under the installed main package
/// (npm nests a global package's dependencies in it).
fn platform_package(user: &User) -> PathBuf {
    let nested = user
        .package()
        .join("node_modules/@codex-async")
        .join(platform());
    let hoisted = user
        .prefix
        .join("lib/node_modules/@codex-async")
        .join(platform());
    [nested, hoisted]
        .into_iter()
        .find(|dir| dir.join("package.json").is_file())
        .unwrap_or_else(|| panic!("npm did not install @codex-async/{}", platform()))
}

/// A `--require` file for Node that makes it report another platform: what
/// the launchers see on a machine no package serves.
fn pretend(temp: &TempHome, name: &str, code: &str) -> String {
    let file = temp.root().join(format!("pretend-{name}.js"));
    fs::write(&file, code).expect("write the preload");
    format!("--require={}", file.display())
}

/// Runs `script` as `user` with NODE_OPTIONS set; asserts it fails, within
/// the deadline, with each of `says` on stderr (and nothing on stdout, which
/// is the MCP protocol for the shim). stdin stays open, as Claude Code keeps
/// it: the launcher must exit on its own rather than wait for a client.
fn fails_saying(user: &User, script: &str, node_options: &str, says: &[&str]) {
    let child = user
        .command("/bin/sh")
        .args(["-c", script])
        .env("NODE_OPTIONS", node_options)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let mut guard = ProcessGuard::new(child);
    let (started, limit) = (Instant::now(), deadline());
    let status = loop {
        if let Some(status) = guard.child().try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < limit,
            "{script} still running after {limit:?}: it must exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = guard.child().stdout.take() {
        out.read_to_string(&mut stdout).expect("read stdout");
    }
    if let Some(mut err) = guard.child().stderr.take() {
        err.read_to_string(&mut stderr).expect("read stderr");
    }
    assert_eq!(status.code(), Some(1), "{script}: {stderr}");
    assert!(stdout.is_empty(), "{script} wrote to stdout: {stdout}");
    for want in says {
        assert!(
            stderr.contains(want),
            "{script}: {want:?} not in:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("    at "),
        "{script}: a stack, not a message:\n{stderr}"
    );
}

#[test]
#[ignore = "needs the npm packages: .ci/run builds them (npm/build.sh), then runs these with --include-ignored"]
fn without_install_scripts_the_first_start_places_the_binaries_and_bad_installs_say_what_to_do() {
    let (Some(packages), Some(verdaccio)) = (packages(), verdaccio()) else {
        return;
    };
    let temp = TempHome::new();
    let registry = Registry::with(temp.root(), &verdaccio, &packages);
    let user = User::new(&temp, &registry, None);
    user.ok("npm install -g --ignore-scripts --loglevel=error codex-async");
    // The postinstall did not run: the commands are the Node launchers.
    let launchers = || {
        for command in ["codexd", "codex-async-shim"] {
            assert!(!is_native(&user.which(command)), "{command}");
        }
    };
    launchers();

    let fix = format!("npm install -g codex-async@{VERSION}");
    // What npm would have run as the postinstall.
    let install = format!("node {}/install.js", user.package().display());
    let native = platform_package(&user);
    // A platform package of another version.
    let manifest = native.join("package.json");
    let original = fs::read_to_string(&manifest).expect("read the platform package.json");
    fs::write(
        &manifest,
        original.replace(
            &format!("\"version\": \"{VERSION}\""),
            "\"version\": \"0.0.1\"",
        ),
    )
    .expect("write package.json");
    fails_saying(
        &user,
        "codex-async-shim",
        "",
        &[
            &format!("is version 0.0.1, but codex-async is {VERSION}"),
            &fix,
        ],
    );
    fs::write(&manifest, &original).expect("restore package.json");
    // A binary of another release in the right package: the postinstall
    // runs each binary and refuses one that says another version.
    let binary = native.join("bin/codexd");
    fs::rename(&binary, native.join("bin/codexd.away")).expect("move the binary away");
    testkit::write_script(&binary, "#!/bin/sh\necho codexd 9.9.9\n");
    fails_saying(
        &user,
        &install,
        "",
        &[
            "said \"codexd 9.9.9\"",
            &format!("expected \"codexd {VERSION}\""),
            &fix,
        ],
    );
    fs::remove_file(&binary).expect("remove the stand-in");
    fs::rename(native.join("bin/codexd.away"), &binary).expect("put the binary back");
    // A platform package without its binary.
    let binary = native.join("bin/codexd");
    fs::rename(&binary, native.join("bin/codexd.away")).expect("move the binary away");
    fails_saying(
        &user,
        "codexd status",
        "",
        &["has no runnable codexd", &fix],
    );
    fs::rename(native.join("bin/codexd.away"), &binary).expect("put the binary back");

    // Machines no package serves: at first run and at install.
    let windows = pretend(
        &temp,
        "windows",
        "Object.defineProperty(process, 'platform', { value: 'win32' });",
    );
    let musl = pretend(
        &temp,
        "musl",
        "const real = process.report.getReport.bind(process.report);\n\
         process.report.getReport = () => { const r = real(); delete r.header.glibcVersionRuntime; return r; };",
    );
    let old_glibc = pretend(
        &temp,
        "old-glibc",
        "const real = process.report.getReport.bind(process.report);\n\
         process.report.getReport = () => { const r = real(); r.header.glibcVersionRuntime = '2.12'; return r; };",
    );
    let bsd = pretend(
        &temp,
        "freebsd",
        "Object.defineProperty(process, 'platform', { value: 'freebsd' });",
    );
    let from_source = "cargo install --locked --path daemon";
    for script in ["codex-async-shim", install.as_str()] {
        fails_saying(&user, script, &windows, &["does not run on Windows", "WSL"]);
        fails_saying(&user, script, &musl, &["need glibc", "musl", from_source]);
        fails_saying(
            &user,
            script,
            &old_glibc,
            &["glibc >= 2.17", "has 2.12", from_source],
        );
        fails_saying(
            &user,
            script,
            &bsd,
            &[
                &format!(
                    "no prebuilt binaries for freebsd-{}",
                    std::env::consts::ARCH
                        .replace("x86_64", "x64")
                        .replace("aarch64", "arm64")
                ),
                from_source,
            ],
        );
    }

    // No platform package at all (--omit=optional): said at first run,
    // and by the postinstall.
    fs::rename(&native, temp.root().join("platform-away")).expect("move the package away");
    for script in ["codex-async-shim", install.as_str()] {
        fails_saying(
            &user,
            script,
            "",
            &[
                &format!("@codex-async/{}", platform()),
                "is not installed",
                &fix,
            ],
        );
    }
    fs::rename(temp.root().join("platform-away"), &native).expect("put the package back");

    // None of that placed anything. The first good start goes through Node
    // (the launcher runs the platform package's binary) and puts the native
    // binaries in place: later starts have nothing in between.
    launchers();
    let through_node = initialize_time(user.command(user.which("codex-async-shim")));
    for command in ["codexd", "codex-async-shim"] {
        assert!(is_native(&user.which(command)), "{command}");
        assert_eq!(
            user.ok(&format!("{command} --version")).trim(),
            format!("{command} {VERSION}")
        );
    }
    let later = initialize_time(user.command(user.which("codex-async-shim")));
    eprintln!(
        "figure: spawn to initialize answered, install scripts off: first start (Node launcher) \
         {through_node:?}, the next {later:?}"
    );
    // The postinstall, run late, accepts binaries already in place.
    user.ok(&install);
}

/// Every file named `name` under `dir`, through real folders only.
fn find_named(dir: &Path, name: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name() == name {
            found.push(path.clone());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            find_named(&path, name, found);
        }
    }
}

/// Time from spawn to the answer to `initialize`.
fn initialize_time(command: Command) -> Duration {
    let started = Instant::now();
    let mut server = Mcp::spawn(command);
    server.initialize();
    started.elapsed()
}

/// Median times from spawn to the answer to `initialize` of two commands,
/// over `runs` starts of each, taken alternately (so a load that comes and
/// goes weighs on both alike).
fn spawn_to_initialize(
    runs: usize,
    a: impl Fn() -> Command,
    b: impl Fn() -> Command,
) -> (Duration, Duration) {
    let (mut first, mut second): (Vec<Duration>, Vec<Duration>) = (0..runs)
        .map(|_| (initialize_time(a()), initialize_time(b())))
        .unzip();
    first.sort();
    second.sort();
    (first[runs / 2], second[runs / 2])
}

#[test]
#[ignore = "needs the npm packages: .ci/run builds them (npm/build.sh), then runs these with --include-ignored"]
fn the_plugin_alone_installs_the_server_from_npm_and_connects() {
    let (Some(packages), Some(verdaccio), Some(claude)) = (packages(), verdaccio(), claude_bin())
    else {
        return;
    };
    let temp = TempHome::new();
    let registry = Registry::with(temp.root(), &verdaccio, &packages);
    let user = User::new(&temp, &registry, None);
    let project = user.claude_project();

    let repo_path = repo().display().to_string();
    for args in [
        &["plugin", "marketplace", "add", repo_path.as_str()][..],
        &["plugin", "install", "codex-async@codex-async"],
    ] {
        let out = user.claude(&claude, &project, args);
        assert!(out.status.success(), "claude {args:?}: {}", text(&out));
    }
    // The first start installs the package (from the registry), a later one
    // finds it.
    let server = "plugin:codex-async:codex-async";
    let started = Instant::now();
    let listed = user.claude(&claude, &project, &["mcp", "list"]);
    let first = started.elapsed();
    let line = assert_connected(&listed, server);
    assert!(line.contains("scripts/codex-async-shim"), "{line}");
    let started = Instant::now();
    assert_connected(&user.claude(&claude, &project, &["mcp", "list"]), server);
    let later = started.elapsed();
    eprintln!("figure: claude mcp list with the plugin: first start {first:?}, later {later:?}");

    // Installed into the plugin's data folder, with its postinstall run.
    let mut found = Vec::new();
    find_named(&user.home.join(".claude"), "codex-async-shim", &mut found);
    let installed: Vec<&PathBuf> = found
        .iter()
        .filter(|p| p.ends_with("node_modules/.bin/codex-async-shim"))
        .collect();
    assert_eq!(installed.len(), 1, "{found:?}");
    let installed = fs::canonicalize(installed[0]).expect("the installed shim");
    assert!(is_native(&installed), "{}", installed.display());
    // <data>/npm-VERSION.XXXXXX/node_modules/codex-async/bin/codex-async-shim,
    // linked as <data>/npm-VERSION by the plugin's script.
    let made = installed.ancestors().nth(4).expect("the install's folder");
    assert!(
        made.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(&format!("npm-{VERSION}."))),
        "{}",
        installed.display()
    );
    let data = made.parent().expect("the data folder").to_path_buf();
    assert!(data.join(format!("npm-{VERSION}")).is_symlink());

    // The process Claude Code starts becomes the shim: no shell, no Node
    // stays in between.
    let script = repo().join("plugin/scripts/codex-async-shim");
    let plugin_start = || {
        let mut cmd = user.command("sh");
        cmd.arg(&script)
            .env("CODEX_ASYNC_PLUGIN_DATA", &data)
            .stderr(Stdio::null());
        cmd
    };
    let mut shim = Mcp::spawn(plugin_start());
    shim.initialize();
    assert_eq!(exe_of(shim.pid()), installed);
    drop(shim);

    // Spawn → initialize answered: the native binary itself, and the plugin's
    // command (sh, then exec).
    let runs = 21;
    let (direct, through_plugin) =
        spawn_to_initialize(runs, || user.command(&installed), plugin_start);
    eprintln!(
        "figure: spawn to initialize answered, median of {runs}: native {direct:?}, \
         the plugin's command {through_plugin:?}"
    );

    // Without a shim on PATH and without npm: the reason, and an exit.
    let empty = temp.root().join("empty-data");
    let out = user
        .command("/bin/sh")
        .arg(&script)
        .env("PATH", "/nonexistent")
        .env("CODEX_ASYNC_PLUGIN_DATA", &empty)
        .output()
        .expect("run the plugin's script");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    assert!(
        stderr.contains("neither codex-async-shim nor npm is on PATH")
            && stderr.contains(&format!("npm install -g codex-async@{VERSION}")),
        "{stderr}"
    );
    drop(registry);
}
