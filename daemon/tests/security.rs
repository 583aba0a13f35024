//! The socket is the security boundary: only its owner gets in, and codexd
//! refuses homes and socket paths another user could control.

use std::{
    os::unix::{fs::PermissionsExt, process::CommandExt},
    process::{Command, Stdio},
};

use codex_async_proto::v1::{GetRequest, JobStatus, StartRequest};
use testkit::{poll_for, Daemon, TempHome};

fn serve_fails(home: &TempHome, env: &[(&str, String)]) -> String {
    let out = home
        .codexd()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .arg("serve")
        .stdin(Stdio::null())
        .output()
        .expect("run codexd serve");
    assert!(!out.status.success(), "codexd started where it must refuse");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_symlinked_home_is_refused() {
    let home = TempHome::new();
    let real = home.root().join("real-home");
    std::fs::create_dir(&real).expect("real home");
    std::os::unix::fs::symlink(&real, home.home()).expect("symlink home");
    let err = serve_fails(&home, &[]);
    assert!(
        err.contains("is a symlink") && err.contains("refuses"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(&real).expect("real").next().is_none(),
        "nothing was created"
    );
}

#[test]
fn a_world_writable_home_is_refused() {
    let home = TempHome::new();
    std::fs::create_dir(home.home()).expect("home");
    std::fs::set_permissions(home.home(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let err = serve_fails(&home, &[]);
    assert!(
        err.contains("writable by others") && err.contains("chmod 700"),
        "{err}"
    );
}

#[test]
fn a_symlinked_socket_path_is_refused() {
    let home = TempHome::new();
    let sockdir = home.root().join("sock");
    std::fs::create_dir(&sockdir).expect("sock dir");
    std::fs::set_permissions(&sockdir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let target = home.root().join("elsewhere.sock");
    let link = sockdir.join("codexd.sock");
    std::os::unix::fs::symlink(&target, &link).expect("symlink socket");
    let err = serve_fails(&home, &[("CODEX_ASYNC_SOCKET", link.display().to_string())]);
    assert!(err.contains("is a symlink"), "{err}");
    assert!(!target.exists(), "nothing was bound through the link");
}

/// Speaks the HTTP/2 preface on the socket and says whether the server
/// answered (a server that refuses the peer closes without a byte).
const PROBE: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    # A refused peer may be dropped before the preface is even written.
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
    data = s.recv(64)
except (ConnectionResetError, BrokenPipeError):
    data = b""
print("answered" if data else "closed")
"#;

fn probe(socket: &std::path::Path, uid: Option<u32>) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(PROBE).arg(socket);
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().expect("run the probe");
    assert!(
        out.status.success(),
        "probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn another_user_is_refused_even_through_an_open_socket() {
    if !testkit::root("to connect as another user") {
        return;
    }
    let nobody = 65534;
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let socket = home.paths().socket;
    // Open every door the file system has, so only the peer check is left.
    for (path, mode) in [
        (home.root().to_path_buf(), 0o711),
        (home.home(), 0o711),
        (socket.clone(), 0o666),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("loosen");
    }
    assert_eq!(
        probe(&socket, None),
        "answered",
        "the owner is served (the probe works)"
    );
    assert_eq!(
        probe(&socket, Some(nobody)),
        "closed",
        "another uid was served"
    );
    // And the daemon goes on serving its owner.
    let mut client = daemon.client().await;
    client
        .info(codex_async_proto::v1::InfoRequest {})
        .await
        .expect("info");
    let log = std::fs::read_to_string(home.root().join("codexd-serve.log")).expect("log");
    assert!(
        log.contains("refused a connection from another user") && log.contains("uid=65534"),
        "{log}"
    );
}

#[tokio::test]
async fn a_one_mib_prompt_works_and_a_bigger_one_is_refused() {
    let home = TempHome::new();
    let daemon = Daemon::start(&home).await;
    let mut client = daemon.client().await;
    let cwd = home.workdir().display().to_string();
    // A valid script for the fake codex, padded to exactly 1 MiB.
    let mut prompt = String::from("print:big;");
    prompt.push_str(&"x".repeat(1024 * 1024 - prompt.len()));
    assert_eq!(prompt.len(), 1024 * 1024);
    let job = client
        .start(StartRequest {
            prompt: prompt.clone(),
            cwd: cwd.clone(),
            ..Default::default()
        })
        .await
        .expect("a 1 MiB prompt is accepted")
        .into_inner()
        .job
        .expect("job");
    let id = job.job_id.clone();
    let end = poll_for("the big job to end", || {
        let mut client = client.clone();
        let id = id.clone();
        async move {
            let got = client
                .get(GetRequest {
                    job_id: id,
                    tail_lines: Some(10_000),
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
    .await;
    assert_eq!(end.job.expect("job").status(), JobStatus::Done);
    let prompt_file = home.paths().jobs().join(&id).join("prompt.txt");
    assert_eq!(
        std::fs::read(&prompt_file).expect("prompt.txt").len(),
        1024 * 1024
    );

    prompt.push('x');
    let err = client
        .start(StartRequest {
            prompt,
            cwd,
            ..Default::default()
        })
        .await
        .expect_err("over 1 MiB is refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().starts_with("prompt:"), "{}", err.message());
    // Ten times the limit still gets the field's error, not gRPC's size error.
    let big = client
        .start(StartRequest {
            prompt: "y".repeat(10 * 1024 * 1024),
            cwd: "/tmp".into(),
            ..Default::default()
        })
        .await
        .expect_err("a 10 MiB prompt is refused");
    assert_eq!(big.code(), tonic::Code::InvalidArgument);
    assert!(
        big.message()
            .starts_with("prompt: 10485760 bytes is over the limit"),
        "{}",
        big.message()
    );
    let huge = client
        .start(StartRequest {
            prompt: "y".repeat(17 * 1024 * 1024),
            cwd: "/tmp".into(),
            ..Default::default()
        })
        .await
        .expect_err("a request over the message limit is refused");
    assert_ne!(huge.code(), tonic::Code::Ok);
    assert_eq!(
        std::fs::read_dir(home.paths().jobs())
            .expect("jobs")
            .count(),
        1
    );
}
