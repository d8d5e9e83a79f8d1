//! ramjet-interop: test-only crate. Its tests start the real `mqnamesrv` / `mqbroker`
//! binaries on loopback and drive them with third-party clients (the `rocketmq-client-rust`
//! crate from crates.io and PyPI's `rocketmq-python-cvs`, which bundles the Apache C++
//! client). It is kept apart so product crates never depend on a client library.
