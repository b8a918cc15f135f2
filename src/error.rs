//! The one error type of the wrapper.
//!
//! Every failure the wrapper can report is a variant here, and every variant knows its exit code
//! (the sysexits-style table in the README) and a hint that tells the operator what to check.
//! Messages name keys, secret ids, paths and AWS error codes, never a secret value: the variants
//! that carry text from elsewhere only carry text that cannot hold one (service error messages,
//! I/O errors, the name of a key).

use std::path::PathBuf;

/// Exit codes of the wrapper's own failures; they never collide with 126/127/128+N of the command.
pub mod code {
    pub const USAGE: i32 = 64;
    pub const DATA: i32 = 65;
    pub const NOT_FOUND: i32 = 66;
    pub const UNAVAILABLE: i32 = 69;
    pub const CANT_CREATE: i32 = 73;
    /// EX_IOERR: `check` or `export` could not write its output.
    pub const IO_ERROR: i32 = 74;
    pub const NOT_ALLOWED: i32 = 77;
    pub const CONFIG: i32 = 78;
    pub const NOT_EXECUTABLE: i32 = 126;
    pub const COMMAND_NOT_FOUND: i32 = 127;
    /// A stop signal before the command started exits with this plus the signal's number.
    pub const SIGNAL_BASE: i32 = 128;
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
    /// `SSL_CERT_FILE`, `AWS_CA_BUNDLE` or `SSL_CERT_DIR` names nothing usable (src/tls.rs).
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
    #[error("{0} is not valid Unicode")]
    NotUnicode(&'static str),
    #[error("env file {path} does not exist")]
    EnvFileMissing { path: PathBuf },
    #[error("env file {path} could not be read: {reason}")]
    EnvFileUnreadable { path: PathBuf, reason: String },
    #[error("env file {path} is not read: {reason}")]
    EnvFileRefused { path: PathBuf, reason: String },

    // ---- 65: the secret's data is unusable --------------------------------------------------
    #[error("secret {secret} is not a JSON object: {found}")]
    SecretNotObject { secret: String, found: String },
    #[error("secret {secret} holds binary data, not a JSON object")]
    SecretBinary { secret: String },
    /// `key` is as [`crate::envmap::shown_key`] shows it: escaped and cut short.
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

    // ---- 73: the credentials file could not be created safely -------------------------------
    #[error("credentials directory {path} is unsafe: {reason}")]
    CredentialsDirUnsafe { path: PathBuf, reason: String },
    #[error("credentials file {path} could not be written: {reason}")]
    CredentialsFileFailed { path: PathBuf, reason: String },

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
    StdoutFailed(String),

    // ---- 128+N: stopped ---------------------------------------------------------------------
    #[error("stopped by {signal} before the command started")]
    Stopped { signal: &'static str, number: i32 },
}

impl Error {
    /// The process exit status for this failure (see the README's table).
    pub fn exit_code(&self) -> i32 {
        use Error::*;
        match self {
            Usage(_) | NoCommand | CommandWithoutDoubleDash(_) => code::USAGE,
            AppEnvMissing
            | AppEnvUnknown(_)
            | RegionMissing { .. }
            | RegionMalformed { .. }
            | ProfileNotFound(_)
            | SecretNameMissing(_)
            | SecretNameEmpty
            | SecretArnMalformed { .. }
            | ReferenceMalformed { .. }
            | ProtectedTarget { .. }
            | DuplicateTarget { .. }
            | InvalidSetting { .. }
            | TrustStoreUnusable { .. }
            | EndpointMalformed { .. }
            | RequestRejected { .. }
            | NotUnicode(_)
            | EnvFileMissing { .. }
            | EnvFileUnreadable { .. }
            | EnvFileRefused { .. } => code::CONFIG,
            SecretNotObject { .. }
            | SecretBinary { .. }
            | InvalidKeyName { .. }
            | NulInValue { .. }
            | ExportUnrepresentable { .. }
            | DuplicateKey { .. }
            | RequiredMissing(_)
            | JsonKeyMissing { .. }
            | FileKeyMissing { .. }
            | GcpJsonInvalid(_) => code::DATA,
            SecretNotFound { .. } | VersionNotFound { .. } => code::NOT_FOUND,
            Unreachable { .. }
            | DnsFailure { .. }
            | AnswerTooLarge { .. }
            | Timeout { .. }
            | Throttled { .. }
            | ServiceFailure { .. } => code::UNAVAILABLE,
            CredentialsDirUnsafe { .. } | CredentialsFileFailed { .. } => code::CANT_CREATE,
            NoCredentials(_)
            | CredentialsMalformed { .. }
            | CredentialsRejected { .. }
            | AccessDenied { .. }
            | KmsDecryptionFailed { .. } => code::NOT_ALLOWED,
            CommandNotFound(_) => code::COMMAND_NOT_FOUND,
            CommandNotExecutable { .. } | EnvironmentTooLarge { .. } => code::NOT_EXECUTABLE,
            StdoutFailed(_) => code::IO_ERROR,
            Stopped { number, .. } => code::SIGNAL_BASE + number,
        }
    }

    /// A stable, kebab-case name for the failure: the `error` field of JSON logs and the anchor
    /// of its entry in docs/troubleshooting.md.
    pub fn kind(&self) -> &'static str {
        use Error::*;
        match self {
            Usage(_) => "usage",
            NoCommand => "no-command",
            CommandWithoutDoubleDash(_) => "command-without-double-dash",
            AppEnvMissing => "app-env-missing",
            AppEnvUnknown(_) => "app-env-unknown",
            RegionMissing { .. } => "region-missing",
            RegionMalformed { .. } => "region-malformed",
            ProfileNotFound(_) => "profile-not-found",
            SecretNameMissing(_) => "secret-name-missing",
            SecretNameEmpty => "secret-name-empty",
            SecretArnMalformed { .. } => "secret-arn-malformed",
            ReferenceMalformed { .. } => "reference-malformed",
            ProtectedTarget { .. } => "protected-target",
            DuplicateTarget { .. } => "duplicate-target",
            JsonKeyMissing { .. } => "json-key-missing",
            FileKeyMissing { .. } => "file-key-missing",
            InvalidSetting { .. } => "invalid-setting",
            TrustStoreUnusable { .. } => "trust-store-unusable",
            EndpointMalformed { .. } => "endpoint-malformed",
            RequestRejected { .. } => "request-rejected",
            NotUnicode(_) => "not-unicode",
            EnvFileMissing { .. } => "env-file-missing",
            EnvFileUnreadable { .. } => "env-file-unreadable",
            EnvFileRefused { .. } => "env-file-refused",
            SecretNotObject { .. } => "secret-not-object",
            SecretBinary { .. } => "secret-binary",
            InvalidKeyName { .. } => "invalid-key-name",
            NulInValue { .. } => "nul-in-value",
            ExportUnrepresentable { .. } => "export-unrepresentable",
            DuplicateKey { .. } => "duplicate-key",
            RequiredMissing(_) => "required-missing",
            GcpJsonInvalid(_) => "gcp-json-invalid",
            SecretNotFound { .. } => "secret-not-found",
            VersionNotFound { .. } => "version-not-found",
            Unreachable { .. } => "unreachable",
            DnsFailure { .. } => "dns-failure",
            AnswerTooLarge { .. } => "answer-too-large",
            Timeout { .. } => "timeout",
            Throttled { .. } => "throttled",
            ServiceFailure { .. } => "service-failure",
            CredentialsDirUnsafe { .. } => "credentials-dir-unsafe",
            CredentialsFileFailed { .. } => "credentials-file-failed",
            NoCredentials(_) => "no-credentials",
            CredentialsMalformed { .. } => "credentials-malformed",
            CredentialsRejected { .. } => "credentials-rejected",
            AccessDenied { .. } => "access-denied",
            KmsDecryptionFailed { .. } => "kms-decryption-failed",
            CommandNotFound(_) => "command-not-found",
            CommandNotExecutable { .. } => "command-not-executable",
            EnvironmentTooLarge { .. } => "environment-too-large",
            StdoutFailed(_) => "stdout-failed",
            Stopped { .. } => "stopped",
        }
    }

    /// What the operator should check; printed as the `hint:` line.
    pub fn hint(&self) -> String {
        use Error::*;
        match self {
            Usage(_) => "run `shortcut-env --help` for the usage".into(),
            CommandWithoutDoubleDash(program) => format!(
                "put `--` before the command, e.g. `shortcut-env -- {program} …`; the \
                 subcommands are check and export"
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
                                          short-cut/prod/app or DB_HOST=short-cut/prod/app:MILVUS_HOST"
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
            CredentialsDirUnsafe { .. } => "point SHORTCUT_ENV_CREDENTIALS_DIR at a directory \
                                            owned by this user, not writable by group or others \
                                            (chmod 700), and not a symlink"
                .into(),
            CredentialsFileFailed { .. } => "make SHORTCUT_ENV_CREDENTIALS_DIR a writable \
                                             directory (with readonlyRootFilesystem, mount a \
                                             volume there)"
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
