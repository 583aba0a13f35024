//! The API layer: the gRPC server on the Unix socket (and systemd's socket
//! activation), one handler per call, services made at their first call
//! (reflection), the checks every request goes through
//! before anything changes, watching a job's output, and keeping answers
//! within the message size. It calls down into the supervisor, the store and
//! the output renderings; nothing below calls it.

pub mod activation;
pub mod fit;
pub mod lazy;
pub mod server;
pub mod service;
pub mod validate;
pub mod watch;
