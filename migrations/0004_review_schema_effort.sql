-- What a review, a structured answer or a reasoning effort needs to restart
-- a job (re-adoption, a queued job started later) and to render its result:
-- the reasoning effort passed to codex, the review target (JSON), and the
-- path of the output schema file in the job's folder.
ALTER TABLE jobs ADD COLUMN reasoning_effort TEXT;
ALTER TABLE jobs ADD COLUMN review TEXT;
ALTER TABLE jobs ADD COLUMN output_schema TEXT;
