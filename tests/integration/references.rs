//! Secret references (names, ARNs, ECS valueFrom suffixes, `VAR=`), several secrets, versions.
//! (Malformed references: hostile::arn_* and hostile::ref_*; their parsing: src/reference.rs.)

use crate::support::*;

#[test]
fn arn_gives_the_region_and_needs_no_aws_region() {
    let secret = seed_text(r#"{"A":"1"}"#);
    Run::moto(&secret.arn)
        .unset("AWS_REGION")
        .stderr_has(&secret.version_id)
        .sees("A", "1")
        .run();
}

#[test]
fn value_from_with_a_json_key_exports_only_that_key_in_one_call() {
    let secret = seed_text(&guide_secret());
    // The task definition's valueFrom form, with its empty stage and version fields.
    Run::proxied(&format!("{}:MILVUS_HOST::", secret.arn))
        .stderr_has("loaded 1 key from")
        .sees("MILVUS_HOST", "milvus.internal")
        .lacks("OPENAI_API_KEY")
        .calls("GetSecretValue", 1)
        .run();
}

#[test]
fn value_from_with_var_renames_the_key() {
    let secret = seed_text(&guide_secret());
    Run::moto(&format!("DB_HOST={}:MILVUS_HOST", secret.name))
        .sees("DB_HOST", "milvus.internal")
        .lacks("MILVUS_HOST")
        .run();
}

#[test]
fn whole_secret_that_is_not_json_without_a_name_is_65_with_the_way_out() {
    let secret = seed_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n");
    Run::moto(&secret.name)
        .probe()
        .fails(65)
        .stderr_has("VAR=NAME")
        .run();
}

#[test]
fn whole_secret_that_is_not_json_is_exported_as_one_variable() {
    let key = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n";
    let secret = seed_text(key);
    Run::moto(&format!("TLS_KEY={}", secret.name))
        .sees("TLS_KEY", key)
        .run();
}

#[test]
fn several_secrets_are_fetched_with_one_call_each_and_later_ones_win() {
    let base = seed_text(r#"{"SHARED":"base","ONLY_BASE":"b"}"#);
    let overlay = seed_text(r#"{"SHARED":"overlay","ONLY_OVERLAY":"o"}"#);
    Run::proxied(&format!("{}, {}", base.name, overlay.name))
        .stderr_has(&format!("SHARED ({} over {})", overlay.name, base.name))
        .stderr_has(&format!(
            "{} (version {}, AWSCURRENT)",
            base.name, base.version_id
        ))
        .stderr_has(&format!(
            "{} (version {}, AWSCURRENT)",
            overlay.name, overlay.version_id
        ))
        .sees("SHARED", "overlay")
        .sees("ONLY_BASE", "b")
        .sees("ONLY_OVERLAY", "o")
        .calls("GetSecretValue", 2)
        .run();
}

#[test]
fn several_secrets_as_repeated_secret_flags_are_the_same_list() {
    let base = seed_text(r#"{"SHARED":"base"}"#);
    let overlay = seed_text(r#"{"SHARED":"overlay"}"#);
    Run::moto("ignored-when-flags-are-given")
        .arg("--secret")
        .arg(&overlay.name)
        .arg("--secret")
        .arg(&base.name)
        .sees("SHARED", "base")
        .run();
}

#[test]
fn several_secrets_one_missing_fails_the_start_with_66() {
    let present = seed_text(r#"{"A":"1"}"#);
    Run::moto(&format!("{},short-cut/test/absent", present.name))
        .probe()
        .fails(66)
        .stderr_has("short-cut/test/absent")
        .run();
}

// (SECRET_VERSION_STAGE for all references: fetch::a_version_stage_can_be_chosen_…)

#[test]
fn version_stage_chosen_in_the_reference() {
    let secret = seed_text(r#"{"K":"v1"}"#);
    put_value(&secret.name, r#"{"K":"v2"}"#);
    Run::moto(&format!("{}::AWSPREVIOUS", secret.name))
        .stderr_has(&secret.version_id)
        .sees("K", "v1")
        .run();
}

#[test]
fn version_id_chosen_by_secret_version_id() {
    let secret = seed_text(r#"{"K":"v1"}"#);
    put_value(&secret.name, r#"{"K":"v2"}"#);
    Run::moto(&secret.name)
        .env("SECRET_VERSION_ID", &secret.version_id)
        .sees("K", "v1")
        .run();
}

// ---- bad references: one per exit code and message ----------------------------------------

/// `reference` fails the start with `code`, the message holding `needle`.
fn refused(reference: &str, code: i32, needle: &str) {
    Run::moto(reference)
        .probe()
        .fails(code)
        .stderr_has(needle)
        .run();
}

#[test]
fn bad_reference_unknown_partition_is_78() {
    refused(
        "arn:aws-mars:secretsmanager:us-east-1:123456789012:secret:x",
        78,
        "unknown partition",
    );
}

#[test]
fn bad_reference_invalid_region_in_the_arn_is_78() {
    refused(
        "arn:aws:secretsmanager:us-east-x:123456789012:secret:x",
        78,
        "invalid region",
    );
}

#[test]
fn bad_reference_arn_of_another_service_is_78() {
    refused(
        "arn:aws:sqs:us-east-1:123456789012:queue:x",
        78,
        "not of a Secrets Manager secret",
    );
}

#[test]
fn bad_reference_with_too_many_fields_is_78() {
    let secret = seed_text(r#"{"K":"v"}"#);
    refused(
        &format!("{}:K:AWSCURRENT:id:extra", secret.arn),
        78,
        "too many",
    );
}

#[test]
fn bad_reference_json_key_not_in_the_secret_is_65() {
    let secret = seed_text(r#"{"K":"v"}"#);
    refused(
        &format!("{}:NOPE", secret.name),
        65,
        "key NOPE is not in secret",
    );
}

#[test]
fn bad_reference_version_id_that_does_not_exist_is_66() {
    let secret = seed_text(r#"{"K":"v"}"#);
    refused(
        &format!("{}:K::00000000-0000-0000-0000-000000000000", secret.name),
        66,
        "has no version id 00000000-0000-0000-0000-000000000000",
    );
}
