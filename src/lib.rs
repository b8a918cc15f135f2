//! shortcut-env: fetch an application's secrets from AWS Secrets Manager into its environment,
//! then exec it.
//!
//! The pipeline, one module per step:
//!
//! ```text
//! cli (clap) → config::resolve → source::fetch → envmap::build → materialize → exec
//!   parse        pure, fail-fast   the only network   pure          one file     never returns Ok
//! ```
// Not `forbid`: `signals::reset_sigpipe` is the one documented exception (see Cargo.toml).
#![deny(unsafe_code)]

pub mod cli;
pub mod config;
pub mod envmap;
pub mod error;
pub mod exec;
pub mod inspect;
pub mod log;
pub mod materialize;
pub mod reference;
pub mod signals;
pub mod source;
pub mod tls;
pub mod vars;

use std::ffi::OsString;
use std::time::Instant;

use serde_json::{Map, json};

use crate::cli::{Cli, Mode};
use crate::config::{Config, LogFormat, Source};
use crate::envmap::{Built, Entries};
use crate::error::Error;
use crate::log::Logger;
use crate::vars::Vars;

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
    let (log, format_error) = match LogFormat::resolve(cli.options(), &inherited) {
        Ok(format) => (Logger::new(format), None),
        Err(e) => (Logger::default(), Some(e)),
    };
    signals::set_logger(log);
    let result = match format_error {
        Some(e) => Err(e),
        None => run(&cli, &inherited, &log),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            log.error(&error);
            error.exit_code()
        }
    }
}

fn run(cli: &Cli, inherited: &Vars, log: &Logger) -> Result<i32, Error> {
    let started = Instant::now();
    match &cli.mode {
        None => {
            if cli.command.is_empty() {
                return Err(Error::NoCommand);
            }
            let mut prepared = prepare(&cli.options, inherited, log)?;
            require(&prepared)?;
            materialize(&mut prepared, log)?;
            if let Err(e) = exec::check_size(&cli.command, &prepared.env) {
                signals::remove_written();
                return Err(e);
            }
            announce(&prepared, started, log);
            // Returns only if the command did not start: its files must not outlive this.
            let error = exec::exec(&cli.command, &prepared.env);
            signals::remove_written();
            Err(error)
        }
        Some(Mode::Check) => {
            let mut prepared = prepare(&cli.options, inherited, log)?;
            // Everything the start would do, files included, but they get no name: a check
            // neither adds a file nor takes away one a running start may be using.
            prepared.dir.check_only();
            let materialized = materialize(&mut prepared, log);
            signals::remove_written();
            materialized?;
            print_stdout(&inspect::check_report(
                &prepared.built,
                &prepared.env,
                &prepared.config.require,
                &prepared.file_vars(),
            ))?;
            require(&prepared)?;
            // The command is unknown here; its environment alone must fit, as at the start.
            exec::check_size(&[], &prepared.env)?;
            announce(&prepared, started, log);
            Ok(0)
        }
        Some(Mode::Export { format }) => {
            let mut prepared = prepare(&cli.options, inherited, log)?;
            require(&prepared)?;
            materialize(&mut prepared, log)?;
            let mut names = prepared.built.applied.clone();
            names.extend(prepared.file_vars());
            let text = inspect::export(&prepared.env, &names, *format)?;
            // The files outlive us only if their paths were printed.
            print_stdout(&text).inspect_err(|_| signals::remove_written())?;
            signals::keep_written();
            announce(&prepared, started, log);
            Ok(0)
        }
    }
}

/// Writes to stdout and flushes it: output that did not arrive whole (a full disk, a closed
/// pipe) is an error, not a silent success.
fn print_stdout(text: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::StdoutFailed(e.to_string()))
}

/// The command's environment and how it was made.
struct Prepared {
    config: Config,
    /// Which names the sources set, and from where (its `env` is moved out, below).
    built: Built,
    /// The command's environment.
    env: Vars,
    /// e.g. `short-cut/prod/app (version 3f0c…, AWSCURRENT)` or `.env (local mode)`.
    origin: String,
    fields: Map<String, serde_json::Value>,
    /// The credentials directory, checked before any network call.
    dir: materialize::Dir,
    /// Files written by `materialize`.
    written: Vec<materialize::Written>,
}

impl Prepared {
    /// The variables that point at materialized files.
    fn file_vars(&self) -> Vec<String> {
        let mut vars = Vec::new();
        if self.env.contains(materialize::GCP_JSON_VAR) {
            vars.push(materialize::GCP_PATH_VAR.to_string());
        }
        vars.extend(self.config.files.iter().map(|(_, var)| var.clone()));
        vars
    }
}

/// Configuration, the sources, and the environment built from them.
fn prepare(options: &cli::Options, inherited: &Vars, log: &Logger) -> Result<Prepared, Error> {
    for warning in config::warnings(options, inherited) {
        log.warn(&warning);
    }
    let config = config::resolve(options, inherited)?;
    let needs_files = !config.files.is_empty() || inherited.contains(materialize::GCP_JSON_VAR);
    let dir = materialize::prepare_dir(&config.credentials_dir, needs_files)?;
    let (sources, origin, fields) = load(&config)?;
    let mut built = envmap::build(inherited, &sources, &config.policy)?;
    for warning in &built.warnings {
        log.warn(warning);
    }
    Ok(Prepared {
        // One environment, which materializing then extends; `built` keeps what it says.
        env: std::mem::take(&mut built.env),
        config,
        built,
        origin,
        fields,
        dir,
        written: Vec::new(),
    })
}

/// Every `--require`d key must be there, all missing ones named at once.
fn require(prepared: &Prepared) -> Result<(), Error> {
    let missing = envmap::missing_required(&prepared.env, &prepared.config.require);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::RequiredMissing(missing))
    }
}

/// The GCP key file and the `--file` files.
fn write_files(prepared: &mut Prepared, log: &Logger) -> Result<(), Error> {
    let dir = &mut prepared.dir;
    if let Some((file, replaced)) = materialize::gcp_credentials(&mut prepared.env, dir)? {
        if replaced {
            log.warn(&format!(
                "{} is replaced by the file written from {}",
                materialize::GCP_PATH_VAR,
                materialize::GCP_JSON_VAR
            ));
        }
        prepared.fields.insert(
            "gcp_credentials_file".into(),
            json!(file.path.display().to_string()),
        );
        prepared.written.push(file);
    }
    let files =
        materialize::value_files(&mut prepared.env, &prepared.config.files, &mut prepared.dir)
            .inspect_err(|_| materialize::remove_files(&prepared.written))?;
    prepared.written.extend(files);
    Ok(())
}

/// [`write_files`] under the signal registry: a stop signal waits until the files are recorded,
/// and every later failure (and the signal thread) removes them from there.
fn materialize(prepared: &mut Prepared, log: &Logger) -> Result<(), Error> {
    signals::writing(|| {
        write_files(prepared, log)?;
        Ok(((), prepared.written.clone()))
    })
}

/// The one success line.
fn announce(prepared: &Prepared, started: Instant, log: &Logger) {
    let keys = prepared.built.applied.len();
    let elapsed_ms = started.elapsed().as_millis();
    let mut fields = prepared.fields.clone();
    fields.insert("keys".into(), json!(keys));
    fields.insert("elapsed_ms".into(), json!(elapsed_ms));
    fields.insert("app_env".into(), json!(prepared.config.app_env.as_str()));
    let plural = if keys == 1 { "" } else { "s" };
    log.info(
        &format!(
            "loaded {keys} key{plural} from {} in {elapsed_ms} ms",
            prepared.origin
        ),
        fields,
    );
}

type Loaded = (Vec<Entries>, String, Map<String, serde_json::Value>);

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
            Ok((entries.into_iter().collect(), origin, fields))
        }
        Source::Aws(aws) => {
            let fetched = source::fetch(aws)?;
            let origin = fetched
                .iter()
                .map(|f| {
                    format!(
                        "{} (version {}, {})",
                        f.secret,
                        f.version_id.as_deref().unwrap_or("unknown"),
                        f.version_stages.join(",")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut fields = Map::new();
            fields.insert("region".into(), json!(aws.region));
            if let [only] = fetched.as_slice() {
                fields.insert("secret".into(), json!(only.secret));
                fields.insert("version_id".into(), json!(only.version_id));
                fields.insert("version_stages".into(), json!(only.version_stages));
            }
            fields.insert(
                "secrets".into(),
                json!(
                    fetched
                        .iter()
                        .map(|f| json!({
                            "secret": f.secret,
                            "version_id": f.version_id,
                            "version_stages": f.version_stages,
                        }))
                        .collect::<Vec<_>>()
                ),
            );
            Ok((
                fetched.into_iter().map(|f| f.entries).collect(),
                origin,
                fields,
            ))
        }
    }
}
