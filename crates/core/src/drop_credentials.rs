//! `--drop-aws-credentials` (`SHORTCUT_ENV_DROP_AWS_CREDENTIALS`): the command's environment
//! without the variables through which the wrapper got its AWS credentials.
//!
//! The wrapper needs AWS credentials to fetch; the application often needs none, and then the
//! task role's keys (or the way to get them) are only something for a compromised application
//! to steal. So, after the fetch, the variables of every credential source the SDKs read from
//! the environment are removed from what the command inherits. Pure: it works on [`Vars`].
//!
//! What stays, on purpose:
//! - `AWS_PROFILE`, `AWS_DEFAULT_PROFILE`, `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`:
//!   without them an SDK does not stop reading profiles, it falls back to `~/.aws` and its
//!   `default` profile, which could give the command *another* identity than the one chosen.
//!   Keep the profile files out of the container instead.
//! - `AWS_REGION`, `AWS_DEFAULT_REGION`, `AWS_ACCOUNT_ID`, endpoints: not credentials.
//! - A protected name the secret itself set under `--allow-key` (e.g. keys of another account
//!   stored in the secret for the application): that is the application's own configuration,
//!   asked for explicitly, not the wrapper's credentials.
//!
//! What this cannot prevent (docs/security.md): the instance metadata service on EC2 (IMDS
//! answers any process on the host), an ECS or EKS credentials endpoint reached with a URI and
//! token learned some other way, and a mounted token file (IRSA, Pod Identity) that is still
//! readable by the command's user.

use crate::vars::Vars;

/// The variables removed, each one a credential or the way to one:
pub const AWS_CREDENTIAL_VARS: &[&str] = &[
    // static or temporary keys (AWS_SECURITY_TOKEN: the older SDKs' name for the session token;
    // AWS_CREDENTIAL_EXPIRATION: the keys' expiry, meaningless without them);
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    // the container-credentials endpoint: ECS task role (RELATIVE_URI), EKS Pod Identity and
    // others (FULL_URI with its authorization token, or the token's file);
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    // web identity (EKS IRSA): the token file and the role it is exchanged for.
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
];

/// Removes [`AWS_CREDENTIAL_VARS`] from `env`, except the names in `kept` (those the sources
/// set, see the module's doc). Returns the names removed, in the list's order.
pub fn drop_aws_credentials(env: &mut Vars, kept: &[String]) -> Vec<String> {
    AWS_CREDENTIAL_VARS
        .iter()
        .filter(|name| !kept.iter().any(|k| k == *name))
        .filter(|name| env.remove(name).is_some())
        .map(std::string::ToString::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_every_credential_variable_and_nothing_else() {
        let mut env: Vars = AWS_CREDENTIAL_VARS
            .iter()
            .map(|name| (*name, "x"))
            .chain([
                ("AWS_REGION", "us-east-1"),
                ("AWS_PROFILE", "p"),
                ("PATH", "/bin"),
            ])
            .collect();
        let dropped = drop_aws_credentials(&mut env, &[]);
        assert_eq!(dropped, AWS_CREDENTIAL_VARS);
        let left: Vec<_> = env
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["AWS_PROFILE", "AWS_REGION", "PATH"]);
    }

    #[test]
    fn keeps_what_a_source_set_and_names_only_what_was_there() {
        let mut env: Vars = [("AWS_ACCESS_KEY_ID", "from-secret"), ("AWS_ROLE_ARN", "r")]
            .into_iter()
            .collect();
        let dropped = drop_aws_credentials(&mut env, &["AWS_ACCESS_KEY_ID".to_string()]);
        assert_eq!(dropped, ["AWS_ROLE_ARN"]);
        assert!(env.contains("AWS_ACCESS_KEY_ID"));
    }
}
