//! The read side of [`MessageStore`]: pulls by queue offset (`getMessage`), lookups by
//! time, key and physical offset.

mod chunk_set;

use bytes::Bytes;
use chunk_set::ChunkSet;

use crate::consume_queue::{CqUnit, CQ_UNIT_BYTES};
use crate::message::record::store_timestamp_of;
use crate::message::sys_flag::{BORNHOST_V6_FLAG, STOREHOSTADDRESS_V6_FLAG};
use crate::message::{MESSAGE_MAGIC_CODE_V1, MESSAGE_MAGIC_CODE_V2};
use crate::message_store::MessageStore;
use crate::storage::Storage;

/// `GetMessageStatus`, the subset a master's local store produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetStatus {
    Found,
    /// Units were scanned but none passed the filter (or their records are gone).
    NoMatchedMessage,
    /// The requested offset is the next one to be written: the consumer is caught up.
    OffsetOverflowOne,
    OffsetOverflowBadly,
    OffsetTooSmall,
    NoMessageInQueue,
}

/// A record's bytes.
#[derive(Clone, Debug)]
pub enum MessageData {
    /// A copy of its own (`zero_copy: false`).
    Bytes(Vec<u8>),
    /// `buf[at..at + size]`: a slice of a read chunk (or of one copy out of the write
    /// buffers) shared with the other records read with it (`zero_copy: true`). Records
    /// adjacent in the same buffer become one part of the response ([`body_parts`]).
    Shared { buf: Bytes, at: usize },
}

impl GetMessage {
    /// The record's bytes, unless it is a file range.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.data {
            MessageData::Bytes(bytes) => Some(bytes),
            MessageData::Shared { buf, at } => buf.get(*at..*at + self.size),
        }
    }
}

/// The pull response body as parts: runs of records adjacent in the same shared buffer
/// are one `Bytes` slice of it (no copy), owned copies move in as they are. `None` if a
/// message is a file range.
pub fn body_parts(messages: Vec<GetMessage>) -> Option<Vec<Bytes>> {
    let mut parts: Vec<Bytes> = Vec::new();
    // The run being built: its buffer and byte range.
    let mut run: Option<(Bytes, usize, usize)> = None;
    for message in messages {
        match message.data {
            MessageData::Shared { buf, at } => {
                let end = at.checked_add(message.size)?;
                buf.get(at..end)?;
                if let Some((run_buf, _, run_end)) = &mut run {
                    let same = run_buf.as_ptr() == buf.as_ptr() && run_buf.len() == buf.len();
                    if same && *run_end == at {
                        *run_end = end;
                        continue;
                    }
                }
                if let Some((run_buf, start, end)) = run.replace((buf, at, end)) {
                    parts.push(run_buf.slice(start..end));
                }
            }
            MessageData::Bytes(bytes) => {
                if let Some((run_buf, start, end)) = run.take() {
                    parts.push(run_buf.slice(start..end));
                }
                parts.push(Bytes::from(bytes));
            }
        }
    }
    if let Some((run_buf, start, end)) = run {
        parts.push(run_buf.slice(start..end));
    }
    Some(parts)
}

#[derive(Clone, Debug)]
pub struct GetMessage {
    pub queue_offset: u64,
    pub physical_offset: u64,
    pub size: usize,
    pub data: MessageData,
}

#[derive(Clone, Debug)]
pub struct GetResult {
    pub status: GetStatus,
    pub messages: Vec<GetMessage>,
    pub next_begin_offset: u64,
    pub min_offset: u64,
    pub max_offset: u64,
    /// Units scanned that do not describe the record they point at (storage damage).
    /// They are skipped, as Java skips a unit whose record is gone, so a consumer moves
    /// past them; recovery from an earlier point rebuilds the queue.
    pub damaged_units: Vec<DamagedUnit>,
    /// How far the CommitLog's end was past the last ConsumeQueue unit this read looked at
    /// (Java's `maxOffsetPy - maxPhyOffsetPulling`), in bytes: how much newer data sits
    /// between this consumer and the tail. `None` when no unit was looked at. The broker
    /// compares it with `accessMessageInMemoryMaxRatio` of memory to suggest reading from a
    /// slave.
    pub fall_behind_bytes: Option<u64>,
}

/// A ConsumeQueue unit whose size, offset or queue disagrees with the CommitLog record
/// it points at: the queue file (or the record) was damaged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedUnit {
    pub queue_offset: u64,
    pub commit_log_offset: i64,
    pub unit_size: i32,
    pub reason: String,
}

/// A pull: queue, start offset, limits, and the tag filter over ConsumeQueue tag codes.
pub struct GetRequest<'a> {
    pub topic: &'a str,
    pub queue_id: i32,
    pub queue_offset: u64,
    pub max_count: usize,
    pub max_bytes: usize,
    pub filter: &'a dyn Fn(i64) -> bool,
    /// Return records as shared slices of the read buffers ([`MessageData::Shared`])
    /// instead of copies of their own.
    pub zero_copy: bool,
}

/// A record-level filter: sees a record's PROPERTIES field, answers whether to serve it.
pub type RecordFilter<'a> = dyn Fn(&[u8]) -> bool + 'a;

pub struct QueryResult {
    pub messages: Vec<Vec<u8>>,
    pub index_last_update_timestamp: i64,
    pub index_last_update_phy_offset: i64,
}

impl<S: Storage> MessageStore<S> {
    /// `DefaultMessageStore.getMessage`.
    pub async fn get(&self, request: &GetRequest<'_>) -> GetResult {
        self.get_filtered(request, None).await
    }

    /// `getMessage` with a `MessageFilter.isMatchedByCommitLog` step: `record_filter` sees
    /// each candidate's PROPERTIES field (in place, undecoded) after the tag filter, and a
    /// record it refuses is skipped like a tag mismatch: it counts toward neither
    /// `max_count` nor `max_bytes`, and `next_begin_offset` moves past it.
    pub async fn get_filtered(
        &self,
        request: &GetRequest<'_>,
        record_filter: Option<&RecordFilter<'_>>,
    ) -> GetResult {
        let (min_offset, max_offset) = self.queue_bounds(request.topic, request.queue_id);
        let offset = request.queue_offset;
        let mut result = GetResult {
            status: GetStatus::NoMatchedMessage,
            messages: Vec::new(),
            next_begin_offset: offset,
            min_offset,
            max_offset,
            damaged_units: Vec::new(),
            fall_behind_bytes: None,
        };
        if max_offset == 0 {
            result.status = GetStatus::NoMessageInQueue;
            result.next_begin_offset = 0;
            return result;
        } else if offset < min_offset {
            result.status = GetStatus::OffsetTooSmall;
            result.next_begin_offset = min_offset;
            return result;
        } else if offset == max_offset {
            result.status = GetStatus::OffsetOverflowOne;
            return result;
        } else if offset > max_offset {
            result.status = GetStatus::OffsetOverflowBadly;
            result.next_begin_offset = if min_offset == 0 {
                min_offset
            } else {
                max_offset
            };
            return result;
        }
        let commit_log = &self.inner.commit_log;
        // RocketMQ 5.x scans units while `(unit offset - offset) * 20 <= maxFilterMessageSize`
        // (at least `max_count` units), and never past the ConsumeQueue file holding `offset`;
        // `next_begin_offset` is the first unit not scanned.
        let scan_bytes_max = self
            .inner
            .config
            .max_filter_message_size
            .max(request.max_count.saturating_mul(CQ_UNIT_BYTES as usize));
        let file_end = {
            let dispatcher = self.inner.dispatcher.borrow();
            dispatcher
                .queue(request.topic, request.queue_id)
                .map_or(max_offset, |queue| queue.file_end_offset(offset))
        };
        let scan_end = max_offset
            .min(file_end)
            .min(offset + scan_bytes_max as u64 / CQ_UNIT_BYTES + 1);
        // Start every chunk read this batch will need at once (they load concurrently),
        // then walk the units; the walk below decides what is served, exactly as before.
        let mut chunks = ChunkSet::default();
        let planned = self.start_batch_loads(request, offset, scan_end);
        let mut bytes_total = 0;
        let mut queue_offset = offset;
        let commit_log_end = commit_log.max_offset();
        while queue_offset < scan_end {
            let unit = match planned.get((queue_offset - offset) as usize) {
                Some(unit) => Some(*unit),
                // Past the plan: a record filter refused some of it.
                None => {
                    let dispatcher = self.inner.dispatcher.borrow();
                    dispatcher
                        .queue(request.topic, request.queue_id)
                        .and_then(|queue| queue.get(queue_offset))
                }
            };
            let Some(unit) = unit else { break };
            let size = unit.size as usize;
            let physical_offset = unit.commit_log_offset as u64;
            // Java counts every unit it looks at, the one that ends a full batch too.
            result.fall_behind_bytes = Some(commit_log_end.saturating_sub(physical_offset));
            // A damaged size must neither decide how much is read nor end the pull.
            if !unit.is_blank() && size > self.inner.config.record_size_max() {
                let reason = format!("size {} is past the largest record", unit.size);
                self.damaged_unit(request, &mut result, queue_offset, unit, reason);
                queue_offset += 1;
                continue;
            }
            // `isTheBatchFull`: never full before the first message.
            let batch_full = !result.messages.is_empty()
                && (result.messages.len() + 1 > request.max_count
                    || bytes_total + size > request.max_bytes);
            if batch_full {
                break;
            }
            queue_offset += 1;
            if unit.is_blank()
                || physical_offset < commit_log.min_offset()
                || !(request.filter)(unit.tags_code)
            {
                continue;
            }
            let record = self.record_bytes(&mut chunks, physical_offset, size).await;
            let Some((buf, at)) = record else { continue }; // Deleted meanwhile by retention.
            let bytes = &buf[at..at + size];
            // The unit and the record's own header must agree, or the unit points at the
            // wrong place and we would serve garbage.
            if let Err(reason) = unit_matches_record(bytes, unit, queue_offset - 1) {
                self.damaged_unit(request, &mut result, queue_offset - 1, unit, reason);
                continue;
            }
            if let Some(filter) = record_filter {
                // A record whose fields do not add up has no properties to match.
                if !record_properties(bytes).is_some_and(filter) {
                    continue;
                }
            }
            let data = if request.zero_copy {
                MessageData::Shared { buf, at }
            } else {
                MessageData::Bytes(bytes.to_vec())
            };
            bytes_total += size;
            result.messages.push(GetMessage {
                queue_offset: queue_offset - 1,
                physical_offset,
                size,
                data,
            });
        }
        // A reader served from the device is catching up: have its next chunks ready.
        if let Some(last) = chunks.last_start() {
            commit_log.read_ahead(last);
        }
        result.next_begin_offset = queue_offset;
        if !result.messages.is_empty() {
            result.status = GetStatus::Found;
        }
        result
    }

    /// The ConsumeQueue scan ahead of the walk: the records the batch takes if all pass
    /// the record filter, and the loads of the chunks holding those that are no longer in
    /// the write buffers. Loads run concurrently; the walk waits for each when it gets
    /// there. A record filter that refuses some makes the walk go further; it then loads
    /// what it needs one chunk at a time (with read-ahead).
    ///
    /// Returns the units it read, from `offset` on, so that the walk reads each of them
    /// once more from memory instead of looking the queue up again per unit.
    fn start_batch_loads(
        &self,
        request: &GetRequest<'_>,
        offset: u64,
        scan_end: u64,
    ) -> Vec<CqUnit> {
        let commit_log = &self.inner.commit_log;
        let mut wanted: Vec<u64> = Vec::new();
        let mut units = Vec::with_capacity(request.max_count.min(1024) + 1);
        let (mut count, mut bytes) = (0usize, 0usize);
        {
            let dispatcher = self.inner.dispatcher.borrow();
            let Some(queue) = dispatcher.queue(request.topic, request.queue_id) else {
                return units;
            };
            for queue_offset in offset..scan_end {
                let Some(unit) = queue.get(queue_offset) else {
                    break;
                };
                units.push(unit);
                let size = unit.size as usize;
                if unit.is_blank() || size > self.inner.config.record_size_max() {
                    continue;
                }
                if count > 0 && (count + 1 > request.max_count || bytes + size > request.max_bytes)
                {
                    break;
                }
                if !(request.filter)(unit.tags_code) {
                    continue;
                }
                let physical_offset = unit.commit_log_offset as u64;
                let end = physical_offset + size as u64;
                if !commit_log.readable(physical_offset, end) {
                    continue;
                }
                count += 1;
                bytes += size;
                if commit_log.tail_bytes_held(physical_offset, size) {
                    continue;
                }
                for start in commit_log.chunk_starts(physical_offset, end) {
                    if wanted.last() != Some(&start) && !wanted.contains(&start) {
                        wanted.push(start);
                    }
                }
            }
        }
        for start in wanted {
            commit_log.start_load(start);
        }
        units
    }

    /// A record's bytes as `(buffer, at)`: copied from the write buffers, or a slice of
    /// the chunk holding it (a record across two chunks is copied out of both). `None`
    /// when it is gone (retention) or cannot be read.
    async fn record_bytes(
        &self,
        chunks: &mut ChunkSet,
        offset: u64,
        size: usize,
    ) -> Option<(Bytes, usize)> {
        let commit_log = &self.inner.commit_log;
        let end = offset + size as u64;
        if !commit_log.readable(offset, end) {
            return None;
        }
        if let Some(bytes) = commit_log.tail_bytes(offset, size) {
            return Some((bytes, 0));
        }
        for start in commit_log.chunk_starts(offset, end) {
            let need_end = commit_log.chunk_span(start).1.min(end);
            if chunks.covering(start, need_end).is_none() {
                match commit_log.chunk(start, need_end).await {
                    Ok(chunk) => chunks.add(chunk),
                    Err(error) => {
                        tracing::debug!(offset, %error, "CommitLog chunk read failed");
                        return None;
                    }
                }
            }
        }
        chunks.record(offset, end)
    }

    /// Notes a damaged unit in the result, and logs it the first time a queue has one
    /// (a consumer retrying past it must not flood the log).
    fn damaged_unit(
        &self,
        request: &GetRequest<'_>,
        result: &mut GetResult,
        queue_offset: u64,
        unit: CqUnit,
        reason: String,
    ) {
        let dispatcher = self.inner.dispatcher.borrow();
        let queue = dispatcher.queue(request.topic, request.queue_id);
        if queue.is_some_and(|queue| !queue.damage_logged.replace(true)) {
            tracing::error!(
                topic = request.topic,
                queue_id = request.queue_id,
                queue_offset,
                commit_log_offset = unit.commit_log_offset,
                unit_size = unit.size,
                reason,
                "ConsumeQueue unit does not match its CommitLog record; skipping it \
                 (reopen the store to rebuild the queue; later damage here is not logged)"
            );
        }
        result.damaged_units.push(DamagedUnit {
            queue_offset,
            commit_log_offset: unit.commit_log_offset,
            unit_size: unit.size,
            reason,
        });
    }

    /// The CommitLog read cache's counters (chunk loads, read-ahead, hits).
    pub fn read_stats(&self) -> crate::ReadStats {
        self.inner.commit_log.read_stats()
    }

    /// `(min, max)` queue offsets; `(0, 0)` for an unknown queue.
    pub fn queue_bounds(&self, topic: &str, queue_id: i32) -> (u64, u64) {
        let dispatcher = self.inner.dispatcher.borrow();
        dispatcher
            .queue(topic, queue_id)
            .map_or((0, 0), |queue| (queue.min_offset(), queue.max_offset()))
    }

    pub fn max_offset_in_queue(&self, topic: &str, queue_id: i32) -> u64 {
        self.queue_bounds(topic, queue_id).1
    }

    pub fn min_offset_in_queue(&self, topic: &str, queue_id: i32) -> u64 {
        self.queue_bounds(topic, queue_id).0
    }

    /// CommitLog bounds: `[min, max)` physical offsets that can be read.
    pub fn commit_log_bounds(&self) -> (u64, u64) {
        (
            self.inner.commit_log.min_offset(),
            self.inner.commit_log.max_offset(),
        )
    }

    async fn store_timestamp_at(
        &self,
        queue_offset: u64,
        topic: &str,
        queue_id: i32,
    ) -> Option<i64> {
        let unit = {
            let dispatcher = self.inner.dispatcher.borrow();
            dispatcher.queue(topic, queue_id)?.get(queue_offset)?
        };
        if unit.is_blank() {
            return None;
        }
        let head = self
            .inner
            .commit_log
            .read(unit.commit_log_offset as u64, unit.size.min(128) as usize)
            .await;
        store_timestamp_of(&head.ok()?)
    }

    /// `getOffsetInQueueByTime`: the first queue offset stored at or after `timestamp`;
    /// the max offset if every message is older.
    pub async fn search_offset_by_timestamp(
        &self,
        topic: &str,
        queue_id: i32,
        timestamp: i64,
    ) -> u64 {
        let (mut low, mut high) = self.queue_bounds(topic, queue_id);
        while low < high {
            let middle = low + (high - low) / 2;
            match self.store_timestamp_at(middle, topic, queue_id).await {
                Some(stored) if stored >= timestamp => high = middle,
                _ => low = middle + 1,
            }
        }
        low
    }

    /// Store time of the oldest message still in the queue (`getEarliestMessageTime`).
    pub async fn earliest_msg_store_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        let (min, max) = self.queue_bounds(topic, queue_id);
        for queue_offset in min..max.min(min + 64) {
            if let Some(timestamp) = self.store_timestamp_at(queue_offset, topic, queue_id).await {
                return Some(timestamp);
            }
        }
        None
    }

    /// `queryMessage`: records indexed under `topic#key` stored within `[begin, end]`.
    /// Hashes collide, so callers re-check KEYS / UNIQ_KEY, as Java clients do.
    pub async fn query_by_key(
        &self,
        topic: &str,
        key: &str,
        max_count: usize,
        begin: i64,
        end: i64,
    ) -> QueryResult {
        let max_count = max_count.min(self.inner.config.max_msgs_num_batch);
        let (offsets, (timestamp, phy_offset)) = {
            let dispatcher = self.inner.dispatcher.borrow();
            match &dispatcher.index {
                Some(index) => (
                    index.query(topic, key, max_count, begin, end),
                    index.last_update(),
                ),
                None => (Vec::new(), (0, 0)),
            }
        };
        let mut messages = Vec::new();
        for offset in offsets {
            let size_max = self.inner.config.record_size_max();
            let record = self.inner.commit_log.read_record(offset as u64, size_max);
            if let Ok(bytes) = record.await {
                messages.push(bytes);
            }
        }
        QueryResult {
            messages,
            index_last_update_timestamp: timestamp,
            index_last_update_phy_offset: phy_offset,
        }
    }

    /// The record at a CommitLog offset (`lookMessageByOffset`, viewMessageById). None
    /// unless a whole, intact message record starts exactly there: the offset is the
    /// client's, so it may point anywhere.
    pub async fn read_by_physical_offset(&self, offset: u64) -> Option<Vec<u8>> {
        let size_max = self.inner.config.record_size_max();
        let record = self.inner.commit_log.read_record(offset, size_max).await;
        record
            .inspect_err(|error| tracing::debug!(offset, %error, "read by physical offset"))
            .ok()
    }
}

/// The PROPERTIES field of an encoded message record, found by skipping the fields before
/// it (their lengths come from SYSFLAG, BODYLENGTH and TOPICLENGTH); `None` when the
/// declared lengths run past the record. Nothing is decoded or copied.
pub fn record_properties(bytes: &[u8]) -> Option<&[u8]> {
    let total = usize::try_from(i32::from_be_bytes(bytes.get(..4)?.try_into().ok()?)).ok()?;
    let record = bytes.get(..total)?;
    let i32_at = |at: usize| -> Option<i32> {
        Some(i32::from_be_bytes(record.get(at..at + 4)?.try_into().ok()?))
    };
    let magic = i32_at(4)?;
    let sys_flag = i32_at(36)?;
    let host_len = |v6: bool| if v6 { 20 } else { 8 };
    // 48 = through BORNTIMESTAMP; then BORNHOST, STORETIMESTAMP, STOREHOST,
    // RECONSUMETIMES and PREPAREDTRANSACTIONOFFSET.
    let mut at = 48
        + host_len(sys_flag & BORNHOST_V6_FLAG != 0)
        + 8
        + host_len(sys_flag & STOREHOSTADDRESS_V6_FLAG != 0)
        + 4
        + 8;
    let body_len = usize::try_from(i32_at(at)?).ok()?;
    at = at.checked_add(4 + body_len)?;
    let topic_len = if magic == MESSAGE_MAGIC_CODE_V1 {
        usize::from(*record.get(at)?) + 1
    } else {
        usize::try_from(i16::from_be_bytes(record.get(at..at + 2)?.try_into().ok()?)).ok()? + 2
    };
    at = at.checked_add(topic_len)?;
    let properties_len =
        usize::try_from(i16::from_be_bytes(record.get(at..at + 2)?.try_into().ok()?)).ok()?;
    record.get(at + 2..at + 2 + properties_len)
}

/// Checks the header of the record a unit points at: TOTALSIZE, MAGIC, QUEUEOFFSET and
/// PHYSICALOFFSET (the fixed fields at bytes 0, 4, 20 and 28).
fn unit_matches_record(bytes: &[u8], unit: CqUnit, queue_offset: u64) -> Result<(), String> {
    let Some(head) = bytes.get(..36) else {
        return Err(format!("record of {} bytes is too short", bytes.len()));
    };
    let field_i32 = |at: usize| i32::from_be_bytes(head[at..at + 4].try_into().unwrap());
    let field_i64 = |at: usize| i64::from_be_bytes(head[at..at + 8].try_into().unwrap());
    let magic = field_i32(4);
    if magic != MESSAGE_MAGIC_CODE_V1 && magic != MESSAGE_MAGIC_CODE_V2 {
        return Err(format!("no message there (magic {magic:#010x})"));
    }
    if field_i32(0) != unit.size {
        return Err(format!("record TOTALSIZE is {}", field_i32(0)));
    }
    if field_i64(28) != unit.commit_log_offset {
        return Err(format!("record PHYSICALOFFSET is {}", field_i64(28)));
    }
    if field_i64(20) != queue_offset as i64 {
        return Err(format!("record QUEUEOFFSET is {}", field_i64(20)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::record::AppendStamp;
    use crate::MessageRecord;

    fn encoded(topic: &str, born: &str, store: &str, props: &[(&str, &str)]) -> Vec<u8> {
        let record = MessageRecord {
            topic: topic.to_owned(),
            queue_id: 1,
            flag: 0,
            body: bytes::Bytes::from_static(b"body bytes"),
            properties: props.iter().copied().collect(),
            sys_flag: 0,
            born_timestamp: 1,
            born_host: born.parse().unwrap(),
            store_host: store.parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        };
        let stamp = AppendStamp {
            queue_offset: 0,
            physical_offset: 0,
            store_timestamp: 2,
        };
        record.prepare().unwrap().encode_to_vec(stamp)
    }

    #[test]
    fn record_properties_finds_the_field_in_every_layout() {
        let props = [("a", "1"), ("b", "x")];
        let expected = b"a\x011\x02b\x01x\x02".as_slice();
        let long_topic = "T".repeat(300); // past V1's one-byte topic length
        for (topic, born, store) in [
            ("TopicTest", "10.0.0.1:5000", "10.0.0.2:10911"),
            ("TopicTest", "[::1]:5000", "10.0.0.2:10911"),
            ("TopicTest", "10.0.0.1:5000", "[::2]:10911"),
            (long_topic.as_str(), "[::1]:5000", "[::2]:10911"),
        ] {
            let mut bytes = encoded(topic, born, store, &props);
            assert_eq!(
                record_properties(&bytes),
                Some(expected),
                "{topic} {born} {store}"
            );
            // Followed by other bytes (a read may return more than one record).
            bytes.extend_from_slice(&[0xAB; 64]);
            assert_eq!(record_properties(&bytes), Some(expected));
        }
        let bytes = encoded("TopicTest", "10.0.0.1:5000", "10.0.0.2:10911", &[]);
        assert_eq!(record_properties(&bytes), Some(b"".as_slice()));
    }

    #[test]
    fn record_properties_refuses_lengths_past_the_record() {
        let bytes = encoded(
            "TopicTest",
            "10.0.0.1:5000",
            "10.0.0.2:10911",
            &[("a", "1")],
        );
        for cut in 0..bytes.len() {
            assert_eq!(record_properties(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut lying = bytes.clone();
        let body_len_at = 48 + 8 + 8 + 8 + 4 + 8;
        lying[body_len_at..body_len_at + 4].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(record_properties(&lying), None);
        lying[body_len_at..body_len_at + 4].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(record_properties(&lying), None);
    }
}
