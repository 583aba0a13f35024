//! Tool arguments arrive from the MCP client as arbitrary JSON: every decoder
//! must answer with arguments or an error naming a field, never panic.
#![no_main]

use codex_async_shim::args::{
    AnswerArgs, CancelArgs, ListArgs, PollArgs, ReplyArgs, ResultArgs, ReviewArgs, StartArgs,
    WaitArgs,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(args)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let args: Map<String, Value> = args;
    let checks = [
        StartArgs::from_json(&args).err(),
        PollArgs::from_json(&args).err(),
        WaitArgs::from_json(&args).err(),
        ResultArgs::from_json(&args).err(),
        ReplyArgs::from_json(&args).err(),
        ListArgs::from_json(&args).err(),
        CancelArgs::from_json(&args).err(),
        ReviewArgs::from_json(&args).err(),
        AnswerArgs::from_json(&args).err(),
    ];
    for err in checks.into_iter().flatten() {
        // One field, or several ("job_id, job_ids: pass one of them").
        let fields = err.0.split(':').next().unwrap_or("");
        assert!(
            fields.split(", ").all(|field| !field.is_empty()
                && field.chars().all(|c| c.is_ascii_lowercase() || c == '_')),
            "an error that names no field: {}",
            err.0
        );
    }
});
