//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

pub mod env;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use ramjet_store::message::decode_record;
use ramjet_store::{GetRequest, GetStatus, MessageData, MessageRecord, MessageStore, Storage};

/// TagA on even queues, TagB on odd ones, and the given KEYS.
pub fn record(topic: &str, queue_id: i32, body: Vec<u8>, keys: &str) -> MessageRecord {
    let tag = if queue_id % 2 == 0 { "TagA" } else { "TagB" };
    env::message(topic, queue_id, body, tag, keys)
}

/// Every record of a queue, in queue order, as stored bytes.
pub async fn read_queue<S: Storage>(
    store: &MessageStore<S>,
    topic: &str,
    queue_id: i32,
) -> Vec<Vec<u8>> {
    let (mut offset, max) = store.queue_bounds(topic, queue_id);
    let mut records = Vec::new();
    while offset < max {
        let result = store
            .get(&GetRequest {
                topic,
                queue_id,
                queue_offset: offset,
                max_count: 32,
                max_bytes: 1 << 20,
                filter: &|_| true,
                zero_copy: false,
            })
            .await;
        assert_eq!(
            result.status,
            GetStatus::Found,
            "queue {topic}/{queue_id} at {offset}"
        );
        for message in result.messages {
            let MessageData::Bytes(bytes) = message.data else {
                panic!("asked for bytes")
            };
            // ConsumeQueue and CommitLog agree on where, what size and which queue.
            let decoded = decode_record(&bytes, true).expect("served record decodes");
            assert_eq!(decoded.stamp.queue_offset as u64, message.queue_offset);
            assert_eq!(
                decoded.stamp.physical_offset as u64,
                message.physical_offset
            );
            assert_eq!(decoded.message.topic, topic);
            assert_eq!(decoded.message.queue_id, queue_id);
            records.push(bytes);
        }
        offset = result.next_begin_offset;
    }
    records
}

/// Polls all futures concurrently (so their appends share group commits).
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

pub fn test_seed() -> u64 {
    let seed = std::env::var("SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("SEED={seed}");
    seed
}

/// A tiny deterministic generator (the tests must replay from a seed alone).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}
