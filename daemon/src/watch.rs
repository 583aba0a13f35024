//! The Watch stream: a job's output as it grows and its status changes, until
//! it ends. Output is read from where the last read stopped; growth is noticed
//! by a short poll (portable, and cheap: one stat per tick), status changes by
//! the supervisor's broadcast.

use std::{
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::Path,
    time::Duration,
};

use tokio::sync::mpsc;
use tonic::Status;

use crate::{
    job::JobId,
    service::{job_event, output_event},
    supervisor::Supervisor,
};
use codex_async_proto::v1::WatchEvent;

const CHUNK: usize = 64 * 1024;
const TICK: Duration = Duration::from_millis(100);

/// Streams job `id` into `tx` from byte `offset` until the job ends or the
/// client goes away.
pub async fn run(
    supervisor: Supervisor,
    id: JobId,
    mut offset: u64,
    tx: mpsc::Sender<Result<WatchEvent, Status>>,
) {
    let mut changes = supervisor.subscribe();
    let output = supervisor.job_dir(&id).output();
    let mut last_status = None;
    loop {
        // Status first: if the job has ended, the output below is complete.
        let job = match supervisor.load(&id).await {
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
