//! `--drop-aws-credentials`: the fetch uses the AWS credential variables, the command never
//! sees them. Each credential source for real (static keys through a proxy that shows the
//! signature, IRSA against moto's STS, Pod Identity against its loopback endpoint), `check`'s
//! report, local mode, and the variable form.

use std::collections::BTreeMap;

use crate::eks::{irsa, pod_identity, signing_key_of_get_secret_value, sts_requests};
use crate::support::endpoints::CredentialsMode;
use crate::support::*;

const ACCESS_KEY: &str = "AKIADROPTEST0000";

/// Static keys (the secret key marked, so a leak would show), through a proxy, dropping.
fn keys_through(proxy: &Proxy, secret: &str) -> Run {
    let mut run = Run::aws(&proxy.url(), secret);
    run.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env(
            "AWS_SECRET_ACCESS_KEY",
            format!("{MARKER}-secret-access-key"),
        )
        .arg("--drop-aws-credentials");
    run
}

#[track_caller]
fn lacks(env: &BTreeMap<String, String>, names: &[&str]) {
    for name in names {
        assert!(!env.contains_key(*name), "the command still has {name}");
    }
}

#[test]
fn drop_removes_static_keys_that_signed_the_fetch() {
    let secret = seed_text(r#"{"APP_KEY":"fetched"}"#);
    let proxy = Proxy::start(moto().port);
    let (outcome, env) = keys_through(&proxy, &secret.name).env_seen();
    outcome.code(0);
    assert_eq!(env["APP_KEY"], "fetched");
    assert_eq!(signing_key_of_get_secret_value(&proxy), ACCESS_KEY);
    lacks(&env, &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
}

#[test]
fn drop_removes_the_session_token_that_went_with_the_fetch() {
    let secret = seed_text(r#"{"APP_KEY":"fetched"}"#);
    let proxy = Proxy::start(moto().port);
    let mut run = keys_through(&proxy, &secret.name);
    run.env("AWS_SESSION_TOKEN", "session-token-for-the-fetch")
        .env("AWS_SECURITY_TOKEN", "session-token-for-the-fetch")
        .env("AWS_CREDENTIAL_EXPIRATION", "2099-01-01T00:00:00Z");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    let sent = proxy.requests().iter().any(|r| {
        r.header("x-amz-security-token").as_deref() == Some("session-token-for-the-fetch")
    });
    assert!(sent, "the fetch did not send the session token");
    lacks(
        &env,
        &[
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_CREDENTIAL_EXPIRATION",
        ],
    );
}

#[test]
fn drop_removes_the_ecs_task_role_uri() {
    let secret = seed_text(r#"{"APP_KEY":"fetched"}"#);
    let proxy = Proxy::start(moto().port);
    let mut run = keys_through(&proxy, &secret.name);
    // As ECS sets it in every task with a task role (the keys above take precedence here).
    run.env(
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "/v2/credentials/task-id",
    );
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    lacks(&env, &["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]);
}

#[test]
fn drop_removes_pod_identity_uri_and_token_file_after_using_them() {
    let secret = seed_text(r#"{"APP_KEY":"fetched"}"#);
    let endpoint = CredentialsEndpoint::start("pod-token-drop", CredentialsMode::Valid);
    let mut run = pod_identity(&endpoint, "pod-token-drop", &secret.name);
    run.arg("--drop-aws-credentials");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["APP_KEY"], "fetched");
    assert_eq!(endpoint.requests().len(), 1, "the fetch used the endpoint");
    lacks(
        &env,
        &[
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        ],
    );
}

#[test]
fn drop_removes_a_literal_container_authorization_token() {
    let secret = seed_text(r#"{"APP_KEY":"fetched"}"#);
    let endpoint = CredentialsEndpoint::start("literal-token-drop", CredentialsMode::Valid);
    let mut run = Run::moto(&secret.name);
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.uri())
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "literal-token-drop")
        .arg("--drop-aws-credentials");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(endpoint.requests().len(), 1, "the fetch used the endpoint");
    lacks(
        &env,
        &[
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        ],
    );
}

#[test]
fn drop_removes_the_irsa_role_and_token_file_after_assuming_the_role() {
    let secret = seed_text(r#"{"APP_KEY":"fetched"}"#);
    let proxy = Proxy::start(moto().port);
    let mut run = irsa(&proxy.url(), &secret.name);
    run.env("AWS_ROLE_SESSION_NAME", "app-session")
        .arg("--drop-aws-credentials");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["APP_KEY"], "fetched");
    assert_eq!(sts_requests(&proxy).len(), 1, "the fetch assumed the role");
    lacks(
        &env,
        &[
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_SESSION_NAME",
        ],
    );
}

#[test]
fn drop_keeps_region_profile_and_the_rest() {
    let secret = seed_text(r#"{"APP_KEY":"fetched"}"#);
    let proxy = Proxy::start(moto().port);
    let mut run = keys_through(&proxy, &secret.name);
    run.env("KEPT_BY_DROP", "yes");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["AWS_REGION"], REGION);
    assert_eq!(env["KEPT_BY_DROP"], "yes");
    assert!(env.contains_key("AWS_CONFIG_FILE"));
}

#[test]
fn without_drop_the_command_inherits_the_keys() {
    let secret = seed_text(r#"{"APP_KEY":"fetched"}"#);
    let (outcome, env) = Run::moto(&secret.name).env_seen();
    outcome.code(0);
    assert_eq!(env["AWS_ACCESS_KEY_ID"], "testing");
}

#[test]
fn drop_by_variable_works_like_the_flag() {
    let secret = seed_text(r#"{"APP_KEY":"fetched"}"#);
    let mut run = Run::moto(&secret.name);
    run.env("SHORTCUT_ENV_DROP_AWS_CREDENTIALS", "1");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    lacks(&env, &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
}

#[test]
fn drop_variable_that_is_not_a_boolean_is_78() {
    let mut run = Run::moto("short-cut/prod/app");
    run.env("SHORTCUT_ENV_DROP_AWS_CREDENTIALS", "perhaps")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(78)
        .stderr_has("SHORTCUT_ENV_DROP_AWS_CREDENTIALS=\"perhaps\"");
}

#[test]
fn drop_keeps_a_credential_name_the_secret_sets_with_allow_key() {
    let secret = seed_text(r#"{"AWS_ACCESS_KEY_ID":"the-apps-own-key"}"#);
    let mut run = Run::moto(&secret.name);
    run.arg("--drop-aws-credentials")
        .arg("--allow-key")
        .arg("AWS_ACCESS_KEY_ID");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["AWS_ACCESS_KEY_ID"], "the-apps-own-key");
    lacks(&env, &["AWS_SECRET_ACCESS_KEY"]);
}

#[test]
fn drop_names_what_it_removed_and_never_a_value() {
    let secret = seed_text(&guide_secret());
    let proxy = Proxy::start(moto().port);
    let mut run = keys_through(&proxy, &secret.name);
    let outcome = run.command(&["/bin/true"]).run();
    outcome
        .code(0)
        .stderr_has("lacks AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY")
        .stderr_lacks(MARKER);
}

#[test]
fn drop_in_check_reports_the_dropped_names() {
    let secret = seed_text(r#"{"APP_KEY":"fetched"}"#);
    let proxy = Proxy::start(moto().port);
    let mut run = keys_through(&proxy, &secret.name);
    run.arg("check");
    let outcome = run.run();
    outcome.code(0).stderr_lacks(MARKER);
    let row = |name: &str| {
        outcome
            .stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row:\n{}", outcome.stdout))
            .to_string()
    };
    assert!(row("AWS_ACCESS_KEY_ID").ends_with("DROPPED (--drop-aws-credentials)"));
    assert!(row("AWS_SECRET_ACCESS_KEY").contains("DROPPED"));
    assert!(row("APP_KEY").ends_with("OK"));
    assert!(!outcome.stdout.contains(MARKER));
}

#[test]
fn drop_in_check_fails_a_required_credential_variable() {
    let secret = seed_text(r#"{"APP_KEY":"fetched"}"#);
    let proxy = Proxy::start(moto().port);
    let mut run = keys_through(&proxy, &secret.name);
    run.arg("check").arg("--require").arg("AWS_ACCESS_KEY_ID");
    let outcome = run.run();
    outcome.code(65).stderr_has("AWS_ACCESS_KEY_ID");
    assert!(
        outcome
            .stdout
            .contains("FAIL (required, dropped by --drop-aws-credentials)")
    );
}

#[test]
fn drop_in_local_mode_removes_the_laptops_keys() {
    let mut run = Run::local();
    std::fs::write(run.path(".env"), "APP_KEY=from-dotenv\n").unwrap();
    run.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", format!("{MARKER}-laptop"))
        .env("AWS_SESSION_TOKEN", "laptop-session")
        .env("AWS_PROFILE", "dev")
        .arg("--drop-aws-credentials");
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_lacks(MARKER);
    assert_eq!(env["APP_KEY"], "from-dotenv");
    assert_eq!(env["AWS_PROFILE"], "dev", "a profile is not a credential");
    lacks(
        &env,
        &[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ],
    );
}
