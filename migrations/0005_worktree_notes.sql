-- What a worktree job's result must say about its worktree: at start, that
-- the user's uncommitted changes were not in it (it branched from HEAD); at
-- the end, what the end commit left out or why it failed.
ALTER TABLE jobs ADD COLUMN worktree_note TEXT;
ALTER TABLE jobs ADD COLUMN commit_note TEXT;
