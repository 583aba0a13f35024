//! The allowed values of the API's string fields and its size limits,
//! stated once: codexd's checks and their messages, `codexd`'s help and the
//! MCP tools' input schemas are derived from these lists (and tests hold the
//! daemon's types to them), so they cannot drift apart.

/// Approval policies, from the least freedom to the most.
pub const APPROVAL_POLICIES: &[&str] = &["suggest", "auto-edit", "ask", "full-auto"];

/// Reasoning efforts (`-c model_reasoning_effort`).
pub const REASONING_EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh"];

/// The agent CLIs a job can run (`StartRequest.agent`), the default first.
pub const AGENTS: &[&str] = &["codex", "gemini", "claude"];

/// Where codex works: in cwd, or in a new git worktree.
pub const ISOLATIONS: &[&str] = &["none", "worktree"];

/// What a review looks at.
pub const REVIEW_TARGETS: &[&str] = &["auto", "uncommitted", "base", "commit"];

/// Answers to codex's questions (approval policy "ask").
pub const DECISIONS: &[&str] = &["allow", "allow_session", "deny", "stop"];

/// Job statuses by name, in the order of a job's life.
pub const STATUSES: &[&str] = &[
    "queued",
    "running",
    "input_required",
    "done",
    "error",
    "cancelled",
];

/// Largest prompt accepted, in bytes.
pub const MAX_PROMPT_BYTES: usize = 1024 * 1024;

/// How much of a prompt a list carries, in characters: enough for a person
/// or the model to recognise the job; the whole prompt is one Get away.
pub const LIST_PROMPT_CHARS: usize = 200;

/// Largest answer codexd sends, in bytes: what gRPC clients accept unless
/// told otherwise (tonic's and grpc-go's, so grpcurl's, default is 4 MiB).
/// codexd keeps every answer within it whatever its jobs hold (a list
/// carries prompts' heads, a Get sheds the oldest of a huge summary).
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// `a, b, c` of a list, for messages.
pub fn listed(values: &[&str]) -> String {
    values.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::JobStatus;

    #[test]
    fn the_statuses_are_the_protos() {
        let from_proto: Vec<String> = (1..=6)
            .filter_map(|n| JobStatus::try_from(n).ok())
            .map(|s| crate::json::status_name(s as i32))
            .collect();
        let mut sorted_proto = from_proto.clone();
        sorted_proto.sort();
        let mut sorted = STATUSES.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted_proto, sorted);
    }
}
