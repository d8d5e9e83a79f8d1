//! Transactional messages (RocketMQ's `transaction` package): half messages, END_TRANSACTION
//! and check-back. docs/transactions.md tells the whole flow.
//!
//! - `half`: the send path's divert of a prepared message into RMQ_SYS_TRANS_HALF_TOPIC.
//! - `ledger`: the pure bookkeeping of pending and decided transactions.
//! - `records`: the records this module writes (commit, op, check-back copy, discard).
//! - `service`: the half-queue owner's state, END_TRANSACTION, the check-back loop and the
//!   rebuild at startup.

mod half;
mod ledger;
mod records;
mod service;

pub use half::divert_half_message;
pub use ledger::Decision;
pub use service::{check_loop, end_transaction, half_owner, EndTransaction, TransactionService};

pub const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
pub const OP_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
pub const CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// The consumer group under which the half and op queues' progress is kept.
pub const SYS_TRANS_GROUP: &str = "CID_RMQ_SYS_TRANS";
/// The tag of an op record: the half message it names is removed (decided).
pub const REMOVE_TAG: &str = "d";

pub const PROPERTY_TRANSACTION_PREPARED: &str = "TRAN_MSG";
pub const PROPERTY_PRODUCER_GROUP: &str = "PGROUP";
pub const PROPERTY_REAL_TOPIC: &str = "REAL_TOPIC";
pub const PROPERTY_REAL_QUEUE_ID: &str = "REAL_QID";
pub const PROPERTY_TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
pub const PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
/// The half queue offset of the producer's original half message, on every later copy.
pub const PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";

/// The half queue: one queue, as RocketMQ has it.
pub const HALF_QUEUE_ID: i32 = 0;

/// `TransactionalMessageUtil.getImmunityTime`: seconds from the property, or the
/// broker's transactionTimeOut when it is -1 or unreadable.
pub fn immunity_millis(property: Option<&str>, transaction_timeout_ms: i64) -> i64 {
    match property.map(|p| p.trim().parse::<i64>()) {
        None => transaction_timeout_ms,
        Some(Ok(seconds)) if seconds >= 0 => seconds.saturating_mul(1000),
        Some(_) => transaction_timeout_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immunity_comes_from_the_property_or_the_timeout() {
        assert_eq!(immunity_millis(None, 6000), 6000);
        assert_eq!(immunity_millis(Some("10"), 6000), 10_000);
        assert_eq!(immunity_millis(Some("-1"), 6000), 6000);
        assert_eq!(immunity_millis(Some("x"), 6000), 6000);
    }
}
