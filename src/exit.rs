//! The exit-code table (SPEC §5). Only `lib.rs` decides which one the process returns.

/// boxpy failed before the program ran: usage, policy, bwrap missing, namespaces refused.
pub const SANDBOX_FAILED: u8 = 125;
/// The interpreter exists but cannot be executed.
pub const NOT_EXECUTABLE: u8 = 126;
/// The interpreter or the venv was not found.
pub const NOT_FOUND: u8 = 127;
/// boxpy stopped the program at `limits.timeout`.
pub const TIMEOUT: u8 = 124;

/// The shell convention for a process killed by signal `signal`.
pub fn for_signal(signal: i32) -> u8 {
    128u8.saturating_add(u8::try_from(signal).unwrap_or(127))
}
