//! Integration tests: the built binary, a cleared environment, real loopback endpoints.
//!
//! One test binary (so moto starts once per run); one module per area. Every case is a named
//! `#[test]` of a few lines (`cargo test --test integration throttled` runs the throttling
//! ones), written on the [`support::Run`] builder, which carries what the run must end with
//! and checks it together with the invariants every run keeps ([`support::expect`]):
//!
//! ```ignore
//! Run::proxied(&seed_text(&guide_secret()).name)
//!     .fault(Fault::Reset)
//!     .calls("GetSecretValue", 2)
//!     .sees("MILVUS_HOST", "milvus.internal")
//!     .within(Duration::from_secs(10))
//!     .run();
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod support;

mod bad_input;
mod cli;
mod config;
mod copy;
mod credentials;
mod drop_credentials;
mod eks;
mod exec;
mod failover;
mod faults;
mod fetch;
mod file_safety;
mod gcp;
mod hostile;
mod init;
mod inspect;
mod leaks;
mod local;
mod pipeline;
mod policy;
mod references;
mod regions;
mod signals;
mod ssm;
mod static_binary;
mod tls;
mod watch;
