//! The hostile-input and fault suites: hundreds of inputs that could plausibly break the wrapper
//! (control characters in every field it reads, protected names, malformed references, GCP keys,
//! settings, endpoint URLs, env files, commands) and the faults of everything it talks to
//! (every Secrets Manager error code, HTTP statuses, malformed answers, broken connections, a
//! broken container-credentials endpoint or credential_process).
//!
//! Every case is one line, a named `#[test]` (so `cargo test hostile::gcp_` runs a group), and
//! every case goes through the one checker, [`check`], which guarantees for each run of the
//! real binary:
//!
//! - the documented exit status (design.md's table);
//! - on failure, exactly one `shortcut-env: error:` line and one `hint:` line, every other
//!   stderr line being the wrapper's own (no forged lines); with JSON logs, every stderr line is
//!   a JSON object and exactly one is the error, with `error`, `exit_code` and `hint`;
//! - on failure, nothing exec'd: the command would have written a file, and there is none;
//! - on failure, no file left in the credentials directory or the temp dir (hidden ones too);
//! - no secret value in any output: every value carries [`MARKER`], and neither stdout nor
//!   stderr ever holds it (the command writes what it sees to a file, not to stdout);
//! - no raw control character on stderr (ESC, CR, C1 controls…) besides the line breaks;
//! - no panic, within a generous time bound that catches a hang;
//! - on success, the command saw exactly the expected values.
//!
//! The cases are written to the contract in design.md, not to what the code happens to do.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::endpoints::{CredentialsMode, closed_port};
use crate::support::*;

/// Catches a hang; not a performance assertion.
const BOUND: Duration = Duration::from_secs(40);

/// What a case must end with.
enum Expect {
    /// The wrapper fails with this status before running anything.
    Fail(i32),
    /// The command runs and sees these variables with exactly these values, and does not see
    /// the `hidden` names with the values the source gave them.
    Succeed {
        sees: Vec<(String, String)>,
        hidden: Vec<(String, String)>,
    },
}

/// One hostile run: the binary's arguments and environment, and what must come out.
struct Case {
    run: Run,
    expect: Expect,
    /// What stderr must hold (e.g. the option's name, `--`).
    needles: Vec<String>,
    /// The fault proxy every AWS case talks to (kept alive for the run).
    proxy: Option<Proxy>,
    /// The proxy must see no request at all: a configuration error is found before the network.
    offline: bool,
    /// The probe is the command (it records what it sees in `ran`); off for usage cases and
    /// custom commands.
    command: bool,
    /// The directory that must be empty or absent after a failure.
    creds: PathBuf,
    /// The file the command writes; must not exist after a failure.
    ran: PathBuf,
    /// Endpoints and other things that must live as long as the run.
    keep: Vec<Box<dyn std::any::Any>>,
}

impl Case {
    fn from_run(mut run: Run) -> Case {
        let creds = run.path("creds");
        // Where the probe (or a case's own command) records what the command saw.
        let ran = run.path("probe.env0");
        run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &creds);
        Case {
            run,
            expect: Expect::Fail(-1),
            needles: Vec::new(),
            proxy: None,
            offline: false,
            command: true,
            creds,
            ran,
            keep: Vec::new(),
        }
    }

    /// Fails with `code`; configuration and usage errors must come before any network call.
    fn fails(mut self, code: i32) -> Case {
        self.offline |= code == 64 || code == 78;
        self.expect = Expect::Fail(code);
        self
    }
    /// Fails with `code`, possibly after a network call (e.g. a region check that the
    /// contract lets the SDK make).
    fn fails_online(mut self, code: i32) -> Case {
        self.expect = Expect::Fail(code);
        self
    }
    /// Succeeds, and the command sees `name=value`.
    fn sees(mut self, name: &str, value: &str) -> Case {
        let entry = (name.to_string(), value.to_string());
        match &mut self.expect {
            Expect::Succeed { sees, .. } => sees.push(entry),
            other @ Expect::Fail(_) => {
                *other = Expect::Succeed {
                    sees: vec![entry],
                    hidden: Vec::new(),
                }
            }
        }
        self
    }
    /// Succeeds, and the command does not see `name` with the source's `value`.
    fn hides(mut self, name: &str, value: &str) -> Case {
        let entry = (name.to_string(), value.to_string());
        match &mut self.expect {
            Expect::Succeed { hidden, .. } => hidden.push(entry),
            other @ Expect::Fail(_) => {
                *other = Expect::Succeed {
                    sees: Vec::new(),
                    hidden: vec![entry],
                }
            }
        }
        self
    }
    /// Succeeds; what the command sees is not checked (e.g. an empty secret).
    fn runs(self) -> Case {
        self.hides("", "")
    }
    /// A failure that must come before any network call, whatever its status.
    fn offline(mut self) -> Case {
        self.offline = true;
        self
    }
    /// The directory that must be left empty, instead of the default credentials directory.
    fn creds(mut self, dir: PathBuf) -> Case {
        self.creds = dir;
        self
    }
    fn has(mut self, needle: &str) -> Case {
        self.needles.push(needle.to_string());
        self
    }
    fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Case {
        self.run.env(name, value);
        self
    }
    fn unset(mut self, name: &str) -> Case {
        self.run.unset(name);
        self
    }
    fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Case {
        self.run.arg(arg);
        self
    }
    /// JSON logs (`SHORTCUT_ENV_LOG_FORMAT=json`).
    fn json(self) -> Case {
        self.env("SHORTCUT_ENV_LOG_FORMAT", "json")
    }
    /// No marker command: the arguments are all there is.
    fn bare(mut self) -> Case {
        self.command = false;
        self
    }
    /// `-- PROGRAM ARGS…` instead of the marker command.
    fn exec(mut self, command: &[&str]) -> Case {
        self.command = false;
        self.run.command(command);
        self
    }
    /// The next request gets `fault`, then the proxy forwards to moto.
    fn then(self, fault: Fault) -> Case {
        self.proxy().then(fault);
        self
    }
    /// Every request gets `fault`.
    fn always(self, fault: Fault) -> Case {
        self.proxy().always(fault);
        self
    }
    fn proxy(&self) -> &Proxy {
        self.proxy.as_ref().expect("a proxy case")
    }
    fn keep(mut self, thing: impl std::any::Any) -> Case {
        self.keep.push(Box::new(thing));
        self
    }
    /// A file in the run's own directory, with `mode`.
    fn file(self, name: &str, content: &[u8], mode: u32) -> Case {
        let path = self.run.path(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        self
    }
    fn path(&self, name: &str) -> PathBuf {
        self.run.path(name)
    }
}

// ---- where a case comes from ------------------------------------------------------------

/// Production through a fresh fault proxy in front of moto, reading `secret`, with small
/// deadlines so that faults end fast.
fn through_proxy(secret: &str) -> Case {
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), secret);
    run.env("SHORTCUT_ENV_TIMEOUT", "2")
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "2")
        .env("SHORTCUT_ENV_INITIAL_BACKOFF", "0.01")
        .env("SHORTCUT_ENV_MAX_BACKOFF", "0.05");
    let mut case = Case::from_run(run);
    case.proxy = Some(proxy);
    case
}

/// A secret stored in moto holding `text`.
fn secret(text: &str) -> Case {
    through_proxy(&seed_text(text).name)
}

/// The guide's secret (every value carries the marker), for configuration and fault cases.
fn guide() -> Case {
    secret(&guide_secret())
}

/// A secret of one key whose value carries the marker, and an ordinary key.
fn key(name: &str) -> Case {
    secret(&serde_json::json!({ name: format!("{MARKER}-value"), "FINE": "fine" }).to_string())
}

/// A secret whose GOOGLE_APPLICATION_CREDENTIALS_JSON is `gcp`.
fn gcp(gcp: &str) -> Case {
    secret(&serde_json::json!({ "GOOGLE_APPLICATION_CREDENTIALS_JSON": gcp }).to_string())
}

/// A configuration case: the secret need not exist, since nothing may be fetched.
fn config() -> Case {
    through_proxy("short-cut/test/never-fetched")
}

/// A GetSecretValue answer from the proxy, for what moto will not store or send.
fn answer(body: &str) -> Case {
    config().always(Fault::Respond {
        status: 200,
        body: body.to_string(),
    })
}

/// A well-formed GetSecretValue answer with these members added.
fn answer_with(members: &str) -> Case {
    answer(&format!(
        r#"{{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:short-cut/test/app-AbCdEf","Name":"short-cut/test/app","VersionStages":["AWSCURRENT"],"CreatedDate":1.7E9{members}}}"#
    ))
}

/// Every request gets this Secrets Manager error.
fn sm_error(status: u16, code: &'static str, message: &'static str) -> Case {
    config().always(Fault::Error {
        status,
        code,
        message,
    })
}

/// Every request gets this status and body.
fn status(status: u16, body: &str) -> Case {
    config().always(Fault::Respond {
        status,
        body: body.to_string(),
    })
}

/// Local mode with this `.env` file.
fn dotenv(content: &str) -> Case {
    let run = Run::local();
    std::fs::write(run.path(".env"), content).unwrap();
    Case::from_run(run)
}

/// The guide's secret, read with credentials from a container-credentials endpoint answering
/// `status` and `body`.
fn container(status: u16, body: String) -> Case {
    let endpoint = CredentialsEndpoint::answering("t", status, body);
    let uri = endpoint.uri();
    guide()
        .unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "t")
        .keep(endpoint)
}

/// Container credentials with one field of a valid answer replaced by `value`.
fn container_field(field: &str, value: serde_json::Value) -> Case {
    let mut body = serde_json::json!({
        "AccessKeyId": "ASIATESTCONTAINER",
        "SecretAccessKey": format!("{MARKER}-container-secret"),
        "Token": format!("{MARKER}-container-token"),
        "Expiration": "2099-01-01T00:00:00Z",
    });
    body[field] = value;
    container(200, body.to_string())
}

/// Container credentials from an endpoint in `mode`.
fn container_mode(mode: CredentialsMode) -> Case {
    let endpoint = CredentialsEndpoint::start("t", mode);
    let uri = endpoint.uri();
    guide()
        .unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "t")
        .keep(endpoint)
}

/// Credentials from a `credential_process` script that runs `script` (sh).
fn process(script: &str) -> Case {
    let case = guide()
        .unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY");
    let helper = case.path("credential-process");
    let case = case.file(
        "credential-process",
        format!("#!/bin/sh\n{script}\n").as_bytes(),
        0o755,
    );
    let config = case.path("aws-config");
    std::fs::write(
        &config,
        format!("[default]\ncredential_process = {}\n", helper.display()),
    )
    .unwrap();
    case.env("AWS_CONFIG_FILE", config)
}

/// credential_process printing this JSON object.
fn process_json(json: serde_json::Value) -> Case {
    process(&format!("cat <<'JSON'\n{json}\nJSON"))
}

/// credential_process output with one field replaced by `value`.
fn process_field(field: &str, value: serde_json::Value) -> Case {
    let mut json = serde_json::json!({
        "Version": 1,
        "AccessKeyId": "AKIATESTPROCESS",
        "SecretAccessKey": format!("{MARKER}-process-secret"),
        "SessionToken": format!("{MARKER}-process-token"),
        "Expiration": "2099-01-01T00:00:00Z",
    });
    json[field] = value;
    process_json(json)
}

// ---- the checker ------------------------------------------------------------------------

/// Runs `case` and asserts everything the module doc promises: the builder's expectations
/// (status, messages, no call, the time bound) and its invariants (no panic, no value, one
/// error and one hint line, only the wrapper's own escaped lines, JSON lines), then what is
/// particular to this suite (nothing exec'd or left on disk after a failure; exactly the
/// expected values after a success).
fn check(mut case: Case) {
    if case.command {
        case.run.probe();
    }
    case.run.within(BOUND);
    for needle in &case.needles {
        case.run.stderr_has(needle);
    }
    match &case.expect {
        Expect::Fail(code) => {
            case.run.fails(*code);
            if case.offline
                && let Some(proxy) = &case.proxy
            {
                case.run.via(proxy).offline();
            }
        }
        Expect::Succeed { .. } => {
            case.run.code(0);
        }
    }
    let outcome = case.run.run();
    let stderr = &outcome.stderr;
    match &case.expect {
        Expect::Fail(_) => {
            assert!(!case.ran.exists(), "the command ran despite the failure");
            assert_empty(&case.creds, "the credentials directory");
            assert_empty(&case.run.path("tmp"), "the temp dir");
        }
        Expect::Succeed { sees, hidden } => {
            assert!(
                outcome.stdout.is_empty(),
                "the wrapper printed on stdout:\n{}",
                outcome.stdout
            );
            let seen = std::fs::read(&case.ran)
                .unwrap_or_else(|e| panic!("the command did not run ({e}); stderr:\n{stderr}"));
            let seen = expect::env0(&seen);
            for (name, value) in sees {
                assert_eq!(
                    seen.get(name).map(String::as_str),
                    Some(value.as_str()),
                    "the command must see {name}; stderr:\n{stderr}"
                );
            }
            for (name, value) in hidden {
                assert_ne!(
                    seen.get(name).map(String::as_str),
                    Some(value.as_str()),
                    "the command must not see {name} from the source; stderr:\n{stderr}"
                );
            }
        }
    }
}

/// `dir` is absent, or holds nothing (hidden files included).
#[track_caller]
fn assert_empty(dir: &Path, what: &str) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        // The directory's salt (it names the key files, holds no secret) may stay; no key may.
        let left: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| !p.ends_with(".shortcut-env-salt"))
            .collect();
        assert!(left.is_empty(), "files left in {what}: {left:?}");
    }
}

/// Named cases: `name: expression;`, each a `#[test]` that runs the checker on it.
macro_rules! cases {
    ($($name:ident: $case:expr;)+) => {
        $(
            #[test]
            fn $name() {
                check($case);
            }
        )+
    };
}

/// One group per line: a module of 33 named tests, `x01`…`x1f` and `x7f`, one per ASCII control
/// character, `$c` being that character in `$case`.
macro_rules! controls {
    ($($group:ident: |$c:ident| $case:expr;)+) => {
        $(
            mod $group {
                use super::*;
                controls!(@each $c, $case;
                    x01 '\x01', x02 '\x02', x03 '\x03', x04 '\x04', x05 '\x05', x06 '\x06',
                    x07 '\x07', x08 '\x08', x09 '\x09', x0a '\x0a', x0b '\x0b', x0c '\x0c',
                    x0d '\x0d', x0e '\x0e', x0f '\x0f', x10 '\x10', x11 '\x11', x12 '\x12',
                    x13 '\x13', x14 '\x14', x15 '\x15', x16 '\x16', x17 '\x17', x18 '\x18',
                    x19 '\x19', x1a '\x1a', x1b '\x1b', x1c '\x1c', x1d '\x1d', x1e '\x1e',
                    x1f '\x1f', x7f '\x7f');
            }
        )+
    };
    (@each $c:ident, $case:expr; $($test:ident $char:literal),+) => {
        $(
            #[test]
            fn $test() {
                let $c: char = $char;
                check($case);
            }
        )+
    };
}

/// `TEXT` with `c` in the middle, so that no trimming can remove it.
fn with(text: &str, c: char) -> String {
    let (head, tail) = text.split_at(text.len() / 2);
    format!("{head}{c}{tail}")
}

// ---- inputs: every control character in every field -------------------------------------

controls! {
    ctl_key: |c| key(&with("MY_KEY", c)).fails_online(65);
    ctl_app_env: |c| config().env("APP_ENV", with("production", c)).fails(78);
    ctl_region: |c| config().env("AWS_REGION", with("us-east-1", c)).fails(78);
    ctl_secret_name: |c| config().env("SECRET_NAME", with("short-cut/prod/app", c)).fails(78);
    ctl_version_stage: |c| config().env("SECRET_VERSION_STAGE", with("AWSCURRENT", c)).fails(78);
    ctl_version_id: |c| config()
        .env("SECRET_VERSION_ID", with("01234567-89ab-cdef-0123-456789abcdef", c))
        .fails(78);
    ctl_access_key_id: |c| guide().env("AWS_ACCESS_KEY_ID", with("AKIAIOSFODNN7EXAMPLE", c)).fails(77);
    ctl_secret_access_key: |c| guide()
        .env("AWS_SECRET_ACCESS_KEY", with(&format!("{MARKER}-wJalrXUtnFEMI"), c))
        .fails(77);
    ctl_session_token: |c| guide()
        .env("AWS_SESSION_TOKEN", with(&format!("{MARKER}-FwoGZXIvYXdzE"), c))
        .fails(77);
    ctl_endpoint_url: |c| {
        let case = config();
        let url = with(&case.proxy().url(), c);
        case.env("AWS_ENDPOINT_URL", url).fails(78)
    };
    ctl_endpoint_url_sm: |c| {
        let case = config();
        let url = with(&case.proxy().url(), c);
        case.env("AWS_ENDPOINT_URL_SECRETS_MANAGER", url).fails(78)
    };
}

// ---- inputs: protected names as secret keys ----------------------------------------------

/// A secret key with a protected name is skipped with a warning naming it: the command does
/// not see the secret's value, and the rest of the secret still arrives.
fn protected(name: &str) -> Case {
    key(name)
        .hides(name, &format!("{MARKER}-value"))
        .sees("FINE", "fine")
        .has(name)
        .has("skipped protected names")
}

/// An ordinary key that only looks like a protected one reaches the command.
fn ordinary(name: &str) -> Case {
    key(name)
        .sees(name, &format!("{MARKER}-value"))
        .sees("FINE", "fine")
}

/// `--allow-key NAME` lets the secret set a protected name.
fn allowed(name: &str) -> Case {
    key(name)
        .arg("--allow-key")
        .arg(name)
        .sees(name, &format!("{MARKER}-value"))
}

cases! {
    protected_path: protected("PATH");
    protected_home: protected("HOME");
    protected_user: protected("USER");
    protected_shell: protected("SHELL");
    protected_pwd: protected("PWD");
    protected_tmpdir: protected("TMPDIR");
    protected_ld_preload: protected("LD_PRELOAD");
    protected_ld_library_path: protected("LD_LIBRARY_PATH");
    protected_ld_audit: protected("LD_AUDIT");
    protected_app_env: protected("APP_ENV");
    protected_aws_access_key_id: protected("AWS_ACCESS_KEY_ID");
    protected_aws_region: protected("AWS_REGION");
    protected_aws_endpoint_url: protected("AWS_ENDPOINT_URL");
    protected_aws_container_uri: protected("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    protected_aws_web_identity: protected("AWS_WEB_IDENTITY_TOKEN_FILE");
    protected_secret_name: protected("SECRET_NAME");
    protected_secret_version_stage: protected("SECRET_VERSION_STAGE");
    protected_secret_version_id: protected("SECRET_VERSION_ID");
    protected_shortcut_env_timeout: protected("SHORTCUT_ENV_TIMEOUT");
    protected_shortcut_env_credentials_dir: protected("SHORTCUT_ENV_CREDENTIALS_DIR");
    protected_google_application_credentials: protected("GOOGLE_APPLICATION_CREDENTIALS");
    protected_bash_env: protected("BASH_ENV");
    protected_env: protected("ENV");
    protected_shellopts: protected("SHELLOPTS");
    protected_ps4: protected("PS4");
    protected_pythonpath: protected("PYTHONPATH");
    protected_pythonhome: protected("PYTHONHOME");
    protected_pythonstartup: protected("PYTHONSTARTUP");
    protected_pythonwarnings: protected("PYTHONWARNINGS");
    protected_browser: protected("BROWSER");
    protected_node_options: protected("NODE_OPTIONS");
    protected_node_path: protected("NODE_PATH");
    protected_perl5opt: protected("PERL5OPT");
    protected_perl5lib: protected("PERL5LIB");
    protected_rubyopt: protected("RUBYOPT");
    protected_rubylib: protected("RUBYLIB");
    protected_java_tool_options: protected("JAVA_TOOL_OPTIONS");
    protected_java_options: protected("_JAVA_OPTIONS");
    protected_jdk_java_options: protected("JDK_JAVA_OPTIONS");
    protected_gconv_path: protected("GCONV_PATH");
    protected_glibc_tunables: protected("GLIBC_TUNABLES");
    protected_locpath: protected("LOCPATH");
    protected_hostaliases: protected("HOSTALIASES");
    protected_ssl_cert_file: protected("SSL_CERT_FILE");
    protected_ssl_cert_dir: protected("SSL_CERT_DIR");
    protected_aws_ca_bundle: protected("AWS_CA_BUNDLE");
    protected_requests_ca_bundle: protected("REQUESTS_CA_BUNDLE");
    protected_curl_ca_bundle: protected("CURL_CA_BUNDLE");
    protected_node_extra_ca_certs: protected("NODE_EXTRA_CA_CERTS");
    protected_http_proxy: protected("HTTP_PROXY");
    protected_http_proxy_lower: protected("http_proxy");
    protected_https_proxy: protected("HTTPS_PROXY");
    protected_https_proxy_lower: protected("https_proxy");
    protected_no_proxy: protected("NO_PROXY");
    protected_no_proxy_lower: protected("no_proxy");
    protected_all_proxy: protected("ALL_PROXY");
    protected_all_proxy_lower: protected("all_proxy");
    protected_json_log: protected("LD_PRELOAD").json();

    ordinary_secret_key: ordinary("SECRET_KEY");
    ordinary_secret_token: ordinary("SECRET_TOKEN");
    ordinary_secret: ordinary("SECRET");
    ordinary_secret_name_2: ordinary("SECRET_NAME_2");
    ordinary_my_path: ordinary("MY_PATH");
    ordinary_home_url: ordinary("HOME_URL");
    ordinary_env_name: ordinary("ENV_NAME");
    ordinary_path_lower: ordinary("path");

    allowed_tmpdir: allowed("TMPDIR");
    allowed_pythonpath: allowed("PYTHONPATH");
    allowed_https_proxy: allowed("HTTPS_PROXY");
    allowed_node_options: allowed("NODE_OPTIONS");
}

// ---- inputs: the secret's data -----------------------------------------------------------

/// A secret `{"N": LITERAL}`: the command sees `N` exactly as `expected`.
fn number(literal: &str, expected: &str) -> Case {
    secret(&format!(r#"{{"N":{literal},"M":"{MARKER}"}}"#)).sees("N", expected)
}

/// A secret that is not a JSON object of keys.
fn not_object(text: &str) -> Case {
    secret(text).fails_online(65)
}

/// The pasted-value shape: a long key holding the marker far from its start.
fn pasted_key(padding: usize) -> Case {
    key(&format!("sk-{}{MARKER}", "x".repeat(padding))).fails_online(65)
}

fn nested(depth: usize) -> String {
    format!(
        "{}\"{MARKER}\"{}",
        "{\"a\":".repeat(depth),
        "}".repeat(depth)
    )
}

/// `{"my-key": …, "OK": …}`: one bad key, one good one.
fn bad_and_good() -> Case {
    secret(&format!(
        r#"{{"my-key":"{MARKER}-bad","OK":"{MARKER}-ok"}}"#
    ))
}

cases! {
    number_decimal_zero: number("0.10", "0.10");
    number_exponent: number("1e3", "1e3");
    number_exponent_upper: number("1E3", "1E3");
    number_negative_exponent: number("-1.5e-7", "-1.5e-7");
    number_30_digits: number("123456789012345678901234567890", "123456789012345678901234567890");
    number_one_point_zero: number("1.0", "1.0");
    number_negative_zero: number("-0", "-0");
    number_max_u64_plus_one: number("18446744073709551616", "18446744073709551616");
    number_int: number("19530", "19530");
    bool_true: number("true", "true");
    bool_false: number("false", "false");
    nested_object_compact: number(r#"{ "a" : [ 1 , 2 ] }"#, r#"{"a":[1,2]}"#);
    nested_array_compact: number(r#"[ "x" , null ]"#, r#"["x",null]"#);
    null_value_skipped: secret(&format!(r#"{{"N":null,"M":"{MARKER}"}}"#)).hides("N", "null").has("N");

    object_empty: secret("{}").runs().has("has no keys");
    object_plain_text: not_object(&format!("{MARKER} plain text")).has("not valid JSON");
    object_array: not_object(&format!(r#"["{MARKER}"]"#)).has("a JSON array");
    object_number: not_object("19530").has("a JSON number");
    object_string: not_object(&format!(r#""{MARKER}""#)).has("a JSON string");
    object_null: not_object("null").has("JSON null");
    object_true: not_object("true");
    object_whitespace: not_object(" \n\t ").has("empty");
    object_trailing_text: not_object(&format!(r#"{{"A":"1"}} {MARKER}"#)).has("not valid JSON");
    object_two_objects: not_object(&format!(r#"{{"A":"1"}}{{"B":"{MARKER}"}}"#));
    object_bom: not_object(&format!("\u{feff}{{\"A\":\"{MARKER}\"}}")).has("not valid JSON");
    object_nested_10000: not_object(&nested(10_000)).has("not valid JSON");
    object_number_out_of_range: not_object(r#"{"A":1e400}"#);
    object_lone_surrogate: not_object(&format!(r#"{{"A":"{MARKER}\ud800"}}"#));
    object_unterminated: not_object(&format!(r#"{{"A":"{MARKER}"#));
    object_single_quotes: not_object(&format!("{{'A':'{MARKER}'}}"));
    object_trailing_comma: not_object(&format!(r#"{{"A":"{MARKER}",}}"#));
    object_comment: not_object(&format!("{{\"A\":\"{MARKER}\" // note\n}}"));
    object_value_nul: not_object(&format!(r#"{{"A":"{MARKER}\u0000x"}}"#)).has("value of key A").has("NUL byte");
    object_empty_string: answer_with(r#","SecretString":"""#).fails_online(65).has("the secret string is empty");
    object_no_value: answer_with("").fails_online(65).has("the secret has no value");
    object_binary: answer_with(r#","SecretBinary":"TEVBS01BUktFUgABAv8=""#).fails_online(65).has("binary");

    key_leading_digit: key("1ABC").fails_online(65).has("1ABC").has(r#"key "1ABC""#);
    key_dash: key("A-B").fails_online(65).has("A-B").has(r#"key "A-B""#);
    key_equals: key("A=B").fails_online(65).has(r#"key "A=B""#);
    key_empty: key("").fails_online(65).has(r#"key """#);
    key_space: key("A B").fails_online(65).has(r#"key "A B""#);
    key_dot: key("A.B").fails_online(65);
    key_dollar: key("$A").fails_online(65);
    key_semicolon: key("A;rm").fails_online(65);
    key_backtick: key("A`id`").fails_online(65);
    key_slash: key("../A").fails_online(65);
    key_umlaut: key("ÄÖ").fails_online(65).has(r#"key "ÄÖ""#);
    key_emoji: key("KEY_😀").fails_online(65);
    key_nul: key("A\0B").fails_online(65).has("is not a valid environment variable");
    key_cyrillic_a: key("\u{410}PI_KEY").fails_online(65);
    key_fullwidth: key("ＰＡＴＨ").fails_online(65);
    key_zero_width_space: key("API\u{200b}_KEY").fails_online(65);
    key_nbsp: key("API\u{a0}KEY").fails_online(65);
    key_line_separator: key("API\u{2028}KEY").fails_online(65);
    key_rtl_override: key("API\u{202e}YEK").fails_online(65);
    key_c1_csi: key("API\u{9b}31m").fails_online(65);
    key_combining: key("A\u{301}").fails_online(65);
    key_pasted_1k: pasted_key(1_000);
    key_pasted_60k: pasted_key(60_000);
    key_json_log: key("A-B").fails_online(65).json();

    dup_plain: secret(&format!(r#"{{"A":"{MARKER}1","A":"{MARKER}2"}}"#)).fails_online(65).has("A").has("key A appears more than once");
    dup_escaped: secret(&format!(r#"{{"A":"{MARKER}1","\u0041":"{MARKER}2"}}"#)).fails_online(65);
    dup_with_null: secret(&format!(r#"{{"A":null,"A":"{MARKER}"}}"#)).fails_online(65);
    dup_same_value: secret(&format!(r#"{{"A":"{MARKER}","A":"{MARKER}"}}"#)).fails_online(65);
    dup_json_key_ref: {
        let seeded = seed_text(&format!(r#"{{"A":"{MARKER}1","A":"{MARKER}2"}}"#));
        config().env("SECRET_NAME", format!("{}:A", seeded.name)).fails_online(65).has("key A appears more than once")
    };
    dup_var_json_key_ref: {
        let seeded = seed_text(&format!(r#"{{"A":"{MARKER}1","A":"{MARKER}2","B":"x"}}"#));
        config().env("SECRET_NAME", format!("V={}:B", seeded.name)).fails_online(65).has("more than once")
    };
    dup_gcp_type: gcp(r#"{"type":"service_account","type":"authorized_user","project_id":"p"}"#).fails_online(65).has(r#"its "type" member appears more than once"#);

    select_no_selection_fails: bad_and_good().fails_online(65).has("my-key");
    select_exclude_env: bad_and_good().env("SHORTCUT_ENV_EXCLUDE", "my-key").sees("OK", &format!("{MARKER}-ok"));
    select_exclude_flag: bad_and_good().arg("--exclude").arg("my-key").sees("OK", &format!("{MARKER}-ok")).has("loaded 1 key");
    select_exclude_glob: bad_and_good().arg("--exclude").arg("*-*").sees("OK", &format!("{MARKER}-ok"));
    select_only: bad_and_good().env("SHORTCUT_ENV_ONLY", "OK").sees("OK", &format!("{MARKER}-ok"));
    select_map: bad_and_good().env("SHORTCUT_ENV_MAP", "my-key=MY_KEY").sees("MY_KEY", &format!("{MARKER}-bad"));
    select_json_key: {
        let seeded = seed_text(&format!(r#"{{"my-key":"{MARKER}-bad","OK":"{MARKER}-ok"}}"#));
        config().env("SECRET_NAME", format!("V={}:OK", seeded.name)).sees("V", &format!("{MARKER}-ok"))
    };
    select_prefix_keeps_bad: bad_and_good().env("SHORTCUT_ENV_PREFIX", "APP_").fails_online(65);
}

// ---- inputs: the GCP key ------------------------------------------------------------------

cases! {
    gcp_not_json: gcp(&format!("{MARKER} not json")).fails_online(65).has("GOOGLE_APPLICATION_CREDENTIALS_JSON is unusable: not valid JSON");
    gcp_array: gcp(&format!(r#"["{MARKER}"]"#)).fails_online(65).has("not a JSON object");
    gcp_string: gcp(&format!(r#""{MARKER}""#)).fails_online(65);
    gcp_number: gcp("42").fails_online(65);
    gcp_null: gcp("null").fails_online(65);
    gcp_true: gcp("true").fails_online(65);
    gcp_empty: gcp("").fails_online(65);
    gcp_empty_object: gcp("{}").fails_online(65);
    gcp_no_type: gcp(&format!(r#"{{"private_key":"{MARKER}"}}"#)).fails_online(65).has(r#"no "type" field"#);
    gcp_type_number: gcp(&format!(r#"{{"type":1,"private_key":"{MARKER}"}}"#)).fails_online(65).has(r#""type" field is not a non-empty string"#);
    gcp_type_empty: gcp(&format!(r#"{{"type":"","private_key":"{MARKER}"}}"#)).fails_online(65);
    gcp_type_null: gcp(&format!(r#"{{"type":null,"private_key":"{MARKER}"}}"#)).fails_online(65);
    gcp_type_array: gcp(&format!(r#"{{"type":["service_account"],"private_key":"{MARKER}"}}"#)).fails_online(65);
    gcp_truncated: gcp(&format!(r#"{{"type":"service_account","private_key":"{MARKER}"#)).fails_online(65);
    gcp_trailing_text: gcp(&format!(r#"{{"type":"service_account"}} {MARKER}"#)).fails_online(65);
    gcp_bom: gcp(&format!("\u{feff}{{\"type\":\"service_account\",\"k\":\"{MARKER}\"}}")).fails_online(65);
    gcp_nested_deep: gcp(&nested(5_000)).fails_online(65);
    gcp_over_64k: gcp(&format!(r#"{{"type":"service_account","pad":"{}{MARKER}"}}"#, "a".repeat(70_000))).fails_online(65).has("more than the 65536 bytes");
    gcp_single_quotes: gcp(&format!("{{'type':'service_account','k':'{MARKER}'}}")).fails_online(65);
    gcp_json_log: gcp(&format!("{MARKER} not json")).fails_online(65).json();
}

// ---- inputs: settings, regions, references, endpoints ------------------------------------

/// `NAME=VALUE` is refused as a configuration error, before any network call, naming `NAME`.
fn setting(name: &str, value: &str) -> Case {
    config().env(name, value).fails(78).has(name)
}

/// `--FLAG=VALUE` is refused, and the message names the flag the user actually typed.
fn flag(flag: &str, value: &str) -> Case {
    config().arg(format!("{flag}={value}")).fails(78).has(flag)
}

/// A secret reference (SECRET_NAME) that is refused at once.
fn reference(text: &str) -> Case {
    config().env("SECRET_NAME", text).fails(78)
}

/// An endpoint variable holding `url`, with `PORT` replaced by the proxy's port.
fn endpoint(variable: &str, url: &str) -> Case {
    let case = config();
    let url = url.replace("PORT", &case.proxy().port.to_string());
    case.env(variable, url).fails(78)
}

/// The guide's secret from moto, read through its ARN.
fn by_arn() -> (Case, Seeded) {
    let seeded = seed_text(&guide_secret());
    let case = through_proxy(&seeded.arn);
    (case, seeded)
}

cases! {
    setting_timeout_zero: setting("SHORTCUT_ENV_TIMEOUT", "0");
    setting_timeout_negative: setting("SHORTCUT_ENV_TIMEOUT", "-1");
    setting_timeout_negative_zero: setting("SHORTCUT_ENV_TIMEOUT", "-0");
    setting_timeout_nan: setting("SHORTCUT_ENV_TIMEOUT", "NaN");
    setting_timeout_inf: setting("SHORTCUT_ENV_TIMEOUT", "inf");
    setting_timeout_overflow: setting("SHORTCUT_ENV_TIMEOUT", "1e309");
    setting_timeout_underflow: setting("SHORTCUT_ENV_TIMEOUT", "1e-400");
    setting_timeout_over_an_hour: setting("SHORTCUT_ENV_TIMEOUT", "3601");
    setting_timeout_word: setting("SHORTCUT_ENV_TIMEOUT", "abc");
    setting_timeout_unit: setting("SHORTCUT_ENV_TIMEOUT", "5s");
    setting_timeout_hex: setting("SHORTCUT_ENV_TIMEOUT", "0x10");
    setting_timeout_comma: setting("SHORTCUT_ENV_TIMEOUT", "1,5");
    setting_timeout_400_digits: setting("SHORTCUT_ENV_TIMEOUT", &format!("1{}", "0".repeat(400)));
    setting_initial_backoff_zero: setting("SHORTCUT_ENV_INITIAL_BACKOFF", "0");
    setting_initial_backoff_negative: setting("SHORTCUT_ENV_INITIAL_BACKOFF", "-1");
    setting_initial_backoff_nan: setting("SHORTCUT_ENV_INITIAL_BACKOFF", "NaN");
    setting_initial_backoff_inf: setting("SHORTCUT_ENV_INITIAL_BACKOFF", "inf");
    setting_initial_backoff_overflow: setting("SHORTCUT_ENV_INITIAL_BACKOFF", "1e309");
    setting_initial_backoff_over_an_hour: setting("SHORTCUT_ENV_INITIAL_BACKOFF", "3601");
    setting_initial_backoff_word: setting("SHORTCUT_ENV_INITIAL_BACKOFF", "abc");
    setting_initial_backoff_unit: setting("SHORTCUT_ENV_INITIAL_BACKOFF", "2s");
    setting_initial_backoff_hex: setting("SHORTCUT_ENV_INITIAL_BACKOFF", "0x10");
    setting_initial_backoff_comma: setting("SHORTCUT_ENV_INITIAL_BACKOFF", "0,5");
    setting_max_backoff_zero: setting("SHORTCUT_ENV_MAX_BACKOFF", "0");
    setting_max_backoff_negative: setting("SHORTCUT_ENV_MAX_BACKOFF", "-1");
    setting_max_backoff_nan: setting("SHORTCUT_ENV_MAX_BACKOFF", "NaN");
    setting_max_backoff_inf: setting("SHORTCUT_ENV_MAX_BACKOFF", "inf");
    setting_max_backoff_overflow: setting("SHORTCUT_ENV_MAX_BACKOFF", "1e309");
    setting_max_backoff_over_an_hour: setting("SHORTCUT_ENV_MAX_BACKOFF", "3601");
    setting_max_backoff_word: setting("SHORTCUT_ENV_MAX_BACKOFF", "abc");
    setting_max_backoff_unit: setting("SHORTCUT_ENV_MAX_BACKOFF", "20s");
    setting_max_backoff_hex: setting("SHORTCUT_ENV_MAX_BACKOFF", "0x10");
    setting_max_backoff_comma: setting("SHORTCUT_ENV_MAX_BACKOFF", "1,5");
    setting_connect_timeout_zero: setting("SHORTCUT_ENV_CONNECT_TIMEOUT", "0");
    setting_connect_timeout_negative: setting("SHORTCUT_ENV_CONNECT_TIMEOUT", "-1");
    setting_connect_timeout_nan: setting("SHORTCUT_ENV_CONNECT_TIMEOUT", "NaN");
    setting_connect_timeout_inf: setting("SHORTCUT_ENV_CONNECT_TIMEOUT", "inf");
    setting_connect_timeout_overflow: setting("SHORTCUT_ENV_CONNECT_TIMEOUT", "1e309");
    setting_connect_timeout_over_an_hour: setting("SHORTCUT_ENV_CONNECT_TIMEOUT", "3601");
    setting_connect_timeout_word: setting("SHORTCUT_ENV_CONNECT_TIMEOUT", "abc");
    setting_connect_timeout_unit: setting("SHORTCUT_ENV_CONNECT_TIMEOUT", "2s");
    setting_connect_timeout_hex: setting("SHORTCUT_ENV_CONNECT_TIMEOUT", "0x10");
    setting_connect_timeout_comma: setting("SHORTCUT_ENV_CONNECT_TIMEOUT", "0,5");
    setting_max_attempts_zero: setting("SHORTCUT_ENV_MAX_ATTEMPTS", "0");
    setting_max_attempts_21: setting("SHORTCUT_ENV_MAX_ATTEMPTS", "21");
    setting_max_attempts_negative: setting("SHORTCUT_ENV_MAX_ATTEMPTS", "-1");
    setting_max_attempts_fraction: setting("SHORTCUT_ENV_MAX_ATTEMPTS", "1.5");
    setting_max_attempts_word: setting("SHORTCUT_ENV_MAX_ATTEMPTS", "three");
    setting_max_attempts_20_digits: setting("SHORTCUT_ENV_MAX_ATTEMPTS", "99999999999999999999");
    setting_max_attempts_hex: setting("SHORTCUT_ENV_MAX_ATTEMPTS", "0x3");
    setting_max_attempts_exponent: setting("SHORTCUT_ENV_MAX_ATTEMPTS", "1e1");
    setting_max_attempts_double_sign: setting("SHORTCUT_ENV_MAX_ATTEMPTS", "+-1");
    setting_max_attempts_arabic_digit: setting("SHORTCUT_ENV_MAX_ATTEMPTS", "\u{663}");
    setting_max_attempts_fullwidth_digit: setting("SHORTCUT_ENV_MAX_ATTEMPTS", "\u{ff13}");
    setting_retry_mode_legacy: setting("SHORTCUT_ENV_RETRY_MODE", "legacy");
    setting_retry_mode_exponential: setting("SHORTCUT_ENV_RETRY_MODE", "exponential");
    setting_retry_mode_both: setting("SHORTCUT_ENV_RETRY_MODE", "standard,adaptive");
    setting_log_format_xml: setting("SHORTCUT_ENV_LOG_FORMAT", "xml");
    setting_log_format_both: setting("SHORTCUT_ENV_LOG_FORMAT", "text,json");
    setting_preserve_env_sentence: setting("SHORTCUT_ENV_PRESERVE_ENV", "perhaps not");
    setting_prefix_digit: setting("SHORTCUT_ENV_PREFIX", "1_");
    setting_prefix_dash: setting("SHORTCUT_ENV_PREFIX", "APP-");
    setting_only_bad_glob: setting("SHORTCUT_ENV_ONLY", "[");
    setting_exclude_bad_glob: setting("SHORTCUT_ENV_EXCLUDE", "A[");
    setting_map_no_equals: setting("SHORTCUT_ENV_MAP", "A");
    setting_map_bad_target: setting("SHORTCUT_ENV_MAP", "A=1X");
    setting_map_protected_target: setting("SHORTCUT_ENV_MAP", "A=LD_PRELOAD");
    setting_files_bad_target: setting("SHORTCUT_ENV_FILES", "A=B-C");
    setting_json_log: setting("SHORTCUT_ENV_TIMEOUT", "0").json();

    flag_timeout: flag("--timeout", "0");
    flag_max_attempts: flag("--max-attempts", "0");
    flag_initial_backoff: flag("--initial-backoff", "-1");
    flag_max_backoff: flag("--max-backoff", "inf");
    flag_connect_timeout: flag("--connect-timeout", "abc");
    flag_retry_mode: flag("--retry-mode", "legacy");
    flag_prefix: flag("--prefix", "1_");
    flag_region: flag("--region", "US-EAST-1");
    flag_app_env: flag("--app-env", "prodution");

    app_env_missing: config().unset("APP_ENV").fails(78).has("APP_ENV");
    app_env_empty: config().env("APP_ENV", "").fails(78);
    app_env_typo: config().env("APP_ENV", "prodution").fails(78);
    app_env_unknown: config().env("APP_ENV", "qa").fails(78);
    app_env_space: config().env("APP_ENV", "prod uction").fails(78);
    app_env_cyrillic_o: config().env("APP_ENV", "pr\u{43e}d").fails(78);
    app_env_cedilla: config().env("APP_ENV", "produ\u{e7}tion").fails(78);
    app_env_zero_width: config().env("APP_ENV", "prod\u{200b}").fails(78);
    app_env_100k: config().env("APP_ENV", "p".repeat(100_000)).fails(78);
    app_env_json_log: config().env("APP_ENV", "qa").fails(78).json();

    region_upper: config().env("AWS_REGION", "US-EAST-1").fails(78);
    region_zone: config().env("AWS_REGION", "us-east-1a").fails(78);
    region_underscores: config().env("AWS_REGION", "us_east_1").fails(78);
    region_no_dashes: config().env("AWS_REGION", "useast1").fails(78);
    region_no_number: config().env("AWS_REGION", "us-east-").fails(78);
    region_cyrillic_e: config().env("AWS_REGION", "us-\u{435}ast-1").fails(78);
    region_100k: config().env("AWS_REGION", "u".repeat(100_000)).fails(78);
    region_empty: config().env("AWS_REGION", "").fails(78);
    region_default_malformed: config().unset("AWS_REGION").env("AWS_DEFAULT_REGION", "US-EAST-1").fails(78);
    region_default_used: guide().unset("AWS_REGION").env("AWS_DEFAULT_REGION", REGION).sees("MILVUS_HOST", "milvus.internal");
    region_arn_wins: { let (case, _) = by_arn(); case.env("AWS_REGION", "eu-west-1").sees("MILVUS_HOST", "milvus.internal") };
    region_arn_without_region: { let (case, _) = by_arn(); case.unset("AWS_REGION").sees("MILVUS_HOST", "milvus.internal") };

    arn_truncated: reference("arn:aws:secretsmanager");
    arn_empty_name: reference("arn:aws:secretsmanager:us-east-1:123456789012:secret:");
    arn_upper_region: reference("arn:aws:secretsmanager:US-EAST-1:123456789012:secret:app-AbCdEf");
    arn_empty_region: reference("arn:aws:secretsmanager::123456789012:secret:app-AbCdEf");
    arn_zone_region: reference("arn:aws:secretsmanager:us-east-1a:123456789012:secret:app-AbCdEf");
    arn_short_account: reference("arn:aws:secretsmanager:us-east-1:12345:secret:app-AbCdEf");
    arn_letter_account: reference("arn:aws:secretsmanager:us-east-1:12345678901a:secret:app-AbCdEf");
    arn_empty_partition: reference("arn::secretsmanager:us-east-1:123456789012:secret:app-AbCdEf");
    arn_other_service: reference("arn:aws:s3:::bucket/key");
    arn_wrong_resource: reference("arn:aws:secretsmanager:us-east-1:123456789012:parameter/app");
    arn_too_many_fields: reference("arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf:K:AWSCURRENT:ID:EXTRA");
    ref_empty_var: reference("=short-cut/prod/app");
    ref_digit_var: reference("1VAR=short-cut/prod/app");
    ref_dash_var: reference("VAR-X=short-cut/prod/app");
    ref_var_only: reference("VAR=");
    ref_too_many_fields: reference("short-cut/prod/app:KEY:AWSCURRENT:ID:EXTRA");
    ref_only_commas: reference(",");
    ref_spaces_and_commas: reference(" , ");
    ref_whitespace: reference("   ");
    ref_space_in_name: reference("short-cut/prod app");
    ref_zero_width: reference("short-cut/prod/app\u{200b}x");
    ref_umlaut: reference("short-cut/pr\u{f6}d/app");
    ref_quote: reference("short-cut/prod/app\"");
    ref_600_chars: reference(&"a".repeat(600));
    ref_100k: reference(&"a".repeat(100_000));
    ref_json_log: reference("1VAR=short-cut/prod/app").json();

    endpoint_no_scheme: endpoint("AWS_ENDPOINT_URL", "127.0.0.1:PORT");
    endpoint_not_a_url: endpoint("AWS_ENDPOINT_URL", "not a url");
    endpoint_port_too_big: endpoint("AWS_ENDPOINT_URL", "http://127.0.0.1:99999");
    endpoint_port_word: endpoint("AWS_ENDPOINT_URL", "http://127.0.0.1:port");
    endpoint_ftp: endpoint("AWS_ENDPOINT_URL", "ftp://127.0.0.1:PORT");
    endpoint_file: endpoint("AWS_ENDPOINT_URL", "file:///etc/passwd");
    endpoint_scheme_only: endpoint("AWS_ENDPOINT_URL", "http://");
    endpoint_no_scheme_name: endpoint("AWS_ENDPOINT_URL", "://127.0.0.1:PORT");
    endpoint_space_in_host: endpoint("AWS_ENDPOINT_URL", "http://127.0.0 .1:PORT");
    endpoint_open_bracket: endpoint("AWS_ENDPOINT_URL", "http://[::1:PORT");
    endpoint_unix: endpoint("AWS_ENDPOINT_URL", "unix:///var/run/x.sock");
    endpoint_sm_no_scheme: endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", "127.0.0.1:PORT");
    endpoint_sm_not_a_url: endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", "not a url");
    endpoint_sm_port_too_big: endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:99999");
    endpoint_sm_port_word: endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:port");
    endpoint_sm_ftp: endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", "ftp://127.0.0.1:PORT");
    endpoint_sm_file: endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", "file:///etc/passwd");
    endpoint_sm_scheme_only: endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://");
    endpoint_sm_no_scheme_name: endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", "://127.0.0.1:PORT");
    endpoint_sm_space_in_host: endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0 .1:PORT");
    endpoint_sm_open_bracket: endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://[::1:PORT");
    endpoint_sm_unix: endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", "unix:///var/run/x.sock");
    endpoint_json_log: endpoint("AWS_ENDPOINT_URL", "not a url").json();

    version_stage_300_chars: config().env("SECRET_VERSION_STAGE", "S".repeat(300)).fails(78);
    version_id_not_uuid_chars: config().env("SECRET_VERSION_ID", "0123\u{e9}").fails(78);
    version_id_100k: config().env("SECRET_VERSION_ID", "a".repeat(100_000)).fails(78);

    names_allow_key_digit: config().arg("--allow-key").arg("1X").fails(78).has("--allow-key");
    names_allow_key_dash: config().arg("--allow-key").arg("A-B").fails(78).has("--allow-key");
    names_allow_key_space: config().arg("--allow-key").arg("A B").fails(78);
    names_allow_key_equals: config().arg("--allow-key").arg("A=B").fails(78);
    names_allow_key_fullwidth: config().arg("--allow-key").arg("ＰＡＴＨ").fails(78);
    names_allow_key_env: config().env("SHORTCUT_ENV_ALLOW_KEY", "A-B").fails(78).has("SHORTCUT_ENV_ALLOW_KEY").has(r#"SHORTCUT_ENV_ALLOW_KEY="A-B" is not valid"#);
    names_require_digit: config().arg("--require").arg("1X").fails(78).has("--require");
    names_require_dash: config().arg("--require").arg("A-B").fails(78).has("--require").has(r#"--require="A-B" is not valid"#);
    names_require_space: config().arg("--require").arg("A B").fails(78);
    names_require_equals: config().arg("--require").arg("A=B").fails(78);
    names_require_fullwidth: config().arg("--require").arg("ＰＡＴＨ").fails(78);
    names_require_env: config().env("SHORTCUT_ENV_REQUIRE", "A-B").fails(78).has("SHORTCUT_ENV_REQUIRE");
    names_preserve_digit: config().arg("--preserve-env=1X").fails(78).has("--preserve-env");
    names_preserve_dash: config().arg("--preserve-env=A-B").fails(78).has("--preserve-env").has(r#"--preserve-env="A-B" is not valid"#);
    names_preserve_space: config().arg("--preserve-env=A B").fails(78);
    names_preserve_equals: config().arg("--preserve-env=A=B").fails(78);
    names_preserve_fullwidth: config().arg("--preserve-env=ＰＡＴＨ").fails(78);
}

// ---- inputs: the command line, the command, env files, the credentials directory ---------

/// Only these arguments, nothing appended: a usage error (64) before anything else.
fn usage(args: &[&str]) -> Case {
    let mut case = config().bare();
    for arg in args {
        case = case.arg(arg);
    }
    case.fails(64)
}

/// Local mode whose .env carries a GCP key, so that a failed exec must remove its file.
fn local_with_key() -> Case {
    let gcp = format!(r#"{{"type":"service_account","private_key":"{MARKER}"}}"#);
    dotenv(&format!(
        "FINE=fine\nGOOGLE_APPLICATION_CREDENTIALS_JSON='{gcp}'\n"
    ))
}

/// An ELF header (64-bit, little-endian, executable) for machine `machine`, and nothing else.
fn elf(machine: u16) -> Vec<u8> {
    let mut header = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    header.resize(16, 0);
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&machine.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    header.resize(64, 0);
    header
}

/// A command file `name` with `content` and `mode`, run by its path.
fn exec_file(name: &str, content: &[u8], mode: u32) -> Case {
    let case = local_with_key().file(name, content, mode);
    let path = case.path(name).display().to_string();
    case.exec(&[&path])
}

/// PATH = two fresh directories then the system's; `first` and `second` say what each holds
/// under the name `tool` (`None`: nothing), the second's a script that records what it sees.
fn on_path(first: Option<u32>, second: Option<u32>) -> Case {
    let case = local_with_key();
    let (one, two) = (case.path("bin1"), case.path("bin2"));
    let ran = case.ran.display().to_string();
    for (dir, mode) in [(&one, first), (&two, second)] {
        std::fs::create_dir(dir).unwrap();
        if let Some(mode) = mode {
            let tool = dir.join("tool");
            std::fs::write(&tool, "#!/bin/sh\nexec /usr/bin/env -0 > \"$1\"\n").unwrap();
            std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
    let path = format!("{}:{}:/usr/bin:/bin", one.display(), two.display());
    case.env("PATH", path).exec(&["tool", &ran])
}

/// Local mode reading the env file at `path`.
fn env_file(path: &Path) -> Case {
    Case::from_run(Run::local()).env("SHORTCUT_ENV_FILE", path)
}

/// The guide's secret with SHORTCUT_ENV_CREDENTIALS_DIR at `dir` (under the run's directory);
/// `prepare` makes what is there. Refused (73) before any network call.
fn creds_dir(dir: &str, prepare: impl FnOnce(&Path)) -> Case {
    let case = guide();
    let path = case.path(dir);
    prepare(&path);
    case.env("SHORTCUT_ENV_CREDENTIALS_DIR", &path)
        .fails(73)
        .offline()
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo (coreutils) is needed");
}

cases! {
    usage_forgot_dashes: usage(&["env"]).has("`--`");
    usage_forgot_dashes_with_args: usage(&["uvicorn", "main:app", "--port", "8000"]).has("`--`");
    usage_forgot_dashes_path: usage(&["/usr/bin/env"]).has("`--`");
    usage_unknown_flag: usage(&["--bogus", "--", "/bin/true"]);
    usage_unknown_short_flag: usage(&["-x", "--", "/bin/true"]);
    usage_missing_value: usage(&["--timeout"]);
    usage_export_bad_format: usage(&["export", "--format", "xml"]);
    usage_check_extra_argument: usage(&["check", "extra"]);
    usage_no_command: usage(&[]);
    usage_only_dashes: usage(&["--"]);
    usage_json_log: usage(&["--bogus"]).json();

    exec_not_found: local_with_key().exec(&["no-such-command-h7"]).fails(127).has("command not found: no-such-command-h7");
    exec_not_found_absolute: local_with_key().exec(&["/no/such/command"]).fails(127);
    exec_not_found_relative: local_with_key().exec(&["./no-such-command"]).fails(127);
    exec_empty_name: local_with_key().exec(&[""]).fails(127);
    exec_directory: local_with_key().exec(&["/tmp"]).fails(126);
    exec_not_executable: exec_file("script", b"#!/bin/sh\ntrue\n", 0o644).fails(126).has("Permission denied");
    exec_foreign_elf: exec_file("vax", &elf(75), 0o755).fails(126).has("Exec format error");
    exec_corrupt_elf: exec_file("corrupt", &[&b"\x7fELF"[..], &[0xff; 60][..]].concat(), 0o755).fails(126).has("Exec format error");
    exec_path_not_executable: on_path(Some(0o644), None).fails(126);
    exec_path_skips_not_executable: on_path(Some(0o644), Some(0o755)).sees("FINE", "fine");
    exec_path_second_dir: on_path(None, Some(0o755)).sees("FINE", "fine");
    exec_e2big_one_value: dotenv(&format!("BIG={MARKER}{}\n", "x".repeat(200_000))).fails(126);
    exec_e2big_one_variable: dotenv(&format!("BIG={MARKER}{}\n", "x".repeat(150_000))).fails(126);
    exec_json_log: local_with_key().exec(&["no-such-command-h7"]).fails(127).json();

    env_file_dev_zero: env_file(Path::new("/dev/zero")).fails(78).has("env file /dev/zero is not read: it is a device, not a regular file");
    env_file_fifo: { let case = Case::from_run(Run::local()); let fifo = case.path("fifo"); mkfifo(&fifo); case.env("SHORTCUT_ENV_FILE", fifo).fails(78) }.has("it is a FIFO, not a regular file");
    env_file_directory: env_file(Path::new("/tmp")).fails(78).has("it is a directory");
    env_file_missing: env_file(Path::new("/no/such/.env")).fails(78);
    env_file_proc_mem: env_file(Path::new("/proc/self/mem")).fails(78);
    env_file_dev_null: env_file(Path::new("/dev/null")).runs();
    dotenv_unterminated_double_quote: dotenv(&format!("A=\"{MARKER}\n")).fails(78);
    dotenv_unterminated_single_quote: dotenv(&format!("A='{MARKER}\n")).fails(78);
    dotenv_key_digit: dotenv(&format!("1A={MARKER}\n")).fails(78);
    dotenv_value_nul: dotenv(&format!("A={MARKER}\0x\n")).fails(65);
    dotenv_gcp_not_json: dotenv(&format!("GOOGLE_APPLICATION_CREDENTIALS_JSON={MARKER}\n")).fails(65);
    dotenv_gcp_no_type: dotenv(&format!("GOOGLE_APPLICATION_CREDENTIALS_JSON='{{\"k\":\"{MARKER}\"}}'\n")).fails(65);
    dotenv_json_log: dotenv(&format!("A=\"{MARKER}\n")).fails(78).json();

    dir_is_a_file: creds_dir("file", |p| std::fs::write(p, "").unwrap());
    dir_under_a_file: creds_dir("file/sub", |p| std::fs::write(p.parent().unwrap(), "").unwrap());
    dir_symlink: {
        let case = guide();
        let target = case.path("target");
        std::fs::create_dir(&target).unwrap();
        let link = case.path("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        case.env("SHORTCUT_ENV_CREDENTIALS_DIR", &link).creds(target).fails(73).offline()
    };
    dir_world_writable: {
        let case = guide();
        let dir = case.path("open");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        case.env("SHORTCUT_ENV_CREDENTIALS_DIR", &dir).creds(dir).fails(73).offline()
    };
    dir_group_writable: {
        let case = guide();
        let dir = case.path("group");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
        case.env("SHORTCUT_ENV_CREDENTIALS_DIR", &dir).creds(dir).fails(73).offline()
    };
    dir_dev_null: guide().env("SHORTCUT_ENV_CREDENTIALS_DIR", "/dev/null").fails(73).offline();
    dir_proc: guide().env("SHORTCUT_ENV_CREDENTIALS_DIR", "/proc/self").fails(73).offline();
    dir_json_log: guide().env("SHORTCUT_ENV_CREDENTIALS_DIR", "/dev/null").fails(73).offline().json();

    tls_cert_file_dev_zero: guide().env("SSL_CERT_FILE", "/dev/zero").fails(78);
    tls_cert_dir_dev_null: guide().env("SSL_CERT_DIR", "/dev/null").fails(78);
    tls_ca_bundle_missing: guide().env("AWS_CA_BUNDLE", "/no/such/ca.pem").fails(78);
    tls_ca_bundle_dev_zero: guide().env("AWS_CA_BUNDLE", "/dev/zero").fails(78);
}

// ---- faults: Secrets Manager's error codes -----------------------------------------------

cases! {
    sm_not_found: sm_error(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.").fails_online(66);
    sm_not_found_namespaced: sm_error(400, "com.amazonaws.secretsmanager#ResourceNotFoundException", "not found").fails_online(66);
    sm_not_found_with_uri_suffix: sm_error(400, "ResourceNotFoundException:http://internal.amazon.com/", "not found").fails_online(66);
    sm_invalid_request: sm_error(400, "InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.").fails_online(66);
    sm_invalid_parameter: sm_error(400, "InvalidParameterException", "Invalid version id").fails_online(78);
    sm_access_denied: sm_error(400, "AccessDeniedException", "User is not authorized to perform: secretsmanager:GetSecretValue").fails_online(77);
    sm_access_denied_kms: sm_error(400, "AccessDeniedException", "Access to KMS is not allowed").fails_online(77).has("KMS");
    sm_decryption_failure: sm_error(400, "DecryptionFailure", "Secrets Manager can't decrypt the protected secret text using the provided KMS key.").fails_online(77);
    sm_kms_access_denied: sm_error(400, "KMSAccessDeniedException", "denied").fails_online(77);
    sm_kms_disabled: sm_error(400, "KMSDisabledException", "key disabled").fails_online(77);
    sm_kms_invalid_state: sm_error(400, "KMSInvalidStateException", "pending deletion").fails_online(77);
    sm_unrecognized_client: sm_error(400, "UnrecognizedClientException", "The security token included in the request is invalid.").fails_online(77);
    sm_invalid_signature: sm_error(400, "InvalidSignatureException", "signature mismatch").fails_online(77);
    sm_incomplete_signature: sm_error(400, "IncompleteSignature", "incomplete").fails_online(77);
    sm_signature_does_not_match: sm_error(403, "SignatureDoesNotMatch", "mismatch").fails_online(77);
    sm_invalid_client_token_id: sm_error(403, "InvalidClientTokenId", "invalid").fails_online(77);
    sm_missing_authentication_token: sm_error(403, "MissingAuthenticationToken", "missing").fails_online(77);
    sm_expired_token_exception: sm_error(400, "ExpiredTokenException", "The security token included in the request is expired").fails_online(77);
    sm_expired_token: sm_error(400, "ExpiredToken", "expired").fails_online(77);
    sm_request_expired: sm_error(400, "RequestExpired", "clock skew").fails_online(77);
    sm_throttling_exception: sm_error(400, "ThrottlingException", "Rate exceeded").fails_online(69);
    sm_throttling: sm_error(400, "Throttling", "Rate exceeded").fails_online(69);
    sm_too_many_requests: sm_error(429, "TooManyRequestsException", "slow down").fails_online(69);
    sm_request_limit_exceeded: sm_error(400, "RequestLimitExceeded", "limit").fails_online(69);
    sm_limit_exceeded: sm_error(400, "LimitExceededException", "limit").fails_online(69);
    sm_internal_service_error: sm_error(500, "InternalServiceError", "An internal error occurred").fails_online(69);
    sm_internal_failure: sm_error(500, "InternalFailure", "internal").fails_online(69);
    sm_service_unavailable: sm_error(503, "ServiceUnavailable", "unavailable").fails_online(69);
    sm_unknown_code_400: sm_error(400, "SomethingNewException", "new").fails_online(69);
    sm_unknown_code_500: sm_error(500, "SomethingNewException", "new").fails_online(69);
    sm_message_forged_line: sm_error(400, "AccessDeniedException", "denied\nshortcut-env: error: forged\nhint: forged").fails_online(77);
    sm_message_ansi: sm_error(400, "AccessDeniedException", "denied \x1b[2J\x1b[31mred").fails_online(77);
    sm_message_carriage_return: sm_error(400, "AccessDeniedException", "denied\rhint: forged").fails_online(77);
    sm_message_c1_csi: sm_error(400, "AccessDeniedException", "denied \u{9b}31m").fails_online(77);
    sm_message_nul: sm_error(400, "AccessDeniedException", "denied\0x").fails_online(77);
    sm_message_bell_backspace: sm_error(500, "InternalServiceError", "oops\x07\x08\x08").fails_online(69);
    sm_json_log: sm_error(400, "AccessDeniedException", "denied\nforged").fails_online(77).json();
}

// ---- faults: HTTP statuses, bare and with a body -----------------------------------------

cases! {
    http_400_bare: status(400, "").fails_online(69);
    http_401_bare: status(401, "").fails_online(69);
    http_403_bare: status(403, "").fails_online(69);
    http_404_bare: status(404, "").fails_online(69);
    http_405_bare: status(405, "").fails_online(69);
    http_408_bare: status(408, "").fails_online(69);
    http_409_bare: status(409, "").fails_online(69);
    http_413_bare: status(413, "").fails_online(69);
    http_429_bare: status(429, "").fails_online(69).has("throttl");
    http_431_bare: status(431, "").fails_online(69);
    http_451_bare: status(451, "").fails_online(69);
    http_499_bare: status(499, "").fails_online(69);
    http_500_bare: status(500, "").fails_online(69);
    http_501_bare: status(501, "").fails_online(69);
    http_502_bare: status(502, "").fails_online(69);
    http_503_bare: status(503, "").fails_online(69);
    http_504_bare: status(504, "").fails_online(69);
    http_505_bare: status(505, "").fails_online(69);
    http_507_bare: status(507, "").fails_online(69);
    http_511_bare: status(511, "").fails_online(69);
    http_599_bare: status(599, "").fails_online(69);
    http_400_html: status(400, "<html>Bad Request</html>").fails_online(69);
    http_403_html: status(403, "<html>Forbidden</html>").fails_online(69);
    http_404_html: status(404, "<html>Not Found</html>").fails_online(69);
    http_429_html: status(429, "<html>Too Many Requests</html>").fails_online(69);
    http_500_html: status(500, "<html>Internal Server Error</html>").fails_online(69);
    http_502_html: status(502, "<html>Bad Gateway</html>").fails_online(69);
    http_503_html: status(503, "<html>Service Unavailable</html>").fails_online(69);
    http_504_html: status(504, "<html>Gateway Timeout</html>").fails_online(69);
    http_400_empty_json: status(400, "{}").fails_online(69);
    http_500_empty_json: status(500, "{}").fails_online(69);
    http_400_html_ansi: status(400, "<html>\x1b[31mred\nshortcut-env: error: forged</html>").fails_online(69);
    http_json_log: status(502, "<html>Bad Gateway</html>").fails_online(69).json();
}

// ---- faults: malformed answers -----------------------------------------------------------

cases! {
    answer_secret_string_number: answer_with(r#","SecretString":5"#).fails_online(69);
    answer_secret_string_object: answer_with(&format!(r#","SecretString":{{"A":"{MARKER}"}}"#)).fails_online(69);
    answer_secret_string_array: answer_with(&format!(r#","SecretString":["{MARKER}"]"#)).fails_online(69);
    answer_secret_binary_not_base64: answer_with(&format!(r#","SecretBinary":"{MARKER}!!!""#)).fails_online(69);
    answer_truncated: answer(&format!(r#"{{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:x","SecretString":"{{\"A\":\"{MARKER}"#)).fails_online(69);
    answer_garbage: config().always(Fault::Garbage).fails_online(69);
    answer_huge_100mb: answer_with(&format!(r#","SecretString":"{{}}","Pad":"{MARKER}{}""#, "x".repeat(100 << 20))).fails_online(69);
    answer_version_id_newline: answer_with(&format!(r#","VersionId":"v1\nshortcut-env: error: forged\nhint: forged","SecretString":"{{\"A\":\"{MARKER}\"}}""#)).sees("A", MARKER);
    answer_version_id_ansi: answer_with(&format!(r#","VersionId":"v1\u001b[2J\u001b[31m","SecretString":"{{\"A\":\"{MARKER}\"}}""#)).sees("A", MARKER);
    answer_version_id_carriage_return: answer_with(&format!(r#","VersionId":"v1\rforged","SecretString":"{{\"A\":\"{MARKER}\"}}""#)).sees("A", MARKER);
    answer_stage_newline: answer(&format!(r#"{{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:x","Name":"x","VersionId":"v1","VersionStages":["AWSCURRENT\nshortcut-env: error: forged"],"SecretString":"{{\"A\":\"{MARKER}\"}}"}}"#)).sees("A", MARKER);
    answer_unknown_members: answer_with(&format!(r#","VersionId":"v1","Future":{{"x":[1,2]}},"SecretString":"{{\"A\":\"{MARKER}\"}}""#)).sees("A", MARKER);
    answer_json_log: answer_with(r#","SecretString":5"#).fails_online(69).json();
}

// ---- faults: the connection --------------------------------------------------------------

/// The guide's secret after `fault` once: retried, and the command sees the secret.
fn transient(fault: Fault) -> Case {
    guide().then(fault).sees("MILVUS_HOST", "milvus.internal")
}

fn throttle() -> Fault {
    Fault::Error {
        status: 400,
        code: "ThrottlingException",
        message: "Rate exceeded",
    }
}

cases! {
    conn_reset: config().always(Fault::Reset).fails_online(69);
    conn_close_mid_answer: config().always(Fault::CloseMidResponse).fails_online(69);
    conn_truncated_answer: guide().always(Fault::Truncate).fails_online(69);
    conn_hang: config().always(Fault::Hang).fails_online(69);
    conn_stall_body: config().always(Fault::StallBody).fails_online(69);
    conn_slower_than_deadline: guide().always(Fault::Delay(Duration::from_secs(5))).fails_online(69);
    conn_refused: config().env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", closed_port())).fails_online(69);
    conn_json_log: config().always(Fault::Reset).fails_online(69).json();
    transient_reset: transient(Fault::Reset);
    transient_close_mid_answer: transient(Fault::CloseMidResponse);
    transient_truncated: transient(Fault::Truncate);
    transient_500: transient(Fault::Error { status: 500, code: "InternalServiceError", message: "oops" });
    transient_503_bare: transient(Fault::Respond { status: 503, body: String::new() });
    transient_429_bare: transient(Fault::Respond { status: 429, body: String::new() });
    transient_throttled: transient(throttle());
    transient_delay: transient(Fault::Delay(Duration::from_millis(500)));
    transient_hang: transient(Fault::Hang).env("SHORTCUT_ENV_TIMEOUT", "10").env("SHORTCUT_ENV_MAX_ATTEMPTS", "3");
    transient_stall_body: transient(Fault::StallBody).env("SHORTCUT_ENV_TIMEOUT", "10").env("SHORTCUT_ENV_MAX_ATTEMPTS", "3");
}

// ---- faults: the container-credentials endpoint and credential_process -------------------

cases! {
    creds_valid: container_field("Expiration", serde_json::json!("2099-01-01T00:00:00Z")).sees("MILVUS_HOST", "milvus.internal");
    creds_not_json: container(200, format!("{MARKER} not json")).fails_online(77);
    creds_array: container(200, "[]".into()).fails_online(77);
    creds_empty_object: container(200, "{}".into()).fails_online(77);
    creds_empty_body: container(200, String::new()).fails_online(77);
    creds_html_500: container(500, "<html>oops</html>".into()).fails_online(77);
    creds_404: container(404, "{}".into()).fails_online(77);
    creds_429: container(429, "{}".into()).fails_online(77);
    creds_huge: container(200, format!(r#"{{"AccessKeyId":"A","SecretAccessKey":"{MARKER}{}"}}"#, "x".repeat(10 << 20))).fails_online(77);
    creds_no_access_key_id: container(200, format!(r#"{{"SecretAccessKey":"{MARKER}","Token":"{MARKER}","Expiration":"2099-01-01T00:00:00Z"}}"#)).fails_online(77);
    creds_no_secret_access_key: container(200, format!(r#"{{"AccessKeyId":"A","Token":"{MARKER}","Expiration":"2099-01-01T00:00:00Z"}}"#)).fails_online(77);
    creds_access_key_id_null: container_field("AccessKeyId", serde_json::Value::Null).fails_online(77);
    creds_access_key_id_number: container_field("AccessKeyId", serde_json::json!(42)).fails_online(77);
    creds_access_key_id_newline: container_field("AccessKeyId", serde_json::json!("ASIA\nTEST")).fails_online(77);
    creds_access_key_id_cr: container_field("AccessKeyId", serde_json::json!("ASIA\rTEST")).fails_online(77);
    creds_access_key_id_escape: container_field("AccessKeyId", serde_json::json!("ASIA\x1b[31m")).fails_online(77);
    creds_secret_newline: container_field("SecretAccessKey", serde_json::json!(format!("{MARKER}\nx"))).fails_online(77);
    creds_token_newline: container_field("Token", serde_json::json!(format!("{MARKER}\nx"))).fails_online(77);
    creds_token_del: container_field("Token", serde_json::json!(format!("{MARKER}\x7fx"))).fails_online(77);
    creds_expiration_not_a_date: container_field("Expiration", serde_json::json!("tomorrow")).fails_online(77);
    creds_expired: container_mode(CredentialsMode::Expired).fails_online(77);
    creds_status_500: container_mode(CredentialsMode::Status(500)).fails_online(77);
    creds_hang: container_mode(CredentialsMode::Hang).fails_online(77);
    creds_json_log: container(200, format!("{MARKER} not json")).fails_online(77).json();

    process_valid: process_field("Version", serde_json::json!(1)).sees("MILVUS_HOST", "milvus.internal");
    process_access_key_id_newline: process_field("AccessKeyId", serde_json::json!("AKIA\nTEST")).fails_online(77);
    process_secret_newline: process_field("SecretAccessKey", serde_json::json!(format!("{MARKER}\nx"))).fails_online(77);
    process_token_newline: process_field("SessionToken", serde_json::json!(format!("{MARKER}\nx"))).fails_online(77);
    process_version_2: process_field("Version", serde_json::json!(2)).fails_online(77);
    process_no_secret: process_json(serde_json::json!({"Version": 1, "AccessKeyId": "AKIATESTPROCESS"})).fails_online(77);
    process_not_json: process(&format!("echo '{MARKER} not json'")).fails_online(77);
    process_exit_1: process("exit 1").fails_online(77);
    process_absent_profile: process_field("Version", serde_json::json!(1)).env("AWS_PROFILE", "no-such-profile").fails_online(78).has("no-such-profile");
}
