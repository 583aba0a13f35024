//! Everything codex-async knows about the codex CLI itself: its command lines
//! ([`command`]: exec, resume, review and their flags) and its `--json` event
//! stream ([`events`]), and which codex releases have which of them
//! ([`version`]). Jobs, replies, reviews and structured answers reuse these
//! instead of each building their own.

pub mod answer;
pub mod approval;
pub mod command;
pub mod events;
pub mod review;
pub mod version;
