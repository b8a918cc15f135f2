//! The credentials directory and file under attack and accident: planted symlinks, hard links
//! and FIFOs, directories others can write or own, leftovers of a crashed start, concurrent
//! starts (also with the same PID, as PID 1 in two containers sharing a volume), and umasks.
//!
//! Files are named after the wrapper's PID; [`Run::run_after`] runs it behind a shell prelude
//! in which `$$` is that PID, so the traps are laid at exactly the names it will use.
//!
//! A crash between write and rename cannot be provoked from outside; what makes it harmless is
//! checked instead: the temporary file is created 0600 with O_EXCL|O_NOFOLLOW in a directory
//! that only we can enter (0700, ours), so a partial file is never readable by anyone else, is
//! never at the published name (rename is the only way there), and a leftover is neither
//! reused nor in the way of the next start.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::support::*;

fn key(project: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": project,
        "private_key": format!("{MARKER}-{project}"),
    })
    .to_string()
}

fn secret_with_key(project: &str) -> Seeded {
    seed_text(
        &serde_json::json!({ "GOOGLE_APPLICATION_CREDENTIALS_JSON": key(project) }).to_string(),
    )
}

/// A run that reads `project`'s key and prints the file the command was given, with `dir` as
/// the credentials directory.
fn start(project: &str, dir: &Path) -> Run {
    let secret = secret_with_key(project);
    let mut run = Run::moto(&secret.name);
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", dir).command(&[
        "/bin/sh",
        "-c",
        "printf '%s\\n' \"$GOOGLE_APPLICATION_CREDENTIALS\"; cat \"$GOOGLE_APPLICATION_CREDENTIALS\"",
    ]);
    run
}

/// The path the command was given and the content it read.
fn seen(outcome: &Outcome) -> (PathBuf, String) {
    let (path, content) = outcome.stdout.split_once('\n').unwrap();
    (PathBuf::from(path), content.to_string())
}

fn private_dir(run: &Run, name: &str) -> PathBuf {
    let dir = run.path(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn assert_private_file(path: &Path) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    assert!(meta.file_type().is_file(), "{}", path.display());
    assert_eq!(meta.mode() & 0o7777, 0o600, "{}", path.display());
    assert_eq!(meta.nlink(), 1, "{}", path.display());
}

#[test]
fn a_symlink_planted_at_the_file_path_is_neither_followed_nor_replaced() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let target = probe.path("target");
    std::fs::write(&target, "untouched").unwrap();
    let run = start("p", &dir);
    let outcome = run.run_after(&format!(
        "ln -s {} {}/gcp-credentials-$$.json",
        target.display(),
        dir.display()
    ));
    outcome
        .fails(73)
        .stderr_has("a symlink or special file is in the way")
        .stderr_lacks(MARKER);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    let names = names(&dir);
    assert_eq!(names.len(), 1, "only the planted link is left: {names:?}");
    assert!(
        std::fs::symlink_metadata(dir.join(&names[0]))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_fifo_at_the_file_path_is_refused() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let outcome =
        start("p", &dir).run_after(&format!("mkfifo {}/gcp-credentials-$$.json", dir.display()));
    outcome.fails(73).stderr_has("special file");
}

#[test]
fn a_hard_link_planted_at_the_file_path_is_not_written_through() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let target = probe.path("target");
    std::fs::write(&target, "untouched").unwrap();
    let outcome = start("p", &dir).run_after(&format!(
        "ln {} {}/gcp-credentials-$$.json",
        target.display(),
        dir.display()
    ));
    outcome.code(0);
    let (path, content) = seen(&outcome);
    assert_eq!(content, key("p"));
    assert!(
        path.to_string_lossy().ends_with("-1.json"),
        "{}",
        path.display()
    );
    assert_private_file(&path);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
}

#[test]
fn a_symlink_planted_at_the_temporary_path_is_not_followed() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let target = probe.path("target");
    std::fs::write(&target, "untouched").unwrap();
    // The temporary name has a random part, so a trap cannot be laid at it; these are the
    // names an attacker could predict.
    let outcome = start("p", &dir).run_after(&format!(
        "for n in .gcp-credentials-$$.json.tmp .gcp-credentials-$$-0000000000000000.json.tmp; do \
           ln -s {t} {d}/$n; done",
        t = target.display(),
        d = dir.display()
    ));
    outcome.code(0);
    let (path, content) = seen(&outcome);
    assert_eq!(content, key("p"));
    assert_private_file(&path);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
}

#[test]
fn a_symlinked_directory_is_refused_and_its_target_untouched() {
    let probe = Run::bare();
    let real = private_dir(&probe, "real");
    let link = probe.path("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let outcome = start("p", &link).run();
    outcome.fails(73).stderr_has("symlink");
    assert!(names(&real).is_empty());
}

#[test]
fn directories_others_can_write_are_refused_whatever_the_bits() {
    for (mode, code) in [
        (0o777, 73),
        (0o770, 73),
        (0o720, 73),
        (0o707, 73),
        (0o702, 73),
        (0o1777, 73),
        (0o700, 0),
        (0o750, 0),
        (0o755, 0),
    ] {
        let probe = Run::bare();
        let dir = probe.path("creds");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let outcome = start("p", &dir).run();
        if code == 0 {
            outcome.code(0);
            assert_private_file(&seen(&outcome).0);
        } else {
            outcome
                .fails(code)
                .stderr_has("writable by group or others");
            assert!(names(&dir).is_empty(), "{mode:o}");
        }
    }
}

#[test]
fn a_directory_owned_by_someone_else_is_refused() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    // As root, give it away; as anyone else, a directory of root's is someone else's.
    let (dir, owner) = if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        (dir, 65534)
    } else {
        (PathBuf::from("/usr"), 0)
    };
    let outcome = start("p", &dir).run();
    outcome
        .fails(73)
        .stderr_has(&format!("it is owned by uid {owner}"))
        .stderr_has("hint: point SHORTCUT_ENV_CREDENTIALS_DIR at a directory owned by this user");
}

#[test]
fn the_file_is_0600_and_the_directory_0700_whatever_the_umask() {
    for umask in ["000", "002", "022", "027", "077"] {
        let probe = Run::bare();
        let dir = probe.path("made-by-the-wrapper");
        let outcome = start("p", &dir).run_after(&format!("umask {umask}"));
        outcome.code(0);
        let (path, content) = seen(&outcome);
        assert_eq!(content, key("p"));
        assert_private_file(&path);
        assert_eq!(
            std::fs::metadata(&dir).unwrap().mode() & 0o7777,
            0o700,
            "umask {umask}"
        );
    }
}

#[test]
fn an_earlier_file_with_the_same_name_is_kept_and_a_new_one_written() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let outcome = start("new", &dir).run_after(&format!(
        "printf old > {d}/gcp-credentials-$$.json; chmod 600 {d}/gcp-credentials-$$.json",
        d = dir.display()
    ));
    outcome.code(0);
    let (path, content) = seen(&outcome);
    assert_eq!(content, key("new"));
    assert!(path.to_string_lossy().ends_with("-1.json"));
    let old: Vec<String> = names(&dir)
        .into_iter()
        .filter(|n| n != path.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(old.len(), 1);
    assert_eq!(std::fs::read_to_string(dir.join(&old[0])).unwrap(), "old");
}

#[test]
fn a_leftover_temporary_file_is_neither_reused_nor_published() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    // Crashed starts, with another PID and with ours, left partial files as the wrapper
    // creates them: 0600.
    let other = dir.join(".gcp-credentials-1-00000000deadbeef.json.tmp");
    std::fs::write(&other, "{\"type\":\"partial").unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    let outcome = start("p", &dir).run_after(&format!(
        "umask 077; printf partial > {d}/.gcp-credentials-$$.json.tmp",
        d = dir.display()
    ));
    outcome.code(0);
    let (path, content) = seen(&outcome);
    assert_eq!(content, key("p"));
    assert_private_file(&path);
    // The leftovers are not touched and nothing partial was published; the wrapper's own
    // temporary file is gone.
    let names = names(&dir);
    assert_eq!(names.len(), 3, "{names:?}");
    for name in names {
        let file = dir.join(&name);
        let text = std::fs::read_to_string(&file).unwrap();
        if name.ends_with(".tmp") {
            assert!(text.contains("partial"), "{name}");
        } else {
            assert_eq!(text, key("p"), "{name}");
        }
        assert_eq!(
            std::fs::metadata(&file).unwrap().mode() & 0o077,
            0,
            "{name}"
        );
    }
}

#[test]
fn concurrent_starts_in_one_directory_each_get_their_own_file() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "shared");
    let projects: Vec<String> = (0..6).map(|i| format!("project-{i}")).collect();
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = projects
            .iter()
            .map(|p| {
                let run = start(p, &dir);
                scope.spawn(move || run.run())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut paths = Vec::new();
    for (project, outcome) in projects.iter().zip(&outcomes) {
        outcome.code(0);
        let (path, content) = seen(outcome);
        assert_eq!(content, key(project));
        assert_private_file(&path);
        paths.push(path);
    }
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), projects.len());
}

/// Two containers of one task sharing a volume for credentials: each wrapper is PID 1, so both
/// choose the same names at the same moment.
#[test]
fn starts_with_the_same_pid_sharing_a_directory_do_not_overwrite_each_other() {
    let unshare = Path::new("/usr/bin/unshare");
    assert!(
        unshare.exists(),
        "this test needs unshare(1) for PID namespaces: install util-linux"
    );
    let launcher: &[&str] = if nix::unistd::geteuid().is_root() {
        &["/usr/bin/unshare", "--pid", "--fork"]
    } else {
        &["/usr/bin/unshare", "--map-root-user", "--pid", "--fork"]
    };
    let probe = Run::bare();
    let dir = private_dir(&probe, "volume");
    for round in 0..3 {
        let projects: Vec<String> = (0..6).map(|i| format!("r{round}-p{i}")).collect();
        let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
            let handles: Vec<_> = projects
                .iter()
                .map(|p| {
                    let run = start(p, &dir);
                    scope.spawn(move || run.run_in(launcher, "test $$ = 1 || exit 99"))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (project, outcome) in projects.iter().zip(&outcomes) {
            outcome.code(0);
            let (path, content) = seen(outcome);
            assert_eq!(content, key(project), "round {round}: {}", path.display());
            assert_private_file(&path);
            // The file still holds this start's key after all the others are done.
            assert_eq!(std::fs::read_to_string(&path).unwrap(), key(project));
        }
    }
}

/// A start that does not end in the command takes back the key files it wrote: nothing of the
/// secret stays on disk (in a shared volume, for the next container) for a command that never
/// ran.
#[test]
fn a_failed_start_leaves_no_key_file_behind() {
    let secret = seed_text(
        &serde_json::json!({
            "GOOGLE_APPLICATION_CREDENTIALS_JSON": key("p"),
            "TLS_KEY": format!("{MARKER}-tls"),
            "CA": "ca",
        })
        .to_string(),
    );
    let target = Run::bare();
    let decoy = target.path("decoy");
    std::fs::write(&decoy, "untouched").unwrap();
    // (setup, expected status, names left in the directory)
    type Setup = fn(&mut Run);
    let cases: [(&str, Setup, &str, i32, usize); 3] = [
        (
            "the command is not found",
            |run| {
                run.command(&["no-such-command-anywhere"]);
            },
            "",
            127,
            0,
        ),
        (
            "a later key file meets a planted symlink",
            |run| {
                run.arg("--file")
                    .arg("CA=CA_FILE")
                    .arg("--file")
                    .arg("TLS_KEY=TLS_KEY_FILE")
                    .command(&["/bin/echo", "ran"]);
            },
            "ln -s DECOY DIR/tls-key-$$",
            73,
            1,
        ),
        (
            "a later key is missing",
            |run| {
                run.arg("--file")
                    .arg("CA=CA_FILE")
                    .arg("--file")
                    .arg("ABSENT=ABSENT_FILE")
                    .command(&["/bin/echo", "ran"]);
            },
            "",
            65,
            0,
        ),
    ];
    for (name, setup, prelude, code, left) in cases {
        let mut run = Run::moto(&secret.name);
        let dir = run.path("creds");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &dir);
        setup(&mut run);
        let prelude = prelude
            .replace("DECOY", &decoy.display().to_string())
            .replace("DIR", &dir.display().to_string());
        let outcome = run.run_after(&prelude);
        outcome.fails(code).stderr_lacks(MARKER);
        let names = names(&dir);
        assert_eq!(names.len(), left, "{name}: {names:?}");
        for name in &names {
            assert!(
                std::fs::symlink_metadata(dir.join(name))
                    .unwrap()
                    .file_type()
                    .is_symlink(),
                "{name}"
            );
        }
        assert_eq!(std::fs::read_to_string(&decoy).unwrap(), "untouched");
    }
}
