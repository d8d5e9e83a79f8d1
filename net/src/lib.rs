//! ramjet-net
