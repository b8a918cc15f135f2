//! One pipeline for every mode: `check` and `export` fail where and as the start would, because
//! they are the start with another last step (src/app.rs).

use crate::support::Run;

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
