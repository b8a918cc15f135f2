//! The roots of trust for HTTPS to AWS, made to work in an image without a CA bundle, and the
//! check of a server's certificate against them.
//!
//! The trust store:
//! 1. the system's CA bundle, read from the usual locations of Linux distributions;
//! 2. when there is none (or it holds no usable certificate), the public roots embedded in the
//!    binary (Mozilla's set, from the `webpki-roots` crate, which includes Amazon's roots);
//! 3. plus the certificates of `SSL_CERT_FILE`, `AWS_CA_BUNDLE` (the AWS SDKs' variable) and
//!    `SSL_CERT_DIR`: a private CA (a TLS-inspecting proxy, a VPC endpoint behind a private CA,
//!    a test endpoint) is *added* to the public roots instead of replacing them (the SDK's own
//!    client trusts *only* those when they are set).
//!
//! Every certificate is decoded and parsed into a trust anchor once, at start, straight from
//! the DER (no PEM round trip), and the embedded roots are trust anchors already: nothing of
//! them is parsed at all. A file already read (the same inode, e.g. `SSL_CERT_FILE` naming the
//! system bundle) is not read again, and a certificate already held is recognised by its
//! base64 text and dropped undecoded.
//!
//! `SSL_CERT_DIR` is listed at start but its files are read (all of them, once a run) only
//! when a server's certificate does not chain to the other roots, as OpenSSL too reads it only
//! when it looks an issuer up: `/etc/ssl/certs` holds ~300 entries, and a stat and a read of
//! each cost a quarter of a start (bench/README.md). A directory that cannot be listed, or
//! holds no file, fails at once (78); what reading it met (a file too large, files that could
//! not be read, no new certificate) is in the error of a refused certificate (69).
//!
//! Every read is bounded ([`MAX_FILE_BYTES`], [`MAX_DIR_BYTES`], [`MAX_DIR_ENTRIES`]) and only
//! regular files are read, opened without blocking: a FIFO as `SSL_CERT_FILE` or in
//! `SSL_CERT_DIR`, or `SSL_CERT_DIR=/proc/self`, never hangs or exhausts memory. A file
//! variable that names something unreadable, too large, or no certificate at all, is a
//! configuration error (78) naming the variable, rather than a silently ignored one.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

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

/// The trust store: the base roots plus any private ones, as trust anchors, and the
/// `SSL_CERT_DIR` files listed but not read yet.
pub(crate) struct Roots {
    pub base: Base,
    /// How many anchors came from the variables only (not already in the base).
    pub private: usize,
    /// Every trust anchor held, base first, and what was read to make them.
    held: Collector,
    /// The files of `SSL_CERT_DIR`, read on first need ([`Trust`]).
    unread: Vec<Listing>,
}

impl Roots {
    /// The trust anchors held (without the unread `SSL_CERT_DIR` files).
    #[cfg(test)]
    pub(crate) fn store(&self) -> &RootCertStore {
        &self.held.store
    }

    /// The check of a server's certificate against these roots, with `provider`'s algorithms.
    ///
    /// The store goes into the check as it is; it is copied only when `SSL_CERT_DIR` files
    /// may be added to it later.
    pub(crate) fn trust(self, provider: Arc<CryptoProvider>) -> Result<Arc<Trust>, Error> {
        let (store, unread) = if self.unread.is_empty() {
            (self.held.store, None)
        } else {
            let store = self.held.store.clone();
            let unread = Unread {
                held: self.held,
                dirs: self.unread,
            };
            (store, Some(unread))
        };
        let verifier = verifier(store, &provider)?;
        Ok(Arc::new(Trust {
            provider,
            state: Mutex::new(State {
                verifier,
                unread,
                notes: None,
            }),
        }))
    }
}

impl std::fmt::Debug for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Roots")
            .field("base", &self.base)
            .field("anchors", &self.held.store.len())
            .field("private", &self.private)
            .field("unread_dirs", &self.unread.len())
            .finish()
    }
}

/// rustls' standard check (chain, names, validity, signatures) against `store`.
fn verifier(
    store: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, Error> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(provider))
        .build()
        .map_err(|_| Error::TrustStoreUnusable {
            name: "SSL_CERT_FILE",
            path: String::new(),
            reason: "no trust anchor could be built from the certificates found".into(),
        })
}

/// The server-certificate check of every connection: rustls' own against the roots held,
/// and, the first time a certificate chains to none of them, once more after reading the
/// `SSL_CERT_DIR` files (then kept for the later connections of the run).
pub(crate) struct Trust {
    provider: Arc<CryptoProvider>,
    state: Mutex<State>,
}

struct State {
    verifier: Arc<WebPkiServerVerifier>,
    unread: Option<Unread>,
    /// What reading the `SSL_CERT_DIR` files met that may explain a refusal: a file too large,
    /// files that could not be read, a directory without a certificate.
    notes: Option<Arc<str>>,
}

/// What the `SSL_CERT_DIR` files are added to when read.
struct Unread {
    held: Collector,
    dirs: Vec<Listing>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust").finish_non_exhaustive()
    }
}

impl Trust {
    fn current(&self) -> Arc<WebPkiServerVerifier> {
        match self.state.lock() {
            Ok(state) => Arc::clone(&state.verifier),
            Err(poisoned) => Arc::clone(&poisoned.into_inner().verifier),
        }
    }

    /// What the `SSL_CERT_DIR` files add to a check that `used` refused: the check with them
    /// (read now if not yet), unless `used` had them already, and what reading them met.
    fn with_dirs(&self, used: &Arc<WebPkiServerVerifier>) -> Help {
        let Ok(mut state) = self.state.lock() else {
            return Help::default();
        };
        if let Some(Unread { mut held, dirs }) = state.unread.take() {
            let notes: Vec<String> = dirs
                .iter()
                .filter_map(|listing| listing.read_into(&mut held))
                .collect();
            state.notes = (!notes.is_empty()).then(|| notes.join("; ").into());
            if let Ok(verifier) = verifier(held.store, &self.provider) {
                state.verifier = verifier;
            }
        }
        Help {
            // Read now, or by another connection since `used` was taken.
            verifier: (!Arc::ptr_eq(&state.verifier, used)).then(|| Arc::clone(&state.verifier)),
            notes: state.notes.clone(),
        }
    }
}

/// See [`Trust::with_dirs`].
#[derive(Default)]
struct Help {
    verifier: Option<Arc<WebPkiServerVerifier>>,
    notes: Option<Arc<str>>,
}

/// A refusal, with what reading `SSL_CERT_DIR` met (rustls shows it through `Debug`).
struct Refusal {
    error: CertificateError,
    notes: Arc<str>,
}

impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, and SSL_CERT_DIR did not help: {}",
            self.error, self.notes
        )
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Refusal {}

impl ServerCertVerifier for Trust {
    /// rustls' check against the roots held; when it fails on the chain (not on the name: a
    /// certificate for another host is refused whatever the roots), once more with the
    /// `SSL_CERT_DIR` files. Not only on `UnknownIssuer`: webpki reports the most specific
    /// error of the paths it tried, so an expired cross-signature or a rotated CA of the same
    /// name in the roots held would hide the issuer the directory holds.
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verify = |verifier: &WebPkiServerVerifier| {
            verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        };
        let used = self.current();
        let refused = match verify(&used) {
            Err(rustls::Error::InvalidCertificate(
                error @ (CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. }),
            )) => return Err(rustls::Error::InvalidCertificate(error)),
            Err(rustls::Error::InvalidCertificate(error)) => error,
            accepted => return accepted,
        };
        let help = self.with_dirs(&used);
        let error = match help.verifier {
            Some(verifier) => match verify(&verifier) {
                Err(rustls::Error::InvalidCertificate(error)) => error,
                other => return other,
            },
            None => refused,
        };
        Err(rustls::Error::InvalidCertificate(match help.notes {
            Some(notes) => {
                CertificateError::Other(rustls::OtherError(Arc::new(Refusal { error, notes })))
            }
            None => error,
        }))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current().supported_verify_schemes()
    }
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

/// The files already read, by `(device, inode)`, the certificates met, and the trust anchors
/// made of them.
struct Collector {
    files: HashSet<(u64, u64)>,
    /// The base64 text of every certificate met (kept or found unusable).
    held: HashSet<Held>,
    /// The trust anchors: each certificate parsed once, from its DER.
    store: RootCertStore,
}

impl Default for Collector {
    fn default() -> Self {
        Collector {
            files: HashSet::new(),
            held: HashSet::new(),
            store: RootCertStore::empty(),
        }
    }
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
            .custom_flags((nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_NOCTTY).bits())
            .open(path)
            .map_err(|_| Unreadable::Io)?;
        self.read_open(file, cap, None)
    }

    /// Reads the open `file` unless it was read already: a regular file of at most `cap`
    /// bytes, checked on the descriptor (no race with a rename), and when `listed` is given,
    /// the very `(device, inode)` a listing saw (not one swapped in since). `Ok(None)` means
    /// already read.
    fn read_open(
        &mut self,
        file: File,
        cap: u64,
        listed: Option<(u64, u64)>,
    ) -> Result<Option<Vec<u8>>, Unreadable> {
        let meta = file.metadata().map_err(|_| Unreadable::Io)?;
        let inode = (meta.dev(), meta.ino());
        if !meta.is_file() || listed.is_some_and(|listed| listed != inode) {
            return Err(Unreadable::NotRegular);
        }
        if meta.len() > cap {
            return Err(Unreadable::TooLarge);
        }
        if !self.files.insert(inode) {
            return Ok(None);
        }
        read_bounded(file, meta.len(), cap).map(Some)
    }

    /// Adds the usable certificates of PEM `text` not held yet; returns how many it holds.
    ///
    /// Certificates rustls does not accept as trust anchors are left out; each new one is
    /// decoded and parsed once, a repeated one not at all.
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
            // Unusable as an anchor (not a certificate rustls can parse): left out.
            let _ = self.store.add(CertificateDer::from(der));
            self.held.insert(key);
        }
        found
    }

    /// Lists the entries of `dir` (not recursively) that may be certificate files, to read
    /// on first need, within [`MAX_DIR_ENTRIES`]: an error when it is not a readable directory
    /// or holds no such entry.
    ///
    /// Only the directory is read (its entry types come with the names, on the file systems
    /// that give them: ext4, XFS, btrfs, tmpfs, overlayfs; elsewhere std looks each entry up):
    /// a system call costs about 2 µs on a small VM, and a `stat` and a read of each of
    /// `/etc/ssl/certs`'s ~300 entries cost a quarter of a start.
    fn list_dir(dir: &Path) -> Result<Listing, String> {
        let entries = std::fs::read_dir(dir).map_err(|_| "it is not a readable directory")?;
        let mut names = Vec::new();
        for (n, entry) in entries.enumerate() {
            if n >= MAX_DIR_ENTRIES {
                return Err(format!("it has more than {MAX_DIR_ENTRIES} entries"));
            }
            let Ok(entry) = entry else { continue };
            // A file, a symlink (`openssl rehash` makes them), or unknown to this file system.
            if entry.file_type().is_ok_and(|kind| !kind.is_dir()) {
                names.push(entry.file_name());
            }
        }
        if names.is_empty() {
            return Err("it holds no file".into());
        }
        Ok(Listing {
            dir: dir.to_path_buf(),
            names,
        })
    }
}

/// The entries of one `SSL_CERT_DIR` directory, listed at start.
struct Listing {
    dir: PathBuf,
    names: Vec<OsString>,
}

impl Listing {
    /// Reads the listed files into `held`, within [`MAX_FILE_BYTES`] a file and
    /// [`MAX_DIR_BYTES`] in all; returns what it met that may explain a refusal.
    ///
    /// Entries that are not regular files, are empty (a file of `/proc` says it is) or were
    /// read already (the same inode: the system bundle, another directory) are skipped, as
    /// OpenSSL would; a new file costs five calls: stat, open, a stat of the open file, one
    /// read, close. A file that grew since is read as it is now, within the same bounds.
    fn read_into(&self, held: &mut Collector) -> Option<String> {
        use nix::fcntl::{AtFlags, OFlag, openat};
        use nix::sys::stat::{Mode, SFlag, fstatat};
        let shown = self.dir.display();
        let Ok(at) = File::options()
            .read(true)
            .custom_flags((OFlag::O_DIRECTORY | OFlag::O_NONBLOCK).bits())
            .open(&self.dir)
        else {
            return Some(format!("{shown} is not a readable directory"));
        };
        let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
        let (before, mut budget) = (held.store.len(), MAX_DIR_BYTES);
        let (mut unreadable, mut too_large, mut over_budget) = (0, Vec::new(), false);
        for name in &self.names {
            let Ok(stat) = fstatat(&at, name.as_os_str(), AtFlags::empty()) else {
                continue;
            };
            let size = u64::try_from(stat.st_size).unwrap_or(0);
            #[allow(clippy::unnecessary_cast)] // dev_t and ino_t are u64 on Linux, not elsewhere
            let inode = (stat.st_dev as u64, stat.st_ino as u64);
            if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG
                || size == 0
                || held.files.contains(&inode)
            {
                continue;
            }
            if size > MAX_FILE_BYTES {
                too_large.push(name);
                continue;
            }
            if size > budget {
                over_budget = true;
                continue;
            }
            // Checked again on the open file: what was listed may have been swapped since.
            let read = openat(&at, name.as_os_str(), flags, Mode::empty())
                .map_err(|_| Unreadable::Io)
                .and_then(|fd| {
                    held.read_open(File::from(fd), MAX_FILE_BYTES.min(budget), Some(inode))
                });
            match read {
                Ok(Some(text)) => {
                    budget -= text.len() as u64;
                    held.add_pem(&text);
                }
                Ok(None) => {}
                Err(_) => unreadable += 1,
            }
        }
        let mut notes = Vec::new();
        if let Some(first) = too_large.first() {
            let more = match too_large.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            notes.push(format!(
                "{}{more} is larger than {} MiB",
                self.dir.join(first).display(),
                MAX_FILE_BYTES >> 20
            ));
        }
        if over_budget {
            notes.push(format!(
                "{shown}'s files hold more than {} MiB",
                MAX_DIR_BYTES >> 20
            ));
        }
        if unreadable > 0 {
            notes.push(format!("{unreadable} of {shown}'s files could not be read"));
        }
        if held.store.len() == before && notes.is_empty() {
            notes.push(format!("{shown} holds no new certificate"));
        }
        (!notes.is_empty()).then(|| notes.join(", "))
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

/// The first system bundle with a usable certificate, else the system directories.
fn system_roots(sources: &Sources, out: &mut Collector) {
    for bundle in &sources.system_bundles {
        if let Ok(Some(text)) = out.read(bundle, MAX_FILE_BYTES) {
            out.add_pem(&text);
            if !out.store.is_empty() {
                return;
            }
        }
    }
    for dir in &sources.system_dirs {
        // A broken system directory is no reason to fail: the embedded roots take over.
        if let Ok(listing) = Collector::list_dir(dir) {
            listing.read_into(out);
        }
    }
}

/// The public roots compiled into the binary, as trust anchors: nothing to parse.
pub(crate) fn embedded_roots() -> impl Iterator<Item = rustls::pki_types::TrustAnchor<'static>> {
    webpki_roots::TLS_SERVER_ROOTS.iter().cloned()
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
    let base = if out.store.is_empty() {
        out.store.extend(embedded_roots());
        Base::Embedded
    } else {
        Base::System
    };
    let before = out.store.len();
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
    let mut unread = Vec::new();
    for dir in &sources.cert_dirs {
        unread
            .push(Collector::list_dir(dir).map_err(|reason| invalid("SSL_CERT_DIR", dir, reason))?);
    }
    Ok(Roots {
        base,
        private: out.store.len() - before,
        held: out,
        unread,
    })
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

    /// A self-signed CA named `name`, as PEM.
    fn ca_named(name: &str) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.self_signed(&key).unwrap().pem()
    }

    fn test_ca() -> String {
        ca_named("shortcut-env unit test CA")
    }

    /// Whether an anchor of `store` has `name` in its subject.
    fn holds(store: &RootCertStore, name: &str) -> bool {
        store.roots.iter().any(|anchor| {
            let subject: &[u8] = anchor.subject.as_ref();
            subject.windows(name.len()).any(|w| w == name.as_bytes())
        })
    }

    /// The subjects' names held by a collector fed `text`, and how many sections it counted.
    fn collected(text: &str) -> (usize, usize) {
        let mut out = Collector::default();
        let found = out.add_pem(text.as_bytes());
        (out.store.len(), found)
    }

    #[test]
    fn without_system_certificates_the_embedded_roots_hold_amazons() {
        let dir = tempfile::tempdir().unwrap();
        let roots = roots(&nowhere(dir.path())).unwrap();
        assert_eq!(roots.base, Base::Embedded);
        assert!(roots.store().len() > 100, "{}", roots.store().len());
        assert_eq!(roots.private, 0);
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
        ] {
            assert!(holds(roots.store(), name), "{name}");
        }
        // The client builds with them.
        crate::sources::https::client(roots, std::time::Duration::from_secs(2)).unwrap();
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
        assert_eq!((roots.base, roots.store().len()), (Base::System, 1));
    }

    #[test]
    fn a_system_directory_is_read_when_there_is_no_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = nowhere(dir.path());
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        std::fs::write(certs.join("a.pem"), ca_named("system dir CA")).unwrap();
        sources.system_dirs = vec![certs];
        let roots = roots(&sources).unwrap();
        assert_eq!(roots.base, Base::System);
        assert!(holds(roots.store(), "system dir CA"));
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
        assert!(holds(roots.store(), "shortcut-env unit test CA"));
        assert!(holds(roots.store(), "Amazon Root CA 1"));
        crate::sources::https::client(roots, std::time::Duration::from_secs(2)).unwrap();
    }

    #[test]
    fn ssl_cert_dir_is_listed_at_start_and_read_on_first_need() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = nowhere(dir.path());
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        std::fs::write(certs.join("a.pem"), ca_named("lazy dir CA")).unwrap();
        std::fs::write(certs.join("empty.0"), "").unwrap();
        sources.cert_dirs = vec![certs];
        let roots = roots(&sources).unwrap();
        assert!(!holds(roots.store(), "lazy dir CA"));
        assert_eq!(roots.unread.len(), 1);
        let Roots {
            mut held, unread, ..
        } = roots;
        // The empty file is skipped without a note.
        assert_eq!(unread[0].read_into(&mut held), None);
        assert!(holds(&held.store, "lazy dir CA"));
    }

    #[test]
    fn what_an_ssl_cert_dir_read_met_is_noted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("readme.txt"), "no certificate here").unwrap();
        std::fs::File::create(dir.path().join("huge.pem"))
            .unwrap()
            .set_len(MAX_FILE_BYTES + 1)
            .unwrap();
        let listing = Collector::list_dir(dir.path()).unwrap();
        let note = listing.read_into(&mut Collector::default()).unwrap();
        assert!(note.contains("huge.pem is larger than 4 MiB"), "{note}");
        std::fs::remove_file(dir.path().join("huge.pem")).unwrap();
        let note = listing.read_into(&mut Collector::default()).unwrap();
        assert!(note.ends_with("holds no new certificate"), "{note}");
    }

    /// A leaf certificate for `host` from a new CA the roots do not hold: `(leaf, CA PEM)`.
    fn leaf_of_a_new_ca(host: &str) -> (CertificateDer<'static>, String) {
        leaf_of("dir-only CA", host)
    }

    /// A leaf certificate for `host` from a new CA (a new key) named `ca_name`.
    fn leaf_of(ca_name: &str, host: &str) -> (CertificateDer<'static>, String) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec![host.to_string()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        (leaf.der().clone(), ca_cert.pem())
    }

    fn verify(trust: &Trust, leaf: &CertificateDer<'_>, host: &str) -> Result<(), rustls::Error> {
        let name = ServerName::try_from(host.to_string()).unwrap();
        trust
            .verify_server_cert(leaf, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    fn trust_of(sources: &Sources) -> Arc<Trust> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        roots(sources).unwrap().trust(provider).unwrap()
    }

    #[test]
    fn the_trust_reads_ssl_cert_dir_once_on_first_need_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let (leaf, ca) = leaf_of_a_new_ca("sm.example.test");
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        std::fs::write(certs.join("ca.pem"), ca).unwrap();
        let mut sources = nowhere(dir.path());
        sources.cert_dirs = vec![certs.clone()];
        let trust = trust_of(&sources);
        verify(&trust, &leaf, "sm.example.test").unwrap();
        // Read once: gone from the directory, still trusted.
        std::fs::remove_file(certs.join("ca.pem")).unwrap();
        verify(&trust, &leaf, "sm.example.test").unwrap();
        // Another host's name is refused whatever the roots.
        let refused = verify(&trust, &leaf, "other.example.test").unwrap_err();
        assert!(
            refused.to_string().contains("not valid for name"),
            "{refused}"
        );
    }

    /// Sources trusting `file_ca` through SSL_CERT_FILE and `dir_ca` through SSL_CERT_DIR.
    fn file_and_dir(dir: &Path, file_ca: &str, dir_ca: &str) -> Sources {
        let mut sources = nowhere(dir);
        let file = dir.join("file-ca.pem");
        std::fs::write(&file, file_ca).unwrap();
        let certs = dir.join("certs");
        std::fs::create_dir(&certs).unwrap();
        std::fs::write(certs.join("ca.pem"), dir_ca).unwrap();
        sources.cert_files = vec![("SSL_CERT_FILE", file)];
        sources.cert_dirs = vec![certs];
        sources
    }

    fn dir_unread(trust: &Trust) -> bool {
        trust.state.lock().unwrap().unread.is_some()
    }

    #[test]
    fn a_chain_to_the_roots_held_leaves_ssl_cert_dir_unread() {
        let dir = tempfile::tempdir().unwrap();
        let (leaf, ca) = leaf_of("file CA", "sm.example.test");
        let trust = trust_of(&file_and_dir(dir.path(), &ca, &ca_named("dir CA")));
        verify(&trust, &leaf, "sm.example.test").unwrap();
        assert!(dir_unread(&trust));
        // Another host's name: refused on the name, the directory still unread.
        let refused = verify(&trust, &leaf, "other.example.test").unwrap_err();
        assert!(
            refused.to_string().contains("not valid for name"),
            "{refused}"
        );
        assert!(dir_unread(&trust));
    }

    #[test]
    fn a_rotated_ca_of_the_same_name_in_ssl_cert_dir_is_found() {
        // The file holds an old CA of the name, another key: the chain fails on its signature
        // (not as an unknown issuer), and the directory's CA of that name is tried.
        let dir = tempfile::tempdir().unwrap();
        let (_, old) = leaf_of("corporate CA", "sm.example.test");
        let (leaf, new) = leaf_of("corporate CA", "sm.example.test");
        let trust = trust_of(&file_and_dir(dir.path(), &old, &new));
        verify(&trust, &leaf, "sm.example.test").unwrap();
        assert!(!dir_unread(&trust));
    }

    #[test]
    fn a_refusal_says_what_ssl_cert_dir_met() {
        let dir = tempfile::tempdir().unwrap();
        let (leaf, _ca) = leaf_of_a_new_ca("sm.example.test");
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        std::fs::write(certs.join("readme.txt"), "not a certificate").unwrap();
        let mut sources = nowhere(dir.path());
        sources.cert_dirs = vec![certs];
        let trust = trust_of(&sources);
        for _ in 0..2 {
            let refused = verify(&trust, &leaf, "sm.example.test").unwrap_err();
            let text = refused.to_string();
            assert!(text.contains("UnknownIssuer"), "{text}");
            assert!(text.contains("SSL_CERT_DIR did not help"), "{text}");
            assert!(text.contains("holds no new certificate"), "{text}");
        }
    }

    #[test]
    fn without_ssl_cert_dir_an_unknown_issuer_is_refused_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let (leaf, _ca) = leaf_of_a_new_ca("sm.example.test");
        let trust = trust_of(&nowhere(dir.path()));
        let refused = verify(&trust, &leaf, "sm.example.test").unwrap_err();
        assert_eq!(
            refused,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
        );
    }

    #[test]
    fn unusable_ssl_cert_variables_are_configuration_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let empty_dir = dir.path().join("empty-dir");
        std::fs::create_dir(&empty_dir).unwrap();
        let cases = [
            (Some(dir.path().join("absent.pem")), None, "SSL_CERT_FILE"),
            (Some(empty), None, "SSL_CERT_FILE"),
            (None, Some(dir.path().join("absent-dir")), "SSL_CERT_DIR"),
            (None, Some(empty_dir), "SSL_CERT_DIR"),
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

    #[test]
    fn pem_is_read_into_one_anchor_a_certificate() {
        let text: String = (0..5).map(|n| ca_named(&format!("CA {n}"))).collect();
        assert_eq!(collected(&text), (5, 5));
        let mut out = Collector::default();
        out.add_pem(text.as_bytes());
        for n in 0..5 {
            assert!(holds(&out.store, &format!("CA {n}")), "{n}");
        }
    }

    #[test]
    fn pem_with_crlf_long_lines_or_inner_spaces_reads_the_same() {
        let text: String = (0..3).map(|n| ca_named(&format!("CA {n}"))).collect();
        let crlf = text.replace('\n', "\r\n");
        let spaced = text.replace('\n', " \n  ");
        let joined = text
            .split("-----END CERTIFICATE-----")
            .map(|s| s.replace('\n', ""))
            .collect::<Vec<_>>()
            .join("-----END CERTIFICATE-----\n");
        for variant in [crlf, spaced, joined] {
            assert_eq!(collected(&variant), (3, 3), "{variant:.200}");
        }
    }

    #[test]
    fn a_certificate_met_again_in_other_text_is_kept_once() {
        let cas: Vec<String> = (0..3).map(|n| ca_named(&format!("CA {n}"))).collect();
        let mut out = Collector::default();
        assert_eq!(out.add_pem(cas[..2].concat().as_bytes()), 2);
        let other = cas[1..3].concat().replace('\n', "\r\n");
        assert_eq!(out.add_pem(other.as_bytes()), 2);
        assert_eq!(out.store.len(), 3);
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
        assert_eq!((roots.store().len(), roots.private), (2, 0));
        // Both files of the directory were read already: reading it adds nothing.
        let Roots {
            mut held, unread, ..
        } = roots;
        let note = unread[0].read_into(&mut held).unwrap();
        assert!(note.ends_with("holds no new certificate"), "{note}");
        assert_eq!(held.store.len(), 2);
    }

    #[test]
    fn pem_sections_between_other_text_are_read_and_broken_ones_skipped() {
        let mut text =
            "# a comment\n-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n".to_string();
        text += &ca_named("CA 0");
        text += &ca_named("CA 1");
        text += "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        text += "-----BEGIN CERTIFICATE-----\nAAAA"; // cut short
        assert_eq!(collected(&text), (2, 2));
    }

    #[test]
    fn a_section_that_is_not_a_certificate_is_counted_but_not_trusted() {
        // Valid base64, not a certificate: found (the file holds PEM), no anchor made.
        let text = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(collected(text), (0, 1));
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
