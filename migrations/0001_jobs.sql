-- Every job codexd has accepted. SQLite is the source of truth; meta.json mirrors it.
CREATE TABLE jobs (
    -- Insertion order: newest-first listing and FIFO start order.
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id             TEXT    NOT NULL UNIQUE,
    status             TEXT    NOT NULL
                       CHECK (status IN ('queued', 'running', 'done', 'error', 'cancelled')),
    prompt             TEXT    NOT NULL,
    cwd                TEXT    NOT NULL,
    approval_policy    TEXT    NOT NULL,
    model              TEXT,
    -- codex's pid, once it runs.
    pid                INTEGER,
    -- The per-job monitor that owns codex, and its start time (pid-reuse guard).
    monitor_pid        INTEGER,
    monitor_start_time INTEGER,
    exit_code          INTEGER,
    error              TEXT,
    created_at         TEXT    NOT NULL,
    started_at         TEXT,
    finished_at        TEXT
);

CREATE INDEX jobs_by_status ON jobs (status, seq);
