//! The ECS task-role path, for real: a loopback container-credentials endpoint.

use crate::support::endpoints::CredentialsMode;
use crate::support::*;

fn ecs(endpoint: &CredentialsEndpoint, secret: &str) -> Run {
    let mut run = Run::moto(secret);
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.uri())
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", &endpoint.token);
    run
}

#[test]
fn the_task_role_credentials_are_used() {
    let secret = seed_text(r#"{"FROM_TASK_ROLE":"yes"}"#);
    let endpoint = CredentialsEndpoint::start("task-token", CredentialsMode::Valid);
    let (outcome, env) = ecs(&endpoint, &secret.name).env_seen();
    outcome.code(0);
    assert_eq!(env["FROM_TASK_ROLE"], "yes");
    let requests = endpoint.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].head.starts_with("GET /v2/credentials/task "));
    // The wrapper does not pass its own credentials on to the command.
    assert!(!env.contains_key("AWS_ACCESS_KEY_ID"));
    outcome
        .stderr_lacks("container-secret")
        .stderr_lacks("container-session-token");
}

// (No credentials at all, and a container endpoint that is down, refuses the token, fails or
// hands out expired keys: faults::credentials_*.)

// ---- malformed credentials: refused before anything is signed (77), naming the source -----

/// A start against a counting proxy (nothing may reach it) with the environment's keys.
fn unsigned() -> (Run, Proxy) {
    let proxy = Proxy::start(endpoints::closed_port());
    let mut run = Run::aws(&proxy.url(), "short-cut/prod/app");
    run.command(&["/bin/echo", "ran"]);
    (run, proxy)
}

#[track_caller]
fn malformed(run: &Run, proxy: &Proxy, provider: &str, field: &str) {
    run.run()
        .fails(77)
        .stderr_has(&format!(
            "the AWS credentials from {provider} are malformed: {field}"
        ))
        .stderr_has("hint: the credentials from")
        .stderr_lacks("container-secret")
        .stderr_lacks("panicked");
    assert!(proxy.requests().is_empty(), "a request was sent");
}

#[test]
fn credentials_key_id_ending_in_cr_is_77_naming_the_environment() {
    let (mut run, proxy) = unsigned();
    run.env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE\r");
    malformed(&run, &proxy, "EnvironmentVariable", "AccessKeyId");
}

#[test]
fn credentials_secret_key_ending_in_cr_is_77() {
    let (mut run, proxy) = unsigned();
    run.env("AWS_SECRET_ACCESS_KEY", "testing\r");
    malformed(&run, &proxy, "EnvironmentVariable", "SecretAccessKey");
}

#[test]
fn credentials_session_token_with_a_newline_is_77() {
    let (mut run, proxy) = unsigned();
    run.env("AWS_SESSION_TOKEN", "FwoGZXIvYXdzE\nshortcut-env: loaded");
    malformed(&run, &proxy, "EnvironmentVariable", "SessionToken");
}

#[test]
fn credentials_key_id_with_a_space_is_77() {
    let (mut run, proxy) = unsigned();
    run.env("AWS_ACCESS_KEY_ID", "AKID EXAMPLE");
    malformed(&run, &proxy, "EnvironmentVariable", "AccessKeyId");
}

#[test]
fn credentials_container_endpoint_key_id_with_a_newline_is_77() {
    let endpoint = CredentialsEndpoint::start(
        "t",
        CredentialsMode::Fields {
            access_key_id: "ASIATEST\nCONTAINER",
            token: "container-session-token",
        },
    );
    let (mut run, proxy) = unsigned();
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.uri())
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "t");
    malformed(&run, &proxy, "EcsContainer", "AccessKeyId");
}

#[test]
fn credentials_container_endpoint_token_with_a_newline_is_77() {
    let endpoint = CredentialsEndpoint::start(
        "t",
        CredentialsMode::Fields {
            access_key_id: "ASIATESTCONTAINER",
            token: "container-session\r\ntoken",
        },
    );
    let (mut run, proxy) = unsigned();
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.uri())
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "t");
    malformed(&run, &proxy, "EcsContainer", "SessionToken");
}

/// A profile `dev` whose credential_process prints `json`.
fn credential_process(run: &mut Run, json: &str) {
    let script = run.path("creds.sh");
    std::fs::write(&script, format!("#!/bin/sh\ncat <<'JSON'\n{json}\nJSON\n")).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = run.path("aws-config");
    std::fs::write(
        &config,
        format!("[profile dev]\ncredential_process = {}\n", script.display()),
    )
    .unwrap();
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_PROFILE", "dev");
}

#[test]
fn credentials_process_printing_a_key_id_with_a_newline_is_77() {
    let (mut run, proxy) = unsigned();
    credential_process(
        &mut run,
        r#"{"Version":1,"AccessKeyId":"AKID\nEXAMPLE","SecretAccessKey":"container-secret"}"#,
    );
    malformed(&run, &proxy, "CredentialProcess", "AccessKeyId");
}

#[test]
fn credentials_process_with_clean_keys_is_used() {
    let secret = seed_text(r#"{"FROM_PROCESS":"yes"}"#);
    let mut run = Run::moto(&secret.name);
    credential_process(
        &mut run,
        r#"{"Version":1,"AccessKeyId":"AKIDEXAMPLE","SecretAccessKey":"container-secret"}"#,
    );
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_lacks("container-secret");
    assert_eq!(env["FROM_PROCESS"], "yes");
}

#[test]
fn credentials_profile_not_in_any_config_says_so() {
    let (mut run, proxy) = unsigned();
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env("AWS_PROFILE", "prod-admin");
    run.run()
        .fails(78)
        .stderr_has(
            "AWS_PROFILE=\"prod-admin\" names a profile that is not in the AWS config files",
        )
        .stderr_has("aws configure list-profiles");
    assert!(proxy.requests().is_empty());
}

#[test]
fn credentials_profile_missing_from_an_existing_config_says_so() {
    let (mut run, proxy) = unsigned();
    let config = run.path("aws-config");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\n[profile dev]\nregion = eu-west-1\n",
    )
    .unwrap();
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_PROFILE", "devv");
    run.run()
        .fails(78)
        .stderr_has("AWS_PROFILE=\"devv\" names a profile");
    assert!(proxy.requests().is_empty());
}
