//! Local mode's dotenv files: any text, parsed and mapped to the command's environment as the
//! start would, must not panic, and no message may show a value.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use shortcut_env_core::{envmap, payload, vars::Vars};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let entries = match payload::parse_env_text(Path::new(".env"), text) {
        Ok(entries) => entries,
        Err(error) => {
            // A syntax error names a line and a column, never the line's text.
            let shown = format!("{error} {}", error.hint());
            for line in text.lines().filter(|l| l.len() >= 12) {
                assert!(!shown.contains(line), "a line reached the message: {shown}");
            }
            return;
        }
    };
    // Keys are shown (escaped and cut short); a value that is also part of a key is not told
    // apart from it, so only the others are looked for.
    let keys: Vec<&str> = entries.pairs.iter().map(|(k, _)| k.as_str()).collect();
    let values: Vec<String> = entries
        .pairs
        .iter()
        .map(|(_, v)| v.expose().to_string())
        .filter(|v| !keys.iter().any(|k| k.contains(v.as_str())))
        .collect();
    match envmap::build(&Vars::default(), &[entries], &envmap::Policy::default()) {
        Ok(built) => {
            for name in &built.applied {
                assert!(envmap::is_valid_name(name), "{name:?}");
            }
        }
        Err(error) => {
            let shown = format!("{error} {} {error:?}", error.hint());
            for value in values.iter().filter(|v| v.len() >= 8) {
                assert!(
                    !shown.contains(value.as_str()),
                    "a value reached the message: {shown}"
                );
            }
        }
    }
});
