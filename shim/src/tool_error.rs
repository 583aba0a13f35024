//! Tool failures as results the model can read.
//!
//! Every failure of a tool is returned as a `CallToolResult` with `isError:
//! true` and one text block: clients hide the message of a JSON-RPC error
//! (an `Err` from a tool becomes -32603), so a model could not react to it.

use codex_async_proto::paths::Paths;
use rmcp::model::{ContentBlock, IntoContents};
use tonic::Code;

use crate::args::ArgError;

/// A tool failure, as the sentence the model will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError(String, Option<Code>);

impl ToolError {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into(), None)
    }

    /// True when codexd said the input was wrong (a malformed or unknown
    /// job id, say), as opposed to failing or being unreachable.
    pub fn is_bad_input(&self) -> bool {
        matches!(self.1, Some(Code::InvalidArgument | Code::NotFound))
    }

    /// True when codexd refused the request as it stands: bad input, or a
    /// job not in a state for it (an answer to a question no longer asked).
    pub fn is_refusal(&self) -> bool {
        self.is_bad_input() || self.1 == Some(Code::FailedPrecondition)
    }

    /// A gRPC error from codexd.
    ///
    /// Input problems the daemon found (bad cwd, policy, job id, limit, unknown
    /// job, a job in the wrong state) are passed through verbatim: codexd's
    /// messages already name the field and the fix. Anything else is a
    /// daemon-side failure and points at the daemon's log.
    pub fn from_status(status: &tonic::Status, call: &str, paths: &Paths) -> Self {
        match status.code() {
            Code::InvalidArgument
            | Code::NotFound
            | Code::FailedPrecondition
            | Code::AlreadyExists
            | Code::OutOfRange
            | Code::ResourceExhausted
                if !status.message().is_empty() =>
            {
                Self(status.message().to_string(), Some(status.code()))
            }
            Code::Unavailable => Self::new(format!(
                "codexd stopped answering on {} ({}). Run `codexd start` in a terminal, \
                 check {} for why it stopped, then retry.",
                paths.socket.display(),
                status.message(),
                paths.daemon_log().display()
            )),
            code => Self::new(format!(
                "codexd failed the {call} call: {} (gRPC {code:?}). Check {} and retry.",
                if status.message().is_empty() {
                    "no details"
                } else {
                    status.message()
                },
                paths.daemon_log().display()
            )),
        }
    }
}

impl ToolError {
    /// The same error followed by `note` in parentheses (e.g. that codexd is
    /// another version than the shim).
    pub fn with_note(self, note: &str) -> Self {
        Self(format!("{} ({note})", self.0), self.1)
    }

    /// The same error, naming the tool's argument `to` where codexd named
    /// the gRPC field `from` (e.g. codex_reply's `job_id` is Start's
    /// `reply_to`): the model only knows the tool's argument names.
    pub fn rename_field(self, from: &str, to: &str) -> Self {
        match self.0.strip_prefix(from) {
            Some(rest) if rest.starts_with(':') => Self(format!("{to}{rest}"), self.1),
            _ => self,
        }
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ArgError> for ToolError {
    fn from(error: ArgError) -> Self {
        Self::new(error.0)
    }
}

/// rmcp turns `Err(ToolError)` from a tool into a result with `isError: true`
/// whose content is this text.
impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.0)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_follows_the_message_and_keeps_its_kind() {
        let error = ToolError("job_id: no job x".into(), Some(Code::NotFound))
            .with_note("codexd 0.0.1 is running");
        assert_eq!(
            error.to_string(),
            "job_id: no job x (codexd 0.0.1 is running)"
        );
        assert!(error.is_bad_input());
    }

    #[test]
    fn rename_field_changes_only_a_leading_field_name() {
        let renamed = ToolError::new("reply_to: no job x").rename_field("reply_to", "job_id");
        assert_eq!(renamed.to_string(), "job_id: no job x");
        let kept = ToolError::new("cwd: reply_to is odd").rename_field("reply_to", "job_id");
        assert_eq!(kept.to_string(), "cwd: reply_to is odd");
        let kept = ToolError::new("reply_tox: y").rename_field("reply_to", "job_id");
        assert_eq!(kept.to_string(), "reply_tox: y");
    }
}
