//! The per-job output cap, enforced by the job's monitor on `output.txt`.
//!
//! codex writes straight into `output.txt` through an `O_APPEND` descriptor:
//! no copy loop, so capture runs at `cat` speed and survives the daemon. The
//! monitor therefore cannot filter the stream; instead it checks the file's size
//! every [`CHECK_EVERY`] and, past the cap, drops the *head* in place, keeping
//! the newest output. Because codex's descriptor is `O_APPEND`, its next write
//! lands at the new end whatever the monitor did to the front.
//!
//! How the head is dropped, best first (the first that the filesystem accepts
//! is kept for the job):
//!
//! 1. **Collapse** (Linux: ext4, XFS, f2fs): `fallocate(FALLOC_FL_COLLAPSE_RANGE)`
//!    removes whole filesystem blocks from the front and shifts the rest down,
//!    atomically with respect to codex's appends. Nothing newer than the cap is
//!    lost and the file really shrinks.
//! 2. **Punch** (Linux: btrfs, tmpfs, …; macOS: APFS): `FALLOC_FL_PUNCH_HOLE`
//!    (Linux) or `fcntl(F_PUNCHHOLE)` (macOS, whole blocks only: the rest of
//!    the last block is overwritten with NUL bytes) frees the head's blocks.
//!    Disk use is bounded and nothing new is lost, but the file keeps its
//!    apparent size (a sparse file whose head reads as NUL bytes). macOS has no
//!    collapse, so on APFS this is where it starts.
//! 3. **Rewrite** (any filesystem without either: HFS+, network filesystems):
//!    copy the newest half of the cap to the front and truncate. Output codex
//!    writes during the rewrite (a few milliseconds, once per half-cap of
//!    output) may be lost or land before the marker.
//!
//! Each drop writes a marker line at the front of what is kept, saying how many
//! bytes of codex's output were dropped in total. Between two checks codex may
//! write past the cap by what it prints in [`CHECK_EVERY`]; the bound is the cap
//! plus that. Poll reads from the end (`tail.rs`), so it is unaffected; Watch
//! offsets are file offsets, so a Watch running across a drop can skip output.

use std::{
    fs::{File, OpenOptions},
    io::{self, Write},
    os::unix::fs::{FileExt, MetadataExt},
    path::Path,
    time::Duration,
};

/// How often the monitor checks the output's size (one fstat).
pub const CHECK_EVERY: Duration = Duration::from_millis(100);

/// The marker line's fixed length, so the bytes it overwrites are known.
pub const MARKER_LEN: u64 = 192;

/// What a marker line says (see [`parse_marker`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    /// Bytes of codex's output dropped so far.
    pub dropped: u64,
    /// The cap: how many of the newest bytes are kept.
    pub cap: u64,
}

/// How the head is dropped on this file (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Collapse,
    Punch,
    Rewrite,
}

/// The cap on one job's output file.
pub struct OutputCap {
    file: File,
    path: std::path::PathBuf,
    cap: u64,
    method: Method,
    /// Bytes of codex's output dropped so far.
    dropped: u64,
    /// Punch only: everything before this offset is a hole or the marker.
    kept_from: u64,
}

/// What one enforcement pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub method: Method,
    /// Total bytes of codex's output dropped so far.
    pub total: u64,
}

impl OutputCap {
    /// Opens `path` (codex's output file) for enforcing `cap` bytes.
    pub fn open(path: &Path, cap: u64) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let method = if cfg!(target_os = "linux") {
            Method::Collapse
        } else if cfg!(target_os = "macos") {
            Method::Punch
        } else {
            Method::Rewrite
        };
        Ok(Self {
            file,
            path: path.to_path_buf(),
            cap: cap.max(MARKER_LEN * 4),
            method,
            dropped: 0,
            kept_from: 0,
        })
    }

    /// Drops the head if the file is over the cap; says what it did, if anything.
    pub fn enforce(&mut self) -> io::Result<Option<Dropped>> {
        loop {
            let result = match self.method {
                Method::Collapse => self.collapse(),
                Method::Punch => self.punch(),
                Method::Rewrite => self.rewrite(),
            };
            match result {
                Err(e) if self.method != Method::Rewrite && unsupported(&e) => {
                    // The filesystem says no: the next method, for good.
                    self.method = match self.method {
                        Method::Collapse => Method::Punch,
                        _ => Method::Rewrite,
                    };
                }
                Err(e) => return Err(e),
                Ok(false) => return Ok(None),
                Ok(true) => {
                    return Ok(Some(Dropped {
                        method: self.method,
                        total: self.dropped,
                    }))
                }
            }
        }
    }

    fn size(&self) -> io::Result<(u64, u64)> {
        let meta = self.file.metadata()?;
        Ok((meta.len(), meta.blksize().max(4096)))
    }

    #[cfg(target_os = "linux")]
    fn collapse(&mut self) -> io::Result<bool> {
        let (size, block) = self.size()?;
        if size <= self.cap {
            return Ok(false);
        }
        let len = (size - self.cap).div_ceil(block) * block;
        // The range must end before EOF and leave room for the marker.
        if len + MARKER_LEN >= size {
            return Ok(false);
        }
        fallocate(&self.file, libc::FALLOC_FL_COLLAPSE_RANGE, 0, len)?;
        // The first pass overwrites codex bytes with the marker; later passes
        // remove the old marker with the range and overwrite as many codex
        // bytes again, so each pass drops exactly `len` bytes of output.
        self.dropped += if self.dropped == 0 {
            len + MARKER_LEN
        } else {
            len
        };
        self.write_marker(0)?;
        Ok(true)
    }

    fn punch(&mut self) -> io::Result<bool> {
        let (size, block) = self.size()?;
        if size - self.kept_from.min(size) <= self.cap {
            return Ok(false);
        }
        // Offsets never move here, so the marker ends exactly where kept output begins.
        let kept_from = (size - self.cap).div_ceil(block) * block;
        if kept_from <= MARKER_LEN || kept_from >= size {
            return Ok(false);
        }
        punch_hole(&self.file, kept_from - MARKER_LEN, block)?;
        self.kept_from = kept_from;
        self.dropped = kept_from;
        self.write_marker(kept_from - MARKER_LEN)?;
        Ok(true)
    }

    #[cfg(not(target_os = "linux"))]
    fn collapse(&mut self) -> io::Result<bool> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    fn rewrite(&mut self) -> io::Result<bool> {
        let (size, _) = self.size()?;
        if size <= self.cap {
            return Ok(false);
        }
        // Keep half the cap, so the copy happens once per half-cap of output
        // rather than on every check.
        let keep = self.cap / 2;
        let mut tail = vec![0u8; usize::try_from(keep).map_err(io::Error::other)?];
        self.file.read_exact_at(&mut tail, size - keep)?;
        let codex_bytes = if self.dropped == 0 {
            size
        } else {
            size - MARKER_LEN
        };
        self.dropped += codex_bytes - keep;
        self.file.set_len(0)?;
        let mut append = OpenOptions::new().append(true).open(&self.path)?;
        let mut text = marker(self.dropped, self.cap);
        text.extend_from_slice(&tail);
        append.write_all(&text)?;
        Ok(true)
    }

    fn write_marker(&self, at: u64) -> io::Result<()> {
        self.file.write_all_at(&marker(self.dropped, self.cap), at)
    }
}

/// The marker line: exactly [`MARKER_LEN`] bytes, newline last.
pub fn marker(dropped: u64, cap: u64) -> Vec<u8> {
    let text = format!(
        "[codex-async: {dropped} bytes of earlier output dropped; the last {cap} bytes are kept (CODEX_ASYNC_OUTPUT_CAP_BYTES)]"
    );
    let mut line = text.into_bytes();
    let len = usize::try_from(MARKER_LEN).unwrap_or(192);
    line.resize(len - 1, b' ');
    line.push(b'\n');
    line
}

/// How far the cap has moved the output's bytes toward the front: a byte
/// written at offset `o` is at `o - shift` now (or dropped, if that is
/// before the marker's end). Read from the marker at the front, which a
/// collapse or a rewrite puts there with the total dropped; 0 before the
/// first drop, and with punch, which moves nothing (its marker is further
/// in, after the hole). Lets a reader keep offsets that a drop does not
/// invalidate (the event summary).
pub fn shift(path: &Path) -> io::Result<u64> {
    let file = File::open(path)?;
    let mut head = vec![0u8; usize::try_from(MARKER_LEN).unwrap_or(192)];
    let mut read = 0;
    while read < head.len() {
        match file.read_at(&mut head[read..], read as u64) {
            Ok(0) => return Ok(0),
            Ok(n) => read += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if head.first() != Some(&b'[') {
        return Ok(0);
    }
    Ok(parse_marker(&head).map_or(0, |m| m.dropped.saturating_sub(MARKER_LEN)))
}

/// The marker line written by [`marker`], if `line` (without or with its
/// newline) is one. The NUL bytes a punched head reads as, on the same line
/// before the marker, are skipped.
pub fn parse_marker(line: &[u8]) -> Option<Marker> {
    let start = line.iter().position(|&b| b != 0)?;
    let text = std::str::from_utf8(&line[start..]).ok()?.trim_end();
    let rest = text.strip_prefix("[codex-async: ")?;
    let (dropped, rest) = rest.split_once(" bytes of earlier output dropped; the last ")?;
    let (cap, rest) = rest.split_once(" bytes are kept")?;
    rest.ends_with(']').then_some(())?;
    Some(Marker {
        dropped: dropped.parse().ok()?,
        cap: cap.parse().ok()?,
    })
}

/// True for errors that mean "this filesystem cannot do that".
fn unsupported(e: &io::Error) -> bool {
    // ENOTSUP and EOPNOTSUPP are one value on Linux, two on macOS.
    e.kind() == io::ErrorKind::Unsupported
        || e.raw_os_error().is_some_and(|errno| {
            [libc::EOPNOTSUPP, libc::ENOTSUP, libc::ENOSYS, libc::EINVAL].contains(&errno)
        })
}

/// Frees the file's first `len` bytes (they read as NUL bytes from then on),
/// its size unchanged.
#[cfg(target_os = "linux")]
fn punch_hole(file: &File, len: u64, _block: u64) -> io::Result<()> {
    // Linux zeroes the partial block at the end itself.
    fallocate(
        file,
        libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
        0,
        len,
    )
}

/// Frees the file's first `len` bytes (they read as NUL bytes from then on),
/// its size unchanged.
#[cfg(target_os = "macos")]
fn punch_hole(file: &File, len: u64, block: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // F_PUNCHHOLE takes whole blocks only: the rest up to `len` is written over
    // with NUL bytes, as Linux does for a partial block.
    let whole = len / block * block;
    if whole > 0 {
        let hole = libc::fpunchhole_t {
            fp_flags: 0,
            reserved: 0,
            fp_offset: 0,
            fp_length: libc::off_t::try_from(whole).map_err(io::Error::other)?,
        };
        // SAFETY: F_PUNCHHOLE reads the fpunchhole_t it is given, which lives
        // here, on a descriptor we own.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_PUNCHHOLE, &hole) };
        if rc == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    let rest = usize::try_from(len - whole).map_err(io::Error::other)?;
    file.write_all_at(&vec![0u8; rest], whole)
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn punch_hole(_file: &File, _len: u64, _block: u64) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(target_os = "linux")]
fn fallocate(file: &File, mode: libc::c_int, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let offset = libc::off_t::try_from(offset).map_err(io::Error::other)?;
    let len = libc::off_t::try_from(len).map_err(io::Error::other)?;
    // SAFETY: fallocate takes a descriptor we own and plain integers; it
    // touches no memory of ours.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), mode, offset, len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Appends `n` numbered lines through an O_APPEND handle, as codex would.
    fn append_lines(path: &Path, from: usize, n: usize) {
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .expect("open for append");
        for i in from..from + n {
            writeln!(f, "line {i:08}").expect("append");
        }
    }

    fn contents(path: &Path) -> Vec<u8> {
        let mut buf = Vec::new();
        File::open(path)
            .expect("open")
            .read_to_end(&mut buf)
            .expect("read");
        buf
    }

    fn check(method: Method) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("output.txt");
        let cap = 64 * 1024;
        append_lines(&path, 0, 10);
        let mut out = OutputCap::open(&path, cap).expect("open");
        out.method = method;
        assert_eq!(out.enforce().expect("enforce"), None, "under the cap");
        let mut written = 10 * 14;
        for round in 0..20 {
            append_lines(&path, 10 + round * 2000, 2000);
            written += 2000 * 14;
            let dropped = out.enforce().expect("enforce");
            let used = out.method;
            let data = contents(&path);
            let kept = if used == Method::Punch {
                data.len() as u64 - out.kept_from + MARKER_LEN
            } else {
                data.len() as u64
            };
            assert!(
                kept <= cap,
                "{used:?}: {kept} bytes kept over a cap of {cap}"
            );
            if let Some(d) = dropped {
                let text = String::from_utf8_lossy(&data);
                let marker = format!("[codex-async: {} bytes of earlier output dropped", d.total);
                assert!(text.contains(&marker), "{used:?}: no marker {marker}");
                let expected_last = format!("line {:08}\n", 10 + round * 2000 + 1999);
                assert!(text.ends_with(&expected_last), "{used:?}: last line kept");
                // Codex bytes in the file plus those dropped are all that was written.
                let codex_in_file = if used == Method::Punch {
                    data.len() as u64 - out.kept_from
                } else {
                    data.len() as u64 - MARKER_LEN
                };
                assert_eq!(
                    codex_in_file + d.total,
                    written as u64,
                    "{used:?}: accounting"
                );
            }
        }
        eprintln!("{method:?} ran as {:?}", out.method);
        assert!(out.dropped > 0);
    }

    #[test]
    fn collapse_keeps_the_tail_and_counts_what_it_dropped() {
        check(Method::Collapse);
    }

    #[test]
    fn punch_keeps_the_tail_and_counts_what_it_dropped() {
        check(Method::Punch);
    }

    #[test]
    fn rewrite_keeps_the_tail_and_counts_what_it_dropped() {
        check(Method::Rewrite);
    }

    #[test]
    fn marker_has_a_fixed_length() {
        assert_eq!(marker(0, 1).len() as u64, MARKER_LEN);
        assert_eq!(marker(u64::MAX, u64::MAX).len() as u64, MARKER_LEN);
    }

    #[test]
    fn a_marker_reads_back_and_nothing_else_does() {
        let want = Some(Marker {
            dropped: 3_000_000,
            cap: 65_536,
        });
        let line = marker(3_000_000, 65_536);
        assert_eq!(parse_marker(&line), want);
        assert_eq!(parse_marker(&line[..line.len() - 1]), want);
        let mut punched = vec![0u8; 4096];
        punched.extend_from_slice(&line);
        assert_eq!(parse_marker(&punched), want);
        for other in [
            &b"[codex-async: many bytes of earlier output dropped; the last 1 bytes are kept]"[..],
            b"{\"type\":\"turn.started\"}",
            b"",
            b"\0\0\0",
        ] {
            assert_eq!(
                parse_marker(other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
