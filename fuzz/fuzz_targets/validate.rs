//! Every byte a client sends is hostile: the validators must answer any
//! request with Ok or a message naming a field, never panic, and never let a
//! job id that could escape its folder through.
#![no_main]

use codex_async_daemon::{api::validate, job::JobId};
use codex_async_proto::v1::{ReviewRequest, StartRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut fields = text.split('\u{0}');
    let mut next = || fields.next().map(str::to_string);
    let request = StartRequest {
        prompt: next().unwrap_or_default(),
        cwd: next().unwrap_or_default(),
        approval_policy: next(),
        model: next(),
        reply_to: next(),
        isolation: next(),
        stall_timeout_seconds: data.first().map(|&b| u32::from(b) * 1000),
        max_duration_seconds: data.last().map(|&b| u32::from(b) * 5000),
        reasoning_effort: next(),
        output_schema: next(),
        // A review when the input says so (its first byte odd).
        review: data
            .first()
            .filter(|&&b| b % 2 == 1)
            .map(|_| ReviewRequest {
                target: next().unwrap_or_default(),
                base_branch: next(),
                commit: next(),
                title: next(),
                instructions: next(),
            }),
        // validate::start reads it not at all: the service decides on it.
        steer_if_running: data.last().is_some_and(|&b| b % 2 == 1),
        agent: next(),
    };
    let _ = validate::steer_text(next().unwrap_or_default());
    match validate::start(&request) {
        Ok(spec) => {
            // A review's prompt is its instructions, which may be absent.
            assert!(request.review.is_some() || !spec.prompt.trim().is_empty());
            if let Some(cwd) = spec.cwd {
                assert!(cwd.is_absolute());
            }
            if let Some(model) = spec.model {
                assert!(!model.starts_with('-'));
            }
        }
        Err(e) => {
            // "instructions and <target>: …" names two fields; the first is one.
            let field = e.0.split([':', ' ']).next().unwrap_or("");
            assert!(
                [
                    "prompt",
                    "cwd",
                    "approval_policy",
                    "model",
                    "reply_to",
                    "isolation",
                    "stall_timeout_seconds",
                    "max_duration_seconds",
                    "reasoning_effort",
                    "output_schema",
                    "target",
                    "base_branch",
                    "commit",
                    "title",
                    "instructions",
                    "agent"
                ]
                .contains(&field),
                "an error that names no field: {e}"
            );
        }
    }
    if let Ok(id) = JobId::parse(&text) {
        assert!(!id.as_str().contains(['/', '.', '\\']));
        assert_eq!(id.as_str().len(), 12);
    }
    let n = data.iter().fold(0u32, |acc, &b| {
        acc.wrapping_mul(31).wrapping_add(u32::from(b))
    });
    let _ = validate::tail_lines(Some(n));
    let _ = validate::list_limit(Some(n));
    let _ = validate::status_filter(Some(n as i32));
    let _ = validate::since(u64::from(n), u64::from(n / 2));
});
