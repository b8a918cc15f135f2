//! `shortcut-env copy DIR`: puts this very binary into DIR as `DIR/shortcut-env`, 0755.
//!
//! The initContainer pattern for images that cannot be rebuilt: a container of the binary-only
//! image copies the wrapper into a shared volume, and the application's container runs it from
//! there. So the copy needs no configuration (no APP_ENV, no AWS) and must be safe on a volume
//! others may share:
//!
//! - the source is `/proc/self/exe`, the file the kernel is running, never `argv[0]` (which the
//!   caller chooses, and which may be a relative name, a wrapper script or another file);
//! - DIR is opened once with `O_NOFOLLOW|O_DIRECTORY` and every later step works relative to
//!   that descriptor, so a symlink at DIR's final component is refused and DIR cannot be swapped
//!   for another directory half-way;
//! - the bytes go to a temporary file created `O_CREAT|O_EXCL|O_NOFOLLOW` in DIR (never an
//!   existing file, never through a link), made 0755 with `fchmod` (so the umask does not
//!   matter), synced, then renamed over `shortcut-env` and the directory synced: a reader sees
//!   the old binary or the new one, never a half-written one, even across a crash;
//! - a symlink, directory or other non-regular file at `DIR/shortcut-env` is refused, checked
//!   before the copy and again just before the rename. The rename itself never follows a
//!   symlink (it would replace the link, not write where it points), so a link planted between
//!   the check and the rename can at worst be replaced by our file, never written through.
//!
//! A regular file at the name is replaced: running the copy twice (a restarted pod) is normal.
//! On every failure the temporary file is removed; one killed mid-copy (SIGKILL) is left as
//! `.shortcut-env.<random>.tmp`, never under the final name.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, open, openat, renameat};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstatat};
use nix::unistd::{UnlinkatFlags, fsync, unlinkat};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::Error;
use crate::log::Logger;

/// The name the binary gets in DIR, whatever this process was started as.
pub(crate) const NAME: &str = "shortcut-env";

/// The running binary, as the kernel knows it.
const SOURCE: &str = "/proc/self/exe";

/// What was copied where.
#[derive(Debug)]
pub(crate) struct Copied {
    /// `DIR/shortcut-env`.
    pub path: PathBuf,
    pub bytes: u64,
}

/// `shortcut-env copy DIR`: the copy, and its one line (the path, the size).
pub(crate) fn run(dir: &Path, command: &[std::ffi::OsString], log: &Logger) -> Result<i32, Error> {
    if !command.is_empty() {
        return Err(Error::Usage("copy takes no command after `--`".into()));
    }
    let copied = copy(dir)?;
    let mut fields = serde_json::Map::new();
    fields.insert("path".into(), copied.path.display().to_string().into());
    fields.insert("bytes".into(), copied.bytes.into());
    let message = format!(
        "copied this binary ({} bytes) to {}",
        copied.bytes,
        copied.path.display()
    );
    log.info(&message, fields);
    Ok(0)
}

/// Copies the running binary to `DIR/shortcut-env`, atomically, 0755.
pub(crate) fn copy(dir: &Path) -> Result<Copied, Error> {
    // "link/" or "link/." would make the kernel follow the final symlink despite O_NOFOLLOW:
    // the components drop trailing slashes and inner "." so that the final one is the name.
    let dir: PathBuf = dir.components().collect();
    let target = dir.join(NAME);
    let mut source = File::open(SOURCE).map_err(|e| Error::CopySourceUnreadable(e.to_string()))?;
    let length = source
        .metadata()
        .map_err(|e| Error::CopySourceUnreadable(e.to_string()))?
        .len();
    let dir_fd = open_dir(&dir)?;
    check_target(&dir_fd, &target)?;
    let (temp, file) = create_temp(&dir_fd, &target)?;
    let placed = (|| {
        let failed = |e: io::Error| Error::CopyFailed {
            path: target.clone(),
            reason: e.to_string(),
        };
        let mut writer = &file;
        let copied = io::copy(&mut source, &mut writer).map_err(failed)?;
        if copied != length {
            return Err(Error::CopyFailed {
                path: target.clone(),
                reason: format!("copied {copied} bytes of {length}"),
            });
        }
        file.sync_all().map_err(failed)?;
        check_target(&dir_fd, &target)?;
        renameat(&dir_fd, temp.as_str(), &dir_fd, NAME).map_err(|e| Error::CopyFailed {
            path: target.clone(),
            reason: e.desc().to_string(),
        })?;
        Ok(())
    })();
    if let Err(error) = placed {
        let _ = unlinkat(&dir_fd, temp.as_str(), UnlinkatFlags::NoRemoveDir);
        return Err(error);
    }
    // The rename is durable only once the directory is synced.
    fsync(&dir_fd).map_err(|e| Error::CopyFailed {
        path: target.clone(),
        reason: format!("syncing the directory: {}", e.desc()),
    })?;
    Ok(Copied {
        path: target,
        bytes: length,
    })
}

/// DIR itself, not a symlink to it.
fn open_dir(dir: &Path) -> Result<OwnedFd, Error> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    open(dir, flags, Mode::empty()).map_err(|errno| {
        let reason = match errno {
            // ELOOP from O_NOFOLLOW; ENOTDIR may also mean a symlink, so look at the name.
            Errno::ELOOP | Errno::ENOTDIR if is_symlink(dir) => {
                "it is a symbolic link (not followed: give the real directory)".to_string()
            }
            Errno::ENOENT => "it does not exist".to_string(),
            Errno::ENOTDIR => "it is not a directory".to_string(),
            other => other.desc().to_string(),
        };
        Error::CopyDirUnusable {
            path: dir.to_path_buf(),
            reason,
        }
    })
}

fn is_symlink(path: &Path) -> bool {
    path.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
}

/// Nothing but a regular file (or nothing) may be at the target's name.
fn check_target(dir: &OwnedFd, target: &Path) -> Result<(), Error> {
    let refuse = |reason: &str| Error::CopyTargetUnsafe {
        path: target.to_path_buf(),
        reason: reason.to_string(),
    };
    match fstatat(dir, NAME, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(Errno::ENOENT) => Ok(()),
        Err(errno) => Err(Error::CopyFailed {
            path: target.to_path_buf(),
            reason: errno.desc().to_string(),
        }),
        Ok(stat) => match file_type(&stat) {
            SFlag::S_IFREG => Ok(()),
            SFlag::S_IFLNK => Err(refuse("it is a symbolic link, which is not replaced")),
            SFlag::S_IFDIR => Err(refuse("it is a directory")),
            _ => Err(refuse("it is not a regular file")),
        },
    }
}

fn file_type(stat: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT
}

/// A new file `.shortcut-env.<random>.tmp` in DIR, 0755 whatever the umask.
fn create_temp(dir: &OwnedFd, target: &Path) -> Result<(String, File), Error> {
    let failed = |reason: String| Error::CopyFailed {
        path: target.to_path_buf(),
        reason,
    };
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut last = Errno::EEXIST;
    // A random name taken by another copy (or planted) is tried again, a few times.
    for _ in 0..8 {
        let mut random = [0u8; 8];
        SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| failed("no random source for the temporary name".into()))?;
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!(".{NAME}.{hex}.tmp");
        match openat(dir, name.as_str(), flags, Mode::from_bits_truncate(0o700)) {
            Ok(fd) => {
                let file = File::from(fd);
                if let Err(errno) = fchmod(file.as_fd(), Mode::from_bits_truncate(0o755)) {
                    let _ = unlinkat(dir, name.as_str(), UnlinkatFlags::NoRemoveDir);
                    return Err(failed(errno.desc().to_string()));
                }
                return Ok((name, file));
            }
            Err(Errno::EEXIST) => last = Errno::EEXIST,
            Err(errno) => return Err(failed(errno.desc().to_string())),
        }
    }
    Err(failed(format!("no free temporary name ({})", last.desc())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn copies_the_running_binary_and_replaces_a_previous_copy() {
        let dir = tempfile::tempdir().unwrap();
        let first = copy(dir.path()).unwrap();
        let second = copy(dir.path()).unwrap();
        assert_eq!(first.path, dir.path().join(NAME));
        let meta = std::fs::metadata(&second.path).unwrap();
        assert_eq!(meta.len(), second.bytes);
        assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left");
    }

    #[test]
    fn a_trailing_slash_does_not_follow_a_symlinked_directory() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        for given in ["link", "link/", "link/."] {
            let error = copy(&dir.path().join(given)).unwrap_err();
            assert_eq!(error.kind(), "copy-dir-unusable", "{given}");
        }
        assert!(!real.join(NAME).exists());
    }
}
