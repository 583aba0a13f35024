//! codex's JSONL stream is input from a child process: any bytes (truncated
//! lines, giant lines, invalid UTF-8, NUL) must parse, fold and render without
//! a panic, and a rendered line must stay one line.
#![no_main]

use codex_async_daemon::job::events::{render, Event, Summary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut summary = Summary::default();
    for line in data.split(|&b| b == b'\n') {
        let event = Event::parse(line);
        summary.apply(&event);
        if let Some(text) = render(&event) {
            assert!(!text.contains('\n'), "a rendered event spans lines");
        }
    }
    // The summary must survive its own storage round trip.
    let json = serde_json_roundtrip(&summary);
    assert_eq!(json, summary);
});

fn serde_json_roundtrip(summary: &Summary) -> Summary {
    let text = serde_json::to_string(summary).expect("a summary serializes");
    serde_json::from_str(&text).expect("a summary deserializes")
}
