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
//! 3. plus the certificates of `SSL_CERT_FILE`, `AWS_CA_BUNDLE` (the AWS SDKs' variable) and
//!    `SSL_CERT_DIR`: a private CA (a TLS-inspecting proxy, a VPC endpoint behind a private CA,
//!    a test endpoint) is *added* to the public roots instead of replacing them.
//!
//! Every certificate is decoded and checked once: a file already read (the same inode, e.g.
//! `SSL_CERT_FILE` naming the system bundle, or the hashed links of `SSL_CERT_DIR=/etc/ssl/certs`)
//! is not read again, and a certificate already held is recognised by its base64 text and
//! dropped undecoded. Naming the system store again through these variables costs about 8 % more
//! instructions; what is left is the system calls to read `SSL_CERT_DIR`'s files, whose content
//! cannot be known otherwise (bench/README.md).
//!
//! Every read is bounded ([`MAX_FILE_BYTES`], [`MAX_DIR_BYTES`], [`MAX_DIR_ENTRIES`]) and only
//! regular files are read, opened without blocking: `SSL_CERT_DIR=/proc/self` or a FIFO as
//! `SSL_CERT_FILE` fails at once instead of exhausting memory or hanging. A variable that names
//! something unreadable, too large, or no certificate at all, is a configuration error (78)
//! naming the variable, rather than a silently ignored one.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
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
pub(crate) const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Gentoo, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL 6
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/pki/tls/cacert.pem",            // OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7+
    "/etc/ssl/cert.pem",                  // Alpine
];
/// Hashed certificate directories, read only when no bundle file exists.
pub(crate) const SYSTEM_DIRS: &[&str] = &["/etc/ssl/certs", "/etc/pki/tls/certs"];

/// The largest certificate file read. The system bundles of Linux distributions are about
/// 0.2 MiB; anything past this is not a CA bundle (`/proc/self/pagemap`, a disk image, …).
pub(crate) const MAX_FILE_BYTES: u64 = 4 << 20;
/// The most bytes read from all the files of one certificate directory.
pub(crate) const MAX_DIR_BYTES: u64 = 16 << 20;
/// The most entries looked at in one certificate directory (`/etc/ssl/certs` holds about 300).
pub(crate) const MAX_DIR_ENTRIES: usize = 10_000;

/// Where the trusted roots come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// The system's CA bundle.
    System,
    /// The public roots compiled into the binary (no usable system bundle).
    Embedded,
}

/// The trust store: the base roots plus any private ones. Only `pem` goes to the client; the
/// rest says what the store holds, for the unit tests and `Debug`.
#[derive(Debug)]
#[allow(dead_code, reason = "base, certs and private are read by the tests")]
pub(crate) struct Roots {
    pub base: Base,
    /// Every trusted certificate, once, base first, then private ones (DER).
    pub certs: Vec<CertificateDer<'static>>,
    /// How many of `certs` came from the variables only (not already in the base).
    pub private: usize,
    /// `certs` as PEM, for the SDK's trust store.
    pem: Vec<u8>,
}

/// Where to look, so that tests can point it anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sources {
    pub system_bundles: Vec<PathBuf>,
    pub system_dirs: Vec<PathBuf>,
    /// `SSL_CERT_FILE` then `AWS_CA_BUNDLE`, with the variable's name for errors.
    pub cert_files: Vec<(&'static str, PathBuf)>,
    /// `SSL_CERT_DIR`, split on `:`
    pub cert_dirs: Vec<PathBuf>,
}

impl Sources {
    /// The system's locations and the `SSL_CERT_FILE` / `AWS_CA_BUNDLE` / `SSL_CERT_DIR`
    /// variables of `lookup`.
    pub(crate) fn system(lookup: impl Fn(&str) -> Option<std::ffi::OsString>) -> Sources {
        let non_empty = |name: &str| lookup(name).filter(|value| !value.is_empty());
        Sources {
            system_bundles: SYSTEM_BUNDLES.iter().map(PathBuf::from).collect(),
            system_dirs: SYSTEM_DIRS.iter().map(PathBuf::from).collect(),
            cert_files: ["SSL_CERT_FILE", "AWS_CA_BUNDLE"]
                .into_iter()
                .filter_map(|name| Some((name, PathBuf::from(non_empty(name)?))))
                .collect(),
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

/// Why a file of trust material was not read.
#[derive(Debug)]
enum Unreadable {
    /// It could not be opened or read (missing, permissions, I/O error).
    Io,
    /// It is not a regular file (a directory, FIFO, socket, device).
    NotRegular,
    /// It is larger than the cap.
    TooLarge,
}

impl Unreadable {
    fn reason(&self) -> String {
        match self {
            Unreadable::Io => "it cannot be opened or read".into(),
            Unreadable::NotRegular => "it is not a regular file".into(),
            Unreadable::TooLarge => {
                format!("it is larger than {} MiB", MAX_FILE_BYTES >> 20)
            }
        }
    }
}

/// The files already read, by `(device, inode)`, and the certificates already held.
#[derive(Default)]
struct Collector {
    files: HashSet<(u64, u64)>,
    certs: Vec<CertificateDer<'static>>,
    /// The base64 text of every certificate met (kept or found unusable).
    held: HashSet<Held>,
    /// `certs` as PEM, for the SDK's trust store (which takes PEM only), made from the base64
    /// text read rather than encoded again.
    pem: Vec<u8>,
}

/// A certificate as a set key: its base64 text, whitespace removed.
///
/// The decoder accepts canonical base64 only, so two certificates are the same exactly when
/// these texts are: a certificate met again (the files of `SSL_CERT_DIR=/etc/ssl/certs` repeat
/// the system bundle's) is recognised and dropped without being decoded or checked. Hashed by
/// its length and last bytes (the end of the signature, which differs between distinct
/// certificates) rather than all of it; compared in full.
#[derive(PartialEq, Eq)]
struct Held(Vec<u8>);

impl std::hash::Hash for Held {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        state.write(&self.0[self.0.len().saturating_sub(16)..]);
    }
}

/// The decoder of PEM bodies: canonical base64 only (padding and trailing bits as encoded).
const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl Collector {
    /// Reads `path` unless it was read already: at most `cap` bytes of a regular file.
    ///
    /// It is opened with `O_NONBLOCK` so that a FIFO does not block the open, then checked on
    /// the open descriptor (no race with a rename); `Ok(None)` means already read.
    fn read(&mut self, path: &Path, cap: u64) -> Result<Option<Vec<u8>>, Unreadable> {
        let file = File::options()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(path)
            .map_err(|_| Unreadable::Io)?;
        let meta = file.metadata().map_err(|_| Unreadable::Io)?;
        if !meta.is_file() {
            return Err(Unreadable::NotRegular);
        }
        if meta.len() > cap {
            return Err(Unreadable::TooLarge);
        }
        if !self.files.insert((meta.dev(), meta.ino())) {
            return Ok(None);
        }
        read_bounded(file, meta.len(), cap).map(Some)
    }

    /// Adds the usable certificates of PEM `text` not held yet; returns how many it holds.
    ///
    /// Certificates rustls does not accept as trust anchors are left out (the SDK would panic
    /// on them); each new one is decoded and checked once, a repeated one not at all.
    fn add_pem(&mut self, text: &[u8]) -> usize {
        let mut found = 0;
        let mut body = Vec::new();
        for section in pem_sections(text) {
            base64_text(section, &mut body);
            let key = Held(std::mem::take(&mut body));
            if self.held.contains(&key) {
                found += 1;
                body = key.0;
                continue;
            }
            let Ok(der) = BASE64.decode(&key.0) else {
                // Not a certificate (broken base64): skipped, as OpenSSL would.
                body = key.0;
                continue;
            };
            found += 1;
            let cert = CertificateDer::from(der);
            if usable(&cert) {
                push_pem(&mut self.pem, &key.0);
                self.certs.push(cert);
            }
            self.held.insert(key);
        }
        found
    }

    /// Holds `certs`, known good, without a check.
    fn add_trusted(&mut self, certs: Vec<CertificateDer<'static>>) {
        let mut body = String::new();
        for cert in &certs {
            body.clear();
            BASE64.encode_string(cert.as_ref(), &mut body);
            push_pem(&mut self.pem, body.as_bytes());
            self.held.insert(Held(body.as_bytes().to_vec()));
        }
        self.certs.extend(certs);
    }

    /// Reads the regular files of `dir` (not recursively), within [`MAX_DIR_ENTRIES`] and
    /// [`MAX_DIR_BYTES`]. Entries that are not regular files, or cannot be read, are skipped,
    /// as OpenSSL would; one too large is an error, and so is a directory without a certificate.
    ///
    /// A system call costs about 2 µs on a small VM, and `/etc/ssl/certs` holds about 300
    /// entries, so each entry is looked up relative to the directory (no walk of its path) and a
    /// new file costs three calls: open, one read of the size its stat gave, close. A file is
    /// not checked again once open (a FIFO swapped in opens without blocking and reads empty,
    /// a larger file is still read within the cap).
    fn add_dir(&mut self, dir: &Path) -> Result<(), String> {
        use nix::fcntl::{AtFlags, OFlag, openat};
        use nix::sys::stat::{Mode, SFlag, fstatat};
        let unreadable = "it is not a readable directory";
        let entries = std::fs::read_dir(dir).map_err(|_| unreadable)?;
        let at = File::options()
            .read(true)
            .custom_flags((OFlag::O_DIRECTORY | OFlag::O_NONBLOCK).bits())
            .open(dir)
            .map_err(|_| unreadable)?;
        let mut found = 0;
        let mut budget = MAX_DIR_BYTES;
        for (n, entry) in entries.enumerate() {
            if n >= MAX_DIR_ENTRIES {
                return Err(format!("it has more than {MAX_DIR_ENTRIES} entries"));
            }
            let Ok(entry) = entry else { continue };
            let name = entry.file_name();
            // Follows symlinks (`openssl rehash` makes them); skips without opening what is
            // not a regular file or was read already.
            let Ok(stat) = fstatat(&at, name.as_os_str(), AtFlags::empty()) else {
                continue;
            };
            if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
                continue;
            }
            let size = u64::try_from(stat.st_size).unwrap_or(0);
            let cap = MAX_FILE_BYTES.min(budget);
            #[allow(clippy::unnecessary_cast)] // dev_t and ino_t are u64 on Linux, not elsewhere
            if !self.files.insert((stat.st_dev as u64, stat.st_ino as u64)) {
                // Read already, from this directory or elsewhere (the system bundle).
                found += 1;
                continue;
            }
            let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
            let read = if size > cap {
                Err(Unreadable::TooLarge)
            } else {
                match openat(&at, name.as_os_str(), flags, Mode::empty()) {
                    Ok(fd) => read_bounded(File::from(fd), size, cap),
                    Err(_) => Err(Unreadable::Io),
                }
            };
            match read {
                Ok(text) => {
                    budget -= text.len() as u64;
                    found += self.add_pem(&text);
                }
                Err(Unreadable::Io | Unreadable::NotRegular) => {}
                Err(Unreadable::TooLarge) if budget < MAX_FILE_BYTES => {
                    return Err(format!(
                        "its files hold more than {} MiB",
                        MAX_DIR_BYTES >> 20
                    ));
                }
                Err(Unreadable::TooLarge) => {
                    return Err(format!(
                        "{} is larger than {} MiB",
                        dir.join(&name).display(),
                        MAX_FILE_BYTES >> 20
                    ));
                }
            }
        }
        if found == 0 {
            return Err("it holds no PEM certificate".into());
        }
        Ok(())
    }
}

/// Reads `file`, which a stat found to be a regular file of `size` bytes: at most `cap`
/// bytes, else [`Unreadable::TooLarge`].
///
/// A file of known size is read in one call (a call to see its end costs as much as the read),
/// up to that size: one that grew since is read as it was. Files of /proc report a size of 0
/// and may be endless: those are read to their end, within the cap.
fn read_bounded(mut file: File, size: u64, cap: u64) -> Result<Vec<u8>, Unreadable> {
    if size > cap {
        return Err(Unreadable::TooLarge);
    }
    let mut text = Vec::new();
    if size == 0 {
        file.take(cap + 1)
            .read_to_end(&mut text)
            .map_err(|_| Unreadable::Io)?;
        if text.len() as u64 > cap {
            return Err(Unreadable::TooLarge);
        }
        return Ok(text);
    }
    text.resize(usize::try_from(size).map_err(|_| Unreadable::TooLarge)?, 0);
    let mut filled = 0;
    while filled < text.len() {
        match file.read(&mut text[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err(Unreadable::Io),
        }
    }
    text.truncate(filled);
    Ok(text)
}

/// The text between each `-----BEGIN CERTIFICATE-----` and the next `-----END CERTIFICATE-----`
/// of PEM `text`; anything between sections (comments, other kinds of section) is skipped.
///
/// The markers are found with `memchr`'s vectorised search: a system bundle is about 0.2 MiB,
/// and a byte-at-a-time scan of it cost more than decoding it.
fn pem_sections(text: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    // Built once: a searcher costs about a thousand instructions, and there is one call a file.
    static FIND_BEGIN: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(BEGIN));
    static FIND_END: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(END));
    let mut rest = text;
    std::iter::from_fn(move || {
        let start = FIND_BEGIN.find(rest)? + BEGIN.len();
        let len = FIND_END.find(&rest[start..])?;
        let section = &rest[start..start + len];
        rest = &rest[start + len + END.len()..];
        Some(section)
    })
}

/// The base64 text of a PEM `section` into `out`: its lines, whitespace removed.
///
/// Not rustls-pki-types' PEM reader: its base64 decoder is constant-time, right for private
/// keys but about 25 instructions a byte for public certificates; lines are copied whole here
/// and the `base64` crate decodes several times faster.
fn base64_text(section: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(section.len());
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', section).chain([section.len()]) {
        out.extend_from_slice(section[start..end].trim_ascii());
        start = end + 1;
    }
    // Whitespace inside a line (rare): removed too.
    if memchr::memchr3(b' ', b'\t', b'\r', out).is_some() || memchr::memchr(b'\x0c', out).is_some()
    {
        out.retain(|b| !b.is_ascii_whitespace());
    }
}

/// Appends one certificate's PEM section, from its base64 text, to `pem`.
fn push_pem(pem: &mut Vec<u8>, base64: &[u8]) {
    pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
    for line in base64.chunks(64) {
        pem.extend_from_slice(line);
        pem.push(b'\n');
    }
    pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
}

/// Whether rustls accepts `cert` as a trust anchor (parses it; the SDK would panic otherwise).
fn usable(cert: &CertificateDer<'_>) -> bool {
    rustls::RootCertStore::empty()
        .add(cert.clone().into_owned())
        .is_ok()
}

/// The first system bundle with a usable certificate, else the system directories.
fn system_roots(sources: &Sources, out: &mut Collector) {
    for bundle in &sources.system_bundles {
        if let Ok(Some(text)) = out.read(bundle, MAX_FILE_BYTES) {
            out.add_pem(&text);
            if !out.certs.is_empty() {
                return;
            }
        }
    }
    for dir in &sources.system_dirs {
        // A broken system directory is no reason to fail: the embedded roots take over.
        let _ = out.add_dir(dir);
    }
}

/// The public roots compiled into the binary.
pub(crate) fn embedded_roots() -> Vec<CertificateDer<'static>> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS.to_vec()
}

fn invalid(name: &'static str, path: &Path, reason: String) -> Error {
    Error::TrustStoreUnusable {
        name,
        path: path.display().to_string(),
        reason,
    }
}

/// Builds the trust store from `sources`.
pub(crate) fn roots(sources: &Sources) -> Result<Roots, Error> {
    let mut out = Collector::default();
    system_roots(sources, &mut out);
    let base = if out.certs.is_empty() {
        // Known good (a unit test checks each one): added without a check.
        out.add_trusted(embedded_roots());
        Base::Embedded
    } else {
        Base::System
    };
    let before = out.certs.len();
    for (name, file) in &sources.cert_files {
        match out.read(file, MAX_FILE_BYTES) {
            Err(why) => return Err(invalid(name, file, why.reason())),
            // Read already (the system bundle, or both variables naming one file).
            Ok(None) => {}
            Ok(Some(text)) => {
                if out.add_pem(&text) == 0 {
                    return Err(invalid(name, file, "it holds no PEM certificate".into()));
                }
            }
        }
    }
    for dir in &sources.cert_dirs {
        out.add_dir(dir)
            .map_err(|reason| invalid("SSL_CERT_DIR", dir, reason))?;
    }
    let private = out.certs.len() - before;
    Ok(Roots {
        base,
        certs: out.certs,
        private,
        pem: out.pem,
    })
}

/// The rustls crypto provider: *ring* by default, AWS-LC's FIPS module with the `fips` feature.
///
/// Not AWS-LC's default build, which the SDK uses: it seeds its random generator from a
/// CPU-jitter entropy source, about 22 ms of CPU at the first TLS handshake, most of a start's
/// cost (bench/README.md). *ring* seeds from the kernel (`getrandom`), like OpenSSL, Go and
/// BoringSSL, builds without cmake (cross-compiles easily), and is smaller.
fn crypto_mode() -> CryptoMode {
    #[cfg(feature = "fips")]
    return CryptoMode::AwsLcFips;
    #[cfg(not(feature = "fips"))]
    CryptoMode::Ring
}

/// The SDK's HTTPS client (rustls, see [`crypto_mode`], with the SDK's cipher suites) trusting
/// exactly `roots`, with one connector for the whole run.
///
/// The SDK's own client builds a connector for every distinct set of connector settings it is
/// asked for: three in a start (when the default chain's STS client and Secrets Manager's client
/// are constructed, then for the request), and each one parses the whole trust store again,
/// which was most of a start's CPU. A start makes one request, so one connector, built on first
/// use with our connect timeout, serves every client.
pub(crate) fn http_client_with(
    roots: &Roots,
    connect_timeout: Duration,
) -> Result<SharedHttpClient, Error> {
    let store = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(roots.pem.clone());
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
                        .tls_provider(tls::Provider::Rustls(crypto_mode()))
                        .tls_context(context.clone())
                        .build(),
                )
            })
            .clone()
    }))
}

/// Whether `cert`'s subject holds `name`.
#[cfg(test)]
pub(crate) fn names(cert: &CertificateDer<'_>, name: &str) -> bool {
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
            cert_files: Vec::new(),
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
        assert!(roots.certs.iter().all(usable));
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
        sources.cert_files = vec![("SSL_CERT_FILE", file)];
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
            sources.cert_files = file.map(|f| ("SSL_CERT_FILE", f)).into_iter().collect();
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
        assert_eq!(
            sources.cert_files,
            [("SSL_CERT_FILE", PathBuf::from("/x/ca.pem"))]
        );
        assert_eq!(
            sources.cert_dirs,
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        let sources = Sources::system(|_| Some("".into()));
        assert!(sources.cert_files.is_empty() && sources.cert_dirs.is_empty());
    }

    /// PEM text of `certs`, as the SDK would read it.
    fn pem(certs: &[CertificateDer<'_>]) -> Vec<u8> {
        let mut out = Collector::default();
        out.add_trusted(certs.iter().map(|c| c.clone().into_owned()).collect());
        out.pem
    }

    /// The certificates a collector keeps from PEM `text`, and how many sections it counted.
    fn collected(text: &[u8]) -> (Vec<CertificateDer<'static>>, usize) {
        let mut out = Collector::default();
        let found = out.add_pem(text);
        (out.certs, found)
    }

    #[test]
    fn pem_round_trips() {
        use rustls::pki_types::pem::PemObject;
        let certs = embedded_roots();
        let text = pem(&certs);
        let back: Vec<_> = CertificateDer::pem_slice_iter(&text)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back, certs);
        let (read, found) = collected(&text);
        assert_eq!((read, found), (certs.clone(), certs.len()));
        // What the SDK is handed is the text read, not encoded again.
        let mut out = Collector::default();
        out.add_pem(&text);
        assert_eq!(out.pem, text);
    }

    #[test]
    fn pem_with_crlf_long_lines_or_inner_spaces_reads_the_same() {
        let certs = embedded_roots();
        let text = String::from_utf8(pem(&certs[..3])).unwrap();
        let crlf = text.replace('\n', "\r\n");
        let spaced = text.replace('\n', " \n  ");
        let joined = text
            .split("-----END CERTIFICATE-----")
            .map(|s| s.replace('\n', ""))
            .collect::<Vec<_>>()
            .join("-----END CERTIFICATE-----\n");
        for variant in [crlf, spaced, joined] {
            assert_eq!(
                collected(variant.as_bytes()).0,
                certs[..3],
                "{variant:.200}"
            );
        }
    }

    #[test]
    fn a_certificate_met_again_in_other_text_is_kept_once() {
        let certs = embedded_roots();
        let mut out = Collector::default();
        assert_eq!(out.add_pem(&pem(&certs[..2])), 2);
        let other = String::from_utf8(pem(&certs[1..3]))
            .unwrap()
            .replace('\n', "\r\n");
        assert_eq!(out.add_pem(other.as_bytes()), 2);
        assert_eq!(out.certs, certs[..3]);
        assert_eq!(out.pem, pem(&certs[..3]));
    }

    #[test]
    fn a_file_or_certificate_already_held_is_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = nowhere(dir.path());
        let bundle = dir.path().join("ca-certificates.crt");
        std::fs::write(&bundle, test_ca() + &test_ca()).unwrap();
        let copy = dir.path().join("copy.pem");
        std::fs::copy(&bundle, &copy).unwrap();
        sources.system_bundles = vec![bundle.clone()];
        sources.cert_files = vec![("SSL_CERT_FILE", bundle), ("AWS_CA_BUNDLE", copy)];
        sources.cert_dirs = vec![dir.path().to_path_buf()];
        let roots = roots(&sources).unwrap();
        assert_eq!((roots.certs.len(), roots.private), (2, 0));
    }

    #[test]
    fn pem_sections_between_other_text_are_read_and_broken_ones_skipped() {
        let certs = embedded_roots();
        let mut text =
            b"# a comment\n-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n".to_vec();
        text.extend(pem(&certs[..2]));
        text.extend(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        text.extend(b"-----BEGIN CERTIFICATE-----\nAAAA"); // cut short
        assert_eq!(collected(&text), (certs[..2].to_vec(), 2));
    }

    #[test]
    fn aws_ca_bundle_is_read_from_the_lookup() {
        let sources = Sources::system(|name| (name == "AWS_CA_BUNDLE").then(|| "/x/b.pem".into()));
        assert_eq!(
            sources.cert_files,
            [("AWS_CA_BUNDLE", PathBuf::from("/x/b.pem"))]
        );
    }
}
