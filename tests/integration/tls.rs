//! HTTPS: an endpoint whose certificate comes from a private test CA is trusted when the CA is
//! given through `SSL_CERT_FILE`, `AWS_CA_BUNDLE` or `SSL_CERT_DIR`, and only then; a certificate
//! for another name or out of its validity is refused; every read of trust material is bounded
//! (a FIFO or a huge file as `SSL_CERT_FILE` fails at once with 78, naming the variable; in
//! `SSL_CERT_DIR`, read only when needed, they are skipped and named in the refusal).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::support::*;

/// A private CA and an HTTPS endpoint on loopback, with a certificate it issued for `localhost`
/// and `127.0.0.1`, that relays each request to moto over plain HTTP.
pub struct HttpsEndpoint {
    pub port: u16,
    /// The CA certificate, PEM, as `SSL_CERT_FILE` would hold it.
    pub ca_pem: String,
    requests: Arc<AtomicUsize>,
}

impl HttpsEndpoint {
    /// An endpoint with a valid certificate for `localhost` and `127.0.0.1`.
    pub fn start(upstream: u16) -> HttpsEndpoint {
        HttpsEndpoint::with_leaf(upstream, |_| {})
    }

    /// An endpoint whose certificate's parameters `adjust` changed (names, validity).
    pub fn with_leaf(
        upstream: u16,
        adjust: impl FnOnce(&mut rcgen::CertificateParams),
    ) -> HttpsEndpoint {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "shortcut-env test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        adjust(&mut params);
        let cert = params.signed_by(&key, &ca).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), CertificateDer::from(ca.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        let config = Arc::new(config);

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                let counter = Arc::clone(&counter);
                thread::spawn(move || {
                    let _ = serve(stream, config, upstream, &counter);
                });
            }
        });
        HttpsEndpoint {
            port,
            ca_pem: ca.pem(),
            requests,
        }
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// How many requests were relayed after a completed handshake.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Writes the CA certificate into `dir` and returns its path.
    pub fn write_ca(&self, dir: &Path) -> std::path::PathBuf {
        let path = dir.join("test-ca.pem");
        std::fs::write(&path, &self.ca_pem).unwrap();
        path
    }
}

/// One connection: TLS handshake, then one request, relayed to moto on a fresh connection
/// (`Connection: close`, so that moto's answer ends at EOF), then close.
fn serve(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    upstream: u16,
    counter: &AtomicUsize,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let connection = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = BufReader::new(rustls::StreamOwned::new(connection, stream));
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if tls.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") {
            continue;
        }
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        head.extend_from_slice(line.as_bytes());
    }
    let mut body = vec![0; length];
    tls.read_exact(&mut body)?;
    counter.fetch_add(1, Ordering::SeqCst);

    let mut moto = TcpStream::connect(("127.0.0.1", upstream))?;
    moto.set_read_timeout(Some(Duration::from_secs(30)))?;
    moto.write_all(&head)?;
    moto.write_all(b"Connection: close\r\n\r\n")?;
    moto.write_all(&body)?;
    let mut answer = Vec::new();
    moto.read_to_end(&mut answer)?;
    let out = tls.get_mut();
    out.write_all(&answer)?;
    out.flush()?;
    // moto closed its side: close ours too, so the client sees where the answer ends.
    out.conn.send_close_notify();
    out.flush()?;
    Ok(())
}

#[test]
fn an_https_endpoint_signed_by_a_private_ca_is_trusted_through_ssl_cert_file() {
    let endpoint = HttpsEndpoint::start(moto().port);
    let secret = seed_text(&guide_secret());

    let mut run = Run::aws(&endpoint.url(), &secret.name);
    let ca = endpoint.write_ca(run.temp.path());
    run.env("SSL_CERT_FILE", &ca);
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_lacks(MARKER);
    assert_eq!(env["MILVUS_HOST"], "milvus.internal");
    assert_eq!(env["OPENAI_API_KEY"], format!("sk-{MARKER}-openai"));
    assert!(endpoint.requests() >= 1);
}

#[test]
fn without_the_private_ca_the_endpoint_is_not_trusted() {
    let endpoint = HttpsEndpoint::start(moto().port);
    let secret = seed_text(&guide_secret());

    let outcome = Run::aws(&endpoint.url(), &secret.name)
        .env("SHORTCUT_ENV_TIMEOUT", "3")
        .command(&["/usr/bin/env"])
        .run();
    outcome
        .fails(69)
        .stderr_has("certificate")
        .stderr_lacks(MARKER);
    assert_eq!(
        endpoint.requests(),
        0,
        "no request may pass an untrusted TLS"
    );
}

#[test]
fn an_unreadable_ssl_cert_file_is_a_configuration_error() {
    let secret = seed_text(&guide_secret());
    let mut run = Run::moto(&secret.name);
    let missing = run.path("no-such-ca.pem");
    run.env("SSL_CERT_FILE", &missing);
    let outcome = run.command(&["/usr/bin/env"]).run();
    outcome.fails(78).stderr_has("SSL_CERT_FILE");
}

/// A run against a fresh HTTPS endpoint whose CA the variable `name` gives.
fn trusting_through(name: &str) -> (Outcome, std::collections::BTreeMap<String, String>) {
    let endpoint = HttpsEndpoint::start(moto().port);
    let secret = seed_text(&guide_secret());
    let mut run = Run::aws(&endpoint.url(), &secret.name);
    let ca = endpoint.write_ca(run.temp.path());
    run.env(name, &ca);
    run.env_seen()
}

#[test]
fn aws_ca_bundle_adds_a_private_ca_like_ssl_cert_file() {
    let (outcome, env) = trusting_through("AWS_CA_BUNDLE");
    outcome.code(0).stderr_lacks(MARKER);
    assert_eq!(env["MILVUS_HOST"], "milvus.internal");
}

#[test]
fn an_ssl_cert_dir_holding_the_private_ca_is_trusted() {
    let endpoint = HttpsEndpoint::start(moto().port);
    let secret = seed_text(&guide_secret());
    let mut run = Run::aws(&endpoint.url(), &secret.name);
    let dir = run.path("certs");
    std::fs::create_dir(&dir).unwrap();
    endpoint.write_ca(&dir);
    run.env("SSL_CERT_DIR", &dir);
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["MILVUS_HOST"], "milvus.internal");
}

#[test]
fn naming_the_system_store_again_keeps_the_private_ca_trusted() {
    let endpoint = HttpsEndpoint::start(moto().port);
    let secret = seed_text(&guide_secret());
    let mut run = Run::aws(&endpoint.url(), &secret.name);
    let ca = endpoint.write_ca(run.temp.path());
    run.env("SSL_CERT_FILE", &ca)
        .env("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
        .env("SSL_CERT_DIR", "/etc/ssl/certs");
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["MILVUS_HOST"], "milvus.internal");
}

/// A run against an endpoint whose certificate `adjust` spoiled, the CA trusted: refused.
fn refused(adjust: impl FnOnce(&mut rcgen::CertificateParams)) {
    let endpoint = HttpsEndpoint::with_leaf(moto().port, adjust);
    let secret = seed_text(&guide_secret());
    let mut run = Run::aws(&endpoint.url(), &secret.name);
    let ca = endpoint.write_ca(run.temp.path());
    run.env("SSL_CERT_FILE", &ca)
        .env("SHORTCUT_ENV_TIMEOUT", "3");
    let outcome = run.command(&["/usr/bin/env"]).run();
    outcome
        .fails(69)
        .stderr_has("certificate")
        .stderr_lacks(MARKER);
    assert_eq!(endpoint.requests(), 0, "no request may pass a refused TLS");
}

#[test]
fn a_certificate_for_another_host_is_not_trusted() {
    refused(|params| {
        params.subject_alt_names = vec![rcgen::SanType::DnsName(
            "secretsmanager.example.invalid".try_into().unwrap(),
        )];
    });
}

#[test]
fn an_expired_certificate_is_not_trusted() {
    refused(|params| {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
}

/// A run with trust-material variable `name` set to `value`: fails at once with 78 naming it.
fn unusable_trust(name: &str, value: &Path) -> Outcome {
    let secret = seed_text(&guide_secret());
    let outcome = Run::moto(&secret.name)
        .env(name, value)
        .command(&["/usr/bin/env"])
        .run();
    outcome
        .fails(78)
        .stderr_has(name)
        .stderr_has("docs/troubleshooting.md#trust-store-unusable");
    outcome
}

#[test]
fn a_missing_aws_ca_bundle_is_a_configuration_error_with_a_hint_to_the_docs() {
    let dir = tempfile::tempdir().unwrap();
    unusable_trust("AWS_CA_BUNDLE", &dir.path().join("absent.pem"));
}

#[test]
fn a_fifo_as_ssl_cert_file_fails_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ca.pem");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    // No writer ever opens it: a blocking open would hang until the run's time bound.
    unusable_trust("SSL_CERT_FILE", &fifo).stderr_has("not a regular file");
}

#[test]
fn a_huge_ssl_cert_file_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.pem");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    unusable_trust("SSL_CERT_FILE", &huge).stderr_has("larger than");
}

/// A run against the HTTPS endpoint whose CA only `SSL_CERT_DIR=dir` could hold: refused,
/// quickly, the error saying what reading the directory met.
fn refused_through_ssl_cert_dir(dir: &Path) -> Outcome {
    let endpoint = HttpsEndpoint::start(moto().port);
    let secret = seed_text(&guide_secret());
    let mut run = Run::aws(&endpoint.url(), &secret.name);
    run.env("SSL_CERT_DIR", dir)
        .env("SHORTCUT_ENV_TIMEOUT", "3");
    let outcome = run.command(&["/usr/bin/env"]).run();
    outcome
        .fails(69)
        .stderr_has("SSL_CERT_DIR did not help")
        .stderr_lacks(MARKER)
        .within(std::time::Duration::from_secs(20));
    assert_eq!(endpoint.requests(), 0, "no request may pass a refused TLS");
    outcome
}

#[test]
fn ssl_cert_dir_naming_proc_self_is_read_within_bounds_and_refused() {
    // Its files say they are empty (and some are endless): skipped, nothing exhausted.
    refused_through_ssl_cert_dir(Path::new("/proc/self")).stderr_has("/proc/self");
}

#[test]
fn an_empty_ssl_cert_dir_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    unusable_trust("SSL_CERT_DIR", dir.path()).stderr_has("holds no file");
}

#[test]
fn ssl_cert_dir_naming_a_file_is_a_configuration_error() {
    unusable_trust("SSL_CERT_DIR", Path::new("/dev/null")).stderr_has("not a readable directory");
}

#[test]
fn ssl_cert_file_naming_an_endless_proc_file_is_refused() {
    unusable_trust("SSL_CERT_FILE", Path::new("/proc/self/pagemap"));
}

#[test]
fn a_huge_file_in_ssl_cert_dir_is_skipped_unread_and_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::File::create(dir.path().join("huge.pem"))
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    refused_through_ssl_cert_dir(dir.path()).stderr_has("huge.pem is larger than 4 MiB");
}

#[test]
fn a_fifo_in_ssl_cert_dir_is_skipped_without_blocking() {
    let endpoint = HttpsEndpoint::start(moto().port);
    let secret = seed_text(&guide_secret());
    let mut run = Run::aws(&endpoint.url(), &secret.name);
    let dir = run.path("certs");
    std::fs::create_dir(&dir).unwrap();
    // No writer ever opens it: a blocking open or read would hang until the run's time bound.
    nix::unistd::mkfifo(&dir.join("0000aaaa.0"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    endpoint.write_ca(&dir);
    run.env("SSL_CERT_DIR", &dir);
    let (outcome, env) = run.env_seen();
    outcome.code(0);
    assert_eq!(env["MILVUS_HOST"], "milvus.internal");
}
