//! The one error type of the wrapper.
//!
//! Every failure the wrapper can report is a variant here, and every variant knows its exit code
//! (the sysexits-style table in the README) and a hint that tells the operator what to check.
//! Messages name keys, secret ids, paths and AWS error codes, never a secret value: the variants
//! that carry text from elsewhere only carry text that cannot hold one (service error messages,
//! I/O errors, the name of a key).

use std::path::PathBuf;

/// Declares [`Kind`]: one row per kind, its name and its exit code, so the list can be
/// iterated ([`Kind::ALL`]) by the docs tests and nothing is named twice.
macro_rules! kinds {
    ($($kind:ident = $name:literal, $code:ident;)*) => {
        /// What went wrong, by name: the `error` field of a JSON log line, the anchor of its
        /// entry in docs/troubleshooting.md. One per [`Error`] variant.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($kind,)*
        }

        impl Kind {
            /// Every kind.
            pub const ALL: &[Kind] = &[$(Kind::$kind,)*];

            /// `app-env-missing`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$kind => $name,)*
                }
            }

            /// The exit code (for [`Kind::Stopped`], 128 plus the signal's number).
            pub fn code(self) -> Code {
                match self {
                    $(Kind::$kind => Code::$code,)*
                }
            }
        }
    };
}

kinds! {
    Usage = "usage", Usage;
    NoCommand = "no-command", Usage;
    CommandWithoutDoubleDash = "command-without-double-dash", Usage;
    AppEnvMissing = "app-env-missing", Config;
    AppEnvUnknown = "app-env-unknown", Config;
    RegionMissing = "region-missing", Config;
    RegionMalformed = "region-malformed", Config;
    ProfileNotFound = "profile-not-found", Config;
    SecretNameMissing = "secret-name-missing", Config;
    SecretNameEmpty = "secret-name-empty", Config;
    SecretArnMalformed = "secret-arn-malformed", Config;
    ReferenceMalformed = "reference-malformed", Config;
    ProtectedTarget = "protected-target", Config;
    DuplicateTarget = "duplicate-target", Config;
    JsonKeyMissing = "json-key-missing", Data;
    ParameterNameCollision = "parameter-name-collision", Data;
    FileKeyMissing = "file-key-missing", Data;
    InvalidSetting = "invalid-setting", Config;
    TrustStoreUnusable = "trust-store-unusable", Config;
    EndpointMalformed = "endpoint-malformed", Config;
    RequestRejected = "request-rejected", Config;
    ParameterRequestRejected = "parameter-request-rejected", Config;
    NotUnicode = "not-unicode", Config;
    EnvFileMissing = "env-file-missing", Config;
    EnvFileUnreadable = "env-file-unreadable", Config;
    EnvFileRefused = "env-file-refused", Config;
    CopySourceUnreadable = "copy-source-unreadable", Config;
    SecretNotObject = "secret-not-object", Data;
    SecretBinary = "secret-binary", Data;
    InvalidKeyName = "invalid-key-name", Data;
    NulInValue = "nul-in-value", Data;
    ExportUnrepresentable = "export-unrepresentable", Data;
    DuplicateKey = "duplicate-key", Data;
    RequiredMissing = "required-missing", Data;
    GcpJsonInvalid = "gcp-json-invalid", Data;
    SecretNotFound = "secret-not-found", NotFound;
    VersionNotFound = "version-not-found", NotFound;
    ParameterNotFound = "parameter-not-found", NotFound;
    Unreachable = "unreachable", Unavailable;
    DnsFailure = "dns-failure", Unavailable;
    AnswerTooLarge = "answer-too-large", Unavailable;
    Timeout = "timeout", Unavailable;
    Throttled = "throttled", Unavailable;
    ServiceFailure = "service-failure", Unavailable;
    FailoverExhausted = "failover-exhausted", Unavailable;
    ParameterStoreUnavailable = "parameter-store-unavailable", Unavailable;
    CredentialsDirUnsafe = "credentials-dir-unsafe", CantCreate;
    CredentialsFileFailed = "credentials-file-failed", CantCreate;
    CopyDirUnusable = "copy-dir-unusable", CantCreate;
    CopyTargetUnsafe = "copy-target-unsafe", CantCreate;
    CopyFailed = "copy-failed", CantCreate;
    NoCredentials = "no-credentials", NotAllowed;
    CredentialsMalformed = "credentials-malformed", NotAllowed;
    CredentialsRejected = "credentials-rejected", NotAllowed;
    AccessDenied = "access-denied", NotAllowed;
    KmsDecryptionFailed = "kms-decryption-failed", NotAllowed;
    ParameterAccessDenied = "parameter-access-denied", NotAllowed;
    ParameterKmsFailed = "parameter-kms-failed", NotAllowed;
    CommandNotFound = "command-not-found", CommandNotFound;
    CommandNotExecutable = "command-not-executable", NotExecutable;
    EnvironmentTooLarge = "environment-too-large", NotExecutable;
    StdoutFailed = "stdout-failed", IoError;
    Stopped = "stopped", Signal;
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The wrapper's exit codes, sysexits-style; they never collide with 126/127/128+N of the
/// command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    Usage = 64,
    Data = 65,
    NotFound = 66,
    Unavailable = 69,
    CantCreate = 73,
    /// EX_IOERR: `check` or `export` could not write its output.
    IoError = 74,
    NotAllowed = 77,
    Config = 78,
    NotExecutable = 126,
    CommandNotFound = 127,
    /// A stop signal before the command started: this plus the signal's number.
    Signal = 128,
}

impl Code {
    /// Every code, in order.
    pub const ALL: &[Code] = &[
        Code::Usage,
        Code::Data,
        Code::NotFound,
        Code::Unavailable,
        Code::CantCreate,
        Code::IoError,
        Code::NotAllowed,
        Code::Config,
        Code::NotExecutable,
        Code::CommandNotFound,
        Code::Signal,
    ];

    pub fn value(self) -> i32 {
        self as i32
    }
}

/// The accepted values of `APP_ENV`, as printed in errors and `--help`.
pub const APP_ENV_VALUES: &str = "local, development, staging, production (or prod)";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- 64: usage --------------------------------------------------------------------------
    #[error("{0}")]
    Usage(String),
    #[error("no command to run")]
    NoCommand,
    /// A bare word where a subcommand or `--` was expected: the `--` was forgotten.
    #[error("unexpected argument {0}: the command must come after `--`")]
    CommandWithoutDoubleDash(String),

    // ---- 78: configuration ------------------------------------------------------------------
    #[error("APP_ENV is not set")]
    AppEnvMissing,
    #[error("APP_ENV={0:?} is not a known environment (accepted: {APP_ENV_VALUES})")]
    AppEnvUnknown(String),
    #[error(
        "no region: AWS_REGION, AWS_DEFAULT_REGION and the profile's region are not set \
         (required when APP_ENV={app_env} and the secret id is not an ARN)"
    )]
    RegionMissing { app_env: &'static str },
    /// `setting` is what the user set: `AWS_REGION`, `AWS_DEFAULT_REGION` or `--region`.
    #[error("{setting}={value:?} is not a valid AWS region")]
    RegionMalformed {
        setting: &'static str,
        value: String,
    },
    #[error("AWS_PROFILE={0:?} names a profile that is not in the AWS config files")]
    ProfileNotFound(String),
    #[error("SECRET_NAME is not set and APP_ENV={0} has no default secret")]
    SecretNameMissing(&'static str),
    #[error("SECRET_NAME is empty")]
    SecretNameEmpty,
    #[error("SECRET_NAME {secret:?} is not a valid Secrets Manager ARN: {reason}")]
    SecretArnMalformed { secret: String, reason: String },
    #[error("SECRET_NAME entry {reference:?} is not a valid secret reference: {reason}")]
    ReferenceMalformed { reference: String, reason: String },
    #[error("{option}: {value:?} would set the protected name {name}")]
    ProtectedTarget {
        option: &'static str,
        value: String,
        name: String,
    },
    #[error("{name} is the target of more than one {option}")]
    DuplicateTarget { option: &'static str, name: String },
    #[error("{name}={value:?} is not valid: {reason}")]
    InvalidSetting {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    /// `SSL_CERT_FILE`, `AWS_CA_BUNDLE` or `SSL_CERT_DIR` names nothing usable (src/sources/tls.rs).
    #[error("{name}={path:?} cannot be used as trusted certificates: {reason}")]
    TrustStoreUnusable {
        name: &'static str,
        path: String,
        reason: String,
    },
    #[error("{name}={value:?} is not a usable endpoint URL: {reason}")]
    EndpointMalformed {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("Secrets Manager rejected the request for {secret}: {detail}")]
    RequestRejected { secret: String, detail: String },
    #[error("Parameter Store rejected the request for {parameters}: {detail}")]
    ParameterRequestRejected { parameters: String, detail: String },
    #[error("{0} is not valid Unicode")]
    NotUnicode(&'static str),
    #[error("env file {path} does not exist")]
    EnvFileMissing { path: PathBuf },
    #[error("env file {path} could not be read: {reason}")]
    EnvFileUnreadable { path: PathBuf, reason: String },
    #[error("env file {path} is not read: {reason}")]
    EnvFileRefused { path: PathBuf, reason: String },
    /// `copy`: the running binary cannot be read (no /proc).
    #[error("copy: cannot read the running binary /proc/self/exe: {0}")]
    CopySourceUnreadable(String),

    // ---- 65: the secret's data is unusable --------------------------------------------------
    #[error("secret {secret} is not a JSON object: {found}")]
    SecretNotObject { secret: String, found: String },
    #[error("secret {secret} holds binary data, not a JSON object")]
    SecretBinary { secret: String },
    /// `key` is as [`crate::names::shown_key`] shows it: escaped and cut short.
    #[error("key {key} of {source_name} is not a valid environment variable name")]
    InvalidKeyName { source_name: String, key: String },
    #[error("key {key} appears more than once in {source_name}")]
    DuplicateKey { source_name: String, key: String },
    #[error("the value of key {key} of {source_name} holds a NUL byte")]
    NulInValue { source_name: String, key: String },
    #[error("export --format {format}: the value of {key} cannot be written: {reason}")]
    ExportUnrepresentable {
        key: String,
        format: &'static str,
        reason: &'static str,
    },
    #[error("key {key} is not in secret {secret}")]
    JsonKeyMissing { secret: String, key: String },
    /// `--recursive` names parameters by their last segment; two under one path share it.
    #[error("parameters {first} and {second} under {path} would both be exported as {name}")]
    ParameterNameCollision {
        path: String,
        name: String,
        first: String,
        second: String,
    },
    #[error("--file {key}={target}: key {key} is not in the environment")]
    FileKeyMissing { key: String, target: String },
    #[error("required keys missing: {}", .0.join(", "))]
    RequiredMissing(Vec<String>),
    #[error("GOOGLE_APPLICATION_CREDENTIALS_JSON is unusable: {0}")]
    GcpJsonInvalid(String),

    // ---- 66: the secret does not exist ------------------------------------------------------
    #[error("secret {secret} was not found in {region}: {detail}")]
    SecretNotFound {
        secret: String,
        region: String,
        detail: String,
    },
    #[error("secret {secret} has no version {version} in {region}: {detail}")]
    VersionNotFound {
        secret: String,
        region: String,
        version: String,
        detail: String,
    },
    /// Every requested name (with its `:VERSION` / `:LABEL`) that GetParameters did not
    /// return, all at once; or a path with nothing under it.
    #[error("SSM parameters not found in {region}: {}", .names.join(", "))]
    ParameterNotFound { region: String, names: Vec<String> },

    // ---- 69: Secrets Manager unavailable ----------------------------------------------------
    #[error("could not reach Secrets Manager in {region}: {detail}")]
    Unreachable { region: String, detail: String },
    #[error("could not resolve the Secrets Manager endpoint of region {region}: {detail}")]
    DnsFailure { region: String, detail: String },
    #[error("the answer for {secret} is larger than {limit_kib} KiB, more than any secret can be")]
    AnswerTooLarge { secret: String, limit_kib: usize },
    #[error("fetching {secret} did not finish within the {seconds} s deadline")]
    Timeout { secret: String, seconds: f64 },
    #[error(
        "Secrets Manager kept throttling the request ({code}) until the retries or the deadline ran out"
    )]
    Throttled { code: String },
    #[error("Secrets Manager failed with {code}: {detail}")]
    ServiceFailure { code: String, detail: String },
    /// The secret's own region and every `--failover-region` failed (src/failover.rs);
    /// `failures` names each region and how it failed.
    #[error(
        "secret {secret} could not be read in any of its regions within the {seconds} s \
         deadline: {failures}"
    )]
    FailoverExhausted {
        secret: String,
        seconds: f64,
        failures: String,
    },
    /// Parameter Store unreachable, throttled past the retries, or failing (5xx, an answer
    /// that cannot be its own).
    #[error("Parameter Store in {region} failed for {parameters}: {detail}")]
    ParameterStoreUnavailable {
        region: String,
        parameters: String,
        detail: String,
    },

    // ---- 73: the credentials file could not be created safely -------------------------------
    #[error("credentials directory {path} is unsafe: {reason}")]
    CredentialsDirUnsafe { path: PathBuf, reason: String },
    #[error("credentials file {path} could not be written: {reason}")]
    CredentialsFileFailed { path: PathBuf, reason: String },
    /// `copy DIR`: DIR is missing, not a directory, or a symlink.
    #[error("copy: directory {path} cannot be used: {reason}")]
    CopyDirUnusable { path: PathBuf, reason: String },
    /// `copy DIR`: a symlink or non-regular file is at DIR/shortcut-env.
    #[error("copy: {path} is not replaced: {reason}")]
    CopyTargetUnsafe { path: PathBuf, reason: String },
    #[error("copy: {path} could not be written: {reason}")]
    CopyFailed { path: PathBuf, reason: String },

    // ---- 77: not allowed --------------------------------------------------------------------
    #[error("no AWS credentials: {0}")]
    NoCredentials(String),
    #[error("the AWS credentials from {provider} are malformed: {field} {reason}")]
    CredentialsMalformed {
        provider: String,
        field: &'static str,
        reason: &'static str,
    },
    #[error("the AWS credentials are not usable ({code}): {detail}")]
    CredentialsRejected { code: String, detail: String },
    #[error("access denied to secret {secret}: {detail}")]
    AccessDenied { secret: String, detail: String },
    #[error("KMS refused to decrypt secret {secret}: {detail}")]
    KmsDecryptionFailed { secret: String, detail: String },
    #[error("access denied to SSM parameters {parameters}: {detail}")]
    ParameterAccessDenied { parameters: String, detail: String },
    #[error("KMS refused to decrypt SSM parameters {parameters}: {detail}")]
    ParameterKmsFailed { parameters: String, detail: String },

    // ---- 126/127: the command ---------------------------------------------------------------
    #[error("command not found: {0}")]
    CommandNotFound(String),
    #[error("cannot execute {command}: {reason}")]
    CommandNotExecutable { command: String, reason: String },
    #[error(
        "the command's arguments and environment are too large to exec ({reason}): {total} bytes \
         in {variables} variables; largest: {largest}"
    )]
    EnvironmentTooLarge {
        reason: String,
        total: usize,
        variables: usize,
        largest: String,
    },

    // ---- 74: output -------------------------------------------------------------------------
    #[error("could not write the output to stdout: {0}")]
    StdoutFailed(#[source] std::io::Error),

    // ---- 128+N: stopped ---------------------------------------------------------------------
    #[error("stopped by {signal} before the command started")]
    Stopped { signal: &'static str, number: i32 },
}

impl Error {
    /// The process exit status for this failure (see the README's table).
    /// The process's exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Stopped { number, .. } => Code::Signal.value() + number,
            other => other.kind().code().value(),
        }
    }

    pub fn kind(&self) -> Kind {
        use Error::*;
        match self {
            Usage(_) => Kind::Usage,
            NoCommand => Kind::NoCommand,
            CommandWithoutDoubleDash(_) => Kind::CommandWithoutDoubleDash,
            AppEnvMissing => Kind::AppEnvMissing,
            AppEnvUnknown(_) => Kind::AppEnvUnknown,
            RegionMissing { .. } => Kind::RegionMissing,
            RegionMalformed { .. } => Kind::RegionMalformed,
            ProfileNotFound(_) => Kind::ProfileNotFound,
            SecretNameMissing(_) => Kind::SecretNameMissing,
            SecretNameEmpty => Kind::SecretNameEmpty,
            SecretArnMalformed { .. } => Kind::SecretArnMalformed,
            ReferenceMalformed { .. } => Kind::ReferenceMalformed,
            ProtectedTarget { .. } => Kind::ProtectedTarget,
            DuplicateTarget { .. } => Kind::DuplicateTarget,
            JsonKeyMissing { .. } => Kind::JsonKeyMissing,
            ParameterNameCollision { .. } => Kind::ParameterNameCollision,
            FileKeyMissing { .. } => Kind::FileKeyMissing,
            InvalidSetting { .. } => Kind::InvalidSetting,
            TrustStoreUnusable { .. } => Kind::TrustStoreUnusable,
            EndpointMalformed { .. } => Kind::EndpointMalformed,
            RequestRejected { .. } => Kind::RequestRejected,
            ParameterRequestRejected { .. } => Kind::ParameterRequestRejected,
            NotUnicode(_) => Kind::NotUnicode,
            EnvFileMissing { .. } => Kind::EnvFileMissing,
            EnvFileUnreadable { .. } => Kind::EnvFileUnreadable,
            EnvFileRefused { .. } => Kind::EnvFileRefused,
            CopySourceUnreadable(_) => Kind::CopySourceUnreadable,
            SecretNotObject { .. } => Kind::SecretNotObject,
            SecretBinary { .. } => Kind::SecretBinary,
            InvalidKeyName { .. } => Kind::InvalidKeyName,
            NulInValue { .. } => Kind::NulInValue,
            ExportUnrepresentable { .. } => Kind::ExportUnrepresentable,
            DuplicateKey { .. } => Kind::DuplicateKey,
            RequiredMissing(_) => Kind::RequiredMissing,
            GcpJsonInvalid(_) => Kind::GcpJsonInvalid,
            SecretNotFound { .. } => Kind::SecretNotFound,
            VersionNotFound { .. } => Kind::VersionNotFound,
            ParameterNotFound { .. } => Kind::ParameterNotFound,
            Unreachable { .. } => Kind::Unreachable,
            DnsFailure { .. } => Kind::DnsFailure,
            AnswerTooLarge { .. } => Kind::AnswerTooLarge,
            Timeout { .. } => Kind::Timeout,
            Throttled { .. } => Kind::Throttled,
            ServiceFailure { .. } => Kind::ServiceFailure,
            FailoverExhausted { .. } => Kind::FailoverExhausted,
            ParameterStoreUnavailable { .. } => Kind::ParameterStoreUnavailable,
            CredentialsDirUnsafe { .. } => Kind::CredentialsDirUnsafe,
            CredentialsFileFailed { .. } => Kind::CredentialsFileFailed,
            CopyDirUnusable { .. } => Kind::CopyDirUnusable,
            CopyTargetUnsafe { .. } => Kind::CopyTargetUnsafe,
            CopyFailed { .. } => Kind::CopyFailed,
            NoCredentials(_) => Kind::NoCredentials,
            CredentialsMalformed { .. } => Kind::CredentialsMalformed,
            CredentialsRejected { .. } => Kind::CredentialsRejected,
            AccessDenied { .. } => Kind::AccessDenied,
            KmsDecryptionFailed { .. } => Kind::KmsDecryptionFailed,
            ParameterAccessDenied { .. } => Kind::ParameterAccessDenied,
            ParameterKmsFailed { .. } => Kind::ParameterKmsFailed,
            CommandNotFound(_) => Kind::CommandNotFound,
            CommandNotExecutable { .. } => Kind::CommandNotExecutable,
            EnvironmentTooLarge { .. } => Kind::EnvironmentTooLarge,
            StdoutFailed(_) => Kind::StdoutFailed,
            Stopped { .. } => Kind::Stopped,
        }
    }

    pub fn hint(&self) -> String {
        use Error::*;
        match self {
            Usage(_) => "run `shortcut-env --help` for the usage".into(),
            CommandWithoutDoubleDash(program) => format!(
                "put `--` before the command, e.g. `shortcut-env -- {program} …`; the \
                 subcommands are check, export and copy"
            ),
            NoCommand => "put the command after `--`, e.g. `shortcut-env -- uvicorn main:app`, \
                          or use `shortcut-env check` to only validate"
                .into(),
            AppEnvMissing | AppEnvUnknown(_) => format!(
                "set APP_ENV (or --app-env) to one of: {APP_ENV_VALUES}; \
                 use APP_ENV=local to run without AWS"
            ),
            RegionMissing { .. } => "set AWS_REGION (or --region) to the secret's region, e.g. \
                                     AWS_REGION=us-east-1, set region in the AWS_PROFILE's \
                                     config, or give SECRET_NAME as a full ARN"
                .into(),
            RegionMalformed { setting, .. } => format!(
                "a region is lower-case letters, digits and dashes, e.g. us-east-1; \
                 check for spaces or capitals in {setting}"
            ),
            ProfileNotFound(_) => "check the profile's name (`aws configure list-profiles`) and \
                                   AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, or unset \
                                   AWS_PROFILE to use the default credential chain"
                .into(),
            SecretNameMissing(_) => "set SECRET_NAME (or --secret) to the secret's name or ARN, \
                                     e.g. SECRET_NAME=short-cut/dev/app"
                .into(),
            SecretNameEmpty => "set SECRET_NAME to the secret's name or ARN, or unset it to use \
                                the default for APP_ENV"
                .into(),
            SecretArnMalformed { .. } => "a secret ARN looks like \
                 arn:aws:secretsmanager:us-east-1:111122223333:secret:short-cut/prod/app-AbCdEf"
                .into(),
            ReferenceMalformed { .. } => "a reference is [VAR=]NAME-or-ARN[:JSON_KEY[:VERSION_STAGE\
                                          [:VERSION_ID]]], several separated by commas, e.g. \
                                          short-cut/prod/app or DB_HOST=short-cut/prod/app:MILVUS_HOST; \
                                          an SSM parameter is [VAR=]ssm:/NAME[:VERSION|:LABEL], its \
                                          ARN, or a path ssm:/PATH/"
                .into(),
            ProtectedTarget { name, .. } => format!(
                "choose another name, or allow this one explicitly with --allow-key {name} \
                 (SHORTCUT_ENV_ALLOW_KEY) if the application really needs it"
            ),
            DuplicateTarget { option, .. } => {
                format!("give each {option} its own variable name")
            }
            JsonKeyMissing { .. } => "check the key's spelling (keys are case-sensitive) in the \
                                      reference and in the secret's JSON, and the version read"
                .into(),
            ParameterNameCollision { path, .. } => format!(
                "with --recursive every parameter under {path} is exported under its last path \
                 segment: rename one of them, or read the subpaths as references of their own \
                 (without --recursive), or name one with VAR=ssm:NAME and leave it out with \
                 --exclude"
            ),
            FileKeyMissing { .. } => "the key must be in the secret (or .env) under this name \
                                      after --only/--exclude/--map/--prefix are applied"
                .into(),
            InvalidSetting { name, .. } => {
                format!("fix {name}; see `shortcut-env --help` for its accepted values")
            }
            TrustStoreUnusable { name, .. } => format!(
                "fix or unset {name}: SSL_CERT_FILE and AWS_CA_BUNDLE name a PEM file of CA \
                 certificates, SSL_CERT_DIR directories of them, added to the system roots; see \
                 docs/troubleshooting.md#trust-store-unusable"
            ),
            EndpointMalformed { name, .. } => format!(
                "{name} is http:// or https://, a host and an optional port and path, e.g. \
                 http://localhost:4566 or https://secretsmanager.us-east-1.amazonaws.com; unset \
                 it to use the regional endpoint"
            ),
            RequestRejected { .. } => "check SECRET_NAME, SECRET_VERSION_ID (a version id is a \
                                       UUID) and SECRET_VERSION_STAGE"
                .into(),
            ParameterRequestRejected { .. } => "check the reference's :VERSION (digits) or \
                                                :LABEL, and that the name is a parameter's \
                                                (see docs/ssm.md)"
                .into(),
            NotUnicode(name) => format!("{name} must be valid UTF-8"),
            EnvFileMissing { .. } => "create the file (see .env.example), fix SHORTCUT_ENV_FILE \
                                      or --env-file, or unset it to use ./.env when present"
                .into(),
            EnvFileUnreadable { .. } => "each line of a dotenv file is KEY=value; quote values \
                                         that hold spaces, quotes or #"
                .into(),
            EnvFileRefused { .. } => "point SHORTCUT_ENV_FILE or --env-file at a regular dotenv \
                                      file of at most 1 MiB (not a pipe, device or directory)"
                .into(),
            SecretNotObject { .. } | SecretBinary { .. } => {
                "store the secret as a JSON object of KEY: value pairs (Secrets Manager console: \
                 Plaintext tab), e.g. {\"OPENAI_API_KEY\": \"...\"}; or export the whole \
                 secret as one variable with a VAR=NAME reference, e.g. SECRET_NAME=TLS_KEY=NAME"
                    .into()
            }
            InvalidKeyName { .. } => "environment variable names are letters, digits and \
                                      underscores, not starting with a digit; rename the key in \
                                      the secret, leave it out with --exclude KEY, or rename it \
                                      with --map KEY=NAME"
                .into(),
            DuplicateKey { .. } => {
                "a JSON object should name each key once; remove the duplicate from the secret"
                    .into()
            }
            NulInValue { .. } => {
                "environment values cannot hold NUL bytes; fix the value in the secret".into()
            }
            ExportUnrepresentable { .. } => "use --format json or --format shell, which carry \
                                             any value, or leave the key out with --exclude"
                .into(),
            RequiredMissing(_) => "add the keys to the secret (or .env in local mode), or fix \
                                   SHORTCUT_ENV_REQUIRE / --require"
                .into(),
            GcpJsonInvalid(_) => "GOOGLE_APPLICATION_CREDENTIALS_JSON must hold the service \
                                  account key file as a JSON string: an object with a \"type\" \
                                  field, as downloaded from the GCP console"
                .into(),
            SecretNotFound { .. } => "check SECRET_NAME (exact name, or full ARN for another \
                                      account), AWS_REGION (the secret's region), and \
                                      SECRET_VERSION_STAGE / SECRET_VERSION_ID if set"
                .into(),
            VersionNotFound { .. } => "the secret exists but not this version: check \
                                       SECRET_VERSION_STAGE / SECRET_VERSION_ID and the \
                                       reference's :VERSION_STAGE:VERSION_ID fields (`aws \
                                       secretsmanager list-secret-version-ids --secret-id \
                                       NAME` lists them)"
                .into(),
            ParameterNotFound { .. } => "check each name (case-sensitive, with its leading /), \
                                         AWS_REGION or the ARN's region, and the :VERSION or \
                                         :LABEL if given (`aws ssm get-parameter-history \
                                         --name NAME` lists them)"
                .into(),
            DnsFailure { region, .. } => format!(
                "check that the region {region} is spelled right (AWS_REGION, or the ARN's \
                 region), then the DNS of the network (VPC DNS resolution, the private DNS of a \
                 secretsmanager VPC endpoint) and AWS_ENDPOINT_URL if set"
            ),
            AnswerTooLarge { .. } => "a secret is at most 64 KiB: the answer did not come from \
                                      Secrets Manager; check AWS_ENDPOINT_URL and any proxy \
                                      (HTTPS_PROXY) on the way"
                .into(),
            Unreachable { .. } => "check the network path to Secrets Manager (security groups, \
                                   NAT gateway or a secretsmanager VPC endpoint, DNS) and \
                                   AWS_ENDPOINT_URL if set; for a certificate error, add the \
                                   private CA of a TLS-inspecting proxy with SSL_CERT_FILE"
                .into(),
            // Retries of throttled calls also end here when they outlast the deadline.
            Timeout { .. } => "check the network path to Secrets Manager (NAT gateway or VPC \
                               endpoint); if many tasks start at once, throttling retries may \
                               have used up the time: stagger the starts; raise \
                               SHORTCUT_ENV_TIMEOUT if the network is slow"
                .into(),
            Throttled { .. } => "too many tasks are starting at once for the account's \
                                 GetSecretValue quota; stagger deployments, or raise \
                                 SHORTCUT_ENV_MAX_ATTEMPTS and SHORTCUT_ENV_TIMEOUT to allow \
                                 more retries"
                .into(),
            ServiceFailure { .. } => "Secrets Manager reported an error on its side; retry the \
                                      start, and check the AWS Health Dashboard if it persists"
                .into(),
            FailoverExhausted { .. } => "every region failed, each as named: check the network \
                                         path to Secrets Manager in each region (NAT gateway or \
                                         VPC endpoints), that the secret is replicated to the \
                                         SHORTCUT_ENV_FAILOVER_REGION regions (`aws \
                                         secretsmanager describe-secret` shows its \
                                         ReplicationStatus), and the AWS Health Dashboard"
                .into(),
            ParameterStoreUnavailable { region, .. } => format!(
                "check the network path to Parameter Store in {region} (NAT gateway or an ssm \
                 VPC endpoint, DNS) and AWS_ENDPOINT_URL_SSM if set; when many tasks start at \
                 once, GetParameters' shared quota throttles them: stagger the starts, enable \
                 Parameter Store's higher throughput, or raise SHORTCUT_ENV_MAX_ATTEMPTS and \
                 SHORTCUT_ENV_TIMEOUT"
            ),
            CredentialsDirUnsafe { .. } => "point SHORTCUT_ENV_CREDENTIALS_DIR at a directory \
                                            owned by this user, not writable by group or others \
                                            (chmod 700), and not a symlink"
                .into(),
            CredentialsFileFailed { .. } => "make SHORTCUT_ENV_CREDENTIALS_DIR a writable \
                                             directory (with readonlyRootFilesystem, mount a \
                                             volume there)"
                .into(),
            CopySourceUnreadable(_) => "`copy` reads the binary the kernel runs from \
                                        /proc/self/exe: run it where /proc is mounted (every \
                                        container runtime mounts it)"
                .into(),
            CopyDirUnusable { .. } => "give `copy` an existing directory, by its real path \
                                       (a symlink to it is refused), writable by this user, \
                                       e.g. an emptyDir volume mounted at /shared"
                .into(),
            CopyTargetUnsafe { .. } => "remove what is at that name (the copy replaces only a \
                                        regular file, never a symlink or directory), or copy \
                                        into another directory"
                .into(),
            CopyFailed { .. } => "make the directory writable by this user, with room for \
                                  the binary (an emptyDir's sizeLimit of 16Mi is enough); with \
                                  readonlyRootFilesystem, copy into a mounted volume"
                .into(),
            NoCredentials(_) => "on ECS, set the task definition's taskRoleArn; on EKS, \
                                 annotate the ServiceAccount with eks.amazonaws.com/role-arn \
                                 (IRSA) or create a Pod Identity association; locally, run \
                                 `aws sso login` or set AWS_PROFILE, or export \
                                 AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; or use APP_ENV=local \
                                 with a .env file"
                .into(),
            CredentialsMalformed { provider, .. } => format!(
                "the credentials from {provider} hold a character that cannot be sent (often a \
                 \\r from an env file with CRLF line ends, or a pasted newline): fix them at \
                 the source ({})",
                credentials_source_hint(provider)
            ),
            CredentialsRejected { .. } => "the credentials are invalid or expired: refresh them \
                                           (`aws sso login`, new keys), and check the clock"
                .into(),
            AccessDenied { .. } => "check the task role (taskRoleArn): its policy must allow \
                                    secretsmanager:GetSecretValue on the secret's ARN pattern \
                                    (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-*), and \
                                    the secret's resource policy for cross-account access"
                .into(),
            KmsDecryptionFailed { .. } => "check the KMS key policy of the secret's key: the \
                                           task role needs kms:Decrypt (with kms:ViaService = \
                                           secretsmanager.REGION.amazonaws.com)"
                .into(),
            ParameterAccessDenied { .. } => "the task role needs ssm:GetParameters on each \
                                             parameter's ARN (arn:aws:ssm:REGION:ACCOUNT:\
                                             parameter/NAME) and, for an ssm:/PATH/ reference, \
                                             ssm:GetParametersByPath on the path's ARN \
                                             (parameter/PATH, no trailing slash); a SecureString \
                                             also needs kms:Decrypt on its key (docs/ssm.md#iam)"
                .into(),
            ParameterKmsFailed { .. } => "a SecureString is decrypted with its KMS key: the task \
                                          role needs kms:Decrypt on that key (with \
                                          kms:ViaService = ssm.REGION.amazonaws.com), and the \
                                          key must be enabled (docs/ssm.md#iam)"
                .into(),
            CommandNotFound(_) => "check the command's spelling and that it is installed on PATH \
                                   in the image"
                .into(),
            CommandNotExecutable { .. } => "check the file's execute permission (chmod +x), its \
                                            #! line, and that it is built for this platform"
                .into(),
            EnvironmentTooLarge { .. } => "the kernel caps one variable at 128 KiB and all \
                                           arguments and variables together at a quarter of the \
                                           stack limit (ulimit -s, at most 6 MiB): pass a large \
                                           value as a file (--file KEY=VAR), or leave keys out \
                                           with --exclude"
                .into(),
            StdoutFailed(_) => "check where stdout goes: a full disk, a closed pipe or a \
                                read-only file; the output is incomplete"
                .into(),
            Stopped { .. } => "a stop signal (docker stop, a deployment, Ctrl-C) arrived while \
                               shortcut-env was preparing the start: nothing was run and its \
                               files were removed; if the start was stuck, see the error it \
                               would have reached with `shortcut-env check`"
                .into(),
        }
    }
}

/// Where credentials of the SDK provider `provider` come from, for the hint.
fn credentials_source_hint(provider: &str) -> &'static str {
    match provider {
        "EnvironmentVariable" => {
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN in the environment"
        }
        "EcsContainer" => "the container-credentials endpoint (AWS_CONTAINER_CREDENTIALS_*_URI)",
        "ProfileFile" => "the profile in AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE",
        "CredentialProcess" => "the output of the profile's credential_process",
        "WebIdentityToken" => "the web identity role (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)",
        "SSO" | "Sso" => "the SSO cache: run `aws sso login` again",
        _ => "the provider that returned them",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_documented_table() {
        let cases: Vec<(Error, i32)> = vec![
            (Error::Usage("x".into()), 64),
            (Error::NoCommand, 64),
            (Error::AppEnvMissing, 78),
            (
                Error::RegionMissing {
                    app_env: "production",
                },
                78,
            ),
            (
                Error::RegionMalformed {
                    setting: "AWS_REGION",
                    value: "US".into(),
                },
                78,
            ),
            (
                Error::SecretNotObject {
                    secret: "s".into(),
                    found: "an array".into(),
                },
                65,
            ),
            (
                Error::SecretNotFound {
                    secret: "s".into(),
                    region: "r".into(),
                    detail: "d".into(),
                },
                66,
            ),
            (
                Error::Timeout {
                    secret: "s".into(),
                    seconds: 5.0,
                },
                69,
            ),
            (
                Error::CredentialsDirUnsafe {
                    path: "/tmp".into(),
                    reason: "x".into(),
                },
                73,
            ),
            (
                Error::AccessDenied {
                    secret: "s".into(),
                    detail: "d".into(),
                },
                77,
            ),
            (
                Error::KmsDecryptionFailed {
                    secret: "s".into(),
                    detail: "d".into(),
                },
                77,
            ),
            (Error::NoCredentials("x".into()), 77),
            (Error::CommandNotFound("x".into()), 127),
            (
                Error::CommandNotExecutable {
                    command: "x".into(),
                    reason: "y".into(),
                },
                126,
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.exit_code(), expected, "{error:?}");
            assert!(!error.hint().is_empty());
        }
    }

    #[test]
    fn hints_point_at_what_to_check() {
        let denied = Error::AccessDenied {
            secret: "s".into(),
            detail: "d".into(),
        };
        assert!(denied.hint().contains("task role"));
        assert!(denied.hint().contains("secret:NAME-*"));
        let missing = Error::SecretNotFound {
            secret: "s".into(),
            region: "r".into(),
            detail: "d".into(),
        };
        assert!(missing.hint().contains("SECRET_NAME"));
        assert!(missing.hint().contains("AWS_REGION"));
        let kms = Error::KmsDecryptionFailed {
            secret: "s".into(),
            detail: "d".into(),
        };
        assert!(kms.hint().contains("key policy"));
    }
}
