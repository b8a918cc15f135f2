//! The credentials directory and file under attack and accident: planted symlinks, hard links
//! and FIFOs, directories others can write or own, leftovers of killed starts, concurrent
//! starts (also with the same PID, as PID 1 in two containers sharing a volume), restarts in
//! place, and umasks.
//!
//! A key file is named after its content (a salted hash kept in the directory), so a trap is
//! laid by learning the name from a first start, removing the file, and planting the trap there.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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

/// The names in `dir` but the directory's salt.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != SALT)
        .collect();
    names.sort();
    names
}

const SALT: &str = ".shortcut-env-salt";

/// The path `project`'s key gets in `dir`, learned from a start; the file is removed again so
/// that a trap can be laid at that name.
fn learn_path(project: &str, dir: &Path) -> PathBuf {
    let outcome = start(project, dir).run();
    outcome.code(0);
    let (path, _) = seen(&outcome);
    std::fs::remove_file(&path).unwrap();
    path
}

/// Sets the mtime of `path` to `ago` before now.
fn age(path: &Path, ago: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - ago).unwrap();
}

fn unshare_pid() -> &'static [&'static str] {
    assert!(
        Path::new("/usr/bin/unshare").exists(),
        "this test needs unshare(1) for PID namespaces: install util-linux"
    );
    if nix::unistd::geteuid().is_root() {
        &["/usr/bin/unshare", "--pid", "--fork"]
    } else {
        &["/usr/bin/unshare", "--map-root-user", "--pid", "--fork"]
    }
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
    let planted = learn_path("p", &dir);
    std::os::unix::fs::symlink(&target, &planted).unwrap();
    start("p", &dir)
        .run()
        .fails(73)
        .stderr_has("a symlink or special file is in the way")
        .stderr_lacks(MARKER);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    let names = names(&dir);
    assert_eq!(names.len(), 1, "only the planted link is left: {names:?}");
    assert!(
        std::fs::symlink_metadata(&planted)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_fifo_at_the_file_path_is_refused() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let planted = learn_path("p", &dir);
    nix::unistd::mkfifo(&planted, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    start("p", &dir).run().fails(73).stderr_has("special file");
}

#[test]
fn a_hard_link_planted_at_the_file_path_is_not_written_through() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let target = probe.path("target");
    std::fs::write(&target, "untouched").unwrap();
    let planted = learn_path("p", &dir);
    std::fs::hard_link(&target, &planted).unwrap();
    let outcome = start("p", &dir).run();
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

/// A credentials directory made with `mode` is refused (73) when others or the group can
/// write it, whatever the other bits, and nothing is written in it.
fn writable_by_others(mode: u32) {
    let probe = Run::bare();
    let dir = probe.path("creds");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
    start("p", &dir)
        .fails(73)
        .stderr_has("writable by group or others")
        .run();
    assert!(names(&dir).is_empty(), "{mode:o}");
}

/// A credentials directory made with `mode` that only we can write is used.
fn writable_by_us_only(mode: u32) {
    let probe = Run::bare();
    let dir = probe.path("creds");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
    let outcome = start("p", &dir).code(0).run();
    assert_private_file(&seen(&outcome).0);
}

#[test]
fn dir_mode_0777_is_refused() {
    writable_by_others(0o777);
}

#[test]
fn dir_mode_0770_is_refused() {
    writable_by_others(0o770);
}

#[test]
fn dir_mode_0720_is_refused() {
    writable_by_others(0o720);
}

#[test]
fn dir_mode_0707_is_refused() {
    writable_by_others(0o707);
}

#[test]
fn dir_mode_0702_is_refused() {
    writable_by_others(0o702);
}

#[test]
fn dir_mode_1777_sticky_is_refused() {
    writable_by_others(0o1777);
}

#[test]
fn dir_mode_0700_is_used() {
    writable_by_us_only(0o700);
}

#[test]
fn dir_mode_0750_is_used() {
    writable_by_us_only(0o750);
}

#[test]
fn dir_mode_0755_is_used() {
    writable_by_us_only(0o755);
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

/// Under `umask`, the directory the wrapper makes is 0700 and the key file 0600.
fn private_under_umask(umask: &str) {
    let probe = Run::bare();
    let dir = probe.path("made-by-the-wrapper");
    let outcome = start("p", &dir)
        .code(0)
        .run_after(&format!("umask {umask}"));
    let (path, content) = seen(&outcome);
    assert_eq!(content, key("p"));
    assert_private_file(&path);
    assert_eq!(
        std::fs::metadata(&dir).unwrap().mode() & 0o7777,
        0o700,
        "umask {umask}"
    );
}

#[test]
fn umask_000_still_gives_0600_and_0700() {
    private_under_umask("000");
}

#[test]
fn umask_002_still_gives_0600_and_0700() {
    private_under_umask("002");
}

#[test]
fn umask_022_still_gives_0600_and_0700() {
    private_under_umask("022");
}

#[test]
fn umask_027_still_gives_0600_and_0700() {
    private_under_umask("027");
}

#[test]
fn umask_077_still_gives_0600_and_0700() {
    private_under_umask("077");
}

#[test]
fn a_different_file_at_the_key_s_name_is_kept_and_the_next_name_used() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let taken = learn_path("new", &dir);
    std::fs::write(&taken, "old").unwrap();
    std::fs::set_permissions(&taken, std::fs::Permissions::from_mode(0o600)).unwrap();
    let outcome = start("new", &dir).run();
    outcome.code(0);
    let (path, content) = seen(&outcome);
    assert_eq!(content, key("new"));
    assert!(path.to_string_lossy().ends_with("-1.json"));
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "old");
    assert_eq!(names(&dir).len(), 2);
}

#[test]
fn a_fresh_leftover_temporary_is_left_alone_and_an_old_one_removed() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    // Temporaries as a start on a file system without O_TMPFILE makes them: 0600. A fresh one
    // may be a concurrent start's; an old one is a killed start's.
    let fresh = dir.join(".gcp-credentials-00000000deadbeef.tmp");
    let old = dir.join(".gcp-credentials-00000000feedface.tmp");
    for file in [&fresh, &old] {
        std::fs::write(file, "{\"type\":\"partial").unwrap();
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    age(&old, Duration::from_hours(1));
    let outcome = start("p", &dir).run();
    outcome.code(0);
    let (path, content) = seen(&outcome);
    assert_eq!(content, key("p"));
    assert_private_file(&path);
    assert!(fresh.exists());
    assert!(!old.exists());
    assert_eq!(names(&dir).len(), 2, "{:?}", names(&dir));
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

/// A secret with a GCP key and two more values for `--file`, and a run of it in `dir`.
fn failing_start(dir: &Path) -> Run {
    static SECRET: std::sync::OnceLock<Seeded> = std::sync::OnceLock::new();
    let secret = SECRET.get_or_init(|| {
        seed_text(
            &serde_json::json!({
                "GOOGLE_APPLICATION_CREDENTIALS_JSON": key("p"),
                "TLS_KEY": format!("{MARKER}-tls"),
                "CA": "ca",
            })
            .to_string(),
        )
    });
    let mut run = Run::moto(&secret.name);
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", dir);
    run
}

/// A start that does not end in the command takes back the key files it wrote: nothing of the
/// secret stays on disk (in a shared volume, for the next container) for a command that never
/// ran.
#[test]
fn a_start_whose_command_is_not_found_leaves_no_key_file_behind() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let mut run = failing_start(&dir);
    run.command(&["no-such-command-anywhere"]);
    run.run().fails(127).stderr_lacks(MARKER);
    assert_eq!(names(&dir), Vec::<String>::new());
}

#[test]
fn a_start_stopped_by_a_planted_symlink_takes_back_the_files_it_wrote() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let decoy = probe.path("decoy");
    std::fs::write(&decoy, "untouched").unwrap();
    let mut learn = failing_start(&dir);
    learn.arg("--file").arg("TLS_KEY=TLS_KEY_FILE").command(&[
        "/bin/sh",
        "-c",
        "printf %s \"$TLS_KEY_FILE\"",
    ]);
    let planted = PathBuf::from(learn.run().code(0).stdout.clone());
    std::fs::remove_file(&planted).unwrap();
    // The GCP file the learning start left is the next start's to find: take it away too.
    for name in names(&dir) {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    std::os::unix::fs::symlink(&decoy, &planted).unwrap();
    let mut run = failing_start(&dir);
    run.arg("--file")
        .arg("CA=CA_FILE")
        .arg("--file")
        .arg("TLS_KEY=TLS_KEY_FILE")
        .command(&["/bin/echo", "ran"]);
    run.run().fails(73).stderr_lacks(MARKER);
    assert_eq!(
        names(&dir),
        [planted.file_name().unwrap().to_string_lossy().into_owned()]
    );
    assert_eq!(std::fs::read_to_string(&decoy).unwrap(), "untouched");
}

#[test]
fn a_start_missing_a_later_key_takes_back_the_files_it_wrote() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let mut run = failing_start(&dir);
    run.arg("--file")
        .arg("CA=CA_FILE")
        .arg("--file")
        .arg("ABSENT=ABSENT_FILE")
        .command(&["/bin/echo", "ran"]);
    run.run().fails(65).stderr_lacks(MARKER);
    assert_eq!(names(&dir), Vec::<String>::new());
}

/// A file a failed start found already there belongs to the start that made it (another
/// container sharing the volume may be reading it): it stays.
#[test]
fn a_failed_start_leaves_the_file_it_found_to_the_start_that_uses_it() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let outcome = start("p", &dir).run();
    outcome.code(0);
    let (path, _) = seen(&outcome);
    let mut failing = Run::moto(&secret_with_key("p").name);
    failing
        .env("SHORTCUT_ENV_CREDENTIALS_DIR", &dir)
        .command(&["no-such-command-anywhere"]);
    failing.run().fails(127);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), key("p"));
}

/// Item 16: a container restarting in place (Docker restart policy, ECS restartPolicy) is PID 1
/// every time on the same volume. A hundred restarts all succeed, each reads its key, and the
/// directory still holds one key file.
#[test]
fn restarts_in_place_as_pid_1_never_fail_and_keep_one_file() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "volume");
    let run = start("p", &dir);
    let mut first = None;
    for restart in 0..120 {
        let outcome = run.run_in(unshare_pid(), "test $$ = 1 || exit 99");
        outcome.code(0);
        let (path, content) = seen(&outcome);
        assert_eq!(content, key("p"), "restart {restart}");
        assert_eq!(
            first.get_or_insert(path.clone()),
            &path,
            "restart {restart}"
        );
    }
    assert_eq!(names(&dir).len(), 1, "{:?}", names(&dir));
}

/// A rotation gives the new key a new file; the old one stays for a command still reading it
/// until no start has used it for a week, and then the next start removes it.
#[test]
fn a_key_file_unused_for_a_week_is_removed_and_a_recent_one_kept() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "volume");
    let (old, _) = seen(start("old", &dir).run().code(0));
    let (recent, _) = seen(start("recent", &dir).run().code(0));
    age(&old, Duration::from_hours(192));
    age(&recent, Duration::from_hours(144));
    let (current, content) = seen(start("current", &dir).run().code(0));
    assert_eq!(content, key("current"));
    assert!(!old.exists());
    assert!(recent.exists());
    assert_eq!(names(&dir).len(), 2);
    assert!(current.exists());
}

/// Something of the operator's in the directory is never pruned, however old.
#[test]
fn pruning_leaves_files_that_are_not_ours_alone() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "volume");
    let mine = dir.join("notes.txt");
    std::fs::write(&mine, "keep").unwrap();
    age(&mine, Duration::from_hours(8760));
    start("p", &dir).run().code(0);
    assert!(mine.exists());
}

/// Files of earlier versions, named by PID (48 on a laptop after 15 minutes), go once a week
/// old.
#[test]
fn old_pid_named_files_of_earlier_versions_are_removed() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "volume");
    let leftover = dir.join("gcp-credentials-1-7.json");
    std::fs::write(&leftover, "old").unwrap();
    std::fs::set_permissions(&leftover, std::fs::Permissions::from_mode(0o600)).unwrap();
    age(&leftover, Duration::from_hours(192));
    start("p", &dir).run().code(0);
    assert!(!leftover.exists());
}

#[test]
fn concurrent_starts_with_the_same_key_share_one_file() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "shared");
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let run = start("same", &dir);
                scope.spawn(move || run.run_in(unshare_pid(), "test $$ = 1 || exit 99"))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for outcome in &outcomes {
        outcome.code(0);
        let (path, content) = seen(outcome);
        assert_eq!(content, key("same"));
        assert_private_file(&path);
    }
    assert_eq!(names(&dir).len(), 1, "{:?}", names(&dir));
}

/// Item 19: a start killed at any moment leaves no temporary holding the key, and never a
/// partial file under a key file's name. The value is as large as the command's environment
/// allows (one variable is at most 128 KiB) so that the write and its sync take long enough for
/// some of the kills, spread over a whole start, to land in them.
#[test]
fn a_start_killed_at_any_moment_leaves_no_key_holding_temporary() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let value = format!("{MARKER}{}", "k".repeat(120 << 10));
    std::fs::write(probe.path(".env"), format!("BIG={value}\n")).unwrap();
    let mut run = Run::local();
    run.cwd(probe.temp.path())
        .env("SHORTCUT_ENV_CREDENTIALS_DIR", &dir)
        .arg("--file")
        .arg("BIG=BIG_FILE")
        .command(&["/bin/true"]);
    // How long a whole start takes, to spread the kills over it.
    let started = std::time::Instant::now();
    assert_eq!(run.spawn_detached().wait().unwrap().code(), Some(0));
    let whole = started.elapsed();
    for name in names(&dir) {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    for kill in 0..60u32 {
        let mut child = run.spawn_detached();
        std::thread::sleep(whole * kill / 60);
        let _ = child.kill();
        let _ = child.wait();
        for name in names(&dir) {
            assert!(
                !name.starts_with('.'),
                "kill {kill}: a temporary is left: {name}"
            );
            let content = std::fs::read(dir.join(&name)).unwrap();
            assert!(
                content == value.as_bytes(),
                "kill {kill}: {name} is partial"
            );
            std::fs::remove_file(dir.join(name)).unwrap();
        }
    }
}

/// Item 17: under umask 0277 mkdir makes 0500 directories; the wrapper's directory (and the
/// parents it made) are 0700 anyway, and the next start can use them.
#[test]
fn a_directory_made_under_umask_0277_is_0700_and_usable_by_the_next_start() {
    let probe = Run::bare();
    let dir = probe.path("volume/nested/creds");
    for _ in 0..2 {
        let outcome = start("p", &dir).run_after("umask 0277");
        outcome.code(0);
        assert_eq!(seen(&outcome).1, key("p"));
    }
    for made in [probe.path("volume"), probe.path("volume/nested"), dir] {
        let mode = std::fs::metadata(&made).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o700, "{}", made.display());
    }
}

/// A directory of ours left 0500 (by an earlier version under umask 0277) is made usable.
#[test]
fn a_directory_of_ours_missing_owner_write_is_repaired() {
    let probe = Run::bare();
    let dir = probe.path("creds");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    start("p", &dir).run().code(0);
    assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o7777, 0o700);
}

/// Item 11: a bad directory is found before any network call, in milliseconds, not after a
/// fetch that may take the whole deadline.
#[test]
fn an_unsafe_directory_fails_before_any_network_call() {
    let proxy = Proxy::start(moto().port);
    let secret = secret_with_key("p");
    let mut run = Run::aws(&proxy.url(), &secret.name);
    let open = run.path("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &open)
        .command(&["/bin/echo", "ran"]);
    run.run()
        .fails(73)
        .stderr_has("writable by group or others")
        .stderr_has("hint:");
    assert!(proxy.requests().is_empty(), "{:?}", proxy.targets());
}

#[test]
fn check_finds_an_unsafe_directory_before_any_network_call() {
    let proxy = Proxy::start(moto().port);
    let secret = secret_with_key("p");
    let mut run = Run::aws(&proxy.url(), &secret.name);
    let link = run.path("link");
    std::os::unix::fs::symlink(run.temp.path(), &link).unwrap();
    run.arg("check").env("SHORTCUT_ENV_CREDENTIALS_DIR", &link);
    run.run().code(73).stderr_has("symlink");
    assert!(proxy.requests().is_empty(), "{:?}", proxy.targets());
}

/// `check` writes as a start would, but leaves no file: neither a new one nor, taking back
/// what it wrote, one a running start with the same key is using.
#[test]
fn check_adds_no_file_and_takes_none_away() {
    let probe = Run::bare();
    let dir = private_dir(&probe, "creds");
    let (path, _) = seen(start("p", &dir).run().code(0));
    let secret = secret_with_key("p");
    let mut check = Run::moto(&secret.name);
    check.arg("check").env("SHORTCUT_ENV_CREDENTIALS_DIR", &dir);
    check.run().code(0);
    let mut other = Run::moto(&secret_with_key("other").name);
    other.arg("check").env("SHORTCUT_ENV_CREDENTIALS_DIR", &dir);
    other.run().code(0);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), key("p"));
    assert_eq!(names(&dir).len(), 1, "{:?}", names(&dir));
}
