//! The Claude Code plugin (`.claude-plugin/marketplace.json`, `plugin/`):
//! its files are what the real Claude Code CLI accepts, it installs from
//! this checkout into a fresh HOME without the network and connects its MCP
//! server (the shim, found on PATH: the plugin installing it from npm when
//! there is none is `npm_install.rs`'s), its commands reach the shim's
//! tools, and every tool a command names is one the shim has.
//!
//! The Claude Code tests are skipped, with a message, when CODEX_ASYNC_CLAUDE
//! is unset (`.ci/run` installs Claude Code and exports it).

use std::{
    collections::BTreeSet,
    ffi::OsString,
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use codex_async_proto::{connect, v1::ListRequest};
use serde_json::{json, Value};
use testkit::{
    bin, claude::run_deadline, claude_bin, deadline, FakeAnthropic, Log, ProcessGuard, Step,
    TempHome,
};

/// The marketplace's name, the plugin's name and its MCP server's name: all
/// `codex-async`, so the plugin is `codex-async@codex-async`.
const NAME: &str = "codex-async";

/// What Claude Code calls the plugin's MCP server (`claude mcp list`).
const SERVER: &str = "plugin:codex-async:codex-async";

/// Claude Code names a plugin server's tools `mcp__plugin_<plugin>_<server>__<tool>`
/// (measured with 2.1.332: the tool list it sends the model).
const TOOL_PREFIX: &str = "mcp__plugin_codex-async_codex-async__";

/// The commands the plugin adds, as `/codex-async:<name>`.
const COMMANDS: [&str; 5] = ["cancel", "jobs", "result", "review", "run"];

/// The checkout this test runs in: the marketplace's source.
use testkit::repo_root as repo;

fn plugin_dir() -> PathBuf {
    repo().join("plugin")
}

use testkit::output_text as text;

fn read_json(path: &Path) -> Value {
    let raw = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// One Claude Code install: a fresh HOME and a trusted project folder, with
/// the built shim and codexd first on PATH and `home`'s environment, so the
/// plugin's server (started by name from PATH, as for people who ran
/// `cargo install`) talks to this test's codexd. Every proxy variable points
/// at a closed loopback port, so anything that tried the network would fail.
struct Install {
    claude: PathBuf,
    user_home: PathBuf,
    project: PathBuf,
    path: OsString,
    env: Vec<(String, String)>,
}

impl Install {
    fn new(claude: PathBuf, home: &TempHome) -> Self {
        let user_home = home.root().join("claude-home");
        let project = home.root().join("project");
        fs::create_dir_all(&user_home).expect("create claude home");
        fs::create_dir_all(&project).expect("create project");
        let project = fs::canonicalize(&project).expect("canonical project path");
        // What an interactive first run would ask, answered, so `claude -p`
        // with the fake API's key runs without a dialog.
        let settings = json!({
            "hasCompletedOnboarding": true,
            "customApiKeyResponses": {"approved": ["test"], "rejected": []},
            "projects": {project.display().to_string(): {
                "hasTrustDialogAccepted": true,
                "hasCompletedProjectOnboarding": true,
                "allowedTools": [],
            }},
        });
        fs::write(user_home.join(".claude.json"), settings.to_string())
            .expect("write .claude.json");
        let bin_dir = bin("codex-async-shim")
            .parent()
            .expect("binaries live in a folder")
            .to_path_buf();
        let mut dirs = vec![bin_dir];
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        let path = std::env::join_paths(dirs).expect("PATH from its parts");
        Self {
            claude,
            user_home,
            project,
            path,
            env: home.env(),
        }
    }

    /// `claude ARGS…` in the project, with only the environment described
    /// on [`Install`] (plus `extra`).
    fn command(&self, args: &[&str], extra: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(&self.claude);
        cmd.env_clear();
        for key in ["LANG", "USER", "LOGNAME", "SHELL", "TMPDIR"] {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        // The fake Anthropic API is on loopback.
        testkit::without_network(&mut cmd)
            .env("PATH", &self.path)
            .env("HOME", &self.user_home)
            .env("TERM", "xterm-256color")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(extra.iter().copied())
            .args(args)
            .current_dir(&self.project)
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args, &[]).output().expect("run claude")
    }

    /// `claude plugin marketplace add <this checkout>`, then
    /// `claude plugin install codex-async@codex-async`; asserts both say so.
    fn add_and_install(&self) {
        let repo = repo().display().to_string();
        let added = self.run(&["plugin", "marketplace", "add", &repo]);
        assert!(added.status.success(), "{}", text(&added));
        assert!(
            String::from_utf8_lossy(&added.stdout)
                .contains("\u{2714} Successfully added marketplace: codex-async"),
            "{}",
            text(&added)
        );
        let plugin = format!("{NAME}@{NAME}");
        let installed = self.run(&["plugin", "install", &plugin]);
        assert!(installed.status.success(), "{}", text(&installed));
        assert!(
            String::from_utf8_lossy(&installed.stdout).contains(&format!(
                "\u{2714} Successfully installed plugin: {plugin} (scope: user)"
            )),
            "{}",
            text(&installed)
        );
    }

    /// `claude -p PROMPT` against `api`, with no tool allowed beyond what the
    /// plugin's command allows; waits for its end (within
    /// [`run_deadline`](testkit::claude::run_deadline)) and asserts it succeeded.
    fn headless(&self, prompt: &str, api: &FakeAnthropic, name: &str) {
        let root = self.user_home.parent().unwrap_or(&self.user_home);
        let stdout = root.join(format!("claude-{name}.stdout"));
        let stderr = root.join(format!("claude-{name}.stderr"));
        let debug = root.join(format!("claude-{name}.debug.log"));
        let debug = debug.display().to_string();
        let base_url = api.base_url();
        let child = self
            .command(
                &[
                    "-p",
                    prompt,
                    "--output-format",
                    "stream-json",
                    "--verbose",
                    "--debug-file",
                    &debug,
                ],
                &[
                    ("ANTHROPIC_BASE_URL", &base_url),
                    ("ANTHROPIC_API_KEY", "test"),
                ],
            )
            .stdout(fs::File::create(&stdout).expect("create claude stdout"))
            .stderr(fs::File::create(&stderr).expect("create claude stderr"))
            .spawn()
            .expect("spawn claude -p");
        let mut guard = ProcessGuard::new(child);
        let (started, limit) = (Instant::now(), run_deadline());
        let why = |status: &str| {
            format!(
                "claude -p {prompt:?}: {status}\nstdout:\n{}\nstderr:\n{}\ndebug log: {debug}\n{}",
                fs::read_to_string(&stdout).unwrap_or_default(),
                fs::read_to_string(&stderr).unwrap_or_default(),
                api.log().summary()
            )
        };
        let status = loop {
            if let Some(status) = guard.child().try_wait().expect("wait for claude -p") {
                break status;
            }
            assert!(
                started.elapsed() < limit,
                "{}",
                why(&format!("still running after {limit:?}"))
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "{}", why(&status.to_string()));
    }
}

/// `claude plugin validate --strict PATH` (warnings are errors).
fn validate(claude: &Path, home: &TempHome, path: &Path) -> Output {
    let user_home = home.root().join("claude-home");
    fs::create_dir_all(&user_home).expect("create claude home");
    Command::new(claude)
        .args(["plugin", "validate", "--strict"])
        .arg(path)
        .env("HOME", &user_home)
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run claude plugin validate")
}

#[test]
fn claude_code_validates_the_marketplace_and_the_plugin_strictly() {
    let Some(claude) = claude_bin() else {
        return;
    };
    let home = TempHome::new();

    let market = validate(&claude, &home, &repo());
    let out = String::from_utf8_lossy(&market.stdout);
    assert!(market.status.success(), "{}", text(&market));
    assert!(
        out.contains("Validating marketplace manifest:")
            && out.contains(".claude-plugin/marketplace.json")
            && out.contains("\u{2714} Validation passed"),
        "{}",
        text(&market)
    );

    let plugin = validate(&claude, &home, &plugin_dir());
    let out = String::from_utf8_lossy(&plugin.stdout);
    assert!(plugin.status.success(), "{}", text(&plugin));
    assert!(
        out.contains("Validating plugin manifest:") && out.contains("\u{2714} Validation passed"),
        "{}",
        text(&plugin)
    );
    // What it found in the plugin: the server, started by the plugin's
    // script (which execs the shim), and the five commands.
    assert!(
        out.contains(
            "mcpServers: codex-async stdio sh [\"${CLAUDE_PLUGIN_ROOT}/scripts/codex-async-shim\"]"
        ),
        "{}",
        text(&plugin)
    );
    for command in COMMANDS {
        assert!(
            out.contains(&format!("commands: codex-async:{command}\n")),
            "/codex-async:{command} missing:\n{}",
            text(&plugin)
        );
    }
}

#[test]
fn the_plugin_installs_from_this_checkout_and_its_server_connects() {
    let Some(claude) = claude_bin() else {
        return;
    };
    let home = TempHome::new();
    let install = Install::new(claude, &home);
    install.add_and_install();

    let listed = install.run(&["plugin", "list"]);
    let out = String::from_utf8_lossy(&listed.stdout);
    assert!(
        out.contains("codex-async@codex-async\n    Version: 0.1.0"),
        "{}",
        text(&listed)
    );
    assert!(
        out.contains(&format!("Read from: {}", plugin_dir().display())),
        "the plugin is read from this checkout, in place: {}",
        text(&listed)
    );

    let listed = install.run(&["mcp", "list"]);
    let out = String::from_utf8_lossy(&listed.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{SERVER}: sh ")))
        .unwrap_or_else(|| panic!("{SERVER} not listed: {}", text(&listed)));
    assert!(
        line.contains(&format!(
            "{}/scripts/codex-async-shim",
            plugin_dir().display()
        )),
        "{line}"
    );
    assert!(line.ends_with("\u{2714} Connected"), "{line}");
    // The shim came from PATH (this build's, as for people who ran `cargo
    // install`): the script installed nothing from npm.
    let mut installed = Vec::new();
    let mut dirs = vec![install.user_home.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with("npm-") {
                installed.push(entry.path());
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(entry.path());
            }
        }
    }
    assert!(installed.is_empty(), "npm installs: {installed:?}");
}

/// The id of the job a codex_start result names (a plain call's JSON record).
fn started_job_id(log: &Log) -> Option<String> {
    let start = format!("{TOOL_PREFIX}codex_start");
    let result = log.tool_results_of(&start).pop()?;
    let record: Value = serde_json::from_str(&result.text).ok()?;
    record["job_id"].as_str().map(String::from)
}

#[tokio::test]
async fn the_run_and_jobs_commands_reach_the_shim_with_only_the_plugin_s_permissions() {
    let Some(claude) = claude_bin() else {
        return;
    };
    let home = TempHome::new();
    let install = Install::new(claude, &home);
    install.add_and_install();
    // `/codex-async:run` asks for worktree isolation: the project is a git
    // repository with a commit, as a real one would be.
    for args in [
        &["init", "-q", "-b", "main"][..],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "first",
        ],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(&install.project)
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
    }
    let project = install.project.display().to_string();

    // The model does what run.md tells it: codex_start with the task, this
    // directory, auto-edit and a worktree. No --allowedTools is given, so
    // the call goes through only if the command's allowed-tools names the
    // tool as Claude Code names it.
    let start = format!("{TOOL_PREFIX}codex_start");
    let api = FakeAnthropic::start(vec![
        Step::tool_use(
            &start,
            json!({
                "prompt": "msg:done by codex",
                "cwd": project,
                "approval_policy": "auto-edit",
                "isolation": "worktree",
            }),
        ),
        Step::text("Handed to codex."),
    ]);
    install.headless("/codex-async:run msg:done by codex", &api, "run");
    let log = api.log();
    assert_eq!(api.steps_left(), 0, "{}", log.summary());
    let texts = log.user_texts().join("\n");
    assert!(
        texts.contains("Hand this task to OpenAI's codex with the codex-async tool")
            && texts.contains("Arguments given: `msg:done by codex`"),
        "run.md did not reach the model with the arguments:\n{texts}"
    );
    let started = log.tool_results_of(&start);
    assert_eq!(started.len(), 1, "{}", log.summary());
    assert!(!started[0].is_error, "{}", started[0].text);
    let job_id = started_job_id(&log).unwrap_or_else(|| panic!("no job id: {}", started[0].text));
    assert!(
        started[0]
            .text
            .contains(&format!("\"branch\":\"codex/{job_id}\"")),
        "{}",
        started[0].text
    );

    // The shim got this test's environment through Claude Code: the job is
    // in this TempHome's codexd (which TempHome's drop stops by pid).
    let mut client = connect(&home.paths().socket)
        .await
        .unwrap_or_else(|e| panic!("the job's codexd is not this test's: {e}"));
    let jobs = client
        .list(ListRequest {
            limit: Some(10),
            status: None,
        })
        .await
        .expect("list")
        .into_inner()
        .jobs;
    assert!(
        jobs.iter().any(|j| j.job_id == job_id),
        "{job_id} not in {jobs:?}"
    );

    // `/codex-async:jobs running 5`: codex_list, allowed by jobs.md.
    let list = format!("{TOOL_PREFIX}codex_list");
    let api = FakeAnthropic::start(vec![
        Step::tool_use(&list, json!({"limit": 5})),
        Step::text("Here are the jobs."),
    ]);
    install.headless("/codex-async:jobs 5", &api, "jobs");
    let log = api.log();
    assert_eq!(api.steps_left(), 0, "{}", log.summary());
    assert!(
        log.user_texts()
            .iter()
            .any(|t| t.contains("List codex-async jobs with the tool")),
        "jobs.md did not reach the model: {}",
        log.summary()
    );
    let listed = log.tool_results_of(&list);
    assert_eq!(listed.len(), 1, "{}", log.summary());
    assert!(!listed[0].is_error, "{}", listed[0].text);
    assert!(
        listed[0].text.contains(&format!("\"job_id\":\"{job_id}\"")),
        "{}",
        listed[0].text
    );
}

/// The shim's tool names, from `tools/list` over MCP stdio (no codexd is
/// started for a listing).
fn shim_tool_names(home: &TempHome) -> BTreeSet<String> {
    let child = Command::new(bin("codex-async-shim"))
        .envs(home.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn codex-async-shim");
    let mut guard = ProcessGuard::new(child);
    let mut stdin = guard.child().stdin.take().expect("shim stdin");
    let stdout = guard.child().stdout.take().expect("shim stdout");
    let rx = testkit::lines_of(stdout);
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "plugin-tests", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}),
    ];
    for message in messages {
        writeln!(stdin, "{message}").expect("write to the shim");
    }
    stdin.flush().expect("flush the shim's stdin");
    let (started, limit) = (Instant::now(), deadline());
    loop {
        let left = limit.saturating_sub(started.elapsed());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no tools/list answer within {limit:?}: {e}"));
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the shim wrote a line that is not JSON ({e}): {line}"));
        if message["id"] == 2 {
            let tools = message["result"]["tools"]
                .as_array()
                .unwrap_or_else(|| panic!("no tools in {message}"));
            return tools
                .iter()
                .filter_map(|t| t["name"].as_str().map(String::from))
                .collect();
        }
    }
}

/// A command file's frontmatter as `key: value` pairs and its body.
///
/// Hand-read rather than with a YAML crate: the files are ours and use only
/// one-line `key: value` entries, and the daemon's tests have no YAML
/// dependency to add for five files.
fn frontmatter(path: &Path) -> (Vec<(String, String)>, String) {
    let raw = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let rest = raw
        .strip_prefix("---\n")
        .unwrap_or_else(|| panic!("{} does not start with frontmatter", path.display()));
    let (head, body) = rest
        .split_once("\n---\n")
        .unwrap_or_else(|| panic!("{}: frontmatter not closed", path.display()));
    let fields = head
        .lines()
        .map(|line| {
            let (key, value) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("{}: not `key: value`: {line}", path.display()));
            (key.to_string(), value.trim().to_string())
        })
        .collect();
    (fields, body.to_string())
}

/// Every `codex_…` word in `text` (tool names, bare or with a prefix).
fn codex_words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(|word| word.find("codex_").map(|at| word[at..].to_string()))
        .collect()
}

#[test]
fn every_command_names_only_tools_the_shim_has_and_allows_exactly_those() {
    let home = TempHome::new();
    let tools = shim_tool_names(&home);
    assert!(tools.contains("codex_start"), "{tools:?}");

    let mut found: Vec<String> = fs::read_dir(plugin_dir().join("commands"))
        .expect("plugin/commands")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let expected: Vec<String> = COMMANDS.iter().map(|c| format!("{c}.md")).collect();
    assert_eq!(found, expected);

    for command in COMMANDS {
        let path = plugin_dir().join("commands").join(format!("{command}.md"));
        let (fields, body) = frontmatter(&path);
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["description", "argument-hint", "allowed-tools"],
            "{command}.md"
        );
        assert!(
            body.contains("$ARGUMENTS"),
            "{command}.md never passes on the arguments"
        );
        let allowed: BTreeSet<String> = fields[2]
            .1
            .split(',')
            .map(|t| t.trim().to_string())
            .collect();
        for tool in &allowed {
            let name = tool.strip_prefix(TOOL_PREFIX).unwrap_or_else(|| {
                panic!("{command}.md allows {tool}, not a tool of the plugin's server")
            });
            assert!(
                tools.contains(name),
                "{command}.md allows {tool}, but the shim has no {name} (it has {tools:?})"
            );
        }
        // Every tool the text mentions is the shim's, and allowed.
        let mentioned = codex_words(&body);
        assert!(!mentioned.is_empty(), "{command}.md names no tool");
        for name in &mentioned {
            assert!(
                tools.contains(name),
                "{command}.md mentions {name}, but the shim has no such tool (it has {tools:?})"
            );
            assert!(
                allowed.contains(&format!("{TOOL_PREFIX}{name}")),
                "{command}.md mentions {name} but its allowed-tools lacks {TOOL_PREFIX}{name}"
            );
        }
        // Tool names in the text carry the prefix Claude Code gives them.
        for word in body.split(|c: char| c.is_whitespace() || c == '`') {
            if word.starts_with("mcp__") {
                assert!(
                    word.starts_with(TOOL_PREFIX),
                    "{command}.md names {word}: plugin tools are {TOOL_PREFIX}<tool>"
                );
            }
        }
    }
}

#[test]
fn the_marketplace_lists_the_plugin_at_the_crates_version() {
    let market = read_json(&repo().join(".claude-plugin/marketplace.json"));
    let manifest = read_json(&plugin_dir().join(".claude-plugin/plugin.json"));
    let mcp = read_json(&plugin_dir().join(".mcp.json"));
    let version = env!("CARGO_PKG_VERSION");

    assert_eq!(market["name"], NAME);
    let plugins = market["plugins"].as_array().expect("plugins");
    assert_eq!(plugins.len(), 1, "{market}");
    assert_eq!(plugins[0]["name"], NAME);
    assert_eq!(plugins[0]["source"], "./plugin");
    assert_eq!(plugins[0]["version"], version);
    assert_eq!(manifest["name"], NAME);
    assert_eq!(manifest["version"], version);
    assert_eq!(plugins[0]["description"], manifest["description"]);
    // The server is the plugin's script, which execs the shim: from PATH
    // (what `cargo install` or `npm install -g` put there), else the npm
    // package of the plugin's version, installed into the plugin's data folder.
    assert_eq!(
        mcp,
        json!({"mcpServers": {NAME: {
            "command": "sh",
            "args": ["${CLAUDE_PLUGIN_ROOT}/scripts/codex-async-shim"],
            "env": {"CODEX_ASYNC_PLUGIN_DATA": "${CLAUDE_PLUGIN_DATA}"},
        }}})
    );
    let script = fs::read_to_string(plugin_dir().join("scripts/codex-async-shim"))
        .expect("read plugin/scripts/codex-async-shim");
    assert!(
        script.contains(&format!("\nversion=\"{version}\"\n")),
        "plugin/scripts/codex-async-shim installs another version than {version}"
    );
}
