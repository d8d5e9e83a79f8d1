//! Counters behind GET_BROKER_RUNTIME_INFO and mqadmin's brokerStatus.

use std::cell::Cell;

use ramjet_net::server::Counter;

#[derive(Default)]
pub struct ShardStats {
    pub put_messages: Cell<u64>,
    pub put_bytes: Cell<u64>,
    pub get_messages: Cell<u64>,
    /// Puts answered SYSTEM_BUSY after `waitTimeMillsInSendQueue` with the send queue full
    /// (`ramjetPutsBusySendQueue`).
    pub puts_busy: Counter,
    /// Oneway puts that found the send queue full and waited for room instead of being
    /// dropped (`ramjetOnewayPutsWaitedSendQueue`).
    pub oneway_puts_waited: Counter,
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
