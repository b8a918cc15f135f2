//! Fail-fast configuration: each failure is a 78 (or 64) before any network call.

use crate::support::*;

/// Runs with every AWS setting pointing at a counting proxy, so a test can prove nothing was
/// sent.
fn offline() -> (Run, Proxy) {
    let proxy = Proxy::start(endpoints::closed_port());
    let mut run = Run::aws(&proxy.url(), "short-cut/prod/app");
    run.command(&["/bin/echo", "ran"]);
    (run, proxy)
}

#[test]
fn missing_app_env_names_it_and_the_accepted_values() {
    let (mut run, proxy) = offline();
    let outcome = run.unset("APP_ENV").run();
    outcome
        .fails(78)
        .stderr_has("APP_ENV")
        .stderr_has("local, development, staging, production");
    assert!(proxy.requests().is_empty());
}

#[test]
fn unknown_app_env_is_a_configuration_error() {
    for value in ["prodution", "Production", "qa"] {
        let (mut run, proxy) = offline();
        run.env("APP_ENV", value)
            .run()
            .fails(78)
            .stderr_has(value)
            .stderr_has("production");
        assert!(proxy.requests().is_empty());
    }
}

#[test]
fn aws_modes_require_a_region() {
    for app_env in ["production", "prod", "staging", "development"] {
        let (mut run, proxy) = offline();
        run.env("APP_ENV", app_env).unset("AWS_REGION");
        run.run().fails(78).stderr_has("AWS_REGION");
        assert!(proxy.requests().is_empty());
    }
}

#[test]
fn malformed_regions_are_refused_before_any_call() {
    for region in ["us-east-1 ", "US-EAST-1", "us-east-1a", "useast1"] {
        let (mut run, proxy) = offline();
        run.env("AWS_REGION", region)
            .run()
            .fails(78)
            .stderr_has("AWS_REGION")
            .stderr_has("us-east-1");
        assert!(proxy.requests().is_empty(), "{region:?}");
    }
}

#[test]
fn development_needs_an_explicit_secret_name() {
    let (mut run, proxy) = offline();
    run.env("APP_ENV", "development")
        .unset("SECRET_NAME")
        .run()
        .fails(78)
        .stderr_has("SECRET_NAME");
    assert!(proxy.requests().is_empty());
}

#[test]
fn bad_option_values_are_configuration_errors() {
    let cases = [
        ("SHORTCUT_ENV_TIMEOUT", "soon"),
        ("SHORTCUT_ENV_TIMEOUT", "0"),
        ("SHORTCUT_ENV_PRESERVE_ENV", "perhaps!"),
        ("SHORTCUT_ENV_MAX_ATTEMPTS", "0"),
        ("SHORTCUT_ENV_MAP", "A=PATH"),
        ("SHORTCUT_ENV_FILES", "A=F,B=F"),
        ("SECRET_NAME", "app:K:S:V:extra"),
        ("SHORTCUT_ENV_LOG_FORMAT", "xml"),
    ];
    for (name, value) in cases {
        let (mut run, proxy) = offline();
        run.env(name, value).run().fails(78).stderr_has(name);
        assert!(proxy.requests().is_empty());
    }
}

#[test]
fn usage_errors_exit_64() {
    let outcome = Run::local().arg("--no-such-flag").run();
    outcome.code(64);
    let outcome = Run::local().arg("uvicorn").run();
    outcome.code(64);
    Run::local().run().fails(64).stderr_has("--");
}

#[test]
fn help_and_version_succeed_and_document_the_variables() {
    let outcome = Run::bare().arg("--help").run();
    outcome.code(0);
    for needle in [
        "APP_ENV",
        "AWS_REGION",
        "SECRET_NAME",
        "SHORTCUT_ENV_TIMEOUT",
        "77",
    ] {
        assert!(outcome.stdout.contains(needle), "--help lacks {needle}");
    }
    let outcome = Run::bare().arg("--version").run();
    outcome.code(0);
    assert!(outcome.stdout.starts_with("shortcut-env "));
}

#[test]
fn help_never_shows_a_value_from_the_environment() {
    let mut run = Run::local();
    run.env("SECRET_NAME", MARKER)
        .env("SHORTCUT_ENV_TIMEOUT", MARKER)
        .arg("--help");
    let outcome = run.run();
    outcome.code(0);
    assert!(!outcome.stdout.contains(MARKER));
}
