//! `codexd logs <id> [-f]`: a job's output (output.txt) through the Watch
//! stream, from the beginning; with `-f`, followed live until the job ends.
//! By default each of codex's `--json` events is shown as one readable line
//! (as `codex_poll` shows them); `--raw` prints output.txt byte for byte.
//!
//! A restart of codexd does not end a follow: the job runs on under its
//! monitor, so `logs` reconnects (as the shim does) and watches on from the
//! byte it got to, printing nothing twice. It never starts a daemon itself.

use std::{
    io::Write,
    process::ExitCode,
    time::{Duration, Instant},
};

use codex_async_proto::{
    connect,
    paths::Paths,
    v1::{watch_event::Event, GetRequest, Job, JobStatus, WatchRequest},
    Client,
};
use serde_json::json;
use tonic::Code;

use crate::{
    cmd::{self, ui},
    output::lines::{Line, Pending, SkimLimits, LONG_HEAD, LONG_TAIL},
    output::render::Viewer,
};

/// The exit statuses of `codexd logs`, for its `--help`.
pub const EXIT_STATUS: &str = "\
Exit status:
  0  the output was printed; with -f, the job ended done
  1  with -f, the job ended in error or was cancelled; or the command failed
     (an unknown job id, say)
  3  codexd is not running, or with -f it went away and did not come back
     within 30s (the job runs on: `codexd start`, then `codexd logs -f` again)";

/// How long `logs` waits for codexd to answer again once it went away (a
/// restart takes well under a second; a stop and a start by hand, seconds).
const RECONNECT_FOR: Duration = Duration::from_secs(30);
/// The pause before the first reconnect, doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// Longest wait for one connection (a daemon that accepts but hangs).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How much of a line `logs` holds: a line up to [`LIMITS`]`.whole` bytes
/// is rendered whole (as a poll renders it); a longer one from its head and
/// tail (lines.rs), so a giant line costs neither memory nor time to show.
const LIMITS: SkimLimits = SkimLimits {
    whole: 256 * 1024,
    head: LONG_HEAD,
    tail: LONG_TAIL,
    give_up: u64::MAX,
};

/// Turns output bytes into readable lines, one per event; a line cut between
/// two chunks waits for its end.
struct Renderer {
    /// The line still waiting for its newline.
    pending: Pending,
    viewer: Viewer,
}

impl Default for Renderer {
    fn default() -> Self {
        Self {
            pending: Pending::default(),
            viewer: Viewer::for_reading(),
        }
    }
}

impl Renderer {
    fn push(&mut self, data: &[u8]) -> String {
        let mut out = String::new();
        let mut rest = data;
        // Only the new bytes are looked at for a newline: a line spanning
        // many chunks is not scanned again with each one.
        while let Some(end) = memchr::memchr(b'\n', rest) {
            self.pending.push(&rest[..end], &LIMITS);
            let line = self.pending.line(&LIMITS);
            self.pending.clear();
            out.push_str(&self.render_line(line));
            rest = &rest[end + 1..];
        }
        self.pending.push(rest, &LIMITS);
        out
    }

    fn finish(&mut self) -> String {
        if self.pending.is_empty() {
            return String::new();
        }
        let line = self.pending.line(&LIMITS);
        self.pending.clear();
        self.render_line(line)
    }

    fn render_line(&mut self, line: Line) -> String {
        let Some(text) = self.viewer.show(&line) else {
            return String::new();
        };
        let shown = if text.starts_with("error:") || text.starts_with("turn failed:") {
            ui::red(&text)
        } else if text.starts_with("message:") {
            ui::bold(&text)
        } else if text.starts_with("note:") {
            ui::dim(&text)
        } else {
            text
        };
        format!("{shown}\n")
    }
}

/// What one `logs` run has printed so far, kept across reconnections.
struct Follow<'a> {
    job_id: &'a str,
    follow: bool,
    raw: bool,
    json: bool,
    /// Without -f: stop at this output size (what there was when asked).
    until: Option<u64>,
    /// The output offset printed up to: where a reconnected Watch resumes.
    next: u64,
    renderer: Renderer,
    last_job: Option<Job>,
    /// Watch events received, over all connections.
    events: u64,
}

/// How one Watch stream ended.
enum Ended {
    /// The job ended, or the output asked for is printed.
    Done,
    /// The stream ended with the job still going: codexd went away.
    Lost(tonic::Status),
}

impl Follow<'_> {
    /// Prints one Watch stream; Err for an answer that reconnecting won't
    /// change (an unknown job) or output that cannot be written.
    async fn watch(&mut self, client: &mut Client) -> anyhow::Result<Ended> {
        let mut stream = match client
            .watch(WatchRequest {
                job_id: self.job_id.to_string(),
                from_offset: self.next,
            })
            .await
        {
            Ok(answer) => answer.into_inner(),
            Err(status) if connection_lost(&status) => return Ok(Ended::Lost(status)),
            Err(status) => return Err(ui::job_error(status)),
        };
        loop {
            let event = match stream.message().await {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(status) if connection_lost(&status) => return Ok(Ended::Lost(status)),
                Err(status) => return Err(ui::job_error(status)),
            };
            self.events += 1;
            match event.event {
                Some(Event::Output(chunk)) => {
                    self.output(chunk.offset, &chunk.data)?;
                    if self.until.is_some_and(|u| self.next >= u) {
                        return Ok(Ended::Done);
                    }
                }
                Some(Event::Job(job)) => {
                    let changed = self.last_job.as_ref().map(|j| j.status) != Some(job.status);
                    if self.json && self.follow && changed {
                        let line = json!({"type": "job", "job": ui::job_json(&job)});
                        ui::emit(&format!("{line}\n"))?;
                    }
                    self.last_job = Some(job);
                }
                None => {}
            }
        }
        // The stream ends with the job; ended any other way, codexd went away.
        if self.ended().is_some() || !self.follow {
            Ok(Ended::Done)
        } else {
            Ok(Ended::Lost(tonic::Status::unavailable(
                "the stream ended before the job",
            )))
        }
    }

    /// Prints the chunk of output at `offset`, minus what was printed already.
    fn output(&mut self, offset: u64, data: &[u8]) -> anyhow::Result<()> {
        let end = offset + data.len() as u64;
        if end <= self.next {
            return Ok(());
        }
        let skip = usize::try_from(self.next.saturating_sub(offset)).unwrap_or(data.len());
        let (offset, data) = (offset.max(self.next), &data[skip.min(data.len())..]);
        self.next = end;
        if self.json {
            let line = json!({"type": "output", "offset": offset,
                              "data": String::from_utf8_lossy(data)});
            ui::emit(&format!("{line}\n"))
        } else if self.raw {
            emit_raw(data)
        } else {
            ui::emit(&self.renderer.push(data))
        }
    }

    /// The status the job ended with, once it has.
    fn ended(&self) -> Option<JobStatus> {
        let status = ui::status_of(self.last_job.as_ref()?);
        status.is_terminal().then_some(status)
    }
}

/// Writes output bytes to stdout exactly as they are. Not through
/// [`ui::emit_bytes`]: its stream strips what it takes for terminal escapes
/// when colours are off, and with them NUL and other control bytes, which
/// `--raw` promises to keep.
fn emit_raw(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// True when the call failed because the connection to codexd is gone (it
/// stopped or restarted), as the shim's daemon_link judges it: `Unavailable`,
/// or a reset that hyper and h2 report as `Unknown`, `Internal` or
/// `Cancelled`. Watch changes nothing, so it is always safe to repeat.
fn connection_lost(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled
    )
}

/// Connects again within [`RECONNECT_FOR`] of `since`, pausing longer after
/// each failed try; None once that has passed.
async fn reconnect(paths: &Paths, since: Instant) -> Option<Client> {
    let mut pause = RETRY_FIRST;
    loop {
        if let Ok(Ok(client)) = tokio::time::timeout(CONNECT_TIMEOUT, connect(&paths.socket)).await
        {
            return Some(client);
        }
        if since.elapsed() >= RECONNECT_FOR {
            return None;
        }
        tokio::time::sleep(pause.min(RECONNECT_FOR.saturating_sub(since.elapsed()))).await;
        pause = (pause * 2).min(RETRY_MAX);
    }
}

pub fn run(job_id: &str, follow: bool, raw: bool, json: bool) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    ui::check_job_id(job_id)?;
    cmd::client_runtime()?.block_on(async {
        let Some(mut client) = ui::client(&paths).await else {
            return Ok(ui::not_running(&paths, json));
        };
        // Without -f, stop at the size the output has now: Watch itself would
        // keep going while the job runs.
        let until = if follow {
            None
        } else {
            let now = client
                .get(GetRequest {
                    job_id: job_id.to_string(),
                    tail_lines: Some(0),
                    since: None,
                })
                .await
                .map_err(ui::job_error)?
                .into_inner();
            if now.output_bytes == 0 {
                if !json {
                    eprintln!("codexd: job {job_id} has no output yet (`codexd logs -f {job_id}` waits for it)");
                }
                return Ok(ExitCode::SUCCESS);
            }
            Some(now.output_bytes)
        };
        let mut printed = Follow {
            job_id,
            follow,
            raw,
            json,
            until,
            next: 0,
            renderer: Renderer::default(),
            last_job: None,
            events: 0,
        };
        // Since when codexd has not answered, while it does not.
        let mut lost_since: Option<Instant> = None;
        loop {
            let before = printed.events;
            let lost = match printed.watch(&mut client).await? {
                Ended::Done => break,
                Ended::Lost(status) => status,
            };
            if printed.events > before {
                // That connection worked: a new outage gets its own 30 s.
                lost_since = None;
            }
            let since = match lost_since {
                Some(since) => since,
                None => {
                    eprintln!(
                        "codexd: codexd went away (restarting?); reconnecting for up to {}s \
                         (the job runs on)…",
                        RECONNECT_FOR.as_secs()
                    );
                    *lost_since.insert(Instant::now())
                }
            };
            match reconnect(&paths, since).await {
                Some(again) => client = again,
                None => {
                    if !raw && !json {
                        ui::emit(&printed.renderer.finish())?;
                    }
                    eprintln!(
                        "codexd: codexd did not come back within {}s ({}); job {job_id} runs on: \
                         `codexd start`, then `codexd logs -f {job_id}`",
                        RECONNECT_FOR.as_secs(),
                        lost.message()
                    );
                    return Ok(ExitCode::from(ui::NOT_RUNNING));
                }
            }
        }
        if !raw && !json {
            ui::emit(&printed.renderer.finish())?;
        }
        if !follow {
            return Ok(ExitCode::SUCCESS);
        }
        // The stream ends with the job: say how, on stderr so the output stays clean.
        let Some(job) = printed.last_job.as_ref().filter(|_| printed.ended().is_some()) else {
            return Ok(ExitCode::SUCCESS);
        };
        let status = ui::status_of(job);
        if !json {
            let how = match (job.exit_code, job.error.as_deref()) {
                // The watchdog's reason names how it ended (`stalled: …`).
                (_, Some(error)) if ui::watchdog_of(job).is_some() => error.to_string(),
                (_, Some(error)) => format!("{status}: {error}"),
                (Some(code), None) => format!("{status} (exit {code})"),
                _ => status.to_string(),
            };
            eprintln!("codexd: job {} ended {how}", job.job_id);
        }
        Ok(if status == JobStatus::Done {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `data` to a renderer in chunks of `chunk` bytes.
    fn rendered(data: &[u8], chunk: usize) -> String {
        let mut renderer = Renderer::default();
        let mut out: String = data.chunks(chunk).map(|c| renderer.push(c)).collect();
        out.push_str(&renderer.finish());
        out
    }

    #[test]
    fn lines_cut_between_chunks_are_rendered_once_whole() {
        let data = b"{\"type\":\"thread.started\",\"thread_id\":\"t1\"}\nplain text\nno newline";
        let want = "session t1\nplain text\nno newline\n";
        for chunk in [1, 2, 7, 64, data.len()] {
            assert_eq!(rendered(data, chunk), want, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_giant_line_is_held_as_its_head_and_tail() {
        let mut data = b"START ".to_vec();
        data.resize(3 << 20, b'z');
        data.extend_from_slice(b" END\nafter\n");
        let out = rendered(&data, 64 * 1024);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].starts_with("START zzz"), "{}", lines[0]);
        assert!(lines[0].ends_with("zzz END"), "{}", lines[0]);
        assert!(lines[0].contains(&format!(
            "[a {}-byte line: only its start and end are shown]",
            (3 << 20) + 4
        )));
        assert_eq!(lines[1], "after");
    }
}
