//! What must hold for any bytes a peer can send, checked by the `frame_decoder` fuzz target
//! and, over the saved corpus, by `net/tests/fuzz_corpus.rs` (which includes this file).
//!
//! * `decode_frame` and `decode_frame_split` never panic and always agree: the same
//!   command, the same error, or both "need more bytes" (and then nothing is consumed).
//! * A frame that decodes is incomplete when cut short by one byte.
//! * Re-encoding a decoded frame and decoding it again gives the same command, up to what
//!   the serialization itself cannot carry (see `as_reencoded`).

use bytes::BytesMut;
use ramjet_net::remoting::{decode_frame, decode_frame_split, FRAME_BYTES_MAX_DEFAULT};
use ramjet_net::{LanguageCode, RemotingCommand, SerializeType};

/// Checked with Java's default limit and with a small one, so that the "frame too long"
/// path is reached by small inputs too.
const FRAME_BYTES_MAX_CHECKED: [usize; 2] = [FRAME_BYTES_MAX_DEFAULT, 64];

pub fn check_frame(data: &[u8]) {
    for frame_bytes_max in FRAME_BYTES_MAX_CHECKED {
        check_with_limit(data, frame_bytes_max);
    }
}

fn check_with_limit(data: &[u8], frame_bytes_max: usize) {
    let copied = decode_frame(data, frame_bytes_max);
    let mut buf = BytesMut::from(data);
    let split = decode_frame_split(&mut buf, frame_bytes_max);
    match (copied, split) {
        (Ok(None), Ok(None)) => assert_eq!(buf.len(), data.len(), "incomplete consumed bytes"),
        (Err(copied), Err(split)) => {
            assert_eq!(copied, split);
            assert_eq!(buf.len(), data.len(), "an error consumed bytes");
        }
        (Ok(Some((command, used))), Ok(Some(split))) => {
            assert_eq!(command, split);
            assert!(used <= data.len());
            assert_eq!(
                buf.len(),
                data.len() - used,
                "split consumed another length"
            );
            assert_eq!(
                decode_frame(&data[..used - 1], frame_bytes_max),
                Ok(None),
                "a frame cut by one byte must need more bytes"
            );
            check_reencode(&command, frame_bytes_max.max(FRAME_BYTES_MAX_DEFAULT));
        }
        (copied, split) => panic!("decoders disagree: {copied:?} vs {split:?}"),
    }
}

fn check_reencode(command: &RemotingCommand, frame_bytes_max: usize) {
    let bytes = command.encode_to_vec();
    let (again, used) = decode_frame(&bytes, frame_bytes_max)
        .expect("our own encoding decodes")
        .expect("our own encoding is a whole frame");
    assert_eq!(used, bytes.len());
    assert_eq!(again, as_reencoded(command.clone()));
}

/// What a command looks like after one encode and decode in its own serialization:
/// JSON carries the language by name, so a byte with no name comes back as OTHER; the
/// binary form writes an extFields map with no entries (all had a null key or value) as
/// length 0, which reads back as no map at all, as in Java's `RocketMQSerializable`.
pub fn as_reencoded(mut command: RemotingCommand) -> RemotingCommand {
    match command.serialize_type {
        SerializeType::Json => {
            if let LanguageCode::Unknown(_) = command.language {
                command.language = LanguageCode::Other;
            }
        }
        SerializeType::RocketMq => {
            if command
                .ext_fields
                .as_ref()
                .is_some_and(|fields| fields.is_empty())
            {
                command.ext_fields = None;
            }
        }
    }
    command
}
