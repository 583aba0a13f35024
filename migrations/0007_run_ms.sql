-- How long codex ran, by the monitor's monotonic clock (exit.json's
-- duration_ms): a job's duration that a wall-clock jump cannot distort.
ALTER TABLE jobs ADD COLUMN run_ms INTEGER;
