//! What codexd keeps: the home folder and its lock, SQLite (the source of
//! truth, with changes it could not take yet kept in memory), each job's
//! folder (meta.json, the monitor's files), and what rebuilds, repairs,
//! prunes and ages them. Names no agent: a job's agent is a recorded value.

pub mod db;
pub mod home;
pub mod jobdir;
pub mod pending;
pub mod prune;
pub mod rebuild;
pub mod repair;
pub mod retention;
