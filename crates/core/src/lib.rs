//! The pure core of shortcut-env: everything that decides, nothing that does.
//!
//! ```text
//! settings + vars ─ config::resolve ─→ Config      (fail fast, before any network call)
//! payloads ─ payload / envmap::select ─→ Entries   (a secret's text, a dotenv file's text)
//! Entries + Policy ─ envmap::build ─→ Built        (the command's environment and its report)
//! Built ─ drop_credentials ─→ the command's environment without the AWS credentials (opt-in)
//! Built ─ render ─→ check's report, export's text
//! ```
//!
//! It knows nothing of AWS, processes, files or async code (the binary does that I/O around
//! it), and never reads the process environment: a [`vars::Vars`] snapshot is passed in. So
//! every rule is a table-driven unit test, and the fuzz targets build in seconds.
// Pure code has no reason to be unsafe, not even the one exception the binary has.
#![forbid(unsafe_code)]

pub mod config;
pub mod drop_credentials;
pub mod envmap;
pub mod error;
pub mod names;
pub mod payload;
pub mod reference;
pub mod render;
pub mod settings;
pub mod text;
pub mod vars;
