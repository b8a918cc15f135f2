//! The command line: a forgotten `--`, options on either side of a subcommand, usage errors as
//! JSON, write errors on stdout.

use crate::support::*;

#[test]
fn forgetting_the_double_dash_gets_a_hint_naming_it() {
    let mut run = Run::local();
    run.arg("uvicorn").arg("main:app");
    run.run()
        .fails(64)
        .stderr_has("unexpected argument uvicorn")
        .stderr_has("hint: put `--` before the command, e.g. `shortcut-env -- uvicorn");
}

#[test]
fn options_before_a_subcommand_apply_to_it() {
    let mut run = Run::local();
    run.arg("--require").arg("NOT_THERE").arg("check");
    let outcome = run.run();
    outcome
        .code(65)
        .stderr_has("required keys missing: NOT_THERE");
}

#[test]
fn options_after_a_subcommand_still_apply_to_it() {
    let mut run = Run::local();
    run.arg("check").arg("--require").arg("NOT_THERE");
    run.run()
        .code(65)
        .stderr_has("required keys missing: NOT_THERE");
}

#[test]
fn options_before_export_apply_to_it() {
    let mut run = Run::local();
    std::fs::write(run.path(".env"), "A=1\nB=2\n").unwrap();
    run.arg("--only")
        .arg("A")
        .arg("export")
        .arg("--format")
        .arg("shell");
    assert_eq!(run.run().code(0).stdout, "export A=1\n");
}

/// The one JSON error line of a run.
fn json_error(run: &Run) -> serde_json::Value {
    let outcome = run.run();
    outcome.code(64);
    serde_json::from_str(outcome.stderr.trim())
        .unwrap_or_else(|e| panic!("not one JSON line ({e}): {}", outcome.stderr))
}

#[test]
fn usage_errors_are_json_with_the_log_format_flag() {
    let mut run = Run::local();
    run.arg("--log-format").arg("json").arg("--no-such-flag");
    let line = json_error(&run);
    assert_eq!(line["error"], "usage");
    assert!(line["message"].as_str().unwrap().contains("--no-such-flag"));
}

#[test]
fn usage_errors_are_json_with_the_log_format_variable() {
    let mut run = Run::local();
    run.env("SHORTCUT_ENV_LOG_FORMAT", "json").arg("uvicorn");
    let line = json_error(&run);
    assert_eq!(line["error"], "command-without-double-dash");
    assert!(line["hint"].as_str().unwrap().contains("--"));
}

#[test]
fn usage_errors_are_two_lines_in_text() {
    let mut run = Run::local();
    run.arg("--regoin").arg("x");
    run.run()
        .fails(64)
        .stderr_has("unexpected argument '--regoin'")
        .stderr_has("'--region'");
}

#[test]
fn export_to_a_full_disk_fails_with_74() {
    let mut run = Run::local();
    std::fs::write(run.path(".env"), format!("A={MARKER}\n")).unwrap();
    run.stdout_to(std::path::Path::new("/dev/full"))
        .arg("export");
    run.run()
        .fails(74)
        .stderr_has("could not write the output to stdout")
        .stderr_lacks(MARKER);
}

#[test]
fn check_to_a_full_disk_fails_with_74() {
    let mut run = Run::local();
    run.stdout_to(std::path::Path::new("/dev/full"))
        .arg("check");
    run.run().fails(74).stderr_has("No space left on device");
}
