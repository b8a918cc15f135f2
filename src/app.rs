//! The one pipeline, for every mode:
//!
//! ```text
//! resolve → fetch → plan → materialize → require → last step (exec | check's report | export)
//! ```
//!
//! `check` and `export` are this pipeline with another last step, so they fail exactly where and
//! as the start would. Files written are removed on every failure path by construction (a
//! [`Files`] guard) and kept only by a successful exec (the process image is replaced, no
//! destructor runs) or by `export`, whose output names them.

use std::ffi::OsString;
use std::time::Instant;

use crate::cli::Mode;
use crate::config::{self, Config, Source};
use crate::envmap::{self, Built};
use crate::error::Error;
use crate::log::Logger;
use crate::materialize::{self, GCP_JSON_VAR, GCP_PATH_VAR};
use crate::payload::{self, Origin};
use crate::render::{self, Report};
use crate::settings::Given;
use crate::vars::Vars;
use crate::{drop_credentials, exec, signals, sources};

/// What the command would get, and how it was made.
pub(crate) struct Plan {
    pub config: Config,
    /// Where each source's payload came from.
    pub origins: Vec<Origin>,
    /// Which names the sources set, and from where (its `env` is moved into [`Plan::env`]).
    pub built: Built,
    /// The command's environment.
    pub env: Vars,
    /// The AWS credential variables `--drop-aws-credentials` removed from it.
    pub dropped: Vec<String>,
    /// The GCP key file, once written.
    pub gcp_file: Option<std::path::PathBuf>,
}

impl Plan {
    /// The variables that point at materialized files.
    pub(crate) fn file_vars(&self) -> Vec<String> {
        let mut vars = Vec::new();
        if self.env.contains(GCP_JSON_VAR) {
            vars.push(GCP_PATH_VAR.to_string());
        }
        vars.extend(self.config.files.iter().map(|(_, var)| var.clone()));
        vars
    }
}

/// The files a start wrote: removed when dropped, unless kept.
struct Files {
    kept: bool,
}

impl Files {
    fn keep(mut self) {
        signals::keep_written();
        self.kept = true;
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        if !self.kept {
            signals::remove_written();
        }
    }
}

/// Runs the pipeline up to `mode`'s last step. Returns the exit status; when a command runs,
/// the process has become the command and this never returns.
pub(crate) fn run(
    mode: Mode,
    given: &Given,
    command: &[OsString],
    inherited: &Vars,
    log: &Logger,
) -> Result<i32, Error> {
    let started = Instant::now();
    if mode == Mode::Run && command.is_empty() {
        return Err(Error::NoCommand);
    }

    // Resolve: every setting checked, and the credentials directory opened, before any call.
    for warning in config::warnings(given, inherited) {
        log.warn(&warning);
    }
    let config = config::resolve(given, inherited)?;
    if let Source::Aws(_) = &config.source {
        sources::check_endpoints(inherited)?;
    }
    let needs_files = !config.files.is_empty() || inherited.contains(GCP_JSON_VAR);
    let mut dir = materialize::prepare_dir(&config.credentials_dir, needs_files)?;
    if mode == Mode::Check {
        // Everything the start would do, files included, but they get no name: a check
        // neither adds a file nor takes away one a running start may be using.
        dir.check_only();
    }

    // Fetch: the only network I/O; raw payloads, one result per reference.
    let fetched = sources::fetch(&config, inherited)?;

    // Plan: payloads → entries → the command's environment, the references in order.
    let mut plan = plan(config, fetched, inherited, Some(log))?;

    // Materialize, under the guard.
    let files = materialize_files(&mut plan, &mut dir, log)?;

    // Require, then what the last step needs.
    let required = require(&plan);
    let fits = exec::check_size(command, &plan.env);
    match mode {
        Mode::Check => {
            // The report shows every key's OK/FAIL, so it comes before the verdict.
            print_stdout(&render::check_report(
                &plan.built,
                &plan.env,
                &plan.config.require,
                &plan.file_vars(),
                &plan.dropped,
            ))?;
            if let Some(cost) = crate::supervise::watch_cost(&plan.config) {
                print_stdout(&cost)?;
            }
            required?;
            fits?;
            announce(&plan, started, log);
            Ok(0)
        }
        Mode::Export(format) => {
            required?;
            fits?;
            let mut names = plan.built.applied.clone();
            names.extend(plan.file_vars());
            let text = render::export(&plan.env, &names, format)?;
            // The files outlive us only if their paths were printed.
            print_stdout(&text)?;
            files.keep();
            announce(&plan, started, log);
            Ok(0)
        }
        Mode::Run => {
            required?;
            fits?;
            announce(&plan, started, log);
            if plan.config.supervise.init {
                // The command will use the files; from here on the supervisor owns them.
                files.keep();
                return crate::supervise::run(command, plan, inherited, log);
            }
            // Returns only if the command did not start; `files` then removes what we wrote.
            Err(exec::exec(command, &plan.env))
        }
    }
}

/// `--watch`: the pipeline once more, from a configuration whose watched references are
/// pinned to the version ids a poll saw: fetch, plan, files, require, size. The warnings of
/// the start are not repeated. The files it writes are kept on success and removed on failure
/// (only its own: the running command's were handed over before it started).
pub(crate) fn rebuild(config: Config, inherited: &Vars, log: &Logger) -> Result<Plan, Error> {
    let needs_files = !config.files.is_empty() || inherited.contains(GCP_JSON_VAR);
    let mut dir = materialize::prepare_dir(&config.credentials_dir, needs_files)?;
    let fetched = sources::fetch(&config, inherited)?;
    let mut plan = plan(config, fetched, inherited, None)?;
    let files = materialize_files(&mut plan, &mut dir, log)?;
    require(&plan)?;
    exec::check_size(&[], &plan.env)?;
    files.keep();
    Ok(plan)
}

/// The sources' payloads as the command's environment, by the configured rules; warnings go
/// to `log` when there is one. The first failure in configuration order is the one reported
/// ([`payload::build_in_order`]).
fn plan(
    config: Config,
    fetched: Vec<payload::Fetched>,
    inherited: &Vars,
    log: Option<&Logger>,
) -> Result<Plan, Error> {
    if let Some(log) = log {
        // A replica's answer is worth knowing even when a later reference fails.
        let read = fetched.iter().map_while(|result| result.as_ref().ok());
        for warning in read.flatten().filter_map(payload::failover_warning) {
            log.warn(&warning);
        }
    }
    let (payloads, mut built) = payload::build_in_order(fetched, inherited, &config.policy)?;
    if let Some(log) = log {
        for warning in &built.warnings {
            log.warn(warning);
        }
    }
    // One environment, which materializing then extends; `built` keeps what it says.
    let mut env = std::mem::take(&mut built.env);
    // After the fetch, which used them; before --require, which then sees what the command gets.
    let dropped = if config.drop_aws_credentials {
        drop_credentials::drop_aws_credentials(&mut env, &built.applied)
    } else {
        Vec::new()
    };
    Ok(Plan {
        env,
        dropped,
        origins: payloads.iter().map(payload::Payload::origin).collect(),
        config,
        built,
        gcp_file: None,
    })
}

/// Writes the GCP key file and the `--file` files under the signal registry: a stop signal
/// waits until the files are recorded, and the guard (or the signal thread) removes them.
fn materialize_files(
    plan: &mut Plan,
    dir: &mut materialize::Dir,
    log: &Logger,
) -> Result<Files, Error> {
    signals::writing(|| {
        let mut written = Vec::new();
        let result = write_files(plan, dir, log, &mut written);
        match result {
            Ok(()) => Ok(((), written)),
            Err(e) => {
                materialize::remove_files(&written);
                Err(e)
            }
        }
    })?;
    Ok(Files { kept: false })
}

fn write_files(
    plan: &mut Plan,
    dir: &mut materialize::Dir,
    log: &Logger,
    written: &mut Vec<materialize::Written>,
) -> Result<(), Error> {
    if let Some((file, replaced)) = materialize::gcp_credentials(&mut plan.env, dir)? {
        if replaced {
            log.warn(&format!(
                "{GCP_PATH_VAR} is replaced by the file written from {GCP_JSON_VAR}"
            ));
        }
        plan.gcp_file = Some(file.path.clone());
        written.push(file);
    }
    written.extend(materialize::value_files(
        &mut plan.env,
        &plan.config.files,
        dir,
    )?);
    Ok(())
}

/// Every `--require`d key must be there, all missing ones named at once.
fn require(plan: &Plan) -> Result<(), Error> {
    let missing = envmap::missing_required(&plan.env, &plan.config.require);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::RequiredMissing(missing))
    }
}

/// The one success line, rendered from the plan (and, with --drop-aws-credentials, the names it
/// removed).
fn announce(plan: &Plan, started: Instant, log: &Logger) {
    if !plan.dropped.is_empty() {
        let mut fields = serde_json::Map::new();
        fields.insert("dropped".into(), plan.dropped.clone().into());
        log.info(
            &format!(
                "--drop-aws-credentials: the command's environment lacks {}",
                plan.dropped.join(", ")
            ),
            fields,
        );
    }
    let region = match &plan.config.source {
        Source::Aws(aws) => aws.region.as_deref(),
        Source::Local { .. } => None,
    };
    let (message, fields) = render::success_line(&Report {
        app_env: plan.config.app_env.as_str(),
        region,
        origins: &plan.origins,
        keys: plan.built.applied.len(),
        gcp_file: plan.gcp_file.as_deref(),
        elapsed_ms: started.elapsed().as_millis(),
    });
    log.info(&message, fields);
}

/// Writes to stdout and flushes it: output that did not arrive whole (a full disk, a closed
/// pipe) is an error, not a silent success.
fn print_stdout(text: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Error::StdoutFailed)
}
