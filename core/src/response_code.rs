//! The single place that turns broker and store errors into RocketMQ response codes.

use ramjet_net::code::response;
use ramjet_net::RemotingCommand;
use ramjet_store::{GetStatus, PutError};

use crate::error::BrokerError;

/// The response code of a failed request (docs/remoting-protocol.md section 5).
pub fn for_error(error: &BrokerError) -> i32 {
    match error {
        BrokerError::BadHeader(_) | BrokerError::BadBody(_) => response::SYSTEM_ERROR,
        BrokerError::InvalidParameter(_) => response::INVALID_PARAMETER,
        BrokerError::NoPermission(_) => response::NO_PERMISSION,
        BrokerError::TopicNotExist(_) => response::TOPIC_NOT_EXIST,
        BrokerError::SubscriptionGroupNotExist(_) => response::SUBSCRIPTION_GROUP_NOT_EXIST,
        BrokerError::SubscriptionNotExist(_) => response::SUBSCRIPTION_NOT_EXIST,
        BrokerError::SubscriptionNotLatest(_) => response::SUBSCRIPTION_NOT_LATEST,
        BrokerError::SubscriptionParseFailed(_) => response::SUBSCRIPTION_PARSE_FAILED,
        BrokerError::MessageIllegal(_) => response::MESSAGE_ILLEGAL,
        BrokerError::QueryNotFound(_) => response::QUERY_NOT_FOUND,
        BrokerError::ConsumerNotOnline(_) => response::CONSUMER_NOT_ONLINE,
        BrokerError::ClientCallTimeout(_) => response::CONSUME_MSG_TIMEOUT,
        BrokerError::IllegalOperation(_) => response::ILLEGAL_OPERATION,
        BrokerError::NotSupported(_) => response::REQUEST_CODE_NOT_SUPPORTED,
        BrokerError::Busy => response::SYSTEM_BUSY,
        BrokerError::ServiceNotAvailable(_) => response::SERVICE_NOT_AVAILABLE,
        BrokerError::AclUpdateFailed(_) => response::UPDATE_AND_CREATE_ACL_CONFIG_FAILED,
        BrokerError::AclDeleteFailed(_) => response::DELETE_ACL_CONFIG_FAILED,
        BrokerError::GlobalWhiteUpdateFailed(_) => {
            response::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED
        }
        BrokerError::Put(error) => for_put(error),
        // Java's broker throws AclException from its RPC hook, which the remoting layer
        // answers as SYSTEM_ERROR with the exception as remark.
        BrokerError::NotFound(_)
        | BrokerError::Refused(_)
        | BrokerError::AccessDenied(_)
        | BrokerError::FeatureOff(_)
        | BrokerError::Storage(_)
        | BrokerError::Persist(_)
        | BrokerError::ShardUnreachable(_)
        | BrokerError::Internal(_) => response::SYSTEM_ERROR,
    }
}

/// The response to `request` that reports `error`. Errors that point at a broker fault
/// rather than at the client's request are logged here, once, for every path.
pub fn to_response(request: &RemotingCommand, error: &BrokerError) -> RemotingCommand {
    match error {
        BrokerError::Storage(_)
        | BrokerError::Persist(_)
        | BrokerError::ShardUnreachable(_)
        | BrokerError::Internal(_) => {
            tracing::error!(code = request.code, %error, "request failed");
        }
        // The store logs each change of state once (disk full, I/O failure, dispatch
        // failure); every put refused meanwhile would be a line per message (a full disk
        // under load wrote 45 MB of them in a minute), and client mistakes are the client's.
        BrokerError::Put(_) => {
            tracing::debug!(code = request.code, %error, "put refused");
        }
        _ => {}
    }
    RemotingCommand::response_to(request, for_error(error)).with_remark(error.to_string())
}

/// `SendMessageProcessor` mapping of put failures (docs/remoting-protocol.md section 9.2).
pub fn for_put(error: &PutError) -> i32 {
    match error {
        PutError::MessageTooLarge { .. } => response::MESSAGE_ILLEGAL,
        PutError::PropertiesTooLarge { .. } => response::MESSAGE_ILLEGAL,
        PutError::Malformed(_) => response::MESSAGE_ILLEGAL,
        PutError::DiskFull { .. } => response::SERVICE_NOT_AVAILABLE,
        PutError::Io(_) => response::SYSTEM_ERROR,
        PutError::StoreFailed(_) => response::SERVICE_NOT_AVAILABLE,
    }
}

/// Pull statuses (docs/remoting-protocol.md section 9.3). `queue_offset` is the offset the
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

pub fn success(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, response::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_faults_keep_their_codes_and_broker_faults_are_system_errors() {
        let cases = [
            (BrokerError::Busy, response::SYSTEM_BUSY),
            (
                BrokerError::InvalidParameter("q".into()),
                response::INVALID_PARAMETER,
            ),
            (
                BrokerError::Put(PutError::DiskFull {
                    used_percent: 95,
                    limit_percent: 90,
                }),
                response::SERVICE_NOT_AVAILABLE,
            ),
            (BrokerError::ShardUnreachable(1), response::SYSTEM_ERROR),
            (BrokerError::Internal("x".into()), response::SYSTEM_ERROR),
            (
                BrokerError::NotSupported("sql".into()),
                response::REQUEST_CODE_NOT_SUPPORTED,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(for_error(&error), code, "{error}");
        }
        let request = RemotingCommand::request(ramjet_net::code::request::SEND_MESSAGE);
        let answer = to_response(&request, &BrokerError::Busy);
        assert_eq!(answer.code, response::SYSTEM_BUSY);
        assert_eq!(
            answer.remark.as_deref(),
            Some("[REJECTREQUEST]system busy, start flow control for a while")
        );
    }
}
