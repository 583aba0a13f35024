//! The operating system beneath everything: process trees (Linux's /proc,
//! macOS's libproc), finding programs on PATH, and telling a resource that
//! ran out (disk, descriptors, processes) from any other failure.

pub mod proctree;
pub mod program;
pub mod resource;
