//! The `boxpy` binary: everything lives in the library.

// musl's malloc returns small groups to the kernel eagerly (an mmap and munmap pair per
// page of small allocations); dlmalloc keeps them. See Cargo.toml.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() -> std::process::ExitCode {
    boxpy::main()
}
