//! Load faults (issue 20.8): a client flooding codexd with concurrent calls
//! on one connection must not make another client's calls fail or wait for
//! it, and `codexd logs` must stay quick on a giant line and exact in
//! `--raw`. Speed and memory figures are the bench's (figure 12); these
//! tests hold the behaviour, with bounds far above what the fixed code takes.

use std::{
    fs,
    io::Read,
    path::PathBuf,
    process::Stdio,
    sync::mpsc,
    time::{Duration, Instant},
};

use codex_async_proto::{v1::GetRequest, Client};
use testkit::{wait_for_end, Daemon, ProcessGuard, TempHome};
use tokio::task::JoinSet;

/// A finished job (the fake codex's `msg:x`): its id and its output file.
async fn finished_job(home: &TempHome, client: &Client) -> (String, PathBuf) {
    let job = testkit::start_job(client, home.start_request("msg:x")).await;
    wait_for_end(client, &job.job_id).await;
    let output = home.paths().jobs().join(&job.job_id).join("output.txt");
    (job.job_id, output)
}

/// Runs `codexd <args>` on `home` and returns its stdout, failing if it does
/// not finish within `limit` (it is killed by pid then, with the guard).
fn codexd_within(home: &TempHome, args: &[&str], limit: Duration) -> (Vec<u8>, Duration) {
    let begun = Instant::now();
    let child = home
        .codexd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn codexd");
    let mut guard = ProcessGuard::new(child);
    let mut stdout = guard.child().stdout.take().expect("stdout piped");
    let (done, read) = mpsc::channel();
    // The pipe ends when codexd exits: reading it to the end is the wait.
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let read = stdout.read_to_end(&mut bytes).map(|_| bytes);
        let _ = done.send(read);
    });
    let bytes = match read.recv_timeout(limit) {
        Ok(read) => read.expect("read codexd's stdout"),
        Err(_) => panic!("codexd {args:?} did not finish within {limit:?}"),
    };
    let status = guard.child().wait().expect("wait for codexd");
    let mut stderr = String::new();
    if let Some(mut err) = guard.child().stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert!(status.success(), "codexd {args:?}: {status}; {stderr}");
    (bytes, begun.elapsed())
}

#[tokio::test]
async fn logs_raw_prints_output_txt_byte_for_byte() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let (id, output) = finished_job(&home, &client).await;
    // NUL bytes, invalid UTF-8, a terminal escape, a lone CR, and no
    // newline at the end: everything --raw must not touch.
    let mut bytes = b"{\"type\":\"turn.started\"}\n".to_vec();
    bytes.extend_from_slice(b"nul:\0\0 end\n");
    bytes.extend_from_slice(b"bad utf-8: \xff\xfe\xc3\x28 \x80\n");
    bytes.extend_from_slice(b"\x1b[31mred\x1b[0m\r\n");
    bytes.extend((0u8..=255).cycle().take(70_000));
    bytes.extend_from_slice(b"\0 last, no newline \xe2\x82");
    fs::write(&output, &bytes).expect("rewrite output.txt");

    let (stdout, _) = codexd_within(&home, &["logs", &id, "--raw"], Duration::from_secs(30));
    assert!(
        stdout == bytes,
        "stdout ({} bytes) differs from output.txt ({} bytes) first at byte {:?}",
        stdout.len(),
        bytes.len(),
        stdout.iter().zip(&bytes).position(|(a, b)| a != b)
    );
}

#[tokio::test]
async fn logs_shows_a_giant_line_by_its_start_and_end() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let client = daemon.client().await;
    let (id, output) = finished_job(&home, &client).await;
    // An event, then one line of 100 MiB of text with no newline after it.
    let len = 100 << 20;
    let mut bytes = Vec::with_capacity(len + 100);
    bytes.extend_from_slice(
        b"{\"type\":\"item.completed\",\"item\":{\"id\":\"m\",\"type\":\"agent_message\",\"text\":\"before\"}}\n",
    );
    let giant_from = bytes.len();
    bytes.extend_from_slice(b"GIANT-START ");
    bytes.resize(giant_from + len - b" GIANT-END".len(), b'y');
    bytes.extend_from_slice(b" GIANT-END");
    fs::write(&output, &bytes).expect("rewrite output.txt");
    drop(bytes);

    // The code before this fix took 116 s (each chunk rescanned the line so
    // far); the bound is far above what a rendering of head and tail takes.
    let (stdout, took) = codexd_within(&home, &["logs", &id], Duration::from_secs(30));
    let shown = String::from_utf8_lossy(&stdout);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 2, "{shown}");
    assert_eq!(lines[0], "message: before");
    let giant = lines[1];
    assert!(giant.starts_with("GIANT-START yyy"), "{giant}");
    assert!(giant.ends_with("yyy GIANT-END"), "{giant}");
    assert!(
        giant.contains(&format!(
            "[a {len}-byte line: only its start and end are shown]"
        )),
        "{giant}"
    );
    assert!(giant.len() < 2000, "{} bytes shown", giant.len());
    eprintln!("codexd logs on a {len}-byte line took {took:?}");
}

/// Gets the flooding client has in flight at once, on one connection.
const FLOOD: usize = 3000;
/// The other client's calls during the flood, one after the other.
const POLLS: usize = 20;
/// Far above what one poll takes beside the flood (milliseconds in release,
/// figure 12; under half a second in a debug build). The code before the
/// per-connection bound queued the other client's poll behind the whole
/// flood: up to 8 s in a debug build here, so this holds the behaviour (no
/// failure, no starvation) rather than catching every regression in time.
const POLL_LIMIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_flooding_connection_does_not_starve_another_client() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let setup = daemon.client().await;
    let (flooded, output) = finished_job(&home, &setup).await;
    // 1 MiB of events: each flooding Get reads the tail and renders events.
    let line = "{\"type\":\"item.completed\",\"item\":{\"id\":\"c\",\"type\":\"command_execution\",\"command\":\"ls\",\"exit_code\":0}}\n";
    fs::write(&output, line.repeat((1 << 20) / line.len())).expect("rewrite output.txt");
    let (polled, _) = finished_job(&home, &setup).await;

    // Two connections: the flood's, and the other client's.
    let flooder = daemon.client().await;
    let mut other = daemon.client().await;
    let get = |id: &str, tail_lines| GetRequest {
        job_id: id.to_string(),
        tail_lines,
        since: None,
    };
    // Each connection is open (settings exchanged) before the flood.
    flooder
        .clone()
        .get(get(&flooded, Some(0)))
        .await
        .expect("first Get");
    other
        .get(get(&polled, None))
        .await
        .expect("first Get of the other client");

    let mut flood = JoinSet::new();
    for _ in 0..FLOOD {
        let (mut client, request) = (flooder.clone(), get(&flooded, Some(100)));
        flood.spawn(async move { client.get(request).await.map(|_| ()) });
    }
    let mut slowest = Duration::ZERO;
    for i in 0..POLLS {
        let begun = Instant::now();
        let answer = tokio::time::timeout(POLL_LIMIT, other.get(get(&polled, None)))
            .await
            .unwrap_or_else(|_| panic!("poll {i} of the other client took over {POLL_LIMIT:?}"));
        let job = answer
            .unwrap_or_else(|e| panic!("poll {i} of the other client failed: {e}"))
            .into_inner()
            .job
            .expect("job");
        assert_eq!(job.job_id, polled);
        slowest = slowest.max(begun.elapsed());
    }
    let mut failed = Vec::new();
    while let Some(done) = flood.join_next().await {
        if let Err(e) = done.expect("flood task") {
            failed.push(e);
        }
    }
    // The flood is slowed down, not refused: every one of its calls is answered.
    assert!(
        failed.is_empty(),
        "{} of the flood's {FLOOD} Gets failed, the first: {}",
        failed.len(),
        failed[0]
    );
    eprintln!("the other client's slowest poll during the flood: {slowest:?}");
}
