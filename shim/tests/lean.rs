//! The shim runs once per Claude session, so what it links and maps is paid by
//! every session (BENCHMARKS 6b). These tests hold what made it lean: no
//! argument parser and no regex engine in its dependency tree, and the small
//! command line that replaced clap behaving as clap did for users and the
//! npm installer (`--version`, `--help`, exit 2 for anything else).

use std::process::Command;

const SHIM: &str = env!("CARGO_BIN_EXE_codex-async-shim");

/// Crates that once made up ~1 MiB of the shim's resident code: clap (its
/// command line is empty) and, through tracing-subscriber's `EnvFilter`, a
/// regex engine with its Unicode tables.
const KEPT_OUT: [&str; 6] = [
    "clap",
    "clap_builder",
    "regex",
    "regex-automata",
    "regex-syntax",
    "matchers",
];

#[test]
fn the_shim_links_no_argument_parser_and_no_regex_engine() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "-p", "codex-async-shim", "-e", "normal"])
        .args(["--prefix", "none", "--locked", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && tree.contains("rmcp"),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let linked: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| KEPT_OUT.contains(name))
        .collect();
    assert!(
        linked.is_empty(),
        "the shim depends on {linked:?} again; every Claude session pays for their pages"
    );
}

fn shim(args: &[&str]) -> std::process::Output {
    Command::new(SHIM)
        .args(args)
        .env_remove("CODEX_ASYNC_HOME")
        .output()
        .expect("run the shim")
}

#[test]
fn version_and_help_answer_and_exit_0() {
    let out = shim(&["--version"]);
    assert!(out.status.success());
    // The npm installer checks exactly this line (npm/codex-async/install.js).
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("codex-async-shim {}\n", env!("CARGO_PKG_VERSION"))
    );
    for flag in ["--help", "-h"] {
        let out = shim(&[flag]);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{flag}");
        assert!(
            help.contains("claude mcp add codex-async -- codex-async-shim")
                && help.contains("CODEX_ASYNC_HOME")
                && help.contains("--version"),
            "{flag}: {help}"
        );
    }
}

#[test]
fn an_unknown_argument_is_refused_by_name_with_exit_2_and_nothing_served() {
    let out = shim(&["--stdio"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unexpected argument \"--stdio\"") && stderr.contains("takes no arguments"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing on the protocol's stream");
}
