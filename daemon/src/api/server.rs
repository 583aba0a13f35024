//! `codexd serve`: prepare the home, take the lock, open the database, settle
//! jobs left by an earlier daemon, and serve gRPC on the socket until asked to stop.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use codex_async_proto::{paths::Paths, v1::codex_async_server::CodexAsyncServer};
use tokio::net::{UnixListener, UnixStream};
use tokio::{
    signal::unix::{signal, SignalKind},
    sync::{mpsc, oneshot, watch, Notify},
};
use tokio_stream::wrappers::ReceiverStream;
use tracing::{info, warn};

use crate::{
    api::activation::{Checked, Endpoint},
    api::lazy::Lazy,
    api::service::Service,
    config::Config,
    job::now_rfc3339,
    store::home::{self, DaemonLock, LockFile},
    store::rebuild,
    store::repair,
    store::retention,
    supervisor::Supervisor,
};

/// The most a stop may take, whatever is still running.
const STOP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(8);
/// How long stopping waits for the database to close.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
/// How long to wait after a failed accept (see [`accept`]).
const ACCEPT_ERROR_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);
/// Largest request accepted: far above a 1 MiB prompt and its fields, so a
/// prompt over the limit (up to this size) gets validate's error naming the
/// field rather than gRPC's size error.
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;
/// Largest response: what clients accept, which fit.rs keeps every List and
/// Get within.
const MAX_RESPONSE_BYTES: usize = codex_async_proto::values::MAX_ANSWER_BYTES;
/// How long a stopping daemon waits for open connections to close. Watch
/// streams end as soon as it stops (watch.rs), so only a call in flight or a
/// client that does not close its connection is waited for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How often the socket file and the lock file are looked at, to put back
/// one that was removed (see [`keep_home`]): two `stat`s, cheap.
const KEEP_EVERY: Duration = Duration::from_millis(500);
/// Calls one connection may have in progress at once; its further calls wait
/// in codexd, in order, for one of these to finish. One client's flood of
/// calls then costs the daemon what this many cost, and other connections'
/// calls are not queued behind it (a shim makes one call at a time, or a
/// few). A Watch holds its place only until its stream starts.
const CALLS_PER_CONNECTION: usize = 16;
/// HTTP/2 streams one connection may have open at once (the calls above,
/// those waiting, and open Watch streams). Beyond this, the client's HTTP/2
/// layer holds further calls until a stream closes, so a flood waits in the
/// client's memory, not codexd's. 200 is hyper's own default, which tonic
/// replaces with no limit at all.
const STREAMS_PER_CONNECTION: u32 = 200;
/// Accepted connections waiting for the server to take them.
const ACCEPT_QUEUE: usize = 64;

/// Runs the daemon in the foreground until SIGTERM, SIGINT or a Shutdown call.
/// Jobs keep running after it returns; the next daemon re-adopts them.
pub async fn serve(paths: Paths, config: Config) -> anyhow::Result<()> {
    home::create(&paths)?;
    let lock = home::lock(&paths)?;
    // systemd's socket, if given, is taken (close-on-exec) before any job
    // monitor is started below; our own is bound only once reconcile is done,
    // so whoever can connect gets an answer at once.
    let inherited = crate::api::activation::take_inherited(&paths)?;
    // The folders are the truth when the database is not: a damaged one is
    // set aside, and jobs it lacks are recorded again before repair and
    // reconcile look at them.
    let opened = rebuild::open(&paths, rebuild::Check::Open).await?;
    let db = opened.db.clone();
    info!(
        max_jobs = config.max_jobs,
        output_cap_bytes = config.output_cap,
        retention_days = config.retention_days,
        "settings"
    );
    repair::check(&db, &paths.jobs(), repair::Scope::Unfinished)
        .await
        .context("checking job folders against the database")?;
    let retention_days = config.retention_days;
    let supervisor = Supervisor::new(db.clone(), paths.clone(), config);
    supervisor
        .reconcile()
        .await
        .context("settling jobs left by an earlier codexd")?;
    supervisor.fold_rebuilt(&opened.rebuilt).await;
    // Housekeeping in the background, one after the other so a repair never
    // recreates a folder that retention is removing: first the full check of
    // folders against the database, then retention, hourly.
    let housekeeping;
    {
        // No Start has run yet: every folder written from now on may be one.
        let serving_since = std::time::SystemTime::now();
        let (db, jobs, supervisor) = (db.clone(), paths.jobs(), supervisor.clone());
        housekeeping = tokio::spawn(async move {
            supervisor.fold_unfolded().await;
            if let Err(e) = repair::check(&db, &jobs, repair::Scope::All { serving_since }).await {
                warn!(error = %e, "checking job folders against the database failed");
            }
            retention::run(&supervisor, retention_days).await;
        });
    }
    let (listener, inherited) = crate::api::activation::listen(&paths, inherited)?;
    let endpoint = Endpoint::new(&paths, &listener, inherited);
    let (conns, incoming) = mpsc::channel(ACCEPT_QUEUE);
    let (stop_keeping, keeping_stopped) = oneshot::channel();
    let keeper = tokio::spawn(keep_home(
        paths.clone(),
        lock,
        endpoint,
        listener,
        conns,
        keeping_stopped,
    ));

    let shutdown = Arc::new(Notify::new());
    let db_watch = tokio::spawn(watch_database(paths.database(), shutdown.clone()));
    let (stopping, stopping_streams) = watch::channel(false);
    let service = Service::new(
        supervisor,
        shutdown.clone(),
        stopping_streams,
        now_rfc3339(),
    );
    let changes = service.changes();
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<CodexAsyncServer<Service>>()
        .await;
    info!(pid = std::process::id(), socket = %paths.socket.display(), version = env!("CARGO_PKG_VERSION"), "codexd serving");
    let (stopping_tx, stopping_rx) = oneshot::channel();
    let stop = async move {
        stop_signal(shutdown).await;
        // Whatever happens below, a stop stops: the jobs live in their
        // monitors and the database in its WAL, so nothing is lost by
        // leaving without the rest of the goodbyes.
        std::thread::spawn(|| {
            std::thread::sleep(STOP_DEADLINE);
            warn!("still stopping after {}s; exiting now (running jobs continue under their monitors)", STOP_DEADLINE.as_secs());
            std::process::exit(0);
        });
        // Open Watch streams end now, so the graceful stop below has no
        // follower to wait for.
        stopping.send_replace(true);
        let _ = stopping_tx.send(());
    };
    let server = tonic::transport::Server::builder()
        .concurrency_limit_per_connection(CALLS_PER_CONNECTION)
        .max_concurrent_streams(STREAMS_PER_CONNECTION)
        .add_service(health)
        .add_service(Lazy::new(reflection_v1))
        .add_service(Lazy::new(reflection_v1alpha))
        .add_service(
            CodexAsyncServer::new(service)
                .max_decoding_message_size(MAX_REQUEST_BYTES)
                .max_encoding_message_size(MAX_RESPONSE_BYTES),
        )
        .serve_with_incoming_shutdown(ReceiverStream::new(incoming), stop);
    // A graceful stop waits for every connection to close; an idle client or a
    // Watch that never ends must not hold the daemon up.
    let grace = async move {
        let _ = stopping_rx.await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = server => served.context("serving gRPC")?,
        _ = grace => info!("closing connections still open after {}s", SHUTDOWN_GRACE.as_secs()),
    }

    // A Start, Cancel, Answer or Prune under way ends whole (service.rs),
    // within the stop's deadline above.
    changes.close();
    if !changes.is_empty() {
        info!(
            calls = changes.len(),
            "waiting for the calls changing state to end"
        );
        changes.wait().await;
    }

    // The locks stay held until the database is closed below.
    let _ = stop_keeping.send(());
    let kept = keeper.await;
    match &kept {
        Ok((_, endpoint)) => endpoint.remove(),
        Err(e) => warn!(error = %e, "the task keeping the socket and lock file failed"),
    }
    // Stopping must not wait for housekeeping (a full check of a large home
    // reads every row), nor for the database's goodbye checkpoint: the WAL
    // is durable as it is, and the next open replays it.
    housekeeping.abort();
    db_watch.abort();
    if tokio::time::timeout(CLOSE_GRACE, db.close()).await.is_err() {
        info!(
            "the database was still busy after {}s; leaving it to the next start",
            CLOSE_GRACE.as_secs()
        );
    }
    info!("codexd stopped; running jobs continue under their monitors");
    Ok(())
}

/// Keeps the home's socket file and lock file in place while codexd serves,
/// looking every [`KEEP_EVERY`]: one removed or replaced is made again (the
/// socket bound again with the checks of a start, the lock file locked and
/// recorded again), so clients keep reaching and finding this daemon. Runs
/// the socket's [`accept`] loop, moved to a new socket when one is bound.
/// Hands the lock and the endpoint back when told to stop.
async fn keep_home(
    paths: Paths,
    mut lock: DaemonLock,
    mut endpoint: Endpoint,
    listener: UnixListener,
    conns: mpsc::Sender<std::io::Result<UnixStream>>,
    mut stop: oneshot::Receiver<()>,
) -> (DaemonLock, Endpoint) {
    let mut acceptor = tokio::spawn(accept(listener, conns.clone()));
    let mut tick = tokio::time::interval(KEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut lock_said: Option<String> = None;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {}
        }
        let said = match lock.keep(&paths) {
            Ok(LockFile::Kept) => None,
            Ok(LockFile::Restored) => {
                warn!(lock = %paths.lock().display(), "the lock file was removed or replaced; made it again");
                None
            }
            Ok(LockFile::Busy) => Some(format!(
                "{} was replaced by a file another process holds locked (an older codexd?); \
                 this codexd keeps the home locked and tries again",
                paths.lock().display()
            )),
            Err(e) => Some(format!(
                "cannot make the lock file again: {e}; trying again"
            )),
        };
        if said.is_some() && said != lock_said {
            warn!("{}", said.as_deref().unwrap_or_default());
        }
        lock_said = said;
        match endpoint.check() {
            Checked::InPlace | Checked::Refused(None) => {}
            Checked::Rebound(listener) => {
                // The old socket has no file left: nobody can reach it.
                acceptor.abort();
                acceptor = tokio::spawn(accept(listener, conns.clone()));
            }
            Checked::Refused(Some(why)) => warn!(socket = %paths.socket.display(), error = why,
                "the socket file was removed or replaced and cannot be bound again yet; \
                 clients cannot reach codexd until it can; trying again"),
        }
    }
    acceptor.abort();
    (lock, endpoint)
}

/// Accepts connections on `listener` for the server, keeping only those
/// whose peer is this daemon's own user (any other uid is dropped and
/// logged: the socket's 0600 mode already keeps others out; this holds even
/// if the mode or a directory above is loosened). After a failed accept it
/// waits a moment before the next: with no descriptor left (EMFILE) the
/// waiting connection makes every accept fail, and without a pause the
/// daemon would spin a core while it keeps serving the connections it has.
async fn accept(listener: UnixListener, conns: mpsc::Sender<std::io::Result<UnixStream>>) {
    let me = nix::unistd::geteuid().as_raw();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                warn!(error = %e, "cannot accept a connection; trying again shortly");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == me => {}
            Ok(cred) => {
                warn!(uid = cred.uid(), pid = ?cred.pid(), "refused a connection from another user");
                continue;
            }
            Err(e) => {
                warn!(error = %e, "refused a connection whose peer cannot be identified");
                continue;
            }
        }
        if conns.send(Ok(stream)).await.is_err() {
            return;
        }
    }
}

/// How often the database file is looked at (one `stat`).
const DB_WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Stops codexd when its database file is removed or replaced while it
/// runs: SQLite would go on writing into the unlinked file, and every change
/// from then on would be lost at the next start. Stopping loses nothing —
/// jobs live in their monitors and folders — and the next start (on demand,
/// or by the service manager) finds no database and rebuilds every job from
/// its folder, saying so.
async fn watch_database(path: std::path::PathBuf, shutdown: Arc<Notify>) {
    use std::os::unix::fs::MetadataExt;
    let identity = |path: &std::path::Path| std::fs::metadata(path).map(|m| (m.dev(), m.ino()));
    let Ok(first) = identity(&path) else {
        return;
    };
    let mut tick = tokio::time::interval(DB_WATCH_EVERY);
    loop {
        tick.tick().await;
        let gone = match identity(&path) {
            Ok(now) => now != first,
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        };
        if gone {
            tracing::error!(database = %path.display(),
                "the database file was removed or replaced while codexd ran; stopping, so that the next start rebuilds every job from its folder (running jobs go on under their monitors)");
            shutdown.notify_one();
            return;
        }
    }
}

async fn stop_signal(shutdown: Arc<Notify>) {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        shutdown.notified().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = int.recv() => info!("SIGINT: shutting down"),
        _ = shutdown.notified() => info!("shutdown requested"),
    }
}

/// Server reflection over codexd's API and health, for grpcurl; made at its
/// first call ([`Lazy`]), as v1 and as the older v1alpha.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(codex_async_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

pub(crate) fn reflection_v1() -> Result<
    tonic_reflection::pb::v1::server_reflection_server::ServerReflectionServer<
        impl tonic_reflection::pb::v1::server_reflection_server::ServerReflection,
    >,
    String,
> {
    reflection()
        .build_v1()
        .map_err(|e| format!("building reflection v1: {e}"))
}

pub(crate) fn reflection_v1alpha() -> Result<
    tonic_reflection::pb::v1alpha::server_reflection_server::ServerReflectionServer<
        impl tonic_reflection::pb::v1alpha::server_reflection_server::ServerReflection,
    >,
    String,
> {
    reflection()
        .build_v1alpha()
        .map_err(|e| format!("building reflection v1alpha: {e}"))
}
