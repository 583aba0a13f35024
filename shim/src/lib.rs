//! codex-async-shim's library: the MCP tools and their argument decoding, as
//! modules, so fuzz targets can reach the decoders. The binary is main.rs.

pub mod args;
pub mod autostart;
pub mod daemon_link;
pub mod output;
pub mod request_shape;
pub mod tasks;
pub mod tool_error;
pub mod tools;
pub mod transport;
pub mod wait;
