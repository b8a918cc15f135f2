//! Hostile and odd input, one table: secrets that are not what they should be, keys and values
//! at the edges of the rules, bad GCP key JSON, and configuration mistakes. Each case ends with
//! its documented exit status and a message naming the problem (never a value); the ones that
//! are fine reach the command intact.

use std::collections::BTreeMap;

use crate::faults::run_all;
use crate::support::*;

/// Where a case's data comes from.
enum Input {
    /// A secret string in moto.
    Text(String),
    /// A binary secret in moto.
    Binary(Vec<u8>),
    /// A `.env` file, in local mode (for data Secrets Manager could not hold).
    DotEnv(String),
    /// GetSecretValue's answer, from the proxy: for what moto will not store.
    Answer(String),
    /// Nothing: a configuration case, against moto.
    Nothing,
}

/// A well-formed GetSecretValue answer with these extra members.
fn answer(members: &str) -> Input {
    Input::Answer(format!(
        r#"{{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:short-cut/test/app-AbCdEf","Name":"short-cut/test/app","VersionId":"01234567-89ab-cdef-0123-456789abcdef","VersionStages":["AWSCURRENT"],"CreatedDate":1.7E9{members}}}"#
    ))
}

struct Case {
    name: &'static str,
    input: Input,
    env: Vec<(&'static str, String)>,
    /// Arguments before the command (the command is `-- /usr/bin/env -0` unless `no_command`).
    args: Vec<&'static str>,
    no_command: bool,
    code: i32,
    /// What stderr must hold.
    needles: Vec<String>,
    /// For code 0: variables the command must see, with their values.
    sees: Vec<(String, String)>,
    /// For code 0: variables the command must not see.
    lacks: Vec<&'static str>,
}

fn case(name: &'static str, input: Input, code: i32) -> Case {
    Case {
        name,
        input,
        env: Vec::new(),
        args: Vec::new(),
        no_command: false,
        code,
        needles: Vec::new(),
        sees: Vec::new(),
        lacks: Vec::new(),
    }
}

impl Case {
    fn has(mut self, needle: impl Into<String>) -> Case {
        self.needles.push(needle.into());
        self
    }
    fn env(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.env.push((name, value.into()));
        self
    }
    fn arg(mut self, arg: &'static str) -> Case {
        self.args.push(arg);
        self
    }
    fn no_command(mut self) -> Case {
        self.no_command = true;
        self
    }
    fn sees(mut self, name: impl Into<String>, value: impl Into<String>) -> Case {
        self.sees.push((name.into(), value.into()));
        self
    }
    fn lacks(mut self, name: &'static str) -> Case {
        self.lacks.push(name);
        self
    }
}

fn text(s: impl Into<String>) -> Input {
    Input::Text(s.into())
}

/// A secret with one key whose value carries the marker.
fn with_key(key: &str) -> Input {
    text(serde_json::json!({ key: format!("{MARKER}-value"), "FINE": "1" }).to_string())
}

/// A secret whose GOOGLE_APPLICATION_CREDENTIALS_JSON is `gcp`.
fn with_gcp(gcp: &str) -> Input {
    text(serde_json::json!({ "GOOGLE_APPLICATION_CREDENTIALS_JSON": gcp }).to_string())
}

fn nested(depth: usize) -> String {
    format!(
        "{}\"{MARKER}\"{}",
        "{\"a\":".repeat(depth),
        "}".repeat(depth)
    )
}

fn cases() -> Vec<Case> {
    // About 64 KiB of keys: 3,200 of them, 20 bytes each.
    let many: serde_json::Map<String, serde_json::Value> = (0..3200)
        .map(|i| (format!("KEY_{i:05}"), serde_json::json!(format!("v{i:04}"))))
        .collect();
    let many = serde_json::Value::Object(many).to_string();
    assert!((60_000..=65_536).contains(&many.len()), "{}", many.len());
    let long = format!("{MARKER}{}", "x".repeat(60_000));
    let big_gcp = format!(
        "GOOGLE_APPLICATION_CREDENTIALS_JSON='{{\"type\":\"service_account\",\"pad\":\"{}{MARKER}\"}}'\n",
        // Over the GCP key's bound, under the env file's 1 MiB.
        "a".repeat(1 << 17)
    );
    vec![
        // ---- the secret is not a JSON object: 65 -------------------------------------------
        case("not JSON", text(format!("{MARKER} plain text")), 65).has("not valid JSON"),
        case("a JSON array", text(format!("[\"{MARKER}\"]")), 65).has("a JSON array"),
        case("a JSON number", text("19530"), 65).has("a JSON number"),
        case("a JSON string", text(format!("\"{MARKER}\"")), 65).has("a JSON string"),
        case("JSON null", text("null"), 65).has("JSON null"),
        case("empty string", answer(r#","SecretString":"""#), 65).has("the secret string is empty"),
        case("no value at all", answer(""), 65).has("the secret has no value"),
        case("only whitespace", text(" \n\t "), 65).has("empty"),
        case(
            "trailing text after the object",
            text(format!("{{\"A\":\"1\"}} {MARKER}")),
            65,
        )
        .has("not valid JSON"),
        case(
            "a byte order mark",
            text(format!("\u{feff}{{\"A\":\"{MARKER}\"}}")),
            65,
        )
        .has("not valid JSON"),
        case(
            "binary secret",
            Input::Binary(format!("{MARKER}\0\x01").into_bytes()),
            65,
        )
        .has("binary"),
        case("nested 10,000 deep", text(nested(10_000)), 65).has("not valid JSON"),
        case(
            "a lone surrogate",
            text(format!("{{\"A\":\"{MARKER}\\ud800\"}}")),
            65,
        ),
        case("a number out of range", text(r#"{"A":1e400}"#), 65),
        // ---- keys: 65, naming the key ------------------------------------------------------
        case(
            "duplicate keys",
            text(format!(r#"{{"A":"{MARKER}","A":"x"}}"#)),
            65,
        )
        .has("key A appears more than once"),
        case("key starting with a digit", with_key("1ABC"), 65).has("key \"1ABC\""),
        case("key with a dash", with_key("A-B"), 65).has("key \"A-B\""),
        case("key with =", with_key("A=B"), 65).has("key \"A=B\""),
        case("empty key", with_key(""), 65).has("key \"\""),
        case("non-ASCII key", with_key("ÄÖ"), 65).has("key \"ÄÖ\""),
        case("key with a space", with_key("A B"), 65).has("key \"A B\""),
        case("key with a NUL", with_key("A\0B"), 65).has("is not a valid environment variable"),
        // ---- values ------------------------------------------------------------------------
        case(
            "value with a NUL",
            text(format!(r#"{{"A":"{MARKER}\u0000x"}}"#)),
            65,
        )
        .has("value of key A")
        .has("NUL byte"),
        case("empty object", text("{}"), 0).has("has no keys"),
        case("64 KiB of keys", text(many), 0)
            .has("loaded 3200 keys")
            .sees("KEY_00000", "v0000")
            .sees("KEY_03199", "v3199"),
        case(
            "values with newlines, = and quotes",
            text(r#"{"A":"x\ny=z\r\n\"q\"  ","B":"=","C":"a=b=c"}"#),
            0,
        )
        .sees("A", "x\ny=z\r\n\"q\"  ")
        .sees("B", "=")
        .sees("C", "a=b=c"),
        case(
            "unicode values",
            text(r#"{"A":"ÄÖ ☃ 😀 مرحبا e\u0301","B":"\u2028\u2029"}"#),
            0,
        )
        .sees("A", "ÄÖ ☃ 😀 مرحبا e\u{301}")
        .sees("B", "\u{2028}\u{2029}"),
        case(
            "a 60 KB value",
            text(serde_json::json!({ "LONG": long }).to_string()),
            0,
        )
        .sees("LONG", long.clone()),
        case(
            "nested 100 deep",
            text(format!("{{\"DEEP\":{}}}", nested(100))),
            0,
        )
        .sees("DEEP", nested(100)),
        case(
            "protected names are skipped",
            text(r#"{"PATH":"/evil","LD_PRELOAD":"/evil.so","OK":"1"}"#),
            0,
        )
        .has("skipped protected names")
        .sees("OK", "1")
        .sees("PATH", "/usr/local/bin:/usr/bin:/bin")
        .lacks("LD_PRELOAD"),
        // ---- the GCP key JSON: 65, nothing written ------------------------------------------
        case(
            "GCP key not JSON",
            with_gcp(&format!("{MARKER} not json")),
            65,
        )
        .has("GOOGLE_APPLICATION_CREDENTIALS_JSON is unusable: not valid JSON"),
        case("GCP key an array", with_gcp(&format!("[\"{MARKER}\"]")), 65).has("not a JSON object"),
        case(
            "GCP key without type",
            with_gcp(&format!(r#"{{"private_key":"{MARKER}"}}"#)),
            65,
        )
        .has("no \"type\" field"),
        case("GCP key with a numeric type", with_gcp(r#"{"type":1}"#), 65)
            .has("\"type\" field is not a non-empty string"),
        case("GCP key of 128 KiB", Input::DotEnv(big_gcp), 65).has("more than the 65536 bytes"),
        // ---- configuration: 78, before any call ----------------------------------------------
        case("region with a trailing space", Input::Nothing, 78)
            .env("AWS_REGION", "us-east-1 ")
            .has("AWS_REGION=\"us-east-1 \" is not a valid AWS region"),
        case("region in capitals", Input::Nothing, 78)
            .env("AWS_REGION", "US-EAST-1")
            .has("AWS_REGION=\"US-EAST-1\""),
        case("empty SECRET_NAME", Input::Nothing, 78)
            .env("SECRET_NAME", "")
            .has("SECRET_NAME"),
        case("ARN of another service", Input::Nothing, 78)
            .env(
                "SECRET_NAME",
                "arn:aws:sqs:us-east-1:111122223333:queue:short-cut-prod",
            )
            .has("arn:aws:sqs"),
        case("ARN with a bad region", Input::Nothing, 78).env(
            "SECRET_NAME",
            "arn:aws:secretsmanager:mars-1:111122223333:secret:app-AbCdEf",
        ),
        case("APP_ENV unknown", Input::Nothing, 78)
            .env("APP_ENV", "Production ")
            .has("APP_ENV"),
        case("negative timeout", Input::Nothing, 78).env("SHORTCUT_ENV_TIMEOUT", "-1"),
        case("NaN timeout", Input::Nothing, 78).env("SHORTCUT_ENV_TIMEOUT", "NaN"),
        case("huge timeout", Input::Nothing, 78).env("SHORTCUT_ENV_TIMEOUT", "1e309"),
        case("zero attempts", Input::Nothing, 78).env("SHORTCUT_ENV_MAX_ATTEMPTS", "0"),
        // ---- usage: 64 ---------------------------------------------------------------------
        case("command missing after --", Input::Nothing, 64)
            .arg("--")
            .no_command()
            .has("no command to run"),
        case("no -- and no command", Input::Nothing, 64).no_command(),
        case("unknown flag", Input::Nothing, 64).arg("--no-such-flag"),
    ]
}

fn run_case(case: &Case) {
    let name = case.name;
    let mut run = match &case.input {
        Input::Text(text) => Run::moto(&seed_text(text).name),
        Input::Binary(bytes) => {
            Run::moto(&seed(&unique("short-cut/test/bin"), Value::Binary(bytes)).name)
        }
        Input::DotEnv(text) => {
            let run = Run::local();
            std::fs::write(run.path(".env"), text).unwrap();
            run
        }
        Input::Nothing => Run::moto(&unique("short-cut/test/unused")),
        Input::Answer(body) => {
            let proxy = Proxy::start(moto().port);
            proxy.always(Fault::Respond {
                status: 200,
                body: body.clone(),
            });
            Run::aws(&proxy.url(), "short-cut/test/app")
        }
    };
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", run.path("creds"));
    for (k, v) in &case.env {
        run.env(k, v);
    }
    for arg in &case.args {
        run.arg(arg);
    }
    if !case.no_command {
        run.command(&["/usr/bin/env", "-0"]);
    }
    let outcome = run.run();
    if std::env::var_os("FAULTS_DEBUG").is_some() {
        let shown = &outcome.stderr[..outcome.stderr.len().min(600)];
        eprintln!("{name}: {:?}\n{shown}", outcome.code);
    }
    if case.code == 0 {
        outcome.code(0);
        let env: BTreeMap<String, String> = outcome.env0();
        for (key, value) in &case.sees {
            assert_eq!(env.get(key), Some(value), "{name}: {key}");
        }
        for key in &case.lacks {
            assert!(!env.contains_key(*key), "{name}: {key} must not be set");
        }
    } else if case.code == 64 && case.needles.is_empty() {
        // clap's own usage errors have no hint line.
        outcome.code(64);
        assert!(outcome.stdout.is_empty(), "{name}");
    } else {
        outcome.fails(case.code);
        // Nothing was written for a start that failed.
        assert!(
            !run.path("creds").exists()
                || std::fs::read_dir(run.path("creds"))
                    .unwrap()
                    .next()
                    .is_none(),
            "{name}: a credentials file was left behind"
        );
    }
    for needle in &case.needles {
        assert!(
            outcome.stderr.contains(needle.as_str()),
            "{name}: stderr lacks {needle:?}:\n{}",
            outcome.stderr
        );
    }
    assert!(
        !outcome.stderr.contains(MARKER),
        "{name}: a value leaked into stderr:\n{}",
        &outcome.stderr[..outcome.stderr.len().min(2000)]
    );
    assert!(
        !outcome.stderr.contains("panicked"),
        "{name}: {}",
        outcome.stderr
    );
}

#[test]
fn hostile_input_is_refused_clearly_or_passed_on_intact() {
    let cases = cases();
    assert!(cases.len() >= 25);
    run_all(cases, run_case);
}

// ---- numbers as written (the command sees the secret's text) -------------------------------

#[test]
fn numbers_reach_the_command_as_written() {
    let secret = seed_text(r#"{"RATE":0.10,"LIMIT":1e3,"BIG":123456789012345678901234567890}"#);
    let (outcome, env) = Run::moto(&secret.name).env_seen();
    outcome.code(0);
    assert_eq!(env["RATE"], "0.10");
    assert_eq!(env["LIMIT"], "1e3");
    assert_eq!(env["BIG"], "123456789012345678901234567890");
}

#[test]
fn nested_numbers_keep_their_text_in_compact_json() {
    let secret =
        seed_text(r#"{"LIMITS": { "rate" : 0.10, "big": [1e3, 12345678901234567890123] }}"#);
    let (outcome, env) = Run::moto(&secret.name).env_seen();
    outcome.code(0);
    assert_eq!(
        env["LIMITS"],
        r#"{"rate":0.10,"big":[1e3,12345678901234567890123]}"#
    );
}

// ---- duplicate keys -----------------------------------------------------------------------

#[test]
fn a_duplicate_key_is_refused_through_name_key() {
    let secret = seed_text(&format!(r#"{{"A":"{MARKER}","A":"x","B":"1"}}"#));
    let mut run = Run::moto(&format!("{}:A", secret.name));
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(65)
        .stderr_has("key A appears more than once")
        .stderr_lacks(MARKER);
}

#[test]
fn a_duplicate_key_is_refused_even_when_another_key_is_picked() {
    let secret = seed_text(&format!(r#"{{"A":"{MARKER}","A":"x","B":"1"}}"#));
    let mut run = Run::moto(&format!("{}:B", secret.name));
    run.command(&["/bin/echo", "ran"]);
    run.run().fails(65).stderr_has("more than once");
}

#[test]
fn a_gcp_key_with_two_type_members_is_refused() {
    let key = format!(
        r#"{{"type":"service_account","type":"authorized_user","private_key":"{MARKER}"}}"#
    );
    let secret =
        seed_text(&serde_json::json!({ "GOOGLE_APPLICATION_CREDENTIALS_JSON": key }).to_string());
    let mut run = Run::moto(&secret.name);
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(65)
        .stderr_has("its \"type\" member appears more than once")
        .stderr_lacks(MARKER);
}

// ---- names are checked after selection and renaming ---------------------------------------

const ONE_BAD_KEY: &str = r#"{"my-key":"v","OK":"1"}"#;

#[test]
fn a_bad_key_fails_the_start_naming_it() {
    let secret = seed_text(ONE_BAD_KEY);
    let mut run = Run::moto(&secret.name);
    run.command(&["/bin/echo", "ran"]);
    run.run().fails(65).stderr_has("key \"my-key\"");
}

#[test]
fn a_bad_key_that_is_excluded_does_no_harm() {
    let secret = seed_text(ONE_BAD_KEY);
    let mut run = Run::moto(&secret.name);
    run.arg("--exclude").arg("my-key");
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_has("loaded 1 key");
    assert_eq!(env["OK"], "1");
}

#[test]
fn a_bad_key_that_is_mapped_is_exported_under_its_new_name() {
    let secret = seed_text(ONE_BAD_KEY);
    let mut run = Run::moto(&secret.name);
    run.arg("--map").arg("my-key=MY_KEY");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["MY_KEY"], "v");
}

#[test]
fn a_bad_key_left_out_by_only_does_no_harm() {
    let secret = seed_text(ONE_BAD_KEY);
    let mut run = Run::moto(&secret.name);
    run.env("SHORTCUT_ENV_ONLY", "OK");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["OK"], "1");
}

#[test]
fn a_nul_byte_in_an_excluded_value_does_no_harm() {
    let secret = seed_text(&format!(r#"{{"BAD":"{MARKER}\u0000x","OK":"1"}}"#));
    let mut run = Run::moto(&secret.name);
    run.arg("--exclude").arg("BAD");
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_lacks(MARKER);
    assert_eq!(env["OK"], "1");
}

#[test]
fn two_keys_mapped_onto_one_name_are_refused() {
    let secret = seed_text(r#"{"A":"1","B":"2"}"#);
    let mut run = Run::moto(&secret.name);
    run.arg("--map").arg("A=B").command(&["/bin/echo", "ran"]);
    run.run()
        .fails(78)
        .stderr_has("B is the target of more than one");
}

// ---- the env file: bounded, regular files only --------------------------------------------

#[test]
fn an_env_file_that_is_a_device_is_refused_at_once() {
    let mut run = Run::local();
    run.env("SHORTCUT_ENV_FILE", "/dev/zero")
        .command(&["/bin/echo", "ran"]);
    let outcome = run.run();
    outcome
        .fails(78)
        .stderr_has("env file /dev/zero is not read: it is a device, not a regular file");
    assert!(
        outcome.elapsed < std::time::Duration::from_secs(20),
        "{:?}",
        outcome.elapsed
    );
}

#[test]
fn an_env_file_that_is_a_fifo_is_refused_without_blocking() {
    let mut run = Run::local();
    let fifo = run.path("env.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    run.arg("--env-file")
        .arg(&fifo)
        .command(&["/bin/echo", "ran"]);
    let outcome = run.run();
    outcome
        .fails(78)
        .stderr_has("it is a FIFO, not a regular file");
    assert!(
        outcome.elapsed < std::time::Duration::from_secs(20),
        "{:?}",
        outcome.elapsed
    );
}

#[test]
fn an_env_file_that_is_a_directory_is_refused() {
    let mut run = Run::local();
    run.env("SHORTCUT_ENV_FILE", run.path("home"))
        .command(&["/bin/echo", "ran"]);
    run.run().fails(78).stderr_has("it is a directory");
}

#[test]
fn an_env_file_over_one_mib_is_refused() {
    let mut run = Run::local();
    let line = format!("PAD={}\n", "x".repeat(1023));
    std::fs::write(run.path(".env"), line.repeat(1025)).unwrap();
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(78)
        .stderr_has("larger than 1048576 bytes")
        .stderr_lacks("xxxx");
}

#[test]
fn an_env_file_behind_a_symlink_is_read() {
    let mut run = Run::local();
    std::fs::write(run.path("real.env"), "FROM_LINK=1\n").unwrap();
    std::os::unix::fs::symlink(run.path("real.env"), run.path(".env")).unwrap();
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["FROM_LINK"], "1");
}

// ---- settings: names that cannot be variables, unknown settings, what a message names -----

#[test]
fn an_invalid_name_in_require_is_a_configuration_error() {
    let mut run = Run::local();
    run.arg("--require")
        .arg("OK,my-key")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(78)
        .stderr_has("--require=\"my-key\" is not valid");
}

#[test]
fn an_invalid_name_in_allow_key_is_a_configuration_error() {
    let mut run = Run::local();
    run.env("SHORTCUT_ENV_ALLOW_KEY", "PATH,1X")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(78)
        .stderr_has("SHORTCUT_ENV_ALLOW_KEY=\"1X\" is not valid");
}

#[test]
fn an_invalid_name_in_preserve_env_is_a_configuration_error() {
    let mut run = Run::local();
    run.arg("--preserve-env=A,B-C")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(78)
        .stderr_has("--preserve-env=\"B-C\" is not valid");
}

#[test]
fn an_invalid_timeout_flag_is_named_as_the_flag() {
    let mut run = Run::moto("short-cut/none");
    run.arg("--timeout")
        .arg("abc")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(78)
        .stderr_has("--timeout=\"abc\" is not valid")
        .stderr_lacks("SHORTCUT_ENV_TIMEOUT");
}

#[test]
fn an_invalid_timeout_variable_is_named_as_the_variable() {
    let mut run = Run::moto("short-cut/none");
    run.env("SHORTCUT_ENV_TIMEOUT", "abc")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(78)
        .stderr_has("SHORTCUT_ENV_TIMEOUT=\"abc\" is not valid");
}

#[test]
fn an_unknown_setting_warns_with_the_closest_name() {
    let mut run = Run::local();
    run.env("SHORTCUT_ENV_TIMEOUTS", "5")
        .command(&["/bin/echo", "ran"]);
    let outcome = run.run();
    outcome.code(0).stderr_has(
        "warning: unknown setting SHORTCUT_ENV_TIMEOUTS ignored; did you mean SHORTCUT_ENV_TIMEOUT?",
    );
    assert_eq!(outcome.stdout, "ran\n");
}

#[test]
fn an_env_file_flag_outside_local_mode_warns_that_it_is_not_read() {
    let secret = seed_text(r#"{"A":"1"}"#);
    let mut run = Run::moto(&secret.name);
    run.arg("--env-file").arg("app.env");
    let (outcome, env) = run.env_seen();
    outcome
        .code(0)
        .stderr_has("--env-file is only read with APP_ENV=local; it is ignored");
    assert_eq!(env["A"], "1");
}
