//! Integration tests: the built binary, a cleared environment, real loopback endpoints.
//!
//! One test binary (so moto starts once per run); one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod support;

mod bad_input;
mod cli;
mod config;
mod credentials;
mod eks;
mod exec;
mod failover;
mod faults;
mod fetch;
mod file_safety;
mod gcp;
mod hostile;
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
