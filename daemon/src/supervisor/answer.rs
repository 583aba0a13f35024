//! Answering the question a job's codex asks (approval policy `ask`): the
//! checks (a decision codex takes for an approval, text for codex's own
//! questions, not answered already), the answer file and the monitor's
//! wake-up, then waiting until the monitor has handed the answer to codex.

use std::time::Duration;

use tracing::info;

use super::{Supervisor, SupervisorError};
use crate::{
    job::answers::{input_answers, shown_answers, AnswerFile, Decision, Reply},
    job::{now_rfc3339, JobId, JobRecord},
    store::jobdir::{write_json_atomic, Durability},
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
        reply: Reply,
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
        if let Some(given) = &question.answered {
            // The first answer is on its way to codex: a second would race it.
            return Err(SupervisorError::Precondition(format!(
                "question_id: question {:?} of job {id} is answered already ({given}); \
                 {} gets that answer; codex_poll shows what it asks next",
                question.id, job.agent
            )));
        }
        let (decision, answers) = match (reply, question.kind == "input") {
            (Reply::Decision(decision), false) => {
                if !question.decisions.iter().any(|d| d == decision.name()) {
                    return Err(SupervisorError::Invalid(format!(
                        "decision: {} does not take {:?} for this question; use one of {}",
                        job.agent.name(),
                        decision.name(),
                        question.decisions.join(", ")
                    )));
                }
                (Some(decision), Default::default())
            }
            // The user declines to answer (a form's Decline): codex gets
            // the empty answer at once instead of at the deadline.
            (Reply::Decision(Decision::Deny), true) => (None, Default::default()),
            (Reply::Decision(decision), true) => {
                return Err(SupervisorError::Invalid(format!(
                    "decision: {:?} answers an approval, but {} asks a question here ({}); \
                     pass the answer as text instead (codex_answer's answer, codexd answer --text), \
                     or deny to give it no answer",
                    decision.name(),
                    job.agent,
                    question.what()
                )))
            }
            (Reply::Text(_), false) => {
                return Err(SupervisorError::Invalid(format!(
                    "answer: {} asks for a decision here ({}), not text; pass decision, one of {}",
                    job.agent,
                    question.what(),
                    question.decisions.join(", ")
                )))
            }
            (Reply::Text(text), true) => (
                None,
                input_answers(&question.prompts, &text).map_err(SupervisorError::Invalid)?,
            ),
        };
        let answered = match decision {
            Some(decision) => decision.name().to_string(),
            None if answers.is_empty() => "declined".to_string(),
            None => shown_answers(&question.prompts, &answers),
        };
        let dir = self.job_dir(id);
        let answer = AnswerFile {
            question_id: question.id.clone(),
            decision,
            answers,
            answered_at: now_rfc3339(),
        };
        write_json_atomic(&dir.answer(), &answer, Durability::Synced).map_err(|source| {
            SupervisorError::JobDir {
                path: dir.answer(),
                source,
            }
        })?;
        super::wake_monitor(&job);
        self.mark_answered(id, &question.id, &answered).await?;
        // The answer text is the user's (a secret, maybe): not in the log.
        let decision_name = decision.map_or("text", Decision::name);
        info!(job_id = %id, question = %question.id, decision = decision_name, "question answered");
        let said = match decision {
            Some(decision) => format!("{} {}", decision.name(), question.what()),
            None => format!("{} → {answered}", question.what()),
        };
        // The agent by its name: a Claude Code job's answer goes to claude.
        let agent = job.agent.name();
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
                let message = format!("{said}: {agent} has the answer and goes on");
                return Ok(AnswerOutcome { job, message });
            }
            if tokio::time::Instant::now() >= deadline {
                let message = format!(
                    "{said}: the answer is stored and {agent} gets it as soon as its monitor reads it"
                );
                return Ok(AnswerOutcome { job, message });
            }
            tokio::time::sleep(HANDED_POLL).await;
        }
    }
}
