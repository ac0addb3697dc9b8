//! The rlimits a sandbox's init sets on itself before it starts the program (inherited by
//! the program), named as the init's `--rlimit NAME=SOFT:HARD` takes them: part of what a
//! renderer writes (`InitSetup::Inline`), planned by `exec::limits`.

/// One rlimit to set before exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: i32,
    pub soft: u64,
    pub hard: u64,
}

/// The rlimits boxpy sets, by the names the init's `--rlimit` takes, each with the policy
/// key it enforces.
// `RLIMIT_*` are `u32` on Linux and `c_int` on macOS: the casts are needed on one of them.
#[cfg_attr(target_os = "macos", allow(clippy::unnecessary_cast))]
pub(crate) const RLIMIT_NAMES: [(&str, i32, &str); 5] = [
    ("cpu", libc::RLIMIT_CPU as i32, "limits.cpu"),
    ("data", libc::RLIMIT_DATA as i32, "limits.memory"),
    ("nproc", libc::RLIMIT_NPROC as i32, "limits.processes"),
    ("fsize", libc::RLIMIT_FSIZE as i32, "limits.file_size"),
    ("nofile", libc::RLIMIT_NOFILE as i32, "limits.open_files"),
];

impl Rlimit {
    /// `NAME=SOFT:HARD`, as the init's `--rlimit` takes it.
    pub fn to_argument(self) -> String {
        let name = self.entry().map_or("unknown", |(name, _, _)| name);
        format!("{name}={}:{}", self.soft, self.hard)
    }

    /// The policy key this rlimit enforces (`limits.open_files` for `RLIMIT_NOFILE`).
    pub fn policy_key(self) -> Option<&'static str> {
        self.entry().map(|(_, _, key)| *key)
    }

    fn entry(self) -> Option<&'static (&'static str, i32, &'static str)> {
        RLIMIT_NAMES
            .iter()
            .find(|(_, resource, _)| *resource == self.resource)
    }

    /// Parses [`Rlimit::to_argument`]'s form.
    pub fn from_argument(text: &str) -> Option<Rlimit> {
        let (name, values) = text.split_once('=')?;
        let (soft, hard) = values.split_once(':')?;
        let resource = RLIMIT_NAMES.iter().find(|(known, _, _)| *known == name)?.1;
        Some(Rlimit {
            resource,
            soft: soft.parse().ok()?,
            hard: hard.parse().ok()?,
        })
    }
}
