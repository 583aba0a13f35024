//! A shim connected to a codexd of another version warns once on stderr and
//! says so in the errors codexd gives; with the same version it says nothing.

mod common;

use common::{serve_daemon, Shim, NO_AUTOSTART};
use serde_json::json;
use testkit::TempHome;

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[test]
fn a_codexd_of_another_version_is_named_in_errors_and_on_stderr() {
    let home = TempHome::new();
    // The shim starts codexd itself, which inherits the test-only override.
    let mut shim = Shim::spawn(
        &home,
        &[("CODEX_ASYNC_TEST_VERSION_OVERRIDE", "0.0.1-test")],
    );
    shim.ok("codex_list", json!({}));
    let note = format!(
        "codexd 0.0.1-test is running, this shim is {VERSION}: restart codexd with `codexd stop \
         && codexd start` (running jobs keep running)"
    );
    assert_eq!(
        shim.log().matches(&note).count(),
        1,
        "one warning per connection; shim log:\n{}",
        shim.log()
    );

    let missing = shim.call("codex_result", json!({"job_id": "000000000000"}));
    assert!(missing.is_error);
    assert!(
        missing.text.starts_with("job_id: no job 000000000000")
            && missing.text.ends_with(&format!(" ({note})")),
        "{}",
        missing.text
    );
    // Still one warning: the version is asked once per connection, not per call.
    assert_eq!(shim.log().matches(&note).count(), 1, "{}", shim.log());
}

#[test]
fn the_same_version_adds_nothing() {
    let home = TempHome::new();
    let _daemon = serve_daemon(&home);
    let mut shim = Shim::spawn(&home, NO_AUTOSTART);
    let missing = shim.call("codex_result", json!({"job_id": "000000000000"}));
    assert!(missing.is_error);
    assert!(
        !missing.text.contains("this shim is") && !shim.log().contains("this shim is"),
        "{}\n{}",
        missing.text,
        shim.log()
    );
}
