//! Seeded deterministic simulation of the store over `SimStorage`, checked against a
//! model. `SEED=<n> cargo test -p ramjet-store --test sim` replays a failing run.

mod common;

use std::collections::BTreeMap;

use common::{join_all, read_queue, record, test_seed, Rng};
use futures_lite::future::block_on;
use ramjet_store::message::decode_record;
use ramjet_store::{FlushDiskType, MessageStore, PutError, SimFaults, SimStorage, StoreConfig};

const TOPICS: [&str; 3] = ["TopicA", "TopicB", "%RETRY%group"];

/// Write buffers from one to four blocks and two to five of them, picked by the seed:
/// small buffers fill often, so several writes are in flight and complete out of order.
fn config(flush: FlushDiskType, seed: u64) -> StoreConfig {
    let mut config = StoreConfig::new("/store");
    config.mapped_file_size_commit_log = 128 * 1024;
    config.mapped_file_size_consume_queue = 20 * 64;
    config.max_message_size = 8 * 1024;
    config.write_buffer_bytes = 4096 * (1 + (seed % 4) as usize);
    config.write_buffer_count_max = 2 + (seed / 4 % 4) as usize;
    config.tail_cache_bytes = 32 * 1024;
    config.max_hash_slot_num = 64;
    config.max_index_num = 200;
    config.flush_disk_type = flush;
    // Simulated time passes with every poll of a waiting put, so a realistic timeout would
    // fire spuriously; the FLUSH_DISK_TIMEOUT path has its own test.
    config.sync_flush_timeout_ms = u64::MAX;
    config
}

/// Per queue: bodies in queue order, how many are durable for sure, and bodies whose put
/// failed (they may or may not have reached the disk, but only after every acked one).
#[derive(Default)]
struct QueueModel {
    acked: Vec<Vec<u8>>,
    durable: usize,
    in_doubt: Vec<Vec<u8>>,
}

struct Sim {
    rng: Rng,
    disk: SimStorage,
    flush: FlushDiskType,
    seed: u64,
    store: MessageStore<SimStorage>,
    model: BTreeMap<(usize, i32), QueueModel>,
}

impl Sim {
    fn reopen(&mut self, power_loss: bool) {
        if power_loss {
            self.disk.crash();
        }
        // Injected faults can fail the open itself; a real broker would be restarted.
        let (store, report) = loop {
            match block_on(MessageStore::open(
                self.disk.clone(),
                config(self.flush, self.seed),
            )) {
                Ok(opened) => break opened,
                Err(error) => eprintln!("open failed ({error}); retrying"),
            }
        };
        self.store = store;
        if std::env::var("SIM_DEBUG").is_ok() {
            eprintln!("reopen power_loss={power_loss}: {report}");
        }
        assert!(report.end_offset >= report.scan_start_offset);
        self.check_against_model(power_loss);
    }

    fn check_against_model(&mut self, after_crash: bool) {
        for ((topic, queue_id), queue) in self.model.iter_mut() {
            let stored = block_on(read_queue(&self.store, TOPICS[*topic], *queue_id));
            let bodies: Vec<Vec<u8>> = stored
                .iter()
                .map(|bytes| decode_record(bytes, true).unwrap().message.body.to_vec())
                .collect();
            let expected: Vec<&Vec<u8>> = queue.acked.iter().chain(queue.in_doubt.iter()).collect();
            // Durable records survive anything; acked ones survive unless power was lost.
            let must_keep = if after_crash {
                queue.durable
            } else {
                queue.acked.len()
            };
            assert!(
                bodies.len() >= must_keep,
                "{}/{queue_id}: {} < {must_keep} survived",
                TOPICS[*topic],
                bodies.len()
            );
            assert!(bodies.len() <= expected.len(), "records nobody appended");
            for (at, body) in bodies.iter().enumerate() {
                assert_eq!(
                    body, expected[at],
                    "{}/{queue_id} record {at} differs",
                    TOPICS[*topic]
                );
            }
            queue.acked = bodies;
            queue.durable = queue.durable.min(queue.acked.len());
            queue.in_doubt.clear();
        }
    }

    fn put_some(&mut self) {
        // Mostly a few puts at a time, sometimes a burst that fills several write buffers.
        let count = match self.rng.below(5) {
            0 => 10 + self.rng.below(30),
            _ => 1 + self.rng.below(6),
        } as usize;
        let mut puts = Vec::new();
        for _ in 0..count {
            let topic = self.rng.below(TOPICS.len() as u64) as usize;
            let queue_id = self.rng.below(3) as i32;
            let len = match self.rng.below(10) {
                0 => 3000 + self.rng.below(5000),
                _ => self.rng.below(300),
            } as usize;
            let body: Vec<u8> = (0..len).map(|_| self.rng.next() as u8).collect();
            let keys = format!("k{} shared", self.rng.below(50));
            puts.push((
                topic,
                queue_id,
                record(TOPICS[topic], queue_id, body, &keys),
            ));
        }
        let store = self.store.clone();
        let results = block_on(join_all(
            puts.iter()
                .map(|(_, _, record)| store.put(record))
                .collect(),
        ));
        let mut failed = false;
        for ((topic, queue_id, record), result) in puts.into_iter().zip(results) {
            let queue = self.model.entry((topic, queue_id)).or_default();
            match result {
                Ok(ok) => {
                    // Acknowledgements follow CommitLog order: never after a failed put.
                    assert!(queue.in_doubt.is_empty(), "acked after a failed put");
                    assert_eq!(
                        ok.queue_offset as usize,
                        queue.acked.len() + queue.in_doubt.len()
                    );
                    queue.acked.push(record.body.to_vec());
                    if self.flush == FlushDiskType::SyncFlush {
                        queue.durable = queue.acked.len();
                    }
                }
                Err(PutError::Io(error)) => {
                    if std::env::var("SIM_DEBUG").is_ok() {
                        eprintln!("put failed: {error}");
                    }
                    failed = true;
                    queue.in_doubt.push(record.body.to_vec());
                }
                Err(other) => panic!("unexpected put error {other}"),
            }
        }
        if failed {
            // A failed write leaves the tail unknown: restart the process (no power loss).
            self.reopen(false);
        }
    }

    fn flush_all(&mut self) {
        if block_on(self.store.flush()).is_ok() {
            for queue in self.model.values_mut() {
                queue.durable = queue.acked.len();
            }
        } else {
            self.reopen(false);
        }
    }
}

fn run(seed: u64, flush: FlushDiskType, steps: usize) {
    let faults = SimFaults {
        write_error_ppm: 3_000,
        sync_error_ppm: 3_000,
        torn_writes: true,
    };
    let disk = SimStorage::new(seed, faults);
    let (store, _) = block_on(MessageStore::open(disk.clone(), config(flush, seed))).unwrap();
    let mut sim = Sim {
        rng: Rng(seed),
        disk,
        flush,
        seed,
        store,
        model: BTreeMap::new(),
    };
    for _ in 0..steps {
        match sim.rng.below(100) {
            0..=84 => sim.put_some(),
            85..=92 => sim.flush_all(),
            93..=97 => sim.reopen(true),
            _ => {
                if block_on(sim.store.shutdown()).is_ok() {
                    for queue in sim.model.values_mut() {
                        queue.durable = queue.acked.len();
                    }
                }
                sim.reopen(false);
            }
        }
    }
    sim.reopen(true);
}

#[test]
fn async_flush_store_recovers_a_prefix_with_every_durable_record() {
    // Proves: under write/sync failures and power-loss crashes with torn writes, recovery
    // keeps every flushed record, serves only records that were appended, in order, and
    // ConsumeQueues agree with the CommitLog (checked by read_queue on every record).
    let seed = test_seed();
    run(seed, FlushDiskType::AsyncFlush, 1500);
}

#[test]
fn sync_flush_store_never_loses_an_acknowledged_record() {
    let seed = test_seed().wrapping_add(1);
    run(seed, FlushDiskType::SyncFlush, 1500);
}

#[test]
fn many_seeds_short_runs() {
    let base = test_seed();
    for offset in 0..20 {
        let flush = if offset % 2 == 0 {
            FlushDiskType::AsyncFlush
        } else {
            FlushDiskType::SyncFlush
        };
        run(base.wrapping_add(100 + offset), flush, 150);
    }
}
