//! Fail-fast configuration: each failure is a 78 (or 64) before any network call.

use crate::support::*;

/// A production start against a counting proxy that nothing may reach (`.offline()` proves
/// that nothing was sent), with the probe as its command (so nothing may have been exec'd).
fn offline() -> Run {
    let proxy = Proxy::start(endpoints::closed_port());
    let mut run = Run::aws(&proxy.url(), "short-cut/prod/app");
    run.via(&proxy).offline().probe();
    run
}

// ---- APP_ENV ------------------------------------------------------------------------------

#[test]
fn app_env_missing_names_it_and_the_accepted_values() {
    offline()
        .unset("APP_ENV")
        .fails(78)
        .stderr_has("APP_ENV")
        .stderr_has("local, development, staging, production")
        .run();
}

/// `APP_ENV=value` is refused (78), the message naming the value and the accepted ones.
fn app_env_refused(value: &str) {
    offline()
        .env("APP_ENV", value)
        .fails(78)
        .stderr_has(value)
        .stderr_has("production")
        .run();
}

#[test]
fn app_env_misspelt_is_78() {
    app_env_refused("prodution");
}

#[test]
fn app_env_capitalized_is_78() {
    app_env_refused("Production");
}

#[test]
fn app_env_unknown_is_78() {
    app_env_refused("qa");
}

// ---- regions ------------------------------------------------------------------------------

/// Without AWS_REGION, a start in `app_env` is refused before any call.
fn region_required(app_env: &str) {
    offline()
        .env("APP_ENV", app_env)
        .unset("AWS_REGION")
        .fails(78)
        .stderr_has("AWS_REGION")
        .run();
}

#[test]
fn region_required_in_production() {
    region_required("production");
}

#[test]
fn region_required_in_prod() {
    region_required("prod");
}

#[test]
fn region_required_in_staging() {
    region_required("staging");
}

#[test]
fn region_required_in_development() {
    region_required("development");
}

/// `AWS_REGION=region` is refused before any call, the message quoting it.
fn region_refused(region: &str) {
    offline()
        .env("AWS_REGION", region)
        .fails(78)
        .stderr_has(&format!(
            "AWS_REGION=\"{region}\" is not a valid AWS region"
        ))
        .run();
}

#[test]
fn region_with_a_trailing_space_is_78() {
    region_refused("us-east-1 ");
}

#[test]
fn region_in_capitals_is_78() {
    region_refused("US-EAST-1");
}

#[test]
fn region_naming_a_zone_is_78() {
    region_refused("us-east-1a");
}

#[test]
fn region_without_dashes_is_78() {
    region_refused("useast1");
}

#[test]
fn development_needs_an_explicit_secret_name() {
    offline()
        .env("APP_ENV", "development")
        .unset("SECRET_NAME")
        .fails(78)
        .stderr_has("SECRET_NAME")
        .run();
}

// ---- option values ------------------------------------------------------------------------

/// `name=value` is refused before any call, the message naming the variable.
fn option_refused(name: &str, value: &str) {
    offline().env(name, value).fails(78).stderr_has(name).run();
}

#[test]
fn option_timeout_word_is_78() {
    option_refused("SHORTCUT_ENV_TIMEOUT", "soon");
}

#[test]
fn option_timeout_zero_is_78() {
    option_refused("SHORTCUT_ENV_TIMEOUT", "0");
}

#[test]
fn option_preserve_env_sentence_is_78() {
    option_refused("SHORTCUT_ENV_PRESERVE_ENV", "perhaps!");
}

#[test]
fn option_max_attempts_zero_is_78() {
    option_refused("SHORTCUT_ENV_MAX_ATTEMPTS", "0");
}

#[test]
fn option_map_onto_a_protected_name_is_78() {
    option_refused("SHORTCUT_ENV_MAP", "A=PATH");
}

#[test]
fn option_files_twice_the_same_variable_is_78() {
    option_refused("SHORTCUT_ENV_FILES", "A=F,B=F");
}

#[test]
fn option_secret_name_with_too_many_fields_is_78() {
    option_refused("SECRET_NAME", "app:K:S:V:extra");
}

#[test]
fn option_secret_name_empty_is_78() {
    option_refused("SECRET_NAME", "");
}

#[test]
fn option_log_format_xml_is_78() {
    option_refused("SHORTCUT_ENV_LOG_FORMAT", "xml");
}

// ---- usage --------------------------------------------------------------------------------

#[test]
fn usage_unknown_flag_is_64() {
    Run::local()
        .arg("--no-such-flag")
        .fails(64)
        .stderr_has("--no-such-flag")
        .run();
}

#[test]
fn usage_command_without_dashes_is_64() {
    Run::local()
        .arg("uvicorn")
        .fails(64)
        .stderr_has("`--`")
        .run();
}

#[test]
fn usage_no_command_is_64_and_names_the_dashes() {
    Run::local().fails(64).stderr_has("--").run();
}

#[test]
fn usage_command_missing_after_dashes_is_64() {
    Run::local()
        .arg("--")
        .fails(64)
        .stderr_has("no command to run")
        .run();
}

// ---- help and version ---------------------------------------------------------------------

#[test]
fn help_documents_the_variables_and_exit_codes() {
    let outcome = Run::bare().arg("--help").code(0).run();
    for needle in [
        "APP_ENV",
        "AWS_REGION",
        "SECRET_NAME",
        "SHORTCUT_ENV_TIMEOUT",
        "77",
    ] {
        assert!(outcome.stdout.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn version_names_the_program() {
    let outcome = Run::bare().arg("--version").code(0).run();
    assert!(outcome.stdout.starts_with("shortcut-env "));
}

#[test]
fn help_never_shows_a_value_from_the_environment() {
    let outcome = Run::local()
        .env("SECRET_NAME", MARKER)
        .env("SHORTCUT_ENV_TIMEOUT", MARKER)
        .arg("--help")
        .code(0)
        .run();
    assert!(!outcome.stdout.contains(MARKER));
}
