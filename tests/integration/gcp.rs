//! The GCP credentials file.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::support::*;

const KEY: &str = r#"{"type":"service_account","project_id":"p","private_key":"LEAKMARKER"}"#;

fn secret_with_key() -> Seeded {
    let secret =
        serde_json::json!({ "GOOGLE_APPLICATION_CREDENTIALS_JSON": KEY, "GCP_PROJECT_ID": "p" });
    seed_text(&secret.to_string())
}

#[test]
fn the_key_is_written_0600_in_a_private_directory() {
    let secret = secret_with_key();
    let mut run = Run::moto(&secret.name);
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", run.path("creds"));
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_lacks(MARKER);
    let path = std::path::PathBuf::from(&env["GOOGLE_APPLICATION_CREDENTIALS"]);
    assert_eq!(path.parent().unwrap(), run.path("creds"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), KEY);
    let file = std::fs::symlink_metadata(&path).unwrap();
    assert!(file.file_type().is_file());
    assert_eq!(file.mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(run.path("creds")).unwrap().mode() & 0o777,
        0o700
    );
    // Only the file: no temporary left behind.
    assert_eq!(std::fs::read_dir(run.path("creds")).unwrap().count(), 1);
}

#[test]
fn the_default_directory_is_private_and_under_tmpdir() {
    let secret = secret_with_key();
    let mut run = Run::moto(&secret.name);
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    let path = std::path::PathBuf::from(&env["GOOGLE_APPLICATION_CREDENTIALS"]);
    let dir = path.parent().unwrap();
    assert_eq!(dir.parent().unwrap(), run.path("tmp"));
    assert!(
        dir.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("shortcut-env-")
    );
    assert_eq!(std::fs::metadata(dir).unwrap().mode() & 0o777, 0o700);
}

#[test]
fn an_unusable_key_exits_65_and_writes_nothing() {
    for bad in [
        "not json LEAKMARKER",
        "[\"LEAKMARKER\"]",
        r#"{"private_key":"LEAKMARKER"}"#,
    ] {
        let secret = seed_text(
            &serde_json::json!({ "GOOGLE_APPLICATION_CREDENTIALS_JSON": bad }).to_string(),
        );
        let mut run = Run::moto(&secret.name);
        run.env("SHORTCUT_ENV_CREDENTIALS_DIR", run.path("creds"))
            .command(&["/bin/echo", "ran"]);
        run.run()
            .fails(65)
            .stderr_has("GOOGLE_APPLICATION_CREDENTIALS_JSON")
            .stderr_lacks(MARKER);
        assert!(!run.path("creds").exists());
    }
}

#[test]
fn an_unsafe_directory_exits_73() {
    let secret = secret_with_key();
    let mut run = Run::moto(&secret.name);
    let open = run.path("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &open)
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(73)
        .stderr_has("writable by group or others")
        .stderr_has("hint:");

    let mut run = Run::moto(&secret.name);
    let link = run.path("link");
    std::os::unix::fs::symlink(run.temp.path(), &link).unwrap();
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &link)
        .command(&["/bin/echo", "ran"]);
    run.run().fails(73).stderr_has("symlink");
}

#[test]
fn an_unwritable_directory_exits_73() {
    let secret = secret_with_key();
    let mut run = Run::moto(&secret.name);
    run.env(
        "SHORTCUT_ENV_CREDENTIALS_DIR",
        "/proc/shortcut-env-cannot-exist",
    )
    .command(&["/bin/echo", "ran"]);
    run.run().fails(73);
}

#[test]
fn an_inherited_key_is_materialized_too() {
    let mut run = Run::local();
    run.env("GOOGLE_APPLICATION_CREDENTIALS_JSON", KEY);
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_lacks(MARKER);
    assert_eq!(
        std::fs::read_to_string(&env["GOOGLE_APPLICATION_CREDENTIALS"]).unwrap(),
        KEY
    );
}
