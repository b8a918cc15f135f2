//! shortcut-env: fetch an application's secrets from AWS Secrets Manager into its environment,
//! then exec it.
//!
//! The pipeline, one module per step:
//!
//! ```text
//! cli (clap) → config::resolve → source::fetch → envmap::build → materialize → exec
//!   parse        pure, fail-fast   the only network   pure          one file     never returns Ok
//! ```
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod envmap;
pub mod error;
pub mod exec;
pub mod log;
pub mod materialize;
pub mod source;
pub mod tls;
pub mod vars;

use std::ffi::OsString;
use std::time::Instant;

use clap::Parser;
use serde_json::{Map, json};

use crate::cli::Cli;
use crate::config::{Config, LogFormat, Source};
use crate::envmap::{Entries, Policy, Precedence};
use crate::error::Error;
use crate::log::Logger;
use crate::vars::Vars;

/// Runs the wrapper with `args` and the `inherited` environment. Returns the exit status of a
/// failure; on success the process has become the command and this never returns.
pub fn main_with(args: Vec<OsString>, inherited: Vars) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; everything else is a usage error.
            let _ = e.print();
            return if e.use_stderr() {
                error::code::USAGE
            } else {
                0
            };
        }
    };
    let (log, format_error) = match LogFormat::resolve(&cli.options, &inherited) {
        Ok(format) => (Logger::new(format), None),
        Err(e) => (Logger::default(), Some(e)),
    };
    let error = match format_error {
        Some(e) => e,
        None => match run(&cli, &inherited, &log) {
            Ok(never) => match never {},
            Err(e) => e,
        },
    };
    log.error(&error);
    error.exit_code()
}

/// What was loaded, for the success line.
struct Loaded {
    entries: Entries,
    /// e.g. `short-cut/prod/app (version 3f0c…, AWSCURRENT)` or `.env`.
    origin: String,
    fields: Map<String, serde_json::Value>,
}

fn run(cli: &Cli, inherited: &Vars, log: &Logger) -> Result<std::convert::Infallible, Error> {
    let started = Instant::now();
    if cli.command.is_empty() {
        return Err(Error::NoCommand);
    }
    let config = config::resolve(&cli.options, inherited)?;
    let loaded = load(&config)?;

    let precedence = match (&config.source, config.preserve_env) {
        (Source::Local { .. }, _) | (_, true) => Precedence::InheritedWins,
        (Source::Aws(_), false) => Precedence::SourceWins,
    };
    let built = envmap::build(inherited, &loaded.entries, precedence, &Policy::default());
    for warning in &built.warnings {
        log.warn(warning);
    }
    let missing = envmap::missing_required(&built.env, &config.require);
    if !missing.is_empty() {
        return Err(Error::RequiredMissing(missing));
    }
    let mut env = built.env;
    let mut fields = loaded.fields;
    if let Some((path, replaced)) = materialize::gcp_credentials(&mut env, &config.credentials_dir)?
    {
        if replaced {
            log.warn(&format!(
                "{} is replaced by the file written from {}",
                materialize::GCP_PATH_VAR,
                materialize::GCP_JSON_VAR
            ));
        }
        fields.insert(
            "gcp_credentials_file".into(),
            json!(path.display().to_string()),
        );
    }

    let keys = built.applied.len();
    let elapsed_ms = started.elapsed().as_millis();
    fields.insert("keys".into(), json!(keys));
    fields.insert("elapsed_ms".into(), json!(elapsed_ms));
    fields.insert("app_env".into(), json!(config.app_env.as_str()));
    let plural = if keys == 1 { "" } else { "s" };
    log.info(
        &format!(
            "loaded {keys} key{plural} from {} in {elapsed_ms} ms",
            loaded.origin
        ),
        fields,
    );
    Err(exec::exec(&cli.command, &env))
}

fn load(config: &Config) -> Result<Loaded, Error> {
    match &config.source {
        Source::Local { env_file, explicit } => {
            let entries = source::read_env_file(env_file, *explicit)?;
            let origin = match &entries {
                Some(_) => format!("{} (local mode)", env_file.display()),
                None => format!("nowhere: no {} file (local mode)", env_file.display()),
            };
            let mut fields = Map::new();
            fields.insert("env_file".into(), json!(env_file.display().to_string()));
            Ok(Loaded {
                entries: entries.unwrap_or_default(),
                origin,
                fields,
            })
        }
        Source::Aws(aws) => {
            let fetched = source::fetch(aws)?;
            let version = fetched.version_id.as_deref().unwrap_or("unknown");
            let stages = fetched.version_stages.join(",");
            let origin = format!("{} (version {version}, {stages})", aws.secret_id);
            let mut fields = Map::new();
            fields.insert("secret".into(), json!(aws.secret_id));
            fields.insert("region".into(), json!(aws.region));
            fields.insert("version_id".into(), json!(fetched.version_id));
            fields.insert("version_stages".into(), json!(fetched.version_stages));
            Ok(Loaded {
                entries: fetched.entries,
                origin,
                fields,
            })
        }
    }
}
