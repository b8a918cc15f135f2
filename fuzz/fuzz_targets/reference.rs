//! Secret references (`SECRET_NAME`): `[VAR=]SECRET[:JSON_KEY[:VERSION_STAGE[:VERSION_ID]]]`,
//! names and ARNs, comma-separated lists. No input may panic, and an accepted reference must be
//! one the rest of the pipeline can use.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shortcut_env_core::{config, envmap, reference};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = reference::parse(text) {
        assert!(!parsed.secret_id.is_empty());
        assert!(!parsed.secret_id.contains(','));
        if let Some(target) = &parsed.target {
            assert!(envmap::is_valid_name(target), "{target:?}");
        }
        if let Some(region) = &parsed.region {
            assert!(config::validate_region(region).is_ok(), "{region:?}");
        }
        // The id alone names the same secret (a name holding `=` reads as VAR=, by design).
        if !parsed.secret_id.contains('=') {
            let again = reference::parse(&parsed.secret_id);
            assert_eq!(
                again.map(|r| r.secret_id).ok().as_deref(),
                Some(parsed.secret_id.as_str())
            );
        }
    }
    if let Ok(list) = reference::parse_list(text) {
        assert!(list.len() <= text.split(',').count());
    }
});
