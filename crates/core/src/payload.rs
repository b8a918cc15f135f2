//! Raw payloads → entries: what a source returned (a secret's text, a dotenv file's text, the
//! GCP key, credential fields), checked and turned into data by pure functions, so that every
//! rule is a unit test and a fuzz target, and no source repeats another's parsing.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::envmap::{self, Entries, SecretValue, SourceKind};
use crate::error::Error;
use crate::reference::Reference;

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
    /// Local mode's dotenv file; `text` is `None` when the default `.env` does not exist.
    DotEnv { path: PathBuf, text: Option<String> },
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
            Payload::DotEnv { path, text } => Origin::DotEnv {
                path: path.clone(),
                found: text.is_some(),
            },
        }
    }
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
        Payload::DotEnv { path, text } => text
            .as_deref()
            .map(|text| parse_env_text(path, text))
            .transpose(),
    }
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
