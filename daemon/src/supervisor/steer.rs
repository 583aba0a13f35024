//! Steering a running job: text sent into codex's turn while it works. The
//! checks (a job in a turn: not queued, not waiting for an answer, not
//! ended, not a review), the note in the job's folder and the monitor's
//! wake-up, then waiting until the monitor says codex took it.
//!
//! The monitor holds codex, so a steering reaches it after codexd or a
//! shim restarted; the note is in the folder until the monitor reads it.

use std::time::Duration;

use codex_async_proto::v1::JobStatus;
use tracing::info;

use super::{Supervisor, SupervisorError};
use crate::{
    job::{JobId, JobRecord, Kind},
    store::jobdir::{write_json_atomic, Durability, SteerDone, SteerNote},
};

/// How long a Steer waits for the monitor to say codex took the text
/// (codex answers within milliseconds; the monitor also looks every second
/// without the signal).
const TAKEN_WAIT: Duration = Duration::from_secs(5);
const TAKEN_POLL: Duration = Duration::from_millis(5);

/// What Steer did.
pub struct SteerOutcome {
    pub job: JobRecord,
    pub message: String,
}

impl Supervisor {
    /// Sends `text` into the turn job `id` runs. Refused, changing nothing,
    /// when the job is in no turn: queued, waiting for an answer, ended, or
    /// a review (codex exec takes nothing once started).
    pub async fn steer(&self, id: &JobId, text: String) -> Result<SteerOutcome, SupervisorError> {
        // The newest events first: a question may have come since the
        // follower's last fold.
        self.advance_summary(id).await?;
        let job = self.load(id).await?;
        refuse_unless_in_a_turn(id, &job)?;
        let dir = self.job_dir(id);
        let steer_dir = dir.steer_dir();
        std::fs::create_dir_all(&steer_dir).map_err(|source| SupervisorError::JobDir {
            path: steer_dir.clone(),
            source,
        })?;
        let n = {
            let _numbering = self.inner.steering.lock().await;
            let n = dir.next_steer();
            let note = dir.steer_note(n, "json");
            write_json_atomic(&note, &SteerNote { text: text.clone() }, Durability::Synced)
                .map_err(|source| SupervisorError::JobDir {
                    path: note.clone(),
                    source,
                })?;
            n
        };
        super::wake_monitor(&job);
        info!(job_id = %id, steering = n, "steering handed to the monitor");
        let done = dir.steer_note(n, "done");
        let deadline = tokio::time::Instant::now() + TAKEN_WAIT;
        loop {
            if let Some(answer) = std::fs::read(&done)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<SteerDone>(&bytes).ok())
            {
                if let Some(why) = answer.error {
                    // Nothing stays of a steering codex refused.
                    for state in ["json", "sent", "done"] {
                        let _ = std::fs::remove_file(dir.steer_note(n, state));
                    }
                    return Err(SupervisorError::Precondition(format!(
                        "job_id: job {id} took no steering: {why}; codex_poll shows what it does now"
                    )));
                }
                self.advance_summary(id).await?;
                let job = self.load(id).await?;
                return Ok(SteerOutcome {
                    message: format!(
                        "{} has it: job {id} reads it at its next step (a command running now finishes first)",
                        job.agent
                    ),
                    job,
                });
            }
            if tokio::time::Instant::now() >= deadline {
                let job = self.load(id).await?;
                return Ok(SteerOutcome {
                    message: format!(
                        "stored: job {id}'s monitor sends it to {} as soon as it reads it",
                        job.agent
                    ),
                    job,
                });
            }
            tokio::time::sleep(TAKEN_POLL).await;
        }
    }
}

/// The refusal for a job that runs no turn now, naming what to do instead.
fn refuse_unless_in_a_turn(id: &JobId, job: &JobRecord) -> Result<(), SupervisorError> {
    let refuse = |why: String| Err(SupervisorError::Precondition(why));
    match job.api_status() {
        JobStatus::Queued => {
            return refuse(format!(
                "job_id: job {id} is queued: it has not started, so there is no turn to steer; \
                 steer it once it runs, or cancel it and start it again with this in the prompt"
            ))
        }
        JobStatus::InputRequired => {
            let what = job
                .summary
                .question
                .as_ref()
                .map(|q| q.what())
                .unwrap_or_default();
            return refuse(format!(
                "job_id: job {id} waits for an answer to its question ({what}); answer it first \
                 (codex_answer, or codexd answer {id} DECISION), then steer"
            ));
        }
        status if job.status.is_terminal() => {
            return refuse(format!(
                "job_id: job {id} has ended ({status}); continue its conversation with codex_reply \
                 instead, which starts a new job that remembers it"
            ))
        }
        _ => {}
    }
    if let Kind::Review(_) = job.kind() {
        return refuse(format!(
            "job_id: job {id} is a review (codex exec review), which takes nothing once started; \
             cancel it and review again with instructions"
        ));
    }
    Ok(())
}
