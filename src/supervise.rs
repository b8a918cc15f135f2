//! `--init` and `--watch`: instead of exec'ing, the wrapper stays as a tiny init.
//!
//! `--init` starts the command (posix_spawn) as the leader of a process group of its own, with
//! the signal mask we inherited, SIGPIPE back at its default and no descriptor of ours (every
//! one is close-on-exec): what exec would have given it. It forwards every signal it gets to
//! that group (the signal thread does, src/signals.rs), reaps every zombie (as PID 1, or else
//! as a child subreaper, so orphans come back to us), and exits with the command's status, or
//! 128+N when signal N ended it. The AWS clients and the async runtime are gone before the
//! command starts: they live only inside `sources::secretsmanager::fetch`.
//!
//! `--watch` adds a poll: every interval (with ±10 % jitter) one DescribeSecret per watched
//! secret (every reference that follows AWSCURRENT). Only when AWSCURRENT moved does it run the
//! pipeline again (GetSecretValue with the version ids the poll saw, the same rules, the files),
//! and it acts only when the command's *effective* environment changed. A new value that fails
//! any rule, and a failing poll, are logged and leave the command running.
//!
//! Between two polls the wrapper holds no secret value: it keeps one SHA-256 digest per
//! variable of the command's environment, enough to tell which keys changed.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::{SigSet, Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use serde_json::{Map, json};

use crate::app::Plan;
use crate::config::{Config, OnChange, Source, Supervise, signal_name};
use crate::error::{Code, Error};
use crate::log::Logger;
use crate::payload::Origin;
use crate::signals;
use crate::vars::Vars;

/// The signals after which the supervisor stops too once the command has ended, instead of
/// restarting it: the ones that stop a start.
const STOP_SIGNALS: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// How long to wait for the group to go after its SIGKILL; the kernel needs milliseconds.
const AFTER_KILL: Duration = Duration::from_secs(5);

/// How often a wait re-checks the group when no signal arrives (SIGCHLD wakes it at once).
const TICK: Duration = Duration::from_millis(100);

/// Runs the command under supervision until it ends; returns its status. `prepared` is the
/// start's plan (files written, success line logged).
pub(crate) fn run(
    command: &[OsString],
    prepared: Plan,
    inherited: &Vars,
    log: &Logger,
) -> Result<i32, Error> {
    let supervise = prepared.config.supervise.clone();
    let events = signals::supervise();
    if nix::unistd::getpid().as_raw() != 1 {
        // Orphans of the command are re-parented to us, not to the host's init, and reaped
        // here. Failing is not fatal: the command still runs, orphans go to the real init.
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            log.warn(&format!(
                "could not become a child subreaper ({e}): orphans of the command are reaped by \
                 PID 1, not by shortcut-env"
            ));
        }
    }
    let mut init = Init {
        command: command.to_vec(),
        events,
        child: Pid::from_raw(0),
        stop: None,
    };
    let mut prepared = prepared;
    if supervise.watch.is_some() && matches!(supervise.on_change, OnChange::Signal(_)) {
        let vars = prepared.file_vars();
        swap_links(&live_links(&mut prepared.env, &vars))?;
    }
    init.child = init.start(&prepared.env)?;
    let watcher = supervise
        .watch
        .and_then(|interval| Watcher::new(&supervise, interval, &prepared, inherited, log));
    // From here on, only digests of the environment are kept (see the module's comment).
    drop(prepared);
    match watcher {
        None => loop {
            init.wait(Duration::MAX);
            if let Some(status) = init.reap() {
                return Ok(status);
            }
        },
        Some(watcher) => watcher.run(&mut init),
    }
}

/// The running command and the signals we got.
struct Init {
    command: Vec<OsString>,
    events: Receiver<Signal>,
    /// The command's PID, also its process group's id.
    child: Pid,
    /// A stop signal we received (and forwarded): once the command has ended, we end.
    stop: Option<Signal>,
}

impl Init {
    /// Starts the command with exactly `env`, as the leader of a new process group; 127 or 126
    /// as for exec when it cannot start. posix_spawn rather than std's `Command`, which leaves
    /// the child our blocked signals: the command gets the mask we inherited and SIGPIPE's
    /// default disposition back, as with exec.
    fn start(&self, env: &Vars) -> Result<Pid, Error> {
        let Some(program) = self.command.first() else {
            return Err(Error::NoCommand);
        };
        crate::exec::check_size(&self.command, env)?;
        let (Some(argv), Some(envp)) = (
            crate::exec::c_strings(self.command.iter()),
            crate::exec::c_strings(crate::exec::env_strings(env)),
        ) else {
            return Err(Error::CommandNotExecutable {
                command: program.to_string_lossy().into_owned(),
                reason: "an argument or variable holds a NUL byte".into(),
            });
        };
        let attributes = spawn_attributes().map_err(|errno| Error::CommandNotExecutable {
            command: program.to_string_lossy().into_owned(),
            reason: format!("could not prepare its start: {errno}"),
        })?;
        let actions =
            PosixSpawnFileActions::init().map_err(|errno| Error::CommandNotExecutable {
                command: program.to_string_lossy().into_owned(),
                reason: format!("could not prepare its start: {errno}"),
            })?;
        signals::spawning(|| {
            crate::exec::start_first(program, env, |path| {
                posix_spawn(path, &actions, &attributes, &argv, &envp)
            })
        })
        .inspect_err(|_| signals::remove_written())
    }

    /// Records a received signal.
    fn note(&mut self, signal: Option<Signal>) {
        if let Some(signal) = signal.filter(|s| STOP_SIGNALS.contains(s)) {
            self.stop = Some(signal);
        }
    }

    /// Reaps every child that has ended; returns the command's status once it has ended.
    fn reap(&mut self) -> Option<i32> {
        let mut status = None;
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == self.child => status = Some(code),
                Ok(WaitStatus::Signaled(pid, signal, _)) if pid == self.child => {
                    status = Some(Code::Signal.value() + signal as i32);
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                // Another child (an orphan re-parented to us), or a stop/continue report.
                Ok(_) => {}
            }
        }
        if status.is_some() {
            signals::group_gone();
        }
        status
    }

    /// Waits up to `timeout` for a signal, noting it.
    fn wait(&mut self, timeout: Duration) {
        match self.events.recv_timeout(timeout) {
            Ok(signal) => self.note(Some(signal)),
            Err(RecvTimeoutError::Timeout) => {}
            // Cannot happen (the sender lives in a static); if it did, reap by polling
            // rather than spin or sleep forever.
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(timeout.min(TICK)),
        }
    }

    /// Stops the command's whole group: `signal`, up to `timeout` for the command and the rest
    /// of its group to end, then SIGKILL of the group; reaps them. Returns the command's
    /// status, `None` if it could not be reaped (which SIGKILL makes very unlikely).
    fn stop_group(&mut self, signal: Signal, timeout: Duration) -> Option<i32> {
        let group = self.child;
        let _ = killpg(group, signal);
        let mut status = None;
        let mut deadline = Instant::now() + timeout;
        let mut killed = false;
        loop {
            status = status.or_else(|| self.reap());
            // Signal 0 to the group: ESRCH once no member is left (zombies count: we reap).
            let group_left = killpg(group, None).is_ok();
            if status.is_some() && !group_left {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                if killed {
                    break;
                }
                let _ = killpg(group, Signal::SIGKILL);
                killed = true;
                deadline = now + AFTER_KILL;
            }
            self.wait(TICK.min(deadline.saturating_duration_since(now)));
        }
        signals::group_gone();
        status
    }
}

/// A new process group led by the command, the signal mask we inherited, SIGPIPE at its
/// default (Rust's runtime ignores it; the rest of the dispositions we inherited stay as exec
/// would leave them).
fn spawn_attributes() -> Result<PosixSpawnAttr, Errno> {
    let mut attributes = PosixSpawnAttr::init()?;
    attributes.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETPGROUP
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
    )?;
    attributes.set_pgroup(Pid::from_raw(0))?;
    attributes.set_sigmask(&signals::inherited_mask())?;
    let mut default = SigSet::empty();
    default.add(Signal::SIGPIPE);
    attributes.set_sigdefault(&default)?;
    Ok(attributes)
}

/// What `--watch` keeps between polls.
struct Watcher<'a> {
    /// `--on-change`, the splay, how to stop.
    watch: &'a Supervise,
    interval: Duration,
    /// The configuration as resolved; each new run pins the watched references to the version
    /// ids the poll saw.
    config: Config,
    inherited: &'a Vars,
    log: &'a Logger,
    /// Indexes (in the configuration's secrets) of the references that follow AWSCURRENT.
    watched: Vec<usize>,
    /// The version id the running command was built from, by secret id.
    versions: Vec<(String, Option<String>)>,
    /// SHA-256 of every variable of the running command's environment.
    digests: BTreeMap<OsString, Vec<u8>>,
    /// Polls that failed in a row, for the backoff.
    failures: u32,
    next_poll: Instant,
}

/// A new version's pipeline result, not yet acted on.
struct Change {
    prepared: Plan,
    /// `signal:NAME`: the links to point at the new files.
    links: Vec<(PathBuf, PathBuf)>,
    /// One `secret X (version a → b)` per moved secret.
    moved: Vec<(String, String, String)>,
    keys: Vec<String>,
}

impl<'a> Watcher<'a> {
    /// `None` (with a warning) when no reference follows AWSCURRENT: then it is `--init` only.
    fn new(
        watch: &'a Supervise,
        interval: Duration,
        prepared: &Plan,
        inherited: &'a Vars,
        log: &'a Logger,
    ) -> Option<Watcher<'a>> {
        let watched = watched(&prepared.config);
        if watched.is_empty() {
            log.warn(
                "--watch has nothing to watch (local mode, or every reference is pinned to a \
                 version id or a stage other than AWSCURRENT): the command is supervised as with \
                 --init",
            );
            return None;
        }
        let mut fields = Map::new();
        fields.insert("event".into(), json!("watching"));
        fields.insert("interval_s".into(), json!(interval.as_secs_f64()));
        fields.insert("splay_s".into(), json!(watch.splay.as_secs_f64()));
        log.info(
            &format!(
                "watching {} secret{} every {} s for a new AWSCURRENT version",
                watched.len(),
                if watched.len() == 1 { "" } else { "s" },
                interval.as_secs_f64()
            ),
            fields,
        );
        Some(Watcher {
            watch,
            interval,
            config: prepared.config.clone(),
            inherited,
            log,
            watched,
            versions: versions(prepared),
            digests: digests(&prepared.env),
            failures: 0,
            next_poll: Instant::now() + jittered(interval),
        })
    }

    /// The supervisor loop with polls; returns the exit status.
    fn run(mut self, init: &mut Init) -> Result<i32, Error> {
        loop {
            // After a stop signal no poll is due: only the command's end (SIGCHLD) matters.
            let until_poll = match init.stop {
                Some(_) => Duration::MAX,
                None => self.next_poll.saturating_duration_since(Instant::now()),
            };
            init.wait(until_poll);
            if let Some(status) = init.reap() {
                return Ok(status);
            }
            if init.stop.is_some() || Instant::now() < self.next_poll {
                continue;
            }
            if let Some(change) = self.poll()
                && let Some(status) = self.act(init, change)?
            {
                return Ok(status);
            }
        }
    }

    /// One poll, and the pipeline again if a version moved and the result is usable.
    fn poll(&mut self) -> Option<Change> {
        let Source::Aws(aws) = &self.config.source else {
            return None;
        };
        let mut described = aws.clone();
        described.secrets = self
            .watched
            .iter()
            .filter_map(|i| aws.secrets.get(*i).cloned())
            .collect();
        let trust = crate::sources::tls::Sources::system(|name| {
            self.inherited.get(name).map(OsStr::to_os_string)
        });
        let current = match crate::sources::secretsmanager::current_versions(&described, &trust) {
            Ok(current) => current,
            Err(error) => {
                self.failures = self.failures.saturating_add(1);
                let wait = backoff(self.interval, self.failures);
                self.next_poll = Instant::now() + wait;
                let mut fields = Map::new();
                fields.insert("event".into(), json!("poll-failed"));
                fields.insert("retry_in_s".into(), json!(wait.as_secs()));
                self.log.warn_error(
                    &format!(
                        "watching failed, the command keeps running (next poll in {} s)",
                        wait.as_secs()
                    ),
                    &error,
                    fields,
                );
                return None;
            }
        };
        self.failures = 0;
        self.next_poll = Instant::now() + jittered(self.interval);
        let mut pinned = self.config.clone();
        let Source::Aws(pinned_aws) = &mut pinned.source else {
            return None;
        };
        let mut moved = Vec::new();
        for (index, version) in self.watched.iter().zip(current) {
            // A secret with no AWSCURRENT version (being rotated by hand): keep what runs.
            let Some(version) = version else { continue };
            if let Some(reference) = pinned_aws.secrets.get_mut(*index) {
                let known = self
                    .versions
                    .iter()
                    .find(|(secret, _)| *secret == reference.secret_id)
                    .and_then(|(_, version)| version.clone());
                if known.as_deref() != Some(version.as_str()) {
                    moved.push((
                        reference.secret_id.clone(),
                        known.unwrap_or_else(|| "unknown".into()),
                        version.clone(),
                    ));
                }
                reference.version_id = Some(version);
                reference.version_stage = None;
            }
        }
        if moved.is_empty() {
            return None;
        }
        let described = describe(&moved);
        match self.rebuild(pinned) {
            Ok(mut prepared) => {
                let links = match self.watch.on_change {
                    OnChange::Signal(_) => {
                        let vars = prepared.file_vars();
                        live_links(&mut prepared.env, &vars)
                    }
                    _ => Vec::new(),
                };
                let keys = changed_keys(&self.digests, &prepared.env);
                if keys.is_empty() {
                    // Nothing the command sees changed (an excluded key, a reformatted JSON).
                    self.versions = versions(&prepared);
                    self.event(
                        &moved,
                        "unchanged",
                        &keys,
                        None,
                        &format!(
                            "{described}: the command's environment is the same, it keeps running"
                        ),
                    );
                    return None;
                }
                Some(Change {
                    prepared,
                    links,
                    moved,
                    keys,
                })
            }
            Err(error) => {
                let mut fields = Map::new();
                fields.insert("event".into(), json!("change-rejected"));
                fields.insert("secrets".into(), moved_json(&moved));
                self.log.warn_error(
                    &format!(
                        "{described}, but the new value is not used and the command keeps running \
                         (retried at the next poll)"
                    ),
                    &error,
                    fields,
                );
                None
            }
        }
    }

    /// The start's pipeline once more: fetch, rules, files, required keys, size.
    fn rebuild(&self, pinned: Config) -> Result<Plan, Error> {
        crate::app::rebuild(pinned, self.inherited, self.log)
    }

    /// Acts on a change as `--on-change` says; `Some(status)` when we are to exit.
    fn act(&mut self, init: &mut Init, change: Change) -> Result<Option<i32>, Error> {
        let described = describe(&change.moved);
        let keys = change.keys.join(", ");
        let action = match self.watch.on_change {
            OnChange::Restart => "restarting",
            OnChange::Exit => "exiting so that the orchestrator replaces the task",
            OnChange::Signal(_) => "signalling",
        };
        if let OnChange::Signal(number) = self.watch.on_change {
            // Only the files can reach a running process; a changed variable needs a restart.
            let signal = Signal::try_from(number).unwrap_or(Signal::SIGHUP);
            if let Err(error) = swap_links(&change.links) {
                let mut fields = Map::new();
                fields.insert("event".into(), json!("change-rejected"));
                fields.insert("secrets".into(), moved_json(&change.moved));
                self.log.warn_error(
                    &format!("{described}, but the files could not be rewritten"),
                    &error,
                    fields,
                );
                return Ok(None);
            }
            let _ = killpg(init.child, signal);
            self.event(
                &change.moved,
                "signalled",
                &change.keys,
                None,
                &format!(
                    "{described}: sent {} (keys changed: {keys}; a changed variable reaches the \
                     command only when it restarts)",
                    signal_name(number)
                ),
            );
            self.accept(change);
            return Ok(None);
        }
        // The splay: so that a fleet does not stop at once. Signals still count meanwhile. The
        // wait drawn is logged, so an operator (and a test) can tell it from a slow stop.
        let wait = random_up_to(self.watch.splay);
        let splay = if self.watch.splay.is_zero() {
            String::new()
        } else {
            format!("splay {:.1} s; ", wait.as_secs_f64())
        };
        self.event(
            &change.moved,
            if self.watch.on_change == OnChange::Exit {
                "exiting"
            } else {
                "restarting"
            },
            &change.keys,
            Some(wait),
            &format!("{described}: {action} ({splay}keys changed: {keys})"),
        );
        let splay_end = Instant::now() + wait;
        while Instant::now() < splay_end {
            init.wait(splay_end.saturating_duration_since(Instant::now()));
            if let Some(status) = init.reap() {
                return Ok(Some(status));
            }
            if init.stop.is_some() {
                return Ok(None);
            }
        }
        let stop_signal = Signal::try_from(self.watch.stop_signal).unwrap_or(Signal::SIGTERM);
        let status = init.stop_group(stop_signal, self.watch.stop_timeout);
        if self.watch.on_change == OnChange::Exit {
            return Ok(Some(0));
        }
        if init.stop.is_some() {
            // A stop signal arrived during the restart: no new instance.
            return Ok(Some(
                status.unwrap_or(Code::Signal.value() + stop_signal as i32),
            ));
        }
        init.child = init.start(&change.prepared.env)?;
        self.accept(change);
        Ok(None)
    }

    /// The change is what runs now.
    fn accept(&mut self, change: Change) {
        self.versions = versions(&change.prepared);
        self.digests = digests(&change.prepared.env);
    }

    /// One log line for a change, with its JSON fields; `splay_wait` is the wait drawn from
    /// the splay before the command is stopped (`splay_wait_s`), for a restart or an exit.
    fn event(
        &self,
        moved: &[(String, String, String)],
        action: &str,
        keys: &[String],
        splay_wait: Option<Duration>,
        text: &str,
    ) {
        let mut fields = Map::new();
        fields.insert("event".into(), json!("secret-changed"));
        fields.insert("action".into(), json!(action));
        fields.insert("secrets".into(), moved_json(moved));
        fields.insert("keys_changed".into(), json!(keys));
        if let Some(wait) = splay_wait {
            fields.insert("splay_wait_s".into(), json!(wait.as_secs_f64()));
        }
        self.log.info(text, fields);
    }
}

/// `--on-change signal:NAME`: each file variable points at a link of ours beside its file
/// (`.live-<our pid>-<VAR>`) instead of the file itself. Files are named after their content
/// (src/materialize.rs), so a new value is a new file; [`swap_links`] then points the link at
/// it atomically, and the command rereads the new content at the path it was given. Returns
/// (link, file) pairs; sets the variables.
fn live_links(env: &mut Vars, vars: &[String]) -> Vec<(PathBuf, PathBuf)> {
    let pid = std::process::id();
    let mut links = Vec::new();
    for var in vars {
        let Some(file) = env.get(var).map(PathBuf::from) else {
            continue;
        };
        let link = file.with_file_name(format!(".live-{pid}-{var}"));
        env.insert(var.as_str(), link.as_os_str());
        links.push((link, file));
    }
    links
}

/// Points each link at its file: a new symbolic link under a temporary name, renamed over the
/// link (a rename is atomic: a reader sees the old file or the new one, never none).
fn swap_links(links: &[(PathBuf, PathBuf)]) -> Result<(), Error> {
    for (link, file) in links {
        let mut temporary = link.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let failed = |e: std::io::Error| Error::CredentialsFileFailed {
            path: link.clone(),
            reason: e.to_string(),
        };
        match std::fs::remove_file(&temporary) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(e)),
            _ => {}
        }
        std::os::unix::fs::symlink(file, &temporary).map_err(failed)?;
        std::fs::rename(&temporary, link).map_err(failed)?;
    }
    Ok(())
}

/// The indexes of the references `--watch` polls: the secrets that follow AWSCURRENT (a version
/// id or another stage is pinned on purpose, and never moves; SSM parameters have no
/// DescribeSecret).
fn watched(config: &Config) -> Vec<usize> {
    match &config.source {
        Source::Aws(aws) => aws
            .secrets
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.parameter.is_none()
                    && r.version_id.is_none()
                    && r.version_stage.as_deref().is_none_or(|s| s == "AWSCURRENT")
            })
            .map(|(index, _)| index)
            .collect(),
        Source::Local { .. } => Vec::new(),
    }
}

/// Hours in a month, as AWS prices them.
const HOURS_PER_MONTH: f64 = 730.0;
/// Secrets Manager's price of API calls, in dollars per 10,000.
const DOLLARS_PER_10K_CALLS: f64 = 0.05;

/// What `check` prints about `--watch`: the polls per task and hour, and per 1,000 tasks and
/// month with their price. `None` without `--watch`.
pub(crate) fn watch_cost(config: &Config) -> Option<String> {
    let interval = config.supervise.watch?;
    let secrets = watched(config).len();
    if secrets == 0 {
        return Some(
            "watch: nothing to watch (local mode, or every reference is pinned): no calls\n".into(),
        );
    }
    Some(cost_line(secrets, interval))
}

fn cost_line(secrets: usize, interval: Duration) -> String {
    // A handful of secrets: far below the 2^52 where an f64 stops counting exactly.
    #[allow(clippy::cast_precision_loss, reason = "a count of secrets")]
    let per_hour = secrets as f64 * 3600.0 / interval.as_secs_f64();
    let per_month_1000 = per_hour * HOURS_PER_MONTH * 1000.0;
    let dollars = per_month_1000 / 10_000.0 * DOLLARS_PER_10K_CALLS;
    format!(
        "watch: {secrets} secret{} every {} s: {} DescribeSecret calls per task per hour; per \
         1,000 tasks {} calls a month, ${} at ${DOLLARS_PER_10K_CALLS} per 10,000 calls (plus \
         one GetSecretValue per secret and task for each new version)\n",
        if secrets == 1 { "" } else { "s" },
        interval.as_secs_f64(),
        grouped(per_hour.round()),
        grouped(per_month_1000.round()),
        format_dollars(dollars),
    )
}

/// `8760000` → `8,760,000`.
fn grouped(number: f64) -> String {
    let digits = format!("{number:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Dollars with cents and thousands separators: `1,752.00`.
fn format_dollars(dollars: f64) -> String {
    let cents = (dollars * 100.0).round();
    let whole = (cents / 100.0).trunc();
    format!("{}.{:02.0}", grouped(whole), cents - whole * 100.0)
}

/// The version id each secret was read at, by secret id (parameters and dotenv files have
/// none that `--watch` follows).
fn versions(plan: &Plan) -> Vec<(String, Option<String>)> {
    plan.origins
        .iter()
        .filter_map(|origin| match origin {
            Origin::Secret {
                secret, version_id, ..
            } => Some((secret.clone(), version_id.clone())),
            Origin::Parameter { .. } | Origin::DotEnv { .. } => None,
        })
        .collect()
}

/// `secret X changed (version a → b)`, for each moved secret.
fn describe(moved: &[(String, String, String)]) -> String {
    moved
        .iter()
        .map(|(secret, from, to)| format!("secret {secret} changed (version {from} → {to})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn moved_json(moved: &[(String, String, String)]) -> serde_json::Value {
    json!(
        moved
            .iter()
            .map(|(secret, from, to)| json!({"secret": secret, "from_version": from, "to_version": to}))
            .collect::<Vec<_>>()
    )
}

/// SHA-256 of each variable's value.
fn digests(env: &Vars) -> BTreeMap<OsString, Vec<u8>> {
    env.iter()
        .map(|(name, value)| (name.to_owned(), digest(value)))
        .collect()
}

fn digest(value: &OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    ring::digest::digest(&ring::digest::SHA256, value.as_bytes())
        .as_ref()
        .to_vec()
}

/// The names whose value differs between the running environment and `env`, added and removed
/// ones included, sorted.
fn changed_keys(running: &BTreeMap<OsString, Vec<u8>>, env: &Vars) -> Vec<String> {
    let new = digests(env);
    let mut names: Vec<String> = new
        .iter()
        .filter(|(name, digest)| running.get(*name) != Some(digest))
        .map(|(name, _)| name)
        .chain(running.keys().filter(|name| !new.contains_key(*name)))
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A uniform random fraction in [0, 1) from the system's random source (0 if it fails).
fn random_fraction() -> f64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 4];
    match ring::rand::SystemRandom::new().fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.0,
    }
}

/// `interval` ± 10 %, so that tasks started together do not poll together.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + 0.2 * random_fraction())
}

/// A uniform random wait from 0 to `splay`.
fn random_up_to(splay: Duration) -> Duration {
    splay.mul_f64(random_fraction())
}

/// After `failures` failed polls in a row: the interval doubled per failure, at most 4 times
/// the interval (the SDK already retried inside each poll), jittered.
fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1)).min(4);
    jittered(interval.saturating_mul(factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().copied().collect()
    }

    #[test]
    fn changed_keys_names_changed_added_and_removed_variables() {
        let running = digests(&vars(&[("A", "1"), ("B", "2"), ("C", "3")]));
        let new = vars(&[("A", "1"), ("B", "two"), ("D", "4")]);
        assert_eq!(changed_keys(&running, &new), ["B", "C", "D"]);
        assert!(changed_keys(&running, &vars(&[("A", "1"), ("B", "2"), ("C", "3")])).is_empty());
    }

    #[test]
    fn jitter_stays_within_ten_percent_and_splay_within_its_bound() {
        for _ in 0..100 {
            let wait = jittered(Duration::from_secs(100));
            assert!((90.0..=110.0).contains(&wait.as_secs_f64()), "{wait:?}");
            assert!(random_up_to(Duration::from_secs(30)) <= Duration::from_secs(30));
        }
        assert_eq!(random_up_to(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn the_cost_of_watching_one_secret_every_300_s() {
        assert_eq!(
            cost_line(1, Duration::from_mins(5)),
            "watch: 1 secret every 300 s: 12 DescribeSecret calls per task per hour; per 1,000 \
             tasks 8,760,000 calls a month, $43.80 at $0.05 per 10,000 calls (plus one \
             GetSecretValue per secret and task for each new version)\n"
        );
    }

    #[test]
    fn the_cost_of_watching_two_secrets_every_60_s() {
        let line = cost_line(2, Duration::from_mins(1));
        assert!(
            line.contains(" 120 DescribeSecret calls per task per hour"),
            "{line}"
        );
        assert!(line.contains("87,600,000 calls a month, $438.00"), "{line}");
    }

    #[test]
    fn backoff_doubles_up_to_four_intervals() {
        let interval = Duration::from_secs(100);
        assert!(backoff(interval, 1) <= Duration::from_secs(110));
        assert!(backoff(interval, 2) >= Duration::from_mins(3));
        assert!(backoff(interval, 10) <= Duration::from_secs(440));
    }
}
