//! Fetching from Secrets Manager (moto on loopback) and the secret → environment rules.

use crate::support::*;

#[test]
fn the_guide_secret_reaches_the_command_with_one_call() {
    let secret = seed_text(&guide_secret());
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), &secret.name);
    let (outcome, env) = run.env_seen();
    outcome.code(0);

    let expected: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&guide_secret()).unwrap();
    for (key, value) in &expected {
        assert_eq!(
            env.get(key),
            value.as_str().map(str::to_string).as_ref(),
            "{key}"
        );
    }
    // The configuration the app may also read passes through.
    assert_eq!(env["APP_ENV"], "production");
    assert_eq!(env["MILVUS_PORT"], "19530");

    // Exactly one Secrets Manager call, and nothing else.
    assert_eq!(proxy.targets(), ["secretsmanager.GetSecretValue"]);

    // One success line naming the secret, its version, the stage, the count and the time.
    let info: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(info.len(), 1, "{}", outcome.stderr);
    let line = info[0];
    assert!(
        line.starts_with(&format!(
            "shortcut-env: loaded 7 keys from {} (version {}, AWSCURRENT) in ",
            secret.name, secret.version_id
        )),
        "{line}"
    );
    assert!(line.ends_with(" ms"), "{line}");
    outcome.stderr_lacks(MARKER);
}

#[test]
fn json_values_become_text_and_nulls_are_skipped_with_a_warning() {
    let secret = seed_text(
        r#"{"NUM":19530,"FLOAT":0.5,"FLAG":true,"OFF":false,"OBJ":{"a":[1,{"b":null}]},"LIST":["x","y"],"GONE":null,"EMPTY":"","UNI":"héllo ☃","LINES":"a\nb=c"}"#,
    );
    let (outcome, env) = Run::moto(&secret.name).env_seen();
    outcome.code(0);
    let cases = [
        ("NUM", "19530"),
        ("FLOAT", "0.5"),
        ("FLAG", "true"),
        ("OFF", "false"),
        ("OBJ", r#"{"a":[1,{"b":null}]}"#),
        ("LIST", r#"["x","y"]"#),
        ("EMPTY", ""),
        ("UNI", "héllo ☃"),
        ("LINES", "a\nb=c"),
    ];
    for (key, value) in cases {
        assert_eq!(env.get(key).map(String::as_str), Some(value), "{key}");
    }
    assert!(!env.contains_key("GONE"));
    outcome
        .stderr_has("warning: skipped keys with null values")
        .stderr_has("GONE");
    outcome.stderr_has("loaded 9 keys");
}

#[test]
fn unusable_secrets_exit_65_naming_the_problem_not_the_value() {
    let cases: &[(&str, &str)] = &[
        ("LEAKMARKER plain text", "not valid JSON"),
        (r#"["LEAKMARKER"]"#, "array"),
        (r#""LEAKMARKER""#, "string"),
        ("42", "number"),
        (r#"{"1ABC":"LEAKMARKER"}"#, "1ABC"),
        (r#"{"A-B":"LEAKMARKER"}"#, "A-B"),
        (r#"{"OK":"LEAKMARKER\u0000"}"#, "NUL"),
        (r#"{"A":"LEAKMARKER","A":"again"}"#, "more than once"),
    ];
    for (text, needle) in cases {
        let secret = seed_text(text);
        let mut run = Run::moto(&secret.name);
        run.command(&["/bin/echo", "ran"]);
        run.run()
            .fails(65)
            .stderr_has(needle)
            .stderr_has(&secret.name)
            .stderr_lacks(MARKER);
    }
}

#[test]
fn a_binary_secret_is_refused() {
    let secret = seed(
        &unique("short-cut/test/binary"),
        Value::Binary(b"LEAKMARKER\x00\x01"),
    );
    let mut run = Run::moto(&secret.name);
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(65)
        .stderr_has("binary")
        .stderr_lacks(MARKER);
}

#[test]
fn a_missing_secret_exits_66_with_a_hint_on_name_and_region() {
    let mut run = Run::moto(&unique("short-cut/absent/app"));
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(66)
        .stderr_has("short-cut/absent/app")
        .stderr_has("ResourceNotFoundException")
        .stderr_has("hint: check SECRET_NAME")
        .stderr_has("AWS_REGION");
}

/// With SECRET_NAME unset, APP_ENV=`app_env` reads `short-cut/{which}/app`.
fn default_secret_name(app_env: &str, which: &str) {
    // Only these tests use the guide's real names; they are created once per test process.
    static SEEDED: std::sync::Once = std::sync::Once::new();
    SEEDED.call_once(|| {
        seed("short-cut/prod/app", Value::Text(r#"{"WHICH":"prod"}"#));
        seed(
            "short-cut/staging/app",
            Value::Text(r#"{"WHICH":"staging"}"#),
        );
    });
    Run::moto("unused")
        .unset("SECRET_NAME")
        .env("APP_ENV", app_env)
        .stderr_has(&format!("short-cut/{which}/app"))
        .sees("WHICH", which)
        .run();
}

#[test]
fn default_secret_name_in_production() {
    default_secret_name("production", "prod");
}

#[test]
fn default_secret_name_in_prod() {
    default_secret_name("prod", "prod");
}

#[test]
fn default_secret_name_in_staging() {
    default_secret_name("staging", "staging");
}

#[test]
fn secret_values_win_over_inherited_ones_and_the_override_is_named() {
    let secret = seed_text(r#"{"MILVUS_HOST":"from-secret","OTHER":"x"}"#);
    let mut run = Run::moto(&secret.name);
    run.env("MILVUS_HOST", "inherited");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["MILVUS_HOST"], "from-secret");
    let warnings: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| l.contains("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", outcome.stderr);
    assert!(warnings[0].contains("override inherited variables: MILVUS_HOST"));
    outcome
        .stderr_lacks("from-secret")
        .stderr_lacks("inherited\n");
}

/// An inherited MILVUS_HOST, and a secret that has one too, with `preserve` set on `run`.
fn preserved(preserve: impl FnOnce(&mut Run)) {
    let secret = seed_text(r#"{"MILVUS_HOST":"from-secret","OTHER":"x"}"#);
    let mut run = Run::moto(&secret.name);
    run.env("MILVUS_HOST", "inherited");
    preserve(&mut run);
    run.stderr_has("kept")
        .stderr_has("MILVUS_HOST")
        .sees("MILVUS_HOST", "inherited")
        .sees("OTHER", "x")
        .run();
}

#[test]
fn preserve_env_flag_keeps_inherited_values() {
    preserved(|run| {
        run.arg("--preserve-env");
    });
}

#[test]
fn preserve_env_variable_keeps_inherited_values() {
    preserved(|run| {
        run.env("SHORTCUT_ENV_PRESERVE_ENV", "1");
    });
}

#[test]
fn protected_names_are_never_set_from_a_secret() {
    let secret = seed_text(
        r#"{"PATH":"/evil","LD_PRELOAD":"/evil.so","AWS_SECRET_ACCESS_KEY":"x","SECRET_NAME":"x","SHORTCUT_ENV_TIMEOUT":"1","APP_ENV":"local","HOME":"/evil","GOOGLE_APPLICATION_CREDENTIALS":"/evil","FINE":"1"}"#,
    );
    let (outcome, env) = Run::moto(&secret.name).env_seen();
    outcome.code(0);
    assert_eq!(env["PATH"], "/usr/local/bin:/usr/bin:/bin");
    assert!(!env.contains_key("LD_PRELOAD"));
    assert_eq!(env["AWS_SECRET_ACCESS_KEY"], "testing");
    assert_eq!(env["APP_ENV"], "production");
    assert!(!env.contains_key("GOOGLE_APPLICATION_CREDENTIALS"));
    assert_eq!(env["FINE"], "1");
    outcome
        .stderr_has("skipped protected names")
        .stderr_has("PATH, LD_PRELOAD, AWS_SECRET_ACCESS_KEY, SECRET_NAME, SHORTCUT_ENV_TIMEOUT, APP_ENV, HOME, GOOGLE_APPLICATION_CREDENTIALS")
        .stderr_lacks("/evil");
}

#[test]
fn required_keys_missing_are_65_and_all_named_before_exec() {
    Run::secret(r#"{"OPENAI_API_KEY":"x"}"#)
        .env(
            "SHORTCUT_ENV_REQUIRE",
            "OPENAI_API_KEY,PINECONE_API_KEY,GCP_PROJECT_ID",
        )
        .probe()
        .fails(65)
        .stderr_has("PINECONE_API_KEY, GCP_PROJECT_ID")
        .run();
}

#[test]
fn required_key_present_lets_the_command_run() {
    Run::secret(r#"{"OPENAI_API_KEY":"x"}"#)
        .arg("--require")
        .arg("OPENAI_API_KEY")
        .sees("OPENAI_API_KEY", "x")
        .run();
}

#[test]
fn the_service_specific_endpoint_variable_is_honoured() {
    let secret = seed_text(r#"{"VIA":"service-endpoint"}"#);
    let mut run = Run::moto(&secret.name);
    run.env(
        "AWS_ENDPOINT_URL",
        format!("http://127.0.0.1:{}", endpoints::closed_port()),
    )
    .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto().url());
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["VIA"], "service-endpoint");
}

#[test]
fn version_stage_awscurrent_is_the_default() {
    let secret = seed_text(r#"{"V":"one"}"#);
    let second = put_value(&secret.name, r#"{"V":"two"}"#);
    Run::moto(&secret.name)
        .stderr_has(&format!("version {second}, AWSCURRENT"))
        .sees("V", "two")
        .run();
}

#[test]
fn version_stage_awsprevious_rolls_back() {
    let secret = seed_text(r#"{"V":"one"}"#);
    put_value(&secret.name, r#"{"V":"two"}"#);
    Run::moto(&secret.name)
        .env("SECRET_VERSION_STAGE", "AWSPREVIOUS")
        .stderr_has(&format!("version {}, AWSPREVIOUS", secret.version_id))
        .sees("V", "one")
        .run();
}

#[test]
fn json_logs_success_is_warnings_then_one_info_object() {
    let secret = seed_text(r#"{"A":"LEAKMARKER","N":null,"PATH":"x"}"#);
    let mut run = Run::moto(&secret.name);
    run.env("SHORTCUT_ENV_LOG_FORMAT", "json")
        .command(&["/bin/true"]);
    let outcome = run.run();
    outcome.code(0).stderr_lacks(MARKER);
    let lines = outcome.json_lines();
    assert_eq!(lines.len(), 3, "{}", outcome.stderr);
    let info = lines.last().unwrap();
    assert_eq!(info["level"], "info");
    assert_eq!(info["secret"], secret.name.as_str());
    assert_eq!(info["version_id"], secret.version_id.as_str());
    assert_eq!(info["version_stages"], serde_json::json!(["AWSCURRENT"]));
    assert_eq!(info["keys"], 1);
    assert!(info["elapsed_ms"].is_u64());
    assert!(lines[..2].iter().all(|l| l["level"] == "warning"));
}

#[test]
fn json_logs_failure_is_one_error_object_with_kind_code_and_hint() {
    let outcome = Run::moto(&unique("short-cut/absent/app"))
        .arg("--log-format")
        .arg("json")
        .probe()
        .fails(66)
        .run();
    let error: serde_json::Value = serde_json::from_str(outcome.stderr.trim()).unwrap();
    assert_eq!(error["level"], "error");
    assert_eq!(error["error"], "secret-not-found");
    assert_eq!(error["exit_code"], 66);
    assert!(error["hint"].as_str().unwrap().contains("SECRET_NAME"));
}

// (A refused connection and a hang: faults::refused_connection_* and faults::deadline_*.)

// (Throttled twice, then the third attempt succeeds: faults::transient_throttled_twice_then_ok.)

#[test]
fn retries_with_a_single_attempt_the_first_throttle_is_final() {
    let mut run = Run::proxied(&seed_text(r#"{"A":"1"}"#).name);
    run.always(Fault::Error {
        status: 400,
        code: "ThrottlingException",
        message: "Rate exceeded",
    })
    .env("SHORTCUT_ENV_MAX_ATTEMPTS", "1")
    .probe()
    .fails(69)
    .stderr_has("ThrottlingException")
    .calls("GetSecretValue", 1)
    .run();
}
