-- Which database this is: one random id, made when the database is created.
-- The home keeps a copy (codexd.generation), so a start that finds a new
-- database where another one was (deleted, replaced, restored) knows it and
-- says so, instead of starting silently empty.
CREATE TABLE generation (
    id         TEXT NOT NULL,
    created_at TEXT NOT NULL
);
