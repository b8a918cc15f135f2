//! SSM Parameter Store as a source: `ssm:NAME`, `ssm:NAME:VERSION|LABEL`, a parameter's ARN,
//! and `ssm:/PATH/` (see [`crate::reference`]).
//!
//! - Single parameters are read with GetParameters, at most [`BATCH`] names a call, the calls
//!   concurrent: 25 references cost 3 calls, not 25 (secrets-init's one call per variable is
//!   what gets fleets throttled on Parameter Store's shared quota). Never DescribeParameters.
//! - A path is read with GetParametersByPath, paged until there is no NextToken (pages may be
//!   short, even empty, before the end).
//! - SecureStrings are always decrypted (WithDecryption): a ciphertext in the environment is
//!   never what the application wants.
//! - Every call goes through the client configuration of [`crate::source`]: the one HTTPS
//!   client, the resolved credentials, the retry policy, the per-attempt timeout, the bound on
//!   an answer's size and the one overall deadline.
//!
//! It returns raw payloads (`Payload::Parameter`); turning them into entries is the core's
//! (`payload::entries`, `payload::path_parameters`). Splitting the names into calls
//! ([`batches`]) and classifying failures are pure too; only [`fetch`] does I/O.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_ssm::config::Region;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::interceptors::context::Error as OperationError;
use tokio::time::Instant;

use crate::envmap::SecretValue;
use crate::error::Error;
use crate::payload::{self, Payload, RawParameter};
use crate::reference::{Parameter, Reference};
use crate::sources::secretsmanager::{
    self, BoundedAnswer, Failure, LastAttempt, MAX_ANSWER_BYTES, Target, TooManyRequests,
};

/// GetParameters' limit on names per call.
pub(crate) const BATCH: usize = 10;

/// GetParametersByPath's largest page.
const PAGE: i32 = 10;

/// The most pages read under one path: 100,000 parameters, Parameter Store's limit per account
/// and region. An endpoint that always answers with a NextToken stops here, not at the deadline.
const MAX_PAGES: usize = 10_000;

/// The most parameter text (names and values) read under one path: more than any environment
/// can hold (the kernel's limit for all of it is at most 6 MiB), so an endpoint that never
/// stops sending cannot fill memory before the deadline.
const MAX_PATH_BYTES: usize = 8 << 20;

/// Splits the distinct single-parameter requests into GetParameters calls of at most
/// [`BATCH`] names, first fit, in order. No call asks for one name twice (`/a:1` and `/a:2`):
/// an answer names its parameter without the selector, so within a call the name alone tells
/// which request it answers.
pub(crate) fn batches(parameters: &[&Parameter]) -> Vec<Vec<Parameter>> {
    let mut calls: Vec<Vec<Parameter>> = Vec::new();
    for parameter in parameters {
        if calls.iter().flatten().any(|p| p == *parameter) {
            continue;
        }
        match calls
            .iter_mut()
            .find(|call| call.len() < BATCH && !call.iter().any(|p| p.name == parameter.name))
        {
            Some(call) => call.push((*parameter).clone()),
            None => calls.push(vec![(*parameter).clone()]),
        }
    }
    calls
}

/// Whether a parameter of an answer (its `Name` and `ARN`) is the one `requested` (a name or
/// an ARN) asks for. Asked for by ARN, Parameter Store answers with the ARN or the plain name.
fn answers(requested: &str, name: &str, arn: Option<&str>) -> bool {
    if requested == name || arn == Some(requested) {
        return true;
    }
    // `arn:…:parameter/a/b` is `/a/b`; `arn:…:parameter/a` is `a`.
    match requested.split_once(":parameter/") {
        Some((_, rest)) if rest.contains('/') => name.strip_prefix('/') == Some(rest),
        Some((_, rest)) => name == rest,
        None => false,
    }
}

/// The type as shown: only the three Parameter Store knows.
fn kind_of(kind: Option<&aws_sdk_ssm::types::ParameterType>) -> &'static str {
    use aws_sdk_ssm::types::ParameterType;
    match kind {
        Some(ParameterType::String) => "String",
        Some(ParameterType::StringList) => "StringList",
        Some(ParameterType::SecureString) => "SecureString",
        _ => "unknown type",
    }
}

fn raw(parameter: &aws_sdk_ssm::types::Parameter) -> Option<RawParameter> {
    Some(RawParameter {
        name: parameter.name()?.to_string(),
        value: SecretValue::new(parameter.value().unwrap_or_default().to_string()),
        version: parameter.version(),
        kind: kind_of(parameter.r#type()),
    })
}

/// The error code of a failed Parameter Store call, for [`LastAttempt`].
pub(crate) fn service_code(error: &OperationError) -> Option<String> {
    use aws_sdk_ssm::operation::get_parameters::GetParametersError;
    use aws_sdk_ssm::operation::get_parameters_by_path::GetParametersByPathError;
    error
        .downcast_ref::<GetParametersError>()
        .and_then(|e| e.code())
        .or_else(|| {
            error
                .downcast_ref::<GetParametersByPathError>()
                .and_then(|e| e.code())
        })
        .map(str::to_string)
}

/// How one call failed, kept cloneable so that every reference a failed call was for can be
/// given its own error.
#[derive(Debug, Clone)]
enum CallError {
    TooLarge,
    Failed(Failure),
    /// The deadline passed; how the latest attempt had failed, if it had.
    Deadline(Option<Failure>),
}

/// What a call was for, for its error.
struct About<'a> {
    parameters: &'a str,
    region: &'a str,
    timeout: Duration,
}

/// The wrapper's error for a failed call, by Parameter Store's error code.
fn classify(error: CallError, about: &About) -> Error {
    let parameters = about.parameters.to_string();
    let region = about.region.to_string();
    let unavailable = |detail: String| Error::ParameterStoreUnavailable {
        region: region.clone(),
        parameters: parameters.clone(),
        detail,
    };
    let timeout = || Error::Timeout {
        secret: parameters.clone(),
        seconds: about.timeout.as_secs_f64(),
    };
    let failure = match error {
        CallError::TooLarge => {
            return Error::AnswerTooLarge {
                secret: parameters,
                limit_kib: MAX_ANSWER_BYTES / 1024,
            };
        }
        CallError::Failed(failure) => failure,
        CallError::Deadline(last) => match Failure::at_deadline(last, about.timeout) {
            Some(failure) => failure,
            None => return timeout(),
        },
    };
    match failure {
        Failure::Service { code, message } => {
            let detail = Failure::service_detail(&code, &message);
            let kms = message.contains("KMS") || message.contains("kms:");
            match code.as_str() {
                "ParameterNotFound" | "ParameterVersionNotFound" => Error::ParameterNotFound {
                    region,
                    names: vec![parameters],
                },
                "AccessDeniedException" if kms => Error::ParameterKmsFailed { parameters, detail },
                "AccessDeniedException" => Error::ParameterAccessDenied { parameters, detail },
                "InvalidKeyId" => Error::ParameterKmsFailed { parameters, detail },
                code if code.starts_with("KMS") => Error::ParameterKmsFailed { parameters, detail },
                "ValidationException"
                | "InvalidFilterKey"
                | "InvalidFilterOption"
                | "InvalidFilterValue"
                | "InvalidNextToken"
                | "ParameterVersionLabelLimitExceeded" => {
                    Error::ParameterRequestRejected { parameters, detail }
                }
                // The credential codes are the same for every AWS service.
                _ => match secretsmanager::classify(
                    &Target {
                        secret: parameters.clone(),
                        region: region.clone(),
                        timeout: about.timeout,
                        version: None,
                    },
                    Failure::Service { code, message },
                ) {
                    rejected @ Error::CredentialsRejected { .. } => rejected,
                    Error::Throttled { code } => unavailable(format!(
                        "throttled ({code}) until the retries or the deadline ran out"
                    )),
                    _ => unavailable(detail),
                },
            }
        }
        Failure::Timeout => timeout(),
        Failure::Network(detail) => unavailable(detail),
        Failure::Response(Some(429)) => unavailable("throttled (HTTP 429)".into()),
        Failure::Response(Some(status)) if status >= 500 => {
            unavailable(format!("HTTP {status}, an answer without an error code"))
        }
        Failure::Response(Some(status)) => {
            unavailable(format!("the answer (HTTP {status}) could not be parsed"))
        }
        Failure::Response(None) => unavailable("the answer could not be parsed".into()),
        Failure::Other(detail) => unavailable(detail),
    }
}

/// One call, bounded by the deadline, with what its attempts failed with.
async fn call<T, E>(
    send: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    last_attempt: &LastAttempt,
    bounded: &BoundedAnswer,
    deadline: Instant,
) -> Result<T, CallError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match tokio::time::timeout_at(deadline, send).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(_)) | Err(_) if bounded.exceeded() => Err(CallError::TooLarge),
        Ok(Err(e)) => Err(CallError::Failed(secretsmanager::failure(&e))),
        Err(_) => Err(CallError::Deadline(last_attempt.failure())),
    }
}

/// One GetParameters call for `batch`: each request with the parameter that answers it (the
/// requests nobody answered are missing).
async fn get_batch(
    client: aws_sdk_ssm::Client,
    batch: Vec<Parameter>,
    deadline: Instant,
) -> Result<Vec<(Parameter, RawParameter)>, CallError> {
    let (last_attempt, bounded) = (LastAttempt::default(), BoundedAnswer::default());
    let send = client
        .get_parameters()
        .set_names(Some(batch.iter().map(Parameter::request).collect()))
        .with_decryption(true)
        .customize()
        .interceptor(last_attempt.clone())
        .interceptor(bounded.clone())
        .send();
    let output = call(send, &last_attempt, &bounded, deadline).await?;
    Ok(batch
        .into_iter()
        .filter_map(|request| {
            let answer = output
                .parameters()
                .iter()
                .find(|p| answers(&request.name, p.name().unwrap_or_default(), p.arn()))
                .and_then(raw)?;
            Some((request, answer))
        })
        .collect())
}

/// Every parameter under `path`, page after page until there is no NextToken.
async fn get_path(
    client: aws_sdk_ssm::Client,
    path: String,
    recursive: bool,
    deadline: Instant,
) -> Result<Vec<RawParameter>, CallError> {
    // `/a/b` and `/a/b/` are the same path to Parameter Store; the IAM resource is `/a/b`.
    let asked = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed.to_string(),
        _ => path.clone(),
    };
    let mut all = Vec::new();
    let mut bytes = 0usize;
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let (last_attempt, bounded) = (LastAttempt::default(), BoundedAnswer::default());
        let send = client
            .get_parameters_by_path()
            .path(&asked)
            .recursive(recursive)
            .with_decryption(true)
            .max_results(PAGE)
            .set_next_token(token.clone())
            .customize()
            .interceptor(last_attempt.clone())
            .interceptor(bounded.clone())
            .send();
        let output = call(send, &last_attempt, &bounded, deadline).await?;
        for parameter in output.parameters().iter().filter_map(raw) {
            bytes += parameter.name.len() + parameter.value.expose().len();
            if bytes > MAX_PATH_BYTES {
                return Err(CallError::Failed(Failure::Other(format!(
                    "more than {} MiB of parameters under the path, more than an environment \
                     can hold",
                    MAX_PATH_BYTES >> 20
                ))));
            }
            all.push(parameter);
        }
        match output.next_token().filter(|t| !t.is_empty()) {
            None => return Ok(all),
            // The same token again would repeat the same page forever.
            Some(next) if token.as_deref() == Some(next) => {
                return Err(CallError::Failed(Failure::Other(
                    "GetParametersByPath answered with the NextToken it was given".into(),
                )));
            }
            Some(next) => token = Some(next.to_string()),
        }
    }
    Err(CallError::Failed(Failure::Other(format!(
        "GetParametersByPath did not end within {MAX_PAGES} pages"
    ))))
}

/// What one concurrent call brought back.
enum Done {
    Batch {
        region: String,
        batch: Vec<Parameter>,
        result: Result<Vec<(Parameter, RawParameter)>, CallError>,
    },
    Path {
        index: usize,
        result: Result<Vec<RawParameter>, CallError>,
    },
}

/// How the SSM client of every region is made: the Secrets Manager client's configuration
/// (HTTPS client, timeouts, retries), the resolved credentials, the 429 classifier.
pub(crate) struct Clients<'a> {
    pub config: &'a aws_types::SdkConfig,
    pub credentials: Credentials,
    pub default_region: &'a str,
}

impl Clients<'_> {
    fn client(&self, region: &str) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::config::Builder::from(self.config)
                .region(Region::new(region.to_string()))
                .credentials_provider(self.credentials.clone())
                .retry_classifier(TooManyRequests)
                .build(),
        )
    }
}

/// Reads the SSM references (`(index, reference)`, in configuration order) concurrently, and
/// gives each index its result. Missing names are reported together: each missing reference's
/// error names every missing one of its region.
pub(crate) fn fetch(
    clients: &Clients,
    references: Vec<(usize, Reference)>,
    recursive: bool,
    deadline: Instant,
    timeout: Duration,
) -> impl Future<Output = Vec<(usize, Result<Vec<Payload>, Error>)>> + Send + 'static {
    let region_of = |reference: &Reference| {
        reference
            .region
            .clone()
            .unwrap_or_else(|| clients.default_region.to_string())
    };
    let mut made: HashMap<String, aws_sdk_ssm::Client> = HashMap::new();
    let mut client = |region: &str| {
        made.entry(region.to_string())
            .or_insert_with(|| clients.client(region))
            .clone()
    };
    let mut calls = tokio::task::JoinSet::new();
    let mut regions: Vec<String> = references.iter().map(|(_, r)| region_of(r)).collect();
    regions.sort();
    regions.dedup();
    for region in &regions {
        let singles: Vec<&Parameter> = references
            .iter()
            .filter(|(_, r)| region_of(r) == *region)
            .filter_map(|(_, r)| r.parameter.as_ref().filter(|p| !p.path))
            .collect();
        for batch in batches(&singles) {
            let (client, region) = (client(region), region.clone());
            calls.spawn(async move {
                let result = get_batch(client, batch.clone(), deadline).await;
                Done::Batch {
                    region,
                    batch,
                    result,
                }
            });
        }
    }
    for (index, reference) in &references {
        if let Some(parameter) = reference.parameter.as_ref().filter(|p| p.path) {
            let (client, path, index) = (
                client(&region_of(reference)),
                parameter.name.clone(),
                *index,
            );
            calls.spawn(async move {
                let result = get_path(client, path, recursive, deadline).await;
                Done::Path { index, result }
            });
        }
    }
    let references: Vec<(usize, String, Reference)> = references
        .into_iter()
        .map(|(index, reference)| (index, region_of(&reference), reference))
        .collect();
    async move {
        let mut done = Vec::new();
        // Each call stops itself at the deadline; the caller has a backstop.
        while let Some(Ok(call)) = calls.join_next().await {
            done.push(call);
        }
        assemble(references, done, timeout)
    }
}

/// Each reference's result from the calls' answers.
fn assemble(
    references: Vec<(usize, String, Reference)>,
    mut done: Vec<Done>,
    timeout: Duration,
) -> Vec<(usize, Result<Vec<Payload>, Error>)> {
    let unreported = || Error::ParameterStoreUnavailable {
        region: String::new(),
        parameters: String::new(),
        detail: "a fetch task did not report".into(),
    };
    let mut results: Vec<(usize, Result<Vec<Payload>, Error>)> = Vec::new();
    let mut missing: Vec<(usize, String, String)> = Vec::new();
    for (index, region, reference) in &references {
        let Some(parameter) = &reference.parameter else {
            continue;
        };
        if parameter.path {
            let result = done.iter_mut().find_map(|d| match d {
                Done::Path { index: i, result } if i == index => {
                    Some(std::mem::replace(result, Ok(Vec::new())))
                }
                _ => None,
            });
            let result = match result {
                None => Err(unreported()),
                Some(Err(e)) => Err(classify(
                    e,
                    &About {
                        parameters: &reference.secret_id,
                        region,
                        timeout,
                    },
                )),
                Some(Ok(raws)) => {
                    payload::path_parameters(&parameter.name, region, raws).map(|all| {
                        all.into_iter()
                            .map(|parameter| Payload::Parameter {
                                reference: reference.clone(),
                                region: region.clone(),
                                parameter,
                            })
                            .collect()
                    })
                }
            };
            results.push((*index, result));
            continue;
        }
        let call = done.iter().find_map(|d| match d {
            Done::Batch {
                region: r,
                batch,
                result,
            } if r == region && batch.contains(parameter) => Some((batch, result)),
            _ => None,
        });
        let result = match call {
            None => Err(unreported()),
            Some((batch, Err(e))) => {
                let names: Vec<String> = batch.iter().map(Parameter::request).collect();
                Err(classify(
                    e.clone(),
                    &About {
                        parameters: &names.join(", "),
                        region,
                        timeout,
                    },
                ))
            }
            Some((_, Ok(found))) => {
                if let Some((_, raw)) = found.iter().find(|(p, _)| p == parameter) {
                    Ok(vec![Payload::Parameter {
                        reference: reference.clone(),
                        region: region.clone(),
                        parameter: raw.clone(),
                    }])
                } else {
                    missing.push((*index, region.clone(), reference.secret_id.clone()));
                    continue;
                }
            }
        };
        results.push((*index, result));
    }
    for (index, region, _) in &missing {
        let mut names: Vec<String> = Vec::new();
        for (_, _, name) in missing.iter().filter(|(_, r, _)| r == region) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        results.push((
            *index,
            Err(Error::ParameterNotFound {
                region: region.clone(),
                names,
            }),
        ));
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(name: &str, selector: Option<&str>) -> Parameter {
        Parameter {
            name: name.into(),
            selector: selector.map(str::to_string),
            path: false,
        }
    }

    fn about() -> About<'static> {
        About {
            parameters: "/a/b",
            region: "us-east-1",
            timeout: Duration::from_secs(5),
        }
    }

    fn service(code: &str, message: &str) -> CallError {
        CallError::Failed(Failure::Service {
            code: code.into(),
            message: message.into(),
        })
    }

    #[test]
    fn twenty_five_names_take_three_calls_of_at_most_ten() {
        let all: Vec<Parameter> = (0..25)
            .map(|i| parameter(&format!("/p/{i}"), None))
            .collect();
        let calls = batches(&all.iter().collect::<Vec<_>>());
        let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5]);
    }

    #[test]
    fn a_name_asked_twice_is_asked_once_and_two_selectors_go_to_two_calls() {
        let (a, a1, a2) = (
            parameter("/a", None),
            parameter("/a", Some("1")),
            parameter("/a", Some("2")),
        );
        let calls = batches(&[&a, &a, &a1, &a2]);
        assert_eq!(calls.len(), 3);
        assert!(calls.iter().all(|c| c.len() == 1));
    }

    #[test]
    fn answers_match_names_and_arns() {
        let arn = "arn:aws:ssm:eu-west-1:111122223333:parameter/a/b";
        assert!(answers("/a/b", "/a/b", None));
        assert!(answers(arn, "/a/b", None));
        assert!(answers(arn, arn, None));
        assert!(answers(arn, "x", Some(arn)));
        assert!(answers(
            "arn:aws:ssm:eu-west-1:111122223333:parameter/k",
            "k",
            None
        ));
        assert!(!answers(arn, "/a/bc", None));
        assert!(!answers("/a/b", "/a/c", None));
    }

    #[test]
    fn failures_are_classified_by_parameter_store_codes() {
        let cases = [
            (service("ParameterNotFound", ""), "parameter-not-found", 66),
            (
                service("ParameterVersionNotFound", ""),
                "parameter-not-found",
                66,
            ),
            (
                service(
                    "AccessDeniedException",
                    "not authorized to perform ssm:GetParameters",
                ),
                "parameter-access-denied",
                77,
            ),
            (
                service(
                    "AccessDeniedException",
                    "The ciphertext refers to a KMS key",
                ),
                "parameter-kms-failed",
                77,
            ),
            (service("InvalidKeyId", ""), "parameter-kms-failed", 77),
            (
                service("ValidationException", ""),
                "parameter-request-rejected",
                78,
            ),
            (
                service("ExpiredTokenException", ""),
                "credentials-rejected",
                77,
            ),
            (
                service("ThrottlingException", ""),
                "parameter-store-unavailable",
                69,
            ),
            (
                service("InternalServerError", ""),
                "parameter-store-unavailable",
                69,
            ),
            (
                CallError::Failed(Failure::Network("connection refused".into())),
                "parameter-store-unavailable",
                69,
            ),
            (CallError::Failed(Failure::Timeout), "timeout", 69),
            (CallError::Deadline(None), "timeout", 69),
            (CallError::TooLarge, "answer-too-large", 69),
        ];
        for (failure, kind, code) in cases {
            let error = classify(failure.clone(), &about());
            assert_eq!(
                (error.kind().as_str(), error.exit_code()),
                (kind, code),
                "{failure:?}"
            );
        }
    }

    #[test]
    fn throttling_that_outlasts_the_deadline_says_so() {
        let error = classify(
            CallError::Deadline(Some(Failure::Service {
                code: "ThrottlingException".into(),
                message: String::new(),
            })),
            &about(),
        );
        assert_eq!(error.kind(), "parameter-store-unavailable");
        assert!(error.to_string().contains("throttled"), "{error}");
    }
}
