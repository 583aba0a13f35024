//! `codexd logs <id> [-f]`: a job's output (output.txt) through the Watch
//! stream, from the beginning; with `-f`, followed live until the job ends.
//! By default each of codex's `--json` events is shown as one readable line
//! (as `codex_poll` shows them); `--raw` prints output.txt byte for byte.

use std::process::ExitCode;

use codex_async_proto::{
    paths::Paths,
    v1::{watch_event::Event, GetRequest, WatchRequest},
};
use serde_json::json;

use crate::{
    cmd::{self, ui},
    events::{self, Event as CodexEvent},
};

/// Turns output bytes into readable lines, one per event; a line cut between
/// two chunks waits for its end.
#[derive(Default)]
struct Renderer {
    pending: Vec<u8>,
}

impl Renderer {
    fn push(&mut self, data: &[u8]) -> String {
        self.pending.extend_from_slice(data);
        let mut out = String::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            out.push_str(&render_line(&line[..line.len() - 1]));
        }
        out
    }

    fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        render_line(&rest)
    }
}

fn render_line(line: &[u8]) -> String {
    let event = CodexEvent::parse(line);
    let Some(text) = events::render(&event) else {
        return String::new();
    };
    let shown = if text.starts_with("error:") || text.starts_with("turn failed:") {
        ui::red(&text)
    } else if text.starts_with("message:") {
        ui::bold(&text)
    } else {
        text
    };
    format!("{shown}\n")
}

pub fn run(job_id: &str, follow: bool, raw: bool, json: bool) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
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
                .map_err(ui::rpc_error)?
                .into_inner();
            if now.output_bytes == 0 {
                if !json {
                    eprintln!("codexd: job {job_id} has no output yet (`codexd logs -f {job_id}` waits for it)");
                }
                return Ok(ExitCode::SUCCESS);
            }
            Some(now.output_bytes)
        };
        let mut stream = client
            .watch(WatchRequest {
                job_id: job_id.to_string(),
                from_offset: 0,
            })
            .await
            .map_err(ui::rpc_error)?
            .into_inner();
        let mut last_job = None;
        let mut renderer = Renderer::default();
        while let Some(event) = stream.message().await.map_err(ui::rpc_error)? {
            match event.event {
                Some(Event::Output(chunk)) => {
                    let end = chunk.offset + chunk.data.len() as u64;
                    if json {
                        let line = json!({"type": "output", "offset": chunk.offset,
                                          "data": String::from_utf8_lossy(&chunk.data)});
                        ui::emit(&format!("{line}\n"))?;
                    } else if raw {
                        ui::emit_bytes(&chunk.data)?;
                    } else {
                        ui::emit(&renderer.push(&chunk.data))?;
                    }
                    if until.is_some_and(|u| end >= u) {
                        break;
                    }
                }
                Some(Event::Job(job)) => {
                    if json && follow {
                        let line = json!({"type": "job", "job": ui::job_json(&job)});
                        ui::emit(&format!("{line}\n"))?;
                    }
                    last_job = Some(job);
                }
                None => {}
            }
        }
        if !raw && !json {
            ui::emit(&renderer.finish())?;
        }
        // The stream ends with the job: say how, on stderr so the output stays clean.
        if follow && !json {
            if let Some(job) = last_job {
                let status = ui::status_of(&job);
                if status.is_terminal() {
                    let how = match (job.exit_code, job.error.as_deref()) {
                        (_, Some(error)) => format!(": {error}"),
                        (Some(code), None) => format!(" (exit {code})"),
                        _ => String::new(),
                    };
                    eprintln!("codexd: job {} ended {status}{how}", job.job_id);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
