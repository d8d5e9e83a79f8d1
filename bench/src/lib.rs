//! ramjet-bench: `mqbench`, the load generators and store micro-benchmarks.
//!
//! Owns: one module per `mqbench` subcommand (`store_bench` for `mqbench store`), each with
//! its own clap `Args` and a `run` that ends by printing exactly one machine-readable
//! `RESULT ...` line. Must never import: broker internals beyond the public APIs of
//! `ramjet-store` and `ramjet-net`, so a benchmark measures what users get; the one exception
//! is `timer_bench`, which also times the broker's timer wheel (`ramjet_core::timer::wheel`)
//! alone, as `store_bench` times the store.
//!
//! Which core: each benchmark builds its own glommio executor(s) and says where they run.

pub mod codec_bench;
pub mod consume;
pub mod delay_bench;
pub mod histogram;
pub mod hop_bench;
pub mod produce;
pub mod produce_lane;
pub mod rocketmq_client;
pub mod route_bench;
pub mod store_bench;
pub mod timer_bench;
