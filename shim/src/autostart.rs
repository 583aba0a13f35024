//! Starting codexd when the shim finds none: `codexd start`, then wait.
//!
//! Users register only the shim with Claude; the first tool call must work
//! without a separate step. `codexd start` detaches a daemon and exits once
//! its socket answers; if another shim started one at the same moment, the
//! daemon's lock file makes the loser exit 0, so shims need no coordination.

use std::{
    env,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{io::AsyncReadExt, process::Command, time::timeout};

/// Environment variable naming the codexd binary to start.
pub const CODEXD_ENV: &str = "CODEX_ASYNC_CODEXD";

/// How long `codexd start` may take before the shim gives up on it.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait for `codexd start`'s output after it exited.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// How much of `codexd start`'s output goes into an error message.
const MAX_REASON_CHARS: usize = 600;

/// The codexd binary: `$CODEX_ASYNC_CODEXD`, else the `codexd` installed next
/// to this shim (both come from the same release), else `codexd` on `PATH`.
pub fn locate_codexd() -> PathBuf {
    if let Some(path) = env::var_os(CODEXD_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    if let Some(beside) = env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("codexd")))
        .filter(|path| path.is_file())
    {
        return beside;
    }
    PathBuf::from("codexd")
}

/// Runs `<codexd> start` and waits for it to exit.
///
/// stdin is null and stdout/stderr are captured: the shim's stdout is the MCP
/// protocol, and a daemon holding it would corrupt it or keep it open. Returns
/// why the start failed, in a phrase for the tool error.
pub async fn start_daemon(codexd: &Path) -> Result<(), String> {
    let shown = codexd.display();
    tracing::info!("no codexd answered; running `{shown} start`");
    let mut child = Command::new(codexd)
        .arg("start")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run `{shown} start`: {e}"))?;

    // Read the pipes while waiting, so a chatty codexd can't block on a full pipe.
    let stdout = tokio::spawn(read_all(child.stdout.take()));
    let stderr = tokio::spawn(read_all(child.stderr.take()));

    let status = match timeout(START_TIMEOUT, child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(format!("waiting for `{shown} start` failed: {e}")),
        Err(_) => {
            let _ = child.start_kill();
            return Err(format!(
                "`{shown} start` did not finish within {} s",
                START_TIMEOUT.as_secs()
            ));
        }
    };
    // The detached daemon must not keep these pipes; if it does, don't wait for it.
    let stdout = collect(stdout).await;
    let stderr = collect(stderr).await;
    tracing::debug!(%status, %stdout, %stderr, "`{shown} start` exited");
    if status.success() {
        return Ok(());
    }
    let said = last_chars(if stderr.trim().is_empty() {
        &stdout
    } else {
        &stderr
    });
    Err(if said.is_empty() {
        format!("`{shown} start` failed with {status}")
    } else {
        format!("`{shown} start` failed with {status}: {said}")
    })
}

async fn read_all<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut buf).await;
    }
    buf
}

async fn collect(task: tokio::task::JoinHandle<Vec<u8>>) -> String {
    let abort = task.abort_handle();
    match timeout(OUTPUT_GRACE, task).await {
        Ok(Ok(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        _ => {
            abort.abort();
            String::new()
        }
    }
}

/// The end of a process's output, trimmed, on one line, at most [`MAX_REASON_CHARS`].
fn last_chars(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let count = one_line.chars().count();
    if count <= MAX_REASON_CHARS {
        one_line
    } else {
        let tail: String = one_line.chars().skip(count - MAX_REASON_CHARS).collect();
        format!("…{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_chars_keeps_the_end_on_one_line() {
        assert_eq!(last_chars("  a\n b \n"), "a b");
        let long = "x".repeat(MAX_REASON_CHARS + 10) + "END";
        let cut = last_chars(&long);
        assert!(cut.starts_with('…') && cut.ends_with("END"));
        assert_eq!(cut.chars().count(), MAX_REASON_CHARS + 1);
    }

    #[tokio::test]
    async fn a_failing_start_reports_status_and_output() {
        let err = start_daemon(Path::new("/bin/false")).await.unwrap_err();
        assert!(
            err.contains("/bin/false start` failed with exit status: 1"),
            "{err}"
        );
        let err = start_daemon(Path::new("/nonexistent/codexd"))
            .await
            .unwrap_err();
        assert!(
            err.contains("cannot run `/nonexistent/codexd start`"),
            "{err}"
        );
    }
}
