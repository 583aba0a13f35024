//! Answers to codex's questions (approval policy `ask`): the decisions a user
//! gives, their names in codex's app-server protocol, and the answer file
//! codexd hands to a job's monitor.
//!
//! The answer travels by file, not by a connection: codexd writes
//! `answer.json` into the job's folder (atomically) and sends the monitor
//! SIGUSR1; the monitor also looks for the file every second. So an answer
//! given while the monitor is busy, or by a codexd that restarted since the
//! question was asked, still reaches codex, and nothing but the job's owner
//! (the folder is 0700) can answer.

use serde::{Deserialize, Serialize};

/// The decisions, in the order forms and messages list them.
pub const DECISIONS: &[Decision] = &[
    Decision::Allow,
    Decision::AllowSession,
    Decision::Deny,
    Decision::Stop,
];

/// What the user decided about one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Run it (or make the change) this once.
    Allow,
    /// Run it, and the same again without asking, for the rest of the job.
    AllowSession,
    /// Do not; codex goes on without it.
    Deny,
    /// Do not, and end the job (its turn is interrupted).
    Stop,
}

/// A decision name that is not one of the four.
#[derive(Debug, thiserror::Error)]
#[error("decision: unknown value {0:?}; use one of allow (this once), allow_session (this and the same again for the rest of the job), deny (codex goes on without it), stop (deny and end the job)")]
pub struct BadDecision(pub String);

impl Decision {
    /// Parses a decision name; an unknown name is an error.
    pub fn parse(s: &str) -> Result<Self, BadDecision> {
        DECISIONS
            .iter()
            .copied()
            .find(|d| d.name() == s)
            .ok_or_else(|| BadDecision(s.chars().take(40).collect()))
    }

    /// The name users pass and see.
    pub fn name(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::AllowSession => "allow_session",
            Self::Deny => "deny",
            Self::Stop => "stop",
        }
    }

    /// What a person reads in a form.
    pub fn title(self) -> &'static str {
        match self {
            Self::Allow => "Allow once",
            Self::AllowSession => "Allow for the rest of this job",
            Self::Deny => "Deny (codex goes on without it)",
            Self::Stop => "Deny and stop the job",
        }
    }

    /// codex's app-server name (`CommandExecutionApprovalDecision` /
    /// `FileChangeApprovalDecision`).
    pub fn codex_value(self) -> &'static str {
        match self {
            Self::Allow => "accept",
            Self::AllowSession => "acceptForSession",
            Self::Deny => "decline",
            Self::Stop => "cancel",
        }
    }

    /// The decision codex's `availableDecisions` entry stands for, if any.
    pub fn from_codex(value: &serde_json::Value) -> Option<Self> {
        match value.as_str()? {
            "accept" => Some(Self::Allow),
            "acceptForSession" => Some(Self::AllowSession),
            "decline" => Some(Self::Deny),
            "cancel" => Some(Self::Stop),
            _ => None,
        }
    }
}

/// Who answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredBy {
    /// A person (a Claude Code form, codex_answer, `codexd answer`).
    User,
    /// Nobody answered before the question's deadline: denied.
    Timeout,
}

impl AnsweredBy {
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Timeout => "timeout",
        }
    }
}

/// `answer.json`: codexd's answer to the question `question_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerFile {
    pub question_id: String,
    pub decision: Decision,
    pub answered_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_map_to_codex() {
        for d in DECISIONS {
            assert_eq!(Decision::parse(d.name()).ok(), Some(*d));
            assert_eq!(
                Decision::from_codex(&serde_json::json!(d.codex_value())),
                Some(*d)
            );
        }
        let e = Decision::parse("yes").expect_err("unknown");
        assert!(e.to_string().starts_with("decision: unknown value \"yes\""));
    }
}
