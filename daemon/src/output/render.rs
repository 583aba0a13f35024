//! What `codex_poll` shows of a job's events: the lines after a cursor (or the
//! latest ones), one compact line per event, within a character budget, at a
//! cost that does not grow with the size of the output. [`Viewer`] is the one
//! rendering of output lines in file order, for `codex_poll` and `codexd logs`.

use std::{fs::File, io, os::unix::fs::FileExt, path::Path};

use crate::{
    job::events::{one_line, render, Event},
    output::lines::{line_start_at_or_after, line_start_at_or_before, read_lines, Line},
    output::output_cap::{parse_marker, Marker, MARKER_LEN},
};

/// Most characters of rendered events in one answer.
pub const MAX_EVENT_CHARS: usize = 8000;
/// Bytes of output looked at for the latest events: every poll parses them,
/// so this bounds a poll's cost (a few hundred events).
const LATEST_WINDOW: u64 = 32 * 1024;
/// Bytes of output read after a cursor in one answer.
const SINCE_BUDGET: usize = 512 * 1024;
/// Longest line parsed whole; longer ones are rendered from their head and
/// tail (a command with megabytes of output is still `$ cmd  → exit N`).
const MAX_LINE: usize = 256 * 1024;
/// How far to scan for the end of a giant line.
const MAX_SCAN: u64 = 64 * 1024 * 1024;

/// Rendered events and where to continue.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rendered {
    pub text: String,
    pub next_cursor: u64,
    /// Events were left out: older ones (latest mode) or newer ones (cursor mode).
    pub truncated: bool,
}

/// Renders the events after byte `since` of `path`, or with `since` absent the
/// latest events; `size` is the file's size when the caller looked.
pub fn events(path: &Path, since: Option<u64>, size: u64) -> io::Result<Rendered> {
    match since {
        Some(cursor) => after(path, cursor),
        None => latest(path, size),
    }
}

fn after(path: &Path, cursor: u64) -> io::Result<Rendered> {
    let read = read_lines(path, cursor, SINCE_BUDGET, MAX_LINE, MAX_SCAN)?;
    let mut out = Rendered {
        next_cursor: cursor,
        truncated: read.more,
        ..Rendered::default()
    };
    let mut viewer = Viewer::at(path, cursor)?;
    let mut chars = 0;
    for (line, end) in &read.lines {
        if let Some(text) = viewer.show(line) {
            let len = text.chars().count() + 1;
            if chars > 0 && chars + len > MAX_EVENT_CHARS {
                out.truncated = true;
                break;
            }
            chars += len;
            out.text.push_str(&text);
            out.text.push('\n');
        }
        out.next_cursor = *end;
    }
    Ok(out)
}

fn latest(path: &Path, size: u64) -> io::Result<Rendered> {
    let from = size.saturating_sub(LATEST_WINDOW);
    let mut start = line_start_at_or_after(path, from, MAX_SCAN)?;
    let mut shown: Vec<String> = Vec::new();
    let mut first = start;
    let mut viewer = None;
    if start > from {
        // The window starts inside a line: a long one, most likely a
        // command's output, whose `→ exit N` is among the latest events.
        if let Some(begin) = line_start_at_or_before(path, from, MAX_SCAN)? {
            let straddling = read_lines(path, begin, 1, MAX_LINE, MAX_SCAN)?;
            if let Some((line, end)) = straddling.lines.first() {
                let mut from_begin = Viewer::at(path, begin)?;
                shown.extend(from_begin.show(line));
                viewer = Some(from_begin);
                (first, start) = (begin, *end);
            }
        }
    }
    let mut viewer = match viewer {
        Some(viewer) => viewer,
        None => Viewer::at(path, start)?,
    };
    let read = read_lines(
        path,
        start,
        (size - start.min(size)) as usize + 1,
        MAX_LINE,
        MAX_SCAN,
    )?;
    shown.extend(read.lines.iter().filter_map(|(line, _)| viewer.show(line)));
    // Keep the newest lines that fit.
    let mut chars = 0;
    let mut keep = 0;
    for text in shown.iter().rev() {
        let len = text.chars().count() + 1;
        if keep > 0 && chars + len > MAX_EVENT_CHARS {
            break;
        }
        chars += len;
        keep += 1;
    }
    let mut text = String::with_capacity(chars);
    for line in &shown[shown.len() - keep..] {
        text.push_str(line);
        text.push('\n');
    }
    Ok(Rendered {
        text,
        next_cursor: read.end,
        truncated: first > 0 || keep < shown.len(),
    })
}

/// Renders a job's output lines in file order, one readable line per event.
///
/// It knows what the output cap (output_cap.rs) leaves at the front of a long
/// output: a marker line saying how much was dropped, shown as a note; and
/// after it, most often, the cut-off rest of a dropped line (the cap cuts at
/// a block boundary, not a line's start). That first line is shown only if it
/// is a whole event (a JSON object with a type); a fragment of JSON is not
/// one, and showing it would be noise.
#[derive(Debug, Default)]
pub struct Viewer {
    /// The previous line was the cap's marker.
    after_marker: bool,
    /// A line of text too long to hold is shown by its start and end, not
    /// only its size (`codexd logs`: a person reading the output wants to
    /// see what it was; a poll's budget is better spent on events).
    long_text_ends: bool,
}

impl Viewer {
    /// A viewer for lines read from byte `offset` of `path`: it checks
    /// whether a marker ends just there (one small read).
    pub fn at(path: &Path, offset: u64) -> io::Result<Self> {
        Ok(Self {
            after_marker: marker_ends_at(path, offset)?,
            long_text_ends: false,
        })
    }

    /// A viewer for the whole output in order, for a person (`codexd logs`):
    /// a giant line of text shows its start and its end around a note.
    pub fn for_reading() -> Self {
        Self {
            after_marker: false,
            long_text_ends: true,
        }
    }

    /// The next line as shown, or None when it is not worth a line (or is
    /// the fragment after the marker).
    pub fn show(&mut self, line: &Line) -> Option<String> {
        let after_marker = std::mem::take(&mut self.after_marker);
        if let Some(marker) = marker_of(line) {
            self.after_marker = true;
            return Some(note(marker));
        }
        if after_marker && !is_whole_event(line) {
            return None;
        }
        match line {
            Line::Long { len, head, tail } if self.long_text_ends && !head.starts_with(b"{") => {
                Some(ends_of(*len, head, tail))
            }
            _ => show(line),
        }
    }
}

/// Characters shown of each end of a giant line of text.
const END_CHARS: usize = 400;

/// A giant line of text as its first and last [`END_CHARS`] characters,
/// with a note between them saying the rest is left out.
fn ends_of(len: u64, head: &[u8], tail: &[u8]) -> String {
    let head = one_line(&String::from_utf8_lossy(head), usize::MAX);
    // The tail may begin inside a UTF-8 character: start at the next one.
    let first = tail
        .iter()
        .position(|&b| b & 0xC0 != 0x80)
        .unwrap_or(tail.len());
    let tail = one_line(&String::from_utf8_lossy(&tail[first..]), usize::MAX);
    let start: String = head.chars().take(END_CHARS).collect();
    let skip = tail.chars().count().saturating_sub(END_CHARS);
    let end: String = tail.chars().skip(skip).collect();
    format!("{start} … [a {len}-byte line: only its start and end are shown] … {end}")
}

/// The note a marker line is shown as.
fn note(marker: Marker) -> String {
    format!(
        "note: {} bytes of earlier output were dropped (the output cap keeps the last {} bytes)",
        marker.dropped, marker.cap
    )
}

fn marker_of(line: &Line) -> Option<Marker> {
    match line {
        Line::Text(bytes) => parse_marker(bytes),
        // A punched head is a long run of NULs on the marker's line.
        Line::Long { head, tail, .. } if head.iter().all(|&b| b == 0) => parse_marker(tail),
        Line::Long { .. } => None,
    }
}

fn is_whole_event(line: &Line) -> bool {
    let event = match line {
        Line::Text(bytes) => Event::parse(bytes),
        Line::Long { head, tail, .. } if head.starts_with(b"{") => Event::parse_long(head, tail),
        Line::Long { .. } => return false,
    };
    matches!(event, Event::Json { .. })
}

/// True when the [`MARKER_LEN`] bytes before `offset` are the cap's marker.
fn marker_ends_at(path: &Path, offset: u64) -> io::Result<bool> {
    if offset < MARKER_LEN {
        return Ok(false);
    }
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut bytes = [0u8; MARKER_LEN as usize];
    match file.read_exact_at(&mut bytes, offset - MARKER_LEN) {
        Ok(()) => Ok(bytes.ends_with(b"\n") && parse_marker(&bytes).is_some()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

fn show(line: &Line) -> Option<String> {
    match line {
        Line::Text(bytes) => match Event::parse(bytes) {
            // An agent's talk about its own set-up (its stderr, kept in
            // output.txt) is not shown; each engine names its own.
            Event::Text(text) if crate::engine::is_setup_chatter(&text) => None,
            event => render(&event),
        },
        Line::Long { head, tail, .. } if head.starts_with(b"{") => {
            render(&Event::parse_long(head, tail))
        }
        Line::Long { len, .. } => Some(format!("[a {len}-byte line of output, not shown]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(content.as_bytes()).expect("write");
        f
    }

    const STREAM: &str = concat!(
        r#"{"type":"thread.started","thread_id":"t1"}"#,
        "\n",
        r#"{"type":"turn.started"}"#,
        "\n",
        r#"{"type":"item.completed","item":{"id":"c","type":"command_execution","command":"ls","exit_code":0}}"#,
        "\n",
        r#"{"type":"item.completed","item":{"id":"m","type":"agent_message","text":"hi"}}"#,
        "\n",
    );

    #[test]
    fn the_cursor_protocol_returns_only_new_events() {
        let f = file_with(STREAM);
        let size = STREAM.len() as u64;
        let first = events(f.path(), Some(0), size).expect("render");
        assert_eq!(first.text, "session t1\n$ ls  → exit 0\nmessage: hi\n");
        assert_eq!(first.next_cursor, size);
        assert!(!first.truncated);
        let again = events(f.path(), Some(first.next_cursor), size).expect("render");
        assert_eq!(again.text, "");
        assert_eq!(again.next_cursor, size);
    }

    #[test]
    fn the_cap_marker_is_a_note_and_the_cut_line_after_it_is_skipped() {
        let marker = crate::output::output_cap::marker(3_000_000, 65_536);
        let note = "note: 3000000 bytes of earlier output were dropped (the output cap keeps the last 65536 bytes)\n";
        // Cut inside a line (the usual case): the fragment is not shown.
        let mut content = marker.clone();
        content.extend_from_slice(b"ut\":\"x\"}}\n");
        content.extend_from_slice(STREAM.as_bytes());
        let f = file_with(&String::from_utf8(content.clone()).expect("utf-8"));
        let size = content.len() as u64;
        let want = format!("{note}session t1\n$ ls  → exit 0\nmessage: hi\n");
        assert_eq!(events(f.path(), Some(0), size).expect("render").text, want);
        assert_eq!(events(f.path(), None, size).expect("render").text, want);
        // A cursor just past the marker still knows the next line is cut.
        let after = events(f.path(), Some(MARKER_LEN), size).expect("render");
        assert_eq!(after.text, "session t1\n$ ls  → exit 0\nmessage: hi\n");
        // Cut exactly at a line's start: that whole event is shown.
        let mut content = marker.clone();
        content.extend_from_slice(STREAM.as_bytes());
        let f = file_with(&String::from_utf8(content.clone()).expect("utf-8"));
        let got = events(f.path(), Some(0), content.len() as u64).expect("render");
        assert_eq!(got.text, want);
        // A punched head: NULs before the marker on its line.
        let mut content = vec![0u8; 300 * 1024];
        content.extend_from_slice(&marker);
        content.extend_from_slice(b"ut\"}}\n");
        content.extend_from_slice(STREAM.as_bytes());
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(&content).expect("write");
        let got = events(f.path(), Some(0), content.len() as u64).expect("render");
        assert_eq!(got.text, want);
    }

    #[test]
    fn a_partial_last_line_waits_for_its_end() {
        let partial = format!("{STREAM}{{\"type\":\"item.comp");
        let f = file_with(&partial);
        let got = events(f.path(), Some(0), partial.len() as u64).expect("render");
        assert_eq!(got.next_cursor, STREAM.len() as u64);
    }

    #[test]
    fn latest_keeps_the_newest_within_the_budget() {
        let mut content = String::new();
        for i in 0..5000 {
            content.push_str(&format!(
                "{{\"type\":\"error\",\"message\":\"retry {i}\"}}\n"
            ));
        }
        let f = file_with(&content);
        let got = events(f.path(), None, content.len() as u64).expect("render");
        assert!(got.text.ends_with("error: retry 4999\n"));
        assert!(got.text.chars().count() <= MAX_EVENT_CHARS);
        assert!(got.truncated);
        assert_eq!(got.next_cursor, content.len() as u64);
    }

    #[test]
    fn a_cursor_read_stops_at_the_budget_and_resumes() {
        let mut content = String::new();
        for i in 0..2000 {
            content.push_str(&format!(
                "{{\"type\":\"error\",\"message\":\"retry {i}\"}}\n"
            ));
        }
        let f = file_with(&content);
        let size = content.len() as u64;
        let mut cursor = 0;
        let mut seen = 0;
        loop {
            let got = events(f.path(), Some(cursor), size).expect("render");
            assert!(got.text.chars().count() <= MAX_EVENT_CHARS);
            seen += got.text.lines().count();
            cursor = got.next_cursor;
            if !got.truncated {
                break;
            }
        }
        assert_eq!(seen, 2000, "paging from the cursor sees every event once");
        assert_eq!(cursor, size);
    }

    /// codex's line for a command that printed `bytes` of output and exited 3.
    fn long_command(bytes: usize) -> String {
        let output: String = "1234567\n".repeat(bytes / 8);
        format!(
            "{{\"type\":\"item.completed\",\"item\":{{\"id\":\"item_0\",\"type\":\"command_execution\",\"command\":\"seq\",\"aggregated_output\":{},\"exit_code\":3,\"status\":\"failed\"}}}}\n",
            serde_json::to_string(&output).expect("json")
        )
    }

    #[test]
    fn a_long_command_line_renders_with_its_exit_code() {
        let done = "{\"type\":\"item.completed\",\"item\":{\"id\":\"m\",\"type\":\"agent_message\",\"text\":\"done\"}}\n";
        for bytes in [600 * 1024, 5 << 20] {
            let content = format!("{STREAM}{}{done}", long_command(bytes));
            let f = file_with(&content);
            let size = content.len() as u64;
            // Latest: the window starts inside the long line, which is shown.
            let latest = events(f.path(), None, size).expect("render");
            assert_eq!(latest.text, "$ seq  → exit 3\nmessage: done\n", "{bytes}");
            assert!(latest.truncated, "the events before it were left out");
            assert_eq!(latest.next_cursor, size);
            // After a cursor, paging on: the same lines.
            let mut cursor = STREAM.len() as u64;
            let mut text = String::new();
            loop {
                let after = events(f.path(), Some(cursor), size).expect("render");
                text.push_str(&after.text);
                cursor = after.next_cursor;
                if !after.truncated {
                    break;
                }
            }
            assert_eq!(text, "$ seq  → exit 3\nmessage: done\n");
        }
        // A long line of text is still reported by its size.
        let text = format!("{}\n", "t".repeat(MAX_LINE + 1));
        let f = file_with(&text);
        let got = events(f.path(), Some(0), text.len() as u64).expect("render");
        assert_eq!(
            got.text,
            format!("[a {}-byte line of output, not shown]\n", MAX_LINE + 1)
        );
    }
}
