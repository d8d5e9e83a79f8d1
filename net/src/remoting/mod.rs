//! The remoting frame codec and `RemotingCommand`, in both header serializations.

pub mod binary_header;
pub mod command;
pub mod frame;
pub mod json_header;
#[cfg(test)]
mod proptests;

pub use command::{
    ExtFields, LanguageCode, RemotingCommand, SerializeType, FLAG_ONEWAY, FLAG_RESPONSE,
};
pub use frame::{decode_frame, decode_frame_split, FRAME_BYTES_MAX_DEFAULT, FRAME_PREFIX_BYTES};

/// Why a frame could not be decoded. Every variant means the peer is not speaking the
/// protocol (or is corrupt): the connection is closed and no response is sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("frame length {0} is smaller than the header-length word")]
    FrameTooShort(i64),
    #[error("frame of {frame_bytes} bytes exceeds the maximum of {frame_bytes_max}")]
    FrameTooLong {
        frame_bytes: usize,
        frame_bytes_max: usize,
    },
    #[error("header length {header_bytes} does not fit in a frame of {frame_bytes} bytes")]
    HeaderTooLong {
        header_bytes: usize,
        frame_bytes: usize,
    },
    #[error("unknown serialize type {0}")]
    UnknownSerializeType(u8),
    #[error("invalid JSON header: {0}")]
    InvalidJsonHeader(String),
    #[error("JSON header has no code")]
    MissingCode,
    #[error("invalid ROCKETMQ binary header: {0}")]
    BinaryHeader(&'static str),
}
