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
    // Only the file and the directory's salt: no temporary left behind.
    let mut names: Vec<String> = std::fs::read_dir(run.path("creds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[0], ".shortcut-env-salt");
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

// (An unusable key is 65 with nothing written: hostile::gcp_*, whose checker asserts the
// credentials directory empty after every failure.)

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

/// A private `XDG_RUNTIME_DIR` (as systemd-logind makes `/run/user/UID`) for `run`.
fn runtime_dir(run: &mut Run) -> std::path::PathBuf {
    let dir = run.path("run-user");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    run.env("XDG_RUNTIME_DIR", &dir);
    dir
}

#[test]
fn the_default_directory_is_under_xdg_runtime_dir_when_there_is_one() {
    let secret = secret_with_key();
    let mut run = Run::moto(&secret.name);
    let runtime = runtime_dir(&mut run);
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    let path = std::path::PathBuf::from(&env["GOOGLE_APPLICATION_CREDENTIALS"]);
    assert_eq!(path.parent().unwrap(), runtime.join("shortcut-env"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), KEY);
}

/// An XDG_RUNTIME_DIR others can write is not what the spec promises: the temp dir is used.
#[test]
fn an_xdg_runtime_dir_others_can_write_is_not_used() {
    let secret = secret_with_key();
    let mut run = Run::moto(&secret.name);
    let runtime = runtime_dir(&mut run);
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    let path = std::path::PathBuf::from(&env["GOOGLE_APPLICATION_CREDENTIALS"]);
    assert_eq!(path.parent().unwrap().parent().unwrap(), run.path("tmp"));
}

/// Item 20: another user created `$TMPDIR/shortcut-env-UID` first. The error names them.
#[test]
fn a_squatted_default_directory_names_its_owner() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test gives a directory to another user: run the tests as root (as CI does)"
    );
    let secret = secret_with_key();
    let mut run = Run::moto(&secret.name);
    let squatted = run.path(&format!("tmp/shortcut-env-{}", nix::unistd::geteuid()));
    std::fs::create_dir(&squatted).unwrap();
    std::os::unix::fs::chown(&squatted, Some(65534), Some(65534)).unwrap();
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(73)
        .stderr_has("it is owned by uid 65534 (nobody), not by this user (uid 0 (root))")
        .stderr_has("another user created it first");
}

/// A start that writes no file does not fail because the default directory is unusable.
#[test]
fn a_squatted_default_directory_does_not_stop_a_start_that_writes_no_file() {
    let mut run = Run::local();
    let squatted = run.path(&format!("tmp/shortcut-env-{}", nix::unistd::geteuid()));
    std::fs::create_dir(&squatted).unwrap();
    std::fs::set_permissions(&squatted, std::fs::Permissions::from_mode(0o777)).unwrap();
    run.command(&["/bin/echo", "ran"]);
    assert_eq!(run.run().code(0).stdout, "ran\n");
}

/// An RSA key in PEM (PKCS#8), made by openssl, for a key file Google's library accepts.
fn real_key_json() -> String {
    let output = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .unwrap_or_else(|e| panic!("this test needs openssl to make a key: install openssl ({e})"));
    assert!(output.status.success());
    serde_json::json!({
        "type": "service_account",
        "project_id": "short-cut-test",
        "private_key_id": "0123",
        "private_key": String::from_utf8(output.stdout).unwrap(),
        "client_email": "app@short-cut-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    })
    .to_string()
}

/// The application changes directory, then loads its credentials with google-auth, as a
/// Python service does: the path it was given must not depend on the directory it started in.
const LOAD_AFTER_CD: &str = "cd / && \"$PYTHON\" -c 'import os; \
from google.oauth2 import service_account; \
c = service_account.Credentials.from_service_account_file(os.environ[\"GOOGLE_APPLICATION_CREDENTIALS\"]); \
print(c.service_account_email, os.path.isabs(os.environ[\"GOOGLE_APPLICATION_CREDENTIALS\"]))'";

fn google_auth_run() -> Run {
    let secret = seed_text(
        &serde_json::json!({ "GOOGLE_APPLICATION_CREDENTIALS_JSON": real_key_json() }).to_string(),
    );
    let mut run = Run::moto(&secret.name);
    let python = std::env::var("SHORTCUT_ENV_TEST_PYTHON")
        .unwrap_or_else(|_| format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR")));
    run.env("PYTHON", python)
        .command(&["/bin/sh", "-c", LOAD_AFTER_CD]);
    run
}

#[track_caller]
fn loaded_by_google_auth(outcome: &Outcome) {
    outcome.code(0);
    assert_eq!(
        outcome.stdout, "app@short-cut-test.iam.gserviceaccount.com True\n",
        "google-auth (pip install -r tests/requirements.txt) did not load the file:\n{}",
        outcome.stderr
    );
}

/// Item 18: a relative SHORTCUT_ENV_CREDENTIALS_DIR still gives an absolute path.
#[test]
fn a_relative_credentials_dir_gives_a_path_google_auth_loads_from_anywhere() {
    let mut run = google_auth_run();
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", "./creds");
    loaded_by_google_auth(&run.run());
    assert!(run.path("creds").is_dir());
}

/// Item 18: so does a relative TMPDIR, for the default directory.
#[test]
fn a_relative_tmpdir_gives_a_path_google_auth_loads_from_anywhere() {
    let mut run = google_auth_run();
    run.env("TMPDIR", "tmp");
    loaded_by_google_auth(&run.run());
}
