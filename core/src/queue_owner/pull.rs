//! The owner's side of PULL_MESSAGE / LITE_PULL_MESSAGE: read a queue range through the tag
//! filter (and the SQL92 selector, evaluated on each record's properties in place) and,
//! when nothing is there yet, park until an append arrives or the hold ends
//! (long polling, Java's `PullRequestHoldService`).

use std::time::Instant;

use ramjet_filter::RawProperties;
use ramjet_net::code::response;
use ramjet_store::{body_parts, GetRequest, GetResult, RecordFilter};

use super::QueueOwner;
use crate::error::{BrokerError, BrokerResult};
use crate::response_code::for_get;
use crate::shard_request::{PullAnswer, PullQuery};

impl QueueOwner {
    pub async fn pull(&self, query: PullQuery) -> BrokerResult<PullAnswer> {
        self.check_owned(&query.topic, query.queue_id)?;
        if let Some(offset) = query.commit_offset {
            self.offsets
                .borrow_mut()
                .commit(&query.group, &query.topic, query.queue_id, offset);
        }
        let deadline = query.hold.map(|hold| Instant::now() + hold);
        loop {
            let result = self.read(&query).await;
            let caught_up =
                for_get(result.status, query.queue_offset as i64) == response::PULL_NOT_FOUND;
            let Some(deadline) = deadline.filter(|d| caught_up && Instant::now() < *d) else {
                return self.answer(&query, result);
            };
            // Park until an append reaches this queue or the hold time is up. A pull that
            // matched nothing among new messages parks again rather than spinning.
            let Some(wakeup) = self.long_polling.park(&query.topic, query.queue_id) else {
                return self.answer(&query, result);
            };
            let max_offset = self.store.max_offset_in_queue(&query.topic, query.queue_id);
            if max_offset > result.next_begin_offset.max(query.queue_offset) {
                continue; // Something arrived while we were reading.
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let woken = glommio::timer::timeout(remaining, async {
                wakeup.wait().await;
                Ok(())
            })
            .await;
            if woken.is_err() {
                let result = self.read(&query).await;
                return self.answer(&query, result);
            }
        }
    }

    async fn read(&self, query: &PullQuery) -> GetResult {
        let filter = |tags_code: i64| query.filter.accepts(tags_code);
        let request = GetRequest {
            topic: &query.topic,
            queue_id: query.queue_id,
            queue_offset: query.queue_offset,
            max_count: query.max_count,
            max_bytes: query.max_bytes,
            filter: &filter,
            // Records come back as slices of the store's read chunks and go out as the
            // response's parts: the next copy is into the connection's output buffer.
            zero_copy: true,
        };
        // Only TRUE selects: NULL (a missing property) and evaluation errors do not.
        let selector = query.selector.as_deref();
        let sql =
            |properties: &[u8]| selector.is_some_and(|s| s.matches(&RawProperties(properties)));
        let record_filter: Option<&RecordFilter<'_>> = selector.map(|_| &sql as _);
        self.store.get_filtered(&request, record_filter).await
    }

    fn answer(&self, query: &PullQuery, result: GetResult) -> BrokerResult<PullAnswer> {
        self.offsets.borrow_mut().record_pull(
            &query.group,
            &query.topic,
            query.queue_id,
            result.next_begin_offset as i64,
        );
        let message_count = result.messages.len();
        let total: usize = result.messages.iter().map(|m| m.size).sum();
        self.stats
            .record_get(&query.group, &query.topic, message_count, total);
        let body = body_parts(result.messages).ok_or_else(|| {
            BrokerError::Internal("the store returned a file range to a pull".into())
        })?;
        Ok(PullAnswer {
            status: result.status,
            next_begin_offset: result.next_begin_offset,
            min_offset: result.min_offset,
            max_offset: result.max_offset,
            fall_behind_bytes: result.fall_behind_bytes,
            message_count,
            body,
        })
    }
}
