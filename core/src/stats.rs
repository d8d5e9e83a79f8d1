//! Counters behind GET_BROKER_RUNTIME_INFO and mqadmin's brokerStatus.

use std::cell::Cell;

#[derive(Default)]
pub struct ShardStats {
    pub put_messages: Cell<u64>,
    pub put_bytes: Cell<u64>,
    pub get_messages: Cell<u64>,
}

impl ShardStats {
    pub fn record_put(&self, messages: usize, bytes: usize) {
        self.put_messages
            .set(self.put_messages.get() + messages as u64);
        self.put_bytes.set(self.put_bytes.get() + bytes as u64);
    }

    pub fn record_get(&self, messages: usize) {
        self.get_messages
            .set(self.get_messages.get() + messages as u64);
    }
}
