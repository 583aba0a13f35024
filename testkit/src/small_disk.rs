//! Real resource faults for the fault suite: a small filesystem that fills up.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// A tmpfs of a given size mounted at a folder (a state home, say), so a test
/// can fill it for real and then give the room back. Needs root (CI runs as
/// root); [`SmallDisk::mount`] says why it cannot, and the test skips.
/// Unmounted (lazily: processes still inside are killed by their own guards)
/// when dropped.
pub struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    /// Mounts a `bytes`-byte tmpfs at `path` (created 0700 if missing), or
    /// says why not (then the caller prints "SKIPPED: …" and returns).
    pub fn mount(path: &Path, bytes: u64) -> Result<Self, String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("mounting a small filesystem needs root (CI runs as root)".into());
        }
        std::fs::create_dir_all(path).map_err(|e| format!("create {}: {e}", path.display()))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={bytes},mode=0700"))
            .arg("tmpfs")
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// Gives the filesystem a new size (room comes back, or goes).
    pub fn resize(&self, bytes: u64) {
        let status = Command::new("mount")
            .args(["-o"])
            .arg(format!("remount,size={bytes}"))
            .arg(&self.path)
            .status()
            .expect("run mount -o remount");
        assert!(status.success(), "remount {} failed", self.path.display());
    }

    /// Bytes an unprivileged writer could still write.
    // statvfs's fields are u64 on Linux and u32 on macOS: widened for both.
    #[allow(clippy::useless_conversion)]
    pub fn available(&self) -> u64 {
        let stat = nix::sys::statvfs::statvfs(&self.path).expect("statvfs");
        u64::from(stat.blocks_available()) * u64::from(stat.fragment_size())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A folder (a state home) made read-only in place while processes use it:
/// the folder is bind-mounted onto itself and the bind remounted read-only,
/// so every open, create or rename by path fails with EROFS, as on a
/// filesystem remounted read-only, while descriptors opened before stay as
/// they were (a plain `mount -o remount,ro` is refused while files are open
/// for writing). Root only; [`ReadOnlyView::apply`] says why it cannot.
/// Undone by [`ReadOnlyView::lift`] or when dropped.
pub struct ReadOnlyView {
    path: PathBuf,
    active: bool,
}

impl ReadOnlyView {
    /// Makes `path` read-only now.
    pub fn apply(path: &Path) -> Result<Self, String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("a read-only bind mount needs root (CI runs as root)".into());
        }
        let run = |args: &[&str]| -> Result<(), String> {
            let out = Command::new("mount")
                .args(args)
                .arg(path)
                .arg(path)
                .output()
                .map_err(|e| format!("cannot run mount: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "mount {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        // One mount(8) run binds and remounts read-only back to back: with
        // two runs, a file opened for writing through the new bind in
        // between (a process working in the home) made the remount EBUSY.
        run(&["--bind", "-o", "ro"])?;
        Ok(Self {
            path: path.to_path_buf(),
            active: true,
        })
    }

    /// Makes the folder writable again (lazily: descriptors opened through
    /// the read-only view keep reading).
    pub fn lift(&mut self) {
        if self.active {
            let status = Command::new("umount")
                .arg("-l")
                .arg(&self.path)
                .status()
                .expect("run umount");
            assert!(status.success(), "umount {} failed", self.path.display());
            self.active = false;
        }
    }
}

impl Drop for ReadOnlyView {
    fn drop(&mut self) {
        if self.active {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}
