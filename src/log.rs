//! The wrapper's own output: one line per event on stderr, as text or JSON.
//!
//! Only names, ids, paths, counts and error descriptions pass through here; the callers never
//! hand it a value. Write errors are ignored: a closed stderr must not stop the application.
//!
//! Much of what is logged came from outside (AWS error messages, version ids and stages, key
//! names, credential-provider errors): every line and every JSON field goes through
//! [`escape`], so that such text can neither forge a line (`\n` + `shortcut-env: loaded …`)
//! nor send terminal escapes.

use std::io::Write;

use serde_json::{Map, Value, json};

use crate::config::LogFormat;
use crate::error::Error;

const PREFIX: &str = "shortcut-env";

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

/// Escapes every string inside a JSON value (JSON escapes newlines itself, but not ANSI
/// escapes for a terminal that shows the raw line).
fn escape_json(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(escape(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(escape_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (escape(&k), escape_json(v)))
                .collect(),
        ),
        other => other,
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Logger {
    format: LogFormat,
}

impl Logger {
    /// Text logs, usable in a `static` (the signal thread's, before the format is known).
    pub const TEXT: Logger = Logger {
        format: LogFormat::Text,
    };

    pub fn new(format: LogFormat) -> Self {
        Logger { format }
    }

    /// An informational line; `fields` are added to the JSON form.
    pub fn info(&self, message: &str, fields: Map<String, Value>) {
        self.emit("info", message, fields, &[]);
    }

    pub fn warn(&self, message: &str) {
        self.emit("warning", message, Map::new(), &[]);
    }

    /// The `error:` line and its `hint:` line (or one JSON object holding both).
    pub fn error(&self, error: &Error) {
        let mut fields = Map::new();
        fields.insert("error".into(), json!(error.kind()));
        fields.insert("exit_code".into(), json!(error.exit_code()));
        fields.insert("hint".into(), json!(error.hint()));
        self.emit(
            "error",
            &error.to_string(),
            fields,
            &[("hint", &error.hint())],
        );
    }

    fn emit(&self, level: &str, message: &str, fields: Map<String, Value>, extra: &[(&str, &str)]) {
        let text = match self.format {
            LogFormat::Text => {
                let message = escape(message);
                let mut text = match level {
                    "info" => format!("{PREFIX}: {message}\n"),
                    _ => format!("{PREFIX}: {level}: {message}\n"),
                };
                for (label, line) in extra {
                    text.push_str(&format!("{label}: {}\n", escape(line)));
                }
                text
            }
            LogFormat::Json => {
                let mut object = Map::new();
                object.insert("level".into(), json!(level));
                object.insert("message".into(), json!(message));
                object.extend(fields);
                format!("{}\n", escape_json(Value::Object(object)))
            }
        };
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
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

    #[test]
    fn json_strings_are_escaped_too() {
        let value = escape_json(json!({"version_id": "v\u{1b}[2J", "n": 1, "list": ["\n"]}));
        assert_eq!(value["version_id"], "v\\u{1b}[2J");
        assert_eq!(value["list"][0], "\\u{a}");
        assert_eq!(value["n"], 1);
    }
}
