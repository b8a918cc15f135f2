//! Secret → environment: the rules of the README's "Secret to environment" section.
//!
//! Pure: JSON text and a snapshot in, the command's environment and warnings out. Errors and
//! warnings name keys, never values; serde_json's own messages (positions only) are the only
//! parser text passed on.

use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::error::Error;
use crate::vars::Vars;

/// Names a secret may not set unless allowed one by one: the process basics, the dynamic
/// loader's knobs, the wrapper's own configuration and the path we set ourselves.
const PROTECTED_NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "SHELL",
    "PWD",
    "APP_ENV",
    "GOOGLE_APPLICATION_CREDENTIALS",
];
const PROTECTED_PREFIXES: &[&str] = &["LD_", "AWS_", "SECRET_", "SHORTCUT_ENV_"];

pub fn is_protected(name: &str) -> bool {
    PROTECTED_NAMES.contains(&name) || PROTECTED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// `[A-Za-z_][A-Za-z0-9_]*`: what every shell and `env` accepts.
pub fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A value that must not be printed. `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> Self {
        SecretValue(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted, {} bytes>", self.0.len())
    }
}

/// What kind of source entries come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SourceKind {
    #[default]
    Secret,
    DotEnv,
}

/// The key/value pairs of one source (a secret, a dotenv file), in their order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entries {
    /// Where they came from, for messages: the secret id or the file path.
    pub source: String,
    pub kind: SourceKind,
    pub pairs: Vec<(String, SecretValue)>,
    /// Keys whose JSON value was `null`, skipped.
    pub nulls: Vec<String>,
}

/// Parses a secret's JSON text into entries, checking the rules for names and values.
pub fn parse_secret(source: &str, text: &str) -> Result<Entries, Error> {
    let not_object = |found: String| Error::SecretNotObject {
        secret: source.to_string(),
        found,
    };
    if text.trim().is_empty() {
        return Err(not_object("the secret string is empty".into()));
    }
    // First pass: is it JSON, and an object? serde_json's messages hold positions, not input.
    let value: Value =
        serde_json::from_str(text).map_err(|e| not_object(format!("not valid JSON ({e})")))?;
    let kind = match &value {
        Value::Object(_) => None,
        Value::Array(_) => Some("a JSON array"),
        Value::String(_) => Some("a JSON string"),
        Value::Number(_) => Some("a JSON number"),
        Value::Bool(_) => Some("a JSON boolean"),
        Value::Null => Some("JSON null"),
    };
    if let Some(kind) = kind {
        return Err(not_object(format!("found {kind}")));
    }
    drop(value);
    // Second pass keeps the keys in order and sees duplicates, which a map would merge silently.
    let RawObject(raw) =
        serde_json::from_str(text).map_err(|e| not_object(format!("not valid JSON ({e})")))?;
    let mut entries = Entries {
        source: source.to_string(),
        ..Entries::default()
    };
    let mut seen = HashSet::new();
    for (key, value) in raw {
        if !is_valid_name(&key) {
            return Err(Error::InvalidKeyName {
                source_name: source.to_string(),
                key,
            });
        }
        if !seen.insert(key.clone()) {
            return Err(Error::DuplicateKey {
                source_name: source.to_string(),
                key,
            });
        }
        let text = match value {
            Value::Null => {
                entries.nulls.push(key);
                continue;
            }
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            nested @ (Value::Array(_) | Value::Object(_)) => nested.to_string(),
        };
        if text.contains('\0') {
            return Err(Error::NulInValue {
                source_name: source.to_string(),
                key,
            });
        }
        entries.pairs.push((key, SecretValue(text)));
    }
    Ok(entries)
}

/// A JSON object as its list of members, duplicates included.
struct RawObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(member) = map.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(RawObject(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// Which side wins when a key is both inherited and in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precedence {
    /// A secret: its values replace inherited ones (unless `--preserve-env`).
    SourceWins,
    /// A dotenv file, or `--preserve-env`: what is already set stays.
    InheritedWins,
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Protected names this run may set anyway (`--allow-key`).
    pub allowed: Vec<String>,
}

/// The command's environment and what the operator should hear about it.
#[derive(Debug, Default)]
pub struct Built {
    pub env: Vars,
    /// Keys the source set in the environment.
    pub applied: Vec<String>,
    pub warnings: Vec<String>,
}

/// Merges `entries` over `inherited` following `precedence` and the protected-name policy.
pub fn build(
    inherited: &Vars,
    entries: &Entries,
    precedence: Precedence,
    policy: &Policy,
) -> Built {
    let mut built = Built {
        env: inherited.clone(),
        ..Built::default()
    };
    let (mut protected, mut overwritten, mut kept) = (Vec::new(), Vec::new(), Vec::new());
    for (key, value) in &entries.pairs {
        if is_protected(key) && !policy.allowed.iter().any(|a| a == key) {
            protected.push(key.as_str());
            continue;
        }
        if inherited.contains(key) {
            match precedence {
                Precedence::InheritedWins => {
                    kept.push(key.as_str());
                    continue;
                }
                Precedence::SourceWins => overwritten.push(key.as_str()),
            }
        }
        built.env.insert(key, value.expose());
        built.applied.push(key.clone());
    }
    let source = &entries.source;
    if !entries.nulls.is_empty() {
        built.warnings.push(format!(
            "skipped keys with null values in {source}: {}",
            entries.nulls.join(", ")
        ));
    }
    if !protected.is_empty() {
        built.warnings.push(format!(
            "skipped protected names in {source}: {} (allow one with --allow-key NAME)",
            protected.join(", ")
        ));
    }
    if !overwritten.is_empty() {
        built.warnings.push(format!(
            "values from {source} override inherited variables: {} (use --preserve-env to keep \
             the inherited values)",
            overwritten.join(", ")
        ));
    }
    // Keeping inherited values over a dotenv file is the dotenv norm, not worth a warning.
    if !kept.is_empty() && entries.kind == SourceKind::Secret {
        built.warnings.push(format!(
            "inherited variables kept over values from {source} (--preserve-env): {}",
            kept.join(", ")
        ));
    }
    if entries.kind == SourceKind::Secret && entries.pairs.is_empty() && entries.nulls.is_empty() {
        built.warnings.push(format!("{source} has no keys"));
    }
    built
}

/// The keys of `required` that the environment does not have. A materialized GCP file counts
/// for GOOGLE_APPLICATION_CREDENTIALS.
pub fn missing_required(env: &Vars, required: &[String]) -> Vec<String> {
    required
        .iter()
        .filter(|key| {
            !(env.contains(key)
                || key.as_str() == "GOOGLE_APPLICATION_CREDENTIALS"
                    && env.contains("GOOGLE_APPLICATION_CREDENTIALS_JSON"))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(entries: &Entries, key: &str) -> Option<String> {
        entries
            .pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.expose().to_string())
    }

    #[test]
    fn values_become_text_by_their_json_type() {
        let entries = parse_secret(
            "s",
            r#"{"S":"text","N":19530,"F":1.5,"T":true,"O":{"a":[1, 2]},"A":[ "x" ],"Z":null}"#,
        )
        .unwrap();
        let cases = [
            ("S", Some("text")),
            ("N", Some("19530")),
            ("F", Some("1.5")),
            ("T", Some("true")),
            ("O", Some(r#"{"a":[1,2]}"#)),
            ("A", Some(r#"["x"]"#)),
            ("Z", None),
        ];
        for (key, expected) in cases {
            assert_eq!(value(&entries, key).as_deref(), expected, "{key}");
        }
        assert_eq!(entries.nulls, ["Z"]);
        let order: Vec<&str> = entries.pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(order, ["S", "N", "F", "T", "O", "A"]);
    }

    #[test]
    fn unusable_secrets_are_data_errors_that_never_quote_the_value() {
        let cases = [
            ("", "secret-not-object"),
            ("   ", "secret-not-object"),
            ("hunter2-marker", "secret-not-object"),
            (r#"["hunter2-marker"]"#, "secret-not-object"),
            (r#""hunter2-marker""#, "secret-not-object"),
            ("42", "secret-not-object"),
            ("null", "secret-not-object"),
            (r#"{"A":"hunter2-marker""#, "secret-not-object"),
            (r#"{"1ABC":"hunter2-marker"}"#, "invalid-key-name"),
            (r#"{"A-B":"hunter2-marker"}"#, "invalid-key-name"),
            (r#"{"A=B":"hunter2-marker"}"#, "invalid-key-name"),
            (r#"{"":"hunter2-marker"}"#, "invalid-key-name"),
            (r#"{"ÄÖ":"hunter2-marker"}"#, "invalid-key-name"),
            (r#"{"A":"hunter2-marker\u0000"}"#, "nul-in-value"),
            (r#"{"A":"hunter2-marker","A":"x"}"#, "duplicate-key"),
        ];
        for (text, kind) in cases {
            let err = parse_secret("short-cut/prod/app", text).unwrap_err();
            assert_eq!(err.kind(), kind, "{text}");
            assert_eq!(err.exit_code(), 65);
            let shown = format!("{err} {err:?} {}", err.hint());
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    #[test]
    fn secret_wins_and_overrides_are_named() {
        let inherited: Vars = [("MILVUS_HOST", "old"), ("KEEP", "k")]
            .into_iter()
            .collect();
        let entries =
            parse_secret("short-cut/prod/app", r#"{"MILVUS_HOST":"new","X":"1"}"#).unwrap();
        let built = build(
            &inherited,
            &entries,
            Precedence::SourceWins,
            &Policy::default(),
        );
        assert_eq!(built.env.get("MILVUS_HOST").unwrap(), "new");
        assert_eq!(built.env.get("KEEP").unwrap(), "k");
        assert_eq!(built.applied, ["MILVUS_HOST", "X"]);
        assert_eq!(built.warnings.len(), 1);
        assert!(built.warnings[0].contains("override inherited variables: MILVUS_HOST"));
        assert!(!built.warnings[0].contains("new") || !built.warnings[0].contains("old"));

        let built = build(
            &inherited,
            &entries,
            Precedence::InheritedWins,
            &Policy::default(),
        );
        assert_eq!(built.env.get("MILVUS_HOST").unwrap(), "old");
        assert_eq!(built.applied, ["X"]);
        assert!(built.warnings[0].contains("kept"), "{:?}", built.warnings);
    }

    #[test]
    fn protected_names_are_skipped_unless_allowed() {
        let entries = parse_secret(
            "s",
            r#"{"PATH":"/evil","LD_PRELOAD":"x","AWS_ACCESS_KEY_ID":"x","SECRET_NAME":"x",
                "SHORTCUT_ENV_TIMEOUT":"1","GOOGLE_APPLICATION_CREDENTIALS":"/x","APP_ENV":"x",
                "HOME":"x","OK":"1","GOOGLE_APPLICATION_CREDENTIALS_JSON":"{}"}"#,
        )
        .unwrap();
        let built = build(
            &Vars::default(),
            &entries,
            Precedence::SourceWins,
            &Policy::default(),
        );
        assert_eq!(built.applied, ["OK", "GOOGLE_APPLICATION_CREDENTIALS_JSON"]);
        assert!(built.warnings[0].contains("PATH, LD_PRELOAD, AWS_ACCESS_KEY_ID, SECRET_NAME"));
        let policy = Policy {
            allowed: vec!["HOME".into()],
        };
        let built = build(&Vars::default(), &entries, Precedence::SourceWins, &policy);
        assert_eq!(built.env.get("HOME").unwrap(), "x");
    }

    #[test]
    fn names_are_validated() {
        for good in ["A", "_", "a1", "OPENAI_API_KEY", "_X9"] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "1A", "A-B", "A B", "A=B", "Ä", "A.B"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn empty_object_starts_with_a_warning() {
        let entries = parse_secret("s", "{}").unwrap();
        let built = build(
            &Vars::default(),
            &entries,
            Precedence::SourceWins,
            &Policy::default(),
        );
        assert!(built.warnings[0].contains("no keys"));
    }

    #[test]
    fn required_keys_are_all_reported() {
        let env: Vars = [("A", "1"), ("GOOGLE_APPLICATION_CREDENTIALS_JSON", "{}")]
            .into_iter()
            .collect();
        let required = ["A", "B", "C", "GOOGLE_APPLICATION_CREDENTIALS"].map(String::from);
        assert_eq!(missing_required(&env, &required), ["B", "C"]);
    }

    #[test]
    fn secret_values_are_redacted_in_debug() {
        let entries = parse_secret("s", r#"{"K":"hunter2-marker"}"#).unwrap();
        assert!(!format!("{entries:?}").contains("hunter2"));
    }
}
