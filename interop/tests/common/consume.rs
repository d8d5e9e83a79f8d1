//! Waiting for a running push consumer to receive messages: the helpers the HTTP API,
//! console, reset-offset and client-call tests share.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::rust_client::{PushConsumer, ReceivedMessage};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A group (or topic) name unique to this run.
pub fn unique(name: &str) -> String {
    format!("{name}_{}_{}", std::process::id(), now_ms() % 1_000_000)
}

/// Body -> times received.
pub fn counts(received: &[ReceivedMessage]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for message in received {
        *counts.entry(message.text()).or_insert(0) += 1;
    }
    counts
}

/// Waits up to `wait` until every body of `bodies` arrived `times` times; fails the test
/// naming `what` and what did arrive otherwise.
pub fn wait_for_times(
    consumer: &PushConsumer,
    bodies: &[String],
    times: usize,
    wait: Duration,
    what: &str,
) {
    let arrived = consumer.wait_until(wait, |received| {
        let counts = counts(received);
        bodies
            .iter()
            .all(|body| counts.get(body).copied().unwrap_or(0) >= times)
    });
    assert!(
        arrived,
        "{what}: not every message arrived {times} times: {:?}",
        counts(&consumer.received())
    );
}
