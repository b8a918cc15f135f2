//! SSM Parameter Store references against moto's SSM (same server, same port): single
//! parameters, versions and labels, ARNs, paths, batching and paging counted through the fault
//! proxy, and the failures with their exit codes and hints.

use crate::support::*;

const GET: &str = "AmazonSSM.GetParameters";
const BY_PATH: &str = "AmazonSSM.GetParametersByPath";

fn count(proxy: &Proxy, target: &str) -> usize {
    proxy.targets().iter().filter(|t| *t == target).count()
}

#[test]
fn ssm_a_secure_string_is_decrypted_and_exported_under_its_last_segment() {
    let path = unique_path();
    put_secure(&format!("{path}OPENAI_API_KEY"), &format!("sk-{MARKER}"));
    let mut run = Run::moto(&format!("ssm:{path}OPENAI_API_KEY"));
    let (outcome, env) = run.env_seen();
    outcome
        .code(0)
        .stderr_has(&format!(
            "loaded 1 key from ssm:{path}OPENAI_API_KEY (version 1, SecureString)"
        ))
        .stderr_lacks(MARKER);
    assert_eq!(env["OPENAI_API_KEY"], format!("sk-{MARKER}"));
}

#[test]
fn ssm_var_names_the_variable() {
    let path = unique_path();
    put_string(&format!("{path}openai-key"), "v1");
    let mut run = Run::moto(&format!("API_KEY=ssm:{path}openai-key"));
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["API_KEY"], "v1");
}

#[test]
fn ssm_a_last_segment_that_is_no_variable_name_is_65_unless_mapped() {
    let path = unique_path();
    put_string(&format!("{path}openai-key"), "v1");
    let mut run = Run::moto(&format!("ssm:{path}openai-key"));
    run.command(&["/bin/echo", "ran"]);
    run.run().fails(65).stderr_has("\"openai-key\"");

    let mut run = Run::moto(&format!("ssm:{path}openai-key"));
    run.arg("--map").arg("openai-key=OPENAI_API_KEY");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["OPENAI_API_KEY"], "v1");
}

#[test]
fn ssm_a_version_or_a_label_pins_one() {
    let path = unique_path();
    let name = format!("{path}DB_PASSWORD");
    put_secure(&name, "old");
    label_parameter(&name, 1, "stable");
    assert_eq!(put_secure(&name, "new"), 2);
    for (reference, expected) in [
        (format!("ssm:{name}"), "new"),
        (format!("ssm:{name}:1"), "old"),
        (format!("ssm:{name}:stable"), "old"),
    ] {
        let mut run = Run::moto(&reference);
        let (outcome, env) = run.env_seen();
        outcome.code(0);
        assert_eq!(env["DB_PASSWORD"], expected, "{reference}");
    }
}

#[test]
fn ssm_a_missing_version_is_66() {
    let path = unique_path();
    put_string(&format!("{path}K"), "v");
    let mut run = Run::moto(&format!("ssm:{path}K:9"));
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(66)
        .stderr_has(&format!("ssm:{path}K:9"))
        .stderr_has("get-parameter-history");
}

#[test]
fn ssm_an_arn_is_read_in_its_own_region() {
    let path = unique_path();
    let name = format!("{path}REGIONAL");
    put_parameter_in(
        "eu-west-1",
        &name,
        "from-eu",
        aws_sdk_ssm::types::ParameterType::String,
    );
    let arn = format!("arn:aws:ssm:eu-west-1:{MOTO_ACCOUNT}:parameter{name}");
    // AWS_REGION (us-east-1) does not have it: the ARN's region must be the one asked.
    let mut run = Run::moto(&arn);
    let (outcome, env) = run.env_seen();
    outcome
        .code(0)
        .stderr_has(&format!("{arn} (version 1, String)"));
    assert_eq!(env["REGIONAL"], "from-eu");
}

#[test]
fn ssm_twenty_five_parameters_take_at_most_three_get_parameters_calls() {
    let path = unique_path();
    let references: Vec<String> = (0..25)
        .map(|i| {
            put_string(&format!("{path}K{i}"), &format!("{MARKER}-{i}"));
            format!("ssm:{path}K{i}")
        })
        .collect();
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), &references.join(","));
    let (outcome, env) = run.env_seen();
    outcome
        .code(0)
        .stderr_has("loaded 25 keys")
        .stderr_lacks(MARKER);
    assert_eq!(env["K24"], format!("{MARKER}-24"));
    let calls = count(&proxy, GET);
    assert!((1..=3).contains(&calls), "{calls} GetParameters calls");
    assert_eq!(proxy.targets().len(), calls, "{:?}", proxy.targets());
}

#[test]
fn ssm_parameters_mix_with_secrets_manager_secrets_and_later_ones_win() {
    let secret = seed_text(r#"{"SHARED":"from-secret","ONLY_SECRET":"s"}"#);
    let path = unique_path();
    put_string(&format!("{path}SHARED"), "from-ssm");
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), &format!("{},ssm:{path}SHARED", secret.name));
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_has("SHARED (ssm:");
    assert_eq!(env["SHARED"], "from-ssm");
    assert_eq!(env["ONLY_SECRET"], "s");
    let mut targets = proxy.targets();
    targets.sort();
    assert_eq!(targets, [GET, "secretsmanager.GetSecretValue"]);
}

#[test]
fn ssm_missing_names_are_named_together_with_66() {
    let path = unique_path();
    put_string(&format!("{path}THERE"), "v");
    let mut run = Run::moto(&format!(
        "ssm:{path}GONE_A,ssm:{path}THERE,ssm:{path}GONE_B"
    ));
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(66)
        .stderr_has(&format!("ssm:{path}GONE_A, ssm:{path}GONE_B"))
        .stderr_lacks(&format!("ssm:{path}THERE"));
}

#[test]
fn ssm_access_denied_is_77_with_a_hint_naming_the_actions() {
    let proxy = Proxy::start(moto().port);
    proxy.always(Fault::Error {
        status: 400,
        code: "AccessDeniedException",
        message: "User: arn:aws:sts::123456789012:assumed-role/app/task is not authorized to \
                  perform: ssm:GetParameters",
    });
    let mut run = Run::aws(&proxy.url(), "ssm:/short-cut/prod/OPENAI_API_KEY");
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(77)
        .stderr_has("access denied to SSM parameters /short-cut/prod/OPENAI_API_KEY")
        .stderr_has("ssm:GetParameters")
        .stderr_has("ssm:GetParametersByPath")
        .stderr_has("kms:Decrypt");
    assert_eq!(count(&proxy, GET), 1, "AccessDenied is not retried");
}

#[test]
fn ssm_a_kms_refusal_is_77_with_a_kms_hint() {
    let proxy = Proxy::start(moto().port);
    proxy.always(Fault::Error {
        status: 400,
        code: "AccessDeniedException",
        message: "The ciphertext refers to a customer master key that does not exist, or KMS \
                  access is denied",
    });
    let mut run = Run::aws(&proxy.url(), "ssm:/short-cut/prod/DB_PASSWORD");
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(77)
        .stderr_has("KMS refused to decrypt SSM parameters")
        .stderr_has("kms:Decrypt");
}

#[test]
fn ssm_throttling_past_the_retries_is_69() {
    let proxy = Proxy::start(moto().port);
    proxy.always(Fault::Error {
        status: 400,
        code: "ThrottlingException",
        message: "Rate exceeded",
    });
    let mut run = Run::aws(&proxy.url(), "ssm:/short-cut/prod/K");
    run.env("SHORTCUT_ENV_MAX_ATTEMPTS", "3")
        .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.01")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(69)
        .stderr_has("throttled (ThrottlingException)")
        .stderr_has("stagger the starts");
    assert_eq!(count(&proxy, GET), 3);
}

#[test]
fn ssm_a_path_exports_every_parameter_directly_under_it() {
    let path = unique_path();
    put_string(&format!("{path}A"), "1");
    put_secure(&format!("{path}B"), "2");
    put_string(&format!("{path}deeper/C"), "3");
    let mut run = Run::moto(&format!("ssm:{path}"));
    let (outcome, env) = run.env_seen();
    outcome
        .code(0)
        .stderr_has("loaded 2 keys")
        .stderr_has(&format!("ssm:{path}B (version 1, SecureString)"));
    assert_eq!((env["A"].as_str(), env["B"].as_str()), ("1", "2"));
    assert!(!env.contains_key("C"));
}

#[test]
fn ssm_a_path_with_nothing_under_it_is_66() {
    let path = unique_path();
    let mut run = Run::moto(&format!("ssm:{path}"));
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(66)
        .stderr_has(&format!("ssm:{path} (no parameter under the path)"));
}

#[test]
fn ssm_recursive_goes_down_the_tree() {
    let path = unique_path();
    put_string(&format!("{path}A"), "1");
    put_string(&format!("{path}deeper/still/C"), "3");
    let mut run = Run::moto(&format!("ssm:{path}"));
    run.arg("--recursive");
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_has("loaded 2 keys");
    assert_eq!(env["C"], "3");

    let mut run = Run::moto(&format!("ssm:{path}"));
    run.env("SHORTCUT_ENV_RECURSIVE", "1");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["C"], "3");
}

#[test]
fn ssm_recursive_collisions_of_last_segments_are_65() {
    let path = unique_path();
    put_string(&format!("{path}x/KEY"), "1");
    put_string(&format!("{path}y/KEY"), "2");
    let mut run = Run::moto(&format!("ssm:{path}"));
    run.arg("--recursive").command(&["/bin/echo", "ran"]);
    run.run()
        .fails(65)
        .stderr_has(&format!("{path}x/KEY and {path}y/KEY"))
        .stderr_has("--recursive");
}

#[test]
fn ssm_a_path_is_paged_to_the_end_through_short_and_empty_pages() {
    let path = unique_path();
    for i in 0..23 {
        put_string(&format!("{path}P{i:02}"), &format!("{i}"));
    }
    let proxy = Proxy::start(moto().port);
    // An empty first page that still has a NextToken (moto's tokens are offsets): the end is
    // where the token stops, not where a page is short.
    proxy.then(Fault::Respond {
        status: 200,
        body: r#"{"Parameters":[],"NextToken":"0"}"#.into(),
    });
    let mut run = Run::aws(&proxy.url(), &format!("ssm:{path}"));
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_has("loaded 23 keys");
    assert_eq!(env["P22"], "22");
    // The empty page, then pages of 10, 10 and 3.
    assert!(count(&proxy, BY_PATH) >= 4, "{:?}", proxy.targets());
    assert_eq!(count(&proxy, GET), 0);
}

#[test]
fn ssm_check_shows_each_parameter_with_its_source_and_version() {
    let path = unique_path();
    put_secure(&format!("{path}TOKEN"), &format!("{MARKER}-1"));
    put_secure(&format!("{path}TOKEN"), &format!("{MARKER}-2"));
    put_string(&format!("{path}HOST"), "db.internal");
    let mut run = Run::moto(&format!("ssm:{path}"));
    run.arg("check");
    let outcome = run.run();
    outcome.code(0).stderr_lacks(MARKER);
    assert!(
        outcome
            .stdout
            .contains(&format!("ssm:{path}TOKEN (version 2, SecureString)")),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains(&format!("ssm:{path}HOST (version 1, String)")),
        "{}",
        outcome.stdout
    );
    assert!(!outcome.stdout.contains(MARKER));
}

#[test]
fn ssm_protected_names_are_not_set_from_a_parameter() {
    let path = unique_path();
    put_string(&format!("{path}PATH"), "/evil");
    let mut run = Run::moto(&format!("ssm:{path}PATH"));
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_has("skipped protected names: PATH");
    assert_eq!(env["PATH"], "/usr/local/bin:/usr/bin:/bin");
}

#[test]
fn ssm_local_mode_makes_no_call() {
    let proxy = Proxy::start(moto().port);
    let mut run = Run::local();
    run.env("SECRET_NAME", "ssm:/short-cut/prod/K")
        .env("AWS_ENDPOINT_URL", proxy.url())
        .command(&["/bin/echo", "ran"]);
    run.run().code(0);
    assert!(proxy.requests().is_empty());
}

#[test]
fn ssm_a_malformed_reference_is_78_before_any_call() {
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), "ssm:short-cut/prod/K");
    run.command(&["/bin/echo", "ran"]);
    run.run().fails(78).stderr_has("starts with /");
    assert!(proxy.requests().is_empty());
}

#[test]
fn ssm_a_path_answer_naming_a_parameter_outside_the_path_is_69() {
    let proxy = Proxy::start(moto().port);
    proxy.always(Fault::Respond {
        status: 200,
        body: format!(
            r#"{{"Parameters":[{{"Name":"/elsewhere/KEY\u001b[2J","Type":"String","Value":"{MARKER}","Version":1}}]}}"#
        ),
    });
    let mut run = Run::aws(&proxy.url(), "ssm:/short-cut/prod/");
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(69)
        .stderr_has("not under the path")
        .stderr_lacks(MARKER)
        .stderr_lacks("\u{1b}");
}

#[test]
fn ssm_a_next_token_that_never_changes_ends_as_69_not_at_the_deadline() {
    let proxy = Proxy::start(moto().port);
    proxy.always(Fault::Respond {
        status: 200,
        body: r#"{"Parameters":[],"NextToken":"again"}"#.into(),
    });
    let mut run = Run::aws(&proxy.url(), "ssm:/short-cut/prod/");
    run.command(&["/bin/echo", "ran"]);
    let outcome = run.run_within(std::time::Duration::from_secs(20));
    outcome.fails(69).stderr_has("NextToken");
    assert_eq!(count(&proxy, BY_PATH), 2);
}

#[test]
fn ssm_an_unparseable_answer_is_69() {
    let proxy = Proxy::start(moto().port);
    proxy.always(Fault::Garbage);
    let mut run = Run::aws(&proxy.url(), "ssm:/short-cut/prod/K");
    run.env("SHORTCUT_ENV_MAX_ATTEMPTS", "1")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(69)
        .stderr_has("Parameter Store in us-east-1 failed");
}
