//! ramjet-net: RocketMQ's remoting protocol.
//!
//! Owns the frame codec, `RemotingCommand` with both header serializations (JSON and
//! ROCKETMQ binary), request/response codes, typed request/response headers, the JSON bodies
//! clients parse, the glommio TCP server plumbing and a small remoting client.
//!
//! Must never import: `ramjet-store`, `ramjet-core` or anything that opens data files.
//! Codec types are plain data and `Send`; the server and client types live on one glommio
//! executor (one core) each and are deliberately `!Send`.

pub mod acl;
pub mod body;
pub mod client;
pub mod code;
pub mod header;
pub mod properties;
pub mod remoting;
pub mod server;

pub use remoting::{DecodeError, ExtFields, LanguageCode, RemotingCommand, SerializeType};
