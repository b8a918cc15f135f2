//! `check` and `export`: inspection without exec.

use std::collections::BTreeMap;

use crate::support::*;

#[test]
fn check_names_keys_and_sources_and_never_prints_a_value() {
    let secret = seed_text(&guide_secret());
    let mut run = Run::moto(&secret.name);
    let dir = run.path("creds");
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &dir)
        .env("INHERITED_ONE", "x")
        .arg("check")
        .arg("--require")
        .arg("OPENAI_API_KEY,INHERITED_ONE");
    let outcome = run.run();
    outcome.code(0).stderr_has("loaded 7 keys");
    let line = |key: &str| {
        outcome
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no line for {key}:\n{}", outcome.stdout))
            .to_string()
    };
    assert!(line("OPENAI_API_KEY").contains(&secret.name));
    assert!(line("OPENAI_API_KEY").ends_with("OK (required)"));
    assert!(line("INHERITED_ONE").contains("inherited"));
    assert!(line("GOOGLE_APPLICATION_CREDENTIALS").ends_with("OK"));
    assert!(!outcome.stdout.contains(MARKER), "{}", outcome.stdout);
    outcome.stderr_lacks(MARKER);
    // Nothing is left behind by a check.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn check_fails_as_the_start_would_and_lists_what_is_missing() {
    let outcome = Run::secret(r#"{"A":"1"}"#)
        .arg("check")
        .arg("--require")
        .arg("A,B")
        .code(65)
        .stderr_has("required keys missing: B")
        .run();
    assert!(outcome.stdout.contains("FAIL (required, missing)"));
}

#[test]
fn check_of_a_missing_secret_fails_as_the_start_would() {
    Run::moto("short-cut/test/absent")
        .arg("check")
        .fails(66)
        .run();
}

const HARD: &str = r#"{"QUOTES":"it's \"quoted\"","DOLLAR":"$HOME ${PATH} $(id)","TICKS":"`id`","NEWLINES":"a\nb\n","BACKSLASH":"c:\\dir\\n","UNICODE":"żółw ✓"}"#;

fn expected() -> BTreeMap<String, String> {
    serde_json::from_str(HARD).unwrap()
}

#[test]
fn export_shell_survives_eval() {
    let secret = seed_text(HARD);
    let mut run = Run::moto(&secret.name);
    run.arg("export").arg("--format").arg("shell");
    let outcome = run.run();
    outcome.code(0);
    let script = format!("{}\nenv -0", outcome.stdout);
    let output = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success());
    let seen: BTreeMap<String, String> = output
        .stdout
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (k, v) = std::str::from_utf8(e).unwrap().split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    for (key, value) in expected() {
        assert_eq!(seen.get(&key), Some(&value), "{key}");
    }
}

#[test]
fn export_dotenv_round_trips_through_local_mode() {
    let secret = seed_text(DOTENV_SAFE);
    let mut run = Run::moto(&secret.name);
    run.arg("export");
    let outcome = run.run();
    outcome.code(0);

    // The exported file, read back by shortcut-env's own dotenv reader in local mode.
    let mut local = Run::local();
    std::fs::write(local.path(".env"), &outcome.stdout).unwrap();
    let (back, env) = local.env_seen();
    back.code(0);
    for (key, value) in dotenv_expected() {
        assert_eq!(env.get(&key), Some(&value), "{key}");
    }
}

#[test]
fn export_json_is_one_object() {
    let secret = seed_text(HARD);
    let mut run = Run::moto(&secret.name);
    run.arg("export").arg("--format").arg("json");
    let outcome = run.run();
    outcome.code(0);
    let seen: BTreeMap<String, String> = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(seen, expected());
}

#[test]
fn help_says_export_is_the_only_command_printing_values() {
    let outcome = Run::bare().arg("export").arg("--help").run();
    outcome.code(0);
    assert!(
        outcome
            .stdout
            .contains("The only command that prints secret values")
    );
}

// ---- `export --format dotenv` read back by the real parsers ----------------------------------

/// Nasty values that every dotenv parser and sh can carry: quotes of each kind, a quote with a
/// newline, backslashes, `$`, `#`, newlines, tabs, unicode, `${X` unterminated, spaces, `=`.
const DOTENV_SAFE: &str = r##"{
    "SINGLE":"it's","DOUBLE":"say \"hi\"","SINGLE_NL":"it's\non two lines",
    "BACKSLASH":"c:\\dir\\n \\t \\\" x","DOLLAR":"$HOME $(id) `id` ${unterminated",
    "HASH":"#not a comment","MID_HASH":"a # b","NEWLINES":"a\nb\n\nc\n","TAB":"a\tb",
    "UNICODE":"żółw ✓ 😀 \u2028","SPACES":"  padded  ","EMPTY":"","EQUALS":"=a=b=",
    "BRACES":"{\"json\":[1,2]}","LEAKMARKER_KEY":"LEAKMARKER"
}"##;

fn dotenv_expected() -> BTreeMap<String, String> {
    serde_json::from_str(DOTENV_SAFE).unwrap()
}

/// The default `export` of DOTENV_SAFE, as a file.
fn exported_dotenv(run: &mut Run) -> std::path::PathBuf {
    let secret = seed_text(DOTENV_SAFE);
    let mut export = Run::moto(&secret.name);
    export.arg("export");
    let outcome = export.run();
    outcome.code(0).stderr_lacks(MARKER);
    let path = run.path("exported.env");
    std::fs::write(&path, &outcome.stdout).unwrap();
    path
}

/// Runs a parser that prints the file's variables as one JSON object.
fn parsed_by(command: &mut std::process::Command, install: &str) -> BTreeMap<String, String> {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("could not run {command:?}: {e}; {install}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{install}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn assert_round_trip(parser: &str, seen: &BTreeMap<String, String>) {
    for (key, value) in dotenv_expected() {
        assert_eq!(
            seen.get(&key),
            Some(&value),
            "{parser} read {key} differently"
        );
    }
}

#[test]
fn export_dotenv_round_trips_through_python_dotenv() {
    let mut run = Run::bare();
    let file = exported_dotenv(&mut run);
    let install = "python-dotenv is needed: `pip install -r tests/requirements.txt` into the \
                   python of SHORTCUT_ENV_TEST_PYTHON (or .venv)";
    let mut python = std::process::Command::new(project_python());
    python
        .arg("-c")
        .arg("import json, sys; from dotenv import dotenv_values; print(json.dumps(dotenv_values(sys.argv[1])))")
        .arg(&file)
        .env_clear();
    assert_round_trip("python-dotenv", &parsed_by(&mut python, install));
}

#[test]
fn export_dotenv_round_trips_through_node_dotenv() {
    let consumers = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/consumers");
    let install = "Node's dotenv is needed: install node, then `npm ci --prefix tests/consumers`";
    assert!(
        consumers.join("node_modules/dotenv").is_dir(),
        "tests/consumers/node_modules/dotenv is missing: {install}"
    );
    let mut run = Run::bare();
    let file = exported_dotenv(&mut run);
    let mut node = std::process::Command::new("node");
    node.arg("-e")
        .arg("const fs = require('fs'); const dotenv = require('dotenv'); console.log(JSON.stringify(dotenv.parse(fs.readFileSync(process.argv[1]))))")
        .arg(&file)
        .current_dir(&consumers);
    assert_round_trip("Node's dotenv", &parsed_by(&mut node, install));
}

#[test]
fn export_dotenv_round_trips_through_dotenvy() {
    let mut run = Run::bare();
    let file = exported_dotenv(&mut run);
    let seen: BTreeMap<String, String> = dotenvy::from_path_iter(&file)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_round_trip("dotenvy", &seen);
}

#[test]
fn export_dotenv_round_trips_through_sh() {
    let mut run = Run::bare();
    let file = exported_dotenv(&mut run);
    let output = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"set -a; . "$1"; exec env -0"#)
        .arg("sh")
        .arg(&file)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: BTreeMap<String, String> = output
        .stdout
        .split(|b| *b == 0)
        .filter_map(|e| std::str::from_utf8(e).ok()?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_round_trip("sh", &seen);
}

#[test]
fn export_dotenv_refuses_a_value_it_cannot_carry_naming_the_key() {
    let secret = seed_text(&format!(r#"{{"OK":"1","BAD":"{MARKER} ${{HOME}}"}}"#));
    let mut run = Run::moto(&secret.name);
    run.arg("export");
    let outcome = run.run();
    outcome
        .fails(65)
        .stderr_has("the value of BAD cannot be written")
        .stderr_has("--format json")
        .stderr_lacks(MARKER);
    assert!(outcome.stdout.is_empty());
}

#[test]
fn export_dotenv_refuses_a_carriage_return() {
    let secret = seed_text(r#"{"CRLF":"a\r\nb"}"#);
    let mut run = Run::moto(&secret.name);
    run.arg("export");
    run.run()
        .fails(65)
        .stderr_has("CRLF")
        .stderr_has("carriage return");
}

#[test]
fn export_shell_carries_what_dotenv_cannot() {
    let secret = seed_text(r#"{"CRLF":"a\r\nb","BOTH":"it's $5 \\\\share\\"}"#);
    let mut run = Run::moto(&secret.name);
    run.arg("export").arg("--format").arg("shell");
    let outcome = run.run();
    outcome.code(0);
    let output = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "{}\nprintf '%s|%s' \"$CRLF\" \"$BOTH\"",
            outcome.stdout
        ))
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "a\r\nb|it's $5 \\\\share\\"
    );
}
