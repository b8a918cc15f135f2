//! The secret's JSON text → entries → the command's environment, as a start does it, plus the
//! ways a reference can select from it and the GCP key check. No input may panic, and what
//! comes out must obey the rules: valid names, no NUL, protected names untouched, and no value
//! in an error or a `Debug` print.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use shortcut_env_core::envmap::{self, Policy};
use shortcut_env_core::payload;
use shortcut_env_core::reference::{self, Reference};
use shortcut_env_core::vars::Vars;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let inherited: Vars = [
        ("PATH", "/usr/bin:/bin"),
        ("HOME", "/home/app"),
        ("KEEP", "x"),
    ]
    .into_iter()
    .collect();
    if let Ok(entries) = envmap::parse_secret("fuzz/secret", text) {
        // It was a JSON object: the same text is one for serde_json too.
        assert!(matches!(
            serde_json::from_str::<serde_json::Value>(text),
            Ok(serde_json::Value::Object(_))
        ));
        // Names and values are checked after selection, by `build`: what it applies is valid.
        if let Ok(built) = envmap::build(
            &inherited,
            std::slice::from_ref(&entries),
            &Policy::default(),
        ) {
            assert_eq!(built.env.get("PATH"), inherited.get("PATH"));
            assert_eq!(built.env.get("HOME"), inherited.get("HOME"));
            for key in &built.applied {
                assert!(envmap::is_valid_name(key), "{key:?}");
                assert!(!envmap::is_protected(key), "{key}");
                assert!(built.env.contains(key), "{key}");
            }
        }
    }
    for selector in ["fuzz/secret:KEY", "VAR=fuzz/secret:KEY", "VAR=fuzz/secret"] {
        if let Ok(selector) = reference::parse(selector) {
            // Selection itself must not panic; its names are checked by `build`, as above.
            let _ = envmap::select(&selector, "fuzz/secret", text);
        }
    }
    let _ = shortcut_env_core::payload::validate_gcp_json(text);
    payloads(data, text);
    no_value_in_messages(text);
});

/// The bytes as what Secrets Manager may answer, a SecretString or a SecretBinary, for each
/// kind of reference: turning a payload into entries never panics, and its `Debug` shows no
/// value (checked on a marked copy, so that input spelling part of the `Debug` text is no leak).
fn payloads(data: &[u8], text: &str) {
    let payload = |reference: &Reference, string: Option<String>, binary: Option<Vec<u8>>| {
        payload::Payload::Secret {
            reference: reference.clone(),
            region: "us-east-1".into(),
            text: string,
            binary,
            version_id: None,
            version_stages: Vec::new(),
            failover: None,
        }
    };
    for selector in ["fuzz/secret", "fuzz/secret:KEY", "VAR=fuzz/secret"] {
        let Ok(reference) = reference::parse(selector) else {
            continue;
        };
        let _ = payload::entries(&payload(&reference, Some(text.to_string()), None));
        let _ = payload::entries(&payload(&reference, None, Some(data.to_vec())));
        let marked = format!("{MARK}{text}");
        let shown = format!(
            "{:?}",
            payload(&reference, Some(marked.clone()), Some(marked.into_bytes()))
        );
        assert!(!shown.contains(MARK), "{shown}");
    }
}

const MARK: &str = "zqLEAKqz";

/// The same object with every string value (not key) replaced by a marker: whatever the
/// outcome, the marker is in no message and no `Debug` print.
fn no_value_in_messages(text: &str) {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return;
    };
    if text.contains("zqLEAK") || object.keys().any(|k| k.contains(MARK)) {
        return;
    }
    let marked = mark(Value::Object(object)).to_string();
    let shown = match envmap::parse_secret("fuzz/secret", &marked) {
        Ok(entries) => format!("{entries:?}"),
        Err(e) => format!("{e} {e:?} {}", e.hint()),
    };
    assert!(!shown.contains(MARK), "{shown}");
    for selector in ["fuzz/secret:KEY", "VAR=fuzz/secret:KEY"] {
        if let Ok(selector) = reference::parse(selector) {
            let shown = match envmap::select(&selector, "fuzz/secret", &marked) {
                Ok(entries) => format!("{entries:?}"),
                Err(e) => format!("{e} {e:?} {}", e.hint()),
            };
            assert!(!shown.contains(MARK), "{shown}");
        }
    }
}

fn mark(value: Value) -> Value {
    match value {
        // Keep a NUL, so that the NUL rule's message is checked too.
        Value::String(s) if s.contains('\0') => Value::String(format!("{MARK}\0")),
        Value::String(_) => Value::String(MARK.into()),
        Value::Array(items) => Value::Array(items.into_iter().map(mark).collect()),
        Value::Object(members) => {
            Value::Object(members.into_iter().map(|(k, v)| (k, mark(v))).collect())
        }
        other => other,
    }
}
