//! The codexd API shared by the daemon, its CLI and the MCP shim.
//!
//! - [`v1`]: the generated messages, client and server for `codexasync.v1`.
//! - [`paths`]: where a user's state home and socket live.
//! - [`connect`]: the one way to open a client on the daemon's Unix socket.
//! - [`job_result`]: the one rendering of a job's result, for the MCP tools
//!   and tasks and for `codexd show`.

pub mod job_result;
pub mod json;
pub mod paths;
mod status;
pub mod values;

pub use status::ParseStatusError;

/// Generated code for the `codexasync.v1` package.
#[allow(clippy::large_enum_variant)] // generated oneofs; boxing them is prost's call
pub mod v1 {
    tonic::include_proto!("codexasync.v1");
}

/// The encoded descriptor set of `codexasync.v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("codexasync_descriptor");

use std::{io, path::Path};

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint};
use tower::service_fn;

/// A client of the daemon's `CodexAsync` service.
pub type Client = v1::codex_async_client::CodexAsyncClient<Channel>;

/// Why a connection to the daemon could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to codexd at {path}: {source}")]
pub struct ConnectError {
    /// The socket path that was tried.
    pub path: String,
    #[source]
    source: tonic::transport::Error,
}

/// Opens a client on the daemon's Unix socket at `path`.
///
/// The URI is a placeholder: h2 needs an authority, and the socket path is not a
/// valid one, so `localhost` is sent (as standard clients such as grpcurl do).
pub async fn connect(path: &Path) -> Result<Client, ConnectError> {
    let socket = path.to_path_buf();
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(service_fn(move |_| {
            let socket = socket.clone();
            async move { Ok::<_, io::Error>(TokioIo::new(UnixStream::connect(socket).await?)) }
        }))
        .await
        .map_err(|source| ConnectError {
            path: path.display().to_string(),
            source,
        })?;
    Ok(Client::new(channel))
}
