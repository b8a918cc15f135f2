//! Where a start reads from: the region of each secret (an ARN's own, else AWS_REGION, else
//! AWS_DEFAULT_REGION, else the profile's), the endpoint URL, the version; and the failures of
//! each, caught before any call where they can be.

use crate::support::*;

/// A start against a counting proxy that nothing may reach (`.offline()` checks that nothing
/// did), with the probe as its command.
fn offline() -> Run {
    let proxy = Proxy::start(endpoints::closed_port());
    let mut run = Run::aws(&proxy.url(), "short-cut/prod/app");
    run.via(&proxy).offline().probe();
    run
}

/// A config file with `text`, for AWS_CONFIG_FILE.
fn config_file(run: &mut Run, text: &str) {
    let path = run.path("aws-config");
    std::fs::write(&path, text).unwrap();
    run.env("AWS_CONFIG_FILE", &path);
}

// ---- regions ----------------------------------------------------------------------------

#[test]
fn region_of_an_arn_wins_over_aws_region() {
    let secret = seed_in(
        "eu-west-1",
        &unique("short-cut/eu/app"),
        Value::Text(r#"{"IN_EU":"yes"}"#),
    );
    assert!(secret.arn.contains(":eu-west-1:"), "{}", secret.arn);
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), &secret.arn);
    // ECS sets AWS_REGION in every task: the ARN of another region must still be read.
    run.env("AWS_REGION", "us-east-1");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["IN_EU"], "yes");
    assert_eq!(proxy.requests()[0].signed_region(), "eu-west-1");
}

#[test]
fn region_of_an_arn_and_aws_region_for_a_name_in_one_start() {
    let eu = seed_in(
        "eu-west-1",
        &unique("short-cut/eu/app"),
        Value::Text(r#"{"IN_EU":"yes"}"#),
    );
    let us = seed_text(r#"{"IN_US":"yes"}"#);
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), &format!("{},{}", eu.arn, us.name));
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(
        (env["IN_EU"].as_str(), env["IN_US"].as_str()),
        ("yes", "yes")
    );
    let mut regions: Vec<String> = proxy
        .requests()
        .iter()
        .map(endpoints::Request::signed_region)
        .collect();
    regions.sort();
    assert_eq!(regions, ["eu-west-1", "us-east-1"]);
}

#[test]
fn region_from_aws_default_region_without_aws_region() {
    let secret = seed_text(r#"{"FROM_DEFAULT_REGION":"yes"}"#);
    let mut run = Run::moto(&secret.name);
    run.unset("AWS_REGION").env("AWS_DEFAULT_REGION", REGION);
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["FROM_DEFAULT_REGION"], "yes");
}

#[test]
fn region_from_the_default_profile_without_either_variable() {
    let secret = seed_text(r#"{"FROM_PROFILE_REGION":"yes"}"#);
    let mut run = Run::moto(&secret.name);
    run.unset("AWS_REGION");
    config_file(&mut run, &format!("[default]\nregion = {REGION}\n"));
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["FROM_PROFILE_REGION"], "yes");
}

#[test]
fn region_from_the_aws_profile_named() {
    let secret = seed_text(r#"{"FROM_NAMED_PROFILE":"yes"}"#);
    let mut run = Run::moto(&secret.name);
    run.unset("AWS_REGION").env("AWS_PROFILE", "dev");
    config_file(
        &mut run,
        &format!("[default]\nregion = eu-west-9\n[profile dev]\nregion = {REGION}\n"),
    );
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["FROM_NAMED_PROFILE"], "yes");
}

#[test]
fn region_aws_region_wins_over_the_profile() {
    let secret = seed_text(r#"{"FROM_AWS_REGION":"yes"}"#);
    let mut run = Run::moto(&secret.name);
    config_file(&mut run, "[default]\nregion = eu-west-9\n");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["FROM_AWS_REGION"], "yes");
}

#[test]
fn region_missing_everywhere_is_78_before_any_call() {
    let mut run = offline();
    run.unset("AWS_REGION");
    run.run()
        .fails(78)
        .stderr_has("AWS_REGION, AWS_DEFAULT_REGION and the profile's region are not set")
        .stderr_has("hint: set AWS_REGION");
}

#[test]
fn region_malformed_in_the_profile_is_78() {
    let mut run = offline();
    run.unset("AWS_REGION");
    config_file(&mut run, "[default]\nregion = US-EAST-1\n");
    run.run()
        .fails(78)
        .stderr_has("\"US-EAST-1\" is not a valid AWS region");
}

#[test]
fn region_malformed_in_aws_default_region_is_78() {
    let mut run = offline();
    run.unset("AWS_REGION")
        .env("AWS_DEFAULT_REGION", "us-east-1a");
    run.run().fails(78).stderr_has("us-east-1a");
}

#[test]
fn region_misspelt_gets_a_dns_hint_naming_it() {
    let mut run = Run::bare();
    run.env("APP_ENV", "production")
        .env("AWS_REGION", "us-esat-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("SECRET_NAME", "short-cut/prod/app")
        .env("SHORTCUT_ENV_TIMEOUT", "5")
        .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.01")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(69)
        .stderr_has("could not resolve the Secrets Manager endpoint of region us-esat-1")
        .stderr_has("hint: check that the region us-esat-1 is spelled right");
}

// ---- endpoint URLs ------------------------------------------------------------------------

#[track_caller]
fn endpoint_refused(name: &str, url: &str, reason: &str) {
    let mut run = offline();
    run.env(name, url);
    let outcome = run.run();
    outcome
        .fails(78)
        .stderr_has(&format!("{name}="))
        .stderr_has("is not a usable endpoint URL")
        .stderr_has(reason)
        .stderr_has("hint: ");
    assert!(
        outcome.elapsed < std::time::Duration::from_secs(3),
        "{:?}",
        outcome.elapsed
    );
}

#[test]
fn endpoint_without_a_scheme_is_78_at_once() {
    endpoint_refused("AWS_ENDPOINT_URL", "localhost:4566", "no scheme");
}

#[test]
fn endpoint_ip_without_a_scheme_is_78_at_once() {
    endpoint_refused("AWS_ENDPOINT_URL", "127.0.0.1:4566", "no scheme");
}

#[test]
fn endpoint_that_is_not_a_url_is_78() {
    endpoint_refused("AWS_ENDPOINT_URL", "not a url", "a space");
}

#[test]
fn endpoint_with_a_port_out_of_range_is_78() {
    endpoint_refused("AWS_ENDPOINT_URL", "http://localhost:99999", "port");
}

#[test]
fn endpoint_with_a_port_that_is_not_a_number_is_78() {
    endpoint_refused("AWS_ENDPOINT_URL", "http://localhost:port", "port");
}

#[test]
fn endpoint_with_another_scheme_is_78() {
    endpoint_refused("AWS_ENDPOINT_URL", "ftp://localhost:21", "http or https");
}

#[test]
fn endpoint_with_a_password_is_78_and_not_echoed() {
    endpoint_refused(
        "AWS_ENDPOINT_URL",
        &format!("https://admin:{MARKER}@localhost"),
        "user name or password",
    );
    let mut run = offline();
    run.env(
        "AWS_ENDPOINT_URL",
        format!("https://admin:{MARKER}@localhost"),
    );
    run.run().stderr_lacks(MARKER);
}

#[test]
fn endpoint_for_secrets_manager_is_checked_too() {
    endpoint_refused(
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "localhost:4566",
        "no scheme",
    );
}

#[test]
fn endpoint_with_a_newline_is_78_and_escaped() {
    endpoint_refused(
        "AWS_ENDPOINT_URL",
        "http://localhost\nshortcut-env: loaded",
        "control character",
    );
}

// ---- versions -----------------------------------------------------------------------------

#[test]
fn version_stage_with_a_control_character_is_78() {
    let mut run = offline();
    run.env("SECRET_VERSION_STAGE", "AWSCURRENT\r");
    run.run()
        .fails(78)
        .stderr_has("SECRET_VERSION_STAGE=\"AWSCURRENT\\r\" is not valid");
}

#[test]
fn version_id_with_a_newline_is_78() {
    let mut run = offline();
    run.env("SECRET_VERSION_ID", "3f0c\nshortcut-env: loaded");
    run.run().fails(78).stderr_has("SECRET_VERSION_ID=");
}

#[test]
fn version_in_a_reference_with_an_escape_character_is_78() {
    let mut run = offline();
    run.env("SECRET_NAME", "short-cut/prod/app::AWS\u{1b}[31mCURRENT");
    run.run()
        .fails(78)
        .stderr_has("VERSION_STAGE does not fit: it holds a control character")
        .stderr_lacks("\u{1b}");
}

#[test]
fn version_stage_that_does_not_exist_says_the_version_is_missing() {
    let secret = seed_text(&guide_secret());
    let mut run = Run::moto(&secret.name);
    run.env("SECRET_VERSION_STAGE", "AWSPREVIOUS")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(66)
        .stderr_has(&format!(
            "secret {} has no version stage AWSPREVIOUS",
            secret.name
        ))
        .stderr_has("hint: the secret exists but not this version")
        .stderr_lacks(MARKER);
}

#[test]
fn version_id_that_does_not_exist_says_the_version_is_missing() {
    let secret = seed_text(&guide_secret());
    let mut run = Run::moto(&secret.name);
    run.env("SECRET_VERSION_ID", "00000000-0000-4000-8000-000000000000")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(66)
        .stderr_has("has no version id 00000000-0000-4000-8000-000000000000")
        .stderr_lacks(MARKER);
}

#[test]
fn version_pinned_on_a_secret_that_does_not_exist_is_still_a_missing_secret() {
    let mut run = Run::moto(&unique("short-cut/absent"));
    run.env("SECRET_VERSION_STAGE", "AWSPREVIOUS")
        .command(&["/bin/echo", "ran"]);
    run.run().fails(66).stderr_has("was not found in us-east-1");
}
