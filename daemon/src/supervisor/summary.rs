//! Folding a job's output into its summary: a follower per running job, a
//! fold per poll, and a final fold once the job ended.
//!
//! Every event the summary needs is folded, however long its line and however
//! much codex printed around it: codex writes one `item.completed` line per
//! command holding the command's whole output (megabytes), with the exit code
//! after it. The cost stays bounded during a flood: text lines are passed
//! over at memchr speed (never parsed, never copied), and only the newest
//! [`FOLLOW_FOLD_WINDOW`] / [`FINAL_FOLD_WINDOW`] bytes are read event by
//! event; before that, only the events the summary needs are folded, a long
//! line from its head and tail only, and a line repeating the one before
//! (which would change nothing) is not parsed again.

use std::{io, path::Path};

use tracing::warn;

use super::{Supervisor, SupervisorError};
use crate::{
    job::events::{Event, Summary},
    job::JobId,
    output::{
        lines::{skim, Body, Seen, SkimLimits},
        output_cap,
    },
};

/// How often a running job's new events are folded into its summary.
const FOLLOW_TICK: std::time::Duration = std::time::Duration::from_millis(250);
/// The newest output a fold reads event by event: a running job's fold
/// (every tick, and every poll), and its final fold. Before that, codex may
/// be flooding (hundreds of MB/s); parsing it all would take a core from codex
/// itself, so older lines are only skimmed for the events the summary needs.
const FOLLOW_FOLD_WINDOW: u64 = 512 * 1024;
const FINAL_FOLD_WINDOW: u64 = 2 * 1024 * 1024;
/// How much of a line a fold holds: a line up to `whole` is parsed whole (in
/// the window), a longer one from its head (room for a 256 KiB final
/// message) and its tail (a command's exit code and status). A line still
/// unfinished past `give_up` bytes is passed over, not read again each tick.
const LIMITS: SkimLimits = SkimLimits {
    whole: 16 * 1024 * 1024,
    head: 320 * 1024,
    tail: 4 * 1024,
    give_up: 64 * 1024 * 1024,
};
/// Before the window, lines up to this are parsed whole; longer ones from
/// their head and tail.
const SKIM_WHOLE: usize = 64 * 1024;
/// The event types the summary needs, folded wherever they are.
const NEEDED: &[&str] = crate::job::events::SUMMARY_EVENTS;

/// How much a summary fold may do.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fold {
    /// A running job's: up to the size seen when it starts.
    Follow,
    /// The job ended: to the end.
    Final,
}

impl Supervisor {
    /// Folds new output of job `id` into its summary (bounded work per call).
    pub async fn advance_summary(&self, id: &JobId) -> Result<(), SupervisorError> {
        self.fold_summary(id, Fold::Follow).await
    }

    /// Folds new output into the summary (see the module docs). `Follow`
    /// stops at the size it saw, so a flood cannot keep it reading; `Final`
    /// folds to the end, so the final answer, usage and error are in.
    pub(super) async fn fold_summary(&self, id: &JobId, mode: Fold) -> Result<(), SupervisorError> {
        let lock = self.summary_lock(id);
        let _guard = lock.lock().await;
        let job = self.load(id).await?;
        let path = self.job_dir(id).output();
        let start = job.events_offset;
        let asked_before = job.summary.question.as_ref().map(|q| q.id.clone());
        let folded = tokio::task::spawn_blocking(move || fold(&path, job.summary, start, mode))
            .await
            .map_err(|e| SupervisorError::Task(e.to_string()))?
            .map_err(|source| SupervisorError::JobDir {
                path: self.job_dir(id).output(),
                source,
            })?;
        let (summary, offset) = folded;
        if offset != start {
            let asked = summary.question.as_ref().map(|q| q.id.clone());
            self.inner
                .db
                .set_summary(id.as_str(), &summary, offset)
                .await?;
            if asked != asked_before {
                // A question asked or answered changes the status the API
                // shows (input_required): watchers must hear of it.
                let _ = self.inner.changes.send(id.to_string());
            }
        }
        Ok(())
    }

    /// Records that the question `question_id` of job `id` has its answer
    /// (`decision`, in `answer.json`), until the monitor hands it to codex
    /// and says so in the output; a question since answered or replaced is
    /// left alone.
    pub(super) async fn mark_answered(
        &self,
        id: &JobId,
        question_id: &str,
        decision: &str,
    ) -> Result<(), SupervisorError> {
        let lock = self.summary_lock(id);
        let _guard = lock.lock().await;
        let mut job = self.load(id).await?;
        let Some(question) = job
            .summary
            .question
            .as_mut()
            .filter(|q| q.id == question_id)
        else {
            return Ok(());
        };
        question.answered = Some(decision.to_string());
        self.inner
            .db
            .set_summary(id.as_str(), &job.summary, job.events_offset)
            .await?;
        // The status the API shows changed (input_required → running).
        let _ = self.inner.changes.send(id.to_string());
        Ok(())
    }

    fn summary_lock(&self, id: &JobId) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .summary_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(id.to_string()).or_default().clone()
    }

    /// Keeps a running job's summary current until the job ends.
    pub(super) fn follow_events(&self, id: JobId) {
        let this = self.clone();
        let mut changes = self.subscribe();
        let output = self.job_dir(&id).output();
        tokio::spawn(async move {
            // One stat per tick while codex is quiet; the database only when
            // the output grew or this job's record changed.
            let mut last_size = None;
            loop {
                let size = std::fs::metadata(&output).map(|m| m.len()).ok();
                if size != last_size {
                    last_size = size;
                    if let Err(e) = this.advance_summary(&id).await {
                        warn!(job_id = %id, error = %e, "cannot fold codex events");
                    }
                }
                let changed = tokio::select! {
                    _ = tokio::time::sleep(FOLLOW_TICK) => false,
                    change = changes.recv() => match change {
                        Ok(changed_id) => changed_id == id.as_str(),
                        // Missed some: check to be safe.
                        Err(_) => true,
                    },
                };
                if changed {
                    match this.inner.db.get(id.as_str()).await {
                        Ok(Some(job)) if !job.status.is_terminal() => {}
                        _ => break,
                    }
                }
            }
            let mut locks = this
                .inner
                .summary_locks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.remove(id.as_str());
        });
    }
}

/// Folds the output at `path` from byte `start` into `summary`; returns it
/// with the offset to go on from. Offsets count every byte the agent wrote,
/// those the output cap dropped too: a drop moves the bytes kept toward the
/// front of the file (by [`output_cap::shift`]), so a file offset kept
/// across a drop would point past events never folded, the job's final
/// answer among them. A drop during the fold moves the bytes under it: that
/// fold is not kept, and the next one (a final fold, at once) reads again.
fn fold(path: &Path, summary: Summary, start: u64, mode: Fold) -> io::Result<(Summary, u64)> {
    // A job's monitor stops dropping when the job ends, so a final fold
    // meets a drop only when a poll's fold raced the last one.
    const FINAL_TRIES: u32 = 5;
    let tries = match mode {
        Fold::Follow => 1,
        Fold::Final => FINAL_TRIES,
    };
    for _ in 0..tries {
        let shift = output_cap::shift(path).unwrap_or(0);
        let (folded, end) = fold_from(path, summary.clone(), start, shift, mode)?;
        if output_cap::shift(path).unwrap_or(0) == shift {
            return Ok((folded, end + shift));
        }
    }
    Ok((summary, start))
}

/// One fold, with the bytes before the file's start shifted by `shift`;
/// its end as a file offset.
fn fold_from(
    path: &Path,
    mut summary: Summary,
    start: u64,
    shift: u64,
    mode: Fold,
) -> io::Result<(Summary, u64)> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    // Events the cap dropped before they were folded are lost (the README's
    // Limits say so): go on after the marker.
    let offset = match shift {
        0 => start,
        _ => start.saturating_sub(shift).max(output_cap::MARKER_LEN),
    }
    .min(size);
    let (window, stop) = match mode {
        Fold::Follow => (FOLLOW_FOLD_WINDOW, size),
        Fold::Final => (FINAL_FOLD_WINDOW, u64::MAX),
    };
    let window_start = size.saturating_sub(window);
    let mut repeated = Repeats::default();
    let end = skim(path, offset, stop, &LIMITS, |seen| {
        let event = if seen.start >= window_start {
            Some(match seen.body {
                Body::Whole(line) => Event::parse(line),
                Body::Long { head, tail } => Event::parse_long(head, tail),
            })
        } else {
            skimmed_event(seen, &mut repeated)
        };
        match event {
            Some(event) => {
                summary.apply(&event);
                event.folds_once()
            }
            // Passed over (or a repeat already folded): so are its copies.
            None => true,
        }
    })?;
    Ok((summary, end))
}

/// The line before the window last folded, kept while folding it again would
/// change nothing.
#[derive(Default)]
struct Repeats {
    line: Vec<u8>,
    idempotent: bool,
}

/// A line before the window, as the event the summary needs, or None.
fn skimmed_event(seen: &Seen<'_>, repeats: &mut Repeats) -> Option<Event> {
    let head = match seen.body {
        Body::Whole(line) => line,
        Body::Long { head, .. } => head,
    };
    if !event_type(head).is_some_and(|kind| NEEDED.contains(&kind)) {
        return None;
    }
    match seen.body {
        Body::Whole(line) if line.len() <= SKIM_WHOLE => {
            if repeats.idempotent && repeats.line == line {
                return None;
            }
            let event = Event::parse(line);
            repeats.idempotent = event.folds_once();
            repeats.line.clear();
            if repeats.idempotent {
                repeats.line.extend_from_slice(line);
            }
            Some(event)
        }
        Body::Whole(line) => {
            repeats.idempotent = false;
            let head = &line[..LIMITS.head.min(line.len())];
            let tail = &line[line.len().saturating_sub(LIMITS.tail)..];
            Some(Event::parse_long(head, tail))
        }
        Body::Long { head, tail } => {
            repeats.idempotent = false;
            Some(Event::parse_long(head, tail))
        }
    }
}

/// The `type` of a JSON event from its first bytes, if it comes first (codex
/// writes it first): `{"type":"item.completed",…` → `item.completed`.
fn event_type(head: &[u8]) -> Option<&str> {
    let rest = head.strip_prefix(b"{")?.trim_ascii_start();
    let rest = rest.strip_prefix(b"\"type\"")?.trim_ascii_start();
    let rest = rest.strip_prefix(b":")?.trim_ascii_start();
    let rest = rest.strip_prefix(b"\"")?;
    let len = memchr::memchr2(b'"', b'\\', rest)?;
    std::str::from_utf8(&rest[..len]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// codex's lines for a command: started, then completed with `bytes` of
    /// output and exit code `code`, fields in codex 0.169's order.
    fn command(id: &str, bytes: usize, code: i32) -> String {
        let output = serde_json::to_string(&"1234567\n".repeat(bytes / 8)).expect("json");
        let status = if code == 0 { "completed" } else { "failed" };
        format!(
            "{{\"type\":\"item.started\",\"item\":{{\"id\":\"{id}\",\"type\":\"command_execution\",\"command\":\"run {id}\",\"aggregated_output\":\"\",\"exit_code\":null,\"status\":\"in_progress\"}}}}\n\
             {{\"type\":\"item.completed\",\"item\":{{\"id\":\"{id}\",\"type\":\"command_execution\",\"command\":\"run {id}\",\"aggregated_output\":{output},\"exit_code\":{code},\"status\":\"{status}\"}}}}\n"
        )
    }

    /// Text as a flooding codex prints it (not JSON).
    fn flood(bytes: usize) -> String {
        "spam 000000042 ................................................\n".repeat(bytes / 64)
    }

    const START: &str =
        "{\"type\":\"thread.started\",\"thread_id\":\"t1\"}\n{\"type\":\"turn.started\"}\n";
    const END: &str = "{\"type\":\"item.completed\",\"item\":{\"id\":\"m\",\"type\":\"agent_message\",\"text\":\"All done.\"}}\n\
                       {\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":5,\"cached_input_tokens\":0,\"output_tokens\":2}}\n";

    fn file_with(parts: &[&str]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        for part in parts {
            f.write_all(part.as_bytes()).expect("write");
        }
        f
    }

    fn fold_all(path: &Path, mode: Fold) -> (Summary, u64) {
        fold(path, Summary::default(), 0, mode).expect("fold")
    }

    fn runs(s: &Summary) -> Vec<(String, Option<i32>, String)> {
        s.commands
            .iter()
            .map(|c| (c.command.clone(), c.exit_code, c.status.clone()))
            .collect()
    }

    #[test]
    fn every_command_is_folded_wherever_the_window_starts() {
        // A long command line wholly before the window, one across its start,
        // and one in it; text floods around them.
        let parts = [
            START,
            &command("a", 700 * 1024, 3),
            &flood(3 << 20),
            &command("b", 600 * 1024, 4),
            &command("c", 100 * 1024, 0),
            &flood(1 << 20),
            &command("d", 5 << 20, 3),
            &flood(100 * 1024),
            END,
        ];
        let f = file_with(&parts);
        let size = parts.iter().map(|p| p.len() as u64).sum::<u64>();
        for mode in [Fold::Follow, Fold::Final] {
            let (s, end) = fold_all(f.path(), mode);
            assert_eq!(end, size, "{mode:?}");
            assert_eq!(s.commands_count, 4, "{mode:?}");
            assert_eq!(
                runs(&s),
                [
                    ("run a".into(), Some(3), "failed".into()),
                    ("run b".into(), Some(4), "failed".into()),
                    ("run c".into(), Some(0), "completed".into()),
                    ("run d".into(), Some(3), "failed".into()),
                ],
                "{mode:?}"
            );
            assert_eq!(s.thread_id.as_deref(), Some("t1"));
            assert_eq!(s.final_message.as_deref(), Some("All done."), "{mode:?}");
            assert_eq!(s.usage.map(|u| u.input_tokens), Some(5));
        }
    }

    #[test]
    fn a_line_too_long_to_hold_is_folded_from_its_head_and_tail() {
        let huge = command("big", LIMITS.whole + (1 << 20), 3);
        let f = file_with(&[START, &huge, END]);
        for mode in [Fold::Follow, Fold::Final] {
            let (s, _) = fold_all(f.path(), mode);
            assert_eq!(
                runs(&s),
                [("run big".into(), Some(3), "failed".into())],
                "{mode:?}"
            );
        }
    }

    #[test]
    fn folds_while_codex_writes_agree_with_one_fold_at_the_end() {
        let content = [
            START.to_string(),
            command("a", 900 * 1024, 3),
            flood(2 << 20),
            command("b", 40 * 1024, 0),
            "{\"type\":\"item.completed\",\"item\":{\"id\":\"p\",\"type\":\"file_change\",\"changes\":[{\"path\":\"x.rs\",\"kind\":\"add\"}]}}\n".into(),
            command("c", 3 << 20, 1),
            END.to_string(),
        ]
        .concat();
        let whole = file_with(&[&content]);
        let (expected, _) = fold_all(whole.path(), Fold::Final);
        assert_eq!(expected.commands_count, 3);
        assert_eq!(expected.files_changed.len(), 1);
        // codex writes in pieces of every size; the follower folds after each.
        for piece in [4096, 100_000, 333_333, 1 << 20] {
            let mut f = tempfile::NamedTempFile::new().expect("temp file");
            let (mut summary, mut offset) = (Summary::default(), 0);
            for chunk in content.as_bytes().chunks(piece) {
                f.write_all(chunk).expect("write");
                (summary, offset) = fold(f.path(), summary, offset, Fold::Follow).expect("fold");
            }
            (summary, offset) = fold(f.path(), summary, offset, Fold::Final).expect("fold");
            assert_eq!(offset, content.len() as u64, "pieces of {piece}");
            assert_eq!(summary, expected, "pieces of {piece}");
        }
    }

    #[test]
    fn a_fold_after_the_cap_dropped_the_head_goes_on_where_it_was() {
        // Folded while running up to the flood's end; then the last events
        // come and the cap drops the head (a collapse: the bytes kept move
        // to the front, behind the marker).
        let head = [
            START.to_string(),
            command("a", 40 * 1024, 0),
            flood(200 * 1024),
        ]
        .concat();
        let mut f = file_with(&[&head]);
        let (summary, offset) = fold(f.path(), Summary::default(), 0, Fold::Follow).expect("fold");
        assert_eq!(offset, head.len() as u64);
        let content = [head.as_str(), END].concat();
        let removed = 128 * 1024;
        let dropped = removed + output_cap::MARKER_LEN as usize;
        let mut capped = output_cap::marker(dropped as u64, 64 * 1024);
        capped.extend_from_slice(&content.as_bytes()[dropped..]);
        f.as_file_mut().set_len(0).expect("truncate");
        std::io::Seek::rewind(f.as_file_mut()).expect("rewind");
        f.write_all(&capped).expect("write");
        let (summary, offset) = fold(f.path(), summary, offset, Fold::Final).expect("fold");
        assert_eq!(summary.final_message.as_deref(), Some("All done."));
        assert_eq!(summary.commands_count, 1, "nothing folded twice");
        assert_eq!(
            offset,
            content.len() as u64,
            "counted as the agent wrote it"
        );
    }

    #[test]
    fn a_repeated_item_line_is_folded_once_and_id_less_ones_each_time() {
        let repeated = "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_7\",\"type\":\"command_execution\",\"command\":\"cargo build\",\"aggregated_output\":\"ok\\n\",\"exit_code\":0,\"status\":\"completed\"}}\n";
        let id_less = "{\"type\":\"item.completed\",\"item\":{\"type\":\"command_execution\",\"command\":\"ls\",\"exit_code\":0}}\n";
        let turn = "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":5,\"cached_input_tokens\":0,\"output_tokens\":2}}\n";
        let f = file_with(&[
            &repeated.repeat(20_000),
            &id_less.repeat(3),
            &turn.repeat(2),
            &flood(3 << 20),
        ]);
        let (s, _) = fold_all(f.path(), Fold::Final);
        assert_eq!(s.commands_count, 4, "{:?}", runs(&s));
        assert_eq!(s.usage.map(|u| u.input_tokens), Some(10), "two turns");
    }

    #[test]
    fn before_the_window_only_the_events_the_summary_needs_are_parsed() {
        assert_eq!(
            event_type(br#"{"type":"item.completed","item":{}}"#),
            Some("item.completed")
        );
        assert_eq!(
            event_type(br#"{ "type" : "turn.failed", "error": {}}"#),
            Some("turn.failed")
        );
        assert_eq!(event_type(br#"{"item":{},"type":"x"}"#), None);
        assert_eq!(event_type(br#"{"type":"item.comp"#), None);
        // An updated item before the window is passed over; its completion is not.
        let updated = "{\"type\":\"item.updated\",\"item\":{\"id\":\"u\",\"type\":\"command_execution\",\"command\":\"x\",\"status\":\"in_progress\"}}\n";
        let f = file_with(&[updated, &flood(3 << 20)]);
        assert_eq!(fold_all(f.path(), Fold::Final).0.commands_count, 0);
        let f = file_with(&[updated, &flood(100)]);
        assert_eq!(
            fold_all(f.path(), Fold::Final).0.commands_count,
            1,
            "in the window, it is folded"
        );
    }
}
