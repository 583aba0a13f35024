//! The operating system beneath everything: process trees (Linux's /proc,
//! macOS's libproc), finding programs on PATH, and telling a resource that
//! ran out (disk, descriptors, processes) from any other failure.

pub mod proctree;
pub mod program;
pub mod resource;

/// Keeps the daemon's heap in two malloc arenas. glibc gives every thread
/// that allocates an arena of its own, and the memory freed in one is not
/// given back or reused by the others: codexd's blocking threads (file and
/// git work for Starts) grew its RSS by ~40 KiB a job, 100 jobs 2.2 → 6.1
/// MiB of heap; with two arenas 4.2 (BENCHMARKS figure 5b). Two, not one, so
/// the two runtime workers do not queue on one lock. macOS's allocator keeps
/// per-CPU magazines instead of per-thread arenas and has no such knob;
/// nothing to do there.
pub fn few_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before
    // the runtime starts any thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
