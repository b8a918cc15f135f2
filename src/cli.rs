//! Command-line parsing (clap), built from the settings table: every option's flag, help,
//! `[env: …]` and `[default: …]` come from `shortcut_env_core::settings::SETTINGS`, so a
//! setting is named once. Flags only: the variables are merged by `config::resolve`, so the
//! environment is read once and `--help` never shows a value.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};

use crate::config::LogFormat;
use crate::error::Error;
use crate::render::ExportFormat;
use crate::settings::{Given, SETTINGS, Setting, Takes};
use crate::vars::Vars;

const ABOUT: &str = "Load an application's secrets from AWS Secrets Manager into its environment, \
then exec it.";

const LONG_ABOUT: &str = "\
Load an application's secrets from AWS Secrets Manager into its environment, then exec it.

shortcut-env validates its configuration (APP_ENV, AWS_REGION, SECRET_NAME) before any network
call, fetches the secret (a JSON object) with the standard AWS credential chain, exports every key
as an environment variable, writes GOOGLE_APPLICATION_CREDENTIALS_JSON to a private file and sets
GOOGLE_APPLICATION_CREDENTIALS to its path, then replaces itself with COMMAND. With --init it
stays as COMMAND's init instead (forwards signals, reaps zombies); with --watch it also restarts
COMMAND when the secret gets a new AWSCURRENT version.

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
  SHORTCUT_ENV_WATCH=300 shortcut-env -- uvicorn main:app   (restart on a rotation)
  eval \"$(shortcut-env export --format shell)\"
  ENTRYPOINT [\"/usr/local/bin/shortcut-env\", \"--\"]   (Dockerfile, with CMD as the command)

Exit status: the command's own once it runs (with --init, 128+N when signal N ended it); 64 usage, 65 unusable secret data, 66 secret not
found, 69 Secrets Manager unreachable/timed out/throttled, 73 credentials file unsafe,
77 not allowed (credentials, AccessDenied, KMS), 78 configuration, 74 output not written
(check/export), 126 command not executable (or its environment too large), 127 command not
found on PATH, 128+N stopped by signal N (TERM, INT, HUP, QUIT, USR1, USR2) before the command
started.";

/// What the command line asked for.
#[derive(Debug)]
pub(crate) struct Cli {
    pub mode: Mode,
    /// The options given as flags, by the variable each stands for.
    pub given: Given,
    /// The command to run, after `--`.
    pub command: Vec<OsString>,
    /// `copy DIR`: not the pipeline at all, the binary copies itself into DIR (`crate::copy`).
    pub copy: Option<PathBuf>,
}

/// The pipeline's last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Run the command (exec it).
    Run,
    /// Everything a start does but run: names and OK/FAIL.
    Check,
    /// Print the environment, values included.
    Export(ExportFormat),
}

/// The command line's grammar: the settings table's flags, global so they may come before or
/// after the subcommand (`shortcut-env --require X check` and `shortcut-env check --require X`
/// are the same), the subcommands, and `COMMAND` after `--`.
pub(crate) fn command() -> Command {
    let export_help = "dotenv (KEY='value'), shell (export KEY='value', for eval) or json";
    let mut command = Command::new("shortcut-env")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .long_about(LONG_ABOUT)
        .after_help(AFTER_HELP)
        .subcommand(Command::new("check").about(
            "Fetch and validate everything, exec nothing: print each key's NAME, its source and \
             OK/FAIL against --require; never a value. Exits as the real start would",
        ))
        .subcommand(
            Command::new("copy")
                .about(
                    "Copy this binary into DIR as DIR/shortcut-env, 0755, atomically (for an \
                     initContainer and a shared volume). Needs no APP_ENV or AWS; refuses a \
                     symlink at DIR or at the name.",
                )
                .arg(
                    Arg::new("dir")
                        .value_name("DIR")
                        .required(true)
                        .value_parser(value_parser!(OsString))
                        .help("An existing directory, e.g. a shared emptyDir volume"),
                ),
        )
        .subcommand(
            Command::new("export")
                .about(
                    "Print the variables shortcut-env would set, WITH THEIR VALUES, quoted for \
                     the format. The only command that prints secret values: do not run it \
                     where output is logged",
                )
                .arg(
                    Arg::new("format")
                        .long("format")
                        .value_parser(PossibleValuesParser::new(ExportFormat::NAMES))
                        .value_name("FORMAT")
                        .default_value("dotenv")
                        .help(export_help),
                ),
        )
        .arg(
            Arg::new("command")
                .last(true)
                .num_args(1..)
                .value_name("COMMAND")
                .value_parser(value_parser!(OsString))
                .help("The command to exec, with its arguments, after `--`"),
        );
    // Each subcommand takes the options too, rather than clap's global arguments: a repeatable
    // option given before and after the subcommand keeps both sets of values (a global one
    // would keep only the later).
    command = command.mut_subcommands(|sub| sub.args(SETTINGS.iter().map(setting_arg)));
    command.args(SETTINGS.iter().map(setting_arg))
}

/// One setting's flag. Values are UTF-8 (clap refuses anything else as a usage error), but a
/// path's, which is any bytes but empty.
fn setting_arg(setting: &'static Setting) -> Arg {
    let arg = Arg::new(setting.var)
        .long(setting.long())
        .help(setting.help_line());
    let arg = match setting.heading {
        Some(heading) => arg.help_heading(heading),
        None => arg,
    };
    let valued = |arg: Arg| {
        arg.value_name(setting.value_name)
            .value_parser(value_parser!(String))
    };
    match setting.takes {
        Takes::Switch => arg.action(ArgAction::SetTrue),
        Takes::Value => valued(arg).action(ArgAction::Set),
        Takes::Values => valued(arg).action(ArgAction::Append),
        Takes::Path => arg
            .value_name(setting.value_name)
            .value_parser(value_parser!(PathBuf))
            .action(ArgAction::Set),
        Takes::OptionalValue => valued(arg)
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("")
            .action(ArgAction::Set),
    }
}

impl Cli {
    /// Parses `args`.
    pub(crate) fn parse_args(args: Vec<OsString>) -> Result<Cli, clap::Error> {
        let matches = command().try_get_matches_from(args)?;
        let mode = match matches.subcommand() {
            Some(("check", _)) => Mode::Check,
            Some(("export", sub)) => Mode::Export(
                sub.get_one::<String>("format")
                    .and_then(|name| ExportFormat::parse(name))
                    .unwrap_or(ExportFormat::Dotenv),
            ),
            _ => Mode::Run,
        };
        let copy = match matches.subcommand() {
            Some(("copy", sub)) => sub.get_one::<OsString>("dir").map(PathBuf::from),
            _ => None,
        };
        Ok(Cli {
            mode,
            copy,
            given: given(&matches),
            command: matches
                .get_many::<OsString>("command")
                .map(|words| words.cloned().collect())
                .unwrap_or_default(),
        })
    }
}

/// The flags given, before the subcommand and after it, in that order.
fn given(matches: &ArgMatches) -> Given {
    let mut given = Given::default();
    let sub = matches.subcommand().map(|(_, sub)| sub);
    for matches in std::iter::once(matches).chain(sub) {
        for setting in SETTINGS {
            if matches.value_source(setting.var) != Some(ValueSource::CommandLine) {
                continue;
            }
            match setting.takes {
                Takes::Switch => given.push(setting.var, "1".into()),
                Takes::Path => {
                    for value in matches
                        .get_many::<PathBuf>(setting.var)
                        .into_iter()
                        .flatten()
                    {
                        given.push(setting.var, value.clone().into_os_string());
                    }
                }
                _ => {
                    for value in matches
                        .get_many::<String>(setting.var)
                        .into_iter()
                        .flatten()
                    {
                        given.push(setting.var, value.into());
                    }
                }
            }
        }
    }
    given
}

/// The log format for a usage error, when the arguments did not parse: `--log-format json` (or
/// `=json`) before `--`, else SHORTCUT_ENV_LOG_FORMAT; text when neither says json.
pub(crate) fn log_format_of(args: &[OsString], inherited: &Vars) -> LogFormat {
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
pub(crate) fn usage_error(error: &clap::Error) -> Error {
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
    // clap puts the missing arguments on the lines after the first: name them on the one line.
    if error.kind() == ErrorKind::MissingRequiredArgument
        && let Some(ContextValue::Strings(missing)) = error.get(ContextKind::InvalidArg)
    {
        message = format!("missing required argument {}", missing.join(", "));
    }
    Error::Usage(message)
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
        let x = Some(std::ffi::OsStr::new("X"));
        assert_eq!(before.given.os("SHORTCUT_ENV_REQUIRE"), x);
        assert_eq!(after.given.os("SHORTCUT_ENV_REQUIRE"), x);
        assert_eq!((before.mode, after.mode), (Mode::Check, Mode::Check));
    }

    #[test]
    fn the_command_line_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn a_switch_records_1_and_a_bare_optional_value_the_empty_value() {
        let cli =
            Cli::parse_args(args(&["s", "--preserve-env", "--recursive", "--", "app"])).unwrap();
        assert_eq!(
            cli.given.os("SHORTCUT_ENV_PRESERVE_ENV"),
            Some(std::ffi::OsStr::new(""))
        );
        assert_eq!(
            cli.given.os("SHORTCUT_ENV_RECURSIVE"),
            Some(std::ffi::OsStr::new("1"))
        );
        assert!(!cli.given.has("SHORTCUT_ENV_TIMEOUT"));
        assert_eq!(cli.command, args(&["app"]));
    }

    #[test]
    fn every_setting_shows_its_variable_and_default_in_help() {
        let help = command().render_long_help().to_string();
        for setting in SETTINGS {
            assert!(help.contains(setting.flag), "{}", setting.flag);
            assert!(
                help.contains(&format!("[env: {}]", setting.var)),
                "{}",
                setting.var
            );
        }
    }

    #[test]
    fn a_repeatable_option_before_and_after_the_subcommand_keeps_both() {
        let cli = Cli::parse_args(args(&["s", "--map", "A=B", "check", "--map", "C=D"])).unwrap();
        assert_eq!(cli.given.all("SHORTCUT_ENV_MAP").unwrap(), ["A=B", "C=D"]);
    }

    #[test]
    fn a_flag_value_is_utf8_and_a_path_is_not_empty() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(b"A\xff".to_vec());
        let words = vec!["s".into(), "--require".into(), bad, "--".into(), "x".into()];
        assert_eq!(
            usage_error(&Cli::parse_args(words).unwrap_err()).kind(),
            "usage"
        );
        let error = Cli::parse_args(args(&["s", "--credentials-dir=", "--", "x"])).unwrap_err();
        assert_eq!(usage_error(&error).kind(), "usage");
        let path = OsString::from_vec(b"/tmp/\xff".to_vec());
        let words = vec![
            "s".into(),
            "--credentials-dir".into(),
            path.clone(),
            "check".into(),
        ];
        let cli = Cli::parse_args(words).unwrap();
        assert_eq!(
            cli.given.os("SHORTCUT_ENV_CREDENTIALS_DIR"),
            Some(path.as_os_str())
        );
    }
}
