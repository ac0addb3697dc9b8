//! The hint catalogue: a parsed [`Traceback`] plus what boxpy knows about the sandbox ->
//! a [`Diagnosis`]: what failed, where in the user's code, and which policy key, flag or
//! command changes the outcome.
//!
//! Pure: the questions about the host ("does this path exist out there?", "is this
//! variable set there?", "is this command on its PATH?") are asked through closures of
//! [`HintContext`], so tests answer them themselves.
//!
//! Rules the catalogue keeps:
//! - Python's own "Did you mean" is in the message the report shows: never repeated nor
//!   contradicted (a NameError or AttributeError that has one gets no hint).
//! - A hint never suggests what boxpy refuses: a `--rw` path is one the mount gate admits
//!   (never `/`, a system directory, a shared root, the home or what guards it), and the
//!   sandbox's `/tmp` and HOME are never offered as a place to write (they are discarded).
//! - A policy-aware hint names the key and the flag (`network.mode` / `--network full`).
//! - No hint is better than a wrong one: unknown exceptions get none.
//! - A hint never carries the program's text as an instruction. Agents run hints, and the
//!   program chooses its own exception messages: a name taken from the message is put in a
//!   hint only when it is a valid name of its kind (a module: a dotted Python identifier;
//!   a distribution: PEP 508's name rule; a key: a short plain literal; a path: one that
//!   exists on the host, shell-quoted; an environment variable: `[A-Za-z_][A-Za-z0-9_]{0,63}`;
//!   a command: letters, digits and `._+-`), otherwise the hint is the generic one.
//! - Whether the host has an environment variable (never its value) or a command is asked
//!   only for the local user ([`HostFactsDisclosure::Local`]) and a valid name.
//! - Host facts are for the local user only ([`HostFactsDisclosure`]): whether a path
//!   exists on the host is asked only when the caller is local, and never for a protected
//!   path ([`is_protected_host_fact`]).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::traceback::{locate, CauseKind, Site, Traceback};
use crate::policy::units::format_size;
use crate::policy::{Limits, Mount, NetworkMode};

/// What the program was, for deciding which files are the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramKind<'a> {
    Script(&'a Path),
    Code,
    Stdin,
    Module,
    Other,
}

/// What the catalogue knows about this run.
pub struct HintContext<'a> {
    pub workdir: &'a Path,
    pub program: ProgramKind<'a>,
    pub venv: Option<&'a Path>,
    pub python: &'a Path,
    pub network: NetworkMode,
    /// Mounts from the policy and flags (with their origin key).
    pub mounts: &'a [Mount],
    /// The venv and base interpreter directories (always read-only).
    pub interpreter_paths: &'a [PathBuf],
    pub deny_imports: &'a [String],
    pub limits: &'a Limits,
    pub tmp_size: Option<u64>,
    /// The policy's name, for hints that say where to change it.
    pub policy_name: &'a str,
    /// Whether a path exists on the host (outside the sandbox). Asked only through
    /// [`HintContext::host_has`], which applies [`HintContext::host_facts`].
    pub host_path_exists: &'a dyn Fn(&Path) -> bool,
    /// Whether a path in the working directory that a traceback names is there (not
    /// followed through a symlink). A frame in a name given to `compile()` or `exec()` that
    /// is no file (`"gen.py"`, `"a\nb.py"`) is not the user's code. The program sees the
    /// working directory, so this discloses nothing.
    pub workdir_file_exists: &'a dyn Fn(&Path) -> bool,
    /// Whether the report may say what exists on the host.
    pub host_facts: &'a HostFactsDisclosure,
    /// Paths the sandbox shows as empty (`filesystem.hide`, `--hide`, the defaults).
    pub hidden: &'a [crate::sandbox::HiddenPath],
    /// Whether a variable is set in boxpy's own (the host's) environment. Asked only
    /// through [`HintContext::host_env_has`]: for the local user, with a name that passed
    /// [`is_variable_name`]. Never asked for the value.
    pub host_variable_set: &'a dyn Fn(&str) -> bool,
    /// Whether a command is found on the host's PATH. Asked only through
    /// [`HintContext::host_command_has`]: for the local user, with a name that passed
    /// `is_command_name`.
    pub host_command_exists: &'a dyn Fn(&str) -> bool,
    /// The venv was made by uv (`uv = ` in its `pyvenv.cfg`): it has no pip, so the install
    /// command is `uv pip install --python VENV`.
    pub venv_made_by_uv: bool,
    /// The venv is a conda environment (`conda-meta/`, no `pyvenv.cfg`): the install
    /// command is `conda install -p PREFIX`.
    pub venv_is_conda: bool,
}

/// Whether a report may tell its reader facts about the host (which paths exist there).
///
/// A hint such as "`/srv/data` exists on the host but is not mounted" answers an
/// existence question, as boxpy's user, for any path the program names (a faked traceback
/// is enough). For the local user that is a good hint; for a remote caller (the service,
/// MCP) it is a probe of the host, so they get [`HostFactsDisclosure::Withheld`] and the
/// generic hints. Even locally, a protected path ([`is_protected_host_fact`]) is never
/// confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostFactsDisclosure {
    /// The report goes to the local user who runs boxpy (the CLI).
    Local {
        /// The caller's home: their own files may be confirmed, save credentials.
        caller_home: Option<PathBuf>,
    },
    /// The report leaves the machine: no host fact is ever asked for nor told.
    #[allow(
        dead_code,
        reason = "reports for remote callers: `boxpy serve` (issue 20)"
    )]
    Withheld,
}

pub use crate::host::is_protected_host_fact;

/// A dotted Python identifier (`requests.adapters`, `_ssl`); Unicode letters as Python
/// allows them, but no control, format or space characters.
pub fn is_module_name(name: &str) -> bool {
    name.len() <= 200 && !name.is_empty() && name.split('.').all(is_identifier)
}

/// A Python identifier.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    name.chars().count() <= MAX_NAME_IN_HINT
        && !name.chars().any(crate::text::needs_escape)
        && chars
            .next()
            .is_some_and(|first| first == '_' || first.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// The longest name a hint repeats: past it, a "name" is a sentence.
const MAX_NAME_IN_HINT: usize = 64;

/// A distribution name by PEP 508: ASCII letters and digits, with `.`, `_`, `-` inside.
pub fn is_distribution_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 200
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(byte))
}

/// A command name as `subprocess` would look it up on PATH.
fn is_command_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._+-".contains(&byte))
}

/// An environment variable name as a hint may repeat it: `[A-Za-z_][A-Za-z0-9_]{0,63}`.
pub fn is_variable_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'_')
}

/// Whether a variable name looks like it holds a credential (`OPENAI_API_KEY`,
/// `GITHUB_TOKEN`, `DB_PASSWORD`): the hint that suggests passing it says so.
fn looks_like_credential(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "KEY",
        "APIKEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "CREDENTIAL",
        "AUTH",
        "PRIVATE",
        "SESSION",
        "COOKIE",
    ];
    let upper = name.to_ascii_uppercase();
    upper
        .split('_')
        .any(|part| WORDS.iter().any(|word| part.starts_with(word)))
}

/// A mapping key as `KeyError` shows it: an integer, or a short quoted plain word.
fn is_plain_key(key: &str) -> bool {
    let plain = |text: &str| {
        !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"_.-".contains(&byte))
    };
    if let Some(number) = key.strip_prefix('-').or(Some(key)) {
        if !number.is_empty() && number.len() <= 20 && number.bytes().all(|b| b.is_ascii_digit()) {
            return true;
        }
    }
    ['\'', '"'].iter().any(|quote| {
        key.strip_prefix(*quote)
            .and_then(|rest| rest.strip_suffix(*quote))
            .is_some_and(plain)
    })
}

/// A place in a file, as shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// Relative to the working directory when inside it.
    pub file: String,
    pub line: Option<u32>,
    pub source: Option<String>,
    pub column: Option<u32>,
    pub function: Option<String>,
    /// For notebooks: the code cell (counted from 1, as a reader counts them); `file` is
    /// then the notebook and `line` the line within the cell.
    pub cell: Option<usize>,
}

/// What the report says about a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub exception_type: String,
    pub message: String,
    /// The deepest frame in the user's own code.
    pub location: Option<Place>,
    /// Where the exception was raised, when that is not `location`.
    pub raised_at: Option<Place>,
    /// The earlier exception in the chain: `(kind, "Type: message")`.
    pub cause: Option<String>,
    pub hint: Option<String>,
}

/// Diagnoses a traceback.
pub fn diagnose(traceback: &Traceback, context: &HintContext) -> Diagnosis {
    let is_user_file = |file: &str| is_user_file(file, context);
    let location = locate(traceback, &is_user_file);
    let to_place = |site: Site| Place {
        file: display_path(site.file, context.workdir),
        line: site.line,
        source: site.source.map(str::to_owned),
        column: site.column,
        function: site.function.map(str::to_owned),
        cell: None,
    };
    let cause = traceback.cause.as_ref().map(|cause| {
        let relation = match cause.kind {
            CauseKind::DirectCause => "caused by",
            CauseKind::DuringHandling => "while handling",
        };
        let mut text = format!("{relation} {}", cause.exception_type);
        let summary = cause
            .message
            .lines()
            .map(|line| line.trim().trim_matches('"').trim())
            .find(|line| !line.is_empty());
        if let Some(summary) = summary {
            text.push_str(": ");
            text.push_str(summary);
        }
        text
    });
    Diagnosis {
        exception_type: traceback.exception_type.clone(),
        message: traceback.message.clone(),
        location: location.user_frame.map(to_place),
        raised_at: location.raised_at.map(to_place),
        cause,
        hint: hint(traceback, context),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn is_user_file(file: &str, context: &HintContext) -> bool {
    match file {
        "<string>" => return context.program == ProgramKind::Code,
        "<stdin>" => return context.program == ProgramKind::Stdin,
        _ => {}
    }
    let path = absolute(file, context.workdir);
    if context
        .interpreter_paths
        .iter()
        .any(|interpreter| path.starts_with(interpreter))
    {
        return false;
    }
    if let ProgramKind::Script(script) = context.program {
        if path == absolute(&script.to_string_lossy(), context.workdir) {
            return true;
        }
    }
    path.starts_with(context.workdir) && (context.workdir_file_exists)(&path)
}

fn absolute(file: &str, workdir: &Path) -> PathBuf {
    crate::policy::validate::normalize(&workdir.join(file))
}

/// A path relative to the working directory when it is inside it.
pub fn display_path(file: &str, workdir: &Path) -> String {
    // `<string>`, `<frozen …>`, and the empty name `compile(source, "", "exec")` gives:
    // not paths, so never resolved against the working directory.
    if file.is_empty() || file.starts_with('<') {
        return file.to_owned();
    }
    let path = absolute(file, workdir);
    match path.strip_prefix(workdir) {
        Ok(relative) if !relative.as_os_str().is_empty() => relative.display().to_string(),
        _ => path.display().to_string(),
    }
}

/// `[Errno 30] Read-only file system: '/usr/x'` -> (30, "Read-only file system", Some("/usr/x")).
pub fn errno_message(message: &str) -> Option<(i32, &str, Option<String>)> {
    let rest = message.strip_prefix("[Errno ")?;
    let (number, rest) = rest.split_once("] ")?;
    let errno: i32 = number.trim().parse().ok()?;
    let (description, path) = match rest.split_once(": ") {
        Some((description, quoted)) => (description, unquote(quoted)),
        None => (rest, None),
    };
    Some((errno, description, path))
}

/// The first Python string literal in `text` (`'a'` or `"a"`), unescaped enough for paths.
fn unquote(text: &str) -> Option<String> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let mut out = String::new();
    let mut chars = text[1..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c if c == quote => return Some(out),
            c => out.push(c),
        }
    }
    None
}

/// `No module named 'requests.adapters'` -> `requests.adapters`.
fn quoted_name(message: &str, prefix: &str) -> Option<String> {
    unquote(message.strip_prefix(prefix)?.trim())
}

fn short_type(exception_type: &str) -> &str {
    exception_type.rsplit('.').next().unwrap_or(exception_type)
}

/// Python's own suggestion at the end of a message, only in the shapes CPython writes
/// (`Did you mean: 'name'?`, `Did you mean 'name'?`, `Did you forget to import 'sys'?`)
/// and only for a dotted identifier or an operator; anything else is the program's text.
fn python_did_you_mean(message: &str) -> Option<&str> {
    let index = message
        .find("Did you mean")
        .or_else(|| message.find("Did you forget"))?;
    let suggestion = message[index..].trim_end_matches(['.', ' ']).trim();
    let quoted = [
        "Did you mean: '",
        "Did you mean '",
        "Did you forget to import '",
    ]
    .iter()
    .find_map(|prefix| suggestion.strip_prefix(prefix))?
    .strip_suffix("'?")?;
    let operator = !quoted.is_empty()
        && quoted.len() <= 3
        && quoted
            .bytes()
            .all(|byte| b"=:!<>+-*/%&|^~.".contains(&byte));
    (is_module_name(quoted) || operator).then_some(suggestion)
}

/// The pip distribution for an import name, where they differ.
fn distribution_for(module: &str) -> &str {
    match module {
        "cv2" => "opencv-python",
        "PIL" => "Pillow",
        "sklearn" => "scikit-learn",
        "skimage" => "scikit-image",
        "yaml" => "PyYAML",
        "bs4" => "beautifulsoup4",
        "dateutil" => "python-dateutil",
        "dotenv" => "python-dotenv",
        "jwt" => "PyJWT",
        "Crypto" => "pycryptodome",
        "serial" => "pyserial",
        "magic" => "python-magic",
        "docx" => "python-docx",
        "pptx" => "python-pptx",
        "fitz" => "PyMuPDF",
        "zmq" => "pyzmq",
        "OpenSSL" => "pyOpenSSL",
        "attr" => "attrs",
        "wx" => "wxPython",
        "git" => "GitPython",
        other => other,
    }
}

impl HintContext<'_> {
    fn venv_display(&self) -> Option<String> {
        self.venv
            .map(|venv| display_path(&venv.to_string_lossy(), self.workdir))
    }

    fn python_display(&self) -> String {
        display_path(&self.python.to_string_lossy(), self.workdir)
    }

    fn is_denied(&self, module: &str) -> Option<&str> {
        self.deny_imports
            .iter()
            .find(|denied| module == denied.as_str() || module.starts_with(&format!("{denied}.")))
            .map(String::as_str)
    }

    /// The mount that makes `path` visible, if a user mount does.
    fn mount_for(&self, path: &Path) -> Option<&Mount> {
        self.mounts
            .iter()
            .filter(|mount| path.starts_with(&mount.dest))
            .max_by_key(|mount| mount.dest.components().count())
    }

    /// Whether `path` exists on the host and the report may say so: only for the local
    /// user, never for a protected path (except what the sandbox shows anyway: the
    /// working directory and the mounts). The one way the catalogue asks the host.
    fn host_has(&self, path: &Path) -> bool {
        match self.host_facts {
            HostFactsDisclosure::Withheld => false,
            HostFactsDisclosure::Local { caller_home } => {
                let shown_anyway = path.starts_with(self.workdir) || self.mount_for(path).is_some();
                // Never a suggestion to mount the home, above it, or what guards it: the
                // path came from the program's words.
                let guarded = crate::sandbox::gate::guards_the_home(path, caller_home.as_deref());
                (shown_anyway
                    || (!is_protected_host_fact(path, caller_home.as_deref()) && !guarded))
                    && (self.host_path_exists)(path)
            }
        }
    }

    /// Whether the host's environment (boxpy's own) has `name` set: only for the local
    /// user and a plain variable name; the value is never asked for.
    fn host_env_has(&self, name: &str) -> bool {
        matches!(self.host_facts, HostFactsDisclosure::Local { .. })
            && is_variable_name(name)
            && (self.host_variable_set)(name)
    }

    /// Whether the host's PATH has the command `name`: only for the local user and a
    /// plain command name.
    fn host_command_has(&self, name: &str) -> Option<bool> {
        (matches!(self.host_facts, HostFactsDisclosure::Local { .. }) && is_command_name(name))
            .then(|| (self.host_command_exists)(name))
    }

    /// `path` shell-quoted for a hint, when the host has it (see [`Self::host_has`]) and
    /// the program cannot have chosen its name (see [`Self::program_may_have_named`]).
    /// Never with a character a terminal would not show as itself.
    fn shown_path(&self, path: &Path) -> Option<String> {
        let text = path.to_str()?;
        (path.is_absolute()
            && !text.chars().any(crate::text::needs_escape)
            && !self.program_may_have_named(path)
            && self.host_has(path))
        .then(|| crate::sandbox::shell_quote(text))
    }

    /// Whether the program could have created `path` on the host, or renamed something to
    /// it: it lies strictly inside a place the sandbox lets it write (the working
    /// directory, a writable mount; the innermost of them decides). Its name is then the
    /// program's words, which a hint never repeats (a file named like an instruction, made
    /// to be quoted); the place itself is boxpy's and may be named.
    fn program_may_have_named(&self, path: &Path) -> bool {
        let workdir = path
            .starts_with(self.workdir)
            .then_some((self.workdir, true));
        let mount = self
            .mount_for(path)
            .map(|mount| (mount.dest.as_path(), mount.writable));
        let innermost = [workdir, mount]
            .into_iter()
            .flatten()
            .max_by_key(|(root, _)| root.components().count());
        innermost.is_some_and(|(root, writable)| writable && path != root)
    }

    fn is_visible(&self, path: &Path) -> bool {
        // Not `/tmp`: the sandbox's /tmp is private; the host's is not visible.
        const SYSTEM: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib64", "/proc", "/dev"];
        path.starts_with(self.workdir)
            || self.mount_for(path).is_some()
            || self
                .interpreter_paths
                .iter()
                .any(|interpreter| path.starts_with(interpreter))
            || SYSTEM.iter().any(|system| path.starts_with(system))
    }
}

/// The hint for a traceback, if the catalogue has one.
pub fn hint(traceback: &Traceback, context: &HintContext) -> Option<String> {
    let kind = short_type(&traceback.exception_type);
    let message = traceback.message.as_str();
    let first = first_line(message);

    if let Some(hint) = network_hint(kind, message, context) {
        return Some(hint);
    }
    if let Some((errno, _, path)) = errno_message(first) {
        if let Some(hint) = errno_hint(errno, path.as_deref(), traceback, context) {
            return Some(hint);
        }
    }
    match kind {
        "ModuleNotFoundError" | "ImportError" => import_hint(first, context),
        "MemoryError" => Some(match context.limits.memory {
            Some(memory) => format!(
                "the program ran out of memory under `limits.memory` ({}); raise it in the policy or pass `--memory SIZE`",
                format_size(memory)
            ),
            None => "the program ran out of memory; check the size of what it allocates".to_owned(),
        }),
        "RuntimeError" if first.contains("can't start new thread") => Some(thread_hint(context)),
        // Python's own "Did you mean" is in the message the report shows: repeating it
        // adds nothing, and boxpy has nothing to add to it.
        "NameError" => match python_did_you_mean(first) {
            Some(_) => None,
            None => Some(match quoted_name(first, "name ").filter(|name| is_identifier(name)) {
                Some(name) => format!("`{name}` is not defined at this point: check the spelling, or define or import it before it is used"),
                None => "a name is used before it is defined".to_owned(),
            }),
        },
        "AttributeError" => attribute_hint(first, context),
        "TypeError" => Some(type_error_hint(first)),
        "KeyError" if is_environ_lookup(traceback) => Some(environ_hint(message.trim(), context)),
        "KeyError" => Some(match message.trim() {
            key if !is_plain_key(key) => "a key is missing from the mapping; use `.get(key)` or check `key in mapping` first".to_owned(),
            key => format!("{key} is not a key of the mapping; use `.get({key})` or check `{key} in mapping` first"),
        }),
        "IndexError" => Some("an index is past the end of the sequence; check its length (or that it is not empty) before indexing".to_owned()),
        "ZeroDivisionError" => Some("a divisor is zero; check it before dividing".to_owned()),
        "RecursionError" => Some("the recursion does not stop (or is deeper than `sys.getrecursionlimit()`); check the base case, or rewrite it as a loop".to_owned()),
        "UnicodeDecodeError" => Some("the data is not in the encoding it was read with; pass the right `encoding=` to `open()` (e.g. `encoding=\"latin-1\"`), or open it in binary mode (`\"rb\"`)".to_owned()),
        "UnicodeEncodeError" => Some("the text has characters the output encoding cannot hold; write with `encoding=\"utf-8\"`, or pass `--env PYTHONIOENCODING=utf-8`".to_owned()),
        "JSONDecodeError" => Some("the text is not valid JSON at the position the message gives; print or log it before parsing to see what arrived".to_owned()),
        "TabError" => Some("the indentation mixes tabs and spaces; indent with spaces only (4 per level)".to_owned()),
        "IndentationError" => Some(match python_did_you_mean(first) {
            Some(suggestion) => format!("{suggestion} (Python's suggestion)"),
            None => "the indentation does not match the block structure; indent each block consistently (4 spaces per level)".to_owned(),
        }),
        "SyntaxError" => Some(syntax_hint(first)),
        "KeyboardInterrupt" => Some("the program was interrupted (SIGINT, e.g. Ctrl-C)".to_owned()),
        "AssertionError" => Some("an `assert` failed at the line shown".to_owned()),
        "FileNotFoundError" => Some("a file or directory does not exist; relative paths start at the working directory".to_owned()),
        _ => None,
    }
}

/// Whether a `KeyError` was raised by `os.environ[...]`: the deepest frame is
/// `__getitem__` of the `os` module (`<frozen os>` since 3.11, `.../os.py` before).
fn is_environ_lookup(traceback: &Traceback) -> bool {
    traceback.frames.last().is_some_and(|frame| {
        (frame.file == "<frozen os>" || frame.file.ends_with("/os.py"))
            && frame.function == "__getitem__"
    })
}

/// `os.environ["NAME"]` failed. The sandbox starts from a cleared environment, so a
/// variable the host has is missing inside until it is passed. Whether the host has it is
/// asked only for a plain variable name (the name is the program's text), and only its
/// presence: the value is never read into a report. A name that looks like a credential is
/// still named, with a caution: passing it is the user's decision, the hint must not make
/// it for them silently.
fn environ_hint(key: &str, context: &HintContext) -> String {
    let name = key
        .strip_prefix('\'')
        .and_then(|rest| rest.strip_suffix('\''))
        .filter(|name| is_variable_name(name));
    match name {
        Some(name) if context.host_env_has(name) => {
            let caution = if looks_like_credential(name) {
                "; it looks like a credential: pass it only to a program you trust"
            } else {
                ""
            };
            format!(
                "`{name}` is set on the host, but the sandbox starts with a cleared environment; pass it with `--env {name}` (or list it in `env.pass`){caution}"
            )
        }
        Some(name) if matches!(context.host_facts, HostFactsDisclosure::Local { .. }) => format!(
            "`{name}` is not set, on the host either; use `os.environ.get('{name}')` for an optional variable, or set it with `--env {name}=VALUE` (or `env.set`)"
        ),
        Some(name) => format!(
            "`{name}` is not set in the sandbox, whose environment starts cleared (only `env.pass`, `env.set` and `--env` add to it); use `os.environ.get('{name}')` for an optional variable"
        ),
        None => "a variable is missing from the sandbox's environment, which starts cleared; pass one the host has with `--env NAME` (or `env.pass`), or use `os.environ.get(...)`".to_owned(),
    }
}

fn is_network_failure(kind: &str, message: &str) -> bool {
    const TYPES: &[&str] = &[
        "ConnectionRefusedError",
        "ConnectionError",
        "ConnectionResetError",
        "gaierror",
        "URLError",
        "NewConnectionError",
        "MaxRetryError",
        "ConnectError",
        "ConnectTimeout",
        "NameResolutionError",
        "ProxyError",
    ];
    const MESSAGES: &[&str] = &[
        "Name or service not known",
        "Temporary failure in name resolution",
        "No address associated with hostname",
        "Network is unreachable",
        "Connection refused",
        "Failed to establish a new connection",
        "Failed to resolve",
        "nodename nor servname",
        "Cannot assign requested address",
        "Tunnel connection failed",
        crate::network::proxy::REFUSED_PHRASE,
        "not allowed by ruleset",
    ];
    TYPES.contains(&kind) || MESSAGES.iter().any(|needle| message.contains(needle))
}

fn network_hint(kind: &str, message: &str, context: &HintContext) -> Option<String> {
    if !is_network_failure(kind, message) {
        return None;
    }
    Some(match context.network {
        NetworkMode::None => "the sandbox has no network (`network.mode = \"none\"`); allow only the hosts it needs with `--allow-host HOST` (through boxpy's proxy), or the whole network with `--network full` (or `-P net`), or set `mode` under `[network]` in the policy".to_owned(),
        NetworkMode::Localhost => "`network.mode = \"localhost\"` reaches only servers started inside the sandbox (not the host's); allow the network with `--network full`, or set `mode = \"full\"` under `[network]`".to_owned(),
        NetworkMode::Full => {
            if message.contains("refused") {
                "nothing accepted the connection at that address (the sandbox uses the host's network); check the host and port".to_owned()
            } else {
                "the connection failed with the host's network (`network.mode = \"full\"`); check the address and the host's DNS".to_owned()
            }
        }
        NetworkMode::Proxy => proxy_hint(message),
    })
}

/// A network failure under `network.mode = "proxy"`: boxpy's proxy refused the host (the
/// run's report then lists each refused host with the rule that allows it), or the client
/// went around the proxy (its own name lookup, a direct connection), which fails inside.
fn proxy_hint(message: &str) -> String {
    // The proxy's HTTP refusal carries its own reason phrase; SOCKS5's is the standard
    // "not allowed by ruleset".
    const REFUSED: &[&str] = &[
        crate::network::proxy::REFUSED_PHRASE,
        "not allowed by ruleset",
    ];
    if REFUSED.iter().any(|needle| message.contains(needle)) {
        return "boxpy's network proxy refused the connection: the policy does not allow that host or port (`network.allow`); boxpy lists each refused host after the report (`network.refused` with `--json`), with the `--allow-host` rule that would allow it".to_owned();
    }
    "the sandbox reaches the network only through boxpy's proxy, which `HTTPS_PROXY`, `HTTP_PROXY` and `ALL_PROXY` point to; this client looked up a name or connected directly, which fails inside: make it use those variables (pip, requests, httpx, urllib and git do; aiohttp needs `trust_env=True`), or speak SOCKS5 to 127.0.0.1:1080 (names resolved by the proxy)".to_owned()
}

/// A thread that could not start: too many tasks, or (under RLIMIT_DATA, where each
/// thread's stack counts) no memory left for its stack.
fn thread_hint(context: &HintContext) -> String {
    match (context.limits.processes, context.limits.memory) {
        (Some(processes), Some(memory)) => format!(
            "no new thread could start: the program hit `limits.processes` ({processes} tasks, threads included) or `limits.memory` ({}; each thread's stack counts); raise the one it hit in the policy",
            format_size(memory)
        ),
        _ => processes_hint(context),
    }
}

fn processes_hint(context: &HintContext) -> String {
    match context.limits.processes {
        Some(processes) => format!(
            "the program hit `limits.processes` ({processes} tasks, threads included); raise it in the policy"
        ),
        None => "the system refused a new process or thread".to_owned(),
    }
}

/// A command `subprocess` could not find in the sandbox. Whether the host has it decides
/// the hint (asked for the local user and a plain command name only): not installed at
/// all, or installed where the sandbox does not look.
fn command_hint(command: &str, context: &HintContext) -> String {
    const SANDBOX_PATH: &str = "the venv's bin, /usr/local/bin, /usr/bin, /bin";
    match context.host_command_has(command) {
        Some(false) => format!(
            "`{command}` is not installed (not on the host's PATH either); install it on the host (the sandbox sees /usr) or, if it is a Python tool, into the venv"
        ),
        Some(true) => format!(
            "`{command}` is on the host's PATH but not on the sandbox's ({SANDBOX_PATH}); mount its directory with `--ro DIR` and call it by its full path, or install it under /usr or into the venv"
        ),
        None => format!(
            "the command is not on the sandbox's PATH ({SANDBOX_PATH}); install it there, or mount its directory with `--ro DIR` and call it by its full path"
        ),
    }
}

fn errno_hint(
    errno: i32,
    path: Option<&str>,
    traceback: &Traceback,
    context: &HintContext,
) -> Option<String> {
    let absolute_path = path.map(|path| absolute(path, context.workdir));
    match errno {
        libc::EROFS | libc::EACCES => {
            let path = absolute_path?;
            let refused = if errno == libc::EROFS {
                Refused::ReadOnlyFilesystem
            } else {
                Refused::Permission
            };
            Some(refused_hint(&path, refused, context))
        }
        libc::EPERM => Some(match absolute_path {
            Some(path) => refused_hint(&path, Refused::NotPermitted, context),
            None => "the sandbox refuses this operation (its seccomp filter blocks ptrace, mount, namespaces, keyctl, bpf and similar calls); no policy key allows it".to_owned(),
        }),
        libc::ENOENT => {
            let shown = path?;
            let path = absolute_path?;
            let is_command = !shown.contains('/')
                && traceback
                    .frames
                    .iter()
                    .any(|frame| frame.file.ends_with("subprocess.py"));
            if is_command {
                return Some(command_hint(shown, context));
            }
            if let Some(protected) = crate::host::PROTECTED_PATHS
                .iter()
                .find(|protected| path.starts_with(protected))
            {
                return Some(format!(
                    "boxpy never shows `{protected}` to a sandboxed program, whatever the policy says"
                ));
            }
            // A read-only mount is offered for a host path that exists (it passed
            // `shown_path`: not protected, not the home or what guards it, not a name the
            // program made); never `--rw` of it: the path came from the program, and a
            // writable mount is the user's choice of directory.
            if !context.is_visible(&path) {
                if let Some(shown) = context.shown_path(&path) {
                    return Some(format!(
                        "`{shown}` exists on the host but is not mounted in the sandbox; add `--ro {shown}` (or list it in `filesystem.read_only`)"
                    ));
                }
            }
            if let Some(parent) = path.parent() {
                if !context.is_visible(parent) {
                    if let Some(shown) = context.shown_path(parent) {
                        return Some(format!(
                            "`{shown}` exists on the host but is not mounted in the sandbox; add `--ro {shown}` to read there (or list it in `filesystem.read_only`); to write, mount a host directory you choose with `--rw DIR` (or list it in `filesystem.read_write`)"
                        ));
                    }
                }
            }
            // The path is the program's text and does not exist (or may not be told): it
            // is not repeated.
            if !shown.starts_with('/') {
                return Some(format!(
                    "the file or directory does not exist in the working directory `{}` (relative paths start there)",
                    context.workdir.display()
                ));
            }
            Some("the file or directory does not exist in the sandbox; a host path must be mounted to be seen there (`--ro PATH`, or `filesystem.read_only`)".to_owned())
        }
        libc::ENOSPC => {
            let path = absolute_path.unwrap_or_default();
            if path.starts_with("/tmp") || path.starts_with("/dev/shm") || path.as_os_str().is_empty() {
                Some(match context.tmp_size {
                    Some(size) => format!(
                        "the sandbox's private /tmp is full at `filesystem.tmp_size` ({}); raise it in the policy, or write large files to the working directory",
                        format_size(size)
                    ),
                    None => "the sandbox's /tmp is full; set a larger `filesystem.tmp_size`".to_owned(),
                })
            } else {
                Some(match context.shown_path(&path) {
                    Some(shown) => format!("the host's disk holding `{shown}` is full"),
                    None => "the host's disk the program writes to is full".to_owned(),
                })
            }
        }
        libc::EFBIG => Some(match context.limits.file_size {
            Some(size) => format!(
                "the program wrote a file larger than `limits.file_size` ({}); raise it in the policy",
                format_size(size)
            ),
            None => "the file is larger than the filesystem allows".to_owned(),
        }),
        libc::EMFILE => Some(match context.limits.open_files {
            Some(files) => format!(
                "the program has {files} files open, the `limits.open_files` limit; close files (use `with open(...)`) or raise it in the policy"
            ),
            None => "too many open files; close files when done (use `with open(...)`)".to_owned(),
        }),
        libc::EAGAIN => Some(processes_hint(context)),
        _ => None,
    }
}

/// Whether boxpy's gate would admit `path` as a `--rw` mount (pure: the gate's rules, no
/// host access): a hint never suggests a mount boxpy itself refuses.
fn gate_admits_writable(path: &Path, caller_home: Option<&Path>) -> bool {
    let request = crate::sandbox::gate::Request {
        source: path,
        dest: path,
        role: crate::sandbox::gate::Role::ReadWrite,
        users_word: true,
        protected_names: &[],
    };
    crate::sandbox::gate::check(request, caller_home).is_ok()
}

/// Why the kernel refused an operation on a path, as far as its errno tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// `EROFS`: a write to a read-only mount (the path's mount, or the sandbox's root).
    ReadOnlyFilesystem,
    /// `EACCES`: the owner and mode refused it; a read as much as a write (the message
    /// does not say which), so the hint must not assume a write.
    Permission,
    /// `EPERM` on a path: an operation the owner may do (chmod, unlink of another's file).
    NotPermitted,
}

/// The hint for an operation on `path` the kernel refused (`EROFS`, `EACCES`, `EPERM`).
fn refused_hint(path: &Path, refused: Refused, context: &HintContext) -> String {
    // A path boxpy hides by design: read or write, no policy key shows it.
    if let Some(protected) = crate::host::PROTECTED_PATHS
        .iter()
        .find(|protected| path.starts_with(protected))
    {
        return format!(
            "boxpy never lets a sandboxed program read or write `{protected}` (hidden by design, whatever the policy or `--ro` says); the program must do without it"
        );
    }
    // The path comes from the program's message: shown only when the host has it.
    let shown_path = context.shown_path(path);
    let shown = match &shown_path {
        Some(shown) => format!("`{shown}`"),
        None => "the path".to_owned(),
    };
    // A hidden path is one boxpy chose to cover: naming the pattern's place leaks nothing.
    let absolute = context.workdir.join(path);
    if let Some(hidden) = context
        .hidden
        .iter()
        .find(|hidden| absolute.starts_with(&hidden.dest))
    {
        return format!(
            "`{}` is hidden from the program (read as empty) because it looks like a credential; pass the values it needs with `--env KEY` (`boxpy policy show` lists the patterns, `filesystem.hide` in SECURITY.md says how a policy of your own changes them)",
            display_path(&hidden.dest.to_string_lossy(), context.workdir)
        );
    }
    if let Some(venv) = context
        .interpreter_paths
        .iter()
        .find(|interpreter| path.starts_with(interpreter))
    {
        // Read-only whatever the errno (a directory the caller cannot write gives EACCES
        // before the mount's EROFS); a refused read inside a venv is all but unheard of.
        return format!(
            "{shown} is inside `{}`, which the sandbox mounts read-only; install packages from outside it ({})",
            display_path(&venv.to_string_lossy(), context.workdir),
            install_command(context, "...")
        );
    }
    let permissions = "its owner and mode on the host refuse this access (the sandbox runs as you, without capabilities); check them on the host";
    if path.starts_with(context.workdir) && refused != Refused::ReadOnlyFilesystem {
        return format!("{shown} is in the working directory but {permissions}");
    }
    if let Some(mount) = context.mount_for(path) {
        if mount.origin == crate::sandbox::PROTECTED_ORIGIN {
            return format!(
                "`{}` is read by host tools (git, direnv, editors, boxpy itself) after the run, so boxpy mounts it read-only; change it outside the sandbox",
                mount.source.display()
            );
        }
        if mount.origin == crate::sandbox::SYSTEM_CACHE_ORIGIN
            || mount
                .origin
                .starts_with(crate::sandbox::LIBRARY_CACHE_ORIGIN)
        {
            return format!(
                "`{}` is a cache boxpy shows read-only to every run (`boxpy cache show` lists the library caches); write the output under the working directory (`{}`) instead",
                mount.dest.display(),
                context.workdir.display()
            );
        }
        if !mount.writable {
            let listed = if mount.origin.starts_with("--") {
                format!("mounted read-only by `{}`", mount.origin)
            } else {
                format!("listed in `{}`", mount.origin)
            };
            if refused == Refused::Permission {
                // Not the mount: a read-only mount refuses a write with EROFS.
                return format!("{shown} is {listed}, but {permissions}");
            }
            let caller_home = match context.host_facts {
                HostFactsDisclosure::Local { caller_home } => caller_home.as_deref(),
                HostFactsDisclosure::Withheld => None,
            };
            // The mount's source is the user's own word (a flag or the policy), not the
            // program's: it may be named, when the gate would let it be writable.
            let source = mount
                .source
                .to_str()
                .filter(|_| gate_admits_writable(&mount.source, caller_home))
                .map(crate::sandbox::shell_quote);
            return match source {
                Some(source) => format!(
                    "`{}` is {listed}; to write there, mount it with `--rw {source}` or move it to `filesystem.read_write`",
                    mount.source.display(),
                ),
                None => format!(
                    "`{}` is {listed}, and boxpy never makes it writable; write the output under the working directory (`{}`) instead",
                    mount.source.display(),
                    context.workdir.display()
                ),
            };
        }
        return format!(
            "{shown} is mounted read-write (`{}`) but {permissions}",
            mount.origin
        );
    }
    // Outside every mount. The sandbox's /tmp and HOME are never suggested: they are
    // private and discarded with the sandbox.
    const SYSTEM: &[&str] = &[
        "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/proc", "/sys", "/dev",
    ];
    if SYSTEM.iter().any(|system| path.starts_with(system)) {
        return format!(
            "system directories are read-only in the sandbox, and boxpy never makes them writable; write under the working directory (`{}`) instead",
            context.workdir.display()
        );
    }
    // The path outside came from the program: a hint that names it would let the program
    // choose which host directory the user mounts writable (another project, a directory
    // something on the host runs from). The user names the directory.
    format!(
        "only the working directory (`{}`) and `filesystem.read_write` are writable; write under the working directory (or choose another with `-w DIR`), or mount a host directory you choose with `--rw DIR`",
        context.workdir.display(),
    )
}

/// The command that installs `distribution` into the run's venv: `uv pip install --python
/// VENV` for a venv uv made (it has no pip), `conda install -p PREFIX` for a conda
/// environment, the venv's own pip otherwise.
fn install_command(context: &HintContext, distribution: &str) -> String {
    match context.venv_display() {
        Some(prefix) if context.venv_is_conda => format!(
            "`conda install -p {prefix} {distribution}` (or `{} -m pip install {distribution}`)",
            context.python_display()
        ),
        Some(venv) if context.venv_made_by_uv => {
            format!("`uv pip install --python {venv} {distribution}`")
        }
        _ => format!(
            "`{} -m pip install {distribution}`",
            context.python_display()
        ),
    }
}

fn import_hint(message: &str, context: &HintContext) -> Option<String> {
    if message.contains("guards.deny_imports") {
        let module = quoted_name(message, "import of ")
            .filter(|module| is_module_name(module))
            .map(|module| format!("`{module}`"))
            .unwrap_or_else(|| "the module".to_owned());
        return Some(format!(
            "{module} is listed in `guards.deny_imports` of policy `{}`; remove it there to allow the import (a guardrail, not a security boundary)",
            context.policy_name
        ));
    }
    if let Some(module) = quoted_name(message, "No module named ") {
        if !is_module_name(&module) {
            return Some(generic_import_hint(context));
        }
        let top = module.split('.').next().unwrap_or(&module).to_owned();
        if let Some(denied) = context.is_denied(&module) {
            return Some(format!(
                "`{denied}` is listed in `guards.deny_imports` of policy `{}`",
                context.policy_name
            ));
        }
        if top.starts_with('_') || top == "distutils" {
            return Some(match top.as_str() {
                "distutils" => "`distutils` was removed in Python 3.12; install `setuptools`, which provides it".to_owned(),
                _ => format!("`{top}` is part of the interpreter itself; this Python was built without it"),
            });
        }
        let distribution = distribution_for(&top);
        if !is_distribution_name(distribution) {
            return Some(generic_import_hint(context));
        }
        let python = context.python_display();
        return Some(match context.venv_display() {
            Some(venv) => format!(
                "`{top}` is not installed in `{venv}`; install it with {}",
                install_command(context, distribution)
            ),
            None => format!(
                "`{top}` is not installed for `{python}` (no venv); create one with `python3 -m venv .venv` and `.venv/bin/python -m pip install {distribution}`, then run with `--venv .venv`"
            ),
        });
    }
    if let Some(rest) = message.strip_prefix("cannot import name ") {
        let name = unquote(rest).unwrap_or_default();
        let module = rest
            .split(" from ")
            .nth(1)
            .and_then(unquote)
            .unwrap_or_default();
        if !is_identifier(&name) || !is_module_name(&module) {
            return Some(
                "a name the program imports is missing from its module: check the spelling and the installed version".to_owned(),
            );
        }
        if message.contains("circular import") {
            return Some(format!(
                "`{module}` is only partly initialised: a circular import (or a file named like the module in the working directory shadows it)"
            ));
        }
        return Some(format!(
            "`{module}` has no `{name}`: check the spelling and the installed version of `{module}`"
        ));
    }
    None
}

/// The import hint without any name from the message (which was not a valid name).
fn generic_import_hint(context: &HintContext) -> String {
    let python = context.python_display();
    match context.venv_display() {
        Some(venv) => format!(
            "a module the program imports is not installed in `{venv}`; check its name, then install its distribution with {}",
            install_command(context, "NAME")
        ),
        None => format!(
            "a module the program imports is not installed for `{python}` (no venv); create one with `python3 -m venv .venv`, install the distribution with `.venv/bin/python -m pip install NAME`, then run with `--venv .venv`"
        ),
    }
}

fn attribute_hint(message: &str, context: &HintContext) -> Option<String> {
    if python_did_you_mean(message).is_some() {
        return None;
    }
    Some(attribute_hint_without_suggestion(message, context))
}

fn attribute_hint_without_suggestion(message: &str, context: &HintContext) -> String {
    if message.starts_with("'NoneType' object") {
        return "a value is `None` where an object was expected: something returned `None` (a function without `return`, a failed lookup)".to_owned();
    }
    if let Some(module) = quoted_name(message, "module ").filter(|module| is_module_name(module)) {
        let local = context.workdir.join(format!("{module}.py"));
        if context.host_has(&local) {
            return format!(
                "`{module}.py` in the working directory shadows the `{module}` module; rename it"
            );
        }
        return format!(
            "`{module}` has no such attribute: check the spelling and the installed version"
        );
    }
    "the object has no such attribute: check the spelling and the object's type".to_owned()
}

fn type_error_hint(message: &str) -> String {
    if message.contains("NoneType") {
        "a value is `None` where something else was expected: something returned `None`".to_owned()
    } else if message.contains("positional argument") || message.contains("keyword argument") {
        "the call's arguments do not match the function's signature".to_owned()
    } else if message.contains("unsupported operand") || message.contains("can only concatenate") {
        "the operands have types that do not combine; convert one (e.g. `str(n)` or `int(s)`)"
            .to_owned()
    } else if message.contains("not subscriptable")
        || message.contains("not iterable")
        || message.contains("not callable")
    {
        "the value is not the kind of object the code treats it as; check its type".to_owned()
    } else {
        "a value has the wrong type for this operation; check the types at the line shown"
            .to_owned()
    }
}

fn syntax_hint(message: &str) -> String {
    if message.contains("Missing parentheses in call to 'print'") {
        return "this is Python 2 code; `print` is a function in Python 3".to_owned();
    }
    // Only CPython's own fixed "Perhaps" sentences: the rest of a message is the program's.
    const PERHAPS: &[&str] = &["Perhaps you forgot a comma?"];
    let perhaps = PERHAPS
        .iter()
        .copied()
        .find(|sentence| message.trim_end().ends_with(sentence));
    match python_did_you_mean(message).or(perhaps) {
        Some(suggestion) => format!("{suggestion} (Python's suggestion)"),
        None => "the code does not parse; look at the marked position and just before it (an unclosed bracket or quote often shows up on a later line)".to_owned(),
    }
}

#[cfg(test)]
mod tests;
