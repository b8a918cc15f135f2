//! Raw payloads → entries: what a source returned (a secret's text, a dotenv file's text, the
//! GCP key, credential fields), checked and turned into data by pure functions, so that every
//! rule is a unit test and a fuzz target, and no source repeats another's parsing.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::envmap::{self, Built, Entries, Policy, SecretValue, SourceKind};
use crate::error::Error;
use crate::reference::Reference;
use crate::vars::Vars;

/// What a source returned, before any rule applies. A new source adds a variant here and its
/// arm in [`entries`] and [`Payload::origin`]; the pipeline does not change. Its `Debug`
/// shows where a payload came from and its size, never its text.
// A handful per start: the size difference of the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq)]
pub enum Payload {
    /// One GetSecretValue answer.
    Secret {
        reference: Reference,
        /// The region that answered.
        region: String,
        /// `SecretString`, if the secret has one.
        text: Option<String>,
        /// `SecretBinary`, if the secret has one instead.
        binary: Option<Vec<u8>>,
        version_id: Option<String>,
        version_stages: Vec<String>,
        /// Set when a replica answered because the secret's own region failed.
        failover: Option<Failover>,
    },
    /// One SSM parameter: a single-parameter reference's, or one of a path's (then
    /// `reference` is the path's; see [`path_parameters`]).
    Parameter {
        reference: Reference,
        /// The region that answered.
        region: String,
        parameter: RawParameter,
    },
    /// Local mode's dotenv file; `text` is `None` when the default `.env` does not exist.
    DotEnv { path: PathBuf, text: Option<String> },
}

/// One parameter as Parameter Store returned it (GetParameters, GetParametersByPath).
#[derive(Debug, Clone, PartialEq)]
pub struct RawParameter {
    /// Its full name, e.g. `/short-cut/prod/openai-key`.
    pub name: String,
    /// Its value, SecureStrings decrypted. `Debug` redacts it.
    pub value: SecretValue,
    pub version: i64,
    /// `String`, `StringList` or `SecureString`; `unknown type` for anything else (the text
    /// of an unknown type came from the network and is not shown).
    pub kind: &'static str,
}

/// How a secret came to be read from a replica region (`--failover-region`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    /// The secret's own region, which failed first.
    pub from: String,
    /// Each region that failed, in order, with its error message (no secret value: the
    /// messages of [`Error`] never carry one).
    pub failures: Vec<(String, String)>,
}

/// Where a payload came from, for the success line and `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Secret {
        secret: String,
        region: String,
        version_id: Option<String>,
        version_stages: Vec<String>,
        /// The secret's own region, when a replica answered instead.
        failed_over_from: Option<String>,
    },
    /// An SSM parameter: `ssm:/short-cut/prod/openai-key` (as referred to: the reference, or
    /// for a path's parameter `ssm:` and its name), its version and type.
    Parameter {
        parameter: String,
        region: String,
        version: i64,
        kind: &'static str,
    },
    DotEnv {
        path: PathBuf,
        found: bool,
    },
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let size = |len: Option<usize>| len.map(|n| format!("<redacted, {n} bytes>"));
        let (text, binary) = match self {
            Payload::Secret { text, binary, .. } => (
                size(text.as_ref().map(String::len)),
                size(binary.as_ref().map(Vec::len)),
            ),
            Payload::Parameter { parameter, .. } => {
                (size(Some(parameter.value.expose().len())), None)
            }
            Payload::DotEnv { text, .. } => (size(text.as_ref().map(String::len)), None),
        };
        f.debug_struct("Payload")
            .field("origin", &self.origin())
            .field("text", &text)
            .field("binary", &binary)
            .finish()
    }
}

impl Payload {
    pub fn origin(&self) -> Origin {
        match self {
            Payload::Secret {
                reference,
                region,
                version_id,
                version_stages,
                failover,
                ..
            } => Origin::Secret {
                secret: reference.secret_id.clone(),
                region: region.clone(),
                version_id: version_id.clone(),
                version_stages: version_stages.clone(),
                failed_over_from: failover.as_ref().map(|f| f.from.clone()),
            },
            Payload::Parameter {
                reference,
                region,
                parameter,
            } => Origin::Parameter {
                parameter: parameter_shown(reference, parameter),
                region: region.clone(),
                version: parameter.version,
                kind: parameter.kind,
            },
            Payload::DotEnv { path, text } => Origin::DotEnv {
                path: path.clone(),
                found: text.is_some(),
            },
        }
    }
}

/// A parameter as messages, `check` and the success line name it: a single parameter as its
/// reference says (`ssm:/a/b:3`, or the ARN), a path's parameter as `ssm:` and its name.
pub fn parameter_shown(reference: &Reference, parameter: &RawParameter) -> String {
    match &reference.parameter {
        Some(p) if p.path => format!("ssm:{}", parameter.name),
        _ => reference.secret_id.clone(),
    }
}

/// The entries of one parameter: its whole value, under `VAR=` or the last segment of its
/// name. The source shows the version and type, so `check` does:
/// `ssm:/short-cut/prod/openai-key (version 3, SecureString)`.
fn parameter_entries(reference: &Reference, parameter: &RawParameter) -> Entries {
    let name = match (&reference.target, &reference.parameter) {
        (Some(target), _) => target.clone(),
        // A single parameter is named by the reference (not by the answer); a path's by the
        // answer, checked by `path_parameters`.
        (None, Some(p)) if !p.path => crate::reference::last_segment(&p.name).to_string(),
        (None, _) => crate::reference::last_segment(&parameter.name).to_string(),
    };
    Entries {
        source: format!(
            "{} (version {}, {})",
            parameter_shown(reference, parameter),
            parameter.version,
            parameter.kind
        ),
        kind: SourceKind::Secret,
        pairs: vec![(name, parameter.value.clone())],
        nulls: Vec::new(),
    }
}

/// The parameters a path read gives, checked: in name order, each once; each a parameter
/// name under `path` (the names came from the network); under `--recursive`, no two with the
/// same last segment (the error names both, never a silent choice). Nothing under the path is
/// "not found" (66): Parameter Store answers an empty page for a misspelt path, and a start
/// without its variables would only fail later, in the app.
pub fn path_parameters(
    path: &str,
    region: &str,
    mut parameters: Vec<RawParameter>,
) -> Result<Vec<RawParameter>, Error> {
    if parameters.is_empty() {
        return Err(Error::ParameterNotFound {
            region: region.to_string(),
            names: vec![format!("ssm:{path} (no parameter under the path)")],
        });
    }
    parameters.sort_by(|a, b| a.name.cmp(&b.name));
    // Pages that overlap (an endpoint that repeats an item) give the same parameter twice.
    parameters.dedup_by(|a, b| a.name == b.name);
    let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for parameter in &parameters {
        let under = parameter
            .name
            .strip_prefix(path)
            .is_some_and(|rest| !rest.is_empty() && crate::reference::is_parameter_text(rest));
        if !under {
            return Err(Error::ParameterStoreUnavailable {
                region: region.to_string(),
                parameters: format!("ssm:{path}"),
                detail: format!(
                    "the answer names a parameter that is not under the path: {}",
                    crate::text::shorten(&parameter.name)
                ),
            });
        }
        let key = crate::reference::last_segment(&parameter.name);
        if let Some(first) = seen.insert(key, &parameter.name) {
            return Err(Error::ParameterNameCollision {
                path: format!("ssm:{path}"),
                name: crate::names::shown_key(key),
                first: first.to_string(),
                second: parameter.name.clone(),
            });
        }
    }
    Ok(parameters)
}

/// The warning for a secret a replica answered: which region failed, and why.
pub fn failover_warning(payload: &Payload) -> Option<String> {
    let Payload::Secret {
        reference,
        region,
        failover: Some(failover),
        ..
    } = payload
    else {
        return None;
    };
    let failed = failover
        .failures
        .iter()
        .map(|(region, message)| format!("{region} failed: {message}"))
        .collect::<Vec<_>>()
        .join("; ");
    Some(format!(
        "secret {} was read from the replica in {region} because {failed}",
        reference.secret_id
    ))
}

/// The entries a payload gives, by its reference's rules: a whole JSON secret, one key of it, or
/// the whole text under a name of its own. `None` for a dotenv file that is not there.
pub fn entries(payload: &Payload) -> Result<Option<Entries>, Error> {
    match payload {
        Payload::Secret {
            reference,
            text,
            binary,
            ..
        } => {
            let secret = &reference.secret_id;
            let text = match (text, binary) {
                (Some(text), _) => text.as_str(),
                // A binary secret can only be exported whole, as text, under a name of its own.
                (None, Some(blob)) => match (&reference.target, &reference.json_key) {
                    (Some(_), None) => {
                        std::str::from_utf8(blob).map_err(|_| Error::SecretBinary {
                            secret: secret.clone(),
                        })?
                    }
                    _ => {
                        return Err(Error::SecretBinary {
                            secret: secret.clone(),
                        });
                    }
                },
                (None, None) => {
                    return Err(Error::SecretNotObject {
                        secret: secret.clone(),
                        found: "the secret has no value".into(),
                    });
                }
            };
            envmap::select(reference, secret, text).map(Some)
        }
        Payload::Parameter {
            reference,
            parameter,
            ..
        } => Ok(Some(parameter_entries(reference, parameter))),
        Payload::DotEnv { path, text } => text
            .as_deref()
            .map(|text| parse_env_text(path, text))
            .transpose(),
    }
}

/// What one reference gave: its payloads (one for a secret or a single parameter, one per
/// parameter under a path), or why it could not be read.
pub type Fetched = Result<Vec<Payload>, Error>;

/// The payloads of every reference and the environment they make, walking the references in
/// configuration order: for each one, its fetch failure, else its data failure (unusable text,
/// a key that is no variable name, a duplicate), is the one reported, before anything about a
/// later reference. The calls run concurrently and finish in any order; the report must not
/// depend on which finished first, and the reference listed first is the one to fix first.
pub fn build_in_order(
    fetched: Vec<Fetched>,
    inherited: &Vars,
    policy: &Policy,
) -> Result<(Vec<Payload>, Built), Error> {
    let mut payloads = Vec::new();
    let mut sources = Vec::new();
    for result in fetched {
        let found = result.and_then(|found| {
            let mut entries = Vec::new();
            for payload in &found {
                entries.extend(self::entries(payload)?);
            }
            Ok((found, entries))
        });
        match found {
            Ok((found, entries)) => {
                payloads.extend(found);
                sources.extend(entries);
            }
            Err(error) => {
                // A bad key of an earlier reference is only found by `build`: it comes first.
                envmap::build(inherited, &sources, policy)?;
                return Err(error);
            }
        }
    }
    let built = envmap::build(inherited, &sources, policy)?;
    Ok((payloads, built))
}

pub use crate::names::{GCP_JSON_VAR, GCP_PATH_VAR};
/// A service-account key is about 2.3 KiB; Secrets Manager caps a secret at 64 KiB.
pub const MAX_GCP_JSON: usize = 64 * 1024;

/// The entries of a dotenv file's text, in order; `path` is only named in messages. Names and
/// values are checked by `envmap::build`, as for a secret; a syntax error names the line and
/// column, never the line's text.
pub fn parse_env_text(path: &Path, text: &str) -> Result<Entries, Error> {
    let mut entries = Entries {
        source: path.display().to_string(),
        kind: SourceKind::DotEnv,
        ..Entries::default()
    };
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let (key, value) = item.map_err(|e| env_file_error(path, text, &e))?;
        entries.pairs.push((key, SecretValue::new(value)));
    }
    Ok(entries)
}

/// dotenvy's parse error carries the offending line, which may hold a value: report where,
/// never what.
fn env_file_error(path: &Path, text: &str, error: &dotenvy::Error) -> Error {
    let reason = match error {
        dotenvy::Error::LineParse(line, index) => {
            let line_number = text
                .find(line.as_str())
                .map(|at| text[..at].lines().count() + 1);
            match line_number {
                Some(n) => format!("syntax error on line {n}, column {}", index + 1),
                None => format!("syntax error at column {}", index + 1),
            }
        }
        dotenvy::Error::Io(e) => e.to_string(),
        dotenvy::Error::EnvVar(e) => e.to_string(),
        _ => "unreadable".into(),
    };
    Error::EnvFileUnreadable {
        path: path.to_path_buf(),
        reason,
    }
}

/// Checks the GCP key JSON before anything is written: an object with a string `type`.
pub fn validate_gcp_json(text: &str) -> Result<(), Error> {
    let invalid = |reason: String| Error::GcpJsonInvalid(reason);
    if text.len() > MAX_GCP_JSON {
        return Err(invalid(format!(
            "{} bytes, more than the {MAX_GCP_JSON} bytes a key file can be",
            text.len()
        )));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON ({e})")))?;
    let Value::Object(object) = value else {
        return Err(invalid("not a JSON object".into()));
    };
    // A map keeps one of two `type` members; Google's libraries may read the other one.
    if let Err(Error::DuplicateKey { key, .. }) = crate::envmap::parse_members(GCP_JSON_VAR, text) {
        let key = if key.starts_with('"') {
            key
        } else {
            format!("\"{key}\"")
        };
        return Err(invalid(format!("its {key} member appears more than once")));
    }
    match object.get("type") {
        Some(Value::String(kind)) if !kind.is_empty() => Ok(()),
        Some(_) => Err(invalid(
            "its \"type\" field is not a non-empty string".into(),
        )),
        None => Err(invalid("it has no \"type\" field".into())),
    }
}

/// What is wrong with a credential field, if anything: the key id and the session token go into
/// HTTP headers (printable ASCII, no spaces: they are base32/base64 text); the secret key is
/// only hashed, but a control character there is as surely a copy-paste accident (a `\r` from
/// a CRLF file). Returns the field's name and the problem.
pub fn credential_problem(
    access_key_id: &str,
    secret_access_key: &str,
    session_token: Option<&str>,
) -> Option<(&'static str, &'static str)> {
    let header_safe = |text: &str| text.bytes().all(|b| b.is_ascii_graphic());
    if access_key_id.is_empty() {
        Some(("AccessKeyId", "is empty"))
    } else if !header_safe(access_key_id) {
        Some((
            "AccessKeyId",
            "holds a control character, a space or a non-ASCII character",
        ))
    } else if secret_access_key.is_empty() {
        Some(("SecretAccessKey", "is empty"))
    } else if secret_access_key.chars().any(char::is_control) {
        Some(("SecretAccessKey", "holds a control character"))
    } else if session_token.is_some_and(|t| !header_safe(t)) {
        Some((
            "SessionToken",
            "holds a control character, a space or a non-ASCII character",
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str, value: &str, version: i64) -> RawParameter {
        RawParameter {
            name: name.into(),
            value: SecretValue::new(value.into()),
            version,
            kind: "SecureString",
        }
    }

    fn parameter(reference: &str, raw: RawParameter) -> Payload {
        Payload::Parameter {
            reference: crate::reference::parse(reference).unwrap(),
            region: "us-east-1".into(),
            parameter: raw,
        }
    }

    fn only_pair(payload: &Payload) -> (String, String, String) {
        let entries = entries(payload).unwrap().unwrap();
        let (name, value) = &entries.pairs[0];
        (name.clone(), value.expose().to_string(), entries.source)
    }

    #[allow(
        clippy::unnecessary_wraps,
        reason = "a fetched result, as the tests' lists hold"
    )]
    fn secret(id: &str, text: &str) -> Fetched {
        Ok(vec![Payload::Secret {
            reference: crate::reference::parse(id).unwrap(),
            region: "us-east-1".into(),
            text: Some(text.into()),
            binary: None,
            version_id: None,
            version_stages: Vec::new(),
            failover: None,
        }])
    }

    fn missing(id: &str) -> Fetched {
        Err(Error::SecretNotFound {
            secret: id.into(),
            region: "us-east-1".into(),
            detail: "ResourceNotFoundException".into(),
        })
    }

    /// The kind of error `build_in_order` reports and the reference it names.
    fn first_failure(fetched: Vec<Fetched>) -> (String, String) {
        let error = build_in_order(fetched, &Vars::default(), &Policy::default()).unwrap_err();
        let text = error.to_string();
        let words: Vec<&str> = text
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            .collect();
        let named = ["one-app", "two-app", "three-app"]
            .into_iter()
            .find(|id| words.contains(id))
            .unwrap_or("none");
        (error.kind().as_str().to_string(), named.to_string())
    }

    #[test]
    fn the_first_reference_in_configuration_order_decides_the_failure() {
        let cases = [
            // A data error in the first, the second missing: the data error.
            (
                vec![secret("one-app", "not json"), missing("two-app")],
                ("secret-not-object", "one-app"),
            ),
            // The first missing, a data error in the second: the missing one.
            (
                vec![missing("one-app"), secret("two-app", "not json")],
                ("secret-not-found", "one-app"),
            ),
            // A key that is no variable name is a data error of the first too.
            (
                vec![secret("one-app", r#"{"my-key":"1"}"#), missing("two-app")],
                ("invalid-key-name", "one-app"),
            ),
            // A good first reference does not hide the second's failure.
            (
                vec![
                    secret("one-app", r#"{"K":"1"}"#),
                    missing("two-app"),
                    secret("three-app", "x"),
                ],
                ("secret-not-found", "two-app"),
            ),
        ];
        for (fetched, (kind, named)) in cases {
            let (got_kind, got_named) = first_failure(fetched);
            assert_eq!((got_kind.as_str(), got_named.as_str()), (kind, named));
        }
    }

    #[test]
    fn every_reference_in_order_makes_the_environment() {
        let fetched = vec![
            secret("one-app", r#"{"K":"1","A":"a"}"#),
            secret("two-app", r#"{"K":"2"}"#),
        ];
        let (payloads, built) =
            build_in_order(fetched, &Vars::default(), &Policy::default()).unwrap();
        assert_eq!(payloads.len(), 2);
        assert_eq!(built.env.get("K").and_then(|v| v.to_str()), Some("2"));
        assert_eq!(built.applied, ["K", "A"]);
    }

    #[test]
    fn a_single_parameter_is_named_after_its_last_segment_with_its_version_and_type() {
        let payload = parameter(
            "ssm:/short-cut/prod/OPENAI_API_KEY",
            raw("/short-cut/prod/OPENAI_API_KEY", "v", 3),
        );
        assert_eq!(
            only_pair(&payload),
            (
                "OPENAI_API_KEY".into(),
                "v".into(),
                "ssm:/short-cut/prod/OPENAI_API_KEY (version 3, SecureString)".into()
            )
        );
        assert_eq!(
            payload.origin(),
            Origin::Parameter {
                parameter: "ssm:/short-cut/prod/OPENAI_API_KEY".into(),
                region: "us-east-1".into(),
                version: 3,
                kind: "SecureString",
            }
        );
    }

    #[test]
    fn var_names_a_parameter_and_the_reference_not_the_answer_names_it_otherwise() {
        let payload = parameter("KEY=ssm:/a/openai-key:2", raw("/a/openai-key", "v", 2));
        assert_eq!(only_pair(&payload).0, "KEY");
        // An answer naming another parameter does not rename a single reference's variable.
        let payload = parameter("ssm:/a/EXPECTED", raw("/a/OTHER", "v", 1));
        assert_eq!(only_pair(&payload).0, "EXPECTED");
    }

    #[test]
    fn a_path_parameter_is_named_and_shown_by_its_own_name() {
        let payload = parameter("ssm:/app/", raw("/app/db/HOST", "h", 4));
        let (name, _, source) = only_pair(&payload);
        assert_eq!(name, "HOST");
        assert_eq!(source, "ssm:/app/db/HOST (version 4, SecureString)");
    }

    #[test]
    fn a_parameter_payload_redacts_its_value_in_debug() {
        let payload = parameter("ssm:/a/K", raw("/a/K", "LEAKMARKER", 1));
        let debug = format!("{payload:?}");
        assert!(
            !debug.contains("LEAKMARKER") && debug.contains("redacted"),
            "{debug}"
        );
    }

    #[test]
    fn a_path_gives_its_parameters_in_name_order_each_once() {
        let all = path_parameters(
            "/app/",
            "us-east-1",
            vec![
                raw("/app/B", "2", 1),
                raw("/app/A", "1", 4),
                raw("/app/B", "2", 1),
            ],
        )
        .unwrap();
        let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["/app/A", "/app/B"]);
    }

    #[test]
    fn nothing_under_a_path_is_not_found() {
        let error = path_parameters("/app/", "us-east-1", Vec::new()).unwrap_err();
        assert_eq!(
            (error.kind().as_str(), error.exit_code()),
            ("parameter-not-found", 66)
        );
        assert!(error.to_string().contains("ssm:/app/"), "{error}");
    }

    #[test]
    fn recursive_collisions_name_both_parameters() {
        let error = path_parameters(
            "/app/",
            "us-east-1",
            vec![raw("/app/x/KEY", "1", 1), raw("/app/y/KEY", "2", 1)],
        )
        .unwrap_err();
        assert_eq!(
            (error.kind().as_str(), error.exit_code()),
            ("parameter-name-collision", 65)
        );
        let text = error.to_string();
        assert!(
            text.contains("/app/x/KEY") && text.contains("/app/y/KEY"),
            "{text}"
        );
    }

    #[test]
    fn a_path_answer_outside_the_path_is_refused_and_escaped() {
        for name in ["/other/KEY", "/app/", "/app/a\nb"] {
            let error = path_parameters("/app/", "us-east-1", vec![raw(name, "1", 1)]).unwrap_err();
            assert_eq!(error.kind(), "parameter-store-unavailable", "{name:?}");
            assert!(!error.to_string().contains('\n'));
        }
    }
}
