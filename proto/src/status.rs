//! The lowercase names users see for [`JobStatus`] (`queued`, `running`, …).

use std::{fmt, str::FromStr};

use crate::v1::JobStatus;

impl JobStatus {
    /// The user-facing name, as in `meta.json` and the MCP tools.
    pub fn name(self) -> &'static str {
        match self {
            JobStatus::Unspecified => "unspecified",
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Error => "error",
            JobStatus::Cancelled => "cancelled",
            JobStatus::InputRequired => "input_required",
        }
    }

    /// True once the job can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Done | JobStatus::Error | JobStatus::Cancelled
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A status name that is not one of the six.
#[derive(Debug, thiserror::Error)]
#[error("unknown status {0:?}: use one of queued, running, input_required, done, error, cancelled")]
pub struct ParseStatusError(pub String);

impl FromStr for JobStatus {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(JobStatus::Queued),
            "running" => Ok(JobStatus::Running),
            "done" => Ok(JobStatus::Done),
            "error" => Ok(JobStatus::Error),
            "cancelled" => Ok(JobStatus::Cancelled),
            "input_required" => Ok(JobStatus::InputRequired),
            other => Err(ParseStatusError(other.to_string())),
        }
    }
}
