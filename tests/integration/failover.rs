//! Replica-region failover (`--failover-region`, src/failover.rs): a secret replicated by moto
//! from us-east-1 to eu-west-1, read through the fault proxy, which fails only the requests
//! signed for the primary region. A replica is read when the primary is down, never when the
//! primary answers "no"; every region down is 69, within the one deadline.

use std::time::Duration;

use crate::support::endpoints::Request;
use crate::support::*;

const PRIMARY: &str = REGION;
const REPLICA: &str = "eu-west-1";

/// A generous bound against hanging, not a performance assertion.
const BOUND: Duration = Duration::from_secs(10);

fn internal() -> Fault {
    Fault::Error {
        status: 500,
        code: "InternalServiceError",
        message: "An internal error occurred",
    }
}

/// A secret in the primary region, replicated to [`REPLICA`], and a start that reads it by
/// `reference(&secret)` through a proxy, with [`REPLICA`] as its failover region and quick
/// retries.
fn replicated(reference: impl Fn(&Seeded) -> String) -> (Seeded, Proxy, Run) {
    let secret = seed_text(&format!(r#"{{"FAILOVER_KEY":"{MARKER}-failover"}}"#));
    replicate(&secret.name, &[REPLICA]);
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), &reference(&secret));
    run.env("SHORTCUT_ENV_FAILOVER_REGION", REPLICA)
        .env("SHORTCUT_ENV_TIMEOUT", "6")
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "3")
        .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.02")
        .env("SHORTCUT_ENV_MAX_BACKOFF", "0.2");
    (secret, proxy, run)
}

fn by_name(secret: &Seeded) -> String {
    secret.name.clone()
}

/// How many requests the proxy saw signed for `region`.
fn calls_in(proxy: &Proxy, region: &str) -> usize {
    proxy
        .requests()
        .iter()
        .filter(|r: &&Request| r.signed_region() == region)
        .count()
}

/// Runs the start and checks that the replica's value reached the command, and that the
/// warning and the success line say what happened.
#[track_caller]
fn reads_the_replica(run: &mut Run, proxy: &Proxy, why: &str) {
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_lacks(MARKER);
    assert_eq!(env["FAILOVER_KEY"], format!("{MARKER}-failover"));
    assert!(calls_in(proxy, PRIMARY) >= 1 && calls_in(proxy, REPLICA) >= 1);
    outcome
        .stderr_has(&format!(
            "was read from the replica in {REPLICA} because {PRIMARY} failed"
        ))
        .stderr_has(why)
        .stderr_has(&format!("from the replica in {REPLICA}\n"));
}

#[test]
fn failover_after_a_5xx_in_the_primary() {
    let (_, proxy, mut run) = replicated(by_name);
    proxy.in_region(PRIMARY, internal());
    reads_the_replica(&mut run, &proxy, "InternalServiceError");
}

#[test]
fn failover_after_connection_resets_in_the_primary() {
    let (_, proxy, mut run) = replicated(by_name);
    proxy.in_region(PRIMARY, Fault::Reset);
    reads_the_replica(
        &mut run,
        &proxy,
        &format!("could not reach Secrets Manager in {PRIMARY}"),
    );
}

#[test]
fn failover_after_throttling_outlasts_the_retries() {
    let (_, proxy, mut run) = replicated(by_name);
    proxy.in_region(
        PRIMARY,
        Fault::Error {
            status: 400,
            code: "ThrottlingException",
            message: "Rate exceeded",
        },
    );
    reads_the_replica(
        &mut run,
        &proxy,
        "kept throttling the request (ThrottlingException)",
    );
    assert_eq!(
        calls_in(&proxy, PRIMARY),
        3,
        "the primary's retries come first"
    );
}

#[test]
fn failover_of_an_arn_asks_the_replica_for_its_own_arn() {
    let (secret, proxy, mut run) = replicated(|s| s.arn.clone());
    proxy.in_region(PRIMARY, internal());
    reads_the_replica(&mut run, &proxy, "InternalServiceError");
    let replica_arn = secret.arn.replace(":us-east-1:", ":eu-west-1:");
    let asked = proxy
        .requests()
        .into_iter()
        .find(|r| r.signed_region() == REPLICA)
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&asked.body).unwrap();
    assert_eq!(body["SecretId"], replica_arn.as_str());
}

#[test]
fn failover_tries_the_regions_in_order_past_one_without_the_secret() {
    // Replicated to eu-west-1 only: us-west-2, listed first, answers NotFound and is passed.
    let (_, proxy, mut run) = replicated(by_name);
    proxy.in_region(PRIMARY, internal());
    run.env(
        "SHORTCUT_ENV_FAILOVER_REGION",
        format!("us-west-2,{REPLICA}"),
    );
    let (outcome, env) = run.env_seen();
    outcome
        .code(0)
        .stderr_has(&format!(
            "{PRIMARY} failed: Secrets Manager failed with InternalServiceError"
        ))
        .stderr_has("us-west-2 failed: secret")
        .stderr_has(&format!("from the replica in {REPLICA}\n"))
        .stderr_lacks(MARKER);
    assert_eq!(env["FAILOVER_KEY"], format!("{MARKER}-failover"));
    let regions: Vec<String> = proxy
        .requests()
        .iter()
        .map(Request::signed_region)
        .collect();
    let first_replica = regions.iter().position(|r| r != PRIMARY).unwrap();
    assert_eq!(regions[first_replica..], ["us-west-2", REPLICA]);
}

#[test]
fn failover_json_success_line_names_the_region_that_answered() {
    let (secret, proxy, mut run) = replicated(by_name);
    proxy.in_region(PRIMARY, internal());
    run.env("SHORTCUT_ENV_LOG_FORMAT", "json")
        .command(&["/bin/true"]);
    let outcome = run.run();
    outcome.code(0).stderr_lacks(MARKER);
    let lines = outcome.json_lines();
    let warning = lines.iter().find(|l| l["level"] == "warning").unwrap();
    assert!(
        warning["message"].as_str().unwrap().contains(PRIMARY),
        "{warning}"
    );
    let info = lines.iter().find(|l| l["level"] == "info").unwrap();
    assert_eq!(info["secret_region"], REPLICA);
    assert_eq!(info["failed_over_from"], PRIMARY);
    assert_eq!(info["secrets"][0]["secret"], secret.name.as_str());
    assert_eq!(info["secrets"][0]["region"], REPLICA);
}

#[test]
fn failover_not_needed_asks_no_replica_and_warns_nothing() {
    let (_, proxy, mut run) = replicated(by_name);
    let (outcome, env) = run.env_seen();
    outcome
        .code(0)
        .stderr_lacks("replica")
        .stderr_lacks("warning");
    assert_eq!(env["FAILOVER_KEY"], format!("{MARKER}-failover"));
    assert_eq!(calls_in(&proxy, REPLICA), 0);
}

#[test]
fn failover_never_on_access_denied_in_the_primary() {
    let (_, proxy, mut run) = replicated(by_name);
    proxy.in_region(
        PRIMARY,
        Fault::Error {
            status: 400,
            code: "AccessDeniedException",
            message: "User is not authorized to perform: secretsmanager:GetSecretValue",
        },
    );
    run.command(&["/bin/echo", "ran"]);
    let outcome = run.run();
    outcome
        .fails(77)
        .stderr_has("access denied")
        .stderr_lacks(MARKER);
    assert_eq!(calls_in(&proxy, REPLICA), 0, "an answer is not an outage");
}

#[test]
fn failover_never_on_a_secret_missing_in_the_primary() {
    // Only the "replica" region has it: the primary's NotFound is an answer.
    let name = unique("short-cut/test/only-in-eu");
    seed_in(REPLICA, &name, Value::Text(r#"{"A":"1"}"#));
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), &name);
    run.env("SHORTCUT_ENV_FAILOVER_REGION", REPLICA)
        .command(&["/bin/echo", "ran"]);
    run.run().fails(66).stderr_has("was not found in us-east-1");
    assert_eq!(calls_in(&proxy, REPLICA), 0);
}

#[test]
fn failover_with_every_region_down_is_69_naming_each_within_the_deadline() {
    let (secret, proxy, mut run) = replicated(by_name);
    proxy
        .in_region(PRIMARY, internal())
        .in_region(REPLICA, Fault::Hang);
    run.env("SHORTCUT_ENV_TIMEOUT", "4")
        .command(&["/bin/echo", "ran"]);
    let outcome = run.run_within(BOUND);
    outcome
        .fails(69)
        .stderr_has(&format!(
            "secret {} could not be read in any of its regions within the 4 s deadline",
            secret.name
        ))
        .stderr_has(&format!(
            "{PRIMARY}: Secrets Manager failed with InternalServiceError"
        ))
        .stderr_has(&format!("{REPLICA}: fetching {}", secret.name))
        .stderr_has("hint: every region failed")
        .stderr_lacks(MARKER);
    assert!(
        outcome.elapsed < Duration::from_secs(4) + Duration::from_secs(2),
        "{outcome:?}"
    );
}

#[test]
fn failover_deadline_is_shared_so_a_hung_primary_leaves_time_for_the_replica() {
    // 6 s: the primary gets 3 s (attempts of 2 s each), the replica what is left.
    let (_, proxy, mut run) = replicated(by_name);
    proxy.in_region(PRIMARY, Fault::Hang);
    run.env("SHORTCUT_ENV_TIMEOUT", "6").command(&[
        "/bin/sh",
        "-c",
        "test -n \"$FAILOVER_KEY\" && echo ran",
    ]);
    let outcome = run.run_within(BOUND);
    outcome
        .code(0)
        .stderr_has(&format!("{PRIMARY} failed: fetching"));
    assert_eq!(outcome.stdout, "ran\n");
    assert!(outcome.elapsed < Duration::from_secs(6), "{outcome:?}");
    assert!(
        outcome.elapsed >= Duration::from_secs(2),
        "the primary had its share"
    );
}

#[test]
fn failover_region_malformed_is_78_before_any_call() {
    let proxy = Proxy::start(endpoints::closed_port());
    let mut run = Run::aws(&proxy.url(), "short-cut/prod/app");
    run.arg("--failover-region")
        .arg("eu-west-1,EU-WEST-2")
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(78)
        .stderr_has("--failover-region=\"EU-WEST-2\" is not a valid AWS region");
    assert!(proxy.requests().is_empty());
}

#[test]
fn failover_warning_escapes_what_the_primary_said() {
    let (_, proxy, mut run) = replicated(by_name);
    proxy.in_region(
        PRIMARY,
        Fault::Error {
            status: 500,
            code: "InternalServiceError",
            message: "down\nshortcut-env: loaded 9 keys from forged in 1 ms\u{1b}[8m",
        },
    );
    run.command(&["/bin/true"]);
    let outcome = run.run();
    outcome
        .code(0)
        .stderr_has("down\\u{a}shortcut-env: loaded 9 keys from forged")
        .stderr_has("\\u{1b}[8m")
        .stderr_lacks("\u{1b}");
    let loaded = outcome
        .stderr
        .lines()
        .filter(|l| l.starts_with("shortcut-env: loaded"))
        .count();
    assert_eq!(loaded, 1, "{}", outcome.stderr);
}

#[test]
fn failover_is_per_secret_and_skips_a_secrets_own_region() {
    // A name of the primary region fails over; an ARN of the replica region is read there
    // directly, once.
    let (primary, proxy, mut run) = replicated(by_name);
    let in_eu = seed_in(
        REPLICA,
        &unique("short-cut/eu/app"),
        Value::Text(r#"{"IN_EU":"yes"}"#),
    );
    proxy.in_region(PRIMARY, internal());
    run.env("SECRET_NAME", format!("{},{}", primary.name, in_eu.arn));
    let (outcome, env) = run.env_seen();
    outcome
        .code(0)
        .stderr_has(&format!("{} from the replica in {REPLICA}\n", primary.name))
        .stderr_lacks(&format!("{} from the replica", in_eu.arn));
    assert_eq!(env["IN_EU"], "yes");
    assert_eq!(env["FAILOVER_KEY"], format!("{MARKER}-failover"));
    assert_eq!(
        calls_in(&proxy, REPLICA),
        2,
        "one call per secret in eu-west-1"
    );
}
