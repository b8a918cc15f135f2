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

#[test]
fn the_commands_exit_status_is_the_process_status() {
    for status in [0, 1, 42, 125, 126, 127, 255] {
        let mut run = Run::local();
        run.command(&["/bin/sh", "-c", &format!("exit {status}")]);
        run.run().code(status);
    }
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

#[test]
fn a_missing_command_exits_127_and_a_non_executable_one_126() {
    let mut run = Run::local();
    run.command(&["no-such-command-anywhere"]);
    run.run()
        .fails(127)
        .stderr_has("command not found: no-such-command-anywhere");

    let mut run = Run::local();
    let script = run.path("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    run.command(&[script.to_str().unwrap()]);
    run.run().fails(126).stderr_has("Permission denied");

    let mut run = Run::local();
    let script = run.path("bad-interpreter");
    std::fs::write(&script, "#!/no/such/interpreter\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    run.command(&[script.to_str().unwrap()]);
    run.run().fails(126).stderr_has("interpreter");
}
