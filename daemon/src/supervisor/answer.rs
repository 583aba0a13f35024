//! Answering the question a job's codex asks (approval policy `ask`): the
//! checks, the answer file and the monitor's wake-up, then waiting until the
//! monitor has handed the answer to codex.

use std::time::Duration;

use tracing::info;

use super::{Supervisor, SupervisorError};
use crate::{
    codex::approval::{AnswerFile, Decision},
    job::{now_rfc3339, JobId, JobRecord},
    jobdir::{write_json_atomic, Durability},
};

/// How long an Answer waits for the monitor to say it handed the answer to
/// codex (it looks for the file every second even without the signal). The
/// wait folds the output itself every [`HANDED_POLL`] rather than waiting
/// for the follower's fold (every 250 ms), so the handover is seen soon.
const HANDED_WAIT: Duration = Duration::from_secs(5);
const HANDED_POLL: Duration = Duration::from_millis(50);

/// What Answer did.
pub struct AnswerOutcome {
    pub job: JobRecord,
    pub message: String,
}

impl Supervisor {
    /// Gives `decision` to the question job `id` waits on (the one named
    /// `question_id`, when given). Refused, changing nothing, when the job
    /// has no such question pending or codex does not take that decision.
    pub async fn answer(
        &self,
        id: &JobId,
        decision: Decision,
        question_id: Option<&str>,
    ) -> Result<AnswerOutcome, SupervisorError> {
        // The newest events first: the question may have been asked (or
        // answered) since the follower's last fold.
        self.advance_summary(id).await?;
        let job = self.load(id).await?;
        let question = match (&job.summary.question, job.status.is_terminal()) {
            (_, true) => {
                return Err(SupervisorError::Precondition(format!(
                    "job_id: job {id} has ended ({}); there is no question to answer",
                    job.status
                )))
            }
            (None, false) => {
                let last = job
                    .summary
                    .approvals
                    .last()
                    .map(|a| {
                        format!(
                            " (the last one, {}, was answered {} by {})",
                            a.what, a.decision, a.by
                        )
                    })
                    .unwrap_or_default();
                return Err(SupervisorError::Precondition(format!(
                    "job_id: job {id} is {} and asks nothing now{last}; codex_poll shows when it asks",
                    job.status
                )));
            }
            (Some(q), false) => q.clone(),
        };
        if let Some(asked) = question_id.filter(|q| *q != question.id) {
            return Err(SupervisorError::Precondition(format!(
                "question_id: job {id} no longer waits on question {asked:?} (it was answered); \
                 it asks {:?} now: {}; answer that one, or leave question_id out",
                question.id,
                question.what()
            )));
        }
        if !question.decisions.iter().any(|d| d == decision.name()) {
            return Err(SupervisorError::Invalid(format!(
                "decision: codex does not take {:?} for this question; use one of {}",
                decision.name(),
                question.decisions.join(", ")
            )));
        }
        let dir = self.job_dir(id);
        let answer = AnswerFile {
            question_id: question.id.clone(),
            decision,
            answered_at: now_rfc3339(),
        };
        write_json_atomic(&dir.answer(), &answer, Durability::Synced).map_err(|source| {
            SupervisorError::JobDir {
                path: dir.answer(),
                source,
            }
        })?;
        super::wake_monitor(&job);
        self.mark_answered(id, &question.id, decision.name())
            .await?;
        info!(job_id = %id, question = %question.id, decision = decision.name(), "question answered");
        let deadline = tokio::time::Instant::now() + HANDED_WAIT;
        loop {
            self.advance_summary(id).await?;
            let job = self.load(id).await?;
            let handed = job.status.is_terminal()
                || job
                    .summary
                    .question
                    .as_ref()
                    .is_none_or(|q| q.id != question.id);
            if handed {
                let message = format!(
                    "{} {}: codex has the answer and goes on",
                    decision.name(),
                    question.what()
                );
                return Ok(AnswerOutcome { job, message });
            }
            if tokio::time::Instant::now() >= deadline {
                let message = format!(
                    "{} {}: the answer is stored and codex gets it as soon as its monitor reads it",
                    decision.name(),
                    question.what()
                );
                return Ok(AnswerOutcome { job, message });
            }
            tokio::time::sleep(HANDED_POLL).await;
        }
    }
}
