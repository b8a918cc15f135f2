//! Odd input that must reach the command intact or be refused clearly: values and secrets at
//! the edges of the rules, selection before names are checked, env files, and the settings
//! whose messages matter. (The exit code of every malformed secret, key, GCP key and setting is
//! in hostile.rs, each with the message it must carry; the rules themselves are unit-tested in
//! src/envmap.rs and src/config.rs.)

use crate::support::*;

fn nested(depth: usize) -> String {
    format!(
        "{}\"{MARKER}\"{}",
        "{\"a\":".repeat(depth),
        "}".repeat(depth)
    )
}

// ---- values that reach the command intact -------------------------------------------------

#[test]
fn values_64_kib_of_keys_all_arrive() {
    // About 64 KiB of keys: 3,200 of them, 20 bytes each.
    let many: serde_json::Map<String, serde_json::Value> = (0..3200)
        .map(|i| (format!("KEY_{i:05}"), serde_json::json!(format!("v{i:04}"))))
        .collect();
    let many = serde_json::Value::Object(many).to_string();
    assert!((60_000..=65_536).contains(&many.len()), "{}", many.len());
    Run::secret(&many)
        .stderr_has("loaded 3200 keys")
        .sees("KEY_00000", "v0000")
        .sees("KEY_03199", "v3199")
        .run();
}

#[test]
fn values_with_newlines_equals_and_quotes_arrive_as_they_are() {
    Run::secret(r#"{"A":"x\ny=z\r\n\"q\"  ","B":"=","C":"a=b=c"}"#)
        .sees("A", "x\ny=z\r\n\"q\"  ")
        .sees("B", "=")
        .sees("C", "a=b=c")
        .run();
}

#[test]
fn values_in_unicode_arrive_as_they_are() {
    Run::secret(r#"{"A":"ÄÖ ☃ 😀 مرحبا e\u0301","B":"\u2028\u2029"}"#)
        .sees("A", "ÄÖ ☃ 😀 مرحبا e\u{301}")
        .sees("B", "\u{2028}\u{2029}")
        .run();
}

#[test]
fn values_of_60_kb_arrive_whole() {
    let long = format!("{MARKER}{}", "x".repeat(60_000));
    Run::secret(&serde_json::json!({ "LONG": long }).to_string())
        .sees("LONG", &long)
        .run();
}

#[test]
fn values_nested_100_deep_arrive_as_compact_json() {
    Run::secret(&format!("{{\"DEEP\":{}}}", nested(100)))
        .sees("DEEP", &nested(100))
        .run();
}

#[test]
fn values_gcp_key_over_64_kib_in_local_mode_is_65() {
    let big_gcp = format!(
        "GOOGLE_APPLICATION_CREDENTIALS_JSON='{{\"type\":\"service_account\",\"pad\":\"{}{MARKER}\"}}'\n",
        // Over the GCP key's bound, under the env file's 1 MiB.
        "a".repeat(1 << 17)
    );
    let mut run = Run::local();
    std::fs::write(run.path(".env"), big_gcp).unwrap();
    run.probe()
        .fails(65)
        .stderr_has("more than the 65536 bytes")
        .run();
}

// ---- numbers as written (the command sees the secret's text) -------------------------------

#[test]
fn numbers_nested_keep_their_text_in_compact_json() {
    Run::secret(r#"{"LIMITS": { "rate" : 0.10, "big": [1e3, 12345678901234567890123] }}"#)
        .sees(
            "LIMITS",
            r#"{"rate":0.10,"big":[1e3,12345678901234567890123]}"#,
        )
        .run();
}

// ---- names are checked after selection and renaming ---------------------------------------

#[test]
fn select_a_nul_byte_in_an_excluded_value_does_no_harm() {
    Run::secret(&format!(r#"{{"BAD":"{MARKER}\u0000x","OK":"1"}}"#))
        .arg("--exclude")
        .arg("BAD")
        .sees("OK", "1")
        .lacks("BAD")
        .run();
}

#[test]
fn select_two_keys_mapped_onto_one_name_are_78() {
    Run::secret(r#"{"A":"1","B":"2"}"#)
        .arg("--map")
        .arg("A=B")
        .probe()
        .fails(78)
        .stderr_has("B is the target of more than one")
        .run();
}

// ---- the env file: bounded, regular files only --------------------------------------------
// (A device, a FIFO and a directory: hostile::env_file_*.)

#[test]
fn env_file_over_one_mib_is_78_without_quoting_it() {
    let mut run = Run::local();
    let line = format!("PAD={}\n", "x".repeat(1023));
    std::fs::write(run.path(".env"), line.repeat(1025)).unwrap();
    run.probe()
        .fails(78)
        .stderr_has("larger than 1048576 bytes")
        .stderr_lacks("xxxx")
        .run();
}

#[test]
fn env_file_behind_a_symlink_is_read() {
    let mut run = Run::local();
    std::fs::write(run.path("real.env"), "FROM_LINK=1\n").unwrap();
    std::os::unix::fs::symlink(run.path("real.env"), run.path(".env")).unwrap();
    run.sees("FROM_LINK", "1").run();
}

#[test]
fn env_file_flag_outside_local_mode_warns_that_it_is_not_read() {
    Run::secret(r#"{"A":"1"}"#)
        .arg("--env-file")
        .arg("app.env")
        .stderr_has("--env-file is only read with APP_ENV=local; it is ignored")
        .sees("A", "1")
        .run();
}

// ---- settings -----------------------------------------------------------------------------
// (Invalid names in --require, --allow-key, --preserve-env and an invalid value named as the
// flag or the variable given: hostile::names_* and hostile::setting_* / flag_*.)

#[test]
fn setting_unknown_warns_with_the_closest_name() {
    Run::local()
        .env("SHORTCUT_ENV_TIMEOUTS", "5")
        .stderr_has(
            "warning: unknown setting SHORTCUT_ENV_TIMEOUTS ignored; did you mean SHORTCUT_ENV_TIMEOUT?",
        )
        .sees("SHORTCUT_ENV_TIMEOUTS", "5")
        .run();
}
