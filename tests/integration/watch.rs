//! `--watch`: against moto behind the fault proxy, with a short interval and no splay. The
//! proxy counts DescribeSecret and GetSecretValue calls; the command writes what it sees to a
//! log file of its own, so the test can follow its instances while the wrapper runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::*;

/// A generous bound for a change to be seen and acted on (interval 0.3 s, no splay).
const BOUND: Duration = Duration::from_secs(20);

/// The command: logs its start (PID and the key's value, into a file only the test reads),
/// leaves a grandchild that ignores TERM (so only the group's SIGKILL ends it; its output goes
/// elsewhere, so that it does not hold the test's pipes open), logs its stop.
const COMMAND: &str = r#"
echo "start $$ $OPENAI_API_KEY" >> "$WATCH_LOG"
trap 'echo "stopping $$" >> "$WATCH_LOG"; exit 0' TERM
trap 'echo "hup $$ $(grep -c new-key-id "$GOOGLE_APPLICATION_CREDENTIALS")" >> "$WATCH_LOG"' HUP
(trap '' TERM; exec /bin/sleep 60) >/dev/null 2>&1 &
echo "child $!" >> "$WATCH_LOG"
while :; do wait; done
"#;

struct Watched {
    seeded: Seeded,
    proxy: Proxy,
    run: Run,
    log: PathBuf,
}

fn secret(openai: &str, ignored: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(&guide_secret()).unwrap();
    value["OPENAI_API_KEY"] = serde_json::json!(format!("sk-{MARKER}-{openai}"));
    value["IGNORED_KEY"] = serde_json::json!(ignored);
    value.to_string()
}

/// A secret in moto, the proxy in front of it, and a `--watch=0.3 --watch-splay 0` run with a
/// stop timeout of 1 s.
fn watched(extra: &[&str]) -> Watched {
    watched_with_splay("0", extra)
}

/// As [`watched`], with `--watch-splay SPLAY`.
fn watched_with_splay(splay: &str, extra: &[&str]) -> Watched {
    let seeded = seed_text(&secret("one", "a"));
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), &seeded.name);
    let log = run.path("command.log");
    let creds = run.path("creds");
    run.env("WATCH_LOG", &log)
        .env("SHORTCUT_ENV_CREDENTIALS_DIR", &creds)
        .env("SHORTCUT_ENV_MAX_ATTEMPTS", "1")
        .env("SHORTCUT_ENV_STOP_TIMEOUT", "1")
        .args(&["--watch=0.3", "--watch-splay", splay])
        .args(extra)
        .command(&["/bin/sh", "-c", COMMAND]);
    Watched {
        seeded,
        proxy,
        run,
        log,
    }
}

/// The command log's lines that start with `word`, once there are at least `count` of them.
fn lines(log: &Path, word: &str, count: usize) -> Vec<Vec<String>> {
    let deadline = Instant::now() + BOUND;
    loop {
        let found: Vec<Vec<String>> = std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .filter(|words| words.first().map(String::as_str) == Some(word))
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {count} {word:?} lines in the command's log: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many calls of `operation` (e.g. `GetSecretValue`) the proxy saw.
fn calls(proxy: &Proxy, operation: &str) -> usize {
    let target = format!("secretsmanager.{operation}");
    proxy.targets().iter().filter(|t| **t == target).count()
}

fn alive(pid: &str) -> bool {
    let pid = nix::unistd::Pid::from_raw(pid.parse().unwrap());
    nix::sys::signal::kill(pid, None).is_ok()
}

/// Waits until `done` holds, up to [`BOUND`].
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops the wrapper with SIGTERM and returns what it logged; no value may be in it.
fn stop(running: Running) -> Outcome {
    running.signal(Signal::SIGTERM);
    let outcome = running.finish();
    outcome.stderr_lacks(MARKER);
    outcome
}

#[test]
fn watch_restarts_the_command_with_the_new_value_and_ends_the_old_group() {
    let w = watched(&[]);
    let running = w.run.start(&[]);
    let first = lines(&w.log, "start", 1);
    let first_child = lines(&w.log, "child", 1)[0][1].clone();
    put_value(&w.seeded.name, &secret("two", "a"));
    let starts = lines(&w.log, "start", 2);
    assert_eq!(starts[1][2], format!("sk-{MARKER}-two"));
    assert_ne!(starts[0][1], starts[1][1], "a new instance");
    eventually("the old instance and its grandchild are gone", || {
        !alive(&first[0][1]) && !alive(&first_child)
    });
    let outcome = stop(running);
    outcome
        .stderr_has("changed (version ")
        .stderr_has("restarting (keys changed: OPENAI_API_KEY)");
}

#[test]
fn watch_polls_describe_secret_while_idle_and_gets_the_value_once_per_change() {
    let w = watched(&[]);
    let running = w.run.start(&[]);
    lines(&w.log, "start", 1);
    eventually("three polls", || calls(&w.proxy, "DescribeSecret") >= 3);
    assert_eq!(calls(&w.proxy, "GetSecretValue"), 1, "only the start's");
    put_value(&w.seeded.name, &secret("two", "a"));
    lines(&w.log, "start", 2);
    let polls = calls(&w.proxy, "DescribeSecret");
    eventually("three more polls", || {
        calls(&w.proxy, "DescribeSecret") >= polls + 3
    });
    assert_eq!(
        calls(&w.proxy, "GetSecretValue"),
        2,
        "one more for the change"
    );
    stop(running);
}

#[test]
fn watch_keeps_the_command_when_only_an_excluded_key_changed() {
    let w = watched(&["--exclude", "IGNORED_KEY"]);
    let running = w.run.start(&[]);
    lines(&w.log, "start", 1);
    put_value(&w.seeded.name, &secret("one", "b"));
    eventually("the new version is read", || {
        calls(&w.proxy, "GetSecretValue") >= 2
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(lines(&w.log, "start", 1).len(), 1, "no restart");
    stop(running)
        .code(0)
        .stderr_has("the command's environment is the same");
}

#[test]
fn watch_keeps_the_command_on_an_invalid_new_value_and_logs_why() {
    let w = watched(&[]);
    let running = w.run.start(&[]);
    lines(&w.log, "start", 1);
    put_value(&w.seeded.name, &format!("not json {MARKER}"));
    eventually("the new version is read", || {
        calls(&w.proxy, "GetSecretValue") >= 2
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(lines(&w.log, "start", 1).len(), 1, "no restart");
    stop(running)
        .stderr_has("the new value is not used and the command keeps running")
        .stderr_has("is not a JSON object");
}

#[test]
fn watch_keeps_the_command_on_a_missing_required_key() {
    let w = watched(&["--require", "OPENAI_API_KEY"]);
    let running = w.run.start(&[]);
    lines(&w.log, "start", 1);
    put_value(&w.seeded.name, r#"{"OTHER": "x"}"#);
    eventually("the new version is read", || {
        calls(&w.proxy, "GetSecretValue") >= 2
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lines(&w.log, "start", 1).len(), 1, "no restart");
    stop(running).stderr_has("required keys missing: OPENAI_API_KEY");
}

#[test]
fn watch_keeps_the_command_when_polls_are_throttled() {
    survives_failing_polls(
        Fault::Error {
            status: 400,
            code: "ThrottlingException",
            message: "Rate exceeded",
        },
        "throttling",
    );
}

/// Every request from now on gets `fault`; the command must survive two polls of it, and the
/// wrapper must say so with `expected` in the line.
fn survives_failing_polls(fault: Fault, expected: &str) {
    let w = watched(&[]);
    let running = w.run.start(&[]);
    let first = lines(&w.log, "start", 1)[0][1].clone();
    w.proxy.always(fault);
    let seen = w.proxy.requests().len();
    eventually("two failed polls", || w.proxy.requests().len() >= seen + 2);
    assert!(alive(&first));
    assert_eq!(lines(&w.log, "start", 1).len(), 1, "no restart");
    stop(running)
        .stderr_has("watching failed, the command keeps running")
        .stderr_has(expected);
}

#[test]
fn watch_keeps_the_command_when_describe_secret_is_denied() {
    survives_failing_polls(
        Fault::Error {
            status: 400,
            code: "AccessDeniedException",
            message: "not authorized to perform: secretsmanager:DescribeSecret",
        },
        "access denied to secret",
    );
}

#[test]
fn watch_keeps_the_command_when_the_network_fails() {
    survives_failing_polls(Fault::Reset, "could not reach Secrets Manager");
}

#[test]
fn watch_backs_off_after_failing_polls() {
    let w = watched(&[]);
    let running = w.run.start(&[]);
    lines(&w.log, "start", 1);
    w.proxy.always(Fault::Error {
        status: 500,
        code: "InternalServiceError",
        message: "boom",
    });
    let seen = w.proxy.requests().len();
    eventually("four failed polls", || w.proxy.requests().len() >= seen + 4);
    let arrivals = w.proxy.arrivals();
    let gaps: Vec<Duration> = arrivals[seen..]
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .collect();
    // 0.3 s jittered, then doubled: the third gap is at least twice the first's lower bound.
    assert!(gaps[2] > Duration::from_millis(500), "{gaps:?}");
    stop(running);
}

#[test]
fn watch_with_on_change_exit_stops_the_command_and_exits_0() {
    let w = watched(&["--on-change", "exit"]);
    let running = w.run.start(&[]);
    let first = lines(&w.log, "start", 1)[0][1].clone();
    put_value(&w.seeded.name, &secret("two", "a"));
    let outcome = running.finish();
    outcome.code(0).stderr_lacks(MARKER).stderr_has("exiting");
    assert!(!alive(&first));
    assert_eq!(lines(&w.log, "start", 1).len(), 1, "no new instance");
}

#[test]
fn watch_with_on_change_signal_hup_sends_hup_and_keeps_the_instance() {
    let w = watched(&["--on-change", "signal:HUP"]);
    let running = w.run.start(&[]);
    lines(&w.log, "start", 1);
    // A new GCP key: the command rereads it at the path it was given.
    let mut value: serde_json::Value = serde_json::from_str(&secret("one", "a")).unwrap();
    let mut gcp: serde_json::Value = serde_json::from_str(
        value["GOOGLE_APPLICATION_CREDENTIALS_JSON"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    gcp["private_key_id"] = serde_json::json!("new-key-id");
    value["GOOGLE_APPLICATION_CREDENTIALS_JSON"] = serde_json::json!(gcp.to_string());
    put_value(&w.seeded.name, &value.to_string());
    let hups = lines(&w.log, "hup", 1);
    assert_eq!(lines(&w.log, "start", 1).len(), 1, "no restart");
    assert_eq!(hups[0][1], lines(&w.log, "start", 1)[0][1]);
    assert_eq!(hups[0][2], "1", "the new key at the same path");
    stop(running)
        .stderr_has("sent SIGHUP")
        .stderr_has("GOOGLE_APPLICATION_CREDENTIALS_JSON");
}

#[test]
fn watch_sigterm_during_a_restart_starts_no_new_instance() {
    // The grandchild ignores the restart's TERM, so the restart waits 5 s for it; a TERM to
    // the wrapper meanwhile ends everything.
    let w = watched(&["--stop-timeout", "5"]);
    let running = w.run.start(&[]);
    lines(&w.log, "start", 1);
    put_value(&w.seeded.name, &secret("two", "a"));
    lines(&w.log, "stopping", 1);
    running.signal(Signal::SIGTERM);
    let outcome = running.finish();
    outcome.stderr_lacks(MARKER);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lines(&w.log, "start", 1).len(), 1, "no new instance");
}

#[test]
fn watch_does_not_watch_a_pinned_stage() {
    let seeded = seed_text(&secret("one", "a"));
    put_value(&seeded.name, &secret("two", "a"));
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), &seeded.name);
    run.args(&["--watch=0.3", "--version-stage", "AWSPREVIOUS"])
        .command(&["/bin/sleep", "1"]);
    let outcome = run.run_within(BOUND);
    outcome.code(0).stderr_has("--watch has nothing to watch");
    assert_eq!(calls(&proxy, "DescribeSecret"), 0);
}

#[test]
fn watch_logs_json_events_with_fields() {
    let w = watched(&["--log-format", "json"]);
    let running = w.run.start(&[]);
    lines(&w.log, "start", 1);
    put_value(&w.seeded.name, &secret("two", "a"));
    lines(&w.log, "start", 2);
    let outcome = stop(running);
    let event: serde_json::Value = outcome
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "secret-changed")
        .expect("a secret-changed event");
    assert_eq!(event["action"], "restarting");
    assert_eq!(event["keys_changed"], serde_json::json!(["OPENAI_API_KEY"]));
    assert_eq!(event["secrets"][0]["secret"], w.seeded.name);
    assert_eq!(event["splay_wait_s"], 0.0, "no splay, no wait");
}

#[test]
fn watch_splay_delays_the_restart_by_the_wait_it_reports() {
    // A random wait has no lower bound to assert; the wait drawn does. It is logged, and the
    // old instance must not be stopped before it has passed since the new value was read.
    let w = watched_with_splay("3", &["--log-format", "json"]);
    let running = w.run.start(&[]);
    lines(&w.log, "start", 1);
    put_value(&w.seeded.name, &secret("two", "a"));
    lines(&w.log, "stopping", 1);
    // At or after the stop signal: the log is read after the line was written.
    let stopped = Instant::now();
    lines(&w.log, "start", 2);
    let read = w.proxy.arrivals_of("secretsmanager.GetSecretValue")[1];
    let events = stop(running).json_lines();
    let watching = events.iter().find(|e| e["event"] == "watching").unwrap();
    assert_eq!(watching["splay_s"], 3.0);
    let changed = events.iter().find(|e| e["action"] == "restarting").unwrap();
    let wait = changed["splay_wait_s"].as_f64().unwrap();
    assert!((0.0..=3.0).contains(&wait), "{changed}");
    assert!(
        stopped - read >= Duration::from_secs_f64(wait),
        "stopped {:?} after the new value was read, before the splay of {wait} s",
        stopped - read
    );
}

#[test]
fn check_prints_what_watching_costs() {
    let seeded = seed_text(&secret("one", "a"));
    let mut run = Run::moto(&seeded.name);
    run.args(&["check", "--watch"]);
    let outcome = run.run();
    outcome.code(0);
    assert!(
        outcome.stdout.contains(
            "watch: 1 secret every 300 s: 12 DescribeSecret calls per task per hour; per 1,000 \
             tasks 8,760,000 calls a month, $43.80"
        ),
        "{}",
        outcome.stdout
    );
}

/// CPU time (user + system, ms) and the `VmRSS` / `VmHWM` lines (KiB) of process `pid`.
fn usage(pid: u32) -> (u64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is parenthesized and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    // USER_HZ is 100 on Linux.
    (ticks * 10, kib("VmRSS:"), kib("VmHWM:"))
}

#[test]
fn watch_stays_small_over_many_polls() {
    // The figures in docs/rotation.md come from this test, run with
    // SHORTCUT_ENV_TEST_WATCH_BIN set to the static release build; by default the debug build.
    let measured = std::env::var_os("SHORTCUT_ENV_TEST_WATCH_BIN").map(PathBuf::from);
    // 1,000 polls for the measurement; 200 (a leak shows as well) in the suite.
    let wanted = if measured.is_some() { 1000 } else { 200 };
    let program = measured.unwrap_or_else(|| PathBuf::from(BIN));
    let seeded = seed_text(&guide_secret());
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), &seeded.name);
    run.args(&["--watch=0.02", "--watch-splay", "0"])
        .command(&["/bin/sleep", "600"]);
    let running = run.start_program(&program);
    let pid = running.child.id();
    eventually("the first poll", || calls(&proxy, "DescribeSecret") >= 1);
    let (cpu_start, rss_start, _) = usage(pid);
    let started = Instant::now();
    let deadline = started + Duration::from_mins(5);
    while calls(&proxy, "DescribeSecret") < wanted + 1 {
        assert!(Instant::now() < deadline, "{wanted} polls took over 300 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (cpu_end, rss_end, hwm) = usage(pid);
    let polls = calls(&proxy, "DescribeSecret") - 1;
    // Milliseconds and a thousand polls: far below where an f64 stops counting exactly.
    #[allow(clippy::cast_precision_loss, reason = "small counts, printed")]
    let per_poll = (cpu_end - cpu_start) as f64 / polls as f64;
    eprintln!(
        "{}: {polls} polls in {:.1} s: CPU {} ms ({:.2} ms per poll); VmRSS {rss_start} KiB after \
         the start, {rss_end} KiB after the polls; VmHWM {hwm} KiB",
        program.display(),
        started.elapsed().as_secs_f64(),
        cpu_end - cpu_start,
        per_poll,
    );
    let wrapper = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap());
    nix::sys::signal::kill(wrapper, Signal::SIGTERM).unwrap();
    running.finish().code(143);
    assert_eq!(
        calls(&proxy, "GetSecretValue"),
        1,
        "no value read while idle"
    );
    // Generous: a leak of even 40 KiB per poll would exceed it.
    assert!(
        rss_end < rss_start + 8 * 1024,
        "{rss_start} KiB → {rss_end} KiB"
    );
}

#[test]
fn watch_polls_the_secret_of_a_mixed_list_and_not_the_parameter() {
    // DescribeSecret is Secrets Manager's; an SSM parameter is read at the start only.
    let seeded = seed_text(&secret("one", "a"));
    let parameter = format!("/{}", unique("watch/param")).replace('-', "_");
    put_string(&parameter, "v");
    let proxy = Proxy::start(moto().port);
    let mut run = Run::aws(&proxy.url(), &format!("{},ssm:{parameter}", seeded.name));
    run.args(&["--watch=0.2", "--watch-splay", "0"])
        .command(&["/bin/sleep", "30"]);
    let running = run.start(&[]);
    eventually("three polls", || calls(&proxy, "DescribeSecret") >= 3);
    let targets = proxy.targets();
    let ssm_calls = targets
        .iter()
        .filter(|t| t.starts_with("AmazonSSM."))
        .count();
    assert_eq!(ssm_calls, 1, "the start's only: {targets:?}");
    stop(running).stderr_has("watching 1 secret every 0.2 s");
}
