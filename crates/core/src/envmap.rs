//! Secret → environment: the rules of the README's "Secret to environment" section.
//!
//! Pure: JSON text and a snapshot in, the command's environment and warnings out. Errors and
//! warnings name keys, never values; serde_json's own messages (positions only) are the only
//! parser text passed on.

use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::names::GCP_JSON_VAR;
/// The name rules, where the secret → environment rules use them.
pub use crate::names::{PROTECTED, is_protected, is_valid_name, shown_key};
use crate::reference::Reference;
use crate::vars::Vars;

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

/// Parses a secret's JSON text into entries. Only the data rules that do not depend on the
/// policy apply here (an object, each key once); names and NUL bytes are checked by [`build`]
/// on what is selected, under its final name, so an excluded or renamed bad key does no harm.
pub fn parse_secret(source: &str, text: &str) -> Result<Entries, Error> {
    let mut entries = Entries {
        source: source.to_string(),
        ..Entries::default()
    };
    for (key, value) in parse_members(source, text)? {
        match value_text(&value) {
            None => entries.nulls.push(key),
            Some(text) => entries.pairs.push((key, SecretValue(text))),
        }
    }
    Ok(entries)
}

/// A value as environment text, from its JSON text as written in the secret: strings decoded,
/// numbers and booleans as written, objects and arrays as written minus the whitespace between
/// tokens (compact JSON); `None` for null.
fn value_text(value: &RawValue) -> Option<String> {
    let raw = value.get();
    match raw.as_bytes().first() {
        Some(b'n') => None,
        // The parser already checked the string, so this cannot fail; stay total anyway.
        Some(b'"') => Some(serde_json::from_str::<String>(raw).unwrap_or_default()),
        Some(b'{' | b'[') => Some(compact(raw)),
        _ => Some(raw.to_string()),
    }
}

/// Valid JSON text without the whitespace outside strings.
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// The members of the JSON object `text`, in order; a key given twice is refused, because JSON
/// parsers disagree on which one wins (this one, `NAME:KEY`, the GCP key file all use it).
pub fn parse_members(source: &str, text: &str) -> Result<Vec<(String, Box<RawValue>)>, Error> {
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
    if let Some(key) = first_duplicate(&raw) {
        return Err(Error::DuplicateKey {
            source_name: source.to_string(),
            key: shown_key(key),
        });
    }
    Ok(raw)
}

/// The first key that appears a second time among `members`.
pub fn first_duplicate(members: &[(String, Box<RawValue>)]) -> Option<&str> {
    let mut seen = HashSet::new();
    members
        .iter()
        .map(|(key, _)| key.as_str())
        .find(|key| !seen.insert(*key))
}

/// A JSON object as its list of members, duplicates included.
struct RawObject(Vec<(String, Box<RawValue>)>);

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
                while let Some(member) = map.next_entry::<String, Box<RawValue>>()? {
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
            // The GCP key keeps its name: it is found by it and written to the file that
            // GOOGLE_APPLICATION_CREDENTIALS names; a prefix would silently turn the file off.
            Some(prefix) if key != GCP_JSON_VAR => format!("{prefix}{key}"),
            _ => key.to_string(),
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
///
/// Selection and renaming come first; then each selected key's final name must be a variable
/// name, no two keys of one source may land on the same name, and no value may hold a NUL
/// byte. A key left out by `--only`/`--exclude` is never checked: it reaches nothing.
pub fn build(inherited: &Vars, sources: &[Entries], policy: &Policy) -> Result<Built, Error> {
    let mut built = Built {
        env: inherited.clone(),
        ..Built::default()
    };
    let (mut protected, mut overwritten, mut kept, mut unselected) =
        (Vec::new(), Vec::new(), Vec::new(), 0usize);
    let mut shadowed: Vec<String> = Vec::new();
    for entries in sources {
        let mut from_key: std::collections::HashMap<String, &str> =
            std::collections::HashMap::new();
        for (key, value) in &entries.pairs {
            let Some(name) = policy.target(key) else {
                unselected += 1;
                continue;
            };
            check_entry(entries, key, &name, value)?;
            if from_key.insert(name.clone(), key).is_some() {
                return Err(Error::DuplicateTarget {
                    option: "key of one secret (after --map and --prefix)",
                    name,
                });
            }
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
    Ok(built)
}

/// The rules for one selected entry under its final `name`; errors name the source's key.
fn check_entry(entries: &Entries, key: &str, name: &str, value: &SecretValue) -> Result<(), Error> {
    if !is_valid_name(name) {
        return Err(Error::InvalidKeyName {
            source_name: entries.source.clone(),
            key: shown_key(key),
        });
    }
    if value.expose().contains('\0') {
        return Err(Error::NulInValue {
            source_name: entries.source.clone(),
            key: shown_key(key),
        });
    }
    Ok(())
}

/// The entries one reference gives from its secret's text: every key of the JSON object, one
/// key (`:JSON_KEY`, under its own name or `VAR=`), or the whole text as `VAR=`.
pub fn select(reference: &Reference, source: &str, text: &str) -> Result<Entries, Error> {
    match (&reference.json_key, &reference.target) {
        (None, None) => parse_secret(source, text),
        (None, Some(target)) => Ok(Entries {
            source: source.to_string(),
            pairs: vec![(target.clone(), SecretValue(text.to_string()))],
            ..Entries::default()
        }),
        (Some(key), target) => {
            // The same member parser as a whole secret: a key given twice is refused here too.
            // Names and values are checked by `build`, under the final name.
            let members = parse_members(source, text)?;
            let Some((_, value)) = members.into_iter().find(|(k, _)| k == key) else {
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
            match value_text(&value) {
                None => entries.nulls.push(name),
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

    fn build_one(text: &str, policy: &Policy) -> Result<Built, Error> {
        let entries = parse_secret("short-cut/prod/app", text)?;
        build(&Vars::default(), std::slice::from_ref(&entries), policy)
    }

    #[test]
    fn final_names_and_values_are_checked_after_selection() {
        let cases = [
            (r#"{"1ABC":"hunter2-marker"}"#, "invalid-key-name"),
            (r#"{"A-B":"hunter2-marker"}"#, "invalid-key-name"),
            (r#"{"A=B":"hunter2-marker"}"#, "invalid-key-name"),
            (r#"{"":"hunter2-marker"}"#, "invalid-key-name"),
            (r#"{"ÄÖ":"hunter2-marker"}"#, "invalid-key-name"),
            (r#"{"A":"hunter2-marker\u0000"}"#, "nul-in-value"),
        ];
        for (text, kind) in cases {
            let err = build_one(text, &Policy::default()).unwrap_err();
            assert_eq!((err.kind().as_str(), err.exit_code()), (kind, 65), "{text}");
            let shown = format!("{err} {err:?} {}", err.hint());
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        let text = r#"{"my-key":"x","bad":"a\u0000b","OK":"1"}"#;
        let excluded = Policy {
            exclude: vec![
                glob::Pattern::new("my-key").unwrap(),
                glob::Pattern::new("bad").unwrap(),
            ],
            ..Policy::default()
        };
        assert_eq!(build_one(text, &excluded).unwrap().applied, ["OK"]);
        let mapped = Policy {
            map: vec![("my-key".into(), "MY_KEY".into())],
            exclude: vec![glob::Pattern::new("bad").unwrap()],
            ..Policy::default()
        };
        assert_eq!(build_one(text, &mapped).unwrap().applied, ["MY_KEY", "OK"]);
    }

    #[test]
    fn two_keys_renamed_onto_one_name_are_refused() {
        let policy = Policy {
            map: vec![("A".into(), "B".into())],
            ..Policy::default()
        };
        let err = build_one(r#"{"A":"1","B":"2"}"#, &policy).unwrap_err();
        assert_eq!(
            (err.kind().as_str(), err.exit_code()),
            ("duplicate-target", 78)
        );
    }

    #[test]
    fn numbers_keep_the_text_of_the_secret() {
        let entries = parse_secret(
            "s",
            r#"{"A":0.10,"B":1e3,"C":123456789012345678901234567890,"D":-0,"E":{"x":1.50}}"#,
        )
        .unwrap();
        let values: Vec<&str> = entries.pairs.iter().map(|(_, v)| v.expose()).collect();
        assert_eq!(
            values,
            [
                "0.10",
                "1e3",
                "123456789012345678901234567890",
                "-0",
                r#"{"x":1.50}"#
            ]
        );
    }

    #[test]
    fn a_long_bad_key_is_cut_and_escaped_in_messages() {
        let key = format!("line\n{}", "x".repeat(100));
        assert_eq!(shown_key("OK_NAME"), "OK_NAME");
        let shown = shown_key(&key);
        assert!(
            shown.starts_with("\"line\\u{a}")
                && shown.ends_with("(105 characters)")
                && !shown.contains('\n'),
            "{shown}"
        );
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
        )
        .unwrap();
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
        )
        .unwrap();
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
        )
        .unwrap();
        assert_eq!(built.applied, ["OK", "GOOGLE_APPLICATION_CREDENTIALS_JSON"]);
        assert!(built.warnings[0].contains("PATH, LD_PRELOAD, AWS_ACCESS_KEY_ID, SECRET_NAME"));
        let policy = Policy {
            allowed: vec!["HOME".into()],
            ..Policy::default()
        };
        let built = build(&Vars::default(), std::slice::from_ref(&entries), &policy).unwrap();
        assert_eq!(built.env.get("HOME").unwrap(), "x");
    }

    #[test]
    fn later_sources_win_and_are_named() {
        let a = parse_secret("a", r#"{"K":"1","ONLY_A":"x"}"#).unwrap();
        let b = parse_secret("b", r#"{"K":"2"}"#).unwrap();
        let built = build(&Vars::default(), &[a, b], &Policy::default()).unwrap();
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
        let built = build(&inherited, std::slice::from_ref(&entries), &policy).unwrap();
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
        assert_eq!(
            (err.kind().as_str(), err.exit_code()),
            ("json-key-missing", 65)
        );
        let err = select(&reference("s:host"), "s", "[1]").unwrap_err();
        assert_eq!(err.kind(), "secret-not-object");
    }

    #[test]
    fn protected_names_cover_code_loading_and_trust_but_not_app_keys() {
        for name in [
            "BASH_ENV",
            "ENV",
            "SHELLOPTS",
            "PS4",
            "PYTHONPATH",
            "PYTHONHOME",
            "PYTHONSTARTUP",
            "PYTHONWARNINGS",
            "BROWSER",
            "NODE_OPTIONS",
            "NODE_PATH",
            "PERL5OPT",
            "PERL5LIB",
            "RUBYOPT",
            "RUBYLIB",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "JDK_JAVA_OPTIONS",
            "GCONV_PATH",
            "GLIBC_TUNABLES",
            "LOCPATH",
            "HOSTALIASES",
            "TMPDIR",
            "SSL_CERT_FILE",
            "REQUESTS_CA_BUNDLE",
            "CURL_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "NO_PROXY",
            "no_proxy",
            "LD_PRELOAD",
            "AWS_CA_BUNDLE",
            "SECRET_NAME",
            "SECRET_VERSION_STAGE",
            "SECRET_VERSION_ID",
        ] {
            assert!(is_protected(name), "{name}");
        }
        for name in [
            "SECRET_KEY",
            "SECRET",
            "DATABASE_URL",
            "PYTHONUNBUFFERED",
            "NODE_ENV",
        ] {
            assert!(!is_protected(name), "{name}");
        }
    }

    #[test]
    fn every_protected_name_is_documented_with_its_reason() {
        let page = include_str!("../../../docs/protected-names.md");
        for (name, why) in PROTECTED {
            assert!(page.contains(&format!("| `{name}` | {why} |")), "{name}");
        }
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
        )
        .unwrap();
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
