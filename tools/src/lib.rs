//! ramjet-tools
