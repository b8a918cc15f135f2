//! shortcut-env: fetch an application's secrets from AWS Secrets Manager into its environment,
//! then exec it.
//!
//! The I/O around the pure core (`shortcut_env_core`, re-exported here under its module names):
//!
//! ```text
//! cli (clap) → app: resolve → sources::fetch → plan → materialize → require → exec | check | export
//!   parse         core      the only network   core    files                    never returns Ok
//! ```
// Not `forbid`: `signals::reset_sigpipe` is the one documented exception (see Cargo.toml).
#![deny(unsafe_code)]
// What is `pub` in a private module is `pub(crate)`: the library's API is `main_with` and the core.
#![warn(unreachable_pub)]

pub use shortcut_env_core::{
    config, drop_credentials, envmap, error, payload, reference, render, settings, text, vars,
};

mod app;
mod cli;
mod copy;
mod exec;
mod failover;
mod log;
mod materialize;
mod signals;
mod sources;
mod supervise;

use std::ffi::OsString;

use crate::cli::Cli;
use crate::config::LogFormat;
use crate::log::Logger;
use crate::vars::Vars;

/// The process environment: the only place the wrapper reads it.
pub fn process_vars() -> Vars {
    std::env::vars_os().collect()
}

/// Runs the wrapper with `args` and the `inherited` environment. Returns the exit status; when
/// a command is run, the process has become the command and this never returns.
pub fn main_with(args: Vec<OsString>, inherited: Vars) -> i32 {
    // First, before any thread exists, so that every thread inherits the blocked signals.
    signals::install();
    let cli = match Cli::parse_args(args.clone()) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version print to stdout and succeed.
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            let log = Logger::new(cli::log_format_of(&args, &inherited));
            signals::set_logger(log);
            let error = cli::usage_error(&e);
            log.error(&error);
            return error.exit_code();
        }
    };
    let (log, format_error) = match LogFormat::resolve(&cli.given, &inherited) {
        Ok(format) => (Logger::new(format), None),
        Err(e) => (Logger::default(), Some(e)),
    };
    signals::set_logger(log);
    let result = match format_error {
        Some(e) => Err(e),
        None => match &cli.copy {
            Some(dir) => copy::run(dir, &cli.command, &log),
            None => app::run(cli.mode, &cli.given, &cli.command, &inherited, &log),
        },
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            log.error(&error);
            error.exit_code()
        }
    }
}
