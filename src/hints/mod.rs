//! From a failed program's stderr to a hinted report: [`traceback`] recovers the exception
//! (pure), [`catalogue`] decides where it happened in the user's code and what fixes it
//! (pure, policy-aware), [`guards`] generates the `deny_imports` guardrail. Shared by `run`
//! and, later, `nbexec`.

pub mod catalogue;
pub mod guards;
pub mod traceback;
