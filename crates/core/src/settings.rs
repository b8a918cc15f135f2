//! Every setting, named once: its variable, its flag, its help and its default.
//!
//! The command line is built from this table (`src/cli.rs`), `--help`'s `[env: …]` and
//! `[default: …]` are rendered from it, the resolver (`config`) reads each setting through it,
//! and an unknown `SHORTCUT_ENV_*` variable is compared with it. A new option is one row here
//! and the code that uses its value.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

use crate::error::Error;
use crate::vars::Vars;

/// What a flag takes on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// `--flag VALUE`, once.
    Value,
    /// `--flag PATH`, once: any bytes but empty (a path need not be UTF-8).
    Path,
    /// `--flag VALUE`, repeatable, each value possibly comma-separated.
    Values,
    /// `--flag` alone: the same as the variable set to `1`.
    Switch,
    /// `--flag` alone, or `--flag=VALUE`; alone is recorded as the empty value, which the
    /// setting's resolution tells apart from any value given.
    OptionalValue,
}

/// What the help says when a setting is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// Nothing is set: the feature is off or the setting has no value.
    None,
    /// A value the resolver accepts: resolving with it gives what resolving without it gives
    /// (a unit test checks each one).
    Value(&'static str),
    /// A rule in words (`short-cut/prod/app in production, …`).
    Described(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The variable, e.g. `SHORTCUT_ENV_TIMEOUT`.
    pub var: &'static str,
    /// The long flag, e.g. `--timeout`.
    pub flag: &'static str,
    pub value_name: &'static str,
    pub help: &'static str,
    pub default: Default,
    pub takes: Takes,
    /// The `--help` section; `None` for the main one.
    pub heading: Option<&'static str>,
}

impl Setting {
    /// `timeout`, as clap's `long` takes it.
    pub fn long(&self) -> &'static str {
        self.flag.trim_start_matches('-')
    }

    /// The help line as `--help` shows it: the text, then `[env: VAR]` and `[default: …]`.
    pub fn help_line(&self) -> String {
        let default = match self.default {
            Default::None => String::new(),
            Default::Value(text) | Default::Described(text) => format!(" [default: {text}]"),
        };
        format!("{} [env: {}]{default}", self.help, self.var)
    }
}

const SELECTING: Option<&str> = Some("Selecting and renaming keys");
const NETWORK: Option<&str> = Some("Network and retries");
const SUPERVISING: Option<&str> = Some("Supervising the command (--init, --watch)");

const fn one(
    var: &'static str,
    flag: &'static str,
    value_name: &'static str,
    help: &'static str,
    default: Default,
    heading: Option<&'static str>,
) -> Setting {
    Setting {
        var,
        flag,
        value_name,
        help,
        default,
        takes: Takes::Value,
        heading,
    }
}

const fn many(
    var: &'static str,
    flag: &'static str,
    value_name: &'static str,
    help: &'static str,
    heading: Option<&'static str>,
) -> Setting {
    Setting {
        var,
        flag,
        value_name,
        help,
        default: Default::None,
        takes: Takes::Values,
        heading,
    }
}

const fn switch(
    var: &'static str,
    flag: &'static str,
    help: &'static str,
    heading: Option<&'static str>,
) -> Setting {
    Setting {
        var,
        flag,
        value_name: "",
        help,
        default: Default::None,
        takes: Takes::Switch,
        heading,
    }
}

/// Every setting that has a variable and a flag, in `--help`'s order.
pub const SETTINGS: &[Setting] = &[
    one(
        "APP_ENV",
        "--app-env",
        "ENV",
        "local, development, staging or production (prod)",
        Default::None,
        None,
    ),
    one(
        "AWS_REGION",
        "--region",
        "REGION",
        "Region of the secret, e.g. us-east-1 (AWS_DEFAULT_REGION and the profile's region are \
         read next); not needed with an ARN",
        Default::None,
        None,
    ),
    Setting {
        default: Default::Described(
            "short-cut/prod/app in production, short-cut/staging/app in staging",
        ),
        ..many(
            "SECRET_NAME",
            "--secret",
            "REF",
            "Secret reference: a name or ARN, optionally [VAR=]…[:JSON_KEY[:STAGE[:VERSION_ID]]] \
             as in ECS's valueFrom, or an SSM parameter ssm:/NAME[:VERSION|:LABEL] (or its ARN, \
             or a path ssm:/PATH/); repeat it or separate with commas for several (later ones \
             win)",
            None,
        )
    },
    one(
        "SECRET_VERSION_STAGE",
        "--version-stage",
        "STAGE",
        "Version stage to read, e.g. AWSPREVIOUS for a rollback",
        Default::Described("AWSCURRENT"),
        None,
    ),
    one(
        "SECRET_VERSION_ID",
        "--version-id",
        "ID",
        "Exact version id to read",
        Default::None,
        None,
    ),
    one(
        "SHORTCUT_ENV_REQUIRE",
        "--require",
        "KEYS",
        "Comma-separated keys that must be present",
        Default::None,
        None,
    ),
    Setting {
        takes: Takes::Path,
        ..one(
            "SHORTCUT_ENV_CREDENTIALS_DIR",
            "--credentials-dir",
            "DIR",
            "Private directory for materialized credential files",
            Default::Described("$XDG_RUNTIME_DIR/shortcut-env, else $TMPDIR/shortcut-env-UID"),
            None,
        )
    },
    Setting {
        takes: Takes::Path,
        ..one(
            "SHORTCUT_ENV_FILE",
            "--env-file",
            "PATH",
            "Dotenv file read in local mode",
            Default::Described(".env, if present"),
            None,
        )
    },
    one(
        "SHORTCUT_ENV_LOG_FORMAT",
        "--log-format",
        "FORMAT",
        "Log format: text or json",
        Default::Value("text"),
        None,
    ),
    Setting {
        takes: Takes::OptionalValue,
        ..one(
            "SHORTCUT_ENV_PRESERVE_ENV",
            "--preserve-env",
            "NAMES",
            "Inherited variables win over secret values: all of them (=1), or only the \
             comma-separated NAMES",
            Default::None,
            None,
        )
    },
    one(
        "SHORTCUT_ENV_ONLY",
        "--only",
        "PATTERNS",
        "Export only the keys matching these comma-separated glob patterns, e.g. \
         'OPENAI_*,MILVUS_*'",
        Default::None,
        SELECTING,
    ),
    one(
        "SHORTCUT_ENV_EXCLUDE",
        "--exclude",
        "PATTERNS",
        "Do not export the keys matching these comma-separated glob patterns",
        Default::None,
        SELECTING,
    ),
    many(
        "SHORTCUT_ENV_MAP",
        "--map",
        "FROM=TO",
        "Rename a key: FROM=TO; repeat it, or comma-separate",
        SELECTING,
    ),
    one(
        "SHORTCUT_ENV_PREFIX",
        "--prefix",
        "PREFIX",
        "Prefix every exported key not renamed by --map, e.g. APP_ \
         (GOOGLE_APPLICATION_CREDENTIALS_JSON keeps its name, so the GCP file is still written)",
        Default::None,
        SELECTING,
    ),
    many(
        "SHORTCUT_ENV_ALLOW_KEY",
        "--allow-key",
        "NAME",
        "Let the secret set this protected name (PATH, AWS_*, …); repeat it, or comma-separate",
        SELECTING,
    ),
    many(
        "SHORTCUT_ENV_FILES",
        "--file",
        "KEY=VAR",
        "Write the value of KEY to a private 0600 file and set VAR to its path; repeat it, or \
         comma-separate",
        SELECTING,
    ),
    switch(
        "SHORTCUT_ENV_DROP_AWS_CREDENTIALS",
        "--drop-aws-credentials",
        "Remove the AWS credential variables (keys, session token, container-credentials URIs \
         and token, web-identity token file and role) from the command's environment after \
         fetching (docs/security.md)",
        SELECTING,
    ),
    one(
        "SHORTCUT_ENV_TIMEOUT",
        "--timeout",
        "SECONDS",
        "Deadline for credentials and fetching, in seconds, e.g. 5 or 2.5",
        Default::Value("30"),
        NETWORK,
    ),
    one(
        "SHORTCUT_ENV_MAX_ATTEMPTS",
        "--max-attempts",
        "N",
        "Attempts per call, the first included",
        Default::Value("5"),
        NETWORK,
    ),
    one(
        "SHORTCUT_ENV_RETRY_MODE",
        "--retry-mode",
        "MODE",
        "Retry mode: standard (jittered exponential backoff) or adaptive (also rate-limits the \
         client after throttling)",
        Default::Value("standard"),
        NETWORK,
    ),
    one(
        "SHORTCUT_ENV_INITIAL_BACKOFF",
        "--initial-backoff",
        "SECONDS",
        "Upper bound of the first retry's random backoff, in seconds; doubles per retry",
        Default::Value("2"),
        NETWORK,
    ),
    one(
        "SHORTCUT_ENV_MAX_BACKOFF",
        "--max-backoff",
        "SECONDS",
        "Longest backoff between two attempts, in seconds",
        Default::Value("20"),
        NETWORK,
    ),
    one(
        "SHORTCUT_ENV_CONNECT_TIMEOUT",
        "--connect-timeout",
        "SECONDS",
        "Connect timeout per attempt, in seconds",
        Default::Value("2"),
        NETWORK,
    ),
    Setting {
        takes: Takes::Values,
        ..one(
            "SHORTCUT_ENV_FAILOVER_REGION",
            "--failover-region",
            "REGIONS",
            "Secrets Manager replica regions read, in order, when the primary region is \
             unreachable (network, 5xx, throttled out); never on AccessDenied or NotFound",
            Default::None,
            NETWORK,
        )
    },
    switch(
        "SHORTCUT_ENV_RECURSIVE",
        "--recursive",
        "An ssm:/PATH/ reference reads every parameter below the path, not only those directly \
         under it; each is exported under its last path segment",
        None,
    ),
    switch(
        "SHORTCUT_ENV_INIT",
        "--init",
        "Stay as a tiny init instead of exec'ing: run COMMAND as a child in its own process \
         group, forward signals to that group, reap every zombie, exit with its status",
        SUPERVISING,
    ),
    Setting {
        takes: Takes::OptionalValue,
        default: Default::Described("off; 300 when given bare"),
        ..one(
            "SHORTCUT_ENV_WATCH",
            "--watch",
            "SECONDS",
            "Implies --init: poll each secret's AWSCURRENT version every SECONDS (with jitter) \
             and act on a new one as --on-change says",
            Default::None,
            SUPERVISING,
        )
    },
    one(
        "SHORTCUT_ENV_ON_CHANGE",
        "--on-change",
        "ACTION",
        "What a new version does: restart (stop the command's group, start it with the new \
         environment), exit (stop it and exit 0), or signal:NAME (rewrite the files, send NAME)",
        Default::Value("restart"),
        SUPERVISING,
    ),
    one(
        "SHORTCUT_ENV_WATCH_SPLAY",
        "--watch-splay",
        "SECONDS",
        "Longest random wait before acting on a change, so that a fleet does not restart at \
         once; 0 for none",
        Default::Value("30"),
        SUPERVISING,
    ),
    one(
        "SHORTCUT_ENV_STOP_SIGNAL",
        "--stop-signal",
        "SIGNAL",
        "Signal that stops the command for a restart: TERM, INT, HUP, QUIT, USR1, USR2 or WINCH",
        Default::Value("TERM"),
        SUPERVISING,
    ),
    one(
        "SHORTCUT_ENV_STOP_TIMEOUT",
        "--stop-timeout",
        "SECONDS",
        "Seconds between the stop signal and SIGKILL of the command's process group",
        Default::Value("20"),
        SUPERVISING,
    ),
];

/// The setting whose variable is `var`.
pub fn setting(var: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.var == var)
}

/// The flags given on the command line, by the variable they stand for. The command line
/// (`src/cli.rs`) fills it; the resolver asks it first, then the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Given(BTreeMap<&'static str, Vec<OsString>>);

impl Given {
    /// Records a value of the flag of `var` (a switch records `1`, a bare optional value the
    /// empty string).
    pub fn push(&mut self, var: &'static str, value: OsString) {
        self.0.entry(var).or_default().push(value);
    }

    /// Whether the flag of `var` was given.
    pub fn has(&self, var: &str) -> bool {
        self.0.contains_key(var)
    }

    /// The flag's last value, as given.
    pub fn os(&self, var: &str) -> Option<&OsStr> {
        self.0
            .get(var)
            .and_then(|v| v.last())
            .map(OsString::as_os_str)
    }

    /// The flag's every value, for repeatable flags.
    pub fn all(&self, var: &'static str) -> Result<Vec<&str>, Error> {
        self.0.get(var).map_or_else(
            || Ok(Vec::new()),
            |values| {
                values
                    .iter()
                    .map(|v| v.to_str().ok_or_else(|| not_unicode_flag(var)))
                    .collect()
            },
        )
    }
}

fn not_unicode_flag(var: &'static str) -> Error {
    Error::NotUnicode(shown(var))
}

/// A setting's value and the name to show for it: the flag when the flag gave it (flag wins),
/// else the variable. `None` when neither is set; an error when the value is not UTF-8.
pub fn pick<'a>(
    given: &'a Given,
    vars: &'a Vars,
    var: &'static str,
) -> Result<Option<(&'a str, &'static str)>, Error> {
    match given.os(var) {
        Some(value) => {
            let shown = shown(var);
            value
                .to_str()
                .map(|v| Some((v, shown)))
                .ok_or_else(|| not_unicode_flag(var))
        }
        None => Ok(vars.setting(var)?.map(|value| (value, var))),
    }
}

/// `--flag` for `var`, as messages name a value given by flag.
pub fn shown(var: &'static str) -> &'static str {
    setting(var).map_or(var, |s| s.flag)
}

/// Warnings about the environment's `SHORTCUT_ENV_*` names that no setting has, each with the
/// closest known name.
pub fn unknown_names(vars: &Vars) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, _) in vars.iter() {
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with("SHORTCUT_ENV_") || name.starts_with("SHORTCUT_ENV_TEST_") {
            continue;
        }
        if setting(name).is_some() {
            continue;
        }
        let closest = SETTINGS
            .iter()
            .map(|known| (edit_distance(name, known.var), known.var))
            .min()
            .filter(|(distance, _)| *distance <= 4);
        let shown = crate::names::shown_key(name);
        warnings.push(match closest {
            Some((_, known)) => format!("unknown setting {shown} ignored; did you mean {known}?"),
            None => format!("unknown setting {shown} ignored; see shortcut-env --help"),
        });
    }
    warnings
}

/// Levenshtein distance, for "did you mean": short ASCII names, so the plain O(n·m) table.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(previous + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_and_flag_is_named_once() {
        for (i, a) in SETTINGS.iter().enumerate() {
            for b in &SETTINGS[i + 1..] {
                assert_ne!(a.var, b.var);
                assert_ne!(a.flag, b.flag);
            }
        }
    }

    #[test]
    fn messages_name_a_flag_with_its_dashes() {
        for s in SETTINGS {
            assert_eq!(shown(s.var), s.flag, "{}", s.var);
            assert!(s.flag.starts_with("--") && !s.long().starts_with('-'));
        }
    }

    #[test]
    fn the_help_line_names_the_variable_and_the_default() {
        let timeout = setting("SHORTCUT_ENV_TIMEOUT").map(Setting::help_line);
        assert!(timeout.is_some_and(|l| l.ends_with("[env: SHORTCUT_ENV_TIMEOUT] [default: 30]")));
    }

    #[test]
    fn the_flag_wins_over_the_variable_and_is_named_as_a_flag() {
        let mut given = Given::default();
        let vars: Vars = [("SHORTCUT_ENV_TIMEOUT", "9")].into_iter().collect();
        assert_eq!(
            pick(&given, &vars, "SHORTCUT_ENV_TIMEOUT").ok().flatten(),
            Some(("9", "SHORTCUT_ENV_TIMEOUT"))
        );
        given.push("SHORTCUT_ENV_TIMEOUT", "5".into());
        assert_eq!(
            pick(&given, &vars, "SHORTCUT_ENV_TIMEOUT").ok().flatten(),
            Some(("5", "--timeout"))
        );
    }

    #[test]
    fn an_unknown_setting_gets_the_closest_known_name() {
        let vars: Vars = [("SHORTCUT_ENV_TIMOUT", "5"), ("SHORTCUT_ENV_TEST_X", "1")]
            .into_iter()
            .collect();
        let warnings = unknown_names(&vars);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("did you mean SHORTCUT_ENV_TIMEOUT?"));
    }
}
