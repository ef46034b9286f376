//! The allocator's settings, so that the server's memory does not depend on its environment.
//!
//! glibc's malloc gives each thread that allocates an arena of its own, up to 8 per core, and
//! keeps what is freed in them for reuse: a burst of 1,000 connections left about 290 KB per
//! connection resident after they closed (issue 11), unless `MALLOC_ARENA_MAX` was set, as the
//! systemd unit does and a user running the binary does not. Two calls make that setting the
//! server's own:
//!
//! * [`limit_arenas`] at start-up: at most two arenas unless the environment says otherwise
//!   (`MALLOC_ARENA_MAX`, or `GLIBC_TUNABLES` with `glibc.malloc.arena_max`). Fewer arenas
//!   means less memory stranded in the free lists of arenas whose threads are idle; allocation
//!   is a small part of the work of a thread here (the store's reads and the executor are not
//!   allocation-bound), so the lock contention it adds is not measurable on the benchmarks.
//! * [`return_free`] when a pool of blocking threads goes idle after a burst (`crate::pool`):
//!   `malloc_trim(0)` hands the free pages of every arena, not only the top of the main heap,
//!   back to the kernel. It walks the arenas under their locks, a few milliseconds at most, once
//!   per burst.
//!
//! Both need `unsafe` (FFI into the C library; the crate denies `unsafe_code` everywhere else).
//! Other C libraries (musl, which none of the release targets use) have neither call, and
//! their malloc returns freed memory on its own: there, both are no-ops.

/// Arenas at most, unless the environment chose.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENAS: i32 = 2;

/// Limits glibc's arenas to [`ARENAS`] unless the environment set a limit. Call it before
/// threads start.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let chosen = std::env::var_os("MALLOC_ARENA_MAX").is_some()
            || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.arena_max"));
        if !chosen {
            // SAFETY: mallopt only changes a malloc parameter; M_ARENA_MAX takes any positive
            // int, and arenas that exist already stay valid.
            #[allow(unsafe_code)]
            let ok = unsafe { libc::mallopt(libc::M_ARENA_MAX, ARENAS) };
            if ok != 1 {
                log::warn!("mallopt(M_ARENA_MAX, {ARENAS}) failed");
            }
        }
    }
}

/// Gives the memory malloc holds free back to the kernel.
pub fn return_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes the arenas' locks itself and only releases free pages.
        #[allow(unsafe_code)]
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
