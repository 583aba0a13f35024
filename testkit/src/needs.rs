//! What a test needs that a machine may lack, and how long a test may wait.
//!
//! Skipping is decided in one place, [`skip_or_fail`]: on a developer's
//! machine a test whose tool is missing says so and passes, but under
//! `CI=true` (which `.ci/run` exports) it fails, naming what is missing and
//! how `.ci/run` gets it, so a green CI run means every test ran.
//!
//! Waits are deadlines, never sleeps standing in for synchronization: a
//! condition is polled until it holds, and the limit only bounds how long a
//! broken run takes to fail. So the limits are generous (a loaded 2-core
//! machine runs several test binaries, codex and Claude Code at once), and
//! `$CODEX_ASYNC_TEST_TIME_SCALE` multiplies them for slower machines.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

/// How long any condition in a test may take, before
/// [`CODEX_ASYNC_TEST_TIME_SCALE`](time_scale): two minutes, four times what
/// the slowest wait (the real codex starting and running a command) took on
/// a 2-core machine building and testing at once.
const BASE_DEADLINE: Duration = Duration::from_secs(120);

/// True when the tests run as CI: `$CI` is `true` or `1` (what CI services
/// set, and what `.ci/run` exports). Then no test may skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The one place a test gives up because something it needs (a tool, root,
/// a kernel feature) is missing; `what` says what is missing ("grpcurl is
/// not on PATH"), `how_to_get_it` how `.ci/run` (or the machine) provides
/// it. Prints `SKIPPED: …` and returns, and the caller returns (or leaves
/// out the part that needs it). Under `CI=true` it panics instead, so CI
/// cannot pass by skipping.
#[track_caller]
pub fn skip_or_fail(what: &str, how_to_get_it: &str) {
    if in_ci() {
        panic!("CI=true, so this test may not skip: {what}; {how_to_get_it}");
    }
    eprintln!("SKIPPED: {what}; {how_to_get_it} (under CI=true this fails)");
}

/// The file `$var` names (`what`: e.g. "the claude binary of
/// @anthropic-ai/claude-code"), or None after [`skip_or_fail`] (unset, or no
/// such file).
#[track_caller]
pub fn tool_from_env(var: &str, what: &str, how_to_get_it: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(path) if Path::new(&path).exists() => Some(PathBuf::from(path)),
        Some(path) => {
            let path = Path::new(&path).display().to_string();
            skip_or_fail(
                &format!("{what} is missing: ${var} names {path}, which does not exist"),
                how_to_get_it,
            );
            None
        }
        None => {
            skip_or_fail(
                &format!("{what} is missing: set ${var} to it"),
                how_to_get_it,
            );
            None
        }
    }
}

/// True when `program version_arg` runs on PATH and exits 0; else false
/// after [`skip_or_fail`].
#[track_caller]
pub fn tool_on_path(program: &str, version_arg: &str, how_to_get_it: &str) -> bool {
    let runs = Command::new(program)
        .arg(version_arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !runs {
        skip_or_fail(
            &format!("{program} is not on PATH (`{program} {version_arg}` did not run)"),
            how_to_get_it,
        );
    }
    runs
}

/// True when the test runs as root; else false after [`skip_or_fail`]
/// (`for_what`: what root is needed for).
#[track_caller]
pub fn root(for_what: &str) -> bool {
    let euid = nix::unistd::geteuid();
    if euid.is_root() {
        return true;
    }
    skip_or_fail(
        &format!("this test needs root {for_what}, and runs as uid {euid}"),
        "run the tests as root: CI does, and .ci/run refuses to start otherwise",
    );
    false
}

/// The factor every test deadline is multiplied by:
/// `$CODEX_ASYNC_TEST_TIME_SCALE`, a positive number (default 1; e.g. 3 on
/// a machine three times slower). A value that is not one panics, rather
/// than silently giving the default.
pub fn time_scale() -> f64 {
    match std::env::var("CODEX_ASYNC_TEST_TIME_SCALE") {
        Err(_) => 1.0,
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(scale) if scale.is_finite() && scale > 0.0 => scale,
            _ => panic!("CODEX_ASYNC_TEST_TIME_SCALE={text:?} is not a positive number"),
        },
    }
}

/// `base` multiplied by [`time_scale`]: for a wait limit a test sets itself.
pub fn scaled(base: Duration) -> Duration {
    base.mul_f64(time_scale())
}

/// How long any condition in a test may take (two minutes, times
/// [`time_scale`]): the limit of [`wait_until`](crate::wait_until),
/// [`poll_for`](crate::poll_for) and every other wait in testkit.
pub fn deadline() -> Duration {
    scaled(BASE_DEADLINE)
}
