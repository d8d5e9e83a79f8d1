//! The RocketMQ CommitLog record codec (store-format.md §2).
//!
//! The bytes written here go to disk *and* into pull responses unchanged, so every field sits
//! exactly where Java's `MessageDecoder` looks for it.

pub mod batch;
pub mod hash;
pub mod msg_id;
pub mod properties;
pub mod record;
pub mod sys_flag;

pub use batch::{decode_batch_body, encode_batch_body, InnerMessage};
pub use hash::{java_string_hash, tags_code};
pub use msg_id::{create_offset_msg_id, decode_offset_msg_id, push_offset_msg_id};
pub use properties::{Properties, PROPERTY_KEYS, PROPERTY_TAGS, PROPERTY_UNIQ_KEY};
pub use record::{
    check_record, decode_record, AppendStamp, DecodedRecord, MessageRecord, PreparedRecord,
    RecordCheck, RecordError, BLANK_MAGIC_CODE, END_FILE_MIN_BLANK_LENGTH, MESSAGE_MAGIC_CODE_V1,
    MESSAGE_MAGIC_CODE_V2,
};
