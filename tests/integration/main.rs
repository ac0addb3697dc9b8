//! boxpy's integration tests: the real binary, real bubblewrap, real venvs.
//!
//! One test binary (`cargo test --test integration`), one module per area. Security tests
//! run twice, as the caller and as an unprivileged user (see [`harness::Runner`]); each
//! first proves Python started, then that the attempt was refused, then that the host is
//! unchanged.

mod harness;
mod servers;

mod caches;
mod differential;
mod errors;
mod escape;
mod escape_suid;
mod gate;
mod hints;
mod isolation;
mod kernel;
mod layers;
mod leftovers;
mod limits;
mod mounts;
mod nbexec;
mod nbexec_escape;
mod nbexec_hostfs;
mod nbexec_papermill;
mod nbexec_params;
mod network;
mod network_proxy;
mod output;
mod policy;
mod proxy_policy;
mod readme;
mod render;
mod reports;
mod run_basic;
mod startup;
mod steering;
mod terminal;
mod tooling;
mod trust;
mod venvs;
