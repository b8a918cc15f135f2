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

#[test]
fn without_any_credentials_it_exits_77_with_a_hint() {
    let mut run = Run::moto("short-cut/prod/app");
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(77)
        .stderr_has("no AWS credentials")
        .stderr_has("taskRoleArn")
        .stderr_has("aws sso login");
}

#[test]
fn a_broken_credentials_endpoint_exits_77() {
    let cases = [
        (
            CredentialsEndpoint::start("right", CredentialsMode::Valid),
            "wrong",
        ),
        (
            CredentialsEndpoint::start("t", CredentialsMode::Status(500)),
            "t",
        ),
        (
            CredentialsEndpoint::start("t", CredentialsMode::Expired),
            "t",
        ),
    ];
    for (endpoint, token) in cases {
        let mut run = ecs(&endpoint, "short-cut/prod/app");
        run.env("AWS_CONTAINER_AUTHORIZATION_TOKEN", token)
            .command(&["/bin/echo", "ran"]);
        run.run().fails(77).stderr_lacks("container-secret");
    }
    // Nothing listening at all.
    let mut run = Run::moto("short-cut/prod/app");
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("http://127.0.0.1:{}/creds", endpoints::closed_port()),
        )
        .command(&["/bin/echo", "ran"]);
    run.run().fails(77);
}
