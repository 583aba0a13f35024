//! Reading whole lines of a job's output from a byte offset, with bounded cost:
//! every read is capped, and a line too long to hold is handed over as its
//! head and its tail (codex puts a command's whole output in one line, with
//! the exit code after it) rather than read into memory.

use std::{
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    os::unix::fs::FileExt,
    path::Path,
};

/// Bytes kept of the start and of the end of a line too long to hold, when
/// read by [`read_lines`]: enough for an event's type, item and command, and
/// for the fields codex writes after a command's output.
pub const LONG_HEAD: usize = 16 * 1024;
pub const LONG_TAIL: usize = 4 * 1024;
/// Bytes read per system call when scanning.
const CHUNK: usize = 256 * 1024;

/// A run of complete lines read from a file.
#[derive(Debug, Default, PartialEq)]
pub struct Lines {
    /// Each line without its newline, with the offset just past its newline.
    pub lines: Vec<(Line, u64)>,
    /// Offset just past the last complete line consumed.
    pub end: u64,
    /// True when complete lines remain after `end` (the read was capped).
    pub more: bool,
}

#[derive(Debug, PartialEq)]
pub enum Line {
    Text(Vec<u8>),
    /// A line longer than the caller's limit: its length in bytes, its first
    /// [`LONG_HEAD`] and its last [`LONG_TAIL`] bytes.
    Long {
        len: u64,
        head: Vec<u8>,
        tail: Vec<u8>,
    },
}

impl Line {
    fn long(len: u64, head: &[u8], tail: &[u8]) -> Self {
        Self::Long {
            len,
            head: head[..head.len().min(LONG_HEAD)].to_vec(),
            tail: tail[tail.len().saturating_sub(LONG_TAIL)..].to_vec(),
        }
    }
}

/// Reads complete lines starting at `offset`, at most about `budget` bytes of
/// them. A line longer than `max_line` comes as [`Line::Long`] (scanning on
/// for its end, at most `max_scan` bytes). A trailing partial line is left for
/// the next call.
pub fn read_lines(
    path: &Path,
    offset: u64,
    budget: usize,
    max_line: usize,
    max_scan: u64,
) -> io::Result<Lines> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Lines {
                end: offset,
                ..Lines::default()
            })
        }
        Err(e) => return Err(e),
    };
    let size = file.metadata()?.len();
    let mut out = Lines {
        end: offset,
        ..Lines::default()
    };
    if offset >= size {
        return Ok(out);
    }
    file.seek(SeekFrom::Start(offset))?;
    let window = budget.max(max_line.saturating_add(1));
    let mut buf = Vec::with_capacity(window.min((size - offset) as usize));
    (&mut file).take(window as u64).read_to_end(&mut buf)?;

    let mut used = 0usize;
    while let Some(nl) = memchr::memchr(b'\n', &buf[used..]) {
        let line = &buf[used..used + nl];
        if used > 0 && used + nl + 1 > budget {
            out.more = true;
            break;
        }
        let end = offset + (used + nl + 1) as u64;
        if line.len() > max_line {
            out.lines
                .push((Line::long(line.len() as u64, line, line), end));
        } else {
            out.lines.push((Line::Text(line.to_vec()), end));
        }
        used += nl + 1;
    }
    out.end = offset + used as u64;
    if used == 0 && buf.len() >= window {
        // One line longer than the window: find its end without holding it,
        // then read just its tail.
        if let Some(len) = scan_to_newline(&file, offset + buf.len() as u64, max_scan)? {
            let total = buf.len() as u64 + len;
            let tail_len = (LONG_TAIL as u64).min(total);
            let mut tail = vec![0u8; tail_len as usize];
            file.read_exact_at(&mut tail, offset + total - tail_len)?;
            out.end = offset + total + 1;
            out.lines.push((Line::long(total, &buf, &tail), out.end));
            out.more = out.end < size;
        }
    } else if !out.more {
        // A line that did not fit in the window may be complete beyond it.
        out.more = memchr::memchr(b'\n', &buf[used..]).is_some() || buf.len() >= window;
    }
    Ok(out)
}

/// Bytes from `from` up to the next newline, if one is within `max_scan`.
fn scan_to_newline(file: &File, from: u64, max_scan: u64) -> io::Result<Option<u64>> {
    let mut chunk = vec![0u8; CHUNK];
    let mut scanned = 0u64;
    while scanned < max_scan {
        let n = file.read_at(&mut chunk, from + scanned)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = memchr::memchr(b'\n', &chunk[..n]) {
            return Ok(Some(scanned + i as u64));
        }
        scanned += n as u64;
    }
    Ok(None)
}

/// The offset of the first line start at or after `offset` (0, or just past a
/// newline), looking at most `max_scan` bytes ahead; `offset` itself if none.
pub fn line_start_at_or_after(path: &Path, offset: u64, max_scan: u64) -> io::Result<u64> {
    if offset == 0 {
        return Ok(0);
    }
    let file = File::open(path)?;
    match scan_to_newline(&file, offset - 1, max_scan)? {
        Some(len) => Ok(offset + len),
        None => Ok(offset),
    }
}

/// The start of the line holding byte `offset` (0, or just past a newline),
/// looking at most `max_scan` bytes back; None if it is further back.
pub fn line_start_at_or_before(path: &Path, offset: u64, max_scan: u64) -> io::Result<Option<u64>> {
    let file = File::open(path)?;
    let mut chunk = vec![0u8; CHUNK];
    // Looking for the newline before `offset`: bytes [low, offset) hold it.
    let mut high = offset;
    let floor = offset.saturating_sub(max_scan);
    while high > floor {
        let low = high.saturating_sub(CHUNK as u64).max(floor);
        let want = (high - low) as usize;
        file.read_exact_at(&mut chunk[..want], low)?;
        if let Some(i) = memchr::memrchr(b'\n', &chunk[..want]) {
            return Ok(Some(low + i as u64 + 1));
        }
        high = low;
    }
    Ok((high == 0).then_some(0))
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

    fn texts(lines: &Lines) -> Vec<String> {
        lines
            .lines
            .iter()
            .map(|(l, _)| match l {
                Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
                Line::Long { len, head, tail } => format!(
                    "<{len}: {}…{}>",
                    String::from_utf8_lossy(&head[..3]),
                    String::from_utf8_lossy(&tail[tail.len() - 3..])
                ),
            })
            .collect()
    }

    #[test]
    fn reads_complete_lines_and_leaves_a_partial_one() {
        let f = file_with(b"a\nbb\nccc");
        let got = read_lines(f.path(), 0, 1024, 1024, 1024).expect("read");
        assert_eq!(texts(&got), ["a", "bb"]);
        assert_eq!(got.end, 5);
        assert_eq!(
            got.lines.iter().map(|(_, end)| *end).collect::<Vec<_>>(),
            [2, 5]
        );
        assert!(!got.more);
        let again = read_lines(f.path(), got.end, 1024, 1024, 1024).expect("read");
        assert!(again.lines.is_empty());
        assert_eq!(again.end, 5);
    }

    #[test]
    fn a_budget_caps_the_read_and_says_more() {
        let f = file_with(b"1111\n2222\n3333\n");
        let got = read_lines(f.path(), 0, 10, 100, 100).expect("read");
        assert_eq!(texts(&got), ["1111", "2222"]);
        assert!(got.more);
        let rest = read_lines(f.path(), got.end, 10, 100, 100).expect("read");
        assert_eq!(texts(&rest), ["3333"]);
        assert!(!rest.more);
    }

    #[test]
    fn a_giant_line_comes_as_its_length_head_and_tail() {
        let mut content = b"abc".to_vec();
        content.extend(std::iter::repeat_n(b'x', 4994));
        content.extend_from_slice(b"xyz\nafter\n");
        let f = file_with(&content);
        let got = read_lines(f.path(), 0, 100, 100, 1 << 20).expect("read");
        assert_eq!(texts(&got), ["<5000: abc…xyz>"]);
        assert_eq!(got.end, 5001);
        let rest = read_lines(f.path(), got.end, 100, 100, 1 << 20).expect("read");
        assert_eq!(texts(&rest), ["after"]);
    }

    #[test]
    fn finds_the_next_line_start() {
        let f = file_with(b"abc\ndef\n");
        assert_eq!(line_start_at_or_after(f.path(), 0, 100).expect("scan"), 0);
        assert_eq!(line_start_at_or_after(f.path(), 2, 100).expect("scan"), 4);
        assert_eq!(line_start_at_or_after(f.path(), 4, 100).expect("scan"), 4);
    }

    #[test]
    fn a_line_cut_by_the_window_is_more_to_come() {
        let mut content = b"a\n".to_vec();
        content.extend(std::iter::repeat_n(b'x', 500));
        content.push(b'\n');
        let f = file_with(&content);
        let got = read_lines(f.path(), 0, 100, 100, 1 << 20).expect("read");
        assert_eq!(texts(&got), ["a"]);
        assert!(got.more, "the long line comes next");
        let next = read_lines(f.path(), got.end, 100, 100, 1 << 20).expect("read");
        assert_eq!(next.lines.len(), 1);
        assert!(!next.more);
    }

    #[test]
    fn a_long_line_in_the_buffer_comes_as_head_and_tail_too() {
        let mut content = b"abc".to_vec();
        content.extend(std::iter::repeat_n(b'x', 194));
        content.extend_from_slice(b"xyz\nok\n");
        let f = file_with(&content);
        let got = read_lines(f.path(), 0, 10_000, 100, 1 << 20).expect("read");
        assert_eq!(texts(&got), ["<200: abc…xyz>", "ok"]);
    }

    #[test]
    fn finds_the_start_of_the_line_holding_an_offset() {
        let f = file_with(b"abc\ndef\n");
        let at = |offset, scan| line_start_at_or_before(f.path(), offset, scan).expect("scan");
        assert_eq!(at(0, 100), Some(0));
        assert_eq!(at(2, 100), Some(0));
        assert_eq!(at(4, 100), Some(4));
        assert_eq!(at(6, 100), Some(4));
        assert_eq!(at(6, 1), None, "further back than allowed");
        let mut long = vec![b'\n'];
        long.extend(std::iter::repeat_n(b'y', 3 * CHUNK));
        let f = file_with(&long);
        let at = |offset| line_start_at_or_before(f.path(), offset, 1 << 30).expect("scan");
        assert_eq!(at(3 * CHUNK as u64 - 5), Some(1), "across chunks");
    }
}
