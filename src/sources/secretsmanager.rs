//! Secrets Manager: the wrapper's network I/O. Returns each secret's raw payload (its text, version
//! id and stages); turning it into entries is pure (`shortcut_env_core::envmap::select`).
//!
//! The async runtime lives only inside [`fetch`]: a current-thread runtime is built, used for
//! the credential chain and one GetSecretValue call per secret, and shut down before we return, so nothing
//! of it survives into `exec`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_sdk_secretsmanager::config::{
    ConfigBag, Intercept, ProvideCredentials, Region, RuntimeComponents,
};
use aws_sdk_secretsmanager::error::BoxError;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;
use tokio::time::Instant;

use crate::config::{AwsSource, Retry, RetryMode};
use crate::error::Error;
use crate::failover;
use crate::payload::{self, Fetched, Payload};
use crate::reference::Reference;
use crate::sources::{https, tls};

/// How long past the deadline the wait for the calls may go before giving up on them.
const BACKSTOP: Duration = Duration::from_millis(500);

/// The most of one answer that is read. A secret value is at most 64 KiB; base64 (a binary
/// secret) makes that 88 KiB, and JSON escaping (`\u0000` for a control character) up to six
/// times 64 KiB; the ARN, name and stages add little. Anything larger did not come from
/// Secrets Manager (a proxy's page, a wrong endpoint) and is not read on.
pub(crate) const MAX_ANSWER_BYTES: usize = 512 * 1024;

/// Every attempt gets a third of the deadline, at least 2 s and at most 10 s (never more than
/// the deadline): a connection that was accepted and then never answered is abandoned and
/// retried on a fresh one, instead of eating the whole deadline. Secrets Manager answers in
/// milliseconds, so 2 s only ever cuts a stalled attempt.
pub(crate) fn attempt_timeout(deadline: Duration) -> Duration {
    (deadline / 3)
        .clamp(Duration::from_secs(2), Duration::from_secs(10))
        .min(deadline)
}

/// Retries an answer with HTTP status 429 as throttling. The SDK classifies by the error code
/// in the body, and a bare 429 (from a proxy, a gateway, an emulator) has none, so it would
/// otherwise not be retried at all.
#[derive(Debug, Default)]
pub(crate) struct TooManyRequests;

impl ClassifyRetry for TooManyRequests {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        // An answer over the size bound is not retried: the next one would be as large.
        if let Some(Err(error)) = ctx.output_or_error()
            && crate::sources::causes(error).any(|cause| {
                cause.is::<http_body_util::LengthLimitError>() || cause.is::<TooLarge>()
            })
        {
            return RetryAction::RetryForbidden;
        }
        match ctx.response().map(|r| r.status().as_u16()) {
            Some(429) => RetryAction::throttling_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "TooManyRequests"
    }
}

/// An answer whose `content-length` is over the bound.
#[derive(Debug)]
struct TooLarge;

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the answer is larger than {MAX_ANSWER_BYTES} bytes")
    }
}

impl std::error::Error for TooLarge {}

/// Bounds every answer's body to [`MAX_ANSWER_BYTES`] before the SDK reads it (it reads a
/// whole answer into memory before parsing it), and remembers whether an answer was larger.
#[derive(Debug, Clone, Default)]
pub(crate) struct BoundedAnswer(Arc<AtomicBool>);

impl BoundedAnswer {
    pub(crate) fn exceeded(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for BoundedAnswer {
    fn name(&self) -> &'static str {
        "BoundedAnswer"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response_mut();
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
            self.0.store(true, Ordering::Relaxed);
            return Err(TooLarge.into());
        }
        // Without a length (chunked), the bound stops the read at the limit.
        let flag = Arc::clone(&self.0);
        let body = http_body_util::Limited::new(response.take_body(), MAX_ANSWER_BYTES).map_err(
            move |e: BoxError| {
                if e.is::<http_body_util::LengthLimitError>() {
                    flag.store(true, Ordering::Relaxed);
                }
                e
            },
        );
        *response.body_mut() = SdkBody::from_body_1_x(body);
        Ok(())
    }
}

/// Remembers how the latest attempt of a call failed, so that a deadline that fires while the
/// SDK is still retrying can say what the attempts were failing with (throttling when a fleet
/// starts at once, a refused connection, an untrusted certificate) instead of only "too slow".
#[derive(Debug, Clone, Default)]
pub(crate) struct LastAttempt(Arc<Mutex<Option<Failure>>>);

impl LastAttempt {
    pub(crate) fn failure(&self) -> Option<Failure> {
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
                let service = error.as_operation_error().and_then(|e| {
                    e.downcast_ref::<GetSecretValueError>()
                        .and_then(|e| e.code().map(str::to_string))
                        .or_else(|| crate::sources::ssm::service_code(e))
                });
                match (service, error.as_connector_error()) {
                    (Some(code), _) => Some(Failure::Service {
                        code,
                        message: String::new(),
                    }),
                    (None, Some(e)) if e.is_timeout() => Some(Failure::Timeout),
                    (None, Some(e)) => Some(Failure::Network(one_line(e))),
                    // An answer without an error code (a bare 429 or 503).
                    (None, None) => context
                        .response()
                        .map(|r| Failure::Response(Some(r.status().as_u16()))),
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

/// The secret a call is about, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub secret: String,
    pub region: String,
    pub timeout: Duration,
    /// The version asked for, e.g. `stage AWSPREVIOUS` or `id 3f0c…`; `None` for AWSCURRENT.
    pub version: Option<String>,
}

/// How a reference's version reads in a message.
fn version_label(reference: &Reference) -> Option<String> {
    match (&reference.version_id, &reference.version_stage) {
        (Some(id), Some(stage)) => Some(format!("id {id} (stage {stage})")),
        (Some(id), None) => Some(format!("id {id}")),
        (None, Some(stage)) => Some(format!("stage {stage}")),
        (None, None) => None,
    }
}

/// The profile files (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE), read with
/// the SDK's own parser: for the profile's region, and to say so when AWS_PROFILE names a
/// profile that is not there.
struct Profiles {
    /// AWS_PROFILE, when set.
    named: Option<String>,
    set: Option<aws_config::profile::ProfileSet>,
}

impl Profiles {
    // The files type is only re-exported under a deprecated alias; its default is what we want.
    #[allow(
        clippy::default_trait_access,
        reason = "the type has no stable name to call"
    )]
    async fn load(source: &AwsSource) -> Profiles {
        let set = aws_config::profile::load(
            &aws_types::os_shim_internal::Fs::real(),
            &aws_types::os_shim_internal::Env::real(),
            // The default files: AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, else ~/.aws.
            &Default::default(),
            None,
        )
        .await
        .ok();
        Profiles {
            named: source.profile.clone(),
            set,
        }
    }

    /// AWS_PROFILE names a profile that is in no profile file.
    fn missing(&self) -> Option<Error> {
        let named = self.named.as_ref()?;
        let found = self
            .set
            .as_ref()
            .is_some_and(|set| set.get_profile(named).is_some());
        (!found).then(|| Error::ProfileNotFound(named.clone()))
    }

    /// The selected profile's `region`, checked as AWS_REGION is.
    fn region(&self) -> Result<Option<String>, Error> {
        let Some(set) = &self.set else {
            return Ok(None);
        };
        match set
            .get_profile(set.selected_profile())
            .and_then(|p| p.get("region"))
        {
            Some(region) => Ok(Some(
                crate::config::validate_region(region.trim())?.to_string(),
            )),
            None => Ok(None),
        }
    }
}

/// Every credential field checked before anything is signed with it (see
/// [`payload::credential_problem`]): a bad byte would otherwise reach the SDK's header code.
pub(crate) fn check_credentials(credentials: &Credentials) -> Result<(), Error> {
    match payload::credential_problem(
        credentials.access_key_id(),
        credentials.secret_access_key(),
        credentials.session_token(),
    ) {
        None => Ok(()),
        Some((field, reason)) => Err(Error::CredentialsMalformed {
            provider: provider_name(credentials),
            field,
            reason,
        }),
    }
}

/// The name of the SDK provider that returned `credentials` (`EnvironmentVariable`,
/// `EcsContainer`, `ProfileFile`, `CredentialProcess`, …). The SDK keeps it private and shows
/// it only in `Debug` (which redacts the secret key); only the name is taken from there.
fn provider_name(credentials: &Credentials) -> String {
    let debug = format!("{credentials:?}");
    debug
        .split_once("provider_name: \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(name, _)| name.to_string())
        .filter(|name| name.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "the credential chain".into())
}

/// Reads every secret of `source` with the default credential chain, within `source.timeout`
/// overall: one GetSecretValue per secret, concurrently; one result per reference, in
/// configuration order (see [`crate::sources::fetch`]). (BatchGetSecretValue would save calls
/// for many secrets, but it needs `secretsmanager:BatchGetSecretValue` on `Resource: "*"`;
/// separate calls keep the task role's policy scoped to each secret's ARN.)
pub(crate) fn fetch(source: &AwsSource, trust: &tls::Sources) -> Result<Vec<Fetched>, Error> {
    block_on(source, fetch_async(source, trust))
}

/// Runs `work` on a current-thread runtime that exists only for it: nothing of the async
/// machinery outlives the call (and so nothing of it reaches exec).
pub(crate) fn block_on<T>(
    source: &AwsSource,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unreachable {
            region: source.region.clone().unwrap_or_default(),
            detail: format!("could not start the I/O runtime: {e}"),
        })?;
    let result = runtime.block_on(work);
    // Blocking DNS lookups may still be running on helper threads; do not wait for them.
    runtime.shutdown_background();
    result
}

async fn fetch_async(source: &AwsSource, trust: &tls::Sources) -> Result<Vec<Fetched>, Error> {
    let deadline = Instant::now() + source.timeout;
    let Connected {
        config,
        credentials,
        default_region,
    } = connect(source, trust, deadline).await?;

    // One client per region (secrets given by ARN may live in several), all sharing the
    // resolved credentials.
    let mut clients: Vec<(String, aws_sdk_secretsmanager::Client)> = Vec::new();
    let mut calls = tokio::task::JoinSet::new();
    // SSM parameters: one task, which batches the names and pages the paths
    // (src/sources/ssm.rs), with the same client configuration and credentials.
    let parameters: Vec<(usize, Reference)> = source
        .secrets
        .iter()
        .cloned()
        .enumerate()
        .filter(|(_, r)| r.parameter.is_some())
        .collect();
    if !parameters.is_empty() {
        let clients = crate::sources::ssm::Clients {
            config: &config,
            credentials: credentials.clone(),
            default_region: &default_region,
        };
        calls.spawn(crate::sources::ssm::fetch(
            &clients,
            parameters,
            source.recursive,
            deadline,
            source.timeout,
        ));
    }
    for (index, reference) in source.secrets.iter().enumerate() {
        if reference.parameter.is_some() {
            continue;
        }
        let own = reference
            .region
            .clone()
            .unwrap_or_else(|| default_region.clone());
        // The secret's own region, then the failover regions (src/failover.rs).
        let mut candidates = Vec::new();
        for region in failover::regions(&own, &source.failover_regions) {
            let client = if let Some((_, client)) = clients.iter().find(|(r, _)| *r == region) {
                client.clone()
            } else {
                let client = aws_sdk_secretsmanager::Client::from_conf(
                    aws_sdk_secretsmanager::config::Builder::from(&config)
                        .region(Region::new(region.clone()))
                        .credentials_provider(credentials.clone())
                        .retry_classifier(TooManyRequests)
                        .build(),
                );
                clients.push((region.clone(), client.clone()));
                client
            };
            candidates.push((region, client));
        }
        let reference = reference.clone();
        let timeout = source.timeout;
        calls.spawn(async move {
            let read_in = |region: String, client, until: Instant| {
                let mut reference = reference.clone();
                reference.secret_id = failover::secret_id_in(&reference.secret_id, &region);
                reference.region = Some(region.clone());
                let target = Target {
                    secret: reference.secret_id.clone(),
                    region,
                    timeout: failover::allowed(until, deadline, timeout),
                    version: version_label(&reference),
                };
                get_secret(client, target, reference, until)
            };
            let secret = reference.secret_id.clone();
            let result = failover::read(&secret, candidates, timeout, deadline, read_in).await;
            vec![(index, result.map(|payload| vec![payload]))]
        });
    }
    let mut results: Vec<Option<Fetched>> = std::iter::repeat_with(|| None)
        .take(source.secrets.len())
        .collect();
    // Why a reference has no result, if a task ended without giving one.
    let mut unreported = "a fetch task did not report".to_string();
    loop {
        // Each call stops itself at the deadline; this is only a backstop.
        match tokio::time::timeout_at(deadline + BACKSTOP, calls.join_next()).await {
            Ok(None) => break,
            Ok(Some(Ok(done))) => {
                for (index, result) in done {
                    if let Some(slot) = results.get_mut(index) {
                        *slot = Some(result);
                    }
                }
            }
            Ok(Some(Err(join_error))) => unreported = format!("a fetch task failed: {join_error}"),
            Err(_) => {
                // The references still waited for time out; the finished ones keep their
                // results, so an earlier reference's failure is still the one reported.
                let pending: Vec<&str> = source
                    .secrets
                    .iter()
                    .zip(&results)
                    .filter(|(_, r)| r.is_none())
                    .map(|(s, _)| s.secret_id.as_str())
                    .collect();
                let pending = pending.join(", ");
                for slot in results.iter_mut().filter(|r| r.is_none()) {
                    *slot = Some(Err(Error::Timeout {
                        secret: pending.clone(),
                        seconds: source.timeout.as_secs_f64(),
                    }));
                }
                break;
            }
        }
    }
    Ok(results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| {
                Err(Error::ServiceFailure {
                    code: "ClientError".into(),
                    detail: unreported.clone(),
                })
            })
        })
        .collect())
}

/// The SDK configuration and the resolved credentials that every client of one fetch (or one
/// `--watch` poll) shares, and the region of the references that name none.
struct Connected {
    config: aws_config::SdkConfig,
    credentials: Credentials,
    default_region: String,
}

/// The region, the SDK configuration and the credentials, checked before any call.
async fn connect(
    source: &AwsSource,
    trust: &tls::Sources,
    deadline: Instant,
) -> Result<Connected, Error> {
    let profiles = Profiles::load(source).await;
    // Names take AWS_REGION / AWS_DEFAULT_REGION (resolved with the configuration), else the
    // profile's region; an ARN keeps its own.
    let default_region = match &source.region {
        Some(region) => Some(region.clone()),
        None => profiles.region()?,
    };
    if source.secrets.iter().any(|s| s.region.is_none()) && default_region.is_none() {
        return Err(profiles.missing().unwrap_or(Error::RegionMissing {
            app_env: source.app_env,
        }));
    }
    let default_region = default_region.unwrap_or_default();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https::client(
            tls::roots(trust)?,
            source.retry.connect_timeout.min(source.timeout),
        )?)
        .region(Region::new(default_region.clone()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(source.retry.connect_timeout.min(source.timeout))
                .operation_attempt_timeout(attempt_timeout(source.timeout))
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
        Ok(Err(e)) => return Err(profiles.missing().unwrap_or_else(|| credentials_error(&e))),
        Ok(Ok(credentials)) => credentials,
    };
    // Signing puts the key id and the session token into HTTP headers, and the SDK panics on
    // a byte a header cannot hold: check them first.
    check_credentials(&credentials)?;
    if let Some(expiry) = credentials.expiry()
        && expiry <= SystemTime::now()
    {
        return Err(Error::CredentialsRejected {
            code: "ExpiredCredentials".into(),
            detail: "the credential provider returned credentials that have already expired".into(),
        });
    }

    Ok(Connected {
        config,
        credentials,
        default_region,
    })
}

/// The AWSCURRENT version id of every secret of `source` (for `--watch`; `source` holds only
/// Secrets Manager references): one DescribeSecret call each, in the secret's own region, which
/// needs `secretsmanager:DescribeSecret` and returns no value. Like [`fetch`], in a runtime of
/// its own that is gone when this returns: between two polls nothing of the SDK stays in
/// memory, at the price of resolving credentials once per poll.
pub(crate) fn current_versions(
    source: &AwsSource,
    trust: &tls::Sources,
) -> Result<Vec<Option<String>>, Error> {
    block_on(source, async {
        let deadline = Instant::now() + source.timeout;
        let connected = connect(source, trust, deadline).await?;
        let mut clients: Vec<(String, aws_sdk_secretsmanager::Client)> = Vec::new();
        let mut calls = Vec::new();
        for reference in &source.secrets {
            let region = reference
                .region
                .clone()
                .unwrap_or_else(|| connected.default_region.clone());
            let client = if let Some((_, client)) = clients.iter().find(|(r, _)| *r == region) {
                client.clone()
            } else {
                let client = aws_sdk_secretsmanager::Client::from_conf(
                    aws_sdk_secretsmanager::config::Builder::from(&connected.config)
                        .region(Region::new(region.clone()))
                        .credentials_provider(connected.credentials.clone())
                        .retry_classifier(TooManyRequests)
                        .build(),
                );
                clients.push((region.clone(), client.clone()));
                client
            };
            let target = Target {
                secret: reference.secret_id.clone(),
                region,
                timeout: source.timeout,
                version: None,
            };
            calls.push(current_version(
                client,
                target,
                reference.secret_id.clone(),
                deadline,
            ));
        }
        // In configuration order; each call stops itself at the deadline.
        let mut versions = Vec::new();
        for call in calls {
            versions.push(call.await?);
        }
        Ok(versions)
    })
}

/// One DescribeSecret call: the version id that carries AWSCURRENT, if any.
async fn current_version(
    client: aws_sdk_secretsmanager::Client,
    target: Target,
    secret_id: String,
    deadline: Instant,
) -> Result<Option<String>, Error> {
    let bounded = BoundedAnswer::default();
    let call = client
        .describe_secret()
        .secret_id(secret_id)
        .customize()
        .interceptor(bounded.clone())
        .send();
    let too_large = || Error::AnswerTooLarge {
        secret: target.secret.clone(),
        limit_kib: MAX_ANSWER_BYTES / 1024,
    };
    match tokio::time::timeout_at(deadline, call).await {
        Err(_) if bounded.exceeded() => Err(too_large()),
        Err(_) => Err(timeout(&target)),
        Ok(Err(_)) if bounded.exceeded() => Err(too_large()),
        Ok(Err(e)) => Err(classify(&target, failure(&e))),
        Ok(Ok(output)) => Ok(output.version_ids_to_stages().and_then(|versions| {
            versions
                .iter()
                .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
                .map(|(id, _)| id.clone())
        })),
    }
}

/// One GetSecretValue call: its answer as it came, with the region that gave it.
async fn get_secret(
    client: aws_sdk_secretsmanager::Client,
    target: Target,
    reference: Reference,
    deadline: Instant,
) -> Result<Payload, Error> {
    let last_attempt = LastAttempt::default();
    let bounded = BoundedAnswer::default();
    let call = client
        .get_secret_value()
        .secret_id(&reference.secret_id)
        .set_version_stage(reference.version_stage.clone())
        .set_version_id(reference.version_id.clone())
        .customize()
        .interceptor(last_attempt.clone())
        .interceptor(bounded.clone())
        .send();
    let too_large = || Error::AnswerTooLarge {
        secret: target.secret.clone(),
        limit_kib: MAX_ANSWER_BYTES / 1024,
    };
    let output = match tokio::time::timeout_at(deadline, call).await {
        Ok(Err(_)) if bounded.exceeded() => return Err(too_large()),
        Ok(Err(e)) => {
            let error = classify(&target, failure(&e));
            return Err(missing_version(&client, &reference, &target, error, deadline).await);
        }
        Ok(Ok(output)) => output,
        Err(_) if bounded.exceeded() => return Err(too_large()),
        Err(_) => {
            return Err(
                match Failure::at_deadline(last_attempt.failure(), target.timeout) {
                    Some(failure) => classify(&target, failure),
                    None => timeout(&target),
                },
            );
        }
    };
    Ok(Payload::Secret {
        text: output.secret_string().map(str::to_string),
        binary: output.secret_binary().map(|blob| blob.as_ref().to_vec()),
        version_id: output.version_id().map(str::to_string),
        version_stages: output.version_stages().to_vec(),
        region: target.region,
        reference,
        failover: None,
    })
}

/// A "not found" for a pinned version may mean that only the version is missing: not every
/// endpoint says so in its message (moto answers as for a missing secret). One GetSecretValue
/// of the current version tells, with the permission the start needs anyway; its value is
/// dropped unread.
async fn missing_version(
    client: &aws_sdk_secretsmanager::Client,
    reference: &Reference,
    target: &Target,
    error: Error,
    deadline: Instant,
) -> Error {
    let (Error::SecretNotFound { detail, .. }, Some(version)) = (&error, &target.version) else {
        return error;
    };
    let probe = client
        .get_secret_value()
        .secret_id(&reference.secret_id)
        .customize()
        .interceptor(BoundedAnswer::default())
        .send();
    match tokio::time::timeout_at(deadline, probe).await {
        Ok(Ok(_)) => Error::VersionNotFound {
            secret: target.secret.clone(),
            region: target.region.clone(),
            version: version.clone(),
            detail: detail.clone(),
        },
        _ => error,
    }
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
pub(crate) fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
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
pub(crate) enum Failure {
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

impl Failure {
    /// The deadline ended the retries: what the attempts were failing with, if they failed
    /// rather than hung, said to have outlasted the deadline; `None` for a plain timeout. (A
    /// throttled or 5xx answer stays what it was: an outage, not a slow network.)
    pub(crate) fn at_deadline(last: Option<Failure>, deadline: Duration) -> Option<Failure> {
        let still = || {
            format!(
                "still failing when the {} s deadline passed",
                deadline.as_secs_f64()
            )
        };
        match last? {
            Failure::Service { code, .. } => Some(Failure::Service {
                code,
                message: still(),
            }),
            Failure::Network(detail) => Some(Failure::Network(format!("{detail} ({})", still()))),
            Failure::Response(Some(status)) if status == 429 || status >= 500 => {
                Some(Failure::Response(Some(status)))
            }
            _ => None,
        }
    }

    /// A service error as messages show it: `Code: message`, or the code alone.
    pub(crate) fn service_detail(code: &str, message: &str) -> String {
        if message.is_empty() {
            code.to_string()
        } else {
            format!("{code}: {message}")
        }
    }
}

pub(crate) fn failure<E>(error: &SdkError<E, HttpResponse>) -> Failure
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
pub(crate) fn classify(target: &Target, failure: Failure) -> Error {
    let secret = target.secret.clone();
    let region = target.region.clone();
    match failure {
        Failure::Service { code, message } => {
            let detail = Failure::service_detail(&code, &message);
            match code.as_str() {
                // "… can't find the specified secret value for staging label: X" (or
                // VersionId): the secret exists, the version does not.
                "ResourceNotFoundException" if message.contains("secret value for") => {
                    Error::VersionNotFound {
                        secret,
                        region,
                        version: target
                            .version
                            .clone()
                            .unwrap_or_else(|| "stage AWSCURRENT".into()),
                        detail,
                    }
                }
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
        Failure::Network(detail) if is_dns_failure(&detail) => Error::DnsFailure { region, detail },
        Failure::Network(detail) => Error::Unreachable { region, detail },
        // No error code: a gateway or proxy speaking. 429 is throttling whatever the body.
        Failure::Response(Some(429)) => Error::Throttled {
            code: "HTTP 429".into(),
        },
        Failure::Response(Some(status)) if status >= 500 => Error::ServiceFailure {
            code: format!("HTTP {status}"),
            detail: "an answer without an error code".into(),
        },
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

/// A name-resolution failure of the connector (hyper's "dns error", the resolver's "failed to
/// lookup address"): for the regional endpoint that most often means a misspelt region.
fn is_dns_failure(detail: &str) -> bool {
    let lower = detail.to_ascii_lowercase();
    lower.contains("dns error") || lower.contains("failed to lookup address")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Target {
        Target {
            secret: "short-cut/prod/app".into(),
            region: "us-east-1".into(),
            timeout: Duration::from_secs(5),
            version: None,
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
                (error.kind().as_str(), error.exit_code()),
                (kind, code),
                "{failure:?}"
            );
        }
    }

    #[test]
    fn a_bare_429_is_throttling_and_a_bare_503_a_service_failure() {
        let error = classify(&source(), Failure::Response(Some(429)));
        assert_eq!(
            (error.kind().as_str(), error.exit_code()),
            ("throttled", 69)
        );
        let error = classify(&source(), Failure::Response(Some(503)));
        assert_eq!(error.kind(), "service-failure");
        assert!(error.to_string().contains("HTTP 503"), "{error}");
    }

    #[test]
    fn a_missing_version_is_not_a_missing_secret() {
        let target = Target {
            version: Some("stage AWSPREVIOUS".into()),
            ..source()
        };
        let message = "Secrets Manager can't find the specified secret value for staging label: \
                       AWSPREVIOUS";
        let error = classify(&target, service("ResourceNotFoundException", message));
        assert_eq!(
            (error.kind().as_str(), error.exit_code()),
            ("version-not-found", 66)
        );
        assert!(error.to_string().contains("stage AWSPREVIOUS"), "{error}");
    }

    #[test]
    fn a_dns_failure_hints_at_the_region() {
        let detail = "dispatch failure: io error: client error (Connect): dns error: failed to \
                      lookup address information: Name or service not known";
        let error = classify(&source(), Failure::Network(detail.into()));
        assert_eq!(
            (error.kind().as_str(), error.exit_code()),
            ("dns-failure", 69)
        );
        assert!(error.hint().contains("region us-east-1 is spelled right"));
    }

    #[test]
    fn attempt_timeouts_are_a_bounded_share_of_the_deadline() {
        let secs = Duration::from_secs;
        assert_eq!(attempt_timeout(secs(30)), secs(10));
        assert_eq!(attempt_timeout(secs(6)), secs(2));
        assert_eq!(attempt_timeout(secs(1)), secs(1));
        assert_eq!(attempt_timeout(secs(3600)), secs(10));
    }

    #[test]
    fn malformed_credentials_are_refused_naming_the_provider() {
        let make = |id: &str, secret: &str, token: Option<&str>| {
            Credentials::new(
                id,
                secret,
                token.map(str::to_string),
                None,
                "EnvironmentVariable",
            )
        };
        assert!(check_credentials(&make("AKIDEXAMPLE", "s3cr3t/+=", Some("FwoGZX=="))).is_ok());
        for (credentials, field) in [
            (make("AKIDEXAMPLE\r", "x", None), "AccessKeyId"),
            (make("AKID EXAMPLE", "x", None), "AccessKeyId"),
            (make("", "x", None), "AccessKeyId"),
            (make("AKIDEXAMPLE", "sec\nret", None), "SecretAccessKey"),
            (make("AKIDEXAMPLE", "x", Some("tok\nen")), "SessionToken"),
        ] {
            let error = check_credentials(&credentials).unwrap_err();
            assert_eq!(
                (error.kind().as_str(), error.exit_code()),
                ("credentials-malformed", 77)
            );
            let text = error.to_string();
            assert!(
                text.contains(field) && text.contains("EnvironmentVariable"),
                "{text}"
            );
            assert!(!text.contains("sec") && !text.contains("tok"), "{text}");
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
}
