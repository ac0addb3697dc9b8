//! The seccomp filter (being written).
