//! Faults an emulator cannot produce, from the fault-injecting proxy in front of moto and a
//! broken container-credentials endpoint: each ends with the right exit status and hint, within
//! a bound set by the configured deadline, with the calls it must have made, and never with the
//! command run.

use std::time::Duration;

use crate::support::endpoints::{CredentialsMode, closed_port};
use crate::support::*;

/// A generous bound against hanging, not a performance assertion.
const BOUND: Duration = Duration::from_secs(10);

fn throttle() -> Fault {
    Fault::Error {
        status: 400,
        code: "ThrottlingException",
        message: "Rate exceeded",
    }
}

fn internal() -> Fault {
    Fault::Error {
        status: 500,
        code: "InternalServiceError",
        message: "An internal error occurred",
    }
}

fn error(code: &'static str, message: &'static str) -> Fault {
    Fault::Error {
        status: 400,
        code,
        message,
    }
}

fn bare(status: u16) -> Fault {
    Fault::Respond {
        status,
        body: String::new(),
    }
}

/// A start through a fresh fault proxy in front of moto, reading the guide's secret, with short
/// backoffs, 4 attempts and a 6 s deadline (so a 2 s attempt timeout), bounded by [`BOUND`].
fn proxied() -> Run {
    reading(&seed_text(&guide_secret()).name)
}

/// Like [`proxied`], reading `secret` (which need not exist when the proxy answers for moto).
fn reading(secret: &str) -> Run {
    let mut run = Run::proxied(secret);
    run.env("SHORTCUT_ENV_TIMEOUT", "6")
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "4")
        .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.02")
        .env("SHORTCUT_ENV_MAX_BACKOFF", "0.2")
        .within(BOUND);
    run
}

/// [`proxied`], expected to start the command with the secret.
fn starts() -> Run {
    let mut run = proxied();
    run.sees("PINECONE_API_KEY", &format!("pcsk_{MARKER}"));
    run
}

/// [`proxied`], expected to fail with `code` before running anything.
fn refused(code: i32) -> Run {
    let mut run = proxied();
    run.probe().fails(code);
    run
}

// ---- transient faults the retries absorb --------------------------------------------------

#[test]
fn transient_slow_but_within_the_deadline_is_one_call() {
    starts()
        .fault(Fault::Delay(Duration::from_millis(700)))
        .calls("GetSecretValue", 1)
        .run();
}

#[test]
fn transient_throttled_twice_then_ok() {
    starts()
        .fault(throttle())
        .fault(throttle())
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "5")
        .calls("GetSecretValue", 3)
        .run();
}

#[test]
fn transient_500_once_then_ok() {
    starts().fault(internal()).calls("GetSecretValue", 2).run();
}

#[test]
fn transient_reset_once_then_ok() {
    starts()
        .fault(Fault::Reset)
        .calls("GetSecretValue", 2)
        .run();
}

#[test]
fn transient_closed_mid_answer_once_then_ok() {
    starts()
        .fault(Fault::CloseMidResponse)
        .calls("GetSecretValue", 2)
        .run();
}

#[test]
fn transient_throttled_once_in_adaptive_retry_mode() {
    starts()
        .fault(throttle())
        .env("SHORTCUT_ENV_RETRY_MODE", "adaptive")
        .calls("GetSecretValue", 2)
        .run();
}

#[test]
fn transient_hung_first_attempt_is_abandoned_and_retried_inside_the_deadline() {
    starts()
        .fault(Fault::Hang)
        .within(Duration::from_secs(5))
        .calls("GetSecretValue", 2)
        .run();
}

#[test]
fn transient_two_hung_attempts_are_retried_inside_the_deadline() {
    starts()
        .fault(Fault::Hang)
        .fault(Fault::Hang)
        .within(Duration::from_secs(6))
        .calls("GetSecretValue", 3)
        .run();
}

#[test]
fn transient_stalled_body_once_is_retried() {
    starts()
        .fault(Fault::StallBody)
        .within(Duration::from_secs(5))
        .calls("GetSecretValue", 2)
        .run();
}

#[test]
fn transient_slow_drip_body_once_is_cut_and_retried() {
    starts()
        .fault(Fault::Drip)
        .within(Duration::from_secs(5))
        .calls("GetSecretValue", 2)
        .run();
}

#[test]
fn transient_throttled_bare_429_once_is_retried() {
    starts().fault(bare(429)).calls("GetSecretValue", 2).run();
}

#[test]
fn transient_bare_503_once_is_retried() {
    starts().fault(bare(503)).calls("GetSecretValue", 2).run();
}

// ---- the deadline -------------------------------------------------------------------------

#[test]
fn deadline_a_hang_ends_at_the_deadline_with_its_hint() {
    refused(69)
        .always(Fault::Hang)
        .env("SHORTCUT_ENV_TIMEOUT", "1")
        .stderr_has("within the 1 s deadline")
        .stderr_has("raise SHORTCUT_ENV_TIMEOUT")
        .run();
}

#[test]
fn deadline_slower_than_the_deadline_is_69() {
    refused(69)
        .always(Fault::Delay(Duration::from_secs(5)))
        .env("SHORTCUT_ENV_TIMEOUT", "1.5")
        .stderr_has("within the 1.5 s deadline")
        .run();
}

#[test]
fn deadline_stalled_after_the_head_of_the_answer_is_69() {
    refused(69)
        .always(Fault::StallBody)
        .env("SHORTCUT_ENV_TIMEOUT", "1")
        .stderr_has("within the 1 s deadline")
        .run();
}

#[test]
fn deadline_hung_every_time_makes_several_attempts_first() {
    refused(69)
        .always(Fault::Hang)
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "20")
        .stderr_has("within the 6 s deadline")
        .calls_between("GetSecretValue", 2, 20)
        .run();
}

#[test]
fn deadline_stops_throttling_forever() {
    refused(69)
        .always(throttle())
        .env("SHORTCUT_ENV_TIMEOUT", "2.5")
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "20")
        .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.2")
        .env("SHORTCUT_ENV_MAX_BACKOFF", "0.5")
        .stderr_has("kept throttling the request (ThrottlingException)")
        .stderr_has("hint: too many tasks are starting at once")
        .calls_between("GetSecretValue", 2, 20)
        .run();
}

// ---- retries run out ----------------------------------------------------------------------

#[test]
fn throttled_until_the_attempts_run_out() {
    refused(69)
        .always(throttle())
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "3")
        .stderr_has("kept throttling the request (ThrottlingException)")
        .stderr_has("hint: too many tasks are starting at once")
        .calls("GetSecretValue", 3)
        .run();
}

#[test]
fn throttled_bare_429_every_time_is_throttling() {
    refused(69)
        .always(bare(429))
        .stderr_has("kept throttling the request (HTTP 429)")
        .stderr_has("hint: too many tasks are starting at once")
        .calls("GetSecretValue", 4)
        .run();
}

#[test]
fn throttled_429_with_an_html_page_is_throttling() {
    refused(69)
        .always(Fault::Respond {
            status: 429,
            body: "<html><body>Too Many Requests</body></html>".into(),
        })
        .stderr_has("HTTP 429")
        .calls("GetSecretValue", 4)
        .run();
}

#[test]
fn retries_500_until_the_attempts_run_out() {
    refused(69)
        .always(internal())
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "2")
        .stderr_has("InternalServiceError")
        .stderr_has("hint: Secrets Manager reported an error on its side")
        .calls("GetSecretValue", 2)
        .run();
}

#[test]
fn retries_bare_503_every_time_is_a_service_failure() {
    refused(69)
        .always(bare(503))
        .stderr_has("Secrets Manager failed with HTTP 503")
        .calls("GetSecretValue", 4)
        .run();
}

#[test]
fn retries_reset_every_time_gets_a_network_hint() {
    refused(69)
        .always(Fault::Reset)
        .stderr_has("could not reach Secrets Manager")
        .stderr_has("hint: check the network path")
        .calls("GetSecretValue", 4)
        .run();
}

#[test]
fn retries_closed_mid_answer_every_time() {
    refused(69)
        .always(Fault::CloseMidResponse)
        .calls("GetSecretValue", 4)
        .run();
}

#[test]
fn retries_the_real_answer_cut_in_half_every_time() {
    refused(69)
        .always(Fault::Truncate)
        .calls_between("GetSecretValue", 1, 4)
        .run();
}

#[test]
fn retries_garbage_instead_of_json_is_unreadable() {
    refused(69)
        .always(Fault::Garbage)
        .stderr_has(
            "Secrets Manager failed with UnreadableResponse: the answer (HTTP 200) could not be parsed",
        )
        .run();
}

#[test]
fn refused_connection_fails_fast_with_a_network_hint() {
    // Refused is immediate: the retries do not wait for the deadline.
    Run::aws(&format!("http://127.0.0.1:{}", closed_port()), "s")
        .env("SHORTCUT_ENV_TIMEOUT", "5")
        .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.01")
        .probe()
        .fails(69)
        .stderr_has("could not reach Secrets Manager in us-east-1")
        .stderr_has("AWS_ENDPOINT_URL")
        .stderr_has("Connection refused")
        .stderr_has("hint: check the network path")
        .within(Duration::from_secs(4))
        .run();
}

// ---- not allowed, or not there: never retried ---------------------------------------------

#[test]
fn denied_access_names_the_task_role_and_the_permission() {
    refused(77)
        .always(error(
            "AccessDeniedException",
            "User: arn:aws:sts::111122223333:assumed-role/shortcut-ecs-task-role/x \
             is not authorized to perform: secretsmanager:GetSecretValue",
        ))
        .stderr_has("access denied to secret")
        .stderr_has("hint: check the task role (taskRoleArn)")
        .stderr_has("its policy must allow secretsmanager:GetSecretValue")
        .calls("GetSecretValue", 1)
        .run();
}

#[test]
fn denied_kms_decryption_failure_names_the_key_policy() {
    refused(77)
        .always(error(
            "DecryptionFailure",
            "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
        ))
        .stderr_has("KMS refused to decrypt secret")
        .stderr_has("hint: check the KMS key policy")
        .stderr_has("kms:Decrypt")
        .calls("GetSecretValue", 1)
        .run();
}

#[test]
fn denied_access_to_the_kms_key_names_the_key_policy() {
    refused(77)
        .always(error(
            "AccessDeniedException",
            "Access to KMS is not allowed",
        ))
        .stderr_has("hint: check the KMS key policy")
        .calls("GetSecretValue", 1)
        .run();
}

#[test]
fn denied_expired_session_token() {
    refused(77)
        .always(error(
            "ExpiredTokenException",
            "The security token included in the request is expired",
        ))
        .stderr_has("credentials are not usable (ExpiredTokenException)")
        .stderr_has("hint: the credentials are invalid or expired")
        .calls("GetSecretValue", 1)
        .run();
}

#[test]
fn denied_unknown_access_key() {
    refused(77)
        .always(error(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ))
        .stderr_has("UnrecognizedClientException")
        .calls("GetSecretValue", 1)
        .run();
}

#[test]
fn not_found_is_66_with_a_secret_name_hint() {
    refused(66)
        .always(error(
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret.",
        ))
        .stderr_has("hint: check SECRET_NAME")
        .calls("GetSecretValue", 1)
        .run();
}

// ---- answers too large --------------------------------------------------------------------

#[test]
fn huge_answer_with_a_length_is_refused_unread() {
    refused(69)
        .always(Fault::Huge {
            bytes: 100 << 20,
            chunked: false,
        })
        .stderr_has("is larger than 512 KiB")
        .stderr_has("hint: a secret is at most 64 KiB")
        .run();
}

#[test]
fn huge_chunked_answer_is_cut_at_the_limit_and_not_retried() {
    // Not retried: the next answer would be as large.
    refused(69)
        .always(Fault::Huge {
            bytes: 100 << 20,
            chunked: true,
        })
        .stderr_has("is larger than 512 KiB")
        .calls("GetSecretValue", 1)
        .run();
}

#[test]
fn huge_answer_just_over_the_limit_is_refused() {
    refused(69)
        .always(Fault::Huge {
            bytes: 512 * 1024 + 1,
            chunked: true,
        })
        .stderr_has("is larger than 512 KiB")
        .run();
}

// ---- backoff ------------------------------------------------------------------------------

#[test]
fn retries_back_off_exponentially_with_jitter() {
    let mut run = proxied();
    // Seven throttled answers, then moto's.
    for _ in 0..7 {
        run.fault(throttle());
    }
    run.env("SHORTCUT_ENV_TIMEOUT", "8")
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "8")
        .env("SHORTCUT_ENV_MAX_BACKOFF", "5")
        .calls("GetSecretValue", 8)
        .sees("MILVUS_HOST", "milvus.internal")
        .run();
    let arrivals = run.proxy().arrivals();
    let gaps: Vec<f64> = arrivals
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    // Retry n waits a random time up to 0.02 × 2^n s ("full jitter"): never more (plus
    // slack for the round trip), and not the same fixed ladder every time.
    let nominal = |n: usize| 0.02 * 2f64.powi(i32::try_from(n).unwrap() + 1);
    for (n, gap) in gaps.iter().enumerate() {
        assert!(
            *gap <= nominal(n) + 0.5,
            "retry {n} waited {gap} s: {gaps:?}"
        );
    }
    let below = gaps
        .iter()
        .enumerate()
        .skip(2)
        .filter(|(n, gap)| **gap < 0.85 * nominal(*n))
        .count();
    assert!(below > 0, "no jitter in the backoff: {gaps:?}");
}

// ---- credentials --------------------------------------------------------------------------

/// A start with no AWS keys, a 1 s deadline, and the probe as its command.
fn without_keys() -> Run {
    let mut run = Run::moto("short-cut/prod/app");
    run.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env("SHORTCUT_ENV_TIMEOUT", "1")
        .probe()
        .fails(77)
        .stderr_lacks("container-secret")
        .stderr_lacks("container-session-token");
    run
}

/// Credentials for `run` from `endpoint`, authorized by `token`.
fn container(run: &mut Run, endpoint: &CredentialsEndpoint, token: &str) {
    run.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.uri())
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", token);
}

#[test]
fn credentials_none_at_all_with_imds_disabled_is_77_with_a_task_role_hint() {
    without_keys()
        .stderr_has("no AWS credentials")
        .stderr_has("hint: on ECS, set the task definition's taskRoleArn")
        .stderr_has("aws sso login")
        .within(Duration::from_secs(3))
        .run();
}

#[test]
fn credentials_container_endpoint_down_is_77() {
    let mut run = without_keys();
    run.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("http://127.0.0.1:{}/v2/credentials/task", closed_port()),
    )
    .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "t")
    .stderr_has("no AWS credentials")
    .stderr_has("taskRoleArn")
    .within(Duration::from_secs(5))
    .run();
}

#[test]
fn credentials_wrong_authorization_token_is_77() {
    let endpoint = CredentialsEndpoint::start("t", CredentialsMode::Valid);
    let mut run = without_keys();
    container(&mut run, &endpoint, "wrong");
    run.stderr_has("no AWS credentials")
        .stderr_has("taskRoleArn")
        .within(Duration::from_secs(5))
        .run();
}

#[test]
fn credentials_endpoint_error_is_77() {
    let endpoint = CredentialsEndpoint::start("t", CredentialsMode::Status(500));
    let mut run = without_keys();
    container(&mut run, &endpoint, "t");
    run.stderr_has("no AWS credentials")
        .within(Duration::from_secs(5))
        .run();
}

#[test]
fn credentials_expired_are_77_with_an_expiry_hint() {
    let endpoint = CredentialsEndpoint::start("t", CredentialsMode::Expired);
    let mut run = without_keys();
    container(&mut run, &endpoint, "t");
    run.stderr_has("expired")
        .stderr_has("hint: the credentials are invalid or expired")
        .within(Duration::from_secs(5))
        .run();
}

#[test]
fn credentials_endpoint_that_hangs_is_77_at_the_deadline() {
    let endpoint = CredentialsEndpoint::start("t", CredentialsMode::Hang);
    let mut run = without_keys();
    container(&mut run, &endpoint, "t");
    run.stderr_has("no AWS credentials")
        .stderr_has("within 1 s")
        .within(BOUND)
        .run();
}

// ---- what an AWS message cannot do --------------------------------------------------------

/// The lines of stderr that start as the wrapper's success line does.
fn loaded_lines(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.starts_with("shortcut-env: loaded"))
        .count()
}

#[test]
fn escaped_aws_message_cannot_forge_a_success_line() {
    let outcome = refused(77)
        .always(error(
            "AccessDeniedException",
            "denied\nshortcut-env: loaded 7 keys from short-cut/prod/app in 1 ms",
        ))
        .stderr_has("denied\\u{a}shortcut-env: loaded 7 keys")
        .run();
    assert_eq!(loaded_lines(&outcome.stderr), 0, "{}", outcome.stderr);
}

#[test]
fn escaped_ansi_sequences_from_an_aws_message() {
    let outcome = refused(77)
        .always(error(
            "AccessDeniedException",
            "\u{1b}[2J\u{1b}[31mdenied\r",
        ))
        .stderr_has("\\u{1b}[2J")
        .run();
    assert!(!outcome.stderr.contains('\u{1b}') && !outcome.stderr.contains('\r'));
}

#[test]
fn escaped_ansi_sequences_in_json_logs() {
    refused(77)
        .always(error("AccessDeniedException", "\u{1b}]0;owned\u{7}denied"))
        .env("SHORTCUT_ENV_LOG_FORMAT", "json")
        .stderr_lacks("\u{1b}")
        .stderr_lacks("\\u001b")
        .run();
}

/// A 200 answer for `secret` whose version id and stage hold a forged line.
fn forged_version(secret: &str) -> Fault {
    let body = serde_json::json!({
        "ARN": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{secret}-AbCdEf"),
        "Name": secret,
        "SecretString": guide_secret(),
        "VersionId": "v1\nshortcut-env: loaded 0 keys from nowhere\u{1b}[8m",
        "VersionStages": ["AWSCURRENT\n"],
    });
    Fault::Respond {
        status: 200,
        body: body.to_string(),
    }
}

#[test]
fn escaped_version_id_in_the_success_line() {
    let outcome = reading("short-cut/test/app")
        .sees("PINECONE_API_KEY", &format!("pcsk_{MARKER}"))
        .always(forged_version("short-cut/test/app"))
        .stderr_has("version v1\\u{a}shortcut-env: loaded 0 keys")
        .stderr_lacks("\u{1b}")
        .run();
    assert_eq!(loaded_lines(&outcome.stderr), 1, "{}", outcome.stderr);
}

#[test]
fn escaped_version_id_in_the_json_success_line() {
    let outcome = reading("short-cut/test/app")
        .sees("PINECONE_API_KEY", &format!("pcsk_{MARKER}"))
        .always(forged_version("short-cut/test/app"))
        .env("SHORTCUT_ENV_LOG_FORMAT", "json")
        .stderr_lacks("\\u001b")
        .run();
    assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
}

#[test]
fn escaped_invalid_key_is_cut_short() {
    // A value pasted into the key field, with a forged line in it.
    let key = format!("{}\nshortcut-env: loaded 1 key {MARKER}", "k".repeat(80));
    let outcome = Run::secret(&serde_json::json!({ key: "v" }).to_string())
        .probe()
        .fails(65)
        .stderr_has(&format!("\"{}…\"", "k".repeat(64)))
        .stderr_has("characters)")
        .run();
    assert_eq!(loaded_lines(&outcome.stderr), 0, "{}", outcome.stderr);
}
