//! Configuration: flags merged over variables, validated before any network call.
//!
//! Pure: it reads a [`Vars`] snapshot, never the process environment, so every rule here is a
//! table-driven unit test and a bad setting fails in microseconds, not after a credential-chain
//! timeout.

use std::path::PathBuf;
use std::time::Duration;

use crate::envmap::{Policy, Preserve};
use crate::error::Error;
pub use crate::names::validate_region;
use crate::names::{is_protected, is_valid_name};
use crate::reference::{self, Reference};
use crate::settings::{self, Given};
use crate::vars::Vars;

/// The retry policy when none is configured, chosen from the fleet benchmark (README,
/// "Fleet start under throttling"): when thousands of tasks start at once and Secrets Manager
/// throttles, 5 attempts with a first backoff of up to 2 s (doubling, full jitter) inside a 30 s
/// deadline start 99–100 % of a fleet that the SDK's 3 attempts in 5 s start only 53–55 % of,
/// with fewer calls per start. A task that gives up is no saving: ECS replaces it and the
/// replacement calls again, into the same throttled second. Non-retryable failures (not found,
/// access denied) still fail at once; only a broken network path takes the whole deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_TIMEOUT_SECS: f64 = 3600.0;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_secs(2);
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(20);
const MAX_ATTEMPTS_LIMIT: u32 = 20;
/// Connecting to a regional endpoint takes milliseconds; a longer wait means a blackholed
/// route (no NAT, no VPC endpoint), which a retry on a fresh connection may get around.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Local,
    Development,
    Staging,
    Production,
}

impl AppEnv {
    pub fn parse(value: &str) -> Result<Self, Error> {
        match value {
            "local" => Ok(AppEnv::Local),
            "development" => Ok(AppEnv::Development),
            "staging" => Ok(AppEnv::Staging),
            "production" | "prod" => Ok(AppEnv::Production),
            other => Err(Error::AppEnvUnknown(other.to_string())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AppEnv::Local => "local",
            AppEnv::Development => "development",
            AppEnv::Staging => "staging",
            AppEnv::Production => "production",
        }
    }

    /// The secret read when SECRET_NAME is not set, after the guide's `{project}/{env}/{kind}`.
    pub fn default_secret(self) -> Option<&'static str> {
        match self {
            AppEnv::Production => Some("short-cut/prod/app"),
            AppEnv::Staging => Some("short-cut/staging/app"),
            AppEnv::Development | AppEnv::Local => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// Resolved on its own, first, so that every later error is printed in the chosen format.
    pub fn resolve(given: &Given, vars: &Vars) -> Result<Self, Error> {
        match pick_named(given, vars, "SHORTCUT_ENV_LOG_FORMAT")? {
            None | Some(("text", _)) => Ok(LogFormat::Text),
            Some(("json", _)) => Ok(LogFormat::Json),
            Some((other, name)) => Err(Error::InvalidSetting {
                name,
                value: other.to_string(),
                reason: "expected text or json",
            }),
        }
    }
}

/// Where the secret comes from.
// One value per process: the size difference of the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `APP_ENV=local`: a dotenv file, no AWS.
    Local { env_file: PathBuf, explicit: bool },
    /// Secrets Manager.
    Aws(AwsSource),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AwsSource {
    /// The secrets to read, in order (later ones win on equal keys). Each has its region set,
    /// and its version fields filled from SECRET_VERSION_STAGE / SECRET_VERSION_ID when it
    /// carries none of its own.
    pub secrets: Vec<Reference>,
    /// AWS_REGION (else AWS_DEFAULT_REGION), or the region of the first ARN; `None` when
    /// neither is set, and the references without a region then take the profile's.
    pub region: Option<String>,
    /// For the message when no region can be found at all.
    pub app_env: &'static str,
    /// AWS_PROFILE, when set: a profile that is not in the config files is reported as such.
    pub profile: Option<String>,
    pub timeout: Duration,
    pub retry: Retry,
    /// `--failover-region`: the replica regions read, in order, when a secret's own region is
    /// down (src/failover.rs); empty when not set.
    pub failover_regions: Vec<String>,
    /// `--recursive`: an `ssm:/PATH/` reference reads the whole tree under the path.
    pub recursive: bool,
}

/// How the SDK retries a failed call, within the overall deadline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    pub mode: RetryMode,
    /// Upper bound of the first retry's random ("full jitter") backoff; doubles per retry.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryMode {
    /// The SDK's standard mode: jittered exponential backoff, throttling and 5xx retried.
    Standard,
    /// Standard plus a client-side rate limiter that slows down after throttling.
    Adaptive,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            mode: RetryMode::Standard,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl Retry {
    fn resolve(given: &Given, vars: &Vars) -> Result<Self, Error> {
        let defaults = Retry::default();
        let attempts = pick_named(given, vars, "SHORTCUT_ENV_MAX_ATTEMPTS")?;
        let max_attempts = match attempts {
            None | Some(("", _)) => defaults.max_attempts,
            Some((text, name)) => text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_ATTEMPTS_LIMIT).contains(n))
                .ok_or_else(|| Error::InvalidSetting {
                    name,
                    value: text.to_string(),
                    reason: "expected a whole number from 1 to 20",
                })?,
        };
        let mode = match pick_named(given, vars, "SHORTCUT_ENV_RETRY_MODE")? {
            None | Some(("" | "standard", _)) => RetryMode::Standard,
            Some(("adaptive", _)) => RetryMode::Adaptive,
            Some((other, name)) => {
                return Err(Error::InvalidSetting {
                    name,
                    value: other.to_string(),
                    reason: "expected standard or adaptive",
                });
            }
        };
        let seconds = |name: &'static str, default: Duration| {
            parse_seconds(pick_named(given, vars, name)?, default)
        };
        Ok(Retry {
            max_attempts,
            mode,
            initial_backoff: seconds("SHORTCUT_ENV_INITIAL_BACKOFF", defaults.initial_backoff)?,
            max_backoff: seconds("SHORTCUT_ENV_MAX_BACKOFF", defaults.max_backoff)?,
            connect_timeout: seconds("SHORTCUT_ENV_CONNECT_TIMEOUT", defaults.connect_timeout)?,
        })
    }
}

/// Where materialized credential files go.
#[derive(Debug, Clone, PartialEq)]
pub enum CredentialsDir {
    /// `$XDG_RUNTIME_DIR/shortcut-env` when that directory is usable (absolute, ours, 0700:
    /// checked when the directory is opened, since this module does no I/O), else
    /// `$TMPDIR/shortcut-env-UID`; made private by us. A per-user runtime directory cannot be
    /// squatted by another user the way a fixed name in the shared /tmp can.
    Default {
        runtime_dir: Option<PathBuf>,
        temp_dir: PathBuf,
    },
    /// Chosen by the operator, e.g. a tmpfs volume with a read-only root filesystem.
    Explicit(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub app_env: AppEnv,
    pub source: Source,
    pub credentials_dir: CredentialsDir,
    pub require: Vec<String>,
    /// Selection, renaming, protected names and precedence.
    pub policy: Policy,
    /// `--file KEY=VAR`: (KEY, VAR).
    pub files: Vec<(String, String)>,
    /// `--init` / `--watch`: supervise the command instead of exec'ing it.
    pub supervise: Supervise,
    /// `--drop-aws-credentials`: remove the AWS credential variables from the command's
    /// environment after the fetch (the binary's `drop_credentials`).
    pub drop_aws_credentials: bool,
}

/// The flag if given, else the variable.
fn pick<'a>(
    given: &'a Given,
    vars: &'a Vars,
    name: &'static str,
) -> Result<Option<&'a str>, Error> {
    Ok(pick_named(given, vars, name)?.map(|(value, _)| value))
}

/// [`pick`], with the name to show in a message about the value: the flag or the variable.
fn pick_named<'a>(
    given: &'a Given,
    vars: &'a Vars,
    name: &'static str,
) -> Result<Option<(&'a str, &'static str)>, Error> {
    settings::pick(given, vars, name)
}

/// A list of variable names (`--require`, `--allow-key`, `--preserve-env=`): a name that
/// cannot be a variable is a typo that would otherwise never match, so it is refused.
fn check_names(names: Vec<String>, shown_name: &'static str) -> Result<Vec<String>, Error> {
    match names.iter().find(|n| !is_valid_name(n)) {
        Some(bad) => Err(Error::InvalidSetting {
            name: shown_name,
            value: bad.clone(),
            reason: "expected comma-separated variable names (letters, digits and _, not \
                     starting with a digit)",
        }),
        None => Ok(names),
    }
}

/// Warnings about the configuration that do not stop the start: an unknown `SHORTCUT_ENV_*`
/// variable (with the closest known name), and `--env-file` outside local mode, where it is
/// not read. (A `SHORTCUT_ENV_FILE` variable outside local mode is not worth a warning: one
/// image often carries it for both.)
/// Warnings about the settings: unknown `SHORTCUT_ENV_*` names, options that do nothing here.
pub fn warnings(given: &Given, vars: &Vars) -> Vec<String> {
    let mut warnings = settings::unknown_names(vars);
    let local = matches!(pick(given, vars, "APP_ENV"), Ok(Some("local")));
    if given.has("SHORTCUT_ENV_FILE") && !local {
        warnings.push("--env-file is only read with APP_ENV=local; it is ignored".to_string());
    }
    warnings
}

/// A list option: the flag's values if given (each may be comma-separated), else the variable's.
fn pick_list(given: &Given, vars: &Vars, name: &'static str) -> Result<Vec<String>, Error> {
    let flags = given.all(name)?;
    if flags.is_empty() {
        Ok(parse_list(vars.setting(name)?))
    } else {
        Ok(flags
            .into_iter()
            .flat_map(|v| parse_list(Some(v)))
            .collect())
    }
}

pub fn resolve(given: &Given, vars: &Vars) -> Result<Config, Error> {
    let app_env = match pick(given, vars, "APP_ENV")? {
        None | Some("") => return Err(Error::AppEnvMissing),
        Some(value) => AppEnv::parse(value)?,
    };
    let require = match pick_named(given, vars, "SHORTCUT_ENV_REQUIRE")? {
        Some((list, name)) => check_names(parse_list(Some(list)), name)?,
        None => Vec::new(),
    };
    let credentials_dir = match given.os("SHORTCUT_ENV_CREDENTIALS_DIR") {
        Some(dir) => CredentialsDir::Explicit(dir.into()),
        None => match vars.get("SHORTCUT_ENV_CREDENTIALS_DIR") {
            Some(dir) if !dir.is_empty() => CredentialsDir::Explicit(dir.into()),
            _ => CredentialsDir::Default {
                runtime_dir: vars
                    .get("XDG_RUNTIME_DIR")
                    .filter(|dir| !dir.is_empty())
                    .map(PathBuf::from),
                temp_dir: vars
                    .get("TMPDIR")
                    .filter(|dir| !dir.is_empty())
                    .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from),
            },
        },
    };
    let policy = resolve_policy(given, vars)?;
    let files = assignments(
        Assignment {
            name: "SHORTCUT_ENV_FILES",
            option: "--file (SHORTCUT_ENV_FILES)",
            reason: "expected KEY=VAR, both variable names",
            from_ok: is_valid_name,
            // The GCP key file's variable.
            reserved: &[crate::names::GCP_PATH_VAR],
        },
        pick_list(given, vars, "SHORTCUT_ENV_FILES")?,
        &policy.allowed,
    )?;
    let source = match app_env {
        AppEnv::Local => {
            let file = given
                .os("SHORTCUT_ENV_FILE")
                .map(PathBuf::from)
                .or_else(|| {
                    vars.get("SHORTCUT_ENV_FILE")
                        .filter(|f| !f.is_empty())
                        .map(PathBuf::from)
                });
            Source::Local {
                explicit: file.is_some(),
                env_file: file.unwrap_or_else(|| PathBuf::from(".env")),
            }
        }
        _ => Source::Aws(resolve_aws(app_env, given, vars)?),
    };
    // The flag is `1`; the variable a boolean.
    let drop_aws_credentials = match pick_named(given, vars, "SHORTCUT_ENV_DROP_AWS_CREDENTIALS")? {
        None => false,
        Some((text, name)) => parse_bool(name, Some(text))?,
    };
    Ok(Config {
        app_env,
        source,
        credentials_dir,
        require,
        policy,
        files,
        supervise: Supervise::resolve(given, vars)?,
        drop_aws_credentials,
    })
}

// ---- --init and --watch (src/supervise.rs) --------------------------------------------------

/// How often `--watch` polls when given bare, or as SHORTCUT_ENV_WATCH=1: 12 DescribeSecret
/// calls per secret and hour, $43.80 a month per secret for 1,000 tasks (`check` prints it).
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_mins(5);
pub const DEFAULT_WATCH_SPLAY: Duration = Duration::from_secs(30);
/// Below ECS's default stopTimeout of 30 s, so a restart's SIGKILL is ours, not the agent's.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_WATCH_SECS: f64 = 86_400.0;

/// The signals a stop signal or `signal:NAME` may name: Linux numbers, as the kernel has them.
pub const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("USR1", 10),
    ("USR2", 12),
    ("TERM", 15),
    ("WINCH", 28),
];

/// `--init`, `--watch` and what a new version does. Every field is resolved (and checked)
/// whether or not it is used, so that a typo fails at once rather than on the first rotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Supervise {
    /// `--init` or `--watch`: supervise the command instead of exec'ing it.
    pub init: bool,
    /// `--watch`: the poll interval.
    pub watch: Option<Duration>,
    pub on_change: OnChange,
    pub splay: Duration,
    /// A signal number from [`SIGNALS`].
    pub stop_signal: i32,
    pub stop_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnChange {
    Restart,
    Exit,
    /// Rewrite the files and send this signal (a number from [`SIGNALS`]).
    Signal(i32),
}

impl Supervise {
    fn resolve(given: &Given, vars: &Vars) -> Result<Supervise, Error> {
        const WATCH: &str = "SHORTCUT_ENV_WATCH";
        let interval = match pick_named(given, vars, WATCH)? {
            None => None,
            // `--watch` alone.
            Some(("", _)) if given.has(WATCH) => Some(DEFAULT_WATCH_INTERVAL),
            // A switch like every other: 1 is "on" (300 s); one second is written `1.0`.
            Some((text, name)) => match parse_bool(name, Some(text)) {
                Ok(false) => None,
                Ok(true) => Some(DEFAULT_WATCH_INTERVAL),
                Err(_) => Some(positive_seconds(text, name, MAX_WATCH_SECS)?),
            },
        };
        let init = match pick_named(given, vars, "SHORTCUT_ENV_INIT")? {
            Some((text, name)) => parse_bool(name, Some(text))?,
            None => false,
        };
        let on_change = match pick_named(given, vars, "SHORTCUT_ENV_ON_CHANGE")? {
            None | Some(("" | "restart", _)) => OnChange::Restart,
            Some(("exit", _)) => OnChange::Exit,
            Some((text, name)) => match text.strip_prefix("signal:").and_then(signal_number) {
                Some(number) => OnChange::Signal(number),
                None => {
                    return Err(Error::InvalidSetting {
                        name,
                        value: text.to_string(),
                        reason: "expected restart, exit or signal:NAME (HUP, INT, QUIT, USR1, \
                                 USR2, TERM or WINCH)",
                    });
                }
            },
        };
        let splay = match pick_named(given, vars, "SHORTCUT_ENV_WATCH_SPLAY")? {
            None | Some(("", _)) => DEFAULT_WATCH_SPLAY,
            Some(("0", _)) => Duration::ZERO,
            Some((text, name)) => positive_seconds(text, name, MAX_TIMEOUT_SECS)?,
        };
        let stop_signal = match pick_named(given, vars, "SHORTCUT_ENV_STOP_SIGNAL")? {
            None | Some(("", _)) => 15,
            Some((text, name)) => signal_number(text).ok_or(Error::InvalidSetting {
                name,
                value: text.to_string(),
                reason: "expected HUP, INT, QUIT, USR1, USR2, TERM or WINCH",
            })?,
        };
        Ok(Supervise {
            init: init || interval.is_some(),
            watch: interval,
            on_change,
            splay,
            stop_signal,
            stop_timeout: parse_seconds(
                pick_named(given, vars, "SHORTCUT_ENV_STOP_TIMEOUT")?,
                DEFAULT_STOP_TIMEOUT,
            )?,
        })
    }
}

/// `TERM`, `SIGTERM` or `sigterm` → 15.
pub fn signal_number(name: &str) -> Option<i32> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .find(|(n, _)| *n == bare)
        .map(|(_, number)| *number)
}

/// The name of a signal number from [`SIGNALS`], e.g. `SIGTERM`.
pub fn signal_name(number: i32) -> String {
    match SIGNALS.iter().find(|(_, n)| *n == number) {
        Some((name, _)) => format!("SIG{name}"),
        None => format!("signal {number}"),
    }
}

fn positive_seconds(text: &str, name: &'static str, max: f64) -> Result<Duration, Error> {
    let invalid = || Error::InvalidSetting {
        name,
        value: text.to_string(),
        reason: "expected a number of seconds greater than 0, e.g. 300 or 2.5",
    };
    let seconds: f64 = text.trim().parse().map_err(|_| invalid())?;
    if !(seconds > 0.0 && seconds <= max) {
        return Err(invalid());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| invalid())
}

fn resolve_policy(given: &Given, vars: &Vars) -> Result<Policy, Error> {
    const PRESERVE: &str = "SHORTCUT_ENV_PRESERVE_ENV";
    let allowed = check_names(
        pick_list(given, vars, "SHORTCUT_ENV_ALLOW_KEY")?,
        if given.has("SHORTCUT_ENV_ALLOW_KEY") {
            "--allow-key"
        } else {
            "SHORTCUT_ENV_ALLOW_KEY"
        },
    )?;
    let patterns = |name: &'static str| -> Result<Vec<glob::Pattern>, Error> {
        let Some((list, name)) = pick_named(given, vars, name)? else {
            return Ok(Vec::new());
        };
        parse_list(Some(list))
            .into_iter()
            .map(|text| {
                glob::Pattern::new(&text).map_err(|_| Error::InvalidSetting {
                    name,
                    value: text.clone(),
                    reason: "expected comma-separated glob patterns, e.g. OPENAI_*,MILVUS_?OST",
                })
            })
            .collect()
    };
    let only = patterns("SHORTCUT_ENV_ONLY")?;
    let exclude = patterns("SHORTCUT_ENV_EXCLUDE")?;
    let prefix = match pick_named(given, vars, "SHORTCUT_ENV_PREFIX")? {
        None | Some(("", _)) => None,
        Some((prefix, _)) if is_valid_name(prefix) => Some(prefix.to_string()),
        Some((prefix, name)) => {
            return Err(Error::InvalidSetting {
                name,
                value: prefix.to_string(),
                reason: "a prefix is letters, digits and _, not starting with a digit",
            });
        }
    };
    let map = assignments(
        Assignment {
            name: "SHORTCUT_ENV_MAP",
            option: "--map (SHORTCUT_ENV_MAP)",
            reason: "expected FROM=TO, TO a variable name",
            from_ok: |from| !from.is_empty(),
            reserved: &[],
        },
        pick_list(given, vars, "SHORTCUT_ENV_MAP")?,
        &allowed,
    )?;
    // `--preserve-env` alone keeps all, `--preserve-env=NAMES` those names; the variable is a
    // boolean (1/true/yes/on, 0/false/no/off) or a list of names.
    let preserve = match pick_named(given, vars, PRESERVE)? {
        None => Preserve::None,
        Some(("", _)) if given.has(PRESERVE) => Preserve::All,
        Some((names, name)) if given.has(PRESERVE) => {
            Preserve::from_list(check_names(parse_list(Some(names)), name)?)
        }
        Some((text, name)) => match parse_bool(name, Some(text)) {
            Ok(true) => Preserve::All,
            Ok(false) => Preserve::None,
            // Not a boolean: a list of names, if they are all valid names.
            Err(e) => {
                let names = parse_list(Some(text));
                if names.is_empty() {
                    return Err(e);
                }
                Preserve::from_list(check_names(names, name)?)
            }
        },
    };
    Ok(Policy {
        only,
        exclude,
        map,
        prefix,
        allowed,
        preserve,
    })
}

/// A name an option would set must not be protected, unless allowed.
fn check_target(
    option: &'static str,
    value: &str,
    name: &str,
    allowed: &[String],
) -> Result<(), Error> {
    if is_protected(name) && !allowed.iter().any(|a| a == name) {
        return Err(Error::ProtectedTarget {
            option,
            value: value.to_string(),
            name: name.to_string(),
        });
    }
    Ok(())
}

/// What a list option of `FROM=TO` items accepts.
struct Assignment {
    /// The variable, for messages.
    name: &'static str,
    /// The flag and the variable, for messages.
    option: &'static str,
    /// What a malformed item should look like.
    reason: &'static str,
    from_ok: fn(&str) -> bool,
    /// Targets owned by something else.
    reserved: &'static [&'static str],
}

/// Parses `FROM=TO` items: TO must be a variable name, not protected (unless `allowed`), not
/// reserved, and the target of one item only, so that no item silently wins over another.
fn assignments(
    kind: Assignment,
    items: Vec<String>,
    allowed: &[String],
) -> Result<Vec<(String, String)>, Error> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for item in items {
        let invalid = || Error::InvalidSetting {
            name: kind.name,
            value: item.clone(),
            reason: kind.reason,
        };
        let (from, to) = item.split_once('=').ok_or_else(invalid)?;
        let (from, to) = (from.trim(), to.trim());
        if !(kind.from_ok)(from) || !is_valid_name(to) {
            return Err(invalid());
        }
        check_target(kind.option, &item, to, allowed)?;
        if pairs.iter().any(|(_, t)| t == to) || kind.reserved.contains(&to) {
            return Err(Error::DuplicateTarget {
                option: kind.option,
                name: to.to_string(),
            });
        }
        pairs.push((from.to_string(), to.to_string()));
    }
    Ok(pairs)
}

fn resolve_aws(app_env: AppEnv, given: &Given, vars: &Vars) -> Result<AwsSource, Error> {
    let flags = given.all("SECRET_NAME")?;
    let mut secrets = if flags.is_empty() {
        match vars.setting("SECRET_NAME")? {
            Some(list) if list.trim().is_empty() => return Err(Error::SecretNameEmpty),
            Some(list) => reference::parse_list(list)?,
            None => vec![reference::parse(
                app_env
                    .default_secret()
                    .ok_or(Error::SecretNameMissing(app_env.as_str()))?,
            )?],
        }
    } else {
        let mut secrets = Vec::new();
        for list in flags {
            secrets.extend(reference::parse_list(list)?);
        }
        secrets
    };
    if secrets.is_empty() {
        return Err(Error::SecretNameEmpty);
    }
    // AWS_REGION, then AWS_DEFAULT_REGION, as the AWS SDKs read them; the profile's region
    // (a file read) is looked up when fetching, for the names that still need one.
    let region_from = |setting: &'static str, region: &str| {
        validate_region(region)
            .map(str::to_string)
            .map_err(|_| Error::RegionMalformed {
                setting,
                value: region.to_string(),
            })
    };
    let env_region = match pick_named(given, vars, "AWS_REGION")? {
        None | Some(("", _)) => match vars.setting("AWS_DEFAULT_REGION")? {
            None | Some("") => None,
            Some(region) => Some(region_from("AWS_DEFAULT_REGION", region)?),
        },
        Some((region, setting)) => Some(region_from(setting, region)?),
    };
    let non_empty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
    let version_stage = non_empty(pick(given, vars, "SECRET_VERSION_STAGE")?);
    let version_id = non_empty(pick(given, vars, "SECRET_VERSION_ID")?);
    check_version_field("SECRET_VERSION_STAGE", version_stage.as_deref())?;
    check_version_field("SECRET_VERSION_ID", version_id.as_deref())?;
    for secret in &mut secrets {
        // An ARN always names its own region: ECS sets AWS_REGION in every task, so a secret
        // of another region is read there, not refused.
        if secret.region.is_none() {
            secret.region.clone_from(&env_region);
        }
        // SECRET_VERSION_* are Secrets Manager's; a parameter pins itself with `:VERSION`.
        if secret.parameter.is_none()
            && secret.version_stage.is_none()
            && secret.version_id.is_none()
        {
            secret.version_stage.clone_from(&version_stage);
            secret.version_id.clone_from(&version_id);
        }
        for (field, value) in [
            ("VERSION_STAGE", &secret.version_stage),
            ("VERSION_ID", &secret.version_id),
        ] {
            if let Some(reason) = value
                .as_deref()
                .and_then(|v| version_field_problem(field, v))
            {
                return Err(Error::ReferenceMalformed {
                    reference: secret.secret_id.clone(),
                    reason: format!("its {field} does not fit: {reason}"),
                });
            }
        }
    }
    let region = env_region.or_else(|| secrets.iter().find_map(|s| s.region.clone()));
    let profile = non_empty(vars.setting("AWS_PROFILE")?);
    Ok(AwsSource {
        secrets,
        region,
        app_env: app_env.as_str(),
        profile,
        timeout: parse_seconds(
            pick_named(given, vars, "SHORTCUT_ENV_TIMEOUT")?,
            DEFAULT_TIMEOUT,
        )?,
        retry: Retry::resolve(given, vars)?,
        failover_regions: failover_regions(given, vars)?,
        recursive: parse_bool(
            "SHORTCUT_ENV_RECURSIVE",
            pick(given, vars, "SHORTCUT_ENV_RECURSIVE")?,
        )?,
    })
}

/// `--failover-region` / SHORTCUT_ENV_FAILOVER_REGION: comma-separated regions, each checked as
/// AWS_REGION is (before any call), in order, a repeated one kept once.
fn failover_regions(given: &Given, vars: &Vars) -> Result<Vec<String>, Error> {
    let setting = if given.has("SHORTCUT_ENV_FAILOVER_REGION") {
        "--failover-region"
    } else {
        "SHORTCUT_ENV_FAILOVER_REGION"
    };
    let mut regions: Vec<String> = Vec::new();
    for region in pick_list(given, vars, "SHORTCUT_ENV_FAILOVER_REGION")? {
        validate_region(&region).map_err(|_| Error::RegionMalformed {
            setting,
            value: region.clone(),
        })?;
        if !regions.contains(&region) {
            regions.push(region);
        }
    }
    Ok(regions)
}

/// A control character (newline, carriage return, escape, …) in a value sent as an HTTP
/// header or JSON field would forge log lines or break the request.
fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// What Secrets Manager accepts, checked before any call: a version id is 32 to 64 ASCII
/// letters, digits and dashes (a UUID as the service makes them), a stage 1 to 256 characters;
/// neither holds a control character (it would forge log lines or break the request).
fn version_field_problem(field: &str, text: &str) -> Option<&'static str> {
    if has_control(text) {
        Some("it holds a control character")
    } else if field.ends_with("VERSION_ID") && !(32..=64).contains(&text.len()) {
        Some("a version id is 32 to 64 characters long (a UUID)")
    } else if field.ends_with("VERSION_ID")
        && !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        Some("a version id is ASCII letters, digits and dashes (a UUID)")
    } else if field.ends_with("VERSION_STAGE") && text.chars().count() > 256 {
        Some("a version stage is at most 256 characters long")
    } else {
        None
    }
}

/// SECRET_VERSION_STAGE / SECRET_VERSION_ID must be values Secrets Manager accepts.
fn check_version_field(name: &'static str, value: Option<&str>) -> Result<(), Error> {
    match value.and_then(|text| version_field_problem(name, text).map(|r| (text, r))) {
        Some((text, reason)) => Err(Error::InvalidSetting {
            name,
            value: text.chars().take(64).collect(),
            reason,
        }),
        None => Ok(()),
    }
}

/// A duration in seconds (`5`, `2.5`), greater than 0 and at most an hour; `value` is the
/// text and the name that gave it (see [`pick_named`]).
fn parse_seconds(
    value: Option<(&str, &'static str)>,
    default: Duration,
) -> Result<Duration, Error> {
    let Some((text, name)) = value.filter(|(v, _)| !v.is_empty()) else {
        return Ok(default);
    };
    let invalid = || Error::InvalidSetting {
        name,
        value: text.to_string(),
        reason: "expected a number of seconds greater than 0 and at most 3600, e.g. 5 or 2.5",
    };
    let seconds: f64 = text.trim().parse().map_err(|_| invalid())?;
    if !(seconds > 0.0 && seconds <= MAX_TIMEOUT_SECS) {
        return Err(invalid());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| invalid())
}

fn parse_bool(name: &'static str, value: Option<&str>) -> Result<bool, Error> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("" | "0" | "false" | "no" | "off") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some(_) => Err(Error::InvalidSetting {
            name,
            value: value.unwrap_or_default().to_string(),
            reason: "expected 1/true/yes/on or 0/false/no/off",
        }),
    }
}

/// `A, B,,C` → `[A, B, C]`.
pub fn parse_list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().copied().collect()
    }

    fn resolve_vars(pairs: &[(&str, &str)]) -> Result<Config, Error> {
        resolve(&Given::default(), &vars(pairs))
    }

    /// Flags as the command line records them: by the variable they stand for.
    fn flags(pairs: &[(&'static str, &str)]) -> Given {
        let mut given = Given::default();
        for (var, value) in pairs {
            given.push(var, (*value).into());
        }
        given
    }

    fn aws(config: Config) -> AwsSource {
        match config.source {
            Source::Aws(aws) => aws,
            other @ Source::Local { .. } => panic!("expected the AWS source, got {other:?}"),
        }
    }

    #[test]
    fn app_env_is_required_and_checked() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "app-env-missing"),
            (&[("APP_ENV", "")], "app-env-missing"),
            (&[("APP_ENV", "prodution")], "app-env-unknown"),
            (&[("APP_ENV", "Production")], "app-env-unknown"),
        ];
        for (pairs, kind) in cases {
            let err = resolve_vars(pairs).unwrap_err();
            assert_eq!(err.kind(), *kind, "{pairs:?}");
            assert_eq!(err.exit_code(), 78);
        }
        let err = resolve_vars(&[("APP_ENV", "qa")]).unwrap_err();
        assert!(err.to_string().contains("production"), "{err}");
    }

    #[test]
    fn secret_defaults_follow_app_env() {
        let cases = [
            ("production", "short-cut/prod/app"),
            ("prod", "short-cut/prod/app"),
            ("staging", "short-cut/staging/app"),
        ];
        for (app_env, secret) in cases {
            let config = resolve_vars(&[("APP_ENV", app_env), ("AWS_REGION", "us-east-1")]);
            assert_eq!(aws(config.unwrap()).secrets[0].secret_id, secret);
        }
        let err = resolve_vars(&[("APP_ENV", "development"), ("AWS_REGION", "us-east-1")]);
        assert_eq!(err.unwrap_err().kind(), "secret-name-missing");
        let err = resolve_vars(&[
            ("APP_ENV", "production"),
            ("AWS_REGION", "us-east-1"),
            ("SECRET_NAME", " "),
        ]);
        assert_eq!(err.unwrap_err().kind(), "secret-name-empty");
    }

    #[test]
    fn local_mode_needs_no_region() {
        let config = resolve_vars(&[("APP_ENV", "local")]).unwrap();
        assert_eq!(
            config.source,
            Source::Local {
                env_file: ".env".into(),
                explicit: false
            }
        );
    }

    #[test]
    fn without_aws_region_a_name_waits_for_the_profile_region() {
        let config = resolve_vars(&[("APP_ENV", "production")]).unwrap();
        let aws = aws(config);
        assert_eq!((aws.region, aws.secrets[0].region.clone()), (None, None));
    }

    #[test]
    fn aws_default_region_is_used_when_aws_region_is_not_set() {
        let config = resolve_vars(&[
            ("APP_ENV", "production"),
            ("AWS_DEFAULT_REGION", "eu-west-3"),
        ]);
        assert_eq!(
            aws(config.unwrap()).secrets[0].region.as_deref(),
            Some("eu-west-3")
        );
        let both = resolve_vars(&[
            ("APP_ENV", "production"),
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "eu-west-3"),
        ]);
        assert_eq!(aws(both.unwrap()).region.as_deref(), Some("us-west-2"));
        let bad = resolve_vars(&[("APP_ENV", "production"), ("AWS_DEFAULT_REGION", "EU")]);
        assert_eq!(bad.unwrap_err().kind(), "region-malformed");
    }

    #[test]
    fn failover_regions_are_a_checked_list_in_order() {
        let config = resolve_vars(&[
            ("APP_ENV", "production"),
            ("AWS_REGION", "us-east-1"),
            (
                "SHORTCUT_ENV_FAILOVER_REGION",
                " us-west-2, eu-west-1,,us-west-2",
            ),
        ]);
        assert_eq!(
            aws(config.unwrap()).failover_regions,
            ["us-west-2", "eu-west-1"]
        );
        let none = resolve_vars(&[("APP_ENV", "production"), ("AWS_REGION", "us-east-1")]);
        assert!(aws(none.unwrap()).failover_regions.is_empty());
    }

    #[test]
    fn a_malformed_failover_region_names_the_setting_that_gave_it() {
        let pairs = [("APP_ENV", "production"), ("AWS_REGION", "us-east-1")];
        let mut with_var = pairs.to_vec();
        with_var.push(("SHORTCUT_ENV_FAILOVER_REGION", "us-west-2,us-west-2a"));
        let error = resolve_vars(&with_var).unwrap_err();
        assert_eq!(
            (error.kind().as_str(), error.exit_code()),
            ("region-malformed", 78)
        );
        assert!(
            error
                .to_string()
                .contains("SHORTCUT_ENV_FAILOVER_REGION=\"us-west-2a\"")
        );
        let options = flags(&[("SHORTCUT_ENV_FAILOVER_REGION", "EU-WEST-1")]);
        let error = resolve(&options, &vars(&pairs)).unwrap_err();
        assert!(
            error.to_string().starts_with("--failover-region="),
            "{error}"
        );
    }

    #[test]
    fn regions_are_validated() {
        for good in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "cn-north-1",
            "us-isob-east-1",
            "ap-southeast-5",
        ] {
            assert_eq!(validate_region(good).ok(), Some(good));
        }
        for bad in [
            "us-east-1 ",
            " us-east-1",
            "US-EAST-1",
            "us-east-1a",
            "useast1",
            "us-east",
            "us--1",
            "u-east-1",
            "us-east-123",
            "",
            "us-east-1\n",
        ] {
            assert!(validate_region(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn an_arn_keeps_its_region_whatever_aws_region_says() {
        let arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:short-cut/prod/app-AbCdEf";
        let config = resolve_vars(&[("APP_ENV", "production"), ("SECRET_NAME", arn)]).unwrap();
        assert_eq!(aws(config).secrets[0].region.as_deref(), Some("eu-west-1"));
        let config = resolve_vars(&[
            ("APP_ENV", "production"),
            ("SECRET_NAME", &format!("{arn},app")),
            ("AWS_REGION", "us-east-1"),
        ])
        .unwrap();
        let regions: Vec<_> = aws(config)
            .secrets
            .iter()
            .map(|s| s.region.clone().unwrap_or_default())
            .collect();
        assert_eq!(regions, ["eu-west-1", "us-east-1"]);
    }

    #[test]
    fn version_fields_with_control_characters_are_refused() {
        let base = [("APP_ENV", "production"), ("AWS_REGION", "us-east-1")];
        let with = |extra: &[(&str, &str)]| {
            let pairs: Vec<_> = base.iter().chain(extra).copied().collect();
            resolve_vars(&pairs)
        };
        let err = with(&[("SECRET_VERSION_STAGE", "AWSCURRENT\r")]).unwrap_err();
        assert_eq!(
            (err.kind().as_str(), err.exit_code()),
            ("invalid-setting", 78)
        );
        let err = with(&[("SECRET_VERSION_ID", "v\n1")]).unwrap_err();
        assert_eq!(err.exit_code(), 78);
        let err = with(&[("SECRET_NAME", "app::STAGE\u{1b}[31m")]).unwrap_err();
        assert_eq!(
            (err.kind().as_str(), err.exit_code()),
            ("reference-malformed", 78)
        );
    }

    #[test]
    fn malformed_arns_are_configuration_errors() {
        for bad in [
            "arn:aws:secretsmanager:eu-west-1:111122223333",
            "arn:aws:secretsmanager:EU-WEST-1:111122223333:secret:x",
            "arn:awz:secretsmanager:eu-west-1:111122223333:secret:x",
            "arn:aws:secretsmanager:eu-west-1:1111:secret:x",
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:",
        ] {
            let err = resolve_vars(&[("APP_ENV", "production"), ("SECRET_NAME", bad)]).unwrap_err();
            assert_eq!(err.kind(), "secret-arn-malformed", "{bad}");
        }
    }

    #[test]
    fn ssm_parameters_take_no_secret_version_and_recursive_is_a_boolean() {
        let base = [
            ("APP_ENV", "production"),
            ("AWS_REGION", "us-east-1"),
            ("SECRET_NAME", "app,ssm:/a/b,ssm:/a/"),
            ("SECRET_VERSION_STAGE", "AWSPREVIOUS"),
        ];
        let source = aws(resolve_vars(&base).unwrap());
        assert_eq!(
            source.secrets[0].version_stage.as_deref(),
            Some("AWSPREVIOUS")
        );
        assert_eq!(source.secrets[1].version_stage, None);
        assert_eq!(source.secrets[1].region.as_deref(), Some("us-east-1"));
        assert!(!source.recursive);
        let mut recursive = base.to_vec();
        recursive.push(("SHORTCUT_ENV_RECURSIVE", "true"));
        assert!(aws(resolve_vars(&recursive).unwrap()).recursive);
        recursive.push(("SHORTCUT_ENV_RECURSIVE", "deep"));
        let err = resolve_vars(&recursive).unwrap_err();
        assert_eq!(
            (err.kind().as_str(), err.exit_code()),
            ("invalid-setting", 78)
        );
    }

    #[test]
    fn several_secrets_each_get_a_region_and_the_default_version() {
        let arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shared-AbCdEf";
        let config = resolve_vars(&[
            ("APP_ENV", "production"),
            ("AWS_REGION", "us-east-1"),
            ("SECRET_NAME", "a, b::AWSCURRENT ,DB=c:host"),
            ("SECRET_VERSION_STAGE", "AWSPREVIOUS"),
        ])
        .unwrap();
        let secrets = aws(config).secrets;
        assert_eq!(secrets.len(), 3);
        assert!(
            secrets
                .iter()
                .all(|s| s.region.as_deref() == Some("us-east-1"))
        );
        let stages: Vec<_> = secrets.iter().map(|s| s.version_stage.as_deref()).collect();
        assert_eq!(
            stages,
            [Some("AWSPREVIOUS"), Some("AWSCURRENT"), Some("AWSPREVIOUS")]
        );
        assert_eq!(secrets[2].target.as_deref(), Some("DB"));

        // ARNs alone need no AWS_REGION; a name among them does.
        let only_arn = resolve_vars(&[("APP_ENV", "production"), ("SECRET_NAME", arn)]).unwrap();
        assert_eq!(aws(only_arn).region.as_deref(), Some("eu-west-1"));
        // A name among them is left for the profile's region, looked up when fetching.
        let mixed = format!("{arn},app");
        let config = resolve_vars(&[("APP_ENV", "production"), ("SECRET_NAME", &mixed)]);
        assert_eq!(aws(config.unwrap()).secrets[1].region, None);
        let err = resolve_vars(&[("APP_ENV", "production"), ("SECRET_NAME", ",")]);
        assert_eq!(err.unwrap_err().kind(), "secret-name-empty");
    }

    #[test]
    fn the_key_policy_is_resolved_and_checked() {
        let local = |extra: &[(&str, &str)]| {
            let pairs: Vec<_> = [("APP_ENV", "local")]
                .iter()
                .chain(extra)
                .copied()
                .collect();
            resolve_vars(&pairs)
        };
        let config = local(&[
            ("SHORTCUT_ENV_ONLY", "OPENAI_*,MILVUS_?OST"),
            ("SHORTCUT_ENV_EXCLUDE", "*_PORT"),
            ("SHORTCUT_ENV_MAP", "MILVUS_HOST=DB_HOST"),
            ("SHORTCUT_ENV_PREFIX", "APP_"),
            ("SHORTCUT_ENV_FILES", "TLS_KEY=TLS_KEY_FILE"),
        ])
        .unwrap();
        let policy = &config.policy;
        assert_eq!(
            policy.target("OPENAI_API_KEY").as_deref(),
            Some("APP_OPENAI_API_KEY")
        );
        assert_eq!(policy.target("MILVUS_HOST").as_deref(), Some("DB_HOST"));
        assert_eq!(policy.target("MILVUS_PORT"), None);
        assert_eq!(policy.target("OTHER"), None);
        assert_eq!(
            config.files,
            [("TLS_KEY".to_string(), "TLS_KEY_FILE".to_string())]
        );

        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("SHORTCUT_ENV_MAP", "A=PATH")], "protected-target"),
            (&[("SHORTCUT_ENV_MAP", "A=AWS_REGION")], "protected-target"),
            (&[("SHORTCUT_ENV_MAP", "A=X,B=X")], "duplicate-target"),
            (&[("SHORTCUT_ENV_MAP", "A")], "invalid-setting"),
            (&[("SHORTCUT_ENV_MAP", "A=1X")], "invalid-setting"),
            (&[("SHORTCUT_ENV_FILES", "A=F,B=F")], "duplicate-target"),
            (
                &[("SHORTCUT_ENV_FILES", "A=GOOGLE_APPLICATION_CREDENTIALS")],
                "protected-target",
            ),
            (
                &[("SHORTCUT_ENV_FILES", "A=LD_PRELOAD")],
                "protected-target",
            ),
            (&[("SHORTCUT_ENV_PREFIX", "1_")], "invalid-setting"),
            (&[("SHORTCUT_ENV_ONLY", "[")], "invalid-setting"),
            (
                &[("SHORTCUT_ENV_PRESERVE_ENV", "perhaps not")],
                "invalid-setting",
            ),
        ];
        for (pairs, kind) in cases {
            let err = local(pairs).unwrap_err();
            assert_eq!(
                (err.kind().as_str(), err.exit_code()),
                (*kind, 78),
                "{pairs:?}"
            );
        }
        // An allowed protected name may be a target.
        let allowed = local(&[
            ("SHORTCUT_ENV_MAP", "A=HOME"),
            ("SHORTCUT_ENV_ALLOW_KEY", "HOME"),
        ]);
        assert!(allowed.is_ok());

        let preserve = |v: &str| {
            local(&[("SHORTCUT_ENV_PRESERVE_ENV", v)])
                .unwrap()
                .policy
                .preserve
        };
        assert_eq!(preserve("1"), Preserve::All);
        assert_eq!(preserve("false"), Preserve::None);
        assert_eq!(
            preserve("A,B"),
            Preserve::Names(vec!["A".into(), "B".into()])
        );
    }

    const PROD: &[(&str, &str)] = &[("APP_ENV", "production"), ("AWS_REGION", "us-east-1")];

    #[test]
    fn an_invalid_flag_is_named_as_the_flag() {
        let options = flags(&[("SHORTCUT_ENV_TIMEOUT", "abc")]);
        let err = resolve(&options, &vars(PROD)).unwrap_err();
        assert!(err.to_string().starts_with("--timeout="), "{err}");
        assert!(!err.to_string().contains("SHORTCUT_ENV_TIMEOUT"), "{err}");
    }

    #[test]
    fn an_invalid_variable_is_named_as_the_variable() {
        let err = resolve_vars(&[PROD, &[("SHORTCUT_ENV_TIMEOUT", "abc")]].concat()).unwrap_err();
        assert!(
            err.to_string().starts_with("SHORTCUT_ENV_TIMEOUT="),
            "{err}"
        );
    }

    #[test]
    fn name_lists_refuse_names_that_cannot_be_variables() {
        for (name, value) in [
            ("SHORTCUT_ENV_REQUIRE", "OK,my-key"),
            ("SHORTCUT_ENV_ALLOW_KEY", "PATH,1X"),
            ("SHORTCUT_ENV_PRESERVE_ENV", "A,B C"),
        ] {
            let err = resolve_vars(&[PROD, &[(name, value)]].concat()).unwrap_err();
            assert_eq!(
                (err.kind().as_str(), err.exit_code()),
                ("invalid-setting", 78),
                "{name}"
            );
            assert!(err.to_string().starts_with(name), "{err}");
        }
        let options = flags(&[("SHORTCUT_ENV_PRESERVE_ENV", "A,=B")]);
        let err = resolve(&options, &vars(PROD)).unwrap_err();
        assert!(err.to_string().starts_with("--preserve-env="), "{err}");
    }

    #[test]
    fn unknown_settings_warn_with_the_closest_name() {
        let warnings = warnings(
            &Given::default(),
            &vars(&[
                ("SHORTCUT_ENV_TIMEOUTS", "5"),
                ("SHORTCUT_ENV_TIMEOUT", "5"),
            ]),
        );
        assert_eq!(
            warnings,
            ["unknown setting SHORTCUT_ENV_TIMEOUTS ignored; did you mean SHORTCUT_ENV_TIMEOUT?"]
        );
    }

    #[test]
    fn env_file_outside_local_mode_warns_that_it_is_not_read() {
        let options = flags(&[("SHORTCUT_ENV_FILE", "x.env")]);
        assert!(warnings(&options, &vars(PROD))[0].contains("--env-file is only read"));
        assert!(warnings(&options, &vars(&[("APP_ENV", "local")])).is_empty());
    }

    #[test]
    fn flags_win_over_variables() {
        let options = flags(&[
            ("APP_ENV", "staging"),
            ("AWS_REGION", "eu-west-1"),
            ("SECRET_NAME", "other"),
            ("SHORTCUT_ENV_TIMEOUT", "2.5"),
        ]);
        let config = resolve(
            &options,
            &vars(&[
                ("APP_ENV", "production"),
                ("AWS_REGION", "us-east-1"),
                ("SHORTCUT_ENV_TIMEOUT", "9"),
            ]),
        )
        .unwrap();
        assert_eq!(config.app_env, AppEnv::Staging);
        let aws = aws(config);
        assert_eq!(
            (aws.region.as_deref(), aws.secrets[0].secret_id.as_str()),
            (Some("eu-west-1"), "other")
        );
        assert_eq!(aws.timeout, Duration::from_millis(2500));
    }

    #[test]
    fn timeouts_are_positive_bounded_seconds() {
        let parse_timeout = |v: Option<&str>| {
            parse_seconds(v.map(|v| (v, "SHORTCUT_ENV_TIMEOUT")), DEFAULT_TIMEOUT)
        };
        assert_eq!(parse_timeout(None).unwrap(), DEFAULT_TIMEOUT);
        assert_eq!(
            parse_timeout(Some("0.25")).unwrap(),
            Duration::from_millis(250)
        );
        for bad in ["0", "-1", "abc", "NaN", "inf", "3601", "5s"] {
            assert_eq!(
                parse_timeout(Some(bad)).unwrap_err().exit_code(),
                78,
                "{bad}"
            );
        }
    }

    #[test]
    fn retry_options_are_validated() {
        let base = [("APP_ENV", "production"), ("AWS_REGION", "us-east-1")];
        let with = |extra: &[(&str, &str)]| {
            let pairs: Vec<_> = base.iter().chain(extra).copied().collect();
            resolve_vars(&pairs).map(|c| aws(c).retry)
        };
        assert_eq!(with(&[]).unwrap(), Retry::default());
        let tuned = with(&[
            ("SHORTCUT_ENV_MAX_ATTEMPTS", "5"),
            ("SHORTCUT_ENV_RETRY_MODE", "adaptive"),
            ("SHORTCUT_ENV_INITIAL_BACKOFF", "0.05"),
            ("SHORTCUT_ENV_MAX_BACKOFF", "2"),
            ("SHORTCUT_ENV_CONNECT_TIMEOUT", "0.5"),
        ])
        .unwrap();
        assert_eq!(tuned.max_attempts, 5);
        assert_eq!(tuned.mode, RetryMode::Adaptive);
        assert_eq!(tuned.initial_backoff, Duration::from_millis(50));
        assert_eq!(tuned.max_backoff, Duration::from_secs(2));
        assert_eq!(tuned.connect_timeout, Duration::from_millis(500));
        for bad in [
            ("SHORTCUT_ENV_MAX_ATTEMPTS", "0"),
            ("SHORTCUT_ENV_MAX_ATTEMPTS", "21"),
            ("SHORTCUT_ENV_MAX_ATTEMPTS", "three"),
            ("SHORTCUT_ENV_RETRY_MODE", "legacy"),
            ("SHORTCUT_ENV_INITIAL_BACKOFF", "-1"),
            ("SHORTCUT_ENV_CONNECT_TIMEOUT", "0"),
        ] {
            let err = with(&[bad]).unwrap_err();
            assert_eq!(err.exit_code(), 78, "{bad:?}");
            assert!(err.to_string().contains(bad.0), "{err}");
        }
    }

    #[test]
    fn lists_bools_and_log_formats() {
        assert_eq!(parse_list(Some(" A, B,,C ")), ["A", "B", "C"]);
        assert!(parse_list(None).is_empty());
        assert!(parse_bool("X", Some("TRUE")).unwrap());
        assert!(!parse_bool("X", Some("0")).unwrap());
        assert!(parse_bool("X", Some("maybe")).is_err());
        let json = vars(&[("SHORTCUT_ENV_LOG_FORMAT", "json")]);
        assert_eq!(
            LogFormat::resolve(&Given::default(), &json).unwrap(),
            LogFormat::Json
        );
        let bad = vars(&[("SHORTCUT_ENV_LOG_FORMAT", "xml")]);
        assert!(LogFormat::resolve(&Given::default(), &bad).is_err());
    }

    #[test]
    fn credentials_dir_defaults_under_tmpdir() {
        let config = resolve_vars(&[("APP_ENV", "local"), ("TMPDIR", "/var/tmp")]).unwrap();
        assert_eq!(
            config.credentials_dir,
            CredentialsDir::Default {
                runtime_dir: None,
                temp_dir: "/var/tmp".into()
            }
        );
        let config =
            resolve_vars(&[("APP_ENV", "local"), ("XDG_RUNTIME_DIR", "/run/user/1000")]).unwrap();
        assert_eq!(
            config.credentials_dir,
            CredentialsDir::Default {
                runtime_dir: Some("/run/user/1000".into()),
                temp_dir: "/tmp".into()
            }
        );
        let config = resolve_vars(&[
            ("APP_ENV", "local"),
            ("SHORTCUT_ENV_CREDENTIALS_DIR", "/run/creds"),
        ])
        .unwrap();
        assert_eq!(
            config.credentials_dir,
            CredentialsDir::Explicit("/run/creds".into())
        );
    }

    /// What resolving shows of a setting: the configuration (or the error) and the log format.
    fn observed(given: &Given, pairs: &[(&str, &str)]) -> String {
        let vars = vars(pairs);
        format!(
            "{:?} {:?}",
            resolve(given, &vars).map_err(|e| e.to_string()),
            LogFormat::resolve(given, &vars).map_err(|e| e.to_string())
        )
    }

    const BASES: [&[(&str, &str)]; 2] = [
        &[("APP_ENV", "production"), ("AWS_REGION", "us-east-1")],
        &[("APP_ENV", "local")],
    ];

    /// `--help`'s `[default: X]` is what the resolver uses: giving X changes nothing, as a
    /// variable or as a flag.
    #[test]
    fn every_default_in_help_is_the_default_the_resolver_uses() {
        for setting in settings::SETTINGS {
            let settings::Default::Value(default) = setting.default else {
                continue;
            };
            for base in BASES {
                let unset = observed(&Given::default(), base);
                let with_var: Vec<_> = base
                    .iter()
                    .copied()
                    .chain([(setting.var, default)])
                    .collect();
                assert_eq!(
                    observed(&Given::default(), &with_var),
                    unset,
                    "{}",
                    setting.var
                );
                let flag = flags(&[(setting.var, default)]);
                assert_eq!(observed(&flag, base), unset, "{}", setting.flag);
            }
        }
    }

    /// `--help`'s `[env: VAR]` is what the resolver reads: setting VAR (or its flag) to a
    /// value changes the configuration, or is refused naming VAR (or the flag).
    #[test]
    fn every_variable_in_help_is_read_by_the_resolver() {
        for setting in settings::SETTINGS {
            let read = |value: &str| {
                BASES.iter().any(|base| {
                    let unset = observed(&Given::default(), base);
                    let with_var: Vec<_> =
                        base.iter().copied().chain([(setting.var, value)]).collect();
                    let by_var = observed(&Given::default(), &with_var);
                    let by_flag = observed(&flags(&[(setting.var, value)]), base);
                    by_var != unset
                        && by_flag != unset
                        && (!by_var.contains("Err(") || by_var.contains(setting.var))
                        && (!by_flag.contains("Err(")
                            || by_flag.contains(setting.flag)
                            || by_flag.contains(setting.var))
                })
            };
            assert!(
                ["PROBE_1", "1", "0.5", "json", "eu-west-1"]
                    .into_iter()
                    .any(read),
                "{} ({}) is in --help but changes nothing the resolver returns",
                setting.var,
                setting.flag
            );
        }
    }

    #[test]
    fn preserve_env_given_bare_keeps_all_and_with_names_only_those() {
        let policy = |given: Given| resolve(&given, &vars(PROD)).unwrap().policy.preserve;
        assert_eq!(
            policy(flags(&[("SHORTCUT_ENV_PRESERVE_ENV", "")])),
            Preserve::All
        );
        assert_eq!(
            policy(flags(&[("SHORTCUT_ENV_PRESERVE_ENV", "ON,X")])),
            Preserve::Names(vec!["ON".into(), "X".into()])
        );
        let by_var = |value: &str| {
            resolve_vars(&[PROD, &[("SHORTCUT_ENV_PRESERVE_ENV", value)]].concat())
                .unwrap()
                .policy
                .preserve
        };
        assert_eq!(by_var("on"), Preserve::All);
        assert_eq!(by_var("0"), Preserve::None);
        assert_eq!(by_var("A,B"), Preserve::Names(vec!["A".into(), "B".into()]));
    }

    fn supervise(pairs: &[(&str, &str)]) -> Result<Supervise, Error> {
        Supervise::resolve(&Given::default(), &vars(pairs))
    }

    #[test]
    fn init_is_off_by_default_and_on_with_the_variable() {
        assert!(!supervise(&[]).unwrap().init);
        let init = supervise(&[("SHORTCUT_ENV_INIT", "1")]).unwrap();
        assert!(init.init);
        assert_eq!(init.watch, None);
        assert!(supervise(&[("SHORTCUT_ENV_INIT", "maybe")]).is_err());
    }

    #[test]
    fn watch_as_a_switch_polls_every_300_s_with_the_documented_defaults() {
        let watch = supervise(&[("SHORTCUT_ENV_WATCH", "1")]).unwrap();
        assert!(watch.init, "--watch implies --init");
        assert_eq!(watch.watch, Some(Duration::from_mins(5)));
        assert_eq!(watch.on_change, OnChange::Restart);
        assert_eq!(watch.splay, Duration::from_secs(30));
        assert_eq!(watch.stop_signal, 15);
        assert_eq!(watch.stop_timeout, Duration::from_secs(20));
        assert_eq!(
            supervise(&[("SHORTCUT_ENV_WATCH", "off")]).unwrap().watch,
            None
        );
    }

    #[test]
    fn watch_given_bare_polls_every_300_s_and_an_empty_variable_is_off() {
        let bare = flags(&[("SHORTCUT_ENV_WATCH", "")]);
        let watch = Supervise::resolve(&bare, &Vars::default()).unwrap().watch;
        assert_eq!(watch, Some(Duration::from_mins(5)));
        assert_eq!(
            supervise(&[("SHORTCUT_ENV_WATCH", "")]).unwrap().watch,
            None
        );
    }

    #[test]
    fn watch_takes_seconds_and_signal_names() {
        let watch = supervise(&[
            ("SHORTCUT_ENV_WATCH", "2.5"),
            ("SHORTCUT_ENV_ON_CHANGE", "signal:SIGHUP"),
            ("SHORTCUT_ENV_WATCH_SPLAY", "0"),
            ("SHORTCUT_ENV_STOP_SIGNAL", "int"),
        ])
        .unwrap();
        assert_eq!(watch.watch, Some(Duration::from_millis(2500)));
        assert_eq!(watch.on_change, OnChange::Signal(1));
        assert_eq!(watch.splay, Duration::ZERO);
        assert_eq!(watch.stop_signal, 2);
    }

    #[test]
    fn watch_refuses_bad_values_naming_the_setting() {
        for (name, value) in [
            ("SHORTCUT_ENV_WATCH", "-3"),
            ("SHORTCUT_ENV_ON_CHANGE", "signal:KILL"),
            ("SHORTCUT_ENV_ON_CHANGE", "reload"),
            ("SHORTCUT_ENV_WATCH_SPLAY", "soon"),
            ("SHORTCUT_ENV_STOP_SIGNAL", "9"),
            ("SHORTCUT_ENV_STOP_TIMEOUT", "0"),
        ] {
            let error = supervise(&[("SHORTCUT_ENV_WATCH", "1"), (name, value)]).unwrap_err();
            assert_eq!(error.exit_code(), 78, "{name}={value}");
            assert!(error.to_string().contains(name), "{error}");
        }
    }
}
