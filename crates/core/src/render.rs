//! `check` and `export`: what the command would get, as text. Pure: data in, text out.
//!
//! `check` prints names and where they came from, never a value. `export` is the one place in
//! the program that prints values, because that is its whole purpose.

use std::fmt::Write;

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::envmap::Built;
use crate::error::Error;
use crate::payload::Origin;
use crate::vars::Vars;

/// `export`'s output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `KEY='value'`, for python-dotenv, Node's dotenv and docker's `--env-file`.
    Dotenv,
    /// `export KEY='value'`, for `eval`.
    Shell,
    Json,
}

impl ExportFormat {
    /// The names `--format` accepts, in `--help`'s order.
    pub const NAMES: &[&str] = &["dotenv", "shell", "json"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "dotenv" => Some(ExportFormat::Dotenv),
            "shell" => Some(ExportFormat::Shell),
            "json" => Some(ExportFormat::Json),
            _ => None,
        }
    }
}

/// One line per key: name, source, and OK/FAIL against `required`. Keys from the sources, the
/// variables pointing at materialized files, then required keys found elsewhere or missing.
pub fn check_report(
    built: &Built,
    env: &Vars,
    required: &[String],
    file_vars: &[String],
    dropped: &[String],
) -> String {
    let mut rows: Vec<(String, String, &str)> = Vec::new();
    let is_required = |name: &str| required.iter().any(|r| r == name);
    for name in &built.applied {
        let source = built.origins.get(name).cloned().unwrap_or_default();
        rows.push((name.clone(), source, "OK"));
    }
    for name in file_vars {
        if !rows.iter().any(|(n, _, _)| n == name) {
            rows.push((name.clone(), "file written by shortcut-env".into(), "OK"));
        }
    }
    // --drop-aws-credentials: inherited, and removed from the command's environment.
    for name in dropped {
        rows.push((name.clone(), "inherited".into(), "DROPPED"));
    }
    for name in required {
        if rows.iter().any(|(n, _, _)| n == name) {
            continue;
        }
        if env.contains(name) {
            rows.push((name.clone(), "inherited".into(), "OK"));
        } else {
            rows.push((name.clone(), "-".into(), "FAIL"));
        }
    }
    let width = rows
        .iter()
        .map(|(n, _, _)| n.len())
        .max()
        .unwrap_or(0)
        .max(3);
    let source_width = rows
        .iter()
        .map(|(_, s, _)| s.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut text = format!("{:width$}  {:source_width$}  STATUS\n", "KEY", "SOURCE");
    for (name, source, status) in rows {
        let status = match (status, is_required(&name)) {
            ("FAIL", _) => "FAIL (required, missing)",
            ("DROPPED", true) => "FAIL (required, dropped by --drop-aws-credentials)",
            ("DROPPED", false) => "DROPPED (--drop-aws-credentials)",
            (_, true) => "OK (required)",
            _ => "OK",
        };
        let _ = writeln!(text, "{name:width$}  {source:source_width$}  {status}");
    }
    text
}

/// The variables `names` with their values from `env`, in `format`.
pub fn export(env: &Vars, names: &[String], format: ExportFormat) -> Result<String, Error> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for name in names {
        if pairs.iter().any(|(n, _)| n == name) {
            continue;
        }
        let Some(value) = env.get(name) else { continue };
        // Values come from JSON strings, dotenv files or paths we wrote: UTF-8.
        let value = value
            .to_str()
            .ok_or(Error::NotUnicode("an exported value"))?;
        pairs.push((name, value));
    }
    Ok(match format {
        ExportFormat::Json => {
            let object: Map<String, Value> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect();
            format!("{}\n", Value::Object(object))
        }
        ExportFormat::Shell => pairs
            .iter()
            .map(|(k, v)| format!("export {k}={}\n", shell_quote(v)))
            .collect(),
        ExportFormat::Dotenv => {
            let mut text = String::new();
            for (k, v) in &pairs {
                let quoted = dotenv_quote(v).map_err(|reason| Error::ExportUnrepresentable {
                    key: k.to_string(),
                    format: "dotenv",
                    reason,
                })?;
                let _ = writeln!(text, "{k}={quoted}");
            }
            text
        }
    })
}

/// Quoted for `eval` in any POSIX shell: single quotes, `'` as `'\''`. (Values cannot hold NUL.)
fn shell_quote(value: &str) -> String {
    shlex::try_quote(value).map_or_else(
        |_| format!("'{}'", value.replace('\'', r"'\''")),
        std::borrow::Cow::into_owned,
    )
}

/// Quoted so that python-dotenv (`dotenv_values`, interpolation on), Node's `dotenv`, dotenvy
/// and `sh` (`set -a; . FILE`) all read back exactly `value`, or the reason none can.
///
/// They share little. Single quotes are literal for sh, Node and dotenvy, and for python-dotenv
/// except that it turns `\\` into `\` and `\'` into `'`, and still expands `${NAME}`.
/// Double quotes are needed for a `'`, but there the parsers disagree on every backslash
/// escape (Node decodes only `\n` and `\r`, sh needs `\$`, `\"`, `` \` ``, which python-dotenv
/// keeps), so only a value without `"`, `\`, `$` and `` ` `` can be double-quoted. Node turns
/// every CR into LF before parsing. What fits neither form is refused, never written altered.
fn dotenv_quote(value: &str) -> Result<String, &'static str> {
    if value.contains('\r') {
        return Err("it holds a carriage return, which Node's dotenv turns into a newline");
    }
    if value.contains("\\\\") {
        return Err("it holds two backslashes in a row, which python-dotenv reads as one");
    }
    if value.ends_with('\\') {
        return Err("it ends with a backslash, which escapes the closing quote");
    }
    if let Some(at) = value.find("${")
        && value[at..].contains('}')
    {
        return Err("it holds ${...}, which python-dotenv expands in every form");
    }
    if !value.contains('\'') {
        return Ok(format!("'{value}'"));
    }
    if value.contains(['"', '\\', '$', '`']) {
        return Err(
            "it holds a single quote together with one of \" \\ $ `, which no quoting \
                    common to sh and the dotenv parsers can carry",
        );
    }
    Ok(format!("\"{value}\""))
}

/// What a start did, for its one success line.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub app_env: &'static str,
    /// The configured region (AWS_REGION, …, or the first ARN's); `None` in local mode or when
    /// the profile gave it.
    pub region: Option<&'a str>,
    pub origins: &'a [Origin],
    /// How many variables the sources set.
    pub keys: usize,
    /// The GCP key file written, if any.
    pub gcp_file: Option<&'a Path>,
    pub elapsed_ms: u128,
}

/// The success line and its JSON fields: `loaded 3 keys from short-cut/prod/app (version 3f0c…,
/// AWSCURRENT) in 41 ms`.
pub fn success_line(report: &Report<'_>) -> (String, Map<String, Value>) {
    let mut fields = Map::new();
    let mut secrets = Vec::new();
    let mut parameters = Vec::new();
    let mut shown = Vec::new();
    // After the time, so that what parses the line (docs/rotation.md) still does.
    let mut replicas = String::new();
    for origin in report.origins {
        match origin {
            Origin::DotEnv { path, found } => {
                shown.push(if *found {
                    format!("{} (local mode)", path.display())
                } else {
                    format!("nowhere: no {} file (local mode)", path.display())
                });
                fields.insert("env_file".into(), json!(path.display().to_string()));
            }
            Origin::Secret {
                secret,
                region,
                version_id,
                version_stages,
                failed_over_from,
            } => {
                if failed_over_from.is_some() {
                    replicas.push_str(&format!(", {secret} from the replica in {region}"));
                }
                shown.push(format!(
                    "{secret} (version {}, {})",
                    version_id.as_deref().unwrap_or("unknown"),
                    version_stages.join(",")
                ));
                let mut entry = json!({
                    "secret": secret,
                    "region": region,
                    "version_id": version_id,
                    "version_stages": version_stages,
                });
                if let (Some(from), Some(entry)) = (failed_over_from, entry.as_object_mut()) {
                    entry.insert("failed_over_from".into(), json!(from));
                }
                secrets.push(entry);
            }
            // The shape of a secret's, so that what parses the line reads both.
            Origin::Parameter {
                parameter,
                region,
                version,
                kind,
            } => {
                shown.push(format!("{parameter} (version {version}, {kind})"));
                parameters.push(json!({
                    "parameter": parameter,
                    "region": region,
                    "version": version,
                    "type": kind,
                }));
            }
        }
    }
    if !parameters.is_empty() {
        fields.insert("region".into(), json!(report.region));
        fields.insert("parameters".into(), Value::Array(parameters));
    }
    if !secrets.is_empty() {
        fields.insert("region".into(), json!(report.region));
        if let [only] = secrets.as_slice() {
            for field in ["secret", "version_id", "version_stages"] {
                fields.insert(field.into(), only[field].clone());
            }
            // `region` is the configured one; `secret_region` the one that answered.
            fields.insert("secret_region".into(), only["region"].clone());
            if let Some(from) = only.get("failed_over_from") {
                fields.insert("failed_over_from".into(), from.clone());
            }
        }
        fields.insert("secrets".into(), Value::Array(secrets));
    }
    if let Some(file) = report.gcp_file {
        fields.insert(
            "gcp_credentials_file".into(),
            json!(file.display().to_string()),
        );
    }
    let keys = report.keys;
    fields.insert("keys".into(), json!(keys));
    fields.insert("elapsed_ms".into(), json!(report.elapsed_ms));
    fields.insert("app_env".into(), json!(report.app_env));
    let plural = if keys == 1 { "" } else { "s" };
    let message = format!(
        "loaded {keys} key{plural} from {} in {} ms{replicas}",
        shown.join(", "),
        report.elapsed_ms
    );
    (message, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HARD: &[&str] = &[
        "plain",
        "",
        "with space",
        "it's",
        r#"double "quotes""#,
        "dollar $HOME ${HOME} $(id) `id`",
        "line1\nline2\n",
        r"back\slash \n literal",
        "mixed ' \" $X `y` \\ \n end",
        "unicode ✓ żółw",
        "a=b#c",
        "#hash",
    ];

    fn env_of(values: &[&str]) -> (Vars, Vec<String>) {
        let names: Vec<String> = (0..values.len()).map(|i| format!("K{i}")).collect();
        let env = names.iter().cloned().zip(values.iter().copied()).collect();
        (env, names)
    }

    /// What every dotenv parser and sh can carry.
    const DOTENV_SAFE: &[&str] = &[
        "plain",
        "",
        "  leading and trailing spaces  ",
        "it's",
        r#"double "quotes""#,
        "it's\non two lines",
        "dollar $HOME $(id) `id` ${unterminated",
        "line1\nline2\n",
        r"back\slash \n literal",
        "tab\there",
        "unicode ✓ żółw",
        "a=b#c",
        "#hash",
        "a # not a comment",
    ];

    #[test]
    fn dotenv_export_refuses_what_it_cannot_carry_naming_the_key() {
        for bad in [
            "a\r\nb",
            r"\\server\share",
            r"ends with \",
            "${HOME}",
            "it's $5",
            r#"it's "both""#,
            r"it's C:\dir",
            "it's `id`",
        ] {
            let (env, names) = env_of(&["fine", bad]);
            let err = export(&env, &names, ExportFormat::Dotenv).unwrap_err();
            assert_eq!(
                (err.kind().as_str(), err.exit_code()),
                ("export-unrepresentable", 65),
                "{bad}"
            );
            let shown = format!("{err} {}", err.hint());
            assert!(shown.contains("K1") && !shown.contains(bad), "{shown}");
        }
    }

    #[test]
    fn dotenv_export_survives_a_dotenv_parser() {
        let (env, names) = env_of(DOTENV_SAFE);
        let text = export(&env, &names, ExportFormat::Dotenv).unwrap();
        let parsed: Vec<(String, String)> = dotenvy::from_read_iter(text.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(parsed.len(), DOTENV_SAFE.len(), "{text}");
        for ((name, value), expected) in parsed.iter().zip(DOTENV_SAFE) {
            assert_eq!(value, expected, "{name} from {text}");
        }
    }

    #[test]
    fn shell_export_survives_eval_in_sh() {
        let (env, names) = env_of(HARD);
        let text = export(&env, &names, ExportFormat::Shell).unwrap();
        let script = format!("{text}\nenv -0");
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .env_clear()
            .output()
            .unwrap();
        assert!(output.status.success());
        for (name, expected) in names.iter().zip(HARD) {
            let entry = format!("{name}={expected}");
            assert!(
                output
                    .stdout
                    .split(|b| *b == 0)
                    .any(|e| e == entry.as_bytes()),
                "{name} lost in {text}"
            );
        }
    }

    #[test]
    fn json_export_is_an_object_of_strings() {
        let (env, names) = env_of(HARD);
        let text = export(&env, &names, ExportFormat::Json).unwrap();
        let value: Map<String, Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(value["K3"], "it's");
        assert_eq!(value.len(), HARD.len());
    }

    #[test]
    fn the_check_report_names_sources_and_never_values() {
        let env: Vars = [("A", "secret-a"), ("HOME", "/root")].into_iter().collect();
        let mut built = Built::default();
        built.applied.push("A".into());
        built
            .origins
            .insert("A".into(), "short-cut/prod/app".into());
        let required = ["A", "HOME", "MISSING"].map(String::from);
        let report = check_report(&built, &env, &required, &[], &[]);
        assert!(!report.contains("secret-a"));
        let line = |key: &str| {
            report
                .lines()
                .find(|l| l.starts_with(key))
                .unwrap()
                .to_string()
        };
        assert!(line("A ").contains("short-cut/prod/app") && line("A ").ends_with("OK (required)"));
        assert!(line("HOME").contains("inherited"));
        assert!(line("MISSING").ends_with("FAIL (required, missing)"));
    }

    #[test]
    fn a_parameter_is_shown_in_the_shape_of_a_secret() {
        let origins = [Origin::Parameter {
            parameter: "ssm:/short-cut/prod/K".into(),
            region: "us-east-1".into(),
            version: 3,
            kind: "SecureString",
        }];
        let (message, fields) = success_line(&Report {
            app_env: "production",
            region: Some("us-east-1"),
            origins: &origins,
            keys: 1,
            gcp_file: None,
            elapsed_ms: 7,
        });
        assert_eq!(
            message,
            "loaded 1 key from ssm:/short-cut/prod/K (version 3, SecureString) in 7 ms"
        );
        assert_eq!(fields["parameters"][0]["version"], 3);
        assert_eq!(fields["parameters"][0]["type"], "SecureString");
    }
}
