//! `--drop-aws-credentials`: the fetch uses the AWS credential variables, the command never
//! sees them. Each credential source for real (static keys through a proxy that shows the
//! signature, IRSA against moto's STS, Pod Identity against its loopback endpoint), `check`'s
//! report, local mode, and the variable form.

use crate::eks::{irsa, pod_identity, signing_key_of_get_secret_value, sts_requests};
use crate::support::endpoints::CredentialsMode;
use crate::support::*;

const ACCESS_KEY: &str = "AKIADROPTEST0000";
const SECRET: &str = r#"{"APP_KEY":"fetched"}"#;

/// Static keys (the secret key marked, so a leak would show), through a proxy, dropping.
fn keys_dropped() -> Run {
    let mut run = Run::proxied(&seed_text(SECRET).name);
    run.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env(
            "AWS_SECRET_ACCESS_KEY",
            format!("{MARKER}-secret-access-key"),
        )
        .arg("--drop-aws-credentials");
    run
}

#[test]
fn drop_removes_static_keys_that_signed_the_fetch() {
    let mut run = keys_dropped();
    run.sees("APP_KEY", "fetched")
        .lacks("AWS_ACCESS_KEY_ID")
        .lacks("AWS_SECRET_ACCESS_KEY")
        .code(0)
        .run();
    assert_eq!(signing_key_of_get_secret_value(run.proxy()), ACCESS_KEY);
}

#[test]
fn drop_removes_the_session_token_that_went_with_the_fetch() {
    let mut run = keys_dropped();
    run.env("AWS_SESSION_TOKEN", "session-token-for-the-fetch")
        .env("AWS_SECURITY_TOKEN", "session-token-for-the-fetch")
        .env("AWS_CREDENTIAL_EXPIRATION", "2099-01-01T00:00:00Z")
        .lacks("AWS_SESSION_TOKEN")
        .lacks("AWS_SECURITY_TOKEN")
        .lacks("AWS_CREDENTIAL_EXPIRATION")
        .code(0)
        .run();
    let sent = run.proxy().requests().iter().any(|r| {
        r.header("x-amz-security-token").as_deref() == Some("session-token-for-the-fetch")
    });
    assert!(sent, "the fetch did not send the session token");
}

#[test]
fn drop_removes_the_ecs_task_role_uri() {
    // As ECS sets it in every task with a task role (the keys take precedence here).
    keys_dropped()
        .env(
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/task-id",
        )
        .lacks("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .code(0)
        .run();
}

#[test]
fn drop_removes_pod_identity_uri_and_token_file_after_using_them() {
    let endpoint = CredentialsEndpoint::start("pod-token-drop", CredentialsMode::Valid);
    pod_identity(&endpoint, "pod-token-drop", &seed_text(SECRET).name)
        .arg("--drop-aws-credentials")
        .sees("APP_KEY", "fetched")
        .lacks("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .lacks("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        .code(0)
        .run();
    assert_eq!(endpoint.requests().len(), 1, "the fetch used the endpoint");
}

#[test]
fn drop_removes_a_literal_container_authorization_token() {
    let endpoint = CredentialsEndpoint::start("literal-token-drop", CredentialsMode::Valid);
    Run::secret(SECRET)
        .unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.uri())
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "literal-token-drop")
        .arg("--drop-aws-credentials")
        .sees("APP_KEY", "fetched")
        .lacks("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .lacks("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        .code(0)
        .run();
    assert_eq!(endpoint.requests().len(), 1, "the fetch used the endpoint");
}

#[test]
fn drop_removes_the_irsa_role_and_token_file_after_assuming_the_role() {
    let proxy = Proxy::start(moto().port);
    irsa(&proxy.url(), &seed_text(SECRET).name)
        .env("AWS_ROLE_SESSION_NAME", "app-session")
        .arg("--drop-aws-credentials")
        .sees("APP_KEY", "fetched")
        .lacks("AWS_ROLE_ARN")
        .lacks("AWS_WEB_IDENTITY_TOKEN_FILE")
        .lacks("AWS_ROLE_SESSION_NAME")
        .code(0)
        .run();
    assert_eq!(sts_requests(&proxy).len(), 1, "the fetch assumed the role");
}

#[test]
fn drop_keeps_region_profile_files_and_the_rest() {
    keys_dropped()
        .env("KEPT_BY_DROP", "yes")
        .sees("AWS_REGION", REGION)
        .sees("KEPT_BY_DROP", "yes")
        .code(0)
        .run();
    let (outcome, env) = keys_dropped().env_seen();
    outcome.code(0);
    assert!(
        env.contains_key("AWS_CONFIG_FILE"),
        "a profile file is not a credential"
    );
}

#[test]
fn without_drop_the_command_inherits_the_keys() {
    Run::secret(SECRET)
        .sees("AWS_ACCESS_KEY_ID", "testing")
        .code(0)
        .run();
}

#[test]
fn drop_by_variable_works_like_the_flag() {
    Run::secret(SECRET)
        .env("SHORTCUT_ENV_DROP_AWS_CREDENTIALS", "1")
        .sees("APP_KEY", "fetched")
        .lacks("AWS_ACCESS_KEY_ID")
        .lacks("AWS_SECRET_ACCESS_KEY")
        .code(0)
        .run();
}

#[test]
fn drop_variable_that_is_not_a_boolean_is_78() {
    Run::moto("short-cut/prod/app")
        .env("SHORTCUT_ENV_DROP_AWS_CREDENTIALS", "perhaps")
        .probe()
        .fails(78)
        .stderr_has("SHORTCUT_ENV_DROP_AWS_CREDENTIALS=\"perhaps\"")
        .run();
}

#[test]
fn drop_keeps_a_credential_name_the_secret_sets_with_allow_key() {
    Run::secret(r#"{"AWS_ACCESS_KEY_ID":"the-apps-own-key"}"#)
        .arg("--drop-aws-credentials")
        .arg("--allow-key")
        .arg("AWS_ACCESS_KEY_ID")
        .sees("AWS_ACCESS_KEY_ID", "the-apps-own-key")
        .lacks("AWS_SECRET_ACCESS_KEY")
        .code(0)
        .run();
}

#[test]
fn drop_names_what_it_removed_and_never_a_value() {
    keys_dropped()
        .probe()
        .code(0)
        .stderr_has("lacks AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY")
        .stderr_lacks(MARKER)
        .run();
}

#[test]
fn drop_in_check_reports_the_dropped_names() {
    let outcome = keys_dropped().arg("check").code(0).run();
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
}

#[test]
fn drop_in_check_fails_a_required_credential_variable() {
    let outcome = keys_dropped()
        .arg("check")
        .arg("--require")
        .arg("AWS_ACCESS_KEY_ID")
        .code(65)
        .stderr_has("AWS_ACCESS_KEY_ID")
        .run();
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
        .arg("--drop-aws-credentials")
        .sees("APP_KEY", "from-dotenv")
        .sees("AWS_PROFILE", "dev")
        .lacks("AWS_ACCESS_KEY_ID")
        .lacks("AWS_SECRET_ACCESS_KEY")
        .lacks("AWS_SESSION_TOKEN")
        .code(0)
        .run();
}

#[test]
fn drop_with_init_the_supervised_command_lacks_them_too() {
    keys_dropped()
        .arg("--init")
        .sees("APP_KEY", "fetched")
        .lacks("AWS_ACCESS_KEY_ID")
        .lacks("AWS_SECRET_ACCESS_KEY")
        .code(0)
        .run();
}
