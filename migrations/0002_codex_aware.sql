-- Codex-aware jobs: what codex did (folded from its --json events), follow-ups,
-- worktree isolation and watchdogs.
ALTER TABLE jobs ADD COLUMN summary TEXT;                       -- JSON of events::Summary
ALTER TABLE jobs ADD COLUMN events_offset INTEGER NOT NULL DEFAULT 0;  -- bytes of output folded into summary
ALTER TABLE jobs ADD COLUMN thread_id TEXT;
ALTER TABLE jobs ADD COLUMN parent_job_id TEXT;
ALTER TABLE jobs ADD COLUMN isolation TEXT NOT NULL DEFAULT 'none'
    CHECK (isolation IN ('none', 'worktree'));
ALTER TABLE jobs ADD COLUMN branch TEXT;
ALTER TABLE jobs ADD COLUMN worktree TEXT;
ALTER TABLE jobs ADD COLUMN diffstat TEXT;
ALTER TABLE jobs ADD COLUMN stall_timeout INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN max_duration INTEGER NOT NULL DEFAULT 0;
