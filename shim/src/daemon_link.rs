//! The shim's link to codexd: connect lazily, keep the client, reconnect.
//!
//! Claude starts the shim with every session, often never calling a tool, so
//! nothing touches the daemon until the first tool call. That call connects
//! (starting codexd if none answers); later calls reuse the client. If a call
//! fails with `Unavailable` (codexd restarted, the connection dropped), the
//! client is dropped and the call is retried once on a fresh connection.
//!
//! Each new connection asks codexd its version once: when it differs from the
//! shim's, a warning goes to stderr and every error codexd gives (or a lost
//! connection to it) says so, since a daemon of another version may not
//! understand this shim.

use std::{future::Future, path::Path, time::Duration};

use codex_async_proto::{connect, paths::Paths, v1::InfoRequest, Client};
use tokio::{sync::Mutex, time::timeout};
use tonic::Code;

use crate::{autostart, tool_error::ToolError};

/// How long one gRPC call may take; every codexd call is meant to answer at once.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to keep trying the socket after `codexd start` succeeded.
const CONNECT_AFTER_START: Duration = Duration::from_secs(5);
/// Tries of one call while the connection to codexd is lost, and the pause
/// before each retry (times the try's number).
const ATTEMPTS: u32 = 4;
const RETRY_PAUSE: Duration = Duration::from_millis(20);
/// How long the version check of a new connection may take.
const INFO_TIMEOUT: Duration = Duration::from_secs(5);
/// This shim's version.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A lazily connected client of codexd.
pub struct DaemonLink {
    /// Where the daemon lives, or why that could not be worked out (reported
    /// by every tool call rather than refusing to start the MCP server).
    paths: Result<Paths, String>,
    /// The connected client; `None` until the first call and after a failure.
    /// Held across connect and autostart so one shim starts codexd once.
    client: Mutex<Option<Client>>,
    /// What to say about the connected codexd's version when it differs from
    /// the shim's (from the last connection made).
    version_note: std::sync::Mutex<Option<String>>,
}

impl DaemonLink {
    /// A link that will connect on first use.
    pub fn new(paths: Result<Paths, String>) -> Self {
        Self {
            paths,
            client: Mutex::new(None),
            version_note: std::sync::Mutex::new(None),
        }
    }

    /// Makes one gRPC call `call` (named `name` in errors), connecting first if
    /// needed and retrying on a fresh connection while the connection is lost
    /// (at most [`ATTEMPTS`] tries in all). More than one retry: a codexd that
    /// was just killed can still accept a connection for a moment (its other
    /// threads are still closing its descriptors) and reset it again.
    pub async fn call<T, F, Fut>(&self, name: &str, call: F) -> Result<T, ToolError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let paths = self.paths()?;
        let mut attempt = 1;
        loop {
            let client = self.client(paths).await?;
            match timeout(CALL_TIMEOUT, call(client)).await {
                Ok(Ok(response)) => return Ok(response.into_inner()),
                Ok(Err(status)) if connection_lost(&status, name) => {
                    self.forget().await;
                    if attempt == ATTEMPTS {
                        return Err(self.noted(ToolError::from_status(&status, name, paths)));
                    }
                    tracing::info!("codexd unavailable during {name} ({status}); reconnecting");
                    attempt += 1;
                    tokio::time::sleep(RETRY_PAUSE * attempt).await;
                }
                Ok(Err(status)) => {
                    return Err(self.noted(ToolError::from_status(&status, name, paths)))
                }
                Err(_) => return Err(self.noted(timed_out(name, paths))),
            }
        }
    }

    /// One Get of a job: its record, summary and (after `since`) events,
    /// with `tail_lines` of its raw output.
    pub async fn get(
        &self,
        job_id: String,
        since: Option<u64>,
        tail_lines: u32,
    ) -> Result<codex_async_proto::v1::GetResponse, ToolError> {
        let request = codex_async_proto::v1::GetRequest {
            job_id,
            tail_lines: Some(tail_lines),
            since,
        };
        self.call("Get", |mut client| {
            let request = request.clone();
            async move { client.get(request).await }
        })
        .await
    }

    fn paths(&self) -> Result<&Paths, ToolError> {
        self.paths.as_ref().map_err(|reason| {
            ToolError::new(format!(
                "codex-async cannot find its state folder: {reason}. Set CODEX_ASYNC_HOME \
                 to an absolute path in the MCP server's environment, then retry."
            ))
        })
    }

    /// `error`, with the version note when codexd is another version.
    fn noted(&self, error: ToolError) -> ToolError {
        let note = self
            .version_note
            .lock()
            .map(|n| n.clone())
            .unwrap_or_default();
        match note {
            Some(note) => error.with_note(&note),
            None => error,
        }
    }

    async fn forget(&self) {
        *self.client.lock().await = None;
    }

    /// The connected client, connecting (and starting codexd) if needed.
    async fn client(&self, paths: &Paths) -> Result<Client, ToolError> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let client = match connect(&paths.socket).await {
            Ok(client) => client,
            Err(error) => {
                tracing::info!("{error}");
                let codexd = autostart::locate_codexd();
                autostart::start_daemon(&codexd)
                    .await
                    .map_err(|reason| not_running(&reason, paths))?;
                connect_after_start(&paths.socket)
                    .await
                    .map_err(|reason| not_running(&reason, paths))?
            }
        };
        tracing::debug!("connected to codexd at {}", paths.socket.display());
        let note = check_version(&client).await;
        if let Some(note) = &note {
            tracing::warn!("{note}");
        }
        if let Ok(mut slot) = self.version_note.lock() {
            *slot = note;
        }
        *slot = Some(client.clone());
        Ok(client)
    }
}

/// Connects to a daemon that `codexd start` says is serving. `start` returns
/// once the socket answers, so the first try normally succeeds; the retries
/// cover a daemon that another shim is still starting.
async fn connect_after_start(socket: &Path) -> Result<Client, String> {
    let deadline = tokio::time::Instant::now() + CONNECT_AFTER_START;
    loop {
        match connect(socket).await {
            Ok(client) => return Ok(client),
            Err(error) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("`codexd start` succeeded, but then {error}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Asks a newly connected codexd its version: what to say when it is not
/// the shim's, else None (also when codexd does not answer in time: the
/// call itself will then say what is wrong).
async fn check_version(client: &Client) -> Option<String> {
    let mut client = client.clone();
    let info = timeout(INFO_TIMEOUT, client.info(InfoRequest {}))
        .await
        .ok()?
        .ok()?
        .into_inner();
    version_note(&info.version)
}

/// What to say when codexd `running` is not this shim's version.
pub fn version_note(running: &str) -> Option<String> {
    (running != VERSION).then(|| {
        format!(
            "codexd {running} is running, this shim is {VERSION}: restart codexd with \
             `codexd stop && codexd start` (running jobs keep running)"
        )
    })
}

/// True when the call failed because the connection to codexd is gone
/// (codexd restarted or was killed), not because of what was asked: then a
/// fresh connection is worth one retry. `Unavailable` means the call never
/// reached codexd. A connection that breaks mid-call surfaces as `Unknown`,
/// `Internal` or `Cancelled` depending on when hyper and h2 notice the reset
/// (the same race also reports an answer codexd never sent); codexd may have
/// acted on that call, so only calls that are safe to repeat are retried then
/// (never Start: it would run codex twice). The answers codexd gives on
/// purpose (bad input, no such job, wrong state) are none of these.
fn connection_lost(status: &tonic::Status, call: &str) -> bool {
    match status.code() {
        Code::Unavailable => true,
        Code::Unknown | Code::Internal | Code::Cancelled => call != "Start",
        _ => false,
    }
}

fn not_running(reason: &str, paths: &Paths) -> ToolError {
    ToolError::new(format!(
        "codexd is not running and could not be started ({reason}). Run `codexd start` in a \
         terminal, check {}, then retry.",
        paths.daemon_log().display()
    ))
}

fn timed_out(name: &str, paths: &Paths) -> ToolError {
    ToolError::new(format!(
        "codexd did not answer the {name} call within {} s. Check {} (restart it with \
         `codexd start` if it is stuck), then retry.",
        CALL_TIMEOUT.as_secs(),
        paths.daemon_log().display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_is_retried_except_for_a_start_that_may_have_run() {
        let reset = tonic::Status::unknown("transport error");
        let h2 = tonic::Status::internal("h2 protocol error: connection reset");
        let refused = tonic::Status::unavailable("error trying to connect");
        for status in [&reset, &h2, &tonic::Status::cancelled("")] {
            assert!(connection_lost(status, "Get"), "{status:?}");
            assert!(connection_lost(status, "List"), "{status:?}");
            assert!(!connection_lost(status, "Start"), "{status:?}");
        }
        assert!(connection_lost(&refused, "Start"), "never reached codexd");
        for answer in [
            tonic::Status::invalid_argument("job_id: …"),
            tonic::Status::not_found("no job"),
            tonic::Status::failed_precondition("still running"),
        ] {
            assert!(!connection_lost(&answer, "Get"), "{answer:?}");
        }
    }
}
