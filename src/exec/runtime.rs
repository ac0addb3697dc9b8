//! What is process-wide about running sandboxes, made once per process: whether the
//! process's signals are forwarded to its run, the thread bwrap is spawned from, and the
//! inherited descriptors marked close-on-exec.
//!
//! bwrap's `--die-with-parent` (`PR_SET_PDEATHSIG`) fires when the *thread* that spawned
//! it exits, not the process. The CLI runs one sandbox from its main thread, which lives
//! as long as the process, so it spawns from there ([`Runtime::cli`]). A library runtime
//! (a server, whose worker threads come and go) spawns every bwrap from one thread of its
//! own that lives as long as the runtime ([`Runtime::library`]): dropping the runtime ends
//! that thread, and with it the sandboxes still running, as the process's exit would.
//!
//! The cgroup parent is the process's own cgroup (see [`super::limits`]); each run's cgroup
//! carries a number unique in the process, so runs of one process never share one.

use std::sync::{mpsc, Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

/// The process-wide part of running sandboxes (see the module doc).
pub struct Runtime {
    forward_signals: bool,
    /// The spawning thread's queue: `None` to spawn from the calling thread.
    spawner: Option<Mutex<mpsc::Sender<Job>>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Runtime")
            .field("forward_signals", &self.forward_signals)
            .field("own_spawner", &self.spawner.is_some())
            .finish()
    }
}

impl Runtime {
    /// The CLI's runtime: SIGINT, SIGTERM, SIGHUP and SIGQUIT are blocked in the thread
    /// that runs (and every thread it starts after) and forwarded to the run; bwrap is
    /// spawned from the calling thread, which must be the main thread. Made on first use.
    pub fn cli() -> &'static Runtime {
        static CLI: OnceLock<Runtime> = OnceLock::new();
        CLI.get_or_init(|| {
            super::mark_inherited_descriptors_cloexec();
            Runtime {
                forward_signals: true,
                spawner: None,
            }
        })
    }

    /// A runtime for a program that runs many sandboxes at once (a server): it leaves the
    /// process's signal mask alone and forwards no signal (the caller stops a run with its
    /// timeout), and spawns bwrap from a thread of its own. Make one per process.
    #[cfg_attr(
        not(all(test, target_os = "linux")),
        allow(
            dead_code,
            reason = "the library API `boxpy serve` (issue 20) builds on"
        )
    )]
    pub fn library() -> std::io::Result<Runtime> {
        super::mark_inherited_descriptors_cloexec();
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("boxpy-spawner".to_owned())
            .stack_size(super::HELPER_STACK)
            .spawn(move || {
                for job in queue {
                    job();
                }
            })?;
        Ok(Runtime {
            forward_signals: false,
            spawner: Some(Mutex::new(jobs)),
        })
    }

    pub(crate) fn forwards_signals(&self) -> bool {
        self.forward_signals
    }

    /// Runs `spawn` on the runtime's spawning thread (or this one) and returns its result.
    pub(crate) fn spawn<T: Send + 'static>(
        &self,
        spawn: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> std::io::Result<T> {
        let Some(spawner) = &self.spawner else {
            return spawn();
        };
        let (reply, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = reply.send(spawn());
        });
        spawner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .send(job)
            .map_err(|_| std::io::Error::other("the runtime's spawning thread is gone"))?;
        result
            .recv()
            .map_err(|_| std::io::Error::other("the runtime's spawning thread is gone"))?
    }
}

/// The forwarded signals, blocked in the calling thread before it starts threads of its own
/// (see [`Runtime::block_forwarded_signals`]).
#[must_use = "dropping it unblocks the signals"]
pub struct BlockedSignals {
    /// The mask to restore, while the run has not started.
    previous: Option<nix::sys::signal::SigSet>,
}

impl Runtime {
    /// Blocks the signals the CLI forwards to its run (SIGINT, SIGTERM, SIGHUP, SIGQUIT)
    /// in the calling thread now, so that threads it starts before the run (`nbexec`'s
    /// channel reader) inherit the mask: a signal left unblocked in any thread may be
    /// delivered there and kill boxpy outright, with no report. Once the run has started
    /// ([`BlockedSignals::started`]) they stay blocked, as the run leaves them; dropped
    /// before that, the old mask comes back. A library runtime forwards nothing: nothing
    /// is blocked.
    pub fn block_forwarded_signals(&self) -> crate::error::Result<BlockedSignals> {
        use anyhow::Context;
        use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
        if !self.forward_signals {
            return Ok(BlockedSignals { previous: None });
        }
        let mut forwarded = SigSet::empty();
        for signal in super::FORWARDED_SIGNALS {
            forwarded.add(signal);
        }
        let mut previous = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&forwarded), Some(&mut previous))
            .context("blocking signals")?;
        Ok(BlockedSignals {
            previous: Some(previous),
        })
    }
}

impl BlockedSignals {
    /// The run started: the signals stay blocked (its wait takes them).
    pub fn started(mut self) {
        self.previous = None;
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = nix::sys::signal::pthread_sigmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&previous),
                None,
            );
        }
    }
}
