//! Text that came from elsewhere, made safe to show: escaped so it can neither forge a log line
//! nor send terminal escapes, and cut short where a value pasted into a key field could
//! otherwise reach the logs whole.

/// How many characters of an invalid key name are shown: enough to find it, not enough to
/// log a value that was pasted into the key field.
pub const SHOWN_KEY_CHARS: usize = 64;

/// `text` with every character that could change what a terminal or a log reader shows
/// written as `\u{..}` (as Rust's `escape_debug` does): control characters (newline, CR, ESC
/// of ANSI sequences, C1 controls), the bidirectional overrides and isolates, and the line and
/// paragraph separators. Printable text, non-ASCII and backslashes included, is unchanged (a
/// literal `\u{a}` in the input stays ambiguous to a reader, but cannot forge anything).
pub fn escape(text: &str) -> String {
    if !text.chars().any(needs_escape) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
        || c == '\u{feff}'
}

/// A key name for an error message: quoted, escaped, and cut to [`SHOWN_KEY_CHARS`]
/// characters with `…` (and its length) when longer.
pub fn shorten(key: &str) -> String {
    let count = key.chars().count();
    if count <= SHOWN_KEY_CHARS {
        format!("\"{}\"", escape(key))
    } else {
        let head: String = key.chars().take(SHOWN_KEY_CHARS).collect();
        format!("\"{}…\" ({count} characters)", escape(&head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_makes_forged_lines_and_terminal_escapes_visible() {
        let forged = escape("gone\nshortcut-env: loaded 9 keys\r\u{1b}[31mred\u{202e}");
        assert!(!forged.contains('\n') && !forged.contains('\r') && !forged.contains('\u{1b}'));
        assert!(!forged.contains('\u{202e}'));
        assert_eq!(
            forged,
            "gone\\u{a}shortcut-env: loaded 9 keys\\u{d}\\u{1b}[31mred\\u{202e}"
        );
        assert_eq!(escape("café … ok"), "café … ok");
        assert_eq!(escape("C:\\dir"), "C:\\dir");
    }

    #[test]
    fn shorten_cuts_long_keys_and_escapes_them() {
        assert_eq!(shorten("my-key"), "\"my-key\"");
        let long = "x".repeat(200);
        let shown = shorten(&long);
        assert!(shown.starts_with(&format!("\"{}…\"", "x".repeat(SHOWN_KEY_CHARS))));
        assert!(shown.ends_with("(200 characters)"), "{shown}");
        assert_eq!(shorten("a\nb"), "\"a\\u{a}b\"");
    }
}
