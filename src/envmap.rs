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
use crate::reference::Reference;
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
    let mut entries = Entries {
        source: source.to_string(),
        ..Entries::default()
    };
    let mut seen = HashSet::new();
    for (key, value) in parse_members(source, text)? {
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
        let Some(text) = value_text(value) else {
            entries.nulls.push(key);
            continue;
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

/// A value as environment text: strings as they are, numbers and booleans as their JSON text,
/// objects and arrays as compact JSON; `None` for null.
fn value_text(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        nested @ (Value::Array(_) | Value::Object(_)) => Some(nested.to_string()),
    }
}

/// The members of the JSON object `text`, in order, duplicates included.
fn parse_members(source: &str, text: &str) -> Result<Vec<(String, Value)>, Error> {
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
    Ok(raw)
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

/// Which inherited variables win over the source's values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Preserve {
    /// The secret wins (the default for secrets).
    #[default]
    None,
    /// Every inherited variable wins (`--preserve-env`; always so for a dotenv file).
    All,
    /// Only these (`--preserve-env=A,B`).
    Names(Vec<String>),
}

impl Preserve {
    pub fn from_list(names: Vec<String>) -> Self {
        if names.is_empty() {
            Preserve::All
        } else {
            Preserve::Names(names)
        }
    }

    fn keeps(&self, name: &str) -> bool {
        match self {
            Preserve::None => false,
            Preserve::All => true,
            Preserve::Names(names) => names.iter().any(|n| n == name),
        }
    }
}

/// What the operator chose about the keys: applied in this order, as `--help` says.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `--only`: keep only the keys matching one of these (empty: all).
    pub only: Vec<glob::Pattern>,
    /// `--exclude`: drop the keys matching one of these.
    pub exclude: Vec<glob::Pattern>,
    /// `--map FROM=TO`, checked against protected names when configured.
    pub map: Vec<(String, String)>,
    /// `--prefix`: added to every key not renamed by `map`.
    pub prefix: Option<String>,
    /// Protected names this run may set anyway (`--allow-key`).
    pub allowed: Vec<String>,
    /// Inherited variables that win over the source.
    pub preserve: Preserve,
}

impl Policy {
    /// The variable name a source key becomes, or `None` when it is not selected.
    pub fn target(&self, key: &str) -> Option<String> {
        if !self.only.is_empty() && !self.only.iter().any(|p| p.matches(key)) {
            return None;
        }
        if self.exclude.iter().any(|p| p.matches(key)) {
            return None;
        }
        if let Some((_, to)) = self.map.iter().find(|(from, _)| from == key) {
            return Some(to.clone());
        }
        Some(match &self.prefix {
            Some(prefix) => format!("{prefix}{key}"),
            None => key.to_string(),
        })
    }
}

/// The command's environment and what the operator should hear about it.
#[derive(Debug, Default)]
pub struct Built {
    pub env: Vars,
    /// Names the sources set in the environment, in order, each once.
    pub applied: Vec<String>,
    /// For each applied name, the source it came from (a secret id, a file path).
    pub origins: std::collections::BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// Merges the `sources` (later ones win on equal names) over `inherited`, following `policy`.
/// A dotenv file never overrides inherited variables, as with every dotenv tool.
pub fn build(inherited: &Vars, sources: &[Entries], policy: &Policy) -> Built {
    let mut built = Built {
        env: inherited.clone(),
        ..Built::default()
    };
    let (mut protected, mut overwritten, mut kept, mut unselected) =
        (Vec::new(), Vec::new(), Vec::new(), 0usize);
    let mut shadowed: Vec<String> = Vec::new();
    for entries in sources {
        for (key, value) in &entries.pairs {
            let Some(name) = policy.target(key) else {
                unselected += 1;
                continue;
            };
            if is_protected(&name) && !policy.allowed.contains(&name) {
                protected.push(name);
                continue;
            }
            if inherited.contains(&name) {
                if entries.kind == SourceKind::DotEnv || policy.preserve.keeps(&name) {
                    if entries.kind == SourceKind::Secret && !kept.contains(&name) {
                        kept.push(name);
                    }
                    continue;
                }
                if !overwritten.contains(&name) {
                    overwritten.push(name.clone());
                }
            }
            if let Some(earlier) = built.origins.get(&name) {
                shadowed.push(format!("{name} ({} over {earlier})", entries.source));
            } else {
                built.applied.push(name.clone());
            }
            built.env.insert(&name, value.expose());
            built.origins.insert(name, entries.source.clone());
        }
        if !entries.nulls.is_empty() {
            built.warnings.push(format!(
                "skipped keys with null values in {}: {}",
                entries.source,
                entries.nulls.join(", ")
            ));
        }
        if entries.kind == SourceKind::Secret
            && entries.pairs.is_empty()
            && entries.nulls.is_empty()
        {
            built
                .warnings
                .push(format!("{} has no keys", entries.source));
        }
    }
    if !protected.is_empty() {
        built.warnings.push(format!(
            "skipped protected names: {} (allow one with --allow-key NAME)",
            protected.join(", ")
        ));
    }
    if !shadowed.is_empty() {
        built.warnings.push(format!(
            "later secrets override earlier ones: {}",
            shadowed.join(", ")
        ));
    }
    if !overwritten.is_empty() {
        built.warnings.push(format!(
            "secret values override inherited variables: {} (use --preserve-env to keep the \
             inherited values)",
            overwritten.join(", ")
        ));
    }
    if !kept.is_empty() {
        built.warnings.push(format!(
            "inherited variables kept over secret values (--preserve-env): {}",
            kept.join(", ")
        ));
    }
    if unselected > 0 && built.applied.is_empty() {
        built
            .warnings
            .push("--only/--exclude selected none of the keys".to_string());
    }
    built
}

/// The entries one reference gives from its secret's text: every key of the JSON object, one
/// key (`:JSON_KEY`, under its own name or `VAR=`), or the whole text as `VAR=`.
pub fn select(reference: &Reference, source: &str, text: &str) -> Result<Entries, Error> {
    match (&reference.json_key, &reference.target) {
        (None, None) => parse_secret(source, text),
        (None, Some(target)) => {
            if text.contains('\0') {
                return Err(Error::NulInValue {
                    source_name: source.to_string(),
                    key: target.clone(),
                });
            }
            Ok(Entries {
                source: source.to_string(),
                pairs: vec![(target.clone(), SecretValue(text.to_string()))],
                ..Entries::default()
            })
        }
        (Some(key), target) => {
            // Keys that are not variable names may be picked by a VAR= reference, so the
            // object is read without the name rule; the value rules still apply.
            let members = parse_members(source, text)?;
            let Some((_, value)) = members.into_iter().rev().find(|(k, _)| k == key) else {
                return Err(Error::JsonKeyMissing {
                    secret: source.to_string(),
                    key: key.clone(),
                });
            };
            let name = target.clone().unwrap_or_else(|| key.clone());
            let mut entries = Entries {
                source: source.to_string(),
                ..Entries::default()
            };
            match value_text(value) {
                None => entries.nulls.push(name),
                Some(text) if text.contains('\0') => {
                    return Err(Error::NulInValue {
                        source_name: source.to_string(),
                        key: key.clone(),
                    });
                }
                Some(text) => entries.pairs.push((name, SecretValue(text))),
            }
            Ok(entries)
        }
    }
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
            std::slice::from_ref(&entries),
            &Policy::default(),
        );
        assert_eq!(built.env.get("MILVUS_HOST").unwrap(), "new");
        assert_eq!(built.env.get("KEEP").unwrap(), "k");
        assert_eq!(built.applied, ["MILVUS_HOST", "X"]);
        assert_eq!(built.warnings.len(), 1);
        assert!(built.warnings[0].contains("override inherited variables: MILVUS_HOST"));
        assert_eq!(built.origins["X"], "short-cut/prod/app");
        assert!(!built.warnings[0].contains("new") || !built.warnings[0].contains("old"));

        let built = build(
            &inherited,
            std::slice::from_ref(&entries),
            &Policy {
                preserve: Preserve::All,
                ..Policy::default()
            },
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
            std::slice::from_ref(&entries),
            &Policy::default(),
        );
        assert_eq!(built.applied, ["OK", "GOOGLE_APPLICATION_CREDENTIALS_JSON"]);
        assert!(built.warnings[0].contains("PATH, LD_PRELOAD, AWS_ACCESS_KEY_ID, SECRET_NAME"));
        let policy = Policy {
            allowed: vec!["HOME".into()],
            ..Policy::default()
        };
        let built = build(&Vars::default(), std::slice::from_ref(&entries), &policy);
        assert_eq!(built.env.get("HOME").unwrap(), "x");
    }

    #[test]
    fn later_sources_win_and_are_named() {
        let a = parse_secret("a", r#"{"K":"1","ONLY_A":"x"}"#).unwrap();
        let b = parse_secret("b", r#"{"K":"2"}"#).unwrap();
        let built = build(&Vars::default(), &[a, b], &Policy::default());
        assert_eq!(built.env.get("K").unwrap(), "2");
        assert_eq!(built.applied, ["K", "ONLY_A"]);
        assert_eq!(built.origins["K"], "b");
        assert!(
            built.warnings.iter().any(|w| w.contains("K (b over a)")),
            "{:?}",
            built.warnings
        );
    }

    #[test]
    fn selection_renaming_and_preserve_compose() {
        let entries = parse_secret(
            "s",
            r#"{"OPENAI_API_KEY":"o","MILVUS_HOST":"h","MILVUS_PORT":"1"}"#,
        )
        .unwrap();
        let inherited: Vars = [
            ("APP_OPENAI_API_KEY", "inherited"),
            ("DB_HOST", "inherited"),
        ]
        .into_iter()
        .collect();
        let policy = Policy {
            exclude: vec![glob::Pattern::new("*_PORT").unwrap()],
            map: vec![("MILVUS_HOST".into(), "DB_HOST".into())],
            prefix: Some("APP_".into()),
            preserve: Preserve::Names(vec!["DB_HOST".into()]),
            ..Policy::default()
        };
        let built = build(&inherited, std::slice::from_ref(&entries), &policy);
        assert_eq!(built.env.get("APP_OPENAI_API_KEY").unwrap(), "o");
        assert_eq!(built.env.get("DB_HOST").unwrap(), "inherited");
        assert!(!built.env.contains("MILVUS_PORT") && !built.env.contains("APP_MILVUS_PORT"));
        assert_eq!(built.applied, ["APP_OPENAI_API_KEY"]);
    }

    #[test]
    fn references_select_keys_or_the_whole_secret() {
        let reference = |text: &str| crate::reference::parse(text).unwrap();
        let json = r#"{"host":"h","port":5432,"a-b":"x","n":null}"#;
        let one = select(&reference("s:port"), "s", json).unwrap();
        assert_eq!(one.pairs.len(), 1);
        assert_eq!(
            (one.pairs[0].0.as_str(), one.pairs[0].1.expose()),
            ("port", "5432")
        );
        let renamed = select(&reference("DB=s:a-b"), "s", json).unwrap();
        assert_eq!(renamed.pairs[0].0, "DB");
        let whole = select(&reference("RAW=s"), "s", "not json at all").unwrap();
        assert_eq!(whole.pairs[0].1.expose(), "not json at all");
        let null = select(&reference("s:n"), "s", json).unwrap();
        assert_eq!(null.nulls, ["n"]);
        let err = select(&reference("s:missing"), "s", json).unwrap_err();
        assert_eq!((err.kind(), err.exit_code()), ("json-key-missing", 65));
        let err = select(&reference("s:host"), "s", "[1]").unwrap_err();
        assert_eq!(err.kind(), "secret-not-object");
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
            std::slice::from_ref(&entries),
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
