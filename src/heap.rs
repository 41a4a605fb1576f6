//! The process's heap (a leaf module): one glibc malloc arena instead of one per thread, for
//! inputs large enough that memory matters more than allocation speed.
//!
//! glibc gives each thread that allocates its own arena and keeps what a thread frees in that
//! arena, so a search — trials on `--jobs` threads, learners on rayon's threads — holds far more
//! resident memory than is live. Measured at `--time-budget 30 --jobs 2`: a 160k-row × 14-column
//! table (12 MiB of CSV) peaked at 192 MiB resident with per-thread arenas and 112 MiB with one,
//! with the same trials run; movies (1.5 MiB) 108 → 65 MiB, diamonds (2 MiB) 85 → 54 MiB. But the
//! one arena's lock slows searches made of millisecond trials: titanic (28 KiB) ran 5,470 trials
//! in 15 s with per-thread arenas and 4,780 with one. So the binary and the suite runner switch
//! to one arena only for inputs from [`ONE_ARENA_FROM`] bytes on, where trials take long enough
//! that the lock costs nothing measurable.

use std::path::Path;

/// Training files from this many bytes on get one malloc arena.
pub const ONE_ARENA_FROM: u64 = 512 * 1024;

/// Use a single malloc arena from now on when `input` (the training file) is at least
/// [`ONE_ARENA_FROM`] bytes. Call it before reading the data or starting any thread; a library
/// embedding automl leaves its process's allocator alone by not calling it. A no-op off glibc.
pub fn settle_for(input: &Path) {
    if std::fs::metadata(input).is_ok_and(|m| m.len() >= ONE_ARENA_FROM) {
        use_one_arena();
    }
}

/// Use a single malloc arena from now on (see the module docs).
pub fn use_one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a glibc tunable; it takes no pointers. Called before other
    // threads allocate, it cannot race with them.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
