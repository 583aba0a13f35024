//! Reading whole lines of a job's output from a byte offset, with bounded cost:
//! every read is capped, and a line too long to hold is skipped (and said so)
//! rather than read into memory.

use std::{
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    path::Path,
};

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
    /// A line longer than the caller's limit, skipped; its length in bytes.
    TooLong(u64),
}

/// Reads complete lines starting at `offset`, at most about `budget` bytes of
/// them. A line longer than `max_line` is skipped (scanning on for its end, at
/// most `max_scan` bytes). A trailing partial line is left for the next call.
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
    while let Some(nl) = buf[used..].iter().position(|&b| b == b'\n') {
        let line = &buf[used..used + nl];
        if used > 0 && used + nl + 1 > budget {
            out.more = true;
            break;
        }
        let end = offset + (used + nl + 1) as u64;
        if line.len() > max_line {
            out.lines.push((Line::TooLong(line.len() as u64), end));
        } else {
            out.lines.push((Line::Text(line.to_vec()), end));
        }
        used += nl + 1;
    }
    out.end = offset + used as u64;
    if used == 0 && buf.len() >= window {
        // One line longer than the window: find its end without holding it.
        if let Some(len) = scan_to_newline(&mut file, offset + buf.len() as u64, max_scan)? {
            let total = buf.len() as u64 + len;
            out.end = offset + total + 1;
            out.lines.push((Line::TooLong(total), out.end));
            out.more = out.end < size;
        }
    } else if !out.more {
        out.more = buf[used..].contains(&b'\n');
    }
    Ok(out)
}

/// Bytes from `from` up to the next newline, if one is within `max_scan`.
fn scan_to_newline(file: &mut File, from: u64, max_scan: u64) -> io::Result<Option<u64>> {
    file.seek(SeekFrom::Start(from))?;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut scanned = 0u64;
    while scanned < max_scan {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = chunk[..n].iter().position(|&b| b == b'\n') {
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
    let mut file = File::open(path)?;
    match scan_to_newline(&mut file, offset - 1, max_scan)? {
        Some(len) => Ok(offset + len),
        None => Ok(offset),
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

    fn texts(lines: &Lines) -> Vec<String> {
        lines
            .lines
            .iter()
            .map(|(l, _)| match l {
                Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
                Line::TooLong(n) => format!("<{n}>"),
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
    fn a_giant_line_is_skipped_with_its_length() {
        let mut content = vec![b'x'; 5000];
        content.extend_from_slice(b"\nafter\n");
        let f = file_with(&content);
        let got = read_lines(f.path(), 0, 100, 100, 1 << 20).expect("read");
        assert_eq!(texts(&got), ["<5000>"]);
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
}
