//! Replica-region failover for Secrets Manager (`--failover-region`).
//!
//! A secret replicated to other regions can still be read when its own region is down. When
//! the read in the secret's own region fails with an *outage* — the network, a timeout, a 5xx,
//! throttling that outlasted the retries — the same secret is read from each failover region in
//! turn, until one answers. A refusal or a missing secret (AccessDenied, NotFound, KMS), or data
//! that cannot be used, is an answer and not an outage: a replica would say the same or, worse,
//! serve what the primary refuses, so those end the start as they would without failover.
//!
//! Everything runs inside the one overall deadline: each region gets an equal share of the time
//! that is left when its turn comes, so a hung primary cannot eat the time of its replicas
//! (with one replica and a 30 s deadline the primary gets 15 s; the replica gets whatever the
//! primary left). Without failover regions the one region gets the whole deadline, as before.
//!
//! The decisions here ([`is_outage`], [`regions`], [`secret_id_in`], [`share`]) are pure; the
//! driver, [`read`], takes the call in one region as a closure, so it is tested without a
//! network.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;
use crate::payload::{Failover, Payload};

/// Whether a failure in a secret's own region is one a replica region can fix: the region (or
/// the way to it) is unavailable, not the secret refused or missing. By the error's variant,
/// which the classification of the service's error codes already decided (src/sources/secretsmanager.rs);
/// for a service failure, by its code: only the service's own errors, a bare 5xx and an answer
/// broken on the way count, not an error code nobody knows (it may be a refusal of a new
/// kind, and a replica must never serve what the primary refuses).
pub(crate) fn is_outage(error: &Error) -> bool {
    match error {
        Error::Unreachable { .. }
        | Error::DnsFailure { .. }
        | Error::Timeout { .. }
        | Error::Throttled { .. } => true,
        Error::ServiceFailure { code, .. } => {
            SERVER_ERRORS.contains(&code.as_str())
                || code
                    .strip_prefix("HTTP 5")
                    .is_some_and(|rest| rest.len() == 2)
        }
        _ => false,
    }
}

/// The error codes of a failure on the service's side (HTTP 5xx), and the code the wrapper
/// gives an answer that could not be read (cut off, not JSON).
const SERVER_ERRORS: &[&str] = &[
    "InternalServiceError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "UnreadableResponse",
];

/// The regions to read a secret from, in order: its own, then each failover region that is
/// not its own.
pub(crate) fn regions(own: &str, failover: &[String]) -> Vec<String> {
    let mut regions = vec![own.to_string()];
    regions.extend(failover.iter().filter(|r| *r != own).cloned());
    regions
}

/// The secret id to ask `region` for. A replica keeps the secret's name, so a name is asked
/// for as it is; a replica's ARN is the primary's with the region replaced
/// (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX`).
pub(crate) fn secret_id_in(secret_id: &str, region: &str) -> String {
    let fields: Vec<&str> = secret_id.split(':').collect();
    match fields.as_slice() {
        ["arn", partition, service, _, rest @ ..] if !rest.is_empty() => {
            let mut replaced = vec!["arn", partition, service, region];
            replaced.extend_from_slice(rest);
            replaced.join(":")
        }
        _ => secret_id.to_string(),
    }
}

/// The time the next region gets: an equal share of what is `left`, among the `remaining`
/// regions (this one included).
pub(crate) fn share(left: Duration, remaining: usize) -> Duration {
    match u32::try_from(remaining.max(1)) {
        Ok(n) => left / n,
        Err(_) => Duration::ZERO,
    }
}

/// The time a read that must end at `until` is given, as its messages state it: the whole
/// `timeout` when it may run to the `deadline` (always, without failover), else its share of
/// it, to a tenth of a second.
pub(crate) fn allowed(until: Instant, deadline: Instant, timeout: Duration) -> Duration {
    if until >= deadline {
        return timeout;
    }
    let share = until.saturating_duration_since(Instant::now());
    let tenths = (share.as_millis() + 50) / 100;
    Duration::from_millis(u64::try_from(tenths * 100).unwrap_or(0))
}

/// Reads `secret` from `regions` in order (the first is its own, each with its client)
/// within `deadline` (`timeout` long), failing over as described in the module's
/// documentation. `attempt(region, client, until)` reads it in one region and must give up at
/// `until`. With a single region, its result is returned as it is.
pub(crate) async fn read<C, F, Fut>(
    secret: &str,
    regions: Vec<(String, C)>,
    timeout: Duration,
    deadline: Instant,
    mut attempt: F,
) -> Result<Payload, Error>
where
    F: FnMut(String, C, Instant) -> Fut,
    Fut: Future<Output = Result<Payload, Error>>,
{
    let count = regions.len();
    let mut failures: Vec<(String, Error)> = Vec::new();
    for (index, (region, client)) in regions.into_iter().enumerate() {
        let now = Instant::now();
        let until = now + share(deadline.saturating_duration_since(now), count - index);
        match attempt(region.clone(), client, until).await {
            Ok(mut fetched) => {
                if let (Some((from, _)), Payload::Secret { failover, .. }) =
                    (failures.first(), &mut fetched)
                {
                    *failover = Some(Failover {
                        from: from.clone(),
                        failures: failures
                            .iter()
                            .map(|(region, error)| (region.clone(), error.to_string()))
                            .collect(),
                    });
                }
                return Ok(fetched);
            }
            // An answer, not an outage (or no replica to ask): as without failover.
            Err(error) if count == 1 || (index == 0 && !is_outage(&error)) => return Err(error),
            Err(error) => failures.push((region, error)),
        }
    }
    Err(Error::FailoverExhausted {
        secret: secret.to_string(),
        seconds: timeout.as_secs_f64(),
        failures: failures
            .iter()
            .map(|(region, error)| format!("{region}: {error}"))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::failover_warning as warning;
    use std::cell::RefCell;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn fetched(region: &str) -> Payload {
        Payload::Secret {
            reference: crate::reference::parse("short-cut/prod/app").unwrap(),
            region: region.into(),
            text: Some("{}".into()),
            binary: None,
            version_id: None,
            version_stages: Vec::new(),
            failover: None,
        }
    }

    fn region_of(payload: &Payload) -> &str {
        match payload {
            Payload::Secret { region, .. } | Payload::Parameter { region, .. } => region,
            Payload::DotEnv { .. } => "",
        }
    }

    fn failover_of(payload: &Payload) -> Option<&Failover> {
        match payload {
            Payload::Secret { failover, .. } => failover.as_ref(),
            Payload::Parameter { .. } | Payload::DotEnv { .. } => None,
        }
    }

    fn unreachable(region: &str) -> Error {
        Error::Unreachable {
            region: region.into(),
            detail: "connection refused".into(),
        }
    }

    fn denied() -> Error {
        Error::AccessDenied {
            secret: "short-cut/prod/app".into(),
            detail: "AccessDeniedException".into(),
        }
    }

    /// Runs [`read`] over `regions` with `answer(region)` as the call; returns its result and
    /// the regions asked, in order.
    fn run(
        regions: &[&str],
        answer: impl Fn(&str) -> Result<Payload, Error>,
    ) -> (Result<Payload, Error>, Vec<String>) {
        let asked = RefCell::new(Vec::new());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let regions = regions.iter().map(|r| (r.to_string(), ())).collect();
        let result = runtime.block_on(read(
            "short-cut/prod/app",
            regions,
            secs(6),
            Instant::now() + secs(6),
            |region: String, (), _until| {
                asked.borrow_mut().push(region.clone());
                let result = answer(&region);
                async move { result }
            },
        ));
        (result, asked.into_inner())
    }

    #[test]
    fn outages_are_what_a_replica_can_fix() {
        let outages = [
            unreachable("us-east-1"),
            Error::DnsFailure {
                region: "us-east-1".into(),
                detail: "dns error".into(),
            },
            Error::Timeout {
                secret: "s".into(),
                seconds: 3.0,
            },
            Error::Throttled {
                code: "ThrottlingException".into(),
            },
            Error::ServiceFailure {
                code: "HTTP 503".into(),
                detail: "an answer without an error code".into(),
            },
            Error::ServiceFailure {
                code: "InternalServiceError".into(),
                detail: "An internal error occurred".into(),
            },
            Error::ServiceFailure {
                code: "UnreadableResponse".into(),
                detail: "the answer could not be parsed".into(),
            },
        ];
        for error in outages {
            assert!(is_outage(&error), "{error:?}");
        }
    }

    #[test]
    fn answers_are_not_outages() {
        let answers = [
            denied(),
            Error::SecretNotFound {
                secret: "s".into(),
                region: "us-east-1".into(),
                detail: "ResourceNotFoundException".into(),
            },
            Error::VersionNotFound {
                secret: "s".into(),
                region: "us-east-1".into(),
                version: "stage AWSPREVIOUS".into(),
                detail: "d".into(),
            },
            Error::KmsDecryptionFailed {
                secret: "s".into(),
                detail: "DecryptionFailure".into(),
            },
            Error::CredentialsRejected {
                code: "ExpiredTokenException".into(),
                detail: "d".into(),
            },
            Error::RequestRejected {
                secret: "s".into(),
                detail: "InvalidParameterException".into(),
            },
            Error::SecretNotObject {
                secret: "s".into(),
                found: "an array".into(),
            },
            Error::AnswerTooLarge {
                secret: "s".into(),
                limit_kib: 512,
            },
            Error::ServiceFailure {
                code: "SomethingNew".into(),
                detail: "an error code nobody knows".into(),
            },
            Error::ServiceFailure {
                code: "ClientError".into(),
                detail: "a fetch task failed".into(),
            },
        ];
        for error in answers {
            assert!(!is_outage(&error), "{error:?}");
        }
    }

    #[test]
    fn regions_start_with_the_secrets_own_and_skip_it_in_the_list() {
        let failover = ["eu-west-1".to_string(), "us-west-2".to_string()];
        assert_eq!(regions("us-west-2", &failover), ["us-west-2", "eu-west-1"]);
        assert_eq!(regions("us-east-1", &[]), ["us-east-1"]);
    }

    #[test]
    fn an_arn_gets_the_replicas_region_and_a_name_stays() {
        let arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:short-cut/prod/app-AbCdEf";
        assert_eq!(
            secret_id_in(arn, "eu-west-1"),
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:short-cut/prod/app-AbCdEf"
        );
        assert_eq!(
            secret_id_in("short-cut/prod/app", "eu-west-1"),
            "short-cut/prod/app"
        );
    }

    #[test]
    fn each_region_gets_an_equal_share_of_what_is_left() {
        assert_eq!(share(secs(30), 1), secs(30));
        assert_eq!(share(secs(30), 2), secs(15));
        assert_eq!(share(secs(30), 3), secs(10));
        assert_eq!(share(secs(30), 0), secs(30));
    }

    #[test]
    fn the_time_allowed_is_the_deadline_or_a_rounded_share() {
        let now = Instant::now();
        let deadline = now + secs(30);
        assert_eq!(allowed(deadline, deadline, secs(30)), secs(30));
        let share = allowed(now + Duration::from_millis(14_990), deadline, secs(30));
        assert!(
            share == secs(15) || share == Duration::from_millis(14_900),
            "{share:?}"
        );
    }

    #[test]
    fn an_outage_of_the_primary_reads_the_replica() {
        let (result, asked) = run(&["us-east-1", "eu-west-1"], |region| match region {
            "us-east-1" => Err(unreachable(region)),
            _ => Ok(fetched(region)),
        });
        let fetched = result.unwrap();
        assert_eq!(asked, ["us-east-1", "eu-west-1"]);
        assert_eq!(region_of(&fetched), "eu-west-1");
        let failover = failover_of(&fetched).cloned().unwrap();
        assert_eq!(failover.from, "us-east-1");
        let warning = warning(&fetched).unwrap();
        assert!(
            warning.contains("replica in eu-west-1") && warning.contains("connection refused"),
            "{warning}"
        );
    }

    #[test]
    fn access_denied_in_the_primary_asks_no_replica() {
        let (result, asked) = run(&["us-east-1", "eu-west-1"], |_| Err(denied()));
        assert_eq!(result.unwrap_err().kind(), "access-denied");
        assert_eq!(asked, ["us-east-1"]);
    }

    #[test]
    fn a_healthy_primary_asks_no_replica_and_warns_nothing() {
        let (result, asked) = run(&["us-east-1", "eu-west-1"], |r| Ok(fetched(r)));
        let fetched = result.unwrap();
        assert_eq!(asked, ["us-east-1"]);
        assert!(failover_of(&fetched).is_none() && warning(&fetched).is_none());
    }

    #[test]
    fn every_region_down_is_69_naming_each() {
        let (result, asked) = run(
            &["us-east-1", "eu-west-1", "us-west-2"],
            |region| match region {
                "eu-west-1" => Err(Error::SecretNotFound {
                    secret: "short-cut/prod/app".into(),
                    region: region.into(),
                    detail: "not replicated".into(),
                }),
                _ => Err(unreachable(region)),
            },
        );
        let error = result.unwrap_err();
        assert_eq!(asked, ["us-east-1", "eu-west-1", "us-west-2"]);
        assert_eq!(
            (error.kind().as_str(), error.exit_code()),
            ("failover-exhausted", 69)
        );
        let text = error.to_string();
        for needle in [
            "us-east-1: could not reach",
            "eu-west-1: secret",
            "us-west-2:",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }

    #[test]
    fn without_failover_regions_the_error_is_unchanged() {
        let (result, _) = run(&["us-east-1"], |region| Err(unreachable(region)));
        assert_eq!(result.unwrap_err().kind(), "unreachable");
    }
}
