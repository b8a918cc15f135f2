//! Keeps docs/troubleshooting.md in step with the code, so that it cannot drift.
//!
//! It reads `src/error.rs` as text (the variants cannot be enumerated at run time) and checks that:
//! - every kind returned by `Error::kind()` has exactly one entry in docs/troubleshooting.md, a
//!   `### <kind>` heading (its anchor is the kind);
//! - each entry states the exit code that `Error::exit_code()` gives the variant;
//! - each entry quotes the message as printed (the longest fixed part of its `#[error]` text);
//! - the doc has no entry for a kind that no longer exists;
//! - every exit code of the README's table is documented, and every code in `error::code` is in
//!   the README's table.
//!
//! When you add a variant: give it a kind, an exit code and a hint in src/error.rs, then add its
//! `### kind` entry to docs/troubleshooting.md under the section of its exit code.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

const ERROR_RS: &str = "src/error.rs";
const DOC: &str = "docs/troubleshooting.md";
const README: &str = "README.md";

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The body of `fn <name>` in `source`: from its opening brace to the matching closing one.
fn fn_body<'a>(source: &'a str, name: &str) -> &'a str {
    let signature = format!("fn {name}(");
    let start = source
        .find(&signature)
        .unwrap_or_else(|| panic!("{ERROR_RS}: `{signature}` not found"));
    block_at(source, start, &signature)
}

/// The text inside the first `{ … }` block that starts at or after `from`.
fn block_at<'a>(source: &'a str, from: usize, what: &str) -> &'a str {
    let open = from
        + source[from..]
            .find('{')
            .unwrap_or_else(|| panic!("{ERROR_RS}: no block after `{what}`"));
    let mut depth = 0usize;
    for (offset, c) in source[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &source[open + 1..open + offset];
                }
            }
            _ => {}
        }
    }
    panic!("{ERROR_RS}: unbalanced braces after `{what}`")
}

/// Identifiers and `=>` arrows of a piece of Rust, skipping string literals and comments.
fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"' {
            let (literal, end) = string_literal(&chars, i);
            found.push(format!("\"{literal}"));
            i = end;
        } else if c == '=' && chars.get(i + 1) == Some(&'>') {
            found.push("=>".into());
            i += 2;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            found.push(chars[start..i].iter().collect());
        } else {
            i += 1;
        }
    }
    found
}

/// The unescaped text of the string literal whose opening quote is at `start`, and the index
/// just after its closing quote. Handles `\"`, `\\` and line continuations (`\` + newline).
fn string_literal(chars: &[char], start: usize) -> (String, usize) {
    let mut text = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '"' => return (text, i + 1),
            '\\' => {
                match chars.get(i + 1) {
                    Some('\n') => {
                        i += 2;
                        while i < chars.len() && chars[i].is_whitespace() {
                            i += 1;
                        }
                        continue;
                    }
                    Some('n') => text.push('\n'),
                    Some(&other) => text.push(other),
                    None => {}
                }
                i += 2;
            }
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    panic!("{ERROR_RS}: unterminated string literal")
}

/// A variant name: CamelCase (an upper-case first letter and some lower-case ones), not `Error`.
fn is_variant(token: &str) -> bool {
    token.starts_with(|c: char| c.is_ascii_uppercase())
        && token.chars().any(|c| c.is_ascii_lowercase())
        && token != "Error"
        && token != "Self"
}

/// `variant -> value` from a `match self { A | B(..) => <value>, … }` body, where `value` is
/// taken by `pick` from the tokens of each arm's expression.
fn match_arms(
    body: &str,
    what: &str,
    pick: impl Fn(&[String]) -> Option<String>,
) -> BTreeMap<String, String> {
    let start = body
        .find("match self")
        .unwrap_or_else(|| panic!("{ERROR_RS}: `{what}` has no `match self`"));
    let arms = block_at(body, start, "match self");
    let tokens = tokens(arms);
    let mut map = BTreeMap::new();
    let mut patterns: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "=>" {
            assert!(
                !patterns.is_empty(),
                "{ERROR_RS}: `{what}` has an arm without a named variant (a `_` catch-all?); \
                 name every variant so that this test sees it"
            );
            // The expression runs until the next arm's first variant name followed by a
            // pattern and an arrow; it is enough to stop at the next variant-looking token that
            // is followed (possibly after more variant names) by `=>`.
            let mut end = i + 1;
            while end < tokens.len() && !starts_next_arm(&tokens[end..]) {
                end += 1;
            }
            let value = pick(&tokens[i + 1..end]).unwrap_or_else(|| {
                panic!(
                    "{ERROR_RS}: `{what}`: cannot read the value of the arm for {patterns:?} \
                     (tokens {:?})",
                    &tokens[i + 1..end]
                )
            });
            for variant in patterns.drain(..) {
                assert!(
                    map.insert(variant.clone(), value.clone()).is_none(),
                    "{ERROR_RS}: `{what}`: {variant} appears in two arms"
                );
            }
            i = end;
        } else {
            if is_variant(&tokens[i]) {
                patterns.push(tokens[i].clone());
            }
            i += 1;
        }
    }
    assert!(
        patterns.is_empty(),
        "{ERROR_RS}: `{what}`: trailing variants {patterns:?}"
    );
    map
}

/// Whether `rest` begins a new arm: variant names (and pattern noise) up to an `=>`, with no
/// string literal or `code` path in between.
fn starts_next_arm(rest: &[String]) -> bool {
    if !is_variant(&rest[0]) {
        return false;
    }
    for token in rest {
        if token == "=>" {
            return true;
        }
        if token.starts_with('"') || token == "code" {
            return false;
        }
    }
    false
}

/// The `code::NAME` constants: `NAME -> value`.
fn exit_code_constants(source: &str) -> BTreeMap<String, i32> {
    let start = source
        .find("pub mod code")
        .unwrap_or_else(|| panic!("{ERROR_RS}: `pub mod code` not found"));
    let body = block_at(source, start, "pub mod code");
    body.lines()
        .filter_map(|line| {
            let line = line.trim().strip_prefix("pub const ")?;
            let (name, rest) = line.split_once(':')?;
            let value = rest.split_once('=')?.1.trim().trim_end_matches(';').trim();
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("{ERROR_RS}: code::{name} = {value} is not a number"));
            Some((name.trim().to_string(), value))
        })
        .collect()
}

/// `variant -> the longest fixed part of its #[error("…")] message` (may be empty).
fn messages(source: &str) -> BTreeMap<String, String> {
    let start = source
        .find("pub enum Error")
        .unwrap_or_else(|| panic!("{ERROR_RS}: `pub enum Error` not found"));
    let body = block_at(source, start, "pub enum Error");
    let tokens = tokens(body);
    let mut found = BTreeMap::new();
    let mut pending: Option<String> = None;
    let mut depth_hint = false;
    for token in &tokens {
        if token == "error" {
            depth_hint = true;
        } else if let Some(literal) = token.strip_prefix('"') {
            if depth_hint && pending.is_none() {
                pending = Some(longest_fixed_part(literal));
            }
        } else if is_variant(token) {
            if let Some(message) = pending.take() {
                found.insert(token.clone(), message);
            }
            depth_hint = false;
        }
    }
    found
}

/// The longest run of a format string outside `{…}` placeholders, trimmed.
fn longest_fixed_part(format: &str) -> String {
    let text = format.replace("{{", "\u{1}").replace("}}", "\u{2}");
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut in_placeholder = false;
    for c in text.chars() {
        match c {
            '{' => {
                in_placeholder = true;
                parts.push(std::mem::take(&mut current));
            }
            '}' => in_placeholder = false,
            _ if !in_placeholder => current.push(c),
            _ => {}
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|part| part.replace('\u{1}', "{").replace('\u{2}', "}"))
        .map(|part| part.trim().to_string())
        .max_by_key(String::len)
        .unwrap_or_default()
}

struct CodeTables {
    /// kind -> exit code, from the code.
    kinds: BTreeMap<String, i32>,
    /// kind -> fixed part of its message.
    messages: BTreeMap<String, String>,
    /// every code::NAME value.
    constants: BTreeMap<String, i32>,
}

fn code_tables() -> CodeTables {
    let source = read(ERROR_RS);
    let constants = exit_code_constants(&source);
    assert!(!constants.is_empty(), "{ERROR_RS}: no exit code constants");
    let kind_of = match_arms(fn_body(&source, "kind"), "fn kind", |expr| match expr {
        [literal] => literal.strip_prefix('"').map(str::to_string),
        _ => None,
    });
    let code_of = match_arms(fn_body(&source, "exit_code"), "fn exit_code", |expr| {
        expr.windows(2)
            .find(|pair| pair[0] == "code")
            .map(|pair| pair[1].clone())
    });
    let variant_messages = messages(&source);
    assert!(
        kind_of.len() >= 10,
        "{ERROR_RS}: only {} kinds parsed from fn kind; has its shape changed?",
        kind_of.len()
    );
    assert_eq!(
        kind_of.keys().collect::<BTreeSet<_>>(),
        code_of.keys().collect::<BTreeSet<_>>(),
        "{ERROR_RS}: fn kind and fn exit_code do not name the same variants"
    );
    let mut kinds = BTreeMap::new();
    let mut kind_messages = BTreeMap::new();
    for (variant, kind) in &kind_of {
        assert!(
            !kind.is_empty()
                && kind
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{ERROR_RS}: kind {kind:?} of {variant} is not kebab-case"
        );
        let constant = &code_of[variant];
        let code = *constants.get(constant).unwrap_or_else(|| {
            panic!("{ERROR_RS}: {variant} exits with code::{constant}, which is not defined")
        });
        assert!(
            kinds.insert(kind.clone(), code).is_none(),
            "{ERROR_RS}: two variants share the kind {kind:?}"
        );
        let message = variant_messages.get(variant).unwrap_or_else(|| {
            panic!("{ERROR_RS}: no #[error(\"…\")] message found for {variant}")
        });
        kind_messages.insert(kind.clone(), message.clone());
    }
    CodeTables {
        kinds,
        messages: kind_messages,
        constants,
    }
}

/// One `### kind` entry of the doc: its exit code and its text.
struct Entry {
    exit_code: Option<i32>,
    text: String,
}

/// `kind -> entry` for every level-3 heading of docs/troubleshooting.md. An entry ends at the
/// next heading of level 1 to 3.
fn doc_entries(doc: &str) -> BTreeMap<String, Entry> {
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_fence = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if !in_fence && (line.starts_with("# ") || line.starts_with("## ")) {
            current = None;
            continue;
        }
        if !in_fence && let Some(heading) = line.strip_prefix("### ") {
            let kind = heading.trim().trim_matches('`').to_string();
            assert!(
                !entries.contains_key(&kind),
                "{DOC}: two entries for {kind:?}"
            );
            entries.insert(
                kind.clone(),
                Entry {
                    exit_code: None,
                    text: String::new(),
                },
            );
            current = Some(kind);
            continue;
        }
        let Some(kind) = &current else { continue };
        let Some(entry) = entries.get_mut(kind) else {
            continue;
        };
        entry.text.push_str(line);
        entry.text.push('\n');
        if entry.exit_code.is_none()
            && let Some(rest) = line.trim_start().strip_prefix("**Exit code:**")
        {
            let digits: String = rest
                .trim_start()
                .trim_start_matches('`')
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            entry.exit_code = digits.parse().ok();
        }
    }
    entries
}

#[test]
fn every_error_kind_is_documented_with_its_exit_code_and_message() {
    let tables = code_tables();
    let entries = doc_entries(&read(DOC));
    let mut problems = Vec::new();
    for (kind, code) in &tables.kinds {
        let Some(entry) = entries.get(kind) else {
            problems.push(format!(
                "kind {kind:?} (exit {code}) has no entry: add `### {kind}` with \
                 `**Exit code:** {code}`, the message, the cause and the fix"
            ));
            continue;
        };
        match entry.exit_code {
            Some(documented) if documented == *code => {}
            Some(documented) => problems.push(format!(
                "### {kind}: documented exit code {documented}, but the code exits {code}"
            )),
            None => problems.push(format!(
                "### {kind}: no `**Exit code:** {code}` line in the entry"
            )),
        }
        let message = &tables.messages[kind];
        if !message.is_empty() && !entry.text.contains(message.as_str()) {
            problems.push(format!(
                "### {kind}: the entry does not quote the message as printed (expected it to \
                 contain {message:?}, from its #[error] text)"
            ));
        }
    }
    for kind in entries.keys() {
        if !tables.kinds.contains_key(kind) {
            problems.push(format!(
                "### {kind}: documented, but src/error.rs has no such kind any more; remove or \
                 rename the entry"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{DOC} is out of step with {ERROR_RS}:\n  {}",
        problems.join("\n  ")
    );
}

/// The exit codes in the first column of the README's `## Exit codes` table.
fn readme_exit_codes(readme: &str) -> BTreeSet<i32> {
    let section = readme
        .split("\n## ")
        .find(|section| section.starts_with("Exit codes"))
        .unwrap_or_else(|| panic!("{README}: no `## Exit codes` section"));
    let codes: BTreeSet<i32> = section
        .lines()
        .filter_map(|line| line.strip_prefix('|'))
        .filter_map(|row| row.split('|').next())
        .flat_map(|cell| {
            cell.split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    assert!(
        !codes.is_empty(),
        "{README}: no exit code found in the `## Exit codes` table"
    );
    codes
}

#[test]
fn the_readme_exit_code_table_matches_the_code_and_the_doc() {
    let tables = code_tables();
    let readme = readme_exit_codes(&read(README));
    let documented: BTreeSet<i32> = doc_entries(&read(DOC))
        .values()
        .filter_map(|entry| entry.exit_code)
        .collect();
    for code in &readme {
        assert!(
            documented.contains(code),
            "exit code {code} is in the {README} table but no entry of {DOC} has it"
        );
    }
    for (name, code) in &tables.constants {
        assert!(
            readme.contains(code),
            "code::{name} = {code} is not in the {README} exit-code table"
        );
    }
}

#[test]
fn the_parser_reads_a_new_variant() {
    // The shapes this test relies on, so that a parsing mistake cannot hide a missing entry.
    let source = r#"
pub mod code {
    pub const DATA: i32 = 65;
    pub const CONFIG: i32 = 78;
}
pub enum Error {
    #[error("key {key} of {secret} is \"odd\"")]
    Odd { key: String, secret: String },
    #[error(
        "the version id {0} is not a UUID"
    )]
    VersionId(String),
}
impl Error {
    pub fn exit_code(&self) -> i32 {
        use Error::*;
        match self {
            Odd { .. } => code::DATA,
            VersionId(_) => {
                code::CONFIG
            }
        }
    }
    pub fn kind(&self) -> &'static str {
        use Error::*;
        match self {
            Odd { .. } => "odd-key",
            VersionId(_) => "version-id-malformed",
        }
    }
}
"#;
    let kinds = match_arms(fn_body(source, "kind"), "fn kind", |expr| match expr {
        [literal] => literal.strip_prefix('"').map(str::to_string),
        _ => None,
    });
    let codes = match_arms(fn_body(source, "exit_code"), "fn exit_code", |expr| {
        expr.windows(2)
            .find(|pair| pair[0] == "code")
            .map(|pair| pair[1].clone())
    });
    assert_eq!(kinds["Odd"], "odd-key");
    assert_eq!(kinds["VersionId"], "version-id-malformed");
    assert_eq!(codes["Odd"], "DATA");
    assert_eq!(codes["VersionId"], "CONFIG");
    assert_eq!(exit_code_constants(source)["CONFIG"], 78);
    let messages = messages(source);
    assert_eq!(messages["Odd"], "is \"odd\"");
    assert_eq!(messages["VersionId"], "the version id");

    let doc = "# T\n## 65\n### odd-key\n**Exit code:** 65\n```\n### not-a-heading\n```\n";
    let entries = doc_entries(doc);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries["odd-key"].exit_code, Some(65));
}

/// The success line, as the docs show it and as their Logs Insights queries parse it
/// (docs/rotation.md): `shortcut-env: loaded 7 keys from NAME (version ID, STAGES) in 41 ms`.
const SUCCESS_FORMATS: [&str; 2] = [
    "\"loaded {keys} key{plural} from {} in {elapsed_ms} ms\"",
    "\"{} (version {}, {})\"",
];

/// Whether `line` (what follows `shortcut-env: loaded `) has the success line's shape (from a
/// secret, or from a dotenv file in local mode).
fn is_success_line(line: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let Some((count, rest)) = line.split_once(' ') else {
        return false;
    };
    let rest = match count {
        "1" => rest.strip_prefix("key from "),
        _ => rest.strip_prefix("keys from "),
    };
    let Some((origin, elapsed)) = rest.and_then(|rest| rest.rsplit_once(") in ")) else {
        return false;
    };
    if origin.ends_with(" (local mode") {
        return digits(count) && elapsed.strip_suffix(" ms").is_some_and(digits);
    }
    let Some((_secret, version)) = origin.split_once(" (version ") else {
        return false;
    };
    let Some((id, stages)) = version.split_once(", ") else {
        return false;
    };
    digits(count)
        && !id.is_empty()
        && !id.contains(',')
        && !stages.is_empty()
        && elapsed
            .strip_suffix(" ms")
            .is_some_and(|ms| digits(ms) || ms == "…")
}

#[test]
fn the_success_line_in_the_docs_is_the_one_the_code_prints() {
    let lib = read("src/lib.rs");
    for format in SUCCESS_FORMATS {
        assert!(
            lib.contains(format),
            "src/lib.rs no longer prints the success line with {format}: update the examples \
             and the Logs Insights queries in docs/rotation.md (and README.md), then this test"
        );
    }
    let mut seen = 0;
    for file in [
        README,
        "docs/rotation.md",
        "docs/cross-account.md",
        "infra/README.md",
        DOC,
    ] {
        for (number, text) in read(file).lines().enumerate() {
            for (at, _) in text.match_indices("shortcut-env: loaded ") {
                let rest = &text[at + "shortcut-env: loaded ".len()..];
                if !rest.starts_with(|c: char| c.is_ascii_digit()) {
                    continue; // "loaded N keys from …": prose, not an example
                }
                let line = rest.split('`').next().unwrap_or(rest).trim_end();
                assert!(
                    is_success_line(line),
                    "{file}:{}: this example success line does not have the shape the code \
                     prints: {line:?}",
                    number + 1
                );
                seen += 1;
            }
        }
    }
    assert!(seen >= 3, "expected example success lines in the docs");
    assert!(is_success_line(
        "7 keys from short-cut/prod/app (version 6c1f2a7e-8d4b, AWSCURRENT) in 41 ms"
    ));
    assert!(is_success_line(
        "1 key from arn:aws:secretsmanager:us-east-1:111122223333:secret:a-AbCdEf (version <NEW>, AWSCURRENT,AWSPENDING) in 3 ms"
    ));
    assert!(!is_success_line("7 keys from short-cut/prod/app in 41 ms"));
}
