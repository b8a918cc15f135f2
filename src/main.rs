//! `shortcut-env`: see the README. All logic lives in the library; this only hands over the
//! process's arguments and environment and turns a failure into its exit status.

fn main() {
    std::process::exit(shortcut_env::main_with(
        std::env::args_os().collect(),
        shortcut_env::process_vars(),
    ));
}
