//! The codex releases codex-async works with, the codex features it relies
//! on (and the release each came with), and what a job says when its codex
//! rejects one of them: codex's own answer is clap's usage text, exit 2,
//! which names neither the version needed nor the fix.
//!
//! Measured (2026-12) with the real-codex suites and `codex exec --help`,
//! `codex exec resume --help`, `codex exec review --help` of the releases
//! from npm: see [`MIN_CODEX`] for why the oldest supported is what it is.

use std::{
    ffi::OsStr,
    fmt,
    io::{self, Read, Seek, SeekFrom},
    path::Path,
    process::Stdio,
    str::FromStr,
    time::Duration,
};

/// A codex release, `major.minor.patch` (a pre-release suffix is dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// The major version.
    pub major: u64,
    /// The minor version.
    pub minor: u64,
    /// The patch version.
    pub patch: u64,
}

impl Version {
    /// The release `major.minor.patch`.
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// The version in `codex --version`'s output: `codex-cli 0.171.0`
    /// (also `0.171.0-alpha.1`, `v0.171`) → 0.171.0. None when the text
    /// holds no version.
    pub fn parse(text: &str) -> Option<Self> {
        // Hand-rolled rather than `semver`: codex's output is a word before
        // the version, and "v1.2" (no patch) must read too, which semver refuses.
        let word = text.split_whitespace().find(|w| {
            w.trim_start_matches('v')
                .starts_with(|c: char| c.is_ascii_digit())
        })?;
        let core = word.trim_start_matches('v').split(['-', '+']).next()?;
        let mut parts = core.split('.').map(u64::from_str);
        let major = parts.next()?.ok()?;
        let minor = parts.next()?.ok()?;
        let patch = parts.next().unwrap_or(Ok(0)).ok()?;
        Some(Self::new(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The oldest codex codex-async supports, tested in CI beside
/// [`NEWEST_TESTED`]. Every release before it fails the real-codex suites,
/// on both front ends: through 0.145.0 a turn may end without the end of an
/// item that finished (a command's, so its exit code is lost, or the final
/// answer): `codex exec --json` in most runs of 0.132.0, 0.140.0 and
/// 0.145.0, `codex app-server` (`item/completed`) in `real_codex.rs` and
/// `approvals.rs` runs of 0.125.0 and 0.140.0 (2026-12-04), and in none of
/// 0.146.0 or later; 0.125.0 also leaves an empty `.codex` file in a
/// workspace-write job's folder (so a worktree job keeps an uncommitted file).
pub const MIN_CODEX: Version = Version::new(0, 146, 0);

/// The newest codex release the tests ran against.
pub const NEWEST_TESTED: Version = Version::new(0, 171, 0);

/// How to install or upgrade codex.
pub const CODEX_INSTALL: &str = "npm install -g @openai/codex";

/// Bounds `codex --version` (it starts Node; a loaded machine is slow).
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The codex command a feature belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `codex app-server`: every task and reply.
    AppServer,
    /// Plain `codex exec`: codexd never runs it, but a codex without
    /// `exec review` takes "review" for a prompt, and its usage error then
    /// names this command.
    Exec,
    /// `codex exec review`: a review.
    Review,
}

impl Command {
    /// The command as people type it.
    pub fn shown(self) -> &'static str {
        match self {
            Self::AppServer => "codex app-server",
            Self::Exec => "codex exec",
            Self::Review => "codex exec review",
        }
    }

    /// The command of clap's `Usage: codex exec review …` line.
    fn from_usage(line: &str) -> Option<Self> {
        let rest = line.trim().strip_prefix("Usage: codex ")?;
        let mut words = rest.split_whitespace();
        Some(match (words.next(), words.next()) {
            (Some("app-server"), _) => Self::AppServer,
            (Some("exec"), Some("review")) => Self::Review,
            (Some("exec"), _) => Self::Exec,
            _ => return None,
        })
    }
}

/// One thing codex-async asks of codex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    /// The command it is given to.
    pub command: Command,
    /// The argument as codexd passes it; None for the command itself (a subcommand).
    pub argument: Option<&'static str>,
    /// What codex-async uses it for, in the words of its tools.
    pub used_for: &'static str,
    /// The first codex release that has it, as far as measured: 0.125.0 is
    /// the oldest release whose help was read, so "0.125.0" means "0.125.0
    /// or older".
    pub since: Version,
}

impl Feature {
    /// The codex it needs within what codex-async supports.
    pub fn needs(&self) -> Version {
        self.since.max(MIN_CODEX)
    }

    /// The feature as a person would recognise it.
    pub fn shown(&self) -> String {
        match (self.command, self.argument) {
            (_, None) => format!("`{}`", self.command.shown()),
            (command, Some(arg)) => format!("{arg} after `{}`", command.shown()),
        }
    }
}

const fn feature(
    command: Command,
    argument: Option<&'static str>,
    used_for: &'static str,
    since: Version,
) -> Feature {
    Feature {
        command,
        argument,
        used_for,
        since,
    }
}

const V0_125: Version = Version::new(0, 125, 0);

/// Every codex feature codex-async relies on (read from the `--help` of
/// codex 0.125.0, 0.140.0, 0.146.0 and 0.171.0). A task's or a reply's
/// settings go in app-server requests, not flags: what an app-server lacks
/// there is its error, named by the job (engine/codex/session.rs).
pub const FEATURES: &[Feature] = &[
    feature(
        Command::AppServer,
        None,
        "every task and reply (codex's app-server)",
        V0_125,
    ),
    feature(Command::Review, None, "codex_review", V0_125),
    feature(Command::Review, Some("--json"), "codex_review", V0_125),
    feature(
        Command::Review,
        Some("--uncommitted"),
        "codex_review target uncommitted",
        V0_125,
    ),
    feature(
        Command::Review,
        Some("--base"),
        "codex_review target base",
        V0_125,
    ),
    feature(
        Command::Review,
        Some("--commit"),
        "codex_review target commit",
        V0_125,
    ),
    feature(
        Command::Review,
        Some("--title"),
        "codex_review's title",
        V0_125,
    ),
    feature(Command::Review, Some("-c"), "codex_review", V0_125),
    feature(
        Command::Review,
        Some("--model"),
        "model on codex_review",
        V0_125,
    ),
];

/// The feature of `argument` given to `command`; a review-only flag rejected
/// by plain `codex exec` means that codex has no `exec review` at all (it took
/// "review" for the prompt).
pub fn feature_of(command: Command, argument: &str) -> Option<&'static Feature> {
    let exact = FEATURES
        .iter()
        .find(|f| f.command == command && f.argument == Some(argument));
    exact.or_else(|| {
        let review_only = command == Command::Exec
            && FEATURES
                .iter()
                .any(|f| f.command == Command::Review && f.argument == Some(argument));
        review_only
            .then(|| {
                FEATURES
                    .iter()
                    .find(|f| f.command == Command::Review && f.argument.is_none())
            })
            .flatten()
    })
}

/// What codex's usage error rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// `error: unexpected argument '--x' found` (with the command of its usage line).
    Argument {
        /// The argument codex did not know.
        argument: String,
        /// The command whose usage codex printed.
        command: Command,
    },
    /// `error: unrecognized subcommand 'x'`.
    Subcommand(String),
}

/// The argument in clap's usage error in `output` (codex's stdout and
/// stderr), if there is one.
pub fn parse_rejection(output: &str) -> Option<Rejected> {
    let quoted = |line: &str, prefix: &str| {
        let rest = line.trim().strip_prefix(prefix)?;
        let end = rest.find('\'')?;
        Some(rest[..end].to_string())
    };
    let mut lines = output.lines();
    while let Some(line) = lines.next() {
        if let Some(name) = quoted(line, "error: unrecognized subcommand '") {
            return Some(Rejected::Subcommand(name));
        }
        if let Some(argument) = quoted(line, "error: unexpected argument '") {
            // The argument as codex-async passes it: `--model=x` is `--model`.
            let argument = match argument.split_once('=') {
                Some((flag, _)) if flag.starts_with('-') => flag.to_string(),
                _ => argument,
            };
            let command = lines
                .clone()
                .find_map(Command::from_usage)
                .unwrap_or(Command::Exec);
            return Some(Rejected::Argument { argument, command });
        }
    }
    None
}

/// Why a job's codex refused its command line, in words that name the
/// version it needs and the fix; `version` is the codex's (None when
/// unknown), `extra_args` codexd's `extra_codex_args`.
pub fn explain(rejected: &Rejected, version: Option<Version>, extra_args: &[String]) -> String {
    let codex = match version {
        Some(v) => format!("codex {v}"),
        None => "codex (its version unknown)".to_string(),
    };
    let too_new = |v: Option<Version>, needs: Version| v.is_some_and(|v| v >= needs);
    let pin = format!(
        "codex-async is tested with codex {MIN_CODEX} to {NEWEST_TESTED}: install one of those \
         (`{CODEX_INSTALL}@{NEWEST_TESTED}`) or update codex-async"
    );
    let (argument, command) = match rejected {
        Rejected::Subcommand(name) => (name.clone(), None),
        Rejected::Argument { argument, command } => (argument.clone(), Some(*command)),
    };
    let known = match (rejected, command) {
        (Rejected::Argument { .. }, Some(command)) => feature_of(command, &argument),
        _ => FEATURES.iter().find(|f| {
            f.argument.is_none() && f.command.shown().rsplit(' ').next() == Some(argument.as_str())
        }),
    };
    if let Some(f) = known {
        let needs = f.needs();
        if too_new(version, needs) {
            return format!(
                "{codex} no longer accepts {}, which codex-async needs for {}; {pin}",
                f.shown(),
                f.used_for
            );
        }
        return format!(
            "{codex} does not know {}, which codex-async needs for {}; it needs codex ≥ {needs}: \
             upgrade it with `{CODEX_INSTALL}`",
            f.shown(),
            f.used_for
        );
    }
    let shown = match command {
        None => argument.clone(),
        Some(command) => format!("{argument} after `{}`", command.shown()),
    };
    if extra_args
        .iter()
        .any(|a| a.split('=').next() == Some(argument.as_str()))
    {
        return format!(
            "{codex} does not know {shown}, which comes from extra_codex_args in codexd's \
             settings: remove it there (then `codexd stop && codexd start`), or upgrade codex \
             with `{CODEX_INSTALL}`"
        );
    }
    if too_new(version, MIN_CODEX) {
        return format!("{codex} rejected the argument {shown}; {pin}");
    }
    format!(
        "{codex} rejected the argument {shown}; codex-async needs codex ≥ {MIN_CODEX}: upgrade it \
         with `{CODEX_INSTALL}`"
    )
}

/// The version `codex_bin --version` prints, within [`VERSION_TIMEOUT`];
/// None when it cannot run, does not answer in time, or prints no version.
pub async fn read_version(codex_bin: &OsStr) -> Option<Version> {
    let run = tokio::process::Command::new(codex_bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(VERSION_TIMEOUT, run)
        .await
        .ok()?
        .ok()?;
    Version::parse(&String::from_utf8_lossy(&output.stdout))
}

/// How much of the end of a job's output is searched for codex's usage
/// error: it is all codex prints then, a few hundred bytes (plus a warning).
const TAIL_BYTES: u64 = 16 * 1024;

/// The end of a job's output file (its last [`TAIL_BYTES`]), where codex's
/// own last words are.
pub(crate) fn read_tail(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
    let mut bytes = Vec::new();
    file.take(TAIL_BYTES).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// For a job whose codex exited with `exit_code`: when that is codex's usage
/// error (exit 2 and "unexpected argument" or "unrecognized subcommand" in
/// `output`, the job's output file), the reason to record instead, naming
/// the codex version needed and the fix. None otherwise.
pub async fn explain_exit(
    codex_bin: &OsStr,
    extra_args: &[String],
    output: &Path,
    exit_code: i32,
) -> Option<String> {
    if exit_code != 2 {
        return None;
    }
    let path = output.to_path_buf();
    let tail = tokio::task::spawn_blocking(move || read_tail(&path))
        .await
        .ok()?
        .ok()?;
    let rejected = parse_rejection(&tail)?;
    let version = read_version(codex_bin).await;
    Some(explain(&rejected, version, extra_args))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exactly what codex 0.171.0 printed for `codex app-server -m x`.
    const APP_SERVER: &str = "error: unexpected argument '-m' found\n\nUsage: codex app-server [OPTIONS] [COMMAND]\n\nFor more information, try '--help'.\n";
    /// Exactly what codex 0.125.0 printed for `codex exec --frobnicate x`.
    const OLD_EXEC: &str = "error: unexpected argument '--frobnicate' found\n\n  tip: to pass '--frobnicate' as a value, use '-- --frobnicate'\n\nUsage: codex exec [OPTIONS] [PROMPT]\n       codex exec [OPTIONS] <COMMAND> [ARGS]\n\nFor more information, try '--help'.\n";

    #[test]
    fn versions_parse_from_codex_output() {
        assert_eq!(
            Version::parse("codex-cli 0.171.0\n"),
            Some(Version::new(0, 171, 0))
        );
        assert_eq!(
            Version::parse("codex-cli 0.125.0-alpha.2"),
            Some(Version::new(0, 125, 0))
        );
        assert_eq!(Version::parse("v1.2"), Some(Version::new(1, 2, 0)));
        assert_eq!(Version::parse("codex-cli"), None);
        assert_eq!(Version::parse("codex-cli x.1.2"), None);
        assert!(Version::new(0, 145, 9) < MIN_CODEX);
        assert!(Version::new(0, 146, 0) >= MIN_CODEX);
        assert!(Version::new(1, 0, 0) > NEWEST_TESTED);
        assert_eq!(MIN_CODEX.to_string(), "0.146.0");
    }

    #[test]
    fn the_table_has_one_row_per_feature_and_none_after_the_newest_tested() {
        for (i, f) in FEATURES.iter().enumerate() {
            assert!(
                FEATURES[..i]
                    .iter()
                    .all(|g| (g.command, g.argument) != (f.command, f.argument)),
                "{f:?} twice"
            );
            assert!(f.since <= NEWEST_TESTED, "{f:?}");
            assert!(f.needs() >= MIN_CODEX);
        }
        // A review flag refused by plain exec: that codex has no `exec review`.
        assert_eq!(
            feature_of(Command::Exec, "--uncommitted").map(|f| (f.command, f.argument)),
            Some((Command::Review, None))
        );
        assert_eq!(feature_of(Command::Exec, "--frobnicate"), None);
    }

    #[test]
    fn codex_usage_errors_are_parsed() {
        assert_eq!(
            parse_rejection(APP_SERVER),
            Some(Rejected::Argument {
                argument: "-m".into(),
                command: Command::AppServer
            })
        );
        let with_warning = format!("WARNING: proceeding, even though …\n{OLD_EXEC}");
        assert_eq!(
            parse_rejection(&with_warning),
            Some(Rejected::Argument {
                argument: "--frobnicate".into(),
                command: Command::Exec
            })
        );
        assert_eq!(
            parse_rejection("error: unrecognized subcommand 'review'\n\nUsage: codex exec"),
            Some(Rejected::Subcommand("review".into()))
        );
        assert_eq!(
            parse_rejection("{\"type\":\"turn.failed\"}\nerror: something else\n"),
            None
        );
    }

    #[test]
    fn a_too_old_codex_is_told_the_version_it_needs() {
        let old = Some(Version::new(0, 125, 0));
        let uncommitted = Rejected::Argument {
            argument: "--uncommitted".into(),
            command: Command::Review,
        };
        assert_eq!(
            explain(&uncommitted, old, &[]),
            "codex 0.125.0 does not know --uncommitted after `codex exec review`, which \
             codex-async needs for codex_review target uncommitted; it needs codex ≥ 0.146.0: \
             upgrade it with `npm install -g @openai/codex`"
        );
        assert_eq!(
            explain(&Rejected::Subcommand("app-server".into()), old, &[]),
            "codex 0.125.0 does not know `codex app-server`, which codex-async needs for every \
             task and reply (codex's app-server); it needs codex ≥ 0.146.0: upgrade it with \
             `npm install -g @openai/codex`"
        );
        assert_eq!(
            explain(&Rejected::Subcommand("review".into()), None, &[]),
            "codex (its version unknown) does not know `codex exec review`, which codex-async \
             needs for codex_review; it needs codex ≥ 0.146.0: upgrade it with \
             `npm install -g @openai/codex`"
        );
    }

    #[test]
    fn other_rejections_name_their_source_and_fix() {
        let rejected = parse_rejection(APP_SERVER).expect("parsed");
        let now = Some(Version::new(0, 171, 0));
        assert_eq!(
            explain(&rejected, now, &["-m".into(), "x".into()]),
            "codex 0.171.0 does not know -m after `codex app-server`, which comes from \
             extra_codex_args in codexd's settings: remove it there (then `codexd stop && codexd \
             start`), or upgrade codex with `npm install -g @openai/codex`"
        );
        assert_eq!(
            explain(&rejected, now, &[]),
            "codex 0.171.0 rejected the argument -m after `codex app-server`; codex-async is \
             tested with codex 0.146.0 to 0.171.0: install one of those \
             (`npm install -g @openai/codex@0.171.0`) or update codex-async"
        );
        let old = Some(Version::new(0, 125, 0));
        assert_eq!(
            explain(&parse_rejection(OLD_EXEC).expect("parsed"), old, &[]),
            "codex 0.125.0 rejected the argument --frobnicate after `codex exec`; codex-async \
             needs codex ≥ 0.146.0: upgrade it with `npm install -g @openai/codex`"
        );
        // A newer codex that dropped a flag: upgrading codex is not the fix.
        let newer = Some(Version::new(0, 190, 0));
        let json = Rejected::Argument {
            argument: "--json".into(),
            command: Command::Review,
        };
        assert_eq!(
            explain(&json, newer, &[]),
            "codex 0.190.0 no longer accepts --json after `codex exec review`, which codex-async \
             needs for codex_review; codex-async is tested with codex 0.146.0 to 0.171.0: install \
             one of those (`npm install -g @openai/codex@0.171.0`) or update codex-async"
        );
    }
}
