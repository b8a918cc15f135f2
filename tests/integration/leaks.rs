//! No secret value in any output: every failure mode and the happy path, with secret values
//! (and the AWS keys) carrying a marker, in text and in JSON logs. The exec'd command's own
//! output is not the wrapper's, so the commands here print nothing; `export`, which exists to
//! print values, is checked on stderr only.

use std::os::unix::fs::PermissionsExt;

use shortcut_env::envmap::{self, Entries, Policy};
use shortcut_env::error::Error;
use shortcut_env::vars::Vars;

use crate::faults::run_all;
use crate::support::endpoints::{CredentialsMode, closed_port};
use crate::support::*;

/// The guide's secret, plus the AWS keys, all marked.
fn marked(endpoint: &str, secret: &str) -> Run {
    let mut run = Run::aws(endpoint, secret);
    let creds = run.path("creds");
    run.env("AWS_ACCESS_KEY_ID", "AKIATESTLEAKS")
        .env("AWS_SECRET_ACCESS_KEY", format!("{MARKER}-aws-secret-key"))
        .env("AWS_SESSION_TOKEN", format!("{MARKER}-aws-session-token"))
        .env("SHORTCUT_ENV_TIMEOUT", "5")
        .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.01")
        .env("SHORTCUT_ENV_CREDENTIALS_DIR", creds)
        // A panic, if any, with everything it can say.
        .env("RUST_BACKTRACE", "full");
    run
}

fn denied(code: &'static str, message: &'static str) -> Fault {
    Fault::Error {
        status: 400,
        code,
        message,
    }
}

fn guide() -> Seeded {
    seed_text(&guide_secret())
}

fn via_proxy(fault: Fault) -> Run {
    let proxy = Proxy::start(moto().port);
    proxy.always(fault);
    marked(&proxy.url(), &guide().name)
}

fn seeded(text: &str) -> Run {
    marked(&moto().url(), &seed_text(text).name)
}

struct Scenario {
    name: &'static str,
    code: i32,
    /// The command after `--` (none for `check` and `export`).
    command: &'static [&'static str],
    /// `export` prints values on stdout by design.
    stdout_has_values: bool,
    build: Box<dyn Fn() -> Run + Sync>,
}

fn scenario(
    name: &'static str,
    code: i32,
    command: &'static [&'static str],
    build: impl Fn() -> Run + Sync + 'static,
) -> Scenario {
    Scenario {
        name,
        code,
        command,
        stdout_has_values: false,
        build: Box::new(build),
    }
}

const TRUE: &[&str] = &["/bin/true"];

fn scenarios() -> Vec<Scenario> {
    vec![
        // ---- the happy paths ---------------------------------------------------------------
        scenario("happy path", 0, TRUE, || {
            marked(&moto().url(), &guide().name)
        }),
        scenario("happy path with every warning", 0, TRUE, || {
            let mut secret: serde_json::Value = serde_json::from_str(&guide_secret()).unwrap();
            secret["GONE"] = serde_json::Value::Null;
            secret["PATH"] = format!("/{MARKER}").into();
            let mut run = seeded(&secret.to_string());
            run.env("OPENAI_API_KEY", format!("{MARKER}-inherited"));
            run
        }),
        scenario("whole secret as one variable", 0, TRUE, || {
            let secret = seed_text(&format!("{MARKER} not json at all"));
            marked(&moto().url(), &format!("WHOLE={}", secret.name))
        }),
        scenario("check", 0, &[], || {
            let mut run = marked(&moto().url(), &guide().name);
            run.arg("check");
            run
        }),
        scenario("check with a missing required key", 65, &[], || {
            let mut run = marked(&moto().url(), &guide().name);
            run.arg("check").env("SHORTCUT_ENV_REQUIRE", "NOT_THERE");
            run
        }),
        Scenario {
            stdout_has_values: true,
            ..scenario("export", 0, &[], || {
                let mut run = marked(&moto().url(), &guide().name);
                run.arg("export");
                run
            })
        },
        // ---- the secret's data ---------------------------------------------------------------
        scenario("not JSON", 65, TRUE, || seeded(&format!("{MARKER} plain"))),
        scenario("invalid key name", 65, TRUE, || {
            seeded(&format!(r#"{{"A-B":"{MARKER}"}}"#))
        }),
        scenario("NUL in a value", 65, TRUE, || {
            seeded(&format!(r#"{{"A":"{MARKER}\u0000"}}"#))
        }),
        scenario("duplicate key", 65, TRUE, || {
            seeded(&format!(r#"{{"A":"{MARKER}","A":"{MARKER}"}}"#))
        }),
        scenario("JSON key missing from the secret", 65, TRUE, || {
            marked(&moto().url(), &format!("{}:NOT_THERE", guide().name))
        }),
        scenario("binary secret", 65, TRUE, || {
            let secret = seed(
                &unique("short-cut/test/bin"),
                Value::Binary(format!("{MARKER}\0").as_bytes()),
            );
            marked(&moto().url(), &secret.name)
        }),
        scenario("required key missing", 65, TRUE, || {
            let mut run = marked(&moto().url(), &guide().name);
            run.env("SHORTCUT_ENV_REQUIRE", "OPENAI_API_KEY,NOT_THERE");
            run
        }),
        scenario("GCP key not JSON", 65, TRUE, || {
            seeded(
                &serde_json::json!({ "GOOGLE_APPLICATION_CREDENTIALS_JSON": format!("{MARKER}{{") })
                    .to_string(),
            )
        }),
        scenario("GCP key without type", 65, TRUE, || {
            seeded(
                &serde_json::json!({
                    "GOOGLE_APPLICATION_CREDENTIALS_JSON":
                        format!(r#"{{"private_key":"{MARKER}"}}"#)
                })
                .to_string(),
            )
        }),
        scenario("inherited GCP key not JSON, local mode", 65, TRUE, || {
            let mut run = Run::local();
            run.env("GOOGLE_APPLICATION_CREDENTIALS_JSON", format!("[{MARKER}"));
            run
        }),
        scenario("dotenv syntax error", 78, TRUE, || {
            let run = Run::local();
            std::fs::write(run.path(".env"), format!("A=1\nB {MARKER}\n")).unwrap();
            run
        }),
        scenario("dotenv invalid key", 78, TRUE, || {
            let run = Run::local();
            std::fs::write(run.path(".env"), format!("A-B={MARKER}\n")).unwrap();
            run
        }),
        // ---- files and the command ---------------------------------------------------------
        scenario("credentials directory writable by others", 73, TRUE, || {
            let mut run = marked(&moto().url(), &guide().name);
            let open = run.path("open");
            std::fs::create_dir(&open).unwrap();
            std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
            run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &open);
            run
        }),
        scenario("credentials directory is a symlink", 73, TRUE, || {
            let mut run = marked(&moto().url(), &guide().name);
            let link = run.path("link");
            std::os::unix::fs::symlink(run.temp.path(), &link).unwrap();
            run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &link);
            run
        }),
        scenario(
            "command not found",
            127,
            &["no-such-command-anywhere"],
            || marked(&moto().url(), &guide().name),
        ),
        scenario("command not executable", 126, &["./not-executable"], || {
            let run = marked(&moto().url(), &guide().name);
            std::fs::write(run.path("not-executable"), "#!/bin/sh\n").unwrap();
            run
        }),
        // ---- the network ---------------------------------------------------------------------
        scenario("answer cut in half", 69, TRUE, || {
            via_proxy(Fault::Truncate)
        }),
        scenario("connection closed mid-answer", 69, TRUE, || {
            via_proxy(Fault::CloseMidResponse)
        }),
        scenario("garbage answer holding a value", 69, TRUE, || {
            via_proxy(Fault::Respond {
                status: 200,
                body: format!("<html>{MARKER}</html>"),
            })
        }),
        scenario("answer of the wrong shape", 69, TRUE, || {
            via_proxy(Fault::Respond {
                status: 200,
                body: format!(r#"{{"Name":"x","SecretString":{{"{MARKER}":["{MARKER}"]}}}}"#),
            })
        }),
        scenario("error answer holding a value", 69, TRUE, || {
            via_proxy(Fault::Respond {
                status: 500,
                body: format!(r#"{{"__type":"InternalServiceError","Echo":"{MARKER}"}}"#),
            })
        }),
        scenario("throttled", 69, TRUE, || {
            let mut run = via_proxy(denied("ThrottlingException", "Rate exceeded"));
            run.env("SHORTCUT_ENV_MAX_ATTEMPTS", "2");
            run
        }),
        scenario("access denied", 77, TRUE, || {
            via_proxy(denied("AccessDeniedException", "not authorized"))
        }),
        scenario("KMS decryption failure", 77, TRUE, || {
            via_proxy(denied("DecryptionFailure", "cannot decrypt"))
        }),
        scenario("hangs", 69, TRUE, || {
            let mut run = via_proxy(Fault::Hang);
            run.env("SHORTCUT_ENV_TIMEOUT", "1");
            run
        }),
        scenario("refused", 69, TRUE, || {
            marked(
                &format!("http://127.0.0.1:{}", closed_port()),
                &guide().name,
            )
        }),
        scenario("expired container credentials", 77, TRUE, || {
            let endpoint = CredentialsEndpoint::start("t", CredentialsMode::Expired);
            let mut run = marked(&moto().url(), "short-cut/prod/app");
            run.unset("AWS_ACCESS_KEY_ID")
                .unset("AWS_SECRET_ACCESS_KEY")
                .unset("AWS_SESSION_TOKEN")
                .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.uri())
                .env(
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                    format!("{MARKER}-token"),
                );
            run
        }),
        scenario("no credentials", 77, TRUE, || {
            let mut run = marked(&moto().url(), "short-cut/prod/app");
            run.unset("AWS_ACCESS_KEY_ID")
                .unset("AWS_SECRET_ACCESS_KEY");
            run
        }),
    ]
}

#[test]
fn no_value_reaches_the_wrappers_output_in_any_mode() {
    let scenarios = scenarios();
    // Each scenario in both log formats.
    let runs: Vec<(&Scenario, &str)> = scenarios
        .iter()
        .flat_map(|s| ["text", "json"].map(|format| (s, format)))
        .collect();
    run_all(runs, |(scenario, format)| {
        let name = format!("{} ({format})", scenario.name);
        let mut run = (scenario.build)();
        run.arg("--log-format").arg(format);
        if !scenario.command.is_empty() {
            run.command(scenario.command);
        }
        let outcome = run.run();
        assert_eq!(
            outcome.code,
            Some(scenario.code),
            "{name}: unexpected status; stderr:\n{}",
            outcome.stderr
        );
        assert!(
            !outcome.stderr.contains(MARKER),
            "{name}: a value reached stderr:\n{}",
            outcome.stderr
        );
        assert!(
            scenario.stdout_has_values || !outcome.stdout.contains(MARKER),
            "{name}: a value reached stdout:\n{}",
            outcome.stdout
        );
        for text in [&outcome.stdout, &outcome.stderr] {
            assert!(!text.contains("panicked"), "{name}: {text}");
            assert!(!text.contains("container-secret"), "{name}: {text}");
        }
        if *format == "json" {
            for line in outcome.stderr.lines() {
                assert!(
                    serde_json::from_str::<serde_json::Value>(line).is_ok(),
                    "{name}: not a JSON line: {line}"
                );
            }
        }
        // Nothing was exec'd after a failure of the wrapper.
        if scenario.code != 0 && !scenario.command.is_empty() {
            assert!(outcome.stdout.is_empty(), "{name}: {}", outcome.stdout);
        }
    });
}

/// The types that hold values print none of them with `{:?}`, which is what a panic message or
/// a stray `dbg!` would use.
#[test]
fn secret_holding_types_redact_their_debug_output() {
    let text = guide_secret();
    let entries: Entries = envmap::parse_secret("short-cut/prod/app", &text).unwrap();
    assert!(!entries.pairs.is_empty());
    let inherited: Vars = [("HOME", format!("/{MARKER}"))].into_iter().collect();
    let built = envmap::build(
        &inherited,
        std::slice::from_ref(&entries),
        &Policy::default(),
    )
    .unwrap();
    let fetched = shortcut_env::payload::Payload::Secret {
        reference: shortcut_env::reference::parse("short-cut/prod/app").unwrap(),
        region: "us-east-1".into(),
        text: Some(text.clone()),
        binary: Some(text.clone().into_bytes()),
        version_id: Some("v".into()),
        version_stages: vec!["AWSCURRENT".into()],
        failover: None,
    };
    for shown in [
        format!("{entries:?}"),
        format!("{entries:#?}"),
        format!("{inherited:?}"),
        format!("{built:?}"),
        format!("{:?}", built.env),
        format!("{fetched:?}"),
        format!("{:?}", entries.pairs[0].1),
    ] {
        assert!(!shown.contains(MARKER), "{shown}");
    }
    // The names are still there, for debugging.
    assert!(format!("{entries:?}").contains("OPENAI_API_KEY"));

    // Errors about values name the key, never the value, in Display and Debug.
    let failures: Vec<Error> = [
        MARKER.to_string(),
        format!(r#"{{"A":"{MARKER}\u0000"}}"#),
        format!(r#"{{"{MARKER}-":"x"}}"#),
        format!(r#"{{"A":"{MARKER}","A":"x"}}"#),
        format!("[\"{MARKER}\"]"),
        format!("{{\"A\":\"{MARKER}"),
    ]
    .iter()
    .map(|text| {
        // Names and NUL bytes are checked when the environment is built, after selection.
        envmap::parse_secret("s", text)
            .and_then(|e| envmap::build(&Vars::default(), &[e], &Policy::default()))
            .unwrap_err()
    })
    .collect();
    for error in &failures {
        let shown = format!("{error} {error:?} {}", error.hint());
        // An invalid key is named on purpose (a key is not a value); that case has the marker
        // in its key only.
        if error.kind() == "invalid-key-name" {
            continue;
        }
        assert!(!shown.contains(MARKER), "{shown}");
    }
    for text in [
        MARKER.to_string(),
        format!(r#"{{"private_key":"{MARKER}"}}"#),
    ] {
        let error = shortcut_env::payload::validate_gcp_json(&text).unwrap_err();
        assert!(!format!("{error} {error:?}").contains(MARKER));
    }
}
