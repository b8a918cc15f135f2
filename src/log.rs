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

pub(crate) use shortcut_env_core::text::escape;

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
pub(crate) struct Logger {
    format: LogFormat,
}

impl Logger {
    /// Text logs, usable in a `static` (the signal thread's, before the format is known).
    pub(crate) const TEXT: Logger = Logger {
        format: LogFormat::Text,
    };

    pub(crate) fn new(format: LogFormat) -> Self {
        Logger { format }
    }

    /// An informational line; `fields` are added to the JSON form.
    pub(crate) fn info(&self, message: &str, fields: Map<String, Value>) {
        self.emit("info", message, fields, &[]);
    }

    pub(crate) fn warn(&self, message: &str) {
        self.emit("warning", message, Map::new(), &[]);
    }

    /// The `error:` line and its `hint:` line (or one JSON object holding both).
    pub(crate) fn error(&self, error: &Error) {
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

    /// An error that does not end the process (`--watch`: a failed poll, a rejected new
    /// value), as one warning line: `context`, the error's message, and where its entry in
    /// docs/troubleshooting.md is; JSON adds the error's kind and hint and `fields`. Not an
    /// `error:` line: those are the one failure a process reports, and the command runs on.
    pub(crate) fn warn_error(&self, context: &str, error: &Error, mut fields: Map<String, Value>) {
        fields.insert("error".into(), json!(error.kind()));
        fields.insert("hint".into(), json!(error.hint()));
        self.emit(
            "warning",
            &format!(
                "{context}: {error} (see docs/troubleshooting.md#{})",
                error.kind()
            ),
            fields,
            &[],
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
    fn json_strings_are_escaped_too() {
        let value = escape_json(json!({"version_id": "v\u{1b}[2J", "n": 1, "list": ["\n"]}));
        assert_eq!(value["version_id"], "v\\u{1b}[2J");
        assert_eq!(value["list"][0], "\\u{a}");
        assert_eq!(value["n"], 1);
    }
}
