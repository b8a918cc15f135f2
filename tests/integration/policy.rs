//! The environment policy: preserve, selection, renaming, required keys, protected names,
//! generic files.

use std::os::unix::fs::MetadataExt;

use crate::support::*;

const SECRET: &str = r#"{"OPENAI_API_KEY":"o","PINECONE_API_KEY":"p","MILVUS_HOST":"h","MILVUS_PORT":"1","HOME":"/evil"}"#;

// (--preserve-env bare and SHORTCUT_ENV_PRESERVE_ENV=1 keep every inherited variable:
// fetch::preserve_env_*.)

#[test]
fn preserve_env_with_names_keeps_only_those_inherited_variables() {
    Run::secret(SECRET)
        .env("MILVUS_HOST", "inherited-host")
        .env("MILVUS_PORT", "inherited-port")
        .arg("--preserve-env=MILVUS_HOST")
        .stderr_has("kept over secret values (--preserve-env): MILVUS_HOST")
        .stderr_has("override inherited variables: MILVUS_PORT")
        .sees("MILVUS_HOST", "inherited-host")
        .sees("MILVUS_PORT", "1")
        .run();
}

#[test]
fn only_exclude_map_and_prefix_compose_as_documented() {
    let secret = seed_text(SECRET);
    let mut run = Run::moto(&secret.name);
    run.arg("--only")
        .arg("*_API_KEY,MILVUS_*")
        .arg("--exclude")
        .arg("PINECONE_*")
        .arg("--map")
        .arg("MILVUS_HOST=DB_HOST")
        .arg("--prefix")
        .arg("APP_");
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_has("loaded 3 keys");
    assert_eq!(env["APP_OPENAI_API_KEY"], "o");
    assert_eq!(env["DB_HOST"], "h");
    assert_eq!(env["APP_MILVUS_PORT"], "1");
    for absent in [
        "OPENAI_API_KEY",
        "APP_PINECONE_API_KEY",
        "MILVUS_HOST",
        "APP_MILVUS_HOST",
    ] {
        assert!(!env.contains_key(absent), "{absent}");
    }
}

#[test]
fn protected_home_is_skipped_and_named() {
    let mut run = Run::secret(SECRET);
    let home = run.path("home").display().to_string();
    run.stderr_has("skipped protected names: HOME")
        .sees("HOME", &home)
        .run();
}

#[test]
fn protected_home_is_set_when_allow_key_names_it() {
    Run::secret(SECRET)
        .arg("--allow-key")
        .arg("HOME")
        .stderr_lacks("protected")
        .sees("HOME", "/evil")
        .run();
}

#[test]
fn protected_name_as_a_map_target_is_78_naming_allow_key() {
    Run::secret(SECRET)
        .arg("--map")
        .arg("MILVUS_HOST=LD_PRELOAD")
        .probe()
        .fails(78)
        .stderr_has("LD_PRELOAD")
        .stderr_has("--allow-key")
        .run();
}

#[test]
fn required_keys_are_named_all_at_once_after_renaming() {
    let secret = seed_text(SECRET);
    let mut run = Run::moto(&secret.name);
    run.env(
        "SHORTCUT_ENV_REQUIRE",
        "DB_HOST,OPENAI_API_KEY,ABSENT_ONE,ABSENT_TWO",
    )
    .arg("--map")
    .arg("MILVUS_HOST=DB_HOST")
    .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(65)
        .stderr_has("required keys missing: ABSENT_ONE, ABSENT_TWO");
}

#[test]
fn file_writes_a_private_file_and_points_a_variable_at_it() {
    let secret = seed_text(r#"{"TLS_KEY":"-----BEGIN KEY-----\nabc\n","OTHER":"x"}"#);
    let mut run = Run::moto(&secret.name);
    let dir = run.path("creds");
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &dir)
        .arg("--file")
        .arg("TLS_KEY=TLS_KEY_FILE")
        .command(&["/bin/sh", "-c", r#"cat "$TLS_KEY_FILE""#]);
    let outcome = run.run();
    outcome.code(0);
    assert_eq!(outcome.stdout, "-----BEGIN KEY-----\nabc\n");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("tls-key-")
        })
        .unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
}

#[test]
fn file_of_a_key_that_is_not_there_is_65() {
    Run::secret(r#"{"TLS_KEY":"k"}"#)
        .arg("--file")
        .arg("ABSENT=F")
        .probe()
        .fails(65)
        .stderr_has("ABSENT")
        .run();
}

// (Two files onto one variable is 78: config::option_files_twice_the_same_variable_is_78.)

#[test]
fn secret_key_is_an_ordinary_key() {
    let secret = seed_text(r#"{"SECRET_KEY":"django","SECRET_NAME":"other/app"}"#);
    let (outcome, env) = Run::moto(&secret.name).env_seen();
    outcome
        .code(0)
        .stderr_has("skipped protected names: SECRET_NAME");
    assert_eq!(env["SECRET_KEY"], "django");
}

#[test]
fn bash_env_from_a_secret_does_not_run_code_in_the_command() {
    let run = Run::bare();
    let ran = run.path("bash-env-ran");
    let script = run.path("evil.sh");
    std::fs::write(&script, format!("touch {}\n", ran.display())).unwrap();
    let secret = seed_text(&serde_json::json!({ "BASH_ENV": script, "OK": "1" }).to_string());
    let mut run = Run::moto(&secret.name);
    run.command(&["bash", "-c", "echo ran"]);
    run.run()
        .code(0)
        .stderr_has("skipped protected names: BASH_ENV");
    assert!(!ran.exists(), "BASH_ENV from the secret ran in the command");
}

#[test]
fn interpreter_trust_and_proxy_variables_are_skipped_and_named() {
    let names = [
        "PYTHONPATH",
        "PYTHONWARNINGS",
        "BROWSER",
        "NODE_OPTIONS",
        "JAVA_TOOL_OPTIONS",
        "GCONV_PATH",
        "SSL_CERT_FILE",
        "HTTPS_PROXY",
        "https_proxy",
        "TMPDIR",
    ];
    let members: Vec<String> = names.iter().map(|n| format!(r#""{n}":"/evil""#)).collect();
    let secret = seed_text(&format!("{{{}}}", members.join(",")));
    let (outcome, env) = Run::moto(&secret.name).env_seen();
    outcome
        .code(0)
        .stderr_has(&format!("skipped protected names: {}", names.join(", ")));
    for name in names {
        assert_ne!(env.get(name).map(String::as_str), Some("/evil"), "{name}");
    }
}

#[test]
fn allow_key_lets_one_protected_name_through() {
    let secret = seed_text(r#"{"HTTPS_PROXY":"http://proxy:3128","NODE_OPTIONS":"--x"}"#);
    let mut run = Run::moto(&secret.name);
    run.arg("--allow-key").arg("HTTPS_PROXY");
    let (outcome, env) = run.env_seen();
    outcome
        .code(0)
        .stderr_has("skipped protected names: NODE_OPTIONS");
    assert_eq!(env["HTTPS_PROXY"], "http://proxy:3128");
}

#[test]
fn prefix_still_writes_the_gcp_key_file() {
    let key = r#"{"type":"service_account","private_key":"LEAKMARKER"}"#;
    let secret = seed_text(
        &serde_json::json!({ "GOOGLE_APPLICATION_CREDENTIALS_JSON": key, "HOST": "h" }).to_string(),
    );
    let mut run = Run::moto(&secret.name);
    run.arg("--prefix").arg("APP_");
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_lacks(MARKER);
    assert_eq!(env["APP_HOST"], "h");
    assert!(!env.contains_key("APP_GOOGLE_APPLICATION_CREDENTIALS_JSON"));
    let file = std::fs::read_to_string(&env["GOOGLE_APPLICATION_CREDENTIALS"]).unwrap();
    assert_eq!(file, key);
}
