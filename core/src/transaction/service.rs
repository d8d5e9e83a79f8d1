//! The transaction service of the shard that owns the half queue: END_TRANSACTION, the
//! check-back loop, and the rebuild of pending transactions from the half and op queues
//! at startup (`TransactionalMessageServiceImpl`, `TransactionalMessageCheckService`,
//! `EndTransactionProcessor`).
//!
//! Every decision is claimed on this shard's ledger (see `ledger.rs`), then carried out
//! through the typed puts: the committed message on its real queue's owner, the op record
//! on the op queue's owner. The CommitLog is the truth: the ledger is rebuilt from the
//! queues, and the `CID_RMQ_SYS_TRANS` offsets only bound how much is read again.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use ramjet_net::body::perm;
use ramjet_net::header::CheckTransactionStateRequestHeader;
use ramjet_store::message::record::{decode_record, AppendStamp, DecodedRecord};
use ramjet_store::message::sys_flag::{transaction_type, TRANSACTION_COMMIT_TYPE};
use ramjet_store::message::PROPERTY_UNIQ_KEY;
use ramjet_store::{GetRequest, GetStatus, MessageData};

use super::ledger::{Claim, Decision, HalfCopy, Ledger};
use super::records::{
    check_body, check_copy, committed, discarded, next_check_times, op_record, origin_of, read_op,
    real_queue,
};
use super::{
    immunity_millis, CHECK_MAX_TIME_TOPIC, HALF_QUEUE_ID, HALF_TOPIC, OP_TOPIC,
    PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS, PROPERTY_PRODUCER_GROUP, SYS_TRANS_GROUP,
};
use crate::error::{BrokerError, BrokerResult};
use crate::mesh::ClientNotice;
use crate::placement::owner_shard;
use crate::shard::BrokerShard;
use crate::shard_request::{
    KeyQuery, LeaderReply, LeaderRequest, OffsetRequest, PullQuery, PutRequest, TagFilter,
};
use crate::shutdown;
use crate::topic_config_manager::now_ms;
use crate::uniq_key::create_uniq_key;

/// Records read from the half or op queue per store read.
const SCAN_BATCH: usize = 64;
const SCAN_BYTES_MAX: usize = 4 * 1024 * 1024;
/// How long an END_TRANSACTION that arrives during the startup rebuild waits for it.
const READY_WAIT_MAX: Duration = Duration::from_secs(10);

/// END_TRANSACTION as the connection's shard decoded it; runs on the half queue's owner.
#[derive(Debug, Clone)]
pub struct EndTransaction {
    pub producer_group: String,
    pub tran_state_table_offset: i64,
    pub commit_log_offset: i64,
    /// Commit or Rollback (never Discard).
    pub decision: Decision,
    pub from_transaction_check: bool,
}

/// Per shard; only the half queue's owner uses it.
pub struct TransactionService {
    ledger: RefCell<Ledger>,
    /// One reader of the half queue (and one claimer) at a time, so the ledger sees every
    /// copy in order and a claim always sees the copy it names.
    scan: glommio::sync::Semaphore,
    ready: Cell<bool>,
    /// Op records whose write failed: (named half offset, origin, decision), retried.
    failed_ops: RefCell<Vec<(u64, u64, Decision)>>,
}

impl Default for TransactionService {
    fn default() -> TransactionService {
        TransactionService {
            ledger: RefCell::new(Ledger::default()),
            scan: glommio::sync::Semaphore::new(1),
            ready: Cell::new(false),
            failed_ops: RefCell::new(Vec::new()),
        }
    }
}

impl TransactionService {
    /// Half messages waiting for a decision (for logs and tests).
    pub fn pending_count(&self) -> usize {
        self.ledger.borrow().pending_count()
    }
}

/// The shard that owns the half queue, and so runs END_TRANSACTION and check-back.
pub fn half_owner(shard_count: usize) -> usize {
    owner_shard(HALF_TOPIC, HALF_QUEUE_ID, shard_count)
}

fn find_failed() -> BrokerError {
    BrokerError::NotFound("Find prepared transaction message failed".into())
}

/// END_TRANSACTION on the half queue's owner.
pub async fn end_transaction(shard: &Rc<BrokerShard>, request: EndTransaction) -> BrokerResult<()> {
    let service = shard.transactions();
    wait_ready(service).await?;
    let physical_offset = u64::try_from(request.commit_log_offset).map_err(|_| find_failed())?;
    let bytes = shard
        .owner()
        .view(physical_offset)
        .await
        .map_err(|_| find_failed())?;
    let half = decode_record(&bytes, false).map_err(|_| find_failed())?;
    if half.message.topic != HALF_TOPIC || half.message.queue_id != HALF_QUEUE_ID {
        return Err(find_failed());
    }
    reject_late_decision(shard, &request, &half)?;
    check_prepare_message(&request, &half)?;
    let named = half.stamp.queue_offset as u64;
    let origin = origin_of(&half);
    let claim = {
        let _permit = service
            .scan
            .acquire_permit(1)
            .await
            .map_err(|e| BrokerError::Internal(format!("transaction scan lock: {e}")))?;
        if named >= service.ledger.borrow().scanned_half {
            catch_up(shard).await;
        }
        service.ledger.borrow_mut().claim(origin, request.decision)
    };
    let copy = match claim {
        Claim::Won(copy) => copy,
        Claim::Decided(Some(other)) if other != request.decision => {
            return Err(BrokerError::IllegalOperation(format!(
                "the transaction of half message {named} was already resolved as {other:?}"
            )))
        }
        Claim::Decided(_) => {
            // Already done (a check-back answer and the producer's own END_TRANSACTION,
            // or a retry): nothing more to store, the message is not delivered twice.
            return Ok(());
        }
        Claim::Unknown => {
            return Err(BrokerError::IllegalOperation(format!(
                "the transaction of half message {named} is no longer pending (already resolved)"
            )))
        }
    };
    if request.decision == Decision::Commit {
        if let Err(error) = put_committed(shard, &half).await {
            service.ledger.borrow_mut().release(origin, copy);
            return Err(error);
        }
    }
    write_op(shard, named, origin, request.decision).await;
    let real_topic = half
        .message
        .properties
        .get(super::PROPERTY_REAL_TOPIC)
        .unwrap_or_default();
    shard
        .ops()
        .record_end_transaction(real_topic, request.decision == Decision::Commit);
    Ok(())
}

async fn wait_ready(service: &TransactionService) -> BrokerResult<()> {
    let deadline = std::time::Instant::now() + READY_WAIT_MAX;
    while !service.ready.get() {
        if std::time::Instant::now() > deadline {
            return Err(BrokerError::Busy);
        }
        glommio::timer::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// `rejectCommitOrRollback`: a producer's own decision that arrives after the message's
/// CHECK_IMMUNITY_TIME_IN_SECONDS is refused; the check-back decides instead.
fn reject_late_decision(
    shard: &BrokerShard,
    request: &EndTransaction,
    half: &DecodedRecord,
) -> BrokerResult<()> {
    if request.from_transaction_check {
        return Ok(());
    }
    let Some(immunity) = half
        .message
        .properties
        .get(PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS)
        .filter(|v| !v.is_empty())
    else {
        return Ok(());
    };
    let timeout = shard.config().transaction_timeout.as_millis() as i64;
    let immunity = immunity_millis(Some(immunity), timeout);
    if now_ms() - half.message.born_timestamp > immunity {
        return Err(BrokerError::IllegalOperation(format!(
            "the producer decided half message {} after its check immunity time; it will be checked",
            half.stamp.queue_offset
        )));
    }
    Ok(())
}

/// `checkPrepareMessage`.
fn check_prepare_message(request: &EndTransaction, half: &DecodedRecord) -> BrokerResult<()> {
    let group = half.message.properties.get(PROPERTY_PRODUCER_GROUP);
    if group != Some(request.producer_group.as_str()) {
        return Err(BrokerError::NotFound("The producer group wrong".into()));
    }
    if half.stamp.queue_offset != request.tran_state_table_offset {
        return Err(BrokerError::NotFound(
            "The transaction state table offset wrong".into(),
        ));
    }
    if half.stamp.physical_offset != request.commit_log_offset {
        return Err(BrokerError::NotFound("The commit log offset wrong".into()));
    }
    Ok(())
}

async fn put_committed(shard: &Rc<BrokerShard>, half: &DecodedRecord) -> BrokerResult<()> {
    let record = committed(half).map_err(|e| BrokerError::Storage(e.to_string()))?;
    let owner = owner_shard(&record.topic, record.queue_id, shard.shard_count());
    let put = PutRequest {
        topic: record.topic.clone(),
        queue_id: record.queue_id,
        records: vec![record],
        batch: false,
    };
    shard.put(owner, put).await.map(|_| ())
}

/// Writes the op record of a decision; a failed write is retried by the check loop (the
/// half offset does not pass the transaction until it is stored).
async fn write_op(shard: &Rc<BrokerShard>, named: u64, origin: u64, decision: Decision) {
    let now = now_ms();
    let record = op_record(
        named,
        origin,
        shard.store_host(),
        now,
        &create_uniq_key(shard.store_host(), now),
    );
    let owner = owner_shard(OP_TOPIC, HALF_QUEUE_ID, shard.shard_count());
    let put = PutRequest {
        topic: OP_TOPIC.to_owned(),
        queue_id: HALF_QUEUE_ID,
        records: vec![record],
        batch: false,
    };
    let service = shard.transactions();
    match shard.put(owner, put).await {
        Ok(ok) => {
            service
                .ledger
                .borrow_mut()
                .on_op(ok.queue_offset, origin, Some(decision));
        }
        Err(error) => {
            tracing::error!(named, origin, ?decision, %error, "transaction op record not stored; will retry");
            service
                .failed_ops
                .borrow_mut()
                .push((named, origin, decision));
        }
    }
}

/// Reads the half queue from where the ledger stopped to its end. Call with `scan` held.
async fn catch_up(shard: &BrokerShard) {
    let service = shard.transactions();
    let store = shard.owner().store();
    loop {
        let from = service.ledger.borrow().scanned_half;
        let accept_all = |_: i64| true;
        let request = GetRequest {
            topic: HALF_TOPIC,
            queue_id: HALF_QUEUE_ID,
            queue_offset: from,
            max_count: SCAN_BATCH,
            max_bytes: SCAN_BYTES_MAX,
            filter: &accept_all,
            zero_copy: false,
        };
        let result = store.get(&request).await;
        for message in &result.messages {
            let MessageData::Bytes(bytes) = &message.data else {
                continue;
            };
            match decode_record(bytes, false) {
                Ok(half) => {
                    let copy = HalfCopy {
                        queue_offset: message.queue_offset,
                        physical_offset: message.physical_offset,
                        born_timestamp: half.message.born_timestamp,
                        store_timestamp: half.stamp.store_timestamp,
                    };
                    service.ledger.borrow_mut().on_half(origin_of(&half), copy);
                }
                Err(error) => {
                    tracing::error!(offset = message.queue_offset, %error, "unreadable half message skipped")
                }
            }
        }
        let next = match result.status {
            GetStatus::Found | GetStatus::NoMatchedMessage | GetStatus::OffsetTooSmall => {
                result.next_begin_offset
            }
            _ => from,
        };
        if next <= from {
            return;
        }
        let mut ledger = service.ledger.borrow_mut();
        ledger.scanned_half = ledger.scanned_half.max(next);
    }
}

/// A queue's progress under CID_RMQ_SYS_TRANS, or its first offset when none is stored.
async fn fetch_offset(shard: &Rc<BrokerShard>, topic: &str) -> BrokerResult<u64> {
    let owner = owner_shard(topic, HALF_QUEUE_ID, shard.shard_count());
    let query = OffsetRequest::QueryConsumer {
        group: SYS_TRANS_GROUP.to_owned(),
        topic: topic.to_owned(),
        queue_id: HALF_QUEUE_ID,
        set_zero_if_not_found: Some(false),
    };
    if let Ok(offset) = shard.offset(owner, query).await {
        if offset >= 0 {
            return Ok(offset as u64);
        }
    }
    let min = OffsetRequest::Min {
        topic: topic.to_owned(),
        queue_id: HALF_QUEUE_ID,
    };
    Ok(shard.offset(owner, min).await?.max(0) as u64)
}

async fn commit_offset(shard: &Rc<BrokerShard>, topic: &str, offset: u64) {
    let owner = owner_shard(topic, HALF_QUEUE_ID, shard.shard_count());
    let commit = OffsetRequest::Commit {
        group: SYS_TRANS_GROUP.to_owned(),
        topic: topic.to_owned(),
        queue_id: HALF_QUEUE_ID,
        offset: offset as i64,
    };
    if let Err(error) = shard.offset(owner, commit).await {
        tracing::warn!(topic, offset, %error, "transaction progress not committed");
    }
}

/// Startup: the ledger from the half queue (from its offset) and the op queue (from its
/// offset), then the pending transactions whose commit is already stored (the broker
/// stopped between the committed message and its op record).
async fn rebuild(shard: &Rc<BrokerShard>) -> BrokerResult<()> {
    let service = shard.transactions();
    let _permit = service
        .scan
        .acquire_permit(1)
        .await
        .map_err(|e| BrokerError::Internal(format!("transaction scan lock: {e}")))?;
    let half_offset = fetch_offset(shard, HALF_TOPIC).await?;
    let op_offset = fetch_offset(shard, OP_TOPIC).await?;
    *service.ledger.borrow_mut() = Ledger::new(half_offset, op_offset);
    catch_up(shard).await;
    read_ops(shard, op_offset).await?;
    settle_stored_commits(shard).await;
    let ledger = service.ledger.borrow();
    tracing::info!(
        shard = shard.id(),
        half_offset,
        op_offset,
        pending = ledger.pending_count(),
        "transactions rebuilt"
    );
    Ok(())
}

/// Reads the op queue from `from` to its end into the ledger.
async fn read_ops(shard: &Rc<BrokerShard>, from: u64) -> BrokerResult<()> {
    let owner = owner_shard(OP_TOPIC, HALF_QUEUE_ID, shard.shard_count());
    let mut offset = from;
    loop {
        let query = PullQuery {
            group: SYS_TRANS_GROUP.to_owned(),
            topic: OP_TOPIC.to_owned(),
            queue_id: HALF_QUEUE_ID,
            queue_offset: offset,
            max_count: SCAN_BATCH,
            max_bytes: SCAN_BYTES_MAX,
            filter: TagFilter {
                match_all: true,
                codes: Vec::new(),
            },
            selector: None,
            commit_offset: None,
            hold: None,
        };
        let answer = shard.pull(owner, query).await?;
        let joined = answer.body.concat();
        let mut body = &joined[..];
        while !body.is_empty() {
            let op = decode_record(body, false)
                .map_err(|e| BrokerError::Storage(format!("unreadable op record: {e}")))?;
            body = &body[op.total_size.min(body.len())..];
            match read_op(&op) {
                Some((_, origin)) => {
                    shard.transactions().ledger.borrow_mut().on_op(
                        op.stamp.queue_offset as u64,
                        origin,
                        None,
                    );
                }
                None => tracing::error!(
                    offset = op.stamp.queue_offset,
                    "an op record that is not a removal skipped"
                ),
            }
        }
        let next = match answer.status {
            GetStatus::Found | GetStatus::NoMatchedMessage | GetStatus::OffsetTooSmall => {
                answer.next_begin_offset
            }
            _ => offset,
        };
        if next <= offset {
            let mut ledger = shard.transactions().ledger.borrow_mut();
            ledger.next_op = ledger.next_op.max(answer.max_offset);
            return Ok(());
        }
        offset = next;
    }
}

/// A pending half message whose committed message is already on its real queue (found
/// by UNIQ_KEY in the index, typed COMMIT) is decided: only its op record is missing.
async fn settle_stored_commits(shard: &Rc<BrokerShard>) {
    let pending: Vec<(u64, HalfCopy)> = shard.transactions().ledger.borrow().pending().collect();
    for (origin, copy) in pending {
        let Some(half) = read_half(shard, copy).await else {
            continue;
        };
        let Ok((topic, _)) = real_queue(&half.message) else {
            continue;
        };
        let Some(key) = half.message.properties.get(PROPERTY_UNIQ_KEY) else {
            continue;
        };
        let query = KeyQuery {
            topic,
            key: key.to_owned(),
            max_count: 32,
            begin_timestamp: 0,
            end_timestamp: i64::MAX,
        };
        let Ok(parts) = shard.query_by_key(query).await else {
            continue;
        };
        let stored = parts.iter().flat_map(|p| &p.messages).any(|bytes| {
            decode_record(bytes, false).is_ok_and(|found| {
                transaction_type(found.message.sys_flag) == TRANSACTION_COMMIT_TYPE
                    && found.message.properties.get(PROPERTY_UNIQ_KEY) == Some(key)
            })
        });
        if !stored {
            continue;
        }
        let claim = shard
            .transactions()
            .ledger
            .borrow_mut()
            .claim(origin, Decision::Commit);
        if let Claim::Won(copy) = claim {
            tracing::warn!(
                origin,
                "a committed transaction had no op record; writing it now"
            );
            write_op(shard, copy.queue_offset, origin, Decision::Commit).await;
        }
    }
}

async fn read_half(shard: &BrokerShard, copy: HalfCopy) -> Option<DecodedRecord> {
    let bytes = shard.owner().view(copy.physical_offset).await.ok()?;
    decode_record(&bytes, false)
        .inspect_err(
            |error| tracing::error!(offset = copy.queue_offset, %error, "unreadable half message"),
        )
        .ok()
}

/// The check-back loop of the half queue's owner (no-op on other shards): rebuild, then
/// every transactionCheckInterval a check pass.
pub async fn check_loop(shard: Rc<BrokerShard>) {
    if shard.id() != half_owner(shard.shard_count()) {
        return;
    }
    while let Err(error) = rebuild(&shard).await {
        tracing::error!(%error, "transaction rebuild failed; retrying");
        glommio::timer::sleep(Duration::from_secs(1)).await;
        if shutdown::requested() {
            return;
        }
    }
    shard.transactions().ready.set(true);
    while !shutdown::requested() {
        glommio::timer::sleep(shard.config().transaction_check_interval).await;
        check_pass(&shard).await;
    }
}

/// One pass (`TransactionalMessageServiceImpl.check`): undecided half messages older than
/// their immunity time are re-appended with one more check and their producer group is
/// asked; those checked transactionCheckMax times are discarded.
async fn check_pass(shard: &Rc<BrokerShard>) {
    let service = shard.transactions();
    let start = now_ms();
    if let Ok(_permit) = service.scan.acquire_permit(1).await {
        catch_up(shard).await;
    }
    let failed: Vec<_> = service.failed_ops.borrow_mut().drain(..).collect();
    for (named, origin, decision) in failed {
        write_op(shard, named, origin, decision).await;
    }
    let config = shard.config();
    let timeout = config.transaction_timeout.as_millis() as i64;
    let check_max = config.transaction_check_max;
    let candidates: Vec<(u64, HalfCopy)> = service.ledger.borrow().pending().collect();
    for (origin, copy) in candidates {
        if !service.ledger.borrow().is_pending(origin) || copy.store_timestamp >= start {
            continue;
        }
        let Some(half) = read_half(shard, copy).await else {
            forget_expired(shard, origin, copy).await;
            continue;
        };
        let immunity = immunity_millis(
            half.message
                .properties
                .get(PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS),
            timeout,
        );
        let age = now_ms() - half.message.born_timestamp;
        if (0..=immunity).contains(&age) {
            continue;
        }
        match next_check_times(&half.message, check_max) {
            None => discard(shard, origin, &half).await,
            Some(times) => check_back(shard, origin, &half, times).await,
        }
    }
    let (half_offset, op_offset) = {
        let mut ledger = service.ledger.borrow_mut();
        (ledger.half_progress(), ledger.advance())
    };
    commit_offset(shard, HALF_TOPIC, half_offset).await;
    commit_offset(shard, OP_TOPIC, op_offset).await;
}

/// `needSkip`: a half message whose CommitLog file retention removed can never be
/// committed; its transaction is closed with an op record so the offsets move on.
async fn forget_expired(shard: &Rc<BrokerShard>, origin: u64, copy: HalfCopy) {
    let (min_offset, _) = shard.owner().store().commit_log_bounds();
    if copy.physical_offset >= min_offset {
        return; // Unreadable for another reason; logged by read_half.
    }
    let claim = shard
        .transactions()
        .ledger
        .borrow_mut()
        .claim(origin, Decision::Discard);
    if let Claim::Won(copy) = claim {
        tracing::warn!(
            origin,
            "a half message outlived its CommitLog file (fileReservedTime); transaction closed"
        );
        write_op(shard, copy.queue_offset, origin, Decision::Discard).await;
    }
}

/// `resolveDiscardMsg`: checked too often; kept in TRANS_CHECK_MAX_TIME_TOPIC, decided.
async fn discard(shard: &Rc<BrokerShard>, origin: u64, half: &DecodedRecord) {
    let claim = shard
        .transactions()
        .ledger
        .borrow_mut()
        .claim(origin, Decision::Discard);
    let Claim::Won(copy) = claim else {
        return;
    };
    tracing::error!(
        origin,
        real_topic = ?half.message.properties.get(super::PROPERTY_REAL_TOPIC),
        "a half message was checked too many times; discarded to {CHECK_MAX_TIME_TOPIC}"
    );
    let ensure = LeaderRequest::EnsureGroupTopic {
        topic: CHECK_MAX_TIME_TOPIC.to_owned(),
        queue_nums: 1,
        perm: perm::READ | perm::WRITE,
    };
    if let Err(error) = shard.leader_call(ensure).await {
        tracing::warn!(%error, "{CHECK_MAX_TIME_TOPIC} not created");
    }
    let record = discarded(half);
    let owner = owner_shard(CHECK_MAX_TIME_TOPIC, 0, shard.shard_count());
    let put = PutRequest {
        topic: CHECK_MAX_TIME_TOPIC.to_owned(),
        queue_id: 0,
        records: vec![record],
        batch: false,
    };
    if let Err(error) = shard.put(owner, put).await {
        tracing::error!(origin, %error, "discarded half message not stored; will retry");
        shard
            .transactions()
            .ledger
            .borrow_mut()
            .release(origin, copy);
        return;
    }
    write_op(
        shard,
        half.stamp.queue_offset as u64,
        origin,
        Decision::Discard,
    )
    .await;
}

/// Re-appends the half message with its check count, then asks a producer of its group.
async fn check_back(shard: &Rc<BrokerShard>, origin: u64, half: &DecodedRecord, times: i32) {
    let record = check_copy(half, origin, times);
    let put = PutRequest {
        topic: HALF_TOPIC.to_owned(),
        queue_id: HALF_QUEUE_ID,
        records: vec![record.clone()],
        batch: false,
    };
    let ok = match shard.put(shard.id(), put).await {
        Ok(ok) => ok,
        Err(error) => {
            tracing::error!(origin, %error, "half message not re-appended for its check");
            return;
        }
    };
    let copy = HalfCopy {
        queue_offset: ok.queue_offset,
        physical_offset: ok.physical_offset,
        born_timestamp: record.born_timestamp,
        store_timestamp: ok.store_timestamp,
    };
    let service = shard.transactions();
    service.ledger.borrow_mut().on_half(origin, copy);
    if !service.ledger.borrow().is_pending(origin) {
        return; // Decided while the copy was written.
    }
    let stamp = AppendStamp {
        queue_offset: ok.queue_offset as i64,
        physical_offset: ok.physical_offset as i64,
        store_timestamp: ok.store_timestamp,
    };
    let body = match check_body(&record, stamp) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(origin, %error, "check message not built");
            return;
        }
    };
    let Some(group) = record.properties.get(PROPERTY_PRODUCER_GROUP) else {
        tracing::warn!(
            origin,
            "half message without a producer group; cannot check"
        );
        return;
    };
    let channel = match shard
        .leader_call(LeaderRequest::ProducerChannel {
            group: group.to_owned(),
        })
        .await
    {
        Ok(LeaderReply::Channel(Some(channel))) => channel,
        Ok(_) => {
            tracing::warn!(group, "Check transaction failed, channel is null");
            return;
        }
        Err(error) => {
            tracing::warn!(group, %error, "producer channel lookup failed");
            return;
        }
    };
    let uniq = record.properties.get(PROPERTY_UNIQ_KEY).map(str::to_owned);
    let header = CheckTransactionStateRequestHeader {
        topic: Some(HALF_TOPIC.to_owned()),
        tran_state_table_offset: ok.queue_offset as i64,
        commit_log_offset: ok.physical_offset as i64,
        msg_id: uniq.clone(),
        transaction_id: uniq,
        offset_msg_id: Some(ok.msg_id.clone()),
        broker_name: Some(shard.config().broker_name.clone()),
    };
    tracing::debug!(origin, times, group, "CHECK_TRANSACTION_STATE");
    shard
        .connections()
        .notify(
            channel,
            ClientNotice::CheckTransactionState { header, body },
        )
        .await;
}
