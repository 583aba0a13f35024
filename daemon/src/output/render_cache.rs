//! The latest events of finished jobs, rendered once. A finished job's output
//! never changes, and an agent polls it again and again (codex_poll after the
//! end, codex_result, other sessions), so each of those polls becomes a
//! lookup instead of reading and parsing the output's last 32 KiB.
//!
//! Entries are keyed by job and output size, so a file that did change (it
//! cannot, but a stale answer would be worse than a parse) is rendered anew.
//! A small FIFO is enough: the jobs polled are the few that just finished.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
};

use crate::output::render::Rendered;

/// Finished jobs whose latest events are kept.
const CAPACITY: usize = 64;

/// Rendered latest events per finished job.
#[derive(Default)]
pub struct RenderCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_job: HashMap<String, (u64, Rendered)>,
    /// Insertion order, oldest first, for eviction.
    order: VecDeque<String>,
}

impl RenderCache {
    /// The rendered latest events of `job_id` if its output still has `size` bytes.
    pub fn get(&self, job_id: &str, size: u64) -> Option<Rendered> {
        let entries = self.lock();
        match entries.by_job.get(job_id) {
            Some((cached_size, rendered)) if *cached_size == size => Some(rendered.clone()),
            _ => None,
        }
    }

    /// Keeps `rendered` as the latest events of `job_id` with `size` bytes of output.
    pub fn put(&self, job_id: &str, size: u64, rendered: &Rendered) {
        let mut entries = self.lock();
        let value = (size, rendered.clone());
        if entries.by_job.insert(job_id.to_string(), value).is_none() {
            entries.order.push_back(job_id.to_string());
            while entries.order.len() > CAPACITY {
                if let Some(oldest) = entries.order.pop_front() {
                    entries.by_job.remove(&oldest);
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(text: &str) -> Rendered {
        Rendered {
            text: text.into(),
            next_cursor: 7,
            truncated: false,
        }
    }

    #[test]
    fn a_hit_needs_the_same_size() {
        let cache = RenderCache::default();
        cache.put("a", 10, &rendered("x"));
        assert_eq!(cache.get("a", 10), Some(rendered("x")));
        assert_eq!(cache.get("a", 11), None, "output changed: render again");
        assert_eq!(cache.get("b", 10), None);
    }

    #[test]
    fn the_oldest_entries_leave_first() {
        let cache = RenderCache::default();
        for i in 0..=CAPACITY {
            cache.put(&format!("job{i}"), 1, &rendered("x"));
        }
        assert_eq!(cache.get("job0", 1), None, "evicted");
        assert!(cache.get("job1", 1).is_some());
        assert!(cache.get(&format!("job{CAPACITY}"), 1).is_some());
        // Replacing an entry does not grow the order queue.
        cache.put("job1", 2, &rendered("y"));
        assert_eq!(cache.get("job1", 2), Some(rendered("y")));
        assert_eq!(cache.lock().order.len(), CAPACITY);
    }
}
