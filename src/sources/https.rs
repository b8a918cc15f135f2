//! The one HTTP client of a run, handed to every SDK client (Secrets Manager, SSM, the
//! credential chain's STS, SSO and container-credentials clients): hyper over rustls, trusting
//! the roots of [`tls`], HTTP/1.1.
//!
//! Not the SDK's own client (aws-smithy-http-client): it takes trust material only as PEM,
//! which it decodes (with a constant-time base64 decoder) and parses into trust anchors again
//! for every connector it builds, about half of a start's CPU (bench/README.md); and its
//! default crypto, AWS-LC, seeds its random generator from CPU-jitter entropy, about 22 ms at
//! the first handshake. Here the rustls configuration is built once from the anchors [`tls`]
//! parsed, with *ring* (AWS-LC's FIPS module with the `fips` feature).
//!
//! What the SDK's client does that the exit codes rely on is kept: a connect timeout that
//! covers the TCP connection and the TLS handshake, and the same sorting of failures into
//! timeouts, I/O errors (retried) and others, which `secretsmanager::failure` reads.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aws_sdk_secretsmanager::config::SharedHttpClient;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::crypto::CryptoProvider;

use crate::error::Error;
use crate::sources::tls;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Connect = WithTimeout<hyper_rustls::HttpsConnector<TcpConnector>>;

/// The rustls crypto provider: *ring* by default, AWS-LC's FIPS module with the `fips` feature.
///
/// Not AWS-LC's default build, which the SDK uses: it seeds its random generator from a
/// CPU-jitter entropy source, about 22 ms of CPU at the first TLS handshake (bench/README.md).
/// *ring* seeds from the kernel (`getrandom`), like OpenSSL, Go and BoringSSL, builds without
/// cmake (cross-compiles easily), and is smaller.
fn provider() -> CryptoProvider {
    #[cfg(feature = "fips")]
    return rustls::crypto::default_fips_provider();
    #[cfg(not(feature = "fips"))]
    rustls::crypto::ring::default_provider()
}

/// The HTTP client every SDK client of the run uses: one connection pool, trusting `roots`,
/// each connection (TCP and TLS handshake) given at most `connect_timeout`.
///
/// The SDK asks its HTTP client for a connector for every distinct set of timeouts it meets
/// (three in a start); one serves them all, the attempt and operation timeouts being the
/// SDK's own, around the call.
pub(crate) fn client(
    roots: tls::Roots,
    connect_timeout: Duration,
) -> Result<SharedHttpClient, Error> {
    let provider = Arc::new(provider());
    let unusable = |reason: &str| Error::TrustStoreUnusable {
        name: "SSL_CERT_FILE",
        path: String::new(),
        reason: reason.into(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|_| unusable("the TLS configuration could not be built"))?
        .dangerous()
        .with_custom_certificate_verifier(roots.trust(provider)?)
        .with_no_client_auth();
    let mut tcp = TcpConnector::new();
    // The TLS layer speaks `https`; plain `http` (a local endpoint) passes through.
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    let tls = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    let client = Client::builder(TokioExecutor::new())
        // A timer, or hyper cannot expire idle connections.
        .pool_timer(TokioTimer::new())
        .build(WithTimeout {
            inner: tls,
            timeout: connect_timeout,
        });
    let connector = SharedHttpConnector::new(Https { client });
    Ok(http_client_fn(move |_settings, _components| {
        connector.clone()
    }))
}

/// The SDK's view of the client: a request in, a response (or a sorted failure) out.
#[derive(Clone)]
struct Https {
    client: Client<Connect, SdkBody>,
}

impl std::fmt::Debug for Https {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Https")
    }
}

impl HttpConnector for Https {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())));
            }
        };
        let response = self.client.request(request);
        HttpConnectorFuture::new(async move {
            match response.await {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|error| ConnectorError::other(error.into(), None)),
                Err(error) => Err(sort(error.into())),
            }
        })
    }
}

/// A connection not made within the connect timeout.
#[derive(Debug)]
struct ConnectTimedOut(Duration);

impl std::fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no connection within {} s", self.0.as_secs_f64())
    }
}

impl std::error::Error for ConnectTimedOut {}

/// A connector whose connections (TCP connect and TLS handshake) are abandoned after
/// `timeout`, so that a host that accepts and then never answers the handshake is retried
/// rather than waited on.
#[derive(Clone)]
struct WithTimeout<C> {
    inner: C,
    timeout: Duration,
}

impl<C> tower_service::Service<http::Uri> for WithTimeout<C>
where
    C: tower_service::Service<http::Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected.map_err(Into::into),
                Err(_) => Err(Box::new(ConnectTimedOut(timeout)) as BoxError),
            }
        })
    }
}

/// Sorts a failed request as the SDK's own client does: a timeout, an I/O failure (the
/// connection could not be made or broke: retried), the caller's error, or another.
fn sort(error: BoxError) -> ConnectorError {
    kind(error.as_ref())(error)
}

/// How [`sort`] makes the `ConnectorError` of `error`.
fn kind(error: &(dyn std::error::Error + 'static)) -> fn(BoxError) -> ConnectorError {
    let chain = || causes(error);
    let has_io = || chain().any(<dyn std::error::Error>::is::<std::io::Error>);
    if chain().any(<dyn std::error::Error>::is::<ConnectTimedOut>) {
        return ConnectorError::timeout;
    }
    if let Some(hyper) = chain().find_map(|e| e.downcast_ref::<hyper::Error>()) {
        return if hyper.is_timeout() {
            ConnectorError::timeout
        } else if hyper.is_user() {
            ConnectorError::user
        } else if hyper.is_closed() || hyper.is_canceled() || has_io() {
            ConnectorError::io
        } else if hyper.is_incomplete_message() {
            |error| ConnectorError::other(error, Some(ErrorKind::TransientError))
        } else {
            |error| ConnectorError::other(error, None)
        };
    }
    let connect_failed = chain()
        .find_map(|e| e.downcast_ref::<hyper_util::client::legacy::Error>())
        .is_some_and(hyper_util::client::legacy::Error::is_connect);
    if connect_failed || has_io() {
        return ConnectorError::io;
    }
    |error| ConnectorError::other(error, None)
}

/// `error` and each error after it in its chain. After an `io::Error` the next one is its
/// payload (`io::Error::source` skips the payload and returns the payload's source).
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |&error| {
        match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        }
    })
}
