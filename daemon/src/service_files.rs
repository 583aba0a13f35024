//! The files `codexd install-service` writes: a systemd user service and
//! socket (Linux), or a launchd agent (macOS). Pure text generation, so the
//! files can be printed (`--print`), tested and verified without installing.

use std::path::{Path, PathBuf};

use codex_async_proto::paths::Paths;

/// The launchd label (and the plist's file name without `.plist`).
pub const LAUNCHD_LABEL: &str = "dev.codex-async.codexd";
pub const SYSTEMD_SERVICE: &str = "codexd.service";
pub const SYSTEMD_SOCKET: &str = "codexd.socket";
const DOCS: &str = "https://github.com/codex-async/codex-async";

/// Variables copied from the installing shell into the service, so the daemon
/// finds the same codex (and node, for npm's codex) and uses the same home.
/// Secrets (OPENAI_API_KEY, …) are never written into these files.
pub const CARRIED_ENV: &[&str] = &[
    "PATH",
    "CODEX_ASYNC_HOME",
    "CODEX_ASYNC_SOCKET",
    "CODEX_BIN",
    "CODEX_HOME",
];

/// What the files describe.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Absolute path of the codexd to run.
    pub exe: PathBuf,
    /// The home and socket it will use.
    pub paths: Paths,
    /// The user's home directory (for `%h` in the socket path).
    pub user_home: Option<PathBuf>,
    /// Environment to set, in order.
    pub env: Vec<(String, String)>,
}

/// A value that cannot be written into a service file.
#[derive(Debug, thiserror::Error)]
#[error("{what} {value:?} contains a control character (a newline?); service files cannot hold it")]
pub struct Unwritable {
    pub what: String,
    pub value: String,
}

fn reject_control(what: &str, value: &str) -> Result<(), Unwritable> {
    if value.chars().any(char::is_control) {
        return Err(Unwritable {
            what: what.into(),
            value: value.into(),
        });
    }
    Ok(())
}

/// A systemd value inside double quotes: `\` and `"` escaped, `%` doubled
/// (specifiers), and `$` doubled where the line is an ExecStart (variables).
fn systemd_quoted(value: &str, exec: bool) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' if exec => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `codexd.service`: runs `codexd serve`, started by the socket on first use.
pub fn systemd_service(spec: &Spec) -> Result<String, Unwritable> {
    let exe = spec.exe.display().to_string();
    reject_control("the codexd path", &exe)?;
    let mut env = String::new();
    for (key, value) in &spec.env {
        reject_control(key, value)?;
        env.push_str(&format!(
            "Environment={}\n",
            systemd_quoted(&format!("{key}={value}"), false)
        ));
    }
    Ok(format!(
        "# Written by `codexd install-service`; remove with `codexd uninstall-service`.
[Unit]
Description=codex-async daemon: runs codex jobs in the background
Documentation={DOCS}
# Socket activation: the first client to connect starts codexd.
Requires={SYSTEMD_SOCKET}
After={SYSTEMD_SOCKET}

[Service]
Type=simple
ExecStart={exe} serve
# Stop or restart only codexd itself: each running job belongs to its own
# monitor process, which keeps codex running, and the next codexd re-adopts it.
KillMode=process
Restart=on-failure
RestartSec=2
UMask=0077
{env}
[Install]
Also={SYSTEMD_SOCKET}
",
        exe = systemd_quoted(&exe, true),
    ))
}

/// `codexd.socket`: systemd listens on the daemon's socket and starts the
/// service on the first connection, so nothing runs while codex-async is unused.
pub fn systemd_socket(spec: &Spec) -> Result<String, Unwritable> {
    let socket = spec.paths.socket.display().to_string();
    reject_control("the socket path", &socket)?;
    // `%h` keeps the unit valid if the home directory moves; anything else is
    // written as is, with `%` escaped.
    let listen = match spec
        .user_home
        .as_deref()
        .and_then(|home| spec.paths.socket.strip_prefix(home).ok())
    {
        Some(rest) => format!("%h/{}", rest.display().to_string().replace('%', "%%")),
        None => socket.replace('%', "%%"),
    };
    Ok(format!(
        "# Written by `codexd install-service`; remove with `codexd uninstall-service`.
[Unit]
Description=codex-async daemon socket (starts codexd on first use)
Documentation={DOCS}

[Socket]
ListenStream={listen}
SocketMode=0600
DirectoryMode=0700

[Install]
WantedBy=sockets.target
"
    ))
}

fn xml_escaped(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Where launchd writes codexd's stdout and stderr.
pub fn launchd_log(paths: &Paths) -> PathBuf {
    crate::logging::log_dir(paths).join("launchd.log")
}

/// The launchd agent: starts `codexd serve` at login and again if it fails.
pub fn launchd_plist(spec: &Spec) -> Result<String, Unwritable> {
    let exe = spec.exe.display().to_string();
    reject_control("the codexd path", &exe)?;
    let log = launchd_log(&spec.paths).display().to_string();
    let mut env = String::new();
    for (key, value) in &spec.env {
        reject_control(key, value)?;
        env.push_str(&format!(
            "        <key>{}</key>\n        <string>{}</string>\n",
            xml_escaped(key),
            xml_escaped(value)
        ));
    }
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by `codexd install-service`; remove with `codexd uninstall-service`. -->
<plist version="1.0">
<dict>
    <key>Label</key>
    <string>{LAUNCHD_LABEL}</string>
    <key>ProgramArguments</key>
    <array>
        <string>{exe}</string>
        <string>serve</string>
    </array>
    <key>RunAtLoad</key>
    <true/>
    <!-- Restart after a crash; `codexd stop` (a clean exit) stays stopped. -->
    <key>KeepAlive</key>
    <dict>
        <key>SuccessfulExit</key>
        <false/>
    </dict>
    <!-- Jobs belong to their own monitors: never kill them with codexd. -->
    <key>AbandonProcessGroup</key>
    <true/>
    <key>Umask</key>
    <integer>63</integer>
    <key>StandardOutPath</key>
    <string>{log}</string>
    <key>StandardErrorPath</key>
    <string>{log}</string>
    <key>EnvironmentVariables</key>
    <dict>
{env}    </dict>
</dict>
</plist>
"#,
        exe = xml_escaped(&exe),
        log = xml_escaped(&log),
    ))
}

/// `$XDG_CONFIG_HOME/systemd/user`, else `~/.config/systemd/user`.
pub fn systemd_dir(user_home: &Path) -> PathBuf {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(config) if Path::new(&config).is_absolute() => {
            PathBuf::from(config).join("systemd/user")
        }
        _ => user_home.join(".config/systemd/user"),
    }
}

/// `~/Library/LaunchAgents`.
pub fn launchd_dir(user_home: &Path) -> PathBuf {
    user_home.join("Library/LaunchAgents")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            exe: PathBuf::from("/opt/my tools/codexd"),
            paths: Paths::in_home(Path::new("/home/u/.codex-async")),
            user_home: Some(PathBuf::from("/home/u")),
            env: vec![("PATH".into(), "/usr/bin:/opt/100%/bin".into())],
        }
    }

    #[test]
    fn systemd_values_are_quoted_and_escaped() {
        let service = systemd_service(&spec()).unwrap_or_default();
        assert!(
            service.contains("ExecStart=\"/opt/my tools/codexd\" serve\n"),
            "{service}"
        );
        assert!(
            service.contains("Environment=\"PATH=/usr/bin:/opt/100%%/bin\"\n"),
            "{service}"
        );
        assert!(service.contains("KillMode=process\n"));
        let socket = systemd_socket(&spec()).unwrap_or_default();
        assert!(
            socket.contains("ListenStream=%h/.codex-async/codexd.sock\n"),
            "{socket}"
        );
        assert!(socket.contains("SocketMode=0600\n"));
    }

    #[test]
    fn newlines_cannot_inject_directives() {
        let mut bad = spec();
        bad.env = vec![("CODEX_BIN".into(), "x\nExecStartPre=/bin/evil".into())];
        assert!(systemd_service(&bad).is_err());
        assert!(launchd_plist(&bad).is_err());
    }

    #[test]
    fn plist_is_escaped() {
        let mut s = spec();
        s.env = vec![("CODEX_BIN".into(), "/a&b/<codex>".into())];
        let plist = launchd_plist(&s).unwrap_or_default();
        assert!(
            plist.contains("<string>/a&amp;b/&lt;codex&gt;</string>"),
            "{plist}"
        );
        assert!(plist.contains("<key>AbandonProcessGroup</key>\n    <true/>"));
    }
}
