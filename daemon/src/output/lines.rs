//! Reading whole lines of a job's output from a byte offset, with bounded cost:
//! every read is capped, and a line too long to hold is handed over as its
//! head and its tail (codex puts a command's whole output in one line, with
//! the exit code after it) rather than read into memory.
//!
//! [`skim`] is the fold's reader: it passes over text lines at memchr speed,
//! never copying them, and hands over every line that starts with `{` (a
//! JSON event), whole or, when long, as head and tail.

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

/// One line starting with `{` met by [`skim`].
#[derive(Debug)]
pub struct Seen<'a> {
    /// The offset of its first byte.
    pub start: u64,
    /// Its length in bytes, without the newline.
    pub len: u64,
    pub body: Body<'a>,
}

#[derive(Debug, PartialEq)]
pub enum Body<'a> {
    Whole(&'a [u8]),
    /// Longer than [`SkimLimits::whole`]: its first and last bytes.
    Long {
        head: &'a [u8],
        tail: &'a [u8],
    },
}

/// How much of a line [`skim`] holds.
#[derive(Debug, Clone, Copy)]
pub struct SkimLimits {
    /// Longest line handed over whole.
    pub whole: usize,
    /// Bytes kept of the start and of the end of a longer line.
    pub head: usize,
    pub tail: usize,
    /// A `{` line still unfinished past this many bytes is given up on (passed
    /// over like text), so a line that never ends is not read again and again.
    pub give_up: u64,
}

/// Where [`skim`] is in the file.
#[derive(Clone, Copy, PartialEq)]
enum At {
    /// At the first byte of a line.
    LineStart,
    /// Inside a line that does not start with `{`.
    Text,
    /// Inside a line that starts with `{`.
    Event,
}

/// A line received piece by piece ([`skim`]'s, and `codexd logs`' from
/// Watch chunks), held at a bounded cost: whole while it is at most
/// `limits.whole` bytes, then only its head and its newest bytes, so a line
/// of any length costs the same memory and a copy of each piece at most.
#[derive(Debug, Default)]
pub struct Pending {
    start: u64,
    len: u64,
    /// The whole line while it is at most `whole` bytes; then its head.
    bytes: Vec<u8>,
    /// Once past `whole`: the newest bytes (at most twice `tail`).
    tail: Option<Vec<u8>>,
}

impl Pending {
    /// Bytes pushed since the line began.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets the line: the next push begins a new one.
    pub fn clear(&mut self) {
        self.len = 0;
        self.bytes.clear();
        self.tail = None;
    }

    /// The line so far as a [`Line`]: whole, or its head and tail once it
    /// passed `limits.whole`.
    pub fn line(&self, limits: &SkimLimits) -> Line {
        match self.seen(limits).body {
            Body::Whole(bytes) => Line::Text(bytes.to_vec()),
            Body::Long { head, tail } => Line::Long {
                len: self.len,
                head: head.to_vec(),
                tail: tail.to_vec(),
            },
        }
    }

    /// Adds the next piece of the line (no newline in it).
    pub fn push(&mut self, part: &[u8], limits: &SkimLimits) {
        self.len += part.len() as u64;
        match &mut self.tail {
            None if self.bytes.len() + part.len() <= limits.whole => {
                self.bytes.extend_from_slice(part);
            }
            None => {
                let mut tail = Vec::with_capacity(2 * limits.tail);
                let mut joined =
                    self.bytes[self.bytes.len().saturating_sub(limits.tail)..].to_vec();
                joined.extend_from_slice(part);
                tail.extend_from_slice(&joined[joined.len().saturating_sub(limits.tail)..]);
                let room = limits.head.saturating_sub(self.bytes.len());
                self.bytes.extend_from_slice(&part[..room.min(part.len())]);
                self.bytes.truncate(limits.head);
                self.tail = Some(tail);
            }
            Some(tail) => {
                tail.extend_from_slice(&part[part.len().saturating_sub(limits.tail)..]);
                if tail.len() > 2 * limits.tail {
                    tail.drain(..tail.len() - limits.tail);
                }
            }
        }
    }

    fn seen(&self, limits: &SkimLimits) -> Seen<'_> {
        let body = match &self.tail {
            None => Body::Whole(&self.bytes),
            Some(tail) => Body::Long {
                head: &self.bytes,
                tail: &tail[tail.len().saturating_sub(limits.tail)..],
            },
        };
        Seen {
            start: self.start,
            len: self.len,
            body,
        }
    }
}

/// Walks the output from `offset` up to `stop` (or its end), handing every
/// complete line that starts with `{` to `each`, in order. Other lines are
/// passed over without being looked at beyond their first byte. When `each`
/// answers true (the same line again would change nothing), copies of the
/// line right after it may be passed over too (a flood of one event line
/// then costs a memcmp per line).
///
/// Returns the offset to go on from: just past the last line handed over or
/// passed, or the point reached inside a text line still being written (a
/// skim from an offset that does not follow a newline takes it as inside a
/// text line). A `{` line still being written is left for the next call.
pub fn skim(
    path: &Path,
    offset: u64,
    stop: u64,
    limits: &SkimLimits,
    mut each: impl FnMut(&Seen<'_>) -> bool,
) -> io::Result<u64> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(offset),
        Err(e) => return Err(e),
    };
    let mut at = At::LineStart;
    if offset > 0 {
        let mut before = [0u8; 1];
        if file.read_at(&mut before, offset - 1)? == 1 && before[0] != b'\n' {
            at = At::Text;
        }
    }
    let text_to_event = memchr::memmem::Finder::new(b"\n{");
    let mut chunk = vec![0u8; CHUNK];
    let mut pos = offset;
    let mut end = offset;
    let mut pending = Pending::default();
    while pos < stop {
        let want = (stop - pos).min(CHUNK as u64) as usize;
        let n = file.read_at(&mut chunk[..want], pos)?;
        if n == 0 {
            break;
        }
        let data = &chunk[..n];
        let mut i = 0;
        while i < n {
            match at {
                At::LineStart => {
                    if data[i] == b'{' {
                        at = At::Event;
                        pending.clear();
                        pending.start = pos + i as u64;
                    } else {
                        at = At::Text;
                    }
                }
                At::Text => match text_to_event.find(&data[i..]) {
                    Some(j) => {
                        i += j + 1;
                        at = At::LineStart;
                    }
                    None => {
                        at = if data[n - 1] == b'\n' {
                            At::LineStart
                        } else {
                            At::Text
                        };
                        i = n;
                    }
                },
                At::Event => match memchr::memchr(b'\n', &data[i..]) {
                    Some(j) => {
                        let fresh = pending.len == 0;
                        if fresh && j <= limits.whole {
                            // The whole line is in this chunk: no copy.
                            let line = &data[i..i + j];
                            let repeats_are_noops = each(&Seen {
                                start: pending.start,
                                len: j as u64,
                                body: Body::Whole(line),
                            });
                            if repeats_are_noops {
                                let mut next = i + j + 1;
                                while data.get(next..next + j) == Some(line)
                                    && data.get(next + j) == Some(&b'\n')
                                {
                                    next += j + 1;
                                }
                                // Resume at the last copy: it ends the line.
                                i = next - (j + 1);
                            }
                        } else if fresh {
                            let line = &data[i..i + j];
                            each(&Seen {
                                start: pending.start,
                                len: j as u64,
                                body: Body::Long {
                                    head: &line[..limits.head.min(j)],
                                    tail: &line[j - limits.tail.min(j)..],
                                },
                            });
                        } else {
                            pending.push(&data[i..i + j], limits);
                            each(&pending.seen(limits));
                        }
                        i += j + 1;
                        at = At::LineStart;
                        end = pos + i as u64;
                    }
                    None => {
                        pending.push(&data[i..], limits);
                        i = n;
                    }
                },
            }
            if at != At::Event {
                end = pos + i as u64;
            }
        }
        pos += n as u64;
        if at == At::Event && pending.len > limits.give_up {
            // Never ending: pass over it as text from here on.
            at = At::Text;
            end = pos;
        }
    }
    if at == At::Event {
        end = pending.start;
    }
    Ok(end)
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

    const LIMITS: SkimLimits = SkimLimits {
        whole: 40,
        head: 8,
        tail: 6,
        give_up: 1 << 20,
    };

    /// What skim hands over: (start, len, head, tail) per `{` line, and the end.
    fn skimmed(path: &Path, from: u64, stop: u64, limits: &SkimLimits) -> (Vec<String>, u64) {
        skimmed_with(path, from, stop, limits, false)
    }

    fn skimmed_with(
        path: &Path,
        from: u64,
        stop: u64,
        limits: &SkimLimits,
        noops: bool,
    ) -> (Vec<String>, u64) {
        let mut seen = Vec::new();
        let end = skim(path, from, stop, limits, |s| {
            seen.push(match s.body {
                Body::Whole(line) => {
                    format!("{}+{} {}", s.start, s.len, String::from_utf8_lossy(line))
                }
                Body::Long { head, tail } => format!(
                    "{}+{} {}…{}",
                    s.start,
                    s.len,
                    String::from_utf8_lossy(head),
                    String::from_utf8_lossy(tail)
                ),
            });
            noops
        })
        .expect("skim");
        (seen, end)
    }

    #[test]
    fn skim_hands_over_event_lines_and_passes_text() {
        let content = "text\n{\"a\":1}\nmore text {\n{\"long\":\"0123456789012345678901234567890123456789\"}\n\n{}\n";
        let f = file_with(content.as_bytes());
        let (seen, end) = skimmed(f.path(), 0, u64::MAX, &LIMITS);
        assert_eq!(
            seen,
            ["5+7 {\"a\":1}", "25+51 {\"long\":…6789\"}", "78+2 {}"]
        );
        assert_eq!(end, content.len() as u64);
        // From the middle of a line: that line is passed over as text.
        let (seen, _) = skimmed(f.path(), 7, u64::MAX, &LIMITS);
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn skim_passes_over_repeats_only_when_told() {
        let content = "{\"a\":1}\n{\"a\":1}\n{\"a\":1}\ntext\n{\"a\":1}\n{\"a\":12}\n{\"a\":1}\n";
        let f = file_with(content.as_bytes());
        let (all, _) = skimmed(f.path(), 0, u64::MAX, &LIMITS);
        assert_eq!(all.len(), 6);
        let (once, end) = skimmed_with(f.path(), 0, u64::MAX, &LIMITS, true);
        assert_eq!(
            once,
            [
                "0+7 {\"a\":1}",
                "29+7 {\"a\":1}",
                "37+8 {\"a\":12}",
                "46+7 {\"a\":1}"
            ]
        );
        assert_eq!(end, content.len() as u64);
    }

    #[test]
    fn skim_leaves_an_unfinished_event_and_goes_on_inside_text() {
        let f = file_with(b"{\"a\":1}\n{\"b\":");
        let (seen, end) = skimmed(f.path(), 0, u64::MAX, &LIMITS);
        assert_eq!(seen, ["0+7 {\"a\":1}"]);
        assert_eq!(end, 8, "the unfinished event is read again next time");
        let f = file_with(b"{\"a\":1}\nsome text being writ");
        let (_, end) = skimmed(f.path(), 0, u64::MAX, &LIMITS);
        assert_eq!(end, 28, "text is not read twice");
        // `stop` ends the walk as the end of the file would.
        let f = file_with(b"{\"a\":1}\n{\"b\":2}\n");
        let (seen, end) = skimmed(f.path(), 0, 12, &LIMITS);
        assert_eq!((seen.len(), end), (1, 8));
        // A line that never ends is given up on, then passed over like text.
        let mut endless = b"{\"x\":\"".to_vec();
        endless.extend(std::iter::repeat_n(b'z', 3 * CHUNK));
        let f = file_with(&endless);
        let limits = SkimLimits {
            give_up: CHUNK as u64,
            ..LIMITS
        };
        let (seen, end) = skimmed(f.path(), 0, u64::MAX, &limits);
        assert!(seen.is_empty());
        assert_eq!(end, endless.len() as u64);
        let mut finished = endless.clone();
        finished.extend_from_slice(b"\"}\n{\"after\":1}\n");
        let f = file_with(&finished);
        let (seen, _) = skimmed(f.path(), end, u64::MAX, &limits);
        let after = endless.len() + 3;
        assert_eq!(seen, [format!("{after}+11 {{\"after\":1}}")]);
    }

    #[test]
    fn skim_in_steps_sees_what_one_skim_sees() {
        // Lines of every kind and length, some longer than a read chunk,
        // walked whole and in steps that stop anywhere (as a follower does
        // while codex writes): the same lines, each once.
        let mut content = Vec::new();
        let mut n = 0u64;
        for i in 0..400usize {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = match i % 7 {
                0 => (n >> 40) as usize % 30,
                1 => (n >> 40) as usize % 200,
                2 if i % 49 == 2 => CHUNK + (n >> 40) as usize % CHUNK,
                _ => (n >> 40) as usize % 60,
            };
            let event = !(n >> 20).is_multiple_of(3);
            if event {
                content.push(b'{');
            }
            content.extend((0..len).map(|k| b"abc\"\\ {}"[(k + i) % 8]));
            content.push(b'\n');
        }
        let f = file_with(&content);
        let size = content.len() as u64;
        let (whole, end) = skimmed(f.path(), 0, u64::MAX, &LIMITS);
        assert_eq!(end, size);
        let mut stepped = Vec::new();
        let mut offset = 0;
        let mut stop = 0u64;
        while offset < size {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            stop = (stop + (n >> 40) % 100_000).min(size);
            let (seen, end) = skimmed(f.path(), offset, stop, &LIMITS);
            assert!(end <= stop.max(offset));
            stepped.extend(seen);
            offset = end;
            if stop == size && end < size {
                panic!("stuck at {end}");
            }
        }
        assert_eq!(stepped, whole);
    }
}
