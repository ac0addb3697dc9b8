//! Text boxpy repeats from elsewhere (the program's output, a policy, a file name), made
//! safe to show: escaping for a terminal ([`escape_control`]) and quoting for a shell
//! ([`shell_quote`]). A leaf: every layer that words a message may use it.

/// Whether boxpy escapes `c` when it repeats the program's text on a terminal: C0 and C1
/// controls (CR rewrites boxpy's own line, ESC starts a terminal sequence, NUL, BEL, ...),
/// DEL, every format character (Unicode category Cf: the bidirectional overrides and
/// isolates, which reorder what the reader sees, zero-width spaces and joiners, the byte
/// order mark, tag characters, invisible operators, soft hyphen) and the Unicode line and
/// paragraph separators, and what shows as nothing ([`is_invisible`]). Tab is kept.
pub fn needs_escape(c: char) -> bool {
    if c.is_ascii() {
        return (c < ' ' && c != '\t') || c == '\x7f';
    }
    (c.is_control() && c != '\t')
        || is_format_character(c)
        || is_invisible(c)
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Characters that are not format characters but show as nothing, or as a blank that is
/// not a space: the Hangul fillers (letters by category, so `ㅤ` passes for part of a
/// name), the Braille blank, the Khmer inherent vowels, the combining grapheme joiner,
/// and the Mongolian free variation selectors. (Not the variation selectors: emoji need
/// them, and they only change the glyph before them.)
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{115f}'
            | '\u{1160}'
            | '\u{3164}'
            | '\u{ffa0}'
            | '\u{2800}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{034f}'
            | '\u{180b}'..='\u{180d}' | '\u{180f}'
    )
}

/// Unicode's general category Cf (format characters), as of Unicode 15.1: invisible,
/// and several change how the text around them is shown.
fn is_format_character(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061c}'
            | '\u{06dd}'
            | '\u{070f}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

/// The program's text as boxpy shows it in a human report: every character of
/// [`needs_escape`] written as an escape (`\r`, `\x1b`, `\u{202e}`); a backslash itself stays.
/// `--json` carries the raw text instead.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\0' => out.push_str("\\0"),
            c if needs_escape(c) && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A path in boxpy's own text: on one line, escaped as [`escape_control`] does (a policy's
/// or the program's path may hold a line break or a terminal sequence).
pub fn escaped_path(path: &std::path::Path) -> String {
    escape_control(&path.to_string_lossy()).into_owned()
}

/// Quotes `text` for a POSIX shell when it needs it.
pub fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c));
    if safe {
        text.to_owned()
    } else if text.chars().any(needs_escape) {
        // bash's `$'...'`: still one pasteable word, and a terminal shows every character
        // as an escape instead of obeying it (a path named with ESC and CR would otherwise
        // rewrite the `-v` lines).
        let mut quoted = String::from("$'");
        for c in text.chars() {
            match c {
                '\\' => quoted.push_str("\\\\"),
                '\'' => quoted.push_str("\\'"),
                c if needs_escape(c) && (c as u32) < 0x80 => {
                    quoted.push_str(&format!("\\x{:02x}", c as u32))
                }
                c if needs_escape(c) => quoted.push_str(&format!("\\U{:08x}", c as u32)),
                c => quoted.push(c),
            }
        }
        quoted.push('\'');
        quoted
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("--ro-bind"), "--ro-bind");
        assert_eq!(shell_quote("/a b"), "'/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        // Characters a terminal would obey: ANSI-C quoting, one line, bash reads it back.
        assert_eq!(
            shell_quote("v\x1b[2K\rboxpy: it's\n\u{202e}"),
            r"$'v\x1b[2K\x0dboxpy: it\'s\x0a\U0000202e'"
        );
        let quoted = shell_quote("a\x1b\\b'\r\u{200b}");
        let output = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("printf %s {quoted}"))
            .output()
            .unwrap();
        assert_eq!(output.stdout, "a\x1b\\b'\r\u{200b}".as_bytes());
    }
}
