//! The sources: where payloads come from. Each returns raw payloads
//! (`shortcut_env_core::payload::Payload`); turning them into entries is the core's job, so a
//! new source joins here without touching the pipeline.

pub(crate) mod dotenv;
pub(crate) mod https;
pub(crate) mod secretsmanager;
pub(crate) mod ssm;
pub(crate) mod tls;

use crate::config::{Config, Source};
use crate::error::Error;
use crate::payload::{Fetched, Payload};
use crate::vars::Vars;

/// What every reference of the configuration gave, one result per reference in configuration
/// order (local mode's dotenv file is its one reference), so that the plan reports the first
/// failure in that order whichever call finished first. The outer error is a failure before
/// any reference is read: the region, the credentials.
pub(crate) fn fetch(config: &Config, vars: &Vars) -> Result<Vec<Fetched>, Error> {
    match &config.source {
        Source::Local { env_file, explicit } => {
            Ok(vec![dotenv::read_env_file(env_file, *explicit).map(
                |text| {
                    vec![Payload::DotEnv {
                        path: env_file.clone(),
                        text,
                    }]
                },
            )])
        }
        Source::Aws(aws) => {
            let trust =
                tls::Sources::system(|name| vars.get(name).map(std::ffi::OsStr::to_os_string));
            secretsmanager::fetch(aws, &trust)
        }
    }
}

/// `error` and each error after it in its chain. After an `io::Error` the next one is its
/// payload (`io::Error::source` skips the payload and returns the payload's source).
pub(crate) fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |&error| {
        match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        }
    })
}

/// The endpoint variables, checked before any call.
pub(crate) fn check_endpoints(vars: &Vars) -> Result<(), Error> {
    for name in ENDPOINT_VARS {
        if let Some(url) = vars.setting(name)?.filter(|url| !url.is_empty()) {
            validate_endpoint(name, url)?;
        }
    }
    Ok(())
}

/// The endpoint variables the SDK reads for Secrets Manager (and AWS_ENDPOINT_URL for every
/// service), checked before any call: the SDK would otherwise send a malformed one to DNS, or
/// retry it until the deadline.
pub(crate) const ENDPOINT_VARS: &[&str] = &[
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_SSM",
];

/// An endpoint URL as the SDK can use it: `http` or `https`, a host, a valid port, a path if
/// wanted; no user name or password (the SDK signs requests, it does not send userinfo), no
/// query or fragment.
pub(crate) fn validate_endpoint(name: &'static str, text: &str) -> Result<(), Error> {
    let malformed = |reason: &str| Error::EndpointMalformed {
        name,
        value: text.to_string(),
        reason: reason.to_string(),
    };
    if has_control(text) || text.contains(char::is_whitespace) {
        return Err(malformed("it holds a space or a control character"));
    }
    let url = url::Url::parse(text).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => {
            malformed("no scheme: write http:// or https:// before the host")
        }
        url::ParseError::InvalidPort => malformed("the port is not a number from 1 to 65535"),
        other => malformed(&other.to_string()),
    })?;
    // `localhost:4566` parses as the scheme `localhost`: say what is really missing.
    if !text.contains("://") {
        return Err(malformed(
            "no scheme: write http:// or https:// before the host",
        ));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(malformed("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(malformed("no host"));
    }
    if url.port() == Some(0) {
        return Err(malformed("the port is not a number from 1 to 65535"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: the password would reach the logs.
        return Err(Error::EndpointMalformed {
            name,
            value: "(not shown)".into(),
            reason: "a user name or password has no place in an endpoint URL".into(),
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(malformed(
            "a query (?…) or fragment (#…) has no place in an endpoint URL",
        ));
    }
    Ok(())
}

/// A control character (newline, carriage return, escape, …) in a value sent as an HTTP
/// header would forge log lines or break the request.
fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_are_checked() {
        for good in [
            "http://127.0.0.1:4566",
            "https://secretsmanager.us-east-1.amazonaws.com",
            "http://localhost:4566/path/",
            "https://[::1]:8443",
        ] {
            assert!(
                validate_endpoint("AWS_ENDPOINT_URL", good).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "localhost:4566",
            "127.0.0.1:4566",
            "not a url",
            "http://localhost:99999",
            "http://localhost:port",
            "http://localhost:0",
            "ftp://localhost",
            "file:///etc/passwd",
            "http://",
            "https://user:pw@host",
            "http://host/?x=1",
            "http://host\n",
            "",
        ] {
            let err = validate_endpoint("AWS_ENDPOINT_URL", bad).unwrap_err();
            assert_eq!(
                (err.kind().as_str(), err.exit_code()),
                ("endpoint-malformed", 78),
                "{bad}"
            );
        }
        let err = validate_endpoint("AWS_ENDPOINT_URL", "https://user:pw-marker@host").unwrap_err();
        assert!(!err.to_string().contains("pw-marker"), "{err}");
    }

    #[test]
    fn the_endpoint_variables_are_checked_before_any_call() {
        let vars: Vars = [("AWS_ENDPOINT_URL_SECRETS_MANAGER", "localhost:4566")]
            .into_iter()
            .collect();
        let err = check_endpoints(&vars).unwrap_err();
        assert_eq!(err.kind(), "endpoint-malformed");
        assert!(check_endpoints(&Vars::default()).is_ok());
    }
}
