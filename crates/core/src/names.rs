//! Names: what a variable name may be, which names a secret may not set, how a key is shown in
//! a message, what a region looks like. The leaf every other rule builds on.

use crate::error::Error;

/// The GCP key's JSON, as a variable a secret sets.
pub const GCP_JSON_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS_JSON";
/// The variable Google's libraries read the key file's path from.
pub const GCP_PATH_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// Names a secret may not set unless `--allow-key` names them, each with the reason: the
/// process basics, the wrapper's own configuration, and the variables that make a program load
/// code or change whom it trusts. A name ending in `*` is a prefix. docs/protected-names.md
/// lists them for users; a test keeps the two in step.
///
/// Deliberately not here: names an application needs from its secret (`SECRET_KEY`,
/// `DATABASE_URL`, `*_TOKEN`), and tuning variables that cannot run code (`PYTHONUNBUFFERED`,
/// `PYTHONHASHSEED`, `NODE_ENV`).
pub const PROTECTED: &[(&str, &str)] = &[
    // ---- The process and the wrapper
    (
        "PATH",
        "where execvp finds the command and every program it runs",
    ),
    (
        "HOME",
        "where programs read their dotfiles and configuration",
    ),
    ("USER", "who programs think they run as"),
    ("SHELL", "the shell programs start for a subcommand"),
    ("PWD", "the working directory programs believe they are in"),
    (
        "TMPDIR",
        "where programs (and this wrapper's default credentials directory) put temporary files; glibc drops it for setuid programs",
    ),
    (
        "APP_ENV",
        "this wrapper's configuration: which mode the command thinks it runs in",
    ),
    (
        "AWS_*",
        "the AWS SDKs' configuration and credentials (keys, profile, endpoints, AWS_CA_BUNDLE): whom the command's own AWS calls trust and act as",
    ),
    (
        "SECRET_NAME",
        "this wrapper's configuration: which secret a nested start reads",
    ),
    (
        "SECRET_VERSION_STAGE",
        "this wrapper's configuration: which version a nested start reads",
    ),
    (
        "SECRET_VERSION_ID",
        "this wrapper's configuration: which version a nested start reads",
    ),
    ("SHORTCUT_ENV_*", "this wrapper's configuration"),
    (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "the GCP key file; set by this wrapper from GOOGLE_APPLICATION_CREDENTIALS_JSON",
    ),
    // ---- The dynamic loader and glibc (glibc's own list of variables unsafe for setuid programs, unsecvars.h)
    (
        "LD_*",
        "ld.so: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT load shared libraries into every program",
    ),
    (
        "GCONV_PATH",
        "iconv loads character-set modules (shared libraries) from this path",
    ),
    (
        "GETCONF_DIR",
        "getconf runs helper programs from this directory",
    ),
    (
        "GLIBC_TUNABLES",
        "changes malloc and loader behaviour; its parser was exploitable (CVE-2023-4911)",
    ),
    (
        "HOSTALIASES",
        "the resolver maps host names through this file: connections go elsewhere",
    ),
    (
        "LOCALDOMAIN",
        "the resolver's search domains: short host names resolve elsewhere",
    ),
    ("RES_OPTIONS", "the resolver's options (ndots, attempts, …)"),
    (
        "RESOLV_HOST_CONF",
        "the resolver reads its host.conf from this file",
    ),
    ("LOCPATH", "locale data files are loaded from this path"),
    ("NLSPATH", "message catalogs are loaded from this path"),
    ("NIS_PATH", "NIS+ lookups search this path"),
    (
        "MALLOC_TRACE",
        "mtrace writes a log of every allocation to this file",
    ),
    ("TZDIR", "time-zone files are loaded from this directory"),
    // ---- Shells (sh, dash, bash)
    (
        "BASH_ENV",
        "bash runs this file before every non-interactive script",
    ),
    (
        "ENV",
        "sh, dash and bash in POSIX mode run this file when interactive",
    ),
    (
        "SHELLOPTS",
        "turns on bash options in every bash, e.g. xtrace, which then expands PS4",
    ),
    ("BASHOPTS", "turns on shopt options in every bash"),
    (
        "PS4",
        "expanded (command substitution included) before each traced command: runs code with SHELLOPTS=xtrace",
    ),
    ("IFS", "changes how every shell script splits words"),
    (
        "CDPATH",
        "makes `cd DIR` in scripts go to another directory",
    ),
    // ---- Python
    ("PYTHONPATH", "modules are imported from here first"),
    ("PYTHONHOME", "the standard library is loaded from here"),
    ("PYTHONSTARTUP", "run by an interactive interpreter"),
    (
        "PYTHONINSPECT",
        "drops into an interactive prompt after the script",
    ),
    (
        "PYTHONUSERBASE",
        "user site-packages: its .pth files run code at every start",
    ),
    (
        "PYTHONPLATLIBDIR",
        "where the standard library's platform modules are loaded from",
    ),
    (
        "PYTHONPYCACHEPREFIX",
        "compiled bytecode is read from (and written to) this tree",
    ),
    (
        "PYTHONEXECUTABLE",
        "what sys.executable is (macOS framework builds)",
    ),
    (
        "PYTHONWARNINGS",
        "imports the module named by a warning category: with BROWSER it was shown to run code",
    ),
    ("PYTHONBREAKPOINT", "breakpoint() imports and calls this"),
    (
        "BROWSER",
        "the webbrowser module runs it as a command (reached through PYTHONWARNINGS)",
    ),
    // ---- Node.js
    (
        "NODE_OPTIONS",
        "command-line options for every node, --require and --import included",
    ),
    ("NODE_PATH", "modules are resolved from here"),
    (
        "NODE_EXTRA_CA_CERTS",
        "extra trusted certificate authorities",
    ),
    (
        "NODE_TLS_REJECT_UNAUTHORIZED",
        "0 turns off certificate verification",
    ),
    // ---- Perl and Ruby
    (
        "PERL5OPT",
        "command-line options for every perl, -M (load a module) included",
    ),
    ("PERL5LIB", "modules are loaded from here first"),
    ("PERLLIB", "modules are loaded from here first"),
    ("PERL5DB", "the debugger code perl runs with -d"),
    (
        "RUBYOPT",
        "command-line options for every ruby, -r (require) included",
    ),
    ("RUBYLIB", "libraries are loaded from here first"),
    // ---- Java
    (
        "JAVA_TOOL_OPTIONS",
        "options for every JVM, -javaagent included",
    ),
    (
        "_JAVA_OPTIONS",
        "options for every HotSpot JVM, -javaagent included",
    ),
    (
        "JDK_JAVA_OPTIONS",
        "options for the java launcher, -javaagent included",
    ),
    (
        "CLASSPATH",
        "classes are loaded from here when no -cp is given",
    ),
    // ---- git
    ("GIT_ASKPASS", "git runs this program for a password"),
    ("GIT_SSH", "git runs this program instead of ssh"),
    ("GIT_SSH_COMMAND", "git runs this command instead of ssh"),
    ("GIT_PROXY_COMMAND", "git runs this command to connect"),
    ("GIT_EXEC_PATH", "git runs its subcommands from here"),
    ("GIT_EXTERNAL_DIFF", "git runs this program to diff"),
    (
        "GIT_CONFIG_COUNT",
        "adds configuration (with GIT_CONFIG_KEY_n/VALUE_n), e.g. core.sshCommand",
    ),
    (
        "GIT_CONFIG_PARAMETERS",
        "adds configuration, e.g. core.sshCommand",
    ),
    (
        "GIT_CONFIG_GLOBAL",
        "git reads its global configuration from this file",
    ),
    (
        "GIT_CONFIG_SYSTEM",
        "git reads its system configuration from this file",
    ),
    (
        "GIT_TEMPLATE_DIR",
        "new repositories get their hooks from here",
    ),
    ("GIT_SSL_NO_VERIFY", "turns off certificate verification"),
    // ---- Trust: CA bundles and TLS
    (
        "SSL_CERT_FILE",
        "OpenSSL, rustls-native-certs and Go trust these certificate authorities",
    ),
    (
        "SSL_CERT_DIR",
        "OpenSSL, rustls-native-certs and Go trust these certificate authorities",
    ),
    (
        "REQUESTS_CA_BUNDLE",
        "Python requests trusts these certificate authorities",
    ),
    (
        "CURL_CA_BUNDLE",
        "curl and Python requests trust these certificate authorities",
    ),
    ("GIT_SSL_CAINFO", "git trusts these certificate authorities"),
    (
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
        "gRPC trusts these certificate authorities",
    ),
    (
        "OPENSSL_CONF",
        "OpenSSL reads this configuration, which can load engines and providers (shared libraries)",
    ),
    (
        "SSLKEYLOGFILE",
        "TLS libraries write every session key to this file",
    ),
    // ---- Proxies (both cases: libraries read either)
    (
        "HTTP_PROXY",
        "HTTP clients send their requests (and credentials) through this proxy",
    ),
    (
        "http_proxy",
        "HTTP clients send their requests (and credentials) through this proxy",
    ),
    (
        "HTTPS_PROXY",
        "HTTP clients send their requests (and credentials) through this proxy",
    ),
    (
        "https_proxy",
        "HTTP clients send their requests (and credentials) through this proxy",
    ),
    (
        "ALL_PROXY",
        "HTTP clients send their requests (and credentials) through this proxy",
    ),
    (
        "all_proxy",
        "HTTP clients send their requests (and credentials) through this proxy",
    ),
    ("NO_PROXY", "which hosts bypass the proxy"),
    ("no_proxy", "which hosts bypass the proxy"),
];

pub fn is_protected(name: &str) -> bool {
    PROTECTED
        .iter()
        .any(|(entry, _)| match entry.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *entry,
        })
}

/// `[A-Za-z_][A-Za-z0-9_]*`: what every shell and `env` accepts.
pub fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A key as messages show it: itself when it is a variable name, else quoted, escaped and cut
/// short ([`crate::text::shorten`]), since a value pasted into the key field must not reach the
/// logs whole.
pub fn shown_key(key: &str) -> String {
    if is_valid_name(key) && key.len() <= 64 {
        return key.to_string();
    }
    crate::text::shorten(key)
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`: two letters,
/// one or more lower-case words, a number. Catches the stray space, the capitals, the AZ
/// (`us-east-1a`) and the empty string that would otherwise surface as a DNS error much later.
pub fn validate_region(region: &str) -> Result<&str, Error> {
    let malformed = || Error::RegionMalformed {
        setting: "AWS_REGION",
        value: region.to_string(),
    };
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return Err(malformed());
    };
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let ok = first.len() == 2
        && lower(first)
        && !middle.is_empty()
        && middle.iter().all(|w| lower(w))
        && (1..=2).contains(&last.len())
        && last.bytes().all(|b| b.is_ascii_digit());
    if ok { Ok(region) } else { Err(malformed()) }
}
