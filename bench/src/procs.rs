//! Processes the bench starts, and what it reads about them from /proc.
//!
//! Everything is stopped by pid: a [`Guard`] kills its child (and, for the
//! daemon, every process descended from it: monitors and codex) when dropped,
//! and a [`TempRoot`] kills whatever still names its folder on the command line
//! before deleting it. Nothing is ever killed by name.

use std::{
    ffi::OsStr,
    fs,
    path::{Path, PathBuf},
    process::{Child, Command},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

/// A child process that is killed, with its descendants, when dropped.
pub struct Guard {
    child: Child,
    name: String,
    /// Also kill the processes descended from it (the daemon's monitors and codex).
    tree: bool,
}

impl Guard {
    /// Guards `child`; `tree` kills its descendants too.
    pub fn new(child: Child, name: &str, tree: bool) -> Self {
        Self {
            child,
            name: name.to_string(),
            tree,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Asks the process to exit (SIGTERM) and waits up to `grace`, then kills it.
    /// Its descendants are not touched (the daemon's monitors outlive it by design).
    pub fn terminate(&mut self, grace: Duration) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        signal(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(2));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        bail!(
            "{} did not exit within {grace:?} of SIGTERM; killed it",
            self.name
        )
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let descendants = if self.tree {
            descendants(self.pid())
        } else {
            Vec::new()
        };
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        for pid in descendants {
            signal(pid, libc::SIGKILL);
        }
    }
}

/// The bench's scratch folder; on drop, every process whose command line
/// names it (monitors, codex, writers) is killed by pid, then it is deleted.
pub struct TempRoot {
    dir: tempfile::TempDir,
}

impl TempRoot {
    pub fn new() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("cxa-bench-")
            .tempdir()
            .context("cannot create a temp folder")?;
        Ok(Self { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A new sub-folder.
    pub fn sub(&self, name: &str) -> anyhow::Result<PathBuf> {
        let path = self.dir.path().join(name);
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(path)
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let me = std::process::id() as i32;
        let needle = self.dir.path().as_os_str().as_encoded_bytes().to_vec();
        for pid in all_pids() {
            if pid == me {
                continue;
            }
            if let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) {
                if cmdline
                    .windows(needle.len())
                    .any(|w| w == needle.as_slice())
                {
                    signal(pid, libc::SIGKILL);
                }
            }
        }
    }
}

fn signal(pid: i32, sig: i32) {
    if pid > 0 {
        // SAFETY: kill(2) with a positive pid the bench started (or found
        // descended from one it started); no memory is involved.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

fn all_pids() -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The fields of /proc/<pid>/stat after the command name (field 3 onwards).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The parent pid of `pid`.
fn ppid(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// The direct children of `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| ppid(p) == Some(pid))
        .collect()
}

/// Every process descended from `pid`.
pub fn descendants(pid: i32) -> Vec<i32> {
    let parents: Vec<(i32, i32)> = all_pids()
        .into_iter()
        .filter_map(|p| Some((p, ppid(p)?)))
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// A process's command line, arguments joined by spaces.
pub fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|&b| b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Resident memory of `pid` in KiB (VmRSS).
pub fn rss_kib(pid: i32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time used by `pid` (user + system), in seconds.
pub fn cpu_seconds(pid: i32) -> Option<f64> {
    let fields = stat_fields(pid)?;
    // utime and stime are fields 14 and 15 of stat; `fields` starts at field 3.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no memory effects.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    Some((utime + stime) / ticks)
}

/// Where the binaries under test are, and the fake codex.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub codexd: PathBuf,
    pub shim: PathBuf,
    /// `testdata/fake-codex` (python).
    pub fake_codex: PathBuf,
    /// The folder they were found in (target/release or target/debug).
    pub dir: PathBuf,
}

impl Binaries {
    /// The binaries of `profile` in the target folder this bench was built into.
    pub fn locate(profile: Option<&str>) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the bench's own executable")?;
        let own_dir = exe
            .parent()
            .context("the bench executable has no folder")?
            .to_path_buf();
        let dir = match profile {
            None => own_dir,
            Some(p) => own_dir
                .parent()
                .context("the bench executable is not in a target/<profile> folder")?
                .join(p),
        };
        let fake_codex = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("testdata")
            .join("fake-codex");
        Ok(Self {
            codexd: dir.join("codexd"),
            shim: dir.join("codex-async-shim"),
            fake_codex,
            dir,
        })
    }

    /// The cargo profile these binaries come from (the folder's name).
    pub fn profile(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Builds the binaries with cargo (a no-op when they are current), so the
    /// bench never measures stale ones.
    pub fn build(&self) -> anyhow::Result<()> {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let profile = self.profile();
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(&workspace)
            .args(["build", "--quiet", "--bins"])
            .args(["-p", "codex-async-daemon", "-p", "codex-async-shim"])
            .arg("--profile")
            .arg(if profile == "debug" { "dev" } else { &profile });
        eprintln!(
            "building codexd and codex-async-shim ({profile}) with `{} build` …",
            Path::new(&cargo)
                .file_name()
                .unwrap_or(OsStr::new("cargo"))
                .to_string_lossy()
        );
        let status = cmd.status().context(
            "cannot run cargo to build the binaries; build them yourself \
             (`cargo build --release --workspace`) and pass --no-build",
        )?;
        if !status.success() {
            bail!("building codexd and codex-async-shim failed ({status})");
        }
        Ok(())
    }

    /// Fails with a clear message when a binary is missing.
    pub fn check(&self) -> anyhow::Result<()> {
        for bin in [&self.codexd, &self.shim] {
            if !bin.is_file() {
                bail!(
                    "{} not found: run `cargo build --release --workspace` first \
                     (or pass --profile debug after `cargo build --workspace`)",
                    bin.display()
                );
            }
        }
        if !self.fake_codex.is_file() {
            bail!("the fake codex {} is missing", self.fake_codex.display());
        }
        Ok(())
    }
}
