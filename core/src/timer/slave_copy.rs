//! The timer checkpoint on a slave: the master serves it (GET_TIMER_CHECK_POINT, as RocketMQ
//! 5's SlaveSynchronize asks for it) and the slave keeps a copy, so a slave's store restarted
//! as a master does not deliver again every timer message its old master already delivered.
//!
//! The copy is adopted only once it is safe. A checkpoint says "these timer messages were
//! delivered", and their deliveries are records in real topics, on any shard. If the slave
//! took the claim before it had replicated those records, a slave restarted as master would
//! skip messages it never received. So the master sends, with the checkpoint, every shard's
//! CommitLog end read after the checkpoint file (everything the checkpoint covers lies
//! below), and the slave writes its copy only when each of its shards has replicated that
//! far. Until then the copy waits; a newer one replaces it.
//!
//! Body: RocketMQ 5's 56-byte `TimerCheckpoint.encode` (big-endian longs
//! lastReadTimeMs, lastTimerLogFlushPos, lastTimerQueueOffset, masterTimerQueueOffset,
//! dataVersion stateVersion, timestamp, counter) carrying Ramjet's fields as documented in
//! docs/replication.md, then Ramjet's tail: shard count u32 and one CommitLog end u64 per
//! shard. Java's decoder reads the 56 bytes and ignores the tail.

use std::rc::Rc;

use super::checkpoint::TimerCheckpoint;
use super::service::checkpoint_path_of;
use crate::error::{BrokerError, BrokerResult};
use crate::shard::BrokerShard;
use crate::shard_request::{PartReply, PartRequest};

const JAVA_LEN: usize = 56;
/// A body naming more shards than this is not from a Ramjet master.
const SHARDS_MAX: usize = 1024;

/// What a master answers GET_TIMER_CHECK_POINT with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointCopy {
    pub checkpoint: TimerCheckpoint,
    /// Each shard's written CommitLog end when the checkpoint was read, in shard order.
    pub commit_log_ends: Vec<u64>,
}

impl CheckpointCopy {
    /// Java's fields carry Ramjet's: lastReadTimeMs = deliveredUpToMs, lastTimerLogFlushPos =
    /// 0 (there is no timer log), lastTimerQueueOffset = loadedOffset,
    /// masterTimerQueueOffset = minPendingOffset.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(JAVA_LEN + 4 + 8 * self.commit_log_ends.len());
        let longs = [
            self.checkpoint.delivered_up_to_ms,
            0,
            self.checkpoint.loaded_offset as i64,
            self.checkpoint.min_pending_offset as i64,
            0,
            0,
            0,
        ];
        for long in longs {
            out.extend_from_slice(&long.to_be_bytes());
        }
        out.extend_from_slice(&(self.commit_log_ends.len() as u32).to_be_bytes());
        for end in &self.commit_log_ends {
            out.extend_from_slice(&end.to_be_bytes());
        }
        out
    }

    /// Reads a master's answer; the tail is required (a copy without CommitLog ends cannot
    /// be adopted safely).
    pub fn decode(body: &[u8]) -> Result<CheckpointCopy, String> {
        let long = |at: usize| -> Result<i64, String> {
            body.get(at..at + 8)
                .map(|b| i64::from_be_bytes(b.try_into().unwrap()))
                .ok_or_else(|| format!("timer checkpoint body is {} bytes", body.len()))
        };
        let delivered_up_to_ms = long(0)?;
        let loaded_offset = long(16)?;
        let min_pending_offset = long(24)?;
        if loaded_offset < 0 || min_pending_offset < 0 || min_pending_offset > loaded_offset {
            return Err(format!(
                "timer checkpoint offsets do not add up: loaded {loaded_offset}, min pending {min_pending_offset}"
            ));
        }
        let count = body
            .get(JAVA_LEN..JAVA_LEN + 4)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()) as usize)
            .ok_or("timer checkpoint body has no CommitLog ends (not a Ramjet master)")?;
        if count > SHARDS_MAX || body.len() != JAVA_LEN + 4 + 8 * count {
            return Err(format!(
                "timer checkpoint body of {} bytes names {count} shards",
                body.len()
            ));
        }
        let commit_log_ends = body[JAVA_LEN + 4..]
            .chunks_exact(8)
            .map(|b| u64::from_be_bytes(b.try_into().unwrap()))
            .collect();
        Ok(CheckpointCopy {
            checkpoint: TimerCheckpoint {
                min_pending_offset: min_pending_offset as u64,
                loaded_offset: loaded_offset as u64,
                delivered_up_to_ms,
            },
            commit_log_ends,
        })
    }
}

/// The master's side: the last checkpoint the timer wrote (the default when it never wrote
/// one), then every shard's CommitLog end.
pub async fn serve(shard: &Rc<BrokerShard>) -> BrokerResult<CheckpointCopy> {
    let config = shard.config();
    if !config.timer.wheel_enable {
        return Err(BrokerError::FeatureOff(
            "The checkpoint is null: timerWheelEnable=false".into(),
        ));
    }
    let path = checkpoint_path_of(&config, shard.shard_count());
    let checkpoint = glommio::executor()
        .spawn_blocking(move || crate::persist::read_json::<TimerCheckpoint>(&path))
        .await
        .map_err(BrokerError::Internal)?
        .unwrap_or_default();
    let commit_log_ends = commit_log_ends(shard).await?;
    Ok(CheckpointCopy {
        checkpoint,
        commit_log_ends,
    })
}

/// Every shard's written CommitLog end, in shard order.
pub async fn commit_log_ends(shard: &Rc<BrokerShard>) -> BrokerResult<Vec<u64>> {
    let mut ends = Vec::with_capacity(shard.shard_count());
    for part in shard.parts(|| PartRequest::CommitLogEnd).await? {
        match part {
            PartReply::Offset(end) => ends.push(end),
            _ => {
                return Err(BrokerError::Internal(
                    "a shard answered no CommitLog end".into(),
                ))
            }
        }
    }
    Ok(ends)
}

/// The slave's side: the copy waiting until the slave has replicated what it covers, and
/// the last one written.
#[derive(Default)]
pub struct SlaveCopy {
    waiting: Option<CheckpointCopy>,
    written: Option<TimerCheckpoint>,
}

impl SlaveCopy {
    /// Takes the master's latest copy (if any), then writes the newest copy the slave has
    /// caught up with. Returns the checkpoint written, if one was.
    pub async fn advance(
        &mut self,
        shard: &Rc<BrokerShard>,
        latest: Option<CheckpointCopy>,
    ) -> Result<Option<TimerCheckpoint>, String> {
        if let Some(latest) = latest {
            if latest.commit_log_ends.len() != shard.shard_count() {
                return Err(format!(
                    "master has {} shards, this slave {}",
                    latest.commit_log_ends.len(),
                    shard.shard_count()
                ));
            }
            // The newest copy replaces a waiting one: it covers everything the older
            // one does, and is written as soon as the slave has caught up with it.
            if self.written != Some(latest.checkpoint) {
                self.waiting = Some(latest);
            }
        }
        // Nothing waits (the usual pass once caught up): no need to ask every shard.
        let Some(waiting) = self.waiting.as_ref() else {
            return Ok(None);
        };
        let local = commit_log_ends(shard).await.map_err(|e| e.to_string())?;
        let caught_up = waiting
            .commit_log_ends
            .iter()
            .zip(&local)
            .all(|(master, slave)| slave >= master);
        if !caught_up {
            return Ok(None);
        }
        let copy = self.waiting.take().expect("checked above");
        if self.written == Some(copy.checkpoint) {
            return Ok(None);
        }
        let path = checkpoint_path_of(&shard.config(), shard.shard_count());
        let bytes = serde_json::to_vec(&copy.checkpoint).map_err(|e| e.to_string())?;
        crate::persist::write_atomically_off_reactor(path, bytes).await?;
        self.written = Some(copy.checkpoint);
        Ok(Some(copy.checkpoint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy() -> CheckpointCopy {
        CheckpointCopy {
            checkpoint: TimerCheckpoint {
                min_pending_offset: 7,
                loaded_offset: 12,
                delivered_up_to_ms: 1_700_000_000_123,
            },
            commit_log_ends: vec![4096, (1 << 48) + 512],
        }
    }

    #[test]
    fn the_body_is_javas_56_bytes_then_the_shard_ends() {
        let body = copy().encode();
        assert_eq!(body.len(), 56 + 4 + 16);
        // lastReadTimeMs, lastTimerLogFlushPos, lastTimerQueueOffset, masterTimerQueueOffset.
        assert_eq!(&body[..8], &1_700_000_000_123i64.to_be_bytes());
        assert_eq!(&body[8..16], &[0; 8]);
        assert_eq!(&body[16..24], &12i64.to_be_bytes());
        assert_eq!(&body[24..32], &7i64.to_be_bytes());
        assert_eq!(&body[56..60], &2u32.to_be_bytes());
        assert_eq!(CheckpointCopy::decode(&body), Ok(copy()));
    }

    #[test]
    fn bodies_that_do_not_add_up_are_refused() {
        let body = copy().encode();
        assert!(CheckpointCopy::decode(&body[..56])
            .unwrap_err()
            .contains("no CommitLog ends"));
        assert!(CheckpointCopy::decode(&body[..70]).is_err());
        assert!(CheckpointCopy::decode(&body[..10]).is_err());
        let mut huge = body.clone();
        huge[56..60].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(CheckpointCopy::decode(&huge).is_err());
        let mut backwards = body;
        backwards[24..32].copy_from_slice(&13i64.to_be_bytes());
        assert!(CheckpointCopy::decode(&backwards)
            .unwrap_err()
            .contains("do not add up"));
    }
}
