//! ramjet-store
