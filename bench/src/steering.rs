//! Figure 13: a steering's round trip, Steer → codex has it (the monitor sent
//! `turn/steer` and codex's app-server answered), on one running job of the
//! python fake codex (which answers `turn/steer` as codex does), one Steer
//! every 50 ms straight to codexd. With the real codex the app-server's own
//! answer took ~10 ms (FIELD-NOTES); the model reads the text at its next
//! request, after a running command ends (daemon/tests/steer.rs holds that).
//!
//! Figure 13b: Steer → codex's next model request carries it, with the real
//! codex (`$CODEX_ASYNC_REAL_CODEX`, else `codex` on PATH) against a fake
//! Responses provider in this process. Each round the model has codex run
//! `cat` on a FIFO, which blocks until the bench closes its end; once `cat`
//! has it open (codex is in its command) the bench steers, closes the FIFO as
//! soon as the Steer is answered (the command ends), and times the Steer
//! call to the provider's receipt of the request whose input holds the text.
//! Every other round ends its command without a steering: the floor, what
//! codex takes anyway from a command's end to its next request.

use std::{
    ffi::CString,
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    os::unix::{ffi::OsStrExt, fs::OpenOptionsExt},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc, Arc,
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use codex_async_proto::v1::{GetRequest, SteerRequest};
use serde_json::json;

use crate::{
    daemon::{self, Daemon, Home},
    report::{Row, Unit},
    stats::{ms, summarize},
    Ctx,
};

/// Pause between two steerings.
const PACE: Duration = Duration::from_millis(50);
/// How long the fake codex may take to reach its waiting step.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

pub fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let home = Home::new(&ctx.root, "steer", &ctx.bins.fake_codex)?;
    let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
    let mut client = daemon::client(&ctx.rt, &home)?;
    let go = home.work.join("go");
    let prompt = format!("msg:ready;waitfile:{};msg:done", go.display());
    let id = daemon::start_job(&ctx.rt, &mut client, &home, &prompt)?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let got = ctx
            .rt
            .block_on(client.get(GetRequest {
                job_id: id.clone(),
                tail_lines: Some(0),
                since: None,
            }))
            .context("Get failed")?
            .into_inner();
        if got.events.contains("message: ready") {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the fake codex did not reach its waiting step: {}",
                got.events
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    let n = ctx.n(200, 10);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 3 {
        thread::sleep(PACE);
        let t = Instant::now();
        let said = ctx
            .rt
            .block_on(client.steer(SteerRequest {
                job_id: id.clone(),
                text: format!("steering {i}"),
            }))
            .context("Steer failed")?
            .into_inner()
            .message;
        let took = ms(t.elapsed());
        if !said.starts_with("codex has it") {
            bail!("steering {i} was not taken: {said}");
        }
        if i >= 3 {
            samples.push(took);
        }
    }
    fs::write(&go, "")?;
    daemon::wait_done(&ctx.rt, &mut client, &id, READY_TIMEOUT)?;
    daemon.stop(&ctx.rt)?;
    Ok(vec![Row::new(
        "13",
        "Steer → codex has it (the monitor sent turn/steer, codex answered), one running job",
        Unit::Ms,
        summarize(&samples),
    )
    .note(format!(
        "python fake codex; one Steer every {} ms, straight to codexd",
        PACE.as_millis()
    ))])
}

/// How long the real codex may take to reach its command, or to post its
/// next request once the command ended.
const REAL_CODEX_TIMEOUT: Duration = Duration::from_secs(60);

/// Figure 13b (see the module's doc).
pub fn run_next_request(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let id = "13b";
    let figure = "Steer → codex's next model request carries it (the real codex; \
                  its running command ends as the Steer is answered)";
    let Some(codex) = real_codex() else {
        // CI installs the real codex: there, not finding it is a failure.
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            bail!("no real codex: CODEX_ASYNC_REAL_CODEX is unset and no codex is on PATH");
        }
        return Ok(vec![Row::new(id, figure, Unit::Ms, summarize(&[])).note(
            "not measured: no real codex (set CODEX_ASYNC_REAL_CODEX or put codex on PATH)",
        )]);
    };
    // Every other round steers; the rounds between are the floor: codex's
    // own time from a command's end to its next request, with no steering.
    let warmup = 1;
    let rounds = warmup + 2 * ctx.n(30, 2);
    let base = ctx.root.sub("steer-next")?;
    let fifos = base.join("fifos");
    fs::create_dir_all(&fifos)?;
    let fifo = |k: usize| fifos.join(format!("go-{k}"));
    for k in 0..rounds {
        mkfifo(&fifo(k))?;
    }
    // Round k's request is answered with `cat` on FIFO k; the one after
    // the last round's ends the turn.
    let commands: Vec<String> = (0..rounds)
        .map(|k| format!("cat {}", fifo(k).display()))
        .collect();
    let provider = FakeResponses::start(commands)?;
    let codex_home = base.join("codex-home");
    fs::create_dir_all(&codex_home)?;
    fs::write(
        codex_home.join("config.toml"),
        format!(
            "model = \"gpt-5.5\"\nmodel_provider = \"fake\"\n\n[model_providers.fake]\n\
             name = \"fake\"\nbase_url = \"http://127.0.0.1:{}/v1\"\nwire_api = \"responses\"\n\
             request_max_retries = 0\nstream_max_retries = 0\n",
            provider.port
        ),
    )?;
    let home = Home::new(&ctx.root, "steer-next-home", &codex)?
        .with_env("CODEX_HOME", codex_home.display().to_string())
        // codex runs commands in login shells; a pyenv there must not wait
        // on a rehash lock.
        .with_env("PYENV_REHASH_TIMEOUT", "0");
    let (daemon, _) = Daemon::start(&ctx.bins, &home, &ctx.rt)?;
    let mut client = daemon::client(&ctx.rt, &home)?;
    let job = daemon::start_job(&ctx.rt, &mut client, &home, "run the commands")?;
    provider
        .next(REAL_CODEX_TIMEOUT)
        .context("codex posted no first request")?;
    let (mut samples, mut steer_calls, mut after_end) = (vec![], vec![], vec![]);
    let mut floor = vec![];
    for k in 0..rounds {
        // Open for writing succeeds once `cat` has the FIFO open: codex is
        // in its command, in its turn.
        let writer = open_writer(&fifo(k), REAL_CODEX_TIMEOUT)
            .with_context(|| format!("codex did not run round {k}'s command"))?;
        if k >= warmup && (k - warmup) % 2 == 1 {
            drop(writer);
            let ended = Instant::now();
            let (at, _) = provider
                .next(REAL_CODEX_TIMEOUT)
                .with_context(|| format!("codex posted no request after round {k}"))?;
            floor.push(ms(at.duration_since(ended)));
            continue;
        }
        let text = format!("steering {k}: use the v2 API");
        let t = Instant::now();
        let said = ctx
            .rt
            .block_on(client.steer(SteerRequest {
                job_id: job.clone(),
                text: text.clone(),
            }))
            .context("Steer failed")?
            .into_inner()
            .message;
        let answered = Instant::now();
        if !said.starts_with("codex has it") {
            bail!("steering {k} was not taken: {said}");
        }
        drop(writer); // `cat` reads end-of-file and exits
        let ended = Instant::now();
        let (at, body) = provider
            .next(REAL_CODEX_TIMEOUT)
            .with_context(|| format!("codex posted no request after round {k}"))?;
        if !body.contains(&text) {
            bail!("codex's next request after steering {k} does not carry it");
        }
        if k >= warmup {
            samples.push(ms(at.duration_since(t)));
            steer_calls.push(ms(answered - t));
            after_end.push(ms(at.duration_since(ended)));
        }
    }
    daemon::wait_done(&ctx.rt, &mut client, &job, REAL_CODEX_TIMEOUT)?;
    daemon.stop(&ctx.rt)?;
    let version = std::process::Command::new(&codex)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let (steer, after) = (summarize(&steer_calls), summarize(&after_end));
    let floor = summarize(&floor);
    Ok(vec![Row::new(id, figure, Unit::Ms, summarize(&samples))
        .floor(format!(
            "codex's own command end → next request, no steering: {} / {}",
            Unit::Ms.show(floor.median),
            Unit::Ms.show(floor.p99)
        ))
        .note(format!(
            "{version} against a fake Responses provider in the bench; of it, the Steer call {} \
         median, and the command's end (its FIFO closed) → the request {} median",
            Unit::Ms.show(steer.median),
            Unit::Ms.show(after.median),
        ))])
}

/// The real codex: `$CODEX_ASYNC_REAL_CODEX` (what CI and the tests use),
/// else `codex` on PATH.
fn real_codex() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CODEX_ASYNC_REAL_CODEX") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("codex"))
        .find(|p| p.is_file())
}

fn mkfifo(path: &Path) -> anyhow::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("mkfifo {}", path.display()));
    }
    Ok(())
}

/// Opens the FIFO at `path` for writing once a reader has it open (a
/// non-blocking open fails with ENXIO until then), checking every 1 ms.
fn open_writer(path: &Path, timeout: Duration) -> anyhow::Result<fs::File> {
    let deadline = Instant::now() + timeout;
    loop {
        match fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(file) => return Ok(file),
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
            Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
        }
        if Instant::now() > deadline {
            bail!("nothing opened {} within {timeout:?}", path.display());
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// A fake of the OpenAI Responses API on loopback (as testkit's, which the
/// bench does not depend on): the n-th `POST …/responses` is answered with a
/// call of codex's `exec_command` running `commands[n]`, and any later one
/// with a message that ends the turn. Each request's body is handed to the
/// bench with the moment it was read in full.
struct FakeResponses {
    port: u16,
    requests: mpsc::Receiver<(Instant, String)>,
    stop: Arc<AtomicBool>,
}

impl FakeResponses {
    fn start(commands: Vec<String>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("bind the fake provider")?;
        let port = listener.local_addr()?.port();
        let (tx, requests) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let posts = Arc::new(AtomicUsize::new(0));
        let commands = Arc::new(commands);
        {
            let stop = stop.clone();
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (tx, posts, commands) = (tx.clone(), posts.clone(), commands.clone());
                    thread::spawn(move || serve(conn, &commands, &posts, &tx));
                }
            });
        }
        Ok(Self {
            port,
            requests,
            stop,
        })
    }

    /// The next request codex posted: when it was read, and its body.
    fn next(&self, timeout: Duration) -> anyhow::Result<(Instant, String)> {
        self.requests
            .recv_timeout(timeout)
            .context("no request from codex")
    }
}

impl Drop for FakeResponses {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Serves the HTTP/1.1 requests of one connection.
fn serve(
    conn: TcpStream,
    commands: &[String],
    posts: &AtomicUsize,
    seen: &mpsc::Sender<(Instant, String)>,
) {
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut conn = conn;
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let at = Instant::now();
        if !(request_line.starts_with("POST ") && request_line.contains("/responses")) {
            if conn
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .is_err()
            {
                return;
            }
            continue;
        }
        let n = posts.fetch_add(1, Ordering::SeqCst);
        let _ = seen.send((at, String::from_utf8_lossy(&body).into_owned()));
        let item = match commands.get(n) {
            Some(cmd) => json!({
                "type": "function_call", "name": "exec_command", "call_id": format!("call_{n}"),
                "arguments": json!({"cmd": cmd}).to_string()
            }),
            None => json!({"type": "message", "role": "assistant", "id": "msg_1",
                           "content": [{"type": "output_text", "text": "done"}]}),
        };
        let usage = json!({"input_tokens": 10, "input_tokens_details": null,
                           "output_tokens": 5, "output_tokens_details": null, "total_tokens": 15});
        let payload: String = [
            (
                "response.created",
                json!({"type": "response.created", "response": {"id": "resp_1"}}),
            ),
            (
                "response.output_item.done",
                json!({"type": "response.output_item.done", "item": item}),
            ),
            (
                "response.completed",
                json!({"type": "response.completed",
                                           "response": {"id": "resp_1", "usage": usage}}),
            ),
        ]
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
            payload.len()
        );
        if conn.write_all(head.as_bytes()).is_err() || conn.write_all(payload.as_bytes()).is_err() {
            return;
        }
    }
}
