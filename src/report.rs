//! The only writer of boxpy's own output: errors, the after-run report, `--json` results,
//! `--verbose` command lines and notices. Human text goes to stderr (uv-style: lowercase,
//! backticks, `hint:` lines); JSON goes to stdout as exactly one object.

use std::io::{IsTerminal, Write};

use owo_colors::{OwoColorize, Style};
use serde::Serialize;

use crate::cli::ColorChoice;
use crate::error::Error;
use crate::exec::{Outcome, Resources, Status};
use crate::hints::catalogue::{Diagnosis, HintContext};
use crate::hints::diagnose::{Ended, Ending};
use crate::policy::units::format_size;
use crate::settings::Invocation;
pub use crate::text::{escape_control, escaped_path, needs_escape};

/// Colours for boxpy's own stderr text; all plain unless colour is on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Styles {
    pub error: Style,
    pub hint: Style,
    pub dim: Style,
    pub bold: Style,
}

impl Styles {
    /// Decides colour: `--color` wins; `auto` honours `NO_COLOR` and whether stderr is a terminal.
    pub fn for_stderr(choice: ColorChoice) -> Styles {
        let enabled = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                    && std::io::stderr().is_terminal()
            }
        };
        if enabled {
            Styles {
                error: Style::new().red().bold(),
                hint: Style::new().cyan().bold(),
                dim: Style::new().blue().bold(),
                bold: Style::new().bold(),
            }
        } else {
            Styles::default()
        }
    }
}

/// Formats an expected failure, uv-style.
///
/// Errors repeat text boxpy did not write (a file name in the workdir, a line of a
/// repository's policy in a TOML error): control characters in it are escaped, and a
/// line break in it continues the same item on an indented line, so no value can start a
/// line that reads as boxpy's own (`error:`, `hint:`, `ok:`).
pub fn format_error(error: &Error, styles: &Styles) -> String {
    let mut text = format!(
        "{} {}\n",
        "error:".style(styles.error),
        escape_control_lines(&error.summary(), "       ")
    );
    for cause in error.causes() {
        text.push_str(&format!(
            "  Caused by: {}\n",
            escape_control_lines(&cause, "             ")
        ));
    }
    let hints = error.hints();
    if !hints.is_empty() {
        text.push('\n');
        for hint in hints {
            text.push_str(&format!(
                "{} {}\n",
                "hint:".style(styles.hint),
                escape_control_lines(&hint, "      ")
            ));
        }
    }
    text
}

/// [`escape_control`] line by line: a line break stays a line break, and the lines after
/// the first start with `indent` (the width of the label before the first, so a line
/// break in a value can never start a line at a column where boxpy's own labels are).
fn escape_control_lines(text: &str, indent: &str) -> String {
    text.split('\n')
        .map(escape_control)
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

/// Prints an expected failure on stderr.
pub fn error(error: &Error, color: ColorChoice) {
    after_program_output();
    let text = format_error(error, &Styles::for_stderr(color));
    let _ = stderr_out().write_all(text.as_bytes());
}

/// `--verbose`: which policy and which venv were used, and why (one line each).
pub fn verbose_choices(choices: &[String]) {
    let mut err = stderr_out();
    for choice in choices {
        let _ = writeln!(err, "boxpy: {}", escape_control(choice));
    }
}

/// `--verbose`: the sandbox command line, before running.
pub fn verbose_command(text: &str) {
    let _ = writeln!(stderr_out(), "boxpy: running\n{text}");
}

/// Plain text on stdout (`render`, `completions`).
pub fn stdout_text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Before boxpy's own lines on a terminal (after the program's output, and whenever boxpy
/// writes while the program may have written): a soft reset, so nothing the program left
/// behind can swallow, hide, restyle or link what boxpy says.
/// - CAN aborts an unfinished escape sequence (`\x1b[` with no final byte would eat
///   boxpy's first characters); ST ends a string left open (an OSC title: `\x1b]0;` would
///   put boxpy's warnings in the window title; a DCS, APC, PM or SOS).
/// - SI and `ESC ( B` bring back ASCII (`\x1b(0` turns letters into line-drawing).
/// - DECSTR resets the scrolling margins, origin and insert modes and the cursor's
///   visibility; SGR 0 the colours and attributes (`\x1b[8m` conceals).
/// - OSC 8 with no target ends a hyperlink (boxpy's hint would become a link to the
///   program's address); OSC 104, 110 and 111 restore the palette and the default
///   foreground and background (black on black hides text SGR 0 restores).
/// - Mouse reporting and bracketed paste are switched off, and the alternate screen left,
///   so boxpy's lines land on the screen the user scrolls back through.
///
/// Nothing on a pipe or file: there the bytes are the record.
pub const TERMINAL_RESET: &[u8] = b"\x18\x1b\\\x0f\x1b(B\x1b[!p\x1b[0m\x1b]8;;\x1b\\\x1b]104\x1b\\\x1b]110\x1b\\\x1b]111\x1b\\\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?1049l";

/// Writes [`TERMINAL_RESET`] when stderr is a terminal.
pub fn after_program_output() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        let _ = stderr_out().write_all(TERMINAL_RESET);
    }
}

/// A warning about this run (a limit this host cannot enforce, a leftover moved aside).
/// The text is one line: whatever it quotes (a path the program created, a value from a
/// policy) is escaped, a line break included, so it cannot start a line of its own.
pub fn warning(text: &str) {
    after_program_output();
    let _ = writeln!(stderr_out(), "boxpy: warning: {}", escape_control(text));
}

/// What boxpy does with a library cache for this run (priming it, or why it is not used),
/// once, on stderr (not with `--quiet`).
pub fn cache_note(text: &str, quiet: bool) {
    if quiet {
        return;
    }
    let _ = writeln!(stderr_out(), "boxpy: {}", escape_control(text));
}

/// What the user asked for that weakens the sandbox, once per run (not with `--quiet`).
pub fn notices(invocation: &crate::settings::Invocation) {
    if invocation.output.quiet {
        return;
    }
    if invocation.notices.is_empty() {
        return;
    }
    after_program_output();
    let mut err = stderr_out();
    for notice in &invocation.notices {
        let _ = writeln!(err, "boxpy: notice: {}", escape_control(notice));
    }
}

/// What resolving the run skipped and the user should hear of (`venv`'s relative PATH
/// entries), printed as warnings once it is resolved.
pub fn resolved_warnings(invocation: &crate::settings::Invocation) {
    for text in &invocation.warnings {
        warning(text);
    }
}

/// The CLI's observer of a run's output: prints what exec tells of it as it happens.
pub fn output_observer() -> crate::exec::Observer {
    crate::exec::Observer::new(|notice| {
        match notice {
        crate::exec::Notice::OutputLimitReached { limit } => output_limit_notice(*limit),
        crate::exec::Notice::OutputHeldOpen => warning(
            "a process that left the program's process group (a new session) still holds its output; boxpy stopped reading it",
        ),
    }
    })
}

/// The one notice printed when `limits.output` is reached.
pub fn output_limit_notice(limit: u64) {
    // Written while the program may still be writing: its output so far may have left a
    // sequence open on the same terminal. The reset and the notice go in one write, so
    // output another pump writes to the same terminal meanwhile cannot come between them
    // (a terminal serialises its writers per write).
    use std::io::IsTerminal;
    let mut err = stderr_out();
    let mut text = Vec::new();
    if std::io::stderr().is_terminal() {
        text.extend_from_slice(TERMINAL_RESET);
    }
    text.extend_from_slice(
        format!(
            "\nboxpy: output limit of {} reached (`limits.output`); further output is dropped\n",
            format_size(limit)
        )
        .as_bytes(),
    );
    let _ = err.write_all(&text);
}

/// The exit code boxpy returns for an outcome (SPEC §5).
pub fn exit_code(outcome: &Outcome) -> u8 {
    ended(outcome).ending.exit_code()
}

/// exec's outcome as the diagnosis reads it.
fn ended(outcome: &Outcome) -> Ended<'_> {
    Ended {
        ending: match outcome.status {
            Status::Exited(code) => Ending::Exited(code),
            Status::Signaled(signal) => Ending::Signaled(signal),
            Status::TimedOut => Ending::TimedOut,
        },
        stderr_tail: &outcome.stderr_tail,
        memory_limit_reached: outcome.memory_limit_reached,
        cpu_ms: outcome.resources.map(|resources| resources.cpu_ms),
    }
}

/// What to report about a finished run ([`crate::hints::diagnose`] decides).
pub(crate) fn diagnose(invocation: &Invocation, outcome: &Outcome) -> Option<Diagnosis> {
    crate::hints::diagnose::diagnose(&invocation.diagnosis_run(), &ended(outcome))
}

/// The catalogue's view of this run (nbexec diagnoses each failed cell with it).
pub(crate) fn with_hint_context<T>(
    invocation: &Invocation,
    with: impl FnOnce(&HintContext) -> T,
) -> T {
    invocation.diagnosis_run().with_context(with)
}

/// The human report (SPEC §6), uv/rustc-style. Everything in it that came from the
/// program (exception type and message, file names, source lines, function names, the
/// cause) is passed through [`escape_control`]; so is the hint.
pub fn format_diagnosis(diagnosis: &Diagnosis, styles: &Styles) -> String {
    let mut text = format!(
        "{} {}",
        "error:".style(styles.error),
        escape_control(&diagnosis.exception_type)
    );
    let message = diagnosis.message.lines().next().unwrap_or("");
    if !message.is_empty() {
        text.push_str(": ");
        text.push_str(&escape_control(message));
    }
    text.push('\n');
    if let Some(place) = &diagnosis.location {
        text.push_str(&format_place(place, styles));
    }
    if let Some(raised) = &diagnosis.raised_at {
        let mut at = shown_file(&raised.file).into_owned();
        if let Some(line) = raised.line {
            at.push_str(&format!(":{line}"));
        }
        if let Some(function) = &raised.function {
            at.push_str(&format!(" in `{}`", escape_control(function)));
        }
        let lead = if diagnosis.location.is_some() {
            "   = raised in"
        } else {
            "  --> raised in"
        };
        text.push_str(&format!("{} {at}\n", lead.style(styles.dim)));
    }
    if let Some(cause) = &diagnosis.cause {
        text.push_str(&format!(
            "{} {}\n",
            "   =".style(styles.dim),
            escape_control(cause)
        ));
    }
    if let Some(hint) = &diagnosis.hint {
        text.push_str(&format!(
            "\n{} {}\n",
            "hint:".style(styles.hint),
            escape_control(hint)
        ));
    }
    text
}

/// A file name as the human report shows it: escaped, and `""` (as Python printed it) for
/// the empty name `compile(source, "", "exec")` gives, which would otherwise vanish.
fn shown_file(file: &str) -> std::borrow::Cow<'_, str> {
    if file.is_empty() {
        std::borrow::Cow::Borrowed("\"\"")
    } else {
        escape_control(file)
    }
}

fn format_place(place: &crate::hints::catalogue::Place, styles: &Styles) -> String {
    let line = place.line.map(|line| line.to_string()).unwrap_or_default();
    let width = line.len().max(1);
    let gutter = " ".repeat(width);
    let at = match (place.cell, line.is_empty()) {
        (Some(cell), true) => format!(", cell {cell}"),
        (Some(cell), false) => format!(", cell {cell}, line {line}"),
        (None, true) => String::new(),
        (None, false) => format!(":{line}"),
    };
    let mut text = format!(
        "{gutter}{} {}{at}\n",
        "-->".style(styles.dim),
        shown_file(&place.file)
    );
    if let Some(source) = place
        .source
        .as_deref()
        .and_then(|source| source.lines().next())
    {
        let bar = "|".style(styles.dim);
        text.push_str(&format!("{gutter} {bar}\n"));
        text.push_str(&format!(
            "{} {bar} {}\n",
            line.style(styles.dim),
            escape_control(source)
        ));
        match place.column {
            Some(column) if column > 0 => {
                let pad = " ".repeat(column as usize - 1);
                text.push_str(&format!(
                    "{gutter} {bar} {pad}{}\n",
                    "^".style(styles.error)
                ));
            }
            _ => text.push_str(&format!("{gutter} {bar}\n")),
        }
    }
    text
}

/// The human report after the program's own output, on stderr.
pub fn human_outcome(invocation: &Invocation, outcome: &Outcome) {
    if invocation.output.quiet {
        return;
    }
    if let Some(diagnosis) = diagnose(invocation, outcome) {
        let styles = Styles::for_stderr(invocation.output.color);
        let text = format!("\n{}", format_diagnosis(&diagnosis, &styles));
        after_program_output();
        let _ = stderr_out().write_all(text.as_bytes());
    }
    after_run_notices(invocation, outcome);
}

/// What boxpy says after the report (or with none): the connections its network proxy
/// refused, then the files the sandbox discarded (not with `--quiet`).
pub fn after_run_notices(invocation: &Invocation, outcome: &Outcome) {
    if invocation.output.quiet {
        return;
    }
    if let Some(text) = outcome.network.as_ref().and_then(format_refusals) {
        after_program_output();
        let _ = stderr_out().write_all(format!("\n{text}").as_bytes());
    }
    discarded_notice(invocation, outcome);
}

/// How many refused hosts the human report lists (`--json` has them all).
const REFUSALS_SHOWN: usize = 10;

/// The human report of the proxy's refusals; `None` when there were none. The hosts are
/// the program's choice: one that is not a host name or an address is not shown (the
/// program could write a sentence there), the others are escaped all the same; the fix
/// is offered as what the program asked for, never as advice to trust it.
pub fn format_refusals(finished: &crate::network::proxy::Finished) -> Option<String> {
    let refused = &finished.refusals;
    let mut lost = Vec::new();
    if finished.unrecorded > 0 {
        lost.push(format!(
            "{} more refused attempts were not recorded (past the record's bound: the program asked for very many hosts)",
            finished.unrecorded
        ));
    }
    if finished.turned_away > 0 {
        lost.push(format!(
            "{} connections were turned away undecided (past the proxy's bound on live connections)",
            finished.turned_away
        ));
    }
    if refused.is_empty() && lost.is_empty() {
        return None;
    }
    let total: u64 = refused.iter().map(|refusal| refusal.count).sum();
    let mut text = format!(
        "boxpy: the network proxy refused {} ({} {}):\n",
        match refused.len() {
            1 => "1 host".to_owned(),
            hosts => format!("{hosts} hosts"),
        },
        total,
        if total == 1 { "attempt" } else { "attempts" },
    );
    for refusal in refused.iter().take(REFUSALS_SHOWN) {
        let times = match refusal.count {
            1 => String::new(),
            count => format!(" ({count}\u{d7})"),
        };
        text.push_str(&format!(
            "  {}{times}: {}\n",
            escape_control(&refusal_target(refusal)),
            escape_control(&refusal_reason(refusal)),
        ));
        if let Some(fix) = refusal_fix(refusal) {
            text.push_str(&format!("    = hint: {}\n", escape_control(&fix)));
        }
    }
    if refused.len() > REFUSALS_SHOWN {
        text.push_str(&format!(
            "  and {} more (`--json` lists them all)\n",
            refused.len() - REFUSALS_SHOWN
        ));
    }
    for line in lost {
        text.push_str(&format!("  {line}\n"));
    }
    Some(text)
}

/// `host:port`, an IPv6 address in brackets; a host that is neither a host name nor an
/// address is described, not shown.
fn refusal_target(refusal: &crate::network::Refusal) -> String {
    use crate::network::rules::Host;
    match Host::parse(&refusal.host) {
        Some(Host::Address(std::net::IpAddr::V6(address))) => {
            format!("[{address}]:{}", refusal.port)
        }
        Some(host) => format!("{host}:{}", refusal.port),
        None => format!(
            "(not a host name: {} characters):{}",
            refusal.host.chars().count(),
            refusal.port
        ),
    }
}

/// Why the proxy refused, in a phrase.
fn refusal_reason(refusal: &crate::network::Refusal) -> String {
    use crate::network::Reason;
    match &refusal.reason {
        Reason::NotAllowed => "no rule of `network.allow` names this host".to_owned(),
        Reason::Port => format!(
            "`network.allow` names this host, but not port {} (a rule without a port allows 80 and 443)",
            refusal.port
        ),
        Reason::Denied { rule } => format!("refused by the `network.deny` rule `{rule}`"),
        Reason::Address { address, class } => format!(
            "the name is allowed, but resolved to {address}, {} (refused unless that address is allowed by address)",
            class.describe()
        ),
    }
}

/// The hint for a refusal: the rule that would allow it, as the flag and the key, or the
/// deny rule to remove (`None` when the host is not one a rule can name).
fn refusal_fix(refusal: &crate::network::Refusal) -> Option<String> {
    if let crate::network::Reason::Denied { rule } = &refusal.reason {
        return Some(format!(
            "the policy refuses it on purpose; to allow it, remove `{rule}` from `network.deny`"
        ));
    }
    if let Some(class) = special_class(refusal) {
        if class == crate::network::rules::AddressClass::Metadata {
            return Some("a cloud metadata service hands out the machine's own credentials: no rule for it is suggested".to_owned());
        }
        let rule = allowing_rule(refusal)?;
        return Some(format!(
            "this is {}: allowing it (`--allow-host {rule}`) lets the program reach whatever listens there; do so only for a service of yours the program should use",
            class.describe()
        ));
    }
    let rule = allowing_rule(refusal)?;
    Some(format!(
        "the program asked for it; if it should reach it, allow it with `--allow-host {rule}`, or add \"{rule}\" to `allow` under `[network]` in the policy"
    ))
}

/// The class of the address a refusal is about, when it is special: the address a name
/// resolved to, or the one asked for.
fn special_class(refusal: &crate::network::Refusal) -> Option<crate::network::rules::AddressClass> {
    use crate::network::rules::{AddressClass, Host};
    match &refusal.reason {
        crate::network::Reason::Address { class, .. } => Some(*class),
        _ => match Host::parse(&refusal.host)? {
            Host::Address(address) => AddressClass::of(address),
            Host::Name(_) => None,
        },
    }
}

/// The `--allow-host` value that would allow a refused connection: the host (with its
/// port unless 80 or 443), or the address for one refused by address; `None` for a deny
/// rule's refusal or a host no rule can name.
fn allowing_rule(refusal: &crate::network::Refusal) -> Option<String> {
    use crate::network::Reason;
    let (host, by_address) = match &refusal.reason {
        Reason::Address {
            class: crate::network::rules::AddressClass::Metadata,
            ..
        } => return None,
        Reason::Address { address, .. } => (address.to_string(), true),
        Reason::Denied { .. } => return None,
        Reason::NotAllowed | Reason::Port => (refusal.host.clone(), false),
    };
    if special_class(refusal) == Some(crate::network::rules::AddressClass::Metadata) {
        return None;
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let rule = match refusal.port {
        80 | 443 if !by_address => host,
        port => format!("{host}:{port}"),
    };
    crate::network::rules::Rule::parse(&rule).ok()?;
    Some(rule)
}

/// Says how many files the program left in its private HOME and `/tmp`, which the
/// sandbox discards, and how to keep them (not with `--quiet`). Counts and boxpy's own
/// paths only: never a name the program chose.
pub fn discarded_notice(invocation: &Invocation, outcome: &Outcome) {
    if invocation.output.quiet {
        return;
    }
    if let Some(text) = format_discarded(&outcome.discarded, &invocation.spec.workdir) {
        after_program_output();
        let _ = writeln!(stderr_out(), "boxpy: notice: {text}");
    }
}

/// The notice for [`discarded_notice`]; `None` when nothing was left.
pub fn format_discarded(
    discarded: &[crate::exec::Discarded],
    workdir: &std::path::Path,
) -> Option<String> {
    use crate::exec::discarded::Place;
    if discarded.is_empty() {
        return None;
    }
    let places: Vec<String> = discarded
        .iter()
        .map(|left| {
            let files = match (left.files, left.capped) {
                (files, true) => format!("at least {files} files"),
                (1, false) => "1 file".to_owned(),
                (files, false) => format!("{files} files"),
            };
            let place = match left.place {
                Place::Tmp => "the sandbox's private /tmp".to_owned(),
                Place::Home => format!(
                    "its private HOME (`{}`)",
                    escape_control(&left.path.to_string_lossy())
                ),
            };
            format!("{files} in {place}")
        })
        .collect();
    Some(format!(
        "the program left {}, discarded when the run ended; to keep files, write them under the working directory (`{}`, or choose one with `-w DIR`) or a host directory mounted with `--rw DIR`",
        places.join(" and "),
        escape_control(&workdir.to_string_lossy())
    ))
}

/// The `--json` result object (SPEC §6). Fields are only ever added, never renamed.
#[derive(Debug, Serialize)]
pub struct JsonResult<'a> {
    pub schema: u32,
    pub status: &'static str,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration_ms: u64,
    /// Borrowed from the run's captured bytes when they are UTF-8 (a copy otherwise).
    pub stdout: std::borrow::Cow<'a, str>,
    pub stderr: std::borrow::Cow<'a, str>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub error: Option<JsonError>,
    pub resources: Option<Resources>,
    pub policy: Option<JsonPolicy>,
    /// Files the program left in its private HOME and `/tmp`, discarded with the sandbox:
    /// `[{"path": "/tmp", "files": 3, "capped": false}]`, empty when none (or not counted).
    pub discarded: Vec<crate::exec::Discarded>,
    /// What the user asked for that weakens the sandbox (the `boxpy: notice:` lines, which
    /// a program's output can scroll away or erase on a terminal), raw.
    pub notices: Vec<String>,
    /// `network.mode = "proxy"`: what the proxy refused (absent in the other modes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<JsonNetwork>,
}

/// The `"network"` object of a run in proxy mode.
#[derive(Debug, Serialize)]
pub struct JsonNetwork {
    /// Each refused `host:port` with its reason and count: refusals by address and by a
    /// deny rule first, then the most asked-for.
    pub refused: Vec<JsonRefusal>,
    /// Refused attempts past the record's bound, not in `refused`.
    pub unrecorded: u64,
    /// Connections turned away undecided, past the proxy's bound on live connections.
    pub turned_away: u64,
}

/// One refused `host:port`: [`crate::network::Refusal`] with the rule that would allow it.
#[derive(Debug, Serialize)]
pub struct JsonRefusal {
    #[serde(flatten)]
    pub refusal: crate::network::Refusal,
    /// The `--allow-host` value that would allow it (null when a deny rule refused it, or
    /// the host is not one a rule can name).
    pub allow_with: Option<String>,
}

impl JsonNetwork {
    fn of(finished: &crate::network::proxy::Finished) -> JsonNetwork {
        JsonNetwork {
            unrecorded: finished.unrecorded,
            turned_away: finished.turned_away,
            refused: finished
                .refusals
                .iter()
                .map(|refusal| JsonRefusal {
                    refusal: refusal.clone(),
                    allow_with: allowing_rule(refusal),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct JsonError {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub hint: Option<String>,
    /// The source line at `file:line`, when Python printed it.
    pub source: Option<String>,
    /// Where the exception was raised, when that is not `file:line`.
    pub raised_at: Option<JsonPlace>,
    /// The earlier exception in the chain (`caused by KeyError: 'x'`).
    pub cause: Option<String>,
    /// `nbexec`: the failing code cell, counted from 1 (`line` is within the cell).
    pub cell: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct JsonPlace {
    pub file: String,
    pub line: Option<u32>,
}

impl From<Diagnosis> for JsonError {
    fn from(diagnosis: Diagnosis) -> JsonError {
        JsonError {
            kind: diagnosis.exception_type,
            message: diagnosis.message,
            cell: diagnosis.location.as_ref().and_then(|place| place.cell),
            file: diagnosis.location.as_ref().map(|place| place.file.clone()),
            line: diagnosis.location.as_ref().and_then(|place| place.line),
            source: diagnosis.location.and_then(|place| place.source),
            hint: diagnosis.hint,
            raised_at: diagnosis.raised_at.map(|place| JsonPlace {
                file: place.file,
                line: place.line,
            }),
            cause: diagnosis.cause,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct JsonPolicy {
    pub name: String,
    /// The network mode (`none`, `localhost`, `full`, `proxy`).
    pub network: &'static str,
    /// The host rules in their canonical text, in proxy mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
}

impl JsonPolicy {
    /// The run's policy as its JSON result names it.
    pub fn of(policy: &crate::policy::Policy) -> JsonPolicy {
        let network = &policy.network;
        let rules = |rules: &[crate::network::rules::Rule]| {
            (network.mode == crate::policy::NetworkMode::Proxy)
                .then(|| rules.iter().map(ToString::to_string).collect())
        };
        JsonPolicy {
            name: policy.name.clone(),
            network: network.mode.as_str(),
            allow: rules(&network.allow),
            deny: rules(&network.deny),
        }
    }
}

/// Builds the JSON result for a run whose sandbox started.
pub fn json_outcome<'a>(invocation: &Invocation, outcome: &'a Outcome) -> JsonResult<'a> {
    let (status, exit_code, signal) = match outcome.status {
        Status::Exited(0) => ("ok", Some(0), None),
        Status::Exited(code) => ("failed", Some(code), None),
        Status::Signaled(signal) => ("killed", Some(128 + signal), Some(signal)),
        Status::TimedOut => ("timeout", Some(i32::from(crate::exit::TIMEOUT)), None),
    };
    let error = diagnose(invocation, outcome).map(JsonError::from);
    JsonResult {
        schema: 1,
        status,
        exit_code,
        signal,
        duration_ms: outcome.duration.as_millis() as u64,
        stdout: utf8_text(&outcome.stdout.bytes),
        stderr: utf8_text(&outcome.stderr.bytes),
        stdout_truncated: outcome.stdout.truncated,
        stderr_truncated: outcome.stderr.truncated,
        error,
        resources: outcome.resources,
        policy: Some(JsonPolicy::of(&invocation.policy)),
        discarded: outcome.discarded.clone(),
        notices: invocation.notices.clone(),
        network: outcome.network.as_ref().map(JsonNetwork::of),
    }
}

/// The JSON result when boxpy failed before the program ran.
pub fn json_error(error: &Error) -> JsonResult<'static> {
    let mut message = error.summary();
    for cause in error.causes() {
        message.push_str(": ");
        message.push_str(&cause);
    }
    JsonResult {
        schema: 1,
        status: "sandbox_error",
        exit_code: Some(i32::from(error.exit_code())),
        signal: None,
        duration_ms: 0,
        stdout: "".into(),
        stderr: "".into(),
        stdout_truncated: false,
        stderr_truncated: false,
        error: Some(JsonError {
            kind: "SandboxError".to_owned(),
            message,
            file: None,
            line: None,
            hint: error.hints().into_iter().next(),
            source: None,
            raised_at: None,
            cause: None,
            cell: None,
        }),
        resources: None,
        policy: None,
        discarded: Vec::new(),
        notices: Vec::new(),
        network: None,
    }
}

/// Prints a JSON result as one line on stdout.
pub fn print_json(result: &JsonResult<'_>) {
    write_json_line(result);
}

/// Writes `value` as one line of JSON on stdout, escaped as [`TerminalSafe`] says, straight
/// into stdout's buffer: a captured output of many megabytes is never copied into a second
/// and third string first.
fn write_json_line(value: &impl serde::Serialize) {
    use std::os::fd::AsFd;
    // Whatever went through std's stdout buffer first; then the object straight to a copy
    // of descriptor 1, waiting out a non-blocking stdout that is full (the caller's
    // choice) instead of leaving a cut-off object.
    let mut standard = std::io::stdout();
    let _ = standard.flush();
    let Ok(stdout) = standard.as_fd().try_clone_to_owned() else {
        return;
    };
    let stdout = std::fs::File::from(stdout);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, Patient(stdout));
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, TerminalSafe);
    if value.serialize(&mut serializer).is_ok() {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

/// boxpy's own stderr for its reports and notices: a copy of descriptor 2, buffered and
/// flushed when dropped, that waits for room when the caller's stderr is non-blocking and
/// full (a report written with `write_all` to it was dropped on EAGAIN).
fn stderr_out() -> Box<dyn Write> {
    use std::os::fd::AsFd;
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::io::BufWriter::new(Patient(std::fs::File::from(fd)))),
        // No descriptor to spare: the report is lost, as a failed write would lose it.
        Err(_) => Box::new(std::io::sink()),
    }
}

/// A writer that waits for room in a non-blocking output ([`crate::exec::write_patiently`]).
struct Patient(std::fs::File);

impl Write for Patient {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        crate::exec::write_patiently(&self.0, bytes).map(|()| bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Prints one diagnosis on stderr (nbexec reports each failed cell).
pub fn print_diagnosis(diagnosis: &Diagnosis, color: ColorChoice) {
    after_program_output();
    let text = format!(
        "\n{}",
        format_diagnosis(diagnosis, &Styles::for_stderr(color))
    );
    let _ = stderr_out().write_all(text.as_bytes());
}

/// A progress line on a terminal, rewritten in place.
pub fn progress(text: &str) {
    // Between cells: the kernel's output so far may have left a sequence open.
    after_program_output();
    let _ = write!(stderr_out(), "\r\x1b[2Kboxpy: {text}");
}

/// Clears the progress line.
pub fn progress_done() {
    let _ = write!(stderr_out(), "\r\x1b[2K");
}

/// Prints a JSON value as one line on stdout (`nbexec --json` adds fields to the result).
pub fn print_json_value(value: &serde_json::Value) {
    write_json_line(value);
}

/// Captured output as text: borrowed when it is UTF-8 (checked by `from_utf8`, several
/// times faster on long ASCII than the lossy decoder), else with U+FFFD for each bad byte.
fn utf8_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The index of the first byte of `bytes` at or above 0x7f (DEL, or part of a non-ASCII
/// character), looking at eight bytes a step.
fn first_non_printable_ascii(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut words = bytes.chunks_exact(8);
    let mut start = 0;
    for word in words.by_ref() {
        let value = u64::from_ne_bytes(word.try_into().unwrap_or_default());
        // A byte >= 0x80 has its high bit set; 0x7f gets it by adding one. A carry out of
        // a byte comes only from 0xff, which is found anyway.
        if (value | value.wrapping_add(ONES)) & HIGH != 0 {
            break;
        }
        start += 8;
    }
    bytes[start..]
        .iter()
        .position(|byte| *byte >= 0x7f)
        .map(|position| start + position)
}

/// serde_json's compact output, but the characters of [`crate::text::needs_escape`] that
/// serde_json leaves raw (it escapes only C0 controls) are written as `\uXXXX` (surrogate
/// pairs beyond the BMP). They occur only inside strings, whose unescaped runs reach the
/// formatter as fragments; a fragment of printable ASCII, the common case, is written as
/// it is without looking at its characters one by one.
struct TerminalSafe;

impl serde_json::ser::Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        loop {
            // Bytes below 0x7f are printable here (serde_json escaped the C0 controls).
            let Some(start) = first_non_printable_ascii(rest.as_bytes()) else {
                return writer.write_all(rest.as_bytes());
            };
            writer.write_all(&rest.as_bytes()[..start])?;
            let mut chars = rest[start..].chars();
            let Some(c) = chars.next() else {
                return Ok(());
            };
            if crate::text::needs_escape(c) {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            } else {
                writer.write_all(c.encode_utf8(&mut [0; 4]).as_bytes())?;
            }
            rest = chars.as_str();
        }
    }
}

/// `boxpy policy list`: the shipped policies and where the lookup finds one here.
pub fn policy_list(
    in_use: &crate::policy::PolicySource,
    search: &crate::settings::discovery::SearchPath,
    config_home: Option<&std::path::Path>,
) -> String {
    use crate::policy::PolicySource;
    let mut text = String::from("shipped policies (compiled in):\n");
    for (name, _, summary) in crate::policy::BUILTIN_POLICIES {
        let mark = if *in_use == PolicySource::Builtin((*name).to_owned()) {
            "*"
        } else {
            " "
        };
        text.push_str(&format!("{mark} {name:<8} {summary}\n"));
    }
    let workdir = search.start.clone();
    text.push_str(&format!(
        "\nlookup for `{}` (first found wins; {}):\n",
        escaped_path(&workdir),
        escape_control(&crate::settings::discovery::describe_stop(&search.stop))
    ));
    let variable = std::env::var("BOXPY_POLICY")
        .ok()
        .filter(|value| !value.is_empty());
    text.push_str(&format!(
        "  $BOXPY_POLICY        {}\n",
        variable
            .as_deref()
            .map(escape_control)
            .unwrap_or(std::borrow::Cow::Borrowed("(not set)"))
    ));
    let user = config_home.map(|home| home.join("boxpy/policy.toml"));
    let state = |path: &std::path::Path| {
        let found = match in_use {
            PolicySource::File(file)
            | PolicySource::Workdir(file)
            | PolicySource::PyProject(file) => file == path,
            PolicySource::Builtin(_) => false,
        };
        if found {
            "* in use"
        } else if path.ends_with("pyproject.toml") && path.exists() {
            if crate::policy::pyproject_names_boxpy(path) {
                "present, not used: an entry above wins"
            } else {
                "present, no `[tool.boxpy]` table: not used"
            }
        } else if path.exists() {
            "present, not used: an entry above wins"
        } else {
            "absent"
        }
    };
    for directory in &search.directories {
        let local = directory.join("boxpy.toml");
        let pyproject = directory.join("pyproject.toml");
        text.push_str(&format!(
            "  boxpy.toml           {} ({})\n",
            escaped_path(&local),
            state(&local)
        ));
        text.push_str(&format!(
            "  [tool.boxpy]         {} ({})\n",
            escaped_path(&pyproject),
            state(&pyproject)
        ));
    }
    if let Some(user) = &user {
        text.push_str(&format!(
            "  user config          {} ({})\n",
            escaped_path(user),
            state(user)
        ));
    }
    let name = match in_use {
        PolicySource::Builtin(name) => format!("the built-in `{name}`"),
        PolicySource::PyProject(path) => format!("`[tool.boxpy]` of `{}`", escaped_path(path)),
        PolicySource::File(path) | PolicySource::Workdir(path) => {
            format!("`{}`", escaped_path(path))
        }
    };
    text.push_str(&format!("\nin use: {name}\n"));
    text
}

/// `boxpy policy trust`'s confirmation: what the file may now do.
pub fn policy_trusted(
    path: &std::path::Path,
    digest: &str,
    widenings: &[crate::policy::trust::Widening],
    extended: &[(std::path::PathBuf, String)],
) -> String {
    let mut text = format!(
        "trusted `{}` (sha256 {})\n",
        escaped_path(path),
        &digest[..digest.len().min(16)]
    );
    for (file, _) in extended {
        text.push_str(&format!(
            "  with the file it extends: `{}`\n",
            escaped_path(file)
        ));
    }
    if widenings.is_empty() {
        text.push_str("it does not widen the built-in default, so it needs no trust\n");
    } else {
        text.push_str("it may now widen the built-in default:\n");
        for widening in widenings {
            text.push_str(&format!("  - {}\n", escape_control(&widening.to_string())));
        }
    }
    text.push_str(
        "any change to it (or to a file it extends) needs `boxpy policy trust` again; `boxpy policy trust --revoke` forgets it\n",
    );
    text
}

/// `boxpy policy trust --revoke`'s confirmation.
pub fn policy_trust_revoked(path: &std::path::Path, forgotten: bool) -> String {
    if forgotten {
        format!("no longer trusted: `{}`\n", escaped_path(path))
    } else {
        format!("`{}` was not trusted\n", escaped_path(path))
    }
}

/// `boxpy policy check`'s verdict on stdout.
pub fn policy_check(file: &std::path::Path, rules: &[String], warnings: &[String]) {
    let mut text = String::new();
    for rule in rules {
        text.push_str(&format!("rule: {}\n", escape_control(rule)));
    }
    for warning in warnings {
        text.push_str(&format!("warning: {}\n", escape_control(warning)));
    }
    text.push_str(&format!(
        "ok: `{}` is a valid policy{}\n",
        escaped_path(file),
        match warnings.len() {
            0 => String::new(),
            1 => " (1 warning)".to_owned(),
            count => format!(" ({count} warnings)"),
        }
    ));
    stdout_text(&text);
}

/// `boxpy doctor`'s report on stdout.
pub fn doctor(checks: &[crate::doctor::Check], json: bool, color: ColorChoice) {
    if json {
        let value = serde_json::json!({
            "ok": !checks.iter().any(|check| check.level == crate::doctor::Level::Error),
            "checks": checks,
        });
        print_json_value(&value);
    } else {
        let enabled = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
            }
        };
        let styles = if enabled {
            Styles::for_stderr(ColorChoice::Always)
        } else {
            Styles::default()
        };
        stdout_text(&format_doctor(checks, &styles));
    }
}

/// The doctor's lines: `ok`/`warning`/`error`, the topic, what was found, the fix.
pub fn format_doctor(checks: &[crate::doctor::Check], styles: &Styles) -> String {
    use crate::doctor::Level;
    let mut text = String::new();
    for check in checks {
        let label = match check.level {
            Level::Ok => format!("{}", "ok     ".style(styles.hint)),
            Level::Warning => format!("{}", "warning".style(styles.bold)),
            Level::Error => format!("{}", "error  ".style(styles.error)),
        };
        // A check quotes what it read (a repository's `pyvenv.cfg`, policy, paths): on one
        // line, escaped, so it cannot add or hide a check's line.
        text.push_str(&format!(
            "{label} {:<17} {}\n",
            check.topic,
            escape_control(&check.what)
        ));
        if let Some(hint) = &check.hint {
            text.push_str(&format!(
                "        {:<17} hint: {}\n",
                "",
                escape_control(hint)
            ));
        }
    }
    text
}

#[cfg(test)]
mod escape_tests {
    use super::*;

    /// `value` as one line of JSON where every character a terminal would obey or hide
    /// ([`crate::text::needs_escape`]: C1 controls, DEL, bidirectional and other format
    /// characters) is written as `\uXXXX`, as serde_json writes C0 controls: the same string to
    /// a JSON reader, nothing to a terminal that shows the object.
    fn json_text(value: &serde_json::Value) -> String {
        let mut text = Vec::new();
        let mut serializer = serde_json::Serializer::with_formatter(&mut text, TerminalSafe);
        // Serialising a `Value` into memory cannot fail, and the escaping keeps it UTF-8.
        let _ = serde::Serialize::serialize(value, &mut serializer);
        String::from_utf8(text).unwrap_or_default()
    }

    /// `--json` output escapes what a terminal would obey (C1 CSI, bidi overrides, DEL) as
    /// `\uXXXX` (surrogate pairs beyond the BMP) and is still the same JSON value.
    #[test]
    fn json_text_escapes_what_a_terminal_obeys() {
        let value = serde_json::json!({
            "help": "x\u{9b}2J\u{202e}evil\u{7f}\u{e0041}é\t\u{1b}",
        });
        let text = json_text(&value);
        assert!(!text.chars().any(crate::text::needs_escape), "{text:?}");
        assert!(
            text.contains("\\u009b") && text.contains("\\u202e") && text.contains("\\udb40\\udc41"),
            "{text}"
        );
        assert!(text.contains('é'), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    /// Long printable runs pass through as serde_json writes them; a character to escape
    /// inside one, or at either end, is found.
    #[test]
    fn json_text_finds_an_escape_anywhere_in_a_long_string() {
        let plain = "x".repeat(100_000);
        let value = serde_json::json!({ "stdout": plain });
        assert_eq!(json_text(&value), serde_json::to_string(&value).unwrap());
        for at in [0, 50_000, 100_000] {
            let mut text = plain.clone();
            text.insert(at, '\u{9b}');
            text.insert(at, '\u{e9}');
            let value = serde_json::json!({ "stdout": text });
            let written = json_text(&value);
            assert!(written.contains("\u{e9}\\u009b"), "at {at}");
            assert!(!written.chars().any(crate::text::needs_escape));
            let back: serde_json::Value = serde_json::from_str(&written).unwrap();
            assert_eq!(back, value);
        }
    }

    #[test]
    fn the_first_byte_past_printable_ascii_is_found_at_every_position() {
        for length in 0..40 {
            for at in 0..=length {
                for byte in [0x7f_u8, 0x80, 0xc3, 0xff] {
                    let mut bytes = vec![b'a'; length];
                    let expected = (at < length).then(|| {
                        bytes[at] = byte;
                        at
                    });
                    assert_eq!(first_non_printable_ascii(&bytes), expected, "{bytes:?}");
                }
            }
        }
        assert_eq!(first_non_printable_ascii(b"~~~~~~~~~~~~ !"), None);
    }

    #[test]
    fn control_characters_are_escaped_and_text_is_kept() {
        assert_eq!(
            escape_control("plain: 'x' \\ é\tend"),
            "plain: 'x' \\ é\tend"
        );
        assert_eq!(
            escape_control("a\rerror: b\x1b[2J\0\x07\x7f\u{9b}\u{202e}c\u{2066}\u{2028}"),
            r"a\rerror: b\x1b[2J\0\x07\x7f\u{9b}\u{202e}c\u{2066}\u{2028}"
        );
    }

    /// An error naming a planted file (or quoting a hostile policy line) keeps its line
    /// breaks and escapes the rest.
    #[test]
    fn errors_escape_what_boxpy_did_not_write() {
        let error = Error::Usage {
            message: "cannot read `a\x1b[2J.ipynb`".to_owned(),
            hint: Some("first\nsecond\r".to_owned()),
        };
        let text = format_error(&error, &Styles::default());
        assert_eq!(
            text,
            "error: cannot read `a\\x1b[2J.ipynb`\n\nhint: first\n      second\\r\n"
        );
    }

    /// A line break in a value (a policy path, a file name) continues the item on a line
    /// indented past every label, so it cannot forge `error:`, `hint:` or `Caused by:`.
    #[test]
    fn a_line_break_in_a_value_cannot_start_a_line_of_boxpys() {
        let error = Error::Policy {
            location: crate::error::PolicyLocation {
                file: "/w/boxpy.toml".to_owned(),
                line: None,
                column: None,
            },
            message:
                "`filesystem.read_write`: `/x\nhint: it is safe\n  Caused by: none` is refused"
                    .to_owned(),
            hint: Some("remove it\nok: trusted".to_owned()),
        };
        let text = format_error(&error, &Styles::default());
        for line in text.lines().filter(|line| !line.is_empty()) {
            assert!(
                line.starts_with("error: ")
                    || line.starts_with("  Caused by: ")
                    || line.starts_with("hint: ")
                    || line.starts_with("      "),
                "{line:?} in\n{text}"
            );
            assert!(
                !line.starts_with("hint: it")
                    && !line.starts_with("  Caused by: none")
                    && !line.starts_with("ok:"),
                "forged: {line:?} in\n{text}"
            );
        }
    }

    /// `doctor` quotes a repository's `pyvenv.cfg` and policy: a value cannot add or hide
    /// a line of the checks.
    #[test]
    fn doctor_lines_are_one_line_each() {
        let checks = [crate::doctor::Check {
            level: crate::doctor::Level::Ok,
            topic: "python".to_owned(),
            what: "venv (Python 3.12.3\x1b[8m\rok      sandbox  all checks passed\nok x)"
                .to_owned(),
            hint: Some("a\nerror  b".to_owned()),
        }];
        let text = format_doctor(&checks, &Styles::default());
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(!text.contains(['\x1b', '\r']), "{text}");
    }

    /// Invisible format characters (zero-width, tags, BOM, soft hyphen) are escaped: they
    /// would hide or rearrange what the reader sees.
    #[test]
    fn format_characters_are_escaped() {
        assert_eq!(
            escape_control("a\u{200b}b\u{feff}c\u{e0041}d\u{ad}e\u{2064}f\u{061c}"),
            r"a\u{200b}b\u{feff}c\u{e0041}d\u{ad}e\u{2064}f\u{61c}"
        );
        assert_eq!(escape_control("é ü ß 中文 🙂"), "é ü ß 中文 🙂");
    }

    /// `policy trust` lists what the file may do: a value in it cannot add, hide or
    /// reorder a line of that list.
    #[test]
    fn policy_trust_and_check_show_values_on_one_line() {
        let widening = crate::policy::trust::Widening {
            key: "filesystem.read_write".to_owned(),
            detail: "`/home/u/.ssh\nit does not widen the built-in default\x1b[8m`".to_owned(),
        };
        let text = policy_trusted(
            std::path::Path::new("/w/boxpy.toml\ntrusted `/x`"),
            "0123456789abcdef0123",
            &[widening],
            &[],
        );
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(!text.contains('\x1b'), "{text}");
        assert!(text.contains(r"/home/u/.ssh\nit does not widen"), "{text}");
        let revoked = policy_trust_revoked(std::path::Path::new("/w/a\rb"), true);
        assert_eq!(revoked, "no longer trusted: `/w/a\\rb`\n");
    }

    /// Every field of the human report that comes from the program is escaped.
    #[test]
    fn refusals_name_the_host_the_reason_and_the_rule_that_allows_it() {
        use crate::network::{rules::AddressClass, Reason, Refusal};
        let refusal = |host: &str, port, reason, count| Refusal {
            host: host.to_owned(),
            port,
            reason,
            count,
        };
        let refused = [
            refusal("evil.example", 443, Reason::NotAllowed, 2),
            refusal("api.example.com", 8443, Reason::Port, 1),
            refusal(
                "secret.example.com",
                443,
                Reason::Denied {
                    rule: "*.example.com".to_owned(),
                },
                1,
            ),
            refusal(
                "localhost",
                8000,
                Reason::Address {
                    address: "127.0.0.1".parse().unwrap(),
                    class: AddressClass::Loopback,
                },
                1,
            ),
            refusal("fd00::1", 80, Reason::NotAllowed, 1),
            refusal("bad\u{1b}[2Jhost", 80, Reason::NotAllowed, 1),
            refusal(
                "pypi.org: allowed (0 refused). boxpy: all good",
                443,
                Reason::NotAllowed,
                1,
            ),
            refusal("p\u{443}pi.org", 443, Reason::NotAllowed, 1),
            refusal(
                "metadata.example.com",
                80,
                Reason::Address {
                    address: "169.254.169.254".parse().unwrap(),
                    class: AddressClass::Metadata,
                },
                1,
            ),
            refusal("169.254.169.254", 80, Reason::NotAllowed, 1),
        ];
        let finished = crate::network::proxy::Finished {
            refusals: refused.to_vec(),
            unrecorded: 3,
            turned_away: 2,
        };
        let text = format_refusals(&finished).expect("a report");
        insta::assert_snapshot!(text);
        assert!(
            !text.contains('\u{1b}') && !text.contains("all good") && !text.contains('\u{443}')
        );
        assert_eq!(
            format_refusals(&crate::network::proxy::Finished::default()),
            None
        );
        let allow: Vec<Option<String>> = refused.iter().map(allowing_rule).collect();
        assert_eq!(
            allow,
            [
                Some("evil.example".to_owned()),
                Some("api.example.com:8443".to_owned()),
                None,
                Some("127.0.0.1:8000".to_owned()),
                Some("[fd00::1]".to_owned()),
                None,
                None,
                None,
                None,
                None,
            ]
        );
    }

    #[test]
    fn the_human_report_escapes_every_field_from_the_program() {
        let place = |file: &str| crate::hints::catalogue::Place {
            file: file.to_owned(),
            line: Some(3),
            source: Some("x = 1\x1b[8m".to_owned()),
            column: None,
            function: Some("f\u{202e}".to_owned()),
            cell: None,
        };
        let diagnosis = Diagnosis {
            exception_type: "Error\x1b]0;t\x07".to_owned(),
            message: "m\r".to_owned(),
            location: Some(place("a\x1b.py")),
            raised_at: Some(place("b\r.py")),
            cause: Some("caused by KeyError: \x1b[31m".to_owned()),
            hint: Some("h\u{9b}".to_owned()),
        };
        let text = format_diagnosis(&diagnosis, &Styles::default());
        assert!(
            !text.chars().any(|c| c != '\n' && needs_escape(c)),
            "{text:?}"
        );
        for escaped in [
            r"Error\x1b]0;t\x07: m\r",
            r"a\x1b.py",
            r"b\r.py",
            r"f\u{202e}",
            r"x = 1\x1b[8m",
            r"h\u{9b}",
        ] {
            assert!(text.contains(escaped), "{escaped} in {text}");
        }
    }
}

#[cfg(test)]
mod policy_object_tests {
    use super::*;
    use crate::policy::{load, LoadContext, NetworkMode, PolicySource};

    /// The run's JSON `"policy"`: `"network"` stays the mode's name; `"allow"` and `"deny"`
    /// are added in proxy mode only (SPEC: fields are only ever added).
    #[test]
    fn the_policy_object_carries_the_rules_in_proxy_mode_only() {
        let context = LoadContext {
            cwd: "/w".into(),
            home: None,
        };
        let pypi = load(&PolicySource::Builtin("pypi".into()), &context).unwrap();
        let json = serde_json::to_value(JsonPolicy::of(&pypi)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "pypi",
                "network": "proxy",
                "allow": ["pypi.org", "files.pythonhosted.org"],
                "deny": [],
            })
        );
        let mut net = load(&PolicySource::Builtin("net".into()), &context).unwrap();
        let json = serde_json::to_value(JsonPolicy::of(&net)).unwrap();
        assert_eq!(json, serde_json::json!({"name": "net", "network": "full"}));
        net.network.mode = NetworkMode::Proxy;
        let json = serde_json::to_value(JsonPolicy::of(&net)).unwrap();
        assert_eq!(json["allow"], serde_json::json!([]));
    }
}
