//! The seccomp filter boxpy hands to bubblewrap (`bwrap --seccomp FD`).
//!
//! # Why
//!
//! Namespaces, read-only mounts, a dropped capability set and `no_new_privs` already take
//! most things away from the sandboxed program. What they leave is the kernel itself: every
//! system call is attack surface, and a handful of them either reach state that is not
//! namespaced at all (the keyring, the clock, the kernel log, vsock, terminal input queues)
//! or are the usual first step of a kernel exploit (new user namespaces, `bpf`,
//! `userfaultfd`, `io_uring`, `perf_event_open`). This filter refuses those, in the spirit of
//! Docker's default profile, so that SPEC §4's promise "no new user namespaces, no mounts, no
//! ptrace of anything outside, no TIOCSTI" holds even where the kernel would allow them.
//!
//! It also refuses what would outlive the sandbox on the host: a file with S_ISUID or
//! S_ISGID left in a writable host directory (the workdir) runs with its owner's rights for
//! whoever starts it later, and `nosuid` holds only inside. As systemd's
//! `RestrictSUIDSGID=` does, every call that sets a mode with those bits is refused
//! (`chmod`, `fchmod`, `fchmodat`, `fchmodat2`, and `open`/`openat` with `O_CREAT` or
//! `O_TMPFILE`, `creat`, `mkdir`, `mkdirat`, `mknod`, `mknodat`); `openat2`, whose mode is
//! in memory the filter cannot read, answers ENOSYS.
//!
//! # What
//!
//! * The default action is **allow**: this is a deny-list of dangerous calls, not an
//!   allow-list of known-good ones, so arbitrary Python, C extensions and the tools they
//!   spawn keep working.
//! * A refused call fails with an **errno**, never a kill: Python raises a clean
//!   `PermissionError: [Errno 1] Operation not permitted` that boxpy's report can explain.
//!   `EPERM` for almost everything; `ENOSYS` where glibc must fall back (`clone3`) or where
//!   "this kernel has no such call" is the honest answer (x32 numbers).
//! * The one exception is a foreign ABI (i386 `int 0x80` on x86_64, arm32 on aarch64): the
//!   process is **killed** (`SIGSYS`, "Bad system call"), because the syscall numbers of that
//!   ABI mean different calls, so no errno answer can be trusted to be harmless; a 64-bit
//!   Python never uses them.
//!
//! The table of refusals is data ([`rules()`]), so the docs, the report and the tests read the
//! same thing the compiler reads. [`build_program`] compiles it into a classic-BPF program
//! with a small compiler of its own (no code generator crate), and [`build_filter`]
//! serialises that in the byte layout bwrap reads.
//!
//! # Why a compiler of its own
//!
//! The kernel pays for every instruction each time a sandbox starts: `bpf_check_classic`,
//! the conversion to eBPF, the JIT, and the action-cache emulation that walks the program
//! once per syscall number. A generic generator (`seccompiler`, used before) gave 372
//! instructions on x86_64, one linear chain of comparisons that every allowed call walked
//! almost to the end. The compiler here emits about 100 (102 on x86_64, 86 on aarch64; 77
//! and 70 before the setuid rules): a binary search over the refused numbers, each match
//! jumping straight to one shared `ret` per action or to an argument block shared by every
//! call with the same conditions, so the kernel decides any number in at most 15
//! instructions, argument block included. See [`build_program`] for the layout.
//!
//! # Security invariants
//!
//! 1. **The audit arch is checked before anything else.** The first three instructions load
//!    `seccomp_data.arch` and kill the process unless it is the target's native arch, so no
//!    syscall number of another ABI is ever compared against this ABI's numbers.
//! 2. **On x86_64 the x32 bit is checked before any syscall number.** x32 calls share
//!    `AUDIT_ARCH_X86_64` but number their calls `0x4000_0000 | n`; without this check
//!    `keyctl` through x32 would not match `keyctl`'s 64-bit number and would be allowed.
//!    Every number with bit 30 set is answered `ENOSYS` (what a kernel without x32 says),
//!    by the instruction right after the number is loaded.
//! 3. **Every argument comparison reads only the low 32 bits**: the one load instruction
//!    for an argument is `ld [16 + 8 * arg]`, the low half of `seccomp_data.args[arg]` on a
//!    little-endian arch (both supported arches are; the `AUDIT_ARCH_*` values checked in
//!    invariant 1 are the little-endian ones, so a big-endian caller never gets this far).
//!    Each argument we look at (`clone` flags, `ioctl` request, `socket` domain,
//!    `personality` persona, `open` flags, a mode) is truncated to 32 bits (a mode to 16)
//!    by the kernel itself, so the filter
//!    must look at exactly those bits: comparing all 64 would let `TIOCSTI | 1 << 32`
//!    through while the kernel still runs `TIOCSTI` (CVE-2019-10063, the Flatpak bypass).
//! 4. **`clone3` never reaches the kernel** (`ENOSYS`): its flags live in a struct in user
//!    memory that BPF cannot read, so namespace flags passed there could not be checked.
//!    glibc ≥ 2.34 falls back to `clone` on `ENOSYS`, and `clone` is checked.
//! 5. **No namespace can be created or joined**: `unshare` and `setns` are refused
//!    outright, `clone` with any `CLONE_NEW*` flag is refused.
//! 6. **Every syscall number is checked against a second source.** The default is allow, so a
//!    number that is wrong for the target arch would silently allow the call it meant to
//!    refuse. The tests compare every number with `libc::SYS_*` (host arch) and the kernel's
//!    `asm-generic/unistd.h` (aarch64), and run the compiled program in a BPF interpreter
//!    against a plain reading of the table for every number up to 1024 (and random tables
//!    against the same reading, to test the compiler itself).
//! 7. **The program is encoded exactly or not at all.** Classic-BPF jumps are forward only
//!    and their offsets are `u8`: the compiler lays out symbolic labels first and refuses
//!    ([`FilterError::JumpOutOfRange`]) rather than truncate an offset, and refuses a
//!    program longer than [`BPF_MAXINSNS`] or a condition it cannot express
//!    ([`FilterError::Unsupported`]).
//!
//! What this filter does not do: it is not the sandbox. Files, network, processes and limits
//! are bwrap's and the kernel's (namespaces, mounts, cgroups, rlimits). A deny-list also lets
//! through system calls newer than this table; those cannot hand out capabilities without a
//! user namespace, which is refused here (and `no_new_privs` plus the empty capability set
//! hold regardless).
//!
//! The module is split in two: `rules.rs` is the table (which calls, under which conditions,
//! with which action, and why) and its Linux constants; `compiler` turns a table into
//! classic BPF for one [`Arch`]. This file keeps the architecture and the public API.

use std::fmt;

mod compiler;
mod rules;

pub use compiler::build_filter;
pub use rules::rules;

/// `__X32_SYSCALL_BIT`: x32 syscall numbers are `0x4000_0000 | n` (x86_64 only).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `AUDIT_ARCH_X86_64` = `EM_X86_64 (62) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
pub const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
/// `AUDIT_ARCH_AARCH64` = `EM_AARCH64 (183) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
pub const AUDIT_ARCH_AARCH64: u32 = 183 | 0x8000_0000 | 0x4000_0000;

// ---------------------------------------------------------------------------------------------
// Architecture.
// ---------------------------------------------------------------------------------------------

/// The architecture a filter is built for. It must be the architecture of the Python that
/// runs inside the sandbox, which is the host's (the caller decides, normally with
/// [`Arch::host`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// x86_64 (`AUDIT_ARCH_X86_64`); the i386 and x32 ABIs are refused.
    X86_64,
    /// aarch64 (`AUDIT_ARCH_AARCH64`); the arm32 compat ABI is refused.
    Aarch64,
}

impl Arch {
    /// The architecture boxpy itself was compiled for, or `None` where boxpy has no filter
    /// (the sandbox then has to run without one, or refuse to run; the caller decides).
    pub fn host() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    /// The `AUDIT_ARCH_*` value the kernel puts in `seccomp_data.arch` for native calls.
    pub fn audit_arch(self) -> u32 {
        match self {
            Arch::X86_64 => AUDIT_ARCH_X86_64,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    /// The name used in `uname -m` and in Rust's `target_arch`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests;
