//! Helpers shared by the interop test binaries.

pub mod rust_client;
