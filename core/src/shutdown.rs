//! Graceful shutdown on SIGTERM or SIGINT (`mqshutdown`): stop accepting, let in-flight
//! sends finish, flush offsets and the store, write the checkpoint, unregister.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    // Only an atomic store: the one thing that is safe in a signal handler.
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Installs the handlers; call once, before the shards start.
pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Resolves once shutdown has been requested. Polled every 50 ms: signals are rare and a
/// timer keeps the handler trivially safe.
pub async fn wait() {
    while !requested() {
        glommio::timer::sleep(Duration::from_millis(50)).await;
    }
}
