//! Where the entries come from: Secrets Manager (the only network I/O of the wrapper) or, in
//! local mode, a dotenv file.
//!
//! The async runtime lives only inside [`fetch`]: a current-thread runtime is built, used for
//! the credential chain and one GetSecretValue call, and shut down before we return, so nothing
//! of it survives into `exec`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_secretsmanager::config::{ProvideCredentials, Region};
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use tokio::time::Instant;

use crate::config::AwsSource;
use crate::envmap::{self, Entries, SecretValue, SourceKind};
use crate::error::Error;

/// Connecting to a regional endpoint takes milliseconds; a longer wait means a blackholed
/// route (no NAT, no VPC endpoint), which a retry on a fresh connection may get around.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The SDK's standard retry mode: 3 attempts with jittered exponential backoff.
const MAX_ATTEMPTS: u32 = 3;

/// A secret as Secrets Manager returned it.
#[derive(Debug)]
pub struct Fetched {
    pub version_id: Option<String>,
    pub version_stages: Vec<String>,
    pub entries: Entries,
}

/// Reads one secret with the default credential chain, within `source.timeout` overall.
pub fn fetch(source: &AwsSource) -> Result<Fetched, Error> {
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

async fn fetch_async(source: &AwsSource) -> Result<Fetched, Error> {
    let deadline = Instant::now() + source.timeout;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::tls::http_client(|name| std::env::var_os(name))?)
        .region(Region::new(source.region.clone()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT.min(source.timeout))
                .operation_timeout(source.timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
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

    let client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&config)
            .credentials_provider(credentials)
            .build(),
    );
    let request = client
        .get_secret_value()
        .secret_id(&source.secret_id)
        .set_version_stage(source.version_stage.clone())
        .set_version_id(source.version_id.clone());
    let output = match tokio::time::timeout_at(deadline, request.send()).await {
        Err(_) => return Err(timeout(source)),
        Ok(Err(e)) => return Err(classify(source, failure(&e))),
        Ok(Ok(output)) => output,
    };
    let entries = match (output.secret_string(), output.secret_binary()) {
        (Some(text), _) => envmap::parse_secret(&source.secret_id, text)?,
        (None, Some(_)) => {
            return Err(Error::SecretBinary {
                secret: source.secret_id.clone(),
            });
        }
        (None, None) => {
            return Err(Error::SecretNotObject {
                secret: source.secret_id.clone(),
                found: "the secret has no value".into(),
            });
        }
    };
    Ok(Fetched {
        version_id: output.version_id().map(str::to_string),
        version_stages: output.version_stages().to_vec(),
        entries,
    })
}

fn timeout(source: &AwsSource) -> Error {
    Error::Timeout {
        secret: source.secret_id.clone(),
        seconds: source.timeout.as_secs_f64(),
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

fn failure<E, R>(error: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match error {
        SdkError::ServiceError(_) => Failure::Service {
            code: error.code().unwrap_or("Unknown").to_string(),
            message: error.message().unwrap_or_default().to_string(),
        },
        SdkError::TimeoutError(_) => Failure::Timeout,
        SdkError::DispatchFailure(_) => Failure::Network(one_line(error)),
        SdkError::ResponseError(_) => Failure::Response(None),
        _ => Failure::Other(one_line(error)),
    }
}

/// Maps a failed call to the wrapper's error, by the service's error code (never by HTTP
/// status: Secrets Manager answers 400 for both "not found" and "access denied").
pub fn classify(source: &AwsSource, failure: Failure) -> Error {
    let secret = source.secret_id.clone();
    let region = source.region.clone();
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
        Failure::Timeout => timeout(source),
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

/// Reads a dotenv file for local mode. A missing default `.env` is not an error; a missing file
/// that was asked for is.
pub fn read_env_file(path: &Path, explicit: bool) -> Result<Option<Entries>, Error> {
    let source = path.display().to_string();
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(e) if e.not_found() && !explicit => return Ok(None),
        Err(e) if e.not_found() => {
            return Err(Error::EnvFileMissing {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(env_file_error(path, &e)),
    };
    let mut entries = Entries {
        source,
        kind: SourceKind::DotEnv,
        ..Entries::default()
    };
    for item in iter {
        let (key, value) = item.map_err(|e| env_file_error(path, &e))?;
        if !envmap::is_valid_name(&key) {
            return Err(Error::InvalidKeyName {
                source_name: entries.source,
                key,
            });
        }
        if value.contains('\0') {
            return Err(Error::NulInValue {
                source_name: entries.source,
                key,
            });
        }
        entries.pairs.push((key, SecretValue::new(value)));
    }
    Ok(Some(entries))
}

/// dotenvy's parse error carries the offending line, which may hold a value: report where,
/// never what.
fn env_file_error(path: &Path, error: &dotenvy::Error) -> Error {
    let reason = match error {
        dotenvy::Error::LineParse(line, index) => {
            let line_number = std::fs::read_to_string(path).ok().and_then(|text| {
                text.find(line.as_str())
                    .map(|at| text[..at].lines().count() + 1)
            });
            match line_number {
                Some(n) => format!("syntax error on line {n}, column {}", index + 1),
                None => format!("syntax error at column {}", index + 1),
            }
        }
        dotenvy::Error::Io(e) => e.to_string(),
        dotenvy::Error::EnvVar(e) => e.to_string(),
        _ => "unreadable".into(),
    };
    Error::EnvFileUnreadable {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> AwsSource {
        AwsSource {
            secret_id: "short-cut/prod/app".into(),
            region: "us-east-1".into(),
            version_stage: None,
            version_id: None,
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
