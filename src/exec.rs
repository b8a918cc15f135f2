//! The last step: replace this process with the command.
//!
//! `exec`, never spawn: the command keeps our PID (PID 1 in a container), receives signals
//! directly, and its exit status is the container's. Only a failure to start it comes back.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::error::Error;
use crate::vars::Vars;

/// Execs `command` with exactly `env`. Returns only on failure: 127 when it (or its `#!`
/// interpreter) does not exist, 126 when it cannot be executed.
pub fn exec(command: &[OsString], env: &Vars) -> Error {
    let Some((program, args)) = command.split_first() else {
        return Error::NoCommand;
    };
    // With PATH in the new environment, std searches that PATH, as execvp would.
    let error = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter())
        .exec();
    let shown = program.to_string_lossy().into_owned();
    match error.kind() {
        std::io::ErrorKind::NotFound if Path::new(program).is_file() => {
            Error::CommandNotExecutable {
                command: shown,
                reason: "its #! interpreter was not found".into(),
            }
        }
        std::io::ErrorKind::NotFound => Error::CommandNotFound(shown),
        _ => Error::CommandNotExecutable {
            command: shown,
            reason: error.to_string(),
        },
    }
}
