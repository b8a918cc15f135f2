//! `shortcut-env`: see the README. All logic lives in the library; this only hands over the
//! process's arguments and environment and turns a failure into its exit status.

/// The static (musl) build's allocator. musl's own hands memory back to the kernel as soon as
/// it is free and maps it again at the next allocation: a start made ~200 `mmap` and ~180
/// `munmap` calls, a quarter of its CPU (bench/README.md). dlmalloc keeps freed memory for
/// reuse (it trims past 2 MiB of free memory).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() {
    std::process::exit(shortcut_env::main_with(
        std::env::args_os().collect(),
        shortcut_env::process_vars(),
    ));
}
