//! Command-line parsing (clap). Flags only; every flag also has a variable, merged in
//! `config::resolve` so that the environment is read once and `--help` never shows a value.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser};

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
77 not allowed (credentials, AccessDenied, KMS), 78 configuration, 126 command not executable,
127 command not found.";

#[derive(Debug, Parser)]
#[command(
    name = "shortcut-env",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
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
    /// The options, wherever they were given.
    pub fn options(&self) -> &Options {
        match &self.mode {
            None => &self.options,
            Some(Mode::Check { options }) | Some(Mode::Export { options, .. }) => options,
        }
    }
}

/// Inspection without exec.
#[derive(Debug, clap::Subcommand)]
pub enum Mode {
    /// Fetch and validate everything, exec nothing: print each key's NAME, its source and
    /// OK/FAIL against --require; never a value. Exits as the real start would.
    Check {
        #[command(flatten)]
        options: Options,
    },
    /// Print the variables shortcut-env would set, WITH THEIR VALUES, quoted for the format.
    /// The only command that prints secret values: do not run it where output is logged.
    Export {
        #[command(flatten)]
        options: Options,
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
