//! Test support: the real binary, run in a cleared environment against real loopback endpoints.
//!
//! - [`moto`]: moto's Secrets Manager server, one per test process, on a free loopback port.
//! - [`Proxy`]: a fault-injecting HTTP proxy in front of it that counts the calls it sees.
//! - [`CredentialsEndpoint`]: an ECS container-credentials endpoint.
//! - [`Run`]: a builder that runs `shortcut-env`, carries what the run must end with (exit code,
//!   stderr, what the command sees, calls made, time taken) and checks it, together with the
//!   invariants every run keeps ([`expect`]).

#![allow(dead_code)]

pub mod endpoints;
pub mod expect;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::primitives::Blob;

pub use endpoints::{CredentialsEndpoint, Fault, Proxy};
use expect::{Expect, Invariants};

pub const BIN: &str = env!("CARGO_BIN_EXE_shortcut-env");
pub const REGION: &str = "us-east-1";

/// The guide's secret shape, with a marker in every value so leak tests can look for it.
pub const MARKER: &str = "LEAKMARKER";
pub fn guide_secret() -> String {
    let gcp = serde_json::json!({
        "type": "service_account",
        "project_id": "short-cut-test",
        "private_key_id": format!("{MARKER}-pkid"),
        "private_key": format!("-----BEGIN PRIVATE KEY-----\n{MARKER}\n-----END PRIVATE KEY-----\n"),
        "client_email": "app@short-cut-test.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    serde_json::json!({
        "OPENAI_API_KEY": format!("sk-{MARKER}-openai"),
        "PINECONE_API_KEY": format!("pcsk_{MARKER}"),
        "GCP_PROJECT_ID": "short-cut-test",
        "GOOGLE_APPLICATION_CREDENTIALS_JSON": gcp.to_string(),
        "APP_SECRET_KEY": format!("{MARKER}-app-secret"),
        "MILVUS_HOST": "milvus.internal",
        "MILVUS_PORT": "19530",
    })
    .to_string()
}

// ---- moto ---------------------------------------------------------------------------------

pub struct Moto {
    pub port: u16,
    _child: Child,
    /// Closing it (when the test process exits) stops the server.
    _stdin: Mutex<ChildStdin>,
}

impl Moto {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The python with the test requirements (moto, python-dotenv), also used for small helpers such
/// as a parent that blocks signals before it execs the wrapper.
pub fn project_python() -> PathBuf {
    if let Some(python) = std::env::var_os("SHORTCUT_ENV_TEST_PYTHON") {
        return PathBuf::from(python);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

/// The shared emulator, started on first use. Fails the test, loudly, when it is not installed.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let python = project_python();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_server.py");
        let install = "install it with ./scripts/test (which creates .venv and runs \
                       `.venv/bin/pip install -r tests/requirements.txt`), or point \
                       SHORTCUT_ENV_TEST_PYTHON at a python that has moto[server]";
        assert!(
            python.exists(),
            "moto's server is needed for these tests, but {} does not exist: {install}",
            python.display()
        );
        let mut child = Command::new(&python)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}; {install}", python.display()));
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Ok(port) = line.trim().parse() else {
            let mut stderr = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
            panic!("moto's server did not start: {stderr}\n{install}");
        };
        // Its log must be drained: a full pipe would block the server's request threads, and
        // with them every test after the first 64 KiB of log.
        if let Some(mut stderr) = child.stderr.take() {
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        }
        Moto {
            port,
            _child: child,
            _stdin: Mutex::new(stdin),
        }
    })
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn client(endpoint: &str) -> Client {
    client_in(endpoint, REGION)
}

fn client_in(endpoint: &str, region: &str) -> Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new(
            region.to_string(),
        ))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        // The SDK's default client is not built in (Cargo.toml): moto is plain HTTP.
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A secret created in moto: its name, ARN and first version id.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub name: String,
    pub arn: String,
    pub version_id: String,
}

pub enum Value<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// Creates `name` in moto with `value`.
pub fn seed(name: &str, value: Value) -> Seeded {
    seed_in(REGION, name, value)
}

/// Creates `name` in moto's `region` (moto keeps each region's secrets apart, as AWS does).
pub fn seed_in(region: &str, name: &str, value: Value) -> Seeded {
    let client = client_in(&moto().url(), region);
    let request = client.create_secret().name(name);
    let request = match value {
        Value::Text(text) => request.secret_string(text),
        Value::Binary(bytes) => request.secret_binary(Blob::new(bytes)),
    };
    let output = block_on(request.send()).unwrap_or_else(|e| panic!("seeding {name}: {e:?}"));
    Seeded {
        name: name.to_string(),
        arn: output.arn().unwrap().to_string(),
        version_id: output.version_id().unwrap().to_string(),
    }
}

/// Replicates the secret `name` of moto's default region to `regions`, as
/// ReplicateSecretToRegions does in AWS: same name, the ARN with each region's name.
pub fn replicate(name: &str, regions: &[&str]) {
    use aws_sdk_secretsmanager::types::ReplicaRegionType;
    let client = client(&moto().url());
    let mut request = client.replicate_secret_to_regions().secret_id(name);
    for region in regions {
        request = request.add_replica_regions(ReplicaRegionType::builder().region(*region).build());
    }
    block_on(request.send()).unwrap_or_else(|e| panic!("replicating {name}: {e:?}"));
}

/// Creates a uniquely named secret holding `text`.
pub fn seed_text(text: &str) -> Seeded {
    seed(&unique("short-cut/test/app"), Value::Text(text))
}

/// Adds a new current version to an existing secret; returns its version id.
pub fn put_value(name: &str, text: &str) -> String {
    let client = client(&moto().url());
    let output = block_on(
        client
            .put_secret_value()
            .secret_id(name)
            .secret_string(text)
            .send(),
    )
    .unwrap_or_else(|e| panic!("put_secret_value {name}: {e:?}"));
    output.version_id().unwrap().to_string()
}

// ---- SSM Parameter Store (moto serves it on the same port) ---------------------------------

fn ssm_client_in(region: &str) -> aws_sdk_ssm::Client {
    let config = aws_sdk_ssm::Config::builder()
        .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
        .region(aws_sdk_ssm::config::Region::new(region.to_string()))
        .endpoint_url(moto().url())
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}

/// moto's account: the account of every parameter ARN it answers with.
pub const MOTO_ACCOUNT: &str = "123456789012";

/// A path no other test uses, with its trailing slash: `/short-cut/test/ssm-PID-N/`.
pub fn unique_path() -> String {
    format!("/short-cut/test/{}/", unique("ssm"))
}

/// Creates or overwrites the SecureString parameter `name` in moto; returns its new version.
pub fn put_secure(name: &str, value: &str) -> i64 {
    put_parameter_in(
        REGION,
        name,
        value,
        aws_sdk_ssm::types::ParameterType::SecureString,
    )
}

/// Creates or overwrites the String parameter `name` in moto; returns its new version.
pub fn put_string(name: &str, value: &str) -> i64 {
    put_parameter_in(
        REGION,
        name,
        value,
        aws_sdk_ssm::types::ParameterType::String,
    )
}

pub fn put_parameter_in(
    region: &str,
    name: &str,
    value: &str,
    kind: aws_sdk_ssm::types::ParameterType,
) -> i64 {
    let client = ssm_client_in(region);
    let request = client
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(true)
        .send();
    block_on(request)
        .unwrap_or_else(|e| panic!("put_parameter {name}: {e:?}"))
        .version()
}

/// Puts `label` on `version` of parameter `name`.
pub fn label_parameter(name: &str, version: i64, label: &str) {
    let client = ssm_client_in(REGION);
    let request = client
        .label_parameter_version()
        .name(name)
        .parameter_version(version)
        .labels(label)
        .send();
    block_on(request).unwrap_or_else(|e| panic!("label_parameter_version {name}: {e:?}"));
}

/// The launcher that makes a run PID 1 of a new PID namespace, as in a container started
/// without an init (`unshare --pid --fork --mount-proc`); a missing `unshare` fails the test.
pub fn as_pid_1() -> Vec<&'static std::ffi::OsStr> {
    const AS_PID_1: &[&str] = &["unshare", "--pid", "--fork", "--mount-proc"];
    assert!(
        std::process::Command::new("unshare")
            .arg("--version")
            .output()
            .is_ok(),
        "the PID-1 tests need unshare: apt-get install util-linux"
    );
    AS_PID_1.iter().map(std::ffi::OsStr::new).collect()
}

// ---- running the binary -------------------------------------------------------------------

/// A run of `shortcut-env` in a cleared environment with its own HOME and temp dir.
pub struct Run {
    args: Vec<OsString>,
    env: BTreeMap<OsString, OsString>,
    cwd: Option<PathBuf>,
    /// Where stdout goes instead of a pipe (e.g. /dev/full).
    stdout_file: Option<PathBuf>,
    /// What the run must end with, checked when it finishes.
    expect: Expect,
    /// The fault proxy the run talks to, when it was made with one.
    proxy: Option<Proxy>,
    /// The command is the probe: `env -0` into a file, so stdout is the wrapper's alone.
    probe: bool,
    pub temp: tempfile::TempDir,
}

impl Run {
    /// No configuration at all: only PATH, HOME and TMPDIR (both private to the run).
    pub fn bare() -> Run {
        let temp = tempfile::tempdir().unwrap();
        let mut run = Run {
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: Some(temp.path().to_path_buf()),
            stdout_file: None,
            expect: Expect::default(),
            proxy: None,
            probe: false,
            temp,
        };
        let home = run.temp.path().join("home");
        let temp_dir = run.temp.path().join("tmp");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&temp_dir).unwrap();
        run.env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &home)
            .env("TMPDIR", &temp_dir)
            // Nothing outside the test may answer for credentials.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", home.join("no-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"));
        run
    }

    /// Production against `endpoint`, with static test keys, reading `secret`.
    pub fn aws(endpoint: &str, secret: &str) -> Run {
        let mut run = Run::bare();
        run.env("APP_ENV", "production")
            .env("AWS_REGION", REGION)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("SECRET_NAME", secret);
        run
    }

    /// Production against moto directly.
    pub fn moto(secret: &str) -> Run {
        Run::aws(&moto().url(), secret)
    }

    /// Local mode.
    pub fn local() -> Run {
        let mut run = Run::bare();
        run.env("APP_ENV", "local");
        run
    }

    /// Production against moto, reading a new secret that holds `text`.
    pub fn secret(text: &str) -> Run {
        Run::moto(&seed_text(text).name)
    }

    /// Production through a fresh fault proxy in front of moto, reading `secret`: set its
    /// faults with [`fault`](Self::fault) and [`always`](Self::always), count its calls with
    /// [`calls`](Self::calls).
    pub fn proxied(secret: &str) -> Run {
        let proxy = Proxy::start(moto().port);
        let mut run = Run::aws(&proxy.url(), secret);
        run.proxy = Some(proxy);
        run
    }

    /// This run's proxy (made by [`proxied`](Self::proxied) or given to
    /// [`via`](Self::via)).
    #[track_caller]
    pub fn proxy(&self) -> &Proxy {
        self.proxy
            .as_ref()
            .expect("a run made with Run::proxied or given a proxy with .via()")
    }

    /// Counts the calls of `proxy` (one the test started itself) for [`calls`](Self::calls).
    pub fn via(&mut self, proxy: &Proxy) -> &mut Self {
        self.proxy = Some(proxy.clone());
        self
    }

    /// The proxy's next request gets `fault`; later ones the default.
    pub fn fault(&mut self, fault: Fault) -> &mut Self {
        self.proxy().then(fault);
        self
    }

    /// Every request the proxy's plan does not cover gets `fault`.
    pub fn always(&mut self, fault: Fault) -> &mut Self {
        self.proxy().always(fault);
        self
    }

    // ---- expectations, checked when the run finishes ------------------------------------

    /// The run ends with exit status `code`.
    pub fn code(&mut self, code: i32) -> &mut Self {
        self.expect.code(code);
        self
    }

    /// The wrapper fails with `code`: one error line, one hint line, nothing on stdout, and
    /// the probe (if it is the command) never ran.
    pub fn fails(&mut self, code: i32) -> &mut Self {
        self.expect.fails(code);
        self
    }

    /// Stderr holds `needle`.
    pub fn stderr_has(&mut self, needle: &str) -> &mut Self {
        self.expect.stderr_has(needle);
        self
    }

    /// Stderr does not hold `needle`.
    pub fn stderr_lacks(&mut self, needle: &str) -> &mut Self {
        self.expect.stderr_lacks(needle);
        self
    }

    /// The command (the probe) sees `name=value`.
    pub fn sees(&mut self, name: &str, value: &str) -> &mut Self {
        self.expect.sees(name, value);
        self.probe()
    }

    /// The command (the probe) does not see `name` at all.
    pub fn lacks(&mut self, name: &str) -> &mut Self {
        self.expect.lacks(name);
        self.probe()
    }

    /// The run's proxy saw exactly `n` calls of `target` (e.g. `GetSecretValue`).
    pub fn calls(&mut self, target: &str, n: usize) -> &mut Self {
        self.calls_between(target, n, n)
    }

    /// The run's proxy saw between `at_least` and `at_most` calls of `target`.
    pub fn calls_between(&mut self, target: &str, at_least: usize, at_most: usize) -> &mut Self {
        let proxy = self.proxy().clone();
        self.expect.calls(&proxy, Some(target), at_least, at_most);
        self
    }

    /// The run's proxy saw no request at all: the failure was found before the network.
    pub fn offline(&mut self) -> &mut Self {
        let proxy = self.proxy().clone();
        self.expect.calls(&proxy, None, 0, 0);
        self
    }

    /// The run finishes within `bound` (it is killed there, so a hang fails the test instead
    /// of stalling the suite). A generous bound, not a performance assertion.
    pub fn within(&mut self, bound: std::time::Duration) -> &mut Self {
        self.expect.within = Some(bound);
        self
    }

    /// The command is the probe, which records the environment it sees in a file and prints
    /// nothing: the wrapper's stdout is then checked for values too, and a failure proves
    /// that nothing was exec'd.
    pub fn probe(&mut self) -> &mut Self {
        self.probe = true;
        self
    }

    /// Where the probe records what it saw.
    fn probe_record(&self) -> Option<PathBuf> {
        self.probe.then(|| self.path("probe.env0"))
    }

    /// The arguments the binary gets: the test's, then the probe when it is the command.
    #[track_caller]
    fn arguments(&self) -> Vec<OsString> {
        let mut args = self.args.clone();
        if let Some(record) = self.probe_record() {
            assert!(
                !args.iter().any(|a| a == "--"),
                "the probe is the command: a test that expects what the command sees gives                  no command of its own"
            );
            let _ = std::fs::remove_file(&record);
            args.extend(
                ["--", "/bin/sh", "-c", "exec /usr/bin/env -0 > \"$0\""].map(OsString::from),
            );
            args.push(record.into_os_string());
        }
        args
    }

    /// What every run of this one must keep, whatever the test expects.
    fn invariants(&self) -> Invariants {
        let mut json =
            self.env.get(OsStr::new("SHORTCUT_ENV_LOG_FORMAT")) == Some(&OsString::from("json"));
        let options = self.args.iter().take_while(|a| *a != "--");
        let mut previous: Option<&OsString> = None;
        for arg in options {
            if arg == "--log-format=json"
                || (arg == "json" && previous.is_some_and(|p| p == "--log-format"))
            {
                json = true;
            } else if arg == "--log-format=text"
                || (arg == "text" && previous.is_some_and(|p| p == "--log-format"))
            {
                json = false;
            }
            previous = Some(arg);
        }
        Invariants {
            json,
            probe: self.probe_record(),
        }
    }

    pub fn env(&mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.env.insert(name.as_ref().into(), value.as_ref().into());
        self
    }

    pub fn unset(&mut self, name: &str) -> &mut Self {
        self.env.remove(OsStr::new(name));
        self
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(arg.as_ref().into());
        self
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    /// `-- program args…`
    pub fn command(&mut self, command: &[&str]) -> &mut Self {
        self.arg("--");
        for part in command {
            self.arg(part);
        }
        self
    }

    pub fn cwd(&mut self, dir: &Path) -> &mut Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// Sends stdout to `path` (opened for writing) instead of capturing it.
    pub fn stdout_to(&mut self, path: &Path) -> &mut Self {
        self.stdout_file = Some(path.to_path_buf());
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.temp.path().join(name)
    }

    /// Runs the wrapper, waits for it, and checks the invariants and this run's expectations.
    #[track_caller]
    pub fn run(&self) -> Outcome {
        let mut command = Command::new(BIN);
        command.args(self.arguments());
        self.execute(command)
    }

    /// Runs the wrapper behind `/bin/sh -c PRELUDE`, which then execs it: in `prelude`, `$$` is
    /// the PID the wrapper will have (and so the name of the files it will write), and
    /// `umask` applies to it.
    #[track_caller]
    pub fn run_after(&self, prelude: &str) -> Outcome {
        self.run_in(&[], prelude)
    }

    /// Like [`run_after`](Self::run_after), with the shell started by `launcher` (e.g.
    /// `unshare -p -f`, for a PID namespace of its own: the wrapper is then PID 1, as in a
    /// container).
    #[track_caller]
    pub fn run_in(&self, launcher: &[&str], prelude: &str) -> Outcome {
        let mut command = match launcher.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg("/bin/sh");
                command
            }
            None => Command::new("/bin/sh"),
        };
        command
            .arg("-c")
            .arg(format!("{prelude}\nexec \"$0\" \"$@\""))
            .arg(BIN)
            .args(self.arguments());
        self.execute(command)
    }

    /// Runs `command` with this run's environment and directory, collects what happened, and
    /// checks it.
    #[track_caller]
    fn execute(&self, command: Command) -> Outcome {
        let running = self.spawn(command);
        let outcome = match self.expect.within {
            Some(bound) => running.finish_within(bound),
            None => running.finish(),
        };
        self.expect.check(&outcome, self.probe_record().as_deref());
        outcome
    }

    /// Starts the wrapper without waiting for it, directly or as the last argument of
    /// `launcher` (which must exec it, e.g. `unshare --pid --fork --mount-proc`, for PID 1):
    /// no shell in between, so the signal mask and dispositions reach it unchanged.
    pub fn start(&self, launcher: &[&OsStr]) -> Running {
        let mut command = match launcher.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(BIN);
                command
            }
            None => Command::new(BIN),
        };
        command.args(self.arguments());
        self.spawn(command)
    }

    /// Like [`start`](Self::start) without a launcher, with another build of the binary
    /// (e.g. the static release build, for a measurement).
    pub fn start_program(&self, program: &Path) -> Running {
        let mut command = Command::new(program);
        command.args(&self.args);
        self.spawn(command)
    }

    /// Starts the wrapper without waiting for it, stdout and stderr discarded, e.g. to kill it
    /// at a moment of the test's choosing.
    pub fn spawn_detached(&self) -> Child {
        let mut command = Command::new(BIN);
        command.args(self.arguments());
        self.configure(&mut command, Stdio::null());
        command.stdout(Stdio::null()).stderr(Stdio::null());
        command.spawn().unwrap()
    }

    /// This run's environment, directory and standard streams, on `command`.
    fn configure(&self, command: &mut Command, stdout: Stdio) {
        command
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped());
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
    }

    fn spawn(&self, mut command: Command) -> Running {
        let stdout = match &self.stdout_file {
            Some(path) => Stdio::from(std::fs::OpenOptions::new().write(true).open(path).unwrap()),
            None => Stdio::piped(),
        };
        self.configure(&mut command, stdout);
        let started = std::time::Instant::now();
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "could not start {}: {e}",
                command.get_program().to_string_lossy()
            )
        });
        Running {
            child,
            started,
            invariants: self.invariants(),
        }
    }

    /// Runs `/usr/bin/env -0` as the command and returns what it saw.
    pub fn env_seen(&mut self) -> (Outcome, BTreeMap<String, String>) {
        self.command(&["/usr/bin/env", "-0"]);
        let outcome = self.run();
        let seen = outcome.env0();
        (outcome, seen)
    }
}

/// A started run: signal it, then [`finish`](Running::finish) it.
pub struct Running {
    pub child: Child,
    started: std::time::Instant,
    invariants: Invariants,
}

impl Running {
    /// The host PID of the wrapper: the child itself, or the launcher's descendant running
    /// the wrapper's binary (waits for it to appear, up to 10 s).
    pub fn wrapper_pid(&self) -> i32 {
        let bin = std::fs::canonicalize(BIN).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let mut pending = vec![self.child.id()];
            while let Some(pid) = pending.pop() {
                if std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_ref() == Some(&bin) {
                    return pid.cast_signed();
                }
                let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                    .unwrap_or_default();
                pending.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the wrapper did not start under pid {}", self.child.id());
    }

    /// The PIDs of the wrapper's children (`--init`: the command), once there is at least one
    /// (waits up to 10 s).
    pub fn wrapper_children(&self) -> Vec<i32> {
        let pid = self.wrapper_pid();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let children: Vec<i32> =
                std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter_map(|c| c.parse().ok())
                    .collect();
            if !children.is_empty() {
                return children;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the wrapper (pid {pid}) started no command"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Sends `signal` to the wrapper.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.wrapper_pid());
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// Waits for the end, collects what happened and checks the invariants every run keeps;
    /// `elapsed` counts from the start.
    #[track_caller]
    pub fn finish(self) -> Outcome {
        let pid = self.child.id();
        let output = self.child.wait_with_output().unwrap();
        let outcome = Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stdout_bytes: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            pid,
            elapsed: self.started.elapsed(),
        };
        self.invariants.check(&outcome);
        outcome
    }

    /// Like [`finish`](Self::finish), but kills the wrapper (and whatever it became) once
    /// `bound` has passed since the start; `code` is `None` for a killed run.
    #[track_caller]
    pub fn finish_within(mut self, bound: std::time::Duration) -> Outcome {
        let pid = self.child.id();
        let stdout = self.child.stdout.take().map(drain);
        let stderr = self.child.stderr.take().map(drain);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if self.started.elapsed() > bound {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let collect = |reader: Option<std::thread::JoinHandle<Vec<u8>>>| {
            reader.map(|r| r.join().unwrap()).unwrap_or_default()
        };
        let (stdout, stderr) = (collect(stdout), collect(stderr));
        let outcome = Outcome {
            code: status.and_then(|s| s.code()),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stdout_bytes: stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            pid,
            elapsed: self.started.elapsed(),
        };
        self.invariants.check(&outcome);
        outcome
    }
}

/// Reads `stream` to its end on a thread of its own (a full pipe must not block the child).
fn drain(mut stream: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        bytes
    })
}

#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
    pub pid: u32,
    pub elapsed: std::time::Duration,
}

impl Outcome {
    /// Every stderr line as JSON (a run with `--log-format json`).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stderr
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// Asserts the exit status, showing stderr when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "unexpected exit status; stderr:\n{}",
            self.stderr
        );
        self
    }

    /// Asserts a wrapper failure: the exit status, one `error:` line and one `hint:` line (in
    /// JSON logs, one error object, which carries the hint), and nothing from the command on
    /// stdout.
    #[track_caller]
    pub fn fails(&self, expected: i32) -> &Self {
        self.code(expected);
        let lines = || self.stderr.lines();
        let (errors, hints) = if self.stderr.trim_start().starts_with('{') {
            let errors = lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|v| v["level"] == "error" && v["hint"].is_string())
                .count();
            (errors, errors)
        } else {
            let count = |prefix: &str| lines().filter(|l| l.starts_with(prefix)).count();
            (count("shortcut-env: error: "), count("hint: "))
        };
        assert_eq!(
            (errors, hints),
            (1, 1),
            "expected one error and one hint line:\n{}",
            self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "the command must not have run: {}",
            self.stdout
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.stderr.contains(needle),
            "stderr must not contain {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    /// The command printed `env -0` (see [`Run::env_seen`]) and saw `name=value`.
    #[track_caller]
    pub fn sees(&self, name: &str, value: &str) -> &Self {
        let env = self.env0();
        assert_eq!(
            env.get(name).map(String::as_str),
            Some(value),
            "the command must see {name}; stderr:\n{}",
            self.stderr
        );
        self
    }

    /// The command printed `env -0` and did not see `name`.
    #[track_caller]
    pub fn lacks(&self, name: &str) -> &Self {
        assert!(
            !self.env0().contains_key(name),
            "the command must not see {name}; stderr:\n{}",
            self.stderr
        );
        self
    }

    /// The run took less than `bound` (a generous bound against a hang).
    #[track_caller]
    pub fn within(&self, bound: std::time::Duration) -> &Self {
        assert!(
            self.elapsed < bound,
            "took {:?}, more than {bound:?}; stderr:\n{}",
            self.elapsed,
            self.stderr
        );
        self
    }

    pub fn env0(&self) -> BTreeMap<String, String> {
        self.stdout_bytes
            .split(|b| *b == 0)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let text = String::from_utf8_lossy(entry);
                let (k, v) = text.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    }
}

impl Run {
    /// Like [`run`](Self::run), but kills the wrapper (and whatever it became) once `bound` has
    /// passed, so that a hang fails the test instead of stalling the suite. `code` is `None`
    /// for a killed run. ([`within`](Self::within) also asserts that it was not killed.)
    #[track_caller]
    pub fn run_within(&self, bound: std::time::Duration) -> Outcome {
        let mut command = Command::new(BIN);
        command.args(self.arguments());
        let outcome = self.spawn(command).finish_within(bound);
        self.expect.check(&outcome, self.probe_record().as_deref());
        outcome
    }
}
