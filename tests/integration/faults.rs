//! Faults an emulator cannot produce, from the fault-injecting proxy in front of moto and a
//! broken container-credentials endpoint: each ends with the right exit status and hint, within
//! a bound set by the configured deadline, and never with the command run.
//!
//! The cases of a table run concurrently (each waits on a deadline, not on the CPU), so the
//! whole file costs about as long as its slowest case.

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

/// One fault scenario against the proxy.
struct Case {
    name: &'static str,
    /// Faults for the first requests, in order.
    plan: Vec<Fault>,
    /// The fault for every later request (default: forward to moto).
    always: Option<Fault>,
    /// Extra variables, over the defaults of [`run_case`].
    env: Vec<(&'static str, &'static str)>,
    /// 0: the command ran and saw the secret.
    code: i32,
    /// What stderr must hold (the error and hint lines).
    needles: Vec<&'static str>,
    /// How many GetSecretValue requests the proxy must have seen (`None`: not checked).
    calls: Option<std::ops::RangeInclusive<usize>>,
}

impl Case {
    fn new(name: &'static str, code: i32) -> Case {
        Case {
            name,
            plan: Vec::new(),
            always: None,
            env: Vec::new(),
            code,
            needles: Vec::new(),
            calls: None,
        }
    }
    fn then(mut self, fault: Fault) -> Case {
        self.plan.push(fault);
        self
    }
    fn always(mut self, fault: Fault) -> Case {
        self.always = Some(fault);
        self
    }
    fn env(mut self, name: &'static str, value: &'static str) -> Case {
        self.env.push((name, value));
        self
    }
    fn has(mut self, needle: &'static str) -> Case {
        self.needles.push(needle);
        self
    }
    fn calls(mut self, calls: std::ops::RangeInclusive<usize>) -> Case {
        self.calls = Some(calls);
        self
    }
}

/// How many cases of a table run at once: they mostly wait on deadlines and processes, but a
/// debug build of the wrapper needs some CPU to start, and CI machines have two cores.
const PARALLEL: usize = 6;

/// Runs the cases on a few threads and reports every failing case at once.
pub fn run_all<T: Sync>(cases: Vec<T>, check: impl Fn(&T) + Sync) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let passed = std::thread::scope(|inner| inner.spawn(|| check(case)).join());
                    if passed.is_err() {
                        failed.lock().unwrap().push(i);
                    }
                }
            });
        }
    });
    let mut failed = failed.into_inner().unwrap();
    failed.sort_unstable();
    assert!(
        failed.is_empty(),
        "failed cases (by index, see the panics above): {failed:?}"
    );
}

fn run_case(secret: &Seeded, case: &Case) {
    let proxy = Proxy::start(moto().port);
    for fault in &case.plan {
        proxy.then(fault.clone());
    }
    if let Some(fault) = &case.always {
        proxy.always(fault.clone());
    }
    let mut run = Run::aws(&proxy.url(), &secret.name);
    run.env("SHORTCUT_ENV_TIMEOUT", "6")
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "4")
        .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.02")
        .env("SHORTCUT_ENV_MAX_BACKOFF", "0.2");
    for (name, value) in &case.env {
        run.env(name, value);
    }
    run.command(&["/bin/sh", "-c", "echo \"ran $PINECONE_API_KEY\""]);
    let outcome = run.run();
    let name = case.name;
    if std::env::var_os("FAULTS_DEBUG").is_some() {
        eprintln!(
            "{name}: {:?} {:?}\n{}",
            outcome.elapsed,
            proxy.targets(),
            outcome.stderr
        );
    }
    if case.code == 0 {
        outcome.code(0);
        assert_eq!(
            outcome.stdout,
            format!("ran pcsk_{MARKER}\n"),
            "{name}: the command must see the secret"
        );
    } else {
        outcome.fails(case.code);
    }
    for needle in &case.needles {
        assert!(
            outcome.stderr.contains(needle),
            "{name}: stderr lacks {needle:?}:\n{}",
            outcome.stderr
        );
    }
    assert!(
        !outcome.stderr.contains(MARKER),
        "{name}: a secret value leaked:\n{}",
        outcome.stderr
    );
    assert!(
        outcome.elapsed < BOUND,
        "{name}: took {:?}",
        outcome.elapsed
    );
    if let Some(calls) = &case.calls {
        let seen = proxy
            .targets()
            .iter()
            .filter(|t| *t == "secretsmanager.GetSecretValue")
            .count();
        assert!(
            calls.contains(&seen),
            "{name}: {seen} GetSecretValue calls, expected {calls:?}"
        );
    }
}

#[test]
fn secrets_manager_faults_end_with_the_right_status_and_hint() {
    let secret = seed_text(&guide_secret());
    let cases = vec![
        // ---- transient faults the retries absorb --------------------------------------------
        Case::new("slow but within the deadline", 0)
            .then(Fault::Delay(Duration::from_millis(700)))
            .calls(1..=1),
        Case::new("throttled twice, then OK", 0)
            .then(throttle())
            .then(throttle())
            .env("SHORTCUT_ENV_MAX_ATTEMPTS", "5")
            .calls(3..=3),
        Case::new("500 once, then OK", 0)
            .then(internal())
            .calls(2..=2),
        Case::new("reset once, then OK", 0)
            .then(Fault::Reset)
            .calls(2..=2),
        Case::new("closed mid-answer once, then OK", 0)
            .then(Fault::CloseMidResponse)
            .calls(2..=2),
        Case::new("adaptive retry mode, throttled once", 0)
            .then(throttle())
            .env("SHORTCUT_ENV_RETRY_MODE", "adaptive")
            .calls(2..=2),
        // ---- the deadline -------------------------------------------------------------------
        Case::new("hangs", 69)
            .always(Fault::Hang)
            .env("SHORTCUT_ENV_TIMEOUT", "1")
            .has("within the 1 s deadline")
            .has("raise SHORTCUT_ENV_TIMEOUT"),
        Case::new("slower than the deadline", 69)
            .always(Fault::Delay(Duration::from_secs(5)))
            .env("SHORTCUT_ENV_TIMEOUT", "1.5")
            .has("within the 1.5 s deadline"),
        Case::new("stalls after the head of the answer", 69)
            .always(Fault::StallBody)
            .env("SHORTCUT_ENV_TIMEOUT", "1")
            .has("within the 1 s deadline"),
        Case::new("throttled forever, stopped by the deadline", 69)
            .always(throttle())
            .env("SHORTCUT_ENV_TIMEOUT", "2.5")
            .env("SHORTCUT_ENV_MAX_ATTEMPTS", "20")
            .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.2")
            .env("SHORTCUT_ENV_MAX_BACKOFF", "0.5")
            .has("kept throttling the request (ThrottlingException)")
            .has("hint: too many tasks are starting at once")
            .calls(2..=20),
        // ---- retries run out ----------------------------------------------------------------
        Case::new("throttled until the attempts run out", 69)
            .always(throttle())
            .env("SHORTCUT_ENV_MAX_ATTEMPTS", "3")
            .has("kept throttling the request (ThrottlingException)")
            .has("hint: too many tasks are starting at once")
            .calls(3..=3),
        Case::new("500 until the attempts run out", 69)
            .always(internal())
            .env("SHORTCUT_ENV_MAX_ATTEMPTS", "2")
            .has("InternalServiceError")
            .has("hint: Secrets Manager reported an error on its side")
            .calls(2..=2),
        Case::new("reset every time", 69)
            .always(Fault::Reset)
            .has("could not reach Secrets Manager")
            .has("hint: check the network path")
            .calls(4..=4),
        Case::new("closed mid-answer every time", 69)
            .always(Fault::CloseMidResponse)
            .calls(4..=4),
        Case::new("the real answer cut in half every time", 69)
            .always(Fault::Truncate)
            .calls(1..=4),
        Case::new("garbage instead of JSON", 69)
            .always(Fault::Garbage)
            .has("Secrets Manager failed with UnreadableResponse: the answer (HTTP 200) could not be parsed"),
        // ---- not allowed: never retried -----------------------------------------------------
        Case::new("access denied", 77)
            .always(Fault::Error {
                status: 400,
                code: "AccessDeniedException",
                message: "User: arn:aws:sts::111122223333:assumed-role/shortcut-ecs-task-role/x \
                          is not authorized to perform: secretsmanager:GetSecretValue",
            })
            .has("access denied to secret")
            .has("hint: check the task role (taskRoleArn)")
            .has("its policy must allow secretsmanager:GetSecretValue")
            .calls(1..=1),
        Case::new("KMS decryption failure", 77)
            .always(Fault::Error {
                status: 400,
                code: "DecryptionFailure",
                message: "Secrets Manager can't decrypt the protected secret text using the \
                          provided KMS key.",
            })
            .has("KMS refused to decrypt secret")
            .has("hint: check the KMS key policy")
            .has("kms:Decrypt")
            .calls(1..=1),
        Case::new("access to the KMS key denied", 77)
            .always(Fault::Error {
                status: 400,
                code: "AccessDeniedException",
                message: "Access to KMS is not allowed",
            })
            .has("hint: check the KMS key policy")
            .calls(1..=1),
        Case::new("expired session token", 77)
            .always(Fault::Error {
                status: 400,
                code: "ExpiredTokenException",
                message: "The security token included in the request is expired",
            })
            .has("credentials are not usable (ExpiredTokenException)")
            .has("hint: the credentials are invalid or expired")
            .calls(1..=1),
        Case::new("unknown access key", 77)
            .always(Fault::Error {
                status: 400,
                code: "UnrecognizedClientException",
                message: "The security token included in the request is invalid.",
            })
            .has("UnrecognizedClientException")
            .calls(1..=1),
        Case::new("not found", 66)
            .always(Fault::Error {
                status: 400,
                code: "ResourceNotFoundException",
                message: "Secrets Manager can't find the specified secret.",
            })
            .has("hint: check SECRET_NAME")
            .calls(1..=1),
    ];
    run_all(cases, |case| run_case(&secret, case));
}

#[test]
fn a_refused_connection_fails_fast_with_a_network_hint() {
    let mut run = Run::aws(&format!("http://127.0.0.1:{}", closed_port()), "s");
    run.env("SHORTCUT_ENV_TIMEOUT", "5")
        .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.01")
        .command(&["/bin/echo", "ran"]);
    let outcome = run.run();
    outcome
        .fails(69)
        .stderr_has("could not reach Secrets Manager in us-east-1")
        .stderr_has("AWS_ENDPOINT_URL");
    // Refused is immediate: the retries do not wait for the deadline.
    assert!(
        outcome.elapsed < Duration::from_secs(4),
        "{:?}",
        outcome.elapsed
    );
}

#[test]
fn retries_back_off_exponentially_with_jitter() {
    let secret = seed_text(&guide_secret());
    let proxy = Proxy::start(moto().port);
    // Seven throttled answers, then moto's.
    for _ in 0..7 {
        proxy.then(throttle());
    }
    let mut run = Run::aws(&proxy.url(), &secret.name);
    run.env("SHORTCUT_ENV_TIMEOUT", "8")
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "8")
        .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.02")
        .env("SHORTCUT_ENV_MAX_BACKOFF", "5")
        .command(&["/bin/true"]);
    run.run().code(0);
    let arrivals = proxy.arrivals();
    assert_eq!(arrivals.len(), 8);
    let gaps: Vec<f64> = arrivals
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    // Retry n waits a random time up to 0.02 × 2^n s ("full jitter"): never more (plus
    // slack for the round trip), and not the same fixed ladder every time.
    for (n, gap) in gaps.iter().enumerate() {
        let ceiling = 0.02 * 2f64.powi(n as i32 + 1);
        assert!(*gap <= ceiling + 0.5, "retry {n} waited {gap} s: {gaps:?}");
    }
    let nominal = |n: usize| 0.02 * 2f64.powi(n as i32 + 1);
    let below = gaps
        .iter()
        .enumerate()
        .skip(2)
        .filter(|(n, gap)| **gap < 0.85 * nominal(*n))
        .count();
    assert!(below > 0, "no jitter in the backoff: {gaps:?}");
}

/// A credentials scenario: the ECS container endpoint (or none), and what must come out.
struct CredentialsCase {
    name: &'static str,
    /// `None`: no credential source at all.
    endpoint: Option<CredentialsMode>,
    token: &'static str,
    /// The endpoint is a port nothing listens on.
    down: bool,
    needles: Vec<&'static str>,
    within: Duration,
}

#[test]
fn credential_failures_exit_77_quickly_with_a_credentials_hint() {
    let case = |name, endpoint, token, down, needles: &[&'static str], within| CredentialsCase {
        name,
        endpoint,
        token,
        down,
        needles: needles.to_vec(),
        within,
    };
    let seconds = Duration::from_secs;
    let cases = vec![
        case(
            "no credentials at all, IMDS disabled",
            None,
            "",
            false,
            &[
                "no AWS credentials",
                "hint: on ECS, set the task definition's taskRoleArn",
            ],
            seconds(3),
        ),
        case(
            "container endpoint down",
            Some(CredentialsMode::Valid),
            "t",
            true,
            &["no AWS credentials", "taskRoleArn"],
            seconds(5),
        ),
        case(
            "wrong authorization token",
            Some(CredentialsMode::Valid),
            "wrong",
            false,
            &["no AWS credentials", "taskRoleArn"],
            seconds(5),
        ),
        case(
            "endpoint error",
            Some(CredentialsMode::Status(500)),
            "t",
            false,
            &["no AWS credentials"],
            seconds(5),
        ),
        case(
            "expired credentials",
            Some(CredentialsMode::Expired),
            "t",
            false,
            &["expired", "hint: the credentials are invalid or expired"],
            seconds(5),
        ),
        case(
            "endpoint hangs",
            Some(CredentialsMode::Hang),
            "t",
            false,
            &["no AWS credentials", "within 1 s"],
            BOUND,
        ),
    ];
    run_all(cases, |case| {
        let name = case.name;
        let mut run = Run::moto("short-cut/prod/app");
        run.unset("AWS_ACCESS_KEY_ID")
            .unset("AWS_SECRET_ACCESS_KEY")
            .env("SHORTCUT_ENV_TIMEOUT", "1")
            .command(&["/bin/echo", "ran"]);
        let _endpoint = case.endpoint.map(|mode| {
            let endpoint = CredentialsEndpoint::start("t", mode);
            let uri = if case.down {
                format!("http://127.0.0.1:{}/v2/credentials/task", closed_port())
            } else {
                endpoint.uri()
            };
            run.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)
                .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", case.token);
            endpoint
        });
        let outcome = run.run();
        outcome.fails(77);
        for needle in &case.needles {
            assert!(
                outcome.stderr.contains(needle),
                "{name}: stderr lacks {needle:?}:\n{}",
                outcome.stderr
            );
        }
        for secret in ["container-secret", "container-session-token"] {
            assert!(
                !outcome.stderr.contains(secret),
                "{name}: {}",
                outcome.stderr
            );
        }
        assert!(
            outcome.elapsed < case.within,
            "{name}: took {:?}",
            outcome.elapsed
        );
    });
}

// ---- named fault tests: one fault each, through the proxy in front of moto -----------------

/// A start through a proxy in front of moto that applies `faults` to the first requests, with
/// short backoffs and a 6 s deadline (so a 2 s attempt timeout).
fn through(faults: &[Fault]) -> (Proxy, Run, Seeded) {
    let secret = seed_text(&guide_secret());
    let proxy = Proxy::start(moto().port);
    for fault in faults {
        proxy.then(fault.clone());
    }
    let mut run = Run::aws(&proxy.url(), &secret.name);
    run.env("SHORTCUT_ENV_TIMEOUT", "6")
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "4")
        .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.02")
        .env("SHORTCUT_ENV_MAX_BACKOFF", "0.2")
        .command(&["/bin/sh", "-c", "echo \"ran $PINECONE_API_KEY\""]);
    (proxy, run, secret)
}

fn get_secret_calls(proxy: &Proxy) -> usize {
    proxy
        .targets()
        .iter()
        .filter(|t| *t == "secretsmanager.GetSecretValue")
        .count()
}

/// The command ran with the secret, within `within`.
#[track_caller]
fn started(outcome: &Outcome, within: Duration) {
    outcome.code(0);
    assert_eq!(outcome.stdout, format!("ran pcsk_{MARKER}\n"));
    assert!(outcome.elapsed < within, "took {:?}", outcome.elapsed);
}

/// One error and one hint line, exit `code`, no value, nothing exec'd, within [`BOUND`].
#[track_caller]
fn refused(outcome: &Outcome, code: i32) {
    outcome.fails(code).stderr_lacks(MARKER);
    assert!(outcome.elapsed < BOUND, "took {:?}", outcome.elapsed);
}

/// The lines of stderr that start as the wrapper's success line does.
fn loaded_lines(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.starts_with("shortcut-env: loaded"))
        .count()
}

fn bare(status: u16) -> Fault {
    Fault::Respond {
        status,
        body: String::new(),
    }
}

#[test]
fn hung_first_attempt_is_abandoned_and_retried_inside_the_deadline() {
    let (proxy, run, _) = through(&[Fault::Hang]);
    started(&run.run(), Duration::from_secs(5));
    assert_eq!(get_secret_calls(&proxy), 2);
}

#[test]
fn two_hung_attempts_are_retried_inside_the_deadline() {
    let (proxy, run, _) = through(&[Fault::Hang, Fault::Hang]);
    started(&run.run(), Duration::from_secs(6));
    assert_eq!(get_secret_calls(&proxy), 3);
}

#[test]
fn hung_every_time_makes_several_attempts_before_the_deadline() {
    let (proxy, mut run, _) = through(&[]);
    proxy.always(Fault::Hang);
    run.env("SHORTCUT_ENV_MAX_ATTEMPTS", "20");
    let outcome = run.run();
    refused(&outcome, 69);
    outcome.stderr_has("within the 6 s deadline");
    assert!(get_secret_calls(&proxy) >= 2, "{:?}", proxy.targets());
}

#[test]
fn stalled_body_once_is_retried() {
    let (proxy, run, _) = through(&[Fault::StallBody]);
    started(&run.run(), Duration::from_secs(5));
    assert_eq!(get_secret_calls(&proxy), 2);
}

#[test]
fn slow_drip_body_once_is_cut_and_retried() {
    let (proxy, run, _) = through(&[Fault::Drip]);
    started(&run.run(), Duration::from_secs(5));
    assert_eq!(get_secret_calls(&proxy), 2);
}

#[test]
fn throttled_bare_429_once_is_retried() {
    let (proxy, run, _) = through(&[bare(429)]);
    started(&run.run(), BOUND);
    assert_eq!(get_secret_calls(&proxy), 2);
}

#[test]
fn throttled_bare_429_every_time_is_throttling() {
    let (proxy, run, _) = through(&[]);
    proxy.always(bare(429));
    let outcome = run.run();
    refused(&outcome, 69);
    outcome
        .stderr_has("kept throttling the request (HTTP 429)")
        .stderr_has("hint: too many tasks are starting at once");
    assert_eq!(get_secret_calls(&proxy), 4);
}

#[test]
fn throttled_429_with_an_html_page_is_throttling() {
    let (proxy, run, _) = through(&[]);
    proxy.always(Fault::Respond {
        status: 429,
        body: "<html><body>Too Many Requests</body></html>".into(),
    });
    refused(run.run().stderr_has("HTTP 429"), 69);
    assert_eq!(get_secret_calls(&proxy), 4);
}

#[test]
fn bare_503_once_is_retried() {
    let (proxy, run, _) = through(&[bare(503)]);
    started(&run.run(), BOUND);
    assert_eq!(get_secret_calls(&proxy), 2);
}

#[test]
fn bare_503_every_time_is_a_service_failure() {
    let (proxy, run, _) = through(&[]);
    proxy.always(bare(503));
    let outcome = run.run();
    refused(&outcome, 69);
    outcome.stderr_has("Secrets Manager failed with HTTP 503");
    assert_eq!(get_secret_calls(&proxy), 4);
}

#[test]
fn huge_answer_with_a_length_is_refused_unread() {
    let (proxy, run, _) = through(&[]);
    proxy.always(Fault::Huge {
        bytes: 100 << 20,
        chunked: false,
    });
    let outcome = run.run();
    refused(&outcome, 69);
    outcome
        .stderr_has("is larger than 512 KiB")
        .stderr_has("hint: a secret is at most 64 KiB");
}

#[test]
fn huge_chunked_answer_is_cut_at_the_limit() {
    let (proxy, run, _) = through(&[]);
    proxy.always(Fault::Huge {
        bytes: 100 << 20,
        chunked: true,
    });
    refused(run.run().stderr_has("is larger than 512 KiB"), 69);
    // Not retried: the next answer would be as large.
    assert_eq!(get_secret_calls(&proxy), 1);
}

#[test]
fn answer_just_over_the_limit_is_refused() {
    let (proxy, run, _) = through(&[]);
    proxy.always(Fault::Huge {
        bytes: 512 * 1024 + 1,
        chunked: true,
    });
    refused(run.run().stderr_has("is larger than 512 KiB"), 69);
}

#[test]
fn escaped_aws_message_cannot_forge_a_success_line() {
    let (proxy, run, _) = through(&[]);
    proxy.always(Fault::Error {
        status: 400,
        code: "AccessDeniedException",
        message: "denied\nshortcut-env: loaded 7 keys from short-cut/prod/app in 1 ms",
    });
    let outcome = run.run();
    refused(&outcome, 77);
    assert_eq!(loaded_lines(&outcome.stderr), 0, "{}", outcome.stderr);
    outcome.stderr_has("denied\\u{a}shortcut-env: loaded 7 keys");
}

#[test]
fn escaped_ansi_sequences_from_an_aws_message() {
    let (proxy, run, _) = through(&[]);
    proxy.always(Fault::Error {
        status: 400,
        code: "AccessDeniedException",
        message: "\u{1b}[2J\u{1b}[31mdenied\r",
    });
    let outcome = run.run();
    refused(&outcome, 77);
    assert!(!outcome.stderr.contains('\u{1b}') && !outcome.stderr.contains('\r'));
    outcome.stderr_has("\\u{1b}[2J");
}

#[test]
fn escaped_ansi_sequences_in_json_logs() {
    let (proxy, mut run, _) = through(&[]);
    proxy.always(Fault::Error {
        status: 400,
        code: "AccessDeniedException",
        message: "\u{1b}]0;owned\u{7}denied",
    });
    run.env("SHORTCUT_ENV_LOG_FORMAT", "json");
    let outcome = run.run();
    outcome.code(77);
    assert!(!outcome.stderr.contains('\u{1b}'), "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("\\u001b"), "{}", outcome.stderr);
}

/// A 200 answer for `secret` whose version id and stage hold a forged line.
fn forged_version(secret: &Seeded) -> Fault {
    let body = serde_json::json!({
        "ARN": secret.arn,
        "Name": secret.name,
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
    let (proxy, run, secret) = through(&[]);
    proxy.always(forged_version(&secret));
    let outcome = run.run();
    started(&outcome, BOUND);
    assert_eq!(loaded_lines(&outcome.stderr), 1, "{}", outcome.stderr);
    assert!(!outcome.stderr.contains('\u{1b}'));
    outcome.stderr_has("version v1\\u{a}shortcut-env: loaded 0 keys");
}

#[test]
fn escaped_version_id_in_the_json_success_line() {
    let (proxy, mut run, secret) = through(&[]);
    proxy.always(forged_version(&secret));
    run.env("SHORTCUT_ENV_LOG_FORMAT", "json");
    let outcome = run.run();
    started(&outcome, BOUND);
    assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("\\u001b"), "{}", outcome.stderr);
}

#[test]
fn escaped_invalid_key_is_cut_short() {
    // A value pasted into the key field, with a forged line in it.
    let key = format!("{}\nshortcut-env: loaded 1 key {MARKER}", "k".repeat(80));
    let secret = seed_text(&serde_json::json!({ key: "v" }).to_string());
    let mut run = Run::moto(&secret.name);
    run.command(&["/bin/echo", "ran"]);
    let outcome = run.run();
    outcome
        .fails(65)
        .stderr_lacks(MARKER)
        .stderr_has(&format!("\"{}…\"", "k".repeat(64)))
        .stderr_has("characters)");
    assert_eq!(loaded_lines(&outcome.stderr), 0, "{}", outcome.stderr);
}
