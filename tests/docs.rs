//! Keeps docs/troubleshooting.md and the README in step with the code, so that they cannot
//! drift. The error kinds and exit codes are enumerated (`Kind::ALL`, `Code::ALL`), so:
//! - every kind has exactly one entry in docs/troubleshooting.md, a `### <kind>` heading (its
//!   anchor is the kind), and the doc has no entry for a kind that no longer exists;
//! - each entry states the kind's exit code and shows the error and hint lines as printed;
//! - every exit code of the README's table is documented, and every code is in that table;
//! - the success line the docs quote has the shape the code renders.
//!
//! When you add a variant: give it a row in `kinds!` and a hint in crates/core/src/error.rs,
//! then add its `### kind` entry to docs/troubleshooting.md under the section of its exit code.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use shortcut_env::error::{Code, Kind};
use shortcut_env::payload::Origin;
use shortcut_env::render::{self, Report};

const DOC: &str = "docs/troubleshooting.md";
const README: &str = "README.md";

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A kind's documented exit code (a stop signal's, 128 + N, is documented as 128).
fn exit_code(kind: Kind) -> i32 {
    kind.code().value()
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
fn every_error_kind_is_documented_with_its_exit_code() {
    let entries = doc_entries(&read(DOC));
    let mut problems = Vec::new();
    for &kind in Kind::ALL {
        let code = exit_code(kind);
        let Some(entry) = entries.get(kind.as_str()) else {
            problems.push(format!(
                "kind {kind} (exit {code}) has no entry: add `### {kind}` with \
                 `**Exit code:** {code}`, the message, the cause and the fix"
            ));
            continue;
        };
        match entry.exit_code {
            Some(documented) if documented == code => {}
            Some(documented) => problems.push(format!(
                "### {kind}: documented exit code {documented}, but the code exits {code}"
            )),
            None => problems.push(format!(
                "### {kind}: no `**Exit code:** {code}` line in the entry"
            )),
        }
        if !entry.text.contains("shortcut-env: error: ") || !entry.text.contains("hint: ") {
            problems.push(format!(
                "### {kind}: the entry does not show the error and hint lines as printed"
            ));
        }
    }
    let known: BTreeSet<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    for kind in entries.keys() {
        if !known.contains(kind.as_str()) {
            problems.push(format!(
                "### {kind}: documented, but there is no such kind any more; remove or rename \
                 the entry"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{DOC} is out of step with the error kinds:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn kinds_are_kebab_case_and_unique() {
    let mut seen = BTreeSet::new();
    for kind in Kind::ALL {
        let name = kind.as_str();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{name}"
        );
        assert!(seen.insert(name), "two kinds are named {name}");
    }
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
    for code in Code::ALL {
        assert!(
            readme.contains(&code.value()),
            "{code:?} = {} is not in the {README} exit-code table",
            code.value()
        );
    }
}

#[test]
fn the_doc_parser_skips_headings_in_code_blocks() {
    let doc = "# T\n## 65\n### odd-key\n**Exit code:** 65\n```\n### not-a-heading\n```\n";
    let entries = doc_entries(doc);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries["odd-key"].exit_code, Some(65));
}

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
    // A secret read from a replica region is named after the time (src/failover.rs).
    let elapsed = match elapsed.split_once(" ms, ") {
        Some((ms, notes))
            if notes
                .split(", ")
                .all(|n| n.contains(" from the replica in ")) =>
        {
            format!("{ms} ms")
        }
        _ => elapsed.to_string(),
    };
    let elapsed = elapsed.as_str();
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
    // What the code prints, rendered by the code itself: if its shape changes, update the
    // examples and the Logs Insights queries in docs/rotation.md (and README.md), then this test.
    let origins = [Origin::Secret {
        secret: "short-cut/prod/app".into(),
        region: "us-east-1".into(),
        version_id: Some("6c1f2a7e-8d4b".into()),
        version_stages: vec!["AWSCURRENT".into()],
        failed_over_from: None,
    }];
    let local = [Origin::DotEnv {
        path: ".env".into(),
        found: true,
    }];
    for (origins, keys) in [(&origins[..], 7), (&local[..], 1)] {
        let (line, _) = render::success_line(&Report {
            app_env: "production",
            region: Some("us-east-1"),
            origins,
            keys,
            gcp_file: None,
            elapsed_ms: 41,
        });
        let line = line
            .strip_prefix("loaded ")
            .unwrap_or_else(|| panic!("{line}"));
        assert!(is_success_line(line), "the code prints {line:?}");
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
        "7 keys from short-cut/prod/app (version 6c1f2a7e-8d4b, AWSCURRENT) in 41 ms, \
         short-cut/prod/app from the replica in eu-west-1"
    ));
    assert!(is_success_line(
        "1 key from arn:aws:secretsmanager:us-east-1:111122223333:secret:a-AbCdEf (version <NEW>, AWSCURRENT,AWSPENDING) in 3 ms"
    ));
    assert!(!is_success_line("7 keys from short-cut/prod/app in 41 ms"));
}
