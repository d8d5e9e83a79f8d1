//! ramjet-core
