//! Every bad input is a tool error (isError, never a JSON-RPC error) that
//! names the field, and creates nothing.

mod common;

use std::fs;

use common::{serve_daemon, Shim, NO_AUTOSTART};
use serde_json::{json, Value};
use testkit::TempHome;

#[test]
fn bad_inputs_are_tool_errors_naming_the_field_and_create_no_job() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cwd = home.workdir().display().to_string();
    let missing = home.root().join("no-such-dir").display().to_string();
    let file = home.root().join("a-file");
    fs::write(&file, "not a directory").expect("write file");
    let file = file.display().to_string();

    let cases: Vec<(&str, Value, &str)> = vec![
        // codex_start: checked by the shim
        ("codex_start", json!({"cwd": cwd}), "prompt"),
        ("codex_start", json!({"prompt": "", "cwd": cwd}), "prompt"),
        (
            "codex_start",
            json!({"prompt": "   ", "cwd": cwd}),
            "prompt",
        ),
        ("codex_start", json!({"prompt": null, "cwd": cwd}), "prompt"),
        ("codex_start", json!({"prompt": 42, "cwd": cwd}), "prompt"),
        ("codex_start", json!({"prompt": "print:x"}), "cwd"),
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": ["/tmp"]}),
            "cwd",
        ),
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": cwd, "model": 5}),
            "model",
        ),
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": cwd, "approval_policy": true}),
            "approval_policy",
        ),
        // codex_start: checked by codexd, passed through
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": "work/dir"}),
            "cwd",
        ),
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": missing}),
            "cwd",
        ),
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": file}),
            "cwd",
        ),
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": cwd, "approval_policy": "yolo"}),
            "approval_policy",
        ),
        // codex_start: the new arguments
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": cwd, "isolation": 5}),
            "isolation",
        ),
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": cwd, "isolation": "bogus"}),
            "isolation",
        ),
        (
            // Not a git repository: codexd refuses, naming isolation.
            "codex_start",
            json!({"prompt": "print:x", "cwd": cwd, "isolation": "worktree"}),
            "isolation",
        ),
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": cwd, "stall_timeout_seconds": 0}),
            "stall_timeout_seconds",
        ),
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": cwd, "stall_timeout_seconds": "x"}),
            "stall_timeout_seconds",
        ),
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": cwd, "stall_timeout_seconds": -5}),
            "stall_timeout_seconds",
        ),
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": cwd, "max_duration_seconds": 0}),
            "max_duration_seconds",
        ),
        (
            "codex_start",
            json!({"prompt": "print:x", "cwd": cwd, "max_duration_seconds": 2.5}),
            "max_duration_seconds",
        ),
        // codex_poll
        ("codex_poll", json!({}), "job_id"),
        ("codex_poll", json!({"job_id": ""}), "job_id"),
        ("codex_poll", json!({"job_id": 7}), "job_id"),
        ("codex_poll", json!({"job_id": "../etc"}), "job_id"),
        ("codex_poll", json!({"job_id": "000000000000"}), "job_id"),
        (
            "codex_poll",
            json!({"job_id": "000000000000", "tail_lines": "abc"}),
            "tail_lines",
        ),
        (
            "codex_poll",
            json!({"job_id": "000000000000", "tail_lines": -1}),
            "tail_lines",
        ),
        (
            "codex_poll",
            json!({"job_id": "000000000000", "tail_lines": 1.5}),
            "tail_lines",
        ),
        (
            "codex_poll",
            json!({"job_id": "000000000000", "tail_lines": {}}),
            "tail_lines",
        ),
        (
            "codex_poll",
            json!({"job_id": "000000000000", "since": -1}),
            "since",
        ),
        (
            "codex_poll",
            json!({"job_id": "000000000000", "since": "x"}),
            "since",
        ),
        // codex_wait
        ("codex_wait", json!({}), "job_id"),
        ("codex_wait", json!({"job_id": 3}), "job_id"),
        ("codex_wait", json!({"job_id": "000000000000"}), "job_id"),
        (
            "codex_wait",
            json!({"job_id": "000000000000", "timeout_seconds": 0}),
            "timeout_seconds",
        ),
        (
            "codex_wait",
            json!({"job_id": "000000000000", "timeout_seconds": 51}),
            "timeout_seconds",
        ),
        (
            "codex_wait",
            json!({"job_id": "000000000000", "timeout_seconds": "x"}),
            "timeout_seconds",
        ),
        (
            "codex_wait",
            json!({"job_id": "000000000000", "since": -1}),
            "since",
        ),
        // codex_result
        ("codex_result", json!({}), "job_id"),
        ("codex_result", json!({"job_id": "../etc"}), "job_id"),
        ("codex_result", json!({"job_id": "000000000000"}), "job_id"),
        // codex_reply
        ("codex_reply", json!({"job_id": "000000000000"}), "prompt"),
        (
            "codex_reply",
            json!({"job_id": "000000000000", "prompt": ""}),
            "prompt",
        ),
        (
            "codex_reply",
            json!({"job_id": "000000000000", "prompt": 5}),
            "prompt",
        ),
        ("codex_reply", json!({"prompt": "print:x"}), "job_id"),
        (
            "codex_reply",
            json!({"job_id": "000000000000", "prompt": "print:x"}),
            "job_id",
        ),
        (
            "codex_reply",
            json!({"job_id": "000000000000", "prompt": "print:x", "approval_policy": 1}),
            "approval_policy",
        ),
        // codex_list
        ("codex_list", json!({"limit": "abc"}), "limit"),
        ("codex_list", json!({"limit": -5}), "limit"),
        ("codex_list", json!({"limit": 0}), "limit"),
        ("codex_list", json!({"status": "finished"}), "status"),
        ("codex_list", json!({"status": 3}), "status"),
        // codex_cancel
        ("codex_cancel", json!({}), "job_id"),
        ("codex_cancel", json!({"job_id": false}), "job_id"),
        ("codex_cancel", json!({"job_id": "../etc"}), "job_id"),
        ("codex_cancel", json!({"job_id": "000000000000"}), "job_id"),
    ];
    let mut failures = Vec::new();
    for (tool, args, field) in &cases {
        let result = shim.call(tool, args.clone());
        if !result.is_error || !result.text.contains(field) {
            failures.push(format!(
                "{tool}({args}): isError={} text={:?} (should name {field})",
                result.is_error, result.text
            ));
        }
    }
    assert!(failures.is_empty(), "bad inputs:\n{}", failures.join("\n"));

    // Why a wait is capped: clients time tool calls out.
    let result = shim.call(
        "codex_wait",
        json!({"job_id": "000000000000", "timeout_seconds": 51}),
    );
    assert!(result.text.contains("MCP clients"), "{}", result.text);

    // Arguments left out entirely are a missing field too.
    let message = shim.request("tools/call", json!({"name": "codex_start"}));
    let result = &message["result"];
    assert_eq!(result["isError"], true, "{message}");
    assert!(result["content"][0]["text"].to_string().contains("prompt"));

    // Nothing was created.
    let jobs = home.paths().jobs();
    let entries: Vec<_> = fs::read_dir(&jobs)
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(entries.is_empty(), "bad input created {entries:?}");
    let listed = shim.ok("codex_list", json!({}));
    assert_eq!(listed["jobs"], json!([]), "{listed}");
}

#[test]
fn lax_numbers_are_accepted_like_the_python_tool() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let listed = shim.ok("codex_list", json!({"limit": "5", "status": null}));
    assert_eq!(listed["jobs"], json!([]));
    let listed = shim.ok("codex_list", json!({"limit": 5.0}));
    assert_eq!(listed["jobs"], json!([]));
}

/// The JSON-RPC error that answers `id` (null: an id that could not be
/// read), which must be the first message after what was sent.
fn error_answer(shim: &mut Shim, id: &Value) -> (i64, String) {
    let (answer, before) = shim.response_after(id);
    assert!(before.is_empty(), "answered out of turn: {before:?}");
    let code = answer["error"]["code"].as_i64().unwrap_or(0);
    let message = answer["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(code != 0 && !message.is_empty(), "not an error: {answer}");
    (code, message)
}

/// The shim still answers after what it was sent.
fn still_serves(shim: &mut Shim) {
    let pong = shim.request("ping", json!({}));
    assert!(pong.get("result").is_some(), "{pong}");
}

#[test]
fn lines_that_are_not_json_rpc_are_answered_and_the_shim_goes_on() {
    let home = TempHome::new();
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cases: Vec<(&[u8], Value, i64, &str)> = vec![
        (
            br#"{"jsonrpc":"2.0","id":101,"method":"tools/call","params":{"name":"codex_list","arguments":{"status":"\ud800"}}}"#,
            json!(101),
            -32700,
            "Parse error: the message is not JSON",
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":\"bytes\",\"method\":\"ping\",\"params\":{\"x\":\"\xff\xfe\"}}",
            json!("bytes"),
            -32700,
            "not UTF-8",
        ),
        (b"{nope", Value::Null, -32700, "Parse error"),
        (
            br#"{"jsonrpc":"2.0","id":102,"method":7}"#,
            json!(102),
            -32600,
            "Invalid Request",
        ),
    ];
    for (line, id, code, says) in cases {
        let shown = String::from_utf8_lossy(line).into_owned();
        shim.send_raw(line);
        let (got, message) = error_answer(&mut shim, &id);
        assert_eq!(got, code, "{shown}: {message}");
        assert!(message.contains(says), "{shown}: {message}");
        still_serves(&mut shim);
    }

    // A notification that cannot be read asks nothing: no answer, and the
    // next request's answer is the next message.
    shim.send_raw(br#"{"jsonrpc":"2.0","method":"notifications/progress","params":"\ud800"}"#);
    shim.send_raw(br#"{"jsonrpc":"2.0","method":7}"#);
    let id = shim.send_request("tools/list", json!({}));
    let (listed, before) = shim.response_after(&json!(id));
    assert!(before.is_empty(), "a notification was answered: {before:?}");
    assert!(listed["result"]["tools"].is_array(), "{listed}");
}

#[test]
fn an_oversized_line_is_refused_naming_the_limit_and_the_shim_goes_on() {
    let home = TempHome::new();
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let limit = codex_async_shim::transport::MAX_LINE_BYTES;
    // A request over the limit, its id before or after the params that made
    // it big: the answer carries the id when the line's head shows it, so
    // the client waiting for that id gets its answer.
    let oversized = |before: &str, after: &str| {
        let mut line =
            format!(r#"{{"jsonrpc":"2.0",{before}"method":"ping","params":{{"x":""#).into_bytes();
        line.resize(limit + 1024, b'x');
        line.extend_from_slice(format!(r#""}}{after}}}"#).as_bytes());
        line
    };
    let cases = [
        (oversized(r#""id":7,"#, ""), json!(7)),
        (
            oversized(r#""id": "big \"one\"","#, ""),
            json!("big \"one\""),
        ),
        (oversized("", r#","id":9"#), Value::Null),
    ];
    for (line, id) in cases {
        shim.send_raw(&line);
        let (code, message) = error_answer(&mut shim, &id);
        assert_eq!(code, -32600, "{id}: {message}");
        assert!(
            message.contains(&format!("longer than {limit} bytes")),
            "{id}: {message}"
        );
        still_serves(&mut shim);
    }
}

#[test]
fn params_of_the_wrong_shape_are_invalid_params_naming_the_field() {
    let home = TempHome::new();
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let cases = [
        (
            "tools/call",
            json!({"name": "codex_list", "arguments": [1]}),
            "params.arguments: must be an object",
        ),
        (
            "tools/call",
            json!({"name": "codex_list", "arguments": "limit=5"}),
            "params.arguments: must be an object",
        ),
        ("tools/call", json!({"name": 5}), "params.name"),
        ("tools/call", json!([1]), "params: must be an object"),
        ("tools/list", json!([1]), "params: must be an object"),
        ("tasks/get", json!({"taskId": 5}), "params.taskId"),
    ];
    for (method, params, says) in cases {
        let answer = shim.request(method, params.clone());
        let error = &answer["error"];
        assert_eq!(error["code"], -32602, "{method} {params}: {answer}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{method} {params}: {message}");
    }
    // A method nobody serves is still one the server does not know.
    let answer = shim.request("tools/frobnicate", json!({}));
    assert_eq!(answer["error"]["code"], -32601, "{answer}");
    still_serves(&mut shim);
}
