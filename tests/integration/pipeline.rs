//! One pipeline for every mode: `check` and `export` fail where and as the start would, because
//! they are the start with another last step (src/app.rs).

use crate::support::{MARKER, Run, put_string, seed_text, unique, unique_path};

/// The same configuration run three ways: the start (with a command), `check`, `export`.
fn each_mode(setup: impl Fn(&mut Run)) -> [(&'static str, crate::support::Outcome); 3] {
    let run = |mode: &[&str]| {
        let mut run = Run::local();
        setup(&mut run);
        for word in mode {
            run.arg(word);
        }
        if mode.is_empty() {
            run.command(&["true"]);
        }
        run.run()
    };
    [
        ("start", run(&[])),
        ("check", run(&["check"])),
        ("export", run(&["export"])),
    ]
}

fn env_file(run: &mut Run, text: &str) {
    std::fs::write(run.path(".env"), text).unwrap();
}

#[track_caller]
fn all_exit(outcomes: &[(&str, crate::support::Outcome); 3], code: i32) {
    for (mode, outcome) in outcomes {
        assert_eq!(
            outcome.code,
            Some(code),
            "{mode} exited {:?}, not {code}:\n{}",
            outcome.code,
            outcome.stderr
        );
    }
}

#[test]
fn a_required_variable_set_by_a_file_is_there_in_every_mode() {
    let outcomes = each_mode(|run| {
        env_file(run, "TLS_KEY=key-text\n");
        run.arg("--require").arg("TLS_KEY_FILE");
        run.arg("--file").arg("TLS_KEY=TLS_KEY_FILE");
    });
    all_exit(&outcomes, 0);
    assert!(outcomes[1].1.stdout.contains("TLS_KEY_FILE"));
}

#[test]
fn a_missing_key_with_an_unsafe_directory_is_the_directory_in_every_mode() {
    let outcomes = each_mode(|run| {
        env_file(
            run,
            "GOOGLE_APPLICATION_CREDENTIALS_JSON={\"type\":\"service_account\"}\n",
        );
        let dir = run.path("open-dir");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &dir);
        run.arg("--require").arg("MISSING_KEY");
    });
    all_exit(&outcomes, 73);
    for (_, outcome) in &outcomes {
        outcome.fails(73).stderr_has("credentials directory");
    }
}

#[test]
fn a_missing_required_key_is_65_in_every_mode_and_check_still_reports() {
    let outcomes = each_mode(|run| {
        env_file(run, "PRESENT=1\n");
        run.arg("--require").arg("PRESENT,MISSING_KEY");
    });
    all_exit(&outcomes, 65);
    for (_, outcome) in &outcomes {
        outcome.stderr_has("MISSING_KEY");
    }
    // The report shows each required key's verdict before the error.
    let report = &outcomes[1].1.stdout;
    assert!(
        report.contains("MISSING_KEY") && report.contains("PRESENT"),
        "{report}"
    );
}

#[test]
fn an_unusable_gcp_key_is_65_in_every_mode_and_leaves_no_file() {
    let outcomes = each_mode(|run| {
        env_file(run, "GOOGLE_APPLICATION_CREDENTIALS_JSON='[1, 2]'\n");
        run.env("SHORTCUT_ENV_CREDENTIALS_DIR", run.path("creds"));
    });
    all_exit(&outcomes, 65);
}

#[test]
fn a_failed_start_after_writing_files_removes_them() {
    let mut run = Run::local();
    env_file(&mut run, "TLS_KEY=key-text\n");
    let dir = run.path("creds");
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &dir)
        .arg("--file")
        .arg("TLS_KEY=TLS_KEY_FILE")
        .arg("--require")
        .arg("MISSING_KEY")
        .command(&["true"]);
    run.run().fails(65);
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn export_keeps_the_files_whose_paths_it_printed() {
    let mut run = Run::local();
    env_file(&mut run, "TLS_KEY=key-text\n");
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", run.path("creds"))
        .arg("export")
        .arg("--file")
        .arg("TLS_KEY=TLS_KEY_FILE");
    let outcome = run.run();
    outcome.code(0);
    let line = outcome
        .stdout
        .lines()
        .find(|l| l.starts_with("TLS_KEY_FILE="))
        .unwrap();
    let path = line.trim_start_matches("TLS_KEY_FILE=").trim_matches('\'');
    assert_eq!(std::fs::read_to_string(path).unwrap(), "key-text");
}

// ---- several references: the first failure in configuration order wins --------------------
//
// The references are fetched concurrently and finish in any order; for each reference in
// order, its fetch failure or its data failure is reported before anything about a later one.

/// A secret whose value is not JSON (a data error, 65), a MARKER in it.
fn not_json() -> String {
    seed_text(&format!("{MARKER} is not JSON")).name
}

/// A secret name that nothing created (66).
fn missing_secret() -> String {
    unique("short-cut/test/missing")
}

/// Runs the start with `references` (comma-separated), a command that must not run.
fn start(references: &[&str]) -> crate::support::Outcome {
    let mut run = Run::moto(&references.join(","));
    run.command(&["/bin/echo", "ran"]);
    run.run()
}

#[test]
fn order_a_data_error_in_the_first_secret_wins_over_a_missing_second() {
    let (first, second) = (not_json(), missing_secret());
    start(&[&first, &second])
        .fails(65)
        .stderr_has(&format!("secret {first} is not a JSON object"))
        .stderr_lacks(&second);
}

#[test]
fn order_a_missing_first_secret_wins_over_a_data_error_in_the_second() {
    let (first, second) = (missing_secret(), not_json());
    start(&[&first, &second])
        .fails(66)
        .stderr_has(&first)
        .stderr_lacks(&second);
}

#[test]
fn order_a_bad_key_name_in_the_first_secret_wins_over_a_missing_second() {
    let first = seed_text(&format!(r#"{{"my-key":"{MARKER}"}}"#)).name;
    let second = missing_secret();
    start(&[&first, &second])
        .fails(65)
        .stderr_has("\"my-key\"")
        .stderr_lacks(&second);
}

#[test]
fn order_a_missing_first_parameter_wins_over_a_data_error_in_a_secret() {
    let parameter = format!("ssm:{}MISSING", unique_path());
    let secret = not_json();
    start(&[&parameter, &secret])
        .fails(66)
        .stderr_has(&parameter["ssm:".len()..])
        .stderr_lacks(&secret);
}

#[test]
fn order_a_bad_parameter_name_first_wins_over_a_missing_secret() {
    let path = unique_path();
    put_string(&format!("{path}openai-key"), MARKER);
    let secret = missing_secret();
    start(&[&format!("ssm:{path}openai-key"), &secret])
        .fails(65)
        .stderr_has("\"openai-key\"")
        .stderr_lacks(&secret);
}

#[test]
fn order_a_data_error_in_a_secret_wins_over_a_missing_parameter_after_it() {
    let secret = not_json();
    let parameter = format!("ssm:{}MISSING", unique_path());
    start(&[&secret, &parameter])
        .fails(65)
        .stderr_has(&format!("secret {secret} is not a JSON object"))
        .stderr_lacks("MISSING");
}
