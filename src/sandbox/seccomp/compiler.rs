//! The classic-BPF compiler: the rule table ([`super::rules`]) for one [`Arch`] into a
//! seccomp program (a binary search over the refused numbers, shared argument blocks and
//! one `ret` per action), and that program in the byte layout bwrap reads. See
//! [`build_program`] for the layout and the module docs of `seccomp` for the invariants.

use std::collections::BTreeMap;
use std::fmt;

use super::rules::{Action, Rule, Subject, When, RULES};
use super::{Arch, X32_SYSCALL_BIT};

// seccomp return values (`linux/seccomp.h`).
pub(super) const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub(super) const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
pub(super) const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
pub(super) const SECCOMP_RET_DATA: u32 = 0x0000_ffff;

// The classic-BPF opcodes the compiler emits (`linux/bpf_common.h`); nothing else.
pub(super) const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD (0x00) | BPF_W (0x00) | BPF_ABS (0x20)
pub(super) const BPF_JMP_JEQ_K: u16 = 0x15; // BPF_JMP (0x05) | BPF_JEQ (0x10) | BPF_K (0x00)
pub(super) const BPF_JMP_JGT_K: u16 = 0x25; // BPF_JMP (0x05) | BPF_JGT (0x20) | BPF_K (0x00)
pub(super) const BPF_JMP_JGE_K: u16 = 0x35; // BPF_JMP (0x05) | BPF_JGE (0x30) | BPF_K (0x00)
pub(super) const BPF_JMP_JSET_K: u16 = 0x45; // BPF_JMP (0x05) | BPF_JSET (0x40) | BPF_K (0x00)
pub(super) const BPF_RET_K: u16 = 0x06; // BPF_RET (0x06) | BPF_K (0x00)

// `struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }`
const SECCOMP_DATA_NR: u32 = 0;
const SECCOMP_DATA_ARCH: u32 = 4;
const SECCOMP_DATA_ARGS: u32 = 16;
/// `seccomp_data.args` has six entries.
const MAX_ARG: u8 = 5;

/// The kernel's limit on a classic-BPF program (`BPF_MAXINSNS`).
pub const BPF_MAXINSNS: usize = 4096;

/// Size in bytes of one `struct sock_filter` in the byte stream bwrap reads.
pub const SOCK_FILTER_SIZE: usize = 8;

/// The action as the program returns it (`linux/seccomp.h`): kept with the compiler, which
/// owns the return values.
impl Action {
    /// The 32-bit value the BPF program returns for this action.
    pub fn seccomp_ret(self) -> u32 {
        match self {
            Action::Errno(errno) => SECCOMP_RET_ERRNO | (u32::from(errno) & SECCOMP_RET_DATA),
            Action::KillProcess => SECCOMP_RET_KILL_PROCESS,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compilation.
// ---------------------------------------------------------------------------------------------

/// One classic-BPF instruction: the kernel's `struct sock_filter` (`linux/filter.h`), the
/// element of the array bwrap reads (see [`build_filter`]).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SockFilter {
    /// The opcode (`BPF_LD | BPF_W | BPF_ABS`, `BPF_JMP | BPF_JEQ | BPF_K`, …).
    pub code: u16,
    /// Conditional jumps: how many instructions to skip when the condition holds.
    pub jt: u8,
    /// Conditional jumps: how many instructions to skip when it does not.
    pub jf: u8,
    /// The operand: a `seccomp_data` offset, a value to compare with, a return value.
    pub k: u32,
}

const _: () = assert!(std::mem::size_of::<SockFilter>() == SOCK_FILTER_SIZE);

/// A compiled filter, first instruction first.
pub type Program = Vec<SockFilter>;

/// Why a filter could not be built. None of these happen with the shipped table; they guard
/// against a table edit the compiler cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// A rule in the table cannot be expressed by this compiler.
    Unsupported {
        /// The rule's name ([`Rule::name`]).
        rule: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The program is longer than the kernel accepts.
    TooLong {
        /// Its length in instructions.
        instructions: usize,
    },
    /// A jump of the laid-out program cannot be encoded: classic-BPF jumps go forward only,
    /// by at most 255 instructions (`jt`/`jf` are `u8`). The compiler refuses the program
    /// rather than truncate the offset.
    JumpOutOfRange {
        /// The jump instruction.
        from: usize,
        /// Where it should land (`None`: a label that was never placed, a compiler bug).
        to: Option<usize>,
    },
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::Unsupported { rule, reason } => {
                write!(f, "seccomp rule `{rule}` cannot be compiled: {reason}")
            }
            FilterError::TooLong { instructions } => write!(
                f,
                "the seccomp filter has {instructions} instructions; the kernel accepts at most {BPF_MAXINSNS}"
            ),
            FilterError::JumpOutOfRange { from, to: Some(to) } => write!(
                f,
                "the seccomp filter's jump from instruction {from} to {to} cannot be encoded \
                 (classic BPF jumps forward by at most 255)"
            ),
            FilterError::JumpOutOfRange { from, to: None } => write!(
                f,
                "the seccomp filter's jump at instruction {from} has no destination"
            ),
        }
    }
}

impl std::error::Error for FilterError {}

/// Compile the rule table for `arch` into the classic-BPF program, as instructions.
///
/// Layout (x86_64; aarch64 has no x32 step):
///
/// ```text
///  0  ld   [4]                             seccomp_data.arch
///  1  jeq  #AUDIT_ARCH_X86_64, +1, +0
///  2  ret  #KILL_PROCESS                   foreign ABI (invariant 1)
///  3  ld   [0]                             seccomp_data.nr
///  4  jset #0x40000000 → ret ERRNO(ENOSYS) x32 (invariant 2)
///  5… dispatch on the number: a balanced tree of `jge`, whose leaves test at most three
///     runs: `jeq` for one number, `jge`/`jgt` for a run of consecutive numbers with the
///     same target. A match jumps straight to that action's `ret`, or to its syscall's
///     argument block; anything else to `ret ALLOW`.
///  …  argument blocks, one per distinct list of conditions (syscalls with the same
///     conditions share one): per condition `ld [16 + 8*arg]` (the low half, invariant 3;
///     left out when that argument is known to be loaded), then `jset`/`jeq` going on to the
///     rule's next condition ([`When::AllOf`]) or its `ret` when it holds, to the next rule
///     when it fails, the last rule to `ret ALLOW`
///  …  one `ret` per action in use (e.g. ERRNO(EPERM), ERRNO(ENOSYS)), `ret ALLOW` last
/// ```
///
/// Semantics, which the tests check against a plain reading of the table: a number with an
/// unconditional ([`When::Always`]) rule gets that rule's action whatever its arguments (its
/// conditional rules are moot); otherwise the first of its conditional rules, in table
/// order, whose condition holds decides; otherwise the call is allowed. Any rule may use any
/// action (each action in use gets one shared `ret`). Every jump is forward and every path
/// ends in a `ret`.
pub fn build_program(arch: Arch) -> Result<Program, FilterError> {
    compile(arch, RULES)
}

/// The compiled filter in the exact byte layout bwrap's `--seccomp FD` reads: an array of
/// `struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }`, 8 bytes each, native endianness,
/// no header. Write it to a file or pipe and pass the descriptor to bwrap.
pub fn build_filter(arch: Arch) -> Result<Vec<u8>, FilterError> {
    Ok(to_bytes(&build_program(arch)?))
}

/// Serialise instructions into bwrap's byte layout (see [`build_filter`]).
pub fn to_bytes(program: &[SockFilter]) -> Vec<u8> {
    let mut out = Vec::with_capacity(program.len() * SOCK_FILTER_SIZE);
    for insn in program {
        out.extend_from_slice(&insn.code.to_ne_bytes());
        out.push(insn.jt);
        out.push(insn.jf);
        out.extend_from_slice(&insn.k.to_ne_bytes());
    }
    out
}

/// A leaf of the dispatch tree tests at most this many runs one after the other; a larger
/// range of runs is split in two by a `jge`. Three keeps the tree shallow (a lookup is
/// about `log2(runs / 3) + 3` comparisons) without spending a `jge` on every other number.
const LEAF_RUNS: usize = 3;

/// What the dispatch does with a syscall number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// `ret` this value whatever the arguments.
    Ret(u32),
    /// Check the arguments: the index of the syscall's block in [`Dispatch::blocks`].
    Block(usize),
}

/// Consecutive syscall numbers `lo..=hi` with the same target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    lo: u32,
    hi: u32,
    target: Target,
}

/// One rule of a syscall's block: its argument conditions (all must hold; one for every
/// [`When`] but [`When::AllOf`]), and the action when they do.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Check {
    conditions: Vec<(u8, Test)>,
    action: Action,
}

/// A [`When`] other than [`When::Always`] and [`When::AllOf`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    AnyBit(u32),
    OneOf(&'static [u32]),
    NoneOf(&'static [u32]),
}

impl Test {
    /// The arguments and their tests, all of which must hold; `None` for [`When::Always`].
    /// Only for a condition [`check_condition`] accepted (no nesting).
    fn of(when: When) -> Option<Vec<(u8, Test)>> {
        let single = |when: When| match when {
            When::AnyBit { arg, mask } => Some((arg, Test::AnyBit(mask))),
            When::OneOf { arg, values } => Some((arg, Test::OneOf(values))),
            When::NoneOf { arg, values } => Some((arg, Test::NoneOf(values))),
            When::Always | When::AllOf(_) => None,
        };
        match when {
            When::Always => None,
            When::AllOf(conditions) => conditions.iter().map(|c| single(*c)).collect(),
            _ => single(when).map(|test| vec![test]),
        }
    }

    /// Jump to `holds` when the accumulator (the argument) passes the test, else to
    /// `fails`.
    fn emit(self, asm: &mut Asm, holds: To, fails: To) {
        match self {
            Test::AnyBit(mask) => {
                asm.jump(BPF_JMP_JSET_K, mask, holds, fails);
            }
            Test::OneOf(values) => {
                for (j, &value) in values.iter().enumerate() {
                    let miss = if j + 1 == values.len() {
                        fails
                    } else {
                        To::Next
                    };
                    asm.jump(BPF_JMP_JEQ_K, value, holds, miss);
                }
            }
            Test::NoneOf(values) => {
                for (j, &value) in values.iter().enumerate() {
                    let miss = if j + 1 == values.len() {
                        holds
                    } else {
                        To::Next
                    };
                    asm.jump(BPF_JMP_JEQ_K, value, fails, miss);
                }
            }
        }
    }
}

/// The table, resolved for one arch: what each refused number does.
struct Dispatch {
    /// Sorted, disjoint; numbers in none of them are allowed.
    runs: Vec<Run>,
    /// The conditions of each syscall with no unconditional rule, in table order; one block
    /// for all the syscalls whose conditions are the same.
    blocks: Vec<Vec<Check>>,
}

impl Dispatch {
    fn new(arch: Arch, table: &[Rule]) -> Result<Dispatch, FilterError> {
        enum Entry {
            Always(Action),
            Checks(Vec<Check>),
        }
        let mut by_nr: BTreeMap<u32, Entry> = BTreeMap::new();
        for rule in table {
            let Subject::Syscall { name, when, .. } = rule.subject else {
                continue; // ABI rules: the prefix.
            };
            let Some(nr) = rule.nr(arch) else { continue };
            check_condition(name, when)?;
            if arch == Arch::X86_64 && nr & X32_SYSCALL_BIT != 0 {
                return Err(FilterError::Unsupported {
                    rule: name,
                    reason: "the number has the x32 bit set, which the x32 rule answers first",
                });
            }
            let entry = by_nr.entry(nr).or_insert(Entry::Checks(Vec::new()));
            match (Test::of(when), entry) {
                (None, Entry::Always(action)) if *action != rule.action => {
                    return Err(FilterError::Unsupported {
                        rule: name,
                        reason: "two unconditional rules with different actions for one number",
                    });
                }
                // An unconditional rule makes the number's conditional rules moot.
                (None, entry) => *entry = Entry::Always(rule.action),
                (Some(_), Entry::Always(_)) => {}
                (Some(conditions), Entry::Checks(checks)) => checks.push(Check {
                    conditions,
                    action: rule.action,
                }),
            }
        }

        let mut runs: Vec<Run> = Vec::new();
        let mut blocks = Vec::new();
        for (nr, entry) in by_nr {
            let target = match entry {
                Entry::Always(action) => Target::Ret(action.seccomp_ret()),
                // Syscalls with the same checks share one block (`chmod`, `fchmod`, `creat`,
                // `mkdir` and `mknod` all test the mode in arg 1).
                Entry::Checks(checks) => match blocks.iter().position(|block| *block == checks) {
                    Some(index) => Target::Block(index),
                    None => {
                        blocks.push(checks);
                        Target::Block(blocks.len() - 1)
                    }
                },
            };
            match runs.last_mut() {
                Some(run) if run.target == target && run.hi.checked_add(1) == Some(nr) => {
                    run.hi = nr;
                }
                _ => runs.push(Run {
                    lo: nr,
                    hi: nr,
                    target,
                }),
            }
        }
        Ok(Dispatch { runs, blocks })
    }
}

/// Reject conditions the compiler cannot express (or that would refuse nothing).
fn check_condition(name: &'static str, when: When) -> Result<(), FilterError> {
    let unsupported = |reason| Err(FilterError::Unsupported { rule: name, reason });
    match when {
        When::Always => Ok(()),
        When::AllOf([]) => unsupported("a combination needs at least one condition"),
        When::AllOf(conditions) => {
            if conditions
                .iter()
                .any(|c| matches!(c, When::Always | When::AllOf(_)))
            {
                return unsupported("a combination holds argument conditions only");
            }
            conditions
                .iter()
                .try_for_each(|condition| check_condition(name, *condition))
        }
        When::AnyBit { arg, .. } | When::OneOf { arg, .. } | When::NoneOf { arg, .. }
            if arg > MAX_ARG =>
        {
            unsupported("argument index above 5 (seccomp_data has six arguments)")
        }
        When::AnyBit { mask: 0, .. } => unsupported("an argument mask needs at least one bit"),
        When::OneOf { values: [], .. } | When::NoneOf { values: [], .. } => {
            unsupported("an argument condition needs at least one value")
        }
        When::AnyBit { .. } | When::OneOf { .. } | When::NoneOf { .. } => Ok(()),
    }
}

fn abi_rule(table: &[Rule], subject: Subject) -> Result<&Rule, FilterError> {
    table
        .iter()
        .find(|r| r.subject == subject)
        .ok_or(FilterError::Unsupported {
            rule: match subject {
                Subject::ForeignArch => "(foreign ABI)",
                _ => "(x32 ABI)",
            },
            reason: "the table must contain this ABI rule",
        })
}

/// Compile `table` for `arch` (see [`build_program`]).
pub(super) fn compile(arch: Arch, table: &[Rule]) -> Result<Program, FilterError> {
    let foreign = abi_rule(table, Subject::ForeignArch)?;
    let x32 = match arch {
        Arch::X86_64 => Some(abi_rule(table, Subject::X32Abi)?),
        Arch::Aarch64 => None,
    };
    let dispatch = Dispatch::new(arch, table)?;

    let mut asm = Asm::default();
    let allow = asm.ret_label(SECCOMP_RET_ALLOW);

    // Invariant 1: the arch, before anything else.
    asm.stmt(BPF_LD_W_ABS, SECCOMP_DATA_ARCH);
    let native = asm.label();
    asm.jump(
        BPF_JMP_JEQ_K,
        arch.audit_arch(),
        To::Label(native),
        To::Next,
    );
    asm.stmt(BPF_RET_K, foreign.action.seccomp_ret());
    asm.bind(native);
    asm.stmt(BPF_LD_W_ABS, SECCOMP_DATA_NR);

    // Invariant 2: the x32 bit, before any number is compared.
    if let Some(x32) = x32 {
        let ret = asm.ret_label(x32.action.seccomp_ret());
        asm.jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, To::Label(ret), To::Next);
    }

    // The dispatch tree. Its root is never a bare target (that would need a run covering
    // all 2^32 numbers), so it starts right here.
    let blocks: Vec<Label> = dispatch.blocks.iter().map(|_| asm.label()).collect();
    if dispatch.runs.is_empty() {
        asm.stmt(BPF_RET_K, SECCOMP_RET_ALLOW);
    } else {
        let tree = Tree {
            allow,
            blocks: &blocks,
        };
        tree.emit(&mut asm, &dispatch.runs, 0, u32::MAX);
    }

    // The argument blocks.
    for (checks, &label) in dispatch.blocks.iter().zip(&blocks) {
        asm.bind(label);
        emit_block(&mut asm, checks, allow);
    }

    // One `ret` per action in use, ALLOW last.
    for (value, label) in asm.rets.clone() {
        if value != SECCOMP_RET_ALLOW && asm.used[label.0] {
            asm.bind(label);
            asm.stmt(BPF_RET_K, value);
        }
    }
    if asm.used[allow.0] {
        asm.bind(allow);
        asm.stmt(BPF_RET_K, SECCOMP_RET_ALLOW);
    }

    asm.assemble()
}

/// The argument checks of one syscall, rule by rule: each condition of a rule loads its
/// argument (unless the accumulator is known to hold it already) and goes on to the rule's
/// next condition when it holds, to the rule's action after the last one; the first that
/// fails goes on to the next rule. Past the last rule the call is allowed.
fn emit_block(asm: &mut Asm, checks: &[Check], allow: Label) {
    // The argument in the accumulator on every path to the current instruction, if known.
    let mut loaded = None;
    for (i, check) in checks.iter().enumerate() {
        let next = if i + 1 == checks.len() {
            allow
        } else {
            asm.label()
        };
        let hit = asm.ret_label(check.action.seccomp_ret());
        for (j, &(arg, test)) in check.conditions.iter().enumerate() {
            let holds = if j + 1 == check.conditions.len() {
                hit
            } else {
                asm.label()
            };
            if loaded != Some(arg) {
                // Invariant 3: the low 32 bits of the argument (little-endian: they come
                // first).
                asm.stmt(BPF_LD_W_ABS, SECCOMP_DATA_ARGS + 8 * u32::from(arg));
                loaded = Some(arg);
            }
            test.emit(asm, To::Label(holds), To::Label(next));
            if holds != hit {
                asm.bind(holds);
            }
        }
        // Each condition that fails reaches `next` with its own argument loaded: known
        // there only when the rule's conditions all read the same one.
        let first = check.conditions.first().map(|&(arg, _)| arg);
        if check.conditions.iter().any(|&(arg, _)| Some(arg) != first) {
            loaded = None;
        }
        if next != allow {
            asm.bind(next);
        }
    }
}

/// The dispatch tree over the runs of refused numbers.
struct Tree<'a> {
    allow: Label,
    blocks: &'a [Label],
}

impl Tree<'_> {
    fn target(&self, asm: &mut Asm, target: Target) -> Label {
        match target {
            Target::Ret(value) => asm.ret_label(value),
            Target::Block(i) => self.blocks[i],
        }
    }

    /// Emit the code that sends every number in `lo..=hi` to its target, knowing that only
    /// numbers in that range get there and that `runs` are all the runs meeting it. Returns
    /// where that code starts: the current position, or, when every number in the range has
    /// the same target, that target (nothing is emitted).
    fn emit(&self, asm: &mut Asm, runs: &[Run], lo: u32, hi: u32) -> Label {
        match runs {
            [] => return self.allow,
            [run] if run.lo <= lo && run.hi >= hi => return self.target(asm, run.target),
            _ => {}
        }
        let start = asm.here();
        if runs.len() <= LEAF_RUNS {
            self.emit_leaf(asm, runs, lo, hi);
            return start;
        }
        // `runs[0].lo >= lo` (a split is always a run's first number), so `split - 1 >= lo`.
        let mid = runs.len() / 2;
        let split = runs[mid].lo;
        let at = asm.jump(BPF_JMP_JGE_K, split, To::Next, To::Next);
        let below = self.emit(asm, &runs[..mid], lo, split - 1);
        let above = self.emit(asm, &runs[mid..], split, hi);
        asm.patch(at, To::Label(above), To::Label(below));
        start
    }

    /// Test the runs one after the other, in ascending order: a number below a run is below
    /// every later run as well, and every earlier one has been ruled out, so it is allowed.
    fn emit_leaf(&self, asm: &mut Asm, runs: &[Run], lo: u32, hi: u32) {
        let allow = To::Label(self.allow);
        // Every number that reaches the current instruction is at least `floor`.
        let mut floor = lo;
        for (i, run) in runs.iter().enumerate() {
            let miss = if i + 1 == runs.len() { allow } else { To::Next };
            let hit = To::Label(self.target(asm, run.target));
            if run.lo == run.hi {
                asm.jump(BPF_JMP_JEQ_K, run.lo, hit, miss);
                if floor == run.lo {
                    floor = floor.saturating_add(1);
                }
                continue;
            }
            let upper = run.hi < hi;
            // Emitted even when redundant if it is all that would be left, so the previous
            // instruction's "next" never falls through to someone else's code.
            let lower = run.lo > floor || !upper;
            if lower {
                asm.jump(
                    BPF_JMP_JGE_K,
                    run.lo,
                    if upper { To::Next } else { hit },
                    allow,
                );
            }
            if upper {
                asm.jump(BPF_JMP_JGT_K, run.hi, miss, hit);
                floor = run.hi + 1;
            }
        }
    }
}

/// A position in the program, placed once; jumps name labels until [`Asm::assemble`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Label(usize);

/// Where a conditional jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    /// The next instruction (offset 0).
    Next,
    Label(Label),
}

/// An instruction before layout.
#[derive(Debug, Clone, Copy)]
struct Insn {
    code: u16,
    k: u32,
    jt: To,
    jf: To,
}

/// A tiny assembler: instructions with symbolic jumps, resolved and range-checked at the end.
#[derive(Default)]
struct Asm {
    insns: Vec<Insn>,
    /// Where each label was placed.
    at: Vec<Option<usize>>,
    /// Whether any jump names the label.
    used: Vec<bool>,
    /// The shared `ret` of each return value, in order of first use.
    rets: Vec<(u32, Label)>,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.at.push(None);
        self.used.push(false);
        Label(self.at.len() - 1)
    }

    fn bind(&mut self, label: Label) {
        debug_assert!(self.at[label.0].is_none(), "label placed twice");
        self.at[label.0] = Some(self.insns.len());
    }

    /// A label placed at the current position.
    fn here(&mut self) -> Label {
        let label = self.label();
        self.bind(label);
        label
    }

    /// The label of the shared `ret value` (placed by the caller at the end).
    fn ret_label(&mut self, value: u32) -> Label {
        if let Some(&(_, label)) = self.rets.iter().find(|(v, _)| *v == value) {
            return label;
        }
        let label = self.label();
        self.rets.push((value, label));
        label
    }

    fn stmt(&mut self, code: u16, k: u32) {
        self.insns.push(Insn {
            code,
            k,
            jt: To::Next,
            jf: To::Next,
        });
    }

    /// A conditional jump; returns its index for [`Asm::patch`].
    fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) -> usize {
        self.insns.push(Insn { code, k, jt, jf });
        self.mark(jt);
        self.mark(jf);
        self.insns.len() - 1
    }

    fn patch(&mut self, at: usize, jt: To, jf: To) {
        self.insns[at].jt = jt;
        self.insns[at].jf = jf;
        self.mark(jt);
        self.mark(jf);
    }

    fn mark(&mut self, to: To) {
        if let To::Label(label) = to {
            self.used[label.0] = true;
        }
    }

    /// Resolve every jump to its offset; refuse what classic BPF cannot encode.
    fn assemble(self) -> Result<Program, FilterError> {
        if self.insns.len() > BPF_MAXINSNS {
            return Err(FilterError::TooLong {
                instructions: self.insns.len(),
            });
        }
        let offset = |from: usize, to: To| -> Result<u8, FilterError> {
            let to = match to {
                To::Next => return Ok(0),
                To::Label(label) => self.at[label.0],
            };
            to.and_then(|to| to.checked_sub(from + 1))
                .and_then(|offset| u8::try_from(offset).ok())
                .ok_or(FilterError::JumpOutOfRange { from, to })
        };
        self.insns
            .iter()
            .enumerate()
            .map(|(pc, insn)| {
                Ok(SockFilter {
                    code: insn.code,
                    jt: offset(pc, insn.jt)?,
                    jf: offset(pc, insn.jf)?,
                    k: insn.k,
                })
            })
            .collect()
    }
}
