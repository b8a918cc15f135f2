//! No secret value in any output: every failure mode and the happy path, with secret values
//! (and the AWS keys) carrying a marker, each in text and in JSON logs (`leaks::NAME::text`,
//! `leaks::NAME::json`). The builder's invariants do the looking: no marker on stderr, nor on
//! stdout where it is the wrapper's (the command is the probe, which prints nothing, or the
//! wrapper failed); `export`, which exists to print values, is checked on stderr only.

use std::os::unix::fs::PermissionsExt;

use shortcut_env::envmap::{self, Entries, Policy};
use shortcut_env::error::Error;
use shortcut_env::vars::Vars;

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
        .env("RUST_BACKTRACE", "full")
        .stderr_lacks("container-secret");
    run
}

fn denied(code: &'static str, message: &'static str) -> Fault {
    Fault::Error {
        status: 400,
        code,
        message,
    }
}

/// The guide's secret from moto, with marked keys.
fn guide() -> Run {
    marked(&moto().url(), &seed_text(&guide_secret()).name)
}

/// The guide's secret through a proxy that answers every request with `fault`.
fn via_proxy(fault: Fault) -> Run {
    let proxy = Proxy::start(moto().port);
    proxy.always(fault);
    let mut run = marked(&proxy.url(), &seed_text(&guide_secret()).name);
    run.via(&proxy);
    run
}

/// A secret holding `text`, with marked keys.
fn seeded(text: &str) -> Run {
    marked(&moto().url(), &seed_text(text).name)
}

/// A start that must fail with `code` before the probe runs.
fn failing(mut run: Run, code: i32) -> Run {
    run.probe().fails(code);
    run
}

/// A start that must run the probe.
fn starting(mut run: Run) -> Run {
    run.probe().code(0);
    run
}

/// `dir` made with `mode`, in `run`'s directory.
fn dir_with_mode(run: &Run, name: &str, mode: u32) -> std::path::PathBuf {
    let dir = run.path(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
    dir
}

/// Local mode with this `.env`.
fn dotenv(content: &str) -> Run {
    let run = Run::local();
    std::fs::write(run.path(".env"), content).unwrap();
    run
}

/// Container credentials from an endpoint in `mode`, the authorization token marked.
fn container(mode: CredentialsMode) -> Run {
    let endpoint = CredentialsEndpoint::start("t", mode);
    let mut run = marked(&moto().url(), "short-cut/prod/app");
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .unset("AWS_SESSION_TOKEN")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.uri())
        .env(
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            format!("{MARKER}-token"),
        );
    // (The endpoint's thread keeps serving after the handle is dropped.)
    run
}

/// `run` in text logs and in JSON logs, as two tests of a module named for the scenario.
macro_rules! leaks {
    ($($name:ident: $run:expr;)+) => {
        $(
            mod $name {
                use super::*;

                #[test]
                fn text() {
                    let mut run = $run;
                    run.env("SHORTCUT_ENV_LOG_FORMAT", "text").run();
                }

                #[test]
                fn json() {
                    let mut run = $run;
                    run.env("SHORTCUT_ENV_LOG_FORMAT", "json").run();
                }
            }
        )+
    };
}

leaks! {
    // ---- the happy paths -----------------------------------------------------------------
    happy_path: starting(guide());
    happy_path_with_every_warning: {
        let mut secret: serde_json::Value = serde_json::from_str(&guide_secret()).unwrap();
        secret["GONE"] = serde_json::Value::Null;
        secret["PATH"] = format!("/{MARKER}").into();
        let mut run = seeded(&secret.to_string());
        run.env("OPENAI_API_KEY", format!("{MARKER}-inherited"));
        starting(run)
    };
    whole_secret_as_one_variable: {
        let secret = seed_text(&format!("{MARKER} not json at all"));
        starting(marked(&moto().url(), &format!("WHOLE={}", secret.name)))
    };
    check: {
        let mut run = guide();
        run.arg("check").code(0);
        run
    };
    check_with_a_missing_required_key: {
        let mut run = guide();
        run.arg("check").env("SHORTCUT_ENV_REQUIRE", "NOT_THERE").code(65);
        run
    };
    export: {
        let mut run = guide();
        run.arg("export").code(0);
        run
    };
    // ---- the secret's data ---------------------------------------------------------------
    not_json: failing(seeded(&format!("{MARKER} plain")), 65);
    invalid_key_name: failing(seeded(&format!(r#"{{"A-B":"{MARKER}"}}"#)), 65);
    nul_in_a_value: failing(seeded(&format!(r#"{{"A":"{MARKER}\u0000"}}"#)), 65);
    duplicate_key: failing(seeded(&format!(r#"{{"A":"{MARKER}","A":"{MARKER}"}}"#)), 65);
    json_key_missing_from_the_secret: {
        let secret = seed_text(&guide_secret());
        failing(marked(&moto().url(), &format!("{}:NOT_THERE", secret.name)), 65)
    };
    binary_secret: {
        let secret = seed(
            &unique("short-cut/test/bin"),
            Value::Binary(format!("{MARKER}\0").as_bytes()),
        );
        failing(marked(&moto().url(), &secret.name), 65)
    };
    required_key_missing: {
        let mut run = guide();
        run.env("SHORTCUT_ENV_REQUIRE", "OPENAI_API_KEY,NOT_THERE");
        failing(run, 65)
    };
    gcp_key_not_json: failing(
        seeded(&serde_json::json!({ "GOOGLE_APPLICATION_CREDENTIALS_JSON": format!("{MARKER}{{") }).to_string()),
        65,
    );
    gcp_key_without_type: failing(
        seeded(&serde_json::json!({
            "GOOGLE_APPLICATION_CREDENTIALS_JSON": format!(r#"{{"private_key":"{MARKER}"}}"#)
        }).to_string()),
        65,
    );
    inherited_gcp_key_not_json_in_local_mode: {
        let mut run = Run::local();
        run.env("GOOGLE_APPLICATION_CREDENTIALS_JSON", format!("[{MARKER}"));
        failing(run, 65)
    };
    dotenv_syntax_error: failing(dotenv(&format!("A=1\nB {MARKER}\n")), 78);
    dotenv_invalid_key: failing(dotenv(&format!("A-B={MARKER}\n")), 78);
    // ---- files and the command -----------------------------------------------------------
    credentials_directory_writable_by_others: {
        let mut run = guide();
        let open = dir_with_mode(&run, "open", 0o777);
        run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &open);
        failing(run, 73)
    };
    credentials_directory_is_a_symlink: {
        let mut run = guide();
        let link = run.path("link");
        std::os::unix::fs::symlink(run.temp.path(), &link).unwrap();
        run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &link);
        failing(run, 73)
    };
    command_not_found: {
        let mut run = guide();
        run.command(&["no-such-command-anywhere"]).fails(127);
        run
    };
    command_not_executable: {
        let mut run = guide();
        std::fs::write(run.path("not-executable"), "#!/bin/sh\n").unwrap();
        run.command(&["./not-executable"]).fails(126);
        run
    };
    // ---- the network -----------------------------------------------------------------------
    answer_cut_in_half: failing(via_proxy(Fault::Truncate), 69);
    connection_closed_mid_answer: failing(via_proxy(Fault::CloseMidResponse), 69);
    garbage_answer_holding_a_value: failing(
        via_proxy(Fault::Respond { status: 200, body: format!("<html>{MARKER}</html>") }),
        69,
    );
    answer_of_the_wrong_shape: failing(
        via_proxy(Fault::Respond {
            status: 200,
            body: format!(r#"{{"Name":"x","SecretString":{{"{MARKER}":["{MARKER}"]}}}}"#),
        }),
        69,
    );
    error_answer_holding_a_value: failing(
        via_proxy(Fault::Respond {
            status: 500,
            body: format!(r#"{{"__type":"InternalServiceError","Echo":"{MARKER}"}}"#),
        }),
        69,
    );
    throttled: {
        let mut run = via_proxy(denied("ThrottlingException", "Rate exceeded"));
        run.env("SHORTCUT_ENV_MAX_ATTEMPTS", "2");
        failing(run, 69)
    };
    access_denied: failing(via_proxy(denied("AccessDeniedException", "not authorized")), 77);
    kms_decryption_failure: failing(via_proxy(denied("DecryptionFailure", "cannot decrypt")), 77);
    hangs: {
        let mut run = via_proxy(Fault::Hang);
        run.env("SHORTCUT_ENV_TIMEOUT", "1");
        failing(run, 69)
    };
    refused: failing(
        marked(&format!("http://127.0.0.1:{}", closed_port()), &seed_text(&guide_secret()).name),
        69,
    );
    expired_container_credentials: failing(container(CredentialsMode::Expired), 77);
    no_credentials: {
        let mut run = marked(&moto().url(), "short-cut/prod/app");
        run.unset("AWS_ACCESS_KEY_ID").unset("AWS_SECRET_ACCESS_KEY");
        failing(run, 77)
    };
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
