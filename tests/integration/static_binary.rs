//! The static binary as it runs in a `FROM scratch` image: in a chroot that holds only the
//! binary, a writable /tmp and the program it execs (a static busybox). No /etc/ssl, no
//! /etc/passwd, no libc, no shell but the one exec'd. moto is reached over loopback TCP (the
//! chroot shares the network namespace).
//!
//! The binary comes from `SHORTCUT_ENV_STATIC_BIN`, which `./scripts/test` sets after building
//! it with `./scripts/build-static`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::*;
use crate::tls::HttpsEndpoint;

fn static_bin() -> PathBuf {
    let hint = "build it with ./scripts/build-static and run \
                SHORTCUT_ENV_STATIC_BIN=\"$(./scripts/build-static)\" cargo test, \
                or run ./scripts/test, which does both";
    let path = std::env::var_os("SHORTCUT_ENV_STATIC_BIN").map(PathBuf::from);
    let Some(path) = path else {
        panic!("SHORTCUT_ENV_STATIC_BIN is not set: these tests need the static binary; {hint}");
    };
    assert!(
        path.is_file(),
        "SHORTCUT_ENV_STATIC_BIN={} does not exist; {hint}",
        path.display()
    );
    path
}

/// A statically linked busybox: the exec'd program, and the only other file in the chroot.
fn static_busybox() -> PathBuf {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "a static busybox is needed as the command inside the chroot; install it \
                 (Debian/Ubuntu: apt-get install busybox-static), or run ./scripts/test"
            )
        })
}

/// Copies with install(1) in a process of its own: a file written by this (multi-threaded) test
/// process could still be open for writing in a child that another test is forking, and
/// exec'ing it would then fail with ETXTBSY ("Text file busy").
fn copy_executable(from: &Path, to: &Path) {
    let status = Command::new(system_tool("install"))
        .args(["-D", "-m", "0755"])
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "install {} {}",
        from.display(),
        to.display()
    );
}

/// A root holding /usr/local/bin/shortcut-env, /bin/busybox and an empty /tmp (mode 1777).
fn scratch_root() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    copy_executable(
        &static_bin(),
        &root.path().join("usr/local/bin/shortcut-env"),
    );
    copy_executable(&static_busybox(), &root.path().join("bin/busybox"));
    let tmp = root.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    root
}

/// Every path under `root`, relative to it.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() && !path.is_symlink() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// What the exec'd shell prints: chosen variables, then the GCP file's mode and content.
const REPORT: &str = r#"echo "MILVUS_HOST=$MILVUS_HOST"
echo "OPENAI_API_KEY=$OPENAI_API_KEY"
echo "GOOGLE_APPLICATION_CREDENTIALS=$GOOGLE_APPLICATION_CREDENTIALS"
echo "MODE=$(/bin/busybox stat -c %a "$GOOGLE_APPLICATION_CREDENTIALS")"
echo "PID=$$"
echo "GCP=$(/bin/busybox cat "$GOOGLE_APPLICATION_CREDENTIALS")""#;

/// The path of a coreutils / util-linux program (the run's environment has no PATH).
fn system_tool(name: &str) -> PathBuf {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found in /usr/sbin, /usr/bin, /sbin or /bin"))
}

/// Runs the static binary inside `root` (chroot as root; in a new user namespace otherwise).
fn run_in(root: &Path, env: &[(&str, &str)]) -> (Option<i32>, BTreeMap<String, String>, String) {
    let mut command = if nix::unistd::geteuid().is_root() {
        Command::new(system_tool("chroot"))
    } else {
        let mut command = Command::new(system_tool("unshare"));
        command
            .args(["--user", "--map-root-user"])
            .arg(system_tool("chroot"));
        command
    };
    command
        .arg(root)
        .args([
            "/usr/local/bin/shortcut-env",
            "--",
            "/bin/busybox",
            "sh",
            "-c",
            REPORT,
        ])
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not run chroot: {e}"));
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut seen: BTreeMap<String, String> = stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    seen.insert("STARTED_PID".into(), pid.to_string());
    (
        output.status.code(),
        seen,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn production_env<'a>(endpoint: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("APP_ENV", "production"),
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("SECRET_NAME", secret),
    ]
}

#[track_caller]
fn assert_fetched_and_execd(
    root: &Path,
    code: Option<i32>,
    seen: &BTreeMap<String, String>,
    stderr: &str,
) {
    assert_eq!(code, Some(0), "stderr:\n{stderr}");
    assert!(
        !stderr.contains(MARKER),
        "a secret value leaked to stderr:\n{stderr}"
    );
    assert!(stderr.contains("loaded 7 keys from"), "{stderr}");
    assert_eq!(seen["MILVUS_HOST"], "milvus.internal");
    assert_eq!(seen["OPENAI_API_KEY"], format!("sk-{MARKER}-openai"));
    // The GCP file: in the default private directory under /tmp, mode 0600, the key's JSON.
    let path = &seen["GOOGLE_APPLICATION_CREDENTIALS"];
    assert!(path.starts_with("/tmp/shortcut-env-"), "{path}");
    assert_eq!(seen["MODE"], "600");
    let gcp: serde_json::Value = serde_json::from_str(&seen["GCP"]).unwrap();
    assert_eq!(gcp["type"], "service_account");
    assert!(root.join(path.trim_start_matches('/')).is_file());
    // exec, not spawn: chroot execs the wrapper, which execs the shell, all in the one process
    // we started.
    if nix::unistd::geteuid().is_root() {
        assert_eq!(seen["PID"], seen["STARTED_PID"]);
    }
}

#[test]
fn the_static_binary_fetches_materializes_and_execs_in_an_empty_root() {
    let root = scratch_root();
    // Nothing else: no /etc (no ssl, passwd, resolv.conf), no /lib, no shell but busybox.
    assert_eq!(
        tree(root.path()),
        [
            "bin",
            "bin/busybox",
            "tmp",
            "usr",
            "usr/local",
            "usr/local/bin",
            "usr/local/bin/shortcut-env"
        ]
    );
    let secret = seed_text(&guide_secret());
    let url = moto().url();
    let (code, seen, stderr) = run_in(root.path(), &production_env(&url, &secret.name));
    assert_fetched_and_execd(root.path(), code, &seen, &stderr);
}

#[test]
fn the_static_binary_speaks_https_in_an_empty_root_with_a_private_ca() {
    let root = scratch_root();
    let endpoint = HttpsEndpoint::start(moto().port);
    endpoint.write_ca(root.path());
    let secret = seed_text(&guide_secret());
    let url = endpoint.url();
    let mut env = production_env(&url, &secret.name);
    env.push(("SSL_CERT_FILE", "/test-ca.pem"));
    let (code, seen, stderr) = run_in(root.path(), &env);
    assert_fetched_and_execd(root.path(), code, &seen, &stderr);
    assert!(endpoint.requests() >= 1);
}

#[test]
fn the_static_binary_runs_local_mode_in_an_empty_root() {
    let root = scratch_root();
    let (code, seen, stderr) = run_in(root.path(), &[("APP_ENV", "local")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(seen.get("MILVUS_HOST").map(String::as_str), Some(""));
}

/// The size budget of the container binary (issues #13 and #16): 4.5 MiB. What each build
/// setting costs or saves is in docs/performance.md, "Binary size".
const SIZE_BUDGET: u64 = 4_718_592;

#[test]
fn the_static_binary_is_within_the_size_budget() {
    let size = std::fs::metadata(static_bin()).unwrap().len();
    assert!(
        size <= SIZE_BUDGET,
        "the static binary is {size} bytes, over the {SIZE_BUDGET}-byte budget (4.5 MiB); \
         see docs/performance.md, \"Binary size\", for where the bytes go"
    );
}

#[test]
fn the_static_binary_is_not_position_independent() {
    // .cargo/config.toml builds it with relocation-model=static: an ELF type EXEC, not DYN
    // (a static PIE), and so no load-time relocations to carry.
    let bytes = std::fs::read(static_bin()).unwrap();
    let e_type = u16::from_le_bytes([bytes[16], bytes[17]]);
    assert_eq!(e_type, 2, "ELF type {e_type}: 2 is EXEC, 3 is DYN (PIE)");
}

#[test]
fn the_static_binary_without_sso_says_so_for_an_sso_profile() {
    // The container build leaves out the `sso` feature (scripts/build-static): an SSO profile is
    // refused as no credentials (77), with a message that names the missing feature.
    let root = scratch_root();
    std::fs::write(
        root.path().join("aws-config"),
        "[profile dev]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n\
         sso_account_id = 123456789012\nsso_role_name = Developer\n",
    )
    .unwrap();
    let env = [
        ("APP_ENV", "production"),
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_CONFIG_FILE", "/aws-config"),
        ("AWS_PROFILE", "dev"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("SECRET_NAME", "short-cut/prod/app"),
    ];
    let (code, _, stderr) = run_in(root.path(), &env);
    assert_eq!(code, Some(77), "{stderr}");
    assert!(stderr.contains("cargo feature(s) enabled: sso"), "{stderr}");
}
