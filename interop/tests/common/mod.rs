//! Helpers shared by the interop test binaries.

pub mod consume;
pub mod mqadmin;
pub mod rust_client;
