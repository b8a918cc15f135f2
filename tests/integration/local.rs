//! Local mode: no AWS, a dotenv file.

use crate::support::*;

#[test]
fn local_mode_reads_dotenv_and_never_touches_the_network() {
    let proxy = Proxy::start(endpoints::closed_port());
    let mut run = Run::local();
    std::fs::write(
        run.path(".env"),
        "FROM_FILE=file\nBOTH=file\nQUOTED=\"a b # c\"\n",
    )
    .unwrap();
    // Even with AWS configuration present, nothing is sent.
    run.env("AWS_ENDPOINT_URL", proxy.url())
        .env("AWS_REGION", "us-east-1")
        .env("SECRET_NAME", "short-cut/prod/app")
        .env("BOTH", "inherited");
    let (outcome, env) = run.env_seen();
    outcome
        .code(0)
        .stderr_has("loaded 2 keys from .env (local mode)");
    assert_eq!(env["FROM_FILE"], "file");
    assert_eq!(env["QUOTED"], "a b # c");
    // Variables already set win over the file, as with every dotenv tool.
    assert_eq!(env["BOTH"], "inherited");
    assert!(proxy.requests().is_empty());
}

#[test]
fn the_example_env_file_runs_as_the_readme_says() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".env.example");
    let mut run = Run::local();
    run.arg("--env-file").arg(&example);
    let (outcome, env) = run.env_seen();
    outcome.code(0).stderr_has("loaded 7 keys");
    assert_eq!(env["MILVUS_PORT"], "19530");
    let key = std::fs::read_to_string(&env["GOOGLE_APPLICATION_CREDENTIALS"]).unwrap();
    assert!(key.contains("service_account"));
}

#[test]
fn without_a_dotenv_file_local_mode_still_runs() {
    let mut run = Run::local();
    run.command(&["/bin/echo", "ran"]);
    assert_eq!(run.run().code(0).stdout, "ran\n");
}

#[test]
fn an_explicit_env_file_must_exist() {
    let mut run = Run::local();
    run.env("SHORTCUT_ENV_FILE", run.path("missing.env"))
        .command(&["/bin/echo", "ran"]);
    run.run().fails(78).stderr_has("missing.env");
}

#[test]
fn a_malformed_env_file_is_reported_by_line_without_its_value() {
    let mut run = Run::local();
    std::fs::write(run.path(".env"), "GOOD=1\nBROKEN LEAKMARKER\n").unwrap();
    run.command(&["/bin/echo", "ran"]);
    run.run()
        .fails(78)
        .stderr_has("line 2")
        .stderr_lacks(MARKER);
}
