//! Credential files: GOOGLE_APPLICATION_CREDENTIALS_JSON becomes a private file whose path is
//! GOOGLE_APPLICATION_CREDENTIALS, because Google's client libraries read a path, not a value;
//! `--file KEY=VAR` does the same for any key.
//!
//! The directory ([`prepare_dir`], before any network call) is made absolute, created 0700
//! whatever the umask, opened with `O_NOFOLLOW` and checked through its descriptor: owned by
//! us, a directory, not writable by group or others.
//!
//! A file is named after its content: `<stem>-<hash>[.json]`, the hash keyed with a random salt
//! kept in the directory (`.shortcut-env-salt`), so the name says nothing about a secret to
//! someone who sees it in a log. That one choice gives what a container restarting in place
//! (PID 1 every time, on a persistent volume), several containers sharing an emptyDir (all
//! PID 1), and a laptop running many starts need:
//!
//! - a restart finds the file it needs already there (a regular 0600 file of ours with exactly
//!   that content) and uses it: restarting forever never fails and adds nothing;
//! - concurrent starts never clobber each other: the same name means the same bytes, and a name
//!   is only ever given to a file by a link that fails if the name exists (never `rename` over
//!   it);
//! - the directory holds one file per distinct key; a key nobody has started with for
//!   [`KEEP_UNUSED`] (each start that uses a file refreshes its mtime) is removed by the next
//!   start, so rotated-out keys do not stay on disk forever.
//!
//! The content is written to an unnamed `O_TMPFILE`, synced, and only then linked to its name,
//! so a SIGKILL mid-write leaves nothing behind; the directory is synced after the link. Where
//! the file system has no `O_TMPFILE`, a named temporary (`.<stem>-<random>.tmp`, 0600,
//! `O_EXCL|O_NOFOLLOW`) is used instead, unlinked on every path, and one left by a killed start
//! is removed by a later start after [`TEMP_GRACE`].
//!
//! Starts that remove files (pruning, or taking back what a failed start created) hold an
//! exclusive `flock` on the directory; starts that publish or reuse a file hold a shared one, so
//! a file is never removed between the moment a start decides to use it and the moment it has
//! refreshed its mtime.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, Flock, FlockArg, OFlag, open, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstat, fstatat, futimens};
use nix::sys::time::TimeSpec;
use nix::unistd::{Uid, UnlinkatFlags, User, fsync, geteuid, linkat, unlinkat};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::CredentialsDir;
use crate::error::Error;
use crate::vars::Vars;

pub(crate) use shortcut_env_core::payload::{GCP_JSON_VAR, GCP_PATH_VAR, validate_gcp_json};
/// How long a key file no start has used stays: long enough that a command still running
/// after a rotation (and re-reading its file) keeps it for a week, short enough that rotated-out
/// keys do not pile up.
pub(crate) const KEEP_UNUSED: Duration = Duration::from_hours(168);
/// A named temporary lives for milliseconds; one older than this was left by a killed start.
pub(crate) const TEMP_GRACE: Duration = Duration::from_mins(10);
/// Names a content can have: `<stem>-<hash>` and, should something else of ours hold that name
/// (a file edited by hand), `<stem>-<hash>-1` … `-3`.
const SLOTS: u32 = 4;
const SALT_NAME: &str = ".shortcut-env-salt";
const SALT_LEN: usize = 32;

/// A file a start gave to its command.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    /// Absolute.
    pub path: PathBuf,
    /// Set only when this start created the file (not when it found it already there), with
    /// what the file looked like then: only such a file is taken back by [`remove_files`].
    created: Option<Stamp>,
}

/// Which file, and its mtime, which every start that uses the file refreshes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stamp {
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
}

impl Stamp {
    fn of(stat: &FileStat) -> Stamp {
        Stamp {
            dev: stat.st_dev,
            ino: stat.st_ino,
            mtime: (stat.st_mtime, stat.st_mtime_nsec),
        }
    }
}

/// The credentials directory, opened and checked by [`prepare_dir`].
pub(crate) struct Dir {
    /// The directory, or (the default directory only) what to open when a file is needed.
    state: Result<Opened, CredentialsDir>,
    check_only: bool,
}

struct Opened {
    /// Absolute.
    path: PathBuf,
    fd: OwnedFd,
}

impl Dir {
    /// `check`: do everything a start does but give the file its name, so that a check never
    /// adds a file, nor takes back one that a running start (with the same key) is using.
    pub(crate) fn check_only(&mut self) {
        self.check_only = true;
    }

    fn opened(&mut self) -> Result<&Opened, Error> {
        if let Err(config) = &self.state {
            self.state = Ok(open_dir(config)?);
        }
        self.state
            .as_ref()
            .map_err(|_| Error::CredentialsFileFailed {
                path: PathBuf::new(),
                reason: "the directory is not open".into(),
            })
    }
}

/// Opens (creating it if needed) and checks the credentials directory, before any network
/// call, so a bad directory fails the start in milliseconds. An explicit directory is the
/// operator's choice and must be usable; the default one only matters to a start that writes
/// a file (`needed`: known beforehand only for `--file` or an inherited key), so a start that
/// writes nothing never fails because of it. Also removes our stale files ([`KEEP_UNUSED`]).
pub(crate) fn prepare_dir(config: &CredentialsDir, needed: bool) -> Result<Dir, Error> {
    let state = match open_dir(config) {
        Ok(opened) => {
            prune(&opened);
            Ok(opened)
        }
        Err(e) if needed || matches!(config, CredentialsDir::Explicit(_)) => return Err(e),
        Err(_) => Err(config.clone()),
    };
    Ok(Dir {
        state,
        check_only: false,
    })
}

/// If the environment holds GOOGLE_APPLICATION_CREDENTIALS_JSON (from the secret, .env or the
/// parent), writes it to a private file and points GOOGLE_APPLICATION_CREDENTIALS at it.
/// Returns the file, and whether an inherited GOOGLE_APPLICATION_CREDENTIALS was replaced.
pub(crate) fn gcp_credentials(
    env: &mut Vars,
    dir: &mut Dir,
) -> Result<Option<(Written, bool)>, Error> {
    let Some(json) = env.get(GCP_JSON_VAR) else {
        return Ok(None);
    };
    let json = json
        .to_str()
        .ok_or_else(|| Error::GcpJsonInvalid("not valid UTF-8".into()))?;
    validate_gcp_json(json)?;
    let written = write_private_file(dir, "gcp-credentials", ".json", json.as_bytes())?;
    let replaced = env.insert(GCP_PATH_VAR, written.path.as_os_str()).is_some();
    Ok(Some((written, replaced)))
}

/// `--file KEY=VAR`: writes the value of KEY to a private file and sets VAR to its path, with
/// the same safety as the GCP key file. Returns the files, in order.
pub(crate) fn value_files(
    env: &mut Vars,
    files: &[(String, String)],
    dir: &mut Dir,
) -> Result<Vec<Written>, Error> {
    let mut written = Vec::new();
    for (key, target) in files {
        let result = match env.get(key) {
            None => Err(Error::FileKeyMissing {
                key: key.clone(),
                target: target.clone(),
            }),
            Some(value) => {
                let stem = key.to_ascii_lowercase().replace('_', "-");
                let value = value.as_encoded_bytes().to_vec();
                write_private_file(dir, &stem, "", &value)
            }
        };
        match result {
            Ok(file) => {
                env.insert(target, file.path.as_os_str());
                written.push(file);
            }
            Err(e) => {
                // Nothing will run: take back the files written so far.
                remove_files(&written);
                return Err(e);
            }
        }
    }
    Ok(written)
}

/// Takes back the files a start created for a command that is not going to run (best effort:
/// a failure here must not hide the error that stopped the start). A file this start found
/// already there, or that another start has used since (its mtime moved), stays: someone else's
/// command may be reading it.
pub(crate) fn remove_files(written: &[Written]) {
    for file in written {
        let Some(stamp) = file.created else {
            continue;
        };
        let (Some(parent), Some(name)) = (file.path.parent(), file.path.file_name()) else {
            continue;
        };
        let Ok(dir) = open(parent, dir_flags(), Mode::empty()) else {
            continue;
        };
        let _lock = lock(&dir, FlockArg::LockExclusive);
        match fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat) if Stamp::of(&stat) == stamp => {
                let _ = unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir);
            }
            _ => {}
        }
    }
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// A `flock` on the directory, or none where the file system has no locks (best effort: the
/// lock only narrows races that are already harmless but for a removed file).
fn lock(dir: &OwnedFd, arg: FlockArg) -> Option<Flock<OwnedFd>> {
    Flock::lock(dir.try_clone().ok()?, arg).ok()
}

/// The directory the configuration names, made absolute: a relative path would break the
/// command's GOOGLE_APPLICATION_CREDENTIALS as soon as it changes directory.
fn dir_path(config: &CredentialsDir) -> Result<PathBuf, Error> {
    match config {
        CredentialsDir::Explicit(path) => absolute(path),
        CredentialsDir::Default {
            runtime_dir,
            temp_dir,
        } => match runtime_dir.as_deref().filter(|dir| usable_runtime_dir(dir)) {
            Some(runtime) => Ok(runtime.join("shortcut-env")),
            None => Ok(absolute(temp_dir)?.join(format!("shortcut-env-{}", geteuid()))),
        },
    }
}

/// `$XDG_RUNTIME_DIR` as the XDG spec promises it: absolute, a directory of ours, 0700.
/// Anything else is ignored (and the temp dir used), as a session without one would be.
fn usable_runtime_dir(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    dir.is_absolute()
        && std::fs::symlink_metadata(dir).is_ok_and(|meta| {
            meta.is_dir() && meta.uid() == geteuid().as_raw() && meta.mode() & 0o7777 == 0o700
        })
}

/// `path` joined to the current directory if relative, without `.` components.
fn absolute(path: &Path) -> Result<PathBuf, Error> {
    if path.is_absolute() {
        return Ok(path.components().collect());
    }
    let cwd = std::env::current_dir().map_err(|e| Error::CredentialsFileFailed {
        path: path.to_path_buf(),
        reason: format!("it is relative, and the current directory is unknown: {e}"),
    })?;
    Ok(cwd.join(path).components().collect())
}

fn open_dir(config: &CredentialsDir) -> Result<Opened, Error> {
    let path = dir_path(config)?;
    // The operator's directory may need its parents (a fresh volume); the default one is
    // always directly in a directory that exists.
    let recursive = matches!(config, CredentialsDir::Explicit(_));
    let created = create_dir(&path, recursive)?;
    let fd = open_private_dir(&path, created, config)?;
    Ok(Opened { path, fd })
}

/// Creates `path` (and, if `recursive`, its missing parents) and returns whether this start
/// created `path` itself. Parents made here are set to 0700 too: the umask must not leave
/// them unusable (0500 under umask 0277); parents that existed are not ours to change.
fn create_dir(path: &Path, recursive: bool) -> Result<bool, Error> {
    use std::os::unix::fs::DirBuilderExt;
    let failed = |e: std::io::Error| Error::CredentialsFileFailed {
        path: path.to_path_buf(),
        reason: format!("cannot create the directory: {e}"),
    };
    let create = || std::fs::DirBuilder::new().mode(0o700).create(path);
    match create() {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && recursive => {
            let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
                return Err(failed(e));
            };
            if create_dir(parent, true)? {
                let fd = open(parent, dir_flags(), Mode::empty()).map_err(|e| failed(e.into()))?;
                fchmod(&fd, Mode::from_bits_truncate(0o700)).map_err(|e| failed(e.into()))?;
            }
            match create() {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(failed(e)),
            }
        }
        Err(e) => Err(failed(e)),
    }
}

/// `uid 1000 (alice)`, or `uid 1000` when the user database does not know it.
fn describe_uid(uid: u32) -> String {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(user)) => format!("uid {uid} ({})", user.name.escape_debug()),
        _ => format!("uid {uid}"),
    }
}

/// Opens `dir` without following a symlink and checks that only we can write into it. A
/// directory this start created is set to exactly 0700 (mkdir's mode is narrowed by the umask);
/// one of ours missing owner bits (left 0500 by an older version under umask 0277) gets them.
fn open_private_dir(dir: &Path, created: bool, config: &CredentialsDir) -> Result<OwnedFd, Error> {
    let unsafe_dir = |reason: String| Error::CredentialsDirUnsafe {
        path: dir.to_path_buf(),
        reason,
    };
    let failed = |reason: String| Error::CredentialsFileFailed {
        path: dir.to_path_buf(),
        reason,
    };
    let fd = open(dir, dir_flags(), Mode::empty()).map_err(|errno| match errno {
        Errno::ELOOP | Errno::ENOTDIR => unsafe_dir("it is a symlink or not a directory".into()),
        other => failed(format!("cannot open the directory: {}", other.desc())),
    })?;
    let stat = fstat(&fd).map_err(|errno| failed(errno.desc().into()))?;
    let me = geteuid();
    if Uid::from_raw(stat.st_uid) != me {
        let squatted = match config {
            CredentialsDir::Default { .. } => {
                "; another user created it first: remove it, or set XDG_RUNTIME_DIR or \
                 SHORTCUT_ENV_CREDENTIALS_DIR"
            }
            CredentialsDir::Explicit(_) => "",
        };
        return Err(unsafe_dir(format!(
            "it is owned by {}, not by this user ({}){squatted}",
            describe_uid(stat.st_uid),
            describe_uid(me.as_raw())
        )));
    }
    let mode = stat.st_mode & 0o7777;
    if mode & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "it is writable by group or others (mode {mode:04o})"
        )));
    }
    let wanted = if created { 0o700 } else { mode | 0o700 };
    if wanted != mode {
        fchmod(&fd, Mode::from_bits_truncate(wanted))
            .map_err(|e| failed(format!("cannot make it 0700: {}", e.desc())))?;
    }
    Ok(fd)
}

/// Gives `contents` a file in the directory and returns it: the file of that content if one is
/// there already, else a new one.
fn write_private_file(
    dir: &mut Dir,
    stem: &str,
    ext: &str,
    contents: &[u8],
) -> Result<Written, Error> {
    let check_only = dir.check_only;
    let dir = dir.opened()?;
    let _shared = lock(&dir.fd, FlockArg::LockShared);
    let hash = name_hash(&salt(dir, check_only)?, stem, contents);
    for slot in 0..SLOTS {
        let name = match slot {
            0 => format!("{stem}-{hash}{ext}"),
            n => format!("{stem}-{hash}-{n}{ext}"),
        };
        let path = dir.path.join(&name);
        let reused = Written {
            path: path.clone(),
            created: None,
        };
        match existing(dir, &name, contents)? {
            Existing::Same => return Ok(reused),
            Existing::Other => continue,
            Existing::Missing => {}
        }
        if check_only {
            discard(dir, stem, contents)?;
            return Ok(reused);
        }
        match place(dir, &name, stem, contents)? {
            Placed::Created(stamp) => {
                sync_dir(dir)?;
                return Ok(Written {
                    path,
                    created: Some(stamp),
                });
            }
            // Another start gave the name a file since we looked: most likely the same bytes.
            Placed::Taken => match existing(dir, &name, contents)? {
                Existing::Same => return Ok(reused),
                Existing::Other | Existing::Missing => {}
            },
        }
    }
    Err(Error::CredentialsFileFailed {
        path: dir.path.join(format!("{stem}-{hash}{ext}")),
        reason: format!("{SLOTS} files of other content hold the names this file can have"),
    })
}

/// 16 hex digits of HMAC-SHA256(salt, stem NUL contents): the same key always gets the same
/// name; without the salt, the name of a short `--file` value would let anyone who reads it
/// in a log test guesses offline.
fn name_hash(salt: &[u8; SALT_LEN], stem: &str, contents: &[u8]) -> String {
    let mut context = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, salt));
    context.update(stem.as_bytes());
    context.update(&[0]);
    context.update(contents);
    context
        .sign()
        .as_ref()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The directory's salt, created (from the system's random source) by the first start; a
/// `check` that finds none uses a throwaway one rather than leave a file behind.
fn salt(dir: &Opened, check_only: bool) -> Result<[u8; SALT_LEN], Error> {
    let path = dir.path.join(SALT_NAME);
    let damaged = |reason: &str| Error::CredentialsFileFailed {
        path: path.clone(),
        reason: format!("{reason}; remove it (the next start makes a new one)"),
    };
    for _ in 0..2 {
        let Some((stat, mut file)) = open_existing(dir, SALT_NAME)? else {
            let mut salt = [0u8; SALT_LEN];
            SystemRandom::new()
                .fill(&mut salt)
                .map_err(|_| damaged("the system's random source failed"))?;
            if check_only {
                return Ok(salt);
            }
            // Created, or made by a concurrent start: either way, read it back.
            place(dir, SALT_NAME, "shortcut-env-salt", &salt)?;
            continue;
        };
        if Uid::from_raw(stat.st_uid) != geteuid() || stat.st_mode & 0o077 != 0 {
            return Err(damaged("it is not a private file of this user"));
        }
        let mut salt = [0u8; SALT_LEN];
        let mut rest = Vec::new();
        file.read_exact(&mut salt)
            .and_then(|()| file.read_to_end(&mut rest))
            .map_err(|_| damaged("it is not a salt written by shortcut-env"))?;
        if !rest.is_empty() {
            return Err(damaged("it is not a salt written by shortcut-env"));
        }
        return Ok(salt);
    }
    Err(damaged("it disappeared while being read"))
}

enum Existing {
    /// A regular 0600 file of ours with exactly this content, now marked as used.
    Same,
    /// Something else of ours: leave it, take the next name.
    Other,
    Missing,
}

/// A symlink or special file where our file should be: never ours, so an attack or a mistake.
fn in_the_way(dir: &Opened, name: &str) -> Error {
    Error::CredentialsDirUnsafe {
        path: dir.path.join(name),
        reason: "a symlink or special file is in the way; refusing to replace it".into(),
    }
}

/// Opens the regular file `name` without following a symlink or blocking on a FIFO.
fn open_existing(dir: &Opened, name: &str) -> Result<Option<(FileStat, File)>, Error> {
    let flags = OFlag::O_RDONLY
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    let fd = match openat(&dir.fd, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(Errno::ELOOP) => return Err(in_the_way(dir, name)),
        Err(e) => {
            return Err(Error::CredentialsFileFailed {
                path: dir.path.join(name),
                reason: format!("cannot open it: {}", e.desc()),
            });
        }
    };
    let stat = fstat(&fd).map_err(|e| Error::CredentialsFileFailed {
        path: dir.path.join(name),
        reason: e.desc().into(),
    })?;
    if SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFREG {
        return Err(in_the_way(dir, name));
    }
    Ok(Some((stat, File::from(fd))))
}

/// Whether `name` already holds `contents` in a file we can hand out; if so its mtime is
/// refreshed (so pruning keeps it) and it is checked to still be at that name.
fn existing(dir: &Opened, name: &str, contents: &[u8]) -> Result<Existing, Error> {
    let Some((stat, file)) = open_existing(dir, name)? else {
        return Ok(Existing::Missing);
    };
    if Uid::from_raw(stat.st_uid) != geteuid()
        || stat.st_mode & 0o7777 != 0o600
        || stat.st_nlink != 1
    {
        return Ok(Existing::Other);
    }
    let mut found = Vec::with_capacity(contents.len());
    let limit = u64::try_from(contents.len())
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    if (&file).take(limit).read_to_end(&mut found).is_err() || found != contents {
        return Ok(Existing::Other);
    }
    // An explicit time, not UTIME_NOW: the kernel's coarse clock could give the mtime the file
    // was created with, and remove_files must see that another start has used it.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(TimeSpec::UTIME_NOW, TimeSpec::from_duration);
    futimens(&file, &now, &now).map_err(|e| Error::CredentialsFileFailed {
        path: dir.path.join(name),
        reason: format!("cannot mark it as used: {}", e.desc()),
    })?;
    match fstatat(&dir.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(now) if (now.st_dev, now.st_ino) == (stat.st_dev, stat.st_ino) => Ok(Existing::Same),
        _ => Ok(Existing::Missing),
    }
}

enum Placed {
    Created(Stamp),
    /// The name exists: nothing was replaced.
    Taken,
}

/// A new file with `contents`, exactly 0600, written and synced, without a name (`O_TMPFILE`):
/// a start killed now leaves nothing behind. None where the file system has no `O_TMPFILE`.
fn unnamed_file(dir: &Opened, contents: &[u8]) -> Result<Option<File>, Error> {
    let flags = OFlag::O_TMPFILE | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    let Ok(fd) = openat(&dir.fd, ".", flags, Mode::from_bits_truncate(0o600)) else {
        return Ok(None);
    };
    let file = File::from(fd);
    write_and_sync(&file, contents).map_err(|e| Error::CredentialsFileFailed {
        path: dir.path.clone(),
        reason: format!("cannot write a file: {e}"),
    })?;
    Ok(Some(file))
}

/// The same as a named temporary `.<stem>-<random>.tmp` (`O_EXCL|O_NOFOLLOW`, so nothing
/// planted is followed or reused), for file systems without `O_TMPFILE`. Unlinked on failure.
fn named_file(dir: &Opened, temp_stem: &str, contents: &[u8]) -> Result<(String, File), Error> {
    let failed = |name: &str, reason: String| Error::CredentialsFileFailed {
        path: dir.path.join(name),
        reason,
    };
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    for _ in 0..100 {
        let mut random = [0u8; 8];
        SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| failed(temp_stem, "the system's random source failed".into()))?;
        let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!(".{temp_stem}-{random}.tmp");
        match openat(
            &dir.fd,
            name.as_str(),
            flags,
            Mode::from_bits_truncate(0o600),
        ) {
            Ok(fd) => {
                let file = File::from(fd);
                if let Err(e) = write_and_sync(&file, contents) {
                    let _ = unlinkat(&dir.fd, name.as_str(), UnlinkatFlags::NoRemoveDir);
                    return Err(failed(&name, format!("cannot write it: {e}")));
                }
                return Ok((name, file));
            }
            Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(failed(
                    &name,
                    format!("cannot create a temporary file: {}", e.desc()),
                ));
            }
        }
    }
    Err(failed(
        temp_stem,
        "cannot create a temporary file: every name tried exists".into(),
    ))
}

fn write_and_sync(mut file: &File, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // The umask may have narrowed 0600 further; make it exactly 0600.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents)?;
    file.sync_all()
}

/// `check`: the file is written and synced as a start would, then dropped without a name.
fn discard(dir: &Opened, stem: &str, contents: &[u8]) -> Result<(), Error> {
    if unnamed_file(dir, contents)?.is_none() {
        let (temp, _) = named_file(dir, stem, contents)?;
        let _ = unlinkat(&dir.fd, temp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    Ok(())
}

/// Writes `contents` to a new file and links it to `name`, never replacing what is there.
fn place(dir: &Opened, name: &str, temp_stem: &str, contents: &[u8]) -> Result<Placed, Error> {
    if let Some(file) = unnamed_file(dir, contents)? {
        // Through /proc (any user may link an O_TMPFILE this way), else AT_EMPTY_PATH (where
        // /proc is not mounted; needs a recent kernel or CAP_DAC_READ_SEARCH).
        let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        let linked = match linkat(
            AT_FDCWD,
            proc_path.as_str(),
            &dir.fd,
            name,
            AtFlags::AT_SYMLINK_FOLLOW,
        ) {
            Err(Errno::ENOENT) => linkat(&file, "", &dir.fd, name, AtFlags::AT_EMPTY_PATH),
            other => other,
        };
        match linked {
            Ok(()) => return created(dir, name, &file),
            Err(Errno::EEXIST) => return Ok(Placed::Taken),
            // The unnamed file cannot be given a name here: write a named one instead.
            Err(Errno::ENOENT | Errno::EPERM | Errno::EOPNOTSUPP) => {}
            Err(e) => {
                return Err(Error::CredentialsFileFailed {
                    path: dir.path.join(name),
                    reason: format!("cannot give the file its name: {}", e.desc()),
                });
            }
        }
    }
    let (temp, file) = named_file(dir, temp_stem, contents)?;
    // A hard link (then the temporary is unlinked), or where the file system has none,
    // renameat2 with RENAME_NOREPLACE; never a plain rename, which replaces what is there.
    let linked = match linkat(&dir.fd, temp.as_str(), &dir.fd, name, AtFlags::empty()) {
        Err(Errno::EPERM | Errno::EOPNOTSUPP | Errno::EMLINK | Errno::ENOSYS) => {
            rename_noreplace(dir, temp.as_str(), name)
        }
        other => other,
    };
    // Gone on every path (after a rename, the name is already free and this does nothing).
    let _ = unlinkat(&dir.fd, temp.as_str(), UnlinkatFlags::NoRemoveDir);
    match linked {
        Ok(()) => created(dir, name, &file),
        Err(Errno::EEXIST) => Ok(Placed::Taken),
        Err(e) => Err(Error::CredentialsFileFailed {
            path: dir.path.join(name),
            reason: format!(
                "cannot give the file its name without risking to replace another: {}",
                e.desc()
            ),
        }),
    }
}

fn created(dir: &Opened, name: &str, file: &File) -> Result<Placed, Error> {
    fstat(file)
        .map(|stat| Placed::Created(Stamp::of(&stat)))
        .map_err(|e| Error::CredentialsFileFailed {
            path: dir.path.join(name),
            reason: e.desc().into(),
        })
}

/// Makes the new name durable: without it, a power loss can lose the link the command was given.
fn sync_dir(dir: &Opened) -> Result<(), Error> {
    match fsync(&dir.fd) {
        // Some file systems cannot sync a directory; there is nothing more to do there.
        Ok(()) | Err(Errno::EINVAL) => Ok(()),
        Err(e) => Err(Error::CredentialsFileFailed {
            path: dir.path.clone(),
            reason: format!("cannot sync the directory: {}", e.desc()),
        }),
    }
}

/// Removes our stale files: key files no start has used for [`KEEP_UNUSED`], and temporaries
/// of killed starts older than [`TEMP_GRACE`]. Only names of the shapes we write, regular
/// files of ours with one link; skipped if another start holds the directory's lock.
fn prune(dir: &Opened) {
    let Some(_lock) = lock(&dir.fd, FlockArg::LockExclusiveNonblock) else {
        return;
    };
    let Ok(listing) = nix::dir::Dir::openat(&dir.fd, ".", dir_flags(), Mode::empty()) else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let me = geteuid();
    for entry in listing.into_iter().flatten() {
        let Ok(name) = entry.file_name().to_str() else {
            continue;
        };
        let Some(max_age) = prunable(name) else {
            continue;
        };
        let Ok(stat) = fstatat(&dir.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) else {
            continue;
        };
        let regular =
            SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFREG;
        let age = now.saturating_sub(stat.st_mtime);
        let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        if regular && Uid::from_raw(stat.st_uid) == me && stat.st_nlink == 1 && age > max_age {
            let _ = unlinkat(&dir.fd, name, UnlinkatFlags::NoRemoveDir);
        }
    }
}

/// How old a file named `name` may get before pruning removes it, if it has the shape of one
/// we write: `<stem>-<hash>[-N][.json]`, `.<stem>-<random>.tmp`, and those of earlier
/// versions, named by PID (`gcp-credentials-<pid>[-N].json`).
fn prunable(name: &str) -> Option<Duration> {
    let is_hex16 = |s: &str| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let is_stem = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if let Some(temp) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) {
        let temp = temp.strip_suffix(".json").unwrap_or(temp);
        let (stem, random) = temp.rsplit_once('-')?;
        return (is_hex16(random) && is_stem(stem)).then_some(TEMP_GRACE);
    }
    let base = name.strip_suffix(".json").unwrap_or(name);
    if let Some(pid) = base.strip_prefix("gcp-credentials-")
        && pid
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some(KEEP_UNUSED);
    }
    let base = match base.rsplit_once('-') {
        Some((rest, slot)) if slot.len() == 1 && slot.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => base,
    };
    let (stem, hash) = base.rsplit_once('-')?;
    (is_hex16(hash) && is_stem(stem)).then_some(KEEP_UNUSED)
}

/// `renameat2(RENAME_NOREPLACE)`: the name only if it is free. nix wraps it for glibc only; a
/// musl build (the static binary) then has no fallback for a file system without hard links,
/// and says so rather than risk a plain rename, which would replace what is there.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn rename_noreplace(dir: &Opened, from: &str, to: &str) -> nix::Result<()> {
    nix::fcntl::renameat2(
        &dir.fd,
        from,
        &dir.fd,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn rename_noreplace(_dir: &Opened, _from: &str, _to: &str) -> nix::Result<()> {
    Err(Errno::ENOSYS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shortcut_env_core::payload::MAX_GCP_JSON;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    const KEY: &str = r#"{"type":"service_account","private_key":"hunter2-marker"}"#;

    fn explicit(path: &Path) -> CredentialsDir {
        CredentialsDir::Explicit(path.to_path_buf())
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn gcp_json_must_be_an_object_with_a_type() {
        assert!(validate_gcp_json(KEY).is_ok());
        let big = format!(r#"{{"type":"x","pad":"{}"}}"#, "a".repeat(MAX_GCP_JSON));
        for bad in [
            "",
            "not json hunter2-marker",
            "[1]",
            r#""s""#,
            "{}",
            r#"{"type":1}"#,
            r#"{"type":""}"#,
            r#"{"type":"service_account","type":"authorized_user"}"#,
            &big,
        ] {
            let error = validate_gcp_json(bad).unwrap_err();
            assert_eq!(error.exit_code(), 65, "{bad}");
            assert!(!error.to_string().contains("hunter2"));
        }
    }

    #[test]
    fn writes_a_private_file_and_reuses_it_for_the_same_key() {
        let temp = tempfile::tempdir().unwrap();
        let config = explicit(&temp.path().join("creds"));
        let mut dir = prepare_dir(&config, true).unwrap();
        let mut env: Vars = [(GCP_JSON_VAR, KEY)].into_iter().collect();
        let (file, replaced) = gcp_credentials(&mut env, &mut dir).unwrap().unwrap();
        assert!(!replaced);
        assert!(file.created.is_some());
        assert_eq!(env.get(GCP_PATH_VAR).unwrap(), file.path.as_os_str());
        assert_eq!(std::fs::read_to_string(&file.path).unwrap(), KEY);
        assert_eq!(std::fs::metadata(&file.path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(temp.path().join("creds")).unwrap().mode() & 0o777,
            0o700
        );
        // The next start with the same key uses the same file, and does not take it back.
        let mut again = prepare_dir(&config, true).unwrap();
        let (second, _) = gcp_credentials(&mut env, &mut again).unwrap().unwrap();
        assert_eq!(second.path, file.path);
        assert!(second.created.is_none());
        remove_files(&[second]);
        assert_eq!(std::fs::read_to_string(&file.path).unwrap(), KEY);
        // The salt and the one key file.
        assert_eq!(names(&temp.path().join("creds")).len(), 2);
    }

    #[test]
    fn a_relative_directory_becomes_absolute() {
        let path = dir_path(&explicit(Path::new("./creds/./x"))).unwrap();
        assert!(path.is_absolute());
        assert!(path.ends_with("creds/x"), "{}", path.display());
        let default = CredentialsDir::Default {
            runtime_dir: Some("relative".into()),
            temp_dir: "tmp".into(),
        };
        let path = dir_path(&default).unwrap();
        assert!(path.is_absolute(), "{}", path.display());
        assert!(path.parent().unwrap().ends_with("tmp"));
    }

    #[test]
    fn a_file_another_start_used_is_not_taken_back() {
        let temp = tempfile::tempdir().unwrap();
        let config = explicit(temp.path());
        let mut dir = prepare_dir(&config, true).unwrap();
        let mine = write_private_file(&mut dir, "tls-key", "", b"k").unwrap();
        // A concurrent start with the same value finds the file and uses it.
        let mut other = prepare_dir(&config, true).unwrap();
        let theirs = write_private_file(&mut other, "tls-key", "", b"k").unwrap();
        assert_eq!(theirs.path, mine.path);
        remove_files(std::slice::from_ref(&mine));
        assert!(mine.path.exists());
    }

    #[test]
    fn check_only_writes_nothing_under_a_name() {
        let temp = tempfile::tempdir().unwrap();
        let mut dir = prepare_dir(&explicit(temp.path()), true).unwrap();
        dir.check_only();
        let file = write_private_file(&mut dir, "tls-key", "", b"k").unwrap();
        assert!(!file.path.exists());
        assert!(names(temp.path()).is_empty());
    }

    #[test]
    fn the_named_temporary_is_gone_and_nothing_is_replaced() {
        let temp = tempfile::tempdir().unwrap();
        let mut dir = prepare_dir(&explicit(temp.path()), true).unwrap();
        let opened = dir.opened().unwrap();
        let (temp_name, file) = named_file(opened, "x", b"new").unwrap();
        drop(file);
        std::fs::write(temp.path().join("taken"), "old").unwrap();
        // What place() does after a named temporary, also with RENAME_NOREPLACE directly.
        assert_eq!(
            rename_noreplace(opened, temp_name.as_str(), "taken"),
            Err(Errno::EEXIST)
        );
        let _ = unlinkat(&opened.fd, temp_name.as_str(), UnlinkatFlags::NoRemoveDir);
        assert_eq!(
            std::fs::read_to_string(temp.path().join("taken")).unwrap(),
            "old"
        );
        assert_eq!(names(temp.path()), ["taken"]);
    }

    #[test]
    fn pruning_knows_our_names_only() {
        for ours in [
            "gcp-credentials-0123456789abcdef.json",
            "gcp-credentials-0123456789abcdef-1.json",
            "tls-key-0123456789abcdef",
            "gcp-credentials-42.json",
            "gcp-credentials-1-3.json",
        ] {
            assert_eq!(prunable(ours), Some(KEEP_UNUSED), "{ours}");
        }
        for temp in [
            ".gcp-credentials-0123456789abcdef.tmp",
            ".gcp-credentials-1-00000000deadbeef.json.tmp",
        ] {
            assert_eq!(prunable(temp), Some(TEMP_GRACE), "{temp}");
        }
        for other in [
            SALT_NAME,
            "notes.txt",
            "gcp-credentials.json",
            "App-0123456789abcdef",
            "x-0123456789abcde",
            ".hidden.tmp",
        ] {
            assert_eq!(prunable(other), None, "{other}");
        }
    }

    #[test]
    fn unsafe_directories_are_refused() {
        let temp = tempfile::tempdir().unwrap();
        let open = temp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = prepare_dir(&explicit(&open), false).err().unwrap();
        assert_eq!(
            (error.kind().as_str(), error.exit_code()),
            ("credentials-dir-unsafe", 73)
        );

        let link = temp.path().join("link");
        std::os::unix::fs::symlink(temp.path(), &link).unwrap();
        let error = prepare_dir(&explicit(&link), false).err().unwrap();
        assert_eq!(error.kind(), "credentials-dir-unsafe");
    }

    #[test]
    fn an_unusable_default_directory_matters_only_when_a_file_is_written() {
        let temp = tempfile::tempdir().unwrap();
        let squatted = temp.path().join(format!("shortcut-env-{}", geteuid()));
        std::fs::create_dir(&squatted).unwrap();
        std::fs::set_permissions(&squatted, std::fs::Permissions::from_mode(0o777)).unwrap();
        let default = CredentialsDir::Default {
            runtime_dir: None,
            temp_dir: temp.path().to_path_buf(),
        };
        let mut dir = prepare_dir(&default, false).unwrap();
        let error = write_private_file(&mut dir, "x", "", b"v").unwrap_err();
        assert_eq!(error.exit_code(), 73);
        assert_eq!(prepare_dir(&default, true).err().unwrap().exit_code(), 73);
    }
}
