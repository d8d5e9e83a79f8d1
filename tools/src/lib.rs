//! ramjet-tools: the operator tools `mqadmin` and `mqshutdown`.
//!
//! Owns: mqadmin's commands (RocketMQ's names, flags and column output, one module per
//! family under `commands/`), mqadmin's use of `ramjet_net::client` and `ramjet_net::body`
//! (`remote`: connections and errors, `queues`, `message`, `attributes`), tuning-profile checks (`tuning`), and finding and
//! stopping local server processes (`shutdown`).
//!
//! Must never import: `ramjet-core` or `ramjet-namesrv`. The tools speak only the standard
//! protocol through `ramjet-net` (and read stored records with `ramjet-store`'s codec), so
//! they work against Apache RocketMQ servers as well as Ramjet's.
//!
//! Which core: none in particular. These are ordinary blocking programs: one thread, one
//! request at a time over `ramjet_net::client::BlockingClient`.

pub mod attributes;
pub mod commands;
pub mod error;
pub mod format;
pub mod message;
pub mod queues;
pub mod remote;
pub mod shutdown;
pub mod time;
pub mod tools_yml;
pub mod tuning;
