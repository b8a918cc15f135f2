//! Secret references (names, ARNs, ECS valueFrom suffixes, `VAR=`), several secrets, versions.

use crate::support::*;

#[test]
fn an_arn_gives_the_region_and_needs_no_aws_region() {
    let secret = seed_text(r#"{"A":"1"}"#);
    let mut run = Run::moto(&secret.arn);
    run.unset("AWS_REGION");
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_has(&secret.version_id);
    assert_eq!(env["A"], "1");
}

#[test]
fn a_value_from_with_a_json_key_exports_only_that_key() {
    let secret = seed_text(&guide_secret());
    let proxy = Proxy::start(moto().port);
    // The task definition's valueFrom form, with its empty stage and version fields.
    let mut run = Run::aws(&proxy.url(), &format!("{}:MILVUS_HOST::", secret.arn));
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_has("loaded 1 key from");
    assert_eq!(env["MILVUS_HOST"], "milvus.internal");
    assert!(!env.contains_key("OPENAI_API_KEY"));
    assert_eq!(proxy.targets(), ["secretsmanager.GetSecretValue"]);

    // VAR= renames it; a plain name takes the same suffixes.
    let mut run = Run::moto(&format!("DB_HOST={}:MILVUS_HOST", secret.name));
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["DB_HOST"], "milvus.internal");
    assert!(!env.contains_key("MILVUS_HOST"));
}

#[test]
fn a_whole_secret_that_is_not_json_can_be_exported_as_one_variable() {
    let secret = seed_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n");
    // Without a name for it, it is unusable (65), and the hint is the way out.
    let mut run = Run::moto(&secret.name);
    run.command(&["/bin/echo", "ran"]);
    run.run().fails(65).stderr_has("VAR=NAME");

    let mut run = Run::moto(&format!("TLS_KEY={}", secret.name));
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert!(env["TLS_KEY"].starts_with("-----BEGIN PRIVATE KEY-----\nabc"));
}

#[test]
fn several_secrets_are_fetched_with_one_call_each_and_later_ones_win() {
    let base = seed_text(r#"{"SHARED":"base","ONLY_BASE":"b"}"#);
    let overlay = seed_text(r#"{"SHARED":"overlay","ONLY_OVERLAY":"o"}"#);
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), &format!("{}, {}", base.name, overlay.name));
    let (outcome, env) = run.env_seen();
    outcome
        .code(0)
        .stderr_has(&format!("SHARED ({} over {})", overlay.name, base.name))
        .stderr_has(&format!(
            "{} (version {}, AWSCURRENT)",
            base.name, base.version_id
        ))
        .stderr_has(&format!(
            "{} (version {}, AWSCURRENT)",
            overlay.name, overlay.version_id
        ));
    assert_eq!(env["SHARED"], "overlay");
    assert_eq!(env["ONLY_BASE"], "b");
    assert_eq!(env["ONLY_OVERLAY"], "o");
    assert_eq!(
        proxy.targets(),
        [
            "secretsmanager.GetSecretValue",
            "secretsmanager.GetSecretValue"
        ]
    );

    // Repeated --secret flags are the same list.
    let mut run = Run::moto("ignored-when-flags-are-given");
    run.arg("--secret")
        .arg(&overlay.name)
        .arg("--secret")
        .arg(&base.name);
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["SHARED"], "base");
}

#[test]
fn one_missing_secret_among_several_fails_the_start() {
    let present = seed_text(r#"{"A":"1"}"#);
    let mut run = Run::moto(&format!("{},short-cut/test/absent", present.name));
    run.command(&["/bin/echo", "ran"]);
    run.run().fails(66).stderr_has("short-cut/test/absent");
}

#[test]
fn versions_can_be_chosen_per_reference_or_by_id() {
    // (SECRET_VERSION_STAGE for all references: fetch::a_version_stage_can_be_chosen_…)
    let secret = seed_text(r#"{"K":"v1"}"#);
    put_value(&secret.name, r#"{"K":"v2"}"#);

    let mut run = Run::moto(&format!("{}::AWSPREVIOUS", secret.name));
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_has(&secret.version_id);
    assert_eq!(env["K"], "v1");

    let mut run = Run::moto(&secret.name);
    run.env("SECRET_VERSION_ID", &secret.version_id);
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["K"], "v1");
}

#[test]
fn bad_references_fail_clearly() {
    let secret = seed_text(r#"{"K":"v"}"#);
    let cases: Vec<(String, i32, &str)> = vec![
        (
            "arn:aws-mars:secretsmanager:us-east-1:123456789012:secret:x".into(),
            78,
            "unknown partition",
        ),
        (
            "arn:aws:secretsmanager:us-east-x:123456789012:secret:x".into(),
            78,
            "invalid region",
        ),
        (
            "arn:aws:sqs:us-east-1:123456789012:queue:x".into(),
            78,
            "not of a Secrets Manager secret",
        ),
        (
            format!("{}:K:AWSCURRENT:id:extra", secret.arn),
            78,
            "too many",
        ),
        (
            format!("{}:NOPE", secret.name),
            65,
            "key NOPE is not in secret",
        ),
        (
            format!("{}:K::00000000-0000-0000-0000-000000000000", secret.name),
            66,
            "has no version id 00000000-0000-0000-0000-000000000000",
        ),
    ];
    for (reference, code, needle) in cases {
        let mut run = Run::moto(&reference);
        run.command(&["/bin/echo", "ran"]);
        run.run()
            .fails(code)
            .stderr_has(needle)
            .stderr_lacks("LEAK");
    }
}
