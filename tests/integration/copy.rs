//! `shortcut-env copy DIR`: the initContainer's copy of the binary into a shared volume. Run
//! with no configuration at all (no APP_ENV, no AWS), as the binary-only image runs it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::support::*;

/// A run of `copy DIR` with nothing configured.
fn copy_into(dir: &Path) -> Run {
    let mut run = Run::bare();
    run.arg("copy").arg(dir);
    run
}

/// A fresh directory `name` in the run's temp dir.
fn fresh_dir(run: &Run, name: &str) -> PathBuf {
    let dir = run.path(name);
    std::fs::create_dir(&dir).unwrap();
    dir
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    std::fs::read(a).unwrap() == std::fs::read(b).unwrap()
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn copy_writes_the_running_binary_byte_for_byte() {
    let scratch = Run::bare();
    let dir = fresh_dir(&scratch, "shared");
    copy_into(&dir)
        .run()
        .code(0)
        .stderr_has("copied this binary");
    assert!(same_bytes(&dir.join("shortcut-env"), Path::new(BIN)));
    assert_eq!(listing(&dir), ["shortcut-env"], "no temporary file is left");
}

#[test]
fn copy_is_0755_whatever_the_umask() {
    let scratch = Run::bare();
    let dir = fresh_dir(&scratch, "shared");
    copy_into(&dir).run_after("umask 077").code(0);
    let mode = std::fs::metadata(dir.join("shortcut-env")).unwrap().mode();
    assert_eq!(mode & 0o7777, 0o755, "mode {mode:o}");
}

#[test]
fn copy_runs_as_shortcut_env() {
    let scratch = Run::bare();
    let dir = fresh_dir(&scratch, "shared");
    copy_into(&dir).run().code(0);
    let copied = dir.join("shortcut-env");
    let output = std::process::Command::new(&copied)
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("shortcut-env "));
}

#[test]
fn copy_needs_no_app_env_and_no_aws() {
    let scratch = Run::bare();
    let dir = fresh_dir(&scratch, "shared");
    let mut run = copy_into(&dir);
    // Nothing to reach: an AWS call would fail, and APP_ENV would be required.
    run.env(
        "AWS_ENDPOINT_URL",
        format!("http://127.0.0.1:{}", endpoints::closed_port()),
    );
    run.run().code(0).stderr_lacks("APP_ENV");
    assert!(dir.join("shortcut-env").is_file());
}

#[test]
fn copy_twice_replaces_the_first_copy_by_rename() {
    let scratch = Run::bare();
    let dir = fresh_dir(&scratch, "shared");
    copy_into(&dir).run().code(0);
    let target = dir.join("shortcut-env");
    // A hard link keeps the first copy's inode: written in place, it would change too (and a
    // running binary cannot be written: ETXTBSY).
    let first = scratch.path("first-copy");
    std::fs::hard_link(&target, &first).unwrap();
    std::fs::write(&first, b"the first copy, changed").unwrap();
    copy_into(&dir).run().code(0);
    assert_ne!(
        std::fs::metadata(&target).unwrap().ino(),
        std::fs::metadata(&first).unwrap().ino(),
        "the second copy is a new file renamed into place"
    );
    assert_eq!(std::fs::read(&first).unwrap(), b"the first copy, changed");
    assert!(same_bytes(&target, Path::new(BIN)));
    assert_eq!(listing(&dir), ["shortcut-env"]);
}

#[test]
fn copy_replaces_a_copy_that_is_running() {
    let scratch = Run::bare();
    let dir = fresh_dir(&scratch, "shared");
    copy_into(&dir).run().code(0);
    let target = dir.join("shortcut-env");
    // The first copy runs (waiting on a command) while the second replaces it.
    let mut child = std::process::Command::new(&target)
        .args(["--", "/bin/sleep", "5"])
        .env_clear()
        .env("APP_ENV", "local")
        .env("PATH", "/usr/bin:/bin")
        .current_dir(scratch.temp.path())
        .spawn()
        .unwrap();
    copy_into(&dir).run().code(0);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(same_bytes(&target, Path::new(BIN)));
}

#[test]
fn copy_refuses_a_symlinked_directory() {
    let scratch = Run::bare();
    let real = fresh_dir(&scratch, "real");
    let link = scratch.path("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    copy_into(&link)
        .run()
        .fails(73)
        .stderr_has("symbolic link")
        .stderr_has("hint: give `copy` an existing directory");
    assert!(
        listing(&real).is_empty(),
        "nothing written through the link"
    );
}

#[test]
fn copy_refuses_a_symlinked_directory_given_with_a_trailing_slash() {
    let scratch = Run::bare();
    let real = fresh_dir(&scratch, "real");
    let link = scratch.path("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut run = Run::bare();
    run.arg("copy").arg(format!("{}/", link.display()));
    run.run().fails(73).stderr_has("symbolic link");
    assert!(listing(&real).is_empty());
}

#[test]
fn copy_refuses_a_symlink_at_the_target_and_leaves_it() {
    let scratch = Run::bare();
    let dir = fresh_dir(&scratch, "shared");
    let elsewhere = scratch.path("elsewhere");
    std::fs::write(&elsewhere, "not to be replaced").unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.join("shortcut-env")).unwrap();
    copy_into(&dir)
        .run()
        .fails(73)
        .stderr_has("is not replaced: it is a symbolic link");
    assert_eq!(
        std::fs::read_to_string(&elsewhere).unwrap(),
        "not to be replaced"
    );
    assert_eq!(
        std::fs::read_link(dir.join("shortcut-env")).unwrap(),
        elsewhere
    );
    assert_eq!(listing(&dir), ["shortcut-env"], "no temporary file is left");
}

#[test]
fn copy_refuses_a_dangling_symlink_at_the_target() {
    let scratch = Run::bare();
    let dir = fresh_dir(&scratch, "shared");
    let planned = scratch.path("would-be-created");
    std::os::unix::fs::symlink(&planned, dir.join("shortcut-env")).unwrap();
    copy_into(&dir).run().fails(73).stderr_has("symbolic link");
    assert!(!planned.exists(), "nothing created through the link");
}

#[test]
fn copy_refuses_a_directory_at_the_target() {
    let scratch = Run::bare();
    let dir = fresh_dir(&scratch, "shared");
    std::fs::create_dir(dir.join("shortcut-env")).unwrap();
    copy_into(&dir)
        .run()
        .fails(73)
        .stderr_has("it is a directory");
}

#[test]
fn copy_into_a_missing_directory_is_73() {
    let scratch = Run::bare();
    copy_into(&scratch.path("missing"))
        .run()
        .fails(73)
        .stderr_has("it does not exist");
}

#[test]
fn copy_into_a_file_is_73() {
    let scratch = Run::bare();
    let file = scratch.path("a-file");
    std::fs::write(&file, "").unwrap();
    copy_into(&file)
        .run()
        .fails(73)
        .stderr_has("it is not a directory");
}

#[test]
fn copy_into_a_read_only_directory_is_73_and_leaves_nothing() {
    let scratch = Run::bare();
    let dir = fresh_dir(&scratch, "shared");
    // As a volume mounted readOnly: a read-only bind mount, in a mount namespace of its own.
    let prelude = format!(
        "mount --bind '{0}' '{0}' && mount -o remount,bind,ro '{0}'",
        dir.display()
    );
    copy_into(&dir)
        .run_in(&own_mount_namespace(), &prelude)
        .fails(73)
        .stderr_has("could not be written: Read-only file system")
        .stderr_has("hint: make the directory writable");
    assert!(listing(&dir).is_empty());
}

#[test]
fn copy_without_a_directory_is_a_usage_error() {
    let mut run = Run::bare();
    run.arg("copy");
    run.run()
        .fails(64)
        .stderr_has("missing required argument <DIR>");
}

#[test]
fn copy_fails_as_json_with_log_format_json() {
    let scratch = Run::bare();
    let mut run = copy_into(&scratch.path("missing"));
    run.arg("--log-format").arg("json");
    let outcome = run.run();
    outcome.code(73);
    let line: serde_json::Value = serde_json::from_str(outcome.stderr.trim()).unwrap();
    assert_eq!(line["error"], "copy-dir-unusable");
    assert_eq!(line["exit_code"], 73);
    assert!(
        line["hint"]
            .as_str()
            .unwrap()
            .contains("existing directory")
    );
}

#[test]
fn copy_without_proc_is_78() {
    let scratch = Run::bare();
    let dir = fresh_dir(&scratch, "shared");
    // A mount namespace of its own, /proc unmounted in it: /proc/self/exe is gone.
    copy_into(&dir)
        .run_in(&own_mount_namespace(), "umount -l /proc")
        .fails(78)
        .stderr_has("/proc/self/exe");
    assert!(listing(&dir).is_empty());
}

/// `unshare` into a mount namespace of its own (as root, or as root of a user namespace).
fn own_mount_namespace() -> Vec<&'static str> {
    assert!(
        Path::new("/usr/bin/unshare").exists(),
        "this test needs unshare(1) for a mount namespace: install util-linux"
    );
    let mut launcher = vec!["/usr/bin/unshare"];
    if !nix::unistd::geteuid().is_root() {
        launcher.push("--map-root-user");
    }
    launcher.extend(["--mount", "--propagation", "private"]);
    launcher
}
