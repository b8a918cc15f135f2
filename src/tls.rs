//! The roots of trust for HTTPS to AWS, made to work in an image without a CA bundle.
//!
//! The SDK's default client trusts the system store only (and, when `SSL_CERT_FILE` or
//! `SSL_CERT_DIR` is set, *only* those instead). In a `FROM scratch` or distroless image there
//! is no system store, and every call would fail with an unknown issuer. So the HTTP client is
//! built here, with this trust store:
//!
//! 1. the system's CA bundle, read from the usual locations of Linux distributions;
//! 2. when there is none (or it holds no usable certificate), the public roots embedded in the
//!    binary (Mozilla's set, from the `webpki-root-certs` crate, which includes Amazon's roots);
//! 3. plus the certificates of `SSL_CERT_FILE` and `SSL_CERT_DIR`: a private CA (a TLS-inspecting
//!    proxy, a VPC endpoint behind a private CA, a test endpoint) is *added* to the public roots
//!    instead of replacing them.
//!
//! A variable that names something unreadable, or no certificate at all, is a configuration
//! error (78) rather than a silently ignored one.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_secretsmanager::config::SharedHttpClient;
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{
    HttpConnectorSettings, SharedHttpConnector, http_client_fn,
};
use base64::Engine;
use rustls::pki_types::CertificateDer;

use crate::error::Error;

/// System CA bundles, in the order Go's `crypto/x509` probes them; the first present one is used.
pub const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Gentoo, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL 6
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/pki/tls/cacert.pem",            // OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7+
    "/etc/ssl/cert.pem",                  // Alpine
];
/// Hashed certificate directories, read only when no bundle file exists.
pub const SYSTEM_DIRS: &[&str] = &["/etc/ssl/certs", "/etc/pki/tls/certs"];

/// Where the trusted roots come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The system's CA bundle.
    System,
    /// The public roots compiled into the binary (no usable system bundle).
    Embedded,
}

/// The trust store: the base roots plus any private ones.
#[derive(Debug)]
pub struct Roots {
    pub base: Base,
    /// Every trusted certificate, base first, then private ones (DER).
    pub certs: Vec<CertificateDer<'static>>,
    /// How many of `certs` came from `SSL_CERT_FILE` / `SSL_CERT_DIR`.
    pub private: usize,
}

/// Where to look, so that tests can point it anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub system_bundles: Vec<PathBuf>,
    pub system_dirs: Vec<PathBuf>,
    /// `SSL_CERT_FILE`
    pub cert_file: Option<PathBuf>,
    /// `SSL_CERT_DIR`, split on `:`
    pub cert_dirs: Vec<PathBuf>,
}

impl Sources {
    /// The system's locations and the `SSL_CERT_FILE` / `SSL_CERT_DIR` variables of `lookup`.
    pub fn system(lookup: impl Fn(&str) -> Option<std::ffi::OsString>) -> Sources {
        let non_empty = |name: &str| lookup(name).filter(|value| !value.is_empty());
        Sources {
            system_bundles: SYSTEM_BUNDLES.iter().map(PathBuf::from).collect(),
            system_dirs: SYSTEM_DIRS.iter().map(PathBuf::from).collect(),
            cert_file: non_empty("SSL_CERT_FILE").map(PathBuf::from),
            cert_dirs: non_empty("SSL_CERT_DIR")
                .map(|dirs| {
                    std::env::split_paths(&dirs)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Keeps the certificates rustls accepts as trust anchors (the SDK would panic on the others).
fn usable(certs: Vec<CertificateDer<'static>>) -> Vec<CertificateDer<'static>> {
    certs
        .into_iter()
        .filter(|cert| rustls::RootCertStore::empty().add(cert.clone()).is_ok())
        .collect()
}

fn load(file: Option<&Path>, dir: Option<&Path>) -> Vec<CertificateDer<'static>> {
    usable(rustls_native_certs::load_certs_from_paths(file, dir).certs)
}

fn system_roots(sources: &Sources) -> Vec<CertificateDer<'static>> {
    if let Some(bundle) = sources.system_bundles.iter().find(|p| p.is_file()) {
        let certs = load(Some(bundle), None);
        if !certs.is_empty() {
            return certs;
        }
    }
    sources
        .system_dirs
        .iter()
        .filter(|d| d.is_dir())
        .flat_map(|dir| load(None, Some(dir)))
        .collect()
}

/// The public roots compiled into the binary.
pub fn embedded_roots() -> Vec<CertificateDer<'static>> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS.to_vec()
}

fn invalid(name: &'static str, path: &Path, reason: &'static str) -> Error {
    Error::InvalidSetting {
        name,
        value: path.display().to_string(),
        reason,
    }
}

/// Builds the trust store from `sources`.
pub fn roots(sources: &Sources) -> Result<Roots, Error> {
    let system = system_roots(sources);
    let (base, mut certs) = if system.is_empty() {
        (Base::Embedded, embedded_roots())
    } else {
        (Base::System, system)
    };
    let before = certs.len();
    if let Some(file) = &sources.cert_file {
        if !file.is_file() {
            return Err(invalid(
                "SSL_CERT_FILE",
                file,
                "it is not a readable file of PEM certificates",
            ));
        }
        let private = load(Some(file), None);
        if private.is_empty() {
            return Err(invalid(
                "SSL_CERT_FILE",
                file,
                "it holds no usable PEM certificate",
            ));
        }
        certs.extend(private);
    }
    for dir in &sources.cert_dirs {
        if !dir.is_dir() {
            return Err(invalid("SSL_CERT_DIR", dir, "it is not a directory"));
        }
        certs.extend(load(None, Some(dir)));
    }
    let private = certs.len() - before;
    Ok(Roots {
        base,
        certs,
        private,
    })
}

/// PEM text of a DER certificate (the SDK's trust store takes PEM).
fn pem(cert: &CertificateDer<'_>) -> Vec<u8> {
    let body = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
    let mut text = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str("-----END CERTIFICATE-----\n");
    text.into_bytes()
}

/// The SDK's HTTPS client (rustls with aws-lc, as the `default-https-client` feature builds it)
/// trusting exactly `roots`, with one connector for the whole run.
///
/// The SDK's own client builds a connector for every distinct set of connector settings it is
/// asked for: three in a start (when the default chain's STS client and Secrets Manager's client
/// are constructed, then for the request), and each one parses the whole trust store again,
/// which was most of a start's CPU. A start makes one request, so one connector, built on first
/// use with our connect timeout, serves every client.
pub fn http_client_with(
    roots: &Roots,
    connect_timeout: Duration,
) -> Result<SharedHttpClient, Error> {
    let mut store = TrustStore::empty().with_native_roots(false);
    for cert in &roots.certs {
        store.add_pem_certificate(pem(cert));
    }
    let context = TlsContext::builder()
        .with_trust_store(store)
        .build()
        .map_err(|_| Error::InvalidSetting {
            name: "SSL_CERT_FILE",
            value: String::new(),
            reason: "the TLS configuration could not be built from these certificates",
        })?;
    let connector: OnceLock<SharedHttpConnector> = OnceLock::new();
    Ok(http_client_fn(move |_settings, components| {
        connector
            .get_or_init(|| {
                let settings = HttpConnectorSettings::builder()
                    .connect_timeout(connect_timeout)
                    .build();
                let mut builder = Connector::builder().connector_settings(settings);
                if let Some(sleep) = components.sleep_impl() {
                    builder = builder.sleep_impl(sleep);
                }
                SharedHttpConnector::new(
                    builder
                        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                        .tls_context(context.clone())
                        .build(),
                )
            })
            .clone()
    }))
}

/// Whether `cert`'s subject holds `name` (used by the tests and for diagnostics).
pub fn names(cert: &CertificateDer<'_>, name: &str) -> bool {
    let name = name.as_bytes();
    cert.as_ref().windows(name.len()).any(|w| w == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nowhere(dir: &Path) -> Sources {
        Sources {
            system_bundles: vec![dir.join("no-bundle.crt")],
            system_dirs: vec![dir.join("no-certs")],
            cert_file: None,
            cert_dirs: Vec::new(),
        }
    }

    fn test_ca() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "shortcut-env unit test CA");
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn without_system_certificates_the_embedded_roots_hold_amazons() {
        let dir = tempfile::tempdir().unwrap();
        let roots = roots(&nowhere(dir.path())).unwrap();
        assert_eq!(roots.base, Base::Embedded);
        assert!(roots.certs.len() > 100, "{}", roots.certs.len());
        assert_eq!(roots.private, 0);
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
        ] {
            assert!(roots.certs.iter().any(|c| names(c, name)), "{name}");
        }
        // Every one is a usable trust anchor, and the client builds with them.
        assert_eq!(usable(roots.certs.clone()).len(), roots.certs.len());
        http_client_with(&roots, Duration::from_secs(2)).unwrap();
    }

    #[test]
    fn an_empty_or_garbage_system_bundle_falls_back_to_the_embedded_roots() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = nowhere(dir.path());
        let bundle = dir.path().join("ca-certificates.crt");
        std::fs::write(&bundle, "not a certificate\n").unwrap();
        sources.system_bundles = vec![bundle];
        std::fs::create_dir(dir.path().join("no-certs")).unwrap();
        assert_eq!(roots(&sources).unwrap().base, Base::Embedded);
    }

    #[test]
    fn a_system_bundle_is_used_when_present() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = nowhere(dir.path());
        let bundle = dir.path().join("ca-certificates.crt");
        std::fs::write(&bundle, test_ca()).unwrap();
        sources.system_bundles = vec![dir.path().join("absent.crt"), bundle];
        let roots = roots(&sources).unwrap();
        assert_eq!((roots.base, roots.certs.len()), (Base::System, 1));
    }

    #[test]
    fn ssl_cert_file_adds_a_private_ca_to_the_public_roots() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = nowhere(dir.path());
        let file = dir.path().join("private-ca.pem");
        std::fs::write(&file, test_ca()).unwrap();
        sources.cert_file = Some(file);
        let roots = roots(&sources).unwrap();
        assert_eq!(roots.private, 1);
        assert!(
            roots
                .certs
                .iter()
                .any(|c| names(c, "shortcut-env unit test CA"))
        );
        assert!(roots.certs.iter().any(|c| names(c, "Amazon Root CA 1")));
        http_client_with(&roots, Duration::from_secs(2)).unwrap();
    }

    #[test]
    fn unusable_ssl_cert_variables_are_configuration_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let cases = [
            (Some(dir.path().join("absent.pem")), None, "SSL_CERT_FILE"),
            (Some(empty), None, "SSL_CERT_FILE"),
            (None, Some(dir.path().join("absent-dir")), "SSL_CERT_DIR"),
        ];
        for (file, cert_dir, name) in cases {
            let mut sources = nowhere(dir.path());
            sources.cert_file = file;
            sources.cert_dirs = cert_dir.into_iter().collect();
            let error = roots(&sources).unwrap_err();
            assert_eq!(error.exit_code(), 78, "{error}");
            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[test]
    fn variables_are_read_from_the_lookup() {
        let sources = Sources::system(|name| match name {
            "SSL_CERT_FILE" => Some("/x/ca.pem".into()),
            "SSL_CERT_DIR" => Some("/a::/b".into()),
            _ => None,
        });
        assert_eq!(sources.cert_file, Some(PathBuf::from("/x/ca.pem")));
        assert_eq!(
            sources.cert_dirs,
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        let sources = Sources::system(|_| Some("".into()));
        assert!(sources.cert_file.is_none() && sources.cert_dirs.is_empty());
    }

    #[test]
    fn pem_round_trips() {
        use rustls::pki_types::pem::PemObject;
        let cert = embedded_roots().remove(0);
        let back = CertificateDer::from_pem_slice(&pem(&cert)).unwrap();
        assert_eq!(back.as_ref(), cert.as_ref());
    }
}
