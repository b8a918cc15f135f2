//! Credential files: GOOGLE_APPLICATION_CREDENTIALS_JSON becomes a private file whose path is
//! GOOGLE_APPLICATION_CREDENTIALS, because Google's client libraries read a path, not a value.
//!
//! The file must never be readable by anyone else, half-written, or redirected by a planted
//! symlink. So: the directory is opened with `O_NOFOLLOW` and checked through its descriptor
//! (owned by us, a directory, not writable by group or others); the file is created relative to
//! that descriptor with `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600 set explicitly (whatever the
//! umask), written and synced under a temporary name of its own (random, so that starts with the
//! same PID never share one), and only then linked into place under a name nobody has (never
//! replacing a file: two starts sharing a directory each keep their own). A crash leaves at most
//! a 0600 temporary file in a 0700 directory, which no later start reuses.

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, open, openat, renameat};
use nix::sys::stat::{Mode, SFlag, fstat, fstatat};
use nix::unistd::{Uid, UnlinkatFlags, geteuid, linkat, unlinkat};
use serde_json::Value;

use crate::config::CredentialsDir;
use crate::error::Error;
use crate::vars::Vars;

pub const GCP_JSON_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS_JSON";
pub const GCP_PATH_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// A service-account key is about 2.3 KiB; Secrets Manager caps a secret at 64 KiB.
pub const MAX_GCP_JSON: usize = 64 * 1024;
/// How many `-N` suffixes to try when an earlier start (same PID, e.g. PID 1 in a container
/// with a persistent volume) left a file under our name.
const MAX_NAME_TRIES: u32 = 100;

/// Checks the GCP key JSON before anything is written: an object with a string `type`.
pub fn validate_gcp_json(text: &str) -> Result<(), Error> {
    let invalid = |reason: String| Error::GcpJsonInvalid(reason);
    if text.len() > MAX_GCP_JSON {
        return Err(invalid(format!(
            "{} bytes, more than the {MAX_GCP_JSON} bytes a key file can be",
            text.len()
        )));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON ({e})")))?;
    let Value::Object(object) = value else {
        return Err(invalid("not a JSON object".into()));
    };
    // A map keeps one of two `type` members; Google's libraries may read the other one.
    if let Err(Error::DuplicateKey { key, .. }) =
        crate::envmap::parse_members(crate::materialize::GCP_JSON_VAR, text)
    {
        let key = if key.starts_with('"') {
            key
        } else {
            format!("\"{key}\"")
        };
        return Err(invalid(format!("its {key} member appears more than once")));
    }
    match object.get("type") {
        Some(Value::String(kind)) if !kind.is_empty() => Ok(()),
        Some(_) => Err(invalid(
            "its \"type\" field is not a non-empty string".into(),
        )),
        None => Err(invalid("it has no \"type\" field".into())),
    }
}

/// If the environment holds GOOGLE_APPLICATION_CREDENTIALS_JSON (from the secret, .env or the
/// parent), writes it to a private file and points GOOGLE_APPLICATION_CREDENTIALS at it.
/// Returns the path written, and whether an inherited GOOGLE_APPLICATION_CREDENTIALS was replaced.
pub fn gcp_credentials(
    env: &mut Vars,
    dir: &CredentialsDir,
) -> Result<Option<(PathBuf, bool)>, Error> {
    let Some(json) = env.get(GCP_JSON_VAR) else {
        return Ok(None);
    };
    let json = json
        .to_str()
        .ok_or_else(|| Error::GcpJsonInvalid("not valid UTF-8".into()))?;
    validate_gcp_json(json)?;
    let dir = private_dir(dir)?;
    let path = write_private_file(&dir, "gcp-credentials", ".json", json.as_bytes())?;
    let replaced = env.insert(GCP_PATH_VAR, path.as_os_str()).is_some();
    Ok(Some((path, replaced)))
}

/// `--file KEY=VAR`: writes the value of KEY to a private file and sets VAR to its path, with
/// the same safety as the GCP key file. Returns the paths written, in order.
pub fn value_files(
    env: &mut Vars,
    files: &[(String, String)],
    dir: &CredentialsDir,
) -> Result<Vec<PathBuf>, Error> {
    let mut written = Vec::new();
    if files.is_empty() {
        return Ok(written);
    }
    let dir = private_dir(dir)?;
    for (key, target) in files {
        let result = match env.get(key) {
            None => Err(Error::FileKeyMissing {
                key: key.clone(),
                target: target.clone(),
            }),
            Some(value) => {
                let stem = key.to_ascii_lowercase().replace('_', "-");
                write_private_file(&dir, &stem, "", value.as_encoded_bytes())
            }
        };
        match result {
            Ok(path) => {
                env.insert(target, path.as_os_str());
                written.push(path);
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

/// Removes files written for a start that is not going to run the command (best effort: a
/// failure here must not hide the error that stopped the start).
pub fn remove_files(paths: &[PathBuf]) {
    for path in paths {
        let _ = std::fs::remove_file(path);
    }
}

/// The directory to write into, created 0700 if missing, and checked.
pub fn private_dir(dir: &CredentialsDir) -> Result<PathBuf, Error> {
    let (path, recursive) = match dir {
        CredentialsDir::Default { temp_dir } => {
            (temp_dir.join(format!("shortcut-env-{}", geteuid())), false)
        }
        CredentialsDir::Explicit(path) => (path.clone(), true),
    };
    match std::fs::DirBuilder::new()
        .recursive(recursive)
        .mode(0o700)
        .create(&path)
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(Error::CredentialsFileFailed {
                path,
                reason: format!("cannot create the directory: {e}"),
            });
        }
    }
    Ok(path)
}

/// Opens `dir` without following a symlink and checks that only we can write into it.
fn open_private_dir(dir: &Path) -> Result<OwnedFd, Error> {
    let unsafe_dir = |reason: String| Error::CredentialsDirUnsafe {
        path: dir.to_path_buf(),
        reason,
    };
    let fd = open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| match errno {
        Errno::ELOOP | Errno::ENOTDIR => unsafe_dir("it is a symlink or not a directory".into()),
        other => Error::CredentialsFileFailed {
            path: dir.to_path_buf(),
            reason: format!("cannot open the directory: {}", other.desc()),
        },
    })?;
    let stat = fstat(&fd).map_err(|errno| Error::CredentialsFileFailed {
        path: dir.to_path_buf(),
        reason: errno.desc().into(),
    })?;
    let me = geteuid();
    if Uid::from_raw(stat.st_uid) != me {
        return Err(unsafe_dir(format!(
            "it is owned by uid {}, not by this user (uid {me})",
            stat.st_uid
        )));
    }
    let mode = stat.st_mode & 0o7777;
    if mode & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "it is writable by group or others (mode {mode:04o})"
        )));
    }
    Ok(fd)
}

/// Writes `contents` to a new 0600 file `<stem>-<pid><ext>` in `dir` and returns its path.
pub fn write_private_file(
    dir: &Path,
    stem: &str,
    ext: &str,
    contents: &[u8],
) -> Result<PathBuf, Error> {
    let dir_fd = open_private_dir(dir)?;
    let failed = |name: &str, reason: String| Error::CredentialsFileFailed {
        path: dir.join(name),
        reason,
    };
    let pid = std::process::id();
    let (temp_name, file) = create_temp(&dir_fd, stem, pid, ext).map_err(|e| failed(stem, e))?;
    let written = write_and_sync(file, contents)
        .and_then(|()| publish(&dir_fd, dir, &temp_name, &format!("{stem}-{pid}"), ext));
    if written.is_err() {
        let _ = unlinkat(&dir_fd, temp_name.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    written
}

/// Creates a new temporary file `.<stem>-<pid>-<random><ext>.tmp`. The random part keeps two
/// starts with the same PID (PID 1 in two containers sharing a volume) from ever sharing, or
/// removing, each other's temporary file; a leftover of a crashed start is never reused.
fn create_temp(
    dir_fd: &OwnedFd,
    stem: &str,
    pid: u32,
    ext: &str,
) -> Result<(String, File), String> {
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mode = Mode::from_bits_truncate(0o600);
    for _ in 0..MAX_NAME_TRIES {
        // std seeds each RandomState's keys from the OS, so this is a fresh random number.
        let nonce = RandomState::new().build_hasher().finish();
        let name = format!(".{stem}-{pid}-{nonce:016x}{ext}.tmp");
        match openat(dir_fd, name.as_str(), flags, mode) {
            Ok(fd) => return Ok((name, File::from(fd))),
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(format!("cannot create a temporary file: {}", e.desc())),
        }
    }
    Err("cannot create a temporary file: every name tried exists".into())
}

fn write_and_sync(mut file: File, contents: &[u8]) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::CredentialsFileFailed {
        path: PathBuf::from("(temporary file)"),
        reason: e.to_string(),
    };
    // The umask may have narrowed 0600 further; make it exactly 0600.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Renames the temporary file to the first free `<stem>-<pid>[-N].json`. A symlink or anything
/// but a regular file under that name is an attack or a mistake, and stops the start.
fn publish(
    dir_fd: &OwnedFd,
    dir: &Path,
    temp: &str,
    base: &str,
    ext: &str,
) -> Result<PathBuf, Error> {
    for n in 0..MAX_NAME_TRIES {
        let name = if n == 0 {
            format!("{base}{ext}")
        } else {
            format!("{base}-{n}{ext}")
        };
        match fstatat(dir_fd, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Err(Errno::ENOENT) => {
                // A hard link fails if the name was taken since the check (by a start with
                // the same PID); rename would silently replace that file.
                let placed = match linkat(dir_fd, temp, dir_fd, name.as_str(), AtFlags::empty()) {
                    Ok(()) => unlinkat(dir_fd, temp, UnlinkatFlags::NoRemoveDir).or(Ok(())),
                    Err(Errno::EEXIST) => continue,
                    // A file system without hard links: the check above has to do.
                    Err(Errno::EPERM | Errno::EOPNOTSUPP | Errno::EMLINK) => {
                        renameat(dir_fd, temp, dir_fd, name.as_str())
                    }
                    Err(e) => Err(e),
                };
                placed.map_err(|e| Error::CredentialsFileFailed {
                    path: dir.join(&name),
                    reason: format!("cannot move it into place: {}", e.desc()),
                })?;
                return Ok(dir.join(name));
            }
            Ok(stat)
                if SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits())
                    == SFlag::S_IFREG =>
            {
                continue;
            }
            Ok(_) => {
                return Err(Error::CredentialsDirUnsafe {
                    path: dir.join(name),
                    reason: "a symlink or special file is in the way; refusing to replace it"
                        .into(),
                });
            }
            Err(e) => {
                return Err(Error::CredentialsFileFailed {
                    path: dir.join(name),
                    reason: e.desc().into(),
                });
            }
        }
    }
    Err(Error::CredentialsFileFailed {
        path: dir.to_path_buf(),
        reason: format!("{MAX_NAME_TRIES} earlier files named {base}*{ext} are in the way"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    const KEY: &str = r#"{"type":"service_account","private_key":"hunter2-marker"}"#;

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
    fn writes_a_private_file_and_points_the_variable_at_it() {
        let temp = tempfile::tempdir().unwrap();
        let dir = CredentialsDir::Explicit(temp.path().join("creds"));
        let mut env: Vars = [(GCP_JSON_VAR, KEY)].into_iter().collect();
        let (path, replaced) = gcp_credentials(&mut env, &dir).unwrap().unwrap();
        assert!(!replaced);
        assert_eq!(env.get(GCP_PATH_VAR).unwrap(), path.as_os_str());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), KEY);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(temp.path().join("creds")).unwrap().mode() & 0o777,
            0o700
        );
        // A second start with the same PID does not overwrite the first file.
        let (second, _) = gcp_credentials(&mut env, &dir).unwrap().unwrap();
        assert_ne!(second, path);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), KEY);
    }

    #[test]
    fn unsafe_directories_are_refused() {
        let temp = tempfile::tempdir().unwrap();
        let open = temp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = write_private_file(&open, "gcp-credentials", ".json", b"{}").unwrap_err();
        assert_eq!(
            (error.kind(), error.exit_code()),
            ("credentials-dir-unsafe", 73)
        );

        let link = temp.path().join("link");
        std::os::unix::fs::symlink(temp.path(), &link).unwrap();
        let error = write_private_file(&link, "gcp-credentials", ".json", b"{}").unwrap_err();
        assert_eq!(error.kind(), "credentials-dir-unsafe");
    }

    #[test]
    fn a_planted_symlink_is_neither_followed_nor_replaced() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("creds");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let target = temp.path().join("target");
        std::fs::write(&target, "untouched").unwrap();
        let planted = dir.join(format!("gcp-credentials-{}.json", std::process::id()));
        std::os::unix::fs::symlink(&target, &planted).unwrap();
        let error =
            write_private_file(&dir, "gcp-credentials", ".json", KEY.as_bytes()).unwrap_err();
        assert_eq!(error.exit_code(), 73);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
        assert!(
            std::fs::symlink_metadata(&planted)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // Nothing but the planted link is left behind.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    }
}
