//! The monitor's reader of an agent whose output is translated line by line
//! (engine::Stream, e.g. Gemini CLI's stream-json): each line goes through
//! the engine's translator and what it becomes is appended to output.txt, so
//! the summary, the renderings, the stall watchdog and the output cap see
//! codexd's events as for any other job.

use std::{
    fs::{File, OpenOptions},
    io::{self, Write},
    os::fd::OwnedFd,
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::unix::pipe,
    task::JoinHandle,
};

use crate::{
    engine::{Stream, Translate},
    store::jobdir::JobDir,
};

/// Reads the agent's stdout until it closes.
pub struct Pump {
    stream: Stream,
    task: JoinHandle<Pumped>,
}

/// What the pump learnt once the output ended.
pub struct Pumped {
    /// The run's failure as the agent reported it (with exit 0).
    pub failure: Option<String>,
    translator: Box<dyn Translate + Send>,
}

impl Pumped {
    /// What the agent's exit code `code` means, if its engine knows.
    pub fn explained(&self, code: i32) -> Option<String> {
        self.translator.explain_exit(code)
    }
}

impl Pump {
    pub fn start(dir: &JobDir, stream: Stream, stdout: OwnedFd) -> io::Result<Self> {
        let output = OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.output())?;
        let reader = pipe::Receiver::from_owned_fd(stdout)?;
        let task = tokio::spawn(pump(reader, output, stream.translator()));
        Ok(Self { stream, task })
    }

    /// Waits (at most `grace`, for what the agent's children may still hold
    /// open) for the output's end.
    pub async fn finish(self, grace: Duration) -> Pumped {
        let abort = self.task.abort_handle();
        match tokio::time::timeout(grace, self.task).await {
            Ok(Ok(pumped)) => pumped,
            _ => {
                abort.abort();
                Pumped {
                    failure: None,
                    translator: self.stream.translator(),
                }
            }
        }
    }
}

async fn pump(
    reader: pipe::Receiver,
    mut output: File,
    mut translator: Box<dyn Translate + Send>,
) -> Pumped {
    let mut lines = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let events = translator.line(text.trim_end_matches(['\n', '\r']));
                write(&mut output, &events);
            }
        }
    }
    let (events, failure) = translator.finish();
    write(&mut output, &events);
    Pumped {
        failure,
        translator,
    }
}

/// Appends event lines in one write. A failed write (a full disk) loses
/// those lines, never the job: the disk watch notes it in the result.
fn write(output: &mut File, events: &[String]) {
    if events.is_empty() {
        return;
    }
    let mut buf = String::new();
    for event in events {
        buf.push_str(event);
        buf.push('\n');
    }
    let _ = output.write_all(buf.as_bytes());
}
