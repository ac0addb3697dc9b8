//! From a failed program's stderr to a hinted report: [`traceback`] recovers the exception
//! (pure), [`catalogue`] decides where it happened in the user's code and what fixes it
//! (pure, policy-aware), [`diagnose`] decides what to say after a run, [`guards`] generates the `deny_imports` guardrail. Shared by `run`
//! and, later, `nbexec`.

pub mod catalogue;
pub(crate) mod diagnose;
pub mod guards;
pub mod traceback;
