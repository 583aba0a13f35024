//! Every answer within what codexd's clients accept
//! ([`MAX_ANSWER_BYTES`], gRPC's usual 4 MiB), whatever the jobs hold.
//!
//! A list carries each prompt's head, never the whole prompt (twenty pasted
//! logs of 220 KB would fill it), and leaves off its oldest jobs, counted,
//! if even those do not fit. A Get carries one whole prompt (at most 1 MiB)
//! and a summary whose parts are each bounded but together are not (200
//! commands of 16 KiB): one that would not fit sheds the oldest commands
//! and questions first, which the result already tells as "the most
//! recent" (their count stays), then the latest files, then the prompt
//! (to its head: `codexd show` of a job that big still answers).

use codex_async_proto::{
    v1::{GetResponse, Job, JobSummary, ListResponse},
    values::{LIST_PROMPT_CHARS, MAX_ANSWER_BYTES},
};
use prost::Message;

/// Room for an answer's message: the limit, less a margin for gRPC's own
/// framing (5 bytes a message) and anything a client counts beside it.
const ROOM: usize = MAX_ANSWER_BYTES - 64 * 1024;

/// The longest a Get's diffstat or commit note stays once every list in
/// the summary was shed and the answer is still too big.
const LONG_TEXT: usize = 64 * 1024;

/// The head of `prompt` a list carries, and whether it was cut.
fn prompt_head(prompt: &str) -> (&str, bool) {
    match prompt.char_indices().nth(LIST_PROMPT_CHARS) {
        Some((at, _)) => (&prompt[..at], true),
        None => (prompt, false),
    }
}

/// Cuts `job`'s prompt to its head, marking it cut.
fn cut_prompt(job: &mut Job) {
    let (head, cut) = prompt_head(&job.prompt);
    if cut {
        job.prompt = head.to_string();
        job.prompt_truncated = true;
    }
}

/// `job` as a list shows it: its prompt's head.
fn listed(mut job: Job) -> Job {
    cut_prompt(&mut job);
    job
}

/// What an element of a repeated message field costs in its parent: its
/// tag, its length and itself.
fn cost(item: &impl Message) -> usize {
    let len = item.encoded_len();
    1 + prost::length_delimiter_len(len) + len
}

/// The List answer for `jobs` (newest first, `matched` of them in all):
/// each with its prompt's head, as many as fit, the rest counted.
pub fn list(jobs: impl Iterator<Item = Job>, matched: usize) -> ListResponse {
    let mut answer = ListResponse::default();
    // The count's own field, at its largest.
    let mut size = 6;
    for job in jobs.map(listed) {
        let cost = cost(&job);
        if size + cost > ROOM {
            break;
        }
        size += cost;
        answer.jobs.push(job);
    }
    answer.left_off = u32::try_from(matched.saturating_sub(answer.jobs.len())).unwrap_or(u32::MAX);
    answer
}

/// Removes items of `items` (the oldest first, or the latest first) until
/// `over` bytes are saved or none is left; the bytes saved.
fn shed<T: Message>(items: &mut Vec<T>, over: usize, oldest_first: bool) -> usize {
    let mut saved = 0;
    let mut count = 0;
    let order: Box<dyn Iterator<Item = &T>> = if oldest_first {
        Box::new(items.iter())
    } else {
        Box::new(items.iter().rev())
    };
    for item in order {
        if saved >= over {
            break;
        }
        saved += cost(item);
        count += 1;
    }
    if oldest_first {
        items.drain(..count);
    } else {
        items.truncate(items.len() - count);
    }
    saved
}

/// Cuts `text` to at most `max` bytes on a character boundary, saying so.
fn clip(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut at = max;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
    text.push_str("\n[codex-async: cut here to keep the answer within 4 MiB]");
}

/// Makes a Get answer fit (see the module's comment); most answers are
/// far below and left as they are.
pub fn get(answer: &mut GetResponse) {
    let mut over = answer.encoded_len().saturating_sub(ROOM);
    if over == 0 {
        return;
    }
    if let Some(summary) = answer.summary.as_mut() {
        over = shed_summary(summary, over);
    }
    if over > 0 {
        if let Some(job) = answer.job.as_mut() {
            let before = job.prompt.len();
            cut_prompt(job);
            over = over.saturating_sub(before - job.prompt.len());
        }
    }
    if over > 0 {
        if let Some(summary) = answer.summary.as_mut() {
            for text in [summary.diffstat.as_mut(), summary.commit_note.as_mut()]
                .into_iter()
                .flatten()
            {
                clip(text, LONG_TEXT);
            }
        }
    }
}

/// Sheds the summary's lists, in the order the module's comment gives,
/// until `over` bytes are saved; what is still over.
fn shed_summary(summary: &mut JobSummary, over: usize) -> usize {
    let mut over = over;
    over = over.saturating_sub(shed(&mut summary.commands, over, true));
    over = over.saturating_sub(shed(&mut summary.approvals, over, true));
    over.saturating_sub(shed(&mut summary.files_changed, over, false))
}

#[cfg(test)]
mod tests {
    use codex_async_proto::{
        v1::{CommandRun, FileChange},
        values::MAX_PROMPT_BYTES,
    };

    use super::*;

    fn job(prompt: &str, cwd: &str) -> Job {
        Job {
            job_id: "0123456789ab".into(),
            prompt: prompt.into(),
            cwd: cwd.into(),
            ..Job::default()
        }
    }

    #[test]
    fn a_prompts_head_is_cut_on_a_character_boundary() {
        let long = "é".repeat(300);
        let (head, cut) = prompt_head(&long);
        assert_eq!((head.chars().count(), cut), (LIST_PROMPT_CHARS, true));
        let (head, cut) = prompt_head("short");
        assert_eq!((head, cut), ("short", false));
    }

    #[test]
    fn a_list_carries_heads_and_leaves_off_what_cannot_fit() {
        let whole = "p".repeat(MAX_PROMPT_BYTES);
        let answer = list((0..30).map(|_| job(&whole, "/w")), 30);
        assert_eq!((answer.jobs.len(), answer.left_off), (30, 0));
        assert!(answer.jobs.iter().all(|j| j.prompt_truncated));
        // A thousand jobs whose cwd is as long as a path gets (4 KiB) and
        // whose error is long: more than fits, the oldest counted.
        let long = "d".repeat(4096);
        let many = (0..1000).map(|_| Job {
            error: Some("e".repeat(8192)),
            ..job("short", &long)
        });
        let answer = list(many, 1000);
        assert!(answer.encoded_len() <= MAX_ANSWER_BYTES);
        assert!(answer.left_off > 0);
        assert_eq!(answer.jobs.len() + answer.left_off as usize, 1000);
    }

    #[test]
    fn a_get_too_big_sheds_the_oldest_commands_first() {
        let commands: Vec<CommandRun> = (0..200)
            .map(|n| CommandRun {
                command: format!("{n:03} {}", "c".repeat(16 * 1024)),
                exit_code: Some(0),
                status: "completed".into(),
            })
            .collect();
        let files = (0..1000)
            .map(|n| FileChange {
                path: format!("{n} {}", "f".repeat(1000)),
                kind: "update".into(),
            })
            .collect();
        let mut answer = GetResponse {
            job: Some(job(&"p".repeat(MAX_PROMPT_BYTES), "/w")),
            summary: Some(JobSummary {
                final_message: Some("m".repeat(256 * 1024)),
                commands,
                commands_count: 200,
                files_changed: files,
                ..JobSummary::default()
            }),
            ..GetResponse::default()
        };
        assert!(answer.encoded_len() > MAX_ANSWER_BYTES);
        get(&mut answer);
        assert!(answer.encoded_len() <= ROOM);
        let job = answer
            .job
            .as_ref()
            .map(|j| (j.prompt.len(), j.prompt_truncated));
        assert_eq!(
            job,
            Some((MAX_PROMPT_BYTES, false)),
            "the prompt stays whole"
        );
        let summary = answer.summary.unwrap_or_default();
        assert_eq!(summary.commands_count, 200);
        assert!(!summary.commands.is_empty() && summary.commands.len() < 200);
        assert!(summary
            .commands
            .last()
            .is_some_and(|c| c.command.starts_with("199 ")));
        assert_eq!(
            summary.files_changed.len(),
            1000,
            "files go only after commands"
        );
        assert_eq!(summary.final_message.map(|m| m.len()), Some(256 * 1024));
    }

    #[test]
    fn a_get_within_the_limit_is_left_as_it_is() {
        let mut answer = GetResponse {
            job: Some(job("do it", "/w")),
            ..GetResponse::default()
        };
        let before = answer.clone();
        get(&mut answer);
        assert_eq!(answer, before);
    }
}
