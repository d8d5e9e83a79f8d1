//! `cargo fuzz run frame_decoder`: arbitrary bytes into both frame decoders. See
//! `ramjet_net_fuzz::check_frame` for what must hold.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ramjet_net_fuzz::check_frame(data);
});
