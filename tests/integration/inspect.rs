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
    let secret = seed_text(r#"{"A":"1"}"#);
    let mut run = Run::moto(&secret.name);
    run.arg("check").arg("--require").arg("A,B");
    let outcome = run.run();
    outcome.code(65).stderr_has("required keys missing: B");
    assert!(outcome.stdout.contains("FAIL (required, missing)"));

    let mut run = Run::moto("short-cut/test/absent");
    run.arg("check");
    run.run().fails(66);
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
    let secret = seed_text(HARD);
    let mut run = Run::moto(&secret.name);
    run.arg("export");
    let outcome = run.run();
    outcome.code(0);

    // The exported file, read back by shortcut-env's own dotenv reader in local mode.
    let mut local = Run::local();
    std::fs::write(local.path(".env"), &outcome.stdout).unwrap();
    let (back, env) = local.env_seen();
    back.code(0);
    for (key, value) in expected() {
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
