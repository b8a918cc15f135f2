//! The last step: replace this process with the command.
//!
//! `exec`, never spawn: the command keeps our PID (PID 1 in a container), receives signals
//! directly, and its exit status is the container's. Only a failure to start it comes back.
//!
//! `execve` with our own PATH search rather than `std::process::Command::exec`, for three
//! reasons: std empties the signal mask (the command must get the one we inherited, see
//! `signals`); glibc's `execvp` runs a file of unknown format with `/bin/sh` instead of failing;
//! and a failure must be classified by what was found on PATH (a console script with a stale
//! `#!` is "cannot execute", 126, not "not found", 127).

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::error::Error;
use crate::signals::ExecGate;
use crate::vars::Vars;

/// glibc's PATH when the environment has none (`confstr(_CS_PATH)`).
const DEFAULT_PATH: &str = "/bin:/usr/bin";
/// The kernel's cap on one argument or `NAME=value` string, its NUL included (`MAX_ARG_STRLEN`,
/// 32 pages).
pub(crate) const MAX_ARG_STRLEN: usize = 32 * 4096;
/// The kernel's cap on all of them together, whatever the stack limit: 3/4 of `_STK_LIM`.
const MAX_ARG_TOTAL: usize = 6 * 1024 * 1024;
/// How many of the largest variables a too-large environment names.
const LARGEST_SHOWN: usize = 3;

/// Execs `command` with exactly `env`. Returns only on failure: 127 when it is not found (on
/// PATH, as execvp searches), 126 when what was found cannot be executed.
pub(crate) fn exec(command: &[OsString], env: &Vars) -> Error {
    let Some(program) = command.first() else {
        return Error::NoCommand;
    };
    if let Err(e) = check_size(command, env) {
        return e;
    }
    let (Some(argv), Some(envp)) = (c_strings(command.iter()), c_strings(env_strings(env))) else {
        return not_executable(program, "an argument or variable holds a NUL byte".into());
    };
    let gate = ExecGate::open();
    let Err(error) = start_first(program, env, |path| {
        let path_c = c_strings([path.as_os_str()])
            .and_then(|v| v.into_iter().next())
            .ok_or(Errno::ENOENT)?;
        let Err(errno) = nix::unistd::execve(&path_c, &argv, &envp);
        Err::<std::convert::Infallible, _>(errno)
    });
    gate.failed();
    error
}

/// Tries `start` on each candidate for `program` as execvp does: a candidate that is missing
/// is skipped, one that is found but not executable is remembered and the search goes on, any
/// other failure ends it. Shared by exec and by `--init`'s spawn, so that both classify a
/// failure (126 or 127) the same way.
pub(crate) fn start_first<T>(
    program: &OsStr,
    env: &Vars,
    mut start: impl FnMut(&Path) -> Result<T, Errno>,
) -> Result<T, Error> {
    let mut found: Option<Error> = None;
    for path in &candidates(program, env) {
        let errno = match start(path) {
            Ok(started) => return Ok(started),
            Err(errno) => errno,
        };
        let problem = match errno {
            // A file that exists but "does not": its #! interpreter is missing.
            Errno::ENOENT if path.is_file() => {
                Some(not_executable(path.as_os_str(), interpreter_missing(path)))
            }
            Errno::ENOENT | Errno::ENOTDIR | Errno::ESTALE | Errno::ENODEV | Errno::ETIMEDOUT => {
                None
            }
            Errno::EACCES if path.is_dir() => {
                Some(not_executable(path.as_os_str(), "it is a directory".into()))
            }
            Errno::EACCES => Some(not_executable(
                path.as_os_str(),
                std::io::Error::from(errno).to_string(),
            )),
            // No fallback to /bin/sh (glibc's execvp has one): an unknown format is an error.
            Errno::ENOEXEC => {
                return Err(not_executable(
                    path.as_os_str(),
                    "Exec format error: not a binary for this platform, nor a script with a #! \
                     line"
                        .into(),
                ));
            }
            Errno::E2BIG => {
                return Err(too_large(&[program], env, "the kernel refused it (E2BIG)"));
            }
            other => {
                return Err(not_executable(
                    path.as_os_str(),
                    std::io::Error::from(other).to_string(),
                ));
            }
        };
        if found.is_none() {
            found = problem;
        }
    }
    Err(found.unwrap_or_else(|| Error::CommandNotFound(shown(program))))
}

/// The paths to try for `program`: itself when it holds a `/`, else each PATH entry of the
/// command's environment (an empty entry is the working directory, as for execvp).
fn candidates(program: &OsStr, env: &Vars) -> Vec<PathBuf> {
    if program.is_empty() {
        return Vec::new();
    }
    if program.as_bytes().contains(&b'/') {
        return vec![PathBuf::from(program)];
    }
    let path = env.get("PATH").unwrap_or(OsStr::new(DEFAULT_PATH));
    path.as_bytes()
        .split(|b| *b == b':')
        .map(|dir| match dir {
            b"" => Path::new(".").join(program),
            dir => Path::new(OsStr::from_bytes(dir)).join(program),
        })
        .collect()
}

/// Predicts the kernel's E2BIG before exec (and in `check`): every string within
/// `MAX_ARG_STRLEN`, and strings plus pointers within `sysconf(ARG_MAX)` (a quarter of the
/// stack limit, at least 128 KiB), capped at 6 MiB.
pub(crate) fn check_size(command: &[OsString], env: &Vars) -> Result<(), Error> {
    if let Some((name, size)) = env
        .iter()
        .map(|(k, v)| (k, k.len() + v.len() + 2))
        .find(|(_, size)| *size > MAX_ARG_STRLEN)
    {
        let reason = format!(
            "variable {} is {size} bytes, more than the {MAX_ARG_STRLEN} bytes one variable may be",
            shown(name)
        );
        return Err(too_large(command, env, &reason));
    }
    if let Some(arg) = command.iter().find(|a| a.len() + 1 > MAX_ARG_STRLEN) {
        let reason = format!(
            "an argument of {} bytes is more than the {MAX_ARG_STRLEN} bytes one may be",
            arg.len() + 1
        );
        return Err(too_large(command, env, &reason));
    }
    let total = total_size(command, env);
    let limit = arg_max();
    if total > limit {
        let reason = format!("{total} bytes, more than the limit of {limit} bytes");
        return Err(too_large(command, env, &reason));
    }
    Ok(())
}

/// What execve counts: the strings with their NULs (the program's path once more), and one
/// pointer per argument and variable.
fn total_size(command: &[OsString], env: &Vars) -> usize {
    let strings: usize = command.iter().map(|a| a.len() + 1).sum::<usize>()
        + command.first().map_or(0, |p| p.len() + 1)
        + env
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>();
    let pointers = (command.len().max(1) + env.len()) * std::mem::size_of::<usize>();
    strings + pointers
}

fn arg_max() -> usize {
    let from_sysconf = nix::unistd::sysconf(nix::unistd::SysconfVar::ARG_MAX)
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(128 * 1024);
    from_sysconf.min(MAX_ARG_TOTAL)
}

/// The error for a too-large environment: the reason, the total, and the largest variables by
/// name and size (never a value).
fn too_large(command: &[impl AsRef<OsStr>], env: &Vars, reason: &str) -> Error {
    let owned: Vec<OsString> = command.iter().map(|a| a.as_ref().to_owned()).collect();
    let mut sizes: Vec<(usize, String)> = env
        .iter()
        .map(|(k, v)| (k.len() + v.len() + 2, shown(k)))
        .collect();
    sizes.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let largest = sizes
        .iter()
        .take(LARGEST_SHOWN)
        .map(|(size, name)| format!("{name} ({size} bytes)"))
        .collect::<Vec<_>>()
        .join(", ");
    Error::EnvironmentTooLarge {
        reason: reason.to_string(),
        total: total_size(&owned, env),
        variables: env.len(),
        largest,
    }
}

/// Why a found script could not start: its `#!` interpreter, named (escaped, so that a `\r`
/// from CRLF line endings shows).
fn interpreter_missing(path: &Path) -> String {
    let head = std::fs::read(path)
        .map(|mut bytes| {
            bytes.truncate(256);
            bytes
        })
        .unwrap_or_default();
    let line = head
        .strip_prefix(b"#!")
        .and_then(|rest| rest.split(|b| *b == b'\n').next())
        .map(|line| String::from_utf8_lossy(line).trim_start().to_string());
    match line {
        Some(line) => {
            let interpreter = line.split([' ', '\t']).next().unwrap_or_default();
            format!(
                "its #! interpreter {} was not found",
                interpreter.escape_debug()
            )
        }
        None => "its interpreter or a library it needs was not found".into(),
    }
}

fn not_executable(command: &OsStr, reason: String) -> Error {
    Error::CommandNotExecutable {
        command: shown(command),
        reason,
    }
}

/// A name or path as logged: lossy UTF-8 with control characters escaped.
fn shown(text: &OsStr) -> String {
    let lossy = text.to_string_lossy();
    if lossy.chars().any(char::is_control) {
        lossy.escape_debug().to_string()
    } else {
        lossy.into_owned()
    }
}

pub(crate) fn env_strings(env: &Vars) -> impl Iterator<Item = OsString> + '_ {
    env.iter().map(|(k, v)| {
        let mut entry = k.to_owned();
        entry.push("=");
        entry.push(v);
        entry
    })
}

pub(crate) fn c_strings<S: AsRef<OsStr>>(
    items: impl IntoIterator<Item = S>,
) -> Option<Vec<CString>> {
    items
        .into_iter()
        .map(|s| CString::new(s.as_ref().as_bytes()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        let mut vars = Vars::default();
        for (k, v) in pairs {
            vars.insert(k, OsStr::new(v));
        }
        vars
    }

    #[test]
    fn bare_names_are_searched_on_path_and_empty_entries_are_the_cwd() {
        let env = vars(&[("PATH", "/a::/b")]);
        assert_eq!(
            candidates(OsStr::new("app"), &env),
            vec![
                PathBuf::from("/a/app"),
                PathBuf::from("./app"),
                PathBuf::from("/b/app")
            ]
        );
        assert_eq!(
            candidates(OsStr::new("./app"), &env),
            vec![PathBuf::from("./app")]
        );
        assert!(candidates(OsStr::new(""), &env).is_empty());
    }

    #[test]
    fn one_variable_over_128_kib_is_too_large_and_named() {
        let big = "x".repeat(MAX_ARG_STRLEN);
        let env = vars(&[("BIG_ONE", &big), ("SMALL", "s")]);
        let error = check_size(&["true".into()], &env).unwrap_err();
        assert_eq!(error.exit_code(), 126);
        let message = error.to_string();
        assert!(message.contains("BIG_ONE"), "{message}");
        assert!(!message.contains("xxxx"), "{message}");
    }
}
