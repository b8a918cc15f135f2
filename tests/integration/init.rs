//! `--init`, tested the way tini tests itself: exit codes pass through, every forwarded signal
//! reaches the command (and gives 128+N), orphans are reaped as PID 1 of a PID namespace and as
//! a child subreaper, a signal during the fetch stops the start at once, and the command gets
//! what it would get with exec (environment, descriptors, signal mask).

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::*;

/// A generous bound against hanging, not a performance assertion.
const BOUND: Duration = Duration::from_secs(10);

/// Local mode under `--init`, running `command`.
fn init(command: &[&str]) -> Run {
    let mut run = Run::local();
    run.arg("--init").command(command);
    run
}

/// The command exits with `code`; so must the wrapper.
fn passes_exit_code(code: i32) {
    let outcome = init(&["/bin/sh", "-c", &format!("exit {code}")]).run_within(BOUND);
    outcome.code(code);
}

#[test]
fn init_passes_exit_code_0() {
    passes_exit_code(0);
}

#[test]
fn init_passes_exit_code_1() {
    passes_exit_code(1);
}

#[test]
fn init_passes_exit_code_2() {
    passes_exit_code(2);
}

#[test]
fn init_passes_exit_code_64_which_is_also_a_wrapper_code() {
    passes_exit_code(64);
}

#[test]
fn init_passes_exit_code_126() {
    passes_exit_code(126);
}

#[test]
fn init_passes_exit_code_127() {
    passes_exit_code(127);
}

#[test]
fn init_passes_exit_code_128() {
    passes_exit_code(128);
}

#[test]
fn init_passes_exit_code_143_as_a_plain_exit() {
    passes_exit_code(143);
}

#[test]
fn init_passes_exit_code_255() {
    passes_exit_code(255);
}

#[test]
fn init_passes_every_exit_code_from_0_to_255() {
    // One sh for all 256 codes: each is a child of the command's own init, a real exit status
    // through the wrapper's waitpid.
    let script = "for c in $(seq 0 255); do shortcut-env --init -- sh -c \"exit $c\"; \
                  r=$?; [ $r = $c ] || { echo \"code $c came back as $r\"; exit 1; }; done";
    let mut run = Run::local();
    let bin_dir = std::path::Path::new(BIN).parent().unwrap().to_path_buf();
    run.env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .command(&["/bin/sh", "-c", script]);
    let outcome = run.run_within(Duration::from_mins(2));
    assert!(outcome.stdout.is_empty(), "{}", outcome.stdout);
    outcome.code(0);
}

/// Starts `sleep` under `--init` (as PID 1 if asked), sends `signal` to the wrapper once the
/// command runs, and expects 128+N: the signal reached the command and killed it.
fn forwards(signal: Signal, pid_1: bool) {
    let launcher = if pid_1 { as_pid_1() } else { Vec::new() };
    let running = init(&["/bin/sleep", "30"]).start(&launcher);
    running.wrapper_children();
    running.signal(signal);
    let sent = Instant::now();
    let outcome = running.finish();
    assert!(sent.elapsed() < BOUND, "took {:?}", sent.elapsed());
    outcome.code(128 + signal as i32);
}

#[test]
fn init_forwards_sigterm_and_exits_143() {
    forwards(Signal::SIGTERM, false);
}

#[test]
fn init_forwards_sigint_and_exits_130() {
    forwards(Signal::SIGINT, false);
}

#[test]
fn init_forwards_sighup_and_exits_129() {
    forwards(Signal::SIGHUP, false);
}

#[test]
fn init_forwards_sigquit_and_exits_131() {
    forwards(Signal::SIGQUIT, false);
}

#[test]
fn init_forwards_sigusr1_and_exits_138() {
    forwards(Signal::SIGUSR1, false);
}

#[test]
fn init_forwards_sigusr2_and_exits_140() {
    forwards(Signal::SIGUSR2, false);
}

#[test]
fn init_as_pid_1_forwards_sigterm_and_exits_143() {
    forwards(Signal::SIGTERM, true);
}

#[test]
fn init_as_pid_1_forwards_sigint_and_exits_130() {
    forwards(Signal::SIGINT, true);
}

#[test]
fn init_as_pid_1_forwards_sigusr1_and_exits_138() {
    forwards(Signal::SIGUSR1, true);
}

#[test]
fn init_forwards_sigwinch_which_the_command_traps() {
    // WINCH's default is to ignore it: the command traps it to show that it arrived.
    let script = "trap 'exit 28' WINCH; echo ready; while :; do sleep 0.05; done";
    let running = init(&["/bin/sh", "-c", script]).start(&[]);
    running.wrapper_children();
    std::thread::sleep(Duration::from_millis(300));
    running.signal(Signal::SIGWINCH);
    running.finish().code(28);
}

#[test]
fn init_forwards_to_the_whole_process_group_of_the_command() {
    // The shell waits for its own child; TERM to the group ends both, not only the shell.
    let script = "/bin/sleep 30; echo survived";
    let running = init(&["/bin/sh", "-c", script]).start(&[]);
    running.wrapper_children();
    std::thread::sleep(Duration::from_millis(300));
    running.signal(Signal::SIGTERM);
    let outcome = running.finish();
    outcome.code(143);
    assert!(!outcome.stdout.contains("survived"), "{}", outcome.stdout);
}

/// Leaves 100 orphans (each `sleep` loses its parent at once), counts those its parent (the
/// wrapper) adopted, waits for them to end, then counts the zombies the wrapper left.
const ORPHANS: &str = r#"
count() {
  n=0 want=$1
  for s in /proc/[0-9]*/stat; do
    set -- $(cat "$s" 2>/dev/null)
    [ "$2" = "(sleep)" ] && [ "$3" = "$want" ] && [ "$4" = "$PPID" ] && n=$((n+1))
  done
  echo $n
}
for i in $(seq 100); do (/bin/sleep 3 &); done
i=0
while [ "$(count S)" -lt 100 ] && [ $i -lt 20 ]; do /bin/sleep 0.1; i=$((i+1)); done
echo "adopted=$(count S)"
while [ "$(count S)" -gt 0 ]; do /bin/sleep 0.2; done
/bin/sleep 0.5
echo "zombies=$(count Z)"
"#;

#[test]
fn init_as_pid_1_reaps_100_orphans() {
    let outcome = init(&["/bin/sh", "-c", ORPHANS])
        .start(&as_pid_1())
        .finish();
    outcome.code(0);
    assert_eq!(
        outcome.stdout, "adopted=100\nzombies=0\n",
        "{}",
        outcome.stderr
    );
}

#[test]
fn init_as_a_subreaper_reaps_100_orphans() {
    let outcome = init(&["/bin/sh", "-c", ORPHANS]).run_within(Duration::from_secs(30));
    outcome.code(0);
    assert_eq!(
        outcome.stdout, "adopted=100\nzombies=0\n",
        "{}",
        outcome.stderr
    );
}

/// A start under `--init` whose fetch hangs (the proxy never answers).
fn hanging_init_start(proxy: &Proxy) -> Run {
    proxy.always(Fault::Hang);
    let mut run = Run::aws(&proxy.url(), "s");
    run.arg("--init").command(&["/bin/echo", "ran"]);
    run
}

fn stopped_while_fetching(signal: Signal, pid_1: bool) {
    let proxy = Proxy::start(moto().port);
    let launcher = if pid_1 { as_pid_1() } else { Vec::new() };
    let running = hanging_init_start(&proxy).start(&launcher);
    let deadline = Instant::now() + BOUND;
    while proxy.requests().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the wrapper never reached the fetch"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    running.signal(signal);
    let sent = Instant::now();
    let outcome = running.finish();
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "took {:?}",
        sent.elapsed()
    );
    outcome
        .fails(128 + signal as i32)
        .stderr_has("before the command started");
}

#[test]
fn init_sigterm_while_fetching_stops_at_once_with_143() {
    stopped_while_fetching(Signal::SIGTERM, false);
}

#[test]
fn init_as_pid_1_sigterm_while_fetching_stops_at_once_with_143() {
    stopped_while_fetching(Signal::SIGTERM, true);
}

#[test]
fn init_as_pid_1_sigint_while_fetching_stops_at_once_with_130() {
    stopped_while_fetching(Signal::SIGINT, true);
}

#[test]
fn init_sigusr1_while_fetching_stops_at_once_with_138() {
    stopped_while_fetching(Signal::SIGUSR1, false);
}

/// What `command` printed, run once with exec and once with `--init`, from the same secret and
/// credentials directory; each run's own temporary directory reads `<temp>`.
fn seen_both_ways(command: &[&str]) -> (String, String) {
    let seeded = seed_text(&guide_secret());
    let shared = tempfile::tempdir().unwrap();
    let creds = shared.path().join("creds");
    let output = |init: bool| {
        let mut run = Run::moto(&seeded.name);
        run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &creds);
        if init {
            run.arg("--init");
        }
        run.command(command);
        let outcome = run.run();
        outcome.code(0);
        outcome
            .stdout
            .replace(&run.temp.path().display().to_string(), "<temp>")
    };
    (output(false), output(true))
}

#[test]
fn init_gives_the_command_the_environment_exec_gives_it() {
    let (exec, init) = seen_both_ways(&["/usr/bin/env"]);
    let sorted = |text: &str| {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    assert!(exec.contains("OPENAI_API_KEY="), "{exec}");
    assert_eq!(sorted(&exec), sorted(&init));
}

#[test]
fn init_gives_the_command_no_descriptor_of_ours() {
    let (exec, init) = seen_both_ways(&["/bin/ls", "/proc/self/fd"]);
    assert_eq!(exec, init);
}

#[test]
fn init_gives_the_command_the_signal_mask_and_dispositions_exec_gives_it() {
    // Signals 1-31: glibc keeps 32 and 33 for itself, and they differ between any two starts.
    let masks = |text: &str| -> Vec<u64> {
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(_, hex)| u64::from_str_radix(hex.trim(), 16).unwrap() & 0x7fff_ffff)
            .collect()
    };
    let (exec, init) = seen_both_ways(&["/usr/bin/grep", "^Sig[BI]", "/proc/self/status"]);
    assert_eq!(masks(&exec).len(), 2, "{exec}");
    assert_eq!(masks(&exec), masks(&init));
}

#[test]
fn init_runs_the_command_in_its_own_process_group() {
    // Field 5 of /proc/PID/stat is the process group (the name, field 2, is `sh`).
    let outcome =
        init(&["/bin/sh", "-c", "cut -d' ' -f5 /proc/$$/stat; echo $$"]).run_within(BOUND);
    outcome.code(0);
    let lines: Vec<&str> = outcome.stdout.split_whitespace().collect();
    assert_eq!(lines.len(), 2, "{}", outcome.stdout);
    assert_eq!(lines[0], lines[1], "the command leads its own group");
}

#[test]
fn init_reports_a_missing_command_with_127() {
    init(&["no-such-command-here"])
        .run_within(BOUND)
        .fails(127)
        .stderr_has("command not found: no-such-command-here");
}

#[test]
fn init_reports_a_non_executable_command_with_126() {
    init(&["/etc/hostname"]).run_within(BOUND).fails(126);
}

#[test]
fn init_stays_small_while_the_command_runs() {
    let seeded = seed_text(&guide_secret());
    let mut run = Run::moto(&seeded.name);
    run.arg("--init").command(&["/bin/sleep", "30"]);
    let running = run.start(&[]);
    running.wrapper_children();
    std::thread::sleep(Duration::from_millis(500));
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", running.wrapper_pid())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap()
    };
    let (rss, threads) = (field("VmRSS:"), field("Threads:"));
    eprintln!("--init idle after an AWS fetch: VmRSS {rss}, threads {threads}");
    let kib: u64 = rss.trim_end_matches(" kB").trim().parse().unwrap();
    running.signal(Signal::SIGTERM);
    running.finish().code(143);
    // A generous bound: the runtime and the clients are gone, a few MiB remain.
    assert!(kib < 64 * 1024, "VmRSS {rss}");
    // The main thread and the signal thread; the runtime's threads are gone.
    assert_eq!(threads, "2", "threads left while the command runs");
}

#[test]
fn init_from_the_variable_is_the_same_as_the_flag() {
    let mut run = Run::local();
    run.env("SHORTCUT_ENV_INIT", "1")
        .command(&["/bin/sh", "-c", "echo $PPID; exit 3"]);
    let outcome = run.run_within(BOUND);
    outcome.code(3);
    // The wrapper is the parent: it did not exec.
    assert_eq!(outcome.stdout.trim(), outcome.pid.to_string());
}
