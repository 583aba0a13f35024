//! Finding a program the way the monitor's spawn will: a path with a slash
//! as it is, a bare name on PATH. Hand-written rather than the `which`
//! crate: ten lines, and doctor also needs the case `which` does not answer
//! (a file on PATH without its execute bit).

use std::{
    fs,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

/// A program as the shell would find it: a path with a slash as is, else
/// the first executable match on PATH.
pub fn which(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return is_executable(program).then(|| program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

/// The file a shell would have run for `program` but cannot: it exists and
/// has no execute bit (None when an executable one exists, or none at all).
pub fn not_executable(program: &Path) -> Option<PathBuf> {
    let is_file = |p: &Path| fs::metadata(p).is_ok_and(|m| m.is_file());
    if program.components().count() > 1 {
        return is_file(program).then(|| program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| is_file(p))
}

/// A file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}
