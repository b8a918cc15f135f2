//! exec: the command replaces the wrapper.

use crate::support::*;

#[test]
fn the_command_keeps_the_wrappers_pid() {
    let mut run = Run::local();
    run.command(&["/bin/sh", "-c", "echo $$"]);
    let outcome = run.run();
    outcome.code(0);
    assert_eq!(outcome.stdout.trim(), outcome.pid.to_string());
}

/// The command exits with `status`, and so does the process.
fn exits_with(status: i32) {
    Run::local()
        .command(&["/bin/sh", "-c", &format!("exit {status}")])
        .code(status)
        .run();
}

#[test]
fn exit_status_0_is_the_process_status() {
    exits_with(0);
}

#[test]
fn exit_status_1_is_the_process_status() {
    exits_with(1);
}

#[test]
fn exit_status_42_is_the_process_status() {
    exits_with(42);
}

#[test]
fn exit_status_125_is_the_process_status() {
    exits_with(125);
}

#[test]
fn exit_status_126_of_the_command_is_the_process_status() {
    exits_with(126);
}

#[test]
fn exit_status_127_of_the_command_is_the_process_status() {
    exits_with(127);
}

#[test]
fn exit_status_255_is_the_process_status() {
    exits_with(255);
}

#[test]
fn arguments_pass_through_unchanged() {
    let args = [
        "a b",
        "'q'",
        "\"dq\"",
        "$HOME",
        "*",
        "",
        "line\nbreak",
        "--",
        "-x",
    ];
    let mut command = vec!["/usr/bin/printf", "[%s]\\n"];
    command.extend(args);
    let mut run = Run::local();
    run.command(&command);
    let outcome = run.run();
    outcome.code(0);
    let expected: String = args.iter().map(|a| format!("[{a}]\n")).collect();
    assert_eq!(outcome.stdout, expected);
}

#[test]
fn the_command_is_found_on_path() {
    let mut run = Run::local();
    run.command(&["printf", "found"]);
    assert_eq!(run.run().code(0).stdout, "found");
}

// (A missing command is 127 and a file without the execute bit 126, each with its message:
// hostile::exec_not_found and hostile::exec_not_executable.)

#[test]
fn a_script_whose_interpreter_is_missing_exits_126() {
    let mut run = Run::local();
    let script = run.path("bad-interpreter");
    std::fs::write(&script, "#!/no/such/interpreter\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    run.command(&[script.to_str().unwrap()])
        .fails(126)
        .stderr_has("interpreter")
        .run();
}

/// An executable file `name` in `dir` of the run's temp dir, holding `content`.
fn executable(run: &Run, dir: &str, name: &str, content: &[u8]) -> std::path::PathBuf {
    let dir = run.path(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_console_script_on_path_with_a_stale_interpreter_exits_126() {
    let mut run = Run::local();
    executable(
        &run,
        "venv-bin",
        "tool",
        b"#!/old/venv/bin/python\nprint(1)\n",
    );
    let path = format!("{}:/usr/bin:/bin", run.path("venv-bin").display());
    run.env("PATH", path).command(&["tool"]);
    run.run()
        .fails(126)
        .stderr_has("venv-bin/tool")
        .stderr_has("interpreter /old/venv/bin/python was not found");
}

#[test]
fn a_name_not_on_path_is_127_even_with_a_same_named_file_in_the_cwd() {
    let mut run = Run::local();
    executable(&run, ".", "tool-in-cwd", b"#!/bin/sh\necho ran\n");
    run.command(&["tool-in-cwd"]);
    run.run()
        .fails(127)
        .stderr_has("command not found: tool-in-cwd");
}

#[test]
fn a_later_path_entry_is_used_when_an_earlier_one_is_not_executable() {
    let mut run = Run::local();
    let first = executable(&run, "first", "tool", b"#!/bin/sh\necho first\n");
    std::fs::set_permissions(&first, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    executable(&run, "second", "tool", b"#!/bin/sh\necho second\n");
    let path = format!(
        "{}:{}:/usr/bin:/bin",
        run.path("first").display(),
        run.path("second").display()
    );
    run.env("PATH", path).command(&["tool"]);
    assert_eq!(run.run().code(0).stdout, "second\n");
}

/// The first 64 bytes of an ELF64 executable for `machine` (2: SPARC, never this host).
fn elf_header(machine: u8) -> Vec<u8> {
    let mut header = b"\x7fELF\x02\x01\x01".to_vec();
    header.resize(16, 0);
    header.extend([2, 0, machine, 0, 1, 0, 0, 0]); // e_type EXEC, e_machine, e_version 1
    header.resize(64, 0);
    header
}

#[test]
fn a_foreign_architecture_binary_is_an_exec_format_error_126() {
    let mut run = Run::local();
    let binary = executable(&run, "bin", "sparc-app", &elf_header(2));
    run.command(&[binary.to_str().unwrap()]);
    run.run().fails(126).stderr_has("Exec format error");
}

#[test]
fn a_corrupt_elf_is_an_exec_format_error_126() {
    let mut run = Run::local();
    let binary = executable(&run, "bin", "corrupt", b"\x7fELF\x00garbage");
    run.command(&[binary.to_str().unwrap()]);
    run.run().fails(126).stderr_has("Exec format error");
}

#[test]
fn a_script_without_a_shebang_is_not_run_by_sh() {
    let mut run = Run::local();
    let script = executable(&run, "bin", "no-shebang", b"echo ran-by-sh\n");
    run.command(&[script.to_str().unwrap()]);
    run.run().fails(126).stderr_has("Exec format error");
}

/// A `.env` with `count` variables BIG_0… of `size` bytes each, every value holding [`MARKER`].
fn big_env_file(run: &mut Run, count: usize, size: usize) {
    let value = format!("{MARKER}{}", "x".repeat(size - MARKER.len()));
    let text: String = (0..count).map(|i| format!("BIG_{i}={value}\n")).collect();
    let path = run.path(".env");
    std::fs::write(&path, text).unwrap();
    run.env("SHORTCUT_ENV_FILE", path);
}

#[test]
fn a_variable_over_128_kib_is_e2big_126_naming_it() {
    let mut run = Run::local();
    big_env_file(&mut run, 1, 200 * 1024);
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(126)
        .stderr_has("too large to exec")
        .stderr_has("variable BIG_0 is")
        .stderr_lacks(MARKER);
}

#[test]
fn an_environment_over_arg_max_is_e2big_126_naming_the_largest() {
    let mut run = Run::local();
    // 8 × 100 KiB, each under the 128 KiB per-string cap and together under the env file's
    // 1 MiB bound, but over ARG_MAX with a 1 MiB stack limit (ARG_MAX is a quarter of it).
    big_env_file(&mut run, 8, 100 * 1024);
    run.command(&["/bin/echo", "ran"]);
    run.run_after("ulimit -s 1024")
        .fails(126)
        .stderr_has("more than the limit of")
        .stderr_has("largest: BIG_")
        .stderr_lacks(MARKER);
}

#[test]
fn check_predicts_e2big_with_the_same_exit_code() {
    let mut run = Run::local();
    big_env_file(&mut run, 1, 200 * 1024);
    run.arg("check");
    let outcome = run.run();
    outcome.code(126);
    outcome.stderr_has("variable BIG_0 is").stderr_lacks(MARKER);
}

#[test]
fn a_command_that_cannot_start_leaves_no_key_file() {
    let mut run = Run::local();
    let binary = executable(&run, "bin", "corrupt", b"\x7fELF\x00garbage");
    let creds = run.path("creds");
    run.env("SHORTCUT_ENV_CREDENTIALS_DIR", &creds)
        .env(
            "GOOGLE_APPLICATION_CREDENTIALS_JSON",
            r#"{"type":"service_account"}"#,
        )
        .command(&[binary.to_str().unwrap()]);
    run.run().fails(126);
    // The directory's salt (it names the key files, holds no secret) may stay; no key may.
    let left: Vec<_> = std::fs::read_dir(&creds)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != ".shortcut-env-salt")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
