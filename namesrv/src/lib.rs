//! ramjet-namesrv
