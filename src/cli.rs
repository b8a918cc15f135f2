//! Command-line parsing (clap). Flags only; every flag also has a variable, merged in
//! `config::resolve` so that the environment is read once and `--help` never shows a value.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser};

use crate::config::LogFormat;
use crate::error::Error;
use crate::vars::Vars;

const ABOUT: &str = "Load an application's secrets from AWS Secrets Manager into its environment, \
then exec it.";

const LONG_ABOUT: &str = "\
Load an application's secrets from AWS Secrets Manager into its environment, then exec it.

shortcut-env validates its configuration (APP_ENV, AWS_REGION, SECRET_NAME) before any network
call, fetches the secret (a JSON object) with the standard AWS credential chain, exports every key
as an environment variable, writes GOOGLE_APPLICATION_CREDENTIALS_JSON to a private file and sets
GOOGLE_APPLICATION_CREDENTIALS to its path, then replaces itself with COMMAND.

With APP_ENV=local it never talks to AWS: it reads .env (if present) instead.

Every option can also be given as a variable, shown in brackets; the flag wins.
No secret value is ever printed: errors and logs name keys, never values.";

const AFTER_HELP: &str = "\
Keys go through, in order: --only and --exclude (on the secret's key names), --map FROM=TO
(or else --prefix), the protected-name check (--allow-key), then --preserve-env against the
inherited environment. --require, --file and GOOGLE_APPLICATION_CREDENTIALS_JSON see the final
names.

Examples:
  APP_ENV=production AWS_REGION=us-east-1 shortcut-env -- uvicorn main:app --host 0.0.0.0
  APP_ENV=local shortcut-env --env-file .env.example -- printenv MILVUS_HOST
  SECRET_NAME=short-cut/prod/app,DB_HOST=short-cut/prod/db:host shortcut-env -- ./start
  shortcut-env check --require OPENAI_API_KEY,MILVUS_HOST
  eval \"$(shortcut-env export --format shell)\"
  ENTRYPOINT [\"/usr/local/bin/shortcut-env\", \"--\"]   (Dockerfile, with CMD as the command)

Exit status: the command's own once it runs; 64 usage, 65 unusable secret data, 66 secret not
found, 69 Secrets Manager unreachable/timed out/throttled, 73 credentials file unsafe,
77 not allowed (credentials, AccessDenied, KMS), 78 configuration, 74 output not written
(check/export), 126 command not executable (or its environment too large), 127 command not
found on PATH, 128+N stopped by signal N (TERM, INT, HUP, QUIT) before the command started.";

#[derive(Debug, Parser)]
#[command(
    name = "shortcut-env",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
)]
pub struct Cli {
    #[command(subcommand)]
    pub mode: Option<Mode>,

    #[command(flatten)]
    pub options: Options,

    /// The command to exec, with its arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

impl Cli {
    /// Parses `args`. Every option is global, so it may come before or after the subcommand
    /// (`shortcut-env --require X check` and `shortcut-env check --require X` are the same);
    /// `COMMAND` is not.
    pub fn parse_args(args: Vec<OsString>) -> Result<Cli, clap::Error> {
        let matches = Self::command()
            .mut_args(|arg| {
                if arg.get_id() == "command" {
                    arg
                } else {
                    arg.global(true)
                }
            })
            .try_get_matches_from(args)?;
        Self::from_arg_matches(&matches)
    }

    /// The options, wherever they were given.
    pub fn options(&self) -> &Options {
        &self.options
    }
}

/// The log format for a usage error, when the arguments did not parse: `--log-format json` (or
/// `=json`) before `--`, else SHORTCUT_ENV_LOG_FORMAT; text when neither says json.
pub fn log_format_of(args: &[OsString], inherited: &Vars) -> LogFormat {
    let mut given = None;
    let mut words = args.iter().skip(1).take_while(|a| a.as_os_str() != "--");
    while let Some(word) = words.next() {
        if word == "--log-format" {
            given = words.next().map(|w| w.to_string_lossy().into_owned());
        } else if let Some(value) = word.to_str().and_then(|w| w.strip_prefix("--log-format=")) {
            given = Some(value.to_string());
        }
    }
    let value = given.or_else(|| {
        inherited
            .get("SHORTCUT_ENV_LOG_FORMAT")
            .map(|v| v.to_string_lossy().into_owned())
    });
    match value.as_deref() {
        Some("json") => LogFormat::Json,
        _ => LogFormat::Text,
    }
}

/// clap's failure as the wrapper's error: a bare word where a subcommand was expected is a
/// command whose `--` was forgotten; anything else keeps clap's first line as the message.
pub fn usage_error(error: &clap::Error) -> Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let word = match error.kind() {
        ErrorKind::InvalidSubcommand => error.get(ContextKind::InvalidSubcommand),
        ErrorKind::UnknownArgument => error.get(ContextKind::InvalidArg),
        _ => None,
    };
    if let Some(ContextValue::String(word)) = word
        && !word.starts_with('-')
    {
        let word = if word.chars().any(char::is_control) {
            word.escape_debug().to_string()
        } else {
            word.clone()
        };
        return Error::CommandWithoutDoubleDash(word);
    }
    // One line: clap's first line, with its tips ("a similar argument exists: '--region'").
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let mut message = first.strip_prefix("error: ").unwrap_or(first).to_string();
    let tips: Vec<&str> = rendered
        .lines()
        .filter_map(|line| line.trim().strip_prefix("tip: "))
        .collect();
    if !tips.is_empty() {
        message.push_str(&format!(" ({})", tips.join("; ")));
    }
    Error::Usage(message)
}

/// Inspection without exec.
#[derive(Debug, clap::Subcommand)]
pub enum Mode {
    /// Fetch and validate everything, exec nothing: print each key's NAME, its source and
    /// OK/FAIL against --require; never a value. Exits as the real start would.
    Check,
    /// Print the variables shortcut-env would set, WITH THEIR VALUES, quoted for the format.
    /// The only command that prints secret values: do not run it where output is logged.
    Export {
        /// dotenv (KEY='value'), shell (export KEY='value', for eval) or json
        #[arg(long, value_enum, default_value_t = ExportFormat::Dotenv)]
        format: ExportFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Dotenv,
    Shell,
    Json,
}

/// The wrapper's options. `None` means "not given as a flag": the variable, then the default
/// applies.
#[derive(Debug, Default, Args)]
pub struct Options {
    /// local, development, staging or production (prod) [env: APP_ENV]
    #[arg(long, value_name = "ENV")]
    pub app_env: Option<String>,

    /// Region of the secret, e.g. us-east-1; not needed with an ARN [env: AWS_REGION]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Secret reference: a name or ARN, optionally [VAR=]…[:JSON_KEY[:STAGE[:VERSION_ID]]] as in
    /// ECS's valueFrom; repeat it or separate with commas for several secrets (later ones win)
    /// [env: SECRET_NAME] [default: short-cut/prod/app in production, short-cut/staging/app in
    /// staging]
    #[arg(long, value_name = "REF")]
    pub secret: Vec<String>,

    /// Version stage to read, e.g. AWSPREVIOUS for a rollback [env: SECRET_VERSION_STAGE]
    /// [default: AWSCURRENT]
    #[arg(long, value_name = "STAGE")]
    pub version_stage: Option<String>,

    /// Exact version id to read [env: SECRET_VERSION_ID]
    #[arg(long, value_name = "ID")]
    pub version_id: Option<String>,

    /// Deadline for fetching, in seconds, e.g. 5 or 2.5 [env: SHORTCUT_ENV_TIMEOUT] [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<String>,

    /// Attempts per GetSecretValue call, the first included [env: SHORTCUT_ENV_MAX_ATTEMPTS]
    /// [default: 5]
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<String>,

    /// Retry mode: standard (jittered exponential backoff) or adaptive (also rate-limits the
    /// client after throttling) [env: SHORTCUT_ENV_RETRY_MODE] [default: standard]
    #[arg(long, value_name = "MODE")]
    pub retry_mode: Option<String>,

    /// Upper bound of the first retry's random backoff, in seconds; doubles per retry
    /// [env: SHORTCUT_ENV_INITIAL_BACKOFF] [default: 2]
    #[arg(long, value_name = "SECONDS")]
    pub initial_backoff: Option<String>,

    /// Longest backoff between two attempts, in seconds [env: SHORTCUT_ENV_MAX_BACKOFF]
    /// [default: 20]
    #[arg(long, value_name = "SECONDS")]
    pub max_backoff: Option<String>,

    /// Connect timeout per attempt, in seconds [env: SHORTCUT_ENV_CONNECT_TIMEOUT] [default: 2]
    #[arg(long, value_name = "SECONDS")]
    pub connect_timeout: Option<String>,

    /// Private directory for materialized credential files [env: SHORTCUT_ENV_CREDENTIALS_DIR]
    /// [default: $TMPDIR/shortcut-env-UID]
    #[arg(long, value_name = "DIR")]
    pub credentials_dir: Option<PathBuf>,

    /// Dotenv file read in local mode [env: SHORTCUT_ENV_FILE] [default: .env, if present]
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,

    /// Comma-separated keys that must be present [env: SHORTCUT_ENV_REQUIRE]
    #[arg(long, value_name = "KEYS")]
    pub require: Option<String>,

    /// Export only the keys matching these comma-separated glob patterns, e.g. 'OPENAI_*,MILVUS_*'
    /// [env: SHORTCUT_ENV_ONLY]
    #[arg(
        long,
        value_name = "PATTERNS",
        help_heading = "Selecting and renaming keys"
    )]
    pub only: Option<String>,

    /// Do not export the keys matching these comma-separated glob patterns
    /// [env: SHORTCUT_ENV_EXCLUDE]
    #[arg(
        long,
        value_name = "PATTERNS",
        help_heading = "Selecting and renaming keys"
    )]
    pub exclude: Option<String>,

    /// Rename a key: FROM=TO; repeat it, or comma-separate [env: SHORTCUT_ENV_MAP]
    #[arg(
        long,
        value_name = "FROM=TO",
        help_heading = "Selecting and renaming keys"
    )]
    pub map: Vec<String>,

    /// Prefix every exported key not renamed by --map, e.g. APP_ (GOOGLE_APPLICATION_CREDENTIALS_JSON
    /// keeps its name, so the GCP file is still written) [env: SHORTCUT_ENV_PREFIX]
    #[arg(
        long,
        value_name = "PREFIX",
        help_heading = "Selecting and renaming keys"
    )]
    pub prefix: Option<String>,

    /// Let the secret set this protected name (PATH, AWS_*, …); repeat it, or comma-separate
    /// [env: SHORTCUT_ENV_ALLOW_KEY]
    #[arg(
        long,
        value_name = "NAME",
        help_heading = "Selecting and renaming keys"
    )]
    pub allow_key: Vec<String>,

    /// Write the value of KEY to a private 0600 file and set VAR to its path; repeat it, or
    /// comma-separate [env: SHORTCUT_ENV_FILES]
    #[arg(
        long,
        value_name = "KEY=VAR",
        help_heading = "Selecting and renaming keys"
    )]
    pub file: Vec<String>,

    /// Log format: text or json [env: SHORTCUT_ENV_LOG_FORMAT] [default: text]
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Inherited variables win over secret values: all of them, or only the comma-separated
    /// NAMES [env: SHORTCUT_ENV_PRESERVE_ENV=1 or =NAMES]
    #[arg(long, value_name = "NAMES", num_args = 0..=1, require_equals = true)]
    pub preserve_env: Option<Option<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_log_format_of_unparsed_arguments_comes_from_the_flag_before_double_dash() {
        let vars = Vars::default();
        let json = args(&["shortcut-env", "--log-format", "json", "--bad"]);
        assert_eq!(log_format_of(&json, &vars), LogFormat::Json);
        let json = args(&["shortcut-env", "--log-format=json", "--bad"]);
        assert_eq!(log_format_of(&json, &vars), LogFormat::Json);
        let after = args(&["shortcut-env", "--", "app", "--log-format=json"]);
        assert_eq!(log_format_of(&after, &vars), LogFormat::Text);
    }

    #[test]
    fn the_log_format_of_unparsed_arguments_falls_back_to_the_variable() {
        let mut vars = Vars::default();
        vars.insert("SHORTCUT_ENV_LOG_FORMAT", "json");
        assert_eq!(
            log_format_of(&args(&["x", "--bad"]), &vars),
            LogFormat::Json
        );
    }

    #[test]
    fn a_bare_word_is_a_forgotten_double_dash_and_a_flag_is_not() {
        let error = Cli::parse_args(args(&["shortcut-env", "uvicorn", "main:app"])).unwrap_err();
        assert_eq!(usage_error(&error).kind(), "command-without-double-dash");
        let error = Cli::parse_args(args(&["shortcut-env", "--bad"])).unwrap_err();
        assert_eq!(usage_error(&error).kind(), "usage");
    }

    #[test]
    fn options_before_and_after_a_subcommand_are_the_same_options() {
        let before = Cli::parse_args(args(&["s", "--require", "X", "check"])).unwrap();
        let after = Cli::parse_args(args(&["s", "check", "--require", "X"])).unwrap();
        assert_eq!(before.options().require.as_deref(), Some("X"));
        assert_eq!(after.options().require.as_deref(), Some("X"));
    }
}
