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
//! An SSM Parameter Store parameter is referred to as
//!
//! ```text
//! [VAR=]ssm:NAME[:VERSION|:LABEL]          e.g. ssm:/short-cut/prod/openai-key:3
//! [VAR=]arn:PARTITION:ssm:REGION:ACCOUNT:parameter/NAME[:VERSION|:LABEL]
//! ssm:/PATH/                               every parameter under the path
//! ```
//!
//! A parameter's value is exported whole, under its last path segment unless `VAR=` names it.
//! A parameter name cannot hold `:` or `=`, so neither the selector nor `VAR=` is ambiguous.
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
    /// Set for an SSM Parameter Store reference; `secret_id` then holds the reference as
    /// messages show it (`ssm:/short-cut/prod/openai-key`, or the ARN), and the JSON key and
    /// version fields stay empty.
    pub parameter: Option<Parameter>,
}

/// An SSM Parameter Store reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// What GetParameters is called with, without the selector: the name
    /// (`/short-cut/prod/openai-key`) or the ARN; for a path, the path with its trailing `/`.
    pub name: String,
    /// `VERSION` (digits) or `LABEL`, appended as `NAME:SELECTOR` in the request.
    pub selector: Option<String>,
    /// A trailing `/`: every parameter under the path (GetParametersByPath).
    pub path: bool,
}

impl Parameter {
    /// The name GetParameters is asked for: `NAME` or `NAME:SELECTOR`.
    pub fn request(&self) -> String {
        match &self.selector {
            Some(selector) => format!("{}:{selector}", self.name),
            None => self.name.clone(),
        }
    }
}

/// The last segment of a parameter name (`/short-cut/prod/openai-key` → `openai-key`, also
/// of an ARN's `parameter/…`): the variable a parameter is exported as.
pub fn last_segment(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Parameter Store's characters of a name: letters, digits and `_.-/`.
pub fn is_parameter_text(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b))
}

/// Parameter Store's limit on a name (the full ARN may be up to 2048).
const MAX_PARAMETER_NAME_LEN: usize = 1011;
/// Parameter Store's limit on a hierarchy's depth.
const MAX_PARAMETER_LEVELS: usize = 15;

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
    if let Some(name) = rest.strip_prefix("ssm:") {
        return parse_parameter(text, target, name);
    }
    if rest.split(':').nth(2) == Some("ssm") && rest.starts_with("arn:") {
        return parse_parameter_arn(text, target, rest);
    }
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
            .map(std::string::ToString::to_string)
    };
    let reference = Reference {
        secret_id,
        region,
        json_key: field(0),
        version_stage: field(1),
        version_id: field(2),
        target,
        parameter: None,
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

/// `ssm:NAME[:SELECTOR]` or `ssm:/PATH/` (what follows `ssm:` is `rest`).
fn parse_parameter(text: &str, target: Option<String>, rest: &str) -> Result<Reference, Error> {
    let (name, selector) = split_selector(text, rest)?;
    check_parameter_name(text, name)?;
    let path = name.ends_with('/');
    if path && target.is_some() {
        return Err(parameter_malformed(
            text,
            "a path exports every parameter under it by its own name: VAR= names one parameter",
        ));
    }
    if path && selector.is_some() {
        return Err(parameter_malformed(
            text,
            "a path has no version or label: pin single parameters instead",
        ));
    }
    Ok(Reference {
        secret_id: format!("ssm:{rest}"),
        target,
        parameter: Some(Parameter {
            name: name.to_string(),
            selector,
            path,
        }),
        ..Reference::default()
    })
}

/// `arn:PARTITION:ssm:REGION:ACCOUNT:parameter/NAME[:SELECTOR]`: the ARN's region is where it
/// is read, as ECS's `valueFrom` does.
fn parse_parameter_arn(text: &str, target: Option<String>, rest: &str) -> Result<Reference, Error> {
    let malformed = |reason: &str| parameter_malformed(text, reason);
    let fields: Vec<&str> = rest.splitn(7, ':').collect();
    let [_, partition, _, region, account, resource, more @ ..] = fields.as_slice() else {
        return Err(malformed(
            "expected arn:PARTITION:ssm:REGION:ACCOUNT:parameter/NAME",
        ));
    };
    if !PARTITIONS.contains(partition) {
        return Err(malformed(&format!(
            "unknown partition {partition:?} (expected one of {})",
            PARTITIONS.join(", ")
        )));
    }
    crate::names::validate_region(region).map_err(|_| malformed("invalid region"))?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("the account id must be 12 digits"));
    }
    let Some(name) = resource.strip_prefix("parameter/") else {
        return Err(malformed("expected parameter/NAME after the account id"));
    };
    // `parameter/a/b` is the ARN of `/a/b`; `parameter/a` of `a` (no hierarchy).
    let qualified = if name.contains('/') {
        format!("/{name}")
    } else {
        name.to_string()
    };
    check_parameter_name(text, &qualified)?;
    if qualified.ends_with('/') {
        return Err(malformed(
            "a path is read in the caller's own account and region: write ssm:/PATH/ and set              AWS_REGION",
        ));
    }
    let selector = match more {
        [] => None,
        [selector] => Some(check_selector(text, selector)?),
        _ => return Err(malformed("too many `:` fields after the name")),
    };
    let arn = format!("arn:{partition}:ssm:{region}:{account}:{resource}");
    Ok(Reference {
        secret_id: arn.clone(),
        region: Some(region.to_string()),
        target,
        parameter: Some(Parameter {
            name: arn,
            selector,
            path: false,
        }),
        ..Reference::default()
    })
}

/// `NAME` and its optional `:SELECTOR`.
fn split_selector<'a>(text: &str, rest: &'a str) -> Result<(&'a str, Option<String>), Error> {
    let mut fields = rest.split(':');
    let name = fields.next().unwrap_or_default();
    let selector = match (fields.next(), fields.next()) {
        (None, _) => None,
        (Some(selector), None) => Some(check_selector(text, selector)?),
        (Some(_), Some(_)) => {
            return Err(parameter_malformed(
                text,
                "too many `:` fields: expected ssm:NAME, ssm:NAME:VERSION or ssm:NAME:LABEL",
            ));
        }
    };
    Ok((name, selector))
}

/// A version (digits) or a label: 1–100 letters, digits, `.`, `-` and `_`, not starting with a
/// digit, `aws` or `ssm` (Parameter Store's rules).
fn check_selector(text: &str, selector: &str) -> Result<String, Error> {
    if !selector.is_empty() && selector.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(selector.to_string());
    }
    let lower = selector.to_ascii_lowercase();
    let valid = !selector.is_empty()
        && selector.len() <= 100
        && !selector.starts_with(|c: char| c.is_ascii_digit())
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
        && selector
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(selector.to_string())
    } else {
        Err(parameter_malformed(
            text,
            "after NAME: comes a version (digits) or a label (letters, digits, . - _, not              starting with a digit, aws or ssm)",
        ))
    }
}

/// A parameter name or path: `A-Za-z0-9_.-/`, at most 1011 characters and 15 levels; a name
/// with a hierarchy starts with `/`, and no segment is empty (but a path's trailing `/`).
fn check_parameter_name(text: &str, name: &str) -> Result<(), Error> {
    let malformed = |reason: &str| parameter_malformed(text, reason);
    if name.is_empty() || name.len() > MAX_PARAMETER_NAME_LEN || !is_parameter_text(name) {
        return Err(malformed(
            "a parameter name is 1 to 1011 letters, digits and _.-/ characters",
        ));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err(malformed(
            "a parameter name with a hierarchy starts with /, e.g. ssm:/short-cut/prod/openai-key",
        ));
    }
    let inner = name.strip_prefix('/').unwrap_or(name);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    if name != "/" && inner.split('/').any(str::is_empty) {
        return Err(malformed("a parameter name has no empty segment (`//`)"));
    }
    if inner.split('/').count() > MAX_PARAMETER_LEVELS {
        return Err(malformed("a parameter hierarchy has at most 15 levels"));
    }
    Ok(())
}

fn parameter_malformed(reference: &str, reason: &str) -> Error {
    Error::ReferenceMalformed {
        reference: reference.to_string(),
        reason: reason.to_string(),
    }
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

    fn parameter(text: &str) -> Parameter {
        parse(text).unwrap().parameter.unwrap()
    }

    #[test]
    fn ssm_names_parse_with_their_selector() {
        let p = parameter("ssm:/short-cut/prod/openai-key");
        assert_eq!(p.name, "/short-cut/prod/openai-key");
        assert_eq!((p.selector, p.path), (None, false));
        assert_eq!(parameter("ssm:/a/b:3").request(), "/a/b:3");
        assert_eq!(
            parameter("ssm:/a/b:prod-2").selector.as_deref(),
            Some("prod-2")
        );
        assert_eq!(parameter("ssm:plain").name, "plain");
        let reference = parse("ssm:/a/b:3").unwrap();
        assert_eq!(reference.secret_id, "ssm:/a/b:3");
        assert_eq!(reference.region, None);
        assert_eq!(reference.version_stage, None);
    }

    #[test]
    fn ssm_var_names_the_variable() {
        let reference = parse("OPENAI_API_KEY=ssm:/short-cut/prod/openai-key").unwrap();
        assert_eq!(reference.target.as_deref(), Some("OPENAI_API_KEY"));
        assert_eq!(reference.secret_id, "ssm:/short-cut/prod/openai-key");
        assert_eq!(last_segment("/short-cut/prod/openai-key"), "openai-key");
    }

    #[test]
    fn ssm_paths_end_with_a_slash() {
        let p = parameter("ssm:/short-cut/prod/");
        assert!(p.path);
        assert_eq!(p.name, "/short-cut/prod/");
        assert!(parameter("ssm:/").path);
    }

    #[test]
    fn ssm_arns_keep_their_region() {
        let arn = "arn:aws:ssm:eu-west-1:111122223333:parameter/short-cut/prod/openai-key";
        let reference = parse(arn).unwrap();
        assert_eq!(reference.region.as_deref(), Some("eu-west-1"));
        assert_eq!(reference.parameter.as_ref().unwrap().name, arn);
        let pinned = parse(&format!("K={arn}:7")).unwrap();
        assert_eq!(pinned.parameter.unwrap().request(), format!("{arn}:7"));
        assert_eq!(pinned.target.as_deref(), Some("K"));
    }

    #[test]
    fn bad_ssm_references_are_configuration_errors() {
        for text in [
            "ssm:",
            "ssm:a/b",
            "ssm:/a//b",
            "ssm:/a b",
            "ssm:/a:1:2",
            "ssm:/a:1abc",
            "ssm:/a:awsx",
            "ssm:/a:",
            "X=ssm:/a/",
            "ssm:/a/:3",
            "arn:aws:ssm:eu-west-1:111122223333:parameter:x",
            "arn:aws:ssm:eu-west-1:1111:parameter/x",
            "arn:aws:ssm:EU:111122223333:parameter/x",
            "arn:aws:ssm:eu-west-1:111122223333:parameter/a/",
            "arn:aws:ssm:eu-west-1:111122223333:parameter/a:1:2",
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(
                (err.kind().as_str(), err.exit_code()),
                ("reference-malformed", 78),
                "{text}"
            );
        }
        let deep = format!("ssm:{}", "/a".repeat(16));
        assert!(parse(&deep).is_err());
    }
}
