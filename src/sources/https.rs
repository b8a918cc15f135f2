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
use crate::sources::{causes, tls};

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

/// The HTTP client every SDK client of the run uses, trusting `roots`: one TLS configuration,
/// and one connection pool for each connect timeout asked for.
///
/// The SDK asks for a connector at every attempt, with the timeouts of the client asking:
/// Secrets Manager and SSM ask for `connect_timeout` (ours), the container-credentials client
/// for 2 s, the instance-metadata one for 1 s; a connection gets the shorter of what was asked
/// and `connect_timeout`. The read timeout asked for (5 s and 1 s for those two; none for
/// Secrets Manager and SSM, whose attempt timeout bounds them) applies to each request.
pub(crate) fn client(
    roots: tls::Roots,
    connect_timeout: Duration,
) -> Result<SharedHttpClient, Error> {
    let tls = connector(roots)?;
    let pools: std::sync::Mutex<Vec<(Duration, Client<Connect, SdkBody>)>> =
        std::sync::Mutex::default();
    Ok(http_client_fn(move |settings, _components| {
        let timeout = settings
            .connect_timeout()
            .map_or(connect_timeout, |asked| asked.min(connect_timeout));
        let client = match pools.lock() {
            Ok(mut pools) => {
                if let Some((_, client)) = pools.iter().find(|(t, _)| *t == timeout) {
                    client.clone()
                } else {
                    let client = pool(&tls, timeout);
                    pools.push((timeout, client.clone()));
                    client
                }
            }
            // Poisoned: a client of its own for this request.
            Err(_) => pool(&tls, timeout),
        };
        SharedHttpConnector::new(Https {
            client,
            read_timeout: settings.read_timeout(),
        })
    }))
}

/// TLS over TCP for hyper, trusting `roots`; plain `http` passes through.
fn connector(roots: tls::Roots) -> Result<hyper_rustls::HttpsConnector<TcpConnector>, Error> {
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
    // The SDK's client refused to start a FIPS build on a provider that is not FIPS: so here.
    #[cfg(feature = "fips")]
    if !config.fips() {
        return Err(unusable(
            "the FIPS build's TLS configuration is not FIPS-approved",
        ));
    }
    let mut tcp = TcpConnector::new();
    // The TLS layer speaks `https`; plain `http` (a local endpoint) passes through.
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp))
}

/// A connection pool over `tls`, each connection (TCP and TLS handshake) given `timeout`.
fn pool(
    tls: &hyper_rustls::HttpsConnector<TcpConnector>,
    timeout: Duration,
) -> Client<Connect, SdkBody> {
    Client::builder(TokioExecutor::new())
        // A timer, or hyper cannot expire idle connections.
        .pool_timer(TokioTimer::new())
        .build(WithTimeout {
            inner: tls.clone(),
            timeout,
        })
}

/// The SDK's view of the client: a request in, a response (or a sorted failure) out.
#[derive(Clone)]
struct Https {
    client: Client<Connect, SdkBody>,
    /// How long a request may wait for its answer's head, connection included, as the SDK
    /// client asking set it: the container-credentials client 5 s, the instance-metadata one
    /// 1 s; Secrets Manager and SSM set none (their attempt timeout bounds them).
    read_timeout: Option<Duration>,
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
        let mut request = request;
        capture_connection(&mut request);
        let response = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let answered = match read_timeout {
                Some(limit) => match tokio::time::timeout(limit, response).await {
                    Ok(answered) => answered,
                    Err(_) => return Err(ConnectorError::timeout(Box::new(TimedOut::Read(limit)))),
                },
                None => response.await,
            };
            match answered {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|error| ConnectorError::other(error.into(), None)),
                Err(error) => Err(sort(error.into())),
            }
        })
    }
}

/// Lets the SDK poison the request's connection, so that after a transient failure (a 5xx,
/// a timeout) its retry goes out on a new connection, perhaps to another host behind the
/// endpoint, rather than on the same keep-alive one. The SDK's own client does the same.
fn capture_connection(request: &mut http::Request<SdkBody>) {
    use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
    use hyper_util::client::legacy::connect::HttpInfo;
    let captured = hyper_util::client::legacy::connect::capture_connection(request);
    let Some(smithy) = request.extensions().get::<CaptureSmithyConnection>() else {
        return;
    };
    smithy.set_connection_retriever(move || {
        let connected = captured.connection_metadata();
        let connected = connected.as_ref()?;
        let mut extras = http::Extensions::new();
        connected.get_extras(&mut extras);
        let info = extras.get::<HttpInfo>();
        let captured = captured.clone();
        let mut metadata = ConnectionMetadata::builder()
            .proxied(false)
            .poison_fn(move || {
                if let Some(connected) = captured.connection_metadata().as_ref() {
                    connected.poison();
                }
            });
        metadata
            .set_local_addr(info.map(HttpInfo::local_addr))
            .set_remote_addr(info.map(HttpInfo::remote_addr));
        Some(metadata.build())
    });
}

/// A connection not made, or an answer not begun, within its timeout.
#[derive(Debug)]
enum TimedOut {
    Connect(Duration),
    Read(Duration),
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimedOut::Connect(limit) => {
                write!(
                    f,
                    "HTTP connect timeout occurred after {} s",
                    limit.as_secs_f64()
                )
            }
            TimedOut::Read(limit) => {
                write!(
                    f,
                    "HTTP read timeout occurred after {} s",
                    limit.as_secs_f64()
                )
            }
        }
    }
}

impl std::error::Error for TimedOut {}

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
                Err(_) => Err(Box::new(TimedOut::Connect(timeout)) as BoxError),
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
    if chain().any(<dyn std::error::Error>::is::<TimedOut>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A client trusting the embedded roots, with a 300 ms connect timeout.
    fn https(read_timeout: Option<Duration>) -> Https {
        https_with(Duration::from_millis(300), read_timeout)
    }

    fn https_with(connect_timeout: Duration, read_timeout: Option<Duration>) -> Https {
        let dir = tempfile::tempdir().unwrap();
        let nowhere = tls::Sources {
            system_bundles: vec![dir.path().join("none")],
            ..tls::Sources::default()
        };
        let roots = tls::roots(&nowhere).unwrap();
        Https {
            client: pool(&connector(roots).unwrap(), connect_timeout),
            read_timeout,
        }
    }

    /// What `https` makes of a GET of `url`: the status, or the sorted failure.
    fn get(https: &Https, url: &str) -> Result<u16, ConnectorError> {
        let request = http::Request::builder()
            .uri(url)
            .body(SdkBody::empty())
            .unwrap();
        let request = HttpRequest::try_from(request).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(https.call(request))
            .map(|response| response.status().as_u16())
    }

    /// The error with its causes, as the logs show it.
    fn text(error: &ConnectorError) -> String {
        aws_smithy_types::error::display::DisplayErrorContext(error).to_string()
    }

    /// A loopback listener whose every connection `serve` handles, on a thread of its own.
    fn listener(serve: fn(std::net::TcpStream)) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve(stream));
            }
        });
        port
    }

    /// Reads a request's head, then holds the connection silent for a while.
    fn silent(mut stream: std::net::TcpStream) {
        let _ = stream.read(&mut [0; 4096]);
        std::thread::sleep(Duration::from_secs(5));
    }

    #[test]
    fn plain_http_passes_through() {
        let port = listener(|mut stream| {
            let _ = stream.read(&mut [0; 4096]);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        });
        let status = get(&https(None), &format!("http://127.0.0.1:{port}/")).unwrap();
        assert_eq!(status, 200);
    }

    #[test]
    fn a_tls_handshake_that_never_completes_is_a_connect_timeout() {
        let port = listener(silent);
        let error = get(&https(None), &format!("https://127.0.0.1:{port}/")).unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
        assert!(text(&error).contains("connect timeout"), "{}", text(&error));
    }

    #[test]
    fn an_answer_that_never_comes_is_a_read_timeout_when_one_is_set() {
        let port = listener(silent);
        // A connect timeout far from the read timeout: only the read timeout can fire.
        let https = https_with(Duration::from_secs(10), Some(Duration::from_millis(300)));
        let error = get(&https, &format!("http://127.0.0.1:{port}/")).unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
        assert!(text(&error).contains("read timeout"), "{error:?}");
    }

    #[test]
    fn a_refused_connection_is_an_io_failure() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = get(&https(None), &format!("http://127.0.0.1:{port}/")).unwrap_err();
        assert!(error.is_io(), "{error:?}");
    }

    #[test]
    fn a_connection_closed_before_the_answer_is_a_transient_failure() {
        let port = listener(|mut stream| {
            let _ = stream.read(&mut [0; 4096]);
        });
        let error = get(&https(None), &format!("http://127.0.0.1:{port}/")).unwrap_err();
        assert_eq!(
            error.as_other(),
            Some(ErrorKind::TransientError),
            "{error:?}"
        );
    }

    #[test]
    fn an_untrusted_certificate_is_an_io_failure_naming_the_issuer() {
        // A TLS server whose certificate no root of the client holds.
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut tls = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
                let _ = tls.complete_io(&mut stream);
            }
        });
        let error = get(&https(None), &format!("https://127.0.0.1:{port}/")).unwrap_err();
        assert!(error.is_io(), "{error:?}");
        assert!(format!("{error:?}").contains("UnknownIssuer"), "{error:?}");
    }

    /// A keep-alive HTTP server answering 200 to every request; returns its port.
    fn keep_alive() -> u16 {
        use std::io::BufRead;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                    let mut stream = stream;
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                        if line == "\r\n" {
                            let _ =
                                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                        }
                        line.clear();
                    }
                });
            }
        });
        port
    }

    /// Two GETs on one runtime; the first one's connection poisoned through the SDK's
    /// capture when `poison`. Returns whether the second went out on the first's connection
    /// (the same local address; a count of accepted connections would race with hyper's
    /// background connects).
    fn second_request_reuses_the_connection(poison: bool) -> bool {
        use aws_smithy_runtime_api::client::connection::CaptureSmithyConnection;
        let port = keep_alive();
        let https = https(None);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut local = Vec::new();
        for _ in 0..2 {
            let capture = CaptureSmithyConnection::new();
            let mut request = http::Request::builder()
                .uri(format!("http://127.0.0.1:{port}/"))
                .body(SdkBody::empty())
                .unwrap();
            request.extensions_mut().insert(capture.clone());
            let request = HttpRequest::try_from(request).unwrap();
            let response = runtime.block_on(https.call(request)).unwrap();
            assert_eq!(response.status().as_u16(), 200);
            let connection = capture.get().expect("the connection is captured");
            local.push(connection.local_addr().expect("its address is known"));
            if poison {
                connection.poison();
            }
        }
        local[0] == local[1]
    }

    #[test]
    fn a_poisoned_connection_is_not_reused() {
        assert!(
            second_request_reuses_the_connection(false),
            "keep-alive reuses it"
        );
        assert!(!second_request_reuses_the_connection(true));
    }
}
