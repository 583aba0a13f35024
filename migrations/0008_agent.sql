-- The agent CLI that runs the job (engine::Agent): every job recorded
-- before this ran codex.
ALTER TABLE jobs ADD COLUMN agent TEXT NOT NULL DEFAULT 'codex';
