//! The EKS credential paths, for real:
//! - IRSA: `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, exchanged with moto's STS
//!   (AssumeRoleWithWebIdentity) on loopback, through the proxy so that we can see which key
//!   signed the Secrets Manager call;
//! - EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`,
//!   a loopback endpoint that answers only when the Authorization header is the file's content.

use crate::support::endpoints::CredentialsMode;
use crate::support::*;

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/shortcut-eks-app";
/// What the kubelet projects into the pod: a JWT, here only its shape.
const WEB_IDENTITY_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXBwOmFwcCJ9.c2ln";

/// IRSA as the EKS webhook sets it up: no keys, a role and a token file; every AWS call (STS
/// included) goes to `endpoint`.
pub(crate) fn irsa(endpoint: &str, secret: &str) -> Run {
    let mut run = Run::aws(endpoint, secret);
    let token = run.path("web-identity-token");
    std::fs::write(&token, WEB_IDENTITY_TOKEN).unwrap();
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env("AWS_ROLE_ARN", ROLE_ARN)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token);
    run
}

/// The requests whose body is an STS action (form-encoded `Action=…`).
pub(crate) fn sts_requests(proxy: &Proxy) -> Vec<String> {
    proxy
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .filter(|body| body.contains("Action="))
        .collect()
}

/// The access key id in `Credential=KEY/…` of the GetSecretValue call's signature.
pub(crate) fn signing_key_of_get_secret_value(proxy: &Proxy) -> String {
    let request = proxy
        .requests()
        .into_iter()
        .find(|r| r.header("x-amz-target").as_deref() == Some("secretsmanager.GetSecretValue"))
        .expect("no GetSecretValue call reached the proxy");
    let authorization = request.header("authorization").unwrap_or_default();
    let credential = authorization
        .split("Credential=")
        .nth(1)
        .unwrap_or_else(|| panic!("unsigned GetSecretValue: {authorization:?}"));
    credential.split('/').next().unwrap_or_default().to_string()
}

/// The `<AccessKeyId>` STS handed out, read from its answer as the proxy relayed it.
fn assumed_access_key(proxy: &Proxy) -> String {
    proxy
        .answers()
        .iter()
        .map(|body| String::from_utf8_lossy(body).into_owned())
        .find_map(|body| {
            let start = body.find("<AccessKeyId>")? + "<AccessKeyId>".len();
            let end = start + body[start..].find("</AccessKeyId>")?;
            Some(body[start..end].to_string())
        })
        .expect("no STS answer with an AccessKeyId went through the proxy")
}

#[test]
fn irsa_assumes_the_role_with_the_web_identity_token() {
    let secret = seed_text(r#"{"FROM_IRSA":"yes"}"#);
    let proxy = Proxy::start(moto().port);
    let (outcome, env) = irsa(&proxy.url(), &secret.name).env_seen();
    outcome.code(0);
    assert_eq!(env["FROM_IRSA"], "yes");
    let sts = sts_requests(&proxy);
    assert_eq!(sts.len(), 1, "one AssumeRoleWithWebIdentity call: {sts:?}");
    assert!(
        sts[0].contains("Action=AssumeRoleWithWebIdentity"),
        "{}",
        sts[0]
    );
    assert!(
        sts[0].contains("WebIdentityToken=eyJhbGciOiJSUzI1NiJ9"),
        "{}",
        sts[0]
    );
    assert!(sts[0].contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fshortcut-eks-app"));
}

#[test]
fn irsa_signs_the_secrets_manager_call_with_the_assumed_role_key() {
    let secret = seed_text(r#"{"SIGNED":"yes"}"#);
    let proxy = Proxy::start(moto().port);
    let (outcome, _) = irsa(&proxy.url(), &secret.name).env_seen();
    outcome.code(0);
    let assumed = assumed_access_key(&proxy);
    assert!(assumed.starts_with("ASIA"), "a temporary key: {assumed}");
    assert_eq!(signing_key_of_get_secret_value(&proxy), assumed);
}

#[test]
fn irsa_never_prints_the_token_the_assumed_key_or_a_value() {
    let secret = seed_text(&guide_secret());
    let proxy = Proxy::start(moto().port);
    let mut run = irsa(&proxy.url(), &secret.name);
    let outcome = run.command(&["/bin/true"]).run();
    outcome.code(0);
    outcome
        .stderr_lacks(WEB_IDENTITY_TOKEN)
        .stderr_lacks(MARKER);
    outcome.stderr_lacks(&assumed_access_key(&proxy));
}

#[test]
fn irsa_with_a_missing_token_file_exits_77_with_a_hint() {
    let mut run = irsa(&moto().url(), "short-cut/prod/app");
    run.env("AWS_WEB_IDENTITY_TOKEN_FILE", run.path("no-such-token"))
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(77)
        .stderr_has("no AWS credentials")
        .stderr_has("eks.amazonaws.com/role-arn");
}

#[test]
fn irsa_when_sts_refuses_the_token_exits_77() {
    let proxy = Proxy::start(moto().port);
    // STS speaks the query protocol: its errors are XML.
    proxy.always(Fault::Respond {
        status: 400,
        body: "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>\
               <Message>No OpenIDConnect provider found in your account</Message></Error>\
               </ErrorResponse>"
            .into(),
    });
    let mut run = irsa(&proxy.url(), "short-cut/prod/app");
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(77)
        .stderr_has("InvalidIdentityToken")
        .stderr_lacks(WEB_IDENTITY_TOKEN);
}

/// `AWS_ENDPOINT_URL` moves STS too; `AWS_ENDPOINT_URL_SECRETS_MANAGER` moves only Secrets
/// Manager (a VPC endpoint, an emulator), and STS keeps its own endpoint.
#[test]
fn the_secrets_manager_endpoint_variable_does_not_move_sts() {
    let secret = seed_text(r#"{"SPLIT":"yes"}"#);
    let sts = Proxy::start(moto().port);
    let secrets_manager = Proxy::start(moto().port);
    let mut run = irsa(&sts.url(), &secret.name);
    run.unset("AWS_ENDPOINT_URL")
        .env("AWS_ENDPOINT_URL_STS", sts.url())
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets_manager.url());
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["SPLIT"], "yes");
    assert_eq!(sts_requests(&sts).len(), 1);
    assert!(
        sts.targets().iter().all(String::is_empty),
        "{:?}",
        sts.targets()
    );
    assert_eq!(secrets_manager.targets(), ["secretsmanager.GetSecretValue"]);
    assert!(sts_requests(&secrets_manager).is_empty());
}

// ---- EKS Pod Identity ---------------------------------------------------------------------

/// Pod Identity as the EKS agent sets it up: a FULL_URI (here on loopback: the SDK accepts
/// only loopback or the agent's link-local addresses over plain http) and a token file.
pub(crate) fn pod_identity(endpoint: &CredentialsEndpoint, token: &str, secret: &str) -> Run {
    let mut run = Run::moto(secret);
    let file = run.path("eks-pod-identity-token");
    std::fs::write(&file, token).unwrap();
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            endpoint.pod_identity_uri(),
        )
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &file);
    run
}

#[test]
fn pod_identity_sends_the_token_from_its_file() {
    let secret = seed_text(r#"{"FROM_POD_IDENTITY":"yes"}"#);
    let endpoint = CredentialsEndpoint::start("pod-token-1", CredentialsMode::Valid);
    let (outcome, env) = pod_identity(&endpoint, "pod-token-1", &secret.name).env_seen();
    outcome.code(0);
    assert_eq!(env["FROM_POD_IDENTITY"], "yes");
    let requests = endpoint.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].head.starts_with("GET /v1/credentials "),
        "{}",
        requests[0].head
    );
    assert_eq!(
        requests[0].header("authorization").as_deref(),
        Some("pod-token-1")
    );
}

/// The agent rotates the token in place: each start reads the file as it is now, and the file
/// wins over a stale `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
#[test]
fn pod_identity_rereads_a_rotated_token_file() {
    let secret = seed_text(r#"{"ROTATED":"yes"}"#);
    let endpoint = CredentialsEndpoint::start("pod-token-2", CredentialsMode::Valid);
    let mut run = pod_identity(&endpoint, "pod-token-1", &secret.name);
    run.env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "stale-env-token")
        .command(&["/bin/true"]);
    run.run().fails(77);
    std::fs::write(run.path("eks-pod-identity-token"), "pod-token-2").unwrap();
    run.run().code(0);
    let sent: Vec<_> = endpoint
        .requests()
        .iter()
        .map(|r| r.header("authorization"))
        .collect();
    assert_eq!(
        sent.last().cloned().flatten().as_deref(),
        Some("pod-token-2")
    );
}

#[test]
fn pod_identity_signs_with_the_credentials_the_agent_returned() {
    let secret = seed_text(r#"{"SIGNED":"yes"}"#);
    let endpoint = CredentialsEndpoint::start("pod-token", CredentialsMode::Valid);
    let proxy = Proxy::start(moto().port);
    let mut run = pod_identity(&endpoint, "pod-token", &secret.name);
    run.env("AWS_ENDPOINT_URL", proxy.url())
        .command(&["/bin/true"]);
    run.run().code(0);
    assert_eq!(signing_key_of_get_secret_value(&proxy), "ASIATESTCONTAINER");
}

#[test]
fn pod_identity_with_a_wrong_token_exits_77_with_a_hint() {
    let endpoint = CredentialsEndpoint::start("pod-token", CredentialsMode::Valid);
    let mut run = pod_identity(&endpoint, "not-the-token", "short-cut/prod/app");
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(77)
        .stderr_has("no AWS credentials")
        .stderr_has("Pod Identity association")
        .stderr_lacks("not-the-token")
        .stderr_lacks("container-secret");
}

#[test]
fn pod_identity_with_a_missing_token_file_exits_77_with_a_hint() {
    let endpoint = CredentialsEndpoint::start("pod-token", CredentialsMode::Valid);
    let mut run = pod_identity(&endpoint, "pod-token", "short-cut/prod/app");
    run.env(
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        run.path("no-such-token"),
    )
    .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(77)
        .stderr_has("no AWS credentials")
        .stderr_has("Pod Identity association");
    assert!(endpoint.requests().is_empty(), "no request without a token");
}
