//! How a job ends: waiting for its monitor (our child, or one an earlier
//! daemon started), reading how codex ended from `exit.json` (or calling the
//! job lost), settling a worktree job's branch, and recording the end.

use std::time::Duration;

use codex_async_proto::v1::JobStatus;
use tokio::process::Child;
use tracing::{info, warn};

use super::{summary::Fold, Supervisor, SupervisorError};
use crate::{
    job::{now_rfc3339, Agent, JobId},
    store::jobdir::{ExitInfo, JobDir},
    sys::proctree,
    worktree::{self, Committed},
};

/// How often an adopted job (not our child) is checked for its end.
const ADOPTED_POLL: Duration = Duration::from_millis(100);

impl Supervisor {
    /// Waits for our own monitor child, then records how the job ended.
    pub(super) fn watch_child(&self, id: JobId, mut child: Child) {
        let this = self.clone();
        tokio::spawn(async move {
            let _ = child.wait().await;
            if let Err(e) = this.finish_from_exit_file(&id, None).await {
                warn!(job_id = %id, error = %e, "cannot record the job's end");
            }
        });
    }

    /// Follows a monitor started by an earlier daemon until it exits.
    pub(super) fn watch_adopted(&self, id: JobId, monitor_pid: i32, start_time: Option<i64>) {
        let this = self.clone();
        let exit_file = self.job_dir(&id).exit();
        tokio::spawn(async move {
            while proctree::is_same_process_alive(monitor_pid, start_time) && !exit_file.exists() {
                tokio::time::sleep(ADOPTED_POLL).await;
            }
            // The monitor writes exit.json and then exits; give it that moment.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while proctree::is_same_process_alive(monitor_pid, start_time)
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if let Err(e) = this.finish_from_exit_file(&id, None).await {
                warn!(job_id = %id, error = %e, "cannot record the job's end");
            }
        });
    }

    /// Records a job's end from the monitor's exit.json; without one the job was lost.
    pub(super) async fn finish_from_exit_file(
        &self,
        id: &JobId,
        fallback_reason: Option<String>,
    ) -> Result<(), SupervisorError> {
        self.fold_summary(id, Fold::Final).await?;
        // Read once, after the final fold: the reasons below name its agent
        // and quote its summary's last error.
        let job = self.load(id).await?;
        let agent = job.agent;
        let dir = self.job_dir(id);
        let exit = dir.read_exit();
        if let Some(note) = exit.as_ref().and_then(|e| e.output_note.as_deref()) {
            self.inner.db.set_output_note(id.as_str(), note).await?;
        }
        if let Some(ms) = exit.as_ref().and_then(|e| e.duration_ms) {
            self.inner.db.set_run_ms(id.as_str(), ms).await?;
        }
        let (status, code, mut reason) = match exit {
            Some(exit) => outcome(&exit, agent),
            None => (
                JobStatus::Error,
                None,
                Some(fallback_reason.unwrap_or_else(|| lost_reason(&dir, agent))),
            ),
        };
        // A non-zero exit says more with the agent's own last error.
        if let (JobStatus::Error, Some(code), Some(text)) = (status, code, reason.as_mut()) {
            if let Some(message) = &job.summary.error_message {
                if text.starts_with(&format!("{agent} exited")) {
                    *text = format!(
                        "{agent} exited with code {code}: {}",
                        crate::job::events::one_line(message, 300)
                    );
                }
            }
        }
        // codex's usage error (exit 2) names no version and no fix: say both.
        if let (JobStatus::Error, Some(code), Some(text)) = (status, code, reason.as_mut()) {
            if let Some(why) =
                crate::engine::explain_exit(&self.inner.config, agent, &dir.output(), code).await
            {
                *text = why;
            }
        }
        self.record_end(id, status, code, reason.as_deref()).await
    }

    /// Records that a job ended: the rest of its output folded into its
    /// summary, its worktree settled (see [`Self::settle_worktree`]), then
    /// the database, meta.json and watchers. Everything a result shows is in
    /// place before the status says the job ended.
    pub(super) async fn record_end(
        &self,
        id: &JobId,
        status: JobStatus,
        exit_code: Option<i32>,
        reason: Option<&str>,
    ) -> Result<(), SupervisorError> {
        // Everything codex printed is in: fold the rest of it, so the final
        // status is never seen without the final answer.
        self.fold_summary(id, Fold::Final).await?;
        self.settle_worktree(id, status, exit_code).await;
        let changed = self
            .inner
            .db
            .finish(id.as_str(), status, exit_code, reason, &now_rfc3339())
            .await?;
        if changed {
            info!(job_id = %id, status = %status, exit_code, reason, "job ended");
            self.refresh(id).await?;
            // A slot may have freed.
            self.kick();
        }
        Ok(())
    }

    /// For a worktree job, before its end is recorded. When codex ran: commits
    /// what it left uncommitted to the job's branch, then records the
    /// branch's diffstat against its base (a reply's too: it works on its
    /// parent's branch). When codex never ran (cancelled while queued, its
    /// monitor or codex failed to start): removes the worktree and the
    /// branch the Start made, which hold nothing. Fails soft: the job's end
    /// is recorded whatever git says, and the log says what went wrong.
    async fn settle_worktree(&self, id: &JobId, status: JobStatus, exit_code: Option<i32>) {
        let Ok(job) = self.load(id).await else { return };
        // Recorded already (a second watcher): its branch was settled then.
        if job.status.is_terminal() {
            return;
        }
        let Some(branch) = job.branch.as_deref() else {
            return;
        };
        let Some(owner) = worktree::owner_of(branch) else {
            warn!(job_id = %id, branch, "not a codex-async branch; its work is not committed");
            return;
        };
        let owner_dir = self.job_dir(&owner);
        // Replies to one job share its worktree and may end together.
        let lock = self.worktree_lock(branch);
        let _guard = lock.lock().await;
        if owner == *id && !agent_ran(&self.job_dir(id)) {
            match worktree::discard_unused(owner_dir.path(), branch).await {
                Ok(()) => {
                    info!(job_id = %id, branch, "codex never ran: its worktree and branch were removed");
                    if let Err(e) = self.inner.db.clear_worktree(id.as_str()).await {
                        warn!(job_id = %id, error = %e, "cannot record that the worktree is gone");
                    }
                }
                Err(e) => {
                    warn!(job_id = %id, branch, error = %e, "cannot remove the worktree of a job that never ran");
                }
            }
            return;
        }
        let ending = match exit_code {
            Some(code) => format!("{status}, exit code {code}"),
            None => status.to_string(),
        };
        let paths: Vec<String> = job
            .summary
            .files_changed
            .iter()
            .map(|f| f.path.clone())
            .collect();
        let all_known = paths.len() < crate::job::events::MAX_FILES;
        let work = worktree::JobWork {
            id,
            prompt: &job.prompt,
            ending: &ending,
            run_dir: std::path::Path::new(job.run_dir()),
            agent_paths: all_known.then_some(paths.as_slice()),
        };
        let tree = worktree::tree_in(owner_dir.path());
        let note = match worktree::commit_work(owner_dir.path(), branch, &work).await {
            Ok(Committed { commit, left_out }) => {
                if let Some(commit) = &commit {
                    info!(job_id = %id, branch, commit, "committed the job's work to its branch");
                }
                (!left_out.is_empty()).then(|| {
                    format!(
                        "not committed, as they are not {}'s edits: {} (still in the worktree {})",
                        job.agent,
                        worktree::name_paths(&left_out),
                        tree.display()
                    )
                })
            }
            Err(e) => {
                warn!(job_id = %id, branch, error = %e,
                      "cannot commit the job's work; it stays uncommitted in the worktree");
                Some(format!(
                    "the end commit failed ({}); {}'s work is uncommitted in the worktree {}: commit it there with git",
                    crate::job::events::one_line(&e.to_string(), 300),
                    job.agent,
                    tree.display()
                ))
            }
        };
        match worktree::diffstat(owner_dir.path(), branch).await {
            Ok(stat) => {
                if let Err(e) = self
                    .inner
                    .db
                    .set_diffstat(id.as_str(), &stat, note.as_deref())
                    .await
                {
                    warn!(job_id = %id, error = %e, "cannot record the diffstat");
                }
            }
            Err(e) => warn!(job_id = %id, error = %e, "cannot compute the diffstat"),
        }
    }

    /// The lock of one worktree (by branch), so two commits never race for
    /// its index.
    fn worktree_lock(&self, branch: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .worktree_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(branch.to_string()).or_default().clone()
    }
}

/// Whether the job's agent was ever started for the job in `dir`: the
/// monitor records its start in monitor.json, and a failed start in
/// exit.json.
pub(super) fn agent_ran(dir: &JobDir) -> bool {
    match dir.read_exit() {
        Some(exit) => exit.spawn_error.is_none(),
        None => dir.monitor_info().exists(),
    }
}

/// Why a job whose monitor vanished is `error`; kills what the monitor left
/// running, since nothing else would ever stop it, and removes the question
/// socket it left in the job's folder.
fn lost_reason(dir: &JobDir, agent: Agent) -> String {
    if !dir.path().exists() {
        // Its monitor stops codex when the folder goes, and writes exit.json
        // into it made again; only with the home gone too is there nowhere.
        return format!(
            "{}; {agent}'s exit status could not be recorded",
            crate::store::jobdir::folder_removed_reason(dir.path())
        );
    }
    let reason = format!("lost: the job's monitor ended without recording {agent}'s exit status");
    // The monitor removes its question socket as it ends; one killed leaves
    // the file, where nothing answers any more.
    let _ = std::fs::remove_file(dir.path().join(JobDir::ask_socket_name()));
    match dir.read_monitor_info() {
        Some(m) if proctree::kill_orphaned_job(m.monitor_pid, m.codex_pid, m.codex_start_time) => {
            warn!(
                codex_pid = m.codex_pid,
                "killed the processes of a job whose monitor died"
            );
            format!(
                "{reason}; {agent} (pid {}) and its processes were killed",
                m.codex_pid
            )
        }
        _ => reason,
    }
}

/// Status, exit code and reason from a monitor's exit record.
fn outcome(exit: &ExitInfo, agent: Agent) -> (JobStatus, Option<i32>, Option<String>) {
    if let Some(reason) = &exit.spawn_error {
        return (JobStatus::Error, None, Some(reason.clone()));
    }
    if let Some(reason) = &exit.reason {
        return (JobStatus::Error, exit.exit_code, Some(reason.clone()));
    }
    if exit.cancelled {
        return (
            JobStatus::Cancelled,
            exit.exit_code,
            Some("cancelled by request".into()),
        );
    }
    match (exit.exit_code, exit.signal) {
        (Some(0), _) => (JobStatus::Done, Some(0), None),
        (Some(code), _) => (
            JobStatus::Error,
            Some(code),
            Some(format!(
                "{agent} exited with code {code}; see the output for why"
            )),
        ),
        (None, Some(sig)) => (
            JobStatus::Error,
            None,
            Some(format!("{agent} was killed by signal {sig}")),
        ),
        (None, None) => (
            JobStatus::Error,
            None,
            Some(format!("{agent} ended with an unknown status")),
        ),
    }
}
