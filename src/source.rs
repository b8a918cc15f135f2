//! Where the entries come from: Secrets Manager (the only network I/O of the wrapper) or, in
//! local mode, a dotenv file.
//!
//! The async runtime lives only inside [`fetch`]: a current-thread runtime is built, used for
//! the credential chain and one GetSecretValue call per secret, and shut down before we return, so nothing
//! of it survives into `exec`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_secretsmanager::config::{
    ConfigBag, Intercept, ProvideCredentials, Region, RuntimeComponents,
};
use aws_sdk_secretsmanager::error::BoxError;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use tokio::time::Instant;

use crate::config::{AwsSource, Retry, RetryMode};
use crate::envmap::{self, Entries, SecretValue, SourceKind};
use crate::error::Error;
use crate::reference::Reference;

/// How long past the deadline the wait for the calls may go before giving up on them.
const BACKSTOP: Duration = Duration::from_millis(500);

/// Remembers how the latest attempt of a call failed, so that a deadline that fires while the
/// SDK is still retrying can say what the attempts were failing with (throttling when a fleet
/// starts at once, a refused connection, an untrusted certificate) instead of only "too slow".
#[derive(Debug, Clone, Default)]
struct LastAttempt(Arc<Mutex<Option<Failure>>>);

impl LastAttempt {
    fn failure(&self) -> Option<Failure> {
        self.0.lock().ok().and_then(|failure| failure.clone())
    }
}

impl Intercept for LastAttempt {
    fn name(&self) -> &'static str {
        "LastAttempt"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let failure = match context.output_or_error() {
            Some(Err(error)) => {
                let service = error
                    .as_operation_error()
                    .and_then(|e| e.downcast_ref::<GetSecretValueError>())
                    .and_then(|e| e.code().map(str::to_string));
                match (service, error.as_connector_error()) {
                    (Some(code), _) => Some(Failure::Service {
                        code,
                        message: String::new(),
                    }),
                    (None, Some(e)) if e.is_timeout() => Some(Failure::Timeout),
                    (None, Some(e)) => Some(Failure::Network(one_line(e))),
                    (None, None) => None,
                }
            }
            _ => None,
        };
        if let Ok(mut last) = self.0.lock() {
            *last = failure;
        }
        Ok(())
    }
}

/// A secret as Secrets Manager returned it, turned into entries by its reference.
#[derive(Debug)]
pub struct Fetched {
    /// The secret id as configured (name or ARN).
    pub secret: String,
    pub version_id: Option<String>,
    pub version_stages: Vec<String>,
    pub entries: Entries,
}

/// The secret a call is about, for error messages.
#[derive(Debug, Clone)]
pub struct Target {
    pub secret: String,
    pub region: String,
    pub timeout: Duration,
}

/// Reads every secret of `source` with the default credential chain, within `source.timeout`
/// overall: one GetSecretValue per secret, concurrently. (BatchGetSecretValue would save calls
/// for many secrets, but it needs `secretsmanager:BatchGetSecretValue` on `Resource: "*"`;
/// separate calls keep the task role's policy scoped to each secret's ARN.)
pub fn fetch(source: &AwsSource) -> Result<Vec<Fetched>, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unreachable {
            region: source.region.clone(),
            detail: format!("could not start the I/O runtime: {e}"),
        })?;
    let result = runtime.block_on(fetch_async(source));
    // Blocking DNS lookups may still be running on helper threads; do not wait for them.
    runtime.shutdown_background();
    result
}

async fn fetch_async(source: &AwsSource) -> Result<Vec<Fetched>, Error> {
    let deadline = Instant::now() + source.timeout;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::tls::http_client_with(
            &crate::tls::roots(&source.tls)?,
            source.retry.connect_timeout.min(source.timeout),
        )?)
        .region(Region::new(source.region.clone()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(source.retry.connect_timeout.min(source.timeout))
                .operation_timeout(source.timeout)
                .build(),
        )
        .retry_config(retry_config(&source.retry))
        .load()
        .await;

    // Credentials are resolved here rather than inside the call, so that a failure of the chain
    // is reported as what it is (77, with a credentials hint) and not as a dispatch failure.
    let provider = config
        .credentials_provider()
        .ok_or_else(|| Error::NoCredentials("no credential provider is configured".into()))?;
    let credentials = match tokio::time::timeout_at(deadline, provider.provide_credentials()).await
    {
        Err(_) => {
            return Err(Error::NoCredentials(format!(
                "the credential chain found none within {} s (on a machine outside AWS, set \
                 AWS_EC2_METADATA_DISABLED=true to skip the instance metadata probe)",
                source.timeout.as_secs_f64()
            )));
        }
        Ok(Err(e)) => return Err(credentials_error(&e)),
        Ok(Ok(credentials)) => credentials,
    };
    if let Some(expiry) = credentials.expiry()
        && expiry <= SystemTime::now()
    {
        return Err(Error::CredentialsRejected {
            code: "ExpiredCredentials".into(),
            detail: "the credential provider returned credentials that have already expired".into(),
        });
    }

    // One client per region (secrets given by ARN may live in several), all sharing the
    // resolved credentials.
    let mut clients: Vec<(String, aws_sdk_secretsmanager::Client)> = Vec::new();
    let mut calls = tokio::task::JoinSet::new();
    for (index, reference) in source.secrets.iter().enumerate() {
        let region = reference
            .region
            .clone()
            .unwrap_or_else(|| source.region.clone());
        let client = match clients.iter().find(|(r, _)| *r == region) {
            Some((_, client)) => client.clone(),
            None => {
                let client = aws_sdk_secretsmanager::Client::from_conf(
                    aws_sdk_secretsmanager::config::Builder::from(&config)
                        .region(Region::new(region.clone()))
                        .credentials_provider(credentials.clone())
                        .build(),
                );
                clients.push((region.clone(), client.clone()));
                client
            }
        };
        let target = Target {
            secret: reference.secret_id.clone(),
            region,
            timeout: source.timeout,
        };
        let reference = reference.clone();
        calls.spawn(async move {
            let result = get_secret(client, target, reference, deadline).await;
            (index, result)
        });
    }
    let mut results: Vec<Option<Result<Fetched, Error>>> = std::iter::repeat_with(|| None)
        .take(source.secrets.len())
        .collect();
    loop {
        // Each call stops itself at the deadline; this is only a backstop.
        match tokio::time::timeout_at(deadline + BACKSTOP, calls.join_next()).await {
            Ok(None) => break,
            Ok(Some(Ok((index, result)))) => results[index] = Some(result),
            Ok(Some(Err(join_error))) => {
                return Err(Error::ServiceFailure {
                    code: "ClientError".into(),
                    detail: format!("a fetch task failed: {join_error}"),
                });
            }
            Err(_) => {
                let pending: Vec<&str> = source
                    .secrets
                    .iter()
                    .zip(&results)
                    .filter(|(_, r)| r.is_none())
                    .map(|(s, _)| s.secret_id.as_str())
                    .collect();
                return Err(Error::Timeout {
                    secret: pending.join(", "),
                    seconds: source.timeout.as_secs_f64(),
                });
            }
        }
    }
    // The first failure in configuration order, so that the report does not depend on timing.
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(Error::ServiceFailure {
                    code: "ClientError".into(),
                    detail: "a fetch task did not report".into(),
                })
            })
        })
        .collect()
}

/// One GetSecretValue call, and the entries its reference selects.
async fn get_secret(
    client: aws_sdk_secretsmanager::Client,
    target: Target,
    reference: Reference,
    deadline: Instant,
) -> Result<Fetched, Error> {
    let last_attempt = LastAttempt::default();
    let call = client
        .get_secret_value()
        .secret_id(&reference.secret_id)
        .set_version_stage(reference.version_stage.clone())
        .set_version_id(reference.version_id.clone())
        .customize()
        .interceptor(last_attempt.clone())
        .send();
    let output = match tokio::time::timeout_at(deadline, call).await {
        Ok(result) => result.map_err(|e| classify(&target, failure(&e)))?,
        // Retries were still going: report what the attempts were failing with, if they
        // failed rather than hung, and that the deadline ended them.
        Err(_) => {
            let still = format!(
                "still failing when the {} s deadline passed",
                target.timeout.as_secs_f64()
            );
            return Err(match last_attempt.failure() {
                Some(Failure::Service { code, .. }) => classify(
                    &target,
                    Failure::Service {
                        code,
                        message: still,
                    },
                ),
                Some(Failure::Network(detail)) => {
                    classify(&target, Failure::Network(format!("{detail} ({still})")))
                }
                _ => timeout(&target),
            });
        }
    };
    let secret = target.secret;
    let text = match (output.secret_string(), output.secret_binary()) {
        (Some(text), _) => text,
        // A binary secret can only be exported whole, as text, under a name of its own.
        (None, Some(blob)) => match (&reference.target, &reference.json_key) {
            (Some(_), None) => {
                std::str::from_utf8(blob.as_ref()).map_err(|_| Error::SecretBinary {
                    secret: secret.clone(),
                })?
            }
            _ => return Err(Error::SecretBinary { secret }),
        },
        (None, None) => {
            return Err(Error::SecretNotObject {
                secret,
                found: "the secret has no value".into(),
            });
        }
    };
    let entries = envmap::select(&reference, &secret, text)?;
    Ok(Fetched {
        version_id: output.version_id().map(str::to_string),
        version_stages: output.version_stages().to_vec(),
        entries,
        secret,
    })
}

fn retry_config(retry: &Retry) -> RetryConfig {
    let config = match retry.mode {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    };
    config
        .with_max_attempts(retry.max_attempts)
        .with_initial_backoff(retry.initial_backoff)
        .with_max_backoff(retry.max_backoff)
}

fn timeout(target: &Target) -> Error {
    Error::Timeout {
        secret: target.secret.clone(),
        seconds: target.timeout.as_secs_f64(),
    }
}

fn credentials_error(error: &CredentialsError) -> Error {
    Error::NoCredentials(one_line(error))
}

/// An error and its sources as one line: `a: b: c`, skipping a source whose text the previous
/// one already contains. (The SDK's `DisplayErrorContext` appends a `Debug` dump, too noisy for
/// a log line.)
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    let lines: Vec<&str> = text
        .split('\n')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    lines.join("; ").replace(":; ", ": ")
}

/// What went wrong with the call, reduced to what classification needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The service answered with an error code.
    Service { code: String, message: String },
    /// The SDK's own timeout fired.
    Timeout,
    /// Connecting, TLS or I/O failed.
    Network(String),
    /// The answer could not be read. Its content is not kept: it might hold secret text.
    Response(Option<u16>),
    /// Anything else the SDK reports.
    Other(String),
}

fn failure<E>(error: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(context) => match error.code() {
            Some(code) => Failure::Service {
                code: code.to_string(),
                message: error.message().unwrap_or_default().to_string(),
            },
            // No error code: not the service speaking (a proxy's page, a body that is not
            // JSON). Its text is not kept.
            None => Failure::Response(Some(context.raw().status().as_u16())),
        },
        SdkError::TimeoutError(_) => Failure::Timeout,
        SdkError::DispatchFailure(_) => Failure::Network(one_line(error)),
        SdkError::ResponseError(_) => Failure::Response(None),
        _ => Failure::Other(one_line(error)),
    }
}

/// Maps a failed call to the wrapper's error, by the service's error code (never by HTTP
/// status: Secrets Manager answers 400 for both "not found" and "access denied").
pub fn classify(target: &Target, failure: Failure) -> Error {
    let secret = target.secret.clone();
    let region = target.region.clone();
    match failure {
        Failure::Service { code, message } => {
            let detail = if message.is_empty() {
                code.clone()
            } else {
                format!("{code}: {message}")
            };
            match code.as_str() {
                "ResourceNotFoundException" => Error::SecretNotFound {
                    secret,
                    region,
                    detail,
                },
                // A secret scheduled for deletion cannot be read: for the operator it is gone.
                "InvalidRequestException" => Error::SecretNotFound {
                    secret,
                    region,
                    detail,
                },
                "InvalidParameterException" => Error::RequestRejected { secret, detail },
                "AccessDeniedException" if message.contains("KMS") => {
                    Error::KmsDecryptionFailed { secret, detail }
                }
                "AccessDeniedException" => Error::AccessDenied { secret, detail },
                "DecryptionFailure"
                | "KMSAccessDeniedException"
                | "KMSDisabledException"
                | "KMSInvalidStateException" => Error::KmsDecryptionFailed { secret, detail },
                "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "IncompleteSignature"
                | "SignatureDoesNotMatch"
                | "InvalidClientTokenId"
                | "MissingAuthenticationToken"
                | "ExpiredTokenException"
                | "ExpiredToken"
                | "RequestExpired" => Error::CredentialsRejected {
                    code,
                    detail: message,
                },
                "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "LimitExceededException" => Error::Throttled { code },
                _ => Error::ServiceFailure {
                    code,
                    detail: message,
                },
            }
        }
        Failure::Timeout => timeout(target),
        Failure::Network(detail) => Error::Unreachable { region, detail },
        Failure::Response(status) => Error::ServiceFailure {
            code: "UnreadableResponse".into(),
            detail: match status {
                Some(status) => format!("the answer (HTTP {status}) could not be parsed"),
                None => "the answer could not be parsed".into(),
            },
        },
        Failure::Other(detail) => Error::ServiceFailure {
            code: "ClientError".into(),
            detail,
        },
    }
}

/// The largest env file read: far beyond any real `.env`, small enough that `/dev/zero` or a
/// log file given by mistake fails at once instead of filling memory.
pub const MAX_ENV_FILE: u64 = 1024 * 1024;

/// Reads a dotenv file for local mode. A missing default `.env` is not an error; a missing file
/// that was asked for is. Only a regular file of at most [`MAX_ENV_FILE`] bytes is read: it is
/// opened without blocking (a FIFO with no writer would wait forever) and checked on the open
/// descriptor, so what is checked is what is read.
pub fn read_env_file(path: &Path, explicit: bool) -> Result<Option<Entries>, Error> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;

    let refused = |reason: String| Error::EnvFileRefused {
        path: path.to_path_buf(),
        reason,
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::EnvFileMissing {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(unreadable(path, e.to_string())),
    };
    let metadata = file
        .metadata()
        .map_err(|e| unreadable(path, e.to_string()))?;
    if !metadata.is_file() {
        return Err(refused(format!(
            "it is {}, not a regular file",
            file_kind(&metadata)
        )));
    }
    let too_large = || refused(format!("it is larger than {MAX_ENV_FILE} bytes"));
    if metadata.len() > MAX_ENV_FILE {
        return Err(too_large());
    }
    // The size can change between the check and the read: the read is bounded too.
    let mut bytes = Vec::new();
    file.take(MAX_ENV_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(path, e.to_string()))?;
    if bytes.len() as u64 > MAX_ENV_FILE {
        return Err(too_large());
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        unreadable(
            path,
            format!("not UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
        )
    })?;
    let mut entries = Entries {
        source: path.display().to_string(),
        kind: SourceKind::DotEnv,
        ..Entries::default()
    };
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        // Names and values are checked by `envmap::build`, as for a secret.
        let (key, value) = item.map_err(|e| env_file_error(path, &text, &e))?;
        entries.pairs.push((key, SecretValue::new(value)));
    }
    Ok(Some(entries))
}

/// What a non-regular file is, for the message.
fn file_kind(metadata: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "something else"
    }
}

fn unreadable(path: &Path, reason: String) -> Error {
    Error::EnvFileUnreadable {
        path: path.to_path_buf(),
        reason,
    }
}

/// dotenvy's parse error carries the offending line, which may hold a value: report where,
/// never what.
fn env_file_error(path: &Path, text: &str, error: &dotenvy::Error) -> Error {
    let reason = match error {
        dotenvy::Error::LineParse(line, index) => {
            let line_number = text
                .find(line.as_str())
                .map(|at| text[..at].lines().count() + 1);
            match line_number {
                Some(n) => format!("syntax error on line {n}, column {}", index + 1),
                None => format!("syntax error at column {}", index + 1),
            }
        }
        dotenvy::Error::Io(e) => e.to_string(),
        dotenvy::Error::EnvVar(e) => e.to_string(),
        _ => "unreadable".into(),
    };
    unreadable(path, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Target {
        Target {
            secret: "short-cut/prod/app".into(),
            region: "us-east-1".into(),
            timeout: Duration::from_secs(5),
        }
    }

    fn service(code: &str, message: &str) -> Failure {
        Failure::Service {
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn failures_are_classified_by_error_code() {
        let cases = [
            (
                service("ResourceNotFoundException", "no such secret"),
                "secret-not-found",
                66,
            ),
            (
                service("InvalidRequestException", "marked for deletion"),
                "secret-not-found",
                66,
            ),
            (
                service("InvalidParameterException", "bad version id"),
                "request-rejected",
                78,
            ),
            (
                service("AccessDeniedException", "not authorized"),
                "access-denied",
                77,
            ),
            (
                service("AccessDeniedException", "Access to KMS is not allowed"),
                "kms-decryption-failed",
                77,
            ),
            (
                service("DecryptionFailure", "key disabled"),
                "kms-decryption-failed",
                77,
            ),
            (
                service("UnrecognizedClientException", "bad token"),
                "credentials-rejected",
                77,
            ),
            (
                service("ExpiredTokenException", "expired"),
                "credentials-rejected",
                77,
            ),
            (
                service("ThrottlingException", "Rate exceeded"),
                "throttled",
                69,
            ),
            (
                service("InternalServiceError", "oops"),
                "service-failure",
                69,
            ),
            (service("SomethingNew", ""), "service-failure", 69),
            (Failure::Timeout, "timeout", 69),
            (
                Failure::Network("connection refused".into()),
                "unreachable",
                69,
            ),
            (Failure::Response(Some(200)), "service-failure", 69),
            (Failure::Other("x".into()), "service-failure", 69),
        ];
        for (failure, kind, code) in cases {
            let error = classify(&source(), failure.clone());
            assert_eq!(
                (error.kind(), error.exit_code()),
                (kind, code),
                "{failure:?}"
            );
        }
    }

    #[test]
    fn not_found_names_the_secret_and_region() {
        let error = classify(&source(), service("ResourceNotFoundException", "gone"));
        let text = error.to_string();
        assert!(
            text.contains("short-cut/prod/app") && text.contains("us-east-1"),
            "{text}"
        );
    }

    #[test]
    fn env_files_are_read_in_order_and_errors_hide_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "A=1\n# comment\nB='two words'\nexport C=\"x\\ny\"\n").unwrap();
        let entries = read_env_file(&path, true).unwrap().unwrap();
        let pairs: Vec<(&str, &str)> = entries
            .pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        assert_eq!(pairs, [("A", "1"), ("B", "two words"), ("C", "x\ny")]);

        std::fs::write(&path, "A=1\nB hunter2-marker\n").unwrap();
        let error = read_env_file(&path, true).unwrap_err();
        assert_eq!(error.exit_code(), 78);
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(error.to_string().contains("line 2"), "{error}");

        assert!(
            read_env_file(&dir.path().join("absent"), false)
                .unwrap()
                .is_none()
        );
        let error = read_env_file(&dir.path().join("absent"), true).unwrap_err();
        assert_eq!(error.kind(), "env-file-missing");
    }
}
