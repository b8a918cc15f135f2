//! Stopping before the command starts, and handing the command the signal state we inherited.
//!
//! As a container's ENTRYPOINT the wrapper is often PID 1, and the kernel drops every signal
//! whose disposition is the default for PID 1: without this module `docker stop` waits for
//! SIGKILL and Ctrl-C does nothing while secrets are fetched. So, the tini way:
//!
//! - [`install`], first thing in `main`, before any thread exists, blocks TERM, INT, HUP and
//!   QUIT (and USR1, USR2, WINCH and CHLD, for `--init`) in the main thread; every thread
//!   started later (tokio's, the DNS resolver's) inherits the block. A blocked signal is queued
//!   even for PID 1.
//! - Under `--init` ([`supervise`]), once the command runs, the same thread forwards every
//!   signal to the command's process group and reports it to the supervisor (src/supervise.rs).
//! - One thread `sigwait`s for them. On a signal it removes the files written so far, logs one
//!   error naming the signal, and exits with 128+N: nothing is exec'd.
//! - [`ExecGate::open`], just before `execve`, restores exactly the mask we inherited and resets
//!   SIGPIPE (which Rust's runtime ignores before `main`) to the default, as `std::process`
//!   does: the command sees the dispositions and mask its parent gave us.
//!
//! A signal that we inherited ignored (SIG_IGN, e.g. HUP under `nohup`) or blocked stays so: we
//! do not wait for it, so it neither stops us nor is taken away from the command. Whether a signal
//! is ignored is read from `/proc/self/status` (`SigIgn`), which needs no `unsafe` (querying a
//! disposition with `sigaction` would); without /proc, no signal counts as ignored.
//!
//! One registry knows the files written for the command, so that the signal thread, every error
//! path and a failed exec remove the same ones. A lock orders the signal thread against writing
//! files and against exec: a signal that arrives while files are written waits until they are
//! recorded, and once the exec gate is open the signal thread can no longer remove them.

use std::sync::{Mutex, MutexGuard, OnceLock};

use nix::sys::signal::{SigSet, Signal};

use crate::error::Error;
use crate::log::Logger;

/// The signals that stop a start before exec.
const STOP_SIGNALS: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// The other signals an init forwards (`--init`, src/supervise.rs), and SIGCHLD, which tells it
/// to reap. Blocked from the start in every mode, so that no thread can take them: before the
/// command runs, USR1 and USR2 stop the start like the stop signals (their default action ends
/// a process too), WINCH and CHLD are dropped (their default is to ignore them).
const OTHER_SIGNALS: [Signal; 4] = [
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCHLD,
];

/// What the signal thread needs, behind the one lock.
struct State {
    /// Files written for the command, to remove if it is not going to run.
    written: Vec<crate::materialize::Written>,
    /// How to log the stop (set once the log format is known).
    log: Logger,
    /// Set by [`supervise`]: the signals go to the supervisor (and to the command's group).
    supervisor: Option<Supervisor>,
}

/// The `--init` supervisor's side of the signal thread.
struct Supervisor {
    /// The process group of the running command; `None` while none runs (before the first
    /// start, between a stop and a restart).
    group: Option<nix::unistd::Pid>,
    /// Every signal received, for the supervisor loop.
    events: std::sync::mpsc::Sender<Signal>,
}

static STATE: Mutex<State> = Mutex::new(State {
    written: Vec::new(),
    log: Logger::TEXT,
    supervisor: None,
});

/// The signal mask this process started with, restored for the command.
static INHERITED_MASK: OnceLock<SigSet> = OnceLock::new();

fn state() -> MutexGuard<'static, State> {
    // A poisoned lock only means a thread panicked while holding it; the list is still usable.
    STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Blocks the stop signals and starts the thread that waits for them. Call it before any other
/// thread exists; calling it again does nothing.
pub(crate) fn install() {
    if INHERITED_MASK.get().is_some() {
        return;
    }
    let Ok(inherited) = SigSet::thread_get_mask() else {
        return;
    };
    let ignored = ignored_signals();
    let mut wait_for = SigSet::empty();
    for signal in STOP_SIGNALS.into_iter().chain(OTHER_SIGNALS) {
        if !inherited.contains(signal) && !ignored.contains(&signal) {
            wait_for.add(signal);
        }
    }
    if INHERITED_MASK.set(inherited).is_err() || wait_for.thread_block().is_err() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || wait_and_stop(wait_for));
    if spawned.is_err() {
        // Without the thread the signals would stay blocked and be lost: give them back.
        let _ = wait_for.thread_unblock();
    }
}

/// The signal thread: before the command runs, the first stop signal ends the start; under
/// `--init`, once it runs, every signal is forwarded to its process group and reported to the
/// supervisor.
fn wait_and_stop(set: SigSet) {
    loop {
        let Ok(signal) = set.wait() else {
            continue;
        };
        let state = state();
        if let Some(supervisor) = &state.supervisor {
            if let Some(group) = supervisor.group
                && signal != Signal::SIGCHLD
            {
                // ESRCH: the group is gone already; the supervisor learns it from SIGCHLD.
                let _ = nix::sys::signal::killpg(group, signal);
            }
            let _ = supervisor.events.send(signal);
            // With no command running, a stop signal still stops us at once.
            if supervisor.group.is_some() || !STOP_SIGNALS.contains(&signal) {
                continue;
            }
        }
        if matches!(signal, Signal::SIGWINCH | Signal::SIGCHLD) {
            continue;
        }
        stop(state, signal);
    }
}

/// Removes the files, logs, and exits with 128+N. Takes the lock: while files are being
/// written the signal thread waits a moment for it; once the exec gate is open, forever (the
/// process becomes the command, or reports why it could not).
fn stop(state: MutexGuard<'static, State>, signal: Signal) -> ! {
    crate::materialize::remove_files(&state.written);
    let error = Error::Stopped {
        signal: signal.as_str(),
        number: signal as i32,
    };
    state.log.error(&error);
    // The main thread may be anywhere (blocked in a fetch): end the whole process from here.
    // std's `exit` is safe to call while other threads run (it serializes concurrent calls).
    std::process::exit(error.exit_code())
}

/// The signals whose disposition we inherited as SIG_IGN, from `/proc/self/status`.
fn ignored_signals() -> Vec<Signal> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Vec::new();
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .map(|mask| {
            STOP_SIGNALS
                .into_iter()
                .chain(OTHER_SIGNALS)
                .filter(|signal| mask & (1u64 << (*signal as i32 - 1)) != 0)
                .collect()
        })
        .unwrap_or_default()
}

/// Sets how the signal thread logs, once the log format is known.
pub(crate) fn set_logger(log: Logger) {
    state().log = log;
}

/// Runs `write`, which writes files for the command and returns their paths, and records
/// them; a stop signal waits until they are recorded, so none is left behind.
pub(crate) fn writing<T, E>(
    write: impl FnOnce() -> Result<(T, Vec<crate::materialize::Written>), E>,
) -> Result<T, E> {
    let mut state = state();
    let (value, paths) = write()?;
    state.written.extend(paths);
    Ok(value)
}

/// Removes the recorded files: the command is not going to run.
pub(crate) fn remove_written() {
    let mut state = state();
    crate::materialize::remove_files(&state.written);
    state.written.clear();
}

/// Forgets the recorded files without removing them: `export` printed their paths, so they now
/// belong to whoever reads its output.
pub(crate) fn keep_written() {
    state().written.clear();
}

/// Hands the signals to the `--init` supervisor: from now on each one is sent on the returned
/// channel, and forwarded to the command's process group while one runs.
pub(crate) fn supervise() -> std::sync::mpsc::Receiver<Signal> {
    let (events, received) = std::sync::mpsc::channel();
    state().supervisor = Some(Supervisor {
        group: None,
        events,
    });
    received
}

/// Runs `spawn`, which starts the command as the leader of a new process group and returns its
/// PID, and records the group, under the lock: a signal either stops us before the command
/// exists or is forwarded to it, never lost in between.
pub(crate) fn spawning<E>(
    spawn: impl FnOnce() -> Result<nix::unistd::Pid, E>,
) -> Result<nix::unistd::Pid, E> {
    let mut state = state();
    let pid = spawn()?;
    if let Some(supervisor) = &mut state.supervisor {
        supervisor.group = Some(pid);
    }
    Ok(pid)
}

/// The command's group is gone (reaped after a stop): signals are no longer forwarded.
pub(crate) fn group_gone() {
    if let Some(supervisor) = &mut state().supervisor {
        supervisor.group = None;
    }
}

/// The signal mask this process started with (empty if unknown), for the `--init` command.
pub(crate) fn inherited_mask() -> SigSet {
    INHERITED_MASK.get().copied().unwrap_or_else(SigSet::empty)
}

/// Held from just before exec until the process is the command: the signal thread cannot stop
/// us (or remove the command's files) any more.
pub(crate) struct ExecGate {
    state: MutexGuard<'static, State>,
}

impl ExecGate {
    /// Restores the inherited signal mask and SIGPIPE's default disposition for the command.
    pub(crate) fn open() -> ExecGate {
        let state = state();
        if let Some(mask) = INHERITED_MASK.get() {
            let _ = mask.thread_set_mask();
        }
        reset_sigpipe();
        ExecGate { state }
    }

    /// The exec failed: block the stop signals again (the rest of the failure runs as before)
    /// and remove the files.
    pub(crate) fn failed(mut self) {
        let mut block = SigSet::empty();
        for signal in STOP_SIGNALS.into_iter().chain(OTHER_SIGNALS) {
            block.add(signal);
        }
        let _ = block.thread_block();
        crate::materialize::remove_files(&self.state.written);
        self.state.written.clear();
    }
}

/// Rust's runtime sets SIGPIPE to SIG_IGN before `main` (so that a closed pipe is an error,
/// not a death); the command must get the default back, as `std::process::Command` gives it.
/// An ignored SIGPIPE inherited from the parent cannot be told apart and is reset too, as std
/// does.
#[allow(unsafe_code)]
fn reset_sigpipe() {
    // SAFETY: installs SIG_DFL, not a handler, so no code of ours can run in signal context; the
    // only unsafety `signal` guards against (an unsafe handler function) cannot arise.
    let _ =
        unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) };
}
