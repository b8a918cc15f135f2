//! Credentials from any provider (environment, container endpoint, credential_process, …) are
//! checked before anything is signed: whatever bytes a provider hands back, the check must not
//! panic, an accepted set must be one the signer can put into HTTP headers without the SDK's own
//! `expect`s firing, and a refusal must never show the secret key or the token.

#![no_main]

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use shortcut_env_core::error::Error;
use shortcut_env_core::payload;

const SECRET_MARK: &str = "SecretMarkQ7";
const TOKEN_MARK: &str = "TokenMarkZ9";

fuzz_target!(|data: &[u8]| {
    // Three fields separated by NUL: key id, secret key, optional session token.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut fields = text.splitn(3, '\0');
    let key_id = fields.next().unwrap_or_default();
    // Marked, so that a leak is told apart from a value that happens to spell a word of the
    // message ("provider"); the printable prefix keeps each field's validity as it was.
    let secret = format!("{SECRET_MARK}{}", fields.next().unwrap_or_default());
    let token = fields.next().map(|t| format!("{TOKEN_MARK}{t}"));
    match payload::credential_problem(key_id, &secret, token.as_deref()) {
        None => {
            let authorization = format!(
                "AWS4-HMAC-SHA256 Credential={key_id}/20260101/us-east-1/secretsmanager/aws4_request"
            );
            assert!(HeaderValue::from_str(&authorization).is_ok(), "{key_id:?}");
            if let Some(token) = &token {
                assert!(HeaderValue::from_str(token).is_ok(), "{token:?}");
            }
        }
        Some((field, reason)) => {
            let error = Error::CredentialsMalformed {
                provider: "Fuzz".into(),
                field,
                reason,
            };
            let shown = format!("{error} {} {error:?}", error.hint());
            for mark in [SECRET_MARK, TOKEN_MARK] {
                assert!(
                    !shown.contains(mark),
                    "a credential reached the message: {shown}"
                );
            }
        }
    }
});
