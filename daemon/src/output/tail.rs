//! Reading the end of a job's output without reading the whole file, so a poll
//! costs the same on 1 KiB of output as on 1 GiB.

use std::{
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    path::Path,
};

/// At most this many characters are returned by a poll.
pub const MAX_TAIL_CHARS: usize = 8000;
/// Bytes read from the end: enough for [`MAX_TAIL_CHARS`] of 4-byte UTF-8.
const TAIL_WINDOW: u64 = (MAX_TAIL_CHARS as u64) * 4;

/// The tail of a file.
#[derive(Debug, Default, PartialEq)]
pub struct Tail {
    /// The last lines, at most [`MAX_TAIL_CHARS`] characters; invalid UTF-8 is
    /// replaced, never an error.
    pub text: String,
    /// True when the file holds more than `text`.
    pub truncated: bool,
    /// The file's size in bytes.
    pub size: u64,
}

/// Reads the last `lines` lines of `path` (a missing file reads as empty).
pub fn read_tail(path: &Path, lines: usize) -> io::Result<Tail> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Tail::default()),
        Err(e) => return Err(e),
    };
    let size = file.metadata()?.len();
    if lines == 0 {
        // Only the size was wanted (a poll that reads events, not raw output).
        return Ok(Tail {
            text: String::new(),
            truncated: size > 0,
            size,
        });
    }
    let start = size.saturating_sub(TAIL_WINDOW);
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity((size - start) as usize);
    file.take(TAIL_WINDOW).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let (text, lines_cut) = last_lines(&text, lines);
    let (text, chars_cut) = last_chars(text, MAX_TAIL_CHARS);
    Ok(Tail {
        truncated: lines_cut || chars_cut || start > 0,
        text: text.to_string(),
        size,
    })
}

/// The last `n` lines of `text` (a trailing newline does not start a line).
fn last_lines(text: &str, n: usize) -> (&str, bool) {
    if n == 0 {
        return ("", !text.is_empty());
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    match body.rmatch_indices('\n').nth(n - 1) {
        Some((i, _)) => (&text[i + 1..], true),
        None => (text, false),
    }
}

/// The last `max` characters of `text`.
fn last_chars(text: &str, max: usize) -> (&str, bool) {
    match text.char_indices().rev().nth(max.saturating_sub(1)) {
        Some((i, _)) if i > 0 => (&text[i..], true),
        _ => (text, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(content).expect("write");
        f
    }

    #[test]
    fn returns_last_lines() {
        let f = file_with(b"a\nb\nc\nd\n");
        let t = read_tail(f.path(), 2).expect("tail");
        assert_eq!(t.text, "c\nd\n");
        assert!(t.truncated);
        assert_eq!(t.size, 8);
        let all = read_tail(f.path(), 100).expect("tail");
        assert_eq!(all.text, "a\nb\nc\nd\n");
        assert!(!all.truncated);
    }

    #[test]
    fn zero_lines_is_empty() {
        let f = file_with(b"a\nb\n");
        assert_eq!(read_tail(f.path(), 0).expect("tail").text, "");
    }

    #[test]
    fn caps_characters_on_one_huge_line() {
        let f = file_with(&vec![b'x'; 1_000_000]);
        let t = read_tail(f.path(), 100).expect("tail");
        assert_eq!(t.text.chars().count(), MAX_TAIL_CHARS);
        assert!(t.truncated);
        assert_eq!(t.size, 1_000_000);
    }

    #[test]
    fn invalid_utf8_and_nul_are_shown_safely() {
        let f = file_with(b"ok\n\xff\xfe\0bad\n");
        let t = read_tail(f.path(), 10).expect("tail");
        assert!(t.text.starts_with("ok\n"));
        assert!(t.text.contains('\u{fffd}'));
    }

    #[test]
    fn missing_file_reads_empty() {
        let t = read_tail(Path::new("/nonexistent/codex-async/output.txt"), 10).expect("tail");
        assert_eq!(t, Tail::default());
    }
}
