//! A codexd under test: its own home, its own fake codex, started and stopped by pid.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use codex_async_proto::{
    connect,
    v1::{GetRequest, InfoRequest, JobStatus, StartRequest},
    Client,
};
use tokio::runtime::Runtime;

use crate::procs::{Binaries, Guard, TempRoot};

/// How long a daemon may take to answer after it was spawned.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One state home (`CODEX_ASYNC_HOME`), the folder jobs run in, and the codex it runs.
#[derive(Debug, Clone)]
pub struct Home {
    pub home: PathBuf,
    pub work: PathBuf,
    pub codex_bin: PathBuf,
    /// More environment for codexd (and so codex), e.g. the real codex's
    /// `CODEX_HOME`.
    pub env: Vec<(String, String)>,
}

impl Home {
    /// A new home under `root` named `name`, running `codex_bin`.
    pub fn new(root: &TempRoot, name: &str, codex_bin: &Path) -> anyhow::Result<Self> {
        let base = root.sub(name)?;
        let home = base.join("home");
        let work = base.join("work");
        fs::create_dir_all(&work)?;
        // The daemon wants its home private; create it so (it checks the mode).
        fs::create_dir_all(&home)?;
        fs::set_permissions(&home, fs::Permissions::from_mode(0o700))?;
        Ok(Self {
            home,
            work,
            codex_bin: codex_bin.to_path_buf(),
            env: Vec::new(),
        })
    }

    /// Also sets `key` to `value` in codexd's environment.
    pub fn with_env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }

    pub fn socket(&self) -> PathBuf {
        self.home.join("codexd.sock")
    }

    pub fn database(&self) -> PathBuf {
        self.home.join("codexd.db")
    }

    pub fn output(&self, job_id: &str) -> PathBuf {
        self.home.join("jobs").join(job_id).join("output.txt")
    }

    /// Applies this home's environment to `cmd`, and nothing of the caller's
    /// codex-async settings (socket override, socket activation).
    pub fn apply_env(&self, cmd: &mut Command, bins: &Binaries) {
        cmd.env("CODEX_ASYNC_HOME", &self.home)
            .env("CODEX_BIN", &self.codex_bin)
            // Figure 5 runs 100 jobs at once: lift the default run-slot limit (4).
            .env("CODEX_ASYNC_MAX_JOBS", "256")
            .env("CODEX_ASYNC_CODEXD", &bins.codexd)
            .env_remove("CODEX_ASYNC_SOCKET")
            .env_remove("CODEX_ASYNC_STALL_TIMEOUT")
            .env_remove("CODEX_ASYNC_MAX_DURATION")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_FDNAMES")
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
    }
}

/// A running `codexd serve`.
pub struct Daemon {
    guard: Guard,
}

impl Daemon {
    /// Spawns `codexd serve` for `home` and waits until Info answers; returns
    /// the daemon and the time from spawn to that answer.
    pub fn start(bins: &Binaries, home: &Home, rt: &Runtime) -> anyhow::Result<(Self, Duration)> {
        let mut cmd = Command::new(&bins.codexd);
        cmd.arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        home.apply_env(&mut cmd, bins);
        let begun = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot run {} serve", bins.codexd.display()))?;
        let mut guard = Guard::new(child, "codexd", true);
        let socket = home.socket();
        loop {
            let answered = rt.block_on(async {
                let mut client = connect(&socket).await.ok()?;
                client.info(InfoRequest {}).await.ok()
            });
            if answered.is_some() {
                return Ok((Self { guard }, begun.elapsed()));
            }
            if let Some(status) = guard.child().try_wait()? {
                bail!(
                    "codexd serve exited ({status}) before answering; see {}/logs",
                    home.home.display()
                );
            }
            if begun.elapsed() > START_TIMEOUT {
                bail!("codexd did not answer within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    pub fn pid(&self) -> i32 {
        self.guard.pid()
    }

    /// Stops the daemon gracefully (SIGTERM), as `codexd stop` would.
    ///
    /// The runtime is driven for a moment first: a dropped client's connection
    /// is closed by a task on it, and a connection left open would make the
    /// daemon wait out its shutdown grace period.
    pub fn stop(mut self, rt: &Runtime) -> anyhow::Result<()> {
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(5)).await });
        self.guard.terminate(Duration::from_secs(10))
    }
}

/// A client on `home`'s socket.
pub fn client(rt: &Runtime, home: &Home) -> anyhow::Result<Client> {
    rt.block_on(connect(&home.socket()))
        .context("cannot connect to the daemon under test")
}

/// Starts a job through gRPC; returns its id.
pub fn start_job(
    rt: &Runtime,
    client: &mut Client,
    home: &Home,
    prompt: &str,
) -> anyhow::Result<String> {
    let request = StartRequest {
        prompt: prompt.to_string(),
        cwd: home.work.display().to_string(),
        ..StartRequest::default()
    };
    let response = rt
        .block_on(client.start(request))
        .context("Start failed")?
        .into_inner();
    let job = response.job.context("Start answered without a job")?;
    Ok(job.job_id)
}

/// Waits (polling Get) until the job has ended; returns its final status.
pub fn wait_done(
    rt: &Runtime,
    client: &mut Client,
    job_id: &str,
    timeout: Duration,
) -> anyhow::Result<JobStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        let request = GetRequest {
            job_id: job_id.to_string(),
            tail_lines: Some(0),
            since: None,
        };
        let job = rt
            .block_on(client.get(request))
            .context("Get failed")?
            .into_inner()
            .job
            .context("Get answered without a job")?;
        let status = job.status();
        if matches!(
            status,
            JobStatus::Done | JobStatus::Error | JobStatus::Cancelled
        ) {
            return Ok(status);
        }
        if Instant::now() > deadline {
            bail!("job {job_id} still {status:?} after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Writes an executable shell script `name` into `dir` and returns its path:
/// a codex stand-in that ignores codex's arguments.
pub fn write_script(dir: &Path, name: &str, body: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    fs::write(&tmp, format!("#!/bin/sh\n{body}"))
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))?;
    // Renamed into place so no one executes it while it is open for writing (ETXTBSY).
    fs::rename(&tmp, &path)?;
    Ok(path)
}
