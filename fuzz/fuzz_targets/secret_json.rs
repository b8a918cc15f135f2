//! The secret's JSON text → entries → the command's environment, as a start does it, plus the
//! ways a reference can select from it and the GCP key check. No input may panic, and what
//! comes out must obey the rules: valid names, no NUL, protected names untouched.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shortcut_env::envmap::{self, Policy};
use shortcut_env::reference;
use shortcut_env::vars::Vars;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let inherited: Vars = [
        ("PATH", "/usr/bin:/bin"),
        ("HOME", "/home/app"),
        ("KEEP", "x"),
    ]
    .into_iter()
    .collect();
    if let Ok(entries) = envmap::parse_secret("fuzz/secret", text) {
        // It was a JSON object: the same text is one for serde_json too.
        assert!(matches!(
            serde_json::from_str::<serde_json::Value>(text),
            Ok(serde_json::Value::Object(_))
        ));
        for (key, value) in &entries.pairs {
            assert!(envmap::is_valid_name(key), "{key:?}");
            assert!(!value.expose().contains('\0'), "{key}");
        }
        let built = envmap::build(
            &inherited,
            std::slice::from_ref(&entries),
            &Policy::default(),
        );
        assert_eq!(built.env.get("PATH"), inherited.get("PATH"));
        assert_eq!(built.env.get("HOME"), inherited.get("HOME"));
        for key in &built.applied {
            assert!(!envmap::is_protected(key), "{key}");
            assert!(built.env.contains(key), "{key}");
        }
    }
    for selector in ["fuzz/secret:KEY", "VAR=fuzz/secret:KEY", "VAR=fuzz/secret"] {
        if let Ok(selector) = reference::parse(selector) {
            if let Ok(entries) = envmap::select(&selector, "fuzz/secret", text) {
                for (key, value) in &entries.pairs {
                    assert!(envmap::is_valid_name(key), "{key:?}");
                    assert!(!value.expose().contains('\0'), "{key}");
                }
            }
        }
    }
    let _ = shortcut_env::materialize::validate_gcp_json(text);
});
