//! The Watch stream: a job's output as it grows and its status changes, until
//! it ends. Output is read from where the last read stopped; growth is noticed
//! by a short poll (portable, and cheap: one stat per tick), status changes by
//! the supervisor's broadcast.
//!
//! When the daemon stops, every stream ends at once with `Unavailable` (the
//! job runs on): a graceful stop waits for open streams, and a follower can
//! watch for hours. The follower reconnects to the next daemon from the
//! offset it got to (`codexd logs -f` does).

use std::{
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::Path,
    time::Duration,
};

use tokio::sync::{mpsc, watch as signal};
use tonic::Status;

use crate::{job::JobId, supervisor::Supervisor};
use codex_async_proto::v1::{watch_event, Job, OutputChunk, WatchEvent};

const CHUNK: usize = 64 * 1024;
const TICK: Duration = Duration::from_millis(100);

/// Streams job `id` into `tx` from byte `offset` until the job ends, the
/// client goes away, or `stopping` turns true (the daemon is stopping).
pub async fn run(
    supervisor: Supervisor,
    id: JobId,
    offset: u64,
    tx: mpsc::Sender<Result<WatchEvent, Status>>,
    mut stopping: signal::Receiver<bool>,
) {
    let stopped = tokio::select! {
        // Stopping first: a Watch that reaches a stopping daemon gets nothing
        // but the Unavailable that sends it to the next one.
        biased;
        () = until_stopping(&mut stopping) => true,
        () = stream(&supervisor, &id, offset, &tx) => false,
    };
    if stopped {
        // Not awaited for long: a client that reads nothing must not hold
        // the daemon up either.
        let _ = tx.try_send(Err(Status::unavailable(
            "codexd is stopping; the job runs on: reconnect to the next codexd \
             and watch again from the offset you got to",
        )));
    }
}

/// Returns once `stopping` is true; never if its sender is gone without it.
async fn until_stopping(stopping: &mut signal::Receiver<bool>) {
    if stopping.wait_for(|&s| s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn stream(
    supervisor: &Supervisor,
    id: &JobId,
    mut offset: u64,
    tx: &mpsc::Sender<Result<WatchEvent, Status>>,
) {
    let mut changes = supervisor.subscribe();
    let output = supervisor.job_dir(id).output();
    let mut last_status = None;
    loop {
        // Status first: if the job has ended, the output below is complete.
        let job = match supervisor.load(id).await {
            Ok(job) => job,
            Err(e) => {
                let _ = tx.send(Err(Status::internal(e.to_string()))).await;
                return;
            }
        };
        let ended = job.status.is_terminal();
        loop {
            let path = output.clone();
            let chunk = tokio::task::spawn_blocking(move || read_from(&path, offset)).await;
            let Ok(Ok(data)) = chunk else { break };
            if data.is_empty() {
                break;
            }
            let len = data.len() as u64;
            if tx.send(Ok(output_event(offset, data))).await.is_err() {
                return;
            }
            offset += len;
        }
        if last_status != Some(job.status) {
            last_status = Some(job.status);
            let proto = job.to_proto(output.display().to_string());
            if tx.send(Ok(job_event(proto))).await.is_err() {
                return;
            }
        }
        if ended {
            return;
        }
        tokio::select! {
            _ = changes.recv() => {}
            _ = tokio::time::sleep(TICK) => {}
            _ = tx.closed() => return,
        }
    }
}

fn read_from(path: &Path, offset: u64) -> std::io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(CHUNK);
    file.take(CHUNK as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Builds a watch event carrying the job.
pub fn job_event(job: Job) -> WatchEvent {
    WatchEvent {
        event: Some(watch_event::Event::Job(job)),
    }
}

/// Builds a watch event carrying output.
pub fn output_event(offset: u64, data: Vec<u8>) -> WatchEvent {
    WatchEvent {
        event: Some(watch_event::Event::Output(OutputChunk { offset, data })),
    }
}
