//! The Seatbelt backend (macOS): the host probed into [`HostFacts`] and, per run, into
//! `MacosFacts` (`host/macos.rs`) for a private run directory (HOME, TMPDIR, generated
//! files; removed afterwards), the pure renderer of `sandbox/seatbelt.rs`, the pinned
//! `/usr/bin/sandbox-exec`, and the limits macOS has (rlimits only).

use super::{Backend, Capabilities, Enforcement, Launch, Limit, Notice, Session};
use crate::error::{Error, Result};
use crate::exec::{self, Outcome};
use crate::host::{self, HostFacts};
use crate::sandbox::seatbelt;
use crate::settings::Invocation;

/// Why `nbexec` cannot run here: its channel is not carried through `sandbox-exec` yet.
pub(super) const NO_CHANNEL: &str =
    "this command needs Linux (bubblewrap) for now; on macOS `run`, `exec` and `render` use Seatbelt";

/// Sandboxes made with Seatbelt profiles.
pub(crate) struct Seatbelt {
    pub(super) host: HostFacts,
}

impl Seatbelt {
    /// Probes the host.
    pub(crate) fn probe(path_variable: Option<&std::ffi::OsStr>) -> Seatbelt {
        Seatbelt {
            host: HostFacts::probe(path_variable),
        }
    }
}

impl Backend for Seatbelt {
    fn host(&self) -> &HostFacts {
        &self.host
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            channel: Err(NO_CHANNEL),
            seccomp: false,
        }
    }

    /// `sandbox-exec` must be where boxpy pins it.
    fn validate(&self, _invocation: &Invocation) -> Result<()> {
        if !std::path::Path::new(seatbelt::SANDBOX_EXEC).is_file() {
            return Err(Error::UnsupportedPlatform {
                detail: format!("`{}` is missing", seatbelt::SANDBOX_EXEC),
            });
        }
        Ok(())
    }

    fn limits(&self, invocation: &Invocation) -> Vec<Limit> {
        let plan = exec::limits::plan_without_cgroups(&invocation.policy.limits, self.host.uid);
        let mut limits = planned_limits(&plan, invocation.spec.tmp_size.is_some());
        limits.extend(super::own_limits(&invocation.policy.limits));
        limits
    }

    fn render(&self, invocation: &Invocation) -> Result<Launch> {
        // Placeholders for what each run creates: its directory and its violation tag.
        let facts = host::macos::probe(
            &invocation.spec,
            std::path::PathBuf::from(seatbelt::RUN_DIRECTORY_PLACEHOLDER),
            seatbelt::TAG_PLACEHOLDER.to_owned(),
            self.host.boxpy_executable.clone(),
        );
        Ok(Launch::Seatbelt(seatbelt::render(
            &invocation.spec,
            &facts,
        )?))
    }

    fn seccomp_program(&self, _invocation: &Invocation) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    fn run(&self, invocation: &Invocation, session: Session<'_>) -> Result<Outcome> {
        let observer = session.observer;
        self.validate(invocation)?;
        let run_directory = tempfile::Builder::new()
            .prefix("boxpy-")
            .tempdir()
            .map_err(|error| anyhow::anyhow!("creating the run directory: {error}"))?;
        // Seatbelt matches resolved paths: `$TMPDIR` is under `/var`, really `/private/var`.
        let run_path = run_directory
            .path()
            .canonicalize()
            .map_err(|error| anyhow::anyhow!("resolving the run directory: {error}"))?;
        let facts = host::macos::probe(
            &invocation.spec,
            run_path,
            host::macos::run_tag(),
            self.host.boxpy_executable.clone(),
        );
        // No channel (see `capabilities`: nbexec asks first) and no discarded places to
        // count (HOME and TMPDIR are directories of the run directory, removed with it).
        let mut options = session.exec_options(invocation, None, Vec::new());
        // Proxy mode: boxpy's proxy listens on two ephemeral ports of the host's loopback
        // for this run (this backend's, not exec's: exec has no listeners to take), and the
        // profile lets the program connect to those two only.
        let (proxy, spec) = match options.network.take().map(start_proxy).transpose()? {
            Some((proxy, ports)) => {
                let mut spec = invocation.spec.clone();
                spec.proxy = Some(ports);
                (Some(proxy), std::borrow::Cow::Owned(spec))
            }
            None => (None, std::borrow::Cow::Borrowed(&invocation.spec)),
        };
        let launch = Launch::Seatbelt(seatbelt::render(&spec, &facts)?);
        observer(&Notice::Launch(&launch));
        let Launch::Seatbelt(command) = launch else {
            unreachable!("the Seatbelt backend renders Seatbelt commands")
        };
        let enforcement = exec::limits::plan(&invocation.policy.limits, self.host.uid);
        // macOS has no cgroups: the plan is the one `limits` describes (`plan` only tries
        // to create them and finds none).
        for warning in self.limits(invocation).iter().filter_map(Limit::warning) {
            observer(&Notice::Warning(warning));
        }
        let mut outcome = exec::run_seatbelt(&command, &options, &enforcement);
        let refused = proxy.map(crate::network::proxy::Proxy::stop);
        if let Ok(outcome) = &mut outcome {
            outcome.network = refused;
        }
        drop(run_directory);
        super::sweep_leftovers(invocation, observer);
        outcome
    }
}

/// The plan's limits, and `filesystem.tmp_size`, which macOS has nothing for.
pub(super) fn planned_limits(plan: &exec::limits::Enforcement, tmp_size: bool) -> Vec<Limit> {
    let mut limits = super::planned_limits(plan);
    if tmp_size {
        limits.push(Limit {
            key: "filesystem.tmp_size".to_owned(),
            enforcement: Enforcement::Not {
                scope: "macOS",
                reason: "TMPDIR is a private directory on the disk, not a tmpfs".to_owned(),
            },
        });
    }
    limits
}

/// boxpy's proxy with `config` on two ephemeral ports of the host's loopback, started,
/// with the ports the program is pointed at.
fn start_proxy(
    config: crate::network::proxy::ProxyConfig,
) -> Result<(crate::network::proxy::Proxy, crate::sandbox::ProxyPorts)> {
    use crate::network::proxy::{Listener, Proxy};
    let failed = |error: std::io::Error| Error::SandboxSetup {
        detail: format!("starting boxpy's network proxy on the host's loopback: {error}"),
    };
    let bind = || std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).map_err(failed);
    let (http, socks) = (bind()?, bind()?);
    let port = |listener: &std::net::TcpListener| {
        listener
            .local_addr()
            .map(|address| address.port())
            .map_err(failed)
    };
    let ports = crate::sandbox::ProxyPorts {
        http: port(&http)?,
        socks: port(&socks)?,
    };
    let proxy = Proxy::start(config, vec![Listener::Http(http), Listener::Socks5(socks)])
        .map_err(failed)?;
    Ok((proxy, ports))
}
