//! `codexd install-service` / `codexd uninstall-service`: run codexd as a
//! systemd user service with socket activation (Linux) or a launchd agent
//! (macOS). Writes files only; systemctl/launchctl run only with `--now`.

use std::{
    fs,
    os::unix::fs::DirBuilderExt,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::{bail, Context};
use clap::ValueEnum;
use codex_async_proto::paths::Paths;
use serde_json::json;

use crate::{
    cmd::ui,
    service_files::{self, Spec},
};

/// Which service manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A systemd user service and socket (Linux).
    Systemd,
    /// A launchd agent (macOS).
    Launchd,
}

impl Kind {
    /// This system's service manager.
    pub fn native() -> Self {
        if cfg!(target_os = "macos") {
            Kind::Launchd
        } else {
            Kind::Systemd
        }
    }
}

struct File {
    path: PathBuf,
    content: String,
}

fn user_home() -> anyhow::Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
        .context("HOME is not set to an absolute path; the service files go under it")
}

fn files(kind: Kind) -> anyhow::Result<Vec<File>> {
    let paths = Paths::from_env()?;
    let home = user_home()?;
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("finding the path of this codexd")?;
    let env = service_files::CARRIED_ENV
        .iter()
        .filter_map(|key| {
            std::env::var(key)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (key.to_string(), v))
        })
        .collect();
    let spec = Spec {
        exe,
        paths,
        user_home: Some(home.clone()),
        env,
    };
    Ok(match kind {
        Kind::Systemd => {
            let dir = service_files::systemd_dir(&home);
            vec![
                File {
                    path: dir.join(service_files::SYSTEMD_SERVICE),
                    content: service_files::systemd_service(&spec)?,
                },
                File {
                    path: dir.join(service_files::SYSTEMD_SOCKET),
                    content: service_files::systemd_socket(&spec)?,
                },
            ]
        }
        Kind::Launchd => vec![File {
            path: service_files::launchd_dir(&home)
                .join(format!("{}.plist", service_files::LAUNCHD_LABEL)),
            content: service_files::launchd_plist(&spec)?,
        }],
    })
}

fn has_program(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

fn uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// The commands that activate the installed files.
fn activate_commands(kind: Kind, files: &[File]) -> Vec<Vec<String>> {
    match kind {
        Kind::Systemd => vec![
            vec!["systemctl".into(), "--user".into(), "daemon-reload".into()],
            vec![
                "systemctl".into(),
                "--user".into(),
                "enable".into(),
                "--now".into(),
                service_files::SYSTEMD_SOCKET.into(),
            ],
        ],
        Kind::Launchd => vec![vec![
            "launchctl".into(),
            "bootstrap".into(),
            format!("gui/{}", uid()),
            files
                .first()
                .map(|f| f.path.display().to_string())
                .unwrap_or_default(),
        ]],
    }
}

fn deactivate_commands(kind: Kind) -> Vec<Vec<String>> {
    match kind {
        Kind::Systemd => vec![vec![
            "systemctl".into(),
            "--user".into(),
            "disable".into(),
            "--now".into(),
            service_files::SYSTEMD_SOCKET.into(),
            service_files::SYSTEMD_SERVICE.into(),
        ]],
        Kind::Launchd => vec![vec![
            "launchctl".into(),
            "bootout".into(),
            format!("gui/{}/{}", uid(), service_files::LAUNCHD_LABEL),
        ]],
    }
}

/// Unloads the launchd agent if it is loaded, so a re-install takes the new
/// plist: `launchctl bootstrap` refuses a label that is loaded already
/// ("Bootstrap failed: 5: Input/output error"). codexd stops with it; its jobs
/// keep running (`AbandonProcessGroup`) and the new codexd re-adopts them.
fn unload_agent() {
    for command in deactivate_commands(Kind::Launchd) {
        if let Some((program, args)) = command.split_first() {
            // Not loaded is the usual case, not an error: only the outcome matters.
            let _ = Command::new(program)
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

fn shell_line(commands: &[Vec<String>]) -> String {
    commands
        .iter()
        .map(|c| c.join(" "))
        .collect::<Vec<_>>()
        .join(" && ")
}

fn run_commands(commands: &[Vec<String>]) -> anyhow::Result<()> {
    for command in commands {
        let Some((program, args)) = command.split_first() else {
            continue;
        };
        let status = Command::new(program)
            .args(args)
            .status()
            .with_context(|| format!("running `{}`", command.join(" ")))?;
        if !status.success() {
            bail!("`{}` failed ({status})", command.join(" "));
        }
    }
    Ok(())
}

pub fn install(kind: Kind, print: bool, now: bool, json: bool) -> anyhow::Result<ExitCode> {
    let files = files(kind)?;
    let activate = activate_commands(kind, &files);
    if print {
        if json {
            let list: Vec<_> = files
                .iter()
                .map(|f| json!({"path": f.path.display().to_string(), "content": f.content}))
                .collect();
            ui::emit(&format!(
                "{}\n",
                json!({"kind": format!("{kind:?}").to_lowercase(), "files": list, "written": false,
                       "next": shell_line(&activate)})
            ))?;
        } else {
            let mut out = String::new();
            for f in &files {
                out.push_str(&format!("# {}\n{}\n", f.path.display(), f.content));
            }
            ui::emit(&out)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if kind == Kind::Launchd {
        // launchd opens the log file itself, before codexd runs: the folder must exist.
        let paths = Paths::from_env()?;
        crate::store::home::create(&paths)?;
        let logs = crate::logging::log_dir(&paths);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&logs)
            .with_context(|| format!("creating {}", logs.display()))?;
    }
    for f in &files {
        if let Some(dir) = f.path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fs::write(&f.path, &f.content).with_context(|| format!("writing {}", f.path.display()))?;
    }
    let manager = match kind {
        Kind::Systemd => "systemctl",
        Kind::Launchd => "launchctl",
    };
    let ran = now && has_program(manager);
    if ran {
        if kind == Kind::Launchd {
            unload_agent();
        }
        run_commands(&activate)?;
    }
    if json {
        let list: Vec<_> = files.iter().map(|f| f.path.display().to_string()).collect();
        ui::emit(&format!(
            "{}\n",
            json!({"kind": format!("{kind:?}").to_lowercase(), "files": list, "written": true,
                   "activated": ran, "next": if ran { None } else { Some(shell_line(&activate)) }})
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for f in &files {
        out.push_str(&format!("wrote {}\n", f.path.display()));
    }
    if ran {
        out.push_str(&format!("ran: {}\n", shell_line(&activate)));
    } else {
        if now {
            out.push_str(&format!("{manager} not found: nothing activated.\n"));
        }
        out.push_str(&format!(
            "\nActivate it with:\n  {}\n",
            shell_line(&activate)
        ));
    }
    out.push_str(&match kind {
        Kind::Systemd => "\nThe socket starts codexd on the first connection; jobs keep running when the \
service stops or restarts. To keep jobs running after you log out: `loginctl enable-linger $USER`.\n"
            .to_string(),
        Kind::Launchd => format!(
            "\ncodexd starts at login and restarts if it crashes; its output goes to {}.\n",
            service_files::launchd_log(&Paths::from_env()?).display()
        ),
    });
    if !ran && Paths::from_env().is_ok_and(|p| crate::store::home::is_locked(&p)) {
        out.push_str(
            "\nA codexd is running now, started by hand: stop it first (`codexd stop`; its jobs keep running) \
so the service can take over.\n",
        );
    }
    ui::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

pub fn uninstall(kind: Kind, now: bool, json: bool) -> anyhow::Result<ExitCode> {
    let files = files(kind)?;
    let manager = match kind {
        Kind::Systemd => "systemctl",
        Kind::Launchd => "launchctl",
    };
    let deactivate = deactivate_commands(kind);
    let installed = files.iter().any(|f| f.path.exists());
    let ran = now && installed && has_program(manager);
    if ran {
        // Stop before removing: systemctl disable needs the unit files.
        run_commands(&deactivate)?;
    }
    let mut removed = Vec::new();
    for f in &files {
        match fs::remove_file(&f.path) {
            Ok(()) => removed.push(f.path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", f.path.display())),
        }
    }
    if kind == Kind::Systemd {
        // What `systemctl disable` removes, in case it was not run: the
        // enablement link, which would otherwise dangle.
        if let Some(dir) = files.first().and_then(|f| f.path.parent()) {
            let link: PathBuf = dir
                .join("sockets.target.wants")
                .join(service_files::SYSTEMD_SOCKET);
            if link_points_into(&link, dir) && fs::remove_file(&link).is_ok() {
                removed.push(link.display().to_string());
            }
        }
        if ran {
            run_commands(&[vec![
                "systemctl".into(),
                "--user".into(),
                "daemon-reload".into(),
            ]])?;
        }
    }
    if json {
        ui::emit(&format!(
            "{}\n",
            json!({"kind": format!("{kind:?}").to_lowercase(), "removed": removed, "deactivated": ran})
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    if removed.is_empty() {
        out.push_str("no service files were installed\n");
    }
    for path in &removed {
        out.push_str(&format!("removed {path}\n"));
    }
    if !ran && !removed.is_empty() {
        let tip = match kind {
            Kind::Systemd => {
                "systemctl --user stop codexd.socket codexd.service; systemctl --user daemon-reload"
                    .to_string()
            }
            Kind::Launchd => shell_line(&deactivate),
        };
        out.push_str(&format!(
            "\nIf it was running, stop it with:\n  {tip}\n(running jobs keep running)\n"
        ));
    }
    ui::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// True when `link` is a symlink to a file in `dir` (ours, not the user's own).
fn link_points_into(link: &Path, dir: &Path) -> bool {
    fs::read_link(link).is_ok_and(|target| {
        let target = if target.is_absolute() {
            target
        } else {
            link.parent().map(|p| p.join(&target)).unwrap_or(target)
        };
        target
            .parent()
            .is_some_and(|p| p.canonicalize().ok() == dir.canonicalize().ok())
    })
}
