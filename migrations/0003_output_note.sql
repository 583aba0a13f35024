-- A note on a job's output that could not all be written (a full disk),
-- shown in its result next to codex's exit status.
ALTER TABLE jobs ADD COLUMN output_note TEXT;
