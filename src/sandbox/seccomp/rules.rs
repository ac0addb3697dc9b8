//! The seccomp rule table: which system calls are refused, under which conditions (the
//! low 32 bits of an argument), with which action, and why. Data only: the docs, the report
//! and the tests read the same rows the compiler (`super::compiler`) reads.

use std::fmt;

use super::Arch;

// ---------------------------------------------------------------------------------------------
// Linux ABI constants.
//
// Written out here rather than taken from `libc` because the filter is for *Linux* whatever
// the build host is (macOS has another ENOSYS, and libc only defines the `SYS_*` numbers of
// the arch it is compiled for). The values are identical on x86_64 and aarch64; the tests
// compare each one with `libc` on Linux.
// ---------------------------------------------------------------------------------------------

/// `EPERM`: "Operation not permitted". Python raises `PermissionError`.
pub const EPERM: u16 = 1;
/// `ENOSYS`: "Function not implemented". glibc treats it as "fall back to the older call".
pub const ENOSYS: u16 = 38;

/// `TIOCSTI`: push a byte into a terminal's input queue, i.e. type commands into the shell
/// that owns the terminal once the sandbox exits.
pub const TIOCSTI: u32 = 0x5412;
/// `TIOCLINUX`: Linux console multiplexer; `TIOCL_SETSEL`/`TIOCL_PASTESEL` can paste into the
/// console just like `TIOCSTI`.
pub const TIOCLINUX: u32 = 0x541C;

/// `AF_VSOCK`: sockets to the hypervisor and other VMs. They are not network-namespaced, so
/// `network = "none"` would not cover them.
pub const AF_VSOCK: u32 = 40;

const CLONE_NEWTIME: u32 = 0x0000_0080;
const CLONE_NEWNS: u32 = 0x0002_0000;
const CLONE_NEWCGROUP: u32 = 0x0200_0000;
const CLONE_NEWUTS: u32 = 0x0400_0000;
const CLONE_NEWIPC: u32 = 0x0800_0000;
const CLONE_NEWUSER: u32 = 0x1000_0000;
const CLONE_NEWPID: u32 = 0x2000_0000;
const CLONE_NEWNET: u32 = 0x4000_0000;

/// Every `CLONE_NEW*` flag. `clone` with any of them set is refused.
///
/// `CLONE_NEWTIME` (0x80) sits in the low byte, which `clone(2)` reads as the child's exit
/// signal, so the kernel only accepts it through `clone3`/`unshare` (both refused here). It is
/// in the mask anyway: an exit signal ≥ 128 is invalid, so nothing legitimate carries that bit,
/// and the mask then reads as "all namespace flags" without a footnote.
pub const CLONE_NAMESPACE_FLAGS: u32 = CLONE_NEWTIME
    | CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET;

/// Personas `personality(2)` may be called with; any other value is refused.
///
/// The same set Docker allows: `PER_LINUX` (0), `PER_LINUX32` (8), `UNAME26` (0x20000),
/// `UNAME26 | PER_LINUX32` (0x20008), and `0xffffffff`, which only *queries* the current
/// persona. Everything else is a flag that weakens the process for the next `execve`:
/// `ADDR_NO_RANDOMIZE` turns off ASLR, `READ_IMPLIES_EXEC` makes every readable mapping
/// executable, `MMAP_PAGE_ZERO` maps page 0 (null-pointer exploits).
pub const PERSONALITY_ALLOWED: &[u32] = &[
    0x0000_0000,
    0x0000_0008,
    0x0002_0000,
    0x0002_0008,
    0xffff_ffff,
];

/// `S_ISUID | S_ISGID`: the mode bits that make a file run with its owner's (group's)
/// credentials. A mode argument with either is refused (the table's "setuid and setgid
/// files" rules).
pub const SETID_MODE_BITS: u32 = 0o4000 | 0o2000;

/// The `open`/`openat` flags with which the call creates a file and reads its mode argument:
/// `O_CREAT` (0o100) and `__O_TMPFILE` (0o20000000, the bit `O_TMPFILE` adds to
/// `O_DIRECTORY`; the kernel refuses it without `O_DIRECTORY`, so testing the one bit is
/// testing `O_TMPFILE`). Both values are the same on x86_64 and aarch64. Without them the
/// kernel ignores the mode, and so must the filter: callers leave whatever was in the
/// register there (glibc's `open` reads no mode argument then), and a stale S_ISUID bit
/// must not make an ordinary open fail. systemd's `RestrictSUIDSGID=` tests the same two.
pub const OPEN_CREATE_FLAGS: u32 = 0o100 | 0o2000_0000;

// ---------------------------------------------------------------------------------------------
// The rule table.
// ---------------------------------------------------------------------------------------------

/// What a refused call gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The call fails with this errno (`SECCOMP_RET_ERRNO`); the program keeps running.
    Errno(u16),
    /// The whole process is killed with `SIGSYS` (`SECCOMP_RET_KILL_PROCESS`).
    KillProcess,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Errno(EPERM) => f.write_str("EPERM"),
            Action::Errno(ENOSYS) => f.write_str("ENOSYS"),
            Action::Errno(n) => write!(f, "errno {n}"),
            Action::KillProcess => f.write_str("kill process (SIGSYS)"),
        }
    }
}

/// When a listed system call is refused. Argument conditions read the low 32 bits of the
/// argument only (security invariant 3 in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every call.
    Always,
    /// When argument `arg` has any bit of `mask` set.
    AnyBit {
        /// Argument index, 0..=5.
        arg: u8,
        /// Bits that make the call refused.
        mask: u32,
    },
    /// When argument `arg` equals one of `values`.
    OneOf {
        /// Argument index, 0..=5.
        arg: u8,
        /// Refused values.
        values: &'static [u32],
    },
    /// When argument `arg` equals none of `values` (an allow-list of argument values).
    NoneOf {
        /// Argument index, 0..=5.
        arg: u8,
        /// The only values allowed through.
        values: &'static [u32],
    },
    /// When every one of these conditions holds (each an [`When::AnyBit`], [`When::OneOf`]
    /// or [`When::NoneOf`]): e.g. `openat` creating a file (flags has `O_CREAT`) *and*
    /// asking for a setuid mode (mode has `S_ISUID`).
    AllOf(&'static [When]),
}

/// What a rule refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A system call of the target's native ABI.
    Syscall {
        /// The kernel's name for it (`keyctl`, `clone`, …).
        name: &'static str,
        /// Its number on x86_64, `None` when x86_64 has no such call.
        x86_64: Option<u32>,
        /// Its number on aarch64, `None` when aarch64 has no such call.
        aarch64: Option<u32>,
        /// Which calls of it are refused.
        when: When,
    },
    /// Any call whose `seccomp_data.arch` is not the target's (i386 `int 0x80` on x86_64,
    /// arm32 compat on aarch64).
    ForeignArch,
    /// x86_64 only: any call made through the x32 ABI (number has `X32_SYSCALL_BIT` set).
    X32Abi,
}

/// One row of the filter's rule table: what is refused, with what, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// What the rule refuses.
    pub subject: Subject,
    /// What the program gets back.
    pub action: Action,
    /// One sentence for docs and error reports: why a sandboxed program may not do this.
    pub why: &'static str,
}

impl Rule {
    /// The system call's name, or a short label for the ABI rules.
    pub fn name(&self) -> &'static str {
        match self.subject {
            Subject::Syscall { name, .. } => name,
            Subject::ForeignArch => "(foreign ABI)",
            Subject::X32Abi => "(x32 ABI)",
        }
    }

    /// The syscall number on `arch`, for [`Subject::Syscall`] rules that exist there.
    pub fn nr(&self, arch: Arch) -> Option<u32> {
        match self.subject {
            Subject::Syscall {
                x86_64, aarch64, ..
            } => match arch {
                Arch::X86_64 => x86_64,
                Arch::Aarch64 => aarch64,
            },
            Subject::ForeignArch | Subject::X32Abi => None,
        }
    }

    /// Whether the rule has any effect on `arch`.
    pub fn applies_to(&self, arch: Arch) -> bool {
        match self.subject {
            Subject::Syscall { .. } => self.nr(arch).is_some(),
            Subject::ForeignArch => true,
            Subject::X32Abi => arch == Arch::X86_64,
        }
    }
}

impl fmt::Display for When {
    /// `""` for [`When::Always`], otherwise the condition, e.g. ` if arg1 is one of 0x5412, 0x541c`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, values: &[u32]| {
            for (i, v) in values.iter().enumerate() {
                write!(f, "{}{v:#x}", if i == 0 { "" } else { ", " })?;
            }
            Ok(())
        };
        match *self {
            When::Always => Ok(()),
            When::AnyBit { arg, mask } => write!(f, " if arg{arg} has any of the bits {mask:#x}"),
            When::OneOf { arg, values } => {
                write!(f, " if arg{arg} is one of ")?;
                list(f, values)
            }
            When::NoneOf { arg, values } => {
                write!(f, " unless arg{arg} is one of ")?;
                list(f, values)
            }
            When::AllOf(conditions) => {
                for (i, condition) in conditions.iter().enumerate() {
                    f.write_str(if i == 0 { " if " } else { " and " })?;
                    match *condition {
                        When::AnyBit { arg, mask } => {
                            write!(f, "arg{arg} has any of the bits {mask:#x}")?
                        }
                        When::OneOf { arg, values } => {
                            write!(f, "arg{arg} is one of ")?;
                            list(f, values)?
                        }
                        When::NoneOf { arg, values } => {
                            write!(f, "arg{arg} is none of ")?;
                            list(f, values)?
                        }
                        // Refused by the compiler (`check_condition`); shown as written.
                        When::Always | When::AllOf(_) => write!(f, "({condition:?})")?,
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Rule {
    /// One line for docs and `boxpy doctor`-style listings:
    /// `ioctl if arg1 is one of 0x5412, 0x541c: EPERM (TIOCSTI and TIOCLINUX push input …)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        if let Subject::Syscall { when, .. } = self.subject {
            write!(f, "{when}")?;
        }
        write!(f, ": {} ({})", self.action, self.why)
    }
}

/// The rule table, in the order the docs present it. See [`Rule`] for the shape.
pub fn rules() -> &'static [Rule] {
    RULES
}

/// A syscall refused on every call with `EPERM`.
const fn always(
    name: &'static str,
    x86_64: Option<u32>,
    aarch64: Option<u32>,
    why: &'static str,
) -> Rule {
    Rule {
        subject: Subject::Syscall {
            name,
            x86_64,
            aarch64,
            when: When::Always,
        },
        action: Action::Errno(EPERM),
        why,
    }
}

/// A syscall refused with `EPERM` when `when` holds.
const fn refuse_when(
    name: &'static str,
    x86_64: Option<u32>,
    aarch64: Option<u32>,
    when: When,
    why: &'static str,
) -> Rule {
    Rule {
        subject: Subject::Syscall {
            name,
            x86_64,
            aarch64,
            when,
        },
        action: Action::Errno(EPERM),
        why,
    }
}

/// Why the setuid/setgid rules refuse (one text for all of them).
const SETID_WHY: &str = "a setuid or setgid file left in a host directory runs with its \
                         owner's rights for whoever starts it later (nosuid holds only inside \
                         the sandbox); other modes are fine";

// Numbers: x86_64 from `arch/x86/entry/syscalls/syscall_64.tbl` (= `libc::SYS_*` on x86_64),
// aarch64 from `include/uapi/asm-generic/unistd.h` (= `libc::SYS_*` on aarch64). Both columns
// are checked by the tests.
//
// Left out on purpose, with the reason:
// * `create_module`, `get_kernel_syms`, `query_module` (x86_64 174/177/178): `sys_ni_syscall`
//   since Linux 2.6, the kernel already answers ENOSYS; libc has no constant for them.
// * `vm86`, `vm86old`, `stime`, `umount`, `clock_settime64`: i386-only (or 32-bit time64)
//   numbers; an i386 caller is killed by the foreign-ABI rule before any number is read.
// * `name_to_handle_at`: Docker allows it; it only *names* a file. Its dangerous half,
//   `open_by_handle_at` (the "shocker" container escape), is refused.
// * `mbind`, `set_mempolicy`, `get_mempolicy`, `migrate_pages`, `move_pages`: NUMA-aware
//   libraries (OpenBLAS builds, PyTorch) use them on their own memory; other processes'
//   memory needs ptrace-level permission and the PID namespace hides everything outside.
// * `modify_ldt`: Docker allows it on x86; Wine-style code needs it; the kernel hardened it.
// * `sethostname`, `setdomainname`: bwrap gives the sandbox its own UTS namespace, and they
//   need a capability the sandbox does not have.
// * `prctl`, `seccomp`, `landlock_*`: bwrap and glibc use `prctl`; the other two can only
//   take more away from the caller.
pub(super) static RULES: &[Rule] = &[
    // --- ABI ---------------------------------------------------------------------------------
    Rule {
        subject: Subject::ForeignArch,
        action: Action::KillProcess,
        why: "a foreign ABI (i386 int 0x80 on x86_64, arm32 on aarch64) numbers its system calls \
              differently, so this filter could not recognise them; a 64-bit Python never uses it",
    },
    Rule {
        subject: Subject::X32Abi,
        action: Action::Errno(ENOSYS),
        why: "x32 system call numbers (bit 30 set) would step around every rule below; ENOSYS is \
              what a kernel built without x32 answers",
    },
    // --- namespaces ----------------------------------------------------------------------------
    refuse_when(
        "clone",
        Some(56),
        Some(220),
        When::AnyBit {
            arg: 0,
            mask: CLONE_NAMESPACE_FLAGS,
        },
        "clone with a CLONE_NEW* flag creates namespaces (a user namespace hands out capabilities \
         inside it and is the usual first step of a kernel exploit); threads and fork are fine",
    ),
    Rule {
        subject: Subject::Syscall {
            name: "clone3",
            x86_64: Some(435),
            aarch64: Some(435),
            when: When::Always,
        },
        action: Action::Errno(ENOSYS),
        why: "clone3 passes its flags in memory the filter cannot read; ENOSYS makes glibc fall \
              back to clone, whose flags are checked",
    },
    always(
        "unshare",
        Some(272),
        Some(97),
        "new namespaces would let the program undo the sandbox's mounts and gain capabilities",
    ),
    always(
        "setns",
        Some(308),
        Some(268),
        "joining another namespace would leave the sandbox",
    ),
    // --- mounts --------------------------------------------------------------------------------
    always(
        "mount",
        Some(165),
        Some(40),
        "the sandbox's filesystem view is fixed by bwrap",
    ),
    always(
        "umount2",
        Some(166),
        Some(39),
        "unmounting could uncover what bwrap mounted over",
    ),
    always(
        "pivot_root",
        Some(155),
        Some(41),
        "the sandbox's root is fixed by bwrap",
    ),
    always(
        "chroot",
        Some(161),
        Some(51),
        "the sandbox's root is fixed by bwrap",
    ),
    always(
        "open_tree",
        Some(428),
        Some(428),
        "new mount API: the sandbox's mounts are fixed",
    ),
    always(
        "move_mount",
        Some(429),
        Some(429),
        "new mount API: the sandbox's mounts are fixed",
    ),
    always(
        "fsopen",
        Some(430),
        Some(430),
        "new mount API: the sandbox's mounts are fixed",
    ),
    always(
        "fsconfig",
        Some(431),
        Some(431),
        "new mount API: the sandbox's mounts are fixed",
    ),
    always(
        "fsmount",
        Some(432),
        Some(432),
        "new mount API: the sandbox's mounts are fixed",
    ),
    always(
        "fspick",
        Some(433),
        Some(433),
        "new mount API: the sandbox's mounts are fixed",
    ),
    always(
        "mount_setattr",
        Some(442),
        Some(442),
        "could make read-only mounts writable",
    ),
    always("quotactl", Some(179), Some(60), "disk quotas are host-wide"),
    always(
        "quotactl_fd",
        Some(443),
        Some(443),
        "disk quotas are host-wide",
    ),
    always(
        "open_by_handle_at",
        Some(304),
        Some(265),
        "opens files by inode handle, bypassing the mount tree (the 'shocker' container escape)",
    ),
    // --- other processes -----------------------------------------------------------------------
    always(
        "ptrace",
        Some(101),
        Some(117),
        "tracing another process reads and rewrites its memory; debuggers and tracers (gdb, \
         strace, py-spy) do not work inside the sandbox",
    ),
    always(
        "process_vm_readv",
        Some(310),
        Some(270),
        "reads another process's memory (ptrace-class)",
    ),
    always(
        "process_vm_writev",
        Some(311),
        Some(271),
        "writes another process's memory (ptrace-class)",
    ),
    always(
        "process_madvise",
        Some(440),
        Some(440),
        "acts on another process's memory (ptrace-class)",
    ),
    always(
        "kcmp",
        Some(312),
        Some(272),
        "compares kernel objects of other processes, leaking kernel pointer order (ptrace-class)",
    ),
    always(
        "pidfd_getfd",
        Some(438),
        Some(438),
        "steals a file descriptor from another process (ptrace-class)",
    ),
    // --- kernel state that is not namespaced -----------------------------------------------------
    always(
        "add_key",
        Some(248),
        Some(217),
        "the kernel keyring is not namespaced: keys could leak between sandbox and host",
    ),
    always(
        "keyctl",
        Some(250),
        Some(219),
        "the kernel keyring is not namespaced: keys could leak between sandbox and host",
    ),
    always(
        "request_key",
        Some(249),
        Some(218),
        "the kernel keyring is not namespaced: keys could leak between sandbox and host",
    ),
    always(
        "syslog",
        Some(103),
        Some(116),
        "the kernel log leaks kernel addresses and host activity",
    ),
    always(
        "acct",
        Some(163),
        Some(89),
        "process accounting is host-wide",
    ),
    always(
        "settimeofday",
        Some(164),
        Some(170),
        "the clock is host-wide",
    ),
    always(
        "clock_settime",
        Some(227),
        Some(112),
        "the clock is host-wide",
    ),
    always(
        "clock_adjtime",
        Some(305),
        Some(266),
        "the clock is host-wide",
    ),
    always("adjtimex", Some(159), Some(171), "the clock is host-wide"),
    always("swapon", Some(167), Some(224), "swap is host-wide"),
    always("swapoff", Some(168), Some(225), "swap is host-wide"),
    always("reboot", Some(169), Some(142), "rebooting is host-wide"),
    always(
        "vhangup",
        Some(153),
        Some(58),
        "hangs up the controlling terminal, which is the host's",
    ),
    refuse_when(
        "ioctl",
        Some(16),
        Some(29),
        When::OneOf {
            arg: 1,
            values: &[TIOCSTI, TIOCLINUX],
        },
        "TIOCSTI and TIOCLINUX push input into the terminal: the host shell would run it after \
         the sandbox exits",
    ),
    refuse_when(
        "socket",
        Some(41),
        Some(198),
        When::OneOf {
            arg: 0,
            values: &[AF_VSOCK],
        },
        "vsock reaches the hypervisor and is not network-namespaced",
    ),
    // --- setuid and setgid files (systemd's RestrictSUIDSGID=) -------------------------------
    //
    // A file the program leaves in a writable host directory outlives the sandbox; `nosuid`
    // holds only inside it. Mode arguments are `umode_t` (16 bits) in the kernel, so the low
    // 32 bits the filter reads hold all of them (invariant 3). `mkdir` keeps only the
    // permission and sticky bits of its mode today; it is refused all the same (as systemd
    // does), so the rule does not depend on that.
    refuse_when(
        "chmod",
        Some(90),
        None,
        When::AnyBit {
            arg: 1,
            mask: SETID_MODE_BITS,
        },
        SETID_WHY,
    ),
    refuse_when(
        "fchmod",
        Some(91),
        Some(52),
        When::AnyBit {
            arg: 1,
            mask: SETID_MODE_BITS,
        },
        SETID_WHY,
    ),
    refuse_when(
        "fchmodat",
        Some(268),
        Some(53),
        When::AnyBit {
            arg: 2,
            mask: SETID_MODE_BITS,
        },
        SETID_WHY,
    ),
    refuse_when(
        "fchmodat2",
        Some(452),
        Some(452),
        When::AnyBit {
            arg: 2,
            mask: SETID_MODE_BITS,
        },
        SETID_WHY,
    ),
    refuse_when(
        "open",
        Some(2),
        None,
        When::AllOf(&[
            When::AnyBit {
                arg: 1,
                mask: OPEN_CREATE_FLAGS,
            },
            When::AnyBit {
                arg: 2,
                mask: SETID_MODE_BITS,
            },
        ]),
        SETID_WHY,
    ),
    refuse_when(
        "openat",
        Some(257),
        Some(56),
        When::AllOf(&[
            When::AnyBit {
                arg: 2,
                mask: OPEN_CREATE_FLAGS,
            },
            When::AnyBit {
                arg: 3,
                mask: SETID_MODE_BITS,
            },
        ]),
        SETID_WHY,
    ),
    refuse_when(
        "creat",
        Some(85),
        None,
        When::AnyBit {
            arg: 1,
            mask: SETID_MODE_BITS,
        },
        SETID_WHY,
    ),
    Rule {
        subject: Subject::Syscall {
            name: "openat2",
            x86_64: Some(437),
            aarch64: Some(437),
            when: When::Always,
        },
        action: Action::Errno(ENOSYS),
        why: "openat2 passes its flags and mode in memory the filter cannot read; ENOSYS is \
              what a kernel before 5.6 answers, and callers fall back to openat, whose mode is \
              checked",
    },
    refuse_when(
        "mkdir",
        Some(83),
        None,
        When::AnyBit {
            arg: 1,
            mask: SETID_MODE_BITS,
        },
        SETID_WHY,
    ),
    refuse_when(
        "mkdirat",
        Some(258),
        Some(34),
        When::AnyBit {
            arg: 2,
            mask: SETID_MODE_BITS,
        },
        SETID_WHY,
    ),
    refuse_when(
        "mknod",
        Some(133),
        None,
        When::AnyBit {
            arg: 1,
            mask: SETID_MODE_BITS,
        },
        SETID_WHY,
    ),
    refuse_when(
        "mknodat",
        Some(259),
        Some(33),
        When::AnyBit {
            arg: 2,
            mask: SETID_MODE_BITS,
        },
        SETID_WHY,
    ),
    // --- kernel attack surface -----------------------------------------------------------------
    always(
        "bpf",
        Some(321),
        Some(280),
        "eBPF is a large kernel attack surface and can read kernel memory",
    ),
    always(
        "perf_event_open",
        Some(298),
        Some(241),
        "performance counters are an attack surface and a side channel",
    ),
    always(
        "userfaultfd",
        Some(323),
        Some(282),
        "used to stall the kernel mid-copy and win races in kernel exploits",
    ),
    always(
        "io_uring_setup",
        Some(425),
        Some(425),
        "io_uring performs operations without the system calls this filter checks",
    ),
    always(
        "io_uring_enter",
        Some(426),
        Some(426),
        "io_uring performs operations without the system calls this filter checks",
    ),
    always(
        "io_uring_register",
        Some(427),
        Some(427),
        "io_uring performs operations without the system calls this filter checks",
    ),
    always(
        "fanotify_init",
        Some(300),
        Some(262),
        "filesystem-wide event monitoring (needs a capability in Docker's profile too)",
    ),
    always(
        "lookup_dcookie",
        Some(212),
        Some(18),
        "a profiling interface that reveals paths (needs a capability in Docker's profile too)",
    ),
    refuse_when(
        "personality",
        Some(135),
        Some(92),
        When::NoneOf {
            arg: 0,
            values: PERSONALITY_ALLOWED,
        },
        "personality flags such as ADDR_NO_RANDOMIZE or READ_IMPLIES_EXEC weaken what the \
         program runs next; only the plain personas and the query are allowed",
    ),
    // --- kernel modules, kexec -----------------------------------------------------------------
    always(
        "init_module",
        Some(175),
        Some(105),
        "loads code into the kernel",
    ),
    always(
        "finit_module",
        Some(313),
        Some(273),
        "loads code into the kernel",
    ),
    always(
        "delete_module",
        Some(176),
        Some(106),
        "unloads kernel modules",
    ),
    always("kexec_load", Some(246), Some(104), "boots another kernel"),
    always(
        "kexec_file_load",
        Some(320),
        Some(294),
        "boots another kernel",
    ),
    // --- legacy and raw hardware ---------------------------------------------------------------
    always("iopl", Some(172), None, "raw I/O port access"),
    always("ioperm", Some(173), None, "raw I/O port access"),
    always(
        "uselib",
        Some(134),
        None,
        "obsolete loader interface with a history of kernel bugs",
    ),
    always(
        "ustat",
        Some(136),
        None,
        "obsolete, reveals host filesystem information",
    ),
    always(
        "sysfs",
        Some(139),
        None,
        "obsolete, reveals host filesystem information",
    ),
    always(
        "_sysctl",
        Some(156),
        None,
        "obsolete binary sysctl interface to host-wide settings",
    ),
    always(
        "nfsservctl",
        Some(180),
        Some(42),
        "obsolete NFS server control",
    ),
];
