//! Secret references: what `SECRET_NAME` (or `--secret`) may hold.
//!
//! One reference is
//!
//! ```text
//! [VAR=]SECRET[:JSON_KEY[:VERSION_STAGE[:VERSION_ID]]]
//! SECRET = NAME | arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME
//! ```
//!
//! which is ECS's `valueFrom` syntax, so the reference in a task definition works unchanged on a
//! laptop, plus the same suffixes after a plain name (a secret name cannot hold `:`, so there is
//! no ambiguity). Empty fields are allowed, as in ECS (`…:secret:app::AWSPREVIOUS:`).
//! `SECRET_NAME` is a comma-separated list of references (names and ARNs cannot hold `,`).
//!
//! What a reference exports:
//! - `NAME`: every key of the JSON object;
//! - `NAME:KEY`: only that key, under its own name;
//! - `VAR=NAME:KEY`: only that key, as `VAR`;
//! - `VAR=NAME`: the whole secret string, as `VAR` (any text, JSON or not).
//!
//! (A secret whose name holds `=` is therefore referred to by its ARN.)
//!
//! Pure: text in, a [`Reference`] or a configuration error (78) out.

use crate::error::Error;
use crate::names::is_valid_name;

/// The AWS partitions a Secrets Manager ARN can name.
const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// Secrets Manager's limit on a secret's name.
const MAX_NAME_LEN: usize = 512;

/// One parsed reference.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reference {
    /// What GetSecretValue is called with: the name, or the ARN without the suffixes.
    pub secret_id: String,
    /// The region of an ARN.
    pub region: Option<String>,
    /// Export only this key of the JSON object.
    pub json_key: Option<String>,
    pub version_stage: Option<String>,
    pub version_id: Option<String>,
    /// `VAR=`: the variable that receives the key (or the whole secret).
    pub target: Option<String>,
}

/// Parses a comma-separated list of references; empty items are ignored.
pub fn parse_list(text: &str) -> Result<Vec<Reference>, Error> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(parse)
        .collect()
}

/// Parses one reference.
pub fn parse(text: &str) -> Result<Reference, Error> {
    let malformed = |reason: &str| Error::ReferenceMalformed {
        reference: text.to_string(),
        reason: reason.to_string(),
    };
    let (target, rest) = match text.split_once('=') {
        // `VAR=` only when what precedes `=` could be a variable: `arn:…=` or `a/b=` cannot.
        Some((var, rest)) if !var.contains(':') && !var.contains('/') => {
            if !is_valid_name(var) {
                return Err(malformed(
                    "the part before `=` must be a variable name ([A-Za-z_][A-Za-z0-9_]*)",
                ));
            }
            (Some(var.to_string()), rest)
        }
        _ => (None, text),
    };
    let (secret_id, region, suffix) = if rest.starts_with("arn:") {
        let fields: Vec<&str> = rest.split(':').collect();
        if fields.len() < 7 {
            return Err(arn_malformed(
                text,
                "expected arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME",
            ));
        }
        let region = check_arn(text, &fields[..7])?;
        (fields[..7].join(":"), Some(region), fields[7..].to_vec())
    } else {
        let mut fields = rest.split(':');
        let name = fields.next().unwrap_or_default();
        check_name(text, name)?;
        (name.to_string(), None, fields.collect())
    };
    if suffix.len() > 3 {
        return Err(malformed(
            "too many `:` fields: expected at most NAME:JSON_KEY:VERSION_STAGE:VERSION_ID",
        ));
    }
    let field = |i: usize| {
        suffix
            .get(i)
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
    };
    let reference = Reference {
        secret_id,
        region,
        json_key: field(0),
        version_stage: field(1),
        version_id: field(2),
        target,
    };
    if let Some(key) = &reference.json_key
        && reference.target.is_none()
        && !is_valid_name(key)
    {
        return Err(malformed(
            "the JSON key is not a valid variable name; export it under another name with \
             VAR=SECRET:KEY",
        ));
    }
    Ok(reference)
}

fn arn_malformed(reference: &str, reason: &str) -> Error {
    Error::SecretArnMalformed {
        secret: reference.to_string(),
        reason: reason.to_string(),
    }
}

/// Checks the seven fields of a Secrets Manager ARN and returns its region.
fn check_arn(reference: &str, fields: &[&str]) -> Result<String, Error> {
    let malformed = |reason: &str| arn_malformed(reference, reason);
    let [_, partition, service, region, account, resource, name] = fields else {
        return Err(malformed(
            "expected arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME",
        ));
    };
    if !PARTITIONS.contains(partition) {
        return Err(malformed(&format!(
            "unknown partition {partition:?} (expected one of {})",
            PARTITIONS.join(", ")
        )));
    }
    if *service != "secretsmanager" {
        return Err(malformed(&format!(
            "an ARN of {service:?}, not of a Secrets Manager secret"
        )));
    }
    crate::names::validate_region(region).map_err(|_| malformed("invalid region"))?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("the account id must be 12 digits"));
    }
    if *resource != "secret" || name.is_empty() {
        return Err(malformed("expected secret:NAME after the account id"));
    }
    check_name(reference, name)?;
    Ok(region.to_string())
}

/// A secret name: 1–512 of `A-Za-z0-9/_+=.@-` (Secrets Manager's rule). Catches the stray space
/// or quote before a network call.
fn check_name(reference: &str, name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(Error::ReferenceMalformed {
            reference: reference.to_string(),
            reason: "a secret name is 1 to 512 letters, digits and /_+=.@- characters".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:short-cut/prod/app-AbCdEf";

    fn r(secret_id: &str) -> Reference {
        Reference {
            secret_id: secret_id.into(),
            ..Reference::default()
        }
    }

    #[test]
    fn references_parse_into_their_fields() {
        let with = |f: &dyn Fn(&mut Reference), base: &str| {
            let mut reference = r(base);
            if base.starts_with("arn:") {
                reference.region = Some("eu-west-1".into());
            }
            f(&mut reference);
            reference
        };
        let cases: Vec<(String, Reference)> = vec![
            ("short-cut/prod/app".into(), r("short-cut/prod/app")),
            ("a+b.c@e-f_g".into(), r("a+b.c@e-f_g")),
            (ARN.into(), with(&|_| {}, ARN)),
            (
                format!("{ARN}:OPENAI_API_KEY"),
                with(&|r| r.json_key = Some("OPENAI_API_KEY".into()), ARN),
            ),
            (
                format!("{ARN}::AWSPREVIOUS:"),
                with(&|r| r.version_stage = Some("AWSPREVIOUS".into()), ARN),
            ),
            (
                format!("{ARN}:K:AWSCURRENT:v-1"),
                with(
                    &|r| {
                        r.json_key = Some("K".into());
                        r.version_stage = Some("AWSCURRENT".into());
                        r.version_id = Some("v-1".into());
                    },
                    ARN,
                ),
            ),
            (
                "DB_HOST=app:MILVUS_HOST".into(),
                with(
                    &|r| {
                        r.json_key = Some("MILVUS_HOST".into());
                        r.target = Some("DB_HOST".into());
                    },
                    "app",
                ),
            ),
            (
                "TLS_KEY=certs/key".into(),
                with(&|r| r.target = Some("TLS_KEY".into()), "certs/key"),
            ),
            (
                format!("X={ARN}:a-b"),
                with(
                    &|r| {
                        r.target = Some("X".into());
                        r.json_key = Some("a-b".into());
                    },
                    ARN,
                ),
            ),
            ("app:::".into(), with(&|_| {}, "app")),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(&text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn bad_references_are_configuration_errors() {
        let cases = [
            (
                "arn:aws:secretsmanager:eu-west-1:111122223333",
                "secret-arn-malformed",
            ),
            (
                "arn:aws:ssm:eu-west-1:111122223333:parameter:x",
                "secret-arn-malformed",
            ),
            (
                "arn:aws:secretsmanager:EU-WEST-1:111122223333:secret:x",
                "secret-arn-malformed",
            ),
            (
                "arn:awz:secretsmanager:eu-west-1:111122223333:secret:x",
                "secret-arn-malformed",
            ),
            (
                "arn:aws:secretsmanager:eu-west-1:1111:secret:x",
                "secret-arn-malformed",
            ),
            (
                "arn:aws:secretsmanager:eu-west-1:111122223333:secret:",
                "secret-arn-malformed",
            ),
            (
                "arn:aws:secretsmanager:eu-west-1:111122223333:secret:x:K:S:V:extra",
                "reference-malformed",
            ),
            ("app:K:S:V:extra", "reference-malformed"),
            ("app name", "reference-malformed"),
            ("", "reference-malformed"),
            (":K", "reference-malformed"),
            ("1X=app", "reference-malformed"),
            ("app:a-b", "reference-malformed"),
            ("X=", "reference-malformed"),
            ("a+b=c", "reference-malformed"),
        ];
        for (text, kind) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.kind(), kind, "{text}");
            assert_eq!(err.exit_code(), 78, "{text}");
        }
    }

    #[test]
    fn lists_are_comma_separated() {
        let list = parse_list(" a , b:K,,").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].json_key.as_deref(), Some("K"));
        assert!(parse_list("a,arn:x").is_err());
    }
}
