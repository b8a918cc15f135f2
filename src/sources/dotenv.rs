//! Local mode's source: a dotenv file, read with bounds. Its text is parsed by the core
//! (`payload::parse_env_text`), as a secret's text is.

use std::path::Path;

use crate::error::Error;

/// The largest env file read: far beyond any real `.env`, small enough that `/dev/zero` or a
/// log file given by mistake fails at once instead of filling memory.
pub(crate) const MAX_ENV_FILE: u64 = 1024 * 1024;

/// Reads a dotenv file for local mode. A missing default `.env` is not an error; a missing file
/// that was asked for is. Only a regular file of at most [`MAX_ENV_FILE`] bytes is read: it is
/// opened without blocking (a FIFO with no writer would wait forever) and checked on the open
/// descriptor, so what is checked is what is read.
pub(crate) fn read_env_file(path: &Path, explicit: bool) -> Result<Option<String>, Error> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;

    let refused = |reason: String| Error::EnvFileRefused {
        path: path.to_path_buf(),
        reason,
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::EnvFileMissing {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(unreadable(path, e.to_string())),
    };
    let metadata = file
        .metadata()
        .map_err(|e| unreadable(path, e.to_string()))?;
    // /dev/null is the usual way to say "no env file": read as empty, like any empty file.
    if path == Path::new("/dev/null") {
        return Ok(Some(String::new()));
    }
    if !metadata.is_file() {
        return Err(refused(format!(
            "it is {}, not a regular file",
            file_kind(&metadata)
        )));
    }
    let too_large = || refused(format!("it is larger than {MAX_ENV_FILE} bytes"));
    if metadata.len() > MAX_ENV_FILE {
        return Err(too_large());
    }
    // The size can change between the check and the read: the read is bounded too.
    let mut bytes = Vec::new();
    file.take(MAX_ENV_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(path, e.to_string()))?;
    if bytes.len() as u64 > MAX_ENV_FILE {
        return Err(too_large());
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        unreadable(
            path,
            format!("not UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
        )
    })?;
    Ok(Some(text))
}

/// What a non-regular file is, for the message.
fn file_kind(metadata: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "something else"
    }
}

fn unreadable(path: &Path, reason: String) -> Error {
    Error::EnvFileUnreadable {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::parse_env_text;

    #[test]
    fn env_files_are_read_in_order_and_errors_hide_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "A=1\n# comment\nB='two words'\nexport C=\"x\\ny\"\n").unwrap();
        let text = read_env_file(&path, true).unwrap().unwrap();
        let entries = parse_env_text(&path, &text).unwrap();
        let pairs: Vec<(&str, &str)> = entries
            .pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        assert_eq!(pairs, [("A", "1"), ("B", "two words"), ("C", "x\ny")]);

        std::fs::write(&path, "A=1\nB hunter2-marker\n").unwrap();
        let text = read_env_file(&path, true).unwrap().unwrap();
        let error = parse_env_text(&path, &text).unwrap_err();
        assert_eq!(error.exit_code(), 78);
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(error.to_string().contains("line 2"), "{error}");

        assert!(
            read_env_file(&dir.path().join("absent"), false)
                .unwrap()
                .is_none()
        );
        let error = read_env_file(&dir.path().join("absent"), true).unwrap_err();
        assert_eq!(error.kind(), "env-file-missing");
    }
}
