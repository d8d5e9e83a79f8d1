//! `AdminError`: everything that can stop an mqadmin command, in words an operator can act on.
//! `mqadmin` prints one of these as a single line on stderr and exits 1.

use ramjet_net::code::response;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no name server address: pass -n <host:port[;host:port...]> or set NAMESRV_ADDR")]
    NoNameServer,
    #[error("name server unreachable ({addrs}): {reason}")]
    NameServerUnreachable { addrs: String, reason: String },
    #[error("broker {addr} unreachable: {reason}")]
    BrokerUnreachable { addr: String, reason: String },
    #[error("topic {0} does not exist (the name server has no route for it)")]
    TopicNotExist(String),
    #[error("cluster {0} not found on the name server")]
    ClusterNotFound(String),
    #[error("broker {0} not found on the name server")]
    BrokerNotFound(String),
    #[error("consumer group {0} is not online (no consumer connected to its brokers)")]
    ConsumerNotOnline(String),
    /// The server answered with an error code.
    #[error("{what} failed at {addr}: {} ({code}): {remark}", code_name(*.code))]
    Refused {
        what: &'static str,
        addr: String,
        code: i32,
        remark: String,
    },
    /// The server answered SUCCESS with a body or header we cannot read.
    #[error("{what}: unreadable answer from {addr}: {reason}")]
    BadAnswer {
        what: &'static str,
        addr: String,
        reason: String,
    },
    /// Nothing matched: no message, no offsets, no connection.
    #[error("{0}")]
    NotFound(String),
    /// Part of a multi-broker command failed; each failure was printed as it happened.
    #[error("{0}")]
    Failed(String),
    /// A flag value the command cannot use.
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

pub type AdminResult<T> = Result<T, AdminError>;

/// RocketMQ's name for a response code, so errors read like Java's `MQBrokerException`.
pub fn code_name(code: i32) -> &'static str {
    match code {
        response::SUCCESS => "SUCCESS",
        response::SYSTEM_ERROR => "SYSTEM_ERROR",
        response::SYSTEM_BUSY => "SYSTEM_BUSY",
        response::REQUEST_CODE_NOT_SUPPORTED => "REQUEST_CODE_NOT_SUPPORTED",
        response::FLUSH_DISK_TIMEOUT => "FLUSH_DISK_TIMEOUT",
        response::SLAVE_NOT_AVAILABLE => "SLAVE_NOT_AVAILABLE",
        response::FLUSH_SLAVE_TIMEOUT => "FLUSH_SLAVE_TIMEOUT",
        response::MESSAGE_ILLEGAL => "MESSAGE_ILLEGAL",
        response::SERVICE_NOT_AVAILABLE => "SERVICE_NOT_AVAILABLE",
        response::VERSION_NOT_SUPPORTED => "VERSION_NOT_SUPPORTED",
        response::NO_PERMISSION => "NO_PERMISSION",
        response::TOPIC_NOT_EXIST => "TOPIC_NOT_EXIST",
        response::TOPIC_EXIST_ALREADY => "TOPIC_EXIST_ALREADY",
        response::PULL_NOT_FOUND => "PULL_NOT_FOUND",
        response::PULL_RETRY_IMMEDIATELY => "PULL_RETRY_IMMEDIATELY",
        response::PULL_OFFSET_MOVED => "PULL_OFFSET_MOVED",
        response::QUERY_NOT_FOUND => "QUERY_NOT_FOUND",
        response::SUBSCRIPTION_PARSE_FAILED => "SUBSCRIPTION_PARSE_FAILED",
        response::SUBSCRIPTION_NOT_EXIST => "SUBSCRIPTION_NOT_EXIST",
        response::SUBSCRIPTION_NOT_LATEST => "SUBSCRIPTION_NOT_LATEST",
        response::SUBSCRIPTION_GROUP_NOT_EXIST => "SUBSCRIPTION_GROUP_NOT_EXIST",
        response::INVALID_PARAMETER => "INVALID_PARAMETER",
        response::CONSUMER_NOT_ONLINE => "CONSUMER_NOT_ONLINE",
        response::CONSUME_MSG_TIMEOUT => "CONSUME_MSG_TIMEOUT",
        response::UPDATE_AND_CREATE_ACL_CONFIG_FAILED => "UPDATE_AND_CREATE_ACL_CONFIG_FAILED",
        response::DELETE_ACL_CONFIG_FAILED => "DELETE_ACL_CONFIG_FAILED",
        response::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED => {
            "UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED"
        }
        _ => "UNKNOWN_CODE",
    }
}
