//! The commands for people, as a person meets them (issue 12): `codexd logs
//! -f` rides through a daemon restart and its exit status says how the job
//! ended; `codexd stop` does not wait for a follower; an unknown job id
//! points at `codexd jobs` (the model keeps reading `codex_list`); `codexd
//! jobs` lines up wide characters; `codexd logs` after the output cap dropped
//! the head shows a note, not a cut-off JSON line.

use std::{
    io::Read,
    process::{ExitStatus, Output, Stdio},
    sync::{Arc, Mutex},
};

use codex_async_proto::{
    v1::{CancelRequest, GetRequest, JobStatus},
    Client,
};
use testkit::{bin, poll_for, wait_until, Daemon, ProcessGuard, TempHome};
use unicode_width::UnicodeWidthStr;

fn codexd(home: &TempHome, args: &[&str]) -> Output {
    home.run_codexd(args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn start(client: &mut Client, home: &TempHome, prompt: &str) -> String {
    client
        .start(home.start_request(prompt))
        .await
        .expect("start")
        .into_inner()
        .job
        .expect("job")
        .job_id
}

async fn wait_for_status(client: &Client, id: &str, want: JobStatus) {
    poll_for(&format!("job {id} to be {want}"), || {
        let mut client = client.clone();
        let id = id.to_string();
        async move {
            let job = client
                .get(GetRequest {
                    job_id: id,
                    tail_lines: Some(0),
                    since: None,
                })
                .await
                .ok()?
                .into_inner()
                .job?;
            (job.status() == want).then_some(())
        }
    })
    .await
}

/// A `codexd logs -f <id>` running as a child, its output collected as it comes.
struct Follower {
    guard: ProcessGuard,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
}

impl Follower {
    fn spawn(home: &TempHome, id: &str) -> Self {
        let child = home
            .codexd()
            .args(["logs", "-f", id])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn codexd logs -f");
        let mut guard = ProcessGuard::new(child);
        let collect = |mut pipe: Box<dyn Read + Send>| {
            let buf = Arc::new(Mutex::new(Vec::new()));
            let sink = buf.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .expect("output lock")
                        .extend_from_slice(&chunk[..n]);
                }
            });
            buf
        };
        let out = collect(Box::new(guard.child().stdout.take().expect("stdout")));
        let err = collect(Box::new(guard.child().stderr.take().expect("stderr")));
        Self { guard, out, err }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().expect("output lock")).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().expect("output lock")).into_owned()
    }

    fn running(&mut self) -> bool {
        matches!(self.guard.child().try_wait(), Ok(None))
    }

    /// Waits for it to exit; its pipes are read to their end as well.
    fn wait(&mut self) -> ExitStatus {
        let mut status = None;
        wait_until("codexd logs -f to exit", || {
            status = self.guard.child().try_wait().ok().flatten();
            status.is_some()
        });
        let status = status.expect("exit status");
        // The reader threads see EOF once the process is gone.
        wait_until("the follower's pipes to be read", || {
            Arc::strong_count(&self.out) == 1 && Arc::strong_count(&self.err) == 1
        });
        status
    }
}

// Multi-threaded: the test's own client must answer the stopping daemon's
// GOAWAY while the test blocks on `codexd stop`, or the daemon waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_rides_through_a_restart_and_stop_does_not_wait_for_it() {
    let home = TempHome::new();
    let up = codexd(&home, &["start"]);
    assert!(up.status.success(), "{up:?}");
    let mut client = codex_async_proto::connect(&home.paths().socket)
        .await
        .expect("connect");
    let go = home.root().join("go");
    let id = start(
        &mut client,
        &home,
        &format!(
            "print:before-restart;waitfile:{};print:after-restart;msg:all done",
            go.display()
        ),
    )
    .await;
    drop(client);
    let mut follower = Follower::spawn(&home, &id);
    wait_until("the follower to print the first event", || {
        follower.stdout().contains("before-restart")
    });

    // stop returns while the follower is attached and the job waits for `go`:
    // its Watch stream ended at once, so no grace period was needed.
    let stopped = codexd(&home, &["stop"]);
    assert!(stopped.status.success(), "{stopped:?}");
    assert!(
        stdout(&stopped).starts_with("codexd stopped (pid "),
        "{}",
        stdout(&stopped)
    );
    let log = std::fs::read_to_string(home.paths().daemon_log()).expect("codexd.log");
    assert!(
        !log.contains("closing connections still open"),
        "the stop waited for a connection:\n{log}"
    );
    assert!(follower.running(), "logs -f ended with the daemon");
    wait_until("the follower to say it reconnects", || {
        follower.stderr().contains("reconnecting")
    });

    let up = codexd(&home, &["start"]);
    assert!(up.status.success(), "{up:?}");
    std::fs::write(&go, "").expect("let the job finish");
    let status = follower.wait();
    let (out, err) = (follower.stdout(), follower.stderr());
    assert_eq!(status.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        err,
        format!(
            "codexd: codexd went away (restarting?); reconnecting for up to 30s (the job runs on)…\n\
             codexd: job {id} ended done (exit 0)\n"
        )
    );
    // Every event exactly once, before and after the restart: what the
    // follower printed is what `codexd logs` prints of the finished job.
    let whole = codexd(&home, &["logs", &id]);
    assert!(whole.status.success(), "{whole:?}");
    assert_eq!(out, stdout(&whole));
    for event in [
        "[fake.print] {\"text\":\"before-restart\"}\n",
        "[fake.print] {\"text\":\"after-restart\"}\n",
        "message: all done\n",
    ] {
        assert_eq!(out.matches(event).count(), 1, "{event:?} in:\n{out}");
    }
    let down = codexd(&home, &["stop"]);
    assert!(down.status.success(), "{down:?}");
}

#[tokio::test]
async fn logs_follow_exits_non_zero_unless_the_job_ended_done() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let done = start(&mut client, &home, "msg:fine").await;
    let failed = start(&mut client, &home, "print:oops;exit:3").await;
    wait_for_status(&client, &done, JobStatus::Done).await;
    wait_for_status(&client, &failed, JobStatus::Error).await;

    let out = codexd(&home, &["logs", "-f", &done]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        stderr(&out),
        format!("codexd: job {done} ended done (exit 0)\n")
    );
    let out = codexd(&home, &["logs", "-f", &failed]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).starts_with(&format!("codexd: job {failed} ended error")),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("oops"), "{}", stdout(&out));
    // Without -f the output is printed and that is success, however the job ended.
    let out = codexd(&home, &["logs", &failed]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // A follower attached while the job is cancelled.
    let hanging = start(&mut client, &home, "print:waiting;hang").await;
    wait_for_status(&client, &hanging, JobStatus::Running).await;
    let mut follower = Follower::spawn(&home, &hanging);
    wait_until("the follower to print", || {
        follower.stdout().contains("waiting")
    });
    client
        .cancel(CancelRequest {
            job_id: hanging.clone(),
        })
        .await
        .expect("cancel");
    let status = follower.wait();
    assert_eq!(status.code(), Some(1), "{}", follower.stderr());
    assert!(
        follower
            .stderr()
            .starts_with(&format!("codexd: job {hanging} ended cancelled")),
        "{}",
        follower.stderr()
    );
    // The exit codes are documented where people look.
    let help = codexd(&home, &["logs", "--help"]);
    let help = stdout(&help);
    assert!(
        help.contains("0  the output was printed; with -f, the job ended done")
            && help.contains("1  with -f, the job ended in error or was cancelled"),
        "{help}"
    );
}

#[tokio::test]
async fn an_unknown_job_id_points_people_at_codexd_jobs_and_the_model_at_codex_list() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let unknown = "0123456789ab";
    for args in [
        &["show", unknown][..],
        &["cancel", unknown],
        &["logs", unknown],
        &["logs", "-f", unknown],
    ] {
        let out = codexd(&home, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert_eq!(
            stderr(&out),
            "codexd: no job 0123456789ab; list existing jobs with `codexd jobs` \
             (finished jobs are kept until pruned)\n",
            "{args:?}"
        );
    }
    for args in [
        &["show", "xyz"][..],
        &["cancel", "XYZ"],
        &["logs", "-f", "1234"],
    ] {
        let out = codexd(&home, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert_eq!(
            stderr(&out),
            format!(
                "codexd: {:?} is not a job id; job ids are 12 lowercase hex characters \
                 (list them with `codexd jobs`)\n",
                args[args.len() - 1]
            ),
            "{args:?}"
        );
    }

    // The daemon's own answer, which the shim hands to the model, is unchanged.
    let model_text = "job_id: no job 0123456789ab; list existing jobs with codex_list \
                      (finished jobs are kept until pruned)";
    let answer = daemon
        .client()
        .await
        .get(GetRequest {
            job_id: unknown.into(),
            tail_lines: None,
            since: None,
        })
        .await
        .expect_err("an unknown job");
    assert_eq!(answer.code(), tonic::Code::NotFound);
    assert_eq!(answer.message(), model_text);
    let text = shim_call(
        &home,
        "codex_result",
        serde_json::json!({"job_id": unknown}),
    );
    assert_eq!(text, model_text);
}

/// The text of one tool call's result through a real shim on `home`.
fn shim_call(home: &TempHome, tool: &str, arguments: serde_json::Value) -> String {
    use std::io::{BufRead, Write};
    let mut shim = ProcessGuard::new(
        std::process::Command::new(bin("codex-async-shim"))
            .envs(home.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the shim"),
    );
    let mut stdin = shim.child().stdin.take().expect("shim stdin");
    let mut lines =
        std::io::BufReader::new(shim.child().stdout.take().expect("shim stdout")).lines();
    let mut send = |message: serde_json::Value| {
        writeln!(stdin, "{message}").expect("write to the shim");
        stdin.flush().expect("flush");
    };
    let mut answer = |id: u64| loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the shim closed before answering {id}"))
            .expect("read the shim");
        let value: serde_json::Value = serde_json::from_str(&line).expect("JSON-RPC line");
        if value["id"] == id {
            return value;
        }
    };
    send(
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "people_cli", "version": "0"}}}),
    );
    assert!(answer(1).get("result").is_some());
    send(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}}),
    );
    let result = answer(2);
    assert_eq!(result["result"]["isError"], true, "{result}");
    result["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {result}"))
        .to_string()
}

#[tokio::test]
async fn jobs_lines_up_columns_after_wide_characters() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let wide_dir = home.workdir().join("作業フォルダ");
    std::fs::create_dir_all(&wide_dir).expect("a folder with a CJK name");
    let prompts = [
        "テストが失敗する理由を調べて、直してから全部のテストを実行してください",
        "🚀 launch the rocket 🚀",
        "msg:plain ascii",
    ];
    let mut ids = Vec::new();
    for (i, prompt) in prompts.iter().enumerate() {
        let mut request = home.start_request(prompt);
        if i == 0 {
            request.cwd = wide_dir.display().to_string();
        }
        ids.push(
            client
                .start(request)
                .await
                .expect("start")
                .into_inner()
                .job
                .expect("job")
                .job_id,
        );
    }
    for id in &ids {
        wait_for_status(&client, id, JobStatus::Done).await;
    }

    let out = codexd(&home, &["jobs"]);
    assert!(out.status.success(), "{out:?}");
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    let header = lines[0];
    let column = |name: &str| {
        let at = header
            .find(name)
            .unwrap_or_else(|| panic!("{name} in {header}"));
        header[..at].width()
    };
    let (cwd_column, prompt_column) = (column("CWD"), column("PROMPT"));
    for line in &lines[1..] {
        // The cwd is the first cell with a `/` or `…`; the prompt follows it.
        let cwd = line
            .find(['/', '…'])
            .unwrap_or_else(|| panic!("no cwd in {line:?}"));
        let cwd_end = cwd + line[cwd..].find(' ').expect("cells are apart");
        let prompt = cwd_end + (line[cwd_end..].len() - line[cwd_end..].trim_start().len());
        assert_eq!(
            line[..cwd].width(),
            cwd_column,
            "cwd column of {line:?} in\n{table}"
        );
        assert_eq!(
            line[..prompt].width(),
            prompt_column,
            "prompt column of {line:?} in\n{table}"
        );
        assert!(line[prompt..].width() <= 48, "{line:?}");
    }
    // Newest first: the plain job, the emoji, then the CJK prompt in its
    // CJK folder, clipped with an ellipsis, never half a character.
    assert!(lines[2].contains("🚀 launch the rocket 🚀"), "{table}");
    assert!(lines[3].contains("作業フォルダ"), "{table}");
    assert!(
        lines[3].ends_with('…') && lines[3].contains("テストが失敗する理由を"),
        "{table}"
    );
}

#[tokio::test]
async fn logs_after_the_cap_dropped_the_head_shows_a_note_not_a_fragment() {
    let home = TempHome::new();
    let cap: u64 = 64 * 1024;
    let daemon =
        Daemon::start_with(&home, &[("CODEX_ASYNC_OUTPUT_CAP_BYTES", cap.to_string())]).await;
    let mut client = daemon.client().await;
    let go = home.root().join("go");
    // One JSON line of 400 kB (a command's output), which the cap cuts in
    // the middle, then short events once the cut is made.
    let id = start(
        &mut client,
        &home,
        &format!("cmdout:400000=0;waitfile:{};print:the-end", go.display()),
    )
    .await;
    let output = home.paths().jobs().join(&id).join("output.txt");
    wait_until("the cap to drop the head", || {
        std::fs::read(&output).is_ok_and(|d| d.starts_with(b"[codex-async: "))
    });
    std::fs::write(&go, "").expect("let the job finish");
    wait_for_status(&client, &id, JobStatus::Done).await;

    let data = std::fs::read(&output).expect("output.txt");
    let text = String::from_utf8_lossy(&data);
    let dropped: u64 = text["[codex-async: ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("the count in the marker");
    let after_marker = text.lines().nth(1).expect("a line after the marker");
    assert!(
        // The monitor writes the command's output last on its line.
        after_marker.ends_with(r#"0049999\n"}}"#),
        "the cap cut the command's line: {}",
        &after_marker[after_marker.len().saturating_sub(80)..]
    );
    let want = format!(
        "note: {dropped} bytes of earlier output were dropped (the output cap keeps the last {cap} bytes)\n\
         [fake.print] {{\"text\":\"the-end\"}}\n\
         turn done: 10 tokens in (0 cached), 1 out\n"
    );
    let out = codexd(&home, &["logs", &id]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), want);
    let out = codexd(&home, &["logs", "-f", &id]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out), want);
    // --raw stays as written.
    let raw = codexd(&home, &["logs", "--raw", &id]);
    assert_eq!(raw.stdout, data);
    // codex_poll's events from the start say the same.
    let poll = client
        .get(GetRequest {
            job_id: id.clone(),
            tail_lines: Some(0),
            since: Some(0),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(poll.events, want);
}
