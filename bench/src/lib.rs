//! ramjet-bench
