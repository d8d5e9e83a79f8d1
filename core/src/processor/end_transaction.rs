//! END_TRANSACTION (37): a producer commits or rolls back a half message, after its local
//! transaction or when a check-back asked it (`EndTransactionProcessor`,
//! docs/transactions.md). Decoded and checked here; decided on the half queue's owner.

use std::rc::Rc;

use ramjet_net::header::{CommandHeader, EndTransactionRequestHeader};
use ramjet_net::RemotingCommand;
use ramjet_store::message::sys_flag::{
    TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE, TRANSACTION_ROLLBACK_TYPE,
};

use crate::error::{BrokerError, BrokerResult};
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::transaction::{Decision, EndTransaction};

pub async fn process(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header =
        EndTransactionRequestHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    let decision = match header.commit_or_rollback {
        TRANSACTION_COMMIT_TYPE => Decision::Commit,
        TRANSACTION_ROLLBACK_TYPE => Decision::Rollback,
        TRANSACTION_NOT_TYPE => {
            // The producer does not know yet (UNKNOWN): nothing changes and the
            // check-back will ask again. Java answers nothing; clients send it oneway.
            tracing::debug!(
                group = header.producer_group,
                offset = header.tran_state_table_offset,
                from_check = header.from_transaction_check,
                "END_TRANSACTION with an unknown state; the broker checks back later"
            );
            return Ok(
                success(request).with_remark("transaction state unknown; it will be checked back")
            );
        }
        other => {
            return Err(BrokerError::InvalidParameter(format!(
                "commitOrRollback {other} is not a transaction state (0, 8 or 12)"
            )))
        }
    };
    let end = EndTransaction {
        producer_group: header.producer_group,
        tran_state_table_offset: header.tran_state_table_offset,
        commit_log_offset: header.commit_log_offset,
        decision,
        from_transaction_check: header.from_transaction_check.unwrap_or(false),
    };
    shard.end_transaction(end).await?;
    Ok(success(request))
}
