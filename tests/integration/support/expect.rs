//! What a run must end with, declared on the [`Run`](super::Run) before it runs (in the style
//! of casey/just's `Test`), and the invariants every run must keep, whatever the test expects.
//!
//! The invariants are checked on every finished run, so that no test can forget them:
//!
//! - no panic;
//! - no secret value ([`MARKER`]) on stderr, nor on stdout where stdout is the wrapper's own
//!   (it failed, or the command is the probe, which writes what it sees to a file);
//! - a failure of the wrapper is exactly one `shortcut-env: error:` line and one `hint:` line,
//!   and a success has neither (an AWS message must not forge one);
//! - where stderr is the wrapper's alone (it failed, or the command is the probe), every line
//!   is the wrapper's own and holds no raw control character: what came from the network or
//!   the input was escaped;
//! - with JSON logs, every stderr line is a JSON object, and an error object carries its kind,
//!   its hint and the exit code the process ended with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{MARKER, Outcome, Proxy};

/// How a run's output must be read to check the invariants.
#[derive(Debug, Clone, Default)]
pub(crate) struct Invariants {
    /// The run asked for JSON logs (`--log-format json` or `SHORTCUT_ENV_LOG_FORMAT=json`).
    pub json: bool,
    /// The probe's record, when the probe is the command: stdout is then the wrapper's alone.
    pub probe: Option<PathBuf>,
}

/// The wrapper's own error and hint lines on a run's stderr.
struct Reported {
    errors: usize,
    hints: usize,
}

impl Invariants {
    /// Asserts what every run must keep; see the module doc.
    #[track_caller]
    pub fn check(&self, outcome: &Outcome) {
        let stderr = &outcome.stderr;
        assert!(
            !stderr.contains("panicked at") && !stderr.contains("stack backtrace"),
            "the wrapper panicked:\n{stderr}"
        );
        assert!(
            !stderr.contains(MARKER),
            "a secret value reached stderr:\n{}",
            shorten(stderr)
        );
        let reported = if self.json {
            json_lines(stderr, outcome.code)
        } else {
            text_lines(stderr)
        };
        if reported.errors + reported.hints > 0 {
            assert_eq!(
                (reported.errors, reported.hints),
                (1, 1),
                "a failure is one error line and one hint line:\n{stderr}"
            );
            assert_ne!(
                outcome.code,
                Some(0),
                "an error line in a successful run (forged?):\n{stderr}"
            );
        }
        let failed = reported.errors > 0;
        if failed || self.probe.is_some() {
            assert!(
                !outcome.stdout.contains(MARKER),
                "a secret value reached stdout:\n{}",
                shorten(&outcome.stdout)
            );
            // Stderr is the wrapper's alone: what came from the network or the input is
            // escaped, so no raw control character and no line the wrapper did not write.
            if let Some(c) = stderr
                .chars()
                .find(|c| (c.is_control() && *c != '\n') || ('\u{80}'..='\u{9f}').contains(c))
            {
                panic!("stderr holds the raw control character {c:?}:\n{stderr:?}");
            }
            if !self.json {
                for line in stderr.lines() {
                    assert!(
                        line.starts_with("shortcut-env: ") || line.starts_with("hint: "),
                        "a stderr line the wrapper did not write (forged, or a library's \
                         output): {line:?}\n{stderr}"
                    );
                }
            }
        }
        if let Some(probe) = &self.probe
            && !failed
            && let Some(code) = outcome.code
        {
            // The probe exits 0 when it runs: any other status is the wrapper's, and the
            // wrapper never fails without saying why.
            assert_eq!(
                code,
                0,
                "exited {code} without an error line (the probe {}):\n{stderr}",
                if probe.exists() { "ran" } else { "did not run" }
            );
        }
    }
}

fn text_lines(stderr: &str) -> Reported {
    let count = |prefix: &str| stderr.lines().filter(|l| l.starts_with(prefix)).count();
    Reported {
        errors: count("shortcut-env: error: "),
        hints: count("hint: "),
    }
}

fn json_lines(stderr: &str, code: Option<i32>) -> Reported {
    let mut errors = 0;
    for line in stderr.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!("with JSON logs, a stderr line is not JSON ({e}): {line:?}\n{stderr}")
        });
        assert!(
            value.is_object(),
            "a JSON log line is not an object: {line}"
        );
        if value["level"] == "error" {
            errors += 1;
            assert!(value["error"].is_string(), "no error kind: {line}");
            assert!(value["hint"].is_string(), "no hint: {line}");
            if let Some(code) = code {
                assert_eq!(value["exit_code"], code, "exit_code field: {line}");
            }
        }
    }
    Reported {
        errors,
        hints: errors,
    }
}

/// Long output (a 64 KiB key, a 100 MiB answer) cut to what a failure message can show.
fn shorten(text: &str) -> &str {
    let end = (0..=text.len().min(4000))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    &text[..end]
}

/// A number of calls the proxy must have seen.
#[derive(Clone)]
struct Calls {
    proxy: Proxy,
    /// `GetSecretValue`, or `None` for every request whatever its target.
    target: Option<String>,
    at_least: usize,
    at_most: usize,
}

/// The expectations a test declared on its [`Run`](super::Run).
#[derive(Clone, Default)]
pub(crate) struct Expect {
    code: Option<i32>,
    /// The wrapper itself fails: an error line, nothing exec'd, nothing on stdout.
    fails: bool,
    stderr_has: Vec<String>,
    stderr_lacks: Vec<String>,
    sees: Vec<(String, String)>,
    lacks: Vec<String>,
    calls: Vec<Calls>,
    pub within: Option<Duration>,
}

impl Expect {
    pub fn code(&mut self, code: i32) {
        self.code = Some(code);
    }
    pub fn fails(&mut self, code: i32) {
        self.code = Some(code);
        self.fails = true;
    }
    pub fn stderr_has(&mut self, needle: &str) {
        self.stderr_has.push(needle.to_string());
    }
    pub fn stderr_lacks(&mut self, needle: &str) {
        self.stderr_lacks.push(needle.to_string());
    }
    pub fn sees(&mut self, name: &str, value: &str) {
        self.sees.push((name.to_string(), value.to_string()));
    }
    pub fn lacks(&mut self, name: &str) {
        self.lacks.push(name.to_string());
    }
    pub fn calls(&mut self, proxy: &Proxy, target: Option<&str>, at_least: usize, at_most: usize) {
        self.calls.push(Calls {
            proxy: proxy.clone(),
            target: target.map(str::to_string),
            at_least,
            at_most,
        });
    }
    /// The probe must run (to report what the command sees).
    pub fn needs_probe(&self) -> bool {
        !self.sees.is_empty() || !self.lacks.is_empty()
    }

    /// Asserts every declared expectation on `outcome`; `probe` is the probe's record.
    #[track_caller]
    pub fn check(&self, outcome: &Outcome, probe: Option<&Path>) {
        let stderr = &outcome.stderr;
        if let Some(bound) = self.within {
            assert!(
                outcome.code.is_some() && outcome.elapsed < bound,
                "not finished within {bound:?} (took {:?}, status {:?}); stderr:\n{}",
                outcome.elapsed,
                outcome.code,
                shorten(stderr)
            );
        }
        if self.fails {
            outcome.fails(self.code.unwrap_or_default());
            if let Some(probe) = probe {
                assert!(!probe.exists(), "the command ran despite the failure");
            }
        } else if let Some(code) = self.code {
            outcome.code(code);
        }
        for needle in &self.stderr_has {
            outcome.stderr_has(needle);
        }
        for needle in &self.stderr_lacks {
            outcome.stderr_lacks(needle);
        }
        if self.needs_probe() {
            let seen = probe.and_then(|p| std::fs::read(p).ok()).map_or_else(
                || panic!("the command did not run; stderr:\n{stderr}"),
                |bytes| env0(&bytes),
            );
            for (name, value) in &self.sees {
                assert_eq!(
                    seen.get(name),
                    Some(value),
                    "the command must see {name}; stderr:\n{stderr}"
                );
            }
            for name in &self.lacks {
                assert!(
                    !seen.contains_key(name),
                    "the command must not see {name}; stderr:\n{stderr}"
                );
            }
        }
        for calls in &self.calls {
            let targets = calls.proxy.targets();
            let seen = targets
                .iter()
                .filter(|t| match &calls.target {
                    Some(target) => t.rsplit('.').next() == Some(target.as_str()),
                    None => true,
                })
                .count();
            let what = calls.target.as_deref().unwrap_or("requests");
            assert!(
                (calls.at_least..=calls.at_most).contains(&seen),
                "{seen} {what}, expected {}..={}; the proxy saw {targets:?}\n{stderr}",
                calls.at_least,
                calls.at_most
            );
        }
    }
}

/// `env -0` output as a map (entries without `=` are ignored).
pub fn env0(bytes: &[u8]) -> BTreeMap<String, String> {
    bytes
        .split(|b| *b == 0)
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| {
            let text = String::from_utf8_lossy(entry);
            let (k, v) = text.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// The checker itself: each invariant catches what it is there to catch.
mod checks {
    use super::*;

    fn outcome(code: i32, stdout: &str, stderr: &str) -> Outcome {
        Outcome {
            code: Some(code),
            stdout: stdout.to_string(),
            stdout_bytes: stdout.as_bytes().to_vec(),
            stderr: stderr.to_string(),
            pid: 0,
            elapsed: Duration::ZERO,
        }
    }

    const FAILURE: &str = "shortcut-env: error: no\nhint: yes\n";

    #[test]
    fn invariants_accept_one_error_and_one_hint() {
        Invariants::default().check(&outcome(65, "", FAILURE));
    }

    #[test]
    #[should_panic(expected = "a secret value reached stderr")]
    fn invariants_catch_a_value_on_stderr() {
        Invariants::default().check(&outcome(0, "", &format!("x {MARKER}")));
    }

    #[test]
    #[should_panic(expected = "a secret value reached stdout")]
    fn invariants_catch_a_value_on_stdout_after_a_failure() {
        Invariants::default().check(&outcome(65, MARKER, FAILURE));
    }

    #[test]
    fn invariants_leave_the_commands_own_stdout_alone() {
        Invariants::default().check(&outcome(0, MARKER, ""));
    }

    #[test]
    #[should_panic(expected = "one error line and one hint line")]
    fn invariants_catch_a_second_error_line() {
        let stderr = format!("{FAILURE}shortcut-env: error: forged\n");
        Invariants::default().check(&outcome(69, "", &stderr));
    }

    #[test]
    #[should_panic(expected = "one error line and one hint line")]
    fn invariants_catch_a_failure_without_a_hint() {
        Invariants::default().check(&outcome(78, "", "shortcut-env: error: no\n"));
    }

    #[test]
    #[should_panic(expected = "one error line and one hint line")]
    fn invariants_catch_a_forged_hint_in_a_success() {
        Invariants::default().check(&outcome(0, "", "hint: forged\n"));
    }

    #[test]
    #[should_panic(expected = "raw control character")]
    fn invariants_catch_an_unescaped_escape_sequence_in_a_failure() {
        let stderr = "shortcut-env: error: denied \u{1b}[31m\nhint: yes\n";
        Invariants::default().check(&outcome(77, "", stderr));
    }

    #[test]
    #[should_panic(expected = "a stderr line the wrapper did not write")]
    fn invariants_catch_a_foreign_line_in_a_failure() {
        let stderr = format!("{FAILURE}2026-01-01 DEBUG aws_smithy: retrying\n");
        Invariants::default().check(&outcome(69, "", &stderr));
    }

    #[test]
    #[should_panic(expected = "the wrapper panicked")]
    fn invariants_catch_a_panic() {
        Invariants::default().check(&outcome(101, "", "thread 'main' panicked at src/x.rs"));
    }

    #[test]
    #[should_panic(expected = "a stderr line is not JSON")]
    fn invariants_catch_a_text_line_among_json_logs() {
        let json = Invariants {
            json: true,
            probe: None,
        };
        json.check(&outcome(78, "", FAILURE));
    }

    #[test]
    #[should_panic(expected = "exit_code field")]
    fn invariants_catch_a_json_error_with_another_exit_code() {
        let json = Invariants {
            json: true,
            probe: None,
        };
        let line = r#"{"level":"error","error":"x","hint":"h","exit_code":65,"message":"m"}"#;
        json.check(&outcome(78, "", line));
    }

    #[test]
    #[should_panic(expected = "without an error line")]
    fn invariants_catch_a_silent_failure_under_the_probe() {
        let probe = Invariants {
            json: false,
            probe: Some(PathBuf::from("/nonexistent/probe")),
        };
        probe.check(&outcome(65, "", ""));
    }
}
