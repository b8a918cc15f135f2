//! `check` and `export`: what the command would get, as text. Pure: data in, text out.
//!
//! `check` prints names and where they came from, never a value. `export` is the one place in
//! the program that prints values, because that is its whole purpose.

use std::fmt::Write;

use serde_json::{Map, Value};

use crate::cli::ExportFormat;
use crate::envmap::Built;
use crate::error::Error;
use crate::vars::Vars;

/// One line per key: name, source, and OK/FAIL against `required`. Keys from the sources, the
/// variables pointing at materialized files, then required keys found elsewhere or missing.
pub fn check_report(
    built: &Built,
    env: &Vars,
    required: &[String],
    file_vars: &[String],
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
        ExportFormat::Dotenv => pairs
            .iter()
            .map(|(k, v)| format!("{k}={}\n", dotenv_quote(v)))
            .collect(),
    })
}

/// Quoted for `eval` in any POSIX shell: single quotes, `'` as `'\''`. (Values cannot hold NUL.)
fn shell_quote(value: &str) -> String {
    shlex::try_quote(value)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("'{}'", value.replace('\'', r"'\''")))
}

/// Quoted for dotenv parsers (dotenvy, python-dotenv, docker compose): single quotes keep
/// everything literal, `$` and newlines included; a value holding `'` is double-quoted with
/// `\`, `"`, `$` and newlines escaped.
fn dotenv_quote(value: &str) -> String {
    if !value.contains('\'') {
        return format!("'{value}'");
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str(r"\\"),
            '"' => quoted.push_str("\\\""),
            '$' => quoted.push_str(r"\$"),
            '\n' => quoted.push_str(r"\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
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

    #[test]
    fn dotenv_export_survives_a_dotenv_parser() {
        let (env, names) = env_of(HARD);
        let text = export(&env, &names, ExportFormat::Dotenv).unwrap();
        let parsed: Vec<(String, String)> = dotenvy::from_read_iter(text.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(parsed.len(), HARD.len(), "{text}");
        for ((name, value), expected) in parsed.iter().zip(HARD) {
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
        let report = check_report(&built, &env, &required, &[]);
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
}
