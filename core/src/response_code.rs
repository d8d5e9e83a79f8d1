//! The single place that turns store and broker errors into RocketMQ response codes.

use ramjet_net::code::response;
use ramjet_net::RemotingCommand;
use ramjet_store::{GetStatus, PutError};

/// `SendMessageProcessor` mapping of put failures (remoting-protocol.md section 9.2 e).
pub fn for_put(error: &PutError) -> i32 {
    match error {
        PutError::MessageTooLarge { .. } => response::MESSAGE_ILLEGAL,
        PutError::PropertiesTooLarge { .. } => response::MESSAGE_ILLEGAL,
        PutError::Malformed(_) => response::MESSAGE_ILLEGAL,
        PutError::DiskFull { .. } => response::SERVICE_NOT_AVAILABLE,
        PutError::Io(_) => response::SYSTEM_ERROR,
    }
}

/// Pull statuses (remoting-protocol.md section 9.3 step 4). `queue_offset` is the offset the
/// client asked for: an empty queue is "not found" at 0 and "offset moved" elsewhere.
pub fn for_get(status: GetStatus, queue_offset: i64) -> i32 {
    match status {
        GetStatus::Found => response::SUCCESS,
        GetStatus::NoMatchedMessage => response::PULL_RETRY_IMMEDIATELY,
        GetStatus::OffsetOverflowOne => response::PULL_NOT_FOUND,
        GetStatus::NoMessageInQueue if queue_offset == 0 => response::PULL_NOT_FOUND,
        GetStatus::NoMessageInQueue => response::PULL_OFFSET_MOVED,
        GetStatus::OffsetOverflowBadly | GetStatus::OffsetTooSmall => response::PULL_OFFSET_MOVED,
    }
}

/// Java's `GetMessageStatus` names, sent as the pull response's remark.
pub fn get_status_name(status: GetStatus) -> &'static str {
    match status {
        GetStatus::Found => "FOUND",
        GetStatus::NoMatchedMessage => "NO_MATCHED_MESSAGE",
        GetStatus::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
        GetStatus::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
        GetStatus::OffsetTooSmall => "OFFSET_TOO_SMALL",
        GetStatus::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
    }
}

/// A response carrying only a code and a remark.
pub fn error(request: &RemotingCommand, code: i32, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::response_to(request, code).with_remark(remark)
}

pub fn success(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, response::SUCCESS)
}

/// A malformed header: Java reports a missing `@CFNotNull` field as SYSTEM_ERROR.
pub fn bad_header(request: &RemotingCommand, error: impl std::fmt::Display) -> RemotingCommand {
    RemotingCommand::response_to(request, response::SYSTEM_ERROR).with_remark(error.to_string())
}

/// Flow control: the shard is behind, so the client should back off and retry.
pub fn system_busy(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, response::SYSTEM_BUSY)
        .with_remark("[REJECTREQUEST]system busy, start flow control for a while")
}
