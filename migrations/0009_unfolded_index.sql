-- Finished jobs whose output is not yet folded into their summary are looked
-- for in the background at every start (Db::finished_unfolded). Without an
-- index that reads every row: 46 ms with 100,000 jobs, beside the first
-- calls a new codexd answers. A job leaves this index when it is folded.
CREATE INDEX IF NOT EXISTS jobs_unfolded ON jobs (seq) WHERE events_offset = 0;
