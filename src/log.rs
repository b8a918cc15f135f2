//! The wrapper's own output: one line per event on stderr, as text or JSON.
//!
//! Only names, ids, paths, counts and error descriptions pass through here; the callers never
//! hand it a value. Write errors are ignored: a closed stderr must not stop the application.

use std::io::Write;

use serde_json::{Map, Value, json};

use crate::config::LogFormat;
use crate::error::Error;

const PREFIX: &str = "shortcut-env";

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
                let mut text = match level {
                    "info" => format!("{PREFIX}: {message}\n"),
                    _ => format!("{PREFIX}: {level}: {message}\n"),
                };
                for (label, line) in extra {
                    text.push_str(&format!("{label}: {line}\n"));
                }
                text
            }
            LogFormat::Json => {
                let mut object = Map::new();
                object.insert("level".into(), json!(level));
                object.insert("message".into(), json!(message));
                object.extend(fields);
                format!("{}\n", Value::Object(object))
            }
        };
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}
