//! codex versions: a job whose codex is too old for a flag ends with an error
//! naming the version it needs (not codex's usage text), with the fake old
//! codex (testdata/fake-old-codex, codex 0.125.0's flags) and the real CLI;
//! a codex whose app-server ends, or does not answer `initialize`, before
//! its turn ends the job with its version and what it printed (small
//! stand-in scripts); and `codexd doctor`'s login check in each case, with
//! the real CLI's `codex login status` (skipped with a message when
//! `CODEX_ASYNC_REAL_CODEX` is unset).

use std::{path::Path, process::Command};

use codex_async_proto::v1::{GetRequest, GetResponse, JobStatus, StartRequest};
use codex_async_proto::Client;
use serde_json::Value;
use testkit::{pid_alive, poll_for, real_codex, wait_until, Daemon, PidGuard, TempHome};

fn fake_old_codex() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/fake-old-codex")
        .display()
        .to_string()
}

async fn start(client: &Client, request: StartRequest) -> String {
    client
        .clone()
        .start(request)
        .await
        .expect("start")
        .into_inner()
        .job
        .expect("job")
        .job_id
}

async fn wait_end(client: &Client, id: &str) -> GetResponse {
    poll_for("the job to end", || {
        let mut client = client.clone();
        let id = id.to_string();
        async move {
            let got = client
                .get(GetRequest {
                    job_id: id,
                    tail_lines: Some(50),
                    since: None,
                })
                .await
                .expect("get")
                .into_inner();
            got.job
                .as_ref()
                .is_some_and(|j| j.status().is_terminal())
                .then_some(got)
        }
    })
    .await
}

/// A job (`msg:hi`) run to its end by a codexd started with `env`.
async fn a_job_ended(home: &TempHome, env: &[(&str, String)]) -> GetResponse {
    let daemon = Daemon::start_with(home, env).await;
    let client = daemon.client().await;
    let id = start(&client, home.start_request("msg:hi")).await;
    wait_end(&client, &id).await
}

/// The job's status, exit code and error.
fn ending(end: &GetResponse) -> (JobStatus, Option<i32>, String) {
    let job = end.job.as_ref().expect("job");
    (
        job.status(),
        job.exit_code,
        job.error.clone().unwrap_or_default(),
    )
}

#[tokio::test]
async fn a_flag_from_extra_codex_args_an_old_codex_lacks_is_named_with_its_fix() {
    let home = TempHome::new();
    let end = a_job_ended(
        &home,
        &[
            ("CODEX_BIN", fake_old_codex()),
            (
                "CODEX_ASYNC_EXTRA_ARGS",
                r#"["--strict-config"]"#.to_string(),
            ),
        ],
    )
    .await;
    assert_eq!(
        ending(&end),
        (
            JobStatus::Error,
            Some(2),
            "codex 0.125.0 does not know --strict-config after `codex app-server`, which comes \
             from extra_codex_args in codexd's settings: remove it there (then `codexd stop && \
             codexd start`), or upgrade codex with `npm install -g @openai/codex`"
                .to_string()
        ),
        "{}",
        end.output
    );
    // codex's own words stay in the output.
    assert!(
        end.output
            .contains("error: unexpected argument '--strict-config' found"),
        "{}",
        end.output
    );
}

/// A stand-in codex that says it is `version` and runs `app_server` (sh) as
/// its app-server.
fn script_codex(home: &TempHome, version: &str, app_server: &str) -> String {
    let path = home.root().join(format!("codex-{version}"));
    testkit::write_script(
        &path,
        &format!(
            "#!/bin/sh
if [ \"$1\" = --version ]; then echo 'codex-cli {version}'; exit 0; fi
\
             {app_server}\n"
        ),
    );
    path.display().to_string()
}

#[tokio::test]
async fn a_codex_older_than_supported_that_exits_saying_nothing_is_named_by_its_version() {
    let home = TempHome::new();
    let codex = script_codex(&home, "0.120.0", "exit 2");
    let end = a_job_ended(&home, &[("CODEX_BIN", codex)]).await;
    assert_eq!(
        ending(&end),
        (
            JobStatus::Error,
            Some(2),
            "codex app-server exited with code 2 before answering initialize: codex 0.120.0 is \
             older than 0.146.0, the oldest codex-async supports; upgrade it with \
             `npm install -g @openai/codex@latest`; it printed nothing"
                .to_string()
        ),
        "{}",
        end.output
    );
}

#[tokio::test]
async fn a_codex_that_fails_before_initialize_is_quoted_in_the_jobs_error() {
    let home = TempHome::new();
    let codex = script_codex(
        &home,
        "0.171.0",
        "echo 'WARNING: proceeding, even though we could not update PATH' >&2\n\
         echo 'Error: loading config.toml: unknown variant `fast`' >&2\nexit 1",
    );
    let end = a_job_ended(&home, &[("CODEX_BIN", codex)]).await;
    assert_eq!(
        ending(&end),
        (
            JobStatus::Error,
            Some(1),
            "codex app-server exited with code 1 before answering initialize (codex 0.171.0); it \
             printed: WARNING: proceeding, even though we could not update PATH | Error: loading \
             config.toml: unknown variant `fast`"
                .to_string()
        ),
        "{}",
        end.output
    );
}

#[tokio::test]
async fn a_codex_that_never_answers_initialize_is_stopped_with_its_child() {
    let home = TempHome::new();
    let pids = home.root().join("pids");
    // Reads the requests and never answers; a child of its own, as codex's
    // commands would be.
    let codex = script_codex(
        &home,
        "0.171.0",
        &format!(
            "echo 'loading plugins' >&2\nsleep 600 &\necho $$ $! > '{}.tmp'\n\
             mv '{0}.tmp' '{0}'\ncat > /dev/null\nwait",
            pids.display()
        ),
    );
    let daemon = Daemon::start_with(
        &home,
        &[
            ("CODEX_BIN", codex),
            ("CODEX_ASYNC_INIT_TIMEOUT", "1".to_string()),
        ],
    )
    .await;
    let client = daemon.client().await;
    let id = start(&client, home.start_request("msg:hi")).await;
    wait_until("the stand-in codex to write its pids", || pids.exists());
    let text = std::fs::read_to_string(&pids).expect("pids");
    let guards: Vec<PidGuard> = text
        .split_whitespace()
        .map(|p| PidGuard::new(p.parse().expect("a pid")))
        .collect();
    assert_eq!(guards.len(), 2, "{text}");
    let end = wait_end(&client, &id).await;
    let (status, _, error) = ending(&end);
    assert_eq!(
        (status, error.as_str()),
        (
            JobStatus::Error,
            "codex app-server did not answer initialize within 1 s, and was stopped with its \
             processes (codex 0.171.0); it printed: loading plugins"
        ),
        "{}",
        end.output
    );
    // The job's end is recorded only once its monitor killed what was left.
    for guard in &guards {
        assert!(
            !pid_alive(guard.pid()),
            "pid {} outlived the job",
            guard.pid()
        );
    }
}

/// The version `codex --version` prints, as codexd shows it.
fn version_of(codex: &Path) -> String {
    let out = Command::new(codex)
        .arg("--version")
        .output()
        .expect("codex --version");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .strip_prefix("codex-cli ")
        .unwrap_or_else(|| panic!("unexpected version text {text:?}"))
        .to_string()
}

#[tokio::test]
async fn the_real_codexs_usage_error_is_read_and_rewritten() {
    let Some(codex) = real_codex() else { return };
    let home = TempHome::new();
    // A flag codexd never passes (config.rs refuses it in extra_codex_args),
    // as a codex that dropped one of codexd's would refuse it.
    let wrapper = home.root().join("codex-with-a-bad-flag");
    testkit::write_script(
        &wrapper,
        &format!(
            "#!/bin/sh\nexec '{}' \"$@\" --no-such-flag\n",
            codex.display()
        ),
    );
    let daemon = Daemon::start_with(
        &home,
        &[
            ("CODEX_BIN", wrapper.display().to_string()),
            (
                "CODEX_HOME",
                home.root().join("codex-home").display().to_string(),
            ),
        ],
    )
    .await;
    let client = daemon.client().await;
    let id = start(&client, home.start_request("say hi")).await;
    let end = wait_end(&client, &id).await;
    assert_eq!(
        ending(&end),
        (
            JobStatus::Error,
            Some(2),
            format!(
                "codex {} rejected the argument --no-such-flag after `codex app-server`; \
                 codex-async is tested with codex 0.146.0 to 0.171.0: install one of those \
                 (`npm install -g @openai/codex@0.171.0`) or update codex-async",
                version_of(&codex)
            )
        ),
        "{}",
        end.output
    );
}

/// `codexd doctor --json`'s login check, run with `env` (and without any
/// API key of the test's own environment).
fn doctor_login(home: &TempHome, codex: &Path, env: &[(&str, String)]) -> (String, String, Value) {
    let out = home
        .codexd()
        .env("CODEX_BIN", codex)
        .env_remove("CODEX_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["doctor", "--json"])
        .output()
        .expect("doctor");
    let report: Value = serde_json::from_slice(&out.stdout).expect("doctor --json");
    let login = report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == "login"))
        .unwrap_or_else(|| panic!("no login check in {report}"))
        .clone();
    (
        login["status"].as_str().unwrap_or_default().to_string(),
        login["detail"].as_str().unwrap_or_default().to_string(),
        login["fix"].clone(),
    )
}

const LOGIN_FIX: &str = "run `codex login` (or `printenv OPENAI_API_KEY | codex login \
                         --with-api-key`), or set CODEX_API_KEY in the daemon's environment \
                         (then `codexd stop && codexd start`)";

#[test]
fn doctor_checks_that_codex_is_logged_in_or_has_a_key() {
    let Some(codex) = real_codex() else { return };
    let home = TempHome::new();
    let codex_home = home.root().join("codex-home");
    std::fs::create_dir_all(&codex_home).expect("codex home");
    let codex_home_env = ("CODEX_HOME", codex_home.display().to_string());
    let shell = "this shell's environment (codexd is not running)";

    // Logged out, no key: certainly unusable.
    let (status, detail, fix) = doctor_login(&home, &codex, std::slice::from_ref(&codex_home_env));
    assert_eq!(status, "fail");
    assert_eq!(
        detail,
        format!(
            "codex is not logged in (`codex login status`: Not logged in) and CODEX_API_KEY is \
             not set in {shell}"
        )
    );
    assert_eq!(fix, LOGIN_FIX);

    // OPENAI_API_KEY alone: codex does not read it (measured: it sends
    // no Authorization header), so still a failure, saying so.
    let (status, detail, _) = doctor_login(
        &home,
        &codex,
        &[codex_home_env.clone(), ("OPENAI_API_KEY", "sk-test".into())],
    );
    assert_eq!(status, "fail");
    assert!(
        detail.ends_with(
            "; OPENAI_API_KEY is set there, but codex does not read it (it reads \
             CODEX_API_KEY)"
        ),
        "{detail}"
    );

    // CODEX_API_KEY, which codex exec reads (and codexd hands to app-server).
    let (status, detail, _) = doctor_login(
        &home,
        &codex,
        &[codex_home_env.clone(), ("CODEX_API_KEY", "sk-test".into())],
    );
    assert_eq!(
        (status.as_str(), detail.as_str()),
        (
            "ok",
            "not logged in, but CODEX_API_KEY is set in this shell's environment (codexd is not \
             running)"
        )
    );

    // A provider of its own (as the tests' fake provider): not OpenAI's login.
    let config = codex_home.join("config.toml");
    std::fs::write(
        &config,
        "model_provider = \"fake\"\n\n[model_providers.fake]\nname = \"fake\"\n\
         base_url = \"http://127.0.0.1:9/v1\"\nwire_api = \"responses\"\n",
    )
    .expect("config");
    let (status, detail, _) = doctor_login(&home, &codex, std::slice::from_ref(&codex_home_env));
    assert_eq!(
        (status.as_str(), detail),
        (
            "ok",
            format!(
                "codex uses the model provider \"fake\" (set in {}); its credentials are not \
                 checked",
                config.display()
            )
        )
    );
    std::fs::remove_file(&config).expect("remove config");

    // Logged in with an API key, the way people do it (stored offline).
    let mut login = Command::new(&codex)
        .args(["login", "--with-api-key"])
        .env("CODEX_HOME", &codex_home)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("codex login");
    std::io::Write::write_all(
        login.stdin.as_mut().expect("stdin"),
        b"sk-test-1234567890\n",
    )
    .expect("write key");
    drop(login.stdin.take());
    assert!(login.wait().expect("codex login").success());
    let (status, detail, _) = doctor_login(&home, &codex, &[codex_home_env]);
    assert_eq!(status, "ok", "{detail}");
    // 0.146: "Logged in using an API key - sk-test***67890"; 0.171: "API key
    // configured - sk-test-***67890; Authentication is checked …".
    assert!(
        detail.contains("API key") && detail.contains("***67890"),
        "{detail}"
    );
}

#[tokio::test]
async fn doctor_reads_the_key_from_the_running_daemons_environment() {
    let Some(codex) = real_codex() else { return };
    let home = TempHome::new();
    let codex_home = home.root().join("codex-home");
    std::fs::create_dir_all(&codex_home).expect("codex home");
    let env = [
        ("CODEX_HOME", codex_home.display().to_string()),
        ("CODEX_API_KEY", "sk-daemon".to_string()),
    ];
    let daemon = Daemon::start_with(&home, &env).await;
    // doctor's own environment has no key: the daemon's is what codex gets.
    let (status, detail, _) = doctor_login(&home, &codex, &[("CODEX_HOME", env[0].1.clone())]);
    assert_eq!(
        (status.as_str(), detail),
        (
            "ok",
            format!(
                "not logged in, but CODEX_API_KEY is set in the environment of codexd (pid {})",
                daemon.pid()
            )
        )
    );
}
