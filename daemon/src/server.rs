//! `codexd serve`: prepare the home, take the lock, open the database, settle
//! jobs left by an earlier daemon, and serve gRPC on the socket until asked to stop.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use codex_async_proto::{paths::Paths, v1::codex_async_server::CodexAsyncServer};
use tokio::{
    signal::unix::{signal, SignalKind},
    sync::{oneshot, Notify},
};
use tokio_stream::wrappers::UnixListenerStream;
use tracing::info;

use crate::{
    config::Config, db::Db, home, job::now_rfc3339, repair, retention, service::Service,
    supervisor::Supervisor,
};

/// How long a stopping daemon waits for open connections to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Runs the daemon in the foreground until SIGTERM, SIGINT or a Shutdown call.
/// Jobs keep running after it returns; the next daemon re-adopts them.
pub async fn serve(paths: Paths, config: Config) -> anyhow::Result<()> {
    home::create(&paths)?;
    let _lock = home::lock(&paths)?;
    let db = Db::open(&paths.database())
        .await
        .with_context(|| format!("opening {}", paths.database().display()))?;
    info!(
        max_jobs = config.max_jobs,
        output_cap_bytes = config.output_cap,
        retention_days = config.retention_days,
        "settings"
    );
    repair::check(&db, &paths.jobs())
        .await
        .context("checking job folders against the database")?;
    let retention_days = config.retention_days;
    let supervisor = Supervisor::new(db.clone(), paths.clone(), config);
    supervisor
        .reconcile()
        .await
        .context("settling jobs left by an earlier codexd")?;
    // Pruning fails soft: old jobs kept a while longer harm nobody.
    if let Err(e) = retention::prune(&db, &paths.jobs(), retention_days, chrono::Utc::now()).await {
        tracing::warn!(error = %e, "pruning old jobs failed; retrying in an hour");
    }
    retention::spawn(db.clone(), paths.jobs(), retention_days);
    let listener = home::listen(&paths.socket)?;

    let shutdown = Arc::new(Notify::new());
    let service = Service::new(supervisor, shutdown.clone(), now_rfc3339());
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<CodexAsyncServer<Service>>()
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(codex_async_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building reflection v1")?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(codex_async_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("building reflection v1alpha")?;

    info!(pid = std::process::id(), socket = %paths.socket.display(), version = env!("CARGO_PKG_VERSION"), "codexd serving");
    let (stopping_tx, stopping_rx) = oneshot::channel();
    let stop = async move {
        stop_signal(shutdown).await;
        let _ = stopping_tx.send(());
    };
    let server = tonic::transport::Server::builder()
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(CodexAsyncServer::new(service))
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), stop);
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

    let _ = std::fs::remove_file(&paths.socket);
    db.close().await;
    info!("codexd stopped; running jobs continue under their monitors");
    Ok(())
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
