//! Stop signals before exec: TERM, INT, HUP and QUIT end a start at once (exit 128+N, nothing
//! exec'd, no file left), as PID 1 of a PID namespace (a container without an init) and as an
//! ordinary child; the command gets the signal mask and ignored signals we were given.

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::*;

/// A generous bound against hanging, not a performance assertion (the stop takes milliseconds).
const BOUND: Duration = Duration::from_secs(5);

/// PID 1 of a new PID namespace (a container started without `--init`), or an ordinary child.
fn launcher(pid_1: bool) -> Vec<&'static OsStr> {
    if pid_1 { as_pid_1() } else { Vec::new() }
}

/// A start whose fetch hangs (the proxy never answers), with its own credentials directory.
fn hanging_start(proxy: &Proxy) -> Run {
    proxy.always(Fault::Hang);
    let mut run = Run::aws(&proxy.url(), "s");
    let creds = run.path("creds");
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", creds)
        .command(&["/bin/echo", "ran"]);
    run
}

/// Waits until the wrapper is inside the fetch: the proxy has seen its first request.
fn wait_for_fetch(proxy: &Proxy) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.requests().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the wrapper never reached the fetch"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `signal` during a hanging fetch; the start must end with 128+N within [`BOUND`],
/// the command not run and no file left.
fn stopped_during_fetch(signal: Signal, pid_1: bool) {
    let proxy = Proxy::start(moto().port);
    let run = hanging_start(&proxy);
    let running = run.start(&launcher(pid_1));
    wait_for_fetch(&proxy);
    running.signal(signal);
    let sent = Instant::now();
    let outcome = running.finish();
    assert!(sent.elapsed() < BOUND, "took {:?}", sent.elapsed());
    outcome.fails(128 + signal as i32).stderr_has(&format!(
        "stopped by {} before the command started",
        signal.as_str()
    ));
    let creds = run.path("creds");
    assert!(
        !creds.exists() || std::fs::read_dir(&creds).unwrap().next().is_none(),
        "files left in {}",
        creds.display()
    );
}

#[test]
fn sigterm_during_a_fetch_stops_pid_1_with_143() {
    stopped_during_fetch(Signal::SIGTERM, true);
}

#[test]
fn sigint_during_a_fetch_stops_pid_1_with_130() {
    stopped_during_fetch(Signal::SIGINT, true);
}

#[test]
fn sighup_during_a_fetch_stops_pid_1_with_129() {
    stopped_during_fetch(Signal::SIGHUP, true);
}

#[test]
fn sigquit_during_a_fetch_stops_pid_1_with_131() {
    stopped_during_fetch(Signal::SIGQUIT, true);
}

#[test]
fn sigterm_during_a_fetch_stops_a_child_with_143() {
    stopped_during_fetch(Signal::SIGTERM, false);
}

#[test]
fn sigint_during_a_fetch_stops_a_child_with_130() {
    stopped_during_fetch(Signal::SIGINT, false);
}

#[test]
fn sighup_during_a_fetch_stops_a_child_with_129() {
    stopped_during_fetch(Signal::SIGHUP, false);
}

#[test]
fn sigquit_during_a_fetch_stops_a_child_with_131() {
    stopped_during_fetch(Signal::SIGQUIT, false);
}

#[test]
fn the_stop_is_one_json_error_with_log_format_json() {
    let proxy = Proxy::start(moto().port);
    let mut run = hanging_start(&proxy);
    run.env("SHORTCUT_ENV_LOG_FORMAT", "json");
    let running = run.start(&[]);
    wait_for_fetch(&proxy);
    running.signal(Signal::SIGTERM);
    let outcome = running.finish();
    outcome.code(143);
    let line: serde_json::Value = serde_json::from_str(outcome.stderr.trim()).unwrap();
    assert_eq!(line["error"], "stopped");
    assert_eq!(line["exit_code"], 143);
}

/// A parent that blocks USR1 and WINCH, ignores HUP and USR2 (and gives SIGPIPE its default,
/// which the wrapper restores for the command as std does), records its own `SigBlk`/`SigIgn`
/// lines in argv[1], then execs the rest.
const PARENT: &str = r#"
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1, signal.SIGWINCH])
for s in (signal.SIGHUP, signal.SIGUSR2):
    signal.signal(s, signal.SIG_IGN)
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
with open("/proc/self/status") as status, open(sys.argv[1], "w") as out:
    out.write("".join(l for l in status if l.startswith(("SigBlk:", "SigIgn:"))))
os.execv(sys.argv[2], sys.argv[2:])
"#;

/// The `SigBlk` and `SigIgn` masks of a /proc status, for the standard signals 1–31: glibc
/// keeps 32 and 33 for itself (installing its own handlers, which exec resets), so they differ
/// between any two glibc programs.
fn sig_lines(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| *name == "SigBlk" || *name == "SigIgn")
        .map(|(name, hex)| {
            let mask = u64::from_str_radix(hex.trim(), 16).unwrap();
            (name.to_string(), mask & 0x7fff_ffff)
        })
        .collect()
}

#[test]
fn the_command_gets_the_signal_mask_and_ignored_signals_we_inherited() {
    let python = project_python();
    let mut run = Run::local();
    let recorded = run.path("parent-status");
    run.command(&["/usr/bin/grep", "^Sig", "/proc/self/status"]);
    let outcome = run
        .start(&[
            python.as_os_str(),
            OsStr::new("-c"),
            OsStr::new(PARENT),
            recorded.as_os_str(),
        ])
        .finish();
    outcome.code(0);
    let parent = sig_lines(&std::fs::read_to_string(&recorded).unwrap());
    assert_eq!(parent.len(), 2, "{parent:?}");
    // Not all zero, or the comparison would prove nothing.
    assert!(parent.iter().all(|(_, mask)| *mask != 0), "{parent:?}");
    assert_eq!(sig_lines(&outcome.stdout), parent);
}

#[test]
fn an_inherited_ignored_sighup_does_not_stop_the_start() {
    let python = project_python();
    let proxy = Proxy::start(moto().port);
    let run = hanging_start(&proxy);
    let recorded = run.path("parent-status");
    let running = run.start(&[
        python.as_os_str(),
        OsStr::new("-c"),
        OsStr::new(PARENT),
        recorded.as_os_str(),
    ]);
    wait_for_fetch(&proxy);
    running.signal(Signal::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    running.signal(Signal::SIGTERM);
    // TERM, not HUP, ended it: HUP stayed ignored.
    running.finish().fails(143).stderr_has("SIGTERM");
}
