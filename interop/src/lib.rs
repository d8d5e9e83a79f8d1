//! ramjet-interop: test-only crate. Its tests start the real `mqnamesrv` / `mqbroker`
//! binaries on loopback and drive them with third-party clients (the `rocketmq-client-rust`
//! crate from crates.io and PyPI's `rocketmq-python-cvs`, which bundles the Apache C++
//! client). It is kept apart so product crates never depend on a client library.
//!
//! This library is the harness those tests share; it deliberately uses only std (plus
//! serde_json and crc32fast for the few raw frames it writes), so a bug in `ramjet-net` cannot
//! hide itself by being on both ends of a test:
//! - [`workspace`]: where the workspace, `target/` and the server binaries are;
//! - [`process`]: free loopback ports and server processes killed (by PID) on drop, with their
//!   output kept in a log file under `target/interop-logs/`;
//! - [`python`]: the virtualenv holding the C++ client, and running scripts in it with a timeout;
//! - [`recorder`]: `interop/python/record_frames.py` as a fake name server or broker;
//! - [`servers`]: `mqnamesrv` (and later `mqbroker`) started on a free port;
//! - [`wire`]: hand-built request frames, such as the REGISTER_BROKER a Java broker sends.

pub mod http;
pub mod process;
pub mod python;
pub mod recorder;
pub mod servers;
pub mod wire;
pub mod workspace;
